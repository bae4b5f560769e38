"""benchlib.py - shared pieces of the Poshta benchmarks (python3 standard library only).

Starts and stops the two servers that the benchmarks compare, each as a private
instance on a loopback port inside a scratch directory:

  * PostfixInstance: Postfix from Debian as a private anchor instance (the
    main.cf/master.cf are written here, so bench/ needs nothing else):
    smtpd on 127.0.0.1:PORT, virtual(8) delivery into Maildir for @bench.test,
    no DNS, every other destination goes to error(8), so nothing leaves the box.
  * PoshtaInstance: `poshta serve -c CFG` with a configuration written into the
    scratch directory (domain bench.test, one SMTP listener on 127.0.0.1:PORT,
    optionally POP3 and IMAP listeners, DNS pointed at the discard port 127.0.0.1:9).
  * DovecotInstance: Dovecot from Debian as a private instance serving POP3 and/or
    IMAP on 127.0.0.1 ports, any user @bench.test with the bench password, Maildir in
    BASE/mail/<domain>/<localpart>/ (the same layout as Poshta's).

plus helpers: free ports, RLIMIT_NOFILE, process-tree memory (RSS/PSS), Maildir
file counting and cleaning, Maildir file names as Poshta and Dovecot write
them, a seeded generator of realistic messages (Maildrop), log reading, and a
concurrent opener of idle SMTP and IMAP sessions.
Everything here must be run as root (Postfix needs it).
"""
import base64
import ctypes
import ctypes.util
import errno
import hashlib
import math
import os
import pwd
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
DEFAULT_POSHTA = os.path.join(REPO_ROOT, "build", "poshta")
DOMAIN = "bench.test"
# smtp-source -t to@bench.test -r N sends to to@, 2to@, ... Nto@ (it prefixes the
# recipient number from the second recipient on). Poshta only accepts existing
# users, so the benchmarks create to@ and 1to@ .. 10to@ (1to is never used by
# smtp-source 3.7, but costs nothing). postmaster@ exists in Poshta on its own.
USERS = ["to"] + ["%dto" % i for i in range(1, 11)]
PASSWORD = "bench-password"


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def die(msg):
    log("error: " + msg)
    sys.exit(1)


def require_root():
    if os.geteuid() != 0:
        die("run as root (Postfix's private instance needs it)")


def install_signal_handlers():
    """Turn SIGTERM/SIGHUP into SystemExit so that try/finally cleanup runs."""
    def handler(signum, _frame):
        raise SystemExit(128 + signum)
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def raise_nofile(want):
    """Raise RLIMIT_NOFILE of this process to at least `want` (root may raise the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= want:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(want, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


IMAP_GREETING = b"* OK"
IMAP_BYE = b"a LOGOUT\r\n"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_workdir(parent=None):
    """A scratch directory on a real disk (/var/tmp, not a tmpfs /tmp, so fsync costs what it costs).
    Mode 0755: Postfix daemons (user postfix) and virtual(8) (uid 5000) must traverse it."""
    parent = parent or "/var/tmp"
    d = tempfile.mkdtemp(prefix="poshta-bench-", dir=parent)
    os.chmod(d, 0o755)
    return d


def find_smtp_source():
    for p in (shutil.which("smtp-source"), "/usr/sbin/smtp-source", "/usr/lib/postfix/smtp-source",
              "/usr/libexec/postfix/smtp-source"):
        if p and os.access(p, os.X_OK):
            return p
    die("smtp-source not found; install Postfix: scripts/setup.sh")


def wait_banner(port, timeout=30.0, proc=None, greeting=b"220", bye=b"QUIT\r\n"):
    """Wait until 127.0.0.1:port answers with a greeting starting with `greeting`
    (SMTP's 220 by default, b"+OK" for POP3, both ended with QUIT; b"* OK" for IMAP,
    with bye=IMAP_BYE)."""
    t0 = time.monotonic()
    last = None
    while time.monotonic() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("server exited with status %s before listening" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                data = b""
                while b"\n" not in data:
                    d = s.recv(4096)
                    if not d:
                        break
                    data += d
                if data.startswith(greeting):
                    try:
                        s.sendall(bye)
                        s.recv(4096)
                    except OSError:
                        pass
                    return
                last = data
        except OSError as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError("no %s greeting on 127.0.0.1:%d after %.0f s (last: %r)" % (
        greeting.decode(), port, timeout, last))


# ---------------------------------------------------------------- process trees and memory

def proc_children():
    kids = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                st = f.read()
            ppid = int(st[st.rindex(")") + 2:].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except (OSError, ValueError, IndexError):
            pass
    return kids


def tree(root):
    kids = proc_children()
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return st[st.rindex(")") + 2] != "Z"
    except (OSError, ValueError):
        return False


def tree_memory(root):
    """Sum VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) over root and its descendants.
    RSS counts shared pages (libraries, shared memory) once per process; PSS divides them
    among the processes that share them, so PSS is the fair per-connection figure."""
    rss = pss = 0
    names = {}
    for p in tree(root):
        try:
            nm = "?"
            with open("/proc/%d/status" % p) as f:
                for line in f:
                    if line.startswith("Name:"):
                        nm = line.split()[1]
                    elif line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                        break
            names[nm] = names.get(nm, 0) + 1
        except (OSError, ValueError):
            pass
    return {"procs": sum(names.values()), "rss_kib": rss, "pss_kib": pss, "by_name": names}


def kill_tree(root, sig=signal.SIGKILL):
    """Signal root and its descendants (only processes we started, found by PID)."""
    for p in reversed(tree(root)):
        try:
            os.kill(p, sig)
        except (ProcessLookupError, PermissionError):
            pass


# ---------------------------------------------------------------- Maildir helpers

def mailbox_dirs(mailroot):
    try:
        return [os.path.join(mailroot, b) for b in os.listdir(mailroot)]
    except FileNotFoundError:
        return []


def count_new(mailroot):
    """Number of files in <mailroot>/<box>/new/ over all boxes."""
    n = 0
    for b in mailbox_dirs(mailroot):
        try:
            n += len(os.listdir(os.path.join(b, "new")))
        except (FileNotFoundError, NotADirectoryError):
            pass
    return n


def clean_mailboxes(mailroot):
    """Delete the messages in every box (new/, cur/, tmp/) but keep the directories, so neither
    server has to re-create its mailboxes (and Poshta keeps the ones made by `user add`)."""
    for b in mailbox_dirs(mailroot):
        for sub in ("new", "cur", "tmp"):
            d = os.path.join(b, sub)
            try:
                names = os.listdir(d)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for nm in names:
                p = os.path.join(d, nm)
                try:
                    os.unlink(p)
                except IsADirectoryError:
                    shutil.rmtree(p, ignore_errors=True)
                except FileNotFoundError:
                    pass


def files_under(path):
    n = 0
    for _root, _dirs, files in os.walk(path):
        n += len(files)
    return n


def maildir_name(style, sec, usec, seq, size, wire_size, pid=4242, host=DOMAIN):
    """The name a server's own delivery gives a message in new/, with the sizes it puts there:
    size = octets on disk (LF line ends), wire_size = octets with CRLF line ends.
      poshta:  <sec>.M<usec>P<pid>Q<seq>.<host>,S=<size>,W=<wire_size>   (store/maildir.cpp)
      dovecot: <sec>.M<usec>P<pid>.<host>,S=<size>,W=<wire_size>          (Dovecot's LDA/LMTP)
    Both read S= and W= back instead of stat()ing or reading the file."""
    if style == "poshta":
        return "%d.M%dP%dQ%d.%s,S=%d,W=%d" % (sec, usec, pid, seq, host, size, wire_size)
    if style == "dovecot":
        return "%d.M%dP%d.%s,S=%d,W=%d" % (sec, usec, pid, host, size, wire_size)
    raise ValueError("unknown Maildir name style %r" % style)


# ---------------------------------------------------------------- log files

def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def read_from(path, offset):
    """The text appended to `path` since byte `offset`."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")
    except OSError:
        return ""


# ---------------------------------------------------------------- generated mail

WORDS = """the of and to in a is that for it as was with be by on not he this are or his from at which
but have an they you were her she there been one all we their has would when if so no will more can
said who about out up them some could into other time only new then these two may first any like
now my such over our even most made after also did many before must through back years where much
your way well down should because each just those people how too little state good very make world
still own see men work long get here between both life being under never day same another know while
last might us great old year off come since against go came right used take three meeting report
budget quarter review draft schedule invoice shipment project release server update customer team
order account payment support ticket office travel notes agenda minutes proposal contract""".split()
FIRST = ["Anna", "Boris", "Carla", "Dmytro", "Elena", "Farid", "Greta", "Hugo", "Iryna", "Jonas",
         "Katya", "Lars", "Maria", "Nils", "Olena", "Pavel", "Rita", "Sven", "Taras", "Ulla"]
LAST = ["Berg", "Novak", "Koval", "Schmidt", "Rossi", "Lindqvist", "Moreau", "Petrenko", "Horvat",
        "Jansen", "Bondar", "Fischer", "Garcia", "Nowak", "Larsen"]
SENDER_DOMAINS = ["example.org", "example.net", "mail.example.com", "lists.example.org", "shop.example.net"]
RELAYS = ["mx1.example.org", "out.example.net", "smtp.mail.example.com", "relay.lists.example.org"]
MAILERS = ["Mozilla Thunderbird", "Evolution 3.46", "Apple Mail (2.3774)", "Microsoft Outlook 16.0",
           "Roundcube Webmail/1.6", "mutt/2.2.9"]


def words(rng, n):
    return rng.choices(WORDS, k=n)


def wrap(ws, width=72):
    """Lines of at most `width` characters (words are short)."""
    lines, cur = [], ""
    for w in ws:
        if cur and len(cur) + 1 + len(w) > width:
            lines.append(cur)
            cur = w
        else:
            cur = cur + " " + w if cur else w
    if cur:
        lines.append(cur)
    return lines


def paragraphs(rng, nbytes):
    """Plain text of about nbytes: paragraphs of wrapped lines, now and then a line starting with
    a dot (an ellipsis, a lone "."), which POP3 must dot-stuff."""
    out, size = [], 0
    while size < nbytes:
        ws = words(rng, rng.randint(20, 90))
        ws[0] = ws[0].capitalize()
        para = wrap(ws)
        para[-1] += "."
        if rng.random() < 0.02:
            para.insert(rng.randrange(len(para) + 1), rng.choice(["...", ".", ". . .", ".hidden files too"]))
        out.extend(para)
        out.append("")
        size += sum(len(x) + 1 for x in para) + 1
    return out


def make_message(rng, i, sec, user, mark=None):
    """One message (bytes, LF line ends, ending in LF): realistic headers (two Received, a
    DKIM-Signature on half of them), then text/plain (55%), multipart/alternative with HTML
    (30%) or multipart/mixed with a small base64 attachment (15%). The body size follows a
    log-normal law around 3 KiB (0.7 to 24 KiB). `user` is the recipient (Delivered-To, To).
    mark = (word, share): that word is put into the Subject of about `share` of the messages, at
    a random place among its words (without mark the random stream is the same as ever, so the
    same seed gives the same messages)."""
    first, last = rng.choice(FIRST), rng.choice(LAST)
    sdom = rng.choice(SENDER_DOMAINS)
    sender = "%s.%s@%s" % (first.lower(), last.lower(), sdom)
    date = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime(sec))
    ws = words(rng, rng.randint(2, 8))
    if mark is not None and rng.random() < mark[1]:
        ws.insert(rng.randrange(len(ws) + 1), mark[0])
    subject = " ".join(ws).capitalize()
    if rng.random() < 0.3:
        subject = "Re: " + subject
    relay = rng.choice(RELAYS)
    h = [
        "Return-Path: <%s>" % sender,
        "Delivered-To: %s" % user,
        "Received: from %s (%s [192.0.2.%d])" % (relay, relay, rng.randint(1, 254)),
        "\tby %s with ESMTPS id %08X%04X" % (DOMAIN, rng.getrandbits(32), i & 0xFFFF),
        "\tfor <%s>; %s" % (user, date),
        "Received: from [198.51.100.%d] (helo=client) by %s with ESMTPSA; %s" % (
            rng.randint(1, 254), relay, date),
    ]
    if rng.random() < 0.5:
        sig = base64.b64encode(rng.randbytes(256)).decode()
        h += ["DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=%s; s=sel%d;" % (sdom, rng.randint(1, 9)),
              "\th=from:to:subject:date:message-id:mime-version:content-type;",
              "\tbh=%s;" % base64.b64encode(rng.randbytes(32)).decode(),
              "\tb=" + sig[:70]]
        h += ["\t " + sig[k:k + 72] for k in range(70, len(sig), 72)]
    h += [
        "Message-ID: <%d.%08x@%s>" % (sec, rng.getrandbits(32), sdom),
        "Date: %s" % date,
        "From: %s %s <%s>" % (first, last, sender),
        "To: %s User <%s>" % (user.split("@")[0].capitalize(), user),
        "Subject: %s" % subject,
        "MIME-Version: 1.0",
    ]
    if rng.random() < 0.4:
        h.append("X-Mailer: %s" % rng.choice(MAILERS))
    if rng.random() < 0.2:
        h.append("List-Unsubscribe: <mailto:leave-%d@%s>" % (rng.randint(1000, 9999), sdom))

    body_size = int(min(max(rng.lognormvariate(math.log(3000), 0.6), 700), 24000))
    kind = rng.random()
    if kind < 0.55:
        h += ["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit"]
        body = paragraphs(rng, body_size)
    else:
        boundary = "=_b%016x" % rng.getrandbits(64)
        if kind < 0.85:
            h.append('Content-Type: multipart/alternative; boundary="%s"' % boundary)
            text = paragraphs(rng, body_size // 2)
            html = ["<html><body>"]
            for line in paragraphs(rng, body_size // 2):
                html.append("<p>%s</p>" % line if line else "")
            html.append("</body></html>")
            parts = [("text/plain; charset=us-ascii", "7bit", text), ("text/html; charset=us-ascii", "7bit", html)]
        else:
            h.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
            text = paragraphs(rng, max(300, body_size // 4))
            blob = base64.encodebytes(rng.randbytes(body_size * 3 // 4 * 3 // 4)).decode().splitlines()
            name = "%s-%d.pdf" % (rng.choice(["report", "invoice", "scan", "notes"]), rng.randint(1, 999))
            parts = [("text/plain; charset=us-ascii", "7bit", text),
                     ('application/pdf; name="%s"\nContent-Disposition: attachment; filename="%s"' % (name, name),
                      "base64", blob)]
        body = ["This is a multi-part message in MIME format.", ""]
        for ctype, cte, lines in parts:
            body += ["--" + boundary, "Content-Type: " + ctype, "Content-Transfer-Encoding: " + cte, ""]
            body += lines
            body.append("")
        body.append("--%s--" % boundary)
    return ("\n".join(h) + "\n\n" + "\n".join(body) + "\n").encode()


class Maildrop:
    """COUNT messages to `user`, generated once (seeded), with the names' time stamps one minute
    apart and ending shortly before now, so the order of names is the order of delivery.
    `mark`: see make_message."""

    def __init__(self, count, seed, user, mark=None):
        rng = random.Random(seed)
        self.user = user
        start = int(time.time()) - 60 * count - 3600
        self.messages = []  # (sec, usec, data)
        for i in range(count):
            sec = start + 60 * i
            self.messages.append((sec, rng.randrange(1000000), make_message(rng, i, sec, user, mark)))
        self.wire_sizes = [len(d) + d.count(b"\n") for _s, _u, d in self.messages]
        self.octets = sum(self.wire_sizes)
        self.disk_octets = sum(len(d) for _s, _u, d in self.messages)

    def digests(self):
        """SHA-256 of each message as POP3 sends it (CRLF line ends, before dot-stuffing)."""
        return [hashlib.sha256(d.replace(b"\n", b"\r\n")).hexdigest() for _s, _u, d in self.messages]

    def write(self, mailbox, style, owner=None):
        """Deletes `mailbox` (the Maildir with whatever index the server kept there) and writes
        every message into a fresh new/, named as the server's own delivery (style) does."""
        shutil.rmtree(mailbox, ignore_errors=True)
        if not os.path.isdir(os.path.dirname(mailbox)):
            os.makedirs(os.path.dirname(mailbox))
            if owner is not None:
                os.chown(os.path.dirname(mailbox), owner, owner)
        for sub in ("", "cur", "new", "tmp"):
            d = os.path.join(mailbox, sub)
            os.makedirs(d, exist_ok=True)
            if owner is not None:
                os.chown(d, owner, owner)
        new = os.path.join(mailbox, "new")
        for seq, (sec, usec, data) in enumerate(self.messages, 1):
            name = maildir_name(style, sec, usec, seq, len(data), len(data) + data.count(b"\n"))
            fd = os.open(os.path.join(new, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            try:
                os.write(fd, data)
                if owner is not None:
                    os.fchown(fd, owner, owner)
            finally:
                os.close(fd)


# ---------------------------------------------------------------- Postfix

POSTFIX_MASTER_CF = """\
127.0.0.1:{port} inet n - n - {smtpd_maxproc} smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

POSTFIX_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {base}/queue
data_directory = {base}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = anchors.test
mydomain = anchors.test
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
relay_domains =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
# no DNS for the (loopback) client name; only 127.0.0.0/8 may be touched
smtpd_peername_lookup = no
virtual_mailbox_domains = bench.test
virtual_mailbox_base = {base}/mail
virtual_mailbox_maps = texthash:{base}/etc/vmailbox
virtual_uid_maps = static:{vuid}
virtual_gid_maps = static:{vuid}
maillog_file = {base}/log/maillog
# nothing may leave the box: no SMTP client, no DNS; bounces die in error(8)
default_transport = error:outbound mail disabled in benchmark
relay_transport = error:outbound mail disabled in benchmark
smtp_dns_support_level = disabled
maillog_file_prefixes = {base}/log
"""


class PostfixInstance:
    """A private Postfix, configured exactly like the anchor postfix_setup.sh BASE PORT,
    except that smtpd's process limit can be raised (smtpd_maxproc) for the idle-connection
    test: Postfix runs one smtpd process per connection, at most default_process_limit
    (100) unless master.cf says otherwise."""

    name = "Postfix"

    def __init__(self, base, port, vuid=5000, smtpd_maxproc=None):
        self.base = base
        self.port = port
        self.vuid = vuid
        self.smtpd_maxproc = smtpd_maxproc
        self.etc = os.path.join(base, "etc")
        self.mailroot = os.path.join(base, "mail", DOMAIN)
        self.started = False
        self._pids = []

    def setup(self):
        for d in ("etc", "queue", "data", "mail", "log"):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        os.chmod(self.base, 0o755)
        shutil.chown(os.path.join(self.base, "data"), user="postfix")
        os.chown(os.path.join(self.base, "mail"), self.vuid, self.vuid)
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN_CF.format(base=self.base, vuid=self.vuid))
        # virtual(8) refuses regexp substitution, so the mailboxes are listed: to@, 1to@ .. 10to@
        # (smtp-source -r N), u0@ .. u99@, and a catch-all for anything else.
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            f.write("to@bench.test bench.test/to/\n")
            for i in range(1, 11):
                f.write("%dto@bench.test bench.test/%dto/\n" % (i, i))
            for i in range(100):
                f.write("u%d@bench.test bench.test/u%d/\n" % (i, i))
            f.write("@bench.test bench.test/catchall/\n")
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER_CF.format(port=self.port, smtpd_maxproc=self.smtpd_maxproc or "-"))
        r = subprocess.run(["postfix", "-c", self.etc, "check"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix check failed: %s" % (r.stderr or r.stdout).strip())

    def pidfile(self):
        return os.path.join(self.base, "queue", "pid", "master.pid")

    def pid(self):
        try:
            with open(self.pidfile()) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self):
        r = subprocess.run(["postfix", "-c", self.etc, "start"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix start failed: %s" % (r.stderr or r.stdout).strip())
        self.started = True
        t0 = time.monotonic()
        while self.pid() is None or not pid_alive(self.pid()):
            if time.monotonic() - t0 > 20:
                raise RuntimeError("Postfix master did not start; see %s/log/maillog" % self.base)
            time.sleep(0.1)
        wait_banner(self.port)

    def stop(self):
        if not self.started:
            return
        pid = self.pid()
        pids = tree(pid) if pid and pid_alive(pid) else []
        subprocess.run(["postfix", "-c", self.etc, "stop"], capture_output=True, text=True)
        t0 = time.monotonic()
        while any(pid_alive(p) for p in pids) and time.monotonic() - t0 < 20:
            time.sleep(0.1)
        for p in pids:
            if pid_alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.started = False

    def restart(self):
        self.stop()
        self.start()

    def queue_empty(self):
        q = os.path.join(self.base, "queue")
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            if files_under(os.path.join(q, sub)):
                return False
        return True

    def log_tail(self, n=20):
        try:
            with open(os.path.join(self.base, "log", "maillog"), errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# ---------------------------------------------------------------- Poshta

POSHTA_CFG = """\
# written by bench/benchlib.py
hostname = "bench.test"
data_dir = "{data_dir}"
domains  = ["bench.test"]

[[listen]]
protocol = "smtp"
address  = "127.0.0.1:{port}"
{listeners}
[limits]
connections        = 20000
connections_per_ip = 20000
message_size       = 10485760
recipients         = 100

[delivery]
# DNS goes to the discard port on loopback: nothing may leave the machine
resolver = "127.0.0.1:9"
"""


def _child_nofile(n):
    def f():
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return f


class PoshtaInstance:
    """`poshta serve`: SMTP on 127.0.0.1:port and, with pop3_port, POP3 on 127.0.0.1:pop3_port,
    with imap_port, IMAP on 127.0.0.1:imap_port (USER/PASS and LOGIN in plaintext are allowed
    from loopback by default: [auth] plaintext_on_loopback)."""

    name = "Poshta"

    def __init__(self, binary, base, port, users=USERS, nofile=65536, pop3_port=None, imap_port=None):
        self.binary = os.path.abspath(binary)
        self.base = base
        self.port = port
        self.pop3_port = pop3_port
        self.imap_port = imap_port
        self.users = users
        self.nofile = nofile
        self.cfg = os.path.join(base, "poshta.toml")
        self.data_dir = os.path.join(base, "data")
        self.mailroot = os.path.join(self.data_dir, "mail", DOMAIN)
        self.logfile = os.path.join(base, "poshta.log")
        self.proc = None
        self._log = None

    def setup(self):
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError("%s is not there (or not executable): build Poshta first "
                               "(scripts/setup.sh), or pass --poshta PATH" % self.binary)
        os.makedirs(self.data_dir, exist_ok=True)
        with open(self.cfg, "w") as f:
            listeners = ""
            for proto, port in (("pop3", self.pop3_port), ("imap", self.imap_port)):
                if port:
                    listeners += '\n[[listen]]\nprotocol = "%s"\naddress  = "127.0.0.1:%d"\n' % (proto, port)
            f.write(POSHTA_CFG.format(data_dir=self.data_dir, port=self.port, listeners=listeners))
        r = subprocess.run([self.binary, "check", "-c", self.cfg], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("poshta check -c %s failed (%d): %s" % (
                self.cfg, r.returncode, (r.stderr + r.stdout).strip()))
        for u in self.users:
            addr = "%s@%s" % (u, DOMAIN)
            r = subprocess.run([self.binary, "user", "add", addr, "--password-stdin", "-c", self.cfg],
                               input=PASSWORD + "\n", capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("poshta user add %s failed (%d): %s" % (
                    addr, r.returncode, (r.stderr + r.stdout).strip()))

    def pidfile(self):
        return os.path.join(self.data_dir, "poshta.pid")

    @staticmethod
    def mail_owner():
        """The uid that owns Poshta's data: started as root, Poshta runs as the user poshta
        (README "Privileges"), so mail written for it straight into a Maildir must be that
        user's; None when not root (Poshta runs as whoever started it)."""
        if os.geteuid() != 0:
            return None
        try:
            return pwd.getpwnam("poshta").pw_uid
        except KeyError:
            return None

    def pid(self):
        """The PID from <data_dir>/poshta.pid (falls back to the process we started)."""
        try:
            with open(self.pidfile()) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return self.proc.pid if self.proc else None

    def start(self):
        self._log = open(self.logfile, "ab")
        self.proc = subprocess.Popen([self.binary, "serve", "-c", self.cfg], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, cwd=self.base,
                                     preexec_fn=_child_nofile(self.nofile))
        wait_banner(self.port, proc=self.proc)
        if self.pop3_port:
            wait_banner(self.pop3_port, proc=self.proc, greeting=b"+OK")
        if self.imap_port:
            wait_banner(self.imap_port, proc=self.proc, greeting=IMAP_GREETING, bye=IMAP_BYE)
        t0 = time.monotonic()
        while not os.path.exists(self.pidfile()) and time.monotonic() - t0 < 5:
            time.sleep(0.05)
        pf = self.pid()
        if pf != self.proc.pid:
            log("warning: %s holds %s, but the process started is %d" % (self.pidfile(), pf, self.proc.pid))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                log("warning: poshta did not exit 40 s after SIGTERM; killing it")
                kill_tree(self.proc.pid)
                self.proc.wait()
        rc = self.proc.returncode
        self.proc = None
        if self._log:
            self._log.close()
            self._log = None
        if rc not in (0, -signal.SIGTERM):
            log("warning: poshta serve exited with status %s (log: %s)" % (rc, self.logfile))

    def restart(self):
        self.stop()
        self.start()

    def queue_empty(self):
        q = os.path.join(self.data_dir, "queue")
        subs = [os.path.join(q, s) for s in ("msg", "env")]
        if not any(os.path.isdir(s) for s in subs):
            return True
        return not any(files_under(s) for s in subs)

    def log_tail(self, n=20):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    # warnings and errors in Poshta's log ("<date> <time> <level> ...")
    PROBLEMS = re.compile(r"^\S+ \S+ (warn\w*|error|critical)\b")

    def problems(self, text):
        return [ln for ln in text.splitlines() if self.PROBLEMS.search(ln)]

    def log_count(self, word):
        try:
            with open(self.logfile, errors="replace") as f:
                return sum(1 for line in f if word in line)
        except OSError:
            return 0


# ---------------------------------------------------------------- Dovecot

def crypt_hash(password, prefix=b"$y$"):
    """A crypt(3) hash of `password` from libxcrypt with a random salt: yescrypt, Debian's default
    and what `poshta user add` stores (as "{CRYPT}<hash>")."""
    lib = ctypes.CDLL(ctypes.util.find_library("crypt") or "libcrypt.so.1")
    lib.crypt_gensalt.restype = ctypes.c_char_p
    lib.crypt_gensalt.argtypes = [ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p, ctypes.c_int]
    lib.crypt.restype = ctypes.c_char_p
    lib.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    setting = lib.crypt_gensalt(prefix, 0, None, 0)
    h = lib.crypt(password.encode(), setting) if setting else None
    if not h or h.startswith(b"*"):
        raise RuntimeError("libcrypt cannot make a %s hash" % prefix.decode())
    return h.decode()


DOVECOT_CONF = """\
# written by bench/benchlib.py: a private Dovecot 2.3; its defaults unless noted
instance_name = poshta-bench-{port}
base_dir = {base}/run
state_dir = {base}/state
log_path = {base}/log/dovecot.log
info_log_path = {base}/log/dovecot.log
protocols = {protocols}
listen = 127.0.0.1
ssl = no
# USER/PASS and LOGIN in plaintext, as Poshta allows them from loopback
disable_plaintext_auth = no
auth_mechanisms = plain login
# the same layout as Poshta's: <mail>/<domain>/<localpart>/{{cur,new,tmp}}, the indexes beside them
mail_location = maildir:{base}/mail/%d/%n
mail_uid = {vuid}
mail_gid = {vuid}
first_valid_uid = 100
# every user, one password, stored as `poshta user add` stores it: {{CRYPT}} yescrypt
passdb {{
  driver = static
  args = password={{CRYPT}}{password_hash}
}}
userdb {{
  driver = static
  args = uid={vuid} gid={vuid} home={base}/mail/%d/%n
}}
{services}{extra}"""

# one per protocol served: the plain listener on 127.0.0.1:PORT, no implicit-TLS one
DOVECOT_LOGIN_SERVICE = """\
service {proto}-login {{
  inet_listener {proto} {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener {proto}s {{
    port = 0
  }}{settings}
}}
"""


class DovecotInstance:
    """A private Dovecot serving POP3 on 127.0.0.1:pop3_port and/or IMAP on 127.0.0.1:imap_port:
    every user@bench.test exists, with the bench password (static passdb and userdb; the password
    as a yescrypt hash, as Poshta keeps it, so that a login costs both servers one crypt(3)), mail
    owned by uid/gid vuid in BASE/mail/<domain>/<localpart>/ (Maildir; Dovecot's index files and
    dovecot-uidlist in the same directory). Started with `dovecot -c CONF`, stopped with
    `doveadm -c CONF stop`. login_settings: {"imap": "process_limit = 600", ...} go into that
    protocol's login service block; extra: more configuration lines appended as they are."""

    name = "Dovecot"

    def __init__(self, base, pop3_port=None, vuid=5000, imap_port=None, login_settings=None, extra=""):
        if not pop3_port and not imap_port:
            raise ValueError("DovecotInstance needs a POP3 or an IMAP port")
        self.base = base
        self.pop3_port = pop3_port
        self.imap_port = imap_port
        self.login_settings = login_settings or {}
        self.extra = extra
        self.vuid = vuid
        self.conf = os.path.join(base, "dovecot.conf")
        self.mailroot = os.path.join(base, "mail", DOMAIN)
        self.logfile = os.path.join(base, "log", "dovecot.log")
        self.started = False

    def setup(self):
        if not shutil.which("dovecot"):
            raise RuntimeError("dovecot not found; install it: scripts/setup.sh")
        for d in ("run", "state", "log", "mail"):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        os.chmod(self.base, 0o755)
        os.chown(os.path.join(self.base, "mail"), self.vuid, self.vuid)
        protos = [(p, port) for p, port in (("imap", self.imap_port), ("pop3", self.pop3_port)) if port]
        services = ""
        for proto, port in protos:
            settings = self.login_settings.get(proto, "")
            settings = "".join("\n  " + ln.strip() for ln in settings.strip().splitlines() if ln.strip())
            services += DOVECOT_LOGIN_SERVICE.format(proto=proto, port=port, settings=settings)
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF.format(base=self.base, port=protos[0][1], vuid=self.vuid,
                                        protocols=" ".join(p for p, _ in protos), services=services,
                                        extra=self.extra, password_hash=crypt_hash(PASSWORD)))
        r = subprocess.run(["dovecot", "-c", self.conf, "-n"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("dovecot -c %s -n failed: %s" % (self.conf, (r.stderr or r.stdout).strip()))

    def pid(self):
        try:
            with open(os.path.join(self.base, "run", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def start(self):
        # the daemon keeps the descriptors it inherits: a file, not a pipe we would wait on forever
        err = os.path.join(self.base, "log", "dovecot.start")
        with open(err, "w") as f:
            r = subprocess.run(["dovecot", "-c", self.conf], stdin=subprocess.DEVNULL, stdout=f, stderr=f)
        if r.returncode != 0:
            raise RuntimeError("dovecot start failed (%d): %s" % (r.returncode, read_from(err, 0).strip()))
        self.started = True
        t0 = time.monotonic()
        while self.pid() is None or not pid_alive(self.pid()):
            if time.monotonic() - t0 > 20:
                raise RuntimeError("Dovecot's master did not start; see %s" % self.logfile)
            time.sleep(0.1)
        if self.pop3_port:
            wait_banner(self.pop3_port, greeting=b"+OK")
        if self.imap_port:
            wait_banner(self.imap_port, greeting=IMAP_GREETING, bye=IMAP_BYE)

    def alive(self):
        return self.started and self.pid() is not None and pid_alive(self.pid())

    def stop(self):
        if not self.started:
            return
        pid = self.pid()
        pids = tree(pid) if pid and pid_alive(pid) else []
        subprocess.run(["doveadm", "-c", self.conf, "stop"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
        t0 = time.monotonic()
        while any(pid_alive(p) for p in pids) and time.monotonic() - t0 < 20:
            time.sleep(0.1)
        for p in pids:
            if pid_alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.started = False

    def restart(self):
        self.stop()
        self.start()

    # Dovecot's log: "<date> <process>(<user>)<...>: Error: ..." (also Warning, Fatal, Panic)
    PROBLEMS = re.compile(r": (Warning|Error|Fatal|Panic): ")

    def problems(self, text):
        return [ln for ln in text.splitlines() if self.PROBLEMS.search(ln)]

    def log_tail(self, n=20):
        try:
            with open(self.logfile, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""


# ---------------------------------------------------------------- idle sessions

def open_idle_sessions(port, n, steps, batch=200, timeout=30.0):
    """Open n sessions to 127.0.0.1:port, each taken through `steps`, and return (sockets, errors).
    A step is (name, send, final, good): `send` (bytes, or None for the greeting) is written, then
    lines are read until final(line) is true, and good(line) says whether that last line is the
    expected one. Sockets that passed every step are returned blocking and otherwise untouched;
    at most `batch` sessions are in their handshake at once, so a listen backlog is never flooded."""
    sel = selectors.DefaultSelector()
    done, errors = [], []
    pending = 0
    started = 0
    state = {}  # sock -> [step index (-1: connecting), buffer, deadline]

    def step_name(st):
        return "connect" if st[0] < 0 else steps[st[0]][0]

    def fail(s, why):
        nonlocal pending
        sel.unregister(s)
        s.close()
        del state[s]
        pending -= 1
        errors.append(why)

    while len(done) + len(errors) < n:
        while pending < batch and started < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            started += 1
            if err not in (0, errno.EINPROGRESS):
                s.close()
                errors.append("connect: %s" % os.strerror(err))
                continue
            state[s] = [-1, b"", time.monotonic() + timeout]
            sel.register(s, selectors.EVENT_WRITE)
            pending += 1
        if pending == 0:
            continue
        for key, _ev in sel.select(timeout=1.0):
            s = key.fileobj
            st = state[s]
            if st[0] < 0:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(s, "connect: %s" % os.strerror(err))
                    continue
                st[0] = 0
                if steps[0][1]:
                    s.sendall(steps[0][1])
                sel.modify(s, selectors.EVENT_READ)
                continue
            try:
                d = s.recv(65536)
            except OSError as e:
                fail(s, "%s: %s" % (step_name(st), e))
                continue
            if not d:
                fail(s, "%s: closed by server (%r)" % (step_name(st), st[1][-200:]))
                continue
            st[1] += d
            while b"\n" in st[1]:
                line, st[1] = st[1].split(b"\n", 1)
                line = line.rstrip(b"\r")
                name, _send, final, good = steps[st[0]]
                if not final(line):
                    continue  # a continuation or an untagged line
                if not good(line):
                    fail(s, "%s: %r" % (name, line))
                    break
                st[0] += 1
                if st[0] < len(steps):
                    s.sendall(steps[st[0]][1])  # tiny, fits in the empty send buffer
                    continue
                sel.unregister(s)
                del state[s]
                pending -= 1
                s.setblocking(True)
                done.append(s)
                break
        now = time.monotonic()
        for s in [s for s, st in state.items() if st[2] < now]:
            fail(s, "%s: timeout after %.0f s" % (step_name(state[s]), timeout))
    sel.close()
    return done, errors


def open_idle_smtp(port, n, batch=200, timeout=30.0, ehlo=b"EHLO client.test\r\n"):
    """Open n SMTP sessions to 127.0.0.1:port, each read up to the greeting, sent EHLO and read
    up to the final 250 line, and return (sockets, errors)."""
    final = lambda line: not (len(line) >= 4 and line[3:4] == b"-")  # noqa: E731 (multi-line replies)
    steps = [("banner", None, final, lambda line: line.startswith(b"220")),
             ("ehlo", ehlo, final, lambda line: line.startswith(b"250"))]
    return open_idle_sessions(port, n, steps, batch=batch, timeout=timeout)


def open_idle_imap(port, n, user, password, mailbox="INBOX", batch=50, timeout=60.0):
    """Open n IMAP sessions to 127.0.0.1:port, each read up to the greeting, logged in (LOGIN) and,
    unless mailbox is None, with that mailbox selected (as a client holds its INBOX open); returns
    (sockets, errors). The password must be an IMAP atom."""
    steps = [("greeting", None, lambda line: True, lambda line: line.startswith(b"* OK")),
             ("login", b"a LOGIN %s %s\r\n" % (user.encode(), password.encode()),
              lambda line: line.startswith(b"a "), lambda line: line.startswith(b"a OK"))]
    if mailbox is not None:
        steps.append(("select", b"b SELECT %s\r\n" % mailbox.encode(),
                      lambda line: line.startswith(b"b "), lambda line: line.startswith(b"b OK")))
    return open_idle_sessions(port, n, steps, batch=batch, timeout=timeout)
