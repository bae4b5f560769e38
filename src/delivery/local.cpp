#include "delivery/local.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

namespace poshta::delivery {

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

namespace {

void defer(BatchItem& item, queue::EnvelopeRecipient& r, std::string why, const queue::RetryPolicy& retry,
           std::int64_t now) {
  ++r.attempts;
  r.state = queue::RecipientState::deferred;
  r.next_attempt = queue::next_attempt(retry, r.attempts, now);
  spdlog::warn("delivery queue_id={} rcpt={} result=deferred attempts={} error=\"{}\"", item.envelope->id, r.address,
               r.attempts, why);
  r.last_error = std::move(why);
  item.changed = true;
}

}  // namespace

void deliver_batch(store::Maildir& maildir, core::GroupSync& flush, std::span<BatchItem> batch,
                   const queue::RetryPolicy& retry, std::int64_t now) {
  struct Copy {
    BatchItem* item;
    queue::EnvelopeRecipient* rcpt;
    store::Maildir::Pending pending;
  };
  std::vector<Copy> copies;
  for (auto& item : batch) {
    auto& env = *item.envelope;
    for (auto& r : env.recipients) {
      const bool due = r.state == queue::RecipientState::pending ||
                       (r.state == queue::RecipientState::deferred && r.local && r.next_attempt <= now);
      if (!due) continue;
      if (!r.local) {
        if (r.state == queue::RecipientState::pending)
          defer(item, r, "remote delivery is not available yet", retry, now);
        continue;
      }
      const std::string prefix = "Return-Path: <" + env.sender + ">\r\nDelivered-To: " + r.address + "\r\n";
      const std::string_view parts[] = {prefix, item.content};
      auto pending = maildir.write(r.address, parts);
      if (!pending) {
        defer(item, r, "cannot write to the mailbox: " + pending.error().message(), retry, now);
        continue;
      }
      copies.push_back({&item, &r, std::move(*pending)});
    }
  }
  if (copies.empty()) return;

  // The data first: a link must never name a message that is not on disk.
  if (auto ec = flush.sync()) {
    for (auto& c : copies) defer(*c.item, *c.rcpt, "cannot flush the mailbox: " + ec.message(), retry, now);
    return;  // the unnamed files vanish with their descriptors
  }
  std::vector<Copy*> linked;
  for (auto& c : copies) {
    if (auto ec = maildir.publish(c.pending)) {
      defer(*c.item, *c.rcpt, "cannot link into the mailbox: " + ec.message(), retry, now);
    } else {
      linked.push_back(&c);
    }
  }
  if (linked.empty()) return;
  const std::error_code ec = flush.sync();
  for (auto* c : linked) {
    if (ec) {
      // In new/ but perhaps not after a crash: try again later (a duplicate
      // at worst, never a loss).
      defer(*c->item, *c->rcpt, "cannot flush the mailbox: " + ec.message(), retry, now);
      continue;
    }
    c->rcpt->state = queue::RecipientState::delivered;
    c->rcpt->last_error.clear();
    c->item->changed = true;
    spdlog::info("delivery queue_id={} rcpt={} result=delivered file={}", c->item->envelope->id, c->rcpt->address,
                 c->pending.destination().filename().string());
  }
}

}  // namespace poshta::delivery
