// Steps every protocol handler (SMTP, POP3, IMAP) takes the same way: the
// server side of a TLS handshake, and a login (password check on the thread
// pool, the growing delay after a failure, one log line either way).
#pragma once

#include <string>
#include <system_error>

#include <asio/awaitable.hpp>

#include "cli/password_check.hpp"
#include "net/server.hpp"
#include "net/tls.hpp"

namespace poshta::cli {

// `component` names the log lines ("imap session=... event=tls_failed").
asio::awaitable<void> server_handshake(net::Connection& conn, const net::TlsContextPtr& tls, const char* component,
                                       const std::string& session_id, std::error_code& ec);

// Runs `check`, logs the outcome, and after a failure waits the throttle's delay.
asio::awaitable<void> check_login(net::Server& server, AuthThrottle& throttle, net::Connection& conn,
                                  const char* component, const std::string& session_id, PasswordCheck& check);

// A login name without a domain is in the first local domain ("alice" -> "alice@example.org").
std::string login_address(const std::string& name, directory::Directory& directory);

}  // namespace poshta::cli
