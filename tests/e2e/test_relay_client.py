"""Poshta's SMTP client (delivery to the next hop), against a scripted fake
MTA (fake_mta.py) that records every command line and the DATA bytes
exactly as they arrive and answers what each test tells it.

Poshta trusts 127.0.0.0/8 (trusted_networks), so the test relays through
its smtp listener with smtplib; `[delivery] smarthost` points at the fake
(numeric, so no DNS is needed), or, for require_tls, a dnsmasq of the test
gives the domain an MX on 127.0.0.1 and `remote_port` is the fake's port.
Nothing leaves the loopback interface.

README.md, "Configuration reference", Relay paragraph: PIPELINING when
offered, several messages per connection, STARTTLS whenever offered with a
plaintext retry when the handshake fails (unless require_tls), 8BITMIME,
SIZE and DSN checks, CRLF and dot-stuffing on the wire, bounces and
`Action: relayed` reports."""

import re
import smtplib
import subprocess
import time

import pytest

from fake_mta import FakeMTA
from poshta_helpers import HOST, deadline_poll, make_message, unique

from relay_fixtures import parse_dsn, parse_queue_list, stored_parts

# fixtures: dns_factory (a dnsmasq of the test's own)
pytest_plugins = ("relay_fixtures",)

CLIENT_NAME = "client.test"   # smtplib must not ask the system's resolver for our name
TIMEOUT = 15                  # delivery is asynchronous: generous deadlines
ALICE = "alice@example.test"  # a user at Poshta: the sender, who gets the reports
REMOTE = "remote.test"        # a domain Poshta relays (to the smarthost)


# --------------------------------------------------------------------------
# helpers


@pytest.fixture
def fake_factory():
    """fake_factory(**kw) -> a started FakeMTA; all are stopped at teardown."""
    made = []

    def make(**kw):
        fake = FakeMTA(**kw).start()
        made.append(fake)
        return fake

    yield make
    for fake in made:
        fake.stop()


@pytest.fixture(scope="module")
def fake_cert(tmp_path_factory):
    """(cert, key) of a self-signed P-256 certificate for the fake's TLS."""
    d = tmp_path_factory.mktemp("fake-tls")
    cert, key = d / "cert.pem", d / "key.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-subj", "/CN=fake", "-days", "1"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"openssl req failed: {r.stderr}"
    return str(cert), str(key)


def toml_list(items):
    return "[" + ", ".join(f'"{i}"' for i in items) + "]"


def relay_poshta(poshta_factory, delivery="", users=(ALICE,), hostname=None, domains=None,
                 resolver=None, trusted=True):
    """A Poshta from conftest's factory with `delivery` (TOML lines) in its
    [delivery] table, loopback trusted for relay, and the users added before
    it starts."""
    server = poshta_factory(extra_toml=delivery, start=False)
    text = server.cfg.read_text()
    if hostname:
        text = text.replace('hostname = "mx.test"', f'hostname = "{hostname}"', 1)
    if domains:
        text = text.replace('domains = ["localhost", "example.test"]',
                            f"domains = {toml_list(domains)}", 1)
    if resolver:
        assert 'resolver = "127.0.0.1:9"' in text
        text = text.replace('resolver = "127.0.0.1:9"', f'resolver = "{resolver}"', 1)
    if trusted:
        text = 'trusted_networks = ["127.0.0.0/8"]\n' + text
    server.cfg.write_text(text)
    for u in users:
        server.add_user(u)
    return server.start()


def smarthost_poshta(poshta_factory, fake, retry="1s", more="", **kw):
    return relay_poshta(poshta_factory,
                        f'smarthost = "{fake.address}"\nretry = ["{retry}"]\n{more}', **kw)


def send(server, sender, rcpts, msg, mail_options=(), rcpt_options=()):
    """smtplib to Poshta's smtp listener (from loopback: trusted); returns the
    refused recipients."""
    with smtplib.SMTP(HOST, server.smtp_port, timeout=30, local_hostname=CLIENT_NAME) as s:
        return s.sendmail(sender, rcpts, msg, mail_options=list(mail_options),
                          rcpt_options=list(rcpt_options))


def message(to, tag="relay", body=None, sender=ALICE):
    """(subject, CRLF message bytes) with a unique subject."""
    subject = f"{tag} {unique()}"
    return subject, make_message(subject=subject, sender=sender, to=to, body=body)


def split_received(data):
    """Un-stuffed DATA bytes (CRLF): (the leading Received fields, the rest)."""
    lines = data.split(b"\r\n")
    i = 0
    while i < len(lines) and (lines[i].startswith(b"Received:")
                              or (i > 0 and lines[i][:1] in (b" ", b"\t"))):
        i += 1
    return b"\r\n".join(lines[:i]), b"\r\n".join(lines[i:])


def check_arrived(txn, msg, hostname="mx.test"):
    """The un-stuffed data is exactly one Received field of Poshta's (by
    hostname) followed by the message as sent."""
    received, rest = split_received(txn.data)
    assert rest == msg, ("the data at the next hop is not Received + the message as sent\n"
                         f"expected: {msg[:1500]!r}\n     got: {rest[:1500]!r}\n"
                         f"(whole data: {txn.data[:2000]!r})")
    assert received.count(b"Received:") == 1, f"expected one Received field: {received!r}"
    assert re.search(rb"\bby " + re.escape(hostname.encode()) + rb"\b", received), \
        f"Poshta's Received field does not say 'by {hostname}': {received!r}"
    return received


def assert_crlf_only(data, what):
    bare_lf = [m.start() for m in re.finditer(rb"(?<!\r)\n", data)]
    bare_cr = [m.start() for m in re.finditer(rb"\r(?!\n)", data)]
    assert not bare_lf and not bare_cr, (
        f"{what}: bare LF at {bare_lf[:5]}, bare CR at {bare_cr[:5]}: "
        f"{data[max(0, (bare_lf + bare_cr)[0] - 60):(bare_lf + bare_cr)[0] + 60]!r}")


def queue_list(server):
    r = server.cli("queue", "list")
    assert r.returncode == 0, f"poshta queue list exited {r.returncode}: {r.stdout}{r.stderr}"
    return r.stdout, parse_queue_list(r.stdout)


def wait_queue(server, predicate, what, timeout=TIMEOUT):
    last = {"text": ""}

    def probe():
        text, parsed = queue_list(server)
        last["text"] = text
        return (text, parsed) if predicate(parsed) else None
    try:
        return deadline_poll(probe, timeout, f"{what} in `poshta queue list`", interval=0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}\nlast `queue list`:\n{last['text']}") from None


def wait_deferred(server, rcpt, timeout=TIMEOUT, matching=None):
    """Waits until rcpt is deferred (and its line matches the regex
    `matching`); returns its recipient entry of the listing."""
    def hit(parsed):
        return [r for m in parsed for r in m["rcpts"]
                if r["addr"] == rcpt.lower() and r["state"] == "deferred"
                and (matching is None or re.search(matching, r["line"]))]
    _text, parsed = wait_queue(server, hit, f"{rcpt} deferred"
                               + (f" with /{matching}/" if matching else ""), timeout)
    return hit(parsed)[0]


def wait_queue_empty(server, timeout=TIMEOUT):
    return wait_queue(server, lambda parsed: parsed == [], "an empty queue", timeout)


def wait_reports(server, addr, n=1, timeout=TIMEOUT):
    files = server.wait_files(addr, n, timeout=timeout)
    return [f.read_bytes() for f in files]


def recipient_groups(content):
    """{final recipient (lower case): per-recipient fields} of a stored DSN."""
    _msg, per_message, per_rcpt = parse_dsn(content)
    out = {}
    for group in per_rcpt:
        m = re.match(r"^\s*rfc822\s*;\s*<?([^<>\s]+)>?\s*$", group.get("final-recipient", ""), re.I)
        assert m, f"Final-Recipient is not 'rfc822; address': {group}"
        out[m.group(1).lower()] = group
    return per_message, out


def check_bounce(content, rcpt, status, diagnostic=None):
    fields, _body = stored_parts(content)
    rp = [v for n, v in fields if n == "return-path"]
    assert rp == ["<>"], f"a DSN has the null envelope sender; Return-Path: {rp}"
    per_message, groups = recipient_groups(content)
    assert "mx.test" in per_message.get("reporting-mta", ""), f"Reporting-MTA: {per_message}"
    assert list(groups) == [rcpt.lower()], f"the DSN reports {list(groups)}, expected [{rcpt}]"
    g = groups[rcpt.lower()]
    assert g.get("action", "").lower() == "failed", f"Action {g.get('action')!r}: {g}"
    assert g.get("status") == status, f"Status {g.get('status')!r}, expected {status}: {g}"
    if diagnostic:
        assert re.search(diagnostic, g.get("diagnostic-code", "")), \
            f"Diagnostic-Code {g.get('diagnostic-code')!r} does not match /{diagnostic}/"
    return g


def no_mail_commands(fake):
    return [c for c in fake.all_commands() if c.upper().startswith(b"MAIL")]


def log_lines(server, *needles):
    return [line for line in server.log_text().splitlines() if all(n in line for n in needles)]


# --------------------------------------------------------------------------
# 1. PIPELINING and the bytes on the wire


def test_pipelining_sends_mail_rcpts_and_data_in_one_group(poshta_factory, fake_factory):
    fake = fake_factory(extensions=["PIPELINING", "ENHANCEDSTATUSCODES"])
    fake.pipeline_gate = True           # no reply before DATA has been read
    server = smarthost_poshta(poshta_factory, fake)
    rcpts = [f"r{i}@{REMOTE}" for i in (1, 2, 3)]
    _subject, msg = message(rcpts[0])   # the default body has lines starting with dots
    assert send(server, ALICE, rcpts, msg) == {}

    txn = fake.wait_transactions(1)[0]
    conn = [c for c in fake.connections if txn in c.transactions][0]
    assert not conn.gate_timed_out, ("Poshta waited for a reply before DATA although PIPELINING "
                                     f"was advertised:\n{fake.describe()}")
    assert not conn.early_data, f"Poshta sent data before the 354 reply:\n{fake.describe()}"
    events = conn.events
    i_mail = next(i for i, e in enumerate(events) if e[1] == "C" and e[2].upper().startswith(b"MAIL"))
    i_reply = next(i for i, e in enumerate(events) if i > i_mail and e[1] == "S")
    group = [e[2] for e in events[i_mail:i_reply] if e[1] == "C"]
    assert group == [f"MAIL FROM:<{ALICE}>\r\n".encode()] \
        + [f"RCPT TO:<{r}>\r\n".encode() for r in rcpts] + [b"DATA\r\n"], \
        f"expected MAIL, 3 RCPT and DATA before the first reply, got {group!r}"
    assert txn.accepted == rcpts

    # dot-stuffing on the wire (RFC 5321 §4.5.2), nothing else changed
    raw = txn.data_raw
    assert raw.endswith(b"\r\n.\r\n")
    for original, stuffed in ((b".leading dot line", b"..leading dot line"), (b".", b".."),
                              (b"..two dots", b"...two dots")):
        assert b"\r\n" + stuffed + b"\r\n" in raw, \
            f"{original!r} should arrive as {stuffed!r}: {raw[:1500]!r}"
    assert_crlf_only(raw, "DATA on the wire")
    check_arrived(txn, msg)
    wait_queue_empty(server)


# --------------------------------------------------------------------------
# 2. several messages over one connection


def test_several_messages_share_a_connection(poshta_factory, fake_factory):
    """A burst of messages for one destination: README allows up to five
    connections per destination and says messages share them. (With a burst
    of only 5, Poshta may open 5 connections of one message each when the
    queue runner hands all 5 over at once; 12 leave no room for that.)"""
    n = 12
    fake = fake_factory(extensions=["PIPELINING", "ENHANCEDSTATUSCODES"])
    server = smarthost_poshta(poshta_factory, fake)
    msgs = {}
    with smtplib.SMTP(HOST, server.smtp_port, timeout=30, local_hostname=CLIENT_NAME) as s:
        for i in range(n):
            subject, msg = message(f"n{i}@{REMOTE}", tag=f"burst{i}")
            msgs[subject] = msg
            assert s.sendmail(ALICE, [f"n{i}@{REMOTE}"], msg) == {}
    fake.wait_transactions(n)
    wait_queue_empty(server)
    # an idle connection may wait a moment for more mail, then says QUIT
    deadline_poll(lambda: all(c.closed for c in fake.connections), TIMEOUT,
                  "every connection to the fake closed")
    got = {}
    for t in fake.transactions():
        for subject in msgs:
            if subject.encode() in t.data:
                got.setdefault(subject, []).append(t)
    assert sorted(got) == sorted(msgs) and all(len(v) == 1 for v in got.values()), \
        f"each of the {n} messages must arrive exactly once: {[(k, len(v)) for k, v in got.items()]}"
    for subject, [t] in got.items():
        check_arrived(t, msgs[subject])
    per_conn = [len(c.transactions) for c in fake.connections]
    assert len(fake.connections) <= 5, (
        f"{n} messages to one smarthost took {len(fake.connections)} connections (README: up "
        f"to five per destination); messages per connection: {per_conn}\n{fake.describe()}")
    assert max(per_conn) >= 2, f"no connection carried more than one message:\n{fake.describe()}"
    for c in fake.connections:
        verbs = c.verbs()
        assert verbs[:1] == ["EHLO"] and verbs[-1:] == ["QUIT"], \
            f"connection #{c.index}: {verbs}\n{fake.describe()}"
        # MAIL RCPT DATA, then ([RSET] MAIL RCPT DATA)... on the same connection
        seq = [v for v in verbs[1:-1] if v != "RSET"]
        assert seq == ["MAIL", "RCPT", "DATA"] * len(c.transactions), \
            f"connection #{c.index}: unexpected command sequence {verbs}"


# --------------------------------------------------------------------------
# 3. one reply per recipient: delivered, bounced, deferred then delivered


def test_per_recipient_results(poshta_factory, fake_factory):
    ok, gone, later = f"ok@{REMOTE}", f"gone@{REMOTE}", f"later@{REMOTE}"
    state = {"later_ok": False}
    fake = fake_factory(extensions=["PIPELINING", "ENHANCEDSTATUSCODES"])

    def rcpt_reply(addr, _line, _conn):
        if addr == gone:
            return f"550 5.1.1 <{gone}>: Recipient address rejected: no such user"
        if addr == later and not state["later_ok"]:
            return f"450 4.2.1 <{later}>: mailbox busy, try again later"
        return None
    fake.rcpt_reply = rcpt_reply
    server = smarthost_poshta(poshta_factory, fake)
    subject, msg = message(ok, tag="per-rcpt")
    assert send(server, ALICE, [ok, gone, later], msg) == {}

    first = fake.wait_transactions(1)[0]
    assert first.accepted == [ok], f"first transaction: {first!r}"
    check_arrived(first, msg)

    [bounce] = wait_reports(server, ALICE)
    check_bounce(bounce, gone, "5.1.1", diagnostic=r"550 5\.1\.1")
    assert subject.encode() in bounce, "the bounce does not carry the original message"

    entry = wait_deferred(server, later, matching=r"450 4\.2\.1")
    assert "mailbox busy" in entry["line"], f"the 450 text is not in queue list: {entry['line']!r}"
    _text, parsed = queue_list(server)
    states = {r["addr"]: r["state"] for m in parsed for r in m["rcpts"]}
    assert states.get(gone) in (None, "failed") and states.get(ok) in (None, "delivered"), \
        f"queue list states: {states}"

    state["later_ok"] = True            # the retry (every 1 s) now gets through
    wait_queue_empty(server)
    retried = [t for t in fake.transactions() if later in t.accepted]
    assert len(retried) == 1, f"{later} should be delivered once: {fake.transactions()}"
    assert [r for r in retried[0].rcpts] == [f"RCPT TO:<{later}>".encode()], \
        f"the retry must name only the deferred recipient: {retried[0].rcpts}"
    check_arrived(retried[0], msg)
    assert sum(ok in t.accepted for t in fake.transactions()) == 1, "ok@ got the message twice"
    time.sleep(1.0)
    assert len(server.new_files(ALICE)) == 1, "the sender got more than the one bounce"


# --------------------------------------------------------------------------
# 4. STARTTLS


@pytest.mark.parametrize("mode", ["close", "garbage"])
def test_failed_starttls_handshake_falls_back_to_plaintext(poshta_factory, fake_factory, mode):
    fake = fake_factory(extensions=["PIPELINING", "STARTTLS", "ENHANCEDSTATUSCODES"])
    fake.starttls_mode = mode           # 220, then close / then garbage instead of a ServerHello
    server = smarthost_poshta(poshta_factory, fake, retry="1h")
    _subject, msg = message(f"bob@{REMOTE}", tag="tls-" + mode)
    start = time.monotonic()
    assert send(server, ALICE, [f"bob@{REMOTE}"], msg) == {}
    txn = fake.wait_transactions(1)[0]
    assert time.monotonic() - start < 10, "the plaintext retry was not at once"
    conns = fake.connections
    assert conns[0].verbs()[-1:] == ["STARTTLS"], f"first connection: {conns[0].verbs()}"
    delivering = [c for c in conns if txn in c.transactions][0]
    assert delivering.index > 0 and "STARTTLS" not in delivering.verbs(), \
        f"the delivery should be a new plaintext connection:\n{fake.describe()}"
    assert not txn.tls
    check_arrived(txn, msg)
    assert log_lines(server, "event=tls_failed", "next=plaintext"), \
        "no event=tls_failed ... next=plaintext in the log"
    wait_queue_empty(server)


def test_require_tls_does_not_fall_back_to_plaintext(poshta_factory, fake_factory, dns_factory):
    fake = fake_factory(extensions=["PIPELINING", "STARTTLS", "ENHANCEDSTATUSCODES"])
    fake.starttls_mode = "close"
    dns = dns_factory(mx={"secure.test": [(10, "mx.secure.test")]},
                      hosts={"mx.secure.test": "127.0.0.1"})
    server = relay_poshta(poshta_factory,
                          f'remote_port = {fake.port}\nrequire_tls = ["secure.test"]\n'
                          f'retry = ["1h"]\n', resolver=dns.address)
    rcpt = "bob@secure.test"
    _subject, msg = message(rcpt, tag="require-tls")
    assert send(server, ALICE, [rcpt], msg) == {}
    entry = wait_deferred(server, rcpt)
    assert re.search(r"tls", entry["line"], re.I), f"the deferral does not mention TLS: {entry['line']!r}"
    fake.wait_connections(1, closed=True)
    time.sleep(1.0)
    assert no_mail_commands(fake) == [], f"the message went out without TLS:\n{fake.describe()}"
    assert all("STARTTLS" in c.verbs() for c in fake.connections), \
        f"a connection without STARTTLS was made:\n{fake.describe()}"
    assert not log_lines(server, "next=plaintext"), "the log announces a plaintext retry"
    assert server.new_files(ALICE) == [], "require_tls must defer, not bounce"


def test_starttls_success_greets_again_inside_tls(poshta_factory, fake_factory, fake_cert):
    cert, key = fake_cert
    fake = fake_factory(extensions=["PIPELINING", "STARTTLS", "8BITMIME", "ENHANCEDSTATUSCODES"],
                        certfile=cert, keyfile=key)
    server = smarthost_poshta(poshta_factory, fake)
    rcpt = f"bob@{REMOTE}"
    _subject, msg = message(rcpt, tag="tls")
    assert send(server, ALICE, [rcpt], msg) == {}
    txn = fake.wait_transactions(1)[0]
    conn = [c for c in fake.connections if txn in c.transactions][0]
    assert conn.tls_version and conn.tls_version.startswith("TLSv1."), conn.tls_version
    lines = conn.lines
    verbs = conn.verbs()
    assert verbs[:3] == ["EHLO", "STARTTLS", "EHLO"], f"commands: {verbs}"
    assert [tls for _raw, tls in lines[:3]] == [False, False, True], \
        f"the second EHLO must come inside TLS: {lines[:3]}"
    assert all(tls for _raw, tls in lines[2:]), f"a command after STARTTLS came in plaintext: {lines}"
    assert txn.tls
    check_arrived(txn, msg)
    wait_queue_empty(server)
    hits = log_lines(server, f"rcpt={rcpt}", "result=delivered")
    assert hits and all(re.search(r"\btls=TLSv1\.[23]\b", h) for h in hits), \
        f"the delivery log line does not name the TLS version: {hits}"


# --------------------------------------------------------------------------
# 5. 8BITMIME


def eight_bit_message(to):
    return message(to, tag="8bit", body=["Grüße aus Kyjiw: Привіт, світ!", "", "ünïcödé — end"])


def test_8bit_message_to_a_server_without_8bitmime_bounces_with_5_6_3(poshta_factory, fake_factory):
    fake = fake_factory(extensions=["PIPELINING", "ENHANCEDSTATUSCODES"])
    server = smarthost_poshta(poshta_factory, fake)
    rcpt = f"bob@{REMOTE}"
    subject, msg = eight_bit_message(rcpt)
    assert send(server, ALICE, [rcpt], msg, mail_options=["BODY=8BITMIME"]) == {}
    [bounce] = wait_reports(server, ALICE)
    check_bounce(bounce, rcpt, "5.6.3")
    wait_queue_empty(server)
    assert no_mail_commands(fake) == [], \
        f"the 8-bit message was offered to a server without 8BITMIME:\n{fake.describe()}"


def test_8bit_message_carries_body_8bitmime(poshta_factory, fake_factory):
    fake = fake_factory(extensions=["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"])
    server = smarthost_poshta(poshta_factory, fake)
    rcpt = f"bob@{REMOTE}"
    _subject, msg = eight_bit_message(rcpt)
    assert send(server, ALICE, [rcpt], msg, mail_options=["BODY=8BITMIME"]) == {}
    txn = fake.wait_transactions(1)[0]
    assert txn.mail == f"MAIL FROM:<{ALICE}> BODY=8BITMIME".encode(), f"MAIL: {txn.mail!r}"
    check_arrived(txn, msg)
    wait_queue_empty(server)


# --------------------------------------------------------------------------
# 6. SIZE


def test_message_over_the_servers_size_bounces_with_5_3_4(poshta_factory, fake_factory):
    fake = fake_factory(extensions=["PIPELINING", "SIZE 1000", "ENHANCEDSTATUSCODES"])
    server = smarthost_poshta(poshta_factory, fake)
    rcpt = f"bob@{REMOTE}"
    subject, msg = message(rcpt, tag="big", body=[])
    msg += (b"x" * 78 + b"\r\n") * ((5000 - len(msg)) // 80)
    assert 4900 < len(msg) <= 5000
    assert send(server, ALICE, [rcpt], msg) == {}
    [bounce] = wait_reports(server, ALICE)
    check_bounce(bounce, rcpt, "5.3.4")
    wait_queue_empty(server)
    assert no_mail_commands(fake) == [], f"the message was offered anyway:\n{fake.describe()}"


def test_mail_from_declares_the_size(poshta_factory, fake_factory):
    fake = fake_factory(extensions=["PIPELINING", "SIZE", "ENHANCEDSTATUSCODES"])
    server = smarthost_poshta(poshta_factory, fake)
    rcpt = f"bob@{REMOTE}"
    _subject, msg = message(rcpt, tag="size")
    assert send(server, ALICE, [rcpt], msg) == {}
    txn = fake.wait_transactions(1)[0]
    m = re.fullmatch(rb"MAIL FROM:<" + re.escape(ALICE.encode()) + rb"> SIZE=(\d+)", txn.mail)
    assert m, f"MAIL: {txn.mail!r}"
    # RFC 1870 §3: the octets after 354, CRLF pairs included, without the
    # end marker and the doubled dots.
    assert int(m.group(1)) == len(txn.data), \
        f"SIZE={m.group(1).decode()} but {len(txn.data)} octets were transmitted"
    check_arrived(txn, msg)
    wait_queue_empty(server)


# --------------------------------------------------------------------------
# 7. DSN parameters (RFC 3461)


def test_dsn_parameters_are_passed_on(poshta_factory, fake_factory):
    fake = fake_factory(extensions=["PIPELINING", "DSN", "ENHANCEDSTATUSCODES"])
    server = smarthost_poshta(poshta_factory, fake)
    rcpt = f"bob+tag@{REMOTE}"
    _subject, msg = message(rcpt, tag="dsn")
    envid = "env-" + unique()
    assert send(server, ALICE, [rcpt], msg, mail_options=["RET=HDRS", f"ENVID={envid}"],
                rcpt_options=["NOTIFY=SUCCESS,FAILURE", f"ORCPT=rfc822;bob+2Btag@{REMOTE}"]) == {}
    txn = fake.wait_transactions(1)[0]
    assert txn.mail == f"MAIL FROM:<{ALICE}> RET=HDRS ENVID={envid}".encode(), f"MAIL: {txn.mail!r}"
    assert txn.rcpts == [f"RCPT TO:<{rcpt}> NOTIFY=SUCCESS,FAILURE "
                         f"ORCPT=rfc822;bob+2Btag@{REMOTE}".encode()], f"RCPT: {txn.rcpts!r}"
    check_arrived(txn, msg)
    wait_queue_empty(server)
    time.sleep(1.0)
    assert server.new_files(ALICE) == [], \
        "the next hop took NOTIFY (DSN advertised): Poshta must not report success itself"


def test_notify_success_to_a_server_without_dsn_gets_a_relayed_report(poshta_factory, fake_factory):
    fake = fake_factory(extensions=["PIPELINING", "ENHANCEDSTATUSCODES"])
    server = smarthost_poshta(poshta_factory, fake)
    rcpt = f"bob@{REMOTE}"
    subject, msg = message(rcpt, tag="relayed")
    envid = "env-" + unique()
    assert send(server, ALICE, [rcpt], msg, mail_options=[f"ENVID={envid}"],
                rcpt_options=["NOTIFY=SUCCESS", f"ORCPT=rfc822;{rcpt}"]) == {}
    txn = fake.wait_transactions(1)[0]
    assert txn.mail == f"MAIL FROM:<{ALICE}>".encode(), f"DSN parameters to a server without DSN: {txn.mail!r}"
    assert txn.rcpts == [f"RCPT TO:<{rcpt}>".encode()], f"RCPT: {txn.rcpts!r}"
    check_arrived(txn, msg)
    [report] = wait_reports(server, ALICE)
    per_message, groups = recipient_groups(report)
    assert list(groups) == [rcpt], f"the report names {list(groups)}"
    g = groups[rcpt]
    assert g.get("action", "").lower() == "relayed", f"Action {g.get('action')!r}: {g}"
    assert re.fullmatch(r"2\.\d{1,3}\.\d{1,3}", g.get("status", "")), f"Status: {g}"
    assert envid in per_message.get("original-envelope-id", ""), \
        f"Original-Envelope-Id should be {envid}: {per_message}"
    assert re.fullmatch(rf"rfc822\s*;\s*{re.escape(rcpt)}", g.get("original-recipient", ""), re.I), \
        f"Original-Recipient should be rfc822;{rcpt} (RFC 3464 §2.3.1): {g}"
    wait_queue_empty(server)


# --------------------------------------------------------------------------
# 8. EHLO refused, 9. greeting refused


def test_ehlo_refused_falls_back_to_helo(poshta_factory, fake_factory):
    fake = fake_factory()
    fake.ehlo_reply = "500 5.5.1 Command unrecognized: EHLO"
    server = smarthost_poshta(poshta_factory, fake)
    rcpt = f"bob@{REMOTE}"
    _subject, msg = message(rcpt, tag="helo")
    assert send(server, ALICE, [rcpt], msg) == {}
    txn = fake.wait_transactions(1)[0]
    conn = [c for c in fake.connections if txn in c.transactions][0]
    assert conn.commands()[:2] == [b"EHLO mx.test", b"HELO mx.test"], f"commands: {conn.commands()}"
    assert txn.mail == f"MAIL FROM:<{ALICE}>".encode(), f"no ESMTP parameters after HELO: {txn.mail!r}"
    assert txn.rcpts == [f"RCPT TO:<{rcpt}>".encode()]
    check_arrived(txn, msg)
    wait_queue_empty(server)


def test_greeting_554_defers(poshta_factory, fake_factory):
    fake = fake_factory()
    fake.greeting = "554 5.7.1 fake.test: no SMTP service for you today"
    server = smarthost_poshta(poshta_factory, fake, retry="1h")
    rcpt = f"bob@{REMOTE}"
    _subject, msg = message(rcpt, tag="greet554")
    assert send(server, ALICE, [rcpt], msg) == {}
    fake.wait_connections(1, closed=True)

    def outcome():
        _text, parsed = queue_list(server)
        deferred = [r for m in parsed for r in m["rcpts"]
                    if r["addr"] == rcpt and r["state"] == "deferred"]
        return deferred or server.new_files(ALICE)
    got = deadline_poll(outcome, TIMEOUT, f"{rcpt} deferred (or a bounce)", interval=0.2)
    problems = []
    if server.new_files(ALICE):
        problems.append(
            "a 554 greeting bounced the message instead of deferring it\n"
            f"bounce: {server.new_files(ALICE)[0].read_bytes()[:700]!r}\n"
            "log:\n" + "\n".join(log_lines(server, "delivery")))
    else:
        entry = got[0]
        if not ("554" in entry["line"] and "no SMTP service" in entry["line"]):
            problems.append(f"the 554 greeting is not the recorded error: {entry['line']!r}")
    # RFC 5321 §3.1: the server waits for QUIT; §4.1.1.10: the client MUST
    # NOT close the channel before it sent QUIT.
    if fake.connections[0].verbs() != ["QUIT"]:
        problems.append("after the 554 greeting the client should send QUIT and nothing else, "
                        f"it sent {fake.connections[0].verbs()}:\n{fake.describe()}")
    if no_mail_commands(fake):
        problems.append(f"MAIL after a 554 greeting:\n{fake.describe()}")
    assert not problems, "\n\n".join(problems)


# --------------------------------------------------------------------------
# 10. smarthost with AUTH (a second Poshta as the smarthost)


RELAY_USER = "relay@b.test"
RELAY_PASSWORD = "relay pass " + unique()


def smarthost_pair(poshta_factory, tmp_path, password):
    b = relay_poshta(poshta_factory, hostname="mx.b.test", domains=["b.test"],
                     users=(), trusted=False)
    b.add_user(RELAY_USER, RELAY_PASSWORD)
    b.add_user("bob@b.test")
    pw = tmp_path / "smarthost.pw"
    pw.write_text(password + "\n")
    pw.chmod(0o600)
    a = relay_poshta(poshta_factory,
                     f'smarthost = "{HOST}:{b.submission_port}"\n'
                     f'smarthost_user = "{RELAY_USER}"\n'
                     f'smarthost_password_file = "{pw}"\n'
                     f'retry = ["1h"]\n',
                     hostname="mx.a.test", domains=["a.test"], users=())
    return a, b


def test_smarthost_with_auth(poshta_factory, tmp_path):
    # B's submission listener lets relay@b.test send only as itself (README:
    # "the envelope sender must be the user's address"), so that is the sender.
    a, b = smarthost_pair(poshta_factory, tmp_path, RELAY_PASSWORD)
    _subject, msg = message("bob@b.test", tag="smarthost-auth", sender=RELAY_USER)
    assert send(a, RELAY_USER, ["bob@b.test"], msg) == {}
    try:
        [content] = [p.read_bytes() for p in b.wait_files("bob@b.test", 1, timeout=TIMEOUT)]
    except AssertionError as e:
        _t, parsed = queue_list(a)
        raise AssertionError(f"{e}\nqueue at A: {parsed}") from None
    fields, _body = stored_parts(content)
    received = [v for n, v in fields if n == "received"]
    assert len(received) >= 2, f"expected B's and A's Received fields: {received}"
    assert re.search(r"\bby mx\.b\.test\b", received[0]), f"B's Received field: {received[0]!r}"
    assert re.search(r"\bwith ESMTPSA\b", received[0]), \
        f"B's Received field should say ESMTPSA (TLS + AUTH): {received[0]!r}"
    assert RELAY_USER in received[0], f"B's Received field should name {RELAY_USER}: {received[0]!r}"
    assert re.search(r"\bfrom mx\.a\.test\b", received[0]), f"B's Received: {received[0]!r}"
    assert re.search(r"\bby mx\.a\.test\b", received[1]), f"A's Received field: {received[1]!r}"
    assert content.endswith(msg.replace(b"\r\n", b"\n")), f"the message changed: {content[-800:]!r}"
    wait_queue_empty(a)


def test_smarthost_with_a_wrong_password_defers(poshta_factory, tmp_path):
    a, b = smarthost_pair(poshta_factory, tmp_path, "not the password")
    _subject, msg = message("bob@b.test", tag="smarthost-badauth", sender=RELAY_USER)
    assert send(a, RELAY_USER, ["bob@b.test"], msg) == {}
    entry = wait_deferred(a, "bob@b.test")
    assert re.search(r"auth", entry["line"], re.I), \
        f"the deferral does not mention authentication: {entry['line']!r}"
    assert b.new_files("bob@b.test") == []
    assert a.all_mail_files() == [], "A stored something (a bounce?)"


# --------------------------------------------------------------------------
# 11. sendmail input with LF line ends leaves with CRLF


def test_sendmail_lf_input_reaches_the_next_hop_with_crlf(poshta_factory, fake_factory):
    fake = fake_factory(extensions=["PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"])
    server = smarthost_poshta(poshta_factory, fake)
    tag = "sendmail-" + unique()
    rcpt = f"friend@{REMOTE}"
    lines = ["From: Cron Daemon <root@mx.test>", f"To: {rcpt}", f"Subject: {tag}",
             "Date: Thu, 26 Nov 2026 06:47:49 +0000", f"Message-ID: <{tag}@client.test>", "",
             "Hello,", "", ".leading dot", "..two dots", "trailing blanks   ", "\ttab", "end " + tag]
    stdin = ("\n".join(lines) + "\n").encode()
    r = subprocess.run([server.bin, "sendmail", "-t", "-i", "-c", str(server.cfg)], input=stdin,
                       capture_output=True, timeout=60, cwd=server.dir)
    assert r.returncode == 0, f"sendmail exited {r.returncode}: {r.stdout!r} {r.stderr!r}"
    txn = fake.wait_transactions(1)[0]
    assert txn.rcpts == [f"RCPT TO:<{rcpt}>".encode()], f"RCPT: {txn.rcpts!r}"
    assert_crlf_only(txn.data_raw, "the data from sendmail on the wire")
    assert b"\r\n..leading dot\r\n" in txn.data_raw and b"\r\n...two dots\r\n" in txn.data_raw
    received, rest = split_received(txn.data)
    assert rest == stdin.replace(b"\n", b"\r\n"), \
        f"the message differs from sendmail's input (with CRLF): {rest!r}"
    assert received.startswith(b"Received:"), f"no Received field: {txn.data[:500]!r}"
    wait_queue_empty(server)
