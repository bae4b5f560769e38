// store/folders: a user's Maildir++ tree: folders as ".Name" directories in
// modified UTF-7, listing with implied parents and children, create/remove/
// rename (children, INBOX), name checks, subscriptions as Dovecot keeps them,
// SPECIAL-USE folders.
#include "store/folders.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "store/mailbox.hpp"

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

// A listing as "name" for folders, "(name)" for implied parents, "+" after a name with children.
std::vector<std::string> listing(const Folders& f) {
  auto l = f.list();
  EXPECT_TRUE(l.ok()) << l.error().message();
  std::vector<std::string> out;
  if (!l.ok()) return out;
  for (const auto& i : *l) {
    std::string s = i.exists ? i.name : "(" + i.name + ")";
    if (i.has_children) s += "+";
    out.push_back(s);
  }
  return out;
}

std::vector<std::string> subscribed(const Folders& f) {
  auto s = f.subscriptions();
  EXPECT_TRUE(s.ok()) << s.error().message();
  return s.ok() ? *s : std::vector<std::string>{};
}

class FoldersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-folders-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    tmp_ = fs::path(tmpl);
    root_ = tmp_ / "example.org" / "user";
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }

  void create(Folders& f, std::string_view name) {
    const auto ec = f.create(name);
    EXPECT_FALSE(ec) << name << ": " << ec.message();
  }

  fs::path tmp_;
  fs::path root_;
};

TEST_F(FoldersTest, AMissingRootHasOnlyInbox) {
  Folders f(root_);
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX"}));
  EXPECT_TRUE(f.exists("INBOX"));
  EXPECT_TRUE(f.exists("inbox"));
  EXPECT_FALSE(f.exists("Sent"));
  EXPECT_TRUE(subscribed(f).empty());
  EXPECT_FALSE(fs::exists(root_));  // looking changes nothing
}

TEST_F(FoldersTest, CreateMakesAMaildirPlusPlusFolder) {
  Folders f(root_);
  create(f, "Archive");
  const fs::path dir = root_ / ".Archive";
  for (const char* sub : {"cur", "new", "tmp"}) EXPECT_TRUE(fs::is_directory(dir / sub)) << sub;
  EXPECT_TRUE(fs::is_regular_file(dir / "maildirfolder"));
  EXPECT_EQ(fs::file_size(dir / "maildirfolder"), 0u);
  EXPECT_TRUE(f.exists("Archive"));
  EXPECT_FALSE(f.exists("archive"));  // only INBOX ignores case
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "Archive"}));
  // Nothing else visible in the root: no scratch directory left.
  for (const auto& n : names_in(root_)) EXPECT_TRUE(n == ".Archive" || n.rfind("poshta-", 0) == 0) << n;
  // Its UID map starts empty under a UIDVALIDITY of its own.
  auto s = Mailbox(dir).sync();
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->messages.empty());
  EXPECT_NE(s->uid_validity, 0u);
  EXPECT_EQ(s->uid_next, 1u);
}

TEST_F(FoldersTest, ParentsNeedNotExistAndAreListedAsImplied) {
  Folders f(root_);
  create(f, "Archive.2026");
  create(f, "Lists.dev.poshta");
  create(f, "Lists");
  EXPECT_TRUE(fs::is_directory(root_ / ".Archive.2026" / "cur"));
  EXPECT_FALSE(fs::exists(root_ / ".Archive"));
  EXPECT_FALSE(f.exists("Archive"));
  EXPECT_TRUE(f.exists("Archive.2026"));
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "(Archive)+", "Archive.2026", "Lists+", "(Lists.dev)+",
                                                  "Lists.dev.poshta"}));
  // The implied parent can be made later.
  create(f, "Archive");
  EXPECT_EQ(listing(f)[1], "Archive+");
}

TEST_F(FoldersTest, ListIsInboxFirstThenSortedAndSkipsWhatIsNoFolder) {
  Folders f(root_);
  for (const char* n : {"Zeta", "Alpha", "Beta.x", "Beta", "alpha", "Beta-x"}) create(f, n);
  fs::create_directories(root_ / "cur");
  fs::create_directories(root_ / "poshta-new.1.2.3");  // a creation in progress
  fs::create_directories(root_ / "not-a-folder");
  fs::create_directories(root_ / ".bad&name");  // not modified UTF-7
  fs::create_directories(root_ / "..x");        // an empty first part
  fs::create_directories(root_ / ".inbox");     // INBOX is the root
  put(root_ / ".file", "x");                    // not a directory
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "Alpha", "Beta+", "Beta-x", "Beta.x", "Zeta", "alpha"}));
}

TEST_F(FoldersTest, NamesOnDiskAreModifiedUtf7) {
  Folders f(root_);
  create(f, "Entwürfe");
  create(f, "Tom & Jerry");
  create(f, "Входящие.Архив");
  EXPECT_TRUE(fs::is_directory(root_ / ".Entw&APw-rfe"));
  EXPECT_TRUE(fs::is_directory(root_ / ".Tom &- Jerry"));
  EXPECT_TRUE(fs::is_directory(root_ / ".&BBIERQQ+BDQETwRJBDgENQ-.&BBAEQARFBDgEMg-"));
  // A folder another Maildir reader made.
  fs::create_directories(root_ / ".Gel&APY-schte Elemente" / "cur");
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "Entwürfe", "Gelöschte Elemente", "Tom & Jerry",
                                                  "(Входящие)+", "Входящие.Архив"}));
  EXPECT_TRUE(f.exists("Gelöschte Elemente"));
  EXPECT_EQ(*f.folder_path("Entwürfe"), root_ / ".Entw&APw-rfe");
}

TEST_F(FoldersTest, FolderPath) {
  Folders f(root_);
  EXPECT_EQ(*f.folder_path("INBOX"), root_);
  EXPECT_EQ(*f.folder_path("iNbOx"), root_);
  EXPECT_EQ(*f.folder_path("Archive.2026"), root_ / ".Archive.2026");
  EXPECT_EQ(*f.folder_path("inbox.Old"), root_ / ".INBOX.Old");
  EXPECT_EQ(f.folder_path("../x").error(), std::errc::invalid_argument);
}

TEST_F(FoldersTest, ExistingFoldersAndInboxCannotBeCreated) {
  Folders f(root_);
  create(f, "Sent");
  EXPECT_EQ(f.create("Sent"), std::errc::file_exists);
  EXPECT_EQ(f.create("INBOX"), std::errc::file_exists);
  EXPECT_EQ(f.create("inbox"), std::errc::file_exists);
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "Sent"}));
}

TEST_F(FoldersTest, InboxMayHaveChildren) {
  Folders f(root_);
  create(f, "inbox.Sub");
  EXPECT_TRUE(fs::is_directory(root_ / ".INBOX.Sub"));
  EXPECT_TRUE(f.exists("INBOX.Sub"));
  EXPECT_TRUE(f.exists("Inbox.Sub"));
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX+", "INBOX.Sub"}));
}

TEST_F(FoldersTest, InvalidNamesAreRefused) {
  Folders f(root_);
  create(f, "Real");
  const std::string too_long(256, 'a');
  std::string too_long_on_disk;  // 200 octets of UTF-8, over 255 in modified UTF-7
  for (int i = 0; i < 100; ++i) too_long_on_disk += "ü";
  const std::string bad[] = {
      "",
      "a/b",
      "/etc",
      ".hidden",
      "trailing.",
      "a..b",
      "..",
      ".",
      "tab\tx",
      "nl\nx",
      std::string("nul\0x", 5),
      "del\x7f",
      too_long,
      too_long_on_disk,
      "\xff\xfe",
      "caf\xc3",  // not UTF-8
  };
  for (const auto& name : bad) {
    EXPECT_EQ(f.create(name), std::errc::invalid_argument) << name;
    EXPECT_EQ(f.remove(name), std::errc::invalid_argument) << name;
    EXPECT_EQ(f.rename("Real", name), std::errc::invalid_argument) << name;
    EXPECT_EQ(f.rename(name, "Other"), std::errc::invalid_argument) << name;
    EXPECT_EQ(f.subscribe(name), std::errc::invalid_argument) << name;
    EXPECT_EQ(f.unsubscribe(name), std::errc::invalid_argument) << name;
    EXPECT_FALSE(f.folder_path(name).ok()) << name;
    EXPECT_FALSE(f.exists(name)) << name;
  }
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "Real"}));
  EXPECT_TRUE(subscribed(f).empty());
  // At the limits: fine.
  create(f, std::string(254, 'b'));  // ".bbb..." is 255 octets
  EXPECT_EQ(f.create(std::string(255, 'c')), std::errc::invalid_argument);
  create(f, "sp ace, [brackets] %*~!");
}

TEST_F(FoldersTest, RemoveDeletesTheFolderAndKeepsItsChildren) {
  Folders f(root_);
  create(f, "A");
  create(f, "A.x");
  put(root_ / ".A" / "cur" / "1.a:2,S", "Subject: x\n\nbody\n");
  put(root_ / ".A.x" / "cur" / "2.b:2,", "Subject: y\n\nbody\n");
  EXPECT_FALSE(f.remove("A"));
  EXPECT_FALSE(fs::exists(root_ / ".A"));
  EXPECT_FALSE(f.exists("A"));
  EXPECT_TRUE(fs::exists(root_ / ".A.x" / "cur" / "2.b:2,"));
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "(A)+", "A.x"}));
  // Nothing left behind.
  for (const auto& n : names_in(root_)) EXPECT_EQ(n.find("poshta-deleted"), std::string::npos) << n;
  EXPECT_EQ(f.remove("A"), std::errc::no_such_file_or_directory);
  EXPECT_EQ(f.remove("Nothing"), std::errc::no_such_file_or_directory);
  EXPECT_FALSE(f.remove("A.x"));
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX"}));
}

TEST_F(FoldersTest, InboxCannotBeRemoved) {
  Folders f(root_);
  fs::create_directories(root_ / "cur");
  put(root_ / "cur" / "1.a:2,", "x\n");
  EXPECT_EQ(f.remove("INBOX"), std::errc::operation_not_permitted);
  EXPECT_EQ(f.remove("inbox"), std::errc::operation_not_permitted);
  EXPECT_TRUE(fs::exists(root_ / "cur" / "1.a:2,"));
}

TEST_F(FoldersTest, RemoveClearsWhatAnInterruptedRemoveLeft) {
  Folders f(root_);
  create(f, "A");
  create(f, "B");
  // A crash after the rename, before the deletion.
  fs::rename(root_ / ".A", root_ / "poshta-deleted.1.2.3");
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "B"}));
  EXPECT_FALSE(f.remove("B"));
  EXPECT_FALSE(fs::exists(root_ / "poshta-deleted.1.2.3"));
}

TEST_F(FoldersTest, RenameMovesTheFolderAndItsChildren) {
  Folders f(root_);
  for (const char* n : {"A", "A.x", "A.x.y", "AB", "A-b", "Other"}) create(f, n);
  put(root_ / ".A" / "new" / "1.a", "Subject: one\n\n1\n");
  put(root_ / ".A.x" / "new" / "2.b", "Subject: two\n\n2\n");
  const auto before = Mailbox(root_ / ".A").sync();
  ASSERT_TRUE(before.ok());
  ASSERT_FALSE(f.subscribe("A"));

  EXPECT_FALSE(f.rename("A", "B"));
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "A-b", "AB", "B+", "B.x+", "B.x.y", "Other"}));
  EXPECT_TRUE(fs::exists(root_ / ".B.x" / "new" / "2.b"));
  // The same Maildir, UID map and all.
  const auto after = Mailbox(root_ / ".B").sync();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->uid_validity, before->uid_validity);
  ASSERT_EQ(after->messages.size(), 1u);
  EXPECT_EQ(after->messages[0].uid, before->messages[0].uid);
  // Subscriptions stay as they were (RFC 9051 §6.3.7).
  EXPECT_EQ(subscribed(f), (std::vector<std::string>{"A"}));

  // Deeper, and into another hierarchy.
  EXPECT_FALSE(f.rename("B.x", "Other.moved"));
  EXPECT_EQ(listing(f),
            (std::vector<std::string>{"INBOX", "A-b", "AB", "B", "Other+", "Other.moved+", "Other.moved.y"}));
  // Under INBOX, and with modified UTF-7.
  EXPECT_FALSE(f.rename("AB", "inbox.Ünter"));
  EXPECT_TRUE(fs::is_directory(root_ / ".INBOX.&ANw-nter"));
  EXPECT_EQ(listing(f)[0], "INBOX+");
}

TEST_F(FoldersTest, RenameRefusals) {
  Folders f(root_);
  for (const char* n : {"A", "A.x", "B.x", "C"}) create(f, n);
  EXPECT_EQ(f.rename("A", "C"), std::errc::file_exists);
  EXPECT_EQ(f.rename("A", "A"), std::errc::file_exists);
  EXPECT_EQ(f.rename("A", "INBOX"), std::errc::file_exists);
  EXPECT_EQ(f.rename("A", "inbox"), std::errc::file_exists);
  // "B" does not exist, but "A.x" would become "B.x", which does: nothing moves.
  EXPECT_EQ(f.rename("A", "B"), std::errc::file_exists);
  EXPECT_EQ(f.rename("Nothing", "D"), std::errc::no_such_file_or_directory);
  EXPECT_EQ(f.rename("B", "D"), std::errc::no_such_file_or_directory);  // only implied
  EXPECT_EQ(f.rename("A", "A.sub"), std::errc::invalid_argument);       // into itself
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "A+", "A.x", "(B)+", "B.x", "C"}));
}

TEST_F(FoldersTest, RenamingInboxMovesItsMessagesIntoANewFolder) {
  Folders f(root_);
  for (const char* sub : {"cur", "new", "tmp"}) fs::create_directories(root_ / sub);
  put(root_ / "new" / "1.a", "Subject: one\n\n1\n");
  put(root_ / "new" / "2.b", "Subject: two\n\n2\n");
  const auto inbox = Mailbox(root_).sync();  // 1.a and 2.b now in cur/
  ASSERT_TRUE(inbox.ok());
  ASSERT_EQ(inbox->messages.size(), 2u);
  fs::rename(root_ / "cur" / "1.a:2,", root_ / "cur" / "1.a:2,FS");
  put(root_ / "new" / "3.c", "Subject: three\n\n3\n");  // delivered, not seen yet
  create(f, "INBOX.child");

  EXPECT_FALSE(f.rename("INBOX", "Old Mail"));
  const fs::path old = root_ / ".Old Mail";
  EXPECT_EQ(names_in(old / "cur"), (std::vector<std::string>{"1.a:2,FS", "2.b:2,"}));
  EXPECT_EQ(names_in(old / "new"), (std::vector<std::string>{"3.c"}));
  EXPECT_TRUE(fs::is_regular_file(old / "maildirfolder"));
  EXPECT_TRUE(names_in(root_ / "cur").empty());
  EXPECT_TRUE(names_in(root_ / "new").empty());
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX+", "INBOX.child", "Old Mail"}));

  const auto moved = Mailbox(old).sync();
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(moved->messages.size(), 3u);
  // INBOX is empty, and its UIDs are not given again.
  const auto empty = Mailbox(root_).sync();
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->messages.empty());
  EXPECT_EQ(empty->uid_validity, inbox->uid_validity);
  EXPECT_EQ(empty->uid_next, 3u);

  EXPECT_EQ(f.rename("INBOX", "Old Mail"), std::errc::file_exists);
  EXPECT_FALSE(f.rename("INBOX", "Empty"));  // an empty INBOX: an empty folder
  EXPECT_TRUE(f.exists("Empty"));
}

TEST_F(FoldersTest, AFolderMadeAgainGetsANewUidValidity) {
  Folders f(root_);
  create(f, "A");
  const auto first = Mailbox(root_ / ".A").sync();
  ASSERT_TRUE(first.ok());
  ASSERT_FALSE(f.remove("A"));
  create(f, "A");
  const auto second = Mailbox(root_ / ".A").sync();
  ASSERT_TRUE(second.ok());
  EXPECT_GT(second->uid_validity, first->uid_validity);  // within the same second too
  ASSERT_FALSE(f.rename("A", "B"));
  create(f, "A");
  const auto third = Mailbox(root_ / ".A").sync();
  ASSERT_TRUE(third.ok());
  EXPECT_GT(third->uid_validity, second->uid_validity);
}

TEST_F(FoldersTest, ConcurrentCreatesOfOneNameMakeOneFolder) {
  Folders f(root_);
  std::atomic<int> made{0}, existed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        const auto ec = Folders(root_).create("F" + std::to_string(i));
        if (!ec) ++made;
        if (ec == std::errc::file_exists) ++existed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(made.load(), 10);
  EXPECT_EQ(existed.load(), 30);
  EXPECT_EQ(listing(f).size(), 11u);
  for (const auto& n : names_in(root_)) EXPECT_EQ(n.find("poshta-new."), std::string::npos) << n;
}

TEST_F(FoldersTest, SubscriptionsPersistInDovecotsFile) {
  {
    Folders f(root_);
    EXPECT_FALSE(f.subscribe("A"));
    EXPECT_FALSE(f.subscribe("Entwürfe"));
    EXPECT_FALSE(f.subscribe("inbox"));
    EXPECT_FALSE(f.subscribe("Not.There"));  // need not exist
    EXPECT_FALSE(f.subscribe("A"));          // already: fine, once
  }
  EXPECT_EQ(slurp(root_ / "subscriptions"), "A\nEntw&APw-rfe\nINBOX\nNot.There\n");
  Folders f(root_);
  EXPECT_EQ(subscribed(f), (std::vector<std::string>{"A", "Entwürfe", "INBOX", "Not.There"}));
  EXPECT_FALSE(f.unsubscribe("Not.There"));
  EXPECT_FALSE(f.unsubscribe("Never"));  // not subscribed: fine
  EXPECT_FALSE(f.unsubscribe("INBOX"));
  EXPECT_EQ(slurp(root_ / "subscriptions"), "A\nEntw&APw-rfe\n");
  EXPECT_EQ(subscribed(Folders(root_)), (std::vector<std::string>{"A", "Entwürfe"}));
  for (const auto& n : names_in(root_)) EXPECT_EQ(n.find(".tmp"), std::string::npos) << n;
}

TEST_F(FoldersTest, DovecotVersionTwoSubscriptionsAreRead) {
  put(root_ / "subscriptions", "V\t2\n\nArchive\t2026\nSent\nEntw&APw-rfe\n");
  Folders f(root_);
  EXPECT_EQ(subscribed(f), (std::vector<std::string>{"Archive.2026", "Sent", "Entwürfe"}));
  EXPECT_FALSE(f.subscribe("Archive.2026"));  // there already: the file is not rewritten
  EXPECT_EQ(slurp(root_ / "subscriptions"), "V\t2\n\nArchive\t2026\nSent\nEntw&APw-rfe\n");
  EXPECT_FALSE(f.unsubscribe("Sent"));
  EXPECT_EQ(slurp(root_ / "subscriptions"), "Archive.2026\nEntw&APw-rfe\n");
}

TEST_F(FoldersTest, UnreadableSubscriptionLinesAreSkippedAndKept) {
  put(root_ / "subscriptions", "A\nbad&name\n\nB\n");
  Folders f(root_);
  EXPECT_EQ(subscribed(f), (std::vector<std::string>{"A", "B"}));
  EXPECT_FALSE(f.subscribe("C"));
  EXPECT_EQ(slurp(root_ / "subscriptions"), "A\nbad&name\nB\nC\n");
}

TEST_F(FoldersTest, ConcurrentSubscribesAreAllKept) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i)
        EXPECT_FALSE(Folders(root_).subscribe("T" + std::to_string(t) + "." + std::to_string(i)));
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(subscribed(Folders(root_)).size(), 40u);
}

TEST_F(FoldersTest, SpecialUseFoldersAreMadeOnceAndSubscribed) {
  Folders f(root_);
  EXPECT_FALSE(f.ensure_special_use());
  EXPECT_EQ(listing(f), (std::vector<std::string>{"INBOX", "Archive", "Drafts", "Junk", "Sent", "Trash"}));
  EXPECT_EQ(subscribed(f), (std::vector<std::string>{"Sent", "Drafts", "Trash", "Junk", "Archive"}));
  for (const char* n : {"Sent", "Drafts", "Trash", "Junk", "Archive"}) {
    EXPECT_TRUE(fs::is_regular_file(root_ / (std::string(".") + n) / "maildirfolder")) << n;
  }
  const std::string file = slurp(root_ / "subscriptions");
  // Idempotent.
  EXPECT_FALSE(f.ensure_special_use());
  EXPECT_EQ(slurp(root_ / "subscriptions"), file);
  EXPECT_EQ(listing(f).size(), 6u);
  // The user's choices stay: an unsubscribed one is not subscribed again;
  // a deleted one is made again.
  ASSERT_FALSE(f.unsubscribe("Trash"));
  ASSERT_FALSE(f.unsubscribe("Junk"));
  ASSERT_FALSE(f.remove("Junk"));
  EXPECT_FALSE(f.ensure_special_use());
  EXPECT_TRUE(f.exists("Junk"));
  EXPECT_EQ(subscribed(f), (std::vector<std::string>{"Sent", "Drafts", "Archive", "Junk"}));
}

TEST_F(FoldersTest, SpecialUseKeepsExistingFolders) {
  Folders f(root_);
  create(f, "Sent");
  put(root_ / ".Sent" / "cur" / "1.a:2,S", "x\n");
  EXPECT_FALSE(f.ensure_special_use());
  EXPECT_TRUE(fs::exists(root_ / ".Sent" / "cur" / "1.a:2,S"));
  EXPECT_EQ(subscribed(f), (std::vector<std::string>{"Drafts", "Trash", "Junk", "Archive"}));
}

TEST(FoldersSpecialUse, AttributesOfTheFiveNames) {
  EXPECT_EQ(Folders::special_use("Sent"), "\\Sent");
  EXPECT_EQ(Folders::special_use("Drafts"), "\\Drafts");
  EXPECT_EQ(Folders::special_use("Trash"), "\\Trash");
  EXPECT_EQ(Folders::special_use("Junk"), "\\Junk");
  EXPECT_EQ(Folders::special_use("Archive"), "\\Archive");
  EXPECT_EQ(Folders::special_use("INBOX"), "");
  EXPECT_EQ(Folders::special_use("sent"), "");
  EXPECT_EQ(Folders::special_use("Sent.Old"), "");
  EXPECT_EQ(Folders::special_use(""), "");
}

}  // namespace
}  // namespace poshta::store
