// mime/transfer_encoding: what IMAP BINARY sends.
#include "mime/transfer_encoding.hpp"

#include <gtest/gtest.h>

namespace poshta::mime {
namespace {

TEST(TransferEncoding, Base64IgnoresLineEndsAndStopsAtPadding) {
  EXPECT_EQ(decode_transfer_encoding("SGVsbG8s\r\nIHdvcmxk\r\nIQ==\r\n", "base64"), "Hello, world!");
  EXPECT_EQ(decode_transfer_encoding("AAEC/w==", "base64"), std::string("\0\1\2\xff", 4));
  EXPECT_EQ(decode_transfer_encoding("S G V s b G 8 *", "base64"), "Hello");  // junk outside the alphabet skipped
}

TEST(TransferEncoding, QuotedPrintableHexAndSoftBreaks) {
  EXPECT_EQ(decode_transfer_encoding("caf=C3=A9 =\r\nlong line=  \r\nend\r\n", "quoted-printable"),
            "caf\xc3\xa9 long lineend\r\n");
  EXPECT_EQ(decode_transfer_encoding("a=3db", "quoted-printable"), "a=b");               // lower-case hex accepted
  EXPECT_EQ(decode_transfer_encoding("100=% sure=", "quoted-printable"), "100=% sure");  // malformed kept
}

TEST(TransferEncoding, IdentityEncodingsAndUnknown) {
  for (const char* e : {"7bit", "8bit", "binary", ""}) EXPECT_EQ(decode_transfer_encoding("x\r\ny", e), "x\r\ny");
  EXPECT_FALSE(decode_transfer_encoding("data", "x-uuencode").has_value());
}

}  // namespace
}  // namespace poshta::mime
