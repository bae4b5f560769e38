// net::Stream: a TCP socket with optional TLS and per-operation deadlines,
// errors as values. The server's connections and the outgoing connections of
// delivery are both Streams; only who opened the socket differs.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace poshta::net {

class Stream {
 public:
  explicit Stream(asio::ip::tcp::socket socket);
  virtual ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;

  // Reads what is available (at most buf.size()). On timeout ec is
  // std::errc::timed_out; if interrupt() cancels the read it is
  // asio::error::operation_aborted.
  asio::awaitable<std::size_t> read_some(std::span<char> buf, std::chrono::seconds timeout, std::error_code& ec);
  asio::awaitable<void> write(std::string_view data, std::chrono::seconds timeout, std::error_code& ec);
  // The TLS handshake with the context `ctx`, which the stream keeps alive;
  // afterwards reads and writes go through TLS. A client handshake sends
  // `server_name` as SNI. (Two calls, so that no shared_ptr is passed into
  // the coroutine: see net::offload on g++ 12.)
  void use_tls_context(std::shared_ptr<asio::ssl::context> ctx) { tls_context_ = std::move(ctx); }
  asio::awaitable<void> start_tls(asio::ssl::stream_base::handshake_type role, std::string_view server_name,
                                  std::chrono::seconds timeout, std::error_code& ec);
  bool tls_active() const { return tls_ != nullptr; }
  std::string tls_version() const;  // "TLSv1.3"; empty without TLS
  std::string tls_cipher() const;
  // Cancels a pending read (the server is stopping).
  void interrupt();
  void close();

 protected:
  asio::ip::tcp::socket& socket() { return socket_; }

 private:
  void arm(std::chrono::seconds timeout);
  std::error_code finish(std::error_code ec);

  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  asio::steady_timer deadline_;
  // The deadline handler may run after the stream is gone: it holds this weakly.
  std::shared_ptr<Stream*> self_ = std::make_shared<Stream*>(this);
  bool timed_out_ = false;
  bool interrupted_ = false;
};

// Connects `socket` to the unix-domain stream socket at `path` (an LMTP
// server such as Dovecot's). Asio's TCP socket object carries the
// descriptor: reads, writes and TLS are the same on any stream socket.
std::error_code connect_unix(asio::ip::tcp::socket& socket, const std::string& path);

// Connects `socket` to `endpoint` within `timeout` (ec: std::errc::timed_out).
asio::awaitable<void> connect(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& endpoint,
                              std::chrono::seconds timeout, std::error_code& ec);

}  // namespace poshta::net
