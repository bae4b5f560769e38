// imap::Backend: carries out a logged-in user's mailbox commands against
// the store: folders (store::Folders), the selected mailbox (store::Mailbox
// with its UID map) and message contents (mime/ for FETCH and SEARCH). It
// blocks (directory scans, file reads, fsync): the transport runs it off the
// event loop. One per session; it keeps the selected mailbox's view, so it
// can tell the client what changed (EXISTS, EXPUNGE, FETCH FLAGS) at the
// points RFC 9051 §7 allows.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "imap/command.hpp"

namespace poshta::imap {

class Backend {
 public:
  // `root`: the user's Maildir++ root (INBOX).
  Backend(std::filesystem::path root, std::uint64_t append_limit);
  ~Backend();
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  struct Result {
    std::string untagged;    // complete lines, CRLF-terminated
    std::string completion;  // "OK ...", "NO ...", "BAD ..." (the session adds the tag)
    // The answer goes on: `untagged` is a piece of it (no completion yet);
    // send it and call resume() for the next. Large FETCHes come so.
    bool more = false;
  };
  Result execute(const Command& command);
  Result resume();
  // Changes to the selected mailbox made elsewhere, as untagged responses
  // (for NOOP, IDLE and after commands that may report them).
  std::string poll();
  bool selected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace poshta::imap
