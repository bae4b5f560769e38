// net::ClientRates: how often each client address did something (opened a
// connection, failed to log in) in the last minute, so the server can turn
// away an address that does it too often, as Postfix's anvil does. The
// sliding minute is estimated from two fixed ones (the previous minute's
// count weighted by how much of it still lies within the last 60 s): a few
// octets per address, and addresses silent for two minutes are forgotten,
// so a flood from many addresses costs bounded memory. Sans-IO: the caller
// gives the time.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace poshta::net {

class ClientRates {
 public:
  using Clock = std::chrono::steady_clock;

  // Counts one event of `ip` at `now`; returns the events of the last
  // minute, this one included.
  double add(const std::string& ip, Clock::time_point now);
  // The events of the last minute, without counting one.
  double rate(const std::string& ip, Clock::time_point now) const;
  // Addresses remembered.
  std::size_t size() const { return windows_.size(); }

 private:
  struct Window {
    std::int64_t minute = 0;  // since the clock's epoch
    std::uint32_t current = 0;
    std::uint32_t previous = 0;
  };
  static double estimate(const Window& w, Clock::time_point now);
  void forget_silent(std::int64_t minute);

  std::unordered_map<std::string, Window> windows_;
  std::int64_t swept_ = 0;  // the minute of the last sweep
};

}  // namespace poshta::net
