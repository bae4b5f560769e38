// DATA framing: whatever the bytes and however they are split, the framer
// never reads out of bounds, never keeps more than its limit, and finds the
// same end whether fed at once or in two pieces.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "smtp/data_framer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using poshta::smtp::DataFramer;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  for (auto mode : {DataFramer::Mode::dot_terminated, DataFramer::Mode::counted}) {
    DataFramer whole(mode, 4096);
    std::string body_whole;
    const std::size_t used_whole = whole.feed(in, body_whole);

    DataFramer split(mode, 4096);
    std::string body_split;
    const std::size_t cut = size / 2;
    std::size_t used_split = split.feed(in.substr(0, cut), body_split);
    if (!split.done()) used_split += split.feed(in.substr(used_split), body_split);

    if (used_whole != used_split || body_whole != body_split || whole.done() != split.done() ||
        whole.bare_line_end() != split.bare_line_end() || body_whole.size() > 4096) {
      std::abort();
    }
  }
  return 0;
}
