// `poshta queue list|show|flush|delete|hold|release`: asks the running
// server through its control socket (cli/control.hpp), which knows every
// message, including those it is delivering right now. Without a server
// the commands read and change the spool directly, holding the server's
// pid lock so that no server starts meanwhile.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <iostream>

#include "cli/commands.hpp"
#include "core/files.hpp"
#include "core/group_sync.hpp"
#include "queue/envelope.hpp"
#include "queue/spool.hpp"

namespace poshta::cli {

namespace {

constexpr std::string_view kEnvelopeEnd = "\nend\n";

std::int64_t now_seconds() {
  return static_cast<std::int64_t>(std::time(nullptr));
}

std::string span_text(std::int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 7200) return std::to_string(seconds / 60) + "m";
  if (seconds < 172800) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::string time_text(std::int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// Splits envelopes in text form off the front of `text`.
std::vector<queue::Envelope> parse_envelopes(std::string_view& text) {
  std::vector<queue::Envelope> out;
  while (!text.empty()) {
    const auto end = text.find(kEnvelopeEnd);
    if (end == std::string_view::npos) break;
    auto env = queue::parse_envelope(text.substr(0, end + kEnvelopeEnd.size()));
    if (!env) break;
    out.push_back(std::move(*env));
    text.remove_prefix(end + kEnvelopeEnd.size());
  }
  return out;
}

void print_list(const std::vector<queue::Envelope>& envelopes) {
  if (envelopes.empty()) {
    std::cout << "queue is empty\n";
    return;
  }
  const std::int64_t now = now_seconds();
  std::uint64_t bytes = 0;
  for (const auto& env : envelopes) {
    bytes += env.size;
    std::cout << env.id << "  " << env.size << "  " << span_text(now - env.arrived) << "  <" << env.sender << ">"
              << (env.held ? "  (held)" : "") << "\n";
    for (const auto& r : env.recipients) {
      std::cout << "    " << queue::state_name(r.state) << "  " << r.address;
      if (r.state == queue::RecipientState::deferred) {
        std::cout << "  attempts=" << r.attempts
                  << "  next=" << (r.next_attempt <= now ? "now" : "in " + span_text(r.next_attempt - now));
      }
      if (!r.last_error.empty()) std::cout << "  error: " << r.last_error;
      std::cout << "\n";
    }
  }
  std::cout << "-- " << envelopes.size() << (envelopes.size() == 1 ? " message, " : " messages, ") << bytes
            << " bytes\n";
}

void print_show(const queue::Envelope& env, std::string_view header) {
  const std::int64_t now = now_seconds();
  std::cout << "id: " << env.id << "\n"
            << "arrived: " << time_text(env.arrived) << " (" << span_text(now - env.arrived) << " ago)\n"
            << "sender: <" << env.sender << ">\n"
            << "size: " << env.size << "\n"
            << "held: " << (env.held ? "yes" : "no") << "\n";
  for (const auto& r : env.recipients) {
    std::cout << "recipient: " << r.address << (r.local ? " (local)" : " (remote)") << "\n"
              << "  state: " << queue::state_name(r.state) << "\n"
              << "  attempts: " << r.attempts << "\n";
    if (r.state == queue::RecipientState::deferred) {
      std::cout << "  next attempt: " << time_text(r.next_attempt) << "\n";
    }
    if (!r.original.empty() && r.original != r.address) std::cout << "  original recipient: " << r.original << "\n";
    if (!r.last_error.empty()) std::cout << "  last error: " << r.last_error << "\n";
  }
  std::cout << "\n" << header;
}

// The server's answer to `request`; nullopt (errno set) if no server listens.
std::optional<std::string> ask_server(const std::filesystem::path& socket_path, const std::string& request) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  const std::string path = socket_path.string();
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    errno = ENAMETOOLONG;
    return std::nullopt;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    errno = e;
    return std::nullopt;
  }
  timeval tv{60, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string line = request + "\n";
  std::string answer;
  if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
    char buf[65536];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      answer.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return answer;
}

// Runs `request` on the server if one runs; else `offline` with the pid lock held.
template <typename Online, typename Offline>
int run(const core::Config& config, const std::string& request, Online online, Offline offline) {
  if (auto answer = ask_server(config.data_dir / "control.sock", request)) {
    std::string_view text = *answer;
    const auto nl = text.find('\n');
    const std::string_view status = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (status.substr(0, 2) != "ok") {
      return user_error(status.size() > 6 ? std::string(status.substr(6)) : "the server did not answer");
    }
    return online(status, text);
  }
  const int fd = ::open((config.data_dir / "poshta.pid").c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return user_error("the server runs but does not answer on " + (config.data_dir / "control.sock").string());
  }
  std::error_code ec;
  if (!std::filesystem::exists(config.data_dir / "queue", ec)) {
    if (fd >= 0) ::close(fd);
    return offline(nullptr);
  }
  core::GroupSync sync(core::syncfs_flush({config.data_dir / "queue"}));
  queue::Spool spool(config.data_dir / "queue", sync);
  const int status = offline(&spool);
  if (fd >= 0) ::close(fd);
  return status;
}

std::optional<queue::Envelope> offline_envelope(queue::Spool* spool, const std::string& id, std::string* header) {
  if (!spool) return std::nullopt;
  auto entry = spool->load(id);
  if (!entry) return std::nullopt;
  if (header) {
    const auto end = entry->content.find("\r\n\r\n");
    *header = entry->content.substr(0, end == std::string::npos ? entry->content.size() : end + 2);
  }
  return std::move(entry->envelope);
}

int not_found(const std::string& id) {
  return user_error("no message " + id + " in the queue (see 'poshta queue list')");
}

}  // namespace

int queue_list(const core::Config& config) {
  return run(
      config, "list",
      [](std::string_view, std::string_view text) {
        print_list(parse_envelopes(text));
        return 0;
      },
      [](queue::Spool* spool) {
        print_list(spool ? spool->list() : std::vector<queue::Envelope>{});
        return 0;
      });
}

int queue_show(const core::Config& config, const std::string& id) {
  return run(
      config, "show " + id,
      [](std::string_view, std::string_view text) {
        auto envs = parse_envelopes(text);
        if (envs.size() != 1) return user_error("the server's answer could not be read");
        print_show(envs.front(), text);
        return 0;
      },
      [&](queue::Spool* spool) {
        std::string header;
        auto env = offline_envelope(spool, id, &header);
        if (!env) return not_found(id);
        print_show(*env, header);
        return 0;
      });
}

int queue_flush(const core::Config& config, const std::string& id) {
  return run(
      config, id.empty() ? "flush" : "flush " + id, [](std::string_view, std::string_view) { return 0; },
      [&](queue::Spool* spool) {
        if (!id.empty() && !offline_envelope(spool, id, nullptr)) return not_found(id);
        std::cerr << "poshta: the server is not running; deferred mail is tried when it starts\n";
        return 0;
      });
}

int queue_change(const core::Config& config, const std::string& verb, const std::string& id) {
  return run(
      config, verb + " " + id,
      [](std::string_view status, std::string_view) {
        if (status.size() > 3) std::cout << status.substr(3) << "\n";  // e.g. "after the delivery attempt in progress"
        return 0;
      },
      [&](queue::Spool* spool) {
        auto env = offline_envelope(spool, id, nullptr);
        if (!env) return not_found(id);
        if (verb == "delete") {
          spool->remove(id);
          return 0;
        }
        env->held = verb == "hold";
        if (auto ec = spool->update(*env)) return user_error("cannot update the queue: " + ec.message());
        return 0;
      });
}

}  // namespace poshta::cli
