#include "pop3/session.hpp"

#include "core/address.hpp"

#include <charconv>
#include <utility>

namespace poshta::pop3 {

namespace {

// RFC 2449 §4: a command line is at most 255 octets with its CRLF; AUTH
// lines carry base64 credentials and may be longer (RFC 5034 §4).
constexpr std::size_t kMaxLine = 2048;

std::optional<std::uint64_t> number(std::string_view s) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

}  // namespace

Session::Session(SessionConfig config) : config_(std::move(config)) {
  ok(config_.hostname + " POP3 Poshta ready");
}

void Session::ok(std::string_view text) {
  output_ += "+OK";
  if (!text.empty()) {
    output_ += ' ';
    output_ += text;
  }
  output_ += "\r\n";
}

void Session::err(std::string_view text, bool counts) {
  output_ += "-ERR ";
  output_ += text;
  output_ += "\r\n";
  if (counts && ++errors_ >= config_.max_errors) {
    output_ += "-ERR [SYS/PERM] too many errors, closing the connection\r\n";
    state_ = State::closed;
  }
}

std::string Session::take_output() {
  return std::exchange(output_, {});
}

std::optional<Request> Session::take_request() {
  if (!pending_ || handed_out_) return std::nullopt;
  handed_out_ = true;
  return *pending_;
}

void Session::request(Request r) {
  pending_ = std::move(r);
  handed_out_ = false;
}

void Session::feed(std::string_view bytes) {
  if (state_ == State::closed || wants_tls_) return;
  input_.append(bytes);
  process();
}

void Session::process() {
  while (!paused() && state_ != State::closed && !wants_tls_) {
    const auto nl = input_.find('\n');
    if (nl == std::string::npos) {
      if (input_.size() > kMaxLine) {  // no end in sight: refuse it (once), then drop up to the next line end
        input_.clear();
        if (!discarding_) {
          discarding_ = true;
          err("line too long");
        }
      }
      return;
    }
    std::string text = input_.substr(0, nl);
    input_.erase(0, nl + 1);
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.size() > kMaxLine) {
      err("line too long");
      continue;
    }
    if (sasl_)
      sasl_line(text);
    else
      line(text);
  }
}

void Session::line(std::string_view text) {
  const auto sp = text.find(' ');
  const std::string_view verb = text.substr(0, sp);
  const std::string_view args = sp == std::string_view::npos ? std::string_view() : text.substr(sp + 1);
  if (core::iequals(verb, "CAPA")) return capa();
  if (core::iequals(verb, "QUIT") && args.empty()) {
    if (state_ == State::transaction) {
      Request r;
      r.kind = Request::Kind::commit;
      for (std::size_t i = 0; i < deleted_.size(); ++i) {
        if (deleted_[i]) r.deleted.push_back(i);
      }
      state_ = State::update;
      if (!r.deleted.empty()) return request(std::move(r));
    }
    ok(config_.hostname + " POP3 Poshta signing off");
    state_ = State::closed;
    return;
  }
  if (state_ == State::authorization) return authorization(verb, args);
  transaction(verb, args);
}

void Session::capa() {
  output_ += "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\nPIPELINING\r\n";
  output_ += "EXPIRE NEVER\r\nLOGIN-DELAY 0\r\n";
  if (state_ == State::authorization) {
    if (plaintext_ok()) output_ += "USER\r\nSASL PLAIN LOGIN\r\n";
    if (config_.stls && !config_.tls_active) output_ += "STLS\r\n";
  }
  output_ += "IMPLEMENTATION Poshta\r\n.\r\n";
}

void Session::authorization(std::string_view verb, std::string_view args) {
  constexpr std::string_view kNeedTls = "[AUTH] Plaintext authentication is allowed only over TLS: use STLS first";
  if (core::iequals(verb, "STLS")) {
    if (!config_.stls || config_.tls_active) return err("STLS is not available here");
    ok("Begin TLS negotiation");
    wants_tls_ = true;
    input_.clear();  // pipelined plaintext must not be taken as if it came over TLS
    return;
  }
  if (core::iequals(verb, "USER")) {
    if (!plaintext_ok()) return err(kNeedTls);
    if (args.empty()) return err("USER needs a name");
    user_ = std::string(args);
    return ok("send PASS");
  }
  if (core::iequals(verb, "PASS")) {
    if (!plaintext_ok()) return err(kNeedTls);
    if (user_.empty()) return err("send USER first");
    Request r;
    r.kind = Request::Kind::auth;
    r.user = user_;
    r.password = std::string(args);
    return request(std::move(r));
  }
  if (core::iequals(verb, "AUTH")) {
    if (!plaintext_ok()) return err(kNeedTls);
    if (args.empty()) {  // the mechanisms, as many clients ask (RFC 1734 practice)
      output_ += "+OK SASL mechanisms follow\r\nPLAIN\r\nLOGIN\r\n.\r\n";
      return;
    }
    const auto sp = args.find(' ');
    auto sasl = auth::SaslServer::create(args.substr(0, sp));
    if (!sasl) return err("[AUTH] unknown mechanism; use PLAIN or LOGIN");
    sasl_ = std::move(sasl);
    std::optional<std::string_view> initial;
    if (sp != std::string_view::npos) initial = args.substr(sp + 1);
    const auto step = sasl_->begin(initial);
    return sasl_step(step);
  }
  if (core::iequals(verb, "APOP")) return err("APOP is not supported; use USER/PASS or AUTH over TLS");
  for (const char* cmd : {"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "TOP", "UIDL"}) {
    if (core::iequals(verb, cmd)) return err("log in first");
  }
  err("unknown command");
}

void Session::sasl_line(std::string_view text) {
  sasl_step(sasl_->respond(text));
}

void Session::sasl_step(const auth::SaslServer::Step& step) {
  using Status = auth::SaslServer::Status;
  switch (step.status) {
    case Status::challenge: output_ += "+ " + step.challenge + "\r\n"; return;
    case Status::done: {
      Request r;
      r.kind = Request::Kind::auth;
      r.user = sasl_->credentials().username;
      r.password = sasl_->credentials().password;
      user_ = r.user;
      sasl_.reset();
      return request(std::move(r));
    }
    case Status::cancelled: sasl_.reset(); return err("authentication cancelled");
    case Status::failed: sasl_.reset(); return err("[AUTH] " + step.error);
  }
}

void Session::resolve_auth(bool success) {
  pending_.reset();
  if (!success) {
    user_.clear();
    err("[AUTH] authentication failed");
    if (++auth_failures_ >= config_.max_auth_failures && state_ != State::closed) {
      output_ += "-ERR [AUTH] too many failed logins, closing the connection\r\n";
      state_ = State::closed;
    }
  } else {
    Request r;
    r.kind = Request::Kind::open;
    r.user = user_;
    request(std::move(r));
    return;
  }
  process();
}

void Session::resolve_open(OpenResult result, std::vector<Message> messages) {
  pending_.reset();
  switch (result) {
    case OpenResult::ok: {
      messages_ = std::move(messages);
      deleted_.assign(messages_.size(), false);
      state_ = State::transaction;
      std::uint64_t octets = 0;
      for (const auto& m : messages_) octets += m.size;
      ok("maildrop has " + std::to_string(messages_.size()) + " messages (" + std::to_string(octets) + " octets)");
      break;
    }
    case OpenResult::in_use:
      user_.clear();
      err("[IN-USE] the maildrop is in use by another POP3 session", false);
      break;
    case OpenResult::failed:
      user_.clear();
      err("[SYS/TEMP] the maildrop cannot be opened now; try again later", false);
      break;
  }
  process();
}

std::optional<std::size_t> Session::message_number(std::string_view arg) {
  const auto n = number(arg);
  if (!n || *n == 0 || *n > messages_.size()) {
    err("no such message");
    return std::nullopt;
  }
  if (deleted_[*n - 1]) {
    err("message " + std::to_string(*n) + " is deleted");
    return std::nullopt;
  }
  return static_cast<std::size_t>(*n - 1);
}

void Session::transaction(std::string_view verb, std::string_view args) {
  if (core::iequals(verb, "STAT") && args.empty()) {
    std::uint64_t count = 0, octets = 0;
    for (std::size_t i = 0; i < messages_.size(); ++i) {
      if (deleted_[i]) continue;
      ++count;
      octets += messages_[i].size;
    }
    return ok(std::to_string(count) + " " + std::to_string(octets));
  }
  if (core::iequals(verb, "LIST") || core::iequals(verb, "UIDL")) {
    const bool uidl = core::iequals(verb, "UIDL");
    auto value = [&](std::size_t i) { return uidl ? messages_[i].uidl : std::to_string(messages_[i].size); };
    if (!args.empty()) {
      const auto i = message_number(args);
      if (!i) return;
      return ok(std::to_string(*i + 1) + " " + value(*i));
    }
    output_ += uidl ? "+OK unique-id listing follows\r\n" : "+OK scan listing follows\r\n";
    for (std::size_t i = 0; i < messages_.size(); ++i) {
      if (!deleted_[i]) output_ += std::to_string(i + 1) + " " + value(i) + "\r\n";
    }
    output_ += ".\r\n";
    return;
  }
  if (core::iequals(verb, "RETR") || core::iequals(verb, "TOP")) {
    const bool top = core::iequals(verb, "TOP");
    const auto sp = args.find(' ');
    if (top != (sp != std::string_view::npos)) return err(top ? "usage: TOP msg lines" : "usage: RETR msg");
    const auto i = message_number(args.substr(0, sp));
    if (!i) return;
    Request r;
    r.kind = Request::Kind::retrieve;
    r.message = *i;
    if (top) {
      const auto lines = number(args.substr(sp + 1));
      if (!lines) return err("usage: TOP msg lines");
      r.body_lines = *lines;
    }
    return request(std::move(r));
  }
  if (core::iequals(verb, "DELE")) {
    const auto i = message_number(args);
    if (!i) return;
    deleted_[*i] = true;
    return ok("message " + std::to_string(*i + 1) + " deleted");
  }
  if (core::iequals(verb, "NOOP") && args.empty()) return ok("");
  if (core::iequals(verb, "RSET") && args.empty()) {
    deleted_.assign(messages_.size(), false);
    return ok("maildrop has " + std::to_string(messages_.size()) + " messages");
  }
  for (const char* cmd : {"USER", "PASS", "AUTH", "APOP", "STLS"}) {
    if (core::iequals(verb, cmd)) return err("already logged in");
  }
  err("unknown command");
}

void Session::resolve_retrieve(bool success) {
  const Request r = *pending_;
  pending_.reset();
  if (success) {
    ok(std::to_string(messages_[r.message].size) + " octets");
    // The transport sends the message, then calls resume().
    return;
  }
  err("[SYS/TEMP] the message cannot be read now", false);
  process();  // nothing to send: go on with pipelined commands
}

void Session::resume() {
  process();
}

void Session::resolve_commit(bool success) {
  pending_.reset();
  if (success)
    ok(config_.hostname + " POP3 Poshta signing off");
  else
    err("[SYS/TEMP] some deleted messages could not be removed", false);
  state_ = State::closed;
}

void Session::tls_started() {
  wants_tls_ = false;
  config_.tls_active = true;
  user_.clear();
}

}  // namespace poshta::pop3
