#include "dns/answer.hpp"

#include <ares.h>
#include <arpa/inet.h>

#include <algorithm>

namespace poshta::dns {

namespace {

std::string lower_without_dot(const char* name) {
  std::string s(name ? name : "");
  while (!s.empty() && s.back() == '.') s.pop_back();
  for (auto& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

// What a failed query status means.
Outcome outcome_of(int status) {
  switch (status) {
    case ARES_ENODATA: return Outcome::no_records;
    case ARES_ENOTFOUND: return Outcome::no_domain;
    default: return Outcome::temporary;
  }
}

}  // namespace

void order_by_preference(std::vector<MxRecord>& hosts, std::mt19937& random) {
  std::shuffle(hosts.begin(), hosts.end(), random);
  std::stable_sort(hosts.begin(), hosts.end(),
                   [](const MxRecord& a, const MxRecord& b) { return a.preference < b.preference; });
}

MxAnswer mx_from_answer(int status, std::span<const unsigned char> answer, std::mt19937& random) {
  MxAnswer out;
  if (status == ARES_SUCCESS) {
    ares_mx_reply* replies = nullptr;
    status = ares_parse_mx_reply(answer.data(), static_cast<int>(answer.size()), &replies);
    if (status == ARES_SUCCESS) {
      bool null_mx = false;
      for (auto* r = replies; r; r = r->next) {
        std::string host = lower_without_dot(r->host);
        if (host.empty()) {  // "." : RFC 7505 null MX
          null_mx = true;
          continue;
        }
        out.hosts.push_back({r->priority, std::move(host)});
      }
      ares_free_data(replies);
      // A null MX beside real ones is a misconfiguration; the real ones win.
      if (out.hosts.empty() && null_mx) {
        out.outcome = Outcome::null_mx;
        out.error = "the domain accepts no mail (null MX, RFC 7505)";
        return out;
      }
      order_by_preference(out.hosts, random);
      out.outcome = out.hosts.empty() ? Outcome::no_records : Outcome::found;
      return out;
    }
  }
  out.outcome = outcome_of(status);
  out.error = ares_strerror(status);
  return out;
}

AddressAnswer addresses_from_answer(int status, std::span<const unsigned char> answer, bool ipv6) {
  AddressAnswer out;
  if (status == ARES_SUCCESS) {
    constexpr int kMax = 32;
    char text[INET6_ADDRSTRLEN];
    int count = kMax;
    if (ipv6) {
      ares_addr6ttl ttls[kMax];
      status = ares_parse_aaaa_reply(answer.data(), static_cast<int>(answer.size()), nullptr, ttls, &count);
      for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
        if (::inet_ntop(AF_INET6, &ttls[i].ip6addr, text, sizeof text)) out.addresses.emplace_back(text);
      }
    } else {
      ares_addrttl ttls[kMax];
      status = ares_parse_a_reply(answer.data(), static_cast<int>(answer.size()), nullptr, ttls, &count);
      for (int i = 0; status == ARES_SUCCESS && i < count; ++i) {
        if (::inet_ntop(AF_INET, &ttls[i].ipaddr, text, sizeof text)) out.addresses.emplace_back(text);
      }
    }
    if (status == ARES_SUCCESS) {
      out.outcome = out.addresses.empty() ? Outcome::no_records : Outcome::found;
      if (out.addresses.empty()) out.error = ipv6 ? "no AAAA record" : "no A record";
      return out;
    }
  }
  out.outcome = outcome_of(status);
  out.error = ares_strerror(status);
  return out;
}

}  // namespace poshta::dns
