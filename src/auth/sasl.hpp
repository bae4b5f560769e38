// auth::SaslServer: the server side of one SASL exchange (RFC 4422) for
// the mechanisms Poshta offers, PLAIN (RFC 4616) and LOGIN (the
// de-facto draft-murchison-sasl-login), as a sans-IO state machine. It is
// fed the client's base64 lines and answers with the next challenge, the
// credentials, or a failure; checking the password is the caller's job
// (it is slow: keep it off the event loop). Both mechanisms send the
// password in the clear, so the SMTP session offers them only over TLS.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace poshta::auth {

struct Credentials {
  std::string username;
  std::string password;
};

class SaslServer {
 public:
  enum class Status { challenge, done, failed, cancelled };
  struct Step {
    Status status = Status::failed;
    std::string challenge;  // base64, to send after "334 " (status challenge)
    std::string error;      // why it failed (status failed)
  };

  // nullopt if `mechanism` (case-insensitive) is not offered.
  static std::optional<SaslServer> create(std::string_view mechanism);
  static constexpr std::string_view kMechanisms = "PLAIN LOGIN";

  // The first step; `initial` is the initial response of RFC 4954 §4 if the
  // client gave one ("=" stands for an empty one).
  Step begin(std::optional<std::string_view> initial);
  // The next client line: base64, or "*" to cancel.
  Step respond(std::string_view line);

  // Valid after a `done` step.
  const Credentials& credentials() const { return credentials_; }

 private:
  enum class Mechanism { plain, login };
  enum class Expect { initial, username, password, finished };
  explicit SaslServer(Mechanism m) : mechanism_(m) {}
  Step take(std::string_view decoded);

  Mechanism mechanism_;
  Expect expect_ = Expect::initial;
  Credentials credentials_;
};

// Strict RFC 4648 base64 (padding required, no whitespace, canonical
// padding bits); nullopt if malformed.
std::optional<std::string> base64_decode(std::string_view in);
std::string base64_encode(std::string_view in);

}  // namespace poshta::auth
