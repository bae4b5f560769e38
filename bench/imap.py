#!/usr/bin/env python3
"""imap.py - IMAP on a large mailbox, and memory per idle IMAP connection, Poshta side by side with Dovecot.

In one run: starts a private Dovecot (IMAP only) and a private Poshta (`poshta serve` with an
IMAP listener), both on loopback ports in a scratch directory under /var/tmp, and generates
COUNT realistic messages once (benchlib's Maildrop, the same bytes for both servers; about 1%
of them have the word --word in their Subject). Then, per run and server:

  1. the user's Maildir is deleted (with every index file in it) and the messages are written
     straight into a fresh new/, named as each server's own delivery names them (LF line ends,
     ",S=<octets>,W=<octets with CRLF>"), then the disk is synced;
  2. cold session: the first one after the mailbox was written, so each server builds its
     indexes while it answers (Poshta its poshta-uidlist, Dovecot dovecot-uidlist and
     dovecot.index*; both move new/ to cur/);
  3. warm session: the same again.

A session is one connection of a small raw-socket IMAP client (imaplib would spend seconds of
CPU on 100,000-line responses) with four steps, each timed on its own (perf_counter, with the
client's CPU time): connect + LOGIN + SELECT INBOX; UID FETCH 1:* (FLAGS); FETCH 1:* (ENVELOPE);
SEARCH SUBJECT <word>; then LOGOUT, untimed. Checked in every session: SELECT's EXISTS is COUNT,
FETCH FLAGS gives COUNT different UIDs, FETCH ENVELOPE COUNT responses, SEARCH exactly the
messages whose Subject holds the word; and across the servers: the same counts, the same hits,
and the ENVELOPE of every message parsed and compared field by field (differences reported).

Then memory per idle logged-in connection (unless --conns 0): each server is restarted, one
LOGIN + SELECT of a second user's small mailbox warms it, and its process tree is measured
(RSS and PSS, as in idle_memory.py) before and after --conns connections that LOGIN and SELECT
that INBOX and stay open, silent; per connection = (after - before) / N, --reps times.

Runs repeat --reps times (Dovecot and Poshta alternating) and the medians are printed as tables
with the ratios Poshta/Dovecot: time (< 1 means Poshta is faster), messages/s (> 1 means Poshta
is faster), memory (< 1 means Poshta needs less).

Run as root:  bench/imap.py [--count 100000] [--reps 3] [--conns 500] [--poshta build/poshta]
Needs: Dovecot (dovecot-imapd), from `scripts/setup.sh`. Only 127.0.0.1 is used; Poshta's
resolver is 127.0.0.1:9, Dovecot serves IMAP only and has no network client.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

LOCALPART = "imap"
USER = "%s@%s" % (LOCALPART, bl.DOMAIN)
IDLE_LOCALPART = "idle"  # the user of the idle connections, with a small mailbox
IDLE_USER = "%s@%s" % (IDLE_LOCALPART, bl.DOMAIN)
VUID = 5000  # Dovecot's mail_uid (as Postfix's virtual(8) in benchlib)
STEPS = ["login_select", "uid_flags", "envelope", "search"]
STEP_NAMES = {"login_select": "LOGIN + SELECT", "uid_flags": "UID FETCH 1:* (FLAGS)",
              "envelope": "FETCH 1:* (ENVELOPE)", "search": "SEARCH SUBJECT"}
STEP_SHORT = {"login_select": "LOGIN+SELECT", "uid_flags": "FLAGS", "envelope": "ENVELOPE", "search": "SEARCH"}
ENVELOPE_FIELDS = ["date", "subject", "from", "sender", "reply-to", "to", "cc", "bcc", "in-reply-to",
                   "message-id"]


# ---------------------------------------------------------------- a minimal IMAP client

class ImapError(Exception):
    pass


class Imap:
    """One IMAP connection on a blocking socket. command() sends a tagged command and returns
    (responses, completion): every response line up to the tagged one, literals kept inline
    (b"... {5}\\r\\nhello ..."), without the final CRLF. Nothing is parsed beyond finding where a
    response ends, so the client costs little next to the server."""

    def __init__(self, port, timeout):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.data = b""
        self.n = 0
        self.greeting = self._read_until(None)[0][-1]
        if not self.greeting.startswith(b"* OK"):
            raise ImapError("greeting: %r" % self.greeting[:200])

    def _more(self):
        d = self.sock.recv(1 << 20)
        if not d:
            raise EOFError("connection closed by the server")
        return d

    def _read_until(self, tag):
        """Responses up to the first one starting with `tag` + SP (tag None: just one response)."""
        out = []
        data, start, pos = self.data, 0, 0
        while True:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                data = data[start:] + self._more()
                pos -= start
                start = 0
                continue
            if data[eol - 1:eol] == b"}":  # a literal follows: {n} or {n+}
                lb = data.rfind(b"{", pos, eol)
                digits = data[lb + 1:eol - 1].rstrip(b"+") if lb >= 0 else b""
                if digits.isdigit():
                    end = eol + 2 + int(digits)
                    while len(data) < end:
                        data += self._more()
                    pos = end
                    continue
            resp = data[start:eol]
            out.append(resp)
            pos = start = eol + 2
            if tag is None or resp.startswith(tag):
                self.data = data[start:]
                return out, resp

    def command(self, text):
        self.n += 1
        tag = b"t%d" % self.n
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        responses, completion = self._read_until(tag + b" ")
        return responses[:-1], completion

    def check(self, text):
        responses, completion = self.command(text)
        if not completion.split(b" ", 2)[1:2] == [b"OK"]:
            raise ImapError("%s: %r" % (text.split()[0], completion[:300]))
        return responses

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


# ---------------------------------------------------------------- parsing, outside the timed steps

TOKEN = re.compile(rb'[ \t]*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|\{(\d+)\+?\}\r\n|([^ \t()"{\r\n]+))', re.S)


def parse_list(b, i):
    """The parenthesized list starting at b[i] == '(' as nested Python lists: strings as bytes,
    NIL as None, atoms as bytes. Returns (list, index after ')')."""
    stack, cur = [], None
    while i < len(b):
        m = TOKEN.match(b, i)
        if not m:
            raise ValueError("cannot parse at %d: %r" % (i, b[i:i + 40]))
        i = m.end()
        if m.group(1):
            new = []
            if cur is not None:
                cur.append(new)
                stack.append(cur)
            cur = new
        elif m.group(2):
            if not stack:
                return cur, i
            cur = stack.pop()
        elif m.group(3) is not None:
            cur.append(re.sub(rb"\\(.)", rb"\1", m.group(3)))
        elif m.group(4) is not None:
            n = int(m.group(4))
            cur.append(b[i:i + n])
            i += n
        else:
            atom = m.group(5)
            cur.append(None if atom.upper() == b"NIL" else atom)
    raise ValueError("unterminated list")


FETCH = re.compile(rb"\* (\d+) FETCH ")


def fetch_items(resp):
    """(sequence number, {ITEM: value}) of one '* n FETCH (...)' response, or None."""
    m = FETCH.match(resp)
    if not m:
        return None
    lst, _ = parse_list(resp, m.end())
    items = {}
    for k in range(0, len(lst) - 1, 2):
        items[lst[k].upper() if isinstance(lst[k], bytes) else lst[k]] = lst[k + 1]
    return int(m.group(1)), items


def uid_flags(responses):
    """{seq: (uid, flags)} from the responses to UID FETCH 1:* (FLAGS)."""
    out = {}
    for r in responses:
        f = fetch_items(r)
        if f:
            seq, items = f
            uid = items.get(b"UID")
            out[seq] = (int(uid) if uid is not None and uid.isdigit() else None,
                        tuple(sorted(x.decode() for x in (items.get(b"FLAGS") or []))))
    return out


def envelopes(responses):
    """{seq: envelope (a list of 10 fields)} from the responses to FETCH 1:* (ENVELOPE)."""
    out = {}
    for r in responses:
        f = fetch_items(r)
        if f and b"ENVELOPE" in f[1]:
            out[f[0]] = f[1][b"ENVELOPE"]
    return out


def search_hits(responses):
    hits = []
    for r in responses:
        if r.startswith(b"* SEARCH"):
            hits.extend(int(x) for x in r[8:].split())
    return hits


def show(v, limit=160):
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def compare_envelopes(ea, eb, names=("Dovecot", "Poshta")):
    """The differences between two servers' ENVELOPE outputs (dicts seq -> envelope): a list of
    sentences, empty when every field of every message is the same. Messages are paired by
    sequence number; if the Message-IDs show another order, by Message-ID."""
    out = []
    if len(ea) != len(eb):
        out.append("ENVELOPE responses: %s %d, %s %d" % (names[0], len(ea), names[1], len(eb)))
    pairs = [(s, ea[s], eb[s]) for s in sorted(ea) if s in eb]
    mid = lambda e: e[9] if isinstance(e, list) and len(e) == 10 else None  # noqa: E731
    if sum(1 for _s, x, y in pairs if mid(x) != mid(y)) > len(pairs) // 2:
        byid = {mid(e): e for e in eb.values()}
        pairs = [(s, x, byid[mid(x)]) for s, x in sorted(ea.items()) if mid(x) in byid]
        out.append("the servers list the messages in another order (paired by Message-ID: %d)" % len(pairs))
    per_field, samples, bad = {}, {}, 0
    for s, x, y in pairs:
        if x == y:
            continue
        bad += 1
        if not (isinstance(x, list) and isinstance(y, list) and len(x) == len(y) == 10):
            per_field["shape"] = per_field.get("shape", 0) + 1
            samples.setdefault("shape", (s, x, y))
            continue
        for k, f in enumerate(ENVELOPE_FIELDS):
            if x[k] != y[k]:
                per_field[f] = per_field.get(f, 0) + 1
                samples.setdefault(f, (s, x[k], y[k]))
    if bad:
        out.append("ENVELOPE differs in %d of %d messages: %s" % (
            bad, len(pairs), ", ".join("%s %d" % (f, n) for f, n in sorted(per_field.items()))))
        for f, (s, x, y) in sorted(samples.items()):
            out.append("  %s, message %d: %s %s / %s %s" % (f, s, names[0], show(x), names[1], show(y)))
    return out


# ---------------------------------------------------------------- one session

def session(a, server, port, count, expect_hits, keep=False):
    """One session: connect + LOGIN + SELECT, UID FETCH 1:* (FLAGS), FETCH 1:* (ENVELOPE), SEARCH
    SUBJECT, LOGOUT. Returns times, client CPU, counts, memory; with keep, the raw responses."""
    res = {"server": server.name}
    root = server.pid()
    if root is None or not bl.pid_alive(root):
        res["error"] = "%s is not running" % server.name
        return res
    log_offset = bl.file_size(server.logfile)
    res["mem_idle"] = bl.tree_memory(root)
    times, cpu, out = {}, {}, {}
    box = {}

    def step(name, fn):
        w0, c0 = time.perf_counter(), time.process_time()
        r = fn()
        times[name] = time.perf_counter() - w0
        cpu[name] = time.process_time() - c0
        return r

    def login_select():
        box["c"] = Imap(port, a.timeout)
        box["c"].check("LOGIN %s %s" % (USER, bl.PASSWORD))
        return box["c"].check("SELECT INBOX")

    try:
        sel = step("login_select", login_select)
        c = box["c"]
        res["exists"] = next((int(r.split()[1]) for r in sel if r.endswith(b" EXISTS")), None)
        res["select"] = [r.decode(errors="replace") for r in sel]
        out["uid_flags"] = step("uid_flags", lambda: c.check("UID FETCH 1:* (FLAGS)"))
        out["envelope"] = step("envelope", lambda: c.check("FETCH 1:* (ENVELOPE)"))
        out["search"] = step("search", lambda: c.check('SEARCH SUBJECT "%s"' % a.word))
        res["mem_open"] = bl.tree_memory(root)
        try:
            c.command("LOGOUT")
        except (OSError, EOFError):
            pass
    except (ImapError, OSError, EOFError, ValueError) as e:
        res["error"] = "%s during %s: %s" % (type(e).__name__, STEP_NAMES[STEPS[len(times)]], e)
    finally:
        if "c" in box:
            box["c"].close()
    res["times"], res["client_cpu"] = times, cpu
    if "error" not in res:
        res["t_total"] = sum(times.values())
    # counts (untimed)
    try:
        if "uid_flags" in out:
            uf = uid_flags(out["uid_flags"])
            res["flags_responses"] = len(uf)
            res["uids"] = len({u for u, _f in uf.values() if u is not None})
            res["flags_seen"] = {}
            for _u, f in uf.values():
                k = " ".join(f) or "()"
                res["flags_seen"][k] = res["flags_seen"].get(k, 0) + 1
        if "envelope" in out:
            res["envelope_responses"] = sum(1 for r in out["envelope"] if FETCH.match(r))
            res["envelope_bytes"] = sum(len(r) + 2 for r in out["envelope"])
        if "search" in out:
            res["hits"] = search_hits(out["search"])
    except ValueError as e:
        res.setdefault("error", "cannot parse the responses: %s" % e)
    time.sleep(0.2)  # the server's last log lines
    problems = server.problems(bl.read_from(server.logfile, log_offset))
    if problems:
        res["log_problems"] = len(problems)
        res["log_sample"] = problems[:10]
    res["checks"] = check(res, count, expect_hits)
    if keep:
        res["_raw"] = out
    return res


def check(r, count, expect_hits):
    out = []
    if "exists" in r and r["exists"] != count:
        out.append("SELECT says %s EXISTS, %d were written" % (r["exists"], count))
    if "uids" in r:
        if r["flags_responses"] != count:
            out.append("UID FETCH (FLAGS) answered for %d messages, not %d" % (r["flags_responses"], count))
        if r["uids"] != r["flags_responses"]:
            out.append("UID FETCH (FLAGS) gave %d different UIDs for %d messages" % (r["uids"], r["flags_responses"]))
    if "envelope_responses" in r and r["envelope_responses"] != count:
        out.append("FETCH (ENVELOPE) answered for %d messages, not %d" % (r["envelope_responses"], count))
    if "hits" in r and len(r["hits"]) != expect_hits:
        out.append("SEARCH SUBJECT found %d messages, %d have the word in their Subject" % (
            len(r["hits"]), expect_hits))
    return out


def report(server, label, r):
    if "error" in r:
        bl.log("  %-7s %s: ERROR %s" % (server.name, label, r["error"]))
        tail = server.log_tail(8).rstrip()
        if tail:
            bl.log("    last log lines:\n      " + tail.replace("\n", "\n      "))
    else:
        t = r["times"]
        bl.log("  %-7s %s: %7.2f s = LOGIN+SELECT %.3f + FLAGS %.3f + ENVELOPE %.3f + SEARCH %.3f (%d hits); "
               "client CPU %.2f s; PSS MiB before %.1f, after SEARCH %.1f (%d procs)" % (
                   server.name, label, r["t_total"], t["login_select"], t["uid_flags"], t["envelope"],
                   t["search"], len(r["hits"]), sum(r["client_cpu"].values()),
                   r["mem_idle"]["pss_kib"] / 1024, r["mem_open"]["pss_kib"] / 1024, r["mem_open"]["procs"]))
    for c in r.get("checks", []):
        bl.log("    CHECK FAILED: " + c)
    if "log_sample" in r:
        bl.log("    %d warning/error lines in %s, first ones:\n      %s" % (
            r["log_problems"], server.logfile, "\n      ".join(r["log_sample"])))


# ---------------------------------------------------------------- idle connections

def idle_connections(a, server, port, n):
    """Restart, warm up with one session, mem(0), open n logged-in sessions with INBOX selected,
    mem(n), check that none was dropped, close. Returns a dict or raises RuntimeError."""
    server.restart()
    c = Imap(port, a.timeout)
    try:
        c.check("LOGIN %s %s" % (IDLE_USER, bl.PASSWORD))
        c.check("SELECT INBOX")
        c.command("LOGOUT")
    except (ImapError, OSError, EOFError) as e:
        raise RuntimeError("%s: warm-up session of %s: %s" % (server.name, IDLE_USER, e))
    finally:
        c.close()
    time.sleep(a.settle)
    root = server.pid()
    if root is None or not bl.pid_alive(root):
        raise RuntimeError("%s: no live PID" % server.name)
    m0 = bl.tree_memory(root)
    log_offset = bl.file_size(server.logfile)
    t0 = time.monotonic()
    socks, errors = bl.open_idle_imap(port, n, IDLE_USER, bl.PASSWORD, batch=a.batch, timeout=a.conn_timeout)
    t_open = time.monotonic() - t0
    try:
        if errors:
            kinds = {}
            for e in errors:
                kinds[e.split(":")[0]] = e
            problems = server.problems(bl.read_from(server.logfile, log_offset))
            raise RuntimeError("%s: %d of %d connections failed, e.g. %s%s" % (
                server.name, len(errors), n, "; ".join(kinds.values()),
                "; log: " + " | ".join(problems[:5]) if problems else ""))
        time.sleep(a.settle)
        if server.pid() != root:
            raise RuntimeError("%s: PID changed from %s to %s while measuring" % (server.name, root, server.pid()))
        m1 = bl.tree_memory(root)
        dropped = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1, socket.MSG_PEEK) == b"":
                    dropped += 1
            except BlockingIOError:
                pass
            except OSError:
                dropped += 1
        if dropped:
            raise RuntimeError("%s closed %d of %d idle sessions within %.0f s" % (server.name, dropped, n, a.settle))
    finally:
        for s in socks:
            s.close()
    return {"n": n, "open_s": t_open, "mem0": m0, "memN": m1,
            "per_conn_rss_kib": (m1["rss_kib"] - m0["rss_kib"]) / n,
            "per_conn_pss_kib": (m1["pss_kib"] - m0["pss_kib"]) / n}


# ---------------------------------------------------------------- main

def med(runs, get):
    v = []
    for r in runs:
        try:
            v.append(get(r))
        except (KeyError, TypeError):
            pass
    return statistics.median(v) if v else None


def fmt_num(v, spec):
    return spec % v if v is not None else "err"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--poshta", default=bl.DEFAULT_POSHTA, help="the poshta binary (default: build/poshta)")
    ap.add_argument("--count", type=int, default=100000, help="messages in the mailbox (default 100000)")
    ap.add_argument("--reps", type=int, default=3, help="runs per server (median printed)")
    ap.add_argument("--word", default="audit", help="the word searched for in the subjects (default audit)")
    ap.add_argument("--word-share", type=float, default=0.01,
                    help="share of the messages with the word in their Subject (default 0.01)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the message generator")
    ap.add_argument("--conns", type=int, default=500,
                    help="idle logged-in connections held to each server (default 500; 0: no memory test)")
    ap.add_argument("--idle-count", type=int, default=20, help="messages in the idle connections' INBOX")
    ap.add_argument("--batch", type=int, default=50, help="idle connections in their LOGIN at once")
    ap.add_argument("--conn-timeout", type=float, default=60.0, help="seconds for greeting + LOGIN + SELECT")
    ap.add_argument("--servers", default="dovecot,poshta", help="dovecot,poshta (default both)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds of quiet before each session and measurement")
    ap.add_argument("--timeout", type=float, default=900, help="socket timeout of the IMAP client, s")
    ap.add_argument("--workdir", default=None, help="parent of the scratch directory (default /var/tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, mailboxes)")
    ap.add_argument("--json", default=None, help="append the results as one JSON line to this file")
    a = ap.parse_args()

    bl.require_root()
    bl.install_signal_handlers()
    wanted = [s.strip().lower() for s in a.servers.split(",") if s.strip()]
    if "poshta" in wanted and not os.access(a.poshta, os.X_OK):
        bl.die("%s is not there (or not executable): build Poshta first (scripts/setup.sh), "
               "or pass --poshta PATH" % a.poshta)
    if "dovecot" in wanted and not shutil.which("dovecot"):
        bl.die("dovecot not found; install it: scripts/setup.sh")
    if not re.fullmatch(r"[a-z]+", a.word):
        bl.die("--word must be one word of lower-case letters")
    # our end of every idle connection is a descriptor here; Dovecot inherits the limit, Poshta gets its own
    nofile = bl.raise_nofile(2 * a.conns + 1024)
    if nofile < a.conns + 64:
        bl.die("RLIMIT_NOFILE is %d, too low for %d connections" % (nofile, a.conns))

    t0 = time.monotonic()
    drop = bl.Maildrop(a.count, a.seed, USER, mark=(a.word, a.word_share))
    subject = re.compile(rb"^Subject: (.*)$", re.M)
    expect_hits = 0
    for _s, _u, d in drop.messages:
        m = subject.search(d, 0, d.find(b"\n\n"))
        if m and a.word.encode() in m.group(1).lower():
            expect_hits += 1
    sizes = sorted(drop.wire_sizes)
    bl.log("mailbox: %d messages, %.1f MiB on disk (LF); sizes %.1f / %.1f / %.1f KiB (min / median / max); "
           "%d (%.2f%%) with \"%s\" in their Subject; made in %.1f s" % (
               a.count, drop.disk_octets / 2**20, sizes[0] / 1024, sizes[len(sizes) // 2] / 1024,
               sizes[-1] / 1024, expect_hits, 100.0 * expect_hits / a.count, a.word, time.monotonic() - t0))
    idle_drop = bl.Maildrop(a.idle_count, a.seed + 1, IDLE_USER)

    work = bl.make_workdir(a.workdir)
    servers = []  # (server, IMAP port, Maildir of the user, name style, owner uid)
    ok = False
    try:
        bl.log("scratch directory %s" % work)
        limit = a.conns + 100
        if "dovecot" in wanted:
            # one imap process per connection, and (high-security mode) one imap-login process per
            # connection until it is logged in: both limits are raised to fit, as are the user+IP
            # limit (10 by default) and the client limits of the services every process talks to
            dc = bl.DovecotInstance(
                os.path.join(work, "dovecot"), imap_port=bl.free_port(), vuid=VUID,
                login_settings={"imap": "process_limit = %d" % limit},
                extra=("# the idle-connection test: %d sessions of one user from 127.0.0.1\n"
                       "default_client_limit = %d\n"
                       "protocol imap {\n  mail_max_userip_connections = %d\n}\n"
                       "service imap {\n  process_limit = %d\n}\n" % (
                           a.conns, max(1000, 2 * limit + 100), limit, limit)))
            servers.append((dc, dc.imap_port, os.path.join(dc.mailroot, LOCALPART), "dovecot", VUID))
            dc.setup()
            dc.start()
            bl.log("Dovecot, IMAP on 127.0.0.1:%d (master pid %s)" % (dc.imap_port, dc.pid()))
        if "poshta" in wanted:
            po = bl.PoshtaInstance(a.poshta, os.path.join(work, "poshta"), bl.free_port(),
                                   users=[LOCALPART, IDLE_LOCALPART], imap_port=bl.free_port(),
                                   nofile=max(65536, 2 * a.conns + 4096))
            os.makedirs(po.base, exist_ok=True)
            servers.append((po, po.imap_port, os.path.join(po.mailroot, LOCALPART), "poshta", po.mail_owner()))
            po.setup()
            po.start()
            bl.log("Poshta on 127.0.0.1:%d, IMAP on 127.0.0.1:%d (pid %s)" % (po.port, po.imap_port, po.pid()))
        if not servers:
            bl.die("--servers names neither dovecot nor poshta")
        for s, _port, mailbox, style, owner in servers:
            idle_drop.write(os.path.join(os.path.dirname(mailbox), IDLE_LOCALPART), style, owner)

        results = {}  # (server name, "cold"|"warm") -> [run]
        mem_first = {s.name: bl.tree_memory(s.pid()) for s, *_ in servers}
        raw = {}  # server name -> raw responses of its first cold session
        for rep in range(a.reps):
            for s, port, mailbox, style, owner in servers:
                w0 = time.monotonic()
                drop.write(mailbox, style, owner)
                os.sync()
                bl.log("  %-7s run %d: mailbox written into %s/new and synced in %.1f s" % (
                    s.name, rep + 1, mailbox, time.monotonic() - w0))
                for label in ("cold", "warm"):
                    time.sleep(a.settle)
                    r = session(a, s, port, a.count, expect_hits, keep=(rep == 0 and label == "cold"))
                    if "_raw" in r:
                        raw[s.name] = r.pop("_raw")
                    results.setdefault((s.name, label), []).append(r)
                    report(s, "run %d %s" % (rep + 1, label), r)
                    os.sync()
        mem_last = {s.name: bl.tree_memory(s.pid()) for s, *_ in servers if s.pid()}

        # ---- idle connections
        idle = {}
        if a.conns > 0:
            for s, port, *_ in servers:
                for rep in range(a.reps):
                    try:
                        r = idle_connections(a, s, port, a.conns)
                    except (RuntimeError, ImapError, OSError, EOFError) as e:
                        bl.log("  %-7s idle rep %d: ERROR %s" % (s.name, rep + 1, e))
                        tail = s.log_tail(8).rstrip()
                        if tail:
                            bl.log("    last log lines:\n      " + tail.replace("\n", "\n      "))
                        idle.setdefault(s.name, []).append({"n": a.conns, "error": str(e)})
                        continue
                    idle.setdefault(s.name, []).append(r)
                    bl.log("  %-7s idle rep %d: n=0 procs=%d rss=%.1f MiB pss=%.1f MiB | n=%d procs=%d rss=%.1f MiB "
                           "pss=%.1f MiB (opened in %.1f s) | per conn rss %.1f KiB pss %.1f KiB" % (
                               s.name, rep + 1, r["mem0"]["procs"], r["mem0"]["rss_kib"] / 1024,
                               r["mem0"]["pss_kib"] / 1024, a.conns, r["memN"]["procs"], r["memN"]["rss_kib"] / 1024,
                               r["memN"]["pss_kib"] / 1024, r["open_s"], r["per_conn_rss_kib"],
                               r["per_conn_pss_kib"]))

        # ---- the checks, across servers (also needed for the notes under the table)
        names = [s.name for s, *_ in servers]
        both = names == ["Dovecot", "Poshta"]
        problems, notes = [], []
        for (n, label), runs in sorted(results.items()):
            for i, r in enumerate(runs):
                if "error" in r:
                    problems.append("%s run %d %s: %s" % (n, i + 1, label, r["error"]))
                for c in r.get("checks", []):
                    problems.append("%s run %d %s: %s" % (n, i + 1, label, c))
        for n, runs in sorted(idle.items()):
            for i, r in enumerate(runs):
                if "error" in r:
                    problems.append("%s idle connections rep %d: %s" % (n, i + 1, r["error"]))
        counts = {}
        for (n, _label), runs in results.items():
            for r in runs:
                if "error" not in r:
                    counts.setdefault(n, set()).add((r["exists"], r["uids"], r["envelope_responses"],
                                                     tuple(r["hits"])))
        for n, vals in sorted(counts.items()):
            if len(vals) > 1:
                problems.append("%s answered differently from one session to the next: %s" % (
                    n, sorted((e, u, v, len(h)) for e, u, v, h in vals)))
        if both and all(len(counts.get(n, ())) == 1 for n in names):
            (de, du, dv, dh), (pe, pu, pv, ph) = next(iter(counts["Dovecot"])), next(iter(counts["Poshta"]))
            for what, x, y in (("EXISTS", de, pe), ("UIDs", du, pu), ("ENVELOPE responses", dv, pv),
                               ("SEARCH hits", len(dh), len(ph))):
                if x != y:
                    problems.append("the servers disagree on %s: Dovecot %d, Poshta %d" % (what, x, y))
            if len(dh) == len(ph) and dh != ph:
                problems.append("the servers found %d messages each, but not the same ones (%d in common)" % (
                    len(dh), len(set(dh) & set(ph))))
        if both and "Dovecot" in raw and "Poshta" in raw:
            t1 = time.monotonic()
            try:
                ed, ep = envelopes(raw["Dovecot"]["envelope"]), envelopes(raw["Poshta"]["envelope"])
            except ValueError as e:
                problems.append("cannot parse the ENVELOPE responses: %s" % e)
                ed, ep = {}, {}
            diffs = compare_envelopes(ed, ep)
            bl.log("  ENVELOPE outputs compared (%d and %d messages) in %.1f s: %s" % (
                len(ed), len(ep), time.monotonic() - t1, "%d lines of differences" % len(diffs) if diffs else "same"))
            notes.extend(diffs)
            fd, fp = uid_flags(raw["Dovecot"]["uid_flags"]), uid_flags(raw["Poshta"]["uid_flags"])
            kinds = {}
            for seq in fd:
                if seq in fp and fd[seq][1] != fp[seq][1]:
                    k = "%s / %s" % (" ".join(fd[seq][1]) or "()", " ".join(fp[seq][1]) or "()")
                    kinds[k] = kinds.get(k, 0) + 1
            if kinds:
                notes.append("FLAGS in the cold session differ (Dovecot / Poshta): %s" % ", ".join(
                    "%s in %d messages" % (k, v) for k, v in sorted(kinds.items())))
            del ed, ep
        raw.clear()

        # ---- the tables
        print()
        print("IMAP: one session = connect + LOGIN + SELECT INBOX, UID FETCH 1:* (FLAGS), FETCH 1:* (ENVELOPE), "
              "SEARCH SUBJECT \"%s\" (%d hits), %d messages, %.1f MiB (%.1f-%.1f KiB, median %.1f), median of %d runs"
              % (a.word, expect_hits, a.count, drop.octets / 2**20, sizes[0] / 1024, sizes[-1] / 1024,
                 sizes[len(sizes) // 2] / 1024, a.reps))
        hdr = "%-28s | %s" % ("step", "  ".join("%8s" % ("s " + n[:4]) for n in names))
        hdr += ("  %6s" % "ratio") if both else ""
        hdr += " | " + "  ".join("%10s" % ("msg/s " + n[:4]) for n in names)
        hdr += ("  %6s" % "ratio") if both else ""
        print(hdr)
        print("-" * len(hdr))
        summary = []
        for label in ("cold", "warm"):
            rows = [("%s session" % label, lambda r: r["t_total"], False)]
            for st in STEPS:
                rows.append(("  " + STEP_NAMES[st], lambda r, st=st: r["times"][st], st != "login_select"))
            for row, get, rate in rows:
                t = [med([r for r in results.get((n, label), []) if "error" not in r], get) for n in names]
                line = "%-28s | %s" % (row, "  ".join("%8.3f" % v if v is not None else "%8s" % "err" for v in t))
                if both:
                    line += "  %6s" % ("%6.2f" % (t[1] / t[0]) if t[0] and t[1] else "-")
                if rate:
                    mps = [a.count / v if v else None for v in t]
                    line += " | " + "  ".join("%10.0f" % v if v is not None else "%10s" % "err" for v in mps)
                    if both:
                        line += "  %6s" % ("%6.2f" % (mps[1] / mps[0]) if mps[0] and mps[1] else "-")
                print(line)
                summary.append({"row": row.strip(), "session": label, "seconds": dict(zip(names, t))})
        print("(s = seconds, ratio = Poshta/Dovecot: < 1 is Poshta faster; msg/s = %d / seconds, ratio "
              "Poshta/Dovecot: > 1 is Poshta faster; cold = first session after the mailbox was written into new/, "
              "warm = the next one; err = a run failed, see above)" % a.count)
        cpus = []
        for st in STEPS:
            v = med([r for rs in results.values() for r in rs if "error" not in r], lambda r: r["client_cpu"][st])
            if v is not None:
                cpus.append("%s %.2f" % (STEP_SHORT[st], v))
        if cpus:
            print("(the client's own CPU time per step, s, median, included in every time: %s)" % ", ".join(cpus))
        env = med([r for rs in results.values() for r in rs if "error" not in r and r["server"] == names[0]],
                  lambda r: r["envelope_bytes"])
        if env:
            print("(FETCH (ENVELOPE) response: %s)" % ", ".join(
                "%s %.1f MiB" % (n, med([r for rs in results.values() for r in rs
                                         if "error" not in r and r["server"] == n],
                                        lambda r: r["envelope_bytes"]) / 2**20) for n in names))

        print()
        print("Memory of the server's process tree after SEARCH (mailbox selected), MiB, median of %d runs" % a.reps)
        mh = "%-16s | %8s %8s | %8s %8s | %5s" % ("server, session", "RSS idle", "PSS idle", "RSS open",
                                                  "PSS open", "procs")
        print(mh)
        print("-" * len(mh))
        for n in names:
            for label in ("cold", "warm"):
                runs = [r for r in results.get((n, label), []) if "error" not in r]
                cells = [fmt_num(med(runs, lambda r: r[p][k] / 1024), "%8.1f")
                         for p in ("mem_idle", "mem_open") for k in ("rss_kib", "pss_kib")]
                procs = med(runs, lambda r: r["mem_open"]["procs"])
                print("%-16s | %8s %8s | %8s %8s | %5s" % ("%s, %s" % (n, label), *cells,
                                                         "%d" % procs if procs is not None else "err"))
        print("PSS when started / after all %d sessions: %s" % (2 * a.reps, ", ".join(
            "%s %.1f / %s MiB" % (n, mem_first[n]["pss_kib"] / 1024,
                                  "%.1f" % (mem_last[n]["pss_kib"] / 1024) if n in mem_last else "-")
            for n in names)))
        print("(idle = before the session, open = after SEARCH, before LOGOUT; Poshta: its one process, "
              "Dovecot: master and all its children, the session's imap process included)")

        per = {}
        if a.conns > 0:
            print()
            print("Idle IMAP connections (LOGIN + SELECT INBOX of a %d-message mailbox, held open): memory of the "
                  "server's process tree, median of %d reps" % (a.idle_count, a.reps))
            ih = "%-8s %6s | %10s %10s | %10s %10s | %11s %11s" % (
                "server", "N", "RSS(0)MiB", "PSS(0)MiB", "RSS(N)MiB", "PSS(N)MiB", "RSS/conn", "PSS/conn")
            print(ih)
            print("-" * len(ih))
            for n in names:
                runs = [r for r in idle.get(n, []) if "error" not in r]
                cells = [fmt_num(med(runs, lambda r: r[p][k] / 1024), "%10.1f")
                         for p in ("mem0", "memN") for k in ("rss_kib", "pss_kib")]
                pr, pp = med(runs, lambda r: r["per_conn_rss_kib"]), med(runs, lambda r: r["per_conn_pss_kib"])
                per[n] = (pr, pp)
                print("%-8s %6d | %10s %10s | %10s %10s | %11s %11s" % (
                    n, a.conns, *cells, fmt_num(pr, "%7.1f KiB"), fmt_num(pp, "%7.1f KiB")))
            if both:
                (dr, dp), (pr, pp) = per["Dovecot"], per["Poshta"]
                print("ratio Poshta/Dovecot per connection: RSS %s, PSS %s (< 1 means Poshta needs less)" % (
                    "%.3f" % (pr / dr) if pr is not None and dr else "-",
                    "%.3f" % (pp / dp) if pp is not None and dp else "-"))
            print("(per conn = (mem(N) - mem(0)) / N; Dovecot: one imap process per connection, Poshta: one process)")

        if notes:
            print("NOTES:")
            for x in notes:
                print("  " + x)
        if problems:
            print("PROBLEMS:")
            for x in problems:
                print("  " + x)
        else:
            print("checks: %s: %d messages (EXISTS), %d different UIDs, %d ENVELOPE responses and the same %d "
                  "SEARCH hits (every message with \"%s\" in its Subject) in every session%s" % (
                      " and ".join(names), a.count, a.count, a.count, expect_hits, a.word,
                      "; no idle connection dropped" if a.conns > 0 else ""))
        sys.stdout.flush()
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps({"bench": "imap", "time": time.time(), "count": a.count, "reps": a.reps,
                                    "seed": a.seed, "word": a.word, "hits": expect_hits, "octets": drop.octets,
                                    "rows": summary, "problems": problems, "notes": notes,
                                    "idle_per_conn_kib": {k: {"rss": v[0], "pss": v[1]} for k, v in per.items()},
                                    "idle": idle, "mem_first": mem_first, "mem_last": mem_last,
                                    "runs": {"%s/%s" % k: [{x: y for x, y in r.items() if x not in ("hits", "select")}
                                                           for r in v] for k, v in results.items()}}) + "\n")
        ok = not problems
    except RuntimeError as e:
        bl.log("error: %s" % e)
        ok = False
    finally:
        for s, *_ in reversed(servers):
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                bl.log("warning: stopping %s: %s" % (s.name, e))
        if a.keep:
            bl.log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
