// delivery::Runner: the queue runner. One thread takes queued messages in
// batches, delivers each local recipient into its Maildir, and records every
// recipient's outcome in the envelope; a message leaves the spool when all
// its recipients are done.
//
// Batching is what makes it fast: all the batch's Maildir files are written,
// one GroupSync flush makes them durable, all are renamed into new/, and one
// more flush makes the renames durable, whatever the batch size. A crash
// anywhere in between delivers again after restart (at least once), never
// loses. Deferred recipients wait for their next attempt (queue schedule);
// remote recipients wait until relay is built.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/group_sync.hpp"
#include "queue/schedule.hpp"
#include "queue/spool.hpp"
#include "store/maildir.hpp"

namespace poshta::delivery {

class Runner {
 public:
  Runner(queue::Spool& spool, store::Maildir& maildir, core::GroupSync& sync, queue::RetryPolicy retry);
  ~Runner();
  Runner(const Runner&) = delete;
  Runner& operator=(const Runner&) = delete;

  // Starts the thread with the entries recovered from the spool.
  void start(std::vector<queue::Envelope> recovered);
  // A message just accepted; `content` saves reading it back.
  void submit(queue::Envelope env, std::shared_ptr<const std::string> content);
  // Tries every deferred message now.
  void flush();
  // Finishes the current batch and stops; queued entries stay in the spool.
  void stop();

  void set_retry_policy(queue::RetryPolicy retry);

 private:
  struct Job {
    queue::Envelope env;
    std::shared_ptr<const std::string> content;  // null: read from the spool
  };

  void run();
  void deliver_batch(std::vector<Job>& batch);
  void finish(Job& job);

  queue::Spool& spool_;
  store::Maildir& maildir_;
  core::GroupSync& sync_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> ready_;
  std::vector<Job> waiting_;  // deferred, by next attempt
  queue::RetryPolicy retry_;
  bool stopping_ = false;
  bool flush_ = false;
  std::thread thread_;
};

}  // namespace poshta::delivery
