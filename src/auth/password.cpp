#include "auth/password.hpp"

#include <crypt.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace poshta::auth {

namespace {
constexpr std::string_view kSchemePrefix = "{CRYPT}";
}

core::Result<std::string> hash_password(std::string_view password) {
  if (password.find('\0') != std::string_view::npos) return core::errno_code(EINVAL);
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!::crypt_gensalt_rn("$y$", 0, nullptr, 0, salt, sizeof salt)) return core::errno_code(errno ? errno : EINVAL);
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const char* hash = ::crypt_rn(pw.c_str(), salt, data.get(), sizeof(crypt_data));
  if (!hash || hash[0] == '*') return core::errno_code(errno ? errno : EINVAL);
  return std::string(kSchemePrefix) + hash;
}

bool verify_password(std::string_view password, std::string_view stored) {
  if (stored.substr(0, kSchemePrefix.size()) == kSchemePrefix) stored.remove_prefix(kSchemePrefix.size());
  if (stored.empty() || password.find('\0') != std::string_view::npos) return false;
  auto data = std::make_unique<crypt_data>();
  const std::string pw(password);
  const std::string setting(stored);
  const char* hash = ::crypt_rn(pw.c_str(), setting.c_str(), data.get(), sizeof(crypt_data));
  if (!hash || hash[0] == '*' || std::strlen(hash) != stored.size()) return false;
  // Constant time: the comparison must not tell how much of the hash matched.
  unsigned char diff = 0;
  for (std::size_t i = 0; i < stored.size(); ++i) diff |= static_cast<unsigned char>(hash[i] ^ stored[i]);
  return diff == 0;
}

}  // namespace poshta::auth
