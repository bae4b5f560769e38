// File operations for the spool and the mailboxes. None of them syncs: a
// caller makes its writes durable with one GroupSync::sync() covering them
// all (group commit), which is what lets many sessions share one flush.
#pragma once

#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <system_error>

#include "core/result.hpp"

namespace poshta::core {

// Creates `path` exclusively (EEXIST if it is there) and writes `parts` in
// order. On failure nothing is left at `path`.
std::error_code write_new_file(const std::filesystem::path& path, std::span<const std::string_view> parts);

// Writes `parts` to `tmp` and renames it over `path` (atomic replace).
std::error_code replace_file(const std::filesystem::path& path, const std::filesystem::path& tmp,
                             std::span<const std::string_view> parts);

Result<std::string> read_file(const std::filesystem::path& path);

// mkdir -p with mode 0700 for the parts it creates.
std::error_code make_directories(const std::filesystem::path& path);

}  // namespace poshta::core
