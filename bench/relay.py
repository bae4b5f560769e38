#!/usr/bin/env python3
"""relay.py - relay throughput to another domain, Poshta side by side with Postfix.

In one run: starts Postfix's smtp-sink on 127.0.0.1:SINK (it accepts every message and
throws it away, counting them), a private Postfix that relays everything remote to
relayhost [127.0.0.1]:SINK, and a private Poshta with smarthost "127.0.0.1:SINK", each on
its own loopback port in a scratch directory under /var/tmp; then drives each server with
Postfix's smtp-source, 10 KiB messages from src@client.test to to@sink.test:

  case            smtp-source
  1 session       -s 1  -m COUNT
  10 sessions     -s 10 -m COUNT

smtp-source opens a new connection for every message (use --reuse for -d). Per run:
  accepted/s  = COUNT / time until smtp-source exits (every DATA got its 250)
  relayed/s   = COUNT / time until smtp-sink has received COUNT messages (its -c counter,
                "mesg=N", read every 50 ms; the time starts with smtp-source, so
                relayed/s <= accepted/s)
After each run the server's queue must empty (Poshta: `poshta queue list` says "queue is
empty"); a run whose messages stay queued, or that brings more messages to the sink than
were sent (duplicates, bounces), is reported. New warnings and errors in the servers' logs
are printed after each run.

With dnsmasq installed, a second Poshta ("Poshta MX") relays by MX lookup instead of the
smarthost: its resolver is a private dnsmasq on 127.0.0.1 that knows only
`sink.test MX 10 mx.sink.test` and `mx.sink.test A 127.0.0.1` (TTL 300 s; no upstream
server, so every other name is REFUSED), and remote_port = SINK. Its rows in the table compare it with the same Postfix runs (relayhost).

Each case runs --reps times (the servers alternating), queues are drained and the disk
synced between runs, and the medians are printed as a table with the ratio Poshta/Postfix
(> 1 means Poshta is faster).

Run as root:  bench/relay.py [--count 2000] [--reps 3] [--poshta build/poshta] [--no-mx]
Needs: Postfix (smtp-source, smtp-sink), from `scripts/setup.sh`; dnsmasq for the MX
case. Only 127.0.0.1 is used: Postfix has no DNS and its only nexthop is the sink; Poshta's
resolver is 127.0.0.1:9 (discard) or the private dnsmasq, which forwards nothing.
"""
import argparse
import json
import os
import re
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

CASES = [
    ("1 session", 1),
    ("10 sessions", 10),
]
SINK_DOMAIN = "sink.test"
MX_HOST = "mx.sink.test"
SENDER = "src@client.test"
RECIPIENT = "to@" + SINK_DOMAIN


# ---------------------------------------------------------------- helpers

def cpu_times():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def cpu_split(a, b):
    d = [y - x for x, y in zip(a, b)]
    tot = sum(d) or 1
    return {"user": 100.0 * (d[0] + d[1]) / tot, "sys": 100.0 * (d[2] + d[5] + d[6]) / tot,
            "iowait": 100.0 * d[4] / tot, "idle": 100.0 * d[3] / tot}


def free_port_tcp_udp():
    """A loopback port free for both TCP and UDP (dnsmasq listens on both)."""
    for _ in range(50):
        port = bl.free_port()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                u.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
    raise RuntimeError("no free loopback port for both TCP and UDP")


def find_program(name, dirs=("/usr/sbin", "/usr/lib/postfix", "/usr/libexec/postfix")):
    for p in [shutil.which(name)] + [os.path.join(d, name) for d in dirs]:
        if p and os.access(p, os.X_OK):
            return p
    return None


def dns_query(port, name, qtype, timeout=1.0):
    """One UDP query to 127.0.0.1:port; returns (rcode, answer count) or raises OSError."""
    qid = os.getpid() & 0xFFFF
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(q, ("127.0.0.1", port))
        r, _ = s.recvfrom(4096)
    rid, flags, _qd, an = struct.unpack(">HHHH", r[:8])
    if rid != qid:
        raise OSError("DNS answer with the wrong id")
    return flags & 0xF, an


# ---------------------------------------------------------------- smtp-sink

class Sink:
    """Postfix's smtp-sink on 127.0.0.1:port. `-c` writes "sess=N quit=N mesg=N\\r" to stdout
    (flushed at once) each time a session ends, a QUIT arrives or a message's final "." is
    received; mesg is the running count of messages received, read from the end of the file."""

    MESG = re.compile(rb"mesg=(\d+)\r")

    def __init__(self, base, port, backlog):
        self.base = base
        self.port = port
        self.backlog = backlog
        self.out = os.path.join(base, "sink.counter")
        self.errpath = os.path.join(base, "sink.err")
        self.proc = None

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        prog = find_program("smtp-sink")
        if not prog:
            raise RuntimeError("smtp-sink not found; install Postfix: scripts/setup.sh")
        # -c: counters; -u postfix: drop root after binding; PIPELINING and 8BITMIME are
        # announced by default (-p and -8 would turn them off); no STARTTLS is offered.
        cmd = [prog, "-c", "-u", "postfix", "127.0.0.1:%d" % self.port, str(self.backlog)]
        self.cmd = " ".join(cmd)
        with open(self.out, "wb") as out, open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err)
        bl.wait_banner(self.port, proc=self.proc)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def count(self):
        try:
            with open(self.out, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(0, size - 512))
                tail = f.read()
        except OSError:
            return 0
        m = self.MESG.findall(tail)
        return int(m[-1]) if m else 0

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def errors(self):
        return bl.read_from(self.errpath, 0).strip()


# ---------------------------------------------------------------- dnsmasq

class Dnsmasq:
    """A private dnsmasq on 127.0.0.1:port that answers for sink.test only and forwards
    nothing (--no-resolv, no server lines, no /etc/hosts, no /etc/dnsmasq.conf)."""

    def __init__(self, base, port):
        self.base = base
        self.port = port
        self.logfile = os.path.join(base, "dnsmasq.log")
        self.proc = None

    def start(self):
        os.makedirs(self.base, exist_ok=True)
        prog = find_program("dnsmasq")
        if not prog:
            raise RuntimeError("dnsmasq not found")
        cmd = [prog, "--keep-in-foreground", "--conf-file=/dev/null",
               "--port=%d" % self.port, "--listen-address=127.0.0.1", "--bind-interfaces",
               "--no-resolv", "--no-hosts", "--user=root",
               # sink.test is answered from the records below only (AAAA mx.sink.test: NODATA,
               # not REFUSED), with a realistic TTL rather than dnsmasq's default 0
               "--local=/%s/" % SINK_DOMAIN, "--local-ttl=300",
               "--pid-file=%s" % os.path.join(self.base, "dnsmasq.pid"),
               "--log-facility=%s" % self.logfile, "--log-queries",
               "--mx-host=%s,%s,10" % (SINK_DOMAIN, MX_HOST),
               "--host-record=%s,127.0.0.1" % MX_HOST]
        self.cmd = " ".join(cmd)
        self._err = open(os.path.join(self.base, "dnsmasq.err"), "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._err, stderr=self._err)
        t0 = time.monotonic()
        last = None
        while time.monotonic() - t0 < 10:
            if self.proc.poll() is not None:
                raise RuntimeError("dnsmasq exited with status %s: %s" % (
                    self.proc.returncode, bl.read_from(os.path.join(self.base, "dnsmasq.err"), 0).strip()))
            try:
                rcode, an = dns_query(self.port, SINK_DOMAIN, 15)
                if rcode == 0 and an >= 1:
                    return
                last = "rcode %d, %d answers" % (rcode, an)
            except OSError as e:
                last = e
            time.sleep(0.1)
        raise RuntimeError("dnsmasq on 127.0.0.1:%d does not answer MX %s (%s)" % (self.port, SINK_DOMAIN, last))

    def forwarded(self):
        """Log lines of queries sent upstream (there must be none)."""
        return [ln for ln in bl.read_from(self.logfile, 0).splitlines() if " forwarded " in ln]

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        self._err.close()


# ---------------------------------------------------------------- the two servers, relaying

class PostfixRelay(bl.PostfixInstance):
    """benchlib's private Postfix, changed to relay: every destination that is not local goes
    by smtp(8) to relayhost [127.0.0.1]:SINK (brackets: no MX lookup; numeric: no lookup at
    all), with DNS disabled. Bounces and notices for client.test or anchors.test have no other
    route either, so they too can only reach the sink. smtpd lets 127.0.0.0/8 relay
    (mynetworks, permit_mynetworks in the default smtpd_relay_restrictions)."""

    name = "Postfix"

    def __init__(self, base, port, sink_port, **kw):
        super().__init__(base, port, **kw)
        self.sink_port = sink_port
        self.logfile = os.path.join(base, "log", "maillog")

    def setup(self):
        super().setup()
        settings = [
            "relayhost = [127.0.0.1]:%d" % self.sink_port,
            "default_transport = smtp",
            "relay_transport = smtp",
            "smtp_dns_support_level = disabled",
            "smtp_host_lookup = native",
            "mynetworks = 127.0.0.0/8",
            "smtp_fallback_relay =",
            "fallback_transport =",
        ]
        r = subprocess.run(["postconf", "-c", self.etc, "-e"] + settings, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("postconf -e failed: %s" % (r.stderr or r.stdout).strip())
        r = subprocess.run(["postfix", "-c", self.etc, "check"], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("postfix check failed: %s" % (r.stderr or r.stdout).strip())

    def queue_state(self):
        """(empty?, text for a report)"""
        if self.queue_empty():
            return True, ""
        r = subprocess.run(["postqueue", "-c", self.etc, "-p"], capture_output=True, text=True)
        return False, (r.stdout + r.stderr).strip()

    PROBLEMS = re.compile(r"status=(deferred|bounced)|\b(warning|error|fatal|panic):")

    def problems(self, text):
        return [ln for ln in text.splitlines() if self.PROBLEMS.search(ln)]


POSHTA_RELAY_CFG = """\
# written by bench/relay.py
hostname = "bench.test"
data_dir = "{data_dir}"
domains  = ["bench.test"]
trusted_networks = ["127.0.0.0/8"]   # smtp-source on loopback may relay without AUTH

[[listen]]
protocol = "smtp"
address  = "127.0.0.1:{port}"

[limits]
connections        = 20000
connections_per_ip = 20000
message_size       = 10485760
recipients         = 100

[delivery]
{delivery}
"""


class PoshtaRelay(bl.PoshtaInstance):
    """`poshta serve` relaying to the sink: through smarthost = "127.0.0.1:SINK" (resolver on
    the discard port 127.0.0.1:9, so no DNS at all), or (mx_port given) by MX lookup through
    the private dnsmasq with remote_port = SINK."""

    def __init__(self, binary, base, port, sink_port, mx_port=None):
        super().__init__(binary, base, port, users=[])
        self.sink_port = sink_port
        self.mx_port = mx_port
        self.name = "Poshta MX" if mx_port else "Poshta"

    def setup(self):
        if not os.access(self.binary, os.X_OK):
            raise RuntimeError("%s is not there (or not executable): build Poshta first "
                               "(scripts/setup.sh), or pass --poshta PATH" % self.binary)
        os.makedirs(self.data_dir, exist_ok=True)
        if self.mx_port:
            delivery = ('resolver    = "127.0.0.1:%d"   # the private dnsmasq: sink.test MX -> 127.0.0.1\n'
                        'remote_port = %d' % (self.mx_port, self.sink_port))
        else:
            delivery = ('resolver  = "127.0.0.1:9"   # discard port: no DNS leaves the machine\n'
                        'smarthost = "127.0.0.1:%d"' % self.sink_port)
        with open(self.cfg, "w") as f:
            f.write(POSHTA_RELAY_CFG.format(data_dir=self.data_dir, port=self.port, delivery=delivery))
        r = subprocess.run([self.binary, "check", "-c", self.cfg], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("poshta check -c %s failed (%d): %s" % (
                self.cfg, r.returncode, (r.stderr + r.stdout).strip()))

    def queue_state(self):
        """Asks the running server: `poshta -c CFG queue list`."""
        try:
            r = subprocess.run([self.binary, "-c", self.cfg, "queue", "list"], capture_output=True,
                               text=True, timeout=30)
        except subprocess.TimeoutExpired:
            return False, "poshta queue list: no answer in 30 s"
        out = (r.stdout + r.stderr).strip()
        return r.returncode == 0 and out == "queue is empty", out

    def queue_empty(self):
        return self.queue_state()[0]

    PROBLEMS = re.compile(bl.PoshtaInstance.PROBLEMS.pattern + r"| result=(deferred|failed)")


# ---------------------------------------------------------------- one run

def server_alive(server):
    return server.alive() if isinstance(server, bl.PoshtaInstance) else True


def wait_drained(server, timeout, poll=0.2):
    """Wait until the server's queue is empty; returns (empty?, queue listing if not)."""
    t0 = time.monotonic()
    while True:
        empty, text = server.queue_state()
        if empty:
            return True, ""
        if not server_alive(server) or time.monotonic() - t0 > timeout:
            return False, text
        time.sleep(poll)


def one_run(a, server, sink, smtp_source, sessions, count, workdir):
    res = {"server": server.name, "sessions": sessions, "count": count, "cpu": {}}
    if not server_alive(server):
        res["error"] = "poshta serve is not running (it exited earlier)"
        return res
    if not sink.alive():
        res["error"] = "smtp-sink is not running: %s" % sink.errors()
        return res
    empty, text = wait_drained(server, a.drain_timeout)
    if not empty:
        bl.log("  warning: %s queue not empty before the run; going on:\n    %s" % (
            server.name, "\n    ".join(text.splitlines()[:10])))
    os.sync()
    time.sleep(a.settle)
    log_offset = bl.file_size(server.logfile)
    base = sink.count()
    cmd = [smtp_source, "-4", "-s", str(sessions), "-m", str(count), "-l", str(a.size),
           "-f", SENDER, "-t", RECIPIENT, "-M", "client.test"]
    if a.reuse:
        cmd.append("-d")
    cmd.append("127.0.0.1:%d" % server.port)
    errpath = os.path.join(workdir, "smtp-source.err")
    res["cmd"] = " ".join(cmd)
    n = 0
    with open(errpath, "w+") as err:
        c0 = cpu_times()
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        t_acc = t_rel = None
        try:
            while True:
                if t_acc is None and p.poll() is not None:
                    t_acc = time.monotonic() - t0
                    if p.returncode != 0:
                        err.seek(0)
                        msg = err.read().strip().splitlines()
                        res["error"] = "smtp-source exit %d: %s" % (p.returncode, " | ".join(msg[-3:]))
                        break
                n = sink.count() - base
                if n >= count:
                    t_rel = time.monotonic() - t0
                    if t_acc is None:
                        p.wait()
                        t_acc = time.monotonic() - t0
                        if p.returncode != 0:
                            res["error"] = "smtp-source exit %d" % p.returncode
                    break
                if time.monotonic() - t0 > a.timeout:
                    res["error"] = "timeout after %.0f s: the sink got %d of %d messages" % (a.timeout, n, count)
                    break
                if not server_alive(server):
                    res["error"] = "poshta serve died (status %s)" % server.proc.returncode
                    break
                if not sink.alive():
                    res["error"] = "smtp-sink died: %s" % sink.errors()
                    break
                time.sleep(a.poll)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        c1 = cpu_times()
    res["cpu"] = cpu_split(c0, c1)
    if t_acc is not None and "error" not in res:
        res["t_accept"] = t_acc
        res["accept_per_s"] = count / t_acc
    if t_rel is not None:
        res["t_relay"] = t_rel
        res["relay_per_s"] = count / t_rel
    # afterwards: everything must have left the queue, and the sink must have got exactly COUNT
    empty, text = wait_drained(server, a.drain_timeout)
    if not empty and "error" not in res:
        res["error"] = "queue not empty %.0f s after the run" % a.drain_timeout
    if not empty:
        res["queue"] = text.splitlines()[:40]
    time.sleep(0.2)
    n = sink.count() - base
    res["sink_got"] = n
    if n > count:
        res["extra_messages"] = n - count
    problems = server.problems(bl.read_from(server.logfile, log_offset))
    if problems:
        res["log_problems"] = len(problems)
        res["log_sample"] = problems[:10]
    return res


# ---------------------------------------------------------------- main

def med(runs, key):
    v = [r[key] for r in runs if key in r]
    return statistics.median(v) if v else None


def fmt(v):
    return "%8.0f" % v if v is not None else "     err"


def ratio(p, q):
    return "%6.2f" % (p / q) if p and q else "     -"


def report_run(server, rep, r):
    c = r["cpu"]
    if "error" in r:
        bl.log("  %-9s run %d: ERROR %s" % (server.name, rep, r["error"]))
    else:
        bl.log("  %-9s run %d: accepted %6.0f/s  relayed %6.0f msg/s  "
               "cpu usr %2.0f%% sys %2.0f%% iowait %2.0f%% idle %2.0f%%%s" % (
                   server.name, rep, r["accept_per_s"], r.get("relay_per_s", 0), c["user"], c["sys"],
                   c["iowait"], c["idle"],
                   ("  (sink got %d messages more than sent!)" % r["extra_messages"])
                   if "extra_messages" in r else ""))
    if "queue" in r:
        bl.log("    still queued (first lines):\n      " + "\n      ".join(r["queue"][:15]))
    if "log_sample" in r:
        bl.log("    %d warning/error lines in %s, first ones:\n      %s" % (
            r["log_problems"], server.logfile, "\n      ".join(r["log_sample"])))
    if "error" in r and "log_sample" not in r and "exited earlier" not in r["error"]:
        tail = server.log_tail(8).rstrip()
        if tail:
            bl.log("    last log lines:\n      " + tail.replace("\n", "\n      "))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--poshta", default=bl.DEFAULT_POSHTA, help="the poshta binary (default: build/poshta)")
    ap.add_argument("--count", type=int, default=2000, help="messages per run (default 2000)")
    ap.add_argument("--reps", type=int, default=3, help="runs per case and server (median printed)")
    ap.add_argument("--size", type=int, default=10240, help="payload bytes per message (smtp-source -l)")
    ap.add_argument("--cases", default="all", help="comma-separated case numbers 1-2 (1, 10 sessions); default all")
    ap.add_argument("--servers", default="postfix,poshta,poshta-mx",
                    help="any of postfix,poshta,poshta-mx (default all; poshta-mx needs dnsmasq)")
    ap.add_argument("--no-mx", action="store_true", help="skip the Poshta MX-lookup case")
    ap.add_argument("--reuse", action="store_true", help="smtp-source -d: several messages per connection")
    ap.add_argument("--no-warmup", action="store_true", help="skip the unmeasured warm-up run per server")
    ap.add_argument("--sink-backlog", type=int, default=1000, help="smtp-sink's listen backlog (default 1000)")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds of quiet before each run")
    ap.add_argument("--poll", type=float, default=0.05, help="seconds between readings of the sink's counter")
    ap.add_argument("--timeout", type=float, default=600, help="give up on a run after this many seconds")
    ap.add_argument("--drain-timeout", type=float, default=60,
                    help="wait at most this for a queue to empty after a run (default 60)")
    ap.add_argument("--workdir", default=None, help="parent of the scratch directory (default /var/tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, queues)")
    ap.add_argument("--json", default=None, help="append the results as one JSON line to this file")
    a = ap.parse_args()

    bl.require_root()
    bl.install_signal_handlers()
    smtp_source = bl.find_smtp_source()
    wanted = [s.strip().lower() for s in a.servers.split(",") if s.strip()]
    if a.no_mx and "poshta-mx" in wanted:
        wanted.remove("poshta-mx")
    if "poshta-mx" in wanted and not find_program("dnsmasq"):
        bl.log("dnsmasq not found: skipping the Poshta MX case (apt-get install dnsmasq-base)")
        wanted.remove("poshta-mx")
    cases = CASES if a.cases == "all" else [CASES[int(i) - 1] for i in a.cases.split(",")]
    bl.raise_nofile(4096)

    if any(w.startswith("poshta") for w in wanted) and not os.access(a.poshta, os.X_OK):
        bl.die("%s is not there (or not executable): build Poshta first (scripts/setup.sh), "
               "or pass --poshta PATH" % a.poshta)
    work = bl.make_workdir(a.workdir)
    servers = []
    sink = dns = None
    ok = False
    sent_total = 0
    try:
        bl.log("scratch directory %s" % work)
        sink = Sink(os.path.join(work, "sink"), bl.free_port(), a.sink_backlog)
        sink.start()
        bl.log("smtp-sink on 127.0.0.1:%d (pid %d): %s" % (sink.port, sink.proc.pid, sink.cmd))
        if "postfix" in wanted:
            pf = PostfixRelay(os.path.join(work, "postfix"), bl.free_port(), sink.port)
            servers.append(pf)
            pf.setup()
            pf.start()
            bl.log("Postfix on 127.0.0.1:%d (master pid %s), relayhost [127.0.0.1]:%d" % (
                pf.port, pf.pid(), sink.port))
        if "poshta" in wanted:
            po = PoshtaRelay(a.poshta, os.path.join(work, "poshta"), bl.free_port(), sink.port)
            os.makedirs(po.base, exist_ok=True)
            servers.append(po)
            po.setup()
            po.start()
            bl.log("Poshta on 127.0.0.1:%d (pid %s), smarthost 127.0.0.1:%d" % (po.port, po.pid(), sink.port))
        if "poshta-mx" in wanted:
            dns = Dnsmasq(os.path.join(work, "dnsmasq"), free_port_tcp_udp())
            dns.start()
            bl.log("dnsmasq on 127.0.0.1:%d (pid %d): %s MX 10 %s, %s A 127.0.0.1" % (
                dns.port, dns.proc.pid, SINK_DOMAIN, MX_HOST, MX_HOST))
            pm = PoshtaRelay(a.poshta, os.path.join(work, "poshta-mx"), bl.free_port(), sink.port, mx_port=dns.port)
            os.makedirs(pm.base, exist_ok=True)
            servers.append(pm)
            pm.setup()
            pm.start()
            bl.log("Poshta MX on 127.0.0.1:%d (pid %s), resolver 127.0.0.1:%d, remote_port %d" % (
                pm.port, pm.pid(), dns.port, sink.port))
        if not servers:
            bl.die("--servers names none of postfix, poshta, poshta-mx")

        if not a.no_warmup:
            for s in servers:
                r = one_run(a, s, sink, smtp_source, 10, min(200, a.count), work)
                sent_total += min(200, a.count)
                bl.log("  warm-up %s: %s" % (s.name, r.get("error", "ok")))
                if "error" in r or "log_sample" in r or "extra_messages" in r:
                    report_run(s, 0, r)

        results = {}
        for label, sessions in cases:
            bl.log("case %s (smtp-source -s %d -m %d -l %d%s, to %s)" % (
                label, sessions, a.count, a.size, " -d" if a.reuse else "", RECIPIENT))
            for rep in range(a.reps):
                for s in servers:
                    r = one_run(a, s, sink, smtp_source, sessions, a.count, work)
                    sent_total += a.count
                    results.setdefault((label, s.name), []).append(r)
                    report_run(s, rep + 1, r)

        got = sink.count()
        bl.log("smtp-sink received %d messages in all; %d were sent" % (got, sent_total))
        if dns is not None:
            fw = dns.forwarded()
            bl.log("dnsmasq: %d queries forwarded upstream%s" % (len(fw), (": " + fw[0]) if fw else ""))

        # ---- the table: Poshta (smarthost) against Postfix (relayhost); Poshta MX rows against the
        # same Postfix runs
        names = [s.name for s in servers]
        print()
        print("Relay: smtp-source -> server -> smtp-sink, %d B payload, %d messages per run, %s, median of %d runs"
              % (a.size, a.count, "one message per connection" if not a.reuse else "connections reused",
                 a.reps))
        rows = []
        pf_name = "Postfix" if "Postfix" in names else None
        for other in [n for n in names if n != "Postfix"] or [None]:
            for label, sessions in cases:
                row_label = label if other != "Poshta MX" else label + ", by MX"
                cols = [c for c in (pf_name, other) if c]
                rows.append((row_label, label, sessions, cols))
        shown = rows[0][3] if rows else []
        both = pf_name is not None and len(shown) == 2
        hdr = "%-22s | %s" % ("case", "  ".join("%8s" % ("acc " + n[:4]) for n in shown))
        hdr += ("  %6s" % "ratio") if both else ""
        hdr += " | " + "  ".join("%8s" % ("rel " + n[:4]) for n in shown)
        hdr += ("  %6s" % "ratio") if both else ""
        print(hdr)
        print("-" * len(hdr))
        summary = []
        for row_label, label, sessions, cols in rows:
            acc = [med(results[(label, n)], "accept_per_s") for n in cols]
            rel = [med(results[(label, n)], "relay_per_s") for n in cols]
            line = "%-22s | %s" % (row_label, "  ".join(fmt(v) for v in acc))
            line += ("  %s" % ratio(acc[1], acc[0])) if len(cols) == 2 and pf_name else ""
            line += " | " + "  ".join(fmt(v) for v in rel)
            line += ("  %s" % ratio(rel[1], rel[0])) if len(cols) == 2 and pf_name else ""
            print(line)
            summary.append({"case": row_label, "sessions": sessions,
                            "accept_per_s": dict(zip(cols, acc)), "relay_per_s": dict(zip(cols, rel)),
                            "errors": {n: [r["error"] for r in results[(label, n)] if "error" in r] for n in cols}})
        print("(msg/s; acc = accepted, rel = relayed, i.e. received by smtp-sink; ratio = Poshta/Postfix, "
              "> 1 is Poshta faster; Postfix uses relayhost [127.0.0.1]:SINK, Poshta smarthost 127.0.0.1:SINK, "
              "\"by MX\" rows: Poshta looks up the MX in a local dnsmasq, against the same Postfix runs; "
              "err = a run failed, see above)")
        sys.stdout.flush()
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps({"bench": "relay", "time": time.time(), "count": a.count, "size": a.size,
                                    "reps": a.reps, "reuse": a.reuse, "cases": summary,
                                    "sink": {"received": got, "sent": sent_total},
                                    "runs": {"%s/%s" % k: v for k, v in results.items()}}) + "\n")
        ok = (not any(s["errors"][n] for s in summary for n in s["errors"])
              and not any("extra_messages" in r or "queue" in r for rs in results.values() for r in rs))
        if got != sent_total:
            bl.log("warning: the sink received %d messages, %d were sent" % (got, sent_total))
            ok = False
    except RuntimeError as e:
        bl.log("error: %s" % e)
        ok = False
    finally:
        for s in reversed(servers):
            try:
                s.stop()
            except Exception as e:  # keep stopping the others
                bl.log("warning: stopping %s: %s" % (s.name, e))
        for x in (dns, sink):
            if x is not None:
                try:
                    x.stop()
                except Exception as e:
                    bl.log("warning: stopping %s: %s" % (type(x).__name__, e))
        if a.keep:
            bl.log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
