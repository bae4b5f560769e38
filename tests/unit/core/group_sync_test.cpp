// core/group_sync: one syncfs flush serves every writer waiting for it.
#include "core/group_sync.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace poshta::core {
namespace {

namespace fs = std::filesystem;

class GroupSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-groupsync-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(GroupSyncTest, SyncReturnsNoErrorOnATempDir) {
  GroupSync sync({dir_});
  EXPECT_EQ(sync.flushes(), 0u);
  EXPECT_FALSE(sync.sync());
  EXPECT_EQ(sync.flushes(), 1u);
  EXPECT_FALSE(sync.sync());
  EXPECT_EQ(sync.flushes(), 2u);
}

TEST_F(GroupSyncTest, SeveralPathsOnOneFilesystemShareOneFd) {
  fs::create_directories(dir_ / "a");
  fs::create_directories(dir_ / "b");
  GroupSync sync({dir_ / "a", dir_ / "b", dir_});
  EXPECT_FALSE(sync.sync());
  EXPECT_EQ(sync.flushes(), 1u);
}

TEST_F(GroupSyncTest, MissingPathThrows) {
  EXPECT_THROW(GroupSync({dir_ / "does-not-exist"}), std::runtime_error);
}

TEST_F(GroupSyncTest, ConcurrentCallersAllReturnAndShareFlushes) {
  GroupSync sync({dir_});
  constexpr int kThreads = 16;
  constexpr int kCalls = 25;
  std::atomic<int> returned{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        // Something to flush, as the spool would have.
        const fs::path f = dir_ / ("f" + std::to_string(t) + "-" + std::to_string(i));
        if (FILE* fp = std::fopen(f.c_str(), "w")) {
          std::fputs("x", fp);
          std::fclose(fp);
        }
        if (sync.sync()) ++errors;
        ++returned;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(returned.load(), kThreads * kCalls);
  EXPECT_EQ(errors.load(), 0);
  EXPECT_GE(sync.flushes(), 1u);
  EXPECT_LE(sync.flushes(), static_cast<std::uint64_t>(kThreads * kCalls));
}

}  // namespace
}  // namespace poshta::core
