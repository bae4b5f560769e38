// imap/reader: the framing of IMAP client input (RFC 9051 §2.2, §4.3),
// literals synchronizing and not (RFC 7888), and the limits that keep a
// session's memory bounded.
#include "imap/reader.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace poshta::imap {
namespace {

using namespace std::literals;

constexpr std::string_view kReady = "+ Ready for literal data\r\n";

// The chunks of a command as (literal?, data) pairs, for compact comparisons.
std::vector<std::pair<bool, std::string>> parts(const RawCommand& c) {
  std::vector<std::pair<bool, std::string>> out;
  for (const auto& ch : c.chunks) out.emplace_back(ch.literal, ch.data);
  return out;
}

using Parts = std::vector<std::pair<bool, std::string>>;

// ---------------------------------------------------------------- lines

TEST(ImapReader, PlainLineIsOneTextChunk) {
  Reader r(1000);
  r.feed("a1 NOOP\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->too_long);
  EXPECT_EQ(parts(*c), (Parts{{false, "a1 NOOP"}}));
  EXPECT_FALSE(r.next().has_value());
  EXPECT_EQ(r.take_output(), "");
  EXPECT_FALSE(r.in_command());
}

TEST(ImapReader, BareLfEndsALineToo) {
  Reader r(1000);
  r.feed("a1 NOOP\nb2 CAPABILITY\n");
  auto a = r.next();
  auto b = r.next();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(parts(*a), (Parts{{false, "a1 NOOP"}}));
  EXPECT_EQ(parts(*b), (Parts{{false, "b2 CAPABILITY"}}));
}

TEST(ImapReader, PartialLineWaitsForItsEnd) {
  Reader r(1000);
  r.feed("a1 NO");
  EXPECT_FALSE(r.next().has_value());
  r.feed("OP\r");
  EXPECT_FALSE(r.next().has_value());
  r.feed("\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(parts(*c), (Parts{{false, "a1 NOOP"}}));
}

TEST(ImapReader, SeveralCommandsInOneFeedComeOutInOrder) {
  Reader r(1000);
  r.feed("a NOOP\r\nb NOOP\r\nc NOOP\r\n");
  for (const char* want : {"a NOOP", "b NOOP", "c NOOP"}) {
    auto c = r.next();
    ASSERT_TRUE(c.has_value()) << want;
    EXPECT_EQ(c->chunks.front().data, want);
  }
  EXPECT_FALSE(r.next().has_value());
}

TEST(ImapReader, EmptyLineIsACommandWithEmptyText) {
  Reader r(1000);
  r.feed("\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(parts(*c), (Parts{{false, ""}}));
}

// ---------------------------------------------------------------- literals

TEST(ImapReader, SynchronizingLiteralGetsAContinuation) {
  Reader r(1000);
  r.feed("a LOGIN {5}\r\n");
  EXPECT_FALSE(r.next().has_value());
  EXPECT_TRUE(r.in_command());
  EXPECT_EQ(r.take_output(), kReady);
  EXPECT_EQ(r.take_output(), "");  // taken once
  r.feed("alice secret\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->too_long);
  EXPECT_EQ(parts(*c), (Parts{{false, "a LOGIN "}, {true, "alice"}, {false, " secret"}}));
  EXPECT_FALSE(r.in_command());
}

TEST(ImapReader, NonSynchronizingLiteralGetsNoContinuation) {
  Reader r(1000);
  r.feed("a LOGIN {5+}\r\nalice {6+}\r\nsecret\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(r.take_output(), "");
  EXPECT_EQ(parts(*c), (Parts{{false, "a LOGIN "}, {true, "alice"}, {false, " "}, {true, "secret"}, {false, ""}}));
}

TEST(ImapReader, LiteralSplitAcrossFeedsByteByByte) {
  Reader r(1000);
  const std::string input = "a LOGIN {5}\r\nal\r\nx {3+}\r\n\r\n\r\r\n";
  std::optional<RawCommand> c;
  std::string out;
  for (char ch : input) {
    r.feed(std::string_view(&ch, 1));
    auto got = r.next();
    out += r.take_output();
    if (got) {
      ASSERT_FALSE(c.has_value()) << "two commands";
      c = std::move(got);
    }
  }
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(out, kReady);  // one for the synchronizing literal only
  // Literal octets are taken as they are, CR and LF included.
  EXPECT_EQ(parts(*c), (Parts{{false, "a LOGIN "}, {true, "al\r\nx"}, {false, " "}, {true, "\r\n\r"}, {false, ""}}));
}

TEST(ImapReader, SeveralSynchronizingLiteralsEachGetAContinuation) {
  Reader r(1000);
  r.feed("a LOGIN {5}\r\n");
  EXPECT_FALSE(r.next().has_value());
  EXPECT_EQ(r.take_output(), kReady);
  r.feed("alice {6}\r\n");
  EXPECT_FALSE(r.next().has_value());
  EXPECT_EQ(r.take_output(), kReady);
  r.feed("secret\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(parts(*c), (Parts{{false, "a LOGIN "}, {true, "alice"}, {false, " "}, {true, "secret"}, {false, ""}}));
}

TEST(ImapReader, EmptyLiteral) {
  Reader r(1000);
  r.feed("a LOGIN {0+}\r\n {0}\r\n\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(r.take_output(), kReady);
  EXPECT_EQ(parts(*c), (Parts{{false, "a LOGIN "}, {true, ""}, {false, " "}, {true, ""}, {false, ""}}));
}

TEST(ImapReader, Literal8IsMarkedBinary) {
  Reader r(1000);
  r.feed("a APPEND INBOX ~{3+}\r\n\0\1\2\r\n"sv);
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->chunks.size(), 3u);
  EXPECT_EQ(c->chunks[0].data, "a APPEND INBOX ");  // without the "~"
  EXPECT_TRUE(c->chunks[1].literal);
  EXPECT_TRUE(c->chunks[1].binary);
  EXPECT_EQ(c->chunks[1].data, std::string("\0\1\2", 3));
}

TEST(ImapReader, BracesThatAreNotALiteralStayText) {
  Reader r(1000);
  for (const char* line : {"a SEARCH SUBJECT {x}", "a SEARCH SUBJECT {}", "a SEARCH SUBJECT {+}",
                           "a SEARCH SUBJECT {12a}", "a SEARCH SUBJECT {5} tail"}) {
    r.feed(std::string(line) + "\r\n");
    auto c = r.next();
    ASSERT_TRUE(c.has_value()) << line;
    EXPECT_EQ(parts(*c), (Parts{{false, line}})) << line;
  }
  EXPECT_EQ(r.take_output(), "");
}

TEST(ImapReader, CommandAfterALiteralCommandIsSeparate) {
  Reader r(1000);
  r.feed("a LOGIN {1+}\r\nx y\r\nb NOOP\r\n");
  auto a = r.next();
  auto b = r.next();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(parts(*a), (Parts{{false, "a LOGIN "}, {true, "x"}, {false, " y"}}));
  EXPECT_EQ(parts(*b), (Parts{{false, "b NOOP"}}));
}

// ---------------------------------------------------------------- next_line

TEST(ImapReader, NextLineTakesALineWithoutLiteralProcessing) {
  Reader r(1000);
  r.feed("AHVzZXI {5}\r\nDONE\r\n");
  EXPECT_EQ(r.next_line(), std::optional<std::string>("AHVzZXI {5}"));
  EXPECT_EQ(r.take_output(), "");
  EXPECT_EQ(r.next_line(), std::optional<std::string>("DONE"));
  EXPECT_FALSE(r.next_line().has_value());
}

// ---------------------------------------------------------------- limits

TEST(ImapReader, OverLongLineInOneFeedIsTooLongWithTheTagKept) {
  Reader r(1000);
  r.feed("t1 SEARCH TEXT " + std::string(Reader::kMaxText + 10, 'x') + "\r\nt2 NOOP\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->too_long);
  ASSERT_EQ(c->chunks.size(), 1u);
  EXPECT_EQ(c->chunks[0].data.substr(0, 3), "t1 ");
  EXPECT_LE(c->chunks[0].data.size(), 256u);
  auto next = r.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->too_long);
  EXPECT_EQ(parts(*next), (Parts{{false, "t2 NOOP"}}));
}

TEST(ImapReader, OverLongLineInPiecesIsTooLongWithTheTagKept) {
  Reader r(1000);
  r.feed("t1 SEARCH TEXT ");
  EXPECT_FALSE(r.next().has_value());
  const std::string piece(8192, 'x');
  for (int i = 0; i < 20; ++i) {  // 160 KiB without a line end: not kept in memory
    r.feed(piece);
    EXPECT_FALSE(r.next().has_value());
  }
  r.feed("\r\nt2 NOOP\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->too_long);
  ASSERT_FALSE(c->chunks.empty());
  EXPECT_EQ(c->chunks[0].data.substr(0, 3), "t1 ");
  EXPECT_LE(c->chunks[0].data.size(), 256u);
  auto next = r.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->too_long);
  EXPECT_EQ(parts(*next), (Parts{{false, "t2 NOOP"}}));
}

TEST(ImapReader, TextOverTheLimitAcrossLiteralsIsTooLong) {
  Reader r(1000);
  const std::string half(Reader::kMaxText / 2 + 10, 'x');
  r.feed("t1 SEARCH TEXT " + half + " TEXT {1+}\r\ny " + half + "\r\nt2 NOOP\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->too_long);
  ASSERT_EQ(c->chunks.size(), 1u);
  EXPECT_EQ(c->chunks[0].data.substr(0, 3), "t1 ");
  auto next = r.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(parts(*next), (Parts{{false, "t2 NOOP"}}));
}

TEST(ImapReader, LiteralOverTheTextLimitOutsideAppendIsRefusedWithoutContinuation) {
  Reader r(100 * 1024 * 1024);
  r.feed("t1 LOGIN {" + std::to_string(Reader::kMaxText + 1) + "}\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->too_long);
  EXPECT_EQ(c->chunks.front().data.substr(0, 3), "t1 ");
  EXPECT_EQ(r.take_output(), "");  // the client sends nothing more
  r.feed("t2 NOOP\r\n");
  auto next = r.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->too_long);
}

TEST(ImapReader, ManyLiteralsCannotAddUpBeyondTheLimits) {
  // Each literal within the limit for one, together far more than a command may hold.
  Reader r(1000);
  const std::string lit(Reader::kMaxText - 1, 'y');
  std::string cmd = "t1 SEARCH";
  for (int i = 0; i < 8; ++i) cmd += " TEXT {" + std::to_string(lit.size()) + "+}\r\n" + lit;
  cmd += "\r\nt2 NOOP\r\n";
  r.feed(cmd);
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->too_long);
  std::size_t held = 0;
  for (const auto& ch : c->chunks) held += ch.data.size();
  EXPECT_LT(held, 4 * Reader::kMaxText);
  auto next = r.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(parts(*next), (Parts{{false, "t2 NOOP"}}));
}

TEST(ImapReader, AppendLiteralUpToTheAppendLimitIsAccepted) {
  const std::size_t limit = Reader::kMaxText * 3;  // beyond the limit for other literals
  Reader r(limit);
  r.feed("t1 APPEND INBOX (\\Seen) {" + std::to_string(limit) + "}\r\n");
  EXPECT_FALSE(r.next().has_value());
  EXPECT_EQ(r.take_output(), kReady);
  const std::string message(limit, 'm');
  r.feed(message);
  r.feed("\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->too_long);
  ASSERT_EQ(c->chunks.size(), 3u);
  EXPECT_EQ(c->chunks[1].data.size(), limit);
}

TEST(ImapReader, AppendVerbIsCaseInsensitive) {
  const std::size_t limit = Reader::kMaxText * 2;
  Reader r(limit);
  r.feed("t1 append INBOX {" + std::to_string(limit) + "+}\r\n" + std::string(limit, 'm') + "\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->too_long);
}

TEST(ImapReader, SynchronizingAppendLiteralOverTheLimitIsRefusedWithoutContinuation) {
  Reader r(1000);
  r.feed("t1 APPEND INBOX {1001}\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->too_long);
  EXPECT_EQ(c->chunks.front().data.substr(0, 3), "t1 ");
  EXPECT_EQ(r.take_output(), "");
  r.feed("t2 NOOP\r\n");
  auto next = r.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(parts(*next), (Parts{{false, "t2 NOOP"}}));
}

TEST(ImapReader, NonSynchronizingAppendLiteralOverTheLimitIsReadAndDropped) {
  Reader r(1000);
  r.feed("t1 APPEND INBOX {1001+}\r\n");
  EXPECT_FALSE(r.next().has_value());
  // The octets of the literal must not be taken for commands.
  std::string lit(1001, 'z');
  lit.replace(0, 11, "\r\nx LOGOUT\r\n");
  r.feed(lit);
  EXPECT_FALSE(r.next().has_value());
  r.feed("\r\nt2 NOOP\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->too_long);
  EXPECT_EQ(c->chunks.size(), 1u);
  EXPECT_EQ(c->chunks.front().data.substr(0, 3), "t1 ");
  EXPECT_EQ(r.take_output(), "");
  auto next = r.next();
  ASSERT_TRUE(next.has_value());
  EXPECT_FALSE(next->too_long);
  EXPECT_EQ(parts(*next), (Parts{{false, "t2 NOOP"}}));
}

TEST(ImapReader, HugeLiteralSizeIsRefused) {
  Reader r(1000);
  r.feed("t1 APPEND INBOX {99999999999999999999}\r\nt2 NOOP\r\n");  // does not fit in 64 bits
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  auto n = r.next();
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(n->chunks.front().data, "t2 NOOP");
  r.feed("t3 APPEND INBOX {9999999999999999999}\r\nt4 NOOP\r\n");
  auto big = r.next();
  ASSERT_TRUE(big.has_value());
  EXPECT_TRUE(big->too_long);
  EXPECT_EQ(r.take_output(), "");
}

TEST(ImapReader, ResetAfterTooLongStartsCleanly) {
  Reader r(1000);
  r.feed("t1 APPEND INBOX {5000}\r\n");
  ASSERT_TRUE(r.next().has_value());
  r.feed("t2 LOGIN {2+}\r\nab cd\r\n");
  auto c = r.next();
  ASSERT_TRUE(c.has_value());
  EXPECT_FALSE(c->too_long);
  EXPECT_EQ(parts(*c), (Parts{{false, "t2 LOGIN "}, {true, "ab"}, {false, " cd"}}));
}

}  // namespace
}  // namespace poshta::imap
