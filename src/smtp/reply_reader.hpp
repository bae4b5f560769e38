// smtp::ReplyReader: the client's side of RFC 5321 §4.2: reply lines
// "NNN-text" continue a reply and "NNN text" ends it, every line with the
// same code. Sans-IO: fed the bytes a server sent, it hands out whole
// replies. Anything else (no code, mixed codes, a line over 4 KiB, more than
// 256 lines) makes the reader broken(): the client must give up the
// connection, as nothing after it can be trusted to be in step.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::smtp {

struct ServerReply {
  int code = 0;
  std::vector<std::string> lines;  // the text of each line, without code and separator

  bool positive() const { return code >= 200 && code < 400; }
  bool transient() const { return code >= 400 && code < 500; }
  bool permanent() const { return code >= 500; }
  // The RFC 3463 enhanced code at the start of the first line ("5.1.1"), or empty.
  std::string enhanced() const;
  // One line for logs and bounces: "550 5.1.1 <x@y>: no such user" (lines joined by " ").
  std::string text() const;
};

class ReplyReader {
 public:
  void feed(std::string_view bytes);
  std::optional<ServerReply> next();
  bool broken() const { return broken_; }
  bool idle() const { return buffer_.empty() && !partial_; }

 private:
  std::string buffer_;
  std::size_t scanned_ = 0;
  std::optional<ServerReply> partial_;
  bool broken_ = false;
};

// A well-formed enhanced status code "c.s.d" (RFC 3463 §2) at the start of `text`.
std::string_view leading_enhanced_code(std::string_view text);

}  // namespace poshta::smtp
