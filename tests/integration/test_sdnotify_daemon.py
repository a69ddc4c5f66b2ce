"""A daemon under systemd (Type=notify) reports its state on $NOTIFY_SOCKET:
READY=1 once it listens, RELOADING=1 then READY=1 around a SIGHUP (what
`systemctl reload` waits for), STOPPING=1 when it stops (lib/sdnotify.h)."""
import os
import signal
import socket

from conftest import free_port, wait_port
from mcdtest import binary


def recv_state(sock):
    data = sock.recv(4096).decode()
    return dict(line.split("=", 1) for line in data.split("\n") if "=" in line)


def test_mcd_reports_ready_reloading_and_stopping(procs, tmp_path):
    name = f"mcops-sdnotify-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(10)
    try:
        port = free_port()
        p = procs.start([binary("mcd"), "-l", "127.0.0.1", "-p", str(port), "-t", "1",
                         "-U", "0"], name="mcd", env={"NOTIFY_SOCKET": "@" + name})
        assert recv_state(sock).get("READY") == "1"
        wait_port(port, proc=p)
        p.send_signal(signal.SIGHUP)
        st = recv_state(sock)
        assert st.get("RELOADING") == "1" and "MONOTONIC_USEC" in st, st
        assert recv_state(sock).get("READY") == "1"
        p.send_signal(signal.SIGTERM)
        assert recv_state(sock).get("STOPPING") == "1"
        assert p.wait(timeout=10) == 0
    finally:
        sock.close()
