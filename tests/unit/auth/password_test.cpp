// auth/password: yescrypt hashes in Dovecot's {CRYPT} form; verification of
// any scheme crypt(3) knows.
#include "auth/password.hpp"

#include <gtest/gtest.h>

#include <string>

namespace poshta::auth {
namespace {

TEST(Password, HashIsCryptYescrypt) {
  auto h = hash_password("correct horse");
  ASSERT_TRUE(h.ok()) << h.error().message();
  EXPECT_EQ(h->rfind("{CRYPT}$y$", 0), 0u) << *h;
  EXPECT_GT(h->size(), 20u);
}

TEST(Password, VerifiesTheRightPassword) {
  auto h = hash_password("correct horse");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(verify_password("correct horse", *h));
}

TEST(Password, RejectsAWrongPassword) {
  auto h = hash_password("correct horse");
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(verify_password("correct horsf", *h));
  EXPECT_FALSE(verify_password("Correct horse", *h));
  EXPECT_FALSE(verify_password("correct horse ", *h));
  EXPECT_FALSE(verify_password("", *h));
}

TEST(Password, TwoHashesOfOnePasswordDifferBySalt) {
  auto a = hash_password("same password");
  auto b = hash_password("same password");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(verify_password("same password", *a));
  EXPECT_TRUE(verify_password("same password", *b));
}

TEST(Password, EmptyPasswordHashesAndVerifies) {
  auto h = hash_password("");
  ASSERT_TRUE(h.ok());
  EXPECT_TRUE(verify_password("", *h));
  EXPECT_FALSE(verify_password("x", *h));
}

TEST(Password, PasswordWithNulIsRefused) {
  auto h = hash_password(std::string("ab\0cd", 5));
  EXPECT_FALSE(h.ok());
  auto good = hash_password("ab");
  ASSERT_TRUE(good.ok());
  EXPECT_FALSE(verify_password(std::string("ab\0cd", 5), *good));
}

TEST(Password, VerifiesSha512AndSha256CryptWithOrWithoutPrefix) {
  // openssl passwd -6 -salt saltsalt hunter2 / openssl passwd -5 -salt abc hunter2
  const std::string sha512 =
      "$6$saltsalt$8iYtNHxjWRl.NF6oNZ5tF.iKFlQREaXBLlSmZKP6dy9l5z3vsooWNW0/GZ6Nej73/TFug6pIPSqbJoCT6dfnj.";
  const std::string sha256 = "$5$abc$aw8kcfRnzkuA1XFRzd1AgTNuyzM2RdMYKc3X22kKYc0";
  EXPECT_TRUE(verify_password("hunter2", sha512));
  EXPECT_TRUE(verify_password("hunter2", "{CRYPT}" + sha512));
  EXPECT_TRUE(verify_password("hunter2", "{CRYPT}" + sha256));
  EXPECT_FALSE(verify_password("hunter3", sha512));
  EXPECT_FALSE(verify_password("hunter3", "{CRYPT}" + sha256));
}

TEST(Password, GarbageStoredHashNeverVerifies) {
  EXPECT_FALSE(verify_password("x", ""));
  EXPECT_FALSE(verify_password("x", "{CRYPT}"));
  EXPECT_FALSE(verify_password("x", "*"));
  EXPECT_FALSE(verify_password("x", "!"));
  EXPECT_FALSE(verify_password("", "{CRYPT}$y$"));
  auto h = hash_password("x");
  ASSERT_TRUE(h.ok());
  EXPECT_FALSE(verify_password("x", h->substr(0, h->size() - 1)));
}

}  // namespace
}  // namespace poshta::auth
