// net/client_rates: events of the last minute per address, from two fixed
// minutes; addresses apart; the previous minute fading out; silent
// addresses forgotten.
#include "net/client_rates.hpp"

#include <gtest/gtest.h>

namespace poshta::net {
namespace {

using namespace std::chrono_literals;
using Clock = ClientRates::Clock;

// The start of a minute of the steady clock, plus `offset`.
Clock::time_point at(std::int64_t minute, Clock::duration offset = 0s) {
  return Clock::time_point(std::chrono::minutes(minute)) + offset;
}

TEST(ClientRates, CountsEventsPerAddress) {
  ClientRates rates;
  EXPECT_DOUBLE_EQ(rates.add("192.0.2.1", at(100, 1s)), 1);
  EXPECT_DOUBLE_EQ(rates.add("192.0.2.1", at(100, 2s)), 2);
  EXPECT_DOUBLE_EQ(rates.add("192.0.2.2", at(100, 3s)), 1);
  EXPECT_DOUBLE_EQ(rates.rate("192.0.2.1", at(100, 4s)), 2);
  EXPECT_DOUBLE_EQ(rates.rate("198.51.100.9", at(100, 4s)), 0);
}

TEST(ClientRates, ThePreviousMinuteFadesOut) {
  ClientRates rates;
  for (int i = 0; i < 60; ++i) rates.add("192.0.2.1", at(100, 59s));
  EXPECT_DOUBLE_EQ(rates.rate("192.0.2.1", at(101, 0s)), 60);   // all of it within the last 60 s
  EXPECT_DOUBLE_EQ(rates.rate("192.0.2.1", at(101, 30s)), 30);  // half of that minute is still in
  EXPECT_DOUBLE_EQ(rates.add("192.0.2.1", at(101, 45s)), 16);   // a quarter of it, and this one
  EXPECT_NEAR(rates.rate("192.0.2.1", at(102, 59s)), 1.0 / 60, 1e-9) << "only this one's minute is left, nearly gone";
  EXPECT_DOUBLE_EQ(rates.rate("192.0.2.1", at(103, 0s)), 0);
}

TEST(ClientRates, SilentAddressesAreForgotten) {
  ClientRates rates;
  for (int i = 0; i < 1000; ++i) rates.add("10.0.0." + std::to_string(i), at(100));
  EXPECT_EQ(rates.size(), 1000u);
  rates.add("192.0.2.1", at(101));
  EXPECT_EQ(rates.size(), 1001u) << "still within the last two minutes";
  rates.add("192.0.2.1", at(102));
  EXPECT_EQ(rates.size(), 1u);
}

}  // namespace
}  // namespace poshta::net
