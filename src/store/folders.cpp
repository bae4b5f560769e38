#include "store/folders.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <set>

#include "core/file_lock.hpp"
#include "core/files.hpp"
#include "store/mailbox.hpp"
#include "store/mutf7.hpp"

namespace poshta::store {

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kInbox = "INBOX";
constexpr std::string_view kSubscriptions = "subscriptions";
constexpr std::string_view kSubscriptionsV2 = "V\t2\n\n";  // Dovecot's version 2 header
constexpr std::string_view kLock = "poshta-folders.lock";
constexpr std::string_view kUidValidity = "poshta-uidvalidity";
// Scratch directories in the root; without a leading '.', no Maildir++ reader takes them for folders.
constexpr std::string_view kCreating = "poshta-new.";
constexpr std::string_view kDeleting = "poshta-deleted.";
constexpr std::size_t kMaxName = 255;

struct SpecialUse {
  std::string_view name;
  std::string_view attribute;
};
constexpr SpecialUse kSpecialUse[] = {
    {"Sent", "\\Sent"}, {"Drafts", "\\Drafts"}, {"Trash", "\\Trash"}, {"Junk", "\\Junk"}, {"Archive", "\\Archive"},
};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_inbox(std::string_view name) {
  return equal_ignoring_case(name, kInbox);
}

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// `name` if it is an allowed folder name (see Folders::create), with a
// first part that is INBOX in any case written "INBOX"; EINVAL otherwise.
core::Result<std::string> checked_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxName) return core::errno_code(EINVAL);
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '/') return core::errno_code(EINVAL);
  }
  if (name.front() == '.' || name.back() == '.' || name.find("..") != std::string_view::npos) {
    return core::errno_code(EINVAL);
  }
  const std::string disk = utf8_to_mutf7(name);
  if (mutf7_to_utf8(disk) != name) return core::errno_code(EINVAL);  // not well-formed UTF-8
  if (disk.size() + 1 > kMaxName) return core::errno_code(EINVAL);   // ".<name>" must fit a file name
  const std::string_view first = name.substr(0, name.find('.'));
  if (is_inbox(first)) return std::string(kInbox) + std::string(name.substr(first.size()));
  return std::string(name);
}

// The directory name of a checked folder name other than INBOX.
std::string disk_name(std::string_view name) {
  return "." + utf8_to_mutf7(name);
}

// The folder name of a directory name in the root, if it is one.
std::optional<std::string> folder_name(std::string_view disk) {
  if (disk.size() < 2 || disk.front() != '.') return std::nullopt;
  auto name = mutf7_to_utf8(disk.substr(1));
  if (!name) return std::nullopt;
  auto checked = checked_name(*name);
  // ".inbox.x" is no folder of ours: "INBOX.x" is ".INBOX.x".
  if (!checked || *checked != *name || is_inbox(*name)) return std::nullopt;
  return name;
}

bool is_dir(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool exists_at(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0;
}

// A name for a scratch directory: `prefix`, then unique within the host.
std::string scratch_name(std::string_view prefix) {
  static std::atomic<std::uint64_t> counter{0};
  const auto ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return std::string(prefix) + std::to_string(ns) + "." + std::to_string(::getpid()) + "." + std::to_string(++counter);
}

// Replaces `path` with `text` atomically and durably: a temporary file,
// fsync'd, renamed over it, the directory fsync'd. Callers hold the lock.
std::error_code write_atomically(const fs::path& path, std::string_view text) {
  const fs::path tmp = path.parent_path() / ("poshta-" + path.filename().string() + ".tmp");
  ::unlink(tmp.c_str());
  const std::string_view parts[] = {text};
  if (auto ec = core::write_new_file(tmp, parts, core::Sync::file)) return ec;
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const auto ec = core::errno_code(errno);
    ::unlink(tmp.c_str());
    return ec;
  }
  return core::sync_directory(path.parent_path());
}

// An flock on <root>/poshta-folders.lock: subscriptions and the UIDVALIDITY counter.
class RootLock : public core::FileLock {
 public:
  explicit RootLock(const fs::path& root) : core::FileLock(root / kLock) {}
};

// Makes the root if it is missing, durably.
std::error_code ensure_root(const fs::path& root) {
  if (is_dir(root)) return {};
  if (auto ec = core::make_directories(root)) return ec;
  for (const auto& d : {root.parent_path(), root.parent_path().parent_path()}) {
    if (auto ec = core::sync_directory(d)) return ec;
  }
  return {};
}

// A UIDVALIDITY for a new folder: greater than any given to a folder before
// (<root>/poshta-uidvalidity keeps the last, as Dovecot's
// dovecot-uidvalidity does) and than the clock, which a folder made by
// Mailbox::sync() takes; so a folder made again under a former name never
// gets that one's UIDVALIDITY (RFC 9051 §6.3.5, §6.3.6).
core::Result<std::uint32_t> next_uid_validity(const fs::path& root) {
  RootLock lock(root);
  if (!lock.ok()) return core::errno_code(errno);
  std::uint32_t last = 0;
  if (auto text = core::read_file(root / kUidValidity)) {
    const auto& t = *text;
    std::from_chars(t.data(), t.data() + t.size(), last);
  }
  const auto now = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::uint32_t next = std::max(now + 1, last + 1);
  if (auto ec = write_atomically(root / kUidValidity, std::to_string(next) + "\n")) return ec;
  return next;
}

// The lines of the subscriptions file (names on disk, '.' between parts).
core::Result<std::vector<std::string>> read_subscriptions(const fs::path& root) {
  std::vector<std::string> out;
  auto text = core::read_file(root / kSubscriptions);
  if (!text) {
    if (text.error() == std::errc::no_such_file_or_directory) return out;
    return text.error();
  }
  std::string_view rest = *text;
  const bool v2 = starts_with(rest, kSubscriptionsV2);
  if (v2) rest.remove_prefix(kSubscriptionsV2.size());
  while (!rest.empty()) {
    const auto end = std::min(rest.find('\n'), rest.size());
    std::string line(rest.substr(0, end));
    rest.remove_prefix(std::min(end + 1, rest.size()));
    if (v2) std::replace(line.begin(), line.end(), '\t', '.');
    if (!line.empty()) out.push_back(std::move(line));
  }
  return out;
}

std::error_code write_subscriptions(const fs::path& root, const std::vector<std::string>& lines) {
  std::string text;
  for (const auto& line : lines) text += line + "\n";
  return write_atomically(root / kSubscriptions, text);
}

// A subscriptions line stands for the checked name `name`.
bool line_names(std::string_view line, std::string_view name) {
  const auto utf8 = mutf7_to_utf8(line);
  if (!utf8) return false;
  const auto checked = checked_name(*utf8);
  return checked && *checked == name;
}

// Adds `add` to the subscriptions (lines not there yet); under the lock.
std::error_code add_subscriptions(const fs::path& root, const std::vector<std::string>& add) {
  if (auto ec = ensure_root(root)) return ec;
  RootLock lock(root);
  if (!lock.ok()) return core::errno_code(errno);
  auto lines = read_subscriptions(root);
  if (!lines) return lines.error();
  bool changed = false;
  for (const auto& name : add) {
    if (std::any_of(lines->begin(), lines->end(), [&](const std::string& l) { return line_names(l, name); })) continue;
    lines->push_back(is_inbox(name) ? std::string(kInbox) : utf8_to_mutf7(name));
    changed = true;
  }
  return changed ? write_subscriptions(root, *lines) : std::error_code{};
}

// Deletes what is left of folders removed (a crash between the rename and
// the deletion) and of creations that never finished (an hour old: not one
// in progress).
void sweep(const fs::path& root) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    std::error_code ignored;
    if (starts_with(name, kDeleting)) {
      fs::remove_all(entry.path(), ignored);
    } else if (starts_with(name, kCreating)) {
      const auto mtime = entry.last_write_time(ignored);
      if (!ignored && now - mtime > std::chrono::hours(1)) fs::remove_all(entry.path(), ignored);
    }
  }
}

}  // namespace

core::Result<std::vector<FolderInfo>> Folders::list() const {
  std::set<std::string> existing;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const auto name = folder_name(entry.path().filename().string());
    if (name && is_dir(entry.path())) existing.insert(*name);
  }
  if (ec && ec != std::errc::no_such_file_or_directory) return ec;

  std::set<std::string> all = existing;  // with the parents the others imply
  for (const auto& name : existing) {
    for (auto dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1)) {
      all.insert(name.substr(0, dot));
    }
  }
  const auto has_children = [&](const std::string& name) {
    const std::string prefix = name + ".";
    const auto it = all.lower_bound(prefix);
    return it != all.end() && starts_with(*it, prefix);
  };
  std::vector<FolderInfo> out;
  out.push_back({std::string(kInbox), true, has_children(std::string(kInbox))});
  for (const auto& name : all) {
    if (name == kInbox) continue;
    out.push_back({name, existing.count(name) > 0, has_children(name)});
  }
  return out;
}

bool Folders::exists(std::string_view name) const {
  const auto checked = checked_name(name);
  if (!checked) return false;
  if (*checked == kInbox) return true;
  return is_dir(root_ / disk_name(*checked));
}

std::error_code Folders::create(std::string_view name) {
  const auto checked = checked_name(name);
  if (!checked) return checked.error();
  if (*checked == kInbox) return core::errno_code(EEXIST);
  const fs::path target = root_ / disk_name(*checked);
  if (exists_at(target)) return core::errno_code(EEXIST);
  if (auto ec = ensure_root(root_)) return ec;
  const auto uid_validity = next_uid_validity(root_);
  if (!uid_validity) return uid_validity.error();

  // Made whole in a scratch directory, then renamed into place: a crash never shows half a folder.
  const fs::path scratch = root_ / scratch_name(kCreating);
  if (::mkdir(scratch.c_str(), 0700) != 0) return core::errno_code(errno);
  const auto made = [&]() -> std::error_code {
    const std::string_view nothing[] = {std::string_view()};
    if (auto ec = core::write_new_file(scratch / "maildirfolder", nothing, core::Sync::file)) return ec;
    // cur/ new/ tmp/ and the UID map; its last step fsyncs the scratch directory.
    if (auto ec = Mailbox(scratch).create(*uid_validity)) return ec;
    if (::renameat2(AT_FDCWD, scratch.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) != 0) {
      return core::errno_code(errno);
    }
    return {};
  }();
  if (made) {
    std::error_code ignored;
    fs::remove_all(scratch, ignored);
    return made;
  }
  return core::sync_directory(root_);
}

std::error_code Folders::remove(std::string_view name) {
  const auto checked = checked_name(name);
  if (!checked) return checked.error();
  if (*checked == kInbox) return core::errno_code(EPERM);
  const fs::path target = root_ / disk_name(*checked);
  if (!is_dir(target)) return core::errno_code(ENOENT);
  // Out of sight first, durably; then deleted at leisure (sweep() finishes what a crash interrupts).
  const fs::path scratch = root_ / scratch_name(kDeleting);
  if (::rename(target.c_str(), scratch.c_str()) != 0) return core::errno_code(errno);
  if (auto ec = core::sync_directory(root_)) return ec;
  sweep(root_);
  return {};
}

std::error_code Folders::rename(std::string_view from, std::string_view to) {
  const auto old_name = checked_name(from);
  if (!old_name) return old_name.error();
  const auto new_name = checked_name(to);
  if (!new_name) return new_name.error();
  if (*new_name == kInbox || *new_name == *old_name) return core::errno_code(EEXIST);

  if (*old_name == kInbox) {
    // RFC 9051 §6.3.6: INBOX's messages move to a new folder; INBOX stays, empty, with its children.
    if (auto ec = create(*new_name)) return ec;
    const fs::path target = root_ / disk_name(*new_name);
    for (const char* sub : {"new", "cur"}) {
      std::error_code ec;
      for (const auto& entry : fs::directory_iterator(root_ / sub, ec)) {
        const std::string file = entry.path().filename().string();
        if (file.empty() || file[0] == '.') continue;
        // One rename per message: a crash leaves each in one folder or the other, never lost.
        if (::rename(entry.path().c_str(), (target / sub / file).c_str()) != 0 && errno != ENOENT) {
          return core::errno_code(errno);
        }
      }
      if (ec && ec != std::errc::no_such_file_or_directory) return ec;
    }
    for (const auto& dir : {target / "new", target / "cur", root_ / "new", root_ / "cur"}) {
      if (!is_dir(dir)) continue;
      if (auto ec = core::sync_directory(dir)) return ec;
    }
    return {};
  }

  if (starts_with(*new_name, *old_name + ".")) return core::errno_code(EINVAL);  // into itself
  const std::string old_disk = disk_name(*old_name);
  const std::string new_disk = disk_name(*new_name);
  if (!is_dir(root_ / old_disk)) return core::errno_code(ENOENT);
  // The folder and its children (a '.' never is part of a modified UTF-7
  // run, so a child's name on disk starts with its parent's and '.').
  std::vector<std::pair<std::string, std::string>> moves{{old_disk, new_disk}};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root_, ec)) {
    const std::string disk = entry.path().filename().string();
    if (starts_with(disk, old_disk + ".")) moves.emplace_back(disk, new_disk + disk.substr(old_disk.size()));
  }
  if (ec) return ec;
  for (const auto& [old_path, new_path] : moves) {
    if (new_path.size() > kMaxName) return core::errno_code(EINVAL);
    if (exists_at(root_ / new_path)) return core::errno_code(EEXIST);
  }
  for (std::size_t i = 0; i < moves.size(); ++i) {
    const fs::path old_path = root_ / moves[i].first;
    const fs::path new_path = root_ / moves[i].second;
    if (::renameat2(AT_FDCWD, old_path.c_str(), AT_FDCWD, new_path.c_str(), RENAME_NOREPLACE) == 0) continue;
    // A child removed meanwhile is not there to move; anything else undoes what was done.
    if (i > 0 && errno == ENOENT) continue;
    const auto failed = core::errno_code(errno);
    while (i-- > 0) {
      ::renameat2(AT_FDCWD, (root_ / moves[i].second).c_str(), AT_FDCWD, (root_ / moves[i].first).c_str(),
                  RENAME_NOREPLACE);
    }
    (void)core::sync_directory(root_);
    return failed;
  }
  return core::sync_directory(root_);
}

core::Result<std::filesystem::path> Folders::folder_path(std::string_view name) const {
  const auto checked = checked_name(name);
  if (!checked) return checked.error();
  if (*checked == kInbox) return root_;
  return root_ / disk_name(*checked);
}

core::Result<std::vector<std::string>> Folders::subscriptions() const {
  auto lines = read_subscriptions(root_);
  if (!lines) return lines.error();
  std::vector<std::string> out;
  for (const auto& line : *lines) {
    const auto utf8 = mutf7_to_utf8(line);
    if (!utf8) continue;
    const auto checked = checked_name(*utf8);
    if (!checked) continue;
    if (std::find(out.begin(), out.end(), *checked) == out.end()) out.push_back(*checked);
  }
  return out;
}

std::error_code Folders::subscribe(std::string_view name) {
  const auto checked = checked_name(name);
  if (!checked) return checked.error();
  return add_subscriptions(root_, {*checked});
}

std::error_code Folders::unsubscribe(std::string_view name) {
  const auto checked = checked_name(name);
  if (!checked) return checked.error();
  if (!is_dir(root_)) return {};
  RootLock lock(root_);
  if (!lock.ok()) return core::errno_code(errno);
  auto lines = read_subscriptions(root_);
  if (!lines) return lines.error();
  const auto before = lines->size();
  lines->erase(
      std::remove_if(lines->begin(), lines->end(), [&](const std::string& l) { return line_names(l, *checked); }),
      lines->end());
  return lines->size() == before ? std::error_code{} : write_subscriptions(root_, *lines);
}

std::error_code Folders::ensure_special_use() {
  std::vector<std::string> made;
  for (const auto& special : kSpecialUse) {
    if (exists(special.name)) continue;
    const auto ec = create(special.name);
    if (ec == std::errc::file_exists) continue;  // made by another session just now
    if (ec) return ec;
    made.emplace_back(special.name);
  }
  if (is_dir(root_)) sweep(root_);
  return made.empty() ? std::error_code{} : add_subscriptions(root_, made);
}

std::string_view Folders::special_use(std::string_view name) {
  for (const auto& special : kSpecialUse) {
    if (special.name == name) return special.attribute;
  }
  return {};
}

}  // namespace poshta::store
