// RFC 3461 §4.1 NOTIFY as bits: parsed by the SMTP session, kept in the
// queue's envelopes, read by delivery and the DSN builder.
#pragma once

#include <cstdint>

namespace poshta::core::notify {

inline constexpr std::uint8_t never = 1, success = 2, failure = 4, delay = 8;  // 0: not given

}  // namespace poshta::core::notify
