#include "delivery/runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "delivery/local.hpp"

namespace poshta::delivery {

namespace {

constexpr int kWorkers = 2;
constexpr std::size_t kMaxBatch = 128;
constexpr std::size_t kMaxBacklog = 4096;  // ready messages held in memory
// How often queue/incoming/ (poshta sendmail) is looked at.
constexpr std::chrono::seconds kPickupInterval{1};

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

Runner::Runner(queue::Journal& journal, queue::Spool& spool, store::Maildir& maildir, core::GroupSync& flush,
               queue::RetryPolicy retry)
    : journal_(journal), spool_(spool), maildir_(maildir), flush_sync_(flush), retry_(std::move(retry)) {}

Runner::~Runner() {
  stop();
}

void Runner::start() {
  std::size_t from_journal = 0;
  {
    std::lock_guard lock(mutex_);
    for (auto& record : journal_.recover()) {
      auto stored = queue::parse_stored(record.payload);
      if (!stored) {  // cannot happen for a record whose CRC checked out; keep going
        spdlog::error("queue journal_seq={} event=unreadable", record.seq);
        continue;
      }
      auto content = std::make_shared<const std::string>(stored->content);
      waiting_.push_back({std::move(stored->envelope), std::move(content), record.seq});
      ++from_journal;
    }
    auto recovered = spool_.recover();
    for (const auto& id : recovered.discarded) {
      spdlog::warn("queue queue_id={} event=discarded reason=\"incomplete entry from an interrupted write\"", id);
    }
    for (auto& env : recovered.envelopes) waiting_.push_back({std::move(env), nullptr, 0});
    spdlog::info("queue event=recovered journal={} spool={}", from_journal, recovered.envelopes.size());
  }
  for (int i = 0; i < kWorkers; ++i) workers_.emplace_back([this] { work(); });
}

void Runner::submit(queue::Envelope env, std::shared_ptr<const std::string> content, std::uint64_t journal_seq) {
  {
    std::unique_lock lock(mutex_);
    room_.wait(lock, [this] { return ready_.size() < kMaxBacklog || stopping_; });
    ready_.push_back({std::move(env), std::move(content), journal_seq});
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
  room_.notify_all();
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

void Runner::pick_up() {
  auto incoming = spool_.take_incoming();
  for (const auto& id : incoming.moved_aside) {
    spdlog::error("queue queue_id={} event=moved_aside reason=\"unreadable file in incoming/\" path=queue/corrupt/{}",
                  id, id);
  }
  if (incoming.taken.empty()) return;
  std::lock_guard lock(mutex_);
  for (auto& env : incoming.taken) {
    spdlog::info("queue queue_id={} event=picked_up from=<{}> rcpts={} size={}", env.id, env.sender,
                 env.recipients.size(), env.size);
    ready_.push_back({std::move(env), nullptr, 0});
  }
  wake_.notify_all();
}

void Runner::work() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const auto tick = std::chrono::steady_clock::now();
    if (tick >= next_pickup_) {
      next_pickup_ = tick + kPickupInterval;
      lock.unlock();
      pick_up();
      lock.lock();
      continue;
    }
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
      const auto until_due = std::chrono::seconds(std::clamp<std::int64_t>(next_wake - now, 1, 3600));
      wake_.wait_until(lock, std::min(std::chrono::steady_clock::now() + until_due, next_pickup_));
      continue;
    }
    std::vector<Job> batch;
    while (!ready_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(std::move(ready_.front()));
      ready_.pop_front();
    }
    room_.notify_all();
    lock.unlock();
    process(batch);
    lock.lock();
    for (auto& job : batch) {
      if (!job.env.finished()) waiting_.push_back(std::move(job));
    }
  }
}

void Runner::process(std::vector<Job>& batch) {
  const std::int64_t now = unix_now();
  std::vector<BatchItem> items;
  std::vector<Job*> jobs;
  for (auto& job : batch) {
    if (!job.content) {
      auto entry = spool_.load(job.env.id);
      if (!entry) {
        spdlog::error("delivery queue_id={} event=unreadable error=\"{}\"", job.env.id, entry.error().message());
        for (auto& r : job.env.recipients) {
          if (r.state == queue::RecipientState::pending) r.state = queue::RecipientState::deferred;
          r.next_attempt = std::max(r.next_attempt, now + 300);
        }
        continue;
      }
      job.content = std::make_shared<const std::string>(std::move(entry->content));
    }
    items.push_back({&job.env, *job.content, false});
    jobs.push_back(&job);
  }
  deliver_batch(maildir_, flush_sync_, items, retry_policy(), now);
  std::vector<std::uint64_t> journal_done;
  for (std::size_t i = 0; i < jobs.size(); ++i) settle(*jobs[i], items[i].changed, journal_done);
  journal_.complete(journal_done);
}

void Runner::settle(Job& job, bool changed, std::vector<std::uint64_t>& journal_done) {
  if (job.journal_seq != 0) {
    if (!job.env.finished()) {
      // Recipients that must wait leave the journal for the spool.
      const std::string_view parts[] = {*job.content};
      if (auto ec = spool_.store(job.env, parts)) {
        spdlog::error("delivery queue_id={} event=spool_failed error=\"{}\"", job.env.id, ec.message());
        return;  // stays in the journal; tried again when due
      }
    }
    journal_done.push_back(job.journal_seq);
    job.journal_seq = 0;
  } else if (job.env.finished()) {
    spool_.remove(job.env.id);
  } else if (changed) {
    if (auto ec = spool_.update(job.env)) {
      spdlog::error("delivery queue_id={} event=envelope_update_failed error=\"{}\"", job.env.id, ec.message());
    }
  }
  if (job.env.finished()) {
    spdlog::info("delivery queue_id={} event=done", job.env.id);
  } else if (job.journal_seq == 0) {
    job.content.reset();  // read again from the spool when due: keeps memory bounded
  }
}

}  // namespace poshta::delivery
