// MIME parameter lists (RFC 2045 §5.1, `*(";" parameter)`) with RFC 2231:
// continuations (name*0, name*1, ...) are joined, and charset'language'%XX
// values are decoded to UTF-8. Names are lower-cased (they are
// case-insensitive); values are unquoted and decoded, so they are copies.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace poshta::mime {

struct Parameter {
  std::string name;
  std::string value;
  bool operator==(const Parameter&) const = default;
};

// `list` is what follows the type (or disposition type): "; a=b; c="d"".
// Lenient: a parameter without '=' or with junk after its value is skipped
// up to the next ';'. An extended value whose charset cannot be converted
// stays as written, under its extended name ("title*" =
// "iso-2022-kr'ko'%0E..."), with its continuations joined. Where a plain
// and an extended value share a name, the decoded extended one wins.
std::vector<Parameter> parse_parameters(std::string_view list);

// The value of the first parameter named `name` (lower case), or nullptr.
const std::string* find_parameter(const std::vector<Parameter>& params, std::string_view name);

}  // namespace poshta::mime
