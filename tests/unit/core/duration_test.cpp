// core/duration: "30s", "5m", "1h", "5d" in the configuration.
#include "core/duration.hpp"

#include <gtest/gtest.h>

namespace poshta::core {
namespace {

using std::chrono::seconds;

TEST(ParseDuration, ReadsEveryUnit) {
  EXPECT_EQ(parse_duration("30s"), seconds(30));
  EXPECT_EQ(parse_duration("5m"), seconds(300));
  EXPECT_EQ(parse_duration("1h"), seconds(3600));
  EXPECT_EQ(parse_duration("5d"), seconds(5 * 86400));
  EXPECT_EQ(parse_duration("0s"), seconds(0));
  EXPECT_EQ(parse_duration("90m"), seconds(5400));
}

TEST(ParseDuration, RejectsMalformedText) {
  for (const char* s : {"", "5", "m", "5x", "-5m", "+5m", "5 m", " 5m", "1.5h", "5M", "5mm", "m5", "5ms"}) {
    EXPECT_FALSE(parse_duration(s).has_value()) << "'" << s << "'";
  }
}

TEST(ParseDuration, RejectsOverflow) {
  EXPECT_FALSE(parse_duration("99999999999999999999d").has_value());
  EXPECT_FALSE(parse_duration("9223372036854775807d").has_value());
}

}  // namespace
}  // namespace poshta::core
