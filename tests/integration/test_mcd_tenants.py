"""mcd with a tenants file: authentication, isolation, limits, capabilities, the
admin port, SIGHUP reload, TLS and bounded logging under an auth-failure storm."""
import os
import signal
import socket
import ssl
import subprocess
import time

import pymemcache.client.base
import pytest

from conftest import binary
from mcdtest import Raw, add_tenant, start_mcd


@pytest.fixture
def tenants(tmp_path):
    path = tmp_path / "tenants"
    pw = {
        "acme": add_tenant(path, "acme"),
        "beta": add_tenant(path, "beta"),
        "small": add_tenant(path, "small", limit="64K"),
        "reader": add_tenant(path, "reader", caps="read"),
        "writer": add_tenant(path, "writer", caps="read,write"),
        "ops": add_tenant(path, "ops", admin=True),
    }
    return path, pw


@pytest.fixture
def mcd(procs, tenants):
    return start_mcd(procs, tenants=tenants[0], admin=True, extra=["--auth-timeout", "1s"])


def login(mcd, pw, user="acme"):
    r = mcd.raw()
    assert r.auth(user, pw[user]) == "STORED"
    return r


def test_auth_then_ordinary_use(mcd, tenants):
    r = login(mcd, tenants[1])
    assert r.cmd("set k 0 0 1\r\nv\r\n") == "STORED"
    r.send("get k\r\n")
    assert r.until_end() == (["VALUE k 0 1", "v"], "END")


def test_pymemcache_authenticates_with_a_set(mcd, tenants):
    c = pymemcache.client.base.Client(("127.0.0.1", mcd.port), timeout=5)
    assert c.set("acme", tenants[1]["acme"], noreply=False)
    assert c.set("x", b"1", noreply=False)
    assert c.get("x") == b"1"


def test_memcached_dash_Y_form_is_accepted(mcd, tenants):
    r = mcd.raw()
    value = "acme %s" % tenants[1]["acme"]
    assert r.cmd("set anykey 0 0 %d\r\n%s\r\n" % (len(value), value)) == "STORED"
    assert r.cmd("set k 0 0 1\r\nv\r\n") == "STORED"


def test_wrong_password_and_unknown_user_are_refused(mcd, tenants):
    r = mcd.raw()
    assert r.auth("acme", "not-the-password") == "CLIENT_ERROR authentication failure"
    assert r.auth("nobody", "whatever") == "CLIENT_ERROR authentication failure"
    # still unauthenticated
    assert r.cmd("get k\r\n") == "CLIENT_ERROR unauthenticated"


def test_repeated_failures_close_the_connection(mcd, tenants):
    r = mcd.raw()
    for _ in range(3):
        assert r.auth("acme", "bad") == "CLIENT_ERROR authentication failure"
    assert r.closed(timeout=30)


def test_any_command_before_auth_is_refused(mcd):
    r = mcd.raw()
    assert r.cmd("get k\r\n") == "CLIENT_ERROR unauthenticated"
    assert r.cmd("stats\r\n") == "CLIENT_ERROR unauthenticated"
    assert r.cmd("add k 0 0 1\r\nv\r\n") == "CLIENT_ERROR unauthenticated"
    assert r.cmd("mg k v\r\n") == "CLIENT_ERROR unauthenticated"


def test_unauthenticated_connection_is_closed_after_the_deadline(mcd):
    t0 = time.monotonic()  # before the connect: the deadline cannot start earlier
    r = mcd.raw()
    # Closed, and not before the 1 s deadline; how long after it depends on the machine
    # (the counter below says it was the deadline that closed it).
    assert r.closed(timeout=30)
    assert time.monotonic() - t0 >= 0.9
    a = Raw(mcd.admin_port)
    assert a.auth("ops", mcd_pw_cache["ops"]) == "STORED"
    assert int(a.stats()["auth_timeouts"]) >= 1


mcd_pw_cache = {}


@pytest.fixture(autouse=True)
def remember(tenants):
    mcd_pw_cache.clear()
    mcd_pw_cache.update(tenants[1])


def test_auth_pipelined_with_get_in_one_packet_is_served(mcd, tenants):
    r = login(mcd, tenants[1])
    r.cmd("set k 0 0 3\r\nabc\r\n")
    r2 = mcd.raw()
    pw = tenants[1]["acme"]
    r2.send("set acme 0 0 %d\r\n%s\r\nget k\r\n" % (len(pw), pw))
    assert r2.line() == "STORED"
    assert r2.until_end() == (["VALUE k 0 3", "abc"], "END")


def test_tenants_never_see_each_others_keys(mcd, tenants):
    a = login(mcd, tenants[1], "acme")
    b = login(mcd, tenants[1], "beta")
    assert a.cmd("set shared 0 0 1\r\nA\r\n") == "STORED"
    b.send("get shared\r\n")
    assert b.until_end() == ([], "END")  # cannot read
    assert b.cmd("set shared 0 0 1\r\nB\r\n") == "STORED"  # own key space
    assert b.cmd("delete shared\r\n") == "DELETED"  # deletes B's own
    assert b.cmd("delete shared\r\n") == "NOT_FOUND"
    assert b.cmd("flush_all\r\n") == "OK"  # flushes B only
    a.send("get shared\r\n")
    assert a.until_end() == (["VALUE shared 0 1", "A"], "END")
    assert b.cmd("mg shared v\r\n") == "EN"


def test_memory_limit_and_eviction_are_per_tenant(mcd, tenants):
    small = login(mcd, tenants[1], "small")
    acme = login(mcd, tenants[1], "acme")
    assert acme.cmd("set keep 0 0 4\r\nkeep\r\n") == "STORED"
    value = "x" * 1000
    for i in range(200):  # ~200 KB into a 64 KB tenant
        assert small.cmd("set k%d 0 0 %d\r\n%s\r\n" % (i, len(value), value)) == "STORED"
    st = small.stats()
    assert int(st["bytes"]) <= 64 * 1024
    assert int(st["evictions"]) > 0
    assert int(st["limit_maxbytes"]) == 64 * 1024
    small.send("get k0 k199\r\n")
    lines, _ = small.until_end()
    assert lines[0] == "VALUE k199 0 1000"  # the oldest went, the newest stayed
    acme.send("get keep\r\n")
    assert acme.until_end() == (["VALUE keep 0 4", "keep"], "END")
    assert int(acme.stats()["evictions"]) == 0


def test_capabilities_are_enforced(mcd, tenants):
    reader = login(mcd, tenants[1], "reader")
    assert reader.cmd("set k 0 0 1\r\nv\r\n") == \
        "CLIENT_ERROR permission denied: tenant may not write"
    assert reader.cmd("ms k 1\r\nv\r\n") == "CLIENT_ERROR permission denied: tenant may not write"
    assert reader.cmd("incr k 1\r\n") == "CLIENT_ERROR permission denied: tenant may not write"
    assert reader.cmd("flush_all\r\n") == "CLIENT_ERROR permission denied: tenant may not flush"
    reader.send("get k\r\n")
    assert reader.until_end() == ([], "END")
    writer = login(mcd, tenants[1], "writer")
    assert writer.cmd("set k 0 0 1\r\nv\r\n") == "STORED"
    assert writer.cmd("flush_all\r\n") == "CLIENT_ERROR permission denied: tenant may not flush"


def test_admin_account_cannot_use_the_client_port_and_tenants_not_the_admin_port(mcd, tenants):
    r = mcd.raw()
    assert r.auth("ops", tenants[1]["ops"]) == "CLIENT_ERROR authentication failure"
    a = Raw(mcd.admin_port)
    assert a.auth("acme", tenants[1]["acme"]) == "CLIENT_ERROR authentication failure"
    assert a.cmd("stats\r\n") == "CLIENT_ERROR unauthenticated"


def test_tenant_stats_show_only_that_tenant(mcd, tenants):
    a = login(mcd, tenants[1], "acme")
    b = login(mcd, tenants[1], "beta")
    a.cmd("set x 0 0 1\r\n1\r\n")
    a.cmd("set y 0 0 1\r\n1\r\n")
    b.cmd("set z 0 0 1\r\n1\r\n")
    sa = a.stats()
    assert sa["tenant"] == "acme"
    assert int(sa["curr_items"]) == 2 and int(sa["cmd_set"]) == 2
    assert "rejected_connections" not in sa  # server-wide numbers are the admin's


def test_admin_port_stats_flush_tenant_shed_and_drain(mcd, tenants):
    a = Raw(mcd.admin_port)
    assert a.auth("ops", tenants[1]["ops"]) == "STORED"
    acme = login(mcd, tenants[1], "acme")
    beta = login(mcd, tenants[1], "beta")
    acme.cmd("set k 0 0 1\r\n1\r\n")
    beta.cmd("set k 0 0 1\r\n1\r\n")
    st = a.stats()
    assert int(st["curr_items"]) == 2 and int(st["tenants"]) == 6
    per = a.stats("tenants")
    assert per["tenant:acme:curr_items"] == "1" and per["tenant:ops:caps"] == "admin"
    assert a.cmd("flush_tenant nosuch\r\n") == "CLIENT_ERROR no such tenant"
    assert a.cmd("flush_tenant acme\r\n") == "OK"
    acme.send("get k\r\n")
    assert acme.until_end() == ([], "END")
    beta.send("get k\r\n")
    assert beta.until_end()[0] == ["VALUE k 0 1", "1"]
    assert a.cmd("get k\r\n") == "CLIENT_ERROR not a data port: use the client port"
    assert a.cmd("shed 0\r\n").startswith("CLIENT_ERROR usage: shed N")
    assert a.cmd("shed 100\r\n") == "OK"
    assert acme.closed(timeout=30) and beta.closed(timeout=30)
    assert a.cmd("drain on\r\n") == "OK"
    s = socket.create_connection(("127.0.0.1", mcd.port), timeout=5)
    assert s.recv(100) == b"SERVER_ERROR node is draining\r\n"
    assert int(a.stats()["accepting_conns"]) == 0
    assert a.cmd("drain off\r\n") == "OK"
    login(mcd, tenants[1], "acme")
    assert a.cmd("flush_all\r\n") == "OK"


def test_sighup_reloads_tenants_and_closes_removed_ones(mcd, tenants):
    path, pw = tenants
    beta = login(mcd, pw, "beta")
    acme = login(mcd, pw, "acme")
    assert acme.cmd("set k 0 0 1\r\n1\r\n") == "STORED"
    newpw = add_tenant(path, "gamma")
    subprocess.run([binary("mctl"), "--yes", "tenant", "remove", "beta", "--file", str(path)],
                   check=True, capture_output=True, timeout=30)
    os.kill(mcd.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while True:
        g = mcd.raw()
        if g.auth("gamma", newpw) == "STORED":
            break
        assert time.monotonic() < deadline, "gamma never became valid"
        time.sleep(0.1)
    assert beta.closed(timeout=30)  # the removed tenant's connection is closed
    assert mcd.raw().auth("beta", pw["beta"]) == "CLIENT_ERROR authentication failure"
    acme.send("get k\r\n")  # the others keep their connections and their data
    assert acme.until_end() == (["VALUE k 0 1", "1"], "END")


def test_sighup_with_a_broken_file_keeps_the_running_tenants(mcd, tenants):
    path, pw = tenants
    with open(path, "a") as f:
        f.write("this line is not a tenant\n")
    os.kill(mcd.proc.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30  # the refusal, waited for in mcd's log
    while "keeping the running tenants" not in open(mcd.proc.log_path).read():
        assert time.monotonic() < deadline, "the reload was never refused"
        assert mcd.proc.poll() is None
        time.sleep(0.05)
    assert mcd.proc.poll() is None
    assert login(mcd, pw, "acme").cmd("set k 0 0 1\r\n1\r\n") == "STORED"


def test_tls_port(procs, tenants, tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    m = start_mcd(procs, tenants=tenants[0], tls=(str(cert), str(key)))
    ctx = ssl.create_default_context(cafile=str(cert))
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", m.tls_port), timeout=5)
    s = ctx.wrap_socket(raw, server_hostname="localhost")
    r = Raw(None, sock=s)
    assert r.auth("acme", tenants[1]["acme"]) == "STORED"
    big = "z" * 200000
    assert r.cmd("set big 0 0 %d\r\n%s\r\n" % (len(big), big)) == "STORED"
    r.send("get big\r\n")
    assert r.line() == "VALUE big 0 %d" % len(big)
    assert r.read(len(big) + 2) == (big + "\r\n").encode()
    assert r.line() == "END"
    # a plain-text client on the TLS port gets nothing useful and is closed
    p = socket.create_connection(("127.0.0.1", m.tls_port), timeout=5)
    p.sendall(b"get big\r\n")
    assert Raw(None, sock=p).closed(timeout=30)


def test_bad_tenants_file_is_a_clear_startup_error(tmp_path):
    bad = tmp_path / "tenants"
    bad.write_text("acme:nothash:10:read\n")
    out = subprocess.run([binary("mcd"), "--tenants", str(bad), "-p", "1"],
                         capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert str(bad) + ":1:" in out.stderr
