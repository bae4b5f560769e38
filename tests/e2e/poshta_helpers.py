"""Helpers shared by the end-to-end tests: a raw line-based SMTP client,
message builders and the checks of the stored Maildir format (README.md,
"Files on disk")."""

import base64
import email.utils
import os
import pathlib
import pwd
import re
import smtplib
import socket
import ssl
import subprocess
import time
import uuid

CRLF = b"\r\n"
HOST = "127.0.0.1"


def deadline_poll(predicate, timeout, what, interval=0.02):
    """Calls predicate() until it returns something truthy; fails after timeout."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def free_port():
    """A loopback TCP port that was free a moment ago."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((HOST, 0))
        return s.getsockname()[1]
    finally:
        s.close()


def port_open(port, host=HOST):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# raw SMTP client


class Reply:
    """One SMTP reply: a code and the text of each line (without the code)."""

    def __init__(self, code, lines, raw):
        self.code = code
        self.lines = lines
        self.raw = raw

    @property
    def text(self):
        return "\n".join(self.lines)

    @property
    def enhanced(self):
        """The RFC 3463 enhanced status code of the first line, or None."""
        m = re.match(r"^([245]\.\d{1,3}\.\d{1,3})(\s|$)", self.lines[0] if self.lines else "")
        return m.group(1) if m else None

    def __repr__(self):
        return f"Reply({self.raw!r})"


class ConnectionClosed(Exception):
    pass


class RawSMTP:
    """A tiny SMTP client over a plain socket: send bytes, read replies."""

    def __init__(self, port, timeout=10, greeting=True):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.reply() if greeting else None

    # low level ------------------------------------------------------------
    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed(f"connection closed by server; unparsed: {self.buf!r}")
        self.buf += chunk

    def readline(self):
        """One reply line; every line must end with CRLF (RFC 5321 §2.3.8)."""
        while b"\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        assert line.endswith(b"\r"), f"reply line not terminated by CRLF: {line!r}"
        return line[:-1]

    def reply(self):
        lines, raw, code = [], [], None
        while True:
            line = self.readline()
            raw.append(line)
            m = re.match(rb"^(\d{3})([ -]|$)(.*)$", line, re.S)
            assert m, f"malformed reply line {line!r} (all so far: {raw!r})"
            c = int(m.group(1))
            assert code is None or c == code, f"multi-line reply with mixed codes: {raw!r}"
            code = c
            lines.append(m.group(3).decode("utf-8", "replace"))
            if m.group(2) != b"-":
                return Reply(code, lines, b"\r\n".join(raw))

    def cmd(self, line):
        self.send(line.encode() + CRLF if isinstance(line, str) else line + CRLF)
        return self.reply()

    def expect(self, line, *codes):
        r = self.cmd(line)
        assert r.code in codes, f"{line!r}: expected {codes}, got {r!r}"
        return r

    def ehlo(self, name="client.test"):
        return self.expect(f"EHLO {name}", 250)

    # TLS (additions for the submission work) --------------------------------
    def starttls(self, context=None, expect_220=True):
        """Sends STARTTLS, checks the 220 and performs the TLS handshake.
        Fails if the server sent anything after its 220 in plain text."""
        r = self.cmd("STARTTLS")
        if expect_220:
            assert r.code == 220, f"STARTTLS: expected 220, got {r!r}"
        if r.code != 220:
            return r
        assert self.buf == b"", f"plain-text bytes after the 220 to STARTTLS: {self.buf!r}"
        self.wrap(context)
        return r

    def wrap(self, context=None):
        """TLS handshake on the current socket (the client side of STARTTLS)."""
        ctx = context or client_context()
        self.sock = ctx.wrap_socket(self.sock, server_hostname="mx.test")
        return self.sock

    def tls_version(self):
        return self.sock.version() if isinstance(self.sock, ssl.SSLSocket) else None

    def read_until_closed(self, timeout=5):
        """Reads until the server closes; returns everything read (including
        what was buffered). Fails if the connection stays open past timeout."""
        self.sock.settimeout(timeout)
        end = time.monotonic() + timeout
        data = self.buf
        self.buf = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return data
            except socket.timeout:
                raise AssertionError(f"connection still open after {timeout} s; got {data!r}")
            if not chunk:
                return data
            data += chunk
            if time.monotonic() > end:
                raise AssertionError(f"connection still open after {timeout} s; got {data!r}")

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def parse_replies(data):
    """Splits raw bytes from a server into replies (list of (code, [lines]))."""
    replies, cur = [], []
    for line in data.split(b"\r\n"):
        if not line:
            continue
        m = re.match(rb"^(\d{3})([ -]|$)", line)
        if not m:
            cur.append(line)
            continue
        cur.append(line)
        if m.group(2) != b"-":
            replies.append((int(m.group(1)), cur))
            cur = []
    if cur:
        replies.append((None, cur))
    return replies


# --------------------------------------------------------------------------
# messages


def unique():
    return uuid.uuid4().hex[:16]


def make_message(subject=None, sender="a@b.test", to="postmaster@localhost",
                 body=None, headers=(), msgid=None):
    """A complete message with CRLF line ends (and a final CRLF). The default
    body has the things a sloppy server would damage: a leading dot,
    a lone dot, trailing blanks, tabs, an empty line."""
    subject = subject or "test " + unique()
    msgid = msgid or f"<{unique()}@client.test>"
    lines = [
        f"From: Sender <{sender}>",
        f"To: <{to}>",
        f"Subject: {subject}",
        f"Date: {email.utils.formatdate(localtime=False)}",
        f"Message-ID: {msgid}",
        *headers,
        "",
    ]
    if body is None:
        body = [
            "Hello,",
            "",
            ".leading dot line",
            ".",
            "..two dots",
            "trailing blanks   ",
            "\ttab\tseparated",
            "",
            "end " + subject,
        ]
    elif isinstance(body, str):
        body = body.split("\n")
    text = "\r\n".join(lines + list(body)) + "\r\n"
    return text.encode("utf-8")


def dot_stuff(msg):
    """Wire form of a message for DATA: dot-stuffed plus the end marker."""
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", msg)
    if not out.endswith(CRLF):
        out += CRLF
    return out + b".\r\n"


def to_lf(msg):
    return msg.replace(b"\r\n", b"\n")


# --------------------------------------------------------------------------
# stored message checks


STORED_NAME = re.compile(r",S=(\d+),W=(\d+)(?::2,[A-Za-z]*)?$")


def split_stored(content):
    """Splits a stored file into (return_path_line, delivered_to_line,
    received_lines, rest)."""
    lines = content.split(b"\n")
    assert len(lines) >= 4, f"stored message too short: {content[:300]!r}"
    rp, dt = lines[0], lines[1]
    assert lines[2].startswith(b"Received:"), \
        f"third line of the stored message is not Received:, it is {lines[2]!r}; start: {content[:400]!r}"
    i = 3
    while i < len(lines) and lines[i][:1] in (b"\t", b" "):
        i += 1
    received = lines[2:i]
    rest = b"\n".join(lines[i:])
    return rp, dt, received, rest


def check_stored(content, sender, rcpt, message, proto=r"ESMTP", name=None,
                 queue_id_in=None):
    """Asserts the stored format of one delivered file and returns the queue
    id from its Received field.

    content: bytes of the file; sender: envelope sender ('' for <>);
    rcpt: mailbox address (compared lowercase); message: the message as sent
    (CRLF line ends); proto: regex for the `with` protocol; name: the file
    name (checks ,S= and ,W=); queue_id_in: a reply text that must contain
    the queue id."""
    assert b"\r" not in content, f"stored message contains CR (must be LF only): {content[:300]!r}"
    rp, dt, received, rest = split_stored(content)
    assert rp == b"Return-Path: <" + sender.encode() + b">", f"bad Return-Path line {rp!r}"
    m = re.match(rb"^Delivered-To: <?([^<>\s]+)>?$", dt)
    assert m, f"bad Delivered-To line {dt!r}"
    assert m.group(1) == rcpt.lower().encode(), f"Delivered-To {m.group(1)!r}, expected {rcpt.lower()!r}"
    unfolded = b" ".join(line.strip() for line in received).decode("utf-8", "replace")
    assert re.match(r"^Received: from \S", unfolded), f"Received field without 'from': {unfolded!r}"
    assert re.search(r"\bby mx\.test\b", unfolded), f"Received field without 'by mx.test': {unfolded!r}"
    assert re.search(r"\bwith (" + proto + r")\b", unfolded), \
        f"Received field without 'with {proto}': {unfolded!r}"
    qm = re.search(r"\bid <?([A-Za-z0-9._-]+)>?", unfolded)
    assert qm, f"Received field without 'id <queue id>': {unfolded!r}"
    queue_id = qm.group(1)
    assert ";" in unfolded, f"Received field without '; date-time' (RFC 5322 §3.6.7): {unfolded!r}"
    date = unfolded.rsplit(";", 1)[1].strip()
    parsed = email.utils.parsedate_to_datetime(date)
    assert parsed is not None and abs(parsed.timestamp() - time.time()) < 86400, \
        f"Received date {date!r} is not a current RFC 5322 date"
    expected = to_lf(message)
    assert rest == expected, (
        "stored message body differs from what was sent\n"
        f"expected: {expected[:2000]!r}\n     got: {rest[:2000]!r}")
    if name is not None:
        nm = STORED_NAME.search(name)
        assert nm, f"file name {name!r} does not end with ,S=<size>,W=<size>"
        assert int(nm.group(1)) == len(content), f"{name}: S= but the file has {len(content)} bytes"
        crlf_size = len(content) + content.count(b"\n")
        assert int(nm.group(2)) == crlf_size, \
            f"{name}: W= but with CRLF line ends it would have {crlf_size} bytes"
    if queue_id_in is not None:
        assert queue_id in queue_id_in, f"queue id {queue_id!r} (from Received) not in the reply {queue_id_in!r}"
    return queue_id


def check_one_stored(server, rcpt, sender, message, proto=r"ESMTP", queue_id_in=None, timeout=10):
    """Waits for exactly one message in rcpt's new/ and checks it."""
    files = server.wait_files(rcpt, 1, timeout=timeout)
    assert len(files) == 1, f"expected one message for {rcpt}, found {len(files)}: {files}"
    return check_stored(files[0].read_bytes(), sender, rcpt, message, proto=proto,
                        name=files[0].name, queue_id_in=queue_id_in)


def smtp_send(port, sender, rcpts, message, **kw):
    """Sends with smtplib; returns the dict of refused recipients."""
    with smtplib.SMTP(HOST, port, timeout=15) as s:
        return s.sendmail(sender, rcpts, message, **kw)


def raw_transaction(port, sender, rcpts, message, ehlo=True):
    """MAIL, RCPT..., DATA over a raw socket; returns the reply to the data."""
    with RawSMTP(port) as c:
        if ehlo:
            c.ehlo()
        else:
            c.expect("HELO client.test", 250)
        c.expect(f"MAIL FROM:<{sender}>", 250)
        for r in rcpts:
            c.expect(f"RCPT TO:<{r}>", 250, 251)
        c.expect("DATA", 354)
        c.send(dot_stuff(message))
        rep = c.reply()
        c.cmd("QUIT")
        return rep


def find_message_files(data_dir, needle):
    """All files under data_dir/mail whose content contains needle."""
    out = []
    for root, _dirs, files in os.walk(os.path.join(data_dir, "mail")):
        for f in files:
            p = os.path.join(root, f)
            try:
                with open(p, "rb") as fh:
                    if needle in fh.read():
                        out.append(p)
            except FileNotFoundError:
                pass
    return out


def deliver_marker(server, rcpt="postmaster@localhost", port=None):
    """Sends a marker message to rcpt and waits until it is stored; returns
    the other files of rcpt's new/. Used to show that an earlier refused
    message was not delivered (anything accepted before the marker has
    had its chance to arrive)."""
    tag = "marker-" + unique()
    msg = make_message(to=rcpt, subject=tag)
    assert smtp_send(port or server.smtp_port, "marker@b.test", [rcpt], msg) == {}

    def arrived():
        files = server.new_files(rcpt)
        hit = [f for f in files if tag.encode() in f.read_bytes()]
        return files if hit else None
    files = deadline_poll(arrived, 10, f"marker message in {rcpt}")
    return [f for f in files if tag.encode() not in f.read_bytes()]


# --------------------------------------------------------------------------
# TLS and AUTH (submission work): additions used by test_submission.py and
# test_sendmail.py

PASSWORD = "correct horse battery staple"     # the default of Poshta.add_user


def client_context(minimum=None, maximum=None, ciphers=None):
    """A TLS client context with verification off (the server's certificate
    is self-signed); minimum/maximum are ssl.TLSVersion members."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if ciphers:
        ctx.set_ciphers(ciphers)
    if minimum is not None:
        ctx.minimum_version = minimum
    if maximum is not None:
        ctx.maximum_version = maximum
    return ctx


def b64(data):
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain_token(user, password=PASSWORD, authzid=""):
    """The SASL PLAIN response (RFC 4616), base64."""
    return b64(f"{authzid}\0{user}\0{password}")


def ehlo_keywords(reply):
    """The EHLO keywords of a 250 reply (first line is the greeting), upper
    case, mapped to their parameters (upper case too)."""
    out = {}
    for line in reply.lines[1:]:
        parts = line.strip().split()
        if parts:
            out[parts[0].upper()] = [p.upper() for p in parts[1:]]
    return out




class RawSMTPS(RawSMTP):
    """RawSMTP over implicit TLS (the submissions listener, RFC 8314)."""

    def __init__(self, port, timeout=10, greeting=True, context=None):
        plain = socket.create_connection((HOST, port), timeout=timeout)
        ctx = context or client_context()
        self.sock = ctx.wrap_socket(plain, server_hostname="mx.test")
        self.buf = b""
        self.greeting = self.reply() if greeting else None


def peer_cert_der(port, starttls=False, timeout=10):
    """The DER certificate the server presents on port (implicit TLS, or
    STARTTLS after EHLO when starttls is true)."""
    if starttls:
        with RawSMTP(port, timeout=timeout) as c:
            c.ehlo()
            c.starttls()
            der = c.sock.getpeercert(binary_form=True)
            c.cmd("QUIT")
            return der
    with RawSMTPS(port, timeout=timeout) as c:
        der = c.sock.getpeercert(binary_form=True)
        c.cmd("QUIT")
        return der


def pem_file_der(path):
    """DER of the first certificate in a PEM file."""
    text = open(path).read()
    m = re.search(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----", text, re.S)
    assert m, f"no certificate in {path}"
    return ssl.PEM_cert_to_DER_cert(m.group(0))


SERVER_USER = "poshta"  # whom Poshta becomes when started as root (`user`, its default)


def readable_by_server(*paths):
    """What an operator does for files the server reads again after it gave
    up root (SIGHUP: configuration, certificates): when the tests run as
    root, each file goes to Poshta's user and the directories above it can
    be passed through (o+x, under the temporary directories only)."""
    if os.geteuid() != 0:
        return
    try:
        pw = pwd.getpwnam(SERVER_USER)
    except KeyError:
        return
    for p in map(pathlib.Path, paths):
        os.chown(p, pw.pw_uid, pw.pw_gid)
        for d in p.resolve().parents:
            if str(d).startswith(("/tmp/", "/var/tmp/")):
                mode = d.stat().st_mode
                if not mode & 0o001:
                    os.chmod(d, (mode & 0o7777) | 0o001)


def make_self_signed(directory, cn, name="cert"):
    """A self-signed certificate and key made with openssl, readable by the
    server (readable_by_server); returns the paths (cert, key)."""
    cert = os.path.join(directory, f"{name}.pem")
    key = os.path.join(directory, f"{name}.key")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                        "-keyout", key, "-out", cert, "-days", "3", "-subj", f"/CN={cn}",
                        "-addext", f"subjectAltName=DNS:{cn}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl req failed: {r.stderr}"
    readable_by_server(cert, key)
    return cert, key


def queued_with(server, needle):
    """Files under <data_dir>/queue whose content contains needle."""
    queue = server.data_dir / "queue"
    if not queue.exists():
        return []
    out = []
    for p in queue.rglob("*"):
        try:
            if p.is_file() and needle in p.read_bytes():
                out.append(p)
        except FileNotFoundError:
            pass
    return out


def wait_listening(server, timeout=10):
    """After server.start() (which waits for smtp and submission), waits for
    the submissions listener (server.submissions_port) as well."""
    port = getattr(server, "submissions_port", None)
    if port is None:
        return server
    end = time.monotonic() + timeout
    while not port_open(port):
        if not server.running:
            raise AssertionError(f"poshta serve exited with {server.proc.returncode}; log:\n"
                                 + server.log_text(300))
        if time.monotonic() > end:
            raise AssertionError(f"poshta serve did not open the submissions port {port} within "
                                 f"{timeout} s; log:\n" + server.log_text(300))
        time.sleep(0.02)
    return server


def header_fields(head):
    """[(name_lower, raw_lines_bytes)] of an LF header section."""
    fields = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + b"\n" + line)
        else:
            fields.append((line.split(b":", 1)[0].strip().lower().decode("latin-1"), line))
    return fields


def check_added_fields(content, original, added, removed=()):
    """The stored message is `original` (CRLF or LF) plus exactly one field
    of each name in `added` (lower case; the original lacks them) and
    without the fields named in `removed`; every other field unchanged and
    in order, the body byte for byte. Returns {name: unfolded value} of the
    added fields."""
    _rp, _dt, _rec, rest = split_stored(content)
    head, sep, body = rest.partition(b"\n\n")
    assert sep, f"stored message without a header/body separator: {rest[:500]!r}"
    ohead, _, obody = to_lf(original).partition(b"\n\n")
    assert body == obody, f"body changed:\nexpected {obody[:800]!r}\n     got {body[:800]!r}"
    fields, ofields = header_fields(head), header_fields(ohead)
    values = {}
    for name in added:
        hits = [raw for n, raw in fields if n == name]
        assert len(hits) == 1, f"expected exactly one {name} field (added), found {hits}: {head!r}"
        values[name] = b" ".join(l.strip() for l in hits[0].split(b"\n")).split(b":", 1)[1] \
            .strip().decode("utf-8", "replace")
    kept = [(n, raw) for n, raw in fields if n not in added]
    ofields = [(n, raw) for n, raw in ofields if n not in removed]
    assert kept == ofields, f"header fields changed:\nexpected {ohead!r}\n     got {head!r}"
    return values
