// RFC 5322 §3.3 date-time, as Poshta writes it (Date:, Received:, DSN fields).
#pragma once

#include <cstdint>
#include <string>

namespace poshta::mime {

// In UTC: "Thu, 26 Nov 2026 06:30:00 +0000".
std::string rfc5322_date(std::int64_t unix_seconds);

}  // namespace poshta::mime
