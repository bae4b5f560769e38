#include "pop3/encoder.hpp"

namespace poshta::pop3 {

void MessageEncoder::feed(std::string_view chunk, std::string& out) {
  out.reserve(out.size() + chunk.size() + chunk.size() / 32 + 8);
  for (char c : chunk) {
    if (stopped_) return;
    if (pending_cr_) {
      pending_cr_ = false;
      end_line(out);  // CRLF, or a bare CR taken as a line end: never sent bare
      if (c == '\n') continue;
      if (stopped_) return;
    }
    if (c == '\r') {
      pending_cr_ = true;
      continue;
    }
    if (c == '\n') {
      end_line(out);
      continue;
    }
    if (line_start_ && c == '.') out += '.';  // RFC 1939 §3: byte-stuffing
    out += c;
    line_start_ = false;
    empty_line_ = false;
  }
}

void MessageEncoder::end_line(std::string& out) {
  out += "\r\n";
  if (!in_body_) {
    in_body_ = empty_line_;  // the empty line ends the header
  } else {
    ++lines_sent_;
  }
  line_start_ = true;
  empty_line_ = true;
  if (body_lines_ && in_body_ && lines_sent_ >= *body_lines_) stopped_ = true;
}

void MessageEncoder::finish(std::string& out) {
  if (pending_cr_ && !stopped_) {
    pending_cr_ = false;
    end_line(out);
  }
  if (!line_start_ && !stopped_) out += "\r\n";
  out += ".\r\n";
}

}  // namespace poshta::pop3
