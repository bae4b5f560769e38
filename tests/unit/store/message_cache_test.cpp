// store/message_cache: records found again by UID and base name across
// instances (sessions) and after reopening; another UIDVALIDITY or schema
// starts anew; a record cut short by a crash or a damaged one is a miss and
// no later record is lost; records appended by another instance are seen
// after refresh(); compaction keeps the live records and other instances
// follow the new file.
#include "store/message_cache.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace poshta::store {
namespace {

namespace fs = std::filesystem;

class MessageCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-cache-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = fs::path(tmpl);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static std::vector<std::string> fields(std::uint32_t uid) {
    return {"envelope " + std::to_string(uid), "", std::string(300, static_cast<char>('a' + uid % 26))};
  }
  static void expect_fields(const std::optional<std::vector<std::string_view>>& got, std::uint32_t uid) {
    ASSERT_TRUE(got.has_value()) << "uid " << uid;
    const auto want = fields(uid);
    ASSERT_EQ(got->size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ((*got)[i], want[i]);
  }
  fs::path dir_;
};

TEST_F(MessageCacheTest, RecordsAreFoundByUidAndBaseAcrossInstances) {
  {
    MessageCache cache(dir_, "imap1", 7);
    for (std::uint32_t uid = 1; uid <= 50; ++uid) cache.add(uid, "base" + std::to_string(uid), fields(uid));
    EXPECT_FALSE(cache.find(3, "base3").has_value()) << "not written before flush()";
    cache.flush();
    expect_fields(cache.find(3, "base3"), 3);
  }
  MessageCache again(dir_, "imap1", 7);
  EXPECT_EQ(again.size(), 50u);
  for (std::uint32_t uid = 1; uid <= 50; ++uid) expect_fields(again.find(uid, "base" + std::to_string(uid)), uid);
  EXPECT_FALSE(again.find(3, "other-base").has_value()) << "a UID given to another file";
  EXPECT_FALSE(again.find(51, "base51").has_value());
}

TEST_F(MessageCacheTest, AnotherUidValidityOrSchemaStartsAnew) {
  {
    MessageCache cache(dir_, "imap1", 7);
    cache.add(1, "b1", fields(1));
  }  // the destructor flushes
  {
    MessageCache other(dir_, "imap1", 8);
    EXPECT_EQ(other.size(), 0u);
    EXPECT_FALSE(other.find(1, "b1").has_value());
  }
  MessageCache schema(dir_, "imap2", 8);
  EXPECT_EQ(schema.size(), 0u);
}

TEST_F(MessageCacheTest, ARecordCutShortByACrashIsDroppedAndLaterAppendsAreFound) {
  {
    MessageCache cache(dir_, "imap1", 7);
    cache.add(1, "b1", fields(1));
    cache.add(2, "b2", fields(2));
  }
  const auto path = dir_ / "poshta-cache";
  fs::resize_file(path, fs::file_size(path) - 10);  // the second record cut short
  {
    MessageCache cache(dir_, "imap1", 7);
    expect_fields(cache.find(1, "b1"), 1);
    EXPECT_FALSE(cache.find(2, "b2").has_value());
    cache.add(3, "b3", fields(3));
  }
  MessageCache cache(dir_, "imap1", 7);
  expect_fields(cache.find(3, "b3"), 3);
}

TEST_F(MessageCacheTest, ADamagedRecordIsAMiss) {
  {
    MessageCache cache(dir_, "imap1", 7);
    cache.add(1, "b1", fields(1));
    cache.add(2, "b2", fields(2));
  }
  const auto path = dir_ / "poshta-cache";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(fs::file_size(path) - 5));
  f.put('#');
  f.close();
  MessageCache cache(dir_, "imap1", 7);
  expect_fields(cache.find(1, "b1"), 1);
  EXPECT_FALSE(cache.find(2, "b2").has_value());
}

TEST_F(MessageCacheTest, RecordsOfAnotherInstanceAreSeenAfterRefresh) {
  MessageCache reader(dir_, "imap1", 7);
  MessageCache writer(dir_, "imap1", 7);
  writer.add(5, "b5", fields(5));
  writer.flush();
  EXPECT_FALSE(reader.find(5, "b5").has_value());
  reader.refresh();
  expect_fields(reader.find(5, "b5"), 5);
}

TEST_F(MessageCacheTest, TheLastRecordOfAUidWins) {
  MessageCache cache(dir_, "imap1", 7);
  cache.add(9, "old", fields(1));
  cache.add(2, "b2", fields(2));
  cache.add(9, "new", fields(9));
  cache.flush();
  EXPECT_EQ(cache.size(), 2u);
  expect_fields(cache.find(9, "new"), 9);
  expect_fields(cache.find(2, "b2"), 2);
}

TEST_F(MessageCacheTest, CompactionKeepsLiveRecordsAndOtherInstancesFollow) {
  MessageCache other(dir_, "imap1", 7);
  MessageCache cache(dir_, "imap1", 7);
  for (std::uint32_t uid = 1; uid <= 1000; ++uid) cache.add(uid, "b" + std::to_string(uid), fields(uid));
  cache.flush();
  const auto before = fs::file_size(dir_ / "poshta-cache");
  std::vector<MessageFile> live;
  for (std::uint32_t uid = 990; uid <= 1000; ++uid) live.push_back({uid, "b" + std::to_string(uid) + ":2,S", 1, 1, 1});
  cache.compact(live);
  EXPECT_EQ(cache.size(), 11u);
  EXPECT_LT(fs::file_size(dir_ / "poshta-cache"), before / 10);
  for (std::uint32_t uid = 990; uid <= 1000; ++uid) expect_fields(cache.find(uid, "b" + std::to_string(uid)), uid);

  other.add(2000, "b2000", fields(2000));
  other.flush();  // goes into the compacted file
  cache.refresh();
  expect_fields(cache.find(2000, "b2000"), 2000);
  EXPECT_EQ(other.size(), 12u);
}

TEST_F(MessageCacheTest, AFewDeadRecordsAreNotWorthACompaction) {
  MessageCache cache(dir_, "imap1", 7);
  for (std::uint32_t uid = 1; uid <= 1000; ++uid) cache.add(uid, "b" + std::to_string(uid), fields(uid));
  cache.flush();
  std::vector<MessageFile> live;
  for (std::uint32_t uid = 400; uid <= 1000; ++uid) live.push_back({uid, "b" + std::to_string(uid), 1, 1, 1});
  cache.compact(live);
  EXPECT_EQ(cache.size(), 1000u);
}

TEST_F(MessageCacheTest, AnUnwritableFolderFindsNothingAndFailsNothing) {
  MessageCache cache(dir_ / "missing", "imap1", 7);
  cache.add(1, "b1", fields(1));
  cache.flush();
  EXPECT_FALSE(cache.find(1, "b1").has_value());
  EXPECT_EQ(cache.size(), 0u);
}

}  // namespace
}  // namespace poshta::store
