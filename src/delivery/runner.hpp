// delivery::Runner: the queue runner. Worker threads take batches of
// messages whose recipients are due and make one delivery attempt for each
// (deliver_batch). A message that came through the journal is finished
// there once every recipient is done; if some must wait, it is moved into
// the spool first. A spooled message leaves the spool when every recipient
// is done, otherwise its envelope is updated and it waits for its earliest
// next attempt. `flush` makes every deferred recipient due now. Once a
// second a worker also picks up what `poshta sendmail` left in
// queue/incoming/.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/group_sync.hpp"
#include "queue/journal.hpp"
#include "queue/schedule.hpp"
#include "queue/spool.hpp"
#include "store/maildir.hpp"

namespace poshta::delivery {

class Runner {
 public:
  Runner(queue::Journal& journal, queue::Spool& spool, store::Maildir& maildir, core::GroupSync& flush,
         queue::RetryPolicy retry);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Starts the workers after recovering what the journal and the spool hold.
  void start();
  // A message just made durable, in the journal (journal_seq != 0) or in the
  // spool. Blocks while the backlog is full, which slows acceptance down to
  // the speed of delivery and keeps memory bounded.
  void submit(queue::Envelope env, std::shared_ptr<const std::string> content, std::uint64_t journal_seq);
  // Tries every deferred recipient now.
  void flush();
  // Lets each worker finish its batch, then joins them; what is still queued
  // stays in the journal or the spool for the next start.
  void stop();

  void set_retry_policy(queue::RetryPolicy retry);
  queue::RetryPolicy retry_policy();

 private:
  struct Job {
    queue::Envelope env;
    std::shared_ptr<const std::string> content;  // null: read from the spool
    std::uint64_t journal_seq = 0;               // 0: in the spool
  };

  void work();
  void pick_up();
  void process(std::vector<Job>& batch);
  void settle(Job& job, bool changed, std::vector<std::uint64_t>& journal_done);

  queue::Journal& journal_;
  queue::Spool& spool_;
  store::Maildir& maildir_;
  core::GroupSync& flush_sync_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable room_;
  std::deque<Job> ready_;
  std::vector<Job> waiting_;  // not due yet
  queue::RetryPolicy retry_;
  bool stopping_ = false;
  bool flush_ = false;
  std::chrono::steady_clock::time_point next_pickup_{};
  std::vector<std::thread> workers_;
};

}  // namespace poshta::delivery
