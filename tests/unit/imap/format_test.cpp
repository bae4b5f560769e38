// imap/format: strings as IMAP sends them (quoted or literal, RFC 9051
// §4.3), INTERNALDATE, and LIST's pattern matching (§6.3.9).
#include "imap/format.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <random>
#include <string>
#include <string_view>

namespace poshta::imap {
namespace {

std::string str(std::string_view s) {
  std::string out;
  append_string(out, s);
  return out;
}

// ---------------------------------------------------------------- strings

TEST(ImapFormat, ShortSevenBitStringIsQuoted) {
  EXPECT_EQ(str("hello world"), "\"hello world\"");
  EXPECT_EQ(str(""), "\"\"");
  EXPECT_EQ(str("(a) {1} *%]"), "\"(a) {1} *%]\"");
}

TEST(ImapFormat, QuoteAndBackslashAreEscaped) {
  EXPECT_EQ(str("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(str("C:\\dir"), "\"C:\\\\dir\"");
}

TEST(ImapFormat, CrLfNulAndEightBitNeedALiteral) {
  EXPECT_EQ(str("a\r\nb"), "{4}\r\na\r\nb");
  EXPECT_EQ(str("line\n"), "{5}\r\nline\n");
  EXPECT_EQ(str("cr\r"), "{3}\r\ncr\r");
  EXPECT_EQ(str(std::string("a\0b", 3)), std::string("{3}\r\na\0b", 8));
  EXPECT_EQ(str("Gr\xc3\xbc\xc3\x9f"
                "e"),
            "{7}\r\nGr\xc3\xbc\xc3\x9f"
            "e");
}

TEST(ImapFormat, LongStringIsALiteral) {
  const std::string at_limit(1024, 'x');
  EXPECT_EQ(str(at_limit), "\"" + at_limit + "\"");
  const std::string over(1025, 'x');
  EXPECT_EQ(str(over), "{1025}\r\n" + over);
}

TEST(ImapFormat, AppendsToWhatIsThere) {
  std::string out = "* LIST () \".\" ";
  append_string(out, "INBOX");
  EXPECT_EQ(out, "* LIST () \".\" \"INBOX\"");
}

TEST(ImapFormat, NstringNil) {
  std::string out;
  append_nstring(out, std::nullopt);
  out += ' ';
  append_nstring(out, std::string_view("x"));
  out += ' ';
  append_nstring(out, std::string_view());
  EXPECT_EQ(out, "NIL \"x\" \"\"");
}

// ---------------------------------------------------------------- INTERNALDATE

TEST(ImapFormat, InternalDateIsUtcWithTwoDigitDay) {
  EXPECT_EQ(internal_date(0), "01-Jan-1970 00:00:00 +0000");
  EXPECT_EQ(internal_date(1793869200), "05-Nov-2026 09:00:00 +0000");
  EXPECT_EQ(internal_date(946684799), "31-Dec-1999 23:59:59 +0000");
  EXPECT_EQ(internal_date(951782400), "29-Feb-2000 00:00:00 +0000");
  EXPECT_EQ(internal_date(-1), "31-Dec-1969 23:59:59 +0000");
}

TEST(ImapFormat, InternalDateHasEveryMonth) {
  const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  // The 15th of each month of 2026, at noon.
  const std::int64_t jan15 = 1768478400;
  const int days_before[] = {0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334};
  for (int m = 0; m < 12; ++m) {
    const std::string got = internal_date(jan15 + days_before[m] * 86400LL);
    EXPECT_EQ(got, std::string("15-") + months[m] + "-2026 12:00:00 +0000");
  }
}

// ---------------------------------------------------------------- LIST patterns

TEST(ImapFormat, ListMatchLiteral) {
  EXPECT_TRUE(list_match("INBOX", "INBOX", '.'));
  EXPECT_FALSE(list_match("INBOX", "INBOX.a", '.'));
  EXPECT_FALSE(list_match("INBOX.a", "INBOX", '.'));
  EXPECT_FALSE(list_match("inbox", "INBOX", '.'));  // case matters (INBOX is the caller's business)
  EXPECT_TRUE(list_match("", "", '.'));
  EXPECT_FALSE(list_match("", "a", '.'));
}

TEST(ImapFormat, ListMatchStarMatchesEverything) {
  EXPECT_TRUE(list_match("*", "INBOX", '.'));
  EXPECT_TRUE(list_match("*", "Archive.2026.Q1", '.'));
  EXPECT_TRUE(list_match("*", "", '.'));
  EXPECT_TRUE(list_match("Archive*", "Archive", '.'));
  EXPECT_TRUE(list_match("Archive*", "Archive.2026", '.'));
  EXPECT_TRUE(list_match("Archive.*", "Archive.2026.Q1", '.'));
  EXPECT_FALSE(list_match("Archive.*", "Archive", '.'));
  EXPECT_TRUE(list_match("*6", "Archive.2026", '.'));
  EXPECT_TRUE(list_match("A*2*6", "Archive.2026", '.'));
  EXPECT_FALSE(list_match("A*7", "Archive.2026", '.'));
}

TEST(ImapFormat, ListMatchPercentStopsAtTheDelimiter) {
  EXPECT_TRUE(list_match("%", "INBOX", '.'));
  EXPECT_TRUE(list_match("%", "Sent", '.'));
  EXPECT_FALSE(list_match("%", "Archive.2026", '.'));
  EXPECT_TRUE(list_match("%.%", "Archive.2026", '.'));
  EXPECT_FALSE(list_match("%.%", "Archive.2026.Q1", '.'));
  EXPECT_TRUE(list_match("Archive.%", "Archive.2026", '.'));
  EXPECT_FALSE(list_match("Archive.%", "Archive.2026.Q1", '.'));
  EXPECT_TRUE(list_match("Ar%e", "Archive", '.'));
  EXPECT_FALSE(list_match("Ar%6", "Archive.2026", '.'));
  EXPECT_TRUE(list_match("%", "", '.'));
  // Another delimiter: '.' is then an ordinary character.
  EXPECT_TRUE(list_match("%", "Archive.2026", '/'));
  EXPECT_FALSE(list_match("%", "Archive/2026", '/'));
}

TEST(ImapFormat, ListMatchStarThenPercent) {
  EXPECT_TRUE(list_match("*.%", "a.b", '.'));
  EXPECT_TRUE(list_match("*.%", "a.b.c", '.'));  // "*" takes "a.b"
  EXPECT_FALSE(list_match("*.%", "abc", '.'));
  EXPECT_TRUE(list_match("*%", "a.b", '.'));
  EXPECT_TRUE(list_match("%*", "a.b", '.'));
  EXPECT_TRUE(list_match("*.%.c", "x.a.b.c", '.'));
  EXPECT_FALSE(list_match("%.%", "a.b.c", '.'));
}

// A plain recursive matcher as the reference.
bool reference_match(std::string_view p, std::string_view n, char delim) {
  if (p.empty()) return n.empty();
  if (p[0] == '*') {
    for (std::size_t k = 0; k <= n.size(); ++k) {
      if (reference_match(p.substr(1), n.substr(k), delim)) return true;
    }
    return false;
  }
  if (p[0] == '%') {
    for (std::size_t k = 0; k <= n.size(); ++k) {
      if (reference_match(p.substr(1), n.substr(k), delim)) return true;
      if (k < n.size() && n[k] == delim) break;
    }
    return false;
  }
  return !n.empty() && n[0] == p[0] && reference_match(p.substr(1), n.substr(1), delim);
}

TEST(ImapFormat, ListMatchAgreesWithAReferenceMatcher) {
  std::mt19937 rng(20260511);
  const char pattern_chars[] = {'a', 'b', '.', '*', '%'};
  const char name_chars[] = {'a', 'b', '.'};
  for (int i = 0; i < 20000; ++i) {
    std::string p, n;
    const int plen = static_cast<int>(rng() % 7);
    const int nlen = static_cast<int>(rng() % 8);
    for (int k = 0; k < plen; ++k) p += pattern_chars[rng() % 5];
    for (int k = 0; k < nlen; ++k) n += name_chars[rng() % 3];
    ASSERT_EQ(list_match(p, n, '.'), reference_match(p, n, '.')) << "pattern \"" << p << "\" name \"" << n << "\"";
  }
}

TEST(ImapFormat, ListMatchIsFastOnHostilePatterns) {
  const std::string name(255, 'a');
  std::string pattern;
  for (int i = 0; i < 2000; ++i) pattern += "*a";
  pattern += "b";
  EXPECT_FALSE(list_match(pattern, name, '.'));
  std::string percents;
  for (int i = 0; i < 2000; ++i) percents += "%a";
  percents += "b";
  EXPECT_FALSE(list_match(percents, name, '.'));
}

}  // namespace
}  // namespace poshta::imap
