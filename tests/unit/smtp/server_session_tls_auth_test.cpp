// smtp/server_session: STARTTLS (RFC 3207), AUTH (RFC 4954) and the
// submission rules built on them (sender check, relay permission); every
// test checks the reply lines a client would read.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sasl.hpp"
#include "smtp/server_session.hpp"
#include "unit/smtp/session_client.hpp"

namespace poshta::smtp {
namespace {

using namespace std::string_literals;

const std::string kReadyForTls = "220 2.0.0 Ready to start TLS\r\n";
const std::string kUsernameChallenge = "334 VXNlcm5hbWU6\r\n";  // "Username:"
const std::string kPasswordChallenge = "334 UGFzc3dvcmQ6\r\n";  // "Password:"

using testing::Client;
using testing::lines_of;
using testing::make_config;

// Submission as on port 587: STARTTLS offered, plaintext at first.
SessionConfig submission_starttls() {
  SessionConfig c = make_config(Flavor::submission);
  c.starttls = true;
  return c;
}

// Submission inside TLS from the start (or after the handshake).
SessionConfig submission_tls() {
  SessionConfig c = make_config(Flavor::submission);
  c.tls_active = true;
  return c;
}

std::string plain_ir(std::string_view user, std::string_view password) {
  return auth::base64_encode("\0"s + std::string(user) + "\0"s + std::string(password));
}

// EHLO and a successful AUTH PLAIN as you@x.
void login(Client& c) {
  c.send("EHLO client.test\r\n");
  ASSERT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "secret") + "\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  ASSERT_EQ(c.s.request().kind, Request::Kind::auth);
  ASSERT_EQ(c.answer_auth(true, "you@x").substr(0, 10), "235 2.7.0 ");
  ASSERT_EQ(c.s.authenticated_user(), "you@x");
}

// The EHLO keywords (every line after the first, without "250-"/"250 ").
std::vector<std::string> ehlo_keywords(std::string_view reply) {
  std::vector<std::string> out;
  const auto lines = lines_of(reply);
  for (std::size_t i = 1; i < lines.size(); ++i) out.push_back(lines[i].substr(4));
  return out;
}

bool offers(const std::vector<std::string>& keywords, std::string_view prefix) {
  return std::any_of(keywords.begin(), keywords.end(),
                     [&](const std::string& k) { return k.compare(0, prefix.size(), prefix) == 0; });
}

bool has(const std::vector<std::string>& keywords, std::string_view exact) {
  return std::find(keywords.begin(), keywords.end(), exact) != keywords.end();
}

// ---------------------------------------------------------------- EHLO

TEST(ServerSessionTlsAuth, EhloOffersStarttlsWhenConfiguredAndNotActive) {
  Client c(submission_starttls());
  const std::string out = c.send("EHLO client.test\r\n");
  ASSERT_EQ(out.substr(0, 4), "250-") << out;
  const auto k = ehlo_keywords(out);
  EXPECT_TRUE(has(k, "STARTTLS")) << out;
  EXPECT_FALSE(offers(k, "AUTH")) << "AUTH offered before TLS:\n" << out;

  SessionConfig smtp = make_config();
  smtp.starttls = true;
  Client d(smtp);
  EXPECT_TRUE(has(ehlo_keywords(d.send("EHLO client.test\r\n")), "STARTTLS"));
}

TEST(ServerSessionTlsAuth, EhloDoesNotOfferStarttlsWithoutATlsContext) {
  Client c(make_config(Flavor::submission));
  const auto k = ehlo_keywords(c.send("EHLO client.test\r\n"));
  EXPECT_FALSE(offers(k, "STARTTLS"));
  EXPECT_FALSE(offers(k, "AUTH"));
  Client d;
  EXPECT_FALSE(offers(ehlo_keywords(d.send("EHLO client.test\r\n")), "STARTTLS"));
}

TEST(ServerSessionTlsAuth, EhloInsideImplicitTlsOffersAuthAndNotStarttls) {
  SessionConfig config = submission_tls();
  config.starttls = true;
  Client c(config);
  const std::string out = c.send("EHLO client.test\r\n");
  const auto k = ehlo_keywords(out);
  EXPECT_FALSE(offers(k, "STARTTLS")) << out;
  EXPECT_TRUE(has(k, "AUTH PLAIN LOGIN")) << out;
  EXPECT_EQ(std::count_if(k.begin(), k.end(), [](const std::string& s) { return s.rfind("AUTH", 0) == 0; }), 1) << out;
  EXPECT_EQ(lines_of(out).back().substr(0, 4), "250 ") << out;
}

TEST(ServerSessionTlsAuth, SmtpFlavorNeverOffersAuth) {
  SessionConfig config = make_config();
  config.tls_active = true;
  Client c(config);
  const std::string out = c.send("EHLO client.test\r\n");
  EXPECT_FALSE(offers(ehlo_keywords(out), "AUTH")) << out;

  SessionConfig starttls = make_config();
  starttls.starttls = true;
  Client d(starttls);
  d.send("EHLO client.test\r\n");
  ASSERT_EQ(d.send("STARTTLS\r\n"), kReadyForTls);
  d.s.tls_started();
  const std::string after = d.send("EHLO client.test\r\n");
  EXPECT_FALSE(offers(ehlo_keywords(after), "AUTH")) << after;
}

// ---------------------------------------------------------------- STARTTLS

TEST(ServerSessionTlsAuth, StarttlsReplies220AndWantsTls) {
  Client c(submission_starttls());
  c.send("EHLO client.test\r\n");
  EXPECT_FALSE(c.s.wants_tls());
  EXPECT_EQ(c.send("STARTTLS\r\n"), kReadyForTls);
  EXPECT_TRUE(c.s.wants_tls());
  EXPECT_FALSE(c.s.tls_active());
  EXPECT_FALSE(c.s.closing());
}

TEST(ServerSessionTlsAuth, BytesPipelinedAfterStarttlsGetNoReply) {
  Client c(submission_starttls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("STARTTLS\r\nMAIL FROM:<a@b>\r\n"), kReadyForTls);
  EXPECT_TRUE(c.s.wants_tls());
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.busy());
  // Whatever else arrives before the handshake is not answered either.
  EXPECT_EQ(c.send("NOOP\r\n"), "");
  c.s.tls_started();
  EXPECT_EQ(c.s.take_output(), "");
  EXPECT_EQ(c.s.buffered(), 0u);
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSessionTlsAuth, PipelinedEhloAfterStarttlsIsNotTakenAsTheNewGreeting) {
  SessionConfig config = make_config();
  config.starttls = true;
  Client c(config);
  const std::string out = c.send("EHLO client.test\r\nSTARTTLS\r\nEHLO evil.test\r\nMAIL FROM:<a@b>\r\n");
  const auto lines = lines_of(out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back() + "\r\n", kReadyForTls) << out;
  EXPECT_EQ(std::count_if(lines.begin(), lines.end(), [](const std::string& l) { return l.rfind("250 ", 0) == 0; }), 1)
      << "exactly one EHLO answered:\n"
      << out;
  c.s.tls_started();
  EXPECT_EQ(c.s.helo_name(), "");
  EXPECT_EQ(c.send("MAIL FROM:<a@b>\r\n"), "503 5.5.1 Send HELO or EHLO first\r\n");
}

TEST(ServerSessionTlsAuth, AfterTlsStartedTheClientMustEhloAgain) {
  SessionConfig config = make_config();
  config.starttls = true;
  Client c(config);
  c.send("EHLO client.test\r\n");
  ASSERT_EQ(c.send("STARTTLS\r\n"), kReadyForTls);
  c.s.tls_started();
  EXPECT_FALSE(c.s.wants_tls());
  EXPECT_TRUE(c.s.tls_active());
  EXPECT_EQ(c.s.helo_name(), "");
  EXPECT_FALSE(c.s.esmtp());
  EXPECT_EQ(c.send("MAIL FROM:<a@b>\r\n"), "503 5.5.1 Send HELO or EHLO first\r\n");

  const std::string ehlo = c.send("EHLO client.test\r\n");
  EXPECT_EQ(ehlo.substr(0, 4), "250-") << ehlo;
  EXPECT_FALSE(offers(ehlo_keywords(ehlo), "STARTTLS")) << "STARTTLS offered again:\n" << ehlo;
  EXPECT_EQ(c.send("MAIL FROM:<a@b>\r\n"), "250 2.1.0 Sender <a@b> OK\r\n");
}

TEST(ServerSessionTlsAuth, TlsStartedForgetsTheOpenTransaction) {
  SessionConfig config = make_config();
  config.starttls = true;
  Client c(config);
  c.send("EHLO client.test\r\n");
  ASSERT_EQ(c.send("MAIL FROM:<a@b>\r\n"), "250 2.1.0 Sender <a@b> OK\r\n");
  ASSERT_EQ(c.send("STARTTLS\r\n"), kReadyForTls);
  c.s.tls_started();
  EXPECT_FALSE(c.s.busy());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("RCPT TO:<u@mx.test>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
}

TEST(ServerSessionTlsAuth, StarttlsWithArgumentsIs501) {
  Client c(submission_starttls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("STARTTLS now\r\n"), "501 5.5.4 Syntax: STARTTLS\r\n");
  EXPECT_FALSE(c.s.wants_tls());
  EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSessionTlsAuth, StarttlsWhenTlsIsActiveIs503) {
  SessionConfig implicit = submission_tls();
  implicit.starttls = true;
  Client c(implicit);
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("STARTTLS\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_FALSE(c.s.wants_tls());

  Client d(submission_starttls());
  d.send("EHLO client.test\r\n");
  ASSERT_EQ(d.send("STARTTLS\r\n"), kReadyForTls);
  d.s.tls_started();
  d.send("EHLO client.test\r\n");
  EXPECT_EQ(d.send("STARTTLS\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_FALSE(d.s.wants_tls());
}

TEST(ServerSessionTlsAuth, StarttlsNotOfferedIs502) {
  Client c(make_config(Flavor::submission));
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("STARTTLS\r\n"), "502 5.5.1 STARTTLS is not offered by this server\r\n");
  EXPECT_FALSE(c.s.wants_tls());
  EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

// ---------------------------------------------------------------- AUTH: when it is allowed

TEST(ServerSessionTlsAuth, AuthBeforeTlsOnSubmissionIs538) {
  Client c(submission_starttls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "secret") + "\r\n").substr(0, 11), "538 5.7.11 ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.send("AUTH LOGIN\r\n").substr(0, 11), "538 5.7.11 ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.s.authenticated_user(), "");
}

TEST(ServerSessionTlsAuth, AuthOnSmtpFlavorIs502EvenOverTls) {
  SessionConfig config = make_config();
  config.tls_active = true;
  Client c(config);
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "secret") + "\r\n").substr(0, 10), "502 5.5.1 ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.s.authenticated_user(), "");
}

TEST(ServerSessionTlsAuth, AuthBeforeEhloIs503) {
  Client c(submission_tls());
  EXPECT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "secret") + "\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSessionTlsAuth, UnknownMechanismIs504) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("AUTH CRAM-MD5\r\n").substr(0, 10), "504 5.5.4 ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSessionTlsAuth, AuthWithoutMechanismIs501) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("AUTH\r\n").substr(0, 4), "501 ");
  EXPECT_FALSE(c.s.paused());
}

// ---------------------------------------------------------------- AUTH: the exchange

TEST(ServerSessionTlsAuth, AuthPlainWithInitialResponseMakesAnAuthRequestAndPauses) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("AUTH PLAIN " + plain_ir("You@X", "s3cret pw") + "\r\nNOOP\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::auth);
  EXPECT_EQ(c.s.request().address, "You@X");
  EXPECT_EQ(c.s.request().password, "s3cret pw");
  EXPECT_EQ(c.s.buffered(), 6u);  // the pipelined NOOP waits
  EXPECT_EQ(c.s.authenticated_user(), "");
}

TEST(ServerSessionTlsAuth, SuccessfulAuthIs235AndRecordsTheCanonicalUser) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  ASSERT_EQ(c.send("AUTH PLAIN " + plain_ir("You@X", "secret") + "\r\nNOOP\r\n"), "");
  const std::string out = c.answer_auth(true, "you@x");
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_EQ(lines[0].substr(0, 10), "235 2.7.0 ");
  EXPECT_EQ(lines[1], "250 2.0.0 OK");
  EXPECT_EQ(c.s.authenticated_user(), "you@x");
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSessionTlsAuth, RefusedAuthIs535AndTheClientMayTryAgain) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  ASSERT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "wrong") + "\r\n"), "");
  EXPECT_EQ(c.answer_auth(false, "").substr(0, 10), "535 5.7.8 ");
  EXPECT_EQ(c.s.authenticated_user(), "");
  EXPECT_FALSE(c.s.closing());
  ASSERT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "secret") + "\r\n"), "");
  EXPECT_EQ(c.answer_auth(true, "you@x").substr(0, 10), "235 2.7.0 ");
  EXPECT_EQ(c.s.authenticated_user(), "you@x");
}

TEST(ServerSessionTlsAuth, TooManyAuthFailuresGet535Then421AndClose) {
  Client c(submission_tls());  // max_auth_failures = 3
  c.send("EHLO client.test\r\n");
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "wrong") + "\r\n"), "");
    EXPECT_EQ(c.answer_auth(false, "").substr(0, 10), "535 5.7.8 ") << "attempt " << i + 1;
    EXPECT_FALSE(c.s.closing()) << "attempt " << i + 1;
  }
  ASSERT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "wrong") + "\r\nNOOP\r\n"), "");
  const std::string out = c.answer_auth(false, "");
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_EQ(lines[0].substr(0, 10), "535 5.7.8 ");
  EXPECT_EQ(lines[1].substr(0, 4), "421 ");
  EXPECT_TRUE(c.s.closing());
  EXPECT_EQ(c.send("NOOP\r\n"), "");
}

TEST(ServerSessionTlsAuth, AuthFailureLimitIsConfigurable) {
  SessionConfig config = submission_tls();
  config.max_auth_failures = 1;
  Client c(config);
  c.send("EHLO client.test\r\n");
  ASSERT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "wrong") + "\r\n"), "");
  const auto lines = lines_of(c.answer_auth(false, ""));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(0, 10), "535 5.7.8 ");
  EXPECT_EQ(lines[1].substr(0, 4), "421 ");
  EXPECT_TRUE(c.s.closing());
}

TEST(ServerSessionTlsAuth, AuthPlainWithoutInitialResponseSendsAnEmptyChallenge) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("AUTH PLAIN\r\n"), "334 \r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_TRUE(c.s.in_data());  // the next line belongs to the exchange
  EXPECT_EQ(c.send(plain_ir("you@x", "secret") + "\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::auth);
  EXPECT_EQ(c.s.request().address, "you@x");
  EXPECT_EQ(c.s.request().password, "secret");
}

TEST(ServerSessionTlsAuth, AuthLoginIsATwoStepExchange) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("AUTH LOGIN\r\n"), kUsernameChallenge);
  EXPECT_EQ(c.send(auth::base64_encode("you@x") + "\r\n"), kPasswordChallenge);
  EXPECT_EQ(c.send(auth::base64_encode("secret") + "\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::auth);
  EXPECT_EQ(c.s.request().address, "you@x");
  EXPECT_EQ(c.s.request().password, "secret");
  EXPECT_EQ(c.answer_auth(true, "you@x").substr(0, 10), "235 2.7.0 ");
  EXPECT_EQ(c.s.authenticated_user(), "you@x");
}

TEST(ServerSessionTlsAuth, AuthLoginWithInitialResponseSkipsTheUsernameChallenge) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("AUTH LOGIN " + auth::base64_encode("you@x") + "\r\n"), kPasswordChallenge);
  EXPECT_EQ(c.send(auth::base64_encode("secret") + "\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().address, "you@x");
  EXPECT_EQ(c.s.request().password, "secret");
}

TEST(ServerSessionTlsAuth, StarCancelsTheExchangeWith501) {
  {
    Client c(submission_tls());
    c.send("EHLO client.test\r\n");
    ASSERT_EQ(c.send("AUTH PLAIN\r\n"), "334 \r\n");
    EXPECT_EQ(c.send("*\r\n").substr(0, 4), "501 ");
    EXPECT_FALSE(c.s.paused());
    EXPECT_FALSE(c.s.in_data());
    EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
  }
  {
    Client c(submission_tls());
    c.send("EHLO client.test\r\n");
    ASSERT_EQ(c.send("AUTH LOGIN\r\n"), kUsernameChallenge);
    EXPECT_EQ(c.send("*\r\n").substr(0, 4), "501 ");
    EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
  }
  {
    Client c(submission_tls());
    c.send("EHLO client.test\r\n");
    ASSERT_EQ(c.send("AUTH LOGIN\r\n"), kUsernameChallenge);
    ASSERT_EQ(c.send(auth::base64_encode("you@x") + "\r\n"), kPasswordChallenge);
    EXPECT_EQ(c.send("*\r\n").substr(0, 4), "501 ");
    EXPECT_FALSE(c.s.paused());
    EXPECT_EQ(c.s.authenticated_user(), "");
    EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
  }
}

TEST(ServerSessionTlsAuth, BadBase64IsA501WithStatus552) {
  {
    Client c(submission_tls());
    c.send("EHLO client.test\r\n");
    EXPECT_EQ(c.send("AUTH PLAIN AHlvdUB4AHNlY3JldA\r\n").substr(0, 10), "501 5.5.2 ");  // padding missing
    EXPECT_FALSE(c.s.paused());
    EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
  }
  {
    Client c(submission_tls());
    c.send("EHLO client.test\r\n");
    ASSERT_EQ(c.send("AUTH LOGIN\r\n"), kUsernameChallenge);
    EXPECT_EQ(c.send("not base64!\r\n").substr(0, 10), "501 5.5.2 ");
    EXPECT_FALSE(c.s.paused());
    EXPECT_FALSE(c.s.in_data());
    EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
  }
}

TEST(ServerSessionTlsAuth, AuthAfterSuccessIs503) {
  Client c(submission_tls());
  login(c);
  EXPECT_EQ(c.send("AUTH PLAIN " + plain_ir("other@x", "secret") + "\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.s.authenticated_user(), "you@x");
}

TEST(ServerSessionTlsAuth, AuthDuringATransactionIs503) {
  Client c(submission_tls());
  login(c);
  ASSERT_EQ(c.send("MAIL FROM:<you@x>\r\n"), "");
  ASSERT_EQ(c.answer_sender({250, "2.1.0", "Sender <you@x> OK"}), "250 2.1.0 Sender <you@x> OK\r\n");
  ASSERT_TRUE(c.s.busy());
  EXPECT_EQ(c.send("AUTH PLAIN " + plain_ir("you@x", "secret") + "\r\n").substr(0, 10), "503 5.5.1 ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_TRUE(c.s.busy());
  EXPECT_EQ(c.s.transaction().mail.address, "you@x");
}

// ---------------------------------------------------------------- submission: sender and relay

TEST(ServerSessionTlsAuth, SubmissionMailBeforeAuthIs530) {
  Client c(submission_tls());
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<you@x>\r\n").substr(0, 10), "530 5.7.0 ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.busy());
  EXPECT_EQ(c.send("RCPT TO:<u@mx.test>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
}

TEST(ServerSessionTlsAuth, SubmissionMailAfterAuthMakesASenderRequest) {
  Client c(submission_tls());
  login(c);
  EXPECT_EQ(c.send("MAIL FROM:<you@x>\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::sender);
  EXPECT_EQ(c.s.request().address, "you@x");
  EXPECT_EQ(c.answer_sender({250, "2.1.0", "Sender <you@x> OK"}), "250 2.1.0 Sender <you@x> OK\r\n");
  EXPECT_TRUE(c.s.busy());
  EXPECT_EQ(c.s.transaction().mail.address, "you@x");
  EXPECT_EQ(c.send("RCPT TO:<friend@remote.example>\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::recipient);
  EXPECT_EQ(c.s.request().address, "friend@remote.example");
}

TEST(ServerSessionTlsAuth, RefusedSenderGetsThatReplyAndNoTransaction) {
  Client c(submission_tls());
  login(c);
  // Pipelined: the RCPT waits for the sender check and then finds no transaction.
  EXPECT_EQ(c.send("MAIL FROM:<boss@x>\r\nRCPT TO:<u@mx.test>\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().address, "boss@x");
  EXPECT_EQ(c.answer_sender({553, "5.7.1", "Sender address <boss@x> not owned by you@x"}),
            "553 5.7.1 Sender address <boss@x> not owned by you@x\r\n503 5.5.1 Need MAIL before RCPT\r\n");
  EXPECT_FALSE(c.s.busy());
  EXPECT_EQ(c.send("RCPT TO:<u@mx.test>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
  // A later MAIL is checked afresh.
  EXPECT_EQ(c.send("MAIL FROM:<you@x>\r\n"), "");
  EXPECT_EQ(c.answer_sender({250, "2.1.0", "OK"}), "250 2.1.0 OK\r\n");
  EXPECT_TRUE(c.s.busy());
}

TEST(ServerSessionTlsAuth, RecipientMayRelayAfterAuth) {
  Client c(submission_tls());
  login(c);
  ASSERT_EQ(c.send("MAIL FROM:<you@x>\r\n"), "");
  ASSERT_EQ(c.answer_sender({250, "2.1.0", "OK"}), "250 2.1.0 OK\r\n");
  EXPECT_EQ(c.send("RCPT TO:<friend@remote.example>\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::recipient);
  EXPECT_TRUE(c.s.request().may_relay);
}

TEST(ServerSessionTlsAuth, RecipientMayRelayFromATrustedNetwork) {
  SessionConfig config = make_config();
  config.relay_trusted = true;
  Client c(config);
  c.send("EHLO client.test\r\n");
  ASSERT_EQ(c.send("MAIL FROM:<a@b>\r\n"), "250 2.1.0 Sender <a@b> OK\r\n");
  EXPECT_EQ(c.send("RCPT TO:<friend@remote.example>\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::recipient);
  EXPECT_TRUE(c.s.request().may_relay);
}

TEST(ServerSessionTlsAuth, RecipientMayNotRelayOtherwise) {
  for (bool tls : {false, true}) {
    SessionConfig config = make_config();
    config.tls_active = tls;
    Client c(config);
    c.send("EHLO client.test\r\n");
    ASSERT_EQ(c.send("MAIL FROM:<a@b>\r\n"), "250 2.1.0 Sender <a@b> OK\r\n");
    EXPECT_EQ(c.send("RCPT TO:<friend@remote.example>\r\n"), "");
    ASSERT_TRUE(c.s.paused());
    EXPECT_EQ(c.s.request().kind, Request::Kind::recipient);
    EXPECT_FALSE(c.s.request().may_relay) << "tls " << tls;
  }
}

TEST(ServerSessionTlsAuth, TlsStartedClearsTheAuthenticatedUser) {
  Client c(submission_tls());
  login(c);
  c.s.tls_started();
  EXPECT_EQ(c.s.authenticated_user(), "");
  EXPECT_EQ(c.s.helo_name(), "");
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<you@x>\r\n").substr(0, 10), "530 5.7.0 ");
  EXPECT_FALSE(c.s.paused());
}

}  // namespace
}  // namespace poshta::smtp
