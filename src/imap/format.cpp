#include "imap/format.hpp"

#include "mime/charset.hpp"

#include <cstdio>
#include <ctime>
#include <vector>

namespace poshta::imap {

void append_string(std::string& out, std::string_view s, bool utf8) {
  bool quotable = s.size() <= 1024 && (!utf8 || mime::is_valid_utf8(s));
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || (u >= 0x80 && !utf8)) {
      quotable = false;
      break;
    }
  }
  if (!quotable) {
    out += '{';
    out += std::to_string(s.size());
    out += "}\r\n";
    out += s;
    return;
  }
  out += '"';
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void append_nstring(std::string& out, const std::optional<std::string_view>& s) {
  if (!s)
    out += "NIL";
  else
    append_string(out, *s);
}

std::string internal_date(std::int64_t unix_seconds) {
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const auto t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

bool list_match(std::string_view pattern, std::string_view name, char delimiter) {
  // Iterative wildcard matching with backtracking to the last wildcard;
  // "%" may not swallow the delimiter, and when it would have to, back to
  // the last "*" before it. Linear in practice for LIST patterns.
  std::size_t p = 0, n = 0;
  std::size_t star_p = std::string_view::npos, star_n = 0;
  std::size_t any_p = std::string_view::npos, any_n = 0;  // the last "*"
  bool star_is_percent = false;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '*' || pattern[p] == '%')) {
      star_is_percent = pattern[p] == '%';
      star_p = p++;
      star_n = n;
      if (!star_is_percent) {
        any_p = star_p;
        any_n = n;
      }
    } else if (p < pattern.size() && pattern[p] == name[n]) {
      ++p;
      ++n;
    } else if (star_p != std::string_view::npos && !(star_is_percent && name[star_n] == delimiter)) {
      p = star_p + 1;
      n = ++star_n;
    } else if (any_p != std::string_view::npos) {
      star_p = any_p;
      star_is_percent = false;
      p = any_p + 1;
      n = star_n = ++any_n;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && (pattern[p] == '*' || pattern[p] == '%')) ++p;
  return p == pattern.size();
}

}  // namespace poshta::imap
