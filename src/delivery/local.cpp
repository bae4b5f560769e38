#include "delivery/local.hpp"

#include <vector>

namespace poshta::delivery {

namespace {

Attempt failure(std::string why) {
  return {451, "4.3.0", "451 4.3.0 " + why, "", "maildir", false};
}

}  // namespace

void deliver_local(store::Maildir& maildir, core::GroupSync& flush, std::span<Message* const> batch,
                   const queue::RetryPolicy& retry, std::int64_t now) {
  struct Copy {
    Message* message;
    queue::EnvelopeRecipient* rcpt;
    store::Maildir::Pending pending;
  };
  std::vector<Copy> copies;
  for (Message* m : batch) {
    const auto& env = m->env;
    for (auto& r : m->env.recipients) {
      if (!r.local || !is_due(r, now)) continue;
      const std::string prefix = "Return-Path: <" + env.sender + ">\r\nDelivered-To: " + r.address + "\r\n";
      const std::string_view parts[] = {prefix, *m->content};
      auto pending = maildir.write(r.address, parts);
      if (!pending) {
        record(*m, r, failure("cannot write to the mailbox: " + pending.error().message()), retry, now);
        continue;
      }
      copies.push_back({m, &r, std::move(*pending)});
    }
  }
  if (copies.empty()) return;

  // The data first: a link must never name a message that is not on disk.
  if (auto ec = flush.sync()) {
    for (auto& c : copies)
      record(*c.message, *c.rcpt, failure("cannot flush the mailbox: " + ec.message()), retry, now);
    return;  // the unnamed files vanish with their descriptors
  }
  std::vector<Copy*> linked;
  for (auto& c : copies) {
    if (auto ec = maildir.publish(c.pending)) {
      record(*c.message, *c.rcpt, failure("cannot link into the mailbox: " + ec.message()), retry, now);
    } else {
      linked.push_back(&c);
    }
  }
  if (linked.empty()) return;
  const std::error_code ec = flush.sync();
  for (auto* c : linked) {
    // In new/ but perhaps not after a crash when the flush failed: try again
    // later (a duplicate at worst, never a loss).
    record(
        *c->message, *c->rcpt,
        ec ? failure("cannot flush the mailbox: " + ec.message())
           : Attempt{250, "2.0.0", "250 2.0.0 " + c->pending.destination().filename().string(), "", "maildir", false},
        retry, now);
  }
}

}  // namespace poshta::delivery
