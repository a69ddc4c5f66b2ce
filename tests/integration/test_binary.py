"""mcd's binary protocol with SASL: pylibmc in binary mode logs in with SASL PLAIN
against the tenants file and works through set, get, incr, cas, multi-get, delete and
touch; a text client and a binary client of one tenant see the same data; a wrong
password fails clearly; before SASL only SASL, version and quit are served; bad
headers and oversized bodies are answered and closed; memccapable's binary tests pass
against mcd without tenants; the proxy answers a binary client "not supported"
instead of leaving it waiting."""
import shutil
import struct
import subprocess

import pylibmc
import pytest

from mcdtest import Raw, add_tenant, start_mcd
from proxytest import start_pool

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


@pytest.fixture
def tenants(tmp_path):
    path = tmp_path / "tenants"
    pw = {
        "acme": add_tenant(path, "acme"),
        "beta": add_tenant(path, "beta"),
        "reader": add_tenant(path, "reader", caps="read"),
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


@pytest.mark.parametrize("header", [
    HEADER.pack(0x42, 0, 0, 0, 0, 0, 0, 0, 0),                 # bad magic (once binary)
    HEADER.pack(0x80, 0, 10, 0, 0, 0, 5, 0, 0) + b"x" * 5,     # key longer than the body
    HEADER.pack(0x80, 0, 251, 0, 0, 0, 251, 0, 0) + b"k" * 251,  # key over 250
    HEADER.pack(0x80, 1, 1, 3, 0, 0, 4, 0, 0) + b"e" * 4,      # set with 3 bytes of extras
])
def test_a_malformed_header_is_answered_and_closed(procs, header):
    m = start_mcd(procs)
    b = Bin(m.port)
    assert b.call(0x0a)[1] == 0  # the first byte made the connection binary
    b.send(header)
    assert b.response()[1] == 0x04  # invalid arguments
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


def test_the_proxy_answers_a_binary_client_not_supported_and_closes(procs, tmp_path):
    pool = start_pool(procs, tmp_path)
    b = Bin(pool.proxy.port)
    op, status, _, _, value, opaque, _ = b.call(0x0a, opaque=77)
    assert (op, status, opaque) == (0x0a, NOT_SUPPORTED, 77)
    assert b"text protocol" in value
    assert b.closed()
