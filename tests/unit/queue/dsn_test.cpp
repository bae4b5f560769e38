// queue/dsn: bounces and delivery reports. Each report is parsed back with
// plain string handling: its header, the multipart/report structure, the
// message/delivery-status fields, and what is returned of the original.
// report_wanted is checked against the NOTIFY bits as the SMTP parser stores them.
#include "queue/dsn.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mime/header.hpp"
#include "smtp/command.hpp"

namespace poshta::queue {
namespace {

using Action = DsnRecipient::Action;

constexpr std::int64_t kArrived = 1'795'000'000;  // Wed, 18 Nov 2026 11:06:40 +0000
constexpr std::int64_t kNow = 1'795'086'400;      // one day later

const std::string kOriginal =
    "Received: from client.example (client.example [192.0.2.7])\r\n"
    "\tby mx.example.org (Poshta) with ESMTP id 19c0e3b2a4f10001\r\n"
    "From: Alice <alice@client.example>\r\n"
    "To: bob@remote.example\r\n"
    "Subject: Lunch\r\n"
    "Message-ID: <lunch.1@client.example>\r\n"
    "\r\n"
    "Shall we meet at noon?\r\n"
    "BODY-MARKER-LINE\r\n";

Envelope make_envelope() {
  Envelope e;
  e.id = "19c0e3b2a4f10001";
  e.arrived = kArrived;
  e.sender = "alice@client.example";
  EnvelopeRecipient r;
  r.address = "bob@remote.example";
  r.state = RecipientState::failed;
  e.recipients.push_back(r);
  return e;
}

DsnRecipient failed_bob() {
  DsnRecipient r;
  r.address = "bob@remote.example";
  r.action = Action::failed;
  r.status = "5.1.1";
  r.remote_mta = "mx.remote.example";
  r.diagnostic = "550 5.1.1 <bob@remote.example>: no such user";
  r.last_attempt = kNow - 60;
  return r;
}

DsnInput make_input(const Envelope& env, std::string_view content = kOriginal) {
  DsnInput in;
  in.reporting_mta = "mx.example.org";
  in.postmaster = "MAILER-DAEMON@mx.example.org";
  in.original = &env;
  in.content = content;
  in.recipients.push_back(failed_bob());
  in.now = kNow;
  in.message_id = "19c0e3b2a4f10002.dsn@mx.example.org";
  return in;
}

std::vector<std::string> lines_of(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto end = s.find("\r\n");
    out.emplace_back(s.substr(0, end));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 2);
  }
  return out;
}

std::size_t count(std::string_view haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string_view::npos; pos = haystack.find(needle, pos + 1)) ++n;
  return n;
}

// What every report must be: CRLF only, ending in CRLF, lines <= 998 octets.
void expect_well_formed(const std::string& msg) {
  ASSERT_GE(msg.size(), 2u);
  EXPECT_EQ(msg.substr(msg.size() - 2), "\r\n");
  for (std::size_t i = 0; i < msg.size(); ++i) {
    if (msg[i] == '\r') {
      ASSERT_TRUE(i + 1 < msg.size() && msg[i + 1] == '\n') << "bare CR at " << i;
    } else if (msg[i] == '\n') {
      ASSERT_TRUE(i > 0 && msg[i - 1] == '\r') << "bare LF at " << i;
    }
  }
  for (const auto& line : lines_of(msg)) EXPECT_LE(line.size(), 998u) << line.substr(0, 60);
}

// The human-readable text with its lines joined, for phrases that may wrap.
std::string unwrapped(std::string_view text) {
  std::string out;
  for (const auto& line : lines_of(text)) {
    const auto start = line.find_first_not_of(' ');
    if (start == std::string::npos) continue;
    if (!out.empty()) out += ' ';
    out += line.substr(start);
  }
  return out;
}

bool is_7bit(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) > 127; });
}

// The unfolded value of the first field `name` in a header block, if any.
std::optional<std::string> field(std::string_view block, std::string_view name) {
  mime::HeaderReader reader(block);
  while (auto f = reader.next()) {
    if (f->name.size() != name.size() || !std::equal(name.begin(), name.end(), f->name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      continue;
    }
    std::string v;
    for (char c : f->value) {
      if (c != '\r' && c != '\n') v += c;
    }
    const auto start = v.find_first_not_of(' ');
    return start == std::string::npos ? std::string() : v.substr(start);
  }
  return std::nullopt;
}

struct Part {
  std::string header;  // with its CRLFs, without the empty line
  std::string body;
};

struct Report {
  std::string header;
  std::string boundary;
  std::vector<Part> parts;
  bool closed = false;  // the close-delimiter was seen
};

Report parse(const std::string& msg) {
  Report r;
  const auto end = msg.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  r.header = msg.substr(0, end + 2);
  const auto ct = field(r.header, "Content-Type").value_or("");
  const auto b = ct.find("boundary=\"");
  if (b == std::string::npos) return r;
  r.boundary = ct.substr(b + 10, ct.find('"', b + 10) - b - 10);
  const std::string delimiter = "--" + r.boundary;
  std::optional<std::string> current;
  for (const auto& line : lines_of(std::string_view(msg).substr(end + 4))) {
    if (line == delimiter || line == delimiter + "--") {
      if (current) {
        const auto split = current->find("\r\n\r\n");
        const auto header_end = split == std::string::npos ? current->size() : split + 2;
        r.parts.push_back(
            {current->substr(0, header_end), split == std::string::npos ? std::string() : current->substr(split + 4)});
      }
      current = std::string();
      if (line != delimiter) {
        r.closed = true;
        break;
      }
      continue;
    }
    if (current) *current += line + "\r\n";
  }
  return r;
}

// message/delivery-status blocks: the per-message fields, then one block per recipient.
std::vector<std::string> status_blocks(const std::string& body) {
  std::vector<std::string> out;
  std::string_view s = body;
  while (!s.empty()) {
    const auto end = s.find("\r\n\r\n");
    out.emplace_back(s.substr(0, end == std::string_view::npos ? s.size() : end + 2));
    if (end == std::string_view::npos) break;
    s.remove_prefix(end + 4);
  }
  return out;
}

Report build_and_parse(const DsnInput& in, std::string* raw = nullptr) {
  const std::string msg = build_dsn(in);
  expect_well_formed(msg);
  if (raw) *raw = msg;
  return parse(msg);
}

TEST(DsnBuild, TopLevelHeader) {
  const Envelope env = make_envelope();
  const Report r = build_and_parse(make_input(env));
  EXPECT_EQ(field(r.header, "From"), "Mail Delivery System <MAILER-DAEMON@mx.example.org>");
  EXPECT_EQ(field(r.header, "To"), "<alice@client.example>");
  EXPECT_EQ(field(r.header, "Subject"), "Undelivered Mail Returned to Sender");
  EXPECT_EQ(field(r.header, "Date"), "Thu, 19 Nov 2026 11:06:40 +0000");
  EXPECT_EQ(field(r.header, "Message-ID"), "<19c0e3b2a4f10002.dsn@mx.example.org>");
  EXPECT_EQ(field(r.header, "MIME-Version"), "1.0");
  EXPECT_EQ(field(r.header, "Auto-Submitted"), "auto-replied");
  const auto ct = field(r.header, "Content-Type").value_or("");
  EXPECT_EQ(ct.rfind("multipart/report; report-type=delivery-status;", 0), 0u) << ct;
  EXPECT_EQ(mime::count_fields(r.header, "Date"), 1u);
  EXPECT_EQ(mime::count_fields(r.header, "Message-ID"), 1u);
}

TEST(DsnBuild, BoundaryAppearsOnlyAsDelimiterLines) {
  const Envelope env = make_envelope();
  std::string raw;
  const Report r = build_and_parse(make_input(env), &raw);
  ASSERT_FALSE(r.boundary.empty());
  EXPECT_LE(r.boundary.size(), 70u);
  EXPECT_TRUE(r.closed);
  ASSERT_EQ(r.parts.size(), 3u);
  // Once in the Content-Type parameter, three delimiters and the close-delimiter.
  EXPECT_EQ(count(raw, r.boundary), 5u);
  std::size_t delimiter_lines = 0;
  for (const auto& line : lines_of(raw)) {
    if (line.find(r.boundary) == std::string::npos) continue;
    if (line == "--" + r.boundary || line == "--" + r.boundary + "--") ++delimiter_lines;
  }
  EXPECT_EQ(delimiter_lines, 4u);
  EXPECT_EQ(raw.substr(raw.size() - r.boundary.size() - 6), "--" + r.boundary + "--\r\n");
}

TEST(DsnBuild, PartsAreTextStatusAndOriginal) {
  const Envelope env = make_envelope();
  const Report r = build_and_parse(make_input(env));
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(field(r.parts[0].header, "Content-Type"), "text/plain; charset=us-ascii");
  EXPECT_EQ(field(r.parts[1].header, "Content-Type"), "message/delivery-status");
  EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "message/rfc822");
}

TEST(DsnBuild, HumanReadablePartNamesEachRecipientAndReason) {
  const Envelope env = make_envelope();
  DsnInput in = make_input(env);
  DsnRecipient local;
  local.address = "carol@example.org";
  local.action = Action::failed;
  local.status = "5.2.2";
  local.diagnostic = "552 5.2.2 mailbox full";
  in.recipients.push_back(local);
  const Report r = build_and_parse(in);
  ASSERT_EQ(r.parts.size(), 3u);
  const std::string text = unwrapped(r.parts[0].body);
  EXPECT_NE(text.find("Poshta at mx.example.org"), std::string::npos) << text;
  EXPECT_NE(text.find("<bob@remote.example>: bad destination mailbox address (5.1.1)"), std::string::npos) << text;
  EXPECT_NE(text.find("mx.remote.example said: 550 5.1.1 <bob@remote.example>: no such user"), std::string::npos)
      << text;
  EXPECT_NE(text.find("<carol@example.org>: mailbox full (5.2.2)"), std::string::npos) << text;
  for (const auto& line : lines_of(r.parts[0].body)) EXPECT_LE(line.size(), 78u) << line;
}

TEST(DsnBuild, PerMessageFieldsInGrammarOrder) {
  Envelope env = make_envelope();
  env.envid = "QQ+2B314";  // xtext of "QQ+314"
  const Report r = build_and_parse(make_input(env));
  ASSERT_EQ(r.parts.size(), 3u);
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  const std::string& m = blocks[0];
  EXPECT_EQ(field(m, "Original-Envelope-Id"), "QQ+314");
  EXPECT_EQ(field(m, "Reporting-MTA"), "dns; mx.example.org");
  EXPECT_EQ(field(m, "Arrival-Date"), "Wed, 18 Nov 2026 11:06:40 +0000");
  EXPECT_EQ(field(m, "X-Poshta-Queue-ID"), "19c0e3b2a4f10001");
  EXPECT_LT(m.find("Original-Envelope-Id:"), m.find("Reporting-MTA:"));
  EXPECT_LT(m.find("Reporting-MTA:"), m.find("Arrival-Date:"));
  EXPECT_FALSE(field(m, "Final-Recipient"));
}

TEST(DsnBuild, NoEnvelopeIdWithoutEnvid) {
  const Envelope env = make_envelope();
  const Report r = build_and_parse(make_input(env));
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(r.parts[1].body.find("Original-Envelope-Id"), std::string::npos);
}

TEST(DsnBuild, PerRecipientGroups) {
  const Envelope env = make_envelope();
  DsnInput in = make_input(env);
  DsnRecipient second;
  second.address = "dave@example.org";
  second.action = Action::failed;
  second.status = "5.2.1";
  in.recipients.push_back(second);
  const Report r = build_and_parse(in);
  ASSERT_EQ(r.parts.size(), 3u);
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 3u);

  const std::string& bob = blocks[1];
  EXPECT_EQ(field(bob, "Final-Recipient"), "rfc822; bob@remote.example");
  EXPECT_EQ(field(bob, "Action"), "failed");
  EXPECT_EQ(field(bob, "Status"), "5.1.1");
  EXPECT_EQ(field(bob, "Remote-MTA"), "dns; mx.remote.example");
  EXPECT_EQ(field(bob, "Diagnostic-Code"), "smtp; 550 5.1.1 <bob@remote.example>: no such user");
  EXPECT_EQ(field(bob, "Last-Attempt-Date"), "Thu, 19 Nov 2026 11:05:40 +0000");
  EXPECT_FALSE(field(bob, "Original-Recipient"));
  EXPECT_FALSE(field(bob, "Will-Retry-Until"));
  EXPECT_LT(bob.find("Final-Recipient:"), bob.find("Action:"));
  EXPECT_LT(bob.find("Action:"), bob.find("Status:"));

  const std::string& dave = blocks[2];
  EXPECT_EQ(field(dave, "Final-Recipient"), "rfc822; dave@example.org");
  EXPECT_EQ(field(dave, "Status"), "5.2.1");
  EXPECT_FALSE(field(dave, "Remote-MTA"));  // local delivery
  EXPECT_FALSE(field(dave, "Diagnostic-Code"));
  EXPECT_FALSE(field(dave, "Last-Attempt-Date"));
}

TEST(DsnBuild, OriginalRecipientFromOrcptDecoded) {
  const Envelope env = make_envelope();
  DsnInput in = make_input(env);
  in.recipients[0].orcpt = "rfc822;Bob+2Btag@Remote.example";
  const Report r = build_and_parse(in);
  ASSERT_EQ(r.parts.size(), 3u);
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(field(blocks[1], "Original-Recipient"), "rfc822; Bob+tag@Remote.example");
  EXPECT_LT(blocks[1].find("Original-Recipient:"), blocks[1].find("Final-Recipient:"));
  EXPECT_NE(unwrapped(r.parts[0].body).find("(originally addressed to <Bob+tag@Remote.example>)"), std::string::npos);
}

TEST(DsnBuild, StatusDerivedWhenMissingOrMalformed) {
  const Envelope env = make_envelope();
  struct Case {
    std::string status, diagnostic;
    Action action;
    std::string want;
  };
  const Case cases[] = {
      {"", "550 5.7.1 relaying denied", Action::failed, "5.7.1"},
      {"5.1", "550-5.1.1 first line", Action::failed, "5.1.1"},
      {"", "451 try again later", Action::failed, "4.0.0"},  // expired after temporary failures
      {"", "550 4.1.1 mismatched class", Action::failed, "5.0.0"},
      {"", "", Action::failed, "5.0.0"},
      {"", "", Action::delayed, "4.0.0"},
      {"", "", Action::delivered, "2.0.0"},
      {"x.y.z", "mailbox is locked", Action::delayed, "4.0.0"},
  };
  for (const auto& c : cases) {
    DsnInput in = make_input(env);
    in.recipients[0].status = c.status;
    in.recipients[0].diagnostic = c.diagnostic;
    in.recipients[0].action = c.action;
    const Report r = build_and_parse(in);
    ASSERT_EQ(r.parts.size(), 3u);
    const auto blocks = status_blocks(r.parts[1].body);
    ASSERT_EQ(blocks.size(), 2u);
    EXPECT_EQ(field(blocks[1], "Status"), c.want) << c.status << " / " << c.diagnostic;
  }
}

TEST(DsnBuild, DiagnosticTypeIsSmtpOnlyForReplies) {
  const Envelope env = make_envelope();
  DsnInput in = make_input(env);
  in.recipients[0].diagnostic = "mailbox directory is not writable";
  in.recipients[0].remote_mta.clear();
  const Report r = build_and_parse(in);
  ASSERT_EQ(r.parts.size(), 3u);
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(field(blocks[1], "Diagnostic-Code"), "X-Poshta; mailbox directory is not writable");
}

TEST(DsnBuild, RetHdrsReturnsTheHeaderOnly) {
  Envelope env = make_envelope();
  env.ret = "HDRS";
  const Report r = build_and_parse(make_input(env));
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "text/rfc822-headers");
  const std::string& h = r.parts[2].body;
  EXPECT_NE(h.find("Subject: Lunch\r\n"), std::string::npos);
  EXPECT_NE(h.find("\tby mx.example.org (Poshta)"), std::string::npos);  // folded field kept whole
  EXPECT_EQ(h.find("BODY-MARKER-LINE"), std::string::npos);
  EXPECT_EQ(h.find("noon"), std::string::npos);
  EXPECT_EQ(h.find("\r\n\r\n"), std::string::npos);
  EXPECT_NE(unwrapped(r.parts[0].body).find("then the header of your message."), std::string::npos);
}

TEST(DsnBuild, RetFullReturnsTheWholeMessage) {
  Envelope env = make_envelope();
  env.ret = "FULL";
  const Report r = build_and_parse(make_input(env));
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "message/rfc822");
  EXPECT_EQ(r.parts[2].body, kOriginal);
  EXPECT_NE(unwrapped(r.parts[0].body).find("then your message."), std::string::npos);
}

TEST(DsnBuild, WithoutRetASmallMessageIsReturnedWhole) {
  const Envelope env = make_envelope();
  const Report r = build_and_parse(make_input(env));
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "message/rfc822");
  EXPECT_NE(r.parts[2].body.find("BODY-MARKER-LINE"), std::string::npos);
}

TEST(DsnBuild, ContentBeyondFullLimitReturnsTheHeaderOnly) {
  for (const char* ret : {"", "FULL"}) {
    Envelope env = make_envelope();
    env.ret = ret;
    std::string big = kOriginal;
    while (big.size() <= 70000) big += "filler line of the body, long enough to grow the message quickly\r\n";
    DsnInput in = make_input(env, big);
    in.full_limit = 65536;
    const Report r = build_and_parse(in);
    ASSERT_EQ(r.parts.size(), 3u);
    EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "text/rfc822-headers") << ret;
    EXPECT_EQ(r.parts[2].body.find("filler"), std::string::npos) << ret;
    EXPECT_NE(r.parts[2].body.find("Message-ID: <lunch.1@client.example>"), std::string::npos) << ret;
  }
}

TEST(DsnBuild, ReportsWithoutFailureReturnTheHeaderOnly) {
  Envelope env = make_envelope();
  env.ret = "FULL";
  DsnInput in = make_input(env);
  in.recipients[0].action = Action::delivered;
  in.recipients[0].status = "2.0.0";
  in.recipients[0].diagnostic = "250 2.0.0 Ok: queued as 4Xyz";
  const Report r = build_and_parse(in);
  EXPECT_EQ(field(r.header, "Subject"), "Successful Mail Delivery Report");
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "text/rfc822-headers");
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(field(blocks[1], "Action"), "delivered");
  EXPECT_EQ(field(blocks[1], "Status"), "2.0.0");
}

TEST(DsnBuild, SubjectFollowsTheActions) {
  const Envelope env = make_envelope();
  const auto subject = [&](std::vector<Action> actions) {
    DsnInput in = make_input(env);
    in.recipients.clear();
    for (const Action a : actions) {
      DsnRecipient r = failed_bob();
      r.action = a;
      r.status.clear();
      in.recipients.push_back(r);
    }
    return field(parse(build_dsn(in)).header, "Subject").value_or("");
  };
  EXPECT_EQ(subject({Action::failed}), "Undelivered Mail Returned to Sender");
  EXPECT_EQ(subject({Action::delivered, Action::failed}), "Undelivered Mail Returned to Sender");
  EXPECT_EQ(subject({Action::delayed}), "Delayed Mail (still being retried)");
  EXPECT_EQ(subject({Action::delayed, Action::delivered}), "Delayed Mail (still being retried)");
  EXPECT_EQ(subject({Action::delivered}), "Successful Mail Delivery Report");
  EXPECT_EQ(subject({Action::relayed, Action::delivered}), "Successful Mail Delivery Report");
}

TEST(DsnBuild, DelayedReportCarriesWillRetryUntil) {
  const Envelope env = make_envelope();
  DsnInput in = make_input(env);
  in.recipients[0].action = Action::delayed;
  in.recipients[0].status = "4.4.1";
  in.recipients[0].diagnostic = "421 4.4.1 connection timed out";
  in.recipients[0].will_retry_until = kArrived + 5 * 86400;
  const Report r = build_and_parse(in);
  ASSERT_EQ(r.parts.size(), 3u);
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(field(blocks[1], "Action"), "delayed");
  EXPECT_EQ(field(blocks[1], "Will-Retry-Until"), "Mon, 23 Nov 2026 11:06:40 +0000");
  EXPECT_LT(blocks[1].find("Last-Attempt-Date:"), blocks[1].find("Will-Retry-Until:"));
}

TEST(DsnBuild, BoundaryAvoidsTheContent) {
  const Envelope env = make_envelope();
  const std::string first = parse(build_dsn(make_input(env))).boundary;
  ASSERT_FALSE(first.empty());
  const std::string content = kOriginal + "--" + first + "\r\n" + first + "--\r\n";
  std::string raw;
  const Report r = build_and_parse(make_input(env, content), &raw);
  EXPECT_NE(r.boundary, first);
  EXPECT_LE(r.boundary.size(), 70u);
  EXPECT_EQ(content.find(r.boundary), std::string::npos);
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(r.parts[2].body, content);
  EXPECT_TRUE(r.closed);
}

TEST(DsnBuild, BareLineEndsOfTheOriginalBecomeCrlf) {
  const Envelope env = make_envelope();
  const std::string content = "From: a@client.example\nSubject: bare\r\n\nline one\nline two\rline three";
  const Report r = build_and_parse(make_input(env, content));  // expect_well_formed: no bare CR or LF
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(r.parts[2].body, "From: a@client.example\r\nSubject: bare\r\n\r\nline one\r\nline two\r\nline three\r\n");
}

TEST(DsnBuild, LongDiagnosticIsFoldedAtWhiteSpace) {
  const Envelope env = make_envelope();
  DsnInput in = make_input(env);
  std::string diagnostic = "550 5.7.1";
  while (diagnostic.size() < 3000) diagnostic += " policy-words";
  diagnostic += " " + std::string(1500, 'x');  // no white space to fold at
  in.recipients[0].diagnostic = diagnostic;
  std::string raw;
  const Report r = build_and_parse(in, &raw);
  ASSERT_EQ(r.parts.size(), 3u);
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  const auto code = field(blocks[1], "Diagnostic-Code");
  ASSERT_TRUE(code);
  // Unfolded, only the cut through the long run adds a space.
  std::string without_spaces, want_without_spaces;
  for (char c : *code) {
    if (c != ' ') without_spaces += c;
  }
  for (char c : "smtp; " + diagnostic) {
    if (c != ' ') want_without_spaces += c;
  }
  EXPECT_EQ(without_spaces, want_without_spaces);
  EXPECT_EQ(code->rfind("smtp; 550 5.7.1 policy-words policy-words", 0), 0u);
  EXPECT_EQ(field(blocks[1], "Status"), "5.1.1");  // the fields after it are intact
}

TEST(DsnBuild, LineBreaksInTheDiagnosticCannotAddFields) {
  const Envelope env = make_envelope();
  DsnInput in = make_input(env);
  in.recipients[0].diagnostic =
      "550-5.1.1 first\r\nX-Injected: yes\r\n\r\nFinal-Recipient: rfc822; evil@x\n550 5.1.1 end";
  std::string raw;
  const Report r = build_and_parse(in, &raw);
  for (const auto& line : lines_of(raw)) {
    EXPECT_NE(line.rfind("X-Injected", 0), 0u) << line;
    EXPECT_NE(line, "Final-Recipient: rfc822; evil@x");
  }
  ASSERT_EQ(r.parts.size(), 3u);
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(field(blocks[1], "Diagnostic-Code"),
            "smtp; 550-5.1.1 first X-Injected: yes Final-Recipient: rfc822; evil@x 550 5.1.1 end");
}

TEST(DsnBuild, EightBitOriginalIsReturnedWholeOnlyWhenSentAsEightBit) {
  const std::string content = "From: a@client.example\r\nSubject: caf\xc3\xa9\r\n\r\nna\xc3\xafve body\r\n";
  {
    const Envelope env = make_envelope();  // neither BODY=8BITMIME nor SMTPUTF8
    std::string raw;
    const Report r = build_and_parse(make_input(env, content), &raw);
    ASSERT_EQ(r.parts.size(), 3u);
    EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "text/rfc822-headers");
    EXPECT_EQ(field(r.parts[2].header, "Content-Transfer-Encoding"), "quoted-printable");
    EXPECT_NE(r.parts[2].body.find("Subject: caf=C3=A9"), std::string::npos) << r.parts[2].body;
    EXPECT_TRUE(is_7bit(raw));
    EXPECT_EQ(field(r.header, "Content-Transfer-Encoding"), "7bit");
  }
  {
    Envelope env = make_envelope();
    env.body = "8BITMIME";
    std::string raw;
    const Report r = build_and_parse(make_input(env, content), &raw);
    ASSERT_EQ(r.parts.size(), 3u);
    EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "message/rfc822");
    EXPECT_EQ(field(r.parts[2].header, "Content-Transfer-Encoding"), "8bit");
    EXPECT_EQ(r.parts[2].body, content);
    EXPECT_EQ(field(r.header, "Content-Transfer-Encoding"), "8bit");
  }
}

TEST(DsnBuild, OverlongLinesAreNotReturnedUnencoded) {
  const Envelope env = make_envelope();
  const std::string content =
      "From: a@client.example\r\nX-Long: " + std::string(1200, 'h') + "\r\n\r\n" + std::string(1500, 'b') + "\r\n";
  const Report r = build_and_parse(make_input(env, content));  // expect_well_formed: lines <= 998
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(field(r.parts[2].header, "Content-Type"), "text/rfc822-headers");
  EXPECT_EQ(field(r.parts[2].header, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(r.parts[2].body.find("bbbb"), std::string::npos);
}

TEST(DsnBuild, Utf8RecipientOfSmtputf8MessageGivesGlobalReport) {
  Envelope env = make_envelope();
  env.smtputf8 = true;
  DsnInput in = make_input(env);
  in.recipients[0].address = "j\xc3\xb6rg@example.org";
  in.recipients[0].remote_mta.clear();
  in.recipients[0].diagnostic = "550 5.1.1 unknown";
  std::string raw;
  const Report r = build_and_parse(in, &raw);
  const auto ct = field(r.header, "Content-Type").value_or("");
  EXPECT_EQ(ct.rfind("multipart/report; report-type=global-delivery-status;", 0), 0u) << ct;
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(field(r.parts[0].header, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(field(r.parts[1].header, "Content-Type"), "message/global-delivery-status");
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(field(blocks[1], "Final-Recipient"), "utf-8; j\xc3\xb6rg@example.org");
}

TEST(DsnBuild, Utf8RecipientWithoutSmtputf8IsEncoded) {
  const Envelope env = make_envelope();
  DsnInput in = make_input(env);
  in.recipients[0].address = "j\xc3\xb6rg+x@example.org";
  std::string raw;
  const Report r = build_and_parse(in, &raw);
  EXPECT_TRUE(is_7bit(raw));
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_EQ(field(r.parts[1].header, "Content-Type"), "message/delivery-status");
  const auto blocks = status_blocks(r.parts[1].body);
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(field(blocks[1], "Final-Recipient"), "utf-8; j\\x{F6}rg\\x{2B}x@example.org");
}

TEST(DsnBuild, WorksWithoutEnvelopeOrMessageId) {
  DsnInput in;
  in.reporting_mta = "mx.example.org";
  in.content = kOriginal;
  in.recipients.push_back(failed_bob());
  in.now = kNow;
  const Report r = build_and_parse(in);
  EXPECT_FALSE(field(r.header, "To"));
  EXPECT_EQ(field(r.header, "From"), "Mail Delivery System <MAILER-DAEMON@mx.example.org>");
  const auto id = field(r.header, "Message-ID").value_or("");
  EXPECT_TRUE(id.size() > 2 && id.front() == '<' && id.back() == '>' && id.find('@') != std::string::npos) << id;
  ASSERT_EQ(r.parts.size(), 3u);
  EXPECT_FALSE(field(status_blocks(r.parts[1].body)[0], "Arrival-Date"));
}

// --- report_wanted ---

TEST(DsnReportWanted, NotifyNotGivenReportsFailuresAndDelaysOnly) {
  EXPECT_TRUE(report_wanted(0, DsnRecipient::Action::failed));
  EXPECT_TRUE(report_wanted(0, DsnRecipient::Action::delayed));
  EXPECT_FALSE(report_wanted(0, DsnRecipient::Action::delivered));
  EXPECT_FALSE(report_wanted(0, DsnRecipient::Action::relayed));
}

TEST(DsnReportWanted, NeverReportsNothing) {
  for (const auto a : {DsnRecipient::Action::failed, DsnRecipient::Action::delayed, DsnRecipient::Action::delivered,
                       DsnRecipient::Action::relayed, DsnRecipient::Action::expanded}) {
    EXPECT_FALSE(report_wanted(smtp::notify::never, a));
  }
}

TEST(DsnReportWanted, AListReportsWhatItNames) {
  using A = DsnRecipient::Action;
  EXPECT_TRUE(report_wanted(smtp::notify::failure, A::failed));
  EXPECT_FALSE(report_wanted(smtp::notify::failure, A::delivered));
  EXPECT_FALSE(report_wanted(smtp::notify::failure, A::delayed));
  EXPECT_FALSE(report_wanted(smtp::notify::success, A::failed));
  EXPECT_TRUE(report_wanted(smtp::notify::success, A::delivered));
  EXPECT_TRUE(report_wanted(smtp::notify::success, A::relayed));
  EXPECT_TRUE(report_wanted(smtp::notify::success | smtp::notify::failure, A::failed));
  EXPECT_TRUE(report_wanted(smtp::notify::delay, A::delayed));
}

}  // namespace
}  // namespace poshta::queue
