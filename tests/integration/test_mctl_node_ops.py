"""mctl drain and mctl rebalance against real mcd nodes (two up, one down), each
recorded as an event in the incident log."""
import json
import socket
import time

from mcdtest import Raw
from test_mctl_flush import Cluster, cluster  # noqa: F401  (fixture)


def events(c, kind):
    out = c.mctl("log", "export")
    assert out.returncode == 0, out.stderr
    return [e for e in map(json.loads, out.stdout.splitlines()) if e["type"] == kind]


def admin_stats(c, node):
    a = Raw(c.nodes[node].admin_port)
    assert a.auth("ops", c.pw["ops"]) == "STORED"
    st = a.stats()
    a.close()
    return st


def test_drain_refuses_new_clients_and_off_accepts_again(cluster):
    c = cluster
    inc = c.open_incident()
    out = c.mctl("--yes", "drain", "n1", "on", "--incident", str(inc))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "About to turn draining ON on 1 node of cluster c1:" in out.stdout
    assert "[1/1] n1 ... draining on" in out.stdout
    s = socket.create_connection(("127.0.0.1", c.nodes["n1"].port), timeout=5)
    assert s.recv(100) == b"SERVER_ERROR node is draining\r\n"
    c.conn("n2", "acme").close()  # the other node still serves
    assert admin_stats(c, "n1")["accepting_conns"] == "0"
    out = c.mctl("drain", "n1", "off")  # no confirmation needed to accept again
    assert out.returncode == 0, out.stderr
    c.conn("n1", "acme").close()
    evs = events(c, "drain")
    assert [e["body"]["drain"] for e in evs] == ["on", "off"]
    assert evs[0]["incident"] == inc and evs[1]["incident"] is None


def test_drain_needs_on_or_off_and_confirmation(cluster):
    c = cluster
    out = c.mctl("drain", "n1")
    assert out.returncode == 2 and "drain: say on or off" in out.stderr
    out = c.mctl("drain", "n1", "on")  # no terminal, no --yes
    assert out.returncode == 2 and "not confirmed" in out.stderr
    assert admin_stats(c, "n1")["accepting_conns"] == "1"


def test_rebalance_closes_connections_above_the_cluster_mean(cluster):
    c = cluster
    held = [c.conn("n1", "acme") for _ in range(30)]
    out = c.mctl("--json", "--yes", "rebalance", "--cluster", "c1", "--timeout", "2s")
    assert out.returncode == 1, out.stdout + out.stderr  # n3 is down
    doc = json.loads(out.stdout)
    by = {n["node"]: n for n in doc["nodes"]}
    assert by["n1"]["connections"] == 30 and by["n1"]["shed"] == 15 and by["n1"]["ok"]
    assert by["n2"]["connections"] == 0 and by["n2"]["shed"] == 0 and by["n2"]["ok"]
    assert not by["n3"]["ok"] and "refused" in by["n3"]["error"]
    deadline = time.monotonic() + 30
    while int(admin_stats(c, "n1")["curr_connections"]) > 16:  # 15 left + this admin one
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert len(events(c, "rebalance")) == 1
    for r in held:
        r.close()


def test_rebalance_with_shed_closes_that_many(cluster):
    c = cluster
    held = [c.conn("n2", "other") for _ in range(10)]
    out = c.mctl("--yes", "rebalance", "n2", "--shed", "4")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "[1/1] n2 ... closing 4 connections" in out.stdout
    deadline = time.monotonic() + 30
    while int(admin_stats(c, "n2")["curr_connections"]) > 7:  # 6 left + the admin one
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert c.mctl("rebalance", "n2", "--shed", "0").returncode == 2
    for r in held:
        r.close()
