"""Private peers for the relay tests, all on loopback: a dnsmasq that
answers only for the test zones, a Postfix instance and a Dovecot instance.

Each peer lives in a directory of its own (made by private_dir()), is
started by the test and stopped through the process it started; nothing
here uses the system's mail configuration, and nothing talks to anything
outside 127.0.0.0/8.

Postfix and Dovecot drop privileges (the postfix user, and uid VUID for
the mailboxes), so their directories must be reachable by other users:
pytest's tmp_path (under a 0700 directory) is not, hence private_dir()."""

import os
import pathlib
import random
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

DNSMASQ = "/usr/sbin/dnsmasq"
POSTFIX = "/usr/sbin/postfix"
DOVECOT = "/usr/sbin/dovecot"
VUID = 5000                    # owner of the peers' mailboxes; needs no passwd entry

START_TIMEOUT = 20
STOP_TIMEOUT = 20
LOG_TAIL = 200


# --------------------------------------------------------------------------
# ports and directories


def port_open_on(host, port, timeout=1):
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def free_shared_port(hosts, udp=False, attempts=200):
    """A port number that is free (TCP, and UDP when udp is true) on every
    address in hosts, so several servers can listen on the same port on
    different loopback addresses."""
    for _ in range(attempts):
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.bind((hosts[0], 0))
            port = probe.getsockname()[1]
        finally:
            probe.close()
        socks = []
        try:
            for h in hosts:
                kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
                for kind in kinds:
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind((h, port))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError(f"no port free on all of {hosts}")


def private_dir(prefix):
    """A fresh directory under the system temp dir, mode 0755 (see the
    module docstring). Remove it with remove_dir()."""
    d = pathlib.Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    return d


def remove_dir(d):
    shutil.rmtree(d, ignore_errors=True)


def tail(path, lines=LOG_TAIL):
    try:
        text = pathlib.Path(path).read_text(errors="replace")
    except FileNotFoundError:
        return f"(no log at {path})"
    parts = text.splitlines()
    if len(parts) > lines:
        return f"... ({len(parts) - lines} lines omitted)\n" + "\n".join(parts[-lines:])
    return text


def files_under(root, needle=None):
    """Regular files below root (in any new/ or cur/ directory), optionally
    only those whose content contains needle (bytes)."""
    out = []
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) not in ("new", "cur"):
            continue
        for f in files:
            p = pathlib.Path(dirpath) / f
            try:
                if needle is None or needle in p.read_bytes():
                    out.append(p)
            except FileNotFoundError:
                pass
    return sorted(out)


# --------------------------------------------------------------------------
# a minimal DNS client (stub queries over UDP), to check what dnsmasq serves

TYPE_A, TYPE_MX = 1, 15


def _name(labels):
    out = b""
    for label in labels.rstrip(".").split(".") if labels.rstrip(".") else []:
        out += bytes([len(label)]) + label.encode("ascii")
    return out + b"\0"


def _read_name(data, pos):
    labels, jumped, end = [], False, None
    for _ in range(128):
        n = data[pos]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = pos + 2
            pos = ((n & 0x3F) << 8) | data[pos + 1]
            jumped = True
            continue
        if n == 0:
            if not jumped:
                end = pos + 1
            return ".".join(labels), end
        labels.append(data[pos + 1:pos + 1 + n].decode("ascii", "replace"))
        pos += 1 + n
    raise ValueError("DNS name loop")


def dns_query(name, qtype, port, server="127.0.0.1", timeout=2):
    """Returns (rcode, answers): answers is a list of (type, value) for the
    answer section; an A value is the dotted address, an MX value is
    (preference, exchange) with exchange '' for the root (null MX)."""
    tid = random.randrange(65536)
    packet = struct.pack(">HHHHHH", tid, 0x0100, 1, 0, 0, 0) + _name(name) + struct.pack(">HH", qtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(packet, (server, port))
        while True:
            data, _ = s.recvfrom(4096)
            if struct.unpack(">H", data[:2])[0] == tid:
                break
    _tid, flags, qd, an, _ns, _ar = struct.unpack(">HHHHHH", data[:12])
    pos = 12
    for _ in range(qd):
        _n, pos = _read_name(data, pos)
        pos += 4
    answers = []
    for _ in range(an):
        _n, pos = _read_name(data, pos)
        rtype, _cls, _ttl, rdlen = struct.unpack(">HHIH", data[pos:pos + 10])
        pos += 10
        rdata_at = pos
        pos += rdlen
        if rtype == TYPE_A:
            answers.append((rtype, socket.inet_ntoa(data[rdata_at:rdata_at + 4])))
        elif rtype == TYPE_MX:
            pref = struct.unpack(">H", data[rdata_at:rdata_at + 2])[0]
            exchange, _ = _read_name(data, rdata_at + 2)
            answers.append((rtype, (pref, exchange)))
        else:
            answers.append((rtype, data[rdata_at:pos]))
    return flags & 0xF, answers


# --------------------------------------------------------------------------
# dnsmasq


class DnsServer:
    """dnsmasq on 127.0.0.1:port answering only for the given names.

    mx: {domain: [(preference, host), ...]}; host "." makes a null MX
    (RFC 7505, "0 ."). hosts: {name: ipv4}. Every other name under the
    zones in `local` (default: "test") gets NXDOMAIN; anything else is
    REFUSED: there is no upstream server, so nothing is ever forwarded."""

    def __init__(self, directory, mx=None, hosts=None, local=("test",)):
        self.dir = pathlib.Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.mx = dict(mx or {})
        self.hosts = dict(hosts or {})
        self.local = list(local)
        self.log = self.dir / "dnsmasq.log"
        self.proc = None
        self.port = None

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def args(self):
        a = [DNSMASQ, "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv",
             "--no-hosts", "--no-poll", "--pid-file=", f"--port={self.port}",
             "--listen-address=127.0.0.1", "--bind-interfaces", "--log-queries",
             f"--log-facility={self.log}"]
        a += [f"--local=/{zone}/" for zone in self.local]
        for domain, records in self.mx.items():
            for pref, host in records:
                a.append(f"--mx-host={domain},{host},{pref}")
        for name, ip in self.hosts.items():
            a.append(f"--host-record={name},{ip}")
        return a

    def log_text(self):
        return tail(self.log)

    def start(self):
        assert os.access(DNSMASQ, os.X_OK), \
            f"{DNSMASQ} is missing: the relay tests need dnsmasq (Debian package dnsmasq-base)"
        last = ""
        for _ in range(5):
            self.port = free_shared_port(["127.0.0.1"], udp=True)
            self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL,
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            end = time.monotonic() + START_TIMEOUT
            while time.monotonic() < end:
                if self.proc.poll() is not None:
                    last = self.proc.stdout.read().decode(errors="replace")
                    break
                try:
                    dns_query("ready.invalid", TYPE_A, self.port, timeout=0.2)
                except (OSError, ValueError):
                    time.sleep(0.05)
                    continue
                try:
                    self.verify()
                except BaseException:
                    self.stop()
                    raise
                return self
            else:
                self.stop()
                raise AssertionError(f"dnsmasq did not answer on port {self.port}; log:\n"
                                     + self.log_text())
        raise AssertionError(f"dnsmasq did not start: {last}\n{self.log_text()}")

    def verify(self):
        """Asserts that dnsmasq serves what it was given (so a failing relay
        test is not a DNS fixture problem)."""
        for domain, records in self.mx.items():
            rcode, answers = dns_query(domain, TYPE_MX, self.port)
            got = sorted(v for t, v in answers if t == TYPE_MX)
            want = sorted((p, "" if h == "." else h.rstrip(".")) for p, h in records)
            assert rcode == 0 and got == want, \
                f"dnsmasq serves MX {domain} as rcode={rcode} {got}, expected {want}"
        for name, ip in self.hosts.items():
            rcode, answers = dns_query(name, TYPE_A, self.port)
            got = [v for t, v in answers if t == TYPE_A]
            assert rcode == 0 and got == [ip], f"dnsmasq serves A {name} as rcode={rcode} {got}"

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()


# --------------------------------------------------------------------------
# Postfix


POSTFIX_MASTER_CF = """\
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


class PostfixPeer:
    """A private Postfix: SMTP on address:port (in master.cf; inet_interfaces
    stays 127.0.0.1 because Postfix refuses addresses that are not assigned
    to an interface, and only 127.0.0.1 is), virtual(8) delivery into
    Maildirs BASE/mail/<domain>/<localpart>/ for the given mailboxes, and
    relay to fixed next hops ({domain: "[ip]:port"}) through transport_maps
    without DNS. Anything else is bounced by error(8): nothing leaves the
    machine."""

    def __init__(self, base, address, port, hostname="mx.pf.test", mailboxes=(),
                 relay=None):
        self.base = pathlib.Path(base)
        self.address = address
        self.port = port
        self.hostname = hostname
        self.mailboxes = list(mailboxes)
        self.relay = dict(relay or {})
        self.etc = self.base / "etc"
        self.queue = self.base / "queue"
        self.mail = self.base / "mail"
        self.maillog = self.base / "log" / "maillog"
        self.started = False
        self.master_pid = None
        self._configure()

    def _configure(self):
        for d in ("etc", "queue", "data", "mail", "log"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        shutil.chown(self.base / "data", "postfix")
        os.chown(self.mail, VUID, VUID)
        domains = sorted({m.rpartition("@")[2] for m in self.mailboxes})
        (self.etc / "vmailbox").write_text(
            "".join(f"{m} {m.rpartition('@')[2]}/{m.rpartition('@')[0]}/\n" for m in self.mailboxes))
        (self.etc / "transport").write_text(
            "".join(f"{d} smtp:{hop}\n" for d, hop in self.relay.items()))
        b = self.base
        (self.etc / "main.cf").write_text(f"""\
compatibility_level = 3.6
queue_directory = {b}/queue
data_directory = {b}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = {self.hostname}
mydomain = {self.hostname.partition('.')[2] or self.hostname}
myorigin = $myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
local_recipient_maps =
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtpd_peername_lookup = no
virtual_mailbox_domains = {", ".join(domains) if domains else ""}
virtual_mailbox_base = {b}/mail
virtual_mailbox_maps = texthash:{b}/etc/vmailbox
virtual_uid_maps = static:{VUID}
virtual_gid_maps = static:{VUID}
relay_domains = {", ".join(self.relay) if self.relay else ""}
transport_maps = texthash:{b}/etc/transport
default_transport = error:outbound mail disabled in tests
relay_transport = error:outbound mail disabled in tests
smtp_dns_support_level = disabled
smtp_tls_security_level = none
smtpd_tls_security_level = none
maillog_file = {b}/log/maillog
maillog_file_prefixes = {b}/log
""")
        (self.etc / "master.cf").write_text(POSTFIX_MASTER_CF.format(listen=f"{self.address}:{self.port}"))
        r = self._postfix("check")
        assert r.returncode == 0, (f"postfix check failed: {r.stdout}{r.stderr} (Postfix reports "
                                   "fatal configuration errors to syslog only)")

    def _postfix(self, *args, timeout=60):
        return subprocess.run([POSTFIX, "-c", str(self.etc), *args], capture_output=True,
                              text=True, timeout=timeout, stdin=subprocess.DEVNULL)

    def log_text(self):
        return tail(self.maillog)

    def _read_master_pid(self):
        try:
            return int((self.queue / "pid" / "master.pid").read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None

    def start(self):
        r = self._postfix("start")
        self.started = True
        assert r.returncode == 0, f"postfix start failed: {r.stdout}{r.stderr}\n{self.log_text()}"
        end = time.monotonic() + START_TIMEOUT
        while not port_open_on(self.address, self.port):
            if time.monotonic() > end:
                raise AssertionError(f"Postfix does not listen on {self.address}:{self.port}; log:\n"
                                     + self.log_text())
            time.sleep(0.05)
        self.master_pid = self._read_master_pid()
        return self

    def stop(self):
        """postfix stop, then waits for the master it started to be gone;
        if it is still there, ends that process (by its pid) for good."""
        if not self.started:
            return
        self.started = False
        pid = self.master_pid or self._read_master_pid()
        self._postfix("stop")
        end = time.monotonic() + STOP_TIMEOUT
        while pid and _alive(pid) and time.monotonic() < end:
            time.sleep(0.05)
        if pid and _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def maildir(self, addr):
        local, _, domain = addr.rpartition("@")
        return self.mail / domain / local

    def new_files(self, addr):
        d = self.maildir(addr) / "new"
        try:
            return sorted(p for p in d.iterdir() if p.is_file())
        except FileNotFoundError:
            return []


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:                      # a zombie (not reaped yet) counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


# --------------------------------------------------------------------------
# Dovecot


class DovecotPeer:
    """A private Dovecot serving LMTP only, on 127.0.0.1:lmtp_port and on
    the unix socket lmtp_socket; any user is accepted (static userdb) and
    gets BASE/mail/<user>/Maildir. Runs in the foreground (-F) under the
    Popen handle the test keeps.

    With imap_port instead of lmtp_port it serves IMAP only, on
    127.0.0.1:imap_port (plaintext LOGIN: any user, password "pass"), with
    maildir_very_dirty_syncs = no; mail_location (default as above) may
    name another server's Maildirs, e.g. "maildir:<data_dir>/mail/%d/%n".
    Mail processes run as VUID in both cases: Dovecot 2.3 refuses root for
    them ("userdb returned 0 as uid", "Mail access not allowed for root"),
    so a Maildir it shares must belong to VUID."""

    def __init__(self, base, lmtp_port=None, imap_port=None, mail_location=None):
        assert (lmtp_port is None) != (imap_port is None), "either lmtp_port or imap_port"
        self.base = pathlib.Path(base)
        self.lmtp_port = lmtp_port
        self.imap_port = imap_port
        self.lmtp_socket = self.base / "run" / "lmtp-poshta"
        self.conf = self.base / "dovecot.conf"
        self.mail = self.base / "mail"
        self.logfile = self.base / "log" / "dovecot.log"
        self.proc = None
        for d in ("run", "state", "log", "mail"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        os.chown(self.mail, VUID, VUID)
        b = self.base
        if imap_port is None:
            self.protocol, self.port = "lmtp", lmtp_port
            settings = "lmtp_save_to_detail_mailbox = no"
            service = f"""\
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
  unix_listener lmtp-poshta {{
    mode = 0666
  }}
}}"""
        else:
            self.protocol, self.port = "imap", imap_port
            settings = "maildir_very_dirty_syncs = no"
            service = f"""\
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}"""
        self.conf.write_text(f"""\
instance_name = poshta-e2e-{self.port}
base_dir = {b}/run
state_dir = {b}/state
log_path = {b}/log/dovecot.log
info_log_path = {b}/log/dovecot.log
protocols = {self.protocol}
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = {mail_location or f"maildir:{b}/mail/%u/Maildir"}
mail_uid = {VUID}
mail_gid = {VUID}
first_valid_uid = 100
{settings}
passdb {{
  driver = static
  args = password=pass
}}
userdb {{
  driver = static
  args = uid={VUID} gid={VUID} home={b}/mail/%u
}}
{service}
service doveadm {{
  inet_listener {{
    port = 0
  }}
}}
""")
        r = subprocess.run([DOVECOT, "-c", str(self.conf), "-n"], capture_output=True, text=True,
                           timeout=60, stdin=subprocess.DEVNULL)
        assert r.returncode == 0, f"dovecot -n rejects the configuration: {r.stderr}"

    def log_text(self):
        return tail(self.logfile)

    def start(self):
        self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                     stdout=open(self.base / "log" / "stdout.log", "ab"),
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + START_TIMEOUT
        while not port_open_on("127.0.0.1", self.port):
            if self.proc.poll() is not None:
                raise AssertionError(f"dovecot exited with {self.proc.returncode}; log:\n" + self.log_text())
            if time.monotonic() > end:
                raise AssertionError(f"Dovecot does not listen on {self.protocol.upper()} port "
                                     f"{self.port}; log:\n" + self.log_text())
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def files_with(self, needle):
        return files_under(self.mail, needle)
