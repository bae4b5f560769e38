// Durations in configuration: "30s", "5m", "1h", "5d".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace poshta::core {

std::optional<std::chrono::seconds> parse_duration(std::string_view text);

}  // namespace poshta::core
