#include "smtp/reply.hpp"

namespace poshta::smtp {

void append_reply(std::string& wire, const Reply& reply) {
  const std::string code = std::to_string(reply.code);
  std::string_view text = reply.text;
  for (;;) {
    const auto nl = text.find('\n');
    const bool last = nl == std::string_view::npos;
    wire += code;
    wire += last ? ' ' : '-';
    if (!reply.enhanced.empty()) {
      wire += reply.enhanced;
      wire += ' ';
    }
    wire += last ? text : text.substr(0, nl);
    wire += "\r\n";
    if (last) break;
    text.remove_prefix(nl + 1);
  }
}

}  // namespace poshta::smtp
