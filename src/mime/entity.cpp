#include "mime/entity.hpp"

#include <algorithm>
#include <utility>

#include "core/address.hpp"
#include "mime/content_fields.hpp"
#include "mime/field_value.hpp"
#include "mime/header.hpp"

namespace poshta::mime {

namespace {

void make_default_text(Entity& e) {
  e.type = "text";
  e.subtype = "plain";
  e.params = {{"charset", "us-ascii"}};
}

// One pass over the lines of the message. The stack holds the entities
// that are still open, outermost first; a multipart among them that still
// splits carries its boundary. A delimiter line closes every entity above
// its multipart (so a part whose own close delimiter is missing ends with
// the enclosing part, as RFC 2046 §5.1.2 wants) and, unless it is the close
// delimiter, opens the next part.
class StructureParser {
 public:
  explicit StructureParser(std::string_view message) : m_(message) {}

  Entity run() {
    Entity root;
    open(root, 0, false);
    while (pos_ < m_.size()) {
      const std::size_t lf = m_.find('\n', pos_);
      const std::size_t next = lf == std::string_view::npos ? m_.size() : lf + 1;
      bool close = false;
      const std::size_t k = delimiter_at(pos_, close);
      if (k != kNone) {
        on_delimiter(k, close, next);
        continue;
      }
      pos_ = next;
      lf_ += lf != std::string_view::npos;
    }
    while (!stack_.empty()) {  // a missing close delimiter ends at the end of the input
      finish(stack_.back(), m_.size(), lf_);
      stack_.pop_back();
    }
    return root;
  }

 private:
  static constexpr std::size_t kNone = static_cast<std::size_t>(-1);

  struct Open {
    Entity* entity;  // stays valid: only the innermost multipart gets new children
    std::size_t depth;
    std::size_t body_lf;   // line ends before the body
    std::string boundary;  // a multipart before its close delimiter; empty otherwise
  };

  // The innermost open multipart whose delimiter the line at `at` is.
  // RFC 2046 §5.1.1: "--" boundary at the start of the line; what follows
  // does not matter ("an exact match of the entire candidate line is not
  // required"), except that "--" right after it makes the close delimiter.
  std::size_t delimiter_at(std::size_t at, bool& close) const {
    const std::string_view line = m_.substr(at);
    if (line.size() < 3 || line[0] != '-' || line[1] != '-') return kNone;
    for (std::size_t k = stack_.size(); k-- > 0;) {
      const std::string& b = stack_[k].boundary;
      if (!b.empty() && line.substr(2, b.size()) == b) {
        close = line.substr(2 + b.size(), 2) == "--";
        return k;
      }
    }
    return kNone;
  }

  void on_delimiter(std::size_t k, bool close, std::size_t next) {
    // The line end before the delimiter belongs to the delimiter.
    std::size_t end = pos_;
    std::size_t lf_end = lf_;
    if (end > 0 && m_[end - 1] == '\n') {
      --end;
      --lf_end;
      if (end > 0 && m_[end - 1] == '\r') --end;
    }
    // A part may have begun after that line end (its header ran into the
    // delimiter); the parts around it then end where it does, so that
    // every part stays inside its parent.
    while (stack_.size() > k + 1) {
      end = std::max(end, stack_.back().entity->body.offset);
      finish(stack_.back(), end, end == pos_ ? lf_ : lf_end);
      stack_.pop_back();
    }
    lf_ += m_[next - 1] == '\n';
    pos_ = next;
    Open& multipart = stack_[k];
    if (close) {
      multipart.boundary.clear();  // the epilogue is ignored until the enclosing part ends
      return;
    }
    if (parts_ >= kMaxParts) return;  // further parts are skipped like a preamble
    ++parts_;
    Entity& parent = *multipart.entity;
    const std::size_t depth = multipart.depth + 1;
    parent.children.emplace_back();
    open(parent.children.back(), depth, parent.subtype == "digest");
  }

  // Reads the header at pos_ and pushes the entity; a message/rfc822 opens
  // its embedded message right away.
  void open(Entity& e, std::size_t depth, bool in_digest) {
    read_header(e, in_digest);
    stack_.push_back({&e, depth, lf_, {}});
    if (e.is_multipart()) {
      const std::string* boundary = e.param("boundary");
      if (boundary == nullptr || boundary->empty() || depth >= kMaxDepth) {
        make_default_text(e);
      } else {
        stack_.back().boundary = *boundary;
      }
      return;
    }
    const bool encapsulates = e.type == "message" && (e.subtype == "rfc822" || e.subtype == "global");
    const bool identity = e.encoding == "7bit" || e.encoding == "8bit" || e.encoding == "binary";
    if (encapsulates && identity && depth < kMaxDepth && parts_ < kMaxParts) {
      ++parts_;
      e.children.emplace_back();
      open(e.children.back(), depth + 1, false);
    }
  }

  // The raw values of the content fields (RFC 2045 §5 to §8, RFC 2183,
  // RFC 2557, RFC 1864, RFC 3282); the first of each counts.
  struct ContentFields {
    std::optional<std::string_view> type, encoding, disposition, language, id, description, location, md5;
  };
  using Slot = std::optional<std::string_view> ContentFields::*;
  static constexpr std::pair<std::string_view, Slot> kFields[] = {
      {"type", &ContentFields::type},
      {"transfer-encoding", &ContentFields::encoding},
      {"disposition", &ContentFields::disposition},
      {"language", &ContentFields::language},
      {"id", &ContentFields::id},
      {"description", &ContentFields::description},
      {"location", &ContentFields::location},
      {"md5", &ContentFields::md5},
  };

  void read_header(Entity& e, bool in_digest) {
    const std::size_t start = pos_;
    HeaderReader reader(m_.substr(start));
    std::size_t end = kNone;
    ContentFields fields;
    while (auto f = reader.next()) {
      const std::size_t at = static_cast<std::size_t>(f->name.data() - m_.data());
      bool close = false;
      if (delimiter_at(at, close) != kNone) {  // a part may end inside what looks like its header
        end = at;
        break;
      }
      if (f->name.size() < 8 || !core::iequals(f->name.substr(0, 8), "content-")) continue;
      for (const auto& [name, slot] : kFields) {
        if (core::iequals(f->name.substr(8), name) && !(fields.*slot)) fields.*slot = trim_whitespace(f->value);
      }
    }
    if (end == kNone) end = start + reader.consumed();
    e.header = {start, end - start};
    lf_ += static_cast<std::size_t>(std::count(m_.begin() + start, m_.begin() + end, '\n'));
    pos_ = end;
    e.body.offset = end;

    e.id = fields.id;
    e.description = fields.description;
    e.location = fields.location;
    e.md5 = fields.md5;
    std::optional<ContentType> ct = fields.type ? parse_content_type(*fields.type) : std::nullopt;
    if (ct) {
      e.type = std::move(ct->type);
      e.subtype = std::move(ct->subtype);
      e.params = std::move(ct->params);
      if (e.type == "text" && !e.param("charset")) e.params.push_back({"charset", "us-ascii"});
    } else if (in_digest) {
      e.type = "message";
      e.subtype = "rfc822";
    } else {
      make_default_text(e);
    }
    if (fields.encoding) e.encoding = parse_transfer_encoding(*fields.encoding);
    if (fields.disposition) {
      if (auto d = parse_content_disposition(*fields.disposition)) {
        e.disposition = std::move(d->type);
        e.disposition_params = std::move(d->params);
      }
    }
    if (fields.language) e.languages = parse_content_language(*fields.language);
  }

  // `end` is not before the body; `lf_end` counts the line ends before it.
  void finish(Open& o, std::size_t end, std::size_t lf_end) {
    Entity& e = *o.entity;
    e.body.length = end - e.body.offset;
    e.lines = e.body.length == 0 ? 0 : lf_end - o.body_lf + (m_[end - 1] != '\n');
    if (e.is_multipart() && e.children.empty()) make_default_text(e);
  }

  std::string_view m_;
  std::vector<Open> stack_;
  std::size_t pos_ = 0;    // start of the line being looked at
  std::size_t lf_ = 0;     // line ends before pos_
  std::size_t parts_ = 1;  // the message itself
};

}  // namespace

const Entity* Entity::embedded_message() const {
  return !is_multipart() && children.size() == 1 ? &children[0] : nullptr;
}

Entity parse_message(std::string_view message) {
  return StructureParser(message).run();
}

const Entity* find_section(const Entity& root, std::span<const std::uint32_t> part_numbers) {
  // The parts of a message: a multipart's children, or the message itself as part 1.
  auto nth_part_of_message = [](const Entity& m, std::uint32_t n) -> const Entity* {
    if (m.is_multipart()) return n >= 1 && n <= m.children.size() ? &m.children[n - 1] : nullptr;
    return n == 1 ? &m : nullptr;
  };
  const Entity* e = &root;
  for (std::size_t i = 0; i < part_numbers.size(); ++i) {
    const std::uint32_t n = part_numbers[i];
    if (i == 0) {
      e = nth_part_of_message(root, n);
    } else if (e->is_multipart()) {
      e = n >= 1 && n <= e->children.size() ? &e->children[n - 1] : nullptr;
    } else if (const Entity* embedded = e->embedded_message()) {
      e = nth_part_of_message(*embedded, n);
    } else {
      e = nullptr;
    }
    if (e == nullptr) return nullptr;
  }
  return e;
}

}  // namespace poshta::mime
