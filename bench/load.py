#!/usr/bin/env python3
"""load.py - Poshta under load: thousands of SMTP senders, thousands of idle IMAP connections
and slow clients at once, against one server (`poshta serve`, benchlib's configuration plus an
IMAP listener) on loopback.

Phases, one after the other, in one run:

  1. baseline: --fast SMTP clients send small messages (about 1 KiB, one recipient each) as fast
     as they can for --seconds, alone; every transaction's time (MAIL to the 250 after DATA) is
     recorded.
  2. --idle IMAP connections open (LOGIN + SELECT INBOX of a small mailbox, --batch at a time)
     and stay silent, and --slow slow SMTP clients connect and send their commands one byte every
     --slow-interval seconds (a slowloris).
  3. mixed: the fast clients again, for --seconds, with the idle and slow connections present.
     Their times against the baseline show whether the slow and idle clients slow others down.
  4. full load: --senders more SMTP clients join the fast ones for --seconds (each connection
     sending one message after another).
  5. every idle IMAP connection must still answer NOOP; then all are closed, and the script waits
     until the queue has delivered everything: each message that got 250 must be in its
     recipient's Maildir exactly once (found by its Message-ID).

The server's memory (VmRSS and Pss of its process, as in idle_memory.py) is sampled every second
and reported per phase: at start, with the idle connections open, and the peak under full load,
with an estimate per connection.

Run as root:  bench/load.py [--senders 2000] [--idle 5000] [--slow 200] [--fast 20] [--seconds 20]
Only 127.0.0.1 is used; Poshta's resolver is 127.0.0.1:9 (nothing leaves the machine). The
script raises RLIMIT_NOFILE for itself and for Poshta.
"""
import argparse
import asyncio
import os
import random
import re
import statistics
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

IMAP_USER = "idle"
RCPT_USERS = bl.USERS  # to@, 1to@ .. 10to@
BODY = ("x" * 70 + "\r\n") * 12


class Stats:
    def __init__(self):
        self.accepted = {}   # Message-ID -> recipient
        self.latencies = []  # seconds, of the transactions of the measured clients
        self.refused = {}    # reply code -> count
        self.errors = 0      # connections that failed (reset, timeout)


# ---------------------------------------------------------------- SMTP clients

async def reply(reader):
    """One SMTP reply: its code (int); raises ConnectionError when the server closed."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if len(line) >= 4 and line[3:4] != b"-":
            return int(line[:3])


async def sender(port, stop_at, stats, counter, measured):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        stats.errors += 1
        return
    try:
        if await reply(reader) != 220:
            stats.errors += 1
            return
        writer.write(b"EHLO load.example\r\n")
        await reply(reader)
        while time.monotonic() < stop_at:
            n = next(counter)
            msgid = "load-%d-%d@bench.test" % (os.getpid(), n)
            rcpt = "%s@%s" % (random.choice(RCPT_USERS), bl.DOMAIN)
            t0 = time.monotonic()
            writer.write(b"MAIL FROM:<load@example.org>\r\nRCPT TO:<%s>\r\nDATA\r\n" % rcpt.encode())
            codes = [await reply(reader) for _ in range(3)]
            if codes != [250, 250, 354]:
                stats.refused[codes[-1]] = stats.refused.get(codes[-1], 0) + 1
                writer.write(b"RSET\r\n")
                await reply(reader)
                continue
            writer.write(("From: <load@example.org>\r\nTo: <%s>\r\nSubject: load %d\r\n"
                          "Message-ID: <%s>\r\n\r\n%s.\r\n" % (rcpt, n, msgid, BODY)).encode())
            code = await reply(reader)
            if code == 250:
                stats.accepted[msgid] = rcpt
                if measured:
                    stats.latencies.append(time.monotonic() - t0)
            else:
                stats.refused[code] = stats.refused.get(code, 0) + 1
        writer.write(b"QUIT\r\n")
        await reply(reader)
    except (ConnectionError, OSError, asyncio.IncompleteReadError):
        stats.errors += 1
    finally:
        writer.close()


async def slow_client(port, interval, stop, outcome):
    """Sends its commands one byte every `interval` seconds until `stop`."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        await reply(reader)
    except (ConnectionError, OSError):
        outcome["failed"] += 1
        return
    script = b"EHLO slow.example\r\nMAIL FROM:<slow@example.org>\r\n" * 100
    try:
        for b in script:
            writer.write(bytes([b]))
            await writer.drain()
            try:
                await asyncio.wait_for(stop.wait(), interval)
                break
            except asyncio.TimeoutError:
                pass
            if reader.at_eof():
                outcome["closed_by_server"] += 1
                return
        outcome["lasted"] += 1
    except (ConnectionError, OSError):
        outcome["closed_by_server"] += 1
    finally:
        writer.close()


# ---------------------------------------------------------------- idle IMAP

async def imap_line(reader, tag):
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        if line.startswith(tag + b" "):
            return line


async def idle_imap(port, connections):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if not (await reader.readline()).startswith(b"* OK"):
        raise ConnectionError("no greeting")
    writer.write(b"a LOGIN %s@%s %s\r\n" % (IMAP_USER.encode(), bl.DOMAIN.encode(), bl.PASSWORD.encode()))
    if not (await imap_line(reader, b"a")).startswith(b"a OK"):
        raise ConnectionError("LOGIN refused")
    writer.write(b"b SELECT INBOX\r\n")
    if not (await imap_line(reader, b"b")).startswith(b"b OK"):
        raise ConnectionError("SELECT refused")
    connections.append((reader, writer))


async def still_answers(reader, writer):
    try:
        writer.write(b"n NOOP\r\n")
        return (await asyncio.wait_for(imap_line(reader, b"n"), 30)).startswith(b"n OK")
    except (ConnectionError, OSError, asyncio.TimeoutError):
        return False


# ---------------------------------------------------------------- measuring

class MemorySampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.samples = []  # (phase, rss KiB, pss KiB)
        self.phase = "start"
        self.running = True

    def run(self):
        while self.running:
            m = bl.tree_memory(self.pid)
            self.samples.append((self.phase, m["rss_kib"], m["pss_kib"]))
            time.sleep(1)

    def peak(self, phase):
        got = [s for s in self.samples if s[0] == phase]
        return (max(s[1] for s in got), max(s[2] for s in got)) if got else (0, 0)


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def delivered_ids(mailroot):
    """Message-ID -> number of files holding it, over every Maildir under mailroot."""
    found = {}
    pattern = re.compile(rb"^Message-ID: <([^>]+)>", re.M | re.I)
    for user in os.listdir(mailroot):
        for sub in ("new", "cur"):
            d = os.path.join(mailroot, user, sub)
            if not os.path.isdir(d):
                continue
            for name in os.listdir(d):
                try:
                    with open(os.path.join(d, name), "rb") as f:
                        head = f.read(4096)
                except OSError:
                    continue
                m = pattern.search(head)
                if m:
                    key = m.group(1).decode()
                    found[key] = found.get(key, 0) + 1
    return found


async def run_senders(port, n, seconds, stats, counter, measured):
    stop_at = time.monotonic() + seconds
    await asyncio.gather(*(sender(port, stop_at, stats, counter, measured) for _ in range(n)))


async def main_async(a, server, sampler):
    import itertools
    counter = itertools.count(1)
    report = {}

    # 1. baseline
    sampler.phase = "baseline"
    base = Stats()
    await run_senders(server.port, a.fast, a.seconds, base, counter, True)
    report["baseline"] = base

    # 2. idle IMAP and slow clients
    sampler.phase = "opening"
    idle = []
    t0 = time.monotonic()
    failed_idle = 0
    for i in range(0, a.idle, a.batch):
        results = await asyncio.gather(*(idle_imap(server.imap_port, idle)
                                         for _ in range(min(a.batch, a.idle - i))), return_exceptions=True)
        failed_idle += sum(1 for r in results if isinstance(r, Exception))
    report["idle_open_s"] = time.monotonic() - t0
    report["idle_failed"] = failed_idle
    stop_slow = asyncio.Event()
    slow_outcome = {"failed": 0, "closed_by_server": 0, "lasted": 0}
    slow_tasks = [asyncio.create_task(slow_client(server.port, a.slow_interval, stop_slow, slow_outcome))
                  for _ in range(a.slow)]
    await asyncio.sleep(3)
    sampler.phase = "idle"
    await asyncio.sleep(3)

    # 3. mixed: the fast clients with idle and slow connections present
    sampler.phase = "mixed"
    mixed = Stats()
    await run_senders(server.port, a.fast, a.seconds, mixed, counter, True)
    report["mixed"] = mixed

    # 4. full load
    sampler.phase = "full"
    full = Stats()
    fast = Stats()
    t0 = time.monotonic()
    await asyncio.gather(run_senders(server.port, a.senders, a.seconds, full, counter, False),
                         run_senders(server.port, a.fast, a.seconds, fast, counter, True))
    report["full_s"] = time.monotonic() - t0
    report["full"] = full
    report["full_fast"] = fast

    # 5. the idle connections must still be served
    sampler.phase = "after"
    answers = await asyncio.gather(*(still_answers(r, w) for r, w in idle))
    report["idle_alive"] = sum(1 for x in answers if x)
    for _r, w in idle:
        w.close()
    stop_slow.set()
    await asyncio.gather(*slow_tasks)
    report["slow"] = slow_outcome
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--poshta", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                                     "build", "poshta"))
    ap.add_argument("--senders", type=int, default=2000, help="SMTP connections sending at full load")
    ap.add_argument("--idle", type=int, default=5000, help="idle logged-in IMAP connections")
    ap.add_argument("--slow", type=int, default=200, help="slow SMTP clients (one byte every --slow-interval s)")
    ap.add_argument("--slow-interval", type=float, default=3.0)
    ap.add_argument("--fast", type=int, default=20, help="measured SMTP clients")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each sending phase")
    ap.add_argument("--batch", type=int, default=100, help="IMAP connections opened at once")
    ap.add_argument("--drain", type=float, default=300.0, help="seconds to wait for delivery")
    a = ap.parse_args()
    bl.require_root()
    bl.install_signal_handlers()
    conns = a.senders + a.idle + a.slow + a.fast
    bl.raise_nofile(conns + 1000)

    base = bl.make_workdir()
    server = bl.PoshtaInstance(a.poshta, base, bl.free_port(), users=RCPT_USERS + [IMAP_USER],
                               nofile=conns + 1000, imap_port=bl.free_port())
    try:
        server.setup()
        bl.Maildrop(20, 7, "%s@%s" % (IMAP_USER, bl.DOMAIN)).write(
            os.path.join(server.mailroot, IMAP_USER), "poshta", server.mail_owner())
        server.start()
        bl.log("Poshta on 127.0.0.1:%d, IMAP on %d (pid %s); %d senders, %d idle IMAP, %d slow, %d fast, %gs phases"
               % (server.port, server.imap_port, server.pid(), a.senders, a.idle, a.slow, a.fast, a.seconds))
        sampler = MemorySampler(server.pid())
        sampler.start()
        time.sleep(1.5)
        t0 = time.monotonic()
        report = asyncio.run(main_async(a, server, sampler))
        total = time.monotonic() - t0

        accepted = {}
        for key in ("baseline", "mixed", "full", "full_fast"):
            accepted.update(report[key].accepted)
        bl.log("waiting for %d accepted messages to be delivered" % len(accepted))
        deadline = time.monotonic() + a.drain
        while True:
            found = delivered_ids(server.mailroot)
            missing = [m for m in accepted if m not in found]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(2)
        sampler.phase = "drained"
        time.sleep(1.5)
        sampler.running = False
        duplicates = {m: n for m, n in found.items() if m in accepted and n > 1}
        strays = [m for m in found if m.startswith("load-") and m not in accepted]

        # ------------------------------------------------------------ report
        print("\nLoad: %d SMTP senders + %d measured, %d idle IMAP (LOGIN + SELECT), %d slow SMTP clients "
              "(a byte every %gs), %gs per phase, one Poshta on 2 loopback listeners" %
              (a.senders, a.fast, a.idle, a.slow, a.slow_interval, a.seconds))
        print("%-44s %10s %10s %10s %10s" % ("phase", "messages", "msg/s", "p50 ms", "p99 ms"))
        for key, name, secs in (("baseline", "baseline: measured clients alone", a.seconds),
                                ("mixed", "mixed: + idle IMAP and slow clients", a.seconds),
                                ("full_fast", "full load: measured clients", report["full_s"]),
                                ("full", "full load: the %d senders" % a.senders, report["full_s"])):
            st = report[key]
            lat = st.latencies
            print("%-44s %10d %10.0f %10s %10s" % (
                name, len(st.accepted), len(st.accepted) / secs,
                "%.1f" % (percentile(lat, 50) * 1000) if lat else "-",
                "%.1f" % (percentile(lat, 99) * 1000) if lat else "-"))
        b, m = report["baseline"].latencies, report["mixed"].latencies
        if b and m:
            print("measured clients, mixed / baseline: p50 %.2f, p99 %.2f (about 1: idle and slow clients "
                  "cost the others nothing)" % (statistics.median(m) / statistics.median(b),
                                                percentile(m, 99) / percentile(b, 99)))
        refused = {}
        errors = 0
        for key in ("baseline", "mixed", "full", "full_fast"):
            errors += report[key].errors
            for c, n in report[key].refused.items():
                refused[c] = refused.get(c, 0) + n
        print("refused transactions by code: %s; failed connections: %d" % (refused or "none", errors))
        print("idle IMAP: %d of %d opened in %.1f s (%d failed), %d still answered NOOP after the load" % (
            a.idle - report["idle_failed"], a.idle, report["idle_open_s"], report["idle_failed"],
            report["idle_alive"]))
        print("slow clients: %s" % report["slow"])
        print("\nmemory of the server (MiB):")
        print("%-10s %10s %10s" % ("phase", "RSS peak", "PSS peak"))
        for phase in ("start", "baseline", "opening", "idle", "mixed", "full", "after", "drained"):
            rss, pss = sampler.peak(phase)
            print("%-10s %10.1f %10.1f" % (phase, rss / 1024.0, pss / 1024.0))
        start_pss = sampler.peak("start")[1]
        idle_pss = sampler.peak("idle")[1]
        if a.idle + a.slow:
            print("per idle IMAP or slow connection: %.1f KiB PSS" % ((idle_pss - start_pss) / (a.idle + a.slow)))
        print("\ndelivery: %d accepted (250), %d delivered, %d missing, %d delivered more than once, "
              "%d delivered without a 250 (run %.0f s)" % (
                  len(accepted), len(accepted) - len(missing), len(missing), len(duplicates), len(strays), total))
        problems = []
        if missing:
            problems.append("%d accepted messages were not delivered, e.g. %s" % (len(missing), missing[:3]))
        if duplicates:
            problems.append("%d messages delivered more than once" % len(duplicates))
        if report["idle_alive"] != a.idle - report["idle_failed"]:
            problems.append("idle IMAP connections dropped")
        if not server.alive():
            problems.append("the server died")
        if problems:
            print("PROBLEMS:\n  " + "\n  ".join(problems))
            return 1
        print("checks: every 250 delivered exactly once; every idle IMAP connection still served")
        return 0
    finally:
        server.stop()
        import shutil
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
