// pop3/encoder: a stored message turned into RETR's and TOP's multi-line
// response (RFC 1939 §3, §7): CRLF line ends, byte-stuffed dots, the
// terminating ".", and with TOP only the header and the first lines of the
// body; the same output however the message is cut into chunks.
#include "pop3/encoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace poshta::pop3 {
namespace {

// The whole message in one feed.
std::string encode(std::string_view message, std::optional<std::uint64_t> body_lines = std::nullopt) {
  MessageEncoder e(body_lines);
  std::string out;
  e.feed(message, out);
  e.finish(out);
  return out;
}

// The message in chunks of `chunk` octets; stops feeding once done().
std::string encode_chunked(std::string_view message, std::size_t chunk,
                           std::optional<std::uint64_t> body_lines = std::nullopt) {
  MessageEncoder e(body_lines);
  std::string out;
  for (std::size_t i = 0; i < message.size() && !e.done(); i += chunk) e.feed(message.substr(i, chunk), out);
  e.finish(out);
  return out;
}

const std::string kStored =
    "Return-Path: <a@b.test>\n"
    "Subject: dots\n"
    "\n"
    "first\n"
    ".leading dot\n"
    ".\n"
    "..two\n"
    "\n"
    "last line\n";

const std::string kWire =
    "Return-Path: <a@b.test>\r\n"
    "Subject: dots\r\n"
    "\r\n"
    "first\r\n"
    "..leading dot\r\n"
    "..\r\n"
    "...two\r\n"
    "\r\n"
    "last line\r\n"
    ".\r\n";

TEST(Pop3Encoder, LfBecomesCrLfAndDotsAreStuffed) {
  EXPECT_EQ(encode(kStored), kWire);
}

TEST(Pop3Encoder, CrLfIsKept) {
  EXPECT_EQ(encode("A: b\r\n\r\nbody\r\n.x\r\n"), "A: b\r\n\r\nbody\r\n..x\r\n.\r\n");
}

TEST(Pop3Encoder, MixedLineEnds) {
  EXPECT_EQ(encode("A: b\n\r\nx\r\ny\n"), "A: b\r\n\r\nx\r\ny\r\n.\r\n");
}

TEST(Pop3Encoder, BareCrIsNeverSentBare) {
  EXPECT_EQ(encode("A: b\n\none\rtwo\n"), "A: b\r\n\r\none\r\ntwo\r\n.\r\n");
  EXPECT_EQ(encode("A: b\n\nend\r"), "A: b\r\n\r\nend\r\n.\r\n");
  EXPECT_EQ(encode("A: b\n\nx\r.y\n"), "A: b\r\n\r\nx\r\n..y\r\n.\r\n");
}

TEST(Pop3Encoder, FinalLineWithoutNewlineIsEnded) {
  EXPECT_EQ(encode("A: b\n\nno newline"), "A: b\r\n\r\nno newline\r\n.\r\n");
  EXPECT_EQ(encode("A: b\n\n."), "A: b\r\n\r\n..\r\n.\r\n");
}

TEST(Pop3Encoder, EmptyMessage) {
  EXPECT_EQ(encode(""), ".\r\n");
}

TEST(Pop3Encoder, DotOnlyInTheFirstColumn) {
  EXPECT_EQ(encode("A: b\n\na.b\n . c\n"), "A: b\r\n\r\na.b\r\n . c\r\n.\r\n");
}

TEST(Pop3Encoder, TopZeroSendsTheHeaderAndTheBlankLine) {
  EXPECT_EQ(encode(kStored, 0),
            "Return-Path: <a@b.test>\r\n"
            "Subject: dots\r\n"
            "\r\n"
            ".\r\n");
}

TEST(Pop3Encoder, TopTwoSendsTwoBodyLines) {
  EXPECT_EQ(encode(kStored, 2),
            "Return-Path: <a@b.test>\r\n"
            "Subject: dots\r\n"
            "\r\n"
            "first\r\n"
            "..leading dot\r\n"
            ".\r\n");
}

TEST(Pop3Encoder, TopCountsEmptyBodyLines) {
  EXPECT_EQ(encode("A: b\n\n\n\nthird\n", 2), "A: b\r\n\r\n\r\n\r\n.\r\n");
}

TEST(Pop3Encoder, TopWithMoreLinesThanTheBodyHasSendsAll) {
  EXPECT_EQ(encode(kStored, 1000), kWire);
}

TEST(Pop3Encoder, TopOfAMessageWithoutBody) {
  EXPECT_EQ(encode("A: b\nC: d\n", 0), "A: b\r\nC: d\r\n.\r\n");
  EXPECT_EQ(encode("A: b\nC: d", 3), "A: b\r\nC: d\r\n.\r\n");
}

TEST(Pop3Encoder, TopWithCrLfInput) {
  EXPECT_EQ(encode("A: b\r\n\r\none\r\ntwo\r\n", 1), "A: b\r\n\r\none\r\n.\r\n");
}

TEST(Pop3Encoder, DoneOnlyForTopOnceItHasAll) {
  MessageEncoder top(1);
  std::string out;
  top.feed("A: b\n", out);
  EXPECT_FALSE(top.done());
  top.feed("\n", out);
  EXPECT_FALSE(top.done());
  top.feed("one\ntwo\nthree\n", out);
  EXPECT_TRUE(top.done());
  top.feed("more\n", out);  // ignored once done
  top.finish(out);
  EXPECT_EQ(out, "A: b\r\n\r\none\r\n.\r\n");

  MessageEncoder retr;
  std::string all;
  retr.feed(kStored, all);
  EXPECT_FALSE(retr.done());
}

TEST(Pop3Encoder, DoneWithTopZeroRightAfterTheHeader) {
  MessageEncoder e(0);
  std::string out;
  e.feed("A: b\r\n\r", out);
  EXPECT_FALSE(e.done());  // the CR might start a CRLF
  e.feed("\nbody\n", out);
  EXPECT_TRUE(e.done());
  e.finish(out);
  EXPECT_EQ(out, "A: b\r\n\r\n.\r\n");
}

TEST(Pop3Encoder, OneOctetAtATimeGivesTheSameOutput) {
  const std::string messages[] = {
      kStored, "A: b\r\n\r\nx\r\n.\r\n..\r\nend", "A: b\n\nx\r.y\r\rz\n\r", "", ".", "\r\n.\r\n",
  };
  for (const auto& m : messages) {
    EXPECT_EQ(encode_chunked(m, 1), encode(m)) << m;
    for (std::uint64_t lines : {0, 1, 2, 5}) EXPECT_EQ(encode_chunked(m, 1, lines), encode(m, lines)) << m;
  }
}

TEST(Pop3Encoder, EveryChunkBoundaryGivesTheSameOutput) {
  const std::string m = "A: b\r\nC: .d\n\r\n.x\r\ny\rz\n..\n\nlast";
  const std::string whole = encode(m);
  const std::string top = encode(m, 2);
  for (std::size_t cut = 0; cut <= m.size(); ++cut) {
    for (bool with_top : {false, true}) {
      MessageEncoder e(with_top ? std::optional<std::uint64_t>(2) : std::nullopt);
      std::string out;
      e.feed(std::string_view(m).substr(0, cut), out);
      e.feed(std::string_view(m).substr(cut), out);
      e.finish(out);
      EXPECT_EQ(out, with_top ? top : whole) << "cut at " << cut;
    }
  }
  for (std::size_t chunk : {2, 3, 7, 64}) EXPECT_EQ(encode_chunked(m, chunk), whole) << chunk;
}

TEST(Pop3Encoder, LargeMessageInChunks) {
  std::string m = "Subject: big\n\n";
  for (int i = 0; i < 20000; ++i) m += (i % 7 == 0 ? ".line " : "line ") + std::to_string(i) + "\n";
  const std::string whole = encode(m);
  EXPECT_EQ(encode_chunked(m, 4096), whole);
  EXPECT_EQ(encode_chunked(m, 4093), whole);
  // The wire form: one CR per LF, one dot per line that starts with one, and ".\r\n".
  std::size_t lf = 0, dots = 0;
  for (std::size_t i = 0; i < m.size(); ++i) {
    if (m[i] == '\n') ++lf;
    if (m[i] == '.' && (i == 0 || m[i - 1] == '\n')) ++dots;
  }
  EXPECT_EQ(whole.size(), m.size() + lf + dots + 3);
}

}  // namespace
}  // namespace poshta::pop3
