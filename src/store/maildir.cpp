#include "store/maildir.hpp"

#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <fmt/format.h>

#include "core/address.hpp"
#include "core/files.hpp"

namespace poshta::store {

namespace {

// CRLF to LF; other octets (there are no bare CR or LF in accepted mail) as they are.
void append_lf(std::string& out, std::string_view in) {
  std::size_t i = 0;
  while (i < in.size()) {
    const auto cr = in.find("\r\n", i);
    if (cr == std::string_view::npos) {
      out.append(in.substr(i));
      break;
    }
    out.append(in.substr(i, cr - i));
    out += '\n';
    i = cr + 2;
  }
}

}  // namespace

Maildir::Maildir(std::filesystem::path mail_root, std::string hostname) : root_(std::move(mail_root)) {
  for (char c : hostname) {
    if (c == '/') host_ += "\\057";
    else if (c == ':') host_ += "\\072";
    else host_ += c;
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

core::Result<Maildir::Pending> Maildir::write_tmp(std::string_view address, std::span<const std::string_view> parts) {
  const auto parts_of = core::split_address(address);
  if (parts_of.local.empty() || parts_of.domain.empty() || parts_of.local.find('/') != std::string_view::npos ||
      parts_of.domain.find('/') != std::string_view::npos || parts_of.local.front() == '.' ||
      parts_of.domain.front() == '.') {
    return core::errno_code(EINVAL);  // never a path outside the mail root
  }
  std::string text;
  std::size_t total = 0;
  for (auto p : parts) total += p.size();
  text.reserve(total);
  for (auto p : parts) append_lf(text, p);
  std::size_t lines = 0;
  for (char c : text) lines += c == '\n';

  const auto dir = mailbox_dir(address);
  Pending pending;
  const std::string name = unique_name(text.size(), text.size() + lines);
  pending.tmp = dir / "tmp" / name;
  pending.destination = dir / "new" / name;
  const std::string_view out[] = {text};
  auto ec = core::write_new_file(pending.tmp, out);
  if (ec == std::errc::no_such_file_or_directory) {
    for (const char* sub : {"cur", "new", "tmp"}) {
      if (auto e = core::make_directories(dir / sub)) return e;
    }
    ec = core::write_new_file(pending.tmp, out);
  }
  if (ec) return ec;
  return pending;
}

std::error_code Maildir::publish(const Pending& pending) {
  if (::rename(pending.tmp.c_str(), pending.destination.c_str()) != 0) return core::errno_code(errno);
  return {};
}

void Maildir::discard(const Pending& pending) { ::unlink(pending.tmp.c_str()); }

}  // namespace poshta::store
