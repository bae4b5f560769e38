#include "smtp/reply_reader.hpp"

namespace poshta::smtp {

namespace {

constexpr std::size_t kMaxLine = 4096;
constexpr std::size_t kMaxLines = 256;

bool digit(char c) {
  return c >= '0' && c <= '9';
}

// 1-3 digits.
std::size_t digits(std::string_view s, std::size_t pos) {
  std::size_t n = 0;
  while (pos + n < s.size() && n < 4 && digit(s[pos + n])) ++n;
  return n >= 1 && n <= 3 ? n : 0;
}

}  // namespace

std::string_view leading_enhanced_code(std::string_view text) {
  // class "." subject "." detail, class 2, 4 or 5 (RFC 3463 §2)
  if (text.size() < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') return {};
  std::size_t pos = 2;
  const std::size_t subject = digits(text, pos);
  if (!subject) return {};
  pos += subject;
  if (pos >= text.size() || text[pos] != '.') return {};
  ++pos;
  const std::size_t detail = digits(text, pos);
  if (!detail) return {};
  pos += detail;
  if (pos < text.size() && text[pos] != ' ') return {};
  return text.substr(0, pos);
}

std::string ServerReply::enhanced() const {
  return lines.empty() ? std::string() : std::string(leading_enhanced_code(lines.front()));
}

std::string ServerReply::text() const {
  std::string out = std::to_string(code);
  for (const auto& l : lines) {
    out += ' ';
    out += l;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

void ReplyReader::feed(std::string_view bytes) {
  buffer_.append(bytes);
}

std::optional<ServerReply> ReplyReader::next() {
  while (!broken_) {
    const auto nl = buffer_.find('\n', scanned_);
    if (nl == std::string::npos) {
      scanned_ = buffer_.size();
      if (buffer_.size() > kMaxLine + 1) broken_ = true;  // + 1: the CR of a line of kMaxLine
      return std::nullopt;
    }
    std::string_view line(buffer_.data(), nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() > kMaxLine || line.size() < 3 || !digit(line[0]) || !digit(line[1]) || !digit(line[2]) ||
        line[0] < '2' || line[0] > '5' || (line.size() > 3 && line[3] != ' ' && line[3] != '-')) {
      broken_ = true;
      return std::nullopt;
    }
    const int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    const bool last = line.size() == 3 || line[3] == ' ';
    if (!partial_) partial_.emplace().code = code;
    if (partial_->code != code || partial_->lines.size() >= kMaxLines) {
      broken_ = true;
      return std::nullopt;
    }
    partial_->lines.emplace_back(line.size() > 4 ? line.substr(4) : std::string_view());
    buffer_.erase(0, nl + 1);
    scanned_ = 0;
    if (last) {
      auto out = std::move(*partial_);
      partial_.reset();
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace poshta::smtp
