// dns/answer: what c-ares' status and the raw DNS message of an MX, A or
// AAAA query mean for delivery. The messages are written by hand here (no
// name compression), as a resolver would receive them.
#include "dns/answer.hpp"

#include <ares.h>
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::dns {
namespace {

constexpr std::uint16_t kA = 1, kCname = 5, kMx = 15, kAaaa = 28;

using Bytes = std::vector<unsigned char>;

void put16(Bytes& b, std::uint16_t v) {
  b.push_back(static_cast<unsigned char>(v >> 8));
  b.push_back(static_cast<unsigned char>(v & 0xff));
}

void put32(Bytes& b, std::uint32_t v) {
  put16(b, static_cast<std::uint16_t>(v >> 16));
  put16(b, static_cast<std::uint16_t>(v & 0xffff));
}

// A domain name as labels, uncompressed; "." or "" is the root.
void put_name(Bytes& b, std::string_view name) {
  while (!name.empty()) {
    const auto dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (!label.empty()) {
      b.push_back(static_cast<unsigned char>(label.size()));
      b.insert(b.end(), label.begin(), label.end());
    }
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  b.push_back(0);
}

struct Record {
  std::string owner;  // empty: the question's name
  std::uint16_t type = 0;
  Bytes rdata;
};

Record mx(std::uint16_t preference, std::string_view host) {
  Record r;
  r.type = kMx;
  put16(r.rdata, preference);
  put_name(r.rdata, host);
  return r;
}

Record a(const char* address, std::string owner = {}) {
  Record r{std::move(owner), kA, Bytes(4)};
  EXPECT_EQ(::inet_pton(AF_INET, address, r.rdata.data()), 1) << address;
  return r;
}

Record aaaa(const char* address) {
  Record r{{}, kAaaa, Bytes(16)};
  EXPECT_EQ(::inet_pton(AF_INET6, address, r.rdata.data()), 1) << address;
  return r;
}

Record cname(std::string_view target) {
  Record r;
  r.type = kCname;
  put_name(r.rdata, target);
  return r;
}

// A response: header, one question, the answers.
Bytes response(std::string_view qname, std::uint16_t qtype, const std::vector<Record>& answers,
               std::uint16_t rcode = 0) {
  Bytes b;
  put16(b, 0x4d2a);          // id
  put16(b, 0x8180 | rcode);  // QR, RD, RA
  put16(b, 1);               // QDCOUNT
  put16(b, static_cast<std::uint16_t>(answers.size()));
  put16(b, 0);  // NSCOUNT
  put16(b, 0);  // ARCOUNT
  put_name(b, qname);
  put16(b, qtype);
  put16(b, 1);  // IN
  for (const auto& r : answers) {
    put_name(b, r.owner.empty() ? qname : std::string_view(r.owner));
    put16(b, r.type);
    put16(b, 1);
    put32(b, 3600);
    put16(b, static_cast<std::uint16_t>(r.rdata.size()));
    b.insert(b.end(), r.rdata.begin(), r.rdata.end());
  }
  return b;
}

std::vector<std::string> hosts_of(const MxAnswer& answer) {
  std::vector<std::string> out;
  for (const auto& h : answer.hosts) out.push_back(h.host);
  return out;
}

// ---------------------------------------------------------------- MX

TEST(DnsAnswer, MxHostsAreSortedByPreference) {
  std::mt19937 random(7);
  const Bytes packet =
      response("example.org", kMx, {mx(30, "mx3.example.org"), mx(10, "mx1.example.org"), mx(20, "mx2.example.net")});
  const MxAnswer answer = mx_from_answer(ARES_SUCCESS, packet, random);
  EXPECT_EQ(answer.outcome, Outcome::found);
  EXPECT_EQ(hosts_of(answer), (std::vector<std::string>{"mx1.example.org", "mx2.example.net", "mx3.example.org"}));
  ASSERT_EQ(answer.hosts.size(), 3u);
  EXPECT_EQ(answer.hosts[0].preference, 10);
  EXPECT_EQ(answer.hosts[1].preference, 20);
  EXPECT_EQ(answer.hosts[2].preference, 30);
  EXPECT_TRUE(answer.error.empty());
}

TEST(DnsAnswer, MxHostsAreLowerCaseWithoutTrailingDot) {
  std::mt19937 random(7);
  const Bytes packet = response("Example.ORG", kMx, {mx(5, "MX.Example.ORG.")});
  const MxAnswer answer = mx_from_answer(ARES_SUCCESS, packet, random);
  EXPECT_EQ(answer.outcome, Outcome::found);
  EXPECT_EQ(hosts_of(answer), (std::vector<std::string>{"mx.example.org"}));
}

TEST(DnsAnswer, EqualPreferencesAreAllPresentInShuffledOrder) {
  std::mt19937 random(12345);
  const Bytes packet =
      response("example.org", kMx,
               {mx(10, "a.example.org"), mx(20, "d.example.org"), mx(10, "b.example.org"), mx(10, "c.example.org")});
  std::set<std::string> seen_first;
  for (int i = 0; i < 100; ++i) {
    const MxAnswer answer = mx_from_answer(ARES_SUCCESS, packet, random);
    ASSERT_EQ(answer.outcome, Outcome::found);
    auto hosts = hosts_of(answer);
    ASSERT_EQ(hosts.size(), 4u);
    EXPECT_EQ(hosts[3], "d.example.org");
    seen_first.insert(hosts[0]);
    std::sort(hosts.begin(), hosts.begin() + 3);
    EXPECT_EQ(hosts, (std::vector<std::string>{"a.example.org", "b.example.org", "c.example.org", "d.example.org"}));
  }
  // RFC 5321 §5.1: equal preferences share the load.
  EXPECT_EQ(seen_first, (std::set<std::string>{"a.example.org", "b.example.org", "c.example.org"}));
}

TEST(DnsAnswer, OrderByPreferenceKeepsEveryHost) {
  std::mt19937 random(99);
  std::vector<MxRecord> hosts{{5, "e"}, {0, "z"}, {5, "f"}, {65535, "last"}};
  order_by_preference(hosts, random);
  ASSERT_EQ(hosts.size(), 4u);
  EXPECT_EQ(hosts[0].host, "z");
  EXPECT_EQ(hosts[3].host, "last");
  EXPECT_EQ(std::set<std::string>({hosts[1].host, hosts[2].host}), (std::set<std::string>{"e", "f"}));
}

TEST(DnsAnswer, NullMxMeansNoMail) {
  std::mt19937 random(1);
  const Bytes packet = response("example.org", kMx, {mx(0, ".")});
  const MxAnswer answer = mx_from_answer(ARES_SUCCESS, packet, random);
  EXPECT_EQ(answer.outcome, Outcome::null_mx);
  EXPECT_TRUE(answer.hosts.empty());
  EXPECT_FALSE(answer.error.empty());
}

TEST(DnsAnswer, NullMxBesideARealMxGivesTheRealOne) {
  std::mt19937 random(1);
  const Bytes packet = response("example.org", kMx, {mx(0, "."), mx(10, "mx.example.org")});
  const MxAnswer answer = mx_from_answer(ARES_SUCCESS, packet, random);
  EXPECT_EQ(answer.outcome, Outcome::found);
  EXPECT_EQ(hosts_of(answer), (std::vector<std::string>{"mx.example.org"}));
}

TEST(DnsAnswer, SuccessWithoutAnswersIsNoRecords) {
  std::mt19937 random(1);
  const Bytes packet = response("example.org", kMx, {});
  EXPECT_EQ(mx_from_answer(ARES_SUCCESS, packet, random).outcome, Outcome::no_records);
}

TEST(DnsAnswer, FailedQueryStatuses) {
  std::mt19937 random(1);
  const Bytes none;
  const MxAnswer nxdomain = mx_from_answer(ARES_ENOTFOUND, none, random);
  EXPECT_EQ(nxdomain.outcome, Outcome::no_domain);
  EXPECT_FALSE(nxdomain.error.empty());
  EXPECT_EQ(mx_from_answer(ARES_ENODATA, none, random).outcome, Outcome::no_records);
  for (int status : {ARES_ESERVFAIL, ARES_ETIMEOUT, ARES_EREFUSED, ARES_ECONNREFUSED, ARES_EBADRESP}) {
    const MxAnswer answer = mx_from_answer(status, none, random);
    EXPECT_EQ(answer.outcome, Outcome::temporary) << status;
    EXPECT_FALSE(answer.error.empty()) << status;
    EXPECT_TRUE(answer.hosts.empty()) << status;
  }
}

TEST(DnsAnswer, FailedStatusIgnoresTheAnswer) {
  std::mt19937 random(1);
  const Bytes packet = response("example.org", kMx, {mx(10, "mx.example.org")});
  const MxAnswer answer = mx_from_answer(ARES_ESERVFAIL, packet, random);
  EXPECT_EQ(answer.outcome, Outcome::temporary);
  EXPECT_TRUE(answer.hosts.empty());
}

TEST(DnsAnswer, GarbageWithSuccessIsTemporary) {
  std::mt19937 random(1);
  const Bytes garbage{0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03};
  const MxAnswer answer = mx_from_answer(ARES_SUCCESS, garbage, random);
  EXPECT_EQ(answer.outcome, Outcome::temporary);
  EXPECT_FALSE(answer.error.empty());
  EXPECT_EQ(mx_from_answer(ARES_SUCCESS, Bytes{}, random).outcome, Outcome::temporary);

  // A real answer cut short.
  Bytes cut = response("example.org", kMx, {mx(10, "mx.example.org")});
  cut.resize(cut.size() - 5);
  EXPECT_EQ(mx_from_answer(ARES_SUCCESS, cut, random).outcome, Outcome::temporary);
}

TEST(DnsAnswer, RandomBytesNeverGiveHostsThatAreNotThere) {
  std::mt19937 random(2024);
  const Bytes real = response("example.org", kMx, {mx(10, "mx1.example.org"), mx(20, "mx2.example.org")});
  for (int round = 0; round < 2000; ++round) {
    Bytes b = real;
    // Flip a few bytes of a valid answer, or cut it.
    for (int i = 0; i < 3; ++i) b[random() % b.size()] = static_cast<unsigned char>(random());
    if (round % 3 == 0) b.resize(random() % b.size());
    const MxAnswer answer = mx_from_answer(ARES_SUCCESS, b, random);
    if (answer.outcome == Outcome::found) {
      ASSERT_FALSE(answer.hosts.empty());
      for (std::size_t i = 1; i < answer.hosts.size(); ++i) {
        ASSERT_LE(answer.hosts[i - 1].preference, answer.hosts[i].preference);
      }
      for (const auto& h : answer.hosts) ASSERT_FALSE(h.host.empty());
    } else {
      ASSERT_TRUE(answer.hosts.empty());
    }
    (void)addresses_from_answer(ARES_SUCCESS, b, false);
    (void)addresses_from_answer(ARES_SUCCESS, b, true);
  }
}

// ---------------------------------------------------------------- A and AAAA

TEST(DnsAnswer, AddressesFromA) {
  const Bytes packet = response("mx.example.org", kA, {a("192.0.2.10"), a("198.51.100.7")});
  const AddressAnswer answer = addresses_from_answer(ARES_SUCCESS, packet, false);
  EXPECT_EQ(answer.outcome, Outcome::found);
  EXPECT_EQ(answer.addresses, (std::vector<std::string>{"192.0.2.10", "198.51.100.7"}));
  EXPECT_TRUE(answer.error.empty());
}

TEST(DnsAnswer, AddressesFromAaaa) {
  const Bytes packet = response("mx.example.org", kAaaa, {aaaa("2001:db8::25"), aaaa("2001:db8:0:1::1")});
  const AddressAnswer answer = addresses_from_answer(ARES_SUCCESS, packet, true);
  EXPECT_EQ(answer.outcome, Outcome::found);
  EXPECT_EQ(answer.addresses, (std::vector<std::string>{"2001:db8::25", "2001:db8:0:1::1"}));
}

TEST(DnsAnswer, AddressesThroughACname) {
  const Bytes packet =
      response("mail.example.org", kA, {cname("real.example.net"), a("192.0.2.55", "real.example.net")});
  const AddressAnswer answer = addresses_from_answer(ARES_SUCCESS, packet, false);
  EXPECT_EQ(answer.outcome, Outcome::found);
  EXPECT_EQ(answer.addresses, (std::vector<std::string>{"192.0.2.55"}));
}

TEST(DnsAnswer, AddressesOfTheOtherFamilyAreNotTaken) {
  const Bytes packet = response("mx.example.org", kA, {a("192.0.2.10")});
  const AddressAnswer answer = addresses_from_answer(ARES_SUCCESS, packet, true);
  EXPECT_NE(answer.outcome, Outcome::found);
  EXPECT_TRUE(answer.addresses.empty());
}

TEST(DnsAnswer, AddressesAreBounded) {
  std::vector<Record> many;
  for (int i = 0; i < 40; ++i) {
    const std::string address = "192.0.2." + std::to_string(i + 1);
    many.push_back(a(address.c_str()));
  }
  const AddressAnswer answer = addresses_from_answer(ARES_SUCCESS, response("big.example.org", kA, many), false);
  EXPECT_EQ(answer.outcome, Outcome::found);
  ASSERT_EQ(answer.addresses.size(), 32u);
  EXPECT_EQ(answer.addresses.front(), "192.0.2.1");
  EXPECT_EQ(answer.addresses.back(), "192.0.2.32");
}

TEST(DnsAnswer, AddressStatuses) {
  const Bytes none;
  for (bool ipv6 : {false, true}) {
    EXPECT_EQ(addresses_from_answer(ARES_ENOTFOUND, none, ipv6).outcome, Outcome::no_domain);
    EXPECT_EQ(addresses_from_answer(ARES_ENODATA, none, ipv6).outcome, Outcome::no_records);
    EXPECT_EQ(addresses_from_answer(ARES_ESERVFAIL, none, ipv6).outcome, Outcome::temporary);
    EXPECT_EQ(addresses_from_answer(ARES_ETIMEOUT, none, ipv6).outcome, Outcome::temporary);
    const AddressAnswer garbage = addresses_from_answer(ARES_SUCCESS, Bytes{1, 2, 3, 4, 5}, ipv6);
    EXPECT_EQ(garbage.outcome, Outcome::temporary);
    EXPECT_FALSE(garbage.error.empty());
    EXPECT_EQ(addresses_from_answer(ARES_SUCCESS, response("x.example", ipv6 ? kAaaa : kA, {}), ipv6).outcome,
              Outcome::no_records);
  }
}

}  // namespace
}  // namespace poshta::dns
