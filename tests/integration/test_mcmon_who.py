"""mcmon says who (issue 17), against real mcd nodes with connection accounting: a
storm from one tenant is attributed to it in the incident's evidence, `mctl status`
and `mctl conns --by`; a tenant opening a connection per request opens the advisory
connection_churn, which names it and is never paged, and resolves when it stops.

Traffic comes from the test tools' stormgen (authenticated as the tenant, one `get`
per connection). Intervals are short (mcmontest.FAST), every wait is bounded, every
process is stopped by pid."""
import json
import re
import subprocess
import time

import pytest

from conftest import tool
from mcdtest import add_tenant
from mcmontest import FAST, Deployment, wait_for
from xmpptest import Prosody, jid, start_mcalert, wait_log_line, write_config

# Churn decided in seconds rather than minutes.
CHURN = {"churn_rate": "5", "churn_share": "0.9", "churn_sustain": "2s", "churn_clear": "1s"}


@pytest.fixture
def dep(procs, tmp_path):
    d = Deployment(procs, tmp_path)
    yield d
    if d.mcmon is not None and d.mcmon.poll() is None:
        d.stop_mcmon()


def tenant(dep, name):
    """Adds tenant name to the nodes' tenants file; returns its password file."""
    pw = add_tenant(dep.tenants, name)
    path = dep.dir / f"{name}.pw"
    path.write_text(pw + "\n")
    return path


def polls_ok(dep, node):
    _, page = dep.metrics()
    m = re.search(rf'^mcmon_polls_total{{cluster="c1",node="{node}"}} (\d+)$', page, re.M)
    f = re.search(rf'^mcmon_polls_failed_total{{cluster="c1",node="{node}"}} (\d+)$', page,
                  re.M)
    return int(m.group(1)) - int(f.group(1)) if m and f else 0


def stormgen(node, pwfile, user, rate, count, duration):
    return subprocess.Popen([tool("tests/tools/stormgen"), "--target", f"127.0.0.1:{node.port}",
                             "--user", user, "--password-file", str(pwfile),
                             "--command", "get k", "--rate", str(rate), "--count", str(count),
                             "--duration", duration],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def status_json(dep):
    r = dep.mctl("--json", "status")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.splitlines()[0])


def test_a_tenant_storm_is_attributed_in_evidence_status_and_conns_by(dep):
    acme = tenant(dep, "acme")
    tenant(dep, "quiet")
    dep.start_node("n1")
    dep.start_node("n2")
    dep.start_mcmon()
    wait_for("the storm baselines learnt",
             lambda: all(polls_ok(dep, n) >= int(FAST["storm_warmup"]) + 3
                         for n in ("n1", "n2")), 60)
    assert dep.incidents() == []

    gen = stormgen(dep.nodes["n1"], acme, "acme", 800, 8000, "10s")
    try:
        inc = dep.wait_incident("connection_storm", 60)
        # mctl status says who while it is open.
        doc = wait_for("mctl status to say who", lambda: (lambda c: c if c.get(
            "storm_finding") else None)(status_json(dep)["clusters"][0]), 30)
        text = dep.mctl("status").stdout
        # mctl conns --by tenant sums both nodes and puts acme first.
        by = dep.mctl("--json", "conns", "--cluster", "c1", "--by", "tenant", "--top", "1")
        table = dep.mctl("conns", "--cluster", "c1", "--by", "tenant")
        sources = dep.mctl("--json", "conns", "n1", "--by", "source")
    finally:
        out, _ = gen.communicate(timeout=60)
    assert gen.returncode == 0, out
    assert "tenant acme" in doc["storm_finding"], doc
    assert "mctl tenant connlimit acme --new-per-second" in doc["storm_remedy"], doc
    assert re.search(r"\n  storm: \d+% of new connections: tenant acme, from 127\.0\.0\.1/32",
                     text), text
    assert "remedy: limit the tenant: mctl tenant connlimit acme" in text, text

    evidence = wait_for("evidence naming acme", lambda: [
        e["body"] for e in dep.events(inc["id"])
        if e["type"] == "evidence" and e["body"].get("who", {}).get("tenants")], 30)
    who = evidence[-1]["who"]
    assert who["dominant"] is True, who
    assert who["tenants"][0]["name"] == "acme" and who["tenants"][0]["share"] >= 0.5, who
    assert who["sources"][0]["prefix"] in ("127.0.0.1/32", "127.0.0.0/24"), who
    assert who["remedy"] == "limit_tenant", who

    assert by.returncode == 0, by.stderr
    d = json.loads(by.stdout)
    assert (d["cluster"], d["by"], d["nodes"], d["failed"]) == ("c1", "tenant", ["n1", "n2"], [])
    assert [r["tenant"] for r in d["rows"]] == ["acme"], d
    assert d["rows"][0]["new_connections"] >= 100, d
    assert d["other"]["tenant"] == "other", d
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].startswith("cluster c1 (Test cluster): connections by tenant"), lines
    assert lines[2].split()[0] == "acme" and lines[-1].split()[0] == "other", lines
    assert sources.returncode == 0, sources.stderr
    s = json.loads(sources.stdout)
    assert "127.0.0.1/32" in [r["source"] for r in s["rows"]], s

    resolved = dep.wait_incident("connection_storm", 90, state="resolved")
    assert resolved["id"] == inc["id"]
    # The monitor's /metrics names the tenant, bounded, with "other".
    _, page = dep.metrics()
    assert re.search(r'^mcops_tenant_connections\{cluster="c1",node="n1",tenant="other"\} ',
                     page, re.M), page
    assert 'mcops_source_new_connections_per_second{cluster="c1",node="n1",source="127.0.0.1/32"}' \
        in page


def test_a_churning_tenant_opens_connection_churn_which_pages_nobody(dep, procs):
    django = tenant(dep, "django")
    dep.start_node("n1")
    dep.start_mcmon(monitor=CHURN)
    wait_for("a few polls", lambda: polls_ok(dep, "n1") >= 5, 60)
    # The pager, on a private chat server, paging alice for anything minor or worse.
    chat = Prosody(procs, dep.dir / "prosody", ["mcalert", "alice"])
    chat.start()
    alert_conf = write_config(str(dep.dir / "alert.conf"), port=chat.port, db=str(dep.db),
                              steps=[jid("alice")], extra="min_severity = minor")
    alerter = start_mcalert(procs, alert_conf)
    wait_log_line(procs, alerter, "started:", timeout=30)

    # A connection per request, at 20 a second: under the storm detector's floor.
    gen = stormgen(dep.nodes["n1"], django, "django", 20, 400, "20s")
    try:
        inc = dep.wait_incident("connection_churn", 30)
        evidence = wait_for("churn evidence", lambda: [
            e["body"] for e in dep.events(inc["id"])
            if e["type"] == "evidence" and e["body"].get("tenants")], 30)
    finally:
        out, _ = gen.communicate(timeout=60)
    assert gen.returncode == 0, out
    assert inc["title"] == "Connection churn in cluster c1: tenant django", inc
    assert inc["severity"] == 1, inc  # minor (lib/ilog.h), however it spreads
    ev = evidence[-1]
    t = ev["tenants"][0]
    assert t["name"] == "django" and t["short_share"] >= 0.9, ev
    assert t["new_connections_per_second"] >= 5, ev
    assert "tenant django opens" in ev["finding"] and "about 4x the time of one get" in ev["finding"]
    assert "connection_churn.md" in ev["remedy"]
    # An advisory: never paged, while an incident of the same severity opened by hand
    # is; and no storm either.
    control = dep.mctl("--json", "open", "--title", "control", "--severity", "minor",
                       "--cluster", "c1", check=True)
    control_id = json.loads(control.stdout)["id"]
    wait_for("the control incident's page", lambda: dep.query(
        "SELECT * FROM pages WHERE incident_id = ?", control_id), 30)
    assert dep.query("SELECT * FROM pages WHERE incident_id = ?", inc["id"]) == []
    assert dep.incidents("connection_storm") == []
    resolved = dep.wait_incident("connection_churn", 60, state="resolved")
    assert resolved["id"] == inc["id"]
