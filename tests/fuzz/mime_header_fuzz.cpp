// The header walker: fields it returns lie inside the input, in order, and it
// always terminates.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "mime/header.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  poshta::mime::HeaderReader reader(in);
  const char* last = in.data();
  while (auto f = reader.next()) {
    if (f->name.data() < last || f->value.data() + f->value.size() > in.data() + in.size()) std::abort();
    last = f->name.data();
  }
  if (reader.consumed() > size) std::abort();
  (void)poshta::mime::count_fields(in, "Received");
  return 0;
}
