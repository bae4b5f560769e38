// delivery::Runner: the queue runner. Worker threads take queued messages
// whose recipients are due, make one delivery attempt each
// (attempt_delivery), and record the outcome: a message leaves the spool
// when every recipient is done, otherwise its envelope is updated and it
// waits for the earliest next attempt. `flush` makes every deferred
// recipient due now.
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

  // Starts the workers with the entries recovered from the spool.
  void start(std::vector<queue::Envelope> recovered);
  // A message just spooled; `content` saves reading it back.
  void submit(queue::Envelope env, std::shared_ptr<const std::string> content);
  // Tries every deferred recipient now.
  void flush();
  // Lets each worker finish its current message, then joins them; what is
  // still queued stays in the spool for the next start.
  void stop();

  void set_retry_policy(queue::RetryPolicy retry);
  queue::RetryPolicy retry_policy();

 private:
  struct Job {
    queue::Envelope env;
    std::shared_ptr<const std::string> content;  // null: read from the spool
  };

  void work();
  void process(Job& job);

  queue::Spool& spool_;
  store::Maildir& maildir_;
  core::GroupSync& sync_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> ready_;
  std::vector<Job> waiting_;  // not due yet
  queue::RetryPolicy retry_;
  bool stopping_ = false;
  bool flush_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace poshta::delivery
