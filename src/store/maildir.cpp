#include "store/maildir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <fmt/format.h>

#include "core/address.hpp"
#include "core/files.hpp"

namespace poshta::store {

namespace {

// CRLF to LF across the concatenation of `parts`; other octets (accepted
// mail has no bare CR or LF) stay as they are.
std::string to_lf(std::span<const std::string_view> parts) {
  std::size_t total = 0;
  for (auto p : parts) total += p.size();
  std::string out;
  out.reserve(total);
  bool cr = false;  // the previous octet was a CR, not yet written
  for (auto p : parts) {
    for (char c : p) {
      if (cr && c != '\n') out += '\r';
      cr = c == '\r';
      if (!cr) out += c;
    }
  }
  if (cr) out += '\r';
  return out;
}

}  // namespace

Maildir::Maildir(std::filesystem::path mail_root, const std::string& hostname) : root_(std::move(mail_root)) {
  for (char c : hostname) {
    if (c == '/')
      host_ += "\\057";
    else if (c == ':')
      host_ += "\\072";
    else
      host_ += c;
  }
}

std::filesystem::path Maildir::mailbox_dir(std::string_view address) const {
  const auto parts = core::split_address(address);
  return root_ / std::string(parts.domain) / std::string(parts.local);
}

std::string Maildir::unique_name(std::size_t size, std::size_t crlf_size) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto sec = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000;
  return fmt::format("{}.M{}P{}Q{}.{},S={},W={}", sec, usec, ::getpid(), ++counter_, host_, size, crlf_size);
}

core::Result<Maildir::Pending> Maildir::write(std::string_view address, std::span<const std::string_view> parts) {
  const auto parts_of = core::split_address(address);
  if (parts_of.local.empty() || parts_of.domain.empty() || parts_of.local.find('/') != std::string_view::npos ||
      parts_of.domain.find('/') != std::string_view::npos || parts_of.local.front() == '.' ||
      parts_of.domain.front() == '.') {
    return core::errno_code(EINVAL);  // never a path outside the mail root
  }
  const std::string text = to_lf(parts);
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';

  const auto dir = mailbox_dir(address);
  int fd = ::open((dir / "tmp").c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    // A new mailbox: create it, and make the new directories durable.
    for (const char* sub : {"cur", "new", "tmp"}) {
      if (auto e = core::make_directories(dir / sub)) return e;
    }
    for (const auto& d : {dir, dir.parent_path(), root_}) {
      if (auto e = core::sync_directory(d)) return e;
    }
    fd = ::open((dir / "tmp").c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  }
  if (fd < 0) return core::errno_code(errno);
  Pending pending(fd, dir / "new" / unique_name(text.size(), text.size() + lines));
  const std::string_view out[] = {text};
  if (auto ec = core::write_all(fd, out)) return ec;
  return pending;
}

std::error_code Maildir::publish(const Pending& pending) {
  // linkat(2) of an O_TMPFILE file through /proc needs no privilege, unlike AT_EMPTY_PATH.
  const std::string proc = "/proc/self/fd/" + std::to_string(pending.fd_);
  if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, pending.destination_.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return core::errno_code(errno);
  }
  return {};
}

Maildir::Pending::~Pending() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace poshta::store
