// smtp::ClientSession: the client side of SMTP (RFC 5321) and LMTP (RFC
// 2033) as a sans-IO state machine, for relaying to other MTAs and handing
// mail to an LMTP store.
//
// The transport connects, feeds the session what the server sends, writes
// what take_output() returns, and does the TLS handshake when state() is
// tls_handshake. The session greets (EHLO or LHLO, HELO as fallback), takes
// STARTTLS when it is offered (RFC 3207) unless the policy says none,
// authenticates when credentials are given (RFC 4954, only over TLS), and
// then sends messages one after another on the same connection: send()
// starts one, result() gives the reply for each recipient once it is over.
// With PIPELINING (RFC 2920) MAIL, every RCPT and DATA go out together.
//
// Before a message leaves, the session checks what the server can take:
// 8-bit content needs 8BITMIME (else 554 5.6.3, RFC 6152 §3), SMTPUTF8 (else
// 553 5.6.7, RFC 6531 §3.2), and SIZE. DSN parameters (RFC 3461) are passed
// on when the server has DSN. The content always leaves with CRLF line ends
// and dot-stuffed (§4.5.2), whatever it held: no bare CR or LF ever reaches
// the next hop.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "smtp/command.hpp"
#include "smtp/reply_reader.hpp"

namespace poshta::smtp {

enum class TlsPolicy : std::uint8_t { none, opportunistic, required };

struct ClientOptions {
  std::string hello_name;  // our host name for EHLO/LHLO
  bool lmtp = false;
  bool tls_active = false;  // implicit TLS: the connection is already encrypted
  TlsPolicy tls = TlsPolicy::opportunistic;
  std::string auth_user;  // AUTH only when set
  std::string auth_password;
};

struct Capabilities {
  bool esmtp = false;
  bool pipelining = false;
  bool eight_bit_mime = false;
  bool smtputf8 = false;
  bool dsn = false;
  bool starttls = false;
  bool size = false;
  std::uint64_t size_limit = 0;  // 0: none announced
  bool auth_plain = false;
  bool auth_login = false;
};

struct OutgoingRecipient {
  std::string address;
  std::uint8_t notify = 0;  // smtp::notify bits; 0: not given
  std::string orcpt;        // xtext, or empty
};

struct OutgoingMessage {
  std::string sender;  // empty: the null reverse-path
  BodyType body = BodyType::unspecified;
  bool smtputf8 = false;
  Ret ret = Ret::unspecified;
  std::string envid;
  std::vector<OutgoingRecipient> recipients;
  std::string_view content;  // must stay valid until result() returns it
};

struct MessageResult {
  std::vector<ServerReply> recipients;  // the final reply for each recipient, in order
  bool dsn_passed_on = false;           // the server took our DSN parameters (RFC 3461 §6.2.1)
};

// Why a connection could not be used (before or between messages).
struct ClientFailure {
  std::string text;        // the server's reply or what went wrong
  bool permanent = false;  // a 5xx reply
  bool tls = false;        // the STARTTLS step failed, or TLS was required and missing
};

class ClientSession {
 public:
  enum class State { greeting, hello, starttls, tls_handshake, auth, ready, transaction, quitting, done, failed };

  explicit ClientSession(ClientOptions options);

  void feed(std::string_view bytes);
  std::string take_output();
  State state() const { return state_; }
  const Capabilities& capabilities() const { return caps_; }
  bool tls_active() const { return options_.tls_active; }

  // After the TLS handshake of state tls_handshake succeeded.
  void tls_started();
  // The handshake failed: the connection is unusable (failure().tls is set).
  void tls_failed(std::string_view why);
  // The server closed the connection or a read or write failed: a message
  // in flight gets a 4xx for each recipient that has no final reply yet.
  void connection_lost(std::string_view why);

  // In state ready: starts sending a message.
  void send(const OutgoingMessage& message);
  // The finished message's result, once, when state() is back to ready (or
  // failed in the middle of it).
  std::optional<MessageResult> result();
  // In state ready: says goodbye.
  void quit();

  const ClientFailure& failure() const { return failure_; }
  // How long to wait for the reply expected now (RFC 5321 §4.5.3.2).
  std::chrono::seconds timeout() const;

 private:
  enum class Expect : std::uint8_t {
    greeting,
    ehlo,
    helo,
    starttls,
    auth,
    auth_user,
    auth_password,
    rset,
    mail,
    rcpt,
    data,
    end_of_data,
    quit
  };

  void on_reply(const ServerReply& reply);
  void command(std::string_view line, Expect expect);
  void after_hello();
  void fail(std::string text, bool permanent, bool tls = false);
  void fail_and_quit(std::string text, bool permanent, bool tls = false);
  void start_mail();
  void send_rcpt(std::size_t index);
  void send_content();
  void finish_message();
  void refuse_message(int code, std::string_view enhanced, std::string_view text);

  ClientOptions options_;
  State state_ = State::greeting;
  ReplyReader reader_;
  std::string output_;
  std::deque<Expect> expected_;
  Capabilities caps_;
  ClientFailure failure_;
  bool authenticated_ = false;
  bool needs_reset_ = false;

  // The message in flight.
  const OutgoingMessage* message_ = nullptr;
  std::optional<ServerReply> mail_reply_;
  std::vector<std::optional<ServerReply>> replies_;  // per recipient: RCPT, then final
  std::vector<bool> accepted_;
  std::size_t next_rcpt_reply_ = 0;
  std::size_t next_final_ = 0;  // LMTP: the accepted recipient the next end-of-data reply is for
  bool content_sent_ = false;
  std::optional<MessageResult> result_;
};

// The content as DATA sends it: CRLF line ends, dot-stuffed, ended by "CRLF.CRLF".
std::string encode_data(std::string_view content);

}  // namespace poshta::smtp
