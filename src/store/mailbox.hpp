// store::Mailbox: one Maildir folder as the mail-reading protocols see it:
// messages numbered by UID (RFC 9051 §2.3.1.1), under a UIDVALIDITY that
// changes only when the UIDs must be thrown away, so a client's cache of
// UIDs stays good across sessions and restarts; POP3's UIDL values are made
// from the same pair, so POP3 and IMAP agree.
//
// The Maildir stays authoritative: sync() lists new/ and cur/, gives every
// file not yet known the next UID (in order of name, i.e. of delivery),
// forgets files that are gone, and moves new mail from new/ to cur/. The
// UID map is kept in <folder>/poshta-uidlist, a small text file replaced
// atomically (written, fsync'd, renamed, directory fsync'd) when it
// changes: "poshta-uidlist 1 <uidvalidity> <uidnext>" and then one
// "<uid> <base name>" line per message, where the base name is the part of
// the file name before ":2," that never changes. A lost or unreadable
// uidlist is rebuilt with a new UIDVALIDITY. Concurrent sessions and
// deliveries are safe: sync() holds an flock on <folder>/poshta-uidlist.lock,
// and delivery only ever adds files to new/.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace poshta::store {

struct MessageFile {
  std::uint32_t uid = 0;
  std::string name;             // file name in cur/ (base name, then ":2,FLAGS" if any)
  std::uint64_t size = 0;       // octets on disk (LF line ends)
  std::uint64_t wire_size = 0;  // octets with CRLF line ends, as protocols send it
  std::string base() const;     // the name before ":2,"
  std::string flags() const;    // the Maildir flags after ":2,", e.g. "RS"
};

struct MailboxSnapshot {
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 1;
  std::vector<MessageFile> messages;  // in UID order
};

class Mailbox {
 public:
  // `folder` is a Maildir (with cur/ new/ tmp/), e.g. <mail>/<domain>/<local>.
  explicit Mailbox(std::filesystem::path folder) : folder_(std::move(folder)) {}

  const std::filesystem::path& folder() const { return folder_; }
  std::filesystem::path path_of(const MessageFile& m) const { return folder_ / "cur" / m.name; }

  // Brings the UID map up to date with the folder (see above). Creates the
  // Maildir if it does not exist. Blocks (directory scans, fsync).
  core::Result<MailboxSnapshot> sync();

  // Opens a message's file for reading (O_RDONLY), also when another Maildir
  // reader has renamed it since (new flags keep the base name). Blocks.
  core::Result<int> open_message(const MessageFile& m) const;

  // Deletes the files of `messages` and makes that durable (the directory is
  // fsync'd). A file renamed since the snapshot (new flags) is found by its
  // base name; files already gone are fine. Blocks.
  std::error_code remove(const std::vector<MessageFile>& messages);

 private:
  std::filesystem::path folder_;
};

// POP3's unique-id (RFC 1939 §7) of a message: UID and UIDVALIDITY as 8 hex
// digits each, the form Dovecot uses by default (pop3_uidl_format =
// %08Xu%08Xv), so clients see no change when a mailbox moves between them.
std::string pop3_uidl(std::uint32_t uid_validity, std::uint32_t uid);

}  // namespace poshta::store
