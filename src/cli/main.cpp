// poshta: one executable, subcommands of docs/SPEC.md. This file only parses
// the command line and dispatches; the work is in src/cli/.
#include <sys/prctl.h>
#include <sys/stat.h>
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.hpp"
#include "cli/privileges.hpp"

namespace {

using poshta::cli::load_config;

// Runs `fn` with the configuration in data_dir, as Poshta's user when
// started as root (cli/privileges); returns 1 if the configuration has
// errors or data_dir cannot be entered.
template <typename Fn>
int with_config(const std::string& path, Fn fn) {
  auto config = load_config(path);
  if (!config) return 1;
  if (auto problem = poshta::cli::enter_data_dir(*config); !problem.empty()) return poshta::cli::user_error(problem);
  return fn(*config);
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists, since both are inherited per thread: nothing
  // Poshta runs may gain privileges by exec, and what it creates is its own.
  ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  ::umask(077);
  // sendmail(8) has its own flag syntax (-fuser, -oi...): it is parsed apart,
  // whether the binary runs as "sendmail" or as "poshta [-c FILE] sendmail".
  if (argc > 0 && std::filesystem::path(argv[0]).filename() == "sendmail") {
    return poshta::cli::sendmail({argv + 1, argv + argc}, poshta::core::default_config_path());
  }
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "sendmail") {
      std::vector<std::string> rest(argv + i + 1, argv + argc);
      if (i == 3 && (std::string(argv[1]) == "-c" || std::string(argv[1]) == "--config")) {
        rest.insert(rest.begin(), {"-c", argv[2]});
      } else if (i != 1) {
        break;  // not in the place of a subcommand: let the parser complain
      }
      return poshta::cli::sendmail(rest, poshta::core::default_config_path());
    }
    if (a == "-c" || a == "--config")
      ++i;
    else
      break;
  }

  CLI::App app{"Poshta: SMTP, Maildir delivery, and more, in one program"};
  app.require_subcommand(1);
  std::string config_path;
  bool verbose = false;
  app.add_option("-c,--config", config_path, "configuration file (default: ./poshta.toml if present)");
  app.set_version_flag("--version", "poshta " POSHTA_VERSION);
  // Subcommands accept -c after their name too ("poshta user add X -c FILE").
  auto sub = [&](CLI::App* parent, const char* name, const char* what) {
    auto* s = parent->add_subcommand(name, what);
    s->fallthrough();
    return s;
  };

  auto* serve = sub(&app, "serve", "run every listener, the queue and delivery");
  serve->add_flag("-v,--verbose", verbose, "debug logging");
  auto* check = sub(&app, "check", "validate the configuration");
  auto* version = sub(&app, "version", "show the version and library versions");
  // Listed for --help; the arguments are parsed by the sendmail(8) parser above.
  sub(&app, "sendmail", "read a message on stdin and queue it (sendmail(8) flags: -t -i -f -F)")->allow_extras();

  std::string address, domain, alias;
  std::vector<std::string> targets;
  bool password_stdin = false;
  auto* user = sub(&app, "user", "manage mailbox users");
  user->require_subcommand(1);
  auto* user_add = sub(user, "add", "create a user");
  user_add->add_option("ADDRESS", address, "user@domain")->required();
  user_add->add_flag("--password-stdin", password_stdin, "read the password from one line of stdin");
  auto* user_passwd = sub(user, "passwd", "change a user's password");
  user_passwd->add_option("ADDRESS", address, "user@domain")->required();
  user_passwd->add_flag("--password-stdin", password_stdin, "read the password from one line of stdin");
  auto* user_del = sub(user, "del", "delete a user (the mailbox stays on disk)");
  user_del->add_option("ADDRESS", address, "user@domain")->required();
  auto* user_list = sub(user, "list", "list users");

  auto* dom = sub(&app, "domain", "manage local domains");
  dom->require_subcommand(1);
  auto* domain_add = sub(dom, "add", "add a local domain");
  domain_add->add_option("DOMAIN", domain)->required();
  auto* domain_del = sub(dom, "del", "remove a local domain");
  domain_del->add_option("DOMAIN", domain)->required();
  auto* domain_list = sub(dom, "list", "list local domains");

  auto* ali = sub(&app, "alias", "manage aliases and lists");
  ali->require_subcommand(1);
  auto* alias_add = sub(ali, "add", "forward ALIAS to one or more targets");
  alias_add->add_option("ALIAS", alias)->required();
  alias_add->add_option("TARGET", targets)->required();
  auto* alias_del = sub(ali, "del", "delete an alias");
  alias_del->add_option("ALIAS", alias)->required();
  auto* alias_list = sub(ali, "list", "list aliases");

  std::string queue_id;
  auto* que = sub(&app, "queue", "inspect and manage the mail queue");
  que->require_subcommand(1);
  auto* queue_list = sub(que, "list", "list queued messages with their recipients' state (like mailq)");
  auto* queue_show = sub(que, "show", "show one message's envelope and header");
  queue_show->add_option("ID", queue_id, "queue id")->required();
  auto* queue_flush = sub(que, "flush", "try deferred mail now");
  queue_flush->add_option("ID", queue_id, "only this message");
  auto* queue_delete = sub(que, "delete", "remove a message from the queue without delivering it");
  queue_delete->add_option("ID", queue_id, "queue id")->required();
  auto* queue_hold = sub(que, "hold", "keep a message from being delivered until released");
  queue_hold->add_option("ID", queue_id, "queue id")->required();
  auto* queue_release = sub(que, "release", "let a held message be delivered again");
  queue_release->add_option("ID", queue_id, "queue id")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "poshta: " << e.what() << " (see 'poshta --help')\n";
    return 2;
  }

  namespace cli = poshta::cli;
  const std::filesystem::path path =
      config_path.empty() ? poshta::core::default_config_path() : std::filesystem::path(config_path);
  if (*serve) return cli::serve(path, verbose);
  if (*check) return cli::check(path);
  if (*version) return cli::version();
  const std::string p = path.string();
  using poshta::core::Config;
  if (*user_add) return with_config(p, [&](const Config& c) { return cli::user_add(c, address, password_stdin); });
  if (*user_passwd)
    return with_config(p, [&](const Config& c) { return cli::user_passwd(c, address, password_stdin); });
  if (*user_del) return with_config(p, [&](const Config& c) { return cli::user_del(c, address); });
  if (*user_list) return with_config(p, [&](const Config& c) { return cli::user_list(c); });
  if (*domain_add) return with_config(p, [&](const Config& c) { return cli::domain_add(c, domain); });
  if (*domain_del) return with_config(p, [&](const Config& c) { return cli::domain_del(c, domain); });
  if (*domain_list) return with_config(p, [&](const Config& c) { return cli::domain_list(c); });
  if (*alias_add) return with_config(p, [&](const Config& c) { return cli::alias_add(c, alias, targets); });
  if (*alias_del) return with_config(p, [&](const Config& c) { return cli::alias_del(c, alias); });
  if (*alias_list) return with_config(p, [&](const Config& c) { return cli::alias_list(c); });
  if (*queue_list) return with_config(p, [&](const Config& c) { return cli::queue_list(c); });
  if (*queue_show) return with_config(p, [&](const Config& c) { return cli::queue_show(c, queue_id); });
  if (*queue_flush) return with_config(p, [&](const Config& c) { return cli::queue_flush(c, queue_id); });
  for (auto [cmd, verb] :
       {std::pair{queue_delete, "delete"}, std::pair{queue_hold, "hold"}, std::pair{queue_release, "release"}}) {
    if (*cmd) return with_config(p, [&](const Config& c) { return cli::queue_change(c, verb, queue_id); });
  }
  return 2;
}
