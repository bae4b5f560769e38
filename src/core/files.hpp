// File operations for the spool and the mailboxes. Durability is explicit:
// a writer fsyncs its file's data (Sync::file) before making it visible,
// and the directory entries are made durable by a GroupSync flush or by
// sync_directory().
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "core/result.hpp"

namespace poshta::core {

enum class Sync { none, file };

// Creates `path` exclusively (EEXIST if it is there), writes `parts` in
// order and, with Sync::file, fsyncs it. On failure nothing is left at `path`.
std::error_code write_new_file(const std::filesystem::path& path, std::span<const std::string_view> parts, Sync sync);

// Writes all of `parts` to `fd`, retrying short writes.
std::error_code write_all(int fd, std::span<const std::string_view> parts);

// fsync(2) of a directory, making the entries created or renamed in it durable.
std::error_code sync_directory(const std::filesystem::path& dir);

// Writes `parts` to `tmp` and renames it over `path` (atomic replace; not synced).
std::error_code replace_file(const std::filesystem::path& path, const std::filesystem::path& tmp,
                             std::span<const std::string_view> parts);

Result<std::string> read_file(const std::filesystem::path& path);

// mkdir -p with mode 0700 for the parts it creates.
std::error_code make_directories(const std::filesystem::path& path);

}  // namespace poshta::core
