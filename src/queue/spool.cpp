#include "queue/spool.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <stdexcept>

#include "core/files.hpp"
#include "core/ids.hpp"

namespace poshta::queue {

namespace {

constexpr std::string_view kEnvelopeEnd = "\nend\n";

// The stored form: `header`, then `parts`.
std::vector<std::string_view> after(std::string_view header, std::span<const std::string_view> parts) {
  std::vector<std::string_view> all;
  all.reserve(parts.size() + 1);
  all.push_back(header);
  all.insert(all.end(), parts.begin(), parts.end());
  return all;
}

}  // namespace

std::uint32_t crc32_of(std::span<const std::string_view> parts) {
  uLong crc = ::crc32(0L, Z_NULL, 0);
  for (auto p : parts) {
    std::size_t off = 0;
    while (off < p.size()) {  // zlib takes uInt lengths
      const auto n = static_cast<uInt>(std::min<std::size_t>(p.size() - off, 1U << 30));
      crc = ::crc32(crc, reinterpret_cast<const Bytef*>(p.data() + off), n);
      off += n;
    }
  }
  return static_cast<std::uint32_t>(crc);
}

std::string stored_header(Envelope& env, std::span<const std::string_view> content_parts) {
  env.size = 0;
  for (auto p : content_parts) env.size += p.size();
  env.crc = crc32_of(content_parts);
  return serialize_envelope(env);
}

std::optional<StoredMessage> parse_stored(std::string_view stored) {
  const auto end = stored.find(kEnvelopeEnd);
  if (end == std::string_view::npos) return std::nullopt;
  const std::size_t header_size = end + kEnvelopeEnd.size();
  auto env = parse_envelope(stored.substr(0, header_size));
  if (!env) return std::nullopt;
  const std::string_view content = stored.substr(header_size);
  const std::string_view parts[] = {content};
  if (content.size() != env->size || crc32_of(parts) != env->crc) return std::nullopt;
  return StoredMessage{std::move(*env), content};
}

Spool::Spool(std::filesystem::path dir, core::GroupSync& sync) : dir_(std::move(dir)), sync_(sync) {
  for (const char* sub : {"msg", "env", "tmp", "incoming", "corrupt"}) {
    if (auto ec = core::make_directories(dir_ / sub)) {
      throw std::runtime_error("cannot create " + (dir_ / sub).string() + ": " + ec.message());
    }
  }
}

std::string Spool::new_id() const {
  for (;;) {
    std::string id = core::new_queue_id();
    if (::access(msg_path(id).c_str(), F_OK) != 0) return id;
  }
}

namespace {

// Writes `parts` to `tmp` (fsync'd) and renames it to `path`, never over
// another file: an id collision is EEXIST, and the caller takes a new id.
// Nothing is left at either name on failure.
std::error_code publish(const std::filesystem::path& tmp, const std::filesystem::path& path,
                        std::span<const std::string_view> parts) {
  if (auto ec = core::write_new_file(tmp, parts, core::Sync::file)) return ec;
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE) != 0) {
    auto ec = core::errno_code(errno);
    ::unlink(tmp.c_str());
    return ec;
  }
  return {};
}

}  // namespace

std::error_code Spool::store(Envelope& env, std::span<const std::string_view> parts) {
  const std::string header = stored_header(env, parts);
  // Written in tmp/ (which recover() empties) and renamed into msg/ whole:
  // a crash mid-write leaves nothing in msg/ to mistake for damage.
  if (auto ec = publish(dir_ / "tmp" / (env.id + ".msg"), msg_path(env.id), after(header, parts))) return ec;
  if (auto ec = sync_.sync()) {
    ::unlink(msg_path(env.id).c_str());  // not durable: the client gets a 4xx and retries
    return ec;
  }
  return {};
}

std::error_code Spool::store_incoming(Envelope& env, std::span<const std::string_view> parts) {
  const std::string header = stored_header(env, parts);
  // Written under a dot name and renamed, so the server never picks up half a file.
  if (auto ec = publish(dir_ / "incoming" / ("." + env.id), dir_ / "incoming" / env.id, after(header, parts)))
    return ec;
  return core::sync_directory(dir_ / "incoming");
}

Spool::Incoming Spool::take_incoming() {
  Incoming out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "incoming", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;  // still being written
    auto file = core::read_file(entry.path());
    std::optional<StoredMessage> stored;
    if (file) stored = parse_stored(*file);
    if (!stored || stored->envelope.id != name ||
        ::renameat2(AT_FDCWD, entry.path().c_str(), AT_FDCWD, msg_path(name).c_str(), RENAME_NOREPLACE) != 0) {
      ::rename(entry.path().c_str(), (dir_ / "corrupt" / name).c_str());
      out.moved_aside.push_back(name);
      continue;
    }
    out.taken.push_back(std::move(stored->envelope));
  }
  return out;
}

std::error_code Spool::update(const Envelope& env) {
  const std::string text = serialize_envelope(env);
  const std::string_view parts[] = {text};
  return core::replace_file(env_path(env.id), dir_ / "tmp" / env.id, parts);
}

void Spool::remove(const std::string& id) {
  ::unlink(msg_path(id).c_str());
  ::unlink(env_path(id).c_str());
}

core::Result<Spool::Entry> Spool::load(const std::string& id) const {
  auto file = core::read_file(msg_path(id));
  if (!file) return file.error();
  auto stored = parse_stored(*file);
  if (!stored || stored->envelope.id != id) return core::errno_code(EBADMSG);
  Entry entry{std::move(stored->envelope), std::string(stored->content)};
  // A later state of the envelope, if one was recorded.
  if (auto text = core::read_file(env_path(id))) {
    if (auto later = parse_envelope(*text); later && later->id == id) entry.envelope = std::move(*later);
  }
  return entry;
}

std::vector<Envelope> Spool::list() const {
  std::vector<Envelope> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "msg", ec)) {
    if (auto e = load(entry.path().filename().string())) out.push_back(std::move(e->envelope));
  }
  std::sort(out.begin(), out.end(), [](const Envelope& a, const Envelope& b) { return a.id < b.id; });
  return out;
}

Spool::Recovered Spool::recover() {
  Recovered r;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "tmp", ec)) ::unlink(entry.path().c_str());
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "msg", ec)) {
    const std::string id = entry.path().filename().string();
    if (auto e = load(id)) {
      r.envelopes.push_back(std::move(e->envelope));
    } else {
      // Written whole and renamed into place, so not an interrupted write:
      // damage. Kept for a person to look at, out of the queue's way.
      ::rename(msg_path(id).c_str(), (dir_ / "corrupt" / id).c_str());
      ::unlink(env_path(id).c_str());
      r.moved_aside.push_back(id);
    }
  }
  // States of messages that are gone (removed between the two unlinks).
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "env", ec)) {
    const std::string id = entry.path().filename().string();
    if (::access(msg_path(id).c_str(), F_OK) != 0) ::unlink(entry.path().c_str());
  }
  std::sort(r.envelopes.begin(), r.envelopes.end(), [](const Envelope& a, const Envelope& b) { return a.id < b.id; });
  return r;
}

}  // namespace poshta::queue
