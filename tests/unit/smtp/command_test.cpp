// smtp/command: the command-line grammar of RFC 5321 §4.1 and the ESMTP
// parameters Poshta offers (SIZE, BODY, SMTPUTF8, RET, ENVID, NOTIFY, ORCPT).
#include "smtp/command.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace poshta::smtp {
namespace {

// ---------------------------------------------------------------- split_command

TEST(SplitCommand, SeparatesVerbFromArgumentsAtFirstSpace) {
  const CommandLine c = split_command("MAIL FROM:<a@b.example> SIZE=10");
  EXPECT_EQ(c.verb, Verb::mail);
  EXPECT_EQ(c.name, "MAIL");
  EXPECT_EQ(c.args, "FROM:<a@b.example> SIZE=10");
}

TEST(SplitCommand, VerbWithoutArgumentsHasEmptyArgs) {
  const CommandLine c = split_command("NOOP");
  EXPECT_EQ(c.verb, Verb::noop);
  EXPECT_EQ(c.name, "NOOP");
  EXPECT_TRUE(c.args.empty());
}

TEST(SplitCommand, KeepsNameAsSentAndMatchesVerbCaseInsensitively) {
  const CommandLine c = split_command("eHlO client.example");
  EXPECT_EQ(c.verb, Verb::ehlo);
  EXPECT_EQ(c.name, "eHlO");
  EXPECT_EQ(c.args, "client.example");
}

TEST(SplitCommand, UnknownVerbIsUnknown) {
  EXPECT_EQ(split_command("XYZZY magic").verb, Verb::unknown);
  EXPECT_EQ(split_command("").verb, Verb::unknown);
  EXPECT_EQ(split_command("MAILFROM:<a@b>").verb, Verb::unknown);
}

TEST(SplitCommand, ArgumentsKeepFurtherSpaces) {
  const CommandLine c = split_command("NOOP  two  spaces ");
  EXPECT_EQ(c.verb, Verb::noop);
  EXPECT_EQ(c.args, " two  spaces ");
}

// ---------------------------------------------------------------- find_verb

TEST(FindVerb, IsCaseInsensitive) {
  for (std::string_view name : {"HELO", "helo", "HeLo", "hELO"}) {
    const VerbInfo* v = find_verb(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_EQ(v->verb, Verb::helo) << name;
    EXPECT_EQ(v->name, "HELO");
  }
  ASSERT_NE(find_verb("starttls"), nullptr);
  EXPECT_EQ(find_verb("starttls")->verb, Verb::starttls);
  ASSERT_NE(find_verb("Bdat"), nullptr);
  EXPECT_EQ(find_verb("Bdat")->verb, Verb::bdat);
}

TEST(FindVerb, KnowsEveryCommandOfTheSpec) {
  for (std::string_view name : {"HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "SEND", "SOML", "SAML", "VRFY",
                                "EXPN", "HELP", "NOOP", "QUIT", "STARTTLS", "AUTH"}) {
    const VerbInfo* v = find_verb(name);
    ASSERT_NE(v, nullptr) << name;
    EXPECT_FALSE(v->syntax.empty()) << name;
  }
}

TEST(FindVerb, RejectsUnknownAndPartialNames) {
  EXPECT_EQ(find_verb("MAI"), nullptr);
  EXPECT_EQ(find_verb("MAILX"), nullptr);
  EXPECT_EQ(find_verb("MAIL "), nullptr);
  EXPECT_EQ(find_verb(""), nullptr);
}

// ---------------------------------------------------------------- parse_mail_args

MailArgs mail_ok(std::string_view args) {
  MailArgs out;
  const auto error = parse_mail_args(args, out);
  EXPECT_FALSE(error.has_value()) << args << " -> " << (error ? std::to_string(error->code) + " " + error->text : "");
  return out;
}

Reply mail_error(std::string_view args) {
  MailArgs out;
  const auto error = parse_mail_args(args, out);
  EXPECT_TRUE(error.has_value()) << args << " was accepted";
  return error.value_or(Reply{});
}

TEST(ParseMailArgs, AcceptsPlainAddress) {
  const MailArgs m = mail_ok("FROM:<alice@example.org>");
  EXPECT_EQ(m.address, "alice@example.org");
  EXPECT_FALSE(m.size.has_value());
  EXPECT_EQ(m.body, BodyType::unspecified);
  EXPECT_FALSE(m.smtputf8);
  EXPECT_EQ(m.ret, Ret::unspecified);
  EXPECT_TRUE(m.envid.empty());
}

TEST(ParseMailArgs, FromKeywordIsCaseInsensitive) {
  EXPECT_EQ(mail_ok("from:<alice@example.org>").address, "alice@example.org");
  EXPECT_EQ(mail_ok("From:<alice@example.org>").address, "alice@example.org");
}

TEST(ParseMailArgs, AcceptsNullSender) {
  const MailArgs m = mail_ok("FROM:<>");
  EXPECT_TRUE(m.address.empty());
}

TEST(ParseMailArgs, AcceptsNullSenderWithParameters) {
  const MailArgs m = mail_ok("FROM:<> SIZE=100 BODY=7BIT");
  EXPECT_TRUE(m.address.empty());
  EXPECT_EQ(m.size, 100u);
  EXPECT_EQ(m.body, BodyType::seven_bit);
}

TEST(ParseMailArgs, AcceptsSourceRouteAndKeepsOnlyTheMailbox) {
  EXPECT_EQ(mail_ok("FROM:<@a.example,@b.example:u@d.example>").address, "u@d.example");
  EXPECT_EQ(mail_ok("FROM:<@a.example:u@d.example>").address, "u@d.example");
}

TEST(ParseMailArgs, RejectsSourceRouteWithoutMailbox) {
  // RFC 5321 §4.1.2: Path = "<" [ A-d-l ":" ] Mailbox ">"; a route with no
  // mailbox after it is not the null reverse-path "<>".
  EXPECT_EQ(mail_error("FROM:<@a.example:>").code, 501);
}

TEST(ParseMailArgs, AcceptsSpaceAfterFromColon) {
  EXPECT_EQ(mail_ok("FROM: <alice@example.org>").address, "alice@example.org");
  const MailArgs m = mail_ok("FROM: <alice@example.org> SIZE=5");
  EXPECT_EQ(m.size, 5u);
}

TEST(ParseMailArgs, AcceptsQuotedLocalParts) {
  EXPECT_EQ(mail_ok("FROM:<\"john doe\"@example.org>").address, "\"john doe\"@example.org");
  EXPECT_EQ(mail_ok("FROM:<\"a\\\"b\"@example.org>").address, "\"a\\\"b\"@example.org");
  // A '>' inside the quotes does not end the path.
  EXPECT_EQ(mail_ok("FROM:<\"a>b\"@example.org> SIZE=1").address, "\"a>b\"@example.org");
}

TEST(ParseMailArgs, RejectsUnterminatedQuotedLocalPart) {
  EXPECT_EQ(mail_error("FROM:<\"john@example.org>").code, 501);
}

TEST(ParseMailArgs, AcceptsIPv4AddressLiteral) {
  EXPECT_EQ(mail_ok("FROM:<root@[127.0.0.1]>").address, "root@[127.0.0.1]");
}

TEST(ParseMailArgs, AcceptsIPv6AddressLiteral) {
  EXPECT_EQ(mail_ok("FROM:<root@[IPv6:::1]>").address, "root@[IPv6:::1]");
  EXPECT_EQ(mail_ok("FROM:<root@[IPv6:2001:db8::1]>").address, "root@[IPv6:2001:db8::1]");
}

TEST(ParseMailArgs, RejectsMalformedAddressLiterals) {
  for (std::string_view a : {"FROM:<root@[300.0.0.1]>", "FROM:<root@[::1]>", "FROM:<root@[IPv6:zz]>", "FROM:<root@[]>",
                             "FROM:<root@[127.0.0.1>"}) {
    const Reply r = mail_error(a);
    EXPECT_EQ(r.code, 501) << a;
  }
}

TEST(ParseMailArgs, ParsesSize) {
  EXPECT_EQ(mail_ok("FROM:<a@b.example> SIZE=0").size, 0u);
  EXPECT_EQ(mail_ok("FROM:<a@b.example> SIZE=26214400").size, 26214400u);
  EXPECT_EQ(mail_ok("FROM:<a@b.example> size=7").size, 7u);
}

TEST(ParseMailArgs, RejectsMalformedSize) {
  for (std::string_view a : {"FROM:<a@b.example> SIZE=", "FROM:<a@b.example> SIZE", "FROM:<a@b.example> SIZE=12k",
                             "FROM:<a@b.example> SIZE=-1", "FROM:<a@b.example> SIZE=99999999999999999999999"}) {
    const Reply r = mail_error(a);
    EXPECT_EQ(r.code, 501) << a;
  }
}

TEST(ParseMailArgs, ParsesBody) {
  EXPECT_EQ(mail_ok("FROM:<a@b.example> BODY=7BIT").body, BodyType::seven_bit);
  EXPECT_EQ(mail_ok("FROM:<a@b.example> BODY=8BITMIME").body, BodyType::eight_bit_mime);
  EXPECT_EQ(mail_ok("FROM:<a@b.example> body=8bitmime").body, BodyType::eight_bit_mime);
  EXPECT_EQ(mail_error("FROM:<a@b.example> BODY=BINARYMIME").code, 501);
  EXPECT_EQ(mail_error("FROM:<a@b.example> BODY").code, 501);
}

TEST(ParseMailArgs, ParsesSmtputf8WithoutValue) {
  EXPECT_TRUE(mail_ok("FROM:<a@b.example> SMTPUTF8").smtputf8);
  EXPECT_TRUE(mail_ok("FROM:<a@b.example> smtputf8").smtputf8);
  EXPECT_EQ(mail_error("FROM:<a@b.example> SMTPUTF8=yes").code, 501);
}

TEST(ParseMailArgs, ParsesRet) {
  EXPECT_EQ(mail_ok("FROM:<a@b.example> RET=FULL").ret, Ret::full);
  EXPECT_EQ(mail_ok("FROM:<a@b.example> RET=hdrs").ret, Ret::hdrs);
  EXPECT_EQ(mail_error("FROM:<a@b.example> RET=BODY").code, 501);
  EXPECT_EQ(mail_error("FROM:<a@b.example> RET").code, 501);
}

TEST(ParseMailArgs, ParsesEnvidAsXtextKeptEncoded) {
  EXPECT_EQ(mail_ok("FROM:<a@b.example> ENVID=QQ314159+2Bx").envid, "QQ314159+2Bx");
  EXPECT_EQ(mail_error("FROM:<a@b.example> ENVID=").code, 501);
  EXPECT_EQ(mail_error("FROM:<a@b.example> ENVID=a+zz").code, 501);
  EXPECT_EQ(mail_error("FROM:<a@b.example> ENVID=a=b").code, 501);
  EXPECT_EQ(mail_error("FROM:<a@b.example> ENVID=" + std::string(101, 'x')).code, 501);
  EXPECT_EQ(mail_ok("FROM:<a@b.example> ENVID=" + std::string(100, 'x')).envid, std::string(100, 'x'));
}

TEST(ParseMailArgs, ParsesAllParametersTogether) {
  const MailArgs m = mail_ok("FROM:<a@b.example> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id1");
  EXPECT_EQ(m.address, "a@b.example");
  EXPECT_EQ(m.size, 1234u);
  EXPECT_EQ(m.body, BodyType::eight_bit_mime);
  EXPECT_TRUE(m.smtputf8);
  EXPECT_EQ(m.ret, Ret::hdrs);
  EXPECT_EQ(m.envid, "id1");
}

TEST(ParseMailArgs, DuplicateParameterIs501) {
  for (std::string_view a : {"FROM:<a@b.example> SIZE=1 SIZE=2", "FROM:<a@b.example> BODY=7BIT BODY=7BIT",
                             "FROM:<a@b.example> SMTPUTF8 SMTPUTF8", "FROM:<a@b.example> RET=FULL RET=HDRS",
                             "FROM:<a@b.example> ENVID=a ENVID=b", "FROM:<a@b.example> SIZE=1 size=1"}) {
    const Reply r = mail_error(a);
    EXPECT_EQ(r.code, 501) << a;
    EXPECT_EQ(r.enhanced, "5.5.4") << a;
  }
}

TEST(ParseMailArgs, UnknownParameterIs555) {
  const Reply r = mail_error("FROM:<a@b.example> FOO=bar");
  EXPECT_EQ(r.code, 555);
  EXPECT_EQ(r.enhanced, "5.5.4");
}

TEST(ParseMailArgs, AuthParameterIsAcceptedWhenWellFormed) {
  // RFC 4954 §5: AUTH=<> or AUTH=xtext; accepted (and not trusted).
  MailArgs out;
  EXPECT_FALSE(parse_mail_args("FROM:<a@b.example> AUTH=<>", out));
  MailArgs out2;
  EXPECT_FALSE(parse_mail_args("FROM:<a@b.example> AUTH=a+40b.example", out2));
  EXPECT_EQ(mail_error("FROM:<a@b.example> AUTH=").code, 501);
  EXPECT_EQ(mail_error("FROM:<a@b.example> AUTH=a=b").code, 501);
  EXPECT_EQ(mail_error("FROM:<a@b.example> AUTH=<> AUTH=<>").code, 501);
}

TEST(ParseMailArgs, NonAsciiAddressWithoutSmtputf8Is553With567) {
  const Reply r = mail_error("FROM:<j\xc3\xb6rg@example.org>");
  EXPECT_EQ(r.code, 553);
  EXPECT_EQ(r.enhanced, "5.6.7");
}

TEST(ParseMailArgs, NonAsciiAddressWithSmtputf8IsAccepted) {
  const MailArgs m = mail_ok("FROM:<j\xc3\xb6rg@\xc3\xa9xample.org> SMTPUTF8");
  EXPECT_EQ(m.address, "j\xc3\xb6rg@\xc3\xa9xample.org");
  EXPECT_TRUE(m.smtputf8);
}

TEST(ParseMailArgs, InvalidUtf8WithSmtputf8IsRejected) {
  EXPECT_EQ(mail_error("FROM:<j\xc3rg@example.org> SMTPUTF8").code, 501);
}

TEST(ParseMailArgs, BadAddressSyntaxIs501With517) {
  for (std::string_view a : {"FROM:<alice>", "FROM:<alice@>", "FROM:<a..b@example.org>", "FROM:<.a@example.org>",
                             "FROM:<a.@example.org>", "FROM:<a b@example.org>", "FROM:<a@exa mple.org>",
                             "FROM:<a@-example.org>", "FROM:<a@example..org>", "FROM:<a@example.org.>"}) {
    const Reply r = mail_error(a);
    EXPECT_EQ(r.code, 501) << a;
    EXPECT_EQ(r.enhanced, "5.1.7") << a;
  }
}

TEST(ParseMailArgs, OverlongLocalPartIsRejected) {
  EXPECT_EQ(mail_ok("FROM:<" + std::string(64, 'a') + "@example.org>").address.size(), 64u + 12u);
  EXPECT_EQ(mail_error("FROM:<" + std::string(65, 'a') + "@example.org>").enhanced, "5.1.7");
}

TEST(ParseMailArgs, BadPathSyntaxIs501) {
  for (std::string_view a :
       {"", "FROM", "FROM:", "FROM:alice@example.org", "FROM:<alice@example.org", "FROM:<@example.org>",
        "TO:<alice@example.org>", "FROM:<alice@example.org>SIZE=1", "FROM <alice@example.org>"}) {
    const Reply r = mail_error(a);
    EXPECT_EQ(r.code, 501) << a;
  }
}

TEST(ParseMailArgs, ToleratesExtraSpacesBetweenParameters) {
  const MailArgs m = mail_ok("FROM:<a@b.example>   SIZE=9   BODY=7BIT  ");
  EXPECT_EQ(m.size, 9u);
  EXPECT_EQ(m.body, BodyType::seven_bit);
}

// ---------------------------------------------------------------- parse_rcpt_args

RcptArgs rcpt_ok(std::string_view args, bool utf8 = false) {
  RcptArgs out;
  const auto error = parse_rcpt_args(args, utf8, out);
  EXPECT_FALSE(error.has_value()) << args << " -> " << (error ? std::to_string(error->code) + " " + error->text : "");
  return out;
}

Reply rcpt_error(std::string_view args, bool utf8 = false) {
  RcptArgs out;
  const auto error = parse_rcpt_args(args, utf8, out);
  EXPECT_TRUE(error.has_value()) << args << " was accepted";
  return error.value_or(Reply{});
}

TEST(ParseRcptArgs, AcceptsPlainAddress) {
  const RcptArgs r = rcpt_ok("TO:<bob@example.org>");
  EXPECT_EQ(r.address, "bob@example.org");
  EXPECT_EQ(r.notify, 0);
  EXPECT_TRUE(r.orcpt.empty());
  EXPECT_EQ(rcpt_ok("to: <bob@example.org>").address, "bob@example.org");
}

TEST(ParseRcptArgs, AcceptsBarePostmasterInAnyCase) {
  EXPECT_EQ(rcpt_ok("TO:<postmaster>").address, "postmaster");
  EXPECT_EQ(rcpt_ok("TO:<Postmaster>").address, "Postmaster");
  EXPECT_EQ(rcpt_ok("TO:<POSTMASTER> NOTIFY=NEVER").notify, notify::never);
}

TEST(ParseRcptArgs, BareUserOtherThanPostmasterIs501With513) {
  const Reply r = rcpt_error("TO:<bob>");
  EXPECT_EQ(r.code, 501);
  EXPECT_EQ(r.enhanced, "5.1.3");
}

TEST(ParseRcptArgs, AcceptsSourceRoute) {
  EXPECT_EQ(rcpt_ok("TO:<@relay.example:bob@example.org>").address, "bob@example.org");
}

TEST(ParseRcptArgs, ParsesNotifyCombinations) {
  EXPECT_EQ(rcpt_ok("TO:<b@example.org> NOTIFY=NEVER").notify, notify::never);
  EXPECT_EQ(rcpt_ok("TO:<b@example.org> NOTIFY=SUCCESS").notify, notify::success);
  EXPECT_EQ(rcpt_ok("TO:<b@example.org> NOTIFY=FAILURE,DELAY").notify, notify::failure | notify::delay);
  EXPECT_EQ(rcpt_ok("TO:<b@example.org> NOTIFY=success,failure,delay").notify,
            notify::success | notify::failure | notify::delay);
  EXPECT_EQ(rcpt_ok("TO:<b@example.org> NOTIFY=DELAY,SUCCESS").notify, notify::success | notify::delay);
}

TEST(ParseRcptArgs, NotifyNeverIsExclusive) {
  for (std::string_view a : {"TO:<b@example.org> NOTIFY=NEVER,SUCCESS", "TO:<b@example.org> NOTIFY=FAILURE,NEVER",
                             "TO:<b@example.org> NOTIFY=NEVER,DELAY,SUCCESS"}) {
    const Reply r = rcpt_error(a);
    EXPECT_EQ(r.code, 501) << a;
  }
}

TEST(ParseRcptArgs, RejectsMalformedNotify) {
  for (std::string_view a :
       {"TO:<b@example.org> NOTIFY=", "TO:<b@example.org> NOTIFY", "TO:<b@example.org> NOTIFY=ALWAYS",
        "TO:<b@example.org> NOTIFY=SUCCESS,", "TO:<b@example.org> NOTIFY=SUCCESS NOTIFY=DELAY"}) {
    const Reply r = rcpt_error(a);
    EXPECT_EQ(r.code, 501) << a;
  }
}

TEST(ParseRcptArgs, ParsesOrcptKeptXtextEncoded) {
  EXPECT_EQ(rcpt_ok("TO:<b@example.org> ORCPT=rfc822;b@example.org").orcpt, "rfc822;b@example.org");
  EXPECT_EQ(rcpt_ok("TO:<b@example.org> ORCPT=rfc822;b+2Bx@example.org").orcpt, "rfc822;b+2Bx@example.org");
  const RcptArgs both = rcpt_ok("TO:<b@example.org> NOTIFY=FAILURE ORCPT=rfc822;c@example.org");
  EXPECT_EQ(both.notify, notify::failure);
  EXPECT_EQ(both.orcpt, "rfc822;c@example.org");
}

TEST(ParseRcptArgs, RejectsMalformedOrcpt) {
  for (std::string_view a : {"TO:<b@example.org> ORCPT=rfc822", "TO:<b@example.org> ORCPT=;b@example.org",
                             "TO:<b@example.org> ORCPT=rfc822;b+zz", "TO:<b@example.org> ORCPT=rfc822;a=b",
                             "TO:<b@example.org> ORCPT=", "TO:<b@example.org> ORCPT=rfc822;a ORCPT=rfc822;b"}) {
    const Reply r = rcpt_error(a);
    EXPECT_EQ(r.code, 501) << a;
  }
  EXPECT_EQ(rcpt_error("TO:<b@example.org> ORCPT=rfc822;" + std::string(500, 'x')).code, 501);
}

TEST(ParseRcptArgs, UnknownParameterIs555) {
  const Reply r = rcpt_error("TO:<b@example.org> FOO=1");
  EXPECT_EQ(r.code, 555);
  // MAIL parameters are not RCPT parameters.
  EXPECT_EQ(rcpt_error("TO:<b@example.org> SIZE=1").code, 555);
}

TEST(ParseRcptArgs, BadAddressIs501With513) {
  for (std::string_view a : {"TO:<>", "TO:<b@>", "TO:<b..c@example.org>", "TO:<b@exa_mple.org>", "TO:<b@[1.2.3]>"}) {
    const Reply r = rcpt_error(a);
    EXPECT_EQ(r.code, 501) << a;
    EXPECT_EQ(r.enhanced, "5.1.3") << a;
  }
}

TEST(ParseRcptArgs, BadPathSyntaxIs501) {
  for (std::string_view a :
       {"", "TO", "TO:b@example.org", "TO:<b@example.org", "FROM:<b@example.org>", "TO:<@example.org>"}) {
    EXPECT_EQ(rcpt_error(a).code, 501) << a;
  }
}

TEST(ParseRcptArgs, NonAsciiNeedsSmtputf8OnMail) {
  const Reply r = rcpt_error("TO:<j\xc3\xb6rg@example.org>", false);
  EXPECT_EQ(r.code, 553);
  EXPECT_EQ(r.enhanced, "5.6.7");
  EXPECT_EQ(rcpt_ok("TO:<j\xc3\xb6rg@example.org>", true).address, "j\xc3\xb6rg@example.org");
}

TEST(ParseRcptArgs, AcceptsAddressLiterals) {
  EXPECT_EQ(rcpt_ok("TO:<b@[192.0.2.1]>").address, "b@[192.0.2.1]");
  EXPECT_EQ(rcpt_ok("TO:<b@[IPv6:::1]>").address, "b@[IPv6:::1]");
}

// ---------------------------------------------------------------- parse_bdat_args

TEST(ParseBdatArgs, ParsesSize) {
  std::uint64_t size = 99;
  bool last = true;
  EXPECT_FALSE(parse_bdat_args("1000", size, last).has_value());
  EXPECT_EQ(size, 1000u);
  EXPECT_FALSE(last);
}

TEST(ParseBdatArgs, ParsesLastCaseInsensitively) {
  std::uint64_t size = 0;
  bool last = false;
  EXPECT_FALSE(parse_bdat_args("42 LAST", size, last).has_value());
  EXPECT_EQ(size, 42u);
  EXPECT_TRUE(last);
  last = false;
  EXPECT_FALSE(parse_bdat_args("0 last", size, last).has_value());
  EXPECT_EQ(size, 0u);
  EXPECT_TRUE(last);
}

TEST(ParseBdatArgs, RejectsMalformedArguments) {
  for (std::string_view a :
       {"", "LAST", "abc", "-1", "12x", "12 FIRST", "12 LAST extra", "12  LAST", " 12", "99999999999999999999999"}) {
    std::uint64_t size = 0;
    bool last = false;
    const auto r = parse_bdat_args(a, size, last);
    ASSERT_TRUE(r.has_value()) << "'" << a << "' accepted";
    EXPECT_EQ(r->code, 501) << a;
  }
}

// ---------------------------------------------------------------- is_http_verb

TEST(IsHttpVerb, RecognisesHttpMethodsInAnyCase) {
  for (std::string_view v : {"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE", "PATCH", "get", "Post"}) {
    EXPECT_TRUE(is_http_verb(v)) << v;
  }
}

TEST(IsHttpVerb, SmtpVerbsAreNotHttp) {
  for (std::string_view v : {"MAIL", "HELO", "EHLO", "DATA", "QUIT", "", "GETS", "GE"}) {
    EXPECT_FALSE(is_http_verb(v)) << v;
  }
}

// ---------------------------------------------------------------- is_valid_xtext

TEST(IsValidXtext, AcceptsPrintableAsciiAndHexEscapes) {
  EXPECT_TRUE(is_valid_xtext("abc"));
  EXPECT_TRUE(is_valid_xtext("a+2Bb"));
  EXPECT_TRUE(is_valid_xtext("+3D"));
  EXPECT_TRUE(is_valid_xtext("rfc822;user@example.org"));
  EXPECT_TRUE(is_valid_xtext("!~"));
}

TEST(IsValidXtext, RejectsEqualsSpaceControlAndNonAscii) {
  EXPECT_FALSE(is_valid_xtext("a=b"));
  EXPECT_FALSE(is_valid_xtext("a b"));
  EXPECT_FALSE(is_valid_xtext("a\tb"));
  EXPECT_FALSE(is_valid_xtext("a\x7f"));
  EXPECT_FALSE(is_valid_xtext("\xc3\xb6"));
}

TEST(IsValidXtext, RejectsBadHexEscapes) {
  EXPECT_FALSE(is_valid_xtext("+"));
  EXPECT_FALSE(is_valid_xtext("a+2"));
  EXPECT_FALSE(is_valid_xtext("a+2b"));  // RFC 3461 §4: hexchar is upper case
  EXPECT_FALSE(is_valid_xtext("a+GG"));
  EXPECT_FALSE(is_valid_xtext("a++2B"));
}

// ---------------------------------------------------------------- is_valid_mailbox

TEST(IsValidMailbox, FollowsRfc5321Syntax) {
  EXPECT_TRUE(is_valid_mailbox("a.b-c+d@example.org", false));
  EXPECT_TRUE(is_valid_mailbox("\"x y\"@example.org", false));
  EXPECT_TRUE(is_valid_mailbox("x@[10.0.0.1]", false));
  EXPECT_FALSE(is_valid_mailbox("x", false));
  EXPECT_FALSE(is_valid_mailbox("x@", false));
  EXPECT_FALSE(is_valid_mailbox("x@@example.org", false));
  // RFC 5321 §4.5.3.1.3: a path is at most 256 octets with its brackets.
  const std::string label(60, 'b');
  EXPECT_FALSE(is_valid_mailbox(
      std::string(64, 'a') + "@" + label + "." + label + "." + label + "." + std::string(10, 'c'), false));
  EXPECT_TRUE(is_valid_mailbox(std::string(64, 'a') + "@" + label + "." + label + "." + std::string(60, 'c'), false));
  EXPECT_FALSE(is_valid_mailbox("j\xc3\xb6@example.org", false));
  EXPECT_TRUE(is_valid_mailbox("j\xc3\xb6@example.org", true));
}

}  // namespace
}  // namespace poshta::smtp
