"""The proxy role's guards that keep replies matched to requests and costs bounded:
the login check against a backend that does not take the proxy's account, the
per-backend queue limit (excess refused at once), and the per-request deadline."""
import os
import signal
import time

from conftest import binary, free_port, wait_port
from mcdtest import Raw, add_tenant, start_mcd


def stop_process(pid):
    """SIGSTOP, then waits until the kernel shows the process stopped: the signal is
    delivered asynchronously, and a process still running could answer meanwhile."""
    os.kill(pid, signal.SIGSTOP)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "T":
                return
        time.sleep(0.01)
    raise AssertionError("process %d did not stop" % pid)


def start_proxy(procs, tmp_path, backends, extra_conf="", tenants=None, threads=1):
    conf = tmp_path / "proxy.conf"
    lines = ["[proxy]"]
    for i, b in enumerate(backends):
        lines.append("backend = 127.0.0.1:%d:1 b%d" % (b.port, i))
    conf.write_text("\n".join(lines) + "\n" + extra_conf)
    port, admin = free_port(), free_port()
    argv = [binary("mcd"), "--proxy", str(conf), "-p", str(port), "-t", str(threads),
            "--admin-port", str(admin)]
    if tenants is not None:
        argv += ["--tenants", str(tenants)]
    p = procs.start(argv, name="proxy")
    wait_port(port, proc=p)
    wait_port(admin, proc=p)
    p.port, p.admin_port = port, admin
    return p


def test_a_backend_that_does_not_take_the_account_as_a_proxy_is_never_sent_requests(
        procs, tmp_path):
    # The proxy authenticates its clients; the backend runs without tenants, so it
    # would store the login as a key and answer ERROR to proxy_as: had the proxy not
    # checked, that ERROR would have been read as the reply to the client's set.
    tenants = tmp_path / "tenants"
    pw = add_tenant(tenants, "alice")
    (tmp_path / "proxy.pw").write_text(add_tenant(tenants, "proxy", caps="proxy") + "\n")
    backend = start_mcd(procs)
    proxy = start_proxy(procs, tmp_path, [backend], tenants=tenants, extra_conf=(
        "account = proxy\npassword_file = %s\n" % (tmp_path / "proxy.pw")))
    c = Raw(proxy.port)
    assert c.auth("alice", pw) == "STORED"
    for _ in range(3):
        assert c.cmd("set k 0 0 1\r\nx\r\n") == "SERVER_ERROR backend unavailable"
        c.send("get k\r\n")
        assert c.until_end() == ([], "END")
    log = procs.log(proxy)
    assert "took the proxy's account but not as a proxy" in log
    assert log.count("not as a proxy") == 1
    # Nothing of the client's reached the backend.
    assert Raw(backend.port).cmd("get k\r\n") == "END"


def test_a_full_backend_queue_refuses_at_once_and_the_deadline_fails_the_waiting(
        procs, tmp_path):
    backend = start_mcd(procs, threads=1)
    proxy = start_proxy(procs, tmp_path, [backend],
                        extra_conf="queue_limit = 1\ntimeout = 60s\nfailure_limit = 5\n")
    warm = Raw(proxy.port)
    assert warm.cmd("set k 0 0 1\r\nx\r\n") == "STORED"
    stop_process(backend.proc.pid)
    try:
        a = Raw(proxy.port)
        a.send("set k 0 0 1\r\ny\r\n")
        b = Raw(proxy.port)
        # One worker (-t 1): a's request fills the backend's queue of one; b's is
        # refused without waiting for a's (which has no reply while the backend is
        # stopped).
        a_stats = Raw(proxy.admin_port)
        for _ in range(200):
            if a_stats.stats("backends").get("b0:outstanding") == "1":
                break
        assert a_stats.stats("backends")["b0:outstanding"] == "1"
        assert b.cmd("set k 0 0 1\r\nz\r\n") == "SERVER_ERROR backend queue full"
        b.send("get k\r\n")
        assert b.until_end() == ([], "END")
        a.sock.setblocking(False)
        try:
            early = a.sock.recv(100)
        except BlockingIOError:
            early = b""
        assert early == b""
        st = a_stats.stats("backends")
        assert st["b0:queue_refusals"] == "2"
        assert st["b0:state"] == "up"
    finally:
        os.kill(backend.proc.pid, signal.SIGCONT)
    a.sock.setblocking(True)
    assert a.line() == "STORED"


def test_no_request_waits_past_its_deadline(procs, tmp_path):
    backend = start_mcd(procs, threads=1)
    other = start_mcd(procs, threads=1)
    proxy = start_proxy(procs, tmp_path, [backend, other],
                        extra_conf="timeout = 200ms\nfailure_limit = 1\nretry_timeout = 60s\n")
    c = Raw(proxy.port)
    # Keys of each backend, found by asking the backends after a set.
    keys = {0: [], 1: []}
    for i in range(40):
        k = "key%d" % i
        assert c.cmd("set %s 0 0 1\r\nv\r\n" % k) == "STORED"
        on0 = Raw(backend.port).cmd("mg %s\r\n" % k) == "HD"
        keys[0 if on0 else 1].append(k)
    assert keys[0] and keys[1]
    stop_process(backend.proc.pid)
    try:
        # A multi-get over both: the stopped backend's keys miss at the deadline,
        # the other's come; then the write to the stopped one says timeout.
        k0, k1 = keys[0][0], keys[1][0]
        c.send("get %s %s\r\nset %s 0 0 1\r\nw\r\nmn\r\n" % (k0, k1, k0))
        lines, end = c.until_end()
        assert (lines, end) == (["VALUE %s 0 1" % k1, "v"], "END")
        assert c.line() == "SERVER_ERROR backend timeout"
        assert c.line() == "MN"
        a = Raw(proxy.admin_port).stats("backends")
        assert a["b0:timeouts"] == "1"
        assert a["b0:state"] == "down"
        # Down: at once, without waiting for a deadline.
        assert c.cmd("set %s 0 0 1\r\nw\r\n" % k0) == "SERVER_ERROR backend unavailable"
    finally:
        os.kill(backend.proc.pid, signal.SIGCONT)
