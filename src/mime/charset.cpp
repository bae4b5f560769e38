#include "mime/charset.hpp"

#include <iconv.h>

#include <cerrno>
#include <cstdint>

#include "core/address.hpp"

namespace poshta::mime {

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Windows-1252's 0x80..0x9F; the five holes keep their C1 code points, as
// the WHATWG Encoding Standard maps them.
constexpr std::uint16_t kCp1252High[32] = {0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
                                           0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
                                           0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
                                           0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178};

std::string from_cp1252(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() + bytes.size() / 2);
  for (const char c : bytes) {
    const auto u = static_cast<unsigned char>(c);
    append_utf8(out, u >= 0x80 && u < 0xA0 ? kCp1252High[u - 0x80] : u);
  }
  return out;
}

// iconv is handed only plain charset names: no "//" suffixes, no paths.
bool is_plain_charset_name(std::string_view name) {
  if (name.empty() || name.size() > 40) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == ':';
    if (!ok) return false;
  }
  return true;
}

std::optional<std::string> with_iconv(const std::string& charset, std::string_view bytes) {
  iconv_t cd = ::iconv_open("UTF-8", charset.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) return std::nullopt;
  std::string out(bytes.size() * 2 + 16, '\0');
  char* in = const_cast<char*>(bytes.data());
  std::size_t in_left = bytes.size();
  std::size_t done = 0;
  bool flushing = bytes.empty();  // the last call, without input, ends any shift state
  bool ok = true;
  for (;;) {
    char* to = out.data() + done;
    std::size_t to_left = out.size() - done;
    const std::size_t r =
        flushing ? ::iconv(cd, nullptr, nullptr, &to, &to_left) : ::iconv(cd, &in, &in_left, &to, &to_left);
    done = out.size() - to_left;
    if (r == static_cast<std::size_t>(-1)) {
      if (errno != E2BIG) {  // EILSEQ, EINVAL: not valid in this charset
        ok = false;
        break;
      }
      out.resize(out.size() * 2);
      continue;
    }
    if (flushing) break;
    flushing = true;
  }
  ::iconv_close(cd);
  if (!ok) return std::nullopt;
  out.resize(done);
  return out;
}

}  // namespace

bool is_valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3, cp = c & 0x07;
    } else {
      return false;
    }
    if (i + n >= s.size()) return false;
    for (std::size_t k = 1; k <= n; ++k) {
      const auto d = static_cast<unsigned char>(s[i + k]);
      if ((d & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)
      return false;
    i += n + 1;
  }
  return true;
}

std::optional<std::string> to_utf8(std::string_view charset, std::string_view bytes) {
  std::string name = core::to_lower(charset);
  // US-ASCII text with 8-bit octets is nearly always UTF-8 mislabelled.
  if (name.empty() || name == "us-ascii" || name == "ascii" || name == "utf-8" || name == "utf8") {
    if (!is_valid_utf8(bytes)) return std::nullopt;
    return std::string(bytes);
  }
  // ISO-8859-1 as Windows-1252: the C1 controls it differs in are never
  // meant, and mailers label Windows-1252 text as ISO-8859-1 all the time.
  if (name == "iso-8859-1" || name == "iso8859-1" || name == "iso_8859-1" || name == "latin1" || name == "l1" ||
      name == "windows-1252" || name == "cp1252" || name == "x-cp1252") {
    return from_cp1252(bytes);
  }
  if (!is_plain_charset_name(name)) return std::nullopt;
  return with_iconv(name, bytes);
}

}  // namespace poshta::mime
