"""Mail in, mail stored: local mailboxes, aliases, relay policy and the real
clients of SPEC.md promise 6 (smtplib, swaks, curl)."""

import email.message
import email.generator
import io
import re
import smtplib
import subprocess
import threading

import pytest

from poshta_helpers import (
    HOST, RawSMTP, check_one_stored, check_stored, deadline_poll, deliver_marker, dot_stuff,
    make_message, smtp_send, to_lf, unique)


def test_greeting_and_pid_file(poshta):
    with RawSMTP(poshta.smtp_port) as c:
        assert c.greeting.code == 220, c.greeting
        assert c.greeting.lines[0].split()[0] == "mx.test", \
            f"greeting must start with the configured hostname: {c.greeting!r}"
        c.expect("QUIT", 221)
    pid_file = poshta.data_dir / "poshta.pid"
    assert pid_file.exists(), "poshta serve must write <data_dir>/poshta.pid"
    assert pid_file.read_text().strip() == str(poshta.proc.pid)


@pytest.mark.parametrize("rcpt", ["postmaster@localhost", "postmaster@example.test"])
def test_postmaster_exists_without_users(poshta, rcpt):
    msg = make_message(to=rcpt)
    assert smtp_send(poshta.smtp_port, "a@b.test", [rcpt], msg) == {}
    check_one_stored(poshta, rcpt, "a@b.test", msg)


def test_postmaster_is_case_insensitive(poshta):
    msg = make_message(to="POSTMASTER@LOCALHOST")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["POSTMASTER@LOCALHOST"], msg) == {}
    files = poshta.wait_files("postmaster@localhost", 1)
    assert files[0].parent == poshta.data_dir / "mail" / "localhost" / "postmaster" / "new"
    check_stored(files[0].read_bytes(), "a@b.test", "postmaster@localhost", msg, name=files[0].name)
    assert not (poshta.data_dir / "mail" / "localhost" / "POSTMASTER").exists()


def test_user_gets_own_mailbox(poshta):
    poshta.add_user("you@localhost")
    msg = make_message(to="you@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["you@localhost"], msg) == {}
    check_one_stored(poshta, "you@localhost", "a@b.test", msg)
    for sub in ("cur", "new", "tmp"):
        assert (poshta.maildir("you@localhost") / sub).is_dir(), f"Maildir without {sub}/"
    assert poshta.new_files("postmaster@localhost") == []


def test_unknown_user_is_550_5_1_1(poshta):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd("RCPT TO:<nobody@localhost>")
        assert r.code == 550, r
        assert r.enhanced == "5.1.1", r
        # the transaction goes on with the good recipient
        c.expect("RCPT TO:<postmaster@localhost>", 250)


def test_no_open_relay_on_smtp_listener(poshta):
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd("RCPT TO:<x@remote.example>")
        assert r.code in (550, 554), r
        assert r.enhanced == "5.7.1", r
        # a remote recipient spelled in odd ways is refused as well
        for rcpt in ("x@REMOTE.example", "x%localhost@remote.example", "@localhost:x@remote.example"):
            r = c.cmd(f"RCPT TO:<{rcpt}>")
            assert r.code >= 500, f"{rcpt}: {r!r}"
        r = c.cmd("DATA")
        assert r.code in (503, 554), f"DATA without any accepted recipient: {r!r}"


def test_submission_requires_auth(poshta):
    with RawSMTP(poshta.submission_port) as c:
        assert c.greeting.code == 220, c.greeting
        c.ehlo()
        r = c.cmd("MAIL FROM:<a@b.test>")
        assert r.code == 530, r
        assert r.enhanced == "5.7.0", r


def test_alias_list_delivers_to_each_target(poshta):
    poshta.add_user("you@localhost")
    poshta.cli_ok("alias", "add", "team@localhost", "you@localhost", "postmaster@localhost")
    msg = make_message(to="team@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["team@localhost"], msg) == {}
    check_one_stored(poshta, "you@localhost", "a@b.test", msg)
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    assert not poshta.maildir("team@localhost").exists(), "an alias must not get a mailbox of its own"
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        r = c.expect("EXPN team@localhost", 250)
        assert len(r.lines) >= 2, f"EXPN of a two-member list must be multi-line: {r!r}"
        text = r.text.lower()
        assert "you@localhost" in text and "postmaster@localhost" in text, r


def test_alias_to_user_and_postmaster_alias(poshta):
    """An alias may send postmaster elsewhere (README: 'unless an alias sends
    it elsewhere')."""
    poshta.add_user("boss@localhost")
    poshta.cli_ok("alias", "add", "postmaster@example.test", "boss@localhost")
    msg = make_message(to="postmaster@example.test")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@example.test"], msg) == {}
    check_one_stored(poshta, "boss@localhost", "a@b.test", msg)
    assert poshta.new_files("postmaster@example.test") == []


def test_alias_loop_does_not_hang(poshta):
    first = poshta.cli("alias", "add", "loopa@localhost", "loopb@localhost")
    assert first.returncode == 0, first
    second = poshta.cli("alias", "add", "loopb@localhost", "loopa@localhost")
    # refusing to create the loop is fine too; a crash or a hang is not
    assert second.returncode in (0, 1), second
    with RawSMTP(poshta.smtp_port, timeout=15) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd("RCPT TO:<loopa@localhost>")
        assert r.code in (250, 550, 551, 553, 554), r
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        c.expect("DATA", 354)
        msg = make_message(to="loopa@localhost")
        c.send(dot_stuff(msg))
        assert c.reply().code == 250
        c.expect("QUIT", 221)
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    # the server is still alive and serving
    msg2 = make_message()
    assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@localhost"], msg2) == {}
    poshta.wait_files("postmaster@localhost", 2)
    assert poshta.running
    # and the loop produced no mailbox with mail in it
    for p in poshta.all_mail_files():
        assert p.parent.parent.name == "postmaster", f"loop delivered to {p}"


def test_smtplib_sendmail_two_recipients(poshta):
    poshta.add_user("you@localhost")
    msg = make_message(to="you@localhost")
    with smtplib.SMTP(HOST, poshta.smtp_port, timeout=15) as s:
        code, _ = s.ehlo("client.test")
        assert code == 250
        assert s.has_extn("pipelining") and s.has_extn("size")
        refused = s.sendmail("a@b.test", ["you@localhost", "postmaster@localhost"], msg)
        assert refused == {}
    q1 = check_one_stored(poshta, "you@localhost", "a@b.test", msg)
    q2 = check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    assert q1 == q2, "one transaction, one queue id"


def test_smtplib_several_messages_one_session(poshta):
    msgs = [make_message() for _ in range(5)]
    with smtplib.SMTP(HOST, poshta.smtp_port, timeout=15) as s:
        for m in msgs:
            assert s.sendmail("a@b.test", ["postmaster@localhost"], m) == {}
    poshta.wait_files("postmaster@localhost", 5)
    stored = {to_lf(m) for m in msgs}
    qids = set()
    for f in poshta.new_files("postmaster@localhost"):
        content = f.read_bytes()
        body = next((m for m in msgs if content.endswith(to_lf(m))), None)
        assert body is not None, f"unexpected stored message {content[:300]!r}"
        qids.add(check_stored(content, "a@b.test", "postmaster@localhost", body, name=f.name))
        stored.discard(to_lf(body))
    assert not stored, "some messages were not stored"
    assert len(qids) == 5, f"queue ids must be unique: {qids}"


def test_smtplib_send_message(poshta):
    m = email.message.EmailMessage()
    m["From"] = "Alice <alice@b.test>"
    m["To"] = "postmaster@localhost"
    m["Subject"] = "send_message " + unique()
    m["Message-ID"] = f"<{unique()}@client.test>"
    m.set_content("Hello from send_message.\n.dot line\nbye\n")
    with smtplib.SMTP(HOST, poshta.smtp_port, timeout=15) as s:
        assert s.send_message(m) == {}
    # what smtplib put on the wire (send_message flattens exactly like this)
    buf = io.BytesIO()
    email.generator.BytesGenerator(buf).flatten(m, linesep="\r\n")
    check_one_stored(poshta, "postmaster@localhost", "alice@b.test", buf.getvalue())


def write_lf_file(path, msg):
    """swaks reads a file with LF line ends; it adds CRLF+'.' after the last
    byte, so the file carries no final newline."""
    path.write_bytes(to_lf(msg).rstrip(b"\n"))


@pytest.mark.parametrize("pipeline", [False, True], ids=["plain", "pipeline"])
def test_swaks(poshta, tmp_path, pipeline):
    msg = make_message(sender="swaks@b.test")
    f = tmp_path / "msg.txt"
    write_lf_file(f, msg)
    cmd = ["swaks", "--server", f"{HOST}:{poshta.smtp_port}", "--from", "swaks@b.test",
           "--to", "postmaster@localhost", "--helo", "client.test", "--data", f"@{f}",
           "--timeout", "15"]
    if pipeline:
        cmd.append("--pipeline")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"swaks failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    if pipeline:
        assert "PIPELINING" in r.stdout
    assert re.search(r"<-\s+250", r.stdout)
    check_one_stored(poshta, "postmaster@localhost", "swaks@b.test", msg)


def test_swaks_default_message(poshta):
    r = subprocess.run(["swaks", "--server", f"{HOST}:{poshta.smtp_port}",
                        "--from", "swaks@b.test", "--to", "POSTMASTER@example.test",
                        "--timeout", "15"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"swaks failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    (content,) = poshta.wait_messages("postmaster@example.test", 1)
    assert content.startswith(b"Return-Path: <swaks@b.test>\nDelivered-To: ")
    assert b"\nX-Mailer: swaks" in content
    assert b"\r" not in content


def test_curl(poshta, tmp_path):
    msg = make_message(sender="a@b.test")
    f = tmp_path / "msg.eml"
    f.write_bytes(msg)
    r = subprocess.run(["curl", "-sS", "--max-time", "30", f"smtp://{HOST}:{poshta.smtp_port}",
                        "--mail-from", "a@b.test", "--mail-rcpt", "postmaster@localhost",
                        "--upload-file", str(f)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"curl failed ({r.returncode}): {r.stderr}"
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_curl_two_recipients(poshta, tmp_path):
    poshta.add_user("you@example.test")
    msg = make_message(sender="a@b.test")
    f = tmp_path / "msg.eml"
    f.write_bytes(msg)
    r = subprocess.run(["curl", "-sS", "--max-time", "30", f"smtp://{HOST}:{poshta.smtp_port}",
                        "--mail-from", "a@b.test", "--mail-rcpt", "postmaster@localhost",
                        "--mail-rcpt", "you@example.test", "--upload-file", str(f)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, f"curl failed ({r.returncode}): {r.stderr}"
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    check_one_stored(poshta, "you@example.test", "a@b.test", msg)


def test_raw_dot_stuffing_round_trip(poshta):
    msg = make_message(body=[".", "..", "...", ".x", "x.", " .", "end"])
    rep = None
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        rep = c.reply()
        assert rep.code == 250, rep
        c.expect("QUIT", 221)
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, queue_id_in=rep.text)


def test_null_reverse_path(poshta):
    msg = make_message(sender="MAILER-DAEMON@b.test", headers=["Auto-Submitted: auto-replied"])
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        assert c.reply().code == 250
    check_one_stored(poshta, "postmaster@localhost", "", msg)


def test_8bitmime_body_kept_byte_for_byte(poshta):
    body = ["Grüße aus Kyjiw: Пошта працює.", "\u00e9\u00e8\u00ea", "bytes: \u20ac", "end"]
    msg = make_message(body=body, headers=["MIME-Version: 1.0",
                                           "Content-Type: text/plain; charset=utf-8",
                                           "Content-Transfer-Encoding: 8bit"])
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test> BODY=8BITMIME", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        assert c.reply().code == 250
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_smtputf8_sender(poshta):
    sender = "jos\u00e9@b\u00fccher.test"
    msg = make_message(sender=sender, subject="Gr\u00fc\u00dfe " + unique())
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        c.expect(f"MAIL FROM:<{sender}> SMTPUTF8 BODY=8BITMIME", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        assert c.reply().code == 250
    files = poshta.wait_files("postmaster@localhost", 1)
    content = files[0].read_bytes()
    assert content.startswith(b"Return-Path: <" + sender.encode() + b">\n"), content[:200]
    check_stored(content, sender, "postmaster@localhost", msg,
                 proto=r"UTF8SMTP|UTF8SMTPS|ESMTP|UTF8ESMTP", name=files[0].name)


def test_received_field_preceding_client_received(poshta):
    """Client Received fields stay below the one Poshta adds."""
    hops = [f"Received: from hop{i}.test by relay{i}.test; Thu, 26 Nov 2026 06:30:0{i} +0000"
            for i in range(5)]
    body = make_message()
    msg = ("\r\n".join(hops) + "\r\n").encode() + body
    assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@localhost"], msg) == {}
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_log_follows_a_message(poshta):
    """README 'Logs': the queue id leads from arrival to mailbox."""
    msg = make_message()
    assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@localhost"], msg) == {}
    qid = check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)

    def logged():
        lines = [l for l in poshta.log_text().splitlines() if f"queue_id={qid}" in l]
        accepted = [l for l in lines if "event=accepted" in l]
        delivered = [l for l in lines if "result=delivered" in l and "rcpt=postmaster@localhost" in l]
        return (accepted, delivered) if accepted and delivered else None
    accepted, _ = deadline_poll(logged, 10, f"log lines for queue_id={qid} (accepted and delivered)")
    m = re.search(r"\bsize=(\d+)", accepted[0])
    assert m, f"the accepted line gives the size: {accepted[0]!r}"
    assert int(m.group(1)) >= len(msg), \
        f"accepted size={m.group(1)} but the message has {len(msg)} octets: {accepted[0]!r}"
    assert "from=<a@b.test>" in accepted[0] and "rcpts=1" in accepted[0], accepted[0]


def test_many_messages_unique_file_names(poshta):
    n = 30
    with smtplib.SMTP(HOST, poshta.smtp_port, timeout=15) as s:
        for _ in range(n):
            assert s.sendmail("a@b.test", ["postmaster@localhost"], make_message()) == {}
    files = poshta.wait_files("postmaster@localhost", n)
    assert len(files) == n
    assert len({f.name for f in files}) == n
    assert not list((poshta.maildir("postmaster@localhost") / "tmp").iterdir()), \
        "files left behind in tmp/"


def test_sender_case_is_kept_in_return_path(poshta):
    msg = make_message(sender="Alice.Smith@B.Test")
    assert smtp_send(poshta.smtp_port, "Alice.Smith@B.Test", ["postmaster@localhost"], msg) == {}
    check_one_stored(poshta, "postmaster@localhost", "Alice.Smith@B.Test", msg)


def test_forty_concurrent_clients(poshta):
    poshta.add_user("busy@example.test")
    errors, sent = [], []
    lock = threading.Lock()

    def client(i):
        try:
            with smtplib.SMTP(HOST, poshta.smtp_port, timeout=30) as s:
                for j in range(3):
                    rcpt = ["postmaster@example.test", "busy@example.test"][(i + j) % 2]
                    m = make_message(to=rcpt, subject=f"concurrent {i}-{j} {unique()}")
                    assert s.sendmail("a@b.test", [rcpt], m) == {}
                    with lock:
                        sent.append((rcpt, m))
        except Exception as e:              # reported below
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:5]
    assert len(sent) == 120
    for rcpt in ("postmaster@example.test", "busy@example.test"):
        expected = [m for r, m in sent if r == rcpt]
        files = poshta.wait_files(rcpt, len(expected), timeout=30)
        assert len(files) == len(expected)
        by_tail = {}
        for f in files:
            by_tail.setdefault(f.read_bytes().split(b"\nFrom: ", 1)[1], []).append(f)
        for m in expected:
            key = to_lf(m).split(b"From: ", 1)[1]
            assert len(by_tail.get(key, [])) == 1, "a message is missing or stored twice"
            f = by_tail[key][0]
            check_stored(f.read_bytes(), "a@b.test", rcpt, m, name=f.name)


def test_alias_and_direct_recipient_get_one_copy(poshta):
    poshta.add_user("you@localhost")
    poshta.cli_ok("alias", "add", "team@localhost", "you@localhost", "postmaster@localhost")
    msg = make_message(to="team@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["team@localhost", "you@localhost"], msg) == {}
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    check_one_stored(poshta, "you@localhost", "a@b.test", msg)
    others = deliver_marker(poshta, "you@localhost")
    assert len(others) == 1, f"you@localhost got {len(others)} copies of one message"


def test_alias_to_itself_keeps_a_copy(poshta):
    """The Postfix virtual(5) idiom 'you@d -> you@d, other@d' (keep a copy
    and forward): the self-reference ends the recursion and delivers to
    you's own mailbox; README: loops are cut, not mail dropped."""
    poshta.add_user("you@localhost")
    poshta.add_user("other@localhost")
    poshta.cli_ok("alias", "add", "you@localhost", "you@localhost", "other@localhost")
    msg = make_message(to="you@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["you@localhost"], msg) == {}
    check_one_stored(poshta, "other@localhost", "a@b.test", msg)
    check_one_stored(poshta, "you@localhost", "a@b.test", msg)
