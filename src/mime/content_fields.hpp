// The values of the MIME content header fields: Content-Type (RFC 2045
// §5.1), Content-Transfer-Encoding (§6.1), Content-Disposition (RFC 2183)
// and Content-Language (RFC 3282). Each takes the raw (folded) value as
// mime::HeaderReader returns it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/parameters.hpp"

namespace poshta::mime {

struct ContentType {
  std::string type;     // lower case
  std::string subtype;  // lower case
  std::vector<Parameter> params;
};

// nullopt unless the value starts with type "/" subtype; RFC 2045 §5.2 then
// has the entity treated as if the field were absent.
std::optional<ContentType> parse_content_type(std::string_view value);

struct ContentDisposition {
  std::string type;  // lower case: "inline", "attachment", ...
  std::vector<Parameter> params;
};

// nullopt when there is no disposition type.
std::optional<ContentDisposition> parse_content_disposition(std::string_view value);

// The mechanism in lower case; "7bit" (the §6.1 default) when there is none.
std::string parse_transfer_encoding(std::string_view value);

// The language tags, as views into `value`; comments are skipped.
std::vector<std::string_view> parse_content_language(std::string_view value);

}  // namespace poshta::mime
