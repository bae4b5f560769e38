"""Fixtures of the end-to-end tests: a real `poshta serve` on loopback with a
temporary configuration and data directory.

The binary is build/poshta (override with POSHTA_BIN)."""

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))
# Helper modules with assertions of their own: pytest explains their failures too.
pytest.register_assert_rewrite("relay_fixtures", "peers", "fake_mta")

from poshta_helpers import HOST, deadline_poll, free_port, port_open  # noqa: E402
from poshta_helpers import wait_listening  # noqa: E402,F401

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Absolute: the server runs in its temporary directory (POSHTA_BIN=build/poshta works).
POSHTA_BIN = os.path.abspath(os.environ.get("POSHTA_BIN", str(ROOT / "build" / "poshta")))

START_TIMEOUT = 10
STOP_TIMEOUT = 45          # the server may wait up to 30 s for transactions in flight
LOG_TAIL = 300             # lines of server log attached to a failure report


class Poshta:
    """One Poshta server with its own configuration and data directory."""

    def __init__(self, tmpdir, extra_toml="", limits=None):
        self.dir = pathlib.Path(tmpdir)
        self.bin = POSHTA_BIN
        self.host = HOST           # the address start() waits on (subclasses may listen elsewhere)
        self.smtp_port = free_port()
        self.submission_port = free_port()
        while self.submission_port == self.smtp_port:
            self.submission_port = free_port()
        self.data_dir = self.dir / "data"
        self.cfg = self.dir / "poshta.toml"
        self.log = self.dir / "poshta.log"
        self.proc = None
        extra_limits = "".join(f"{k} = {v}\n" for k, v in (limits or {}).items())
        self.cfg.write_text(
            f'hostname = "mx.test"\n'
            f'data_dir = "{self.data_dir}"\n'
            f'domains = ["localhost", "example.test"]\n'
            f'\n'
            f'[[listen]]\n'
            f'protocol = "smtp"\n'
            f'address = "{HOST}:{self.smtp_port}"\n'
            f'\n'
            f'[[listen]]\n'
            f'protocol = "submission"\n'
            f'address = "{HOST}:{self.submission_port}"\n'
            f'\n'
            f'[limits]\n'
            f'message_size = 1048576\n'
            f'recipients = 20\n'
            f'{extra_limits}'
            f'\n'
            f'[delivery]\n'
            f'resolver = "127.0.0.1:9"   # no DNS query may leave the machine\n'
            + (f"\n{extra_toml}\n" if extra_toml else "")
        )

    # process control ------------------------------------------------------
    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self, tail=None):
        try:
            text = self.log.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        if tail:
            lines = text.splitlines()
            if len(lines) > tail:
                text = f"... ({len(lines) - tail} lines omitted)\n" + "\n".join(lines[-tail:])
        return text

    def start(self):
        assert not self.running, "server already running"
        if not os.access(self.bin, os.X_OK):
            pytest.fail(f"poshta binary not found or not executable: {self.bin} (set POSHTA_BIN)")
        with open(self.log, "ab") as log:
            log.write(b"==== poshta serve starting ====\n")
            log.flush()
            self.proc = subprocess.Popen(
                [self.bin, "serve", "-c", str(self.cfg)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=self.dir)
        end = time.monotonic() + START_TIMEOUT
        pending = [self.smtp_port, self.submission_port]
        while pending:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"poshta serve exited with {self.proc.returncode} while starting; log:\n"
                    + self.log_text(LOG_TAIL))
            if port_open(pending[0], self.host):
                pending.pop(0)
                continue
            if time.monotonic() > end:
                self.kill()
                raise AssertionError(
                    f"poshta serve did not open port {pending[0]} within {START_TIMEOUT} s; log:\n"
                    + self.log_text(LOG_TAIL))
            time.sleep(0.02)
        # The ports are bound before the server has given up root and set
        # up the rest: it is ready when it says so.
        while "serve event=started" not in self.log_text().rsplit("==== poshta serve starting ====", 1)[-1]:
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError("poshta serve did not log event=started; log:\n" + self.log_text(LOG_TAIL))
            time.sleep(0.02)
        return self

    def stop(self, timeout=STOP_TIMEOUT):
        """SIGTERM, wait, assert exit status 0 (README: SIGTERM → exit 0)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"poshta serve did not exit within {timeout} s of SIGTERM")
        assert rc == 0, f"poshta serve exited with status {rc} after SIGTERM (expected 0)"
        return rc

    def wait_exit(self, timeout=STOP_TIMEOUT):
        """Waits for the process to end by itself (after a signal sent by the
        test); asserts exit status 0."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"poshta serve did not exit within {timeout} s")
        assert rc == 0, f"poshta serve exited with status {rc} (expected 0)"
        return rc

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self):
        self.stop()
        return self.start()

    # command line -----------------------------------------------------------
    def cli(self, *args, input=None, timeout=60):
        """Runs `poshta ARGS -c CFG`; returns the CompletedProcess (text)."""
        return subprocess.run(
            [self.bin, *args, "-c", str(self.cfg)], input=input, text=True,
            capture_output=True, timeout=timeout, cwd=self.dir)

    def cli_ok(self, *args, input=None):
        r = self.cli(*args, input=input)
        assert r.returncode == 0, \
            f"poshta {' '.join(args)} exited {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
        return r

    def add_user(self, addr, password="correct horse battery staple"):
        return self.cli_ok("user", "add", addr, "--password-stdin", input=password + "\n")

    # mailboxes ----------------------------------------------------------------
    def maildir(self, addr):
        local, _, domain = addr.rpartition("@")
        return self.data_dir / "mail" / domain.lower() / local.lower()

    def new_files(self, addr):
        d = self.maildir(addr) / "new"
        try:
            return sorted((p for p in d.iterdir() if p.is_file()), key=lambda p: p.name)
        except FileNotFoundError:
            return []

    def new_messages(self, addr):
        return [p.read_bytes() for p in self.new_files(addr)]

    def wait_files(self, addr, n, timeout=10):
        files = deadline_poll(lambda: (lambda f: f if len(f) >= n else None)(self.new_files(addr)),
                              timeout, f"{n} message(s) in {self.maildir(addr)}/new")
        return files

    def wait_messages(self, addr, n, timeout=10):
        return [p.read_bytes() for p in self.wait_files(addr, n, timeout)]

    def all_mail_files(self):
        out = []
        mail = self.data_dir / "mail"
        if mail.exists():
            for root, _d, files in os.walk(mail):
                for f in files:
                    if os.path.basename(root) in ("new", "cur"):
                        out.append(pathlib.Path(root) / f)
        return out


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("call", "setup"):
        for i, server in enumerate(getattr(item, "_poshta_servers", [])):
            rep.sections.append((f"poshta log #{i} ({server.log})", server.log_text(LOG_TAIL)))


@pytest.fixture
def poshta_factory(request):
    """poshta_factory(extra_toml="", start=True, limits=None) -> Poshta.
    extra_toml is appended to the configuration; limits is a dict of more
    keys for the [limits] table, values in TOML syntax ({"errors": "3"}).
    Every server made is stopped (SIGTERM, exit status 0 asserted) at
    teardown."""
    servers = []
    tmpdirs = []
    request.node._poshta_servers = servers

    def make(extra_toml="", start=True, limits=None):
        tmp = tempfile.TemporaryDirectory(prefix="poshta-e2e-")
        tmpdirs.append(tmp)
        os.chmod(tmp.name, 0o711)  # Poshta's user reads its configuration again at SIGHUP
        server = Poshta(tmp.name, extra_toml, limits)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make

    errors = []
    for server in servers:
        if server.running:
            try:
                server.stop()
            except AssertionError as e:
                errors.append(str(e) + "\nlog:\n" + server.log_text(LOG_TAIL))
    for tmp in tmpdirs:
        tmp.cleanup()
    if errors:
        pytest.fail("at teardown: " + "\n".join(errors))


@pytest.fixture
def poshta(poshta_factory):
    """A running server with the standard test configuration."""
    return poshta_factory()


# --------------------------------------------------------------------------
# TLS/AUTH servers (submission work): a third listener, `submissions`
# (implicit TLS), top-level keys such as trusted_networks, and a user.


@pytest.fixture
def tls_poshta_factory(poshta_factory):
    """tls_poshta_factory(extra_toml="", start=True, limits=None,
    top_level="", submissions=True, user="you@localhost") -> Poshta.
    Like poshta_factory, plus a `submissions` listener (server.submissions_port),
    top-level keys (top_level is put before the first table, e.g.
    'trusted_networks = ["127.0.0.0/8"]') and a user (password
    poshta_helpers.PASSWORD; user=None for none), added after the start, or
    at once when start is false. After a restart, call
    poshta_helpers.wait_listening(server) for the submissions port."""

    def make(extra_toml="", start=True, limits=None, top_level="", submissions=True,
             user="you@localhost"):
        server = poshta_factory(extra_toml=extra_toml, start=False, limits=limits)
        server.submissions_port = None
        if submissions:
            port = free_port()
            while port in (server.smtp_port, server.submission_port):
                port = free_port()
            server.submissions_port = port
            with open(server.cfg, "a") as f:
                f.write(f'\n[[listen]]\nprotocol = "submissions"\naddress = "{HOST}:{port}"\n')
        if top_level:
            server.cfg.write_text(top_level.rstrip("\n") + "\n" + server.cfg.read_text())
        server.user = user
        if start:
            server.start()
            wait_listening(server)
        if user:
            server.add_user(user)
        return server

    return make


@pytest.fixture
def tls_poshta(tls_poshta_factory):
    """A running server with smtp, submission and submissions listeners and
    the user you@localhost."""
    return tls_poshta_factory()
