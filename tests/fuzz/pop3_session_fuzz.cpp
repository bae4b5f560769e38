// The POP3 server session end to end, without sockets. The first octet
// chooses the configuration (plaintext allowed, STLS offered, implicit TLS,
// error limit) and how the input is cut into reads; the rest is the
// client's byte stream. Every request the session makes is answered, with
// success or failure chosen from the input's own octets, so the fuzzer
// reaches every state: the maildrop opens with up to three fake messages,
// RETR and TOP run a fake message through a MessageEncoder, STLS "succeeds"
// at once. It must never crash or leak, requests must name only messages
// that exist and are not deleted, and a closed session stays closed.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "pop3/encoder.hpp"
#include "pop3/session.hpp"

namespace {

using poshta::pop3::Message;
using poshta::pop3::MessageEncoder;
using poshta::pop3::Request;
using poshta::pop3::Session;

constexpr std::string_view kStored =
    "Return-Path: <a@b.test>\nSubject: fuzz\n\nfirst\n.dot\n.\r\nlast\rline\nno newline";

// Yes/no answers taken from the input's octets, one bit at a time from the
// last octet backwards (a seed ends with the answers it wants: 0xFF, all yes).
class Choices {
 public:
  explicit Choices(std::string_view bytes) : bytes_(bytes) {}
  bool next() {
    if (bytes_.empty()) return (bit_++ & 1) == 0;
    const std::size_t i = bytes_.size() - 1 - (bit_ / 8) % bytes_.size();
    const bool b = (static_cast<unsigned char>(bytes_[i]) >> (bit_ % 8)) & 1;
    ++bit_;
    return b;
  }

 private:
  std::string_view bytes_;
  std::size_t bit_ = 0;
};

struct Driver {
  Session s;
  Choices choices;
  std::vector<Message> messages;  // as the maildrop was opened

  void drain() {
    for (int guard = 0; guard < 1000; ++guard) {
      (void)s.take_output();
      if (s.wants_tls()) {
        s.tls_started();
        continue;
      }
      auto r = s.take_request();
      if (!r) {
        if (s.paused()) std::abort();  // a request the transport can never see
        return;
      }
      switch (r->kind) {
        case Request::Kind::auth: s.resolve_auth(choices.next()); break;
        case Request::Kind::open: {
          if (choices.next()) {
            messages.clear();
            const int n = (choices.next() ? 1 : 0) + (choices.next() ? 2 : 0);
            for (int i = 0; i < n; ++i) {
              messages.push_back({kStored.size() + 10 * static_cast<std::uint64_t>(i), "UID" + std::to_string(i)});
            }
            s.resolve_open(Session::OpenResult::ok, messages);
          } else {
            s.resolve_open(choices.next() ? Session::OpenResult::in_use : Session::OpenResult::failed);
          }
          break;
        }
        case Request::Kind::retrieve: {
          if (r->message >= messages.size()) std::abort();
          const bool ok = choices.next();
          s.resolve_retrieve(ok);
          if (ok) {
            MessageEncoder e(r->body_lines);
            std::string out;
            for (std::size_t i = 0; i < kStored.size() && !e.done(); i += 5) e.feed(kStored.substr(i, 5), out);
            e.finish(out);
            if (out.size() < 3 || out.compare(out.size() - 3, 3, ".\r\n") != 0) std::abort();
            if (out.find('\r') != std::string::npos) {
              // Every CR is part of a CRLF.
              for (std::size_t i = 0; i < out.size(); ++i) {
                if (out[i] == '\r' && (i + 1 == out.size() || out[i + 1] != '\n')) std::abort();
              }
            }
          }
          s.resume();
          break;
        }
        case Request::Kind::commit: {
          if (r->deleted.empty()) std::abort();  // QUIT without deletions needs no commit
          if (!std::is_sorted(r->deleted.begin(), r->deleted.end())) std::abort();
          if (std::adjacent_find(r->deleted.begin(), r->deleted.end()) != r->deleted.end()) std::abort();
          if (r->deleted.back() >= messages.size()) std::abort();
          s.resolve_commit(choices.next());
          if (!s.closing()) std::abort();
          break;
        }
      }
    }
    std::abort();  // requests without end
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned char flags = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  poshta::pop3::SessionConfig config;
  config.hostname = "mx.test";
  config.plaintext_allowed = flags & 1;
  config.stls = flags & 2;
  config.tls_active = flags & 4;
  config.max_errors = 3 + ((flags >> 3) & 7);
  const std::size_t chunk = 1 + ((flags >> 6) == 0 ? in.size() : (flags >> 6) * 13);

  Driver d{Session(config), Choices(in), {}};
  d.drain();
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    d.s.feed(in.substr(i, chunk));
    d.drain();
  }
  const bool closed = d.s.closing();
  d.s.feed("NOOP\r\n");
  d.drain();
  if (closed && !d.s.take_output().empty()) std::abort();  // nothing after close
  d.s.feed("QUIT\r\n");
  d.drain();
  if (!d.s.closing()) {
    // The QUIT ended a partial line or a line being discarded, or was taken
    // as a SASL response: cancel any exchange, end any line, and QUIT again.
    d.s.feed("*\r\n\r\nQUIT\r\n");
    d.drain();
  }
  if (!d.s.closing()) std::abort();
  return 0;
}
