// imap FETCH data from a message's MIME structure (RFC 9051 §7.5.2):
// ENVELOPE, BODYSTRUCTURE and BODY, and the octets of BODY[section].
#pragma once

#include <string>
#include <string_view>

#include "imap/command.hpp"
#include "mime/entity.hpp"
#include "mime/envelope.hpp"

namespace poshta::imap {

void append_envelope(std::string& out, const mime::Envelope& envelope);
// BODYSTRUCTURE when `extensible`, else BODY.
void append_body_structure(std::string& out, std::string_view message, const mime::Entity& entity, bool extensible);
// The octets BODY[section] names (before any <partial>); nullopt when the
// section does not exist (the response then gives an empty string).
std::string section_octets(std::string_view message, const mime::Entity& root, const FetchItem& item);
// The response's name for the item: "BODY[1.HEADER.FIELDS (SUBJECT)]<0>".
std::string section_label(const FetchItem& item);
// <origin.count> applied.
std::string_view partial(std::string_view octets, const FetchItem& item);

}  // namespace poshta::imap
