#include "mime/envelope.hpp"

#include <iterator>
#include <utility>

#include "core/address.hpp"
#include "mime/field_value.hpp"
#include "mime/header.hpp"

namespace poshta::mime {

namespace {

using TextSlot = std::optional<std::string> Envelope::*;
using AddressSlot = std::vector<Address> Envelope::*;

constexpr std::pair<std::string_view, TextSlot> kTextFields[] = {
    {"date", &Envelope::date},
    {"subject", &Envelope::subject},
    {"in-reply-to", &Envelope::in_reply_to},
    {"message-id", &Envelope::message_id},
};

constexpr std::pair<std::string_view, AddressSlot> kAddressFields[] = {
    {"from", &Envelope::from}, {"sender", &Envelope::sender}, {"reply-to", &Envelope::reply_to},
    {"to", &Envelope::to},     {"cc", &Envelope::cc},         {"bcc", &Envelope::bcc},
};

}  // namespace

Envelope parse_envelope(std::string_view header) {
  Envelope env;
  bool seen[std::size(kAddressFields)] = {};  // an empty list may still have been there
  HeaderReader reader(header);
  while (auto f = reader.next()) {
    for (const auto& [name, slot] : kTextFields) {
      if (core::iequals(f->name, name) && !(env.*slot)) env.*slot = unfold(trim_whitespace(f->value));
    }
    for (std::size_t i = 0; i < std::size(kAddressFields); ++i) {
      const auto& [name, slot] = kAddressFields[i];
      if (core::iequals(f->name, name) && !seen[i]) {
        seen[i] = true;
        env.*slot = parse_address_list(f->value);
      }
    }
  }
  if (env.sender.empty()) env.sender = env.from;
  if (env.reply_to.empty()) env.reply_to = env.from;
  return env;
}

}  // namespace poshta::mime
