"""Signals and restarts: SIGTERM/SIGINT exit 0 without losing anything
accepted, SIGHUP reloads, a 250 survives kill -9."""

import signal
import socket
import subprocess

from poshta_helpers import (
    HOST, RawSMTP, check_one_stored, check_stored, deadline_poll, dot_stuff, free_port,
    make_message, port_open, smtp_send)


def stopped_accepting(port):
    """True once a new connection is refused, closed, or greeted with 421."""
    try:
        s = socket.create_connection((HOST, port), timeout=1)
    except OSError:
        return True
    with s:
        s.settimeout(2)
        try:
            data = s.recv(512)
        except socket.timeout:
            return True            # accepted by the kernel but no longer served
        except ConnectionResetError:
            return True
        if not data or data.startswith(b"421"):
            return True
        try:
            s.sendall(b"QUIT\r\n")
        except OSError:
            pass
        return False


def test_sigterm_idle_server_exits_0(poshta):
    poshta.stop()
    assert not poshta.running


def test_sigint_exits_0(poshta):
    poshta.proc.send_signal(signal.SIGINT)
    poshta.wait_exit()


def test_sigterm_with_idle_client(poshta):
    c = RawSMTP(poshta.smtp_port)
    c.ehlo()
    poshta.stop()
    # the idle client was told (421) or simply disconnected
    data = c.read_until_closed(timeout=5)
    assert data == b"" or data.startswith(b"421"), data
    c.close()


def test_sigterm_between_mail_and_data(poshta):
    c = RawSMTP(poshta.smtp_port, timeout=40)
    c.ehlo()
    c.expect("MAIL FROM:<a@b.test>", 250)
    c.expect("RCPT TO:<postmaster@localhost>", 250)
    poshta.proc.send_signal(signal.SIGTERM)
    deadline_poll(lambda: stopped_accepting(poshta.smtp_port), 10,
                  "the server to stop accepting new sessions after SIGTERM")
    msg = make_message()
    accepted = False
    r = c.cmd("DATA")
    if r.code == 354:
        c.send(dot_stuff(msg))
        rep = c.reply()
        assert rep.code in (250, 421), f"after SIGTERM: {rep!r}"
        accepted = rep.code == 250
        if accepted:
            try:
                r = c.cmd("QUIT")
            except (OSError, ConnectionError, Exception):
                r = None
            assert r is None or r.code in (221, 421), r
    else:
        assert r.code == 421, f"DATA after SIGTERM: expected 354 or 421, got {r!r}"
    c.close()
    poshta.wait_exit()
    if accepted:
        # nothing accepted is lost: delivered before exit, or after a restart
        if not poshta.new_files("postmaster@localhost"):
            poshta.start()
        check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)


def test_accepted_message_survives_kill_9(poshta):
    msg = make_message()
    assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@localhost"], msg) == {}
    poshta.kill()
    poshta.start()
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, timeout=75)


def test_restart_keeps_mailboxes_and_serves_again(poshta):
    poshta.add_user("kim@localhost")
    first = make_message(to="kim@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["kim@localhost"], first) == {}
    poshta.wait_files("kim@localhost", 1)
    poshta.restart()
    second = make_message(to="kim@localhost")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["kim@localhost"], second) == {}
    files = poshta.wait_files("kim@localhost", 2)
    assert len(files) == 2, files
    contents = sorted((f.read_bytes(), f.name) for f in files)
    for m in (first, second):
        hit = [(c, n) for c, n in contents if c.endswith(m.replace(b"\r\n", b"\n"))]
        assert len(hit) == 1
        check_stored(hit[0][0], "a@b.test", "kim@localhost", m, name=hit[0][1])


def test_sighup_reloads_configuration(poshta):
    r = None
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd("RCPT TO:<postmaster@hup.test>")
        assert r.code in (550, 554), r
    cfg = poshta.cfg.read_text()
    poshta.cfg.write_text(cfg.replace('domains = ["localhost", "example.test"]',
                                      'domains = ["localhost", "example.test", "hup.test"]'))
    poshta.proc.send_signal(signal.SIGHUP)

    def accepted():
        with RawSMTP(poshta.smtp_port) as c:
            c.ehlo()
            c.expect("MAIL FROM:<a@b.test>", 250)
            return c.cmd("RCPT TO:<postmaster@hup.test>").code == 250
    deadline_poll(accepted, 10, "hup.test to become local after SIGHUP")
    assert poshta.running
    msg = make_message(to="postmaster@hup.test")
    assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@hup.test"], msg) == {}
    check_one_stored(poshta, "postmaster@hup.test", "a@b.test", msg)


def test_sigterm_lets_a_transaction_in_data_finish(poshta):
    msg = make_message()
    wire = dot_stuff(msg)
    c = RawSMTP(poshta.smtp_port, timeout=40)
    c.ehlo()
    c.expect("MAIL FROM:<a@b.test>", 250)
    c.expect("RCPT TO:<postmaster@localhost>", 250)
    c.expect("DATA", 354)
    c.send(wire[:100])
    poshta.proc.send_signal(signal.SIGTERM)
    deadline_poll(lambda: stopped_accepting(poshta.smtp_port), 10,
                  "the server to stop accepting new sessions after SIGTERM")
    assert poshta.running, "the server exited with a transaction in flight"
    c.send(wire[100:])
    rep = c.reply()
    assert rep.code == 250, f"a transaction in flight at SIGTERM must be allowed to finish: {rep!r}"
    c.close()
    poshta.wait_exit()
    if not poshta.new_files("postmaster@localhost"):
        poshta.start()
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg, queue_id_in=rep.text)


def test_sighup_with_a_broken_configuration_keeps_serving(poshta):
    good = poshta.cfg.read_text()
    poshta.cfg.write_text(good + "\nhostnmae = \"typo\"\n")
    poshta.proc.send_signal(signal.SIGHUP)
    deadline_poll(lambda: "hostnmae" in poshta.log_text(), 10,
                  "the server to log the problem with the reloaded configuration")
    assert poshta.running, "a bad configuration on SIGHUP must not stop the server"
    msg = make_message()
    assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@localhost"], msg) == {}
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    poshta.cfg.write_text(good)


def test_second_server_on_the_same_ports_exits_1(poshta):
    r = subprocess.run([poshta.bin, "serve", "-c", str(poshta.cfg)], capture_output=True,
                       text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, f"exit {r.returncode}: {r.stderr}"
    assert r.stderr.strip(), "it must say why"
    assert poshta.running
    msg = make_message()
    assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@localhost"], msg) == {}
    check_one_stored(poshta, "postmaster@localhost", "a@b.test", msg)
    assert (poshta.data_dir / "poshta.pid").read_text().strip() == str(poshta.proc.pid)


def test_imap_and_pop3_listeners_are_accepted(poshta_factory):
    server = poshta_factory(extra_toml=(
        f'[[listen]]\nprotocol = "imap"\naddress = "127.0.0.1:{free_port()}"\n'
        f'[[listen]]\nprotocol = "pop3"\naddress = "127.0.0.1:{free_port()}"\n'))
    msg = make_message()
    assert smtp_send(server.smtp_port, "a@b.test", ["postmaster@localhost"], msg) == {}
    check_one_stored(server, "postmaster@localhost", "a@b.test", msg)
    assert "imap" in server.log_text().lower()


def spool_files(server):
    out = []
    for sub in ("msg", "env"):
        d = server.data_dir / "queue" / sub
        if d.exists():
            out += [p for p in d.iterdir() if p.is_file()]
    return out


def queued_with(server, needle):
    """Spool files and journal segments under queue/ that contain `needle`."""
    queue = server.data_dir / "queue"
    return [p for p in queue.rglob("*") if p.is_file() and needle in p.read_bytes()]


def test_spool_keeps_only_what_waits(poshta):
    """Delivered mail leaves the spool; mail for a remote alias target is
    durable when its 250 comes, waits in the spool (remote delivery is not
    built yet) and survives a restart."""
    for _ in range(5):
        assert smtp_send(poshta.smtp_port, "a@b.test", ["postmaster@localhost"], make_message()) == {}
    poshta.wait_files("postmaster@localhost", 5)
    deadline_poll(lambda: not spool_files(poshta), 10, "the spool to be empty after local delivery")

    poshta.cli_ok("alias", "add", "fwd@localhost", "someone@remote.example")
    msg = make_message(to="fwd@localhost")
    with RawSMTP(poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        c.expect("RCPT TO:<fwd@localhost>", 250)
        c.expect("DATA", 354)
        c.send(dot_stuff(msg))
        rep = c.reply()
        assert rep.code == 250, rep
        queue_id = rep.text.split()[-1].encode()
        # accepted means durable: the message is under queue/ when the 250 comes
        assert queued_with(poshta, queue_id), "a message accepted for a remote target is not in the queue"
        c.expect("QUIT", 221)
    deadline_poll(lambda: any(p.parent.name == "msg" for p in queued_with(poshta, queue_id)), 10,
                  "the waiting message to be in the spool")
    poshta.restart()
    after = [p for p in queued_with(poshta, queue_id) if p.parent.name == "msg"]
    assert after, "the waiting message vanished across a restart"
    assert b"someone@remote.example" in after[0].read_bytes()


def test_second_server_on_the_same_data_dir_refuses_to_start(poshta):
    """Two servers on one spool would deliver the same mail twice; like
    Postfix and Dovecot ('already running with PID ...'), the second one
    exits 1 and the first keeps its pid file."""
    port2 = free_port()
    cfg2 = poshta.dir / "second.toml"
    cfg2.write_text(poshta.cfg.read_text()
                    .replace(f":{poshta.smtp_port}\"", f":{port2}\"")
                    .replace(f":{poshta.submission_port}\"", f":{free_port()}\""))
    p = subprocess.Popen([poshta.bin, "serve", "-c", str(cfg2)], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline_poll(lambda: p.poll() is not None or port_open(port2), 10,
                      "the second server to exit or to listen")
        serving = p.poll() is None
    finally:
        if p.poll() is None:
            p.kill()
        _out, err = p.communicate()
    assert not serving, ("a second server started on a data_dir in use by a running one: "
                         + err[-1500:])
    assert p.returncode == 1, f"exit {p.returncode}: {err}"
    assert err.strip(), "it must say why"
    assert poshta.running
    assert (poshta.data_dir / "poshta.pid").read_text().strip() == str(poshta.proc.pid)
