"""IMAP extensions end to end: CONDSTORE and QRESYNC (RFC 7162),
COMPRESS=DEFLATE (RFC 4978), keywords (Dovecot's Maildir letters and
dovecot-keywords), BINARY (RFC 3516), ESEARCH (RFC 4731) and SEARCHRES
(RFC 5182), IMAP4rev2 (RFC 9051) and UTF8=ACCEPT (RFC 6855). Raw sockets
throughout, so every answer is checked as the client receives it."""

import re
import zlib

from poshta_helpers import unique
from test_imap import (  # noqa: F401  (imap_factory and imap are fixtures)
    ATTACHMENT, SENDER, USER, RawIMAP, crlf, deliver, fetch, flags_of, imap, imap_factory,
    mail_files, multipart_message, parse_data, plain_message, selected)


def num(pattern, lines):
    """The first integer group of pattern in any of the (flat) lines."""
    for line in lines:
        if isinstance(line, bytes):
            m = re.search(pattern, line)
            if m:
                return int(m.group(1))
    raise AssertionError(f"{pattern!r} not in {lines!r}")


def modseq_of(item):
    value = item["MODSEQ"]
    assert isinstance(value, list) and len(value) == 1, item
    return value[0]


# --------------------------------------------------------------------------
# CONDSTORE


def test_condstore(imap):
    for _ in range(3):
        deliver(imap, plain_message())
    with RawIMAP(imap.imap_port) as c:
        c.login()
        untagged, _ = c.ok("ENABLE CONDSTORE")
        assert untagged == [b"* ENABLED CONDSTORE"]
        untagged, _ = c.ok("SELECT INBOX")
        h0 = num(rb"^\* OK \[HIGHESTMODSEQ (\d+)\]", untagged)
        assert h0 > 0
        got, _ = fetch(c, "1:*", "(MODSEQ)")
        before = {n: modseq_of(i) for n, i in got.items()}
        assert set(before) == {1, 2, 3} and max(before.values()) == h0

        untagged, _ = c.ok("STORE 2 +FLAGS (\\Seen)")
        assert len(untagged) == 1
        m = re.match(rb"^\* 2 FETCH \(FLAGS \(\\Seen \\Recent\) MODSEQ \((\d+)\)\)$", untagged[0])
        assert m, untagged
        m2 = int(m.group(1))
        assert m2 > h0 and m2 > before[2]

        got, _ = fetch(c, "1:*", "(FLAGS) (CHANGEDSINCE %d)" % h0)
        assert list(got) == [2], got
        assert got[2]["FLAGS"] == ["\\Seen", "\\Recent"] and modseq_of(got[2]) == m2

        # Message 2 changed after h0: the conditional STORE leaves it alone.
        untagged, done = c.ok("STORE 1:2 (UNCHANGEDSINCE %d) +FLAGS (\\Flagged)" % h0)
        assert re.match(rb"^r\d+ OK \[MODIFIED 2\] ", done), done
        got, _ = fetch(c, "1:2", "(FLAGS MODSEQ)")
        assert got[1]["FLAGS"] == ["\\Flagged", "\\Recent"]
        assert got[2]["FLAGS"] == ["\\Seen", "\\Recent"]
        m1 = modseq_of(got[1])
        assert m1 > m2

        # SEARCH MODSEQ m: MODSEQ >= m (RFC 7162 §3.1.5), so m+1 is "changed after m".
        untagged, _ = c.ok("SEARCH MODSEQ %d" % (h0 + 1))
        assert untagged == [b"* SEARCH 1 2 (MODSEQ %d)" % m1]
        untagged, _ = c.ok("SEARCH MODSEQ %d" % h0)
        assert untagged == [b"* SEARCH 1 2 3 (MODSEQ %d)" % m1]
        untagged, _ = c.ok("SEARCH MODSEQ %d" % (m2 + 1))
        assert untagged == [b"* SEARCH 1 (MODSEQ %d)" % m1]

        untagged, _ = c.ok("STATUS INBOX (HIGHESTMODSEQ)")
        assert untagged == [b'* STATUS "INBOX" (HIGHESTMODSEQ %d)' % m1]


# --------------------------------------------------------------------------
# QRESYNC


def test_qresync(imap):
    for _ in range(3):
        deliver(imap, plain_message())
    with RawIMAP(imap.imap_port) as c:
        c.login()
        untagged, _ = c.ok("ENABLE QRESYNC")
        assert untagged == [b"* ENABLED QRESYNC"]
        untagged, _ = c.ok("SELECT INBOX")
        validity = num(rb"^\* OK \[UIDVALIDITY (\d+)\]", untagged)
        h0 = num(rb"^\* OK \[HIGHESTMODSEQ (\d+)\]", untagged)
        got, _ = fetch(c, "1:*", "(UID)")
        uids = [got[n]["UID"] for n in (1, 2, 3)]
        c.ok("LOGOUT")

    # Another session flags the first message and expunges the third.
    with selected(imap) as other:
        other.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
        other.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        untagged, _ = other.ok("EXPUNGE")
        assert untagged == [b"* 3 EXPUNGE"]

    with RawIMAP(imap.imap_port) as c:
        c.login()
        c.ok("ENABLE QRESYNC")
        untagged, _ = c.ok("SELECT INBOX (QRESYNC (%d %d 1:*))" % (validity, h0))
        assert b"* %d EXISTS" % 2 in untagged
        vanished = [u for u in untagged if u.startswith(b"* VANISHED")]
        assert vanished == [b"* VANISHED (EARLIER) %d" % uids[2]], untagged
        fetches = [u for u in untagged if re.match(rb"^\* \d+ FETCH", u)]
        assert len(fetches) == 1, untagged
        m = re.match(rb"^\* 1 FETCH \(UID %d FLAGS \(\\Flagged\) MODSEQ \((\d+)\)\)$" % uids[0], fetches[0])
        assert m, fetches
        assert int(m.group(1)) > h0
        # the EXPUNGE took a MODSEQ too: HIGHESTMODSEQ is at least the flag change's
        assert int(m.group(1)) <= num(rb"^\* OK \[HIGHESTMODSEQ (\d+)\]", untagged)

        # EXPUNGE in a QRESYNC session: VANISHED with the UID, never "n EXPUNGE".
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        untagged, _ = c.ok("EXPUNGE")
        assert untagged == [b"* VANISHED %d" % uids[1]], untagged

        untagged, _ = c.ok("SELECT Archive")
        assert untagged[0].startswith(b"* OK [CLOSED]"), untagged
        assert sum(u.startswith(b"* OK [CLOSED]") for u in untagged) == 1


# --------------------------------------------------------------------------
# COMPRESS=DEFLATE


class DeflateIMAP(RawIMAP):
    """RawIMAP that deflates both ways once start_deflate() is called
    (raw deflate, RFC 1951, each command flushed with Z_SYNC_FLUSH)."""

    def __init__(self, port):
        self.zout = self.zin = None
        self.wire_in = b""          # compressed octets received, to prove they are compressed
        super().__init__(port)

    def start_deflate(self):
        assert self.buf == b"", f"plaintext after the COMPRESS OK: {self.buf!r}"
        self.zout = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        self.zin = zlib.decompressobj(-15)

    def send(self, data):
        data = data.encode() if isinstance(data, str) else data
        if self.zout:
            data = self.zout.compress(data) + self.zout.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed; unparsed: {self.buf!r}")
        if self.zin:
            self.wire_in += chunk
            chunk = self.zin.decompress(chunk)
        self.buf += chunk


def test_compress_deflate(imap):
    msg = plain_message()
    wire = crlf(deliver(imap, msg))
    with DeflateIMAP(imap.imap_port) as c:
        assert b"COMPRESS=DEFLATE" in c.greeting, c.greeting
        c.login()
        untagged, done = c.ok("COMPRESS DEFLATE")
        assert untagged == [] and re.match(rb"^r\d+ OK ", done)
        c.start_deflate()
        untagged, _ = c.ok("SELECT INBOX")
        assert b"* 1 EXISTS" in untagged
        got, _ = fetch(c, "1", "BODY[]")
        assert got[1]["BODY[]"] == wire
        assert b"EXISTS" not in c.wire_in and msg[:40] not in c.wire_in   # it was deflated
        _, done = c.cmd("COMPRESS DEFLATE")
        assert re.match(rb"^r\d+ NO \[COMPRESSIONACTIVE\]", done), done
        untagged, _ = c.ok("NOOP")      # the stream still works after the refusal
        untagged, done = c.cmd("LOGOUT")
        assert untagged[0].startswith(b"* BYE") and b" OK " in done


# --------------------------------------------------------------------------
# keywords


def keywords_file(server, folder=None):
    box = server.maildir(USER) / (f".{folder}" if folder else "")
    return (box / "dovecot-keywords").read_text().splitlines()


def test_keywords(imap):
    deliver(imap, plain_message())
    with selected(imap) as c:
        untagged, _ = c.ok("STORE 1 +FLAGS ($Forwarded Junk)")
        assert any(re.match(rb"^\* 1 FETCH \(FLAGS \(.*\$Forwarded.*\)\)$", u) and b"Junk" in u
                   for u in untagged), untagged
        got, _ = fetch(c, "1", "(FLAGS)")
        assert sorted(got[1]["FLAGS"]) == ["$Forwarded", "Junk", "\\Recent"]
        for key in ("junk", "JUNK", "Junk"):
            untagged, _ = c.ok(f"SEARCH KEYWORD {key}")
            assert untagged == [b"* SEARCH 1"], (key, untagged)
        untagged, _ = c.ok("SEARCH UNKEYWORD junk")
        assert untagged == [b"* SEARCH"]

        files = mail_files(imap)
        assert len(files) == 1
        letters = flags_of(files[0])
        assert sorted(ch for ch in letters if ch.islower()) == ["a", "b"], files[0].name
        assert keywords_file(imap) == ["0 $Forwarded", "1 Junk"]

        untagged, _ = c.ok("SELECT INBOX")
        perm = [u for u in untagged if u.startswith(b"* OK [PERMANENTFLAGS ")]
        assert len(perm) == 1 and b"\\*" in perm[0], untagged
        assert b"$Forwarded" in perm[0] and b"Junk" in perm[0]
        flags_line = [u for u in untagged if u.startswith(b"* FLAGS ")]
        assert b"$Forwarded" in flags_line[0] and b"Junk" in flags_line[0]

        # APPEND with a new keyword makes it.
        msg = plain_message()
        untagged, done = c.ok("APPEND INBOX ($Label1) {%d+}\r\n" % len(msg) + msg.decode())
        assert b"[APPENDUID " in done
        got, _ = fetch(c, "2", "(FLAGS)")
        assert got[2]["FLAGS"] == ["\\Recent", "$Label1"]
        assert keywords_file(imap) == ["0 $Forwarded", "1 Junk", "2 $Label1"]

        # COPY: the destination has its own letters, the names stay.
        c.ok("COPY 2 Archive")
        c.ok("COPY 1 Archive")
        c.ok("SELECT Archive")
        got, _ = fetch(c, "1:2", "(FLAGS)")
        assert got[1]["FLAGS"] == ["\\Recent", "$Label1"]  # COPY made them new to the Archive
        assert sorted(got[2]["FLAGS"]) == ["$Forwarded", "Junk", "\\Recent"]
        kw = keywords_file(imap, "Archive")
        assert sorted(line.split(" ", 1)[1] for line in kw) == ["$Forwarded", "$Label1", "Junk"], kw
        untagged, _ = c.ok("SEARCH KEYWORD $label1")
        assert untagged == [b"* SEARCH 1"]


# --------------------------------------------------------------------------
# BINARY


def binary_items(untagged):
    """{item name: octets} of a single FETCH answer with literals (or literal8)."""
    assert len(untagged) == 1 and isinstance(untagged[0], list), untagged
    segs = untagged[0]
    out = {}
    for (lit, text), nxt in zip(segs, segs[1:]):
        if not lit and nxt[0]:
            m = re.search(rb"(BINARY\[[0-9.]*\]) ~?\{\d+\}$", text)
            assert m, text
            out[m.group(1).decode()] = nxt[1]
    sizes = re.findall(rb"(BINARY\.SIZE\[[0-9.]*\]) (\d+)", b"".join(t for lit, t in segs if not lit))
    out.update({k.decode(): int(v) for k, v in sizes})
    return out


def test_binary(imap):
    deliver(imap, multipart_message())
    cte = ("From: <%s>\r\nTo: <%s>\r\nSubject: odd cte\r\nMessage-ID: <%s@client.test>\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"bb\"\r\n\r\n"
           "--bb\r\nContent-Type: text/plain\r\n\r\nfirst\r\n"
           "--bb\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-rot13\r\n\r\n"
           "uryyb\r\n--bb--\r\n" % (SENDER, USER, unique())).encode()
    deliver(imap, cte)
    with selected(imap) as c:
        untagged, _ = c.ok("FETCH 1 (BINARY.PEEK[2] BINARY.SIZE[2])")
        items = binary_items(untagged)
        assert items["BINARY[2]"] == ATTACHMENT
        assert items["BINARY.SIZE[2]"] == len(ATTACHMENT)
        untagged, _ = c.ok("FETCH 1 (BINARY.PEEK[1])")
        assert binary_items(untagged)["BINARY[1]"] == b"Hello,\r\nsee the attachment."

        untagged, done = c.cmd("FETCH 2 (BINARY.PEEK[2])")
        assert re.match(rb"^r\d+ NO \[UNKNOWN-CTE\]", done), (untagged, done)
        untagged, done = c.cmd("FETCH 2 (BINARY.SIZE[2])")
        assert re.match(rb"^r\d+ NO \[UNKNOWN-CTE\]", done), (untagged, done)
        got, _ = fetch(c, "2", "(FLAGS)")
        assert got[2]["FLAGS"] == ["\\Recent"]  # the refused BINARY set no \Seen


# --------------------------------------------------------------------------
# ESEARCH and SEARCHRES


def test_esearch_and_searchres(imap):
    tag = unique().split("@")[0].replace("-", "")[:10]
    subj = "findme" + tag
    for s in ("other", subj, "other", subj):
        deliver(imap, plain_message(subject=s + " " + unique()))
    with selected(imap) as c:
        c.ok("STORE 1,3 +FLAGS.SILENT (\\Seen)")
        untagged, _ = c.cmd("SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN", tag="x7")
        assert untagged == [b'* ESEARCH (TAG "x7") MIN 2 MAX 4 COUNT 2 ALL 2,4']
        untagged, done = c.ok(f"SEARCH RETURN (SAVE) SUBJECT {subj}")
        assert untagged == [], untagged
        got, _ = fetch(c, "$", "(UID)")
        assert sorted(got) == [2, 4]
        got, _ = fetch(c, "1:*", "(UID)")
        uids = {n: got[n]["UID"] for n in got}
        untagged, _ = c.ok("UID SEARCH UID $")
        assert untagged == [b"* SEARCH %d %d" % (uids[2], uids[4])]


# --------------------------------------------------------------------------
# IMAP4rev2 and UTF8=ACCEPT


def list_names(untagged):
    """The mailbox names of LIST answers (bytes)."""
    out = []
    for u in untagged:
        segs = u if isinstance(u, list) else [(False, u)]
        assert segs[0][1].startswith(b"* LIST "), u
        data = parse_data([(False, segs[0][1][len(b"* LIST "):])] + segs[1:])
        out.append(data[2])
    return out


def test_imap4rev2_and_utf8_names(imap):
    deliver(imap, plain_message())
    with RawIMAP(imap.imap_port) as c:
        c.login()
        untagged, _ = c.ok("ENABLE IMAP4rev2")
        assert untagged == [b"* ENABLED IMAP4rev2"]
        untagged, _ = c.ok("SELECT INBOX")
        assert b"* 1 EXISTS" in untagged
        assert not any(re.match(rb"^\* \d+ RECENT", u) for u in untagged), untagged
        untagged, _ = c.cmd("SEARCH ALL", tag="s1")
        assert untagged == [b'* ESEARCH (TAG "s1") ALL 1']
        untagged, _ = c.cmd("SEARCH SUBJECT no-such-subject", tag="s2")
        assert untagged == [b'* ESEARCH (TAG "s2")']

        untagged, done = c.cmd('CREATE "Caf\u00e9"')
        assert re.match(rb"^r\d+ OK", done), done
        assert (imap.maildir(USER) / ".Caf&AOk-").is_dir()
        untagged, _ = c.ok('LIST "" "*"')
        names = list_names(untagged)     # a quoted string or a literal: both are strings
        assert "Caf\u00e9".encode() in names and b"Caf&AOk-" not in names, untagged
        untagged, _ = c.ok('STATUS "Caf\u00e9" (MESSAGES)')
        # IMAP4rev2 may quote UTF-8 (RFC 9051 §4.3): the name comes back as it was sent.
        assert untagged == ['* STATUS "Caf\u00e9" (MESSAGES 0)'.encode()], untagged

    with RawIMAP(imap.imap_port) as old:       # IMAP4rev1: modified UTF-7
        old.login()
        untagged, _ = old.ok('LIST "" "*"')
        assert b'* LIST (\\HasNoChildren) "." "Caf&AOk-"' in untagged, untagged
        assert b"Caf&AOk-" in list_names(untagged) and "Caf\u00e9".encode() not in list_names(untagged)
        untagged, _ = old.ok("SELECT INBOX")
        assert b"* 0 RECENT" in untagged
        untagged, _ = old.ok("SELECT Caf&AOk-")
        assert b"* 0 EXISTS" in untagged
