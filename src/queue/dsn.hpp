// queue DSN: delivery status notifications (bounces, delay warnings,
// delivery reports) as multipart/report messages (RFC 6522) with a
// message/delivery-status part (RFC 3464), honouring the DSN parameters of
// RFC 3461 (NOTIFY, RET, ENVID, ORCPT) and using RFC 3463 status codes.
// Pure functions: the caller decides whom to report on (report_wanted), builds
// the message (build_dsn) and queues it with the null sender <> to the
// original sender.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "queue/envelope.hpp"

namespace poshta::queue {

// One recipient to report on.
struct DsnRecipient {
  std::string address;  // final recipient (rfc822;address)
  std::string orcpt;    // RFC 3461 ORCPT value as received ("rfc822;a@b", xtext) or empty
  enum class Action { failed, delayed, delivered, relayed, expanded } action = Action::failed;
  std::string status;      // RFC 3463 "5.1.1"; when empty or malformed: taken from the diagnostic, else X.0.0
  std::string remote_mta;  // host name of the remote MTA that answered, or empty (local delivery)
  // The remote reply, e.g. "550 5.1.1 <x@y>: no such user" (becomes "Diagnostic-Code: smtp; ..."), or
  // empty. Text that does not start with an SMTP reply code is reported as "Diagnostic-Code: X-Poshta; ...".
  std::string diagnostic;
  std::int64_t last_attempt = 0;      // unix seconds, 0: none
  std::int64_t will_retry_until = 0;  // unix seconds, 0: unknown; reported for Action::delayed only
};

struct DsnInput {
  std::string reporting_mta;           // our host name
  std::string postmaster;              // the From: address, e.g. "MAILER-DAEMON@mx.example.org"
  const Envelope* original = nullptr;  // sender, arrived, envid, ret, id, body, smtputf8
  std::string_view content;            // the original message (header + body, CRLF line ends)
  std::vector<DsnRecipient> recipients;
  std::int64_t now = 0;  // unix seconds (Date: and the message id)
  // The new message's Message-ID value without <>, e.g. "<queueid>.<something>@host"; the caller
  // supplies a unique one.
  std::string message_id;
  // A report on a failure returns the whole message only if RET=FULL or RET absent and
  // content.size() <= this; otherwise (and always for reports without a failure) headers only.
  std::size_t full_limit = 65536;
};

// The complete report message (header and body, CRLF line ends, no bare CR
// or LF, lines <= 998 octets), ready to queue with the null sender <> to
// original->sender. It contains octets above 127 only if the original was
// received with BODY=8BITMIME or SMTPUTF8 (and UTF-8 in header fields or
// addresses only with SMTPUTF8): queue it with the same body type and
// SMTPUTF8 flag as the original.
std::string build_dsn(const DsnInput& in);

// Whether a recipient whose NOTIFY (core::notify bits, 0: not given) is
// `notify` asked for a report of `action` (RFC 3461 §4.1): failures unless
// NOTIFY is NEVER or a list without FAILURE, delays when not given or with
// DELAY, successes only with SUCCESS. The caller never reports on a message
// from the null sender (RFC 3461 §6.2, RFC 5321 §6.1).
bool report_wanted(std::uint8_t notify, DsnRecipient::Action action);

}  // namespace poshta::queue
