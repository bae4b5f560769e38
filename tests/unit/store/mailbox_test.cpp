// store/mailbox: the UID map of one Maildir folder (poshta-uidlist): UIDs in
// order of delivery, stable across syncs, never reused, kept through flag
// renames, a new UIDVALIDITY when the map is lost; sizes from the file name
// or the file; deletion; POP3's UIDL form; flags in file names, APPEND and
// COPY with the UIDs they are given.
#include "store/mailbox.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
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
            "poshta-uidlist 2 " + std::to_string(s.uid_validity) + " 3 3 1 0 0\n1 2 - 1.a\n2 3 - 2.b\n");
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

TEST_F(MailboxTest, RecentMessagesBelongToTheFirstSessionThatClaimsThem) {
  deliver("1000.a");
  deliver("1001.b");
  EXPECT_EQ(sync().first_recent_uid, 1u) << "a new folder: everything is recent";
  Mailbox m(box_);
  auto claimed = m.sync(true);
  ASSERT_TRUE(claimed.ok());
  EXPECT_EQ(claimed->first_recent_uid, 1u) << "the claimer learns what was recent";
  EXPECT_EQ(sync().first_recent_uid, 3u) << "nothing is recent for later sessions";
  deliver("1002.c");
  auto after = sync();
  EXPECT_EQ(after.first_recent_uid, 3u);
  EXPECT_EQ(after.uid_next, 4u) << "the new message is recent, for whoever claims it next";
  const std::string text = slurp(box_ / "poshta-uidlist");
  const std::string head = text.substr(0, text.find('\n'));
  EXPECT_TRUE(head.ends_with(" 3 0 0")) << "the first recent UID is kept in the uidlist: " << head;
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
  // Two expunges: HIGHESTMODSEQ moves from 4 (three arrivals) to 6.
  EXPECT_EQ(slurp(box_ / "poshta-uidlist"),
            "poshta-uidlist 2 " + std::to_string(first.uid_validity) + " 4 6 1 0 0\n1 2 - 1.a\n");
  deliver("4.d");
  const auto third = sync();
  EXPECT_EQ(uids_of(third), (std::vector<std::uint32_t>{1, 4}));
  EXPECT_EQ(by_base(third, "4.d")->uid, 4u);
  EXPECT_EQ(third.uid_next, 5u);
}

// The fields of the uidlist's first line, after the magic.
std::vector<std::string> header_fields(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text.substr(0, text.find('\n')));
  std::string f;
  while (in >> f) out.push_back(f);
  return out;
}

TEST_F(MailboxTest, AnUnchangedFolderIsOpenedFromTheUidlistAlone) {
  deliver("1000.M1P1.host,S=10,W=11");
  deliver("1001.M2P1.host,S=20,W=22");
  sync();  // moves new/ to cur/: the directories changed just now
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  const auto listed = sync();  // listed well after the last change: trusted from now on
  const auto fields = header_fields(slurp(box_ / "poshta-uidlist"));
  ASSERT_EQ(fields.size(), 8u);
  EXPECT_NE(fields[6], "0");
  EXPECT_NE(fields[7], "0");

  // A file slipped into cur/ with the directory's mtime put back: only a
  // sync that trusts the uidlist misses it, which shows it read no directory.
  struct stat before {};
  ASSERT_EQ(::stat((box_ / "cur").c_str(), &before), 0);
  put(box_ / "cur" / "1002.M3P1.host,S=5,W=6:2,", "x\n");
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  ASSERT_EQ(::utimensat(AT_FDCWD, (box_ / "cur").c_str(), times, 0), 0);
  const auto fast = sync();
  ASSERT_EQ(fast.messages.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(fast.messages[i].name, listed.messages[i].name);
    EXPECT_EQ(fast.messages[i].uid, listed.messages[i].uid);
    EXPECT_EQ(fast.messages[i].size, listed.messages[i].size);
    EXPECT_EQ(fast.messages[i].wire_size, listed.messages[i].wire_size);
    EXPECT_EQ(fast.messages[i].modseq, listed.messages[i].modseq);
  }

  // Any real change moves the mtime: a flag set by another Maildir reader is seen.
  fs::rename(box_ / "cur" / "1000.M1P1.host,S=10,W=11:2,", box_ / "cur" / "1000.M1P1.host,S=10,W=11:2,S");
  const auto after = sync();
  ASSERT_EQ(after.messages.size(), 3u);
  EXPECT_EQ(after.messages[0].flags(), "S");
  EXPECT_EQ(after.messages[2].base(), "1002.M3P1.host,S=5,W=6");
}

TEST_F(MailboxTest, AFolderWithoutSizesInItsNamesIsAlwaysListed) {
  deliver("1.a");  // no ,S= and ,W=: the names cannot be rebuilt from the uidlist
  sync();
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  sync();
  const auto fields = header_fields(slurp(box_ / "poshta-uidlist"));
  ASSERT_EQ(fields.size(), 8u);
  EXPECT_EQ(fields[6], "0");
  EXPECT_EQ(fields[7], "0");
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
      "poshta-uidlist 2 77 3\n1 1.a\n",        // version 2 without HIGHESTMODSEQ
      "poshta-uidlist 2 77 3 5\n1 9 - 1.a\n",  // a MODSEQ above HIGHESTMODSEQ
      "poshta-uidlist 3 77 3 5\n1 1 - 1.a\n",  // a version this code does not know
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
    EXPECT_EQ(rebuilt, "poshta-uidlist 2 " + std::to_string(s.uid_validity) + " 3 3 1 0 0\n1 2 - 1.a\n2 3 - 2.b\n")
        << text;
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

// Flags.

TEST(MailboxFlags, ImapFlagsOfMaildirFlags) {
  EXPECT_EQ(Mailbox::imap_flags(""), "");
  EXPECT_EQ(Mailbox::imap_flags("S"), "\\Seen");
  EXPECT_EQ(Mailbox::imap_flags("RS"), "\\Answered \\Seen");
  EXPECT_EQ(Mailbox::imap_flags("DFPRST"), "\\Answered \\Flagged \\Deleted \\Seen \\Draft");
  EXPECT_EQ(Mailbox::imap_flags("TSRFD"), "\\Answered \\Flagged \\Deleted \\Seen \\Draft");  // any order in
  EXPECT_EQ(Mailbox::imap_flags("Pab"), "");                                                 // no IMAP flag
}

TEST(MailboxFlags, MaildirFlagsOfImapFlags) {
  EXPECT_EQ(Mailbox::maildir_flags({}, ""), "");
  EXPECT_EQ(Mailbox::maildir_flags({"\\Seen", "\\Answered"}, ""), "RS");
  EXPECT_EQ(Mailbox::maildir_flags({"\\Draft", "\\Flagged", "\\Deleted"}, ""), "DFT");
  EXPECT_EQ(Mailbox::maildir_flags({"\\seen", "\\FLAGGED"}, ""), "FS");  // flags ignore case
  EXPECT_EQ(Mailbox::maildir_flags({"\\Seen", "\\Seen"}, "S"), "S");
  // The IMAP flags replace D F R S T; P and keyword letters are kept.
  EXPECT_EQ(Mailbox::maildir_flags({"\\Seen"}, "FP"), "PS");
  EXPECT_EQ(Mailbox::maildir_flags({}, "DFPRST"), "P");
  EXPECT_EQ(Mailbox::maildir_flags({"\\Deleted"}, "ba"), "Tab");
  // \Recent and keywords are not Maildir flags.
  EXPECT_EQ(Mailbox::maildir_flags({"\\Recent", "$Forwarded", "Junk", "\\Answered"}, ""), "R");
  EXPECT_EQ(Mailbox::maildir_flags({}, "S,1"), "");  // not letters: dropped
}

TEST(MailboxFlags, RoundTrip) {
  const std::string letters = "DFRST";
  for (unsigned mask = 0; mask < 32; ++mask) {
    std::string flags;
    for (unsigned i = 0; i < letters.size(); ++i) {
      if (mask & (1u << i)) flags += letters[i];
    }
    std::vector<std::string> imap;
    std::string text = Mailbox::imap_flags(flags);
    for (std::size_t pos = 0; !text.empty();) {
      const auto sp = text.find(' ', pos);
      imap.push_back(text.substr(pos, sp - pos));
      if (sp == std::string::npos) break;
      pos = sp + 1;
    }
    EXPECT_EQ(Mailbox::maildir_flags(imap, ""), flags) << text;
    std::string with_passed = flags + "P";
    std::sort(with_passed.begin(), with_passed.end());
    EXPECT_EQ(Mailbox::maildir_flags(imap, "P"), with_passed) << text;
  }
}

TEST_F(MailboxTest, SetFlagsRenamesTheFileAndKeepsTheUid) {
  deliver("1.a");
  deliver("2.b");
  const auto s = sync();
  Mailbox m(box_);
  auto changed = m.set_flags(s.messages[1], "SR");
  ASSERT_TRUE(changed.ok()) << changed.error().message();
  EXPECT_EQ(changed->name, "2.b:2,RS");
  EXPECT_EQ(changed->uid, 2u);
  EXPECT_EQ(changed->flags(), "RS");
  EXPECT_EQ(names_in(box_ / "cur"), (std::vector<std::string>{"1.a:2,", "2.b:2,RS"}));
  // Again with the same flags: nothing to do.
  auto same = m.set_flags(*changed, "RS");
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(same->name, "2.b:2,RS");
  // Cleared.
  auto cleared = m.set_flags(*changed, "");
  ASSERT_TRUE(cleared.ok());
  EXPECT_EQ(cleared->name, "2.b:2,");
  const auto after = sync();
  EXPECT_EQ(after.uid_validity, s.uid_validity);
  EXPECT_EQ(uids_of(after), (std::vector<std::uint32_t>{1, 2}));
  // Flags are letters.
  EXPECT_EQ(m.set_flags(s.messages[0], "S,").error(), std::errc::invalid_argument);
  EXPECT_EQ(m.set_flags(s.messages[0], "S/x").error(), std::errc::invalid_argument);
}

TEST_F(MailboxTest, SetFlagsFindsAFileAnotherReaderRenamed) {
  deliver("1.a");
  const auto s = sync();
  fs::rename(box_ / "cur" / "1.a:2,", box_ / "cur" / "1.a:2,PS");  // e.g. mutt marks it read and passed
  Mailbox m(box_);
  auto changed = m.set_flags(s.messages[0], "FPS");
  ASSERT_TRUE(changed.ok()) << changed.error().message();
  EXPECT_EQ(changed->name, "1.a:2,FPS");
  EXPECT_EQ(names_in(box_ / "cur"), (std::vector<std::string>{"1.a:2,FPS"}));
  fs::remove(box_ / "cur" / "1.a:2,FPS");
  EXPECT_EQ(m.set_flags(s.messages[0], "S").error(), std::errc::no_such_file_or_directory);
}

// APPEND.

std::int64_t mtime_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
  return st.st_mtim.tv_sec;
}

TEST_F(MailboxTest, AppendStoresTheMessageWithLfLineEndsSizesFlagsAndDate) {
  Mailbox m(box_);
  const std::string_view content[] = {"Subject: hello\r\n", "\r\nline one\r", "\nline two\r\n"};
  auto uid = m.append(content, "SF", 1600000000);
  ASSERT_TRUE(uid.ok()) << uid.error().message();
  EXPECT_EQ(*uid, 1u);
  const auto s = sync();
  ASSERT_EQ(s.messages.size(), 1u);
  const auto& msg = s.messages[0];
  EXPECT_EQ(msg.uid, 1u);
  EXPECT_EQ(s.uid_next, 2u);
  const std::string lf = "Subject: hello\n\nline one\nline two\n";
  EXPECT_EQ(slurp(m.path_of(msg)), lf);
  EXPECT_EQ(msg.flags(), "FS");
  const std::string sizes = ",S=" + std::to_string(lf.size()) + ",W=" + std::to_string(lf.size() + 4);
  EXPECT_NE(msg.base().find(sizes), std::string::npos) << msg.name;
  EXPECT_EQ(msg.base().substr(msg.base().size() - sizes.size()), sizes) << msg.name;
  EXPECT_EQ(msg.size, lf.size());
  EXPECT_EQ(msg.wire_size, lf.size() + 4);
  EXPECT_EQ(mtime_of(m.path_of(msg)), 1600000000);
  EXPECT_EQ(m.internal_date(msg), 1600000000);
  EXPECT_TRUE(names_in(box_ / "tmp").empty());
  EXPECT_TRUE(names_in(box_ / "new").empty());
  // In the uidlist already, before any sync.
  EXPECT_EQ(slurp(box_ / "poshta-uidlist"),
            "poshta-uidlist 2 " + std::to_string(s.uid_validity) + " 2 2 1 0 0\n1 2 FS " + msg.base() + "\n");
}

TEST_F(MailboxTest, AppendGivesIncreasingUidsNeverReused) {
  deliver("1.a");
  deliver("2.b");
  const auto first = sync();
  Mailbox m(box_);
  const std::string_view content[] = {"Subject: x\r\n\r\nbody\r\n"};
  auto a = m.append(content, "", 1700000000);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 3u);
  deliver("3.c");  // delivered meanwhile, numbered at the next sync: after the next append
  auto b = m.append(content, "S", 1700000001);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*b, 4u);
  auto s = sync();
  EXPECT_EQ(s.uid_validity, first.uid_validity);
  EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(by_base(s, "3.c")->uid, 5u);
  // The highest UID expunged: the next append still goes above it.
  ASSERT_FALSE(m.remove({s.messages[4]}));
  auto c = m.append(content, "", 1700000002);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 6u);
  s = sync();
  EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2, 3, 4, 6}));
  EXPECT_EQ(m.internal_date(s.messages[4]), 1700000002);
}

TEST_F(MailboxTest, AppendMakesAMissingFolder) {
  const fs::path other = tmp_ / "example.org" / "user" / ".New";
  Mailbox m(other);
  const std::string_view content[] = {"x\r\n"};
  auto uid = m.append(content, "", 1700000000);
  ASSERT_TRUE(uid.ok()) << uid.error().message();
  EXPECT_EQ(*uid, 1u);
  for (const char* sub : {"cur", "new", "tmp"}) EXPECT_TRUE(fs::is_directory(other / sub)) << sub;
  auto s = m.sync();
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(s->messages.size(), 1u);
  EXPECT_EQ(slurp(m.path_of(s->messages[0])), "x\n");
}

TEST_F(MailboxTest, AppendAfterTheUidlistWasLost) {
  deliver("1.a");
  deliver("2.b");
  sync();
  fs::remove(box_ / "poshta-uidlist");
  Mailbox m(box_);
  const std::string_view content[] = {"x\r\n"};
  auto uid = m.append(content, "", 1700000000);
  ASSERT_TRUE(uid.ok()) << uid.error().message();
  EXPECT_EQ(*uid, 3u);  // the map was rebuilt first: 1.a and 2.b got 1 and 2
  const auto s = sync();
  EXPECT_EQ(uids_of(s), (std::vector<std::uint32_t>{1, 2, 3}));
}

TEST_F(MailboxTest, AppendRefusesBadFlags) {
  Mailbox m(box_);
  const std::string_view content[] = {"x\r\n"};
  EXPECT_EQ(m.append(content, "S:", 1700000000).error(), std::errc::invalid_argument);
  EXPECT_TRUE(names_in(box_ / "cur").empty());
  // Letters are put in order, each once.
  auto uid = m.append(content, "TSST", 1700000000);
  ASSERT_TRUE(uid.ok());
  EXPECT_EQ(sync().messages[0].flags(), "ST");
}

TEST_F(MailboxTest, CreateGivesAnEmptyMapItsUidValidity) {
  const fs::path other = tmp_ / "example.org" / "user" / ".Fresh";
  Mailbox m(other);
  EXPECT_FALSE(m.create(77));
  auto s = m.sync();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->uid_validity, 77u);
  EXPECT_EQ(s->uid_next, 1u);
  EXPECT_EQ(m.create(78), std::errc::file_exists);
  EXPECT_EQ(m.sync()->uid_validity, 77u);
}

TEST_F(MailboxTest, ConcurrentAppendsGetDistinctUids) {
  sync();
  std::vector<std::uint32_t> uids[2];
  std::thread threads[2];
  for (int t = 0; t < 2; ++t) {
    threads[t] = std::thread([&, t] {
      Mailbox m(box_);  // a session of its own
      for (int i = 0; i < 100; ++i) {
        const std::string body = "Subject: " + std::to_string(t) + "/" + std::to_string(i) + "\r\n\r\nx\r\n";
        const std::string_view content[] = {body};
        auto uid = m.append(content, "", 1700000000 + i);
        EXPECT_TRUE(uid.ok()) << uid.error().message();
        if (uid.ok()) uids[t].push_back(*uid);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::uint32_t> all;
  for (const auto& list : uids) {
    ASSERT_EQ(list.size(), 100u);
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));  // increasing within a session
    all.insert(list.begin(), list.end());
  }
  EXPECT_EQ(all.size(), 200u);
  EXPECT_EQ(*all.begin(), 1u);
  EXPECT_EQ(*all.rbegin(), 200u);
  // The uidlist lists every one of them, before any sync.
  const std::string list = slurp(box_ / "poshta-uidlist");
  EXPECT_EQ(std::count(list.begin(), list.end(), '\n'), 201);
  for (auto uid : all) EXPECT_NE(list.find("\n" + std::to_string(uid) + " "), std::string::npos) << uid;
  const auto s = sync();
  ASSERT_EQ(s.messages.size(), 200u);
  const auto listed = uids_of(s);
  EXPECT_EQ(std::set<std::uint32_t>(listed.begin(), listed.end()), all);
  EXPECT_EQ(s.uid_next, 201u);
}

// COPY.

class MailboxCopyTest : public MailboxTest {
 protected:
  void SetUp() override {
    MailboxTest::SetUp();
    dest_ = box_ / ".Archive";
    for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(dest_ / sub);
  }
  fs::path dest_;
};

TEST_F(MailboxCopyTest, CopyKeepsContentFlagsAndDateUnderNewNamesAndUids) {
  deliver("1.a", "Subject: one\n\n1\n");
  deliver("2.b", "Subject: two\n\n2\n");
  Mailbox src(box_);
  const std::string_view content[] = {"Subject: three\r\n\r\n3\r\n"};
  ASSERT_TRUE(src.append(content, "DS", 1500000000).ok());
  auto s = sync();
  ASSERT_EQ(s.messages.size(), 3u);
  auto flagged = src.set_flags(s.messages[0], "F");
  ASSERT_TRUE(flagged.ok());
  ::utimensat(AT_FDCWD, src.path_of(*flagged).c_str(),
              std::array<timespec, 2>{{{1400000000, 0}, {1400000000, 0}}}.data(), 0);
  // Another session's message already there.
  Mailbox dest(dest_);
  const std::string_view other[] = {"x\r\n"};
  ASSERT_TRUE(dest.append(other, "", 1700000000).ok());

  auto uids = src.copy_to({*flagged, s.messages[2]}, dest);
  ASSERT_TRUE(uids.ok()) << uids.error().message();
  EXPECT_EQ(*uids, (std::vector<std::uint32_t>{2, 3}));
  auto d = dest.sync();
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->messages.size(), 3u);
  const auto& one = d->messages[1];
  const auto& three = d->messages[2];
  EXPECT_EQ(one.uid, 2u);
  EXPECT_EQ(three.uid, 3u);
  EXPECT_EQ(slurp(dest.path_of(one)), "Subject: one\n\n1\n");
  EXPECT_EQ(slurp(dest.path_of(three)), "Subject: three\n\n3\n");
  EXPECT_EQ(one.flags(), "F");
  EXPECT_EQ(three.flags(), "DS");
  EXPECT_EQ(dest.internal_date(one), 1400000000);
  EXPECT_EQ(dest.internal_date(three), 1500000000);
  EXPECT_NE(one.base(), flagged->base());  // a name of its own
  EXPECT_NE(three.base(), s.messages[2].base());
  EXPECT_EQ(one.size, 16u);
  EXPECT_EQ(one.wire_size, 19u);
  EXPECT_EQ(three.size, s.messages[2].size);
  EXPECT_EQ(three.wire_size, s.messages[2].wire_size);
  // A hard link: one file, two names.
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(src.path_of(s.messages[2]).c_str(), &a), 0);
  ASSERT_EQ(::stat(dest.path_of(three).c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  // Flags of a copy change on their own.
  ASSERT_TRUE(dest.set_flags(three, "T").ok());
  EXPECT_EQ(sync().messages[2].flags(), "DS");
  // The source is as it was.
  EXPECT_EQ(uids_of(sync()), (std::vector<std::uint32_t>{1, 2, 3}));
}

TEST_F(MailboxCopyTest, CopyIntoTheSameFolder) {
  deliver("1.a", "Subject: one\n\n1\n");
  auto s = sync();
  Mailbox m(box_);
  auto uids = m.copy_to({s.messages[0]}, m);
  ASSERT_TRUE(uids.ok()) << uids.error().message();
  EXPECT_EQ(*uids, (std::vector<std::uint32_t>{2}));
  s = sync();
  ASSERT_EQ(s.messages.size(), 2u);
  EXPECT_EQ(slurp(m.path_of(s.messages[1])), "Subject: one\n\n1\n");
}

TEST_F(MailboxCopyTest, CopyFindsARenamedSourceAndTakesItsFlags) {
  deliver("1.a", "Subject: one\n\n1\n");
  const auto s = sync();
  fs::rename(box_ / "cur" / "1.a:2,", box_ / "cur" / "1.a:2,RS");
  Mailbox src(box_), dest(dest_);
  auto uids = src.copy_to({s.messages[0]}, dest);
  ASSERT_TRUE(uids.ok()) << uids.error().message();
  auto d = dest.sync();
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->messages.size(), 1u);
  EXPECT_EQ(d->messages[0].flags(), "RS");
  // No ",W=" in the source's name: computed.
  EXPECT_EQ(d->messages[0].wire_size, 19u);
  EXPECT_NE(d->messages[0].base().find(",S=16,W=19"), std::string::npos) << d->messages[0].name;
}

TEST_F(MailboxCopyTest, CopyIsAllOrNothing) {
  deliver("1.a");
  deliver("2.b");
  const auto s = sync();
  Mailbox src(box_), dest(dest_);
  const auto before = dest.sync();
  ASSERT_TRUE(before.ok());
  fs::remove(box_ / "cur" / "2.b:2,");  // expunged by another session
  auto uids = src.copy_to({s.messages[0], s.messages[1]}, dest);
  EXPECT_EQ(uids.error(), std::errc::no_such_file_or_directory);
  EXPECT_TRUE(names_in(dest_ / "cur").empty());
  EXPECT_TRUE(names_in(dest_ / "tmp").empty());
  const auto after = dest.sync();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->uid_next, before->uid_next);
  // Nothing to copy: nothing done.
  auto none = src.copy_to({}, dest);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_F(MailboxCopyTest, CopyToAMissingFolderMakesIt) {
  deliver("1.a", "Subject: one\n\n1\n");
  const auto s = sync();
  Mailbox src(box_), dest(box_ / ".Made");
  auto uids = src.copy_to({s.messages[0]}, dest);
  ASSERT_TRUE(uids.ok()) << uids.error().message();
  EXPECT_EQ(*uids, (std::vector<std::uint32_t>{1}));
}

TEST_F(MailboxCopyTest, CopyAcrossFileSystemsCopiesTheFile) {
  std::string tmpl = "/dev/shm/poshta-mailbox-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) GTEST_SKIP() << "no /dev/shm";
  const fs::path other(tmpl);
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat(box_.c_str(), &a), 0);
  ASSERT_EQ(::stat(other.c_str(), &b), 0);
  if (a.st_dev == b.st_dev) {
    fs::remove_all(other);
    GTEST_SKIP() << "/dev/shm is not another file system here";
  }
  deliver("1.a", "Subject: one\n\n1\n");
  auto s = sync();
  Mailbox src(box_);
  auto flagged = src.set_flags(s.messages[0], "S");
  ASSERT_TRUE(flagged.ok());
  ::utimensat(AT_FDCWD, src.path_of(*flagged).c_str(),
              std::array<timespec, 2>{{{1400000000, 0}, {1400000000, 0}}}.data(), 0);
  Mailbox dest(other / "box");
  auto uids = src.copy_to({*flagged}, dest);
  ASSERT_TRUE(uids.ok()) << uids.error().message();
  auto d = dest.sync();
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->messages.size(), 1u);
  EXPECT_EQ(slurp(dest.path_of(d->messages[0])), "Subject: one\n\n1\n");
  EXPECT_EQ(d->messages[0].flags(), "S");
  EXPECT_EQ(dest.internal_date(d->messages[0]), 1400000000);
  EXPECT_TRUE(names_in(other / "box" / "tmp").empty());
  fs::remove_all(other);
}

TEST_F(MailboxTest, InternalDateOfAMessageRenamedOrGone) {
  deliver("1.a");
  const auto s = sync();
  Mailbox m(box_);
  ::utimensat(AT_FDCWD, m.path_of(s.messages[0]).c_str(),
              std::array<timespec, 2>{{{1234567890, 0}, {1234567890, 0}}}.data(), 0);
  EXPECT_EQ(m.internal_date(s.messages[0]), 1234567890);
  fs::rename(box_ / "cur" / "1.a:2,", box_ / "cur" / "1.a:2,S");
  EXPECT_EQ(m.internal_date(s.messages[0]), 1234567890);
  fs::remove(box_ / "cur" / "1.a:2,S");
  EXPECT_EQ(m.internal_date(s.messages[0]), 0);
}

// RFC 7162 MODSEQ: arrivals, flag changes (by anyone) and expunges take the
// next value; what did not change keeps its own.
TEST_F(MailboxTest, ModseqFollowsEveryChange) {
  deliver("1.a");
  deliver("2.b");
  const auto first = sync();
  EXPECT_EQ(first.highest_modseq, 3u);
  EXPECT_EQ(by_base(first, "1.a")->modseq, 2u);
  EXPECT_EQ(by_base(first, "2.b")->modseq, 3u);
  EXPECT_EQ(sync().highest_modseq, 3u);                           // nothing changed: nothing moves
  fs::rename(box_ / "cur" / "2.b:2,", box_ / "cur" / "2.b:2,S");  // another Maildir reader sets \Seen
  const auto second = sync();
  EXPECT_EQ(second.highest_modseq, 4u);
  EXPECT_EQ(by_base(second, "2.b")->modseq, 4u);
  EXPECT_EQ(by_base(second, "1.a")->modseq, 2u);
  fs::remove(box_ / "cur" / "1.a:2,");
  EXPECT_EQ(sync().highest_modseq, 5u);
}

TEST_F(MailboxTest, VersionOneUidlistIsReadAndUpgraded) {
  deliver("1.a");
  const auto s = sync();
  put(box_ / "poshta-uidlist", "poshta-uidlist 1 " + std::to_string(s.uid_validity) + " 2\n1 1.a\n");
  const auto again = sync();
  EXPECT_EQ(again.uid_validity, s.uid_validity);
  EXPECT_EQ(by_base(again, "1.a")->uid, 1u);
  EXPECT_EQ(slurp(box_ / "poshta-uidlist"),
            "poshta-uidlist 2 " + std::to_string(s.uid_validity) + " 2 1 2 0 0\n1 1 - 1.a\n");
}

// Keywords are Dovecot's: letters a-z named in dovecot-keywords.
TEST_F(MailboxTest, KeywordLettersAreMadeOnceAndShared) {
  sync();
  Mailbox m(box_);
  EXPECT_EQ(m.keyword_letters({"$Forwarded", "Junk"}, true).value(), "ab");
  EXPECT_EQ(m.keyword_letters({"junk"}, false).value(), "b");  // keywords compare without case
  EXPECT_EQ(m.keyword_letters({"Unknown"}, false).value(), "");
  EXPECT_EQ(m.keyword_letters({"NonJunk", "$Forwarded"}, true).value(), "ac");
  EXPECT_EQ(slurp(box_ / "dovecot-keywords"), "0 $Forwarded\n1 Junk\n2 NonJunk\n");
  EXPECT_EQ(m.keywords(), (std::vector<std::string>{"$Forwarded", "Junk", "NonJunk"}));
  std::vector<std::string> many;
  for (int i = 0; i < 23; ++i) many.push_back("k" + std::to_string(i));
  EXPECT_EQ(m.keyword_letters(many, true).value().size(), 23u);  // 26 letters in all
  EXPECT_FALSE(m.keyword_letters({"one-too-many"}, true));
}

}  // namespace
}  // namespace poshta::store
