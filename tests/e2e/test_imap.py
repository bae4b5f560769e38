"""IMAP (RFC 9051 / RFC 3501, with UIDPLUS, MOVE, SPECIAL-USE, IDLE,
LITERAL+, SASL-IR) and imaps (RFC 8314): imap and imaps listeners beside the
standard ones, mail delivered by SMTP first, then read and changed with
Python's imaplib, raw sockets, curl, mbsync (isync) and neomutt. Checks what
reaches the client byte for byte against what was sent, what is left in the
Maildir, the changes a second session sees at NOOP and in IDLE, and the TLS
rules for plaintext passwords."""

import base64
import calendar
import email.utils
import imaplib
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from poshta_helpers import (
    HOST, PASSWORD, client_context, deadline_poll, free_port, make_message, port_open,
    smtp_send, unique)

USER = "you@localhost"
SENDER = "sender@b.test"
TIMEOUT = 40               # a failed login may be answered after a growing delay
SPECIAL_USE = {"Archive": r"\Archive", "Drafts": r"\Drafts", "Junk": r"\Junk",
               "Sent": r"\Sent", "Trash": r"\Trash"}
SYSTEM_FLAGS = rb"(\Answered \Flagged \Deleted \Seen \Draft)"


# --------------------------------------------------------------------------
# servers


def with_imap(server, plaintext_on_loopback=None):
    """Adds imap and imaps listeners (server.imap_port, server.imaps_port)
    to a server that is not started, and optionally [auth]."""
    taken = {server.smtp_port, server.submission_port}
    ports = []
    while len(ports) < 2:
        p = free_port()
        if p not in taken:
            taken.add(p)
            ports.append(p)
    server.imap_port, server.imaps_port = ports
    with open(server.cfg, "a") as f:
        f.write(f'\n[[listen]]\nprotocol = "imap"\naddress = "{HOST}:{server.imap_port}"\n'
                f'\n[[listen]]\nprotocol = "imaps"\naddress = "{HOST}:{server.imaps_port}"\n')
        if plaintext_on_loopback is not None:
            f.write(f"\n[auth]\nplaintext_on_loopback = {'true' if plaintext_on_loopback else 'false'}\n")
    return server


@pytest.fixture
def imap_factory(poshta_factory):
    """imap_factory(plaintext_on_loopback=None, users=(USER,)) -> a running
    Poshta with imap and imaps listeners and the users (password PASSWORD)."""

    def make(plaintext_on_loopback=None, users=(USER,)):
        server = with_imap(poshta_factory(start=False), plaintext_on_loopback)
        server.start()
        for port in (server.imap_port, server.imaps_port):
            deadline_poll(lambda: port_open(port), 10, f"the IMAP listener on port {port}")
        for u in users:
            server.add_user(u)
        return server

    return make


@pytest.fixture
def imap(imap_factory):
    return imap_factory()


# --------------------------------------------------------------------------
# mail and mailboxes


def mail_files(server, rcpt=USER, folder=None):
    """Every message file of a folder (INBOX by default): new/ and cur/."""
    box = server.maildir(rcpt) / (f".{folder}" if folder else "")
    out = []
    for sub in ("new", "cur"):
        d = box / sub
        if d.exists():
            out += [p for p in d.iterdir() if p.is_file()]
    return sorted(out)


def deliver(server, msg, rcpt=USER):
    """Sends msg by SMTP and waits until it is stored (in new/, or already
    moved to cur/ by a session); returns the stored file's content."""
    needle = header_value(msg, "Message-ID")
    assert smtp_send(server.smtp_port, SENDER, [rcpt], msg) == {}

    def stored():
        for p in mail_files(server, rcpt):
            try:
                data = p.read_bytes()
            except FileNotFoundError:
                continue
            if needle in data:
                return data
        return None
    return deadline_poll(stored, 10, f"message {needle!r} in {server.maildir(rcpt)}")


def crlf(stored):
    return stored.replace(b"\n", b"\r\n")


def header_value(msg, name):
    return re.search(rb"^" + name.encode() + rb": (.*?)\r?$", msg, re.M | re.I).group(1)


def plain_message(subject=None, body=None, msgid=None):
    return make_message(subject=subject or "plain " + unique(), sender=SENDER, to=USER, body=body,
                        msgid=msgid or f"<{unique()}@client.test>")


ATTACHMENT = bytes(range(256)) * 3


def multipart_message(subject=None):
    """multipart/mixed: a text part and a base64 attachment."""
    subject = subject or "multi " + unique()
    b64 = base64.encodebytes(ATTACHMENT).decode().replace("\n", "\r\n").rstrip("\r\n")
    text = (
        f"From: Sender <{SENDER}>\r\n"
        f"To: <{USER}>\r\n"
        f"Subject: {subject}\r\n"
        f"Date: {email.utils.formatdate(localtime=False)}\r\n"
        f"Message-ID: <{unique()}@client.test>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="=-=b0undary=-="\r\n'
        "\r\n"
        "This is a multi-part message in MIME format.\r\n"
        "--=-=b0undary=-=\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "Content-Transfer-Encoding: 7bit\r\n"
        "\r\n"
        "Hello,\r\n"
        "see the attachment.\r\n"
        "--=-=b0undary=-=\r\n"
        'Content-Type: application/octet-stream; name="data.bin"\r\n'
        'Content-Disposition: attachment; filename="data.bin"\r\n'
        "Content-Transfer-Encoding: base64\r\n"
        "\r\n"
        f"{b64}\r\n"
        "--=-=b0undary=-=--\r\n"
    )
    return text.encode()


# --------------------------------------------------------------------------
# clients


def login(server, user=USER, password=PASSWORD, port=None):
    m = imaplib.IMAP4(HOST, port or server.imap_port, timeout=TIMEOUT)
    m.login(user, password)
    return m


def check(result, want="OK"):
    typ, data = result
    assert typ == want, f"expected {want}, got {typ} {data!r}"
    return data


def tagged_text(excinfo):
    return str(excinfo.value)


class RawIMAP:
    """An IMAP client over a socket: exact bytes both ways. A response line
    is read as a list of segments: (False, text) and (True, literal octets),
    so literals are never mistaken for lines."""

    def __init__(self, port, timeout=TIMEOUT, tls=False):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        if tls:
            self.sock = client_context().wrap_socket(self.sock, server_hostname="mx.test")
        self.buf = b""
        self.n = 0
        self.greeting = self.line()

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed; unparsed: {self.buf!r}")
        self.buf += chunk

    def line(self):
        """One line, without its CRLF (which it must have)."""
        while b"\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        assert line.endswith(b"\r"), f"line not terminated by CRLF: {line!r}"
        return line[:-1]

    def octets(self, n):
        while len(self.buf) < n:
            self._fill()
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def segments(self):
        """A whole response line, with the literals it announces."""
        segs = []
        while True:
            text = self.line()
            segs.append((False, text))
            m = re.search(rb"\{(\d+)\}$", text)
            if not m:
                return segs
            segs.append((True, self.octets(int(m.group(1)))))

    def response(self, tag):
        """The untagged lines (as flat bytes, literals inline) and the tagged line."""
        untagged = []
        while True:
            segs = self.segments()
            flat = b"".join(s for _, s in segs)
            if flat.startswith(tag.encode() + b" "):
                return untagged, flat
            untagged.append(segs if any(lit for lit, _ in segs) else flat)

    def cmd(self, text, tag=None):
        if tag is None:
            self.n += 1
            tag = f"r{self.n}"
        self.send(f"{tag} {text}\r\n")
        return self.response(tag)

    def ok(self, text):
        untagged, done = self.cmd(text)
        assert re.match(rb"^r\d+ OK", done), f"{text!r}: {done!r}"
        return untagged, done

    def login(self, user=USER, password=PASSWORD):
        _, done = self.cmd(f'LOGIN "{user}" "{password}"')
        assert b" OK " in done, done
        return done


# A small parser of IMAP response data: atoms (str), strings (bytes), NIL
# (None), numbers (int) and parenthesised lists (list).

def _tokens(segs):
    for is_lit, data in segs:
        if is_lit:
            yield ("str", data)
            continue
        i = 0
        text = data
        while i < len(text):
            c = text[i:i + 1]
            if c == b" ":
                i += 1
            elif c in (b"(", b")"):
                yield (c.decode(), None)
                i += 1
            elif c == b'"':
                j = i + 1
                out = bytearray()
                while text[j:j + 1] != b'"':
                    if text[j:j + 1] == b"\\":
                        j += 1
                    out += text[j:j + 1]
                    j += 1
                yield ("str", bytes(out))
                i = j + 1
            elif c == b"{":
                j = text.index(b"}", i)
                assert j == len(text) - 1, f"literal marker not at the end: {text!r}"
                i = j + 1          # the literal is the next segment
            else:
                j = i
                depth = 0
                while j < len(text):
                    ch = text[j:j + 1]
                    if ch == b"[":
                        depth += 1
                    elif ch == b"]":
                        depth -= 1
                    elif depth == 0 and ch in (b" ", b"(", b")"):
                        break
                    j += 1
                atom = text[i:j].decode()
                if atom.upper() == "NIL":
                    yield ("nil", None)
                elif atom.isdigit():
                    yield ("num", int(atom))
                else:
                    yield ("atom", atom)
                i = j


def parse_data(segs):
    """Response data (after "* n FETCH ") as nested Python values."""
    toks = list(_tokens(segs))
    pos = 0

    def value():
        nonlocal pos
        kind, v = toks[pos]
        pos += 1
        if kind == "(":
            out = []
            while toks[pos][0] != ")":
                out.append(value())
            pos += 1
            return out
        return v

    out = []
    while pos < len(toks):
        out.append(value())
    return out


def fetch(c, seq, items, uid=False):
    """FETCH over a RawIMAP: {message number: {ITEM: value}} and the tagged line."""
    untagged, done = c.cmd(("UID " if uid else "") + f"FETCH {seq} {items}")
    assert b" OK " in done, done
    out = {}
    for u in untagged:
        segs = u if isinstance(u, list) else [(False, u)]
        first = segs[0][1]
        m = re.match(rb"^\* (\d+) FETCH ", first)
        assert m, f"not a FETCH response: {u!r}"
        segs = [(False, first[m.end():])] + segs[1:]
        data = parse_data(segs)[0]
        out.setdefault(int(m.group(1)), {}).update(
            {data[i].upper(): data[i + 1] for i in range(0, len(data), 2)})
    return out, done


def selected(server, mailbox="INBOX"):
    c = RawIMAP(server.imap_port)
    c.login()
    c.ok(f"SELECT {mailbox}")
    return c


def flags_of(path):
    """The Maildir flags of a file name (after ":2,")."""
    name = path.name
    return name.split(":2,", 1)[1] if ":2," in name else ""


# --------------------------------------------------------------------------
# greeting, CAPABILITY, LOGIN


def test_greeting_and_capability(imap):
    m = imaplib.IMAP4(HOST, imap.imap_port, timeout=TIMEOUT)
    assert re.match(rb"^\* OK \[CAPABILITY IMAP4rev1 .*\] mx\.test Poshta IMAP ready$", m.welcome), m.welcome
    caps = set(m.capabilities)
    for want in ("IMAP4REV1", "LITERAL+", "SASL-IR", "IDLE", "UIDPLUS", "MOVE", "SPECIAL-USE", "NAMESPACE",
                 "UNSELECT", "CHILDREN", "ID", "ENABLE", "STARTTLS", "AUTH=PLAIN", "APPENDLIMIT=1048576"):
        assert want in caps, f"{want} missing in {caps}"
    assert "LOGINDISABLED" not in caps        # loopback, plaintext_on_loopback default true
    typ, data = m.login(USER, PASSWORD)
    assert typ == "OK"
    assert data[0].startswith(b"[CAPABILITY IMAP4rev1 ")
    typ, data = m.capability()
    after = data[0].split()
    assert b"IDLE" in after and b"STARTTLS" not in after and b"AUTH=PLAIN" not in after
    typ, data = m.logout()
    assert typ == "BYE"


def test_login_right_wrong_and_bare_name(imap):
    m = imaplib.IMAP4(HOST, imap.imap_port, timeout=TIMEOUT)
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(USER, "wrong password")
    assert "AUTHENTICATIONFAILED" in tagged_text(e)
    check(m.login(USER, PASSWORD))
    m.logout()
    # A name without a domain gets the first local domain.
    m = login(imap, user="you")
    check(m.noop())
    m.logout()


def test_authenticate_plain(imap):
    m = imaplib.IMAP4(HOST, imap.imap_port, timeout=TIMEOUT)
    typ, _ = m.authenticate("PLAIN", lambda _challenge: f"\0{USER}\0{PASSWORD}".encode())
    assert typ == "OK"
    check(m.select("INBOX"))
    m.logout()
    # SASL-IR: the credentials on the command line itself.
    with RawIMAP(imap.imap_port) as c:
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        _, done = c.cmd(f"AUTHENTICATE PLAIN {token}")
        assert done.startswith(b"r1 OK [CAPABILITY IMAP4rev1 "), done


# --------------------------------------------------------------------------
# LIST, SELECT, EXAMINE


def list_entries(m, pattern="*", reference='""'):
    data = check(m.list(reference, pattern))
    out = {}
    for line in data:
        if line is None:
            continue
        mm = re.match(rb'^\(([^)]*)\) "\." "?(.*?)"?$', line)
        assert mm, f"unexpected LIST line {line!r}"
        out[mm.group(2).decode()] = set(mm.group(1).decode().split())
    return out


def test_list_shows_inbox_and_special_use_folders(imap):
    m = login(imap)
    entries = list_entries(m)
    assert entries["INBOX"] == {r"\HasNoChildren"}
    for name, attr in SPECIAL_USE.items():
        assert entries.get(name) == {r"\HasNoChildren", attr}, f"{name}: {entries.get(name)}"
    assert set(entries) == {"INBOX", *SPECIAL_USE}
    # "%" too, and INBOX in any case.
    assert set(list_entries(m, "%")) == {"INBOX", *SPECIAL_USE}
    assert set(list_entries(m, "inbox")) == {"INBOX"}
    assert set(list_entries(m, "S*")) == {"Sent"}
    # The hierarchy delimiter and root.
    assert check(m.list('""', '""')) == [rb'(\Noselect) "." ""']
    # The SPECIAL-USE folders are subscribed when made.
    data = check(m.lsub('""', "*"))
    assert {re.search(rb'"([^"]*)"$', d).group(1).decode() for d in data} == set(SPECIAL_USE)
    m.logout()
    # LIST-EXTENDED selection of the special-use folders only.
    with RawIMAP(imap.imap_port) as c:
        c.login()
        untagged, _ = c.ok('LIST (SPECIAL-USE) "" *')
        assert sorted(untagged) == sorted(
            f'* LIST (\\HasNoChildren {attr}) "." "{name}"'.encode() for name, attr in SPECIAL_USE.items())


def test_list_extended_subscribed(imap):
    with RawIMAP(imap.imap_port) as c:
        c.login()
        c.ok("CREATE Plain")
        c.ok("SUBSCRIBE Gone")                         # subscribed, never made
        untagged, _ = c.ok('LIST (SUBSCRIBED) "" *')
        want = {f'* LIST (\\HasNoChildren \\Subscribed {attr}) "." "{name}"'.encode()
                for name, attr in SPECIAL_USE.items()}
        want.add(b'* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "." "Gone"')
        assert set(untagged) == want
        untagged, _ = c.ok('LIST "" (Plain Sent) RETURN (SUBSCRIBED)')
        assert set(untagged) == {b'* LIST (\\HasNoChildren) "." "Plain"',
                                 b'* LIST (\\HasNoChildren \\Subscribed \\Sent) "." "Sent"'}


def test_select_and_examine_responses(imap):
    deliver(imap, plain_message())
    deliver(imap, plain_message())
    with RawIMAP(imap.imap_port) as c:
        c.login()
        untagged, done = c.cmd("SELECT INBOX")
        assert done == b"r2 OK [READ-WRITE] SELECT completed"
        assert untagged[0] == b"* FLAGS " + SYSTEM_FLAGS
        assert b"* OK [PERMANENTFLAGS " + SYSTEM_FLAGS[:-1] + b" \\*)] Flags permitted" in untagged
        assert b"* 2 EXISTS" in untagged
        assert b"* 2 RECENT" in untagged
        assert b"* OK [UNSEEN 1] First unseen" in untagged
        validity = [int(re.match(rb"^\* OK \[UIDVALIDITY (\d+)\]", u).group(1))
                    for u in untagged if u.startswith(b"* OK [UIDVALIDITY ")]
        assert len(validity) == 1 and validity[0] > 0
        assert b"* OK [UIDNEXT 3] Predicted next UID" in untagged

        untagged, done = c.cmd("EXAMINE INBOX")
        assert done == b"r3 OK [READ-ONLY] EXAMINE completed"
        assert b"* OK [PERMANENTFLAGS ()] Flags permitted" in untagged
        assert b"* 2 EXISTS" in untagged
        assert f"* OK [UIDVALIDITY {validity[0]}] UIDs valid".encode() in untagged
        # A read-only mailbox takes no changes.
        _, done = c.cmd("STORE 1 +FLAGS (\\Seen)")
        assert done.startswith(b"r4 NO [READ-ONLY]"), done

    # The same UIDVALIDITY in the next session, and in STATUS.
    m = login(imap)
    check(m.select("INBOX"))
    assert m.untagged_responses["UIDVALIDITY"] == [str(validity[0]).encode()]
    data = check(m.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN)"))
    assert data == [f'"INBOX" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY {validity[0]} UNSEEN 2)'.encode()]
    m.logout()


def test_recent_belongs_to_the_first_session_that_selects(imap):
    """\\Recent (RFC 3501 §2.3.2): a new message is recent in exactly one
    session, the first to select the mailbox read-write after it arrived;
    EXAMINE and STATUS see it without taking it; IMAP4rev2 has no \\Recent."""
    deliver(imap, plain_message())
    deliver(imap, plain_message())
    with RawIMAP(imap.imap_port) as peek:
        peek.login()
        untagged, _ = peek.ok("STATUS INBOX (RECENT MESSAGES)")
        assert untagged == [b'* STATUS "INBOX" (RECENT 2 MESSAGES 2)']
        untagged, _ = peek.ok("EXAMINE INBOX")
        assert b"* 2 RECENT" in untagged
    with RawIMAP(imap.imap_port) as a, RawIMAP(imap.imap_port) as b:
        a.login()
        b.login()
        untagged, _ = a.ok("SELECT INBOX")
        assert b"* 2 RECENT" in untagged          # EXAMINE took nothing
        untagged, _ = b.ok("SELECT INBOX")
        assert b"* 0 RECENT" in untagged          # a has them
        got, _ = fetch(a, "1:*", "FLAGS")
        assert got == {1: {"FLAGS": ["\\Recent"]}, 2: {"FLAGS": ["\\Recent"]}}
        got, _ = fetch(b, "1:*", "FLAGS")
        assert got == {1: {"FLAGS": []}, 2: {"FLAGS": []}}
        a.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
        untagged, _ = a.ok("SEARCH RECENT")
        assert untagged == [b"* SEARCH 1 2"]
        untagged, _ = a.ok("SEARCH NEW")
        assert untagged == [b"* SEARCH 2"]        # recent and not seen
        untagged, _ = a.ok("SEARCH OLD")
        assert untagged == [b"* SEARCH"]
        untagged, _ = b.ok("SEARCH OLD")
        assert untagged == [b"* SEARCH 1 2"]

        deliver(imap, plain_message())
        untagged, _ = b.ok("NOOP")                # b looks first: the third is b's
        assert untagged == [b"* 1 FETCH (FLAGS (\\Seen))", b"* 3 EXISTS", b"* 1 RECENT"]
        untagged, _ = a.ok("NOOP")
        assert untagged == [b"* 3 EXISTS", b"* 2 RECENT"]
        got, _ = fetch(a, "3", "FLAGS")
        assert got == {3: {"FLAGS": []}}
    with RawIMAP(imap.imap_port) as later:
        later.login()
        untagged, _ = later.ok("SELECT INBOX")
        assert b"* 0 RECENT" in untagged          # only for the session that saw them first
        untagged, _ = later.ok("STATUS INBOX (RECENT)")
        assert untagged == [b'* STATUS "INBOX" (RECENT 0)']

    deliver(imap, plain_message())
    with RawIMAP(imap.imap_port) as rev2:
        rev2.login()
        rev2.ok("ENABLE IMAP4rev2")
        untagged, _ = rev2.ok("SELECT INBOX")
        assert not any(u.endswith(b" RECENT") for u in untagged), untagged
        got, _ = fetch(rev2, "4", "FLAGS")
        assert got == {4: {"FLAGS": []}}


def test_select_unknown_mailbox(imap):
    with RawIMAP(imap.imap_port) as c:
        c.login()
        _, done = c.cmd("SELECT Nowhere")
        assert done == b"r2 NO [NONEXISTENT] no such mailbox"
        _, done = c.cmd("STATUS Nowhere (MESSAGES)")
        assert done == b"r3 NO [NONEXISTENT] no such mailbox"
        # A failed SELECT leaves no mailbox selected.
        _, done = c.cmd("FETCH 1 FLAGS")
        assert done == b"r4 BAD FETCH needs a selected mailbox"


# --------------------------------------------------------------------------
# FETCH


def envelope_of(msg):
    date = header_value(msg, "Date")
    subject = header_value(msg, "Subject")
    msgid = header_value(msg, "Message-ID")
    sender = [[b"Sender", None, b"sender", b"b.test"]]
    return [date, subject, sender, sender, sender, [[None, None, b"you", b"localhost"]], None, None, None, msgid]


def test_fetch_plain_message(imap):
    msg = plain_message()
    stored = deliver(imap, msg)
    wire = crlf(stored)
    assert wire.endswith(msg)
    header, _, body = msg.partition(b"\r\n\r\n")
    with selected(imap) as c:
        got, _ = fetch(c, "1", "(FLAGS INTERNALDATE RFC822.SIZE ENVELOPE BODYSTRUCTURE UID)")
        item = got[1]
        assert item["FLAGS"] == ["\\Recent"]  # the first session to see it
        assert item["UID"] == 1
        assert item["RFC822.SIZE"] == len(wire)
        when = calendar.timegm(time.strptime(item["INTERNALDATE"].decode(), "%d-%b-%Y %H:%M:%S +0000"))
        assert abs(when - time.time()) < 120, item["INTERNALDATE"]
        assert item["ENVELOPE"] == envelope_of(msg)
        assert item["BODYSTRUCTURE"] == [b"text", b"plain", [b"charset", b"us-ascii"], None, None, b"7bit",
                                         len(body), body.count(b"\r\n"), None, None, None, None]

        got, _ = fetch(c, "1", "(BODY.PEEK[] BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT] "
                               "BODY.PEEK[HEADER] BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<5.1000000> "
                               "BODY.PEEK[]<100000.10> RFC822.HEADER)")
        item = got[1]
        assert item["BODY[]"] == wire
        assert item["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: " + header_value(msg, "Subject") + b"\r\n\r\n"
        assert item["BODY[TEXT]"] == body
        assert item["BODY[HEADER]"] == wire[:len(wire) - len(body)]
        assert item["BODY[]<0>"] == wire[:10]
        assert item["BODY[TEXT]<5>"] == body[5:]
        assert item["BODY[]<100000>"] == b""
        assert item["RFC822.HEADER"] == item["BODY[HEADER]"]
        assert "FLAGS" not in item             # nothing changed: PEEK
        got, _ = fetch(c, "1", "FLAGS")
        assert got[1]["FLAGS"] == ["\\Recent"]

        # BODY[] sets \Seen, and says so in the same response.
        got, _ = fetch(c, "1", "BODY[]")
        assert got[1]["BODY[]"] == wire
        assert got[1]["FLAGS"] == ["\\Seen", "\\Recent"]
        got, _ = fetch(c, "1", "FLAGS")
        assert got[1]["FLAGS"] == ["\\Seen", "\\Recent"]
    assert flags_of(mail_files(imap)[0]) == "S"


def test_fetch_header_fields_of_folded_and_repeated_fields(imap):
    msg = make_message(subject="folded " + unique(), sender=SENDER, to=USER, msgid=f"<{unique()}@client.test>",
                       headers=("X-Folded: first part\r\n\tsecond part\r\n  third", "X-Twice: one", "x-twice: two"))
    wire = crlf(deliver(imap, msg))
    header = wire.partition(b"\r\n\r\n")[0] + b"\r\n"
    with selected(imap) as c:
        got, _ = fetch(c, "1", "(BODY.PEEK[HEADER.FIELDS (X-FOLDED x-twice)] BODY.PEEK[HEADER.FIELDS.NOT (X-Folded X-Twice)])")
        item = got[1]
        assert item["BODY[HEADER.FIELDS (X-FOLDED X-TWICE)]"] == (
            b"X-Folded: first part\r\n\tsecond part\r\n  third\r\nX-Twice: one\r\nx-twice: two\r\n\r\n")
        rest = re.sub(rb"(?mi)^x-(folded|twice): .*\r\n(?:[ \t].*\r\n)*", b"", header)
        assert item["BODY[HEADER.FIELDS.NOT (X-FOLDED X-TWICE)]"] == rest + b"\r\n"
        untagged, _ = c.ok("SEARCH HEADER X-Folded \"second part\"")
        assert untagged == [b"* SEARCH 1"]


def test_fetch_macros_and_rfc822(imap):
    msg = plain_message()
    wire = crlf(deliver(imap, msg))
    with selected(imap) as c:
        got, _ = fetch(c, "1", "FAST")
        assert set(got[1]) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
        got, _ = fetch(c, "1", "ALL")
        assert set(got[1]) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}
        got, _ = fetch(c, "1", "FULL")
        assert set(got[1]) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}
        assert got[1]["BODY"][:2] == [b"text", b"plain"] and len(got[1]["BODY"]) == 8  # no extension data
        got, _ = fetch(c, "1", "RFC822.TEXT")
        assert got[1]["RFC822.TEXT"] == msg.partition(b"\r\n\r\n")[2]
        assert got[1]["FLAGS"] == ["\\Seen", "\\Recent"]
        got, _ = fetch(c, "1", "RFC822")
        assert got[1]["RFC822"] == wire


def test_fetch_multipart_with_attachment(imap):
    msg = multipart_message()
    wire = crlf(deliver(imap, msg))
    assert wire.endswith(msg)
    b64 = base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n").rstrip(b"\r\n")
    with selected(imap) as c:
        got, _ = fetch(c, "1", "(BODYSTRUCTURE ENVELOPE RFC822.SIZE)")
        item = got[1]
        assert item["RFC822.SIZE"] == len(wire)
        assert item["ENVELOPE"] == envelope_of(msg)
        text = b"Hello,\r\nsee the attachment."
        assert item["BODYSTRUCTURE"] == [
            [b"text", b"plain", [b"charset", b"utf-8"], None, None, b"7bit", len(text), 2, None, None, None, None],
            [b"application", b"octet-stream", [b"name", b"data.bin"], None, None, b"base64", len(b64), None,
             [b"attachment", [b"filename", b"data.bin"]], None, None],
            b"mixed", [b"boundary", b"=-=b0undary=-="], None, None, None]

        got, _ = fetch(c, "1", "(BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[1.MIME] BODY.PEEK[2.MIME] BODY.PEEK[TEXT] "
                               "BODY.PEEK[2]<0.8> BODY.PEEK[3])")
        item = got[1]
        assert item["BODY[1]"] == text
        assert item["BODY[2]"] == b64
        assert base64.b64decode(item["BODY[2]"]) == ATTACHMENT
        assert item["BODY[1.MIME]"] == b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 7bit\r\n\r\n"
        assert item["BODY[2.MIME]"] == (b'Content-Type: application/octet-stream; name="data.bin"\r\n'
                                        b'Content-Disposition: attachment; filename="data.bin"\r\n'
                                        b"Content-Transfer-Encoding: base64\r\n\r\n")
        assert item["BODY[TEXT]"] == msg.partition(b"\r\n\r\n")[2]
        assert item["BODY[2]<0>"] == b64[:8]
        assert item["BODY[3]"] in (b"", None)        # no such part
        got, _ = fetch(c, "1", "FLAGS")
        assert got[1]["FLAGS"] == ["\\Recent"]
        got, _ = fetch(c, "1", "BODY[2]")
        assert got[1]["FLAGS"] == ["\\Seen", "\\Recent"]


def test_examine_does_not_set_seen(imap):
    deliver(imap, plain_message())
    with RawIMAP(imap.imap_port) as c:
        c.login()
        c.ok("EXAMINE INBOX")
        got, _ = fetch(c, "1", "(BODY[] RFC822.TEXT)")
        assert "FLAGS" not in got[1]
        got, _ = fetch(c, "1", "FLAGS")
        assert got[1]["FLAGS"] == ["\\Recent"]  # seen as new, not taken (RFC 3501 §6.3.2)
    assert flags_of(mail_files(imap)[0]) == ""


# --------------------------------------------------------------------------
# STORE, SEARCH, UID forms


def test_store_flags(imap):
    for _ in range(3):
        deliver(imap, plain_message())
    with selected(imap) as c:
        untagged, done = c.cmd("STORE 1 +FLAGS (\\Flagged \\Seen)")
        assert untagged == [b"* 1 FETCH (FLAGS (\\Flagged \\Seen \\Recent))"]
        assert done == b"r3 OK STORE completed"
        untagged, _ = c.ok("STORE 1 -FLAGS (\\Seen)")
        assert untagged == [b"* 1 FETCH (FLAGS (\\Flagged \\Recent))"]
        untagged, _ = c.ok("STORE 2:3 FLAGS.SILENT (\\Answered \\Draft)")
        assert untagged == []
        untagged, _ = c.ok("STORE 2 FLAGS ()")
        assert untagged == [b"* 2 FETCH (FLAGS (\\Recent))"]
        untagged, _ = c.ok("STORE 1:* +FLAGS.SILENT \\Seen")
        assert untagged == []
        got, _ = fetch(c, "1:*", "FLAGS")
        assert [got[i]["FLAGS"] for i in (1, 2, 3)] == [
            ["\\Flagged", "\\Seen", "\\Recent"], ["\\Seen", "\\Recent"],
            ["\\Answered", "\\Seen", "\\Draft", "\\Recent"]]
    # The flags are in the file names, as Maildir readers expect them.
    assert sorted(flags_of(p) for p in mail_files(imap)) == ["DRS", "FS", "S"]


def test_search(imap):
    m1 = plain_message(subject="quarterly report", body="numbers inside\nplease read")
    m2 = make_message(subject="lunch on friday", sender="alice@c.test", to=USER,
                      body="Let us meet at noon.\nAlice",
                      headers=("X-Priority: 1",), msgid=f"<{unique()}@c.test>")
    m3 = plain_message(subject="Re: quarterly report", body="\n".join(["x" * 70] * 40))
    for m in (m1, m2, m3):
        deliver(imap, m)
    today = time.strftime("%d-%b-%Y", time.gmtime())
    tomorrow = time.strftime("%d-%b-%Y", time.gmtime(time.time() + 86400))
    sent_day = time.strftime("%d-%b-%Y", time.gmtime())
    m = login(imap)
    check(m.select("INBOX"))
    check(m.store("2", "+FLAGS", "(\\Seen)"))
    check(m.store("3", "+FLAGS", "(\\Flagged)"))
    cases = {
        "ALL": "1 2 3",
        "UNSEEN": "1 3",
        "SEEN": "2",
        "SUBJECT quarterly": "1 3",
        'SUBJECT "QUARTERLY REPORT"': "1 3",
        "FROM alice": "2",
        "FROM sender@b.test": "1 3",
        "TO you@localhost": "1 2 3",
        "TEXT noon": "2",
        "TEXT friday": "2",            # TEXT covers the header too
        "BODY friday": "",             # BODY does not
        "BODY numbers": "1",
        'HEADER X-Priority 1': "2",
        'HEADER X-Priority ""': "2",
        f'HEADER Message-ID "{header_value(m2, "Message-ID").decode()}"': "2",
        "LARGER 2000": "3",
        "SMALLER 2000": "1 2",
        f"SINCE {today}": "1 2 3",
        f"SINCE {tomorrow}": "",
        f"BEFORE {tomorrow}": "1 2 3",
        f"ON {today}": "1 2 3",
        f"SENTON {sent_day}": "1 2 3",
        "OR FLAGGED SEEN": "2 3",
        "NOT FLAGGED": "1 2",
        "NOT (FROM alice)": "1 3",
        "(SUBJECT report) UNFLAGGED": "1",
        "OR (FROM alice) (LARGER 2000) UNSEEN": "3",
        "UID 2:3": "2 3",
        "UID 2,*": "2 3",
        "2:*": "2 3",
        "ANSWERED": "",
        "UNANSWERED DELETED": "",
        "CHARSET UTF-8 SUBJECT lunch": "2",
    }
    for query, want in cases.items():
        data = check(m.search(None, query))
        assert data == [want.encode()], f"SEARCH {query}: {data}"
    # RFC 2047 encoded words are searched decoded; a message that is only a header has a Date too.
    m4 = make_message(subject="=?utf-8?q?Gr=C3=BC=C3=9Fe?= aus Kyiv", sender=SENDER, to=USER,
                      msgid=f"<{unique()}@client.test>")
    deliver(imap, m4)
    check(m.noop())                 # it has its UID now, before the message appended next
    check(m.append("INBOX", None, None, b"Date: Thu, 05 Nov 2026 10:00:00 +0000\r\nSubject: header only\r\n"))
    check(m.noop())
    m.literal = "Grüße".encode()
    assert check(m.search("UTF-8", "SUBJECT")) == [b"4"]
    assert check(m.search(None, "SUBJECT kyiv")) == [b"4"]
    assert check(m.search(None, "SENTON 5-Nov-2026")) == [b"5"]
    assert check(m.search(None, "SUBJECT \"header only\"")) == [b"5"]
    check(m.store("4:5", "+FLAGS.SILENT", "(\\Deleted)"))
    check(m.expunge())
    # UID SEARCH answers with UIDs.
    check(m.store("1", "+FLAGS", "(\\Deleted)"))
    check(m.expunge())
    assert check(m.uid("SEARCH", "ALL")) == [b"2 3"]
    assert check(m.search(None, "ALL")) == [b"1 2"]
    assert check(m.uid("SEARCH", "FLAGGED")) == [b"3"]
    typ, data = m.search("KOI8-R", "ALL")
    assert typ == "NO" and data[0].startswith(b"[BADCHARSET (UTF-8 US-ASCII)]"), data
    m.logout()


def test_esearch_list_status_and_status_size(imap):
    sizes = [len(crlf(deliver(imap, plain_message()))) for _ in range(3)]
    with selected(imap) as c:
        c.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
        untagged, _ = c.cmd("SEARCH RETURN (MIN MAX COUNT ALL) ALL", tag="e1")
        assert untagged == [b'* ESEARCH (TAG "e1") MIN 1 MAX 3 COUNT 3 ALL 1:3']
        untagged, _ = c.cmd("UID SEARCH RETURN () UNSEEN", tag="e2")
        assert untagged == [b'* ESEARCH (TAG "e2") UID ALL 1,3']
        untagged, _ = c.cmd("SEARCH RETURN (MIN COUNT) SUBJECT no-such-subject", tag="e3")
        assert untagged == [b'* ESEARCH (TAG "e3") COUNT 0']
        untagged, _ = c.ok('LIST "" (INBOX Sent) RETURN (STATUS (MESSAGES UNSEEN))')
        assert untagged == [b'* LIST (\\HasNoChildren) "." "INBOX"', b'* STATUS "INBOX" (MESSAGES 3 UNSEEN 2)',
                            b'* LIST (\\HasNoChildren \\Sent) "." "Sent"', b'* STATUS "Sent" (MESSAGES 0 UNSEEN 0)']
        untagged, _ = c.ok("STATUS INBOX (SIZE MESSAGES)")
        assert untagged == [f'* STATUS "INBOX" (SIZE {sum(sizes)} MESSAGES 3)'.encode()]


def test_uid_fetch_store_search(imap):
    for _ in range(3):
        deliver(imap, plain_message())
    with selected(imap) as c:
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        got, done = fetch(c, "1:*", "(FLAGS)", uid=True)
        assert done.endswith(b"OK UID FETCH completed")
        assert {n: v["UID"] for n, v in got.items()} == {1: 2, 2: 3}
        got, _ = fetch(c, "3", "FLAGS", uid=True)
        assert got == {2: {"UID": 3, "FLAGS": ["\\Recent"]}}
        got, _ = fetch(c, "1", "FLAGS", uid=True)        # expunged: nothing
        assert got == {}
        got, _ = fetch(c, "7:*", "FLAGS", uid=True)      # "*" is the last UID
        assert list(got) == [2]
        untagged, done = c.cmd("UID STORE 3 +FLAGS (\\Answered)")
        assert untagged == [b"* 2 FETCH (UID 3 FLAGS (\\Answered \\Recent))"]
        assert done.endswith(b"OK UID STORE completed")
        untagged, _ = c.ok("UID SEARCH ANSWERED")
        assert untagged == [b"* SEARCH 3"]
        untagged, _ = c.ok("SEARCH ANSWERED")
        assert untagged == [b"* SEARCH 2"]


# --------------------------------------------------------------------------
# COPY, MOVE, EXPUNGE


def test_copy_with_copyuid(imap):
    msgs = [plain_message() for _ in range(3)]
    for msg in msgs:
        deliver(imap, msg)
    m = login(imap)
    check(m.select("INBOX"))
    check(m.store("2", "+FLAGS", "(\\Flagged)"))
    data = check(m.copy("2:3", "Archive"))
    mm = re.match(rb"^\[COPYUID (\d+) 2,3 1,2\] COPY completed$", data[0])
    assert mm, data
    validity = int(mm.group(1))
    status = check(m.status("Archive", "(MESSAGES UIDNEXT UIDVALIDITY)"))
    assert status == [f'"Archive" (MESSAGES 2 UIDNEXT 3 UIDVALIDITY {validity})'.encode()]
    # A UID COPY of UIDs that do not exist copies nothing, and is fine.
    check(m.uid("COPY", "99", "Archive"))
    check(m.select("Archive"))
    typ, data = m.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    assert typ == "OK"
    bodies = [d[1] for d in data if isinstance(d, tuple)]
    assert [b.endswith(msgs[i]) for i, b in enumerate(bodies, 1)] == [True, True]
    assert b"\\Flagged" in data[0][0]
    # The originals stay.
    check(m.select("INBOX"))
    assert m.untagged_responses["EXISTS"] == [b"3"]
    m.logout()
    assert len(mail_files(imap, folder="Archive")) == 2


def test_copy_and_move_to_unknown_mailbox(imap):
    deliver(imap, plain_message())
    with selected(imap) as c:
        _, done = c.cmd("COPY 1 Nowhere")
        assert done == b"r3 NO [TRYCREATE] no such mailbox"
        _, done = c.cmd("MOVE 1 Nowhere")
        assert done == b"r4 NO [TRYCREATE] no such mailbox"
    assert len(mail_files(imap)) == 1


def test_move(imap):
    msgs = [plain_message() for _ in range(3)]
    for msg in msgs:
        deliver(imap, msg)
    with selected(imap) as c:
        untagged, done = c.cmd("MOVE 2 Trash")
        assert done == b"r3 OK MOVE completed"
        assert len(untagged) == 2
        assert re.match(rb"^\* OK \[COPYUID \d+ 2 1\] ", untagged[0]), untagged
        assert untagged[1] == b"* 2 EXPUNGE"
        untagged, _ = c.ok("UID MOVE 3 Trash")
        assert re.match(rb"^\* OK \[COPYUID \d+ 3 2\] ", untagged[0]), untagged
        assert untagged[1] == b"* 2 EXPUNGE"
        got, _ = fetch(c, "1:*", "UID")
        assert got == {1: {"UID": 1}}
        c.ok("SELECT Trash")
        got, _ = fetch(c, "1:*", "BODY.PEEK[]")
        assert [got[i]["BODY[]"].endswith(msgs[j]) for i, j in ((1, 1), (2, 2))] == [True, True]
    assert len(mail_files(imap)) == 1
    assert len(mail_files(imap, folder="Trash")) == 2


def test_expunge_and_uid_expunge(imap):
    for _ in range(4):
        deliver(imap, plain_message())
    with selected(imap) as c:
        c.ok("STORE 1,3,4 +FLAGS.SILENT (\\Deleted)")
        # UID EXPUNGE removes only the deleted messages it names.
        untagged, done = c.cmd("UID EXPUNGE 3:4")
        assert done == b"r4 OK UID EXPUNGE completed"
        assert untagged == [b"* 4 EXPUNGE", b"* 3 EXPUNGE"]
        assert len(mail_files(imap)) == 2
        untagged, _ = c.ok("EXPUNGE")
        assert untagged == [b"* 1 EXPUNGE"]
        got, _ = fetch(c, "1:*", "UID")
        assert got == {1: {"UID": 2}}
        untagged, _ = c.ok("EXPUNGE")
        assert untagged == []
    assert len(mail_files(imap)) == 1


def test_close_expunges_unselect_does_not(imap):
    for _ in range(2):
        deliver(imap, plain_message())
    with selected(imap) as c:
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        untagged, _ = c.ok("UNSELECT")
        assert untagged == []
        assert len(mail_files(imap)) == 2
        c.ok("SELECT INBOX")
        untagged, _ = c.ok("CLOSE")
        assert untagged == []                      # silently
        assert len(mail_files(imap)) == 1
        _, done = c.cmd("FETCH 1 FLAGS")
        assert done.endswith(b"BAD FETCH needs a selected mailbox")


# --------------------------------------------------------------------------
# APPEND


def test_append_with_flags_and_date(imap):
    msg = plain_message(subject="appended " + unique())
    m = login(imap)
    data = check(m.append("INBOX", r"(\Seen \Flagged)", '"05-Nov-2026 10:00:00 +0100"', msg))
    mm = re.match(rb"^\[APPENDUID (\d+) 1\] APPEND completed$", data[0])
    assert mm, data
    check(m.select("INBOX"))
    assert m.untagged_responses["UIDVALIDITY"] == [mm.group(1)]
    typ, data = m.fetch("1", "(FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK"
    assert data[0][1] == msg
    meta = data[0][0]
    assert b'INTERNALDATE "05-Nov-2026 09:00:00 +0000"' in meta
    assert b"FLAGS (\\Flagged \\Seen \\Recent)" in meta
    assert f"RFC822.SIZE {len(msg)}".encode() in meta
    m.logout()
    files = mail_files(imap)
    assert len(files) == 1
    path = files[0]
    assert path.parent.name == "cur"
    assert flags_of(path) == "FS"
    assert path.read_bytes() == msg.replace(b"\r\n", b"\n")   # stored as deliveries are: LF
    assert int(path.stat().st_mtime) == 1793869200
    lf_size = len(msg.replace(b"\r\n", b"\n"))
    assert re.search(rf",S={lf_size},W={len(msg)}:2,", path.name), path.name


def test_append_literal_forms_and_limits(imap):
    msg = b"Subject: raw\r\n\r\nline one\r\n"
    with RawIMAP(imap.imap_port) as c:
        c.login()
        # A synchronizing literal waits for "+".
        c.send(f"a1 APPEND Drafts (\\Draft) {{{len(msg)}}}\r\n")
        assert c.line() == b"+ Ready for literal data"
        c.send(msg + b"\r\n")
        _, done = c.response("a1")
        assert re.match(rb"^a1 OK \[APPENDUID \d+ 1\] APPEND completed$", done), done
        # LITERAL+: no "+".
        c.send(f"a2 APPEND drafts {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
        _, done = c.response("a2")
        assert done == b"a2 NO [TRYCREATE] no such mailbox"   # folder names other than INBOX are exact
        c.send(f"a3 APPEND Drafts {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
        _, done = c.response("a3")
        assert re.match(rb"^a3 OK \[APPENDUID \d+ 2\] ", done), done
        # Over the APPENDLIMIT (message_size): refused without "+".
        c.send("a4 APPEND Drafts {2000000}\r\n")
        assert c.line() == b"a4 BAD [TOOBIG] command or literal too long"
        _, done = c.cmd("NOOP")
        assert done.endswith(b"OK NOOP completed")
        # To a mailbox that does not exist.
        c.send(f"a5 APPEND Nowhere {{{len(msg)}+}}\r\n".encode() + msg + b"\r\n")
        _, done = c.response("a5")
        assert done == b"a5 NO [TRYCREATE] no such mailbox"
    files = mail_files(imap, folder="Drafts")
    assert len(files) == 2
    assert sorted(flags_of(p) for p in files) == ["", "D"]


# --------------------------------------------------------------------------
# folders


def test_create_rename_delete_subscribe_status(imap):
    m = login(imap)
    check(m.create("Projects.2026"))
    check(m.create("Projects"))
    entries = list_entries(m, "Projects*")
    assert entries == {"Projects": {r"\HasChildren"}, "Projects.2026": {r"\HasNoChildren"}}
    assert list_entries(m, "Projects.%") == {"Projects.2026": {r"\HasNoChildren"}}
    box = imap.maildir(USER)
    assert (box / ".Projects.2026" / "cur").is_dir() and (box / ".Projects" / "maildirfolder").exists()

    data = check(m.append("Projects.2026", None, None, plain_message()))
    assert data[0].startswith(b"[APPENDUID ")
    check(m.rename("Projects", "Work"))
    assert list_entries(m, "Work*") == {"Work": {r"\HasChildren"}, "Work.2026": {r"\HasNoChildren"}}
    assert list_entries(m, "Projects*") == {}
    assert not (box / ".Projects").exists() and (box / ".Work.2026").is_dir()
    status = check(m.status("Work.2026", "(MESSAGES UIDNEXT UNSEEN)"))
    assert status == [b'"Work.2026" (MESSAGES 1 UIDNEXT 2 UNSEEN 1)']

    check(m.subscribe("Work.2026"))
    lsub = check(m.lsub('""', "Work*"))
    assert lsub == [b'(\\HasNoChildren) "." "Work.2026"']
    check(m.unsubscribe("Work.2026"))
    assert [d for d in check(m.lsub('""', "Work*")) if d] == []

    typ, data = m.create("Work")
    assert typ == "NO" and data[0].startswith(b"[ALREADYEXISTS]")
    typ, data = m.delete("INBOX")
    assert typ == "NO" and data[0].startswith(b"[CANNOT]")
    typ, data = m.delete("Nowhere")
    assert typ == "NO" and data[0].startswith(b"[NONEXISTENT]")
    typ, data = m.rename("Nowhere", "Else")
    assert typ == "NO" and data[0].startswith(b"[NONEXISTENT]")

    # A subscription outlives its mailbox (RFC 3501 §6.3.9): LSUB still lists it, as \Noselect.
    check(m.subscribe("Work.2026"))
    untagged = check(m.list('""', "Work*"))
    check(m.delete("Work.2026"))
    assert list_entries(m, "Work*") == {"Work": {r"\HasNoChildren"}}
    assert check(m.lsub('""', "Work*")) == [b'(\\Noselect \\HasNoChildren) "." "Work.2026"']
    check(m.subscribe("Gone"))
    assert check(m.lsub('""', "Gone")) == [b'(\\Noselect \\HasNoChildren) "." "Gone"']
    check(m.unsubscribe("Gone"))
    check(m.unsubscribe("Work.2026"))
    assert not (box / ".Work.2026").exists()

    # Names beyond ASCII: modified UTF-7 on the wire and on disk.
    check(m.create("Entw&APw-rfe"))
    assert list_entries(m, "Entw*") == {"Entw&APw-rfe": {r"\HasNoChildren"}}
    assert (box / ".Entw&APw-rfe" / "cur").is_dir()
    m.logout()


# --------------------------------------------------------------------------
# two sessions, IDLE


def test_two_sessions_see_each_others_changes(imap):
    for _ in range(3):
        deliver(imap, plain_message())
    with selected(imap) as a, selected(imap) as b:
        a.ok("STORE 1 +FLAGS.SILENT (\\Flagged)")
        untagged, _ = b.ok("NOOP")
        assert untagged == [b"* 1 FETCH (FLAGS (\\Flagged))"]
        untagged, _ = b.ok("NOOP")
        assert untagged == []
        a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        untagged, _ = b.ok("NOOP")
        assert untagged == [b"* 2 EXPUNGE"]
        got, _ = fetch(b, "1:*", "UID")
        assert {n: v["UID"] for n, v in got.items()} == {1: 1, 2: 3}
        deliver(imap, plain_message())
        untagged, _ = b.ok("NOOP")
        assert untagged == [b"* 3 EXISTS", b"* 1 RECENT"]  # b is the first to see it
        # A message appended by one session is told to the other.
        a.send(b"x1 APPEND INBOX {16+}\r\nSubject: a\r\n\r\nb\r\n\r\n")
        untagged, done = a.response("x1")
        assert untagged == [b"* 4 EXISTS", b"* 3 RECENT"]  # the delivery, its own message; recent: 1, 3, its own
        assert re.match(rb"^x1 OK \[APPENDUID \d+ 5\] APPEND completed$", done), done
        untagged, _ = b.ok("NOOP")
        assert untagged == [b"* 4 EXISTS", b"* 1 RECENT"]


def test_idle_reports_delivery_within_two_seconds(imap):
    deliver(imap, plain_message())
    with selected(imap) as c:
        c.send("i1 IDLE\r\n")
        assert c.line() == b"+ idling"
        smtp_send(imap.smtp_port, SENDER, [USER], plain_message())
        sent = time.monotonic()
        c.sock.settimeout(2.5)
        assert c.line() == b"* 2 EXISTS"
        assert time.monotonic() - sent < 2.0
        assert c.line() == b"* 2 RECENT"        # IMAP4rev1: both are new to this session
        c.sock.settimeout(TIMEOUT)
        c.send("DONE\r\n")
        assert c.line() == b"i1 OK IDLE terminated"
        got, _ = fetch(c, "2", "UID")
        assert got == {2: {"UID": 2}}


def test_idle_over_imaps(imap):
    deliver(imap, plain_message())
    c = RawIMAP(imap.imaps_port, tls=True)
    with c:
        c.login()
        c.ok("SELECT INBOX")
        c.send("i1 IDLE\r\n")
        assert c.line() == b"+ idling"
        time.sleep(2.5)                       # a few idle ticks go by on the TLS stream
        smtp_send(imap.smtp_port, SENDER, [USER], plain_message())
        c.sock.settimeout(3)
        assert c.line() == b"* 2 EXISTS"
        assert c.line() == b"* 2 RECENT"
        c.send("DONE\r\n")
        assert c.line() == b"i1 OK IDLE terminated"
        got, _ = fetch(c, "1:*", "UID")
        assert got == {1: {"UID": 1}, 2: {"UID": 2}}


def test_idle_reports_changes_by_another_session(imap):
    for _ in range(2):
        deliver(imap, plain_message())
    with selected(imap) as idler, selected(imap) as other:
        idler.send("i1 IDLE\r\n")
        assert idler.line() == b"+ idling"
        other.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
        idler.sock.settimeout(3)
        assert idler.line() == b"* 2 FETCH (FLAGS (\\Flagged \\Recent))"
        other.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        assert idler.line() == b"* 1 EXPUNGE"
        idler.send("DONE\r\n")
        assert idler.line() == b"i1 OK IDLE terminated"


def test_mailbox_deleted_while_another_session_has_it_selected(imap):
    m = login(imap)
    check(m.create("Doomed"))
    check(m.append("Doomed", None, None, plain_message()))
    with selected(imap, "Doomed") as a:
        check(m.delete("Doomed"))
        a.ok("NOOP")                               # must not bring the folder back
        a.send("i1 IDLE\r\n")
        assert a.line() == b"+ idling"
        check(m.create("Other"))
        check(m.delete("Other"))                  # wakes the idler
        time.sleep(1.5)
        a.send("DONE\r\n")
        a.response("i1")
        assert "Doomed" not in list_entries(m)
        assert not (imap.maildir(USER) / ".Doomed").exists()
    m.logout()


# --------------------------------------------------------------------------
# TLS


def test_logindisabled_then_starttls_and_login(imap_factory):
    server = imap_factory(plaintext_on_loopback=False)
    m = imaplib.IMAP4(HOST, server.imap_port, timeout=TIMEOUT)
    assert "LOGINDISABLED" in m.capabilities and "STARTTLS" in m.capabilities
    assert "AUTH=PLAIN" not in m.capabilities
    with pytest.raises(imaplib.IMAP4.error) as e:
        m.login(USER, PASSWORD)
    assert "PRIVACYREQUIRED" in tagged_text(e)
    check(m.starttls(ssl_context=client_context()))
    assert "AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities
    assert "LOGINDISABLED" not in m.capabilities
    check(m.login(USER, PASSWORD))
    check(m.select("INBOX"))
    m.logout()


def test_starttls_discards_pipelined_plaintext(imap):
    with RawIMAP(imap.imap_port) as c:
        c.send("s1 STARTTLS\r\ns2 LOGIN you@localhost x\r\n")
        assert c.line() == b"s1 OK Begin TLS negotiation now"
        assert c.buf == b""
        c.sock = client_context().wrap_socket(c.sock, server_hostname="mx.test")
        untagged, done = c.cmd("CAPABILITY")
        assert done == b"r1 OK CAPABILITY completed"      # no answer to s2 came
        assert b" STARTTLS" not in untagged[0]
        c.login()


def test_imaps(imap_factory):
    server = imap_factory(plaintext_on_loopback=False)
    deliver(server, plain_message())
    m = imaplib.IMAP4_SSL(HOST, server.imaps_port, ssl_context=client_context(), timeout=TIMEOUT)
    assert "AUTH=PLAIN" in m.capabilities and "STARTTLS" not in m.capabilities
    check(m.login(USER, PASSWORD))
    assert check(m.select("INBOX")) == [b"1"]
    m.logout()


# --------------------------------------------------------------------------
# errors


def test_bad_commands_get_reasons(imap):
    with RawIMAP(imap.imap_port) as c:
        _, done = c.cmd("FROBNICATE")
        assert done == b"r1 BAD unknown command FROBNICATE"
        _, done = c.cmd("SELECT INBOX")
        assert done == b"r2 BAD SELECT needs you to log in first"
        c.send("+ x\r\n")
        assert c.line() == b"* BAD a command must start with a tag"
        c.login()
        _, done = c.cmd("FETCH 1 FLAGS")
        assert done == b"r4 BAD FETCH needs a selected mailbox"
    with selected(imap) as c:                 # a new connection: each BAD counts towards [limits] errors
        for text, reason in [("FETCH 1 (BODY[MIME])", b"unknown section MIME"),
                             ("FETCH 0 FLAGS", b"0 is not a valid number here"),
                             ("FETCH 1 XYZZY", b"unknown FETCH item XYZZY"),
                             ("SEARCH FOO", b"unknown search key FOO"),
                             ("STORE 1 LABELS (x)", b"STORE takes FLAGS or FLAGS.SILENT"),
                             ("UID NOOP", b"UID NOOP is not a command"),
                             ("NOOP now", b"unexpected text after the arguments")]:
            _, done = c.cmd(text)
            assert re.match(rb"^r\d+ BAD " + re.escape(reason) + rb"$", done), (text, done)


def test_error_limit_closes_the_connection(imap):
    with RawIMAP(imap.imap_port) as c:
        for i in range(9):
            _, done = c.cmd("FROB")
            assert done.endswith(b"BAD unknown command FROB")
        c.send("r99 FROB\r\n")
        assert c.line() == b"r99 BAD unknown command FROB"
        assert c.line() == b"* BYE Too many bad commands, closing the connection"
        with pytest.raises(ConnectionError):
            c.line()


def test_pipelined_commands_are_answered_in_order(imap):
    for _ in range(3):
        deliver(imap, plain_message())
    with RawIMAP(imap.imap_port) as c:
        batch = f'p0 LOGIN "{USER}" "{PASSWORD}"\r\np1 SELECT INBOX\r\n'
        for i in range(2, 60):
            batch += f"p{i} FETCH {i % 3 + 1} (UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n"
        batch += "p60 LOGOUT\r\n"
        c.send(batch)
        for i in range(61):
            untagged, done = c.response(f"p{i}")
            assert done.startswith(f"p{i} OK".encode()), done
            if 2 <= i < 60:
                assert len(untagged) == 1
                assert untagged[0][0][1].startswith(f"* {i % 3 + 1} FETCH (UID {i % 3 + 1} ".encode())


def test_server_stop_says_bye(imap_factory):
    server = imap_factory()
    a = selected(server)
    b = selected(server)
    b.send("i1 IDLE\r\n")
    assert b.line() == b"+ idling"
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 10
    for c in (a, b):
        assert c.line() == b"* BYE [UNAVAILABLE] Server shutting down"
        with pytest.raises(ConnectionError):
            c.line()
        c.close()


def test_logout(imap):
    with RawIMAP(imap.imap_port) as c:
        c.login()
        c.send("z LOGOUT\r\n")
        assert c.line() == b"* BYE mx.test Poshta IMAP logging out"
        assert c.line() == b"z OK LOGOUT completed"
        with pytest.raises(ConnectionError):
            c.line()


# --------------------------------------------------------------------------
# real clients: curl, mbsync, neomutt


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True, timeout=60)


def test_curl_imap_and_imaps(imap):
    msg1 = plain_message()
    msg2 = multipart_message()
    wire1 = crlf(deliver(imap, msg1))
    wire2 = crlf(deliver(imap, msg2))
    user = f"{USER}:{PASSWORD}"
    r = curl("--user", user, f"imap://{HOST}:{imap.imap_port}/INBOX;UID=1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == wire1
    r = curl("-k", "--user", user, f"imaps://{HOST}:{imap.imaps_port}/INBOX;UID=2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == wire2
    r = curl("--ssl-reqd", "-k", "--user", user, f"imap://{HOST}:{imap.imap_port}/INBOX;UID=2;SECTION=2")
    assert r.returncode == 0, r.stderr
    assert base64.b64decode(r.stdout) == ATTACHMENT
    # Without a message: the mailbox list; with a query: SEARCH.
    r = curl("--user", user, f"imap://{HOST}:{imap.imap_port}/")
    assert r.returncode == 0, r.stderr
    assert b'* LIST (\\HasNoChildren) "." "INBOX"\r\n' in r.stdout
    r = curl("--user", user, f"imap://{HOST}:{imap.imap_port}/INBOX?SUBJECT%20multi")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"* SEARCH 2\r\n"
    r = curl("--user", f"{USER}:wrong", f"imap://{HOST}:{imap.imap_port}/INBOX;UID=1")
    assert r.returncode != 0


MBSYNC = shutil.which("mbsync") or ("/usr/bin/mbsync" if os.path.exists("/usr/bin/mbsync") else None)


def local_maildir_files(root):
    out = {}
    for sub in ("cur", "new"):
        d = root / sub
        if d.exists():
            for p in d.iterdir():
                out[p.name] = p.read_bytes()
    return out


def without_tuid(data):
    """mbsync's copy, with LF line ends and without the X-TUID field it adds."""
    return re.sub(rb"(?m)^X-TUID: .*\n", b"", data.replace(b"\r\n", b"\n"))


@pytest.mark.skipif(MBSYNC is None, reason="mbsync is not installed (the Debian package isync)")
def test_mbsync_two_way(imap, tmp_path):
    msgs = [plain_message(), multipart_message()]
    for msg in msgs:
        deliver(imap, msg)
    local = tmp_path / "mail"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    rc.write_text(
        f"IMAPAccount poshta\n"
        f"Host {HOST}\nPort {imap.imap_port}\nUser {USER}\nPass \"{PASSWORD}\"\n"
        f"SSLType None\nAuthMechs LOGIN\n\n"
        f"IMAPStore remote\nAccount poshta\n\n"
        f"MaildirStore local\nPath {local}/\nInbox {local}/INBOX\nSubFolders Verbatim\n\n"
        f"Channel sync\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\n"
        f"SyncState *\nSync All\nExpunge None\n")
    env = dict(os.environ, HOME=str(tmp_path))

    def sync():
        r = subprocess.run([MBSYNC, "-c", str(rc), "sync"], capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, f"mbsync exited {r.returncode}\n{r.stdout}\n{r.stderr}"
        return r

    sync()
    files = local_maildir_files(local / "INBOX")
    assert len(files) == 2, files.keys()
    got = sorted(files.values(), key=len)
    for data, msg in zip(got, sorted(msgs, key=len)):
        assert without_tuid(data).endswith(msg.replace(b"\r\n", b"\n"))
    assert [flags_of(p) for p in mail_files(imap)] == ["", ""]     # BODY.PEEK: still unseen

    # A flag set locally reaches the server.
    name = next(n for n, d in files.items() if b"multipart/mixed" in d)
    path = next((local / "INBOX" / s / name) for s in ("cur", "new") if (local / "INBOX" / s / name).exists())
    base = name.split(":2,")[0]
    os.rename(path, local / "INBOX" / "cur" / (base + ":2,FS"))
    sync()
    m = login(imap)
    check(m.select("INBOX"))
    data = check(m.fetch("1:2", "(FLAGS BODY.PEEK[HEADER.FIELDS (CONTENT-TYPE)])"))
    flags = {b"multipart" in d[1]: d[0] for d in data if isinstance(d, tuple)}
    assert b"\\Flagged" in flags[True] and b"\\Seen" in flags[True], flags
    assert b"\\Flagged" not in flags[False], flags
    m.logout()

    # A second sync with nothing changed transfers nothing.
    before_local = local_maildir_files(local / "INBOX")
    before_server = [p.name for p in mail_files(imap)]
    sync()
    assert local_maildir_files(local / "INBOX") == before_local
    assert [p.name for p in mail_files(imap)] == before_server

    # New mail on the server arrives locally at the next sync.
    third = plain_message()
    deliver(imap, third)
    sync()
    files = local_maildir_files(local / "INBOX")
    assert len(files) == 3
    assert any(without_tuid(d).endswith(third.replace(b"\r\n", b"\n")) for d in files.values())


NEOMUTT = shutil.which("neomutt")
SCRIPT = shutil.which("script")


@pytest.mark.skipif(NEOMUTT is None or SCRIPT is None, reason="neomutt or script(1) is not installed")
def test_neomutt_reads_the_inbox(imap, tmp_path):
    msg = plain_message()
    stored = deliver(imap, msg)
    out = tmp_path / "piped.txt"
    rc = tmp_path / "muttrc"
    rc.write_text(
        f'set folder = "imap://{USER.replace("@", "%40")}@{HOST}:{imap.imap_port}/"\n'
        f'set imap_pass = "{PASSWORD}"\n'
        "set ssl_starttls = no\nset ssl_force_tls = no\n"
        'set spoolfile = "+INBOX"\nset quit = yes\nset wait_key = no\nset pipe_decode = no\n'
        'set header_cache = ""\nset message_cachedir = ""\n')
    push = f'push "<first-entry><pipe-message>cat > {out}<enter><quit>"'
    env = dict(os.environ, HOME=str(tmp_path), TERM="xterm")
    r = subprocess.run([SCRIPT, "-qc", f"{NEOMUTT} -n -F {rc} -e '{push}'", "/dev/null"],
                       capture_output=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout[-2000:]
    assert out.exists(), f"neomutt piped nothing; its screen:\n{r.stdout[-2000:]!r}"
    assert out.read_bytes().replace(b"\r\n", b"\n") == stored
