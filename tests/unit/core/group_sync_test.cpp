// core/group_sync: one flush serves every caller waiting for it, and its
// error reaches each of them.
#include "core/group_sync.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace poshta::core {
namespace {

namespace fs = std::filesystem;

TEST(GroupSync, EachSyncRunsAFlushWhenAlone) {
  int flushes = 0;
  GroupSync sync([&] {
    ++flushes;
    return std::error_code{};
  });
  EXPECT_FALSE(sync.sync());
  EXPECT_FALSE(sync.sync());
  EXPECT_EQ(flushes, 2);
  EXPECT_EQ(sync.flushes(), 2u);
}

TEST(GroupSync, AFailedFlushIsReportedToItsCallerOnly) {
  std::error_code next = std::make_error_code(std::errc::io_error);
  GroupSync sync([&] { return std::exchange(next, std::error_code{}); });
  EXPECT_EQ(sync.sync(), std::make_error_code(std::errc::io_error));
  EXPECT_FALSE(sync.sync());  // the next flush succeeded
}

TEST(GroupSync, ConcurrentCallersShareFlushes) {
  std::atomic<int> flushes{0};
  GroupSync sync([&] {
    ++flushes;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a slow disk: others pile up meanwhile
    return std::error_code{};
  });
  constexpr int kThreads = 16;
  constexpr int kCalls = 5;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) {
        if (sync.sync()) ++errors;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_LT(flushes.load(), kThreads * kCalls);  // grouped, not one per call
  EXPECT_EQ(static_cast<int>(sync.flushes()), flushes.load());
}

TEST(GroupSync, EveryCallerOfAFailedGroupSeesTheError) {
  std::atomic<int> calls{0};
  GroupSync sync([&]() -> std::error_code {
    ++calls;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return std::make_error_code(std::errc::no_space_on_device);
  });
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      if (sync.sync() == std::make_error_code(std::errc::no_space_on_device)) ++errors;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors.load(), 8);
}

class SyncfsFlushTest : public ::testing::Test {
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

TEST_F(SyncfsFlushTest, FlushesATempDirWithoutError) {
  fs::create_directories(dir_ / "a");
  GroupSync sync(syncfs_flush({dir_ / "a", dir_}));
  EXPECT_FALSE(sync.sync());
}

TEST_F(SyncfsFlushTest, MissingPathThrows) {
  EXPECT_THROW(syncfs_flush({dir_ / "does-not-exist"}), std::runtime_error);
}

}  // namespace
}  // namespace poshta::core
