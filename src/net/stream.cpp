#include "net/stream.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace poshta::net {

Stream::Stream(asio::ip::tcp::socket socket) : socket_(std::move(socket)), deadline_(socket_.get_executor()) {
  std::error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
}

Stream::~Stream() = default;

void Stream::arm(std::chrono::seconds timeout) {
  timed_out_ = false;
  deadline_.expires_after(timeout);
  deadline_.async_wait([weak = std::weak_ptr<Stream*>(self_)](std::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      (*self)->timed_out_ = true;
      std::error_code ignored;
      (*self)->socket_.cancel(ignored);
    }
  });
}

std::error_code Stream::finish(std::error_code ec) {
  deadline_.cancel();
  if (ec == asio::error::operation_aborted && timed_out_) return std::make_error_code(std::errc::timed_out);
  return ec;
}

asio::awaitable<std::size_t> Stream::read_some(std::span<char> buf, std::chrono::seconds timeout, std::error_code& ec) {
  ec.clear();
  if (interrupted_) {
    interrupted_ = false;
    ec = asio::error::operation_aborted;
    co_return 0;
  }
  arm(timeout);
  const auto buffer = asio::buffer(buf.data(), buf.size());
  std::size_t n = 0;
  if (tls_)
    n = co_await tls_->async_read_some(buffer, asio::redirect_error(asio::use_awaitable, ec));
  else
    n = co_await socket_.async_read_some(buffer, asio::redirect_error(asio::use_awaitable, ec));
  ec = finish(ec);
  if (ec == asio::error::operation_aborted) interrupted_ = false;
  co_return n;
}

asio::awaitable<void> Stream::write(std::string_view data, std::chrono::seconds timeout, std::error_code& ec) {
  ec.clear();
  arm(timeout);
  const auto buffer = asio::buffer(data.data(), data.size());
  if (tls_)
    co_await asio::async_write(*tls_, buffer, asio::redirect_error(asio::use_awaitable, ec));
  else
    co_await asio::async_write(socket_, buffer, asio::redirect_error(asio::use_awaitable, ec));
  ec = finish(ec);
}

asio::awaitable<void> Stream::start_tls(asio::ssl::stream_base::handshake_type role, std::string_view server_name,
                                        std::chrono::seconds timeout, std::error_code& ec) {
  ec.clear();
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
  if (role == asio::ssl::stream_base::client && !server_name.empty()) {
    const std::string name(server_name);
    SSL_set_tlsext_host_name(tls_->native_handle(), name.c_str());
  }
  arm(timeout);
  co_await tls_->async_handshake(role, asio::redirect_error(asio::use_awaitable, ec));
  ec = finish(ec);
}

std::string Stream::tls_version() const {
  return tls_ ? SSL_get_version(tls_->native_handle()) : "";
}

std::string Stream::tls_cipher() const {
  return tls_ ? SSL_CIPHER_get_name(SSL_get_current_cipher(tls_->native_handle())) : "";
}

void Stream::interrupt() {
  interrupted_ = true;  // also covers a handler that is not reading right now
  std::error_code ignored;
  socket_.cancel(ignored);
}

void Stream::close() {
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  deadline_.cancel();
}

std::error_code connect_unix(asio::ip::tcp::socket& socket, const std::string& path) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return std::make_error_code(std::errc::filename_too_long);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return {errno, std::generic_category()};
  // A local connect completes at once or fails at once: no need to wait.
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    ::close(fd);
    return {e, std::generic_category()};
  }
  std::error_code ec;
  socket.assign(asio::ip::tcp::v4(), fd, ec);
  if (ec) ::close(fd);
  return ec;
}

asio::awaitable<void> connect(asio::ip::tcp::socket& socket, const asio::ip::tcp::endpoint& endpoint,
                              std::chrono::seconds timeout, std::error_code& ec) {
  ec.clear();
  asio::steady_timer deadline(socket.get_executor(), timeout);
  // The handler may run after this frame is gone: it holds the flag weakly.
  auto timed_out = std::make_shared<bool>(false);
  deadline.async_wait([&socket, weak = std::weak_ptr<bool>(timed_out)](std::error_code e) {
    auto flag = weak.lock();
    if (e || !flag) return;
    *flag = true;
    std::error_code ignored;
    socket.cancel(ignored);
  });
  co_await socket.async_connect(endpoint, asio::redirect_error(asio::use_awaitable, ec));
  deadline.cancel();
  if (ec == asio::error::operation_aborted && *timed_out) ec = std::make_error_code(std::errc::timed_out);
}

}  // namespace poshta::net
