"""mcd's proxy role with healthy backends: memcached clients and memccapable work
through it unchanged (over TLS too), every key is on the backend ketama (nutcracker)
names, a multi-get across backends keeps the client's order, concurrent clients get
their own replies, quiet modes stay quiet, SIGHUP and `reload` change the backends
under open clients, tenants stay apart, bad input is handled as mcd handles it (mcd's
own protocol cases are run against the proxy), and idle clients cost no backend
connections.

Three backend mcd processes and a proxy (proxytest.Pool); backends are asked
directly what they hold."""
import random
import shutil
import socket
import ssl
import subprocess
import threading

import pylibmc
import pymemcache.client.base
import pytest

import test_mcd_protocol as single
from conftest import binary
from mcdtest import Raw, start_mcd
from mcmontest import wait_for
from proxytest import (Pool, TenantsFile, multiget, read_values, set_all, start_pool,
                       stop_checked)


@pytest.fixture(autouse=True)
def exits_cleanly(procs):
    """The proxy is still running at the end, and it and every backend left stop on
    SIGTERM with status 0 and no sanitizer report."""
    yield
    assert stop_checked(procs) == []


@pytest.fixture
def pool(procs, tmp_path):
    return start_pool(procs, tmp_path)


@pytest.fixture
def tpool(procs, tmp_path):
    """Backends and proxy with one tenants file (acme, beta, ops, and proxy)."""
    return start_pool(procs, tmp_path, tenants=TenantsFile(tmp_path),
                      extra=["--auth-timeout", "60s"])


# --- clients and memccapable ------------------------------------------------------------

@pytest.mark.skipif(shutil.which("memccapable") is None, reason="memccapable not installed")
def test_memccapable_ascii_passes_through_the_proxy(pool):
    out = subprocess.run(["memccapable", "-a", "-h", "127.0.0.1", "-p", str(pool.proxy.port),
                          "-t", "10"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All tests passed" in out.stdout


def test_pymemcache_works_unchanged_through_the_proxy(pool):
    ka, kb, kc = pool.key_per_backend("pm")
    c = pymemcache.client.base.Client(("127.0.0.1", pool.proxy.port), timeout=5)
    assert c.set(ka, b"v1", noreply=False)
    assert c.get(ka) == b"v1"
    assert c.add(ka, b"x", noreply=False) is False
    assert c.add(kb, b"b", noreply=False)
    assert c.replace(ka, b"v2", noreply=False)
    assert c.replace(kc, b"x", noreply=False) is False
    assert c.append(ka, b"+", noreply=False)
    assert c.get(ka) == b"v2+"
    value, cas = c.gets(ka)
    assert value == b"v2+"
    assert c.cas(ka, b"new", cas, noreply=False)
    assert c.cas(ka, b"stale", cas, noreply=False) is False
    assert c.get_many([ka, kb, kc, "pm:missing"]) == {ka: b"new", kb: b"b"}
    assert c.set(kc, b"10", noreply=False)
    assert c.incr(kc, 5) == 15
    assert c.decr(kc, 100) == 0
    assert c.incr("pm:missing", 1) is None
    assert c.touch(kc, 100, noreply=False)
    assert c.touch("pm:missing", 100, noreply=False) is False
    assert c.delete(kb, noreply=False)
    assert c.delete(kb, noreply=False) is False
    assert c.get(kb) is None
    # Each value is where the ring puts it, under the client's own key.
    ba, bb, bc = pool.backends
    assert pool.held(ba, [ka]) == {ka: "new"}
    assert pool.held(bc, [kc]) == {kc: "0"}
    assert pool.held(bb, [kb]) == {}


def test_pylibmc_text_protocol_works_unchanged_through_the_proxy(pool):
    ka, kb, kc = pool.key_per_backend("pl")
    c = pylibmc.Client(["127.0.0.1:%d" % pool.proxy.port], binary=False,
                       behaviors={"cas": True})
    assert c.set(ka, "alpha")
    assert c.set_multi({kb: "beta", kc: 3}) == []
    assert c.get(ka) == "alpha"
    assert c.get_multi([ka, kb, kc, "pl:missing"]) == {ka: "alpha", kb: "beta", kc: 3}
    assert c.add(ka, "x") is False
    assert c.add("pl:new", "n") is True
    assert c.replace(kb, "BETA") is True
    assert c.replace("pl:missing", "x") is False
    assert c.append(kb, "!") is True
    assert c.get(kb) == "BETA!"
    assert c.incr(kc, 4) == 7
    assert c.get(kc) == 7
    value, cas = c.gets(ka)
    assert value == "alpha"
    assert c.cas(ka, "omega", cas) is True
    assert c.cas(ka, "stale", cas) is False
    assert c.get(ka) == "omega"
    assert c.touch(ka, 100) is True
    assert c.delete(ka) is True
    assert c.get(ka) is None
    assert c.delete(ka) is False


# --- placement and multi-get ------------------------------------------------------------

@pytest.mark.parametrize("weights", [(1, 1, 1), (1, 2, 3)])
def test_every_key_is_on_the_backend_ketama_names(procs, tmp_path, weights):
    pool = Pool(procs, tmp_path)
    for w in weights:
        pool.add_backend(weight=w)
    pool.start_proxy()
    ks = ["place:%d:%s" % (i, "x" * (i % 13)) for i in range(900)]
    set_all(pool.client(), ks)
    placed = pool.placement(ks)
    for b in pool.backends:
        want = {k: k for k in ks if placed[k] == b.name}
        assert len(want) > 100  # every backend got a share
        assert pool.held(b, ks) == want, b.name


def test_a_multiget_across_backends_answers_in_the_clients_order_with_usable_cas(pool):
    r = pool.client()
    stored = ["mget:%d" % i for i in range(70)]
    set_all(r, stored)
    request = stored[:60] + stored[:15] + ["mget:miss:%d" % i for i in range(25)]
    random.Random(7).shuffle(request)  # hits, duplicates and misses interleaved
    assert len(request) == 100
    placed = pool.placement(request)
    assert {placed[k] for k in request if k in stored} == {"b1", "b2", "b3"}

    got = multiget(r, "gets", request)
    assert [k for k, _, _ in got] == [k for k in request if k in stored]
    assert all(value == k for k, value, _ in got)
    cas = {}
    for k, _, unique in got:
        assert cas.setdefault(k, unique) == unique  # a duplicate reports the same CAS
    # Every CAS value the proxy gave is one the key's backend accepts, through the proxy.
    for k in sorted(cas):
        assert r.cmd("cas %s 0 0 3 %d\r\nnew\r\n" % (k, cas[k])) == "STORED", k
    k = sorted(cas)[0]
    assert r.cmd("cas %s 0 0 5 %d\r\nstale\r\n" % (k, cas[k])) == "EXISTS"
    got = multiget(r, "get", request)
    assert [k for k, _, _ in got] == [k for k in request if k in stored]
    assert {value for _, value, _ in got} == {"new"}


def test_values_that_look_like_protocol_lines_come_back_whole(pool):
    r = pool.client()
    tricky = ["END", "END\r\nVALUE x 0 1\r\nx", "\r\n", "SERVER_ERROR x\r\nEND\r\n", ""]
    keys = pool.key_per_backend("tricky") + ["tricky:a", "tricky:b"]
    for k, v in zip(keys, tricky):
        assert r.cmd("set %s 7 0 %d\r\n%s\r\n" % (k, len(v), v)) == "STORED"
    r.send("get %s\r\n" % " ".join(keys))
    for k, v in zip(keys, tricky):
        assert r.line() == "VALUE %s 7 %d" % (k, len(v))
        assert r.read(len(v) + 2) == (v + "\r\n").encode()
    assert r.line() == "END"


def test_concurrent_clients_each_get_the_replies_to_their_own_requests(pool):
    """Clients share the proxy's backend connections: every reply must reach the
    client that asked, in its order, whatever the others send meanwhile."""
    errors = []

    def client(n):
        try:
            r = pool.client()
            for round_ in range(20):
                keys = ["cc:%d:%d" % (n, i) for i in range(50)]
                vals = ["%d.%d.%d" % (n, round_, i) for i in range(50)]
                r.send("".join("set %s 0 0 %d\r\n%s\r\nget %s\r\n" % (k, len(v), v, k)
                               for k, v in zip(keys, vals)))
                for k, v in zip(keys, vals):
                    got = [r.line(), r.line(), r.line(), r.line()]
                    want = ["STORED", "VALUE %s 0 %d" % (k, len(v)), v, "END"]
                    if got != want:
                        errors.append((n, got, want))
                        return
                got = multiget(r, "get", keys[::-1])
                if [(k, v) for k, v, _ in got] != list(zip(keys, vals))[::-1]:
                    errors.append((n, "multiget", got[:3]))
                    return
        except Exception as e:  # reported below, with the client's number
            errors.append((n, repr(e)))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


# --- noreply and quiet mode ----------------------------------------------------------------

def quiet_stream(keys):
    a, b, c = keys
    return ("set %s 0 0 1 noreply\r\n1\r\nset %s 0 0 1 noreply\r\n2\r\n"
            "set %s 0 0 1 noreply\r\n3\r\ndelete q:nope noreply\r\nincr %s 1 noreply\r\n"
            "get %s %s %s\r\n"
            "mg q:miss v q\r\nmg %s v q\r\nmg q:miss2 v q\r\nmg %s v q\r\nmg %s v q\r\n"
            "ms %s 1 q\r\n9\r\nmd q:nope q\r\nmd %s q\r\nma q:nope q\r\nmg %s v\r\n"
            "mn\r\n" % (a, b, c, a, a, b, c, a, b, c, a, b, a)).encode()


def read_until_mn(r):
    lines = []
    while not lines or lines[-1] != "MN":
        lines.append(r.line())
    return lines


def test_noreply_and_meta_quiet_mode_stay_quiet_and_mn_comes_last(pool, procs):
    keys = pool.key_per_backend("q")
    stream = quiet_stream(keys)
    r = pool.client()
    r.send(stream)
    got = read_until_mn(r)
    # A single mcd is the reference: the proxy must answer the same stream the same way.
    m = start_mcd(procs)
    ref = m.raw()
    ref.send(stream)
    assert got == read_until_mn(ref)
    assert got[:7] == ["VALUE %s 0 1" % keys[0], "2", "VALUE %s 0 1" % keys[1], "2",
                       "VALUE %s 0 1" % keys[2], "3", "END"]
    # Quiet misses and quiet successes said nothing; the hits were answered in order.
    assert got[7:13] == ["VA 1", "2", "VA 1", "2", "VA 1", "3"]
    assert "EN" not in got and "HD" not in got
    assert got[-3:] == ["VA 1", "9", "MN"]


def test_mn_comes_after_every_earlier_reply_of_a_long_quiet_pipeline(pool):
    r = pool.client()
    hits = ["qp:%d" % i for i in range(0, 300, 3)]
    set_all(r, hits)
    r.send("".join("mg qp:%d v q k\r\n" % i for i in range(300)) + "mn\r\n")
    got = read_until_mn(r)
    want = []
    for k in hits:
        want += ["VA %d k%s" % (len(k), k), k]
    assert got == want + ["MN"]


# --- what the admin port says, and the configuration check ----------------------------------

PROXY_FIELDS = ("backends", "backends_up", "backend_connections", "client_connections",
                "requests", "fast_failures", "queue_refusals", "timeouts", "reloads")
BACKEND_FIELDS = ("addr", "state", "weight", "requests", "errors", "timeouts", "outstanding",
                  "connections", "latency_p50_us", "latency_p99_us", "tail_share",
                  "down_since", "retries")


def test_stats_proxy_and_stats_backends_give_every_field_of_the_interface(pool):
    a = pool.admin()
    st = pool.proxy_stats(a)
    assert [f for f in PROXY_FIELDS if f not in st] == []
    assert (st["backends"], st["backends_up"]) == ("3", "3")
    before = pool.backend_stats(a)
    assert sorted(before) == ["b1", "b2", "b3"]
    for b in pool.backends:
        f = before[b.name]
        assert [name for name in BACKEND_FIELDS if name not in f] == [], b.name
        assert (f["addr"], f["state"], f["weight"], f["down_since"]) == \
            ("127.0.0.1:%d" % b.port, "up", "1", "0")
    # Ten single-key requests for b1's keys are ten requests of b1's, and none of b2's.
    r = pool.client()
    for k in pool.keys_on("b1", 10, prefix="count"):
        assert r.cmd("get %s\r\n" % k) == "END"
    after = pool.backend_stats(a)
    assert int(after["b1"]["requests"]) - int(before["b1"]["requests"]) == 10
    assert after["b2"]["requests"] == before["b2"]["requests"]
    assert int(after["b1"]["latency_p99_us"]) > 0
    assert after["b1"]["outstanding"] == "0"


def test_dash_n_checks_the_proxy_file_and_reports_every_error(tmp_path):
    good = tmp_path / "good.ini"
    good.write_text("[proxy]\nbackend = 127.0.0.1:1:1 b1\n")
    out = subprocess.run([binary("mcd"), "--proxy", str(good), "-n"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
    bad = tmp_path / "bad.ini"
    bad.write_text("[proxy]\nbackend = 127.0.0.1:1:1 b1\nbackend = 127.0.0.1:2:1 b1\n"
                   "timeout = soon\n")
    out = subprocess.run([binary("mcd"), "--proxy", str(bad), "-n"], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 2
    assert "%s:3:" % bad in out.stderr and "%s:4:" % bad in out.stderr  # both, in one pass


# --- reload ---------------------------------------------------------------------------

def test_sighup_adds_a_backend_under_open_clients_and_the_new_ring_places_keys(procs,
                                                                               tmp_path):
    pool = start_pool(procs, tmp_path, n=2)
    r = pool.client()
    assert r.cmd("set before 0 0 1\r\nx\r\n") == "STORED"
    b3 = pool.add_backend()
    pool.write_proxy_file()
    pool.reload()
    a = pool.admin()
    wait_for("b3 in stats backends", lambda: "b3" in pool.backend_stats(a), 30)
    st = pool.backend_stats(a)["b3"]
    assert st["addr"].endswith(":%d" % b3.port)
    assert pool.proxy_stats(a)["reloads"] == "1"
    assert pool.proxy_stats(a)["backends"] == "3"
    # The same socket goes on, and its keys are placed on the three-backend ring.
    ks = ["reload:%d" % i for i in range(600)]
    set_all(r, ks)
    placed = pool.placement(ks)
    for b in pool.backends:
        want = {k: k for k in ks if placed[k] == b.name}
        assert want and pool.held(b, ks) == want, b.name
    assert pool.proxy.proc.poll() is None


def test_admin_reload_removes_a_backend_and_keeps_the_others_counters(pool):
    r = pool.client()
    a = pool.admin()
    keys = ["rm:%d" % i for i in range(300)]
    set_all(r, keys)
    before = pool.backend_stats(a)
    b1, b2, b3 = pool.backends
    pool.write_proxy_file(backends=[b1, b2])
    assert a.cmd("reload\r\n") == "OK"
    wait_for("b3 gone from stats backends", lambda: "b3" not in pool.backend_stats(a), 30)
    after = pool.backend_stats(a)
    # b1 and b2 are the same backends: their counters go on.
    for name in ("b1", "b2"):
        assert int(after[name]["requests"]) >= int(before[name]["requests"]) > 0, name
    assert pool.proxy_stats(a)["backends"] == "2"
    # b3's keys now go where the two-backend ring puts them; the others stay put.
    placed3 = pool.placement(keys)
    placed2 = pool.placement(keys, backends=[b1, b2])
    assert all(placed2[k] == placed3[k] for k in keys if placed3[k] != "b3")
    moved = [k for k in keys if placed3[k] == "b3"]
    set_all(r, moved, value="moved")
    for b in (b1, b2):
        held = pool.held(b, moved)
        assert held == {k: "moved" for k in moved if placed2[k] == b.name}, b.name
    assert values_of(r, keys[:20]) == [(k, "moved" if k in moved else k) for k in keys[:20]]


def values_of(r, keys):
    return [(k, v) for k, v, _ in multiget(r, "get", keys)]


def test_sighup_with_a_broken_proxy_file_keeps_the_running_backends(pool):
    r = pool.client()
    keys = pool.key_per_backend("broken")
    set_all(r, keys)
    before = len(pool.log())
    pool.proxy_file.write_text(pool.proxy_file.read_text() + "backend = not-an-address\n")
    pool.reload()
    # Synchronised by the proxy's own report of the error, which says file:line.
    where = "%s:" % pool.proxy_file
    wait_for("the broken line reported", lambda: where in pool.log()[before:], 30)
    assert pool.proxy.proc.poll() is None
    a = pool.admin()
    assert pool.proxy_stats(a)["backends"] == "3"
    assert {st["state"] for st in pool.backend_stats(a).values()} == {"up"}
    assert [k for k, _, _ in multiget(r, "get", keys)] == keys


# --- tenants ----------------------------------------------------------------------------

def test_tenants_cannot_read_or_flush_each_others_keys_through_the_proxy(tpool):
    keys = tpool.key_per_backend("t")
    a = tpool.client("acme")
    b = tpool.client("beta")
    set_all(a, keys, value="A")
    assert multiget(b, "get", keys) == []
    set_all(b, keys, value="B")
    assert b.cmd("delete %s\r\n" % keys[0]) == "DELETED"  # beta's own
    assert b.cmd("flush_all\r\n") == "OK"                  # beta's own, on every backend
    assert multiget(b, "get", keys) == []
    assert [(k, v) for k, v, _ in multiget(a, "get", keys)] == [(k, "A") for k in keys]
    # On the backends, each key is in acme's namespace under the client's key.
    for k, backend in zip(keys, tpool.backends):
        assert tpool.held(backend, [k], user="acme") == {k: "A"}
        assert tpool.held(backend, [k], user="beta") == {}


def test_tenants_interleaved_on_shared_backend_connections_stay_apart(procs, tmp_path):
    # One worker, one connection per backend: acme's and beta's requests alternate on
    # the same backend connections, so the tenant named to the backend must switch
    # exactly between them.
    pool = start_pool(procs, tmp_path, tenants=TenantsFile(tmp_path), threads=1,
                      connections=1)
    keys = ["same:%d" % i for i in range(60)]
    a = pool.client("acme")
    b = pool.client("beta")
    for round_ in range(5):
        for c, who in ((a, "A"), (b, "B")):
            c.send("".join("set %s 0 0 %d\r\n%s%d\r\n" % (k, len(who) + len(str(round_)),
                                                           who, round_) for k in keys))
        for c in (a, b):
            for k in keys:
                assert c.line() == "STORED", k
        want_a = [(k, "A%d" % round_) for k in keys]
        want_b = [(k, "B%d" % round_) for k in keys]
        a.send("get %s\r\n" % " ".join(keys))
        b.send("get %s\r\n" % " ".join(keys))
        assert [(k, v) for k, v, _ in read_values(a)] == want_a
        assert [(k, v) for k, v, _ in read_values(b)] == want_b


def test_clients_log_in_to_the_proxy_in_both_forms(tpool):
    keys = tpool.key_per_backend("login")
    a = tpool.client("acme")
    set_all(a, keys)
    value = "acme %s" % tpool.tenants.pw["acme"]  # memcached -Y form, any key
    r = tpool.client()
    assert r.cmd("set anykey 0 0 %d\r\n%s\r\n" % (len(value), value)) == "STORED"
    assert [k for k, _, _ in multiget(r, "get", keys)] == keys


def test_sighup_rereads_the_tenants_file_and_closes_a_removed_tenant(tpool):
    beta = tpool.client("beta")
    acme = tpool.client("acme")
    subprocess.run([binary("mctl"), "--yes", "tenant", "remove", "beta", "--file",
                    str(tpool.tenants.path)], check=True, capture_output=True, timeout=30)
    tpool.reload()
    assert beta.closed(timeout=30)
    assert tpool.client().auth("beta", tpool.tenants.pw["beta"]).startswith("CLIENT_ERROR")
    set_all(acme, tpool.key_per_backend("stay"))  # the others keep their connections


def test_a_tls_client_is_served_through_the_proxy(procs, tmp_path, tls_cert):
    pool = Pool(procs, tmp_path, TenantsFile(tmp_path))
    for _ in range(3):
        pool.add_backend()
    pool.start_proxy(tls=tls_cert)
    ctx = ssl.create_default_context(cafile=tls_cert[0])
    ctx.check_hostname = False
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", pool.proxy.tls_port), timeout=5),
                        server_hostname="localhost")
    r = Raw(None, sock=s)
    assert r.auth("acme", pool.tenants.pw["acme"]) == "STORED"
    keys = pool.key_per_backend("tls")
    big = "z" * 200000
    for k in keys:
        assert r.cmd("set %s 0 0 %d\r\n%s\r\n" % (k, len(big), big)) == "STORED"
    assert multiget(r, "get", keys) == [(k, big, None) for k in keys]
    for k, backend in zip(keys, pool.backends):
        assert pool.held(backend, [k], user="acme") == {k: big}


def test_a_client_cannot_log_in_as_the_internal_account(tpool):
    wrong = tpool.client().auth("acme", "not-the-password")
    assert wrong.startswith("CLIENT_ERROR auth")
    r = tpool.client()
    assert r.auth("proxy", tpool.tenants.pw["proxy"]) == wrong
    assert r.cmd("get k\r\n") == "CLIENT_ERROR unauthenticated"
    value = "proxy %s" % tpool.tenants.pw["proxy"]  # memcached -Y form
    r = tpool.client()
    assert r.cmd("set any 0 0 %d\r\n%s\r\n" % (len(value), value)) == wrong
    assert r.cmd("get k\r\n") == "CLIENT_ERROR unauthenticated"


def test_proxy_as_from_a_client_through_the_proxy_is_an_error_and_changes_nothing(tpool):
    keys = tpool.key_per_backend("pa")
    a = tpool.client("acme")
    b = tpool.client("beta")
    set_all(b, keys, value="B")
    set_all(a, keys, value="A")
    assert a.cmd("proxy_as beta\r\n") == "ERROR"
    assert [(k, v) for k, v, _ in multiget(a, "get", keys)] == [(k, "A") for k in keys]
    assert a.cmd("delete %s\r\n" % keys[1]) == "DELETED"  # acme's, not beta's
    assert [(k, v) for k, v, _ in multiget(b, "get", keys)] == [(k, "B") for k in keys]


def test_a_backend_refuses_proxy_as_from_a_tenant(tpool):
    for backend in tpool.backends:
        r = tpool.direct(backend, "acme")
        assert r.cmd("set k 0 0 1\r\nA\r\n") == "STORED"
        assert r.cmd("proxy_as beta\r\n") == "ERROR"
        assert r.cmd("get k\r\n") == "VALUE k 0 1"  # still acme's namespace
        assert r.line() == "A" and r.line() == "END"
        assert tpool.held(backend, ["k"], user="beta") == {}


# --- mcd's own cases, through the proxy (the client-facing code is shared) --------------

SINGLE = [single.test_pymemcache_ordinary_use, single.test_pylibmc_ordinary_use,
          single.test_noreply_sends_nothing_and_pipelines,
          single.test_incr_wraps_and_decr_floors, single.test_error_replies_match_memcached,
          single.test_key_length_limit,
          single.test_item_too_large_is_refused_and_its_data_swallowed,
          single.test_overlong_line_closes_but_long_multiget_is_served,
          single.test_a_multiget_reply_is_bounded,
          single.test_largest_item_after_the_longest_command_line_is_stored_without_spinning,
          single.test_far_future_unix_exptime_keeps_the_item,
          single.test_meta_commands, single.test_meta_stale_and_win_tokens,
          single.test_meta_base64_keys, single.test_meta_get_miss_returns_opaque_and_key]


@pytest.mark.parametrize("case", SINGLE, ids=lambda f: f.__name__[len("test_"):])
def test_mcds_own_protocol_case_holds_through_the_proxy(pool, case):
    case(pool.proxy)


@pytest.mark.parametrize("line", [
    "set k 4294967296 0 9",        # flags above 32 bits
    "set k x 0 9",                 # flags not a number
    "set k 0 0 9 noreply extra",   # too many tokens
    "cas k 0 0 9 x",               # bad cas unique
    "set " + "k" * 251 + " 0 0 9",  # key too long
])
def test_a_refused_set_does_not_run_its_data_block_on_any_backend(pool, line):
    r = pool.client()
    keep = pool.key_per_backend("keep")
    set_all(r, keep, value="v")
    reply = r.cmd("%s\r\nflush_all\r\n" % line)
    assert reply.startswith(("CLIENT_ERROR", "ERROR")), reply
    assert [(k, v) for k, v, _ in multiget(r, "get", keep)] == [(k, "v") for k in keep]


AUTH_VALUE_MAX = 1024  # MCD_AUTH_VALUE_MAX


def test_before_authentication_the_proxy_holds_only_what_authentication_needs(tpool):
    r = tpool.client()
    assert r.cmd("set acme 0 0 %d\r\n" % (AUTH_VALUE_MAX + 1)) == \
        "CLIENT_ERROR authentication value too large"
    assert r.closed()
    r = tpool.client()
    r.send("get " + "k " * 2000)
    assert r.line() == "CLIENT_ERROR authentication value too large"
    assert r.closed()
    r = tpool.client()
    assert r.cmd("get k\r\n") == "CLIENT_ERROR unauthenticated"
    assert r.auth("acme", tpool.tenants.pw["acme"]) == "STORED"
    assert r.cmd("set k 0 0 1\r\nv\r\n") == "STORED"


# --- backend connections do not follow client connections ---------------------------------

def test_idle_clients_open_no_backend_connections(procs, tmp_path):
    pool = start_pool(procs, tmp_path, threads=2, extra=["-c", "1000"])
    a = pool.admin()
    own = {b.name: pool.direct(b) for b in pool.backends}  # held open throughout

    def client_connections(n):
        return lambda: pool.proxy_stats(a)["client_connections"] == str(n)

    # Warm up: clients on every worker use every backend, then leave.
    keys = pool.key_per_backend("warm")
    warm = [pool.client() for _ in range(8)]
    for w in warm:
        assert multiget(w, "get", keys) == []
    for w in warm:
        w.close()
    wait_for("warm-up clients gone", client_connections(0), 30)
    base = int(pool.proxy_stats(a)["backend_connections"])
    assert 0 < base <= 2 * 3 * 2  # threads x backends x connections
    base_backends = {n: r.stats()["curr_connections"] for n, r in own.items()}

    for n in (10, 500):
        idle = [pool.client() for _ in range(n)]
        wait_for("%d clients accepted" % n, client_connections(n), 30)
        assert int(pool.proxy_stats(a)["backend_connections"]) == base, n
        assert {n: r.stats()["curr_connections"] for n, r in own.items()} == base_backends
        for c in idle:
            c.close()
        wait_for("idle clients gone", client_connections(0), 30)
    assert int(pool.proxy_stats(a)["backend_connections"]) == base
