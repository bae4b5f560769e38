"""Faults a mail server meets in production, end to end, checked from what a
user relies on: mail that got its 250 arrives, once, whole; a refusal says
what it is; the server keeps serving.

- Disk full (a small tmpfs mounted as data_dir, filled with a filler file):
  SMTP answers `452 4.3.1` once the queue cannot grow, leaves nothing
  half-written in sight, and takes mail again once space returns; local
  delivery that cannot write the Maildir is deferred (with an error that
  says so in `poshta queue list`) and retried; IMAP APPEND gets
  `NO [OVERQUOTA]`.
- Damage on disk found at start: a spool file that fails its checks is
  moved to queue/corrupt/ and logged (`event=moved_aside`); a journal
  record damaged in the middle of a segment is skipped and logged
  (`event=journal_damaged`), the records after it are still delivered, and
  a copy of the segment is kept in queue/corrupt/.
- SIGTERM under load: clients get 250 or 421 (or a closed connection), the
  server exits 0 within 35 s, and every message that got 250 is delivered,
  at the latest after the restart.

The disk-full tests mount a tmpfs (they need root with CAP_SYS_ADMIN) and
are skipped, saying why, where mounting is not permitted. Mail is made to
wait in the queue without any network: a Maildir whose tmp/ the server's
user may not write defers local delivery, and a queue/msg/ it may not
write keeps deferred mail in the journal. Every address is on 127.0.0.1;
`[delivery] resolver` points at a port where nothing answers, so no DNS
query leaves the machine."""

import errno
import imaplib
import os
import pathlib
import re
import signal
import smtplib
import subprocess
import threading
import time
import warnings

import pytest

from poshta_helpers import (
    HOST, PASSWORD, check_stored, deadline_poll, free_port, make_message, port_open,
    raw_transaction, unique)
from relay_fixtures import parse_queue_list

SENDER = "faults@b.test"
POSTMASTER = "postmaster@localhost"
BOB = "bob@localhost"
MIB = 1 << 20
RETRY_FAST = 'retry = ["1s"]'           # appended inside the [delivery] table
CLIENT_NAME = "client.test"             # smtplib would ask the resolver for the FQDN otherwise


# --------------------------------------------------------------------------
# helpers


def tagged_message(tag, to, size=0):
    """A message whose Subject and Message-ID carry `tag`; with `size`, a
    body of about that many octets (lines of 78 octets)."""
    body = None
    if size:
        line = ("0123456789" * 8)[:76]
        body = [f"{tag} {i:07d} {line}"[:76] for i in range(size // 78)] + ["end " + tag]
    return make_message(subject=f"faults {tag}", to=to, sender=SENDER, body=body,
                        msgid=f"<{tag}@client.test>")


def queue_id_of(reply):
    """The queue id of a 250 `OK queued as ID` reply."""
    m = re.search(r"queued as (\S+)", reply.text)
    assert m, f"no queue id in the reply {reply!r}"
    return m.group(1)


def mailbox_files(server, rcpt):
    """Every message file in rcpt's INBOX (new/ and cur/)."""
    out = []
    for sub in ("new", "cur"):
        d = server.maildir(rcpt) / sub
        if d.exists():
            out += [p for p in d.iterdir() if p.is_file()]
    return out


def stored_by_msgid(server, rcpt):
    """{Message-ID: [paths]} of rcpt's INBOX (header read only)."""
    found = {}
    for p in mailbox_files(server, rcpt):
        try:
            with open(p, "rb") as f:
                head = f.read(16384).split(b"\n\n", 1)[0]
        except FileNotFoundError:
            continue                       # moved new/ -> cur/ meanwhile
        m = re.search(rb"^message-id:\s*(<[^>\r\n]*>)", head, re.M | re.I)
        if m:
            found.setdefault(m.group(1).decode(), []).append(p)
    return found


def wait_delivered(server, rcpt, msgids, timeout=20):
    """Waits until every Message-ID in msgids is in rcpt's INBOX; returns
    stored_by_msgid() at that point. The failure names the missing ones."""
    last = {}

    def probe():
        last["found"] = stored_by_msgid(server, rcpt)
        return all(m in last["found"] for m in msgids)
    try:
        deadline_poll(probe, timeout, f"{len(msgids)} message(s) in {server.maildir(rcpt)}",
                      interval=0.1)
    except AssertionError as e:
        missing = [m for m in msgids if m not in last.get("found", {})]
        raise AssertionError(f"{e}; {len(missing)} missing: {missing[:10]}") from None
    return last["found"]


def assert_once_and_whole(server, rcpt, sent):
    """sent: {Message-ID: message bytes}. Each is in rcpt's INBOX exactly
    once and stored whole."""
    found = stored_by_msgid(server, rcpt)
    for msgid, msg in sent.items():
        copies = found.get(msgid, [])
        assert len(copies) == 1, f"{msgid}: expected exactly one copy in {rcpt}'s mailbox, found {copies}"
        check_stored(copies[0].read_bytes(), SENDER, rcpt, msg, name=copies[0].name)


def queue_listing(server):
    r = server.cli("queue", "list")
    assert r.returncode == 0, \
        f"`poshta queue list` exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout, parse_queue_list(r.stdout)


def spool_entries(server, sub="msg"):
    d = server.data_dir / "queue" / sub
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


def files_containing(root, needle, skip=()):
    out = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = pathlib.Path(dirpath) / f
            if any(p.is_relative_to(s) for s in skip) or not p.is_file():
                continue                   # also control.sock
            try:
                if needle in p.read_bytes():
                    out.append(p)
            except (FileNotFoundError, IsADirectoryError):
                pass
    return out


def log_lines(server, pattern):
    return [line for line in server.log_text().splitlines() if re.search(pattern, line)]


# disk space on a tmpfs -------------------------------------------------------


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill_disk(directory, leave=0):
    """Fills the file system of `directory` with <directory>/filler, then
    gives back about `leave` octets. Returns the filler's path."""
    path = pathlib.Path(directory) / "filler"
    chunk = b"\xa5" * MIB
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        while True:
            try:
                n = os.write(fd, chunk)
            except OSError as e:
                if e.errno in (errno.ENOSPC, errno.EDQUOT):
                    break
                raise
            if n == 0:
                break
        if leave:
            size = os.fstat(fd).st_size
            os.ftruncate(fd, max(0, size - leave))
        os.fsync(fd)
    finally:
        os.close(fd)
    assert free_bytes(directory) <= leave + 64 * 1024, \
        f"the filler did not fill {directory}: {free_bytes(directory)} octets still free"
    return path


@pytest.fixture
def tmpfs_poshta(poshta_factory):
    """tmpfs_poshta(size_mb, extra_toml="", message_size=None, imap=False)
    -> a running Poshta whose data_dir is a tmpfs of size_mb MiB (skipped
    when mounting is not permitted); message_size replaces the test
    configuration's [limits] message_size; with imap, an imap listener on
    server.imap_port. Stopped and unmounted at teardown."""
    mounts = []

    def make(size_mb, extra_toml="", message_size=None, imap=False):
        server = poshta_factory(extra_toml=extra_toml, start=False)
        if message_size:
            cfg = server.cfg.read_text()
            assert "\nmessage_size = 1048576\n" in cfg, cfg
            server.cfg.write_text(cfg.replace("\nmessage_size = 1048576\n",
                                              f"\nmessage_size = {message_size}\n"))
        if imap:
            server.imap_port = free_port()
            with open(server.cfg, "a") as f:
                f.write(f'\n[[listen]]\nprotocol = "imap"\naddress = "{HOST}:{server.imap_port}"\n')
        server.data_dir.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs",
                            str(server.data_dir)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip("disk-full tests need to mount a small tmpfs (root with CAP_SYS_ADMIN); "
                        f"mount failed: {r.stderr.strip() or r.returncode}")
        mounts.append((server, server.data_dir))
        server.start()
        if imap:
            deadline_poll(lambda: port_open(server.imap_port), 10, "the IMAP listener")
        return server

    yield make

    errors = []
    for server, where in mounts:
        if server.running:
            try:
                server.stop()
            except AssertionError as e:
                errors.append(f"{e}\nlog:\n{server.log_text(300)}")
                server.kill()
        r = subprocess.run(["umount", str(where)], capture_output=True, text=True)
        if r.returncode != 0:
            subprocess.run(["umount", "-l", str(where)], capture_output=True)
    if errors:
        pytest.fail("at teardown: " + "\n".join(errors))


# --------------------------------------------------------------------------
# 1. disk full: 452 4.3.1, nothing half-written, accepted again afterwards


def test_full_disk_refuses_with_452_and_loses_nothing_accepted(tmpfs_poshta):
    server = tmpfs_poshta(64, extra_toml=RETRY_FAST, message_size=2 * MIB)
    data = server.data_dir
    sent = {}                                   # Message-ID -> message, every one that got 250

    def send(tag, size=0):
        msg = tagged_message(tag, POSTMASTER, size)
        rep = raw_transaction(server.smtp_port, SENDER, [POSTMASTER], msg)
        if rep.code == 250:
            sent[f"<{tag}@client.test>"] = msg
        return msg, rep

    # a first message makes the journal segment and the mailbox
    _msg, rep = send("warmup-" + unique())
    assert rep.code == 250, rep
    wait_delivered(server, POSTMASTER, list(sent))

    filler = fill_disk(data, leave=256 * 1024)
    refused = None
    for i in range(40):                         # a 16 MiB segment holds about 15 of these
        tag = f"full-{i:02d}-{unique()}"
        msg, rep = send(tag, size=MIB)
        if rep.code != 250:
            refused = (tag, msg, rep)
            break
    assert refused, "40 messages of 1 MiB accepted on a full 64 MiB file system: the disk never counted as full"
    tag, msg, rep = refused
    assert rep.code == 452 and rep.enhanced == "4.3.1", \
        f"a queue that cannot be written must answer 452 4.3.1 (Insufficient system storage), got {rep!r}"
    assert "storage" in rep.text.lower(), f"452 without saying why: {rep!r}"
    assert i > 0, "not even the first message fitted the current journal segment"
    assert server.running, "the server died on a full disk"

    # nothing of the refused message, and nothing half-written, is in sight
    assert not files_containing(data, tag.encode(), skip=[data / "queue" / "journal", filler]), \
        "the refused message left files behind"
    for name in spool_entries(server, "msg"):
        content = (data / "queue" / "msg" / name).read_bytes()
        assert any(content.endswith(m) for m in sent.values()), \
            f"queue/msg/{name} is not a whole accepted message ({len(content)} octets)"
    for p in mailbox_files(server, POSTMASTER):
        content = p.read_bytes()
        mid = re.search(rb"^Message-ID: (<[^>]*>)", content, re.M)
        assert mid and mid.group(1).decode() in sent, f"unknown file in the mailbox: {p}"
        check_stored(content, SENDER, POSTMASTER, sent[mid.group(1).decode()], name=p.name)
    leftovers = list((server.maildir(POSTMASTER) / "tmp").iterdir())
    assert not leftovers, f"failed deliveries left files in the Maildir's tmp/: {leftovers}"

    # space returns: what was refused is taken now, and so is new mail
    filler.unlink()
    for again in (tag + "-again", "after-" + unique()):   # the refused one sent again, then new mail
        _m, rep = send(again, size=MIB)
        assert rep.code == 250, f"after space returned: {rep!r}"
    found = wait_delivered(server, POSTMASTER, list(sent), timeout=30)
    assert f"<{tag}@client.test>" not in found, "the message refused with 452 was delivered anyway"
    assert_once_and_whole(server, POSTMASTER, sent)
    assert server.running


# --------------------------------------------------------------------------
# 2. disk full at delivery time: deferred, shown, retried once space returns


def test_local_delivery_on_a_full_disk_is_deferred_then_retried(tmpfs_poshta):
    server = tmpfs_poshta(48, extra_toml=RETRY_FAST, message_size=4 * MIB)
    warm = "warmup-" + unique()
    first = tagged_message(warm, POSTMASTER)
    assert raw_transaction(server.smtp_port, SENDER, [POSTMASTER], first).code == 250
    wait_delivered(server, POSTMASTER, [f"<{warm}@client.test>"])

    # the journal segment is preallocated: a message still fits it, its
    # copy into the Maildir does not
    filler = fill_disk(server.data_dir, leave=256 * 1024)
    tag = "deferred-" + unique()
    msg = tagged_message(tag, POSTMASTER, size=2 * MIB)
    rep = raw_transaction(server.smtp_port, SENDER, [POSTMASTER], msg)
    assert rep.code == 250, f"a message that fits the journal segment must be accepted: {rep!r}"
    qid = queue_id_of(rep)

    last = {"text": ""}

    def deferred():
        text, parsed = queue_listing(server)
        last["text"] = text
        for m in parsed:
            if m["id"] == qid:
                for r in m["rcpts"]:
                    if r["addr"] == POSTMASTER and r["state"] == "deferred":
                        return r
        return None
    try:
        r = deadline_poll(deferred, 10, f"{qid} deferred in `queue list`", interval=0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}\nlast `queue list`:\n{last['text']}") from None
    assert re.search(r"space", r["line"], re.I), \
        f"the deferred recipient's error does not say the disk is full: {r['line']!r}"
    assert re.search(r"\b4\.3\.\d\b|\b451\b|\b452\b", r["line"]), \
        f"the recorded error is not a temporary (4xx) one: {r['line']!r}"
    assert f"<{tag}@client.test>" not in stored_by_msgid(server, POSTMASTER), \
        "delivered although the disk is full?"
    assert not list((server.maildir(POSTMASTER) / "tmp").iterdir()), "a failed delivery left a file in tmp/"
    assert server.running

    filler.unlink()
    t0 = time.monotonic()
    wait_delivered(server, POSTMASTER, [f"<{tag}@client.test>"], timeout=10)
    took = time.monotonic() - t0
    assert took < 6, f"with retry = 1s the message took {took:.1f} s to arrive after space returned"
    assert_once_and_whole(server, POSTMASTER, {f"<{tag}@client.test>": msg,
                                               f"<{warm}@client.test>": first})
    deadline_poll(lambda: queue_listing(server)[1] == [], 10, "an empty queue after the retry")
    time.sleep(1.5)                         # one more retry interval: no second copy comes
    assert_once_and_whole(server, POSTMASTER, {f"<{tag}@client.test>": msg})


# --------------------------------------------------------------------------
# 3. IMAP APPEND on a full disk


def test_imap_append_on_a_full_disk_is_overquota(tmpfs_poshta):
    user = "you@localhost"
    server = tmpfs_poshta(32, imap=True, message_size=2 * MIB)
    server.add_user(user)
    m = imaplib.IMAP4(HOST, server.imap_port, timeout=30)
    try:
        assert m.login(user, PASSWORD)[0] == "OK"
        typ, data = m.select("INBOX")
        assert typ == "OK", data
        before = int(data[0])

        filler = fill_disk(server.data_dir, leave=64 * 1024)
        tag = "append-" + unique()
        msg = tagged_message(tag, user, size=512 * 1024)
        typ, data = m.append("INBOX", None, None, msg)
        text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        assert typ == "NO", f"APPEND on a full disk answered {typ} {text!r}"
        assert text.startswith("[OVERQUOTA]"), f"APPEND on a full disk: expected NO [OVERQUOTA] ..., got {text!r}"
        assert re.search(r"disk space", text, re.I), f"the NO does not say why: {text!r}"
        assert not files_containing(server.maildir(user), tag.encode()), \
            "the refused APPEND left (part of) the message in the mailbox"
        typ, data = m.noop()
        assert typ == "OK", f"the session is unusable after the refused APPEND: {typ} {data}"
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) == before, f"INBOX changed by a refused APPEND: {data}"

        filler.unlink()
        typ, data = m.append("INBOX", None, None, msg)
        assert typ == "OK", f"APPEND after space returned: {typ} {data}"
        typ, data = m.select("INBOX")
        assert typ == "OK" and int(data[0]) == before + 1, data
        typ, data = m.search(None, "HEADER", "Message-ID", tag)
        assert typ == "OK" and len(data[0].split()) == 1, f"the appended message is not found once: {data}"
        typ, data = m.fetch(data[0].split()[0], "(BODY.PEEK[])")
        assert typ == "OK" and data[0][1] == msg, "the appended message differs from what was sent"
        m.logout()
    finally:
        try:
            m.shutdown()
        except OSError:
            pass
    assert server.running


# --------------------------------------------------------------------------
# 4. a damaged spool file is moved aside at start


def test_damaged_spool_file_is_moved_aside_and_the_rest_delivered(poshta_factory):
    server = poshta_factory(extra_toml=RETRY_FAST)
    server.add_user(BOB)
    tmp = server.maildir(BOB) / "tmp"
    # local delivery to bob fails (the server's user may not write tmp/):
    # his mail is deferred and waits in queue/msg/
    os.chmod(tmp, 0o500)
    try:
        sent, ids = {}, {}
        for name in ("crc", "intact", "envelope"):
            tag = f"spool-{name}-{unique()}"
            msg = tagged_message(tag, BOB, size=4096)
            rep = raw_transaction(server.smtp_port, SENDER, [BOB], msg)
            assert rep.code == 250, rep
            sent[name], ids[name] = (tag, msg), queue_id_of(rep)
        msgdir = server.data_dir / "queue" / "msg"
        deadline_poll(lambda: all((msgdir / i).exists() for i in ids.values()), 10,
                      "the deferred messages in queue/msg/")
        server.stop()
    finally:
        os.chmod(tmp, 0o700)

    # damage: a flipped byte in the content (wrong CRC), a garbled envelope
    crc_path = msgdir / ids["crc"]
    data = bytearray(crc_path.read_bytes())
    at = data.index(sent["crc"][0].encode())
    data[at] ^= 0x01
    crc_path.write_bytes(bytes(data))
    env_path = msgdir / ids["envelope"]
    data2 = bytearray(env_path.read_bytes())
    data2[0:12] = b"\xff garbage!\x00\x00"
    env_path.write_bytes(bytes(data2))
    damaged = {ids["crc"]: bytes(data), ids["envelope"]: bytes(data2)}

    # without a server, `queue list` reads the disk: no crash, no damaged entry
    r = server.cli("queue", "list")
    assert r.returncode == 0, f"`queue list` over a damaged spool: exit {r.returncode}\n{r.stderr}"
    assert ids["intact"] in r.stdout, f"`queue list` without a server lost the intact message:\n{r.stdout}"

    server.start()
    for qid, content in damaged.items():
        deadline_poll(lambda: log_lines(server, rf"queue_id={qid} event=moved_aside "
                                                r'reason="damaged spool file"'),
                      10, f"the moved_aside log line of {qid}")
        line = log_lines(server, rf"queue_id={qid} event=moved_aside")[0]
        assert re.search(r"\berror\b", line), f"damage must be logged at error level: {line!r}"
        aside = server.data_dir / "queue" / "corrupt" / qid
        assert aside.exists(), f"the damaged file {qid} is not in queue/corrupt/"
        assert aside.read_bytes() == content, f"queue/corrupt/{qid} is not the damaged file as it was"
        assert not (msgdir / qid).exists(), f"the damaged file {qid} is still in queue/msg/"

    # the intact message is delivered; new mail works; nothing damaged arrives
    tag, msg = sent["intact"]
    new_tag = "spool-new-" + unique()
    new_msg = tagged_message(new_tag, BOB)
    assert raw_transaction(server.smtp_port, SENDER, [BOB], new_msg).code == 250
    wait_delivered(server, BOB, [f"<{tag}@client.test>", f"<{new_tag}@client.test>"])
    assert_once_and_whole(server, BOB, {f"<{tag}@client.test>": msg, f"<{new_tag}@client.test>": new_msg})
    found = stored_by_msgid(server, BOB)
    for name in ("crc", "envelope"):
        assert f"<{sent[name][0]}@client.test>" not in found, f"the damaged message ({name}) was delivered"

    text, parsed = queue_listing(server)
    for qid in damaged:
        assert qid not in text, f"`queue list` still shows the damaged message {qid}:\n{text}"
    deadline_poll(lambda: queue_listing(server)[1] == [], 10, "an empty queue")
    assert server.running


# --------------------------------------------------------------------------
# 5. a journal record damaged in the middle of a segment


def test_damaged_journal_record_is_skipped_and_the_others_delivered(poshta_factory):
    server = poshta_factory(extra_toml=RETRY_FAST)
    server.add_user(BOB)
    tmp = server.maildir(BOB) / "tmp"
    msgdir = server.data_dir / "queue" / "msg"
    # bob's delivery fails and the deferred mail cannot move to queue/msg/:
    # it stays in the journal
    os.chmod(tmp, 0o500)
    os.chmod(msgdir, 0o500)
    try:
        sent = []
        for i in range(3):
            tag = f"journal-{i}-{unique()}"
            msg = tagged_message(tag, BOB, size=2048)
            rep = raw_transaction(server.smtp_port, SENDER, [BOB], msg)
            assert rep.code == 250, rep
            sent.append((tag, msg, queue_id_of(rep)))

        def all_deferred():
            _text, parsed = queue_listing(server)
            states = {m["id"]: [r["state"] for r in m["rcpts"]] for m in parsed}
            return all(states.get(q) == ["deferred"] for _t, _m, q in sent)
        deadline_poll(all_deferred, 10, "the three messages deferred", interval=0.2)
        assert spool_entries(server, "msg") == [], "deferred mail reached queue/msg/ (expected: the journal)"
        server.kill()                        # a crash: only the journal has them
    finally:
        os.chmod(tmp, 0o700)
        os.chmod(msgdir, 0o700)

    journal = server.data_dir / "queue" / "journal"
    middle = sent[1][0].encode()
    segments = sorted(p for p in journal.iterdir() if p.suffix == ".log")
    holding = [p for p in segments if middle in p.read_bytes()]
    assert holding, f"the second message is in no journal segment: {segments}"
    seg = holding[-1]
    data = bytearray(seg.read_bytes())
    for tag, _m, _q in sent:
        assert data.count(tag.encode()) >= 1, f"{tag} not in {seg.name}"
    assert data.index(sent[0][0].encode()) < data.index(middle) < data.index(sent[2][0].encode()), \
        "the records are not in the order sent"
    data[data.index(middle)] ^= 0x01
    seg.write_bytes(bytes(data))

    server.start()
    deadline_poll(lambda: log_lines(server, r"event=journal_damaged"), 10, "the journal_damaged log line")
    line = log_lines(server, r"event=journal_damaged")[0]
    assert seg.name in line, f"the log line does not name the damaged segment {seg.name}: {line!r}"
    assert re.search(r"\berror\b", line), f"damage must be logged at error level: {line!r}"
    copy = server.data_dir / "queue" / "corrupt" / seg.name
    assert copy.exists(), f"no copy of the damaged segment in queue/corrupt/: " \
                          f"{spool_entries(server, 'corrupt')}"
    assert copy.read_bytes() == bytes(data), "queue/corrupt/ does not hold the damaged segment as it was"

    # the records before and after the damaged one are delivered, once
    keep = {f"<{sent[i][0]}@client.test>": sent[i][1] for i in (0, 2)}
    wait_delivered(server, BOB, list(keep), timeout=15)
    assert_once_and_whole(server, BOB, keep)
    lost = stored_by_msgid(server, BOB).get(f"<{sent[1][0]}@client.test>", [])
    for p in lost:                       # may be lost; if it came, it came whole
        check_stored(p.read_bytes(), SENDER, BOB, sent[1][1], name=p.name)
    new_tag = "journal-new-" + unique()
    new_msg = tagged_message(new_tag, BOB)
    assert raw_transaction(server.smtp_port, SENDER, [BOB], new_msg).code == 250
    wait_delivered(server, BOB, [f"<{new_tag}@client.test>"])
    assert server.running


# --------------------------------------------------------------------------
# 6. SIGTERM under load


LOAD_THREADS = 20
LOAD_SECONDS = 2.0
EXIT_WITHIN = 35


def test_sigterm_under_load_loses_nothing_acknowledged(poshta):
    run = unique()
    lock = threading.Lock()
    sent = {}                       # msgid -> message, every one a DATA was started for
    acked = {}                      # msgid -> number of 250 replies
    after_term = []                 # (kind, detail) of the endings seen after SIGTERM
    errors = []                     # failures before SIGTERM, or other codes than 421
    term_sent = threading.Event()
    give_up = [time.monotonic() + 120]
    counter = iter(range(10 ** 9))

    def client(n):
        s = None
        while time.monotonic() < give_up[0]:
            with lock:
                i = next(counter)
            msgid = f"<load-{run}-{n:02d}-{i:06d}@client.test>"
            msg = make_message(subject=f"load {run} {i}", to=POSTMASTER, sender=SENDER, msgid=msgid)
            with lock:
                sent[msgid] = msg
            try:
                if s is None:
                    s = smtplib.SMTP(HOST, poshta.smtp_port, local_hostname=CLIENT_NAME, timeout=40)
                s.sendmail(SENDER, [POSTMASTER], msg)
            except smtplib.SMTPRecipientsRefused as e:
                codes = {c for c, _t in e.recipients.values()}
                ending = ("code", sorted(codes))
            except smtplib.SMTPResponseException as e:
                ending = ("code", [e.smtp_code], e.smtp_error)
            except (smtplib.SMTPServerDisconnected, OSError) as e:
                ending = ("closed", repr(e))
            else:
                with lock:
                    acked[msgid] = acked.get(msgid, 0) + 1
                continue
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
            with lock:
                if not term_sent.is_set():
                    errors.append(f"before SIGTERM: {msgid}: {ending}")
                    return
                after_term.append(ending)
                if ending[0] == "code" and ending[1] != [421]:
                    errors.append(f"after SIGTERM, {msgid}: expected 250 or 421, got {ending}")
            return
        with lock:
            errors.append(f"client {n} still sending at the deadline")

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(LOAD_THREADS)]
    for t in threads:
        t.start()
    time.sleep(LOAD_SECONDS)
    with lock:
        acked_before = len(acked)
        term_sent.set()
    t_term = time.monotonic()
    poshta.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(timeout=EXIT_WITHIN + 10)
    assert not any(t.is_alive() for t in threads), "client threads still running after SIGTERM"
    poshta.wait_exit(timeout=max(1.0, EXIT_WITHIN - (time.monotonic() - t_term)))
    exit_after = time.monotonic() - t_term
    assert not errors, f"{len(errors)} clients saw something else than 250, 421 or a close: {errors[:10]}"
    assert acked_before >= LOAD_THREADS, f"only {acked_before} messages accepted before SIGTERM: no load"
    assert exit_after <= EXIT_WITHIN, f"exited {exit_after:.1f} s after SIGTERM"

    poshta.start()
    try:
        found = wait_delivered(poshta, POSTMASTER, list(acked), timeout=45)
    except AssertionError as e:
        raise AssertionError(f"mail acknowledged with 250 is missing after SIGTERM and a restart "
                             f"({len(acked)} acknowledged, {acked_before} before SIGTERM): {e}") from None
    duplicates, unacked = [], []
    for msgid, paths in found.items():
        if not msgid.startswith(f"<load-{run}-"):
            continue
        if msgid not in acked:
            unacked.append(msgid)         # its 250 was lost with the connection: allowed
        if len(paths) > 1:
            duplicates.append((msgid, len(paths), acked.get(msgid, 0)))
        check_stored(paths[0].read_bytes(), SENDER, POSTMASTER, sent[msgid], name=paths[0].name)
    deadline_poll(lambda: queue_listing(poshta)[1] == [], 30,
                  "the restarted server to deliver everything left in the queue")
    if duplicates:
        warnings.warn(f"{len(duplicates)} messages stored more than once after SIGTERM "
                      f"(Message-ID, copies, 250s): {duplicates[:10]}")
    print(f"\nSIGTERM under load: {len(acked)} acknowledged ({acked_before} before SIGTERM), "
          f"endings after SIGTERM: {sorted(set(e[0] for e in after_term))}, "
          f"stored without a 250 seen: {len(unacked)}, duplicates: {len(duplicates)}, "
          f"exit {exit_after:.2f} s after SIGTERM")
