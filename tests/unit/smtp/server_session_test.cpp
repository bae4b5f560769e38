// smtp/server_session: the sans-IO SMTP server, driven by bytes; every test
// checks the exact reply lines a client would read.
#include "smtp/server_session.hpp"
#include "unit/smtp/session_client.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::smtp {
namespace {

const std::string kBye = "221 2.0.0 mx.test Bye\r\n";
const std::string kShutdown = "421 4.3.2 mx.test Service shutting down, closing connection\r\n";

using testing::Client;
using testing::lines_of;
using testing::make_config;

// ---------------------------------------------------------------- greeting, HELO, EHLO

TEST(ServerSession, GreetingIs220WithHostname) {
  Client c;
  EXPECT_EQ(c.greeting, "220 mx.test ESMTP Poshta\r\n");
  EXPECT_FALSE(c.s.closing());
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, EhloListsEveryExtensionOffered) {
  Client c;
  const std::string out = c.send("EHLO client.test\r\n");
  const auto lines = lines_of(out);
  ASSERT_GE(lines.size(), 8u) << out;
  EXPECT_EQ(lines.front(), "250-mx.test greets client.test");
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].substr(0, 4), "250-") << lines[i];
  EXPECT_EQ(lines.back().substr(0, 4), "250 ");
  std::vector<std::string> keywords;
  for (std::size_t i = 1; i < lines.size(); ++i) keywords.push_back(lines[i].substr(4));
  for (std::string_view want :
       {"PIPELINING", "SIZE 26214400", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8", "CHUNKING", "DSN"}) {
    EXPECT_NE(std::find(keywords.begin(), keywords.end(), want), keywords.end()) << want << " missing in\n" << out;
  }
  EXPECT_TRUE(c.s.esmtp());
  EXPECT_EQ(c.s.helo_name(), "client.test");
}

TEST(ServerSession, EhloAdvertisesTheConfiguredSizeLimit) {
  SessionConfig config = make_config();
  config.max_message_size = 1000000;
  Client c(config);
  EXPECT_NE(c.send("EHLO client.test\r\n").find("\r\n250-SIZE 1000000\r\n"), std::string::npos);
}

TEST(ServerSession, HeloReplies250WithHostname) {
  Client c;
  EXPECT_EQ(c.send("HELO client.test\r\n"), "250 mx.test\r\n");
  EXPECT_FALSE(c.s.esmtp());
  EXPECT_EQ(c.s.helo_name(), "client.test");
}

TEST(ServerSession, HeloOrEhloWithoutDomainIs501) {
  Client c;
  EXPECT_EQ(c.send("HELO\r\n"), "501 5.5.4 Syntax: HELO hostname\r\n");
  EXPECT_EQ(c.send("EHLO\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
  EXPECT_EQ(c.send("EHLO two words\r\n"), "501 5.5.4 Syntax: EHLO hostname\r\n");
}

TEST(ServerSession, CommandsAreCaseInsensitive) {
  Client c;
  EXPECT_EQ(c.send("helo client.test\r\n"), "250 mx.test\r\n");
  EXPECT_EQ(c.send("mail from:<a@b.example>\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n");
}

// ---------------------------------------------------------------- sequencing

TEST(ServerSession, MailBeforeHeloIs503) {
  Client c;
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example>\r\n"), "503 5.5.1 Send HELO or EHLO first\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, NestedMailIs503) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<c@d.example>\r\n"), "503 5.5.1 Nested MAIL command: send RSET first\r\n");
  EXPECT_EQ(c.s.transaction().mail.address, "a@b.example");
}

TEST(ServerSession, RcptBeforeMailIs503) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("RCPT TO:<u@mx.test>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSession, NullSenderIsAccepted) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<>\r\n"), "250 2.1.0 Sender <> OK\r\n");
  EXPECT_EQ(c.s.transaction().mail.address, "");
}

TEST(ServerSession, MailSyntaxErrorsGetTheParserReply) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example> FOO=1\r\n"), "555 5.5.4 Unsupported parameter FOO\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<bad>\r\n"), "501 5.1.7 Bad sender address syntax\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, RcptMakesARecipientRequestAndPausesPipelinedInput) {
  Client c;
  c.send("EHLO client.test\r\n");
  const std::string rest = "RCPT TO:<v@mx.test>\r\nDATA\r\nNOOP\r\n";
  const std::string out = c.send("MAIL FROM:<a@b.example>\r\nRCPT TO:<u@mx.test> NOTIFY=FAILURE\r\n" + rest);
  EXPECT_EQ(out, "250 2.1.0 Sender <a@b.example> OK\r\n");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::recipient);
  EXPECT_EQ(c.s.request().address, "u@mx.test");
  EXPECT_EQ(c.s.buffered(), rest.size());
  // More input while paused is only buffered.
  EXPECT_EQ(c.send("RSET\r\n"), "");
  EXPECT_EQ(c.s.buffered(), rest.size() + 6);

  c.s.resolve_recipient({{250, "2.1.5", "OK u"}, {{"u@mx.test", true}}});
  EXPECT_EQ(c.s.take_output(), "250 2.1.5 OK u\r\n");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().address, "v@mx.test");
  c.s.resolve_recipient({{250, "2.1.5", "OK v"}, {{"v@mx.test", true}}});
  EXPECT_EQ(c.s.take_output(), "250 2.1.5 OK v\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
  ASSERT_EQ(c.s.transaction().recipients.size(), 2u);
  EXPECT_EQ(c.s.transaction().recipients[0].args.notify, notify::failure);
  ASSERT_EQ(c.s.transaction().recipients[0].destinations.size(), 1u);
  EXPECT_EQ(c.s.transaction().recipients[0].destinations[0].address, "u@mx.test");
  EXPECT_TRUE(c.s.in_data());
}

TEST(ServerSession, RefusedRecipientIsNotKept) {
  Client c;
  c.send("EHLO client.test\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<nobody@mx.test>\r\n");
  ASSERT_TRUE(c.s.paused());
  c.s.resolve_recipient({{550, "5.1.1", "<nobody@mx.test>: No such user here"}, {}});
  EXPECT_EQ(c.s.take_output(), "550 5.1.1 <nobody@mx.test>: No such user here\r\n");
  EXPECT_TRUE(c.s.transaction().recipients.empty());
  EXPECT_EQ(c.send("DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
}

TEST(ServerSession, DataWithoutRecipientsIs554) {
  Client c;
  c.send("EHLO client.test\r\nMAIL FROM:<a@b.example>\r\n");
  EXPECT_EQ(c.send("DATA\r\n"), "554 5.5.1 No valid recipients\r\n");
  EXPECT_FALSE(c.s.in_data());
}

TEST(ServerSession, DataWithoutMailIs503) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("DATA\r\n"), "503 5.5.1 Need MAIL before DATA\r\n");
}

TEST(ServerSession, DataWithArgumentIs501) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("DATA now\r\n"), "501 5.5.4 Syntax: DATA\r\n");
}

// ---------------------------------------------------------------- DATA

TEST(ServerSession, DataGives354ThenAMessageRequestWithTheUnstuffedContent) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_TRUE(c.s.in_data());
  EXPECT_EQ(c.send("Subject: test\r\n\r\n..leading dot\r\n"), "");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.send("last line\r\n.\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::message);
  EXPECT_EQ(c.s.transaction().content, "Subject: test\r\n\r\n.leading dot\r\nlast line\r\n");
  EXPECT_EQ(c.s.transaction().mail.address, "a@b.example");
  ASSERT_EQ(c.s.transaction().recipients.size(), 1u);
  EXPECT_EQ(c.s.transaction().recipients[0].args.address, "u@mx.test");
  EXPECT_FALSE(c.s.in_data());
}

TEST(ServerSession, ResolveMessageRepliesAndEndsTheTransaction) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\nhello\r\n.\r\nNOOP\r\n");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.queue_message("OK queued as 0123"), "250 2.0.0 OK queued as 0123\r\n250 2.0.0 OK\r\n");
  EXPECT_FALSE(c.s.busy());
  // A new transaction may start at once.
  EXPECT_EQ(c.send("MAIL FROM:<x@y.example>\r\n"), "250 2.1.0 Sender <x@y.example> OK\r\n");
}

TEST(ServerSession, QueueFailureReplyIsPassedOnAndEndsTheTransaction) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\nhello\r\n.\r\n");
  ASSERT_TRUE(c.s.paused());
  c.s.resolve_message({451, "4.3.0", "Local error in processing, try again later"});
  EXPECT_EQ(c.s.take_output(), "451 4.3.0 Local error in processing, try again later\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, BareLfInDataIs554AfterTheFinalDotWithoutMessageRequest) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("DATA\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_EQ(c.send("line one\nline two\r\n"), "");
  const std::string out = c.send(".\r\n");
  EXPECT_EQ(out.substr(0, 10), "554 5.6.0 ") << out;
  EXPECT_EQ(lines_of(out).size(), 1u);
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.busy());
  EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSession, BareCrInDataIs554) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\n");
  const std::string out = c.send("a\rb\r\n.\r\n");
  EXPECT_EQ(out.substr(0, 10), "554 5.6.0 ") << out;
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSession, SmugglingGivesExactlyOne554AndTheMailLineIsContent) {
  Client c;
  c.open_transaction();
  const std::string out = c.send("DATA\r\nx\n.\nMAIL FROM:<e@f>\r\n\r\n.\r\n");
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 2u) << out;
  EXPECT_EQ(lines[0], "354 End data with <CR><LF>.<CR><LF>");
  EXPECT_EQ(lines[1].substr(0, 10), "554 5.6.0 ");
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.busy()) << "MAIL FROM:<e@f> was taken as a command";
  EXPECT_FALSE(c.s.in_data());
  EXPECT_EQ(c.s.buffered(), 0u);
}

TEST(ServerSession, SmugglingPayloadsNeverEndDataWhateverTheSplit) {
  for (std::string_view p : {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n"}) {
    const std::string in = "DATA\r\nx" + std::string(p) + "MAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\n\r\n.\r\n";
    for (std::size_t cut = 0; cut <= in.size(); cut += 3) {
      Client c;
      c.open_transaction();
      std::string out = c.send(in.substr(0, cut));
      out += c.send(in.substr(cut));
      const auto lines = lines_of(out);
      ASSERT_EQ(lines.size(), 2u) << "payload split at " << cut << ":\n" << out;
      EXPECT_EQ(lines[1].substr(0, 10), "554 5.6.0 ");
      EXPECT_FALSE(c.s.busy());
    }
  }
}

TEST(ServerSession, OversizeMessageIs552) {
  SessionConfig config = make_config();
  config.max_message_size = 100;
  Client c(config);
  c.open_transaction();
  c.send("DATA\r\n");
  EXPECT_EQ(c.send(std::string(60, 'a') + "\r\n" + std::string(60, 'b') + "\r\n"), "");
  EXPECT_EQ(c.send(".\r\n"), "552 5.3.4 Message size exceeds the limit of 100 octets\r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, MessageOfExactlyTheLimitIsAccepted) {
  SessionConfig config = make_config();
  config.max_message_size = 100;
  Client c(config);
  c.open_transaction();
  c.send("DATA\r\n" + std::string(98, 'a') + "\r\n.\r\n");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.transaction().content.size(), 100u);
}

TEST(ServerSession, LineOver1000OctetsInDataIs554) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\n");
  const std::string out = c.send(std::string(1200, 'x') + "\r\n.\r\n");
  EXPECT_EQ(out.substr(0, 10), "554 5.6.0 ") << out;
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSession, SizeParameterOverTheLimitIs552) {
  SessionConfig config = make_config();
  config.max_message_size = 1000;
  Client c(config);
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example> SIZE=1001\r\n"),
            "552 5.3.4 Message size exceeds the limit of 1000 octets\r\n");
  EXPECT_FALSE(c.s.busy());
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example> SIZE=1000\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n");
}

TEST(ServerSession, TooManyRecipientsIs452) {
  SessionConfig config = make_config();
  config.max_recipients = 2;
  Client c(config);
  c.send("EHLO client.test\r\nMAIL FROM:<a@b.example>\r\n");
  c.send("RCPT TO:<u1@mx.test>\r\n");
  c.accept_recipient();
  c.send("RCPT TO:<u2@mx.test>\r\n");
  c.accept_recipient();
  EXPECT_EQ(c.send("RCPT TO:<u3@mx.test>\r\n"), "452 4.5.3 Too many recipients (at most 2 per message)\r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.s.transaction().recipients.size(), 2u);
}

TEST(ServerSession, MailAfterAnAcceptedMessageStartsAFreshTransaction) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\nfirst\r\n.\r\n");
  c.queue_message();
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n");
  EXPECT_TRUE(c.s.transaction().recipients.empty());
  EXPECT_TRUE(c.s.transaction().content.empty());
}

// ---------------------------------------------------------------- line limits and errors

TEST(ServerSession, CommandLineOver512OctetsIs500) {
  Client c;
  const std::string line = "NOOP " + std::string(506, 'x') + "\r\n";  // 513 octets
  ASSERT_EQ(line.size(), 513u);
  EXPECT_EQ(c.send(line), "500 5.5.2 Line too long\r\n");
  EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSession, CommandLineOf512OctetsIsAccepted) {
  Client c;
  const std::string line = "NOOP " + std::string(505, 'x') + "\r\n";
  ASSERT_EQ(line.size(), 512u);
  EXPECT_EQ(c.send(line), "250 2.0.0 OK\r\n");
}

TEST(ServerSession, MailLineUpTo2048OctetsIsAccepted) {
  Client c;
  c.send("EHLO client.test\r\n");
  std::string line = "MAIL FROM:<a@b.example> SIZE=10";
  line += std::string(2046 - line.size(), ' ') + "\r\n";
  ASSERT_EQ(line.size(), 2048u);
  EXPECT_EQ(c.send(line), "250 2.1.0 Sender <a@b.example> OK\r\n");
  EXPECT_EQ(c.s.transaction().mail.size, 10u);
}

TEST(ServerSession, MailLineOver2048OctetsIs500) {
  Client c;
  c.send("EHLO client.test\r\n");
  std::string line = "MAIL FROM:<a@b.example>";
  line += std::string(2047 - line.size(), ' ') + "\r\n";
  ASSERT_EQ(line.size(), 2049u);
  EXPECT_EQ(c.send(line), "500 5.5.2 Line too long\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, RcptLineUpTo2048OctetsIsAccepted) {
  Client c;
  c.send("EHLO client.test\r\nMAIL FROM:<a@b.example>\r\n");
  std::string line = "RCPT TO:<u@mx.test> ORCPT=rfc822;" + std::string(400, 'o');
  line += std::string(2046 - line.size(), ' ') + "\r\n";
  EXPECT_EQ(c.send(line), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().address, "u@mx.test");
}

TEST(ServerSession, EndlessLineWithoutLineEndIsRefusedOnceAndCostsNoMemory) {
  Client c;
  std::string out;
  for (int i = 0; i < 100; ++i) {
    out += c.send(std::string(1000, 'x'));
    EXPECT_LE(c.s.buffered(), 4096u);
  }
  out += c.send("\r\nNOOP\r\n");
  EXPECT_EQ(out, "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");
}

TEST(ServerSession, UnknownCommandIs500) {
  Client c;
  EXPECT_EQ(c.send("XYZZY\r\n"), "500 5.5.2 Command not recognized\r\n");
  EXPECT_EQ(c.send("LHLO client.test\r\n"), "500 5.5.2 Command not recognized\r\n");
}

TEST(ServerSession, TenErrorsGet421AndClose) {
  Client c;
  std::string expected;
  for (int i = 0; i < 10; ++i) expected += "500 5.5.2 Command not recognized\r\n";
  expected += "421 4.7.0 mx.test Too many errors, closing connection\r\n";
  std::string in;
  for (int i = 0; i < 12; ++i) in += "FOO\r\n";
  EXPECT_EQ(c.send(in), expected);
  EXPECT_TRUE(c.s.closing());
  EXPECT_EQ(c.send("NOOP\r\n"), "");
}

TEST(ServerSession, NineErrorsDoNotClose) {
  Client c;
  for (int i = 0; i < 9; ++i) c.send("FOO\r\n");
  EXPECT_FALSE(c.s.closing());
  EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSession, ErrorLimitIsConfigurable) {
  SessionConfig config = make_config();
  config.max_errors = 2;
  Client c(config);
  EXPECT_EQ(c.send("FOO\r\n"), "500 5.5.2 Command not recognized\r\n");
  EXPECT_EQ(c.send("FOO\r\n"),
            "500 5.5.2 Command not recognized\r\n421 4.7.0 mx.test Too many errors, closing connection\r\n");
  EXPECT_TRUE(c.s.closing());
}

TEST(ServerSession, HttpRequestClosesWithoutReply) {
  Client c;
  EXPECT_EQ(c.send("GET / HTTP/1.1\r\nHost: mx.test\r\n\r\n"), "");
  EXPECT_TRUE(c.s.closing());
  EXPECT_EQ(c.send("NOOP\r\n"), "");
}

TEST(ServerSession, HttpPostAfterEhloAlsoCloses) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("POST /upload HTTP/1.1\r\n"), "");
  EXPECT_TRUE(c.s.closing());
}

// ---------------------------------------------------------------- SEND, SOML, SAML

TEST(ServerSession, SendThenRcptIs450) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("SEND FROM:<a@b.example>\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n");
  EXPECT_EQ(c.send("RCPT TO:<u@mx.test>\r\n"), "450 4.2.0 <u@mx.test> is not logged in at a terminal\r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_TRUE(c.s.transaction().recipients.empty());
}

TEST(ServerSession, SomlAndSamlBehaveLikeMail) {
  for (std::string_view verb : {"SOML", "SAML"}) {
    Client c;
    c.send("EHLO client.test\r\n");
    EXPECT_EQ(c.send(std::string(verb) + " FROM:<a@b.example>\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n") << verb;
    EXPECT_EQ(c.send("RCPT TO:<u@mx.test>\r\n"), "");
    ASSERT_TRUE(c.s.paused()) << verb;
    EXPECT_EQ(c.s.request().kind, Request::Kind::recipient);
    EXPECT_EQ(c.accept_recipient(), "250 2.1.5 Recipient OK\r\n");
    EXPECT_EQ(c.send("DATA\r\nhi\r\n.\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
    ASSERT_TRUE(c.s.paused()) << verb;
    EXPECT_EQ(c.s.request().kind, Request::Kind::message);
    EXPECT_EQ(c.s.transaction().mode, verb == "SOML" ? Verb::soml : Verb::saml);
    EXPECT_EQ(c.queue_message(), "250 2.0.0 OK queued as Q1\r\n");
  }
}

TEST(ServerSession, SomlInsideATransactionIsNestedMail) {
  Client c;
  c.send("EHLO client.test\r\nMAIL FROM:<a@b.example>\r\n");
  EXPECT_EQ(c.send("SOML FROM:<a@b.example>\r\n"), "503 5.5.1 Nested MAIL command: send RSET first\r\n");
}

// ---------------------------------------------------------------- VRFY, EXPN, HELP

TEST(ServerSession, VrfyMakesAVerifyRequest) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("VRFY smith\r\nNOOP\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::verify);
  EXPECT_EQ(c.s.request().address, "smith");
  c.s.resolve_lookup({250, "2.1.5", "<smith@mx.test>"});
  EXPECT_EQ(c.s.take_output(), "250 2.1.5 <smith@mx.test>\r\n250 2.0.0 OK\r\n");
}

TEST(ServerSession, VrfyStripsAngleBrackets) {
  Client c;
  c.send("VRFY <u@mx.test>\r\n");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().address, "u@mx.test");
}

TEST(ServerSession, ExpnMakesAnExpandRequest) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("EXPN staff@mx.test\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::expand);
  EXPECT_EQ(c.s.request().address, "staff@mx.test");
  c.s.resolve_lookup({250, "2.1.5", "<a@mx.test>\n<b@mx.test>"});
  EXPECT_EQ(c.s.take_output(), "250-2.1.5 <a@mx.test>\r\n250 2.1.5 <b@mx.test>\r\n");
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSession, VrfyAndExpnWithoutArgumentAre501) {
  Client c;
  EXPECT_EQ(c.send("VRFY\r\n"), "501 5.5.4 Syntax: VRFY <address>\r\n");
  EXPECT_EQ(c.send("EXPN\r\n"), "501 5.5.4 Syntax: EXPN <list>\r\n");
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSession, HelpListsEveryCommand) {
  Client c;
  const std::string out = c.send("HELP\r\n");
  const auto lines = lines_of(out);
  ASSERT_GE(lines.size(), 2u) << out;
  EXPECT_EQ(lines[0],
            "214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET SEND SOML SAML VRFY EXPN HELP NOOP QUIT STARTTLS "
            "AUTH");
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].substr(0, 4), "214-");
  EXPECT_EQ(lines.back().substr(0, 10), "214 2.0.0 ");
  EXPECT_EQ(out.find("LHLO"), std::string::npos);
}

TEST(ServerSession, HelpMailGivesItsSyntax) {
  Client c;
  const std::string out = c.send("HELP MAIL\r\n");
  EXPECT_EQ(lines_of(out).size(), 1u) << out;
  EXPECT_EQ(out.substr(0, 30), "214 2.0.0 MAIL FROM:<address> ") << out;
  EXPECT_EQ(c.send("help rcpt\r\n").substr(0, 26), "214 2.0.0 RCPT TO:<address");
}

TEST(ServerSession, HelpUnknownTopicIs504) {
  Client c;
  EXPECT_EQ(c.send("HELP FOO\r\n"), "504 5.5.1 HELP topic unknown\r\n");
  EXPECT_EQ(c.send("HELP LHLO\r\n"), "504 5.5.1 HELP topic unknown\r\n");
}

// ---------------------------------------------------------------- RSET, NOOP, QUIT, STARTTLS, AUTH

TEST(ServerSession, RsetResetsTheTransaction) {
  Client c;
  c.open_transaction();
  EXPECT_TRUE(c.s.busy());
  EXPECT_EQ(c.send("RSET\r\n"), "250 2.0.0 Reset OK\r\n");
  EXPECT_FALSE(c.s.busy());
  EXPECT_EQ(c.send("RCPT TO:<u@mx.test>\r\n"), "503 5.5.1 Need MAIL before RCPT\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<c@d.example>\r\n"), "250 2.1.0 Sender <c@d.example> OK\r\n");
  EXPECT_EQ(c.s.transaction().mail.address, "c@d.example");
  EXPECT_TRUE(c.s.transaction().recipients.empty());
}

TEST(ServerSession, RsetKeepsTheHeloName) {
  Client c;
  c.send("EHLO client.test\r\nRSET\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n");
}

TEST(ServerSession, RsetWithArgumentIs501) {
  Client c;
  EXPECT_EQ(c.send("RSET now\r\n"), "501 5.5.4 Syntax: RSET\r\n");
}

TEST(ServerSession, EhloResetsTheTransaction) {
  Client c;
  c.open_transaction();
  c.send("EHLO again.test\r\n");
  EXPECT_FALSE(c.s.busy());
  EXPECT_EQ(c.s.helo_name(), "again.test");
}

TEST(ServerSession, NoopIs250) {
  Client c;
  EXPECT_EQ(c.send("NOOP\r\n"), "250 2.0.0 OK\r\n");
  EXPECT_EQ(c.send("NOOP anything at all\r\n"), "250 2.0.0 OK\r\n");
}

TEST(ServerSession, QuitReplies221AndCloses) {
  Client c;
  EXPECT_EQ(c.send("QUIT\r\nNOOP\r\n"), kBye);
  EXPECT_TRUE(c.s.closing());
  EXPECT_EQ(c.send("NOOP\r\n"), "");
}

TEST(ServerSession, QuitInsideATransactionCloses) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("QUIT\r\n"), kBye);
  EXPECT_TRUE(c.s.closing());
}

TEST(ServerSession, WithoutTlsAndOnPort25StarttlsAndAuthAreNotOffered) {
  Client c;
  EXPECT_EQ(c.send("STARTTLS\r\n"), "502 5.5.1 STARTTLS is not offered by this server\r\n");
  EXPECT_EQ(c.send("AUTH PLAIN\r\n"), "502 5.5.1 AUTH is offered on the submission port\r\n");
}

TEST(ServerSession, BareLfEndsACommandLine) {
  Client c;
  EXPECT_EQ(c.send("NOOP\nNOOP\r\n"), "250 2.0.0 OK\r\n250 2.0.0 OK\r\n");
}

// ---------------------------------------------------------------- BDAT

TEST(ServerSession, BdatChunksMakeOneMessageWithTheRawContent) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("BDAT 14\r\nSubject: x\r\n\r\n"), "250 2.0.0 14 octets received\r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.send("BDAT 11 LAST\r\n.\r\n..dots\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::message);
  EXPECT_EQ(c.s.transaction().content, "Subject: x\r\n\r\n.\r\n..dots\r\n");
  EXPECT_TRUE(c.s.transaction().used_bdat);
  EXPECT_EQ(c.queue_message(), "250 2.0.0 OK queued as Q1\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, BdatChunkMaySplitACrLf) {
  Client c;
  c.open_transaction();
  c.send("BDAT 3\r\nab\r");
  c.send("BDAT 5 LAST\r\n\ncd\r\n");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.transaction().content, "ab\r\ncd\r\n");
}

TEST(ServerSession, BdatReplyCountsEveryOctetReceivedSoFar) {
  // RFC 3030 §4.2 example: "250 2.0.0 100000 octets received", then
  // "100324 octets received" after the next chunk.
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("BDAT 3\r\nab\r"), "250 2.0.0 3 octets received\r\n");
  EXPECT_EQ(c.send("BDAT 4\r\n\ncd\r"), "250 2.0.0 7 octets received\r\n");
}

TEST(ServerSession, BdatChunkOctetsArriveInPieces) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("BDAT 10 LAST\r\n01234"), "");
  EXPECT_TRUE(c.s.in_data());
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.send("5678"), "");
  EXPECT_FALSE(c.s.paused());
  EXPECT_EQ(c.send("9NOOP\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.transaction().content, "0123456789");
  EXPECT_EQ(c.queue_message(), "250 2.0.0 OK queued as Q1\r\n250 2.0.0 OK\r\n");
}

TEST(ServerSession, BdatZeroLastEndsTheMessage) {
  Client c;
  c.open_transaction();
  c.send("BDAT 4\r\nabcd");
  c.send("BDAT 0 LAST\r\n");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.transaction().content, "abcd");
}

TEST(ServerSession, BdatWithoutMailIs503AndItsChunkIsSkipped) {
  Client c;
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("BDAT 6\r\nQUIT\r\nNOOP\r\n"), "503 5.5.1 Need MAIL before BDAT\r\n250 2.0.0 OK\r\n");
  EXPECT_FALSE(c.s.closing());
}

TEST(ServerSession, BdatWithoutRecipientsIs554AndItsChunkIsSkipped) {
  Client c;
  c.send("EHLO client.test\r\nMAIL FROM:<a@b.example>\r\n");
  EXPECT_EQ(c.send("BDAT 6 LAST\r\nRSET\r\nNOOP\r\n"), "554 5.5.1 No valid recipients\r\n250 2.0.0 OK\r\n");
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSession, DataAfterBdatIs503) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("BDAT 3\r\nabc"), "250 2.0.0 3 octets received\r\n");
  EXPECT_EQ(c.send("DATA\r\n"), "503 5.5.1 DATA cannot follow BDAT in one transaction\r\n");
  EXPECT_FALSE(c.s.in_data());
}

TEST(ServerSession, BdatWithBadSizeIs501AndCloses) {
  Client c;
  c.open_transaction();
  EXPECT_EQ(c.send("BDAT lots\r\n"), "501 5.5.4 Bad BDAT size, closing connection\r\n");
  EXPECT_TRUE(c.s.closing());
}

TEST(ServerSession, BdatOverTheSizeLimitIs552AndItsChunkIsSkipped) {
  SessionConfig config = make_config();
  config.max_message_size = 10;
  Client c(config);
  c.open_transaction();
  EXPECT_EQ(c.send("BDAT 12 LAST\r\nQUIT\r\nQUIT\r\nNOOP\r\n"),
            "552 5.3.4 Message size exceeds the limit of 10 octets\r\n250 2.0.0 OK\r\n");
  EXPECT_FALSE(c.s.closing());
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, BdatContentWithBareLfIsRefused) {
  Client c;
  c.open_transaction();
  const std::string out = c.send("BDAT 5 LAST\r\na\nb\r\n");
  EXPECT_EQ(out.substr(0, 10), "554 5.6.0 ") << out;
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSession, BdatContentEndingInBareCrIsRefused) {
  // The last chunk's final CR has no LF after it: a bare CR, which the
  // framer contract says the session refuses (and it must not vanish).
  Client c;
  c.open_transaction();
  const std::string out = c.send("BDAT 4 LAST\r\nabc\r");
  const bool queued = c.s.paused();
  EXPECT_FALSE(queued) << "message queued with content [" << (queued ? c.s.transaction().content : "") << "]";
  EXPECT_EQ(out.substr(0, 10), "554 5.6.0 ") << out;
}

// ---------------------------------------------------------------- loops

std::string with_received(int n) {
  std::string m;
  for (int i = 0; i < n; ++i) m += "Received: from hop" + std::to_string(i) + ".example by x; date\r\n";
  return m + "Subject: loop?\r\n\r\nbody\r\n";
}

TEST(ServerSession, FiftyOneReceivedFieldsAre554Loop) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\n");
  EXPECT_EQ(c.send(with_received(51) + ".\r\n"), "554 5.4.6 Too many Received header fields: mail loop?\r\n");
  EXPECT_FALSE(c.s.paused());
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, FiftyReceivedFieldsAreAccepted) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\n");
  EXPECT_EQ(c.send(with_received(50) + ".\r\n"), "");
  ASSERT_TRUE(c.s.paused());
  EXPECT_EQ(c.s.request().kind, Request::Kind::message);
}

TEST(ServerSession, ReceivedLinesInTheBodyDoNotCount) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\n");
  std::string body;
  for (int i = 0; i < 60; ++i) body += "Received: quoted\r\n";
  c.send("Subject: x\r\n\r\n" + body + ".\r\n");
  EXPECT_TRUE(c.s.paused());
}

TEST(ServerSession, ReceivedLoopIsAlsoCheckedForBdat) {
  Client c;
  c.open_transaction();
  const std::string m = with_received(51);
  EXPECT_EQ(c.send("BDAT " + std::to_string(m.size()) + " LAST\r\n" + m),
            "554 5.4.6 Too many Received header fields: mail loop?\r\n");
}

// ---------------------------------------------------------------- flavors and transport events

TEST(ServerSession, SubmissionRefusesMailWithoutAuthentication) {
  Client c(make_config(Flavor::submission));
  EXPECT_EQ(c.greeting, "220 mx.test ESMTP Poshta\r\n");
  c.send("EHLO client.test\r\n");
  EXPECT_EQ(c.send("MAIL FROM:<a@b.example>\r\n"), "530 5.7.0 Authentication required\r\n");
  EXPECT_FALSE(c.s.busy());
}

TEST(ServerSession, TimeoutIs421AndCloses) {
  Client c;
  c.send("EHLO client.test\r\n");
  c.s.timeout();
  EXPECT_EQ(c.s.take_output(), "421 4.4.2 mx.test Timeout exceeded, closing connection\r\n");
  EXPECT_TRUE(c.s.closing());
}

TEST(ServerSession, TimeoutInDataIs421AndCloses) {
  Client c;
  c.open_transaction();
  c.send("DATA\r\npartial");
  c.s.timeout();
  EXPECT_EQ(c.s.take_output(), "421 4.4.2 mx.test Timeout exceeded, closing connection\r\n");
  EXPECT_TRUE(c.s.closing());
  EXPECT_FALSE(c.s.paused());
}

TEST(ServerSession, ShutdownWhenIdleIs421AndCloses) {
  Client c;
  c.send("EHLO client.test\r\n");
  ASSERT_FALSE(c.s.busy());
  c.s.shutdown();
  EXPECT_EQ(c.s.take_output(), kShutdown);
  EXPECT_TRUE(c.s.closing());
}

TEST(ServerSession, ShutdownWhenBusyWaitsForTheTransactionThen421) {
  Client c;
  c.send("EHLO client.test\r\n");
  ASSERT_EQ(c.send("MAIL FROM:<a@b.example>\r\n"), "250 2.1.0 Sender <a@b.example> OK\r\n");
  ASSERT_TRUE(c.s.busy());
  c.s.shutdown();
  EXPECT_EQ(c.s.take_output(), "");
  EXPECT_FALSE(c.s.closing());
  EXPECT_EQ(c.send("RCPT TO:<u@mx.test>\r\n"), "");
  EXPECT_EQ(c.accept_recipient(), "250 2.1.5 Recipient OK\r\n");
  EXPECT_EQ(c.send("DATA\r\nhello\r\n.\r\n"), "354 End data with <CR><LF>.<CR><LF>\r\n");
  EXPECT_FALSE(c.s.closing());
  EXPECT_EQ(c.queue_message(), "250 2.0.0 OK queued as Q1\r\n" + kShutdown);
  EXPECT_TRUE(c.s.closing());
}

TEST(ServerSession, ShutdownWhenBusyClosesAfterARefusedMessage) {
  Client c;
  c.open_transaction();
  c.s.shutdown();
  EXPECT_EQ(c.s.take_output(), "");
  const std::string out = c.send("DATA\r\nbare\nlf\r\n.\r\n");
  const auto lines = lines_of(out);
  ASSERT_EQ(lines.size(), 3u) << out;
  EXPECT_EQ(lines[1].substr(0, 10), "554 5.6.0 ");
  EXPECT_EQ(lines[2] + "\r\n", kShutdown);
  EXPECT_TRUE(c.s.closing());
}

TEST(ServerSession, ShutdownWhenBusyClosesAfterRset) {
  Client c;
  c.open_transaction();
  c.s.shutdown();
  EXPECT_EQ(c.s.take_output(), "");
  EXPECT_EQ(c.send("RSET\r\n"), "250 2.0.0 Reset OK\r\n" + kShutdown);
  EXPECT_TRUE(c.s.closing());
}

// ---------------------------------------------------------------- whole dialogues

// Answers every request the way a permissive transport would.
void drain(ServerSession& s) {
  while (s.paused()) {
    switch (s.request().kind) {
      case Request::Kind::recipient: s.resolve_recipient({{250, "2.1.5", "OK"}, {{"u@mx.test", true}}}); break;
      case Request::Kind::verify:
      case Request::Kind::expand: s.resolve_lookup({252, "2.5.0", "Cannot VRFY"}); break;
      case Request::Kind::message: s.resolve_message({250, "2.0.0", "queued"}); break;
      case Request::Kind::auth: s.resolve_auth(s.request().password == "right", s.request().address); break;
      case Request::Kind::sender: s.resolve_sender({250, "2.1.0", "OK"}); break;
    }
  }
}

TEST(ServerSession, RepliesAreTheSameHoweverTheInputIsSplit) {
  const std::string dialogue =
      "EHLO client.test\r\nMAIL FROM:<a@b.example> SIZE=20\r\nRCPT TO:<u@mx.test>\r\nRCPT TO:<v@mx.test>\r\n"
      "DATA\r\nSubject: s\r\n\r\n..x\r\n.\r\nVRFY u\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster>\r\n"
      "BDAT 5\r\nab\r\ncBDAT 4 LAST\r\nde\r\nHELP\r\nQUIT\r\n";
  auto run = [&](std::size_t step) {
    ServerSession s(make_config(), "192.0.2.7");
    s.start();
    std::string out = s.take_output();
    for (std::size_t i = 0; i < dialogue.size(); i += step) {
      s.feed(std::string_view(dialogue).substr(i, step));
      drain(s);
      out += s.take_output();
    }
    EXPECT_TRUE(s.closing()) << "step " << step;
    return out;
  };
  const std::string whole = run(dialogue.size());
  EXPECT_EQ(lines_of(whole).back(), "221 2.0.0 mx.test Bye");
  for (std::size_t step : {1u, 2u, 3u, 7u, 64u}) EXPECT_EQ(run(step), whole) << "step " << step;
}

}  // namespace
}  // namespace poshta::smtp
