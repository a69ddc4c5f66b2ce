"""An incident's impact on customers (issue 19), against real mcd nodes: three backends
behind three `mcd --proxy` proxies sharing a tenants file, six tenants holding
authenticated connections through two of the proxies (p1: t0..t3, p2: t2..t5), none
through p3. When p1 stops, its node_down's evidence says how many of the cluster's
connected tenants it touched (counts only), and the status site says "about 70% of
caches in ..." (4 of 6, rounded to 10 points) in the incident's JSON and its first
update, with no tenant's name anywhere public. Every wait is bounded; every process is
stopped by pid."""
import pytest

from mcdtest import Raw, add_tenant
from mcmontest import Deployment, wait_for
from sptest import assert_no_secrets, check_all_json, mctl
from test_mcmon_proxy import polls_ok, proxy_sections, start_mcd_proxy

TENANTS = [f"tenant-acme-secret-{i}" for i in range(6)]  # planted: never public
ON = {"p1": TENANTS[0:4], "p2": TENANTS[2:6], "p3": []}


@pytest.fixture
def dep(procs, tmp_path):
    d = Deployment(procs, tmp_path)
    yield d
    if d.mcmon is not None and d.mcmon.poll() is None:
        d.stop_mcmon()


def test_a_proxy_down_says_the_share_of_caches_it_touches_and_no_name(dep, tmp_path):
    pw = add_tenant(dep.tenants, "proxy", caps="proxy")
    (tmp_path / "proxy.pw").write_text(pw + "\n")
    passwords = {t: add_tenant(dep.tenants, t) for t in TENANTS}
    for b in ("b1", "b2", "b3"):
        dep.start_node(b)
    backends = [(b, dep.nodes[b].port) for b in ("b1", "b2", "b3")]
    proxies = {p: start_mcd_proxy(dep, p, backends, tmp_path / "proxy.pw")
               for p in ("p1", "p2", "p3")}
    site = tmp_path / "site"
    dep.write_config(extra=proxy_sections("c1", proxies) +
                     f"\n[statuspage]\ndir = {site}\nname = Example Cache\n"
                     "url = https://status.example.com/\n")
    conns = []
    for p, tenants in ON.items():
        for t in tenants:
            c = Raw(proxies[p][1], timeout=5.0)
            assert c.auth(t, passwords[t]) == "STORED"
            conns.append(c)
    dep.start_mcmon()
    wait_for("a few polls of every proxy", lambda: all(polls_ok(dep, p) >= 5 for p in ON), 60)
    assert dep.incidents() == []

    dep.procs.stop(proxies["p1"][0])
    inc = dep.wait_incident("node_down", 60)
    assert inc["node"] == "p1", inc

    def impact():
        ev = [e["body"] for e in dep.events(inc["id"]) if "impact" in e["body"]]
        return ev[-1]["impact"] if ev else None
    im = wait_for("the impact in the evidence", impact, 30)
    assert im == {"tenants": 4, "of": 6, "percent": 67}, im
    for e in dep.events(inc["id"]):
        for t in TENANTS:
            assert t not in e["body_json"], e

    r = mctl(dep.config, "statuspage", "render", str(site))
    assert "files written" in r.stdout
    s = check_all_json(site)
    pub = [i for i in s["incidents"] if i["id"] == str(inc["id"])][0]
    assert pub["customer_impact"] == "about 70% of caches in Test cluster", pub
    first = pub["incident_updates"][-1]["body"]
    assert first.endswith("It affects about 70% of caches in Test cluster."), first
    page = (site / "incidents" / f"{inc['id']}.html").read_text()
    assert "About 70% of caches in Test cluster are affected." in page
    assert_no_secrets(site)  # sptest's planted names include "tenant-acme-secret"
    for path in site.rglob("*"):
        if path.is_file():
            data = path.read_text(errors="replace")
            assert not any(t in data for t in TENANTS), path
    for c in conns:
        c.sock.close()
