// The IMAP listeners' handler: drives one imap::Session over a
// net::Connection, checks passwords through the directory, and carries out
// mailbox commands with an imap::Backend on the thread pool. While the
// client IDLEs, the session looks at the mailbox again within a second of a
// local delivery (MailboxEvents), and every 30 s for changes made by other
// programs.
#pragma once

#include <memory>

#include <asio/awaitable.hpp>

#include "cli/mailbox_events.hpp"
#include "cli/password_check.hpp"
#include "core/config.hpp"
#include "directory/directory.hpp"
#include "net/server.hpp"
#include "net/tls.hpp"
#include "store/maildir.hpp"

namespace poshta::cli {

struct ImapContext {
  net::Server& server;
  directory::Directory& directory;
  store::Maildir& maildir;
  AuthThrottle& throttle;
  MailboxEvents& events;
  const std::shared_ptr<const core::Config>& config;
  const net::TlsContextPtr& tls;
};

asio::awaitable<void> serve_imap(std::shared_ptr<net::Connection> conn, ImapContext& ctx, bool implicit_tls);

}  // namespace poshta::cli
