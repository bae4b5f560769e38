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
// changes: "poshta-uidlist 2 <uidvalidity> <uidnext> <highestmodseq>
// <first recent uid>" and
// then one "<uid> <modseq> <flags or -> <base name>" line per message,
// where the base name is the part of the file name before ":2," that never
// changes, and the flags are those the message had when it got its MODSEQ
// (RFC 7162), so a flag change by any Maildir reader is seen at the next
// sync and takes a new MODSEQ. Version 1 files (without MODSEQ) are read. A lost or unreadable
// uidlist is rebuilt with a new UIDVALIDITY. Concurrent sessions and
// deliveries are safe: sync() holds an flock on <folder>/poshta-uidlist.lock,
// and delivery only ever adds files to new/. APPEND and COPY (append(),
// copy_to()) link their files into cur/ under that same lock and enter
// their UIDs in the uidlist at once, so they can be told to the client.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace poshta::store {

struct MessageFile {
  std::uint32_t uid = 0;
  std::string name;             // file name in cur/ (base name, then ":2,FLAGS" if any)
  std::uint64_t size = 0;       // octets on disk (LF line ends)
  std::uint64_t wire_size = 0;  // octets with CRLF line ends, as protocols send it
  std::uint64_t modseq = 1;     // RFC 7162: the MODSEQ of its last change
  std::string base() const;     // the name before ":2,"
  std::string flags() const;    // the Maildir flags after ":2,", e.g. "RS"
};

struct MailboxSnapshot {
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 1;
  std::uint64_t highest_modseq = 1;  // RFC 7162 HIGHESTMODSEQ
  // \Recent (RFC 3501 §2.3.2): the messages from this UID on are new to
  // every session; the first that claims them (sync(true)) is the only
  // one to see them so.
  std::uint32_t first_recent_uid = 1;
  std::vector<MessageFile> messages;  // in UID order
};

class Mailbox {
 public:
  // `folder` is a Maildir (with cur/ new/ tmp/), e.g. <mail>/<domain>/<local>.
  explicit Mailbox(std::filesystem::path folder) : folder_(std::move(folder)) {}

  const std::filesystem::path& folder() const { return folder_; }
  std::filesystem::path path_of(const MessageFile& m) const { return folder_ / "cur" / m.name; }

  // Brings the UID map up to date with the folder (see above). Creates the
  // Maildir if it does not exist. With `claim_recent` (an IMAP session
  // that selected the folder read-write), the messages recent so far are
  // this caller's: later callers see first_recent_uid at uid_next. Blocks
  // (directory scans, fsync).
  core::Result<MailboxSnapshot> sync(bool claim_recent = false);

  // Opens a message's file for reading (O_RDONLY), also when another Maildir
  // reader has renamed it since (new flags keep the base name). Blocks.
  core::Result<int> open_message(const MessageFile& m) const;

  // Deletes the files of `messages` and makes that durable (the directory is
  // fsync'd). A file renamed since the snapshot (new flags) is found by its
  // base name; files already gone are fine. Blocks.
  std::error_code remove(const std::vector<MessageFile>& messages);

  // Makes the Maildir (cur/ new/ tmp/) where missing and gives it an empty
  // UID map under `uid_validity`, durably; EEXIST if it has a map already.
  // For a new folder (store::Folders), whose UIDVALIDITY must differ from
  // that of any former folder of the same name (RFC 9051 §6.3.5). Blocks.
  std::error_code create(std::uint32_t uid_validity);

  // Flags live in the file name, after ":2,": one letter each, in ASCII
  // order (the Maildir spec): D \Draft, F \Flagged, P passed (no IMAP
  // flag: kept as it is), R \Answered, S \Seen, T \Deleted; other letters
  // (Dovecot's keywords a-z) are kept as they are too.

  // The IMAP system flags of Maildir flags, space-separated, always in the
  // order \Answered \Flagged \Deleted \Seen \Draft (Dovecot's), e.g. "RS" ->
  // "\Answered \Seen"; "" for none.
  static std::string imap_flags(std::string_view maildir_flags);
  // The Maildir flags for the IMAP flags `imap_flags` (system flags, any
  // case; \Recent and keywords are ignored) plus the letters of `keep` (the
  // message's current Maildir flags) that no IMAP flag stands for, in ASCII
  // order, e.g. ({"\Seen"}, "FP") -> "PS".
  static std::string maildir_flags(const std::vector<std::string>& imap_flags, std::string_view keep);

  // IMAP keywords ($Forwarded, Junk...) are the letters a-z of the Maildir
  // flags, each naming a line of <folder>/dovecot-keywords ("0 $Forwarded"
  // is 'a'), the file and the letters Dovecot uses, so both see the same.
  // The folder's keywords, by letter index.
  std::vector<std::string> keywords() const;
  // The letters for `names` (case-insensitive, as IMAP compares keywords);
  // with `create`, names not known yet get the next free letters (26 at
  // most; ENOSPC beyond). Without it unknown names are left out.
  core::Result<std::string> keyword_letters(const std::vector<std::string>& names, bool create);

  // Gives the message the Maildir flags `new_maildir_flags` (letters only;
  // put in ASCII order, duplicates dropped; EINVAL otherwise) by renaming
  // cur/<base>:2,<old> to cur/<base>:2,<new>; a file renamed by another
  // reader since `m` was taken is found by its base name (ENOENT when it is
  // gone). Returns `m` with its new name. Not fsync'd. Blocks.
  core::Result<MessageFile> set_flags(const MessageFile& m, std::string_view new_maildir_flags);
  // The message as its file is named now: another Maildir reader may have
  // changed its flags since `m` was seen. ENOENT when it is gone.
  core::Result<MessageFile> current(const MessageFile& m) const;

  // Stores a new message (APPEND): the concatenation of `content_crlf` with
  // LF line ends, as Maildir delivery stores it, named like a delivery
  // (",S=<size>,W=<size with CRLF>") with the Maildir flags `maildir_flags`
  // (as for set_flags) and the modification time `internal_date` (seconds
  // since the epoch: a message's INTERNALDATE is its file's mtime, as with
  // Dovecot). Durable when this returns: the file is written, fsync'd and
  // only then linked into cur/, cur/ is fsync'd, and the message has the
  // next UID in the uidlist (fsync'd too), which is returned (UIDPLUS).
  // Creates the Maildir if it does not exist. Blocks.
  core::Result<std::uint32_t> append(std::span<const std::string_view> content_crlf, std::string_view maildir_flags,
                                     std::int64_t internal_date);

  // Copies `messages` (from this folder) into `destination` (COPY, MOVE's
  // first half): each becomes a new file in the destination's cur/, under
  // a new unique name with the same flags and mtime, as a hard link to the
  // same file where possible, else as a copy (fsync'd); then cur/ is
  // fsync'd and the copies get the destination's next UIDs, in the order of
  // `messages`, which are returned in that order (UIDPLUS COPYUID). All or
  // nothing: on any failure (ENOENT for a message that is gone) nothing is
  // left in the destination. `destination` may be this folder. Blocks.
  core::Result<std::vector<std::uint32_t>> copy_to(const std::vector<MessageFile>& messages, Mailbox& destination);

  // A message's INTERNALDATE: its file's mtime in seconds since the epoch
  // (also when renamed by another reader since); 0 when the file is gone.
  // Blocks (stat).
  std::int64_t internal_date(const MessageFile& m) const;

 private:
  // A message ready to be linked into cur/ under `name` (base name and
  // flags): the data is either in the unnamed file `fd` (O_TMPFILE,
  // fsync'd) or the file `source` (to hard-link).
  struct Staged {
    int fd = -1;
    std::filesystem::path source;
    std::string name;
  };
  // Links `staged` into cur/ in order and gives them the next UIDs, all
  // under the folder lock; on failure unlinks what it linked. Closes no fd.
  core::Result<std::vector<std::uint32_t>> commit(const std::vector<Staged>& staged);

  std::filesystem::path folder_;
};

// POP3's unique-id (RFC 1939 §7) of a message: UID and UIDVALIDITY as 8 hex
// digits each, the form Dovecot uses by default (pop3_uidl_format =
// %08Xu%08Xv), so clients see no change when a mailbox moves between them.
std::string pop3_uidl(std::uint32_t uid_validity, std::uint32_t uid);

}  // namespace poshta::store
