// delivery::Remote: delivery by SMTP to other MTAs (RFC 5321 §5), to a
// smarthost, or by LMTP to another store. It runs on the event loop: one
// coroutine per connection, DNS through dns::Resolver.
//
// Recipients are grouped by destination (their domain; or the smarthost;
// or the LMTP server). A destination gets up to kConnectionsPerDestination
// connections, and each connection sends the destination's messages one
// after another. A connection looks up the MX hosts (null MX and NXDOMAIN
// fail at once; no MX means the domain's own address), tries at most five
// addresses in order until one greets, takes STARTTLS when offered, and
// records each recipient's reply through delivery::record(). A TLS
// handshake that fails is retried at once in plaintext, unless the domain
// is in `require_tls`; the failure is remembered for that host, logged, and
// named in the queue's error text.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "delivery/message.hpp"
#include "delivery/runner.hpp"
#include "dns/resolver.hpp"
#include "net/tls.hpp"
#include "queue/schedule.hpp"
#include "smtp/client_session.hpp"

namespace poshta::net {
class Stream;
}

namespace poshta::delivery {

struct RemoteConfig {
  std::string hostname;     // EHLO name; an MX naming it is us (loop check, RFC 5321 §5.1)
  std::uint16_t port = 25;  // of MX hosts
  std::string smarthost;    // "host:port": every remote recipient goes there
  std::string smarthost_user;
  std::string smarthost_password;
  std::vector<std::string> require_tls;  // domains that never get mail in plaintext
  std::string lmtp;                      // "host:port": local recipients go there
  queue::RetryPolicy retry;
};

class Remote : public Relay {
 public:
  using Done = std::function<void(Message)>;

  // `done` is called on the event loop with each message handed over, once
  // every recipient sent to deliver() has had its attempt.
  Remote(asio::io_context& io, dns::Resolver& resolver, RemoteConfig config, Done done);
  ~Remote() override;
  Remote(const Remote&) = delete;
  Remote& operator=(const Remote&) = delete;

  // Whether a recipient goes through here (remote, or local with LMTP).
  bool handles(const queue::EnvelopeRecipient& r) const override;
  // Thread-safe. Takes the recipients of `m` that handles() and that are due.
  void deliver(Message m) override;
  void set_config(RemoteConfig config);  // thread-safe
  // No new connections; messages waiting for one are returned untried.
  void stop();

 private:
  struct Flight;
  struct Item {
    std::shared_ptr<Flight> flight;
    std::vector<std::size_t> recipients;  // indexes into the envelope
  };
  struct Target {
    std::string host;
    std::string address;
    std::uint16_t port = 0;
  };
  struct Route;
  struct Destination {
    std::deque<Item> queue;
    int connections = 0;
    std::vector<asio::steady_timer*> idle;  // connections waiting for more mail
  };

  void enqueue(Message m);
  void start_connections(const std::string& key);
  asio::awaitable<void> connection(std::string key);
  asio::awaitable<void> route(const std::string& key, Route& out);
  asio::awaitable<void> serve(const std::string& key, const Target& target, smtp::TlsPolicy policy, Route& route);
  asio::awaitable<void> pump(net::Stream& stream, smtp::ClientSession& session);
  void finish(Item& item, const std::vector<Attempt>& attempts);
  void fail_all(const std::string& key, const Attempt& attempt);
  std::string key_of(const queue::EnvelopeRecipient& r) const;

  asio::io_context& io_;
  dns::Resolver& resolver_;
  Done done_;
  net::TlsContextPtr tls_;

  mutable std::mutex config_mutex_;
  RemoteConfig config_;

  // Event loop only.
  std::map<std::string, Destination> destinations_;
  struct TlsTrouble {
    std::string error;
    std::chrono::steady_clock::time_point until;  // plaintext for this host until then
  };
  std::map<std::string, TlsTrouble> tls_trouble_;
  std::set<net::Stream*> open_;  // closed by stop()
  bool stopping_ = false;
};

}  // namespace poshta::delivery
