// core/network: CIDR networks for trusted_networks.
#include "core/network.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace poshta::core {
namespace {

Network must_parse(const std::string& cidr) {
  const auto n = Network::parse(cidr);
  EXPECT_TRUE(n.has_value()) << cidr;
  return n ? *n : Network{};
}

TEST(NetworkParse, V4WithPrefix) {
  const Network n = must_parse("192.0.2.0/24");
  EXPECT_FALSE(n.v6);
  EXPECT_EQ(n.prefix, 24);
  EXPECT_EQ(n.text, "192.0.2.0/24");
  EXPECT_EQ(n.address[0], 192);
  EXPECT_EQ(n.address[1], 0);
  EXPECT_EQ(n.address[2], 2);
  EXPECT_EQ(n.address[3], 0);
}

TEST(NetworkParse, SingleAddressIsAFullLengthPrefix) {
  const Network v4 = must_parse("192.0.2.7");
  EXPECT_FALSE(v4.v6);
  EXPECT_EQ(v4.prefix, 32);
  const Network v6 = must_parse("2001:db8::1");
  EXPECT_TRUE(v6.v6);
  EXPECT_EQ(v6.prefix, 128);
}

TEST(NetworkParse, V6WithPrefix) {
  const Network n = must_parse("2001:db8::/32");
  EXPECT_TRUE(n.v6);
  EXPECT_EQ(n.prefix, 32);
  EXPECT_EQ(n.address[0], 0x20);
  EXPECT_EQ(n.address[1], 0x01);
  EXPECT_EQ(n.address[2], 0x0d);
  EXPECT_EQ(n.address[3], 0xb8);
}

TEST(NetworkParse, BadPrefixesAreRefused) {
  EXPECT_FALSE(Network::parse("192.0.2.0/33").has_value());
  EXPECT_FALSE(Network::parse("192.0.2.0/-1").has_value());
  EXPECT_FALSE(Network::parse("192.0.2.0/abc").has_value());
  EXPECT_FALSE(Network::parse("192.0.2.0/").has_value());
  EXPECT_FALSE(Network::parse("192.0.2.0/24x").has_value());
  EXPECT_FALSE(Network::parse("192.0.2.0/+8").has_value());
  EXPECT_FALSE(Network::parse("192.0.2.0/ 8").has_value());
  EXPECT_FALSE(Network::parse("2001:db8::/129").has_value());
  EXPECT_FALSE(Network::parse("2001:db8::/-1").has_value());
  EXPECT_FALSE(Network::parse("2001:db8::/abc").has_value());
}

TEST(NetworkParse, LargestPrefixesAreAccepted) {
  EXPECT_EQ(must_parse("192.0.2.7/32").prefix, 32);
  EXPECT_EQ(must_parse("2001:db8::1/128").prefix, 128);
  EXPECT_EQ(must_parse("0.0.0.0/0").prefix, 0);
  EXPECT_EQ(must_parse("::/0").prefix, 0);
}

TEST(NetworkParse, BadAddressesAreRefused) {
  EXPECT_FALSE(Network::parse("").has_value());
  EXPECT_FALSE(Network::parse("/24").has_value());
  EXPECT_FALSE(Network::parse("192.0.2/24").has_value());
  EXPECT_FALSE(Network::parse("192.0.2.256/24").has_value());
  EXPECT_FALSE(Network::parse("example.org/24").has_value());
  EXPECT_FALSE(Network::parse("2001:db8:::1/64").has_value());
}

TEST(NetworkContains, V4Slash24) {
  const Network n = must_parse("192.0.2.0/24");
  EXPECT_TRUE(n.contains("192.0.2.0"));
  EXPECT_TRUE(n.contains("192.0.2.1"));
  EXPECT_TRUE(n.contains("192.0.2.255"));
  EXPECT_FALSE(n.contains("192.0.3.0"));
  EXPECT_FALSE(n.contains("192.0.1.255"));
  EXPECT_FALSE(n.contains("10.0.2.1"));
}

TEST(NetworkContains, SingleV4AddressContainsOnlyItself) {
  const Network n = must_parse("192.0.2.7");
  EXPECT_TRUE(n.contains("192.0.2.7"));
  EXPECT_FALSE(n.contains("192.0.2.6"));
  EXPECT_FALSE(n.contains("192.0.2.8"));
  EXPECT_FALSE(n.contains("193.0.2.7"));
}

TEST(NetworkContains, SlashZeroContainsEveryAddressOfItsFamily) {
  const Network v4 = must_parse("0.0.0.0/0");
  EXPECT_TRUE(v4.contains("0.0.0.0"));
  EXPECT_TRUE(v4.contains("192.0.2.7"));
  EXPECT_TRUE(v4.contains("255.255.255.255"));
  const Network v6 = must_parse("::/0");
  EXPECT_TRUE(v6.contains("::1"));
  EXPECT_TRUE(v6.contains("2001:db8::1"));
  EXPECT_TRUE(v6.contains("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
}

TEST(NetworkContains, V6Slash32) {
  const Network n = must_parse("2001:db8::/32");
  EXPECT_TRUE(n.contains("2001:db8::"));
  EXPECT_TRUE(n.contains("2001:db8::1"));
  EXPECT_TRUE(n.contains("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  EXPECT_TRUE(n.contains("2001:DB8:1::5"));
  EXPECT_FALSE(n.contains("2001:db9::1"));
  EXPECT_FALSE(n.contains("2001:db7:ffff::1"));
  EXPECT_FALSE(n.contains("::1"));
}

TEST(NetworkContains, V6Slash128ContainsOnlyItself) {
  const Network n = must_parse("2001:db8::1/128");
  EXPECT_TRUE(n.contains("2001:db8::1"));
  EXPECT_TRUE(n.contains("2001:0db8:0000:0000:0000:0000:0000:0001"));
  EXPECT_FALSE(n.contains("2001:db8::2"));
  EXPECT_FALSE(n.contains("2001:db8::"));
  EXPECT_FALSE(n.contains("2001:db8::1:1"));
}

TEST(NetworkContains, V4AddressIsNeverInAV6Network) {
  EXPECT_FALSE(must_parse("::/0").contains("192.0.2.7"));
  EXPECT_FALSE(must_parse("::/0").contains("0.0.0.0"));
  // Even where its octets would match the first octets of the network.
  EXPECT_FALSE(must_parse("c000:0207::/32").contains("192.0.2.7"));
}

TEST(NetworkContains, V6AddressIsNeverInAV4Network) {
  EXPECT_FALSE(must_parse("0.0.0.0/0").contains("::1"));
  EXPECT_FALSE(must_parse("0.0.0.0/0").contains("2001:db8::1"));
  EXPECT_FALSE(must_parse("192.0.2.0/24").contains("c000:0207::"));
  // A v4-mapped v6 address is a v6 address here.
  EXPECT_FALSE(must_parse("0.0.0.0/0").contains("::ffff:192.0.2.7"));
}

TEST(NetworkContains, PrefixNotAMultipleOfEightMasksWithinAnOctet) {
  const Network n = must_parse("10.1.16.0/20");  // 10.1.16.0 - 10.1.31.255
  EXPECT_TRUE(n.contains("10.1.16.0"));
  EXPECT_TRUE(n.contains("10.1.20.9"));
  EXPECT_TRUE(n.contains("10.1.31.255"));
  EXPECT_FALSE(n.contains("10.1.15.255"));
  EXPECT_FALSE(n.contains("10.1.32.0"));
  EXPECT_FALSE(n.contains("10.1.48.1"));
  EXPECT_FALSE(n.contains("10.2.16.0"));
}

TEST(NetworkContains, HostBitsInTheConfiguredAddressAreIgnored) {
  const Network n = must_parse("10.1.20.9/20");
  EXPECT_TRUE(n.contains("10.1.16.0"));
  EXPECT_TRUE(n.contains("10.1.31.255"));
  EXPECT_FALSE(n.contains("10.1.32.0"));
}

TEST(NetworkContains, V6PrefixNotAMultipleOfEight) {
  const Network n = must_parse("2001:db8:8000::/33");
  EXPECT_TRUE(n.contains("2001:db8:8000::1"));
  EXPECT_TRUE(n.contains("2001:db8:ffff::1"));
  EXPECT_FALSE(n.contains("2001:db8:7fff:ffff::1"));
  EXPECT_FALSE(n.contains("2001:db8::1"));
}

TEST(NetworkContains, NonNumericInputIsNotContained) {
  const Network n = must_parse("0.0.0.0/0");
  EXPECT_FALSE(n.contains(""));
  EXPECT_FALSE(n.contains("localhost"));
  EXPECT_FALSE(n.contains("192.0.2.7/32"));
}

}  // namespace
}  // namespace poshta::core
