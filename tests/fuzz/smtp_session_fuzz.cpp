// The SMTP server session end to end, without sockets: the input is the
// client's byte stream (commands, DATA, BDAT) in two pieces; every request
// the session makes is answered (recipients accepted, messages queued) so
// the fuzzer reaches every phase. It must never crash, and a closed session
// stays closed. Input that starts with "LHLO" drives the LMTP flavor.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "smtp/server_session.hpp"

namespace {

void drain(poshta::smtp::ServerSession& s) {
  using Kind = poshta::smtp::Request::Kind;
  while (s.paused()) {
    switch (s.request().kind) {
      case Kind::recipient: s.resolve_recipient({{250, "2.1.5", "OK"}, {{"a@b", true}}}); break;
      case Kind::verify:
      case Kind::expand: s.resolve_lookup({250, "2.1.5", "<a@b>"}); break;
      case Kind::message: s.resolve_message({250, "2.0.0", "queued"}); break;
      case Kind::auth: s.resolve_auth(s.request().password == "right", s.request().address); break;
      case Kind::sender: s.resolve_sender({250, "2.1.0", "OK"}); break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  poshta::smtp::SessionConfig config;
  config.hostname = "mx.test";
  config.max_message_size = 2048;
  config.max_recipients = 5;
  if (in.size() >= 4 && (in.substr(0, 4) == "LHLO" || in.substr(0, 4) == "lhlo")) {
    config.flavor = poshta::smtp::Flavor::lmtp;
  }
  poshta::smtp::ServerSession s(config, "127.0.0.1");
  s.start();
  const std::size_t cut = size / 3;
  s.feed(in.substr(0, cut));
  drain(s);
  s.feed(in.substr(cut));
  drain(s);
  const bool closed = s.closing();
  (void)s.take_output();
  s.feed("NOOP\r\n");
  drain(s);
  if (closed && !s.take_output().empty()) std::abort();  // nothing after close
  if (s.buffered() > 64 * 1024) std::abort();
  return 0;
}
