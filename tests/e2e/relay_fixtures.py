"""Fixtures of the relay tests: several Poshta servers, each on its own
loopback address (127.0.0.2, 127.0.0.3, ...) and all on the same port, so
that `[delivery] remote_port` reaches every one of them; a dnsmasq that
serves the test zones; private Postfix and Dovecot peers (peers.py).

A test module uses them with `pytest_plugins = ("relay_fixtures",)`.

Every Poshta here resolves through the test's dnsmasq, never through the
system's resolver: no DNS query leaves the machine."""

import email
import email.policy
import pathlib
import re
import smtplib
import tempfile
import time

import pytest

import peers
from conftest import LOG_TAIL, Poshta
from poshta_helpers import deadline_poll

DELIVERY_TIMEOUT = 15          # delivery is asynchronous: generous deadlines
STATES = ("pending", "deferred", "delivered", "failed")
# smtplib's default EHLO name comes from socket.getfqdn(), which may ask the
# system's resolver: every client here names itself instead.
CLIENT_NAME = "client.test"


def toml_value(v):
    """A Python value as TOML (str, int, bool, list of those)."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    raise TypeError(f"no TOML form for {v!r}")


# --------------------------------------------------------------------------
# Poshta as one MTA among several


class Mta(Poshta):
    """A Poshta whose smtp listener is address:port (a submission listener
    on another port of the same address), with its own hostname and
    domains, loopback trusted for relay, and [delivery] pointing at the
    test's dnsmasq with remote_port = port."""

    def __init__(self, tmpdir, name, address, port, hostname, domains, resolver,
                 delivery=None, top_level=None):
        super().__init__(tmpdir)
        self.name = name
        self.host = address
        self.smtp_port = port
        self.submission_port = peers.free_shared_port([address])
        while self.submission_port == port:
            self.submission_port = peers.free_shared_port([address])
        self.hostname = hostname
        self.domains = list(domains)
        self.delivery = {"resolver": resolver, "remote_port": port, "retry": ["2s"],
                         "bounce_after": "5d"}
        self.delivery.update(delivery or {})
        self.top_level = {"trusted_networks": ["127.0.0.0/8"]}
        self.top_level.update(top_level or {})
        self.write_config()

    def write_config(self):
        top = "".join(f"{k} = {toml_value(v)}\n" for k, v in self.top_level.items())
        delivery = "".join(f"{k} = {toml_value(v)}\n" for k, v in self.delivery.items()
                           if v is not None)
        self.cfg.write_text(
            f"hostname = {toml_value(self.hostname)}\n"
            f"data_dir = {toml_value(str(self.data_dir))}\n"
            f"domains = {toml_value(self.domains)}\n"
            f"{top}"
            f"\n[[listen]]\nprotocol = \"smtp\"\naddress = \"{self.host}:{self.smtp_port}\"\n"
            f"\n[[listen]]\nprotocol = \"submission\"\naddress = \"{self.host}:{self.submission_port}\"\n"
            f"\n[delivery]\n{delivery}")

    def __repr__(self):
        return f"<Poshta {self.name} {self.hostname} {self.host}:{self.smtp_port}>"

    # sending ------------------------------------------------------------------
    def send(self, sender, rcpts, message, mail_options=()):
        """smtplib to this server's smtp listener (from 127.0.0.1, a trusted
        network); returns the refused recipients (dict)."""
        with smtplib.SMTP(self.host, self.smtp_port, timeout=30, local_hostname=CLIENT_NAME) as s:
            return s.sendmail(sender, rcpts, message, mail_options=list(mail_options))

    # the queue ----------------------------------------------------------------
    def queue(self, *args):
        """`poshta queue ARGS -c CFG` as a CompletedProcess."""
        return self.cli("queue", *args)

    def queue_ok(self, *args):
        r = self.queue(*args)
        assert r.returncode == 0, (f"{self.name}: poshta queue {' '.join(args)} exited "
                                   f"{r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}")
        return r

    def queue_list(self):
        """(raw text, parsed list) of `queue list`; see parse_queue_list."""
        text = self.queue_ok("list").stdout
        return text, parse_queue_list(text)

    def wait_queue(self, predicate, what, timeout=DELIVERY_TIMEOUT):
        """Polls `queue list` until predicate(parsed) is truthy; returns
        (text, parsed). The failure names the last listing."""
        last = {"text": ""}

        def probe():
            text, parsed = self.queue_list()
            last["text"] = text
            return (text, parsed) if predicate(parsed) else None
        try:
            return deadline_poll(probe, timeout, f"{what} in `queue list` of {self.name}",
                                 interval=0.2)
        except AssertionError as e:
            raise AssertionError(f"{e}\nlast `queue list` output:\n{last['text']}") from None

    def wait_queue_empty(self, timeout=DELIVERY_TIMEOUT):
        return self.wait_queue(lambda parsed: parsed == [], "an empty queue", timeout)

    def wait_deferred(self, rcpt, timeout=DELIVERY_TIMEOUT):
        """Waits until rcpt is deferred; returns (message entry, recipient entry)."""
        def deferred(parsed):
            return any(r["state"] == "deferred" and r["addr"] == rcpt.lower()
                       for m in parsed for r in m["rcpts"])
        _text, parsed = self.wait_queue(deferred, f"{rcpt} deferred", timeout)
        for m in parsed:
            for r in m["rcpts"]:
                if r["state"] == "deferred" and r["addr"] == rcpt.lower():
                    return m, r
        raise AssertionError("unreachable")

    # mailboxes ----------------------------------------------------------------
    def wait_new(self, addr, n=1, timeout=DELIVERY_TIMEOUT, what=None):
        """Waits for n files in addr's new/ at this server."""
        return deadline_poll(lambda: (lambda f: f if len(f) >= n else None)(self.new_files(addr)),
                             timeout, what or f"{n} message(s) for {addr} at {self.name} "
                             f"({self.maildir(addr)}/new)", interval=0.05)


def parse_queue_list(text):
    """Parses `poshta queue list`: [] for "queue is empty", else a list of
    {"id", "line", "sender", "held", "rcpts": [{"state", "addr", "line"}]}.
    A message line starts with the queue id and names the sender in <>; a
    recipient line is indented and starts with its state; any other indented
    line continues the recipient before it."""
    if re.search(r"queue is empty", text, re.I):
        return []
    out = []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[:1] not in (" ", "\t"):
            m = re.search(r"<([^<>]*)>", line)
            if not m:
                continue                    # a heading or a summary line
            out.append({"id": line.split()[0], "line": line, "sender": m.group(1),
                        "held": "(held)" in line.lower(), "rcpts": []})
            continue
        if not out:
            continue
        parts = line.split()
        if parts[0].lower() in STATES and len(parts) > 1:
            out[-1]["rcpts"].append({"state": parts[0].lower(),
                                     "addr": parts[1].strip("<>").lower(),
                                     "line": line.strip()})
        elif out[-1]["rcpts"]:
            out[-1]["rcpts"][-1]["line"] += " " + line.strip()
    return out


# --------------------------------------------------------------------------
# reading what arrived


def stored_parts(content):
    """A file stored by an MTA (LF line ends): (list of (name, unfolded value)
    of the header fields, body bytes)."""
    head, _sep, body = content.partition(b"\n\n")
    fields = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] = (fields[-1][0], fields[-1][1] + " " + line.strip().decode("utf-8", "replace"))
        elif b":" in line:
            name, _, value = line.partition(b":")
            fields.append((name.decode("latin-1").strip().lower(),
                           value.strip().decode("utf-8", "replace")))
    return fields, body


def parse_dsn(content):
    """A delivery status notification as stored (bytes): returns
    (message, per-message fields, [per-recipient fields]) where the field
    groups are dicts with lower-case names, from the message/delivery-status
    part (RFC 3464). Fails the test if it is not a multipart/report."""
    msg = email.message_from_bytes(content, policy=email.policy.compat32)
    assert msg.get_content_type() == "multipart/report", \
        f"a DSN must be multipart/report, got {msg.get_content_type()}:\n{content[:3000]!r}"
    assert msg.get_param("report-type", "").lower() == "delivery-status", \
        f"a DSN must have report-type=delivery-status: {msg['Content-Type']!r}"
    status = [p for p in msg.walk() if p.get_content_type() == "message/delivery-status"]
    assert len(status) == 1, \
        f"a DSN must have one message/delivery-status part:\n{content[:3000]!r}"
    groups = status[0].get_payload()
    if isinstance(groups, str):         # parse it ourselves if email did not
        groups = [email.message_from_string(g) for g in re.split(r"\n\s*\n", groups.strip())]
    assert groups and len(groups) >= 2, \
        f"message/delivery-status needs per-message and per-recipient fields:\n{status[0]}"
    as_dict = [{k.lower(): str(v).strip() for k, v in g.items()} for g in groups]
    return msg, as_dict[0], as_dict[1:]


# --------------------------------------------------------------------------
# fixtures


@pytest.fixture
def dns_factory(tmp_path):
    """dns_factory(mx={domain: [(pref, host)]}, hosts={name: ip}) -> a
    started peers.DnsServer (checked to serve exactly these records);
    stopped at teardown. Its log is printed at teardown, which pytest shows
    for a failed test."""
    servers = []

    def make(mx=None, hosts=None):
        server = peers.DnsServer(tmp_path / f"dns{len(servers)}", mx=mx, hosts=hosts)
        servers.append(server)
        return server.start()

    yield make
    for s in servers:
        s.stop()
        print(f"==== dnsmasq log ({s.log}) ====\n{s.log_text()}")


@pytest.fixture
def shared_port():
    """One port free on every address the relay tests use."""
    return peers.free_shared_port([f"127.0.0.{i}" for i in range(1, 8)])


@pytest.fixture
def mta_factory(request, shared_port):
    """mta_factory(name, address, hostname, domains, dns, users=(),
    delivery=None, top_level=None, start=True, port=shared_port) -> Mta.
    users are added with `poshta user add` (before the start when start is
    false). Every server is stopped at teardown (SIGTERM, exit status 0
    asserted); their logs are attached to a failure report by conftest."""
    servers = getattr(request.node, "_poshta_servers", None)
    if servers is None:
        servers = request.node._poshta_servers = []
    tmpdirs = []

    def make(name, address, hostname, domains, dns, users=(), delivery=None, top_level=None,
             start=True, port=None):
        tmp = tempfile.TemporaryDirectory(prefix=f"poshta-e2e-{name}-")
        tmpdirs.append(tmp)
        server = Mta(tmp.name, name, address, port or shared_port, hostname, domains, dns.address,
                     delivery=delivery, top_level=top_level)
        servers.append(server)
        if start:
            server.start()
        for u in users:
            server.add_user(u)
        return server

    yield make

    errors = []
    for server in servers:
        if isinstance(server, Mta) and server.running:
            try:
                server.stop()
            except AssertionError as e:
                errors.append(f"{server.name}: {e}\nlog:\n" + server.log_text(LOG_TAIL))
    for tmp in tmpdirs:
        tmp.cleanup()
    if errors:
        pytest.fail("at teardown: " + "\n".join(errors))


def _require(path, what):
    if not pathlib.Path(path).exists():
        pytest.skip(f"{what} is not installed ({path} missing)")


@pytest.fixture
def postfix_factory():
    """postfix_factory(address, port, mailboxes=(), relay=None,
    hostname="mx.pf.test") -> a started peers.PostfixPeer with its own
    queue and configuration directories; stopped (`postfix stop`, then its
    master is waited for) at teardown, whatever the outcome. Skips the test
    when Postfix is not installed."""
    _require(peers.POSTFIX, "Postfix")
    made = []

    def make(address, port, mailboxes=(), relay=None, hostname="mx.pf.test"):
        base = peers.private_dir("poshta-e2e-postfix-")
        try:
            peer = peers.PostfixPeer(base, address, port, hostname=hostname, mailboxes=mailboxes,
                                     relay=relay)
        except BaseException:
            peers.remove_dir(base)
            raise
        made.append(peer)
        return peer.start()

    yield make
    for peer in made:
        peer.stop()
        print(f"==== Postfix log ({peer.maillog}) ====\n{peer.log_text()}")
        peers.remove_dir(peer.base)


@pytest.fixture
def dovecot_factory():
    """dovecot_factory() -> a started peers.DovecotPeer serving LMTP on a
    free port of 127.0.0.1 (peer.lmtp_port); stopped at teardown. Skips the
    test when Dovecot is not installed."""
    _require(peers.DOVECOT, "Dovecot")
    made = []

    def make():
        base = peers.private_dir("poshta-e2e-dovecot-")
        try:
            peer = peers.DovecotPeer(base, peers.free_shared_port(["127.0.0.1"]))
        except BaseException:
            peers.remove_dir(base)
            raise
        made.append(peer)
        return peer.start()

    yield make
    for peer in made:
        peer.stop()
        print(f"==== Dovecot log ({peer.logfile}) ====\n{peer.log_text()}")
        peers.remove_dir(peer.base)


def arrivals_during(files, seconds):
    """Watches files() (a function returning a list) for `seconds`; returns
    what it returned first when not empty, else the final (empty) list.
    Used to show that something is NOT delivered."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        found = files()
        if found:
            return found
        time.sleep(0.1)
    return files()
