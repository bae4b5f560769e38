"""LMTP (RFC 2033): a `lmtp` listener beside the standard ones, driven by
Python's smtplib.LMTP and by raw bytes.

smtplib's sendmail() reads one reply after the data; an LMTP server sends
one per accepted recipient (§4.2), so the tests read the others with
getreply()."""

import re
import smtplib

import pytest

from poshta_helpers import (
    HOST, RawSMTP, check_one_stored, deadline_poll, deliver_marker, dot_stuff, ehlo_keywords,
    free_port, make_message, parse_replies, port_open, unique)


def with_lmtp(server):
    """Adds an lmtp listener (server.lmtp_port) to a server that is not started."""
    port = free_port()
    while port in (server.smtp_port, server.submission_port, getattr(server, "submissions_port", None)):
        port = free_port()
    server.lmtp_port = port
    with open(server.cfg, "a") as f:
        f.write(f'\n[[listen]]\nprotocol = "lmtp"\naddress = "{HOST}:{port}"\n')
    return server


def start_lmtp(server):
    server.start()
    deadline_poll(lambda: port_open(server.lmtp_port), 10, f"the lmtp listener on port {server.lmtp_port}")
    return server


@pytest.fixture
def lmtp(poshta_factory):
    """A running server with an lmtp listener and the users alice@localhost
    and bob@example.test."""
    server = start_lmtp(with_lmtp(poshta_factory(start=False)))
    server.add_user("alice@localhost")
    server.add_user("bob@example.test")
    return server


def lmtp_send(server, sender, rcpts, message):
    """smtplib.LMTP sendmail; returns (refused, [(code, text) per accepted
    recipient after the data])."""
    with smtplib.LMTP(HOST, server.lmtp_port, timeout=15) as s:
        # sendmail() raises when every recipient is refused or the first
        # reply after the data is not 250; it returns the refused ones.
        refused = s.sendmail(sender, rcpts, message)
        replies = []
        for _ in range(len(rcpts) - len(refused) - 1):
            code, text = s.getreply()
            replies.append((code, text.decode()))
    return refused, replies


# ----------------------------------------------------------------- configuration


def test_lmtp_listener_is_served(poshta_factory):
    server = with_lmtp(poshta_factory(start=False))
    r = server.cli("check")
    assert r.returncode == 0, r
    start_lmtp(server)
    log = server.log_text()
    assert re.search(r"event=listening protocol=lmtp address=127\.0\.0\.1:%d" % server.lmtp_port, log), log


# ----------------------------------------------------------------- greeting, LHLO, EHLO


def test_greeting_and_lhlo_capabilities(lmtp):
    with RawSMTP(lmtp.lmtp_port) as c:
        assert c.greeting.code == 220, c.greeting
        assert c.greeting.lines[0].startswith("mx.test ") and "LMTP" in c.greeting.text, c.greeting
        r = c.expect("LHLO client.test", 250)
        kw = ehlo_keywords(r)
        for want in ("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE", "CHUNKING", "SMTPUTF8"):
            assert want in kw, f"{want} missing in {r!r}"
        assert kw["SIZE"] == ["1048576"], r
        assert "STARTTLS" not in kw and "AUTH" not in kw, f"LMTP offers neither STARTTLS nor AUTH: {r!r}"
        assert c.cmd("STARTTLS").code == 502
        c.expect("QUIT", 221)


def test_ehlo_and_helo_are_refused(lmtp):
    with smtplib.SMTP(HOST, lmtp.lmtp_port, timeout=15) as s:
        code, text = s.ehlo("client.test")
        assert code == 500 and b"LHLO" in text, (code, text)
        code, text = s.helo("client.test")
        assert code == 500 and b"LHLO" in text, (code, text)
    # sendmail() with plain SMTP cannot say hello: it fails, nothing is queued.
    with smtplib.SMTP(HOST, lmtp.lmtp_port, timeout=15) as s:
        with pytest.raises(smtplib.SMTPHeloError):
            s.sendmail("a@b.test", ["alice@localhost"], make_message(to="alice@localhost"))
    with smtplib.LMTP(HOST, lmtp.lmtp_port, timeout=15) as s:
        code, _ = s.docmd("EHLO", "client.test")
        assert code == 500
        code, _ = s.ehlo()  # smtplib.LMTP says LHLO
        assert code == 250
    assert lmtp.new_files("alice@localhost") == []


def test_lhlo_on_the_smtp_port_is_an_unknown_command(lmtp):
    with RawSMTP(lmtp.smtp_port) as c:
        assert "LMTP" not in c.greeting.text
        assert c.cmd("LHLO client.test").code == 500


# ----------------------------------------------------------------- delivery


def test_sendmail_to_two_local_users(lmtp):
    rcpts = ["alice@localhost", "bob@example.test"]
    msg = make_message(to="alice@localhost", subject="lmtp " + unique())
    refused, more = lmtp_send(lmtp, "sender@b.test", rcpts, msg)
    assert refused == {}, refused
    assert len(more) == 1 and more[0][0] == 250 and "<bob@example.test>" in more[0][1], more
    ids = {check_one_stored(lmtp, r, "sender@b.test", msg, proto=r"LMTP") for r in rcpts}
    assert len(ids) == 1, f"one message, one queue id: {ids}"
    assert ids.pop() in more[0][1], more


def test_unknown_user_is_refused_and_the_others_delivered(lmtp):
    rcpts = ["alice@localhost", "nobody@localhost", "postmaster@localhost"]
    msg = make_message(to="alice@localhost")
    refused, more = lmtp_send(lmtp, "sender@b.test", rcpts, msg)
    assert list(refused) == ["nobody@localhost"], refused
    assert refused["nobody@localhost"][0] == 550, refused
    assert len(more) == 1 and more[0][0] == 250 and "<postmaster@localhost>" in more[0][1], more
    check_one_stored(lmtp, "alice@localhost", "sender@b.test", msg, proto=r"LMTP")
    check_one_stored(lmtp, "postmaster@localhost", "sender@b.test", msg, proto=r"LMTP")
    assert not (lmtp.maildir("nobody@localhost")).exists()


def test_every_recipient_refused_raises(lmtp):
    with smtplib.LMTP(HOST, lmtp.lmtp_port, timeout=15) as s:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as e:
            s.sendmail("a@b.test", ["nobody@localhost"], make_message(to="nobody@localhost"))
    assert e.value.recipients["nobody@localhost"][0] == 550


def test_remote_recipient_is_not_a_local_mailbox_even_from_trusted_networks(tls_poshta_factory):
    server = tls_poshta_factory(start=False, top_level='trusted_networks = ["127.0.0.0/8"]',
                                submissions=False, user=None)
    start_lmtp(with_lmtp(server))
    with RawSMTP(server.lmtp_port) as c:
        c.expect("LHLO client.test", 250)
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd("RCPT TO:<someone@remote.example>")
        assert r.code == 550 and r.enhanced == "5.1.1", r
        assert "not a local mailbox" in r.text, r
        c.expect("QUIT", 221)


def test_pipelined_bdat_last_gets_one_reply_per_recipient(lmtp):
    msg = make_message(to="alice@localhost")
    wire = (b"LHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<alice@localhost>\r\n"
            b"RCPT TO:<nobody@localhost>\r\nRCPT TO:<bob@example.test>\r\n"
            + b"BDAT %d LAST\r\n" % len(msg) + msg + b"QUIT\r\n")
    with RawSMTP(lmtp.lmtp_port) as c:
        c.send(wire)
        replies = parse_replies(c.read_until_closed())
    codes = [code for code, _ in replies]
    assert codes == [250, 250, 250, 550, 250, 250, 250, 221], replies
    texts = [b"\n".join(lines) for _, lines in replies]
    assert b"<alice@localhost>" in texts[5] and b"<bob@example.test>" in texts[6], texts
    check_one_stored(lmtp, "alice@localhost", "a@b.test", msg, proto=r"LMTP")
    check_one_stored(lmtp, "bob@example.test", "a@b.test", msg, proto=r"LMTP")


def test_smuggling_payload_is_refused_for_each_recipient(lmtp):
    tag = unique()
    with RawSMTP(lmtp.lmtp_port) as c:
        c.expect("LHLO client.test", 250)
        c.expect("MAIL FROM:<a@b.test>", 250)
        c.expect("RCPT TO:<alice@localhost>", 250)
        c.expect("RCPT TO:<bob@example.test>", 250)
        c.expect("DATA", 354)
        c.send(f"Subject: {tag}\r\n\r\nx\n.\nMAIL FROM:<e@f.test>\r\nRCPT TO:<postmaster@localhost>\r\n"
               "DATA\r\nsmuggled\r\n.\r\n")
        first, second = c.reply(), c.reply()
        for r, who in ((first, "alice@localhost"), (second, "bob@example.test")):
            assert r.code == 554 and r.enhanced == "5.6.0" and f"<{who}>" in r.text, r
        c.expect("NOOP", 250)  # the smuggled commands were content, not commands
        c.expect("QUIT", 221)
    for rcpt in ("alice@localhost", "bob@example.test", "postmaster@localhost"):
        others = deliver_marker(lmtp, rcpt)
        assert others == [], f"{rcpt} got a refused message: {others}"


def test_data_without_accepted_recipients_is_503(lmtp):
    with RawSMTP(lmtp.lmtp_port) as c:
        c.expect("LHLO client.test", 250)
        c.expect("MAIL FROM:<a@b.test>", 250)
        c.expect("RCPT TO:<nobody@localhost>", 550)
        c.expect("DATA", 503)
        c.expect("RSET", 250)
        c.expect("MAIL FROM:<a@b.test>", 250)
        c.expect("RCPT TO:<alice@localhost>", 250)
        c.expect("DATA", 354)
        msg = make_message(to="alice@localhost")
        c.send(dot_stuff(msg))
        r = c.reply()
        assert r.code == 250 and "<alice@localhost>" in r.text, r
        c.expect("QUIT", 221)
    check_one_stored(lmtp, "alice@localhost", "a@b.test", msg, proto=r"LMTP")
