// IP networks in CIDR notation ("192.0.2.0/24", "2001:db8::/32", or a
// single address), for `trusted_networks`.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace poshta::core {

struct Network {
  std::array<std::uint8_t, 16> address{};  // IPv4 in the first 4 octets
  bool v6 = false;
  int prefix = 0;

  static std::optional<Network> parse(std::string_view cidr);
  // True if `ip` (a numeric address) lies in this network.
  bool contains(std::string_view ip) const;
  std::string text;  // as configured
};

// 127.0.0.0/8 or ::1.
bool is_loopback(std::string_view ip);

}  // namespace poshta::core
