// queue/journal: what was appended (and acknowledged) comes back after a
// restart unless it was completed; torn writes and finished segments are
// handled.
#include "queue/journal.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace poshta::queue {
namespace {

namespace fs = std::filesystem;

class JournalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-journal-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = fs::path(tmpl) / "journal";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_.parent_path(), ec);
  }

  static std::uint64_t append(Journal& j, const std::string& payload) {
    const std::string_view parts[] = {payload};
    auto seq = j.append(parts);
    EXPECT_TRUE(seq.ok()) << seq.error().message();
    return seq.ok() ? *seq : 0;
  }

  std::vector<fs::path> segment_files() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path dir_;
  static constexpr std::size_t kSmall = 64 * 1024;
};

TEST_F(JournalTest, AppendedRecordsComeBackAfterARestart) {
  std::vector<std::uint64_t> seqs;
  {
    Journal j(dir_, kSmall);
    EXPECT_TRUE(j.recover().empty());
    for (const char* p : {"first", "second", "third\r\nwith lines\r\n"}) seqs.push_back(append(j, p));
  }
  Journal j(dir_, kSmall);
  const auto records = j.recover();
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].payload, "first");
  EXPECT_EQ(records[1].payload, "second");
  EXPECT_EQ(records[2].payload, "third\r\nwith lines\r\n");
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(records[i].seq, seqs[i]);
  EXPECT_LT(seqs[0], seqs[1]);
  EXPECT_LT(seqs[1], seqs[2]);
}

TEST_F(JournalTest, CompletedRecordsAreNotRecovered) {
  {
    Journal j(dir_, kSmall);
    (void)j.recover();
    const auto a = append(j, "a");
    const auto b = append(j, "b");
    append(j, "c");
    const std::uint64_t done[] = {a, b};
    j.complete(done);
  }
  Journal j(dir_, kSmall);
  const auto records = j.recover();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].payload, "c");
}

TEST_F(JournalTest, SequenceNumbersKeepGrowingAcrossRestarts) {
  std::uint64_t before = 0;
  {
    Journal j(dir_, kSmall);
    (void)j.recover();
    before = append(j, "old");
  }
  std::uint64_t after = 0;
  {
    Journal j(dir_, kSmall);
    ASSERT_EQ(j.recover().size(), 1u);
    after = append(j, "new");
  }
  EXPECT_GT(after, before);
  Journal j(dir_, kSmall);
  const auto records = j.recover();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].payload, "old");
  EXPECT_EQ(records[1].payload, "new");
}

TEST_F(JournalTest, RecoveryStopsAtATornRecord) {
  {
    Journal j(dir_, kSmall);
    (void)j.recover();
    append(j, "intact");
    append(j, "torn by a crash");
  }
  // Damage the last octet of the second record's payload, as a write cut
  // short by a crash would.
  const auto files = segment_files();
  ASSERT_EQ(files.size(), 1u);
  const int fd = ::open(files[0].c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const off_t second = 24 + 8;  // header + "intact" padded to 8
  const off_t last = second + 24 + static_cast<off_t>(std::string("torn by a crash").size()) - 1;
  ASSERT_EQ(::pwrite(fd, "X", 1, last), 1);
  ::close(fd);
  Journal j(dir_, kSmall);
  const auto records = j.recover();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].payload, "intact");
  EXPECT_TRUE(j.damaged().empty()) << "a torn tail is what a crash leaves, not damage";
  EXPECT_FALSE(fs::exists(dir_.parent_path() / "corrupt"));
}

TEST_F(JournalTest, ADamagedRecordInTheMiddleCostsOnlyThatRecord) {
  {
    Journal j(dir_, kSmall);
    (void)j.recover();
    append(j, "before");
    append(j, "damaged on disk");
    append(j, "after, acknowledged too");
  }
  const auto files = segment_files();
  ASSERT_EQ(files.size(), 1u);
  const int fd = ::open(files[0].c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  const off_t second = 24 + 8;                          // header + "before" padded to 8
  ASSERT_EQ(::pwrite(fd, "\xff\xff", 2, second), 2);    // its magic
  ASSERT_EQ(::pwrite(fd, "X", 1, second + 24 + 3), 1);  // and its payload
  ::close(fd);
  Journal j(dir_, kSmall);
  const auto records = j.recover();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].payload, "before");
  EXPECT_EQ(records[1].payload, "after, acknowledged too");
  ASSERT_EQ(j.damaged().size(), 1u);
  EXPECT_NE(j.damaged()[0].find(files[0].filename().string() + " at 32"), std::string::npos) << j.damaged()[0];
  EXPECT_TRUE(fs::exists(dir_.parent_path() / "corrupt" / files[0].filename())) << "a copy is kept to look at";
}

TEST_F(JournalTest, FinishedSegmentsAreDeletedOldestFirst) {
  Journal j(dir_, kSmall);
  (void)j.recover();
  const std::string payload(10 * 1024, 'm');
  std::vector<std::uint64_t> seqs;
  for (int i = 0; i < 30; ++i) seqs.push_back(append(j, payload));  // several 64 KiB segments
  EXPECT_GE(segment_files().size(), 4u);
  // Completing a middle segment's records deletes nothing: older ones still live.
  j.complete(std::span<const std::uint64_t>(seqs).subspan(10, 10));
  const auto with_old = segment_files().size();
  EXPECT_GE(with_old, 4u);
  j.complete(std::span<const std::uint64_t>(seqs).subspan(0, 10));
  j.complete(std::span<const std::uint64_t>(seqs).subspan(20));
  EXPECT_LE(segment_files().size(), 2u);  // the current segment and perhaps a spare
  EXPECT_LT(segment_files().size(), with_old);
}

TEST_F(JournalTest, APayloadLargerThanHalfASegmentIsRefused) {
  Journal j(dir_, kSmall);
  (void)j.recover();
  const std::string big(j.max_payload() + 1, 'b');
  const std::string_view parts[] = {big};
  auto seq = j.append(parts);
  ASSERT_FALSE(seq.ok());
  EXPECT_EQ(seq.error(), std::make_error_code(std::errc::file_too_large));
}

TEST_F(JournalTest, ConcurrentAppendsAreAllRecovered) {
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  {
    Journal j(dir_, kSmall);
    (void)j.recover();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kEach; ++i)
          append(j, "t" + std::to_string(t) + "-" + std::to_string(i) + std::string(900, '.'));
      });
    }
    for (auto& th : threads) th.join();
  }
  Journal j(dir_, kSmall);
  const auto records = j.recover();
  ASSERT_EQ(records.size(), static_cast<std::size_t>(kThreads * kEach));
  std::set<std::string> payloads;
  std::set<std::uint64_t> seqs;
  for (const auto& r : records) {
    payloads.insert(r.payload);
    seqs.insert(r.seq);
  }
  EXPECT_EQ(payloads.size(), records.size());
  EXPECT_EQ(seqs.size(), records.size());
}

}  // namespace
}  // namespace poshta::queue
