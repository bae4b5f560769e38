// mime/header: the header-field walker the MTA uses (loop detection by
// counting Received fields, later trace and DSN work).
#include "mime/header.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

namespace poshta::mime {
namespace {

struct Field {
  std::string name;
  std::string value;
  bool operator==(const Field&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Field& f) {
  return os << "{" << f.name << ":" << f.value << "}";
}

std::vector<Field> fields_of(std::string_view message, std::size_t* consumed = nullptr) {
  HeaderReader reader(message);
  std::vector<Field> out;
  while (auto f = reader.next()) out.push_back({std::string(f->name), std::string(f->value)});
  if (consumed) *consumed = reader.consumed();
  return out;
}

TEST(HeaderReader, ReturnsFieldsInOrderWithRawValues) {
  const auto fields = fields_of("From: a@example.org\r\nTo: b@example.org\r\nSubject:  hi there \r\n\r\nbody\r\n");
  const std::vector<Field> want{{"From", " a@example.org"}, {"To", " b@example.org"}, {"Subject", "  hi there "}};
  EXPECT_EQ(fields, want);
}

TEST(HeaderReader, KeepsNameAsWritten) {
  const auto fields = fields_of("x-MiXeD-Case:v\r\n\r\n");
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].name, "x-MiXeD-Case");
  EXPECT_EQ(fields[0].value, "v");
}

TEST(HeaderReader, FoldedFieldKeepsItsContinuationLines) {
  const auto fields = fields_of("Subject: first\r\n second\r\n\tthird\r\nTo: x\r\n\r\n");
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].name, "Subject");
  EXPECT_EQ(fields[0].value, " first\r\n second\r\n\tthird");
  EXPECT_EQ(fields[1], (Field{"To", " x"}));
}

TEST(HeaderReader, AcceptsLfLineEnds) {
  const auto fields = fields_of("From: a\nSubject: one\n two\nTo: b\n\nbody\n");
  const std::vector<Field> want{{"From", " a"}, {"Subject", " one\n two"}, {"To", " b"}};
  EXPECT_EQ(fields, want);
}

TEST(HeaderReader, CrLfAndLfGiveTheSameFields) {
  const auto crlf = fields_of("A: 1\r\nB: 2\r\n\r\nC: 3\r\n");
  const auto lf = fields_of("A: 1\nB: 2\n\nC: 3\n");
  EXPECT_EQ(crlf, lf);
  EXPECT_EQ(crlf.size(), 2u);
}

TEST(HeaderReader, StopsAtTheBlankLine) {
  const auto fields = fields_of("From: a\r\n\r\nTo: b\r\nReceived: c\r\n");
  ASSERT_EQ(fields.size(), 1u);
  EXPECT_EQ(fields[0].name, "From");
}

TEST(HeaderReader, StopsAtALineThatIsNotAField) {
  EXPECT_EQ(fields_of("From: a\r\nthis is not a field\r\nTo: b\r\n\r\n").size(), 1u);
  EXPECT_EQ(fields_of("From: a\r\n: empty name\r\nTo: b\r\n\r\n").size(), 1u);
  EXPECT_EQ(fields_of("From: a\r\nBad Name: x\r\nTo: b\r\n\r\n").size(), 1u);
}

TEST(HeaderReader, ConsumedIsTheOffsetAfterTheFieldsWhenTheHeaderEndsWithoutBlankLine) {
  const std::string m = "From: a\r\nnot a field\r\n";
  std::size_t consumed = 0;
  fields_of(m, &consumed);
  EXPECT_EQ(consumed, 9u);
  EXPECT_EQ(m.substr(consumed), "not a field\r\n");
}

TEST(HeaderReader, ConsumedIsTheOffsetOfTheBodyAfterTheBlankLine) {
  // mime/header.hpp: consumed() is the offset of the body; RFC 5322 §2.1:
  // the body follows the empty line that ends the header.
  const std::string m = "From: a\r\nTo: b\r\n\r\nthe body\r\n";
  std::size_t consumed = 0;
  fields_of(m, &consumed);
  EXPECT_EQ(m.substr(consumed), "the body\r\n");
}

TEST(HeaderReader, EmptyMessageHasNoFields) {
  std::size_t consumed = 99;
  EXPECT_TRUE(fields_of("", &consumed).empty());
  EXPECT_EQ(consumed, 0u);
}

TEST(HeaderReader, LastFieldWithoutLineEndIsReturned) {
  const auto fields = fields_of("From: a\r\nTo: b");
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[1], (Field{"To", " b"}));
}

TEST(HeaderReader, FieldValuesPointIntoTheMessage) {
  const std::string m = "Subject: x\r\n\r\n";
  HeaderReader reader(m);
  const auto f = reader.next();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->name.data(), m.data());
  EXPECT_EQ(f->value.data(), m.data() + 8);
}

TEST(CountFields, CountsCaseInsensitively) {
  const std::string m =
      "Received: a\r\nreceived: b\r\nRECEIVED: c\r\nX-Received: d\r\nReceivedX: e\r\nSubject: s\r\n\r\n";
  EXPECT_EQ(count_fields(m, "Received"), 3u);
  EXPECT_EQ(count_fields(m, "received"), 3u);
  EXPECT_EQ(count_fields(m, "subject"), 1u);
  EXPECT_EQ(count_fields(m, "To"), 0u);
}

TEST(CountFields, CountsOnlyTheHeader) {
  const std::string m = "Received: a\r\n\r\nReceived: in the body\r\nReceived: again\r\n";
  EXPECT_EQ(count_fields(m, "Received"), 1u);
}

TEST(CountFields, FoldedFieldCountsOnce) {
  const std::string m = "Received: from a\r\n\tby b\r\n\tfor c; date\r\nReceived: x\r\n\r\n";
  EXPECT_EQ(count_fields(m, "Received"), 2u);
}

}  // namespace
}  // namespace poshta::mime
