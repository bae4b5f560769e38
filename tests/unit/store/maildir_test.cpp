// store/maildir: local delivery into Maildir++; LF line ends, Dovecot-style
// ,S=,W= sizes in the name, and never a path outside the mail root.
#include "store/maildir.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace poshta::store {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<fs::path> files_in(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

class MaildirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-maildir-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = fs::path(tmpl) / "mail";
    fs::create_directories(root_);
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_.parent_path(), ec);
  }

  // Delivers `parts` to `address` and returns the file in new/.
  fs::path deliver(Maildir& m, std::string_view address, std::vector<std::string_view> parts) {
    auto pending = m.write(address, parts);
    EXPECT_TRUE(pending.ok()) << pending.error().message();
    if (!pending.ok()) return {};
    EXPECT_FALSE(m.publish(*pending));
    return pending->destination();
  }

  fs::path root_;
};

TEST_F(MaildirTest, MailboxDirIsDomainThenLocalPart) {
  Maildir m(root_, "mx.test");
  EXPECT_EQ(m.mailbox_dir("user@example.org"), root_ / "example.org" / "user");
}

TEST_F(MaildirTest, WriteAndPublishPutTheMessageInNewWithLfLineEnds) {
  Maildir m(root_, "mx.test");
  const fs::path file = deliver(m, "user@example.org", {"Subject: hi\r\n\r\nline one\r\n", "line two\r\n"});
  const fs::path box = root_ / "example.org" / "user";
  const auto in_new = files_in(box / "new");
  ASSERT_EQ(in_new.size(), 1u);
  EXPECT_EQ(in_new[0], file);
  EXPECT_EQ(slurp(file), "Subject: hi\n\nline one\nline two\n");
  EXPECT_TRUE(files_in(box / "tmp").empty());
  EXPECT_TRUE(files_in(box / "cur").empty());
}

TEST_F(MaildirTest, NameEndsWithSizeAndCrLfSize) {
  Maildir m(root_, "mx.test");
  const std::string content = "Subject: hi\r\n\r\nline one\r\nline two\r\n";  // 4 lines
  const fs::path file = deliver(m, "user@example.org", {content});
  const std::string lf = "Subject: hi\n\nline one\nline two\n";
  const std::string name = file.filename().string();
  EXPECT_TRUE(ends_with(name, ",S=" + std::to_string(lf.size()) + ",W=" + std::to_string(content.size()))) << name;
  EXPECT_EQ(fs::file_size(file), lf.size());
  EXPECT_NE(name.find(".mx.test,"), std::string::npos) << name;
}

TEST_F(MaildirTest, CrLfSplitAcrossPartsBecomesOneLf) {
  Maildir m(root_, "mx.test");
  const fs::path file = deliver(m, "user@example.org", {"a\r", "\nb\r\n"});
  EXPECT_EQ(slurp(file), "a\nb\n");
  EXPECT_TRUE(ends_with(file.filename().string(), ",S=4,W=6")) << file.filename();
}

TEST_F(MaildirTest, HostnameSlashAndColonAreEscapedInNames) {
  Maildir m(root_, "odd/host:name");
  const fs::path file = deliver(m, "user@example.org", {"x\r\n"});
  const std::string name = file.filename().string();
  EXPECT_EQ(name.find('/'), std::string::npos);
  EXPECT_EQ(name.find(':'), std::string::npos) << name;
  EXPECT_NE(name.find("odd\\057host\\072name"), std::string::npos) << name;
}

TEST_F(MaildirTest, EveryDeliveryGetsItsOwnName) {
  Maildir m(root_, "mx.test");
  for (int i = 0; i < 20; ++i) deliver(m, "user@example.org", {"same\r\n"});
  EXPECT_EQ(files_in(root_ / "example.org" / "user" / "new").size(), 20u);
}

TEST_F(MaildirTest, MailboxIsCreatedOnDemandWithCurNewTmp) {
  Maildir m(root_, "mx.test");
  const fs::path box = root_ / "example.net" / "new.user";
  ASSERT_FALSE(fs::exists(box));
  deliver(m, "new.user@example.net", {"x\r\n"});
  EXPECT_TRUE(fs::is_directory(box / "cur"));
  EXPECT_TRUE(fs::is_directory(box / "new"));
  EXPECT_TRUE(fs::is_directory(box / "tmp"));
}

TEST_F(MaildirTest, UnpublishedMessageLeavesNothingBehind) {
  Maildir m(root_, "mx.test");
  {
    auto pending = m.write("user@example.org", std::vector<std::string_view>{"x\r\n"});
    ASSERT_TRUE(pending.ok());
  }
  const fs::path box = root_ / "example.org" / "user";
  EXPECT_TRUE(files_in(box / "new").empty());
  EXPECT_TRUE(files_in(box / "tmp").empty());
}

TEST_F(MaildirTest, PathsOutsideTheMailRootAreRefused) {
  Maildir m(root_, "mx.test");
  for (const char* a :
       {"a/b@example.org", "../../etc@example.org", "..@example.org", ".hidden@example.org", "user@../etc", "user@a/b",
        "user@.example.org", "user@..", "user@", "@example.org", "user", "./x@example.org"}) {
    auto r = m.write(a, std::vector<std::string_view>{"x\r\n"});
    ASSERT_FALSE(r.ok()) << a;
    EXPECT_EQ(r.error(), std::errc::invalid_argument) << a;
  }
  // Nothing was created anywhere.
  EXPECT_TRUE(files_in(root_).empty());
  EXPECT_EQ(files_in(root_.parent_path()).size(), 1u);
}

}  // namespace
}  // namespace poshta::store
