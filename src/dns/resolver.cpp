#include "dns/resolver.hpp"

#include <ares.h>
#include <arpa/nameser.h>

#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <stdexcept>
#include <vector>

namespace poshta::dns {

namespace {

constexpr int kTimeoutMs = 3000;  // per try; c-ares doubles it on each retry
constexpr int kTries = 2;

// c-ares' library state is process-wide and reference counted.
struct Library {
  Library() {
    if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) throw std::runtime_error("c-ares cannot start");
  }
  ~Library() { ares_library_cleanup(); }
};

}  // namespace

struct Resolver::Pending {
  explicit Pending(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;
  bool done = false;
  int status = ARES_ETIMEOUT;
  std::vector<unsigned char> answer;
};

struct Resolver::Watch {
  Watch(asio::io_context& io, int fd) : descriptor(io, fd) {}
  asio::posix::stream_descriptor descriptor;  // does not own fd: released before destruction
  bool want_read = false;
  bool want_write = false;
  bool reading = false;
  bool writing = false;
  std::uint64_t generation = 0;
};

Resolver::Resolver(asio::io_context& io, const std::string& server)
    : io_(io), timer_(io), random_(std::random_device{}()) {
  static Library library;
  ares_options options{};
  options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_EDNS;
  options.timeout = kTimeoutMs;
  options.tries = kTries;
  options.sock_state_cb = [](void* self, ares_socket_t fd, int readable, int writable) {
    on_socket_state(self, fd, readable, writable);
  };
  options.sock_state_cb_data = this;
  char lookups[] = "b";  // DNS only, never /etc/hosts
  options.lookups = lookups;
  const int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB | ARES_OPT_LOOKUPS;
  if (int rc = ares_init_options(&channel_, &options, mask); rc != ARES_SUCCESS) {
    throw std::runtime_error(std::string("cannot start the DNS resolver: ") + ares_strerror(rc));
  }
  if (!server.empty()) {
    if (int rc = ares_set_servers_ports_csv(channel_, server.c_str()); rc != ARES_SUCCESS) {
      ares_destroy(channel_);
      throw std::runtime_error("resolver " + server + ": " + ares_strerror(rc));
    }
  }
}

Resolver::~Resolver() {
  ares_destroy(channel_);  // answers every query left with ARES_EDESTRUCTION
  for (auto& [fd, w] : watches_) w->descriptor.release();
}

void Resolver::cancel() {
  ares_cancel(channel_);
}

void Resolver::on_answer(void* arg, int status, int, unsigned char* answer, int length) {
  if (status == ARES_EDESTRUCTION) return;  // the resolver is going away with its waiters
  auto& pending = *static_cast<Pending*>(arg);
  pending.status = status;
  if (answer && length > 0) pending.answer.assign(answer, answer + length);
  pending.done = true;
  pending.wake.cancel();
}

void Resolver::on_socket_state(void* self, int fd, int readable, int writable) {
  static_cast<Resolver*>(self)->watch(fd, readable != 0, writable != 0);
}

void Resolver::watch(int fd, bool readable, bool writable) {
  auto it = watches_.find(fd);
  if (!readable && !writable) {  // c-ares is about to close it
    if (it != watches_.end()) {
      it->second->descriptor.release();  // cancels the waits without closing fd
      watches_.erase(it);
    }
    return;
  }
  if (it == watches_.end()) {
    it = watches_.emplace(fd, std::make_unique<Watch>(io_, fd)).first;
    it->second->generation = ++generations_;
  }
  it->second->want_read = readable;
  it->second->want_write = writable;
  if (readable) arm(fd, asio::posix::stream_descriptor::wait_read);
  if (writable) arm(fd, asio::posix::stream_descriptor::wait_write);
}

void Resolver::arm(int fd, asio::posix::stream_descriptor::wait_type type) {
  auto& w = *watches_.at(fd);
  const bool read = type == asio::posix::stream_descriptor::wait_read;
  bool& waiting = read ? w.reading : w.writing;
  if (waiting) return;
  waiting = true;
  // The handler finds its watch again by fd and generation: it may have been
  // released (and fd reused) by the time the handler runs.
  w.descriptor.async_wait(type, [this, fd, read, generation = w.generation](std::error_code ec) {
    auto it = watches_.find(fd);
    if (it == watches_.end() || it->second->generation != generation) return;
    Watch& current = *it->second;
    (read ? current.reading : current.writing) = false;
    if (ec) return;
    if (read)
      ares_process_fd(channel_, fd, ARES_SOCKET_BAD);
    else
      ares_process_fd(channel_, ARES_SOCKET_BAD, fd);
    it = watches_.find(fd);
    if (it != watches_.end() && it->second->generation == generation &&
        (read ? it->second->want_read : it->second->want_write)) {
      arm(fd, read ? asio::posix::stream_descriptor::wait_read : asio::posix::stream_descriptor::wait_write);
    }
    arm_timer();
  });
}

// c-ares' retransmissions and timeouts happen when it is called after its
// deadline: one timer, re-armed after every step.
void Resolver::arm_timer() {
  if (in_flight_ == 0) {
    timer_.cancel();
    return;
  }
  timeval tv{};
  if (!ares_timeout(channel_, nullptr, &tv)) return;
  timer_.expires_after(std::chrono::seconds(tv.tv_sec) + std::chrono::microseconds(tv.tv_usec));
  timer_.async_wait([this](std::error_code ec) {
    if (ec) return;
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    arm_timer();
  });
}

asio::awaitable<void> Resolver::query(const std::string& name, int type, Pending& pending) {
  ++in_flight_;
  ares_query(channel_, name.c_str(), ns_c_in, type, &Resolver::on_answer, &pending);
  arm_timer();
  while (!pending.done) {
    std::error_code ec;
    co_await pending.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  --in_flight_;
  arm_timer();
}

asio::awaitable<void> Resolver::lookup_mx(const std::string& domain, MxAnswer& out) {
  Pending pending(io_);
  co_await query(domain, ns_t_mx, pending);
  out = mx_from_answer(pending.status, pending.answer, random_);
}

asio::awaitable<void> Resolver::lookup_addresses(const std::string& host, AddressAnswer& out) {
  Pending v4(io_);
  co_await query(host, ns_t_a, v4);
  out = addresses_from_answer(v4.status, v4.answer, false);
  if (out.outcome == Outcome::temporary || out.outcome == Outcome::no_domain) co_return;
  Pending v6(io_);
  co_await query(host, ns_t_aaaa, v6);
  auto six = addresses_from_answer(v6.status, v6.answer, true);
  if (six.outcome == Outcome::found) {
    out.addresses.insert(out.addresses.end(), six.addresses.begin(), six.addresses.end());
    out.outcome = Outcome::found;
  }
}

}  // namespace poshta::dns
