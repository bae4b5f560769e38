"""Interoperability with offlineimap (offlineimap3): one-shot syncs of an
account (INBOX and one more folder) between Poshta's IMAP server and a local
Maildir, with a private configuration and metadata directory under the test's
tmp_path (HOME points there too, so ~ is never touched).

Checked: the first sync copies every message byte for byte (offlineimap
stores LF line ends) with the server's flags in the file names, and leaves
unseen mail unseen; flags set locally, a message added locally and a message
deleted locally reach the server at the next sync (STORE, APPEND, EXPUNGE),
and new mail on the server arrives locally; a sync with nothing changed
changes nothing on either side; the same over imaps with the server's
self-signed certificate pinned by its fingerprint."""

import hashlib
import os
import re
import shutil
import ssl
import subprocess
import time

import pytest

from poshta_helpers import HOST, PASSWORD, unique
from test_imap import (  # noqa: F401  (imap_factory and imap are fixtures)
    USER, RawIMAP, deliver, fetch, flags_of, imap, imap_factory, mail_files, multipart_message,
    plain_message)

OFFLINEIMAP = shutil.which("offlineimap") or (
    "/usr/bin/offlineimap" if os.path.exists("/usr/bin/offlineimap") else None)
SYNC_TIMEOUT = 60          # seconds for one offlineimap run
FOLDER = "Projects"        # the extra folder, made by IMAP CREATE
FOLDERS = ("INBOX", FOLDER)

pytestmark = pytest.mark.skipif(
    OFFLINEIMAP is None, reason="offlineimap is not installed (the Debian package offlineimap3)")


# --------------------------------------------------------------------------
# offlineimap


class OfflineIMAP:
    """One offlineimap account: the server's INBOX and FOLDER against the
    Maildir tree self.local (a directory per folder), plaintext LOGIN on the
    imap port (allowed from loopback), or imaps with the certificate pinned."""

    def __init__(self, server, tmp_path, tls=False, fingerprint=None):
        self.tmp = tmp_path
        self.local = tmp_path / "mail"
        self.meta = tmp_path / "offlineimap"
        self.rc = tmp_path / "offlineimaprc"
        self.local.mkdir(parents=True)
        self.meta.mkdir()
        if tls:
            transport = (f"remoteport = {server.imaps_port}\nssl = yes\nstarttls = no\n"
                         f"cert_fingerprint = {fingerprint or certificate_fingerprint(server)}\n")
        else:
            transport = f"remoteport = {server.imap_port}\nssl = no\nstarttls = no\n"
        self.rc.write_text(
            "[general]\n"
            "accounts = poshta\n"
            f"metadata = {self.meta}\n"
            "ui = basic\n"
            "fsync = false\n"
            "\n"
            "[Account poshta]\n"
            "localrepository = local\n"
            "remoterepository = remote\n"
            "\n"
            "[Repository local]\n"
            "type = Maildir\n"
            f"localfolders = {self.local}\n"
            "\n"
            "[Repository remote]\n"
            "type = IMAP\n"
            f"remotehost = {HOST}\n"
            f"{transport}"
            f"remoteuser = {USER}\n"
            f"remotepass = {PASSWORD}\n"
            "auth_mechanisms = LOGIN\n"
            f"folderfilter = lambda name: name in {list(FOLDERS)!r}\n"
            "maxconnections = 1\n")
        self.env = dict(os.environ, HOME=str(tmp_path))

    def run(self):
        """One run (-o: once, -u basic: plain text output); returns the exit
        status and the output (stdout and stderr)."""
        cmd = [OFFLINEIMAP, "-o", "-u", "basic", "-c", str(self.rc)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=SYNC_TIMEOUT,
                               env=self.env, cwd=self.tmp)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"offlineimap did not finish within {SYNC_TIMEOUT} s\n"
                                 f"stdout:\n{e.stdout}\nstderr:\n{e.stderr}")
        return r.returncode, r.stdout + r.stderr

    def sync(self):
        """A run that must succeed without reporting an error (else the
        failure shows offlineimap's output); returns the output."""
        rc, out = self.run()
        assert rc == 0, f"offlineimap exited {rc}\n{out}"
        assert "ERROR" not in out, f"offlineimap reported an error\n{out}"
        return out

    def folder(self, name):
        return self.local / name

    def files(self, folder):
        """{server UID: path} of the local copies (offlineimap names them
        ...,U=<uid>,...); a file without a UID is under None."""
        out = {}
        for sub in ("new", "cur"):
            d = self.folder(folder) / sub
            if d.exists():
                for p in d.iterdir():
                    m = re.search(r",U=(\d+)", p.name)
                    uid = int(m.group(1)) if m else None
                    assert uid is None or uid not in out, f"two local copies of UID {uid}: {p}, {out[uid]}"
                    out[uid] = p
        return out

    def snapshot(self):
        """Every local message file (path relative to the tree) with its content."""
        out = {}
        for root, _dirs, names in os.walk(self.local):
            if os.path.basename(root) in ("new", "cur", "tmp"):
                for n in names:
                    p = os.path.join(root, n)
                    with open(p, "rb") as f:
                        out[os.path.relpath(p, self.local)] = f.read()
        return out


def certificate_fingerprint(server):
    """SHA-256 of the server's self-signed certificate (<data_dir>/tls/cert.pem)."""
    der = ssl.PEM_cert_to_DER_cert((server.data_dir / "tls" / "cert.pem").read_text())
    return hashlib.sha256(der).hexdigest()


# --------------------------------------------------------------------------
# the server's side, seen by IMAP


def lf(data):
    return data.replace(b"\r\n", b"\n")


def connect(server):
    c = RawIMAP(server.imap_port)
    c.login()
    return c


def append(c, mailbox, msg, flags=""):
    """APPEND with a synchronising literal; returns the new UID (APPENDUID)."""
    c.n += 1
    tag = f"r{c.n}"
    c.send(f"{tag} APPEND {mailbox} ({flags}) {{{len(msg)}}}\r\n")
    assert c.line().startswith(b"+"), "no continuation request for the APPEND literal"
    c.send(msg + b"\r\n")
    _, done = c.response(tag)
    m = re.match(rb"^r\d+ OK \[APPENDUID \d+ (\d+)\]", done)
    assert m, done
    return int(m.group(1))


def mailbox_state(c, mailbox):
    """(UIDVALIDITY, EXISTS, {UID: flags without \\Recent}, HIGHESTMODSEQ)
    by EXAMINE."""
    untagged, _ = c.ok(f"EXAMINE {mailbox}")
    exists = validity = modseq = None
    for u in untagged:
        if m := re.match(rb"^\* (\d+) EXISTS$", u):
            exists = int(m.group(1))
        if m := re.match(rb"^\* OK \[UIDVALIDITY (\d+)\]", u):
            validity = int(m.group(1))
        if m := re.match(rb"^\* OK \[HIGHESTMODSEQ (\d+)\]", u):
            modseq = int(m.group(1))
    assert None not in (exists, validity, modseq), untagged
    flags = {}
    if exists:
        data, _ = fetch(c, "1:*", "(UID FLAGS)")
        flags = {d["UID"]: frozenset(f for f in d["FLAGS"] if f != "\\Recent") for d in data.values()}
    assert len(flags) == exists, (exists, flags)
    return validity, exists, flags, modseq


def server_state(server):
    with connect(server) as c:
        return {box: mailbox_state(c, box) for box in FOLDERS}


def bodies(server, mailbox):
    """{UID: BODY[]} of every message of the mailbox (BODY.PEEK: no \\Seen)."""
    with connect(server) as c:
        if not mailbox_state(c, mailbox)[1]:
            return {}
        data, _ = fetch(c, "1:*", "(UID BODY.PEEK[])")
        return {d["UID"]: d["BODY[]"] for d in data.values()}


def server_flags(server, mailbox):
    with connect(server) as c:
        return mailbox_state(c, mailbox)[2]


# --------------------------------------------------------------------------
# the account


def populate(server):
    """INBOX: a plain message, a multipart one and a plain one marked \\Seen
    \\Flagged, delivered by SMTP; FOLDER (created): a plain message and a
    multipart one marked \\Answered, appended. Returns {name: (folder, UID,
    the bytes sent)}."""
    sent = {"plain": plain_message(), "multi": multipart_message(), "flagged": plain_message()}
    for msg in sent.values():
        deliver(server, msg)
    msgs = {}
    with connect(server) as c:
        c.ok("SELECT INBOX")
        data, _ = fetch(c, "1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        for d in data.values():
            name = next(n for n, m in sent.items()
                        if re.search(rb"(?m)^Message-ID: (.*)\r$", m).group(1)
                        in d["BODY[HEADER.FIELDS (MESSAGE-ID)]"])
            msgs[name] = ("INBOX", d["UID"], sent[name])
        c.ok(f"UID STORE {msgs['flagged'][1]} +FLAGS (\\Seen \\Flagged)")
        c.ok(f"CREATE {FOLDER}")
        project = plain_message(subject="project " + unique())
        msgs["project"] = (FOLDER, append(c, FOLDER, project), project)
        answered = multipart_message(subject="answered " + unique())
        msgs["answered"] = (FOLDER, append(c, FOLDER, answered, "\\Answered"), answered)
        c.ok("LOGOUT")
    assert len(msgs) == 5, msgs
    return msgs


def first_sync(server, tmp_path):
    msgs = populate(server)
    oi = OfflineIMAP(server, tmp_path)
    out = oi.sync()
    return oi, msgs, out


def new_local_message():
    """A message written into the local Maildir: LF line ends, as offlineimap
    and other Maildir programs keep them."""
    return lf(plain_message(subject="written locally " + unique()))


def change_locally(oi, msgs):
    """Local changes between syncs: \\Flagged on INBOX 'plain' and \\Seen on
    FOLDER 'project' (file renamed to cur/<base>:2,<flags>), a new message in
    FOLDER/new/ and INBOX 'multi' deleted. Returns the new message."""

    def set_flags(name, add):
        folder, uid, _ = msgs[name]
        path = oi.files(folder)[uid]
        base = path.name.split(":2,")[0]
        flags = "".join(sorted(set(flags_of(path)) | set(add)))
        os.rename(path, oi.folder(folder) / "cur" / f"{base}:2,{flags}")

    set_flags("plain", "F")
    set_flags("project", "S")
    written = new_local_message()
    name = f"{int(time.time())}.{os.getpid()}_{unique()}.client.test"
    (oi.folder(FOLDER) / "new" / name).write_bytes(written)
    folder, uid, _ = msgs["multi"]
    oi.files(folder)[uid].unlink()
    return written


# --------------------------------------------------------------------------
# tests


def test_first_sync_copies_every_message_and_its_flags(imap, tmp_path):
    oi, msgs, out = first_sync(imap, tmp_path)
    assert "Copy message" in out, out          # the basic UI reports each copy

    # Only the folders of the filter, as directories of the local tree.
    assert sorted(p.name for p in oi.local.iterdir()) == sorted(FOLDERS)
    for folder in FOLDERS:
        on_server = bodies(imap, folder)
        local = oi.files(folder)
        assert sorted(local) == sorted(on_server), f"{folder}: local {local}, server {on_server.keys()}"
        for uid, path in local.items():
            # Byte for byte what the server has, with LF line ends.
            assert path.read_bytes() == lf(on_server[uid]), f"{folder} UID {uid}: {path}"

    # ... which is what was sent (delivery by SMTP adds trace fields on top).
    for name, (folder, uid, sent) in msgs.items():
        data = oi.files(folder)[uid].read_bytes()
        if folder == "INBOX":
            assert data.endswith(lf(sent)), name
        else:
            assert data == lf(sent), name

    # Flags: the server's in the name (Maildir: seen mail in cur/, unseen in new/).
    def local(name):
        folder, uid, _ = msgs[name]
        return oi.files(folder)[uid]
    assert flags_of(local("flagged")) == "FS"
    assert local("flagged").parent.name == "cur"
    assert flags_of(local("answered")) == "R"
    for name in ("plain", "multi", "project"):
        assert flags_of(local(name)) == "", name
        assert local(name).parent.name == "new", name

    # offlineimap read with BODY.PEEK: the server still has the unseen mail unseen.
    flags = {f: server_flags(imap, f) for f in FOLDERS}
    for name, (folder, uid, _) in msgs.items():
        want = {"flagged": {"\\Seen", "\\Flagged"}, "answered": {"\\Answered"}}.get(name, set())
        assert flags[folder][uid] == want, (name, flags[folder][uid])
    assert [flags_of(p) for p in mail_files(imap)].count("") == 2       # in the server's Maildir too


def test_local_changes_reach_the_server(imap, tmp_path):
    oi, msgs, _ = first_sync(imap, tmp_path)
    before = server_state(imap)
    written = change_locally(oi, msgs)
    # And new mail on the server, to be fetched at the same sync.
    arriving = plain_message(subject="arriving " + unique())
    deliver(imap, arriving)

    out = oi.sync()
    after = server_state(imap)

    # The flags set locally.
    inbox_flags = after["INBOX"][2]
    folder_flags = after[FOLDER][2]
    assert inbox_flags[msgs["plain"][1]] == {"\\Flagged"}
    assert folder_flags[msgs["project"][1]] == {"\\Seen"}
    assert inbox_flags[msgs["flagged"][1]] == {"\\Seen", "\\Flagged"}     # untouched
    assert folder_flags[msgs["answered"][1]] == {"\\Answered"}

    # The message deleted locally is expunged, not just marked \Deleted.
    assert msgs["multi"][1] not in inbox_flags, inbox_flags
    assert not any(b"multipart/mixed" in p.read_bytes() for p in mail_files(imap)), \
        "the deleted message is still in the server's INBOX"
    assert after["INBOX"][0] == before["INBOX"][0]                       # same UIDVALIDITY
    assert after["INBOX"][1] == 3                                        # 3 - multi + arriving

    # The message written locally: one new UID, with the local bytes (CRLF).
    new_uids = set(folder_flags) - set(before[FOLDER][2])
    assert len(new_uids) == 1, (before[FOLDER], after[FOLDER])
    uid = new_uids.pop()
    assert folder_flags[uid] == set()                                    # was in new/: unseen
    assert bodies(imap, FOLDER)[uid] == written.replace(b"\n", b"\r\n")
    assert after[FOLDER][1] == 3
    # ... and locally it now carries its server UID, its content unchanged.
    local = oi.files(FOLDER)
    assert None not in local, local
    assert local[uid].read_bytes() == written

    # The server's new mail arrived; the deleted message did not come back.
    inbox = oi.files("INBOX")
    assert sorted(inbox) == sorted(inbox_flags), (inbox, inbox_flags)
    arrived = [u for u in inbox if u not in before["INBOX"][2]]
    assert len(arrived) == 1
    assert inbox[arrived[0]].read_bytes().endswith(lf(arriving))
    assert "Copy message" in out, out


def test_sync_without_changes_transfers_nothing(imap, tmp_path):
    oi, msgs, _ = first_sync(imap, tmp_path)
    change_locally(oi, msgs)
    oi.sync()
    server_before = server_state(imap)
    files_before = sorted(p.name for p in mail_files(imap) + mail_files(imap, folder=FOLDER))
    local_before = oi.snapshot()

    out = oi.sync()
    # Same UIDVALIDITY, count, UIDs and flags, and HIGHESTMODSEQ: not even a
    # STORE that changed nothing.
    assert server_state(imap) == server_before
    assert sorted(p.name for p in mail_files(imap) + mail_files(imap, folder=FOLDER)) == files_before
    assert oi.snapshot() == local_before
    for verb in ("Copy message", "Adding flag", "Deleting "):
        assert verb not in out, f"{verb!r} in the output of a sync with nothing to do\n{out}"


def test_sync_over_imaps_with_pinned_certificate(imap, tmp_path):
    msgs = populate(imap)
    # Another fingerprint: offlineimap refuses the server and copies nothing.
    wrong = OfflineIMAP(imap, tmp_path / "wrong", tls=True, fingerprint="00" * 32)
    rc, out = wrong.run()
    assert rc != 0 and "fingerprint" in out.lower(), f"exit status {rc}\n{out}"
    assert wrong.snapshot() == {}

    oi = OfflineIMAP(imap, tmp_path / "right", tls=True)
    assert "Copy message" in oi.sync()
    for folder in FOLDERS:
        on_server = bodies(imap, folder)
        local = oi.files(folder)
        assert sorted(local) == sorted(on_server), folder
        for uid, path in local.items():
            assert path.read_bytes() == lf(on_server[uid]), f"{folder} UID {uid}: {path}"
    folder, uid, _ = msgs["flagged"]
    assert flags_of(oi.files(folder)[uid]) == "FS"
