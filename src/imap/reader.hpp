// imap::Reader: the framing of IMAP client input (RFC 9051 §2.2, §4.3):
// a command is a line that may carry literals ("{n}" followed by CRLF and
// n octets, then the rest of the command). A synchronizing literal needs
// the server's "+ " continuation before the client sends it; a
// non-synchronizing one, "{n+}" (LITERAL+, RFC 7888), does not. Sans-IO:
// fed bytes, it hands out whole commands as chunks of text and literal
// data, and the continuations to write.
//
// Limits keep memory bounded: the text of a command at most 64 KiB, each
// literal at most 64 KiB unless the command is APPEND (then the APPENDLIMIT
// given), all of a command's literals together at most that limit and 64
// KiB more, and non-synchronizing literals of APPEND at most 4 KiB beyond
// that limit are refused as RFC 7888 §4 allows for LITERAL-. An over-limit
// command is read to its end and reported as too long, without storing it
// (but the start of its first line, for the tag).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace poshta::imap {

struct Chunk {
  bool literal = false;
  bool binary = false;  // literal8 "~{n}" (RFC 3516)
  std::string data;     // text (without the CRLF and without the "{n}") or literal octets
};

struct RawCommand {
  std::vector<Chunk> chunks;  // text, [literal, text]...
  bool too_long = false;      // over a limit: chunks hold only the first line, for the tag
};

class Reader {
 public:
  explicit Reader(std::uint64_t append_limit) : append_limit_(append_limit) {}

  void feed(std::string_view bytes);
  // The next whole command, if one is complete.
  std::optional<RawCommand> next();
  // Continuation requests ("+ Ready for literal data") to send now.
  std::string take_output();
  // A line that is not a command (AUTHENTICATE responses, IDLE's DONE):
  // the next line as it is, without literal processing.
  std::optional<std::string> next_line();
  // While a command is partly read (literals pending), true.
  bool in_command() const { return !current_.chunks.empty(); }

  static constexpr std::size_t kMaxText = std::size_t{64} * 1024;

 private:
  bool take_line(std::string& line);
  std::optional<RawCommand> after_line(std::string line);

  std::uint64_t append_limit_;
  std::string buffer_;
  std::string output_;
  RawCommand current_;
  std::size_t text_size_ = 0;
  std::uint64_t literal_octets_ = 0;  // of the literals of the command so far
  std::uint64_t literal_left_ = 0;    // octets of the literal being read
  bool in_literal_ = false;
  bool discarding_ = false;     // over a limit: read and drop
  bool skipping_line_ = false;  // an over-long line: drop up to its end
};

}  // namespace poshta::imap
