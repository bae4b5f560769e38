// smtp::DataFramer: the message content of DATA (RFC 5321 §4.1.1.4) or of
// BDAT chunks (RFC 3030), fed incrementally.
//
// DATA: the content ends at <CRLF>.<CRLF> and nowhere else; a line starting
// with a dot loses that dot (§4.5.2). A CR not followed by LF, or an LF not
// preceded by CR, never ends a line or the data (that is the SMTP smuggling
// class of bugs): it is recorded, and the session refuses the message once
// the real end arrives. BDAT: the session hands over exactly the chunk's
// octets; the same line-end and line-length checks apply, no dot handling.
//
// Content is appended to the caller's buffer with CRLF line ends as on the
// wire, up to `max_size` octets; past that it is counted and dropped, so a
// huge message costs no memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace poshta::smtp {

class DataFramer {
 public:
  enum class Mode { dot_terminated, counted };

  DataFramer(Mode mode, std::uint64_t max_size) : mode_(mode), max_size_(max_size) {}

  // Consumes input, appending content to `body`. In dot_terminated mode it
  // stops right after the final "<CRLF>.<CRLF>" and returns the octets used;
  // otherwise it consumes everything.
  std::size_t feed(std::string_view in, std::string& body);

  // Counted mode: the last chunk has arrived (a final CR without LF is bare).
  void end_of_content();

  bool done() const { return done_; }
  bool bare_line_end() const { return bare_line_end_; }  // bare CR or LF seen
  bool line_too_long() const { return line_too_long_; }  // a line over 1000 octets
  bool too_big() const { return size_ > max_size_; }
  std::uint64_t size() const { return size_; }  // content octets, kept or dropped

  // RFC 5321 §4.5.3.1.6: a text line is at most 1000 octets with its CRLF.
  static constexpr std::size_t kMaxLine = 1000;

 private:
  void emit(std::string_view s, std::string& body);
  void end_line();

  Mode mode_;
  std::uint64_t max_size_;
  std::uint64_t size_ = 0;
  std::size_t line_length_ = 0;  // wire octets of the current line so far
  bool line_start_ = true;       // the DATA command's CRLF counts as the first
  bool pending_cr_ = false;
  bool dot_only_ = false;  // current line so far is exactly "."
  bool done_ = false;
  bool bare_line_end_ = false;
  bool line_too_long_ = false;
};

}  // namespace poshta::smtp
