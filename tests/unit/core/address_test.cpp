// core/address: case folding, local@domain splitting and domain syntax.
#include "core/address.hpp"

#include <gtest/gtest.h>

#include <string>

namespace poshta::core {
namespace {

TEST(Address, ToLowerFoldsOnlyAscii) {
  EXPECT_EQ(to_lower("MiXeD@Example.ORG"), "mixed@example.org");
  EXPECT_EQ(to_lower("\xc3\x84"), "\xc3\x84");
  EXPECT_EQ(to_lower(""), "");
}

TEST(Address, IequalsIgnoresAsciiCase) {
  EXPECT_TRUE(iequals("Received", "rECEIVED"));
  EXPECT_TRUE(iequals("", ""));
  EXPECT_FALSE(iequals("Received", "Receive"));
  EXPECT_FALSE(iequals("a", "b"));
  EXPECT_FALSE(iequals("[", "{"));  // 0x5b vs 0x7b differ by the case bit but are not letters
}

TEST(Address, ValidDomains) {
  for (const char* d : {"example.org", "a.b.c", "localhost", "x-y.example", "xn--80ak6aa92e.com", "1.2.3.4", "a1"}) {
    EXPECT_TRUE(is_valid_domain(d)) << d;
  }
  EXPECT_TRUE(is_valid_domain(std::string(63, 'a') + ".org"));
}

TEST(Address, InvalidDomains) {
  for (const char* d : {"", ".", ".example.org", "example.org.", "a..b", "-a.org", "a-.org", "a_b.org", "a b.org",
                        "a/b", "exa@mple.org", "[127.0.0.1]"}) {
    EXPECT_FALSE(is_valid_domain(d)) << d;
  }
  EXPECT_FALSE(is_valid_domain(std::string(64, 'a') + ".org"));
  std::string long_name;
  while (long_name.size() < 256) long_name += "abcdefghi.";
  long_name += "org";
  EXPECT_FALSE(is_valid_domain(long_name));
}

TEST(Address, Utf8DomainsOnlyWhenAllowed) {
  const std::string d = "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xbc\xd0\xb5\xd1\x80.\xd1\x80\xd1\x84";  // пример.рф
  EXPECT_FALSE(is_valid_domain(d, false));
  EXPECT_TRUE(is_valid_domain(d, true));
}

TEST(Address, IpAddresses) {
  EXPECT_TRUE(is_ip_address("127.0.0.1"));
  EXPECT_TRUE(is_ip_address("::1"));
  EXPECT_TRUE(is_ip_address("2001:db8::1"));
  EXPECT_FALSE(is_ip_address("256.0.0.1"));
  EXPECT_FALSE(is_ip_address("example.org"));
  EXPECT_FALSE(is_ip_address(""));
  EXPECT_FALSE(is_ip_address("[::1]"));
}

TEST(Address, SplitAtTheLastAt) {
  auto p = split_address("user@example.org");
  EXPECT_EQ(p.local, "user");
  EXPECT_EQ(p.domain, "example.org");
  p = split_address("\"a@b\"@example.org");
  EXPECT_EQ(p.local, "\"a@b\"");
  EXPECT_EQ(p.domain, "example.org");
  p = split_address("postmaster");
  EXPECT_EQ(p.local, "postmaster");
  EXPECT_EQ(p.domain, "");
  p = split_address("user@");
  EXPECT_EQ(p.local, "user");
  EXPECT_EQ(p.domain, "");
}

TEST(Address, CanonicalFormIsLowerCase) {
  EXPECT_EQ(canonical_address("John.Doe@Example.ORG"), "john.doe@example.org");
  EXPECT_EQ(canonical_address("postmaster@localhost"), "postmaster@localhost");
}

}  // namespace
}  // namespace poshta::core
