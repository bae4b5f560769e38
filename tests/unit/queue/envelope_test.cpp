// queue/envelope: the spool's envelope text format must carry every field
// unchanged, and a file cut short by a crash must never parse.
#include "queue/envelope.hpp"

#include <gtest/gtest.h>

#include <string>

namespace poshta::queue {
namespace {

Envelope full_envelope() {
  Envelope e;
  e.id = "19c0e3b2a4f10001";
  e.arrived = 1795000000;
  e.sender = "odd sender%name@example.org";
  e.size = 1532;
  e.crc = 0xdeadbeef;
  e.ret = "HDRS";
  e.envid = "QQ+2B314";
  e.body = "8BITMIME";
  e.smtputf8 = true;
  e.held = true;

  EnvelopeRecipient a;
  a.address = "user@example.org";
  a.local = true;
  a.original = "User@Example.org";
  a.notify = 2 | 4;
  a.orcpt = "rfc822;User@Example.org";
  a.state = RecipientState::deferred;
  a.attempts = 3;
  a.next_attempt = 1795003600;
  a.last_error = "451 4.3.0 try again later: 100% full";
  e.recipients.push_back(a);

  EnvelopeRecipient b;
  b.address = "\"with space\"@remote.example";
  b.local = false;
  b.original = "-";  // a lone dash must not turn into the empty string
  b.notify = 1;
  b.orcpt = "";
  b.state = RecipientState::failed;
  b.attempts = 0;
  b.next_attempt = 0;
  b.last_error = "550 5.1.1 no such user\nsecond line\ttab";
  e.recipients.push_back(b);

  EnvelopeRecipient c;
  c.address = "j\xc3\xb6rg@example.org";
  c.state = RecipientState::delivered;
  e.recipients.push_back(c);

  EnvelopeRecipient d;
  d.address = "pending@example.org";
  d.state = RecipientState::pending;
  e.recipients.push_back(d);
  return e;
}

void expect_same(const Envelope& got, const Envelope& want) {
  EXPECT_EQ(got.id, want.id);
  EXPECT_EQ(got.arrived, want.arrived);
  EXPECT_EQ(got.sender, want.sender);
  EXPECT_EQ(got.size, want.size);
  EXPECT_EQ(got.crc, want.crc);
  EXPECT_EQ(got.ret, want.ret);
  EXPECT_EQ(got.envid, want.envid);
  EXPECT_EQ(got.body, want.body);
  EXPECT_EQ(got.smtputf8, want.smtputf8);
  EXPECT_EQ(got.held, want.held);
  ASSERT_EQ(got.recipients.size(), want.recipients.size());
  for (std::size_t i = 0; i < want.recipients.size(); ++i) {
    const auto& g = got.recipients[i];
    const auto& w = want.recipients[i];
    EXPECT_EQ(g.address, w.address) << i;
    EXPECT_EQ(g.local, w.local) << i;
    EXPECT_EQ(g.original, w.original) << i;
    EXPECT_EQ(g.notify, w.notify) << i;
    EXPECT_EQ(g.orcpt, w.orcpt) << i;
    EXPECT_EQ(g.state, w.state) << i;
    EXPECT_EQ(g.attempts, w.attempts) << i;
    EXPECT_EQ(g.next_attempt, w.next_attempt) << i;
    EXPECT_EQ(g.last_error, w.last_error) << i;
  }
}

TEST(Envelope, RoundTripsEveryField) {
  const Envelope e = full_envelope();
  const auto parsed = parse_envelope(serialize_envelope(e));
  ASSERT_TRUE(parsed.has_value()) << serialize_envelope(e);
  expect_same(*parsed, e);
}

TEST(Envelope, RoundTripsEmptyStringsAndDefaults) {
  Envelope e;
  e.id = "x";
  EnvelopeRecipient r;  // every string empty
  e.recipients.push_back(r);
  const auto parsed = parse_envelope(serialize_envelope(e));
  ASSERT_TRUE(parsed.has_value()) << serialize_envelope(e);
  expect_same(*parsed, e);
}

TEST(Envelope, RoundTripsAwkwardStrings) {
  for (std::string s : {std::string("-"), std::string("--"), std::string("%"), std::string("%2D"), std::string("a b"),
                        std::string(" "), std::string("\r\n"), std::string("end"), std::string("rcpt x"),
                        std::string("100%"), std::string(1, '\0'), std::string("\xff\x80")}) {
    Envelope e;
    e.id = "id1";
    e.sender = s;
    e.envid = s;
    EnvelopeRecipient r;
    r.address = s;
    r.original = s;
    r.orcpt = s;
    r.last_error = s;
    e.recipients.push_back(r);
    const auto parsed = parse_envelope(serialize_envelope(e));
    ASSERT_TRUE(parsed.has_value()) << "[" << s << "]";
    expect_same(*parsed, e);
  }
}

TEST(Envelope, RoundTripsExtremeNumbers) {
  Envelope e;
  e.id = "big";
  e.arrived = -1;
  e.size = UINT64_MAX;
  e.crc = 0xffffffff;
  EnvelopeRecipient r;
  r.attempts = UINT32_MAX;
  r.next_attempt = INT64_MIN;
  r.notify = 15;
  e.recipients.push_back(r);
  const auto parsed = parse_envelope(serialize_envelope(e));
  ASSERT_TRUE(parsed.has_value());
  expect_same(*parsed, e);
}

TEST(Envelope, RoundTripsWithoutRecipients) {
  Envelope e;
  e.id = "lonely";
  const auto parsed = parse_envelope(serialize_envelope(e));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(parsed->recipients.empty());
}

TEST(Envelope, EveryTruncationFailsToParse) {
  const std::string text = serialize_envelope(full_envelope());
  ASSERT_TRUE(parse_envelope(text).has_value());
  for (std::size_t n = 0; n < text.size(); ++n) {
    EXPECT_FALSE(parse_envelope(text.substr(0, n)).has_value()) << "prefix of " << n << " octets parsed:\n"
                                                                << text.substr(0, n);
  }
}

TEST(Envelope, WrongMagicIsRejected) {
  const std::string text = serialize_envelope(full_envelope());
  const auto nl = text.find('\n');
  EXPECT_FALSE(parse_envelope("poshta-envelope 2" + text.substr(nl)).has_value());
  EXPECT_FALSE(parse_envelope("something else" + text.substr(nl)).has_value());
  EXPECT_FALSE(parse_envelope(text.substr(nl + 1)).has_value());
}

TEST(Envelope, TextAfterEndIsRejected) {
  const std::string text = serialize_envelope(full_envelope());
  EXPECT_FALSE(parse_envelope(text + "size 1\n").has_value());
}

TEST(Envelope, GarbageIsRejected) {
  EXPECT_FALSE(parse_envelope("").has_value());
  EXPECT_FALSE(parse_envelope("\n").has_value());
  EXPECT_FALSE(parse_envelope("poshta-envelope 1\nend\n").has_value());  // no id
  EXPECT_FALSE(parse_envelope("poshta-envelope 1\nid x\nsize many\nend\n").has_value());
  EXPECT_FALSE(parse_envelope("poshta-envelope 1\nid x\nrcpt lost 0 0 0 a b 0 - -\nend\n").has_value());
  EXPECT_FALSE(parse_envelope("poshta-envelope 1\nid x\nrcpt pending 0 0 2 a b 0 - -\nend\n").has_value());
  EXPECT_FALSE(parse_envelope("poshta-envelope 1\nid %zz\nend\n").has_value());
  EXPECT_TRUE(parse_envelope("poshta-envelope 1\nid x\nend\n").has_value());
}

TEST(Envelope, FinishedWhenEveryRecipientIsDeliveredOrFailed) {
  Envelope e = full_envelope();
  EXPECT_FALSE(e.finished());
  for (auto& r : e.recipients) r.state = RecipientState::delivered;
  e.recipients[0].state = RecipientState::failed;
  EXPECT_TRUE(e.finished());
  e.recipients[1].state = RecipientState::deferred;
  EXPECT_FALSE(e.finished());
}

TEST(Envelope, StateNames) {
  EXPECT_STREQ(state_name(RecipientState::pending), "pending");
  EXPECT_STREQ(state_name(RecipientState::deferred), "deferred");
  EXPECT_STREQ(state_name(RecipientState::delivered), "delivered");
  EXPECT_STREQ(state_name(RecipientState::failed), "failed");
}

}  // namespace
}  // namespace poshta::queue
