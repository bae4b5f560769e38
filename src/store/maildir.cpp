#include "store/maildir.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>

#include <fmt/format.h>

#include "core/address.hpp"
#include "core/files.hpp"

namespace poshta::store {

namespace {

// Never a path outside the mail root.
bool is_safe_address(std::string_view address) {
  const auto parts = core::split_address(address);
  return !parts.local.empty() && !parts.domain.empty() && parts.local.find('/') == std::string_view::npos &&
         parts.domain.find('/') == std::string_view::npos && parts.local.front() != '.' && parts.domain.front() != '.';
}

std::atomic<std::uint64_t> name_counter{0};

}  // namespace

StoredText stored_text(std::span<const std::string_view> parts) {
  std::size_t total = 0;
  for (auto p : parts) total += p.size();
  StoredText out;
  out.text.reserve(total);
  bool cr = false;  // the previous octet was a CR, not yet written
  for (auto p : parts) {
    for (char c : p) {
      if (cr && c != '\n') out.text += '\r';
      cr = c == '\r';
      if (!cr) out.text += c;
    }
  }
  if (cr) out.text += '\r';
  std::size_t lines = 0;
  for (char c : out.text) lines += c == '\n';
  out.wire_size = out.text.size() + lines;
  return out;
}

std::string maildir_host(std::string_view hostname) {
  std::string out;
  for (char c : hostname) {
    if (c == '/')
      out += "\\057";
    else if (c == ':')
      out += "\\072";
    else
      out += c;
  }
  return out;
}

std::string unique_name(std::string_view host, std::uint64_t size, std::uint64_t wire_size) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto sec = std::chrono::duration_cast<std::chrono::seconds>(now).count();
  const auto usec = std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000;
  return fmt::format("{}.M{}P{}Q{}.{},S={},W={}", sec, usec, ::getpid(), ++name_counter, host, size, wire_size);
}

Maildir::Maildir(std::filesystem::path mail_root, const std::string& hostname)
    : root_(std::move(mail_root)), host_(maildir_host(hostname)) {}

std::filesystem::path Maildir::mailbox_dir(std::string_view address) const {
  const auto parts = core::split_address(address);
  return root_ / std::string(parts.domain) / std::string(parts.local);
}

core::Result<Maildir::Pending> Maildir::write(std::string_view address, std::span<const std::string_view> parts) {
  if (!is_safe_address(address)) return core::errno_code(EINVAL);
  const StoredText stored = stored_text(parts);

  const auto dir = mailbox_dir(address);
  int fd = ::open((dir / "tmp").c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    if (auto e = create(address)) return e;
    fd = ::open((dir / "tmp").c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
  }
  if (fd < 0) return core::errno_code(errno);
  Pending pending(fd, dir / "new" / unique_name(host_, stored.text.size(), stored.wire_size));
  const std::string_view out[] = {stored.text};
  if (auto ec = core::write_all(fd, out)) return ec;
  return pending;
}

std::error_code Maildir::create(std::string_view address) {
  if (!is_safe_address(address)) return core::errno_code(EINVAL);
  const auto dir = mailbox_dir(address);
  for (const char* sub : {"cur", "new", "tmp"}) {
    if (auto e = core::make_directories(dir / sub)) return e;
  }
  // New directories are entries in their parents: make them durable too.
  for (const auto& d : {dir, dir.parent_path(), root_}) {
    if (auto e = core::sync_directory(d)) return e;
  }
  return {};
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
