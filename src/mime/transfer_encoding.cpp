#include "mime/transfer_encoding.hpp"

#include "core/base64.hpp"
#include "mime/lexer.hpp"

namespace poshta::mime {

namespace {

std::string base64(std::string_view in) {
  std::string out;
  out.reserve(in.size() * 3 / 4);
  unsigned bits = 0;
  int count = 0;
  for (char c : in) {
    if (c == '=') break;  // padding: the end
    const int v = core::base64_value(c);
    if (v < 0) continue;  // line ends and anything else outside the alphabet (RFC 2045 §6.8)
    bits = (bits << 6) | static_cast<unsigned>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> count) & 0xFF);
    }
  }
  return out;
}

std::string quoted_printable(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c != '=') {
      out += c;
      continue;
    }
    // "=" at the end of a line (after optional trailing white space) is a soft break (§6.7 rule 5).
    std::size_t j = i + 1;
    while (j < in.size() && (in[j] == ' ' || in[j] == '\t')) ++j;
    if (j < in.size() && (in[j] == '\r' || in[j] == '\n')) {
      if (in[j] == '\r' && j + 1 < in.size() && in[j + 1] == '\n') ++j;
      i = j;
      continue;
    }
    if (j >= in.size()) break;  // "=" at the very end: a soft break
    if (i + 2 < in.size() && lex::hex_value(in[i + 1]) >= 0 && lex::hex_value(in[i + 2]) >= 0) {
      out += static_cast<char>(lex::hex_value(in[i + 1]) * 16 + lex::hex_value(in[i + 2]));
      i += 2;
      continue;
    }
    out += c;  // malformed: kept as it is
  }
  return out;
}

}  // namespace

std::optional<std::string> decode_transfer_encoding(std::string_view body, std::string_view encoding) {
  if (encoding == "base64") return base64(body);
  if (encoding == "quoted-printable") return quoted_printable(body);
  if (encoding == "7bit" || encoding == "8bit" || encoding == "binary" || encoding.empty()) return std::string(body);
  return std::nullopt;
}

}  // namespace poshta::mime
