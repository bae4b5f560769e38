#include "delivery/local.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

namespace poshta::delivery {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool all_local(const queue::Envelope& env) {
  for (const auto& r : env.recipients) {
    if (!r.local) return false;
  }
  return true;
}

bool attempt_delivery(store::Maildir& maildir, core::GroupSync& sync, queue::Envelope& env, std::string_view content,
                      const queue::RetryPolicy& retry, std::int64_t now) {
  bool changed = false;
  auto defer = [&](queue::EnvelopeRecipient& r, std::string why) {
    ++r.attempts;
    r.state = queue::RecipientState::deferred;
    r.next_attempt = queue::next_attempt(retry, r.attempts, now);
    spdlog::warn("delivery queue_id={} rcpt={} result=deferred attempts={} error=\"{}\"", env.id, r.address, r.attempts,
                 why);
    r.last_error = std::move(why);
    changed = true;
  };
  struct Published {
    queue::EnvelopeRecipient* rcpt;
    std::string file;
  };
  std::vector<Published> published;
  for (auto& r : env.recipients) {
    const bool due = r.state == queue::RecipientState::pending ||
                     (r.state == queue::RecipientState::deferred && r.local && r.next_attempt <= now);
    if (!due) continue;
    if (!r.local) {
      defer(r, "remote delivery is not available yet");
      continue;
    }
    const std::string prefix = "Return-Path: <" + env.sender + ">\r\nDelivered-To: " + r.address + "\r\n";
    const std::string_view parts[] = {prefix, content};
    auto pending = maildir.write(r.address, parts);
    if (!pending) {
      defer(r, "cannot write to the mailbox: " + pending.error().message());
      continue;
    }
    if (auto ec = maildir.publish(*pending)) {
      defer(r, "cannot link into the mailbox: " + ec.message());
      continue;
    }
    published.push_back({&r, pending->destination().filename().string()});
  }
  if (published.empty()) return changed;
  // One flush makes every new entry durable.
  const std::error_code ec = sync.sync();
  for (auto& p : published) {
    if (ec) {
      // The message is in new/ but may not survive a crash: try again later
      // (a duplicate at worst, never a loss).
      defer(*p.rcpt, "cannot flush the mailbox: " + ec.message());
      continue;
    }
    p.rcpt->state = queue::RecipientState::delivered;
    p.rcpt->last_error.clear();
    changed = true;
    spdlog::info("delivery queue_id={} rcpt={} result=delivered file={}", env.id, p.rcpt->address, p.file);
  }
  return changed;
}

}  // namespace poshta::delivery
