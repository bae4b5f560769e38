// The Received trace field an SMTP server prepends to each message it
// accepts (RFC 5321 §4.4; protocol names of RFC 3848 and RFC 6531 §3.7.3),
// with the TLS version and cipher and the authenticated user in comments,
// as Postfix records them.
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
  std::string recipient;    // named in a "for" clause when there is exactly one
  std::string tls_version;  // "TLSv1.3", empty without TLS
  std::string tls_cipher;
  std::string authenticated_user;  // empty if none (never a password)
  std::time_t when = 0;
};

// The whole field, folded, with CRLF line ends.
std::string received_field(const ReceivedInfo& info);

// "ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA", "SMTP", or the UTF8SMTP forms;
// with `lmtp`, "LMTP" and its forms (RFC 3848, RFC 6531 §3.7.3: UTF8LMTP).
std::string received_protocol(bool esmtp, bool utf8, bool tls, bool authenticated, bool lmtp = false);

}  // namespace poshta::smtp
