"""mctl on a cluster of proxies in front of backends: rebalance and drain act on the
proxies, a flush on the backends only, a node of the wrong layer is a usage error
that names the right one, and conns and status show each node's role."""
import json
import sqlite3
import subprocess
import time

import pytest

from conftest import binary, free_port, wait_port
from mcdtest import Raw, add_tenant, start_mcd
from mcmontest import FAST, wait_for


class Tier:
    """Cluster c1: backends n1, n2, n3 behind proxies p1, p2 (mcd --proxy), one
    tenants file for all of them with tenants acme and other, the admin account ops,
    the proxies' account proxy and the monitor's probe."""

    def __init__(self, procs, tmp_path):
        self.procs = procs
        self.tenants = tmp_path / "tenants"
        accounts = (("acme", {}), ("other", {}), ("ops", {"admin": True}),
                    ("proxy", {"caps": "proxy"}), ("probe", {"limit": "1M"}))
        self.pw = {name: add_tenant(self.tenants, name, **kw) for name, kw in accounts}
        for name in ("ops", "proxy", "probe"):
            (tmp_path / f"{name}.pw").write_text(self.pw[name] + "\n")
        self.backends = {n: start_mcd(procs, tenants=self.tenants, admin=True)
                         for n in ("n1", "n2", "n3")}
        proxy_file = tmp_path / "proxy-c1.conf"
        proxy_file.write_text("[proxy]\n" + "".join(
            f"backend = 127.0.0.1:{m.port}:1 {n}\n" for n, m in self.backends.items()) +
            f"account = proxy\npassword_file = {tmp_path / 'proxy.pw'}\n")
        self.proxies = {p: start_mcd(procs, "--proxy", str(proxy_file),
                                     tenants=self.tenants, admin=True)
                        for p in ("p1", "p2")}
        self.db = tmp_path / "mcops.db"
        self.state = tmp_path / "mcmon.json"
        self.metrics_port = free_port()
        self.conf = tmp_path / "mcops.conf"
        lines = ["[log]", f"path = {self.db}", "[monitor]",
                 f"metrics_listen = 127.0.0.1:{self.metrics_port}",
                 f"state_file = {self.state}"]
        lines += [f"{k} = {v}" for k, v in FAST.items()]
        lines += ["[cluster c1]", "title = Test C1", "admin_user = ops",
                  f"admin_password_file = {tmp_path / 'ops.pw'}", "probe_user = probe",
                  f"probe_password_file = {tmp_path / 'probe.pw'}"]
        for role, members in (("proxy", self.proxies), ("node", self.backends)):
            for name, m in members.items():
                lines += [f"[{role} {name}]", "cluster = c1",
                          f"client = 127.0.0.1:{m.port}", f"admin = 127.0.0.1:{m.admin_port}"]
        self.conf.write_text("\n".join(lines) + "\n")

    def mctl(self, *args):
        argv = [binary("mctl"), "-f", str(self.conf), "--db", str(self.db)] + list(args)
        return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    def client(self, proxy, tenant="acme"):
        """A client of tenant logged in through proxy."""
        r = Raw(self.proxies[proxy].port)
        assert r.auth(tenant, self.pw[tenant]) == "STORED"
        return r

    def admin(self, name):
        m = self.proxies.get(name) or self.backends[name]
        a = Raw(m.admin_port)
        assert a.auth("ops", self.pw["ops"]) == "STORED"
        return a

    def proxy_clients(self, proxy):
        a = self.admin(proxy)
        n = int(a.stats("proxy")["client_connections"])
        a.close()
        return n

    def open_incident(self):
        out = self.mctl("--json", "open", "--title", "Storm on c1's proxies", "--severity",
                        "major")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["id"]

    def events(self, kind):
        out = self.mctl("log", "export")
        assert out.returncode == 0, out.stderr
        return [e for e in map(json.loads, out.stdout.splitlines()) if e["type"] == kind]


@pytest.fixture
def tier(procs, tmp_path):
    return Tier(procs, tmp_path)


def test_rebalance_of_a_cluster_sheds_from_the_busiest_proxy_only(tier):
    held = [tier.client("p1") for _ in range(20)]
    inc = tier.open_incident()
    out = tier.mctl("--json", "--yes", "rebalance", "--cluster", "c1", "--incident", str(inc))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "About to rebalance client connections on 2 proxies of cluster c1:" in out.stderr
    doc = json.loads(out.stdout)
    # The proxies take the clients; the backends' connections are the proxies' own.
    assert [(n["node"], n["role"]) for n in doc["nodes"]] == [("p1", "proxy"), ("p2", "proxy")]
    by = {n["node"]: n for n in doc["nodes"]}
    assert (by["p1"]["connections"], by["p1"]["shed"]) == (20, 10)
    assert (by["p2"]["connections"], by["p2"]["shed"]) == (0, 0)
    deadline = time.monotonic() + 30
    while tier.proxy_clients("p1") > 10:
        assert time.monotonic() < deadline, "p1 still holds more than the mean"
        time.sleep(0.1)
    # The shed clients reconnect elsewhere: p2 takes them.
    moved = [tier.client("p2") for _ in range(10)]
    assert tier.proxy_clients("p2") == 10
    evs = tier.events("rebalance")
    assert len(evs) == 1 and evs[0]["incident"] == inc
    assert [n["node"] for n in evs[0]["body"]["nodes"]] == ["p1", "p2"]
    for r in held + moved:
        r.close()


def test_drain_of_a_proxy_refuses_its_new_clients_while_the_other_serves(tier):
    inc = tier.open_incident()
    out = tier.mctl("--yes", "drain", "p1", "on", "--incident", str(inc))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "About to turn draining ON on 1 proxy of cluster c1:" in out.stdout
    assert "[1/1] p1 ... draining on" in out.stdout
    r = Raw(tier.proxies["p1"].port)
    assert r.line() == "SERVER_ERROR node is draining"
    r.close()
    c = tier.client("p2")
    assert c.cmd("set k 0 0 1\r\nv\r\n") == "STORED"
    c.close()
    doc = json.loads(tier.mctl("--json", "conns", "p1").stdout)
    assert doc["nodes"][0]["accepting"] is False
    out = tier.mctl("drain", "p1", "off")
    assert out.returncode == 0, out.stderr
    tier.client("p1").close()
    evs = tier.events("drain")
    assert [(e["body"]["drain"], e["incident"]) for e in evs] == [("on", inc), ("off", None)]
    assert evs[0]["body"]["nodes"][0]["role"] == "proxy"


def test_flush_of_a_tenant_on_a_cluster_goes_to_its_backends_only(tier):
    c = tier.client("p1", "acme")
    o = tier.client("p2", "other")
    for i in range(10):
        assert c.cmd(f"set a{i} 0 0 1\r\nv\r\n") == "STORED"
        assert o.cmd(f"set b{i} 0 0 1\r\nv\r\n") == "STORED"
    out = tier.mctl("--json", "--yes", "flush", "--cluster", "c1", "--tenant", "acme")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "About to flush tenant 'acme' on 3 backends of cluster c1:" in out.stderr
    doc = json.loads(out.stdout)
    assert [(n["node"], n["role"], n["ok"]) for n in doc["nodes"]] == [
        ("n1", "backend", True), ("n2", "backend", True), ("n3", "backend", True)]
    # Through either proxy: acme's keys are gone, other's are all there.
    c.send("get " + " ".join(f"a{i}" for i in range(10)) + "\r\n")
    assert c.until_end() == ([], "END")
    o.send("get " + " ".join(f"b{i}" for i in range(10)) + "\r\n")
    lines, end = o.until_end()
    assert end == "END" and len([l for l in lines if l.startswith("VALUE")]) == 10
    c.close()
    o.close()


def test_a_node_of_the_wrong_layer_is_refused_with_the_right_names(tier):
    out = tier.mctl("--yes", "flush", "p1")
    assert out.returncode == 2
    assert ("flush: p1 is a proxy of cluster c1 and holds no data: flush a backend "
            "(n1, n2, n3) or --cluster c1") in out.stderr
    for verb, args in (("drain", ("n1", "on")), ("rebalance", ("n2",))):
        out = tier.mctl("--yes", verb, *args)
        assert out.returncode == 2, out.stdout + out.stderr
        assert (f"{verb}: {args[0]} is a backend of cluster c1, whose clients connect to "
                "its proxies (p1, p2): name a proxy, or --cluster c1") in out.stderr
    for kind in ("flush", "drain", "rebalance"):
        assert tier.events(kind) == []
    a = tier.admin("n1")
    assert a.stats()["accepting_conns"] == "1"
    a.close()


def test_conns_shows_each_proxy_clients_and_its_backends(tier):
    held = [tier.client("p2") for _ in range(3)]
    out = tier.mctl("--json", "conns", "--cluster", "c1")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["cluster"] == "c1"
    rows = {n["name"]: n for n in doc["nodes"]}
    assert [n["name"] for n in doc["nodes"]] == ["p1", "p2", "n1", "n2", "n3"]
    assert [rows[p]["clients"] for p in ("p1", "p2")] == [0, 3]
    for p in ("p1", "p2"):
        assert rows[p]["role"] == "proxy" and rows[p]["accepting"] is True
        assert (rows[p]["backends"], rows[p]["backends_up"]) == (3, 3)
    for n in ("n1", "n2", "n3"):
        assert rows[n]["role"] == "backend" and "backend_connections" not in rows[n]
    human = tier.mctl("conns", "--cluster", "c1").stdout.splitlines()
    assert human[0] == "cluster c1 (Test C1): 2 proxies, 3 backends"
    assert human[3].split()[:5] == ["p2", "proxy", f"127.0.0.1:{tier.proxies['p2'].admin_port}",
                                    "3", "yes"]
    # One that cannot be asked fails the command, its row saying why.
    tier.procs.stop(tier.backends["n3"].proc)
    out = tier.mctl("--json", "conns", "--cluster", "c1", "--timeout", "2s")
    assert out.returncode == 1
    rows = {n["name"]: n for n in json.loads(out.stdout)["nodes"]}
    assert rows["n3"]["ok"] is False and "refused" in rows["n3"]["error"]
    for r in held:
        r.close()


def test_conns_needs_one_target(tier):
    out = tier.mctl("conns", "--cluster", "c1", "p1")
    assert out.returncode == 2 and "give one of --port, --pid, --cluster or a name" in out.stderr
    out = tier.mctl("conns", "p9")
    assert out.returncode == 1 and "no node 'p9'" in out.stderr


def test_status_shows_the_proxies_before_the_backends_with_their_role(tier):
    mcmon = tier.procs.start([binary("mcmon"), "-f", str(tier.conf)], name="mcmon")
    wait_port(tier.metrics_port, proc=mcmon)

    def viewed():
        try:
            return len(json.loads(tier.state.read_text())["nodes"]) == 5
        except (FileNotFoundError, json.JSONDecodeError, KeyError):
            return False
    wait_for("a view of the five", viewed, 30)
    out = tier.mctl("--json", "status")
    assert out.returncode == 0, out.stderr
    roles = {n["name"]: n["role"] for n in json.loads(out.stdout)["nodes"]}
    assert roles == {"p1": "proxy", "p2": "proxy", "n1": "backend", "n2": "backend",
                     "n3": "backend"}
    out = tier.mctl("status")
    rows = [l.split()[:3] for l in out.stdout.splitlines()[2:7]]
    assert [r[0] for r in rows] == ["p1", "p2", "n1", "n2", "n3"]
    assert [r[2] for r in rows] == ["proxy"] * 2 + ["backend"] * 3
    tier.procs.stop(mcmon)


TOO_MANY = "SERVER_ERROR too many connections for this account"


def held_logins(tier, proxy, tenant, n):
    """n connections of tenant through proxy, each logged in and kept open, and the
    reply to one more."""
    held = [tier.client(proxy, tenant) for _ in range(n)]
    extra = Raw(tier.proxies[proxy].port)
    reply = extra.auth(tenant, tier.pw[tenant])
    for r in held + [extra]:
        r.close()
    return reply


def test_tenant_connlimit_with_a_cluster_reloads_its_proxies_which_enforce_it(tier):
    path = str(tier.tenants)
    before = tier.tenants.read_text()
    # A cluster that is not there: a usage error, and the file is as it was.
    r = tier.mctl("tenant", "connlimit", "acme", "--max-connections", "2", "--cluster", "c9",
                  "--file", path)
    assert r.returncode == 2 and "no cluster 'c9'" in r.stderr, r.stderr
    assert "nothing was changed" in r.stderr and tier.tenants.read_text() == before
    out = tier.mctl("--json", "open", "--title", "Storm on c1", "--severity", "major",
                    "--cluster", "c1")
    inc = json.loads(out.stdout)["id"]

    r = tier.mctl("tenant", "connlimit", "acme", "--max-connections", "2", "--cluster", "c1",
                  "--file", path, "--incident", str(inc))
    assert r.returncode == 0, r.stderr
    # The proxies take c1's clients: they are reloaded, in the configuration's order.
    assert "[1/2] p1 ... reloaded (" in r.stdout and "[2/2] p2 ... reloaded (" in r.stdout
    assert "Reloaded 2 of 2 nodes of cluster c1: the limits apply now.\n" in r.stdout
    assert "SIGHUP" not in r.stdout, r.stdout
    # Each proxy admits two of acme's connections and refuses a third; other is free.
    for proxy in ("p1", "p2"):
        assert held_logins(tier, proxy, "acme", 2) == TOO_MANY
        assert held_logins(tier, proxy, "other", 3) == "STORED"
    con = sqlite3.connect(str(tier.db), timeout=10)
    try:
        rows = con.execute("SELECT actor, body_json FROM events WHERE incident_id = ? AND"
                           " type = 'connlimit'", (inc,)).fetchall()
    finally:
        con.close()
    assert len(rows) == 1 and rows[0][0].startswith("mctl:")
    body = json.loads(rows[0][1])
    assert (body["scope"], body["cluster"], body["tenant"], body["applied"]) == (
        "cluster", "c1", "acme", True)
    assert [(n["node"], n["ok"]) for n in body["nodes"]] == [("p1", True), ("p2", True)]


def test_tenant_connlimit_says_which_node_it_could_not_reload_and_exits_1(tier, procs):
    procs.stop(tier.proxies["p2"].proc)
    r = tier.mctl("--json", "tenant", "connlimit", "acme", "--new-per-second", "5",
                  "--cluster", "c1", "--file", str(tier.tenants))
    assert r.returncode == 1, r.stderr
    assert "[1/2] p1 ... reloaded (" in r.stderr and "[2/2] p2 ... FAILED: " in r.stderr
    doc = json.loads(r.stdout)
    assert (doc["new_per_second"], doc["cluster"], doc["reloaded"], doc["failed"]) == (
        5, "c1", 1, 1)
    # The file was changed all the same: p2 reads it when it starts again.
    out = tier.mctl("--json", "tenant", "list", "--file", str(tier.tenants))
    acme = [t for t in json.loads(out.stdout)["tenants"] if t["name"] == "acme"][0]
    assert acme["new_per_second"] == 5
