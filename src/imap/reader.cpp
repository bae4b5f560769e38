#include "imap/reader.hpp"

#include <algorithm>
#include <charconv>
#include <utility>

namespace poshta::imap {

namespace {

// Literals longer than this must not be sent non-synchronizing (RFC 7888 §4, LITERAL-).
constexpr std::uint64_t kMaxNonSyncLiteral = 4096;

struct LiteralMark {
  std::uint64_t size = 0;
  bool sync = true;
  bool binary = false;
  std::size_t start = 0;  // where the "{" (or "~{") begins in the line
};

// "... {123}" / "{123+}" / "~{123}" at the end of a line.
std::optional<LiteralMark> literal_at_end(std::string_view line) {
  if (line.empty() || line.back() != '}') return std::nullopt;
  const auto open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view inside = line.substr(open + 1, line.size() - open - 2);
  LiteralMark mark;
  if (!inside.empty() && inside.back() == '+') {
    mark.sync = false;
    inside.remove_suffix(1);
  }
  if (inside.empty() || inside.size() > 19) return std::nullopt;
  auto [end, ec] = std::from_chars(inside.data(), inside.data() + inside.size(), mark.size);
  if (ec != std::errc{} || end != inside.data() + inside.size()) return std::nullopt;
  mark.start = open;
  if (open > 0 && line[open - 1] == '~') {
    mark.binary = true;
    mark.start = open - 1;
  }
  return mark;
}

bool is_append(const RawCommand& c) {
  if (c.chunks.empty()) return false;
  std::string_view t = c.chunks.front().data;
  const auto sp = t.find(' ');
  if (sp == std::string_view::npos) return false;
  t.remove_prefix(sp + 1);
  const std::string_view verb = t.substr(0, t.find(' '));
  if (verb.size() != 6) return false;
  return std::equal(verb.begin(), verb.end(), "APPEND",
                    [](char a, char b) { return (a >= 'a' && a <= 'z' ? a - 32 : a) == b; });
}

}  // namespace

void Reader::feed(std::string_view bytes) {
  buffer_.append(bytes);
}

std::string Reader::take_output() {
  return std::exchange(output_, {});
}

bool Reader::take_line(std::string& line) {
  const auto nl = buffer_.find('\n');
  if (nl == std::string::npos) {
    if (buffer_.size() > kMaxText) {  // no line end in sight: drop what is there, remember to skip to it
      buffer_.resize(256);            // but the start, for the tag
      skipping_line_ = true;
    }
    return false;
  }
  line.assign(buffer_, 0, nl);
  buffer_.erase(0, nl + 1);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

std::optional<std::string> Reader::next_line() {
  std::string line;
  while (take_line(line)) {
    if (skipping_line_) {
      skipping_line_ = false;
      continue;
    }
    return line;
  }
  return std::nullopt;
}

std::optional<RawCommand> Reader::next() {
  for (;;) {
    if (in_literal_) {
      const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(literal_left_, buffer_.size()));
      if (!discarding_) current_.chunks.back().data.append(buffer_, 0, n);
      buffer_.erase(0, n);
      literal_left_ -= n;
      if (literal_left_ > 0) return std::nullopt;
      in_literal_ = false;
      current_.chunks.push_back({});  // the rest of the command follows the literal
      continue;
    }
    std::string line;
    if (!take_line(line)) return std::nullopt;
    if (skipping_line_) {  // the end of a line that was too long
      skipping_line_ = false;
      discarding_ = true;
      if (current_.chunks.empty()) current_.chunks.push_back({false, false, line.substr(0, 256)});
    }
    if (auto done = after_line(std::move(line))) return done;
  }
}

std::optional<RawCommand> Reader::after_line(std::string line) {
  text_size_ += line.size();
  if (text_size_ > kMaxText && !discarding_) {
    discarding_ = true;
    if (current_.chunks.empty()) current_.chunks.push_back({false, false, line.substr(0, 256)});
  }
  const auto mark = literal_at_end(line);
  if (!discarding_) {
    if (current_.chunks.empty()) current_.chunks.push_back({});
    current_.chunks.back().data += mark ? line.substr(0, mark->start) : line;
  }
  if (mark) {
    const std::uint64_t limit = is_append(current_) ? append_limit_ : kMaxText;
    // Each literal within the limit, and all of a command's together within it and kMaxText more.
    literal_octets_ = mark->size > limit ? limit + 1 : literal_octets_ + mark->size;
    const bool too_big = mark->size > limit || literal_octets_ > limit + kMaxText;
    if (too_big && mark->sync) {
      // The client waits for "+": answer instead, and it sends nothing more.
      discarding_ = true;
    } else {
      if (too_big || (!mark->sync && mark->size > limit + kMaxNonSyncLiteral)) discarding_ = true;
      if (mark->sync) output_ += "+ Ready for literal data\r\n";
      if (!discarding_) current_.chunks.push_back({true, mark->binary, {}});
      in_literal_ = true;
      literal_left_ = mark->size;
      if (!discarding_) current_.chunks.back().data.reserve(static_cast<std::size_t>(mark->size));
      return std::nullopt;
    }
  }
  RawCommand out = std::move(current_);
  out.too_long = discarding_;
  if (discarding_ && out.chunks.size() > 1) out.chunks.resize(1);
  current_ = {};
  text_size_ = 0;
  literal_octets_ = 0;
  discarding_ = false;
  return out;
}

}  // namespace poshta::imap
