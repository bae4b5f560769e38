// imap::Command: the grammar of IMAP commands (RFC 9051 §9, with the
// IMAP4rev1 forms of RFC 3501 and the extensions Poshta offers) turned into
// typed values. parse() takes a whole command from imap::Reader and either
// returns it or says what is wrong, for a tagged BAD.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "imap/reader.hpp"

namespace poshta::imap {

// A sequence set (RFC 9051 §9 sequence-set): ranges of numbers, where "*"
// is the largest in use (kStar until resolved against a mailbox).
struct SequenceSet {
  static constexpr std::uint32_t kStar = UINT32_MAX;
  struct Range {
    std::uint32_t first = 0;
    std::uint32_t last = 0;  // first <= last once resolved
  };
  std::vector<Range> ranges;
  bool saved = false;  // "$": the last SEARCH result (RFC 5182); not offered

  // Whether `n` is in the set, with "*" meaning `largest`.
  bool contains(std::uint32_t n, std::uint32_t largest) const;
};

// One FETCH data item (RFC 9051 §6.4.5).
struct FetchItem {
  enum class Kind {
    flags,
    internal_date,
    rfc822_size,
    envelope,
    body_structure,  // BODYSTRUCTURE
    body,            // BODY (the non-extensible structure)
    body_section,    // BODY[...] and BODY.PEEK[...]
    binary,          // BINARY[...] / BINARY.PEEK[...] (RFC 3516)
    binary_size,     // BINARY.SIZE[...]
    uid,
    modseq,         // RFC 7162
    rfc822,         // = BODY[]
    rfc822_header,  // = BODY.PEEK[HEADER]
    rfc822_text,    // = BODY[TEXT]
  };
  Kind kind = Kind::flags;
  bool peek = false;
  std::vector<std::uint32_t> part;  // section part numbers, e.g. 1.2
  // Section text: "", "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME".
  std::string section;
  std::vector<std::string> fields;      // for HEADER.FIELDS (upper case)
  std::optional<std::uint32_t> origin;  // <origin.count>
  std::uint32_t count = 0;
};

// One SEARCH key (RFC 9051 §6.4.4); And/Or/Not make the tree.
struct SearchKey {
  enum class Kind {
    all,
    and_,  // a parenthesised list, or the keys of the command
    or_,
    not_,
    sequence,  // a sequence set of message numbers
    uid,
    answered,
    deleted,
    draft,
    flagged,
    seen,
    recent,
    new_,
    old,
    unanswered,
    undeleted,
    undraft,
    unflagged,
    unseen,
    keyword,
    unkeyword,
    before,
    on,
    since,
    sent_before,
    sent_on,
    sent_since,  // dates: `date` (days since the epoch)
    larger,
    smaller,
    bcc,
    body,
    cc,
    from,
    subject,
    text,
    to,
    header,  // `field` and `value`
    modseq,  // RFC 7162
  };
  Kind kind = Kind::all;
  std::vector<SearchKey> children;
  SequenceSet set;
  std::string value;  // string argument (or keyword)
  std::string field;  // HEADER field name
  std::int64_t date = 0;
  std::uint64_t number = 0;  // LARGER/SMALLER size, MODSEQ value
};

struct StoreArgs {
  enum class Mode { replace, add, remove };
  Mode mode = Mode::replace;
  bool silent = false;
  std::vector<std::string> flags;
  std::optional<std::uint64_t> unchanged_since;  // RFC 7162
};

struct ListArgs {
  std::string reference;
  std::vector<std::string> patterns;
  std::vector<std::string> select_options;  // LIST-EXTENDED (upper case)
  std::vector<std::string> return_options;  // upper case; STATUS items in `status_items`
  std::vector<std::string> status_items;
};

struct AppendArgs {
  std::string mailbox;
  std::vector<std::string> flags;
  std::optional<std::int64_t> internal_date;  // unix seconds
  std::string message;
  bool binary = false;
};

// SELECT's QRESYNC parameter (RFC 7162 §3.2.5).
struct Qresync {
  std::uint32_t uid_validity = 0;
  std::uint64_t modseq = 0;
  std::optional<SequenceSet> known_uids;
};

struct Command {
  std::string tag;
  std::string name;  // upper case, e.g. "FETCH"; "UID FETCH" for UID forms
  bool uid = false;

  // Arguments, as the command has them.
  std::string mailbox;                          // SELECT EXAMINE CREATE DELETE RENAME(from) SUBSCRIBE STATUS COPY MOVE
  std::string mailbox2;                         // RENAME(to)
  std::string user, password;                   // LOGIN
  std::string mechanism;                        // AUTHENTICATE
  std::optional<std::string> initial_response;  // AUTHENTICATE (SASL-IR, RFC 4959)
  std::vector<std::string> atoms;               // ENABLE capabilities, STATUS items (upper case), SELECT parameters
  SequenceSet set;                              // FETCH STORE COPY MOVE UID EXPUNGE
  std::vector<FetchItem> fetch;
  std::optional<std::uint64_t> changed_since;  // FETCH (CHANGEDSINCE n)
  bool vanished = false;                       // FETCH (VANISHED), QRESYNC
  StoreArgs store;
  SearchKey search;
  std::vector<std::string> search_return;  // ESEARCH RETURN options (upper case)
  std::string charset;
  ListArgs list;
  std::vector<AppendArgs> append;                       // APPEND (MULTIAPPEND would add more)
  std::vector<std::pair<std::string, std::string>> id;  // ID parameters
  bool condstore = false;                               // SELECT/EXAMINE (CONDSTORE)
  std::optional<Qresync> qresync;                       // SELECT/EXAMINE (QRESYNC (...))
};

struct ParseError {
  std::string tag;  // "*" when there was no usable tag
  std::string text;
};

std::variant<Command, ParseError> parse(const RawCommand& raw);

}  // namespace poshta::imap
