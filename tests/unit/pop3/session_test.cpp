// pop3/session: the sans-IO POP3 server (RFC 1939, 2449, 2595, 5034),
// driven by bytes; every test checks the exact lines a client would read
// and the requests the transport is asked to carry out.
#include "pop3/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/sasl.hpp"

namespace poshta::pop3 {
namespace {

const std::string kGreeting = "+OK mx.test POP3 Poshta ready\r\n";
const std::string kBye = "+OK mx.test POP3 Poshta signing off\r\n";
const std::string kNeedTls = "-ERR [AUTH] Plaintext authentication is allowed only over TLS: use STLS first\r\n";

SessionConfig make_config(bool plaintext_allowed = true, bool stls = true, bool tls_active = false) {
  SessionConfig c;
  c.hostname = "mx.test";
  c.stls = stls;
  c.tls_active = tls_active;
  c.plaintext_allowed = plaintext_allowed;
  return c;
}

// Three messages of 100, 200 and 300 octets.
std::vector<Message> three_messages() {
  return {{100, "0000000100000AAA"}, {200, "0000000200000AAA"}, {300, "0000000300000AAA"}};
}

// The lines of `wire`, without their CRLF.
std::vector<std::string> lines_of(std::string_view wire) {
  std::vector<std::string> out;
  while (!wire.empty()) {
    const auto end = wire.find("\r\n");
    if (end == std::string_view::npos) {
      out.emplace_back(wire);
      break;
    }
    out.emplace_back(wire.substr(0, end));
    wire.remove_prefix(end + 2);
  }
  return out;
}

bool has_line(std::string_view wire, std::string_view line) {
  const auto lines = lines_of(wire);
  return std::find(lines.begin(), lines.end(), line) != lines.end();
}

std::string plain_token(std::string_view user, std::string_view password) {
  std::string raw;
  raw += '\0';
  raw += user;
  raw += '\0';
  raw += password;
  return auth::base64_encode(raw);
}

// One client connection: the greeting is read on construction.
class Client {
 public:
  explicit Client(SessionConfig config = make_config()) : s(std::move(config)) { greeting = s.take_output(); }

  std::string send(std::string_view bytes) {
    s.feed(bytes);
    return s.take_output();
  }

  // The request the session waits for; it must be of `kind`.
  Request request(Request::Kind kind) {
    EXPECT_TRUE(s.paused());
    auto r = s.take_request();
    EXPECT_TRUE(r.has_value());
    if (!r) return {};
    EXPECT_EQ(r->kind, kind);
    return *r;
  }

  // USER/PASS, the password accepted and the maildrop opened with `messages`.
  void login(std::vector<Message> messages = three_messages()) {
    ASSERT_EQ(send("USER alice\r\n"), "+OK send PASS\r\n");
    ASSERT_EQ(send("PASS secret\r\n"), "");
    request(Request::Kind::auth);
    s.resolve_auth(true);
    ASSERT_EQ(s.take_output(), "");
    request(Request::Kind::open);
    std::uint64_t octets = 0;
    for (const auto& m : messages) octets += m.size;
    const std::string want =
        "+OK maildrop has " + std::to_string(messages.size()) + " messages (" + std::to_string(octets) + " octets)\r\n";
    s.resolve_open(Session::OpenResult::ok, std::move(messages));
    ASSERT_EQ(s.take_output(), want);
    ASSERT_EQ(s.state(), Session::State::transaction);
  }

  Session s;
  std::string greeting;
};

// ---------------------------------------------------------------- greeting, CAPA

TEST(Pop3Session, GreetingIsOkWithHostname) {
  Client c;
  EXPECT_EQ(c.greeting, kGreeting);
  EXPECT_EQ(c.s.state(), Session::State::authorization);
  EXPECT_FALSE(c.s.closing());
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.wants_tls());
  EXPECT_FALSE(c.s.take_request().has_value());
}

TEST(Pop3Session, CapaBeforeLoginOffersUserSaslAndStls) {
  Client c;
  const std::string out = c.send("CAPA\r\n");
  const auto lines = lines_of(out);
  ASSERT_GE(lines.size(), 3u) << out;
  EXPECT_EQ(lines.front(), "+OK Capability list follows");
  EXPECT_EQ(lines.back(), ".");
  for (std::string_view want :
       {"TOP", "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "PIPELINING", "USER", "SASL PLAIN LOGIN", "STLS"}) {
    EXPECT_TRUE(has_line(out, want)) << want << " missing in\n" << out;
  }
}

TEST(Pop3Session, CapaWithoutTlsWhenPlaintextIsRefusedOffersOnlyStls) {
  Client c(make_config(/*plaintext_allowed=*/false));
  const std::string out = c.send("CAPA\r\n");
  EXPECT_TRUE(has_line(out, "STLS")) << out;
  EXPECT_FALSE(has_line(out, "USER")) << out;
  EXPECT_FALSE(has_line(out, "SASL PLAIN LOGIN")) << out;
  EXPECT_TRUE(has_line(out, "TOP")) << out;
}

TEST(Pop3Session, CapaWithoutTlsContextOffersNoStls) {
  Client c(make_config(/*plaintext_allowed=*/true, /*stls=*/false));
  const std::string out = c.send("CAPA\r\n");
  EXPECT_FALSE(has_line(out, "STLS")) << out;
  EXPECT_TRUE(has_line(out, "USER")) << out;
}

TEST(Pop3Session, CapaOverImplicitTlsOffersUserAndSaslButNotStls) {
  Client c(make_config(/*plaintext_allowed=*/false, /*stls=*/true, /*tls_active=*/true));
  const std::string out = c.send("CAPA\r\n");
  EXPECT_FALSE(has_line(out, "STLS")) << out;
  EXPECT_TRUE(has_line(out, "USER")) << out;
  EXPECT_TRUE(has_line(out, "SASL PLAIN LOGIN")) << out;
}

TEST(Pop3Session, CapaInTransactionOmitsLoginCapabilities) {
  Client c;
  c.login();
  const std::string out = c.send("CAPA\r\n");
  EXPECT_EQ(lines_of(out).front(), "+OK Capability list follows");
  EXPECT_EQ(lines_of(out).back(), ".");
  EXPECT_TRUE(has_line(out, "TOP")) << out;
  EXPECT_TRUE(has_line(out, "UIDL")) << out;
  EXPECT_FALSE(has_line(out, "USER")) << out;
  EXPECT_FALSE(has_line(out, "SASL PLAIN LOGIN")) << out;
  EXPECT_FALSE(has_line(out, "STLS")) << out;
}

// ---------------------------------------------------------------- USER/PASS and opening the maildrop

TEST(Pop3Session, UserPassMakesAnAuthRequestThenAnOpenRequest) {
  Client c;
  EXPECT_EQ(c.send("USER alice\r\n"), "+OK send PASS\r\n");
  EXPECT_EQ(c.send("PASS two words\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  const Request auth = c.request(Request::Kind::auth);
  EXPECT_EQ(auth.user, "alice");
  EXPECT_EQ(auth.password, "two words");
  EXPECT_FALSE(c.s.take_request().has_value());  // handed out once

  c.s.resolve_auth(true);
  EXPECT_EQ(c.s.take_output(), "");
  const Request open = c.request(Request::Kind::open);
  EXPECT_EQ(open.user, "alice");
  EXPECT_EQ(c.s.user(), "alice");

  c.s.resolve_open(Session::OpenResult::ok, three_messages());
  EXPECT_EQ(c.s.take_output(), "+OK maildrop has 3 messages (600 octets)\r\n");
  EXPECT_EQ(c.s.state(), Session::State::transaction);
  EXPECT_FALSE(c.s.paused());
}

TEST(Pop3Session, EmptyMaildropOpens) {
  Client c;
  c.login({});
  EXPECT_EQ(c.send("STAT\r\n"), "+OK 0 0\r\n");
  EXPECT_EQ(c.send("LIST\r\n"), "+OK scan listing follows\r\n.\r\n");
}

TEST(Pop3Session, WrongPasswordIsAuthErrorAndNeedsUserAgain) {
  Client c;
  c.send("USER alice\r\nPASS wrong\r\n");
  c.request(Request::Kind::auth);
  c.s.resolve_auth(false);
  EXPECT_EQ(c.s.take_output(), "-ERR [AUTH] authentication failed\r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.take_request().has_value());
  EXPECT_EQ(c.s.state(), Session::State::authorization);
  EXPECT_EQ(c.send("PASS secret\r\n"), "-ERR send USER first\r\n");
  c.login();
}

TEST(Pop3Session, ThirdFailedLoginClosesTheConnection) {
  Client c;
  for (int i = 0; i < 3; ++i) {
    c.send("USER alice\r\nPASS wrong\r\n");
    c.request(Request::Kind::auth);
    c.s.resolve_auth(false);
  }
  const std::string out = c.s.take_output();
  EXPECT_NE(out.find("-ERR [AUTH] too many failed logins"), std::string::npos) << out;
  EXPECT_TRUE(c.s.closing());
}

TEST(Pop3Session, PassBeforeUserAndUserWithoutName) {
  Client c;
  EXPECT_EQ(c.send("PASS secret\r\n"), "-ERR send USER first\r\n");
  EXPECT_EQ(c.send("USER\r\n"), "-ERR USER needs a name\r\n");
  EXPECT_FALSE(c.s.paused());
}

TEST(Pop3Session, MaildropInUseIsInUseErrorAndLoginCanBeRetried) {
  Client c;
  c.send("USER alice\r\nPASS secret\r\n");
  c.request(Request::Kind::auth);
  c.s.resolve_auth(true);
  c.request(Request::Kind::open);
  c.s.resolve_open(Session::OpenResult::in_use);
  EXPECT_EQ(c.s.take_output(), "-ERR [IN-USE] the maildrop is in use by another POP3 session\r\n");
  EXPECT_EQ(c.s.state(), Session::State::authorization);
  EXPECT_FALSE(c.s.closing());
  EXPECT_EQ(c.send("STAT\r\n"), "-ERR log in first\r\n");
  c.login();
}

TEST(Pop3Session, MaildropThatCannotBeOpenedIsSysTemp) {
  Client c;
  c.send("USER alice\r\nPASS secret\r\n");
  c.request(Request::Kind::auth);
  c.s.resolve_auth(true);
  c.request(Request::Kind::open);
  c.s.resolve_open(Session::OpenResult::failed);
  EXPECT_EQ(c.s.take_output(), "-ERR [SYS/TEMP] the maildrop cannot be opened now; try again later\r\n");
  EXPECT_EQ(c.s.state(), Session::State::authorization);
}

TEST(Pop3Session, OpenFailuresDoNotCountAsErrors) {
  SessionConfig config = make_config();
  config.max_errors = 2;
  Client c(config);
  for (int i = 0; i < 3; ++i) {
    c.send("USER alice\r\nPASS secret\r\n");
    c.request(Request::Kind::auth);
    c.s.resolve_auth(true);
    c.request(Request::Kind::open);
    c.s.resolve_open(Session::OpenResult::in_use);
    EXPECT_EQ(c.s.take_output(), "-ERR [IN-USE] the maildrop is in use by another POP3 session\r\n");
  }
  EXPECT_FALSE(c.s.closing());
}

// ---------------------------------------------------------------- plaintext and TLS

TEST(Pop3Session, PlaintextLoginIsRefusedWithoutTlsWhenNotAllowed) {
  Client c(make_config(/*plaintext_allowed=*/false));
  EXPECT_EQ(c.send("USER alice\r\n"), kNeedTls);
  EXPECT_EQ(c.send("PASS secret\r\n"), kNeedTls);
  EXPECT_EQ(c.send("AUTH PLAIN " + plain_token("alice", "secret") + "\r\n"), kNeedTls);
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.take_request().has_value());
}

TEST(Pop3Session, PlaintextLoginIsAllowedAfterStls) {
  Client c(make_config(/*plaintext_allowed=*/false));
  EXPECT_EQ(c.send("STLS\r\n"), "+OK Begin TLS negotiation\r\n");
  EXPECT_TRUE(c.s.wants_tls());
  c.s.tls_started();
  EXPECT_FALSE(c.s.wants_tls());
  c.login();
}

TEST(Pop3Session, PlaintextLoginIsAllowedOverImplicitTls) {
  Client c(make_config(/*plaintext_allowed=*/false, /*stls=*/true, /*tls_active=*/true));
  c.login();
}

TEST(Pop3Session, StlsDiscardsPipelinedInputAndWantsTls) {
  Client c;
  EXPECT_EQ(c.send("STLS\r\nUSER mallory\r\nPASS x\r\n"), "+OK Begin TLS negotiation\r\n");
  EXPECT_TRUE(c.s.wants_tls());
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.take_request().has_value());
  // Input before the handshake is done is not taken either.
  EXPECT_EQ(c.send("USER eve\r\n"), "");
  c.s.tls_started();
  EXPECT_EQ(c.s.take_output(), "");
  EXPECT_EQ(c.s.user(), "");
  EXPECT_EQ(c.send("PASS x\r\n"), "-ERR send USER first\r\n");
  c.login();
}

TEST(Pop3Session, StlsForgetsAUserGivenBeforeIt) {
  Client c;
  EXPECT_EQ(c.send("USER alice\r\n"), "+OK send PASS\r\n");
  c.send("STLS\r\n");
  c.s.tls_started();
  EXPECT_EQ(c.send("PASS secret\r\n"), "-ERR send USER first\r\n");
}

TEST(Pop3Session, StlsIsRefusedWhenUnavailableOrDone) {
  Client none(make_config(true, /*stls=*/false));
  EXPECT_EQ(none.send("STLS\r\n"), "-ERR STLS is not available here\r\n");
  EXPECT_FALSE(none.s.wants_tls());

  Client implicit(make_config(true, true, /*tls_active=*/true));
  EXPECT_EQ(implicit.send("STLS\r\n"), "-ERR STLS is not available here\r\n");

  Client twice;
  twice.send("STLS\r\n");
  twice.s.tls_started();
  EXPECT_EQ(twice.send("STLS\r\n"), "-ERR STLS is not available here\r\n");
  EXPECT_FALSE(has_line(twice.send("CAPA\r\n"), "STLS"));

  Client logged_in;
  logged_in.login();
  EXPECT_EQ(logged_in.send("STLS\r\n"), "-ERR already logged in\r\n");
  EXPECT_FALSE(logged_in.s.wants_tls());
}

// ---------------------------------------------------------------- AUTH

TEST(Pop3Session, AuthPlainWithInitialResponse) {
  Client c;
  EXPECT_EQ(c.send("AUTH PLAIN " + plain_token("alice", "secret") + "\r\n"), "");
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "secret");
  c.s.resolve_auth(true);
  EXPECT_EQ(c.request(Request::Kind::open).user, "alice");
  c.s.resolve_open(Session::OpenResult::ok, three_messages());
  EXPECT_EQ(c.s.take_output(), "+OK maildrop has 3 messages (600 octets)\r\n");
}

TEST(Pop3Session, AuthPlainWithContinuation) {
  Client c;
  EXPECT_EQ(c.send("AUTH PLAIN\r\n"), "+ \r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.send(plain_token("alice", "secret") + "\r\n"), "");
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "secret");
  c.s.resolve_auth(false);
  EXPECT_EQ(c.s.take_output(), "-ERR [AUTH] authentication failed\r\n");
  // Back to commands.
  EXPECT_EQ(c.send("NOOP\r\n"), "-ERR log in first\r\n");
}

TEST(Pop3Session, AuthLoginAsksForUserAndPassword) {
  Client c;
  EXPECT_EQ(c.send("auth login\r\n"), "+ " + auth::base64_encode("Username:") + "\r\n");
  EXPECT_EQ(c.send(auth::base64_encode("alice") + "\r\n"), "+ " + auth::base64_encode("Password:") + "\r\n");
  EXPECT_EQ(c.send(auth::base64_encode("secret") + "\r\n"), "");
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "secret");
}

TEST(Pop3Session, AuthCancelledAndMalformed) {
  Client c;
  EXPECT_EQ(c.send("AUTH PLAIN\r\n"), "+ \r\n");
  EXPECT_EQ(c.send("*\r\n"), "-ERR authentication cancelled\r\n");
  const std::string bad = c.send("AUTH PLAIN !!!notbase64\r\n");
  EXPECT_EQ(bad.substr(0, 11), "-ERR [AUTH]") << bad;
  EXPECT_FALSE(c.s.paused());
  // The session takes commands again.
  EXPECT_EQ(c.send("USER alice\r\n"), "+OK send PASS\r\n");
}

TEST(Pop3Session, AuthWithoutArgumentsListsMechanisms) {
  Client c;
  EXPECT_EQ(c.send("AUTH\r\n"), "+OK SASL mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n");
  EXPECT_FALSE(c.s.paused());
}

TEST(Pop3Session, AuthWithUnknownMechanismIsAuthError) {
  Client c;
  EXPECT_EQ(c.send("AUTH CRAM-MD5\r\n"), "-ERR [AUTH] unknown mechanism; use PLAIN or LOGIN\r\n");
}

// ---------------------------------------------------------------- STAT, LIST, UIDL

TEST(Pop3Session, StatListAndUidl) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("STAT\r\n"), "+OK 3 600\r\n");
  EXPECT_EQ(c.send("LIST\r\n"), "+OK scan listing follows\r\n1 100\r\n2 200\r\n3 300\r\n.\r\n");
  EXPECT_EQ(c.send("LIST 2\r\n"), "+OK 2 200\r\n");
  EXPECT_EQ(c.send("UIDL\r\n"),
            "+OK unique-id listing follows\r\n1 0000000100000AAA\r\n2 0000000200000AAA\r\n3 0000000300000AAA\r\n.\r\n");
  EXPECT_EQ(c.send("UIDL 3\r\n"), "+OK 3 0000000300000AAA\r\n");
}

TEST(Pop3Session, DeletedMessagesAreHidden) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("DELE 2\r\n"), "+OK message 2 deleted\r\n");
  EXPECT_EQ(c.send("STAT\r\n"), "+OK 2 400\r\n");
  EXPECT_EQ(c.send("LIST\r\n"), "+OK scan listing follows\r\n1 100\r\n3 300\r\n.\r\n");
  EXPECT_EQ(c.send("UIDL\r\n"), "+OK unique-id listing follows\r\n1 0000000100000AAA\r\n3 0000000300000AAA\r\n.\r\n");
  EXPECT_EQ(c.send("LIST 2\r\n"), "-ERR message 2 is deleted\r\n");
  EXPECT_EQ(c.send("UIDL 2\r\n"), "-ERR message 2 is deleted\r\n");
  EXPECT_EQ(c.send("RETR 2\r\n"), "-ERR message 2 is deleted\r\n");
  EXPECT_EQ(c.send("TOP 2 0\r\n"), "-ERR message 2 is deleted\r\n");
  EXPECT_EQ(c.send("DELE 2\r\n"), "-ERR message 2 is deleted\r\n");
  EXPECT_FALSE(c.s.paused());
}

TEST(Pop3Session, BadMessageNumbersAreErrors) {
  SessionConfig config = make_config();
  config.max_errors = 100;
  Client c(config);
  c.login();
  for (std::string_view cmd :
       {"LIST 0", "LIST 4", "LIST x", "LIST -1", "LIST 1x", "LIST 99999999999999999999", "UIDL 0", "UIDL 4", "RETR 0",
        "RETR 4", "RETR abc", "TOP 4 1", "TOP 0 1", "DELE 0", "DELE 4", "DELE two"}) {
    EXPECT_EQ(c.send(std::string(cmd) + "\r\n"), "-ERR no such message\r\n") << cmd;
    EXPECT_FALSE(c.s.paused()) << cmd;
  }
  EXPECT_EQ(c.send("STAT\r\n"), "+OK 3 600\r\n");
}

TEST(Pop3Session, RetrAndTopSyntaxErrors) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("RETR\r\n"), "-ERR no such message\r\n");
  EXPECT_EQ(c.send("RETR 1 2\r\n"), "-ERR usage: RETR msg\r\n");
  EXPECT_EQ(c.send("TOP 1\r\n"), "-ERR usage: TOP msg lines\r\n");
  EXPECT_EQ(c.send("TOP 1 x\r\n"), "-ERR usage: TOP msg lines\r\n");
  EXPECT_EQ(c.send("TOP 1 -1\r\n"), "-ERR usage: TOP msg lines\r\n");
  EXPECT_FALSE(c.s.paused());
}

// ---------------------------------------------------------------- RETR, TOP

TEST(Pop3Session, RetrMakesARetrieveRequest) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("RETR 2\r\n"), "");
  const Request r = c.request(Request::Kind::retrieve);
  EXPECT_EQ(r.message, 1u);
  EXPECT_FALSE(r.body_lines.has_value());
  c.s.resolve_retrieve(true);
  EXPECT_EQ(c.s.take_output(), "+OK 200 octets\r\n");
  EXPECT_FALSE(c.s.paused());
  c.s.resume();
  EXPECT_EQ(c.s.take_output(), "");
  EXPECT_EQ(c.send("NOOP\r\n").substr(0, 3), "+OK");
}

TEST(Pop3Session, TopMakesARetrieveRequestWithBodyLines) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("TOP 3 5\r\n"), "");
  const Request r = c.request(Request::Kind::retrieve);
  EXPECT_EQ(r.message, 2u);
  ASSERT_TRUE(r.body_lines.has_value());
  EXPECT_EQ(*r.body_lines, 5u);
  c.s.resolve_retrieve(true);
  EXPECT_EQ(c.s.take_output(), "+OK 300 octets\r\n");
  c.s.resume();

  EXPECT_EQ(c.send("top 1 0\r\n"), "");
  const Request zero = c.request(Request::Kind::retrieve);
  EXPECT_EQ(zero.message, 0u);
  ASSERT_TRUE(zero.body_lines.has_value());
  EXPECT_EQ(*zero.body_lines, 0u);
}

TEST(Pop3Session, UnreadableMessageIsSysTempAndPipelinedCommandsGoOn) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("RETR 1\r\nSTAT\r\n"), "");
  c.request(Request::Kind::retrieve);
  c.s.resolve_retrieve(false);
  // Nothing else is sent for a failed RETR: the commands after it are
  // answered at once, without waiting for more input.
  EXPECT_EQ(c.s.take_output(), "-ERR [SYS/TEMP] the message cannot be read now\r\n+OK 3 600\r\n");
  EXPECT_FALSE(c.s.paused());
  c.s.resume();  // harmless
  EXPECT_EQ(c.s.take_output(), "");
}

// ---------------------------------------------------------------- DELE, RSET, QUIT

TEST(Pop3Session, RsetUndeletes) {
  Client c;
  c.login();
  c.send("DELE 1\r\nDELE 3\r\n");
  EXPECT_EQ(c.send("STAT\r\n"), "+OK 1 200\r\n");
  EXPECT_EQ(c.send("RSET\r\n"), "+OK maildrop has 3 messages\r\n");
  EXPECT_EQ(c.send("STAT\r\n"), "+OK 3 600\r\n");
  EXPECT_EQ(c.send("LIST 1\r\n"), "+OK 1 100\r\n");
}

TEST(Pop3Session, QuitWithDeletionsMakesACommitRequest) {
  Client c;
  c.login();
  c.send("DELE 1\r\nDELE 3\r\n");
  EXPECT_EQ(c.send("QUIT\r\n"), "");
  EXPECT_EQ(c.s.state(), Session::State::update);
  EXPECT_FALSE(c.s.closing());
  const Request r = c.request(Request::Kind::commit);
  EXPECT_EQ(r.deleted, (std::vector<std::size_t>{0, 2}));
  c.s.resolve_commit(true);
  EXPECT_EQ(c.s.take_output(), kBye);
  EXPECT_TRUE(c.s.closing());
  EXPECT_EQ(c.send("STAT\r\n"), "");  // closed: nothing more
}

TEST(Pop3Session, FailedCommitIsSysTempAndCloses) {
  Client c;
  c.login();
  c.send("DELE 2\r\nQUIT\r\n");
  EXPECT_EQ(c.request(Request::Kind::commit).deleted, (std::vector<std::size_t>{1}));
  c.s.resolve_commit(false);
  EXPECT_EQ(c.s.take_output(), "-ERR [SYS/TEMP] some deleted messages could not be removed\r\n");
  EXPECT_TRUE(c.s.closing());
}

TEST(Pop3Session, QuitWithoutDeletionsMakesNoCommit) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("QUIT\r\n"), kBye);
  EXPECT_TRUE(c.s.closing());
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.take_request().has_value());
}

TEST(Pop3Session, QuitAfterRsetMakesNoCommit) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("DELE 1\r\nRSET\r\nQUIT\r\n"), "+OK message 1 deleted\r\n+OK maildrop has 3 messages\r\n" + kBye);
  EXPECT_TRUE(c.s.closing());
  EXPECT_FALSE(c.s.take_request().has_value());
}

TEST(Pop3Session, QuitBeforeLogin) {
  Client c;
  EXPECT_EQ(c.send("QUIT\r\n"), kBye);
  EXPECT_TRUE(c.s.closing());
  EXPECT_FALSE(c.s.take_request().has_value());
}

// ---------------------------------------------------------------- pipelining

TEST(Pop3Session, PipelinedCommandsAreAnsweredInOrderAroundRequests) {
  Client c;
  EXPECT_EQ(c.send("USER alice\r\nPASS secret\r\nSTAT\r\nRETR 1\r\nLIST 1\r\nDELE 2\r\nQUIT\r\n"), "+OK send PASS\r\n");
  c.request(Request::Kind::auth);
  // More input while paused is only kept.
  EXPECT_EQ(c.send("NOOP\r\n"), "");
  c.s.resolve_auth(true);
  EXPECT_EQ(c.s.take_output(), "");
  c.request(Request::Kind::open);
  c.s.resolve_open(Session::OpenResult::ok, three_messages());
  EXPECT_EQ(c.s.take_output(), "+OK maildrop has 3 messages (600 octets)\r\n+OK 3 600\r\n");
  EXPECT_EQ(c.request(Request::Kind::retrieve).message, 0u);
  c.s.resolve_retrieve(true);
  EXPECT_EQ(c.s.take_output(), "+OK 100 octets\r\n");  // the message goes next, then the rest
  c.s.resume();
  EXPECT_EQ(c.s.take_output(), "+OK 1 100\r\n+OK message 2 deleted\r\n");
  EXPECT_EQ(c.request(Request::Kind::commit).deleted, (std::vector<std::size_t>{1}));
  c.s.resolve_commit(true);
  EXPECT_EQ(c.s.take_output(), kBye);  // the NOOP after QUIT is never answered
  EXPECT_TRUE(c.s.closing());
}

TEST(Pop3Session, CommandSplitAcrossFeeds) {
  Client c;
  EXPECT_EQ(c.send("US"), "");
  EXPECT_EQ(c.send("ER al"), "");
  EXPECT_EQ(c.send("ice\r"), "");
  EXPECT_EQ(c.send("\n"), "+OK send PASS\r\n");
}

TEST(Pop3Session, BareLfEndsALine) {
  Client c;
  EXPECT_EQ(c.send("USER alice\n"), "+OK send PASS\r\n");
}

// ---------------------------------------------------------------- bad input

TEST(Pop3Session, OverlongLineIsRefusedAndTheSessionRecovers) {
  Client c;
  EXPECT_EQ(c.send("USER " + std::string(5000, 'a') + "\r\n"), "-ERR line too long\r\n");
  EXPECT_EQ(c.send("USER alice\r\n"), "+OK send PASS\r\n");
}

TEST(Pop3Session, OverlongLineInPiecesGetsOneError) {
  Client c;
  std::string out;
  out += c.send("USER ");
  for (int i = 0; i < 20; ++i) out += c.send(std::string(3000, 'a'));
  out += c.send("\r\nUSER alice\r\n");
  EXPECT_EQ(out, "-ERR line too long\r\n+OK send PASS\r\n");
  EXPECT_FALSE(c.s.closing());
}

TEST(Pop3Session, OverlongLineInTransaction) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("LIST " + std::string(3000, '1') + "\r\nSTAT\r\n"), "-ERR line too long\r\n+OK 3 600\r\n");
}

TEST(Pop3Session, ErrorLimitClosesTheConnection) {
  SessionConfig config = make_config();
  config.max_errors = 3;
  Client c(config);
  EXPECT_EQ(c.send("FOO\r\n"), "-ERR unknown command\r\n");
  EXPECT_EQ(c.send("STAT\r\n"), "-ERR log in first\r\n");
  EXPECT_EQ(c.send("BAR\r\nUSER alice\r\n"),
            "-ERR unknown command\r\n-ERR [SYS/PERM] too many errors, closing the connection\r\n");
  EXPECT_TRUE(c.s.closing());
  EXPECT_EQ(c.send("USER alice\r\n"), "");
}

TEST(Pop3Session, ErrorLimitInTransaction) {
  SessionConfig config = make_config();
  config.max_errors = 2;
  Client c(config);
  c.login();
  c.send("RETR 9\r\n");
  EXPECT_EQ(c.send("DELE 9\r\n"),
            "-ERR no such message\r\n-ERR [SYS/PERM] too many errors, closing the connection\r\n");
  EXPECT_TRUE(c.s.closing());
  EXPECT_FALSE(c.s.take_request().has_value());  // no commit for a session that did not QUIT
}

TEST(Pop3Session, CommandsInTheWrongStateAndUnknownCommands) {
  SessionConfig config = make_config();
  config.max_errors = 100;
  Client c(config);
  for (std::string_view cmd : {"STAT", "LIST", "RETR 1", "DELE 1", "NOOP", "RSET", "TOP 1 1", "UIDL"}) {
    EXPECT_EQ(c.send(std::string(cmd) + "\r\n"), "-ERR log in first\r\n") << cmd;
  }
  EXPECT_EQ(c.send("APOP alice 0123456789abcdef0123456789abcdef\r\n"),
            "-ERR APOP is not supported; use USER/PASS or AUTH over TLS\r\n");
  EXPECT_EQ(c.send("\r\n"), "-ERR unknown command\r\n");
  c.login();
  for (std::string_view cmd : {"USER bob", "PASS x", "AUTH PLAIN", "APOP a b"}) {
    EXPECT_EQ(c.send(std::string(cmd) + "\r\n"), "-ERR already logged in\r\n") << cmd;
  }
  EXPECT_EQ(c.send("XYZZY\r\n"), "-ERR unknown command\r\n");
  EXPECT_EQ(c.send("STAT 1\r\n"), "-ERR unknown command\r\n");
}

TEST(Pop3Session, CommandsAreCaseInsensitive) {
  Client c;
  EXPECT_TRUE(has_line(c.send("capa\r\n"), "TOP"));
  EXPECT_EQ(c.send("user alice\r\n"), "+OK send PASS\r\n");
  EXPECT_EQ(c.send("pAsS secret\r\n"), "");
  c.request(Request::Kind::auth);
  c.s.resolve_auth(true);
  c.request(Request::Kind::open);
  c.s.resolve_open(Session::OpenResult::ok, three_messages());
  c.s.take_output();
  EXPECT_EQ(c.send("stat\r\n"), "+OK 3 600\r\n");
  EXPECT_EQ(c.send("list 1\r\n"), "+OK 1 100\r\n");
  EXPECT_EQ(c.send("Uidl 1\r\n"), "+OK 1 0000000100000AAA\r\n");
  EXPECT_EQ(c.send("retr 1\r\n"), "");
  c.request(Request::Kind::retrieve);
  c.s.resolve_retrieve(true);
  c.s.resume();
  c.s.take_output();
  EXPECT_EQ(c.send("dele 1\r\n"), "+OK message 1 deleted\r\n");
  EXPECT_EQ(c.send("rset\r\n"), "+OK maildrop has 3 messages\r\n");
  EXPECT_EQ(c.send("noop\r\n").substr(0, 3), "+OK");
  EXPECT_EQ(c.send("dele 2\r\nquit\r\n"), "+OK message 2 deleted\r\n");
  EXPECT_EQ(c.request(Request::Kind::commit).deleted, (std::vector<std::size_t>{1}));
}

TEST(Pop3Session, StlsIsCaseInsensitive) {
  Client c;
  EXPECT_EQ(c.send("stls\r\n"), "+OK Begin TLS negotiation\r\n");
  EXPECT_TRUE(c.s.wants_tls());
}

}  // namespace
}  // namespace poshta::pop3
