#include "delivery/runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace poshta::delivery {

namespace {

constexpr std::size_t kMaxBatch = 128;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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

Runner::~Runner() { stop(); }

void Runner::start(std::vector<queue::Envelope> recovered) {
  {
    std::lock_guard lock(mutex_);
    const std::int64_t now = unix_now();
    for (auto& env : recovered) {
      if (due(env, now)) ready_.push_back({std::move(env), nullptr});
      else waiting_.push_back({std::move(env), nullptr});
    }
  }
  thread_ = std::thread([this] { run(); });
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
  wake_.notify_one();
}

void Runner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void Runner::set_retry_policy(queue::RetryPolicy retry) {
  std::lock_guard lock(mutex_);
  retry_ = std::move(retry);
}

void Runner::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const std::int64_t now = unix_now();
    // Move what is due (or everything, on flush) from waiting to ready.
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
      if (next_wake == INT64_MAX) wake_.wait(lock);
      else wake_.wait_for(lock, std::chrono::seconds(std::max<std::int64_t>(1, next_wake - now)));
      continue;
    }
    std::vector<Job> batch;
    while (!ready_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    lock.unlock();
    deliver_batch(batch);
    lock.lock();
    for (auto& job : batch) {
      if (!job.env.finished()) waiting_.push_back(std::move(job));
    }
  }
}

void Runner::deliver_batch(std::vector<Job>& batch) {
  struct Written {
    Job* job;
    queue::EnvelopeRecipient* rcpt;
    store::Maildir::Pending pending;
  };
  std::vector<Written> written;
  const std::int64_t now = unix_now();
  queue::RetryPolicy retry;
  {
    std::lock_guard lock(mutex_);
    retry = retry_;
  }
  auto defer = [&](queue::EnvelopeRecipient& r, const Job& job, std::string why) {
    ++r.attempts;
    r.state = queue::RecipientState::deferred;
    r.next_attempt = queue::next_attempt(retry, r.attempts, now);
    spdlog::warn("delivery queue_id={} rcpt={} result=deferred attempts={} error=\"{}\"", job.env.id, r.address,
                 r.attempts, why);
    r.last_error = std::move(why);
  };

  for (auto& job : batch) {
    if (!job.content) {
      auto content = spool_.read_content(job.env);
      if (!content) {
        spdlog::error("delivery queue_id={} event=unreadable error=\"{}\"", job.env.id, content.error().message());
        for (auto& r : job.env.recipients) {
          if (r.state == queue::RecipientState::pending || r.state == queue::RecipientState::deferred)
            defer(r, job, "cannot read queued content: " + content.error().message());
        }
        continue;
      }
      job.content = std::make_shared<const std::string>(std::move(*content));
    }
    for (auto& r : job.env.recipients) {
      const bool try_now = r.state == queue::RecipientState::pending ||
                           (r.state == queue::RecipientState::deferred && r.next_attempt <= now);
      if (!try_now) continue;
      if (!r.local) {
        // Relay to other domains is not built yet: keep it queued.
        if (r.state == queue::RecipientState::pending) defer(r, job, "remote delivery is not available yet");
        continue;
      }
      const std::string prefix = "Return-Path: <" + job.env.sender + ">\r\nDelivered-To: " + r.address + "\r\n";
      const std::string_view parts[] = {prefix, *job.content};
      auto pending = maildir_.write_tmp(r.address, parts);
      if (!pending) {
        defer(r, job, "cannot write to mailbox: " + pending.error().message());
        continue;
      }
      written.push_back({&job, &r, std::move(*pending)});
    }
  }

  if (!written.empty()) {
    if (auto ec = sync_.sync()) {
      for (auto& w : written) {
        maildir_.discard(w.pending);
        defer(*w.rcpt, *w.job, "cannot flush mailbox: " + ec.message());
      }
      written.clear();
    }
    std::vector<Written*> published;
    for (auto& w : written) {
      if (auto ec = maildir_.publish(w.pending)) {
        maildir_.discard(w.pending);
        defer(*w.rcpt, *w.job, "cannot publish into mailbox: " + ec.message());
      } else {
        published.push_back(&w);
      }
    }
    const std::error_code ec = published.empty() ? std::error_code{} : sync_.sync();
    for (auto* w : published) {
      if (ec) {
        // The file is in new/ but may not survive a crash; try again later
        // (a duplicate at worst, never a loss).
        defer(*w->rcpt, *w->job, "cannot flush mailbox: " + ec.message());
        continue;
      }
      w->rcpt->state = queue::RecipientState::delivered;
      w->rcpt->last_error.clear();
      spdlog::info("delivery queue_id={} rcpt={} result=delivered mailbox={}", w->job->env.id, w->rcpt->address,
                   w->pending.destination.filename().string());
    }
  }
  for (auto& job : batch) finish(job);
}

void Runner::finish(Job& job) {
  if (job.env.finished()) {
    spool_.remove(job.env.id);
    spdlog::info("delivery queue_id={} event=removed", job.env.id);
    return;
  }
  if (auto ec = spool_.update(job.env)) {
    spdlog::error("delivery queue_id={} event=envelope_update_failed error=\"{}\"", job.env.id, ec.message());
  }
  job.content.reset();  // read again when due; keeps memory bounded
}

}  // namespace poshta::delivery
