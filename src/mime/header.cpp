#include "mime/header.hpp"

#include "core/address.hpp"

namespace poshta::mime {

namespace {

// Length of the line at the start of `s` including its LF (or all of s).
std::size_t line_length(std::string_view s) {
  const auto lf = s.find('\n');
  return lf == std::string_view::npos ? s.size() : lf + 1;
}

bool is_ftext(char c) {  // RFC 5322 §3.6.8: printable US-ASCII except ':'
  return c >= 33 && c <= 126 && c != ':';
}

std::string_view trim_line_end(std::string_view s) {
  if (!s.empty() && s.back() == '\n') s.remove_suffix(1);
  if (!s.empty() && s.back() == '\r') s.remove_suffix(1);
  return s;
}

}  // namespace

std::optional<HeaderField> HeaderReader::next() {
  if (rest_.empty()) return std::nullopt;
  const std::size_t first = line_length(rest_);
  const std::string_view line = rest_.substr(0, first);
  if (line == "\r\n" || line == "\n") {  // the blank line: the body follows it
    consumed_ += first;
    rest_ = {};
    return std::nullopt;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) {  // not a field: the body starts here
    rest_ = {};
    return std::nullopt;
  }
  for (std::size_t i = 0; i < colon; ++i) {
    if (!is_ftext(line[i])) return std::nullopt;
  }
  std::size_t length = first;
  while (length < rest_.size() && (rest_[length] == ' ' || rest_[length] == '\t')) {
    length += line_length(rest_.substr(length));
  }
  HeaderField field{line.substr(0, colon), trim_line_end(rest_.substr(colon + 1, length - colon - 1))};
  rest_.remove_prefix(length);
  consumed_ += length;
  return field;
}

std::size_t count_fields(std::string_view message, std::string_view name) {
  HeaderReader reader(message);
  std::size_t n = 0;
  while (auto f = reader.next()) {
    if (core::iequals(f->name, name)) ++n;
  }
  return n;
}

}  // namespace poshta::mime
