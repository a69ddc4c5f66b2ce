"""mctl status: the cluster overview from the monitor's view and the incident log,
without calling the daemon; --json, --watch bounded by --count; a stale or missing
view and bad arguments are errors."""
import json
import time

import pytest

from mcmontest import Deployment, wait_for


@pytest.fixture
def dep(procs, tmp_path):
    d = Deployment(procs, tmp_path)
    yield d
    if d.mcmon is not None and d.mcmon.poll() is None:
        d.stop_mcmon()


def status_json(dep, *args):
    out = dep.mctl("--json", "status", *args)
    return out.returncode, [json.loads(l) for l in out.stdout.splitlines() if l.strip()], out


def test_status_shows_every_node_with_its_numbers(dep):
    dep.start_node("n1")
    dep.start_node("n2")
    dep.start_mcmon()
    wait_for("both nodes probed and polled", lambda: all(
        n["polled"] and n["probes"] > 10 for n in (dep.view() or {}).get("nodes", [{
            "polled": False, "probes": 0}])), 20)
    rc, docs, out = status_json(dep)
    assert rc == 0, out.stderr
    doc = docs[0]
    assert doc["monitor"]["stale"] is False and doc["monitor"]["pid"] == dep.mcmon.pid
    assert [c["name"] for c in doc["clusters"]] == ["c1"]
    assert doc["clusters"][0]["title"] == "Test cluster"
    assert doc["clusters"][0]["incidents"] == []
    assert (doc["clusters"][0]["tail"], doc["clusters"][0]["tail_severity"],
            doc["clusters"][0]["in_tail"], doc["clusters"][0]["tail_involved"]) == (
                "ok", "none", 0, 0)
    nodes = {n["name"]: n for n in doc["nodes"]}
    assert set(nodes) == {"n1", "n2"}
    for n in nodes.values():
        assert n["up"] is True and n["poll_ok"] is True
        assert n["connections"] >= 2          # the monitor's own two at least
        assert n["new_connections_per_second"] is not None
        assert 0 < n["p50_us"] <= n["p99_us"]
        assert n["slow_fraction"] == 0 or n["slow_fraction"] < 0.05
        assert n["detectors"]["down"]["state"] == "ok"
        assert n["incidents"] == []

    human = dep.mctl("status")
    assert human.returncode == 0, human.stderr
    lines = human.stdout.splitlines()
    assert lines[0].startswith("cluster c1 (Test cluster): storm ok; tail ok; churn ok; incidents -")
    assert any(l.split()[:2] == ["n1", "up"] for l in lines), human.stdout
    assert any(l.split()[:2] == ["n2", "up"] for l in lines), human.stdout
    # The monitor's line closes the view; the daemons' heartbeats follow it.
    monitor = [i for i, l in enumerate(lines) if l.startswith("monitor: pid")]
    assert monitor and lines[monitor[0] + 1] == "heartbeats:", human.stdout
    assert any(l.split()[:2] == ["mcmon", "up"] for l in lines[monitor[0]:]), human.stdout


def test_status_shows_a_down_node_and_its_open_incident(dep):
    dep.start_node("n1")
    dep.start_node("n2")
    dep.start_mcmon()
    wait_for("n2 probed", lambda: [n for n in (dep.view() or {}).get("nodes", [])
                                   if n["name"] == "n2" and n["probes"] > 0], 20)
    dep.kill_node("n2")
    inc = dep.wait_incident("node_down", 60)
    wait_for("n2 down in the view, its latest poll failed", lambda: [
        n for n in dep.view()["nodes"] if n["name"] == "n2" and not n["up"] and not
        n["poll_ok"]], 5)
    rc, docs, out = status_json(dep)
    assert rc == 0, out.stderr
    n2 = [n for n in docs[0]["nodes"] if n["name"] == "n2"][0]
    assert n2["up"] is False and n2["detectors"]["down"]["state"] == "firing"
    assert n2["poll_ok"] is False and n2["poll_error"]
    assert [(i["id"], i["kind"], i["severity"]) for i in n2["incidents"]] == [
        (inc["id"], "node_down", "major")]
    n1 = [n for n in docs[0]["nodes"] if n["name"] == "n1"][0]
    assert n1["up"] is True and n1["incidents"] == []
    human = dep.mctl("status").stdout
    row = [l for l in human.splitlines() if l.split()[:1] == ["n2"]][0]
    assert "DOWN" in row and f"#{inc['id']} node_down (major)" in row


def test_watch_prints_count_samples_and_stops(dep):
    dep.start_node("n1")
    dep.start_mcmon()
    wait_for("a view", dep.view, 30)
    # That --count ends it is checked by its returning at all (dep.mctl's timeout fails
    # the test otherwise), not by a bound on how long three samples take.
    rc, docs, out = status_json(dep, "--watch", "300ms", "--count", "3")
    assert rc == 0, out.stderr
    assert len(docs) == 3
    assert docs[0]["monitor"]["written_at"] < docs[2]["monitor"]["written_at"]


def test_a_stale_or_missing_view_is_an_error(dep):
    dep.start_node("n1")
    rc, _, out = status_json(dep, "--state", str(dep.dir / "nothing.json"))
    assert rc == 1 and "no view from the monitor" in out.stderr
    dep.start_mcmon()
    wait_for("a view", dep.view, 30)
    dep.stop_mcmon()
    # evaluate_interval 200 ms: stale after 3 intervals and 2 s of slack.
    time.sleep(3.0)
    rc, docs, out = status_json(dep)
    assert rc == 1
    assert docs[0]["monitor"]["stale"] is True
    human = dep.mctl("status")
    assert human.returncode == 1 and "STALE" in human.stdout


@pytest.mark.parametrize("args,code,message", [
    (["--cluster", "nope"], 1, "no cluster 'nope'"),
    (["--watch", "5ms"], 2, "--watch"),
    (["--count", "2"], 2, "--count needs --watch"),
    (["--frobnicate", "1"], 2, "unknown option"),
])
def test_bad_arguments_and_unknown_clusters_are_refused(dep, args, code, message):
    dep.start_node("n1")
    dep.start_mcmon()
    wait_for("a view", dep.view, 30)
    out = dep.mctl("status", *args)
    assert out.returncode == code, (out.stdout, out.stderr)
    assert message in out.stderr
    assert out.stdout == ""
