#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace poshta::core {

void init_logging(bool verbose) {
  auto logger = spdlog::stderr_logger_mt("poshta");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %-5l %v");
  logger->set_level(verbose ? spdlog::level::debug : spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  spdlog::set_default_logger(logger);
}

}  // namespace poshta::core
