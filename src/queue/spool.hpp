// queue::Spool: the durable queue on disk, <data_dir>/queue/.
//
//   msg/<id>   the envelope as first written, then the message content (with
//              our Received field); written once, never changed
//   env/<id>   the envelope's later states (recipients tried, deferred,
//              delivered), replaced atomically through tmp/ + rename
//   tmp/       messages being written and envelopes being replaced (emptied at start)
//   incoming/  messages from `poshta sendmail`, written while the server may
//              not run; the server moves them into msg/ (take_incoming)
//
// store() writes tmp/<id>.msg, fsyncs it, renames it to msg/<id>, makes
// the directory entry durable with a GroupSync flush, and only then
// returns: that is what lets the SMTP server reply 250. A crash before
// that leaves at most a file in tmp/, which recover() deletes: its client
// got no 250 and will retry. So a file in msg/ that does not check out (an
// envelope that does not parse, content whose size or CRC-32 does not
// match) is damage, and recover() moves it to corrupt/. Envelope updates
// are not synced: losing one in a crash means a recipient is tried again,
// never that mail is lost.
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "core/group_sync.hpp"
#include "core/result.hpp"
#include "queue/envelope.hpp"

namespace poshta::queue {

class Spool {
 public:
  // Creates the directories if needed. Throws if it cannot (start-up only).
  Spool(std::filesystem::path dir, core::GroupSync& sync);

  const std::filesystem::path& dir() const { return dir_; }

  // A fresh queue id (its files do not exist yet).
  std::string new_id() const;

  // Writes envelope `env` (whose size and crc it fills in) and the content
  // (the concatenation of `parts`), durably. Blocks on fsync.
  std::error_code store(Envelope& env, std::span<const std::string_view> parts);

  // For `poshta sendmail`: writes the message into incoming/ durably (file
  // and directory fsync'd, no server needed). The envelope's id comes from
  // new_id(); its size and CRC are filled in.
  std::error_code store_incoming(Envelope& env, std::span<const std::string_view> parts);

  // For the server: moves what arrived in incoming/ into the spool and
  // returns the envelopes. Broken files are moved aside into corrupt/.
  struct Incoming {
    std::vector<Envelope> taken;
    std::vector<std::string> moved_aside;
  };
  Incoming take_incoming();

  // Records the envelope's new state (atomic replace, not synced).
  std::error_code update(const Envelope& env);

  // Removes a finished message: content first, so a crash in between leaves
  // only a stale env/<id>, which recover() removes.
  void remove(const std::string& id);

  struct Entry {
    Envelope envelope;
    std::string content;
  };
  // A queued message with its latest envelope, checked against size and CRC.
  core::Result<Entry> load(const std::string& id) const;

  // Every complete message, for `poshta queue list` without a server. Reads only.
  std::vector<Envelope> list() const;

  struct Recovered {
    std::vector<Envelope> envelopes;
    std::vector<std::string> moved_aside;  // ids of damaged entries, now in corrupt/
  };
  // Scans the spool at start-up: returns the complete entries and moves
  // damaged ones (which a crash cannot make: entries are renamed into
  // place whole) to corrupt/, out of the queue's way.
  Recovered recover();

 private:
  std::filesystem::path msg_path(const std::string& id) const { return dir_ / "msg" / id; }
  std::filesystem::path env_path(const std::string& id) const { return dir_ / "env" / id; }

  std::filesystem::path dir_;
  core::GroupSync& sync_;
};

std::uint32_t crc32_of(std::span<const std::string_view> parts);

// The stored form of a message, used by the spool files and the journal:
// the envelope (with size and CRC of the content filled in here), then the
// content. stored_header() returns the envelope part.
std::string stored_header(Envelope& env, std::span<const std::string_view> content_parts);
struct StoredMessage {
  Envelope envelope;
  std::string_view content;
};
// nullopt unless the envelope parses and the content matches its size and CRC.
std::optional<StoredMessage> parse_stored(std::string_view stored);

}  // namespace poshta::queue
