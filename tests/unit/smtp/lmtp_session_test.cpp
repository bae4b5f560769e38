// smtp/server_session in the LMTP flavor (RFC 2033): LHLO instead of
// HELO/EHLO, no relay, no STARTTLS or AUTH, and one reply per accepted
// recipient at the end of each message.
#include "smtp/received.hpp"
#include "smtp/server_session.hpp"
#include "unit/smtp/session_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::smtp {
namespace {

using testing::Client;
using testing::lines_of;
using testing::make_config;

SessionConfig lmtp_config() {
  SessionConfig c = make_config(Flavor::lmtp);
  c.starttls = true;  // even with a TLS context, LMTP does not offer it
  return c;
}

// An LMTP client after LHLO and MAIL, with each of `rcpts` accepted.
class LmtpClient : public Client {
 public:
  LmtpClient() : Client(lmtp_config()) {}

  void open(const std::vector<std::string>& rcpts) {
    ASSERT_EQ(lines_of(send("LHLO client.test\r\n")).front(), "250-mx.test greets client.test");
    ASSERT_EQ(send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n");
    for (const auto& r : rcpts) {
      ASSERT_EQ(send("RCPT TO:<" + r + ">\r\n"), "");
      ASSERT_EQ(accept_recipient(), "250 2.1.5 Recipient OK\r\n");
    }
  }
};

std::vector<std::string> lhlo_keywords(const std::string& out) {
  std::vector<std::string> keywords;
  const auto lines = lines_of(out);
  for (std::size_t i = 1; i < lines.size(); ++i) keywords.push_back(lines[i].substr(4));
  return keywords;
}

bool has(const std::vector<std::string>& v, std::string_view want) {
  return std::find(v.begin(), v.end(), want) != v.end();
}

// ---------------------------------------------------------------- greeting and LHLO

TEST(LmtpSession, GreetingSaysLmtp) {
  LmtpClient c;
  EXPECT_EQ(c.greeting, "220 mx.test LMTP Poshta\r\n");
}

TEST(LmtpSession, LhloListsTheCapabilitiesLikeEhlo) {
  LmtpClient c;
  const std::string out = c.send("LHLO client.test\r\n");
  const auto lines = lines_of(out);
  ASSERT_GE(lines.size(), 7u) << out;
  EXPECT_EQ(lines.front(), "250-mx.test greets client.test");
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].substr(0, 4), "250-") << lines[i];
  EXPECT_EQ(lines.back().substr(0, 4), "250 ");
  const auto keywords = lhlo_keywords(out);
  for (std::string_view want :
       {"PIPELINING", "ENHANCEDSTATUSCODES", "SIZE 26214400", "8BITMIME", "SMTPUTF8", "CHUNKING"}) {
    EXPECT_TRUE(has(keywords, want)) << want << " missing in\n" << out;
  }
  EXPECT_TRUE(c.s.esmtp());
  EXPECT_EQ(c.s.helo_name(), "client.test");
}

TEST(LmtpSession, LhloOffersNeitherStarttlsNorAuth) {
  LmtpClient c;
  const std::string out = c.send("LHLO client.test\r\n");
  EXPECT_EQ(out.find("STARTTLS"), std::string::npos) << out;
  EXPECT_EQ(out.find("AUTH"), std::string::npos) << out;
  EXPECT_EQ(c.send("STARTTLS\r\n"), "502 5.5.1 STARTTLS is not offered by this server\r\n");
  EXPECT_FALSE(c.s.wants_tls());
  EXPECT_EQ(c.send("AUTH PLAIN\r\n").substr(0, 10), "502 5.5.1 ");
}

TEST(LmtpSession, LhloWithoutDomainIs501) {
  LmtpClient c;
  EXPECT_EQ(c.send("LHLO\r\n"), "501 5.5.4 Syntax: LHLO hostname\r\n");
}

TEST(LmtpSession, HeloAndEhloAreRefusedWith500) {
  LmtpClient c;
  EXPECT_EQ(c.send("HELO client.test\r\n"), "500 5.5.1 This is an LMTP server: use LHLO\r\n");
  EXPECT_EQ(c.send("EHLO client.test\r\n"), "500 5.5.1 This is an LMTP server: use LHLO\r\n");
  EXPECT_EQ(c.s.helo_name(), "");
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 Send LHLO first\r\n");
}

TEST(LmtpSession, LhloIsAnUnknownCommandInSmtpAndSubmission) {
  for (Flavor f : {Flavor::smtp, Flavor::submission}) {
    Client c(make_config(f));
    EXPECT_EQ(c.send("LHLO client.test\r\n"), "500 5.5.2 Command not recognized\r\n");
    EXPECT_EQ(c.s.helo_name(), "");
  }
}

TEST(LmtpSession, HelpListsLhloNotHeloOrEhlo) {
  LmtpClient c;
  const std::string out = c.send("HELP\r\n");
  EXPECT_NE(out.find(" LHLO "), std::string::npos) << out;
  EXPECT_EQ(out.find(" HELO "), std::string::npos) << out;
  EXPECT_EQ(out.find(" EHLO "), std::string::npos) << out;
  EXPECT_EQ(c.send("HELP LHLO\r\n"), "214 2.0.0 LHLO <domain> (LMTP only)\r\n");
  EXPECT_EQ(c.send("HELP EHLO\r\n"), "504 5.5.1 HELP topic unknown\r\n");
}

// ---------------------------------------------------------------- recipients

TEST(LmtpSession, RecipientRequestsNeverMayRelay) {
  SessionConfig config = lmtp_config();
  config.relay_trusted = true;  // trusted networks do not make LMTP a relay
  Client c(config);
  c.send("LHLO client.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<x@elsewhere.example>\r\n");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::recipient);
  EXPECT_FALSE(c.s.request().may_relay);
}

TEST(LmtpSession, DataWithoutAcceptedRecipientsIs503) {
  LmtpClient c;
  c.open({});
  EXPECT_EQ(c.send("DATA\r\n"), "503 5.5.1 No valid recipients\r\n");
  EXPECT_FALSE(c.s.in_data());
}

// ---------------------------------------------------------------- replies after DATA

TEST(LmtpSession, OneRecipientGetsOneReplyNamingIt) {
  LmtpClient c;
  c.open({"u@mx.test"});
  EXPECT_EQ(c.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(c.send("Subject: x\r\n\r\nhello\r\n.\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::message);
  EXPECT_EQ(c.s.transaction().content, "Subject: x\r\n\r\nhello\r\n");
  EXPECT_EQ(c.queue_message("OK queued as Q1"), "250 2.0.0 <u@mx.test> OK queued as Q1\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(LmtpSession, ThreeRecipientsGetThreeRepliesInRcptOrder) {
  LmtpClient c;
  c.open({"u@mx.test", "v@mx.test", "w@mx.test"});
  c.send("DATA\r\nhello\r\n.\r\n");
  EXPECT_EQ(c.queue_message("OK queued as Q1"),
            "250 2.0.0 <u@mx.test> OK queued as Q1\r\n"
            "250 2.0.0 <v@mx.test> OK queued as Q1\r\n"
            "250 2.0.0 <w@mx.test> OK queued as Q1\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(LmtpSession, TheSameRecipientTwiceGetsTwoReplies) {
  LmtpClient c;
  c.open({"u@mx.test", "u@mx.test"});
  c.send("DATA\r\nhello\r\n.\r\n");
  EXPECT_EQ(c.queue_message("OK"), "250 2.0.0 <u@mx.test> OK\r\n250 2.0.0 <u@mx.test> OK\r\n");
}

TEST(LmtpSession, TemporaryFailureIsRepeatedForEveryRecipient) {
  LmtpClient c;
  c.open({"u@mx.test", "v@mx.test"});
  c.send("DATA\r\nhello\r\n.\r\n");
  ASSERT_TRUE(c.s.paused());
  c.s.resolve_message({451, "4.3.0", "Local error in processing, try again later"});
  EXPECT_EQ(c.s.take_output(),
            "451 4.3.0 <u@mx.test> Local error in processing, try again later\r\n"
            "451 4.3.0 <v@mx.test> Local error in processing, try again later\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(LmtpSession, RefusedRecipientGetsNoReplyAfterData) {
  LmtpClient c;
  c.open({"u@mx.test"});
  c.send("RCPT TO:<nobody@mx.test>\r\n");
  ASSERT_TRUE(c.s.paused());
  c.s.resolve_recipient({{550, "5.1.1", "<nobody@mx.test>: No such user here"}, {}});
  EXPECT_EQ(c.s.take_output(), "550 5.1.1 <nobody@mx.test>: No such user here\r\n");
  c.send("RCPT TO:<w@mx.test>\r\n");
  EXPECT_EQ(c.accept_recipient(), "250 2.1.5 Recipient OK\r\n");
  c.send("DATA\r\nhello\r\n.\r\n");
  EXPECT_EQ(c.queue_message("OK"), "250 2.0.0 <u@mx.test> OK\r\n250 2.0.0 <w@mx.test> OK\r\n");
}

TEST(LmtpSession, PipelinedTransactionGetsEveryReplyInOrder) {
  LmtpClient c;
  std::string out = c.send(
      "LHLO client.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@mx.test>\r\nRCPT TO:<nobody@mx.test>\r\n"
      "RCPT TO:<v@mx.test>\r\nDATA\r\nhello\r\n.\r\nQUIT\r\n");
  EXPECT_EQ(c.s.request().address, "u@mx.test");
  out += c.accept_recipient("OK u");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().address, "nobody@mx.test");
  c.s.resolve_recipient({{550, "5.1.1", "<nobody@mx.test>: No such user here"}, {}});
  out += c.s.take_output();
  EXPECT_EQ(c.s.request().address, "v@mx.test");
  out += c.accept_recipient("OK v");
  out += c.queue_message("OK queued as Q7");
  const auto lines = lines_of(out);
  ASSERT_GE(lines.size(), 9u) << out;
  const std::vector<std::string> tail(lines.end() - 8, lines.end());
  EXPECT_EQ(tail, (std::vector<std::string>{
                      "250 2.1.0 Sender <a@b.example> OK",
                      "250 2.1.5 OK u",
                      "550 5.1.1 <nobody@mx.test>: No such user here",
                      "250 2.1.5 OK v",
                      "354 End data with <CR><LF>.<CR><LF>",
                      "250 2.0.0 <u@mx.test> OK queued as Q7",
                      "250 2.0.0 <v@mx.test> OK queued as Q7",
                      "221 2.0.0 mx.test Bye",
                  }))
      << out;
  EXPECT_TRUE(c.s.closing());
}

// ---------------------------------------------------------------- BDAT

TEST(LmtpSession, BdatLastQueuedGetsOneReplyPerRecipient) {
  LmtpClient c;
  c.open({"u@mx.test", "v@mx.test", "w@mx.test"});
  EXPECT_EQ(c.send("BDAT 7\r\nhello\r\n"), "250 2.0.0 7 octets received\r\n");
  EXPECT_EQ(c.send("BDAT 5 LAST\r\nbye\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.transaction().content, "hello\r\nbye\r\n");
  EXPECT_EQ(c.queue_message("OK queued as Q2"),
            "250 2.0.0 <u@mx.test> OK queued as Q2\r\n"
            "250 2.0.0 <v@mx.test> OK queued as Q2\r\n"
            "250 2.0.0 <w@mx.test> OK queued as Q2\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(LmtpSession, BdatLastWithBareLfIsRefusedForEveryRecipient) {
  LmtpClient c;
  c.open({"u@mx.test", "v@mx.test"});
  const auto lines = lines_of(c.send("BDAT 5 LAST\r\na\nb\r\n"));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].substr(0, 22), "554 5.6.0 <u@mx.test> ");
  EXPECT_EQ(lines[1].substr(0, 22), "554 5.6.0 <v@mx.test> ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.busy());
}

TEST(LmtpSession, BdatLastOverTheSizeLimitIs552ForEveryRecipient) {
  SessionConfig config = lmtp_config();
  config.max_message_size = 10;
  Client c(config);
  c.send("LHLO client.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@mx.test>\r\n");
  c.accept_recipient();
  c.send("RCPT TO:<v@mx.test>\r\n");
  c.accept_recipient();
  EXPECT_EQ(c.send("BDAT 12 LAST\r\nQUIT\r\nQUIT\r\nNOOP\r\n"),
            "552 5.3.4 <u@mx.test> Message size exceeds the limit of 10 octets\r\n"
            "552 5.3.4 <v@mx.test> Message size exceeds the limit of 10 octets\r\n"
            "250 2.0.0 OK\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(LmtpSession, RefusedBdatThatIsNotLastGetsOneReply) {
  SessionConfig config = lmtp_config();
  config.max_message_size = 10;
  Client c(config);
  c.send("LHLO client.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@mx.test>\r\n");
  c.accept_recipient();
  c.send("RCPT TO:<v@mx.test>\r\n");
  c.accept_recipient();
  EXPECT_EQ(c.send("BDAT 12\r\n0123456789ab"), "552 5.3.4 Message size exceeds the limit of 10 octets\r\n");
  EXPECT_FALSE(c.s.busy());
}

// ---------------------------------------------------------------- data refused as a whole

TEST(LmtpSession, SmugglingPayloadGives554PerRecipientAndNoCommand) {
  for (std::string_view p : {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n"}) {
    LmtpClient c;
    c.open({"u@mx.test", "v@mx.test", "w@mx.test"});
    const std::string in = "DATA\r\nx" + std::string(p) + "MAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\n\r\n.\r\n";
    const auto lines = lines_of(c.send(in));
    ASSERT_EQ(lines.size(), 4u) << "payload " << ::testing::PrintToString(std::string(p));
    EXPECT_EQ(lines[0], "354 End data with <CR><LF>.<CR><LF>");
    EXPECT_EQ(lines[1].substr(0, 22), "554 5.6.0 <u@mx.test> ");
    EXPECT_EQ(lines[2].substr(0, 22), "554 5.6.0 <v@mx.test> ");
    EXPECT_EQ(lines[3].substr(0, 22), "554 5.6.0 <w@mx.test> ");
    EXPECT_FALSE(c.s.paused());
    EXPECT_FALSE(c.s.busy()) << "MAIL FROM:<e@f> was taken as a command";
  }
}

TEST(LmtpSession, OversizeDataIs552PerRecipient) {
  SessionConfig config = lmtp_config();
  config.max_message_size = 100;
  Client c(config);
  c.send("LHLO client.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<u@mx.test>\r\n");
  c.accept_recipient();
  c.send("RCPT TO:<v@mx.test>\r\n");
  c.accept_recipient();
  c.send("DATA\r\n");
  EXPECT_EQ(c.send(std::string(60, 'a') + "\r\n" + std::string(60, 'b') + "\r\n.\r\n"),
            "552 5.3.4 <u@mx.test> Message size exceeds the limit of 100 octets\r\n"
            "552 5.3.4 <v@mx.test> Message size exceeds the limit of 100 octets\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(LmtpSession, RefusalCopiesCountAsOneError) {
  SessionConfig config = lmtp_config();
  config.max_errors = 2;
  Client c(config);
  c.send("LHLO client.test\r\nMAIL FROM:<a@b.example>\r\n");
  for (const char* r : {"u@mx.test", "v@mx.test", "w@mx.test"}) {
    c.send(std::string("RCPT TO:<") + r + ">\r\n");
    c.accept_recipient();
  }
  EXPECT_EQ(lines_of(c.send("DATA\r\na\nb\r\n.\r\n")).size(), 4u);
  EXPECT_FALSE(c.s.closing());
}

// ---------------------------------------------------------------- RSET, QUIT, trace

TEST(LmtpSession, RsetEndsTheTransaction) {
  LmtpClient c;
  c.open({"u@mx.test", "v@mx.test"});
  EXPECT_EQ(c.send("RSET\r\n"), "250 2.0.0 Reset OK\r\n");
  EXPECT_FALSE(c.s.busy());
  EXPECT_EQ(c.send("DATA\r\n"), "503 5.5.1 Need MAIL before DATA\r\n");
  // The next message is answered for its own recipients only.
  c.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<w@mx.test>\r\n");
  c.accept_recipient();
  c.send("DATA\r\nhello\r\n.\r\n");
  EXPECT_EQ(c.queue_message("OK"), "250 2.0.0 <w@mx.test> OK\r\n");
}

TEST(LmtpSession, QuitReplies221AndCloses) {
  LmtpClient c;
  c.send("LHLO client.test\r\n");
  EXPECT_EQ(c.send("QUIT\r\n"), "221 2.0.0 mx.test Bye\r\n");
  EXPECT_TRUE(c.s.closing());
}

TEST(LmtpSession, FlavorIsReported) {
  LmtpClient c;
  EXPECT_EQ(c.s.flavor(), Flavor::lmtp);
}

TEST(LmtpReceived, ProtocolNamesOfRfc3848) {
  EXPECT_EQ(received_protocol(true, false, false, false, true), "LMTP");
  EXPECT_EQ(received_protocol(true, true, false, false, true), "UTF8LMTP");
  EXPECT_EQ(received_protocol(true, false, true, true, true), "LMTPSA");
  EXPECT_EQ(received_protocol(true, false, false, false), "ESMTP");
}

}  // namespace
}  // namespace poshta::smtp
