#include "store/mutf7.hpp"

#include <cstdint>
#include <vector>

namespace poshta::store {

namespace {

constexpr std::string_view kBase64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == ',') return 63;
  return -1;
}

bool is_printable(char32_t c) {
  return c >= 0x20 && c <= 0x7e;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The code point at s[i], advancing i past it; U+FFFD (advancing one octet)
// for anything that is not well-formed UTF-8 (RFC 3629 §4).
char32_t next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  std::size_t len = 0;
  char32_t cp = 0, min = 0;
  if (b0 < 0x80) {
    ++i;
    return b0;
  } else if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return 0xFFFD;
  }
  if (i + len > s.size()) {
    ++i;
    return 0xFFFD;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return 0xFFFD;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return 0xFFFD;
  }
  i += len;
  return cp;
}

// '&', the UTF-16BE of `units` in modified BASE64, '-'.
void append_shifted(std::string& out, const std::vector<char16_t>& units) {
  out += '&';
  std::uint32_t bits = 0;
  int count = 0;
  for (char16_t u : units) {
    bits = (bits << 16) | u;
    count += 16;
    while (count >= 6) {
      count -= 6;
      out += kBase64[(bits >> count) & 0x3F];
    }
    bits &= (1u << count) - 1;
  }
  if (count > 0) out += kBase64[(bits << (6 - count)) & 0x3F];
  out += '-';
}

}  // namespace

std::optional<std::string> mutf7_to_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  bool after_shift = false;  // the previous octets were a BASE64 run
  std::size_t i = 0;
  while (i < in.size()) {
    const char c = in[i];
    if (!is_printable(static_cast<unsigned char>(c))) return std::nullopt;
    if (c != '&') {
      out += c;
      after_shift = false;
      ++i;
      continue;
    }
    const auto end = in.find('-', i + 1);
    if (end == std::string_view::npos) return std::nullopt;  // no shift back to US-ASCII
    if (end == i + 1) {
      out += '&';
      after_shift = false;
      i = end + 1;
      continue;
    }
    if (after_shift) return std::nullopt;  // "&...-&...-": one run must say it
    std::uint32_t bits = 0;
    int count = 0;
    char16_t high = 0;  // a high surrogate waiting for its low half
    for (std::size_t k = i + 1; k < end; ++k) {
      const int v = base64_value(in[k]);
      if (v < 0) return std::nullopt;
      bits = (bits << 6) | static_cast<std::uint32_t>(v);
      count += 6;
      if (count < 16) continue;
      count -= 16;
      const auto unit = static_cast<char16_t>((bits >> count) & 0xFFFF);
      bits &= (1u << count) - 1;
      if (high != 0) {
        if (unit < 0xDC00 || unit > 0xDFFF) return std::nullopt;
        append_utf8(out, 0x10000 + ((static_cast<char32_t>(high) - 0xD800) << 10) + (unit - 0xDC00));
        high = 0;
      } else if (unit >= 0xD800 && unit <= 0xDBFF) {
        high = unit;
      } else if (unit >= 0xDC00 && unit <= 0xDFFF) {
        return std::nullopt;
      } else if (is_printable(unit)) {
        return std::nullopt;  // must stand for itself
      } else {
        append_utf8(out, unit);
      }
    }
    // Padding: fewer than 6 bits, all zero; a whole character at least.
    if (high != 0 || count >= 6 || bits != 0) return std::nullopt;
    after_shift = true;
    i = end + 1;
  }
  return out;
}

std::string utf8_to_mutf7(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::vector<char16_t> run;  // UTF-16 of the characters not yet written
  std::size_t i = 0;
  while (i < in.size()) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (is_printable(c)) {
      if (!run.empty()) {
        append_shifted(out, run);
        run.clear();
      }
      out += c == '&' ? std::string_view("&-") : std::string_view(in.data() + i, 1);
      ++i;
      continue;
    }
    const char32_t cp = next_code_point(in, i);
    if (cp >= 0x10000) {
      run.push_back(static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10)));
      run.push_back(static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF)));
    } else {
      run.push_back(static_cast<char16_t>(cp));
    }
  }
  if (!run.empty()) append_shifted(out, run);
  return out;
}

}  // namespace poshta::store
