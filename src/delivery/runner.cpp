#include "delivery/runner.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "delivery/local.hpp"
#include "queue/dsn.hpp"

namespace poshta::delivery {

namespace {

constexpr int kWorkers = 2;
constexpr std::size_t kMaxBatch = 128;
constexpr std::size_t kMaxBacklog = 4096;   // ready messages held in memory
constexpr std::size_t kMaxRelaying = 2048;  // messages with the relay at once
// How often queue/incoming/ (poshta sendmail) is looked at.
constexpr std::chrono::seconds kPickupInterval{1};

template <typename Container>
std::optional<Message> take(Container& c, const std::string& id) {
  auto it = std::find_if(c.begin(), c.end(), [&](const Message& m) { return m.env.id == id; });
  if (it == c.end()) return std::nullopt;
  Message m = std::move(*it);
  c.erase(it);
  return m;
}

std::string header_section(std::string_view content) {
  const auto end = content.find("\r\n\r\n");
  return std::string(end == std::string_view::npos ? content : content.substr(0, end + 2));
}

}  // namespace

Runner::Runner(queue::Journal& journal, queue::Spool& spool, store::Maildir& maildir, core::GroupSync& flush,
               RunnerConfig config)
    : journal_(journal), spool_(spool), maildir_(maildir), flush_sync_(flush), config_(std::move(config)) {}

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
    for (const auto& id : recovered.moved_aside) {
      spdlog::error("queue queue_id={} event=moved_aside reason=\"damaged spool file\" path=queue/corrupt/{}", id, id);
    }
    for (const auto& what : journal_.damaged()) {
      spdlog::error(
          "queue event=journal_damaged where=\"{}\" note=\"the records around it were recovered; a copy is in "
          "queue/corrupt/\"",
          what);
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

void Runner::relayed(Message m) {
  {
    std::lock_guard lock(mutex_);
    relaying_.erase(m.env.id);
    returned_.push_back(std::move(m));
  }
  wake_.notify_one();
}

bool Runner::flush(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    if (id.empty()) {
      flush_all_ = true;
    } else {
      Message* m = find_locked(id);
      if (!m) return relaying_.count(id) != 0;
      for (auto& r : m->env.recipients) {
        if (r.state == queue::RecipientState::deferred) r.next_attempt = 0;
      }
    }
  }
  wake_.notify_all();
  return true;
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
  config_.retry = std::move(retry);
}

queue::RetryPolicy Runner::retry_policy() {
  std::lock_guard lock(mutex_);
  return config_.retry;
}

bool Runner::due(const Message& m, std::int64_t now) const {
  if (m.env.held) return false;
  for (const auto& r : m.env.recipients) {
    if (!is_due(r, now)) continue;
    const bool relayed = relay_ && relay_->handles(r);
    if (relayed && relaying_.size() < kMaxRelaying) return true;
    if (!relayed && r.local) return true;
  }
  return false;
}

std::int64_t Runner::earliest_attempt(const Message& m) const {
  std::int64_t t = INT64_MAX;
  for (const auto& r : m.env.recipients) {
    if (r.state == queue::RecipientState::deferred) t = std::min(t, r.next_attempt);
  }
  return t;
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
    if (!returned_.empty()) {
      std::vector<Message> settled;
      while (!returned_.empty() && settled.size() < kMaxBatch) {
        settled.push_back(std::move(returned_.front()));
        returned_.pop_front();
        mark_busy_locked(settled.back());
      }
      lock.unlock();
      std::vector<std::uint64_t> journal_done;
      for (auto& m : settled) settle(m, journal_done);
      journal_.complete(journal_done);
      lock.lock();
      wait_or_finish(settled);
      continue;
    }
    const std::int64_t now = unix_now();
    std::int64_t next_wake = INT64_MAX;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (flush_all_ && !it->env.held) {
        for (auto& r : it->env.recipients) {
          if (r.state == queue::RecipientState::deferred) r.next_attempt = now;
        }
      }
      if (due(*it, now)) {
        ready_.push_back(std::move(*it));
        it = waiting_.erase(it);
      } else {
        if (!it->env.held) next_wake = std::min(next_wake, earliest_attempt(*it));
        ++it;
      }
    }
    flush_all_ = false;
    if (ready_.empty()) {
      const auto until_due = std::chrono::seconds(std::clamp<std::int64_t>(next_wake - now, 1, 3600));
      wake_.wait_until(lock, std::min(std::chrono::steady_clock::now() + until_due, next_pickup_));
      continue;
    }
    std::vector<Message> batch;
    while (!ready_.empty() && batch.size() < kMaxBatch) {
      batch.push_back(std::move(ready_.front()));
      ready_.pop_front();
      mark_busy_locked(batch.back());
    }
    room_.notify_all();
    lock.unlock();
    process(batch);
    lock.lock();
    wait_or_finish(batch);
  }
}

// Called with the lock held: what is not finished waits for its next attempt.
void Runner::wait_or_finish(std::vector<Message>& messages) {
  for (auto& m : messages) {
    if (m.env.id.empty()) continue;  // handed to the relay
    relaying_.erase(m.env.id);
    if (m.env.finished() || m.removed) {
      pending_.erase(m.env.id);
    } else if (pending_.count(m.env.id) != 0) {
      returned_.push_back(std::move(m));  // changed after settle() looked: settle it again
      wake_.notify_one();
    } else {
      waiting_.push_back(std::move(m));
    }
  }
}

void Runner::process(std::vector<Message>& batch) {
  const std::int64_t now = unix_now();
  std::vector<Message*> loaded;
  for (auto& m : batch) {
    if (!m.content) {
      auto entry = spool_.load(m.env.id);
      if (!entry) {
        spdlog::error("delivery queue_id={} event=unreadable error=\"{}\"", m.env.id, entry.error().message());
        for (auto& r : m.env.recipients) {
          if (r.state == queue::RecipientState::pending) r.state = queue::RecipientState::deferred;
          r.next_attempt = std::max(r.next_attempt, now + 300);
        }
        continue;
      }
      m.content = std::make_shared<const std::string>(std::move(entry->content));
    }
    loaded.push_back(&m);
  }
  queue::EnvelopeRecipient local_probe;
  local_probe.local = true;
  const bool to_maildir = !(relay_ && relay_->handles(local_probe));
  if (to_maildir) {
    std::vector<queue::EnvelopeRecipient*> due_here;
    for (Message* m : loaded) {
      for (auto& r : m->env.recipients) {
        if (r.local && is_due(r, now)) due_here.push_back(&r);
      }
    }
    deliver_local(maildir_, flush_sync_, loaded, retry_policy(), now);
    if (config_.delivered) {
      for (const auto* r : due_here) {
        if (r->state == queue::RecipientState::delivered) config_.delivered(r->address);
      }
    }
  }
  std::vector<std::uint64_t> journal_done;
  for (Message* m : loaded) {
    const bool for_relay = relay_ && std::any_of(m->env.recipients.begin(), m->env.recipients.end(),
                                                 [&](const auto& r) { return relay_->handles(r) && is_due(r, now); });
    if (for_relay && !m->env.held) {
      relay_->deliver(std::move(*m));  // comes back through relayed()
      m->env.id.clear();
      continue;
    }
    settle(*m, journal_done);
  }
  journal_.complete(journal_done);
}

void Runner::settle(Message& m, std::vector<std::uint64_t>& journal_done) {
  bounce(m);
  Pending what = Pending::none;
  {
    std::lock_guard lock(mutex_);
    if (auto it = pending_.find(m.env.id); it != pending_.end()) {
      what = it->second;
      pending_.erase(it);
    }
  }
  if (what != Pending::none) apply(m, what, journal_done);
  if (m.removed) return;
  if (m.journal_seq != 0) {
    if (!m.env.finished()) {
      // Recipients that must wait leave the journal for the spool.
      if (!persist(m)) return;  // stays in the journal; tried again when due
    } else {
      journal_done.push_back(m.journal_seq);
      m.journal_seq = 0;
    }
  } else if (m.env.finished()) {
    spool_.remove(m.env.id);
  } else if (m.changed) {
    persist(m);
  }
  m.changed = false;
  if (m.env.finished()) {
    spdlog::info("delivery queue_id={} event=done", m.env.id);
  } else {
    m.content.reset();  // read again from the spool when due: keeps memory bounded
  }
}

// Records the envelope's state: a journal message moves into the spool.
bool Runner::persist(Message& m) {
  if (m.journal_seq != 0) {
    const std::string_view parts[] = {*m.content};
    if (auto ec = spool_.store(m.env, parts)) {
      spdlog::error("delivery queue_id={} event=spool_failed error=\"{}\"", m.env.id, ec.message());
      return false;
    }
    journal_.complete(std::span<const std::uint64_t>(&m.journal_seq, 1));
    m.journal_seq = 0;
    return true;
  }
  if (auto ec = spool_.update(m.env)) {
    spdlog::error("delivery queue_id={} event=envelope_update_failed error=\"{}\"", m.env.id, ec.message());
    return false;
  }
  return true;
}

void Runner::bounce(Message& m) {
  if (m.notices.empty()) return;
  std::vector<queue::DsnRecipient> notices = std::move(m.notices);
  m.notices.clear();
  if (m.env.sender.empty()) return;  // never a report on a report (RFC 3461 §6.2)
  const std::int64_t now = unix_now();
  queue::Envelope report;
  report.id = spool_.new_id();
  report.arrived = now;
  report.body = m.env.body;
  report.smtputf8 = m.env.smtputf8;
  if (config_.route) {
    for (auto r : config_.route(m.env.sender)) {
      r.original = m.env.sender;
      report.add_recipient(std::move(r));
    }
  }
  if (report.recipients.empty()) {
    spdlog::warn("queue queue_id={} event=dsn_dropped to=<{}> reason=\"no route to the sender\"", m.env.id,
                 m.env.sender);
    return;
  }
  queue::DsnInput in;
  in.reporting_mta = config_.hostname;
  in.postmaster = "MAILER-DAEMON@" + config_.hostname;
  in.original = &m.env;
  in.content = m.content ? std::string_view(*m.content) : std::string_view();
  in.recipients = std::move(notices);
  in.now = now;
  in.message_id = report.id + "@" + config_.hostname;
  auto text = std::make_shared<const std::string>(queue::build_dsn(in));
  const std::string_view parts[] = {*text};
  if (auto ec = spool_.store(report, parts)) {
    spdlog::error("queue queue_id={} event=dsn_failed error=\"{}\"", m.env.id, ec.message());
    return;
  }
  spdlog::info("queue queue_id={} event=dsn for={} to=<{}> recipients={}", report.id, m.env.id, m.env.sender,
               in.recipients.size());
  std::lock_guard lock(mutex_);
  ready_.push_back({std::move(report), std::move(text), 0});
  wake_.notify_one();
}

Message* Runner::find_locked(const std::string& id) {
  for (auto& m : waiting_) {
    if (m.env.id == id) return &m;
  }
  for (auto& m : ready_) {
    if (m.env.id == id) return &m;
  }
  return nullptr;
}

std::vector<queue::Envelope> Runner::list() {
  std::lock_guard lock(mutex_);
  std::vector<queue::Envelope> out;
  for (const auto& m : waiting_) out.push_back(m.env);
  for (const auto& m : ready_) out.push_back(m.env);
  for (const auto& m : returned_) out.push_back(m.env);
  for (const auto& [id, busy] : relaying_) out.push_back(busy.env);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.arrived < b.arrived || (a.arrived == b.arrived && a.id < b.id);
  });
  return out;
}

std::optional<std::pair<queue::Envelope, std::string>> Runner::show(const std::string& id) {
  queue::Envelope env;
  std::shared_ptr<const std::string> content;
  {
    std::lock_guard lock(mutex_);
    if (Message* m = find_locked(id)) {
      env = m->env;
      content = m->content;
    } else if (auto it = relaying_.find(id); it != relaying_.end()) {
      env = it->second.env;
      content = it->second.content;
    } else {
      return std::nullopt;
    }
  }
  if (content) return std::pair{std::move(env), header_section(*content)};
  auto entry = spool_.load(id);
  return std::pair{std::move(env), entry ? header_section(entry->content) : std::string()};
}

Runner::Change Runner::hold(const std::string& id) {
  return change(id, Pending::hold);
}

Runner::Change Runner::release(const std::string& id) {
  return change(id, Pending::release);
}

Runner::Change Runner::remove(const std::string& id) {
  return change(id, Pending::remove);
}

Runner::Change Runner::change(const std::string& id, Pending what) {
  std::unique_lock lock(mutex_);
  std::optional<Message> m = take(waiting_, id);
  if (!m) m = take(ready_, id);
  if (!m) {
    if (relaying_.count(id) == 0 &&
        std::none_of(returned_.begin(), returned_.end(), [&](const Message& r) { return r.env.id == id; })) {
      return Change::not_found;
    }
    pending_[id] = what;  // applied when the attempt in progress is settled
    return Change::later;
  }
  mark_busy_locked(*m);  // while its files change
  lock.unlock();
  if (what != Pending::remove && !m->content && m->journal_seq != 0) return Change::failed;  // cannot happen
  std::vector<std::uint64_t> journal_done;
  apply(*m, what, journal_done);
  journal_.complete(journal_done);
  const bool ok = m->removed || !m->changed;
  lock.lock();
  relaying_.erase(id);
  if (!m->removed) waiting_.push_back(std::move(*m));
  wake_.notify_all();
  return ok ? Change::done : Change::failed;
}

void Runner::apply(Message& m, Pending what, std::vector<std::uint64_t>& journal_done) {
  if (what == Pending::remove) {
    if (m.journal_seq != 0)
      journal_done.push_back(m.journal_seq);
    else
      spool_.remove(m.env.id);
    m.removed = true;
    spdlog::info("queue queue_id={} event=deleted by=admin", m.env.id);
    return;
  }
  m.env.held = what == Pending::hold;
  m.changed = !persist(m);  // still changed if it could not be recorded
  spdlog::info("queue queue_id={} event={} by=admin", m.env.id, what == Pending::hold ? "held" : "released");
}

}  // namespace poshta::delivery
