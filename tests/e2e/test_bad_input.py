"""Bad input gets a clear reply and costs nothing else (SPEC.md promises 3
and 5). Every test keeps a second client (the bystander) connected and
checks that it is served during and after the bad input."""

import socket

import pytest

from poshta_helpers import (
    ConnectionClosed, RawSMTP, check_one_stored, check_stored, deadline_poll,
    deliver_marker, dot_stuff, free_port, make_message, parse_replies, unique)

BYSTANDER_RCPT = "postmaster@example.test"


class Bystander:
    """A client connected before the bad input; check() proves it is still
    served: NOOP, then a whole transaction on its old connection, then one
    on a new connection."""

    def __init__(self, server):
        self.server = server
        self.conn = RawSMTP(server.smtp_port)
        self.conn.ehlo("bystander.test")
        self.sent = 0

    def noop(self):
        self.conn.expect("NOOP", 250)

    def _send(self, c):
        msg = make_message(to=BYSTANDER_RCPT, subject="bystander " + unique())
        c.expect("MAIL FROM:<bystander@b.test>", 250)
        c.expect(f"RCPT TO:<{BYSTANDER_RCPT}>", 250)
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        r = c.reply()
        assert r.code == 250, f"bystander's message refused: {r!r}"
        self.sent += 1
        return msg

    def check(self):
        self.noop()
        msgs = [self._send(self.conn)]
        with RawSMTP(self.server.smtp_port) as c:
            c.ehlo("bystander2.test")
            msgs.append(self._send(c))
            c.expect("QUIT", 221)
        files = self.server.wait_files(BYSTANDER_RCPT, self.sent)
        assert len(files) == self.sent
        contents = [f.read_bytes() for f in files]
        for m in msgs:
            hits = [x for x in contents if x.endswith(m.replace(b"\r\n", b"\n"))]
            assert len(hits) == 1
            check_stored(hits[0], "bystander@b.test", BYSTANDER_RCPT, m)

    def close(self):
        self.conn.close()


@pytest.fixture
def bystander(poshta):
    b = Bystander(poshta)
    yield b
    b.close()


def open_transaction(server, rcpts=("postmaster@localhost",)):
    c = RawSMTP(server.smtp_port)
    c.ehlo()
    c.expect("MAIL FROM:<a@b.test>", 250)
    for r in rcpts:
        c.expect(f"RCPT TO:<{r}>", 250)
    return c


# ----------------------------------------------------------------- commands


def test_unknown_command(poshta, bystander):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        r = c.cmd("FROBNICATE now")
        assert r.code == 500, r
        assert r.enhanced is None or r.enhanced.startswith("5.5."), r
        bystander.noop()
        c.expect("NOOP", 250)
    bystander.check()


@pytest.mark.parametrize("line", ["MAIL FROM:bad", "MAIL FROM:<a@b.test", "MAIL FROM <a@b.test>",
                                  "MAIL TO:<a@b.test>", "MAIL FROM:<a@@b.test>", "MAIL"])
def test_mail_syntax_error_is_501(poshta, bystander, line):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        r = c.cmd(line)
        assert r.code == 501, f"{line!r}: {r!r}"
        # no transaction was started
        r = c.cmd("RCPT TO:<postmaster@localhost>")
        assert r.code == 503, r
        c.expect("MAIL FROM:<a@b.test>", 250)
    bystander.check()


@pytest.mark.parametrize("line", ["RCPT TO:bad", "RCPT TO:<postmaster@localhost", "RCPT",
                                  "RCPT FROM:<postmaster@localhost>"])
def test_rcpt_syntax_error_is_501(poshta, bystander, line):
    with open_transaction(poshta, ()) as c:
        r = c.cmd(line)
        assert r.code == 501, f"{line!r}: {r!r}"
        c.expect("RCPT TO:<postmaster@localhost>", 250)
    bystander.check()


def test_unknown_parameter_is_555(poshta, bystander):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<a@b.test> FOO=1")
        assert r.code == 555, r
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd("RCPT TO:<postmaster@localhost> FOO=1")
        assert r.code == 555, r
        c.expect("RCPT TO:<postmaster@localhost>", 250)
    bystander.check()


def test_size_parameter_over_limit_is_552(poshta, bystander):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        r = c.cmd("MAIL FROM:<a@b.test> SIZE=999999999")
        assert r.code == 552, r
        assert r.enhanced is None or r.enhanced == "5.3.4", r
        r = c.cmd("MAIL FROM:<a@b.test> SIZE=1048577")
        assert r.code == 552, r
        c.expect("MAIL FROM:<a@b.test> SIZE=1048576", 250)
    bystander.check()


def test_message_over_size_limit_is_552_after_the_data(poshta, bystander):
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        head = make_message(body="start")
        line = b"x" * 98 + b"\r\n"
        chunk = line * 1000                      # 100 kB
        c.send(head)
        for i in range(12):                      # 1.2 MB in all > 1 MiB
            c.send(chunk)
            if i == 6:
                bystander.noop()                 # served in the middle of it
        c.send(b".\r\n")
        r = c.reply()
        assert r.code == 552, r
        assert r.enhanced is None or r.enhanced in ("5.3.4", "5.2.3"), r
        c.expect("NOOP", 250)
        c.expect("RSET", 250)
    assert deliver_marker(poshta) == [], "the oversize message was delivered"
    bystander.check()


def sized_message(total):
    head = make_message(body="start")
    line = b"y" * 998 + b"\r\n"
    msg = head + line * ((total - len(head)) // len(line))
    msg += b"z" * (total - len(msg) - 2) + b"\r\n"
    assert len(msg) == total
    return msg


@pytest.mark.parametrize("mode", ["DATA", "BDAT"])
def test_size_limit_boundary(poshta, mode):
    """message_size counts the message as sent (RFC 1870): exactly
    1048576 octets is accepted, one more is refused."""
    for total, code in ((1048576, 250), (1048577, 552)):
        msg = sized_message(total)
        with open_transaction(poshta) as c:
            if mode == "DATA":
                c.expect("DATA", 354)
                c.send(dot_stuff(msg))
            else:
                c.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
            r = c.reply()
            assert r.code == code, f"{mode} of {total} octets: {r!r}"
            c.expect("NOOP", 250)
        if code == 250:
            check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    assert len(deliver_marker(poshta)) == 1


def test_too_many_recipients_452(poshta, bystander):
    users = [f"u{i:02d}@localhost" for i in range(1, 22)]
    for u in users:
        poshta.add_user(u)
    with open_transaction(poshta, ()) as c:
        for u in users[:20]:
            c.expect(f"RCPT TO:<{u}>", 250)
        r = c.cmd(f"RCPT TO:<{users[20]}>")
        assert r.code == 452, f"the 21st recipient (limit 20): {r!r}"
        c.expect("DATA", 354)
        msg = make_message(to="many@localhost")
        c.send(dot_stuff(msg))
        assert c.reply().code == 250
    for u in users[:20]:
        check_one_stored(poshta, u, "a@b.test", msg)
    assert poshta.new_files(users[20]) == []
    bystander.check()


def test_command_line_too_long_500(poshta, bystander):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        r = c.cmd("NOOP " + "x" * 600)
        assert r.code == 500, r
        c.expect("NOOP", 250)
        r = c.cmd("MAIL FROM:<" + "a" * 1000 + "@b.test>")
        assert r.code in (500, 501, 553), r
        c.expect("MAIL FROM:<a@b.test>", 250)
    bystander.check()


def test_huge_command_line_costs_nothing(poshta, bystander):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        try:
            c.send(b"NOOP " + b"x" * 2_000_000 + b"\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass                                   # the server may hang up on it
        try:
            r = c.reply()
            assert r.code in (500, 421), r
        except (ConnectionClosed, ConnectionResetError):
            pass
    bystander.check()


def test_nul_and_8bit_in_commands(poshta, bystander):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        r = c.cmd(b"NO\0OP")
        assert 500 <= r.code < 600, r
        r = c.cmd(b"MAIL FROM:<\xff\xfe@b.test>")
        assert 500 <= r.code < 600, r
        r = c.cmd(b"")
        assert 500 <= r.code < 600, f"empty command line: {r!r}"
        c.expect("NOOP", 250)
    bystander.check()


# ----------------------------------------------------------------- DATA framing


def test_text_line_over_1000_octets(poshta, bystander):
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        msg = make_message(body=["short", "z" * 1200, "short again"])
        c.send(dot_stuff(msg))
        r = c.reply()
        assert 500 <= r.code < 600, f"a 1202-octet text line must be refused: {r!r}"
        c.expect("NOOP", 250)
    assert deliver_marker(poshta) == [], "the message with a too long line was delivered"
    bystander.check()


def test_text_line_of_1000_octets_is_accepted(poshta):
    msg = make_message(body=["short", "w" * 998, "short again"])
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        r = c.reply()
        assert r.code == 250, f"998 octets + CRLF is the RFC 5321 limit and allowed: {r!r}"
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


@pytest.mark.parametrize("payload", [
    b"Subject: x\n\nbody\n.\n",                       # bare LF everywhere
    b"Subject: x\r\n\r\nbo\ndy\r\n",                  # one bare LF inside a line
    b"Subject: x\r\n\r\nbo\rdy\r\n",                  # one bare CR inside a line
    b"Subject: x\r\n\r\nbody\r",                      # bare CR before the end marker
], ids=["bare-lf-everywhere", "bare-lf", "bare-cr", "cr-before-end"])
def test_bare_cr_lf_in_data_rejected(poshta, bystander, payload):
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        c.send(payload + b"\r\n.\r\n")
        r = c.reply()
        assert 500 <= r.code < 600, f"bare CR/LF in DATA must be refused with 5xx: {r!r}"
        c.expect("NOOP", 250)
    assert deliver_marker(poshta) == [], "a message with bare CR/LF was delivered"
    bystander.check()


SMUGGLING = [b"\r\n.\n", b"\n.\r\n", b"\r.\r\n", b"\n.\n", b"\r\n.\r", b"\r\n\x00.\r\n"]


@pytest.mark.parametrize("fake_end", SMUGGLING, ids=[repr(s)[2:-1] for s in SMUGGLING])
def test_smtp_smuggling(poshta, bystander, fake_end):
    tag = unique()
    first = (b"From: <good@b.test>\r\nTo: <postmaster@localhost>\r\n"
             b"Subject: first " + tag.encode() + b"\r\n\r\nfirst body")
    smuggled = (b"MAIL FROM:<evil@x>\r\nRCPT TO:<postmaster@localhost>\r\nDATA\r\n"
                b"From: <evil@x>\r\nTo: <postmaster@localhost>\r\n"
                b"Subject: smuggled " + tag.encode() + b"\r\n\r\nsmuggled body\r\n.\r\n")
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        c.send(first + fake_end + smuggled + b"QUIT\r\n")
        data = c.read_until_closed(timeout=10)
    replies = parse_replies(data)
    codes = [code for code, _ in replies]
    assert 354 not in codes, f"the smuggled DATA command was executed: {data!r}"
    assert codes.count(250) <= 1, f"more than one message accepted: {data!r}"
    bystander.noop()
    others = deliver_marker(poshta)
    assert len(others) <= 1, f"{len(others)} messages delivered from one DATA"
    for f in others:
        content = f.read_bytes()
        assert not content.startswith(b"Return-Path: <evil@x>"), \
            f"the smuggled message was delivered as a message of its own: {content!r}"
        assert content.startswith(b"Return-Path: <a@b.test>\n")
        # if kept at all, the smuggled text is inside the first message
        assert b"first body" in content
    bystander.check()


# ----------------------------------------------------------------- sessions


def test_too_many_errors_421_and_close(poshta, bystander):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        got_421_at = None
        for i in range(1, 13):
            try:
                c.send(f"XYZZY{i}\r\n")
                r = c.reply()
            except (ConnectionClosed, BrokenPipeError, ConnectionResetError) as e:
                pytest.fail(f"connection closed without a 421 after {i - 1} bad commands: {e}")
            if r.code == 421:
                got_421_at = i
                break
            assert r.code == 500, f"bad command {i}: {r!r}"
        assert got_421_at in (10, 11), \
            f"421 must come after 10 bad commands (errors = 10), came at {got_421_at}"
        rest = c.read_until_closed(timeout=5)
        assert rest == b"", f"data after 421: {rest!r}"
    bystander.check()


def test_error_limit_from_configuration(poshta_factory):
    server = poshta_factory(limits={"errors": "3"})
    with RawSMTP(server.smtp_port) as c:
        codes = []
        for i in range(5):
            try:
                codes.append(c.cmd(f"BOGUS{i}").code)
            except (ConnectionClosed, BrokenPipeError, ConnectionResetError):
                break
            if codes[-1] == 421:
                break
        assert codes[-1] == 421 and len(codes) in (3, 4), codes
        c.read_until_closed(timeout=5)


def test_http_client_is_dropped_at_once(poshta, bystander):
    c = RawSMTP(poshta.smtp_port, greeting=False)
    try:
        c.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: curl/7.88.1\r\n"
               b"Accept: */*\r\n\r\n")
        data = c.read_until_closed(timeout=5)
    finally:
        c.close()
    lines = [l for l in data.split(b"\r\n") if l and not l.startswith(b"220")]
    assert len(lines) <= 1, f"an HTTP client gets at most one reply line: {data!r}"
    bystander.check()


def test_idle_client_times_out_with_421(poshta_factory):
    server = poshta_factory(limits={"command_timeout": '"2s"'})
    with RawSMTP(server.smtp_port, timeout=15) as c:
        c.ehlo()
        r = c.reply()                             # nothing sent: waits for the timeout
        assert r.code == 421, r
        assert c.read_until_closed(timeout=5) == b""


def test_too_many_received_fields_554_5_4_6(poshta, bystander):
    hops = "".join(f"Received: from h{i}.test by h{i + 1}.test; Thu, 26 Nov 2026 06:30:00 +0000\r\n"
                   for i in range(51)).encode()
    msg = hops + make_message()
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        r = c.reply()
        assert r.code == 554, f"51 Received fields: a mail loop (RFC 5321 §6.3): {r!r}"
        assert r.enhanced == "5.4.6", r
        c.expect("NOOP", 250)
    assert deliver_marker(poshta) == [], "the looping message was delivered"
    bystander.check()


def test_client_hangs_up_mid_data(poshta, bystander):
    c = open_transaction(poshta)
    c.expect("DATA", 354)
    c.send(make_message(subject="half " + unique())[:200])
    c.sock.shutdown(socket.SHUT_RDWR)
    c.close()
    assert deliver_marker(poshta) == [], "a message cut off mid-DATA was delivered"
    bystander.check()
    # nothing half-written is left in the spool that a restart would deliver
    poshta.restart()
    others = deliver_marker(poshta)
    assert len(others) == 1, f"after restart, besides the two markers: {others}"


def test_command_line_length_boundary(poshta, bystander):
    """RFC 5321 §4.5.3.1.4: 512 octets including CRLF is allowed, 513 is not."""
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        line = "NOOP " + "x" * (512 - 2 - 5)
        assert len(line) + 2 == 512
        c.expect(line, 250)
        r = c.cmd(line + "x")
        assert r.code == 500, f"a 513-octet command line: {r!r}"
        c.expect("NOOP", 250)
    bystander.check()


def test_rcpt_line_uses_the_dsn_extension_allowance(poshta):
    """RFC 3461 §4: NOTIFY and ORCPT may make a RCPT line 500 octets longer."""
    domain = ".".join(["d" * 60, "e" * 60, "f" * 60, "test"])      # 188 octets
    local = "l" * 64
    poshta.cli_ok("domain", "add", domain)
    poshta.add_user(f"{local}@{domain}")
    orcpt = "rfc822;" + "+2B" * 60 + "@" + domain
    line = f"RCPT TO:<{local}@{domain}> NOTIFY=SUCCESS,FAILURE,DELAY ORCPT={orcpt}"
    assert 512 < len(line) + 2 < 1012
    with open_transaction(poshta, ()) as c:
        c.expect(line, 250)
        c.expect("DATA", 354)
        msg = make_message(to=f"{local}@{domain}")
        c.send(dot_stuff(msg))
        assert c.reply().code == 250
    check_one_stored(poshta, f"{local}@{domain}", "a@b.test", msg)


def test_text_line_of_1001_octets_refused(poshta):
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        c.send(dot_stuff(make_message(body=["v" * 999])))
        r = c.reply()
        assert 500 <= r.code < 600, f"999 octets + CRLF is over the limit: {r!r}"
    assert deliver_marker(poshta) == []


def test_stuffed_dot_does_not_count_toward_the_line_limit(poshta):
    """RFC 5321 §4.5.3.1.6: 1000 octets 'not counting the leading dot
    duplicated for transparency'."""
    msg = make_message(body=["." + "s" * 997, "end"])          # 998 octets, 999 on the wire
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        r = c.reply()
        assert r.code == 250, r
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_bdat_over_size_limit_552(poshta, bystander):
    with open_transaction(poshta) as c:
        big = b"x" * 1_200_000
        c.send(b"BDAT %d LAST\r\n" % len(big) + big)
        r = c.reply()
        assert r.code == 552, r
        c.expect("NOOP", 250)
        # the chunk was consumed: the session is in sync and usable
        c.expect("MAIL FROM:<a@b.test>", 250)
    assert deliver_marker(poshta) == []
    bystander.check()


def test_connections_per_ip_limit(poshta_factory):
    server = poshta_factory(limits={"connections_per_ip": "3"})

    def three_served():
        # the probe connections of the fixture may still be counted for a
        # moment; retry until three clients at once are all greeted
        cs = [RawSMTP(server.smtp_port) for _ in range(3)]
        if all(c.greeting.code == 220 for c in cs):
            return cs
        for c in cs:
            c.close()
        return None
    conns = deadline_poll(three_served, 10, "three simultaneous clients to be served")
    try:
        extra = RawSMTP(server.smtp_port)
        try:
            assert extra.greeting.code == 421, f"4th connection from one address: {extra.greeting!r}"
            assert extra.read_until_closed(timeout=5) == b""
        finally:
            extra.close()
        leaving = conns.pop()
        leaving.cmd("QUIT")
        leaving.close()

        def fourth_ok():
            with RawSMTP(server.smtp_port) as c:
                ok = c.greeting.code == 220
                c.cmd("QUIT")
                return ok
        deadline_poll(fourth_ok, 10, "a connection slot after one client left")
        for c in conns:
            c.expect("NOOP", 250)
    finally:
        for c in conns:
            c.close()


def first_line(port, timeout=5):
    """The first line a new connection to `port` gets (greeting or refusal)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.split(b"\r\n", 1)[0]


def imap_listener():
    port = free_port()
    return port, f'[[listen]]\nprotocol = "imap"\naddress = "127.0.0.1:{port}"\n'


def test_connection_rate_per_ip(poshta_factory):
    imap_port, listener = imap_listener()
    server = poshta_factory(extra_toml=listener, limits={
        "connection_rate_per_ip": "5", "rate_limit_exempt": "[]"})
    # Start-up probes count too: somewhere within the first six, the
    # address is over five a minute, on every listener.
    lines = [first_line(server.smtp_port) for _ in range(6)]
    assert lines[0].startswith(b"220 "), lines
    assert lines[-1] == b"421 4.7.0 Too many new connections from your address, try again later", lines
    assert first_line(imap_port) == \
        b"* BYE [UNAVAILABLE] Too many new connections from your address, try again later"
    assert server.log_text().count('reason="Too many new connections from your address"') >= 2


def test_loopback_is_exempt_from_the_rates_by_default(poshta_factory):
    server = poshta_factory(limits={"connection_rate_per_ip": "5", "auth_failures_per_ip": "1"})
    lines = [first_line(server.smtp_port) for _ in range(30)]
    assert all(line.startswith(b"220 ") for line in lines), lines


def test_auth_failures_per_ip_refuse_the_address(poshta_factory):
    imap_port, listener = imap_listener()
    server = poshta_factory(extra_toml=listener, limits={
        "auth_failures_per_ip": "2", "connection_rate_per_ip": "0", "rate_limit_exempt": "[]"})
    for attempt in range(2):
        with socket.create_connection(("127.0.0.1", imap_port), timeout=15) as s:
            f = s.makefile("rb")
            assert f.readline().startswith(b"* OK")
            s.sendall(b"a LOGIN nobody@localhost wrong-password\r\n")
            assert f.readline().startswith(b"a NO [AUTHENTICATIONFAILED]"), attempt
    # The address is refused on every listener, with the reason.
    assert first_line(imap_port) == b"* BYE [UNAVAILABLE] Too many failed logins from your address, try again later"
    assert first_line(server.smtp_port) == b"421 4.7.0 Too many failed logins from your address, try again later"


def test_data_timeout_421(poshta_factory):
    server = poshta_factory(limits={"data_timeout": '"2s"'})
    with RawSMTP(server.smtp_port, timeout=20) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        c.expect("DATA", 354)
        c.send(b"Subject: stalled\r\n\r\nhalf a mess")
        r = c.reply()                    # the client stalls: the server gives up
        assert r.code == 421, r
        assert c.read_until_closed(timeout=5) == b""
    assert deliver_marker(server) == []


def test_connection_limit_counts_all_listeners(poshta_factory):
    server = poshta_factory(limits={"connections": "3"})
    ports = [server.smtp_port, server.submission_port, server.smtp_port]

    def three_served():
        cs = [RawSMTP(p) for p in ports]
        if all(c.greeting.code == 220 for c in cs):
            return cs
        for c in cs:
            c.close()
        return None
    conns = deadline_poll(three_served, 10, "three simultaneous clients to be served")
    try:
        for port in (server.submission_port, server.smtp_port):
            with RawSMTP(port) as extra:
                assert extra.greeting.code == 421, f"a 4th connection (limit 3): {extra.greeting!r}"
    finally:
        for c in conns:
            c.close()


def test_received_lines_in_the_body_do_not_count(poshta):
    """A bounce that quotes the headers of a looping message has many
    Received lines in its body; only header fields count as hops."""
    quoted = [f"Received: from h{i}.test by h{i + 1}.test; Thu, 26 Nov 2026 06:30:00 +0000"
              for i in range(60)]
    msg = make_message(body=["The original message's headers:", ""] + quoted + ["", "end"])
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        r = c.reply()
        assert r.code == 250, f"Received lines in the body are not hops: {r!r}"
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_received_field_names_are_case_insensitive(poshta):
    hops = "".join(f"{'rEcEiVeD' if i % 2 else 'received'}: from h{i}.test by h{i + 1}.test; "
                   f"Thu, 26 Nov 2026 06:30:00 +0000\r\n" for i in range(51)).encode()
    msg = hops + make_message()
    with open_transaction(poshta) as c:
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        r = c.reply()
        assert r.code == 554 and r.enhanced == "5.4.6", r
    assert deliver_marker(poshta) == []
