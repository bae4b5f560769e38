// mime/parameters and mime/content_fields: MIME parameter lists (RFC 2045
// §5.1) with RFC 2231 continuations and charsets, and the content fields
// built on them.
#include "mime/parameters.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mime/content_fields.hpp"

namespace poshta::mime {
namespace {

using Params = std::vector<Parameter>;

TEST(MimeEntityParameters, PlainAndQuotedValuesNamesLowerCased) {
  EXPECT_EQ(parse_parameters("; Charset=UTF-8; NAME=\"a b;c.txt\""),
            (Params{{"charset", "UTF-8"}, {"name", "a b;c.txt"}}));
  EXPECT_EQ(parse_parameters("; a=\"quoted \\\"pair\\\" \\\\\""), (Params{{"a", "quoted \"pair\" \\"}}));
  EXPECT_EQ(parse_parameters(""), Params{});
  EXPECT_EQ(parse_parameters(";;"), Params{});
}

// RFC 2045 §5.1's own example has a comment after the value.
TEST(MimeEntityParameters, CommentsAndWhitespaceAroundTheParts) {
  EXPECT_EQ(parse_parameters("; charset=us-ascii (Plain text)"), (Params{{"charset", "us-ascii"}}));
  EXPECT_EQ(parse_parameters(" ;  a = b ; (c) c = \"d\" "), (Params{{"a", "b"}, {"c", "d"}}));
}

TEST(MimeEntityParameters, BrokenParametersAreSkipped) {
  EXPECT_EQ(parse_parameters("; junk; a=b; =c; d; e=f g; h=i"), (Params{{"a", "b"}, {"e", "f"}, {"h", "i"}}));
  EXPECT_EQ(parse_parameters("; a=\"unterminated"), (Params{{"a", "unterminated"}}));
}

TEST(MimeEntityParameters, UnquotedTspecialsInAValueAreTolerated) {
  EXPECT_EQ(parse_parameters("; boundary=----=_Part_0_1.2/x"), (Params{{"boundary", "----=_Part_0_1.2/x"}}));
}

// RFC 2231 §3.
TEST(MimeEntityParameters, ContinuationsAreJoined) {
  EXPECT_EQ(parse_parameters("; access-type=URL; URL*0=\"ftp://\"; URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/"
                             "bulk-mailer.tar\""),
            (Params{{"access-type", "URL"}, {"url", "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar"}}));
  EXPECT_EQ(parse_parameters("; t*2=c; t*0=a; t*1=b"), (Params{{"t", "abc"}}));
  EXPECT_EQ(parse_parameters("; t*0=a; t*2=c"), (Params{{"t", "a"}}));  // a gap ends the value
  EXPECT_EQ(parse_parameters("; t*0=a; t*0=z; t*1=b"), (Params{{"t", "ab"}}));
  EXPECT_EQ(parse_parameters("; t*1=b"), Params{});  // no section 0: no value
}

// RFC 2231 §4 and §4.1.
TEST(MimeEntityParameters, ExtendedValuesAreDecoded) {
  EXPECT_EQ(parse_parameters("; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"),
            (Params{{"title", "This is ***fun***"}}));
  EXPECT_EQ(parse_parameters("; title*0*=us-ascii'en'This%20is%20even%20more%20;"
                             " title*1*=%2A%2A%2Afun%2A%2A%2A%20; title*2=\"isn't it!\""),
            (Params{{"title", "This is even more ***fun*** isn't it!"}}));
  EXPECT_EQ(parse_parameters("; filename*=UTF-8''%E2%82%AC%20rates.pdf"), (Params{{"filename", "€ rates.pdf"}}));
  EXPECT_EQ(parse_parameters("; filename*=''plain%20ascii"), (Params{{"filename", "plain ascii"}}));
  EXPECT_EQ(parse_parameters("; filename*=iso-8859-1''caf%E9"), (Params{{"filename", "café"}}));
  EXPECT_EQ(parse_parameters("; f*=utf-8''100%"), (Params{{"f", "100%"}}));  // a lone % stays
}

TEST(MimeEntityParameters, ExtendedValueWinsOverThePlainOne) {
  EXPECT_EQ(parse_parameters("; filename=\"fallback.pdf\"; filename*=utf-8''%C3%BC.pdf"),
            (Params{{"filename", "ü.pdf"}}));
  EXPECT_EQ(parse_parameters("; filename*=utf-8''%C3%BC.pdf; filename=\"fallback.pdf\""),
            (Params{{"filename", "ü.pdf"}}));
}

TEST(MimeEntityParameters, UndecodableExtendedValuesStayRaw) {
  EXPECT_EQ(parse_parameters("; title*=x-no-such-charset'en'abc%20d"),
            (Params{{"title*", "x-no-such-charset'en'abc%20d"}}));
  // Continuations are still joined; unencoded sections are percent-encoded.
  EXPECT_EQ(parse_parameters("; name=\"plain\"; t*0*=x-unknown''%A1; t*1=\"b c\""),
            (Params{{"name", "plain"}, {"t*", "x-unknown''%A1b%20c"}}));
  // Invalid UTF-8 in a UTF-8 value.
  EXPECT_EQ(parse_parameters("; f=\"x\"; f*=utf-8''%FF"), (Params{{"f", "x"}, {"f*", "utf-8''%FF"}}));
}

TEST(MimeEntityParameters, FindParameter) {
  const Params p{{"a", "1"}, {"b", "2"}};
  ASSERT_NE(find_parameter(p, "b"), nullptr);
  EXPECT_EQ(*find_parameter(p, "b"), "2");
  EXPECT_EQ(find_parameter(p, "c"), nullptr);
}

TEST(MimeEntityContentFields, ContentType) {
  const auto ct = parse_content_type(" Text/HTML ; charset=\"utf-8\"\r\n\tformat=flowed");
  ASSERT_TRUE(ct);
  EXPECT_EQ(ct->type, "text");
  EXPECT_EQ(ct->subtype, "html");
  EXPECT_EQ(ct->params, (Params{{"charset", "utf-8"}}));  // no ';' before format: junk after the value
  const auto folded = parse_content_type(" multipart/mixed;\r\n boundary=\"x\r\n y\"");
  ASSERT_TRUE(folded);
  EXPECT_EQ(folded->params, (Params{{"boundary", "x y"}}));
  EXPECT_TRUE(parse_content_type(" (comment) text / plain (c)"));
  EXPECT_FALSE(parse_content_type(" text"));
  EXPECT_FALSE(parse_content_type(" text/"));
  EXPECT_FALSE(parse_content_type(""));
}

TEST(MimeEntityContentFields, DispositionEncodingLanguage) {
  const auto d = parse_content_disposition(" INLINE; filename=a.txt");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->type, "inline");
  EXPECT_EQ(d->params, (Params{{"filename", "a.txt"}}));
  EXPECT_FALSE(parse_content_disposition(" ; filename=a"));
  EXPECT_EQ(parse_transfer_encoding(" Quoted-Printable (c)"), "quoted-printable");
  EXPECT_EQ(parse_transfer_encoding("  "), "7bit");
  EXPECT_EQ(parse_content_language(" en-US,(comment) de ,\r\n fr"),
            (std::vector<std::string_view>{"en-US", "de", "fr"}));
  EXPECT_TRUE(parse_content_language(" ").empty());
}

}  // namespace
}  // namespace poshta::mime
