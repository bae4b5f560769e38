// The MIME structure parser: every range lies inside the input and inside
// its parent, parts follow each other, every section number finds the part
// it names, and the envelope and RFC 2047 decoding run on every header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "mime/address_list.hpp"
#include "mime/encoded_word.hpp"
#include "mime/entity.hpp"
#include "mime/envelope.hpp"
#include "mime/header.hpp"

namespace {

using poshta::mime::Entity;

struct Walk {
  std::string_view in;
  const Entity* root;
  std::size_t count = 0;

  void check(bool ok) const {
    if (!ok) std::abort();
  }

  void check_view(const std::optional<std::string_view>& v) const {
    if (v) check(v->data() >= in.data() && v->data() + v->size() <= in.data() + in.size());
  }

  void decode_header(const Entity& e) {
    poshta::mime::HeaderReader reader(e.header.of(in));
    while (auto f = reader.next()) (void)poshta::mime::decode_encoded_words(f->value);
  }

  void envelope(const Entity& message) {
    const auto env = poshta::mime::parse_envelope(message.header.of(in));
    for (const auto* list : {&env.from, &env.sender, &env.reply_to, &env.to, &env.cc, &env.bcc}) {
      for (const auto& a : *list) {
        if (a.name) (void)poshta::mime::decode_encoded_words(*a.name);
      }
    }
  }

  // The parts of a message: a multipart's children, or the message as part 1.
  void message(const Entity& m, std::vector<std::uint32_t>& path) {
    envelope(m);
    if (m.is_multipart()) {
      children(m, path);
    } else {
      path.push_back(1);
      part(m, path);
      path.pop_back();
    }
  }

  void children(const Entity& e, std::vector<std::uint32_t>& path) {
    for (std::size_t i = 0; i < e.children.size(); ++i) {
      path.push_back(static_cast<std::uint32_t>(i + 1));
      part(e.children[i], path);
      path.pop_back();
    }
  }

  void part(const Entity& e, std::vector<std::uint32_t>& path) {
    check(poshta::mime::find_section(*root, path) == &e);
    if (e.is_multipart()) {
      children(e, path);
    } else if (const Entity* embedded = e.embedded_message()) {
      message(*embedded, path);
    }
  }

  // Ranges, order and limits, over every entity once.
  void ranges(const Entity& e, std::size_t depth) {
    ++count;
    check(depth <= poshta::mime::kMaxDepth);
    check(e.header.end() == e.body.offset && e.body.end() <= in.size());
    check(e.lines <= e.body.length);
    check(!e.is_multipart() || !e.children.empty());
    check(e.is_multipart() || e.children.size() <= 1);
    for (const auto& v : {e.id, e.description, e.location, e.md5}) check_view(v);
    decode_header(e);
    std::size_t previous_end = e.body.offset;
    for (const Entity& c : e.children) {
      check(c.header.offset >= previous_end && c.body.end() <= e.body.end());
      previous_end = c.body.end();
      ranges(c, depth + 1);
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Entity root = poshta::mime::parse_message(in);
  Walk walk{in, &root};
  walk.ranges(root, 0);
  if (walk.count > poshta::mime::kMaxParts || root.header.offset != 0) std::abort();
  std::vector<std::uint32_t> path;
  walk.message(root, path);
  if (poshta::mime::find_section(root, path) != &root) std::abort();
  return 0;
}
