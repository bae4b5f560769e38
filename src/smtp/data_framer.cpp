#include "smtp/data_framer.hpp"

#include <algorithm>

namespace poshta::smtp {

void DataFramer::emit(std::string_view s, std::string& body) {
  if (size_ < max_size_)
    body.append(s.substr(0, static_cast<std::size_t>(std::min<std::uint64_t>(s.size(), max_size_ - size_))));
  size_ += s.size();
}

void DataFramer::end_of_content() {
  if (pending_cr_) bare_line_end_ = true;  // the content ended in a CR without its LF
}

void DataFramer::end_line() {
  if (line_length_ + 1 > kMaxLine) line_too_long_ = true;  // +1: the LF
  line_length_ = 0;
  line_start_ = true;
  dot_only_ = false;
}

std::size_t DataFramer::feed(std::string_view in, std::string& body) {
  std::size_t i = 0;
  const std::size_t n = in.size();
  while (i < n && !done_) {
    const char c = in[i];
    if (pending_cr_) {
      pending_cr_ = false;
      if (c == '\n') {
        ++i;
        if (dot_only_) {
          done_ = true;
          break;
        }
        emit("\n", body);
        end_line();
        continue;
      }
      bare_line_end_ = true;            // CR not followed by LF: content, never a line end
      if (dot_only_) emit("\r", body);  // held back in case this was the end
      dot_only_ = false;
    }
    if (line_start_) {
      line_start_ = false;
      if (mode_ == Mode::dot_terminated && c == '.') {  // §4.5.2: drop the first dot
        // Not counted: §4.5.3.1.6 excludes the dot duplicated for transparency.
        dot_only_ = true;
        ++i;
        continue;
      }
    }
    if (c == '\r') {
      // Kept at once (a BDAT chunk may end between CR and LF), except after
      // a lone dot, where CR LF would end the data.
      if (!dot_only_) emit("\r", body);
      pending_cr_ = true;
      ++line_length_;
      ++i;
      continue;
    }
    if (c == '\n') {  // LF without CR: content, never a line end
      bare_line_end_ = true;
      dot_only_ = false;
      emit("\n", body);
      ++line_length_;
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && in[j] != '\r' && in[j] != '\n') ++j;
    emit(in.substr(i, j - i), body);
    line_length_ += j - i;
    if (line_length_ > kMaxLine) line_too_long_ = true;
    dot_only_ = false;
    i = j;
  }
  return i;
}

}  // namespace poshta::smtp
