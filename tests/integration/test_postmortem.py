"""mctl postmortem: a draft of a real incident (opened through the log, paged, noted,
acknowledged, updated in public, remedied with a real flush, resolved) with the history
a real mcmon recorded against real mcd nodes: every section, the durations from the
log's own times, charts that parse with a point per recorded sample; --public without
any planted internal name; a bad number, and an unresolved incident."""
import datetime
import re
import sqlite3
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import binary
from mcmontest import Deployment, wait_for
from sptest import SECRETS, open_incident

SVG = "{http://www.w3.org/2000/svg}"
NODES = ["node-secret-n1", "node-secret-n2"]
NOTE_SECRET = "internal-note-secret"
JID = "oncall-secret@ops.example"
PUBLIC_MESSAGE = "We found the cause of the slow responses."
SECTIONS = ["## Summary", "## Impact", "## Timeline (UTC)",
            "## Time to detect, page, acknowledge, remedy and resolve", "## Remedies",
            "## Pages", "## Public updates", "## Evidence", "## Charts"]


@pytest.fixture
def dep(procs, tmp_path):
    d = Deployment(procs, tmp_path)
    yield d
    if d.mcmon is not None and d.mcmon.poll() is None:
        d.stop_mcmon()


def duration(ms):
    """cli/postmortem.c's pm_duration."""
    s = ms // 1000
    if ms < 1000:
        return f"{ms} ms"
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s // 60 % 60:02d}m {s % 60:02d}s"


def utc(ms):
    """lib/utctime's utc_format."""
    t = datetime.datetime.fromtimestamp(ms // 1000, datetime.timezone.utc)
    text = t.strftime("%Y-%m-%dT%H:%M:%S")
    return text + (f".{ms % 1000:03d}Z" if ms % 1000 else "Z")


def rows(dep, node=None):
    return dep.query("SELECT * FROM history WHERE cluster = 'c1' AND node = ? ORDER BY at",
                     node or "")


def wait_rows(dep, more_than, after_ms=0):
    """Waits until every node has more_than rows after after_ms."""
    wait_for(f"{more_than} history rows of each node", lambda: all(
        len([r for r in rows(dep, n) if r["at"] > after_ms]) > more_than for n in NODES), 30)


def mctl_ok(dep, *args):
    r = dep.mctl(*args)
    assert r.returncode == 0, f"mctl {args}: {r.returncode}: {r.stderr}"
    return r.stdout


def series_points(path):
    """{series name: number of points in its polylines} of a chart."""
    root = ET.parse(path).getroot()
    assert root.tag == SVG + "svg"
    out = {}
    for g in root.iter(SVG + "g"):
        if g.get("class") == "series":
            out[g.get("data-series")] = sum(len(p.get("points").split())
                                            for p in g.iter(SVG + "polyline"))
    return out


def incident_through_its_life(dep):
    """Opens, pages, notes, acknowledges, updates, flushes and resolves an incident of
    cluster c1 while mcmon records; returns its id."""
    for n in NODES:
        dep.start_node(n)
    dep.write_config(monitor={"history_interval": "1s"})
    dep.start_mcmon()
    wait_rows(dep, 2)
    n = open_incident(dep.db, "latency_tail", "c1", "major")
    opened = dep.query("SELECT opened_at FROM incidents WHERE id = ?", n)[0]["opened_at"]
    # A page as mcalert records it (lib/ilog_pages.h: the row and its event).
    con = sqlite3.connect(str(dep.db), timeout=10)
    con.execute("INSERT INTO pages (incident_id, step, target, sent_at, delivered_at)"
                " VALUES (?, 0, ?, ?, ?)", (n, JID, opened + 1500, opened + 1700))
    con.execute("INSERT INTO events (at, incident_id, actor, type, body_json)"
                " VALUES (?, ?, 'mcalert', 'paged', ?)",
                (opened + 1500, n, '{"page_id": 1, "step": 0, "target": "%s"}' % JID))
    con.commit()
    con.close()
    mctl_ok(dep, "note", str(n), f"{NOTE_SECRET}: customer {SECRETS[1]} on {SECRETS[0]}")
    mctl_ok(dep, "ack", str(n), "--message", "looking")
    mctl_ok(dep, "update", str(n), "--status", "identified", "--message", PUBLIC_MESSAGE)
    mctl_ok(dep, "flush", "--cluster", "c1", "--incident", str(n), "--yes")
    flushed = dep.query("SELECT max(at) AS at FROM events WHERE type = 'flush'")[0]["at"]
    wait_rows(dep, 1, flushed)
    mctl_ok(dep, "resolve", str(n), "--message", "latency back to normal")
    resolved = dep.query("SELECT resolved_at FROM incidents WHERE id = ?", n)[0]["resolved_at"]
    wait_rows(dep, 1, resolved)
    dep.stop_mcmon()  # the rows the charts are checked against stop here
    return n


def test_postmortem_draft_and_public_draft_of_a_real_incident(dep, tmp_path):
    n = incident_through_its_life(dep)
    inc = dep.query("SELECT * FROM incidents WHERE id = ?", n)[0]
    ev = dep.events(n)
    first = lambda t: min(e["at"] for e in ev if e["type"] == t)

    out = mctl_ok(dep, "postmortem", str(n), "-o", str(tmp_path / "draft.md"))
    assert "draft-latency.svg" in out and "draft-connections.svg" in out
    md = (tmp_path / "draft.md").read_text()
    for s in SECTIONS:
        assert s in md, f"no '{s}' in the draft:\n{md}"
    assert "UNRESOLVED" not in md
    opened = inc["opened_at"]
    for step, at in [("Page", opened + 1500), ("Acknowledge", first("acked")),
                     ("Remedy", first("flush")), ("Resolve", inc["resolved_at"])]:
        want = rf"\| {step} \| {re.escape(utc(at))} \| [^|]+ \| {re.escape(duration(at - opened))} \|"
        assert re.search(want, md), f"no {step} row like {want}:\n{md}"
    assert re.search(r"\| Detect \(opened\) \| " + re.escape(utc(opened)) + r" \| [^|]+ \| 0 ms \|", md)
    assert "flush on c1: done on 2, failed on 0" in md
    assert JID in md and NOTE_SECRET in md           # the internal draft has them all
    assert PUBLIC_MESSAGE in md
    assert "![Latency share](draft-latency.svg)" in md
    assert "![Connections](draft-connections.svg)" in md

    latency = series_points(tmp_path / "draft-latency.svg")
    conns = series_points(tmp_path / "draft-connections.svg")
    assert set(latency) == set(NODES) and set(conns) == set(NODES)
    for node in NODES:
        recorded = rows(dep, node)
        assert len(recorded) >= 4
        assert latency[node] == len([r for r in recorded if r["probes"] > 0])
        assert conns[node] == len([r for r in recorded if r["connections"] is not None])

    out = mctl_ok(dep, "postmortem", str(n), "--public", "-o", str(tmp_path / "public.md"))
    pub = (tmp_path / "public.md").read_text()
    assert "# Postmortem: " in pub and "Test cluster" in pub
    assert PUBLIC_MESSAGE in pub
    assert "## Timeline (UTC)" in pub and "## Charts" in pub
    planted = SECRETS + NODES + [NOTE_SECRET, JID, "127.0.0.1", "mctl:", "latency_tail"]
    for f in ["public.md", "public-latency.svg", "public-connections.svg"]:
        text = (tmp_path / f).read_text()
        for s in planted:
            assert s not in text, f"{s} leaked into {f}"
    chart = series_points(tmp_path / "public-latency.svg")
    assert list(chart) == ["Test cluster"]
    assert chart["Test cluster"] == len([r for r in rows(dep) if r["probes"] > 0])


def test_postmortem_refuses_a_bad_number_and_marks_an_unresolved_incident(dep, tmp_path):
    dep.write_config()
    r = dep.mctl("postmortem", "42")
    assert r.returncode == 1 and "postmortem: no incident 42" in r.stderr
    r = dep.mctl("postmortem", "x1")
    assert r.returncode == 2 and "'x1' is not an incident number" in r.stderr
    n = int(re.search(r"opened incident (\d+)", mctl_ok(
        dep, "open", "--title", "Slow c1", "--severity", "minor", "--cluster", "c1")).group(1))
    # To stdout: the charts go to the current directory, and both outputs say so.
    r = subprocess.run([binary("mctl"), "-f", str(dep.config), "postmortem", str(n)],
                       capture_output=True, text=True, timeout=30, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "**UNRESOLVED:**" in r.stdout
    assert "| Resolve | — | — | **not resolved** |" in r.stdout
    assert f"incident-{n}-latency.svg" in r.stderr
    assert f"The charts were written to incident-{n}-latency.svg" in r.stdout
    assert series_points(tmp_path / f"incident-{n}-connections.svg") == {}
