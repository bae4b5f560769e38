#include "smtp/command.hpp"

#include <array>
#include <charconv>

#include "core/address.hpp"

namespace poshta::smtp {

namespace {

constexpr std::array kVerbs{
    VerbInfo{Verb::helo, "HELO", "HELO <domain>"},
    VerbInfo{Verb::ehlo, "EHLO", "EHLO <domain>"},
    VerbInfo{Verb::mail, "MAIL",
             "MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8] [RET=FULL|HDRS] [ENVID=id]"},
    VerbInfo{Verb::rcpt, "RCPT", "RCPT TO:<address> [NOTIFY=NEVER|SUCCESS,FAILURE,DELAY] [ORCPT=rfc822;address]"},
    VerbInfo{Verb::data, "DATA", "DATA, then the message, ended by a line with a single dot"},
    VerbInfo{Verb::bdat, "BDAT", "BDAT <size> [LAST], then exactly <size> octets of the message"},
    VerbInfo{Verb::rset, "RSET", "RSET (abandons the current transaction)"},
    VerbInfo{Verb::send, "SEND", "SEND FROM:<address> (deliver to terminals; there are none here)"},
    VerbInfo{Verb::soml, "SOML", "SOML FROM:<address> (send to terminal or mailbox: delivers to the mailbox)"},
    VerbInfo{Verb::saml, "SAML", "SAML FROM:<address> (send to terminal and mailbox: delivers to the mailbox)"},
    VerbInfo{Verb::vrfy, "VRFY", "VRFY <address or user name>"},
    VerbInfo{Verb::expn, "EXPN", "EXPN <mailing list>"},
    VerbInfo{Verb::help, "HELP", "HELP [command]"},
    VerbInfo{Verb::noop, "NOOP", "NOOP [text]"},
    VerbInfo{Verb::quit, "QUIT", "QUIT"},
    VerbInfo{Verb::starttls, "STARTTLS", "STARTTLS"},
    VerbInfo{Verb::auth, "AUTH", "AUTH <mechanism> [initial response]"},
    VerbInfo{Verb::lhlo, "LHLO", "LHLO <domain> (LMTP only)"},
};

bool is_atext(char c, bool utf8) {  // RFC 5322 §3.2.3, RFC 6531 §3.3
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  if (utf8 && static_cast<unsigned char>(c) >= 0x80) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '/':
    case '=':
    case '?':
    case '^':
    case '_':
    case '`':
    case '{':
    case '|':
    case '}':
    case '~': return true;
    default: return false;
  }
}

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    if (c < 0x80)
      n = 0;
    else if (c >= 0xc2 && c <= 0xdf)
      n = 1;
    else if (c >= 0xe0 && c <= 0xef)
      n = 2;
    else if (c >= 0xf0 && c <= 0xf4)
      n = 3;
    else
      return false;
    for (std::size_t k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

bool has_non_ascii(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

bool is_valid_local_part(std::string_view s, bool utf8) {
  if (s.empty() || s.size() > 64) return false;  // RFC 5321 §4.5.3.1.1
  if (s.front() == '"') {
    if (s.size() < 2 || s.back() != '"') return false;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      const char c = s[i];
      const auto u = static_cast<unsigned char>(c);
      if (c == '\\') {
        if (i + 2 >= s.size() || s[i + 1] < 32 || s[i + 1] > 126) return false;
        ++i;
      } else if (!((u >= 32 && u <= 126 && c != '"') || (utf8 && u >= 0x80))) {
        return false;
      }
    }
    return true;
  }
  char prev = '.';
  for (char c : s) {
    if (c == '.') {
      if (prev == '.') return false;
    } else if (!is_atext(c, utf8)) {
      return false;
    }
    prev = c;
  }
  return prev != '.';
}

bool is_valid_address_literal(std::string_view s) {  // "[...]" RFC 5321 §4.1.3
  if (s.size() < 3 || s.front() != '[' || s.back() != ']') return false;
  std::string_view inner = s.substr(1, s.size() - 2);
  if (inner.size() > 5 && core::iequals(inner.substr(0, 5), "IPv6:")) return core::is_ip_address(inner.substr(5));
  return inner.find(':') == std::string_view::npos && core::is_ip_address(inner);
}

// Splits "<path> params" into the path's mailbox (without brackets or source
// route) and the parameter text. False on a syntax error.
bool split_path(std::string_view s, std::string_view& mailbox, std::string_view& params) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);  // tolerate "FROM: <a@b>"
  if (s.empty() || s.front() != '<') return false;
  // The path ends at the first '>' outside a quoted local part.
  bool quoted = false;
  std::size_t end = std::string_view::npos;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (quoted && s[i] == '\\') {
      ++i;
    } else if (s[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && s[i] == '>') {
      end = i;
      break;
    }
  }
  if (end == std::string_view::npos) return false;
  std::string_view path = s.substr(1, end - 1);
  if (!path.empty() && path.front() == '@') {  // A-d-l, RFC 5321 §4.1.2: accepted and ignored
    const auto colon = path.find(':');
    if (colon == std::string_view::npos) return false;
    path.remove_prefix(colon + 1);
    if (path.empty()) return false;  // a route must lead to a mailbox
  }
  mailbox = path;
  params = s.substr(end + 1);
  if (!params.empty()) {
    if (params.front() != ' ') return false;
    while (!params.empty() && params.front() == ' ') params.remove_prefix(1);
  }
  return true;
}

struct Param {
  std::string_view keyword;
  std::string_view value;
  bool has_value;
};

template <typename F>
bool for_each_param(std::string_view params, F&& f) {
  while (!params.empty()) {
    auto sp = params.find(' ');
    std::string_view item = params.substr(0, sp);
    params = sp == std::string_view::npos ? std::string_view{} : params.substr(sp + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    Param p{item.substr(0, eq), eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1),
            eq != std::string_view::npos};
    if (!f(p)) return false;
  }
  return true;
}

Reply syntax_reply(std::string_view text) {
  return {501, "5.5.4", std::string(text)};
}

bool prefix_ci(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && core::iequals(s.substr(0, prefix.size()), prefix);
}

}  // namespace

std::span<const VerbInfo> verbs() {
  return kVerbs;
}

const VerbInfo* find_verb(std::string_view name) {
  for (const auto& v : kVerbs) {
    if (core::iequals(v.name, name)) return &v;
  }
  return nullptr;
}

CommandLine split_command(std::string_view line) {
  CommandLine cmd;
  const auto sp = line.find(' ');
  cmd.name = line.substr(0, sp);
  cmd.args = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
  if (const auto* v = find_verb(cmd.name)) cmd.verb = v->verb;
  return cmd;
}

bool is_http_verb(std::string_view name) {
  for (std::string_view v : {"GET", "POST", "HEAD", "PUT", "CONNECT", "OPTIONS", "DELETE", "PATCH"}) {
    if (core::iequals(name, v)) return true;
  }
  return false;
}

bool is_valid_mailbox(std::string_view mailbox, bool utf8) {
  if (mailbox.size() > 254) return false;  // RFC 5321 §4.5.3.1.3: path of 256 with brackets
  if (utf8 && !is_valid_utf8(mailbox)) return false;
  const auto at = mailbox.rfind('@');
  if (at == std::string_view::npos) return false;
  const std::string_view domain = mailbox.substr(at + 1);
  if (!is_valid_local_part(mailbox.substr(0, at), utf8)) return false;
  if (!domain.empty() && domain.front() == '[') return is_valid_address_literal(domain);
  return core::is_valid_domain(domain, utf8);
}

bool is_valid_xtext(std::string_view s) {  // RFC 3461 §4
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '+') {
      if (i + 2 >= s.size()) return false;
      for (int k = 1; k <= 2; ++k) {
        const char h = s[i + k];
        if (!((h >= '0' && h <= '9') || (h >= 'A' && h <= 'F'))) return false;
      }
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') {
      return false;
    }
  }
  return true;
}

std::optional<Reply> parse_mail_args(std::string_view args, MailArgs& out) {
  if (!prefix_ci(args, "FROM:")) return syntax_reply("Syntax: MAIL FROM:<address> [parameters]");
  std::string_view mailbox;
  std::string_view params;
  if (!split_path(args.substr(5), mailbox, params)) return syntax_reply("Syntax: MAIL FROM:<address> [parameters]");
  std::optional<Reply> error;
  bool seen_size = false, seen_body = false, seen_utf8 = false, seen_ret = false, seen_envid = false, seen_auth = false;
  auto once = [&](bool& seen, std::string_view kw) {
    if (seen) error = syntax_reply("Parameter " + std::string(kw) + " given twice");
    seen = true;
    return !error;
  };
  for_each_param(params, [&](const Param& p) {
    if (core::iequals(p.keyword, "SIZE")) {
      if (!once(seen_size, "SIZE")) return false;
      std::uint64_t n = 0;
      auto [end, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), n);
      if (!p.has_value || p.value.empty() || ec != std::errc{} || end != p.value.data() + p.value.size()) {
        error = syntax_reply("SIZE takes a number of octets (RFC 1870)");
        return false;
      }
      out.size = n;
    } else if (core::iequals(p.keyword, "BODY")) {
      if (!once(seen_body, "BODY")) return false;
      if (core::iequals(p.value, "7BIT"))
        out.body = BodyType::seven_bit;
      else if (core::iequals(p.value, "8BITMIME"))
        out.body = BodyType::eight_bit_mime;
      else {
        error = Reply{501, "5.5.4", "BODY must be 7BIT or 8BITMIME"};
        return false;
      }
    } else if (core::iequals(p.keyword, "SMTPUTF8")) {
      if (!once(seen_utf8, "SMTPUTF8")) return false;
      if (p.has_value) {
        error = syntax_reply("SMTPUTF8 takes no value (RFC 6531)");
        return false;
      }
      out.smtputf8 = true;
    } else if (core::iequals(p.keyword, "RET")) {
      if (!once(seen_ret, "RET")) return false;
      if (core::iequals(p.value, "FULL"))
        out.ret = Ret::full;
      else if (core::iequals(p.value, "HDRS"))
        out.ret = Ret::hdrs;
      else {
        error = syntax_reply("RET must be FULL or HDRS (RFC 3461)");
        return false;
      }
    } else if (core::iequals(p.keyword, "AUTH")) {  // RFC 4954 §5: accepted, not trusted
      if (!once(seen_auth, "AUTH")) return false;
      if (p.value.empty() || (p.value != "<>" && !is_valid_xtext(p.value))) {
        error = syntax_reply("AUTH= takes <> or an xtext mailbox (RFC 4954 §5)");
        return false;
      }
    } else if (core::iequals(p.keyword, "ENVID")) {
      if (!once(seen_envid, "ENVID")) return false;
      if (p.value.empty() || p.value.size() > 100 || !is_valid_xtext(p.value)) {
        error = syntax_reply("ENVID must be xtext of at most 100 characters (RFC 3461)");
        return false;
      }
      out.envid = std::string(p.value);
    } else {
      error = Reply{555, "5.5.4", "Unsupported parameter " + std::string(p.keyword)};
      return false;
    }
    return true;
  });
  if (error) return error;
  if (!mailbox.empty()) {
    if (has_non_ascii(mailbox) && !out.smtputf8)
      return Reply{553, "5.6.7", "Non-ASCII address needs the SMTPUTF8 parameter (RFC 6531)"};
    if (!is_valid_mailbox(mailbox, out.smtputf8)) return Reply{501, "5.1.7", "Bad sender address syntax"};
  }
  out.address = std::string(mailbox);
  return std::nullopt;
}

std::optional<Reply> parse_rcpt_args(std::string_view args, bool smtputf8, RcptArgs& out) {
  if (!prefix_ci(args, "TO:")) return syntax_reply("Syntax: RCPT TO:<address> [parameters]");
  std::string_view mailbox;
  std::string_view params;
  if (!split_path(args.substr(3), mailbox, params)) return syntax_reply("Syntax: RCPT TO:<address> [parameters]");
  std::optional<Reply> error;
  bool seen_notify = false, seen_orcpt = false;
  for_each_param(params, [&](const Param& p) {
    if (core::iequals(p.keyword, "NOTIFY")) {
      if (seen_notify) {
        error = syntax_reply("NOTIFY given twice");
        return false;
      }
      seen_notify = true;
      std::string_view list = p.value;
      while (true) {
        const auto comma = list.find(',');
        const std::string_view item = list.substr(0, comma);
        if (core::iequals(item, "NEVER"))
          out.notify |= notify::never;
        else if (core::iequals(item, "SUCCESS"))
          out.notify |= notify::success;
        else if (core::iequals(item, "FAILURE"))
          out.notify |= notify::failure;
        else if (core::iequals(item, "DELAY"))
          out.notify |= notify::delay;
        else {
          error = syntax_reply("NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY (RFC 3461)");
          return false;
        }
        if (comma == std::string_view::npos) break;
        list.remove_prefix(comma + 1);
      }
      if ((out.notify & notify::never) && out.notify != notify::never) {
        error = syntax_reply("NOTIFY=NEVER cannot be combined with other values (RFC 3461 §4.1)");
        return false;
      }
    } else if (core::iequals(p.keyword, "ORCPT")) {
      if (seen_orcpt) {
        error = syntax_reply("ORCPT given twice");
        return false;
      }
      seen_orcpt = true;
      const auto semi = p.value.find(';');
      if (semi == std::string_view::npos || semi == 0 || p.value.size() > 500 ||
          !is_valid_xtext(p.value.substr(semi + 1))) {
        error = syntax_reply("ORCPT must be addr-type;xtext (RFC 3461 §4.2)");
        return false;
      }
      out.orcpt = std::string(p.value);
    } else {
      error = Reply{555, "5.5.4", "Unsupported parameter " + std::string(p.keyword)};
      return false;
    }
    return true;
  });
  if (error) return error;
  // RFC 5321 §4.5.1: "Postmaster" without a domain must be accepted.
  if (core::iequals(mailbox, "postmaster")) {
    out.address = std::string(mailbox);
    return std::nullopt;
  }
  if (has_non_ascii(mailbox) && !smtputf8)
    return Reply{553, "5.6.7", "Non-ASCII address needs SMTPUTF8 on MAIL (RFC 6531)"};
  if (mailbox.empty() || !is_valid_mailbox(mailbox, smtputf8))
    return Reply{501, "5.1.3", "Bad recipient address syntax"};
  out.address = std::string(mailbox);
  return std::nullopt;
}

std::optional<Reply> parse_bdat_args(std::string_view args, std::uint64_t& size, bool& last) {
  const auto sp = args.find(' ');
  const std::string_view number = args.substr(0, sp);
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), size);
  if (number.empty() || ec != std::errc{} || end != number.data() + number.size())
    return syntax_reply("Syntax: BDAT <size> [LAST]");
  last = false;
  if (sp != std::string_view::npos) {
    if (!core::iequals(args.substr(sp + 1), "LAST")) return syntax_reply("Syntax: BDAT <size> [LAST]");
    last = true;
  }
  return std::nullopt;
}

}  // namespace poshta::smtp
