"""Shared fixtures for the integration tests.

Every process a test starts goes through `procs`, which stops it by pid (SIGTERM,
then SIGKILL after a bounded wait) when the test ends, whatever happened. Servers
listen on free loopback ports only.
"""
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.environ.get("MCOPS_BIN", os.path.join(ROOT, "bin"))
TOOLS = os.environ.get("MCOPS_TOOLS", os.path.join(ROOT, "build", "rel"))


def binary(name):
    """Path of an mcops binary (from MCOPS_BIN, default bin/)."""
    path = os.path.join(BIN, name)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} is not built (run make)")
    return path


def tool(relpath):
    """Path of a built test tool or benchmark (tests/tools/x -> build/<flavor>/tests/tools/x)."""
    return os.path.join(TOOLS, relpath)


def free_port(host="127.0.0.1", family=socket.AF_INET):
    """A port that was free a moment ago on host."""
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_port(port, host="127.0.0.1", timeout=10.0, proc=None):
    """Waits until something accepts on host:port; fails if proc exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class Procs:
    """Starts processes and stops every one of them by pid at teardown."""

    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.started = []

    def start(self, argv, name=None, env=None, **kw):
        name = name or os.path.basename(argv[0])
        log = open(self.tmp_path / f"{name}.{len(self.started)}.log", "wb")
        full_env = dict(os.environ)
        full_env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        if env:
            full_env.update(env)
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                             start_new_session=True, **kw)
        p.log_path = log.name
        log.close()
        self.started.append(p)
        return p

    def log(self, p):
        with open(p.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stop(self, p, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig and waits; SIGKILL after timeout. Returns the exit status."""
        if p.poll() is None:
            try:
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)
        return p.returncode

    def stop_all(self):
        for p in reversed(self.started):
            self.stop(p)


@pytest.fixture
def procs(tmp_path):
    ps = Procs(tmp_path)
    yield ps
    ps.stop_all()


class RecordingHook(http.server.BaseHTTPRequestHandler):
    """Records each POST as (monotonic time, path, JSON body); answers with the status
    the test sets on the server (server.status)."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts.append((time.monotonic(), self.path, json.loads(body or b"{}")))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def hook():
    """An HTTP receiver on loopback for webhooks: .posts, .status, .server_port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RecordingHook)
    server.posts = []
    server.status = 200
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def tls_cert(tmp_path):
    """A self-signed certificate for localhost and its key: (cert path, key path), PEM."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return str(cert), str(key)
