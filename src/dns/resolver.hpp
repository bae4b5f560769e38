// dns::Resolver: asynchronous DNS on c-ares, driven by the server's event
// loop: c-ares' sockets are watched with Asio descriptors and its timeouts
// with a timer, so a lookup suspends only the coroutine that asked.
// `[delivery] resolver` ("ip:port") chooses the DNS server; without it the
// system's resolv.conf is used. Queries go to DNS only (never /etc/hosts,
// never the search list). Not thread-safe: use it from the event loop.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "dns/answer.hpp"

struct ares_channeldata;

namespace poshta::dns {

class Resolver {
 public:
  // Throws std::runtime_error if c-ares cannot start or `server` is malformed.
  Resolver(asio::io_context& io, const std::string& server);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  asio::awaitable<void> lookup_mx(const std::string& domain, MxAnswer& out);
  // A records first, then AAAA.
  asio::awaitable<void> lookup_addresses(const std::string& host, AddressAnswer& out);

  // Ends every lookup in flight with a temporary failure (at shutdown).
  void cancel();

 private:
  struct Pending;
  struct Watch;
  asio::awaitable<void> query(const std::string& name, int type, Pending& pending);
  static void on_socket_state(void* self, int fd, int readable, int writable);
  static void on_answer(void* pending, int status, int timeouts, unsigned char* answer, int length);
  void watch(int fd, bool readable, bool writable);
  void arm(int fd, asio::posix::stream_descriptor::wait_type type);
  void arm_timer();

  asio::io_context& io_;
  ares_channeldata* channel_ = nullptr;
  std::map<int, std::unique_ptr<Watch>> watches_;
  asio::steady_timer timer_;
  std::mt19937 random_;
  int in_flight_ = 0;
  std::uint64_t generations_ = 0;
};

}  // namespace poshta::dns
