// mime/address_list: the addr-specs of an RFC 5322 address-list, as
// sendmail -t reads them from To, Cc and Bcc.
#include "mime/address_list.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace poshta::mime {
namespace {

using List = std::vector<std::string>;

TEST(AddressList, BareAddrSpecGivesItself) {
  EXPECT_EQ(addresses_in("a@b"), (List{"a@b"}));
  EXPECT_EQ(addresses_in("  user@example.org  "), (List{"user@example.org"}));
}

TEST(AddressList, NameAddrGivesTheAngleAddressAndListsAreSplitAtCommas) {
  EXPECT_EQ(addresses_in("Name <a@b>, c@d"), (List{"a@b", "c@d"}));
  EXPECT_EQ(addresses_in("<a@b>"), (List{"a@b"}));
  EXPECT_EQ(addresses_in("a@b,c@d,  e@f"), (List{"a@b", "c@d", "e@f"}));
}

TEST(AddressList, CommaInsideAQuotedDisplayNameDoesNotSplit) {
  EXPECT_EQ(addresses_in("\"Doe, John\" <j@x.example>"), (List{"j@x.example"}));
  EXPECT_EQ(addresses_in("\"Doe, John\" <j@x.example>, \"Roe, Jane\" <r@y.example>"),
            (List{"j@x.example", "r@y.example"}));
}

TEST(AddressList, QuotedDisplayNameIsNeverTakenForAnAddress) {
  EXPECT_EQ(addresses_in("\"Smith, j@x.example\" <real@y.example>"), (List{"real@y.example"}));
  EXPECT_EQ(addresses_in("\"a@b\" <c@d>, e@f"), (List{"c@d", "e@f"}));
  EXPECT_EQ(addresses_in("\"j@x.example, Smith\" <real@y.example>"), (List{"real@y.example"}));
}

TEST(AddressList, QuotedLocalPartIsKept) {
  EXPECT_EQ(addresses_in("\"j.doe\"@x.example, a@b"), (List{"\"j.doe\"@x.example", "a@b"}));
  EXPECT_EQ(addresses_in("Name <\"doe,john\"@x.example>, a@b"), (List{"\"doe,john\"@x.example", "a@b"}));
  EXPECT_EQ(addresses_in("\"doe,john\"@x.example, a@b"), (List{"\"doe,john\"@x.example", "a@b"}));
}

// RFC 5322 §3.4.1: a quoted-string local part may hold spaces; it is still
// an addr-spec (and a valid RCPT TO path), so it must not be dropped.
TEST(AddressList, QuotedLocalPartWithSpaceIsKept) {
  EXPECT_EQ(addresses_in("\"john doe\"@x.example"), (List{"\"john doe\"@x.example"}));
  EXPECT_EQ(addresses_in("Name <\"doe, john\"@x.example>, a@b"), (List{"\"doe, john\"@x.example", "a@b"}));
}

TEST(AddressList, CommentsAreSkipped) {
  EXPECT_EQ(addresses_in("(x) a@b (y)"), (List{"a@b"}));
  EXPECT_EQ(addresses_in("a@b (nested (comment, with comma))"), (List{"a@b"}));
  EXPECT_EQ(addresses_in("Name (c) <a@b> (d), c@d"), (List{"a@b", "c@d"}));
}

TEST(AddressList, GroupsGiveTheirMembersAndNotTheirName) {
  EXPECT_EQ(addresses_in("Team: a@b, c@d;"), (List{"a@b", "c@d"}));
  EXPECT_EQ(addresses_in("Team: a@b, Name <c@d>;, e@f"), (List{"a@b", "c@d", "e@f"}));
  EXPECT_EQ(addresses_in("undisclosed-recipients:;"), List{});
}

TEST(AddressList, EmptyValueGivesNothing) {
  EXPECT_EQ(addresses_in(""), List{});
  EXPECT_EQ(addresses_in("   "), List{});
  EXPECT_EQ(addresses_in(", ,"), List{});
}

TEST(AddressList, GarbageWithoutAtSignGivesNothing) {
  EXPECT_EQ(addresses_in("no address here"), List{});
  EXPECT_EQ(addresses_in("postmaster"), List{});
  EXPECT_EQ(addresses_in("Name <nobody>"), List{});
  EXPECT_EQ(addresses_in("garbage, a@b"), (List{"a@b"}));
}

TEST(AddressList, FoldedValueIsUnderstood) {
  EXPECT_EQ(addresses_in("Name <a@b>,\r\n c@d"), (List{"a@b", "c@d"}));
}

}  // namespace
}  // namespace poshta::mime
