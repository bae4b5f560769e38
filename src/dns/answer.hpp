// dns answers: what an MX or address query means for mail delivery, as pure
// functions of c-ares' status and the raw answer (so they can be fuzzed and
// tested without a DNS server).
//
// RFC 5321 §5.1: MX hosts are tried in order of preference, in random order
// among equal preferences; a domain without MX records but with an address
// is its own implicit MX. RFC 7505: a single MX of preference 0 and host "."
// (null MX) says the domain takes no mail at all. NXDOMAIN is permanent;
// SERVFAIL, timeouts and refusals are temporary.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <vector>

namespace poshta::dns {

enum class Outcome : std::uint8_t {
  found,       // records in `hosts` / `addresses`
  no_records,  // the name exists but has none of the asked type
  no_domain,   // NXDOMAIN: permanent
  null_mx,     // RFC 7505: the domain accepts no mail: permanent
  temporary,   // SERVFAIL, timeout, refused, broken answer: try again later
};

struct MxRecord {
  std::uint16_t preference = 0;
  std::string host;  // lower case, no trailing dot
};

struct MxAnswer {
  Outcome outcome = Outcome::temporary;
  std::vector<MxRecord> hosts;  // ordered for delivery
  std::string error;            // for the log and the bounce, when not found
};

struct AddressAnswer {
  Outcome outcome = Outcome::temporary;
  std::vector<std::string> addresses;  // numeric, in the order given
  std::string error;
};

// `status` is the ARES_* status of the query, `answer` the DNS message.
MxAnswer mx_from_answer(int status, std::span<const unsigned char> answer, std::mt19937& random);
// `ipv6`: the answer is to an AAAA query, else to A.
AddressAnswer addresses_from_answer(int status, std::span<const unsigned char> answer, bool ipv6);

// Preference order, shuffled among equal preferences.
void order_by_preference(std::vector<MxRecord>& hosts, std::mt19937& random);

}  // namespace poshta::dns
