#include "imap/fetch.hpp"

#include <algorithm>

#include "imap/format.hpp"
#include "mime/header.hpp"

namespace poshta::imap {

namespace {

// Folded header values on one line (RFC 5322 §2.2.3).
std::string unfold(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\r' || c == '\n') continue;
    out += c;
  }
  return out;
}

void append_opt(std::string& out, const std::optional<std::string>& s) {
  if (!s)
    out += "NIL";
  else
    append_string(out, *s);
}

void append_opt_view(std::string& out, const std::optional<std::string_view>& s) {
  if (!s)
    out += "NIL";
  else
    append_string(out, unfold(*s));
}

void append_addresses(std::string& out, const std::vector<mime::Address>& list) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const auto& a : list) {
    out += '(';
    append_opt(out, a.name);
    out += ' ';
    append_opt(out, a.adl);
    out += ' ';
    append_opt(out, a.mailbox);
    out += ' ';
    append_opt(out, a.host);
    out += ')';
  }
  out += ')';
}

void append_params(std::string& out, const std::vector<mime::Parameter>& params) {
  if (params.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  bool first = true;
  for (const auto& p : params) {
    if (!first) out += ' ';
    first = false;
    append_string(out, p.name);
    out += ' ';
    append_string(out, p.value);
  }
  out += ')';
}

// body-ext-1part / body-ext-mpart after the MD5 (disposition, language, location).
void append_extension(std::string& out, const mime::Entity& e) {
  out += ' ';
  if (e.disposition) {
    out += '(';
    append_string(out, *e.disposition);
    out += ' ';
    append_params(out, e.disposition_params);
    out += ')';
  } else {
    out += "NIL";
  }
  out += ' ';
  if (e.languages.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (std::size_t i = 0; i < e.languages.size(); ++i) {
      if (i) out += ' ';
      append_string(out, e.languages[i]);
    }
    out += ')';
  }
  out += ' ';
  append_opt_view(out, e.location);
}

// The header section of `message` at `header`: the fields named (or not named) in `fields`.
std::string header_fields(std::string_view header, const std::vector<std::string>& fields, bool exclude) {
  std::string out;
  mime::HeaderReader reader(header);
  std::size_t start = 0;
  while (auto f = reader.next()) {
    const std::size_t end = reader.consumed();
    (void)end;
    std::string name(f->name);
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    const bool named = std::find(fields.begin(), fields.end(), name) != fields.end();
    // The field's text runs from its name to the end of its value and line end.
    const std::size_t from = static_cast<std::size_t>(f->name.data() - header.data());
    std::size_t to = static_cast<std::size_t>(f->value.data() + f->value.size() - header.data());
    if (header.substr(to, 2) == "\r\n") to += 2;
    if (named != exclude) out.append(header.substr(from, to - from));
    start = to;
  }
  (void)start;
  out += "\r\n";  // the empty line that ends a header section is part of it (§6.4.5)
  return out;
}

}  // namespace

void append_envelope(std::string& out, const mime::Envelope& e) {
  out += '(';
  append_opt(out, e.date);
  out += ' ';
  append_opt(out, e.subject);
  for (const auto* list : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) {
    out += ' ';
    append_addresses(out, *list);
  }
  out += ' ';
  append_opt(out, e.in_reply_to);
  out += ' ';
  append_opt(out, e.message_id);
  out += ')';
}

void append_body_structure(std::string& out, std::string_view message, const mime::Entity& e, bool extensible) {
  out += '(';
  if (e.is_multipart()) {
    for (const auto& child : e.children) append_body_structure(out, message, child, extensible);
    out += ' ';
    append_string(out, e.subtype);
    if (extensible) {
      out += ' ';
      append_params(out, e.params);
      append_extension(out, e);
    }
    out += ')';
    return;
  }
  append_string(out, e.type);
  out += ' ';
  append_string(out, e.subtype);
  out += ' ';
  append_params(out, e.params);
  out += ' ';
  append_opt_view(out, e.id);
  out += ' ';
  append_opt_view(out, e.description);
  out += ' ';
  append_string(out, e.encoding);
  out += ' ';
  out += std::to_string(e.body.length);
  if (const mime::Entity* embedded = e.embedded_message()) {
    out += ' ';
    append_envelope(out, mime::parse_envelope(embedded->header.of(message)));
    out += ' ';
    append_body_structure(out, message, *embedded, extensible);
    out += ' ';
    out += std::to_string(e.lines);
  } else if (e.type == "text") {
    out += ' ';
    out += std::to_string(e.lines);
  }
  if (extensible) {
    out += ' ';
    append_opt_view(out, e.md5);
    append_extension(out, e);
  }
  out += ')';
}

std::string section_octets(std::string_view message, const mime::Entity& root, const FetchItem& item) {
  const mime::Entity* e = item.part.empty() ? &root : mime::find_section(root, item.part);
  if (!e) return {};
  // HEADER, TEXT and HEADER.FIELDS of a part refer to its embedded message (§6.4.5).
  const mime::Entity* msg = e;
  if (!item.part.empty() && item.section != "MIME" && !item.section.empty()) {
    msg = e->embedded_message();
    if (!msg) return {};
  }
  if (item.section.empty()) {
    if (item.part.empty()) return std::string(message);
    return std::string(e->body.of(message));
  }
  if (item.section == "MIME") return std::string(e->header.of(message));
  if (item.section == "HEADER") return std::string(msg->header.of(message));
  if (item.section == "TEXT") return std::string(msg->body.of(message));
  return header_fields(msg->header.of(message), item.fields, item.section == "HEADER.FIELDS.NOT");
}

std::string section_label(const FetchItem& item) {
  std::string out = item.kind == FetchItem::Kind::binary ? "BINARY[" : "BODY[";
  for (std::size_t i = 0; i < item.part.size(); ++i) {
    if (i) out += '.';
    out += std::to_string(item.part[i]);
  }
  if (!item.section.empty()) {
    if (!item.part.empty()) out += '.';
    out += item.section;
    if (!item.fields.empty()) {
      out += " (";
      for (std::size_t i = 0; i < item.fields.size(); ++i) {
        if (i) out += ' ';
        out += item.fields[i];
      }
      out += ')';
    }
  }
  out += ']';
  if (item.origin) out += "<" + std::to_string(*item.origin) + ">";
  return out;
}

std::string_view partial(std::string_view octets, const FetchItem& item) {
  if (!item.origin) return octets;
  if (*item.origin >= octets.size()) return {};
  return octets.substr(*item.origin, item.count);
}

}  // namespace poshta::imap
