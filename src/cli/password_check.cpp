#include "cli/password_check.hpp"

#include <algorithm>

#include "auth/password.hpp"
#include "core/address.hpp"

namespace poshta::cli {

PasswordCheck::PasswordCheck(directory::Directory& directory, const std::string& user, std::string password)
    : directory_(directory), user_(core::canonical_address(user)), password_(std::move(password)) {}

void PasswordCheck::run() {
  std::string hash;
  const auto found = directory_.password_hash(user_, hash);
  // An unknown user costs a hash too, so timing does not tell users apart.
  static const std::string kDummy = *auth::hash_password("poshta-timing-equaliser");
  ok_ = auth::verify_password(password_, found == directory::Lookup::found ? hash : kDummy) &&
        found == directory::Lookup::found;
  password_.assign(password_.size(), '\0');
}

std::chrono::milliseconds AuthThrottle::delay(const std::string& ip, bool ok) {
  if (ok) {
    failures_.erase(ip);
    return std::chrono::milliseconds(0);
  }
  if (failures_.size() > 100000) failures_.clear();  // bounded memory
  const std::uint32_t n = ++failures_[ip];
  return std::chrono::milliseconds(std::min<std::uint64_t>(8000, 250ULL << std::min<std::uint32_t>(n - 1, 5)));
}

}  // namespace poshta::cli
