// Text in a MIME charset (RFC 2046 §4.1.2) converted to UTF-8, for RFC 2047
// encoded words and RFC 2231 parameter values. UTF-8, US-ASCII, ISO-8859-1
// and Windows-1252 are converted here; anything else goes through glibc's
// iconv.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace poshta::mime {

// nullopt when the charset is unknown or the bytes are not valid in it.
// The charset name is case-insensitive; an empty one means US-ASCII.
std::optional<std::string> to_utf8(std::string_view charset, std::string_view bytes);

bool is_valid_utf8(std::string_view s);

}  // namespace poshta::mime
