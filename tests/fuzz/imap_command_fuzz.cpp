// IMAP input end to end without sockets: the client's byte stream through
// imap::Reader (cut into reads of a size the first octet chooses) and every
// command it frames through imap::parse; then the same bytes through an
// imap::Session whose requests are answered with canned results (success or
// failure chosen from the input's own octets), so the fuzzer reaches every
// state. It must never crash, hang or leak; a parsed command has a tag and a
// name; the session asks for mailbox work only once logged in, for message
// work only with a mailbox selected, writes only whole CRLF lines, and a
// closed session stays closed.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "imap/command.hpp"
#include "imap/reader.hpp"
#include "imap/session.hpp"

namespace {

using poshta::imap::Command;
using poshta::imap::ParseError;
using poshta::imap::Reader;
using poshta::imap::Request;
using poshta::imap::Session;

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

void check_command(const Command& c) {
  if (c.tag.empty() || c.name.empty()) std::abort();
  for (const auto& r : c.set.ranges) {
    if (r.first == 0 || r.first > r.last) std::abort();  // "0" is refused, "5:2" is put in order
  }
  if (c.name == "APPEND" && c.append.size() != 1) std::abort();
  if ((c.name == "FETCH") && c.fetch.empty()) std::abort();
}

void frame_and_parse(std::string_view in, std::size_t chunk, std::uint64_t append_limit) {
  Reader reader(append_limit);
  std::size_t held = 0;
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    reader.feed(in.substr(i, chunk));
    while (auto raw = reader.next()) {
      held = 0;
      for (const auto& ch : raw->chunks) held += ch.data.size();
      // Text at most kMaxText, literals within the limits: never much more.
      if (held > append_limit + 4 * Reader::kMaxText) std::abort();
      if (raw->too_long && raw->chunks.size() > 1) std::abort();
      auto parsed = poshta::imap::parse(*raw);
      if (auto* c = std::get_if<Command>(&parsed)) {
        if (raw->too_long) std::abort();
        check_command(*c);
      } else if (std::get<ParseError>(parsed).text.empty()) {
        std::abort();
      }
    }
    const std::string out = reader.take_output();
    for (std::size_t p = 0; p < out.size(); p += 26) {
      if (out.compare(p, 26, "+ Ready for literal data\r\n") != 0) std::abort();
    }
  }
}

bool whole_lines(const std::string& out) {
  return out.empty() || (out.size() >= 2 && out.compare(out.size() - 2, 2, "\r\n") == 0);
}

struct Driver {
  Session s;
  Choices choices;

  void drain() {
    for (int guard = 0; guard < 10000; ++guard) {
      if (!whole_lines(s.take_output())) std::abort();
      if (s.wants_tls()) {
        s.tls_started();
        continue;
      }
      auto r = s.take_request();
      if (!r) {
        if (s.paused()) std::abort();  // a request the transport can never see
        return;
      }
      if (r->kind == Request::Kind::auth) {
        if (s.state() != Session::State::not_authenticated) std::abort();
        s.resolve_auth(choices.next(), r->user + "@mx.test");
        continue;
      }
      const Command& c = r->command;
      check_command(c);
      if (s.state() == Session::State::not_authenticated) std::abort();
      for (const char* n : {"FETCH", "STORE", "SEARCH", "COPY", "MOVE", "EXPUNGE", "CLOSE", "UNSELECT", "CHECK"}) {
        if (c.name == n && s.state() != Session::State::selected) std::abort();
      }
      const bool ok = choices.next();
      bool selected = s.state() == Session::State::selected;
      if (c.name == "SELECT" || c.name == "EXAMINE") selected = ok;
      if (c.name == "CLOSE" || c.name == "UNSELECT") selected = false;
      s.resolve_command(ok ? "* 1 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\n" : "", ok ? "OK done" : "NO [CANNOT] no",
                        selected);
      if (choices.next() && s.idling()) s.push_untagged("* 2 EXISTS\r\n");
    }
    std::abort();  // requests without end
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned char flags = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t chunk = 1 + ((flags >> 6) == 0 ? in.size() : (flags >> 6) * 7);
  const std::uint64_t append_limit = (flags & 32) ? 100 : 70000;

  frame_and_parse(in, chunk, append_limit);

  poshta::imap::SessionConfig config;
  config.hostname = "mx.test";
  config.plaintext_allowed = flags & 1;
  config.starttls = flags & 2;
  config.tls_active = flags & 4;
  config.max_errors = 3 + ((flags >> 3) & 3);
  config.append_limit = append_limit;
  Driver d{Session(config), Choices(in)};
  d.drain();
  for (std::size_t i = 0; i < in.size(); i += chunk) {
    d.s.feed(in.substr(i, chunk));
    d.drain();
  }
  const bool closed = d.s.closing();
  d.s.feed("z NOOP\r\n");
  d.drain();
  if (closed && !d.s.take_output().empty()) std::abort();  // nothing after close
  // End whatever is in progress (a literal, IDLE, an AUTHENTICATE exchange), then log out.
  if (!d.s.closing()) {
    d.s.feed("\r\nDONE\r\n*\r\nz LOGOUT\r\n");
    d.drain();
  }
  if (!d.s.closing()) {
    d.s.feed(std::string(70000 + 10, 'x') + "\r\nz LOGOUT\r\n");
    d.drain();
  }
  // A literal of many octets may still be read (and dropped): only then is the session open.
  if (!d.s.closing() && in.find('{') == std::string_view::npos) std::abort();
  return 0;
}
