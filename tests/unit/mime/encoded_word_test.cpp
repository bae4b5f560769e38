// mime/encoded_word and mime/charset: RFC 2047 encoded words decoded to
// UTF-8, for SEARCH.
#include "mime/encoded_word.hpp"

#include <gtest/gtest.h>

#include <string>

#include "mime/charset.hpp"

namespace poshta::mime {
namespace {

// RFC 2047 §8, the table of how white space between words is displayed.
TEST(EncodedWord, Rfc2047WhiteSpaceExamples) {
  const std::pair<const char*, const char*> cases[] = {
      {"(=?ISO-8859-1?Q?a?=)", "(a)"},
      {"(=?ISO-8859-1?Q?a?= b)", "(a b)"},
      {"(=?ISO-8859-1?Q?a?= =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a?=  =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a?=\r\n    =?ISO-8859-1?Q?b?=)", "(ab)"},
      {"(=?ISO-8859-1?Q?a_b?=)", "(a b)"},
      {"(=?ISO-8859-1?Q?a?= =?ISO-8859-2?Q?_b?=)", "(a b)"},
  };
  for (const auto& [in, want] : cases) EXPECT_EQ(decode_encoded_words(in), want) << in;
}

// RFC 2047 §8, the example header fields.
TEST(EncodedWord, Rfc2047HeaderExamples) {
  EXPECT_EQ(decode_encoded_words(" =?US-ASCII?Q?Keith_Moore?= <moore@cs.utk.edu>"), " Keith Moore <moore@cs.utk.edu>");
  EXPECT_EQ(decode_encoded_words(" =?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>"),
            " Keld Jørn Simonsen <keld@dkuug.dk>");
  EXPECT_EQ(decode_encoded_words(" =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>"),
            " André Pirard <PIRARD@vm1.ulg.ac.be>");
  EXPECT_EQ(decode_encoded_words(" =?ISO-8859-1?B?SWYgeW91IGNhbiByZWFkIHRoaXMgeW8=?=\r\n"
                                 "    =?ISO-8859-2?B?dSB1bmRlcnN0YW5kIHRoZSBleGFtcGxlLg==?="),
            " If you can read this you understand the example.");
  EXPECT_EQ(decode_encoded_words(" =?ISO-8859-1?Q?Olle_J=E4rnefors?= <ojarnef@admin.kth.se>"),
            " Olle Järnefors <ojarnef@admin.kth.se>");
  // ISO-8859-8 goes through iconv.
  EXPECT_EQ(decode_encoded_words(" Nathaniel Borenstein <nsb@thumper.bellcore.com>\r\n"
                                 "    (=?iso-8859-8?b?7eXs+SDv4SDp7Oj08A==?=)"),
            " Nathaniel Borenstein <nsb@thumper.bellcore.com>    (םולש ןב ילטפנ)");
}

TEST(EncodedWord, TextWithoutEncodedWordsIsOnlyUnfolded) {
  EXPECT_EQ(decode_encoded_words("plain text"), "plain text");
  EXPECT_EQ(decode_encoded_words("folded\r\n text"), "folded text");
  EXPECT_EQ(decode_encoded_words("raw UTF-8 ü stays"), "raw UTF-8 ü stays");
  EXPECT_EQ(decode_encoded_words(""), "");
}

TEST(EncodedWord, WhiteSpaceNextToOrdinaryTextIsKept) {
  EXPECT_EQ(decode_encoded_words("a =?utf-8?q?b?= c"), "a b c");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?a?=\tb"), "a\tb");
  EXPECT_EQ(decode_encoded_words("x=?utf-8?q?a?=y"), "xay");  // lenient: not only between spaces
}

TEST(EncodedWord, CaseLanguageAndEncodings) {
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?caf=c3=a9?="), "café");
  EXPECT_EQ(decode_encoded_words("=?UTF-8*en?Q?hello?="), "hello");  // RFC 2231 §5
  EXPECT_EQ(decode_encoded_words("=?utf-8?b?w7w=?="), "ü");
  EXPECT_EQ(decode_encoded_words("=?utf-8?B?w7w?="), "ü");  // padding forgiven
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?a=3F=5Fb?="), "a?_b");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?100=?="), "100=");  // a stray '=' stays
  EXPECT_EQ(decode_encoded_words("=?windows-1252?q?=80_=93x=94?="), "€ “x”");
  EXPECT_EQ(decode_encoded_words("=?iso-8859-1?q?=A3?="), "£");
}

TEST(EncodedWord, CharacterSplitAcrossWordsIsJoined) {
  // U+20AC is E2 82 AC; mailers split B words at any octet.
  EXPECT_EQ(decode_encoded_words("=?utf-8?b?4oI=?= =?utf-8?b?rA==?="), "€");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?=E2?=\r\n =?UTF-8?q?=82=AC?= x"), "€ x");
}

TEST(EncodedWord, UndecodableWordsStayAsTheyAre) {
  EXPECT_EQ(decode_encoded_words("=?x-no-such-charset?q?abc?= d"), "=?x-no-such-charset?q?abc?= d");
  EXPECT_EQ(decode_encoded_words("=?utf-8?b?!!!!?="), "=?utf-8?b?!!!!?=");
  EXPECT_EQ(decode_encoded_words("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?=FF?= =?utf-8?q?ok?="), "=?utf-8?q?=FF?= =?utf-8?q?ok?=");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?has space?="), "=?utf-8?q?has space?=");
  EXPECT_EQ(decode_encoded_words("=?utf-8?q?x?= =?bad?q?=FF?= =?utf-8?q?y?="), "x=?bad?q?=FF?=y");
  for (const char* s : {"=?", "=?=?", "=?utf-8", "=?utf-8?q", "=?utf-8?q?", "=?utf-8?q?x", "=?utf-8?q?x?", "=??q?x?="})
    EXPECT_EQ(decode_encoded_words(s), s) << s;
}

TEST(EncodedWordCharset, Utf8IsValidated) {
  EXPECT_TRUE(is_valid_utf8("plain ü € 😀"));
  EXPECT_FALSE(is_valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));      // a UTF-16 surrogate
  EXPECT_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(is_valid_utf8("\xE2\x82"));          // cut short
  EXPECT_EQ(to_utf8("UTF-8", "\xE2\x82\xAC"), "€");
  EXPECT_EQ(to_utf8("us-ascii", "abc"), "abc");
  EXPECT_EQ(to_utf8("utf-8", "\xFF"), std::nullopt);
}

TEST(EncodedWordCharset, TablesAndIconv) {
  EXPECT_EQ(to_utf8("Latin1", "\xE9\x80"), "é€");
  EXPECT_EQ(to_utf8("koi8-r", "\xF0\xD2\xC9\xD7\xC5\xD4"), "Привет");
  EXPECT_EQ(to_utf8("iso-2022-jp", "\x1B$B$3$s$K$A$O\x1B(B"), "こんにちは");
  EXPECT_EQ(to_utf8("shift_jis", "\x82"), std::nullopt);  // cut short
  EXPECT_EQ(to_utf8("x-no-such-charset", "abc"), std::nullopt);
  EXPECT_EQ(to_utf8("UTF-8//TRANSLIT", "abc"), std::nullopt);  // only plain names reach iconv
  EXPECT_EQ(to_utf8("../../etc/x", "abc"), std::nullopt);
}

}  // namespace
}  // namespace poshta::mime
