// smtp::ServerSession: the server side of one SMTP connection as a sans-IO
// state machine (RFC 5321 §4.1, §4.3.2 sequencing; RFC 2920 pipelining).
//
// The transport feeds it the bytes it reads and writes out what
// take_output() returns. The session never touches a socket, a file or a
// clock. A question it cannot answer itself (is this recipient local? what
// does VRFY/EXPN say? is the message safely queued?) becomes a Request; the
// session then reports paused() and consumes no further input until the
// matching resolve_*() call, which gives pipelined clients their replies in
// order and the transport natural back-pressure.
//
// Phases: `command` reads CRLF-terminated lines (at most 512 octets, 2048
// for MAIL/RCPT with their ESMTP parameters); `data` hands the content to a
// DataFramer until <CRLF>.<CRLF>; `chunk` takes exactly the octets a BDAT
// announced; `auth` reads the lines of a SASL exchange. Transaction state
// (sender, recipients, content) lives in `Transaction` and is reset by RSET,
// HELO/EHLO and the end of each message.
//
// STARTTLS (RFC 3207): after the 220 the session wants_tls(); everything
// the client sent after the command is discarded (pipelined plaintext must
// not be taken as if it came over TLS, CVE-2011-0411), and once the
// transport has done the handshake, tls_started() forgets all state, HELO
// and authentication included (§4.2). AUTH (RFC 4954) is offered only on
// submission listeners and only over TLS; the credentials become a request
// whose answer is resolve_auth().
//
// LMTP (RFC 2033) is the `lmtp` flavor: the greeting says LMTP, LHLO is the
// only hello (HELO and EHLO get 500), there is no STARTTLS, AUTH or relay,
// DATA without an accepted recipient is 503, and the end of the message
// (DATA's final dot, BDAT LAST) gets one reply per accepted RCPT, in order,
// each naming its recipient (§4.2): the message is stored once, so they all
// carry the same verdict.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/sasl.hpp"
#include "smtp/command.hpp"
#include "smtp/data_framer.hpp"
#include "smtp/reply.hpp"

namespace poshta::smtp {

enum class Flavor { smtp, submission, lmtp };

struct SessionConfig {
  std::string hostname;
  Flavor flavor = Flavor::smtp;
  bool starttls = false;       // STARTTLS can be offered (the server has a TLS context)
  bool tls_active = false;     // implicit TLS: the session starts inside TLS
  bool relay_trusted = false;  // the client is in trusted_networks
  std::uint32_t max_auth_failures = 3;
  std::uint64_t max_message_size = 26214400;
  std::uint32_t max_recipients = 100;
  std::uint32_t max_errors = 10;
};

// Where an accepted recipient's mail goes after alias expansion.
struct Destination {
  std::string address;
  bool local = false;  // a mailbox here, else a remote address
};

struct Recipient {
  RcptArgs args;  // as the client sent them
  std::vector<Destination> destinations;
};

struct Transaction {
  Verb mode = Verb::mail;  // mail, send, soml or saml
  MailArgs mail;
  std::vector<Recipient> recipients;
  std::string content;  // the message as received, CRLF line ends
  bool used_bdat = false;
};

struct Request {
  enum class Kind { recipient, verify, expand, message, auth, sender };
  Kind kind = Kind::recipient;
  std::string address;     // recipient, verify, expand, sender: as the client wrote it; auth: the user name
  std::string password;    // auth only
  bool may_relay = false;  // recipient: the client is authenticated or trusted
};

struct RecipientVerdict {
  Reply reply;                            // 2xx: accepted
  std::vector<Destination> destinations;  // for an accepted recipient
};

class ServerSession {
 public:
  ServerSession(SessionConfig config, std::string peer_ip);

  // Queues the 220 greeting.
  void start();
  // Takes bytes read from the client and processes as far as possible.
  void feed(std::string_view bytes);

  bool paused() const { return pending_.has_value(); }
  const Request& request() const { return *pending_; }
  // The transaction a `message` request asks to queue.
  const Transaction& transaction() const { return *txn_; }

  void resolve_recipient(RecipientVerdict verdict);
  // `user` is the canonical name to record when `ok`.
  void resolve_auth(bool ok, const std::string& user);
  // 2xx: the authenticated user may use this sender address.
  void resolve_sender(Reply reply);
  void resolve_lookup(Reply reply);  // VRFY or EXPN
  // The message was queued (2xx) or not. In LMTP every accepted recipient
  // gets this reply, with "<address> " put before its text.
  void resolve_message(Reply reply);

  // The transport's events.
  bool wants_tls() const { return tls_requested_; }
  void tls_started();
  void timeout();
  void shutdown();  // the server is stopping; call when !busy()

  // Replies produced so far, in order.
  std::string take_output();
  bool closing() const { return closing_; }
  // True while a transaction is open or a request is pending: a stopping
  // server lets it finish.
  bool busy() const { return txn_.has_value() || pending_.has_value(); }
  std::size_t buffered() const { return input_.size(); }
  bool in_data() const { return phase_ != Phase::command; }

  const std::string& helo_name() const { return helo_; }
  bool tls_active() const { return tls_active_; }
  const std::string& authenticated_user() const { return user_; }
  bool esmtp() const { return esmtp_; }
  const std::string& peer_ip() const { return peer_ip_; }
  Flavor flavor() const { return config_.flavor; }

 private:
  enum class Phase { command, data, chunk, auth };

  void process();
  void consume_input();
  void handle_line(std::string_view line);
  void handle_command(const CommandLine& cmd);
  void reply(const Reply& r);
  void reply_per_recipient(const Reply& r);
  void close_with(const Reply& r);
  void reset_transaction();

  void do_helo(const CommandLine& cmd, bool extended);
  void do_mail(const CommandLine& cmd);
  void do_rcpt(const CommandLine& cmd);
  void do_data(const CommandLine& cmd);
  void do_bdat(const CommandLine& cmd);
  void do_help(const CommandLine& cmd);
  void do_lookup(const CommandLine& cmd, Request::Kind kind);
  void do_starttls(const CommandLine& cmd);
  void do_auth(const CommandLine& cmd);
  void sasl_step(const auth::SaslServer::Step& step);
  void settle_sender(const Reply& r);
  bool auth_offered() const { return config_.flavor == Flavor::submission && tls_active_; }
  bool lmtp() const { return config_.flavor == Flavor::lmtp; }
  bool offered(Verb verb) const;  // listed by HELP in this flavor
  void consume_chunk();
  void finish_message();

  SessionConfig config_;
  std::string peer_ip_;
  std::string input_;
  std::string output_;
  Phase phase_ = Phase::command;
  std::string helo_;
  bool esmtp_ = false;
  std::optional<Transaction> txn_;
  std::optional<Request> pending_;
  std::optional<DataFramer> framer_;
  std::uint64_t chunk_left_ = 0;  // octets of the current BDAT chunk still to come
  bool chunk_last_ = false;
  bool chunk_discard_ = false;    // the BDAT was refused; its octets are skipped
  bool discarding_line_ = false;  // an overlong command line, skipped to its end
  std::uint32_t errors_ = 0;
  bool tls_active_ = false;
  bool tls_requested_ = false;
  std::string user_;  // authenticated user, empty if none
  std::uint32_t auth_failures_ = 0;
  std::optional<auth::SaslServer> sasl_;
  std::optional<MailArgs> pending_mail_;  // MAIL waiting for its sender check
  Verb pending_mode_ = Verb::mail;
  bool closing_ = false;
  bool shutting_down_ = false;
};

}  // namespace poshta::smtp
