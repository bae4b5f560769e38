#include "store/message_cache.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "core/files.hpp"

namespace poshta::store {

namespace {

constexpr std::string_view kFileName = "poshta-cache";
constexpr std::size_t kRecordHeader = 8;          // length, crc32
constexpr std::size_t kMinPayload = 4 + 2 + 2;    // uid, base length, field count
constexpr std::uint32_t kMaxPayload = 16u << 20;  // a larger record is not cached
constexpr std::size_t kReadAhead = 1u << 20;      // what find() and scan() read at once
constexpr std::size_t kFlushAt = 1u << 20;        // queued octets that make add() flush
constexpr std::size_t kCompactMinimum = 256;      // records below which compact() never rewrites

std::uint32_t get_u32(std::string_view s, std::size_t at) {
  std::uint32_t v;
  std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}
std::uint16_t get_u16(std::string_view s, std::size_t at) {
  std::uint16_t v;
  std::memcpy(&v, s.data() + at, sizeof v);
  return v;
}
template <typename T>
void put(std::string& out, T v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::uint32_t crc_of(std::string_view payload) {
  return static_cast<std::uint32_t>(
      ::crc32(0L, reinterpret_cast<const Bytef*>(payload.data()), static_cast<uInt>(payload.size())));
}

// Reads up to `size` octets at `offset` (fewer at the end of the file).
std::string read_at(int fd, std::uint64_t offset, std::size_t size) {
  std::string out(size, '\0');
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::pread(fd, out.data() + got, size - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  out.resize(got);
  return out;
}

// The fields of a payload, or nullopt when it is not well formed.
std::optional<std::vector<std::string_view>> fields_of(std::string_view payload, std::string_view& base) {
  if (payload.size() < kMinPayload) return std::nullopt;
  const std::size_t base_size = get_u16(payload, 4);
  std::size_t at = 6 + base_size;
  if (at + 2 > payload.size()) return std::nullopt;
  base = payload.substr(6, base_size);
  const std::size_t count = get_u16(payload, at);
  at += 2;
  std::vector<std::string_view> fields;
  fields.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    if (at + 4 > payload.size()) return std::nullopt;
    const std::size_t size = get_u32(payload, at);
    at += 4;
    if (size > payload.size() - at) return std::nullopt;
    fields.push_back(payload.substr(at, size));
    at += size;
  }
  return fields;
}

}  // namespace

MessageCache::MessageCache(std::filesystem::path folder, std::string schema, std::uint32_t uid_validity)
    : folder_(std::move(folder)), path_(folder_ / kFileName), schema_(std::move(schema)), uid_validity_(uid_validity) {
  open_file();
}

MessageCache::~MessageCache() {
  flush();
  close_file();
}

bool MessageCache::replace_with(std::string_view content) {
  // Beside it under a name of this thread's (the caller holds the file's lock,
  // but another session may hold the lock of a newer file), then renamed.
  const auto tmp = folder_ / (std::string(kFileName) + ".tmp." + std::to_string(::gettid()));
  if (core::replace_file(path_, tmp, std::array{content})) {
    std::filesystem::remove(tmp);
    return false;
  }
  return true;
}

std::string MessageCache::header() const {
  return "poshta-cache 1 " + std::to_string(uid_validity_) + " " + schema_ + "\n";
}

bool MessageCache::replaced() const {
  struct stat by_fd {
  }, by_path{};
  if (::fstat(fd_, &by_fd) != 0 || ::stat(path_.c_str(), &by_path) != 0) return true;
  return by_fd.st_ino != by_path.st_ino || by_fd.st_dev != by_path.st_dev;
}

void MessageCache::close_file() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  scanned_ = 0;
  entries_.clear();
  window_.clear();
  window_start_ = 0;
}

void MessageCache::open_file() {
  const std::string expected = header();
  // A compaction or a fresh start by another session may rename a new file
  // into place between open() and flock(): then try that one.
  for (int attempt = 0; attempt < 3; ++attempt) {
    close_file();
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd_ < 0) return;
    ::flock(fd_, LOCK_EX);
    if (replaced()) continue;
    const std::string found = read_at(fd_, 0, expected.size());
    struct stat st {};
    ::fstat(fd_, &st);
    if (st.st_size == 0) {
      if (core::write_all(fd_, std::array{std::string_view(expected)})) {
        close_file();  // cannot write here: no cache
        return;
      }
    } else if (found != expected) {
      // Another UIDVALIDITY or schema: start anew beside it and rename, so
      // that sessions still reading the old file are not disturbed.
      if (!replace_with(expected)) {
        close_file();
        return;
      }
      continue;
    }
    scanned_ = expected.size();
    scan();
    ::fstat(fd_, &st);
    // Whatever follows the last whole record was cut short by a crash:
    // appends after it would never be found.
    if (static_cast<std::uint64_t>(st.st_size) > scanned_) {
      if (::ftruncate(fd_, static_cast<off_t>(scanned_)) != 0) {
        close_file();
        return;
      }
    }
    ::flock(fd_, LOCK_UN);
    return;
  }
  close_file();
}

void MessageCache::scan() {
  std::string buffer;
  std::uint64_t buffer_start = scanned_;
  bool sorted = true;
  bool at_end = false;
  while (!at_end) {
    std::string more = read_at(fd_, buffer_start + buffer.size(), kReadAhead);
    at_end = more.size() < kReadAhead;
    buffer += more;
    std::size_t at = static_cast<std::size_t>(scanned_ - buffer_start);
    while (buffer.size() - at >= kRecordHeader) {
      const std::uint32_t size = get_u32(buffer, at);
      if (size < kMinPayload || size > kMaxPayload) {
        at_end = true;  // not a record: nothing after it can be trusted
        break;
      }
      if (buffer.size() - at < kRecordHeader + size) break;  // read on
      const std::uint32_t uid = get_u32(buffer, at + kRecordHeader);
      if (!entries_.empty() && uid <= entries_.back().uid) sorted = false;
      entries_.push_back({uid, scanned_});
      at += kRecordHeader + size;
      scanned_ += kRecordHeader + size;
    }
    buffer.erase(0, at);
    buffer_start = scanned_;
  }
  if (!sorted) {
    // By UID; of several records for one UID the last written wins.
    std::stable_sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.uid < b.uid; });
    std::vector<Entry> unique;
    unique.reserve(entries_.size());
    for (const auto& e : entries_) {
      if (!unique.empty() && unique.back().uid == e.uid)
        unique.back() = e;
      else
        unique.push_back(e);
    }
    entries_ = std::move(unique);
  }
}

void MessageCache::refresh() {
  if (fd_ < 0) return;
  if (replaced()) {
    open_file();
    return;
  }
  ::flock(fd_, LOCK_SH);
  struct stat st {};
  ::fstat(fd_, &st);
  const bool shrunk = static_cast<std::uint64_t>(st.st_size) < scanned_;  // not by Poshta: start over
  if (!shrunk && static_cast<std::uint64_t>(st.st_size) > scanned_) scan();
  ::flock(fd_, LOCK_UN);
  if (shrunk) open_file();
}

std::optional<std::string_view> MessageCache::record_at(std::uint64_t offset) {
  auto covered = [&](std::uint64_t size) {
    return offset >= window_start_ && offset + size <= window_start_ + window_.size();
  };
  if (!covered(kRecordHeader)) {
    window_ = read_at(fd_, offset, kReadAhead);
    window_start_ = offset;
    if (!covered(kRecordHeader)) return std::nullopt;
  }
  const auto at = static_cast<std::size_t>(offset - window_start_);
  const std::uint32_t size = get_u32(window_, at);
  if (size > kMaxPayload) return std::nullopt;
  if (!covered(kRecordHeader + size)) {
    window_ = read_at(fd_, offset, std::max<std::size_t>(kReadAhead, kRecordHeader + size));
    window_start_ = offset;
    if (!covered(kRecordHeader + size)) return std::nullopt;
  }
  const auto start = static_cast<std::size_t>(offset - window_start_);
  const std::string_view payload = std::string_view(window_).substr(start + kRecordHeader, size);
  if (crc_of(payload) != get_u32(window_, start + 4)) return std::nullopt;
  return payload;
}

const MessageCache::Entry* MessageCache::entry(std::uint32_t uid) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), uid,
                                   [](const Entry& e, std::uint32_t u) { return e.uid < u; });
  return it == entries_.end() || it->uid != uid ? nullptr : &*it;
}

std::optional<std::vector<std::string_view>> MessageCache::find(std::uint32_t uid, std::string_view base) {
  if (fd_ < 0) return std::nullopt;
  const Entry* e = entry(uid);
  if (!e) return std::nullopt;
  const auto payload = record_at(e->offset);
  if (!payload || get_u32(*payload, 0) != uid) return std::nullopt;
  std::string_view found_base;
  auto fields = fields_of(*payload, found_base);
  if (!fields || found_base != base) return std::nullopt;
  return fields;
}

void MessageCache::add(std::uint32_t uid, std::string_view base, std::span<const std::string> fields) {
  if (fd_ < 0 || base.size() > 0xffff || fields.size() > 0xffff) return;
  std::string payload;
  put(payload, uid);
  put(payload, static_cast<std::uint16_t>(base.size()));
  payload += base;
  put(payload, static_cast<std::uint16_t>(fields.size()));
  for (const auto& f : fields) {
    if (f.size() > kMaxPayload) return;
    put(payload, static_cast<std::uint32_t>(f.size()));
    payload += f;
  }
  if (payload.size() > kMaxPayload) return;
  put(pending_, static_cast<std::uint32_t>(payload.size()));
  put(pending_, crc_of(payload));
  pending_ += payload;
  if (pending_.size() >= kFlushAt) flush();
}

void MessageCache::flush() {
  if (pending_.empty()) return;
  std::string records = std::move(pending_);
  pending_.clear();
  if (fd_ < 0) return;
  ::flock(fd_, LOCK_EX);
  if (replaced()) {  // compacted meanwhile: append to the new file
    open_file();
    if (fd_ < 0) return;
    ::flock(fd_, LOCK_EX);
  }
  struct stat st {};
  ::fstat(fd_, &st);
  if (core::write_all(fd_, std::array{std::string_view(records)})) {
    // A record cut short (disk full) would hide every later one.
    if (::ftruncate(fd_, st.st_size) != 0) {
      ::flock(fd_, LOCK_UN);
      close_file();
      return;
    }
  }
  ::flock(fd_, LOCK_UN);
  refresh();
}

void MessageCache::compact(std::span<const MessageFile> live) {
  if (fd_ < 0 || entries_.size() < kCompactMinimum) return;
  std::size_t kept = 0;
  for (const auto& m : live) kept += entry(m.uid) ? 1 : 0;
  if (entries_.size() <= 2 * kept + kCompactMinimum) return;
  flush();
  ::flock(fd_, LOCK_EX);
  if (replaced()) {  // another session compacted it
    ::flock(fd_, LOCK_UN);
    refresh();
    return;
  }
  std::string content = header();
  for (const auto& m : live) {
    const std::string base = m.base();
    if (!find(m.uid, base)) continue;  // also reads the record into window_
    const Entry* e = entry(m.uid);
    const auto payload = record_at(e->offset);
    const auto start = static_cast<std::size_t>(e->offset - window_start_);
    content.append(window_, start, kRecordHeader + payload->size());
  }
  replace_with(content);
  open_file();
}

}  // namespace poshta::store
