#!/usr/bin/env python3
"""pop3.py - POP3 download of a large maildrop, Poshta side by side with Dovecot.

In one run: starts a private Dovecot (POP3 only) and a private Poshta (`poshta serve` with a
POP3 listener), both on loopback ports in a scratch directory under /var/tmp, generates COUNT
realistic messages (a few KiB each, varied: plain text, text + HTML, small attachments;
the same bytes for both servers), and per run and server:

  1. writes the maildrop straight into the user's Maildir new/ (LF line ends; file names as
     each server's own delivery makes them, ",S=<octets>,W=<octets with CRLF>" included),
     after deleting the previous one and every index file, then syncs the disk;
  2. cold session: the first one after the maildrop was written (Poshta builds its UID index
     and moves new/ to cur/, Dovecot builds its dovecot-uidlist and indexes);
  3. warm session: the same again.

A session is Python's poplib, one connection: login (USER/PASS) + STAT + UIDL + RETR of every
message + QUIT, no DELE, so the maildrop stays as it is. The time of each phase is taken
separately (perf_counter); the memory of the server's process tree (RSS and PSS, as in
idle_memory.py) is read before the session, once logged in (after UIDL) and after the last
RETR, outside the timed phases. Each session must show COUNT messages, as many UIDL lines
(all different), and a STAT octet count equal to the sum of what RETR sent; the two servers'
figures are compared. A last, untimed session per server compares every message retrieved
with the one written (SHA-256 of the CRLF form) unless --no-verify.

Runs repeat --reps times (Dovecot and Poshta alternating) and the medians are printed as a
table with the ratios Poshta/Dovecot: time (< 1 means Poshta is faster) and messages/s
(> 1 means Poshta is faster).

Run as root:  bench/pop3.py [--count 10000] [--reps 3] [--poshta build/poshta]
Needs: Dovecot (dovecot-pop3d), from `scripts/setup.sh`. Only 127.0.0.1 is used; Poshta's
resolver is 127.0.0.1:9, Dovecot serves POP3 only and has no network client.
"""
import argparse
import hashlib
import json
import os
import poplib
import shutil
import statistics
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as bl  # noqa: E402

LOCALPART = "pop"
USER = "%s@%s" % (LOCALPART, bl.DOMAIN)
VUID = 5000  # Dovecot's mail_uid (as Postfix's virtual(8) in benchlib)

# ---------------------------------------------------------------- one session

PHASES = ["login", "stat_uidl", "retr", "quit"]


def session(a, server, count, digests=None):
    """One POP3 session: login, STAT, UIDL, RETR 1..N, QUIT; returns a dict of times (s), client CPU
    time, counts and memory. With `digests`, the SHA-256 of every message is taken (untimed use)."""
    res = {"server": server.name}
    root = server.pid()
    if root is None or not bl.pid_alive(root):
        res["error"] = "%s is not running" % server.name
        return res
    log_offset = bl.file_size(server.logfile)
    res["mem_idle"] = bl.tree_memory(root)
    times, cpu = {}, {}
    p = None

    def phase(name, fn):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times[name] = time.perf_counter() - w0
        cpu[name] = time.process_time() - c0
        return out

    try:
        def login():
            nonlocal p
            p = poplib.POP3("127.0.0.1", server.pop3_port, timeout=a.timeout)
            p.user(USER)
            return p.pass_(bl.PASSWORD)

        res["pass_reply"] = phase("login", login).decode(errors="replace")

        def stat_uidl():
            n, octets = p.stat()
            _resp, lines, _ = p.uidl()
            return n, octets, lines

        n, octets, uidl = phase("stat_uidl", stat_uidl)
        res["messages"], res["octets"] = n, octets
        res["uidl_lines"] = len(uidl)
        res["uidl_unique"] = len({ln.split()[-1] for ln in uidl})
        res["mem_open"] = bl.tree_memory(root)

        def retr_all():
            total = wrong = 0
            got = []
            for i in range(1, n + 1):
                resp, lines, o = p.retr(i)
                total += o
                # "+OK <octets> octets" from both servers: the size announced must be the size sent
                f = resp.split()
                if len(f) < 2 or not f[1].isdigit() or int(f[1]) != o:
                    wrong += 1
                if digests is not None:
                    got.append(hashlib.sha256(b"\r\n".join(lines) + b"\r\n").hexdigest())
            return total, wrong, got

        total, wrong, got = phase("retr", retr_all)
        res["retr_octets"], res["retr_size_mismatch"] = total, wrong
        res["mem_retr"] = bl.tree_memory(root)
        res["quit_reply"] = phase("quit", p.quit).decode(errors="replace")
        p = None
    except (poplib.error_proto, OSError, EOFError, ValueError) as e:
        done = [k for k in PHASES if k in times]
        res["error"] = "%s during %s: %s" % (type(e).__name__, PHASES[len(done)], e)
    finally:
        if p is not None:
            try:
                p.close()
            except OSError:
                pass
    res["times"], res["client_cpu"] = times, cpu
    if "error" not in res:
        res["t_total"] = sum(times.values())
    if digests is not None and "error" not in res:
        res["digests_wrong"] = [i + 1 for i, (x, y) in enumerate(zip(got, digests)) if x != y]
        res["digests_same_set"] = sorted(got) == sorted(digests)
    time.sleep(0.2)  # the server's last log lines
    problems = server.problems(bl.read_from(server.logfile, log_offset))
    if problems:
        res["log_problems"] = len(problems)
        res["log_sample"] = problems[:10]
    res["checks"] = check(res, count)
    return res


def check(r, count):
    """What is wrong with one session's answers (a list of sentences; empty: all fine)."""
    if "messages" not in r:
        return []
    out = []
    if r["messages"] != count:
        out.append("STAT says %d messages, %d were written" % (r["messages"], count))
    if r["uidl_lines"] != r["messages"]:
        out.append("UIDL listed %d messages, STAT %d" % (r["uidl_lines"], r["messages"]))
    if r["uidl_unique"] != r["uidl_lines"]:
        out.append("UIDL gave %d different ids for %d messages" % (r["uidl_unique"], r["uidl_lines"]))
    if "retr_octets" in r:
        if r["retr_octets"] != r["octets"]:
            out.append("STAT says %d octets, RETR sent %d" % (r["octets"], r["retr_octets"]))
        if r["retr_size_mismatch"]:
            out.append("%d RETR replies announced another size than they sent" % r["retr_size_mismatch"])
    return out


def report(server, label, r):
    if "error" in r:
        bl.log("  %-7s %s: ERROR %s" % (server.name, label, r["error"]))
        tail = server.log_tail(8).rstrip()
        if tail:
            bl.log("    last log lines:\n      " + tail.replace("\n", "\n      "))
    else:
        t = r["times"]
        bl.log("  %-7s %s: %6.2f s = login %.3f + STAT/UIDL %.3f + RETR %.2f + QUIT %.3f; %5.0f msg/s; "
               "client CPU %.2f s; PSS MiB idle %.1f, logged in %.1f, after RETR %.1f (%d procs)" % (
                   server.name, label, r["t_total"], t["login"], t["stat_uidl"], t["retr"], t["quit"],
                   r["messages"] / r["t_total"], sum(r["client_cpu"].values()),
                   r["mem_idle"]["pss_kib"] / 1024, r["mem_open"]["pss_kib"] / 1024,
                   r["mem_retr"]["pss_kib"] / 1024, r["mem_retr"]["procs"]))
    for c in r.get("checks", []):
        bl.log("    CHECK FAILED: " + c)
    if "log_sample" in r:
        bl.log("    %d warning/error lines in %s, first ones:\n      %s" % (
            r["log_problems"], server.logfile, "\n      ".join(r["log_sample"])))


# ---------------------------------------------------------------- main

def med(runs, get):
    v = []
    for r in runs:
        try:
            v.append(get(r))
        except (KeyError, TypeError):
            pass
    return statistics.median(v) if v else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--poshta", default=bl.DEFAULT_POSHTA, help="the poshta binary (default: build/poshta)")
    ap.add_argument("--count", type=int, default=10000, help="messages in the maildrop (default 10000)")
    ap.add_argument("--reps", type=int, default=3, help="runs per server (median printed)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the message generator")
    ap.add_argument("--servers", default="dovecot,poshta", help="dovecot,poshta (default both)")
    ap.add_argument("--no-verify", action="store_true",
                    help="skip the last, untimed session that compares every message with the one written")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds of quiet before each session")
    ap.add_argument("--timeout", type=float, default=120, help="socket timeout of the POP3 client, s")
    ap.add_argument("--workdir", default=None, help="parent of the scratch directory (default /var/tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, maildrops)")
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

    t0 = time.monotonic()
    drop = bl.Maildrop(a.count, a.seed, USER)
    sizes = sorted(drop.wire_sizes)
    bl.log("maildrop: %d messages, %.1f MiB on disk (LF), %.1f MiB as sent (CRLF); sizes %.1f / %.1f / %.1f KiB "
           "(min / median / max), made in %.1f s" % (
               a.count, drop.disk_octets / 2**20, drop.octets / 2**20, sizes[0] / 1024,
               sizes[len(sizes) // 2] / 1024, sizes[-1] / 1024, time.monotonic() - t0))

    work = bl.make_workdir(a.workdir)
    servers = []  # (server, Maildir of the user, name style, owner uid)
    ok = False
    try:
        bl.log("scratch directory %s" % work)
        if "dovecot" in wanted:
            dc = bl.DovecotInstance(os.path.join(work, "dovecot"), bl.free_port(), vuid=VUID)
            servers.append((dc, os.path.join(dc.mailroot, LOCALPART), "dovecot", VUID))
            dc.setup()
            dc.start()
            bl.log("Dovecot, POP3 on 127.0.0.1:%d (master pid %s)" % (dc.pop3_port, dc.pid()))
        if "poshta" in wanted:
            po = bl.PoshtaInstance(a.poshta, os.path.join(work, "poshta"), bl.free_port(), users=[LOCALPART],
                                   pop3_port=bl.free_port())
            os.makedirs(po.base, exist_ok=True)
            servers.append((po, os.path.join(po.mailroot, LOCALPART), "poshta", po.mail_owner()))
            po.setup()
            po.start()
            bl.log("Poshta on 127.0.0.1:%d, POP3 on 127.0.0.1:%d (pid %s)" % (po.port, po.pop3_port, po.pid()))
        if not servers:
            bl.die("--servers names neither dovecot nor poshta")

        results = {}  # (server name, "cold"|"warm") -> [run]
        mem_first = {s.name: bl.tree_memory(s.pid()) for s, *_ in servers}
        for rep in range(a.reps):
            for s, mailbox, style, owner in servers:
                w0 = time.monotonic()
                drop.write(mailbox, style, owner)
                os.sync()
                bl.log("  %-7s run %d: maildrop written into %s/new and synced in %.1f s" % (
                    s.name, rep + 1, mailbox, time.monotonic() - w0))
                for label in ("cold", "warm"):
                    time.sleep(a.settle)
                    r = session(a, s, a.count)
                    results.setdefault((s.name, label), []).append(r)
                    report(s, "run %d %s" % (rep + 1, label), r)
                    os.sync()

        verify = {}
        if not a.no_verify:
            digests = drop.digests()
            for s, _mailbox, _style, _owner in servers:
                r = session(a, s, a.count, digests=digests)
                if "error" in r:
                    verify[s.name] = "ERROR " + r["error"]
                elif r["digests_wrong"]:
                    verify[s.name] = "%d of %d messages differ from the ones written%s (first: %s)" % (
                        len(r["digests_wrong"]), a.count,
                        " (the same set, in another order)" if r["digests_same_set"] else "",
                        ", ".join(map(str, r["digests_wrong"][:5])))
                else:
                    verify[s.name] = ""
                bl.log("  %-7s verify: %s" % (s.name, verify[s.name] or
                                              "every message retrieved is the one written (SHA-256, in order)"))

        mem_last = {s.name: bl.tree_memory(s.pid()) for s, *_ in servers if s.pid()}

        # ---- the table
        names = [s.name for s, *_ in servers]
        both = names == ["Dovecot", "Poshta"]
        print()
        print("POP3: poplib, one session = login + STAT + UIDL + RETR of every message + QUIT (no DELE), "
              "%d messages, %.1f MiB (%.1f-%.1f KiB, median %.1f), median of %d runs" % (
                  a.count, drop.octets / 2**20, sizes[0] / 1024, sizes[-1] / 1024,
                  sizes[len(sizes) // 2] / 1024, a.reps))
        hdr = "%-20s | %s" % ("session", "  ".join("%8s" % ("s " + n[:4]) for n in names))
        hdr += ("  %6s" % "ratio") if both else ""
        hdr += " | " + "  ".join("%8s" % ("msg/s " + n[:4]) for n in names)
        hdr += ("  %6s" % "ratio") if both else ""
        print(hdr)
        print("-" * len(hdr))
        rows = []
        for label in ("cold", "warm"):
            rows.append((label + " session", label, lambda r: r["t_total"], True))
            # Poshta reads the maildrop before it answers PASS, Dovecot's pop3 process after it (so
            # before it answers STAT): the two phases are shown as one
            rows.append(("  login, STAT, UIDL", label, lambda r: r["times"]["login"] + r["times"]["stat_uidl"], True))
            rows.append(("  RETR x %d" % a.count, label, lambda r: r["times"]["retr"], True))
            rows.append(("  QUIT", label, lambda r: r["times"]["quit"], False))
        summary = []
        for row, label, get, rate in rows:
            t = [med([r for r in results[(n, label)] if "error" not in r], get) for n in names]
            line = "%-20s | %s" % (row, "  ".join("%8.3f" % v if v is not None else "%8s" % "err" for v in t))
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
              "Poshta/Dovecot: > 1 is Poshta faster; cold = first session after the maildrop was written "
              "into new/, warm = the next one; err = a run failed, see above)" % a.count)
        cpu = med([r for rs in results.values() for r in rs if "error" not in r],
                  lambda r: sum(r["client_cpu"].values()))
        if cpu is not None:
            print("(the client, Python's poplib, used %.2f s of CPU per session (median), included in every time)"
                  % cpu)

        print()
        print("Memory of the server's process tree during the session, MiB, median of %d runs" % a.reps)
        mh = "%-16s | %8s %8s | %8s %8s | %8s %8s | %5s" % (
            "server, session", "RSS idle", "PSS idle", "RSS open", "PSS open", "RSS retr", "PSS retr", "procs")
        print(mh)
        print("-" * len(mh))
        mem = {}
        for n in names:
            for label in ("cold", "warm"):
                runs = [r for r in results[(n, label)] if "error" not in r]
                cells = []
                for point in ("mem_idle", "mem_open", "mem_retr"):
                    for kind in ("rss_kib", "pss_kib"):
                        v = med(runs, lambda r: r[point][kind])
                        mem[(n, label, point, kind)] = v
                        cells.append("%8.1f" % (v / 1024) if v is not None else "%8s" % "err")
                procs = med(runs, lambda r: r["mem_open"]["procs"])
                print("%-16s | %s %s | %s %s | %s %s | %5s" % (
                    "%s, %s" % (n, label), *cells, "%d" % procs if procs is not None else "err"))
        if both:
            parts = []
            for label in ("cold", "warm"):
                d, p = mem[("Dovecot", label, "mem_retr", "pss_kib")], mem[("Poshta", label, "mem_retr", "pss_kib")]
                parts.append("%s %s" % (label, "%.2f" % (p / d) if p and d else "-"))
            print("ratio Poshta/Dovecot, PSS after RETR: %s (< 1 means Poshta needs less)" % ", ".join(parts))
        sessions = 2 * a.reps + (0 if a.no_verify else 1)
        print("PSS when started / after all %d sessions: %s" % (sessions, ", ".join(
            "%s %.1f / %s MiB" % (n, mem_first[n]["pss_kib"] / 1024,
                                  "%.1f" % (mem_last[n]["pss_kib"] / 1024) if n in mem_last else "-")
            for n in names)))
        print("(idle = before the session; open = logged in, after UIDL; retr = after the last RETR, before QUIT; "
              "Poshta: its one process, Dovecot: master and all its children, the session's pop3 process included)")

        # ---- the checks, across servers
        problems = []
        for (n, label), runs in sorted(results.items()):
            for i, r in enumerate(runs):
                if "error" in r:
                    problems.append("%s run %d %s: %s" % (n, i + 1, label, r["error"]))
                for c in r.get("checks", []):
                    problems.append("%s run %d %s: %s" % (n, i + 1, label, c))
        seen = {}
        for (n, _label), runs in results.items():
            for r in runs:
                if "messages" in r:
                    seen.setdefault(n, set()).add((r["messages"], r["octets"]))
        for n, vals in sorted(seen.items()):
            if len(vals) > 1:
                problems.append("%s answered STAT differently from one session to the next: %s" % (
                    n, sorted(vals)))
        if both and all(len(seen.get(n, ())) == 1 for n in names):
            (dm, do), (pm, po_) = next(iter(seen["Dovecot"])), next(iter(seen["Poshta"]))
            if dm != pm:
                problems.append("the servers disagree on the number of messages: Dovecot %d, Poshta %d" % (dm, pm))
            if do != po_:
                problems.append("the servers count octets differently: Dovecot %d, Poshta %d (written: %d with "
                                "CRLF line ends)" % (do, po_, drop.octets))
        for n, v in sorted(verify.items()):
            if v:
                problems.append("%s verify: %s" % (n, v))
        if problems:
            print("PROBLEMS:")
            for x in problems:
                print("  " + x)
        else:
            octs = {n: next(iter(seen[n]))[1] for n in names if n in seen}
            print("checks: %s: %d messages and %s octets in every session (STAT = sum of RETR%s), UIDL %d different "
                  "ids%s" % (
                      " and ".join(names), a.count,
                      " / ".join("{:,}".format(v) for v in sorted(set(octs.values()))),
                      ", = the sizes written" if set(octs.values()) == {drop.octets} else "",
                      a.count, "; every message retrieved is the one written" if verify else ""))
        sys.stdout.flush()
        if a.json:
            with open(a.json, "a") as f:
                f.write(json.dumps({"bench": "pop3", "time": time.time(), "count": a.count, "reps": a.reps,
                                    "seed": a.seed, "octets": drop.octets, "rows": summary,
                                    "problems": problems, "verify": verify,
                                    "mem_first": mem_first, "mem_last": mem_last,
                                    "runs": {"%s/%s" % k: v for k, v in results.items()}}) + "\n")
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
