#include "queue/dsn.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "core/address.hpp"
#include "core/notify.hpp"
#include "mime/date.hpp"
#include "mime/header.hpp"

namespace poshta::queue {

namespace {

constexpr std::size_t kMaxLine = 998;   // RFC 5322 §2.1.1, octets before the CRLF
constexpr std::size_t kTextWidth = 76;  // lines of the human-readable part
constexpr std::size_t kMaxWord = 900;   // longer words of that part are cut

using Action = DsnRecipient::Action;

const char* action_name(Action a) {
  switch (a) {
    case Action::failed: return "failed";
    case Action::delayed: return "delayed";
    case Action::delivered: return "delivered";
    case Action::relayed: return "relayed";
    case Action::expanded: return "expanded";
  }
  return "failed";
}

bool has_8bit(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) > 127) return true;
  }
  return false;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Text for one header field line: line ends, tabs and runs of white space
// become one space, other control octets '?', octets above 127 too unless
// `allow_8bit`; no white space at either end.
std::string one_line(std::string_view s, bool allow_8bit) {
  std::string out;
  out.reserve(s.size());
  bool space = false;
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += (u < 0x20 || u == 0x7f || (u > 0x7f && !allow_8bit)) ? '?' : c;
  }
  return out;
}

// RFC 3461 §4 xtext: "+XX" stands for the octet XX. A '+' without two hex
// digits stays as it is.
std::string xtext_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 6533 §3 utf-8-addr-xtext: a UTF-8 address in ASCII, every non-ASCII
// character (and, with `specials`, every ASCII one that may not stand for
// itself: controls, space, '+', '=', '\') as \x{HEX}. Octets that are not
// UTF-8 become U+FFFD.
std::string utf8_addr_xtext(std::string_view s, bool specials) {
  std::string out;
  out.reserve(s.size() + 16);
  char buf[16];
  for (std::size_t i = 0; i < s.size();) {
    const auto u = static_cast<unsigned char>(s[i]);
    std::uint32_t cp = 0xfffd;
    std::size_t n = 1;
    if (u < 0x80) {
      cp = u;
    } else if (u >= 0xc2 && u <= 0xf4) {
      const std::size_t len = u < 0xe0 ? 2 : u < 0xf0 ? 3 : 4;
      std::uint32_t v = u & (len == 2 ? 0x1f : len == 3 ? 0x0f : 0x07);
      std::size_t k = 1;
      for (; k < len && i + k < s.size(); ++k) {
        const auto cont = static_cast<unsigned char>(s[i + k]);
        if ((cont & 0xc0) != 0x80) break;
        v = (v << 6) | (cont & 0x3f);
      }
      const bool overlong = (len == 3 && v < 0x800) || (len == 4 && v < 0x10000);
      if (k == len && !overlong && v <= 0x10ffff && !(v >= 0xd800 && v <= 0xdfff)) {
        cp = v;
        n = len;
      }
    }
    i += n;
    const bool plain = cp > 0x20 && cp < 0x7f && (!specials || (cp != '+' && cp != '=' && cp != '\\'));
    if (plain) {
      out += static_cast<char>(cp);
    } else {
      std::snprintf(buf, sizeof buf, cp < 0x100 ? "\\x{%02X}" : "\\x{%X}", static_cast<unsigned>(cp));
      out += buf;
    }
  }
  return out;
}

// RFC 3463 status-code: class "." subject "." detail, class 2, 4 or 5,
// subject and detail of 1 to 3 digits.
bool valid_status(std::string_view s) {
  if (s.size() < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.') return false;
  std::size_t i = 2;
  for (int part = 0; part < 2; ++part) {
    std::size_t digits = 0;
    while (i < s.size() && is_digit(s[i]) && digits < 4) ++i, ++digits;
    if (digits == 0 || digits > 3) return false;
    if (part == 0) {
      if (i >= s.size() || s[i] != '.') return false;
      ++i;
    }
  }
  return i == s.size();
}

// Whether `text` starts like an SMTP reply: a code 2xx-5xx, then the end,
// a space or a hyphen.
bool is_smtp_reply(std::string_view text) {
  return text.size() >= 3 && text[0] >= '2' && text[0] <= '5' && is_digit(text[1]) && is_digit(text[2]) &&
         (text.size() == 3 || text[3] == ' ' || text[3] == '-');
}

// The status to report: the given one if well-formed, else the enhanced
// code of the reply (RFC 2034: "550 5.1.1 ...", when of the reply's class),
// else the reply's class, else the action's.
std::string effective_status(const DsnRecipient& r) {
  if (valid_status(r.status)) return r.status;
  const std::string_view d = r.diagnostic;
  if (is_smtp_reply(d) && d[0] != '3') {
    if (d.size() > 4) {
      std::string_view code = d.substr(4);
      code = code.substr(0, code.find_first_of(" \t\r\n"));
      if (valid_status(code) && code[0] == d[0]) return std::string(code);
    }
    return std::string(1, d[0]) + ".0.0";
  }
  switch (r.action) {
    case Action::failed: return "5.0.0";
    case Action::delayed: return "4.0.0";
    default: return "2.0.0";
  }
}

// RFC 3463 §3: what a status code means, for people.
std::string status_text(std::string_view status) {
  struct Entry {
    const char* code;
    const char* text;
  };
  static constexpr Entry kDetails[] = {
      {"1.1", "bad destination mailbox address"},
      {"1.2", "bad destination system address"},
      {"1.3", "bad destination mailbox address syntax"},
      {"1.4", "destination mailbox address ambiguous"},
      {"1.5", "destination address valid"},
      {"1.6", "destination mailbox has moved, no forwarding address"},
      {"1.7", "bad sender's mailbox address syntax"},
      {"1.8", "bad sender's system address"},
      {"2.1", "mailbox disabled, not accepting messages"},
      {"2.2", "mailbox full"},
      {"2.3", "message length exceeds administrative limit"},
      {"2.4", "mailing list expansion problem"},
      {"3.1", "mail system full"},
      {"3.2", "system not accepting network messages"},
      {"3.3", "system not capable of selected features"},
      {"3.4", "message too big for system"},
      {"3.5", "system incorrectly configured"},
      {"4.1", "no answer from host"},
      {"4.2", "bad connection"},
      {"4.3", "directory server failure"},
      {"4.4", "unable to route"},
      {"4.5", "mail system congestion"},
      {"4.6", "routing loop detected"},
      {"4.7", "delivery time expired"},
      {"5.1", "invalid command"},
      {"5.2", "syntax error"},
      {"5.3", "too many recipients"},
      {"5.4", "invalid command arguments"},
      {"5.5", "wrong protocol version"},
      {"6.1", "media not supported"},
      {"6.2", "conversion required and prohibited"},
      {"6.3", "conversion required but not supported"},
      {"6.4", "conversion with loss performed"},
      {"6.5", "conversion failed"},
      {"7.1", "delivery not authorized, message refused"},
      {"7.2", "mailing list expansion prohibited"},
      {"7.3", "security conversion required but not possible"},
      {"7.4", "security features not supported"},
      {"7.5", "cryptographic failure"},
      {"7.6", "cryptographic algorithm not supported"},
      {"7.7", "message integrity failure"},
  };
  static constexpr const char* kSubjects[] = {"other or undefined status",
                                              "address problem",
                                              "mailbox problem",
                                              "mail system problem",
                                              "network or routing problem",
                                              "mail delivery protocol problem",
                                              "message content or media problem",
                                              "security or policy problem"};
  const std::string_view rest = status.substr(2);
  for (const auto& e : kDetails) {
    if (rest == e.code) return e.text;
  }
  const auto subject = rest.substr(0, rest.find('.'));
  if (subject.size() == 1 && subject[0] >= '1' && subject[0] <= '7') return kSubjects[subject[0] - '0'];
  if (status[0] == '2') return "success";
  return status[0] == '4' ? "temporary failure" : "permanent failure";
}

// "Name: value" and CRLF, folded before white space so that no line is
// longer than 998 octets; a longer run without white space is cut (a
// folding space is inserted). `value` is one_line() text.
void put_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out += ": ";
  std::size_t col = name.size() + 2;
  for (std::size_t i = 0; i < value.size();) {
    std::size_t j = i;
    while (j < value.size() && value[j] == ' ') ++j;
    while (j < value.size() && value[j] != ' ') ++j;
    std::string_view segment = value.substr(i, j - i);
    i = j;
    if (col + segment.size() > kMaxLine && segment.front() == ' ') {
      out += "\r\n";
      col = 0;
    }
    while (col + segment.size() > kMaxLine) {
      const std::size_t take = kMaxLine - col;
      out.append(segment.substr(0, take));
      out += "\r\n ";
      col = 1;
      segment.remove_prefix(take);
    }
    out.append(segment);
    col += segment.size();
  }
  out += "\r\n";
}

// `text` (one_line() text) as lines of at most kTextWidth columns where
// words allow, the first starting with `first`, the others with `rest`.
void put_wrapped(std::string& out, std::string_view first, std::string_view rest, std::string_view text) {
  std::string line(first);
  bool empty = true;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] == ' ') {
      ++i;
      continue;
    }
    std::size_t end = text.find(' ', i);
    if (end == std::string_view::npos) end = text.size();
    std::string_view word = text.substr(i, end - i);
    i = end;
    while (!word.empty()) {
      const std::string_view piece = word.substr(0, kMaxWord);
      word.remove_prefix(piece.size());
      if (!empty && line.size() + 1 + piece.size() > kTextWidth) {
        out += line;
        out += "\r\n";
        line = rest;
        empty = true;
      }
      if (!empty) line += ' ';
      line.append(piece);
      empty = false;
    }
  }
  out += line;
  out += "\r\n";
}

// CRLF for every line end (CRLF, bare CR, bare LF), and a final CRLF.
std::string to_crlf(std::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 16 + 2);
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\r') {
      out += "\r\n";
      if (i + 1 < s.size() && s[i + 1] == '\n') ++i;
    } else if (s[i] == '\n') {
      out += "\r\n";
    } else {
      out += s[i];
    }
  }
  if (!out.empty() && out.back() != '\n') out += "\r\n";
  return out;
}

// Longest line of CRLF text, without its CRLF.
std::size_t longest_line(std::string_view s) {
  std::size_t longest = 0;
  while (!s.empty()) {
    const auto lf = s.find('\n');
    const std::size_t len = lf == std::string_view::npos ? s.size() : lf;
    longest = std::max(longest, len > 0 && s[len - 1] == '\r' ? len - 1 : len);
    if (lf == std::string_view::npos) break;
    s.remove_prefix(lf + 1);
  }
  return longest;
}

// The header section of `message`: its fields without the empty line that
// ends them (mime::HeaderReader decides where the header ends).
std::string_view header_section(std::string_view message) {
  mime::HeaderReader reader(message);
  std::size_t end = 0;
  while (reader.next()) end = reader.consumed();
  return message.substr(0, end);
}

// RFC 2045 §6.7 quoted-printable of CRLF text, lines of at most 76 octets.
std::string quoted_printable(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  while (!s.empty()) {
    auto end = s.find("\r\n");
    const std::string_view line = s.substr(0, end);
    s.remove_prefix(end == std::string_view::npos ? s.size() : end + 2);
    std::size_t col = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const auto u = static_cast<unsigned char>(line[i]);
      const bool last = i + 1 == line.size();
      const bool literal = (u >= 33 && u <= 126 && u != '=') || ((u == ' ' || u == '\t') && !last);
      const std::size_t width = literal ? 1 : 3;
      if (col + width > 75) {  // room for the '=' of a soft line break
        out += "=\r\n";
        col = 0;
      }
      if (literal) {
        out += line[i];
      } else {
        out += '=';
        out += kHex[u >> 4];
        out += kHex[u & 15];
      }
      col += width;
    }
    out += "\r\n";
  }
  return out;
}

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// A boundary (RFC 2046 §5.1.1: at most 70 characters) made from the
// message id, which none of the parts contains. When the first choice
// collides, a hash of the parts is added: text that contained its own hash
// would be needed to collide again.
std::string choose_boundary(std::string_view message_id, const std::vector<std::string_view>& parts) {
  std::string base = "=_poshta_";
  for (char c : message_id.substr(0, 40)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == '-';
    base += keep ? c : '.';
  }
  const auto unused = [&](const std::string& b) {
    for (const auto part : parts) {
      if (part.find(b) != std::string_view::npos) return false;
    }
    return true;
  };
  if (unused(base)) return base;
  for (std::uint64_t seed = 0xcbf29ce484222325ULL;; ++seed) {
    std::uint64_t h = seed;
    for (const auto part : parts) h = fnv1a(h, part);
    char hex[20];
    std::snprintf(hex, sizeof hex, "=%016llx", static_cast<unsigned long long>(h));
    std::string candidate = base + hex;
    if (unused(candidate)) return candidate;
  }
}

// The Original-Recipient value from the ORCPT parameter (RFC 3461 §6.3 d):
// address type, then the address with its xtext decoded. A "utf-8"
// address (RFC 6533) is kept in its utf-8-addr-xtext or, in a global
// report, unitext form.
std::string original_recipient(std::string_view orcpt, bool global) {
  const auto semi = orcpt.find(';');
  std::string type = semi == std::string_view::npos ? "" : one_line(orcpt.substr(0, semi), false);
  const std::string_view value = semi == std::string_view::npos ? orcpt : orcpt.substr(semi + 1);
  if (type.empty()) type = "rfc822";
  if (core::iequals(type, "utf-8")) {
    const std::string v = one_line(value, true);
    return type + "; " + (global ? v : utf8_addr_xtext(v, false));
  }
  return type + "; " + one_line(xtext_decode(value), global);
}

// The Final-Recipient value: rfc822 for an ASCII address, else utf-8 (RFC
// 6533), as it is in a global report and as utf-8-addr-xtext otherwise.
std::string final_recipient(std::string_view address, bool global) {
  if (!has_8bit(address)) return "rfc822; " + one_line(address, false);
  return "utf-8; " + (global ? one_line(address, true) : utf8_addr_xtext(one_line(address, true), true));
}

// The address of an ORCPT value for the human-readable part, or empty.
std::string orcpt_address(std::string_view orcpt) {
  const auto semi = orcpt.find(';');
  if (semi == std::string_view::npos) return {};
  const std::string_view type = orcpt.substr(0, semi);
  if (core::iequals(type, "utf-8")) return std::string(orcpt.substr(semi + 1));
  return xtext_decode(orcpt.substr(semi + 1));
}

const char* explanation(Action a) {
  switch (a) {
    case Action::failed:
      return "Your message could not be delivered to the recipients below. Delivery has been given up; it "
             "will not be tried again.";
    case Action::delayed:
      return "Your message has not been delivered yet to the recipients below. Delivery is still being "
             "tried; there is no need to send the message again.";
    case Action::delivered: return "Your message was delivered to the recipients below.";
    case Action::relayed:
      return "Your message was passed on for the recipients below to a mail system that does not send "
             "delivery reports; you may not hear about them again.";
    case Action::expanded:
      return "Your message was delivered to the recipients below, which are lists or aliases, and passed on "
             "to their members.";
  }
  return "";
}

}  // namespace

std::string build_dsn(const DsnInput& in) {
  static const Envelope kNoEnvelope;
  const Envelope& env = in.original ? *in.original : kNoEnvelope;
  const bool utf8 = env.smtputf8;
  const bool declared_8bit = utf8 || core::iequals(env.body, "8BITMIME");
  const std::string host = in.reporting_mta.empty() ? "localhost" : one_line(in.reporting_mta, false);

  bool any_failed = false, any_delayed = false, any_8bit = false;
  for (const auto& r : in.recipients) {
    any_failed = any_failed || r.action == Action::failed;
    any_delayed = any_delayed || r.action == Action::delayed;
    any_8bit = any_8bit || has_8bit(r.address) || has_8bit(r.orcpt) || has_8bit(r.diagnostic) || has_8bit(r.remote_mta);
  }
  // RFC 6533: UTF-8 in the report (message/global-delivery-status) only when
  // the original came with SMTPUTF8, so the report can go back the same way.
  const bool global = utf8 && any_8bit;

  // The original, returned in full or its header only (RFC 3461 §4.3: RET
  // concerns failure reports; the others return the header). In full only
  // as message/rfc822 can carry it unencoded: lines within the limit, no
  // NUL, and 8-bit octets only when it was sent as 8-bit (8BITMIME or
  // SMTPUTF8), so this report needs no more of the path than the original did.
  bool full = any_failed && !core::iequals(env.ret, "HDRS") && in.content.size() <= in.full_limit;
  std::string returned;
  if (full) {
    returned = to_crlf(in.content);
    const bool eight = has_8bit(returned);
    full = returned.find('\0') == std::string::npos && longest_line(returned) <= kMaxLine && (!eight || declared_8bit);
  }
  const std::string_view original_header = header_section(in.content);
  const bool header_8bit = has_8bit(original_header);
  std::string returned_type, returned_encoding;
  if (full) {
    returned_type = utf8 && header_8bit ? "message/global" : "message/rfc822";
    if (has_8bit(returned)) returned_encoding = "8bit";
  } else {
    returned = to_crlf(original_header);
    returned_type = utf8 && header_8bit ? "message/global-headers" : "text/rfc822-headers";
    if (returned.find('\0') != std::string::npos || longest_line(returned) > kMaxLine ||
        (header_8bit && !declared_8bit)) {
      returned = quoted_printable(returned);
      returned_encoding = "quoted-printable";
    } else if (header_8bit) {
      returned_encoding = "8bit";
    }
  }

  // Part 1: for people.
  std::string text;
  std::string intro = "This is Poshta at " + host + ", with a report on a message you sent";
  if (env.arrived != 0) intro += " (it arrived here on " + mime::rfc5322_date(env.arrived) + ")";
  put_wrapped(text, "", "", intro + ".");
  for (const Action a : {Action::failed, Action::delayed, Action::delivered, Action::relayed, Action::expanded}) {
    bool first = true;
    for (const auto& r : in.recipients) {
      if (r.action != a) continue;
      if (first) {
        text += "\r\n";
        put_wrapped(text, "", "", explanation(a));
        first = false;
      }
      text += "\r\n";
      const std::string status = effective_status(r);
      std::string line = "<" + one_line(r.address, global) + ">";
      if (a == Action::failed || a == Action::delayed) line += ": " + status_text(status) + " (" + status + ")";
      put_wrapped(text, "", "    ", line);
      const std::string orig = one_line(orcpt_address(r.orcpt), global);
      if (!orig.empty() && !core::iequals(orig, one_line(r.address, global))) {
        put_wrapped(text, "    ", "      ", "(originally addressed to <" + orig + ">)");
      }
      const std::string diagnostic = one_line(r.diagnostic, global);
      if (!diagnostic.empty()) {
        const std::string remote = one_line(r.remote_mta, global);
        put_wrapped(text, "    ", "      ", remote.empty() ? diagnostic : remote + " said: " + diagnostic);
      }
      if (a == Action::delayed && r.will_retry_until != 0) {
        put_wrapped(text, "    ", "      ",
                    "Delivery will be tried until " + mime::rfc5322_date(r.will_retry_until) + ".");
      }
    }
  }
  text += "\r\n";
  put_wrapped(text, "", "",
              std::string("The same report in machine-readable form follows, then ") +
                  (full ? "your message." : "the header of your message."));
  if (any_failed) {
    text += "\r\n";
    put_wrapped(text, "", "",
                "If you cannot solve the problem yourself, forward this whole report to your mail "
                "administrator.");
  }

  // Part 2: RFC 3464 §2.1 delivery-status-content, fields in the order of its grammar.
  std::string status;
  if (!env.envid.empty()) put_field(status, "Original-Envelope-Id", one_line(xtext_decode(env.envid), false));
  put_field(status, "Reporting-MTA", "dns; " + host);
  if (env.arrived != 0) put_field(status, "Arrival-Date", mime::rfc5322_date(env.arrived));
  if (!env.id.empty()) put_field(status, "X-Poshta-Queue-ID", one_line(env.id, false));
  for (const auto& r : in.recipients) {
    status += "\r\n";
    if (!r.orcpt.empty()) put_field(status, "Original-Recipient", original_recipient(r.orcpt, global));
    put_field(status, "Final-Recipient", final_recipient(r.address, global));
    put_field(status, "Action", action_name(r.action));
    put_field(status, "Status", effective_status(r));
    const std::string remote = one_line(r.remote_mta, global);
    if (!remote.empty()) put_field(status, "Remote-MTA", "dns; " + remote);
    const std::string diagnostic = one_line(r.diagnostic, global);
    if (!diagnostic.empty()) {
      put_field(status, "Diagnostic-Code", (is_smtp_reply(diagnostic) ? "smtp; " : "X-Poshta; ") + diagnostic);
    }
    if (r.last_attempt != 0) put_field(status, "Last-Attempt-Date", mime::rfc5322_date(r.last_attempt));
    if (r.action == Action::delayed && r.will_retry_until != 0) {
      put_field(status, "Will-Retry-Until", mime::rfc5322_date(r.will_retry_until));
    }
  }

  std::string message_id = one_line(in.message_id, false);
  if (message_id.size() >= 2 && message_id.front() == '<' && message_id.back() == '>') {
    message_id = message_id.substr(1, message_id.size() - 2);
  }
  if (message_id.empty()) {
    message_id = one_line(env.id, false) + "." + std::to_string(in.now) + ".dsn@" + host;
  }
  const std::string boundary = choose_boundary(message_id, {text, status, returned});
  const char* report_type = global ? "global-delivery-status" : "delivery-status";
  const bool eight_bit = has_8bit(text) || has_8bit(status) || has_8bit(returned);

  std::string out;
  out.reserve(text.size() + status.size() + returned.size() + 1024);
  const std::string postmaster = in.postmaster.empty() ? "MAILER-DAEMON@" + host : one_line(in.postmaster, utf8);
  put_field(out, "From", "Mail Delivery System <" + postmaster + ">");
  if (!env.sender.empty()) put_field(out, "To", "<" + one_line(env.sender, utf8) + ">");
  put_field(out, "Subject",
            any_failed    ? "Undelivered Mail Returned to Sender"
            : any_delayed ? "Delayed Mail (still being retried)"
                          : "Successful Mail Delivery Report");
  put_field(out, "Date", mime::rfc5322_date(in.now));
  put_field(out, "Message-ID", "<" + message_id + ">");
  put_field(out, "MIME-Version", "1.0");
  put_field(out, "Auto-Submitted", "auto-replied");  // RFC 3834 §5
  out += "Content-Type: multipart/report; report-type=";
  out += report_type;
  out += ";\r\n\tboundary=\"" + boundary + "\"\r\n";
  put_field(out, "Content-Transfer-Encoding", eight_bit ? "8bit" : "7bit");
  out += "\r\nThis is a MIME-formatted delivery status notification.\r\n";

  out += "\r\n--" + boundary + "\r\n";
  out += "Content-Description: Notification\r\n";
  out += global ? "Content-Type: text/plain; charset=utf-8\r\n" : "Content-Type: text/plain; charset=us-ascii\r\n";
  if (has_8bit(text)) out += "Content-Transfer-Encoding: 8bit\r\n";
  out += "\r\n";
  out += text;

  out += "--" + boundary + "\r\n";
  out += "Content-Description: Delivery report\r\n";
  out += global ? "Content-Type: message/global-delivery-status\r\n" : "Content-Type: message/delivery-status\r\n";
  if (has_8bit(status)) out += "Content-Transfer-Encoding: 8bit\r\n";
  out += "\r\n";
  out += status;

  out += "--" + boundary + "\r\n";
  out += full ? "Content-Description: Returned message\r\n" : "Content-Description: Returned message header\r\n";
  out += "Content-Type: " + returned_type + "\r\n";
  if (!returned_encoding.empty()) out += "Content-Transfer-Encoding: " + returned_encoding + "\r\n";
  out += "\r\n";
  out += returned;

  out += "--" + boundary + "--\r\n";
  return out;
}

bool report_wanted(std::uint8_t notify, DsnRecipient::Action action) {
  namespace n = core::notify;
  if (notify & n::never) return false;
  switch (action) {
    case DsnRecipient::Action::failed: return notify == 0 || (notify & n::failure);
    case DsnRecipient::Action::delayed: return notify == 0 || (notify & n::delay);
    case DsnRecipient::Action::delivered:
    case DsnRecipient::Action::relayed:
    case DsnRecipient::Action::expanded: return (notify & n::success) != 0;
  }
  return false;
}

}  // namespace poshta::queue
