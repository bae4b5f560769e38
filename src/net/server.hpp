// net::Server: the only place that owns sockets. It accepts connections on
// the configured listeners, enforces the connection limits (in total and per
// client address, and the rates per address of new connections and failed
// logins), and hands each connection to a protocol handler coroutine. Connection gives handlers reads and writes with
// deadlines and errors as values; the protocol logic itself stays in sans-IO sessions.
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
#include <vector>

#include "core/network.hpp"
#include "net/client_rates.hpp"
#include "net/stream.hpp"

namespace poshta::net {

struct Limits {
  std::uint32_t connections = 5000;
  std::uint32_t connections_per_ip = 100;
  std::uint32_t connection_rate_per_ip = 60;  // new connections per minute; 0: no limit
  std::uint32_t auth_failures_per_ip = 10;    // failed logins per minute, then refused; 0: no limit
  std::vector<core::Network> rate_limit_exempt;
};

class Server;

// A client's connection to one of the listeners.
class Connection : public Stream, public std::enable_shared_from_this<Connection> {
 public:
  Connection(asio::ip::tcp::socket socket, Server& server, std::string listener);
  ~Connection() override;

  const std::string& peer_ip() const { return peer_ip_; }
  std::uint16_t peer_port() const { return peer_port_; }
  const std::string& listener() const { return listener_; }

 private:
  Server& server_;
  std::string listener_;
  std::string peer_ip_;
  std::uint16_t peer_port_ = 0;
  std::list<Connection*>::iterator registration_;
};

using Handler = std::function<asio::awaitable<void>(const std::shared_ptr<Connection>&)>;

class Server {
 public:
  Server(Limits limits, std::size_t blocking_threads);
  ~Server();

  asio::io_context& context() { return io_; }
  asio::thread_pool& pool() { return pool_; }
  asio::thread_pool& cpu_pool() { return cpu_pool_; }

  // Binds a listening socket (throws std::system_error if it cannot:
  // start-up only, before privileges are given up); accepts nothing yet.
  // Returns its number for listen().
  std::size_t bind(const std::string& host, std::uint16_t port);
  // Starts accepting on the socket bind() returned `bound` for, once run()
  // runs. `busy_reply` is written to a client refused by the limits, with
  // the reason in place of "{}" ("421 4.7.0 {}, try again later\r\n").
  void listen(std::size_t bound, const std::string& name, std::string busy_reply, Handler handler);
  // A failed login from `ip` (event loop only): too many in a minute and
  // the address gets no new connection for a while.
  void note_auth_failure(const std::string& ip);

  // Runs the event loop until stop() has finished and every connection is done.
  void run();
  // Stops accepting, asks every handler to finish (interrupt), and force-closes
  // what is still open after `grace`.
  void stop(std::chrono::seconds grace);
  bool stopping() const { return stopping_; }

  // Called (on the event loop) when stop() begins: other parts stop too.
  void on_stop(std::function<void()> callback) { on_stop_.push_back(std::move(callback)); }

  void set_limits(Limits limits) { limits_ = limits; }
  std::size_t connection_count() const { return connections_.size(); }

 private:
  friend class Connection;
  asio::awaitable<void> accept_loop(std::shared_ptr<asio::ip::tcp::acceptor> acceptor, std::string name,
                                    std::string busy_reply, Handler handler);
  // Why a new connection from `ip` is refused, or nullptr (counts it).
  const char* refusal(const std::string& ip);
  bool rate_limited(const std::string& ip) const;
  std::list<Connection*>::iterator add(Connection* c);
  void remove(std::list<Connection*>::iterator registration);

  asio::io_context io_{1};
  asio::thread_pool pool_;
  // Work that only computes (password hashes: yescrypt takes ~15 ms and
  // 16 MiB each): one thread per core, so a storm of logins costs bounded
  // memory and leaves the blocking pool to the writes that wait on disks.
  asio::thread_pool cpu_pool_;
  Limits limits_;
  std::vector<std::shared_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::list<Connection*> connections_;
  std::unordered_map<std::string, std::uint32_t> per_ip_;
  ClientRates new_connections_;
  ClientRates failed_logins_;
  asio::steady_timer grace_timer_{io_};
  std::vector<std::function<void()>> on_stop_;
  bool stopping_ = false;
};

// Blocking work for the thread pool (spool writes, group commit).
class BlockingTask {
 public:
  virtual ~BlockingTask() = default;
  virtual void run() = 0;
};

enum class Work { blocking, cpu };

// Runs `task` on one of the server's thread pools (Work::cpu: the small one
// for computing) and resumes the calling coroutine on the event loop once
// it has returned; the caller keeps `task` alive. (It takes a reference on
// purpose: g++ 12 destroys non-trivial temporaries of a co_await expression
// twice, so none may appear there.)
asio::awaitable<void> offload(Server& server, BlockingTask& task, Work work = Work::blocking);

}  // namespace poshta::net
