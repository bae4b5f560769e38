// mime::HeaderReader: zero-copy walk over the header fields of an RFC 5322
// message (§2.2), as far as the MTA needs it today: field names and their
// unfolded extent. It accepts CRLF or LF line ends and stops at the first
// empty line; a line that is neither a field nor a continuation ends the
// header too (the rest is treated as body, as most MTAs do).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace poshta::mime {

struct HeaderField {
  std::string_view name;   // as written, without the colon
  std::string_view value;  // raw, folded, without the final line end
};

class HeaderReader {
 public:
  explicit HeaderReader(std::string_view message) : rest_(message) {}
  std::optional<HeaderField> next();
  // Offset of the body in the message once next() has returned nullopt.
  std::size_t consumed() const { return consumed_; }

 private:
  std::string_view rest_;
  std::size_t consumed_ = 0;
};

// Number of fields named `name` (case-insensitive) in the header.
std::size_t count_fields(std::string_view message, std::string_view name);

}  // namespace poshta::mime
