// smtp::Reply: a reply code, its enhanced status code (RFC 3463, sent on
// every reply but the greeting and HELO/EHLO, RFC 2034 §4) and the text.
#pragma once

#include <string>
#include <string_view>

namespace poshta::smtp {

struct Reply {
  int code = 0;
  std::string_view enhanced;  // "5.5.2"; empty for none. Always a literal.
  std::string text;           // lines separated by '\n' make a multi-line reply

  bool positive() const { return code >= 200 && code < 400; }
  bool permanent() const { return code >= 500; }
};

// Appends `reply` in wire form: "250-first\r\n250 last\r\n".
void append_reply(std::string& wire, const Reply& reply);

}  // namespace poshta::smtp
