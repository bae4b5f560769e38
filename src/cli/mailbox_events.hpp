// Which users' mailboxes changed, for IMAP IDLE (RFC 2177): local delivery
// and the mail-reading sessions bump a user's generation, and an idling
// session that sees a new generation looks at its mailbox again. Thread-safe
// (delivery runs on worker threads); a lookup costs a mutex and a hash.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace poshta::cli {

class MailboxEvents {
 public:
  void changed(const std::string& user) {
    std::lock_guard lock(mutex_);
    ++generations_[user];
  }
  std::uint64_t generation(const std::string& user) {
    std::lock_guard lock(mutex_);
    auto it = generations_.find(user);
    return it == generations_.end() ? 0 : it->second;
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t> generations_;
};

}  // namespace poshta::cli
