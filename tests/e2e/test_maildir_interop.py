"""Poshta and Dovecot on the same Maildir (docs/SPEC.md, "Files on disk":
other Maildir readers such as Dovecot with maildir:<data_dir>/mail/%d/%n can
read and change the mailboxes).

A running Poshta (SMTP and IMAP) and a private Dovecot (IMAP only, from
peers.DovecotPeer) are pointed at the same Maildir++ tree, and imaplib
talks to both: what Poshta delivered is what Dovecot lists; flags and
keywords (dovecot-keywords) set on one side are seen on the other after
NOOP or a new SELECT, and a flag change through Poshta starts from what
the file has now, whoever renamed it last; an expunge by Dovecot leaves
Poshta's other UIDs alone; folders and APPENDs made through Poshta are
Dovecot folders.

Dovecot 2.3 never runs IMAP processes as root ("userdb returned 0 as uid",
"Mail access not allowed for root", whatever first_valid_uid says), and
Poshta writes its files with mode 0600, so both servers run as one unprivileged owner of the mail, peers.VUID,
as they would in production (a "vmail" user): Poshta through setpriv, and
Dovecot with mail_uid/mail_gid and a static userdb giving that uid/gid."""

import imaplib
import os
import re
import time

import pytest

import peers
from poshta_helpers import (HOST, PASSWORD, deadline_poll, make_message, port_open, smtp_send,
                            unique)
from test_imap import with_imap

USER = "bob@example.test"          # example.test is a local domain of conftest's Poshta
SENDER = "alice@b.test"
DOVECOT_PASSWORD = "pass"          # peers.DovecotPeer: static passdb, any user
TIMEOUT = 30
SETPRIV = "/usr/bin/setpriv"


# --------------------------------------------------------------------------
# the two servers


def run_as_mail_owner(server):
    """Makes a server that is not started yet run (serve and every command
    line) as peers.VUID, owning its directory."""
    wrapper = server.dir / "poshta-as-vuid"
    wrapper.write_text("#!/bin/sh\n"
                       f"exec {SETPRIV} --reuid={peers.VUID} --regid={peers.VUID} --clear-groups "
                       f'-- {server.bin} "$@"\n')
    wrapper.chmod(0o755)
    server.bin = str(wrapper)
    for root, dirs, files in os.walk(server.dir):
        for name in [root] + [os.path.join(root, n) for n in dirs + files]:
            os.chown(name, peers.VUID, peers.VUID)
    return server


@pytest.fixture
def pair(poshta_factory):
    """(server, dovecot): a running Poshta with an imap listener and the user
    USER (password PASSWORD), and a started Dovecot serving the same
    Maildirs by IMAP on dovecot.imap_port. Dovecot is stopped (and its log
    printed) at teardown, before Poshta."""
    if not os.path.exists(peers.DOVECOT):
        pytest.skip(f"Dovecot is not installed ({peers.DOVECOT} missing)")
    assert os.access(SETPRIV, os.X_OK), f"{SETPRIV} (util-linux) is missing"
    server = run_as_mail_owner(with_imap(poshta_factory(start=False)))
    server.start()
    deadline_poll(lambda: port_open(server.imap_port), 10, f"Poshta's IMAP port {server.imap_port}")
    server.add_user(USER)

    base = peers.private_dir("poshta-e2e-dovecot-imap-")
    try:
        dovecot = peers.DovecotPeer(base, imap_port=peers.free_shared_port(["127.0.0.1"]),
                                    mail_location=f"maildir:{server.data_dir}/mail/%d/%n")
    except BaseException:
        peers.remove_dir(base)
        raise
    try:
        dovecot.start()
        yield server, dovecot
    finally:
        dovecot.stop()
        print(f"==== Dovecot log ({dovecot.logfile}) ====\n{dovecot.log_text()}")
        peers.remove_dir(base)


def poshta_login(server):
    m = imaplib.IMAP4(HOST, server.imap_port, timeout=TIMEOUT)
    ok(m.login(USER, PASSWORD))
    return m


def dovecot_login(dovecot):
    m = imaplib.IMAP4("127.0.0.1", dovecot.imap_port, timeout=TIMEOUT)
    ok(m.login(USER, DOVECOT_PASSWORD))
    return m


def logout(*clients):
    for m in clients:
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError):
            pass


# --------------------------------------------------------------------------
# mail, files and IMAP data


def message(tag):
    msgid = f"<{tag}.{unique()}@client.test>"
    return msgid, make_message(subject=f"{tag} {unique()}", sender=SENDER, to=USER, msgid=msgid)


def mail_files(server, folder=None):
    """The message files (new/ and cur/) of INBOX or of a folder."""
    box = server.maildir(USER) / (f".{folder}" if folder else "")
    out = []
    for sub in ("new", "cur"):
        d = box / sub
        if d.is_dir():
            out += [p for p in d.iterdir() if p.is_file()]
    return out


def file_of(server, msgid, folder=None):
    """The one file of a folder that holds msgid (bytes or str)."""
    needle = msgid.encode() if isinstance(msgid, str) else msgid
    found = []
    for p in mail_files(server, folder):
        try:
            if needle in p.read_bytes():
                found.append(p)
        except FileNotFoundError:          # renamed under us: look again
            return file_of(server, msgid, folder)
    assert len(found) <= 1, f"{msgid} is in several files: {found}"
    return found[0] if found else None


def deliver(server, *messages):
    """Sends each (msgid, message) by SMTP to USER and waits until all are
    stored."""
    for _msgid, msg in messages:
        assert smtp_send(server.smtp_port, SENDER, [USER], msg) == {}
    for msgid, _msg in messages:
        deadline_poll(lambda: file_of(server, msgid), 10,
                      f"{msgid} in {server.maildir(USER)}")


def maildir_flags(path):
    name = path.name
    return name.split(":2,", 1)[1] if ":2," in name else ""


def dovecot_keywords(server, folder=None):
    """{name: letter} from the folder's dovecot-keywords file."""
    box = server.maildir(USER) / (f".{folder}" if folder else "")
    try:
        text = (box / "dovecot-keywords").read_text()
    except FileNotFoundError:
        return {}
    out = {}
    for line in text.splitlines():
        index, _, name = line.partition(" ")
        if index.isdigit() and name:
            out[name] = chr(ord("a") + int(index))
    return out


def ok(result):
    typ, data = result
    assert typ == "OK", f"expected OK, got {typ} {data!r}"
    return data


def select(m, mailbox="INBOX"):
    """SELECT; returns (EXISTS, UIDVALIDITY, the FLAGS list)."""
    exists = int(ok(m.select(mailbox))[0])
    uidvalidity = int(m.response("UIDVALIDITY")[1][0])
    flags = m.response("FLAGS")[1][0] or b""
    return exists, uidvalidity, set(flags.decode().strip("()").split())


FETCH_SEQ = re.compile(rb"^(\d+) \(")
FETCH_UID = re.compile(rb"\bUID (\d+)")
FETCH_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
MSGID = re.compile(rb"^Message-ID:\s*(<[^>]*>)", re.I | re.M)


def flags_set(raw):
    """FLAGS atoms as a set of str, without \\Recent (only Dovecot keeps it)."""
    return {f for f in raw.decode().split() if f != "\\Recent"}


def fetched_flags(lines):
    """{sequence number: flags} from untagged FETCH data that has FLAGS."""
    out = {}
    for line in lines or []:
        if isinstance(line, tuple):
            line = line[0]
        if not line:
            continue
        seq, flags = FETCH_SEQ.match(line), FETCH_FLAGS.search(line)
        if seq and flags:
            out[int(seq.group(1))] = flags_set(flags.group(1))
    return out


def snapshot(m):
    """The selected mailbox as {Message-ID: {"seq", "uid", "flags"}}."""
    m.response("FETCH")                       # drop FETCH data of earlier commands
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    assert typ == "OK", f"UID FETCH 1:* (FLAGS): {typ} {data!r}"
    by_seq = {}
    for line in data:
        if not line:
            continue
        seq, uid, flags = FETCH_SEQ.match(line), FETCH_UID.search(line), FETCH_FLAGS.search(line)
        assert seq and uid and flags, f"unexpected FETCH data {line!r}"
        by_seq[int(seq.group(1))] = {"seq": int(seq.group(1)), "uid": int(uid.group(1)),
                                     "flags": flags_set(flags.group(1))}
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert typ == "OK", f"UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]): {typ} {data!r}"
    out = {}
    for item in data:
        if not isinstance(item, tuple):
            continue
        seq = int(FETCH_SEQ.match(item[0]).group(1))
        found = MSGID.search(item[1])
        assert found, f"no Message-ID in {item!r}"
        assert seq in by_seq, f"message {seq} has a Message-ID but no FLAGS: {by_seq}"
        out[found.group(1).decode()] = by_seq[seq]
    assert len(out) == len(by_seq), f"Message-IDs {sorted(out)} for messages {sorted(by_seq)}"
    return out


def fetch_one(m, uid, items):
    """UID FETCH uid (items) -> (the response line, the literal or None)."""
    m.response("FETCH")
    typ, data = m.uid("FETCH", str(uid), f"({items})")
    assert typ == "OK", f"UID FETCH {uid} ({items}): {typ} {data!r}"
    for i, item in enumerate(data):
        line = item[0] if isinstance(item, tuple) else item
        if line and re.search(rb"\bUID " + str(uid).encode() + rb"\b", line):
            if isinstance(item, tuple):
                rest = data[i + 1] if i + 1 < len(data) and isinstance(data[i + 1], bytes) else b""
                return item[0] + b" " + rest, item[1]
            return line, None
    raise AssertionError(f"UID FETCH {uid} ({items}) returned nothing for that UID: {data!r}")


def body_of(m, uid):
    return fetch_one(m, uid, "BODY.PEEK[]")[1]


def size_and_date(m, uid):
    line, _ = fetch_one(m, uid, "RFC822.SIZE INTERNALDATE")
    size = int(re.search(rb"RFC822\.SIZE (\d+)", line).group(1))
    date = imaplib.Internaldate2tuple(b"* 1 FETCH (" + line[line.index(b"INTERNALDATE"):])
    assert date is not None, f"unparsable INTERNALDATE in {line!r}"
    return size, time.mktime(date)


def noop(m):
    """NOOP; returns ({sequence number: flags} of the untagged FETCHes, the
    sequence numbers of the untagged EXPUNGEs, the EXISTS count or None)."""
    m.response("FETCH")
    m.response("EXPUNGE")
    m.response("EXISTS")
    ok(m.noop())
    fetches = fetched_flags(m.response("FETCH")[1])
    expunged = [int(x) for x in (m.response("EXPUNGE")[1] or []) if x]
    exists = m.response("EXISTS")[1]
    return fetches, expunged, int(exists[-1]) if exists and exists[-1] else None


def list_names(m):
    """LIST "" "*": {name: (attributes, delimiter)}."""
    out = {}
    for line in ok(m.list('""', "*")):
        if isinstance(line, tuple):            # a name sent as a literal
            head, name = line
            parsed = re.match(rb'^\(([^)]*)\) (NIL|"(?:[^"\\]|\\.)*") \{\d+\}$', head)
        else:
            parsed = re.match(rb'^\(([^)]*)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', line)
            name = parsed.group(3) if parsed else None
        assert parsed, f"unexpected LIST data {line!r}"
        if name.startswith(b'"'):
            name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
        out[name.decode()] = (parsed.group(1).decode(), parsed.group(2).decode().strip('"'))
    return out


SYSTEM = {"\\Seen", "\\Flagged", "\\Answered", "\\Deleted", "\\Draft"}


def system_flags(entry):
    return entry["flags"] & SYSTEM


# --------------------------------------------------------------------------
# 1. what Poshta delivered, Dovecot lists with the same bodies


def test_dovecot_lists_what_poshta_delivered(pair):
    server, dovecot = pair
    first = [message("one"), message("two")]
    deliver(server, *first)
    sent = dict(first)

    # Dovecot reads first: the files are still in new/ (Dovecot moves them to cur/).
    d = dovecot_login(dovecot)
    exists, _, _ = select(d)
    assert exists == 2, f"Dovecot's SELECT INBOX: EXISTS {exists}, expected 2"
    dv = snapshot(d)
    assert set(dv) == set(sent), f"Dovecot lists {sorted(dv)}, Poshta delivered {sorted(sent)}"
    dovecot_bodies = {msgid: body_of(d, e["uid"]) for msgid, e in dv.items()}
    for msgid, body in dovecot_bodies.items():
        assert body.endswith(sent[msgid]), \
            f"{msgid}: Dovecot's BODY[] does not end with the message sent:\n{body!r}"
        assert re.search(rb"^Delivered-To: " + USER.encode() + rb"\r$", body, re.M | re.I), \
            f"{msgid}: no Delivered-To: {USER} in what Dovecot shows:\n{body[:600]!r}"

    # Poshta reads what Dovecot has moved to cur/.
    p = poshta_login(server)
    exists, _, _ = select(p)
    assert exists == 2, f"Poshta's SELECT INBOX after Dovecot's: EXISTS {exists}, expected 2"
    pv = snapshot(p)
    assert set(pv) == set(sent), f"Poshta lists {sorted(pv)} after Dovecot read the mailbox"
    for msgid in sent:
        pbody = body_of(p, pv[msgid]["uid"])
        assert pbody == dovecot_bodies[msgid], \
            f"{msgid}: Poshta and Dovecot return different BODY[]:\nPoshta:  {pbody!r}\n" \
            f"Dovecot: {dovecot_bodies[msgid]!r}"
        psize, pdate = size_and_date(p, pv[msgid]["uid"])
        dsize, ddate = size_and_date(d, dv[msgid]["uid"])
        assert psize == dsize == len(pbody), \
            f"{msgid}: RFC822.SIZE Poshta {psize}, Dovecot {dsize}, BODY[] is {len(pbody)} octets"
        assert pdate == ddate, f"{msgid}: INTERNALDATE Poshta {pdate}, Dovecot {ddate}"

    # A third message: Poshta sees it first (and moves it to cur/), then Dovecot.
    third = message("three")
    deliver(server, third)
    sent.update([third])
    _, _, exists = noop(p)
    assert exists == 3, f"Poshta's NOOP after a delivery: EXISTS {exists}, expected 3"
    pv = snapshot(p)
    assert set(pv) == set(sent)
    deadline_poll(lambda: file_of(server, third[0]).parent.name == "cur", 5,
                  "Poshta to move the new message to cur/")
    _, _, exists = noop(d)
    assert exists == 3, f"Dovecot's NOOP after the delivery Poshta saw: EXISTS {exists}, expected 3"
    dv = snapshot(d)
    assert set(dv) == set(sent), f"Dovecot lists {sorted(dv)}, Poshta delivered {sorted(sent)}"
    body = body_of(d, dv[third[0]]["uid"])
    assert body.endswith(third[1]) and body == body_of(p, pv[third[0]]["uid"])

    # A fourth: Dovecot sees it first (and renames it into cur/), then Poshta.
    fourth = message("four")
    deliver(server, fourth)
    sent.update([fourth])
    _, _, exists = noop(d)
    assert exists == 4, f"Dovecot's NOOP after a delivery: EXISTS {exists}, expected 4"
    dv = snapshot(d)
    deadline_poll(lambda: file_of(server, fourth[0]).parent.name == "cur", 5,
                  "Dovecot to move the new message to cur/")
    _, _, exists = noop(p)
    assert exists == 4, \
        f"Poshta's NOOP after Dovecot moved a new message to cur/: EXISTS {exists}, expected 4"
    pv = snapshot(p)
    assert set(pv) == set(dv) == set(sent), f"Poshta {sorted(pv)}, Dovecot {sorted(dv)}"
    assert body_of(p, pv[fourth[0]]["uid"]) == body_of(d, dv[fourth[0]]["uid"])
    logout(p, d)


# --------------------------------------------------------------------------
# 2. \Seen and \Flagged, both ways


def test_system_flags_both_ways(pair):
    server, dovecot = pair
    a, b, c = message("a"), message("b"), message("c")
    deliver(server, a, b, c)
    p = poshta_login(server)
    select(p)
    before = snapshot(p)
    d = dovecot_login(dovecot)
    select(d)
    dv = snapshot(d)
    assert set(dv) == set(before) == {a[0], b[0], c[0]}
    assert all(not system_flags(e) for e in list(before.values()) + list(dv.values())), \
        f"new mail with flags: Poshta {before}, Dovecot {dv}"

    # Poshta -> Dovecot
    ok(p.uid("STORE", str(before[a[0]]["uid"]), "+FLAGS", r"(\Seen \Flagged)"))
    assert maildir_flags(file_of(server, a[0])) == "FS", \
        f"Poshta's STORE \\Seen \\Flagged left the file as {file_of(server, a[0]).name}"
    fetches, _, _ = noop(d)
    assert fetches.get(dv[a[0]]["seq"], set()) & SYSTEM == {"\\Seen", "\\Flagged"}, \
        f"Dovecot's NOOP after Poshta's STORE: untagged FETCH {fetches}, expected \\Seen " \
        f"\\Flagged for message {dv[a[0]]['seq']}"
    dv = snapshot(d)
    assert system_flags(dv[a[0]]) == {"\\Seen", "\\Flagged"}, f"Dovecot sees {dv[a[0]]}"
    assert not system_flags(dv[b[0]]) and not system_flags(dv[c[0]]), f"Dovecot sees {dv}"
    d2 = dovecot_login(dovecot)
    select(d2)
    assert system_flags(snapshot(d2)[a[0]]) == {"\\Seen", "\\Flagged"}
    logout(d2)

    # Dovecot -> Poshta: set on b, take \Flagged off a
    ok(d.uid("STORE", str(dv[b[0]]["uid"]), "+FLAGS", r"(\Seen \Flagged)"))
    ok(d.uid("STORE", str(dv[a[0]]["uid"]), "-FLAGS", r"(\Flagged)"))
    assert maildir_flags(file_of(server, b[0])) == "FS", file_of(server, b[0]).name
    assert maildir_flags(file_of(server, a[0])) == "S", file_of(server, a[0]).name
    fetches, _, _ = noop(p)
    assert fetches.get(before[b[0]]["seq"], set()) & SYSTEM == {"\\Seen", "\\Flagged"} and \
        fetches.get(before[a[0]]["seq"], set()) & SYSTEM == {"\\Seen"}, \
        f"Poshta's NOOP after Dovecot's STOREs: untagged FETCH {fetches}; expected " \
        f"{before[b[0]]['seq']}: \\Seen \\Flagged and {before[a[0]]['seq']}: \\Seen"
    after = snapshot(p)
    assert {k: system_flags(v) for k, v in after.items()} == \
        {a[0]: {"\\Seen"}, b[0]: {"\\Seen", "\\Flagged"}, c[0]: set()}, f"Poshta sees {after}"
    assert {k: v["uid"] for k, v in after.items()} == {k: v["uid"] for k, v in before.items()}, \
        f"Poshta's UIDs changed when Dovecot renamed the files: before {before}, after {after}"

    p2 = poshta_login(server)
    select(p2)
    fresh = snapshot(p2)
    assert {k: (v["uid"], system_flags(v)) for k, v in fresh.items()} == \
        {k: (v["uid"], system_flags(v)) for k, v in after.items()}, \
        f"a new Poshta SELECT sees {fresh}, the open session {after}"

    logout(p, p2, d)


# --------------------------------------------------------------------------
# 2b. a STORE through Poshta changes the flags the file has now


def test_poshta_store_keeps_changes_dovecot_made_meanwhile(pair):
    """Dovecot changes flags while a Poshta session has the mailbox selected;
    the Poshta session then changes flags without a NOOP first. +FLAGS and
    -FLAGS add to or take from the flags the message has (RFC 9051 §6.4.6),
    and FETCH BODY[] adds \\Seen to them (§6.4.5): to what the file name says
    now, not to what the session saw at its last look."""
    server, dovecot = pair
    a, b, c, e = message("a"), message("b"), message("c"), message("e")
    deliver(server, a, b, c, e)
    p = poshta_login(server)
    select(p)
    pv = snapshot(p)
    ok(p.uid("STORE", str(pv[c[0]]["uid"]), "+FLAGS", r"(\Flagged \Seen)"))
    d = dovecot_login(dovecot)
    select(d)
    dv = snapshot(d)
    assert system_flags(dv[c[0]]) == {"\\Flagged", "\\Seen"}, f"Dovecot sees {dv[c[0]]}"

    # Dovecot: a +\Answered, b +$Label1 (a new keyword), c -\Flagged, e +\Flagged.
    ok(d.uid("STORE", str(dv[a[0]]["uid"]), "+FLAGS", r"(\Answered)"))
    ok(d.uid("STORE", str(dv[b[0]]["uid"]), "+FLAGS", "($Label1)"))
    ok(d.uid("STORE", str(dv[c[0]]["uid"]), "-FLAGS", r"(\Flagged)"))
    ok(d.uid("STORE", str(dv[e[0]]["uid"]), "+FLAGS", r"(\Flagged)"))
    label1 = dovecot_keywords(server).get("$Label1")
    assert label1, f"dovecot-keywords after Dovecot's STORE $Label1: {dovecot_keywords(server)}"
    assert {m[0]: maildir_flags(file_of(server, m[0])) for m in (a, b, c, e)} == \
        {a[0]: "R", b[0]: label1, c[0]: "S", e[0]: "F"}

    # Poshta, no NOOP: a +\Seen, b +$Forwarded, c -\Seen, FETCH BODY[] of e.
    answers = {
        a[0]: ok(p.uid("STORE", str(pv[a[0]]["uid"]), "+FLAGS", r"(\Seen)")),
        b[0]: ok(p.uid("STORE", str(pv[b[0]]["uid"]), "+FLAGS", "($Forwarded)")),
        c[0]: ok(p.uid("STORE", str(pv[c[0]]["uid"]), "-FLAGS", r"(\Seen)")),
    }
    assert fetch_one(p, pv[e[0]]["uid"], "BODY[]")[1].endswith(e[1])
    forwarded = dovecot_keywords(server).get("$Forwarded")
    got = {m[0]: maildir_flags(file_of(server, m[0])) for m in (a, b, c, e)}
    want = {a[0]: "RS", b[0]: "".join(sorted(label1 + forwarded)), c[0]: "", e[0]: "FS"}
    assert got == want, \
        f"Maildir flags after Poshta's STOREs and FETCH {got}, expected {want} (Dovecot had " \
        f"set \\Answered on a, $Label1={label1!r} on b, \\Flagged on e and taken \\Flagged " \
        f"off c; Poshta's STORE answers: {answers})"
    noop(d)
    dv = snapshot(d)
    assert {m[0]: dv[m[0]]["flags"] for m in (a, b, c, e)} == \
        {a[0]: {"\\Answered", "\\Seen"}, b[0]: {"$Label1", "$Forwarded"}, c[0]: set(),
         e[0]: {"\\Flagged", "\\Seen"}}, f"Dovecot sees {dv}"
    logout(p, d)


# --------------------------------------------------------------------------
# 3. keywords through dovecot-keywords, both ways


def test_keywords_both_ways(pair):
    server, dovecot = pair
    a, b, c = message("a"), message("b"), message("c")
    deliver(server, a, b, c)
    p = poshta_login(server)
    select(p)
    pv = snapshot(p)
    d = dovecot_login(dovecot)
    select(d)
    dv = snapshot(d)

    # Poshta sets $Forwarded: a letter in the file name, named in dovecot-keywords.
    ok(p.uid("STORE", str(pv[a[0]]["uid"]), "+FLAGS", "($Forwarded)"))
    letters = dovecot_keywords(server)
    assert "$Forwarded" in letters, \
        f"after Poshta's STORE $Forwarded, dovecot-keywords names {letters}"
    assert letters["$Forwarded"] in maildir_flags(file_of(server, a[0])), \
        f"$Forwarded is {letters['$Forwarded']!r} in dovecot-keywords, the file is " \
        f"{file_of(server, a[0]).name}"
    noop(d)
    dv = snapshot(d)
    assert "$Forwarded" in dv[a[0]]["flags"], \
        f"Dovecot does not see Poshta's $Forwarded on {a[0]}: {dv[a[0]]}"
    assert "$Forwarded" not in dv[b[0]]["flags"] | dv[c[0]]["flags"], f"Dovecot sees {dv}"

    # Dovecot sets $Forwarded (known) and $Label2 (new to dovecot-keywords) on b.
    ok(d.uid("STORE", str(dv[b[0]]["uid"]), "+FLAGS", "($Forwarded $Label2)"))
    letters = dovecot_keywords(server)
    assert "$Label2" in letters and letters["$Forwarded"] != letters["$Label2"], letters
    fetches, _, _ = noop(p)
    assert {"$Forwarded", "$Label2"} <= fetches.get(pv[b[0]]["seq"], set()), \
        f"Poshta's NOOP after Dovecot's STORE: untagged FETCH {fetches}, expected " \
        f"$Forwarded $Label2 for message {pv[b[0]]['seq']}"
    pv = snapshot(p)
    assert pv[a[0]]["flags"] == {"$Forwarded"}, f"Poshta sees {pv[a[0]]}"
    assert pv[b[0]]["flags"] == {"$Forwarded", "$Label2"}, f"Poshta sees {pv[b[0]]}"
    assert pv[c[0]]["flags"] == set(), f"Poshta sees {pv[c[0]]}"
    p2 = poshta_login(server)
    _, _, flags = select(p2)
    assert {"$Forwarded", "$Label2"} <= flags, f"Poshta's FLAGS at SELECT: {flags}"
    assert snapshot(p2)[b[0]]["flags"] == {"$Forwarded", "$Label2"}
    logout(p2)

    # Poshta adds a third keyword: Dovecot's letters stay, Dovecot sees the new one.
    ok(p.uid("STORE", str(pv[c[0]]["uid"]), "+FLAGS", "($MDNSent)"))
    after = dovecot_keywords(server)
    assert {k: after.get(k) for k in letters} == letters and "$MDNSent" in after, \
        f"dovecot-keywords was {letters}, after Poshta's STORE $MDNSent it is {after}"
    assert len(set(after.values())) == len(after), f"two keywords share a letter: {after}"
    noop(d)
    dv = snapshot(d)
    assert dv[c[0]]["flags"] == {"$MDNSent"}, f"Dovecot sees {dv[c[0]]}"
    assert dv[b[0]]["flags"] == {"$Forwarded", "$Label2"}, f"Dovecot sees {dv[b[0]]}"
    assert dv[a[0]]["flags"] == {"$Forwarded"}, f"Dovecot sees {dv[a[0]]}"
    logout(p, d)


# --------------------------------------------------------------------------
# 4. an expunge by Dovecot


def test_expunge_by_dovecot_keeps_poshta_uids(pair):
    server, dovecot = pair
    a, b, c = message("a"), message("b"), message("c")
    deliver(server, a, b, c)
    p = poshta_login(server)
    exists, uidvalidity, _ = select(p)
    before = snapshot(p)
    assert exists == 3
    p_open = poshta_login(server)                 # stays selected across the expunge
    select(p_open)

    d = dovecot_login(dovecot)
    select(d)
    dv = snapshot(d)
    ok(d.uid("STORE", str(dv[b[0]]["uid"]), "+FLAGS", r"(\Deleted)"))
    ok(d.expunge())
    assert file_of(server, b[0]) is None, "Dovecot's EXPUNGE left the file"

    _, expunged, _ = noop(p_open)
    assert expunged == [before[b[0]]["seq"]], \
        f"Poshta's NOOP after Dovecot's expunge: EXPUNGE {expunged}, expected " \
        f"[{before[b[0]]['seq']}]"
    logout(p_open)
    logout(p)
    p = poshta_login(server)
    exists, uidvalidity2, _ = select(p)
    assert exists == 2, f"Poshta's SELECT after Dovecot's expunge: EXISTS {exists}, expected 2"
    assert uidvalidity2 == uidvalidity, f"UIDVALIDITY changed: {uidvalidity} -> {uidvalidity2}"
    after = snapshot(p)
    assert {k: v["uid"] for k, v in after.items()} == \
        {a[0]: before[a[0]]["uid"], c[0]: before[c[0]]["uid"]}, \
        f"Poshta's UIDs before the expunge {before}, after {after}"

    # The next message gets a new UID, above every earlier one.
    e = message("e")
    deliver(server, e)
    _, _, exists = noop(p)
    assert exists == 3
    later = snapshot(p)
    assert later[e[0]]["uid"] > max(v["uid"] for v in before.values()), \
        f"a UID was reused: before {before}, now {later}"
    assert {k: later[k]["uid"] for k in (a[0], c[0])} == {k: before[k]["uid"] for k in (a[0], c[0])}
    _, _, exists = noop(d)
    assert exists == 3 and set(snapshot(d)) == {a[0], c[0], e[0]}
    logout(p, d)


# --------------------------------------------------------------------------
# 5. folders made and filled through Poshta are Dovecot's folders


def test_folders_created_by_poshta_are_dovecot_folders(pair):
    server, dovecot = pair
    p = poshta_login(server)
    names = ["Projects", "Projects.2026", "Entw&APw-rfe"]     # the last: "Entwürfe" (mUTF-7)
    for name in names:
        ok(p.create(name))
        box = server.maildir(USER) / f".{name}"
        assert all((box / sub).is_dir() for sub in ("cur", "new", "tmp")), \
            f"CREATE {name}: {box} is not a Maildir++ folder: " \
            f"{sorted(x.name for x in box.iterdir()) if box.exists() else 'missing'}"

    msgid, msg = message("appended")
    ok(p.append("Projects", r"(\Seen $Forwarded)", None, msg))
    assert file_of(server, msgid, "Projects") is not None, "APPEND did not store into .Projects"

    d = dovecot_login(dovecot)
    listed = list_names(d)
    for name in names:
        assert name in listed, f"Dovecot's LIST does not show {name!r}: {sorted(listed)}"
        assert listed[name][1] == ".", f"{name}: delimiter {listed[name][1]!r}"
    exists, _, _ = select(d, "Projects")
    assert exists == 1, f"Dovecot's SELECT Projects: EXISTS {exists}, expected 1"
    dv = snapshot(d)
    assert set(dv) == {msgid}, f"Dovecot lists {sorted(dv)} in Projects"
    assert dv[msgid]["flags"] == {"\\Seen", "$Forwarded"}, f"Dovecot sees {dv[msgid]}"
    body = body_of(d, dv[msgid]["uid"])
    assert body == msg, f"Dovecot's BODY[] of the APPENDed message:\n{body!r}\nAPPENDed:\n{msg!r}"
    assert select(d, "Projects.2026")[0] == 0

    # And the other way: a folder Dovecot makes and fills is Poshta's.
    msgid2, msg2 = message("from-dovecot")
    ok(d.create("Clients"))
    ok(d.append("Clients", r"(\Flagged)", None, msg2))
    listed = list_names(p)
    assert "Clients" in listed, f"Poshta's LIST does not show Dovecot's Clients: {sorted(listed)}"
    exists, _, _ = select(p, "Clients")
    assert exists == 1
    pv = snapshot(p)
    assert set(pv) == {msgid2} and system_flags(pv[msgid2]) == {"\\Flagged"}, f"Poshta sees {pv}"
    assert body_of(p, pv[msgid2]["uid"]) == msg2

    # Both list the same folders (Poshta's SPECIAL-USE ones included).
    ours, theirs = list_names(p), list_names(d)
    assert set(ours) == set(theirs), \
        f"Poshta lists {sorted(ours)}, Dovecot {sorted(theirs)} on the same Maildir"
    logout(p, d)
