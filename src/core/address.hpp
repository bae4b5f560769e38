// Small helpers for mail addresses and domain names shared by every module:
// case folding, splitting local@domain, and domain syntax (RFC 5321 §4.1.2).
#pragma once

#include <string>
#include <string_view>

namespace poshta::core {

std::string to_lower(std::string_view s);  // ASCII letters only
std::string to_upper(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// RFC 5321 Domain: LDH labels of at most 63 octets, at most 255 in all.
// Octets >= 0x80 are allowed in a label when `utf8` is set (RFC 6531 U-labels).
bool is_valid_domain(std::string_view s, bool utf8 = false);
bool is_ip_address(std::string_view s);

struct AddressParts {
  std::string_view local;
  std::string_view domain;
};
// Splits at the last '@'; domain is empty when there is none.
AddressParts split_address(std::string_view address);

// The canonical form used for lookups and mailbox paths: the domain in lower
// case, and the local part in lower case too (Poshta's local parts are
// case-insensitive, as Postfix's and Dovecot's are by default).
std::string canonical_address(std::string_view address);

}  // namespace poshta::core
