// Raw header field values as mime::HeaderReader returns them (folded, with
// the whitespace after the colon still in front): trimming and RFC 5322
// §2.2.3 unfolding.
#pragma once

#include <string>
#include <string_view>

namespace poshta::mime {

// Without leading and trailing SP, HT, CR and LF; still a view of the input.
std::string_view trim_whitespace(std::string_view value);

// §2.2.3: "simply removing any CRLF that is immediately followed by WSP".
// Inside a field value every CR and LF is such a fold, so all of them go.
std::string unfold(std::string_view value);

}  // namespace poshta::mime
