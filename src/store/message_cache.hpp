// store::MessageCache: facts a reader computed from a message's file (for
// IMAP: ENVELOPE, BODYSTRUCTURE, decoded header fields), kept beside the
// uidlist in <folder>/poshta-cache so that later sessions, also after a
// restart, answer from it instead of reading and parsing every file again.
//
// A cache, never the truth: anything wrong with it (lost, cut short by a
// crash, another UIDVALIDITY or another `schema`) only costs a file read.
// The file is "poshta-cache 1 <uidvalidity> <schema>\n" and then records
// appended in any order: <u32 length><u32 crc32><payload>, the payload
// being <u32 uid><u16 base length><base name><u16 count>(<u32 length><field>)*
// (host byte order). A record names its message by UID and base name (the
// part of the file name that never changes), so a UID given again after a
// lost uidlist never finds another message's facts. Writers append whole
// records under an exclusive flock on the file; readers take a shared one
// while they scan what was appended. Records are read with pread, not
// mmap, so nothing done to the file from outside can fault the server. When
// most records belong to expunged messages the file is rewritten
// (compact()) and renamed into place; the others see the new inode at
// their next refresh() or flush() and reopen it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/mailbox.hpp"

namespace poshta::store {

class MessageCache {
 public:
  // `schema` names the meaning of the fields; a file made under another
  // schema or UIDVALIDITY is started anew. Opens (or creates) the file and
  // reads its index; a cache that cannot be opened finds nothing. Blocks.
  MessageCache(std::filesystem::path folder, std::string schema, std::uint32_t uid_validity);
  ~MessageCache();
  MessageCache(const MessageCache&) = delete;
  MessageCache& operator=(const MessageCache&) = delete;

  // The fields stored for the message, or nullopt. The views stay valid
  // until the next call of any member. Blocks (pread).
  std::optional<std::vector<std::string_view>> find(std::uint32_t uid, std::string_view base);

  // Queues a record; flush() writes it (add() flushes by itself once a
  // megabyte is queued).
  void add(std::uint32_t uid, std::string_view base, std::span<const std::string> fields);
  // Appends the queued records to the file, then refresh()es. A failure
  // (disk full) only loses the records. Blocks.
  void flush();
  // Takes in the records other sessions appended since. Blocks.
  void refresh();
  // Rewrites the file with the records of `live` alone when more than half
  // of it (and more than a few hundred records) is for other messages. Blocks.
  void compact(std::span<const MessageFile> live);

  // Records indexed (one per UID).
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::uint32_t uid;
    std::uint64_t offset;  // of the record in the file
  };
  const Entry* entry(std::uint32_t uid) const;
  void open_file();
  void close_file();
  void scan();            // indexes whole records from scanned_ to the end of the file
  bool replaced() const;  // the path names another inode than fd_ (compacted meanwhile)
  // The record at `offset` (payload, CRC checked), read through window_.
  std::optional<std::string_view> record_at(std::uint64_t offset);
  std::string header() const;
  // Puts a new file with `content` in place of the cache file (the old one
  // stays with whoever has it open). False if it could not be written.
  bool replace_with(std::string_view content);

  std::filesystem::path folder_;
  std::filesystem::path path_;
  std::string schema_;
  std::uint32_t uid_validity_;
  int fd_ = -1;
  std::uint64_t scanned_ = 0;   // end of the last whole record indexed
  std::vector<Entry> entries_;  // by UID; the last record of a UID wins
  std::string pending_;         // records added, not yet written
  std::string window_;          // file octets read ahead, from window_start_
  std::uint64_t window_start_ = 0;
};

}  // namespace poshta::store
