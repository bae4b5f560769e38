#include "smtp/client_session.hpp"

#include <utility>

#include "auth/sasl.hpp"
#include "core/address.hpp"

namespace poshta::smtp {

namespace {

Capabilities parse_capabilities(const ServerReply& reply) {
  Capabilities caps;
  caps.esmtp = true;
  for (std::size_t i = 1; i < reply.lines.size(); ++i) {  // the first line is the greeting
    const std::string line = core::to_upper(reply.lines[i]);
    const std::string_view l = line;
    const auto sp = l.find(' ');
    const std::string_view keyword = l.substr(0, sp);
    const std::string_view rest = sp == std::string_view::npos ? std::string_view() : l.substr(sp + 1);
    if (keyword == "PIPELINING") {
      caps.pipelining = true;
    } else if (keyword == "8BITMIME") {
      caps.eight_bit_mime = true;
    } else if (keyword == "SMTPUTF8") {
      caps.smtputf8 = true;
    } else if (keyword == "DSN") {
      caps.dsn = true;
    } else if (keyword == "STARTTLS") {
      caps.starttls = true;
    } else if (keyword == "SIZE") {
      caps.size = true;
      std::uint64_t v = 0;
      for (char c : rest) {
        if (c < '0' || c > '9' || v > (UINT64_MAX - 9) / 10) break;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
      }
      caps.size_limit = v;
    } else if (keyword == "AUTH") {
      std::string_view mechs = rest;
      while (!mechs.empty()) {
        const auto end = mechs.find(' ');
        const auto mech = mechs.substr(0, end);
        if (mech == "PLAIN") caps.auth_plain = true;
        if (mech == "LOGIN") caps.auth_login = true;
        if (end == std::string_view::npos) break;
        mechs.remove_prefix(end + 1);
      }
    }
  }
  return caps;
}

bool has_eight_bit(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

std::string notify_list(std::uint8_t bits) {
  if (bits & notify::never) return "NEVER";
  std::string out;
  for (auto [bit, name] : {std::pair{notify::success, "SUCCESS"}, std::pair{notify::failure, "FAILURE"},
                           std::pair{notify::delay, "DELAY"}}) {
    if (bits & bit) {
      if (!out.empty()) out += ',';
      out += name;
    }
  }
  return out;
}

ServerReply synthetic(int code, std::string_view enhanced, std::string_view text) {
  ServerReply r;
  r.code = code;
  r.lines.push_back(std::string(enhanced) + " " + std::string(text));
  return r;
}

}  // namespace

std::string encode_data(std::string_view content) {
  std::string out;
  out.reserve(content.size() + content.size() / 64 + 8);
  bool line_start = true;
  for (std::size_t i = 0; i < content.size(); ++i) {
    const char c = content[i];
    if (line_start && c == '.') out += '.';  // RFC 5321 §4.5.2
    if (c == '\r' || c == '\n') {
      // CRLF, a bare CR and a bare LF all end one line.
      if (c == '\r' && i + 1 < content.size() && content[i + 1] == '\n') ++i;
      out += "\r\n";
      line_start = true;
      continue;
    }
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

ClientSession::ClientSession(ClientOptions options) : options_(std::move(options)) {
  expected_.push_back(Expect::greeting);
}

void ClientSession::feed(std::string_view bytes) {
  reader_.feed(bytes);
  while (state_ != State::failed && state_ != State::done) {
    auto reply = reader_.next();
    if (!reply) break;
    if (expected_.empty()) {  // a reply nobody asked for: out of step
      connection_lost("unexpected reply from the server: " + reply->text());
      return;
    }
    on_reply(*reply);
  }
  if (reader_.broken()) connection_lost("malformed reply from the server");
}

std::string ClientSession::take_output() {
  return std::exchange(output_, {});
}

void ClientSession::command(std::string_view line, Expect expect) {
  output_ += line;
  output_ += "\r\n";
  expected_.push_back(expect);
}

void ClientSession::fail(std::string text, bool permanent, bool tls) {
  failure_ = {std::move(text), permanent, tls};
  state_ = State::failed;
  expected_.clear();
}

// The connection works but will carry no mail: end it politely (RFC 5321
// §4.1.1.10: the client sends QUIT before it closes).
void ClientSession::fail_and_quit(std::string text, bool permanent, bool tls) {
  fail(std::move(text), permanent, tls);
  output_ += "QUIT\r\n";
}

std::chrono::seconds ClientSession::timeout() const {
  using std::chrono::minutes;
  if (expected_.empty()) return minutes(5);
  switch (expected_.front()) {
    case Expect::greeting: return minutes(5);      // §4.5.3.2.1
    case Expect::data: return minutes(2);          // §4.5.3.2.4
    case Expect::end_of_data: return minutes(10);  // §4.5.3.2.6
    default: return minutes(5);                    // §4.5.3.2.2-3 and the rest
  }
}

void ClientSession::on_reply(const ServerReply& reply) {
  const Expect expect = expected_.front();
  expected_.pop_front();
  switch (expect) {
    case Expect::greeting:
      if (reply.code != 220) return fail_and_quit(reply.text(), reply.permanent());
      state_ = State::hello;
      return command((options_.lmtp ? "LHLO " : "EHLO ") + options_.hello_name, Expect::ehlo);
    case Expect::ehlo:
      if (reply.code == 250) {
        caps_ = parse_capabilities(reply);
        return after_hello();
      }
      // RFC 5321 §3.2: a server that does not know EHLO gets HELO. LMTP has only LHLO.
      if (reply.permanent() && !options_.lmtp) return command("HELO " + options_.hello_name, Expect::helo);
      return fail_and_quit(reply.text(), reply.permanent());
    case Expect::helo:
      if (reply.code != 250) return fail_and_quit(reply.text(), reply.permanent());
      caps_ = {};
      return after_hello();
    case Expect::starttls:
      if (reply.code == 220) {
        // Bytes after the 220 came in plaintext: they must not be read as if
        // they came over TLS (response injection, cf. CVE-2011-0411).
        if (!reader_.idle()) return fail("the server sent more after its STARTTLS reply", false, true);
        state_ = State::tls_handshake;
        return;
      }
      if (options_.tls == TlsPolicy::required) return fail_and_quit("STARTTLS refused: " + reply.text(), false, true);
      options_.tls = TlsPolicy::none;  // go on in plaintext
      return after_hello();
    case Expect::auth:
    case Expect::auth_user:
    case Expect::auth_password:
      if (reply.code == 235) {
        authenticated_ = true;
        return after_hello();
      }
      if (reply.code == 334 && expect == Expect::auth) {
        return command(auth::base64_encode(options_.auth_user), Expect::auth_user);
      }
      if (reply.code == 334 && expect == Expect::auth_user) {
        return command(auth::base64_encode(options_.auth_password), Expect::auth_password);
      }
      return fail_and_quit("authentication failed: " + reply.text(), false);
    case Expect::rset:  // whatever it says, the next MAIL starts afresh
      if (message_ && !caps_.pipelining) start_mail();
      return;
    case Expect::mail:
      mail_reply_ = reply;
      if (!reply.positive()) {
        needs_reset_ = false;
        if (!caps_.pipelining) finish_message();
        return;
      }
      needs_reset_ = true;
      if (!caps_.pipelining) {
        if (replies_.empty()) return finish_message();  // no recipient to send
        send_rcpt(0);
      }
      return;
    case Expect::rcpt: {
      const std::size_t i = next_rcpt_reply_++;
      if (i < replies_.size()) {
        replies_[i] = reply;
        accepted_[i] = reply.positive() && mail_reply_ && mail_reply_->positive();
      }
      if (!caps_.pipelining) {
        if (next_rcpt_reply_ < replies_.size()) return send_rcpt(next_rcpt_reply_);
        bool any = false;
        for (bool a : accepted_) any = any || a;
        if (!any) return finish_message();
        return command("DATA", Expect::data);
      }
      return;
    }
    case Expect::data: {
      bool any = false;
      for (bool a : accepted_) any = any || a;
      if (reply.code == 354) {
        if (!any) {  // every RCPT failed but the server still wants data: give it none
          output_ += ".\r\n";
          expected_.push_back(Expect::end_of_data);
          next_final_ = accepted_.size();
          return;
        }
        return send_content();
      }
      // Any other positive reply is out of step: the content never left, so
      // no recipient may take it as a final 2xx.
      if (reply.positive()) return connection_lost("unexpected reply to DATA: " + reply.text());
      for (std::size_t i = 0; i < accepted_.size(); ++i) {
        if (accepted_[i]) replies_[i] = reply;
      }
      return finish_message();
    }
    case Expect::end_of_data:
      if (!options_.lmtp) {
        for (std::size_t i = 0; i < accepted_.size(); ++i) {
          if (accepted_[i]) replies_[i] = reply;
        }
        needs_reset_ = false;
        return finish_message();
      }
      // LMTP: one reply per accepted recipient, in RCPT order (RFC 2033 §4.2).
      while (next_final_ < accepted_.size() && !accepted_[next_final_]) ++next_final_;
      if (next_final_ < accepted_.size()) replies_[next_final_++] = reply;
      if (expected_.empty()) {
        needs_reset_ = false;
        finish_message();
      }
      return;
    case Expect::quit: state_ = State::done; return;
  }
}

void ClientSession::after_hello() {
  if (!options_.tls_active && options_.tls != TlsPolicy::none) {
    if (caps_.starttls) {
      state_ = State::starttls;
      return command("STARTTLS", Expect::starttls);
    }
    if (options_.tls == TlsPolicy::required)
      return fail_and_quit("TLS is required but the server does not offer STARTTLS", false, true);
  }
  if (!options_.auth_user.empty() && !authenticated_) {
    if (!options_.tls_active) return fail_and_quit("will not send credentials without TLS", false, true);
    state_ = State::auth;
    if (caps_.auth_plain) {
      const std::string response = std::string(1, '\0') + options_.auth_user + '\0' + options_.auth_password;
      return command("AUTH PLAIN " + auth::base64_encode(response), Expect::auth_password);
    }
    if (caps_.auth_login) return command("AUTH LOGIN", Expect::auth);
    return fail_and_quit("the server offers neither AUTH PLAIN nor AUTH LOGIN", false);
  }
  state_ = State::ready;
}

void ClientSession::tls_started() {
  if (!reader_.idle()) return fail("the server sent data in plaintext before the TLS handshake", false, true);
  options_.tls_active = true;
  caps_ = {};
  state_ = State::hello;
  // RFC 3207 §4.2: forget what the server said before TLS and greet again.
  command((options_.lmtp ? "LHLO " : "EHLO ") + options_.hello_name, Expect::ehlo);
}

void ClientSession::tls_failed(std::string_view why) {
  fail("TLS handshake failed: " + std::string(why), false, true);
}

void ClientSession::connection_lost(std::string_view why) {
  if (state_ == State::done || state_ == State::failed) return;
  if (message_) {
    // Every recipient without a final reply waits for the next attempt. For
    // LMTP, recipients before next_final_ already have theirs.
    const ServerReply lost = synthetic(421, "4.4.2", "connection lost: " + std::string(why));
    if (!mail_reply_) mail_reply_ = lost;
    for (std::size_t i = 0; i < replies_.size(); ++i) {
      if (!replies_[i] || (accepted_[i] && !(options_.lmtp && i < next_final_))) replies_[i] = lost;
    }
    finish_message();
  }
  fail(std::string(why), false);
}

void ClientSession::refuse_message(int code, std::string_view enhanced, std::string_view text) {
  result_ = MessageResult{};
  result_->recipients.assign(message_->recipients.size(), synthetic(code, enhanced, text));
  message_ = nullptr;
  state_ = State::ready;
}

void ClientSession::send(const OutgoingMessage& message) {
  message_ = &message;
  result_.reset();
  mail_reply_.reset();
  replies_.assign(message.recipients.size(), std::nullopt);
  accepted_.assign(message.recipients.size(), false);
  next_rcpt_reply_ = 0;
  next_final_ = 0;
  content_sent_ = false;

  const bool eight_bit = message.body == BodyType::eight_bit_mime || has_eight_bit(message.content);
  if (eight_bit && !caps_.eight_bit_mime) {
    return refuse_message(554, "5.6.3", "the message has 8-bit content and the server does not accept 8BITMIME");
  }
  if (message.smtputf8 && !caps_.smtputf8) {
    return refuse_message(553, "5.6.7", "the message needs SMTPUTF8 and the server does not support it");
  }
  if (caps_.size_limit != 0 && message.content.size() > caps_.size_limit) {
    return refuse_message(552, "5.3.4",
                          "the message is larger than the server's limit of " + std::to_string(caps_.size_limit));
  }

  state_ = State::transaction;
  if (needs_reset_) {
    command("RSET", Expect::rset);
    needs_reset_ = false;
    if (!caps_.pipelining) return;  // MAIL follows the reply (RFC 2920: no pipelining without it)
  }
  start_mail();
}

void ClientSession::start_mail() {
  const OutgoingMessage& message = *message_;
  const bool eight_bit = message.body == BodyType::eight_bit_mime || has_eight_bit(message.content);
  std::string mail = "MAIL FROM:<" + message.sender + ">";
  if (caps_.size) mail += " SIZE=" + std::to_string(message.content.size());
  if (eight_bit) mail += " BODY=8BITMIME";
  if (message.smtputf8) mail += " SMTPUTF8";
  if (caps_.dsn) {
    if (message.ret == Ret::full) mail += " RET=FULL";
    if (message.ret == Ret::hdrs) mail += " RET=HDRS";
    if (!message.envid.empty()) mail += " ENVID=" + message.envid;
  }
  command(std::move(mail), Expect::mail);
  if (caps_.pipelining) {
    for (std::size_t i = 0; i < message.recipients.size(); ++i) send_rcpt(i);
    command("DATA", Expect::data);
  }
}

void ClientSession::send_rcpt(std::size_t index) {
  const auto& r = message_->recipients[index];
  std::string rcpt = "RCPT TO:<" + r.address + ">";
  if (caps_.dsn) {
    if (r.notify != 0) rcpt += " NOTIFY=" + notify_list(r.notify);
    if (!r.orcpt.empty()) rcpt += " ORCPT=" + r.orcpt;
  }
  command(std::move(rcpt), Expect::rcpt);
}

void ClientSession::send_content() {
  output_ += encode_data(message_->content);
  content_sent_ = true;
  std::size_t finals = 1;
  if (options_.lmtp) {
    finals = 0;
    for (bool a : accepted_) finals += a ? 1 : 0;
  }
  for (std::size_t i = 0; i < finals; ++i) expected_.push_back(Expect::end_of_data);
}

void ClientSession::finish_message() {
  if (!message_) return;
  MessageResult out;
  out.dsn_passed_on = caps_.dsn;
  out.recipients.reserve(replies_.size());
  for (std::size_t i = 0; i < replies_.size(); ++i) {
    if (mail_reply_ && !mail_reply_->positive())
      out.recipients.push_back(*mail_reply_);
    else if (replies_[i])
      out.recipients.push_back(*replies_[i]);
    else
      out.recipients.push_back(synthetic(451, "4.3.0", "no reply for this recipient"));
  }
  result_ = std::move(out);
  message_ = nullptr;
  if (state_ == State::transaction) state_ = State::ready;
}

std::optional<MessageResult> ClientSession::result() {
  return std::exchange(result_, std::nullopt);
}

void ClientSession::quit() {
  state_ = State::quitting;
  command("QUIT", Expect::quit);
}

}  // namespace poshta::smtp
