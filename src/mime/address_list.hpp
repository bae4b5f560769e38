// mime::addresses_in: the addr-specs of an RFC 5322 address-list (§3.4) as
// found in To, Cc and Bcc: display names, comments, quoted strings and
// groups are skipped, "Name <a@b>" gives a@b, a bare a@b gives itself.
// Lenient about what it cannot parse (it skips it): sendmail -t uses it on
// whatever a program wrote.
//
// mime::parse_address_list: the same list in full, as IMAP's ENVELOPE
// shows it (RFC 9051 §7.5.2); addresses_in is built on it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::mime {

std::vector<std::string> addresses_in(std::string_view value);

// One mailbox, or a group's start or end marker. nullopt is IMAP's NIL.
struct Address {
  std::optional<std::string> name;     // display name, unquoted, RFC 2047 words left encoded
  std::optional<std::string> adl;      // obsolete source route ("@a,@b", §4.4)
  std::optional<std::string> mailbox;  // local part as written (quotes kept); a group start: the group's name
  std::optional<std::string> host;     // domain; "" when missing; nullopt only for group markers
  bool is_group_start() const { return mailbox.has_value() && !host.has_value(); }
  bool is_group_end() const { return !mailbox.has_value() && !host.has_value(); }
  bool operator==(const Address&) const = default;
};

// Takes the raw (folded) field value. Without a display name, the first
// comment names the mailbox ("a@b (Ann)"), as mailers have long written
// it. An unterminated group is closed at the end.
std::vector<Address> parse_address_list(std::string_view value);

}  // namespace poshta::mime
