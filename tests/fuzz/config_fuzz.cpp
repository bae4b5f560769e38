// The configuration loader: any text yields a config or a list of problems,
// never a crash or an escaping exception.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  auto loaded = poshta::core::load_config_text(in, "fuzz.toml");
  (void)loaded.ok();
  return 0;
}
