#include "core/network.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace poshta::core {

namespace {

bool to_bytes(std::string_view ip, std::array<std::uint8_t, 16>& out, bool& v6) {
  const std::string z(ip);
  out.fill(0);
  if (::inet_pton(AF_INET, z.c_str(), out.data()) == 1) {
    v6 = false;
    return true;
  }
  if (::inet_pton(AF_INET6, z.c_str(), out.data()) == 1) {
    v6 = true;
    return true;
  }
  return false;
}

}  // namespace

std::optional<Network> Network::parse(std::string_view cidr) {
  Network n;
  n.text = std::string(cidr);
  const auto slash = cidr.find('/');
  if (!to_bytes(cidr.substr(0, slash), n.address, n.v6)) return std::nullopt;
  const int max = n.v6 ? 128 : 32;
  n.prefix = max;
  if (slash != std::string_view::npos) {
    const std::string_view p = cidr.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), n.prefix);
    if (p.empty() || ec != std::errc{} || end != p.data() + p.size() || n.prefix < 0 || n.prefix > max) {
      return std::nullopt;
    }
  }
  return n;
}

bool Network::contains(std::string_view ip) const {
  std::array<std::uint8_t, 16> a{};
  bool is_v6 = false;
  if (!to_bytes(ip, a, is_v6) || is_v6 != v6) return false;
  const int full = prefix / 8;
  if (std::memcmp(a.data(), address.data(), static_cast<std::size_t>(full)) != 0) return false;
  const int rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[static_cast<std::size_t>(full)] & mask) == (address[static_cast<std::size_t>(full)] & mask);
}

bool is_loopback(std::string_view ip) {
  // Connection addresses are reported with v4-mapped IPv6 already unmapped.
  static const Network v4 = *Network::parse("127.0.0.0/8");
  static const Network v6 = *Network::parse("::1");
  return v4.contains(ip) || v6.contains(ip);
}

}  // namespace poshta::core
