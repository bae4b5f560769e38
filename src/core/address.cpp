#include "core/address.hpp"

#include <arpa/inet.h>

#include <algorithm>

namespace poshta::core {

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string to_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
           return lower(x) == lower(y);
         });
}

bool is_valid_domain(std::string_view s, bool utf8) {
  if (s.empty() || s.size() > 255) return false;
  std::size_t label = 0;
  char prev = '.';
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '.') {
      if (label == 0 || prev == '-') return false;
      label = 0;
    } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || (utf8 && u >= 0x80)) {
      if (++label > 63) return false;
    } else if (c == '-') {
      if (label == 0) return false;
      ++label;
    } else {
      return false;
    }
    prev = c;
  }
  return label > 0 && prev != '-';
}

bool is_ip_address(std::string_view s) {
  std::string z(s);
  unsigned char buf[16];
  return ::inet_pton(AF_INET, z.c_str(), buf) == 1 || ::inet_pton(AF_INET6, z.c_str(), buf) == 1;
}

AddressParts split_address(std::string_view address) {
  const auto at = address.rfind('@');
  if (at == std::string_view::npos) return {address, {}};
  return {address.substr(0, at), address.substr(at + 1)};
}

std::string canonical_address(std::string_view address) {
  return to_lower(address);
}

}  // namespace poshta::core
