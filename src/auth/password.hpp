// Password hashes through libxcrypt: new hashes are yescrypt ("$y$", the
// Debian default), stored as Dovecot-compatible "{CRYPT}$y$..." strings;
// verification accepts any scheme crypt(3) knows (bcrypt, sha512-crypt...).
// Both calls are deliberately slow: keep them off the event loop.
#pragma once

#include <string>
#include <string_view>

#include "core/result.hpp"

namespace poshta::auth {

core::Result<std::string> hash_password(std::string_view password);
bool verify_password(std::string_view password, std::string_view stored);

}  // namespace poshta::auth
