"""memcached's remaining text commands in mcd (docs/mcd.md, "memcached's other
commands"): `stats slabs|items|sizes|conns|reset|detail`, `cache_memlimit`,
`shutdown` (-A), `verbosity`, `misbehave`, `debugtime`, `delete KEY 0`, and that every
command word memcached knows, and unknown ones, get one whole reply at once.

Reply shapes are compared with memcached 1.6.18 run beside mcd where they should be
the same; the values of `stats slabs`/`stats items` are mcd's own (one class)."""
import shutil
import socket
import time

import pytest

from conftest import free_port, wait_port
from mcdtest import Raw, add_tenant, start_mcd
from proxytest import start_pool, stop_checked

needs_memcached = pytest.mark.skipif(shutil.which("memcached") is None,
                                     reason="memcached not installed")

REPLY_WAIT = 5.0  # seconds a reply may take before the test calls it a silence

# Every command word memcached 1.6.18's text protocol knows, with arguments that
# neither close the connection nor change its mode (quit, watch and a successful
# shutdown are tested apart), then words and sub-commands nobody knows.
EVERY_COMMAND = [
    "get", "get k", "gets k", "gat 10 k", "gats 10 k", "gat", "gats",
    "set", "add", "replace", "append", "prepend", "cas", "set k 0 0 x",
    "delete", "delete k", "delete k 0", "delete k 1", "incr", "incr k 1", "decr k 1",
    "touch", "touch k 10", "flush_all", "flush_all x", "version",
    "verbosity", "verbosity 1", "verbosity x",
    "stats", "stats settings", "stats items", "stats slabs", "stats sizes", "stats conns",
    "stats detail", "stats detail on", "stats detail off", "stats detail dump",
    "stats detail x", "stats reset", "stats cachedump 1 1", "stats extstore",
    "stats nonesuch", "stats tenants", "stats sources",
    "cache_memlimit", "cache_memlimit x", "cache_memlimit 1", "cache_memlimit 64",
    "shutdown", "shutdown graceful", "shutdown x", "misbehave", "debugtime", "debugtime 1",
    "slabs", "slabs reassign 1 2", "slabs automove 1", "lru", "lru tune", "lru_crawler",
    "lru_crawler metadump all", "extstore", "refresh_certs",
    "mg k", "mg k v", "md k", "ma k", "me k", "ms k x",
    "nonesuch", "nonesuch with args", "GET k", "x" * 200,
]


def one_reply_each(port, commands, login=None):
    """Sends each command followed by `version` (answered on every port) and returns,
    per command, the lines that came before that VERSION: one whole reply, or nothing
    if the server stayed silent. The socket timeout bounds each wait."""
    r = Raw(port, timeout=REPLY_WAIT)
    if login is not None:
        assert r.auth(*login) == "STORED"
    replies = {}
    for cmd in commands:
        r.send(cmd + "\r\nversion\r\n")
        lines = []
        try:
            while True:
                line = r.line()
                if line.startswith("VERSION ") and (cmd != "version" or lines):
                    break
                lines.append(line)
        except (socket.timeout, TimeoutError):
            pytest.fail("no whole reply to %r on port %d within %ss: %r" %
                        (cmd, port, REPLY_WAIT, lines))
        replies[cmd] = lines
    r.close()
    return replies


def is_one_reply(lines):
    """One line, or a multi-line reply ended by END with no error or END before."""
    if len(lines) == 1:
        return True
    return len(lines) > 1 and lines[-1] == "END" and not any(
        l == "END" or l.startswith(("ERROR", "CLIENT_ERROR", "SERVER_ERROR"))
        for l in lines[:-1])


def test_every_command_word_and_unknown_ones_get_one_reply_at_once(procs):
    m = start_mcd(procs, admin=True)
    for port in (m.port, m.admin_port):
        replies = one_reply_each(port, EVERY_COMMAND)
        silent = [c for c, lines in replies.items() if not lines]
        assert silent == [], "no reply on port %d" % port
        bad = {c: l for c, l in replies.items() if not is_one_reply(l)}
        assert bad == {}


def test_a_tenant_gets_one_reply_to_every_command_word(procs, tmp_path):
    tenants = tmp_path / "tenants"
    pw = add_tenant(tenants, "acme")
    m = start_mcd(procs, tenants=tenants)
    replies = one_reply_each(m.port, EVERY_COMMAND, login=("acme", pw))
    assert [c for c, lines in replies.items() if not is_one_reply(lines)] == []


# --- the same replies as memcached ----------------------------------------------------

def start_memcached(procs):
    """memcached 1.6.18 on a free loopback port; returns the port."""
    port = free_port()
    ref = procs.start(["memcached", "-u", "nobody", "-l", "127.0.0.1", "-p", str(port),
                       "-U", "0", "-t", "1"], name="memcached")
    wait_port(port, proc=ref)
    return port


SAME_AS_MEMCACHED = [
    "stats slabs", "stats items", "stats sizes", "stats sizes x", "stats nonesuch",
    "stats detail", "stats detail x", "stats detail off", "stats detail dump",
    "stats reset", "cache_memlimit", "cache_memlimit x", "cache_memlimit 0",
    "cache_memlimit 7", "cache_memlimit 64", "shutdown", "shutdown graceful",
    "verbosity", "verbosity 1", "verbosity x", "verbosity 1 2", "verbosity 1 noreply",
    "misbehave", "debugtime", "debugtime 5", "nonesuch", "slabs", "lru", "extstore",
    "set k 0 0 1\r\nx", "delete k 0", "delete k 0", "delete k 1", "delete k x",
    "delete k noreply 0", "set k 0 0 1\r\nx", "delete k 0 noreply", "get k",
    # memcached's per-prefix figures, as t/stats-detail.t reads them
    "stats detail on", "set foo:1 0 0 1\r\nx", "get foo:1", "get foo:2", "delete foo:3",
    "get nofix", "stats detail dump", "stats detail off", "get foo:1", "stats detail dump",
    "stats reset", "stats detail dump",
]


@needs_memcached
def test_replies_are_memcached_s(procs):
    port = start_memcached(procs)
    m = start_mcd(procs)
    want = one_reply_each(port, SAME_AS_MEMCACHED)
    got = one_reply_each(m.port, SAME_AS_MEMCACHED)
    assert got == want


def stat_names(lines):
    return [l.split(" ")[1] for l in lines if l.startswith("STAT ")]


@needs_memcached
def test_slabs_and_items_have_memcached_s_fields_with_mcd_s_figures(procs):
    port = start_memcached(procs)
    m = start_mcd(procs)
    script = ["set a 0 0 5\r\nhello", "set b 0 0 3\r\nabc", "get a", "stats slabs",
              "stats items"]
    want = one_reply_each(port, script)
    got = one_reply_each(m.port, script)
    for cmd in ("stats slabs", "stats items"):
        assert stat_names(got[cmd]) == stat_names(want[cmd]), cmd
    slabs = dict(l.split(" ")[1:] for l in got["stats slabs"][:-1])
    items = dict(l.split(" ")[1:] for l in got["stats items"][:-1])
    # One class; its "chunks" are the items, its memory what the store charges.
    assert slabs["active_slabs"] == "1"
    assert slabs["1:used_chunks"] == items["items:1:number"] == "2"
    assert slabs["1:get_hits"] == "1" and slabs["1:cmd_set"] == "2"
    r = m.raw()
    st = r.stats()
    assert slabs["total_malloced"] == items["items:1:mem_requested"] == st["bytes"]
    assert int(slabs["1:chunk_size"]) * 2 >= int(st["bytes"])


def conns_of(r):
    """`stats conns` as {fd: {field: value}}."""
    r.send("stats conns\r\n")
    lines, end = r.until_end()
    assert end == "END"
    out = {}
    for l in lines:
        _, key, value = l.split(" ", 2)
        fd, field = key.split(":", 1)
        out.setdefault(fd, {})[field] = value
    return out


@needs_memcached
def test_stats_conns_has_memcached_s_fields_and_the_tenant(procs):
    port = start_memcached(procs)
    m = start_mcd(procs)
    theirs = [c for c in conns_of(Raw(port)).values() if "listen_addr" in c]
    ours = list(conns_of(m.raw()).values())
    assert len(theirs) == len(ours) == 1
    assert set(theirs[0]) <= set(ours[0])
    assert set(ours[0]) - set(theirs[0]) == {"tenant"}
    assert ours[0]["state"] == theirs[0]["state"] == "conn_parse_cmd"
    assert ours[0]["addr"].startswith("tcp:127.0.0.1:")


def test_stats_conns_shows_a_tenant_its_own_and_the_admin_every_one(procs, tmp_path):
    tenants = tmp_path / "tenants"
    pw = {"acme": add_tenant(tenants, "acme"), "beta": add_tenant(tenants, "beta"),
          "ops": add_tenant(tenants, "ops", admin=True)}
    m = start_mcd(procs, tenants=tenants, admin=True, extra=["--auth-timeout", "60s"])
    conns = []
    for name in ("acme", "acme", "beta"):
        r = m.raw()
        assert r.auth(name, pw[name]) == "STORED"
        conns.append(r)
    idle = m.raw()  # not logged in
    assert idle.cmd("version\r\n") == "CLIENT_ERROR unauthenticated"
    mine = conns_of(conns[0])
    assert sorted(c["tenant"] for c in mine.values()) == ["acme", "acme"]
    assert sorted(c["state"] for c in mine.values()) == ["conn_parse_cmd", "conn_waiting"]
    a = Raw(m.admin_port)
    assert a.auth("ops", pw["ops"]) == "STORED"
    every = conns_of(a)
    assert sorted(c["tenant"] for c in every.values()) == ["-", "acme", "acme", "beta", "ops"]
    assert [c["state"] for c in every.values() if c["tenant"] == "-"] == ["auth_wait"]


def test_stats_conns_lists_at_most_1000_connections_and_counts_the_rest(procs):
    m = start_mcd(procs, admin=True, extra=["-c", "2000"])
    socks = [socket.create_connection(("127.0.0.1", m.port), timeout=5) for _ in range(1010)]
    try:
        a = Raw(m.admin_port, timeout=10)
        # Every socket is accepted once `stats` counts it.
        deadline = time.monotonic() + 30
        while int(a.stats()["curr_connections"]) < 1010 and time.monotonic() < deadline:
            time.sleep(0.05)
        a.send("stats conns\r\n")
        lines, end = a.until_end()
        assert end == "END"
        fds = {l.split(" ")[1].split(":")[0] for l in lines if ":" in l.split(" ")[1]}
        assert len(fds) == 1000
        assert lines[-1] == "STAT conns_not_listed 11"  # 1010 clients + the admin one
    finally:
        for s in socks:
            s.close()


# --- stats reset ------------------------------------------------------------------------

def test_a_tenant_s_stats_reset_resets_its_own_figures_only(procs, tmp_path):
    tenants = tmp_path / "tenants"
    pw = {"acme": add_tenant(tenants, "acme"), "beta": add_tenant(tenants, "beta"),
          "ops": add_tenant(tenants, "ops", admin=True)}
    m = start_mcd(procs, tenants=tenants, admin=True)
    acme, beta = m.raw(), m.raw()
    assert acme.auth("acme", pw["acme"]) == "STORED"
    assert beta.auth("beta", pw["beta"]) == "STORED"
    for r in (acme, beta):
        assert r.cmd("set k 0 0 1\r\nx\r\n") == "STORED"
        assert r.cmd("get k\r\n").startswith("VALUE")
        r.line(), r.line()
    assert acme.cmd("stats reset\r\n") == "RESET"
    st = acme.stats()
    assert (st["get_hits"], st["cmd_get"], st["cmd_set"]) == ("0", "0", "0")
    assert (st["curr_items"], st["total_connections"]) == ("1", "1")  # gauges, accounting
    assert beta.stats()["get_hits"] == "1"
    a = Raw(m.admin_port)
    assert a.auth("ops", pw["ops"]) == "STORED"
    before = a.stats()
    assert before["get_hits"] == "1"  # beta's
    assert a.cmd("stats reset\r\n") == "RESET"
    st = a.stats()
    assert (st["get_hits"], st["cmd_get"], st["total_connections"]) == ("0", "0", "0")
    assert (st["curr_connections"], st["curr_items"]) == (before["curr_connections"], "2")
    assert beta.stats()["get_hits"] == "0"


def test_stats_detail_counts_a_tenant_s_prefixes_and_the_admin_sees_every_tenant_s(procs,
                                                                                  tmp_path):
    tenants = tmp_path / "tenants"
    pw = {"acme": add_tenant(tenants, "acme"), "beta": add_tenant(tenants, "beta"),
          "ops": add_tenant(tenants, "ops", admin=True)}
    m = start_mcd(procs, tenants=tenants, admin=True)
    acme, beta = m.raw(), m.raw()
    assert acme.auth("acme", pw["acme"]) == "STORED"
    assert beta.auth("beta", pw["beta"]) == "STORED"
    assert acme.cmd("stats detail on\r\n") == "OK"  # acme's own counting only
    for r in (acme, beta):
        assert r.cmd("set user:1 0 0 1\r\nx\r\n") == "STORED"
    assert acme.cmd("stats detail dump\r\n") == "PREFIX user get 0 hit 0 set 1 del 0"
    assert acme.line() == "END"
    assert beta.cmd("stats detail dump\r\n") == "END"
    a = Raw(m.admin_port)
    assert a.auth("ops", pw["ops"]) == "STORED"
    assert a.cmd("stats detail dump\r\n") == "PREFIX acme/user get 0 hit 0 set 1 del 0"
    assert a.line() == "END"
    assert a.stats("settings")["detail_enabled"] == "yes"
    assert a.cmd("stats detail off\r\n") == "OK"
    assert a.stats("settings")["detail_enabled"] == "no"
    # More prefixes than the table holds: the rest are summed in *other*.
    assert acme.cmd("stats detail on\r\n") == "OK"
    for i in range(70):
        acme.send(f"get p{i}:k\r\n")
        assert acme.line() == "END"
    acme.send("stats detail dump\r\n")
    dump = []
    while True:
        line = acme.line()
        if line == "END":
            break
        dump.append(line)
    assert len(dump) == 65, dump  # user and 63 p-prefixes, then *other*
    assert dump[-1] == "PREFIX *other* get 7 hit 0 set 0 del 0"


# --- cache_memlimit, shutdown -------------------------------------------------------------

def test_cache_memlimit_changes_the_memory_limit_at_run_time(procs):
    m = start_mcd(procs, admin=True, memory=64)
    r = m.raw()
    assert r.cmd("cache_memlimit 8\r\n") == "OK"
    assert r.stats()["limit_maxbytes"] == str(8 << 20)
    a = Raw(m.admin_port)
    assert a.cmd("cache_memlimit 16\r\n") == "OK"
    assert a.stats("settings")["maxbytes"] == str(16 << 20)
    assert r.stats()["limit_maxbytes"] == str(16 << 20)


def test_cache_memlimit_is_refused_to_a_tenant_and_with_a_tenants_file(procs, tmp_path):
    tenants = tmp_path / "tenants"
    pw = {"acme": add_tenant(tenants, "acme"), "ops": add_tenant(tenants, "ops", admin=True)}
    m = start_mcd(procs, tenants=tenants, admin=True)
    r = m.raw()
    assert r.auth("acme", pw["acme"]) == "STORED"
    assert r.cmd("cache_memlimit 100\r\n") == \
        "CLIENT_ERROR cache_memlimit is on the admin port only"
    a = Raw(m.admin_port)
    assert a.auth("ops", pw["ops"]) == "STORED"
    assert a.cmd("cache_memlimit 100\r\n").startswith(
        "CLIENT_ERROR cache_memlimit sets -m, which applies only without a tenants file")


def test_shutdown_is_off_without_dash_a(procs):
    m = start_mcd(procs, admin=True)
    assert Raw(m.admin_port).cmd("shutdown\r\n") == "ERROR: shutdown not enabled"
    assert m.proc.poll() is None


def test_shutdown_with_dash_a_stops_gracefully_from_the_admin_port_only(procs):
    m = start_mcd(procs, "-A", admin=True)
    r = m.raw()
    assert r.cmd("shutdown\r\n") == "CLIENT_ERROR shutdown is on the admin port only"
    a = Raw(m.admin_port)
    assert a.cmd("shutdown x\r\n") == "CLIENT_ERROR invalid shutdown mode"
    assert a.cmd("shutdown graceful\r\n") == "OK"
    assert m.proc.wait(timeout=30) == 0
    assert a.closed() and r.closed()


def test_stats_settings_on_the_admin_port_says_whether_shutdown_is_enabled(procs):
    m = start_mcd(procs, "--enable-shutdown", admin=True)
    st = Raw(m.admin_port).stats("settings")
    assert (st["shutdown_command"], st["detail_enabled"], st["verbosity"]) == ("yes", "no", "0")


# --- the proxy ------------------------------------------------------------------------------

def test_a_proxy_answers_the_memory_views_with_its_own_empty_figures(procs, tmp_path):
    pool = start_pool(procs, tmp_path)
    r = pool.client()
    assert r.cmd("set k 0 0 1\r\nx\r\n") == "STORED"  # stored on a backend
    for port in (pool.proxy.port, pool.proxy.admin_port):
        replies = one_reply_each(port, ["stats slabs", "stats items", "stats sizes",
                                        "cache_memlimit 64", "stats reset"])
        assert replies["stats slabs"] == ["STAT active_slabs 0", "STAT total_malloced 0",
                                          "END"]
        assert replies["stats items"] == ["END"]
        assert replies["stats sizes"] == ["STAT sizes_status disabled", "END"]
        assert replies["cache_memlimit 64"] == [
            "CLIENT_ERROR a proxy holds no data: set its backends' memory"]
        assert replies["stats reset"] == ["RESET"]
    assert stop_checked(procs) == []


def test_an_http_request_line_is_hung_up_on_and_a_silent_refusal_stays_silent(procs):
    m = start_mcd(procs)
    for line in ("GET / HTTP/1.0", "PUT /a/b HTTP/1.1", "DELETE HTTP/1.1"):
        r = m.raw()
        r.send(line + "\r\n")
        assert r.closed(), line
    r = m.raw()
    assert r.cmd("get / HTTP\r\n") == "END"  # a get of two keys, not a request line
    # `delete k 10 noreply` is refused without a reply: the next reply is the add's.
    r.send("delete k 10 noreply\r\n")
    assert r.cmd("add k 0 0 1\r\nx\r\n") == "STORED"
    assert r.cmd("ms k 1 c C999\r\ny\r\n") == "EX c0"
