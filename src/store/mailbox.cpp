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
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "core/address.hpp"
#include "core/file_lock.hpp"
#include "core/files.hpp"
#include "store/maildir.hpp"

namespace poshta::store {

namespace {

constexpr std::string_view kMagic = "poshta-uidlist 2";
constexpr std::string_view kMagicV1 = "poshta-uidlist 1";  // without MODSEQ and flags: still read
constexpr std::string_view kUnknownFlags = "?";
constexpr std::string_view kInfoSeparator = ":2,";

// The number after ",<key>=" in a Maildir file name, e.g. S=1234.
bool size_field(std::string_view name, char key, std::uint64_t& out) {
  const char text[] = {',', key, '='};
  const std::string_view tag(text, sizeof text);
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

struct UidEntry {
  std::uint32_t uid = 0;
  std::uint64_t modseq = 1;
  std::string flags;  // the Maildir flags when modseq was given; kUnknownFlags from a version 1 file
  std::string base;
};

struct UidList {
  std::uint32_t uid_validity = 0;
  std::uint32_t uid_next = 1;
  std::uint64_t highest_modseq = 1;
  std::uint32_t first_recent = 1;  // messages from this UID on are \Recent for the next session to claim them
  // The mtimes (ns) of new/ and cur/ when they were last listed, if that
  // listing can be trusted while they keep them (see sync()); 0 if not.
  std::uint64_t new_mtime = 0, cur_mtime = 0;
  std::vector<UidEntry> entries;
};

// The first line of a uidlist into `out` (not its entries); `text` is left
// at the second line.
bool parse_head(std::string_view& text, UidList& out, bool& v1) {
  const auto nl = text.find('\n');
  if (nl == std::string_view::npos) return false;
  std::string_view head = text.substr(0, nl);
  text.remove_prefix(nl + 1);
  v1 = head.substr(0, kMagicV1.size()) == kMagicV1;
  if (!v1 && head.substr(0, kMagic.size()) != kMagic) return false;
  head.remove_prefix(kMagic.size());
  unsigned validity = 0, next = 0, first_recent = 0;
  unsigned long long highest = 1, new_mtime = 0, cur_mtime = 0;
  const int fields = std::sscanf(std::string(head).c_str(), " %u %u %llu %u %llu %llu", &validity, &next, &highest,
                                 &first_recent, &new_mtime, &cur_mtime);
  if (fields < (v1 ? 2 : 3) || (v1 && fields > 2) || validity == 0 || next == 0 || highest == 0) return false;
  if (fields == 6) {
    out.new_mtime = new_mtime;
    out.cur_mtime = cur_mtime;
  }
  out.uid_validity = validity;
  out.uid_next = next;
  out.highest_modseq = highest;
  // Without the field (an older file) nothing is recent.
  out.first_recent = fields >= 4 && first_recent >= 1 && first_recent <= next ? first_recent : next;
  return true;
}

// Calls `line(uid, modseq, flags, base)` for each line after the head
// (flags kUnknownFlags in a version 1 file); false if one is malformed or
// `line` says so.
template <typename Line>
bool parse_lines(std::string_view text, const UidList& head, bool v1, Line&& line) {
  // One token off the front of `rest`.
  auto token = [](std::string_view& rest) {
    const auto sp = rest.find(' ');
    const std::string_view t = rest.substr(0, sp);
    rest.remove_prefix(sp == std::string_view::npos ? rest.size() : sp + 1);
    return t;
  };
  while (!text.empty()) {
    const auto end = text.find('\n');
    if (end == std::string_view::npos) return false;  // cut short: not ours to trust
    std::string_view rest = text.substr(0, end);
    text.remove_prefix(end + 1);
    std::uint32_t uid = 0;
    std::uint64_t modseq = 1;
    std::string_view flags = kUnknownFlags;
    const auto uid_text = token(rest);
    if (std::from_chars(uid_text.data(), uid_text.data() + uid_text.size(), uid).ec != std::errc{} || uid == 0 ||
        uid >= head.uid_next) {
      return false;
    }
    if (!v1) {
      const auto modseq_text = token(rest);
      flags = token(rest);
      if (std::from_chars(modseq_text.data(), modseq_text.data() + modseq_text.size(), modseq).ec != std::errc{} ||
          modseq == 0 || modseq > head.highest_modseq || flags.empty()) {
        return false;
      }
      if (flags == "-") flags = {};
    }
    if (rest.empty() || !line(uid, modseq, flags, rest)) return false;
  }
  return true;
}

std::optional<UidList> parse_uidlist(std::string_view text) {
  UidList out;
  bool v1 = false;
  if (!parse_head(text, out, v1)) return std::nullopt;
  const bool whole = parse_lines(text, out, v1, [&out](auto uid, auto modseq, auto flags, auto base) {
    out.entries.push_back({uid, modseq, std::string(flags), std::string(base)});
    return true;
  });
  if (!whole) return std::nullopt;
  return out;
}

std::error_code write_uidlist(const std::filesystem::path& folder, const UidList& list) {
  std::string text(kMagic);
  text += " " + std::to_string(list.uid_validity) + " " + std::to_string(list.uid_next) + " " +
          std::to_string(list.highest_modseq) + " " + std::to_string(list.first_recent) + " " +
          std::to_string(list.new_mtime) + " " + std::to_string(list.cur_mtime) + "\n";
  for (const auto& e : list.entries) {
    text += std::to_string(e.uid) + " " + std::to_string(e.modseq) + " " + (e.flags.empty() ? "-" : e.flags) + " " +
            e.base + "\n";
  }
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

// The lock of one folder's index (poshta-uidlist.lock).
class FolderLock : public core::FileLock {
 public:
  explicit FolderLock(const std::filesystem::path& folder) : core::FileLock(folder / "poshta-uidlist.lock") {}
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

namespace {

constexpr off_t kLargeDirectory = 256 * 1024;  // a cur/ of some thousands of names

std::uint64_t ns_of(const struct timespec& t) {
  return static_cast<std::uint64_t>(t.tv_sec) * 1000000000ull + static_cast<std::uint64_t>(t.tv_nsec);
}

std::uint64_t now_ns() {
  struct timespec t {};
  ::clock_gettime(CLOCK_REALTIME, &t);
  return ns_of(t);
}

struct DirTimes {
  std::uint64_t new_mtime = 0, cur_mtime = 0;  // 0: unknown
  off_t cur_size = 0;                          // of the directory itself: grows with its names
};

DirTimes dir_times(const std::filesystem::path& folder) {
  DirTimes out;
  struct stat n {
  }, c{};
  if (::stat((folder / "new").c_str(), &n) != 0 || ::stat((folder / "cur").c_str(), &c) != 0) return out;
  out.new_mtime = ns_of(n.st_mtim);
  out.cur_mtime = ns_of(c.st_mtim);
  out.cur_size = c.st_size;
  return out;
}

// The messages of a uidlist whose folder is known not to have changed since
// it was listed, made straight from its text: each file is
// "<base>:2,<flags>" with its sizes in the name (as a trusted listing found
// them). nullopt if a line says otherwise.
std::optional<std::vector<MessageFile>> messages_named_by(std::string_view lines, const UidList& head) {
  std::vector<MessageFile> out;
  out.reserve(head.uid_next - 1 < 1000000 ? head.uid_next - 1 : 1000000);
  const bool whole = parse_lines(lines, head, false, [&out](auto uid, auto modseq, auto flags, auto base) {
    if (flags == kUnknownFlags) return false;
    MessageFile& m = out.emplace_back();
    m.uid = uid;
    m.modseq = modseq;
    m.name.reserve(base.size() + kInfoSeparator.size() + flags.size());
    m.name.append(base).append(kInfoSeparator).append(flags);
    return size_field(m.name, 'S', m.size) && size_field(m.name, 'W', m.wire_size);
  });
  if (!whole) return std::nullopt;
  return out;
}

struct Listing {
  std::unordered_map<std::string, MessageFile> files;  // by base name
  // The names can be rebuilt from the uidlist alone (messages_named_by),
  // and the listing began late enough that any later change to new/ or
  // cur/ gives them new mtimes.
  bool trustworthy = false;
};

core::Result<Listing> list_folder(const std::filesystem::path& folder, const DirTimes& times) {
  Listing out;
  // A change right after the mtimes were set could keep them: the kernel
  // takes them from a clock that moves in ticks (a jiffy, at most 10 ms;
  // whole seconds on some file systems). The listing is trusted only if it
  // began a tick after them; a large folder waits out the tick (at most
  // 10 ms) rather than be listed again at its next opening.
  const bool whole_seconds = times.new_mtime % 1000000000ull == 0 && times.cur_mtime % 1000000000ull == 0;
  const std::uint64_t settled =
      std::max(times.new_mtime, times.cur_mtime) + (whole_seconds ? 2000000000ull : 10000000ull);
  std::uint64_t start = now_ns();
  if (start < settled && !whole_seconds && times.cur_size > kLargeDirectory) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(settled - start));
    start = now_ns();
  }
  out.trustworthy = times.new_mtime != 0 && start >= settled;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder / "cur", ec)) {
    MessageFile m;
    m.name = entry.path().filename().string();
    // A line end in a name could not be written to the uidlist: such a file is not mail of ours.
    if (m.name.empty() || m.name[0] == '.' || m.name.find('\n') != std::string::npos) continue;
    if (m.name.find(kInfoSeparator) == std::string::npos) out.trustworthy = false;
    // The size is in the name when Poshta (or Dovecot) wrote it: no stat needed.
    if (!size_field(m.name, 'S', m.size)) {
      out.trustworthy = false;
      std::error_code size_ec;
      m.size = entry.file_size(size_ec);
      if (size_ec) continue;  // gone meanwhile
    }
    if (!size_field(m.name, 'W', m.wire_size)) {
      out.trustworthy = false;
      auto wire = wire_size_of(entry.path(), m.size);
      if (!wire) continue;
      m.wire_size = *wire;
    }
    out.files.emplace(m.base(), std::move(m));
  }
  if (ec) return ec;
  return out;
}

// Brings `list` up to date with the files listed: UIDs kept, expunges and
// flag changes take new MODSEQs (RFC 7162), new files get the next UIDs in
// order of delivery. `messages` gets the folder's messages in UID order.
// Whether `list` changed.
bool match(UidList& list, std::unordered_map<std::string, MessageFile> files, std::vector<MessageFile>& messages) {
  bool changed = false;
  std::vector<UidEntry> kept;
  for (auto& e : list.entries) {
    auto it = files.find(e.base);
    if (it == files.end()) {
      changed = true;  // expunged by someone
      ++list.highest_modseq;
      continue;
    }
    const std::string now = it->second.flags();
    if (e.flags == kUnknownFlags) {
      e.flags = now;
      changed = true;
    } else if (e.flags != now) {
      e.flags = now;
      e.modseq = ++list.highest_modseq;
      changed = true;
    }
    it->second.uid = e.uid;
    it->second.modseq = e.modseq;
    messages.push_back(std::move(it->second));
    files.erase(it);
    kept.push_back(std::move(e));
  }
  // What is left is new: UIDs in order of name, which starts with the delivery time.
  std::vector<MessageFile> fresh;
  for (auto& [base, m] : files) fresh.push_back(std::move(m));
  std::sort(fresh.begin(), fresh.end(),
            [](const MessageFile& a, const MessageFile& b) { return delivered_before(a.name, b.name); });
  for (auto& m : fresh) {
    m.uid = list.uid_next++;
    m.modseq = ++list.highest_modseq;
    kept.push_back({m.uid, m.modseq, m.flags(), m.base()});
    messages.push_back(std::move(m));
    changed = true;
  }
  list.entries = std::move(kept);
  std::sort(messages.begin(), messages.end(), [](const MessageFile& a, const MessageFile& b) { return a.uid < b.uid; });
  return changed;
}

}  // namespace

core::Result<MailboxSnapshot> Mailbox::sync(bool claim_recent) {
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

  const DirTimes times = dir_times(folder_);
  auto text = core::read_file(folder_ / "poshta-uidlist");
  MailboxSnapshot out;
  // A folder whose new/ and cur/ kept the mtimes they had when they were
  // last listed holds the files the uidlist names (as Dovecot trusts its
  // index): a large folder opens without listing cur/, and without a write
  // unless it has recent messages to claim.
  UidList head;
  bool v1 = true;
  std::string_view lines = text ? std::string_view(*text) : std::string_view();
  if (text && parse_head(lines, head, v1) && !v1 && times.new_mtime != 0 && times.new_mtime == head.new_mtime &&
      times.cur_mtime == head.cur_mtime && (!claim_recent || head.first_recent == head.uid_next)) {
    if (auto unchanged = messages_named_by(lines, head)) {
      out.messages = std::move(*unchanged);
      out.uid_validity = head.uid_validity;
      out.uid_next = head.uid_next;
      out.highest_modseq = head.highest_modseq;
      out.first_recent_uid = head.first_recent;
      return out;
    }
  }
  auto listed = list_folder(folder_, times);
  if (!listed) return listed.error();
  std::optional<UidList> known = text ? parse_uidlist(*text) : std::nullopt;
  bool changed = !known;
  UidList list = known ? std::move(*known) : UidList{};
  if (!known) list.uid_validity = new_uid_validity(0);
  // Kept with the list only when the listing can be trusted.
  const std::uint64_t new_mtime = listed->trustworthy ? times.new_mtime : 0;
  const std::uint64_t cur_mtime = listed->trustworthy ? times.cur_mtime : 0;
  if (list.new_mtime != new_mtime || list.cur_mtime != cur_mtime) {
    list.new_mtime = new_mtime;
    list.cur_mtime = cur_mtime;
    changed = true;
  }
  changed = match(list, std::move(listed->files), out.messages) || changed;
  out.first_recent_uid = list.first_recent;
  if (claim_recent && list.first_recent != list.uid_next) {
    list.first_recent = list.uid_next;
    changed = true;
  }
  if (changed) {
    if (auto write_ec = write_uidlist(folder_, list)) return write_ec;
  }
  out.uid_validity = list.uid_validity;
  out.uid_next = list.uid_next;
  out.highest_modseq = list.highest_modseq;
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

// Flags, APPEND and COPY.

namespace {

namespace fs = std::filesystem;

// An open file descriptor, closed with its owner.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Fd& operator=(Fd&& other) noexcept {
    if (this != &other) {
      reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

struct FlagName {
  char letter;
  std::string_view imap;
};
// In the order imap_flags() lists them.
constexpr FlagName kFlagNames[] = {
    {'R', "\\Answered"}, {'F', "\\Flagged"}, {'T', "\\Deleted"}, {'S', "\\Seen"}, {'D', "\\Draft"},
};

bool is_imap_letter(char c) {
  for (const auto& f : kFlagNames) {
    if (f.letter == c) return true;
  }
  return false;
}

// `flags` as Maildir wants them: letters, each once, in ASCII order;
// nullopt if there is anything but letters.
std::optional<std::string> normal_flags(std::string_view flags) {
  std::string out(flags);
  for (char c : out) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) return std::nullopt;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The name in `cur` of the message `m` now: its name in `m`, or another
// with its base name (another reader changed its flags since); nullopt when
// it is gone.
std::optional<std::string> current_name(const fs::path& cur, const MessageFile& m) {
  struct stat st {};
  if (::lstat((cur / m.name).c_str(), &st) == 0) return m.name;
  const std::string base = m.base();
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(cur, ec)) {
    MessageFile f;
    f.name = entry.path().filename().string();
    if (f.base() == base) return f.name;
  }
  return std::nullopt;
}

// The host part of the names Mailbox gives files: this machine's name.
const std::string& local_host() {
  static const std::string host = [] {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return std::string("localhost");
    return maildir_host(buf);
  }();
  return host;
}

// Gives `fd` the modification (and access) time `mtime` and fsyncs it.
std::error_code finish_tmpfile(int fd, const timespec& mtime) {
  const timespec times[2] = {mtime, mtime};
  if (::futimens(fd, times) != 0) return core::errno_code(errno);
  if (::fsync(fd) != 0) return core::errno_code(errno);
  return {};
}

// A new unnamed file in `dir` (O_TMPFILE: a crash leaves nothing behind)
// holding `parts`, with mtime `mtime`, fsync'd.
core::Result<Fd> write_tmpfile(const fs::path& dir, std::span<const std::string_view> parts, const timespec& mtime) {
  Fd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd.get() < 0) return core::errno_code(errno);
  if (auto ec = core::write_all(fd.get(), parts)) return ec;
  if (auto ec = finish_tmpfile(fd.get(), mtime)) return ec;
  return fd;
}

// A copy of the file `source` in a new unnamed file in `dir`, with the
// source's mtime, fsync'd.
core::Result<Fd> copy_tmpfile(const fs::path& dir, const fs::path& source) {
  Fd in(::open(source.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return core::errno_code(errno);
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) return core::errno_code(errno);
  Fd out(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (out.get() < 0) return core::errno_code(errno);
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(in.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return core::errno_code(errno);
    }
    if (n == 0) break;
    const std::string_view part[] = {std::string_view(buf, static_cast<std::size_t>(n))};
    if (auto ec = core::write_all(out.get(), part)) return ec;
  }
  if (auto ec = finish_tmpfile(out.get(), st.st_mtim)) return ec;
  return out;
}

// Links the unnamed file `fd` to `target`.
std::error_code link_tmpfile(int fd, const fs::path& target) {
  // linkat(2) of an O_TMPFILE file through /proc needs no privilege, unlike AT_EMPTY_PATH.
  const std::string proc = "/proc/self/fd/" + std::to_string(fd);
  if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, target.c_str(), AT_SYMLINK_FOLLOW) != 0) {
    return core::errno_code(errno);
  }
  return {};
}

// Makes `target` (in a Maildir's cur/) another name of the message file
// `source` (in a Maildir's cur/): a hard link, found by its base name if it
// was renamed since; a durable copy where no link can be made (another file
// system, too many links).
std::error_code link_message(const fs::path& source, const fs::path& target) {
  fs::path from = source;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (::link(from.c_str(), target.c_str()) == 0) return {};
    if (errno != ENOENT) break;
    MessageFile m;
    m.name = source.filename().string();
    auto now = current_name(source.parent_path(), m);
    if (!now) return core::errno_code(ENOENT);
    from = source.parent_path() / *now;
  }
  if (errno != EXDEV && errno != EMLINK && errno != EPERM && errno != EOPNOTSUPP) return core::errno_code(errno);
  auto copy = copy_tmpfile(target.parent_path().parent_path() / "tmp", from);
  if (!copy) return copy.error();
  return link_tmpfile(copy->get(), target);
}

}  // namespace

std::error_code Mailbox::create(std::uint32_t uid_validity) {
  if (uid_validity == 0) return core::errno_code(EINVAL);
  for (const char* sub : {"cur", "new", "tmp"}) {
    if (auto ec = core::make_directories(folder_ / sub)) return ec;
  }
  FolderLock lock(folder_);
  if (!lock.ok()) return core::errno_code(errno);
  struct stat st {};
  if (::lstat((folder_ / "poshta-uidlist").c_str(), &st) == 0) return core::errno_code(EEXIST);
  UidList list;
  list.uid_validity = uid_validity;
  return write_uidlist(folder_, list);  // its directory fsync makes cur/ new/ tmp/ durable too
}

std::string Mailbox::imap_flags(std::string_view maildir_flags) {
  std::string out;
  for (const auto& f : kFlagNames) {
    if (maildir_flags.find(f.letter) == std::string_view::npos) continue;
    if (!out.empty()) out += ' ';
    out += f.imap;
  }
  return out;
}

std::string Mailbox::maildir_flags(const std::vector<std::string>& imap_flags, std::string_view keep) {
  std::string out;
  for (char c : keep) {
    if (((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) && !is_imap_letter(c)) out += c;
  }
  for (const auto& flag : imap_flags) {
    for (const auto& f : kFlagNames) {
      if (core::iequals(flag, f.imap)) out += f.letter;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

namespace {

constexpr std::size_t kMaxKeywords = 26;  // the letters a-z

std::vector<std::string> read_keywords(const fs::path& folder) {
  std::vector<std::string> out;
  auto text = core::read_file(folder / "dovecot-keywords");
  if (!text) return out;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const auto nl = rest.find('\n');
    const std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    const auto sp = line.find(' ');
    std::size_t index = 0;
    if (sp == std::string_view::npos || std::from_chars(line.data(), line.data() + sp, index).ec != std::errc{} ||
        index >= kMaxKeywords) {
      continue;
    }
    if (out.size() <= index) out.resize(index + 1);
    out[index] = std::string(line.substr(sp + 1));
  }
  return out;
}

}  // namespace

std::vector<std::string> Mailbox::keywords() const {
  return read_keywords(folder_);
}

core::Result<std::string> Mailbox::keyword_letters(const std::vector<std::string>& names, bool create) {
  FolderLock lock(folder_);
  if (!lock.ok()) return core::errno_code(errno);
  auto known = read_keywords(folder_);
  std::string letters;
  bool added = false;
  for (const auto& name : names) {
    auto it = std::find_if(known.begin(), known.end(), [&](const std::string& k) { return core::iequals(k, name); });
    if (it == known.end()) {
      if (!create) continue;
      auto free = std::find(known.begin(), known.end(), std::string());
      if (free == known.end()) {
        if (known.size() >= kMaxKeywords) return core::errno_code(ENOSPC);
        known.push_back(name);
        it = known.end() - 1;
      } else {
        *free = name;
        it = free;
      }
      added = true;
    }
    letters += static_cast<char>('a' + (it - known.begin()));
  }
  if (added) {
    std::string text;
    for (std::size_t i = 0; i < known.size(); ++i) {
      if (!known[i].empty()) text += std::to_string(i) + " " + known[i] + "\n";
    }
    const std::string_view parts[] = {text};
    if (auto ec = core::replace_file(folder_ / "dovecot-keywords", folder_ / "tmp" / "dovecot-keywords.new", parts)) {
      return ec;
    }
  }
  std::sort(letters.begin(), letters.end());
  letters.erase(std::unique(letters.begin(), letters.end()), letters.end());
  return letters;
}

core::Result<MessageFile> Mailbox::current(const MessageFile& m) const {
  auto name = current_name(folder_ / "cur", m);
  if (!name) return core::errno_code(ENOENT);
  MessageFile out = m;
  out.name = std::move(*name);
  return out;
}

core::Result<MessageFile> Mailbox::set_flags(const MessageFile& m, std::string_view new_maildir_flags) {
  const auto flags = normal_flags(new_maildir_flags);
  if (!flags) return core::errno_code(EINVAL);
  const fs::path cur = folder_ / "cur";
  MessageFile out = m;
  out.name = m.base() + std::string(kInfoSeparator) + *flags;
  // No fsync: a crash may lose a flag change, never a message (the file is
  // there under one name or the other, and its base name, so its UID, stays).
  // Dovecot does not sync flag changes of Maildir files either, and a flag
  // change costs a rename only.
  for (int attempt = 0; attempt < 3; ++attempt) {  // another reader may rename it meanwhile
    const auto now = current_name(cur, m);
    if (!now) return core::errno_code(ENOENT);
    if (*now == out.name) return out;
    if (::rename((cur / *now).c_str(), (cur / out.name).c_str()) == 0) return out;
    if (errno != ENOENT) return core::errno_code(errno);
  }
  return core::errno_code(ENOENT);
}

core::Result<std::uint32_t> Mailbox::append(std::span<const std::string_view> content_crlf,
                                            std::string_view maildir_flags, std::int64_t internal_date) {
  const auto flags = normal_flags(maildir_flags);
  if (!flags) return core::errno_code(EINVAL);
  const StoredText stored = stored_text(content_crlf);
  const std::string_view parts[] = {stored.text};
  const timespec mtime{static_cast<time_t>(internal_date), 0};
  auto file = write_tmpfile(folder_ / "tmp", parts, mtime);
  if (!file.ok() && file.error() == std::errc::no_such_file_or_directory) {
    if (auto made = sync(); !made) return made.error();  // a new folder: sync() makes its Maildir
    file = write_tmpfile(folder_ / "tmp", parts, mtime);
  }
  if (!file) return file.error();
  std::vector<Staged> staged(1);
  staged[0].fd = file->get();
  staged[0].name =
      unique_name(local_host(), stored.text.size(), stored.wire_size) + std::string(kInfoSeparator) + *flags;
  auto uids = commit(staged);
  if (!uids) return uids.error();
  return uids->front();
}

core::Result<std::vector<std::uint32_t>> Mailbox::copy_to(const std::vector<MessageFile>& messages,
                                                          Mailbox& destination) {
  if (messages.empty()) return std::vector<std::uint32_t>{};
  const fs::path cur = folder_ / "cur";
  struct stat dest {};
  if (::stat((destination.folder_ / "cur").c_str(), &dest) != 0) {
    if (errno != ENOENT) return core::errno_code(errno);
    if (auto made = destination.sync(); !made) return made.error();
    if (::stat((destination.folder_ / "cur").c_str(), &dest) != 0) return core::errno_code(errno);
  }
  std::vector<Fd> copies;  // hold the unnamed files of copies until they are linked
  copies.reserve(messages.size());
  std::vector<Staged> staged;
  staged.reserve(messages.size());
  for (const auto& m : messages) {
    std::optional<std::string> name;
    struct stat st {};
    for (int attempt = 0; attempt < 3 && !name; ++attempt) {  // another reader may rename it meanwhile
      name = current_name(cur, m);
      if (!name) return core::errno_code(ENOENT);
      if (::stat((cur / *name).c_str(), &st) != 0) {
        if (errno != ENOENT) return core::errno_code(errno);
        name.reset();
      }
    }
    if (!name) return core::errno_code(ENOENT);
    const fs::path source = cur / *name;
    MessageFile now;
    now.name = *name;
    std::uint64_t wire = 0;
    if (!size_field(now.name, 'W', wire)) {
      auto computed = wire_size_of(source, static_cast<std::uint64_t>(st.st_size));
      if (!computed) return computed.error();
      wire = *computed;
    }
    Staged s;
    s.name = unique_name(local_host(), static_cast<std::uint64_t>(st.st_size), wire) + std::string(kInfoSeparator) +
             now.flags();
    if (st.st_dev == dest.st_dev) {
      s.source = source;  // a hard link, made under the destination's lock
    } else {
      auto copy = copy_tmpfile(destination.folder_ / "tmp", source);
      if (!copy) return copy.error();
      s.fd = copy->get();
      copies.push_back(std::move(*copy));
    }
    staged.push_back(std::move(s));
  }
  return destination.commit(staged);
}

std::int64_t Mailbox::internal_date(const MessageFile& m) const {
  const fs::path cur = folder_ / "cur";
  for (int attempt = 0; attempt < 3; ++attempt) {  // another reader may rename it meanwhile
    const auto name = current_name(cur, m);
    if (!name) return 0;
    struct stat st {};
    if (::stat((cur / *name).c_str(), &st) == 0) return st.st_mtim.tv_sec;
    if (errno != ENOENT) return 0;
  }
  return 0;
}

core::Result<std::vector<std::uint32_t>> Mailbox::commit(const std::vector<Staged>& staged) {
  const fs::path cur = folder_ / "cur";
  for (int attempt = 0; attempt < 3; ++attempt) {
    {
      FolderLock lock(folder_);
      if (!lock.ok()) return core::errno_code(errno);
      auto text = core::read_file(folder_ / "poshta-uidlist");
      std::optional<UidList> list = text ? parse_uidlist(*text) : std::nullopt;
      if (list) {
        // UIDs are 32 bits: a folder that has used them all takes no more (RFC 9051 §2.3.1.1).
        if (std::uint64_t{list->uid_next} + staged.size() > std::uint64_t{0xFFFFFFFFu}) {
          return core::errno_code(EOVERFLOW);
        }
        // Linked only now, under the lock: a sync() elsewhere never numbers them first.
        std::vector<fs::path> linked;
        std::error_code ec;
        for (const auto& s : staged) {
          const fs::path target = cur / s.name;
          ec = s.fd >= 0 ? link_tmpfile(s.fd, target) : link_message(s.source, target);
          if (ec) break;
          linked.push_back(target);
        }
        if (!ec) ec = core::sync_directory(cur);
        std::vector<std::uint32_t> uids;
        if (!ec) {
          for (const auto& s : staged) {
            MessageFile f;
            f.name = s.name;
            uids.push_back(list->uid_next);
            list->entries.push_back({list->uid_next++, ++list->highest_modseq, f.flags(), f.base()});
          }
          ec = write_uidlist(folder_, *list);
        }
        if (!ec) return uids;
        // Not acknowledged: take the files out again, so a retry cannot make a duplicate.
        for (const auto& p : linked) ::unlink(p.c_str());
        (void)core::sync_directory(cur);
        return ec;
      }
    }
    // No usable uidlist (a folder never synced, or its map lost): sync()
    // makes one, under the lock it takes itself.
    if (auto made = sync(); !made) return made.error();
  }
  return core::errno_code(EIO);
}

}  // namespace poshta::store
