#include "mime/parameters.hpp"

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>

#include "core/address.hpp"
#include "mime/charset.hpp"
#include "mime/lexer.hpp"

namespace poshta::mime {

namespace {

struct RawParameter {
  std::string name;  // lower case
  std::string value;
};

// An unquoted value: RFC 2045 says token, but tspecials such as '=' and '/'
// turn up unquoted (boundary=----=_Part_1) and mean nothing else here.
std::string_view bare_value(std::string_view s, std::size_t& i) {
  const std::size_t start = i;
  while (i < s.size()) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u <= 32 || u == 127 || s[i] == ';' || s[i] == '"' || s[i] == '(') break;
    ++i;
  }
  return s.substr(start, i - start);
}

void skip_to_semicolon(std::string_view s, std::size_t& i) {
  while (i < s.size() && s[i] != ';') {
    if (s[i] == '"') {
      (void)lex::quoted_string(s, i);
    } else if (s[i] == '(') {
      (void)lex::comment(s, i);
    } else {
      ++i;
    }
  }
}

std::vector<RawParameter> split(std::string_view s) {
  std::vector<RawParameter> out;
  std::size_t i = 0;
  while (i < s.size()) {
    lex::skip_cfws(s, i);
    if (i >= s.size()) break;
    if (s[i] == ';') {
      ++i;
      continue;
    }
    const std::string_view name = lex::token(s, i);
    lex::skip_cfws(s, i);
    if (name.empty() || i >= s.size() || s[i] != '=') {
      skip_to_semicolon(s, i);
      continue;
    }
    ++i;
    lex::skip_cfws(s, i);
    std::string value = i < s.size() && s[i] == '"' ? lex::quoted_string(s, i) : std::string(bare_value(s, i));
    out.push_back({core::to_lower(name), std::move(value)});
    skip_to_semicolon(s, i);
  }
  return out;
}

// RFC 2231 §3 and §4: name*N is section N of a continued value, a trailing
// '*' marks a section (or a whole value) as charset'language'%XX encoded.
struct NameParts {
  std::string_view base;
  std::optional<std::uint32_t> section;
  bool extended = false;
};

NameParts split_name(std::string_view name) {
  NameParts p{name, std::nullopt, false};
  std::string_view rest = name;
  if (rest.size() > 1 && rest.back() == '*') {
    rest.remove_suffix(1);
    p.extended = true;
  }
  const auto star = rest.rfind('*');
  if (star != std::string_view::npos && star > 0) {
    const std::string_view digits = rest.substr(star + 1);
    const bool numeric = !digits.empty() && digits.size() <= 9 &&
                         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (numeric) {
      std::uint32_t n = 0;
      for (const char c : digits) n = n * 10 + static_cast<std::uint32_t>(c - '0');
      p.base = rest.substr(0, star);
      p.section = n;
      return p;
    }
  }
  p.base = rest;
  if (p.extended) p.section = 0;  // name*=...: one extended section
  return p;
}

std::string percent_decode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && lex::hex_value(s[i + 1]) >= 0 && lex::hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(lex::hex_value(s[i + 1]) * 16 + lex::hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// RFC 2231 attribute-char, what an extended value may hold unencoded.
bool is_attribute_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 32 || u >= 127) return false;
  return std::string_view("*'%()<>@,;:\\\"/[]?=").find(c) == std::string_view::npos;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    if (is_attribute_char(c)) {
      out += c;
    } else {
      const auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

struct Section {
  std::uint32_t index;
  bool extended;
  std::string value;
};

struct Group {
  std::string base;
  std::optional<std::string> plain;
  std::vector<Section> sections;
};

// Joins a group's sections 0, 1, 2... (up to the first gap; a repeated
// section counts once) and appends the result to `out`.
void join(Group& g, std::vector<Parameter>& out) {
  std::stable_sort(g.sections.begin(), g.sections.end(),
                   [](const Section& a, const Section& b) { return a.index < b.index; });
  std::vector<const Section*> chain;
  for (const Section& s : g.sections) {
    if (s.index == chain.size()) chain.push_back(&s);
  }
  if (chain.empty()) {
    if (g.plain) out.push_back({g.base, *g.plain});
    return;
  }
  const bool any_extended = std::any_of(chain.begin(), chain.end(), [](const Section* s) { return s->extended; });
  if (!any_extended) {
    std::string value;
    for (const Section* s : chain) value += s->value;
    out.push_back({g.base, std::move(value)});
    return;
  }
  // §4: only the first section carries charset'language'.
  std::string_view charset, language, first = chain[0]->value;
  if (chain[0]->extended) {
    const auto q1 = first.find('\'');
    const auto q2 = q1 == std::string_view::npos ? q1 : first.find('\'', q1 + 1);
    if (q2 != std::string_view::npos) {
      charset = first.substr(0, q1);
      language = first.substr(q1 + 1, q2 - q1 - 1);
      first.remove_prefix(q2 + 1);
    }
  }
  std::string bytes;
  for (const Section* s : chain) {
    const std::string_view v = s == chain[0] ? first : std::string_view(s->value);
    bytes += s->extended ? percent_decode(v) : std::string(v);
  }
  if (auto utf8 = to_utf8(charset, bytes)) {
    out.push_back({g.base, std::move(*utf8)});
    return;
  }
  if (g.plain) out.push_back({g.base, *g.plain});
  std::string raw = std::string(charset) + "'" + std::string(language) + "'";
  for (const Section* s : chain) {
    const std::string_view v = s == chain[0] ? first : std::string_view(s->value);
    raw += s->extended ? std::string(v) : percent_encode(v);
  }
  out.push_back({g.base + "*", std::move(raw)});
}

}  // namespace

std::vector<Parameter> parse_parameters(std::string_view list) {
  std::vector<Group> groups;
  std::map<std::string, std::size_t, std::less<>> by_base;
  for (RawParameter& p : split(list)) {
    const NameParts parts = split_name(p.name);
    auto [it, added] = by_base.try_emplace(std::string(parts.base), groups.size());
    if (added) groups.push_back({std::string(parts.base), std::nullopt, {}});
    Group& g = groups[it->second];
    if (parts.section) {
      g.sections.push_back({*parts.section, parts.extended, std::move(p.value)});
    } else if (!g.plain) {
      g.plain = std::move(p.value);
    }
  }
  std::vector<Parameter> out;
  out.reserve(groups.size());
  for (Group& g : groups) join(g, out);
  return out;
}

const std::string* find_parameter(const std::vector<Parameter>& params, std::string_view name) {
  for (const Parameter& p : params) {
    if (p.name == name) return &p.value;
  }
  return nullptr;
}

}  // namespace poshta::mime
