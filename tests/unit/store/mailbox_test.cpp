// store/mailbox: the UID map of one Maildir folder (poshta-uidlist): UIDs in
// order of delivery, stable across syncs, never reused, kept through flag
// renames, a new UIDVALIDITY when the map is lost; sizes from the file name
// or the file; deletion; POP3's UIDL form.
#include "store/mailbox.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace poshta::store {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void put(const fs::path& p, std::string_view content) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << content;
}

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::uint32_t> uids_of(const MailboxSnapshot& s) {
  std::vector<std::uint32_t> out;
  for (const auto& m : s.messages) out.push_back(m.uid);
  return out;
}

const MessageFile* by_base(const MailboxSnapshot& s, std::string_view base) {
  for (const auto& m : s.messages) {
    if (m.base() == base) return &m;
  }
  return nullptr;
}

std::uint32_t now_seconds() {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

class MailboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-mailbox-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    tmp_ = fs::path(tmpl);
    box_ = tmp_ / "example.org" / "user";
    for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(box_ / sub);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }

  // A delivered message in new/, named as Maildir::publish names them.
  void deliver(std::string_view base, std::string_view content = "Subject: x\n\nbody\n") {
    put(box_ / "new" / base, content);
  }

  MailboxSnapshot sync() {
    Mailbox m(box_);
    auto s = m.sync();
    EXPECT_TRUE(s.ok()) << s.error().message();
    return s.ok() ? *s : MailboxSnapshot{};
  }

  fs::path tmp_;
  fs::path box_;
};

TEST_F(MailboxTest, FreshMaildirGetsUidsInNameOrderAndNewMovesToCur) {
  // Created out of order: the UIDs follow the names (the delivery time), not the creation.
  deliver("1700000003.M3P1.host,S=17,W=20");
  deliver("1700000001.M1P1.host,S=17,W=20");
  deliver("1700000002.M2P1.host,S=17,W=20");
  const auto s = sync();
  EXPECT_NE(s.uid_validity, 0u);
  EXPECT_EQ(s.uid_next, 4u);
  ASSERT_EQ(s.messages.size(), 3u);
  EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2, 3}));
  EXPECT_EQ(s.messages[0].name, "1700000001.M1P1.host,S=17,W=20:2,");
  EXPECT_EQ(s.messages[1].name, "1700000002.M2P1.host,S=17,W=20:2,");
  EXPECT_EQ(s.messages[2].name, "1700000003.M3P1.host,S=17,W=20:2,");
  EXPECT_EQ(s.messages[0].base(), "1700000001.M1P1.host,S=17,W=20");
  EXPECT_EQ(s.messages[0].flags(), "");
  EXPECT_TRUE(names_in(box_ / "new").empty());
  EXPECT_EQ(names_in(box_ / "cur"),
            (std::vector<std::string>{"1700000001.M1P1.host,S=17,W=20:2,", "1700000002.M2P1.host,S=17,W=20:2,",
                                      "1700000003.M3P1.host,S=17,W=20:2,"}));
  Mailbox m(box_);
  EXPECT_EQ(m.path_of(s.messages[1]), box_ / "cur" / "1700000002.M2P1.host,S=17,W=20:2,");
  EXPECT_TRUE(fs::exists(m.path_of(s.messages[1])));
}

TEST_F(MailboxTest, UidsFollowDeliveryTimeNotTheTextOfTheName) {
  // Maildir names start with seconds and microseconds, neither zero-padded.
  deliver("1700000000.M100000P7Q2.host,S=17,W=20");
  deliver("1700000000.M99999P7Q1.host,S=17,W=20");
  deliver("999999999.M5P7Q9.host,S=17,W=20");
  deliver("1700000001.M0P7Q3.host,S=17,W=20");
  const auto s = sync();
  ASSERT_EQ(s.messages.size(), 4u);
  EXPECT_EQ(s.messages[0].base(), "999999999.M5P7Q9.host,S=17,W=20");
  EXPECT_EQ(s.messages[1].base(), "1700000000.M99999P7Q1.host,S=17,W=20");
  EXPECT_EQ(s.messages[2].base(), "1700000000.M100000P7Q2.host,S=17,W=20");
  EXPECT_EQ(s.messages[3].base(), "1700000001.M0P7Q3.host,S=17,W=20");
  EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2, 3, 4}));
}

TEST_F(MailboxTest, UidlistFormat) {
  deliver("1.a");
  deliver("2.b");
  const auto s = sync();
  EXPECT_EQ(slurp(box_ / "poshta-uidlist"),
            "poshta-uidlist 1 " + std::to_string(s.uid_validity) + " 3\n1 1.a\n2 2.b\n");
  EXPECT_FALSE(fs::exists(box_ / "poshta-uidlist.tmp"));
}

TEST_F(MailboxTest, SyncCreatesAMissingMaildir) {
  const fs::path other = tmp_ / "example.org" / "nobody";
  Mailbox m(other);
  auto s = m.sync();
  ASSERT_TRUE(s.ok()) << s.error().message();
  EXPECT_TRUE(s->messages.empty());
  EXPECT_EQ(s->uid_next, 1u);
  for (const char* sub : {"cur", "new", "tmp"}) EXPECT_TRUE(fs::is_directory(other / sub)) << sub;
}

TEST_F(MailboxTest, FlaggedFilesAlreadyInNewKeepTheirName) {
  deliver("1.a:2,S");
  const auto s = sync();
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.messages[0].name, "1.a:2,S");
  EXPECT_EQ(s.messages[0].flags(), "S");
  EXPECT_TRUE(fs::exists(box_ / "cur" / "1.a:2,S"));
}

TEST_F(MailboxTest, DotFilesAreIgnored) {
  deliver("1.a");
  put(box_ / "new" / ".hidden", "x");
  put(box_ / "cur" / ".also-hidden", "x");
  const auto s = sync();
  ASSERT_EQ(s.messages.size(), 1u);
  EXPECT_EQ(s.messages[0].base(), "1.a");
  EXPECT_TRUE(fs::exists(box_ / "new" / ".hidden"));
}

TEST_F(MailboxTest, UidsAreStableAcrossSyncs) {
  deliver("1.a");
  deliver("2.b");
  deliver("3.c");
  const auto first = sync();
  const auto second = sync();
  const auto third = sync();
  EXPECT_EQ(second.uid_validity, first.uid_validity);
  EXPECT_EQ(third.uid_validity, first.uid_validity);
  EXPECT_EQ(uids_of(second), uids_of(first));
  EXPECT_EQ(uids_of(third), uids_of(first));
  EXPECT_EQ(third.uid_next, 4u);
  for (std::size_t i = 0; i < first.messages.size(); ++i) EXPECT_EQ(third.messages[i].name, first.messages[i].name);
}

TEST_F(MailboxTest, NewFilesGetHigherUids) {
  deliver("5.e");
  deliver("6.f");
  const auto first = sync();
  deliver("1.a");  // sorts before the others, but arrives later
  deliver("9.z");
  const auto second = sync();
  EXPECT_EQ(second.uid_validity, first.uid_validity);
  ASSERT_EQ(second.messages.size(), 4u);
  EXPECT_EQ(by_base(second, "5.e")->uid, 1u);
  EXPECT_EQ(by_base(second, "6.f")->uid, 2u);
  EXPECT_EQ(by_base(second, "1.a")->uid, 3u);
  EXPECT_EQ(by_base(second, "9.z")->uid, 4u);
  EXPECT_EQ(uids_of(second), (std::vector<std::uint32_t>{1, 2, 3, 4}));  // in UID order
  EXPECT_EQ(second.uid_next, 5u);
}

TEST_F(MailboxTest, RemovedFileDisappearsAndItsUidIsNeverReused) {
  deliver("1.a");
  deliver("2.b");
  deliver("3.c");
  const auto first = sync();
  fs::remove(box_ / "cur" / "3.c:2,");  // the highest UID: the one a careless map would reuse
  fs::remove(box_ / "cur" / "2.b:2,");
  const auto second = sync();
  EXPECT_EQ(second.uid_validity, first.uid_validity);
  EXPECT_EQ(uids_of(second), (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(second.uid_next, 4u);
  EXPECT_EQ(slurp(box_ / "poshta-uidlist"), "poshta-uidlist 1 " + std::to_string(first.uid_validity) + " 4\n1 1.a\n");
  deliver("4.d");
  const auto third = sync();
  EXPECT_EQ(uids_of(third), (std::vector<std::uint32_t>{1, 4}));
  EXPECT_EQ(by_base(third, "4.d")->uid, 4u);
  EXPECT_EQ(third.uid_next, 5u);
}

TEST_F(MailboxTest, FileRenamedWithNewFlagsKeepsItsUid) {
  deliver("1.a");
  deliver("2.b");
  const auto first = sync();
  fs::rename(box_ / "cur" / "2.b:2,", box_ / "cur" / "2.b:2,RS");
  const auto second = sync();
  EXPECT_EQ(second.uid_validity, first.uid_validity);
  ASSERT_EQ(second.messages.size(), 2u);
  EXPECT_EQ(second.messages[1].uid, 2u);
  EXPECT_EQ(second.messages[1].name, "2.b:2,RS");
  EXPECT_EQ(second.messages[1].flags(), "RS");
  EXPECT_EQ(second.uid_next, 3u);
}

TEST_F(MailboxTest, DeletedUidlistIsRebuiltWithAGreaterUidValidity) {
  deliver("1.a");
  deliver("2.b");
  const auto first = sync();
  // UIDVALIDITY comes from the clock: a rebuild within the same second could not be told apart.
  while (now_seconds() <= first.uid_validity) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  fs::remove(box_ / "poshta-uidlist");
  deliver("0.z");
  const auto second = sync();
  EXPECT_GT(second.uid_validity, first.uid_validity);
  ASSERT_EQ(second.messages.size(), 3u);
  // Numbered afresh, in name order.
  EXPECT_EQ(by_base(second, "0.z")->uid, 1u);
  EXPECT_EQ(by_base(second, "1.a")->uid, 2u);
  EXPECT_EQ(by_base(second, "2.b")->uid, 3u);
  EXPECT_EQ(second.uid_next, 4u);
  EXPECT_TRUE(fs::exists(box_ / "poshta-uidlist"));
  EXPECT_EQ(sync().uid_validity, second.uid_validity);
}

TEST_F(MailboxTest, CorruptUidlistIsRebuilt) {
  deliver("1.a");
  deliver("2.b");
  const std::string bad[] = {
      "garbage\n",
      "",
      "poshta-uidlist 1 0 3\n1 1.a\n",          // no UIDVALIDITY
      "poshta-uidlist 1 77 3\n1 1.a\n2 2.b",    // cut short
      "poshta-uidlist 1 77 2\n1 1.a\n2 2.b\n",  // a UID not below UIDNEXT
      "poshta-uidlist 1 77 3\nx 1.a\n",
      "poshta-uidlist 2 77 3\n1 1.a\n",  // a version this code does not know
  };
  for (const auto& text : bad) {
    put(box_ / "poshta-uidlist", text);
    const auto s = sync();
    ASSERT_EQ(s.messages.size(), 2u) << text;
    EXPECT_NE(s.uid_validity, 77u) << text;
    EXPECT_NE(s.uid_validity, 0u) << text;
    EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2})) << text;
    EXPECT_EQ(s.uid_next, 3u) << text;
    const std::string rebuilt = slurp(box_ / "poshta-uidlist");
    EXPECT_EQ(rebuilt, "poshta-uidlist 1 " + std::to_string(s.uid_validity) + " 3\n1 1.a\n2 2.b\n") << text;
  }
}

TEST_F(MailboxTest, UidlistWrittenByHandIsTrusted) {
  deliver("1.a");
  deliver("2.b");
  put(box_ / "poshta-uidlist", "poshta-uidlist 1 77 40\n10 1.a\n31 2.b\n");
  const auto s = sync();
  EXPECT_EQ(s.uid_validity, 77u);
  EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{10, 31}));
  EXPECT_EQ(s.uid_next, 40u);
}

TEST_F(MailboxTest, WireSizeFromTheNameOrComputed) {
  deliver("1.named,S=5,W=999", "hello");
  deliver("2.lf", "A: b\n\nx\ny\n");                         // 10 octets, 4 LF
  deliver("3.crlf", "A: b\r\n\r\nx\r\n");                    // CRLF already: nothing to add
  deliver("4.mixed,S=6", "a\nb\r\nc");                       // S= but no W=: computed
  deliver("5.big", std::string(200000, '\n'));               // across read buffers
  deliver("6.cr-at-end", std::string(65535, 'x') + "\r\n");  // CRLF across a read buffer boundary
  const auto s = sync();
  ASSERT_EQ(s.messages.size(), 6u);
  EXPECT_EQ(by_base(s, "1.named,S=5,W=999")->size, 5u);
  EXPECT_EQ(by_base(s, "1.named,S=5,W=999")->wire_size, 999u);
  EXPECT_EQ(by_base(s, "2.lf")->size, 10u);
  EXPECT_EQ(by_base(s, "2.lf")->wire_size, 14u);
  EXPECT_EQ(by_base(s, "3.crlf")->wire_size, 11u);
  EXPECT_EQ(by_base(s, "4.mixed,S=6")->size, 6u);
  EXPECT_EQ(by_base(s, "4.mixed,S=6")->wire_size, 7u);
  EXPECT_EQ(by_base(s, "5.big")->wire_size, 400000u);
  EXPECT_EQ(by_base(s, "6.cr-at-end")->wire_size, 65537u);
}

TEST_F(MailboxTest, RemoveDeletesTheFiles) {
  deliver("1.a");
  deliver("2.b");
  deliver("3.c");
  const auto s = sync();
  Mailbox m(box_);
  EXPECT_FALSE(m.remove({s.messages[0], s.messages[2]}));
  EXPECT_EQ(names_in(box_ / "cur"), (std::vector<std::string>{"2.b:2,"}));
  const auto after = sync();
  EXPECT_EQ(uids_of(after), (std::vector<std::uint32_t>{2}));
  // Already gone: fine.
  EXPECT_FALSE(m.remove({s.messages[0]}));
  EXPECT_FALSE(m.remove({}));
}

TEST_F(MailboxTest, RemoveFindsAMessageRenamedWithNewFlags) {
  deliver("1.a");
  deliver("2.b");
  const auto s = sync();
  // Another Maildir reader marks the message seen after the snapshot was taken.
  fs::rename(box_ / "cur" / "1.a:2,", box_ / "cur" / "1.a:2,S");
  Mailbox m(box_);
  EXPECT_FALSE(m.remove({s.messages[0]}));
  EXPECT_EQ(names_in(box_ / "cur"), (std::vector<std::string>{"2.b:2,"}));
}

TEST_F(MailboxTest, TwoMailboxesOnOneFolderAgree) {
  deliver("1.a");
  Mailbox a(box_), b(box_);
  auto sa = a.sync();
  deliver("2.b");
  auto sb = b.sync();
  ASSERT_TRUE(sa.ok());
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sa->uid_validity, sb->uid_validity);
  EXPECT_EQ(uids_of(*sb), (std::vector<std::uint32_t>{1, 2}));
  auto again = a.sync();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(uids_of(*again), (std::vector<std::uint32_t>{1, 2}));
}

TEST(MailboxUidl, IsUidThenUidValidityInEightHexDigitsEach) {
  EXPECT_EQ(pop3_uidl(0x65A1B2C3u, 1), "0000000165A1B2C3");
  EXPECT_EQ(pop3_uidl(1, 0xABCDEFu), "00ABCDEF00000001");
  EXPECT_EQ(pop3_uidl(0xFFFFFFFFu, 0xFFFFFFFFu), "FFFFFFFFFFFFFFFF");
  EXPECT_EQ(pop3_uidl(0, 0), "0000000000000000");
}

TEST(MailboxMessageFile, BaseAndFlags) {
  MessageFile m;
  m.name = "123.M1P2.host,S=10,W=12:2,FRS";
  EXPECT_EQ(m.base(), "123.M1P2.host,S=10,W=12");
  EXPECT_EQ(m.flags(), "FRS");
  m.name = "plain";
  EXPECT_EQ(m.base(), "plain");
  EXPECT_EQ(m.flags(), "");
}

}  // namespace
}  // namespace poshta::store
