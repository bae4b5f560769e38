// mime/entity: the MIME structure of a message as IMAP's BODYSTRUCTURE,
// BODY[section] and SEARCH use it (RFC 2045, RFC 2046, RFC 9051 §6.4.5).
#include "mime/entity.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::mime {
namespace {

// The tests write messages with "\n"; the parser gets CRLF, as IMAP hands it.
std::string crlf(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c == '\n') out += '\r';
    out += c;
  }
  return out;
}

std::string body_of(const std::string& m, const Entity& e) {
  return std::string(e.body.of(m));
}

std::string header_of(const std::string& m, const Entity& e) {
  return std::string(e.header.of(m));
}

std::string type_of(const Entity& e) {
  return e.type + "/" + e.subtype;
}

std::size_t count_entities(const Entity& e) {
  std::size_t n = 1;
  for (const Entity& c : e.children) n += count_entities(c);
  return n;
}

std::size_t depth_of(const Entity& e) {
  std::size_t d = 0;
  for (const Entity& c : e.children) d = std::max(d, 1 + depth_of(c));
  return d;
}

const Entity* section(const Entity& root, std::vector<std::uint32_t> parts) {
  return find_section(root, parts);
}

TEST(MimeEntity, SimpleTextMessage) {
  const std::string m = crlf("From: a@example.org\nSubject: hi\n\nHello\nWorld\n");
  const Entity e = parse_message(m);
  EXPECT_EQ(type_of(e), "text/plain");
  EXPECT_EQ(e.params, (std::vector<Parameter>{{"charset", "us-ascii"}}));
  EXPECT_EQ(e.encoding, "7bit");
  EXPECT_EQ(header_of(m, e), crlf("From: a@example.org\nSubject: hi\n\n"));
  EXPECT_EQ(e.header.offset, 0u);
  EXPECT_EQ(e.body.offset, e.header.end());
  EXPECT_EQ(body_of(m, e), "Hello\r\nWorld\r\n");
  EXPECT_EQ(e.body.length, 14u);
  EXPECT_EQ(e.lines, 2u);
  EXPECT_TRUE(e.children.empty());
  EXPECT_FALSE(e.is_multipart());
  EXPECT_EQ(e.embedded_message(), nullptr);
}

TEST(MimeEntity, LastLineWithoutLineEndIsALine) {
  const std::string m = crlf("Subject: x\n\none\ntwo");
  const Entity e = parse_message(m);
  EXPECT_EQ(body_of(m, e), "one\r\ntwo");
  EXPECT_EQ(e.lines, 2u);
}

TEST(MimeEntity, EmptyBodyAndHeaderOnlyMessages) {
  const std::string blank = crlf("Subject: x\n\n");
  const Entity a = parse_message(blank);
  EXPECT_EQ(a.header.length, blank.size());
  EXPECT_EQ(a.body.offset, blank.size());
  EXPECT_EQ(a.body.length, 0u);
  EXPECT_EQ(a.lines, 0u);

  const std::string only = "Subject: x";
  const Entity b = parse_message(only);
  EXPECT_EQ(b.header.length, only.size());
  EXPECT_EQ(b.body.length, 0u);

  const Entity c = parse_message("");
  EXPECT_EQ(c.header.length, 0u);
  EXPECT_EQ(c.body.length, 0u);
  EXPECT_EQ(type_of(c), "text/plain");
}

TEST(MimeEntity, BodyOfOnlyBlankLinesCountsThem) {
  const std::string m = crlf("Subject: x\n\n\n\n");
  const Entity e = parse_message(m);
  EXPECT_EQ(e.body.length, 4u);
  EXPECT_EQ(e.lines, 2u);
}

// RFC 2045 §5.2: no Content-Type, or one that does not parse, is
// text/plain; charset=us-ascii; RFC 2046 §4.1.2: text/* defaults its charset.
TEST(MimeEntityDefaults, MissingOrInvalidContentTypeIsTextPlainUsAscii) {
  for (const char* ct : {"", "Content-Type: garbage\n", "Content-Type: text/\n", "Content-Type: /plain\n"}) {
    const std::string m = crlf(std::string(ct) + "Subject: x\n\nbody\n");
    const Entity e = parse_message(m);
    EXPECT_EQ(type_of(e), "text/plain") << ct;
    EXPECT_EQ(e.params, (std::vector<Parameter>{{"charset", "us-ascii"}})) << ct;
    EXPECT_EQ(e.encoding, "7bit") << ct;
  }
}

TEST(MimeEntityDefaults, TextWithoutCharsetGetsUsAsciiOtherTypesGetNothing) {
  const Entity html = parse_message(crlf("Content-Type: TEXT/HTML\n\n<p>\n"));
  EXPECT_EQ(type_of(html), "text/html");
  EXPECT_EQ(html.params, (std::vector<Parameter>{{"charset", "us-ascii"}}));
  const Entity utf8 = parse_message(crlf("Content-Type: text/plain; charset=UTF-8; format=flowed\n\nx\n"));
  EXPECT_EQ(utf8.params, (std::vector<Parameter>{{"charset", "UTF-8"}, {"format", "flowed"}}));
  const Entity pdf = parse_message(crlf("Content-Type: application/pdf\n\nx\n"));
  EXPECT_EQ(type_of(pdf), "application/pdf");
  EXPECT_TRUE(pdf.params.empty());
}

TEST(MimeEntityDefaults, AbsentContentFieldsAreNil) {
  const Entity e = parse_message(crlf("Subject: x\n\nbody\n"));
  EXPECT_FALSE(e.id);
  EXPECT_FALSE(e.description);
  EXPECT_FALSE(e.location);
  EXPECT_FALSE(e.md5);
  EXPECT_FALSE(e.disposition);
  EXPECT_TRUE(e.disposition_params.empty());
  EXPECT_TRUE(e.languages.empty());
}

TEST(MimeEntity, ContentFieldsAreRead) {
  const std::string m = crlf(
      "Content-Type: application/octet-stream; name=\"report.bin\"\n"
      "Content-Transfer-Encoding: BASE64\n"
      "Content-ID: <part1@example.org>\n"
      "Content-Description: the quarterly\n  report\n"
      "Content-Disposition: Attachment; filename=\"report.bin\"; size=120\n"
      "Content-Language: en, de (German)\n"
      "Content-Location: http://example.org/report.bin\n"
      "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\n"
      "\n"
      "AAAA\n");
  const Entity e = parse_message(m);
  EXPECT_EQ(type_of(e), "application/octet-stream");
  EXPECT_EQ(e.params, (std::vector<Parameter>{{"name", "report.bin"}}));
  EXPECT_EQ(e.encoding, "base64");
  EXPECT_EQ(e.id, "<part1@example.org>");
  EXPECT_EQ(e.description, "the quarterly\r\n  report");  // raw, still folded
  EXPECT_EQ(e.disposition, "attachment");
  EXPECT_EQ(e.disposition_params, (std::vector<Parameter>{{"filename", "report.bin"}, {"size", "120"}}));
  EXPECT_EQ(e.languages, (std::vector<std::string_view>{"en", "de"}));
  EXPECT_EQ(e.location, "http://example.org/report.bin");
  EXPECT_EQ(e.md5, "Q2hlY2sgSW50ZWdyaXR5IQ==");
  // Raw values are views of the message, not copies.
  EXPECT_GE(e.id->data(), m.data());
  EXPECT_LE(e.id->data() + e.id->size(), m.data() + m.size());
}

TEST(MimeEntity, FirstContentTypeCountsAndFieldNamesAreCaseInsensitive) {
  const Entity e = parse_message(crlf("CONTENT-TYPE: image/png\ncontent-type: text/plain\n\nx\n"));
  EXPECT_EQ(type_of(e), "image/png");
}

// A message with a multipart/mixed of three parts, the second a nested
// multipart/alternative.
const char* const kMixed =
    "From: a@example.org\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed; boundary=\"outer\"\n"
    "\n"
    "--outer\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "\n"
    "first part\n"
    "--outer\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "\n"
    "plain\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<b>html</b>\n"
    "--inner--\n"
    "--outer\n"
    "Content-Type: application/pdf\n"
    "Content-Transfer-Encoding: base64\n"
    "\n"
    "JVBERi0=\n"
    "--outer--\n";

TEST(MimeEntityMultipart, MixedWithThreePartsAndNestedAlternative) {
  const std::string m = crlf(kMixed);
  const Entity root = parse_message(m);
  EXPECT_EQ(type_of(root), "multipart/mixed");
  EXPECT_EQ(root.params, (std::vector<Parameter>{{"boundary", "outer"}}));
  ASSERT_EQ(root.children.size(), 3u);

  const Entity& text = root.children[0];
  EXPECT_EQ(type_of(text), "text/plain");
  EXPECT_EQ(header_of(m, text), crlf("Content-Type: text/plain; charset=utf-8\n\n"));
  EXPECT_EQ(body_of(m, text), "first part");  // the CRLF before the delimiter is the delimiter's
  EXPECT_EQ(text.lines, 1u);

  const Entity& alt = root.children[1];
  EXPECT_EQ(type_of(alt), "multipart/alternative");
  ASSERT_EQ(alt.children.size(), 2u);
  EXPECT_EQ(header_of(m, alt.children[0]), "\r\n");
  EXPECT_EQ(type_of(alt.children[0]), "text/plain");
  EXPECT_EQ(body_of(m, alt.children[0]), "plain");
  EXPECT_EQ(type_of(alt.children[1]), "text/html");
  EXPECT_EQ(body_of(m, alt.children[1]), "<b>html</b>");
  EXPECT_EQ(body_of(m, alt), crlf("--inner\n\nplain\n--inner\nContent-Type: text/html\n\n<b>html</b>\n--inner--"));

  const Entity& pdf = root.children[2];
  EXPECT_EQ(type_of(pdf), "application/pdf");
  EXPECT_EQ(pdf.encoding, "base64");
  EXPECT_EQ(body_of(m, pdf), "JVBERi0=");
  EXPECT_EQ(pdf.body.length, 8u);

  // The root's body runs to the end of the message.
  EXPECT_EQ(root.body.end(), m.size());
}

TEST(MimeEntityMultipart, PreambleAndEpilogueAreIgnored) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "This is the preamble.\n"
      "--b is not here: a preamble line\n"
      "--b\n"
      "\n"
      "one\n"
      "--b\n"
      "\n"
      "two\n"
      "--b--\n"
      "This is the epilogue.\n"
      "--b\n"
      "\n"
      "not a part\n");
  const Entity root = parse_message(m);
  // "--b is not here" starts with the delimiter: RFC 2046 §5.1.1 matches
  // the boundary against the start of the line only, so it is one.
  ASSERT_EQ(root.children.size(), 3u);
  EXPECT_EQ(body_of(m, root.children[0]), "");
  EXPECT_EQ(body_of(m, root.children[1]), "one");
  EXPECT_EQ(body_of(m, root.children[2]), "two");
}

TEST(MimeEntityMultipart, PreambleAndEpilogueWithoutLookalikes) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "preamble line 1\n"
      "preamble line 2\n"
      "--b\n"
      "\n"
      "one\n"
      "--b\n"
      "\n"
      "two\n"
      "--b--\n"
      "epilogue\n"
      "--b\n"
      "still epilogue\n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  EXPECT_EQ(body_of(m, root.children[0]), "one");
  EXPECT_EQ(body_of(m, root.children[1]), "two");
  EXPECT_EQ(root.body.end(), m.size());
}

TEST(MimeEntityMultipart, BoundaryInsideALineIsNotADelimiter) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "--b\n"
      "\n"
      "text --b more\n"
      "x--b\n"
      " --b\n"
      "--b\n"
      "\n"
      "second\n"
      "--b--\n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  EXPECT_EQ(body_of(m, root.children[0]), crlf("text --b more\nx--b\n --b"));
  EXPECT_EQ(root.children[0].lines, 3u);
  EXPECT_EQ(body_of(m, root.children[1]), "second");
}

TEST(MimeEntityMultipart, TransportPaddingAfterTheDelimiter) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=\"b\"\n"
      "\n"
      "--b \t \n"
      "\n"
      "one\n"
      "--b\t\n"
      "\n"
      "two\n"
      "--b--   \n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  EXPECT_EQ(body_of(m, root.children[0]), "one");
  EXPECT_EQ(body_of(m, root.children[1]), "two");
}

TEST(MimeEntityMultipart, MissingCloseDelimiterEndsAtTheEndOfTheInput) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "--b\n"
      "\n"
      "one\n"
      "--b\n"
      "\n"
      "two\n"
      "three\n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  EXPECT_EQ(body_of(m, root.children[1]), "two\r\nthree\r\n");
  EXPECT_EQ(root.children[1].lines, 2u);
  EXPECT_EQ(root.children[1].body.end(), m.size());
}

TEST(MimeEntityMultipart, InnerMultipartWithoutCloseDelimiterEndsWithItsPart) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=outer\n"
      "\n"
      "--outer\n"
      "Content-Type: multipart/alternative; boundary=inner\n"
      "\n"
      "--inner\n"
      "\n"
      "a\n"
      "--inner\n"
      "\n"
      "b\n"
      "--outer\n"
      "\n"
      "c\n"
      "--outer--\n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  const Entity& alt = root.children[0];
  ASSERT_EQ(alt.children.size(), 2u);
  EXPECT_EQ(body_of(m, alt.children[1]), "b");
  EXPECT_EQ(body_of(m, alt), crlf("--inner\n\na\n--inner\n\nb"));
  EXPECT_EQ(body_of(m, root.children[1]), "c");
}

// Body size and lines are exact: the CRLF before a delimiter is not the
// part's, a blank line before it is.
TEST(MimeEntityMultipart, CrlfAccounting) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "--b\n"
      "\n"
      "a\n"
      "b\n"
      "--b\n"
      "\n"
      "ends with a blank line\n"
      "\n"
      "--b\n"
      "\n"
      "--b\n"
      "Content-Type: text/plain\n"
      "--b\n"
      "\n"
      "\n"
      "\n"
      "--b--\n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 5u);
  EXPECT_EQ(body_of(m, root.children[0]), "a\r\nb");
  EXPECT_EQ(root.children[0].body.length, 4u);
  EXPECT_EQ(root.children[0].lines, 2u);
  EXPECT_EQ(body_of(m, root.children[1]), "ends with a blank line\r\n");
  EXPECT_EQ(root.children[1].lines, 1u);
  EXPECT_EQ(root.children[2].body.length, 0u);  // the blank line's CRLF is the delimiter's
  EXPECT_EQ(root.children[2].lines, 0u);
  // A part whose header runs into the delimiter: no body at all.
  EXPECT_EQ(header_of(m, root.children[3]), "Content-Type: text/plain\r\n");
  EXPECT_EQ(root.children[3].body.length, 0u);
  EXPECT_EQ(root.children[3].lines, 0u);
  EXPECT_EQ(body_of(m, root.children[4]), "\r\n");  // one empty line
  EXPECT_EQ(root.children[4].lines, 1u);
  // Every part's body lies inside the message and after its header.
  for (const Entity& c : root.children) {
    EXPECT_EQ(c.header.end(), c.body.offset);
    EXPECT_LE(c.body.end(), m.size());
  }
}

// Degenerate nesting: an inner part that begins on the outer delimiter
// line. Every part still lies inside its parent.
TEST(MimeEntityMultipart, PartsStayInsideTheirParents) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=a\n"
      "\n"
      "--a\n"
      "Content-Type: multipart/mixed; boundary=b\n"
      "\n"
      "--b\n"
      "--a\n"
      "Content-Type: message/rfc822\n"
      "\n"
      "Subject: cut short\n"
      "--a--\n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  const Entity& inner = root.children[0];
  ASSERT_EQ(inner.children.size(), 1u);
  EXPECT_EQ(inner.children[0].body.length, 0u);
  EXPECT_LE(inner.children[0].body.end(), inner.body.end());
  const Entity* embedded = root.children[1].embedded_message();
  ASSERT_NE(embedded, nullptr);
  EXPECT_EQ(header_of(m, *embedded), "Subject: cut short\r\n");
  EXPECT_EQ(embedded->body.length, 0u);
  EXPECT_LE(embedded->body.end(), root.children[1].body.end());
  EXPECT_LE(root.children[1].body.end(), root.body.end());
}

TEST(MimeEntityMultipart, AFieldLookingLikeADelimiterEndsThePartHeader) {
  // "--b:x" is a syntactically valid field name followed by ':', but it is
  // a delimiter line first.
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=\"b\"\n"
      "\n"
      "--b\n"
      "Content-Type: text/plain\n"
      "--b: not a field\n"
      "\n"
      "two\n"
      "--b--\n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  EXPECT_EQ(root.children[0].body.length, 0u);
  EXPECT_EQ(body_of(m, root.children[1]), "two");
}

// RFC 2046 §5.1.1 allows tspecials in a quoted boundary; mailers also send
// '=' unquoted.
TEST(MimeEntityMultipart, BoundariesWithSpecialCharacters) {
  for (const std::string& param : {std::string("\"=_Part:1 (x)?\""), std::string("----=_NextPart_000_0001")}) {
    const std::string b = param.front() == '"' ? param.substr(1, param.size() - 2) : param;
    const std::string m =
        crlf("Content-Type: multipart/mixed;\n boundary=" + param + "\n\n--" + b + "\n\none\n--" + b + "--\n");
    const Entity root = parse_message(m);
    ASSERT_EQ(root.children.size(), 1u) << param;
    EXPECT_EQ(body_of(m, root.children[0]), "one") << param;
  }
}

TEST(MimeEntityMultipart, EmptyOrMissingBoundaryIsASingleTextPart) {
  for (const char* ct : {"multipart/mixed", "multipart/mixed; boundary=\"\"", "multipart/mixed; boundary="}) {
    const std::string m = crlf(std::string("Content-Type: ") + ct + "\n\n--\nbody\n--\n");
    const Entity e = parse_message(m);
    EXPECT_EQ(type_of(e), "text/plain") << ct;
    EXPECT_EQ(e.params, (std::vector<Parameter>{{"charset", "us-ascii"}})) << ct;
    EXPECT_TRUE(e.children.empty()) << ct;
    EXPECT_EQ(body_of(m, e), crlf("--\nbody\n--\n")) << ct;
    EXPECT_EQ(e.lines, 3u) << ct;
  }
}

TEST(MimeEntityMultipart, BoundaryThatNeverAppearsIsASingleTextPart) {
  const std::string m = crlf("Content-Type: multipart/mixed; boundary=b\n\nno parts here\n");
  const Entity e = parse_message(m);
  EXPECT_EQ(type_of(e), "text/plain");
  EXPECT_TRUE(e.children.empty());
  EXPECT_EQ(e.lines, 1u);
}

// RFC 2046 §5.1.5: in a digest, a part without Content-Type is a message.
TEST(MimeEntityMultipart, DigestPartsDefaultToMessageRfc822) {
  const std::string m = crlf(
      "Content-Type: multipart/digest; boundary=d\n"
      "\n"
      "--d\n"
      "\n"
      "Subject: first\n"
      "\n"
      "one\n"
      "--d\n"
      "Content-Type: text/plain\n"
      "\n"
      "not a message\n"
      "--d--\n");
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  const Entity& msg = root.children[0];
  EXPECT_EQ(type_of(msg), "message/rfc822");
  EXPECT_TRUE(msg.params.empty());
  const Entity* inner = msg.embedded_message();
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(header_of(m, *inner), "Subject: first\r\n\r\n");
  EXPECT_EQ(body_of(m, *inner), "one");
  EXPECT_EQ(type_of(*inner), "text/plain");  // the digest default does not reach into the message
  EXPECT_EQ(type_of(root.children[1]), "text/plain");
}

const char* const kForward =
    "From: a@example.org\n"
    "Content-Type: multipart/mixed; boundary=outer\n"
    "\n"
    "--outer\n"
    "\n"
    "see below\n"
    "--outer\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "From: b@example.org\n"
    "Subject: the original\n"
    "Content-Type: multipart/alternative; boundary=inner\n"
    "\n"
    "--inner\n"
    "\n"
    "plain\n"
    "--inner\n"
    "Content-Type: text/html\n"
    "\n"
    "<p>html</p>\n"
    "--inner--\n"
    "--outer--\n";

TEST(MimeEntityMessage, Rfc822AttachmentWithItsOwnMultipart) {
  const std::string m = crlf(kForward);
  const Entity root = parse_message(m);
  ASSERT_EQ(root.children.size(), 2u);
  const Entity& part = root.children[1];
  EXPECT_EQ(type_of(part), "message/rfc822");
  const Entity* inner = part.embedded_message();
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner->header.offset, part.body.offset);
  EXPECT_EQ(inner->body.end(), part.body.end());
  EXPECT_EQ(header_of(m, *inner), crlf("From: b@example.org\nSubject: the original\n"
                                       "Content-Type: multipart/alternative; boundary=inner\n\n"));
  EXPECT_EQ(type_of(*inner), "multipart/alternative");
  ASSERT_EQ(inner->children.size(), 2u);
  EXPECT_EQ(body_of(m, inner->children[0]), "plain");
  EXPECT_EQ(body_of(m, inner->children[1]), "<p>html</p>");
  // The message/rfc822 part's lines are those of the whole embedded message.
  EXPECT_EQ(part.lines, 12u);
  EXPECT_EQ(body_of(m, part).substr(0, 19), "From: b@example.org");
  EXPECT_EQ(body_of(m, part).substr(part.body.length - 9), "--inner--");
}

TEST(MimeEntityMessage, TopLevelRfc822AndGlobal) {
  for (const char* sub : {"rfc822", "global", "RFC822"}) {
    const std::string m = crlf(std::string("Content-Type: message/") + sub + "\n\nSubject: in\n\nbody\n");
    const Entity e = parse_message(m);
    const Entity* inner = e.embedded_message();
    ASSERT_NE(inner, nullptr) << sub;
    EXPECT_EQ(body_of(m, *inner), "body\r\n") << sub;
  }
}

// RFC 2046 §5.2.1: message/rfc822 is never encoded; one that is stays a leaf.
TEST(MimeEntityMessage, EncodedMessageIsALeaf) {
  const std::string m =
      crlf("Content-Type: message/rfc822\nContent-Transfer-Encoding: base64\n\nU3ViamVjdDogeAoKYm9keQo=\n");
  const Entity e = parse_message(m);
  EXPECT_EQ(type_of(e), "message/rfc822");
  EXPECT_TRUE(e.children.empty());
  EXPECT_EQ(e.embedded_message(), nullptr);
}

// The structure of RFC 9051 §6.4.5's example.
const char* const kSectionExample =
    "Content-Type: multipart/mixed; boundary=a\n"
    "\n"
    "--a\n"
    "\n"
    "1\n"
    "--a\n"
    "Content-Type: application/octet-stream\n"
    "\n"
    "2\n"
    "--a\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: 3\n"
    "Content-Type: multipart/mixed; boundary=c\n"
    "\n"
    "--c\n"
    "\n"
    "3.1\n"
    "--c\n"
    "Content-Type: application/octet-stream\n"
    "\n"
    "3.2\n"
    "--c--\n"
    "--a\n"
    "Content-Type: multipart/mixed; boundary=d\n"
    "\n"
    "--d\n"
    "Content-Type: image/gif\n"
    "\n"
    "4.1\n"
    "--d\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: 4.2\n"
    "Content-Type: multipart/mixed; boundary=e\n"
    "\n"
    "--e\n"
    "\n"
    "4.2.1\n"
    "--e\n"
    "Content-Type: multipart/alternative; boundary=f\n"
    "\n"
    "--f\n"
    "\n"
    "4.2.2.1\n"
    "--f\n"
    "Content-Type: text/richtext\n"
    "\n"
    "4.2.2.2\n"
    "--f--\n"
    "--e--\n"
    "--d--\n"
    "--a--\n";

TEST(MimeEntitySection, Rfc9051Example) {
  const std::string m = crlf(kSectionExample);
  const Entity root = parse_message(m);
  struct Case {
    std::vector<std::uint32_t> parts;
    std::string type;
    std::string body;  // the leaf's body; empty for a composite
  };
  const std::vector<Case> cases = {
      {{1}, "text/plain", "1"},
      {{2}, "application/octet-stream", "2"},
      {{3}, "message/rfc822", ""},
      {{3, 1}, "text/plain", "3.1"},
      {{3, 2}, "application/octet-stream", "3.2"},
      {{4}, "multipart/mixed", ""},
      {{4, 1}, "image/gif", "4.1"},
      {{4, 2}, "message/rfc822", ""},
      {{4, 2, 1}, "text/plain", "4.2.1"},
      {{4, 2, 2}, "multipart/alternative", ""},
      {{4, 2, 2, 1}, "text/plain", "4.2.2.1"},
      {{4, 2, 2, 2}, "text/richtext", "4.2.2.2"},
  };
  for (const Case& c : cases) {
    const Entity* e = section(root, c.parts);
    ASSERT_NE(e, nullptr) << testing::PrintToString(c.parts);
    EXPECT_EQ(type_of(*e), c.type) << testing::PrintToString(c.parts);
    if (!c.body.empty()) {
      EXPECT_EQ(body_of(m, *e), c.body) << testing::PrintToString(c.parts);
    }
  }
  // 3.HEADER and 4.2.HEADER are the headers of the embedded messages.
  EXPECT_EQ(header_of(m, *section(root, {3})->embedded_message()).substr(0, 10), "Subject: 3");
  EXPECT_EQ(header_of(m, *section(root, {4, 2})->embedded_message()).substr(0, 12), "Subject: 4.2");
  for (const std::vector<std::uint32_t>& bad :
       std::vector<std::vector<std::uint32_t>>{{0}, {5}, {1, 1}, {3, 3}, {4, 3}, {4, 2, 3}, {4, 2, 2, 3}, {2, 1}}) {
    EXPECT_EQ(section(root, bad), nullptr) << testing::PrintToString(bad);
  }
  EXPECT_EQ(section(root, {}), &root);
}

TEST(MimeEntitySection, NonMultipartMessageHasOnlyPartOne) {
  const Entity root = parse_message(crlf("Subject: x\n\nbody\n"));
  EXPECT_EQ(section(root, {1}), &root);
  EXPECT_EQ(section(root, {2}), nullptr);
  EXPECT_EQ(section(root, {1, 1}), nullptr);
  EXPECT_EQ(section(root, {0}), nullptr);
}

TEST(MimeEntitySection, PartsOfAnEmbeddedNonMultipartMessage) {
  const std::string m = crlf(
      "Content-Type: multipart/mixed; boundary=a\n\n--a\n\nfirst\n--a\nContent-Type: message/rfc822\n\n"
      "Subject: in\n\ninner body\n--a--\n");
  const Entity root = parse_message(m);
  const Entity* inner = section(root, {2, 1});
  ASSERT_NE(inner, nullptr);
  EXPECT_EQ(inner, section(root, {2})->embedded_message());
  EXPECT_EQ(body_of(m, *inner), "inner body");
  EXPECT_EQ(section(root, {2, 2}), nullptr);
  EXPECT_EQ(section(root, {2, 1, 1}), nullptr);
}

TEST(MimeEntityLimits, NestingDeeperThanTheLimitIsALeaf) {
  std::string m;
  const int levels = 200;
  for (int i = 0; i < levels; ++i) {
    // "b6." is no prefix of "b64.": every boundary differs from the others.
    const std::string b = "b" + std::to_string(i) + ".";
    m += "Content-Type: multipart/mixed; boundary=" + b + "\r\n\r\n--" + b + "\r\n";
  }
  m += "\r\ndeepest\r\n";
  const Entity root = parse_message(m);
  EXPECT_EQ(depth_of(root), kMaxDepth);
  const Entity* e = &root;
  while (!e->children.empty()) e = &e->children[0];
  EXPECT_EQ(type_of(*e), "text/plain");  // the multipart at the limit, kept whole
  EXPECT_EQ(e->body.end(), m.size());
}

TEST(MimeEntityLimits, NestedMessagesStopAtTheLimit) {
  std::string m;
  for (int i = 0; i < 200; ++i) m += "Content-Type: message/rfc822\r\n\r\n";
  m += "Subject: deepest\r\n\r\nbody\r\n";
  const Entity root = parse_message(m);
  EXPECT_EQ(depth_of(root), kMaxDepth);
  EXPECT_EQ(count_entities(root), kMaxDepth + 1);
}

TEST(MimeEntityLimits, PartsBeyondTheLimitAreSkipped) {
  std::string m = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 12000; ++i) m += "--b\r\n\r\nx\r\n";
  m += "--b--\r\n";
  const Entity root = parse_message(m);
  EXPECT_EQ(count_entities(root), kMaxParts);
  EXPECT_EQ(root.children.size(), kMaxParts - 1);
  EXPECT_EQ(body_of(m, root.children.back()), "x");  // the last part kept still ends at its delimiter
}

// Every byte is looked at a bounded number of times: many parts in a deep
// nest of open multiparts parse quickly (a rescan per boundary would not).
TEST(MimeEntityLimits, ManyDelimitersUnderDeepNesting) {
  std::string m;
  for (int i = 0; i < 60; ++i) {
    m += "Content-Type: multipart/mixed; boundary=b" + std::to_string(i) + "\r\n\r\n--b" + std::to_string(i) + "\r\n";
  }
  m += "\r\n";
  for (int i = 0; i < 200000; ++i) m += "--b1x\r\n";
  const Entity root = parse_message(m);
  EXPECT_LE(count_entities(root), kMaxParts);
  EXPECT_EQ(root.body.end(), m.size());
}

}  // namespace
}  // namespace poshta::mime
