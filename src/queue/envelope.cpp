#include "queue/envelope.hpp"

#include <charconv>

namespace poshta::queue {

namespace {

constexpr std::string_view kMagic = "poshta-envelope 1";

// Fields are single tokens: octets outside 0x21-0x7e and '%' become %XX;
// the empty string is "-" and a lone "-" is "%2D".
std::string encode(std::string_view s) {
  if (s.empty()) return "-";
  if (s == "-") return "%2D";
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e || c == '%') {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> decode(std::string_view s) {
  if (s == "-") return std::string();
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    unsigned v = 0;
    auto [end, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc{} || end != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

template <typename T>
bool number(std::string_view s, T& out, int base = 10) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out, base);
  return ec == std::errc{} && end == s.data() + s.size() && !s.empty();
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    const auto sp = line.find(' ');
    out.push_back(line.substr(0, sp));
    if (sp == std::string_view::npos) break;
    line.remove_prefix(sp + 1);
  }
  return out;
}

}  // namespace

const char* state_name(RecipientState s) {
  switch (s) {
    case RecipientState::pending: return "pending";
    case RecipientState::deferred: return "deferred";
    case RecipientState::delivered: return "delivered";
    case RecipientState::failed: return "failed";
  }
  return "?";
}

bool Envelope::finished() const {
  for (const auto& r : recipients) {
    if (r.state == RecipientState::pending || r.state == RecipientState::deferred) return false;
  }
  return true;
}

void Envelope::add_recipient(EnvelopeRecipient r) {
  for (const auto& e : recipients) {
    if (e.address == r.address) return;
  }
  recipients.push_back(std::move(r));
}

std::string serialize_envelope(const Envelope& env) {
  std::string s;
  s.reserve(256 + env.recipients.size() * 128);
  s += kMagic;
  s += "\nid " + encode(env.id);
  s += "\narrived " + std::to_string(env.arrived);
  s += "\nsender " + encode(env.sender);
  s += "\nsize " + std::to_string(env.size);
  char crc[16];
  std::snprintf(crc, sizeof crc, "%08x", env.crc);
  s += "\ncrc32 ";
  s += crc;
  s += "\nret " + encode(env.ret);
  s += "\nenvid " + encode(env.envid);
  s += "\nbody " + encode(env.body);
  s += std::string("\nsmtputf8 ") + (env.smtputf8 ? "1" : "0");
  s += std::string("\nheld ") + (env.held ? "1" : "0");
  for (const auto& r : env.recipients) {
    s += "\nrcpt ";
    s += state_name(r.state);
    s += " " + std::to_string(r.attempts) + " " + std::to_string(r.next_attempt) + " " + (r.local ? "1" : "0") + " " +
         encode(r.address) + " " + encode(r.original) + " " + std::to_string(r.notify) + " " + encode(r.orcpt) + " " +
         encode(r.last_error);
  }
  s += "\nend\n";
  return s;
}

std::optional<Envelope> parse_envelope(std::string_view text) {
  Envelope env;
  bool ended = false;
  bool first = true;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;  // every line ends: a cut file does not
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (first) {
      if (line != kMagic) return std::nullopt;
      first = false;
      continue;
    }
    if (ended) return std::nullopt;
    const auto f = split(line);
    if (f.empty()) return std::nullopt;
    const std::string_view key = f[0];
    if (key == "end" && f.size() == 1) {
      ended = true;
      continue;
    }
    if (key == "rcpt") {
      if (f.size() != 10) return std::nullopt;
      EnvelopeRecipient r;
      if (f[1] == "pending")
        r.state = RecipientState::pending;
      else if (f[1] == "deferred")
        r.state = RecipientState::deferred;
      else if (f[1] == "delivered")
        r.state = RecipientState::delivered;
      else if (f[1] == "failed")
        r.state = RecipientState::failed;
      else
        return std::nullopt;
      unsigned notify = 0;
      auto address = decode(f[5]), original = decode(f[6]), orcpt = decode(f[8]), error = decode(f[9]);
      if (!number(f[2], r.attempts) || !number(f[3], r.next_attempt) || (f[4] != "0" && f[4] != "1") ||
          !number(f[7], notify) || !address || !original || !orcpt || !error) {
        return std::nullopt;
      }
      r.local = f[4] == "1";
      r.notify = static_cast<std::uint8_t>(notify);
      r.address = std::move(*address);
      r.original = std::move(*original);
      r.orcpt = std::move(*orcpt);
      r.last_error = std::move(*error);
      env.recipients.push_back(std::move(r));
      continue;
    }
    if (f.size() != 2) return std::nullopt;
    const std::string_view v = f[1];
    bool ok = true;
    if (key == "id" || key == "sender" || key == "ret" || key == "envid" || key == "body") {
      auto d = decode(v);
      if (!d) return std::nullopt;
      (key == "id"       ? env.id
       : key == "sender" ? env.sender
       : key == "ret"    ? env.ret
       : key == "envid"  ? env.envid
                         : env.body) = std::move(*d);
    } else if (key == "arrived") {
      ok = number(v, env.arrived);
    } else if (key == "size") {
      ok = number(v, env.size);
    } else if (key == "crc32") {
      ok = number(v, env.crc, 16);
    } else if (key == "smtputf8" || key == "held") {
      ok = v == "0" || v == "1";
      (key == "held" ? env.held : env.smtputf8) = v == "1";
    }  // unknown keys from a newer version are skipped
    if (!ok) return std::nullopt;
  }
  if (!ended || env.id.empty()) return std::nullopt;
  return env;
}

}  // namespace poshta::queue
