#include "cli/privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

#include "core/files.hpp"

namespace poshta::cli {

namespace {

std::string errno_text(int e) {
  return std::generic_category().message(e);
}

// chown -h of `path` to the user; a file gone meanwhile is fine.
std::string give(const std::filesystem::path& path, uid_t uid, gid_t gid) {
  if (::lchown(path.c_str(), uid, gid) != 0 && errno != ENOENT)
    return "cannot give " + path.string() + " to its user: " + errno_text(errno);
  return {};
}

// give() of `dir` and of everything below it (`recursive`) or of the entries
// right in it.
std::string give_tree(const std::filesystem::path& dir, uid_t uid, gid_t gid, bool recursive) {
  if (auto problem = give(dir, uid, gid); !problem.empty()) return problem;
  std::error_code ec;
  if (recursive) {
    for (auto it = std::filesystem::recursive_directory_iterator(dir, ec); !ec && it != std::filesystem::end(it);
         it.increment(ec)) {
      if (auto problem = give(it->path(), uid, gid); !problem.empty()) return problem;
    }
  } else {
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (auto problem = give(entry.path(), uid, gid); !problem.empty()) return problem;
    }
  }
  if (ec) return "cannot read " + dir.string() + ": " + ec.message();
  return {};
}

}  // namespace

std::string enter_data_dir(core::Config& config) {
  const std::filesystem::path data = config.data_dir;
  if (auto ec = core::make_directories(data)) return "cannot create " + data.string() + ": " + ec.message();
  if (::geteuid() != 0) {
    if (::chdir(data.c_str()) != 0) return "cannot enter " + data.string() + ": " + errno_text(errno);
    config.data_dir = ".";
    return {};
  }

  errno = 0;
  const struct passwd* pw = ::getpwnam(config.user.c_str());
  if (!pw) {
    return "the user '" + config.user +
           "' that Poshta runs as does not exist: create it (scripts/setup.sh does: useradd --system --user-group "
           "--home-dir /nonexistent --shell /usr/sbin/nologin " +
           config.user + ") or name another one with user = \"...\" in the configuration";
  }
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  const std::string name = pw->pw_name;
  if (uid == 0) return "user = \"" + config.user + "\" is root: name an unprivileged user";

  // The first start as that user hands all the data over; later ones only
  // what root may have made meanwhile: the files at the top (the pid file,
  // the directory's database) and the self-signed certificate.
  struct stat st {};
  if (::stat(data.c_str(), &st) != 0) return "cannot read " + data.string() + ": " + errno_text(errno);
  std::string problem = give_tree(data, uid, gid, st.st_uid != uid);
  std::error_code ec;
  if (problem.empty() && st.st_uid == uid && std::filesystem::exists(data / "tls", ec))
    problem = give_tree(data / "tls", uid, gid, true);
  if (!problem.empty()) return problem;
  if (::chdir(data.c_str()) != 0) return "cannot enter " + data.string() + ": " + errno_text(errno);

  if (::initgroups(name.c_str(), gid) != 0) return "cannot take the groups of " + name + ": " + errno_text(errno);
  if (::setgid(gid) != 0) return "cannot become group " + std::to_string(gid) + ": " + errno_text(errno);
  if (::setuid(uid) != 0) return "cannot become " + name + ": " + errno_text(errno);
  // For good (main() already made sure that nothing exec'd gains any).
  if (::setuid(0) == 0 || ::geteuid() == 0) return "could not give up root";
#if defined(__SANITIZE_ADDRESS__)
  // The leak checker stops the process the way a debugger does, which the
  // kernel refuses once a change of user made it non-dumpable.
  ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
  config.data_dir = ".";
  return {};
}

}  // namespace poshta::cli
