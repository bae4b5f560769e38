// pop3::Session: the server side of one POP3 connection (RFC 1939) as a
// sans-IO state machine, with CAPA and response codes (RFC 2449), STLS
// (RFC 2595) and AUTH PLAIN (RFC 5034).
//
// States (RFC 1939 §3): AUTHORIZATION until the user is known and the
// maildrop is open, then TRANSACTION, then UPDATE after QUIT, where the
// messages marked deleted are removed. The transport feeds the bytes it
// reads and writes what take_output() returns. What the session cannot do
// itself becomes a Request (check a password, open the maildrop, send a
// message, remove the deleted messages); the session is paused() until the
// matching resolve_*() call, so pipelined commands (RFC 2449 PIPELINING)
// are answered in order. RETR and TOP: after resolve_retrieve(true) the
// "+OK" line is in the output and the transport sends the message itself,
// through a pop3::MessageEncoder, before it feeds more input.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sasl.hpp"

namespace poshta::pop3 {

struct SessionConfig {
  std::string hostname;
  bool stls = false;                    // STLS can be offered (a TLS context exists)
  bool tls_active = false;              // implicit TLS (pop3s), or STLS done
  bool plaintext_allowed = false;       // USER/PASS and PLAIN without TLS (loopback clients, if configured)
  std::uint32_t max_errors = 10;        // bad commands before the connection is closed
  std::uint32_t max_auth_failures = 3;  // failed logins before the connection is closed
};

struct Message {
  std::uint64_t size = 0;  // octets as sent (CRLF line ends, before dot-stuffing)
  std::string uidl;
};

struct Request {
  enum class Kind { auth, open, retrieve, commit };
  Kind kind = Kind::auth;
  std::string user;                         // auth
  std::string password;                     // auth
  std::size_t message = 0;                  // retrieve: index (0-based)
  std::optional<std::uint64_t> body_lines;  // retrieve: TOP's line count; nullopt for RETR
  std::vector<std::size_t> deleted;         // commit: indexes to remove
};

class Session {
 public:
  enum class State { authorization, transaction, update, closed };
  enum class OpenResult { ok, in_use, failed };

  explicit Session(SessionConfig config);

  void feed(std::string_view bytes);
  std::string take_output();
  std::optional<Request> take_request();
  bool paused() const { return pending_.has_value(); }
  bool wants_tls() const { return wants_tls_; }
  void tls_started();
  bool closing() const { return state_ == State::closed; }
  State state() const { return state_; }
  const std::string& user() const { return user_; }

  // The password check: on success the session asks to open the maildrop.
  void resolve_auth(bool ok);
  void resolve_open(OpenResult result, std::vector<Message> messages = {});
  // The message could be read (true: "+OK" is now in the output) or not
  // (false: "-ERR", and the session goes on with pipelined commands).
  void resolve_retrieve(bool ok);
  // After the message is sent: goes on with pipelined commands.
  void resume();
  void resolve_commit(bool ok);

 private:
  void line(std::string_view text);
  void command(std::string_view verb, std::string_view args);
  void authorization(std::string_view verb, std::string_view args);
  void transaction(std::string_view verb, std::string_view args);
  void sasl_line(std::string_view text);
  void sasl_step(const auth::SaslServer::Step& step);
  void capa();
  void ok(std::string_view text);
  void err(std::string_view text, bool counts = true);
  std::optional<std::size_t> message_number(std::string_view arg);
  bool plaintext_ok() const { return config_.tls_active || config_.plaintext_allowed; }
  void request(Request r);
  void process();

  SessionConfig config_;
  State state_ = State::authorization;
  std::string input_;
  std::string output_;
  std::optional<Request> pending_;  // waiting for its resolve_*()
  bool handed_out_ = false;         // pending_ was taken by the transport
  bool wants_tls_ = false;
  bool discarding_ = false;  // the rest of an over-long line
  std::uint32_t errors_ = 0;
  std::uint32_t auth_failures_ = 0;

  std::string user_;  // after USER, or from AUTH
  std::optional<auth::SaslServer> sasl_;
  std::vector<Message> messages_;
  std::vector<bool> deleted_;
};

}  // namespace poshta::pop3
