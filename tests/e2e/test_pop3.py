"""POP3 (RFC 1939, CAPA and response codes of RFC 2449, STLS of RFC 2595,
AUTH of RFC 5034) and pop3s (RFC 8314): pop3 and pop3s listeners beside the
standard ones, mail delivered by SMTP first, then read and deleted with
Python's poplib, curl, fetchmail and raw bytes. Checks what reaches the
client byte for byte, what is left in the Maildir, UIDL stability across
sessions and restarts, the one-session-per-maildrop rule, the TLS rules for
plaintext passwords, and memory use while a large message is sent."""

import base64
import os
import poplib
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from poshta_helpers import (
    HOST, PASSWORD, client_context, deadline_poll, free_port, make_message, port_open,
    smtp_send, unique)

USER = "you@localhost"
SENDER = "sender@b.test"
TIMEOUT = 40               # a failed login may be answered after a growing delay
UIDL_RE = re.compile(r"^[0-9A-F]{16}$")


# --------------------------------------------------------------------------
# servers


def with_pop3(server, plaintext_on_loopback=None):
    """Adds pop3 and pop3s listeners (server.pop3_port, server.pop3s_port)
    to a server that is not started, and optionally [auth]."""
    taken = {server.smtp_port, server.submission_port}
    ports = []
    while len(ports) < 2:
        p = free_port()
        if p not in taken:
            taken.add(p)
            ports.append(p)
    server.pop3_port, server.pop3s_port = ports
    with open(server.cfg, "a") as f:
        f.write(f'\n[[listen]]\nprotocol = "pop3"\naddress = "{HOST}:{server.pop3_port}"\n'
                f'\n[[listen]]\nprotocol = "pop3s"\naddress = "{HOST}:{server.pop3s_port}"\n')
        if plaintext_on_loopback is not None:
            f.write(f"\n[auth]\nplaintext_on_loopback = {'true' if plaintext_on_loopback else 'false'}\n")
    return server


def start_pop3(server):
    """Starts the server and waits for its POP3 listeners too."""
    server.start()
    for port in (server.pop3_port, server.pop3s_port):
        deadline_poll(lambda: port_open(port), 10, f"the POP3 listener on port {port}")
    return server


def restart_pop3(server):
    server.stop()
    return start_pop3(server)


@pytest.fixture
def pop_factory(poshta_factory):
    """pop_factory(plaintext_on_loopback=None, limits=None, users=(USER,))
    -> a running Poshta with pop3 and pop3s listeners and the users (password
    PASSWORD)."""

    def make(plaintext_on_loopback=None, limits=None, users=(USER,)):
        server = with_pop3(poshta_factory(start=False, limits=limits), plaintext_on_loopback)
        start_pop3(server)
        for u in users:
            server.add_user(u)
        return server

    return make


@pytest.fixture
def pop(pop_factory):
    return pop_factory()


# --------------------------------------------------------------------------
# mail and mailboxes


def deliver(server, rcpt=USER, subject=None, body=None):
    """Sends a message by SMTP and waits until it is in rcpt's new/; returns
    (message as sent, stored content, path)."""
    tag = subject or "pop3 " + unique()
    msg = make_message(subject=tag, to=rcpt, body=body)
    assert smtp_send(server.smtp_port, SENDER, [rcpt], msg) == {}

    def stored():
        for p in server.new_files(rcpt):
            try:
                if tag.encode() in p.read_bytes():
                    return p
            except FileNotFoundError:
                pass
        return None
    path = deadline_poll(stored, 10, f"message {tag!r} in {server.maildir(rcpt)}/new")
    return msg, path.read_bytes(), path


def mail_files(server, rcpt=USER):
    """Every message file of rcpt's INBOX (new/ and cur/)."""
    out = []
    for sub in ("new", "cur"):
        d = server.maildir(rcpt) / sub
        if d.exists():
            out += [p for p in d.iterdir() if p.is_file()]
    return sorted(out)


def crlf(stored):
    return stored.replace(b"\n", b"\r\n")


def stuffed(wire):
    """RFC 1939 §3 byte-stuffing of a CRLF message, plus the end marker."""
    out = re.sub(rb"(^|\r\n)\.", rb"\1..", wire)
    return out + b".\r\n"


def wire_size(path):
    m = re.search(r",W=(\d+)", path.name)
    assert m, f"no W= in {path.name}"
    return int(m.group(1))


def login(server, user=USER, password=PASSWORD, port=None):
    p = poplib.POP3(HOST, port or server.pop3_port, timeout=TIMEOUT)
    p.user(user)
    p.pass_(password)
    return p


def err_text(excinfo):
    arg = excinfo.value.args[0]
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def login_when_free(server, timeout=10):
    """Logs in, retrying while the maildrop is still held by a session the
    server has not yet seen end."""
    end = time.monotonic() + timeout
    while True:
        p = poplib.POP3(HOST, server.pop3_port, timeout=TIMEOUT)
        p.user(USER)
        try:
            p.pass_(PASSWORD)
            return p
        except poplib.error_proto as e:
            p.close()
            if b"[IN-USE]" not in e.args[0] or time.monotonic() > end:
                raise
            time.sleep(0.05)


def vm_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS in /proc/{pid}/status")


class RawPOP3:
    """A line-based POP3 client over a socket: exact bytes both ways."""

    def __init__(self, port, timeout=TIMEOUT, tls=False):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        if tls:
            self.sock = client_context().wrap_socket(self.sock, server_hostname="mx.test")
        self.buf = b""
        self.greeting = self.line()

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed; unparsed: {self.buf!r}")
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def multiline(self):
        """The raw body of a multi-line response, with its terminating .CRLF."""
        while True:
            end = self.buf.find(b"\r\n.\r\n")
            if self.buf.startswith(b".\r\n"):
                end = -2
            if end != -1:
                cut = end + 5
                body, self.buf = self.buf[:cut], self.buf[cut:]
                return body
            self._fill()

    def login(self, user=USER, password=PASSWORD):
        assert self.cmd(f"USER {user}").startswith(b"+OK")
        r = self.cmd(f"PASS {password}")
        assert r.startswith(b"+OK"), r
        return r

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------
# the transaction: STAT, LIST, UIDL, RETR, TOP


def test_greeting_and_capa(pop):
    p = poplib.POP3(HOST, pop.pop3_port, timeout=TIMEOUT)
    try:
        assert p.getwelcome().startswith(b"+OK mx.test "), p.getwelcome()
        caps = p.capa()
        for want in ("TOP", "UIDL", "USER", "SASL", "STLS", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE"):
            assert want in caps, f"CAPA before login lacks {want}: {caps}"
        assert caps["SASL"] == ["PLAIN", "LOGIN"], caps
        p.user(USER)
        p.pass_(PASSWORD)
        caps = p.capa()
        assert "TOP" in caps and "UIDL" in caps, caps
        for gone in ("USER", "SASL", "STLS"):
            assert gone not in caps, f"CAPA after login still offers {gone}: {caps}"
        p.quit()
    finally:
        p.close()


def test_stat_list_uidl_retr_exact_bytes(pop):
    sent1, stored1, path1 = deliver(pop)
    sent2, stored2, path2 = deliver(pop)
    p = login(pop)
    try:
        count, octets = p.stat()
        assert count == 2
        assert octets == wire_size(path1) + wire_size(path2) == len(crlf(stored1)) + len(crlf(stored2))
        resp, lines, _ = p.list()
        assert lines == [f"1 {wire_size(path1)}".encode(), f"2 {wire_size(path2)}".encode()], lines
        assert p.list(2) == f"+OK 2 {wire_size(path2)}".encode()
        _, uidls, _ = p.uidl()
        assert len(uidls) == 2
        ids = [u.split()[1].decode() for u in uidls]
        for u in ids:
            assert UIDL_RE.match(u), f"UIDL {u!r} is not 16 upper-case hex digits"
        assert ids[0][:8] == "00000001" and ids[1][:8] == "00000002", ids
        assert ids[0][8:] == ids[1][8:], f"one UIDVALIDITY for the mailbox: {ids}"
        assert p.uidl(2).split()[2].decode() == ids[1]

        for i, (sent, stored) in enumerate(((sent1, stored1), (sent2, stored2)), 1):
            resp, lines, got_octets = p.retr(i)
            assert resp == f"+OK {len(crlf(stored))} octets".encode(), resp
            assert got_octets == len(crlf(stored))
            # The stored message line for line: Return-Path, Delivered-To,
            # Received, then the message as sent (dots unstuffed by poplib).
            assert lines == stored.split(b"\n")[:-1]
            whole = b"\r\n".join(lines) + b"\r\n"
            assert lines[0] == f"Return-Path: <{SENDER}>".encode(), lines[:3]
            assert re.match(rb"^Delivered-To: <?" + re.escape(USER.encode()) + rb">?$", lines[1]), lines[:3]
            assert lines[2].startswith(b"Received: from "), lines[:3]
            assert whole.endswith(sent), "RETR does not end with the message as sent"
            assert sent.split(b"\r\n")[:-1] == lines[-len(sent.split(b"\r\n")) + 1:]
        p.quit()
    finally:
        p.close()


def test_retr_wire_form_is_crlf_and_dot_stuffed(pop):
    _sent, stored, path = deliver(pop)   # the default body has ".", ".x" and ".." lines
    with RawPOP3(pop.pop3_port) as c:
        c.login()
        assert c.cmd("RETR 1") == f"+OK {wire_size(path)} octets".encode()
        body = c.multiline()
        assert body == stuffed(crlf(stored))
        assert b"\r\n..leading dot line\r\n" in body and b"\r\n..\r\n" in body and b"\r\n...two dots\r\n" in body
        assert b"\r\r" not in body and re.search(rb"[^\r]\n", body) is None, "bare LF on the wire"
        assert c.cmd("QUIT").startswith(b"+OK")


def test_top(pop):
    _sent, stored, _ = deliver(pop, body=["line one", ".line two", "line three", "line four"])
    header = stored.split(b"\n\n", 1)[0].split(b"\n")
    p = login(pop)
    try:
        resp, lines, _ = p.top(1, 2)
        assert resp.startswith(b"+OK"), resp
        assert lines == header + [b"", b"line one", b".line two"], lines
        _, lines, _ = p.top(1, 0)
        assert lines == header + [b""], lines
        _, lines, _ = p.top(1, 100)
        assert lines == stored.split(b"\n")[:-1]
        with pytest.raises(poplib.error_proto) as e:
            p.top(2, 1)
        assert err_text(e).startswith("-ERR"), err_text(e)
        p.quit()
    finally:
        p.close()
    assert len(mail_files(pop)) == 1


# --------------------------------------------------------------------------
# DELE, RSET, QUIT: what is left in the Maildir


def test_dele_quit_removes_the_files(pop):
    deliver(pop)
    _sent, _stored, path2 = deliver(pop)
    deliver(pop)
    before = mail_files(pop)
    assert len(before) == 3
    p = login(pop)
    try:
        assert p.dele(1).startswith(b"+OK")
        assert p.dele(3).startswith(b"+OK")
        assert p.stat()[0] == 1
        with pytest.raises(poplib.error_proto):
            p.retr(1)
        assert len(mail_files(pop)) == 3, "nothing may be removed before QUIT"
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()
    left = mail_files(pop)
    assert len(left) == 1, left
    assert left[0].name.startswith(path2.name.split(":")[0]), (left, path2)
    p = login(pop)
    try:
        assert p.stat()[0] == 1
        p.quit()
    finally:
        p.close()


def test_dele_rset_quit_removes_nothing(pop):
    deliver(pop)
    deliver(pop)
    p = login(pop)
    try:
        p.dele(1)
        p.dele(2)
        assert p.stat()[0] == 0
        assert p.rset().startswith(b"+OK")
        assert p.stat()[0] == 2
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()
    assert len(mail_files(pop)) == 2


def test_dropped_connection_removes_nothing(pop):
    deliver(pop)
    deliver(pop)
    with RawPOP3(pop.pop3_port) as c:
        c.login()
        assert c.cmd("DELE 1").startswith(b"+OK")
        assert c.cmd("DELE 2").startswith(b"+OK")
    # No QUIT: no UPDATE state (RFC 1939 §6).
    p = login_when_free(pop)
    try:
        assert p.stat()[0] == 2
        p.quit()
    finally:
        p.close()
    assert len(mail_files(pop)) == 2


def test_deletion_survives_kill_9(pop):
    deliver(pop)
    _sent, _stored, keep = deliver(pop)
    p = login(pop)
    try:
        p.dele(1)
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()
    pop.kill()          # SIGKILL right after the +OK
    start_pop3(pop)
    p = login(pop)
    try:
        assert p.stat()[0] == 1
        _, lines, _ = p.uidl()
        assert lines[0].split()[1][:8] == b"00000002", lines
        p.quit()
    finally:
        p.close()
    left = mail_files(pop)
    assert len(left) == 1 and left[0].name.split(":")[0] == keep.name.split(":")[0], left


def test_dele_of_a_message_another_reader_flagged(pop):
    """A Maildir reader (mutt, Dovecot) may rename a file to change its flags
    while a POP3 session is open: DELE still removes it."""
    deliver(pop)
    deliver(pop)
    p = login(pop)
    try:
        first = sorted((pop.maildir(USER) / "cur").iterdir())[0]
        os.rename(first, first.with_name(first.name.split(":")[0] + ":2,S"))
        p.dele(1)
        assert p.quit().startswith(b"+OK")
    finally:
        p.close()
    left = mail_files(pop)
    assert len(left) == 1 and left[0].name.split(":")[0] != first.name.split(":")[0], left


def test_vanished_message_is_sys_temp_and_pipelining_goes_on(pop):
    _sent, stored1, _ = deliver(pop)
    _sent, stored2, _ = deliver(pop)
    with RawPOP3(pop.pop3_port) as c:
        c.login()
        first = [f for f in (pop.maildir(USER) / "cur").iterdir() if f.read_bytes() == stored1]
        assert len(first) == 1
        first[0].unlink()   # message 1, gone behind the session's back
        c.send("RETR 1\r\nSTAT\r\nRETR 2\r\n")
        assert c.line() == b"-ERR [SYS/TEMP] the message cannot be read now"
        assert c.line().startswith(b"+OK 2 "), "the command after a failed RETR must be answered"
        assert c.line().startswith(b"+OK ")
        assert c.multiline() == stuffed(crlf(stored2))
        assert c.cmd("QUIT").startswith(b"+OK")


# --------------------------------------------------------------------------
# UIDL stability, one session per maildrop, mail that arrives meanwhile


def uidl_map(server):
    p = login_when_free(server)
    try:
        _, lines, _ = p.uidl()
        p.quit()
    finally:
        p.close()
    return [line.split()[1].decode() for line in lines]


def test_uidl_stable_across_sessions_and_restart(pop):
    for _ in range(3):
        deliver(pop)
    first = uidl_map(pop)
    assert len(first) == 3 and len(set(first)) == 3
    assert uidl_map(pop) == first
    restart_pop3(pop)
    assert uidl_map(pop) == first
    # A new message gets a new id, the old ones stay.
    deliver(pop)
    after = uidl_map(pop)
    assert after[:3] == first and after[3] not in first
    # The ids are the UIDs and UIDVALIDITY of the folder's uidlist.
    head = (pop.maildir(USER) / "poshta-uidlist").read_text().split("\n")[0].split()
    validity = int(head[2])
    assert after == [f"{uid:08X}{validity:08X}" for uid in (1, 2, 3, 4)]


def test_second_session_is_in_use_until_the_first_quits(pop):
    deliver(pop)
    first = login(pop)
    second = poplib.POP3(HOST, pop.pop3_port, timeout=TIMEOUT)
    try:
        second.user(USER)
        with pytest.raises(poplib.error_proto) as e:
            second.pass_(PASSWORD)
        assert err_text(e).startswith("-ERR [IN-USE]"), err_text(e)
        assert first.stat()[0] == 1
        assert first.quit().startswith(b"+OK")
        # The same connection may try again.
        second.user(USER)
        assert second.pass_(PASSWORD).startswith(b"+OK")
        assert second.stat()[0] == 1
        second.quit()
    finally:
        first.close()
        second.close()


def test_message_delivered_during_a_session_shows_in_the_next(pop):
    deliver(pop)
    p = login(pop)
    try:
        assert p.stat()[0] == 1
        deliver(pop)
        assert p.stat()[0] == 1
        assert len(p.list()[1]) == 1
        with pytest.raises(poplib.error_proto):
            p.retr(2)
        p.quit()
    finally:
        p.close()
    p = login(pop)
    try:
        assert p.stat()[0] == 2
        p.quit()
    finally:
        p.close()


# --------------------------------------------------------------------------
# authentication and TLS


def test_wrong_password_is_auth_error(pop):
    p = poplib.POP3(HOST, pop.pop3_port, timeout=TIMEOUT)
    try:
        p.user(USER)
        with pytest.raises(poplib.error_proto) as e:
            p.pass_("not the password")
        assert err_text(e).startswith("-ERR [AUTH]"), err_text(e)
        p.user("nobody@localhost")
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(PASSWORD)
        assert err_text(e).startswith("-ERR [AUTH]"), err_text(e)
    finally:
        p.close()


def test_stls_then_login(pop):
    deliver(pop)
    p = poplib.POP3(HOST, pop.pop3_port, timeout=TIMEOUT)
    try:
        assert p.stls(context=client_context()).startswith(b"+OK")
        assert p.sock.version() in ("TLSv1.2", "TLSv1.3")
        assert "STLS" not in p.capa()
        p.user(USER)
        p.pass_(PASSWORD)
        assert p.stat()[0] == 1
        p.quit()
    finally:
        p.close()


def test_pop3s(pop):
    _sent, stored, _ = deliver(pop)
    p = poplib.POP3_SSL(HOST, pop.pop3s_port, timeout=TIMEOUT, context=client_context())
    try:
        assert p.getwelcome().startswith(b"+OK")
        assert "STLS" not in p.capa()
        p.user(USER)
        p.pass_(PASSWORD)
        _, lines, _ = p.retr(1)
        assert lines == stored.split(b"\n")[:-1]
        p.quit()
    finally:
        p.close()


def test_auth_plain_over_raw_socket(pop):
    token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    with RawPOP3(pop.pop3_port) as c:
        assert c.cmd("AUTH PLAIN") == b"+ "
        assert c.cmd(token).startswith(b"+OK maildrop has 0 messages")
        assert c.cmd("QUIT").startswith(b"+OK")


def test_plaintext_refused_before_stls_when_not_allowed(pop_factory):
    server = pop_factory(plaintext_on_loopback=False)
    p = poplib.POP3(HOST, server.pop3_port, timeout=TIMEOUT)
    try:
        caps = p.capa()
        assert "STLS" in caps and "USER" not in caps and "SASL" not in caps, caps
        with pytest.raises(poplib.error_proto) as e:
            p.user(USER)
        assert err_text(e).startswith("-ERR [AUTH]"), err_text(e)
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(PASSWORD)
        assert err_text(e).startswith("-ERR [AUTH]"), err_text(e)
        p.stls(context=client_context())
        p.user(USER)
        assert p.pass_(PASSWORD).startswith(b"+OK")
        p.quit()
    finally:
        p.close()
    # pop3s needs no STLS.
    p = poplib.POP3_SSL(HOST, server.pop3s_port, timeout=TIMEOUT, context=client_context())
    try:
        p.user(USER)
        assert p.pass_(PASSWORD).startswith(b"+OK")
        p.quit()
    finally:
        p.close()


def test_stls_discards_pipelined_plaintext(pop_factory):
    server = pop_factory(plaintext_on_loopback=False)
    with RawPOP3(server.pop3_port) as c:
        c.send(f"STLS\r\nUSER {USER}\r\n")
        assert c.line() == b"+OK Begin TLS negotiation"
        assert c.buf == b""
        c.sock = client_context().wrap_socket(c.sock, server_hostname="mx.test")
        # The USER sent before the handshake was not taken.
        assert c.cmd(f"PASS {PASSWORD}").startswith(b"-ERR"), "a pipelined plaintext USER survived STLS"
        c.login()
        assert c.cmd("QUIT").startswith(b"+OK")


# --------------------------------------------------------------------------
# bad input


def test_bad_commands_get_err(pop_factory):
    pop = pop_factory(limits={"errors": "50"})
    deliver(pop)
    with RawPOP3(pop.pop3_port) as c:
        assert c.greeting.startswith(b"+OK")
        assert c.cmd("STAT") == b"-ERR log in first"
        assert c.cmd("FROB") == b"-ERR unknown command"
        c.login()
        for cmd in ("RETR 0", "RETR 2", "LIST x", "DELE 99", "UIDL -1"):
            assert c.cmd(cmd) == b"-ERR no such message", cmd
        assert c.cmd("TOP 1").startswith(b"-ERR")
        assert c.cmd("USER again") == b"-ERR already logged in"
        assert c.cmd("LIST " + "1" * 5000) == b"-ERR line too long"
        assert c.cmd("list 1").startswith(b"+OK 1 ")
        assert c.cmd("QUIT").startswith(b"+OK")


def test_too_many_errors_close_the_connection(pop_factory):
    server = pop_factory(limits={"errors": "3"})
    with RawPOP3(server.pop3_port) as c:
        c.send("A\r\nB\r\nC\r\nD\r\n")
        assert c.line() == b"-ERR unknown command"
        assert c.line() == b"-ERR unknown command"
        assert c.line() == b"-ERR unknown command"
        assert c.line().startswith(b"-ERR [SYS/PERM]")
        c.sock.settimeout(5)
        assert c.sock.recv(100) == b"", "the connection must be closed"


def test_pipelined_commands_answered_in_order(pop):
    _sent, stored, path = deliver(pop)
    with RawPOP3(pop.pop3_port) as c:
        c.send(f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nRETR 1\r\nLIST 1\r\nUIDL 1\r\nNOOP\r\nQUIT\r\n")
        assert c.line() == b"+OK send PASS"
        assert c.line().startswith(b"+OK maildrop has 1 messages")
        assert c.line() == f"+OK 1 {wire_size(path)}".encode()
        assert c.line() == f"+OK {wire_size(path)} octets".encode()
        assert c.multiline() == stuffed(crlf(stored))
        assert c.line() == f"+OK 1 {wire_size(path)}".encode()
        assert re.match(rb"^\+OK 1 [0-9A-F]{16}$", c.line())
        assert c.line().startswith(b"+OK")
        assert c.line().startswith(b"+OK")


# --------------------------------------------------------------------------
# real clients: curl, fetchmail


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "30", *args], capture_output=True, timeout=60)


def test_curl_pop3(pop):
    _sent, stored1, _ = deliver(pop)
    _sent, stored2, _ = deliver(pop)
    user = f"{USER}:{PASSWORD}"
    r = curl("--user", user, f"pop3://{HOST}:{pop.pop3_port}/1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == crlf(stored1)
    # Without a message number: the LIST output.
    r = curl("--user", user, f"pop3://{HOST}:{pop.pop3_port}/")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split(b"\r\n")[:2] == [f"1 {len(crlf(stored1))}".encode(), f"2 {len(crlf(stored2))}".encode()]
    # STLS, required.
    r = curl("--ssl-reqd", "-k", "--user", user, f"pop3://{HOST}:{pop.pop3_port}/2")
    assert r.returncode == 0, r.stderr
    assert r.stdout == crlf(stored2)
    # Implicit TLS.
    r = curl("-k", "--user", user, f"pop3s://{HOST}:{pop.pop3s_port}/1")
    assert r.returncode == 0, r.stderr
    assert r.stdout == crlf(stored1)
    # A wrong password fails.
    r = curl("--user", f"{USER}:wrong", f"pop3://{HOST}:{pop.pop3_port}/1")
    assert r.returncode != 0
    assert len(mail_files(pop)) == 2


FETCHMAIL = shutil.which("fetchmail") or ("/usr/bin/fetchmail" if os.path.exists("/usr/bin/fetchmail") else None)


@pytest.mark.skipif(FETCHMAIL is None, reason="fetchmail is not installed (the Debian package fetchmail)")
def test_fetchmail_fetches_and_deletes(pop, tmp_path):
    _sent, stored, _ = deliver(pop)
    _sent, stored2, _ = deliver(pop)
    mbox = tmp_path / "mbox"
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f'poll {HOST} port {pop.pop3_port} protocol pop3 no uidl\n'
        f'  user "{USER}" there with password "{PASSWORD}"\n'
        f'  mda "cat >> {mbox}"\n'
        f'  nokeep fetchall no sslcertck\n')
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=str(tmp_path))
    r = subprocess.run([FETCHMAIL, "-f", str(rc), "--nodetach", "--nosyslog", "--idfile",
                        str(tmp_path / "fetchids"), "--pidfile", str(tmp_path / "fetchmail.pid")],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, f"fetchmail exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    got = mbox.read_bytes()
    for s in (stored, stored2):
        subject = re.search(rb"^Subject: (.*)$", s, re.M).group(1)
        assert subject in got, f"{subject!r} not in the mbox"
    assert mail_files(pop) == [], "fetchmail --nokeep must leave the Maildir empty"


# --------------------------------------------------------------------------
# a large message: sent in pieces, never whole in memory


def test_large_message_is_streamed(pop):
    box = pop.maildir(USER)
    # A session creates the Maildir; then a 50 MB message is put into new/
    # as a delivery would name it.
    p = login(pop)
    p.quit()
    line = b"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\n"
    body = bytearray(b"Return-Path: <big@b.test>\nSubject: big\n\n")
    i = 0
    while len(body) < 50 * 1024 * 1024:
        body += (b"." if i % 1000 == 0 else b"") + str(i).encode() + b" " + line
        i += 1
    content = bytes(body)
    size, wsize = len(content), len(content) + content.count(b"\n")
    name = f"{int(time.time())}.M1P1Q1.e2e,S={size},W={wsize}"
    (box / "tmp" / name).write_bytes(content)
    os.rename(box / "tmp" / name, box / "new" / name)

    pid = pop.proc.pid
    with RawPOP3(pop.pop3_port) as c:
        c.login()
        assert c.cmd("STAT") == f"+OK 1 {wsize}".encode()
        base = vm_rss_kib(pid)
        peak = base
        assert c.cmd("RETR 1") == f"+OK {wsize} octets".encode()
        received = bytearray(c.buf)
        c.buf = b""
        stop = threading.Event()
        peaks = []

        def sample():
            while not stop.is_set():
                try:
                    peaks.append(vm_rss_kib(pid))
                except (FileNotFoundError, ProcessLookupError):
                    return
                time.sleep(0.01)
        t = threading.Thread(target=sample)
        t.start()
        try:
            while not received.endswith(b"\r\n.\r\n"):
                chunk = c.sock.recv(1 << 20)
                assert chunk, "connection closed in the middle of RETR"
                received += chunk
                if len(received) % (8 << 20) < (1 << 20):
                    time.sleep(0.05)   # a slow reader: the server must wait, not buffer
        finally:
            stop.set()
            t.join()
        peak = max([peak] + peaks)
        expected = stuffed(crlf(content))
        assert len(received) == len(expected), (len(received), len(expected))
        assert bytes(received) == expected
        growth_mib = (peak - base) / 1024
        assert growth_mib < 20, f"server RSS grew by {growth_mib:.1f} MiB while sending a 50 MiB message"
        assert c.cmd("QUIT").startswith(b"+OK")
