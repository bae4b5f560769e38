#include "mime/content_fields.hpp"

#include "core/address.hpp"
#include "mime/field_value.hpp"
#include "mime/lexer.hpp"

namespace poshta::mime {

std::optional<ContentType> parse_content_type(std::string_view value) {
  const std::string v = unfold(value);
  std::size_t i = 0;
  lex::skip_cfws(v, i);
  const std::string_view type = lex::token(v, i);
  lex::skip_cfws(v, i);
  if (type.empty() || i >= v.size() || v[i] != '/') return std::nullopt;
  ++i;
  lex::skip_cfws(v, i);
  const std::string_view subtype = lex::token(v, i);
  if (subtype.empty()) return std::nullopt;
  return ContentType{core::to_lower(type), core::to_lower(subtype), parse_parameters(std::string_view(v).substr(i))};
}

std::optional<ContentDisposition> parse_content_disposition(std::string_view value) {
  const std::string v = unfold(value);
  std::size_t i = 0;
  lex::skip_cfws(v, i);
  const std::string_view type = lex::token(v, i);
  if (type.empty()) return std::nullopt;
  return ContentDisposition{core::to_lower(type), parse_parameters(std::string_view(v).substr(i))};
}

std::string parse_transfer_encoding(std::string_view value) {
  const std::string v = unfold(value);
  std::size_t i = 0;
  lex::skip_cfws(v, i);
  const std::string_view mechanism = lex::token(v, i);
  return mechanism.empty() ? std::string("7bit") : core::to_lower(mechanism);
}

std::vector<std::string_view> parse_content_language(std::string_view value) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < value.size()) {
    lex::skip_cfws(value, i);
    const std::size_t start = i;
    while (i < value.size() && value[i] != ',' && value[i] != '(' && value[i] != ' ' && value[i] != '\t' &&
           value[i] != '\r' && value[i] != '\n')
      ++i;
    if (i > start) out.push_back(value.substr(start, i - start));
    if (i < value.size() && value[i] != '(') ++i;  // past the ',' or the whitespace
  }
  return out;
}

}  // namespace poshta::mime
