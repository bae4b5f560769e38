"""`poshta sendmail`: the sendmail(8) interface that cron, PHP's mail(),
git send-email and mutt use. One message on stdin (LF line ends), exit 0
only once it is durably queued, whether or not the server runs; sysexits
codes for usage errors (64) and unknown local recipients (67)."""

import email.utils
import os
import pwd
import re
import subprocess
import time

import pytest

from poshta_helpers import (
    check_added_fields, deadline_poll, deliver_marker, queued_with, split_stored, unique)

EX_OK, EX_USAGE, EX_NOUSER = 0, 64, 67
LOGIN = pwd.getpwuid(os.getuid()).pw_name
DEFAULT_SENDER = f"{LOGIN}@mx.test"          # <login>@<hostname> of the invoking user


def sendmail(server, *args, input=b"", bin=None, config=True, timeout=60):
    """Runs `poshta sendmail ARGS -c CFG` (or a sendmail link: bin=path, and
    then no `sendmail` word) with input on stdin; cwd is the server's
    directory, which holds poshta.toml (the default configuration)."""
    cmd = [bin] if bin else [server.bin, "sendmail"]
    cmd += list(args)
    if config:
        cmd += ["-c", str(server.cfg)]
    if isinstance(input, str):
        input = input.encode()
    return subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, cwd=server.dir)


def ok(r):
    assert r.returncode == EX_OK, \
        f"sendmail exited {r.returncode}\nstdout: {r.stdout!r}\nstderr: {r.stderr!r}"
    return r


def message(tag, frm="Cron Daemon <root@mx.test>", to="postmaster@localhost", headers=(),
            body=None, date=True, msgid=True):
    """A message as programs write it: LF line ends, final LF."""
    lines = []
    if frm is not None:
        lines.append(f"From: {frm}")
    if to is not None:
        lines.append(f"To: {to}")
    lines.append(f"Subject: {tag}")
    if date:
        lines.append(f"Date: {email.utils.formatdate(localtime=False)}")
    if msgid:
        lines.append(f"Message-ID: <{unique()}@client.test>")
    lines += list(headers)
    lines.append("")
    lines += body if body is not None else [
        "Hello,", "", ".leading dot", "..two dots", "trailing blanks   ", "\ttab", "end " + tag]
    return ("\n".join(lines) + "\n").encode()


def check_local_stored(content, sender, rcpt):
    """Return-Path, Delivered-To and a Received field added by Poshta;
    returns the rest (the message as stored)."""
    assert b"\r" not in content, f"stored message contains CR: {content[:300]!r}"
    rp, dt, received, rest = split_stored(content)
    assert rp == f"Return-Path: <{sender}>".encode(), f"bad Return-Path line {rp!r} (expected <{sender}>)"
    m = re.match(rb"^Delivered-To: <?([^<>\s]+)>?$", dt)
    assert m and m.group(1) == rcpt.lower().encode(), f"bad Delivered-To line {dt!r}"
    unfolded = b" ".join(l.strip() for l in received).decode("utf-8", "replace")
    assert re.search(r"\bby mx\.test\b", unfolded), f"Received field without 'by mx.test': {unfolded!r}"
    assert ";" in unfolded, f"Received field without '; date-time': {unfolded!r}"
    parsed = email.utils.parsedate_to_datetime(unfolded.rsplit(";", 1)[1].strip())
    assert abs(parsed.timestamp() - time.time()) < 86400, unfolded
    return rest


def wait_one(server, rcpt, tag, timeout=10):
    """The one file in rcpt's new/ that holds tag."""
    def hit():
        files = [f for f in server.new_files(rcpt) if tag.encode() in f.read_bytes()]
        return files or None
    files = deadline_poll(hit, timeout, f"the message {tag} in {server.maildir(rcpt)}/new")
    assert len(files) == 1, f"{rcpt} got {len(files)} copies: {files}"
    return files[0].read_bytes()


def assert_nothing_delivered(server, needle, rcpt="postmaster@localhost"):
    """Nothing with needle in any mailbox, once a later marker arrived."""
    deliver_marker(server, rcpt)
    hits = [p for p in server.all_mail_files() if needle in p.read_bytes()]
    assert not hits, f"delivered although it should not be: {hits}"


def field(rest, name):
    head = rest.split(b"\n\n", 1)[0]
    out = []
    for line in re.split(rb"\n(?![ \t])", head):
        if line.lower().startswith(name.lower().encode() + b":"):
            out.append(re.sub(rb"\s+", b" ", line.split(b":", 1)[1]).strip().decode())
    return out


# --------------------------------------------------------------------------


def test_sendmail_subcommand_exists(poshta_factory):
    server = poshta_factory(start=False)
    r = subprocess.run([server.bin, "--help"], capture_output=True, text=True, timeout=30)
    assert re.search(r"^\s*sendmail\b", r.stdout, re.M), f"no sendmail subcommand:\n{r.stdout}"
    r = subprocess.run([server.bin, "sendmail", "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0 and "-t" in r.stdout, r


def test_running_server_delivers(poshta):
    tag = "sm-" + unique()
    msg = message(tag)
    ok(sendmail(poshta, "postmaster@localhost", input=msg))
    content = wait_one(poshta, "postmaster@localhost", tag)
    rest = check_local_stored(content, DEFAULT_SENDER, "postmaster@localhost")
    assert rest == msg, f"stored message differs:\nexpected {msg!r}\n     got {rest!r}"


def test_symlink_named_sendmail(poshta, tmp_path):
    link = tmp_path / "sendmail"
    os.symlink(poshta.bin, link)
    poshta.add_user("you@localhost")
    tag = "link-" + unique()
    msg = message(tag, to="you@localhost")
    ok(sendmail(poshta, "-i", "you@localhost", input=msg, bin=str(link)))
    rest = check_local_stored(wait_one(poshta, "you@localhost", tag), DEFAULT_SENDER, "you@localhost")
    assert rest == msg


def test_stopped_server_delivers_after_start(poshta):
    poshta.stop()
    tag = "offline-" + unique()
    msg = message(tag)
    ok(sendmail(poshta, "postmaster@localhost", input=msg))
    assert queued_with(poshta, tag.encode()), \
        "sendmail exited 0 with the server stopped, but the message is not under <data_dir>/queue"
    assert not poshta.new_files("postmaster@localhost")
    poshta.start()
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag, timeout=30),
                              DEFAULT_SENDER, "postmaster@localhost")
    assert rest == msg


def test_never_started_server_delivers_after_start(poshta_factory):
    """The server never ran, but an administrative command set up data_dir."""
    server = poshta_factory(start=False)
    server.add_user("you@localhost")
    tag = "fresh-" + unique()
    msg = message(tag)
    ok(sendmail(server, "postmaster@localhost", input=msg))
    assert queued_with(server, tag.encode()), "exit 0 but the message is not under <data_dir>/queue"
    server.start()
    rest = check_local_stored(wait_one(server, "postmaster@localhost", tag, timeout=30),
                              DEFAULT_SENDER, "postmaster@localhost")
    assert rest == msg


def test_sendmail_on_a_fresh_data_dir(poshta_factory):
    """Nothing ever ran on this data_dir (no server, no admin command): like
    `poshta user add`, sendmail sets it up rather than failing."""
    server = poshta_factory(start=False)
    assert not server.data_dir.exists()
    tag = "virgin-" + unique()
    msg = message(tag)
    ok(sendmail(server, "postmaster@localhost", input=msg))
    server.start()
    rest = check_local_stored(wait_one(server, "postmaster@localhost", tag, timeout=30),
                              DEFAULT_SENDER, "postmaster@localhost")
    assert rest == msg


def test_default_configuration_in_working_directory(poshta):
    """Programs cannot pass -c: ./poshta.toml is read (README)."""
    tag = "nocfg-" + unique()
    msg = message(tag)
    ok(sendmail(poshta, "postmaster@localhost", input=msg, config=False))
    wait_one(poshta, "postmaster@localhost", tag)


def test_lone_dot_ends_the_message_without_i(poshta):
    tag = "dot-" + unique()
    head = message(tag, body=["before the dot"])
    after = b"after the dot " + tag.encode() + b"\n"
    ok(sendmail(poshta, "postmaster@localhost", input=head + b".\n" + after))
    content = wait_one(poshta, "postmaster@localhost", tag)
    rest = check_local_stored(content, DEFAULT_SENDER, "postmaster@localhost")
    assert rest == head, f"a lone '.' ends the message without -i:\nexpected {head!r}\n     got {rest!r}"
    hits = [p for p in poshta.all_mail_files() if b"after the dot" in p.read_bytes()]
    assert not hits, f"the text after the lone dot was delivered: {hits}"


@pytest.mark.parametrize("flag", ["-i", "-oi"])
def test_i_keeps_lone_dot_as_content(poshta, flag):
    tag = "doti-" + unique()
    msg = message(tag, body=["before", ".", "after the dot", ".", "..", ".x", "end"])
    ok(sendmail(poshta, flag, "postmaster@localhost", input=msg))
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), DEFAULT_SENDER,
                              "postmaster@localhost")
    assert rest == msg, f"with {flag} a lone dot is content:\nexpected {msg!r}\n     got {rest!r}"


def test_dot_lines_are_not_unstuffed(poshta):
    """sendmail's stdin is not SMTP: '..x' stays '..x' (without -i too)."""
    tag = "dots-" + unique()
    msg = message(tag, body=["..two", ".one", "...three", "x.", "end"])
    ok(sendmail(poshta, "postmaster@localhost", input=msg))
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), DEFAULT_SENDER,
                              "postmaster@localhost")
    assert rest == msg


def test_t_takes_recipients_from_headers_and_drops_bcc(poshta):
    for u in ("pat@localhost", "cc1@localhost", "hidden@localhost", "extra@example.test"):
        poshta.add_user(u)
    tag = "t-" + unique()
    msg = message(tag, to="Pat <pat@localhost>, postmaster@localhost",
                  headers=["Cc: Someone", " <cc1@localhost>", "Bcc: hidden@localhost"])
    ok(sendmail(poshta, "-t", "-i", "extra@example.test", input=msg))
    for rcpt in ("pat@localhost", "postmaster@localhost", "cc1@localhost", "hidden@localhost",
                 "extra@example.test"):
        content = wait_one(poshta, rcpt, tag)
        check_local_stored(content, DEFAULT_SENDER, rcpt)
        check_added_fields(content, msg, added=(), removed=("bcc",))
        assert b"hidden@localhost" not in split_stored(content)[3], \
            f"the Bcc recipient is visible in the copy for {rcpt}"


def test_t_without_any_recipient_is_64(poshta):
    tag = "t0-" + unique()
    r = sendmail(poshta, "-t", input=message(tag, to=None))
    assert r.returncode == EX_USAGE, f"-t with no recipient: exit {r.returncode}, {r.stderr!r}"
    assert r.stderr.strip(), "it must say why"
    assert_nothing_delivered(poshta, tag.encode())


def test_no_recipients_is_64(poshta):
    tag = "none-" + unique()
    r = sendmail(poshta, input=message(tag))
    assert r.returncode == EX_USAGE, f"no recipients: exit {r.returncode}, {r.stderr!r}"
    assert r.stderr.strip(), "it must say why"
    assert_nothing_delivered(poshta, tag.encode())


def test_bad_flag_is_64(poshta):
    tag = "bad-" + unique()
    r = sendmail(poshta, "--no-such-flag", "postmaster@localhost", input=message(tag))
    assert r.returncode == EX_USAGE, f"--no-such-flag: exit {r.returncode}, {r.stderr!r}"
    assert r.stderr.strip(), "it must say why"
    assert_nothing_delivered(poshta, tag.encode())


def test_unknown_local_recipient_is_67(poshta):
    tag = "nouser-" + unique()
    r = sendmail(poshta, "nobody@localhost", input=message(tag, to="nobody@localhost"))
    assert r.returncode == EX_NOUSER, f"unknown local recipient: exit {r.returncode}, {r.stderr!r}"
    assert b"nobody@localhost" in r.stderr, f"stderr must name the recipient: {r.stderr!r}"
    assert_nothing_delivered(poshta, tag.encode())
    assert not queued_with(poshta, tag.encode()), "a refused message was queued"


@pytest.mark.parametrize("form", ["separate", "attached"])
def test_f_sets_envelope_sender(poshta, form):
    tag = "f-" + unique()
    msg = message(tag)
    args = ["-f", "robot@b.test"] if form == "separate" else ["-frobot@b.test"]
    ok(sendmail(poshta, *args, "postmaster@localhost", input=msg))
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), "robot@b.test",
                              "postmaster@localhost")
    assert rest == msg


def test_missing_date_message_id_and_from_are_added(poshta):
    tag = "bare-" + unique()
    msg = message(tag, frm=None, date=False, msgid=False)
    ok(sendmail(poshta, "postmaster@localhost", input=msg))
    content = wait_one(poshta, "postmaster@localhost", tag)
    check_local_stored(content, DEFAULT_SENDER, "postmaster@localhost")
    values = check_added_fields(content, msg, added=("from", "date", "message-id"))
    assert DEFAULT_SENDER in values["from"], f"the added From must be the user's address: {values}"
    assert re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", values["message-id"]), values
    parsed = email.utils.parsedate_to_datetime(values["date"])
    assert abs(parsed.timestamp() - time.time()) < 3600, values


def test_F_sets_the_from_name_when_there_is_no_from(poshta):
    tag = "F-" + unique()
    msg = message(tag, frm=None)
    ok(sendmail(poshta, "-F", "Full Name", "postmaster@localhost", input=msg))
    content = wait_one(poshta, "postmaster@localhost", tag)
    values = check_added_fields(content, msg, added=("from",))
    assert "Full Name" in values["from"] and DEFAULT_SENDER in values["from"], \
        f"From with -F 'Full Name': {values['from']!r}"


def test_F_leaves_an_existing_from_alone(poshta):
    tag = "F2-" + unique()
    msg = message(tag, frm="Original <orig@b.test>")
    ok(sendmail(poshta, "-F", "Other Name", "postmaster@localhost", input=msg))
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), DEFAULT_SENDER,
                              "postmaster@localhost")
    assert rest == msg
    assert field(rest, "From") == ["Original <orig@b.test>"]


def test_alias_recipient_is_expanded(poshta):
    poshta.add_user("you@localhost")
    poshta.cli_ok("alias", "add", "team@localhost", "you@localhost", "postmaster@localhost")
    tag = "alias-" + unique()
    msg = message(tag, to="team@localhost")
    ok(sendmail(poshta, "team@localhost", input=msg))
    for rcpt in ("you@localhost", "postmaster@localhost"):
        assert check_local_stored(wait_one(poshta, rcpt, tag), DEFAULT_SENDER, rcpt) == msg


def test_remote_recipient_is_queued(poshta):
    tag = "remote-" + unique()
    msg = message(tag, to="friend@remote.example")
    ok(sendmail(poshta, "friend@remote.example", input=msg))
    assert queued_with(poshta, tag.encode()), "exit 0 but the message is not in the queue"
    assert_nothing_delivered(poshta, tag.encode())
    assert queued_with(poshta, tag.encode())
    assert poshta.running


def test_several_recipients_one_copy_each(poshta):
    poshta.add_user("a1@localhost")
    poshta.add_user("a2@example.test")
    tag = "multi-" + unique()
    msg = message(tag, to="a1@localhost, a2@example.test")
    ok(sendmail(poshta, "a1@localhost", "a2@example.test", "A1@LOCALHOST", input=msg))
    for rcpt in ("a1@localhost", "a2@example.test"):
        assert check_local_stored(wait_one(poshta, rcpt, tag), DEFAULT_SENDER, rcpt) == msg


# the invocations of real callers (SPEC: "the flags of sendmail(8) that cron,
# PHP's mail(), git send-email and mutt use"); they cannot pass -c, so the
# configuration is ./poshta.toml in the working directory


@pytest.mark.parametrize("caller,args", [
    ("php-mail", ["-t", "-i"]),
    ("git-send-email", ["-i", "-f", "dev@b.test", "postmaster@localhost"]),
    ("mutt", ["-oem", "-oi", "--", "postmaster@localhost"]),
    ("cron", ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "postmaster@localhost"]),
])
def test_real_caller_invocations(poshta, caller, args):
    tag = f"{caller}-" + unique()
    msg = message(tag, body=["line", ".", "after a lone dot", "end"])
    ok(sendmail(poshta, *args, input=msg, config=False))
    sender = "dev@b.test" if caller == "git-send-email" else DEFAULT_SENDER
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), sender,
                              "postmaster@localhost")
    assert rest == msg, f"{caller}: expected {msg!r}\n got {rest!r}"


def test_many_sendmail_runs_with_server_running(poshta):
    tags = ["burst-" + unique() for _ in range(10)]
    procs = [subprocess.Popen([poshta.bin, "sendmail", "-i", "postmaster@localhost", "-c",
                               str(poshta.cfg)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=poshta.dir) for _ in tags]
    for p, t in zip(procs, tags):
        p.stdin.write(message(t))
        p.stdin.close()
    for p in procs:
        p.wait(timeout=60)
        err = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        assert p.returncode == 0, f"exit {p.returncode}: {err!r}"
    files = poshta.wait_files("postmaster@localhost", len(tags), timeout=30)
    contents = [f.read_bytes() for f in files]
    for t in tags:
        assert sum(t.encode() in c for c in contents) == 1, f"{t} missing or stored twice"


def test_unqualified_recipient_gets_the_hostname(poshta):
    """cron mails MAILTO=root as `sendmail ... root`: a bare name means
    <name>@<hostname>, as the default sender does (Postfix: append_at_myorigin)."""
    poshta.cli_ok("domain", "add", "mx.test")
    poshta.add_user("root@mx.test")
    tag = "bare-rcpt-" + unique()
    msg = message(tag, to="root")
    r = sendmail(poshta, "-i", "root", input=msg)
    assert r.returncode == EX_OK, \
        f"`sendmail root`: exit {r.returncode} (expected 0, recipient root@mx.test): {r.stderr!r}"
    check_local_stored(wait_one(poshta, "root@mx.test", tag), DEFAULT_SENDER, "root@mx.test")


def test_text_without_a_header_becomes_the_body(poshta):
    """`echo text | sendmail user`: no header at all; the text is the body
    and From, Date and Message-ID are added above it."""
    tag = "echo-" + unique()
    text = f"hello {tag}\nsecond line\n".encode()
    ok(sendmail(poshta, "postmaster@localhost", input=text))
    content = wait_one(poshta, "postmaster@localhost", tag)
    rest = check_local_stored(content, DEFAULT_SENDER, "postmaster@localhost")
    head, sep, body = rest.partition(b"\n\n")
    assert sep and body == text, f"the text must be the body, unchanged: {rest!r}"
    for name in ("From", "Date", "Message-ID"):
        assert len(field(rest, name)) == 1, f"one {name} field expected: {head!r}"


def test_crlf_input_is_stored_with_lf(poshta):
    """Some programs write CRLF; the stored message has LF line ends only
    (README, Files on disk) and no doubled line ends."""
    tag = "crlf-" + unique()
    msg = message(tag)
    ok(sendmail(poshta, "postmaster@localhost", input=msg.replace(b"\n", b"\r\n")))
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), DEFAULT_SENDER,
                              "postmaster@localhost")
    assert rest == msg


def test_t_with_undisclosed_recipients_group(poshta):
    """PHP/mutt Bcc-only mail: To is an empty group, the recipient is in Bcc."""
    poshta.add_user("you@localhost")
    tag = "undisclosed-" + unique()
    msg = message(tag, to="undisclosed-recipients:;", headers=["Bcc: you@localhost"])
    ok(sendmail(poshta, "-t", input=msg))
    content = wait_one(poshta, "you@localhost", tag)
    check_local_stored(content, DEFAULT_SENDER, "you@localhost")
    check_added_fields(content, msg, added=(), removed=("bcc",))


def test_t_parses_quoted_names_and_comments(poshta):
    """A comma inside a quoted display name or a comment does not split an
    address (RFC 5322 §3.4)."""
    poshta.add_user("jane@localhost")
    poshta.add_user("pat@localhost")
    tag = "quoted-" + unique()
    msg = message(tag, to='"Doe, Jane" <jane@localhost>, pat@localhost (Pat, the other one)')
    r = sendmail(poshta, "-t", "-i", input=msg)
    assert r.returncode == EX_OK, f"exit {r.returncode}: {r.stderr!r}"
    for rcpt in ("jane@localhost", "pat@localhost"):
        assert check_local_stored(wait_one(poshta, rcpt, tag), DEFAULT_SENDER, rcpt) == msg


def test_t_and_arguments_do_not_duplicate(poshta):
    poshta.add_user("you@localhost")
    tag = "dup-" + unique()
    msg = message(tag, to="you@localhost", headers=["Cc: You <YOU@localhost>"])
    ok(sendmail(poshta, "-t", "you@localhost", input=msg))
    wait_one(poshta, "you@localhost", tag)       # asserts exactly one copy
    others = deliver_marker(poshta, "you@localhost")
    assert sum(tag.encode() in f.read_bytes() for f in others) == 1, "you@localhost got two copies"


@pytest.mark.parametrize("name", ["Dr. Who, Jr.", "J\u00fcrgen M\u00fcller", 'Say "hi"'])
def test_F_name_is_quoted_or_encoded(poshta, name):
    """The added From must still be one address whatever the name holds."""
    from email.header import decode_header, make_header
    tag = "Fq-" + unique()
    ok(sendmail(poshta, "-F", name, "postmaster@localhost", input=message(tag, frm=None)))
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), DEFAULT_SENDER,
                              "postmaster@localhost")
    (value,) = field(rest, "From")
    addrs = email.utils.getaddresses([value])
    assert len(addrs) == 1 and addrs[0][1] == DEFAULT_SENDER, \
        f"-F {name!r} gave From: {value!r}, which is {addrs}"
    assert str(make_header(decode_header(addrs[0][0]))) == name, f"From: {value!r}"


def test_last_line_without_newline(poshta):
    tag = "nonl-" + unique()
    msg = message(tag, body=["first", "last line without newline " + tag])
    ok(sendmail(poshta, "postmaster@localhost", input=msg.rstrip(b"\n")))
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), DEFAULT_SENDER,
                              "postmaster@localhost")
    assert rest == msg, f"the last line must be kept (and end with a newline): {rest[-200:]!r}"


def test_field_detection_is_case_insensitive(poshta):
    tag = "hcase-" + unique()
    msg = message(tag, frm=None, date=False, msgid=False,
                  headers=["FROM: Someone <someone@b.test>",
                           f"date: {email.utils.formatdate(localtime=False)}",
                           f"Message-Id: <{unique()}@client.test>"])
    ok(sendmail(poshta, "postmaster@localhost", input=msg))
    rest = check_local_stored(wait_one(poshta, "postmaster@localhost", tag), DEFAULT_SENDER,
                              "postmaster@localhost")
    assert rest == msg, f"nothing may be added:\nexpected {msg!r}\n     got {rest!r}"


def test_lookalike_fields_do_not_count(poshta):
    tag = "look-" + unique()
    msg = message(tag, frm=None, date=False, msgid=False,
                  headers=["Resent-From: a@b.test", "Resent-Date: Thu, 1 Jan 2026 00:00:00 +0000",
                           "Resent-Message-ID: <r@b.test>"],
                  body=["From: not a header", "Date: nor this", "Message-ID: <nor@this>"])
    ok(sendmail(poshta, "postmaster@localhost", input=msg))
    content = wait_one(poshta, "postmaster@localhost", tag)
    check_local_stored(content, DEFAULT_SENDER, "postmaster@localhost")
    check_added_fields(content, msg, added=("from", "date", "message-id"))


def test_message_over_the_size_limit_is_refused(poshta):
    """[limits] message_size (1 MiB in the test configuration) holds for
    sendmail too: a non-zero exit with a reason, and nothing queued."""
    tag = "big-" + unique()
    msg = message(tag, body=["x" * 99] * 12000)
    assert len(msg) > 1048576
    r = sendmail(poshta, "postmaster@localhost", input=msg)
    assert r.returncode not in (EX_OK, EX_USAGE), \
        f"an over-size message: exit {r.returncode} (expected a failure such as 65/EX_DATAERR)"
    assert r.stderr.strip(), "it must say why"
    assert not queued_with(poshta, tag.encode()), "an over-size message was queued"
    assert_nothing_delivered(poshta, tag.encode())


def test_many_sendmail_runs_with_server_stopped(poshta):
    poshta.stop()
    tags = ["offline-burst-" + unique() for _ in range(10)]
    procs = [subprocess.Popen([poshta.bin, "sendmail", "postmaster@localhost", "-c",
                               str(poshta.cfg)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, cwd=poshta.dir) for _ in tags]
    for p, t in zip(procs, tags):
        p.stdin.write(message(t))
        p.stdin.close()
    for p in procs:
        p.wait(timeout=60)
        err = p.stderr.read()
        p.stdout.close()
        p.stderr.close()
        assert p.returncode == 0, f"exit {p.returncode}: {err!r}"
    poshta.start()
    files = poshta.wait_files("postmaster@localhost", len(tags), timeout=30)
    contents = [f.read_bytes() for f in files]
    for t in tags:
        assert sum(t.encode() in c for c in contents) == 1, f"{t} missing or stored twice"
