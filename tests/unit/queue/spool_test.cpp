// queue/spool: the durable queue. What store() wrote must come back byte for
// byte; recover() keeps complete entries and removes whatever a crash left
// half written.
#include "queue/spool.hpp"

#include <gtest/gtest.h>
#include <csignal>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/group_sync.hpp"

namespace poshta::queue {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spew(const fs::path& p, std::string_view data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

class SpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-spool-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    sync_ = std::make_unique<core::GroupSync>(core::syncfs_flush({root_}));
    spool_ = std::make_unique<Spool>(root_ / "queue", *sync_);
  }
  void TearDown() override {
    spool_.reset();
    sync_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  Envelope make_envelope(const std::string& sender = "a@b.example") {
    Envelope e;
    e.id = spool_->new_id();
    e.arrived = 1'800'000'000;
    e.sender = sender;
    e.body = "8BITMIME";
    EnvelopeRecipient r;
    r.address = "u@mx.test";
    r.local = true;
    r.original = "U@mx.test";
    e.recipients.push_back(r);
    return e;
  }

  // Stores `content` in two parts (as the server does: Received field + message).
  Envelope store(const std::string& content, const std::string& sender = "a@b.example") {
    Envelope e = make_envelope(sender);
    const std::size_t half = content.size() / 2;
    const std::string_view parts[] = {std::string_view(content).substr(0, half),
                                      std::string_view(content).substr(half)};
    EXPECT_FALSE(spool_->store(e, parts));
    return e;
  }

  fs::path msg(const std::string& id) const { return root_ / "queue" / "msg" / id; }
  fs::path env(const std::string& id) const { return root_ / "queue" / "env" / id; }
  fs::path tmp() const { return root_ / "queue" / "tmp"; }

  fs::path root_;
  std::unique_ptr<core::GroupSync> sync_;
  std::unique_ptr<Spool> spool_;
};

TEST(Crc32, MatchesTheStandardCheckValue) {
  const std::string_view whole[] = {"123456789"};
  EXPECT_EQ(crc32_of(whole), 0xCBF43926u);
  const std::string_view split[] = {"1234", "", "56789"};
  EXPECT_EQ(crc32_of(split), 0xCBF43926u);
  const std::span<const std::string_view> none;
  EXPECT_EQ(crc32_of(none), 0u);
}

TEST_F(SpoolTest, CreatesItsDirectories) {
  EXPECT_TRUE(fs::is_directory(root_ / "queue" / "msg"));
  EXPECT_TRUE(fs::is_directory(root_ / "queue" / "env"));
  EXPECT_TRUE(fs::is_directory(tmp()));
}

TEST_F(SpoolTest, NewIdsAreFreshAndDistinct) {
  const std::string a = spool_->new_id();
  const std::string b = spool_->new_id();
  EXPECT_NE(a, b);
  EXPECT_EQ(a.size(), 16u);
  EXPECT_FALSE(fs::exists(msg(a)));
}

TEST_F(SpoolTest, StoreFillsInSizeAndCrc) {
  const std::string content = "Subject: x\r\n\r\n123456789";
  const Envelope e = store(content);
  EXPECT_EQ(e.size, content.size());
  const std::string_view parts[] = {content};
  EXPECT_EQ(e.crc, crc32_of(parts));
}

TEST_F(SpoolTest, StoredMessageLoadsWithTheSameBytes) {
  std::string content = "Received: from x\r\n\tby y; date\r\nSubject: t\r\n\r\nbody\r\n";
  content += std::string("\0\xff binary\r\nend\r\n\nend\n", 22);  // looks like the envelope's end line
  const Envelope e = store(content);
  auto entry = spool_->load(e.id);
  ASSERT_TRUE(entry.ok()) << entry.error().message();
  EXPECT_EQ(entry->content, content);
  EXPECT_EQ(entry->envelope.id, e.id);
  EXPECT_EQ(entry->envelope.sender, "a@b.example");
  EXPECT_EQ(entry->envelope.size, content.size());
  ASSERT_EQ(entry->envelope.recipients.size(), 1u);
  EXPECT_EQ(entry->envelope.recipients[0].address, "u@mx.test");
  EXPECT_EQ(entry->envelope.recipients[0].original, "U@mx.test");
}

TEST_F(SpoolTest, EmptyMessageRoundTrips) {
  const Envelope e = store("");
  auto entry = spool_->load(e.id);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->content, "");
}

TEST_F(SpoolTest, RecoverReturnsEveryStoredEnvelopeSortedById) {
  const Envelope a = store("first\r\n");
  const Envelope b = store("second\r\n", "");
  const auto list = spool_->recover().envelopes;
  ASSERT_EQ(list.size(), 2u);
  EXPECT_LT(list[0].id, list[1].id);
  std::vector<std::string> ids{list[0].id, list[1].id};
  std::vector<std::string> want{a.id, b.id};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(ids, want);
}

TEST_F(SpoolTest, LoadOfUnknownIdFails) {
  EXPECT_FALSE(spool_->load("0000000000000000").ok());
}

TEST_F(SpoolTest, LoadRefusesContentWithAWrongCrc) {
  const Envelope e = store("hello world\r\n");
  std::string file = slurp(msg(e.id));
  file[file.size() - 3] ^= 0x20;  // same size, other bytes
  spew(msg(e.id), file);
  EXPECT_FALSE(spool_->load(e.id).ok());
}

TEST_F(SpoolTest, UpdateRecordsTheNewStateAtomically) {
  Envelope e = store("content\r\n");
  e.recipients[0].state = RecipientState::deferred;
  e.recipients[0].attempts = 1;
  e.recipients[0].last_error = "451 4.3.0 later";
  ASSERT_FALSE(spool_->update(e));
  EXPECT_TRUE(fs::exists(env(e.id)));
  EXPECT_TRUE(names_in(tmp()).empty()) << "update left its temporary file";

  struct stat first {};
  ASSERT_EQ(::stat(env(e.id).c_str(), &first), 0);
  e.recipients[0].state = RecipientState::delivered;
  e.recipients[0].attempts = 2;
  ASSERT_FALSE(spool_->update(e));
  struct stat second {};
  ASSERT_EQ(::stat(env(e.id).c_str(), &second), 0);
  EXPECT_NE(first.st_ino, second.st_ino) << "the envelope was rewritten in place, not replaced by rename";
  EXPECT_TRUE(names_in(tmp()).empty());

  auto entry = spool_->load(e.id);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->envelope.recipients[0].state, RecipientState::delivered);
  EXPECT_EQ(entry->envelope.recipients[0].attempts, 2u);
  EXPECT_EQ(entry->envelope.recipients[0].last_error, "451 4.3.0 later");
  EXPECT_EQ(entry->content, "content\r\n");
  const auto list = spool_->recover().envelopes;
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].recipients[0].state, RecipientState::delivered);
}

TEST_F(SpoolTest, RemoveDeletesTheMessageAndItsState) {
  Envelope e = store("content\r\n");
  ASSERT_FALSE(spool_->update(e));
  spool_->remove(e.id);
  EXPECT_FALSE(fs::exists(msg(e.id)));
  EXPECT_FALSE(fs::exists(env(e.id)));
  EXPECT_FALSE(spool_->load(e.id).ok());
  EXPECT_TRUE(spool_->recover().envelopes.empty());
}

TEST_F(SpoolTest, AMessageCutShortByACrashNeverReachesMsg) {
  const Envelope kept = store("kept\r\n");
  // A process killed in the middle of writing a message (here by the file
  // size limit, SIGXFSZ) leaves at most a file in tmp/, never in msg/.
  const std::string big(256 * 1024, 'x');
  auto store_and_die = [&] {
    rlimit limit{};
    limit.rlim_cur = limit.rlim_max = 64 * 1024;
    ::setrlimit(RLIMIT_FSIZE, &limit);
    Envelope e = make_envelope();
    const std::string_view parts[] = {big};
    (void)spool_->store(e, parts);
    std::exit(0);
  };
  EXPECT_EXIT(store_and_die(), ::testing::KilledBySignal(SIGXFSZ), "");
  EXPECT_EQ(names_in(root_ / "queue" / "msg"), std::vector<std::string>{kept.id}) << "nothing half-written in msg/";
  const auto r = spool_->recover();
  EXPECT_TRUE(r.moved_aside.empty()) << "a crash is not damage";
  ASSERT_EQ(r.envelopes.size(), 1u);
  EXPECT_TRUE(names_in(root_ / "queue" / "tmp").empty());
}

TEST_F(SpoolTest, StoreNeverReplacesAMessageOfTheSameId) {
  const Envelope first = store("first\r\n");
  Envelope second = make_envelope("c@d.example");
  second.id = first.id;
  const std::string_view parts[] = {"second\r\n"};
  EXPECT_EQ(spool_->store(second, parts), std::errc::file_exists);
  auto entry = spool_->load(first.id);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->content, "first\r\n");
  EXPECT_TRUE(names_in(root_ / "queue" / "tmp").empty()) << "nothing left behind";
}

TEST_F(SpoolTest, RecoverKeepsCompleteEntries) {
  const Envelope a = store("one\r\n");
  Envelope b = store("two\r\n");
  b.recipients[0].state = RecipientState::deferred;
  ASSERT_FALSE(spool_->update(b));
  const auto r = spool_->recover();
  EXPECT_TRUE(r.moved_aside.empty());
  ASSERT_EQ(r.envelopes.size(), 2u);
  EXPECT_TRUE(fs::exists(msg(a.id)));
  EXPECT_TRUE(fs::exists(msg(b.id)));
  EXPECT_TRUE(fs::exists(env(b.id)));
  for (const auto& e : r.envelopes) {
    if (e.id == b.id) {
      EXPECT_EQ(e.recipients[0].state, RecipientState::deferred);
    }
  }
  auto entry = spool_->load(a.id);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->content, "one\r\n");
}

TEST_F(SpoolTest, RecoverMovesAsideAnEntryWhoseContentIsTruncated) {
  const Envelope good = store("intact\r\n");
  const Envelope cut = store("this message will be cut short\r\n");
  const std::string file = slurp(msg(cut.id));
  spew(msg(cut.id), file.substr(0, file.size() - 5));
  const auto r = spool_->recover();
  EXPECT_EQ(r.moved_aside, std::vector<std::string>{cut.id});
  ASSERT_EQ(r.envelopes.size(), 1u);
  EXPECT_EQ(r.envelopes[0].id, good.id);
  EXPECT_FALSE(fs::exists(msg(cut.id)));
  EXPECT_EQ(slurp(root_ / "queue" / "corrupt" / cut.id), file.substr(0, file.size() - 5)) << "kept, not deleted";
  EXPECT_TRUE(fs::exists(msg(good.id)));
}

TEST_F(SpoolTest, RecoverMovesAsideEveryTruncationOfAMessage) {
  const Envelope e = store("Subject: s\r\n\r\nbody\r\n");
  const std::string file = slurp(msg(e.id));
  for (std::size_t n = 0; n < file.size(); n += 7) {
    spew(msg(e.id), file.substr(0, n));
    const auto r = spool_->recover();
    EXPECT_TRUE(r.envelopes.empty()) << "a " << n << "-octet prefix was kept";
    EXPECT_FALSE(fs::exists(msg(e.id)));
  }
}

TEST_F(SpoolTest, RecoverMovesAsideAnEntryWithAWrongCrc) {
  const Envelope e = store("hello world\r\n");
  std::string file = slurp(msg(e.id));
  file[file.size() - 4] = 'X';
  spew(msg(e.id), file);
  const auto r = spool_->recover();
  EXPECT_EQ(r.moved_aside, std::vector<std::string>{e.id});
  EXPECT_TRUE(r.envelopes.empty());
  EXPECT_FALSE(fs::exists(msg(e.id)));
}

TEST_F(SpoolTest, RecoverMovesAsideContentWithoutAnEnvelope) {
  spew(msg("19c0e3b2a4f10001"), "Subject: no envelope\r\n\r\nbody\r\n");
  const auto r = spool_->recover();
  EXPECT_EQ(r.moved_aside, std::vector<std::string>{"19c0e3b2a4f10001"});
  EXPECT_FALSE(fs::exists(msg("19c0e3b2a4f10001")));
}

TEST_F(SpoolTest, RecoverMovesAsideAnEnvelopeWhoseIdDoesNotMatchItsFile) {
  const Envelope e = store("content\r\n");
  fs::rename(msg(e.id), msg("ffffffffffffffff"));
  const auto r = spool_->recover();
  EXPECT_TRUE(r.envelopes.empty());
  EXPECT_FALSE(fs::exists(msg("ffffffffffffffff")));
}

TEST_F(SpoolTest, RecoverRemovesStateWithoutMessage) {
  Envelope e = store("content\r\n");
  ASSERT_FALSE(spool_->update(e));
  ASSERT_EQ(::unlink(msg(e.id).c_str()), 0);  // a crash inside remove()
  const auto r = spool_->recover();
  EXPECT_TRUE(r.envelopes.empty());
  EXPECT_FALSE(fs::exists(env(e.id)));
}

TEST_F(SpoolTest, RecoverClearsTmp) {
  const Envelope e = store("content\r\n");
  spew(tmp() / e.id, "poshta-envelope 1\nid half");
  spew(tmp() / "other", "junk");
  const auto r = spool_->recover();
  EXPECT_TRUE(names_in(tmp()).empty());
  EXPECT_EQ(r.envelopes.size(), 1u);
}

TEST_F(SpoolTest, ANewSpoolOnTheSameDirectorySeesStoredMessages) {
  const Envelope e = store("persisted\r\n");
  spool_.reset();
  Spool again(root_ / "queue", *sync_);
  const auto r = again.recover();
  ASSERT_EQ(r.envelopes.size(), 1u);
  EXPECT_EQ(r.envelopes[0].id, e.id);
  auto entry = again.load(e.id);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->content, "persisted\r\n");
}

TEST_F(SpoolTest, StoringAnExistingIdFailsWithoutTouchingIt) {
  Envelope e = store("original\r\n");
  const std::string_view parts[] = {"replacement\r\n"};
  EXPECT_TRUE(spool_->store(e, parts));
  auto entry = spool_->load(e.id);
  ASSERT_TRUE(entry.ok());
  EXPECT_EQ(entry->content, "original\r\n");
}

}  // namespace
}  // namespace poshta::queue
