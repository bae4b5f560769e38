// mime::parse_envelope: the fields of IMAP's ENVELOPE (RFC 9051 §7.5.2)
// from a message header. Values are raw, as IMAP wants them: unfolded and
// trimmed but not RFC 2047 decoded; the address fields are parsed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/address_list.hpp"

namespace poshta::mime {

// nullopt and empty lists are IMAP's NIL. Where a field occurs more than
// once the first counts.
struct Envelope {
  std::optional<std::string> date;
  std::optional<std::string> subject;
  std::vector<Address> from;
  std::vector<Address> sender;    // From when absent or empty (§7.5.2)
  std::vector<Address> reply_to;  // From when absent or empty (§7.5.2)
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> bcc;
  std::optional<std::string> in_reply_to;
  std::optional<std::string> message_id;
};

// `header` is a message's header (Entity::header of the message or of an
// embedded one); reading stops at the empty line, so the whole message
// will do as well.
Envelope parse_envelope(std::string_view header);

}  // namespace poshta::mime
