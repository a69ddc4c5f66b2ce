"""Scheduled maintenance end to end: `mctl maintenance` and what it refuses, the status
page and the Statuspage JSON through upcoming, in progress and completed (by command and
by time), a configured window on the page, a webhook told of each change once (also
across a restart of mcstatus), a configured window announced as a scheduled one (once,
with two mcstatus on one log) and shown once, and an incident during a maintenance
recorded but not paged until the maintenance is over (mcalert on a private Prosody)."""
import json
import os
import signal
import time

import pytest

from sptest import (COMPONENT_STATUSES, SECRETS, assert_no_secrets, mctl, open_incident,
                    parse_time, read_json, start, wait_for, write_config)
from test_statuspage_sinks import Receiver, sink_config
from xmpptest import Engineer, Log, Prosody, jid, start_mcalert, wait_log_line
from xmpptest import write_config as alerter_config
from conftest import Procs

MAINT_FIELDS = {"id", "name", "status", "created_at", "updated_at", "monitoring_at",
                "resolved_at", "started_at", "scheduled_for", "scheduled_until", "impact",
                "page_id", "incident_updates", "components"}
# The configured window's section name is internal: it must never be published.
WINDOW_NAME = "window-name-secret"


def utc(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def maintenances(site, rel="api/v2/scheduled-maintenances.json"):
    return read_json(site, rel)["scheduled_maintenances"]


def by_id(site, mid, rel="api/v2/scheduled-maintenances.json"):
    return next((m for m in maintenances(site, rel) if m["id"] == f"m{mid}"), None)


def schedule(conf, *args, db=None):
    r = mctl(conf, *(["--db", db] if db else []), "--json", "maintenance", "schedule", *args)
    return json.loads(r.stdout)["id"]


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def test_mctl_schedules_lists_and_moves_maintenances_and_refuses_bad_input(tmp_path):
    conf, _site, db = write_config(tmp_path)
    mid = schedule(conf, "--cluster", "c1", "--from", "+1h", "--until", "+2h", "--title",
                   "Upgrade of C1", "--message", "Short interruptions of writes.")
    r = mctl(conf, "--json", "maintenance", "list")
    listed = json.loads(r.stdout)["maintenances"]
    assert [m["id"] for m in listed] == [mid]
    m = listed[0]
    assert m["state"] == "scheduled" and m["cluster"] == "c1" and m["kind"] == "public"
    assert m["created_by"].startswith("mctl:")
    assert parse_time(m["ends_at"]) > parse_time(m["starts_at"])

    refusals = [
        (["--cluster", "c9", "--from", "now", "--until", "+1h", "--title", "x"],
         "'c9' is not a cluster"),
        (["--cluster", "c1", "--from", "+2h", "--until", "+1h", "--title", "x"],
         "must end after it starts"),
        (["--cluster", "c1", "--from", "now", "--until", "+15d", "--title", "x"],
         "longer than 14 days"),
        (["--cluster", "c1", "--from", "tomorrow", "--until", "+1h", "--title", "x"],
         "'tomorrow' is not a time"),
        (["--cluster", "c1", "--from", "now", "--until", "+1h", "--title", "a\nb"],
         "title"),
        (["--cluster", "c1", "--from", "2020-01-01T00:00Z", "--until", "2020-01-01T01:00Z",
          "--title", "x"], "over already"),
        (["--cluster", "c1", "--from", "now", "--until", "+1h"], "needs --cluster"),
        (["--cluster", "c1", "--from", "2099-12-08T02:00Z", "--until", "2099-12-08T03:30:15Z",
          "--title", "x"], "days ahead"),
    ]
    for args, why in refusals:
        r = mctl(conf, "maintenance", "schedule", *args, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert why in r.stderr, (args, r.stderr)
    # Nothing was written by a refusal.
    assert len(json.loads(mctl(conf, "--json", "maintenance", "list", "--all").stdout)
               ["maintenances"]) == 1

    r = mctl(conf, "maintenance", "complete", str(mid), check=False)
    assert r.returncode == 1 and "is scheduled" in r.stderr
    mctl(conf, "maintenance", "start", str(mid))
    r = mctl(conf, "maintenance", "cancel", str(mid), check=False)
    assert r.returncode == 1 and "complete it instead" in r.stderr
    mctl(conf, "maintenance", "complete", str(mid))
    r = mctl(conf, "maintenance", "start", "99", check=False)
    assert r.returncode == 1 and "no maintenance 99" in r.stderr
    assert mctl(conf, "maintenance", "start", "x", check=False).returncode == 2

    other = schedule(conf, "--cluster", "c2", "--from", "+1d",
                     "--until", "+25h", "--title", "Later")
    mctl(conf, "maintenance", "cancel", str(other))
    states = {m["id"]: m["state"] for m in json.loads(
        mctl(conf, "--json", "maintenance", "list", "--all").stdout)["maintenances"]}
    assert states == {mid: "completed", other: "cancelled"}
    events = [json.loads(line)["type"] for line in
              mctl(conf, "log", "export").stdout.splitlines()]
    assert [e for e in events if e.startswith("maintenance_")] == [
        "maintenance_scheduled", "maintenance_started", "maintenance_completed",
        "maintenance_scheduled", "maintenance_cancelled"]


def test_the_page_and_json_follow_a_maintenance_through_its_states(procs, tmp_path):
    conf, site, db = write_config(tmp_path, extra=(
        f"[maintenance {WINDOW_NAME}]\nstart = 2026-01-01 03:00\nduration = 1h\nevery = 1d\n"
        "clusters = c2\ntitle = Nightly network upgrade\n"
        "[maintenance hidden-one]\nstart = 2026-01-01 05:00\nduration = 1h\nevery = 1d\n"
        "public = no\n"))
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    mid = schedule(conf, "--cluster", "c1", "--from", "+1h", "--until", "+2h",
                   "--title", "Upgrade of C1", "--message", "Writes may be slow.")

    # Upcoming: listed, nothing under maintenance yet.
    wait_for(lambda: by_id(site, mid, "api/v2/scheduled-maintenances/upcoming.json"),
             what="the upcoming maintenance")
    wait_for(lambda: any(x["id"] == f"m{mid}" for x in
                         read_json(site, "api/v2/summary.json")["scheduled_maintenances"]),
             what="the maintenance in summary.json")
    summary = read_json(site, "api/v2/summary.json")
    m = next(x for x in summary["scheduled_maintenances"] if x["id"] == f"m{mid}")
    assert set(m) == MAINT_FIELDS
    assert m["status"] == "scheduled" and m["impact"] == "maintenance"
    assert m["name"] == "Upgrade of C1" and m["started_at"] is None
    assert m["incident_updates"][0]["body"] == "Writes may be slow."
    assert [c["id"] for c in m["components"]] == ["c1"]
    assert summary["status"]["indicator"] == "none"
    # The configured window: its next occurrence (within a day: mcstatus recorded it
    # as a maintenance of the log), once, under its public title only.
    window = [x for x in summary["scheduled_maintenances"]
              if x["name"] == "Nightly network upgrade"]
    assert len(window) == 1 and window[0]["id"].startswith("m")
    assert [c["id"] for c in window[0]["components"]] == ["c2"]
    assert "Upgrade of C1" in (site / "index.html").read_text()

    # Started early by command.
    mctl(conf, "maintenance", "start", str(mid))
    wait_for(lambda: by_id(site, mid, "api/v2/scheduled-maintenances/active.json"),
             what="the maintenance in progress")
    wait_for(lambda: read_json(site, "api/v2/status.json")["status"]["indicator"] ==
             "maintenance", what="the maintenance indicator")
    comps = {c["id"]: c["status"] for c in read_json(site, "api/v2/components.json")
             ["components"]}
    assert comps["c1"] == "under_maintenance" and comps["c2"] == "operational"
    assert set(comps.values()) <= COMPONENT_STATUSES
    wait_for(lambda: "Service Under Maintenance" in (site / "index.html").read_text(),
             what="the page under maintenance")
    assert "Under maintenance" in (site / "index.html").read_text()

    # Completed early: in the full list only, the components back.
    mctl(conf, "maintenance", "complete", str(mid))
    wait_for(lambda: (by_id(site, mid) or {}).get("status") == "completed",
             what="the completed maintenance")
    wait_for(lambda: read_json(site, "api/v2/status.json")["status"]["indicator"] == "none",
             what="the indicator back to none")
    assert by_id(site, mid, "api/v2/scheduled-maintenances/active.json") is None
    done = by_id(site, mid)
    assert [u["status"] for u in done["incident_updates"]] == [
        "completed", "in_progress", "scheduled"]
    assert parse_time(done["resolved_at"]) >= parse_time(done["started_at"])

    # By time: a short one starts and ends with no command; the page follows.
    t = time.time()
    timed = schedule(conf, "--cluster", "c2", "--from", utc(t + 2), "--until", utc(t + 4),
                     "--title", "Quick switch swap")
    wait_for(lambda: (by_id(site, timed) or {}).get("status") == "completed", timeout=30,
             what="the maintenance completed by time")
    assert [u["status"] for u in by_id(site, timed)["incident_updates"]] == [
        "completed", "in_progress", "scheduled"]
    for s in [WINDOW_NAME, "hidden-one", "mctl:"]:
        for path in site.rglob("*"):
            if path.is_file():
                assert s not in path.read_text(errors="replace"), (s, path)
    assert_no_secrets(site)


def test_a_webhook_hears_of_each_change_once_also_across_a_restart(procs, tmp_path,
                                                                    receiver):
    conf, site, db = write_config(tmp_path, extra=sink_config(tmp_path, receiver,
                                                               only={"hook"}))
    p = start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")

    def types():
        return [json.loads(r["body"])["type"] for r in receiver.got("/hook")]

    t = time.time()
    mid = schedule(conf, "--cluster", "c1", "--from", utc(t + 3), "--until", utc(t + 9),
                   "--title", "Upgrade of C1")
    wait_for(lambda: "maintenance.started" in types(), timeout=20, what="the start by time")
    # A restart in the window: the start is not announced again, the end is, once.
    procs.stop(p, sig=signal.SIGKILL)
    start(procs, conf, name="mcstatus-again")
    wait_for(lambda: "maintenance.completed" in types(), timeout=30, what="the end by time")
    cancelled = schedule(conf, "--cluster", "c2", "--from", "+1h", "--until", "+2h",
                         "--title", "Not needed")
    mctl(conf, "maintenance", "cancel", str(cancelled))
    wait_for(lambda: "maintenance.cancelled" in types(), what="the cancellation")
    assert types() == ["maintenance.scheduled", "maintenance.started",
                       "maintenance.completed", "maintenance.scheduled",
                       "maintenance.cancelled"]
    bodies = [json.loads(r["body"]) for r in receiver.got("/hook")]
    assert bodies[0]["maintenance"]["id"] == f"m{mid}"
    assert bodies[1]["components"] == [{"id": "c1", "name": "US-East C1",
                                        "status": "under_maintenance"}]
    assert bodies[0]["text"].startswith("Scheduled maintenance: Upgrade of C1 (")
    # mcstatus wrote the edges that came by time, once.
    log = Log(str(db))
    assert [e[3] for e in log.events(type_="maintenance_started")] == ["mcstatus"]
    assert len(log.events(type_="maintenance_completed")) == 1
    for b in receiver.got("/hook"):
        for s in SECRETS + ["mctl:"]:
            assert s not in b["body"].decode()


def test_a_configured_window_is_announced_once_each_and_shown_once(procs, tmp_path,
                                                                   receiver):
    """A one-off window a few seconds ahead: mcstatus records it as a maintenance of the
    log and the webhook hears it scheduled, started and completed once each, though a
    second mcstatus (its own site, no sinks) reads the same window and log."""
    t = time.time()
    window = (f"[maintenance {WINDOW_NAME}]\n"
              f"start = {time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t + 5))}\n"
              "duration = 3s\nclusters = c1 c2\ntitle = Switch firmware\n")
    conf, site, db = write_config(tmp_path, extra=sink_config(tmp_path, receiver,
                                                               only={"hook"}) + window)
    other = tmp_path / "other"
    other.mkdir()
    conf2, site2, db2 = write_config(other, extra=window)
    conf2.write_text(conf2.read_text().replace(str(db2), str(db)))
    start(procs, conf)
    # The second only once the first has taken its place in the log: a first run
    # publishes only what comes after it (mcstatus.c), so had the second recorded the
    # window before the first started, the first would rightly never announce it.
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first mcstatus's page")
    start(procs, conf2, name="mcstatus-second")

    def bodies():
        return [json.loads(r["body"]) for r in receiver.got("/hook")]

    def named(rel):
        return [m for m in maintenances(site, rel) if m["name"] == "Switch firmware"]

    wait_for(lambda: bodies(), timeout=20, what="the scheduled announcement")
    mid = bodies()[0]["maintenance"]["id"]
    assert bodies()[0]["type"] == "maintenance.scheduled" and mid.startswith("m")
    # The page shows the recorded one, not the window's occurrence besides it.
    wait_for(lambda: [m["id"] for m in named("api/v2/scheduled-maintenances.json")] ==
             [mid], what="the recorded window on the page")
    wait_for(lambda: "maintenance.completed" in [b["type"] for b in bodies()], timeout=30,
             what="the window completed by time")
    got = bodies()
    assert [b["type"] for b in got] == ["maintenance.scheduled", "maintenance.started",
                                        "maintenance.completed"]
    assert {b["maintenance"]["id"] for b in got} == {mid}
    assert [c["id"] for c in got[1]["components"]] == ["c1", "c2"]
    assert {c["status"] for c in got[1]["components"]} == {"under_maintenance"}
    assert got[0]["text"].startswith("Scheduled maintenance: Switch firmware (")
    for b in receiver.got("/hook"):
        for s in SECRETS + [WINDOW_NAME, "config:"]:
            assert s not in b["body"].decode()
    # One row, one event of each kind, though two mcstatus read the window.
    rows = json.loads(mctl(conf, "--json", "maintenance", "list", "--all").stdout)[
        "maintenances"]
    assert [(f"m{r['id']}", r["created_by"], r["cluster"]) for r in rows] == [
        (mid, f"config:{WINDOW_NAME}", "c1 c2")]
    log = Log(str(db))
    for kind in ["scheduled", "started", "completed"]:
        assert len(log.events(type_=f"maintenance_{kind}")) == 1, kind
    wait_for(lambda: [m["status"] for m in named("api/v2/scheduled-maintenances.json")] ==
             ["completed"], what="the completed window on the page")
    for d in [site, site2]:
        for path in d.rglob("*"):
            if path.is_file():
                assert WINDOW_NAME not in path.read_text(errors="replace"), path


@pytest.fixture(scope="module")
def prosody(tmp_path_factory):
    d = tmp_path_factory.mktemp("prosody")
    ps = Procs(d)
    server = Prosody(ps, d, ["mcalert", "alice", "bob"], group=["mcalert", "alice", "bob"])
    server.start()
    yield server
    ps.stop_all()


def test_an_incident_during_a_maintenance_is_recorded_not_paged_until_it_is_over(
        procs, tmp_path, prosody):
    alice = Engineer("alice", prosody.port).start()
    try:
        db = str(tmp_path / "mcops.db")
        log = Log(db)
        cfg = alerter_config(str(tmp_path / "mcops.conf"), port=prosody.port, db=db,
                             steps=["oncall", jid("bob")], waits=["1s", "1s"],
                             authorized=["alice", "bob"],
                             extra="[cluster c1]\n[cluster c2]\n"
                             # a cluster needs a node (lib/cluster.c); none is started
                             "[node n1]\ncluster = c1\nclient = 127.0.0.1:1\n"
                             "[node n2]\ncluster = c2\nclient = 127.0.0.1:2\n")
        log.mctl("-f", cfg, "incidents")  # creates the log
        mid = schedule(cfg, "--cluster", "c1", "--from", "now", "--until", "+1h", "--title",
                       "Upgrade of C1", db=db)
        p = start_mcalert(procs, cfg)
        wait_log_line(procs, p, "connected to the chat server")
        wait_log_line(procs, p, "started:")
        inc = log.open()  # cluster c1
        paged = log.wait(lambda: log.events(inc, "paged"), what="the held page recorded")
        body = json.loads(paged[0][5])
        assert body["suppressed"] is True and body["window"] == f"maintenance #{mid}"
        shown = log.mctl("-f", cfg, "show", str(inc)).stdout
        assert f"maintenance #{mid}" in shown
        # Abuse: an incident of another cluster is paged as usual, and the held one is
        # still not sent by then (the other page is the synchronisation).
        r = log.mctl("-f", cfg, "--json", "open", "--title", "Elsewhere", "--severity",
                     "major", "--cluster", "c2")
        alice.wait_page(json.loads(r.stdout)["id"], timeout=15)
        assert alice.pages(inc) == []
        assert len(log.pages(inc)) == 1
        # Completed early: the held page goes out.
        mctl(cfg, "--db", db, "maintenance", "complete", str(mid))
        alice.wait_page(inc, timeout=15)
        assert [json.loads(e[5]).get("suppressed") for e in log.events(inc, "paged")] == [
            True, None]
    finally:
        alice.stop()
