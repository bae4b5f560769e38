// core/deflate: the two halves of IMAP COMPRESS=DEFLATE.
#include "core/deflate.hpp"

#include <gtest/gtest.h>

#include <string>

namespace poshta::core {
namespace {

TEST(Deflate, EachWriteIsFlushedAndInflatesOnItsOwn) {
  Deflater out;
  Inflater in;
  for (const std::string& line :
       {std::string("a OK done\r\n"), std::string("* 3 EXISTS\r\n"), std::string(100000, 'x') + "\r\n"}) {
    const std::string packed = out.compress(line);
    EXPECT_EQ(packed.substr(packed.size() - 4), std::string("\0\0\xff\xff", 4));  // Z_SYNC_FLUSH marker
    EXPECT_EQ(in.decompress(packed), line);
  }
}

TEST(Deflate, InputSplitAnywhereInflatesTheSame) {
  Deflater out;
  const std::string packed = out.compress("b SELECT INBOX\r\nc FETCH 1:* (FLAGS)\r\n");
  Inflater in;
  std::string all;
  for (char c : packed) all += in.decompress(std::string_view(&c, 1)).value();
  EXPECT_EQ(all, "b SELECT INBOX\r\nc FETCH 1:* (FLAGS)\r\n");
}

TEST(Deflate, GarbageEndsTheStream) {
  Inflater in;
  EXPECT_FALSE(in.decompress("\xff\xff\xff\xff not deflate").has_value());
  EXPECT_FALSE(in.decompress("more").has_value());  // and it stays ended
}

}  // namespace
}  // namespace poshta::core
