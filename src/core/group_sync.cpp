#include "core/group_sync.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <stdexcept>

namespace poshta::core {

std::error_code GroupSync::sync() {
  std::unique_lock lock(mutex_);
  const std::uint64_t ticket = ++requested_;
  while (completed_ < ticket) {
    if (running_) {
      done_.wait(lock);
      continue;
    }
    // Lead a flush covering every ticket handed out so far.
    running_ = true;
    const std::uint64_t from = completed_ + 1;
    const std::uint64_t to = requested_;
    lock.unlock();
    const std::error_code ec = flush_();
    lock.lock();
    running_ = false;
    completed_ = to;
    ++flushes_;
    if (ec) {
      failures_.push_back({from, to, ec});
      if (failures_.size() > 256) {
        forgotten_to_ = failures_.front().to;
        failures_.erase(failures_.begin());
      }
    }
    done_.notify_all();
  }
  for (const auto& f : failures_) {
    if (ticket >= f.from && ticket <= f.to) return f.ec;
  }
  if (ticket <= forgotten_to_ && !failures_.empty()) return failures_.front().ec;
  return {};
}

std::uint64_t GroupSync::flushes() const {
  std::lock_guard lock(mutex_);
  return flushes_;
}

GroupSync::Flush syncfs_flush(const std::vector<std::filesystem::path>& paths) {
  struct Fds {
    std::vector<int> fds;
    ~Fds() {
      for (int fd : fds) ::close(fd);
    }
  };
  auto owned = std::make_shared<Fds>();
  std::vector<dev_t> devices;
  for (const auto& p : paths) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + p.string() + " for syncing");
    struct stat st {};
    ::fstat(fd, &st);
    bool seen = false;
    for (dev_t d : devices) seen = seen || d == st.st_dev;
    if (seen) {
      ::close(fd);
      continue;
    }
    devices.push_back(st.st_dev);
    owned->fds.push_back(fd);
  }
  return [owned]() -> std::error_code {
    for (int fd : owned->fds) {
      if (::syncfs(fd) != 0) return {errno, std::generic_category()};
    }
    return {};
  };
}

}  // namespace poshta::core
