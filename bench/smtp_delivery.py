#!/usr/bin/env python3
"""smtp_delivery.py - SMTP accept and delivery rate, Poshta side by side with Postfix.

In one run: starts a private Postfix (virtual(8) Maildir delivery for @bench.test) and a
private Poshta (`poshta serve`, domain bench.test), both on loopback ports in a scratch
directory under /var/tmp, then drives each with Postfix's smtp-source, 10 KiB messages:

  case            smtp-source
  1 session       -s 1  -m COUNT
  10 sessions     -s 10 -m COUNT
  50 sessions     -s 50 -m COUNT
  10 sess x 5 rcpt -s 10 -m COUNT -r 5   (recipients to@, 2to@ .. 5to@)

smtp-source opens a new connection for every message (use --reuse for -d). Per run:
  accepted/s  = COUNT / time until smtp-source exits (every DATA got its 250)
  delivered/s = COUNT / time until every expected file is in a Maildir new/ directory
                (COUNT x recipients files, counted by listing new/; the time starts
                with smtp-source, so delivered/s <= accepted/s)
Each case runs --reps times (Postfix and Poshta alternating), mailboxes are emptied and
queues drained between runs, and the medians are printed as a table with the ratio
Poshta/Postfix (> 1 means Poshta is faster).

Run as root:  bench/smtp_delivery.py [--count 2000] [--reps 3] [--poshta build/poshta]
Needs: Postfix (smtp-source), from `scripts/setup.sh`. Only 127.0.0.1 is used;
Postfix has no DNS and no outbound transport, Poshta's resolver is 127.0.0.1:9.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

CASES = [
    ("1 session", 1, 1),
    ("10 sessions", 10, 1),
    ("50 sessions", 50, 1),
    ("10 sess x 5 rcpt", 10, 5),
]


def cpu_times():
    with open("/proc/stat") as f:
        return [int(x) for x in f.readline().split()[1:9]]


def cpu_split(a, b):
    d = [y - x for x, y in zip(a, b)]
    tot = sum(d) or 1
    return {"user": 100.0 * (d[0] + d[1]) / tot, "sys": 100.0 * (d[2] + d[5] + d[6]) / tot,
            "iowait": 100.0 * d[4] / tot, "idle": 100.0 * d[3] / tot}


def wait_quiet(server, timeout):
    """Wait until the server's queue is empty (mail from the previous run all delivered)."""
    t0 = time.monotonic()
    while not server.queue_empty():
        if isinstance(server, bl.PoshtaInstance) and not server.alive():
            return False
        if time.monotonic() - t0 > timeout:
            bl.log("  warning: %s queue not empty after %.0f s; going on" % (server.name, timeout))
            return False
        time.sleep(0.2)
    return True


def one_run(a, server, smtp_source, sessions, rcpts, count, workdir):
    res = {"server": server.name, "sessions": sessions, "rcpts": rcpts, "count": count, "cpu": {}}
    if isinstance(server, bl.PoshtaInstance) and not server.alive():
        res["error"] = "poshta serve is not running (it exited earlier)"
        return res
    wait_quiet(server, a.drain_timeout)
    bl.clean_mailboxes(server.mailroot)
    os.sync()
    time.sleep(a.settle)
    cmd = [smtp_source, "-4", "-s", str(sessions), "-m", str(count), "-l", str(a.size),
           "-f", "src@client.test", "-t", "to@" + bl.DOMAIN, "-M", "client.test"]
    if rcpts > 1:
        cmd += ["-r", str(rcpts)]
    if a.reuse:
        cmd.append("-d")
    cmd.append("127.0.0.1:%d" % server.port)
    expected = count * rcpts
    errpath = os.path.join(workdir, "smtp-source.err")
    res["cmd"] = " ".join(cmd)
    with open(errpath, "w+") as err:
        c0 = cpu_times()
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        t_acc = t_del = None
        n = 0
        try:
            while True:
                if t_acc is None and p.poll() is not None:
                    t_acc = time.monotonic() - t0
                    if p.returncode != 0:
                        err.seek(0)
                        msg = err.read().strip().splitlines()
                        res["error"] = "smtp-source exit %d: %s" % (p.returncode, " | ".join(msg[-3:]))
                        break
                n = bl.count_new(server.mailroot)
                if n >= expected:
                    t_del = time.monotonic() - t0
                    if t_acc is None:
                        p.wait()
                        t_acc = time.monotonic() - t0
                        if p.returncode != 0:
                            res["error"] = "smtp-source exit %d" % p.returncode
                    break
                if time.monotonic() - t0 > a.timeout:
                    res["error"] = "timeout after %.0f s: %d of %d files delivered" % (a.timeout, n, expected)
                    break
                if isinstance(server, bl.PoshtaInstance) and not server.alive():
                    res["error"] = "poshta serve died (status %s)" % server.proc.returncode
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
    if t_del is not None:
        res["t_deliver"] = t_del
        res["deliver_per_s"] = count / t_del
        res["deliver_files_per_s"] = expected / t_del
    if n > expected:
        res["extra_files"] = n - expected
    return res


def med(runs, key):
    v = [r[key] for r in runs if key in r]
    return statistics.median(v) if v else None


def fmt(v):
    return "%8.0f" % v if v is not None else "     err"


def ratio(p, q):
    return "%6.2f" % (p / q) if p and q else "     -"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--poshta", default=bl.DEFAULT_POSHTA, help="the poshta binary (default: build/poshta)")
    ap.add_argument("--count", type=int, default=2000, help="messages per run (default 2000)")
    ap.add_argument("--reps", type=int, default=3, help="runs per case and server (median printed)")
    ap.add_argument("--size", type=int, default=10240, help="payload bytes per message (smtp-source -l)")
    ap.add_argument("--cases", default="all",
                    help="comma-separated case numbers 1-4 (1, 10, 50 sessions, 10 x 5 rcpt); default all")
    ap.add_argument("--servers", default="postfix,poshta", help="postfix,poshta (default both)")
    ap.add_argument("--reuse", action="store_true", help="smtp-source -d: several messages per connection")
    ap.add_argument("--no-warmup", action="store_true", help="skip the unmeasured warm-up run per server")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds of quiet before each run")
    ap.add_argument("--poll", type=float, default=0.05, help="seconds between Maildir counts")
    ap.add_argument("--timeout", type=float, default=600, help="give up on a run after this many seconds")
    ap.add_argument("--drain-timeout", type=float, default=120, help="wait at most this for a queue to empty")
    ap.add_argument("--workdir", default=None, help="parent of the scratch directory (default /var/tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, mail)")
    ap.add_argument("--json", default=None, help="append the results as one JSON line to this file")
    a = ap.parse_args()

    bl.require_root()
    bl.install_signal_handlers()
    smtp_source = bl.find_smtp_source()
    servers_wanted = [s.strip().lower() for s in a.servers.split(",") if s.strip()]
    cases = CASES if a.cases == "all" else [CASES[int(i) - 1] for i in a.cases.split(",")]
    bl.raise_nofile(4096)

    if "poshta" in servers_wanted and not os.access(a.poshta, os.X_OK):
        bl.die("%s is not there (or not executable): build Poshta first (scripts/setup.sh), "
               "or pass --poshta PATH" % a.poshta)
    work = bl.make_workdir(a.workdir)
    servers = []
    ok = False
    try:
        bl.log("scratch directory %s" % work)
        if "postfix" in servers_wanted:
            pf = bl.PostfixInstance(os.path.join(work, "postfix"), bl.free_port())
            servers.append(pf)
            pf.setup()
            pf.start()
            bl.log("Postfix on 127.0.0.1:%d (master pid %s)" % (pf.port, pf.pid()))
        if "poshta" in servers_wanted:
            po = bl.PoshtaInstance(a.poshta, os.path.join(work, "poshta"), bl.free_port())
            os.makedirs(po.base, exist_ok=True)
            servers.append(po)
            po.setup()
            po.start()
            bl.log("Poshta on 127.0.0.1:%d (pid %s)" % (po.port, po.pid()))
        if not servers:
            bl.die("--servers names neither postfix nor poshta")

        if not a.no_warmup:
            for s in servers:
                r = one_run(a, s, smtp_source, 10, 5, min(200, a.count), work)
                bl.log("  warm-up %s: %s" % (s.name, r.get("error", "ok")))

        results = {}
        for label, sessions, rcpts in cases:
            bl.log("case %s (smtp-source -s %d%s -m %d -l %d)" % (
                label, sessions, " -r %d" % rcpts if rcpts > 1 else "", a.count, a.size))
            for rep in range(a.reps):
                for s in servers:
                    r = one_run(a, s, smtp_source, sessions, rcpts, a.count, work)
                    results.setdefault((label, s.name), []).append(r)
                    c = r["cpu"]
                    if "error" in r:
                        bl.log("  %-7s run %d: ERROR %s" % (s.name, rep + 1, r["error"]))
                        tail = s.log_tail(8).rstrip()
                        if tail and "exited earlier" not in r["error"]:
                            bl.log("    last log lines:\n      " + tail.replace("\n", "\n      "))
                    else:
                        bl.log("  %-7s run %d: accepted %6.0f/s  delivered %6.0f msg/s (%6.0f files/s)  "
                               "cpu usr %2.0f%% sys %2.0f%% iowait %2.0f%% idle %2.0f%%%s" % (
                                   s.name, rep + 1, r["accept_per_s"], r.get("deliver_per_s", 0),
                                   r.get("deliver_files_per_s", 0), c["user"], c["sys"], c["iowait"],
                                   c["idle"], ("  (%d files more than sent!)" % r["extra_files"])
                                   if "extra_files" in r else ""))

        # ---- the table
        names = [s.name for s in servers]
        both = names == ["Postfix", "Poshta"]
        print()
        print("SMTP delivery: smtp-source, %d B payload, %d messages per run, %s, median of %d runs"
              % (a.size, a.count, "one message per connection" if not a.reuse else "connections reused",
                 a.reps))
        hdr = "%-18s | %s" % ("case", "  ".join("%8s" % ("acc " + n[:4]) for n in names))
        hdr += ("  %6s" % "ratio") if both else ""
        hdr += " | " + "  ".join("%8s" % ("del " + n[:4]) for n in names)
        hdr += ("  %6s" % "ratio") if both else ""
        print(hdr)
        print("-" * len(hdr))
        summary = []
        for label, sessions, rcpts in cases:
            acc = [med(results[(label, n)], "accept_per_s") for n in names]
            dl = [med(results[(label, n)], "deliver_per_s") for n in names]
            line = "%-18s | %s" % (label, "  ".join(fmt(v) for v in acc))
            line += ("  %s" % ratio(acc[1], acc[0])) if both else ""
            line += " | " + "  ".join(fmt(v) for v in dl)
            line += ("  %s" % ratio(dl[1], dl[0])) if both else ""
            print(line)
            summary.append({"case": label, "sessions": sessions, "rcpts": rcpts,
                            "accept_per_s": dict(zip(names, acc)), "deliver_per_s": dict(zip(names, dl)),
                            "errors": {n: [r["error"] for r in results[(label, n)] if "error" in r]
                                       for n in names}})
        print("(msg/s; acc = accepted, del = delivered into Maildir new/; ratio = Poshta/Postfix, "
              "> 1 is Poshta faster; err = a run failed, see above)")
        sys.stdout.flush()
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps({"bench": "smtp_delivery", "time": time.time(), "count": a.count,
                                    "size": a.size, "reps": a.reps, "reuse": a.reuse, "cases": summary,
                                    "runs": {"%s/%s" % k: v for k, v in results.items()}}) + "\n")
        ok = not any(s["errors"][n] for s in summary for n in names)
    except RuntimeError as e:
        bl.log("error: %s" % e)
        ok = False
    finally:
        for s in reversed(servers):
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
