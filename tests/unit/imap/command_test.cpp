// imap/command: the grammar of IMAP commands (RFC 9051 §9, RFC 3501, and
// the extensions Poshta parses: LITERAL+, SASL-IR, ID, ENABLE, UIDPLUS,
// MOVE, LIST-EXTENDED, CONDSTORE modifiers, ESEARCH's RETURN), turned into
// typed values, and the reasons given for what is refused.
#include "imap/command.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "imap/reader.hpp"

namespace poshta::imap {
namespace {

using K = FetchItem::Kind;
using S = SearchKey::Kind;

// The wire form (CRLF added) framed by a Reader, as a session does.
RawCommand frame(std::string_view wire) {
  Reader r(100 * 1024 * 1024);
  r.feed(wire);
  r.feed("\r\n");
  auto raw = r.next();
  EXPECT_TRUE(raw.has_value()) << wire;
  EXPECT_FALSE(r.next().has_value()) << wire;
  return raw.value_or(RawCommand{});
}

Command ok(std::string_view wire) {
  auto parsed = parse(frame(wire));
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    ADD_FAILURE() << wire << ": " << e->tag << " " << e->text;
    return {};
  }
  return std::get<Command>(parsed);
}

ParseError bad(std::string_view wire) {
  auto parsed = parse(frame(wire));
  if (std::holds_alternative<Command>(parsed)) {
    ADD_FAILURE() << wire << ": parsed";
    return {};
  }
  return std::get<ParseError>(parsed);
}

// The error text for a command with the tag "t"; the tag must be kept.
std::string bad_text(std::string_view wire) {
  const auto e = bad(wire);
  EXPECT_EQ(e.tag, "t") << wire;
  return e.text;
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> ranges(const SequenceSet& s) {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  for (const auto& r : s.ranges) out.emplace_back(r.first, r.last);
  return out;
}

using Ranges = std::vector<std::pair<std::uint32_t, std::uint32_t>>;
constexpr std::uint32_t kStar = SequenceSet::kStar;

// ---------------------------------------------------------------- tag and name

TEST(ImapCommand, TagAndNameUpperCased) {
  const auto c = ok("a1 noop");
  EXPECT_EQ(c.tag, "a1");
  EXPECT_EQ(c.name, "NOOP");
  EXPECT_FALSE(c.uid);
}

TEST(ImapCommand, TagMayHoldAnyAstringCharButPlus) {
  EXPECT_EQ(ok("A.1-x]_~ NOOP").tag, "A.1-x]_~");
  for (const char* wire :
       {"a+1 NOOP", "+ NOOP", "(a) NOOP", "a\"b NOOP", "a{1} NOOP", "a% NOOP", "a* NOOP", "a\\b NOOP"}) {
    const auto e = bad(wire);
    EXPECT_EQ(e.tag, "*") << wire;
    EXPECT_EQ(e.text, "a command must start with a tag") << wire;
  }
}

TEST(ImapCommand, EmptyLineHasNoTag) {
  const auto e = bad("");
  EXPECT_EQ(e.tag, "*");
  EXPECT_EQ(e.text, "a command must start with a tag");
  EXPECT_EQ(parse(RawCommand{}).index(), 1u);
  EXPECT_EQ(std::get<ParseError>(parse(RawCommand{})).text, "empty command");
}

TEST(ImapCommand, TagWithoutCommand) {
  EXPECT_EQ(bad_text("t"), "missing command");
  EXPECT_EQ(bad_text("t "), "expected an atom");
}

TEST(ImapCommand, UnknownCommandIsNamed) {
  EXPECT_EQ(bad_text("t FROBNICATE"), "unknown command FROBNICATE");
  EXPECT_EQ(bad_text("t xyzzy 1 2"), "unknown command XYZZY");
}

TEST(ImapCommand, TooLongKeepsTheTag) {
  RawCommand raw;
  raw.chunks.push_back({false, false, "t APPEND INBOX "});
  raw.too_long = true;
  const auto e = std::get<ParseError>(parse(raw));
  EXPECT_EQ(e.tag, "t");
  EXPECT_EQ(e.text, "[TOOBIG] command or literal too long");
}

TEST(ImapCommand, CommandsWithoutArguments) {
  for (const char* n :
       {"CAPABILITY", "LOGOUT", "NOOP", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "IDLE", "NAMESPACE"}) {
    EXPECT_EQ(ok(std::string("t ") + n).name, n);
    EXPECT_EQ(bad_text(std::string("t ") + n + " extra"), "unexpected text after the arguments") << n;
    EXPECT_EQ(bad_text(std::string("t ") + n + " "), "unexpected text after the arguments") << n;
  }
}

// ---------------------------------------------------------------- LOGIN, AUTHENTICATE, ENABLE, ID

TEST(ImapCommand, LoginWithAtoms) {
  const auto c = ok("t LOGIN alice@example.test secret]");
  EXPECT_EQ(c.name, "LOGIN");
  EXPECT_EQ(c.user, "alice@example.test");
  EXPECT_EQ(c.password, "secret]");
}

TEST(ImapCommand, LoginWithQuotedStrings) {
  const auto c = ok(R"x(t LOGIN "al ice" "p\"w\\d (x)")x");
  EXPECT_EQ(c.user, "al ice");
  EXPECT_EQ(c.password, "p\"w\\d (x)");
  EXPECT_EQ(ok(R"(t LOGIN "" "")").user, "");
}

TEST(ImapCommand, LoginWithLiterals) {
  const auto c = ok("t LOGIN {5+}\r\nalice {9}\r\n\"pass\" \\w");
  EXPECT_EQ(c.user, "alice");
  EXPECT_EQ(c.password, "\"pass\" \\w");
  const auto mixed = ok("t LOGIN \"bob\" {3}\r\nx y");
  EXPECT_EQ(mixed.user, "bob");
  EXPECT_EQ(mixed.password, "x y");
}

TEST(ImapCommand, LoginErrors) {
  EXPECT_EQ(bad_text("t LOGIN"), "expected a space");
  EXPECT_EQ(bad_text("t LOGIN alice"), "expected a space");
  EXPECT_EQ(bad_text("t LOGIN alice "), "expected a string or an atom");
  EXPECT_EQ(bad_text("t LOGIN alice \"secret"), "unterminated quoted string");
  EXPECT_EQ(bad_text(R"(t LOGIN alice "se\cret")"), "only \\\" and \\\\ may be escaped in a quoted string");
  EXPECT_EQ(bad_text("t LOGIN alice secret more"), "unexpected text after the arguments");
  EXPECT_EQ(bad_text("t LOGIN (alice) secret"), "expected a string or an atom");
}

TEST(ImapCommand, AuthenticateWithAndWithoutInitialResponse) {
  const auto plain = ok("t authenticate plain");
  EXPECT_EQ(plain.name, "AUTHENTICATE");
  EXPECT_EQ(plain.mechanism, "PLAIN");
  EXPECT_FALSE(plain.initial_response.has_value());

  const auto ir = ok("t AUTHENTICATE PLAIN AGFsaWNlAHNlY3JldA==");
  EXPECT_EQ(ir.mechanism, "PLAIN");
  EXPECT_EQ(ir.initial_response, std::optional<std::string>("AGFsaWNlAHNlY3JldA=="));

  const auto empty = ok("t AUTHENTICATE PLAIN =");
  EXPECT_EQ(empty.initial_response, std::optional<std::string>("="));

  EXPECT_EQ(bad_text("t AUTHENTICATE"), "expected a space");
  EXPECT_EQ(bad_text("t AUTHENTICATE PLAIN abc def"), "unexpected text after the arguments");
}

TEST(ImapCommand, EnableTakesCapabilities) {
  const auto c = ok("t ENABLE condstore utf8=accept");
  EXPECT_EQ(c.atoms, (std::vector<std::string>{"CONDSTORE", "UTF8=ACCEPT"}));
  EXPECT_EQ(bad_text("t ENABLE"), "ENABLE needs capabilities");
}

TEST(ImapCommand, IdWithParametersOrNil) {
  const auto nil = ok("t ID nil");
  EXPECT_EQ(nil.name, "ID");
  EXPECT_TRUE(nil.id.empty());
  const auto c = ok(R"(t ID ("name" "Thunderbird" "version" NIL "os" {5+})"
                    "\r\nLinux)");
  ASSERT_EQ(c.id.size(), 3u);
  EXPECT_EQ(c.id[0], (std::pair<std::string, std::string>{"name", "Thunderbird"}));
  EXPECT_EQ(c.id[1], (std::pair<std::string, std::string>{"version", ""}));
  EXPECT_EQ(c.id[2], (std::pair<std::string, std::string>{"os", "Linux"}));
  EXPECT_TRUE(ok("t ID ()").id.empty());
  EXPECT_EQ(bad_text("t ID name"), "ID takes a parameter list or NIL");
  EXPECT_EQ(bad_text(R"(t ID ("name"))"), "expected a space");
  EXPECT_EQ(bad_text(R"(t ID ("name" x))"), "expected a string or NIL");
  EXPECT_EQ(bad_text(R"(t ID ("name" "x")"), "expected the end of the ID parameters");
}

TEST(ImapCommand, IdKeepsAtMostThirtyPairs) {
  std::string wire = "t ID (";
  for (int i = 0; i < 40; ++i) wire += (i ? " \"k" : "\"k") + std::to_string(i) + "\" \"v\"";
  wire += ")";
  EXPECT_EQ(ok(wire).id.size(), 30u);
}

// ---------------------------------------------------------------- mailboxes

TEST(ImapCommand, SelectAndExamine) {
  const auto c = ok("t SELECT inbox");
  EXPECT_EQ(c.name, "SELECT");
  EXPECT_EQ(c.mailbox, "INBOX");  // INBOX in any case is INBOX
  EXPECT_EQ(ok("t EXAMINE \"Inbox\"").mailbox, "INBOX");
  EXPECT_EQ(ok("t SELECT Sent").mailbox, "Sent");
  EXPECT_EQ(ok("t SELECT \"Entw&APw-rfe\"").mailbox, "Entw&APw-rfe");
  EXPECT_EQ(ok("t SELECT {7+}\r\nMy Mail").mailbox, "My Mail");
  EXPECT_EQ(ok("t SELECT INBOX.sub").mailbox, "INBOX.sub");  // only the whole name is folded
  const auto cs = ok("t SELECT INBOX (condstore)");
  EXPECT_TRUE(cs.condstore);
  EXPECT_EQ(cs.atoms, (std::vector<std::string>{"CONDSTORE"}));
  EXPECT_EQ(bad_text("t SELECT"), "expected a space");
  EXPECT_EQ(bad_text("t SELECT INBOX CONDSTORE"), "expected SELECT parameters");
  EXPECT_EQ(bad_text("t SELECT INBOX (CONDSTORE"), "expected the end of the SELECT parameters");
}

TEST(ImapCommand, CreateDeleteSubscribeRename) {
  for (const char* n : {"CREATE", "DELETE", "SUBSCRIBE", "UNSUBSCRIBE"}) {
    const auto c = ok(std::string("t ") + n + " \"Work.2026\"");
    EXPECT_EQ(c.name, n);
    EXPECT_EQ(c.mailbox, "Work.2026");
  }
  const auto r = ok("t RENAME Old \"New Name\"");
  EXPECT_EQ(r.name, "RENAME");
  EXPECT_EQ(r.mailbox, "Old");
  EXPECT_EQ(r.mailbox2, "New Name");
  EXPECT_EQ(bad_text("t RENAME Old"), "expected a space");
  EXPECT_EQ(bad_text("t DELETE a b"), "unexpected text after the arguments");
}

TEST(ImapCommand, CreateWithSpecialUse) {
  const auto c = ok("t CREATE MySent (USE (\\Sent))");
  EXPECT_EQ(c.mailbox, "MySent");
  EXPECT_EQ(c.atoms, (std::vector<std::string>{"\\Sent"}));
  EXPECT_EQ(bad_text("t CREATE x (FOO (\\Sent))"), "unknown CREATE parameter");
  EXPECT_EQ(bad_text("t SUBSCRIBE x (USE (\\Sent))"), "unexpected text after the arguments");
}

TEST(ImapCommand, ListWithReferenceAndPattern) {
  const auto c = ok("t LIST \"\" *");
  EXPECT_EQ(c.name, "LIST");
  EXPECT_EQ(c.list.reference, "");
  EXPECT_EQ(c.list.patterns, (std::vector<std::string>{"*"}));
  EXPECT_EQ(ok("t LIST \"\" %").list.patterns, (std::vector<std::string>{"%"}));
  EXPECT_EQ(ok("t LIST Archive. %.2026*").list.reference, "Archive.");
  EXPECT_EQ(ok("t LIST Archive. %.2026*").list.patterns, (std::vector<std::string>{"%.2026*"}));
  EXPECT_EQ(ok("t LIST \"\" \"\"").list.patterns, (std::vector<std::string>{""}));
  EXPECT_EQ(ok("t LIST \"\" {3+}\r\nA*B").list.patterns, (std::vector<std::string>{"A*B"}));
}

TEST(ImapCommand, ListExtendedSelectAndReturnOptions) {
  const auto c =
      ok("t LIST (subscribed special-use) \"\" (\"INBOX\" Sent* %) RETURN (children STATUS (messages unseen))");
  EXPECT_EQ(c.list.select_options, (std::vector<std::string>{"SUBSCRIBED", "SPECIAL-USE"}));
  EXPECT_EQ(c.list.patterns, (std::vector<std::string>{"INBOX", "Sent*", "%"}));
  EXPECT_EQ(c.list.return_options, (std::vector<std::string>{"CHILDREN", "STATUS"}));
  EXPECT_EQ(c.list.status_items, (std::vector<std::string>{"MESSAGES", "UNSEEN"}));
  const auto empty = ok("t LIST () \"\" * RETURN ()");
  EXPECT_TRUE(empty.list.select_options.empty());
  EXPECT_TRUE(empty.list.return_options.empty());
  EXPECT_EQ(bad_text("t LIST \"\" * (CHILDREN)"), "expected an atom");
  EXPECT_EQ(bad_text("t LIST \"\" * FOO (CHILDREN)"), "expected RETURN");
  EXPECT_EQ(bad_text("t LIST \"\""), "expected a space");
  EXPECT_EQ(bad_text("t LIST \"\" ("), "expected a mailbox pattern");
}

TEST(ImapCommand, LsubTakesOnePattern) {
  const auto c = ok("t LSUB \"\" *");
  EXPECT_EQ(c.name, "LSUB");
  EXPECT_EQ(c.list.patterns, (std::vector<std::string>{"*"}));
  EXPECT_EQ(bad_text("t LSUB (SUBSCRIBED) \"\" *"), "LSUB takes a reference and one pattern");
  EXPECT_EQ(bad_text("t LSUB \"\" (a b)"), "LSUB takes a reference and one pattern");
  EXPECT_EQ(bad_text("t LSUB \"\" * RETURN (CHILDREN)"), "LSUB takes a reference and one pattern");
}

TEST(ImapCommand, StatusItems) {
  const auto c = ok("t STATUS inbox (messages UIDNEXT uidvalidity Unseen size)");
  EXPECT_EQ(c.name, "STATUS");
  EXPECT_EQ(c.mailbox, "INBOX");
  EXPECT_EQ(c.atoms, (std::vector<std::string>{"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE"}));
  EXPECT_EQ(bad_text("t STATUS INBOX ()"), "expected an atom");
  EXPECT_EQ(bad_text("t STATUS INBOX MESSAGES"), "expected STATUS items");
  EXPECT_EQ(bad_text("t STATUS INBOX (MESSAGES"), "expected the end of the STATUS items");
}

// ---------------------------------------------------------------- APPEND

TEST(ImapCommand, AppendWithFlagsAndDateTime) {
  const auto c = ok("t APPEND Drafts (\\Seen \\Draft) \" 5-Nov-2026 10:00:00 +0100\" {7}\r\nSubject");
  EXPECT_EQ(c.name, "APPEND");
  ASSERT_EQ(c.append.size(), 1u);
  const auto& a = c.append[0];
  EXPECT_EQ(a.mailbox, "Drafts");
  EXPECT_EQ(a.flags, (std::vector<std::string>{"\\Seen", "\\Draft"}));
  EXPECT_EQ(a.internal_date, std::optional<std::int64_t>(1793869200));  // 09:00 UTC
  EXPECT_EQ(a.message, "Subject");
  EXPECT_FALSE(a.binary);
}

TEST(ImapCommand, AppendDateTimeZones) {
  EXPECT_EQ(ok("t APPEND INBOX \"05-Nov-2026 09:00:00 +0000\" {1+}\r\nx").append[0].internal_date,
            std::optional<std::int64_t>(1793869200));
  EXPECT_EQ(ok("t APPEND INBOX \"05-nov-2026 04:30:00 -0430\" {1+}\r\nx").append[0].internal_date,
            std::optional<std::int64_t>(1793869200));
  EXPECT_EQ(ok("t APPEND INBOX \"31-Dec-1999 23:59:59 +0000\" {1+}\r\nx").append[0].internal_date,
            std::optional<std::int64_t>(946684799));
}

TEST(ImapCommand, AppendMinimalAndBinary) {
  const auto c = ok("t APPEND inbox {5+}\r\nhello");
  EXPECT_EQ(c.append[0].mailbox, "INBOX");
  EXPECT_TRUE(c.append[0].flags.empty());
  EXPECT_FALSE(c.append[0].internal_date.has_value());
  EXPECT_EQ(c.append[0].message, "hello");
  const auto e = ok("t APPEND INBOX () {0+}\r\n");
  EXPECT_TRUE(e.append[0].flags.empty());
  EXPECT_EQ(e.append[0].message, "");
  const auto b = ok(std::string("t APPEND INBOX ~{3+}\r\na\0b", 25));
  EXPECT_TRUE(b.append[0].binary);
  EXPECT_EQ(b.append[0].message, std::string("a\0b", 3));
}

TEST(ImapCommand, AppendErrors) {
  EXPECT_EQ(bad_text("t APPEND INBOX hello"), "APPEND needs the message as a literal");
  EXPECT_EQ(bad_text("t APPEND INBOX (\\Seen) \"hello\" {1+}\r\nx"),
            "expected a date-time like \"01-Feb-2026 10:00:00 +0000\"");
  EXPECT_EQ(bad_text("t APPEND INBOX \"05-Nox-2026 09:00:00 +0000\" {1+}\r\nx"),
            "expected a date-time like \"01-Feb-2026 10:00:00 +0000\"");
  EXPECT_EQ(bad_text("t APPEND INBOX \"05-Nov-2026 25:00:00 +0000\" {1+}\r\nx"),
            "expected a date-time like \"01-Feb-2026 10:00:00 +0000\"");
  EXPECT_EQ(bad_text("t APPEND INBOX \"05-Nov-2026 09:00:00 *0000\" {1+}\r\nx"),
            "expected a date-time like \"01-Feb-2026 10:00:00 +0000\"");
  EXPECT_EQ(bad_text("t APPEND INBOX (\\Seen {1+}\r\nx"), "expected an atom");
  EXPECT_EQ(bad_text("t APPEND INBOX (\\Seen"), "expected the end of the flag list");
  EXPECT_EQ(bad_text("t APPEND INBOX {1+}\r\nx y"), "unexpected text after the arguments");
  EXPECT_EQ(bad_text("t APPEND"), "expected a space");
}

// ---------------------------------------------------------------- sequence sets

TEST(ImapCommand, SequenceSetsWithRangesAndStar) {
  const auto c = ok("t FETCH 1,3:5,7:*,*,10:8 FLAGS");
  EXPECT_EQ(ranges(c.set), (Ranges{{1, 1}, {3, 5}, {7, kStar}, {kStar, kStar}, {8, 10}}));
  EXPECT_FALSE(c.set.saved);
  EXPECT_EQ(ranges(ok("t FETCH *:4 FLAGS").set), (Ranges{{4, kStar}}));
  EXPECT_EQ(ranges(ok("t FETCH 4294967295 FLAGS").set), (Ranges{{kStar, kStar}}));
  EXPECT_TRUE(ok("t FETCH $ FLAGS").set.saved);
}

TEST(ImapCommand, SequenceSetErrors) {
  EXPECT_EQ(bad_text("t FETCH 0 FLAGS"), "0 is not a valid number here");
  EXPECT_EQ(bad_text("t FETCH 1:0 FLAGS"), "0 is not a valid number here");
  EXPECT_EQ(bad_text("t FETCH 1: FLAGS"), "expected a number");
  EXPECT_EQ(bad_text("t FETCH 1,,2 FLAGS"), "expected a number");
  EXPECT_EQ(bad_text("t FETCH 4294967296 FLAGS"), "expected a number");
  EXPECT_EQ(bad_text("t FETCH x FLAGS"), "expected a number");
  EXPECT_EQ(bad_text("t FETCH -1 FLAGS"), "expected a number");
}

TEST(ImapCommand, SequenceSetContains) {
  const auto set = ok("t FETCH 2,4:6,9:* FLAGS").set;
  std::vector<std::uint32_t> in;
  for (std::uint32_t n = 1; n <= 12; ++n) {
    if (set.contains(n, 10)) in.push_back(n);
  }
  EXPECT_EQ(in, (std::vector<std::uint32_t>{2, 4, 5, 6, 9, 10}));
  // "*" is the largest number in use, also when a range's other end is beyond it.
  const auto beyond = ok("t FETCH 20:* FLAGS").set;
  EXPECT_TRUE(beyond.contains(10, 10));
  EXPECT_FALSE(beyond.contains(9, 10));
  const auto star = ok("t FETCH * FLAGS").set;
  EXPECT_TRUE(star.contains(7, 7));
  EXPECT_FALSE(star.contains(6, 7));
  EXPECT_FALSE(ok("t FETCH $ FLAGS").set.contains(1, 1));
}

// ---------------------------------------------------------------- FETCH

TEST(ImapCommand, FetchItemList) {
  const auto c = ok("t FETCH 1:* (flags INTERNALDATE rfc822.size ENVELOPE BODYSTRUCTURE BODY UID MODSEQ)");
  EXPECT_EQ(c.name, "FETCH");
  std::vector<K> kinds;
  for (const auto& i : c.fetch) kinds.push_back(i.kind);
  EXPECT_EQ(kinds, (std::vector<K>{K::flags, K::internal_date, K::rfc822_size, K::envelope, K::body_structure, K::body,
                                   K::uid, K::modseq}));
}

TEST(ImapCommand, FetchSingleItemWithoutParentheses) {
  const auto c = ok("t FETCH 1 RFC822.HEADER");
  ASSERT_EQ(c.fetch.size(), 1u);
  EXPECT_EQ(c.fetch[0].kind, K::rfc822_header);
  EXPECT_EQ(ok("t FETCH 1 RFC822").fetch[0].kind, K::rfc822);
  EXPECT_EQ(ok("t FETCH 1 RFC822.TEXT").fetch[0].kind, K::rfc822_text);
  EXPECT_EQ(ok("t FETCH 1 BODY[]").fetch[0].kind, K::body_section);
}

TEST(ImapCommand, FetchMacros) {
  auto kinds = [](const Command& c) {
    std::vector<K> out;
    for (const auto& i : c.fetch) out.push_back(i.kind);
    return out;
  };
  EXPECT_EQ(kinds(ok("t FETCH 1 ALL")), (std::vector<K>{K::flags, K::internal_date, K::rfc822_size, K::envelope}));
  EXPECT_EQ(kinds(ok("t FETCH 1 fast")), (std::vector<K>{K::flags, K::internal_date, K::rfc822_size}));
  EXPECT_EQ(kinds(ok("t FETCH 1 FULL")),
            (std::vector<K>{K::flags, K::internal_date, K::rfc822_size, K::envelope, K::body}));
  EXPECT_EQ(bad_text("t FETCH 1 (ALL)"), "unknown FETCH item ALL");  // a macro stands alone
}

TEST(ImapCommand, FetchBodySections) {
  const auto c = ok("t FETCH 1 (BODY[] BODY.PEEK[HEADER] BODY[TEXT] BODY[1.2] BODY[1.2.MIME] BODY.PEEK[2.TEXT])");
  ASSERT_EQ(c.fetch.size(), 6u);
  EXPECT_EQ(c.fetch[0].kind, K::body_section);
  EXPECT_FALSE(c.fetch[0].peek);
  EXPECT_TRUE(c.fetch[0].part.empty());
  EXPECT_EQ(c.fetch[0].section, "");
  EXPECT_FALSE(c.fetch[0].origin.has_value());
  EXPECT_TRUE(c.fetch[1].peek);
  EXPECT_EQ(c.fetch[1].section, "HEADER");
  EXPECT_EQ(c.fetch[2].section, "TEXT");
  EXPECT_FALSE(c.fetch[2].peek);
  EXPECT_EQ(c.fetch[3].part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(c.fetch[3].section, "");
  EXPECT_EQ(c.fetch[4].part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(c.fetch[4].section, "MIME");
  EXPECT_EQ(c.fetch[5].part, (std::vector<std::uint32_t>{2}));
  EXPECT_EQ(c.fetch[5].section, "TEXT");
  EXPECT_TRUE(c.fetch[5].peek);
}

TEST(ImapCommand, FetchHeaderFieldsWithPartial) {
  const auto c = ok("t FETCH 1 BODY[HEADER.FIELDS (From subject \"X-Spam\")]<0.10>");
  ASSERT_EQ(c.fetch.size(), 1u);
  const auto& i = c.fetch[0];
  EXPECT_EQ(i.kind, K::body_section);
  EXPECT_EQ(i.section, "HEADER.FIELDS");
  EXPECT_EQ(i.fields, (std::vector<std::string>{"FROM", "SUBJECT", "X-SPAM"}));
  EXPECT_EQ(i.origin, std::optional<std::uint32_t>(0));
  EXPECT_EQ(i.count, 10u);

  const auto n = ok("t FETCH 1 BODY.PEEK[1.HEADER.FIELDS.NOT (Received)]<100.2>");
  EXPECT_TRUE(n.fetch[0].peek);
  EXPECT_EQ(n.fetch[0].part, (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(n.fetch[0].section, "HEADER.FIELDS.NOT");
  EXPECT_EQ(n.fetch[0].fields, (std::vector<std::string>{"RECEIVED"}));
  EXPECT_EQ(n.fetch[0].origin, std::optional<std::uint32_t>(100));
  EXPECT_EQ(n.fetch[0].count, 2u);
}

TEST(ImapCommand, FetchBinary) {
  const auto c = ok("t FETCH 1 (BINARY[1]<0.5> BINARY.PEEK[1.2] BINARY.SIZE[2] BINARY[])");
  ASSERT_EQ(c.fetch.size(), 4u);
  EXPECT_EQ(c.fetch[0].kind, K::binary);
  EXPECT_FALSE(c.fetch[0].peek);
  EXPECT_EQ(c.fetch[0].part, (std::vector<std::uint32_t>{1}));
  EXPECT_EQ(c.fetch[0].origin, std::optional<std::uint32_t>(0));
  EXPECT_EQ(c.fetch[0].count, 5u);
  EXPECT_EQ(c.fetch[1].kind, K::binary);
  EXPECT_TRUE(c.fetch[1].peek);
  EXPECT_EQ(c.fetch[1].part, (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(c.fetch[2].kind, K::binary_size);
  EXPECT_EQ(c.fetch[2].part, (std::vector<std::uint32_t>{2}));
  EXPECT_TRUE(c.fetch[3].part.empty());
  EXPECT_EQ(bad_text("t FETCH 1 BINARY[TEXT]"), "expected ']'");
  EXPECT_EQ(bad_text("t FETCH 1 BINARY"), "expected '['");
  EXPECT_EQ(bad_text("t FETCH 1 BINARY.SIZE[1]<0.5>"), "unexpected text after the arguments");
}

TEST(ImapCommand, FetchModifiers) {
  const auto c = ok("t FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
  EXPECT_EQ(c.changed_since, std::optional<std::uint64_t>(12345));
  EXPECT_TRUE(c.vanished);
  EXPECT_EQ(bad_text("t FETCH 1 FLAGS (FOO)"), "unknown FETCH modifier FOO");
  EXPECT_EQ(bad_text("t FETCH 1 FLAGS CHANGEDSINCE 1"), "expected FETCH modifiers");
}

TEST(ImapCommand, FetchErrors) {
  EXPECT_EQ(bad_text("t FETCH 1 XYZZY"), "unknown FETCH item XYZZY");
  EXPECT_EQ(bad_text("t FETCH 1 (FLAGS XYZZY)"), "unknown FETCH item XYZZY");
  EXPECT_EQ(bad_text("t FETCH 1 BODY.PEEK"), "BODY.PEEK needs a section");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[MIME]"), "unknown section MIME");  // MIME needs a part
  EXPECT_EQ(bad_text("t FETCH 1 BODY[FOO]"), "unknown section FOO");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[HEADER"), "expected ']'");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[HEADER.FIELDS]"), "expected a space");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[HEADER.FIELDS ()]"), "expected a string or an atom");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[HEADER.FIELDS (A]"), "expected the end of the header field names");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[0]"), "0 is not a valid number here");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[]<0>"), "expected <origin.count>");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[]<0.0>"), "0 is not a valid number here");
  EXPECT_EQ(bad_text("t FETCH 1 BODY[]<0.10"), "expected '>'");
  EXPECT_EQ(bad_text("t FETCH 1 (FLAGS"), "expected the end of the FETCH items");
  EXPECT_EQ(bad_text("t FETCH 1 ()"), "expected a word");
  EXPECT_EQ(bad_text("t FETCH 1"), "expected a space");
  EXPECT_EQ(bad_text("t FETCH FLAGS"), "expected a number");
}

// ---------------------------------------------------------------- STORE

TEST(ImapCommand, StoreModes) {
  const auto add = ok("t STORE 1:3 +FLAGS.SILENT (\\Seen \\Flagged)");
  EXPECT_EQ(add.name, "STORE");
  EXPECT_EQ(ranges(add.set), (Ranges{{1, 3}}));
  EXPECT_EQ(add.store.mode, StoreArgs::Mode::add);
  EXPECT_TRUE(add.store.silent);
  EXPECT_EQ(add.store.flags, (std::vector<std::string>{"\\Seen", "\\Flagged"}));

  const auto remove = ok("t STORE 2 -flags \\Deleted $Junk");
  EXPECT_EQ(remove.store.mode, StoreArgs::Mode::remove);
  EXPECT_FALSE(remove.store.silent);
  EXPECT_EQ(remove.store.flags, (std::vector<std::string>{"\\Deleted", "$Junk"}));

  const auto replace = ok("t STORE * FLAGS ()");
  EXPECT_EQ(replace.store.mode, StoreArgs::Mode::replace);
  EXPECT_TRUE(replace.store.flags.empty());

  const auto cond = ok("t STORE 1 (UNCHANGEDSINCE 7) +FLAGS (\\Answered)");
  EXPECT_EQ(cond.store.unchanged_since, std::optional<std::uint64_t>(7));
  EXPECT_EQ(cond.store.flags, (std::vector<std::string>{"\\Answered"}));
}

TEST(ImapCommand, StoreErrors) {
  EXPECT_EQ(bad_text("t STORE 1 LABELS (x)"), "STORE takes FLAGS or FLAGS.SILENT");
  EXPECT_EQ(bad_text("t STORE 1 +FLAGS"), "expected a space");
  EXPECT_EQ(bad_text("t STORE 1 +FLAGS (\\Seen"), "expected the end of the flag list");
  EXPECT_EQ(bad_text("t STORE 1 (FOO 1) FLAGS (\\Seen)"), "unknown STORE modifier");
  EXPECT_EQ(bad_text("t STORE 1 FLAGS (\\)"), "expected an atom");
}

// ---------------------------------------------------------------- SEARCH

TEST(ImapCommand, SearchSimpleKeysAreAnded) {
  const auto c = ok("t SEARCH unseen FROM alice SUBJECT \"hello world\"");
  EXPECT_EQ(c.name, "SEARCH");
  EXPECT_EQ(c.search.kind, S::and_);
  ASSERT_EQ(c.search.children.size(), 3u);
  EXPECT_EQ(c.search.children[0].kind, S::unseen);
  EXPECT_EQ(c.search.children[1].kind, S::from);
  EXPECT_EQ(c.search.children[1].value, "alice");
  EXPECT_EQ(c.search.children[2].kind, S::subject);
  EXPECT_EQ(c.search.children[2].value, "hello world");
}

TEST(ImapCommand, SearchFlagKeys) {
  const std::pair<const char*, S> keys[] = {{"ALL", S::all},
                                            {"ANSWERED", S::answered},
                                            {"DELETED", S::deleted},
                                            {"DRAFT", S::draft},
                                            {"FLAGGED", S::flagged},
                                            {"SEEN", S::seen},
                                            {"RECENT", S::recent},
                                            {"NEW", S::new_},
                                            {"OLD", S::old},
                                            {"UNANSWERED", S::unanswered},
                                            {"UNDELETED", S::undeleted},
                                            {"UNDRAFT", S::undraft},
                                            {"UNFLAGGED", S::unflagged},
                                            {"UNSEEN", S::unseen}};
  for (const auto& [name, kind] : keys) {
    const auto c = ok(std::string("t SEARCH ") + name);
    ASSERT_EQ(c.search.children.size(), 1u) << name;
    EXPECT_EQ(c.search.children[0].kind, kind) << name;
  }
}

TEST(ImapCommand, SearchStringKeys) {
  const std::pair<const char*, S> keys[] = {{"BCC", S::bcc},   {"BODY", S::body},       {"CC", S::cc},
                                            {"FROM", S::from}, {"SUBJECT", S::subject}, {"TEXT", S::text},
                                            {"TO", S::to}};
  for (const auto& [name, kind] : keys) {
    const auto c = ok(std::string("t SEARCH ") + name + " \"x y\"");
    ASSERT_EQ(c.search.children.size(), 1u) << name;
    EXPECT_EQ(c.search.children[0].kind, kind) << name;
    EXPECT_EQ(c.search.children[0].value, "x y") << name;
  }
  EXPECT_EQ(ok("t SEARCH CHARSET UTF-8 TEXT {5+}\r\n\xc3\xbc"
               "ber")
                .search.children[0]
                .value,
            "\xc3\xbc"
            "ber");
}

TEST(ImapCommand, SearchOrNotAndParentheses) {
  const auto c = ok("t SEARCH OR SEEN NOT FLAGGED (DELETED (FROM x TO y)) NOT (ANSWERED)");
  ASSERT_EQ(c.search.children.size(), 3u);
  const auto& o = c.search.children[0];
  EXPECT_EQ(o.kind, S::or_);
  ASSERT_EQ(o.children.size(), 2u);
  EXPECT_EQ(o.children[0].kind, S::seen);
  EXPECT_EQ(o.children[1].kind, S::not_);
  ASSERT_EQ(o.children[1].children.size(), 1u);
  EXPECT_EQ(o.children[1].children[0].kind, S::flagged);
  const auto& p = c.search.children[1];
  EXPECT_EQ(p.kind, S::and_);
  ASSERT_EQ(p.children.size(), 2u);
  EXPECT_EQ(p.children[0].kind, S::deleted);
  EXPECT_EQ(p.children[1].kind, S::and_);
  EXPECT_EQ(p.children[1].children.size(), 2u);
  const auto& n = c.search.children[2];
  EXPECT_EQ(n.kind, S::not_);
  EXPECT_EQ(n.children[0].kind, S::and_);
  EXPECT_EQ(n.children[0].children[0].kind, S::answered);
}

TEST(ImapCommand, SearchDates) {
  const auto c =
      ok("t SEARCH SINCE 1-Feb-2026 BEFORE \"15-mar-2026\" ON 01-FEB-2026 SENTSINCE 1-Feb-2026 "
         "SENTBEFORE 15-Mar-2026 SENTON 1-Feb-2026");
  ASSERT_EQ(c.search.children.size(), 6u);
  const S kinds[] = {S::since, S::before, S::on, S::sent_since, S::sent_before, S::sent_on};
  const std::int64_t days[] = {20485, 20527, 20485, 20485, 20527, 20485};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(c.search.children[i].kind, kinds[i]) << i;
    EXPECT_EQ(c.search.children[i].date, days[i]) << i;
  }
  EXPECT_EQ(bad_text("t SEARCH SINCE 1-Foo-2026"), "expected a date like 1-Feb-2026");
  EXPECT_EQ(bad_text("t SEARCH SINCE 0-Feb-2026"), "expected a date like 1-Feb-2026");
  EXPECT_EQ(bad_text("t SEARCH SINCE 32-Feb-2026"), "expected a number");
  EXPECT_EQ(bad_text("t SEARCH SINCE 1/2/2026"), "expected a date like 1-Feb-2026");
  EXPECT_EQ(bad_text("t SEARCH SINCE \"1-Feb-2026"), "expected the end of the date");
  EXPECT_EQ(bad_text("t SEARCH SINCE"), "expected a space");
}

TEST(ImapCommand, SearchHeaderUidSizesSequenceKeyword) {
  const auto c =
      ok("t SEARCH HEADER Message-ID \"<a@b>\" HEADER X-Empty \"\" UID 1:5,9 LARGER 1000 SMALLER 5 2:* "
         "KEYWORD $Forwarded UNKEYWORD \\Seen MODSEQ 77");
  ASSERT_EQ(c.search.children.size(), 9u);
  EXPECT_EQ(c.search.children[0].kind, S::header);
  EXPECT_EQ(c.search.children[0].field, "MESSAGE-ID");
  EXPECT_EQ(c.search.children[0].value, "<a@b>");
  EXPECT_EQ(c.search.children[1].field, "X-EMPTY");
  EXPECT_EQ(c.search.children[1].value, "");
  EXPECT_EQ(c.search.children[2].kind, S::uid);
  EXPECT_EQ(ranges(c.search.children[2].set), (Ranges{{1, 5}, {9, 9}}));
  EXPECT_EQ(c.search.children[3].kind, S::larger);
  EXPECT_EQ(c.search.children[3].number, 1000u);
  EXPECT_EQ(c.search.children[4].kind, S::smaller);
  EXPECT_EQ(c.search.children[4].number, 5u);
  EXPECT_EQ(c.search.children[5].kind, S::sequence);
  EXPECT_EQ(ranges(c.search.children[5].set), (Ranges{{2, kStar}}));
  EXPECT_EQ(c.search.children[6].kind, S::keyword);
  EXPECT_EQ(c.search.children[6].value, "$Forwarded");
  EXPECT_EQ(c.search.children[7].kind, S::unkeyword);
  EXPECT_EQ(c.search.children[7].value, "\\Seen");
  EXPECT_EQ(c.search.children[8].kind, S::modseq);
  EXPECT_EQ(c.search.children[8].number, 77u);
}

TEST(ImapCommand, SearchCharsetAndReturn) {
  const auto c = ok("t SEARCH RETURN (MIN max) CHARSET utf-8 ALL");
  EXPECT_EQ(c.search_return, (std::vector<std::string>{"MIN", "MAX"}));
  EXPECT_EQ(c.charset, "UTF-8");
  EXPECT_EQ(c.search.children.size(), 1u);
  EXPECT_EQ(ok("t SEARCH RETURN () ALL").search_return, (std::vector<std::string>{"ALL"}));
  EXPECT_TRUE(ok("t SEARCH ALL").search_return.empty());
  EXPECT_EQ(ok("t SEARCH ALL").charset, "");
  // A key that begins like RETURN or CHARSET is still a key.
  EXPECT_EQ(ok("t SEARCH RECENT").search.children[0].kind, S::recent);
  EXPECT_EQ(ok("t SEARCH CC x").search.children[0].kind, S::cc);
}

TEST(ImapCommand, SearchErrors) {
  EXPECT_EQ(bad_text("t SEARCH"), "expected a space");
  EXPECT_EQ(bad_text("t SEARCH FOO"), "unknown search key FOO");
  EXPECT_EQ(bad_text("t SEARCH OR SEEN"), "expected a space");
  EXPECT_EQ(bad_text("t SEARCH NOT"), "expected a space");
  EXPECT_EQ(bad_text("t SEARCH (SEEN"), "expected the end of the search keys");
  EXPECT_EQ(bad_text("t SEARCH SEEN)"), "unexpected text after the arguments");
  EXPECT_EQ(bad_text("t SEARCH LARGER x"), "expected a number");
  EXPECT_EQ(bad_text("t SEARCH HEADER Subject"), "expected a space");
  EXPECT_EQ(bad_text("t SEARCH UID x"), "expected a number");
}

TEST(ImapCommand, SearchNestingIsBounded) {
  std::string nots = "t SEARCH ";
  for (int i = 0; i < 100; ++i) nots += "NOT ";
  EXPECT_EQ(bad_text(nots + "ALL"), "search keys nested too deeply");
  std::string parens = "t SEARCH " + std::string(100, '(') + "ALL" + std::string(100, ')');
  EXPECT_EQ(bad_text(parens), "search keys nested too deeply");
  std::string ors = "t SEARCH ";
  for (int i = 0; i < 100; ++i) ors += "OR ALL ";
  EXPECT_EQ(bad_text(ors + "ALL"), "search keys nested too deeply");
  std::string fine = "t SEARCH ";
  for (int i = 0; i < 30; ++i) fine += "NOT ";
  EXPECT_EQ(ok(fine + "ALL").search.children.size(), 1u);
}

// ---------------------------------------------------------------- COPY, MOVE, UID forms

TEST(ImapCommand, CopyAndMove) {
  const auto c = ok("t COPY 1:3,5 \"Archive 2026\"");
  EXPECT_EQ(c.name, "COPY");
  EXPECT_EQ(ranges(c.set), (Ranges{{1, 3}, {5, 5}}));
  EXPECT_EQ(c.mailbox, "Archive 2026");
  const auto m = ok("t MOVE * inbox");
  EXPECT_EQ(m.name, "MOVE");
  EXPECT_EQ(m.mailbox, "INBOX");
  EXPECT_EQ(bad_text("t COPY 1"), "expected a space");
  EXPECT_EQ(bad_text("t MOVE INBOX 1"), "expected a number");
}

TEST(ImapCommand, UidForms) {
  const auto f = ok("t uid fetch 10:* (FLAGS)");
  EXPECT_TRUE(f.uid);
  EXPECT_EQ(f.name, "FETCH");
  EXPECT_EQ(ranges(f.set), (Ranges{{10, kStar}}));
  const auto s = ok("t UID STORE 4 +FLAGS (\\Seen)");
  EXPECT_TRUE(s.uid);
  EXPECT_EQ(s.name, "STORE");
  const auto c = ok("t UID COPY 4 Trash");
  EXPECT_TRUE(c.uid);
  EXPECT_EQ(c.name, "COPY");
  EXPECT_EQ(c.mailbox, "Trash");
  const auto m = ok("t UID MOVE 4:5 Trash");
  EXPECT_TRUE(m.uid);
  EXPECT_EQ(m.name, "MOVE");
  const auto q = ok("t UID SEARCH UID 3:*");
  EXPECT_TRUE(q.uid);
  EXPECT_EQ(q.name, "SEARCH");
  const auto e = ok("t UID EXPUNGE 3:4,7");
  EXPECT_TRUE(e.uid);
  EXPECT_EQ(e.name, "EXPUNGE");
  EXPECT_EQ(ranges(e.set), (Ranges{{3, 4}, {7, 7}}));
}

TEST(ImapCommand, UidErrors) {
  EXPECT_EQ(bad_text("t UID"), "expected a space");
  EXPECT_EQ(bad_text("t UID NOOP"), "UID NOOP is not a command");
  EXPECT_EQ(bad_text("t UID SELECT INBOX"), "UID SELECT is not a command");
  EXPECT_EQ(bad_text("t UID EXPUNGE"), "expected a space");
  EXPECT_EQ(bad_text("t UID EXPUNGE 1 2"), "unexpected text after the arguments");
}

TEST(ImapCommand, Compress) {
  const auto c = ok("t COMPRESS deflate");
  EXPECT_EQ(c.name, "COMPRESS");
  EXPECT_EQ(c.atoms, (std::vector<std::string>{"DEFLATE"}));
}

}  // namespace
}  // namespace poshta::imap
