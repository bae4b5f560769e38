#include "mime/encoded_word.hpp"

#include <cstdint>
#include <optional>

#include "core/address.hpp"
#include "core/base64.hpp"
#include "mime/charset.hpp"
#include "mime/field_value.hpp"
#include "mime/lexer.hpp"

namespace poshta::mime {

namespace {

struct Word {
  std::string_view charset;
  std::string bytes;  // the decoded octets, still in `charset`
  std::size_t end;    // just past the "?="
};

// §4.2: '_' is a space, =XX an octet; a '=' that is not followed by two
// hex digits is kept as it is.
std::string decode_q(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '_') {
      out += ' ';
    } else if (s[i] == '=' && i + 2 < s.size() && lex::hex_value(s[i + 1]) >= 0 && lex::hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(lex::hex_value(s[i + 1]) * 16 + lex::hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// §4.1 (RFC 4648 base64); missing padding is forgiven.
std::optional<std::string> decode_b(std::string_view s) {
  while (!s.empty() && s.back() == '=') s.remove_suffix(1);
  if (s.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(s.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (const char c : s) {
    const int v = core::base64_value(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

bool ends_token(char c) {
  return c == '?' || c == ' ' || c == '\t';
}

// The encoded word that starts at v[at] ("=?"), if it is one. Each part
// stops at the next '?' or space, so a failed attempt reads no further than
// the third '?' after `at`: the whole scan stays linear.
std::optional<Word> word_at(std::string_view v, std::size_t at) {
  std::size_t i = at + 2;
  while (i < v.size() && !ends_token(v[i])) ++i;
  if (i >= v.size() || v[i] != '?' || i == at + 2) return std::nullopt;
  std::string_view charset = v.substr(at + 2, i - at - 2);
  charset = charset.substr(0, charset.find('*'));  // RFC 2231 §5: charset*language
  if (i + 2 >= v.size() || v[i + 2] != '?') return std::nullopt;
  const char encoding = v[i + 1];
  const std::size_t text = i + 3;
  std::size_t j = text;
  while (j < v.size() && !ends_token(v[j])) ++j;
  if (j + 1 >= v.size() || v[j] != '?' || v[j + 1] != '=') return std::nullopt;
  const std::string_view encoded = v.substr(text, j - text);
  std::optional<std::string> bytes;
  if (encoding == 'Q' || encoding == 'q') {
    bytes = decode_q(encoded);
  } else if (encoding == 'B' || encoding == 'b') {
    bytes = decode_b(encoded);
  }
  if (!bytes) return std::nullopt;
  return Word{charset, std::move(*bytes), j + 2};
}

class Decoder {
 public:
  explicit Decoder(std::string_view v) : v_(v) {}

  std::string run() {
    std::size_t literal = 0;  // start of the text not yet written
    bool after_word = false;
    for (std::size_t i = v_.find("=?"); i != std::string_view::npos; i = v_.find("=?", i)) {
      auto word = word_at(v_, i);
      if (!word) {
        i += 2;
        continue;
      }
      const std::string_view between = v_.substr(literal, i - literal);
      const bool only_space = between.find_first_not_of(" \t") == std::string_view::npos;
      if (!after_word || !only_space) {
        flush();
        out_ += between;
      }
      if (run_start_ != kNone && !core::iequals(run_charset_, word->charset)) flush();
      if (run_start_ == kNone) {
        run_start_ = i;
        run_charset_ = word->charset;
      }
      run_bytes_ += word->bytes;
      run_end_ = word->end;
      literal = i = word->end;
      after_word = true;
    }
    flush();
    out_ += v_.substr(literal);
    return std::move(out_);
  }

 private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  // Converts the run of adjacent words in one charset, or writes it as it
  // stood when that fails.
  void flush() {
    if (run_start_ == kNone) return;
    if (auto utf8 = to_utf8(run_charset_, run_bytes_)) {
      out_ += *utf8;
    } else {
      out_ += v_.substr(run_start_, run_end_ - run_start_);
    }
    run_start_ = kNone;
    run_bytes_.clear();
  }

  std::string_view v_;
  std::string out_;
  std::size_t run_start_ = kNone;
  std::size_t run_end_ = 0;
  std::string_view run_charset_;
  std::string run_bytes_;
};

}  // namespace

std::string decode_encoded_words(std::string_view value) {
  const std::string v = unfold(value);
  return Decoder(v).run();
}

}  // namespace poshta::mime
