// imap facts: what FETCH and SEARCH need of a message that only its content
// tells (ENVELOPE, BODYSTRUCTURE, the decoded address and subject fields,
// the Date: field's day), computed once per message and kept in the
// folder's store::MessageCache, with the file's INTERNALDATE, so a later
// FETCH ENVELOPE or SEARCH FROM reads no message file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/entity.hpp"

namespace poshta::imap {

// Indexes into message_facts(); kFactsSchema names this list in the cache
// file, so a change of it must change the name.
enum Fact : std::size_t {
  fact_envelope,        // "(...)" as FETCH ENVELOPE sends it
  fact_body_structure,  // FETCH BODYSTRUCTURE
  fact_body,            // FETCH BODY
  fact_internal_date,   // seconds since the epoch, decimal
  fact_from,            // decoded values of the field, one per line (SEARCH FROM ...)
  fact_to,
  fact_cc,
  fact_bcc,
  fact_subject,
  fact_sent_day,  // days since the epoch of the Date: field, decimal; empty without one
  fact_count,
};
inline constexpr std::string_view kFactsSchema = "imap1";

// `text`: the message with CRLF line ends; `root`: its structure.
std::vector<std::string> message_facts(std::string_view text, const mime::Entity& root, std::int64_t internal_date);

// The values of every field named `field` (any case) in the header, RFC
// 2047 words decoded, one per line: what SEARCH HEADER, FROM, ... match.
std::string decoded_field(std::string_view header, std::string_view field);

// Days since the epoch (floor), for SEARCH's date keys.
std::int64_t day_of(std::int64_t unix_seconds);
// The day of a Date: field ("Thu, 26 Nov 2026 09:00:00 +0000"), from its
// day, month and year as RFC 9051 §6.4.4 SENTON asks; nullopt if unreadable.
std::optional<std::int64_t> sent_day(std::string_view date);

}  // namespace poshta::imap
