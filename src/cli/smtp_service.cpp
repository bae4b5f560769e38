#include "cli/smtp_service.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <chrono>

#include "core/address.hpp"
#include "core/ids.hpp"
#include "smtp/received.hpp"

namespace poshta::cli {

namespace {

// Read buffer per connection; small, as most sessions are short commands.
constexpr std::size_t kReadChunk = 8192;
constexpr std::chrono::seconds kWriteTimeout{300};

smtp::RecipientVerdict check_recipient(SmtpContext& ctx, const std::string& address) {
  const auto exp = ctx.directory.expand(address);
  if (exp.status == directory::Lookup::temporary_failure) {
    return {{451, "4.3.0", "Temporary lookup failure, try again later"}, {}};
  }
  if (!exp.local_domain) {
    // docs/SPEC.md promise 2: no relay without authentication.
    return {{554, "5.7.1", "<" + address + ">: Relay access denied"}, {}};
  }
  if (exp.status == directory::Lookup::not_found) {
    return {{550, "5.1.1", "<" + address + ">: No such user here"}, {}};
  }
  smtp::RecipientVerdict verdict{{250, "2.1.5", "Recipient <" + address + "> OK"}, {}};
  for (const auto& d : exp.destinations) verdict.destinations.push_back({d.address, d.local});
  return verdict;
}

smtp::Reply lookup(SmtpContext& ctx, const smtp::Request& request) {
  std::string address = request.address;
  if (address.find('@') == std::string::npos) address += "@" + ctx.directory.primary_domain();  // "VRFY Smith"
  const auto exp = ctx.directory.expand(address);
  if (exp.status == directory::Lookup::temporary_failure) return {451, "4.3.0", "Temporary lookup failure"};
  if (!exp.local_domain) return {550, "5.1.2", "<" + address + ">: not a local domain"};
  if (exp.status == directory::Lookup::not_found) return {550, "5.1.1", "<" + address + ">: No such user here"};
  if (request.kind == smtp::Request::Kind::verify) {
    return {250, "2.1.5", "<" + core::canonical_address(address) + ">"};
  }
  std::string text;
  for (const auto& d : exp.destinations) {
    if (!text.empty()) text += '\n';
    text += "<" + d.address + ">";
  }
  return {250, "2.1.5", std::move(text)};
}

queue::Envelope make_envelope(const smtp::Transaction& txn, std::string id) {
  queue::Envelope env;
  env.id = std::move(id);
  env.arrived =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  env.sender = txn.mail.address;
  env.ret = txn.mail.ret == smtp::Ret::full ? "FULL" : txn.mail.ret == smtp::Ret::hdrs ? "HDRS" : "";
  env.envid = txn.mail.envid;
  env.body = txn.mail.body == smtp::BodyType::seven_bit        ? "7BIT"
             : txn.mail.body == smtp::BodyType::eight_bit_mime ? "8BITMIME"
                                                               : "";
  env.smtputf8 = txn.mail.smtputf8;
  for (const auto& r : txn.recipients) {
    for (const auto& d : r.destinations) {
      const bool seen = std::any_of(env.recipients.begin(), env.recipients.end(),
                                    [&](const queue::EnvelopeRecipient& e) { return e.address == d.address; });
      if (seen) continue;
      queue::EnvelopeRecipient e;
      e.address = d.address;
      e.local = d.local;
      e.original = r.args.address;
      e.notify = r.args.notify;
      e.orcpt = r.args.orcpt;
      env.recipients.push_back(std::move(e));
    }
  }
  return env;
}

std::string protocol_of(const smtp::ServerSession& session, const smtp::Transaction& txn) {
  if (txn.mail.smtputf8) return "UTF8SMTP";  // RFC 6531 §3.7.3
  return session.esmtp() ? "ESMTP" : "SMTP";
}

// Queuing one message: built on the event loop, made durable on the thread
// pool (appended to the journal, or written to the spool if it is too big
// for a journal record), handed to the queue runner, and turned into the
// reply back on the loop.
class StoreTask final : public net::BlockingTask {
 public:
  StoreTask(SmtpContext& ctx, const smtp::ServerSession& session, std::string session_id)
      : ctx_(ctx), session_id_(std::move(session_id)) {
    const auto& txn = session.transaction();
    env_ = make_envelope(txn, ctx.spool.new_id());
    smtp::ReceivedInfo info;
    info.helo = session.helo_name();
    info.peer_ip = session.peer_ip();
    info.hostname = ctx.config->hostname;
    info.protocol = protocol_of(session, txn);
    info.queue_id = env_.id;
    if (txn.recipients.size() == 1) info.recipient = txn.recipients.front().args.address;
    info.when = std::time(nullptr);
    auto content = std::make_shared<std::string>(smtp::received_field(info));
    content->append(txn.content);
    content_ = std::move(content);
  }

  void run() override {
    const std::string_view content[] = {*content_};
    const std::string header = queue::stored_header(env_, content);
    std::uint64_t seq = 0;
    if (header.size() + content_->size() <= ctx_.journal.max_payload()) {
      const std::string_view parts[] = {header, *content_};
      auto appended = ctx_.journal.append(parts);
      if (!appended) {
        ec_ = appended.error();
        return;
      }
      seq = *appended;
    } else if ((ec_ = ctx_.spool.store(env_, content))) {
      return;
    }
    spdlog::info("smtp session={} queue_id={} event=accepted from=<{}> rcpts={} size={}", session_id_, env_.id,
                 env_.sender, env_.recipients.size(), env_.size);
    id_ = env_.id;
    ctx_.runner.submit(std::move(env_), std::move(content_), seq);
  }

  // After run(), on the event loop: what to reply.
  smtp::Reply reply() const {
    if (ec_) {
      spdlog::error("smtp session={} event=queue_failed error=\"{}\"", session_id_, ec_.message());
      if (ec_ == std::errc::no_space_on_device) return {452, "4.3.1", "Insufficient system storage"};
      return {451, "4.3.0", "Local error in processing, try again later"};
    }
    return {250, "2.0.0", "OK queued as " + id_};
  }

 private:
  SmtpContext& ctx_;
  std::string session_id_;
  queue::Envelope env_;
  std::shared_ptr<const std::string> content_;
  std::string id_;
  std::error_code ec_;
};

}  // namespace

asio::awaitable<void> serve_smtp(std::shared_ptr<net::Connection> conn, SmtpContext& ctx, smtp::Flavor flavor) {
  const std::string session_id = core::new_session_id();
  const auto config = ctx.config;  // this session keeps the configuration it started with
  smtp::SessionConfig sc;
  sc.hostname = config->hostname;
  sc.flavor = flavor;
  sc.max_message_size = config->limits.message_size;
  sc.max_recipients = config->limits.recipients;
  sc.max_errors = config->limits.errors;
  smtp::ServerSession session(std::move(sc), conn->peer_ip());
  spdlog::info("smtp session={} client={}:{} event=connect listener={}", session_id, conn->peer_ip(), conn->peer_port(),
               conn->listener());
  session.start();

  std::array<char, kReadChunk> buf;
  std::unique_ptr<StoreTask> store;
  bool told_to_stop = false;
  for (;;) {
    std::string out = session.take_output();
    if (!out.empty()) {
      std::error_code ec;
      co_await conn->write(out, kWriteTimeout, ec);
      if (ec) break;
    }
    if (session.closing()) break;
    if (session.paused()) {
      const auto& request = session.request();
      switch (request.kind) {
        case smtp::Request::Kind::recipient: session.resolve_recipient(check_recipient(ctx, request.address)); break;
        case smtp::Request::Kind::verify:
        case smtp::Request::Kind::expand: session.resolve_lookup(lookup(ctx, request)); break;
        case smtp::Request::Kind::message:
          store = std::make_unique<StoreTask>(ctx, session, session_id);
          co_await net::offload(ctx.server, *store);
          session.resolve_message(store->reply());
          store.reset();
          break;
      }
      continue;
    }
    if (ctx.server.stopping() && !told_to_stop) {
      told_to_stop = true;
      session.shutdown();  // 421 now if idle, else after the transaction
      continue;
    }
    std::error_code ec;
    const auto timeout = session.in_data() ? config->limits.data_timeout : config->limits.command_timeout;
    const std::size_t n = co_await conn->read_some(buf, timeout, ec);
    if (ec == std::errc::timed_out) {
      spdlog::info("smtp session={} event=timeout", session_id);
      session.timeout();
      continue;
    }
    if (ec == asio::error::operation_aborted) continue;  // interrupted: the server is stopping
    if (ec) break;
    session.feed(std::string_view(buf.data(), n));
  }
  spdlog::info("smtp session={} event=disconnect", session_id);
}

}  // namespace poshta::cli
