#include "queue/schedule.hpp"

#include <algorithm>

namespace poshta::queue {

std::int64_t next_attempt(const RetryPolicy& policy, std::uint32_t attempts, std::int64_t now) {
  if (policy.intervals.empty()) return now + 60;
  const std::size_t i = std::min<std::size_t>(attempts == 0 ? 0 : attempts - 1, policy.intervals.size() - 1);
  return now + policy.intervals[i].count();
}

bool expired(const RetryPolicy& policy, std::int64_t arrived, std::int64_t now) {
  return now - arrived >= policy.bounce_after.count();
}

}  // namespace poshta::queue
