"""Every command of RFC 5321 and its ancestors (SPEC.md promise 4), spoken
over a raw socket, plus command sequencing and pipelining."""

import base64
import re

import pytest

from poshta_helpers import (
    RawSMTP, check_one_stored, deadline_poll, deliver_marker, dot_stuff, make_message,
    parse_replies, to_lf)

SEED_COMMANDS = ["HELO", "EHLO", "MAIL", "RCPT", "DATA", "BDAT", "RSET", "SEND", "SOML",
                 "SAML", "VRFY", "EXPN", "HELP", "NOOP", "QUIT"]


@pytest.fixture
def conn(poshta):
    with RawSMTP(poshta.smtp_port) as c:
        assert c.greeting.code == 220, c.greeting
        yield c


def session(poshta, ehlo=True):
    c = RawSMTP(poshta.smtp_port)
    if ehlo:
        c.ehlo()
    return c


def test_helo(poshta, conn):
    r = conn.expect("HELO client.test", 250)
    assert r.lines[0].split()[0] == "mx.test", r
    assert len(r.lines) == 1, f"HELO reply must be a single line: {r!r}"
    # a message over a HELO session is recorded as SMTP, not ESMTP
    msg = make_message()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    conn.expect("DATA", 354)
    conn.send(dot_stuff(msg))
    rep = conn.reply()
    assert rep.code == 250, rep
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, proto="SMTP", queue_id_in=rep.text)


def test_ehlo_advertises_extensions(conn):
    r = conn.expect("EHLO client.test", 250)
    assert r.lines[0].split()[0] == "mx.test", r
    ext = {line.split()[0].upper(): line.split()[1:] for line in r.lines[1:] if line.strip()}
    for keyword in ("PIPELINING", "SIZE", "8BITMIME", "ENHANCEDSTATUSCODES", "SMTPUTF8",
                    "CHUNKING", "DSN"):
        assert keyword in ext, f"EHLO does not advertise {keyword}: {r!r}"
    assert ext["SIZE"] == ["1048576"], f"SIZE must advertise the configured limit: {r!r}"


@pytest.mark.parametrize("verb", ["HELO", "EHLO"])
def test_helo_ehlo_need_a_domain(conn, verb):
    r = conn.cmd(verb)
    assert r.code == 501, r
    conn.expect(f"{verb} client.test", 250)


def test_ehlo_address_literal(conn):
    conn.expect("EHLO [127.0.0.1]", 250)
    conn.expect("EHLO [IPv6:::1]", 250)


def test_mail_rcpt_data_reply_has_queue_id(poshta, conn):
    conn.ehlo()
    r = conn.expect("MAIL FROM:<a@b.test>", 250)
    r = conn.expect("RCPT TO:<postmaster@localhost>", 250, 251)
    r = conn.cmd("DATA")
    assert r.code == 354, r
    msg = make_message()
    conn.send(dot_stuff(msg))
    rep = conn.reply()
    assert rep.code == 250, rep
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, queue_id_in=rep.text)
    # the session goes on: a second transaction in the same session
    conn.expect("MAIL FROM:<b@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    conn.expect("DATA", 354)
    conn.send(dot_stuff(make_message()))
    rep2 = conn.reply()
    assert rep2.code == 250, rep2
    assert rep2.text != rep.text, "two messages, two queue ids"
    poshta.wait_files("postmaster@localhost", 2)


def test_lowercase_commands(poshta, conn):
    conn.expect("ehlo client.test", 250)
    conn.expect("mail from:<a@b.test>", 250)
    conn.expect("rcpt to:<Postmaster@Localhost>", 250)
    conn.expect("data", 354)
    msg = make_message()
    conn.send(dot_stuff(msg))
    assert conn.reply().code == 250
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_rset_clears_the_transaction(poshta, conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    conn.expect("RSET", 250)
    r = conn.cmd("DATA")
    assert r.code in (503, 554), f"DATA after RSET must fail, got {r!r}"
    r = conn.cmd("RCPT TO:<postmaster@localhost>")
    assert r.code == 503, f"RCPT after RSET needs a new MAIL, got {r!r}"
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RSET", 250)
    conn.expect("RSET", 250)


def test_ehlo_resets_the_transaction(conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.ehlo()
    r = conn.cmd("RCPT TO:<postmaster@localhost>")
    assert r.code == 503, f"EHLO must reset the transaction (RFC 5321 §4.1.4): {r!r}"
    conn.expect("MAIL FROM:<a@b.test>", 250)


def test_noop(conn):
    conn.expect("NOOP", 250)
    conn.ehlo()
    conn.expect("NOOP", 250)
    conn.expect("NOOP some argument", 250)


def test_vrfy(poshta, conn):
    poshta.add_user("you@localhost")
    conn.ehlo()
    for addr in ("postmaster@localhost", "you@localhost", "<you@localhost>"):
        r = conn.cmd(f"VRFY {addr}")
        assert r.code in (250, 252), f"VRFY {addr}: {r!r}"
    r = conn.cmd("VRFY nobody@localhost")
    assert r.code in (550, 551, 553, 252), r
    r = conn.cmd("VRFY")
    assert r.code == 501, f"VRFY without an argument: {r!r}"
    conn.expect("NOOP", 250)


def test_expn_list(poshta, conn):
    poshta.add_user("you@localhost")
    poshta.cli_ok("alias", "add", "team@localhost", "you@localhost", "postmaster@localhost")
    conn.ehlo()
    r = conn.expect("EXPN team@localhost", 250)
    assert len(r.lines) == 2, f"EXPN must list the two members: {r!r}"
    members = sorted(re.search(r"<([^>]+)>", line).group(1).lower() for line in r.lines)
    assert members == ["postmaster@localhost", "you@localhost"], r
    r = conn.cmd("EXPN nolist@localhost")
    assert r.code in (550, 252), r


def test_help(conn):
    r = conn.cmd("HELP")
    assert r.code == 214, r
    words = set(re.findall(r"[A-Z]{4,8}", r.text.upper()))
    missing = [c for c in SEED_COMMANDS if c not in words]
    assert not missing, f"HELP does not list {missing}: {r!r}"


@pytest.mark.parametrize("verb,needle", [("MAIL", "FROM:"), ("RCPT", "TO:"), ("EHLO", "EHLO"),
                                         ("BDAT", "BDAT")])
def test_help_command(conn, verb, needle):
    r = conn.cmd(f"HELP {verb}")
    assert r.code == 214, r
    assert needle in r.text.upper(), f"HELP {verb} must give the syntax: {r!r}"


@pytest.mark.parametrize("verb", SEED_COMMANDS + ["STARTTLS", "AUTH"])
def test_help_for_every_command(conn, verb):
    r = conn.cmd(f"HELP {verb.lower()}")
    assert r.code == 214, r
    assert verb in r.text.upper(), f"HELP {verb} must give that command's syntax: {r!r}"


def test_help_unknown_topic(conn):
    r = conn.cmd("HELP FROBNICATE")
    assert r.code in (214, 501, 502, 504), r
    conn.expect("NOOP", 250)


def test_quit_closes(conn):
    conn.ehlo()
    r = conn.cmd("QUIT")
    assert r.code == 221, r
    rest = conn.read_until_closed(timeout=5)
    assert rest == b"", f"data after 221: {rest!r}"


def test_send_gets_450_per_recipient(poshta, conn):
    conn.ehlo()
    conn.expect("SEND FROM:<a@b.test>", 250)
    r = conn.cmd("RCPT TO:<postmaster@localhost>")
    assert r.code == 450, f"after SEND each RCPT is 450 (user not active at a terminal): {r!r}"
    r = conn.cmd("RCPT TO:<postmaster@example.test>")
    assert r.code == 450, r
    r = conn.cmd("DATA")
    assert r.code in (503, 554), r
    conn.expect("RSET", 250)
    # the session is fine afterwards
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)


@pytest.mark.parametrize("verb", ["SOML", "SAML"])
def test_soml_saml_deliver_like_mail(poshta, conn, verb):
    conn.ehlo()
    conn.expect(f"{verb} FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    conn.expect("DATA", 354)
    msg = make_message()
    conn.send(dot_stuff(msg))
    rep = conn.reply()
    assert rep.code == 250, rep
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, queue_id_in=rep.text)


def test_bdat(poshta, conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    # no dot-unstuffing in BDAT: '..two dots' stays as it is
    msg = make_message()
    conn.send(b"BDAT 5\r\n" + msg[:5])
    r = conn.reply()
    assert r.code == 250, r
    rest = msg[5:]
    conn.send(b"BDAT %d LAST\r\n" % len(rest) + rest)
    rep = conn.reply()
    assert rep.code == 250, rep
    assert b"\n..two dots\n" in to_lf(msg)
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, queue_id_in=rep.text)
    conn.expect("NOOP", 250)


def test_bdat_chunks_split_crlf_and_empty_last(poshta, conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    msg = make_message()
    cut = msg.index(b"\r\n\r\n") + 1          # the chunk ends between CR and LF
    conn.send(b"BDAT %d\r\n" % cut + msg[:cut])
    assert conn.reply().code == 250
    conn.send(b"BDAT %d\r\n" % (len(msg) - cut) + msg[cut:])
    assert conn.reply().code == 250
    rep = conn.cmd("BDAT 0 LAST")
    assert rep.code == 250, rep
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, queue_id_in=rep.text)


def test_bdat_pipelined_in_one_write(poshta, conn):
    conn.ehlo()
    msg = make_message()
    conn.send(b"MAIL FROM:<a@b.test>\r\nRCPT TO:<postmaster@localhost>\r\n"
              + b"BDAT %d LAST\r\n" % len(msg) + msg + b"QUIT\r\n")
    codes = [conn.reply().code for _ in range(4)]
    assert codes == [250, 250, 250, 221], codes
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_bdat_then_data_is_refused(conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    conn.send(b"BDAT 4\r\nab\r\n")
    assert conn.reply().code == 250
    r = conn.cmd("DATA")
    assert r.code == 503, f"DATA after BDAT in one transaction (RFC 3030 §2): {r!r}"


def test_starttls_gets_a_reply(poshta, conn):
    conn.ehlo()
    r = conn.cmd("STARTTLS")
    assert 200 <= r.code < 600, r
    if r.code != 220:
        assert r.code >= 400, r
        conn.expect("NOOP", 250)


def test_auth_gets_a_reply(conn):
    conn.ehlo()
    token = base64.b64encode(b"\0postmaster@localhost\0wrong").decode()
    r = conn.cmd(f"AUTH PLAIN {token}")
    assert 400 <= r.code < 600, f"AUTH with a wrong password over plain text must fail: {r!r}"
    conn.expect("NOOP", 250)
    conn.expect("MAIL FROM:<a@b.test>", 250)


# ---------------------------------------------------------------- sequencing


def test_rcpt_before_mail(conn):
    conn.ehlo()
    r = conn.cmd("RCPT TO:<postmaster@localhost>")
    assert r.code == 503, r


def test_data_before_rcpt(conn):
    conn.ehlo()
    r = conn.cmd("DATA")
    assert r.code in (503, 554), r
    conn.expect("MAIL FROM:<a@b.test>", 250)
    r = conn.cmd("DATA")
    assert r.code in (503, 554), r
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    conn.expect("DATA", 354)


def test_mail_before_helo(conn):
    r = conn.cmd("MAIL FROM:<a@b.test>")
    assert r.code == 503, r
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)


def test_nested_mail(conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    r = conn.cmd("MAIL FROM:<b@b.test>")
    assert r.code == 503, r


def test_bdat_before_rcpt(conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.send(b"BDAT 3 LAST\r\nabc")
    r = conn.reply()
    assert r.code in (503, 554), r
    conn.expect("NOOP", 250)


# ---------------------------------------------------------------- pipelining


def test_pipelined_envelope_replies_in_order(poshta, conn):
    conn.ehlo()
    conn.send(b"MAIL FROM:<a@b.test>\r\n"
              b"RCPT TO:<postmaster@localhost>\r\n"
              b"RCPT TO:<nobody@localhost>\r\n"
              b"DATA\r\n")
    replies = [conn.reply() for _ in range(4)]
    codes = [r.code for r in replies]
    assert codes == [250, 250, 550, 354], replies
    msg = make_message()
    conn.send(dot_stuff(msg) + b"QUIT\r\n")
    rep = conn.reply()
    assert rep.code == 250, rep
    assert conn.reply().code == 221
    assert conn.read_until_closed() == b""
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, queue_id_in=rep.text)
    assert not poshta.maildir("nobody@localhost").exists()


def test_pipelined_whole_session_in_one_write(poshta):
    with RawSMTP(poshta.smtp_port) as c:
        msg = make_message()
        c.send(b"EHLO client.test\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<postmaster@localhost>\r\n"
               b"DATA\r\n" + dot_stuff(msg) + b"RSET\r\nNOOP\r\nQUIT\r\n")
        data = c.read_until_closed(timeout=10)
        codes = [code for code, _ in parse_replies(data)]
        assert codes == [250, 250, 250, 354, 250, 250, 250, 221], data
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_dsn_parameters_accepted(poshta, conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test> RET=HDRS ENVID=QQ314159 SIZE=2000", 250)
    conn.expect("RCPT TO:<postmaster@localhost> NOTIFY=SUCCESS,FAILURE "
                "ORCPT=rfc822;postmaster@localhost", 250)
    conn.expect("RCPT TO:<postmaster@example.test> NOTIFY=NEVER", 250)
    conn.expect("DATA", 354)
    msg = make_message()
    conn.send(dot_stuff(msg))
    assert conn.reply().code == 250
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    check_one_stored(poshta, "postmaster@example.test", "a@b.test", msg)


def test_postmaster_without_domain(poshta, conn):
    """RFC 5321 §4.1.1.3/§4.5.1: RCPT TO:<Postmaster> must be accepted."""
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<Postmaster>", 250)
    conn.expect("DATA", 354)
    msg = make_message()
    conn.send(dot_stuff(msg))
    assert conn.reply().code == 250

    def landed():
        return poshta.new_files("postmaster@localhost") + poshta.new_files("postmaster@example.test")
    files = deadline_poll(landed, 10, "the message to <Postmaster> in a postmaster mailbox")
    assert len(files) == 1
    assert files[0].read_bytes().endswith(to_lf(msg))


def test_bdat_several_chunks_in_one_write(poshta, conn):
    conn.ehlo()
    msg = make_message()
    parts = [msg[:100], msg[100:101], msg[101:300], msg[300:]]
    data = b"MAIL FROM:<a@b.test>\r\nRCPT TO:<postmaster@localhost>\r\n"
    for i, p in enumerate(parts):
        last = b" LAST" if i == len(parts) - 1 else b""
        data += b"BDAT %d%s\r\n" % (len(p), last) + p
    conn.send(data + b"NOOP\r\n")
    codes = [conn.reply().code for _ in range(2 + len(parts) + 1)]
    assert codes == [250] * (2 + len(parts) + 1), codes
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_duplicate_recipients_get_one_copy(poshta, conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    for r in ("postmaster@localhost", "POSTMASTER@localhost", "postmaster@LOCALHOST"):
        conn.expect(f"RCPT TO:<{r}>", 250)
    conn.expect("DATA", 354)
    msg = make_message()
    conn.send(dot_stuff(msg))
    assert conn.reply().code == 250
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    others = deliver_marker(poshta)
    assert len(others) == 1, f"one message to one mailbox named three ways: {len(others)} copies"


def test_quoted_local_part_in_sender(poshta, conn):
    conn.ehlo()
    conn.expect('MAIL FROM:<"john doe"@b.test>', 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    conn.expect("DATA", 354)
    msg = make_message()
    conn.send(dot_stuff(msg))
    assert conn.reply().code == 250
    check_one_stored(poshta, "postmaster@localhost", '"john doe"@b.test', msg)


def test_rset_in_the_middle_of_bdat(poshta, conn):
    conn.ehlo()
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    conn.send(b"BDAT 8\r\nX-Junk: ")
    assert conn.reply().code == 250
    conn.expect("RSET", 250)
    conn.send(b"BDAT 3 LAST\r\nabc")
    r = conn.reply()
    assert r.code in (503, 554), f"BDAT after RSET, without MAIL: {r!r}"
    conn.expect("MAIL FROM:<a@b.test>", 250)
    conn.expect("RCPT TO:<postmaster@localhost>", 250)
    msg = make_message()
    conn.send(b"BDAT %d LAST\r\n" % len(msg) + msg)
    assert conn.reply().code == 250
    # the abandoned chunk is not part of the new message
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
