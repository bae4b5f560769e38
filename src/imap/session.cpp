#include "imap/session.hpp"

#include <utility>

namespace poshta::imap {

namespace {

bool one_of(const std::string& name, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (name == n) return true;
  }
  return false;
}

}  // namespace

Session::Session(SessionConfig config) : config_(std::move(config)), reader_(config_.append_limit) {
  output_ = "* OK [CAPABILITY " + capabilities() + "] " + config_.hostname + " Poshta IMAP ready\r\n";
}

std::string Session::capabilities() const {
  std::string caps =
      "IMAP4rev1 LITERAL+ SASL-IR ID ENABLE IDLE NAMESPACE UNSELECT UIDPLUS MOVE CHILDREN SPECIAL-USE ESEARCH "
      "LIST-EXTENDED LIST-STATUS STATUS=SIZE CONDSTORE QRESYNC BINARY SEARCHRES UTF8=ACCEPT IMAP4rev2 COMPRESS=DEFLATE";
  caps += " APPENDLIMIT=" + std::to_string(config_.append_limit);
  if (state_ == State::not_authenticated) {
    if (config_.starttls && !config_.tls_active) caps += " STARTTLS";
    caps += plaintext_ok() ? " AUTH=PLAIN" : " LOGINDISABLED";  // RFC 9051 §6.2.3
  }
  return caps;
}

std::string Session::take_output() {
  output_ += reader_.take_output();
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

void Session::tagged(const std::string& tag, std::string_view text) {
  output_ += tag;
  output_ += ' ';
  output_ += text;
  output_ += "\r\n";
}

void Session::bad(const std::string& tag, std::string_view text) {
  tagged(tag, "BAD " + std::string(text));
  if (++errors_ >= config_.max_errors) {
    output_ += "* BYE Too many bad commands, closing the connection\r\n";
    state_ = State::logout;
  }
}

void Session::feed(std::string_view bytes) {
  if (state_ == State::logout || wants_tls_) return;
  reader_.feed(bytes);
  process();
}

void Session::process() {
  while (!paused() && state_ != State::logout && !wants_tls_) {
    if (sasl_ || idle_tag_) {
      auto line = reader_.next_line();
      if (!line) return;
      if (idle_tag_) {
        // RFC 2177: only DONE (in any case, as every IMAP keyword) ends IDLE; anything else is a protocol error.
        std::string word = *line;
        for (auto& ch : word) ch = static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
        if (word == "DONE") {
          tagged(*idle_tag_, "OK IDLE terminated");
        } else {
          bad(*idle_tag_, "expected DONE");
        }
        idle_tag_.reset();
        continue;
      }
      sasl_step(sasl_->respond(*line));
      continue;
    }
    auto raw = reader_.next();
    if (!raw) return;
    command(*raw);
  }
}

void Session::command(const RawCommand& raw) {
  auto parsed = parse(raw);
  if (auto* e = std::get_if<ParseError>(&parsed)) {
    bad(e->tag, e->text);  // "* BAD" without a usable tag; counts as an error either way
    return;
  }
  dispatch(std::move(std::get<Command>(parsed)));
}

void Session::dispatch(Command cmd) {
  const std::string& n = cmd.name;
  // Any state (RFC 9051 §6.1).
  if (n == "CAPABILITY") {
    output_ += "* CAPABILITY " + capabilities() + "\r\n";
    return tagged(cmd.tag, "OK CAPABILITY completed");
  }
  if (n == "LOGOUT") {
    output_ += "* BYE " + config_.hostname + " Poshta IMAP logging out\r\n";
    tagged(cmd.tag, "OK LOGOUT completed");
    state_ = State::logout;
    return;
  }
  if (n == "ID") {  // RFC 2971
    output_ += "* ID (\"name\" \"Poshta\")\r\n";
    return tagged(cmd.tag, "OK ID completed");
  }
  if (state_ == State::not_authenticated) {
    if (n == "STARTTLS") {
      if (!config_.starttls || config_.tls_active) return bad(cmd.tag, "STARTTLS is not available here");
      tagged(cmd.tag, "OK Begin TLS negotiation now");
      wants_tls_ = true;
      reader_ = Reader(config_.append_limit);  // pipelined plaintext is not taken as if it came over TLS
      return;
    }
    if (n == "LOGIN") {
      if (!plaintext_ok()) return tagged(cmd.tag, "NO [PRIVACYREQUIRED] LOGIN is allowed only over TLS");
      pending_tag_ = cmd.tag;
      Request r;
      r.kind = Request::Kind::auth;
      r.user = cmd.user;
      r.password = cmd.password;
      return request(std::move(r));
    }
    if (n == "AUTHENTICATE") return authenticate(cmd);
    if (n == "NOOP") return tagged(cmd.tag, "OK NOOP completed");
    return bad(cmd.tag, n + " needs you to log in first");
  }
  if (one_of(n, {"STARTTLS", "LOGIN", "AUTHENTICATE"})) return bad(cmd.tag, "already logged in");
  if (n == "IDLE") {
    output_ += "+ idling\r\n";
    idle_tag_ = cmd.tag;
    return;
  }
  if (n == "COMPRESS") {
    if (cmd.atoms.empty() || cmd.atoms[0] != "DEFLATE") return bad(cmd.tag, "only COMPRESS DEFLATE is offered");
    if (compressed_) return tagged(cmd.tag, "NO [COMPRESSIONACTIVE] DEFLATE is active already");
    tagged(cmd.tag, "OK DEFLATE active");
    wants_compress_ = compressed_ = true;
    // The client sends nothing more before this OK (RFC 4978 §3); whatever
    // it did send is not in the stream that starts now.
    reader_ = Reader(config_.append_limit);
    return;
  }
  if (n == "NAMESPACE") {  // RFC 2342: one personal namespace, "." as delimiter
    output_ += "* NAMESPACE ((\"\" \".\")) NIL NIL\r\n";
    return tagged(cmd.tag, "OK NAMESPACE completed");
  }
  const bool needs_selected =
      one_of(n, {"CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "SEARCH", "FETCH", "STORE", "COPY", "MOVE"});
  if (needs_selected && state_ != State::selected) return bad(cmd.tag, n + " needs a selected mailbox");
  pending_tag_ = cmd.tag;
  Request r;
  r.kind = Request::Kind::command;
  r.command = std::move(cmd);
  request(std::move(r));
}

void Session::authenticate(Command& cmd) {
  if (!plaintext_ok()) return tagged(cmd.tag, "NO [PRIVACYREQUIRED] AUTHENTICATE is allowed only over TLS");
  auto sasl = auth::SaslServer::create(cmd.mechanism);
  if (!sasl) return tagged(cmd.tag, "NO [CANNOT] unknown mechanism; use PLAIN");
  sasl_ = std::move(sasl);
  pending_tag_ = cmd.tag;
  std::optional<std::string_view> initial;
  if (cmd.initial_response) initial = *cmd.initial_response;
  sasl_step(sasl_->begin(initial));
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
      sasl_.reset();
      return request(std::move(r));
    }
    case Status::cancelled: sasl_.reset(); return bad(pending_tag_, "AUTHENTICATE cancelled");
    case Status::failed: sasl_.reset(); return bad(pending_tag_, step.error);
  }
}

void Session::resolve_auth(bool ok, const std::string& canonical_user) {
  pending_.reset();
  if (ok) {
    user_ = canonical_user;
    state_ = State::authenticated;
    tagged(pending_tag_, "OK [CAPABILITY " + capabilities() + "] Logged in");
  } else {
    tagged(pending_tag_, "NO [AUTHENTICATIONFAILED] Authentication failed");
    if (++auth_failures_ >= config_.max_auth_failures) {
      output_ += "* BYE Too many failed logins, closing the connection\r\n";
      state_ = State::logout;
    }
  }
  process();
}

void Session::resolve_command(std::string untagged, std::string completion, bool selected) {
  pending_.reset();
  output_ += untagged;
  tagged(pending_tag_, completion);
  if (state_ != State::logout) state_ = selected ? State::selected : State::authenticated;
  process();
}

void Session::push_untagged(std::string_view lines) {
  output_ += lines;
}

void Session::shutdown() {
  if (state_ == State::logout) return;
  output_ += "* BYE [UNAVAILABLE] Server shutting down\r\n";
  state_ = State::logout;
}

void Session::tls_started() {
  wants_tls_ = false;
  config_.tls_active = true;
}

}  // namespace poshta::imap
