// Logging: one key=value line per event on stderr (spdlog). The first word
// after the level names the component; see README "Logs".
#pragma once

#include <spdlog/spdlog.h>

namespace poshta::core {

// Sets up the process-wide logger; called once by main before anything logs.
void init_logging(bool verbose);

}  // namespace poshta::core
