// smtp/data_framer: DATA content (dot-terminated, dot-unstuffed) and BDAT
// content (counted), with the line-end and line-length checks that keep
// Poshta safe from SMTP smuggling. Every case is fed three ways (whole, byte
// by byte, split at every offset) and must come out the same.
#include "smtp/data_framer.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

namespace poshta::smtp {
namespace {

using Mode = DataFramer::Mode;
constexpr std::uint64_t kBig = 1 << 20;

struct Outcome {
  std::string body;
  std::size_t consumed = 0;
  bool done = false;
  bool bare = false;
  bool too_long = false;
  bool too_big = false;
  std::uint64_t size = 0;

  bool operator==(const Outcome&) const = default;
};

std::string describe(const Outcome& o) {
  std::string s = "consumed=" + std::to_string(o.consumed) + " done=" + std::to_string(o.done) +
                  " bare=" + std::to_string(o.bare) + " too_long=" + std::to_string(o.too_long) +
                  " too_big=" + std::to_string(o.too_big) + " size=" + std::to_string(o.size) + " body=[";
  for (char c : o.body) {
    if (c == '\r')
      s += "\\r";
    else if (c == '\n')
      s += "\\n";
    else
      s += c;
  }
  return s + "]";
}

Outcome finish(const DataFramer& f, std::string body, std::size_t consumed) {
  return {std::move(body), consumed, f.done(), f.bare_line_end(), f.line_too_long(), f.too_big(), f.size()};
}

// Feeds `pieces` in order, stopping once the framer is done (as the session does).
template <typename Pieces>
Outcome feed_pieces(const Pieces& pieces, Mode mode, std::uint64_t max) {
  DataFramer f(mode, max);
  std::string body;
  std::size_t consumed = 0;
  for (std::string_view p : pieces) {
    while (!p.empty() && !f.done()) {
      const std::size_t used = f.feed(p, body);
      consumed += used;
      p.remove_prefix(used);
      if (used == 0) break;
    }
    if (f.done()) break;
  }
  return finish(f, std::move(body), consumed);
}

// The framer's result for `input`, checked to be the same whether the input
// comes whole, one byte at a time, or in two pieces split at every offset.
Outcome grind(std::string_view input, Mode mode, std::uint64_t max = kBig) {
  const std::string_view one[] = {input};
  const Outcome whole = feed_pieces(one, mode, max);

  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  const Outcome bytewise = feed_pieces(bytes, mode, max);
  EXPECT_EQ(bytewise, whole) << "byte by byte: " << describe(bytewise) << "\nwhole:        " << describe(whole);

  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    const std::string_view two[] = {input.substr(0, cut), input.substr(cut)};
    const Outcome split = feed_pieces(two, mode, max);
    EXPECT_EQ(split, whole) << "split at " << cut << ": " << describe(split) << "\nwhole:       " << describe(whole);
    if (split != whole) break;  // one report per input is enough
  }
  return whole;
}

// ---------------------------------------------------------------- the end of data

TEST(DataFramer, EndsAtCrLfDotCrLf) {
  const std::string in = "Subject: hi\r\n\r\nbody\r\n.\r\n";
  const Outcome o = grind(in, Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, "Subject: hi\r\n\r\nbody\r\n");
  EXPECT_EQ(o.consumed, in.size());
  EXPECT_FALSE(o.bare);
  EXPECT_FALSE(o.too_long);
  EXPECT_FALSE(o.too_big);
  EXPECT_EQ(o.size, o.body.size());
}

TEST(DataFramer, StopsRightAfterTheEndAndLeavesTheRest) {
  const std::string in = "a\r\n.\r\nMAIL FROM:<x@y>\r\n";
  const Outcome o = grind(in, Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, "a\r\n");
  EXPECT_EQ(o.consumed, 6u);
}

TEST(DataFramer, EmptyMessageIsJustTheDotLine) {
  const Outcome o = grind(".\r\n", Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, "");
  EXPECT_EQ(o.consumed, 3u);
  EXPECT_EQ(o.size, 0u);
}

TEST(DataFramer, MessageOfOneEmptyLine) {
  const Outcome o = grind("\r\n.\r\n", Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, "\r\n");
}

TEST(DataFramer, NotDoneWithoutTheFinalDotLine) {
  for (std::string_view in : {"abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "abc\r\n. \r\n", "abc\r\n.x\r\n"}) {
    const Outcome o = grind(in, Mode::dot_terminated);
    EXPECT_FALSE(o.done) << describe(o);
    EXPECT_EQ(o.consumed, in.size()) << describe(o);
  }
}

TEST(DataFramer, DotNotAtLineStartIsContent) {
  const Outcome o = grind("a.\r\n .\r\nb\r\n.\r\n", Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, "a.\r\n .\r\nb\r\n");
}

// ---------------------------------------------------------------- dot-unstuffing

TEST(DataFramer, RemovesTheFirstDotOfALine) {
  const Outcome o = grind("..\r\n..x\r\n.y\r\n...\r\n.\r\n", Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_EQ(o.body, ".\r\n.x\r\ny\r\n..\r\n");
  EXPECT_FALSE(o.bare);
}

TEST(DataFramer, UnstuffsDotOnTheFirstLine) {
  const Outcome o = grind("..hidden\r\n.\r\n", Mode::dot_terminated);
  EXPECT_EQ(o.body, ".hidden\r\n");
}

// ---------------------------------------------------------------- bare CR / LF

TEST(DataFramer, FlagsBareLfAsContent) {
  const Outcome o = grind("a\nb\r\n.\r\n", Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.bare);
  EXPECT_EQ(o.body, "a\nb\r\n");
}

TEST(DataFramer, FlagsBareCrAsContent) {
  const Outcome o = grind("a\rb\r\n.\r\n", Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.bare);
  EXPECT_EQ(o.body, "a\rb\r\n");
}

TEST(DataFramer, FlagsCrCrLf) {
  const Outcome o = grind("a\r\r\n.\r\n", Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.bare);
}

TEST(DataFramer, RejectsBareLfBeforeDot) {
  // "\n.\n" and "\n.\r\n" must never end the data.
  for (std::string_view p : {"\n.\n", "\n.\r\n"}) {
    const std::string in = "x" + std::string(p) + "MAIL FROM:<e@f>";
    const Outcome o = grind(in, Mode::dot_terminated);
    EXPECT_FALSE(o.done);
    EXPECT_TRUE(o.bare);
    EXPECT_EQ(o.consumed, in.size());
  }
}

TEST(DataFramer, RejectsBareCrAroundDot) {
  const std::string in = std::string("x") + "\r.\r" + "MAIL FROM:<e@f>";
  const Outcome o = grind(in, Mode::dot_terminated);
  EXPECT_FALSE(o.done);
  EXPECT_TRUE(o.bare);
  EXPECT_EQ(o.consumed, in.size());
}

TEST(DataFramer, RejectsDotFollowedByBareLf) {
  const std::string in = std::string("x") + "\r\n.\n" + "MAIL FROM:<e@f>";
  const Outcome o = grind(in, Mode::dot_terminated);
  EXPECT_FALSE(o.done);
  EXPECT_TRUE(o.bare);
  EXPECT_EQ(o.consumed, in.size());
}

TEST(DataFramer, SmugglingPayloadsNeverEndDataAndAreFlaggedAtTheRealEnd) {
  for (std::string_view p : {"\n.\n", "\r.\r", "\n.\r\n", "\r\n.\n", "\r.\r\n", "\n.\r"}) {
    const std::string smuggled = "x" + std::string(p) + "MAIL FROM:<e@f>\r\nRCPT TO:<g@h>\r\nDATA\r\n";
    const std::string in = smuggled + "\r\n.\r\n";
    const Outcome o = grind(in, Mode::dot_terminated);
    EXPECT_TRUE(o.done);
    EXPECT_EQ(o.consumed, in.size()) << "ended early on a smuggling payload";
    EXPECT_TRUE(o.bare);
    EXPECT_NE(o.body.find("MAIL FROM:<e@f>\r\n"), std::string::npos) << "the smuggled command is content";
  }
}

TEST(DataFramer, SmugglingPayloadAtTheVeryStartDoesNotEndData) {
  for (std::string_view p : {".\n", "\n.\n", "\r.\r", ".\r"}) {
    const std::string in = std::string(p) + "QUIT\r\n";
    const Outcome o = grind(in, Mode::dot_terminated);
    EXPECT_FALSE(o.done);
    EXPECT_TRUE(o.bare);
    EXPECT_EQ(o.consumed, in.size());
  }
}

// ---------------------------------------------------------------- line length

TEST(DataFramer, LineOfExactly1000OctetsIsNotFlagged) {
  const std::string in = std::string(998, 'x') + "\r\n.\r\n";  // 998 + CRLF = 1000
  const Outcome o = grind(in, Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_FALSE(o.too_long);
}

TEST(DataFramer, LineOver1000OctetsIsFlagged) {
  const std::string in = std::string(999, 'x') + "\r\n.\r\n";  // 1001 with CRLF
  const Outcome o = grind(in, Mode::dot_terminated);
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.too_long);
  EXPECT_EQ(o.body, std::string(999, 'x') + "\r\n");
}

TEST(DataFramer, StuffedDotDoesNotCountTowardTheLineLimit) {
  // RFC 5321 §4.5.3.1.6: 1000 octets with CRLF, "not counting the leading dot
  // duplicated for transparency": "." + 998 + CRLF is fine, one more is not.
  EXPECT_FALSE(grind("." + std::string(998, '.') + "\r\n.\r\n", Mode::dot_terminated).too_long);
  EXPECT_TRUE(grind("." + std::string(999, '.') + "\r\n.\r\n", Mode::dot_terminated).too_long);
}

TEST(DataFramer, LongLineIsFlaggedEvenBeforeItsEnd) {
  const Outcome o = grind(std::string(1500, 'y'), Mode::dot_terminated);
  EXPECT_FALSE(o.done);
  EXPECT_TRUE(o.too_long);
}

TEST(DataFramer, ManyShortLinesAreNotTooLong) {
  std::string in;
  for (int i = 0; i < 50; ++i) in += std::string(998, static_cast<char>('a' + i % 26)) + "\r\n";
  in += ".\r\n";
  const std::string_view one[] = {in};
  const Outcome o = feed_pieces(one, Mode::dot_terminated, kBig);
  EXPECT_TRUE(o.done);
  EXPECT_FALSE(o.too_long);
}

// ---------------------------------------------------------------- size limit

TEST(DataFramer, ContentWithinLimitIsKept) {
  const Outcome o = grind("abcd\r\n.\r\n", Mode::dot_terminated, 6);
  EXPECT_TRUE(o.done);
  EXPECT_FALSE(o.too_big);
  EXPECT_EQ(o.body, "abcd\r\n");
  EXPECT_EQ(o.size, 6u);
}

TEST(DataFramer, SizeLimitAtLineBoundaryKeepsWholeLinesAndDropsTheRest) {
  const std::string in = "abcd\r\nefgh\r\nijkl\r\n.\r\n";
  const Outcome o = grind(in, Mode::dot_terminated, 6);
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.too_big);
  EXPECT_EQ(o.size, 18u);  // counted though dropped
  EXPECT_EQ(o.body, "abcd\r\n");
  EXPECT_EQ(o.consumed, in.size());
}

TEST(DataFramer, SizeLimitMidLineKeepsAtMostMaxOctetsTheSameHoweverFed) {
  const std::string in = "hello world\r\nsecond line\r\n.\r\n";
  const Outcome o = grind(in, Mode::dot_terminated, 5);
  EXPECT_TRUE(o.done);
  EXPECT_TRUE(o.too_big);
  EXPECT_EQ(o.size, 26u);
  EXPECT_LE(o.body.size(), 5u);
  EXPECT_EQ(std::string("hello world\r\nsecond line\r\n").substr(0, o.body.size()), o.body);
}

TEST(DataFramer, HugeMessageCostsNoMemoryBeyondTheLimit) {
  DataFramer f(Mode::dot_terminated, 1000);
  std::string body;
  const std::string line = std::string(500, 'z') + "\r\n";
  for (int i = 0; i < 10000; ++i) f.feed(line, body);
  f.feed(".\r\n", body);
  EXPECT_TRUE(f.done());
  EXPECT_TRUE(f.too_big());
  EXPECT_LE(body.size(), 1000u);
  EXPECT_EQ(f.size(), 10000u * line.size());
}

// ---------------------------------------------------------------- counted mode (BDAT)

TEST(DataFramer, CountedModeKeepsDotsAndNeverEnds) {
  const std::string in = "a\r\n.\r\n..b\r\n.\r\n";
  const Outcome o = grind(in, Mode::counted);
  EXPECT_FALSE(o.done);
  EXPECT_EQ(o.consumed, in.size());
  EXPECT_EQ(o.body, in);
  EXPECT_FALSE(o.bare);
}

TEST(DataFramer, CountedModeFlagsBareLineEnds) {
  EXPECT_TRUE(grind("a\nb\r\n", Mode::counted).bare);
  EXPECT_TRUE(grind("a\rb\r\n", Mode::counted).bare);
  EXPECT_FALSE(grind("a\r\nb\r\n", Mode::counted).bare);
}

TEST(DataFramer, CountedModeChecksLineLength) {
  EXPECT_FALSE(grind(std::string(998, 'x') + "\r\n", Mode::counted).too_long);
  EXPECT_TRUE(grind(std::string(999, 'x') + "\r\n", Mode::counted).too_long);
}

TEST(DataFramer, CountedModeAppliesTheSizeLimit) {
  const Outcome o = grind("abcd\r\nefgh\r\n", Mode::counted, 6);
  EXPECT_TRUE(o.too_big);
  EXPECT_EQ(o.size, 12u);
  EXPECT_EQ(o.body, "abcd\r\n");
}

TEST(DataFramer, SizeCountsUnstuffedContentOctets) {
  const Outcome o = grind("..ab\r\n.\r\n", Mode::dot_terminated);
  EXPECT_EQ(o.body, ".ab\r\n");
  EXPECT_EQ(o.size, 5u);
}

}  // namespace
}  // namespace poshta::smtp
