#include "auth/sasl.hpp"

#include "core/base64.hpp"

#include <array>

#include "core/address.hpp"

namespace poshta::auth {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
// RFC 4954 §4: a line of the exchange may be 12,288 octets; credentials are far smaller.
constexpr std::size_t kMaxDecoded = 1024;

SaslServer::Step failed(std::string why) {
  return {SaslServer::Status::failed, {}, std::move(why)};
}

}  // namespace

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    std::array<int, 4> v{};
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=') {
        // Padding only at the very end, in the last two positions.
        if (i + 4 != in.size() || k < 2) return std::nullopt;
        ++pad;
        v[k] = 0;
      } else {
        if (pad > 0) return std::nullopt;
        v[k] = core::base64_value(c);
        if (v[k] < 0) return std::nullopt;
      }
    }
    // RFC 4648 §3.5: the bits past the data must be zero (one text, one encoding).
    if ((pad == 1 && (v[2] & 0x3) != 0) || (pad == 2 && (v[1] & 0xf) != 0)) return std::nullopt;
    const unsigned n = (static_cast<unsigned>(v[0]) << 18) | (static_cast<unsigned>(v[1]) << 12) |
                       (static_cast<unsigned>(v[2]) << 6) | static_cast<unsigned>(v[3]);
    out += static_cast<char>((n >> 16) & 0xff);
    if (pad < 2) out += static_cast<char>((n >> 8) & 0xff);
    if (pad < 1) out += static_cast<char>(n & 0xff);
  }
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t left = in.size() - i;
    unsigned n = static_cast<unsigned char>(in[i]) << 16;
    if (left > 1) n |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (left > 2) n |= static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += left > 1 ? kAlphabet[(n >> 6) & 63] : '=';
    out += left > 2 ? kAlphabet[n & 63] : '=';
  }
  return out;
}

std::optional<SaslServer> SaslServer::create(std::string_view mechanism) {
  if (core::iequals(mechanism, "PLAIN")) return SaslServer(Mechanism::plain);
  if (core::iequals(mechanism, "LOGIN")) return SaslServer(Mechanism::login);
  return std::nullopt;
}

SaslServer::Step SaslServer::begin(std::optional<std::string_view> initial) {
  if (mechanism_ == Mechanism::plain) {
    expect_ = Expect::initial;
    if (!initial) return {Status::challenge, "", {}};  // "334 " with an empty challenge
    return respond(*initial);
  }
  expect_ = Expect::username;
  if (initial) return respond(*initial);
  return {Status::challenge, base64_encode("Username:"), {}};
}

SaslServer::Step SaslServer::respond(std::string_view line) {
  if (line == "*") {
    expect_ = Expect::finished;
    return {Status::cancelled, {}, {}};
  }
  if (expect_ == Expect::finished) return failed("the exchange is over");
  // RFC 4954 §4: "=" is an empty response.
  std::optional<std::string> decoded = line == "=" ? std::string() : base64_decode(line);
  if (!decoded) {
    expect_ = Expect::finished;
    return failed("invalid base64");
  }
  if (decoded->size() > kMaxDecoded) {
    expect_ = Expect::finished;
    return failed("response too long");
  }
  return take(*decoded);
}

SaslServer::Step SaslServer::take(std::string_view decoded) {
  switch (expect_) {
    case Expect::initial: {  // PLAIN: [authzid] NUL authcid NUL passwd
      expect_ = Expect::finished;
      const auto first = decoded.find('\0');
      const auto second = first == std::string_view::npos ? first : decoded.find('\0', first + 1);
      if (second == std::string_view::npos || decoded.find('\0', second + 1) != std::string_view::npos) {
        return failed("malformed PLAIN response");
      }
      const std::string_view authzid = decoded.substr(0, first);
      credentials_.username = std::string(decoded.substr(first + 1, second - first - 1));
      credentials_.password = std::string(decoded.substr(second + 1));
      // Acting for another identity (proxy authorization) is not offered.
      if (!authzid.empty() && !core::iequals(authzid, credentials_.username)) {
        return failed("authorization identity differs from the user");
      }
      if (credentials_.username.empty()) return failed("empty user name");
      return {Status::done, {}, {}};
    }
    case Expect::username:
      credentials_.username = std::string(decoded);
      expect_ = Expect::password;
      return {Status::challenge, base64_encode("Password:"), {}};
    case Expect::password:
      credentials_.password = std::string(decoded);
      expect_ = Expect::finished;
      if (credentials_.username.empty()) return failed("empty user name");
      return {Status::done, {}, {}};
    case Expect::finished: break;
  }
  return failed("the exchange is over");
}

}  // namespace poshta::auth
