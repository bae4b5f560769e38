// smtp/client_session: the sans-IO SMTP and LMTP client, driven by the bytes
// a server sends; every test checks the exact commands the client writes and
// the reply each recipient ends up with.
#include "smtp/client_session.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace poshta::smtp {
namespace {

using State = ClientSession::State;

const std::string kGreeting = "220 mx.test ESMTP\r\n";
const std::string kEhloAll =
    "250-mx.test greets client.test\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 1000\r\n"
    "250-8BITMIME\r\n"
    "250-SMTPUTF8\r\n"
    "250-DSN\r\n"
    "250-STARTTLS\r\n"
    "250 AUTH PLAIN LOGIN\r\n";
// What a server offers once TLS is on, or where STARTTLS is not wanted.
const std::string kEhloPipelining =
    "250-mx.test greets client.test\r\n"
    "250-PIPELINING\r\n"
    "250-SIZE 1000\r\n"
    "250 8BITMIME\r\n";
const std::string kEhloPlain = "250-mx.test greets client.test\r\n250 8BITMIME\r\n";
const std::string kContent = "Subject: hi\r\n\r\nHello.\r\n";

ClientOptions make_options(TlsPolicy tls = TlsPolicy::none) {
  ClientOptions o;
  o.hello_name = "client.test";
  o.tls = tls;
  return o;
}

// One client connection, driven by what the server says.
struct Conversation {
  explicit Conversation(ClientOptions options = make_options()) : lmtp(options.lmtp), s(std::move(options)) {}

  // Feeds the server's bytes, returns what the client writes in answer.
  std::string server(std::string_view bytes) {
    s.feed(bytes);
    return s.take_output();
  }

  // Greets and reads the EHLO (or LHLO) reply; the session should be ready.
  void open(const std::string& ehlo_reply) {
    EXPECT_EQ(server(kGreeting), (lmtp ? "LHLO client.test\r\n" : "EHLO client.test\r\n"));
    EXPECT_EQ(server(ehlo_reply), "");
    EXPECT_EQ(s.state(), State::ready);
  }

  std::string send(const OutgoingMessage& m) {
    s.send(m);
    return s.take_output();
  }

  bool lmtp;
  ClientSession s;
};

OutgoingMessage make_message(std::vector<std::string> recipients, std::string_view content = kContent) {
  OutgoingMessage m;
  m.sender = "sender@example.org";
  for (auto& r : recipients) m.recipients.push_back({std::move(r), 0, {}});
  m.content = content;
  return m;
}

std::vector<int> codes(const MessageResult& r) {
  std::vector<int> out;
  for (const auto& reply : r.recipients) out.push_back(reply.code);
  return out;
}

// ---------------------------------------------------------------- greeting, EHLO, HELO

TEST(ClientSession, GreetingIsAnsweredWithEhlo) {
  Conversation c;
  EXPECT_EQ(c.s.state(), State::greeting);
  EXPECT_EQ(c.s.take_output(), "");
  EXPECT_EQ(c.server(kGreeting), "EHLO client.test\r\n");
  EXPECT_EQ(c.s.state(), State::hello);
}

TEST(ClientSession, MultiLineGreetingIsOneReply) {
  Conversation c;
  EXPECT_EQ(c.server("220-mx.test ESMTP\r\n220-more text\r\n"), "");
  EXPECT_EQ(c.server("220 last line\r\n"), "EHLO client.test\r\n");
}

TEST(ClientSession, GreetingOtherThan220Fails) {
  Conversation c;
  EXPECT_EQ(c.server("554 5.3.2 go away\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().permanent);
  EXPECT_FALSE(c.s.failure().tls);
  EXPECT_EQ(c.s.failure().text, "554 5.3.2 go away");

  Conversation busy;
  busy.server("421 4.3.2 busy\r\n");
  EXPECT_EQ(busy.s.state(), State::failed);
  EXPECT_FALSE(busy.s.failure().permanent);
}

TEST(ClientSession, EhloRefusedFallsBackToHelo) {
  Conversation c;
  c.server(kGreeting);
  EXPECT_EQ(c.server("500 5.5.1 command unrecognized\r\n"), "HELO client.test\r\n");
  EXPECT_EQ(c.s.state(), State::hello);
  EXPECT_EQ(c.server("250 mx.test\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  EXPECT_FALSE(c.s.capabilities().esmtp);
  EXPECT_FALSE(c.s.capabilities().pipelining);
}

TEST(ClientSession, HeloRefusedFails) {
  Conversation c;
  c.server(kGreeting);
  c.server("502 no EHLO\r\n");
  EXPECT_EQ(c.server("550 no HELO either\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().permanent);
}

TEST(ClientSession, EhloTransientFailureFailsWithoutHelo) {
  Conversation c;
  c.server(kGreeting);
  EXPECT_EQ(c.server("421 4.3.2 shutting down\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_FALSE(c.s.failure().permanent);
}

TEST(ClientSession, EhloCapabilitiesAreParsed) {
  Conversation c;
  c.open(kEhloAll);
  const Capabilities& caps = c.s.capabilities();
  EXPECT_TRUE(caps.esmtp);
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.size);
  EXPECT_EQ(caps.size_limit, 1000u);
  EXPECT_TRUE(caps.eight_bit_mime);
  EXPECT_TRUE(caps.smtputf8);
  EXPECT_TRUE(caps.dsn);
  EXPECT_TRUE(caps.starttls);
  EXPECT_TRUE(caps.auth_plain);
  EXPECT_TRUE(caps.auth_login);
}

TEST(ClientSession, EhloCapabilitiesAreCaseInsensitiveAndUnknownOnesIgnored) {
  Conversation c;
  c.open("250-mx.test hello\r\n250-pipelining\r\n250-X-UNKNOWN thing\r\n250-Size\r\n250 auth login cram-md5\r\n");
  const Capabilities& caps = c.s.capabilities();
  EXPECT_TRUE(caps.pipelining);
  EXPECT_TRUE(caps.size);
  EXPECT_EQ(caps.size_limit, 0u);  // SIZE without a number: no limit announced
  EXPECT_FALSE(caps.auth_plain);
  EXPECT_TRUE(caps.auth_login);
  EXPECT_FALSE(caps.eight_bit_mime);
  EXPECT_FALSE(caps.dsn);
  EXPECT_FALSE(caps.starttls);
}

TEST(ClientSession, EhloGreetingLineIsNotACapability) {
  Conversation c;
  c.open("250 PIPELINING\r\n");  // the first line is the server's name, whatever it says
  EXPECT_TRUE(c.s.capabilities().esmtp);
  EXPECT_FALSE(c.s.capabilities().pipelining);
}

TEST(ClientSession, LmtpGreetsWithLhloAndNeverHelo) {
  ClientOptions o = make_options();
  o.lmtp = true;
  Conversation c(o);
  EXPECT_EQ(c.server(kGreeting), "LHLO client.test\r\n");
  EXPECT_EQ(c.server("500 5.5.1 what\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().permanent);
}

// ---------------------------------------------------------------- STARTTLS

TEST(ClientSession, StartTlsWhenOfferedThenEhloAgain) {
  Conversation c(make_options(TlsPolicy::opportunistic));
  c.server(kGreeting);
  EXPECT_EQ(c.server(kEhloAll), "STARTTLS\r\n");
  EXPECT_EQ(c.s.state(), State::starttls);
  EXPECT_EQ(c.server("220 2.0.0 Ready to start TLS\r\n"), "");
  EXPECT_EQ(c.s.state(), State::tls_handshake);
  EXPECT_FALSE(c.s.tls_active());
  c.s.tls_started();
  EXPECT_TRUE(c.s.tls_active());
  EXPECT_EQ(c.s.state(), State::hello);
  EXPECT_EQ(c.s.take_output(), "EHLO client.test\r\n");
  // What the server said before TLS is forgotten (RFC 3207 §4.2).
  EXPECT_FALSE(c.s.capabilities().dsn);
  EXPECT_EQ(c.server(kEhloPipelining), "");
  EXPECT_EQ(c.s.state(), State::ready);
  EXPECT_TRUE(c.s.capabilities().pipelining);
  EXPECT_FALSE(c.s.capabilities().dsn);
  EXPECT_FALSE(c.s.capabilities().starttls);
}

TEST(ClientSession, StartTlsOfferedAgainAfterTlsIsNotTakenTwice) {
  Conversation c(make_options(TlsPolicy::required));
  c.server(kGreeting);
  EXPECT_EQ(c.server(kEhloAll), "STARTTLS\r\n");
  c.server("220 go ahead\r\n");
  c.s.tls_started();
  EXPECT_EQ(c.s.take_output(), "EHLO client.test\r\n");
  EXPECT_EQ(c.server("250-mx.test\r\n250 STARTTLS\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
}

TEST(ClientSession, TlsRequiredButStartTlsNotOfferedFails) {
  Conversation c(make_options(TlsPolicy::required));
  c.server(kGreeting);
  EXPECT_EQ(c.server(kEhloPipelining), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().tls);
  EXPECT_FALSE(c.s.failure().permanent);
}

TEST(ClientSession, TlsRequiredAfterHeloFallbackFails) {
  Conversation c(make_options(TlsPolicy::required));
  c.server(kGreeting);
  c.server("500 no EHLO\r\n");
  EXPECT_EQ(c.server("250 mx.test\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().tls);
}

TEST(ClientSession, OpportunisticStartTlsRefusedContinuesInPlaintext) {
  Conversation c(make_options(TlsPolicy::opportunistic));
  c.server(kGreeting);
  EXPECT_EQ(c.server(kEhloAll), "STARTTLS\r\n");
  EXPECT_EQ(c.server("454 4.7.0 TLS not available\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  EXPECT_FALSE(c.s.tls_active());
  // The capabilities of the plaintext EHLO stand.
  EXPECT_TRUE(c.s.capabilities().pipelining);
  const OutgoingMessage m = make_message({"a@example.net"});
  EXPECT_EQ(c.send(m),
            "MAIL FROM:<sender@example.org> SIZE=23\r\n"
            "RCPT TO:<a@example.net>\r\n"
            "DATA\r\n");
}

TEST(ClientSession, RequiredStartTlsRefusedFails) {
  Conversation c(make_options(TlsPolicy::required));
  c.server(kGreeting);
  c.server(kEhloAll);
  EXPECT_EQ(c.server("454 4.7.0 TLS not available\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().tls);
  EXPECT_NE(c.s.failure().text.find("454 4.7.0"), std::string::npos) << c.s.failure().text;
}

TEST(ClientSession, TlsPolicyNoneIgnoresStartTls) {
  Conversation c(make_options(TlsPolicy::none));
  c.open(kEhloAll);
  EXPECT_FALSE(c.s.tls_active());
}

TEST(ClientSession, ImplicitTlsSkipsStartTls) {
  ClientOptions o = make_options(TlsPolicy::required);
  o.tls_active = true;
  Conversation c(o);
  c.open(kEhloAll);
  EXPECT_TRUE(c.s.tls_active());
}

TEST(ClientSession, TlsHandshakeFailureFails) {
  Conversation c(make_options(TlsPolicy::opportunistic));
  c.server(kGreeting);
  c.server(kEhloAll);
  c.server("220 go ahead\r\n");
  c.s.tls_failed("certificate expired");
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().tls);
  EXPECT_NE(c.s.failure().text.find("certificate expired"), std::string::npos);
  EXPECT_EQ(c.s.take_output(), "");
}

// Bytes the server sent in plaintext after its 220 to STARTTLS must not be
// read as if they came over TLS (response injection, cf. CVE-2011-0411).
TEST(ClientSession, BytesAfterStartTlsReplyFailTheConnection) {
  Conversation c(make_options(TlsPolicy::opportunistic));
  c.server(kGreeting);
  c.server(kEhloAll);
  EXPECT_EQ(c.server("220 go ahead\r\n250-injected\r\n"), "");
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().tls);

  Conversation whole(make_options(TlsPolicy::opportunistic));
  whole.server(kGreeting);
  whole.server(kEhloAll);
  EXPECT_EQ(whole.server("220 go ahead\r\n250 fake reply\r\n"), "");
  EXPECT_EQ(whole.s.state(), State::failed);
}

// ---------------------------------------------------------------- AUTH

TEST(ClientSession, AuthPlainOverImplicitTls) {
  ClientOptions o = make_options();
  o.tls_active = true;
  o.auth_user = "user";
  o.auth_password = "pass";
  Conversation c(o);
  c.server(kGreeting);
  EXPECT_EQ(c.server(kEhloAll), "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");  // base64 of "\0user\0pass"
  EXPECT_EQ(c.s.state(), State::auth);
  EXPECT_EQ(c.server("235 2.7.0 Authentication successful\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
}

TEST(ClientSession, AuthOnlyOnceTlsIsActive) {
  ClientOptions o = make_options(TlsPolicy::opportunistic);
  o.auth_user = "user";
  o.auth_password = "pass";
  Conversation c(o);
  c.server(kGreeting);
  EXPECT_EQ(c.server(kEhloAll), "STARTTLS\r\n");
  c.server("220 go ahead\r\n");
  c.s.tls_started();
  EXPECT_EQ(c.s.take_output(), "EHLO client.test\r\n");
  EXPECT_EQ(c.server("250-mx.test\r\n250 AUTH PLAIN LOGIN\r\n"), "AUTH PLAIN AHVzZXIAcGFzcw==\r\n");
  EXPECT_EQ(c.server("235 2.7.0 OK\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
}

TEST(ClientSession, NoCredentialsInPlaintext) {
  ClientOptions o = make_options(TlsPolicy::none);
  o.auth_user = "user";
  o.auth_password = "pass";
  Conversation c(o);
  c.server(kGreeting);
  EXPECT_EQ(c.server(kEhloAll), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_TRUE(c.s.failure().tls);

  // STARTTLS refused: the opportunistic fallback to plaintext never carries a password.
  o.tls = TlsPolicy::opportunistic;
  Conversation refused(o);
  refused.server(kGreeting);
  refused.server(kEhloAll);
  EXPECT_EQ(refused.server("454 4.7.0 no TLS\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(refused.s.state(), State::failed);
  EXPECT_TRUE(refused.s.failure().tls);
}

TEST(ClientSession, AuthLoginFlow) {
  ClientOptions o = make_options();
  o.tls_active = true;
  o.auth_user = "user";
  o.auth_password = "pass";
  Conversation c(o);
  c.server(kGreeting);
  EXPECT_EQ(c.server("250-mx.test\r\n250 AUTH LOGIN\r\n"), "AUTH LOGIN\r\n");
  EXPECT_EQ(c.server("334 VXNlcm5hbWU6\r\n"), "dXNlcg==\r\n");
  EXPECT_EQ(c.s.state(), State::auth);
  EXPECT_EQ(c.server("334 UGFzc3dvcmQ6\r\n"), "cGFzcw==\r\n");
  EXPECT_EQ(c.server("235 2.7.0 OK\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
}

TEST(ClientSession, AuthRefusedFails) {
  ClientOptions o = make_options();
  o.tls_active = true;
  o.auth_user = "user";
  o.auth_password = "wrong";
  Conversation c(o);
  c.server(kGreeting);
  c.server(kEhloAll);
  EXPECT_EQ(c.server("535 5.7.8 Authentication credentials invalid\r\n"),
            "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_NE(c.s.failure().text.find("535 5.7.8"), std::string::npos) << c.s.failure().text;

  Conversation login(o);
  login.server(kGreeting);
  login.server("250-mx.test\r\n250 AUTH LOGIN\r\n");
  login.server("334 VXNlcm5hbWU6\r\n");
  login.server("334 UGFzc3dvcmQ6\r\n");
  EXPECT_EQ(login.server("535 5.7.8 no\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(login.s.state(), State::failed);
}

TEST(ClientSession, AuthWithoutAKnownMechanismFails) {
  ClientOptions o = make_options();
  o.tls_active = true;
  o.auth_user = "user";
  o.auth_password = "pass";
  Conversation c(o);
  c.server(kGreeting);
  EXPECT_EQ(c.server("250-mx.test\r\n250 AUTH CRAM-MD5\r\n"), "QUIT\r\n");  // the connection works: say goodbye
  EXPECT_EQ(c.s.state(), State::failed);
}

// ---------------------------------------------------------------- transactions

TEST(ClientSession, PipelinedTransaction) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net", "c@example.net"});
  EXPECT_EQ(c.send(m),
            "MAIL FROM:<sender@example.org> SIZE=23\r\n"
            "RCPT TO:<a@example.net>\r\n"
            "RCPT TO:<b@example.net>\r\n"
            "RCPT TO:<c@example.net>\r\n"
            "DATA\r\n");
  EXPECT_EQ(c.s.state(), State::transaction);
  EXPECT_EQ(c.server("250 2.1.0 OK\r\n"), "");
  EXPECT_EQ(c.server("250 2.1.5 OK\r\n550 5.1.1 <b@example.net>: no such user\r\n250 2.1.5 OK\r\n"), "");
  EXPECT_EQ(c.s.timeout(), std::chrono::minutes(2));  // waiting for the 354
  EXPECT_EQ(c.server("354 go ahead\r\n"), kContent + ".\r\n");
  EXPECT_EQ(c.s.timeout(), std::chrono::minutes(10));  // waiting for the final reply
  EXPECT_FALSE(c.s.result());
  EXPECT_EQ(c.server("250 2.0.0 queued as X\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{250, 550, 250}));
  EXPECT_EQ(r->recipients[0].text(), "250 2.0.0 queued as X");
  EXPECT_EQ(r->recipients[1].text(), "550 5.1.1 <b@example.net>: no such user");
  EXPECT_EQ(r->recipients[1].enhanced(), "5.1.1");
  EXPECT_FALSE(r->dsn_passed_on);
  EXPECT_FALSE(c.s.result());  // once
}

TEST(ClientSession, PipelinedRepliesInOneRead) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net"});
  c.send(m);
  EXPECT_EQ(c.server("250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n"), kContent + ".\r\n");
  EXPECT_EQ(c.server("250 OK"), "");  // the final reply in pieces
  EXPECT_EQ(c.s.state(), State::transaction);
  c.server("\r\n");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{250, 250}));
}

TEST(ClientSession, NonPipelinedTransactionIsLockStep) {
  Conversation c;
  c.open(kEhloPlain);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net", "c@example.net"});
  EXPECT_EQ(c.send(m), "MAIL FROM:<sender@example.org>\r\n");
  EXPECT_EQ(c.server("250 OK\r\n"), "RCPT TO:<a@example.net>\r\n");
  EXPECT_EQ(c.server("250 OK\r\n"), "RCPT TO:<b@example.net>\r\n");
  EXPECT_EQ(c.server("550 5.1.1 no\r\n"), "RCPT TO:<c@example.net>\r\n");
  EXPECT_EQ(c.server("250 OK\r\n"), "DATA\r\n");
  EXPECT_EQ(c.server("354 go\r\n"), kContent + ".\r\n");
  EXPECT_EQ(c.server("250 2.0.0 OK\r\n"), "");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{250, 550, 250}));
}

TEST(ClientSession, MailTransientFailureGoesToEveryRecipient) {
  Conversation c;
  c.open(kEhloPlain);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net"});
  c.send(m);
  EXPECT_EQ(c.server("451 4.3.0 try later\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{451, 451}));
  EXPECT_EQ(r->recipients[1].text(), "451 4.3.0 try later");
  // No transaction is open: the next message needs no RSET.
  EXPECT_EQ(c.send(m), "MAIL FROM:<sender@example.org>\r\n");
}

TEST(ClientSession, PipelinedMailFailureGoesToEveryRecipient) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net"});
  c.send(m);
  EXPECT_EQ(c.server("452 4.3.1 out of space\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n"), "");
  EXPECT_EQ(c.s.state(), State::transaction);
  EXPECT_EQ(c.server("503 5.5.1 need RCPT\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{452, 452}));
  EXPECT_EQ(c.send(m).substr(0, 10), "MAIL FROM:");
}

TEST(ClientSession, DataRefusedGoesToAcceptedRecipients) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net", "c@example.net"});
  c.send(m);
  EXPECT_EQ(c.server("250 OK\r\n250 OK\r\n550 5.1.1 no\r\n250 OK\r\n554 5.7.1 not from you\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{554, 550, 554}));
  EXPECT_EQ(r->recipients[0].text(), "554 5.7.1 not from you");
}

TEST(ClientSession, FinalRefusalGoesToAcceptedRecipients) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net"});
  c.send(m);
  c.server("250 OK\r\n250 OK\r\n550 5.1.1 no\r\n354 go\r\n");
  EXPECT_EQ(c.server("552 5.3.4 too big after all\r\n"), "");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{552, 550}));
  EXPECT_EQ(c.send(m).substr(0, 10), "MAIL FROM:");  // the transaction is over: no RSET
}

TEST(ClientSession, AllRecipientsRefusedThenTheNextMessageBeginsWithRset) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net"});
  c.send(m);
  EXPECT_EQ(c.server("250 OK\r\n550 5.1.1 no\r\n551 5.1.6 moved\r\n554 5.5.1 no valid recipients\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{550, 551}));
  // MAIL was accepted: the server still holds that transaction.
  const OutgoingMessage next = make_message({"d@example.net"});
  EXPECT_EQ(c.send(next),
            "RSET\r\n"
            "MAIL FROM:<sender@example.org> SIZE=23\r\n"
            "RCPT TO:<d@example.net>\r\n"
            "DATA\r\n");
  EXPECT_EQ(c.server("250 2.0.0 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n"), kContent + ".\r\n");
  c.server("250 OK\r\n");
  r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{250}));
  EXPECT_EQ(c.send(next).substr(0, 10), "MAIL FROM:");
}

TEST(ClientSession, NonPipelinedAllRecipientsRefusedSendsNoData) {
  Conversation c;
  c.open(kEhloPlain);
  const OutgoingMessage m = make_message({"a@example.net"});
  c.send(m);
  c.server("250 OK\r\n");
  EXPECT_EQ(c.server("550 5.1.1 no\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{550}));
  EXPECT_EQ(c.send(m).substr(0, 6), "RSET\r\n");
}

TEST(ClientSession, DataAcceptedAfterEveryRecipientWasRefusedGetsNoContent) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net"});
  c.send(m);
  // A server that says 354 with no valid recipient (RFC 2920 §3.1 asks it not to).
  EXPECT_EQ(c.server("250 OK\r\n550 5.1.1 no\r\n354 go\r\n"), ".\r\n");
  EXPECT_EQ(c.server("554 5.5.1 no valid recipients\r\n"), "");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{550}));
}

// A 2xx or 3xx other than 354 to DATA is out of step: the content never left,
// so no recipient may count as delivered.
TEST(ClientSession, PositiveReplyToDataOtherThan354IsNotDelivery) {
  for (const char* reply : {"250 2.0.0 OK\r\n", "334 what\r\n"}) {
    Conversation c;
    c.open(kEhloPipelining);
    const OutgoingMessage m = make_message({"a@example.net", "b@example.net"});
    c.send(m);
    c.server("250 OK\r\n250 OK\r\n550 5.1.1 no\r\n");
    EXPECT_EQ(c.server(reply), "");
    auto r = c.s.result();
    ASSERT_TRUE(r) << reply;
    EXPECT_EQ(r->recipients[0].code / 100, 4) << reply << r->recipients[0].text();
    EXPECT_EQ(r->recipients[1].code, 550);
    EXPECT_EQ(c.s.state(), State::failed);
  }
}

TEST(ClientSession, TwoMessagesOnOneConnection) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage first = make_message({"a@example.net"});
  const OutgoingMessage second = make_message({"b@example.net", "c@example.net"}, "second\r\n");
  c.send(first);
  c.server("250 OK\r\n250 OK\r\n354 go\r\n");
  c.server("250 2.0.0 first\r\n");
  auto r1 = c.s.result();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->recipients.at(0).text(), "250 2.0.0 first");
  EXPECT_EQ(c.send(second),
            "MAIL FROM:<sender@example.org> SIZE=8\r\n"
            "RCPT TO:<b@example.net>\r\n"
            "RCPT TO:<c@example.net>\r\n"
            "DATA\r\n");
  EXPECT_EQ(c.server("250 OK\r\n250 OK\r\n450 4.2.1 later\r\n354 go\r\n"), "second\r\n.\r\n");
  c.server("250 2.0.0 second\r\n");
  auto r2 = c.s.result();
  ASSERT_TRUE(r2);
  EXPECT_EQ(codes(*r2), (std::vector<int>{250, 450}));
  EXPECT_EQ(r2->recipients[0].text(), "250 2.0.0 second");
}

TEST(ClientSession, MessageWithoutRecipientsEndsAfterMail) {
  Conversation c;
  c.open(kEhloPlain);
  const OutgoingMessage m = make_message({});
  EXPECT_EQ(c.send(m), "MAIL FROM:<sender@example.org>\r\n");
  EXPECT_EQ(c.server("250 OK\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->recipients.empty());
  EXPECT_EQ(c.send(make_message({"a@example.net"})).substr(0, 6), "RSET\r\n");
}

TEST(ClientSession, NullReversePath) {
  Conversation c;
  c.open(kEhloPlain);
  OutgoingMessage m = make_message({"a@example.net"});
  m.sender.clear();
  EXPECT_EQ(c.send(m), "MAIL FROM:<>\r\n");
}

// ---------------------------------------------------------------- LMTP

TEST(ClientSession, LmtpGivesEachAcceptedRecipientItsOwnFinalReply) {
  ClientOptions o = make_options();
  o.lmtp = true;
  Conversation c(o);
  c.open("250-store.test\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250 8BITMIME\r\n");
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net", "c@example.net"});
  EXPECT_EQ(c.send(m),
            "MAIL FROM:<sender@example.org>\r\n"
            "RCPT TO:<a@example.net>\r\n"
            "RCPT TO:<b@example.net>\r\n"
            "RCPT TO:<c@example.net>\r\n"
            "DATA\r\n");
  EXPECT_EQ(c.server("250 OK\r\n250 OK\r\n550 5.1.1 no such user\r\n250 OK\r\n354 go\r\n"), kContent + ".\r\n");
  EXPECT_EQ(c.server("250 2.0.0 <a@example.net> delivered\r\n"), "");
  EXPECT_EQ(c.s.state(), State::transaction);
  EXPECT_FALSE(c.s.result());
  EXPECT_EQ(c.server("452 4.2.2 <c@example.net> over quota\r\n"), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{250, 550, 452}));
  EXPECT_EQ(r->recipients[0].text(), "250 2.0.0 <a@example.net> delivered");
  EXPECT_EQ(r->recipients[2].text(), "452 4.2.2 <c@example.net> over quota");
}

TEST(ClientSession, LmtpWithoutPipeliningIsLockStep) {
  ClientOptions o = make_options();
  o.lmtp = true;
  Conversation c(o);
  c.open("250 store.test\r\n");
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net"});
  EXPECT_EQ(c.send(m), "MAIL FROM:<sender@example.org>\r\n");
  EXPECT_EQ(c.server("250 OK\r\n"), "RCPT TO:<a@example.net>\r\n");
  EXPECT_EQ(c.server("250 OK\r\n"), "RCPT TO:<b@example.net>\r\n");
  EXPECT_EQ(c.server("250 OK\r\n"), "DATA\r\n");
  EXPECT_EQ(c.server("354 go\r\n"), kContent + ".\r\n");
  EXPECT_EQ(c.server("250 2.0.0 a ok\r\n450 4.2.0 b later\r\n"), "");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{250, 450}));
}

// ---------------------------------------------------------------- what the server can take

TEST(ClientSession, EightBitContentWithout8BitMimeIsRefusedUnsent) {
  Conversation c;
  c.open("250-mx.test\r\n250 PIPELINING\r\n");
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net"}, "Subject: caf\xc3\xa9\r\n\r\nx\r\n");
  EXPECT_EQ(c.send(m), "");
  EXPECT_EQ(c.s.state(), State::ready);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{554, 554}));
  EXPECT_EQ(r->recipients[0].enhanced(), "5.6.3");

  // Declared 8BITMIME counts even when the bytes are 7-bit.
  OutgoingMessage declared = make_message({"a@example.net"});
  declared.body = BodyType::eight_bit_mime;
  EXPECT_EQ(c.send(declared), "");
  r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients.at(0).code, 554);
}

TEST(ClientSession, EightBitContentWith8BitMimeIsDeclared) {
  Conversation c;
  c.open(kEhloPlain);
  const OutgoingMessage m = make_message({"a@example.net"}, "caf\xc3\xa9\r\n");
  EXPECT_EQ(c.send(m), "MAIL FROM:<sender@example.org> BODY=8BITMIME\r\n");
}

TEST(ClientSession, SmtpUtf8WithoutServerSupportIsRefusedUnsent) {
  Conversation c;
  c.open(kEhloPipelining);
  OutgoingMessage m = make_message({"a@example.net"});
  m.smtputf8 = true;
  EXPECT_EQ(c.send(m), "");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients.at(0).code, 553);
  EXPECT_EQ(r->recipients.at(0).enhanced(), "5.6.7");
  EXPECT_EQ(c.s.state(), State::ready);

  Conversation utf8;
  utf8.open("250-mx.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n");
  m.sender = "s\xc3\xb8@example.org";
  EXPECT_EQ(utf8.send(m), "MAIL FROM:<s\xc3\xb8@example.org> SMTPUTF8\r\n");
}

TEST(ClientSession, MessageOverTheSizeLimitIsRefusedUnsent) {
  Conversation c;
  c.open(kEhloPipelining);  // SIZE 1000
  const std::string big(1001, 'x');
  const OutgoingMessage m = make_message({"a@example.net"}, big);
  EXPECT_EQ(c.send(m), "");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients.at(0).code, 552);
  EXPECT_EQ(r->recipients.at(0).enhanced(), "5.3.4");

  const std::string fits(1000, 'x');
  const OutgoingMessage ok = make_message({"a@example.net"}, fits);
  EXPECT_EQ(c.send(ok).substr(0, 40), "MAIL FROM:<sender@example.org> SIZE=1000");
}

TEST(ClientSession, DsnParametersOnlyWhenAdvertised) {
  OutgoingMessage m = make_message({"a@b", "c@d"});
  m.ret = Ret::hdrs;
  m.envid = "x";
  m.recipients[0].notify = notify::success | notify::failure;
  m.recipients[0].orcpt = "rfc822;a@b";
  m.recipients[1].notify = notify::never;

  Conversation dsn;
  dsn.open("250-mx.test\r\n250-PIPELINING\r\n250 DSN\r\n");
  EXPECT_EQ(dsn.send(m),
            "MAIL FROM:<sender@example.org> RET=HDRS ENVID=x\r\n"
            "RCPT TO:<a@b> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a@b\r\n"
            "RCPT TO:<c@d> NOTIFY=NEVER\r\n"
            "DATA\r\n");
  dsn.server("250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n250 OK\r\n");
  auto r = dsn.s.result();
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->dsn_passed_on);

  Conversation plain;
  plain.open(kEhloPipelining);
  EXPECT_EQ(plain.send(m),
            "MAIL FROM:<sender@example.org> SIZE=23\r\n"
            "RCPT TO:<a@b>\r\n"
            "RCPT TO:<c@d>\r\n"
            "DATA\r\n");
  plain.server("250 OK\r\n250 OK\r\n250 OK\r\n354 go\r\n250 OK\r\n");
  r = plain.s.result();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->dsn_passed_on);
}

TEST(ClientSession, DsnRetFullAndDelay) {
  OutgoingMessage m = make_message({"a@b"});
  m.ret = Ret::full;
  m.recipients[0].notify = notify::delay;
  Conversation c;
  c.open("250-mx.test\r\n250 DSN\r\n");
  EXPECT_EQ(c.send(m), "MAIL FROM:<sender@example.org> RET=FULL\r\n");
  EXPECT_EQ(c.server("250 OK\r\n"), "RCPT TO:<a@b> NOTIFY=DELAY\r\n");
}

// ---------------------------------------------------------------- lost connections, QUIT, bad replies

TEST(ClientSession, ConnectionLostMidTransactionDefersRecipientsWithoutFinalReply) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net", "c@example.net"});
  c.send(m);
  c.server("250 OK\r\n250 OK\r\n550 5.1.1 no\r\n250 OK\r\n354 go\r\n");
  c.s.connection_lost("reset by peer");
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_FALSE(c.s.failure().permanent);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{421, 550, 421}));
  EXPECT_EQ(r->recipients[0].enhanced(), "4.4.2");
  EXPECT_NE(r->recipients[0].text().find("reset by peer"), std::string::npos);
}

TEST(ClientSession, ConnectionLostBeforeAnyReplyDefersEveryRecipient) {
  Conversation c;
  c.open(kEhloPipelining);
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net"});
  c.send(m);
  c.s.connection_lost("timeout");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{421, 421}));
  EXPECT_EQ(r->recipients[1].text(), "421 4.4.2 connection lost: timeout");
}

TEST(ClientSession, ConnectionLostWhileIdleGivesNoResult) {
  Conversation c;
  c.open(kEhloPipelining);
  c.s.connection_lost("closed");
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_FALSE(c.s.result());
  EXPECT_EQ(c.s.failure().text, "closed");
}

TEST(ClientSession, LmtpConnectionLostKeepsFinalRepliesAlreadyGiven) {
  ClientOptions o = make_options();
  o.lmtp = true;
  Conversation c(o);
  c.open("250-store.test\r\n250 PIPELINING\r\n");
  const OutgoingMessage m = make_message({"a@example.net", "b@example.net", "c@example.net"});
  c.send(m);
  c.server("250 OK\r\n250 OK\r\n550 5.1.1 no\r\n250 OK\r\n354 go\r\n");
  c.server("250 2.0.0 <a@example.net> delivered\r\n");
  c.s.connection_lost("closed");
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(codes(*r), (std::vector<int>{250, 550, 421}));
  EXPECT_EQ(r->recipients[0].text(), "250 2.0.0 <a@example.net> delivered");
}

TEST(ClientSession, QuitThen221IsDone) {
  Conversation c;
  c.open(kEhloPipelining);
  c.s.quit();
  EXPECT_EQ(c.s.state(), State::quitting);
  EXPECT_EQ(c.s.take_output(), "QUIT\r\n");
  EXPECT_EQ(c.server("221 2.0.0 Bye\r\n"), "");
  EXPECT_EQ(c.s.state(), State::done);
  c.s.connection_lost("closed");  // the server closes after 221: nothing changes
  EXPECT_EQ(c.s.state(), State::done);
}

TEST(ClientSession, UnexpectedReplyFails) {
  Conversation c;
  c.open(kEhloPipelining);
  EXPECT_EQ(c.server("250 nobody asked\r\n"), "");
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_NE(c.s.failure().text.find("250 nobody asked"), std::string::npos) << c.s.failure().text;
  // Nothing more happens once failed.
  EXPECT_EQ(c.server("220 again\r\n"), "");
  EXPECT_EQ(c.s.state(), State::failed);
}

TEST(ClientSession, UnexpectedReplyMidTransactionDefersRecipients) {
  Conversation c;
  c.open(kEhloPlain);
  const OutgoingMessage m = make_message({"a@example.net"});
  c.send(m);
  c.server("250 OK\r\n");
  EXPECT_EQ(c.server("250 OK\r\n250 extra\r\n"), "DATA\r\n");
  EXPECT_EQ(c.s.state(), State::failed);
  auto r = c.s.result();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->recipients.at(0).code, 421);
}

TEST(ClientSession, MalformedReplyFails) {
  Conversation c;
  c.server(kGreeting);
  EXPECT_EQ(c.server("hello there\r\n"), "");
  EXPECT_EQ(c.s.state(), State::failed);
  EXPECT_FALSE(c.s.failure().permanent);
}

TEST(ClientSession, Timeouts) {
  Conversation c;
  EXPECT_EQ(c.s.timeout(), std::chrono::minutes(5));
  c.server(kGreeting);
  EXPECT_EQ(c.s.timeout(), std::chrono::minutes(5));
}

// ---------------------------------------------------------------- encode_data

TEST(EncodeData, DotStuffsLinesThatStartWithADot) {
  EXPECT_EQ(encode_data(".hidden\r\n..two\r\nmid.dot.\r\n.\r\n"), "..hidden\r\n...two\r\nmid.dot.\r\n..\r\n.\r\n");
}

TEST(EncodeData, BareLfAndBareCrBecomeCrlf) {
  EXPECT_EQ(encode_data("a\nb\rc\r\nd\n"), "a\r\nb\r\nc\r\nd\r\n.\r\n");
  EXPECT_EQ(encode_data("a\r\r\nb\n\rc\r\n"), "a\r\n\r\nb\r\n\r\nc\r\n.\r\n");
}

TEST(EncodeData, BareLineEndsCannotSmuggleAnEndOfData) {
  EXPECT_EQ(encode_data("a\n.\nMAIL FROM:<x>\r\n"), "a\r\n..\r\nMAIL FROM:<x>\r\n.\r\n");
  EXPECT_EQ(encode_data("a\r.\rb"), "a\r\n..\r\nb\r\n.\r\n");
  EXPECT_EQ(encode_data("a\r\n.\nb"), "a\r\n..\r\nb\r\n.\r\n");
}

TEST(EncodeData, MissingFinalCrlfIsAdded) {
  EXPECT_EQ(encode_data("no end"), "no end\r\n.\r\n");
  EXPECT_EQ(encode_data("x\r"), "x\r\n.\r\n");
  EXPECT_EQ(encode_data("."), "..\r\n.\r\n");
}

TEST(EncodeData, EndsWithTheTerminator) {
  EXPECT_EQ(encode_data("Subject: x\r\n\r\nbody\r\n"), "Subject: x\r\n\r\nbody\r\n.\r\n");
}

TEST(EncodeData, EmptyContentIsOnlyTheTerminator) {
  EXPECT_EQ(encode_data(""), ".\r\n");
  EXPECT_EQ(encode_data("\r\n"), "\r\n.\r\n");
}

TEST(EncodeData, RandomContentHasOnlyCrlfAndOneTerminator) {
  std::mt19937 random(20240601);
  const char alphabet[] = {'\r', '\n', '.', 'a', ' ', '\0', '\xff'};
  for (int round = 0; round < 2000; ++round) {
    std::string content(random() % 40, 'a');
    for (auto& ch : content) ch = alphabet[random() % sizeof alphabet];
    const std::string out = encode_data(content);
    ASSERT_GE(out.size(), 3u);
    ASSERT_EQ(out.substr(out.size() - 3), ".\r\n") << ::testing::PrintToString(content);
    // The terminator appears once, at the very end.
    const auto end = ("\r\n" + out).find("\r\n.\r\n");
    ASSERT_EQ(end, out.size() - 3) << ::testing::PrintToString(content);
    for (std::size_t i = 0; i < out.size(); ++i) {
      if (out[i] == '\r') {
        ASSERT_TRUE(i + 1 < out.size() && out[i + 1] == '\n') << ::testing::PrintToString(content);
      }
      if (out[i] == '\n') {
        ASSERT_TRUE(i > 0 && out[i - 1] == '\r') << ::testing::PrintToString(content);
      }
    }
  }
}

}  // namespace
}  // namespace poshta::smtp
