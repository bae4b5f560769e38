// The SMTP and LMTP listeners' handler: drives one smtp::ServerSession over a
// net::Connection and answers its requests from the directory (recipients,
// VRFY, EXPN) and the queue (make the message durable, then reply).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include <asio/awaitable.hpp>

#include "cli/password_check.hpp"
#include "core/config.hpp"
#include "delivery/runner.hpp"
#include "directory/directory.hpp"
#include "net/server.hpp"
#include "net/tls.hpp"
#include "queue/journal.hpp"
#include "queue/spool.hpp"
#include "smtp/server_session.hpp"

namespace poshta::cli {

struct SmtpContext {
  net::Server& server;
  directory::Directory& directory;
  queue::Journal& journal;
  queue::Spool& spool;
  delivery::Runner& runner;
  std::shared_ptr<const core::Config> config;  // replaced on SIGHUP; read on the event loop only
  net::TlsContextPtr tls;                      // replaced on SIGHUP; null if TLS could not be set up
  AuthThrottle& throttle;                      // shared with POP3 and IMAP
};

// `implicit_tls`: the submissions listener (RFC 8314), TLS before the greeting.
asio::awaitable<void> serve_smtp(std::shared_ptr<net::Connection> conn, SmtpContext& ctx, smtp::Flavor flavor,
                                 bool implicit_tls);

}  // namespace poshta::cli
