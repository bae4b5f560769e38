#include "cli/imap_service.hpp"

#include <malloc.h>

#include "cli/service_steps.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>

#include "core/deflate.hpp"
#include "core/ids.hpp"
#include "core/network.hpp"
#include "imap/backend.hpp"
#include "imap/session.hpp"

namespace poshta::cli {

namespace {

// Read buffer per connection: most of an idle session's memory, so small;
// literals (APPEND) arrive over several reads.
constexpr std::size_t kReadChunk = 4096;
// After an answer this large, freed memory goes back to the system at once
// (a FETCH of a whole large mailbox builds tens of MiB).
constexpr std::size_t kTrimAfter = 4 << 20;
constexpr std::chrono::seconds kWriteTimeout{300};
constexpr std::chrono::minutes kAutologout{30};  // RFC 9051 §5.4: at least 30 minutes
constexpr std::chrono::seconds kIdleTick{1};     // how soon IDLE reports a delivery
constexpr int kIdleFullLook = 30;                // ticks between looks for changes by other programs

class CommandTask final : public net::BlockingTask {
 public:
  CommandTask(imap::Backend& backend, const imap::Command& command) : backend_(backend), command_(command) {}
  void run() override {
    result = started_ ? backend_.resume() : backend_.execute(command_);
    started_ = true;
  }
  imap::Backend::Result result;

 private:
  imap::Backend& backend_;
  const imap::Command& command_;
  bool started_ = false;
};

class PollTask final : public net::BlockingTask {
 public:
  explicit PollTask(imap::Backend& backend) : backend_(backend) {}
  void run() override { untagged = backend_.poll(); }
  std::string untagged;

 private:
  imap::Backend& backend_;
};

// Ends a session's backend off the event loop (its cache may still write),
// and gives memory back to the system after a session that held much.
class CloseTask final : public net::BlockingTask {
 public:
  CloseTask(std::unique_ptr<imap::Backend> backend, bool trim) : backend_(std::move(backend)), trim_(trim) {}
  void run() override {
    backend_.reset();
    if (trim_) ::malloc_trim(0);
  }

 private:
  std::unique_ptr<imap::Backend> backend_;
  bool trim_;
};

// Commands that may change what other sessions of the same user see.
bool changes_mail(const std::string& name) {
  for (const char* n : {"STORE", "COPY", "MOVE", "EXPUNGE", "APPEND", "CLOSE", "DELETE", "RENAME"}) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

asio::awaitable<void> serve_imap(std::shared_ptr<net::Connection> conn, ImapContext& ctx, bool implicit_tls) {
  const std::string session_id = core::new_session_id();
  const auto config = ctx.config;
  spdlog::info("imap session={} client={}:{} event=connect listener={}", session_id, conn->peer_ip(), conn->peer_port(),
               conn->listener());
  if (implicit_tls) {
    std::error_code ec;
    co_await server_handshake(*conn, ctx.tls, "imap", session_id, ec);
    if (ec) co_return;
  }
  imap::SessionConfig sc;
  sc.hostname = config->hostname;
  sc.starttls = ctx.tls != nullptr;
  sc.tls_active = implicit_tls;
  sc.plaintext_allowed = config->auth.plaintext_on_loopback && core::is_loopback(conn->peer_ip());
  sc.append_limit = config->limits.message_size;
  sc.max_errors = config->limits.errors;
  sc.max_auth_failures = config->limits.auth_failures;
  imap::Session session(std::move(sc));

  std::array<char, kReadChunk> buf;
  std::unique_ptr<imap::Backend> backend;
  std::uint64_t seen_generation = 0;
  int idle_ticks = 0;
  bool told_to_stop = false;
  // COMPRESS=DEFLATE (RFC 4978), once the client asks: both directions.
  std::unique_ptr<core::Deflater> deflater;
  std::unique_ptr<core::Inflater> inflater;
  bool trim_after_write = false;
  bool trim_at_end = false;
  for (;;) {
    std::string out = session.take_output();
    if (!out.empty()) {
      if (deflater) out = deflater->compress(out);
      std::error_code ec;
      co_await conn->write(out, kWriteTimeout, ec);
      if (ec) break;
      if (trim_after_write) {
        out = std::string();
        ::malloc_trim(0);
        trim_after_write = false;
      }
    }
    if (session.take_compress()) {
      deflater = std::make_unique<core::Deflater>();
      inflater = std::make_unique<core::Inflater>();
    }
    if (session.closing()) break;
    if (session.wants_tls()) {
      std::error_code ec;
      co_await server_handshake(*conn, ctx.tls, "imap", session_id, ec);
      if (ec) break;
      session.tls_started();
      continue;
    }
    if (auto request = session.take_request()) {
      if (request->kind == imap::Request::Kind::auth) {
        PasswordCheck check(ctx.directory, login_address(request->user, ctx.directory), request->password);
        co_await check_login(ctx.server, ctx.throttle, *conn, "imap", session_id, check);
        if (check.ok()) {
          backend = std::make_unique<imap::Backend>(ctx.maildir.mailbox_dir(check.user()), config->limits.message_size);
          seen_generation = ctx.events.generation(check.user());
        }
        session.resolve_auth(check.ok(), check.user());
        continue;
      }
      CommandTask task(*backend, request->command);
      co_await net::offload(ctx.server, task);
      std::uint64_t streamed = 0;
      bool write_failed = false;
      while (task.result.more) {  // a large FETCH, piece by piece
        std::string piece = std::move(task.result.untagged);
        streamed += piece.size();
        if (deflater) piece = deflater->compress(piece);
        std::error_code ec;
        co_await conn->write(piece, kWriteTimeout, ec);
        if (ec) {
          write_failed = true;
          break;
        }
        co_await net::offload(ctx.server, task);
      }
      if (write_failed) break;
      if (changes_mail(request->command.name)) ctx.events.changed(session.user());
      trim_after_write = streamed + task.result.untagged.size() > kTrimAfter;
      trim_at_end = trim_at_end || trim_after_write;
      session.resolve_command(std::move(task.result.untagged), std::move(task.result.completion), backend->selected());
      continue;
    }
    if (ctx.server.stopping() && !told_to_stop) {
      told_to_stop = true;
      session.shutdown();
      continue;
    }
    std::error_code ec;
    const auto timeout = session.idling() ? std::chrono::duration_cast<std::chrono::seconds>(kIdleTick)
                                          : std::chrono::duration_cast<std::chrono::seconds>(kAutologout);
    const std::size_t n = co_await conn->read_some(buf, timeout, ec);
    if (ec == std::errc::timed_out && session.idling() && backend) {
      // IDLE: look again when a delivery says so, and now and then anyway.
      const auto generation = ctx.events.generation(session.user());
      if (generation != seen_generation || ++idle_ticks >= kIdleFullLook) {
        seen_generation = generation;
        idle_ticks = 0;
        PollTask poll(*backend);
        co_await net::offload(ctx.server, poll);
        session.push_untagged(poll.untagged);
      }
      continue;
    }
    if (ec == std::errc::timed_out) {
      static constexpr std::string_view kBye = "* BYE Autologout; idle for too long\r\n";
      co_await conn->write(kBye, kWriteTimeout, ec);
      break;
    }
    if (ec == asio::error::operation_aborted) continue;
    if (ec || n == 0) break;
    if (inflater) {
      auto plain = inflater->decompress(std::string_view(buf.data(), n));
      if (!plain) break;  // not a DEFLATE stream: nothing more can be understood
      session.feed(*plain);
    } else {
      session.feed(std::string_view(buf.data(), n));
    }
  }
  spdlog::info("imap session={} event=disconnect", session_id);
  if (backend) {
    CloseTask close(std::move(backend), trim_at_end);
    co_await net::offload(ctx.server, close);
  }
}

}  // namespace poshta::cli
