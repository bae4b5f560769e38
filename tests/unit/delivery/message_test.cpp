// delivery/message: record() turns one attempt's reply into the recipient's
// new state (2xx delivered, 4xx deferred or failed past bounce_after, 5xx
// failed) and into the notices the sender asked for (RFC 3461 NOTIFY).
#include "delivery/message.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "core/notify.hpp"

namespace poshta::delivery {
namespace {

using queue::DsnRecipient;
using queue::RecipientState;

constexpr std::int64_t kArrived = 1'800'000'000;

queue::RetryPolicy policy() {
  queue::RetryPolicy p;
  p.intervals = {std::chrono::seconds(60), std::chrono::seconds(600), std::chrono::seconds(3600)};
  p.bounce_after = std::chrono::seconds(86400);
  return p;
}

Message message(std::uint8_t notify = 0, bool local = false) {
  queue::Envelope env;
  env.id = "0123456789abcdef";
  env.arrived = kArrived;
  env.sender = "alice@local.test";
  queue::EnvelopeRecipient r;
  r.address = local ? "carol@local.test" : "bob@remote.test";
  r.local = local;
  r.original = r.address;
  r.notify = notify;
  r.orcpt = "rfc822;Bob@remote.test";
  env.recipients.push_back(r);
  return Message(std::move(env), nullptr, 0);
}

Attempt remote(int code, std::string text, std::string status = {}) {
  return {code, std::move(status), std::move(text), "mx.remote.test", "mx.remote.test[192.0.2.25]:25", false};
}

Attempt local(int code, std::string text) {
  return {code, "", std::move(text), "", "maildir", false};
}

TEST(DeliveryRecord, TwoHundredsDeliverAndClearTheLastError) {
  Message m = message();
  auto& r = m.env.recipients[0];
  r.state = RecipientState::deferred;
  r.attempts = 2;
  r.last_error = "451 4.3.0 try later";
  record(m, r, remote(250, "250 2.0.0 ok"), policy(), kArrived + 100);
  EXPECT_EQ(r.state, RecipientState::delivered);
  EXPECT_TRUE(r.last_error.empty());
  EXPECT_EQ(r.attempts, 3u);
  EXPECT_TRUE(m.changed);
  EXPECT_TRUE(m.notices.empty());  // NOTIFY not given: no success report
}

TEST(DeliveryRecord, FourHundredsDeferToTheRetryPolicy) {
  Message m = message();
  auto& r = m.env.recipients[0];
  const std::int64_t now = kArrived + 10;
  const Attempt a = remote(450, "450 4.2.1 mailbox busy");
  record(m, r, a, policy(), now);
  EXPECT_EQ(r.state, RecipientState::deferred);
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_EQ(r.next_attempt, now + 60);
  EXPECT_EQ(r.next_attempt, queue::next_attempt(policy(), 1, now));
  // The reply as the next hop sent it, after the host that sent it.
  EXPECT_EQ(r.last_error, a.relay + " said: " + a.text);
  EXPECT_TRUE(m.changed);
  EXPECT_TRUE(m.notices.empty());  // no delay reports from record()

  record(m, r, a, policy(), now + 60);
  EXPECT_EQ(r.state, RecipientState::deferred);
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_EQ(r.next_attempt, now + 60 + 600);
}

TEST(DeliveryRecord, FourHundredsFailOnceBounceAfterHasPassed) {
  Message m = message();
  auto& r = m.env.recipients[0];
  r.attempts = 4;
  const std::int64_t now = kArrived + 86400;
  const Attempt a = remote(450, "450 4.4.1 no answer from host");
  record(m, r, a, policy(), now);
  EXPECT_EQ(r.state, RecipientState::failed);
  EXPECT_EQ(r.attempts, 5u);
  EXPECT_EQ(r.last_error, "gave up after 5 attempts: " + a.relay + " said: 450 4.4.1 no answer from host");
  ASSERT_EQ(m.notices.size(), 1u);
  const auto& n = m.notices[0];
  EXPECT_EQ(n.action, DsnRecipient::Action::failed);
  EXPECT_EQ(n.status, "5.4.1");  // the same detail, made permanent
  EXPECT_EQ(n.address, "bob@remote.test");
  EXPECT_EQ(n.orcpt, "rfc822;Bob@remote.test");
  EXPECT_EQ(n.remote_mta, "mx.remote.test");
  EXPECT_EQ(n.diagnostic, a.text);
  EXPECT_EQ(n.last_attempt, now);
}

TEST(DeliveryRecord, ExpiredLocalFailureWithoutEnhancedCodeGetsFiveZeroZero) {
  Message m = message(0, true);
  auto& r = m.env.recipients[0];
  record(m, r, local(451, "451 local problem"), policy(), kArrived + 2 * 86400);
  EXPECT_EQ(r.state, RecipientState::failed);
  ASSERT_EQ(m.notices.size(), 1u);
  EXPECT_EQ(m.notices[0].status, "5.0.0");
  EXPECT_TRUE(m.notices[0].remote_mta.empty());
}

TEST(DeliveryRecord, FiveHundredsFailWithANotice) {
  Message m = message();
  auto& r = m.env.recipients[0];
  const std::int64_t now = kArrived + 5;
  const Attempt a = remote(550, "550 5.1.1 <bob@remote.test>: no such user");
  record(m, r, a, policy(), now);
  EXPECT_EQ(r.state, RecipientState::failed);
  EXPECT_EQ(r.attempts, 1u);
  EXPECT_EQ(r.last_error, a.relay + " said: " + a.text);
  ASSERT_EQ(m.notices.size(), 1u);
  const auto& n = m.notices[0];
  EXPECT_EQ(n.address, "bob@remote.test");
  EXPECT_EQ(n.orcpt, "rfc822;Bob@remote.test");
  EXPECT_EQ(n.action, DsnRecipient::Action::failed);
  EXPECT_EQ(n.status, "5.1.1");
  EXPECT_EQ(n.remote_mta, "mx.remote.test");
  EXPECT_EQ(n.diagnostic, a.text);
  EXPECT_EQ(n.last_attempt, now);
  EXPECT_EQ(n.will_retry_until, 0);
}

TEST(DeliveryRecord, FiveHundredStatusComesFromTheAttemptThenTheReplyThenTheClass) {
  {
    Message m = message();
    record(m, m.env.recipients[0], remote(554, "554 5.4.6 loops back", "5.4.4"), policy(), kArrived);
    ASSERT_EQ(m.notices.size(), 1u);
    EXPECT_EQ(m.notices[0].status, "5.4.4");
  }
  {
    Message m = message();
    record(m, m.env.recipients[0], remote(550, "550 no such user"), policy(), kArrived);
    ASSERT_EQ(m.notices.size(), 1u);
    EXPECT_EQ(m.notices[0].status, "5.0.0");
  }
  {
    // An enhanced code of another class than the reply's is not believed.
    Message m = message();
    record(m, m.env.recipients[0], remote(550, "550 2.1.5 odd"), policy(), kArrived);
    ASSERT_EQ(m.notices.size(), 1u);
    EXPECT_EQ(m.notices[0].status, "5.0.0");
  }
  {
    Message m = message();
    record(m, m.env.recipients[0], remote(553, "553 5.1.3 bad address"), policy(), kArrived);
    ASSERT_EQ(m.notices.size(), 1u);
    EXPECT_EQ(m.notices[0].status, "5.1.3");
  }
}

TEST(DeliveryRecord, NotifyNeverOrSuccessOnlyGetsNoFailureNotice) {
  for (std::uint8_t notify : {core::notify::never, core::notify::success, core::notify::delay}) {
    Message m = message(notify);
    auto& r = m.env.recipients[0];
    record(m, r, remote(550, "550 5.1.1 no such user"), policy(), kArrived);
    EXPECT_EQ(r.state, RecipientState::failed) << int(notify);
    EXPECT_TRUE(m.notices.empty()) << int(notify);

    Message expired = message(notify);
    record(expired, expired.env.recipients[0], remote(450, "450 4.4.1 timeout"), policy(), kArrived + 86400);
    EXPECT_EQ(expired.env.recipients[0].state, RecipientState::failed) << int(notify);
    EXPECT_TRUE(expired.notices.empty()) << int(notify);
  }
  Message m = message(core::notify::failure | core::notify::success);
  record(m, m.env.recipients[0], remote(550, "550 5.1.1 no such user"), policy(), kArrived);
  ASSERT_EQ(m.notices.size(), 1u);
  EXPECT_EQ(m.notices[0].action, DsnRecipient::Action::failed);
}

TEST(DeliveryRecord, NotifySuccessOnALocalDeliveryReportsDelivered) {
  Message m = message(core::notify::success, true);
  auto& r = m.env.recipients[0];
  const Attempt a = local(250, "250 2.0.0 1800000000.M1P2Q3.host,S=10,W=12");
  record(m, r, a, policy(), kArrived + 1);
  EXPECT_EQ(r.state, RecipientState::delivered);
  ASSERT_EQ(m.notices.size(), 1u);
  const auto& n = m.notices[0];
  EXPECT_EQ(n.action, DsnRecipient::Action::delivered);
  EXPECT_EQ(n.address, "carol@local.test");
  EXPECT_EQ(n.status, "2.0.0");
  EXPECT_TRUE(n.remote_mta.empty());
  EXPECT_EQ(n.diagnostic, a.text);
}

TEST(DeliveryRecord, NotifySuccessOnARemoteDeliveryReportsRelayedUnlessPassedOn) {
  {
    Message m = message(core::notify::success | core::notify::failure);
    auto& r = m.env.recipients[0];
    Attempt a = remote(250, "250 2.6.0 queued");
    a.dsn_passed_on = true;  // the next hop reports success itself
    record(m, r, a, policy(), kArrived);
    EXPECT_EQ(r.state, RecipientState::delivered);
    EXPECT_TRUE(m.notices.empty());
  }
  {
    Message m = message(core::notify::success);
    auto& r = m.env.recipients[0];
    record(m, r, remote(250, "250 2.6.0 queued"), policy(), kArrived);
    EXPECT_EQ(r.state, RecipientState::delivered);
    ASSERT_EQ(m.notices.size(), 1u);
    EXPECT_EQ(m.notices[0].action, DsnRecipient::Action::relayed);
    EXPECT_EQ(m.notices[0].status, "2.6.0");
    EXPECT_EQ(m.notices[0].remote_mta, "mx.remote.test");
  }
  {
    Message m = message(core::notify::never);
    record(m, m.env.recipients[0], remote(250, "250 ok"), policy(), kArrived);
    EXPECT_TRUE(m.notices.empty());
  }
}

TEST(DeliveryRecordIsDue, PendingAndDeferredWhoseTimeHasCome) {
  queue::EnvelopeRecipient r;
  const std::int64_t now = kArrived;
  EXPECT_TRUE(is_due(r, now));
  r.state = RecipientState::deferred;
  r.next_attempt = now + 1;
  EXPECT_FALSE(is_due(r, now));
  r.next_attempt = now;
  EXPECT_TRUE(is_due(r, now));
  r.next_attempt = 0;
  EXPECT_TRUE(is_due(r, now));
  r.state = RecipientState::delivered;
  EXPECT_FALSE(is_due(r, now));
  r.state = RecipientState::failed;
  EXPECT_FALSE(is_due(r, now));
}

}  // namespace
}  // namespace poshta::delivery
