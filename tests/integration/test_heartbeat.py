"""The toolkit watches itself: mcmon's heartbeat row, its /metrics export of every
daemon's heartbeat age, mcalert paging "monitoring is not running" when mcmon is
stopped (SIGSTOP) and resolving it on SIGCONT, `mctl status` showing the rows, and
mcalert's dead man's switch ping. No Prosody: the XMPP port is one nobody listens on,
so the page goes out through the fallback webhook (a loopback HTTP server) exactly as
any page does while the chat server is unreachable.
"""
import json
import re
import signal
import sqlite3
import time

from conftest import free_port
from mcmontest import Deployment, wait_for
from xmpptest import Engineer, Prosody, jid, start_mcalert, wait_log_line, write_config

STALE = 2.0  # heartbeat_stale in these tests, seconds


def heartbeats(db):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return {r[0]: {"pid": r[1], "beat_at": r[2], "interval_ms": r[3]} for r in
                con.execute("SELECT daemon, pid, beat_at, interval_ms FROM heartbeats")}
    finally:
        con.close()


def metric(text, name, daemon):
    m = re.search(rf'^{name}{{daemon="{daemon}"}} (\S+)$', text, re.M)
    return float(m.group(1)) if m else None


def deployment(procs, tmp_path, hook=None, alerter_extra="", xmpp_port=None):
    """One mcd node, mcmon beating every 200 ms, and an mcalert configuration in the
    same file (mcmon is expected: the file names a cluster). Without xmpp_port the chat
    server is unreachable and pages go to the hook's /page."""
    d = Deployment(procs, tmp_path)
    d.start_node("n1")
    if hook is not None:
        alerter_extra = (f"fallback_url = http://127.0.0.1:{hook.server_port}/page\n"
                         "fallback_after = 0\nfallback_timeout = 2s\n" + alerter_extra)
    alerter = write_config(str(tmp_path / "alerter.part"), port=xmpp_port or free_port(),
                           db=str(d.db), steps=["oncall", jid("bob")], waits=["30s", "30s"],
                           extra_alerter=f"heartbeat_stale = {int(STALE * 1000)}ms\n"
                                         "heartbeat_interval = 200ms\n" + alerter_extra)
    d.write_config(monitor={"heartbeat_interval": "200ms"},
                   extra="\n" + open(alerter).read())
    return d


def test_mcmon_beats_and_exports_every_daemons_heartbeat_age(tmp_path, procs):
    d = Deployment(procs, tmp_path)
    d.start_node("n1")
    d.write_config(monitor={"heartbeat_interval": "200ms"})
    d.start_mcmon()
    row = wait_for("mcmon's heartbeat row", lambda: heartbeats(d.db).get("mcmon"), 10)
    assert row["pid"] == d.mcmon.pid and row["interval_ms"] == 200
    first = row["beat_at"]
    wait_for("a newer beat", lambda: heartbeats(d.db)["mcmon"]["beat_at"] > first, 5)

    # Another daemon's row, last renewed a minute ago: exported as old and down.
    con = sqlite3.connect(str(d.db), timeout=5)
    with con:
        con.execute("INSERT INTO heartbeats VALUES ('mcalert', 4242, 'elsewhere',"
                    " ?, 5000, ?)", (int(time.time() * 1000) - 60000,
                                     int(time.time() * 1000) - 120000))
    con.close()
    _, text = d.metrics()
    assert metric(text, "mcops_heartbeat_up", "mcmon") == 1
    assert metric(text, "mcops_heartbeat_age_seconds", "mcmon") < 5
    assert metric(text, "mcops_heartbeat_up", "mcalert") == 0
    assert 59 <= metric(text, "mcops_heartbeat_age_seconds", "mcalert") < 120
    assert metric(text, "mcops_heartbeat_up", "mcstatus") is None  # never beat: no sample
    assert re.search(r"^mcops_heartbeat_write_failures_total 0$", text, re.M)

    # mctl status shows the rows: up, stale, never; and in --json.
    wait_for("the monitor's view", d.view, 10)
    r = d.mctl("status")
    assert re.search(r"^  mcmon +up .*pid %d" % d.mcmon.pid, r.stdout, re.M), r.stdout
    assert re.search(r"^  mcalert +STALE .*pid 4242 on elsewhere", r.stdout, re.M), r.stdout
    assert re.search(r"^  mcstatus +never$", r.stdout, re.M), r.stdout
    r = d.mctl("--json", "status")
    beats = {b["daemon"]: b for b in json.loads(r.stdout)["heartbeats"]}
    assert beats["mcmon"]["state"] == "up" and beats["mcmon"]["pid"] == d.mcmon.pid
    assert beats["mcalert"]["state"] == "stale" and beats["mcalert"]["age_ms"] >= 59000
    assert beats["mcstatus"]["state"] == "never" and beats["mcstatus"]["age_ms"] is None
    d.stop_mcmon()


def test_a_stopped_mcmon_pages_monitoring_is_not_running_and_sigcont_resolves_it(
        tmp_path, procs, hook):
    d = deployment(procs, tmp_path, hook)
    d.start_mcmon()
    wait_for("mcmon's heartbeat row", lambda: heartbeats(d.db).get("mcmon"), 10)
    p = start_mcalert(procs, str(d.config))
    wait_log_line(procs, p, "started:")
    wait_for("mcalert's heartbeat row", lambda: heartbeats(d.db).get("mcalert"), 10)
    time.sleep(STALE + 1)  # a beating mcmon is not paged, however long we wait
    assert not d.incidents("heartbeat")

    d.mcmon.send_signal(signal.SIGSTOP)
    try:
        stopped = time.monotonic()
        inc = d.wait_incident("heartbeat", timeout=STALE + 10)
        assert inc["fingerprint"] == "heartbeat:mcmon" and inc["severity"] == 3
        assert inc["title"].startswith("monitoring is not running: no heartbeat from mcmon")
        opened = d.events(inc["id"])[0]
        assert opened["type"] == "opened" and opened["actor"] == "mcalert"
        # The normal escalation pages it; with XMPP down, through the fallback webhook.
        page = wait_for("the fallback page",
                        lambda: [x for x in hook.posts if x[1] == "/page"
                                 and x[2].get("incident") == inc["id"]], 10)[0]
        assert page[0] - stopped >= STALE - 0.5  # not before the stale time
        assert "monitoring is not running" in page[2]["text"]
        assert page[2]["target"] == jid("alice")
        # mcmon's own /metrics cannot say it: it is stopped too. One incident only.
        time.sleep(1.5)
        assert len(d.incidents("heartbeat")) == 1
    finally:
        d.mcmon.send_signal(signal.SIGCONT)
    d.wait_incident("heartbeat", timeout=10, state="resolved")
    resolved = [e for e in d.events(inc["id"]) if e["type"] == "resolved"][0]
    assert resolved["actor"] == "mcalert"
    assert resolved["body"]["message"].startswith("mcmon is beating again (pid %d"
                                                  % d.mcmon.pid)
    d.stop_mcmon()
    assert procs.stop(p) == 0


def test_mcalert_pings_its_dead_mans_switch_and_logs_failures_once(tmp_path, procs, hook):
    d = deployment(procs, tmp_path, hook,
                   alerter_extra=f"heartbeat_url = http://127.0.0.1:{hook.server_port}/ping\n"
                                 "heartbeat_url_interval = 1s\nheartbeat_url_timeout = 1s\n"
                                 "heartbeat_stale = 0\n")
    p = start_mcalert(procs, str(d.config))
    wait_log_line(procs, p, "started:")
    pings = lambda: [x for x in hook.posts if x[1] == "/ping"]  # noqa: E731
    wait_for("two pings", lambda: len(pings()) >= 2, 10)
    assert pings()[0][2] == {"source": "mcalert", "status": "alive"}
    hook.status = 503
    wait_log_line(procs, p, "heartbeat_url: the ping failed: HTTP 503", timeout=10)
    n = len(pings())
    wait_for("another ping", lambda: len(pings()) >= n + 2, 10)
    # Logged once, not once per ping (the rest is rate-limited).
    assert procs.log(p).count("heartbeat_url: the ping failed: HTTP 503") == 1
    hook.status = 200
    wait_log_line(procs, p, "heartbeat_url: pinged again after", timeout=10)
    # heartbeat_stale = 0: mcmon, never started, is not expected and never paged.
    assert not d.incidents("heartbeat")
    assert procs.stop(p) == 0


def test_over_xmpp_the_on_call_is_paged_that_monitoring_is_not_running(tmp_path, procs):
    prosody = Prosody(procs, tmp_path / "prosody", ["mcalert", "alice", "bob"])
    prosody.start()
    d = deployment(procs, tmp_path, xmpp_port=prosody.port)
    alice = Engineer("alice", prosody.port).start()
    try:
        d.start_mcmon()
        p = start_mcalert(procs, str(d.config))
        wait_log_line(procs, p, "connected to the chat server")
        wait_for("mcmon's heartbeat row", lambda: heartbeats(d.db).get("mcmon"), 10)
        d.mcmon.send_signal(signal.SIGSTOP)
        try:
            inc = d.wait_incident("heartbeat", timeout=STALE + 10)
            page = alice.wait_page(inc["id"], timeout=10)
            assert f"[mcops] #{inc['id']} CRITICAL: monitoring is not running" in page["body"]
            assert "heartbeat.md" in page["body"]  # its runbook
        finally:
            d.mcmon.send_signal(signal.SIGCONT)
        d.wait_incident("heartbeat", timeout=10, state="resolved")
        assert not [x for x in d.incidents("heartbeat") if x["id"] != inc["id"]]
        d.stop_mcmon()
        assert procs.stop(p) == 0
    finally:
        alice.stop()
