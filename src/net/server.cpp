#include "net/server.hpp"

#include <algorithm>
#include <thread>

#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/v6_only.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/write.hpp>

namespace poshta::net {

Connection::Connection(asio::ip::tcp::socket socket, Server& server, std::string listener)
    : Stream(std::move(socket)), server_(server), listener_(std::move(listener)) {
  std::error_code ec;
  auto ep = this->socket().remote_endpoint(ec);
  if (!ec) {
    auto addr = ep.address();
    if (addr.is_v6() && addr.to_v6().is_v4_mapped())
      addr = asio::ip::make_address_v4(asio::ip::v4_mapped, addr.to_v6());
    peer_ip_ = addr.to_string();
    peer_port_ = ep.port();
  }
  registration_ = server_.add(this);
}

Connection::~Connection() {
  server_.remove(registration_);
}

Server::Server(Limits limits, std::size_t blocking_threads)
    : pool_(blocking_threads), cpu_pool_(std::max(1u, std::thread::hardware_concurrency())), limits_(limits) {}

Server::~Server() {
  pool_.join();
  cpu_pool_.join();
}

std::size_t Server::bind(const std::string& host, std::uint16_t port) {
  const asio::ip::tcp::endpoint endpoint(asio::ip::make_address(host), port);
  auto acceptor = std::make_shared<asio::ip::tcp::acceptor>(io_);
  acceptor->open(endpoint.protocol());
  acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true));
  if (endpoint.address().is_v6()) acceptor->set_option(asio::ip::v6_only(true));
  acceptor->bind(endpoint);
  acceptor->listen(asio::socket_base::max_listen_connections);
  acceptors_.push_back(acceptor);
  return acceptors_.size() - 1;
}

void Server::listen(std::size_t bound, const std::string& name, std::string busy_reply, Handler handler) {
  asio::co_spawn(io_, accept_loop(acceptors_.at(bound), name, std::move(busy_reply), std::move(handler)),
                 asio::detached);
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
    if (const char* reason = refusal(conn->peer_ip())) {
      spdlog::warn("net listener={} client={} event=refused reason=\"{}\"", name, conn->peer_ip(), reason);
      std::string reply = busy_reply;
      if (const auto at = reply.find("{}"); at != std::string::npos) reply.replace(at, 2, reason);
      // Not awaited here: a client that does not read must not hold up the listener.
      asio::co_spawn(
          io_,
          [conn, reply = std::move(reply)]() -> asio::awaitable<void> {
            std::error_code wec;
            co_await conn->write(reply, std::chrono::seconds(5), wec);
            conn->close();
          },
          asio::detached);
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

bool Server::rate_limited(const std::string& ip) const {
  return std::none_of(limits_.rate_limit_exempt.begin(), limits_.rate_limit_exempt.end(),
                      [&ip](const core::Network& n) { return n.contains(ip); });
}

const char* Server::refusal(const std::string& ip) {
  // The connection itself is counted already (Connection's constructor).
  if (connections_.size() > limits_.connections) return "Too many connections";
  if (per_ip_[ip] > limits_.connections_per_ip) return "Too many connections from your address";
  if (!rate_limited(ip)) return nullptr;
  const auto now = ClientRates::Clock::now();
  if (limits_.auth_failures_per_ip != 0 && failed_logins_.rate(ip, now) >= limits_.auth_failures_per_ip)
    return "Too many failed logins from your address";
  // Every attempt counts, refused ones too: a flood stays refused.
  if (limits_.connection_rate_per_ip != 0 && new_connections_.add(ip, now) > limits_.connection_rate_per_ip)
    return "Too many new connections from your address";
  return nullptr;
}

void Server::note_auth_failure(const std::string& ip) {
  if (rate_limited(ip)) failed_logins_.add(ip, ClientRates::Clock::now());
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

asio::awaitable<void> offload(Server& server, BlockingTask& task, Work kind) {
  auto& io = server.context();
  auto& pool = kind == Work::cpu ? server.cpu_pool() : server.pool();
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
  for (auto& callback : on_stop_) callback();
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
