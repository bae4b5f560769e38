// mime::parse_message: the MIME structure of a whole message (RFC 2045,
// RFC 2046) as IMAP's BODYSTRUCTURE, BODY[section]<partial> and SEARCH need
// it (RFC 9051 §6.4.5, §7.5.2). The input has CRLF line ends. Nothing of the
// content is copied: ranges are offsets into the message and the raw field
// values are views of it, so the message must outlive the tree. Only
// decoded values (lower-cased types, parameters) are strings of their own.
//
// Hostile input is bounded: nesting deeper than kMaxDepth and parts beyond
// kMaxParts are not parsed, and every line is looked at once whatever the
// nesting (each boundary is searched for in a single pass).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mime/parameters.hpp"

namespace poshta::mime {

inline constexpr std::size_t kMaxDepth = 64;     // an entity this deep has no children
inline constexpr std::size_t kMaxParts = 10000;  // entities in one message, the message included

struct Range {
  std::size_t offset = 0;
  std::size_t length = 0;
  std::size_t end() const { return offset + length; }
  std::string_view of(std::string_view message) const { return message.substr(offset, length); }
};

struct Entity {
  // The header fields and the empty line after them (BODY[HEADER],
  // BODY[n.MIME]); the body follows at once. A part's body ends before the
  // CRLF that precedes the next boundary delimiter (RFC 2046 §5.1.1).
  Range header;
  Range body;
  // Text lines in the body: its line ends, plus one for a last line
  // without one. IMAP shows it for text/* and message/rfc822.
  std::size_t lines = 0;

  // Content-Type, lower case. Without a usable one: text/plain;
  // charset=us-ascii (RFC 2045 §5.2), or message/rfc822 in a
  // multipart/digest (RFC 2046 §5.1.5). text/* without a charset gets
  // charset=us-ascii (RFC 2046 §4.1.2). A multipart that yields no parts
  // (no boundary parameter, the boundary never appears, too deep) is
  // presented as that text/plain too, so a multipart has at least one child.
  std::string type = "text";
  std::string subtype = "plain";
  std::vector<Parameter> params;
  std::string encoding = "7bit";  // Content-Transfer-Encoding, lower case

  // Raw values (trimmed, possibly folded; unfold() before writing them on
  // one line); nullopt when the field is absent.
  std::optional<std::string_view> id;           // Content-ID
  std::optional<std::string_view> description;  // Content-Description
  std::optional<std::string_view> location;     // Content-Location (RFC 2557)
  std::optional<std::string_view> md5;          // Content-MD5 (RFC 1864)

  std::optional<std::string> disposition;  // RFC 2183 type, lower case
  std::vector<Parameter> disposition_params;
  std::vector<std::string_view> languages;  // Content-Language (RFC 3282)

  // The parts of a multipart, or the one embedded message of a
  // message/rfc822 or message/global (none when that is encoded, which
  // RFC 2046 §5.2.1 forbids, or too deep).
  std::vector<Entity> children;

  bool is_multipart() const { return type == "multipart"; }
  const std::string* param(std::string_view name) const { return find_parameter(params, name); }
  // The embedded message of a message/rfc822 or message/global, or nullptr.
  const Entity* embedded_message() const;
};

Entity parse_message(std::string_view message);

// RFC 9051 §6.4.5 part numbers: the entity whose body is that part, or
// nullptr. A message that is not multipart has a part 1, itself; the parts
// of a message/rfc822 part are those of the message it embeds (so for
// "3.HEADER" use find_section({3})->embedded_message()). No numbers: root.
const Entity* find_section(const Entity& root, std::span<const std::uint32_t> part_numbers);

}  // namespace poshta::mime
