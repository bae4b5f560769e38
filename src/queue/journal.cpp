#include "queue/journal.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

#include "core/files.hpp"
#include "queue/spool.hpp"

namespace poshta::queue {

namespace {

constexpr char kMagic[4] = {'P', 'J', '1', '\0'};
constexpr std::uint8_t kMessage = 1;
constexpr std::uint8_t kDone = 2;
constexpr std::size_t kHeaderSize = 24;

struct Header {
  char magic[4];
  std::uint8_t type;
  std::uint8_t zero[3];
  std::uint32_t length;
  std::uint32_t crc;
  std::uint64_t seq;
};
static_assert(sizeof(Header) == kHeaderSize);

std::size_t padded(std::size_t n) {
  return (n + 7) & ~std::size_t{7};
}

std::uint32_t record_crc(Header h, std::span<const std::string_view> parts) {
  h.crc = 0;
  std::vector<std::string_view> all;
  all.reserve(parts.size() + 1);
  all.emplace_back(reinterpret_cast<const char*>(&h), sizeof h);
  all.insert(all.end(), parts.begin(), parts.end());
  return crc32_of(all);
}

std::error_code errno_ec() {
  return {errno, std::generic_category()};
}

}  // namespace

struct Journal::Segment {
  std::uint64_t number = 0;
  std::filesystem::path path;
  int fd = -1;
  std::size_t size = 0;
  std::size_t used = 0;
  std::uint64_t live = 0;  // messages in it not yet done
  ~Segment() {
    if (fd >= 0) ::close(fd);
  }
};

Journal::Journal(std::filesystem::path dir, std::size_t segment_size)
    : dir_(std::move(dir)), segment_size_(segment_size), group_([this] { return flush_current(); }) {
  if (auto ec = core::make_directories(dir_)) {
    throw std::runtime_error("cannot create " + dir_.string() + ": " + ec.message());
  }
  preparer_ = std::thread([this] { prepare_spare(); });
}

Journal::~Journal() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  spare_cv_.notify_all();
  preparer_.join();
  if (spare_) ::unlink(spare_->path.c_str());  // never used: leave no empty segment behind
}

std::size_t Journal::max_payload() const {
  return segment_size_ / 2;
}

core::Result<std::shared_ptr<Journal::Segment>> Journal::create_segment(std::uint64_t number) {
  auto seg = std::make_shared<Segment>();
  seg->number = number;
  seg->size = segment_size_;
  seg->path = dir_ / fmt::format("{:016x}.log", number);
  seg->fd = ::open(seg->path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (seg->fd < 0) return errno_ec();
  // Zero-filled and synced now, so that appends later only change data.
  static const std::string zeros(1 << 20, '\0');
  for (std::size_t off = 0; off < seg->size; off += zeros.size()) {
    const std::size_t n = std::min(zeros.size(), seg->size - off);
    if (::pwrite(seg->fd, zeros.data(), n, static_cast<off_t>(off)) != static_cast<ssize_t>(n)) {
      auto ec = errno_ec();
      ::unlink(seg->path.c_str());
      return ec;
    }
  }
  if (::fsync(seg->fd) != 0) {
    auto ec = errno_ec();
    ::unlink(seg->path.c_str());
    return ec;
  }
  if (auto ec = core::sync_directory(dir_)) {
    ::unlink(seg->path.c_str());
    return ec;
  }
  return seg;
}

void Journal::prepare_spare() {
  std::unique_lock lock(mutex_);
  for (;;) {
    spare_cv_.wait(lock, [this] { return stopping_ || (want_spare_ && !spare_); });
    if (stopping_) return;
    const std::uint64_t number = next_segment_++;
    lock.unlock();
    auto seg = create_segment(number);
    lock.lock();
    want_spare_ = false;
    if (seg) spare_ = std::move(*seg);  // on failure the writer creates one itself
  }
}

// Under mutex_: seal the current segment (its data synced) and start the next.
std::error_code Journal::switch_segment() {
  if (!segments_.empty() && segments_.back()->fd >= 0) {
    if (::fdatasync(segments_.back()->fd) != 0) return errno_ec();
  }
  std::shared_ptr<Segment> next = std::move(spare_);
  if (!next) {
    auto made = create_segment(next_segment_++);
    if (!made) return made.error();
    next = std::move(*made);
  }
  segments_.push_back(std::move(next));
  sealed_current_ = false;
  delete_finished_segments();
  return {};
}

// Under mutex_: oldest first, so that no done mark goes before its record.
void Journal::delete_finished_segments() {
  while (segments_.size() > 1 && segments_.front()->live == 0) {
    ::unlink(segments_.front()->path.c_str());
    segments_.pop_front();
  }
}

std::error_code Journal::flush_current() {
  std::shared_ptr<Segment> seg;
  {
    std::lock_guard lock(mutex_);
    if (segments_.empty() || segments_.back()->fd < 0) return {};
    seg = segments_.back();
  }
  if (::fdatasync(seg->fd) != 0) return errno_ec();
  return {};
}

// Under mutex_.
std::error_code Journal::write_record(std::uint8_t type, std::uint64_t seq, std::span<const std::string_view> parts,
                                      std::shared_ptr<Segment>& owner) {
  std::size_t length = 0;
  for (auto p : parts) length += p.size();
  const std::size_t total = padded(kHeaderSize + length);
  if (segments_.empty() || sealed_current_ || segments_.back()->used + total > segments_.back()->size) {
    if (auto ec = switch_segment()) return ec;
  }
  auto& seg = segments_.back();
  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.type = type;
  h.length = static_cast<std::uint32_t>(length);
  h.seq = seq;
  h.crc = record_crc(h, parts);
  static constexpr char kPad[8] = {};
  std::vector<iovec> iov;
  iov.reserve(parts.size() + 2);
  iov.push_back({&h, sizeof h});
  for (auto p : parts) {
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  if (total > kHeaderSize + length) iov.push_back({const_cast<char*>(kPad), total - kHeaderSize - length});
  std::size_t written = 0;
  while (written < total) {
    // pwritev of the remaining vector; short writes are rare but possible.
    std::size_t skip = written;
    std::vector<iovec> rest;
    for (const auto& v : iov) {
      if (skip >= v.iov_len) {
        skip -= v.iov_len;
        continue;
      }
      rest.push_back({static_cast<char*>(v.iov_base) + skip, v.iov_len - skip});
      skip = 0;
    }
    const ssize_t n = ::pwritev(seg->fd, rest.data(), static_cast<int>(std::min<std::size_t>(rest.size(), IOV_MAX)),
                                static_cast<off_t>(seg->used + written));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      // Never write after a torn record: recovery stops at the first bad one.
      sealed_current_ = true;
      return n < 0 ? errno_ec() : std::make_error_code(std::errc::io_error);
    }
    written += static_cast<std::size_t>(n);
  }
  seg->used += total;
  owner = seg;
  if (!spare_ && !want_spare_ && seg->used > seg->size / 2) {
    want_spare_ = true;
    spare_cv_.notify_one();
  }
  return {};
}

core::Result<std::uint64_t> Journal::append(std::span<const std::string_view> parts) {
  std::uint64_t seq = 0;
  {
    std::lock_guard lock(mutex_);
    std::size_t length = 0;
    for (auto p : parts) length += p.size();
    if (length > max_payload()) return std::make_error_code(std::errc::file_too_large);
    seq = next_seq_++;
    std::shared_ptr<Segment> owner;
    if (auto ec = write_record(kMessage, seq, parts, owner)) return ec;
    ++owner->live;
    owner_.emplace(seq, std::move(owner));
  }
  if (auto ec = group_.sync()) return ec;  // the client gets a 4xx; a later recovery may still deliver it
  return seq;
}

void Journal::complete(std::span<const std::uint64_t> seqs) {
  if (seqs.empty()) return;
  std::lock_guard lock(mutex_);
  const std::string_view payload(reinterpret_cast<const char*>(seqs.data()), seqs.size_bytes());
  const std::string_view parts[] = {payload};
  std::shared_ptr<Segment> unused;
  // A done mark that cannot be written only costs a second delivery after a crash.
  (void)write_record(kDone, 0, parts, unused);
  for (std::uint64_t seq : seqs) {
    auto it = owner_.find(seq);
    if (it == owner_.end()) continue;
    --it->second->live;
    owner_.erase(it);
  }
  delete_finished_segments();
}

std::vector<Journal::Record> Journal::recover() {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() != 20 || name.substr(16) != ".log") continue;
    std::uint64_t number = 0;
    try {
      number = std::stoull(name.substr(0, 16), nullptr, 16);
    } catch (const std::exception&) {
      continue;
    }
    files.emplace_back(number, entry.path());
  }
  std::sort(files.begin(), files.end());

  std::vector<Record> messages;
  std::vector<std::shared_ptr<Segment>> segment_of;  // parallel to messages
  std::vector<std::uint64_t> done;
  for (const auto& [number, path] : files) {
    next_segment_ = std::max(next_segment_, number + 1);
    auto content = core::read_file(path);
    if (!content) continue;
    auto seg = std::make_shared<Segment>();
    seg->number = number;
    seg->path = path;
    seg->size = content->size();
    seg->used = content->size();  // never appended to again
    // The record at `at`, if one is there whole and checks out.
    auto record_at = [&](std::size_t at) -> std::optional<std::pair<Header, std::string_view>> {
      if (at + kHeaderSize > content->size()) return std::nullopt;
      Header h;
      std::memcpy(&h, content->data() + at, sizeof h);
      if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0 || h.length > content->size() - at - kHeaderSize)
        return std::nullopt;
      const std::string_view payload(content->data() + at + kHeaderSize, h.length);
      const std::string_view parts[] = {payload};
      if (record_crc(h, parts) != h.crc) return std::nullopt;
      return std::pair{h, payload};
    };
    std::size_t off = 0;
    bool damaged = false;
    while (off + kHeaderSize <= content->size()) {
      auto record = record_at(off);
      if (!record) {
        // The end of what was written (a crash mid-append leaves a torn
        // record, then the zeros of the preallocated segment), or damage:
        // then whole records follow somewhere, on the 8-octet grid.
        std::size_t next = off + 8;
        while (next + kHeaderSize <= content->size() && !record_at(next)) next += 8;
        if (next + kHeaderSize > content->size()) break;
        damaged_.push_back(path.filename().string() + " at " + std::to_string(off) + ", " + std::to_string(next - off) +
                           " octets skipped");
        damaged = true;
        off = next;
        continue;
      }
      const Header& h = record->first;
      const std::string_view payload = record->second;
      if (h.type == kMessage) {
        messages.push_back({h.seq, std::string(payload)});
        segment_of.push_back(seg);
      } else if (h.type == kDone && h.length % 8 == 0) {
        for (std::size_t i = 0; i < h.length; i += 8) {
          std::uint64_t s = 0;
          std::memcpy(&s, payload.data() + i, 8);
          done.push_back(s);
        }
      }
      next_seq_ = std::max(next_seq_, h.seq + 1);
      off += padded(kHeaderSize + h.length);
    }
    if (damaged) {  // kept for whoever wants to look at it; the segment itself goes once done
      const auto aside = dir_.parent_path() / "corrupt";
      std::error_code copy_ec;
      std::filesystem::create_directories(aside, copy_ec);
      std::filesystem::copy_file(path, aside / path.filename(), std::filesystem::copy_options::overwrite_existing,
                                 copy_ec);
    }
    segments_.push_back(std::move(seg));
  }
  std::sort(done.begin(), done.end());
  std::vector<Record> pending;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    if (std::binary_search(done.begin(), done.end(), messages[i].seq)) continue;
    ++segment_of[i]->live;
    owner_.emplace(messages[i].seq, segment_of[i]);
    pending.push_back(std::move(messages[i]));
  }
  // Appends go to a fresh segment; the recovered ones are only read.
  sealed_current_ = true;
  while (!segments_.empty() && segments_.front()->live == 0) {
    ::unlink(segments_.front()->path.c_str());
    segments_.pop_front();
  }
  return pending;
}

}  // namespace poshta::queue
