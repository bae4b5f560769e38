// core::Config: the whole configuration as typed structs with the defaults of
// docs/SPEC.md, and the TOML loader that fills it. The loader collects every
// problem with its line instead of stopping at the first; runtime code gets
// these structs, never the TOML tree.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/network.hpp"

namespace poshta::core {

enum class Protocol { smtp, submission, submissions, lmtp, imap, imaps, pop3, pop3s };
const char* protocol_name(Protocol p);

struct ListenerConfig {
  Protocol protocol = Protocol::smtp;
  std::string host;  // numeric address, IPv6 without brackets
  std::uint16_t port = 0;
  std::string text() const;  // "host:port" as written, "[v6]:port" for IPv6
};

struct TlsConfig {
  std::string certificate;
  std::string private_key;
};

struct LimitsConfig {
  std::uint64_t message_size = 26214400;
  std::uint32_t recipients = 100;
  std::uint32_t connections = 5000;
  std::uint32_t connections_per_ip = 100;
  std::uint32_t connection_rate_per_ip = 60;  // new connections per minute from one address; 0: no limit
  std::uint32_t auth_failures_per_ip = 10;    // failed logins per minute before an address is refused; 0: no limit
  // Addresses the two rates do not apply to (as Postfix's anvil spares
  // mynetworks); trusted_networks are spared as well.
  std::vector<Network> rate_limit_exempt{*Network::parse("127.0.0.0/8"), *Network::parse("::1")};
  std::uint32_t errors = 10;
  std::uint32_t auth_failures = 3;            // per connection, then 421
  std::chrono::seconds command_timeout{300};  // RFC 5321 §4.5.3.2.7
  std::chrono::seconds data_timeout{180};     // RFC 5321 §4.5.3.2.5-6
};

struct DeliveryConfig {
  std::string resolver;  // empty: the system's resolver
  std::uint16_t remote_port = 25;
  std::string smarthost;                 // "host:port": all remote mail goes there
  std::string smarthost_user;            // AUTH at the smarthost (only over TLS)
  std::string smarthost_password_file;   // its password, first line of this file
  std::vector<std::string> require_tls;  // domains whose mail waits rather than go without TLS
  std::string lmtp;                      // "host:port" or a socket path: local mail goes there, not to Maildir
  std::vector<std::chrono::seconds> retry{std::chrono::minutes(1), std::chrono::minutes(5), std::chrono::minutes(15),
                                          std::chrono::hours(1), std::chrono::hours(4)};
  std::chrono::seconds bounce_after{5 * 86400};
};

struct AuthConfig {
  // POP3 and IMAP take passwords without TLS from 127.0.0.0/8 and ::1, as
  // Dovecot does: nothing crosses a network there. SMTP AUTH always needs TLS.
  bool plaintext_on_loopback = true;
};

struct Config {
  std::string hostname;  // default: the system's host name
  std::filesystem::path data_dir = "poshta-data";
  std::string user = "poshta";                    // started as root, Poshta runs as this user (cli/privileges)
  std::vector<std::string> domains{"localhost"};  // lower case
  std::vector<ListenerConfig> listeners;          // default: see default_listeners()
  std::vector<Network> trusted_networks;          // may relay without AUTH (Postfix's mynetworks)
  TlsConfig tls;
  LimitsConfig limits;
  DeliveryConfig delivery;
  AuthConfig auth;
  std::string source;  // the file it came from, or "(embedded defaults)"
};

struct ConfigProblem {
  int line = 0;  // 0: not tied to a line
  std::string message;
};

struct LoadedConfig {
  Config config;
  std::vector<ConfigProblem> problems;
  bool ok() const { return problems.empty(); }
};

std::vector<ListenerConfig> default_listeners();
Config default_config();

// Parses TOML text; `source` names it in messages.
LoadedConfig load_config_text(std::string_view text, const std::string& source);
// Reads and parses a file; an unreadable file is a fatal problem.
LoadedConfig load_config_file(const std::filesystem::path& path);
// The file `-c` defaults to: ./poshta.toml when it exists, else none.
std::filesystem::path default_config_path();

// "host:port" or "[v6]:port" into a listener address; false if malformed.
bool parse_host_port(std::string_view text, std::string& host, std::uint16_t& port);

}  // namespace poshta::core
