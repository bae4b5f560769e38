#include "core/ids.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>

#include <fmt/format.h>

namespace poshta::core {

std::string new_queue_id() {
  // Starts at random: two processes (the server and `poshta sendmail`) that
  // make an id in the same microsecond still differ, almost always; the
  // spool's exclusive creates catch the rest.
  static std::atomic<std::uint32_t> counter{std::random_device{}()};
  const auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::uint32_t n = counter.fetch_add(1, std::memory_order_relaxed) & 0xfff;
  return fmt::format("{:013x}{:03x}", static_cast<std::uint64_t>(us) & 0xfffffffffffffULL, n);
}

std::string new_session_id() {
  static std::atomic<std::uint32_t> counter{std::random_device{}()};
  return fmt::format("{:08x}", counter.fetch_add(1, std::memory_order_relaxed));
}

}  // namespace poshta::core
