// The subcommands of docs/SPEC.md "The command". Each returns the process
// exit status: 0 success, 1 a user error (one line on stderr saying what to
// do), 2 bad usage.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace poshta::cli {

// Loads the configuration `-c` names (or the default); prints its problems
// as "FILE:LINE: message" and returns nullopt on any.
std::optional<core::Config> load_config(const std::filesystem::path& path);

int serve(const std::filesystem::path& config_path, bool verbose);
int check(const std::filesystem::path& config_path);
int version();

int user_add(const core::Config& config, const std::string& address, bool password_stdin);
int user_passwd(const core::Config& config, const std::string& address, bool password_stdin);
int user_del(const core::Config& config, const std::string& address);
int user_list(const core::Config& config);
int domain_add(const core::Config& config, const std::string& domain);
int domain_del(const core::Config& config, const std::string& domain);
int domain_list(const core::Config& config);
int alias_add(const core::Config& config, const std::string& alias, const std::vector<std::string>& targets);
int alias_del(const core::Config& config, const std::string& alias);
int alias_list(const core::Config& config);

int queue_list(const core::Config& config);
int queue_show(const core::Config& config, const std::string& id);
int queue_flush(const core::Config& config, const std::string& id);  // id empty: every message
// `verb` is "hold", "release" or "delete".
int queue_change(const core::Config& config, const std::string& verb, const std::string& id);

// sendmail(8): `args` are the arguments after "sendmail"; returns a
// sysexits.h code.
int sendmail(const std::vector<std::string>& args, const std::filesystem::path& default_config);

// "poshta: error: ..." on stderr; returns 1.
int user_error(const std::string& message);

}  // namespace poshta::cli
