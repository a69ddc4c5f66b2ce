"""mcd under abusive clients: every limit holds, and what a client sees when it hits
one (docs/mcd.md, "Limits"). Memory is judged by the server's own accounting (stats)
or its RSS with generous bounds; every wait is synchronised by a protocol reply."""
import json
import os
import signal
import socket
import subprocess

import pytest

from conftest import binary
from mcdtest import Raw, add_tenant, start_mcd


@pytest.fixture
def tenants(tmp_path):
    path = tmp_path / "tenants"
    pw = {
        "acme": add_tenant(path, "acme"),
        "beta": add_tenant(path, "beta", limit="8M"),
        "ops": add_tenant(path, "ops", admin=True),
    }
    return path, pw


def login(mcd, pw, user="acme"):
    r = mcd.raw()
    assert r.auth(user, pw[user]) == "STORED"
    return r


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- a refused storage command's data block is never run ---------------------------------

@pytest.mark.parametrize("line", [
    "set k 4294967296 0 9",        # flags above 32 bits
    "set k x 0 9",                 # flags not a number
    "set k 0 x 9",                 # exptime not a number
    "set k 0 0 9 noreply extra",   # too many tokens
    "cas k 0 0 9 x",               # bad cas unique
    "set " + "k" * 251 + " 0 0 9",  # key too long
])
def test_refused_set_does_not_run_its_data_block(procs, tenants, line):
    m = start_mcd(procs, tenants=tenants[0])
    r = login(m, tenants[1])
    assert r.cmd("set keep 0 0 1\r\nv\r\n") == "STORED"
    reply = r.cmd("%s\r\nflush_all\r\n" % line)
    assert reply.startswith(("CLIENT_ERROR", "ERROR")), reply
    # The next reply answers this get, not a flush_all run from the data block.
    r.send("get keep\r\n")
    assert r.until_end() == (["VALUE keep 0 1", "v"], "END")


# --- before authentication, only what authentication needs -------------------------------

AUTH_VALUE_MAX = 1024  # MCD_AUTH_VALUE_MAX


def test_auth_set_value_above_the_cap_is_refused_at_once_and_closed(procs, tenants):
    m = start_mcd(procs, tenants=tenants[0], extra=["--auth-timeout", "60s"])
    r = m.raw()
    # Decided from the command line: the server does not wait for (or keep) the value.
    assert r.cmd("set acme 0 0 %d\r\n" % (AUTH_VALUE_MAX + 1)) == \
        "CLIENT_ERROR authentication value too large"
    assert r.closed()
    # A get line longer than any auth request is refused the same way.
    r = m.raw()
    r.send("get " + "k " * 2000)
    assert r.line() == "CLIENT_ERROR authentication value too large"
    assert r.closed()
    # At the cap, an ordinary failed authentication, and the connection lives on.
    r = m.raw()
    assert r.cmd("set acme 0 0 %d\r\n%s\r\n" % (AUTH_VALUE_MAX, "p" * AUTH_VALUE_MAX)) == \
        "CLIENT_ERROR authentication failure"
    assert r.auth("acme", tenants[1]["acme"]) == "STORED"
    # Once authenticated, items up to -I are accepted, pipelined right after the auth.
    v = "v" * 500000
    r = m.raw()
    r.send("set acme 0 0 %d\r\n%s\r\nset big 0 0 %d\r\n%s\r\n" % (
        len(tenants[1]["acme"]), tenants[1]["acme"], len(v), v))
    assert r.line() == "STORED"
    assert r.line() == "STORED"


def test_unauthenticated_connections_do_not_hold_item_sized_input(procs, tenants):
    """40 strangers each starting a 1 MB auth set held 40 MB before the fix."""
    m = start_mcd(procs, tenants=tenants[0], extra=["--auth-timeout", "60s"])
    base = rss_kib(m.proc.pid)
    conns = []
    for _ in range(40):
        r = m.raw()
        try:
            r.send(b"set acme 0 0 1048576\r\n" + b"x" * (512 * 1024))
        except OSError:
            pass  # closed while we were still sending: that is the point
        conns.append(r)
    for r in conns:
        assert r.closed(timeout=10)
    # Each connection held at most a read chunk (64 KiB) before it was refused.
    assert rss_kib(m.proc.pid) - base < 16 * 1024


# --- the admin port without authentication stays on this host ----------------------------

@pytest.mark.parametrize("addr", ["0.0.0.0", "::", "192.0.2.1"])
def test_admin_port_without_authentication_off_loopback_refuses_to_start(tmp_path, addr):
    from conftest import free_port
    argv = [binary("mcd"), "-l", "127.0.0.1", "-p", str(free_port()), "-U", "0",
            "--admin-listen", addr, "--admin-port", str(free_port())]
    # The old server would start and serve `drain on` to anyone: the timeout fails it.
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    assert out.returncode == 2
    assert "admin port" in out.stderr and "without authentication" in out.stderr
    # The configuration check says the same.
    out = subprocess.run(argv + ["-n"], capture_output=True, text=True, timeout=10)
    assert out.returncode == 2 and "without authentication" in out.stderr


def test_admin_port_without_authentication_on_loopback_warns(procs):
    m = start_mcd(procs, admin=True)
    r = Raw(m.admin_port)
    assert r.cmd("version\r\n").startswith("VERSION ")  # set-up, and its log, are done
    log = (procs.tmp_path / "mcd.0.log").read_text()
    assert "admin port" in log and "no authentication" in log



# --- a tenant sees only what concerns it ----------------------------------------------

def test_tenant_stats_settings_show_its_own_settings_only(procs, tenants):
    m = start_mcd(procs, tenants=tenants[0], admin=True)
    r = login(m, tenants[1], "beta")
    s = r.stats("settings")
    for private in ("tcpport", "inter", "admin_port", "tls_port", "maxconns",
                    "num_threads", "tcp_backlog", "auth_timeout_ms"):
        assert private not in s, private
    assert s["maxbytes"] == str(8 << 20)  # beta's limit, not the server's -m
    assert s["item_size_max"] == str(1 << 20)
    # The operator still sees the whole server.
    a = Raw(m.admin_port)
    assert a.auth("ops", tenants[1]["ops"]) == "STORED"
    s = a.stats("settings")
    assert s["admin_port"] == str(m.admin_port) and s["tcpport"] == str(m.port)


# --- the admin port has its own connection cap -------------------------------------------

ADMIN_CONNS_DEFAULT = 32  # MCD_ADMIN_CONNS_DEFAULT


def test_idle_admin_connections_do_not_take_clients_places(procs):
    """50 idle admin connections made every client connection fail with -c 50."""
    m = start_mcd(procs, "-c", "5", admin=True)
    admins = []
    for _ in range(10):
        a = Raw(m.admin_port)
        assert a.cmd("version\r\n").startswith("VERSION")  # accepted and served
        admins.append(a)
    clients = [m.raw() for _ in range(5)]
    for c in clients:
        assert c.cmd("version\r\n").startswith("VERSION")
    # The sixth client is over -c; admin connections are not.
    assert m.raw().line() == "ERROR Too many open connections"
    s = admins[0].stats()
    assert s["admin_connections"] == "10"


def test_admin_connections_beyond_their_cap_are_refused(procs):
    m = start_mcd(procs, admin=True, extra=["--admin-conn-limit", "3"])
    admins = []
    for _ in range(3):
        a = Raw(m.admin_port)
        assert a.cmd("version\r\n").startswith("VERSION")
        admins.append(a)
    assert Raw(m.admin_port).line() == "ERROR Too many open connections"
    s = admins[0].stats()
    assert s["rejected_admin_connections"] == "1"
    assert s["rejected_connections"] == "0"
    assert admins[0].stats("settings")["admin_maxconns"] == "3"
    # Clients are not affected.
    assert m.raw().cmd("version\r\n").startswith("VERSION")
    # A closed admin connection frees its place.
    admins.pop().close()
    for _ in range(100):  # each attempt is synchronised by the server's reply
        a = Raw(m.admin_port)
        try:
            if a.cmd("version\r\n").startswith("VERSION"):
                break
        except OSError:
            pass  # refused: the close had not been processed yet
    else:
        raise AssertionError("the admin place was never freed")


def test_admin_connections_cannot_buffer_item_sized_requests(procs):
    """150 admin connections each sending a 1 MB set took RSS from 10 to 164 MB."""
    m = start_mcd(procs, admin=True)
    a = Raw(m.admin_port)
    assert a.cmd("set k 0 0 1048576\r\n") == "CLIENT_ERROR request too large for the admin port"
    assert a.closed()
    base = rss_kib(m.proc.pid)
    conns = []
    for _ in range(ADMIN_CONNS_DEFAULT):
        r = Raw(m.admin_port)
        try:
            r.send(b"set k 0 0 1048576\r\n" + b"x" * (512 * 1024))
        except OSError:
            pass
        conns.append(r)
    for r in conns:
        assert r.closed(timeout=10)
    assert rss_kib(m.proc.pid) - base < 16 * 1024


# --- a session lives as long as its credential -------------------------------------------

def test_password_change_and_reload_close_the_old_passwords_sessions(procs, tenants):
    path, pw = tenants
    m = start_mcd(procs, tenants=path, admin=True)
    old = login(m, pw)
    other = login(m, pw, "beta")
    assert old.cmd("set k 0 0 1\r\nv\r\n") == "STORED"
    out = subprocess.run([binary("mctl"), "--json", "tenant", "passwd", "acme", "--file",
                          str(path)], check=True, capture_output=True, text=True, timeout=30)
    new_pw = json.loads(out.stdout)["password"]
    os.kill(m.proc.pid, signal.SIGHUP)
    # Synchronised by the server: the new password works once the reload is applied.
    for _ in range(200):
        r = m.raw()
        if r.auth("acme", new_pw) == "STORED":
            break
        r.close()
    else:
        raise AssertionError("the new password was never accepted")
    assert old.closed(timeout=10)  # the old password's session is over
    assert other.cmd("get k\r\n") == "END"  # beta's session, unchanged, goes on
    assert r.cmd("get k\r\n") == "VALUE k 0 1"  # and acme's data is still there
    a = Raw(m.admin_port)
    assert a.auth("ops", pw["ops"]) == "STORED"
    assert a.stats()["sessions_revoked"] == "1"


# --- reply memory: values by reference, and a connection that does not read waits ---

def tenant_stats(m, pw, user):
    r = login(m, pw, user)
    s = r.stats()
    r.close()
    return s


def test_replies_to_a_client_that_never_reads_stay_small(procs, tmp_path):
    """A tenant with a 4 MiB limit pinned ~64 MB per connection: five connections
    sending 'get k k ...' (63 keys) 63 times for a 1 MB value and never reading took
    RSS from 7.5 to 304 MB. Values now go out by reference and a connection whose
    unsent replies pass the cap is not served further until it reads."""
    path = tmp_path / "tenants"
    pw = {"tiny": add_tenant(path, "tiny", limit="4M")}
    m = start_mcd(procs, tenants=path)
    r = login(m, pw, "tiny")
    value = b"v" * (1 << 20)
    r.send(b"set k 0 0 %d\r\n%s\r\n" % (len(value), value))
    assert r.line() == "STORED"
    base = rss_kib(m.proc.pid)
    request = ("get" + " k" * 63 + "\r\n").encode() * 63
    hogs = []
    for _ in range(5):
        h = login(m, pw, "tiny")
        h.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        h.send(request)
        hogs.append(h)
    # Synchronised by the server's own count: every connection has its first 63 MB
    # reply queued (minus what the sockets hold, a few MB at most).
    for _ in range(2000):
        queued = int(tenant_stats(m, pw, "tiny")["reply_bytes_queued"])
        if queued >= 5 * 40 * (1 << 20):
            break
    else:
        raise AssertionError("replies never queued: %d" % queued)
    # What they hold is one 1 MB item, shared, and their headers: not 5 x 63 MB of
    # copies. 32 MB leaves room for allocator slack and the 4 MiB store.
    grown = rss_kib(m.proc.pid) - base
    assert grown < 32 * 1024, grown
    # The counters say who holds it, and go back to zero when the clients leave.
    for h in hogs:
        h.close()
    for _ in range(2000):
        if tenant_stats(m, pw, "tiny")["reply_bytes_queued"] == "0":
            break
    else:
        raise AssertionError("queued reply bytes never went back to 0")


def test_a_value_replaced_while_its_reply_waits_is_sent_as_it_was(procs):
    m = start_mcd(procs)
    slow = m.raw()  # does not read until the key has changed: 20 MB outgrow its socket
    w = m.raw()
    old = b"a" * (1 << 20)
    w.send(b"set k 0 0 %d\r\n%s\r\n" % (len(old), old))
    assert w.line() == "STORED"
    slow.send(b"get" + b" k" * 20 + b"\r\n")
    # Synchronised: the server counts the reply as queued before we change the key.
    for _ in range(2000):
        if int(w.stats()["reply_bytes_queued"]) > 0:
            break
    else:
        raise AssertionError("the reply was never queued")
    new = b"b" * 10
    w.send(b"set k 0 0 %d\r\n%s\r\ndelete k\r\n" % (len(new), new))
    assert w.line() == "STORED" and w.line() == "DELETED"
    for _ in range(20):
        assert slow.line() == "VALUE k 0 %d" % len(old)
        assert slow.read(len(old) + 2) == old + b"\r\n"
    assert slow.line() == "END"
