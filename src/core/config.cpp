#include "core/config.hpp"

#include <unistd.h>

#include <toml++/toml.h>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/address.hpp"
#include "core/duration.hpp"

namespace poshta::core {

namespace {

struct ProtocolInfo {
  const char* name;
  Protocol protocol;
};

constexpr ProtocolInfo kProtocols[] = {
    {"smtp", Protocol::smtp},
    {"submission", Protocol::submission},
    {"submissions", Protocol::submissions},
    {"lmtp", Protocol::lmtp},
    {"imap", Protocol::imap},
    {"imaps", Protocol::imaps},
    {"pop3", Protocol::pop3},
    {"pop3s", Protocol::pop3s},
};

std::string system_hostname() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return "localhost";
  return buf;
}

// Walks the TOML tree and fills Config, recording each problem with its line.
class Loader {
 public:
  explicit Loader(LoadedConfig& out) : out_(out) {}

  void load(const toml::table& root) {
    for (auto&& [key, node] : root) {
      const std::string_view k = key.str();
      if (k == "hostname") {
        if (auto s = string_of(node, k)) hostname(*s, node);
      } else if (k == "data_dir") {
        if (auto s = string_of(node, k)) {
          if (s->empty())
            problem(node, "data_dir must not be empty");
          else
            config().data_dir = *s;
        }
      } else if (k == "user") {
        if (auto s = string_of(node, k)) {
          if (s->empty() || s->find_first_of(" \t:/") != std::string::npos)
            problem(node, "user '" + *s + "' is not a user name");
          else
            config().user = *s;
        }
      } else if (k == "domains") {
        domains(node);
      } else if (k == "trusted_networks") {
        trusted_networks(node);
      } else if (k == "listen") {
        listeners(node);
      } else if (k == "tls") {
        tls(node);
      } else if (k == "limits") {
        limits(node);
      } else if (k == "delivery") {
        delivery(node);
      } else if (k == "auth") {
        auth(node);
      } else {
        unknown(node, "", k);
      }
    }
  }

 private:
  Config& config() { return out_.config; }

  void problem(const toml::node& node, std::string message) {
    out_.problems.push_back({static_cast<int>(node.source().begin.line), std::move(message)});
  }

  void unknown(const toml::node& node, std::string_view table, std::string_view key) {
    std::string where = table.empty() ? "" : " in [" + std::string(table) + "]";
    problem(node, "unknown key '" + std::string(key) + "'" + where + " (see README: Configuration reference)");
  }

  std::optional<std::string> string_of(const toml::node& node, std::string_view key) {
    if (auto v = node.value<std::string>()) return *v;
    problem(node, std::string(key) + " must be a string");
    return std::nullopt;
  }

  template <typename T>
  bool integer_of(const toml::node& node, std::string_view key, T& out, std::int64_t min, std::int64_t max) {
    auto v = node.value<std::int64_t>();
    if (!v || *v < min || *v > max) {
      problem(node,
              std::string(key) + " must be an integer from " + std::to_string(min) + " to " + std::to_string(max));
      return false;
    }
    out = static_cast<T>(*v);
    return true;
  }

  std::optional<std::chrono::seconds> duration_of(const toml::node& node, std::string_view key) {
    if (auto s = node.value<std::string>()) {
      if (auto d = parse_duration(*s); d && d->count() > 0) return d;
    }
    problem(node, std::string(key) + " must be a duration such as \"30s\", \"5m\", \"1h\" or \"5d\"");
    return std::nullopt;
  }

  void hostname(const std::string& s, const toml::node& node) {
    if (!is_valid_domain(s)) {
      problem(node, "hostname '" + s + "' is not a valid domain name");
      return;
    }
    config().hostname = s;
  }

  void domains(const toml::node& node) { domain_list(node, "domains", config().domains); }

  void domain_list(const toml::node& node, std::string_view key, std::vector<std::string>& out) {
    const auto* arr = node.as_array();
    if (!arr) {
      problem(node, std::string(key) + " must be an array of strings");
      return;
    }
    out.clear();
    for (auto&& item : *arr) {
      auto s = item.value<std::string>();
      if (!s || !is_valid_domain(*s)) {
        problem(item, std::string(key) + ": '" + (s ? *s : std::string("?")) + "' is not a valid domain name");
        continue;
      }
      out.push_back(to_lower(*s));
    }
  }

  void trusted_networks(const toml::node& node) { networks(node, "trusted_networks", config().trusted_networks); }

  void networks(const toml::node& node, std::string_view key, std::vector<Network>& out) {
    const auto* arr = node.as_array();
    if (!arr) return problem(node, std::string(key) + " must be an array of networks such as \"192.0.2.0/24\"");
    out.clear();
    for (auto&& item : *arr) {
      auto s = item.value<std::string>();
      auto network = s ? Network::parse(*s) : std::nullopt;
      if (!network) {
        problem(item, std::string(key) + ": '" + (s ? *s : std::string("?")) +
                          "' is not a network (an address, or address/prefix such as 192.0.2.0/24)");
        continue;
      }
      out.push_back(std::move(*network));
    }
  }

  void listeners(const toml::node& node) {
    const auto* arr = node.as_array();
    if (!arr || !arr->is_array_of_tables()) {
      problem(node, "listen must be written as [[listen]] tables");
      return;
    }
    for (auto&& item : *arr) {
      const auto& table = *item.as_table();
      ListenerConfig listener;
      bool have_protocol = false;
      bool have_address = false;
      for (auto&& [key, value] : table) {
        if (key.str() == "protocol") {
          auto s = string_of(value, "protocol");
          if (!s) continue;
          const ProtocolInfo* info = nullptr;
          for (const auto& p : kProtocols) {
            if (*s == p.name) info = &p;
          }
          if (!info) {
            problem(value,
                    "unknown protocol '" + *s + "' (smtp, submission, submissions, lmtp, imap, imaps, pop3 or pop3s)");
            continue;
          }
          listener.protocol = info->protocol;
          have_protocol = true;
        } else if (key.str() == "address") {
          auto s = string_of(value, "address");
          if (!s) continue;
          if (!parse_host_port(*s, listener.host, listener.port) || !is_ip_address(listener.host)) {
            problem(value, "address '" + *s + "' must be host:port with a numeric host, e.g. 127.0.0.1:25 or [::]:25");
            continue;
          }
          have_address = true;
        } else {
          unknown(value, "listen", key.str());
        }
      }
      if (!have_protocol || !have_address) {
        problem(item, "[[listen]] needs both protocol and address");
        continue;
      }
      if (listener_seen_)
        config().listeners.push_back(listener);
      else {
        config().listeners = {listener};
        listener_seen_ = true;
      }
    }
  }

  void tls(const toml::node& node) {
    const auto* table = node.as_table();
    if (!table) return problem(node, "tls must be a table");
    for (auto&& [key, value] : *table) {
      if (key.str() == "certificate" || key.str() == "private_key") {
        auto s = string_of(value, key.str());
        if (!s) continue;
        // The server cannot start without them: say so here, with the line.
        if (::access(s->c_str(), R_OK) != 0) {
          problem(value, "cannot read " + std::string(key.str()) + " " + *s + ": " + std::strerror(errno));
        }
        (key.str() == "certificate" ? config().tls.certificate : config().tls.private_key) = *s;
      } else {
        unknown(value, "tls", key.str());
      }
    }
    if (config().tls.certificate.empty() != config().tls.private_key.empty()) {
      problem(node, "[tls] needs both certificate and private_key");
    }
  }

  void limits(const toml::node& node) {
    const auto* table = node.as_table();
    if (!table) return problem(node, "limits must be a table");
    auto& l = config().limits;
    for (auto&& [key, value] : *table) {
      const std::string_view k = key.str();
      if (k == "message_size")
        integer_of(value, k, l.message_size, 1024, std::int64_t{1} << 40);
      else if (k == "recipients")
        integer_of(value, k, l.recipients, 1, 100000);
      else if (k == "connections")
        integer_of(value, k, l.connections, 1, 1000000);
      else if (k == "connections_per_ip")
        integer_of(value, k, l.connections_per_ip, 1, 1000000);
      else if (k == "connection_rate_per_ip")
        integer_of(value, k, l.connection_rate_per_ip, 0, 1000000);
      else if (k == "auth_failures_per_ip")
        integer_of(value, k, l.auth_failures_per_ip, 0, 1000000);
      else if (k == "rate_limit_exempt")
        networks(value, "rate_limit_exempt", l.rate_limit_exempt);
      else if (k == "errors")
        integer_of(value, k, l.errors, 1, 1000);
      else if (k == "auth_failures")
        integer_of(value, k, l.auth_failures, 1, 100);
      else if (k == "command_timeout") {
        if (auto d = duration_of(value, k)) l.command_timeout = *d;
      } else if (k == "data_timeout") {
        if (auto d = duration_of(value, k)) l.data_timeout = *d;
      } else {
        unknown(value, "limits", k);
      }
    }
  }

  void auth(const toml::node& node) {
    const auto* table = node.as_table();
    if (!table) return problem(node, "auth must be a table");
    for (auto&& [key, value] : *table) {
      if (key.str() == "plaintext_on_loopback") {
        if (auto b = value.value<bool>())
          config().auth.plaintext_on_loopback = *b;
        else
          problem(value, "plaintext_on_loopback must be true or false");
      } else {
        unknown(value, "auth", key.str());
      }
    }
  }

  void delivery(const toml::node& node) {
    const auto* table = node.as_table();
    if (!table) return problem(node, "delivery must be a table");
    auto& d = config().delivery;
    for (auto&& [key, value] : *table) {
      const std::string_view k = key.str();
      if (k == "resolver" || k == "smarthost") {
        auto s = string_of(value, k);
        if (!s) continue;
        std::string host;
        std::uint16_t port = 0;
        if (!s->empty() && !parse_host_port(*s, host, port)) {
          problem(value, std::string(k) + " must be host:port");
          continue;
        }
        if (k == "resolver" && !s->empty() && !is_ip_address(host)) {
          problem(value, "resolver must be a numeric address with a port, e.g. 127.0.0.1:53");
          continue;
        }
        (k == "resolver" ? d.resolver : d.smarthost) = *s;
      } else if (k == "lmtp") {
        auto s = string_of(value, k);
        if (!s) continue;
        std::string host;
        std::uint16_t port = 0;
        if (!s->empty() && s->front() != '/' && !parse_host_port(*s, host, port)) {
          problem(value, "lmtp must be host:port or the absolute path of a unix socket");
          continue;
        }
        d.lmtp = *s;
      } else if (k == "smarthost_user") {
        if (auto s = string_of(value, k)) d.smarthost_user = *s;
      } else if (k == "smarthost_password_file") {
        auto s = string_of(value, k);
        if (!s) continue;
        if (::access(s->c_str(), R_OK) != 0) {
          problem(value, "cannot read smarthost_password_file " + *s + ": " + std::strerror(errno));
          continue;
        }
        d.smarthost_password_file = *s;
      } else if (k == "require_tls") {
        domain_list(value, k, d.require_tls);
      } else if (k == "remote_port") {
        integer_of(value, k, d.remote_port, 1, 65535);
      } else if (k == "retry") {
        const auto* arr = value.as_array();
        if (!arr || arr->empty()) {
          problem(value, "retry must be a non-empty array of durations");
          continue;
        }
        d.retry.clear();
        for (auto&& item : *arr) {
          if (auto dur = duration_of(item, "retry")) d.retry.push_back(*dur);
        }
      } else if (k == "bounce_after") {
        if (auto dur = duration_of(value, k)) d.bounce_after = *dur;
      } else {
        unknown(value, "delivery", k);
      }
    }
  }

  LoadedConfig& out_;
  bool listener_seen_ = false;
};

// toml++ 3.3's whitespace test reaches __builtin_unreachable on some
// non-ASCII code points when they follow a syntax error (found by fuzzing):
// undefined behaviour instead of an error message. So the text is first
// parsed with every non-ASCII character replaced by '@', which is allowed
// exactly where non-ASCII is (in strings and comments) and an error
// elsewhere. Only text that passes this probe reaches the real parse, and on
// well-formed TOML toml++ never takes that path.
std::string ascii_probe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x80)
      out += c;
    else if ((u & 0xC0) != 0x80)
      out += '@';  // one '@' per code point; continuation octets dropped
  }
  return out;
}

void finish(LoadedConfig& loaded) {
  auto& c = loaded.config;
  if (c.hostname.empty()) c.hostname = system_hostname();
  if (c.domains.empty()) loaded.problems.push_back({0, "domains must name at least one local domain"});
  if (c.delivery.smarthost_user.empty() != c.delivery.smarthost_password_file.empty()) {
    loaded.problems.push_back({0, "[delivery] smarthost_user and smarthost_password_file go together"});
  }
  std::error_code ec;
  auto absolute = std::filesystem::absolute(c.data_dir, ec);
  if (!ec) c.data_dir = absolute.lexically_normal();
}

}  // namespace

const char* protocol_name(Protocol p) {
  for (const auto& info : kProtocols) {
    if (info.protocol == p) return info.name;
  }
  return "?";
}

std::string ListenerConfig::text() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::vector<ListenerConfig> default_listeners() {
  return {{Protocol::smtp, "127.0.0.1", 2525},
          {Protocol::submission, "127.0.0.1", 5870},
          {Protocol::imap, "127.0.0.1", 1143},
          {Protocol::pop3, "127.0.0.1", 1110}};
}

Config default_config() {
  LoadedConfig loaded;
  loaded.config.listeners = default_listeners();
  loaded.config.source = "(embedded defaults)";
  finish(loaded);
  return loaded.config;
}

LoadedConfig load_config_text(std::string_view text, const std::string& source) {
  LoadedConfig loaded;
  loaded.config.listeners = default_listeners();
  loaded.config.source = source;
  try {
    (void)toml::parse(ascii_probe(text), source);  // throws what the real parse would, safely
    toml::table root = toml::parse(text, source);
    Loader(loaded).load(root);
  } catch (const toml::parse_error& e) {
    loaded.problems.push_back(
        {static_cast<int>(e.source().begin.line), "TOML syntax: " + std::string(e.description())});
    return loaded;
  }
  finish(loaded);
  return loaded;
}

LoadedConfig load_config_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadedConfig loaded;
    loaded.config.source = path.string();
    loaded.problems.push_back({0, "cannot read " + path.string()});
    return loaded;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return load_config_text(ss.str(), path.string());
}

std::filesystem::path default_config_path() {
  std::error_code ec;
  if (std::filesystem::exists("poshta.toml", ec)) return "poshta.toml";
  return {};
}

bool parse_host_port(std::string_view text, std::string& host, std::uint16_t& port) {
  std::string_view h;
  std::string_view p;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string_view::npos) return false;
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
    if (h.find(':') == std::string_view::npos) return false;
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) return false;
  }
  if (h.empty() || p.empty()) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
  if (ec != std::errc{} || end != p.data() + p.size() || value > 65535) return false;
  host = std::string(h);
  port = static_cast<std::uint16_t>(value);
  return true;
}

}  // namespace poshta::core
