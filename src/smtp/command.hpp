// SMTP command grammar (RFC 5321 §4.1 with the ESMTP parameters Poshta
// offers): splitting a command line into verb and arguments, the verb table
// that HELP is generated from, and the parsers for MAIL/RCPT/BDAT arguments.
// Stateless: the session decides what a parsed command means now.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/notify.hpp"
#include "smtp/reply.hpp"

namespace poshta::smtp {

enum class Verb : std::uint8_t {
  helo,
  ehlo,
  lhlo,
  mail,
  rcpt,
  data,
  bdat,
  rset,
  send,
  soml,
  saml,
  vrfy,
  expn,
  help,
  noop,
  quit,
  starttls,
  auth,
  unknown,
};

struct VerbInfo {
  Verb verb;
  std::string_view name;
  std::string_view syntax;  // what HELP <verb> shows
};

// Every verb the server knows, in the order HELP lists them.
std::span<const VerbInfo> verbs();
const VerbInfo* find_verb(std::string_view name);  // case-insensitive

struct CommandLine {
  Verb verb = Verb::unknown;
  std::string_view name;  // as sent
  std::string_view args;  // after the first space; may be empty
};
CommandLine split_command(std::string_view line);

// Verbs of other protocols that mark a cross-protocol attack (an HTTP
// request sent to the SMTP port): the connection is dropped at once.
bool is_http_verb(std::string_view name);

enum class BodyType : std::uint8_t { unspecified, seven_bit, eight_bit_mime };
enum class Ret : std::uint8_t { unspecified, full, hdrs };

struct MailArgs {
  std::string address;                    // empty for the null reverse-path <>
  std::optional<std::uint64_t> size;      // RFC 1870
  BodyType body = BodyType::unspecified;  // RFC 6152
  bool smtputf8 = false;                  // RFC 6531
  Ret ret = Ret::unspecified;             // RFC 3461 §4.3
  std::string envid;                      // RFC 3461 §4.4, still xtext-encoded
};

namespace notify = core::notify;  // RFC 3461 §4.1 NOTIFY, as bits

struct RcptArgs {
  std::string address;
  std::uint8_t notify = 0;  // 0: not given
  std::string orcpt;        // "rfc822;user@example.org", still xtext-encoded
};

// Parse "FROM:<path> params" / "TO:<path> params". On error return the reply.
std::optional<Reply> parse_mail_args(std::string_view args, MailArgs& out);
std::optional<Reply> parse_rcpt_args(std::string_view args, bool smtputf8, RcptArgs& out);
// "size [LAST]" of RFC 3030 §2.
std::optional<Reply> parse_bdat_args(std::string_view args, std::uint64_t& size, bool& last);

// Mailbox syntax of RFC 5321 §4.1.2 (with RFC 6531 UTF-8 when `utf8`).
bool is_valid_mailbox(std::string_view mailbox, bool utf8);
bool is_valid_xtext(std::string_view s);

}  // namespace poshta::smtp
