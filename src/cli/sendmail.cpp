// `poshta sendmail` (and the binary run under the name `sendmail`): the
// sendmail(8) interface that cron, PHP's mail(), git send-email and mutt
// use. It reads one message on stdin, adds the header fields a submission
// server adds, resolves the recipients through the directory, and writes
// the message durably into queue/incoming/, where a running server picks it
// up within a second (or the next one to start does). Exit codes are those
// of sysexits.h, which these callers understand.
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <iostream>

#include "auth/sasl.hpp"
#include "cli/commands.hpp"
#include "cli/privileges.hpp"
#include "core/address.hpp"
#include "core/files.hpp"
#include "core/group_sync.hpp"
#include "directory/directory.hpp"
#include "mime/address_list.hpp"
#include "mime/date.hpp"
#include "mime/header.hpp"
#include "queue/spool.hpp"
#include "smtp/command.hpp"
#include "smtp/received.hpp"

namespace poshta::cli {

namespace {

// sysexits.h
constexpr int kExUsage = 64;
constexpr int kExDataErr = 65;
constexpr int kExNoUser = 67;
constexpr int kExSoftware = 70;
constexpr int kExTempFail = 75;
constexpr int kExConfig = 78;

struct Options {
  bool from_headers = false;   // -t
  bool dots_are_text = false;  // -i, -oi
  std::string sender;          // -f
  bool sender_given = false;
  std::string full_name;  // -F
  std::string config;     // -c / -C
  std::vector<std::string> recipients;
};

constexpr const char* kUsage = "usage: sendmail [-t] [-i] [-f sender] [-F name] [-c config] [recipient...]\n";

int usage(const std::string& why) {
  std::cerr << "sendmail: " << why << "\n" << kUsage;
  return kExUsage;
}

int help() {
  std::cout << kUsage << R"(Reads one message on stdin and queues it for delivery.
  -t          take recipients from the To, Cc and Bcc fields too (Bcc is removed)
  -i, -oi     a line with a single dot does not end the message
  -f SENDER   the envelope sender (default: your login name @ the host name)
  -F NAME     the From display name, when the message has no From
  -c FILE     the Poshta configuration (default: ./poshta.toml or the embedded defaults)
A recipient without a domain gets the host name. Exit status as in sysexits.h:
0 queued, 64 usage, 65 bad message, 67 unknown local user, 75 try again later.
)";
  return 0;
}

// Parses sendmail(8)'s flags, including attached values (-fuser, -FName) and
// the ones callers pass out of habit (-oem, -odi, -B8BITMIME...).
std::optional<int> parse(const std::vector<std::string>& args, Options& o) {
  bool options_done = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (options_done || a.empty() || a[0] != '-' || a == "-") {
      o.recipients.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    if (a == "--help" || a == "-h") return help();
    const char flag = a.size() > 1 ? a[1] : '\0';
    auto value = [&](std::string& out) -> bool {
      if (a.size() > 2) {
        out = a.substr(2);
        return true;
      }
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string ignored;
    switch (flag) {
      case 't': o.from_headers = true; break;
      case 'i': o.dots_are_text = true; break;
      case 'o':
        if (a == "-oi") o.dots_are_text = true;
        break;  // -oem, -odi, -odb, -oQ...: delivery modes that do not apply
      case 'f':
      case 'r':
        if (!value(o.sender)) return usage("-f needs a sender address");
        o.sender_given = true;
        break;
      case 'F':
        if (!value(o.full_name)) return usage("-F needs a name");
        break;
      case 'c':
      case 'C':
        if (!value(o.config)) return usage("-c needs a configuration file");
        break;
      case 'B':
      case 'N':
      case 'R':
      case 'V':
      case 'X':
        if (!value(ignored)) return usage(a + " needs a value");
        break;
      case 'v':
      case 'm': break;
      case 'b':
        if (a != "-bm") return usage(a + " is not supported: only -bm (deliver mail) is");
        break;
      default: return usage("unknown option " + a);
    }
  }
  return std::nullopt;
}

// The message as CRLF lines. Without -i a line with a single dot ends it.
std::optional<std::string> read_message(const Options& o, std::uint64_t limit) {
  std::string out;
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!o.dots_are_text && line == ".") break;
    out += line;
    out += "\r\n";
    if (out.size() > limit) return std::nullopt;
  }
  return out;
}

// A display name as RFC 5322 wants it: as it is when it is only atoms and
// spaces, a quoted-string when it has specials (§3.2.4), an RFC 2047
// encoded-word when it is not ASCII.
std::string display_name(std::string_view name) {
  bool ascii = true;
  bool plain = true;
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80 || u < 0x20) ascii = false;
    const bool atext = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       std::string_view("!#$%&'*+-/=?^_`{|}~ ").find(c) != std::string_view::npos;
    plain = plain && atext;
  }
  if (!ascii) return "=?UTF-8?B?" + auth::base64_encode(name) + "?=";
  if (plain) return std::string(name);
  std::string quoted = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

std::string login_name() {
  if (const passwd* pw = ::getpwuid(::getuid())) return pw->pw_name;
  return "uid" + std::to_string(::getuid());
}

}  // namespace

int sendmail(const std::vector<std::string>& args, const std::filesystem::path& default_config) {
  Options o;
  if (auto rc = parse(args, o)) return *rc;
  const std::filesystem::path config_path = o.config.empty() ? default_config : std::filesystem::path(o.config);
  auto config = load_config(config_path);
  if (!config) return kExConfig;

  auto content = read_message(o, config->limits.message_size);
  if (!content) {
    std::cerr << "sendmail: the message is larger than the limit of " << config->limits.message_size << " octets\n";
    return kExDataErr;
  }

  // The header: recipients for -t, Bcc removed, what is missing noted.
  std::vector<std::string> recipients;
  for (const auto& r : o.recipients) {
    auto found = mime::addresses_in(r);
    // A bare name ("root", as cron writes MAILTO) is name@hostname
    // (Postfix's append_at_myorigin); postmaster is every domain's.
    if (found.empty() && !r.empty() && r.find('@') == std::string::npos) {
      found.push_back(core::iequals(r, "postmaster") ? r : r + "@" + config->hostname);
    }
    for (auto& a : found) recipients.push_back(std::move(a));
  }
  bool has_from = false, has_date = false, has_message_id = false;
  std::string kept;  // the header without Bcc
  std::size_t header_end = 0;
  {
    mime::HeaderReader reader(*content);
    const char* prev_end = content->data();
    while (auto f = reader.next()) {
      const char* field_end = f->value.data() + f->value.size() + 2;  // + CRLF
      const std::string_view whole(prev_end, static_cast<std::size_t>(field_end - prev_end));
      prev_end = field_end;
      has_from = has_from || core::iequals(f->name, "From");
      has_date = has_date || core::iequals(f->name, "Date");
      has_message_id = has_message_id || core::iequals(f->name, "Message-ID");
      const bool bcc = core::iequals(f->name, "Bcc");
      if (o.from_headers && (bcc || core::iequals(f->name, "To") || core::iequals(f->name, "Cc"))) {
        for (auto& a : mime::addresses_in(f->value)) recipients.push_back(std::move(a));
      }
      if (!bcc) kept += whole;
    }
    header_end = static_cast<std::size_t>(prev_end - content->data());
  }
  if (recipients.empty()) return usage("no recipients: name them, or use -t with To, Cc or Bcc fields");

  // Who called, before the queue is entered as Poshta's user.
  const uid_t caller = ::getuid();
  const std::string caller_name = login_name();
  if (auto problem = enter_data_dir(*config); !problem.empty()) {
    std::cerr << "sendmail: " << problem << "\n";
    return kExTempFail;
  }
  std::unique_ptr<directory::Directory> dir;
  try {
    dir = std::make_unique<directory::Directory>(config->data_dir / "directory.sqlite", config->domains);
  } catch (const std::exception& e) {
    std::cerr << "sendmail: " << e.what() << "\n";
    return kExTempFail;
  }

  queue::Envelope env;
  env.sender = o.sender_given ? o.sender : caller_name + "@" + config->hostname;
  if (!env.sender.empty() && !smtp::is_valid_mailbox(env.sender, true)) {
    std::cerr << "sendmail: '" << env.sender << "' is not a valid sender address\n";
    return kExUsage;
  }
  for (const auto& r : recipients) {
    if (!smtp::is_valid_mailbox(r, true) && !core::iequals(r, "postmaster")) {
      std::cerr << "sendmail: '" << r << "' is not a valid recipient address\n";
      return kExDataErr;
    }
    const auto exp = dir->expand(r);
    if (exp.status == directory::Lookup::temporary_failure) {
      std::cerr << "sendmail: cannot look up " << r << ", try again later\n";
      return kExTempFail;
    }
    if (exp.status == directory::Lookup::not_found) {
      std::cerr << "sendmail: no such user here: " << r << "\n";
      return kExNoUser;
    }
    for (const auto& d : exp.destinations) {
      queue::EnvelopeRecipient e;
      e.address = d.address;
      e.local = d.local;
      e.original = r;
      env.add_recipient(std::move(e));
    }
  }

  try {
    core::GroupSync flush(core::syncfs_flush({config->data_dir}));
    queue::Spool spool(config->data_dir / "queue", flush);
    std::error_code ec = std::make_error_code(std::errc::file_exists);
    for (int attempt = 0; attempt < 5 && ec == std::errc::file_exists; ++attempt) {  // another process took the id
      env.id = spool.new_id();
      env.arrived = std::time(nullptr);
      const std::string date = mime::rfc5322_date(env.arrived);
      // What a submission server adds (RFC 6409 §8), and our trace field.
      std::string added = "Received: by " + config->hostname + " (Poshta sendmail, from userid " +
                          std::to_string(caller) + ")\r\n\tid " + env.id + "; " + date + "\r\n";
      if (!has_from) {
        added += "From: " + (o.full_name.empty() ? env.sender : display_name(o.full_name) + " <" + env.sender + ">") +
                 "\r\n";
      }
      if (!has_date) added += "Date: " + date + "\r\n";
      if (!has_message_id) added += "Message-ID: <" + env.id + "@" + config->hostname + ">\r\n";
      // The rest starts with the blank line that ends the header; a message
      // written without one (only a body, say) gets it.
      const std::string_view rest = std::string_view(*content).substr(header_end);
      const bool needs_blank = !rest.empty() && rest.substr(0, 2) != "\r\n";
      const std::string_view parts[] = {added, kept, needs_blank ? std::string_view("\r\n") : std::string_view(), rest};
      ec = spool.store_incoming(env, parts);
    }
    if (ec) {
      std::cerr << "sendmail: cannot queue the message: " << ec.message() << "\n";
      return kExTempFail;
    }
  } catch (const std::exception& e) {
    std::cerr << "sendmail: " << e.what() << "\n";
    return kExSoftware;
  }
  return 0;
}

}  // namespace poshta::cli
