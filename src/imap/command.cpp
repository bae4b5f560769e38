#include "imap/command.hpp"

#include "core/address.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>

namespace poshta::imap {

namespace {

// RFC 9051 §9: ATOM-CHAR is any CHAR except atom-specials.
bool atom_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  switch (c) {
    case '(':
    case ')':
    case '{':
    case '%':
    case '*':
    case '"':
    case '\\':
    case ']': return false;
    default: return true;
  }
}

struct Bad {
  std::string text;
};

// Walks the chunks of a command: text, and literals where the text had them.
class Cursor {
 public:
  explicit Cursor(const std::vector<Chunk>& chunks) : chunks_(chunks) {}

  bool at_end() const { return pos_ >= text().size() && chunk_ + 1 >= chunks_.size(); }
  char peek() const { return pos_ < text().size() ? text()[pos_] : '\0'; }
  bool literal_next() const { return pos_ >= text().size() && chunk_ + 1 < chunks_.size(); }
  bool eat(char c) {
    if (peek() != c || pos_ >= text().size()) return false;
    ++pos_;
    return true;
  }
  void expect(char c, const char* what) {
    if (!eat(c)) throw Bad{std::string("expected ") + what};
  }
  void space() { expect(' ', "a space"); }
  void end() {
    if (!at_end()) throw Bad{"unexpected text after the arguments"};
  }

  // A literal's octets; the cursor moves to the text after it.
  const Chunk& literal() {
    const Chunk& lit = chunks_[chunk_ + 1];
    chunk_ += 2;
    pos_ = 0;
    return lit;
  }

  std::string_view take(std::size_t n) {
    if (pos_ + n > text().size()) throw Bad{"unexpected end of the command"};
    pos_ += n;
    return std::string_view(text()).substr(pos_ - n, n);
  }

  std::string_view atom() {
    const std::size_t start = pos_;
    while (pos_ < text().size() && atom_char(text()[pos_])) ++pos_;
    if (pos_ == start) throw Bad{"expected an atom"};
    return std::string_view(text()).substr(start, pos_ - start);
  }
  // Like atom(), but stops at '[' and '.' too (fetch attribute names).
  std::string_view word() {
    const std::size_t start = pos_;
    while (pos_ < text().size() && atom_char(text()[pos_]) && text()[pos_] != '[' && text()[pos_] != '<') ++pos_;
    if (pos_ == start) throw Bad{"expected a word"};
    return std::string_view(text()).substr(start, pos_ - start);
  }

  std::string quoted() {
    expect('"', "a quoted string");
    std::string out;
    for (;;) {
      if (pos_ >= text().size()) throw Bad{"unterminated quoted string"};
      char c = text()[pos_++];
      if (c == '"') return out;
      if (c == '\\') {
        if (pos_ >= text().size()) throw Bad{"unterminated quoted string"};
        c = text()[pos_++];
        if (c != '"' && c != '\\') throw Bad{"only \\\" and \\\\ may be escaped in a quoted string"};
      }
      out += c;
    }
  }

  std::string string() {
    if (literal_next()) return literal().data;
    if (peek() == '"') return quoted();
    throw Bad{"expected a string"};
  }

  // astring = 1*ASTRING-CHAR / string (ASTRING-CHAR adds "]").
  std::string astring() {
    if (literal_next() || peek() == '"') return string();
    const std::size_t start = pos_;
    while (pos_ < text().size() && (atom_char(text()[pos_]) || text()[pos_] == ']')) ++pos_;
    if (pos_ == start) throw Bad{"expected a string or an atom"};
    return text().substr(start, pos_ - start);
  }

  std::optional<std::string> nstring() {
    if (!literal_next() && peek() != '"') {
      if (!core::iequals(atom(), "NIL")) throw Bad{"expected a string or NIL"};
      return std::nullopt;
    }
    return string();
  }

  // list-mailbox: list-chars (atom chars, % * and ]) or a string.
  std::string list_mailbox() {
    if (literal_next() || peek() == '"') return string();
    const std::size_t start = pos_;
    while (pos_ < text().size()) {
      const char c = text()[pos_];
      if (!(atom_char(c) || c == '%' || c == '*' || c == ']')) break;
      ++pos_;
    }
    if (pos_ == start) throw Bad{"expected a mailbox pattern"};
    return text().substr(start, pos_ - start);
  }

  std::uint64_t number(std::uint64_t max = UINT32_MAX) {
    const std::size_t start = pos_;
    while (pos_ < text().size() && text()[pos_] >= '0' && text()[pos_] <= '9') ++pos_;
    std::uint64_t v = 0;
    auto [end, ec] = std::from_chars(text().data() + start, text().data() + pos_, v);
    if (pos_ == start || ec != std::errc{} || v > max) throw Bad{"expected a number"};
    (void)end;
    return v;
  }
  std::uint32_t nz_number() {
    const auto v = number();
    if (v == 0) throw Bad{"0 is not a valid number here"};
    return static_cast<std::uint32_t>(v);
  }

 private:
  const std::string& text() const {
    static const std::string kEmpty;
    return chunk_ < chunks_.size() ? chunks_[chunk_].data : kEmpty;
  }

  const std::vector<Chunk>& chunks_;
  std::size_t chunk_ = 0;
  std::size_t pos_ = 0;
};

std::string mailbox(Cursor& c) {
  std::string m = c.astring();
  if (core::iequals(m, "INBOX")) return "INBOX";  // RFC 9051 §5.1: INBOX is case-insensitive
  return m;
}

SequenceSet sequence_set(Cursor& c) {
  SequenceSet set;
  if (c.eat('$')) {
    set.saved = true;
    return set;
  }
  auto value = [&]() -> std::uint32_t { return c.eat('*') ? SequenceSet::kStar : c.nz_number(); };
  do {
    SequenceSet::Range r;
    r.first = value();
    r.last = c.eat(':') ? value() : r.first;
    if (r.first > r.last) std::swap(r.first, r.last);  // "5:2" is "2:5" (§9)
    set.ranges.push_back(r);
  } while (c.eat(','));
  return set;
}

std::string flag(Cursor& c) {
  if (c.eat('\\')) {
    if (c.eat('*')) return "\\*";
    return "\\" + std::string(c.atom());
  }
  return std::string(c.atom());
}

std::vector<std::string> flag_list(Cursor& c) {
  std::vector<std::string> flags;
  c.expect('(', "a flag list");
  if (c.eat(')')) return flags;
  do {
    flags.push_back(flag(c));
  } while (c.eat(' '));
  c.expect(')', "the end of the flag list");
  return flags;
}

int month_of(std::string_view m) {
  static constexpr const char* kMonths[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                            "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
  for (int i = 0; i < 12; ++i) {
    if (core::iequals(m, kMonths[i])) return i;
  }
  return -1;
}

// Days since the epoch of a civil date (Howard Hinnant's algorithm).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

// date = date-text / DQUOTE date-text DQUOTE; date-text = d[d]-Mon-yyyy. Days since the epoch.
std::int64_t search_date(Cursor& c) {
  const bool quoted = c.eat('"');
  const auto day = c.number(31);
  c.expect('-', "a date like 1-Feb-2026");
  const auto month = month_of(c.take(3));
  if (month < 0 || !c.eat('-')) throw Bad{"expected a date like 1-Feb-2026"};
  const auto year = c.number(9999);
  if (quoted) c.expect('"', "the end of the date");
  if (day == 0) throw Bad{"expected a date like 1-Feb-2026"};
  return days_from_civil(static_cast<std::int64_t>(year), static_cast<unsigned>(month + 1), static_cast<unsigned>(day));
}

// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
std::int64_t date_time(Cursor& c) {
  const std::string s = c.quoted();
  int day = 0, year = 0, hh = 0, mm = 0, ss = 0, zone = 0;
  char mon[4] = {};
  char sign = '+';
  if (std::sscanf(s.c_str(), "%2d-%3c-%4d %2d:%2d:%2d %c%4d", &day, mon, &year, &hh, &mm, &ss, &sign, &zone) != 8) {
    throw Bad{"expected a date-time like \"01-Feb-2026 10:00:00 +0000\""};
  }
  const int month = month_of(std::string_view(mon, 3));
  if (month < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60 || (sign != '+' && sign != '-')) {
    throw Bad{"expected a date-time like \"01-Feb-2026 10:00:00 +0000\""};
  }
  const std::int64_t offset = std::int64_t{zone / 100} * 3600 + std::int64_t{zone % 100} * 60;
  return days_from_civil(year, static_cast<unsigned>(month + 1), static_cast<unsigned>(day)) * 86400 +
         std::int64_t{hh} * 3600 + std::int64_t{mm} * 60 + ss - (sign == '+' ? offset : -offset);
}

void section(Cursor& c, FetchItem& item) {
  c.expect('[', "'['");
  if (c.eat(']')) return;
  // section-part: nz-number *("." nz-number), then perhaps "." section-text
  while (c.peek() >= '0' && c.peek() <= '9') {
    item.part.push_back(c.nz_number());
    if (!c.eat('.')) break;
  }
  if (c.peek() != ']') {
    const std::string text = core::to_upper(c.word());
    if (text == "HEADER" || text == "TEXT" || (text == "MIME" && !item.part.empty())) {
      item.section = text;
    } else if (text == "HEADER.FIELDS" || text == "HEADER.FIELDS.NOT") {
      item.section = text;
      c.space();
      c.expect('(', "a list of header field names");
      do {
        item.fields.push_back(core::to_upper(c.astring()));
      } while (c.eat(' '));
      c.expect(')', "the end of the header field names");
    } else {
      throw Bad{"unknown section " + text};
    }
  }
  c.expect(']', "']'");
}

void partial(Cursor& c, FetchItem& item) {
  if (!c.eat('<')) return;
  item.origin = static_cast<std::uint32_t>(c.number());
  c.expect('.', "<origin.count>");
  item.count = c.nz_number();
  c.expect('>', "'>'");
}

FetchItem fetch_att(Cursor& c) {
  FetchItem item;
  using K = FetchItem::Kind;
  const std::string name = core::to_upper(c.word());
  if (name == "FLAGS")
    item.kind = K::flags;
  else if (name == "INTERNALDATE")
    item.kind = K::internal_date;
  else if (name == "RFC822.SIZE")
    item.kind = K::rfc822_size;
  else if (name == "ENVELOPE")
    item.kind = K::envelope;
  else if (name == "BODYSTRUCTURE")
    item.kind = K::body_structure;
  else if (name == "UID")
    item.kind = K::uid;
  else if (name == "MODSEQ")
    item.kind = K::modseq;
  else if (name == "RFC822")
    item.kind = K::rfc822;
  else if (name == "RFC822.HEADER")
    item.kind = K::rfc822_header;
  else if (name == "RFC822.TEXT")
    item.kind = K::rfc822_text;
  else if (name == "BODY" || name == "BODY.PEEK") {
    if (c.peek() != '[') {
      if (name == "BODY.PEEK") throw Bad{"BODY.PEEK needs a section"};
      item.kind = K::body;
      return item;
    }
    item.kind = K::body_section;
    item.peek = name == "BODY.PEEK";
    section(c, item);
    partial(c, item);
  } else if (name == "BINARY" || name == "BINARY.PEEK" || name == "BINARY.SIZE") {
    item.kind = name == "BINARY.SIZE" ? K::binary_size : K::binary;
    item.peek = name == "BINARY.PEEK";
    c.expect('[', "'['");
    while (c.peek() >= '0' && c.peek() <= '9') {
      item.part.push_back(c.nz_number());
      if (!c.eat('.')) break;
    }
    c.expect(']', "']'");
    if (item.kind == K::binary) partial(c, item);
  } else {
    throw Bad{"unknown FETCH item " + name};
  }
  return item;
}

void fetch_args(Cursor& c, Command& cmd) {
  using K = FetchItem::Kind;
  c.space();
  cmd.set = sequence_set(c);
  c.space();
  if (c.eat('(')) {
    do {
      cmd.fetch.push_back(fetch_att(c));
    } while (c.eat(' '));
    c.expect(')', "the end of the FETCH items");
  } else {
    Cursor probe = c;
    const std::string macro = core::to_upper(probe.word());
    auto add = [&](std::initializer_list<K> kinds) {
      c.word();
      for (auto k : kinds) {
        FetchItem item;
        item.kind = k;
        cmd.fetch.push_back(std::move(item));
      }
    };
    if (macro == "ALL")  // RFC 9051 §6.4.5 macros
      add({K::flags, K::internal_date, K::rfc822_size, K::envelope});
    else if (macro == "FAST")
      add({K::flags, K::internal_date, K::rfc822_size});
    else if (macro == "FULL")
      add({K::flags, K::internal_date, K::rfc822_size, K::envelope, K::body});
    else
      cmd.fetch.push_back(fetch_att(c));
  }
  if (c.eat(' ')) {  // RFC 7162 fetch modifiers
    c.expect('(', "FETCH modifiers");
    do {
      const std::string m = core::to_upper(c.atom());
      if (m == "CHANGEDSINCE") {
        c.space();
        cmd.changed_since = c.number(UINT64_MAX >> 1);
      } else if (m == "VANISHED") {
        cmd.vanished = true;
      } else {
        throw Bad{"unknown FETCH modifier " + m};
      }
    } while (c.eat(' '));
    c.expect(')', "the end of the FETCH modifiers");
  }
}

SearchKey search_key(Cursor& c, int depth);

void search_keys(Cursor& c, SearchKey& into, int depth) {
  do {
    into.children.push_back(search_key(c, depth));
  } while (c.eat(' ') && !c.at_end() && c.peek() != ')');
}

SearchKey search_key(Cursor& c, int depth) {
  if (depth > 64) throw Bad{"search keys nested too deeply"};
  using K = SearchKey::Kind;
  SearchKey key;
  if (c.eat('(')) {
    key.kind = K::and_;
    search_keys(c, key, depth + 1);
    c.expect(')', "the end of the search keys");
    return key;
  }
  if ((c.peek() >= '0' && c.peek() <= '9') || c.peek() == '*' || c.peek() == '$') {
    key.kind = K::sequence;
    key.set = sequence_set(c);
    return key;
  }
  const std::string name = core::to_upper(c.atom());
  struct Simple {
    const char* name;
    K kind;
  };
  static constexpr Simple kFlags[] = {
      {"ALL", K::all},
      {"ANSWERED", K::answered},
      {"DELETED", K::deleted},
      {"DRAFT", K::draft},
      {"FLAGGED", K::flagged},
      {"SEEN", K::seen},
      {"RECENT", K::recent},
      {"NEW", K::new_},
      {"OLD", K::old},
      {"UNANSWERED", K::unanswered},
      {"UNDELETED", K::undeleted},
      {"UNDRAFT", K::undraft},
      {"UNFLAGGED", K::unflagged},
      {"UNSEEN", K::unseen},
  };
  for (const auto& s : kFlags) {
    if (name == s.name) {
      key.kind = s.kind;
      return key;
    }
  }
  static constexpr Simple kDates[] = {{"BEFORE", K::before},  {"ON", K::on},
                                      {"SINCE", K::since},    {"SENTBEFORE", K::sent_before},
                                      {"SENTON", K::sent_on}, {"SENTSINCE", K::sent_since}};
  for (const auto& s : kDates) {
    if (name == s.name) {
      key.kind = s.kind;
      c.space();
      key.date = search_date(c);
      return key;
    }
  }
  static constexpr Simple kStrings[] = {{"BCC", K::bcc},         {"BODY", K::body}, {"CC", K::cc}, {"FROM", K::from},
                                        {"SUBJECT", K::subject}, {"TEXT", K::text}, {"TO", K::to}};
  for (const auto& s : kStrings) {
    if (name == s.name) {
      key.kind = s.kind;
      c.space();
      key.value = c.astring();
      return key;
    }
  }
  if (name == "KEYWORD" || name == "UNKEYWORD") {
    key.kind = name == "KEYWORD" ? K::keyword : K::unkeyword;
    c.space();
    key.value = flag(c);
  } else if (name == "LARGER" || name == "SMALLER") {
    key.kind = name == "LARGER" ? K::larger : K::smaller;
    c.space();
    key.number = c.number(UINT64_MAX >> 1);
  } else if (name == "HEADER") {
    key.kind = K::header;
    c.space();
    key.field = core::to_upper(c.astring());
    c.space();
    key.value = c.astring();
  } else if (name == "UID") {
    key.kind = K::uid;
    c.space();
    key.set = sequence_set(c);
  } else if (name == "NOT") {
    key.kind = K::not_;
    c.space();
    key.children.push_back(search_key(c, depth + 1));
  } else if (name == "OR") {
    key.kind = K::or_;
    c.space();
    key.children.push_back(search_key(c, depth + 1));
    c.space();
    key.children.push_back(search_key(c, depth + 1));
  } else if (name == "MODSEQ") {
    key.kind = K::modseq;
    c.space();
    if (c.peek() == '"') {  // entry-name and entry-type-req (RFC 7162 §3.1.5): accepted, not used
      c.quoted();
      c.space();
      c.atom();
      c.space();
    }
    key.number = c.number(UINT64_MAX >> 1);
  } else {
    throw Bad{"unknown search key " + name};
  }
  return key;
}

void search_args(Cursor& c, Command& cmd) {
  c.space();
  if (c.peek() == 'R' || c.peek() == 'r') {  // RETURN (ESEARCH, RFC 4731)
    Cursor probe = c;
    if (core::iequals(probe.word(), "RETURN")) {
      c.word();
      c.space();
      c.expect('(', "RETURN options");
      if (!c.eat(')')) {
        do {
          cmd.search_return.push_back(core::to_upper(c.atom()));
        } while (c.eat(' '));
        c.expect(')', "the end of the RETURN options");
      }
      if (cmd.search_return.empty()) cmd.search_return.push_back("ALL");  // RFC 4731 §3.1
      c.space();
    }
  }
  if (c.peek() == 'C' || c.peek() == 'c') {
    Cursor probe = c;
    if (core::iequals(probe.word(), "CHARSET")) {
      c.word();
      c.space();
      cmd.charset = core::to_upper(c.astring());
      c.space();
    }
  }
  cmd.search.kind = SearchKey::Kind::and_;
  search_keys(c, cmd.search, 0);
}

void store_args(Cursor& c, Command& cmd) {
  c.space();
  cmd.set = sequence_set(c);
  c.space();
  if (c.eat('(')) {  // RFC 7162 store modifiers
    if (!core::iequals(c.atom(), "UNCHANGEDSINCE")) throw Bad{"unknown STORE modifier"};
    c.space();
    cmd.store.unchanged_since = c.number(UINT64_MAX >> 1);
    c.expect(')', "the end of the STORE modifiers");
    c.space();
  }
  if (c.eat('+'))
    cmd.store.mode = StoreArgs::Mode::add;
  else if (c.eat('-'))
    cmd.store.mode = StoreArgs::Mode::remove;
  const std::string item = core::to_upper(c.atom());
  if (item != "FLAGS" && item != "FLAGS.SILENT") throw Bad{"STORE takes FLAGS or FLAGS.SILENT"};
  cmd.store.silent = item == "FLAGS.SILENT";
  c.space();
  if (c.peek() == '(') {
    cmd.store.flags = flag_list(c);
  } else {
    do {
      cmd.store.flags.push_back(flag(c));
    } while (c.eat(' '));
  }
}

void list_args(Cursor& c, Command& cmd) {
  c.space();
  if (c.eat('(')) {  // LIST-EXTENDED selection options (RFC 5258)
    if (!c.eat(')')) {
      do {
        cmd.list.select_options.push_back(core::to_upper(c.atom()));
      } while (c.eat(' '));
      c.expect(')', "the end of the selection options");
    }
    c.space();
  }
  cmd.list.reference = c.astring();
  c.space();
  if (c.eat('(')) {
    do {
      cmd.list.patterns.push_back(c.list_mailbox());
    } while (c.eat(' '));
    c.expect(')', "the end of the patterns");
  } else {
    cmd.list.patterns.push_back(c.list_mailbox());
  }
  if (c.eat(' ')) {
    if (!core::iequals(c.atom(), "RETURN")) throw Bad{"expected RETURN"};
    c.space();
    c.expect('(', "RETURN options");
    if (!c.eat(')')) {
      do {
        const std::string opt = core::to_upper(c.atom());
        cmd.list.return_options.push_back(opt);
        if (opt == "STATUS") {  // LIST-STATUS (RFC 5819)
          c.space();
          c.expect('(', "STATUS items");
          do {
            cmd.list.status_items.push_back(core::to_upper(c.atom()));
          } while (c.eat(' '));
          c.expect(')', "the end of the STATUS items");
        }
      } while (c.eat(' '));
      c.expect(')', "the end of the RETURN options");
    }
  }
}

void append_args(Cursor& c, Command& cmd) {
  AppendArgs a;
  c.space();
  a.mailbox = mailbox(c);
  c.space();
  if (c.peek() == '(') {
    a.flags = flag_list(c);
    c.space();
  }
  if (c.peek() == '"') {
    a.internal_date = date_time(c);
    c.space();
  }
  if (!c.literal_next()) throw Bad{"APPEND needs the message as a literal"};
  const Chunk& lit = c.literal();
  a.message = lit.data;
  a.binary = lit.binary;
  cmd.append.push_back(std::move(a));
}

void parse_into(Cursor& c, Command& cmd) {
  const std::string& n = cmd.name;
  auto no_args = {"CAPABILITY", "LOGOUT",   "NOOP",    "STARTTLS", "CHECK",
                  "CLOSE",      "UNSELECT", "EXPUNGE", "IDLE",     "NAMESPACE"};
  for (const char* a : no_args) {
    if (n == a) return;
  }
  if (n == "LOGIN") {
    c.space();
    cmd.user = c.astring();
    c.space();
    cmd.password = c.astring();
  } else if (n == "AUTHENTICATE") {
    c.space();
    cmd.mechanism = core::to_upper(c.atom());
    if (c.eat(' ')) cmd.initial_response = std::string(c.atom());  // base64 or "="
  } else if (n == "ENABLE") {
    while (c.eat(' ')) cmd.atoms.push_back(core::to_upper(c.atom()));
    if (cmd.atoms.empty()) throw Bad{"ENABLE needs capabilities"};
  } else if (n == "SELECT" || n == "EXAMINE") {
    c.space();
    cmd.mailbox = mailbox(c);
    if (c.eat(' ')) {
      c.expect('(', "SELECT parameters");
      do {
        const std::string p = core::to_upper(c.atom());
        if (p == "CONDSTORE") cmd.condstore = true;
        if (p == "QRESYNC") {  // RFC 7162 §3.2.5: (uidvalidity modseq [known-uids [seq-match-data]])
          c.space();
          c.expect('(', "QRESYNC parameters");
          Qresync q;
          q.uid_validity = c.nz_number();
          c.space();
          q.modseq = c.number(UINT64_MAX >> 1);
          if (c.eat(' ') && c.peek() != '(') q.known_uids = sequence_set(c);
          if (c.eat(' ') || c.peek() == '(') {  // seq-match-data: accepted, not needed with the gaps reported
            c.expect('(', "the sequence match data");
            sequence_set(c);
            c.space();
            sequence_set(c);
            c.expect(')', "the end of the sequence match data");
          }
          c.expect(')', "the end of the QRESYNC parameters");
          cmd.qresync = std::move(q);
        }
        cmd.atoms.push_back(p);
      } while (c.eat(' '));
      c.expect(')', "the end of the SELECT parameters");
    }
  } else if (n == "CREATE" || n == "DELETE" || n == "SUBSCRIBE" || n == "UNSUBSCRIBE") {
    c.space();
    cmd.mailbox = mailbox(c);
    if (n == "CREATE" && c.eat(' ')) {  // CREATE-SPECIAL-USE (RFC 6154 §3): (USE (\Sent))
      c.expect('(', "CREATE parameters");
      if (!core::iequals(c.atom(), "USE")) throw Bad{"unknown CREATE parameter"};
      c.space();
      cmd.atoms = flag_list(c);
      c.expect(')', "the end of the CREATE parameters");
    }
  } else if (n == "RENAME") {
    c.space();
    cmd.mailbox = mailbox(c);
    c.space();
    cmd.mailbox2 = mailbox(c);
  } else if (n == "LIST" || n == "LSUB") {
    list_args(c, cmd);
    if (n == "LSUB" &&
        (!cmd.list.select_options.empty() || cmd.list.patterns.size() != 1 || !cmd.list.return_options.empty())) {
      throw Bad{"LSUB takes a reference and one pattern"};
    }
  } else if (n == "STATUS") {
    c.space();
    cmd.mailbox = mailbox(c);
    c.space();
    c.expect('(', "STATUS items");
    do {
      cmd.atoms.push_back(core::to_upper(c.atom()));
    } while (c.eat(' '));
    c.expect(')', "the end of the STATUS items");
  } else if (n == "APPEND") {
    append_args(c, cmd);
  } else if (n == "FETCH") {
    fetch_args(c, cmd);
  } else if (n == "STORE") {
    store_args(c, cmd);
  } else if (n == "SEARCH") {
    search_args(c, cmd);
  } else if (n == "COPY" || n == "MOVE") {
    c.space();
    cmd.set = sequence_set(c);
    c.space();
    cmd.mailbox = mailbox(c);
  } else if (n == "ID") {
    c.space();
    if (c.eat('(')) {
      if (!c.eat(')')) {
        do {
          std::string field = c.string();
          c.space();
          auto value = c.nstring();
          if (cmd.id.size() < 30) cmd.id.emplace_back(std::move(field), value.value_or(""));
        } while (c.eat(' '));
        c.expect(')', "the end of the ID parameters");
      }
    } else if (!core::iequals(c.atom(), "NIL")) {
      throw Bad{"ID takes a parameter list or NIL"};
    }
  } else if (n == "COMPRESS") {
    c.space();
    cmd.atoms.push_back(core::to_upper(c.atom()));
  } else {
    throw Bad{"unknown command " + n};
  }
}

}  // namespace

bool SequenceSet::contains(std::uint32_t n, std::uint32_t largest) const {
  for (const auto& r : ranges) {
    std::uint32_t first = r.first == kStar ? largest : r.first;
    std::uint32_t last = r.last == kStar ? largest : r.last;
    if (first > last) std::swap(first, last);
    if (n >= first && n <= last) return true;
  }
  return false;
}

std::variant<Command, ParseError> parse(const RawCommand& raw) {
  Command cmd;
  if (raw.chunks.empty()) return ParseError{"*", "empty command"};
  // The tag: any ASTRING-CHAR but "+" (RFC 9051 §9 tag).
  const std::string& first = raw.chunks.front().data;
  const auto sp = first.find(' ');
  const std::string tag = first.substr(0, sp);
  const bool tag_ok = !tag.empty() && std::all_of(tag.begin(), tag.end(),
                                                  [](char ch) { return (atom_char(ch) || ch == ']') && ch != '+'; });
  if (!tag_ok) return ParseError{"*", "a command must start with a tag"};
  cmd.tag = tag;
  if (raw.too_long) return ParseError{tag, "[TOOBIG] command or literal too long"};
  if (sp == std::string::npos) return ParseError{tag, "missing command"};
  try {
    Cursor c(raw.chunks);
    for (std::size_t i = 0; i <= sp; ++i) c.eat(first[i]);  // tag and space
    cmd.name = core::to_upper(c.atom());
    if (cmd.name == "UID") {
      cmd.uid = true;
      c.space();
      const std::string sub = core::to_upper(c.atom());
      if (sub != "FETCH" && sub != "STORE" && sub != "COPY" && sub != "MOVE" && sub != "SEARCH" && sub != "EXPUNGE") {
        throw Bad{"UID " + sub + " is not a command"};
      }
      cmd.name = sub;
      if (sub == "EXPUNGE") {  // UIDPLUS (RFC 4315)
        c.space();
        cmd.set = sequence_set(c);
        c.end();
        return cmd;
      }
    }
    parse_into(c, cmd);
    c.end();
  } catch (const Bad& b) {
    return ParseError{tag, b.text};
  }
  return cmd;
}

}  // namespace poshta::imap
