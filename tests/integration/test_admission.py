"""mcd's admission control and connection accounting (docs/mcd.md, "Connections by
tenant and source"): a tenant's plan limits (max connections, new connections per
second) refuse that tenant's logins only; the per-source limits (unauthenticated
connections, new connections per second) refuse that address only; each refusal says
its exact line, closes, and is counted in `stats`, `stats tenants` and `stats
sources`; a proxy applies the tenant limits to its own clients; `mctl tenant
connlimit` sets them and a reload applies them.

Sources are told apart by binding client sockets to other loopback addresses
(127.0.0.2, 127.0.0.3). Rate limits are tested without timing assumptions: a burst of
connections far faster than the limit must meet a refusal, and the other tenant or
source, at the same time, none."""
import json
import os
import signal
import socket
import subprocess

import pytest

from conftest import binary
from mcdtest import Raw, add_tenant, start_mcd
from mcmontest import wait_for
from proxytest import TenantsFile, start_pool, stop_checked

TENANT_MAX = "SERVER_ERROR too many connections for this account"
TENANT_RATE = "SERVER_ERROR too many new connections for this account"
SOURCE_UNAUTH = "SERVER_ERROR too many unauthenticated connections from your address"
SOURCE_RATE = "SERVER_ERROR too many new connections from your address"
ADMIN_ONLY = "CLIENT_ERROR stats tenants and stats sources are on the admin port only"
BURST = 30  # connections tried against a limit of 1 or 2 per second


def mctl(*args):
    return subprocess.run([binary("mctl")] + list(args), capture_output=True, text=True,
                          timeout=30)


def connlimit(path, name, *opts):
    r = mctl("tenant", "connlimit", name, "--file", str(path), *opts)
    assert r.returncode == 0, r.stderr


def from_addr(port, addr):
    """A raw connection to 127.0.0.1:port from the loopback address addr."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((addr, 0))
    s.connect(("127.0.0.1", port))
    return Raw(port, sock=s)


def settled(admin, name, value):
    """Waits until `stats tenants` shows name = value (a close or a reload is seen by
    the server a moment after the client has done it)."""
    wait_for("%s to be %s" % (name, value),
             lambda: admin.stats("tenants")[name] == value, 30)


def first_line_or_closed(r):
    """The server's first line to an unauthenticated connection, or None if it says
    nothing within a short wait (admitted: it waits for a login)."""
    r.sock.settimeout(0.5)
    try:
        return r.line()
    except (socket.timeout, TimeoutError):
        return None
    finally:
        r.sock.settimeout(5)


@pytest.fixture(autouse=True)
def exits_cleanly(procs):
    """Every mcd of a test stops on SIGTERM with status 0 and no sanitizer report:
    refusals, evictions and closes leave nothing behind."""
    yield
    assert stop_checked(procs) == []


@pytest.fixture
def tenants(tmp_path):
    path = tmp_path / "tenants"
    pw = {name: add_tenant(path, name) for name in ("acme", "beta")}
    pw["ops"] = add_tenant(path, "ops", admin=True)
    return path, pw


def admin_of(mcd, pw):
    a = Raw(mcd.admin_port)
    assert a.auth("ops", pw["ops"]) == "STORED"
    return a


def test_tenant_max_connections_refuses_that_tenant_only(procs, tenants):
    path, pw = tenants
    connlimit(path, "acme", "--max-connections", "2")
    mcd = start_mcd(procs, tenants=path, admin=True)
    held = []
    for _ in range(2):
        r = mcd.raw()
        assert r.auth("acme", pw["acme"]) == "STORED"
        held.append(r)
    third = mcd.raw()
    assert third.auth("acme", pw["acme"]) == TENANT_MAX
    assert third.closed()
    # beta is not acme: three and more are fine.
    for _ in range(3):
        r = mcd.raw()
        assert r.auth("beta", pw["beta"]) == "STORED"
        held.append(r)
    # A place freed is a place to take.
    held[0].close()
    a = admin_of(mcd, pw)
    settled(a, "tenant:acme:curr_connections", "1")
    again = mcd.raw()
    assert again.auth("acme", pw["acme"]) == "STORED"
    st = a.stats("tenants")
    assert st["tenant:acme:rejected_connections"] == "1"
    assert st["tenant:beta:rejected_connections"] == "0"
    assert st["tenant:acme:auth_ok"] == "4"
    assert int(a.stats()["rejected_tenant_connections"]) == 1
    assert a.stats("sources")["source:127.0.0.1/32:rejected"] == "1"


def test_tenant_new_connection_rate_refuses_that_tenant_only(procs, tenants):
    path, pw = tenants
    connlimit(path, "acme", "--new-per-second", "1")
    mcd = start_mcd(procs, tenants=path, admin=True)
    replies = []
    for _ in range(BURST):
        r = mcd.raw()
        replies.append(r.auth("acme", pw["acme"]))
        r.close()
    assert replies[0] == "STORED"
    assert TENANT_RATE in replies
    assert set(replies) == {"STORED", TENANT_RATE}
    for _ in range(BURST):
        r = mcd.raw()
        assert r.auth("beta", pw["beta"]) == "STORED"
        r.close()
    a = admin_of(mcd, pw)
    st = a.stats("tenants")
    assert int(st["tenant:acme:rejected_connections"]) == replies.count(TENANT_RATE)
    assert st["tenant:beta:rejected_connections"] == "0"


def test_source_unauthenticated_limit_spares_another_address(procs, tenants):
    path, pw = tenants
    mcd = start_mcd(procs, tenants=path, admin=True, extra=["--source-max-unauth", "2"])
    settings = admin_of(mcd, pw).stats("settings")
    assert (settings["source_max_unauth"], settings["source_conn_rate"],
            settings["conn_accounting"]) == ("2", "0", "on")
    waiting = [from_addr(mcd.port, "127.0.0.2") for _ in range(2)]
    for r in waiting:
        assert first_line_or_closed(r) is None
    over = from_addr(mcd.port, "127.0.0.2")
    assert over.line() == SOURCE_UNAUTH
    assert over.closed()
    # Another address is not limited by 127.0.0.2's connections.
    other = from_addr(mcd.port, "127.0.0.3")
    assert other.auth("beta", pw["beta"]) == "STORED"
    # A login frees its place: 127.0.0.2 may open another.
    assert waiting[0].auth("acme", pw["acme"]) == "STORED"
    fresh = from_addr(mcd.port, "127.0.0.2")
    assert first_line_or_closed(fresh) is None
    a = admin_of(mcd, pw)
    st = a.stats("sources top 100")
    assert st["source:127.0.0.2/32:unauth_connections"] == "2"
    assert st["source:127.0.0.2/32:curr_connections"] == "3"
    assert st["source:127.0.0.2/32:rejected"] == "1"
    assert st["source:127.0.0.2/32:auth_ok"] == "1"
    assert st["source:127.0.0.3/32:rejected"] == "0"
    assert st["source:127.0.0.2/32:new_conns"] == "4"
    # the /24 holds them all: 127.0.0.2's 4, 127.0.0.3's one, the start-up probe's
    assert st["source:127.0.0.0/24:new_conns"] == "6"
    assert int(a.stats()["rejected_source_connections"]) == 1


def test_source_new_connection_rate_spares_another_address(procs, tenants):
    path, pw = tenants
    mcd = start_mcd(procs, tenants=path, admin=True, extra=["--source-conn-rate", "1"])
    firsts = []
    for _ in range(BURST):
        r = from_addr(mcd.port, "127.0.0.2")
        # admitted: the command meets the login requirement; refused: the refusal
        firsts.append(r.cmd("version\r\n"))
        r.close()
    assert firsts[0] == "CLIENT_ERROR unauthenticated"
    assert SOURCE_RATE in firsts
    other = from_addr(mcd.port, "127.0.0.3")
    assert other.auth("beta", pw["beta"]) == "STORED"
    a = admin_of(mcd, pw)
    st = a.stats("sources")
    assert int(st["source:127.0.0.2/32:rejected"]) == firsts.count(SOURCE_RATE)
    assert st["source:127.0.0.3/32:rejected"] == "0"
    assert int(a.stats()["rejected_source_connections"]) == firsts.count(SOURCE_RATE)


def test_requests_per_connection_and_login_counters(procs, tenants):
    path, pw = tenants
    mcd = start_mcd(procs, tenants=path, admin=True)
    for n in (1, 1, 2, 5, 150):
        r = from_addr(mcd.port, "127.0.0.2")
        assert r.auth("acme", pw["acme"]) == "STORED"
        for _ in range(n):
            assert r.cmd("get k\r\n") == "END"
        r.close()
    bad = from_addr(mcd.port, "127.0.0.3")
    assert bad.auth("acme", "wrong") == "CLIENT_ERROR authentication failure"
    assert bad.auth("nobody", "wrong") == "CLIENT_ERROR authentication failure"
    a = admin_of(mcd, pw)
    settled(a, "tenant:acme:curr_connections", "0")
    st = a.stats("tenants")
    assert [st["tenant:acme:" + f] for f in (
        "conn_reqs_1", "conn_reqs_2", "conn_reqs_3_10", "conn_reqs_11_100",
        "conn_reqs_101_plus")] == ["2", "1", "1", "0", "1"]
    assert st["tenant:acme:total_connections"] == "5"
    assert st["tenant:acme:auth_ok"] == "5"
    assert st["tenant:acme:auth_failed"] == "1"
    assert int(a.stats()["auth_unknown_tenant"]) == 1
    src = a.stats("sources")
    assert src["source:127.0.0.2/32:conn_reqs_1"] == "2"
    assert src["source:127.0.0.2/32:conn_reqs_101_plus"] == "1"
    assert src["source:127.0.0.3/32:auth_failed"] == "2"
    assert src["source:127.0.0.3/32:unauth_connections"] == "1"
    assert src["sources_algorithm"] == "space-saving"
    assert int(src["sources_capacity"]) > 0
    assert int(src["sources_memory_bytes"]) < 1 << 20


def test_a_dual_stack_listener_counts_ipv4_clients_as_ipv4_sources(procs, tenants):
    path, pw = tenants
    mcd = start_mcd(procs, tenants=path, admin=True, extra=["-l", "::"])
    r = from_addr(mcd.port, "127.0.0.2")  # seen by mcd as ::ffff:127.0.0.2
    assert r.auth("acme", pw["acme"]) == "STORED"
    s6 = socket.create_connection(("::1", mcd.port), timeout=5)
    v6 = Raw(mcd.port, sock=s6)
    assert v6.auth("beta", pw["beta"]) == "STORED"
    st = admin_of(mcd, pw).stats("sources")
    assert st["source:127.0.0.2/32:auth_ok"] == "1"
    assert st["source:127.0.0.0/24:auth_ok"] == "1"
    assert st["source:::/64:auth_ok"] == "1"  # ::1's /64; parse by the last ':'
    assert not any(k.startswith("source:::ffff") for k in st)


def test_stats_top_lists_the_busiest_and_sums_the_others(procs, tenants):
    path, pw = tenants
    mcd = start_mcd(procs, tenants=path, admin=True)
    held = []
    for _ in range(3):
        r = mcd.raw()
        assert r.auth("acme", pw["acme"]) == "STORED"
        held.append(r)
    r = mcd.raw()
    assert r.auth("beta", pw["beta"]) == "STORED"
    held.append(r)
    a = admin_of(mcd, pw)
    st = a.stats("tenants top 1")
    assert "tenant:acme:curr_connections" in st
    assert not any(k.startswith("tenant:beta:") for k in st)
    # the others: beta (1) and the admin account ops (1, this connection)
    assert st["tenants_other:curr_connections"] == "2"
    everyone = a.stats("tenants")
    assert everyone["tenants_other:curr_connections"] == "0"
    a.send("stats tenants top x\r\n")
    assert a.line().startswith("CLIENT_ERROR")
    src = a.stats("sources top 1")
    assert sum(1 for k in src if k.endswith(":new_conns") and k.startswith("source:")) == 1


def test_tenants_cannot_read_the_accounting_on_the_client_port(procs, tenants):
    path, pw = tenants
    mcd = start_mcd(procs, tenants=path, admin=True)
    r = mcd.raw()
    assert r.auth("acme", pw["acme"]) == "STORED"
    assert r.cmd("stats tenants\r\n") == ADMIN_ONLY
    assert r.cmd("stats sources\r\n") == ADMIN_ONLY
    assert r.cmd("get k\r\n") == "END"  # still open


def test_accounting_off_counts_no_sources_and_refuses_source_limits(procs, tenants):
    path, pw = tenants
    mcd = start_mcd(procs, tenants=path, admin=True, extra=["--conn-accounting", "off"])
    r = mcd.raw()
    assert r.auth("acme", pw["acme"]) == "STORED"
    a = admin_of(mcd, pw)
    assert a.stats("sources")["sources_tracked"] == "0"
    bad = subprocess.run([binary("mcd"), "-n", "--conn-accounting", "off",
                          "--source-conn-rate", "5"], capture_output=True, text=True,
                         timeout=30)
    assert bad.returncode == 2
    assert "source limits" in bad.stderr


def test_options_and_config_keys_are_checked(tmp_path):
    def check(*args):
        return subprocess.run([binary("mcd"), "-n"] + list(args), capture_output=True,
                              text=True, timeout=30)
    assert check("--source-max-unauth", "10", "--source-conn-rate", "50").returncode == 0
    assert check("--source-max-unauth", "ten").returncode == 2
    assert check("--conn-accounting", "maybe").returncode == 2
    cfg = tmp_path / "mcops.conf"
    cfg.write_text("[mcd]\nsource_max_unauth = 10\nsource_conn_rate = 50\n"
                   "conn_accounting = on\n")
    assert check("-f", str(cfg)).returncode == 0
    cfg.write_text("[mcd]\nsource_conn_rate = -1\n")
    r = check("-f", str(cfg))
    assert r.returncode == 2 and "source_conn_rate" in r.stderr


def test_mctl_connlimit_round_trip_and_reload(procs, tenants):
    path, pw = tenants
    mcd = start_mcd(procs, tenants=path, admin=True)
    first = mcd.raw()
    assert first.auth("acme", pw["acme"]) == "STORED"
    r = mctl("--json", "tenant", "connlimit", "acme", "--max-connections", "1",
             "--file", str(path))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"name": "acme", "max_connections": 1, "new_per_second": 0}
    r = mctl("tenant", "connlimit", "acme", "--new-per-second", "100", "--file", str(path))
    assert r.returncode == 0, r.stderr
    listed = json.loads(mctl("--json", "tenant", "list", "--file", str(path)).stdout)
    acme = [t for t in listed["tenants"] if t["name"] == "acme"][0]
    assert (acme["max_connections"], acme["new_per_second"]) == (1, 100)
    assert "acme" in mctl("tenant", "list", "--file", str(path)).stdout
    assert mctl("tenant", "connlimit", "acme", "--file", str(path)).returncode == 2
    assert mctl("tenant", "connlimit", "ops", "--max-connections", "1",
                "--file", str(path)).returncode == 1
    os.kill(mcd.proc.pid, signal.SIGHUP)
    a = admin_of(mcd, pw)
    settled(a, "tenant:acme:max_connections", "1")
    second = mcd.raw()
    assert second.auth("acme", pw["acme"]) == TENANT_MAX
    # 0 lifts the limit; the file goes back to the four-field line.
    connlimit(path, "acme", "--max-connections", "0", "--new-per-second", "0")
    assert ":read,write,flush\n" in path.read_text()
    os.kill(mcd.proc.pid, signal.SIGHUP)
    settled(a, "tenant:acme:max_connections", "0")
    third = mcd.raw()
    assert third.auth("acme", pw["acme"]) == "STORED"


def test_a_proxy_applies_the_tenant_limit_to_its_clients(procs, tmp_path):
    tf = TenantsFile(tmp_path)
    connlimit(tf.path, "acme", "--max-connections", "1")
    pool = start_pool(procs, tmp_path, n=1, tenants=tf, extra=["--auth-timeout", "60s"])
    one = pool.client("acme")
    assert one.cmd("set k 0 0 1\r\nv\r\n") == "STORED"
    two = pool.proxy.raw()
    assert two.auth("acme", tf.pw["acme"]) == TENANT_MAX
    assert two.closed()
    assert pool.client("beta").cmd("get k\r\n") == "END"
    a = pool.admin()
    assert a.stats("tenants")["tenant:acme:rejected_connections"] == "1"
    assert int(a.stats()["rejected_tenant_connections"]) == 1
