// GroupSync: group commit. Callers that need "everything I wrote so far is
// durable" call sync(); the first one to find no flush running becomes the
// leader and runs the flush; callers that arrive meanwhile wait, and the
// next leader's flush covers all of them at once. N concurrent callers thus
// cost a handful of flushes instead of N.
//
// Two flushes are used: fdatasync(2) of the queue journal (what a 250
// waits for), and syncfs(2) of the filesystems under data_dir (what the
// queue runner uses to make a whole batch of Maildir files and their
// directory entries durable at once). Since Linux 5.8 syncfs reports
// writeback errors.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <system_error>
#include <vector>

namespace poshta::core {

class GroupSync {
 public:
  using Flush = std::function<std::error_code()>;

  explicit GroupSync(Flush flush) : flush_(std::move(flush)) {}
  GroupSync(const GroupSync&) = delete;
  GroupSync& operator=(const GroupSync&) = delete;

  // Returns once a flush that started after this call has completed, with
  // that flush's error. Blocks.
  std::error_code sync();

  std::uint64_t flushes() const;

 private:
  Flush flush_;
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

// A flush that calls syncfs(2) once for each distinct filesystem holding one
// of `paths` (which must exist). Throws std::runtime_error if one cannot be
// opened (start-up only).
GroupSync::Flush syncfs_flush(const std::vector<std::filesystem::path>& paths);

}  // namespace poshta::core
