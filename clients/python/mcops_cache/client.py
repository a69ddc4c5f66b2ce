"""A small memcache text-protocol client for mcd, with mcd's ASCII authentication and a
pool of connections that outlives requests.

Why a pool that is kept: every new connection to an mcd with tenants costs a TCP
handshake and a login (`set <tenant> 0 0 <len>` + the password, answered `STORED`)
before the first real command, several times the cost of one get, and it loads the
server's authentication path. So a connection, once logged in, is kept and reused until
it breaks.

Keys are bytes (at most 250, no spaces or control characters: the caller validates);
values are (flags, bytes). Thread-safe: a connection is used by one thread at a time,
taken from and given back to the pool under a lock.
"""
import os
import re
import select
import socket
import threading
import weakref

from .errors import AuthenticationError, ConnectionFailed, McdError, PermissionDenied, ServerError

DEFAULT_PORT = 11211
KEY_MAX = 250  # memcached's and mcd's longest key, in bytes
AUTH_VALUE_MAX = 1024  # mcd closes a connection whose auth value is longer
LINE_MAX = 8192  # a reply line longer than this means we lost the framing
VALUE_MAX = 1 << 30  # mcd's largest item size (-I 1g)
GET_BATCH = 100  # keys per get line: 100 * 251 bytes stays far below mcd's 1 MiB
PIPELINE_BATCH = 100  # commands sent before reading their replies (replies are small)
RECV_SIZE = 65536

TENANT_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}\Z")
AUTH_FAILURE = b"CLIENT_ERROR authentication failure"
UNAUTHENTICATED = b"CLIENT_ERROR unauthenticated"

_clients = weakref.WeakSet()  # every Client, for the fork handler


def parse_server(server):
    """(host, port) from "host", "host:port" or "[v6]:port"."""
    if not isinstance(server, str) or not server:
        raise ValueError("server must be a string \"host:port\", not %r" % (server,))
    m = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d+))?", server)
    if m:
        host, port = m.group(1), m.group(2)
    elif server.count(":") == 1:
        host, port = server.split(":")
    elif ":" in server:
        raise ValueError("server %r: write an IPv6 address as [ADDR]:PORT" % server)
    else:
        host, port = server, None
    if port is None:
        return host, DEFAULT_PORT
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("server %r: bad port" % server)
    return host, int(port)


def read_password_file(path):
    """The first line of path, without its line end."""
    with open(path, "rb") as f:
        line = f.readline(AUTH_VALUE_MAX + 2)
    return line.rstrip(b"\r\n")


class Connection:
    """One socket with a read buffer. Any I/O failure, and any reply that breaks the
    framing, marks it broken: it is then closed instead of going back to the pool."""

    def __init__(self, host, port, timeout, connect_timeout):
        self.broken = False
        self.uses = 0  # times given back to the pool
        self.buf = bytearray()
        self.pid = os.getpid()
        try:
            self.sock = socket.create_connection((host, port), timeout=connect_timeout)
            self.sock.settimeout(timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            raise ConnectionFailed("cannot connect to mcd at %s:%d: %s" % (host, port, e)) from e

    def fail(self, what, cause=None):
        self.broken = True
        err = ConnectionFailed(what if cause is None else "%s: %s" % (what, cause))
        if cause is not None:
            err.__cause__ = cause
        return err

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise self.fail("sending to mcd failed", e) from e

    def _fill(self):
        try:
            chunk = self.sock.recv(RECV_SIZE)
        except OSError as e:
            raise self.fail("reading from mcd failed", e) from e
        if not chunk:
            raise self.fail("mcd closed the connection")
        self.buf += chunk

    def readline(self):
        """The next reply line, without its CRLF."""
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[:end + 2]
                return line
            if len(self.buf) > LINE_MAX:
                raise self.fail("mcd sent a reply line over %d bytes" % LINE_MAX)
            self._fill()

    def read_value(self, n):
        """n bytes of a value and the CRLF after them."""
        while len(self.buf) < n + 2:
            self._fill()
        if self.buf[n:n + 2] != b"\r\n":
            raise self.fail("mcd sent a value without its CRLF")
        data = bytes(self.buf[:n])
        del self.buf[:n + 2]
        return data

    def alive(self):
        """False if the server has closed the connection (a restart, a shed, a revoked
        session) or sent something unasked, which a connection at rest never gets."""
        if self.broken or self.buf or self.pid != os.getpid():
            return False
        # Readable at rest means end of file, a reset, or unasked data: all fatal. A
        # poll with no wait costs one system call per use.
        try:
            poller = select.poll()
            poller.register(self.sock.fileno(), select.POLLIN | select.POLLPRI)
            return not poller.poll(0)
        except (OSError, ValueError):
            return False

    def close(self):
        self.broken = True
        try:
            self.sock.close()
        except OSError:
            pass


class Client:
    """A pooled, authenticating client of one mcd (or one mcd proxy) address.

    username/password: the tenant; password_file: a file whose first line is the
    password, read again for every new connection (so a password changed with `mctl
    tenant passwd` is picked up by the next connection after the file is updated).
    Without a username no login is sent (an mcd without a tenants file, memcached).
    max_idle: connections kept open between uses (the rest are closed when given back).
    """

    def __init__(self, server, username=None, password=None, password_file=None,
                 timeout=5.0, connect_timeout=5.0, max_idle=8):
        self.host, self.port = parse_server(server)
        self.server = server
        if username is not None and not TENANT_NAME.match(str(username)):
            raise ValueError("username %r is not a tenant name (1 to 64 of A-Z a-z 0-9 _ . -)"
                             % (username,))
        if (password is not None or password_file is not None) and username is None:
            raise ValueError("a password needs a username")
        if username is not None and (password is None) == (password_file is None):
            raise ValueError("give exactly one of password and password_file with a username")
        if password is not None:
            self._check_password(password.encode() if isinstance(password, str) else password)
        self.username = username
        self._password = password
        self.password_file = password_file
        self.timeout = float(timeout)
        self.connect_timeout = float(connect_timeout)
        self.max_idle = int(max_idle)
        if self.max_idle < 0:
            raise ValueError("max_idle must be 0 or more")
        self._idle = []
        self._lock = threading.Lock()
        _clients.add(self)

    def _check_password(self, pw):
        if not pw or len(pw) > AUTH_VALUE_MAX or b"\r" in pw or b"\n" in pw:
            where = "in %s" % self.password_file if self.password_file else "given"
            raise ValueError("the password %s must be 1 to %d bytes on one line"
                             % (where, AUTH_VALUE_MAX))

    def _password_bytes(self):
        if self.password_file is not None:
            try:
                pw = read_password_file(self.password_file)
            except OSError as e:
                raise AuthenticationError("cannot read the password of tenant %r: %s"
                                          % (self.username, e)) from e
        else:
            pw = self._password
            pw = pw.encode() if isinstance(pw, str) else pw
        self._check_password(pw)
        return pw

    # -- the pool ---------------------------------------------------------------------

    def _connect(self):
        conn = Connection(self.host, self.port, self.timeout, self.connect_timeout)
        if self.username is None:
            return conn
        try:
            pw = self._password_bytes()
            user = self.username.encode()
            conn.send(b"set %s 0 0 %d\r\n%s\r\n" % (user, len(pw), pw))
            line = conn.readline()
        except BaseException:
            conn.close()
            raise
        if line == b"STORED":
            return conn
        conn.close()
        text = line.decode("utf-8", "replace")
        if line == AUTH_FAILURE:
            raise AuthenticationError(
                "mcd at %s refused the login of tenant %r: wrong tenant name or password (%s)"
                % (self.server, self.username, text))
        raise ServerError("mcd at %s refused the login of tenant %r: %s"
                          % (self.server, self.username, text))

    def _checkout(self):
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._connect()
            if conn.alive():
                return conn
            conn.close()

    def _checkin(self, conn):
        conn.uses += 1
        if not conn.broken and conn.pid == os.getpid():
            with self._lock:
                if len(self._idle) < self.max_idle:
                    self._idle.append(conn)
                    return
        conn.close()

    def _attempt(self, conn, op):
        try:
            result = op(conn)
        except McdError:
            # An error reply leaves the connection in step (a broken one is closed).
            self._checkin(conn)
            raise
        except BaseException:
            # Interrupted in the middle of a reply: out of step.
            conn.close()
            raise
        self._checkin(conn)
        return result

    def _run(self, op, retry):
        """op(conn) on a pooled connection. If a reused connection breaks during the
        request and retry is set (the request is idempotent), op runs once more on a new
        connection: a pooled connection can break unseen between the check and the use
        (an mcd restarted at that moment). Not retried: a new connection that fails, and
        a timeout (a slow server is not made faster by sending the request again)."""
        conn = self._checkout()
        reused = conn.uses > 0
        try:
            return self._attempt(conn, op)
        except ConnectionFailed as e:
            if not (retry and reused) or isinstance(e.__cause__, socket.timeout):
                raise
        return self._attempt(self._connect(), op)

    def close(self):
        """Closes the idle connections (those in use go back to the pool after)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _forget_after_fork(self):
        # The child must not use (or shut down) sockets its parent also holds.
        self._idle = []
        self._lock = threading.Lock()

    # -- replies --------------------------------------------------------------------

    def _error(self, conn, line, what):
        """The exception for a reply line that is not the success reply."""
        text = line.decode("utf-8", "replace")
        if line == UNAUTHENTICATED:
            return AuthenticationError("mcd at %s requires a login (it has tenants): give a "
                                       "username and a password (%s)" % (self.server, text))
        if line.startswith(b"CLIENT_ERROR permission denied"):
            return PermissionDenied("mcd at %s: %s: %s (the tenant's capabilities are set "
                                    "with `mctl tenant caps`)" % (self.server, what, text))
        if line == b"ERROR" or line.startswith((b"CLIENT_ERROR ", b"SERVER_ERROR ")):
            return ServerError("mcd at %s: %s: %s" % (self.server, what, text))
        conn.broken = True
        return ServerError("mcd at %s: %s: unexpected reply %r" % (self.server, what, text[:80]))

    # -- commands -------------------------------------------------------------------

    def get_many(self, keys):
        """{key: (flags, value)} for the keys that exist."""
        keys = list(keys)

        def op(conn):
            found = {}
            for i in range(0, len(keys), GET_BATCH):
                conn.send(b"get " + b" ".join(keys[i:i + GET_BATCH]) + b"\r\n")
                while True:
                    line = conn.readline()
                    if line == b"END":
                        break
                    parts = line.split()
                    if len(parts) < 4 or parts[0] != b"VALUE":
                        raise self._error(conn, line, "get")
                    try:
                        flags, n = int(parts[2]), int(parts[3])
                    except ValueError:
                        conn.broken = True
                        raise self._error(conn, line, "get") from None
                    if not 0 <= n <= VALUE_MAX:
                        raise conn.fail("mcd announced a value of %d bytes" % n)
                    found[parts[1]] = (flags, conn.read_value(n))
            return found

        return self._run(op, retry=True) if keys else {}

    def get(self, key):
        """(flags, value), or None if the key does not exist."""
        return self.get_many([key]).get(key)

    def _store_reply(self, conn, line, cmd):
        if line == b"STORED":
            return True
        if line in (b"NOT_STORED", b"EXISTS", b"NOT_FOUND"):
            return False
        # Too large or no memory: not stored, and mcd dropped the old value (as
        # memcached does). A cache treats that as a miss, not as an error.
        if line.startswith(b"SERVER_ERROR object too large") or \
                line.startswith(b"SERVER_ERROR out of memory"):
            return False
        raise self._error(conn, line, cmd)

    @staticmethod
    def _store_cmd(cmd, key, flags, exptime, value):
        return b"%s %s %d %d %d\r\n%s\r\n" % (cmd, key, flags, exptime, len(value), value)

    def _store(self, cmd, key, flags, value, exptime, retry):
        def op(conn):
            conn.send(self._store_cmd(cmd, key, flags, exptime, value))
            return self._store_reply(conn, conn.readline(), cmd.decode())
        return self._run(op, retry=retry)

    def set(self, key, flags, value, exptime=0):
        """True if stored. A set is idempotent, so it is retried once on a broken
        connection."""
        return self._store(b"set", key, flags, value, exptime, retry=True)

    def add(self, key, flags, value, exptime=0):
        """True if stored (the key did not exist). Never retried: the first attempt may
        have stored it, and the retry would then report False."""
        return self._store(b"add", key, flags, value, exptime, retry=False)

    def set_many(self, items, exptime=0):
        """items: [(key, flags, value)]. Returns the keys that were not stored. The sets
        are pipelined, PIPELINE_BATCH at a time."""
        items = list(items)

        def op(conn):
            failed, first_error = [], None
            for i in range(0, len(items), PIPELINE_BATCH):
                batch = items[i:i + PIPELINE_BATCH]
                conn.send(b"".join(self._store_cmd(b"set", k, f, exptime, v)
                                   for k, f, v in batch))
                for k, _, _ in batch:
                    try:
                        if not self._store_reply(conn, conn.readline(), "set"):
                            failed.append(k)
                    except McdError as e:
                        if conn.broken:
                            raise
                        failed.append(k)
                        first_error = first_error or e
            if first_error is not None:
                raise first_error
            return failed

        return self._run(op, retry=True) if items else []

    def delete_many(self, keys):
        """Deletes keys (pipelined); returns how many existed."""
        keys = list(keys)

        def op(conn):
            deleted, first_error = 0, None
            for i in range(0, len(keys), PIPELINE_BATCH):
                batch = keys[i:i + PIPELINE_BATCH]
                conn.send(b"".join(b"delete %s\r\n" % k for k in batch))
                for _ in batch:
                    line = conn.readline()
                    if line == b"DELETED":
                        deleted += 1
                    elif line != b"NOT_FOUND":
                        e = self._error(conn, line, "delete")
                        if conn.broken:
                            raise e
                        first_error = first_error or e
            if first_error is not None:
                raise first_error
            return deleted

        return self._run(op, retry=True) if keys else 0

    def delete(self, key):
        """True if the key existed."""
        return self.delete_many([key]) == 1

    def _simple(self, line, what, ok, retry, absent=None):
        """Sends one command line; returns True for the reply ok, absent's value for
        NOT_FOUND."""
        def op(conn):
            conn.send(line)
            reply = conn.readline()
            if reply == ok:
                return True
            if absent is not None and reply == b"NOT_FOUND":
                return absent
            raise self._error(conn, reply, what)
        return self._run(op, retry=retry)

    def touch(self, key, exptime):
        """True if the key exists (its expiry is now exptime)."""
        return self._simple(b"touch %s %d\r\n" % (key, exptime), "touch", b"TOUCHED",
                            retry=True, absent=False)

    def _arith(self, cmd, key, delta):
        def op(conn):
            conn.send(b"%s %s %d\r\n" % (cmd, key, delta))
            reply = conn.readline()
            if reply == b"NOT_FOUND":
                return None
            if reply.isdigit():
                return int(reply)
            raise self._error(conn, reply, cmd.decode())
        return self._run(op, retry=False)

    def incr(self, key, delta=1):
        """The new value, or None if the key does not exist. Never retried (not
        idempotent)."""
        return self._arith(b"incr", key, delta)

    def decr(self, key, delta=1):
        """The new value (memcache stops at 0), or None if the key does not exist."""
        return self._arith(b"decr", key, delta)

    def flush_all(self):
        """Invalidates every item of this tenant (mcd: only the tenant's own items; it
        needs the flush capability)."""
        return self._simple(b"flush_all\r\n", "flush_all", b"OK", retry=True)

    def version(self):
        def op(conn):
            conn.send(b"version\r\n")
            reply = conn.readline()
            if not reply.startswith(b"VERSION "):
                raise self._error(conn, reply, "version")
            return reply[8:].decode("utf-8", "replace")
        return self._run(op, retry=True)

    def stats(self, arg=None):
        """{name: value} of `stats [arg]` (a tenant sees its own figures)."""
        def op(conn):
            conn.send(b"stats %s\r\n" % arg.encode() if arg else b"stats\r\n")
            out = {}
            while True:
                line = conn.readline()
                if line == b"END":
                    return out
                parts = line.split(b" ", 2)
                if len(parts) != 3 or parts[0] != b"STAT":
                    raise self._error(conn, line, "stats")
                out[parts[1].decode()] = parts[2].decode("utf-8", "replace")
        return self._run(op, retry=True)


def _after_fork_in_child():
    for client in list(_clients):
        client._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)
