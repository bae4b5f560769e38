#include "mime/address_list.hpp"

namespace poshta::mime {

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.remove_suffix(1);
  return std::string(s);
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
    else if (!quoted && (s[i] == ' ' || s[i] == '\t'))
      return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> addresses_in(std::string_view value) {
  std::vector<std::string> out;
  std::string current;  // the text of the current mailbox, comments removed
  std::string angle;    // what stood in <...>, if anything
  bool in_angle = false;
  auto finish = [&] {
    std::string address = trim(angle.empty() ? current : angle);
    if (address.find('@') != std::string::npos && !has_unquoted_space(address)) out.push_back(address);
    current.clear();
    angle.clear();
  };
  for (std::size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (c == '"') {  // quoted string: kept (it may be a local part), commas inside do not separate
      std::string quoted(1, c);
      for (++i; i < value.size() && value[i] != '"'; ++i) {
        if (value[i] == '\\' && i + 1 < value.size()) quoted += value[i++];
        quoted += value[i];
      }
      quoted += '"';
      (in_angle ? angle : current) += quoted;
    } else if (c == '(') {  // comment, possibly nested
      int depth = 1;
      for (++i; i < value.size() && depth > 0; ++i) {
        if (value[i] == '\\')
          ++i;
        else if (value[i] == '(')
          ++depth;
        else if (value[i] == ')')
          --depth;
      }
      --i;
    } else if (c == '<') {
      in_angle = true;
      angle.clear();
    } else if (c == '>') {
      in_angle = false;
    } else if (c == ':' && !in_angle) {  // "Group:" starts a group: the name is no address
      current.clear();
    } else if ((c == ',' || c == ';') && !in_angle) {
      finish();
    } else {
      (in_angle ? angle : current) += c;
    }
  }
  finish();
  return out;
}

}  // namespace poshta::mime
