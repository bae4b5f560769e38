// Password checks for every protocol that logs users in (SMTP AUTH, POP3,
// IMAP): the hash comparison runs on the thread pool (yescrypt is slow by
// design), and failures from one client address are answered after a delay
// that doubles per failure, so guessing is slow whichever protocol it uses.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

#include "directory/directory.hpp"
#include "net/server.hpp"

namespace poshta::cli {

class PasswordCheck final : public net::BlockingTask {
 public:
  PasswordCheck(directory::Directory& directory, const std::string& user, std::string password);
  void run() override;
  bool ok() const { return ok_; }
  const std::string& user() const { return user_; }  // canonical

 private:
  directory::Directory& directory_;
  std::string user_;
  std::string password_;
  bool ok_ = false;
};

// Event loop only.
class AuthThrottle {
 public:
  // The delay before answering a check with result `ok` from `ip`: none after
  // a success (which forgets earlier failures), else 250 ms doubling up to 8 s.
  std::chrono::milliseconds delay(const std::string& ip, bool ok);

 private:
  std::unordered_map<std::string, std::uint32_t> failures_;
};

}  // namespace poshta::cli
