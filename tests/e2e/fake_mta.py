"""A scripted SMTP server for the tests of Poshta's SMTP client: a threaded
socket server on loopback that speaks just enough SMTP (RFC 5321) to take
mail, records every command line and the DATA bytes exactly as they arrive,
and can be told per test what to advertise and what to answer.

    fake = FakeMTA(extensions=["PIPELINING", "8BITMIME"]).start()
    fake.rcpt_reply = lambda addr, line, conn: "550 5.1.1 no" if ... else None
    ...
    fake.stop()

Replies are given as whole lines ("250 2.0.0 OK"); a callable that returns
None falls back to the default reply. Every connection is a `Connection`
with the ordered list of what was read and written (`events`), the command
lines (`lines`) and one `Transaction` per DATA that ended."""

import re
import socket
import ssl
import threading
import time

HOST = "127.0.0.1"
READ_TIMEOUT = 30              # an idle client is dropped after this


class Transaction:
    """One mail transaction that reached the end of its data."""

    def __init__(self, mail, tls):
        self.mail = mail            # the MAIL command line (bytes, without CRLF)
        self.rcpts = []             # the RCPT command lines (bytes, without CRLF)
        self.accepted = []          # the addresses whose RCPT got a 2xx
        self.data_raw = b""         # what came after 354, up to and including ".\r\n"
        self.data = b""             # the same, un-stuffed and without the end marker
        self.tls = tls              # the data came over TLS
        self.reply = None           # our reply to the end of data

    @property
    def mail_params(self):
        return self.mail.split(b">", 1)[1].split() if b">" in self.mail else []

    def __repr__(self):
        return f"<Transaction {self.mail!r} rcpts={self.rcpts!r} {len(self.data)} bytes>"


class Connection:
    """What happened on one accepted connection."""

    def __init__(self, index, peer):
        self.index = index
        self.peer = peer
        self.events = []            # (monotonic time, kind, bytes, tls): kind C = command
                                    # line (raw, with its terminator), S = our reply,
                                    # D = data bytes, T = TLS started, X = closed
        self.lines = []             # command lines as (raw bytes with terminator, tls)
        self.transactions = []
        self.tls_version = None     # once a handshake succeeded
        self.gate_timed_out = False  # pipeline_gate: the client waited for replies
        self.early_data = False      # pipeline_gate: bytes came before our 354
        self.closed = False

    def commands(self):
        """The command lines without terminators (bytes)."""
        return [raw.rstrip(b"\r\n") for raw, _tls in self.lines]

    def verbs(self):
        return [c.split(b" ", 1)[0].split(b":", 1)[0].upper().decode("latin-1")
                for c in self.commands()]

    def __repr__(self):
        return f"<Connection #{self.index} {self.commands()!r}>"


class FakeMTA:
    """See the module docstring. Every attribute below may be changed while
    the server runs; a connection reads them when it needs them."""

    def __init__(self, extensions=("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES"),
                 name="fake.test", certfile=None, keyfile=None):
        self.name = name
        self.greeting = f"220 {name} ESMTP fake"
        self.extensions = list(extensions)   # advertised after EHLO (STARTTLS only before TLS)
        self.ehlo_reply = None               # e.g. "500 5.5.1 unknown command": refuse EHLO
        self.helo_reply = f"250 {name}"
        self.starttls_mode = "tls"           # tls | close | garbage | refuse
        self.mail_reply = None               # callable(line, conn) -> reply or None
        self.rcpt_reply = None               # callable(address, line, conn) -> reply or None
        self.data_reply = "354 End data with <CR><LF>.<CR><LF>"
        self.eod_reply = None                # callable(transaction, conn) -> reply or None
        self.pipeline_gate = False           # hold replies to MAIL/RCPT/RSET until DATA is read
        self.gate_timeout = 4.0              # ... or until the client waited this long
        self.certfile = certfile
        self.keyfile = keyfile
        self.connections = []
        self.lock = threading.Lock()
        self.sock = None
        self.port = None
        self._threads = []
        self._socks = []
        self._stopping = False
        self._counter = 0

    # lifecycle ----------------------------------------------------------------
    def start(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((HOST, 0))
        self.sock.listen(32)
        self.port = self.sock.getsockname()[1]
        t = threading.Thread(target=self._accept_loop, name=f"fake-mta-{self.port}", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    @property
    def address(self):
        return f"{HOST}:{self.port}"

    def stop(self):
        self._stopping = True
        try:
            self.sock.close()
        except OSError:
            pass
        with self.lock:
            socks = list(self._socks)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # what was seen ------------------------------------------------------------
    def transactions(self):
        with self.lock:
            return [t for c in self.connections for t in c.transactions]

    def all_commands(self):
        with self.lock:
            return [line for c in self.connections for line in c.commands()]

    def wait_transactions(self, n, timeout=15, what=None):
        end = time.monotonic() + timeout
        while True:
            txns = self.transactions()
            if len(txns) >= n:
                return txns
            if time.monotonic() > end:
                raise AssertionError(
                    f"timed out after {timeout} s waiting for {what or f'{n} transaction(s)'} "
                    f"at the fake MTA; it saw {len(txns)}; connections:\n{self.describe()}")
            time.sleep(0.05)

    def wait_connections(self, n, timeout=15, closed=False):
        end = time.monotonic() + timeout
        while True:
            with self.lock:
                conns = [c for c in self.connections if c.closed or not closed]
            if len(conns) >= n:
                return conns
            if time.monotonic() > end:
                raise AssertionError(f"timed out after {timeout} s waiting for {n} connection(s) "
                                     f"at the fake MTA; connections:\n{self.describe()}")
            time.sleep(0.05)

    def describe(self):
        """A readable dump of every connection (for failure messages)."""
        out = []
        with self.lock:
            conns = list(self.connections)
        for c in conns:
            out.append(f"-- connection #{c.index} from {c.peer} tls={c.tls_version}")
            for _t, kind, data, tls in c.events:
                mark = "*" if tls else " "
                if kind == "D":
                    out.append(f"  {mark}D {len(data)} bytes of data: {data[:200]!r}...")
                else:
                    out.append(f"  {mark}{kind} {data[:300]!r}")
        return "\n".join(out) or "(no connection)"

    # the server -----------------------------------------------------------------
    def _accept_loop(self):
        self.sock.settimeout(0.1)       # closing a listening socket does not wake accept()
        while not self._stopping:
            try:
                s, peer = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            s.settimeout(None)
            with self.lock:
                conn = Connection(self._counter, peer)
                self._counter += 1
                self.connections.append(conn)
                self._socks.append(s)
            t = threading.Thread(target=self._serve, args=(s, conn), daemon=True,
                                 name=f"fake-mta-conn-{conn.index}")
            t.start()
            self._threads.append(t)

    def _serve(self, s, conn):
        session = _Session(self, s, conn)
        try:
            session.run()
        except (OSError, ssl.SSLError, _Closed):
            pass
        finally:
            with self.lock:
                conn.events.append((time.monotonic(), "X", b"", session.tls))
                conn.closed = True
            try:
                session.sock.close()
            except OSError:
                pass


class _Closed(Exception):
    pass


class _Timeout(Exception):
    pass


def _unstuff(lines):
    out = []
    for line in lines:
        out.append(line[1:] if line.startswith(b".") else line)
    return b"".join(out)


class _Session:
    def __init__(self, server, sock, conn):
        self.server = server
        self.sock = sock
        self.conn = conn
        self.buf = b""
        self.tls = False
        self.pending = []           # replies held back by the pipeline gate
        self.txn = None
        self.mail_ok = False
        self.rejected = False       # greeted with 5xx: only QUIT helps (RFC 5321 §3.1)

    # io -----------------------------------------------------------------------
    def record(self, kind, data):
        with self.server.lock:
            self.conn.events.append((time.monotonic(), kind, data, self.tls))

    def send(self, text):
        data = text.encode() if isinstance(text, str) else text
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        self.record("S", data)
        self.sock.sendall(data)

    def reply(self, text):
        if self.server.pipeline_gate:
            self.pending.append(text)
        else:
            self.send(text)

    def flush(self):
        if self.pending:
            data = "".join(p + "\r\n" for p in self.pending)
            self.pending = []
            self.send(data)

    def fill(self, timeout):
        self.sock.settimeout(timeout)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise _Timeout() from None
        if not chunk:
            raise _Closed()
        self.buf += chunk

    def readline(self, timeout=READ_TIMEOUT):
        while b"\n" not in self.buf:
            self.fill(timeout)
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    # the dialogue ---------------------------------------------------------------
    def ehlo_lines(self, name):
        exts = [e for e in self.server.extensions if not (self.tls and e.upper() == "STARTTLS")]
        lines = [f"{self.server.name} greets {name}"] + exts
        return "\r\n".join(("250 " if i == len(lines) - 1 else "250-") + l
                           for i, l in enumerate(lines))

    def run(self):
        self.send(self.server.greeting)
        self.rejected = not self.server.greeting.startswith("220")
        while True:
            try:
                timeout = self.server.gate_timeout if self.pending else READ_TIMEOUT
                raw = self.readline(timeout)
            except _Timeout:
                if self.pending:           # the client waits for replies: it is not pipelining
                    self.conn.gate_timed_out = True
                    self.flush()
                    continue
                return
            with self.server.lock:
                self.conn.events.append((time.monotonic(), "C", raw, self.tls))
                self.conn.lines.append((raw, self.tls))
            line = raw.rstrip(b"\r\n")
            verb = line.split(b" ", 1)[0].split(b":", 1)[0].upper()
            arg = line[len(verb):].strip()
            if self.rejected:
                if verb == b"QUIT":
                    self.send("221 2.0.0 Bye")
                    return
                self.send("503 5.5.1 Bad sequence of commands")
                continue
            if verb == b"EHLO":
                self.reset()
                self.send(self.server.ehlo_reply or self.ehlo_lines(arg.decode("latin-1")))
            elif verb == b"HELO":
                self.reset()
                self.send(self.server.helo_reply)
            elif verb == b"STARTTLS":
                if not self.starttls():
                    return
            elif verb == b"MAIL":
                self.mail(line)
            elif verb == b"RCPT":
                self.rcpt(line)
            elif verb == b"DATA":
                self.data()
            elif verb == b"RSET":
                self.reset()
                self.reply("250 2.0.0 OK")
            elif verb == b"NOOP":
                self.reply("250 2.0.0 OK")
            elif verb == b"QUIT":
                self.flush()
                self.send("221 2.0.0 Bye")
                return
            else:
                self.flush()
                self.send("502 5.5.2 Command not implemented")

    def reset(self):
        self.txn = None
        self.mail_ok = False

    def starttls(self):
        mode = self.server.starttls_mode
        if mode == "refuse" or "STARTTLS" not in [e.upper() for e in self.server.extensions]:
            self.send("454 4.7.0 TLS not available")
            return True
        self.send("220 2.0.0 Ready to start TLS")
        if mode == "close":
            self.sock.shutdown(socket.SHUT_RDWR)
            return False
        if mode == "garbage":
            try:
                self.fill(10)               # the ClientHello
            except _Timeout:
                pass
            self.record("D", self.buf)
            self.buf = b""
            junk = b"HTTP/1.1 400 Bad Request\r\nthis is not a TLS ServerHello\r\n\r\n"
            self.record("S", junk)
            self.sock.sendall(junk)
            time.sleep(0.2)
            self.sock.shutdown(socket.SHUT_RDWR)
            return False
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.server.certfile, self.server.keyfile)
        self.sock.settimeout(15)
        tls_sock = ctx.wrap_socket(self.sock, server_side=True)
        with self.server.lock:
            self.server._socks.append(tls_sock)
        self.sock = tls_sock
        self.tls = True
        self.conn.tls_version = tls_sock.version()
        self.record("T", (tls_sock.version() or "").encode())
        self.reset()
        return True

    def mail(self, line):
        self.txn = Transaction(line, self.tls)
        custom = self.server.mail_reply(line, self.conn) if self.server.mail_reply else None
        r = custom or "250 2.1.0 OK"
        self.mail_ok = r.startswith("2")
        self.reply(r)

    def rcpt(self, line):
        m = re.match(rb"^RCPT TO:\s*<([^>]*)>", line, re.I)
        addr = m.group(1).decode("utf-8", "replace") if m else ""
        if self.txn is None or not self.mail_ok:
            self.reply("503 5.5.1 Error: need MAIL command")
            return
        self.txn.rcpts.append(line)
        custom = self.server.rcpt_reply(addr, line, self.conn) if self.server.rcpt_reply else None
        r = custom or "250 2.1.5 OK"
        if r.startswith("2"):
            self.txn.accepted.append(addr)
        self.reply(r)

    def data(self):
        ok = self.txn is not None and self.mail_ok and self.txn.accepted
        if self.pending:
            # Did the client send anything past DATA before our 354? It must
            # not (RFC 2920 §3.1: DATA is the last command of a group).
            if not self.buf:
                try:
                    self.fill(0.3)
                except _Timeout:
                    pass
            if self.buf:
                self.conn.early_data = True
        if not ok:
            self.reply("554 5.5.1 Error: no valid recipients")
            self.flush()
            self.reset()
            return
        self.reply(self.server.data_reply)
        self.flush()
        if not self.server.data_reply.startswith("354"):
            self.reset()
            return
        lines = []
        raw = b""
        while True:
            line = self.readline()
            raw += line
            if line == b".\r\n":
                break
            lines.append(line)
        self.record("D", raw)
        txn = self.txn
        txn.data_raw = raw
        txn.data = _unstuff(lines)
        custom = self.server.eod_reply(txn, self.conn) if self.server.eod_reply else None
        txn.reply = custom or f"250 2.0.0 OK queued as fake{len(self.conn.transactions)}"
        with self.server.lock:
            self.conn.transactions.append(txn)
        self.send(txn.reply)
        self.reset()
