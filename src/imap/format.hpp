// Pieces of IMAP responses (RFC 9051 §4.3, §9): strings as quoted or as
// literals, NIL, dates, and LIST pattern matching (§6.3.9).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace poshta::imap {

// A string as IMAP sends it: quoted when it is short, 7-bit and free of
// CR/LF, otherwise a literal "{n}\r\n..." (literal8 "~{n}" not needed: only
// for BINARY).
// With `utf8` (IMAP4rev2, UTF8=ACCEPT), UTF-8 may be quoted too (RFC 9051 §4.3).
void append_string(std::string& out, std::string_view s, bool utf8 = false);
// NIL for nullopt.
void append_nstring(std::string& out, const std::optional<std::string_view>& s);
// INTERNALDATE: "26-Nov-2026 09:00:00 +0000".
std::string internal_date(std::int64_t unix_seconds);
// Whether `name` matches a LIST pattern, where "*" matches anything and "%"
// anything but the hierarchy delimiter `delimiter`.
bool list_match(std::string_view pattern, std::string_view name, char delimiter);

}  // namespace poshta::imap
