// mime/envelope and mime::parse_address_list: IMAP's ENVELOPE (RFC 9051
// §7.5.2) from a message header.
#include "mime/envelope.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "mime/entity.hpp"

namespace poshta::mime {
namespace {

using Addresses = std::vector<Address>;
constexpr std::nullopt_t NIL = std::nullopt;

std::ostream& operator<<(std::ostream& os, const std::optional<std::string>& s) {
  return os << (s ? "\"" + *s + "\"" : std::string("NIL"));
}

}  // namespace

// Found by argument-dependent lookup when gtest prints an Address.
static std::ostream& operator<<(std::ostream& os, const Address& a) {
  return os << "(" << a.name << " " << a.adl << " " << a.mailbox << " " << a.host << ")";
}

namespace {

Address mailbox(std::optional<std::string> name, std::string local, std::string host) {
  return {std::move(name), NIL, std::move(local), std::move(host)};
}

Address group_start(std::string name) {
  return {NIL, NIL, std::move(name), NIL};
}

Address group_end() {
  return {};
}

TEST(MimeEnvelope, AllFields) {
  const Envelope env = parse_envelope(
      "Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
      "From: Terry Gray <gray@cac.washington.edu>\r\n"
      "Sender: Secretary <sec@cac.washington.edu>\r\n"
      "Reply-To: list@example.org\r\n"
      "Subject: IMAP4rev2 WG mtg summary and minutes\r\n"
      "To: imap@cac.washington.edu\r\n"
      "cc: minutes@CNRI.Reston.VA.US, \"John Klensin\" <KLENSIN@MIT.EDU>\r\n"
      "Bcc: hidden@example.org\r\n"
      "In-Reply-To: <a@example.org>\r\n"
      "Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
      "\r\n"
      "body\r\n");
  EXPECT_EQ(env.date, "Wed, 17 Jul 1996 02:23:25 -0700 (PDT)");
  EXPECT_EQ(env.subject, "IMAP4rev2 WG mtg summary and minutes");
  EXPECT_EQ(env.from, (Addresses{mailbox("Terry Gray", "gray", "cac.washington.edu")}));
  EXPECT_EQ(env.sender, (Addresses{mailbox("Secretary", "sec", "cac.washington.edu")}));
  EXPECT_EQ(env.reply_to, (Addresses{mailbox(NIL, "list", "example.org")}));
  EXPECT_EQ(env.to, (Addresses{mailbox(NIL, "imap", "cac.washington.edu")}));
  EXPECT_EQ(env.cc,
            (Addresses{mailbox(NIL, "minutes", "CNRI.Reston.VA.US"), mailbox("John Klensin", "KLENSIN", "MIT.EDU")}));
  EXPECT_EQ(env.bcc, (Addresses{mailbox(NIL, "hidden", "example.org")}));
  EXPECT_EQ(env.in_reply_to, "<a@example.org>");
  EXPECT_EQ(env.message_id, "<B27397-0100000@cac.washington.edu>");
}

// §7.5.2: the server fills Sender and Reply-To from From.
TEST(MimeEnvelope, SenderAndReplyToDefaultToFrom) {
  const Envelope absent = parse_envelope("From: Ann <ann@example.org>\r\n\r\n");
  const Addresses from{mailbox("Ann", "ann", "example.org")};
  EXPECT_EQ(absent.sender, from);
  EXPECT_EQ(absent.reply_to, from);
  const Envelope empty = parse_envelope("Reply-To:\r\nSender: \r\nFrom: ann@example.org\r\n\r\n");
  EXPECT_EQ(empty.sender, (Addresses{mailbox(NIL, "ann", "example.org")}));
  EXPECT_EQ(empty.reply_to, (Addresses{mailbox(NIL, "ann", "example.org")}));
}

TEST(MimeEnvelope, MissingFieldsAreNil) {
  const Envelope env = parse_envelope("X-Other: 1\r\n\r\nSubject: in the body\r\n");
  EXPECT_EQ(env.date, NIL);
  EXPECT_EQ(env.subject, NIL);
  EXPECT_EQ(env.in_reply_to, NIL);
  EXPECT_EQ(env.message_id, NIL);
  EXPECT_TRUE(env.from.empty());
  EXPECT_TRUE(env.sender.empty());
  EXPECT_TRUE(env.reply_to.empty());
  EXPECT_TRUE(env.to.empty());
  EXPECT_TRUE(env.cc.empty());
  EXPECT_TRUE(env.bcc.empty());
  EXPECT_EQ(parse_envelope("Subject:\r\n\r\n").subject, "");  // present but empty is not NIL
}

TEST(MimeEnvelope, FoldedHeadersAreUnfolded) {
  const Envelope env = parse_envelope(
      "Subject: a long\r\n subject\r\n\tline\r\n"
      "To: Ann\r\n <ann@example.org>,\r\n  bob@example.org\r\n"
      "\r\n");
  EXPECT_EQ(env.subject, "a long subject\tline");
  EXPECT_EQ(env.to, (Addresses{mailbox("Ann", "ann", "example.org"), mailbox(NIL, "bob", "example.org")}));
}

TEST(MimeEnvelope, FirstOccurrenceCounts) {
  const Envelope env = parse_envelope("Subject: one\r\nSubject: two\r\nTo: a@b\r\nTo: c@d\r\n\r\n");
  EXPECT_EQ(env.subject, "one");
  EXPECT_EQ(env.to, (Addresses{mailbox(NIL, "a", "b")}));
}

// RFC 5322 Appendix A.1.3; IMAP marks a group with a mailbox of its name
// and NIL host, and ends it with all NIL.
TEST(MimeEnvelope, Groups) {
  const Envelope env = parse_envelope(
      "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\r\n"
      "Cc: Undisclosed recipients:;\r\n"
      "Bcc: x@y, Team: a@b; , z@w\r\n"
      "\r\n");
  EXPECT_EQ(env.to, (Addresses{group_start("A Group"), mailbox("Ed Jones", "c", "a.test"),
                               mailbox(NIL, "joe", "where.test"), mailbox("John", "jdoe", "one.test"), group_end()}));
  EXPECT_EQ(env.cc, (Addresses{group_start("Undisclosed recipients"), group_end()}));
  EXPECT_EQ(env.bcc, (Addresses{mailbox(NIL, "x", "y"), group_start("Team"), mailbox(NIL, "a", "b"), group_end(),
                                mailbox(NIL, "z", "w")}));
  EXPECT_TRUE(env.to[0].is_group_start());
  EXPECT_TRUE(env.to[4].is_group_end());
  EXPECT_FALSE(env.to[1].is_group_start());
}

TEST(MimeEnvelope, UnterminatedGroupIsClosed) {
  EXPECT_EQ(parse_address_list("Friends: a@b, c@d"),
            (Addresses{group_start("Friends"), mailbox(NIL, "a", "b"), mailbox(NIL, "c", "d"), group_end()}));
}

// IMAP clients decode RFC 2047 themselves: the name stays encoded.
TEST(MimeEnvelope, NamesStayEncodedAndQuotedOnesAreUnquoted) {
  EXPECT_EQ(parse_address_list("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?= <keld@dkuug.dk>"),
            (Addresses{mailbox("=?ISO-8859-1?Q?Keld_J=F8rn_Simonsen?=", "keld", "dkuug.dk")}));
  EXPECT_EQ(parse_address_list("\"Joe Q. Public\" <john.q.public@example.com>"),
            (Addresses{mailbox("Joe Q. Public", "john.q.public", "example.com")}));
  EXPECT_EQ(parse_address_list("\"Doe, \\\"J\\\"\"   Jr (x) <j@x>"), (Addresses{mailbox("Doe, \"J\" Jr", "j", "x")}));
}

TEST(MimeEnvelope, CommentNamesAMailboxWithoutDisplayName) {
  EXPECT_EQ(parse_address_list("ann@example.org (Ann Example)"),
            (Addresses{mailbox("Ann Example", "ann", "example.org")}));
  EXPECT_EQ(parse_address_list("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>"),
            (Addresses{mailbox("Pete", "pete", "silly.test")}));
}

TEST(MimeEnvelope, SourceRouteQuotedLocalPartAndMissingHost) {
  EXPECT_EQ(parse_address_list("<@a.test,@b.test:joe@c.test>"),
            (Addresses{{NIL, std::string("@a.test,@b.test"), std::string("joe"), std::string("c.test")}}));
  EXPECT_EQ(parse_address_list("\"john doe\"@example.org"), (Addresses{mailbox(NIL, "\"john doe\"", "example.org")}));
  EXPECT_EQ(parse_address_list("Name <nobody>"), (Addresses{mailbox("Name", "nobody", "")}));
  EXPECT_EQ(parse_address_list(" , ,"), Addresses{});
}

TEST(MimeEnvelope, EnvelopeOfAnEmbeddedMessage) {
  const std::string m =
      "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\nFrom: in@example.org\r\n\r\nSubject: body\r\n";
  const Entity root = parse_message(m);
  ASSERT_NE(root.embedded_message(), nullptr);
  const Envelope env = parse_envelope(root.embedded_message()->header.of(m));
  EXPECT_EQ(env.subject, "inner");
  EXPECT_EQ(env.from, (Addresses{mailbox(NIL, "in", "example.org")}));
  EXPECT_EQ(parse_envelope(root.header.of(m)).subject, NIL);
}

}  // namespace
}  // namespace poshta::mime
