#include "core/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <vector>

namespace poshta::core {

std::error_code write_all(int fd, std::span<const std::string_view> parts) {
  std::vector<iovec> iov;
  iov.reserve(parts.size());
  for (auto p : parts) {
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  std::size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<std::size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = ::writev(fd, &iov[first], count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_code(errno);
    }
    auto done = static_cast<std::size_t>(n);
    while (first < iov.size() && done >= iov[first].iov_len) {
      done -= iov[first].iov_len;
      ++first;
    }
    if (done > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + done;
      iov[first].iov_len -= done;
    }
  }
  return {};
}

std::error_code write_new_file(const std::filesystem::path& path, std::span<const std::string_view> parts, Sync sync) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno_code(errno);
  std::error_code ec = write_all(fd, parts);
  if (!ec && sync == Sync::file && ::fsync(fd) != 0) ec = errno_code(errno);
  if (::close(fd) != 0 && !ec) ec = errno_code(errno);
  if (ec) ::unlink(path.c_str());
  return ec;
}

std::error_code replace_file(const std::filesystem::path& path, const std::filesystem::path& tmp,
                             std::span<const std::string_view> parts) {
  ::unlink(tmp.c_str());
  if (auto ec = write_new_file(tmp, parts, Sync::none)) return ec;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    auto ec = errno_code(errno);
    ::unlink(tmp.c_str());
    return ec;
  }
  return {};
}

std::error_code sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_code(errno);
  std::error_code ec;
  if (::fsync(fd) != 0) ec = errno_code(errno);
  ::close(fd);
  return ec;
}

Result<std::string> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno_code(errno);
  std::string out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<std::size_t>(st.st_size));
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      auto ec = errno_code(errno);
      ::close(fd);
      return ec;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return out;
}

std::error_code make_directories(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return {};
  if (path.has_parent_path() && path.parent_path() != path) {
    if (auto e = make_directories(path.parent_path())) return e;
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return errno_code(errno);
  return {};
}

}  // namespace poshta::core
