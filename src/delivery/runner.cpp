#include "delivery/runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "delivery/local.hpp"

namespace poshta::delivery {

namespace {

constexpr int kWorkers = 4;

bool due(const queue::Envelope& env, std::int64_t now) {
  if (env.held) return false;
  for (const auto& r : env.recipients) {
    if (r.state == queue::RecipientState::pending) return true;
    if (r.state == queue::RecipientState::deferred && r.local && r.next_attempt <= now) return true;
  }
  return false;
}

std::int64_t earliest_attempt(const queue::Envelope& env) {
  std::int64_t t = INT64_MAX;
  for (const auto& r : env.recipients) {
    if (r.state == queue::RecipientState::deferred && r.local) t = std::min(t, r.next_attempt);
  }
  return t;
}

}  // namespace

Runner::Runner(queue::Spool& spool, store::Maildir& maildir, core::GroupSync& sync, queue::RetryPolicy retry)
    : spool_(spool), maildir_(maildir), sync_(sync), retry_(std::move(retry)) {}

Runner::~Runner() {
  stop();
}

void Runner::start(std::vector<queue::Envelope> recovered) {
  {
    std::lock_guard lock(mutex_);
    for (auto& env : recovered) waiting_.push_back({std::move(env), nullptr});
  }
  for (int i = 0; i < kWorkers; ++i) workers_.emplace_back([this] { work(); });
}

void Runner::submit(queue::Envelope env, std::shared_ptr<const std::string> content) {
  {
    std::lock_guard lock(mutex_);
    ready_.push_back({std::move(env), std::move(content)});
  }
  wake_.notify_one();
}

void Runner::flush() {
  {
    std::lock_guard lock(mutex_);
    flush_ = true;
  }
  wake_.notify_all();
}

void Runner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void Runner::set_retry_policy(queue::RetryPolicy retry) {
  std::lock_guard lock(mutex_);
  retry_ = std::move(retry);
}

queue::RetryPolicy Runner::retry_policy() {
  std::lock_guard lock(mutex_);
  return retry_;
}

void Runner::work() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const std::int64_t now = unix_now();
    std::int64_t next_wake = INT64_MAX;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (flush_) {
        for (auto& r : it->env.recipients) {
          if (r.state == queue::RecipientState::deferred) r.next_attempt = now;
        }
      }
      if (due(it->env, now)) {
        ready_.push_back(std::move(*it));
        it = waiting_.erase(it);
      } else {
        next_wake = std::min(next_wake, earliest_attempt(it->env));
        ++it;
      }
    }
    flush_ = false;
    if (ready_.empty()) {
      if (next_wake == INT64_MAX)
        wake_.wait(lock);
      else
        wake_.wait_for(lock, std::chrono::seconds(std::clamp<std::int64_t>(next_wake - now, 1, 3600)));
      continue;
    }
    Job job = std::move(ready_.front());
    ready_.pop_front();
    lock.unlock();
    process(job);
    lock.lock();
    if (!job.env.finished()) waiting_.push_back(std::move(job));
  }
}

void Runner::process(Job& job) {
  const std::int64_t now = unix_now();
  if (!job.content) {
    auto entry = spool_.load(job.env.id);
    if (!entry) {
      spdlog::error("delivery queue_id={} event=unreadable error=\"{}\"", job.env.id, entry.error().message());
      for (auto& r : job.env.recipients) {
        if (r.state == queue::RecipientState::pending) r.state = queue::RecipientState::deferred;
        r.next_attempt = std::max(r.next_attempt, now + 300);
      }
      return;
    }
    job.content = std::make_shared<const std::string>(std::move(entry->content));
  }
  const bool changed = attempt_delivery(maildir_, sync_, job.env, *job.content, retry_policy(), now);
  if (job.env.finished()) {
    spool_.remove(job.env.id);
    spdlog::info("delivery queue_id={} event=removed", job.env.id);
    return;
  }
  if (changed) {
    if (auto ec = spool_.update(job.env)) {
      spdlog::error("delivery queue_id={} event=envelope_update_failed error=\"{}\"", job.env.id, ec.message());
    }
  }
  job.content.reset();  // read again when due: keeps memory bounded
}

}  // namespace poshta::delivery
