// store::Maildir: delivery into Maildir++ mailboxes,
// <mail_root>/<domain>/<localpart>/{tmp,new,cur} (docs/SPEC.md, "Files").
//
// A delivery is two steps so that many can share one flush (GroupSync):
// write_tmp() writes the message into tmp/ under a unique name, then, once
// the caller's flush has made it durable, publish() renames it into new/;
// a second flush makes the rename durable. Messages are stored with LF line
// ends, as other Maildir readers expect; the name ends in ",S=<octets>,W=<octets
// with CRLF>" as Dovecot's do, so sizes need no reading later.
#pragma once

#include <atomic>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "core/result.hpp"

namespace poshta::store {

class Maildir {
 public:
  Maildir(std::filesystem::path mail_root, std::string hostname);

  // <mail_root>/<domain>/<localpart> for a canonical local address.
  std::filesystem::path mailbox_dir(std::string_view address) const;

  struct Pending {
    std::filesystem::path tmp;
    std::filesystem::path destination;
  };

  // Writes the concatenation of `parts` (CRLF line ends) into the mailbox's
  // tmp/ with LF line ends, creating the mailbox if needed.
  core::Result<Pending> write_tmp(std::string_view address, std::span<const std::string_view> parts);
  std::error_code publish(const Pending& pending);
  void discard(const Pending& pending);

 private:
  std::string unique_name(std::size_t size, std::size_t crlf_size);

  std::filesystem::path root_;
  std::string host_;  // hostname with '/' and ':' escaped (Maildir naming)
  std::atomic<std::uint64_t> counter_{0};
};

}  // namespace poshta::store
