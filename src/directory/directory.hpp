// directory::Directory: users, local domains and aliases, kept in SQLite
// (<data_dir>/directory.sqlite, WAL) so that the administrative commands
// and a running server share them: every lookup reads the current state, so
// changes take effect without a restart.
//
// The central question it answers is expand(address): is the address local,
// and to which mailboxes or remote addresses does it go? Aliases expand
// recursively; an address met twice in one expansion is skipped, so loops
// end, except that an alias listing itself keeps a copy in its own mailbox. Every local domain has a `postmaster`
// mailbox of its own unless an alias sends it elsewhere (RFC 5321 §4.5.1).
#pragma once

#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace poshta::directory {

enum class Lookup { found, not_found, temporary_failure };

struct Destination {
  std::string address;  // canonical (lower case)
  bool local = false;   // a mailbox here, else a remote address to relay to
};

struct Expansion {
  Lookup status = Lookup::not_found;
  bool local_domain = false;  // the address itself is in a local domain
  bool list = false;          // an alias with more than one target
  std::vector<Destination> destinations;
};

enum class Change { done, already_exists, not_found, invalid, failed };

struct AliasEntry {
  std::string alias;
  std::vector<std::string> targets;
};

class Directory {
 public:
  // Opens (and creates) the database. Throws std::runtime_error if it cannot:
  // that only happens at start-up or in an administrative command.
  Directory(const std::filesystem::path& db_path, std::vector<std::string> config_domains);
  ~Directory();
  Directory(const Directory&) = delete;
  Directory& operator=(const Directory&) = delete;

  void set_config_domains(std::vector<std::string> domains);
  std::string primary_domain() const;

  Lookup is_local_domain(std::string_view domain);
  Expansion expand(std::string_view address);
  // The stored hash of a user, for authentication.
  Lookup password_hash(std::string_view address, std::string& hash);

  Change add_user(std::string_view address, std::string_view password_hash);
  Change set_password(std::string_view address, std::string_view password_hash);
  Change delete_user(std::string_view address);
  std::vector<std::string> users();

  Change add_domain(std::string_view domain);
  Change delete_domain(std::string_view domain);
  std::vector<std::string> domains();  // configured and added, sorted

  Change add_alias(std::string_view alias, const std::vector<std::string>& targets);
  Change delete_alias(std::string_view alias);
  std::vector<AliasEntry> aliases();

  // A local part that may name a mailbox directory: atext without '/',
  // not starting with '.', no "..", at most 64 octets.
  static bool is_safe_local_part(std::string_view local);

 private:
  class Statement;
  Lookup domain_locked(std::string_view domain);
  Lookup user_locked(std::string_view address);
  Lookup alias_targets_locked(std::string_view alias, std::vector<std::string>& out);
  void expand_locked(const std::string& address, int depth, std::vector<std::string>& seen, Expansion& out);
  void add_mailbox_locked(const std::string& address, Expansion& out);
  bool exec(const char* sql);
  std::vector<std::string> column_list(const char* sql);

  sqlite3* db_ = nullptr;
  std::mutex mutex_;
  std::vector<std::string> config_domains_;
};

}  // namespace poshta::directory
