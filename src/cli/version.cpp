#include <fmt/core.h>
#include <openssl/opensslv.h>
#include <spdlog/version.h>
#include <sqlite3.h>
#include <toml++/impl/version.h>
#include <zlib.h>
#include <asio/version.hpp>

#include <iostream>

#include "cli/commands.hpp"

namespace poshta::cli {

int version() {
  std::cout << "poshta " POSHTA_VERSION "\n"
            << "built with: OpenSSL " << OPENSSL_VERSION_STR << ", SQLite " << sqlite3_libversion() << ", Asio "
            << ASIO_VERSION / 100000 << "." << ASIO_VERSION / 100 % 1000 << "." << ASIO_VERSION % 100 << ", toml++ "
            << TOML_LIB_MAJOR << "." << TOML_LIB_MINOR << "." << TOML_LIB_PATCH << ", spdlog " << SPDLOG_VER_MAJOR
            << "." << SPDLOG_VER_MINOR << "." << SPDLOG_VER_PATCH << ", fmt " << FMT_VERSION / 10000 << "."
            << FMT_VERSION / 100 % 100 << "." << FMT_VERSION % 100 << ", zlib " << zlibVersion() << "\n";
  return 0;
}

}  // namespace poshta::cli
