// IMAP's modified UTF-7 (RFC 3501 §5.1.3), the form of mailbox names on the
// wire for IMAP4rev1 clients and on disk in a Maildir++ tree (as Dovecot
// stores them): printable US-ASCII stands for itself except '&', written
// "&-"; everything else is UTF-16 in BASE64 with ',' for '/', between '&'
// and '-'.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace poshta::store {

// The UTF-8 form of a modified UTF-7 name; nullopt unless `mutf7` is in the
// one form RFC 3501 allows: no octet outside 0x20-0x7e, every shift closed by
// '-', no BASE64 for a printable US-ASCII character, no superfluous shift
// ("&U,BTFw-&ZeVnLIqe-"), no nonzero or excess padding bits, no unpaired
// UTF-16 surrogate.
std::optional<std::string> mutf7_to_utf8(std::string_view mutf7);

// The modified UTF-7 form of a UTF-8 name. Octets that are not well-formed
// UTF-8 (overlong forms, surrogates, beyond U+10FFFF, cut short) become
// U+FFFD each, so mutf7_to_utf8(utf8_to_mutf7(s)) == s exactly when `s` is
// well-formed UTF-8.
std::string utf8_to_mutf7(std::string_view utf8);

}  // namespace poshta::store
