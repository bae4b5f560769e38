"""STARTTLS, AUTH and the submission listeners: RFC 3207 (STARTTLS),
RFC 4954 (AUTH), RFC 6409 (message submission), RFC 8314 (implicit TLS),
the no-open-relay promise on every listener, certificates (generated,
configured, reloaded on SIGHUP) and the real TLS clients of SPEC.md
promise 6 (smtplib, swaks, curl, openssl s_client)."""

import email.utils
import os
import re
import select
import signal
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from poshta_helpers import (
    HOST, PASSWORD, ConnectionClosed, RawSMTP, RawSMTPS, b64, check_added_fields,
    check_one_stored, check_stored, client_context, deadline_poll, deliver_marker, dot_stuff,
    ehlo_keywords, free_port, make_message, make_self_signed, pem_file_der, peer_cert_der,
    plain_token, queued_with, smtp_send, split_stored, to_lf, unique, wait_listening)

USER = "you@localhost"
AUTH_TIMEOUT = 40          # a failed AUTH may be answered after a growing delay
REMOTE = "friend@remote.example"


# --------------------------------------------------------------------------
# helpers


def connect(server, kind, timeout=AUTH_TIMEOUT, context=None):
    """A session on `kind` with TLS up and EHLO sent after it:
    'submission' and 'smtp' by STARTTLS, 'submissions' by implicit TLS.
    Returns (conn, reply to the EHLO under TLS)."""
    if kind == "submissions":
        c = RawSMTPS(server.submissions_port, timeout=timeout, context=context)
        assert c.greeting.code == 220, c.greeting
        return c, c.ehlo()
    port = server.submission_port if kind == "submission" else server.smtp_port
    c = RawSMTP(port, timeout=timeout)
    assert c.greeting.code == 220, c.greeting
    c.ehlo()
    c.starttls(context)
    return c, c.ehlo()


def authed(server, kind="submission", user=USER, password=PASSWORD, timeout=AUTH_TIMEOUT,
           context=None):
    c, _ = connect(server, kind, timeout=timeout, context=context)
    r = c.cmd(f"AUTH PLAIN {plain_token(user, password)}")
    assert r.code == 235, f"AUTH PLAIN as {user}: expected 235, got {r!r}"
    return c


def send_data(c, msg):
    """DATA with msg after MAIL/RCPT were accepted; returns the final reply."""
    c.expect("DATA", 354)
    c.send(dot_stuff(msg))
    return c.reply()


def unfolded_received(content):
    _rp, _dt, received, _rest = split_stored(content)
    return b" ".join(line.strip() for line in received).decode("utf-8", "replace")


def check_received_tls(content, tls_version, user=USER):
    rec = unfolded_received(content)
    assert tls_version in rec, \
        f"the Received field must record the TLS version {tls_version}: {rec!r}"
    if user:
        assert user in rec, f"the Received field must name the authenticated user {user}: {rec!r}"
    return rec


def submit(server, msg, rcpts, kind="submission", sender=USER, context=None):
    """A whole authenticated transaction; returns (final reply, TLS version)."""
    c = authed(server, kind, context=context)
    with c:
        c.expect(f"MAIL FROM:<{sender}>", 250)
        for r in rcpts:
            c.expect(f"RCPT TO:<{r}>", 250, 251)
        rep = send_data(c, msg)
        assert rep.code == 250, f"end of data: {rep!r}"
        version = c.tls_version()
        c.expect("QUIT", 221)
    return rep, version


def bare_message(tag, date=False, msgid=False, sender=USER, to="postmaster@localhost"):
    lines = [f"From: You <{sender}>", f"To: <{to}>", f"Subject: {tag}"]
    if date:
        lines.append(f"Date: {email.utils.formatdate(localtime=False)}")
    if msgid:
        lines.append(f"Message-ID: <{unique()}@client.test>")
    lines += ["", "Hello,", ".dot line", "", "end " + tag]
    return ("\r\n".join(lines) + "\r\n").encode()


def assert_not_delivered_anywhere(server, needle):
    deliver_marker(server)
    hits = [p for p in server.all_mail_files() if needle in p.read_bytes()]
    assert not hits, f"a message for a remote recipient was delivered locally: {hits}"


# --------------------------------------------------------------------------
# EHLO: what is offered before and after TLS


@pytest.mark.parametrize("kind", ["smtp", "submission"])
def test_ehlo_before_tls_offers_starttls_not_auth(tls_poshta, kind):
    port = tls_poshta.smtp_port if kind == "smtp" else tls_poshta.submission_port
    with RawSMTP(port) as c:
        kw = ehlo_keywords(c.ehlo())
        assert "STARTTLS" in kw, f"EHLO on {kind} must offer STARTTLS: {kw}"
        assert "AUTH" not in kw, f"EHLO on {kind} must not offer AUTH before TLS: {kw}"


def test_ehlo_after_starttls_on_submission_offers_auth(tls_poshta):
    c, r = connect(tls_poshta, "submission")
    with c:
        kw = ehlo_keywords(r)
        assert "AUTH" in kw, f"EHLO after STARTTLS on submission must offer AUTH: {r!r}"
        assert {"PLAIN", "LOGIN"} <= set(kw["AUTH"]), f"AUTH PLAIN LOGIN expected: {r!r}"
        assert "STARTTLS" not in kw, f"STARTTLS offered again under TLS: {r!r}"


def test_ehlo_on_submissions_offers_auth(tls_poshta):
    c, r = connect(tls_poshta, "submissions")
    with c:
        kw = ehlo_keywords(r)
        assert "AUTH" in kw and {"PLAIN", "LOGIN"} <= set(kw["AUTH"]), \
            f"EHLO on submissions must offer AUTH PLAIN LOGIN: {r!r}"
        assert "STARTTLS" not in kw, f"STARTTLS offered on implicit TLS: {r!r}"


def test_ehlo_after_starttls_on_smtp_no_second_starttls(tls_poshta):
    c, r = connect(tls_poshta, "smtp")
    with c:
        assert "STARTTLS" not in ehlo_keywords(r), f"STARTTLS offered again under TLS: {r!r}"
        c.expect("NOOP", 250)


def test_submissions_speaks_tls_from_the_first_byte(tls_poshta):
    """RFC 8314: no plain-text greeting on the implicit-TLS port."""
    with socket.create_connection((HOST, tls_poshta.submissions_port), timeout=3) as s:
        try:
            data = s.recv(100)
        except socket.timeout:
            data = b""
        assert not data.startswith(b"220"), f"plain-text greeting on submissions: {data!r}"
        try:
            s.sendall(b"EHLO client.test\r\n")
            s.settimeout(5)
            data = s.recv(100)
        except (socket.timeout, ConnectionResetError, BrokenPipeError):
            data = b""
        assert not re.match(rb"^\d{3}[ -]", data), f"plain-text SMTP reply on submissions: {data!r}"


# --------------------------------------------------------------------------
# STARTTLS (RFC 3207)


@pytest.mark.parametrize("kind", ["smtp", "submission"])
def test_starttls_reply(tls_poshta, kind):
    port = tls_poshta.smtp_port if kind == "smtp" else tls_poshta.submission_port
    with RawSMTP(port) as c:
        c.ehlo()
        r = c.starttls()
        assert r.lines[0].startswith("2.0.0 Ready to start TLS"), r
        assert c.tls_version() in ("TLSv1.2", "TLSv1.3")
        c.ehlo()
        c.expect("QUIT", 221)


def test_starttls_resets_state_ehlo_required(tls_poshta):
    """RFC 3207 §4.2: after the handshake the session starts over; MAIL
    before the new EHLO gets 503."""
    with RawSMTP(tls_poshta.smtp_port) as c:
        c.ehlo()
        c.starttls()
        r = c.cmd("MAIL FROM:<a@b.test>")
        assert r.code == 503, f"MAIL after STARTTLS without a new EHLO: {r!r}"
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)


def test_starttls_discards_the_transaction(tls_poshta):
    with RawSMTP(tls_poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        r = c.starttls(expect_220=False)
        if r.code != 220:
            # refusing STARTTLS inside a transaction is acceptable too
            assert r.code >= 500, r
            return
        c.ehlo()
        r = c.cmd("DATA")
        assert r.code == 503, f"DATA after STARTTLS: the old transaction must be gone: {r!r}"
        r = c.cmd("RCPT TO:<postmaster@localhost>")
        assert r.code == 503, f"RCPT after STARTTLS without MAIL: {r!r}"


def test_starttls_pipelined_command_is_discarded_smtp(tls_poshta):
    """CVE-2011-0411 class: a command sent with STARTTLS in one packet is not
    executed inside the TLS session."""
    with RawSMTP(tls_poshta.smtp_port) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
        r = c.reply()
        assert r.code == 220, f"STARTTLS: {r!r}"
        assert c.buf == b"", f"plain-text reply to the injected command: {c.buf!r}"
        c.wrap()
        r = c.cmd("EHLO client.test")
        assert r.code == 250 and len(r.lines) > 1 and r.lines[0].split()[0] == "mx.test", \
            f"first reply under TLS must be the EHLO reply, not one to the injected MAIL: {r!r}"
        r = c.cmd("NOOP")
        assert r.code == 250 and r.enhanced in (None, "2.0.0"), f"stray reply under TLS: {r!r}"
        c.expect("MAIL FROM:<a@b.test>", 250)         # not 503: no injected transaction
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        msg = make_message()
        assert send_data(c, msg).code == 250
        c.expect("QUIT", 221)
    files = tls_poshta.wait_files("postmaster@localhost", 1)
    assert files[0].read_bytes().startswith(b"Return-Path: <a@b.test>\n"), \
        f"the injected sender was used: {files[0].read_bytes()[:200]!r}"


def test_starttls_pipelined_auth_is_discarded_submission(tls_poshta):
    with RawSMTP(tls_poshta.submission_port) as c:
        c.ehlo()
        c.send(f"STARTTLS\r\nAUTH PLAIN {plain_token(USER)}\r\n".encode())
        r = c.reply()
        assert r.code == 220, f"STARTTLS: {r!r}"
        assert c.buf == b"", f"plain-text reply to the injected command: {c.buf!r}"
        c.wrap()
        r = c.cmd("EHLO client.test")
        assert r.code == 250 and len(r.lines) > 1 and r.lines[0].split()[0] == "mx.test", \
            f"first reply under TLS must be the EHLO reply: {r!r}"
        r = c.cmd(f"MAIL FROM:<{USER}>")
        assert r.code == 530, \
            f"AUTH sent in plain text before the handshake must not authenticate the TLS session: {r!r}"


def test_starttls_with_a_parameter_is_501(tls_poshta):
    with RawSMTP(tls_poshta.smtp_port) as c:
        c.ehlo()
        r = c.cmd("STARTTLS now")
        assert r.code == 501, f"RFC 3207 §4: STARTTLS takes no parameters: {r!r}"
        c.starttls()
        c.ehlo()


@pytest.mark.parametrize("kind", ["smtp", "submission", "submissions"])
def test_starttls_under_tls_is_refused(tls_poshta, kind):
    c, _ = connect(tls_poshta, kind)
    with c:
        r = c.cmd("STARTTLS")
        assert 500 <= r.code < 600, f"STARTTLS with TLS already active: {r!r}"
        c.expect("NOOP", 250)


# --------------------------------------------------------------------------
# TLS versions


@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
@pytest.mark.parametrize("kind", ["smtp", "submission", "submissions"])
def test_tls_1_2_and_1_3_work(tls_poshta, kind, version):
    v = getattr(ssl.TLSVersion, version)
    c, _ = connect(tls_poshta, kind, context=client_context(minimum=v, maximum=v))
    with c:
        assert c.tls_version() == version.replace("_", "."), c.tls_version()
        c.expect("NOOP", 250)


def old_tls_context(version):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        v = getattr(ssl.TLSVersion, version)
        return client_context(minimum=v, maximum=v, ciphers="DEFAULT:@SECLEVEL=0")


@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_old_tls_versions_are_refused(tls_poshta, kind, version):
    ctx = old_tls_context(version)
    with pytest.raises((ssl.SSLError, ConnectionError, ConnectionClosed, OSError)):
        if kind == "submissions":
            RawSMTPS(tls_poshta.submissions_port, context=ctx).close()
        else:
            with RawSMTP(tls_poshta.submission_port) as c:
                c.ehlo()
                c.starttls(ctx)
                c.cmd("EHLO client.test")   # TLS 1.3 may report a failure only here
    # and the server goes on serving
    c, _ = connect(tls_poshta, kind)
    with c:
        c.expect("NOOP", 250)


def test_openssl_s_client_tls1_1_handshake_fails(tls_poshta, tmp_path):
    cmd = ["openssl", "s_client", "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", "-connect"]
    # control: this client can do TLS 1.1 against a server that allows it
    cert, key = make_self_signed(str(tmp_path), "control.test")
    port = free_port()
    server = subprocess.Popen(["openssl", "s_server", "-accept", f"{HOST}:{port}", "-cert", cert,
                               "-key", key, "-cipher", "DEFAULT@SECLEVEL=0", "-quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline_poll(lambda: server.poll() is not None or _connectable(port), 10,
                      "openssl s_server to listen")
        ctl = subprocess.run(cmd + [f"{HOST}:{port}"], input="", capture_output=True, text=True,
                             timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
        server.wait()
    if not handshake_done(ctl.stdout):
        pytest.skip("this openssl cannot negotiate TLS 1.1 at all; the check would prove nothing")
    r = subprocess.run(cmd + [f"{HOST}:{tls_poshta.submissions_port}"], input="",
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and not handshake_done(r.stdout), \
        f"a TLS 1.1 handshake with submissions succeeded:\n{r.stdout[-2000:]}"
    r = subprocess.run(cmd + [f"{HOST}:{tls_poshta.submission_port}", "-starttls", "smtp"],
                       input="", capture_output=True, text=True, timeout=30)
    assert r.returncode != 0 and not handshake_done(r.stdout), \
        f"a TLS 1.1 handshake after STARTTLS succeeded:\n{r.stdout[-2000:]}"


def handshake_done(s_client_output):
    """openssl s_client printed a negotiated cipher (a failed handshake
    prints 'Cipher is (NONE)')."""
    return re.search(r"Cipher is (?!\(NONE\))\S+", s_client_output) is not None


def _connectable(port):
    try:
        socket.create_connection((HOST, port), timeout=1).close()
        return True
    except OSError:
        return False


# --------------------------------------------------------------------------
# certificates


def cert_text(path):
    r = subprocess.run(["openssl", "x509", "-in", str(path), "-noout", "-text"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"{path} is not a PEM certificate: {r.stderr}"
    return r.stdout


def test_self_signed_certificate_is_generated_and_reused(tls_poshta):
    tls = tls_poshta.data_dir / "tls"
    cert, key = tls / "cert.pem", tls / "key.pem"
    assert cert.is_file() and key.is_file(), \
        f"without [tls], {cert} and {key} must be made on first start: {list(tls_poshta.data_dir.iterdir())}"
    text = cert_text(cert)
    assert "mx.test" in text, f"the generated certificate must name the hostname mx.test:\n{text}"
    r = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-checkend", "86400"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, "the generated certificate expires within a day"
    assert key.stat().st_mode & 0o007 == 0, \
        f"the private key must not be readable by others: mode {oct(key.stat().st_mode)}"
    der = pem_file_der(cert)
    assert peer_cert_der(tls_poshta.submissions_port) == der, "submissions serves another certificate"
    assert peer_cert_der(tls_poshta.submission_port, starttls=True) == der, \
        "submission (STARTTLS) serves another certificate"
    assert peer_cert_der(tls_poshta.smtp_port, starttls=True) == der, \
        "smtp (STARTTLS) serves another certificate"
    before = (cert.read_bytes(), key.read_bytes())
    tls_poshta.restart()
    wait_listening(tls_poshta)
    assert (cert.read_bytes(), key.read_bytes()) == before, "the certificate was made anew on restart"
    assert peer_cert_der(tls_poshta.submissions_port) == der, \
        "after a restart the server presents another certificate"


def test_configured_certificate_is_served(tls_poshta_factory, tmp_path):
    cert, key = make_self_signed(str(tmp_path), "configured.test")
    server = tls_poshta_factory(extra_toml=f'[tls]\ncertificate = "{cert}"\nprivate_key = "{key}"\n')
    der = pem_file_der(cert)
    assert peer_cert_der(server.submissions_port) == der
    assert peer_cert_der(server.submission_port, starttls=True) == der
    assert peer_cert_der(server.smtp_port, starttls=True) == der


def test_sighup_reloads_certificate_and_keeps_connections(tls_poshta_factory, tmp_path):
    cert, key = make_self_signed(str(tmp_path), "first.test")
    server = tls_poshta_factory(extra_toml=f'[tls]\ncertificate = "{cert}"\nprivate_key = "{key}"\n')
    first = pem_file_der(cert)
    assert peer_cert_der(server.submissions_port) == first
    # sessions open across the reload: one mid-transaction on each TLS kind
    open_sessions = []
    for kind in ("submission", "submissions"):
        c = authed(server, kind, timeout=30)
        c.expect(f"MAIL FROM:<{USER}>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        open_sessions.append(c)
    newdir = tmp_path / "new"
    newdir.mkdir()
    ncert, nkey = make_self_signed(str(newdir), "second.test")
    second = pem_file_der(ncert)
    assert second != first
    os.replace(nkey, key)
    os.replace(ncert, cert)
    server.proc.send_signal(signal.SIGHUP)
    deadline_poll(lambda: peer_cert_der(server.submissions_port) == second, 10,
                  "new submissions connections to see the replaced certificate after SIGHUP")
    assert peer_cert_der(server.submission_port, starttls=True) == second
    assert peer_cert_der(server.smtp_port, starttls=True) == second
    assert server.running
    msgs = []
    for c in open_sessions:
        with c:
            assert c.sock.getpeercert(binary_form=True) == first
            msg = make_message(sender=USER)
            rep = send_data(c, msg)
            assert rep.code == 250, f"a session open across SIGHUP could not finish: {rep!r}"
            c.expect("QUIT", 221)
            msgs.append(msg)
    files = server.wait_files("postmaster@localhost", 2)
    stored = sorted(to_lf(f.read_bytes()) for f in files)
    for m in msgs:
        assert any(s.endswith(to_lf(m)) for s in stored), "a message sent across SIGHUP is missing"


# --------------------------------------------------------------------------
# AUTH (RFC 4954)


def test_auth_before_starttls_is_538(tls_poshta):
    with RawSMTP(tls_poshta.submission_port) as c:
        c.ehlo()
        for cmd in (f"AUTH PLAIN {plain_token(USER)}", "AUTH LOGIN", "AUTH PLAIN"):
            r = c.cmd(cmd)
            assert r.code == 538 and r.enhanced == "5.7.11", f"{cmd.split()[:2]} in plain text: {r!r}"
        r = c.cmd(f"MAIL FROM:<{USER}>")
        assert r.code == 530, f"MAIL after a refused plain-text AUTH: {r!r}"
        # the session goes on: STARTTLS, then AUTH works
        c.starttls()
        c.ehlo()
        c.expect(f"AUTH PLAIN {plain_token(USER)}", 235)


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_auth_plain_initial_response(tls_poshta, kind):
    c, _ = connect(tls_poshta, kind)
    with c:
        r = c.cmd(f"AUTH PLAIN {plain_token(USER)}")
        assert r.code == 235 and r.enhanced == "2.7.0", r
        c.expect(f"MAIL FROM:<{USER}>", 250)


def test_auth_plain_without_initial_response(tls_poshta):
    c, _ = connect(tls_poshta, "submission")
    with c:
        r = c.cmd("AUTH PLAIN")
        assert r.code == 334 and r.text.strip() == "", f"expected an empty 334 challenge: {r!r}"
        r = c.cmd(plain_token(USER))
        assert r.code == 235 and r.enhanced == "2.7.0", r
        c.expect(f"MAIL FROM:<{USER}>", 250)


def test_auth_plain_empty_initial_response(tls_poshta):
    """RFC 4954 §4: '=' is an empty initial response; for PLAIN that cannot
    authenticate anyone."""
    c, _ = connect(tls_poshta, "submission", timeout=AUTH_TIMEOUT)
    with c:
        r = c.cmd("AUTH PLAIN =")
        assert r.code in (501, 535), f"AUTH PLAIN with an empty response: {r!r}"
        c.expect(f"MAIL FROM:<{USER}>", 530)


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_auth_login(tls_poshta, kind):
    c, _ = connect(tls_poshta, kind)
    with c:
        r = c.cmd("AUTH LOGIN")
        assert r.code == 334 and r.text.strip() == "VXNlcm5hbWU6", f"expected 334 VXNlcm5hbWU6: {r!r}"
        r = c.cmd(b64(USER))
        assert r.code == 334 and r.text.strip() == "UGFzc3dvcmQ6", f"expected 334 UGFzc3dvcmQ6: {r!r}"
        r = c.cmd(b64(PASSWORD))
        assert r.code == 235 and r.enhanced == "2.7.0", r
        c.expect(f"MAIL FROM:<{USER}>", 250)


@pytest.mark.parametrize("where", ["plain", "login-username", "login-password"])
def test_auth_cancel_with_star(tls_poshta, where):
    c, _ = connect(tls_poshta, "submission")
    with c:
        if where == "plain":
            c.expect("AUTH PLAIN", 334)
        else:
            c.expect("AUTH LOGIN", 334)
            if where == "login-password":
                c.expect(b64(USER), 334)
        r = c.cmd("*")
        assert r.code == 501, f"'*' cancels the exchange with 501 (RFC 4954 §4): {r!r}"
        r = c.cmd(f"MAIL FROM:<{USER}>")
        assert r.code == 530, f"a cancelled AUTH must not authenticate: {r!r}"
        c.expect(f"AUTH PLAIN {plain_token(USER)}", 235)
        c.expect(f"MAIL FROM:<{USER}>", 250)


@pytest.mark.parametrize("who", ["wrong-password", "unknown-user"])
@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_auth_failure_is_535(tls_poshta, who, mech):
    user, pw = (USER, "wrong password") if who == "wrong-password" else ("nobody@localhost", PASSWORD)
    c, _ = connect(tls_poshta, "submission", timeout=AUTH_TIMEOUT)
    with c:
        if mech == "PLAIN":
            r = c.cmd(f"AUTH PLAIN {plain_token(user, pw)}")
        else:
            c.expect("AUTH LOGIN", 334)
            c.expect(b64(user), 334)
            r = c.cmd(b64(pw))
        assert r.code == 535 and r.enhanced == "5.7.8", f"{who} with {mech}: {r!r}"
        r = c.cmd(f"MAIL FROM:<{USER}>")
        assert r.code == 530, f"MAIL after a failed AUTH: {r!r}"
        # a later good attempt on the same connection succeeds
        c.expect(f"AUTH PLAIN {plain_token(USER)}", 235)


def test_auth_authzid_of_another_user_does_not_grant_it(tls_poshta):
    tls_poshta.add_user("boss@localhost", "boss password")
    c, _ = connect(tls_poshta, "submission", timeout=AUTH_TIMEOUT)
    with c:
        r = c.cmd(f"AUTH PLAIN {plain_token(USER, PASSWORD, authzid='boss@localhost')}")
        assert r.code in (235, 501, 535), r
        if r.code == 235:
            r = c.cmd("MAIL FROM:<boss@localhost>")
            assert r.code == 553, f"authorisation identity boss@ granted to {USER}: {r!r}"
        else:
            r = c.cmd("MAIL FROM:<boss@localhost>")
            assert r.code == 530, f"MAIL after a refused AUTH: {r!r}"


def failures_until_421(conn, limit):
    """Sends wrong AUTH PLAIN until 421; returns the codes seen."""
    codes = []
    for _ in range(limit + 2):
        try:
            r = conn.cmd(f"AUTH PLAIN {plain_token(USER, 'wrong ' + unique())}")
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError, ssl.SSLError) as e:
            raise AssertionError(f"connection closed without a 421 after {codes}: {e!r}")
        codes.append(r.code)
        if r.code == 421:
            return codes
        assert r.code == 535, f"failed AUTH: expected 535 or 421, got {r!r} (codes so far {codes})"
    raise AssertionError(f"no 421 after {codes}")


@pytest.mark.parametrize("limit", [None, 5])
def test_auth_failures_limit_closes_with_421(tls_poshta_factory, limit):
    server = tls_poshta_factory(limits={"auth_failures": str(limit)} if limit else None)
    expected = limit or 3
    c, _ = connect(server, "submission", timeout=AUTH_TIMEOUT)
    with c:
        codes = failures_until_421(c, expected)
        fails = codes.count(535)
        assert expected - 1 <= fails <= expected, \
            f"auth_failures = {expected}: got {fails} times 535 before the 421 ({codes})"
        data = c.read_until_closed(timeout=10)
        assert b"235" not in data, data
    # a fresh connection is served
    c = authed(server, "submission", timeout=AUTH_TIMEOUT)
    c.close()


def test_auth_failures_below_the_limit_then_success(tls_poshta):
    c, _ = connect(tls_poshta, "submission", timeout=AUTH_TIMEOUT)
    with c:
        r = c.cmd(f"AUTH PLAIN {plain_token(USER, 'wrong')}")
        assert r.code == 535, r
        r = c.cmd(f"AUTH PLAIN {plain_token(USER)}")
        assert r.code == 235, f"a good AUTH after one failure (limit 3): {r!r}"


def test_auth_twice_is_503(tls_poshta):
    c = authed(tls_poshta)
    with c:
        r = c.cmd(f"AUTH PLAIN {plain_token(USER)}")
        assert r.code == 503, f"AUTH after a successful AUTH (RFC 4954 §4): {r!r}"
        c.expect(f"MAIL FROM:<{USER}>", 250)


@pytest.mark.parametrize("where", ["plain-ir", "plain-continuation", "login-username"])
def test_auth_bad_base64_is_501(tls_poshta, where):
    c, _ = connect(tls_poshta, "submission")
    with c:
        if where == "plain-ir":
            r = c.cmd("AUTH PLAIN %%%not-base64%%%")
        elif where == "plain-continuation":
            c.expect("AUTH PLAIN", 334)
            r = c.cmd("%%%not-base64%%%")
        else:
            c.expect("AUTH LOGIN", 334)
            r = c.cmd("%%%not-base64%%%")
        assert r.code == 501 and r.enhanced == "5.5.2", f"bad base64 ({where}): {r!r}"
        c.expect(f"MAIL FROM:<{USER}>", 530)
        c.expect(f"AUTH PLAIN {plain_token(USER)}", 235)


def test_auth_unknown_mechanism(tls_poshta):
    c, _ = connect(tls_poshta, "submission", timeout=AUTH_TIMEOUT)
    with c:
        r = c.cmd("AUTH CRAM-MD5")
        assert r.code in (504, 535), f"an unsupported mechanism (RFC 4954 §4: 504): {r!r}"
        c.expect(f"MAIL FROM:<{USER}>", 530)
        c.expect(f"AUTH PLAIN {plain_token(USER)}", 235)


# --------------------------------------------------------------------------
# submission policy (RFC 6409, SPEC promise 2)


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_mail_before_auth_is_530(tls_poshta, kind):
    c, _ = connect(tls_poshta, kind)
    with c:
        r = c.cmd(f"MAIL FROM:<{USER}>")
        assert r.code == 530 and r.enhanced == "5.7.0", f"MAIL before AUTH on {kind}: {r!r}"


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_envelope_sender_must_belong_to_the_user(tls_poshta, kind):
    tls_poshta.add_user("other@localhost")
    tls_poshta.cli_ok("alias", "add", "me@example.test", USER)
    c = authed(tls_poshta, kind)
    with c:
        for sender, codes in ((USER, (250,)), ("me@example.test", (250,)),
                              ("you@LOCALHOST", (250,)),
                              ("other@localhost", (553,)), ("someone-else@localhost", (553,)),
                              ("you@remote.example", (553,)), ("postmaster@localhost", (553,))):
            r = c.cmd(f"MAIL FROM:<{sender}>")
            assert r.code in codes, f"MAIL FROM:<{sender}> as {USER}: expected {codes}, got {r!r}"
            if r.code == 553:
                assert r.enhanced == "5.7.1", f"MAIL FROM:<{sender}>: {r!r}"
            c.expect("RSET", 250)


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_authenticated_relay_is_queued_not_delivered_locally(tls_poshta, kind):
    tag = "relay-" + unique()
    msg = make_message(sender=USER, to=REMOTE, subject=tag)
    c = authed(tls_poshta, kind)
    with c:
        c.expect(f"MAIL FROM:<{USER}>", 250)
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.code == 250, f"RCPT to a remote domain after AUTH (relay): {r!r}"
        rep = send_data(c, msg)
        assert rep.code == 250, rep
        assert queued_with(tls_poshta, tag.encode()), \
            "the 250 came but the relayed message is not under <data_dir>/queue"
        c.expect("QUIT", 221)
    assert tls_poshta.running, "the server died with a relayed message"
    assert_not_delivered_anywhere(tls_poshta, tag.encode())
    assert queued_with(tls_poshta, tag.encode()), "the relayed message left the queue"
    assert tls_poshta.running


def test_mixed_local_and_remote_recipients(tls_poshta):
    tag = "mixed-" + unique()
    msg = make_message(sender=USER, to=REMOTE, subject=tag)
    rep, version = submit(tls_poshta, msg, [REMOTE, "postmaster@localhost"])
    (content,) = tls_poshta.wait_messages("postmaster@localhost", 1)
    check_stored(content, USER, "postmaster@localhost", msg, proto="ESMTPSA",
                 queue_id_in=rep.text)
    deadline_poll(lambda: queued_with(tls_poshta, tag.encode()), 10,
                  "the copy for the remote recipient to wait in the queue")
    assert tls_poshta.running


@pytest.mark.parametrize("kind,version", [("submission", "TLSv1_3"), ("submission", "TLSv1_2"),
                                          ("submissions", "TLSv1_3"), ("submissions", "TLSv1_2")])
def test_local_delivery_and_received_field(tls_poshta, kind, version):
    v = getattr(ssl.TLSVersion, version)
    tls_poshta.add_user("friend@example.test")
    msg = make_message(sender=USER, to="friend@example.test")
    rep, negotiated = submit(tls_poshta, msg, ["friend@example.test"], kind,
                             context=client_context(minimum=v, maximum=v))
    assert negotiated == version.replace("_", ".")
    files = tls_poshta.wait_files("friend@example.test", 1)
    content = files[0].read_bytes()
    check_stored(content, USER, "friend@example.test", msg, proto="ESMTPSA", name=files[0].name,
                 queue_id_in=rep.text)
    check_received_tls(content, negotiated)


def test_smtp_starttls_received_field(tls_poshta):
    """Unauthenticated mail over STARTTLS on the smtp listener: 'with ESMTPS'
    (RFC 3848) and the TLS version."""
    msg = make_message()
    c, _ = connect(tls_poshta, "smtp")
    with c:
        c.expect("MAIL FROM:<a@b.test>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        assert send_data(c, msg).code == 250
        version = c.tls_version()
    files = tls_poshta.wait_files("postmaster@localhost", 1)
    content = files[0].read_bytes()
    check_stored(content, "a@b.test", "postmaster@localhost", msg, proto="ESMTPS", name=files[0].name)
    check_received_tls(content, version, user=None)
    # and mail without TLS does not claim it
    plain = make_message()
    assert smtp_send(tls_poshta.smtp_port, "a@b.test", ["postmaster@localhost"], plain) == {}
    files = tls_poshta.wait_files("postmaster@localhost", 2)
    content = next(f.read_bytes() for f in files if f.read_bytes().endswith(to_lf(plain)))
    check_stored(content, "a@b.test", "postmaster@localhost", plain, proto="ESMTP")
    assert "TLS" not in unfolded_received(content), unfolded_received(content)


@pytest.mark.parametrize("missing", [("message-id", "date"), ("message-id",), ("date",)])
def test_submission_adds_missing_message_id_and_date(tls_poshta, missing):
    tag = "bare-" + unique()
    msg = bare_message(tag, date="date" not in missing, msgid="message-id" not in missing)
    submit(tls_poshta, msg, ["postmaster@localhost"])
    (content,) = tls_poshta.wait_messages("postmaster@localhost", 1)
    values = check_added_fields(content, msg, missing)
    if "message-id" in values:
        assert re.match(r"^<[^<>@\s]+@[^<>@\s]+>$", values["message-id"]), \
            f"added Message-ID is not msg-id syntax: {values['message-id']!r}"
    if "date" in values:
        parsed = email.utils.parsedate_to_datetime(values["date"])
        assert abs(parsed.timestamp() - time.time()) < 3600, f"added Date: {values['date']!r}"


def test_submission_keeps_message_id_and_date(tls_poshta):
    msg = make_message(sender=USER)
    rep, _ = submit(tls_poshta, msg, ["postmaster@localhost"], kind="submissions")
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA",
                     queue_id_in=rep.text)


def test_password_never_stored_or_logged(tls_poshta):
    secret = "s3cret-" + unique()
    wrong = "wr0ng-" + unique()
    tls_poshta.add_user("kim@localhost", secret)
    tokens = [secret, wrong, plain_token("kim@localhost", secret), b64(secret),
              plain_token("kim@localhost", wrong), b64(wrong)]
    c, _ = connect(tls_poshta, "submission", timeout=AUTH_TIMEOUT)
    with c:
        assert c.cmd(f"AUTH PLAIN {plain_token('kim@localhost', wrong)}").code == 535
        c.expect("AUTH LOGIN", 334)
        c.expect(b64("kim@localhost"), 334)
        c.expect(b64(secret), 235)
        c.expect("MAIL FROM:<kim@localhost>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        assert send_data(c, make_message(sender="kim@localhost")).code == 250
        c.expect("QUIT", 221)
    c = authed(tls_poshta, "submissions", user="kim@localhost", password=secret)
    with c:
        c.expect("MAIL FROM:<kim@localhost>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        assert send_data(c, make_message(sender="kim@localhost")).code == 250
        c.expect("QUIT", 221)
    files = tls_poshta.wait_files("postmaster@localhost", 2)
    for f in files:
        content = f.read_bytes()
        assert b"kim@localhost" in unfolded_received(content).encode(), unfolded_received(content)
        for t in tokens:
            assert t.encode() not in content, f"{f.name} contains a password or its encoding {t!r}"
    tls_poshta.stop()
    log = tls_poshta.log.read_bytes()
    for t in tokens:
        assert t.encode() not in log, f"the server log contains a password or its encoding {t!r}"


# --------------------------------------------------------------------------
# no open relay on any listener (SPEC promise 2)


@pytest.mark.parametrize("kind", ["smtp", "submission", "submissions"])
def test_no_open_relay_unauthenticated_under_tls(tls_poshta, kind):
    c, _ = connect(tls_poshta, kind)
    with c:
        r = c.cmd("MAIL FROM:<a@b.test>")
        if kind == "submission":
            assert r.code == 530, f"MAIL before AUTH on submission: {r!r}"
            return
        if r.code == 530:
            return          # submissions may require AUTH before MAIL too
        assert r.code == 250, r
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.code in (550, 554) and r.enhanced == "5.7.1", \
            f"unauthenticated RCPT to a remote domain on {kind} under TLS: {r!r}"
        r = c.cmd("DATA")
        assert r.code in (503, 554), f"DATA without an accepted recipient: {r!r}"


def test_no_open_relay_after_failed_auth(tls_poshta):
    c, _ = connect(tls_poshta, "submissions", timeout=AUTH_TIMEOUT)
    with c:
        assert c.cmd(f"AUTH PLAIN {plain_token(USER, 'nope')}").code == 535
        r = c.cmd("MAIL FROM:<a@b.test>")
        if r.code == 250:
            r = c.cmd(f"RCPT TO:<{REMOTE}>")
            assert r.code in (550, 554), f"relay after a failed AUTH: {r!r}"
        else:
            assert r.code == 530, r


def test_no_open_relay_smtp_plain(tls_poshta):
    with RawSMTP(tls_poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.code in (550, 554) and r.enhanced == "5.7.1", r
        c.expect("RCPT TO:<postmaster@localhost>", 250)


@pytest.mark.parametrize("networks", ['["127.0.0.0/8"]', '["127.0.0.1"]',
                                      '["::1/128", "127.0.0.1/32"]'])
def test_trusted_networks_may_relay_on_smtp(tls_poshta_factory, networks):
    server = tls_poshta_factory(top_level=f"trusted_networks = {networks}")
    tag = "trusted-" + unique()
    msg = make_message(to=REMOTE, subject=tag)
    with RawSMTP(server.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.code == 250, f"a client in trusted_networks may relay without AUTH: {r!r}"
        assert send_data(c, msg).code == 250
        c.expect("QUIT", 221)
    deadline_poll(lambda: queued_with(server, tag.encode()), 10, "the relayed message in the queue")
    assert_not_delivered_anywhere(server, tag.encode())
    assert server.running


def test_trusted_networks_elsewhere_do_not_open_relay(tls_poshta_factory):
    server = tls_poshta_factory(top_level='trusted_networks = ["10.0.0.0/8", "192.168.0.0/16"]')
    for tls in (False, True):
        with RawSMTP(server.smtp_port) as c:
            c.ehlo()
            if tls:
                c.starttls()
                c.ehlo()
            c.expect("MAIL FROM:<a@b.test>", 250)
            r = c.cmd(f"RCPT TO:<{REMOTE}>")
            assert r.code in (550, 554) and r.enhanced == "5.7.1", \
                f"127.0.0.1 is not in trusted_networks (tls={tls}): {r!r}"


# --------------------------------------------------------------------------
# real clients (SPEC promise 6)


def test_smtplib_starttls_login_sendmail(tls_poshta):
    msg = make_message(sender=USER)
    with smtplib.SMTP(HOST, tls_poshta.submission_port, timeout=30) as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls") and not s.has_extn("auth")
        s.starttls(context=client_context())
        s.ehlo("client.test")
        assert s.has_extn("auth") and not s.has_extn("starttls")
        s.login(USER, PASSWORD)
        assert s.sendmail(USER, ["postmaster@localhost"], msg) == {}
        version = s.sock.version()
    files = tls_poshta.wait_files("postmaster@localhost", 1)
    check_stored(files[0].read_bytes(), USER, "postmaster@localhost", msg, proto="ESMTPSA",
                 name=files[0].name)
    check_received_tls(files[0].read_bytes(), version)


def test_smtplib_smtp_ssl_on_submissions(tls_poshta):
    msg = make_message(sender=USER)
    with smtplib.SMTP_SSL(HOST, tls_poshta.submissions_port, timeout=30,
                          context=client_context()) as s:
        s.login(USER, PASSWORD)
        assert s.sendmail(USER, ["postmaster@localhost", REMOTE], msg) == {}
        version = s.sock.version()
    files = tls_poshta.wait_files("postmaster@localhost", 1)
    check_stored(files[0].read_bytes(), USER, "postmaster@localhost", msg, proto="ESMTPSA",
                 name=files[0].name)
    check_received_tls(files[0].read_bytes(), version)


@pytest.mark.parametrize("initial_response", [False, True], ids=["two-prompts", "initial-response"])
def test_smtplib_auth_login(tls_poshta, initial_response):
    """smtplib's AUTH LOGIN; with initial_response_ok it sends the user name
    with the command (RFC 4954 §4 initial response)."""
    msg = make_message(sender=USER)
    with smtplib.SMTP(HOST, tls_poshta.submission_port, timeout=30) as s:
        s.starttls(context=client_context())
        s.ehlo("client.test")
        s.user, s.password = USER, PASSWORD
        code, _ = s.auth("LOGIN", s.auth_login, initial_response_ok=initial_response)
        assert code == 235
        assert s.sendmail(USER, ["postmaster@localhost"], msg) == {}
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA")


def write_lf_file(path, msg):
    path.write_bytes(to_lf(msg).rstrip(b"\n"))


def run_swaks(args):
    """Runs swaks; skips when this swaks cannot do TLS at all (Debian's
    swaks needs the package libnet-ssleay-perl for --tls/--tlsc)."""
    r = subprocess.run(["swaks", *args], capture_output=True, text=True, timeout=90)
    if "TLS not available" in r.stderr or "requires Net::SSLeay" in r.stderr:
        pytest.skip("swaks has no TLS support here (install libnet-ssleay-perl): " + r.stderr.strip())
    return r


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_swaks_starttls_auth(tls_poshta, tmp_path, mech):
    msg = make_message(sender=USER)
    f = tmp_path / "msg.txt"
    write_lf_file(f, msg)
    r = run_swaks(["--server", f"{HOST}:{tls_poshta.submission_port}", "--tls",
                        "--auth", mech, "--auth-user", USER, "--auth-password", PASSWORD,
                        "--from", USER, "--to", "postmaster@localhost", "--helo", "client.test",
                        "--data", f"@{f}", "--timeout", "30"])
    assert r.returncode == 0, f"swaks failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    assert re.search(r"<~\s+235", r.stdout), r.stdout
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA")


def test_swaks_implicit_tls_on_submissions(tls_poshta, tmp_path):
    msg = make_message(sender=USER)
    f = tmp_path / "msg.txt"
    write_lf_file(f, msg)
    r = run_swaks(["--server", f"{HOST}:{tls_poshta.submissions_port}", "--tlsc",
                        "--auth", "PLAIN", "--auth-user", USER, "--auth-password", PASSWORD,
                        "--from", USER, "--to", "postmaster@localhost", "--helo", "client.test",
                        "--data", f"@{f}", "--timeout", "30"])
    assert r.returncode == 0, f"swaks failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA")


def test_swaks_starttls_without_auth_on_submission_fails(tls_poshta):
    r = run_swaks(["--server", f"{HOST}:{tls_poshta.submission_port}", "--tls",
                        "--from", USER, "--to", "postmaster@localhost", "--timeout", "30"])
    assert r.returncode != 0, f"swaks without AUTH on submission succeeded:\n{r.stdout}"
    assert re.search(r"<~\*?\s+530", r.stdout), r.stdout
    assert tls_poshta.new_files("postmaster@localhost") == []


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_curl(tls_poshta, tmp_path, kind):
    msg = make_message(sender=USER)
    f = tmp_path / "msg.eml"
    f.write_bytes(msg)
    url = (f"smtp://{HOST}:{tls_poshta.submission_port}" if kind == "submission"
           else f"smtps://{HOST}:{tls_poshta.submissions_port}")
    r = subprocess.run(["curl", "-sS", "--max-time", "60", "--ssl-reqd", "-k", url,
                        "--user", f"{USER}:{PASSWORD}", "--mail-from", USER,
                        "--mail-rcpt", "postmaster@localhost", "--upload-file", str(f)],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, f"curl failed ({r.returncode}): {r.stderr}"
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA")


def test_curl_wrong_password_fails(tls_poshta, tmp_path):
    f = tmp_path / "msg.eml"
    f.write_bytes(make_message(sender=USER))
    r = subprocess.run(["curl", "-sS", "--max-time", "60", "--ssl-reqd", "-k",
                        f"smtp://{HOST}:{tls_poshta.submission_port}",
                        "--user", f"{USER}:not-the-password", "--mail-from", USER,
                        "--mail-rcpt", "postmaster@localhost", "--upload-file", str(f)],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 67, f"curl: expected 67 (login denied), got {r.returncode}: {r.stderr}"
    assert tls_poshta.new_files("postmaster@localhost") == []


def s_client(port, lines, starttls=True, timeout=60):
    cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-quiet", "-crlf"]
    if starttls:
        cmd += ["-starttls", "smtp"]
    return subprocess.run(cmd, input="".join(l + "\n" for l in lines), capture_output=True,
                          text=True, timeout=timeout)


def test_openssl_s_client_starttls_shows_auth(tls_poshta):
    r = s_client(tls_poshta.submission_port, ["EHLO client.test", "QUIT"])
    lines = r.stdout.splitlines()
    assert any(re.match(r"^250[ -]AUTH\b.*\bPLAIN\b", l) for l in lines) and \
        any(re.match(r"^250[ -]AUTH\b.*\bLOGIN\b", l) for l in lines), \
        f"EHLO over openssl s_client -starttls smtp shows no AUTH PLAIN LOGIN:\n{r.stdout}\n{r.stderr[-1500:]}"
    assert not any(re.match(r"^250[ -]STARTTLS", l) for l in lines), r.stdout
    assert any(l.startswith("221") for l in lines), r.stdout


class SClient:
    """openssl s_client driven line by line: one command, then its reply."""

    def __init__(self, port, starttls, timeout=30):
        cmd = ["openssl", "s_client", "-connect", f"{HOST}:{port}", "-quiet", "-crlf"]
        if starttls:
            cmd += ["-starttls", "smtp"]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.timeout = timeout
        self.buf = b""

    def line(self):
        end = time.monotonic() + self.timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            ready, _, _ = select.select([self.proc.stdout], [], [], max(left, 0))
            if not ready:
                raise AssertionError(f"no reply from openssl s_client; got {self.buf!r}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"openssl s_client ended: {self.buf!r} "
                                     f"{self.proc.stderr.read()[-1500:]!r}")
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self):
        lines = []
        while True:
            lines.append(self.line())
            if re.match(r"^\d{3} ", lines[-1]):
                return int(lines[-1][:3]), lines

    def cmd(self, line, *codes):
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        code, lines = self.reply()
        assert not codes or code in codes, f"{line!r} via s_client: expected {codes}, got {lines}"
        return code, lines

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass


def test_openssl_s_client_submission_transaction(tls_poshta):
    msg = make_message(sender=USER)
    sc = SClient(tls_poshta.submissions_port, starttls=False)
    try:
        code, lines = sc.reply()
        assert code == 220, lines
        sc.cmd("EHLO client.test", 250)
        sc.cmd(f"AUTH PLAIN {plain_token(USER)}", 235)
        sc.cmd(f"MAIL FROM:<{USER}>", 250)
        sc.cmd("RCPT TO:<postmaster@localhost>", 250)
        sc.cmd("DATA", 354)
        body = to_lf(dot_stuff(msg)).rstrip(b"\n")
        sc.proc.stdin.write(body + b"\n")      # -crlf turns each LF into CRLF
        sc.proc.stdin.flush()
        code, lines = sc.reply()
        assert code == 250, lines
        sc.cmd("QUIT", 221)
    finally:
        sc.close()
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA")


def test_smtp_listener_starttls_with_smtplib(tls_poshta):
    """Port-25 role: STARTTLS then unauthenticated mail to a local user."""
    msg = make_message(to=USER)
    with smtplib.SMTP(HOST, tls_poshta.smtp_port, timeout=30) as s:
        s.starttls(context=client_context())
        assert s.sendmail("a@b.test", [USER], msg) == {}
    check_one_stored(tls_poshta, USER, "a@b.test", msg, proto="ESMTPS")


def test_server_survives_handshake_garbage(tls_poshta):
    """A broken handshake costs nothing else (SPEC promise 5)."""
    with socket.create_connection((HOST, tls_poshta.submissions_port), timeout=5) as s:
        s.sendall(b"\x16\x03\x01\x00\x05hello" + os.urandom(200))
        try:
            s.recv(1000)
        except OSError:
            pass
    with RawSMTP(tls_poshta.submission_port) as c:
        c.ehlo()
        c.expect("STARTTLS", 220)
        c.sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            c.sock.settimeout(5)
            c.sock.recv(1000)
        except OSError:
            pass
    assert tls_poshta.running
    c = authed(tls_poshta, "submissions")
    c.close()
    c = authed(tls_poshta, "submission")
    c.close()


# --------------------------------------------------------------------------
# more AUTH input


@pytest.mark.parametrize("password", ["x" * 450, "p\u00e4ssw\u00f6rd \u20ac", "with spaces and :colons:"],
                         ids=["long-over-512-octets", "utf-8", "spaces"])
def test_auth_unusual_passwords(tls_poshta, password):
    """RFC 4954 §4: an AUTH line may be up to 12288 octets, longer than the
    512 of other commands; SASL PLAIN passwords are UTF-8 (RFC 4616)."""
    tls_poshta.add_user("odd@localhost", password)
    c, _ = connect(tls_poshta, "submissions")
    with c:
        r = c.cmd(f"AUTH PLAIN {plain_token('odd@localhost', password)}")
        assert r.code == 235, f"AUTH PLAIN with a {len(password)}-character password: {r!r}"
        c.expect("MAIL FROM:<odd@localhost>", 250)
    c, _ = connect(tls_poshta, "submission")
    with c:
        c.expect("AUTH LOGIN", 334)
        c.expect(b64("odd@localhost"), 334)
        r = c.cmd(b64(password))
        assert r.code == 235, f"AUTH LOGIN with a {len(password)}-character password: {r!r}"


@pytest.mark.parametrize("response", ["\0onlyuser", "user-without-nul", "\0you@localhost\0",
                                      "a\0b\0c\0d"], ids=["one-nul", "no-nul", "empty-password",
                                                          "three-nuls"])
def test_auth_malformed_plain_response(tls_poshta, response):
    c, _ = connect(tls_poshta, "submission", timeout=AUTH_TIMEOUT)
    with c:
        r = c.cmd(f"AUTH PLAIN {b64(response)}")
        assert r.code in (501, 535), f"malformed PLAIN response {response!r}: {r!r}"
        c.expect(f"MAIL FROM:<{USER}>", 530)
        c.expect(f"AUTH PLAIN {plain_token(USER)}", 235)


# --------------------------------------------------------------------------
# data over TLS


@pytest.mark.parametrize("kind", ["submission", "submissions"])
def test_large_message_over_tls(tls_poshta, kind):
    """Many TLS records: the framing must not depend on record boundaries."""
    body = [f"{i:06d} " + ("abcdefghij" * 9) for i in range(8000)]     # ~800 KB
    body[100] = "."
    body[4000] = ".leading dot"
    msg = make_message(sender=USER, body=body)
    rep, _ = submit(tls_poshta, msg, ["postmaster@localhost"], kind)
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA",
                     queue_id_in=rep.text, timeout=30)


def test_bdat_over_tls(tls_poshta):
    msg = make_message(sender=USER)
    c = authed(tls_poshta, "submissions")
    with c:
        c.expect(f"MAIL FROM:<{USER}>", 250)
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        half = len(msg) // 2
        c.send(f"BDAT {half}\r\n".encode() + msg[:half])
        assert c.reply().code == 250
        c.send(f"BDAT {len(msg) - half} LAST\r\n".encode() + msg[half:])
        rep = c.reply()
        assert rep.code == 250, rep
        c.expect("QUIT", 221)
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA",
                     queue_id_in=rep.text)


def test_twenty_concurrent_tls_clients(tls_poshta):
    import threading
    errors, sent = [], []
    lock = threading.Lock()

    def client(i):
        try:
            if i % 2:
                s = smtplib.SMTP_SSL(HOST, tls_poshta.submissions_port, timeout=60,
                                     context=client_context())
            else:
                s = smtplib.SMTP(HOST, tls_poshta.submission_port, timeout=60)
                s.starttls(context=client_context())
            with s:
                s.login(USER, PASSWORD)
                for j in range(2):
                    m = make_message(sender=USER, subject=f"tls {i}-{j} {unique()}")
                    assert s.sendmail(USER, ["postmaster@localhost"], m) == {}
                    with lock:
                        sent.append(m)
        except Exception as e:          # reported below
            errors.append(f"client {i}: {e!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:5]
    files = tls_poshta.wait_files("postmaster@localhost", len(sent), timeout=30)
    assert len(files) == len(sent) == 40
    stored = [f.read_bytes() for f in files]
    for m in sent:
        assert sum(s.endswith(to_lf(m)) for s in stored) == 1, "a message is missing or stored twice"


def test_sighup_with_a_broken_certificate_keeps_serving(tls_poshta_factory, tmp_path):
    cert, key = make_self_signed(str(tmp_path), "first.test")
    server = tls_poshta_factory(extra_toml=f'[tls]\ncertificate = "{cert}"\nprivate_key = "{key}"\n')
    first = pem_file_der(cert)
    good = open(cert, "rb").read()
    with open(cert, "wb") as f:
        f.write(b"-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    server.proc.send_signal(signal.SIGHUP)
    def logged():
        after = server.log_text().split("event=started", 1)[-1].splitlines()
        return [l for l in after if re.search(r"\b(error|warn\w*)\b", l) and "certificate" in l]
    deadline_poll(logged, 10, "the server to log the problem with the certificate")
    assert server.running, "a broken certificate on SIGHUP must not stop the server"
    assert peer_cert_der(server.submissions_port) == first, \
        "after a failed reload the server must keep the certificate it had"
    assert peer_cert_der(server.submission_port, starttls=True) == first
    with open(cert, "wb") as f:
        f.write(good)


# --------------------------------------------------------------------------
# certificate files: chains, EC keys, problems


def openssl(*args, cwd=None):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"
    return r


def make_chain(d):
    """root CA -> intermediate CA -> leaf (EC P-256 key, DNS:mail.chain.test).
    Returns (root.pem, fullchain.pem = leaf + intermediate, leaf.key)."""
    d = str(d)
    ca_ext = os.path.join(d, "ca.ext")
    with open(ca_ext, "w") as f:
        f.write("basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n")
    leaf_ext = os.path.join(d, "leaf.ext")
    with open(leaf_ext, "w") as f:
        f.write("basicConstraints=CA:false\nsubjectAltName=DNS:mail.chain.test\n"
                "extendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n")
    p = lambda name: os.path.join(d, name)      # noqa: E731
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("root.key"), "-out",
            p("root.pem"), "-days", "3", "-subj", "/CN=Poshta Test Root",
            "-addext", "basicConstraints=critical,CA:true",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", p("inter.key"), "-out",
            p("inter.csr"), "-subj", "/CN=Poshta Test Intermediate")
    openssl("x509", "-req", "-in", p("inter.csr"), "-CA", p("root.pem"), "-CAkey", p("root.key"),
            "-set_serial", "2", "-days", "3", "-extfile", ca_ext, "-out", p("inter.pem"))
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", p("leaf.key"), "-out", p("leaf.csr"), "-subj", "/CN=mail.chain.test")
    openssl("x509", "-req", "-in", p("leaf.csr"), "-CA", p("inter.pem"), "-CAkey", p("inter.key"),
            "-set_serial", "3", "-days", "3", "-extfile", leaf_ext, "-out", p("leaf.pem"))
    with open(p("fullchain.pem"), "w") as out:
        out.write(open(p("leaf.pem")).read() + open(p("inter.pem")).read())
    return p("root.pem"), p("fullchain.pem"), p("leaf.key")


def test_full_chain_and_ec_key_verify(tls_poshta_factory, tmp_path):
    """[tls] certificate = fullchain.pem (README): the server sends the
    intermediate too, so a client that trusts only the root verifies it."""
    root, chain, key = make_chain(tmp_path)
    server = tls_poshta_factory(extra_toml=f'[tls]\ncertificate = "{chain}"\nprivate_key = "{key}"\n')
    verifying = ssl.create_default_context(cafile=root)
    with socket.create_connection((HOST, server.submissions_port), timeout=15) as raw:
        with verifying.wrap_socket(raw, server_hostname="mail.chain.test") as s:
            assert s.recv(512).startswith(b"220 "), "no greeting on submissions"
    with smtplib.SMTP(HOST, server.submission_port, timeout=30) as s:
        s._host = "mail.chain.test"          # the name smtplib checks the certificate against
        s.starttls(context=verifying)
        s.ehlo("client.test")
        s.login(USER, PASSWORD)


def test_key_not_matching_the_certificate_refuses_to_start(tls_poshta_factory, tmp_path):
    cert, _key = make_self_signed(str(tmp_path), "one.test", name="one")
    _cert2, key2 = make_self_signed(str(tmp_path), "two.test", name="two")
    server = tls_poshta_factory(extra_toml=f'[tls]\ncertificate = "{cert}"\nprivate_key = "{key2}"\n',
                                start=False, user=None)
    r = subprocess.run([server.bin, "serve", "-c", str(server.cfg)], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, f"serve with a key that does not match the certificate: exit {r.returncode}"
    assert "key" in r.stderr.lower(), f"it must say what is wrong: {r.stderr[-1500:]}"


def test_check_reports_a_missing_certificate_file(tls_poshta_factory, tmp_path):
    """`poshta serve` refuses to start without the configured certificate,
    so `poshta check` ('prints every problem with its line') reports it."""
    missing = tmp_path / "nonexistent" / "fullchain.pem"
    server = tls_poshta_factory(
        extra_toml=f'[tls]\ncertificate = "{missing}"\nprivate_key = "{tmp_path}/nonexistent/key.pem"\n',
        start=False, user=None)
    r = server.cli("check")
    assert r.returncode == 1, \
        f"poshta check on a configuration serve cannot start with: exit {r.returncode}: {r.stdout}{r.stderr}"
    assert str(missing) in r.stdout + r.stderr, f"the problem must name the file: {r.stdout}{r.stderr}"


@pytest.mark.parametrize("value", ['["300.0.0.0/8"]', '["127.0.0.0/33"]', '["nonsense"]',
                                   '"127.0.0.0/8"'])
def test_check_rejects_bad_trusted_networks(tls_poshta_factory, value):
    server = tls_poshta_factory(top_level=f"trusted_networks = {value}", start=False, user=None)
    r = server.cli("check")
    assert r.returncode == 1, f"trusted_networks = {value}: exit {r.returncode}: {r.stdout}{r.stderr}"
    assert "trusted_networks" in r.stdout + r.stderr and ":1:" in r.stdout + r.stderr, \
        f"the problem must name the key and its line: {r.stdout}{r.stderr}"


def test_auth_failure_delay_does_not_stall_other_sessions(tls_poshta):
    """The delay before a 535 grows per client IP; it is a timer, not a
    pause of the server: other sessions (from the same IP too) are answered
    at once meanwhile (SPEC promise 5: bad input costs nothing else)."""
    other, _ = connect(tls_poshta, "submissions")
    c, _ = connect(tls_poshta, "submission")
    with c:
        failures_until_421(c, 3)           # the delay has grown for 127.0.0.1
    a, _ = connect(tls_poshta, "submission")
    with a, other:
        start = time.monotonic()
        a.send(f"AUTH PLAIN {plain_token(USER, 'still wrong')}\r\n".encode())
        t = time.monotonic()
        other.expect("NOOP", 250)
        noop_latency = time.monotonic() - t
        t = time.monotonic()
        with RawSMTP(tls_poshta.smtp_port) as p:
            p.ehlo()
            p.expect("NOOP", 250)
        fresh_latency = time.monotonic() - t
        r = a.reply()
        delayed = time.monotonic() - start
        assert r.code == 535, r
        assert noop_latency < 1.0 and fresh_latency < 1.0, (
            f"while a failed AUTH was held back for {delayed:.1f} s, another session waited "
            f"{noop_latency:.1f} s for NOOP and a new one {fresh_latency:.1f} s for greeting+EHLO+NOOP")


# --------------------------------------------------------------------------
# which fields count as "present" (RFC 6409 §8.2, §8.3)


def header_message(tag, header_lines, body_lines=("Hello,", "end")):
    lines = [f"From: You <{USER}>", "To: <postmaster@localhost>", f"Subject: {tag}",
             *header_lines, "", *body_lines, "end " + tag]
    return ("\r\n".join(lines) + "\r\n").encode()


def test_field_names_are_case_insensitive(tls_poshta):
    """'Message-Id' and 'DATE' are the fields Message-ID and Date (RFC 5322
    §1.2.2): nothing may be added."""
    tag = "case-" + unique()
    msg = header_message(tag, [f"DATE: {email.utils.formatdate(localtime=False)}",
                               f"Message-Id: <{unique()}@client.test>"])
    submit(tls_poshta, msg, ["postmaster@localhost"])
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA")


@pytest.mark.parametrize("where", ["resent-fields", "body-lines", "folded-other-field"])
def test_lookalike_fields_do_not_count(tls_poshta, where):
    """Resent-Date/Resent-Message-ID, lines in the body, or text inside
    another field are not Date/Message-ID: both are still added."""
    tag = "lookalike-" + unique()
    if where == "resent-fields":
        msg = header_message(tag, [f"Resent-Date: {email.utils.formatdate(localtime=False)}",
                                   f"Resent-Message-ID: <{unique()}@client.test>",
                                   "Resent-From: you@localhost"])
    elif where == "body-lines":
        msg = header_message(tag, [], body_lines=(
            f"Date: {email.utils.formatdate(localtime=False)}", f"Message-ID: <{unique()}@b>"))
    else:
        msg = header_message(tag, ["X-Note: see below", " Date: in a folded line",
                                   " Message-ID: <folded@x>"])
    submit(tls_poshta, msg, ["postmaster@localhost"])
    (content,) = tls_poshta.wait_messages("postmaster@localhost", 1)
    check_added_fields(content, msg, ("message-id", "date"))


@pytest.mark.parametrize("value", ["<>", "you@localhost", "you+40localhost"])
def test_mail_from_auth_parameter_is_accepted(tls_poshta, value):
    """RFC 4954 §5: a server that offers AUTH takes the AUTH= parameter of
    MAIL FROM (at least parses and discards it). Postfix and Exim relaying
    through a submission smarthost send AUTH=<>."""
    c = authed(tls_poshta, "submissions")
    with c:
        r = c.cmd(f"MAIL FROM:<{USER}> AUTH={value}")
        assert r.code == 250, f"MAIL FROM:<{USER}> AUTH={value} after AUTH: {r!r}"
        c.expect("RCPT TO:<postmaster@localhost>", 250)
        msg = make_message(sender=USER)
        assert send_data(c, msg).code == 250
        c.expect("QUIT", 221)
    check_one_stored(tls_poshta, "postmaster@localhost", USER, msg, proto="ESMTPSA")


def test_ehlo_again_keeps_the_authentication(tls_poshta):
    """A second EHLO resets the transaction, not the AUTH state (AUTH is
    per session; a second AUTH stays 503)."""
    c = authed(tls_poshta, "submission")
    with c:
        c.expect(f"MAIL FROM:<{USER}>", 250)
        kw = ehlo_keywords(c.ehlo("again.test"))
        assert "AUTH" in kw, kw
        r = c.cmd("RCPT TO:<postmaster@localhost>")
        assert r.code == 503, f"RCPT after EHLO: the transaction must be reset: {r!r}"
        c.expect(f"MAIL FROM:<{USER}>", 250)
        c.expect(f"AUTH PLAIN {plain_token(USER)}", 503)


def test_sighup_reloads_trusted_networks(tls_poshta):
    with RawSMTP(tls_poshta.smtp_port) as c:
        c.ehlo()
        c.expect("MAIL FROM:<a@b.test>", 250)
        r = c.cmd(f"RCPT TO:<{REMOTE}>")
        assert r.code in (550, 554), r
    tls_poshta.cfg.write_text('trusted_networks = ["127.0.0.0/8"]\n' + tls_poshta.cfg.read_text())
    tls_poshta.proc.send_signal(signal.SIGHUP)

    def relays():
        with RawSMTP(tls_poshta.smtp_port) as c:
            c.ehlo()
            c.expect("MAIL FROM:<a@b.test>", 250)
            return c.cmd(f"RCPT TO:<{REMOTE}>").code == 250
    deadline_poll(relays, 10, "trusted_networks to take effect after SIGHUP")
    assert tls_poshta.running


def test_password_change_and_user_removal_take_effect_at_once(tls_poshta):
    """README: administrative commands work on a running server, which sees
    their changes at once."""
    c = authed(tls_poshta, "submissions")
    c.close()
    tls_poshta.cli_ok("user", "passwd", USER, "--password-stdin", input="a new password\n")
    c, _ = connect(tls_poshta, "submissions")
    with c:
        r = c.cmd(f"AUTH PLAIN {plain_token(USER)}")
        assert r.code == 535, f"the old password still works after `user passwd`: {r!r}"
        c.expect(f"AUTH PLAIN {plain_token(USER, 'a new password')}", 235)
    tls_poshta.cli_ok("user", "del", USER)
    c, _ = connect(tls_poshta, "submission")
    with c:
        r = c.cmd(f"AUTH PLAIN {plain_token(USER, 'a new password')}")
        assert r.code == 535, f"a deleted user can still authenticate: {r!r}"


def test_sighup_reloads_the_generated_certificate_files(tls_poshta, tmp_path):
    """Without [tls] the files in <data_dir>/tls are the certificate: when
    they are replaced, SIGHUP makes new connections use them."""
    tls = tls_poshta.data_dir / "tls"
    old = pem_file_der(tls / "cert.pem")
    assert peer_cert_der(tls_poshta.submissions_port) == old
    cert, key = make_self_signed(str(tmp_path), "replaced.test")
    os.replace(key, tls / "key.pem")
    os.replace(cert, tls / "cert.pem")
    new = pem_file_der(tls / "cert.pem")
    tls_poshta.proc.send_signal(signal.SIGHUP)
    deadline_poll(lambda: peer_cert_der(tls_poshta.submissions_port) == new, 10,
                  "the replaced certificate in <data_dir>/tls to be served after SIGHUP")
    assert peer_cert_der(tls_poshta.submission_port, starttls=True) == new
    tls_poshta.restart()
    wait_listening(tls_poshta)
    assert pem_file_der(tls / "cert.pem") == new, "a restart overwrote the replaced certificate"
    assert peer_cert_der(tls_poshta.submissions_port) == new
