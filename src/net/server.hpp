// net::Server: the only place that owns sockets. It accepts connections on
// the configured listeners, enforces the connection limits (in total and per
// client address), and hands each connection to a protocol handler
// coroutine. Connection gives handlers reads and writes with deadlines and
// errors as values; the protocol logic itself stays in sans-IO sessions.
//
// Threads: one event loop runs every connection; blocking work (spool
// writes, fsync) goes to a thread pool through offload().
#pragma once

#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/thread_pool.hpp>
#include <asio/use_awaitable.hpp>

#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>

namespace poshta::net {

struct Limits {
  std::uint32_t connections = 5000;
  std::uint32_t connections_per_ip = 100;
};

class Server;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::ip::tcp::socket socket, Server& server, std::string listener);
  ~Connection();

  // Reads what is available (at most buf.size()). On timeout ec is
  // std::errc::timed_out; if the server interrupts the read (shutdown) it
  // is asio::error::operation_aborted.
  asio::awaitable<std::size_t> read_some(std::span<char> buf, std::chrono::seconds timeout, std::error_code& ec);
  asio::awaitable<void> write(std::string_view data, std::chrono::seconds timeout, std::error_code& ec);
  // The TLS handshake (STARTTLS, or at once for implicit TLS) with the
  // context `ctx`, which the connection keeps alive; afterwards reads and
  // writes go through TLS. (Two calls, so that no shared_ptr is passed
  // into the coroutine: see offload() below on g++ 12.)
  void use_tls_context(std::shared_ptr<asio::ssl::context> ctx) { tls_context_ = std::move(ctx); }
  asio::awaitable<void> start_tls(std::chrono::seconds timeout, std::error_code& ec);
  bool tls_active() const { return tls_ != nullptr; }
  std::string tls_version() const;  // "TLSv1.3"; empty without TLS
  std::string tls_cipher() const;
  // Cancels a pending read (the server is stopping).
  void interrupt();
  void close();

  const std::string& peer_ip() const { return peer_ip_; }
  std::uint16_t peer_port() const { return peer_port_; }
  const std::string& listener() const { return listener_; }

 private:
  void arm(std::chrono::seconds timeout);

  asio::ip::tcp::socket socket_;
  std::shared_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ssl::stream<asio::ip::tcp::socket&>> tls_;
  asio::steady_timer deadline_;
  Server& server_;
  std::string listener_;
  std::string peer_ip_;
  std::uint16_t peer_port_ = 0;
  std::list<Connection*>::iterator registration_;
  bool timed_out_ = false;
  bool interrupted_ = false;
};

using Handler = std::function<asio::awaitable<void>(const std::shared_ptr<Connection>&)>;

class Server {
 public:
  Server(Limits limits, std::size_t blocking_threads);
  ~Server();

  asio::io_context& context() { return io_; }
  asio::thread_pool& pool() { return pool_; }

  // Binds a listener (throws std::system_error if it cannot: start-up only).
  // `busy_reply` is written to a client refused by the connection limits.
  void listen(const std::string& host, std::uint16_t port, const std::string& name, std::string busy_reply,
              Handler handler);

  // Runs the event loop until stop() has finished and every connection is done.
  void run();
  // Stops accepting, asks every handler to finish (interrupt), and force-closes
  // what is still open after `grace`.
  void stop(std::chrono::seconds grace);
  bool stopping() const { return stopping_; }

  void set_limits(Limits limits) { limits_ = limits; }
  std::size_t connection_count() const { return connections_.size(); }

 private:
  friend class Connection;
  asio::awaitable<void> accept_loop(std::shared_ptr<asio::ip::tcp::acceptor> acceptor, std::string name,
                                    std::string busy_reply, Handler handler);
  std::list<Connection*>::iterator add(Connection* c);
  void remove(std::list<Connection*>::iterator registration);

  asio::io_context io_{1};
  asio::thread_pool pool_;
  Limits limits_;
  std::vector<std::shared_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::list<Connection*> connections_;
  std::unordered_map<std::string, std::uint32_t> per_ip_;
  asio::steady_timer grace_timer_{io_};
  bool stopping_ = false;
};

// Blocking work for the thread pool (spool writes, group commit).
class BlockingTask {
 public:
  virtual ~BlockingTask() = default;
  virtual void run() = 0;
};

// Runs `task` on the server's thread pool and resumes the calling coroutine
// on the event loop once it has returned; the caller keeps `task` alive.
// (It takes a reference on purpose: g++ 12 destroys non-trivial temporaries
// of a co_await expression twice, so none may appear there.)
asio::awaitable<void> offload(Server& server, BlockingTask& task);

}  // namespace poshta::net
