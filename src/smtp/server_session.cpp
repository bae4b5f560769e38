#include "smtp/server_session.hpp"

#include <utility>

#include "core/address.hpp"
#include "mime/header.hpp"

namespace poshta::smtp {

namespace {

// RFC 5321 §4.5.3.1.4: 512 octets with CRLF; MAIL and RCPT may grow by the
// parameters of the extensions we offer (SIZE, BODY, SMTPUTF8, RET, ENVID,
// NOTIFY, ORCPT: RFC 3461 §5 alone allows 500 octets for ORCPT).
constexpr std::size_t kMaxCommandLine = 512;
constexpr std::size_t kMaxParamLine = 2048;
// RFC 4954 §4: a line of the SASL exchange may be 12,288 octets.
constexpr std::size_t kMaxAuthLine = 12288;
// RFC 5321 §6.3: a message with this many Received fields is looping.
constexpr std::size_t kMaxReceived = 50;

bool is_param_verb(std::string_view name) {
  return core::iequals(name, "MAIL") || core::iequals(name, "RCPT") || core::iequals(name, "SEND") ||
         core::iequals(name, "SOML") || core::iequals(name, "SAML");
}

}  // namespace

ServerSession::ServerSession(SessionConfig config, std::string peer_ip)
    : config_(std::move(config)), peer_ip_(std::move(peer_ip)), tls_active_(config_.tls_active) {}

void ServerSession::start() {
  append_reply(output_, {220, {}, config_.hostname + (lmtp() ? " LMTP Poshta" : " ESMTP Poshta")});
}

std::string ServerSession::take_output() {
  return std::exchange(output_, {});
}

void ServerSession::feed(std::string_view bytes) {
  if (closing_) return;
  input_.append(bytes);
  process();
}

void ServerSession::reply(const Reply& r) {
  append_reply(output_, r);
  if (r.code >= 500 && ++errors_ >= config_.max_errors) {
    close_with({421, "4.7.0", config_.hostname + " Too many errors, closing connection"});
  }
}

// RFC 2033 §4.2: in LMTP the end of the message gets one reply per accepted
// RCPT, in order (duplicates included); elsewhere, and when no transaction
// has recipients, one reply. The copies count as one error.
void ServerSession::reply_per_recipient(const Reply& r) {
  if (!lmtp() || !txn_ || txn_->recipients.empty()) return reply(r);
  const auto& rcpts = txn_->recipients;
  for (std::size_t i = 0; i < rcpts.size(); ++i) {
    Reply copy{r.code, r.enhanced, "<" + rcpts[i].args.address + "> " + r.text};
    if (i + 1 < rcpts.size()) {
      append_reply(output_, copy);
    } else {
      reply(copy);
    }
  }
}

void ServerSession::close_with(const Reply& r) {
  if (closing_) return;
  append_reply(output_, r);
  closing_ = true;
  input_.clear();
  pending_.reset();
}

void ServerSession::reset_transaction() {
  txn_.reset();
  framer_.reset();
}

void ServerSession::timeout() {
  close_with({421, "4.4.2", config_.hostname + " Timeout exceeded, closing connection"});
}

void ServerSession::shutdown() {
  shutting_down_ = true;
  process();
}

void ServerSession::process() {
  consume_input();
  // A stopping server says goodbye once the transaction in flight has ended,
  // however it ended (queued, refused, RSET).
  if (shutting_down_ && !busy() && !closing_ && phase_ == Phase::command) {
    close_with({421, "4.3.2", config_.hostname + " Service shutting down, closing connection"});
  }
}

void ServerSession::consume_input() {
  while (!closing_ && !pending_ && !tls_requested_ && !input_.empty()) {
    if (phase_ == Phase::data) {
      const std::size_t used = framer_->feed(input_, txn_->content);
      input_.erase(0, used);
      if (framer_->done()) finish_message();
      continue;
    }
    if (phase_ == Phase::chunk) {
      consume_chunk();
      continue;
    }
    const auto lf = input_.find('\n');
    if (lf == std::string::npos) {
      if (input_.size() > (phase_ == Phase::auth ? kMaxAuthLine : kMaxParamLine)) {  // no end in sight: drop it
        discarding_line_ = true;
        input_.clear();
      }
      return;
    }
    // Command lines end with CRLF; a bare LF is tolerated here as Postfix
    // does (no framing depends on it), never inside DATA.
    std::string line = input_.substr(0, lf);
    input_.erase(0, lf + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (std::exchange(discarding_line_, false)) {
      if (phase_ == Phase::auth) {  // RFC 4954 §4: 500 5.5.6
        phase_ = Phase::command;
        sasl_.reset();
        reply({500, "5.5.6", "Authentication exchange line is too long"});
      } else {
        reply({500, "5.5.2", "Line too long"});
      }
      continue;
    }
    if (phase_ == Phase::auth) {
      sasl_step(sasl_->respond(line));
      continue;
    }
    handle_line(line);
  }
}

void ServerSession::handle_line(std::string_view line) {
  const CommandLine cmd = split_command(line);
  const std::size_t limit = is_param_verb(cmd.name)           ? kMaxParamLine
                            : core::iequals(cmd.name, "AUTH") ? kMaxAuthLine
                                                              : kMaxCommandLine;
  if (line.size() + 2 > limit) {
    reply({500, "5.5.2", "Line too long"});
    return;
  }
  if (is_http_verb(cmd.name)) {  // a cross-protocol attack: no reply, just leave
    closing_ = true;
    input_.clear();
    return;
  }
  handle_command(cmd);
}

void ServerSession::handle_command(const CommandLine& cmd) {
  auto no_args = [&](std::string_view syntax) {
    if (cmd.args.empty()) return true;
    reply({501, "5.5.4", "Syntax: " + std::string(syntax)});
    return false;
  };
  switch (cmd.verb) {
    case Verb::helo:
    case Verb::ehlo:
      // RFC 2033 §4.1: LHLO replaces them, so SMTP and LMTP are never confused.
      if (lmtp()) return reply({500, "5.5.1", "This is an LMTP server: use LHLO"});
      return do_helo(cmd, cmd.verb == Verb::ehlo);
    case Verb::mail:
    case Verb::send:
    case Verb::soml:
    case Verb::saml: return do_mail(cmd);
    case Verb::rcpt: return do_rcpt(cmd);
    case Verb::data: return do_data(cmd);
    case Verb::bdat: return do_bdat(cmd);
    case Verb::rset:
      if (no_args("RSET")) {
        reset_transaction();
        reply({250, "2.0.0", "Reset OK"});
      }
      return;
    case Verb::noop: return reply({250, "2.0.0", "OK"});
    case Verb::quit:
      if (no_args("QUIT")) close_with({221, "2.0.0", config_.hostname + " Bye"});
      return;
    case Verb::vrfy: return do_lookup(cmd, Request::Kind::verify);
    case Verb::expn: return do_lookup(cmd, Request::Kind::expand);
    case Verb::help: return do_help(cmd);
    case Verb::starttls: return do_starttls(cmd);
    case Verb::auth: return do_auth(cmd);
    case Verb::lhlo:
      if (lmtp()) return do_helo(cmd, true);
      [[fallthrough]];  // LMTP's greeting has no meaning in SMTP
    case Verb::unknown: return reply({500, "5.5.2", "Command not recognized"});
  }
}

void ServerSession::do_helo(const CommandLine& cmd, bool extended) {
  std::string_view name = cmd.args;
  while (!name.empty() && name.back() == ' ') name.remove_suffix(1);
  if (name.empty() || name.find(' ') != std::string_view::npos) {
    return reply({501, "5.5.4",
                  lmtp()     ? "Syntax: LHLO hostname"
                  : extended ? "Syntax: EHLO hostname"
                             : "Syntax: HELO hostname"});
  }
  // Kept for the Received field: only printable US-ASCII, bounded.
  helo_.clear();
  for (char c : name.substr(0, 255)) helo_ += (c > 32 && c < 127) ? c : '?';
  esmtp_ = extended;
  reset_transaction();  // RFC 5321 §4.1.4
  if (!extended) return append_reply(output_, {250, {}, config_.hostname});
  std::string text = config_.hostname + " greets " + helo_ + "\nPIPELINING\nSIZE " +
                     std::to_string(config_.max_message_size) +
                     "\n8BITMIME\nENHANCEDSTATUSCODES\nSMTPUTF8\nCHUNKING\nDSN\nHELP";
  if (config_.starttls && !tls_active_ && !lmtp()) text += "\nSTARTTLS";
  if (auth_offered()) text += "\nAUTH " + std::string(auth::SaslServer::kMechanisms);
  append_reply(output_, {250, {}, std::move(text)});
}

void ServerSession::do_mail(const CommandLine& cmd) {
  if (helo_.empty()) return reply({503, "5.5.1", lmtp() ? "Send LHLO first" : "Send HELO or EHLO first"});
  if (txn_) return reply({503, "5.5.1", "Nested MAIL command: send RSET first"});
  if (config_.flavor == Flavor::submission && user_.empty()) {
    return reply({530, "5.7.0", "Authentication required"});
  }
  MailArgs args;
  if (auto error = parse_mail_args(cmd.args, args)) return reply(std::move(*error));
  if (args.size && *args.size > config_.max_message_size) {
    return reply(
        {552, "5.3.4", "Message size exceeds the limit of " + std::to_string(config_.max_message_size) + " octets"});
  }
  pending_mode_ = cmd.verb;
  pending_mail_ = std::move(args);
  if (!user_.empty()) {
    // docs/SPEC.md promise 2: an authenticated user sends only as itself.
    pending_ = Request{Request::Kind::sender, pending_mail_->address, {}, false};
    return;
  }
  settle_sender({250, "2.1.0", "Sender <" + pending_mail_->address + "> OK"});
}

void ServerSession::settle_sender(const Reply& r) {
  if (r.positive()) {
    txn_.emplace();
    txn_->mode = pending_mode_;
    txn_->mail = std::move(*pending_mail_);
  }
  pending_mail_.reset();
  reply(r);
}

void ServerSession::resolve_sender(Reply r) {
  if (!pending_ || pending_->kind != Request::Kind::sender || !pending_mail_) return;
  pending_.reset();
  settle_sender(r);
  process();
}

void ServerSession::do_rcpt(const CommandLine& cmd) {
  if (!txn_) return reply({503, "5.5.1", "Need MAIL before RCPT"});
  if (txn_->recipients.size() >= config_.max_recipients) {
    // RFC 5321 §4.5.3.1.10: 452 for too many recipients.
    return reply(
        {452, "4.5.3", "Too many recipients (at most " + std::to_string(config_.max_recipients) + " per message)"});
  }
  RcptArgs args;
  if (auto error = parse_rcpt_args(cmd.args, txn_->mail.smtputf8, args)) return reply(std::move(*error));
  if (txn_->mode == Verb::send) {
    // RFC 821 SEND delivers to a user's terminal; this host has none.
    return reply({450, "4.2.0", "<" + args.address + "> is not logged in at a terminal"});
  }
  // LMTP is final delivery: never a relay, whoever the client is.
  const bool may_relay = !lmtp() && (!user_.empty() || config_.relay_trusted);
  pending_ = Request{Request::Kind::recipient, args.address, {}, may_relay};
  txn_->recipients.push_back({std::move(args), {}});
}

void ServerSession::resolve_recipient(RecipientVerdict verdict) {
  if (!pending_ || pending_->kind != Request::Kind::recipient) return;
  pending_.reset();
  if (verdict.reply.positive()) {
    txn_->recipients.back().destinations = std::move(verdict.destinations);
  } else {
    txn_->recipients.pop_back();
  }
  reply(std::move(verdict.reply));
  process();
}

void ServerSession::do_data(const CommandLine& cmd) {
  if (!cmd.args.empty()) return reply({501, "5.5.4", "Syntax: DATA"});
  if (!txn_) return reply({503, "5.5.1", "Need MAIL before DATA"});
  if (txn_->used_bdat) return reply({503, "5.5.1", "DATA cannot follow BDAT in one transaction"});
  // RFC 5321 §3.3: 554; RFC 2033 §4.2: 503 in LMTP.
  if (txn_->recipients.empty()) return reply({lmtp() ? 503 : 554, "5.5.1", "No valid recipients"});
  framer_.emplace(DataFramer::Mode::dot_terminated, config_.max_message_size);
  phase_ = Phase::data;
  append_reply(output_, {354, {}, "End data with <CR><LF>.<CR><LF>"});
}

void ServerSession::do_bdat(const CommandLine& cmd) {
  std::uint64_t size = 0;
  bool last = false;
  if (auto error = parse_bdat_args(cmd.args, size, last)) {
    // Without a valid size we cannot know where the chunk ends (RFC 3030 §3):
    // the only safe way on is to close.
    return close_with({501, "5.5.4", "Bad BDAT size, closing connection"});
  }
  chunk_left_ = size;
  chunk_last_ = last;
  chunk_discard_ = false;
  phase_ = Phase::chunk;
  std::optional<Reply> refusal;
  if (!txn_)
    refusal = Reply{503, "5.5.1", "Need MAIL before BDAT"};
  else if (txn_->recipients.empty())
    refusal = Reply{lmtp() ? 503 : 554, "5.5.1", "No valid recipients"};
  else if (framer_ && !txn_->used_bdat)
    refusal = Reply{503, "5.5.1", "BDAT cannot follow DATA"};
  else if (txn_->content.size() + size > config_.max_message_size) {
    refusal = Reply{552, "5.3.4",
                    "Message size exceeds the limit of " + std::to_string(config_.max_message_size) + " octets"};
  }
  if (refusal) {
    // The chunk's octets still arrive and are skipped; the transaction is over.
    // A refused BDAT LAST ends the message: in LMTP, one reply per recipient.
    chunk_discard_ = true;
    if (last) {
      reply_per_recipient(*refusal);
    } else {
      reply(*refusal);
    }
    reset_transaction();
    if (chunk_left_ == 0) phase_ = Phase::command;
    return;
  }
  txn_->used_bdat = true;
  if (!framer_) framer_.emplace(DataFramer::Mode::counted, config_.max_message_size);
  if (chunk_left_ == 0) consume_chunk();
}

void ServerSession::consume_chunk() {
  const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(chunk_left_, input_.size()));
  if (!chunk_discard_) framer_->feed(std::string_view(input_).substr(0, n), txn_->content);
  input_.erase(0, n);
  chunk_left_ -= n;
  if (chunk_left_ > 0) return;
  phase_ = Phase::command;
  if (chunk_discard_) return;
  if (chunk_last_) {
    framer_->end_of_content();
    return finish_message();
  }
  append_reply(output_, {250, "2.0.0", std::to_string(framer_->size()) + " octets received"});
}

void ServerSession::finish_message() {
  phase_ = Phase::command;
  std::optional<Reply> refusal;
  if (framer_->too_big()) {
    refusal = Reply{552, "5.3.4",
                    "Message size exceeds the limit of " + std::to_string(config_.max_message_size) + " octets"};
  } else if (framer_->bare_line_end()) {
    refusal = Reply{554, "5.6.0", "Message refused: bare CR or LF found; lines must end with CRLF (RFC 5321 §2.3.8)"};
  } else if (framer_->line_too_long()) {
    refusal = Reply{554, "5.6.0", "Message refused: a line is longer than 1000 octets (RFC 5321 §4.5.3.1.6)"};
  } else if (mime::count_fields(txn_->content, "Received") > kMaxReceived) {
    refusal = Reply{554, "5.4.6", "Too many Received header fields: mail loop?"};
  }
  if (refusal) {
    reply_per_recipient(*refusal);  // RFC 2033 §4.2: the whole message is refused, for everyone
    return reset_transaction();
  }
  pending_ = Request{Request::Kind::message, {}, {}, false};
}

void ServerSession::resolve_message(Reply r) {
  if (!pending_ || pending_->kind != Request::Kind::message) return;
  pending_.reset();
  reply_per_recipient(r);
  reset_transaction();
  process();
}

void ServerSession::do_lookup(const CommandLine& cmd, Request::Kind kind) {
  std::string_view arg = cmd.args;
  while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
  if (arg.size() > 2 && arg.front() == '<' && arg.back() == '>') arg = arg.substr(1, arg.size() - 2);
  if (arg.empty()) {
    return reply({501, "5.5.4", kind == Request::Kind::verify ? "Syntax: VRFY <address>" : "Syntax: EXPN <list>"});
  }
  pending_ = Request{kind, std::string(arg), {}, false};
}

void ServerSession::resolve_lookup(Reply r) {
  if (!pending_ || (pending_->kind != Request::Kind::verify && pending_->kind != Request::Kind::expand)) return;
  pending_.reset();
  reply(std::move(r));
  process();
}

void ServerSession::do_starttls(const CommandLine& cmd) {
  if (!cmd.args.empty()) return reply({501, "5.5.4", "Syntax: STARTTLS"});
  if (!config_.starttls || lmtp()) return reply({502, "5.5.1", "STARTTLS is not offered by this server"});
  if (tls_active_) return reply({503, "5.5.1", "TLS is already active"});
  append_reply(output_, {220, "2.0.0", "Ready to start TLS"});
  tls_requested_ = true;
  input_.clear();  // pipelined plaintext after STARTTLS is never trusted (CVE-2011-0411)
}

void ServerSession::tls_started() {
  // RFC 3207 §4.2: forget everything learnt before TLS.
  tls_requested_ = false;
  tls_active_ = true;
  input_.clear();
  helo_.clear();
  esmtp_ = false;
  user_.clear();
  reset_transaction();
  pending_mail_.reset();
  sasl_.reset();
  phase_ = Phase::command;
}

void ServerSession::do_auth(const CommandLine& cmd) {
  if (config_.flavor != Flavor::submission) return reply({502, "5.5.1", "AUTH is offered on the submission port"});
  if (!tls_active_) {
    return reply({538, "5.7.11", "Encryption required for requested authentication mechanism: use STARTTLS"});
  }
  if (helo_.empty()) return reply({503, "5.5.1", "Send EHLO first"});
  if (!user_.empty()) return reply({503, "5.5.1", "Already authenticated"});
  if (txn_) return reply({503, "5.5.1", "AUTH is not allowed during a mail transaction"});
  const auto sp = cmd.args.find(' ');
  const std::string_view mechanism = cmd.args.substr(0, sp);
  if (mechanism.empty()) return reply({501, "5.5.4", "Syntax: AUTH mechanism [initial-response]"});
  sasl_ = auth::SaslServer::create(mechanism);
  if (!sasl_) {
    return reply(
        {504, "5.5.4", "Unrecognized authentication type; offered: " + std::string(auth::SaslServer::kMechanisms)});
  }
  std::optional<std::string_view> initial;
  if (sp != std::string_view::npos) initial = cmd.args.substr(sp + 1);
  sasl_step(sasl_->begin(initial));
}

void ServerSession::sasl_step(const auth::SaslServer::Step& step) {
  using Status = auth::SaslServer::Status;
  switch (step.status) {
    case Status::challenge:
      phase_ = Phase::auth;
      append_reply(output_, {334, {}, step.challenge});
      return;
    case Status::done:
      phase_ = Phase::command;
      pending_ = Request{Request::Kind::auth, sasl_->credentials().username, sasl_->credentials().password, false};
      sasl_.reset();
      return;
    case Status::cancelled:
      phase_ = Phase::command;
      sasl_.reset();
      return reply({501, "5.7.0", "Authentication cancelled"});
    case Status::failed:
      phase_ = Phase::command;
      sasl_.reset();
      return reply({501, "5.5.2", "Cannot decode the response: " + step.error});
  }
}

void ServerSession::resolve_auth(bool ok, const std::string& user) {
  if (!pending_ || pending_->kind != Request::Kind::auth) return;
  pending_.reset();  // the password goes with it
  if (ok) {
    user_ = user;
    reply({235, "2.7.0", "Authentication successful"});
  } else if (++auth_failures_ >= config_.max_auth_failures) {
    append_reply(output_, {535, "5.7.8", "Authentication credentials invalid"});
    close_with({421, "4.7.0", config_.hostname + " Too many authentication failures, closing connection"});
  } else {
    reply({535, "5.7.8", "Authentication credentials invalid"});
  }
  process();
}

void ServerSession::do_help(const CommandLine& cmd) {
  if (cmd.args.empty()) {
    std::string text = lmtp() ? "Commands: LHLO" : "Commands:";
    for (const auto& v : verbs()) {
      if (offered(v.verb) && v.verb != Verb::lhlo) text += " " + std::string(v.name);
    }
    text += "\nHELP <command> shows its syntax\nReport problems to postmaster@" + config_.hostname;
    return reply({214, "2.0.0", std::move(text)});
  }
  const VerbInfo* v = find_verb(cmd.args);
  if (!v || !offered(v->verb)) return reply({504, "5.5.1", "HELP topic unknown"});
  reply({214, "2.0.0", std::string(v->syntax)});
}

bool ServerSession::offered(Verb verb) const {
  if (!lmtp()) return verb != Verb::lhlo;
  return verb != Verb::helo && verb != Verb::ehlo && verb != Verb::starttls && verb != Verb::auth;
}

}  // namespace poshta::smtp
