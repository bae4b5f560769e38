// RFC 2047 encoded words ("=?charset?B|Q?text?=") in a header field value,
// decoded to UTF-8 for SEARCH and display. Lenient as readers must be:
// words are recognised anywhere, not only where §5 allows them, and a
// charset may carry an RFC 2231 §5 language ("utf-8*en").
#pragma once

#include <string>
#include <string_view>

namespace poshta::mime {

// The raw (folded) value, unfolded, with its encoded words decoded. White
// space between two encoded words is dropped (§6.2); adjacent words in one
// charset are converted together, so a character split across them
// survives. A word that cannot be decoded (unknown charset, bad base64,
// bytes invalid in the charset) stays as written; text outside encoded
// words is passed through unchanged.
std::string decode_encoded_words(std::string_view value);

}  // namespace poshta::mime
