// store::Maildir: delivery into Maildir++ mailboxes,
// <mail_root>/<domain>/<localpart>/{tmp,new,cur} (docs/SPEC.md, "Files").
//
// A delivery is two steps, in the spirit of Maildir's tmp/-then-rename:
// write() writes the message into an unnamed file in tmp/ (O_TMPFILE);
// once the caller has made its data durable (a GroupSync flush covering
// many deliveries), publish() links it into new/ under its unique name, and
// a second flush makes the links durable. A crash before publish leaves
// nothing behind, not even a stale file in tmp/; a crash before the second
// flush may lose the entry, never show a partial message. Messages are
// stored with LF line ends, as other Maildir readers expect; the name ends
// in ",S=<octets>,W=<octets with CRLF>" as Dovecot's do, so sizes need no
// reading later.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "core/result.hpp"

namespace poshta::store {

// Maildir naming and the stored form of a message, shared by delivery
// (Maildir) and by the mail-reading protocols' writes (Mailbox::append,
// Mailbox::copy_to), so every file Poshta writes is named and encoded alike.

// The concatenation of `parts` with CRLF line ends turned into LF (other
// octets as they are), and its size with CRLF line ends (",W=" of the name).
struct StoredText {
  std::string text;
  std::size_t wire_size = 0;
};
StoredText stored_text(std::span<const std::string_view> parts);

// `hostname` as it goes into Maildir names: '/' and ':' escaped as \057 and \072.
std::string maildir_host(std::string_view hostname);

// A new unique base name, "<sec>.M<usec>P<pid>Q<n>.<host>,S=<size>,W=<wire_size>"
// (as Dovecot names them); `host` from maildir_host(); n counts per process.
std::string unique_name(std::string_view host, std::uint64_t size, std::uint64_t wire_size);

class Maildir {
 public:
  Maildir(std::filesystem::path mail_root, const std::string& hostname);

  // <mail_root>/<domain>/<localpart> for a canonical local address.
  std::filesystem::path mailbox_dir(std::string_view address) const;

  // A written message not yet in new/; closing it (destruction) without
  // publish() discards it.
  class Pending {
   public:
    Pending(int fd, std::filesystem::path destination) : fd_(fd), destination_(std::move(destination)) {}
    Pending(Pending&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), destination_(std::move(other.destination_)) {}
    Pending& operator=(Pending&&) = delete;
    ~Pending();
    const std::filesystem::path& destination() const { return destination_; }

   private:
    friend class Maildir;
    int fd_;
    std::filesystem::path destination_;
  };

  // Creates the mailbox (cur/, new/, tmp/) if it is missing, durably.
  std::error_code create(std::string_view address);

  // Writes the concatenation of `parts` (CRLF line ends) with LF line ends
  // into an unnamed file of the mailbox's tmp/, creating the mailbox if
  // needed. Not synced.
  core::Result<Pending> write(std::string_view address, std::span<const std::string_view> parts);
  // Links the message into new/; its data must be durable already. The link
  // is not durable until the caller's next flush.
  std::error_code publish(const Pending& pending);

 private:
  std::filesystem::path root_;
  std::string host_;  // maildir_host() of the hostname
};

}  // namespace poshta::store
