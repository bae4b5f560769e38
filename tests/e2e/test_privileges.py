"""Least privilege (src/cli/privileges.cpp, src/cli/serve.cpp): started as
root, `poshta serve` binds its ports and loads TLS as root, then enters
data_dir, hands it to the configured `user` ("poshta" by default, made by
scripts/setup.sh) and becomes that user for good (groups, gid, uid,
PR_SET_NO_NEW_PRIVS, umask 077) before it accepts anything. The admin
commands and `poshta sendmail` drop the same way before they touch data_dir.
Started as another user, Poshta runs as that user.

These tests need root (they are skipped otherwise) and the `poshta` system
user. They check what the kernel says about the running server
(/proc/<pid>/status of the process and of each of its threads), who owns
what ends up under data_dir and with which permission bits, a listener on a
privileged port, a data_dir below a 0700 root-only directory (relative
paths after the drop, SQLite included), a data_dir first set up by a root
admin command, the refusals for a missing user and for root, and a server
started as `poshta` from the beginning (setpriv)."""

import imaplib
import os
import pwd
import random
import re
import socket
import stat
import subprocess
import time

import pytest

from poshta_helpers import (
    HOST, PASSWORD, SERVER_USER, deadline_poll, free_port, make_message, port_open, smtp_send,
    unique)

SETPRIV = "/usr/bin/setpriv"
SENDER = "sender@b.test"
TIMEOUT = 20

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop needs the tests to run as root")


@pytest.fixture(scope="module")
def pw():
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pytest.fail(f"the system user {SERVER_USER!r} is missing: run scripts/setup.sh")


# --------------------------------------------------------------------------
# helpers


def top_level(server, text):
    """Puts top-level keys (before the first table) into a server's configuration."""
    server.cfg.write_text(text.rstrip("\n") + "\n" + server.cfg.read_text())


def add_listener(server, protocol, port=None, host=HOST):
    port = port or other_port(server)
    with open(server.cfg, "a") as f:
        f.write(f'\n[[listen]]\nprotocol = "{protocol}"\naddress = "{host}:{port}"\n')
    return port


def other_port(server):
    taken = {server.smtp_port, server.submission_port}
    while True:
        p = free_port()
        if p not in taken:
            return p


def move_data_dir(server, new):
    """Points a server that is not started at another data_dir."""
    text = server.cfg.read_text()
    old = f'data_dir = "{server.data_dir}"'
    assert old in text
    server.cfg.write_text(text.replace(old, f'data_dir = "{new}"'))
    server.data_dir = new


def wait_started(server, timeout=TIMEOUT):
    """Waits for the log line of a finished start. The ports are bound (and
    so accept TCP connections) before the privilege drop, so an open port
    does not mean the drop has happened yet; this line comes after it."""
    def started():
        if not server.running:
            raise AssertionError(f"poshta serve exited with {server.proc.returncode}; log:\n"
                                 + server.log_text(300))
        m = re.search(r"^.*serve event=started .*$", server.log_text(), re.M)
        return m.group(0) if m else None
    return deadline_poll(started, timeout, "the 'serve event=started' log line")


def proc_status(path):
    """The fields of a /proc/.../status file, as {name: value text}."""
    out = {}
    with open(path) as f:
        for line in f:
            name, _, value = line.partition(":")
            out[name] = value.strip()
    return out


def task_statuses(pid):
    """{tid: status} of every thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            out[int(tid)] = proc_status(f"/proc/{pid}/task/{tid}/status")
        except FileNotFoundError:      # the thread ended meanwhile
            pass
    assert out, f"no threads listed for process {pid}"
    return out


def groups_of(pw):
    return sorted(set(os.getgrouplist(pw.pw_name, pw.pw_gid)))


def assert_runs_as(status, pw, where):
    uids = status["Uid"].split()
    gids = status["Gid"].split()
    assert uids == [str(pw.pw_uid)] * 4, f"{where}: Uid (real, effective, saved, fs) is {uids}, expected {pw.pw_uid}"
    assert gids == [str(pw.pw_gid)] * 4, f"{where}: Gid (real, effective, saved, fs) is {gids}, expected {pw.pw_gid}"
    groups = sorted(int(g) for g in status["Groups"].split())
    assert groups == groups_of(pw), \
        f"{where}: supplementary groups {groups}, expected those of {pw.pw_name}: {groups_of(pw)}"
    assert int(status["CapEff"], 16) == 0, f"{where}: effective capabilities {status['CapEff']} (expected none)"
    assert int(status["CapPrm"], 16) == 0, f"{where}: permitted capabilities {status['CapPrm']} (expected none)"


def walk_all(top):
    """top and every path below it (not following symlinks)."""
    yield top
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            yield os.path.join(root, name)


def not_owned_by(top, pw):
    """[(path, uid, gid)] under top (top included) not owned by pw's uid and gid."""
    wrong = []
    for p in walk_all(str(top)):
        try:
            st = os.lstat(p)
        except FileNotFoundError:      # a queue file went away meanwhile
            continue
        if (st.st_uid, st.st_gid) != (pw.pw_uid, pw.pw_gid):
            wrong.append((p, st.st_uid, st.st_gid))
    return wrong


def assert_all_owned(top, pw):
    wrong = not_owned_by(top, pw)
    assert not wrong, (f"not owned by {pw.pw_name} ({pw.pw_uid}:{pw.pw_gid}) under {top}: "
                       + ", ".join(f"{p} ({u}:{g})" for p, u, g in wrong))


def open_to_others(paths):
    """[(path, mode)] of the paths with any group or other permission bit."""
    out = []
    for p in paths:
        try:
            mode = stat.S_IMODE(os.lstat(p).st_mode)
        except FileNotFoundError:
            continue
        if mode & 0o077:
            out.append((str(p), oct(mode)))
    return out


def as_poshta(pw, *argv, **kw):
    """Runs argv as Poshta's user (no capabilities, its own groups)."""
    return subprocess.run([SETPRIV, f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--init-groups",
                           "--", *argv], capture_output=True, text=True, timeout=30, **kw)


def deliver(server, rcpt, port=None, tag=None):
    """Sends one message by SMTP and waits until it is in rcpt's new/;
    returns (tag, file)."""
    tag = tag or "priv-" + unique()
    msg = make_message(subject=tag, sender=SENDER, to=rcpt)
    assert smtp_send(port or server.smtp_port, SENDER, [rcpt], msg) == {}

    def arrived():
        hits = [f for f in server.new_files(rcpt) if tag.encode() in f.read_bytes()]
        return hits or None
    files = deadline_poll(arrived, TIMEOUT, f"the message {tag} in {server.maildir(rcpt)}/new")
    assert len(files) == 1, f"{tag} delivered {len(files)} times: {files}"
    return tag, files[0]


def imap_read(port, user, tag, password=PASSWORD):
    """Logs in by IMAP and returns the INBOX message whose Subject is tag."""
    m = imaplib.IMAP4(HOST, port, timeout=TIMEOUT)
    try:
        typ, data = m.login(user, password)
        assert typ == "OK", f"IMAP LOGIN as {user}: {typ} {data}"
        typ, data = m.select("INBOX")
        assert typ == "OK", f"IMAP SELECT INBOX: {typ} {data}"
        typ, data = m.uid("SEARCH", None, "SUBJECT", tag)
        assert typ == "OK", f"IMAP UID SEARCH: {typ} {data}"
        uids = data[0].split()
        assert len(uids) == 1, f"IMAP finds {len(uids)} messages with Subject {tag}"
        typ, data = m.uid("FETCH", uids[0], "(BODY.PEEK[])")
        assert typ == "OK", f"IMAP UID FETCH: {typ} {data}"
        body = b"".join(part[1] for part in data if isinstance(part, tuple))
        assert tag.encode() in body, f"IMAP gave a message without {tag}: {body[:500]!r}"
        return body
    finally:
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


def privileged_port():
    """A port in 600..1000 on 127.0.0.1 that root can bind now."""
    ports = list(range(600, 1001))
    random.shuffle(ports)
    for p in ports:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.bind((HOST, p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    pytest.skip("no free port in 600..1000 on 127.0.0.1")


def run_serve(server, timeout=15):
    """Runs `poshta serve` in the foreground (for a server expected to
    refuse to start); returns (CompletedProcess, seconds)."""
    t0 = time.monotonic()
    try:
        r = subprocess.run([server.bin, "serve", "-c", str(server.cfg)], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout, cwd=server.dir)
    except subprocess.TimeoutExpired:
        pytest.fail(f"poshta serve was expected to refuse to start but still ran after {timeout} s")
    return r, time.monotonic() - t0


# --------------------------------------------------------------------------
# 1. root start: the process, the files


def test_root_start_drops_to_the_poshta_user(poshta_factory, pw):
    server = poshta_factory(start=False)
    server.start()
    line = wait_started(server)
    assert re.search(rf"\buser={re.escape(pw.pw_name)}\b", line), f"the start line does not name the user: {line}"

    status = proc_status(f"/proc/{server.proc.pid}/status")
    assert_runs_as(status, pw, "the server process")
    assert status["NoNewPrivs"] == "1", f"NoNewPrivs is {status['NoNewPrivs']} (expected 1)"

    # Work that touches data_dir: a user (root-run admin command) and a delivery.
    user = "owner@example.test"
    server.add_user(user)
    _tag, message_file = deliver(server, user)

    # Every thread, not just the main one, is the poshta user without capabilities.
    for tid, st in task_statuses(server.proc.pid).items():
        assert_runs_as(st, pw, f"thread {tid}")

    data = server.data_dir
    assert_all_owned(data, pw)
    # umask 077: what Poshta made is its own alone.
    sqlite = data / "directory.sqlite"
    assert sqlite.exists()
    assert not open_to_others([message_file, sqlite]), open_to_others([message_file, sqlite])
    made_after_drop = [*walk_all(str(data / "mail")), *walk_all(str(data / "queue")),
                       *map(str, data.glob("directory.sqlite*"))]
    assert not open_to_others(made_after_drop), \
        f"group/other permission bits on files made after the drop: {open_to_others(made_after_drop)}"
    key = data / "tls" / "key.pem"
    assert key.exists(), "no self-signed key in <data_dir>/tls"
    assert not open_to_others([key]), f"the TLS private key is open to others: {open_to_others([key])}"

    server.stop()
    assert_all_owned(data, pw)


def test_every_thread_has_no_new_privs(poshta_factory, pw):
    server = poshta_factory()
    wait_started(server)
    without = {tid: st["NoNewPrivs"] for tid, st in task_statuses(server.proc.pid).items()
               if st["NoNewPrivs"] != "1"}
    assert not without, f"{len(without)} thread(s) of the server without NoNewPrivs: {sorted(without)}"


# --------------------------------------------------------------------------
# 2. privileged ports are bound before the drop


def test_privileged_port_bound_before_the_drop(poshta_factory, pw):
    port = privileged_port()
    # The premise: Poshta's user could not bind this port itself.
    r = as_poshta(pw, "/usr/bin/python3", "-c",
                  f"import socket; socket.socket().bind(('{HOST}', {port}))")
    assert r.returncode != 0 and "Permission denied" in r.stderr, \
        f"{pw.pw_name} may bind port {port} itself (ip_unprivileged_port_start?): {r.stderr}"

    server = poshta_factory(start=False)
    add_listener(server, "smtp", port)
    server.start()
    wait_started(server)
    assert port_open(port), f"nothing listens on the privileged port {port}"
    assert_runs_as(proc_status(f"/proc/{server.proc.pid}/status"), pw, "the server process")
    assert re.search(rf"serve event=listening protocol=smtp address={re.escape(HOST)}:{port}\b",
                     server.log_text()), "no listening line for the privileged port"

    user = "low@example.test"
    server.add_user(user)
    tag, f = deliver(server, user, port=port)
    assert f.stat().st_uid == pw.pw_uid


# --------------------------------------------------------------------------
# 3. data_dir below a directory the poshta user cannot pass through


def test_data_dir_below_a_root_only_directory(poshta_factory, pw):
    server = poshta_factory(start=False)
    locked = server.dir / "locked"
    locked.mkdir()
    os.chmod(locked, 0o700)
    assert locked.stat().st_uid == 0
    move_data_dir(server, locked / "deep" / "data")
    imap_port = add_listener(server, "imap")

    server.start()
    line = wait_started(server)
    assert f"data_dir={server.data_dir} " in line, f"the start line does not show the absolute data_dir: {line}"
    assert_runs_as(proc_status(f"/proc/{server.proc.pid}/status"), pw, "the server process")
    deadline_poll(lambda: port_open(imap_port), 10, f"the IMAP port {imap_port}")
    # The premise: Poshta's user cannot reach data_dir by its absolute path.
    r = as_poshta(pw, "/usr/bin/test", "-e", str(server.data_dir))
    assert r.returncode != 0, f"{pw.pw_name} can reach {server.data_dir}: the test proves nothing"

    # A user added while the server runs, by root.
    user = "hidden@example.test"
    server.add_user(user)
    db_files = sorted(server.data_dir.glob("directory.sqlite*"))
    assert server.data_dir / "directory.sqlite" in db_files
    assert_all_owned(server.data_dir, pw)

    tag, f = deliver(server, user)
    stored = f.read_bytes()
    assert f.stat().st_uid == pw.pw_uid
    body = imap_read(imap_port, user, tag)     # SELECT moves it from new/ to cur/
    assert body.replace(b"\r\n", b"\n") == stored, "IMAP gave other bytes than the Maildir file holds"

    # A second admin command on the running server (it takes the database after the server did).
    r = server.cli_ok("user", "list")
    assert user in r.stdout, f"'user list' does not list {user}: {r.stdout!r}"
    server.cli_ok("queue", "list")    # asks the server through <data_dir>/control.sock
    assert_all_owned(server.data_dir, pw)
    assert stat.S_IMODE(locked.stat().st_mode) == 0o700 and locked.stat().st_uid == 0, \
        "Poshta changed the directory above data_dir"
    server.stop()


# --------------------------------------------------------------------------
# 4. a data_dir set up by a root admin command before the first serve


def test_data_dir_first_made_by_a_root_admin_command(poshta_factory, pw):
    server = poshta_factory(start=False)
    imap_port = add_listener(server, "imap")
    assert not server.data_dir.exists()
    user = "first@example.test"
    server.add_user(user)
    assert server.data_dir.is_dir(), "`poshta user add` did not make data_dir"
    assert (server.data_dir / "directory.sqlite").exists()
    assert_all_owned(server.data_dir, pw)
    assert not open_to_others(walk_all(str(server.data_dir))), \
        f"made by `user add` with group/other bits: {open_to_others(walk_all(str(server.data_dir)))}"

    server.start()
    wait_started(server)
    deadline_poll(lambda: port_open(imap_port), 10, f"the IMAP port {imap_port}")
    assert_runs_as(proc_status(f"/proc/{server.proc.pid}/status"), pw, "the server process")
    tag, _f = deliver(server, user)
    imap_read(imap_port, user, tag)
    assert_all_owned(server.data_dir, pw)
    server.stop()
    assert_all_owned(server.data_dir, pw)


# --------------------------------------------------------------------------
# sendmail run by root


def test_sendmail_as_root_queues_as_poshta(poshta_factory, pw):
    """`poshta sendmail` run by root drops too, but the message still says
    who called (userid 0, root@<hostname>)."""
    server = poshta_factory()
    wait_started(server)
    user = "cron@example.test"
    server.add_user(user)
    tag = "sendmail-" + unique()
    msg = f"Subject: {tag}\nTo: {user}\n\nfrom cron\n".encode()
    r = subprocess.run([server.bin, "sendmail", "-c", str(server.cfg), user], input=msg,
                       capture_output=True, timeout=30, cwd=server.dir)
    assert r.returncode == 0, f"sendmail exited {r.returncode}: {r.stderr!r}"

    def arrived():
        hits = [f for f in server.new_files(user) if tag.encode() in f.read_bytes()]
        return hits or None
    (f,) = deadline_poll(arrived, TIMEOUT, f"the message {tag} in {server.maildir(user)}/new")
    content = f.read_bytes()
    assert b"Return-Path: <root@mx.test>" in content, f"not from root@mx.test: {content[:600]!r}"
    assert re.search(rb"Poshta sendmail, from userid 0\)", content), f"caller uid lost: {content[:600]!r}"
    assert_all_owned(server.data_dir, pw)


# --------------------------------------------------------------------------
# 5. refusals: no such user, root


def test_missing_user_is_refused(poshta_factory):
    with pytest.raises(KeyError):
        pwd.getpwnam("nosuchuser")
    server = poshta_factory(start=False)
    top_level(server, 'user = "nosuchuser"')
    r, took = run_serve(server)
    out = r.stdout + r.stderr
    assert r.returncode == 1, f"serve exited {r.returncode} (expected 1): {out}"
    assert took < 5, f"serve took {took:.1f} s to refuse"
    assert "nosuchuser" in out and "useradd" in out, f"the refusal does not name the user and useradd: {out!r}"
    assert "event=started" not in out
    assert not port_open(server.smtp_port)

    # The admin commands refuse as well, and sendmail does not queue.
    r = server.cli("user", "list")
    assert r.returncode == 1 and "nosuchuser" in r.stderr, f"user list: {r.returncode} {r.stderr!r}"
    r = subprocess.run([server.bin, "sendmail", "-c", str(server.cfg), "postmaster@localhost"],
                       input=make_message().replace(b"\r\n", b"\n"), capture_output=True, timeout=30,
                       cwd=server.dir)
    assert r.returncode != 0 and b"nosuchuser" in r.stderr, f"sendmail: {r.returncode} {r.stderr!r}"

    # `poshta check` needs no user: the configuration is valid.
    r = server.cli("check")
    assert r.returncode == 0 and "OK" in r.stdout, f"check: {r.returncode} {r.stdout!r} {r.stderr!r}"


def test_root_as_user_is_refused(poshta_factory):
    server = poshta_factory(start=False)
    top_level(server, 'user = "root"')
    r, took = run_serve(server)
    out = r.stdout + r.stderr
    assert r.returncode == 1, f"serve exited {r.returncode} (expected 1): {out}"
    assert took < 5, f"serve took {took:.1f} s to refuse"
    assert re.search(r"\broot\b", out) and "unprivileged" in out, f"the refusal does not say root is refused: {out!r}"
    assert "event=started" not in out
    assert not port_open(server.smtp_port)
    r = server.cli("user", "list")
    assert r.returncode == 1 and "root" in r.stderr, f"user list: {r.returncode} {r.stderr!r}"

    r = server.cli("check")
    assert r.returncode == 0 and "OK" in r.stdout, f"check: {r.returncode} {r.stdout!r} {r.stderr!r}"


def test_check_rejects_a_malformed_user_name(poshta_factory):
    server = poshta_factory(start=False)
    top_level(server, 'user = "no body"')
    r = server.cli("check")
    assert r.returncode == 1, f"check accepted user = \"no body\": {r.stdout!r} {r.stderr!r}"
    assert "no body" in r.stdout + r.stderr


# --------------------------------------------------------------------------
# 6. started as the poshta user: no drop, it just runs


@pytest.mark.parametrize("configured", [None, "nosuchuser"], ids=["default-user", "user-ignored"])
def test_started_as_poshta_user(poshta_factory, pw, configured):
    server = poshta_factory(start=False)
    if configured:
        top_level(server, f'user = "{configured}"')
    server.data_dir.mkdir(mode=0o700)
    os.chown(server.data_dir, pw.pw_uid, pw.pw_gid)
    wrapper = server.dir / "poshta-as-poshta"
    wrapper.write_text("#!/bin/sh\n"
                       f"exec {SETPRIV} --reuid={pw.pw_name} --regid={pw.pw_name} --init-groups "
                       f'-- {server.bin} "$@"\n')
    wrapper.chmod(0o755)
    server.bin = str(wrapper)

    server.start()
    line = wait_started(server)
    assert re.search(rf"\buser={re.escape(pw.pw_name)}\b", line), f"the start line does not name the user: {line}"
    assert_runs_as(proc_status(f"/proc/{server.proc.pid}/status"), pw, "the server process")

    user = "plain@example.test"
    server.add_user(user)             # through the wrapper: as the poshta user too
    _tag, f = deliver(server, user)
    assert f.stat().st_uid == pw.pw_uid
    assert_all_owned(server.data_dir, pw)
    server.stop()
