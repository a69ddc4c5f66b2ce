"""Helpers to run mcd in integration tests and talk raw protocol to it."""
import json
import os
import socket
import subprocess
import time

from conftest import binary, free_port, wait_port


class Raw:
    """A raw text-protocol connection with bounded reads."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0, sock=None):
        self.sock = sock or socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server; got %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("latin1")

    def read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed by server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def cmd(self, data):
        """Sends data and returns the first reply line."""
        self.send(data)
        return self.line()

    def until_end(self):
        lines = []
        while True:
            l = self.line()
            if l in ("END", "ERROR") or l.startswith(("CLIENT_ERROR", "SERVER_ERROR")):
                return lines, l
            lines.append(l)

    def stats(self, arg=""):
        self.send(("stats %s\r\n" % arg) if arg else "stats\r\n")
        lines, end = self.until_end()
        assert end == "END", end
        out = {}
        for l in lines:
            _, k, v = l.split(" ", 2)
            out[k] = v
        return out

    def auth(self, user, password):
        return self.cmd("set %s 0 0 %d\r\n%s\r\n" % (user, len(password), password))

    def closed(self, timeout=5.0):
        """True if the server closes the connection within timeout."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, TimeoutError):
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def add_tenant(tenants_file, name, limit="64M", caps=None, admin=False):
    """Adds a tenant with mctl and returns its generated password."""
    argv = [binary("mctl"), "--json", "tenant", "add", name, "--file", str(tenants_file)]
    if admin:
        argv.append("--admin")
    else:
        argv += ["--limit", limit]
        if caps is not None:
            argv += ["--caps", caps]
    out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)
    return json.loads(out.stdout)["password"]


class Mcd:
    def __init__(self, proc, port, admin_port=None, tls_port=None):
        self.proc = proc
        self.port = port
        self.admin_port = admin_port
        self.tls_port = tls_port

    def raw(self, **kw):
        return Raw(self.port, **kw)


def start_mcd(procs, *args, tenants=None, admin=False, tls=None, threads=2, memory=64,
              extra=()):
    """Starts mcd on free loopback ports; waits until every listener accepts."""
    port = free_port()
    argv = [binary("mcd"), "-l", "127.0.0.1", "-p", str(port), "-t", str(threads),
            "-m", str(memory), "-U", "0"]
    admin_port = tls_port = None
    if tenants is not None:
        argv += ["--tenants", str(tenants)]
    if admin:
        admin_port = free_port()
        argv += ["--admin-port", str(admin_port)]
    if tls is not None:
        tls_port = free_port()
        argv += ["--tls-port", str(tls_port), "--tls-cert", tls[0], "--tls-key", tls[1]]
    argv += list(args) + list(extra)
    p = procs.start(argv, name="mcd")
    wait_port(port, proc=p)
    if admin_port:
        wait_port(admin_port, proc=p)
    if tls_port:
        wait_port(tls_port, proc=p)
    return Mcd(p, port, admin_port, tls_port)


def restart_mcd(procs, mcd):
    """Stops mcd (SIGTERM) and starts it again with the same arguments, so on the same
    ports; waits until its listeners accept. Its items are gone, as after a real restart."""
    procs.stop(mcd.proc)
    p = procs.start(list(mcd.proc.args), name="mcd")
    for port in (mcd.port, mcd.admin_port, mcd.tls_port):
        if port:
            wait_port(port, proc=p)
    return Mcd(p, mcd.port, mcd.admin_port, mcd.tls_port)
