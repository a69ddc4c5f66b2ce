"""mcmon on a cluster with a proxy tier: real `mcd --proxy` processes in front of real
backends. The monitor polls the proxies' `stats proxy` and `stats backends` besides
their `stats`, and tells apart a backend the proxies eject while it answers mcmon
(backend_ejected), a backend that answers nobody (node_down, "Backend ... is down")
and a proxy that answers nobody (node_down, "Proxy ... is down"). The path from one
proxy to one backend is broken with the test tools' fault proxy. Every wait is
bounded; every process is stopped by pid.
"""
import pytest

from conftest import binary, free_port, wait_port
from mcdtest import Raw, add_tenant
from mcmontest import Deployment, control, wait_for


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
