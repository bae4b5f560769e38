// The administrative subcommands: users, domains, aliases, and `check`.
// They open the same SQLite directory as a running server, which sees their
// changes on its next lookup.
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "auth/password.hpp"
#include "cli/commands.hpp"
#include "core/address.hpp"
#include "core/files.hpp"
#include "directory/directory.hpp"
#include "store/maildir.hpp"

namespace poshta::cli {

namespace {

// Opens the directory of the configured data_dir, creating it on first use.
std::unique_ptr<directory::Directory> open_directory(const core::Config& config) {
  if (auto ec = core::make_directories(config.data_dir)) {
    user_error("cannot create " + config.data_dir.string() + ": " + ec.message());
    return nullptr;
  }
  try {
    return std::make_unique<directory::Directory>(config.data_dir / "directory.sqlite", config.domains);
  } catch (const std::exception& e) {
    user_error(e.what());
    return nullptr;
  }
}

std::optional<std::string> read_line_no_echo(const char* prompt) {
  std::cerr << prompt << std::flush;
  termios old{};
  const bool tty = ::tcgetattr(STDIN_FILENO, &old) == 0;
  if (tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  const bool ok = static_cast<bool>(std::getline(std::cin, line));
  if (tty) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    std::cerr << "\n";
  }
  if (!ok) return std::nullopt;
  return line;
}

// The password from one line of stdin, or asked twice on the terminal.
std::optional<std::string> read_password(bool from_stdin) {
  if (from_stdin || !::isatty(STDIN_FILENO)) {
    std::string line;
    if (!std::getline(std::cin, line)) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  auto first = read_line_no_echo("Password: ");
  auto second = read_line_no_echo("Password again: ");
  if (!first || !second) return std::nullopt;
  if (*first != *second) {
    user_error("the passwords differ; nothing was changed");
    return std::nullopt;
  }
  return first;
}

std::optional<std::string> hashed_password(bool from_stdin) {
  auto password = read_password(from_stdin);
  if (!password) return std::nullopt;
  if (password->empty()) {
    user_error("the password is empty; give one on stdin or at the prompt");
    return std::nullopt;
  }
  auto hash = auth::hash_password(*password);
  if (!hash) {
    user_error("cannot hash the password: " + hash.error().message());
    return std::nullopt;
  }
  return *hash;
}

int report(directory::Change change, const std::string& done, const std::string& exists, const std::string& missing,
           const std::string& invalid) {
  switch (change) {
    case directory::Change::done: std::cout << done << "\n"; return 0;
    case directory::Change::already_exists: return user_error(exists);
    case directory::Change::not_found: return user_error(missing);
    case directory::Change::invalid: return user_error(invalid);
    case directory::Change::failed: break;
  }
  return user_error("the directory could not be changed (is the disk full or the database locked?)");
}

bool looks_like_address(const std::string& address) {
  const auto parts = core::split_address(address);
  return !parts.local.empty() && core::is_valid_domain(parts.domain);
}

}  // namespace

int user_error(const std::string& message) {
  std::cerr << "poshta: error: " << message << "\n";
  return 1;
}

int user_add(const core::Config& config, const std::string& address, bool password_stdin) {
  const auto parts = core::split_address(address);
  if (!looks_like_address(address) || !directory::Directory::is_safe_local_part(parts.local)) {
    return user_error("'" + address +
                      "' is not a usable mailbox address (use letters, digits and . - _ + before the @)");
  }
  auto dir = open_directory(config);
  if (!dir) return 1;
  if (dir->is_local_domain(parts.domain) != directory::Lookup::found) {
    return user_error("'" + std::string(parts.domain) + "' is not a local domain; add it with 'poshta domain add " +
                      std::string(parts.domain) + "' or to domains in the configuration");
  }
  auto hash = hashed_password(password_stdin);
  if (!hash) return 1;
  const auto change = dir->add_user(address, *hash);
  if (change == directory::Change::done) {
    // The Maildir exists from the start, for mail clients and other readers.
    store::Maildir maildir(config.data_dir / "mail", config.hostname);
    if (auto ec = maildir.create(core::canonical_address(address))) {
      std::cerr << "poshta: warning: the mailbox will be created on first delivery: " << ec.message() << "\n";
    }
  }
  return report(change, "added user " + core::canonical_address(address),
                "user " + address + " exists already; change its password with 'poshta user passwd'",
                "'" + std::string(parts.domain) + "' is not a local domain",
                "'" + address + "' is not a usable address");
}

int user_passwd(const core::Config& config, const std::string& address, bool password_stdin) {
  auto dir = open_directory(config);
  if (!dir) return 1;
  std::string existing;
  if (dir->password_hash(address, existing) != directory::Lookup::found) {
    return user_error("no user " + address + "; see 'poshta user list'");
  }
  auto hash = hashed_password(password_stdin);
  if (!hash) return 1;
  return report(dir->set_password(address, *hash), "password of " + core::canonical_address(address) + " changed", "",
                "no user " + address, "");
}

int user_del(const core::Config& config, const std::string& address) {
  auto dir = open_directory(config);
  if (!dir) return 1;
  return report(dir->delete_user(address),
                "deleted user " + core::canonical_address(address) + " (its mailbox stays on disk)", "",
                "no user " + address + "; see 'poshta user list'", "");
}

int user_list(const core::Config& config) {
  auto dir = open_directory(config);
  if (!dir) return 1;
  for (const auto& u : dir->users()) std::cout << u << "\n";
  return 0;
}

int domain_add(const core::Config& config, const std::string& domain) {
  auto dir = open_directory(config);
  if (!dir) return 1;
  return report(dir->add_domain(domain), "added domain " + core::to_lower(domain),
                "domain " + domain + " is local already", "", "'" + domain + "' is not a valid domain name");
}

int domain_del(const core::Config& config, const std::string& domain) {
  auto dir = open_directory(config);
  if (!dir) return 1;
  const auto& configured = config.domains;
  if (std::find(configured.begin(), configured.end(), core::to_lower(domain)) != configured.end()) {
    return user_error("domain " + domain + " is set in the configuration (" + config.source + "); remove it there");
  }
  return report(dir->delete_domain(domain), "deleted domain " + core::to_lower(domain), "",
                "no domain " + domain + "; see 'poshta domain list'", "");
}

int domain_list(const core::Config& config) {
  auto dir = open_directory(config);
  if (!dir) return 1;
  for (const auto& d : dir->domains()) std::cout << d << "\n";
  return 0;
}

int alias_add(const core::Config& config, const std::string& alias, const std::vector<std::string>& targets) {
  if (!looks_like_address(alias)) return user_error("'" + alias + "' is not an address (local@domain)");
  for (const auto& t : targets) {
    if (!looks_like_address(t)) return user_error("target '" + t + "' is not an address (local@domain)");
  }
  auto dir = open_directory(config);
  if (!dir) return 1;
  const std::string domain(core::split_address(alias).domain);
  return report(dir->add_alias(alias, targets), "added alias " + core::canonical_address(alias),
                "alias " + alias + " exists already; delete it first with 'poshta alias del'",
                "'" + domain + "' is not a local domain; add it with 'poshta domain add " + domain + "'",
                "an alias needs at least one target");
}

int alias_del(const core::Config& config, const std::string& alias) {
  auto dir = open_directory(config);
  if (!dir) return 1;
  return report(dir->delete_alias(alias), "deleted alias " + core::canonical_address(alias), "",
                "no alias " + alias + "; see 'poshta alias list'", "");
}

int alias_list(const core::Config& config) {
  auto dir = open_directory(config);
  if (!dir) return 1;
  for (const auto& a : dir->aliases()) {
    std::cout << a.alias << ":";
    for (const auto& t : a.targets) std::cout << " " << t;
    std::cout << "\n";
  }
  return 0;
}

std::optional<core::Config> load_config(const std::filesystem::path& path) {
  if (path.empty()) return core::default_config();
  auto loaded = core::load_config_file(path);
  for (const auto& p : loaded.problems) {
    std::cerr << loaded.config.source << ":" << p.line << ": error: " << p.message << "\n";
  }
  if (!loaded.ok()) return std::nullopt;
  return loaded.config;
}

int check(const std::filesystem::path& config_path) {
  auto config = load_config(config_path);
  if (!config) return 1;
  std::cout << config->source << ": OK\n";
  return 0;
}

}  // namespace poshta::cli
