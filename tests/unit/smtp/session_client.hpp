// Test support for smtp::ServerSession: a client that feeds bytes and reads
// replies, and answers the session's requests as a permissive transport
// would. Shared by the session test files.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "smtp/server_session.hpp"

namespace poshta::smtp::testing {

inline SessionConfig make_config(Flavor flavor = Flavor::smtp) {
  SessionConfig c;
  c.hostname = "mx.test";
  c.flavor = flavor;
  return c;
}

// One client connection: the greeting is read on construction.
class Client {
 public:
  explicit Client(SessionConfig config = make_config()) : s(std::move(config), "192.0.2.7") {
    s.start();
    greeting = s.take_output();
  }

  std::string send(std::string_view bytes) {
    s.feed(bytes);
    return s.take_output();
  }

  // Answers the pending request of `kind` with `resolve`, returns the replies.
  template <typename Resolve>
  std::string answer(Request::Kind kind, Resolve resolve) {
    EXPECT_TRUE(s.paused());
    if (!s.paused()) return {};
    EXPECT_EQ(s.request().kind, kind);
    resolve();
    return s.take_output();
  }

  std::string accept_recipient(std::string_view text = "Recipient OK") {
    return answer(Request::Kind::recipient, [&] {
      s.resolve_recipient({{250, "2.1.5", std::string(text)}, {{s.request().address, true}}});
    });
  }

  std::string queue_message(std::string_view text = "OK queued as Q1") {
    return answer(Request::Kind::message, [&] { s.resolve_message({250, "2.0.0", std::string(text)}); });
  }

  std::string answer_auth(bool ok, const std::string& user) {
    return answer(Request::Kind::auth, [&] { s.resolve_auth(ok, user); });
  }

  std::string answer_sender(Reply r) {
    return answer(Request::Kind::sender, [&] { s.resolve_sender(std::move(r)); });
  }

  // EHLO, MAIL and one accepted RCPT: a transaction ready for DATA or BDAT.
  void open_transaction(std::string_view mail = "MAIL FROM:<a@b.example>\r\n") {
    send("EHLO client.test\r\n");
    ASSERT_EQ(send(mail), "250 2.1.0 Sender <a@b.example> OK\r\n");
    ASSERT_EQ(send("RCPT TO:<u@mx.test>\r\n"), "");
    ASSERT_EQ(accept_recipient(), "250 2.1.5 Recipient OK\r\n");
  }

  ServerSession s;
  std::string greeting;
};

// The reply lines of `wire`, without their CRLF.
inline std::vector<std::string> lines_of(std::string_view wire) {
  std::vector<std::string> out;
  while (!wire.empty()) {
    const auto end = wire.find("\r\n");
    if (end == std::string_view::npos) {
      out.emplace_back(wire);
      break;
    }
    out.emplace_back(wire.substr(0, end));
    wire.remove_prefix(end + 2);
  }
  return out;
}

}  // namespace poshta::smtp::testing
