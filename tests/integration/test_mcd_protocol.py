"""mcd without authentication: a drop-in memcached, checked with real clients,
raw protocol (every error reply) and memcached's own compliance tool."""
import os
import shutil
import signal
import socket
import subprocess
import time

import pymemcache.client.base
import pylibmc
import pytest

from conftest import binary, free_port, wait_port
from mcdtest import Raw, start_mcd


@pytest.fixture
def mcd(procs):
    return start_mcd(procs)


def test_pymemcache_ordinary_use(mcd):
    c = pymemcache.client.base.Client(("127.0.0.1", mcd.port), timeout=5)
    assert c.set("k", b"v1", expire=0, noreply=False)
    assert c.get("k") == b"v1"
    assert c.add("k", b"x", noreply=False) is False
    assert c.replace("k", b"v2", noreply=False)
    assert c.append("k", b"+", noreply=False)
    assert c.prepend("k", b"-", noreply=False)
    assert c.get("k") == b"-v2+"
    value, cas = c.gets("k")
    assert c.cas("k", b"new", cas, noreply=False)
    assert c.cas("k", b"stale", cas, noreply=False) is False
    assert c.get_many(["k", "missing"]) == {"k": b"new"}
    c.set("n", b"10")
    assert c.incr("n", 5) == 15
    assert c.decr("n", 100) == 0
    assert c.touch("n", 100, noreply=False)
    assert c.delete("n", noreply=False)
    assert c.get("n") is None
    assert c.flush_all(noreply=False)
    assert c.get("k") is None
    assert c.version().startswith(b"1.6")


def test_pylibmc_ordinary_use(mcd):
    c = pylibmc.Client(["127.0.0.1:%d" % mcd.port])
    c.set("a", "alpha")
    c.set_multi({"b": "beta", "c": 3})
    assert c.get("a") == "alpha"
    assert c.get_multi(["a", "b", "c", "zz"]) == {"a": "alpha", "b": "beta", "c": 3}
    c.incr("c", 4)
    assert c.get("c") == 7
    c.delete("a")
    assert c.get("a") is None


def test_expiry_relative_absolute_and_negative(mcd):
    r = mcd.raw()
    assert r.cmd("set rel 0 1 1\r\nx\r\n") == "STORED"
    assert r.cmd("set abs 0 %d 1\r\nx\r\n" % (int(time.time()) + 1)) == "STORED"
    assert r.cmd("set neg 0 -1 1\r\nx\r\n") == "STORED"
    assert r.cmd("set keep 0 0 1\r\nx\r\n") == "STORED"
    r.send("get neg\r\n")
    assert r.until_end() == ([], "END")
    time.sleep(2.2)
    r.send("get rel abs keep\r\n")
    lines, end = r.until_end()
    assert lines == ["VALUE keep 0 1", "x"]


def test_noreply_sends_nothing_and_pipelines(mcd):
    r = mcd.raw()
    r.send("set a 0 0 1 noreply\r\n1\r\nincr a 1 noreply\r\ndelete zz noreply\r\n"
           "flush_all noreply\r\nset b 0 0 1 noreply\r\n2\r\nget b\r\n")
    assert r.line() == "VALUE b 0 1"
    assert r.line() == "2"
    assert r.line() == "END"


def test_incr_wraps_and_decr_floors(mcd):
    r = mcd.raw()
    assert r.cmd("set n 0 0 20\r\n18446744073709551615\r\n") == "STORED"
    assert r.cmd("incr n 2\r\n") == "1"
    assert r.cmd("decr n 5\r\n") == "0"
    assert r.cmd("set s 0 0 3\r\nabc\r\n") == "STORED"
    assert r.cmd("incr s 1\r\n") == "CLIENT_ERROR cannot increment or decrement non-numeric value"
    assert r.cmd("incr s x\r\n") == "CLIENT_ERROR invalid numeric delta argument"
    assert r.cmd("incr nope 1\r\n") == "NOT_FOUND"


def test_error_replies_match_memcached(mcd):
    r = mcd.raw()
    assert r.cmd("bogus\r\n") == "ERROR"
    assert r.cmd("GET a\r\n") == "ERROR"  # commands are case-sensitive
    assert r.cmd("get\r\n") == "ERROR"
    assert r.cmd("set a 0 0\r\n") == "ERROR"
    # the data block of a refused set is discarded, not run (memcached runs it)
    assert r.cmd("set a x 0 1\r\nx\r\n") == "CLIENT_ERROR bad command line format"
    assert r.cmd("set a 0 0 -1\r\n") == "CLIENT_ERROR bad command line format"
    assert r.cmd("set a 0 0 3\r\nabcde\r\n") == "CLIENT_ERROR bad data chunk"
    assert r.line() == "ERROR"  # the "\r\n" left over is an empty command, as in memcached
    assert r.cmd("delete a 5\r\n") == \
        "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]"
    assert r.cmd("touch a x\r\n") == "CLIENT_ERROR invalid exptime argument"
    assert r.cmd("gat x a\r\n") == "CLIENT_ERROR invalid exptime argument"
    assert r.cmd("flush_all x\r\n") == "CLIENT_ERROR invalid exptime argument"
    # the connection is still usable after every error
    assert r.cmd("set ok 0 0 2\r\nhi\r\n") == "STORED"


def test_key_length_limit(mcd):
    r = mcd.raw()
    k250, k251 = "k" * 250, "k" * 251
    assert r.cmd("set %s 0 0 1\r\nx\r\n" % k250) == "STORED"
    r.send("get %s\r\n" % k250)
    assert r.until_end()[0] == ["VALUE %s 0 1" % k250, "x"]
    assert r.cmd("get %s\r\n" % k251) == "CLIENT_ERROR bad command line format"
    assert r.cmd("delete %s\r\n" % k251) == "CLIENT_ERROR bad command line format"


def test_item_too_large_is_refused_and_its_data_swallowed(mcd):
    r = mcd.raw()
    big = b"x" * (1024 * 1024 + 1)
    assert r.cmd("set big 0 0 2\r\nok\r\n") == "STORED"
    r.send(b"set big 0 0 %d\r\n" % len(big) + big + b"\r\n")
    assert r.line() == "SERVER_ERROR object too large for cache"
    # memcached drops the old value of a set that was too large
    r.send("get big\r\n")
    assert r.until_end() == ([], "END")
    exact = b"y" * (1024 * 1024)
    r.send(b"set exact 0 0 %d\r\n" % len(exact) + exact + b"\r\n")
    assert r.line() == "STORED"


def test_overlong_line_closes_but_long_multiget_is_served(mcd):
    r = mcd.raw()
    r.send("set " + "a" * 3000)  # no newline, longer than 2048
    assert r.closed(timeout=5)
    r2 = mcd.raw()
    keys = " ".join("key%04d" % i for i in range(600))  # ~4.8 KB line
    r2.send("set key0007 0 0 1\r\nz\r\nget %s\r\n" % keys)
    assert r2.line() == "STORED"
    assert r2.until_end() == (["VALUE key0007 0 1", "z"], "END")


def test_pipelined_requests_in_one_packet_are_all_served(mcd):
    r = mcd.raw()
    n = 500  # more than one wake-up's worth: the server yields and comes back
    r.send("".join("set p%d 0 0 1\r\n%d\r\n" % (i, i % 10) for i in range(n)))
    for _ in range(n):
        assert r.line() == "STORED"
    st = r.stats()
    assert int(st["conn_yields"]) > 0


def test_meta_commands(mcd):
    r = mcd.raw()
    assert r.cmd("ms mk 2 T60 F5\r\nhi\r\n") == "HD"
    assert r.cmd("mg mk v f t k\r\n") == "VA 2 f5 t60 kmk"
    assert r.line() == "hi"
    assert r.cmd("mg missing v\r\n") == "EN"
    r.send("mg missing v q\r\nmn\r\n")
    assert r.line() == "MN"  # q hides the miss; mn ends the pipeline
    assert r.cmd("ms mk 2 ME\r\nzz\r\n") == "NS"  # add mode on a hit
    assert r.cmd("ma cnt N0 J10 v\r\n") == "VA 2"
    assert r.line() == "10"
    assert r.cmd("ma cnt MD D3 v\r\n") == "VA 1"
    assert r.line() == "7"
    assert r.cmd("md mk q\r\nmn\r\n") == "MN"
    assert r.cmd("md mk\r\n") == "NF"
    assert r.cmd("mg x v Q\r\n") == "CLIENT_ERROR invalid flag"
    assert r.cmd("mg x v v\r\n") == "CLIENT_ERROR duplicate flag"
    assert r.cmd("mg x T9z\r\n") == "CLIENT_ERROR bad token in command line format"


def test_meta_stale_and_win_tokens(mcd):
    r = mcd.raw()
    assert r.cmd("ms s 1\r\na\r\n") == "HD"
    assert r.cmd("md s I T30\r\n") == "HD"
    assert r.cmd("mg s v c\r\n").endswith("X W")  # first fetch of a stale item wins
    r.line()
    assert r.cmd("mg s v\r\n").endswith("Z X")  # later ones see the win was sent
    r.line()
    assert r.cmd("mg v1 N30 v\r\n") == "VA 0 W"  # vivify on miss
    r.line()
    assert r.cmd("mg v1 N30 v\r\n") == "VA 0 Z"
    r.line()


def test_meta_base64_keys(mcd):
    r = mcd.raw()
    assert r.cmd("ms Zm9vYmFy 1 b\r\nx\r\n") == "HD"  # base64 of "foobar"
    r.send("get foobar\r\n")
    assert r.until_end() == (["VALUE foobar 0 1", "x"], "END")
    assert r.cmd("mg Zm9vYmFy b k v\r\n") == "VA 1 kZm9vYmFy b"
    r.line()
    assert r.cmd("mg !!!! b v\r\n") == "CLIENT_ERROR error decoding key"


def test_stats_names_and_counters(mcd):
    r = mcd.raw()
    r.cmd("set a 0 0 1\r\nx\r\n")
    r.send("get a b\r\n")
    r.until_end()
    st = r.stats()
    for name in ("pid", "uptime", "curr_connections", "total_connections",
                 "rejected_connections", "max_connections", "conn_yields",
                 "listen_disabled_num", "cmd_get", "cmd_set", "get_hits", "get_misses",
                 "bytes", "curr_items", "evictions", "limit_maxbytes", "threads",
                 "auth_cmds", "auth_errors", "auth_timeouts", "log_lines_suppressed"):
        assert name in st, name
    assert int(st["cmd_get"]) == 2 and int(st["get_hits"]) == 1 and int(st["get_misses"]) == 1
    assert int(st["curr_items"]) == 1
    assert int(st["limit_maxbytes"]) == 64 * 1024 * 1024
    assert r.cmd("stats nonsense\r\n") == "ERROR"
    settings = r.stats("settings")
    assert settings["item_size_max"] == str(1024 * 1024)


def test_connection_limit_rejects_with_memcached_error(procs):
    m = start_mcd(procs, "-c", "5")
    held = []
    # wait_port's probe connection may still be closing: retry the count briefly
    for _ in range(5):
        s = Raw(m.port)
        assert s.cmd("version\r\n").startswith("VERSION")
        held.append(s)
    extra = socket.create_connection(("127.0.0.1", m.port), timeout=5)
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = extra.recv(100)
        if not chunk:
            break
        data += chunk
    assert data == b"ERROR Too many open connections\r\n"
    assert extra.recv(100) == b""
    assert int(held[0].stats()["rejected_connections"]) >= 1
    for s in held:
        s.close()


def test_sigterm_exits_zero(procs):
    m = start_mcd(procs)
    r = m.raw()
    assert r.cmd("set a 0 0 1\r\nx\r\n") == "STORED"
    assert procs.stop(m.proc, signal.SIGTERM) == 0


def test_bad_option_is_a_clear_error():
    out = subprocess.run([binary("mcd"), "-p", "99999"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2
    assert "-p: '99999' is not a number from 1 to 65535" in out.stderr
    out = subprocess.run([binary("mcd"), "-U", "11211"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 2 and "UDP is not supported" in out.stderr


@pytest.mark.skipif(shutil.which("memccapable") is None, reason="memccapable not installed")
def test_memccapable_ascii_passes(mcd):
    out = subprocess.run(["memccapable", "-a", "-h", "127.0.0.1", "-p", str(mcd.port),
                          "-t", "10"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "All tests passed" in out.stdout


def test_a_multiget_reply_is_bounded(mcd):
    r = mcd.raw()
    big = b"b" * (1024 * 1024)
    r.send(b"set big 0 0 %d\r\n" % len(big) + big + b"\r\n")
    assert r.line() == "STORED"
    # 70 copies of a 1 MiB value would be a 70 MiB reply: refused, connection kept
    assert r.cmd("get " + " ".join(["big"] * 70) + "\r\n") == \
        "SERVER_ERROR out of memory writing get response"
    r.send("get big big\r\n")
    assert r.line() == "VALUE big 0 %d" % len(big)


def _cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(") ", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_largest_item_after_the_longest_command_line_is_stored_without_spinning(mcd):
    # A command line of the full 2048 bytes followed by a value of the full item
    # size is a valid request: it must be served, and the worker must not busy-loop
    # on a connection whose buffer is full (it did, at 100% CPU, forever).
    r = mcd.raw()
    size = 1024 * 1024
    line = b"set k 0 0 %d" % size
    line += b" " * (2048 - len(line)) + b"\r\n"
    r.send(line + b"v" * size + b"\r\n")
    assert r.line() == "STORED"
    r.send("get k\r\n")
    assert r.line() == "VALUE k 0 %d" % size
    assert r.read(size + 2) == b"v" * size + b"\r\n"
    assert r.line() == "END"
    r.close()
    before = _cpu_seconds(mcd.proc.pid)
    time.sleep(1.0)
    assert _cpu_seconds(mcd.proc.pid) - before < 0.5


def test_far_future_unix_exptime_keeps_the_item(mcd):
    # A Unix exptime far in the future must not overflow into "already expired".
    r = mcd.raw()
    far = 9999999999999999
    assert r.cmd("set k 0 %d 1\r\nx\r\n" % far) == "STORED"
    r.send("get k\r\n")
    assert r.until_end() == (["VALUE k 0 1", "x"], "END")
    assert r.cmd("touch k %d\r\n" % (2 ** 62 - 1)) == "TOUCHED"
    r.send("gat %d k\r\n" % (2 ** 61))
    assert r.until_end() == (["VALUE k 0 1", "x"], "END")
    r.send("get k\r\n")
    assert r.until_end() == (["VALUE k 0 1", "x"], "END")


def test_meta_get_miss_returns_opaque_and_key(mcd):
    # As memcached 1.6: a miss still carries O and k, so a pipelining client can
    # match it to its request.
    r = mcd.raw()
    assert r.cmd("mg missing v k O123\r\n") == "EN kmissing O123"
    assert r.cmd("mg bWlzc2luZw== b O7 k v\r\n") == "EN O7 kbWlzc2luZw== b"
    r.send("mg missing O9 q\r\nmn\r\n")
    assert r.line() == "MN"
    assert r.cmd("mg missing v\r\n") == "EN"


def test_out_of_range_item_size_in_the_config_is_a_clear_error(tmp_path):
    for value in ("0", "100", "8g"):
        cfg = tmp_path / "mcd.conf"
        cfg.write_text("[mcd]\nitem_size_max = %s\n" % value)
        out = subprocess.run([binary("mcd"), "-n", "-f", str(cfg)], capture_output=True,
                             text=True, timeout=10)
        assert out.returncode == 2, (value, out.stdout, out.stderr)
        assert "item_size_max" in out.stderr and ":2" in out.stderr, out.stderr
    cfg.write_text("[mcd]\nitem_size_max = 2m\n")
    out = subprocess.run([binary("mcd"), "-n", "-f", str(cfg)], capture_output=True,
                         text=True, timeout=10)
    assert out.returncode == 0, out.stderr
