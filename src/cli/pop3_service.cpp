#include "cli/pop3_service.hpp"

#include "cli/service_steps.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>

#include "core/address.hpp"
#include "core/files.hpp"
#include "core/ids.hpp"
#include "core/network.hpp"
#include "pop3/encoder.hpp"
#include "pop3/session.hpp"
#include "store/mailbox.hpp"

namespace poshta::cli {

namespace {

constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kFileChunk = 256 * 1024;     // a message is sent in pieces of this size
constexpr std::uint64_t kInlineRead = 128 * 1024;  // smaller files are read on the event loop
constexpr std::chrono::seconds kWriteTimeout{300};
constexpr std::chrono::minutes kIdleTimeout{10};  // RFC 1939 §3: at least 10 minutes

class OpenTask final : public net::BlockingTask {
 public:
  explicit OpenTask(std::filesystem::path folder) : mailbox(std::move(folder)) {}
  void run() override { snapshot = mailbox.sync(); }
  store::Mailbox mailbox;
  core::Result<store::MailboxSnapshot> snapshot = std::error_code();
};

class RemoveTask final : public net::BlockingTask {
 public:
  RemoveTask(store::Mailbox& mailbox, std::vector<store::MessageFile> files)
      : mailbox_(mailbox), files_(std::move(files)) {}
  void run() override { error = mailbox_.remove(files_); }
  std::error_code error;

 private:
  store::Mailbox& mailbox_;
  std::vector<store::MessageFile> files_;
};

// One piece of a message file.
// One piece of a message file, into a buffer the session keeps (so the
// pool's threads allocate nothing that the event loop frees).
class ReadTask final : public net::BlockingTask {
 public:
  ReadTask(int fd, std::string& buffer) : fd_(fd), buffer_(buffer) {}
  void run() override {
    buffer_.resize(kFileChunk);
    const ssize_t n = ::read(fd_, buffer_.data(), buffer_.size());
    if (n < 0) error = core::errno_code(errno);
    buffer_.resize(n < 0 ? 0 : static_cast<std::size_t>(n));
  }
  std::error_code error;

 private:
  int fd_;
  std::string& buffer_;
};

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

asio::awaitable<void> serve_pop3(std::shared_ptr<net::Connection> conn, Pop3Context& ctx, bool implicit_tls) {
  const std::string session_id = core::new_session_id();
  const auto config = ctx.config;
  spdlog::info("pop3 session={} client={}:{} event=connect listener={}", session_id, conn->peer_ip(), conn->peer_port(),
               conn->listener());
  if (implicit_tls) {
    std::error_code ec;
    co_await server_handshake(*conn, ctx.tls, "pop3", session_id, ec);
    if (ec) co_return;
  }
  pop3::SessionConfig sc;
  sc.hostname = config->hostname;
  sc.stls = ctx.tls != nullptr;
  sc.tls_active = implicit_tls;
  sc.plaintext_allowed = config->auth.plaintext_on_loopback && core::is_loopback(conn->peer_ip());
  sc.max_errors = config->limits.errors;
  sc.max_auth_failures = config->limits.auth_failures;
  pop3::Session session(std::move(sc));

  std::array<char, kReadChunk> buf;
  std::string user;    // canonical, once authenticated
  std::string locked;  // the maildrop this session holds
  std::unique_ptr<OpenTask> open;
  for (;;) {
    std::string out = session.take_output();
    if (!out.empty()) {
      std::error_code ec;
      co_await conn->write(out, kWriteTimeout, ec);
      if (ec) break;
    }
    if (session.closing()) break;
    if (session.wants_tls()) {
      std::error_code ec;
      co_await server_handshake(*conn, ctx.tls, "pop3", session_id, ec);
      if (ec) break;
      session.tls_started();
      continue;
    }
    if (auto request = session.take_request()) {
      switch (request->kind) {
        case pop3::Request::Kind::auth: {
          PasswordCheck check(ctx.directory, login_address(request->user, ctx.directory), request->password);
          co_await check_login(ctx.server, ctx.throttle, *conn, "pop3", session_id, check);
          if (check.ok()) user = check.user();
          session.resolve_auth(check.ok());
          break;
        }
        case pop3::Request::Kind::open: {
          if (ctx.in_use.count(user)) {
            spdlog::info("pop3 session={} event=in_use user={}", session_id, user);
            session.resolve_open(pop3::Session::OpenResult::in_use);
            break;
          }
          ctx.in_use.insert(user);
          locked = user;
          open = std::make_unique<OpenTask>(ctx.maildir.mailbox_dir(user));
          co_await net::offload(ctx.server, *open);
          if (!open->snapshot) {
            spdlog::error("pop3 session={} user={} event=open_failed error=\"{}\"", session_id, user,
                          open->snapshot.error().message());
            ctx.in_use.erase(locked);
            locked.clear();
            session.resolve_open(pop3::Session::OpenResult::failed);
            break;
          }
          std::vector<pop3::Message> messages;
          for (const auto& m : open->snapshot->messages) {
            messages.push_back({m.wire_size, store::pop3_uidl(open->snapshot->uid_validity, m.uid)});
          }
          spdlog::info("pop3 session={} user={} event=opened messages={}", session_id, user, messages.size());
          session.resolve_open(pop3::Session::OpenResult::ok, std::move(messages));
          break;
        }
        case pop3::Request::Kind::retrieve: {
          const auto& file = open->snapshot->messages[request->message];
          auto opened = open->mailbox.open_message(file);  // a quick open: fine on the event loop
          Fd fd{opened ? *opened : -1};
          session.resolve_retrieve(fd.fd >= 0);
          // "+OK", the message and "." go out together when they fit one
          // write; a large message goes in pieces of kFileChunk.
          std::string wire = session.take_output();
          std::error_code ec;
          if (fd.fd >= 0) {
            pop3::MessageEncoder encoder(request->body_lines);
            std::string chunk;
            chunk.reserve(kFileChunk);  // allocated here, on the event loop, once per message
            // A small file is read right here: from the page cache that costs
            // less than the trip to the thread pool.
            const bool small = file.size <= kInlineRead;
            for (;;) {
              ReadTask read(fd.fd, chunk);
              if (small)
                read.run();
              else
                co_await net::offload(ctx.server, read);
              if (read.error) {
                // The "+OK" is out: all that can be done is to end the connection.
                spdlog::error("pop3 session={} event=read_failed error=\"{}\"", session_id, read.error.message());
                conn->close();
                break;
              }
              if (chunk.empty()) break;
              encoder.feed(chunk, wire);
              if (encoder.done()) break;
              if (wire.size() >= kFileChunk) {
                co_await conn->write(wire, kWriteTimeout, ec);
                wire.clear();
                if (ec) break;
              }
            }
            encoder.finish(wire);
          }
          if (!ec) co_await conn->write(wire, kWriteTimeout, ec);
          if (ec) break;
          session.resume();
          break;
        }
        case pop3::Request::Kind::commit: {
          std::vector<store::MessageFile> files;
          for (auto i : request->deleted) files.push_back(open->snapshot->messages[i]);
          RemoveTask remove(open->mailbox, std::move(files));
          co_await net::offload(ctx.server, remove);
          if (remove.error) {
            spdlog::error("pop3 session={} user={} event=delete_failed error=\"{}\"", session_id, user,
                          remove.error.message());
          } else {
            spdlog::info("pop3 session={} user={} event=deleted messages={}", session_id, user,
                         request->deleted.size());
          }
          session.resolve_commit(!remove.error);
          break;
        }
      }
      continue;
    }
    if (ctx.server.stopping()) break;  // deletions count only after QUIT (RFC 1939 §6)
    std::error_code ec;
    const std::size_t n = co_await conn->read_some(buf, kIdleTimeout, ec);
    if (ec == std::errc::timed_out) {
      static constexpr std::string_view kBye = "-ERR autologout: idle for too long\r\n";
      co_await conn->write(kBye, kWriteTimeout, ec);
      break;
    }
    if (ec == asio::error::operation_aborted) continue;
    if (ec || n == 0) break;
    session.feed(std::string_view(buf.data(), n));
  }
  if (!locked.empty()) ctx.in_use.erase(locked);
  spdlog::info("pop3 session={} event=disconnect", session_id);
}

}  // namespace poshta::cli
