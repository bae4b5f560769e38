// queue schedule: when a deferred recipient is tried next, as a pure
// function of the attempts so far and the configured intervals (`[delivery]
// retry`, the last one repeating), and whether it is past `bounce_after`.
#pragma once

#include <chrono>
#include <cstdint>
#include <vector>

namespace poshta::queue {

struct RetryPolicy {
  std::vector<std::chrono::seconds> intervals;
  std::chrono::seconds bounce_after{5 * 86400};
};

// Unix time of the next attempt after `attempts` failed ones, made at `now`.
std::int64_t next_attempt(const RetryPolicy& policy, std::uint32_t attempts, std::int64_t now);
bool expired(const RetryPolicy& policy, std::int64_t arrived, std::int64_t now);

}  // namespace poshta::queue
