// Identifiers: queue ids (sortable by arrival, unique within a spool when
// created with O_EXCL) and short session ids for log lines.
#pragma once

#include <string>

namespace poshta::core {

// 16 lower-case hex digits: 13 of microseconds since the epoch, 3 of a
// process-wide counter that starts at random. Unique in practice; the spool also creates its files
// exclusively, so a collision is retried, never overwritten.
std::string new_queue_id();

// 8 hex digits, random per process start, then counting.
std::string new_session_id();

}  // namespace poshta::core
