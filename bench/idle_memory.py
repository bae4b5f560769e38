#!/usr/bin/env python3
"""idle_memory.py - memory per idle SMTP connection, Poshta side by side with Postfix.

In one run: starts a private Postfix and a private Poshta on loopback (the same setups as
smtp_delivery.py), and for each server, --reps times:
  1. (re)starts the server, so that nothing left from earlier load is counted,
  2. waits --settle s and measures its process tree with 0 connections,
  3. opens N SMTP sessions (greeting + EHLO, then held open and silent),
  4. waits --settle s and measures again, then closes them.
Memory = VmRSS (/proc/PID/status) and Pss (/proc/PID/smaps_rollup) summed over the server's
process tree: Poshta's PID from <data_dir>/poshta.pid, Postfix's master and all its children.
Per connection = (mem(N) - mem(0)) / N, in KiB; the median over the reps is printed with the
ratio Poshta/Postfix (< 1 means Poshta needs less).

Poshta is one process, so it gets N = 5000 (--conns). Postfix runs one smtpd process per
connection, so it gets a smaller N = 200 (--postfix-conns; its smtpd process limit is raised
to fit); its per-connection figure hardly depends on N. PSS is the fair figure: RSS counts
the shared libraries again in every Postfix process.

Run as root:  bench/idle_memory.py [--conns 5000] [--postfix-conns 200] [--poshta build/poshta]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402


def measure(a, server, n):
    """One rep: restart, mem(0), open n, mem(n), close. Returns a dict or raises RuntimeError."""
    server.restart()
    time.sleep(a.settle)
    root = server.pid()
    if root is None or not bl.pid_alive(root):
        raise RuntimeError("%s: no live PID (pid file %s)" % (server.name, server.pidfile()))
    m0 = bl.tree_memory(root)
    t0 = time.monotonic()
    socks, errors = bl.open_idle_smtp(server.port, n, batch=a.batch, timeout=a.conn_timeout)
    t_open = time.monotonic() - t0
    try:
        if errors:
            kinds = {}
            for e in errors:
                kinds[e.split(":")[0]] = e
            raise RuntimeError("%s: %d of %d connections failed, e.g. %s" % (
                server.name, len(errors), n, "; ".join(kinds.values())))
        time.sleep(a.settle)
        root2 = server.pid()
        if root2 != root:
            raise RuntimeError("%s: PID changed from %s to %s while measuring" % (server.name, root, root2))
        m1 = bl.tree_memory(root)
        # are the sessions still open? a server that dropped them would look cheap
        dropped = 0
        for s in socks:
            s.setblocking(False)
            try:
                if s.recv(1, 0x02) == b"":  # MSG_PEEK: b"" = closed by the server
                    dropped += 1
            except BlockingIOError:
                pass
            except OSError:
                dropped += 1
        if dropped:
            raise RuntimeError("%s closed %d of %d idle sessions within %.0f s" % (
                server.name, dropped, n, a.settle))
    finally:
        for s in socks:
            s.close()
    r = {"n": n, "open_s": t_open, "mem0": m0, "memN": m1,
         "per_conn_rss_kib": (m1["rss_kib"] - m0["rss_kib"]) / n,
         "per_conn_pss_kib": (m1["pss_kib"] - m0["pss_kib"]) / n}
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--poshta", default=bl.DEFAULT_POSHTA, help="the poshta binary (default: build/poshta)")
    ap.add_argument("--conns", type=int, default=5000, help="idle connections to Poshta (default 5000)")
    ap.add_argument("--postfix-conns", type=int, default=200,
                    help="idle connections to Postfix (default 200: one smtpd process each)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per server (median printed)")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds to wait before each measurement")
    ap.add_argument("--batch", type=int, default=100, help="connections in their handshake at once")
    ap.add_argument("--conn-timeout", type=float, default=30.0, help="seconds for greeting + EHLO")
    ap.add_argument("--servers", default="postfix,poshta", help="postfix,poshta (default both)")
    ap.add_argument("--workdir", default=None, help="parent of the scratch directory (default /var/tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs)")
    ap.add_argument("--json", default=None, help="append the results as one JSON line to this file")
    a = ap.parse_args()

    bl.require_root()
    bl.install_signal_handlers()
    wanted = [s.strip().lower() for s in a.servers.split(",") if s.strip()]
    # our end of every connection is a descriptor here; the servers get theirs raised at start
    nofile = bl.raise_nofile(max(a.conns, a.postfix_conns) + 1024)
    if nofile < max(a.conns, a.postfix_conns) + 64:
        bl.die("RLIMIT_NOFILE is %d, too low for %d connections" % (nofile, a.conns))

    if "poshta" in wanted and not os.access(a.poshta, os.X_OK):
        bl.die("%s is not there (or not executable): build Poshta first (scripts/setup.sh), "
               "or pass --poshta PATH" % a.poshta)
    work = bl.make_workdir(a.workdir)
    servers = []  # (server, n)
    ok = False
    try:
        bl.log("scratch directory %s" % work)
        if "postfix" in wanted:
            pf = bl.PostfixInstance(os.path.join(work, "postfix"), bl.free_port(),
                                    smtpd_maxproc=max(100, a.postfix_conns + 50))
            servers.append((pf, a.postfix_conns))
            pf.setup()
        if "poshta" in wanted:
            po = bl.PoshtaInstance(a.poshta, os.path.join(work, "poshta"), bl.free_port(),
                                   nofile=max(65536, a.conns + 4096))
            os.makedirs(po.base, exist_ok=True)
            servers.append((po, a.conns))
            po.setup()
        if not servers:
            bl.die("--servers names neither postfix nor poshta")

        results = {}
        for s, n in servers:
            for rep in range(a.reps):
                try:
                    r = measure(a, s, n)
                except RuntimeError as e:
                    bl.log("  %-7s rep %d: ERROR %s" % (s.name, rep + 1, e))
                    tail = s.log_tail(8).rstrip()
                    if tail:
                        bl.log("    last log lines:\n      " + tail.replace("\n", "\n      "))
                    results.setdefault(s.name, []).append({"n": n, "error": str(e)})
                    continue
                results.setdefault(s.name, []).append(r)
                bl.log("  %-7s rep %d: n=0 procs=%d rss=%.1f MiB pss=%.1f MiB | n=%d procs=%d rss=%.1f MiB "
                       "pss=%.1f MiB (opened in %.1f s) | per conn rss %.1f KiB pss %.1f KiB" % (
                           s.name, rep + 1, r["mem0"]["procs"], r["mem0"]["rss_kib"] / 1024,
                           r["mem0"]["pss_kib"] / 1024, n, r["memN"]["procs"], r["memN"]["rss_kib"] / 1024,
                           r["memN"]["pss_kib"] / 1024, r["open_s"], r["per_conn_rss_kib"],
                           r["per_conn_pss_kib"]))
            s.stop()

        def med(name, key, sub=None):
            v = [(r[key][sub] if sub else r[key]) for r in results.get(name, []) if "error" not in r]
            return statistics.median(v) if v else None

        print()
        print("Idle SMTP connections (greeting + EHLO, held open): memory of the server's process tree, "
              "median of %d reps" % a.reps)
        hdr = "%-8s %6s | %10s %10s | %10s %10s | %11s %11s" % (
            "server", "N", "RSS(0)MiB", "PSS(0)MiB", "RSS(N)MiB", "PSS(N)MiB", "RSS/conn", "PSS/conn")
        print(hdr)
        print("-" * len(hdr))
        per = {}
        for s, n in servers:
            vals = [med(s.name, "mem0", "rss_kib"), med(s.name, "mem0", "pss_kib"),
                    med(s.name, "memN", "rss_kib"), med(s.name, "memN", "pss_kib")]
            pr, pp = med(s.name, "per_conn_rss_kib"), med(s.name, "per_conn_pss_kib")
            per[s.name] = (pr, pp)
            cells = ["%10.1f" % (v / 1024) if v is not None else "%10s" % "err" for v in vals]
            kib = ["%7.1f KiB" % v if v is not None else "%11s" % "err" for v in (pr, pp)]
            print("%-8s %6d | %s %s | %s %s | %s %s" % (s.name, n, *cells, *kib))
        if "Postfix" in per and "Poshta" in per:
            (fr, fp), (orr, op) = per["Postfix"], per["Poshta"]
            rr = "%.3f" % (orr / fr) if orr is not None and fr else "-"
            rp = "%.3f" % (op / fp) if op is not None and fp else "-"
            print("ratio Poshta/Postfix per connection: RSS %s, PSS %s (< 1 means Poshta needs less)" % (rr, rp))
        print("(N differs: Postfix forks one smtpd per connection, so it gets %d, Poshta %d; "
              "per conn = (mem(N) - mem(0)) / N)" % (a.postfix_conns, a.conns))
        sys.stdout.flush()
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps({"bench": "idle_memory", "time": time.time(), "results": results,
                                    "per_conn_kib": {k: {"rss": v[0], "pss": v[1]} for k, v in per.items()}})
                        + "\n")
        ok = all("error" not in r for rs in results.values() for r in rs)
    except RuntimeError as e:
        bl.log("error: %s" % e)
        ok = False
    finally:
        for s, _n in reversed(servers):
            try:
                s.stop()
            except Exception as e:
                bl.log("warning: stopping %s: %s" % (s.name, e))
        if a.keep:
            bl.log("kept %s" % work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
