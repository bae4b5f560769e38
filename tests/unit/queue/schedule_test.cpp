// queue/schedule: retry times from the configured intervals (the last one
// repeating) and the bounce_after expiry.
#include "queue/schedule.hpp"

#include <gtest/gtest.h>

namespace poshta::queue {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

RetryPolicy readme_policy() {  // README: retry = ["1m", "5m", "15m", "1h", "4h"], bounce_after = "5d"
  RetryPolicy p;
  p.intervals = {minutes(1), minutes(5), minutes(15), hours(1), hours(4)};
  p.bounce_after = hours(5 * 24);
  return p;
}

TEST(Schedule, NextAttemptFollowsTheIntervalList) {
  const RetryPolicy p = readme_policy();
  const std::int64_t now = 1'800'000'000;
  EXPECT_EQ(next_attempt(p, 1, now), now + 60);
  EXPECT_EQ(next_attempt(p, 2, now), now + 300);
  EXPECT_EQ(next_attempt(p, 3, now), now + 900);
  EXPECT_EQ(next_attempt(p, 4, now), now + 3600);
  EXPECT_EQ(next_attempt(p, 5, now), now + 4 * 3600);
}

TEST(Schedule, LastIntervalRepeats) {
  const RetryPolicy p = readme_policy();
  const std::int64_t now = 1'800'000'000;
  EXPECT_EQ(next_attempt(p, 6, now), now + 4 * 3600);
  EXPECT_EQ(next_attempt(p, 7, now), now + 4 * 3600);
  EXPECT_EQ(next_attempt(p, 1000, now), now + 4 * 3600);
  EXPECT_EQ(next_attempt(p, UINT32_MAX, now), now + 4 * 3600);
}

TEST(Schedule, SingleIntervalAlwaysApplies) {
  RetryPolicy p;
  p.intervals = {seconds(30)};
  EXPECT_EQ(next_attempt(p, 1, 100), 130);
  EXPECT_EQ(next_attempt(p, 9, 100), 130);
}

TEST(Schedule, NextAttemptIsRelativeToNow) {
  const RetryPolicy p = readme_policy();
  EXPECT_EQ(next_attempt(p, 2, 0), 300);
  EXPECT_EQ(next_attempt(p, 2, 1000), 1300);
}

TEST(Schedule, NotExpiredBeforeBounceAfter) {
  const RetryPolicy p = readme_policy();
  const std::int64_t arrived = 1'800'000'000;
  EXPECT_FALSE(expired(p, arrived, arrived));
  EXPECT_FALSE(expired(p, arrived, arrived + 3600));
  EXPECT_FALSE(expired(p, arrived, arrived + 5 * 86400 - 1));
}

TEST(Schedule, ExpiredAfterBounceAfter) {
  const RetryPolicy p = readme_policy();
  const std::int64_t arrived = 1'800'000'000;
  EXPECT_TRUE(expired(p, arrived, arrived + 5 * 86400 + 1));
  EXPECT_TRUE(expired(p, arrived, arrived + 30 * 86400));
}

TEST(Schedule, ExpiryUsesTheConfiguredBounceAfter) {
  RetryPolicy p = readme_policy();
  p.bounce_after = hours(1);
  EXPECT_FALSE(expired(p, 0, 3599));
  EXPECT_TRUE(expired(p, 0, 3601));
}

}  // namespace
}  // namespace poshta::queue
