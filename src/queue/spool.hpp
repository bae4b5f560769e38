// queue::Spool: the durable queue on disk, <data_dir>/queue/.
//
//   msg/<id>   the message content (with our Received field), written once
//   env/<id>   its envelope, replaced atomically (tmp/ + rename) on change
//   tmp/       envelopes being replaced
//
// store() writes both files and returns only after a GroupSync flush has
// made them durable: that is what lets the SMTP server reply 250. A crash
// before that leaves files that recover() recognises as incomplete (an
// envelope that does not parse, or content whose size or CRC-32 does not
// match) and removes: their client got no 250 and will retry.
#pragma once

#include <filesystem>
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

  // Writes content (the concatenation of `parts`) and envelope `env` (whose
  // id, size and crc it fills in), then waits for the group flush. Blocks.
  std::error_code store(Envelope& env, std::span<const std::string_view> parts);

  // Replaces the envelope. Not flushed: losing this update in a crash means
  // a recipient is tried again, never that mail is lost.
  std::error_code update(const Envelope& env);

  // Removes a finished message (envelope first, so a crash in between
  // leaves content without envelope, which recover() cleans up).
  void remove(const std::string& id);

  // The content of a queued message, checked against its envelope.
  core::Result<std::string> read_content(const Envelope& env) const;

  struct Recovered {
    std::vector<Envelope> envelopes;
    std::vector<std::string> discarded;  // ids of incomplete entries removed
  };
  // Scans the spool at start-up: returns the complete entries, removes the rest.
  Recovered recover();

  // Every complete entry, for `queue list`.
  std::vector<Envelope> list() const;

 private:
  std::filesystem::path msg_path(const std::string& id) const { return dir_ / "msg" / id; }
  std::filesystem::path env_path(const std::string& id) const { return dir_ / "env" / id; }

  std::filesystem::path dir_;
  core::GroupSync& sync_;
};

std::uint32_t crc32_of(std::span<const std::string_view> parts);

}  // namespace poshta::queue
