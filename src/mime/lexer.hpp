// The lexical pieces of structured MIME header values: CFWS (RFC 5322
// §3.2.2), quoted-string (§3.2.4) and token (RFC 2045 §5.1). Each works on
// an unfolded value and advances a position; none of them fails: what is
// not there is simply not consumed.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace poshta::mime::lex {

// Whitespace and comments, which may nest; an unclosed comment runs to the end.
void skip_cfws(std::string_view s, std::size_t& i);

// The content of the comment that starts at s[i] ('('), without its
// parentheses, with quoted-pairs resolved; i moves past it.
std::string comment(std::string_view s, std::size_t& i);

// The content of the quoted-string that starts at s[i] ('"'), with
// quoted-pairs resolved; an unclosed one runs to the end.
std::string quoted_string(std::string_view s, std::size_t& i);

// RFC 2045 token: printable US-ASCII except tspecials. Octets above 127
// are let in too (RFC 6532 headers, and mailers that never read RFC 2045).
std::string_view token(std::string_view s, std::size_t& i);

// The value of a hex digit (either case), or -1: for %XX and =XX escapes.
int hex_value(char c);

}  // namespace poshta::mime::lex
