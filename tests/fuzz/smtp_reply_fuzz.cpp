// The SMTP client session and its reply reader, fed whatever a server might
// send. Byte 0 says where the rest is cut in two, byte 1 picks the options
// (bit 0 LMTP, bit 1 implicit TLS, bits 2-3 the TLS policy, bit 4 DSN
// parameters, bit 5 SMTPUTF8, bit 6 8-bit content). The first part
// is fed; if the session then wants TLS the handshake "succeeds"; if it is
// ready, a small message is sent; then the second part is fed. It must never
// crash, and what it reports must hold together: one reply per recipient, no
// recipient delivered unless the content went out, no credentials and no
// message without the TLS the options ask for, nothing written once failed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/client_session.hpp"
#include "smtp/reply_reader.hpp"

namespace {

using poshta::smtp::ClientSession;
using State = ClientSession::State;

void check_reader(std::string_view in) {
  poshta::smtp::ReplyReader r;
  r.feed(in);
  while (auto reply = r.next()) {
    if (reply->code < 200 || reply->code > 599 || reply->lines.empty()) std::abort();
    if (reply->text().substr(0, 3) != std::to_string(reply->code)) std::abort();
    const std::string enhanced = reply->enhanced();
    if (!enhanced.empty() && enhanced.size() < 5) std::abort();
  }
}

void check_result(const poshta::smtp::MessageResult& result, const poshta::smtp::OutgoingMessage& message,
                  bool content_sent) {
  if (result.recipients.size() != message.recipients.size()) std::abort();
  for (const auto& reply : result.recipients) {
    if (reply.code < 200 || reply.code > 599) std::abort();
    if (reply.code < 300 && !content_sent) std::abort();  // "delivered" without the message
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  check_reader(in);
  if (size < 2) return 0;

  const std::string_view rest = in.substr(2);
  const std::size_t cut = data[0] < rest.size() ? data[0] : rest.size();
  poshta::smtp::ClientOptions options;
  options.hello_name = "client.test";
  options.lmtp = (data[1] & 1) != 0;
  options.tls_active = (data[1] & 2) != 0;
  options.tls = static_cast<poshta::smtp::TlsPolicy>(((data[1] >> 2) & 3) % 3);
  options.auth_user = "user";
  options.auth_password = "secret";
  const bool tls_required = options.tls == poshta::smtp::TlsPolicy::required;

  static const std::string seven_bit = "Subject: fuzz\r\n\r\nline\n.dot\r\n";
  static const std::string eight_bit = "Subject: caf\xc3\xa9\r\n\r\n.\r\n";
  const std::string& content = (data[1] & 64) ? eight_bit : seven_bit;
  const std::string encoded = poshta::smtp::encode_data(content);
  poshta::smtp::OutgoingMessage message;
  message.sender = "a@example.org";
  message.recipients = {{"b@example.net", 0, {}}, {"c@example.net", 0, {}}, {"d@example.net", 0, {}}};
  message.content = content;
  if (data[1] & 16) {
    message.ret = poshta::smtp::Ret::hdrs;
    message.envid = "QQ1";
    message.recipients[0].notify = poshta::smtp::notify::success | poshta::smtp::notify::failure;
    message.recipients[0].orcpt = "rfc822;b@example.net";
    message.recipients[2].notify = poshta::smtp::notify::never;
  }
  message.smtputf8 = (data[1] & 32) != 0;

  ClientSession s(options);
  std::string wire;
  const auto run = [&](std::string_view part) {
    s.feed(part);
    wire += s.take_output();
    if (s.state() == State::tls_handshake) {
      // Nothing may be read in plaintext between the 220 and the handshake.
      if (!wire.ends_with("STARTTLS\r\n")) std::abort();
      s.tls_started();
      wire += s.take_output();
    }
  };

  run(rest.substr(0, cut));
  bool sent = false;
  if (s.state() == State::ready) {
    if (!s.tls_active() && tls_required) std::abort();
    s.send(message);
    sent = true;
    wire += s.take_output();
  }
  run(rest.substr(cut));

  // Credentials only over TLS.
  if (!s.tls_active() && wire.find("AUTH") != std::string::npos) std::abort();
  if (s.tls_active() && !options.tls_active && wire.find("STARTTLS\r\n") == std::string::npos) std::abort();

  const bool content_sent = wire.find(encoded) != std::string::npos;
  if (sent) {
    if (auto result = s.result()) {
      check_result(*result, message, content_sent);
    } else if (s.state() == State::transaction) {
      s.connection_lost("fuzz end");
      auto lost = s.result();
      if (!lost) std::abort();
      check_result(*lost, message, content_sent);
    }
  }
  if (s.state() == State::ready) {
    s.quit();
    if (s.take_output() != "QUIT\r\n") std::abort();
  }
  (void)s.timeout();

  // A failed or finished session says nothing more.
  if (s.state() == State::failed || s.state() == State::done) {
    (void)s.take_output();
    s.feed("250 OK\r\n");
    if (!s.take_output().empty()) std::abort();
  }
  return 0;
}
