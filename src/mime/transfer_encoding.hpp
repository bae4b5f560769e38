// Content-Transfer-Encoding (RFC 2045 §6) undone, for IMAP's BINARY (RFC
// 3516): base64 and quoted-printable decoded, 7bit/8bit/binary as they are.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace poshta::mime {

// nullopt for an encoding this does not know (IMAP: NO [UNKNOWN-CTE]).
// Decoding is lenient as RFC 2045 asks of readers: characters outside the
// base64 alphabet are ignored, a malformed "=" in quoted-printable is kept.
std::optional<std::string> decode_transfer_encoding(std::string_view body, std::string_view encoding);

}  // namespace poshta::mime
