#include "smtp/received.hpp"

#include "mime/date.hpp"

namespace poshta::smtp {

std::string received_field(const ReceivedInfo& info) {
  // RFC 5321 §4.4 TCP-info is an address literal: "[IPv6:...]" for IPv6 (§4.1.3).
  const std::string literal =
      info.peer_ip.find(':') == std::string::npos ? "[" + info.peer_ip + "]" : "[IPv6:" + info.peer_ip + "]";
  std::string f = "Received: from " + info.helo + " (" + literal + ")\r\n";
  if (!info.tls_version.empty()) f += "\t(using " + info.tls_version + " with cipher " + info.tls_cipher + ")\r\n";
  if (!info.authenticated_user.empty()) f += "\t(authenticated as " + info.authenticated_user + ")\r\n";
  f += "\tby " + info.hostname + " (Poshta) with " + info.protocol + " id " + info.queue_id;
  if (!info.recipient.empty()) f += "\r\n\tfor <" + info.recipient + ">";
  f += "; " + mime::rfc5322_date(info.when) + "\r\n";
  return f;
}

std::string received_protocol(bool esmtp, bool utf8, bool tls, bool authenticated, bool lmtp) {
  if (!esmtp && !lmtp) return "SMTP";
  std::string p = lmtp ? (utf8 ? "UTF8LMTP" : "LMTP") : (utf8 ? "UTF8SMTP" : "ESMTP");  // RFC 6531 §3.7.3, RFC 3848
  if (tls) p += 'S';
  if (authenticated) p += 'A';
  return p;
}

}  // namespace poshta::smtp
