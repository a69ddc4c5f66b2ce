"""A storm of failing connections leaves a bounded log: 100,000 bad authentications,
connections reset mid-request and connections that never authenticate produce a few
rate-limited lines with suppressed counts, never a line per failure."""
import socket
import struct
import subprocess
import time

from conftest import tool
from mcdtest import Raw, add_tenant, start_mcd


def test_failure_storm_of_100000_connections_logs_a_bounded_number_of_lines(procs, tmp_path):
    tenants = tmp_path / "tenants"
    add_tenant(tenants, "acme")
    ops = add_tenant(tenants, "ops", admin=True)
    m = start_mcd(procs, tenants=tenants, admin=True, extra=["--auth-timeout", "1s"])
    before = open(m.proc.log_path).read().count("\n")

    # 1. bad authentication, 100,000 connections (bounded: count and 120 s)
    out = subprocess.run([tool("tests/tools/stormgen"), "--target", "127.0.0.1:%d" % m.port,
                          "--count", "100000", "--user", "acme", "--password", "wrong-password",
                          "--duration", "120s"], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr
    assert "auth_failed=100000" in out.stderr + out.stdout

    # 2. resets in the middle of a request (RST on close), 500 connections
    for _ in range(500):
        s = socket.create_connection(("127.0.0.1", m.port), timeout=5)
        s.sendall(b"set acme 0 0 10\r\nhal")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    # 3. connections that never authenticate: closed at the deadline, 300 of them
    # (waited for: each one's end of file, however late the deadline's timer runs)
    idle = [socket.create_connection(("127.0.0.1", m.port), timeout=5) for _ in range(300)]
    for s in idle:
        s.settimeout(60)
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
        s.close()

    # The rate limit's period (10 s) must end before the suppressed counts are
    # reported: at least that long, then as long as mcd takes to say it.
    time.sleep(10)
    deadline = time.monotonic() + 60
    while "more suppressed" not in open(m.proc.log_path).read():
        assert time.monotonic() < deadline, "no suppressed count reported"
        time.sleep(0.2)
    a = Raw(m.admin_port)
    assert a.auth("ops", ops) == "STORED"
    st = a.stats()
    assert int(st["auth_errors"]) >= 100000
    assert int(st["auth_timeouts"]) >= 300
    assert m.proc.poll() is None
    text = open(m.proc.log_path).read()
    grown = text.count("\n") - before
    assert grown <= 30, "the log grew by %d lines:\n%s" % (grown, text[-3000:])
    assert "more suppressed" in text
    assert int(st["log_lines_suppressed"]) >= 99000
