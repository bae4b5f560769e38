// store/mutf7: IMAP's modified UTF-7 (RFC 3501 §5.1.3), in both directions;
// only the one allowed form of a name decodes.
#include "store/mutf7.hpp"

#include <gtest/gtest.h>

#include <string>

namespace poshta::store {
namespace {

TEST(Mutf7, RfcExamplesDecode) {
  EXPECT_EQ(mutf7_to_utf8("~peter/mail/&U,BTFw-/&ZeVnLIqe-"), "~peter/mail/台北/日本語");
  EXPECT_EQ(mutf7_to_utf8("&Jjo-!"), "☺!");
  EXPECT_EQ(mutf7_to_utf8("&U,BTF2XlZyyKng-"), "台北日本語");
}

TEST(Mutf7, RfcExamplesEncode) {
  EXPECT_EQ(utf8_to_mutf7("~peter/mail/台北/日本語"), "~peter/mail/&U,BTFw-/&ZeVnLIqe-");
  EXPECT_EQ(utf8_to_mutf7("☺!"), "&Jjo-!");
  // One run for adjacent characters, never "&U,BTFw-&ZeVnLIqe-".
  EXPECT_EQ(utf8_to_mutf7("台北日本語"), "&U,BTF2XlZyyKng-");
}

TEST(Mutf7, AmpersandIsAmpersandDash) {
  EXPECT_EQ(utf8_to_mutf7("&"), "&-");
  EXPECT_EQ(utf8_to_mutf7("Tom & Jerry"), "Tom &- Jerry");
  EXPECT_EQ(mutf7_to_utf8("&-"), "&");
  EXPECT_EQ(mutf7_to_utf8("Tom &- Jerry"), "Tom & Jerry");
  EXPECT_EQ(mutf7_to_utf8("&-&-"), "&&");
  EXPECT_EQ(utf8_to_mutf7("ü&ü"), "&APw-&-&APw-");
  EXPECT_EQ(mutf7_to_utf8("&APw-&-&APw-"), "ü&ü");
}

TEST(Mutf7, PrintableAsciiStandsForItself) {
  std::string ascii;
  for (char c = 0x20; c < 0x7f; ++c) {
    if (c != '&') ascii += c;
  }
  EXPECT_EQ(utf8_to_mutf7(ascii), ascii);
  EXPECT_EQ(mutf7_to_utf8(ascii), ascii);
  EXPECT_EQ(utf8_to_mutf7(""), "");
  EXPECT_EQ(mutf7_to_utf8(""), "");
}

TEST(Mutf7, OtherCharacters) {
  EXPECT_EQ(utf8_to_mutf7("Entwürfe"), "Entw&APw-rfe");
  EXPECT_EQ(mutf7_to_utf8("Entw&APw-rfe"), "Entwürfe");
  EXPECT_EQ(utf8_to_mutf7("Корзина"), "&BBoEPgRABDcEOAQ9BDA-");
  EXPECT_EQ(mutf7_to_utf8("&BBoEPgRABDcEOAQ9BDA-"), "Корзина");
  // Beyond the BMP: a surrogate pair.
  EXPECT_EQ(utf8_to_mutf7("😀"), "&2D3eAA-");
  EXPECT_EQ(mutf7_to_utf8("&2D3eAA-"), "😀");
  // Control characters are encoded too.
  EXPECT_EQ(utf8_to_mutf7("\x01"), "&AAE-");
  EXPECT_EQ(mutf7_to_utf8("&AAE-"), "\x01");
}

TEST(Mutf7, RoundTrips) {
  for (const char* s : {"INBOX", "Archive.2026", "Gelöschte Elemente", "Входящие.Архив", "送信済み", "a&b&ü&😀x", "😀😀",
                        "ü", "üü", "üüü", "Ω.ü"}) {
    const std::string encoded = utf8_to_mutf7(s);
    for (char c : encoded) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << s;
    EXPECT_EQ(mutf7_to_utf8(encoded), s) << encoded;
  }
}

TEST(Mutf7, MalformedUtf8BecomesReplacementCharacters) {
  EXPECT_EQ(utf8_to_mutf7("\xff"), "&,,0-");
  EXPECT_EQ(utf8_to_mutf7("a\xc3"), "a&,,0-");       // cut short
  EXPECT_EQ(utf8_to_mutf7("\xc0\xaf"), "&,,3,,Q-");  // overlong '/': two bad octets
  EXPECT_EQ(utf8_to_mutf7("\xed\xa0\x80"), utf8_to_mutf7("\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"));  // a surrogate
  EXPECT_NE(mutf7_to_utf8(utf8_to_mutf7("\xff")), "\xff");
}

TEST(Mutf7, InvalidInputIsRefused) {
  for (const char* bad : {
           "&Jjo!",               // no shift back to US-ASCII
           "&",                   // the same, empty
           "abc&",                //
           "&U,BTFw-&ZeVnLIqe-",  // a superfluous shift (RFC 3501's own example)
           "&AGE-",               // 'a' encoded: must stand for itself
           "&ACY-",               // '&' encoded: must be "&-"
           "&Jjp-",               // padding bits not zero
           "&JjoA-",              // a BASE64 character too many
           "&J-",                 // not even one character
           "&A*A-",               // not BASE64
           "&Jjo=-",              // padding is not written
           "&2D0-",               // a high surrogate alone
           "&3AA-",               // a low surrogate alone
           "&2D3YPQ-",            // a high surrogate followed by another high one
           "tab\there",           // octets outside 0x20-0x7e
           "\x7f",                //
           "caf\xc3\xa9",         // 8-bit: UTF-8 is not modified UTF-7
       }) {
    EXPECT_EQ(mutf7_to_utf8(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace poshta::store
