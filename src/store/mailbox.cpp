#include "store/mailbox.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "core/files.hpp"

namespace poshta::store {

namespace {

constexpr std::string_view kMagic = "poshta-uidlist 1";
constexpr std::string_view kInfoSeparator = ":2,";

// The number after ",<key>=" in a Maildir file name, e.g. S=1234.
bool size_field(std::string_view name, char key, std::uint64_t& out) {
  const std::string tag = std::string(",") + key + "=";
  const auto end_of_base = name.find(kInfoSeparator);
  const std::string_view base = name.substr(0, end_of_base);
  const auto pos = base.find(tag);
  if (pos == std::string_view::npos) return false;
  const char* first = base.data() + pos + tag.size();
  const char* last = base.data() + base.size();
  auto [end, ec] = std::from_chars(first, last, out);
  return ec == std::errc{} && end != first;
}

// Octets with CRLF line ends: one more per LF not preceded by CR.
core::Result<std::uint64_t> wire_size_of(const std::filesystem::path& path, std::uint64_t size) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return core::errno_code(errno);
  std::uint64_t extra = 0;
  char buf[65536];
  char prev = 0;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      const int e = errno;
      ::close(fd);
      return core::errno_code(e);
    }
    if (n == 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] == '\n' && prev != '\r') ++extra;
      prev = buf[i];
    }
  }
  ::close(fd);
  return size + extra;
}

struct UidList {
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 1;
  std::vector<std::pair<std::uint32_t, std::string>> entries;  // uid, base name
};

std::optional<UidList> parse_uidlist(std::string_view text) {
  UidList out;
  const auto nl = text.find('\n');
  if (nl == std::string_view::npos) return std::nullopt;
  std::string_view head = text.substr(0, nl);
  text.remove_prefix(nl + 1);
  if (head.substr(0, kMagic.size()) != kMagic) return std::nullopt;
  head.remove_prefix(kMagic.size());
  unsigned validity = 0, next = 0;
  if (std::sscanf(std::string(head).c_str(), " %u %u", &validity, &next) != 2 || validity == 0 || next == 0) {
    return std::nullopt;
  }
  out.uid_validity = validity;
  out.uid_next = next;
  while (!text.empty()) {
    const auto end = text.find('\n');
    if (end == std::string_view::npos) return std::nullopt;  // cut short: not ours to trust
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end + 1);
    const auto sp = line.find(' ');
    std::uint32_t uid = 0;
    if (sp == std::string_view::npos || std::from_chars(line.data(), line.data() + sp, uid).ec != std::errc{} ||
        uid == 0 || uid >= out.uid_next) {
      return std::nullopt;
    }
    out.entries.emplace_back(uid, std::string(line.substr(sp + 1)));
  }
  return out;
}

std::error_code write_uidlist(const std::filesystem::path& folder, const UidList& list) {
  std::string text(kMagic);
  text += " " + std::to_string(list.uid_validity) + " " + std::to_string(list.uid_next) + "\n";
  for (const auto& [uid, base] : list.entries) text += std::to_string(uid) + " " + base + "\n";
  const auto tmp = folder / "poshta-uidlist.tmp";
  ::unlink(tmp.c_str());
  const std::string_view parts[] = {text};
  if (auto ec = core::write_new_file(tmp, parts, core::Sync::file)) return ec;
  if (::rename(tmp.c_str(), (folder / "poshta-uidlist").c_str()) != 0) return core::errno_code(errno);
  return core::sync_directory(folder);
}

// A UIDVALIDITY that differs from any this folder had: the time, and never
// less than one more than the last (RFC 9051 §2.3.1.1).
std::uint32_t new_uid_validity(std::uint32_t previous) {
  const auto now = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  return std::max(now, previous + 1);
}

// The digits at the start of `s`, taken off it.
std::string_view take_digits(std::string_view& s) {
  std::size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  const std::string_view out = s.substr(0, n);
  s.remove_prefix(n);
  return out;
}

// Compares two strings of digits as numbers, of any length.
int compare_numbers(std::string_view a, std::string_view b) {
  while (!a.empty() && a.front() == '0') a.remove_prefix(1);
  while (!b.empty() && b.front() == '0') b.remove_prefix(1);
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return a.compare(b);
}

// Order of delivery: Maildir names start "<seconds>.M<microseconds>", and
// neither is zero-padded, so they are compared as numbers; then the name.
bool delivered_before(std::string_view a, std::string_view b) {
  std::string_view ra = a, rb = b;
  if (const int c = compare_numbers(take_digits(ra), take_digits(rb))) return c < 0;
  const auto usec = [](std::string_view rest) {
    if (rest.substr(0, 2) != ".M") return std::string_view();
    rest.remove_prefix(2);
    return take_digits(rest);
  };
  if (const int c = compare_numbers(usec(ra), usec(rb))) return c < 0;
  return a < b;
}

class FolderLock {
 public:
  explicit FolderLock(const std::filesystem::path& folder)
      : fd_(::open((folder / "poshta-uidlist.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

}  // namespace

std::string MessageFile::base() const {
  return name.substr(0, name.find(kInfoSeparator));
}

std::string MessageFile::flags() const {
  const auto pos = name.find(kInfoSeparator);
  return pos == std::string::npos ? std::string() : name.substr(pos + kInfoSeparator.size());
}

std::string pop3_uidl(std::uint32_t uid_validity, std::uint32_t uid) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%08X%08X", uid, uid_validity);
  return buf;
}

core::Result<MailboxSnapshot> Mailbox::sync() {
  for (const char* sub : {"cur", "new", "tmp"}) {
    if (auto ec = core::make_directories(folder_ / sub)) return ec;
  }
  FolderLock lock(folder_);
  if (!lock.ok()) return core::errno_code(errno);

  // New mail first: new/<name> becomes cur/<name>:2, (no flags yet).
  bool moved = false;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder_ / "new", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    const std::string target =
        name.find(kInfoSeparator) == std::string::npos ? name + std::string(kInfoSeparator) : name;
    if (::rename(entry.path().c_str(), (folder_ / "cur" / target).c_str()) == 0) moved = true;
  }
  if (ec) return ec;
  if (moved) {
    if (auto sync_ec = core::sync_directory(folder_ / "cur")) return sync_ec;
    if (auto sync_ec = core::sync_directory(folder_ / "new")) return sync_ec;
  }

  std::unordered_map<std::string, MessageFile> files;  // by base name
  for (const auto& entry : std::filesystem::directory_iterator(folder_ / "cur", ec)) {
    MessageFile m;
    m.name = entry.path().filename().string();
    // A line end in a name could not be written to the uidlist: such a file is not mail of ours.
    if (m.name.empty() || m.name[0] == '.' || m.name.find('\n') != std::string::npos) continue;
    std::error_code size_ec;
    m.size = entry.file_size(size_ec);
    if (size_ec) continue;  // gone meanwhile
    if (!size_field(m.name, 'W', m.wire_size)) {
      auto wire = wire_size_of(entry.path(), m.size);
      if (!wire) continue;
      m.wire_size = *wire;
    }
    files.emplace(m.base(), std::move(m));
  }
  if (ec) return ec;

  UidList list;
  bool changed = false;
  auto text = core::read_file(folder_ / "poshta-uidlist");
  std::optional<UidList> known = text ? parse_uidlist(*text) : std::nullopt;
  if (known) {
    list = std::move(*known);
  } else {
    list.uid_validity = new_uid_validity(0);
    changed = true;
  }

  MailboxSnapshot out;
  std::vector<std::pair<std::uint32_t, std::string>> kept;
  for (auto& [uid, base] : list.entries) {
    auto it = files.find(base);
    if (it == files.end()) {
      changed = true;  // expunged by someone
      continue;
    }
    it->second.uid = uid;
    out.messages.push_back(std::move(it->second));
    files.erase(it);
    kept.emplace_back(uid, std::move(base));
  }
  // What is left is new: UIDs in order of name, which starts with the delivery time.
  std::vector<MessageFile> fresh;
  for (auto& [base, m] : files) fresh.push_back(std::move(m));
  std::sort(fresh.begin(), fresh.end(),
            [](const MessageFile& a, const MessageFile& b) { return delivered_before(a.name, b.name); });
  for (auto& m : fresh) {
    m.uid = list.uid_next++;
    kept.emplace_back(m.uid, m.base());
    out.messages.push_back(std::move(m));
    changed = true;
  }
  list.entries = std::move(kept);
  std::sort(out.messages.begin(), out.messages.end(),
            [](const MessageFile& a, const MessageFile& b) { return a.uid < b.uid; });
  if (changed) {
    if (auto write_ec = write_uidlist(folder_, list)) return write_ec;
  }
  out.uid_validity = list.uid_validity;
  out.uid_next = list.uid_next;
  return out;
}

core::Result<int> Mailbox::open_message(const MessageFile& m) const {
  int fd = ::open(path_of(m).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) return fd;
  if (errno != ENOENT) return core::errno_code(errno);
  std::error_code ec;
  const std::string base = m.base();
  for (const auto& entry : std::filesystem::directory_iterator(folder_ / "cur", ec)) {
    MessageFile f;
    f.name = entry.path().filename().string();
    if (f.base() != base) continue;
    fd = ::open(entry.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return fd;
  }
  return core::errno_code(ENOENT);
}

std::error_code Mailbox::remove(const std::vector<MessageFile>& messages) {
  std::unordered_set<std::string> moved;  // not under the snapshot's name: maybe renamed with new flags since
  for (const auto& m : messages) {
    if (::unlink(path_of(m).c_str()) == 0) continue;
    if (errno != ENOENT) return core::errno_code(errno);
    moved.insert(m.base());
  }
  if (!moved.empty()) {
    std::error_code ec;
    for (const auto& entry : std::filesystem::directory_iterator(folder_ / "cur", ec)) {
      MessageFile f;
      f.name = entry.path().filename().string();
      if (moved.count(f.base()) && ::unlink(entry.path().c_str()) != 0 && errno != ENOENT) {
        return core::errno_code(errno);
      }
    }
    if (ec) return ec;
  }
  return core::sync_directory(folder_ / "cur");
}

}  // namespace poshta::store
