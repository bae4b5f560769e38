// The Received trace field an SMTP server prepends to each message it
// accepts (RFC 5321 §4.4; protocol names of RFC 3848 and RFC 6531 §3.7.3).
#pragma once

#include <ctime>
#include <string>

namespace poshta::smtp {

struct ReceivedInfo {
  std::string helo;      // the client's HELO/EHLO name
  std::string peer_ip;   // its address
  std::string hostname;  // ours
  std::string protocol;  // SMTP, ESMTP, UTF8SMTP...
  std::string queue_id;
  std::string recipient;  // named in a "for" clause when there is exactly one
  std::time_t when = 0;
};

// The whole field, folded, with CRLF line ends.
std::string received_field(const ReceivedInfo& info);

// RFC 5322 §3.3 date-time in UTC: "Thu, 26 Nov 2026 06:30:00 +0000".
std::string rfc5322_date(std::time_t when);

}  // namespace poshta::smtp
