// store::Folders: a user's folders, a Maildir++ tree rooted at
// <mail>/<domain>/<local>/ (docs/SPEC.md, "Files on disk"): INBOX is the
// root's cur/ new/ tmp/, and the folder "Name" is the Maildir ".Name/"
// beside them, with '.' as the hierarchy delimiter ("Archive.2026" is
// ".Archive.2026/"). The tree is flat on disk: a folder's parent need not
// exist, and removing a folder leaves its children (RFC 9051 §6.3.5).
//
// Names in this interface are UTF-8; on disk they are IMAP's modified UTF-7
// (RFC 3501 §5.1.3), as Dovecot stores them, so ".Entw&APw-rfe" is
// "Entwürfe". "INBOX" is the root, in any case ("inbox" is INBOX, and so is
// the first part of "Inbox.Old").
//
// Subscriptions are kept in <root>/subscriptions as Dovecot's file: one
// name per line, in modified UTF-7 (Dovecot's version 2 form, with a "V\t2"
// header and tabs for the delimiter, is read too, and written back in the
// plain form).
//
// Every operation blocks (directory scans, fsync) and reports failure as
// an std::error_code: EINVAL for a name that is not allowed, ENOENT for a
// folder that does not exist, EEXIST for one that does, EPERM for what
// cannot be done to INBOX. Safe against concurrent sessions: folders are
// created, renamed and removed with single renames, and subscriptions are
// changed under an flock.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/result.hpp"

namespace poshta::store {

struct FolderInfo {
  std::string name;           // UTF-8, "INBOX" for the root
  bool exists = true;         // false: not a folder, only the parent of one (LIST's \NonExistent, \Noselect)
  bool has_children = false;  // some folder's name is this one's, '.', more (LIST's \HasChildren)
};

class Folders {
 public:
  // `root`: the user's Maildir++ root, <mail>/<domain>/<local>.
  explicit Folders(std::filesystem::path root) : root_(std::move(root)) {}

  const std::filesystem::path& root() const { return root_; }

  // Every folder: INBOX first, then the others sorted by name (octets of
  // UTF-8), each parent a child implies included with exists = false.
  // Directories whose names are not valid modified UTF-7 or not allowed
  // names are not listed.
  core::Result<std::vector<FolderInfo>> list() const;

  // Whether the folder exists (INBOX always does).
  bool exists(std::string_view name) const;

  // Makes the folder: its Maildir (cur/ new/ tmp/) and the empty
  // "maildirfolder" file Maildir++ wants, made in a scratch directory and
  // renamed into place, durably. A name is allowed when it is not empty, at
  // most 255 octets (also on disk), well-formed UTF-8, without '/' or
  // control characters, and without empty parts (no leading or trailing
  // '.', no ".."). Its parents need not exist and are not made.
  std::error_code create(std::string_view name);

  // Removes the folder and its messages; its children stay. It is first
  // renamed to a name no Maildir++ reader lists (durably), then deleted, so a
  // crash never leaves half a folder visible. INBOX: EPERM.
  std::error_code remove(std::string_view name);

  // Renames the folder and its children: "A" -> "B" moves "A.x" to "B.x"
  // too. EEXIST when `to` or any of the new names exists; EINVAL when `to`
  // is inside `from`. Renaming INBOX (RFC 9051 §6.3.6) makes the folder `to`
  // and moves every message of INBOX into it, leaving INBOX empty; INBOX's
  // children stay. Subscriptions are not changed (a server must not drop
  // subscribed names on its own, RFC 9051 §6.3.7).
  std::error_code rename(std::string_view from, std::string_view to);

  // The Maildir of the folder (the root for INBOX), whether or not it exists.
  core::Result<std::filesystem::path> folder_path(std::string_view name) const;

  // The subscribed names, in the file's order (a missing file: none).
  core::Result<std::vector<std::string>> subscriptions() const;
  // Adds `name` (it need not exist); already subscribed is fine. The file
  // is replaced atomically and durably (written, fsync'd, renamed,
  // directory fsync'd).
  std::error_code subscribe(std::string_view name);
  // Removes `name`; not subscribed is fine.
  std::error_code unsubscribe(std::string_view name);

  // Makes the SPECIAL-USE folders (RFC 6154) Sent, Drafts, Trash, Junk and
  // Archive where they are missing, subscribing those it makes. Idempotent.
  std::error_code ensure_special_use();
  // "\\Sent", "\\Drafts", "\\Trash", "\\Junk" or "\\Archive" for those five
  // names; "" for any other.
  static std::string_view special_use(std::string_view name);

 private:
  std::filesystem::path root_;
};

}  // namespace poshta::store
