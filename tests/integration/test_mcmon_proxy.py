"""mcmon on a cluster with a proxy tier: real `mcd --proxy` processes in front of real
backends. The monitor polls the proxies' `stats proxy` and `stats backends` besides
their `stats`, and tells apart a backend the proxies eject while it answers mcmon
(backend_ejected), a backend that answers nobody (node_down, "Backend ... is down")
and a proxy that answers nobody (node_down, "Proxy ... is down"). The path from one
proxy to one backend is broken with the test tools' fault proxy. Every wait is
bounded; every process is stopped by pid.
"""
import re
import subprocess
import threading
import time

import pytest

from conftest import binary, free_port, tool, wait_port
from mcdtest import Raw, add_tenant
from mcmontest import FAST, Deployment, control, wait_for


@pytest.fixture
def dep(procs, tmp_path):
    d = Deployment(procs, tmp_path)
    yield d
    if d.mcmon is not None and d.mcmon.poll() is None:
        d.stop_mcmon()


def start_mcd_proxy(dep, name, backends, password_file):
    """mcd --proxy in front of backends [(name, port)], with the deployment's tenants:
    ejects a backend after two failures, retries it after a second."""
    conf = dep.dir / f"{name}.proxy"
    lines = ["[proxy]"] + [f"backend = 127.0.0.1:{port}:1 {b}" for b, port in backends]
    lines += ["timeout = 300ms", "failure_limit = 2", "retry_timeout = 1s", "eject = yes",
              "tail_ms = 20", "account = proxy", f"password_file = {password_file}"]
    conf.write_text("\n".join(lines) + "\n")
    port, admin = free_port(), free_port()
    p = dep.procs.start([binary("mcd"), "--proxy", str(conf), "-l", "127.0.0.1", "-p",
                         str(port), "-t", "1", "--tenants", str(dep.tenants),
                         "--admin-port", str(admin)], name=f"proxy-{name}")
    wait_port(port, proc=p)
    wait_port(admin, proc=p)
    return p, port, admin


def proxy_sections(cluster, proxies):
    return "".join(f"\n[proxy {name}]\ncluster = {cluster}\nclient = 127.0.0.1:{port}\n"
                   f"admin = 127.0.0.1:{admin}\n" for name, (_, port, admin) in proxies.items())


def traffic(port, password, keys=40):
    """Gets of many keys through a proxy, so that every backend is sent requests."""
    try:
        c = Raw(port, timeout=2.0)
        c.auth("probe", password)
        for i in range(keys):
            c.send(f"get k{i}\r\n".encode())
            c.until_end()
        c.close()
    except (OSError, AssertionError):
        pass  # a dropped path: the proxy counts it, which is the point


def start_tier(dep, tmp_path, via_fault=()):
    """Backends b1..b3 and proxies p1, p2 in front of them; each backend named in
    via_fault is reached by both proxies through its own fault proxy (mcmon probes it
    directly). Returns the proxies and the fault proxies' control ports."""
    pw = add_tenant(dep.tenants, "proxy", caps="proxy")
    (tmp_path / "proxy.pw").write_text(pw + "\n")
    for b in ("b1", "b2", "b3"):
        dep.start_node(b)
    paths, ctls = {b: dep.nodes[b].port for b in ("b1", "b2", "b3")}, {}
    for b in via_fault:
        ctls[b] = dep.start_proxy(b)
        paths[b], dep.nodes[b].client_port = dep.nodes[b].client_port, dep.nodes[b].port
    proxies = {name: start_mcd_proxy(dep, name, list(paths.items()), tmp_path / "proxy.pw")
               for name in ("p1", "p2")}
    dep.write_config(extra=proxy_sections("c1", proxies))
    dep.start_mcmon()
    return proxies, ctls


def polls_ok(dep, node):
    """mcmon's successful polls of node so far (from /metrics)."""
    _, page = dep.metrics()
    counts = []
    for name in ("mcmon_polls_total", "mcmon_polls_failed_total"):
        m = re.search(rf'^{name}{{cluster="c1",node="{node}"}} (\d+)$', page, re.M)
        if m is None:
            return 0
        counts.append(int(m.group(1)))
    return counts[0] - counts[1]


def last_evidence(dep, inc):
    return [e["body"] for e in dep.events(inc["id"]) if e["type"] == "evidence"][-1]


def test_two_slow_backends_behind_the_proxies_are_one_incident_naming_both(dep, tmp_path):
    proxies, ctls = start_tier(dep, tmp_path, via_fault=("b1", "b2"))
    probe_pw = (tmp_path / "probe.pw").read_text().strip()
    stop = threading.Event()

    def load():
        while not stop.is_set():
            for _, port, _ in proxies.values():
                traffic(port, probe_pw, keys=60)
    loader = threading.Thread(target=load)
    loader.start()
    try:
        # The proxied detectors learn a healthy normal (tail_warmup) from the proxies'
        # replies before anything is slowed.
        def learnt():
            nodes = {n["name"]: n for n in (dep.view() or {}).get("nodes", [])}
            return all(nodes.get(b, {}).get("via_proxies", {}).get("replies", 0) >= 100
                       for b in ("b1", "b2", "b3"))
        wait_for("the proxies' view of every backend", learnt, 60)
        time.sleep(float(FAST["tail_warmup"].rstrip("s")) + 1)
        assert dep.incidents() == [], dep.incidents()

        # The paths from the proxies to b1 and b2 slow down: 40% of replies at 30-50 ms
        # (the threshold and the proxies' tail_ms are 20 ms); mcmon's own probes of the
        # backends are not slowed.
        for b in ("b1", "b2"):
            assert control(ctls[b], "delay 0.4 30ms 50ms").startswith("OK")
        inc = dep.wait_incident("latency_tail", 60)

        def both_named():
            ev = last_evidence(dep, inc)
            return ev if ev["backends"] == ["b1", "b2"] else None
        ev = wait_for("b1 and b2 in the incident", both_named, 30)
    finally:
        stop.set()
        loader.join(timeout=30)
    assert ev["extent"] == "backends", ev
    assert set(ev["proxies_seeing"]) == {"p1", "p2"}, ev
    assert ev["node_evidence"]["b1"]["via_proxies"]["short_fraction"] > 0.1, ev
    assert "b3" not in ev["involved"], ev
    assert len(dep.incidents("latency_tail")) == 1


def test_a_storm_hopping_across_the_proxies_is_one_incident_naming_each(dep, tmp_path):
    proxies, _ = start_tier(dep, tmp_path)
    wait_for("the storm baselines learnt",
             lambda: all(polls_ok(dep, p) >= int(FAST["storm_warmup"]) + 3 for p in proxies), 60)
    assert dep.incidents() == []

    gens = []
    try:
        for name in ("p1", "p2"):
            gens.append(subprocess.Popen(
                [tool("tests/tools/stormgen"), "--target", f"127.0.0.1:{proxies[name][1]}",
                 "--rate", "800", "--count", "3000", "--duration", "3s"],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
            dep.wait_incident("connection_storm", 60)

            def joined(name=name):
                inc = dep.incidents("connection_storm")[0]
                return name in last_evidence(dep, inc)["involved"]
            wait_for(f"{name} in the storm", joined, 30)
    finally:
        for g in gens:
            out, _ = g.communicate(timeout=30)
            assert g.returncode == 0, out
    incs = dep.incidents("connection_storm")
    assert len(incs) == 1, incs
    ev = last_evidence(dep, incs[0])
    who = [(p["node"], p["role"]) for p in ev["participants"]]
    assert who[:2] == [("p1", "proxy"), ("p2", "proxy")], ev["participants"]
    assert all(p["joined_at"] <= p["last_at"] for p in ev["participants"])
    assert ev["participants"][0]["joined_at"] < ev["participants"][1]["joined_at"]


def test_ejected_backend_down_and_proxy_down_are_three_different_incidents(dep, tmp_path):
    pw = add_tenant(dep.tenants, "proxy", caps="proxy")
    (tmp_path / "proxy.pw").write_text(pw + "\n")
    probe_pw = (tmp_path / "probe.pw").read_text().strip()
    for b in ("b1", "b2", "b3"):
        dep.start_node(b)
    # p1 reaches b1 through the fault proxy; mcmon probes b1 directly.
    ctl = dep.start_proxy("b1")
    b1 = dep.nodes["b1"]
    path_to_b1, b1.client_port = b1.client_port, b1.port
    proxies = {
        "p1": start_mcd_proxy(dep, "p1", [("b1", path_to_b1), ("b2", dep.nodes["b2"].port),
                                          ("b3", dep.nodes["b3"].port)], tmp_path / "proxy.pw"),
        "p2": start_mcd_proxy(dep, "p2", [(b, dep.nodes[b].port) for b in ("b1", "b2", "b3")],
                              tmp_path / "proxy.pw"),
    }
    dep.write_config(extra=proxy_sections("c1", proxies))
    dep.start_mcmon()

    def polled():
        v = dep.view() or {}
        roles = {n["name"]: (n.get("role"), "proxy" in n) for n in v.get("nodes", [])}
        return roles if roles.get("p1") == ("proxy", True) and \
            roles.get("p2") == ("proxy", True) and roles.get("b1") == ("node", False) else None
    wait_for("the proxies polled with their figures", polled, 30)
    _, text = dep.metrics()
    assert 'memcached_proxy_backend_up{cluster="c1",node="p1",backend="b1"} 1' in text
    assert 'mcmon_node_role{cluster="c1",node="p2",role="proxy"} 1' in text
    assert dep.incidents() == [], dep.incidents()

    # The path from p1 to b1 breaks: p1 ejects b1, which still answers mcmon.
    assert control(ctl, "drop 1").startswith("OK")

    def ejected():
        traffic(proxies["p1"][1], probe_pw)
        return dep.incidents("backend_ejected")
    inc = wait_for("a backend_ejected incident", ejected, 60)[0]
    assert inc["fingerprint"] == "backend_ejected:c1:b1", inc
    assert inc["title"] == "Backend c1/b1 ejected by proxies p1 (it answers mcmon)", inc
    ev = [e["body"] for e in dep.events(inc["id"]) if e["type"] == "evidence"]
    assert ev[0]["ejected_by"] == ["p1"] and ev[0]["own_probes"] == "answering", ev[0]
    assert ev[0]["proxies_reporting"] == 2, ev[0]
    assert dep.incidents("node_down") == []

    # b2 dies: its own listeners answer nobody: the backend is down, not ejected.
    dep.kill_node("b2")
    down = dep.wait_incident("node_down", 30)
    assert down["fingerprint"] == "node_down:c1:b2", down
    assert down["title"] == "Backend c1/b2 is down", down
    assert [i for i in dep.incidents("backend_ejected") if i["node"] == "b2"] == []

    # p2 dies: the proxy is down.
    dep.procs.stop(proxies["p2"][0], sig=9)

    def proxy_down():
        return [i for i in dep.incidents("node_down") if i["node"] == "p2"]
    inc = wait_for("p2's node_down incident", proxy_down, 30)[0]
    assert inc["title"] == "Proxy c1/p2 is down", inc
    assert dep.events(inc["id"])[-1]["body"]["role"] == "proxy"

    # The path heals: the proxies take b1 back and its incident resolves.
    assert control(ctl, "drop 0").startswith("OK")

    def resolved():
        traffic(proxies["p1"][1], probe_pw)
        return all(i["state"] == "resolved" for i in dep.incidents("backend_ejected"))
    wait_for("backend_ejected resolved", resolved, 60)
