#include "queue/spool.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>

#include "core/files.hpp"
#include "core/ids.hpp"

namespace poshta::queue {

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

Spool::Spool(std::filesystem::path dir, core::GroupSync& sync) : dir_(std::move(dir)), sync_(sync) {
  for (const char* sub : {"msg", "env", "tmp"}) {
    if (auto ec = core::make_directories(dir_ / sub)) {
      throw std::runtime_error("cannot create " + (dir_ / sub).string() + ": " + ec.message());
    }
  }
}

std::string Spool::new_id() const {
  for (;;) {
    std::string id = core::new_queue_id();
    if (::access(msg_path(id).c_str(), F_OK) != 0 && ::access(env_path(id).c_str(), F_OK) != 0) return id;
  }
}

std::error_code Spool::store(Envelope& env, std::span<const std::string_view> parts) {
  env.size = 0;
  for (auto p : parts) env.size += p.size();
  env.crc = crc32_of(parts);
  if (auto ec = core::write_new_file(msg_path(env.id), parts)) return ec;
  const std::string text = serialize_envelope(env);
  const std::string_view env_parts[] = {text};
  if (auto ec = core::write_new_file(env_path(env.id), env_parts)) {
    ::unlink(msg_path(env.id).c_str());
    return ec;
  }
  if (auto ec = sync_.sync()) {
    // Not durable: take it back, the client will get a 4xx and retry.
    remove(env.id);
    return ec;
  }
  return {};
}

std::error_code Spool::update(const Envelope& env) {
  const std::string text = serialize_envelope(env);
  const std::string_view parts[] = {text};
  return core::replace_file(env_path(env.id), dir_ / "tmp" / env.id, parts);
}

void Spool::remove(const std::string& id) {
  ::unlink(env_path(id).c_str());
  ::unlink(msg_path(id).c_str());
}

core::Result<std::string> Spool::read_content(const Envelope& env) const {
  auto content = core::read_file(msg_path(env.id));
  if (!content) return content.error();
  const std::string_view parts[] = {*content};
  if (content->size() != env.size || crc32_of(parts) != env.crc) return core::errno_code(EBADMSG);
  return content;
}

std::vector<Envelope> Spool::list() const {
  std::vector<Envelope> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "env", ec)) {
    auto text = core::read_file(entry.path());
    if (!text) continue;
    if (auto env = parse_envelope(*text); env && env->id == entry.path().filename().string()) {
      out.push_back(std::move(*env));
    }
  }
  std::sort(out.begin(), out.end(), [](const Envelope& a, const Envelope& b) { return a.id < b.id; });
  return out;
}

Spool::Recovered Spool::recover() {
  Recovered r;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "tmp", ec)) ::unlink(entry.path().c_str());
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "env", ec)) {
    const std::string id = entry.path().filename().string();
    auto text = core::read_file(entry.path());
    std::optional<Envelope> env;
    if (text) env = parse_envelope(*text);
    if (env && env->id == id && read_content(*env)) {
      r.envelopes.push_back(std::move(*env));
    } else {
      r.discarded.push_back(id);
      remove(id);
    }
  }
  // Content whose envelope never made it (or was removed first).
  for (const auto& entry : std::filesystem::directory_iterator(dir_ / "msg", ec)) {
    const std::string id = entry.path().filename().string();
    if (::access(env_path(id).c_str(), F_OK) != 0) ::unlink(entry.path().c_str());
  }
  std::sort(r.envelopes.begin(), r.envelopes.end(), [](const Envelope& a, const Envelope& b) { return a.id < b.id; });
  return r;
}

}  // namespace poshta::queue
