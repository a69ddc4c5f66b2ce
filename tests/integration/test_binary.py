"""mcd's binary protocol with SASL: pylibmc in binary mode logs in with SASL PLAIN
against the tenants file and works through set, get, incr, cas, multi-get, delete and
touch; a text client and a binary client of one tenant see the same data; a wrong
password fails clearly; before SASL only SASL, version and quit are served; bad
headers and oversized bodies are answered and closed; memccapable's binary tests pass
against mcd without tenants and through the proxy, whose binary clients' requests go
to the backends as meta requests."""
import shutil
import socket
import ssl
import struct
import subprocess

import pylibmc
import pytest

from conftest import binary
from mcdtest import Raw, add_tenant, start_mcd
from proxytest import TenantsFile, start_pool, stop_checked

HEADER = struct.Struct(">BBHBBHIIQ")
AUTH_ERROR = 0x20
NOT_SUPPORTED = 0x83


class Bin(Raw):
    """A raw binary-protocol connection."""

    def request(self, opcode, key=b"", extras=b"", value=b"", opaque=0, cas=0, magic=0x80):
        if isinstance(key, str):
            key = key.encode()
        if isinstance(value, str):
            value = value.encode()
        body = extras + key + value
        self.send(HEADER.pack(magic, opcode, len(key), len(extras), 0, 0, len(body), opaque,
                              cas) + body)

    def response(self):
        """(opcode, status, extras, key, value, opaque, cas)."""
        magic, op, klen, elen, _, status, blen, opaque, cas = HEADER.unpack(self.read(24))
        assert magic == 0x81
        body = self.read(blen)
        return op, status, body[:elen], body[elen:elen + klen], body[elen + klen:], opaque, cas

    def call(self, opcode, **kw):
        self.request(opcode, **kw)
        return self.response()

    def sasl(self, user, password):
        return self.call(0x21, key="PLAIN", value=b"\0" + user.encode() + b"\0" +
                         password.encode())


@pytest.fixture(autouse=True)
def exits_cleanly(procs):
    """Every server of a test stops on SIGTERM with status 0 and no sanitizer report."""
    yield
    assert stop_checked(procs) == []


@pytest.fixture
def tenants(tmp_path):
    path = tmp_path / "tenants"
    pw = {
        "acme": add_tenant(path, "acme"),
        "beta": add_tenant(path, "beta"),
        "reader": add_tenant(path, "reader", caps="read"),
        "ops": add_tenant(path, "ops", admin=True),
    }
    return path, pw


@pytest.fixture
def mcd(procs, tenants):
    return start_mcd(procs, tenants=tenants[0], extra=["--auth-timeout", "2s"])


def client(mcd, user, password):
    return pylibmc.Client(["127.0.0.1:%d" % mcd.port], binary=True, username=user,
                          password=password, behaviors={"cas": True})


def test_pylibmc_with_sasl_sets_gets_incrs_cas_multigets_deletes_and_touches(mcd, tenants):
    c = client(mcd, "acme", tenants[1]["acme"])
    assert c.set("k", "v")
    assert c.get("k") == "v"
    assert c.set("n", "41")
    assert c.incr("n") == 42
    assert c.decr("n", 2) == 40
    value, cas = c.gets("k")
    assert value == "v"
    assert c.cas("k", "w", cas)
    assert not c.cas("k", "x", cas)  # the cas moved on
    assert c.get("k") == "w"
    assert c.get_multi(["k", "n", "missing"]) == {"k": "w", "n": "40"}
    assert c.touch("k", 100)
    assert c.delete("k")
    assert c.get("k") is None
    assert not c.touch("k", 100)


def test_a_text_client_and_a_binary_client_of_one_tenant_see_the_same_data(mcd, tenants):
    c = client(mcd, "acme", tenants[1]["acme"])
    assert c.set("shared", b"from-binary")  # bytes: pylibmc's flags 0
    r = mcd.raw()
    assert r.auth("acme", tenants[1]["acme"]) == "STORED"
    r.send("get shared\r\n")
    assert r.until_end() == (["VALUE shared 0 11", "from-binary"], "END")
    assert r.cmd("set other 0 0 9\r\nfrom-text\r\n") == "STORED"
    assert c.get("other") == b"from-text"
    # Another tenant's binary client sees none of it.
    b = client(mcd, "beta", tenants[1]["beta"])
    assert b.get("shared") is None


def test_a_wrong_password_fails_clearly(mcd, tenants):
    c = client(mcd, "acme", "not-the-password")
    with pytest.raises(pylibmc.Error, match="AUTHENTICATION FAILURE"):
        c.set("k", "v")
    b = Bin(mcd.port)
    op, status, _, _, value, _, _ = b.sasl("acme", "wrong")
    assert (op, status, value) == (0x21, AUTH_ERROR, b"Auth failure.")
    op, status, _, _, value, _, _ = b.sasl("nobody", "wrong")
    assert status == AUTH_ERROR
    # The third failure closes, as the text login does.
    assert b.sasl("acme", "wrong")[1] == AUTH_ERROR
    assert b.closed()


def test_before_sasl_only_sasl_version_and_quit_are_served(mcd, tenants):
    b = Bin(mcd.port)
    op, status, _, _, value, opaque, _ = b.call(0x20, opaque=7)  # list mechanisms
    assert (op, status, value, opaque) == (0x20, 0, b"PLAIN", 7)
    op, status, _, _, _, opaque, _ = b.call(0x00, key="k", opaque=9)  # get
    assert (op, status, opaque) == (0x00, AUTH_ERROR, 9)
    assert b.call(0x01, key="k", extras=b"\0" * 8, value="v")[1] == AUTH_ERROR  # set
    assert b.call(0x0a)[1] == AUTH_ERROR  # noop
    assert b.call(0x10)[1] == AUTH_ERROR  # stat
    assert b.call(0x0b)[1:2] == (0,)  # version
    assert b.sasl("acme", tenants[1]["acme"])[1:2] == (0,)
    assert b.call(0x0a)[1] == 0
    assert b.call(0x07)[1] == 0  # quit answers, then closes
    assert b.closed()


def test_sasl_is_held_to_the_tenants_connection_limit_and_counted_as_a_text_login(
        procs, tenants):
    path, pw = tenants
    r = subprocess.run([binary("mctl"), "tenant", "connlimit", "acme", "--file", str(path),
                        "--max-connections", "1"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    m = start_mcd(procs, tenants=path, admin=True)
    first = Bin(m.port)
    assert first.sasl("acme", pw["acme"])[1] == 0
    second = Bin(m.port)
    op, status, _, _, value, _, _ = second.sasl("acme", pw["acme"])
    assert (op, status, value) == (0x21, 0x86, b"too many connections for this account")
    assert second.closed()
    text = m.raw()
    assert text.auth("acme", pw["acme"]) == "SERVER_ERROR too many connections for this account"
    admin = Raw(m.admin_port)
    assert admin.auth("ops", pw["ops"]) == "STORED"
    st = admin.stats("tenants")
    assert st["tenant:acme:auth_ok"] == "3"  # right passwords, admitted or not
    assert st["tenant:acme:rejected_connections"] == "2"
    assert admin.stats()["rejected_tenant_connections"] == "2"


def test_a_binary_connection_without_sasl_is_closed_at_the_auth_deadline(mcd):
    b = Bin(mcd.port)
    assert b.call(0x0b)[1] == 0  # version: served, but no login
    assert b.closed(timeout=30)


def test_binary_with_sasl_over_tls_sends_a_large_value_whole(procs, tenants, tls_cert):
    m = start_mcd(procs, tenants=tenants[0], tls=tls_cert)
    ctx = ssl.create_default_context(cafile=tls_cert[0])
    ctx.check_hostname = False
    raw = socket.create_connection(("127.0.0.1", m.tls_port), timeout=5)
    b = Bin(None, sock=ctx.wrap_socket(raw, server_hostname="localhost"))
    assert b.sasl("acme", tenants[1]["acme"])[1] == 0
    big = b"z" * 200000
    assert b.call(0x01, key="big", extras=b"\0\0\0\1\0\0\0\0", value=big)[1] == 0
    _, status, extras, _, value, _, _ = b.call(0x00, key="big")
    assert (status, extras, value) == (0, b"\0\0\0\1", big)


def test_a_big_body_before_sasl_is_answered_and_closed(mcd):
    b = Bin(mcd.port)
    b.request(0x01, key="k", extras=b"\0" * 8, value=b"x" * 4096)
    assert b.response()[1] == 0x03  # too large
    assert b.closed()


def test_sasl_does_not_exceed_the_tenants_capabilities(mcd, tenants):
    b = Bin(mcd.port)
    assert b.sasl("reader", tenants[1]["reader"])[1] == 0
    op, status, _, _, value, _, _ = b.call(0x11, key="k", extras=b"\0" * 8, value="v")  # setq
    assert status == AUTH_ERROR and b"may not write" in value
    b.request(0x09, key="missing")  # getq: a miss is quiet
    assert b.call(0x0a)[:2] == (0x0a, 0)


@pytest.mark.parametrize("header,status", [
    (HEADER.pack(0x42, 0, 0, 0, 0, 0, 0, 0, 0), 0x04),                 # bad magic
    (HEADER.pack(0x80, 0, 10, 0, 0, 0, 5, 0, 0) + b"x" * 5, 0x81),     # key longer than body
    (HEADER.pack(0x80, 0, 251, 0, 0, 0, 251, 0, 0) + b"k" * 251, 0x04),  # key over 250
    (HEADER.pack(0x80, 1, 1, 3, 0, 0, 4, 0, 0) + b"e" * 4, 0x04),      # set with 3 extras
])
def test_a_malformed_header_is_answered_and_closed(procs, header, status):
    m = start_mcd(procs)
    b = Bin(m.port)
    assert b.call(0x0a)[1] == 0  # the first byte made the connection binary
    b.send(header)
    assert b.response()[1] == status  # memcached's: invalid arguments, unknown command
    assert b.closed()
    # The server goes on.
    assert Bin(m.port).call(0x0a)[1] == 0


def test_quiet_commands_hide_only_what_memcached_hides(procs):
    m = start_mcd(procs)
    b = Bin(m.port)
    b.request(0x11, key="q", extras=b"\0" * 8, value="v", opaque=1)  # setq: silent
    b.request(0x12, key="q", extras=b"\0" * 8, value="v", opaque=2)  # addq: exists, said
    b.request(0x0d, key="none", opaque=3)                            # getkq miss: silent
    b.request(0x0d, key="q", opaque=4)                               # getkq hit: said
    b.request(0x14, key="none", opaque=5)                            # deleteq miss: said
    b.request(0x0a, opaque=6)
    got = [(r[1], r[5]) for r in (b.response() for _ in range(4))]
    assert got == [(0x02, 2), (0, 4), (0x01, 5), (0, 6)]


def test_an_unknown_opcode_is_answered_and_the_connection_goes_on(procs):
    m = start_mcd(procs)
    b = Bin(m.port)
    assert b.call(0x7f, value=b"ignored")[1] == 0x81
    assert b.call(0x0a)[1] == 0


def test_binary_stat_packets_carry_the_text_stats(procs):
    m = start_mcd(procs)
    b = Bin(m.port)
    b.request(0x10)
    stats = {}
    while True:
        _, status, _, key, value, _, _ = b.response()
        assert status == 0
        if not key:
            break
        stats[key.decode()] = value.decode()
    assert "curr_connections" in stats and "version" in stats
    assert b.call(0x10, key="no-such-group")[1] == 0x01


@pytest.mark.skipif(shutil.which("memccapable") is None, reason="libmemcached-tools")
def test_memccapable_binary_tests_pass_against_mcd_without_tenants(procs):
    m = start_mcd(procs)
    out = subprocess.run(["memccapable", "-h", "127.0.0.1", "-p", str(m.port), "-b",
                          "-t", "10"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All tests passed" in out.stdout


@pytest.mark.skipif(shutil.which("memccapable") is None, reason="libmemcached-tools")
def test_memccapable_binary_tests_pass_through_the_proxy(procs, tmp_path):
    pool = start_pool(procs, tmp_path)
    out = subprocess.run(["memccapable", "-h", "127.0.0.1", "-p", str(pool.proxy.port), "-b",
                          "-t", "10"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All tests passed" in out.stdout


def test_pylibmc_with_sasl_through_the_proxy_shares_data_with_text_clients(procs, tmp_path):
    tenants = TenantsFile(tmp_path)
    pool = start_pool(procs, tmp_path, tenants=tenants)
    c = pylibmc.Client(["127.0.0.1:%d" % pool.proxy.port], binary=True, username="acme",
                       password=tenants.pw["acme"], behaviors={"cas": True})
    keys = ["key-%d" % i for i in range(20)]
    for k in keys:
        assert c.set(k, k.encode())
    assert c.get_multi(keys + ["missing"]) == {k: k.encode() for k in keys}
    assert c.set("n", "1")
    assert c.incr("n", 5) == 6
    value, cas = c.gets("key-1")
    assert c.cas("key-1", b"new", cas)
    assert not c.cas("key-1", b"newer", cas)
    assert c.touch("key-2", 100)
    assert c.delete("key-3")
    assert c.get("key-3") is None
    r = Raw(pool.proxy.port)
    assert r.auth("acme", tenants.pw["acme"]) == "STORED"
    r.send("get key-1\r\n")
    assert r.until_end() == (["VALUE key-1 0 3", "new"], "END")
    # A wrong password through the proxy fails as it does on a node.
    bad = pylibmc.Client(["127.0.0.1:%d" % pool.proxy.port], binary=True, username="acme",
                         password="wrong")
    with pytest.raises(pylibmc.Error, match="AUTHENTICATION FAILURE"):
        bad.get("k")


def test_a_key_with_spaces_goes_through_the_proxy_and_back(procs, tmp_path):
    pool = start_pool(procs, tmp_path)
    b = Bin(pool.proxy.port)
    assert b.call(0x01, key=b"a key\x01", extras=b"\0\0\0\7\0\0\0\0", value="v")[1] == 0
    op, status, extras, key, value, opaque, _ = b.call(0x0c, key=b"a key\x01", opaque=3)
    assert (status, extras, key, value, opaque) == (0, b"\0\0\0\7", b"a key\x01", b"v", 3)
    assert b.call(0x0c, key=b"no such key")[1:4] == (0x01, b"", b"no such key")
