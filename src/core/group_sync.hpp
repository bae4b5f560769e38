// GroupSync: group commit of directory entries under data_dir.
//
// A writer fsyncs its own file's data (concurrently with other writers),
// links or renames it into place, then calls sync() to make that directory
// entry durable. The first caller to find no flush running becomes the
// leader and calls syncfs(2) on each filesystem that holds the spool or the
// mailboxes; callers that arrive meanwhile wait, and the next leader's flush
// covers all of them at once. So N concurrent deliveries cost N data fsyncs
// (which need no coordination) and a handful of directory flushes instead
// of N directory fsyncs, which contend for the directory's lock. Measured on
// this project's machines (ext4, 10 KiB messages into one mailbox, 10
// sessions): ~2,700 msg/s this way against ~1,500 msg/s with an fsync of
// new/ per message. Since Linux 5.8 syncfs reports writeback errors.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <vector>

namespace poshta::core {

class GroupSync {
 public:
  // One fd per distinct filesystem among `paths` (which must exist).
  explicit GroupSync(const std::vector<std::filesystem::path>& paths);
  ~GroupSync();
  GroupSync(const GroupSync&) = delete;
  GroupSync& operator=(const GroupSync&) = delete;

  // Returns once everything written before the call is on stable storage,
  // or the error of the flush that should have covered it. Blocks.
  std::error_code sync();

  std::uint64_t flushes() const;

 private:
  std::error_code flush_all();

  std::vector<int> fds_;
  mutable std::mutex mutex_;
  std::condition_variable done_;
  std::uint64_t requested_ = 0;  // tickets handed out
  std::uint64_t completed_ = 0;  // every ticket <= completed_ is covered
  struct Failure {
    std::uint64_t from, to;  // tickets the failed flush covered
    std::error_code ec;
  };
  std::vector<Failure> failures_;   // recent failed flushes; rare
  std::uint64_t forgotten_to_ = 0;  // failures at or below this were pruned: fail closed
  bool running_ = false;
  std::uint64_t flushes_ = 0;
};

}  // namespace poshta::core
