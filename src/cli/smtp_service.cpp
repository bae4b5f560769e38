#include "cli/smtp_service.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>

#include "auth/password.hpp"
#include "cli/service_steps.hpp"
#include "core/address.hpp"
#include "core/ids.hpp"
#include "mime/date.hpp"
#include "mime/header.hpp"
#include "smtp/received.hpp"

namespace poshta::cli {

namespace {

// Read buffer per connection; small, as most sessions are short commands.
constexpr std::size_t kReadChunk = 8192;
constexpr std::chrono::seconds kWriteTimeout{300};

// `lmtp`: final delivery (RFC 2033), so an address of another domain is
// simply not a mailbox here.
smtp::RecipientVerdict check_recipient(SmtpContext& ctx, const smtp::Request& request, bool lmtp) {
  const std::string& address = request.address;
  const auto exp = ctx.directory.expand(address);
  if (exp.status == directory::Lookup::temporary_failure) {
    return {{451, "4.3.0", "Temporary lookup failure, try again later"}, {}};
  }
  if (!exp.local_domain) {
    if (lmtp) return {{550, "5.1.1", "<" + address + ">: not a local mailbox"}, {}};
    // docs/SPEC.md promise 2: relay only for authenticated (or trusted) clients.
    if (!request.may_relay) return {{554, "5.7.1", "<" + address + ">: Relay access denied"}, {}};
    return {{250, "2.1.5", "Recipient <" + address + "> OK"}, {{core::canonical_address(address), false}}};
  }
  if (exp.status == directory::Lookup::not_found) {
    return {{550, "5.1.1", "<" + address + ">: No such user here"}, {}};
  }
  smtp::RecipientVerdict verdict{{250, "2.1.5", "Recipient <" + address + "> OK"}, {}};
  for (const auto& d : exp.destinations) verdict.destinations.push_back({d.address, d.local});
  return verdict;
}

// docs/SPEC.md promise 2: the authenticated user may use its own address or
// an alias that resolves to it as the envelope sender, nothing else.
smtp::Reply check_sender(SmtpContext& ctx, const std::string& user, const std::string& sender) {
  const std::string canonical = core::canonical_address(sender);
  bool owned = canonical == user;
  if (!owned && !canonical.empty()) {
    const auto exp = ctx.directory.expand(canonical);
    if (exp.status == directory::Lookup::temporary_failure) return {451, "4.3.0", "Temporary lookup failure"};
    owned =
        exp.local_domain && std::any_of(exp.destinations.begin(), exp.destinations.end(),
                                        [&](const directory::Destination& d) { return d.local && d.address == user; });
  }
  if (!owned) return {553, "5.7.1", "<" + sender + ">: Sender address not owned by " + user};
  return {250, "2.1.0", "Sender <" + sender + "> OK"};
}

// Checking a password runs on the thread pool: hashes are slow on purpose.
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
      queue::EnvelopeRecipient e;
      e.address = d.address;
      e.local = d.local;
      e.original = r.args.address;
      e.notify = r.args.notify;
      e.orcpt = r.args.orcpt;
      env.add_recipient(std::move(e));
    }
  }
  return env;
}

// RFC 6409 §8.1-8.3: a submission server may add a missing Date and
// Message-ID. Returns the fields to add.
std::string submission_fixes(const std::string& content, const std::string& queue_id, const std::string& hostname,
                             std::time_t now) {
  bool has_date = false;
  bool has_message_id = false;
  mime::HeaderReader reader(content);
  while (auto field = reader.next()) {
    has_date = has_date || core::iequals(field->name, "Date");
    has_message_id = has_message_id || core::iequals(field->name, "Message-ID");
  }
  std::string fields;
  if (!has_date) fields += "Date: " + mime::rfc5322_date(now) + "\r\n";
  if (!has_message_id) fields += "Message-ID: <" + queue_id + "@" + hostname + ">\r\n";
  return fields;
}

// Queuing one message: built on the event loop, made durable on the thread
// pool (appended to the journal, or written to the spool if it is too big
// for a journal record), handed to the queue runner, and turned into the
// reply back on the loop.
class StoreTask final : public net::BlockingTask {
 public:
  StoreTask(SmtpContext& ctx, const smtp::ServerSession& session, std::string session_id,
            const std::string& tls_version, const std::string& tls_cipher)
      : ctx_(ctx), session_id_(std::move(session_id)) {
    const auto& txn = session.transaction();
    env_ = make_envelope(txn, ctx.spool.new_id());
    smtp::ReceivedInfo info;
    info.helo = session.helo_name();
    info.peer_ip = session.peer_ip();
    info.hostname = ctx.config->hostname;
    info.protocol =
        smtp::received_protocol(session.esmtp(), txn.mail.smtputf8, session.tls_active(),
                                !session.authenticated_user().empty(), session.flavor() == smtp::Flavor::lmtp);
    info.queue_id = env_.id;
    if (txn.recipients.size() == 1) info.recipient = txn.recipients.front().args.address;
    info.when = std::time(nullptr);
    info.tls_version = tls_version;
    info.tls_cipher = tls_cipher;
    info.authenticated_user = session.authenticated_user();
    auto content = std::make_shared<std::string>(smtp::received_field(info));
    if (!session.authenticated_user().empty()) {
      content->append(submission_fixes(txn.content, env_.id, info.hostname, info.when));
    }
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

asio::awaitable<void> serve_smtp(std::shared_ptr<net::Connection> conn, SmtpContext& ctx, smtp::Flavor flavor,
                                 bool implicit_tls) {
  const std::string session_id = core::new_session_id();
  const auto config = ctx.config;  // this session keeps the configuration it started with
  spdlog::info("smtp session={} client={}:{} event=connect listener={}", session_id, conn->peer_ip(), conn->peer_port(),
               conn->listener());
  if (implicit_tls) {  // RFC 8314: TLS from the first octet
    std::error_code ec;
    co_await server_handshake(*conn, ctx.tls, "smtp", session_id, ec);
    if (ec) co_return;
  }
  smtp::SessionConfig sc;
  sc.hostname = config->hostname;
  sc.flavor = flavor;
  sc.starttls = ctx.tls != nullptr && flavor != smtp::Flavor::lmtp;  // LMTP: trusted local networks
  sc.tls_active = implicit_tls;
  sc.relay_trusted = std::any_of(config->trusted_networks.begin(), config->trusted_networks.end(),
                                 [&](const core::Network& n) { return n.contains(conn->peer_ip()); });
  sc.max_message_size = config->limits.message_size;
  sc.max_recipients = config->limits.recipients;
  sc.max_errors = config->limits.errors;
  sc.max_auth_failures = config->limits.auth_failures;
  smtp::ServerSession session(std::move(sc), conn->peer_ip());
  session.start();

  std::array<char, kReadChunk> buf;
  std::unique_ptr<StoreTask> store;
  std::unique_ptr<PasswordCheck> auth;
  bool told_to_stop = false;
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
      co_await server_handshake(*conn, ctx.tls, "smtp", session_id, ec);
      if (ec) break;
      session.tls_started();
      continue;
    }
    if (session.paused()) {
      const auto& request = session.request();
      switch (request.kind) {
        case smtp::Request::Kind::recipient:
          session.resolve_recipient(check_recipient(ctx, request, flavor == smtp::Flavor::lmtp));
          break;
        case smtp::Request::Kind::verify:
        case smtp::Request::Kind::expand: session.resolve_lookup(lookup(ctx, request)); break;
        case smtp::Request::Kind::sender:
          session.resolve_sender(check_sender(ctx, session.authenticated_user(), request.address));
          break;
        case smtp::Request::Kind::auth: {
          auth = std::make_unique<PasswordCheck>(ctx.directory, request.address, request.password);
          co_await check_login(ctx.server, ctx.throttle, *conn, "smtp", session_id, *auth);
          session.resolve_auth(auth->ok(), auth->user());
          auth.reset();
          break;
        }
        case smtp::Request::Kind::message: {
          const std::string tls_version = conn->tls_version();
          const std::string tls_cipher = conn->tls_cipher();
          store = std::make_unique<StoreTask>(ctx, session, session_id, tls_version, tls_cipher);
          co_await net::offload(ctx.server, *store);
          session.resolve_message(store->reply());
          store.reset();
          break;
        }
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
