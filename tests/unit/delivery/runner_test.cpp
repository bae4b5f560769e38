// delivery/runner: the queue runner with a real journal, spool and Maildir
// in a temporary directory and a fake relay that the test answers. Local
// mail lands in the Maildir and leaves the journal; relayed mail is settled
// when the relay hands it back (done, deferred into the spool, or failed
// with a DSN to the sender); the administration commands act on messages
// waiting, and on messages with the relay once their attempt is over.
#include "delivery/runner.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/group_sync.hpp"
#include "queue/journal.hpp"
#include "queue/spool.hpp"
#include "store/maildir.hpp"

namespace poshta::delivery {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using queue::RecipientState;

constexpr auto kDeadline = 10s;
// How long to watch for something that must not happen.
constexpr auto kQuiet = 500ms;

const std::string kContent =
    "From: Alice <alice@local.test>\r\n"
    "To: Bob <bob@remote.test>\r\n"
    "Subject: runner test\r\n"
    "Message-ID: <runner-test@local.test>\r\n"
    "\r\n"
    "Hello, Bob.\r\n";
const std::string kHeader = kContent.substr(0, kContent.find("\r\n\r\n") + 2);

template <typename Predicate>
bool eventually(Predicate p) {
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!p()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

queue::RetryPolicy retry() {
  queue::RetryPolicy p;
  p.intervals = {std::chrono::seconds(3600)};  // far enough that only flush() makes a retry due
  p.bounce_after = std::chrono::seconds(86400);
  return p;
}

// Lets the test stop the runner inside a flush (the spool's and the Maildir's).
class Gate {
 public:
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  void open() {
    {
      std::lock_guard lock(mutex_);
      closed_ = false;
    }
    cv_.notify_all();
  }
  void pass() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    cv_.notify_all();
    cv_.wait(lock, [this] { return !closed_; });
    --waiting_;
  }
  // Whether a flush waits at the closed gate, within the deadline.
  bool wait_for_waiter() {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, kDeadline, [this] { return waiting_ > 0; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  bool closed_ = false;
  int waiting_ = 0;
};

// Keeps what the runner hands over; the test answers it.
class FakeRelay : public Relay {
 public:
  explicit FakeRelay(bool all) : all_(all) {}

  bool handles(const queue::EnvelopeRecipient& r) const override { return all_ || !r.local; }

  void deliver(Message m) override {
    {
      std::lock_guard lock(mutex_);
      messages_.push_back(std::move(m));
      ++handed_;
    }
    cv_.notify_all();
  }

  // The next message handed over, or nullopt after the deadline.
  std::optional<Message> next() {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, kDeadline, [this] { return !messages_.empty(); })) return std::nullopt;
    Message m = std::move(messages_.front());
    messages_.pop_front();
    return m;
  }

  int handed() {
    std::lock_guard lock(mutex_);
    return handed_;
  }

 private:
  const bool all_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Message> messages_;
  int handed_ = 0;
};

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-runner-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "mail");
    sync_ = std::make_unique<core::GroupSync>([this, flush = core::syncfs_flush({root_})] {
      gate_.pass();
      return flush();
    });
    journal_ = std::make_unique<queue::Journal>(journal_dir(), kSegment);
    spool_ = std::make_unique<queue::Spool>(root_ / "queue", *sync_);
    maildir_ = std::make_unique<store::Maildir>(root_ / "mail", "mx.test");
  }

  void TearDown() override {
    gate_.open();
    runner_.reset();
    relay_.reset();
    maildir_.reset();
    spool_.reset();
    journal_.reset();
    sync_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  void start(bool relay_handles_local = false) {
    relay_ = std::make_unique<FakeRelay>(relay_handles_local);
    RunnerConfig config;
    config.hostname = "mx.test";
    config.retry = retry();
    config.route = [](const std::string& address) {
      std::vector<queue::EnvelopeRecipient> out;
      if (address == "alice@local.test") {
        queue::EnvelopeRecipient r;
        r.address = address;
        r.local = true;
        r.original = address;
        out.push_back(r);
      }
      return out;
    };
    runner_ = std::make_unique<Runner>(*journal_, *spool_, *maildir_, *sync_, std::move(config));
    runner_->set_relay(relay_.get());
    runner_->start();
  }

  // Stops the runner and opens the journal again, as a restart would: what is left in it.
  std::vector<queue::Journal::Record> restart_journal() {
    runner_.reset();
    journal_.reset();
    journal_ = std::make_unique<queue::Journal>(journal_dir(), kSegment);
    return journal_->recover();
  }

  queue::Envelope envelope(const std::string& sender, const std::string& rcpt, bool local) {
    queue::Envelope env;
    env.id = spool_->new_id();
    env.arrived = unix_now();
    env.sender = sender;
    queue::EnvelopeRecipient r;
    r.address = rcpt;
    r.local = local;
    r.original = rcpt;
    env.recipients.push_back(r);
    return env;
  }

  // Accepts a message as the SMTP server does: journal first, then the runner.
  std::string submit_journal(const std::string& sender, const std::string& rcpt, bool local) {
    queue::Envelope env = envelope(sender, rcpt, local);
    const std::string_view content[] = {kContent};
    const std::string header = queue::stored_header(env, content);
    const std::string_view parts[] = {header, kContent};
    auto seq = journal_->append(parts);
    EXPECT_TRUE(seq.ok()) << seq.error().message();
    const std::string id = env.id;
    runner_->submit(std::move(env), std::make_shared<const std::string>(kContent), seq.ok() ? *seq : 0);
    return id;
  }

  // Answers every recipient the relay had to try with `code`, then hands the message back.
  void answer(Message m, int code, const std::string& text) {
    const std::int64_t now = unix_now();
    for (auto& r : m.env.recipients) {
      if (!relay_->handles(r) || !is_due(r, now)) continue;
      record(m, r, Attempt{code, "", text, "mx.remote.test", "mx.remote.test[192.0.2.25]:25", false}, retry(), now);
    }
    runner_->relayed(std::move(m));
  }

  // The one message listed is held (what list() shows of a message being settled is
  // the envelope from before: held only once it waits).
  bool held_in_list() {
    const auto all = runner_->list();
    return all.size() == 1 && all[0].held;
  }

  bool listed(const std::string& id) {
    const auto all = runner_->list();
    return std::any_of(all.begin(), all.end(), [&](const queue::Envelope& e) { return e.id == id; });
  }

  std::optional<queue::Envelope> spooled(const std::string& id) {
    auto entry = spool_->load(id);
    if (!entry) return std::nullopt;
    return entry->envelope;
  }

  std::vector<fs::path> mails(const std::string& address) {
    std::vector<fs::path> out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(maildir_->mailbox_dir(address) / "new", ec)) out.push_back(e.path());
    return out;
  }

  // A message for bob@remote.test from the journal, answered 450 by the relay:
  // deferred in the spool and waiting in the runner.
  std::string deferred_message() {
    const std::string id = submit_journal("alice@local.test", "bob@remote.test", false);
    auto m = relay_->next();
    EXPECT_TRUE(m);
    if (!m) return id;
    answer(std::move(*m), 450, "450 4.2.1 mailbox busy");
    EXPECT_TRUE(eventually([&] {
      auto env = spooled(id);
      return env && env->recipients[0].state == RecipientState::deferred;
    }));
    // While its attempt is being settled a change only comes later; release() of a
    // message that is not held changes nothing, and is done once the message waits.
    EXPECT_TRUE(eventually([&] { return runner_->release(id) == Runner::Change::done; }));
    return id;
  }

  fs::path journal_dir() const { return root_ / "queue" / "journal"; }

  static constexpr std::size_t kSegment = 1 << 20;
  fs::path root_;
  Gate gate_;
  std::unique_ptr<core::GroupSync> sync_;
  std::unique_ptr<queue::Journal> journal_;
  std::unique_ptr<queue::Spool> spool_;
  std::unique_ptr<store::Maildir> maildir_;
  std::unique_ptr<FakeRelay> relay_;
  std::unique_ptr<Runner> runner_;
};

TEST_F(RunnerTest, LocalMessageGoesToTheMaildirAndLeavesTheJournal) {
  start();
  const std::string id = submit_journal("carol@other.test", "alice@local.test", true);
  ASSERT_TRUE(eventually([&] { return mails("alice@local.test").size() == 1 && runner_->list().empty(); }));
  const auto files = mails("alice@local.test");
  std::string expected = "Return-Path: <carol@other.test>\nDelivered-To: alice@local.test\n" + kContent;
  expected.erase(std::remove(expected.begin(), expected.end(), '\r'), expected.end());
  EXPECT_EQ(slurp(files[0]), expected);
  EXPECT_EQ(relay_->handed(), 0);
  EXPECT_TRUE(restart_journal().empty());
  EXPECT_TRUE(spool_->list().empty());
  EXPECT_FALSE(spooled(id));
}

TEST_F(RunnerTest, RemoteMessageIsHandedToTheRelayWithItsContent) {
  start();
  const std::string id = submit_journal("alice@local.test", "bob@remote.test", false);
  auto m = relay_->next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->env.id, id);
  ASSERT_TRUE(m->content);
  EXPECT_EQ(*m->content, kContent);
  EXPECT_NE(m->journal_seq, 0u);
  ASSERT_EQ(m->env.recipients.size(), 1u);
  EXPECT_EQ(m->env.recipients[0].state, RecipientState::pending);

  // While the relay has it, list() shows it.
  const auto all = runner_->list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, id);
  EXPECT_EQ(all[0].sender, "alice@local.test");
  EXPECT_TRUE(mails("alice@local.test").empty());
  EXPECT_TRUE(mails("bob@remote.test").empty());
}

TEST_F(RunnerTest, SpooledMessageIsHandedToTheRelayWithItsContentLoaded) {
  start();
  queue::Envelope env = envelope("alice@local.test", "bob@remote.test", false);
  const std::string_view parts[] = {kContent};
  ASSERT_FALSE(spool_->store(env, parts));
  const std::string id = env.id;
  runner_->submit(std::move(env), nullptr, 0);
  auto m = relay_->next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->env.id, id);
  EXPECT_EQ(m->journal_seq, 0u);
  ASSERT_TRUE(m->content);
  EXPECT_EQ(*m->content, kContent);

  answer(std::move(*m), 250, "250 2.0.0 queued as X");
  EXPECT_TRUE(eventually([&] { return spool_->list().empty() && runner_->list().empty(); }));
}

TEST_F(RunnerTest, RelayedMessageAnswered250IsDone) {
  start();
  const std::string id = submit_journal("alice@local.test", "bob@remote.test", false);
  auto m = relay_->next();
  ASSERT_TRUE(m);
  answer(std::move(*m), 250, "250 2.0.0 queued as X");
  ASSERT_TRUE(eventually([&] { return runner_->list().empty(); }));
  EXPECT_TRUE(restart_journal().empty());
  EXPECT_TRUE(spool_->list().empty());
  EXPECT_FALSE(spooled(id));
  EXPECT_TRUE(mails("alice@local.test").empty());  // no report: NOTIFY not given
  EXPECT_EQ(relay_->handed(), 1);
}

TEST_F(RunnerTest, RelayedMessageAnswered450IsDeferredIntoTheSpoolAndFlushed) {
  start();
  const std::string id = deferred_message();
  const auto all = spool_->list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].id, id);
  ASSERT_EQ(all[0].recipients.size(), 1u);
  EXPECT_EQ(all[0].recipients[0].state, RecipientState::deferred);
  EXPECT_EQ(all[0].recipients[0].attempts, 1u);
  EXPECT_EQ(all[0].recipients[0].last_error, "mx.remote.test[192.0.2.25]:25 said: 450 4.2.1 mailbox busy");
  EXPECT_GT(all[0].recipients[0].next_attempt, unix_now() + 3000);
  // Out of the journal: it lives in the spool now.
  const auto listed_now = runner_->list();
  ASSERT_EQ(listed_now.size(), 1u);
  EXPECT_EQ(listed_now[0].recipients[0].state, RecipientState::deferred);

  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(relay_->handed(), 1);  // not due for an hour
  EXPECT_TRUE(runner_->flush());
  auto again = relay_->next();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->env.id, id);
  EXPECT_EQ(again->journal_seq, 0u);
  ASSERT_TRUE(again->content);
  EXPECT_EQ(*again->content, kContent);
  EXPECT_EQ(again->env.recipients[0].attempts, 1u);

  answer(std::move(*again), 250, "250 2.0.0 ok");
  ASSERT_TRUE(eventually([&] { return runner_->list().empty(); }));
  EXPECT_TRUE(restart_journal().empty());
  EXPECT_TRUE(spool_->list().empty());
}

TEST_F(RunnerTest, FlushOfOneMessageById) {
  start();
  const std::string id = deferred_message();
  EXPECT_FALSE(runner_->flush("no-such-message"));
  EXPECT_TRUE(runner_->flush(id));
  auto again = relay_->next();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->env.id, id);
}

TEST_F(RunnerTest, RelayedMessageAnswered550BouncesToTheSender) {
  start();
  const std::string id = submit_journal("alice@local.test", "bob@remote.test", false);
  auto m = relay_->next();
  ASSERT_TRUE(m);
  answer(std::move(*m), 550, "550 5.1.1 <bob@remote.test>: no such user");
  ASSERT_TRUE(eventually([&] { return mails("alice@local.test").size() == 1 && runner_->list().empty(); }));
  const std::string dsn = slurp(mails("alice@local.test")[0]);
  EXPECT_NE(dsn.find("Return-Path: <>\n"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("multipart/report"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("report-type=delivery-status"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Status: 5.1.1"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Action: failed"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Final-Recipient: rfc822; bob@remote.test"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Reporting-MTA: dns; mx.test"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Remote-MTA: dns; mx.remote.test"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("From: Mail Delivery System <MAILER-DAEMON@mx.test>"), std::string::npos) << dsn;
  EXPECT_NE(dsn.find("Subject: runner test"), std::string::npos) << dsn;  // the original comes back
  // The original is finished: not in the journal, not in the spool, not handed over again.
  EXPECT_TRUE(restart_journal().empty());
  EXPECT_TRUE(spool_->list().empty());
  EXPECT_FALSE(spooled(id));
  EXPECT_EQ(relay_->handed(), 1);
}

TEST_F(RunnerTest, RelayedMessageAnswered550FromTheNullSenderGetsNoDsn) {
  start();
  const std::string id = submit_journal("", "bob@remote.test", false);
  auto m = relay_->next();
  ASSERT_TRUE(m);
  answer(std::move(*m), 550, "550 5.1.1 <bob@remote.test>: no such user");
  ASSERT_TRUE(eventually([&] { return runner_->list().empty(); }));
  EXPECT_TRUE(restart_journal().empty());  // stops the runner: whatever it was settling is settled
  EXPECT_TRUE(spool_->list().empty());     // a DSN would have been stored here first
  EXPECT_TRUE(fs::is_empty(root_ / "mail"));
  EXPECT_EQ(relay_->handed(), 1);
}

TEST_F(RunnerTest, HoldOnADeferredMessageKeepsItFromTheRelayUntilReleased) {
  start();
  const std::string id = deferred_message();
  EXPECT_EQ(runner_->hold(id), Runner::Change::done);
  auto env = spooled(id);
  ASSERT_TRUE(env);
  EXPECT_TRUE(env->held);
  EXPECT_NE(slurp(root_ / "queue" / "env" / id).find("\nheld 1\n"), std::string::npos);
  const auto all = runner_->list();
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].held);

  EXPECT_TRUE(runner_->flush());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(relay_->handed(), 1);

  EXPECT_EQ(runner_->release(id), Runner::Change::done);
  env = spooled(id);
  ASSERT_TRUE(env);
  EXPECT_FALSE(env->held);
  EXPECT_TRUE(runner_->flush());
  auto again = relay_->next();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->env.id, id);
  EXPECT_FALSE(again->env.held);
}

TEST_F(RunnerTest, HoldWhileWithTheRelayIsAppliedWhenTheAttemptEnds) {
  start();
  const std::string id = submit_journal("alice@local.test", "bob@remote.test", false);
  auto m = relay_->next();
  ASSERT_TRUE(m);
  EXPECT_EQ(runner_->hold(id), Runner::Change::later);
  EXPECT_FALSE(m->env.held);
  answer(std::move(*m), 450, "450 4.2.1 mailbox busy");
  ASSERT_TRUE(eventually([&] {
    auto env = spooled(id);
    return env && env->held;
  }));
  auto env = spooled(id);
  EXPECT_EQ(env->recipients[0].state, RecipientState::deferred);
  EXPECT_EQ(env->recipients[0].attempts, 1u);
  ASSERT_TRUE(eventually([&] { return held_in_list(); }));

  EXPECT_TRUE(runner_->flush());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(relay_->handed(), 1);
  // Out of the journal once it is in the spool.
  EXPECT_TRUE(restart_journal().empty());
}

TEST_F(RunnerTest, MessageBeingSettledIsListedAndAChangeToItIsApplied) {
  start();
  const std::string id = submit_journal("alice@local.test", "bob@remote.test", false);
  auto m = relay_->next();
  ASSERT_TRUE(m);
  gate_.close();
  answer(std::move(*m), 450, "450 4.2.1 mailbox busy");
  // The worker settling it is now inside the spool's flush (journal -> spool).
  ASSERT_TRUE(gate_.wait_for_waiter());
  EXPECT_TRUE(listed(id));
  EXPECT_EQ(runner_->hold(id), Runner::Change::later);
  gate_.open();
  ASSERT_TRUE(eventually([&] {
    auto env = spooled(id);
    return env && env->held;
  }));
  ASSERT_TRUE(eventually([&] { return held_in_list(); }));
  EXPECT_TRUE(runner_->flush());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(relay_->handed(), 1);
}

TEST_F(RunnerTest, ChangesToUnknownMessagesAreNotFound) {
  start();
  EXPECT_EQ(runner_->hold("no-such-message"), Runner::Change::not_found);
  EXPECT_EQ(runner_->release("no-such-message"), Runner::Change::not_found);
  EXPECT_EQ(runner_->remove("no-such-message"), Runner::Change::not_found);
  EXPECT_FALSE(runner_->show("no-such-message"));
}

TEST_F(RunnerTest, RemoveTakesAMessageOutForGood) {
  start();
  const std::string id = deferred_message();
  EXPECT_EQ(runner_->remove(id), Runner::Change::done);
  EXPECT_FALSE(listed(id));
  EXPECT_TRUE(runner_->list().empty());
  EXPECT_TRUE(spool_->list().empty());
  EXPECT_FALSE(fs::exists(root_ / "queue" / "msg" / id));
  EXPECT_FALSE(runner_->show(id));
  EXPECT_EQ(runner_->hold(id), Runner::Change::not_found);
  EXPECT_FALSE(runner_->flush(id));

  EXPECT_TRUE(runner_->flush());
  std::this_thread::sleep_for(kQuiet);
  EXPECT_EQ(relay_->handed(), 1);
  EXPECT_TRUE(restart_journal().empty());
}

TEST_F(RunnerTest, ShowReturnsTheEnvelopeAndTheHeaderSection) {
  start();
  const std::string id = deferred_message();
  auto shown = runner_->show(id);
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->first.id, id);
  EXPECT_EQ(shown->first.sender, "alice@local.test");
  ASSERT_EQ(shown->first.recipients.size(), 1u);
  EXPECT_EQ(shown->first.recipients[0].state, RecipientState::deferred);
  EXPECT_EQ(shown->second, kHeader);
}

TEST_F(RunnerTest, LocalRecipientGoesToARelayThatHandlesLocalMail) {
  start(/*relay_handles_local=*/true);
  const std::string id = submit_journal("carol@other.test", "alice@local.test", true);
  auto m = relay_->next();
  ASSERT_TRUE(m);
  EXPECT_EQ(m->env.id, id);
  ASSERT_EQ(m->env.recipients.size(), 1u);
  EXPECT_TRUE(m->env.recipients[0].local);
  EXPECT_EQ(m->env.recipients[0].state, RecipientState::pending);
  ASSERT_TRUE(m->content);
  EXPECT_EQ(*m->content, kContent);
  EXPECT_TRUE(mails("alice@local.test").empty());

  answer(std::move(*m), 250, "250 2.0.0 <alice@local.test> delivered");
  ASSERT_TRUE(eventually([&] { return runner_->list().empty(); }));
  EXPECT_TRUE(restart_journal().empty());
  EXPECT_TRUE(mails("alice@local.test").empty());
  EXPECT_TRUE(fs::is_empty(root_ / "mail"));
}

}  // namespace
}  // namespace poshta::delivery
