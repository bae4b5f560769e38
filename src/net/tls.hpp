// net TLS: the server-side TLS context shared by every listener (SMTP now,
// IMAP and POP3 later): TLS 1.2 and 1.3 only, the Mozilla "intermediate"
// cipher list, the certificate and key of [tls], or, without them, a
// self-signed certificate for `hostname` made in <data_dir>/tls/ on first
// start and reused afterwards.
#pragma once

#include <asio/ssl/context.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "core/config.hpp"

namespace poshta::net {

using TlsContextPtr = std::shared_ptr<asio::ssl::context>;

// Builds the context from the configuration. Throws std::runtime_error with
// a message that names the file at fault (start-up and SIGHUP reload only).
TlsContextPtr make_tls_context(const core::Config& config);

// The client-side context for relaying: TLS 1.2 and 1.3, certificates not
// verified (opportunistic TLS between MTAs, RFC 7435).
TlsContextPtr make_client_tls_context();

// Writes a self-signed certificate and its key (mode 0600) for `hostname`.
void make_self_signed(const std::filesystem::path& certificate, const std::filesystem::path& key,
                      const std::string& hostname);

}  // namespace poshta::net
