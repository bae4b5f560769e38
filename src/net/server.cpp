#include "net/server.hpp"

#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/write.hpp>

namespace poshta::net {

Connection::Connection(asio::ip::tcp::socket socket, Server& server, std::string listener)
    : socket_(std::move(socket)), deadline_(socket_.get_executor()), server_(server), listener_(std::move(listener)) {
  std::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (!ec) {
    auto addr = ep.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    peer_ip_ = addr.to_string();
    peer_port_ = ep.port();
  }
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  registration_ = server_.add(this);
}

Connection::~Connection() {
  server_.remove(registration_);
}

void Connection::arm(std::chrono::seconds timeout) {
  timed_out_ = false;
  deadline_.expires_after(timeout);
  deadline_.async_wait([weak = weak_from_this()](std::error_code ec) {
    if (ec) return;
    if (auto self = weak.lock()) {
      self->timed_out_ = true;
      std::error_code ignored;
      self->socket_.cancel(ignored);
    }
  });
}

asio::awaitable<std::size_t> Connection::read_some(std::span<char> buf, std::chrono::seconds timeout,
                                                   std::error_code& ec) {
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
  deadline_.cancel();
  if (ec == asio::error::operation_aborted) {
    if (timed_out_) ec = std::make_error_code(std::errc::timed_out);
    interrupted_ = false;
  }
  co_return n;
}

asio::awaitable<void> Connection::write(std::string_view data, std::chrono::seconds timeout, std::error_code& ec) {
  ec.clear();
  arm(timeout);
  const auto buffer = asio::buffer(data.data(), data.size());
  if (tls_)
    co_await asio::async_write(*tls_, buffer, asio::redirect_error(asio::use_awaitable, ec));
  else
    co_await asio::async_write(socket_, buffer, asio::redirect_error(asio::use_awaitable, ec));
  deadline_.cancel();
  if (ec == asio::error::operation_aborted && timed_out_) ec = std::make_error_code(std::errc::timed_out);
}

asio::awaitable<void> Connection::start_tls(std::chrono::seconds timeout, std::error_code& ec) {
  ec.clear();
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, *tls_context_);
  arm(timeout);
  co_await tls_->async_handshake(asio::ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
  deadline_.cancel();
  if (ec == asio::error::operation_aborted && timed_out_) ec = std::make_error_code(std::errc::timed_out);
}

std::string Connection::tls_version() const {
  return tls_ ? SSL_get_version(tls_->native_handle()) : "";
}

std::string Connection::tls_cipher() const {
  return tls_ ? SSL_CIPHER_get_name(SSL_get_current_cipher(tls_->native_handle())) : "";
}

void Connection::interrupt() {
  interrupted_ = true;  // also covers a handler that is not reading right now
  std::error_code ignored;
  socket_.cancel(ignored);
}

void Connection::close() {
  std::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  deadline_.cancel();
}

Server::Server(Limits limits, std::size_t blocking_threads) : pool_(blocking_threads), limits_(limits) {}

Server::~Server() {
  pool_.join();
}

void Server::listen(const std::string& host, std::uint16_t port, const std::string& name, std::string busy_reply,
                    Handler handler) {
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host), port);
  auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(io_);
  acceptor->open(endpoint.protocol());
  acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true));
  if (endpoint.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true));
  acceptor->bind(endpoint);
  acceptor->listen(asio::socket_base::max_listen_connections);
  acceptors_.push_back(acceptor);
  asio::co_spawn(io_, accept_loop(acceptor, name, std::move(busy_reply), std::move(handler)), asio::detached);
}

asio::awaitable<void> Server::accept_loop(std::shared_ptr<asio::ip::tcp::acceptor> acceptor, std::string name,
                                          std::string busy_reply, Handler handler) {
  for (;;) {
    std::error_code ec;
    asio::ip::tcp::socket socket = co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (stopping_ || !acceptor->is_open()) co_return;
    if (ec) {
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        // Out of file descriptors: back off briefly instead of spinning.
        spdlog::error("net listener={} event=accept_failed error=\"{}\"", name, ec.message());
        asio::steady_timer pause(io_, std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      }
      continue;
    }
    auto conn = std::make_shared<Connection>(std::move(socket), *this, name);
    const auto count = per_ip_[conn->peer_ip()];
    if (connections_.size() > limits_.connections || count > limits_.connections_per_ip) {
      spdlog::warn("net listener={} client={} event=refused reason={}", name, conn->peer_ip(),
                   connections_.size() > limits_.connections ? "too_many_connections" : "too_many_from_client");
      std::error_code wec;
      co_await conn->write(busy_reply, std::chrono::seconds(5), wec);
      conn->close();
      continue;
    }
    asio::co_spawn(
        io_,
        [conn, handler]() -> asio::awaitable<void> {
          try {
            co_await handler(conn);
          } catch (const std::exception& e) {
            // A bug: close this connection, keep serving everyone else.
            spdlog::error("net client={} event=bug error=\"{}\"", conn->peer_ip(), e.what());
          }
          conn->close();
        },
        asio::detached);
  }
}

std::list<Connection*>::iterator Server::add(Connection* c) {
  ++per_ip_[c->peer_ip()];
  return connections_.insert(connections_.end(), c);
}

void Server::remove(std::list<Connection*>::iterator registration) {
  const std::string& ip = (*registration)->peer_ip();
  if (auto it = per_ip_.find(ip); it != per_ip_.end() && --it->second == 0) per_ip_.erase(it);
  connections_.erase(registration);
  if (stopping_ && connections_.empty()) grace_timer_.cancel();
}

void Server::run() {
  io_.run();
}

asio::awaitable<void> offload(Server& server, BlockingTask& task) {
  auto& io = server.context();
  auto& pool = server.pool();
  auto initiate = [&io, &pool](auto handler, BlockingTask* t) {
    auto work = asio::make_work_guard(io);
    asio::post(pool, [&io, t, handler = std::move(handler), work = std::move(work)]() mutable {
      t->run();
      asio::post(io, std::move(handler));
    });
  };
  return asio::async_initiate<decltype(asio::use_awaitable), void()>(initiate, asio::use_awaitable, &task);
}

void Server::stop(std::chrono::seconds grace) {
  if (stopping_) return;
  stopping_ = true;
  for (auto& a : acceptors_) {
    std::error_code ignored;
    a->close(ignored);
  }
  for (auto* c : connections_) c->interrupt();
  if (connections_.empty()) return;
  grace_timer_.expires_after(grace);
  grace_timer_.async_wait([this](std::error_code ec) {
    if (ec) return;
    spdlog::warn("net event=shutdown_grace_over connections={}", connections_.size());
    for (auto* c : connections_) c->close();
  });
}

}  // namespace poshta::net
