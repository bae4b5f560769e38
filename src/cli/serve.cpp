// `poshta serve`: the composition root. It builds every part from the
// configuration, wires them together, runs the event loop, and handles the
// signals of docs/SPEC.md (SIGTERM/SIGINT: stop; SIGHUP: reload).
#include <fcntl.h>
#include <malloc.h>
#include <pwd.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <asio/signal_set.hpp>
#include <cerrno>
#include <cstring>

#include "cli/commands.hpp"
#include "cli/control.hpp"
#include "cli/imap_service.hpp"
#include "cli/pop3_service.hpp"
#include "cli/privileges.hpp"
#include "cli/smtp_service.hpp"
#include "core/address.hpp"
#include "core/files.hpp"
#include "core/group_sync.hpp"
#include "core/log.hpp"
#include "delivery/remote.hpp"
#include "delivery/runner.hpp"
#include "directory/directory.hpp"
#include "dns/resolver.hpp"
#include "net/server.hpp"
#include "net/tls.hpp"
#include "queue/spool.hpp"
#include "store/maildir.hpp"

namespace poshta::cli {

namespace {

constexpr std::chrono::seconds kShutdownGrace{30};
constexpr std::size_t kBlockingThreads = 32;  // mostly waiting in fsync and group flushes

queue::RetryPolicy retry_policy(const core::Config& c) {
  return {c.delivery.retry, c.delivery.bounce_after};
}

delivery::RemoteConfig remote_config(const core::Config& c) {
  delivery::RemoteConfig r;
  r.hostname = c.hostname;
  r.port = c.delivery.remote_port;
  r.smarthost = c.delivery.smarthost;
  r.smarthost_user = c.delivery.smarthost_user;
  if (!c.delivery.smarthost_password_file.empty()) {
    if (auto text = core::read_file(c.delivery.smarthost_password_file)) {
      r.smarthost_password = text->substr(0, text->find_first_of("\r\n"));
    } else {
      spdlog::error("serve event=smarthost_password_unreadable file={}", c.delivery.smarthost_password_file);
    }
  }
  r.require_tls = c.delivery.require_tls;
  r.lmtp = c.delivery.lmtp;
  r.retry = retry_policy(c);
  return r;
}

// Where a DSN to `address` goes: its alias expansion, or the address itself
// when it is in another domain.
std::vector<queue::EnvelopeRecipient> route(directory::Directory& directory, const std::string& address) {
  std::vector<queue::EnvelopeRecipient> out;
  auto add = [&](std::string to, bool local) {
    auto& r = out.emplace_back();
    r.address = std::move(to);
    r.local = local;
    r.original = address;
  };
  const auto e = directory.expand(address);
  if (e.status == directory::Lookup::found) {
    for (const auto& d : e.destinations) add(d.address, d.local);
  } else if (e.status == directory::Lookup::not_found && !e.local_domain) {
    add(core::canonical_address(address), false);
  }
  return out;
}
net::Limits net_limits(const core::Config& c) {
  net::Limits l{c.limits.connections, c.limits.connections_per_ip, c.limits.connection_rate_per_ip,
                c.limits.auth_failures_per_ip, c.limits.rate_limit_exempt};
  l.rate_limit_exempt.insert(l.rate_limit_exempt.end(), c.trusted_networks.begin(), c.trusted_networks.end());
  return l;
}

// Many idle connections need many descriptors: raise the soft limit to the hard one.
void raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

// The name of the user the process runs as, for the log.
std::string user_name() {
  const struct passwd* pw = ::getpwuid(::geteuid());
  return pw ? pw->pw_name : std::to_string(::geteuid());
}

// One server per data_dir: the pid file stays locked (flock) while the
// server runs, so a second `poshta serve` on the same data refuses to start
// instead of sharing the spool. Returns the locked fd, or -1 after printing why.
int lock_pid_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    user_error("cannot open " + path.string() + ": " + std::strerror(errno));
    return -1;
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "?";
    while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
    ::close(fd);
    user_error("poshta is already running on " + path.parent_path().string() + " (PID " + pid +
               "); stop it first or use another data_dir");
    return -1;
  }
  const std::string text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size())) {
    user_error("cannot write " + path.string() + ": " + std::strerror(errno));
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int serve(const std::filesystem::path& config_path, bool verbose) {
  core::init_logging(verbose);
  auto loaded =
      config_path.empty() ? core::LoadedConfig{core::default_config(), {}} : core::load_config_file(config_path);
  if (!loaded.ok()) {
    for (const auto& p : loaded.problems) {
      spdlog::error("config {}:{}: {}", loaded.config.source, p.line, p.message);
    }
    return 1;
  }
  core::Config settings = loaded.config;
  raise_fd_limit();
  // glibc gives each of the pool's threads a malloc arena of its own, which
  // keeps memory they freed; a few shared arenas keep the server small.
  ::mallopt(M_ARENA_MAX, 4);

  std::error_code abs_ec;
  const std::filesystem::path shown_data_dir = std::filesystem::absolute(settings.data_dir, abs_ec);
  if (auto ec = core::make_directories(settings.data_dir))
    return user_error("cannot create " + settings.data_dir.string() + ": " + ec.message());
  const int pid_fd = lock_pid_file(settings.data_dir / "poshta.pid");
  if (pid_fd < 0) return 1;
  struct PidFileGuard {
    std::filesystem::path path;
    int fd;
    ~PidFileGuard() {
      ::unlink(path.c_str());
      ::close(fd);
    }
  } pid_guard{settings.data_dir / "poshta.pid", pid_fd};

  try {
    net::Server server(net_limits(settings), kBlockingThreads);
    // Signals are caught before any port is open (and queued until the
    // handler below waits for them): a SIGTERM that arrives as soon as
    // clients can connect must stop the server cleanly, not kill it.
    asio::signal_set signals(server.context(), SIGTERM, SIGINT, SIGHUP);
    // What needs root comes first: the ports, and the TLS key (a
    // self-signed pair is made in data_dir when none is configured). Then
    // Poshta enters data_dir as its own user, before any client is heard.
    std::vector<std::size_t> bound;
    for (const auto& l : settings.listeners) {
      bound.push_back(server.bind(l.host, l.port));
      spdlog::info("serve event=listening protocol={} address={}", core::protocol_name(l.protocol), l.text());
    }
    auto tls = net::make_tls_context(settings);
    auto relay_settings = remote_config(settings);  // reads smarthost_password_file
    if (auto problem = enter_data_dir(settings); !problem.empty()) return user_error(problem);
    pid_guard.path = settings.data_dir / "poshta.pid";
    auto config = std::make_shared<const core::Config>(settings);
    const auto& data = config->data_dir;
    for (const auto& sub : {data / "mail", data / "queue"}) {
      if (auto ec = core::make_directories(sub))
        return user_error("cannot create " + sub.string() + ": " + ec.message());
    }
    core::GroupSync fs_flush(core::syncfs_flush({data / "queue", data / "mail"}));
    queue::Journal journal(data / "queue" / "journal");
    queue::Spool spool(data / "queue", fs_flush);
    store::Maildir maildir(data / "mail", config->hostname);
    directory::Directory directory(data / "directory.sqlite", config->domains);
    MailboxEvents mailbox_events;
    delivery::RunnerConfig runner_config{config->hostname, retry_policy(*config),
                                         [&directory](const std::string& a) { return route(directory, a); },
                                         [&mailbox_events](const std::string& a) { mailbox_events.changed(a); }};
    delivery::Runner runner(journal, spool, maildir, fs_flush, std::move(runner_config));
    dns::Resolver resolver(server.context(), config->delivery.resolver);
    delivery::Remote remote(server.context(), resolver, std::move(relay_settings),
                            [&runner](delivery::Message m) { runner.relayed(std::move(m)); });
    runner.set_relay(&remote);
    server.on_stop([&remote] { remote.stop(); });
    serve_control(server, runner, data / "control.sock");
    AuthThrottle throttle;
    SmtpContext smtp_ctx{server, directory, journal, spool, runner, config, std::move(tls), throttle};
    Pop3Context pop3_ctx{server, directory, maildir, throttle, smtp_ctx.config, smtp_ctx.tls, {}};
    ImapContext imap_ctx{server, directory, maildir, throttle, mailbox_events, smtp_ctx.config, smtp_ctx.tls};

    std::function<void(std::error_code, int)> on_signal = [&](std::error_code ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        auto next =
            config_path.empty() ? core::LoadedConfig{core::default_config(), {}} : core::load_config_file(config_path);
        if (!next.ok()) {
          for (const auto& p : next.problems) {
            spdlog::error("config {}:{}: {}", next.config.source, p.line, p.message);
          }
          spdlog::error("serve event=reload result=failed reason=\"configuration has errors; keeping the old one\"");
        } else {
          if (next.config.data_dir != config->data_dir) {
            spdlog::warn("serve event=reload note=\"data_dir changes need a restart\"");
            next.config.data_dir = config->data_dir;
          }
          try {
            smtp_ctx.tls = net::make_tls_context(next.config);  // new connections get the new certificate
          } catch (const std::exception& e) {
            spdlog::error("serve event=reload tls=failed error=\"{}\" note=\"keeping the old certificate\"", e.what());
          }
          smtp_ctx.config = std::make_shared<const core::Config>(std::move(next.config));
          directory.set_config_domains(smtp_ctx.config->domains);
          runner.set_retry_policy(retry_policy(*smtp_ctx.config));
          remote.set_config(remote_config(*smtp_ctx.config));
          server.set_limits(net_limits(*smtp_ctx.config));
          spdlog::info("serve event=reload result=ok note=\"listener changes need a restart\"");
        }
        signals.async_wait(on_signal);

        return;
      }
      spdlog::info("serve event=stopping signal={}", sig);
      signals.cancel();
      server.stop(kShutdownGrace);
    };
    signals.async_wait(on_signal);

    for (std::size_t i = 0; i < config->listeners.size(); ++i) {
      const auto& l = config->listeners[i];
      const std::string name = core::protocol_name(l.protocol);
      switch (l.protocol) {
        case core::Protocol::smtp:
        case core::Protocol::submission:
        case core::Protocol::submissions:
        case core::Protocol::lmtp: {
          const auto flavor = l.protocol == core::Protocol::smtp   ? smtp::Flavor::smtp
                              : l.protocol == core::Protocol::lmtp ? smtp::Flavor::lmtp
                                                                   : smtp::Flavor::submission;
          const bool implicit_tls = l.protocol == core::Protocol::submissions;
          server.listen(bound[i], name, "421 4.7.0 {}, try again later\r\n",
                        [&smtp_ctx, flavor, implicit_tls](const std::shared_ptr<net::Connection>& c) {
                          return serve_smtp(c, smtp_ctx, flavor, implicit_tls);
                        });
          break;
        }
        case core::Protocol::imap:
        case core::Protocol::imaps: {
          const bool implicit_tls = l.protocol == core::Protocol::imaps;
          server.listen(bound[i], name, "* BYE [UNAVAILABLE] {}, try again later\r\n",
                        [&imap_ctx, implicit_tls](const std::shared_ptr<net::Connection>& c) {
                          return serve_imap(c, imap_ctx, implicit_tls);
                        });
          break;
        }
        case core::Protocol::pop3:
        case core::Protocol::pop3s: {
          const bool implicit_tls = l.protocol == core::Protocol::pop3s;
          server.listen(bound[i], name, "-ERR [SYS/TEMP] {}, try again later\r\n",
                        [&pop3_ctx, implicit_tls](const std::shared_ptr<net::Connection>& c) {
                          return serve_pop3(c, pop3_ctx, implicit_tls);
                        });
          break;
        }
      }
    }

    runner.start();

    spdlog::info("serve event=started hostname={} data_dir={} user={} domains={}", config->hostname,
                 shown_data_dir.string(), user_name(), fmt::join(config->domains, ","));
    server.run();
    runner.stop();
    spdlog::info("serve event=stopped");
  } catch (const std::exception& e) {
    spdlog::error("serve event=failed error=\"{}\"", e.what());
    return 1;
  }
  return 0;
}

}  // namespace poshta::cli
