#include "imap/facts.hpp"

#include <cstdio>
#include <ctime>

#include "core/address.hpp"
#include "imap/fetch.hpp"
#include "mime/encoded_word.hpp"
#include "mime/envelope.hpp"
#include "mime/header.hpp"

namespace poshta::imap {

std::vector<std::string> message_facts(std::string_view text, const mime::Entity& root, std::int64_t internal_date) {
  std::vector<std::string> facts(fact_count);
  const std::string_view header = root.header.of(text);
  const mime::Envelope envelope = mime::parse_envelope(header);
  append_envelope(facts[fact_envelope], envelope);
  append_body_structure(facts[fact_body_structure], text, root, true);
  append_body_structure(facts[fact_body], text, root, false);
  facts[fact_internal_date] = std::to_string(internal_date);
  // One pass over the header for the fields SEARCH has keys of.
  static constexpr std::pair<std::string_view, Fact> kSearched[] = {
      {"from", fact_from}, {"to", fact_to}, {"cc", fact_cc}, {"bcc", fact_bcc}, {"subject", fact_subject}};
  mime::HeaderReader reader(header);
  while (auto h = reader.next()) {
    for (const auto& [name, fact] : kSearched) {
      if (core::iequals(h->name, name)) {
        facts[fact] += mime::decode_encoded_words(h->value);
        facts[fact] += '\n';
      }
    }
  }
  if (envelope.date) {
    if (const auto day = sent_day(*envelope.date)) facts[fact_sent_day] = std::to_string(*day);
  }
  return facts;
}

std::string decoded_field(std::string_view header, std::string_view field) {
  std::string all;
  mime::HeaderReader reader(header);
  while (auto h = reader.next()) {
    if (core::iequals(h->name, field)) {
      all += mime::decode_encoded_words(h->value);
      all += '\n';
    }
  }
  return all;
}

std::int64_t day_of(std::int64_t unix_seconds) {
  return unix_seconds >= 0 ? unix_seconds / 86400 : (unix_seconds - 86399) / 86400;
}

std::optional<std::int64_t> sent_day(std::string_view date) {
  static constexpr const char* kMonths[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                            "jul", "aug", "sep", "oct", "nov", "dec"};
  const auto comma = date.find(',');
  if (comma != std::string_view::npos) date.remove_prefix(comma + 1);
  int day = 0, year = 0;
  char mon[4] = {};
  if (std::sscanf(std::string(date).c_str(), " %d %3s %d", &day, mon, &year) != 3) return std::nullopt;
  for (int i = 0; i < 12; ++i) {
    if (core::iequals(mon, kMonths[i])) {
      if (year < 100) year += year < 50 ? 2000 : 1900;  // RFC 5322 §4.3 obsolete years
      std::tm tm{};
      tm.tm_year = year - 1900;
      tm.tm_mon = i;
      tm.tm_mday = day;
      return day_of(static_cast<std::int64_t>(::timegm(&tm)));
    }
  }
  return std::nullopt;
}

}  // namespace poshta::imap
