"""mctl flush against real mcd nodes: a node, a cluster, one tenant, a node that is
down, confirmation on a terminal, and the flush event in the incident log."""
import json
import os
import pty
import select
import subprocess
import time

import pytest

from conftest import binary, free_port
from mcdtest import Raw, add_tenant, start_mcd


class Cluster:
    """Two running mcd nodes (n1, n2) and one configured but down (n3), with tenants
    acme and other, and an admin account ops."""

    def __init__(self, procs, tmp_path, admin_password=None):
        self.tmp = tmp_path
        self.tenants = tmp_path / "tenants"
        self.pw = {
            "acme": add_tenant(self.tenants, "acme"),
            "other": add_tenant(self.tenants, "other"),
            "ops": add_tenant(self.tenants, "ops", admin=True),
        }
        self.nodes = {
            "n1": start_mcd(procs, tenants=self.tenants, admin=True),
            "n2": start_mcd(procs, tenants=self.tenants, admin=True),
        }
        self.down_client, self.down_admin = free_port(), free_port()
        secret = tmp_path / "ops.pw"
        secret.write_text((admin_password or self.pw["ops"]) + "\n")
        self.db = tmp_path / "mcops.db"
        self.conf = tmp_path / "mcops.conf"
        lines = ["[cluster c1]", "title = Test C1", "admin_user = ops",
                 "admin_password_file = %s" % secret]
        for name, m in self.nodes.items():
            lines += ["[node %s]" % name, "cluster = c1",
                      "client = 127.0.0.1:%d" % m.port, "admin = 127.0.0.1:%d" % m.admin_port]
        lines += ["[node n3]", "cluster = c1", "client = 127.0.0.1:%d" % self.down_client,
                  "admin = 127.0.0.1:%d" % self.down_admin]
        self.conf.write_text("\n".join(lines) + "\n")

    def mctl(self, *args, stdin=subprocess.DEVNULL):
        argv = [binary("mctl"), "-f", str(self.conf), "--db", str(self.db)] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60, stdin=stdin)

    def conn(self, node, tenant):
        r = Raw(self.nodes[node].port)
        assert r.auth(tenant, self.pw[tenant]) == "STORED"
        return r

    def put(self, node, tenant, key):
        r = self.conn(node, tenant)
        assert r.cmd("set %s 0 0 1\r\nv\r\n" % key) == "STORED"
        r.close()

    def has(self, node, tenant, key):
        r = self.conn(node, tenant)
        r.send("get %s\r\n" % key)
        lines, end = r.until_end()
        r.close()
        assert end == "END"
        return len(lines) > 0 and lines[0].startswith("VALUE %s " % key)

    def fill(self):
        for node in self.nodes:
            for tenant in ("acme", "other"):
                self.put(node, tenant, "k")

    def open_incident(self):
        out = self.mctl("--json", "open", "--title", "Stale data in c1", "--severity", "major")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["id"]


@pytest.fixture
def cluster(procs, tmp_path):
    return Cluster(procs, tmp_path)


def flush_events(c, incident=None):
    """The flush events in the log (via export), newest last."""
    out = c.mctl("log", "export")
    assert out.returncode == 0, out.stderr
    evs = [json.loads(l) for l in out.stdout.splitlines()]
    return [e for e in evs if e["type"] == "flush" and (incident is None or e["incident"] == incident)]


def test_cluster_flush_of_one_tenant_goes_past_a_down_node(cluster):
    c = cluster
    c.fill()
    inc = c.open_incident()
    out = c.mctl("--yes", "flush", "--cluster", "c1", "--tenant", "acme", "--incident", str(inc),
                 "--timeout", "2s")
    assert out.returncode == 1, out.stdout + out.stderr
    # What it was about to do, then progress node by node, then the summary.
    assert "About to flush tenant 'acme' on 3 nodes of cluster c1:" in out.stdout
    assert "[1/3] n1 ... flushed" in out.stdout
    assert "[2/3] n2 ... flushed" in out.stdout
    assert "[3/3] n3 ... FAILED: 127.0.0.1:%d: connect: Connection refused" % c.down_admin in out.stdout
    assert "2 of 3 nodes flushed, SOME FAILED" in out.stdout
    # Only acme's items went, on both live nodes.
    for node in ("n1", "n2"):
        assert not c.has(node, "acme", "k")
        assert c.has(node, "other", "k")
    # The event: on the incident, with the actor, the targets and each outcome.
    evs = flush_events(c, inc)
    assert len(evs) == 1
    e = evs[0]
    assert e["actor"].startswith("mctl:")
    b = e["body"]
    assert b["scope"] == "cluster" and b["cluster"] == "c1" and b["tenant"] == "acme"
    assert [n["node"] for n in b["nodes"]] == ["n1", "n2", "n3"]
    assert [n["ok"] for n in b["nodes"]] == [True, True, False]
    assert "Connection refused" in b["nodes"][2]["error"]
    assert b["flushed"] == 2 and b["failed"] == 1
    shown = json.loads(c.mctl("--json", "show", str(inc)).stdout)
    assert [ev["type"] for ev in shown["events"]] == ["opened", "flush"]


def test_node_flush_of_all_tenants_in_json(cluster):
    c = cluster
    c.fill()
    out = c.mctl("--json", "--yes", "flush", "n1")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["scope"] == "node" and doc["tenant"] is None and doc["incident"] is None
    assert doc["failed"] == 0 and doc["flushed"] == 1
    assert doc["nodes"][0]["node"] == "n1" and doc["nodes"][0]["ok"] is True
    assert doc["event_id"] > 0
    # Progress went to stderr so that stdout is one JSON document.
    assert "About to flush ALL tenants on 1 node of cluster c1:" in out.stderr
    assert "[1/1] n1 ... flushed" in out.stderr
    assert not c.has("n1", "acme", "k") and not c.has("n1", "other", "k")
    assert c.has("n2", "acme", "k") and c.has("n2", "other", "k")
    assert len(flush_events(c)) == 1


def test_flush_of_the_down_node_alone_fails_with_exit_1(cluster):
    out = cluster.mctl("--yes", "flush", "n3", "--timeout", "1s")
    assert out.returncode == 1
    assert "0 of 1 nodes flushed, SOME FAILED" in out.stdout
    assert flush_events(cluster)[0]["body"]["failed"] == 1


def test_unknown_tenant_is_a_failure_on_every_node(cluster):
    c = cluster
    c.fill()
    out = c.mctl("--yes", "flush", "--cluster", "c1", "--tenant", "nosuch", "--timeout", "1s")
    assert out.returncode == 1
    assert out.stdout.count("CLIENT_ERROR no such tenant") == 2
    assert c.has("n1", "acme", "k")


def test_without_a_terminal_and_without_yes_nothing_is_flushed(cluster):
    c = cluster
    c.fill()
    out = c.mctl("flush", "--cluster", "c1")
    assert out.returncode == 2
    assert "not confirmed: standard input is not a terminal (use --yes)" in out.stderr
    assert c.has("n1", "acme", "k") and c.has("n2", "other", "k")
    assert flush_events(c) == []


def answer_on_terminal(c, answer, *args):
    """Runs mctl with a pseudo-terminal as stdin; types answer at the prompt."""
    master, slave = pty.openpty()
    argv = [binary("mctl"), "-f", str(c.conf), "--db", str(c.db)] + list(args)
    p = subprocess.Popen(argv, stdin=slave, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    os.close(slave)
    try:
        # The prompt goes to stderr; answer once mctl waits on the terminal.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and p.poll() is None:
            r, _, _ = select.select([p.stderr], [], [], 0.2)
            if r:
                break
        os.write(master, (answer + "\n").encode())
        out, err = p.communicate(timeout=30)
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
            p.wait()
    return p.returncode, out, err


def test_confirmation_on_a_terminal_decides(cluster):
    c = cluster
    c.fill()
    rc, out, err = answer_on_terminal(c, "no", "flush", "n1")
    assert rc == 1
    assert "Flush? Type 'yes' to go on:" in err
    assert "not confirmed; nothing was flushed" in err
    assert c.has("n1", "acme", "k")
    rc, out, err = answer_on_terminal(c, "yes", "flush", "n1", "--tenant", "other")
    assert rc == 0, err
    assert "[1/1] n1 ... flushed" in out
    assert c.has("n1", "acme", "k") and not c.has("n1", "other", "k")


def test_bad_targets_and_unknown_incident_flush_nothing(cluster):
    c = cluster
    c.fill()
    out = c.mctl("--yes", "flush", "n9")
    assert out.returncode == 2 and "no node 'n9'" in out.stderr
    out = c.mctl("--yes", "flush", "--cluster", "c9")
    assert out.returncode == 2 and "no cluster 'c9'" in out.stderr
    out = c.mctl("--yes", "flush", "n1", "--cluster", "c1")
    assert out.returncode == 2
    out = c.mctl("--yes", "flush", "n1", "--tenant", "bad name")
    assert out.returncode == 2 and "invalid tenant name" in out.stderr
    out = c.mctl("--yes", "flush", "n1", "--incident", "42")
    assert out.returncode == 1 and "no incident 42; nothing was flushed" in out.stderr
    assert c.has("n1", "acme", "k")
    # An incident log that cannot be opened: no unaudited flush.
    argv = [binary("mctl"), "-f", str(c.conf), "--db", str(c.tmp / "missing" / "x.db"),
            "--yes", "flush", "n1"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert out.returncode == 3 and "cannot open the incident log" in out.stderr
    assert c.has("n1", "acme", "k")


def test_wrong_admin_password_fails_each_node(procs, tmp_path):
    c = Cluster(procs, tmp_path, admin_password="not-the-password")
    c.fill()
    out = c.mctl("--yes", "flush", "--cluster", "c1", "--timeout", "1s")
    assert out.returncode == 1
    assert out.stdout.count("authentication as 'ops' failed") == 2
    assert "not-the-password" not in out.stdout + out.stderr
    assert c.has("n1", "acme", "k")


def test_broken_configuration_is_exit_3(cluster):
    c = cluster
    c.conf.write_text("[node n1]\ncluster = nope\nclient = 127.0.0.1:1\n")
    out = c.mctl("--yes", "flush", "n1")
    assert out.returncode == 3
    assert "unknown cluster 'nope'" in out.stderr
