"""mcd's proxy role when a backend fails: a dead backend's keys miss (reads) or are
refused (writes) while every other key is served; the proxy marks it down, retries it
and uses it again once it is back on its port; with eject its keys go to the next
backend on the ring; a reload keeps a down backend down and can move one by name; a
backend that stops answering in the middle of a multi-get costs only its own keys, and
its late replies reach no one else; a full backend queue refuses at once; a dead backend
costs a few log lines, not one per request.

Three backend mcd processes and a proxy (proxytest.Pool), short retry timers; every
wait is a bounded poll of the proxy's `stats backends`, never a sleep."""
import os
import signal

import pytest

from conftest import free_port
from mcmontest import wait_for
from proxytest import UNAVAILABLE, Pool, multiget, set_all, start_pool, stop_checked
from test_proxy_safety import stop_process

TIMEOUT_REPLY = "SERVER_ERROR backend timeout"
QUEUE_FULL = "SERVER_ERROR backend queue full"


@pytest.fixture(autouse=True)
def exits_cleanly(procs):
    """The proxy is still running at the end, and it and every backend left stop on
    SIGTERM with status 0 and no sanitizer report."""
    yield
    assert stop_checked(procs) == []


def values(r, keys):
    """[(key, value)] a multi-get of keys answers, in its order."""
    return [(k, v) for k, v, _ in multiget(r, "get", keys)]


def misses(r, keys):
    """A poke for wait_state: keys of a failing backend read as misses, never an error."""
    def poke():
        assert multiget(r, "get", keys) == []
    return poke


def log_lines_since(pool, offset):
    return pool.log()[offset:].splitlines()


def test_a_dead_backends_keys_miss_and_refuse_writes_until_it_is_back(procs, tmp_path):
    pool = start_pool(procs, tmp_path, eject="no")
    b1, b2, b3 = pool.backends
    dead = pool.keys_on("b2", 10, prefix="f")
    live = pool.keys_on("b1", 5, prefix="f") + pool.keys_on("b3", 5, prefix="f")
    r = pool.client()
    set_all(r, dead + live)
    assert len(values(r, dead + live)) == 20
    log_at_kill = len(pool.log())

    pool.kill_backend(b2)
    pool.wait_state(b2, "down", poke=misses(r, dead[:1]))
    # Reads of its keys miss, writes are refused, with the spec's words.
    assert multiget(r, "get", dead) == []
    assert multiget(r, "gets", dead) == []
    assert r.cmd("mg %s v\r\n" % dead[0]) == "EN"
    k = dead[1]
    for req in ("set %s 0 0 1\r\nx\r\n", "add %s 0 0 1\r\nx\r\n", "replace %s 0 0 1\r\nx\r\n",
                "append %s 0 0 1\r\nx\r\n", "prepend %s 0 0 1\r\nx\r\n",
                "cas %s 0 0 1 1\r\nx\r\n", "delete %s\r\n", "incr %s 1\r\n", "decr %s 1\r\n",
                "touch %s 10\r\n", "ms %s 1\r\nx\r\n", "md %s\r\n", "ma %s\r\n"):
        assert r.cmd(req % k) == UNAVAILABLE, req
    # Quiet forms: noreply hides the failure as it hides every reply; meta's q hides the
    # miss but not the error.
    r.send("set %s 0 0 1 noreply\r\nx\r\nmg %s v q\r\nms %s 1 q\r\nx\r\nmn\r\n"
           % (k, k, k))
    assert [r.line(), r.line()] == [UNAVAILABLE, "MN"]
    # Everyone else's keys are untouched, also inside a multi-get that mixes both.
    assert values(r, live) == [(k, k) for k in live]
    mixed = [k for pair in zip(dead, live) for k in pair]
    assert values(r, mixed) == [(k, k) for k in mixed if k in live]
    assert r.cmd("set %s 0 0 2\r\nok\r\n" % live[0]) == "STORED"
    assert r.cmd("flush_all\r\n").startswith("SERVER_ERROR")  # not every backend flushed
    set_all(r, live)
    a = pool.admin()
    st = pool.backend_stats(a)
    assert (st["b1"]["state"], st["b2"]["state"], st["b3"]["state"]) == ("up", "down", "up")
    assert st["b2"]["down_since"] != "0"
    assert pool.proxy_stats(a)["backends_up"] == "2"
    assert int(pool.proxy_stats(a)["fast_failures"]) > 0

    # Back on its own port: the proxy retries it and uses it again.
    pool.start_backend(b2)
    pool.wait_state(b2, "up", poke=misses(r, dead[:1]))  # a new, empty b2
    assert r.cmd("set %s 0 0 2\r\nok\r\n" % dead[0]) == "STORED"
    assert pool.held(b2, [dead[0]]) == {dead[0]: "ok"}
    assert values(r, [dead[0], live[1]]) == [(dead[0], "ok"), (live[1], live[1])]
    st = pool.backend_stats(a)["b2"]
    assert int(st["retries"]) >= 1
    # One line when it went down, one when it came back; no line per failed request.
    lines = log_lines_since(pool, log_at_kill)
    assert 2 <= len(lines) <= 4, lines
    assert all("b2" in line or ":%d" % b2.port in line for line in lines), lines
    # The line saying it is back counts the requests that failed fast meanwhile.
    assert " %s " % st["fast_failures"] in lines[-1], (st["fast_failures"], lines[-1])


def test_gat_of_a_dead_backends_key_is_a_miss_as_every_read(procs, tmp_path):
    # The spec lists gat with get, gets and mg: a read, so a miss (END), not an error.
    pool = start_pool(procs, tmp_path, eject="no")
    b2 = pool.backend("b2")
    dead, live = pool.keys_on("b2", 1, prefix="g")[0], pool.keys_on("b1", 1, prefix="g")[0]
    r = pool.client()
    set_all(r, [dead, live])
    pool.kill_backend(b2)
    pool.wait_state(b2, "down", poke=misses(r, [dead]))
    assert r.cmd("gat 100 %s\r\n" % dead) == "END"
    assert r.cmd("gats 100 %s\r\n" % dead) == "END"
    r.send("gat 100 %s %s\r\n" % (dead, live))
    assert r.until_end() == (["VALUE %s 0 %d" % (live, len(live)), live], "END")


def test_with_eject_a_dead_backends_keys_go_to_the_next_backend_on_the_ring(procs, tmp_path):
    pool = start_pool(procs, tmp_path, eject="yes")
    b1, b2, b3 = pool.backends
    moved = pool.keys_on("b2", 40, prefix="e")
    stay = pool.keys_on("b1", 10, prefix="e") + pool.keys_on("b3", 10, prefix="e")
    r = pool.client()
    set_all(r, stay)
    pool.kill_backend(b2)
    pool.wait_state(b2, "down", poke=misses(r, moved[:1]))
    set_all(r, moved)  # stored, not refused
    assert values(r, moved + stay) == [(k, k) for k in moved + stay]
    # Where nutcracker (auto_eject_hosts) puts them: the ring without b2.
    placed = pool.placement(moved, backends=[b1, b3])
    for b in (b1, b3):
        want = {k: k for k in moved if placed[k] == b.name}
        assert want and pool.held(b, moved) == want, b.name
    assert set(pool.held(b1, stay)) | set(pool.held(b3, stay)) == set(stay)
    # Once b2 is back (retried on a request for one of its keys) its keys go to it again.
    pool.start_backend(b2)
    pool.wait_state(b2, "up", poke=lambda: multiget(r, "get", moved[:1]))
    set_all(r, moved[:5], value="back")
    assert pool.held(b2, moved[:5]) == {k: "back" for k in moved[:5]}


def test_a_reload_readdresses_a_backend_by_name_and_keeps_a_down_one_down(procs, tmp_path):
    pool = start_pool(procs, tmp_path)
    b1, b2, b3 = pool.backends
    keys = pool.keys_on("b2", 20, prefix="mv")
    r = pool.client()
    set_all(r, keys)
    # b2 moves to a new process on another port, under the same name: same keys.
    b2.port = free_port()
    pool.start_backend(b2)
    # b3 dies and is down before the reload.
    pool.kill_backend(b3)
    k3 = pool.keys_on("b3", 1, prefix="mv")
    pool.wait_state(b3, "down", poke=misses(r, k3))
    pool.write_proxy_file()
    pool.reload()
    a = pool.admin()
    wait_for("the reload", lambda: pool.proxy_stats(a)["reloads"] == "1", 30)
    st = pool.backend_stats(a)
    assert st["b2"]["addr"] == "127.0.0.1:%d" % b2.port
    assert st["b3"]["state"] == "down"  # same name, address and weight: same health
    assert r.cmd("set %s 0 0 1\r\nx\r\n" % k3[0]) == UNAVAILABLE
    assert multiget(r, "get", keys) == []  # the new b2 is empty
    set_all(r, keys, value="moved")
    assert pool.held(b2, keys) == {k: "moved" for k in keys}


@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_a_backend_failing_under_a_multiget_costs_only_its_own_keys(procs, tmp_path, how):
    # A short deadline (with room for a loaded machine): a stopped backend's share of
    # the multi-get times out.
    pool = start_pool(procs, tmp_path, timeout=1000)
    b2 = pool.backend("b2")
    keys = ["mid:%d" % i for i in range(100)]
    placed = pool.placement(keys)
    r = pool.client()
    set_all(r, keys)
    assert len(values(r, keys)) == 100  # every backend connection is in use
    others = [k for k in keys if placed[k] != "b2"]
    assert 0 < len(others) < 100

    if how == "killed":
        pool.kill_backend(b2)
        assert values(r, keys) == [(k, k) for k in others]
        assert int(pool.backend_stats()["b2"]["errors"]) >= 1
        return
    stop_process(b2.mcd.proc.pid)
    try:
        assert values(r, keys) == [(k, k) for k in others]
        reply = r.cmd("set %s 0 0 1\r\nx\r\n" % pool.keys_on("b2", 1, prefix="midw")[0])
        assert reply in (TIMEOUT_REPLY, UNAVAILABLE)  # unavailable once marked down
        a = pool.admin()
        assert int(pool.backend_stats(a)["b2"]["timeouts"]) >= 1
        assert int(pool.proxy_stats(a)["timeouts"]) >= 1
    finally:
        os.kill(b2.mcd.proc.pid, signal.SIGCONT)
    # b2 now sends the replies it owed; the proxy must not take them for the answers to
    # later requests: once it is used again, every key reads as its own value.
    def right_values():
        got = values(r, keys)
        assert all(k == v for k, v in got), got
    pool.wait_state(b2, "up", poke=right_values)
    assert values(r, keys) == [(k, k) for k in keys]


def test_replies_owed_to_a_client_that_left_go_nowhere(procs, tmp_path):
    pool = start_pool(procs, tmp_path, timeout=5000)
    b2 = pool.backend("b2")
    keys = pool.keys_on("b2", 20, prefix="gone")
    r = pool.client()
    set_all(r, keys)
    stop_process(b2.mcd.proc.pid)
    try:
        leaver = pool.client()
        leaver.send("".join("get %s\r\n" % k for k in keys) + "get %s\r\n" % " ".join(keys))
        a = pool.admin()
        # Synchronised by the proxy's count: the requests are on b2's connection.
        wait_for("requests outstanding on b2",
                 lambda: int(pool.backend_stats(a)["b2"]["outstanding"]) > 0, 30, step=0.02)
        leaver.close()
    finally:
        os.kill(b2.mcd.proc.pid, signal.SIGCONT)
    # b2 answers the requests of a client that is gone; another client's requests, on
    # the same backend connections, get their own replies.
    for k in keys:
        assert r.cmd("get %s\r\n" % k) == "VALUE %s 0 %d" % (k, len(k))
        assert r.line() == k and r.line() == "END"
    assert values(r, keys) == [(k, k) for k in keys]


def test_a_full_backend_queue_refuses_at_once(procs, tmp_path):
    # One worker, four outstanding requests per backend; b2 stopped so none completes
    # before the rest of the pipeline is read; a failure limit it cannot reach here.
    pool = start_pool(procs, tmp_path, threads=1, queue_limit=4, timeout=1000,
                      failure_limit=100)
    b2 = pool.backend("b2")
    keys = pool.keys_on("b2", 11, prefix="qf")
    r = pool.client()
    set_all(r, keys[:1])
    stop_process(b2.mcd.proc.pid)
    try:
        r.send("".join("set %s 0 0 1\r\nx\r\n" % k for k in keys[:10]) +
               "get %s\r\n" % keys[10])
        replies = read_lines(r, 11)
    finally:
        os.kill(b2.mcd.proc.pid, signal.SIGCONT)
    # In the client's order: the four that were sent time out, the rest were refused.
    assert replies == [TIMEOUT_REPLY] * 4 + [QUEUE_FULL] * 6 + ["END"]
    a = pool.admin()
    assert pool.proxy_stats(a)["queue_refusals"] == "7"
    assert int(pool.proxy_stats(a)["timeouts"]) >= 1
    # Other backends were never concerned.
    other = pool.keys_on("b1", 1, prefix="qf")
    set_all(r, other)


def test_a_dead_backend_costs_a_few_log_lines_not_one_per_request(procs, tmp_path):
    pool = Pool(procs, tmp_path)
    pool.add_backend()
    dead = pool.add_backend(start=False)  # a closed port from the start
    pool.add_backend()
    pool.start_proxy()
    keys = pool.keys_on(dead.name, 500, prefix="lg")
    r = pool.client()
    total, batch = 100000, 1000
    for start in range(0, total, batch):
        reqs = []
        for i in range(start, start + batch):
            k = keys[i % len(keys)]
            reqs.append("get %s\r\n" % k if i % 2 else "set %s 0 0 1\r\nx\r\n" % k)
        r.send("".join(reqs))
        replies = read_lines(r, batch)
        assert set(replies[0::2]) == {UNAVAILABLE}, set(replies[0::2])  # the sets
        assert set(replies[1::2]) == {"END"}, set(replies[1::2])       # the gets
    log = pool.log()
    assert len(log.splitlines()) < 20, log
    assert dead.name in log  # its state change is logged, with its name
    a = pool.admin()
    st = pool.backend_stats(a)[dead.name]
    assert st["state"] == "down"
    # Every one of the requests is counted on the backend it was for: tried and failed,
    # or failed fast while it was down; none was answered.
    assert int(st["requests"]) + int(st["fast_failures"]) == total, st
    assert st["replies"] == "0" and int(st["errors"]) >= 2, st
    assert pool.proxy_stats(a)["fast_failures"] == st["fast_failures"]


def read_lines(r, n):
    """n reply lines from a raw connection, read in bulk (a 1,000-reply batch is ~30 KB)."""
    while r.buf.count(b"\r\n") < n:
        chunk = r.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed after %d lines" % r.buf.count(b"\r\n"))
        r.buf += chunk
    parts = r.buf.split(b"\r\n", n)
    r.buf = parts[n] if len(parts) > n else b""
    return [p.decode("latin1") for p in parts[:n]]
