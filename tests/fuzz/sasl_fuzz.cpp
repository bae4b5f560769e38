// SASL decoding: the client's lines of an AUTH exchange (base64, PLAIN and
// LOGIN payloads) never crash the server side, whatever they hold; what
// base64_decode accepts re-encodes to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "auth/sasl.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using poshta::auth::SaslServer;
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto decoded = poshta::auth::base64_decode(in); decoded && poshta::auth::base64_encode(*decoded) != in) {
    std::abort();
  }
  // The input split at newlines is one exchange, for each mechanism.
  for (const char* mechanism : {"PLAIN", "LOGIN"}) {
    auto sasl = SaslServer::create(mechanism);
    std::string_view rest = in;
    const auto nl = rest.find('\n');
    auto step = sasl->begin(nl == std::string_view::npos ? std::optional<std::string_view>() : rest.substr(0, nl));
    rest = nl == std::string_view::npos ? rest : rest.substr(nl + 1);
    while (step.status == SaslServer::Status::challenge && !rest.empty()) {
      const auto next = rest.find('\n');
      step = sasl->respond(rest.substr(0, next));
      rest = next == std::string_view::npos ? std::string_view() : rest.substr(next + 1);
    }
    if (step.status == SaslServer::Status::done && sasl->credentials().username.empty()) std::abort();
  }
  return 0;
}
