#include "core/duration.hpp"

#include <charconv>

namespace poshta::core {

std::optional<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.size() < 2) return std::nullopt;
  long long n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc{} || end != text.data() + text.size() - 1 || n < 0) return std::nullopt;
  long long unit = 0;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  if (n > (1LL << 40) / unit) return std::nullopt;
  return std::chrono::seconds(n * unit);
}

}  // namespace poshta::core
