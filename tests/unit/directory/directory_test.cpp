// directory/directory: users, local domains and aliases in SQLite, and
// expand(), the answer to "is this address local and where does it go".
#include "directory/directory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace poshta::directory {
namespace {

namespace fs = std::filesystem;

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "poshta-directory-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    db_ = dir_ / "directory.sqlite";
    d_ = std::make_unique<Directory>(db_, std::vector<std::string>{"example.org", "example.net"});
  }
  void TearDown() override {
    d_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  Directory& d() { return *d_; }

  static std::vector<std::string> addresses(const Expansion& e) {
    std::vector<std::string> out;
    for (const auto& x : e.destinations) out.push_back(x.address);
    return out;
  }

  fs::path dir_;
  fs::path db_;
  std::unique_ptr<Directory> d_;
};

using Strings = std::vector<std::string>;

// ---------------------------------------------------------------- users

TEST_F(DirectoryTest, AddListAndDeleteUsers) {
  EXPECT_TRUE(d().users().empty());
  EXPECT_EQ(d().add_user("bob@example.org", "{CRYPT}h1"), Change::done);
  EXPECT_EQ(d().add_user("alice@example.net", "{CRYPT}h2"), Change::done);
  EXPECT_EQ(d().users(), (Strings{"alice@example.net", "bob@example.org"}));
  EXPECT_EQ(d().delete_user("bob@example.org"), Change::done);
  EXPECT_EQ(d().users(), (Strings{"alice@example.net"}));
  EXPECT_EQ(d().delete_user("bob@example.org"), Change::not_found);
}

TEST_F(DirectoryTest, DuplicateUserIsAlreadyExists) {
  EXPECT_EQ(d().add_user("bob@example.org", "h"), Change::done);
  EXPECT_EQ(d().add_user("bob@example.org", "h"), Change::already_exists);
  EXPECT_EQ(d().add_user("BOB@Example.ORG", "h"), Change::already_exists);
  EXPECT_EQ(d().users().size(), 1u);
}

TEST_F(DirectoryTest, UserInNonLocalDomainIsNotFound) {
  EXPECT_EQ(d().add_user("bob@elsewhere.test", "h"), Change::not_found);
  EXPECT_TRUE(d().users().empty());
}

TEST_F(DirectoryTest, UnsafeUserAddressIsInvalid) {
  for (const char* a : {"a/b@example.org", ".bob@example.org", "bob.@example.org", "b..b@example.org", "bob",
                        "@example.org", "b b@example.org"}) {
    EXPECT_EQ(d().add_user(a, "h"), Change::invalid) << a;
  }
  EXPECT_TRUE(d().users().empty());
}

TEST_F(DirectoryTest, UsersAreStoredInCanonicalForm) {
  EXPECT_EQ(d().add_user("Bob@Example.ORG", "h"), Change::done);
  EXPECT_EQ(d().users(), (Strings{"bob@example.org"}));
}

TEST_F(DirectoryTest, PasswordHashAndSetPassword) {
  ASSERT_EQ(d().add_user("bob@example.org", "{CRYPT}first"), Change::done);
  std::string hash;
  EXPECT_EQ(d().password_hash("Bob@example.org", hash), Lookup::found);
  EXPECT_EQ(hash, "{CRYPT}first");
  EXPECT_EQ(d().set_password("bob@example.org", "{CRYPT}second"), Change::done);
  EXPECT_EQ(d().password_hash("bob@example.org", hash), Lookup::found);
  EXPECT_EQ(hash, "{CRYPT}second");
  EXPECT_EQ(d().set_password("nobody@example.org", "x"), Change::not_found);
  EXPECT_EQ(d().password_hash("nobody@example.org", hash), Lookup::not_found);
}

// ---------------------------------------------------------------- domains

TEST_F(DirectoryTest, DomainsListsConfiguredDomainsSorted) {
  EXPECT_EQ(d().domains(), (Strings{"example.net", "example.org"}));
  EXPECT_EQ(d().primary_domain(), "example.org");
}

TEST_F(DirectoryTest, AddedDomainsMergeWithConfiguredOnes) {
  EXPECT_EQ(d().add_domain("added.test"), Change::done);
  EXPECT_EQ(d().add_domain("Zeta.TEST"), Change::done);
  EXPECT_EQ(d().domains(), (Strings{"added.test", "example.net", "example.org", "zeta.test"}));
  EXPECT_EQ(d().is_local_domain("ADDED.test"), Lookup::found);
  EXPECT_EQ(d().is_local_domain("example.net"), Lookup::found);
  EXPECT_EQ(d().is_local_domain("other.test"), Lookup::not_found);
}

TEST_F(DirectoryTest, AddDomainTwiceOrAConfiguredOneIsAlreadyExists) {
  EXPECT_EQ(d().add_domain("added.test"), Change::done);
  EXPECT_EQ(d().add_domain("added.test"), Change::already_exists);
  EXPECT_EQ(d().add_domain("example.org"), Change::already_exists);
  EXPECT_EQ(d().add_domain("EXAMPLE.org"), Change::already_exists);
}

TEST_F(DirectoryTest, InvalidDomainIsRefused) {
  EXPECT_EQ(d().add_domain("not a domain"), Change::invalid);
  EXPECT_EQ(d().add_domain("../etc"), Change::invalid);
  EXPECT_EQ(d().add_domain(""), Change::invalid);
}

TEST_F(DirectoryTest, DeleteDomain) {
  ASSERT_EQ(d().add_domain("added.test"), Change::done);
  EXPECT_EQ(d().delete_domain("added.test"), Change::done);
  EXPECT_EQ(d().delete_domain("added.test"), Change::not_found);
  EXPECT_EQ(d().is_local_domain("added.test"), Lookup::not_found);
  EXPECT_EQ(d().domains(), (Strings{"example.net", "example.org"}));
}

TEST_F(DirectoryTest, UsersMayBeAddedToAnAddedDomain) {
  EXPECT_EQ(d().add_user("u@added.test", "h"), Change::not_found);
  ASSERT_EQ(d().add_domain("added.test"), Change::done);
  EXPECT_EQ(d().add_user("u@added.test", "h"), Change::done);
  EXPECT_EQ(d().expand("u@added.test").status, Lookup::found);
}

// ---------------------------------------------------------------- expand

TEST_F(DirectoryTest, ExpandFindsAUser) {
  ASSERT_EQ(d().add_user("bob@example.org", "h"), Change::done);
  const Expansion e = d().expand("bob@example.org");
  EXPECT_EQ(e.status, Lookup::found);
  EXPECT_TRUE(e.local_domain);
  EXPECT_FALSE(e.list);
  ASSERT_EQ(e.destinations.size(), 1u);
  EXPECT_EQ(e.destinations[0].address, "bob@example.org");
  EXPECT_TRUE(e.destinations[0].local);
}

TEST_F(DirectoryTest, ExpandOfUnknownLocalUserIsNotFound) {
  const Expansion e = d().expand("nobody@example.org");
  EXPECT_EQ(e.status, Lookup::not_found);
  EXPECT_TRUE(e.local_domain);
  EXPECT_TRUE(e.destinations.empty());
}

TEST_F(DirectoryTest, ExpandIsCaseInsensitive) {
  ASSERT_EQ(d().add_user("bob@example.org", "h"), Change::done);
  const Expansion e = d().expand("BoB@EXAMPLE.Org");
  EXPECT_EQ(e.status, Lookup::found);
  EXPECT_TRUE(e.local_domain);
  EXPECT_EQ(addresses(e), (Strings{"bob@example.org"}));
}

TEST_F(DirectoryTest, PostmasterExistsInEveryLocalDomainWithoutAUser) {
  for (const char* a : {"postmaster@example.org", "postmaster@example.net", "PostMaster@Example.ORG"}) {
    const Expansion e = d().expand(a);
    EXPECT_EQ(e.status, Lookup::found) << a;
    ASSERT_EQ(e.destinations.size(), 1u) << a;
    EXPECT_TRUE(e.destinations[0].local);
  }
  EXPECT_EQ(addresses(d().expand("PostMaster@Example.ORG")), (Strings{"postmaster@example.org"}));
}

TEST_F(DirectoryTest, PostmasterOfAnAddedDomainExists) {
  ASSERT_EQ(d().add_domain("added.test"), Change::done);
  EXPECT_EQ(d().expand("postmaster@added.test").status, Lookup::found);
}

TEST_F(DirectoryTest, BarePostmasterMeansThePrimaryDomain) {
  for (const char* a : {"postmaster", "Postmaster", "POSTMASTER"}) {
    const Expansion e = d().expand(a);
    EXPECT_EQ(e.status, Lookup::found) << a;
    EXPECT_TRUE(e.local_domain) << a;
    EXPECT_EQ(addresses(e), (Strings{"postmaster@example.org"})) << a;
  }
}

TEST_F(DirectoryTest, PostmasterAliasSendsItElsewhere) {
  ASSERT_EQ(d().add_user("admin@example.org", "h"), Change::done);
  ASSERT_EQ(d().add_alias("postmaster@example.org", {"admin@example.org"}), Change::done);
  EXPECT_EQ(addresses(d().expand("postmaster@example.org")), (Strings{"admin@example.org"}));
  EXPECT_EQ(addresses(d().expand("postmaster")), (Strings{"admin@example.org"}));
}

TEST_F(DirectoryTest, AliasToSeveralTargetsIsAList) {
  ASSERT_EQ(d().add_user("a@example.org", "h"), Change::done);
  ASSERT_EQ(d().add_user("b@example.net", "h"), Change::done);
  ASSERT_EQ(d().add_alias("staff@example.org", {"a@example.org", "b@example.net"}), Change::done);
  const Expansion e = d().expand("staff@example.org");
  EXPECT_EQ(e.status, Lookup::found);
  EXPECT_TRUE(e.list);
  EXPECT_TRUE(e.local_domain);
  EXPECT_EQ(addresses(e), (Strings{"a@example.org", "b@example.net"}));
  for (const auto& x : e.destinations) EXPECT_TRUE(x.local);
}

TEST_F(DirectoryTest, AliasToOneTargetIsNotAList) {
  ASSERT_EQ(d().add_user("a@example.org", "h"), Change::done);
  ASSERT_EQ(d().add_alias("info@example.org", {"a@example.org"}), Change::done);
  const Expansion e = d().expand("info@example.org");
  EXPECT_EQ(e.status, Lookup::found);
  EXPECT_FALSE(e.list);
  EXPECT_EQ(addresses(e), (Strings{"a@example.org"}));
}

TEST_F(DirectoryTest, NestedAliasesExpandRecursively) {
  ASSERT_EQ(d().add_user("a@example.org", "h"), Change::done);
  ASSERT_EQ(d().add_user("b@example.org", "h"), Change::done);
  ASSERT_EQ(d().add_user("c@example.org", "h"), Change::done);
  ASSERT_EQ(d().add_alias("team@example.org", {"a@example.org", "b@example.org"}), Change::done);
  ASSERT_EQ(d().add_alias("all@example.org", {"team@example.org", "c@example.org", "a@example.org"}), Change::done);
  ASSERT_EQ(d().add_alias("boss@example.org", {"team@example.org"}), Change::done);
  const Expansion all = d().expand("all@example.org");
  EXPECT_EQ(all.status, Lookup::found);
  EXPECT_TRUE(all.list);
  EXPECT_EQ(addresses(all), (Strings{"a@example.org", "b@example.org", "c@example.org"}));  // a once
  const Expansion boss = d().expand("boss@example.org");
  EXPECT_EQ(addresses(boss), (Strings{"a@example.org", "b@example.org"}));
}

TEST_F(DirectoryTest, AliasLoopTerminatesAsNotFound) {
  ASSERT_EQ(d().add_alias("a@example.org", {"b@example.org"}), Change::done);
  ASSERT_EQ(d().add_alias("b@example.org", {"a@example.org"}), Change::done);
  const Expansion e = d().expand("a@example.org");
  EXPECT_EQ(e.status, Lookup::not_found);
  EXPECT_TRUE(e.destinations.empty());
  EXPECT_TRUE(e.local_domain);
}

TEST_F(DirectoryTest, AliasLoopStillReachesRealMailboxes) {
  ASSERT_EQ(d().add_user("u@example.org", "h"), Change::done);
  ASSERT_EQ(d().add_alias("a@example.org", {"b@example.org", "u@example.org"}), Change::done);
  ASSERT_EQ(d().add_alias("b@example.org", {"a@example.org"}), Change::done);
  const Expansion e = d().expand("b@example.org");
  EXPECT_EQ(e.status, Lookup::found);
  EXPECT_EQ(addresses(e), (Strings{"u@example.org"}));
}

TEST_F(DirectoryTest, AliasToARemoteAddressGivesANonLocalDestination) {
  ASSERT_EQ(d().add_alias("fwd@example.org", {"Someone@Remote.Test"}), Change::done);
  const Expansion e = d().expand("fwd@example.org");
  EXPECT_EQ(e.status, Lookup::found);
  EXPECT_TRUE(e.local_domain);
  ASSERT_EQ(e.destinations.size(), 1u);
  EXPECT_EQ(e.destinations[0].address, "someone@remote.test");
  EXPECT_FALSE(e.destinations[0].local);
}

TEST_F(DirectoryTest, NonLocalDomainIsNotLocal) {
  const Expansion e = d().expand("someone@remote.test");
  EXPECT_FALSE(e.local_domain);
  for (const auto& x : e.destinations) EXPECT_FALSE(x.local);
}

TEST_F(DirectoryTest, AliasesListDeleteAndDuplicates) {
  ASSERT_EQ(d().add_alias("Staff@example.org", {"A@example.org", "b@remote.test"}), Change::done);
  EXPECT_EQ(d().add_alias("staff@example.org", {"c@example.org"}), Change::already_exists);
  EXPECT_EQ(d().add_alias("x@remote.test", {"c@example.org"}), Change::not_found);
  EXPECT_EQ(d().add_alias("y@example.org", {}), Change::invalid);
  const auto list = d().aliases();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].alias, "staff@example.org");
  EXPECT_EQ(list[0].targets, (Strings{"a@example.org", "b@remote.test"}));
  EXPECT_EQ(d().delete_alias("staff@example.org"), Change::done);
  EXPECT_EQ(d().delete_alias("staff@example.org"), Change::not_found);
  EXPECT_TRUE(d().aliases().empty());
}

// ---------------------------------------------------------------- two processes

TEST_F(DirectoryTest, ChangesByASecondDirectoryAreSeenWithoutReopening) {
  // A running server keeps its Directory open while `poshta user add` opens
  // another one on the same file.
  ASSERT_EQ(d().expand("bob@example.org").status, Lookup::not_found);
  ASSERT_EQ(d().is_local_domain("added.test"), Lookup::not_found);
  {
    Directory admin(db_, {"example.org", "example.net"});
    EXPECT_EQ(admin.add_user("bob@example.org", "h"), Change::done);
    EXPECT_EQ(admin.add_domain("added.test"), Change::done);
    EXPECT_EQ(admin.add_user("carol@added.test", "h"), Change::done);
    EXPECT_EQ(admin.add_alias("list@example.org", {"bob@example.org", "carol@added.test"}), Change::done);
  }
  EXPECT_EQ(d().expand("bob@example.org").status, Lookup::found);
  EXPECT_EQ(d().is_local_domain("added.test"), Lookup::found);
  EXPECT_EQ(d().expand("carol@added.test").status, Lookup::found);
  const Expansion list = d().expand("list@example.org");
  EXPECT_TRUE(list.list);
  EXPECT_EQ(addresses(list), (Strings{"bob@example.org", "carol@added.test"}));
  EXPECT_EQ(d().users(), (Strings{"bob@example.org", "carol@added.test"}));

  Directory admin(db_, {"example.org", "example.net"});
  EXPECT_EQ(admin.delete_user("bob@example.org"), Change::done);
  EXPECT_EQ(d().expand("bob@example.org").status, Lookup::not_found);
  EXPECT_EQ(admin.delete_domain("added.test"), Change::done);
  EXPECT_EQ(d().is_local_domain("added.test"), Lookup::not_found);
}

TEST_F(DirectoryTest, DataSurvivesReopening) {
  ASSERT_EQ(d().add_user("bob@example.org", "h"), Change::done);
  d_.reset();
  Directory again(db_, {"example.org"});
  EXPECT_EQ(again.users(), (Strings{"bob@example.org"}));
}

TEST_F(DirectoryTest, SafeLocalParts) {
  EXPECT_TRUE(Directory::is_safe_local_part("bob"));
  EXPECT_TRUE(Directory::is_safe_local_part("first.last+tag"));
  EXPECT_FALSE(Directory::is_safe_local_part(""));
  EXPECT_FALSE(Directory::is_safe_local_part("."));
  EXPECT_FALSE(Directory::is_safe_local_part(".."));
  EXPECT_FALSE(Directory::is_safe_local_part(".bob"));
  EXPECT_FALSE(Directory::is_safe_local_part("bob."));
  EXPECT_FALSE(Directory::is_safe_local_part("a..b"));
  EXPECT_FALSE(Directory::is_safe_local_part("a/b"));
  EXPECT_FALSE(Directory::is_safe_local_part(std::string(65, 'a')));
  EXPECT_TRUE(Directory::is_safe_local_part(std::string(64, 'a')));
}

}  // namespace
}  // namespace poshta::directory
