// pop3::MessageEncoder: RETR's and TOP's multi-line response body.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace poshta::pop3 {

// Turns a stored message (LF or CRLF line ends) into POP3's multi-line form:
// CRLF line ends, lines starting with "." doubled, and with TOP only the
// header and the first `body_lines` lines of the body. Fed in chunks, so a
// large message never has to be in memory at once.
class MessageEncoder {
 public:
  explicit MessageEncoder(std::optional<std::uint64_t> body_lines = std::nullopt) : body_lines_(body_lines) {}
  // Appends the encoded form of `chunk` to `out`.
  void feed(std::string_view chunk, std::string& out);
  // Ends the last line if needed and appends the terminating ".\r\n".
  void finish(std::string& out);
  // TOP has all it needs: the rest of the message need not be read.
  bool done() const { return stopped_; }

 private:
  void end_line(std::string& out);

  std::optional<std::uint64_t> body_lines_;
  bool line_start_ = true;
  bool pending_cr_ = false;
  bool in_body_ = false;
  bool empty_line_ = true;  // the current line is empty so far
  std::uint64_t lines_sent_ = 0;
  bool stopped_ = false;
};

}  // namespace poshta::pop3
