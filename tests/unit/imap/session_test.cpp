// imap/session: the sans-IO IMAP server (RFC 9051 / RFC 3501 states,
// STARTTLS, LOGIN, AUTHENTICATE with SASL-IR, IDLE, LOGOUT), driven by
// bytes; every test checks the exact lines a client would read and the
// requests the transport is asked to carry out.
#include "imap/session.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "auth/sasl.hpp"

namespace poshta::imap {
namespace {

// Capabilities every state offers (more may come as extensions are added).
const std::vector<std::string> kBaseCaps = {"LITERAL+", "SASL-IR",   "ID",          "ENABLE",
                                            "IDLE",     "NAMESPACE", "UNSELECT",    "UIDPLUS",
                                            "MOVE",     "CHILDREN",  "SPECIAL-USE", "APPENDLIMIT=1000"};

// `wire` is `before` + a capability list + `after`; the list starts with
// IMAP4rev1, has every base capability, and its login-related ones
// (STARTTLS, LOGINDISABLED, AUTH=) are exactly `login`, in that order.
::testing::AssertionResult has_caps(std::string_view wire, std::string_view before, std::string_view login,
                                    std::string_view after) {
  if (wire.substr(0, before.size()) != before || wire.size() < before.size() + after.size() ||
      wire.substr(wire.size() - after.size()) != after) {
    return ::testing::AssertionFailure() << "not " << before << "..." << after << ": " << wire;
  }
  std::string_view list = wire.substr(before.size(), wire.size() - before.size() - after.size());
  std::vector<std::string> caps;
  while (!list.empty()) {
    const auto sp = list.find(' ');
    caps.emplace_back(list.substr(0, sp));
    list = sp == std::string_view::npos ? std::string_view() : list.substr(sp + 1);
  }
  if (caps.empty() || caps.front() != "IMAP4rev1")
    return ::testing::AssertionFailure() << "no IMAP4rev1 first: " << wire;
  for (const auto& c : kBaseCaps) {
    if (std::find(caps.begin(), caps.end(), c) == caps.end()) {
      return ::testing::AssertionFailure() << c << " missing: " << wire;
    }
  }
  std::string got;
  for (const auto& c : caps) {
    if (c == "STARTTLS" || c == "LOGINDISABLED" || c.rfind("AUTH=", 0) == 0) got += (got.empty() ? "" : " ") + c;
  }
  if (got != login) return ::testing::AssertionFailure() << "login capabilities \"" << got << "\" in " << wire;
  return ::testing::AssertionSuccess();
}

SessionConfig make_config(bool plaintext_allowed = true, bool starttls = true, bool tls_active = false) {
  SessionConfig c;
  c.hostname = "mx.test";
  c.starttls = starttls;
  c.tls_active = tls_active;
  c.plaintext_allowed = plaintext_allowed;
  c.append_limit = 1000;
  c.max_errors = 5;
  return c;
}

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

  void login() {
    ASSERT_EQ(send("l1 LOGIN alice secret\r\n"), "");
    request(Request::Kind::auth);
    s.resolve_auth(true, "alice@mx.test");
    ASSERT_EQ(s.take_output().substr(0, 6), "l1 OK ");
    ASSERT_EQ(s.state(), Session::State::authenticated);
  }

  void select() {
    login();
    ASSERT_EQ(send("s1 SELECT INBOX\r\n"), "");
    const Request r = request(Request::Kind::command);
    ASSERT_EQ(r.command.name, "SELECT");
    s.resolve_command("* 2 EXISTS\r\n", "OK [READ-WRITE] SELECT completed", true);
    ASSERT_EQ(s.take_output(), "* 2 EXISTS\r\ns1 OK [READ-WRITE] SELECT completed\r\n");
    ASSERT_EQ(s.state(), Session::State::selected);
  }

  Session s;
  std::string greeting;
};

// ---------------------------------------------------------------- greeting, CAPABILITY

TEST(ImapSession, GreetingCarriesCapabilities) {
  Client c;
  EXPECT_TRUE(has_caps(c.greeting, "* OK [CAPABILITY ", "STARTTLS AUTH=PLAIN", "] mx.test Poshta IMAP ready\r\n"));
  EXPECT_EQ(c.s.state(), Session::State::not_authenticated);
  EXPECT_FALSE(c.s.closing());
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.wants_tls());
  EXPECT_FALSE(c.s.idling());
  EXPECT_FALSE(c.s.take_request().has_value());
}

TEST(ImapSession, CapabilityCommand) {
  Client c;
  EXPECT_TRUE(has_caps(c.send("a CAPABILITY\r\n"), "* CAPABILITY ", "STARTTLS AUTH=PLAIN",
                       "\r\na OK CAPABILITY completed\r\n"));
}

TEST(ImapSession, LoginDisabledWithoutTlsWhenPlaintextIsNotAllowed) {
  Client c(make_config(/*plaintext_allowed=*/false));
  EXPECT_TRUE(has_caps(c.greeting, "* OK [CAPABILITY ", "STARTTLS LOGINDISABLED", "] mx.test Poshta IMAP ready\r\n"));
  EXPECT_EQ(c.send("a LOGIN alice secret\r\n"), "a NO [PRIVACYREQUIRED] LOGIN is allowed only over TLS\r\n");
  EXPECT_EQ(c.send("b AUTHENTICATE PLAIN " + plain_token("alice", "secret") + "\r\n"),
            "b NO [PRIVACYREQUIRED] AUTHENTICATE is allowed only over TLS\r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.s.state(), Session::State::not_authenticated);
}

TEST(ImapSession, WithoutTlsContextNoStarttls) {
  Client c(make_config(/*plaintext_allowed=*/true, /*starttls=*/false));
  EXPECT_TRUE(has_caps(c.greeting, "* OK [CAPABILITY ", "AUTH=PLAIN", "] mx.test Poshta IMAP ready\r\n"));
  EXPECT_EQ(c.send("a STARTTLS\r\n"), "a BAD STARTTLS is not available here\r\n");
  EXPECT_FALSE(c.s.wants_tls());
}

TEST(ImapSession, ImplicitTlsOffersAuthButNoStarttls) {
  Client c(make_config(/*plaintext_allowed=*/false, /*starttls=*/true, /*tls_active=*/true));
  EXPECT_TRUE(has_caps(c.greeting, "* OK [CAPABILITY ", "AUTH=PLAIN", "] mx.test Poshta IMAP ready\r\n"));
  EXPECT_EQ(c.send("a STARTTLS\r\n"), "a BAD STARTTLS is not available here\r\n");
  EXPECT_EQ(c.send("b LOGIN alice secret\r\n"), "");
  EXPECT_TRUE(c.s.paused());
}

TEST(ImapSession, AnyStateCommandsBeforeLogin) {
  Client c;
  EXPECT_EQ(c.send("a NOOP\r\n"), "a OK NOOP completed\r\n");
  EXPECT_EQ(c.send("b ID (\"name\" \"test\")\r\n"), "* ID (\"name\" \"Poshta\")\r\nb OK ID completed\r\n");
  EXPECT_EQ(c.send("c ID NIL\r\n"), "* ID (\"name\" \"Poshta\")\r\nc OK ID completed\r\n");
  EXPECT_FALSE(c.s.paused());
}

// ---------------------------------------------------------------- STARTTLS

TEST(ImapSession, StarttlsDiscardsPipelinedInput) {
  Client c(make_config(/*plaintext_allowed=*/false));
  EXPECT_EQ(c.send("a STARTTLS\r\nb LOGIN alice secret\r\nc CAPABILITY\r\n"), "a OK Begin TLS negotiation now\r\n");
  EXPECT_TRUE(c.s.wants_tls());
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.take_request().has_value());
  EXPECT_EQ(c.send("d NOOP\r\n"), "");  // nothing is read until TLS is up
  c.s.tls_started();
  EXPECT_FALSE(c.s.wants_tls());
  EXPECT_EQ(c.s.take_output(), "");
  EXPECT_TRUE(has_caps(c.send("e CAPABILITY\r\n"), "* CAPABILITY ", "AUTH=PLAIN", "\r\ne OK CAPABILITY completed\r\n"));
  EXPECT_EQ(c.send("f STARTTLS\r\n"), "f BAD STARTTLS is not available here\r\n");
  EXPECT_EQ(c.send("g LOGIN alice secret\r\n"), "");
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice");
}

TEST(ImapSession, StarttlsDiscardsAPartialCommand) {
  Client c;
  EXPECT_EQ(c.send("a STARTTLS\r\nb LOGIN {5}\r\n"), "a OK Begin TLS negotiation now\r\n");
  c.s.tls_started();
  EXPECT_EQ(c.send("c NOOP\r\n"), "c OK NOOP completed\r\n");
}

// ---------------------------------------------------------------- LOGIN

TEST(ImapSession, LoginMakesAnAuthRequest) {
  Client c;
  EXPECT_EQ(c.send("a1 LOGIN \"alice@mx.test\" \"two words\"\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice@mx.test");
  EXPECT_EQ(r.password, "two words");
  EXPECT_FALSE(c.s.take_request().has_value());  // handed out once
  c.s.resolve_auth(true, "alice@mx.test");
  EXPECT_TRUE(has_caps(c.s.take_output(), "a1 OK [CAPABILITY ", "", "] Logged in\r\n"));
  EXPECT_EQ(c.s.state(), Session::State::authenticated);
  EXPECT_EQ(c.s.user(), "alice@mx.test");
  EXPECT_FALSE(c.s.paused());
}

TEST(ImapSession, ThirdFailedLoginEndsTheConnection) {
  Client c;
  for (int i = 1; i <= 3; ++i) {
    c.send("a" + std::to_string(i) + " LOGIN alice wrong\r\n");
    c.request(Request::Kind::auth);
    c.s.resolve_auth(false, "alice@mx.test");
    const std::string out = c.s.take_output();
    EXPECT_NE(out.find("NO [AUTHENTICATIONFAILED]"), std::string::npos) << out;
    EXPECT_EQ(out.find("* BYE") != std::string::npos, i == 3) << out;
  }
  EXPECT_TRUE(c.s.closing());
}

TEST(ImapSession, LoginWithLiterals) {
  Client c;
  EXPECT_EQ(c.send("a LOGIN {5}\r\n"), "+ Ready for literal data\r\n");
  EXPECT_EQ(c.send("alice {6+}\r\nsecret\r\n"), "");
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "secret");
}

TEST(ImapSession, LoginFailureStaysLoggedOut) {
  Client c;
  c.send("a LOGIN alice wrong\r\n");
  c.request(Request::Kind::auth);
  c.s.resolve_auth(false, "alice@mx.test");
  EXPECT_EQ(c.s.take_output(), "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
  EXPECT_EQ(c.s.state(), Session::State::not_authenticated);
  EXPECT_EQ(c.send("b SELECT INBOX\r\n"), "b BAD SELECT needs you to log in first\r\n");
}

TEST(ImapSession, CommandsPipelinedAfterLoginWaitForIt) {
  Client c;
  EXPECT_EQ(c.send("a LOGIN alice secret\r\nb SELECT INBOX\r\n"), "");
  c.request(Request::Kind::auth);
  c.s.resolve_auth(true, "alice@mx.test");
  EXPECT_EQ(c.s.take_output().substr(0, 5), "a OK ");
  const Request r = c.request(Request::Kind::command);
  EXPECT_EQ(r.command.tag, "b");
  EXPECT_EQ(r.command.name, "SELECT");
  EXPECT_EQ(r.command.mailbox, "INBOX");
}

TEST(ImapSession, PipelinedCommandsAfterAFailedLoginAreRefused) {
  Client c;
  c.send("a LOGIN alice wrong\r\nb SELECT INBOX\r\n");
  c.request(Request::Kind::auth);
  c.s.resolve_auth(false, "");
  EXPECT_EQ(c.s.take_output(),
            "a NO [AUTHENTICATIONFAILED] Authentication failed\r\nb BAD SELECT needs you to log in first\r\n");
  EXPECT_FALSE(c.s.paused());
}

// ---------------------------------------------------------------- AUTHENTICATE

TEST(ImapSession, AuthenticatePlainWithInitialResponse) {
  Client c;
  EXPECT_EQ(c.send("a AUTHENTICATE PLAIN " + plain_token("alice", "s3cret") + "\r\n"), "");
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "s3cret");
  c.s.resolve_auth(true, "alice@mx.test");
  EXPECT_EQ(c.s.take_output().substr(0, 18), "a OK [CAPABILITY I");
  EXPECT_EQ(c.s.state(), Session::State::authenticated);
}

TEST(ImapSession, AuthenticatePlainWithoutInitialResponse) {
  Client c;
  EXPECT_EQ(c.send("a AUTHENTICATE PLAIN\r\n"), "+ \r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.send(plain_token("alice", "s3cret") + "\r\n"), "");
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "s3cret");
  c.s.resolve_auth(false, "");
  EXPECT_EQ(c.s.take_output(), "a NO [AUTHENTICATIONFAILED] Authentication failed\r\n");
  // The exchange is over: the next line is a command again.
  EXPECT_EQ(c.send("b NOOP\r\n"), "b OK NOOP completed\r\n");
}

TEST(ImapSession, AuthenticateResponseIsNotTakenAsACommandOrLiteral) {
  Client c;
  EXPECT_EQ(c.send("a AUTHENTICATE PLAIN\r\n"), "+ \r\n");
  EXPECT_EQ(c.send("b LOGOUT {5}\r\n"), "a BAD invalid base64\r\n");
  EXPECT_FALSE(c.s.closing());
  EXPECT_EQ(c.send("c NOOP\r\n"), "c OK NOOP completed\r\n");
}

TEST(ImapSession, AuthenticateLogin) {
  Client c;
  EXPECT_EQ(c.send("a AUTHENTICATE LOGIN\r\n"), "+ " + auth::base64_encode("Username:") + "\r\n");
  EXPECT_EQ(c.send(auth::base64_encode("alice") + "\r\n"), "+ " + auth::base64_encode("Password:") + "\r\n");
  EXPECT_EQ(c.send(auth::base64_encode("pw") + "\r\n"), "");
  const Request r = c.request(Request::Kind::auth);
  EXPECT_EQ(r.user, "alice");
  EXPECT_EQ(r.password, "pw");
}

TEST(ImapSession, AuthenticateCancelled) {
  Client c;
  EXPECT_EQ(c.send("a AUTHENTICATE PLAIN\r\n"), "+ \r\n");
  EXPECT_EQ(c.send("*\r\n"), "a BAD AUTHENTICATE cancelled\r\n");
  EXPECT_EQ(c.s.state(), Session::State::not_authenticated);
  EXPECT_EQ(c.send("b NOOP\r\n"), "b OK NOOP completed\r\n");
}

TEST(ImapSession, AuthenticateUnknownMechanism) {
  Client c;
  EXPECT_EQ(c.send("a AUTHENTICATE CRAM-MD5\r\n"), "a NO [CANNOT] unknown mechanism; use PLAIN\r\n");
  EXPECT_EQ(c.send("b NOOP\r\n"), "b OK NOOP completed\r\n");
}

TEST(ImapSession, AuthenticateBadInitialResponse) {
  Client c;
  EXPECT_EQ(c.send("a AUTHENTICATE PLAIN !!!!\r\n"), "a BAD invalid base64\r\n");
  EXPECT_EQ(c.send("b NOOP\r\n"), "b OK NOOP completed\r\n");
}

// ---------------------------------------------------------------- states

TEST(ImapSession, CommandsBeforeLoginAreRefused) {
  for (const char* cmd :
       {"SELECT INBOX", "EXAMINE INBOX", "LIST \"\" *", "CREATE x", "STATUS INBOX (MESSAGES)", "APPEND INBOX {1+}\r\nx",
        "ENABLE CONDSTORE", "NAMESPACE", "IDLE", "FETCH 1 FLAGS", "UID FETCH 1 FLAGS", "EXPUNGE", "CLOSE"}) {
    Client c;  // a fresh connection each, so the error limit is not reached
    const std::string out = c.send(std::string("t ") + cmd + "\r\n");
    EXPECT_EQ(out.substr(0, 6), "t BAD ") << cmd << ": " << out;
    EXPECT_NE(out.find("needs you to log in first"), std::string::npos) << out;
    EXPECT_FALSE(c.s.paused()) << cmd;
  }
}

TEST(ImapSession, SelectedStateCommandsNeedASelectedMailbox) {
  for (const char* cmd : {"FETCH 1 FLAGS", "STORE 1 +FLAGS (\\Seen)", "SEARCH ALL", "COPY 1 Trash", "MOVE 1 Trash",
                          "EXPUNGE", "UID EXPUNGE 1", "UID FETCH 1 FLAGS", "CLOSE", "UNSELECT", "CHECK"}) {
    Client c;
    c.login();
    const std::string out = c.send(std::string("t ") + cmd + "\r\n");
    EXPECT_EQ(out.substr(0, 6), "t BAD ") << cmd;
    EXPECT_NE(out.find("needs a selected mailbox"), std::string::npos) << out;
    EXPECT_FALSE(c.s.paused()) << cmd;
  }
}

TEST(ImapSession, LoginCommandsAfterLoginAreRefused) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("a LOGIN alice secret\r\n"), "a BAD already logged in\r\n");
  EXPECT_EQ(c.send("b AUTHENTICATE PLAIN\r\n"), "b BAD already logged in\r\n");
  EXPECT_EQ(c.send("c STARTTLS\r\n"), "c BAD already logged in\r\n");
  EXPECT_FALSE(c.s.paused());
}

TEST(ImapSession, AuthenticatedCommandsGoToTheBackend) {
  for (const char* cmd :
       {"SELECT INBOX", "EXAMINE INBOX", "LIST \"\" *", "LSUB \"\" *", "CREATE x", "DELETE x", "RENAME x y",
        "SUBSCRIBE x", "UNSUBSCRIBE x", "STATUS INBOX (MESSAGES)", "NOOP", "APPEND INBOX {1+}\r\nx"}) {
    Client c;
    c.login();
    EXPECT_EQ(c.send(std::string("t ") + cmd + "\r\n"), "") << cmd;
    const Request r = c.request(Request::Kind::command);
    EXPECT_EQ(r.command.tag, "t");
    EXPECT_EQ(std::string(cmd).substr(0, r.command.name.size()), r.command.name);
  }
}

TEST(ImapSession, SelectThenMessageCommands) {
  Client c;
  c.select();
  EXPECT_EQ(c.send("f UID FETCH 1:* (FLAGS)\r\n"), "");
  const Request r = c.request(Request::Kind::command);
  EXPECT_EQ(r.command.name, "FETCH");
  EXPECT_TRUE(r.command.uid);
  c.s.resolve_command("* 1 FETCH (UID 1 FLAGS ())\r\n", "OK UID FETCH completed", true);
  EXPECT_EQ(c.s.take_output(), "* 1 FETCH (UID 1 FLAGS ())\r\nf OK UID FETCH completed\r\n");
  EXPECT_EQ(c.s.state(), Session::State::selected);

  EXPECT_EQ(c.send("c CLOSE\r\n"), "");
  c.request(Request::Kind::command);
  c.s.resolve_command("", "OK CLOSE completed", false);
  EXPECT_EQ(c.s.take_output(), "c OK CLOSE completed\r\n");
  EXPECT_EQ(c.s.state(), Session::State::authenticated);
  EXPECT_EQ(c.send("d FETCH 1 FLAGS\r\n"), "d BAD FETCH needs a selected mailbox\r\n");
}

TEST(ImapSession, FailedSelectLeavesTheSelectedState) {
  Client c;
  c.select();
  c.send("s2 SELECT Nowhere\r\n");
  c.request(Request::Kind::command);
  c.s.resolve_command("", "NO [NONEXISTENT] no such mailbox", false);
  EXPECT_EQ(c.s.take_output(), "s2 NO [NONEXISTENT] no such mailbox\r\n");
  EXPECT_EQ(c.s.state(), Session::State::authenticated);
}

TEST(ImapSession, PipelinedCommandsAreAnsweredInOrder) {
  Client c;
  c.select();
  EXPECT_EQ(c.send("a NOOP\r\nb FETCH 1 FLAGS\r\nc CAPABILITY\r\n"), "");
  EXPECT_EQ(c.request(Request::Kind::command).command.tag, "a");
  EXPECT_FALSE(c.s.take_request().has_value());
  c.s.resolve_command("* 3 EXISTS\r\n", "OK NOOP completed", true);
  EXPECT_EQ(c.s.take_output(), "* 3 EXISTS\r\na OK NOOP completed\r\n");
  EXPECT_EQ(c.request(Request::Kind::command).command.tag, "b");
  c.s.resolve_command("", "OK FETCH completed", true);
  const auto lines = lines_of(c.s.take_output());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "b OK FETCH completed");
  EXPECT_EQ(lines[1].substr(0, 13), "* CAPABILITY ");
  EXPECT_EQ(lines[2], "c OK CAPABILITY completed");
}

TEST(ImapSession, EnableGoesToTheBackendNamespaceIsAnswered) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("a ENABLE CONDSTORE\r\n"), "");
  const Request r = c.request(Request::Kind::command);
  EXPECT_EQ(r.command.name, "ENABLE");
  EXPECT_EQ(r.command.atoms, (std::vector<std::string>{"CONDSTORE"}));
  c.s.resolve_command("* ENABLED CONDSTORE\r\n", "OK ENABLE completed", false);
  EXPECT_EQ(c.s.take_output(), "* ENABLED CONDSTORE\r\na OK ENABLE completed\r\n");
  EXPECT_EQ(c.send("b NAMESPACE\r\n"), "* NAMESPACE ((\"\" \".\")) NIL NIL\r\nb OK NAMESPACE completed\r\n");
}

// ---------------------------------------------------------------- IDLE

TEST(ImapSession, IdleUntilDone) {
  Client c;
  c.select();
  EXPECT_EQ(c.send("i IDLE\r\n"), "+ idling\r\n");
  EXPECT_TRUE(c.s.idling());
  EXPECT_FALSE(c.s.paused());
  c.s.push_untagged("* 3 EXISTS\r\n");
  EXPECT_EQ(c.s.take_output(), "* 3 EXISTS\r\n");
  EXPECT_EQ(c.send("DO"), "");
  EXPECT_EQ(c.send("NE\r\n"), "i OK IDLE terminated\r\n");
  EXPECT_FALSE(c.s.idling());
  EXPECT_EQ(c.s.state(), Session::State::selected);
  EXPECT_EQ(c.send("n NOOP\r\n"), "");
  EXPECT_EQ(c.request(Request::Kind::command).command.name, "NOOP");
}

TEST(ImapSession, IdleInAuthenticatedStateToo) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("i IDLE\r\ndone\r\n"), "+ idling\r\ni OK IDLE terminated\r\n");
}

TEST(ImapSession, DoneInAnyCase) {
  Client c;
  c.login();
  for (const char* done : {"DONE", "done", "Done", "dOnE"}) {
    EXPECT_EQ(c.send("i IDLE\r\n"), "+ idling\r\n");
    EXPECT_EQ(c.send(std::string(done) + "\r\n"), "i OK IDLE terminated\r\n") << done;
  }
  EXPECT_EQ(c.send("i IDLE\r\n"), "+ idling\r\n");
  EXPECT_EQ(c.send("DONE \r\n"), "i BAD expected DONE\r\n");
}

TEST(ImapSession, IdleEndedByAnythingButDoneIsBad) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("i IDLE\r\n"), "+ idling\r\n");
  EXPECT_EQ(c.send("a NOOP\r\n"), "i BAD expected DONE\r\n");
  EXPECT_FALSE(c.s.idling());
  EXPECT_EQ(c.send("b NAMESPACE\r\n"), "* NAMESPACE ((\"\" \".\")) NIL NIL\r\nb OK NAMESPACE completed\r\n");
}

TEST(ImapSession, DoneWithoutIdleIsABadCommand) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("DONE\r\n"), "DONE BAD missing command\r\n");
}

// ---------------------------------------------------------------- LOGOUT, errors, shutdown

TEST(ImapSession, LogoutSaysBye) {
  Client c;
  EXPECT_EQ(c.send("z LOGOUT\r\nafter NOOP\r\n"), "* BYE mx.test Poshta IMAP logging out\r\nz OK LOGOUT completed\r\n");
  EXPECT_TRUE(c.s.closing());
  EXPECT_EQ(c.send("y NOOP\r\n"), "");
}

TEST(ImapSession, LogoutWhenSelected) {
  Client c;
  c.select();
  EXPECT_EQ(c.send("z LOGOUT\r\n"), "* BYE mx.test Poshta IMAP logging out\r\nz OK LOGOUT completed\r\n");
  EXPECT_TRUE(c.s.closing());
}

TEST(ImapSession, BadCommandsGiveReasons) {
  Client c;
  EXPECT_EQ(c.send("a FROB\r\n"), "a BAD unknown command FROB\r\n");
  EXPECT_EQ(c.send("b NOOP x\r\n"), "b BAD unexpected text after the arguments\r\n");
  EXPECT_EQ(c.send("+ NOOP\r\n"), "* BAD a command must start with a tag\r\n");
}

TEST(ImapSession, ErrorLimitCloses) {
  Client c;  // max_errors 5
  for (int i = 1; i < 5; ++i) {
    EXPECT_EQ(c.send("t" + std::to_string(i) + " FROB\r\n"), "t" + std::to_string(i) + " BAD unknown command FROB\r\n");
  }
  EXPECT_FALSE(c.s.closing());
  EXPECT_EQ(c.send("t5 FROB\r\n"),
            "t5 BAD unknown command FROB\r\n* BYE Too many bad commands, closing the connection\r\n");
  EXPECT_TRUE(c.s.closing());
  EXPECT_EQ(c.send("t6 NOOP\r\n"), "");
}

TEST(ImapSession, LinesWithoutATagCountAsErrors) {
  Client c;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(c.send("\r\n"), "* BAD a command must start with a tag\r\n");
  const std::string out = c.send("\r\n");
  EXPECT_EQ(out, "* BAD a command must start with a tag\r\n* BYE Too many bad commands, closing the connection\r\n");
  EXPECT_TRUE(c.s.closing());
}

TEST(ImapSession, StateErrorsCountToo) {
  Client c;
  for (int i = 0; i < 4; ++i) c.send("t SELECT INBOX\r\n");
  EXPECT_FALSE(c.s.closing());
  EXPECT_NE(c.send("t SELECT INBOX\r\n").find("* BYE"), std::string::npos);
  EXPECT_TRUE(c.s.closing());
}

TEST(ImapSession, TooLongCommandIsBadWithItsTag) {
  Client c;
  EXPECT_EQ(c.send("t1 APPEND INBOX {1001}\r\n"), "t1 BAD [TOOBIG] command or literal too long\r\n");
  EXPECT_EQ(c.send("t2 NOOP\r\n"), "t2 OK NOOP completed\r\n");
  EXPECT_EQ(c.send("t3 NOOP " + std::string(Reader::kMaxText + 1, 'x') + "\r\n"),
            "t3 BAD [TOOBIG] command or literal too long\r\n");
}

TEST(ImapSession, AppendWithinTheLimitReachesTheBackend) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("a APPEND INBOX (\\Seen) {1000}\r\n"), "+ Ready for literal data\r\n");
  EXPECT_EQ(c.send(std::string(1000, 'm') + "\r\n"), "");
  const Request r = c.request(Request::Kind::command);
  ASSERT_EQ(r.command.append.size(), 1u);
  EXPECT_EQ(r.command.append[0].message.size(), 1000u);
  EXPECT_EQ(r.command.append[0].flags, (std::vector<std::string>{"\\Seen"}));
}

TEST(ImapSession, ShutdownSaysBye) {
  Client c;
  c.login();
  c.s.shutdown();
  EXPECT_EQ(c.s.take_output(), "* BYE [UNAVAILABLE] Server shutting down\r\n");
  EXPECT_TRUE(c.s.closing());
  c.s.shutdown();
  EXPECT_EQ(c.s.take_output(), "");
}

TEST(ImapSession, InputWhilePausedWaits) {
  Client c;
  c.login();
  EXPECT_EQ(c.send("a SELECT INBOX\r\n"), "");
  c.request(Request::Kind::command);
  EXPECT_EQ(c.send("b CAPABILITY\r\n"), "");  // answered in order, after a
  c.s.resolve_command("", "OK [READ-WRITE] SELECT completed", true);
  const auto lines = lines_of(c.s.take_output());
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "a OK [READ-WRITE] SELECT completed");
  EXPECT_EQ(lines[2], "b OK CAPABILITY completed");
}

}  // namespace
}  // namespace poshta::imap
