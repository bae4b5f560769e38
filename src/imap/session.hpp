// imap::Session: the protocol side of one IMAP connection (RFC 9051 /
// RFC 3501) as a sans-IO state machine: framing (imap::Reader), the
// grammar (imap::parse), the states of RFC 9051 §3 and which commands each
// allows, STARTTLS (§6.2.1), LOGIN and AUTHENTICATE PLAIN with SASL-IR (RFC
// 4959), IDLE (RFC 2177), LOGOUT. Everything that touches a mailbox is a
// Request the transport carries out (through imap::Backend) and answers
// with resolve_command(), so the session never touches the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "auth/sasl.hpp"
#include "imap/command.hpp"
#include "imap/reader.hpp"

namespace poshta::imap {

struct SessionConfig {
  std::string hostname;
  bool starttls = false;           // a TLS context exists
  bool tls_active = false;         // imaps, or after STARTTLS
  bool plaintext_allowed = false;  // LOGIN/AUTHENTICATE without TLS (loopback clients, if configured)
  std::uint64_t append_limit = 26214400;
  std::uint32_t max_errors = 10;
  std::uint32_t max_auth_failures = 3;  // then BYE (the delay per address grows meanwhile)
};

struct Request {
  enum class Kind { auth, command };
  Kind kind = Kind::command;
  std::string user, password;  // auth
  Command command;             // command: a mailbox command, checked against the state
};

class Session {
 public:
  enum class State { not_authenticated, authenticated, selected, logout };

  explicit Session(SessionConfig config);

  void feed(std::string_view bytes);
  std::string take_output();
  std::optional<Request> take_request();
  bool paused() const { return pending_.has_value(); }
  bool wants_tls() const { return wants_tls_; }
  // COMPRESS DEFLATE was accepted (RFC 4978): once its OK is written, both
  // directions go through DEFLATE. True once.
  bool take_compress() { return std::exchange(wants_compress_, false); }
  void tls_started();
  bool closing() const { return state_ == State::logout; }
  bool idling() const { return idle_tag_.has_value(); }
  State state() const { return state_; }
  const std::string& user() const { return user_; }

  void resolve_auth(bool ok, const std::string& canonical_user);
  // The backend's untagged responses and its completion ("OK ...", "NO
  // ...", "BAD ..." without the tag); `selected`: whether a mailbox is
  // selected afterwards.
  void resolve_command(std::string untagged, std::string completion, bool selected);
  // Untagged updates to send now (during IDLE, or with NOOP's answer).
  void push_untagged(std::string_view lines);
  // The server is stopping.
  void shutdown();

  std::string capabilities() const;

 private:
  void process();
  void command(const RawCommand& raw);
  void dispatch(Command cmd);
  void authenticate(Command& cmd);
  void sasl_step(const auth::SaslServer::Step& step);
  void tagged(const std::string& tag, std::string_view text);
  void bad(const std::string& tag, std::string_view text);
  void request(Request r);
  bool plaintext_ok() const { return config_.tls_active || config_.plaintext_allowed; }

  SessionConfig config_;
  State state_ = State::not_authenticated;
  Reader reader_;
  std::string output_;
  std::optional<Request> pending_;
  bool handed_out_ = false;
  bool wants_tls_ = false;
  bool wants_compress_ = false;
  bool compressed_ = false;
  std::uint32_t errors_ = 0;
  std::uint32_t auth_failures_ = 0;
  std::string user_;
  std::string pending_tag_;               // of the command a request belongs to
  std::optional<auth::SaslServer> sasl_;  // AUTHENTICATE in progress
  std::optional<std::string> idle_tag_;   // IDLE in progress
};

}  // namespace poshta::imap
