"""Accepted means durable (SPEC.md promise 1): clients send concurrently,
the server is killed with SIGKILL in the middle, restarted, and every
message that got its 250 is found in its mailbox."""

import smtplib
import threading
import time
import warnings

from poshta_helpers import HOST, check_stored, make_message, unique

THREADS = 8
TOTAL = 300
KILL_AFTER = 100
RCPTS = ["postmaster@localhost", "crash@localhost"]
SENDER = "crash@b.test"


def test_kill_9_midway_loses_nothing_acknowledged(poshta):
    poshta.add_user("crash@localhost")
    tag = unique()
    msgs = {}
    for i in range(TOTAL):
        rcpt = RCPTS[i % 2]
        msgid = f"<crash-{tag}-{i:03d}@client.test>"
        msgs[i] = (rcpt, msgid, make_message(to=rcpt, subject=f"crash {tag} {i:03d}", msgid=msgid,
                                             sender=SENDER))

    todo = list(range(TOTAL))
    todo_lock = threading.Lock()
    acked = {}                      # i -> number of 250 replies to its DATA
    cond = threading.Condition()
    up = threading.Event()
    up.set()
    errors = []
    give_up = time.monotonic() + 240

    def worker():
        s = None
        while True:
            with todo_lock:
                if not todo:
                    break
                i = todo.pop(0)
            rcpt, _msgid, msg = msgs[i]
            while True:
                if time.monotonic() > give_up:
                    errors.append(f"message {i}: gave up")
                    break
                up.wait(120)
                try:
                    if s is None:
                        s = smtplib.SMTP(HOST, poshta.smtp_port, timeout=30)
                    s.sendmail(SENDER, [rcpt], msg)
                except smtplib.SMTPResponseException as e:
                    if 400 <= e.smtp_code < 500:
                        s = drop(s)
                        continue
                    errors.append(f"message {i}: {e.smtp_code} {e.smtp_error!r}")
                    s = drop(s)
                    break
                except smtplib.SMTPRecipientsRefused as e:
                    if all(400 <= code < 500 for code, _ in e.recipients.values()):
                        s = drop(s)
                        continue
                    errors.append(f"message {i}: recipient refused {e.recipients!r}")
                    s = drop(s)
                    break
                except (OSError, smtplib.SMTPException):
                    s = drop(s)          # the server went away: retry when it is back
                    time.sleep(0.05)     # back-off between attempts, not synchronisation
                    continue
                with cond:
                    acked[i] = acked.get(i, 0) + 1
                    cond.notify_all()
                break
        if s is not None:
            try:
                s.quit()
            except (OSError, smtplib.SMTPException):
                pass

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(THREADS)]
    for t in threads:
        t.start()
    with cond:
        assert cond.wait_for(lambda: len(acked) >= KILL_AFTER, timeout=180), \
            f"only {len(acked)} messages accepted before the kill; errors: {errors[:5]}"
    up.clear()
    poshta.kill()
    acked_before_kill = len(acked)
    poshta.start()
    up.set()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "client threads hung"
    assert not errors, f"{len(errors)} messages failed for good: {errors[:10]}"
    assert len(acked) == TOTAL, f"only {len(acked)} of {TOTAL} got a 250"
    assert acked_before_kill < TOTAL, "the kill came after the last message: nothing was tested"

    # every acknowledged message reaches its mailbox (after the restart the
    # spool is delivered); allow time for the queue runner
    def scan():
        found = {}                   # msgid -> list of (path, content)
        for rcpt in RCPTS:
            for f in poshta.new_files(rcpt):
                content = f.read_bytes()
                for line in content.split(b"\n\n", 1)[0].split(b"\n"):
                    if line.lower().startswith(b"message-id: <crash-"):
                        mid = line.split(b":", 1)[1].strip().decode()
                        found.setdefault(mid, []).append((rcpt, f, content))
        return found

    deadline = time.monotonic() + 90
    while True:
        found = scan()
        missing = [i for i in acked if msgs[i][1] not in found]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not missing, (f"{len(missing)} messages got 250 but are not in their mailbox "
                         f"(first ones: {sorted(missing)[:20]}); {acked_before_kill} were acknowledged "
                         f"before the kill")

    duplicates = []
    by_msgid = {msgs[i][1]: i for i in msgs}
    for mid, copies in found.items():
        assert mid in by_msgid, f"unknown message {mid}"
        i = by_msgid[mid]
        rcpt, _, msg = msgs[i]
        for got_rcpt, f, content in copies:
            assert got_rcpt == rcpt, f"message {i} for {rcpt} landed in {got_rcpt}'s mailbox"
            # every stored copy is whole: no torn writes after the kill
            check_stored(content, SENDER, rcpt, msg, name=f.name)
        if len(copies) > 1:
            duplicates.append((i, len(copies), acked.get(i, 0)))
    if duplicates:
        warnings.warn(f"{len(duplicates)} messages stored more than once (message, copies, 250s): "
                      f"{duplicates[:20]}")


def drop(s):
    if s is not None:
        try:
            s.close()
        except OSError:
            pass
    return None
