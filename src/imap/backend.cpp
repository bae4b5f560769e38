#include "imap/backend.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <set>

#include "core/address.hpp"
#include "imap/facts.hpp"
#include "imap/fetch.hpp"
#include "imap/format.hpp"
#include "mime/charset.hpp"
#include "mime/encoded_word.hpp"
#include "mime/entity.hpp"
#include "mime/envelope.hpp"
#include "mime/header.hpp"
#include "mime/transfer_encoding.hpp"
#include "store/folders.hpp"
#include "store/mailbox.hpp"
#include "store/message_cache.hpp"
#include "store/mutf7.hpp"

namespace poshta::imap {

namespace {

constexpr char kDelimiter = '.';
constexpr std::size_t kFetchPiece = 256 * 1024;  // FETCH responses handed out at a time
constexpr std::string_view kSystemFlags = "(\\Answered \\Flagged \\Deleted \\Seen \\Draft)";

using Result = Backend::Result;

Result ok(std::string text, std::string untagged = {}) {
  return {std::move(untagged), "OK " + std::move(text)};
}
Result no(std::string text) {
  return {{}, "NO " + std::move(text)};
}

// A write into the store that failed; nothing of it is left behind. A full
// disk is OVERQUOTA (RFC 5530), as Dovecot reports it.
Result write_failed(const std::string& what, const std::error_code& ec) {
  if (ec == std::errc::no_space_on_device || ec.value() == EDQUOT)
    return no("[OVERQUOTA] " + what + ": not enough disk space");
  return no("[SERVERBUG] " + what + ": " + ec.message());
}

// A message file's content with CRLF line ends (stored with LF; IMAP
// counts and sends CRLF), and its mtime (INTERNALDATE). `wire_size`: the
// expected size, to allocate once.
struct FileContent {
  std::string text;
  std::int64_t mtime = 0;
};
std::optional<FileContent> read_crlf(int fd, std::uint64_t wire_size) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return std::nullopt;
  std::string raw(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t got = 0;
  for (;;) {
    if (got == raw.size()) raw.resize(raw.size() + 65536);  // grew since fstat
    const ssize_t n = ::read(fd, raw.data() + got, raw.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  raw.resize(got);
  FileContent out;
  out.mtime = st.st_mtim.tv_sec;
  out.text.reserve(std::max<std::uint64_t>(wire_size, got));
  for (std::size_t start = 0; start < got;) {
    const void* hit = std::memchr(raw.data() + start, '\n', got - start);
    const std::size_t nl = hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - raw.data()) : got;
    out.text.append(raw, start, nl - start);
    if (nl == got) break;
    if (nl == 0 || raw[nl - 1] != '\r') out.text += '\r';
    out.text += '\n';
    start = nl + 1;
  }
  return out;
}

bool has_flag(std::string_view maildir_flags, char letter) {
  return maildir_flags.find(letter) != std::string_view::npos;
}

// Case-insensitive substring (RFC 9051 §6.4.4: ASCII case folding at least).
bool contains_ci(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  return core::to_lower(haystack).find(core::to_lower(needle)) != std::string::npos;
}

// Mailbox names: modified UTF-7 on the wire for IMAP4rev1 clients, UTF-8
// for IMAP4rev2 (RFC 9051 §5.1), UTF-8 in the store.
std::optional<std::string> from_wire(const std::string& name, bool utf8) {
  if (name == "INBOX") return name;
  if (utf8) return mime::is_valid_utf8(name) ? std::optional<std::string>(name) : std::nullopt;
  return store::mutf7_to_utf8(name);
}
std::string to_wire(const std::string& name, bool utf8) {
  return name == "INBOX" || utf8 ? name : store::utf8_to_mutf7(name);
}

// The modification times of a folder's new/, cur/, uidlist and keywords:
// any delivery, flag change, expunge or new keyword changes one of them.
// File times come from a coarse clock (a few milliseconds): a stamp taken
// within a second of the newest change could miss a second change in the
// same tick, so such a stamp is empty, and the next look reads the folder.
std::string folder_stamp(const std::filesystem::path& folder) {
  std::string out;
  std::int64_t newest = 0;
  for (const char* part : {"new", "cur", "poshta-uidlist", "dovecot-keywords"}) {
    struct stat st {};
    if (::stat((folder / part).c_str(), &st) == 0) {
      out += std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
             std::to_string(st.st_size);
      newest = std::max<std::int64_t>(newest, st.st_mtim.tv_sec);
    }
    out += ';';
  }
  if (newest + 1 >= static_cast<std::int64_t>(::time(nullptr))) return {};
  return out;
}

// Ascending numbers as a sequence set: "1:3,7,9:10".
std::string sequence_text(const std::vector<std::uint32_t>& numbers) {
  std::string out;
  for (std::size_t i = 0; i < numbers.size();) {
    std::size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += std::to_string(numbers[i]);
    if (j > i) out += ":" + std::to_string(numbers[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace

struct Backend::Impl {
  Impl(std::filesystem::path root, std::uint64_t limit) : folders(std::move(root)), append_limit(limit) {}

  store::Folders folders;
  std::uint64_t append_limit;
  bool specials_checked = false;
  // RFC 7162 §3.1: once the client has used CONDSTORE, flag changes it is
  // told of carry their MODSEQ.
  bool condstore = false;
  bool rev2 = false;  // ENABLE IMAP4rev2: UTF-8 names, ESEARCH, no \Recent (RFC 9051)
  bool utf8_names = false;
  bool qresync = false;  // ENABLE QRESYNC (RFC 7162 §3.2): VANISHED instead of EXPUNGE           // IMAP4rev2 or
                         // UTF8=ACCEPT (RFC 6855): names in UTF-8, not mUTF-7
  std::vector<std::uint32_t> saved;  // UIDs of SEARCH RETURN (SAVE), for "$" (RFC 5182)

  struct Selected {
    std::string name;
    bool read_only = false;
    std::unique_ptr<store::Mailbox> mailbox;
    store::MailboxSnapshot view;                 // what the client has been told
    std::vector<std::string> keywords;           // the folder's, by letter (dovecot-keywords)
    std::string stamp;                           // folder_stamp() when the view was last brought up to date
    std::unique_ptr<store::MessageCache> cache;  // facts (imap/facts), opened at their first use
    // UID ranges [first, end) this session sees as \Recent (RFC 3501
    // §2.3.2). A read-write selection claims them (sync(true)); EXAMINE
    // sees them without taking them from the next session (§6.3.2).
    std::vector<std::pair<std::uint32_t, std::uint32_t>> recent;
    void claim(const store::MailboxSnapshot& snapshot) {
      if (snapshot.first_recent_uid < snapshot.uid_next)
        recent.emplace_back(snapshot.first_recent_uid, snapshot.uid_next);
    }
    bool is_recent(std::uint32_t uid) const {
      return std::any_of(recent.begin(), recent.end(),
                         [uid](const auto& r) { return uid >= r.first && uid < r.second; });
    }
    std::size_t recent_count() const {
      return static_cast<std::size_t>(
          std::count_if(view.messages.begin(), view.messages.end(), [&](const auto& m) { return is_recent(m.uid); }));
    }
  };
  std::optional<Selected> selected;

  // A FETCH answered in pieces (Result::more), so that a FETCH of a large
  // mailbox never holds its whole answer.
  struct FetchRun {
    Command cmd;
    std::vector<std::size_t> indexes;  // the messages, in the view
    std::size_t next = 0;
    bool needs_content = false, sets_seen = false, wants_modseq = false;
  };
  std::optional<FetchRun> fetching;

  // --- helpers ------------------------------------------------------------
  std::optional<std::filesystem::path> path_of(const std::string& wire_name) {
    auto name = from_wire(wire_name, utf8_names);
    if (!name || !folders.exists(*name)) return std::nullopt;
    auto path = folders.folder_path(*name);
    if (!path) return std::nullopt;
    return *path;
  }

  std::vector<std::size_t> resolve(const SequenceSet& set, bool uid) const {
    std::vector<std::size_t> out;
    const auto& msgs = selected->view.messages;
    if (msgs.empty()) return out;
    if (set.saved) {  // "$": the messages of the saved result that still exist
      for (std::size_t i = 0; i < msgs.size(); ++i) {
        if (std::binary_search(saved.begin(), saved.end(), msgs[i].uid)) out.push_back(i);
      }
      return out;
    }
    const std::uint32_t largest = uid ? msgs.back().uid : static_cast<std::uint32_t>(msgs.size());
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      if (set.contains(uid ? msgs[i].uid : static_cast<std::uint32_t>(i + 1), largest)) out.push_back(i);
    }
    return out;
  }

  std::optional<FileContent> content(const store::MessageFile& m) {
    auto fd = selected->mailbox->open_message(m);
    if (!fd) return std::nullopt;
    auto file = read_crlf(*fd, m.wire_size);
    ::close(*fd);
    return file;
  }

  // The selected folder's cache of facts: opened (and compacted) at its
  // first use, brought up to date by FETCH and SEARCH as they start.
  store::MessageCache& facts_cache() {
    auto& s = *selected;
    if (!s.cache) {
      s.cache =
          std::make_unique<store::MessageCache>(s.mailbox->folder(), std::string(kFactsSchema), s.view.uid_validity);
      s.cache->compact(s.view.messages);
    }
    return *s.cache;
  }

  // One message as FETCH and SEARCH look at it: its content and its facts,
  // each read, looked up or computed at most once.
  struct Probe {
    explicit Probe(const store::MessageFile& message) : m(message) {}
    const store::MessageFile& m;
    std::optional<std::string> text;
    std::int64_t mtime = -1;  // of the file read into `text`
    std::optional<mime::Entity> root;
    bool looked_up = false;
    std::optional<std::vector<std::string_view>> cached;  // valid until the next cache lookup
    std::vector<std::string> computed;
  };
  // The content with CRLF line ends; nullptr when the file is gone.
  const std::string* text_of(Probe& p) {
    if (!p.text) {
      if (auto file = content(p.m)) {
        p.text = std::move(file->text);
        p.mtime = file->mtime;
      }
    }
    return p.text ? &*p.text : nullptr;
  }
  const mime::Entity& root_of(Probe& p) {
    if (!p.root) p.root = mime::parse_message(*text_of(p));
    return *p.root;
  }
  const std::vector<std::string_view>* cached_facts(Probe& p) {
    if (!p.looked_up) {
      p.looked_up = true;
      p.cached = facts_cache().find(p.m.uid, p.m.base());
      if (p.cached && p.cached->size() != fact_count) p.cached.reset();
    }
    return p.cached ? &*p.cached : nullptr;
  }
  // A fact: from the cache, else computed from the content (and cached);
  // nullopt when the file is gone.
  std::optional<std::string_view> fact(Probe& p, Fact f) {
    if (const auto* c = cached_facts(p)) return (*c)[f];
    if (p.computed.empty()) {
      if (!text_of(p)) return std::nullopt;
      p.computed = message_facts(*p.text, root_of(p), p.mtime);
      facts_cache().add(p.m.uid, p.m.base(), p.computed);
    }
    return p.computed[f];
  }
  // INTERNALDATE: from the facts when known, else from the file (stat).
  std::int64_t internal_date_of(Probe& p) {
    std::string_view known;
    if (const auto* c = cached_facts(p)) known = (*c)[fact_internal_date];
    if (!p.computed.empty()) known = p.computed[fact_internal_date];
    std::int64_t seconds = 0;
    if (!known.empty() && std::from_chars(known.data(), known.data() + known.size(), seconds).ec == std::errc{})
      return seconds;
    if (p.text) return p.mtime;
    return selected->mailbox->internal_date(p.m);
  }

  // Takes the messages at `indexes` (ascending) out of the view and says so:
  // "* n EXPUNGE" from the highest down (so the numbers stay right), or one
  // "* VANISHED uids" with QRESYNC (RFC 7162 §3.2.10).
  std::string remove_from_view(const std::vector<std::size_t>& indexes) {
    std::string out;
    if (indexes.empty()) return out;
    auto& msgs = selected->view.messages;
    std::vector<std::uint32_t> uids;
    for (auto it = indexes.rbegin(); it != indexes.rend(); ++it) {
      uids.push_back(msgs[*it].uid);
      if (!qresync) out += "* " + std::to_string(*it + 1) + " EXPUNGE\r\n";
      msgs.erase(msgs.begin() + static_cast<std::ptrdiff_t>(*it));
    }
    if (qresync) {
      std::sort(uids.begin(), uids.end());
      out = "* VANISHED " + sequence_text(uids) + "\r\n";
    }
    return out;
  }

  // UIDs of `set` (or 1:UIDNEXT-1) that are not in the view: VANISHED
  // (EARLIER) without a history of expunges. RFC 7162 §3.2.5.2 lets the
  // server name UIDs the client never had; clients ignore those.
  std::string vanished_earlier(const std::optional<SequenceSet>& set) const {
    const auto& msgs = selected->view.messages;
    const std::uint32_t top = selected->view.uid_next - 1;
    std::vector<std::uint32_t> gone;
    std::size_t k = 0;
    for (std::uint32_t uid = 1; uid <= top; ++uid) {
      while (k < msgs.size() && msgs[k].uid < uid) ++k;
      if (k < msgs.size() && msgs[k].uid == uid) continue;
      if (set && !set->contains(uid, top)) continue;
      gone.push_back(uid);
    }
    return gone.empty() ? std::string() : "* VANISHED (EARLIER) " + sequence_text(gone) + "\r\n";
  }

  // System flags, then the keywords named by the file's letters a-z.
  std::string flags_of(const store::MessageFile& m) const {
    std::string out = store::Mailbox::imap_flags(m.flags());
    if (!rev2 && selected->is_recent(m.uid)) out += out.empty() ? "\\Recent" : " \\Recent";
    for (char c : m.flags()) {
      const auto index = static_cast<std::size_t>(c - 'a');
      if (c < 'a' || c > 'z' || index >= selected->keywords.size() || selected->keywords[index].empty()) continue;
      if (!out.empty()) out += ' ';
      out += selected->keywords[index];
    }
    return "(" + out + ")";
  }

  // The FLAGS of SELECT: system flags and the folder's keywords.
  std::string defined_flags() const {
    std::string out(kSystemFlags.substr(0, kSystemFlags.size() - 1));
    for (const auto& k : selected->keywords) {
      if (!k.empty()) out += " " + k;
    }
    return out + ")";
  }

  // Keywords (flags without a backslash) out of `flags`, and the system flags left in `flags`.
  static std::vector<std::string> split_keywords(std::vector<std::string>& flags) {
    std::vector<std::string> keywords;
    std::erase_if(flags, [&](const std::string& f) {
      if (!f.empty() && f[0] == '\\') return false;
      keywords.push_back(f);
      return true;
    });
    return keywords;
  }

  static std::string without_keywords(std::string_view maildir_flags) {
    std::string out;
    for (char c : maildir_flags) {
      if (c < 'a' || c > 'z') out += c;
    }
    return out;
  }
  // " MODSEQ (n)" after FLAGS once CONDSTORE is in use, else nothing.
  std::string modseq_of(const store::MessageFile& m) const {
    return condstore ? " MODSEQ (" + std::to_string(m.modseq) + ")" : std::string();
  }

  // Changes since the client last looked: EXPUNGE (highest first, so the
  // numbers stay right), FETCH FLAGS, then EXISTS.
  std::string update(bool expunges_allowed) {
    std::string out;
    if (!selected) return out;
    // A folder deleted meanwhile by another session: sync() would make it again.
    std::error_code gone;
    if (!std::filesystem::is_directory(selected->mailbox->folder() / "cur", gone)) return out;
    // Nothing can have changed while new/, cur/ and the uidlist keep their
    // times: three stats instead of reading a large folder on every NOOP and
    // every IDLE look.
    const auto stamp = folder_stamp(selected->mailbox->folder());
    if (!stamp.empty() && stamp == selected->stamp) return out;
    auto now = selected->mailbox->sync(!selected->read_only);
    if (!now) return out;
    selected->claim(*now);
    // Keywords another session made: the client learns them before it sees them on messages.
    if (auto keywords = selected->mailbox->keywords(); keywords != selected->keywords) {
      selected->keywords = std::move(keywords);
      out += "* FLAGS " + defined_flags() + "\r\n";
    }
    auto& old = selected->view.messages;
    std::set<std::uint32_t> present;
    for (const auto& m : now->messages) present.insert(m.uid);
    if (expunges_allowed) {
      std::vector<std::size_t> expunged;
      for (std::size_t i = 0; i < old.size(); ++i) {
        if (!present.count(old[i].uid)) expunged.push_back(i);
      }
      out += remove_from_view(expunged);
    }
    std::size_t j = 0;
    for (std::size_t i = 0; i < old.size(); ++i) {
      while (j < now->messages.size() && now->messages[j].uid < old[i].uid) ++j;
      if (j < now->messages.size() && now->messages[j].uid == old[i].uid) {
        // A new MODSEQ alone (this session's own STORE) matters only to a CONDSTORE client.
        const bool told =
            now->messages[j].flags() != old[i].flags() || (condstore && now->messages[j].modseq != old[i].modseq);
        old[i] = now->messages[j];
        if (told)
          out += "* " + std::to_string(i + 1) + " FETCH (FLAGS " + flags_of(old[i]) + modseq_of(old[i]) + ")\r\n";
      }
    }
    const std::size_t before = old.size();
    const std::uint32_t last_uid = old.empty() ? 0 : old.back().uid;
    for (const auto& m : now->messages) {
      if (m.uid > last_uid) old.push_back(m);
    }
    if (old.size() != before) {
      out += "* " + std::to_string(old.size()) + " EXISTS\r\n";
      if (!rev2) out += "* " + std::to_string(selected->recent_count()) + " RECENT\r\n";
    }
    selected->view.uid_next = now->uid_next;
    selected->view.highest_modseq = now->highest_modseq;
    selected->stamp = folder_stamp(selected->mailbox->folder());  // after sync(): it may rewrite the uidlist
    return out;
  }

  // --- commands -------------------------------------------------------------
  Result select(const Command& cmd) {
    if (cmd.qresync && !qresync) return {{}, "BAD QRESYNC must be enabled first"};
    // RFC 7162 §3.2.11: the old mailbox is closed before the new one's responses.
    std::string closed = qresync && selected ? "* OK [CLOSED] Previous mailbox closed\r\n" : "";
    selected.reset();
    auto path = path_of(cmd.mailbox);
    if (!path) return no("[NONEXISTENT] no such mailbox");
    Selected s;
    s.name = cmd.mailbox;
    s.read_only = cmd.name == "EXAMINE";
    s.mailbox = std::make_unique<store::Mailbox>(*path);
    auto view = s.mailbox->sync(!s.read_only);
    if (!view) return no("[SERVERBUG] cannot open the mailbox: " + view.error().message());
    s.claim(*view);
    s.view = std::move(*view);
    s.stamp = folder_stamp(*path);
    std::string out;
    s.keywords = s.mailbox->keywords();
    const bool read_only = s.read_only;
    selected = std::move(s);  // flags_of and defined_flags read the selected mailbox
    out += "* FLAGS " + defined_flags() + "\r\n";
    // "\*": clients may make new keywords (RFC 9051 §7.1).
    std::string permanent = defined_flags();
    permanent.insert(permanent.size() - 1, " \\*");
    out += "* OK [PERMANENTFLAGS " + (read_only ? std::string("()") : permanent) + "] Flags permitted\r\n";
    const Selected& sel = *selected;
    out += "* " + std::to_string(sel.view.messages.size()) + " EXISTS\r\n";
    if (!rev2) {  // IMAP4rev1 only (RFC 9051 Appendix E)
      out += "* " + std::to_string(sel.recent_count()) + " RECENT\r\n";
      for (std::size_t i = 0; i < sel.view.messages.size(); ++i) {
        if (!has_flag(sel.view.messages[i].flags(), 'S')) {
          out += "* OK [UNSEEN " + std::to_string(i + 1) + "] First unseen\r\n";
          break;
        }
      }
    }
    saved.clear();  // "$" is per selected mailbox (RFC 5182 §2.1)
    out += "* OK [UIDVALIDITY " + std::to_string(sel.view.uid_validity) + "] UIDs valid\r\n";
    out += "* OK [UIDNEXT " + std::to_string(sel.view.uid_next) + "] Predicted next UID\r\n";
    out += "* OK [HIGHESTMODSEQ " + std::to_string(sel.view.highest_modseq) + "] Highest\r\n";
    if (cmd.condstore) condstore = true;
    const auto validity = sel.view.uid_validity;
    if (cmd.qresync && cmd.qresync->uid_validity == validity) {  // what changed since the client's MODSEQ
      out += vanished_earlier(cmd.qresync->known_uids);
      const auto& msgs = selected->view.messages;
      for (std::size_t i = 0; i < msgs.size(); ++i) {
        if (msgs[i].modseq <= cmd.qresync->modseq) continue;
        out += "* " + std::to_string(i + 1) + " FETCH (UID " + std::to_string(msgs[i].uid) + " FLAGS " +
               flags_of(msgs[i]) + " MODSEQ (" + std::to_string(msgs[i].modseq) + "))\r\n";
      }
    }
    out = closed + out;
    return ok(std::string(read_only ? "[READ-ONLY] " : "[READ-WRITE] ") + cmd.name + " completed", std::move(out));
  }

  Result list(const Command& cmd) {
    const bool lsub = cmd.name == "LSUB";
    const auto& args = cmd.list;
    if (args.patterns.size() == 1 && args.patterns[0].empty()) {  // the delimiter and root (§6.3.9)
      return ok(cmd.name + " completed", "* " + cmd.name + " (\\Noselect) \".\" \"\"\r\n");
    }
    auto all = folders.list();
    if (!all) return no("[SERVERBUG] " + all.error().message());
    auto subs = folders.subscriptions();
    std::set<std::string> subscribed;
    if (subs) subscribed.insert(subs->begin(), subs->end());
    const bool only_subscribed =
        lsub || std::count(args.select_options.begin(), args.select_options.end(), "SUBSCRIBED");
    const bool want_special = std::count(args.select_options.begin(), args.select_options.end(), "SPECIAL-USE") != 0;
    if (only_subscribed) {  // a subscription outlives its folder (RFC 3501 §6.3.9, RFC 5258 §3.1)
      for (const auto& name : subscribed) {
        if (std::none_of(all->begin(), all->end(), [&](const auto& f) { return f.name == name; })) {
          all->push_back({name, false, false});
        }
      }
    }
    std::string out;
    for (const auto& f : *all) {
      const std::string wire = to_wire(f.name, utf8_names);
      bool match = false;
      for (const auto& p : args.patterns) {
        // "INBOX" matches case-insensitively (RFC 9051 §6.3.9).
        const std::string name = args.reference + p;
        match = match || list_match(name, wire, kDelimiter) ||
                (f.name == "INBOX" && list_match(core::to_lower(name), "inbox", kDelimiter));
      }
      if (!match) continue;
      if (only_subscribed && !subscribed.count(f.name)) continue;
      const std::string_view special = store::Folders::special_use(f.name);
      if (want_special && special.empty()) continue;
      std::string attrs;
      auto add = [&](std::string_view a) {
        if (!attrs.empty()) attrs += ' ';
        attrs += a;
      };
      if (!f.exists) add(lsub ? "\\Noselect" : "\\NonExistent");
      add(f.has_children ? "\\HasChildren" : "\\HasNoChildren");
      if (!lsub && subscribed.count(f.name) &&  // the SUBSCRIBED selection implies the return option (RFC 5258 §3)
          (only_subscribed || std::count(args.return_options.begin(), args.return_options.end(), "SUBSCRIBED"))) {
        add("\\Subscribed");
      }
      if (!special.empty()) add(special);
      out += "* " + cmd.name + " (" + attrs + ") \".\" ";
      append_string(out, wire, utf8_names);
      out += "\r\n";
      if (!args.status_items.empty() && f.exists) {  // LIST-STATUS (RFC 5819)
        Command status_cmd;
        status_cmd.mailbox = wire;
        status_cmd.atoms = args.status_items;
        auto r = status(status_cmd);
        if (r.completion.rfind("OK", 0) == 0) out += r.untagged;
      }
    }
    return ok(cmd.name + " completed", std::move(out));
  }

  Result status(const Command& cmd) {
    auto path = path_of(cmd.mailbox);
    if (!path) return no("[NONEXISTENT] no such mailbox");
    store::Mailbox mailbox(*path);
    auto view = mailbox.sync();
    if (!view) return no("[SERVERBUG] " + view.error().message());
    std::string items;
    for (const auto& a : cmd.atoms) {
      std::uint64_t v = 0;
      if (a == "MESSAGES")
        v = view->messages.size();
      else if (a == "UIDNEXT")
        v = view->uid_next;
      else if (a == "UIDVALIDITY")
        v = view->uid_validity;
      else if (a == "RECENT")  // not claimed by any session yet
        v = static_cast<std::uint64_t>(std::count_if(view->messages.begin(), view->messages.end(),
                                                     [&](const auto& m) { return m.uid >= view->first_recent_uid; }));
      else if (a == "HIGHESTMODSEQ") {
        v = view->highest_modseq;
        condstore = true;
      } else if (a == "UNSEEN" || a == "DELETED") {
        for (const auto& m : view->messages) v += has_flag(m.flags(), a == "UNSEEN" ? 'S' : 'T') == (a == "DELETED");
      } else if (a == "SIZE") {
        for (const auto& m : view->messages) v += m.wire_size;
      } else {
        return {{}, "BAD unknown STATUS item " + a};
      }
      if (!items.empty()) items += ' ';
      items += a + " " + std::to_string(v);
    }
    std::string out = "* STATUS ";
    append_string(out, cmd.mailbox, utf8_names);
    out += " (" + items + ")\r\n";
    return ok("STATUS completed", std::move(out));
  }

  Result append(const Command& cmd) {
    const auto& a = cmd.append.front();
    auto path = path_of(a.mailbox);
    if (!path) return no("[TRYCREATE] no such mailbox");
    if (a.message.size() > append_limit) return no("[TOOBIG] the message is larger than the APPENDLIMIT");
    store::Mailbox mailbox(*path);
    const std::string_view parts[] = {a.message};
    const std::int64_t date = a.internal_date.value_or(static_cast<std::int64_t>(::time(nullptr)));
    std::vector<std::string> system_flags = a.flags;
    auto letters = mailbox.keyword_letters(split_keywords(system_flags), true);
    if (!letters) return no("[LIMIT] no room for more keywords in that mailbox");
    auto uid = mailbox.append(parts, store::Mailbox::maildir_flags(system_flags, "") + *letters, date);
    if (!uid) return write_failed("cannot store the message", uid.error());
    auto view = mailbox.sync();
    const std::string validity = view ? std::to_string(view->uid_validity) : "0";
    std::string untagged = selected && selected->mailbox->folder() == *path ? update(false) : std::string();
    return ok("[APPENDUID " + validity + " " + std::to_string(*uid) + "] APPEND completed", std::move(untagged));
  }

  Result fetch(const Command& cmd) {
    std::string out;
    bool needs_content = false, sets_seen = false;
    for (const auto& item : cmd.fetch) {
      using K = FetchItem::Kind;
      if (item.kind == K::body_section || item.kind == K::binary || item.kind == K::binary_size ||
          item.kind == K::rfc822 || item.kind == K::rfc822_header || item.kind == K::rfc822_text) {
        needs_content = true;  // ENVELOPE, BODYSTRUCTURE and BODY come from the facts
      }
      if ((item.kind == K::body_section && !item.peek) || item.kind == K::rfc822 || item.kind == K::rfc822_text ||
          (item.kind == K::binary && !item.peek)) {
        sets_seen = true;
      }
    }
    sets_seen = sets_seen && !selected->read_only;
    bool wants_modseq = cmd.changed_since.has_value();
    for (const auto& item : cmd.fetch) wants_modseq = wants_modseq || item.kind == FetchItem::Kind::modseq;
    if (wants_modseq) condstore = true;
    if (cmd.vanished) {  // UID FETCH ... (CHANGEDSINCE n VANISHED), RFC 7162 §3.2.6
      if (!qresync || !cmd.uid || !cmd.changed_since)
        return {{}, "BAD VANISHED needs QRESYNC, UID FETCH and CHANGEDSINCE"};
      out += vanished_earlier(cmd.set);
    }
    if (selected->cache) selected->cache->refresh();
    fetching = FetchRun{cmd, resolve(cmd.set, cmd.uid), 0, needs_content, sets_seen, wants_modseq};
    return fetch_more(std::move(out));
  }

  // The next piece of the FETCH in progress: at least kFetchPiece octets of
  // responses, or the rest with the completion.
  Result fetch_more(std::string out) {
    const FetchRun& run = *fetching;
    const Command& cmd = run.cmd;
    const bool needs_content = run.needs_content, sets_seen = run.sets_seen, wants_modseq = run.wants_modseq;
    auto finish = [&](Result r) {
      r.untagged.insert(0, out);
      if (selected->cache) selected->cache->flush();
      fetching.reset();
      return r;
    };
    while (fetching->next < run.indexes.size()) {
      if (out.size() >= kFetchPiece) return {std::move(out), {}, true};
      const std::size_t i = run.indexes[fetching->next++];
      auto& m = selected->view.messages[i];
      if (cmd.changed_since && m.modseq <= *cmd.changed_since) continue;  // RFC 7162 §3.1.4
      if (sets_seen) {  // RFC 9051 §6.4.5: BODY[] sets \Seen, on top of the file's flags as they are now
        if (auto now = selected->mailbox->current(m)) m.name = now->name;
      }
      if (sets_seen && !has_flag(m.flags(), 'S')) {
        if (auto changed = selected->mailbox->set_flags(m, m.flags() + "S")) {
          m = *changed;
        }
      }
      Probe probe(m);
      if (needs_content && !text_of(probe)) continue;  // gone meanwhile: reported at the next NOOP
      std::string items;
      auto add = [&](std::string_view s) {
        if (!items.empty()) items += ' ';
        items += s;
      };
      if (cmd.uid) add("UID " + std::to_string(m.uid));
      bool flags_sent = false;
      for (const auto& item : cmd.fetch) {
        using K = FetchItem::Kind;
        switch (item.kind) {
          case K::uid:
            if (!cmd.uid) add("UID " + std::to_string(m.uid));
            break;
          case K::flags:
            add("FLAGS " + flags_of(m));
            flags_sent = true;
            break;
          case K::internal_date: add("INTERNALDATE \"" + internal_date(internal_date_of(probe)) + "\""); break;
          case K::rfc822_size: add("RFC822.SIZE " + std::to_string(m.wire_size)); break;
          case K::envelope:
          case K::body_structure:
          case K::body: {
            const Fact f = item.kind == K::envelope ? fact_envelope
                           : item.kind == K::body   ? fact_body
                                                    : fact_body_structure;
            const auto value = fact(probe, f);
            if (!value) break;  // gone meanwhile
            add(std::string(item.kind == K::envelope ? "ENVELOPE "
                            : item.kind == K::body   ? "BODY "
                                                     : "BODYSTRUCTURE ") +
                std::string(*value));
            break;
          }
          case K::binary: {
            auto octets = binary_octets(*probe.text, root_of(probe), item);
            if (!octets) return finish(no("[UNKNOWN-CTE] cannot decode that part's Content-Transfer-Encoding"));
            const auto part = partial(*octets, item);
            // literal8 (RFC 3516 §4.2) only when the octets need it.
            const bool nul = part.find('\0') != std::string_view::npos;
            add(section_label(item) + " " + (nul ? "~{" : "{") + std::to_string(part.size()) + "}\r\n" +
                std::string(part));
            break;
          }
          case K::body_section: {
            const std::string octets = section_octets(*probe.text, root_of(probe), item);
            std::string s = section_label(item) + " ";
            const auto part = partial(octets, item);
            s += "{" + std::to_string(part.size()) + "}\r\n";
            s += part;
            add(s);
            break;
          }
          case K::binary_size: {
            FetchItem body = item;
            body.kind = K::binary;
            auto octets = binary_octets(*probe.text, root_of(probe), body);
            if (!octets) return finish(no("[UNKNOWN-CTE] cannot decode that part's Content-Transfer-Encoding"));
            add("BINARY.SIZE[" + section_label(body).substr(7) + " " + std::to_string(octets->size()));
            break;
          }
          case K::rfc822:
          case K::rfc822_header:
          case K::rfc822_text: {
            FetchItem body;
            body.kind = K::body_section;
            body.section = item.kind == K::rfc822 ? "" : item.kind == K::rfc822_header ? "HEADER" : "TEXT";
            const std::string octets = section_octets(*probe.text, root_of(probe), body);
            const char* name = item.kind == K::rfc822          ? "RFC822"
                               : item.kind == K::rfc822_header ? "RFC822.HEADER"
                                                               : "RFC822.TEXT";
            add(std::string(name) + " {" + std::to_string(octets.size()) + "}\r\n" + octets);
            break;
          }
          case K::modseq: break;  // added once, below
        }
      }
      if (sets_seen && !flags_sent) add("FLAGS " + flags_of(m));
      if (wants_modseq || (sets_seen && condstore)) add("MODSEQ (" + std::to_string(m.modseq) + ")");
      out += "* " + std::to_string(i + 1) + " FETCH (" + items + ")\r\n";
    }
    return finish(ok(std::string(cmd.uid ? "UID " : "") + "FETCH completed"));
  }

  Result store_flags(const Command& cmd) {
    if (selected->read_only) return no("[READ-ONLY] the mailbox is read-only");
    if (cmd.store.unchanged_since) condstore = true;
    std::vector<std::string> system_flags = cmd.store.flags;
    const auto names = split_keywords(system_flags);
    // Removing a keyword nobody has set needs no letter; setting one may make it.
    auto letters = selected->mailbox->keyword_letters(names, cmd.store.mode != StoreArgs::Mode::remove);
    if (!letters) return no("[LIMIT] no room for more keywords in this mailbox");
    const std::string keyword_letters = *letters;
    if (!names.empty()) selected->keywords = selected->mailbox->keywords();
    std::vector<std::size_t> touched;
    std::vector<std::uint32_t> modified;  // RFC 7162 §3.1.3: changed since UNCHANGEDSINCE, left alone
    for (std::size_t i : resolve(cmd.set, cmd.uid)) {
      auto& m = selected->view.messages[i];
      // The flags the file has now: another Maildir reader may have changed them
      // since this session looked, and a change is made on top of theirs.
      auto now = selected->mailbox->current(m);
      if (!now) continue;  // expunged by someone: reported at the next NOOP
      const bool changed_elsewhere = now->flags() != m.flags();
      if (cmd.store.unchanged_since && (m.modseq > *cmd.store.unchanged_since || changed_elsewhere)) {
        modified.push_back(cmd.uid ? m.uid : static_cast<std::uint32_t>(i + 1));
        continue;
      }
      m.name = now->name;
      const std::string current = m.flags();
      std::string wanted;
      using Mode = StoreArgs::Mode;
      if (cmd.store.mode == Mode::replace) {
        wanted = store::Mailbox::maildir_flags(system_flags, without_keywords(current)) + keyword_letters;
        std::sort(wanted.begin(), wanted.end());
      } else {
        const std::string given = store::Mailbox::maildir_flags(system_flags, "") + keyword_letters;
        wanted = current;
        for (char f : given) {
          const auto pos = wanted.find(f);
          if (cmd.store.mode == Mode::add && pos == std::string::npos) wanted += f;
          if (cmd.store.mode == Mode::remove && pos != std::string::npos) wanted.erase(pos, 1);
        }
        std::sort(wanted.begin(), wanted.end());
      }
      if (wanted != current) {
        auto changed = selected->mailbox->set_flags(m, wanted);
        if (!changed) return no("[SERVERBUG] cannot change flags: " + changed.error().message());
        const auto modseq = m.modseq;
        m = *changed;
        m.modseq = modseq;
      }
      touched.push_back(i);
    }
    // The new MODSEQs come from the index: one sync for the whole command,
    // and only for a client that is told them (a large folder's sync lists
    // the whole folder; otherwise the next NOOP does it).
    if (auto now = condstore ? selected->mailbox->sync() : core::Result<store::MailboxSnapshot>(std::error_code())) {
      for (auto i : touched) {
        auto& m = selected->view.messages[i];
        auto it = std::lower_bound(now->messages.begin(), now->messages.end(), m.uid,
                                   [](const store::MessageFile& f, std::uint32_t uid) { return f.uid < uid; });
        if (it != now->messages.end() && it->uid == m.uid) m = *it;
      }
    }
    std::string out;
    for (auto i : touched) {
      const auto& m = selected->view.messages[i];
      if (cmd.store.silent && !cmd.store.unchanged_since) continue;
      out += "* " + std::to_string(i + 1) + " FETCH (";
      if (cmd.uid) out += "UID " + std::to_string(m.uid) + " ";
      out += "FLAGS " + flags_of(m) + modseq_of(m) + ")\r\n";
    }
    const std::string done = std::string(cmd.uid ? "UID " : "") + "STORE completed";
    if (!modified.empty()) return ok("[MODIFIED " + sequence_text(modified) + "] " + done, std::move(out));
    return ok(done, std::move(out));
  }

  Result copy(const Command& cmd, bool move) {
    if (move && selected->read_only) return no("[READ-ONLY] the mailbox is read-only");
    auto path = path_of(cmd.mailbox);
    if (!path) return no("[TRYCREATE] no such mailbox");
    const auto indexes = resolve(cmd.set, cmd.uid);
    if (indexes.empty()) return ok(cmd.name + " completed");
    std::vector<store::MessageFile> files;
    for (auto i : indexes) files.push_back(selected->view.messages[i]);
    store::Mailbox destination(*path);
    auto uids = selected->mailbox->copy_to(files, destination);
    if (!uids) return write_failed("cannot copy", uids.error());
    auto view = destination.sync();
    // Keyword letters are per folder: the copies get the destination's letters for the same names.
    if (view && destination.keywords() != selected->keywords) {
      for (std::size_t k = 0; k < files.size(); ++k) {
        std::vector<std::string> names;
        for (char c : files[k].flags()) {
          const auto index = static_cast<std::size_t>(c - 'a');
          if (c >= 'a' && c <= 'z' && index < selected->keywords.size()) names.push_back(selected->keywords[index]);
        }
        if (names.empty()) continue;
        auto letters = destination.keyword_letters(names, true);
        auto copy = std::find_if(view->messages.begin(), view->messages.end(),
                                 [&](const store::MessageFile& f) { return f.uid == (*uids)[k]; });
        if (letters && copy != view->messages.end()) {
          // A copy that keeps the source's letters shows other keywords or none: nothing is lost.
          (void)destination.set_flags(*copy, without_keywords(copy->flags()) + *letters);
        }
      }
    }
    std::string source_uids, dest_uids;
    for (std::size_t k = 0; k < files.size(); ++k) {
      if (k) {
        source_uids += ',';
        dest_uids += ',';
      }
      source_uids += std::to_string(files[k].uid);
      dest_uids += std::to_string((*uids)[k]);
    }
    const std::string code =
        "[COPYUID " + std::to_string(view ? view->uid_validity : 0) + " " + source_uids + " " + dest_uids + "]";
    if (!move) return ok(code + " COPY completed");
    // MOVE (RFC 6851 §4.2): COPYUID untagged, then the EXPUNGEs.
    std::string out = "* OK " + code + " Moved\r\n";
    if (auto ec = selected->mailbox->remove(files)) return no("[SERVERBUG] cannot remove the originals");
    out += remove_from_view(indexes);
    return ok("MOVE completed", std::move(out));
  }

  // Removes \Deleted messages (of `only` when given); the EXPUNGE lines.
  std::optional<std::string> expunge(const std::optional<SequenceSet>& only) {
    std::vector<std::size_t> doomed;
    const auto& msgs = selected->view.messages;
    const std::uint32_t largest = msgs.empty() ? 0 : msgs.back().uid;
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      if (!has_flag(msgs[i].flags(), 'T')) continue;
      if (only && !only->contains(msgs[i].uid, largest)) continue;
      doomed.push_back(i);
    }
    std::vector<store::MessageFile> files;
    for (auto i : doomed) files.push_back(msgs[i]);
    if (!files.empty()) {
      if (auto ec = selected->mailbox->remove(files)) return std::nullopt;
    }
    return remove_from_view(doomed);
  }

  bool matches(const SearchKey& key, std::size_t index, Probe& probe) {
    using K = SearchKey::Kind;
    const auto& m = selected->view.messages[index];
    const std::string f = m.flags();
    static const std::string kNone;
    auto need_text = [&]() -> const std::string& {
      const std::string* t = text_of(probe);
      return t ? *t : kNone;
    };
    // A searched field (FROM, SUBJECT...), from the facts.
    auto field = [&](Fact which) { return fact(probe, which).value_or(std::string_view()); };
    auto header_text = [](const std::string& t) {  // every header field, RFC 2047 words decoded
      std::string all;
      mime::HeaderReader reader(t);
      while (auto h = reader.next()) {
        all += h->name;
        all += ": ";
        all += mime::decode_encoded_words(h->value);
        all += '\n';
      }
      return all;
    };
    // The text a reader sees: every text part decoded from its transfer
    // encoding and charset to UTF-8 (RFC 9051 §6.4.4 asks for a match on
    // the decoded content).
    auto body_of = [&]() {
      const std::string& t = need_text();
      std::string out;
      const mime::Entity& root = root_of(probe);
      auto walk = [&](const mime::Entity& e, auto& self) -> void {
        if (!e.children.empty()) {
          for (const auto& c : e.children) self(c, self);
          return;
        }
        if (e.type != "text") return;
        const auto raw = mime::decode_transfer_encoding(e.body.of(t), e.encoding);
        if (!raw) return;
        const std::string* charset = e.param("charset");
        auto utf8 = charset ? mime::to_utf8(*charset, *raw) : std::optional<std::string>(*raw);
        out += utf8 ? *utf8 : *raw;
        out += '\n';
      };
      walk(root, walk);
      return out;
    };
    switch (key.kind) {
      case K::all: return true;
      case K::and_:
        for (const auto& c : key.children) {
          if (!matches(c, index, probe)) return false;
        }
        return true;
      case K::or_: return matches(key.children[0], index, probe) || matches(key.children[1], index, probe);
      case K::not_: return !matches(key.children[0], index, probe);
      case K::sequence:
        if (key.set.saved) return std::binary_search(saved.begin(), saved.end(), m.uid);
        return key.set.contains(static_cast<std::uint32_t>(index + 1),
                                static_cast<std::uint32_t>(selected->view.messages.size()));
      case K::uid:
        if (key.set.saved) return std::binary_search(saved.begin(), saved.end(), m.uid);
        return key.set.contains(m.uid, selected->view.messages.back().uid);
      case K::answered: return has_flag(f, 'R');
      case K::deleted: return has_flag(f, 'T');
      case K::draft: return has_flag(f, 'D');
      case K::flagged: return has_flag(f, 'F');
      case K::seen: return has_flag(f, 'S');
      case K::unanswered: return !has_flag(f, 'R');
      case K::undeleted: return !has_flag(f, 'T');
      case K::undraft: return !has_flag(f, 'D');
      case K::unflagged: return !has_flag(f, 'F');
      case K::unseen: return !has_flag(f, 'S');
      case K::recent: return selected->is_recent(m.uid);
      case K::new_: return selected->is_recent(m.uid) && !has_flag(f, 'S');
      case K::old: return !selected->is_recent(m.uid);
      case K::keyword:
      case K::unkeyword: {
        bool set = false;
        for (std::size_t k = 0; k < selected->keywords.size(); ++k) {
          if (!selected->keywords[k].empty() && core::to_lower(selected->keywords[k]) == core::to_lower(key.value)) {
            set = has_flag(f, static_cast<char>('a' + k));
          }
        }
        return key.kind == K::keyword ? set : !set;
      }
      case K::before: return day_of(internal_date_of(probe)) < key.date;
      case K::on: return day_of(internal_date_of(probe)) == key.date;
      case K::since: return day_of(internal_date_of(probe)) >= key.date;
      case K::sent_before:
      case K::sent_on:
      case K::sent_since: {
        // The Date: field's day; messages without one do not match.
        const auto sent = field(fact_sent_day);
        std::int64_t d = 0;
        if (std::from_chars(sent.data(), sent.data() + sent.size(), d).ec != std::errc{}) return false;
        if (key.kind == K::sent_before) return d < key.date;
        if (key.kind == K::sent_on) return d == key.date;
        return d >= key.date;
      }
      case K::larger: return m.wire_size > key.number;
      case K::smaller: return m.wire_size < key.number;
      case K::bcc: return contains_ci(field(fact_bcc), key.value);
      case K::cc: return contains_ci(field(fact_cc), key.value);
      case K::from: return contains_ci(field(fact_from), key.value);
      case K::to: return contains_ci(field(fact_to), key.value);
      case K::subject: return contains_ci(field(fact_subject), key.value);
      case K::header: {
        const std::string values = decoded_field(need_text(), key.field);
        return key.value.empty() ? !values.empty() : contains_ci(values, key.value);
      }
      case K::body: return contains_ci(body_of(), key.value);
      case K::text: return contains_ci(header_text(need_text()), key.value) || contains_ci(body_of(), key.value);
      case K::modseq: return m.modseq >= key.number;
    }
    return false;
  }

  // BINARY[part]: the part's body with its transfer encoding undone (RFC 3516 §4.2).
  static std::optional<std::string> binary_octets(std::string_view message, const mime::Entity& root,
                                                  const FetchItem& item) {
    if (item.part.empty()) return std::string(message);
    const mime::Entity* e = mime::find_section(root, item.part);
    if (!e) return std::string();
    if (e->is_multipart() || e->embedded_message()) return std::string(e->body.of(message));
    return mime::decode_transfer_encoding(e->body.of(message), e->encoding);
  }

  static bool uses_modseq(const SearchKey& key) {
    if (key.kind == SearchKey::Kind::modseq) return true;
    return std::any_of(key.children.begin(), key.children.end(), [](const SearchKey& c) { return uses_modseq(c); });
  }

  Result search(const Command& cmd) {
    if (!cmd.charset.empty() && cmd.charset != "UTF-8" && cmd.charset != "US-ASCII") {
      return no("[BADCHARSET (UTF-8 US-ASCII)] unsupported charset");
    }
    std::vector<std::uint32_t> found;
    std::vector<std::uint32_t> found_uids;
    std::uint64_t highest = 0;  // of the messages found, for SEARCH MODSEQ (RFC 7162 §3.1.5)
    if (selected->cache) selected->cache->refresh();
    for (std::size_t i = 0; i < selected->view.messages.size(); ++i) {
      Probe probe(selected->view.messages[i]);
      if (!matches(cmd.search, i, probe)) continue;
      found.push_back(cmd.uid ? selected->view.messages[i].uid : static_cast<std::uint32_t>(i + 1));
      found_uids.push_back(selected->view.messages[i].uid);
      highest = std::max(highest, selected->view.messages[i].modseq);
    }
    if (selected->cache) selected->cache->flush();
    std::vector<std::string> returns = cmd.search_return;
    if (const auto save = std::find(returns.begin(), returns.end(), "SAVE"); save != returns.end()) {
      saved = std::move(found_uids);  // RFC 5182 §2.1: kept as UIDs, so expunges do not shift it
      returns.erase(save);
      if (returns.empty()) return ok(std::string(cmd.uid ? "UID " : "") + "SEARCH completed, result saved");
    }
    if (returns.empty() && rev2) returns.push_back("ALL");  // IMAP4rev2 answers with ESEARCH only
    const bool by_modseq = uses_modseq(cmd.search);
    if (by_modseq) condstore = true;
    const std::string modseq_suffix =
        by_modseq && !found.empty() ? " (MODSEQ " + std::to_string(highest) + ")" : std::string();
    const std::string done = std::string(cmd.uid ? "UID " : "") + "SEARCH completed";
    if (returns.empty()) {
      std::string hits = "* SEARCH";
      for (auto n : found) hits += " " + std::to_string(n);
      return ok(done, hits + modseq_suffix + "\r\n");
    }
    // ESEARCH (RFC 4731 §3.1): only what RETURN asked for.
    std::string out = "* ESEARCH (TAG ";
    append_string(out, cmd.tag);
    out += ")";
    if (cmd.uid) out += " UID";
    for (const auto& r : returns) {
      if (r == "MIN" && !found.empty()) out += " MIN " + std::to_string(found.front());
      if (r == "MAX" && !found.empty()) out += " MAX " + std::to_string(found.back());
      if (r == "COUNT") out += " COUNT " + std::to_string(found.size());
      if (r == "ALL" && !found.empty()) out += " ALL " + sequence_text(found);
    }
    if (by_modseq && !found.empty()) out += " MODSEQ " + std::to_string(highest);
    return ok(done, out + "\r\n");
  }

  Result execute(const Command& cmd) {
    const std::string& n = cmd.name;
    if (!specials_checked) {  // every user has the SPECIAL-USE folders (RFC 6154)
      folders.ensure_special_use();
      specials_checked = true;
    }
    if (n == "SELECT" || n == "EXAMINE") return select(cmd);
    if (n == "ENABLE") {  // RFC 5161: what it enables, of what was asked
      std::string enabled = "* ENABLED";
      for (const auto& cap : cmd.atoms) {
        if (cap == "CONDSTORE" && !condstore) {
          condstore = true;
          enabled += " CONDSTORE";
        }
        if (cap == "IMAP4REV2" && !rev2) {
          rev2 = utf8_names = true;
          enabled += " IMAP4rev2";
        }
        if (cap == "QRESYNC" && !qresync) {  // implies CONDSTORE (RFC 7162 §3.2.3)
          qresync = condstore = true;
          enabled += " QRESYNC";
        }
        if (cap == "UTF8=ACCEPT" && !utf8_names) {
          utf8_names = true;
          enabled += " UTF8=ACCEPT";
        }
      }
      return ok("ENABLE completed", enabled + "\r\n");
    }
    if (n == "LIST" || n == "LSUB") return list(cmd);
    if (n == "STATUS") return status(cmd);
    if (n == "APPEND") return append(cmd);
    if (n == "NOOP" || n == "CHECK") return ok(n + " completed", update(true));
    if (n == "CREATE" || n == "DELETE" || n == "SUBSCRIBE" || n == "UNSUBSCRIBE" || n == "RENAME") {
      auto name = from_wire(cmd.mailbox, utf8_names);
      if (!name) return {{}, "BAD the mailbox name is not valid modified UTF-7"};
      std::error_code ec;
      if (n == "CREATE") {
        std::string target = *name;
        while (!target.empty() && target.back() == kDelimiter) target.pop_back();  // "foo." creates "foo" (§6.3.4)
        ec = folders.create(target);
      } else if (n == "DELETE") {
        if (selected && selected->name == cmd.mailbox) selected.reset();
        ec = folders.exists(*name) ? folders.remove(*name) : std::make_error_code(std::errc::no_such_file_or_directory);
      } else if (n == "SUBSCRIBE") {
        ec = folders.subscribe(*name);
      } else if (n == "UNSUBSCRIBE") {
        ec = folders.unsubscribe(*name);
      } else {
        auto to = from_wire(cmd.mailbox2, utf8_names);
        if (!to) return {{}, "BAD the new name is not valid modified UTF-7"};
        ec = folders.exists(*name) ? folders.rename(*name, *to)
                                   : std::make_error_code(std::errc::no_such_file_or_directory);
      }
      if (ec == std::errc::file_exists) return no("[ALREADYEXISTS] the mailbox exists already");
      if (ec == std::errc::no_such_file_or_directory) return no("[NONEXISTENT] no such mailbox");
      if (ec == std::errc::operation_not_permitted) return no("[CANNOT] INBOX cannot be " + core::to_lower(n) + "d");
      if (ec == std::errc::invalid_argument) return no("[CANNOT] that name is not allowed");
      if (ec) return no("[SERVERBUG] " + ec.message());
      return ok(n + " completed");
    }
    if (!selected) return {{}, "BAD no mailbox is selected"};
    if (n == "FETCH") return fetch(cmd);
    if (n == "STORE") return store_flags(cmd);
    if (n == "SEARCH") return search(cmd);
    if (n == "COPY") return copy(cmd, false);
    if (n == "MOVE") return copy(cmd, true);
    if (n == "EXPUNGE") {
      if (selected->read_only) return no("[READ-ONLY] the mailbox is read-only");
      auto out = expunge(cmd.uid ? std::optional<SequenceSet>(cmd.set) : std::nullopt);
      if (!out) return no("[SERVERBUG] cannot remove messages");
      return ok(std::string(cmd.uid ? "UID " : "") + "EXPUNGE completed", std::move(*out));
    }
    if (n == "CLOSE" || n == "UNSELECT") {
      if (n == "CLOSE" && !selected->read_only) expunge(std::nullopt);  // silently (§6.4.1)
      selected.reset();
      return ok(n + " completed");
    }
    return {{}, "BAD " + n + " is not supported"};
  }
};

Backend::Backend(std::filesystem::path root, std::uint64_t append_limit)
    : impl_(std::make_unique<Impl>(std::move(root), append_limit)) {}
Backend::~Backend() = default;

Backend::Result Backend::resume() {
  if (!impl_->fetching) return {{}, "BAD no command to continue"};
  return impl_->fetch_more({});
}

Backend::Result Backend::execute(const Command& command) {
  return impl_->execute(command);
}

std::string Backend::poll() {
  return impl_->update(true);
}

bool Backend::selected() const {
  return impl_->selected.has_value();
}

}  // namespace poshta::imap
