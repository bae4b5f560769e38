#include "directory/directory.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "core/address.hpp"

namespace poshta::directory {

// A prepared statement, finalized on scope exit.
class Directory::Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  Statement& bind(int index, std::string_view text) {
    if (stmt_) sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& bind(int index, long long value) {
    if (stmt_) sqlite3_bind_int64(stmt_, index, value);
    return *this;
  }
  int step() { return stmt_ ? sqlite3_step(stmt_) : SQLITE_ERROR; }
  std::string text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

namespace {

constexpr int kMaxAliasDepth = 20;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS users (
  address  TEXT PRIMARY KEY NOT NULL,
  password TEXT NOT NULL,
  created  INTEGER NOT NULL DEFAULT (strftime('%s','now'))
);
CREATE TABLE IF NOT EXISTS domains (
  name TEXT PRIMARY KEY NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
  alias    TEXT NOT NULL,
  position INTEGER NOT NULL,
  target   TEXT NOT NULL,
  PRIMARY KEY (alias, position)
);
)sql";

// SQLite's unix VFS with one change: a relative path stays relative. Poshta
// works inside data_dir under a user that may not be allowed to pass
// through the directories above it (cli/privileges), and the stock VFS
// would make every name absolute through them.
sqlite3_vfs* stock_vfs = nullptr;

int keep_relative(sqlite3_vfs* vfs, const char* name, int size, char* out) {
  if (name[0] == '/') return stock_vfs->xFullPathname(vfs, name, size, out);
  if (static_cast<int>(std::strlen(name)) + 1 > size) return SQLITE_CANTOPEN;
  std::strcpy(out, name);
  return SQLITE_OK;
}

const char* relative_vfs() {
  static std::once_flag once;
  static sqlite3_vfs vfs;
  std::call_once(once, [] {
    stock_vfs = sqlite3_vfs_find(nullptr);
    vfs = *stock_vfs;  // pAppData and all: the same VFS under another name
    vfs.zName = "poshta-relative";
    vfs.xFullPathname = keep_relative;
    sqlite3_vfs_register(&vfs, 0);
  });
  return vfs.zName;
}

Change change_of(int rc) {
  if (rc == SQLITE_DONE) return Change::done;
  if (rc == SQLITE_CONSTRAINT) return Change::already_exists;
  return Change::failed;
}

}  // namespace

Directory::Directory(const std::filesystem::path& db_path, std::vector<std::string> config_domains)
    : config_domains_(std::move(config_domains)) {
  if (sqlite3_open_v2(db_path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      relative_vfs()) != SQLITE_OK) {
    std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    throw std::runtime_error("cannot open " + db_path.string() + ": " + why);
  }
  sqlite3_busy_timeout(db_, 5000);
  if (!exec("PRAGMA journal_mode=WAL") || !exec("PRAGMA synchronous=FULL") || !exec(kSchema)) {
    std::string why = sqlite3_errmsg(db_);
    sqlite3_close(db_);
    throw std::runtime_error("cannot set up " + db_path.string() + ": " + why);
  }
}

Directory::~Directory() {
  sqlite3_close(db_);
}

bool Directory::exec(const char* sql) {
  return sqlite3_exec(db_, sql, nullptr, nullptr, nullptr) == SQLITE_OK;
}

void Directory::set_config_domains(std::vector<std::string> domains) {
  std::lock_guard lock(mutex_);
  config_domains_ = std::move(domains);
}

std::string Directory::primary_domain() const {
  return config_domains_.empty() ? "localhost" : config_domains_[0];
}

bool Directory::is_safe_local_part(std::string_view local) {
  if (local.empty() || local.size() > 64 || local.front() == '.' || local.back() == '.' ||
      local.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(local.begin(), local.end(), [](char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-=?^_`{|}~.").find(c) != std::string_view::npos;
  });
}

Lookup Directory::domain_locked(std::string_view domain) {
  const std::string d = core::to_lower(domain);
  if (std::find(config_domains_.begin(), config_domains_.end(), d) != config_domains_.end()) return Lookup::found;
  Statement st(db_, "SELECT 1 FROM domains WHERE name = ?1");
  const int rc = st.bind(1, d).step();
  if (rc == SQLITE_ROW) return Lookup::found;
  return rc == SQLITE_DONE ? Lookup::not_found : Lookup::temporary_failure;
}

Lookup Directory::user_locked(std::string_view address) {
  Statement st(db_, "SELECT 1 FROM users WHERE address = ?1");
  const int rc = st.bind(1, address).step();
  if (rc == SQLITE_ROW) return Lookup::found;
  return rc == SQLITE_DONE ? Lookup::not_found : Lookup::temporary_failure;
}

Lookup Directory::alias_targets_locked(std::string_view alias, std::vector<std::string>& out) {
  Statement st(db_, "SELECT target FROM aliases WHERE alias = ?1 ORDER BY position");
  st.bind(1, alias);
  int rc;
  while ((rc = st.step()) == SQLITE_ROW) out.push_back(st.text(0));
  if (rc != SQLITE_DONE) return Lookup::temporary_failure;
  return out.empty() ? Lookup::not_found : Lookup::found;
}

Lookup Directory::is_local_domain(std::string_view domain) {
  std::lock_guard lock(mutex_);
  return domain_locked(domain);
}

void Directory::expand_locked(const std::string& address, int depth, std::vector<std::string>& seen, Expansion& out) {
  if (out.status == Lookup::temporary_failure) return;
  if (depth > kMaxAliasDepth || std::find(seen.begin(), seen.end(), address) != seen.end()) return;  // a loop
  seen.push_back(address);
  const auto parts = core::split_address(address);
  const Lookup local = domain_locked(parts.domain);
  if (local == Lookup::temporary_failure) {
    out.status = Lookup::temporary_failure;
    return;
  }
  if (local == Lookup::not_found) {
    out.destinations.push_back({address, false});
    return;
  }
  std::vector<std::string> targets;
  const Lookup alias = alias_targets_locked(address, targets);
  if (alias == Lookup::temporary_failure) {
    out.status = Lookup::temporary_failure;
    return;
  }
  if (alias == Lookup::found) {
    if (depth == 0) out.list = targets.size() > 1;
    for (const auto& t : targets) {
      const std::string target = core::canonical_address(t);
      // An alias naming itself keeps a copy in its own mailbox (virtual(5)).
      if (target == address)
        add_mailbox_locked(address, out);
      else
        expand_locked(target, depth + 1, seen, out);
    }
    return;
  }
  add_mailbox_locked(address, out);
}

void Directory::add_mailbox_locked(const std::string& address, Expansion& out) {
  const auto parts = core::split_address(address);
  const Lookup user = parts.local == "postmaster" ? Lookup::found : user_locked(address);
  if (user == Lookup::temporary_failure) {
    out.status = Lookup::temporary_failure;
    return;
  }
  if (user == Lookup::found) out.destinations.push_back({address, true});
}

Expansion Directory::expand(std::string_view address) {
  std::string canonical = core::canonical_address(address);
  std::lock_guard lock(mutex_);
  if (canonical == "postmaster") canonical += "@" + primary_domain();  // RFC 5321 §4.5.1
  Expansion out;
  out.status = Lookup::found;
  const Lookup local = domain_locked(core::split_address(canonical).domain);
  if (local == Lookup::temporary_failure) return {Lookup::temporary_failure, false, false, {}};
  out.local_domain = local == Lookup::found;
  std::vector<std::string> seen;
  expand_locked(canonical, 0, seen, out);
  if (out.status == Lookup::found && out.destinations.empty()) out.status = Lookup::not_found;
  // One delivery per destination, however many ways lead to it.
  std::vector<Destination> unique;
  for (auto& d : out.destinations) {
    if (std::none_of(unique.begin(), unique.end(), [&](const Destination& u) { return u.address == d.address; }))
      unique.push_back(std::move(d));
  }
  out.destinations = std::move(unique);
  return out;
}

Lookup Directory::password_hash(std::string_view address, std::string& hash) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "SELECT password FROM users WHERE address = ?1");
  const int rc = st.bind(1, core::canonical_address(address)).step();
  if (rc == SQLITE_ROW) {
    hash = st.text(0);
    return Lookup::found;
  }
  return rc == SQLITE_DONE ? Lookup::not_found : Lookup::temporary_failure;
}

Change Directory::add_user(std::string_view address, std::string_view password_hash) {
  const std::string a = core::canonical_address(address);
  const auto parts = core::split_address(a);
  if (parts.domain.empty() || !is_safe_local_part(parts.local)) return Change::invalid;
  std::lock_guard lock(mutex_);
  if (domain_locked(parts.domain) != Lookup::found) return Change::not_found;
  Statement st(db_, "INSERT INTO users (address, password) VALUES (?1, ?2)");
  return change_of(st.bind(1, a).bind(2, password_hash).step());
}

Change Directory::set_password(std::string_view address, std::string_view password_hash) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "UPDATE users SET password = ?2 WHERE address = ?1");
  const int rc = st.bind(1, core::canonical_address(address)).bind(2, password_hash).step();
  if (rc != SQLITE_DONE) return Change::failed;
  return sqlite3_changes(db_) > 0 ? Change::done : Change::not_found;
}

Change Directory::delete_user(std::string_view address) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM users WHERE address = ?1");
  if (st.bind(1, core::canonical_address(address)).step() != SQLITE_DONE) return Change::failed;
  return sqlite3_changes(db_) > 0 ? Change::done : Change::not_found;
}

std::vector<std::string> Directory::column_list(const char* sql) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> out;
  Statement st(db_, sql);
  while (st.step() == SQLITE_ROW) out.push_back(st.text(0));
  return out;
}

std::vector<std::string> Directory::users() {
  return column_list("SELECT address FROM users ORDER BY address");
}

Change Directory::add_domain(std::string_view domain) {
  if (!core::is_valid_domain(domain)) return Change::invalid;
  const std::string d = core::to_lower(domain);
  {
    std::lock_guard lock(mutex_);
    if (std::find(config_domains_.begin(), config_domains_.end(), d) != config_domains_.end())
      return Change::already_exists;
  }
  std::lock_guard lock(mutex_);
  Statement st(db_, "INSERT INTO domains (name) VALUES (?1)");
  return change_of(st.bind(1, d).step());
}

Change Directory::delete_domain(std::string_view domain) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM domains WHERE name = ?1");
  if (st.bind(1, core::to_lower(domain)).step() != SQLITE_DONE) return Change::failed;
  return sqlite3_changes(db_) > 0 ? Change::done : Change::not_found;
}

std::vector<std::string> Directory::domains() {
  std::vector<std::string> out = column_list("SELECT name FROM domains");
  {
    std::lock_guard lock(mutex_);
    out.insert(out.end(), config_domains_.begin(), config_domains_.end());
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Change Directory::add_alias(std::string_view alias, const std::vector<std::string>& targets) {
  const std::string a = core::canonical_address(alias);
  const auto parts = core::split_address(a);
  if (parts.domain.empty() || parts.local.empty() || targets.empty()) return Change::invalid;
  std::lock_guard lock(mutex_);
  if (domain_locked(parts.domain) != Lookup::found) return Change::not_found;
  {
    Statement exists(db_, "SELECT 1 FROM aliases WHERE alias = ?1");
    if (exists.bind(1, a).step() == SQLITE_ROW) return Change::already_exists;
  }
  if (!exec("BEGIN IMMEDIATE")) return Change::failed;
  long long position = 0;
  for (const auto& t : targets) {
    Statement st(db_, "INSERT INTO aliases (alias, position, target) VALUES (?1, ?2, ?3)");
    if (st.bind(1, a).bind(2, position++).bind(3, core::canonical_address(t)).step() != SQLITE_DONE) {
      exec("ROLLBACK");
      return Change::failed;
    }
  }
  return exec("COMMIT") ? Change::done : Change::failed;
}

Change Directory::delete_alias(std::string_view alias) {
  std::lock_guard lock(mutex_);
  Statement st(db_, "DELETE FROM aliases WHERE alias = ?1");
  if (st.bind(1, core::canonical_address(alias)).step() != SQLITE_DONE) return Change::failed;
  return sqlite3_changes(db_) > 0 ? Change::done : Change::not_found;
}

std::vector<AliasEntry> Directory::aliases() {
  std::lock_guard lock(mutex_);
  std::vector<AliasEntry> out;
  Statement st(db_, "SELECT alias, target FROM aliases ORDER BY alias, position");
  while (st.step() == SQLITE_ROW) {
    std::string alias = st.text(0);
    if (out.empty() || out.back().alias != alias) out.push_back({std::move(alias), {}});
    out.back().targets.push_back(st.text(1));
  }
  return out;
}

}  // namespace poshta::directory
