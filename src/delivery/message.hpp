// delivery::Message: a queued message as the queue runner and the delivery
// agents pass it around, and record(), the one place where the result of a
// delivery attempt changes a recipient's state.
//
// record() turns a reply into a state the way RFC 5321 §4.2.1 and §6 read
// it: 2xx delivered, 4xx deferred to the next retry (failed once
// `bounce_after` has passed), 5xx failed. A recipient whose new state the
// sender asked to hear about (RFC 3461 NOTIFY) gets a notice, which the
// runner turns into one DSN per message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "queue/dsn.hpp"
#include "queue/envelope.hpp"
#include "queue/schedule.hpp"

namespace poshta::delivery {

struct Message {
  Message() = default;
  Message(queue::Envelope e, std::shared_ptr<const std::string> c, std::uint64_t seq)
      : env(std::move(e)), content(std::move(c)), journal_seq(seq) {}

  queue::Envelope env;
  std::shared_ptr<const std::string> content;  // null: read from the spool when needed
  std::uint64_t journal_seq = 0;               // 0: in the spool
  bool changed = false;                        // a recipient's state changed: record it
  bool removed = false;                        // deleted by the administrator
  std::vector<queue::DsnRecipient> notices;    // what to report to the sender
};

// The outcome of one attempt for one recipient.
struct Attempt {
  int code = 0;                // an SMTP reply code
  std::string status;          // RFC 3463 code; empty: the reply's own, else derived from `code`
  std::string text;            // the reply or the error, for the log, the queue and the DSN
  std::string remote_mta;      // the host that answered; empty for local delivery
  std::string relay;           // where it went, for the log: "mx.b.test[127.0.0.3]:25", "maildir"
  bool dsn_passed_on = false;  // the next hop took our DSN parameters: it reports success itself
};

void record(Message& m, queue::EnvelopeRecipient& r, const Attempt& attempt, const queue::RetryPolicy& retry,
            std::int64_t now);

// Recipients of `env` due for an attempt at `now`.
bool is_due(const queue::EnvelopeRecipient& r, std::int64_t now);

std::int64_t unix_now();

}  // namespace poshta::delivery
