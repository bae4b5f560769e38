// smtp/reply_reader: the client's reader of server replies (RFC 5321 §4.2),
// fed bytes in any pieces.
#include "smtp/reply_reader.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::smtp {
namespace {

// Every whole reply in `bytes`, fed at once.
std::vector<ServerReply> read_all(ReplyReader& r, std::string_view bytes) {
  r.feed(bytes);
  std::vector<ServerReply> out;
  while (auto reply = r.next()) out.push_back(std::move(*reply));
  return out;
}

TEST(ReplyReader, SingleLineReply) {
  ReplyReader r;
  EXPECT_TRUE(r.idle());
  const auto replies = read_all(r, "250 2.1.0 Sender OK\r\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_EQ(replies[0].lines, (std::vector<std::string>{"2.1.0 Sender OK"}));
  EXPECT_TRUE(replies[0].positive());
  EXPECT_FALSE(r.broken());
  EXPECT_TRUE(r.idle());
}

TEST(ReplyReader, MultiLineReply) {
  ReplyReader r;
  const auto replies = read_all(r, "250-mx.test greets you\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME\r\n");
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_EQ(replies[0].lines, (std::vector<std::string>{"mx.test greets you", "PIPELINING", "SIZE 1000", "8BITMIME"}));
}

TEST(ReplyReader, SeveralRepliesInOneFeed) {
  ReplyReader r;
  const auto replies = read_all(r, "250 OK\r\n550-5.1.1 no\r\n550 5.1.1 such user\r\n354 go\r\n");
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_EQ(replies[1].code, 550);
  EXPECT_EQ(replies[1].lines.size(), 2u);
  EXPECT_EQ(replies[2].code, 354);
  EXPECT_TRUE(r.idle());
}

TEST(ReplyReader, OneByteAtATime) {
  const std::string bytes = "220-mx.test ESMTP\r\n220 ready\r\n250 OK\n421 4.3.2 bye\r\n";
  ReplyReader r;
  std::vector<ServerReply> replies;
  for (char c : bytes) {
    r.feed(std::string_view(&c, 1));
    while (auto reply = r.next()) replies.push_back(std::move(*reply));
  }
  EXPECT_FALSE(r.broken());
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].code, 220);
  EXPECT_EQ(replies[0].lines, (std::vector<std::string>{"mx.test ESMTP", "ready"}));
  EXPECT_EQ(replies[1].code, 250);
  EXPECT_EQ(replies[1].lines, (std::vector<std::string>{"OK"}));
  EXPECT_EQ(replies[2].code, 421);
  EXPECT_TRUE(replies[2].transient());
  EXPECT_TRUE(r.idle());
}

TEST(ReplyReader, IncompleteReplyWaits) {
  ReplyReader r;
  r.feed("250-first\r\n250 sec");
  EXPECT_FALSE(r.next());
  EXPECT_FALSE(r.idle());
  EXPECT_FALSE(r.broken());
  r.feed("ond\r\n");
  auto reply = r.next();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->lines, (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(r.idle());
}

TEST(ReplyReader, BareCodeAndLfOnlyLines) {
  ReplyReader r;
  const auto replies = read_all(r, "250\r\n221\n");
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_EQ(replies[0].lines, (std::vector<std::string>{""}));
  EXPECT_EQ(replies[1].code, 221);
}

TEST(ReplyReader, MixedCodesAreBroken) {
  ReplyReader r;
  r.feed("250-first\r\n251 second\r\n");
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.broken());
  // Nothing after it is trusted.
  r.feed("250 OK\r\n");
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.broken());
}

TEST(ReplyReader, NonDigitCodesAreBroken) {
  for (const char* bad : {"2x0 OK\r\n", "hello\r\n", "25\r\n", "\r\n", " 250 OK\r\n", "OK 250\r\n"}) {
    ReplyReader r;
    r.feed(bad);
    EXPECT_FALSE(r.next()) << bad;
    EXPECT_TRUE(r.broken()) << bad;
  }
}

TEST(ReplyReader, CodesOutsideTwoToFiveAreBroken) {
  for (const char* bad : {"199 x\r\n", "000 x\r\n", "600 x\r\n", "999 x\r\n"}) {
    ReplyReader r;
    r.feed(bad);
    EXPECT_FALSE(r.next()) << bad;
    EXPECT_TRUE(r.broken()) << bad;
  }
}

TEST(ReplyReader, BadSeparatorIsBroken) {
  for (const char* bad : {"250*OK\r\n", "2500 OK\r\n", "250\tOK\r\n"}) {
    ReplyReader r;
    r.feed(bad);
    EXPECT_FALSE(r.next()) << bad;
    EXPECT_TRUE(r.broken()) << bad;
  }
}

TEST(ReplyReader, ReplyBeforeTheBrokenLineIsStillGiven) {
  ReplyReader r;
  r.feed("250 OK\r\ngarbage\r\n");
  auto first = r.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->code, 250);
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.broken());
}

TEST(ReplyReader, OverLongLineIsBroken) {
  ReplyReader r;
  r.feed("250 " + std::string(5000, 'x') + "\r\n");
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.broken());

  // Also when its end never comes: the reader does not buffer without bound.
  ReplyReader endless;
  for (int i = 0; i < 10; ++i) {
    endless.feed("250 " + std::string(1000, 'x'));
    EXPECT_FALSE(endless.next());
  }
  EXPECT_TRUE(endless.broken());
}

TEST(ReplyReader, LongestLineIsAccepted) {
  ReplyReader r;
  const std::string line = "250 " + std::string(4092, 'x');  // 4096 octets without CRLF
  r.feed(line + "\r\n");
  auto reply = r.next();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->lines.at(0).size(), 4092u);
}

TEST(ReplyReader, TooManyLinesAreBroken) {
  ReplyReader r;
  std::string bytes;
  for (int i = 0; i < 300; ++i) bytes += "250-line\r\n";
  bytes += "250 end\r\n";
  r.feed(bytes);
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.broken());

  ReplyReader enough;
  std::string ok;
  for (int i = 0; i < 255; ++i) ok += "250-line\r\n";
  ok += "250 end\r\n";
  enough.feed(ok);
  auto reply = enough.next();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->lines.size(), 256u);
}

TEST(ReplyReader, EnhancedCode) {
  auto reply = [](std::string first_line) {
    ServerReply r;
    r.code = 550;
    r.lines.push_back(std::move(first_line));
    return r;
  };
  EXPECT_EQ(reply("5.1.1 <x@y>: no such user").enhanced(), "5.1.1");
  EXPECT_EQ(reply("2.0.0").enhanced(), "2.0.0");
  EXPECT_EQ(reply("4.123.456 later").enhanced(), "4.123.456");
  EXPECT_EQ(reply("OK").enhanced(), "");
  EXPECT_EQ(reply("").enhanced(), "");
  EXPECT_EQ(reply("6.0.0 bad class").enhanced(), "");
  EXPECT_EQ(reply("5.1.1x text").enhanced(), "");
  EXPECT_EQ(reply("5.1234.1 too long").enhanced(), "");
  EXPECT_EQ(reply("5..1 empty").enhanced(), "");
  EXPECT_EQ(reply("5.1. no detail").enhanced(), "");
  EXPECT_EQ(ServerReply{}.enhanced(), "");
  // Only the first line counts.
  ServerReply two = reply("no code here");
  two.lines.push_back("5.1.1 second");
  EXPECT_EQ(two.enhanced(), "");
}

TEST(ReplyReader, Text) {
  ReplyReader r;
  const auto replies = read_all(r, "550-5.1.1 <x@y>:\r\n550 no such user\r\n250\r\n250 \r\n");
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0].text(), "550 5.1.1 <x@y>: no such user");
  EXPECT_EQ(replies[0].enhanced(), "5.1.1");
  EXPECT_TRUE(replies[0].permanent());
  EXPECT_EQ(replies[1].text(), "250");
  EXPECT_EQ(replies[2].text(), "250");
}

TEST(ReplyReader, LeadingEnhancedCode) {
  EXPECT_EQ(leading_enhanced_code("2.1.5 OK"), "2.1.5");
  EXPECT_EQ(leading_enhanced_code("2.1.5"), "2.1.5");
  EXPECT_EQ(leading_enhanced_code("3.1.5 OK"), "");
  EXPECT_EQ(leading_enhanced_code("2.1"), "");
}

}  // namespace
}  // namespace poshta::smtp
