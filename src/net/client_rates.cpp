#include "net/client_rates.hpp"

namespace poshta::net {

namespace {

std::int64_t minute_of(ClientRates::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::minutes>(t.time_since_epoch()).count();
}

}  // namespace

double ClientRates::estimate(const Window& w, Clock::time_point now) {
  const std::int64_t minute = minute_of(now);
  if (minute >= w.minute + 2) return 0;
  const double previous = minute == w.minute ? w.previous : w.current;
  const double current = minute == w.minute ? w.current : 0;
  const auto into = now.time_since_epoch() - std::chrono::minutes(minute);
  const double elapsed = std::chrono::duration<double>(into).count() / 60.0;
  return previous * (1.0 - elapsed) + current;
}

double ClientRates::rate(const std::string& ip, Clock::time_point now) const {
  const auto it = windows_.find(ip);
  return it == windows_.end() ? 0 : estimate(it->second, now);
}

double ClientRates::add(const std::string& ip, Clock::time_point now) {
  const std::int64_t minute = minute_of(now);
  forget_silent(minute);
  Window& w = windows_[ip];
  if (w.minute != minute) {
    w.previous = minute == w.minute + 1 ? w.current : 0;
    w.current = 0;
    w.minute = minute;
  }
  ++w.current;
  return estimate(w, now);
}

void ClientRates::forget_silent(std::int64_t minute) {
  if (minute == swept_) return;  // once a minute
  swept_ = minute;
  std::erase_if(windows_, [minute](const auto& entry) { return entry.second.minute + 2 <= minute; });
}

}  // namespace poshta::net
