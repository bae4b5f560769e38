#include "mime/address_list.hpp"

#include "mime/field_value.hpp"
#include "mime/lexer.hpp"

namespace poshta::mime {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// A display name left over ("John Doe a@b") is not an addr-spec; a space
// inside a quoted local part ("john doe"@b) is.
bool has_unquoted_space(std::string_view s) {
  bool quoted = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && quoted)
      ++i;
    else if (s[i] == '"')
      quoted = !quoted;
    else if (!quoted && is_space(s[i]))
      return true;
  }
  return false;
}

// A phrase (display or group name): quoted strings without their quotes,
// runs of whitespace as one space.
std::string phrase_of(std::string_view text) {
  std::string out;
  bool space = false;
  for (std::size_t i = 0; i < text.size();) {
    if (is_space(text[i])) {
      space = !out.empty();
      ++i;
      continue;
    }
    if (space) out += ' ';
    space = false;
    if (text[i] == '"') {
      out += lex::quoted_string(text, i);
    } else {
      out += text[i++];
    }
  }
  return out;
}

std::optional<std::string> nonempty(std::string s) {
  return s.empty() ? std::nullopt : std::optional<std::string>(std::move(s));
}

class ListParser {
 public:
  std::vector<Address> run(std::string_view v) {
    for (std::size_t i = 0; i < v.size();) {
      const char c = v[i];
      std::string& target = in_angle_ ? angle_ : text_;
      if (c == '"') {  // kept with its quotes: it may be a local part; ',' and ':' inside mean nothing
        const std::size_t start = i;
        (void)lex::quoted_string(v, i);
        target += v.substr(start, i - start);
        continue;
      }
      if (c == '(') {
        std::string content = lex::comment(v, i);
        if (!in_angle_ && !comment_) comment_ = std::move(content);
        target += ' ';
        continue;
      }
      ++i;
      if (in_angle_) {
        if (c == '>') {
          in_angle_ = false;
        } else {
          angle_ += c;  // ',' and ':' of a source route stay inside
        }
      } else if (c == '<') {
        in_angle_ = has_angle_ = true;
      } else if (c == ':' && !in_group_ && !has_angle_) {  // "Team: a@b, c@d;"
        out_.push_back({std::nullopt, std::nullopt, phrase_of(text_), std::nullopt});
        reset();
        in_group_ = true;
      } else if (c == ';') {
        finish();
        if (in_group_) out_.push_back({});
        in_group_ = false;
      } else if (c == ',') {
        finish();
      } else if (c != '>') {
        text_ += c;
      }
    }
    finish();
    if (in_group_) out_.push_back({});
    return std::move(out_);
  }

 private:
  void reset() {
    text_.clear();
    angle_.clear();
    comment_.reset();
    has_angle_ = in_angle_ = false;
  }

  void finish() {
    Address a;
    std::string_view spec;
    if (has_angle_) {
      spec = trim_whitespace(angle_);
      a.name = nonempty(phrase_of(text_));
    } else {
      spec = trim_whitespace(text_);
      if (comment_) a.name = nonempty(phrase_of(*comment_));
    }
    if (!spec.empty()) {
      if (spec.front() == '@') {  // obs-route: "@a,@b:" before the addr-spec
        const auto colon = spec.find(':');
        if (colon != std::string_view::npos) {
          a.adl = std::string(trim_whitespace(spec.substr(0, colon)));
          spec = trim_whitespace(spec.substr(colon + 1));
        }
      }
      std::size_t at = std::string_view::npos;
      bool quoted = false;
      for (std::size_t i = 0; i < spec.size(); ++i) {
        if (spec[i] == '\\' && quoted)
          ++i;
        else if (spec[i] == '"')
          quoted = !quoted;
        else if (spec[i] == '@' && !quoted)
          at = i;
      }
      a.mailbox = std::string(trim_whitespace(spec.substr(0, at)));
      a.host = at == std::string_view::npos ? std::string() : std::string(trim_whitespace(spec.substr(at + 1)));
      out_.push_back(std::move(a));
    }
    reset();
  }

  std::vector<Address> out_;
  std::string text_;   // the mailbox's text outside <...>, comments removed
  std::string angle_;  // what stood in <...>
  std::optional<std::string> comment_;
  bool has_angle_ = false;
  bool in_angle_ = false;
  bool in_group_ = false;
};

}  // namespace

std::vector<Address> parse_address_list(std::string_view value) {
  return ListParser().run(unfold(value));
}

std::vector<std::string> addresses_in(std::string_view value) {
  std::vector<std::string> out;
  for (const Address& a : parse_address_list(value)) {
    if (!a.mailbox || !a.host || a.mailbox->empty() || a.host->empty()) continue;
    if (has_unquoted_space(*a.mailbox) || has_unquoted_space(*a.host)) continue;
    out.push_back(*a.mailbox + "@" + *a.host);
  }
  return out;
}

}  // namespace poshta::mime
