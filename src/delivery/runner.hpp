// delivery::Runner: the queue runner. Worker threads take batches of
// messages whose recipients are due. Local recipients are delivered in the
// batch (deliver_local); recipients for other hosts (and local ones when
// an LMTP store is configured) are handed to the relay, whose results come
// back through relayed(). Once an attempt is over the message is settled:
// recipients the sender asked to hear about get one DSN (queued like any
// message), a message from the journal is finished there once every
// recipient is done (moved into the spool first if some must wait), and a
// spooled message leaves the spool when every recipient is done or has its
// envelope updated. `flush` makes deferred recipients due now. Once a
// second a worker also picks up what `poshta sendmail` left in
// queue/incoming/. The queue administration commands act through list(),
// show(), hold(), release() and remove().
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/group_sync.hpp"
#include "delivery/message.hpp"
#include "queue/journal.hpp"
#include "queue/schedule.hpp"
#include "queue/spool.hpp"
#include "store/maildir.hpp"

namespace poshta::delivery {

// Hands messages to remote delivery; delivery::Remote in the server.
class Relay {
 public:
  virtual ~Relay() = default;
  virtual bool handles(const queue::EnvelopeRecipient& r) const = 0;
  virtual void deliver(Message m) = 0;
};

struct RunnerConfig {
  std::string hostname;  // Reporting-MTA of DSNs and their From: MAILER-DAEMON@hostname
  queue::RetryPolicy retry;
  // Where a DSN to `address` goes (alias expansion); empty: nowhere.
  std::function<std::vector<queue::EnvelopeRecipient>(const std::string& address)> route;
  // Told of each local mailbox that got new mail (IMAP IDLE); may be empty.
  std::function<void(const std::string& address)> delivered;
};

class Runner {
 public:
  Runner(queue::Journal& journal, queue::Spool& spool, store::Maildir& maildir, core::GroupSync& flush,
         RunnerConfig config);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Before start(): where remote recipients go. Without one they wait.
  void set_relay(Relay* relay) { relay_ = relay; }
  // Starts the workers after recovering what the journal and the spool hold.
  void start();
  // A message just made durable, in the journal (journal_seq != 0) or in the
  // spool. Blocks while the backlog is full, which slows acceptance down to
  // the speed of delivery and keeps memory bounded.
  void submit(queue::Envelope env, std::shared_ptr<const std::string> content, std::uint64_t journal_seq);
  // The relay's attempt is over (any thread).
  void relayed(Message m);
  // Tries deferred recipients now: of every message, or of message `id`.
  // False if there is no such message.
  bool flush(const std::string& id = {});
  // Lets each worker finish its batch, then joins them; what is still queued
  // stays in the journal or the spool for the next start.
  void stop();

  void set_retry_policy(queue::RetryPolicy retry);
  queue::RetryPolicy retry_policy();

  // Queue administration.
  enum class Change { done, later, not_found, failed };
  std::vector<queue::Envelope> list();
  // The envelope and the header section of message `id`.
  std::optional<std::pair<queue::Envelope, std::string>> show(const std::string& id);
  // `later`: the message is being delivered right now; the change is made after this attempt.
  Change hold(const std::string& id);
  Change release(const std::string& id);
  Change remove(const std::string& id);

 private:
  enum class Pending { none, hold, release, remove };

  void work();
  void pick_up();
  void process(std::vector<Message>& batch);
  void settle(Message& m, std::vector<std::uint64_t>& journal_done);
  void bounce(Message& m);
  bool persist(Message& m);
  void wait_or_finish(std::vector<Message>& settled);
  bool due(const Message& m, std::int64_t now) const;
  std::int64_t earliest_attempt(const Message& m) const;
  Message* find_locked(const std::string& id);
  Change change(const std::string& id, Pending what);
  void apply(Message& m, Pending what, std::vector<std::uint64_t>& journal_done);

  queue::Journal& journal_;
  queue::Spool& spool_;
  store::Maildir& maildir_;
  core::GroupSync& flush_sync_;
  Relay* relay_ = nullptr;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable room_;
  std::deque<Message> ready_;
  std::vector<Message> waiting_;  // not due yet
  std::deque<Message> returned_;  // back from the relay, to settle
  // Messages an attempt is working on (a worker's batch, or the relay), as
  // they were when it began: what list() and show() report for them.
  struct Busy {
    queue::Envelope env;
    std::shared_ptr<const std::string> content;
  };
  void mark_busy_locked(const Message& m) { relaying_.insert_or_assign(m.env.id, Busy{m.env, m.content}); }
  std::map<std::string, Busy> relaying_;
  std::map<std::string, Pending> pending_;  // admin changes waiting for an attempt to end
  RunnerConfig config_;
  bool stopping_ = false;
  bool flush_all_ = false;
  std::chrono::steady_clock::time_point next_pickup_{};
  std::vector<std::thread> workers_;
};

}  // namespace poshta::delivery
