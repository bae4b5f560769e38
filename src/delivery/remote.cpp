#include "delivery/remote.hpp"

#include <spdlog/spdlog.h>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/redirect_error.hpp>
#include <asio/ssl/stream_base.hpp>
#include <asio/use_awaitable.hpp>

#include <algorithm>

#include "core/config.hpp"
#include "net/stream.hpp"

namespace poshta::delivery {

namespace {

constexpr int kConnectionsPerDestination = 5;
constexpr std::size_t kMaxAddresses = 5;  // per attempt, as Postfix, Exim and Stalwart do
constexpr int kMessagesPerConnection = 100;
// How long a connection waits for more mail to its destination before QUIT
// (Postfix's connection cache keeps one 2 s too).
constexpr std::chrono::seconds kIdleTime{2};
constexpr std::chrono::seconds kConnectTimeout{30};
constexpr std::chrono::seconds kHandshakeTimeout{60};
constexpr std::chrono::seconds kWriteTimeout{300};
constexpr std::chrono::hours kTlsTroubleMemory{1};  // plaintext to a host whose TLS failed, then TLS again
const std::string kSmarthostKey = "[smarthost]";
const std::string kLmtpKey = "[lmtp]";

std::string domain_of(const std::string& address) {
  const auto at = address.rfind('@');
  std::string d = at == std::string::npos ? std::string() : address.substr(at + 1);
  std::transform(d.begin(), d.end(), d.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return d;
}

bool is_numeric(const std::string& host) {
  std::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

smtp::Ret ret_of(const std::string& ret) {
  if (ret == "FULL") return smtp::Ret::full;
  if (ret == "HDRS") return smtp::Ret::hdrs;
  return smtp::Ret::unspecified;
}

smtp::BodyType body_of(const std::string& body) {
  if (body == "8BITMIME") return smtp::BodyType::eight_bit_mime;
  if (body == "7BIT") return smtp::BodyType::seven_bit;
  return smtp::BodyType::unspecified;
}

}  // namespace

struct Remote::Flight {
  Message message;
  int outstanding = 0;
};

struct Remote::Route {
  std::vector<Target> targets;
  std::optional<Attempt> failure;                 // the destination itself failed (DNS, loop)
  Attempt last{421, "4.4.1", "", "", "", false};  // why the last target could not be used
  bool served = false;
  bool tls_failed = false;
};

Remote::Remote(asio::io_context& io, dns::Resolver& resolver, RemoteConfig config, Done done)
    : io_(io),
      resolver_(resolver),
      done_(std::move(done)),
      tls_(net::make_client_tls_context()),
      config_(std::move(config)) {}

Remote::~Remote() = default;

bool Remote::handles(const queue::EnvelopeRecipient& r) const {
  if (!r.local) return true;
  std::lock_guard lock(config_mutex_);
  return !config_.lmtp.empty();
}

std::string Remote::key_of(const queue::EnvelopeRecipient& r) const {
  std::lock_guard lock(config_mutex_);
  if (r.local) return kLmtpKey;
  if (!config_.smarthost.empty()) return kSmarthostKey;
  return domain_of(r.address);
}

void Remote::set_config(RemoteConfig config) {
  std::lock_guard lock(config_mutex_);
  config_ = std::move(config);
}

void Remote::deliver(Message m) {
  asio::post(io_, [this, m = std::move(m)]() mutable { enqueue(std::move(m)); });
}

void Remote::stop() {
  asio::post(io_, [this] {
    stopping_ = true;
    resolver_.cancel();
    for (auto* s : open_) s->close();
    for (auto& [key, d] : destinations_) {
      for (auto* t : d.idle) t->cancel();
      d.idle.clear();
    }
    // Messages not yet on a connection go back as they came: they are in the
    // journal or the spool and are tried again at the next start.
    for (auto& [key, d] : destinations_) {
      for (auto& item : d.queue) {
        if (--item.flight->outstanding == 0) done_(std::move(item.flight->message));
      }
      d.queue.clear();
    }
  });
}

void Remote::enqueue(Message m) {
  const std::int64_t now = unix_now();
  auto flight = std::make_shared<Flight>();
  std::map<std::string, std::vector<std::size_t>> groups;
  for (std::size_t i = 0; i < m.env.recipients.size(); ++i) {
    const auto& r = m.env.recipients[i];
    if (handles(r) && is_due(r, now)) groups[key_of(r)].push_back(i);
  }
  flight->message = std::move(m);
  if (groups.empty() || stopping_) {
    done_(std::move(flight->message));
    return;
  }
  flight->outstanding = static_cast<int>(groups.size());
  for (auto& [key, indexes] : groups) {
    auto& d = destinations_[key];
    d.queue.push_back({flight, std::move(indexes)});
    if (!d.idle.empty()) {
      d.idle.back()->cancel();  // a connection is open and waiting: it takes this one
      d.idle.pop_back();
    } else {
      start_connections(key);
    }
  }
}

void Remote::start_connections(const std::string& key) {
  auto& d = destinations_[key];
  // One connection per queued message, up to the limit.
  while (!stopping_ && d.connections < kConnectionsPerDestination &&
         static_cast<std::size_t>(d.connections) < d.queue.size()) {
    ++d.connections;
    asio::co_spawn(io_, connection(key), asio::detached);
  }
}

void Remote::finish(Item& item, const std::vector<Attempt>& attempts) {
  const auto retry = [this] {
    std::lock_guard lock(config_mutex_);
    return config_.retry;
  }();
  const std::int64_t now = unix_now();
  auto& message = item.flight->message;
  for (std::size_t k = 0; k < item.recipients.size() && k < attempts.size(); ++k) {
    record(message, message.env.recipients[item.recipients[k]], attempts[k], retry, now);
  }
  if (--item.flight->outstanding == 0) done_(std::move(message));
}

void Remote::fail_all(const std::string& key, const Attempt& attempt) {
  auto& d = destinations_[key];
  while (!d.queue.empty()) {
    Item item = std::move(d.queue.front());
    d.queue.pop_front();
    finish(item, std::vector<Attempt>(item.recipients.size(), attempt));
  }
}

asio::awaitable<void> Remote::route(const std::string& key, Route& out) {
  RemoteConfig config;
  {
    std::lock_guard lock(config_mutex_);
    config = config_;
  }
  std::vector<dns::MxRecord> hosts;
  std::uint16_t port = config.port;
  if (key == kLmtpKey && config.lmtp.front() == '/') {
    out.targets.push_back({"localhost", config.lmtp, 0});  // a unix socket
    co_return;
  }
  if (key == kSmarthostKey || key == kLmtpKey) {
    std::string host;
    core::parse_host_port(key == kLmtpKey ? config.lmtp : config.smarthost, host, port);
    hosts.push_back({0, host});
  } else {
    dns::MxAnswer mx;
    co_await resolver_.lookup_mx(key, mx);
    switch (mx.outcome) {
      case dns::Outcome::found: hosts = std::move(mx.hosts); break;
      case dns::Outcome::no_records: hosts.push_back({0, key}); break;  // implicit MX, RFC 5321 §5.1
      case dns::Outcome::null_mx:
        out.failure =
            Attempt{556, "5.1.10", "556 5.1.10 " + key + " accepts no mail (null MX, RFC 7505)", "", key, false};
        co_return;
      case dns::Outcome::no_domain:
        out.failure = Attempt{550, "5.1.2", "550 5.1.2 domain " + key + " does not exist (DNS: " + mx.error + ")",
                              "",  key,     false};
        co_return;
      case dns::Outcome::temporary:
        out.failure =
            Attempt{451, "4.4.3", "451 4.4.3 cannot look up the MX of " + key + ": " + mx.error, "", key, false};
        co_return;
    }
    // RFC 5321 §5.1: if we are one of the MX hosts, only better ones may be used.
    auto self =
        std::find_if(hosts.begin(), hosts.end(), [&](const dns::MxRecord& h) { return h.host == config.hostname; });
    if (self != hosts.end()) {
      const auto preference = self->preference;
      std::erase_if(hosts, [&](const dns::MxRecord& h) { return h.preference >= preference; });
      if (hosts.empty()) {
        out.failure = Attempt{554, "5.4.6", "554 5.4.6 mail for " + key + " loops back to myself", "", key, false};
        co_return;
      }
    }
  }
  std::string last_error = "no address found";
  bool temporary = false;
  for (const auto& h : hosts) {
    if (out.targets.size() >= kMaxAddresses) break;
    if (is_numeric(h.host)) {
      out.targets.push_back({h.host, h.host, port});
      continue;
    }
    dns::AddressAnswer addresses;
    co_await resolver_.lookup_addresses(h.host, addresses);
    if (addresses.outcome != dns::Outcome::found) {
      last_error = "cannot find the address of " + h.host + ": " + addresses.error;
      temporary = temporary || addresses.outcome == dns::Outcome::temporary;
      continue;
    }
    for (const auto& a : addresses.addresses) {
      if (out.targets.size() < kMaxAddresses) out.targets.push_back({h.host, a, port});
    }
  }
  if (out.targets.empty()) {
    // Names that do not exist are permanent; a lookup that failed is not.
    out.failure = temporary ? Attempt{451, "4.4.3", "451 4.4.3 " + last_error, "", key, false}
                            : Attempt{550, "5.4.4", "550 5.4.4 " + last_error, "", key, false};
  }
}

asio::awaitable<void> Remote::connection(std::string key) {
  Route r;
  co_await route(key, r);
  auto& d = destinations_[key];
  if (r.failure) {
    fail_all(key, *r.failure);
  } else {
    smtp::TlsPolicy policy = smtp::TlsPolicy::opportunistic;
    {
      std::lock_guard lock(config_mutex_);
      if (key == kLmtpKey) policy = smtp::TlsPolicy::none;  // a store on a trusted network
      if (key == kSmarthostKey && !config_.smarthost_user.empty()) policy = smtp::TlsPolicy::required;
      if (std::find(config_.require_tls.begin(), config_.require_tls.end(), key) != config_.require_tls.end()) {
        policy = smtp::TlsPolicy::required;
      }
    }
    for (const auto& target : r.targets) {
      if (d.queue.empty() || stopping_) break;
      smtp::TlsPolicy p = policy;
      if (auto t = tls_trouble_.find(target.host); t != tls_trouble_.end()) {
        if (t->second.until < std::chrono::steady_clock::now())
          tls_trouble_.erase(t);
        else if (p == smtp::TlsPolicy::opportunistic)
          p = smtp::TlsPolicy::none;
      }
      r.tls_failed = false;
      co_await serve(key, target, p, r);
      if (r.tls_failed && p == smtp::TlsPolicy::opportunistic && !stopping_) {
        // Opportunistic TLS that fails must not stop the mail: plaintext, now.
        const std::string tls_error = r.last.text;
        co_await serve(key, target, smtp::TlsPolicy::none, r);
        if (!r.served) r.last.text += " (after " + tls_error + ")";
      }
      if (r.served) break;
    }
    if (!r.served && !stopping_) fail_all(key, r.last);
  }
  --d.connections;
  if (!d.queue.empty() && r.served) start_connections(key);
}

asio::awaitable<void> Remote::pump(net::Stream& stream, smtp::ClientSession& session) {
  using State = smtp::ClientSession::State;
  char buf[16384];
  for (;;) {
    const std::string out = session.take_output();
    if (!out.empty()) {
      std::error_code ec;
      co_await stream.write(out, kWriteTimeout, ec);
      if (ec) {
        session.connection_lost("write failed: " + ec.message());
        co_return;
      }
    }
    const State s = session.state();
    if (s == State::ready || s == State::tls_handshake || s == State::done || s == State::failed) co_return;
    std::error_code ec;
    const std::size_t n = co_await stream.read_some(buf, session.timeout(), ec);
    if (ec || n == 0) {
      session.connection_lost(ec ? ec.message() : "closed by the server");
      co_return;
    }
    session.feed(std::string_view(buf, n));
  }
}

asio::awaitable<void> Remote::serve(const std::string& key, const Target& target, smtp::TlsPolicy policy,
                                    Route& route) {
  using State = smtp::ClientSession::State;
  const bool unix_socket = target.address.front() == '/';
  const std::string label =
      unix_socket ? target.address : target.host + "[" + target.address + "]:" + std::to_string(target.port);
  std::error_code ec;
  asio::ip::tcp::socket socket(io_);
  if (unix_socket) {
    ec = net::connect_unix(socket, target.address);
  } else {
    const auto address = asio::ip::make_address(target.address, ec);
    if (!ec) {
      const asio::ip::tcp::endpoint endpoint(address, target.port);
      co_await net::connect(socket, endpoint, kConnectTimeout, ec);
    }
  }
  if (ec) {
    route.last = {421, "4.4.1", "connect to " + label + ": " + ec.message(), "", label, false};
    spdlog::warn("delivery destination={} relay={} event=connect_failed error=\"{}\"", key, label, ec.message());
    co_return;
  }
  net::Stream stream(std::move(socket));
  open_.insert(&stream);
  smtp::ClientOptions options;
  {
    std::lock_guard lock(config_mutex_);
    options.hello_name = config_.hostname;
    options.lmtp = key == kLmtpKey;
    options.tls = policy;
    if (key == kSmarthostKey) {
      options.auth_user = config_.smarthost_user;
      options.auth_password = config_.smarthost_password;
    }
  }
  smtp::ClientSession session(std::move(options));
  co_await pump(stream, session);
  if (session.state() == State::tls_handshake) {
    stream.use_tls_context(tls_);
    co_await stream.start_tls(asio::ssl::stream_base::client, target.host, kHandshakeTimeout, ec);
    if (ec) {
      session.tls_failed(ec.message());
    } else {
      session.tls_started();
      co_await pump(stream, session);
    }
  }
  // Logs and `queue show` say how the mail went, and why not with TLS when TLS failed here before.
  std::string relay = label;
  if (stream.tls_active()) {
    relay += " tls=" + stream.tls_version();
  } else if (auto t = tls_trouble_.find(target.host); t != tls_trouble_.end()) {
    relay += " tls=none (" + t->second.error + ")";
  }
  if (session.state() != State::ready) {
    const auto& f = session.failure();
    const bool handshake = f.tls && policy == smtp::TlsPolicy::opportunistic;
    route.tls_failed = handshake;
    if (handshake) {
      tls_trouble_[target.host] = {f.text, std::chrono::steady_clock::now() + kTlsTroubleMemory};
      spdlog::warn("delivery destination={} relay={} event=tls_failed error=\"{}\" next=plaintext", key, label, f.text);
    }
    // A host that will not talk to us (even with a 5xx greeting) is skipped
    // for the next; if none will, the mail waits (as with Postfix), because
    // it was never refused for a recipient.
    route.last = {421, "4.4.2", label + ": " + f.text, "", label, false};
    spdlog::warn("delivery destination={} relay={} event=session_failed error=\"{}\"", key, label, f.text);
  } else {
    route.served = true;
    auto& d = destinations_[key];
    for (int sent = 0; sent < kMessagesPerConnection && session.state() == State::ready && !stopping_; ++sent) {
      if (d.queue.empty()) {
        asio::steady_timer idle(io_, kIdleTime);
        d.idle.push_back(&idle);
        std::error_code wait_ec;
        co_await idle.async_wait(asio::redirect_error(asio::use_awaitable, wait_ec));
        std::erase(d.idle, &idle);  // still there when the wait timed out
        if (d.queue.empty()) break;
      }
      Item item = std::move(d.queue.front());
      d.queue.pop_front();
      const auto& env = item.flight->message.env;
      smtp::OutgoingMessage out;
      out.sender = env.sender;
      out.body = body_of(env.body);
      out.smtputf8 = env.smtputf8;
      out.ret = ret_of(env.ret);
      out.envid = env.envid;
      for (auto i : item.recipients) {
        const auto& r = env.recipients[i];
        out.recipients.push_back({r.address, r.notify, r.orcpt});
      }
      out.content = *item.flight->message.content;
      session.send(out);
      co_await pump(stream, session);
      auto result = session.result();
      std::vector<Attempt> attempts;
      for (std::size_t k = 0; k < item.recipients.size(); ++k) {
        if (result && k < result->recipients.size()) {
          const auto& reply = result->recipients[k];
          attempts.push_back({reply.code, reply.enhanced(), reply.text(), target.host, relay, result->dsn_passed_on});
        } else {
          attempts.push_back({421, "4.4.2", "421 4.4.2 no result from " + label, target.host, relay, false});
        }
      }
      finish(item, attempts);
    }
    if (session.state() == State::ready) {
      session.quit();
      co_await pump(stream, session);
    }
  }
  open_.erase(&stream);
  stream.close();
}

}  // namespace poshta::delivery
