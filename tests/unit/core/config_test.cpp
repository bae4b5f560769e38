// core/config: defaults of README "Configuration reference" and the TOML
// loader's problems, each with its line.
#include "core/config.hpp"

#include <gtest/gtest.h>

#include <string>

namespace poshta::core {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

std::string dump(const LoadedConfig& c) {
  std::string s;
  for (const auto& p : c.problems) {
    s += "line " + std::to_string(p.line) + " error: " + p.message + "\n";
  }
  return s;
}

// The single problem of `c`; fails the test if there is not exactly one.
ConfigProblem only_problem(const LoadedConfig& c) {
  EXPECT_EQ(c.problems.size(), 1u) << dump(c);
  return c.problems.empty() ? ConfigProblem{} : c.problems.front();
}

TEST(Config, DefaultsMatchTheReadme) {
  const Config c = default_config();
  ASSERT_EQ(c.listeners.size(), 4u);
  EXPECT_EQ(c.listeners[0].protocol, Protocol::smtp);
  EXPECT_EQ(c.listeners[0].text(), "127.0.0.1:2525");
  EXPECT_EQ(c.listeners[1].protocol, Protocol::submission);
  EXPECT_EQ(c.listeners[1].text(), "127.0.0.1:5870");
  EXPECT_EQ(c.listeners[2].protocol, Protocol::imap);
  EXPECT_EQ(c.listeners[2].text(), "127.0.0.1:1143");
  EXPECT_EQ(c.listeners[3].protocol, Protocol::pop3);
  EXPECT_EQ(c.listeners[3].text(), "127.0.0.1:1110");
  EXPECT_EQ(c.domains, (std::vector<std::string>{"localhost"}));
  EXPECT_TRUE(c.data_dir.is_absolute());
  EXPECT_EQ(c.data_dir.filename(), "poshta-data");
  EXPECT_FALSE(c.hostname.empty());
  EXPECT_EQ(c.limits.message_size, 26214400u);
  EXPECT_EQ(c.limits.recipients, 100u);
  EXPECT_EQ(c.limits.connections, 5000u);
  EXPECT_EQ(c.limits.connections_per_ip, 100u);
  EXPECT_EQ(c.limits.connection_rate_per_ip, 60u);
  EXPECT_EQ(c.limits.auth_failures_per_ip, 10u);
  ASSERT_EQ(c.limits.rate_limit_exempt.size(), 2u);
  EXPECT_TRUE(c.limits.rate_limit_exempt[0].contains("127.0.0.2"));
  EXPECT_TRUE(c.limits.rate_limit_exempt[1].contains("::1"));
  EXPECT_EQ(c.user, "poshta");
  EXPECT_EQ(c.limits.errors, 10u);
  EXPECT_EQ(c.limits.command_timeout, minutes(5));
  EXPECT_EQ(c.limits.data_timeout, minutes(3));
  EXPECT_EQ(c.delivery.remote_port, 25);
  EXPECT_EQ(c.delivery.retry, (std::vector<seconds>{minutes(1), minutes(5), minutes(15), hours(1), hours(4)}));
  EXPECT_EQ(c.delivery.bounce_after, hours(5 * 24));
  EXPECT_TRUE(c.delivery.smarthost.empty());
  EXPECT_TRUE(c.delivery.resolver.empty());
}

TEST(Config, EmptyFileGivesTheDefaults) {
  const LoadedConfig c = load_config_text("", "empty.toml");
  EXPECT_TRUE(c.ok()) << dump(c);
  EXPECT_TRUE(c.problems.empty()) << dump(c);
  EXPECT_EQ(c.config.listeners.size(), 4u);
  EXPECT_EQ(c.config.limits.message_size, 26214400u);
  EXPECT_EQ(c.config.limits.recipients, 100u);
  EXPECT_EQ(c.config.source, "empty.toml");
}

TEST(Config, ReadsTheReadmeExample) {
  const std::string text = R"(hostname = "mx.example.org"
data_dir = "/var/lib/poshta"
domains  = ["example.org", "Example.NET"]

[[listen]]
protocol = "smtp"
address  = "0.0.0.0:25"

[[listen]]
protocol = "submission"
address  = "[::]:587"

[limits]
message_size       = 10485760
recipients         = 50
connections        = 200
connections_per_ip = 10
errors             = 5
command_timeout    = "5m"
data_timeout       = "3m"

[delivery]
remote_port  = 2525
retry        = ["1m", "5m", "15m", "1h", "4h"]
bounce_after = "5d"
)";
  const LoadedConfig c = load_config_text(text, "poshta.toml");
  EXPECT_TRUE(c.ok()) << dump(c);
  EXPECT_EQ(c.config.hostname, "mx.example.org");
  EXPECT_EQ(c.config.data_dir, "/var/lib/poshta");
  EXPECT_EQ(c.config.domains, (std::vector<std::string>{"example.org", "example.net"}));
  ASSERT_EQ(c.config.listeners.size(), 2u);
  EXPECT_EQ(c.config.listeners[0].protocol, Protocol::smtp);
  EXPECT_EQ(c.config.listeners[0].host, "0.0.0.0");
  EXPECT_EQ(c.config.listeners[0].port, 25);
  EXPECT_EQ(c.config.listeners[1].protocol, Protocol::submission);
  EXPECT_EQ(c.config.listeners[1].host, "::");
  EXPECT_EQ(c.config.listeners[1].port, 587);
  EXPECT_EQ(c.config.limits.message_size, 10485760u);
  EXPECT_EQ(c.config.limits.recipients, 50u);
  EXPECT_EQ(c.config.limits.connections, 200u);
  EXPECT_EQ(c.config.limits.connections_per_ip, 10u);
  EXPECT_EQ(c.config.limits.errors, 5u);
  EXPECT_EQ(c.config.delivery.remote_port, 2525);
}

TEST(Config, UnknownKeyIsFatalWithItsLine) {
  const LoadedConfig c = load_config_text("hostname = \"mx.test\"\n\nbogus = 1\n", "t.toml");
  EXPECT_FALSE(c.ok());
  const ConfigProblem p = only_problem(c);
  EXPECT_EQ(p.line, 3);
  EXPECT_NE(p.message.find("bogus"), std::string::npos) << p.message;
}

TEST(Config, UnknownTableIsFatalWithItsLine) {
  const LoadedConfig c = load_config_text("domains = [\"a.test\"]\n[imap]\nport = 1\n", "t.toml");
  EXPECT_FALSE(c.ok());
  const ConfigProblem p = only_problem(c);
  EXPECT_EQ(p.line, 2);
  EXPECT_NE(p.message.find("imap"), std::string::npos) << p.message;
}

TEST(Config, MisspeltLimitsKeyNamesItsLine) {
  const LoadedConfig c = load_config_text("[limits]\nmessage_size = 2048\nrecipeints = 5\nerrors = 3\n", "t.toml");
  EXPECT_FALSE(c.ok());
  const ConfigProblem p = only_problem(c);
  EXPECT_EQ(p.line, 3);
  EXPECT_NE(p.message.find("recipeints"), std::string::npos) << p.message;
  EXPECT_EQ(c.config.limits.message_size, 2048u);
  EXPECT_EQ(c.config.limits.errors, 3u);
}

TEST(Config, EveryProblemIsReportedNotOnlyTheFirst) {
  const LoadedConfig c = load_config_text("a = 1\nb = 2\n[limits]\nc = 3\n", "t.toml");
  ASSERT_EQ(c.problems.size(), 3u) << dump(c);
  EXPECT_EQ(c.problems[0].line + c.problems[1].line + c.problems[2].line, 1 + 2 + 4);
}

TEST(Config, BadProtocolIsFatalWithItsLine) {
  const LoadedConfig c = load_config_text("[[listen]]\nprotocol = \"smtpx\"\naddress = \"127.0.0.1:25\"\n", "t.toml");
  EXPECT_FALSE(c.ok());
  bool found = false;
  for (const auto& p : c.problems) {
    if (p.line == 2 && p.message.find("smtpx") != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << dump(c);
}

TEST(Config, AddressWithoutPortIsFatalWithItsLine) {
  const LoadedConfig c = load_config_text("[[listen]]\nprotocol = \"smtp\"\naddress = \"127.0.0.1\"\n", "t.toml");
  EXPECT_FALSE(c.ok());
  bool found = false;
  for (const auto& p : c.problems) {
    if (p.line == 3 && p.message.find("127.0.0.1") != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << dump(c);
}

TEST(Config, HostNameAddressIsRefused) {
  const LoadedConfig c = load_config_text("[[listen]]\nprotocol = \"smtp\"\naddress = \"localhost:25\"\n", "t.toml");
  EXPECT_FALSE(c.ok()) << dump(c);
}

TEST(Config, Ipv6ListenerAddress) {
  const LoadedConfig c = load_config_text("[[listen]]\nprotocol = \"smtp\"\naddress = \"[::1]:25\"\n", "t.toml");
  EXPECT_TRUE(c.ok()) << dump(c);
  ASSERT_EQ(c.config.listeners.size(), 1u);
  EXPECT_EQ(c.config.listeners[0].host, "::1");
  EXPECT_EQ(c.config.listeners[0].port, 25);
  EXPECT_EQ(c.config.listeners[0].text(), "[::1]:25");
}

TEST(Config, ListenerNeedsProtocolAndAddress) {
  const LoadedConfig c = load_config_text("[[listen]]\nprotocol = \"smtp\"\n", "t.toml");
  EXPECT_FALSE(c.ok()) << dump(c);
}

TEST(Config, DurationsAreParsed) {
  const LoadedConfig c = load_config_text(
      "[limits]\ncommand_timeout = \"5m\"\ndata_timeout = \"90s\"\n[delivery]\nretry = [\"30s\", \"2h\"]\n"
      "bounce_after = \"2d\"\n",
      "t.toml");
  EXPECT_TRUE(c.ok()) << dump(c);
  EXPECT_EQ(c.config.limits.command_timeout, seconds(300));
  EXPECT_EQ(c.config.limits.data_timeout, seconds(90));
  EXPECT_EQ(c.config.delivery.retry, (std::vector<seconds>{seconds(30), hours(2)}));
  EXPECT_EQ(c.config.delivery.bounce_after, hours(48));
}

TEST(Config, BadDurationIsFatalWithItsLine) {
  const LoadedConfig c = load_config_text("[limits]\ncommand_timeout = \"5 minutes\"\n", "t.toml");
  const ConfigProblem p = only_problem(c);
  EXPECT_EQ(p.line, 2);
  EXPECT_FALSE(load_config_text("[limits]\ncommand_timeout = 300\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("[limits]\ncommand_timeout = \"0s\"\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("[delivery]\nretry = []\n", "t.toml").ok());
}

TEST(Config, OutOfRangeLimitIsFatal) {
  EXPECT_FALSE(load_config_text("[limits]\nmessage_size = 10\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("[limits]\nrecipients = 0\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("[limits]\nrecipients = \"many\"\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("[delivery]\nremote_port = 70000\n", "t.toml").ok());
}

TEST(Config, EveryProtocolIsServed) {
  for (const char* protocol : {"smtp", "submission", "submissions", "lmtp", "imap", "imaps", "pop3", "pop3s"}) {
    const LoadedConfig c = load_config_text(
        std::string("[[listen]]\nprotocol = \"") + protocol + "\"\naddress = \"127.0.0.1:143\"\n", "t.toml");
    EXPECT_TRUE(c.ok()) << protocol << dump(c);
  }
}

TEST(Config, TlsAndRelaySettingsAreTaken) {
  const LoadedConfig c = load_config_text(
      "[tls]\ncertificate = \"/dev/null\"\nprivate_key = \"/dev/null\"\n[delivery]\nsmarthost = \"10.0.0.1:25\"\n"
      "smarthost_user = \"relay\"\nsmarthost_password_file = \"/dev/null\"\nrequire_tls = [\"Example.ORG\"]\n"
      "lmtp = \"127.0.0.1:24\"\n",
      "t.toml");
  EXPECT_TRUE(c.ok()) << dump(c);
  EXPECT_TRUE(c.problems.empty()) << dump(c);
  EXPECT_EQ(c.config.tls.certificate, "/dev/null");
  EXPECT_EQ(c.config.delivery.smarthost, "10.0.0.1:25");
  EXPECT_EQ(c.config.delivery.smarthost_user, "relay");
  EXPECT_EQ(c.config.delivery.require_tls, std::vector<std::string>{"example.org"});
  EXPECT_EQ(c.config.delivery.lmtp, "127.0.0.1:24");
}

TEST(Config, RelaySettingsAreChecked) {
  for (const char* text : {"[delivery]\nresolver = \"dns.example:53\"\n",  // a name needs a resolver itself
                           "[delivery]\nlmtp = \"store\"\n",
                           "[delivery]\nsmarthost_user = \"relay\"\n",  // without its password file
                           "[delivery]\nsmarthost_password_file = \"/nonexistent/pw\"\n",
                           "[delivery]\nrequire_tls = [\"not a domain\"]\n"}) {
    EXPECT_FALSE(load_config_text(text, "t.toml").ok()) << text;
  }
}

TEST(Config, AnUnreadableCertificateIsAProblemOnItsLine) {
  const LoadedConfig c =
      load_config_text("[tls]\ncertificate = \"/nonexistent/c.pem\"\nprivate_key = \"/dev/null\"\n", "t.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.problems[0].line, 2) << dump(c);
  EXPECT_NE(c.problems[0].message.find("/nonexistent/c.pem"), std::string::npos) << dump(c);
}

TEST(Config, TlsNeedsBothCertificateAndKey) {
  const LoadedConfig c = load_config_text("[tls]\ncertificate = \"/c.pem\"\n", "t.toml");
  EXPECT_FALSE(c.ok()) << dump(c);
}

TEST(Config, TrustedNetworksAreParsedAndCheckedWithTheirLine) {
  const LoadedConfig good =
      load_config_text("trusted_networks = [\"192.0.2.0/24\", \"2001:db8::/32\", \"127.0.0.1\"]\n", "t.toml");
  ASSERT_TRUE(good.ok()) << dump(good);
  ASSERT_EQ(good.config.trusted_networks.size(), 3u);
  EXPECT_TRUE(good.config.trusted_networks[0].contains("192.0.2.200"));
  EXPECT_FALSE(good.config.trusted_networks[0].contains("192.0.3.1"));
  EXPECT_TRUE(good.config.trusted_networks[1].contains("2001:db8:1::5"));
  EXPECT_FALSE(good.config.trusted_networks[1].contains("192.0.2.1"));
  EXPECT_TRUE(good.config.trusted_networks[2].contains("127.0.0.1"));
  EXPECT_FALSE(good.config.trusted_networks[2].contains("127.0.0.2"));
  const LoadedConfig bad =
      load_config_text("hostname = \"mx.test\"\ntrusted_networks = [\"192.0.2.0/33\"]\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.problems[0].line, 2) << dump(bad);
}

TEST(Config, RateLimitsAndTheirExemptionsAndTheUser) {
  const LoadedConfig good = load_config_text(
      "user = \"mail\"\n[limits]\nconnection_rate_per_ip = 0\nauth_failures_per_ip = 3\nrate_limit_exempt = []\n",
      "t.toml");
  ASSERT_TRUE(good.ok()) << dump(good);
  EXPECT_EQ(good.config.user, "mail");
  EXPECT_EQ(good.config.limits.connection_rate_per_ip, 0u);
  EXPECT_EQ(good.config.limits.auth_failures_per_ip, 3u);
  EXPECT_TRUE(good.config.limits.rate_limit_exempt.empty());
  const LoadedConfig bad =
      load_config_text("hostname = \"mx.test\"\n[limits]\nrate_limit_exempt = [\"not a network\"]\n", "t.toml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.problems[0].line, 3) << dump(bad);
  const LoadedConfig bad_user = load_config_text("user = \"a b\"\n", "t.toml");
  ASSERT_FALSE(bad_user.ok());
  EXPECT_EQ(bad_user.problems[0].line, 1) << dump(bad_user);
}

TEST(Config, TomlSyntaxErrorHasALine) {
  const LoadedConfig c = load_config_text("hostname = \"mx.test\"\n[limits\nerrors = 3\n", "t.toml");
  EXPECT_FALSE(c.ok());
  ASSERT_FALSE(c.problems.empty());
  EXPECT_EQ(c.problems[0].line, 2) << dump(c);
  EXPECT_NE(c.problems[0].message.find("TOML"), std::string::npos);
}

TEST(Config, BadHostnameAndDomainsAreFatal) {
  EXPECT_FALSE(load_config_text("hostname = \"not valid\"\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("domains = [\"ok.test\", \"bad domain\"]\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("domains = []\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("domains = \"example.org\"\n", "t.toml").ok());
  EXPECT_FALSE(load_config_text("data_dir = \"\"\n", "t.toml").ok());
}

TEST(Config, UnreadableFileIsFatal) {
  const LoadedConfig c = load_config_file("/nonexistent/poshta.toml");
  EXPECT_FALSE(c.ok());
}

TEST(Config, ProtocolNames) {
  EXPECT_STREQ(protocol_name(Protocol::smtp), "smtp");
  EXPECT_STREQ(protocol_name(Protocol::submission), "submission");
  EXPECT_STREQ(protocol_name(Protocol::pop3s), "pop3s");
}

// ---------------------------------------------------------------- parse_host_port

TEST(ParseHostPort, AcceptsIpv4AndBracketedIpv6) {
  std::string host;
  std::uint16_t port = 0;
  EXPECT_TRUE(parse_host_port("127.0.0.1:25", host, port));
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 25);
  EXPECT_TRUE(parse_host_port("[::1]:2525", host, port));
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 2525);
  EXPECT_TRUE(parse_host_port("[2001:db8::5]:65535", host, port));
  EXPECT_EQ(host, "2001:db8::5");
  EXPECT_EQ(port, 65535);
  EXPECT_TRUE(parse_host_port("mx.example.org:25", host, port));
  EXPECT_EQ(host, "mx.example.org");
}

TEST(ParseHostPort, RejectsMalformedAddresses) {
  for (const char* s : {"127.0.0.1", "127.0.0.1:", ":25", "::1:25", "[::1]", "[::1]25", "[127.0.0.1]:25",
                        "127.0.0.1:65536", "127.0.0.1:2x", "127.0.0.1:-1", ""}) {
    std::string host;
    std::uint16_t port = 0;
    EXPECT_FALSE(parse_host_port(s, host, port)) << s;
  }
}

}  // namespace
}  // namespace poshta::core
