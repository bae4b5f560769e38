// The spool's envelope format: parsing arbitrary (e.g. truncated) files never
// crashes, and whatever parses serializes back to something that parses to
// the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "queue/envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto env = poshta::queue::parse_envelope(in);
  if (!env) return 0;
  const std::string once = poshta::queue::serialize_envelope(*env);
  auto again = poshta::queue::parse_envelope(once);
  if (!again || poshta::queue::serialize_envelope(*again) != once) std::abort();
  return 0;
}
