#include "cli/service_steps.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>

namespace poshta::cli {

namespace {

constexpr std::chrono::seconds kHandshakeTimeout{60};

}  // namespace

asio::awaitable<void> server_handshake(net::Connection& conn, const net::TlsContextPtr& tls, const char* component,
                                       const std::string& session_id, std::error_code& ec) {
  conn.use_tls_context(tls);
  co_await conn.start_tls(asio::ssl::stream_base::server, "", kHandshakeTimeout, ec);
  if (ec) {
    spdlog::info("{} session={} event=tls_failed error=\"{}\"", component, session_id, ec.message());
  } else {
    spdlog::info("{} session={} event=tls version={} cipher={}", component, session_id, conn.tls_version(),
                 conn.tls_cipher());
  }
}

asio::awaitable<void> check_login(net::Server& server, AuthThrottle& throttle, net::Connection& conn,
                                  const char* component, const std::string& session_id, PasswordCheck& check) {
  co_await net::offload(server, check, net::Work::cpu);
  const auto delay = throttle.delay(conn.peer_ip(), check.ok());
  if (check.ok()) {
    spdlog::info("{} session={} event=authenticated user={}", component, session_id, check.user());
    co_return;
  }
  spdlog::warn("{} session={} event=auth_failed user=\"{}\" client={}", component, session_id, check.user(),
               conn.peer_ip());
  server.note_auth_failure(conn.peer_ip());
  asio::steady_timer penalty(server.context(), delay);
  std::error_code ignored;
  co_await penalty.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

std::string login_address(const std::string& name, directory::Directory& directory) {
  return name.find('@') == std::string::npos ? name + "@" + directory.primary_domain() : name;
}

}  // namespace poshta::cli
