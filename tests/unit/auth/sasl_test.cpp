// auth/sasl: strict base64 and the server side of SASL PLAIN (RFC 4616) and
// LOGIN, driven step by step as the SMTP session drives them.
#include "auth/sasl.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <string_view>

namespace poshta::auth {
namespace {

using namespace std::string_literals;
using Status = SaslServer::Status;

SaslServer make(std::string_view mechanism) {
  auto s = SaslServer::create(mechanism);
  EXPECT_TRUE(s.has_value()) << mechanism;
  return s ? *s : *SaslServer::create("PLAIN");
}

// ---------------------------------------------------------------- base64

TEST(SaslBase64, DecodesCanonicalInput) {
  EXPECT_EQ(base64_decode("QQ=="), "A");
  EXPECT_EQ(base64_decode("QUI="), "AB");
  EXPECT_EQ(base64_decode("QUJD"), "ABC");
  EXPECT_EQ(base64_decode("VXNlcm5hbWU6"), "Username:");
  EXPECT_EQ(base64_decode("AHVzZXIAcGFzcw=="), "\0user\0pass"s);
  EXPECT_EQ(base64_decode("+/+/"), "\xfb\xff\xbf"s);
}

TEST(SaslBase64, EmptyStringIsValidAndDecodesToNothing) {
  const auto d = base64_decode("");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(*d, "");
}

TEST(SaslBase64, PaddingIsRequired) {
  EXPECT_EQ(base64_decode("QQ"), std::nullopt);
  EXPECT_EQ(base64_decode("QUI"), std::nullopt);
  EXPECT_EQ(base64_decode("QUJDRA"), std::nullopt);
  EXPECT_EQ(base64_decode("Q"), std::nullopt);
  EXPECT_EQ(base64_decode("QQ="), std::nullopt);
  // The view ends before the padding that follows it in memory.
  EXPECT_EQ(base64_decode(std::string_view("QQ==").substr(0, 2)), std::nullopt);
  EXPECT_EQ(base64_decode(std::string_view("QUI=").substr(0, 3)), std::nullopt);
}

TEST(SaslBase64, WhitespaceIsRefused) {
  EXPECT_EQ(base64_decode("QU JD"), std::nullopt);
  EXPECT_EQ(base64_decode("QUJD "), std::nullopt);
  EXPECT_EQ(base64_decode(" QUJD"), std::nullopt);
  EXPECT_EQ(base64_decode("QUJD\r\n"), std::nullopt);
  EXPECT_EQ(base64_decode("QUJD\nQUJD"), std::nullopt);
  EXPECT_EQ(base64_decode("QU\tJ"), std::nullopt);
  EXPECT_EQ(base64_decode("QUJDQUJD    "), std::nullopt);
}

TEST(SaslBase64, PaddingOnlyAtTheEnd) {
  EXPECT_EQ(base64_decode("QQ==QUJD"), std::nullopt);  // padded group followed by more
  EXPECT_EQ(base64_decode("QUI=QUJD"), std::nullopt);
  EXPECT_EQ(base64_decode("QQ=A"), std::nullopt);  // data after '='
  EXPECT_EQ(base64_decode("Q=Q="), std::nullopt);
  EXPECT_EQ(base64_decode("Q==="), std::nullopt);  // at most two '='
  EXPECT_EQ(base64_decode("===="), std::nullopt);
  EXPECT_EQ(base64_decode("=QUJ"), std::nullopt);
}

TEST(SaslBase64, CharactersOutsideTheAlphabetAreRefused) {
  EXPECT_EQ(base64_decode("QU*D"), std::nullopt);
  EXPECT_EQ(base64_decode("QU-D"), std::nullopt);  // base64url is not base64
  EXPECT_EQ(base64_decode("QU_D"), std::nullopt);
  EXPECT_EQ(base64_decode("QU.D"), std::nullopt);
  EXPECT_EQ(base64_decode("QU\0D"s), std::nullopt);
  EXPECT_EQ(base64_decode("QU\xc3\xa9"), std::nullopt);
}

TEST(SaslBase64, EncodesWithPadding) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("A"), "QQ==");
  EXPECT_EQ(base64_encode("AB"), "QUI=");
  EXPECT_EQ(base64_encode("ABC"), "QUJD");
  EXPECT_EQ(base64_encode("Password:"), "UGFzc3dvcmQ6");
  EXPECT_EQ(base64_encode("\xfb\xff\xbf"s), "+/+/");
}

TEST(SaslBase64, RoundTripsEveryLengthFromZeroToTen) {
  // Every byte value, NUL and high bytes included, somewhere in the inputs.
  for (std::size_t len = 0; len <= 10; ++len) {
    for (unsigned seed : {0u, 85u, 170u, 251u}) {
      std::string in;
      for (std::size_t i = 0; i < len; ++i) in += static_cast<char>((seed + i * 37u) & 0xffu);
      const std::string encoded = base64_encode(in);
      EXPECT_EQ(encoded.size(), (len + 2) / 3 * 4) << "length " << len;
      const auto decoded = base64_decode(encoded);
      ASSERT_TRUE(decoded.has_value()) << "length " << len << ": " << encoded;
      EXPECT_EQ(*decoded, in) << "length " << len << ": " << encoded;
    }
  }
}

// ---------------------------------------------------------------- create

TEST(SaslServerCreate, OffersPlainAndLoginCaseInsensitively) {
  EXPECT_TRUE(SaslServer::create("PLAIN").has_value());
  EXPECT_TRUE(SaslServer::create("plain").has_value());
  EXPECT_TRUE(SaslServer::create("Plain").has_value());
  EXPECT_TRUE(SaslServer::create("LOGIN").has_value());
  EXPECT_TRUE(SaslServer::create("login").has_value());
  EXPECT_EQ(SaslServer::kMechanisms, "PLAIN LOGIN");
}

TEST(SaslServerCreate, OtherMechanismsAreNotOffered) {
  EXPECT_FALSE(SaslServer::create("CRAM-MD5").has_value());
  EXPECT_FALSE(SaslServer::create("DIGEST-MD5").has_value());
  EXPECT_FALSE(SaslServer::create("SCRAM-SHA-256").has_value());
  EXPECT_FALSE(SaslServer::create("XOAUTH2").has_value());
  EXPECT_FALSE(SaslServer::create("").has_value());
  EXPECT_FALSE(SaslServer::create("PLAINX").has_value());
}

// ---------------------------------------------------------------- PLAIN

TEST(SaslPlain, InitialResponseFinishesAtOnce) {
  SaslServer s = make("PLAIN");
  const auto step = s.begin(base64_encode("\0user@x.example\0secret"s));
  ASSERT_EQ(step.status, Status::done) << step.error;
  EXPECT_EQ(s.credentials().username, "user@x.example");
  EXPECT_EQ(s.credentials().password, "secret");
}

TEST(SaslPlain, WithoutInitialResponseTheFirstStepIsAnEmptyChallenge) {
  SaslServer s = make("PLAIN");
  const auto first = s.begin(std::nullopt);
  EXPECT_EQ(first.status, Status::challenge);
  EXPECT_EQ(first.challenge, "");
  const auto second = s.respond(base64_encode("\0user\0pass word"s));
  ASSERT_EQ(second.status, Status::done) << second.error;
  EXPECT_EQ(s.credentials().username, "user");
  EXPECT_EQ(s.credentials().password, "pass word");
}

TEST(SaslPlain, EmptyPasswordIsPassedOn) {
  SaslServer s = make("PLAIN");
  ASSERT_EQ(s.begin(base64_encode("\0user\0"s)).status, Status::done);
  EXPECT_EQ(s.credentials().username, "user");
  EXPECT_EQ(s.credentials().password, "");
}

TEST(SaslPlain, EqualsSignAsInitialResponseIsEmptyAndFails) {
  // RFC 4954 §4: "=" is an empty initial response; PLAIN needs two NULs.
  SaslServer s = make("PLAIN");
  EXPECT_EQ(s.begin("=").status, Status::failed);
}

TEST(SaslPlain, EmptyResponseAfterTheChallengeFails) {
  SaslServer s = make("PLAIN");
  ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
  EXPECT_EQ(s.respond("").status, Status::failed);
}

TEST(SaslPlain, AuthzidEqualToTheUserIsAccepted) {
  SaslServer s = make("PLAIN");
  const auto step = s.begin(base64_encode("user@x.example\0user@x.example\0secret"s));
  ASSERT_EQ(step.status, Status::done) << step.error;
  EXPECT_EQ(s.credentials().username, "user@x.example");
  EXPECT_EQ(s.credentials().password, "secret");
}

TEST(SaslPlain, DifferentAuthzidIsRefused) {
  SaslServer s = make("PLAIN");
  const auto step = s.begin(base64_encode("admin@x.example\0user@x.example\0secret"s));
  EXPECT_EQ(step.status, Status::failed);
  EXPECT_FALSE(step.error.empty());
}

TEST(SaslPlain, MissingNulIsRefused) {
  {
    SaslServer s = make("PLAIN");
    EXPECT_EQ(s.begin(base64_encode("usersecret")).status, Status::failed);
  }
  {
    SaslServer s = make("PLAIN");
    EXPECT_EQ(s.begin(base64_encode("user\0secret"s)).status, Status::failed);
  }
  {
    SaslServer s = make("PLAIN");
    EXPECT_EQ(s.begin(base64_encode("\0usersecret"s)).status, Status::failed);
  }
}

TEST(SaslPlain, ThirdNulIsRefused) {
  SaslServer s = make("PLAIN");
  EXPECT_EQ(s.begin(base64_encode("\0user\0pass\0more"s)).status, Status::failed);
}

TEST(SaslPlain, EmptyUserIsRefused) {
  SaslServer s = make("PLAIN");
  EXPECT_EQ(s.begin(base64_encode("\0\0secret"s)).status, Status::failed);
}

// ---------------------------------------------------------------- LOGIN

TEST(SaslLogin, ChallengesAreBase64UsernameAndPassword) {
  SaslServer s = make("LOGIN");
  const auto first = s.begin(std::nullopt);
  ASSERT_EQ(first.status, Status::challenge);
  EXPECT_EQ(first.challenge, "VXNlcm5hbWU6");
  EXPECT_EQ(base64_decode(first.challenge), "Username:");
  const auto second = s.respond(base64_encode("user@x.example"));
  ASSERT_EQ(second.status, Status::challenge);
  EXPECT_EQ(second.challenge, "UGFzc3dvcmQ6");
  EXPECT_EQ(base64_decode(second.challenge), "Password:");
  const auto third = s.respond(base64_encode("secret"));
  ASSERT_EQ(third.status, Status::done) << third.error;
  EXPECT_EQ(s.credentials().username, "user@x.example");
  EXPECT_EQ(s.credentials().password, "secret");
}

TEST(SaslLogin, InitialResponseIsTheUserNameAndSkipsTheFirstChallenge) {
  SaslServer s = make("LOGIN");
  const auto first = s.begin(base64_encode("user@x.example"));
  ASSERT_EQ(first.status, Status::challenge);
  EXPECT_EQ(first.challenge, "UGFzc3dvcmQ6");
  const auto second = s.respond(base64_encode("secret"));
  ASSERT_EQ(second.status, Status::done) << second.error;
  EXPECT_EQ(s.credentials().username, "user@x.example");
  EXPECT_EQ(s.credentials().password, "secret");
}

TEST(SaslLogin, EmptyUserIsRefused) {
  SaslServer s = make("LOGIN");
  ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
  ASSERT_EQ(s.respond("").status, Status::challenge);
  EXPECT_EQ(s.respond(base64_encode("secret")).status, Status::failed);
}

// ---------------------------------------------------------------- cancel, errors, limits

TEST(SaslCancel, StarCancelsPlainAtItsChallenge) {
  SaslServer s = make("PLAIN");
  ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
  EXPECT_EQ(s.respond("*").status, Status::cancelled);
}

TEST(SaslCancel, StarCancelsLoginAtTheUsernameChallenge) {
  SaslServer s = make("LOGIN");
  ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
  EXPECT_EQ(s.respond("*").status, Status::cancelled);
}

TEST(SaslCancel, StarCancelsLoginAtThePasswordChallenge) {
  SaslServer s = make("LOGIN");
  ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
  ASSERT_EQ(s.respond(base64_encode("user")).status, Status::challenge);
  EXPECT_EQ(s.respond("*").status, Status::cancelled);
}

TEST(SaslCancel, StarCancelsLoginAfterAnInitialResponse) {
  SaslServer s = make("LOGIN");
  ASSERT_EQ(s.begin(base64_encode("user")).status, Status::challenge);
  EXPECT_EQ(s.respond("*").status, Status::cancelled);
}

TEST(SaslErrors, InvalidBase64Fails) {
  {
    SaslServer s = make("PLAIN");
    const auto step = s.begin("AHVzZXIAcGFzcw");  // padding missing
    EXPECT_EQ(step.status, Status::failed);
    EXPECT_FALSE(step.error.empty());
  }
  {
    SaslServer s = make("PLAIN");
    ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
    EXPECT_EQ(s.respond("not base64!").status, Status::failed);
  }
  {
    SaslServer s = make("LOGIN");
    ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
    EXPECT_EQ(s.respond("dXNlcg").status, Status::failed);
  }
  {
    SaslServer s = make("LOGIN");
    ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
    ASSERT_EQ(s.respond(base64_encode("user")).status, Status::challenge);
    EXPECT_EQ(s.respond("c2Vj cmV0").status, Status::failed);
  }
}

TEST(SaslErrors, ResponseOverOneKibibyteFails) {
  const std::string user(1024 - 7, 'u');  // "\0" + user + "\0" + "12345" = 1024 octets
  {
    SaslServer s = make("PLAIN");
    const auto step = s.begin(base64_encode("\0"s + user + "\0"s + "12345"));
    EXPECT_EQ(step.status, Status::done) << "1024 octets must still be accepted: " << step.error;
  }
  {
    SaslServer s = make("PLAIN");
    const auto step = s.begin(base64_encode("\0"s + user + "\0"s + "123456"));  // 1025
    EXPECT_EQ(step.status, Status::failed);
  }
  {
    SaslServer s = make("LOGIN");
    ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
    EXPECT_EQ(s.respond(base64_encode(std::string(1025, 'u'))).status, Status::failed);
  }
  {
    SaslServer s = make("LOGIN");
    ASSERT_EQ(s.begin(base64_encode("user")).status, Status::challenge);
    EXPECT_EQ(s.respond(base64_encode(std::string(1025, 'p'))).status, Status::failed);
  }
}

TEST(SaslErrors, RespondAfterDoneFails) {
  {
    SaslServer s = make("PLAIN");
    ASSERT_EQ(s.begin(base64_encode("\0user\0pass"s)).status, Status::done);
    EXPECT_EQ(s.respond(base64_encode("\0user\0pass"s)).status, Status::failed);
    EXPECT_EQ(s.respond("=").status, Status::failed);
  }
  {
    SaslServer s = make("LOGIN");
    ASSERT_EQ(s.begin(base64_encode("user")).status, Status::challenge);
    ASSERT_EQ(s.respond(base64_encode("pass")).status, Status::done);
    EXPECT_EQ(s.respond(base64_encode("again")).status, Status::failed);
  }
}

TEST(SaslErrors, RespondAfterAFailureFails) {
  SaslServer s = make("LOGIN");
  ASSERT_EQ(s.begin(std::nullopt).status, Status::challenge);
  ASSERT_EQ(s.respond("%%%%").status, Status::failed);
  EXPECT_EQ(s.respond(base64_encode("user")).status, Status::failed);
}

}  // namespace
}  // namespace poshta::auth
