// The POP3 listeners' handler: drives one pop3::Session over a
// net::Connection, checks passwords through the directory, opens the user's
// Maildir through store::Mailbox (one POP3 session per maildrop at a time),
// streams messages, and applies deletions at QUIT.
#pragma once

#include <memory>
#include <set>
#include <string>

#include <asio/awaitable.hpp>

#include "cli/password_check.hpp"
#include "core/config.hpp"
#include "directory/directory.hpp"
#include "net/server.hpp"
#include "net/tls.hpp"
#include "store/maildir.hpp"

namespace poshta::cli {

struct Pop3Context {
  net::Server& server;
  directory::Directory& directory;
  store::Maildir& maildir;  // where each user's mailbox is
  AuthThrottle& throttle;
  const std::shared_ptr<const core::Config>& config;  // the current one (replaced on SIGHUP)
  const net::TlsContextPtr& tls;
  std::set<std::string> in_use;  // maildrops with a session in TRANSACTION; event loop only
};

// `implicit_tls`: the pop3s listener (RFC 8314), TLS before the greeting.
asio::awaitable<void> serve_pop3(std::shared_ptr<net::Connection> conn, Pop3Context& ctx, bool implicit_tls);

}  // namespace poshta::cli
