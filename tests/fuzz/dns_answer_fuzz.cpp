// DNS answers as c-ares hands them over: any bytes, read as the answer to an
// MX, an A and an AAAA query. Nothing may crash, and what is found must be
// usable: MX hosts non-empty, lower case, without a trailing dot and in
// preference order; addresses numeric, of the family asked, at most 32.
#include <ares.h>
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <span>

#include "dns/answer.hpp"

namespace {

void check_addresses(const poshta::dns::AddressAnswer& answer, bool ipv6) {
  using poshta::dns::Outcome;
  if (answer.outcome == Outcome::found && answer.addresses.empty()) std::abort();
  if (answer.outcome != Outcome::found && !answer.addresses.empty()) std::abort();
  if (answer.outcome == Outcome::temporary && answer.error.empty()) std::abort();
  if (answer.outcome == Outcome::null_mx) std::abort();
  if (answer.addresses.size() > 32) std::abort();
  unsigned char buffer[16];
  for (const auto& a : answer.addresses) {
    if (::inet_pton(ipv6 ? AF_INET6 : AF_INET, a.c_str(), buffer) != 1) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using poshta::dns::Outcome;
  const std::span<const unsigned char> answer(data, size);
  std::mt19937 random(static_cast<std::uint32_t>(size));

  const poshta::dns::MxAnswer mx = poshta::dns::mx_from_answer(ARES_SUCCESS, answer, random);
  if (mx.outcome == Outcome::found) {
    if (mx.hosts.empty()) std::abort();
    for (std::size_t i = 0; i < mx.hosts.size(); ++i) {
      const std::string& host = mx.hosts[i].host;
      if (host.empty() || host.back() == '.') std::abort();
      for (char c : host) {
        if (c >= 'A' && c <= 'Z') std::abort();
      }
      if (i > 0 && mx.hosts[i - 1].preference > mx.hosts[i].preference) std::abort();
    }
  } else {
    if (!mx.hosts.empty()) std::abort();
    if ((mx.outcome == Outcome::temporary || mx.outcome == Outcome::null_mx) && mx.error.empty()) std::abort();
  }

  check_addresses(poshta::dns::addresses_from_answer(ARES_SUCCESS, answer, false), false);
  check_addresses(poshta::dns::addresses_from_answer(ARES_SUCCESS, answer, true), true);
  return 0;
}
