"""Relay to other domains (SPEC.md: "relays it to other domains by looking
up their MX records"), with real peers on loopback:

- two (or three) Poshta servers, A = mx.a.test on 127.0.0.2 and
  B = mx.b.test on 127.0.0.3 (C = mx.c.test on 127.0.0.6), all on one port
  that is A's `[delivery] remote_port`;
- a dnsmasq answering only for the *.test names of the test (MX, A, null
  MX); every Poshta resolves through it;
- Postfix as a relay peer in both directions, Dovecot as an LMTP peer.

What is checked: delivery by MX with the message intact and traced,
bounces (DSN, RFC 3464) for permanent failures and for null MX (RFC 7505),
retries after a temporary failure, MX preference and fallback, implicit MX
(RFC 5321 §5.1), the smarthost, require_tls, and the queue administration
commands (`poshta queue list|show|flush|hold|release|delete`)."""

import re
import smtplib
import time

import pytest

from poshta_helpers import make_message, to_lf, unique

from relay_fixtures import (
    CLIENT_NAME, DELIVERY_TIMEOUT, arrivals_during, parse_dsn, stored_parts)

# fixtures: dns_factory, mta_factory, shared_port, postfix_factory, dovecot_factory
pytest_plugins = ("relay_fixtures",)

A_ADDR = "127.0.0.2"          # Poshta A, mx.a.test
B_ADDR = "127.0.0.3"          # Poshta B, mx.b.test
DEAD_ADDR = "127.0.0.4"       # nothing listens here
PF_ADDR = "127.0.0.5"         # Postfix
C_ADDR = "127.0.0.6"          # Poshta C, mx.c.test

ALICE = "alice@a.test"        # a user at A: the sender, who gets the bounces
BOB = "bob@b.test"            # a user at B

UNKNOWN_ID = "ffffffffffffffff"

A_ZONE = {"mx": {"a.test": [(10, "mx.a.test")], "b.test": [(10, "mx.b.test")]},
          "hosts": {"mx.a.test": A_ADDR, "mx.b.test": B_ADDR}}


# --------------------------------------------------------------------------
# helpers


@pytest.fixture
def relay_pair(dns_factory, mta_factory):
    """relay_pair(mx={}, hosts={}, a_delivery=None, b_domains=(), b_users=(),
    start_b=True) -> (dns, A, B). The zone has a.test and b.test (plus the
    records given); A serves a.test with the user alice, B serves b.test
    (plus b_domains) with bob (plus b_users)."""

    def make(mx=None, hosts=None, a_delivery=None, b_domains=(), b_users=(), start_b=True):
        dns = dns_factory(mx={**A_ZONE["mx"], **(mx or {})}, hosts={**A_ZONE["hosts"], **(hosts or {})})
        a = mta_factory("A", A_ADDR, "mx.a.test", ["a.test"], dns, users=[ALICE],
                        delivery=a_delivery)
        b = mta_factory("B", B_ADDR, "mx.b.test", ["b.test", *b_domains], dns,
                        users=[BOB, *b_users], start=start_b)
        return dns, a, b

    return make


def message(to, tag=None, sender=ALICE, body=None):
    """(subject, message bytes); the subject is unique and in the body too."""
    subject = f"{tag or 'relay'} {unique()}"
    return subject, make_message(subject=subject, sender=sender, to=to, body=body)


def received_fields(content):
    fields, _body = stored_parts(content)
    return [v for n, v in fields if n == "received"]


def check_relayed(content, sender, rcpt, msg, hops):
    """A file stored at the final MTA: LF line ends, Return-Path and
    Delivered-To for this envelope, one Received field per hop ("by NAME"),
    the latest first, each hop received from the one before it, and the
    message as sent (header and body, byte for byte) at the end."""
    assert b"\r" not in content, f"stored message contains CR: {content[:500]!r}"
    fields, _body = stored_parts(content)
    rp = [v for n, v in fields if n == "return-path"]
    assert rp and rp[0] == f"<{sender}>", f"Return-Path {rp}, expected <{sender}>:\n{content[:1500]!r}"
    dt = [v for n, v in fields if n == "delivered-to"]
    assert dt and rcpt.lower() in dt[0].lower(), f"Delivered-To {dt}, expected {rcpt}"
    received = [v for n, v in fields if n == "received"]
    at = []
    for hop in hops:
        idx = [i for i, v in enumerate(received) if re.search(rf"\bby {re.escape(hop)}\b", v)]
        assert idx, f"no Received field 'by {hop}' (hops expected, latest first: {hops}):\n" \
                    + "\n".join(received)
        at.append(idx[0])
    assert at == sorted(at), f"Received fields out of order, expected {hops} latest first:\n" \
                             + "\n".join(received)
    for newer, older in zip(hops, hops[1:]):
        field = received[at[hops.index(newer)]]
        assert re.search(rf"\bfrom {re.escape(older)}\b", field), \
            f"{newer}'s Received field does not say it was from {older} (its EHLO name): {field!r}"
    expected = to_lf(msg)
    assert content.endswith(expected), (
        "the relayed message differs from what was sent (or something was added inside it)\n"
        f"expected to end with: {expected[:1500]!r}\n"
        f"stored:               {content[-len(expected) - 300:][:1800]!r}")


def check_dsn(content, sender, failed, status=r"5\.\d{1,3}\.\d{1,3}", diagnostic=None,
              reporting="mx.a.test", subject=None):
    """A bounce stored in the sender's mailbox: envelope sender <>, from the
    mailer daemon, multipart/report; report-type=delivery-status whose
    message/delivery-status part has Reporting-MTA and, for exactly the
    `failed` recipients, Final-Recipient, Action: failed and a Status
    matching `status` (and Diagnostic-Code matching `diagnostic`)."""
    fields, _body = stored_parts(content)
    rp = [v for n, v in fields if n == "return-path"]
    assert rp and rp[0] == "<>", f"a DSN must have the null envelope sender, Return-Path is {rp}"
    msg, per_message, per_rcpt = parse_dsn(content)
    frm = msg.get("From", "")
    assert re.search(r"MAILER-DAEMON|Mail Delivery System", frm, re.I), \
        f"a DSN comes from MAILER-DAEMON / Mail Delivery System, From is {frm!r}"
    assert sender.lower() in msg.get("To", "").lower(), f"the DSN is not To the sender: {msg.get('To')!r}"
    assert reporting in per_message.get("reporting-mta", ""), \
        f"Reporting-MTA should name {reporting}: {per_message}"
    finals = {}
    for group in per_rcpt:
        final = group.get("final-recipient", "")
        m = re.match(r"^\s*rfc822\s*;\s*<?([^<>\s]+)>?\s*$", final, re.I)
        assert m, f"Final-Recipient must be 'rfc822; address', got {final!r} in {group}"
        finals[m.group(1).lower()] = group
    assert sorted(finals) == sorted(a.lower() for a in failed), \
        f"the DSN reports {sorted(finals)}, expected exactly {failed}"
    for addr, group in finals.items():
        assert group.get("action", "").lower() == "failed", f"{addr}: Action {group.get('action')!r}"
        assert re.fullmatch(status, group.get("status", "")), \
            f"{addr}: Status {group.get('status')!r}, expected {status}"
        if diagnostic:
            assert re.search(diagnostic, group.get("diagnostic-code", "")), \
                f"{addr}: Diagnostic-Code {group.get('diagnostic-code')!r}, expected {diagnostic}"
    if subject:
        assert subject.encode() in content, \
            f"the DSN should carry the original message or its header (subject {subject!r})"
    return msg, per_message, per_rcpt


def queue_text(server):
    r = server.queue("list")
    return f"(exit {r.returncode}) {r.stdout}{r.stderr}"


def assert_exactly(server, addr, n, settle=2.0):
    """After `settle` seconds more, addr still has exactly n messages."""
    time.sleep(settle)
    files = server.new_files(addr)
    assert len(files) == n, f"{addr} at {server.name}: {len(files)} messages, expected {n}: {files}"
    return files


# --------------------------------------------------------------------------
# 1. delivery by MX


def test_relay_by_mx_delivers_the_message_intact(relay_pair):
    _dns, a, b = relay_pair()
    subject, msg = message(BOB)
    assert a.send(ALICE, [BOB], msg) == {}
    files = b.wait_new(BOB)
    check_relayed(files[0].read_bytes(), ALICE, BOB, msg, hops=["mx.b.test", "mx.a.test"])
    a.wait_queue_empty()
    assert_exactly(b, BOB, 1, settle=1.0)
    assert a.new_files(ALICE) == [], "the sender got a message (a bounce?) for a delivered message"


def test_relay_keeps_a_large_8bit_message_with_dots_intact(relay_pair):
    _dns, a, b = relay_pair()
    lines = ["Grüße, Привіт — 8-bit text", ""]
    for i in range(4000):
        lines += [f".{i} a line that starts with a dot", "..", ".", f"line {i} " + "x" * (i % 90)]
    lines.append("y" * 998)                                   # the longest line allowed
    subject, msg = message(BOB, tag="large", body=lines)
    assert len(msg) > 200_000
    assert a.send(ALICE, [BOB], msg, mail_options=["BODY=8BITMIME"]) == {}
    files = b.wait_new(BOB)
    check_relayed(files[0].read_bytes(), ALICE, BOB, msg, hops=["mx.b.test", "mx.a.test"])
    a.wait_queue_empty()


# --------------------------------------------------------------------------
# 2. permanent failure: a bounce


def test_unknown_user_at_the_peer_bounces_to_the_sender(relay_pair):
    _dns, a, b = relay_pair()
    subject, msg = message("nobody@b.test")
    assert a.send(ALICE, ["nobody@b.test"], msg) == {}
    files = a.wait_new(ALICE, what="a bounce (DSN) in alice's mailbox at A")
    check_dsn(files[0].read_bytes(), ALICE, ["nobody@b.test"], status=r"5\.1\.1",
              diagnostic=r"550", subject=subject)
    a.wait_queue_empty()
    assert_exactly(a, ALICE, 1, settle=1.0)
    assert b.all_mail_files() == [], f"B stored something: {b.all_mail_files()}"


def test_bounce_names_only_the_failed_recipient(relay_pair):
    """One message to a good and a bad remote recipient and a local one:
    the good ones get it, the DSN names only the bad one."""
    _dns, a, b = relay_pair()
    a.add_user("carol@a.test")
    subject, msg = message(BOB)
    assert a.send(ALICE, [BOB, "nobody@b.test", "carol@a.test"], msg) == {}
    b.wait_new(BOB)
    a.wait_new("carol@a.test")
    files = a.wait_new(ALICE, what="a bounce (DSN) in alice's mailbox at A")
    check_dsn(files[0].read_bytes(), ALICE, ["nobody@b.test"], status=r"5\.1\.1")
    a.wait_queue_empty()
    assert_exactly(a, ALICE, 1, settle=1.0)
    assert len(b.new_files(BOB)) == 1 and len(a.new_files("carol@a.test")) == 1


# --------------------------------------------------------------------------
# 3. temporary failure: deferred, then retried


def test_peer_down_message_is_deferred_then_flushed_once(relay_pair):
    _dns, a, b = relay_pair(a_delivery={"retry": ["1h"]}, start_b=False)
    subject, msg = message(BOB)
    assert a.send(ALICE, [BOB], msg) == {}

    m, r = a.wait_deferred(BOB)
    assert m["sender"] == ALICE, f"queue list names the sender {m['sender']!r}: {m['line']!r}"
    assert re.search(r"attempts=\d+", r["line"]), f"no attempts=N in {r['line']!r}"
    assert re.search(r"refused", r["line"], re.I), \
        f"the last error (connection refused) is not shown: {r['line']!r}"
    qid = m["id"]

    show = a.queue_ok("show", qid).stdout
    for needle in (f"id: {qid}", f"sender: <{ALICE}>", BOB, "state: deferred", "attempts:",
                   "last error:", f"Subject: {subject}"):
        assert needle.lower() in show.lower(), f"`queue show {qid}` lacks {needle!r}:\n{show}"
    assert re.search(r"last error:.*refused", show, re.I), f"`queue show` error text:\n{show}"

    b.start()
    early = arrivals_during(lambda: b.new_files(BOB), 1.5)
    assert early == [], "retry is 1h, yet the message was retried before the flush"
    a.queue_ok("flush")
    files = b.wait_new(BOB)
    check_relayed(files[0].read_bytes(), ALICE, BOB, msg, hops=["mx.b.test", "mx.a.test"])
    a.wait_queue_empty()
    assert_exactly(b, BOB, 1)
    assert a.new_files(ALICE) == [], "a deferred-then-delivered message must not bounce"


def test_deferred_message_is_retried_on_schedule(relay_pair):
    _dns, a, b = relay_pair(a_delivery={"retry": ["2s"]}, start_b=False)
    _subject, msg = message(BOB)
    assert a.send(ALICE, [BOB], msg) == {}
    a.wait_deferred(BOB)
    b.start()
    b.wait_new(BOB, timeout=DELIVERY_TIMEOUT)     # no flush: the retry timer does it
    a.wait_queue_empty()
    assert_exactly(b, BOB, 1)


# --------------------------------------------------------------------------
# 4. MX hosts: preference and fallback


def test_equal_preference_mx_with_a_dead_host_still_delivers(relay_pair):
    """Two MX of equal preference, one with nothing listening: each message
    reaches B at its first attempt (retry is 1h, so a message that tried
    only the dead host would stay deferred). Four messages: whichever
    order the hosts are tried in, some try the dead one first."""
    _dns, a, b = relay_pair(
        mx={"multi.test": [(10, "dead.multi.test"), (10, "mx.b.test")]},
        hosts={"dead.multi.test": DEAD_ADDR},
        a_delivery={"retry": ["1h"]}, b_domains=["multi.test"], b_users=["bob@multi.test"])
    for _ in range(4):
        _subject, msg = message("bob@multi.test")
        assert a.send(ALICE, ["bob@multi.test"], msg) == {}
    b.wait_new("bob@multi.test", 4)
    a.wait_queue_empty()


def test_lower_preference_value_is_tried_first(relay_pair, mta_factory):
    """pref.test: MX 20 mx.c.test (listed first), MX 10 mx.b.test; both
    accept the mail, so it must go to B, the lower value."""
    dns, a, b = relay_pair(
        mx={"pref.test": [(20, "mx.c.test"), (10, "mx.b.test")]},
        hosts={"mx.c.test": C_ADDR},
        b_domains=["pref.test"], b_users=["bob@pref.test"])
    c = mta_factory("C", C_ADDR, "mx.c.test", ["pref.test"], dns, users=["bob@pref.test"])
    for _ in range(3):
        _subject, msg = message("bob@pref.test")
        assert a.send(ALICE, ["bob@pref.test"], msg) == {}
    b.wait_new("bob@pref.test", 3)
    a.wait_queue_empty()
    assert c.new_files("bob@pref.test") == [], "mail went to the MX of preference 20"


# --------------------------------------------------------------------------
# 5. null MX (RFC 7505) and 6. implicit MX (RFC 5321 §5.1)


def test_null_mx_bounces_at_once(relay_pair):
    _dns, a, _b = relay_pair(mx={"nullmx.test": [(0, ".")]}, a_delivery={"retry": ["1h"]})
    subject, msg = message("bob@nullmx.test")
    start = time.monotonic()
    assert a.send(ALICE, ["bob@nullmx.test"], msg) == {}
    files = a.wait_new(ALICE, timeout=10, what="an immediate bounce for a null-MX domain")
    check_dsn(files[0].read_bytes(), ALICE, ["bob@nullmx.test"], subject=subject)
    assert time.monotonic() - start < 10
    a.wait_queue_empty()


def test_domain_without_mx_gets_mail_at_its_address(relay_pair):
    _dns, a, b = relay_pair(hosts={"implicit.test": B_ADDR}, b_domains=["implicit.test"],
                            b_users=["bob@implicit.test"])
    _subject, msg = message("bob@implicit.test")
    assert a.send(ALICE, ["bob@implicit.test"], msg) == {}
    files = b.wait_new("bob@implicit.test")
    check_relayed(files[0].read_bytes(), ALICE, "bob@implicit.test", msg,
                  hops=["mx.b.test", "mx.a.test"])
    a.wait_queue_empty()


def test_smarthost_takes_all_remote_mail(relay_pair, shared_port):
    """elsewhere.test has no DNS records at all: only the smarthost (B) can
    take its mail."""
    _dns, a, b = relay_pair(a_delivery={"smarthost": f"{B_ADDR}:{shared_port}"},
                            b_domains=["elsewhere.test"], b_users=["bob@elsewhere.test"])
    _subject, msg = message("bob@elsewhere.test")
    assert a.send(ALICE, ["bob@elsewhere.test"], msg) == {}
    files = b.wait_new("bob@elsewhere.test")
    check_relayed(files[0].read_bytes(), ALICE, "bob@elsewhere.test", msg,
                  hops=["mx.b.test", "mx.a.test"])
    a.wait_queue_empty()


# --------------------------------------------------------------------------
# 7. queue administration


def test_queue_list_of_an_empty_queue(relay_pair):
    _dns, a, _b = relay_pair()
    r = a.queue_ok("list")
    assert re.search(r"queue is empty", r.stdout, re.I), f"`queue list`: {r.stdout!r}"


@pytest.mark.parametrize("command", ["show", "delete", "hold", "release", "flush"])
def test_queue_commands_refuse_an_unknown_id(relay_pair, command):
    _dns, a, _b = relay_pair()
    r = a.queue(command, UNKNOWN_ID)
    out = (r.stdout + r.stderr).strip()
    assert r.returncode == 1, f"queue {command} {UNKNOWN_ID}: exit {r.returncode}: {out!r}"
    assert out and len(out.splitlines()) == 1, f"expected a one-line message, got {out!r}"


def test_hold_release_and_delete(relay_pair):
    _dns, a, b = relay_pair(a_delivery={"retry": ["1h"]}, start_b=False)
    subj_held, held_msg = message(BOB, tag="held")
    subj_gone, gone_msg = message(BOB, tag="deleted")
    assert a.send(ALICE, [BOB], held_msg) == {}
    assert a.send(ALICE, [BOB], gone_msg) == {}

    def both_deferred(parsed):
        return len(parsed) == 2 and all(r["state"] == "deferred" for m in parsed for r in m["rcpts"])
    _text, parsed = a.wait_queue(both_deferred, "two deferred messages")
    ids = {}
    for m in parsed:
        show = a.queue_ok("show", m["id"]).stdout
        ids["held" if subj_held in show else "deleted" if subj_gone in show else "?"] = m["id"]
    assert set(ids) == {"held", "deleted"}, f"`queue show` does not show the Subject fields: {ids}"

    a.queue_ok("hold", ids["held"])
    text, parsed = a.queue_list()
    held = [m for m in parsed if m["id"] == ids["held"]]
    assert held and held[0]["held"], f"`queue list` does not mark {ids['held']} (held):\n{text}"

    a.queue_ok("delete", ids["deleted"])
    text, parsed = a.queue_list()
    assert ids["deleted"] not in [m["id"] for m in parsed], f"deleted message still listed:\n{text}"
    assert ids["held"] in [m["id"] for m in parsed], f"the held message vanished:\n{text}"

    b.start()
    a.queue_ok("flush")
    got = arrivals_during(lambda: b.new_files(BOB), 3.0)
    assert got == [], f"a held or deleted message was delivered on flush: {[p.read_bytes()[:300] for p in got]}"
    text, parsed = a.queue_list()
    assert [m["id"] for m in parsed] == [ids["held"]] and parsed[0]["held"], \
        f"after the flush only the held message should remain, held:\n{text}"

    a.queue_ok("release", ids["held"])
    a.queue_ok("flush")
    files = b.wait_new(BOB)
    check_relayed(files[0].read_bytes(), ALICE, BOB, held_msg, hops=["mx.b.test", "mx.a.test"])
    a.wait_queue_empty()
    files = assert_exactly(b, BOB, 1)
    assert subj_gone.encode() not in files[0].read_bytes()


# --------------------------------------------------------------------------
# 8. Postfix as a peer


def test_relay_to_postfix(dns_factory, mta_factory, postfix_factory, shared_port):
    dns = dns_factory(mx={"pf.test": [(10, "mx.pf.test")]}, hosts={"mx.pf.test": PF_ADDR})
    pf = postfix_factory(PF_ADDR, shared_port, mailboxes=["carol@pf.test"])
    a = mta_factory("A", A_ADDR, "mx.a.test", ["a.test"], dns, users=[ALICE])
    _subject, msg = message("carol@pf.test")
    assert a.send(ALICE, ["carol@pf.test"], msg) == {}
    try:
        files = pf_wait(pf, "carol@pf.test")
    except AssertionError as e:
        raise AssertionError(f"{e}\nqueue at A:\n{queue_text(a)}\nPostfix log:\n"
                             f"{pf.log_text()}") from None
    check_relayed(files[0].read_bytes(), ALICE, "carol@pf.test", msg,
                  hops=["mx.pf.test", "mx.a.test"])
    a.wait_queue_empty()


def test_postfix_relays_to_poshta(dns_factory, mta_factory, postfix_factory, shared_port):
    dns = dns_factory()
    a = mta_factory("A", A_ADDR, "mx.a.test", ["a.test"], dns, users=[ALICE])
    pf = postfix_factory(PF_ADDR, shared_port, relay={"a.test": f"[{A_ADDR}]:{shared_port}"})
    _subject, msg = message(ALICE, sender="carol@pf.test")
    with smtplib.SMTP(PF_ADDR, shared_port, timeout=30, local_hostname=CLIENT_NAME) as s:
        assert s.sendmail("carol@pf.test", [ALICE], msg) == {}
    try:
        files = a.wait_new(ALICE)
    except AssertionError as e:
        raise AssertionError(f"{e}\nPostfix log:\n{pf.log_text()}") from None
    check_relayed(files[0].read_bytes(), "carol@pf.test", ALICE, msg,
                  hops=["mx.a.test", "mx.pf.test"])


def test_require_tls_never_sends_in_clear(dns_factory, mta_factory, postfix_factory, shared_port):
    """pf.test must get TLS, and this Postfix offers no STARTTLS: the
    message waits in the queue (deferred, the error says why) and is not
    delivered in clear text."""
    dns = dns_factory(mx={"pf.test": [(10, "mx.pf.test")]}, hosts={"mx.pf.test": PF_ADDR})
    pf = postfix_factory(PF_ADDR, shared_port, mailboxes=["carol@pf.test"])
    a = mta_factory("A", A_ADDR, "mx.a.test", ["a.test"], dns, users=[ALICE],
                    delivery={"retry": ["1h"], "require_tls": ["pf.test"]})
    _subject, msg = message("carol@pf.test")
    assert a.send(ALICE, ["carol@pf.test"], msg) == {}
    _m, r = a.wait_deferred("carol@pf.test")
    assert re.search(r"tls", r["line"], re.I), f"the deferral should say TLS was missing: {r['line']!r}"
    assert arrivals_during(lambda: pf.new_files("carol@pf.test"), 1.0) == [], \
        "the message was delivered without TLS"
    assert a.new_files(ALICE) == [], "require_tls must defer, not bounce at once"


def pf_wait(pf, addr, timeout=DELIVERY_TIMEOUT):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        files = pf.new_files(addr)
        if files:
            return files
        time.sleep(0.1)
    raise AssertionError(f"no message for {addr} in Postfix's Maildir {pf.maildir(addr)}/new "
                         f"after {timeout} s")


# --------------------------------------------------------------------------
# 9. LMTP into Dovecot


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_local_mail_goes_to_dovecot_by_lmtp(dns_factory, mta_factory, dovecot_factory, transport):
    dns = dns_factory()
    dc = dovecot_factory()
    users = ["dave@dc.test", "erin@dc.test"]
    lmtp = f"127.0.0.1:{dc.lmtp_port}" if transport == "tcp" else str(dc.lmtp_socket)
    a = mta_factory("A", A_ADDR, "mx.a.test", ["dc.test"], dns, users=users, delivery={"lmtp": lmtp})
    subject, msg = message("dave@dc.test", sender="someone@b.test")
    assert a.send("someone@b.test", users, msg) == {}
    tag = subject.encode()
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while time.monotonic() < deadline and len(dc.files_with(tag)) < 2:
        time.sleep(0.1)
    found = dc.files_with(tag)
    assert len(found) == 2, (f"expected one copy each for {users} in Dovecot's Maildirs under "
                             f"{dc.mail}, found {found}\nDovecot log:\n{dc.log_text()}")
    for user in users:
        mine = [p for p in found if f"/{user}/" in str(p)]
        assert len(mine) == 1, f"{user}: {mine} (all: {found})"
        content = mine[0].read_bytes()
        assert re.search(rb"\bby mx\.a\.test\b", content), \
            f"Poshta's Received field is missing: {content[:1500]!r}"
        assert content.endswith(to_lf(msg)), \
            f"the message differs from what was sent: {content[-len(msg) - 200:]!r}"
    assert [p for p in a.all_mail_files() if tag in p.read_bytes()] == [], \
        "with [delivery] lmtp, Poshta must not store local mail in its own Maildir"
    a.wait_queue_empty()
