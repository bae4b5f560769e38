"""The IMAP cache of message facts (poshta-cache beside poshta-uidlist:
ENVELOPE, BODYSTRUCTURE, BODY, INTERNALDATE and the decoded fields SEARCH
FROM/TO/CC/BCC/SUBJECT/SENT* look at) and FETCH answered in 256 KiB pieces.

A cache may only make answers faster, never different: every test compares
what a client receives byte for byte with what a session without a cache
received. Covered: answers from a warm cache (also after a restart); a
cache that is damaged, cut short, random, deleted, with another header or
with records whose CRC does not match, seen by new sessions and by a session
that had it open; a UID that names another message after the uidlist was
rewritten or lost; records written by one session read by another, also
after a compaction; a FETCH of more than 256 KiB, plain and through
COMPRESS=DEFLATE, with a command pipelined behind it."""

import base64
import random
import re
import smtplib
import struct
import zlib

import pytest

from poshta_helpers import HOST, deadline_poll, port_open, unique
from test_imap import (  # noqa: F401  (imap_factory and imap are fixtures)
    SENDER, USER, RawIMAP, fetch, imap, imap_factory, mail_files, multipart_message, parse_data,
    plain_message, selected)
from test_imap_extensions import DeflateIMAP

GRUSSE = "Gr\u00fc\u00dfe aus Kyiv"                      # the decoded subject of the "encoded" kind
CAFE = "caf\u00e9 au lait"


# --------------------------------------------------------------------------
# mail


def encoded_message(i):
    """RFC 2047 words in From and Subject, several To and Cc, a Bcc, an 8bit body."""
    subject = "=?UTF-8?B?" + base64.b64encode(GRUSSE.encode()).decode() + f"?= #{i}"
    return (
        "From: =?UTF-8?Q?Ol=C3=A9na_K?= <olena@c.test>\r\n"
        f"To: Carol <carol@d.test>, <{USER}>\r\n"
        'Cc: Dave <dave@d.test>, "Frank, Jr." <frank@d.test>\r\n'
        "Bcc: erin@d.test\r\n"
        f"Subject: {subject}\r\n"
        "Date: Thu, 05 Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{unique()}@c.test>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 8bit\r\n"
        "\r\n"
        f"\u041f\u0440\u0438\u0432\u0456\u0442, {i}!\r\n"
    ).encode()


def alternative_message(i):
    """An old Date:, an ISO-8859-1 quoted-printable subject, a group address,
    multipart/alternative with a quoted-printable part."""
    return (
        'From: "Mallory" <mallory@e.test>\r\n'
        "To: undisclosed-recipients:;\r\n"
        "Cc: carol@d.test\r\n"
        f"Subject: =?iso-8859-1?q?caf=E9?= au lait #{i}\r\n"
        "Date: Tue, 03 Mar 2020 23:30:00 -0100\r\n"
        f"Message-ID: <{unique()}@e.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="alt"\r\n'
        "\r\n"
        "--alt\r\n"
        "Content-Type: text/plain; charset=iso-8859-1\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n"
        "caf=E9 cr=E8me\r\n"
        "--alt\r\n"
        "Content-Type: text/html; charset=utf-8\r\n"
        "\r\n"
        "<p>caf\u00e9</p>\r\n"
        "--alt--\r\n"
    ).encode()


def forwarded_message(i):
    """No Date: field; a message/rfc822 part (its ENVELOPE is in the BODYSTRUCTURE)."""
    inner = plain_message(subject=f"inner {i}").decode()
    return (
        f"From: <{SENDER}>\r\n"
        f"To: <{USER}>\r\n"
        f"Subject: Fwd: inner {i}\r\n"
        f"Message-ID: <{unique()}@client.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="fw"\r\n'
        "\r\n"
        "--fw\r\n"
        "Content-Type: text/plain\r\n"
        "\r\n"
        "see below\r\n"
        "--fw\r\n"
        "Content-Type: message/rfc822\r\n"
        "\r\n"
        f"{inner}"
        "--fw--\r\n"
    ).encode()


def varied_messages(n):
    """n messages of four kinds, in turn: plain, multipart with attachment,
    encoded words, multipart/alternative with an old date."""
    kinds = [lambda i: plain_message(subject=f"plain #{i} {unique()}"),
             lambda i: multipart_message(subject=f"multi #{i} {unique()}"),
             encoded_message, alternative_message]
    return [kinds[i % 4](i) for i in range(n)]


def smtp_deliver_all(server, messages):
    """Sends the messages in one SMTP session and waits until all are stored."""
    before = len(mail_files(server))
    with smtplib.SMTP(HOST, server.smtp_port, timeout=30) as s:
        for msg in messages:
            assert s.sendmail(SENDER, [USER], msg) == {}
    want = before + len(messages)
    deadline_poll(lambda: len(mail_files(server)) >= want, 30, f"{want} messages in {server.maildir(USER)}")


def append(c, msg, date):
    """APPEND to INBOX with an INTERNALDATE (a LITERAL+)."""
    c.ok(f'APPEND INBOX "{date}" {{{len(msg)}+}}\r\n' + msg.decode("ascii"))


def mixed_mailbox(server, n=40):
    """n varied messages by SMTP, then two APPENDed with an INTERNALDATE in
    2020: one header only, one forwarding a message without a Date: field.
    Returns the number of messages."""
    smtp_deliver_all(server, varied_messages(n))
    with RawIMAP(server.imap_port) as c:
        c.login()
        append(c, b"Date: Thu, 05 Nov 2020 10:00:00 +0000\r\nSubject: header only\r\n", "05-Nov-2020 10:00:00 +0000")
        append(c, forwarded_message(n + 1), "31-Dec-2020 23:59:59 +0000")
    return n + 2


# --------------------------------------------------------------------------
# what a client receives


def utf8_literal(text):
    """A LITERAL+ of the UTF-8 octets (RawIMAP sends str as UTF-8)."""
    return f"{{{len(text.encode())}+}}\r\n{text}"


# The commands whose answers must not depend on the cache (none changes anything).
QUERIES = [
    "FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY INTERNALDATE RFC822.SIZE)",
    "UID FETCH 1:* (ENVELOPE BODY)",        # not FLAGS: \Recent is for the first session only
    "FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])",
    "SEARCH CHARSET UTF-8 SUBJECT " + utf8_literal("gr\u00fc\u00dfe"),
    "SEARCH CHARSET UTF-8 SUBJECT " + utf8_literal("CAF\u00e9"),
    "SEARCH SUBJECT multi",
    "SEARCH FROM olena",
    "SEARCH CHARSET UTF-8 FROM " + utf8_literal("Ol\u00e9na"),
    "SEARCH FROM mallory",
    "SEARCH TO carol",
    "SEARCH TO you@localhost",
    "SEARCH CC frank",
    "SEARCH CC carol",
    "SEARCH BCC erin",
    "SEARCH SENTON 3-Mar-2020",
    "SEARCH SENTON 4-Mar-2020",
    "SEARCH SENTBEFORE 1-Jan-2021",
    "SEARCH SENTSINCE 1-Jan-2021",
    "SEARCH NOT SENTSINCE 1-Jan-1970",
    "SEARCH BEFORE 1-Jan-2021",
    "SEARCH SINCE 1-Jan-2021",
    "SEARCH ON 31-Dec-2020",
    "SEARCH OR FROM olena SUBJECT header",
    "UID SEARCH SUBJECT inner",
]


def flat(untagged):
    """One untagged response as bytes, literals inline."""
    return untagged if isinstance(untagged, bytes) else b"".join(s for _, s in untagged)


def transcript(c, query):
    """The whole answer to one command, without its tag."""
    untagged, done = c.cmd(query)
    assert re.match(rb"^r\d+ OK ", done), (query, done)
    return b"\r\n".join(flat(u) for u in untagged) + b"\r\n" + done.split(b" ", 1)[1]


def answers(c, queries=QUERIES):
    return {q: transcript(c, q) for q in queries}


def fresh_answers(server, queries=QUERIES):
    """The answers a new session receives."""
    with selected(server) as c:
        return answers(c, queries)


def assert_same(got, want, what):
    for q in want:
        assert got[q] == want[q], f"{what}: the answer to {q!r} differs:\n{got[q][:3000]!r}\n!=\n{want[q][:3000]!r}"


SUBJECT_KINDS = [(b"plain #", "plain"), (b"multi #", "multi"), (b"=?UTF-8?B?", "encoded"),
                 (b"=?iso-8859-1?q?caf", "alternative"), (b"header only", "header only"), (b"Fwd: ", "forward")]


def kinds_by_number(subject_fetch):
    """{kind: [message numbers]} from the answer to FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])."""
    out = {}
    for n, subject in re.findall(rb"\* (\d+) FETCH \(BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}Subject: ([^\r]*)",
                                 subject_fetch):
        kind = next(k for prefix, k in SUBJECT_KINDS if subject.startswith(prefix))
        out.setdefault(kind, []).append(int(n))
    return out


def search_result(transcript_bytes):
    m = re.match(rb"^\* SEARCH([0-9 ]*)\r\n", transcript_bytes)
    assert m, transcript_bytes
    return [int(x) for x in m.group(1).split()]


def subjects(c):
    """{UID: the Subject ENVELOPE says} and {UID: the file's own Subject: field}."""
    got, _ = fetch(c, "1:*", "(ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])", uid=True)
    said = {v["UID"]: v["ENVELOPE"][1] for v in got.values()}
    own = {v["UID"]: v["BODY[HEADER.FIELDS (SUBJECT)]"].strip().partition(b": ")[2] for v in got.values()}
    return said, own


# --------------------------------------------------------------------------
# the cache file


def cache_path(server):
    return server.maildir(USER) / "poshta-cache"


def read_cache(server):
    """(header line, [(crc, payload)]) of the INBOX cache."""
    data = cache_path(server).read_bytes()
    head, _, rest = data.partition(b"\n")
    records = []
    at = 0
    while at + 8 <= len(rest):
        size, crc = struct.unpack_from("<II", rest, at)
        records.append((crc, rest[at + 8:at + 8 + size]))
        at += 8 + size
    assert at == len(rest), f"the cache ends inside a record ({len(rest) - at} octets left)"
    return head, records


def unpack(payload):
    """(uid, base name, [field])."""
    uid, base_size = struct.unpack_from("<IH", payload, 0)
    base = payload[6:6 + base_size]
    at = 6 + base_size
    (count,) = struct.unpack_from("<H", payload, at)
    at += 2
    fields = []
    for _ in range(count):
        (size,) = struct.unpack_from("<I", payload, at)
        fields.append(payload[at + 4:at + 4 + size])
        at += 4 + size
    return uid, base, fields


def pack(uid, base, fields):
    out = struct.pack("<IH", uid, len(base)) + base + struct.pack("<H", len(fields))
    return out + b"".join(struct.pack("<I", len(f)) + f for f in fields)


def record(payload, crc=None):
    return struct.pack("<II", len(payload), zlib.crc32(payload) if crc is None else crc) + payload


FORGED_ENVELOPE = b'(NIL "forged" NIL NIL NIL NIL NIL NIL NIL NIL)'


def forged(payload):
    """The payload with a lying ENVELOPE and lying decoded From/Subject."""
    uid, base, fields = unpack(payload)
    fields[0] = FORGED_ENVELOPE
    fields[4] = fields[8] = b"forged\n"
    return pack(uid, base, fields)


def write_forged(server, head, keep_crc=False):
    """Rewrites the cache with every record forged, under `head`; with
    keep_crc, each record keeps the CRC of its true payload."""
    _, records = read_cache(server)
    body = b"".join(record(forged(p), crc if keep_crc else None) for crc, p in records)
    cache_path(server).write_bytes(head + b"\n" + body)


def uid_validity(server):
    text = (server.maildir(USER) / "poshta-uidlist").read_text()
    return int(text.split("\n", 1)[0].split()[2])      # "poshta-uidlist 2 <validity> <next> <modseq>"


# --------------------------------------------------------------------------
# 1. warm answers are cold answers


def test_warm_answers_equal_cold_answers(imap):
    n = mixed_mailbox(imap)
    assert not cache_path(imap).exists()
    cold = fresh_answers(imap)
    # The cold answers are right in themselves. (Deliveries run in parallel:
    # the message numbers of each kind come from the Subject: fields.)
    kinds = kinds_by_number(cold["FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"])
    assert sum(len(v) for v in kinds.values()) == n
    plain, multi, enc, alt = (kinds[k] for k in ("plain", "multi", "encoded", "alternative"))
    assert [len(plain), len(multi), len(enc), len(alt)] == [10, 10, 10, 10]
    (header_only,), (forward,) = kinds["header only"], kinds["forward"]
    want = {
        QUERIES[3]: enc,
        QUERIES[4]: alt,
        "SEARCH SUBJECT multi": multi,
        "SEARCH FROM olena": enc,
        QUERIES[7]: enc,
        "SEARCH FROM mallory": alt,
        "SEARCH TO carol": enc,
        "SEARCH TO you@localhost": sorted(plain + multi + enc + [forward]),
        "SEARCH CC frank": enc,
        "SEARCH CC carol": alt,
        "SEARCH BCC erin": enc,
        "SEARCH SENTON 3-Mar-2020": alt,           # the day as written, not in UTC
        "SEARCH SENTON 4-Mar-2020": [],
        "SEARCH SENTBEFORE 1-Jan-2021": sorted(alt + [header_only]),
        "SEARCH SENTSINCE 1-Jan-2021": sorted(plain + multi + enc),
        "SEARCH NOT SENTSINCE 1-Jan-1970": [forward],  # no Date: field
        "SEARCH BEFORE 1-Jan-2021": [header_only, forward],
        "SEARCH SINCE 1-Jan-2021": sorted(plain + multi + enc + alt),
        "SEARCH ON 31-Dec-2020": [forward],
        "SEARCH OR FROM olena SUBJECT header": sorted(enc + [header_only]),
    }
    for q, numbers in want.items():
        assert search_result(cold[q]) == numbers, (q, cold[q])
    assert cold["FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY INTERNALDATE RFC822.SIZE)"].count(b" FETCH (") == n
    assert GRUSSE.encode() not in cold[QUERIES[0]]     # ENVELOPE keeps the encoded words as they are
    assert b'"=?UTF-8?B?' in cold[QUERIES[0]]

    assert cache_path(imap).exists(), "no poshta-cache in the INBOX Maildir after FETCH and SEARCH"
    head, records = read_cache(imap)
    assert head == b"poshta-cache 1 %d imap1" % uid_validity(imap)
    assert len(records) == n
    size = cache_path(imap).stat().st_size

    assert_same(fresh_answers(imap), cold, "a second session")
    # Every fact was found: nothing was computed and appended again.
    assert cache_path(imap).stat().st_size == size

    imap.restart()
    deadline_poll(lambda: port_open(imap.imap_port), 10, "the IMAP listener after the restart")
    assert_same(fresh_answers(imap), cold, "a session after a restart")
    assert cache_path(imap).stat().st_size == size


def test_later_sessions_read_the_cache(imap):
    """A control for the other tests: records with a right header, the right
    UIDs and base names and a right CRC are believed, so what a session
    answers really comes from the cache when it has them."""
    smtp_deliver_all(imap, varied_messages(4))
    queries = ["FETCH 1:* (ENVELOPE)", "SEARCH SUBJECT forged"]
    cold = fresh_answers(imap, queries)
    assert search_result(cold["SEARCH SUBJECT forged"]) == []
    head, _ = read_cache(imap)
    write_forged(imap, head)
    got = fresh_answers(imap, queries)
    assert got["FETCH 1:* (ENVELOPE)"].count(FORGED_ENVELOPE) == 4, got
    assert search_result(got["SEARCH SUBJECT forged"]) == [1, 2, 3, 4]


# --------------------------------------------------------------------------
# 2. a damaged cache costs a read of the files, nothing else


def damage_garbage_in_the_middle(server, rng):
    data = bytearray(cache_path(server).read_bytes())
    head = data.index(b"\n") + 1
    at = head + (len(data) - head) // 2
    data[at:at + 64] = bytes(rng.randrange(256) for _ in range(64))
    cache_path(server).write_bytes(bytes(data))


def damage_cut_mid_record(server, rng):
    _, records = read_cache(server)
    data = cache_path(server).read_bytes()
    head = data.index(b"\n") + 1
    cut = head + sum(8 + len(p) for _, p in records[:len(records) // 2]) + 8 + 5
    with open(cache_path(server), "r+b") as f:
        f.truncate(cut)


def damage_random_bytes(server, rng):
    size = cache_path(server).stat().st_size
    cache_path(server).write_bytes(bytes(rng.randrange(256) for _ in range(size)))


def damage_deleted(server, rng):
    cache_path(server).unlink()


def damage_empty(server, rng):
    cache_path(server).write_bytes(b"")


def damage_misaligned_length(server, rng):
    """The first record's length says 5 octets more (still a plausible length)."""
    data = bytearray(cache_path(server).read_bytes())
    head = data.index(b"\n") + 1
    (size,) = struct.unpack_from("<I", data, head)
    struct.pack_into("<I", data, head, size + 5)
    cache_path(server).write_bytes(bytes(data))


def damage_huge_length(server, rng):
    data = bytearray(cache_path(server).read_bytes())
    head = data.index(b"\n") + 1
    struct.pack_into("<I", data, head, 0xFFFFFFFF)
    cache_path(server).write_bytes(bytes(data))


def damage_bad_crc(server, rng):
    """Lying facts under the CRC of the true ones."""
    head, _ = read_cache(server)
    write_forged(server, head, keep_crc=True)


def damage_other_uidvalidity(server, rng):
    """Lying facts with right CRCs, under another UIDVALIDITY."""
    write_forged(server, b"poshta-cache 1 %d imap1" % (uid_validity(server) + 1))


def damage_other_schema(server, rng):
    write_forged(server, b"poshta-cache 1 %d imap0" % uid_validity(server))


def damage_other_version(server, rng):
    write_forged(server, b"poshta-cache 2 %d imap1" % uid_validity(server))


def damage_header_cut(server, rng):
    cache_path(server).write_bytes(b"poshta-cache 1 %d" % uid_validity(server))


DAMAGES = [damage_garbage_in_the_middle, damage_cut_mid_record, damage_random_bytes, damage_deleted,
           damage_empty, damage_misaligned_length, damage_huge_length, damage_bad_crc,
           damage_other_uidvalidity, damage_other_schema, damage_other_version, damage_header_cut]


@pytest.mark.parametrize("damage", DAMAGES, ids=[d.__name__[len("damage_"):] for d in DAMAGES])
def test_damaged_cache_gives_the_same_answers(imap, damage):
    rng = random.Random(damage.__name__)
    smtp_deliver_all(imap, varied_messages(16))
    with selected(imap) as old:
        cold = answers(old)                       # `old` keeps the cache open
        assert cache_path(imap).exists()
        assert len(read_cache(imap)[1]) == 16

        damage(imap, rng)
        assert_same(fresh_answers(imap), cold, f"a new session after {damage.__name__}")

        damage(imap, rng)
        assert_same(answers(old), cold, f"the session that had the cache open, after {damage.__name__}")

        assert_same(fresh_answers(imap), cold, f"a later session after {damage.__name__}")
        assert imap.running
        old.ok("NOOP")
    # Started anew where it had to be.
    head = cache_path(imap).read_bytes().partition(b"\n")[0]
    assert head == b"poshta-cache 1 %d imap1" % uid_validity(imap)
    with selected(imap) as c:
        c.ok("NOOP")


# --------------------------------------------------------------------------
# 3. a UID that names another message never gets its facts


def test_reassigned_uids_do_not_get_stale_facts(imap):
    smtp_deliver_all(imap, varied_messages(8))
    uidlist = imap.maildir(USER) / "poshta-uidlist"
    with selected(imap) as c:
        said, own = subjects(c)
    assert said == own and len(said) == 8
    assert len(read_cache(imap)[1]) == 8

    # The uidlist rewritten by hand: the same UIDVALIDITY, the UIDs in the
    # other order. Each UID now names another file than its record does.
    head, *lines = uidlist.read_text().splitlines()
    entries = [line.split(" ", 3) for line in lines]
    bases = [e[3] for e in entries]
    uidlist.write_text("\n".join([head] + [" ".join(e[:3] + [b]) for e, b in zip(entries, reversed(bases))]) + "\n")
    with selected(imap) as c:
        said, own = subjects(c)
    # The cache was kept (same UIDVALIDITY): its record for each UID was
    # there to be misused, and was not.
    assert read_cache(imap)[0] == b"poshta-cache 1 %d imap1" % uid_validity(imap)
    assert len(read_cache(imap)[1]) == 16
    assert sorted(said) == list(range(1, 9))
    assert said == own, "ENVELOPE of another message under the same UID"

    # The uidlist lost and one message gone: UIDs 1 to 7 given anew, in
    # order of file name, most of them to another file than before (the new
    # UIDVALIDITY is the time: within the same second it is the old one).
    first = min(mail_files(imap), key=lambda p: p.name)
    first.unlink()
    uidlist.unlink()
    with selected(imap) as c:
        said, own = subjects(c)
        assert sorted(said) == list(range(1, 8))
        assert said == own, "ENVELOPE of another message under the same UID"
        # An expunged UID is never given again; the next message has its own facts.
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        msg = plain_message(subject="after the expunge " + unique())
        smtp_deliver_all(imap, [msg])
        c.ok("NOOP")
        said, own = subjects(c)
        assert said == own
        assert said[max(said)] == re.search(rb"Subject: (.*)\r\n", msg).group(1)


# --------------------------------------------------------------------------
# 4. large FETCH answers in pieces


BULK = 1500


def bulk_subject(i):
    return f"bulk #{i:04d} " + "x" * 180


def bulk_messages():
    return [plain_message(subject=bulk_subject(i), body=f"body {i}") for i in range(1, BULK + 1)]


def check_bulk_fetch(c):
    """FETCH 1:* (ENVELOPE FLAGS) with a NOOP pipelined behind it: every
    message number once, in order, every subject once, then the tagged OK,
    then the NOOP's answer. Returns the FETCH's untagged bytes."""
    c.send("f1 FETCH 1:* (ENVELOPE FLAGS)\r\nf2 NOOP\r\n")
    untagged, done = c.response("f1")
    assert done == b"f1 OK FETCH completed", done
    numbers, subjects_seen = [], []
    for u in untagged:
        line = flat(u)
        m = re.match(rb"^\* (\d+) FETCH \(", line)
        assert m, line[:200]
        numbers.append(int(m.group(1)))
        segs = u if isinstance(u, list) else [(False, u)]
        data = parse_data([(False, segs[0][1][m.end() - 1:])] + segs[1:])[0]
        item = {data[i]: data[i + 1] for i in range(0, len(data), 2)}
        subjects_seen.append(item["ENVELOPE"][1])
        assert item["FLAGS"] == [], item
    assert numbers == list(range(1, BULK + 1))
    # (Deliveries run in parallel: UID order need not be the order of sending.)
    assert sorted(subjects_seen) == [bulk_subject(i).encode() for i in range(1, BULK + 1)]
    answer = b"".join(flat(u) + b"\r\n" for u in untagged)
    assert len(answer) > 2 * 256 * 1024, f"only {len(answer)} octets: not enough for several pieces"
    untagged, done = c.response("f2")
    assert untagged == [] and done == b"f2 OK NOOP completed", (untagged, done)
    return answer


def test_large_fetch_in_pieces_plain_and_deflated(imap):
    smtp_deliver_all(imap, bulk_messages())
    selected(imap).close()                          # takes \Recent: FLAGS () from now on
    with selected(imap) as c:
        plain = check_bulk_fetch(c)
        again = check_bulk_fetch(c)                 # from the cache now
        assert again == plain
        c.ok("NOOP")

    with DeflateIMAP(imap.imap_port) as c:
        c.login()
        c.ok("COMPRESS DEFLATE")
        c.start_deflate()
        c.ok("SELECT INBOX")
        deflated = check_bulk_fetch(c)
        assert deflated == plain
        assert len(c.wire_in) < 256 * 1024, f"{len(c.wire_in)} octets on the wire: not deflated?"
        untagged, done = c.cmd("NOOP")
        assert done.endswith(b"OK NOOP completed"), done
        untagged, _ = c.ok(f"FETCH {BULK} (ENVELOPE FLAGS)")
        assert [flat(u) + b"\r\n" for u in untagged] == [plain[plain.rindex(b"\r\n* ") + 2:]]
        untagged, done = c.cmd("LOGOUT")
        assert untagged[0].startswith(b"* BYE") and b" OK " in done


# --------------------------------------------------------------------------
# 5. sessions share the cache


def test_records_of_another_session_are_read(imap):
    smtp_deliver_all(imap, varied_messages(12))
    queries = ["FETCH 1:* (ENVELOPE BODYSTRUCTURE INTERNALDATE)", "SEARCH FROM olena", "SEARCH SENTON 3-Mar-2020"]
    with selected(imap) as a, selected(imap) as b:
        first = transcript(a, "FETCH 1 (ENVELOPE)")       # a has the cache open, with one record
        assert len(read_cache(imap)[1]) == 1
        populated = answers(b, queries)
        size = cache_path(imap).stat().st_size
        assert len(read_cache(imap)[1]) == 12
        assert_same(answers(a, queries), populated, "the session that was open meanwhile")
        assert cache_path(imap).stat().st_size == size, "the records b wrote were computed again"
        assert transcript(a, "FETCH 1 (ENVELOPE)") == first


def test_compaction_while_another_session_reads(imap):
    """Most cached messages expunged: a new session rewrites the cache with
    the living ones only (a new file); a session that had the old one open
    goes on with the new."""
    smtp_deliver_all(imap, [plain_message(subject=f"compact #{i:03d}", body="x") for i in range(1, 401)])
    query = "UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)"
    with selected(imap) as a:
        before = transcript(a, query)
        big = cache_path(imap).stat().st_size
        with selected(imap) as b:
            b.ok("STORE 51:* +FLAGS.SILENT (\\Deleted)")
            b.ok("EXPUNGE")
        with selected(imap) as c:
            compacted = transcript(c, query)
        small = cache_path(imap).stat().st_size
        assert small < big / 4, f"the cache was not compacted ({big} -> {small} octets)"
        # What it says of the 50 left is what `a` was told before.
        assert compacted.split(b"\r\n")[:-1] == before.split(b"\r\n")[:50]
        a.ok("NOOP")                                   # told of the expunges
        assert transcript(a, query) == compacted
        assert cache_path(imap).stat().st_size == small, "a computed again what the new file has"

