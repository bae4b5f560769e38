// The base64 alphabet (RFC 4648 §4), shared by the strict decoder of SASL
// and the lenient ones of MIME (encoded words, Content-Transfer-Encoding).
#pragma once

namespace poshta::core {

// The value of a base64 digit, or -1 for anything else ('=' included).
constexpr int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace poshta::core
