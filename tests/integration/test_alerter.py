"""mcalert against a private Prosody, with slixmpp clients playing the engineers.

One Prosody serves the whole module (accounts are registered once); each test has its
own incident log, configuration and mcalert. Waits in the configurations are seconds,
so each test takes a few seconds; every wait here is bounded.
"""
import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest

from conftest import Procs, binary, free_port, wait_port
from xmpptest import (MUC, Engineer, Log, Prosody, jid, start_mcalert, wait_log_line,
                      write_config)

USERS = ["mcalert", "alice", "bob", "carol", "mallory"]
ROOM = f"ops@{MUC}"
MCALERT = jid("mcalert") + "/mcalert"


@pytest.fixture(scope="module")
def prosody(tmp_path_factory):
    d = tmp_path_factory.mktemp("prosody")
    ps = Procs(d)
    server = Prosody(ps, d, USERS, group=["mcalert", "alice", "bob", "carol"])
    server.start()
    yield server
    ps.stop_all()


@pytest.fixture
def engineers(prosody):
    started = []

    def start(user, **kw):
        e = Engineer(user, prosody.port, **kw).start()
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop()


@pytest.fixture
def world(tmp_path, procs, prosody):
    """An incident log and a function that writes a configuration and starts mcalert."""
    db = str(tmp_path / "mcops.db")
    log = Log(db)
    log.mctl("incidents")  # creates the log

    def start(**kw):
        kw.setdefault("steps", ["oncall", jid("bob")])
        kw.setdefault("authorized", ["alice", "bob", "carol"])
        cfg = write_config(str(tmp_path / "mcops.conf"), port=prosody.port, db=db, **kw)
        p = start_mcalert(procs, cfg)
        wait_log_line(procs, p, "connected to the chat server")
        wait_log_line(procs, p, "started:")
        return p

    log.start = start
    log.tmp = tmp_path
    return log


def ack_reply(m):
    return "paging stopped" in m["body"]


def test_a_page_arrives_with_its_facts_and_its_receipt_is_recorded(world, engineers):
    alice = engineers("alice")
    world.start()
    inc = world.open(title="Connection storm on c1")
    page = alice.wait_page(inc, timeout=15)
    body = page["body"]
    assert f"[mcops] #{inc} MAJOR: Connection storm on c1" in body
    assert "Runbook: docs/runbooks/manual.md" in body
    assert f'"ack {inc}"' in body
    assert "Step 1 of 2" in body
    rows = world.wait(lambda: [p for p in world.pages(inc) if p[4]], what="a receipt")
    assert rows[0][2] == jid("alice") and rows[0][1] == 1
    delivered = world.events(inc, "delivered")
    assert delivered and delivered[0][3] == "xmpp:" + jid("alice")
    assert json.loads(world.events(inc, "paged")[0][5])["reason"] == "opened"
    # The page is markable: a displayed marker is recorded too, and is not an ack.
    alice.mark_displayed(page)
    shown = world.wait(lambda: world.events(inc, "displayed"), what="the displayed marker")
    assert shown[0][3] == "xmpp:" + jid("alice")
    assert world.q("SELECT displayed_at FROM pages WHERE incident_id = ?", inc)[0][0]
    assert world.state(inc)[0] == "open"
    # Abuse: a second incident is a second page, not a repeat of the first.
    other = world.open(title="Latency tail on c1")
    assert other != inc
    alice.wait_page(other, timeout=15)
    assert len(alice.pages(inc)) == 1


def test_an_unacknowledged_page_escalates_to_the_second_step_after_its_wait(world, engineers):
    alice, bob = engineers("alice"), engineers("bob")
    world.start(waits=["2s", "30s"], final="room:" + ROOM)
    t0 = time.monotonic()
    inc = world.open()
    alice.wait_page(inc, timeout=15)
    deadline = world.wait(lambda: world.pages(inc)[0][7], what="the first step's deadline")
    page = bob.wait_page(inc, timeout=30)
    # Never before the wait: a lower bound holds on any machine. How late after it
    # depends on the machine, so what is checked is the pager's decision, in the log:
    # the wait ran out (the reason), and step 2 went out at or after step 1's deadline,
    # which was step 1's page plus wait1.
    assert page["at"] - t0 >= 1.8, page["at"] - t0
    assert "Step 2 of 2" in page["body"] and "not acknowledged within 2s" in page["body"]
    world.wait(lambda: world.pages(inc)[0][7] is None, what="the first deadline stopped")
    rows = world.pages(inc)
    assert [(r[1], r[2]) for r in rows] == [(1, jid("alice")), (2, jid("bob"))]
    assert deadline - rows[0][3] == 2000 and rows[1][3] >= deadline, (deadline, rows)
    assert json.loads(world.events(inc, "paged")[-1][5])["reason"] == "timeout"
    # Only the newest page holds a deadline.
    assert rows[0][7] is None and rows[1][7] is not None
    # Abuse: nothing more is paged before the second wait ends.
    time.sleep(1.0)
    assert len(world.pages(inc)) == 2 and len(alice.pages(inc)) == 1


def test_an_ack_by_chat_stops_the_escalation_and_is_recorded_with_the_jid(world, engineers):
    alice, bob = engineers("alice"), engineers("bob")
    world.start(waits=["2s", "2s"])
    inc = world.open()
    alice.wait_page(inc, timeout=15)
    t = time.monotonic()
    alice.say(MCALERT, f"ack {inc} looking at it")
    reply = alice.wait_for(lambda m: ack_reply(m) and m["at"] > t, timeout=15, what="ack reply")
    assert f"#{inc} acknowledged" in reply["body"]
    assert world.state(inc) == ("acknowledged", "xmpp:" + jid("alice"))
    acked = world.events(inc, "acked")
    assert len(acked) == 1 and json.loads(acked[0][5])["message"] == "looking at it"
    time.sleep(3.0)
    assert bob.pages(inc) == [] and len(world.pages(inc)) == 1
    # Abuse: the same command again changes nothing and says so.
    t = time.monotonic()
    alice.say(MCALERT, f"ack #{inc}")
    again = alice.wait_text("already acknowledged", timeout=15, after=t)
    assert "alice@localhost" in again["body"]
    assert len(world.events(inc, "acked")) == 1


def test_ack_without_a_number_takes_your_latest_page_and_others_hear_of_it(world, engineers):
    alice, bob = engineers("alice"), engineers("bob")
    world.start(waits=["1s", "30s"])
    inc = world.open()
    bob.wait_page(inc, timeout=15)
    t = time.monotonic()
    bob.say(MCALERT, "ack")
    bob.wait_for(lambda m: ack_reply(m) and m["at"] > t, timeout=15, what="ack reply")
    assert world.state(inc) == ("acknowledged", "xmpp:" + jid("bob"))
    note = alice.wait_text(f"#{inc} acknowledged by bob@localhost", timeout=15)
    assert "Connection storm" in note["body"]
    # Abuse: bob hears no notice of his own acknowledgement.
    time.sleep(0.5)
    assert not [m for m in bob.texts() if "acknowledged by bob" in m]


def test_an_offline_primary_makes_the_secondary_be_paged_at_once(world, engineers):
    bob = engineers("bob")  # alice, the on-call, is not online
    world.start(waits=["20s", "20s"])
    inc = world.open()
    page = bob.wait_page(inc, timeout=30)
    # Paged because the first page failed, not because the 20 s wait ran out: the
    # reason the pager recorded says which, however long the machine took.
    assert json.loads(world.events(inc, "paged")[-1][5])["reason"] == "failed"
    assert "failed" in page["body"] and jid("alice") in page["body"]
    rows = world.pages(inc)
    assert rows[0][2] == jid("alice") and rows[0][5] is not None
    assert rows[0][6] in ("target offline", "bounced: service-unavailable",
                          "bounced: recipient-unavailable"), rows[0][6]
    assert world.events(inc, "page_failed")


def test_an_unauthorised_jid_can_neither_acknowledge_nor_resolve(world, engineers, procs):
    alice, mallory = engineers("alice"), engineers("mallory")
    p = world.start(waits=["30s", "30s"])
    inc = world.open()
    alice.wait_page(inc, timeout=15)
    for text in (f"ack {inc}", f"resolve {inc}", f"ack {inc}"):
        mallory.say(MCALERT, text)
    refusal = mallory.wait_text("not allowed", timeout=15)
    assert "Sorry" in refusal["body"]
    time.sleep(1.0)
    assert world.state(inc) == ("open", None)
    assert not world.events(inc, "acked") and not world.events(inc, "resolved")
    # Refused once in the log, however many times it tries; one reply per minute.
    assert procs.log(p).count("refused a command from mallory@localhost") == 1
    assert len([m for m in mallory.texts() if "not allowed" in m]) == 1


def test_the_final_step_reaches_the_team_room(world, engineers):
    carol = engineers("carol", room=ROOM)
    world.start(steps=["oncall"], waits=["1s"], final="room:" + ROOM)
    inc = world.open()
    page = carol.wait_for(lambda m: m["type"] == "groupchat" and f"#{inc} " in m["body"],
                          timeout=15, what="a page in the room")
    assert "Final step" in page["body"]
    assert f'Send "ack {inc}" to mcalert@localhost' in page["body"]
    rows = world.wait(lambda: [r for r in world.pages(inc) if r[2] == "room:" + ROOM and r[4]],
                      what="the room's echo recorded as delivery")
    assert rows[0][1] == 2
    # Abuse: the escalation ends there; nothing follows the final step.
    time.sleep(1.5)
    assert len(world.pages(inc)) == 2


def test_the_ack_timeout_pages_an_acknowledged_open_incident_again(world, engineers):
    alice = engineers("alice")
    world.start(steps=["oncall"], waits=["30s"], ack_timeout="2s")
    inc = world.open()
    first = alice.wait_page(inc, timeout=15)
    t = time.monotonic()
    alice.say(MCALERT, f"ack {inc}")
    alice.wait_for(lambda m: ack_reply(m) and m["at"] > t, timeout=15, what="ack reply")
    again = alice.wait_page(inc, timeout=15, after=first["at"])
    assert "still open" in again["body"] and again["at"] - t >= 1.8
    assert json.loads(world.events(inc, "paged")[-1][5])["reason"] == "ack_timeout"
    t = time.monotonic()
    alice.say(MCALERT, f"ack {inc}")
    alice.wait_text("acknowledged again", timeout=15, after=t)
    assert len(world.events(inc, "ack_renewed")) == 1
    # Abuse: a resolved incident is never paged again.
    world.mctl("resolve", str(inc))
    n = len(alice.pages(inc))
    time.sleep(2.5)
    assert len(alice.pages(inc)) == n


def test_chat_commands_answer_and_resolve_is_harmless_when_repeated(world, engineers):
    alice = engineers("alice")
    world.start(waits=["30s", "30s"])
    inc = world.open(title="Node down: n1")
    alice.wait_page(inc, timeout=15)
    for cmd, expect in (("help", "ack N [note]"), ("status", "On call (oncall): alice@localhost"),
                        ("incidents", f"#{inc} major open: Node down: n1"),
                        ("frobnicate", 'Unknown command "frobnicate"'),
                        ("resolve", "resolve needs an incident number"),
                        ("ack 99999", "There is no incident #99999")):
        t = time.monotonic()
        alice.say(MCALERT, cmd)
        alice.wait_text(expect, timeout=15, after=t)
    # mcalert answers XEP-0199 pings itself (libstrophe does not): ping() raises
    # without an answer.
    alice.ping(MCALERT, timeout=15)
    t = time.monotonic()
    alice.say(MCALERT, f"resolve {inc} restarted n1")
    alice.wait_text(f"#{inc} resolved.", timeout=15, after=t)
    assert world.state(inc)[0] == "resolved"
    t = time.monotonic()
    alice.say(MCALERT, f"resolve {inc}")
    alice.wait_text("already resolved", timeout=15, after=t)
    assert len(world.events(inc, "resolved")) == 1
    # Reopened: a new escalation from step 1.
    t = time.monotonic()
    world.mctl("reopen", str(inc))
    page = alice.wait_page(inc, timeout=15, after=t)
    assert "the incident was reopened" in page["body"]


def test_a_maintenance_window_records_pages_without_sending_them(world, engineers):
    alice = engineers("alice")
    start = time.strftime("%Y-%m-%d %H:%M", time.gmtime(time.time() - 120))
    world.start(waits=["1s", "1s"],
                extra=f"[maintenance upgrade]\nstart = {start}\nduration = 1h\nclusters = c1\n")
    inc = world.open()  # cluster c1
    paged = world.wait(lambda: world.events(inc, "paged"), what="the held page recorded")
    body = json.loads(paged[0][5])
    assert body["suppressed"] is True and body["window"] == "upgrade"
    time.sleep(2.0)
    assert alice.pages(inc) == []
    assert len(world.pages(inc)) == 1  # held: no escalation through the window
    # Abuse: an incident of another cluster is paged as usual.
    r = world.mctl("--json", "open", "--title", "Elsewhere", "--severity", "major",
                   "--cluster", "c2")
    alice.wait_page(json.loads(r.stdout)["id"], timeout=15)


def test_a_prosody_restart_mid_escalation_reconnects_and_continues_without_a_duplicate(
        world, engineers, prosody, procs):
    alice = engineers("alice")
    p = world.start(waits=["3s", "30s"])
    inc = world.open()
    alice.wait_page(inc, timeout=15)
    world.wait(lambda: world.pages(inc)[0][4], what="the receipt")
    alice.stop()
    prosody.stop()
    wait_log_line(procs, p, "lost the chat server")
    # The second step's deadline passes while the server is down: decided, recorded.
    world.wait(lambda: len(world.pages(inc)) == 2, timeout=15, what="the second step recorded")
    time.sleep(1.5)  # longer than late_after: the page goes out late
    prosody.start()
    alice2, bob = engineers("alice"), engineers("bob")
    page = bob.wait_page(inc, timeout=30)
    assert "LATE by" in page["body"]
    assert procs.log(p).count("connected to the chat server") >= 2
    late = world.wait(lambda: world.events(inc, "page_late"), what="the late mark")
    assert json.loads(late[0][5])["target"] == jid("bob")
    time.sleep(1.0)
    assert alice2.pages(inc) == []           # the delivered page is not sent again
    assert len(bob.pages(inc)) == 1
    assert [r[1] for r in world.pages(inc)] == [1, 2]


def test_mcalert_killed_and_restarted_resumes_the_escalation_at_the_right_step(
        world, engineers, procs):
    alice, bob = engineers("alice"), engineers("bob")
    p = world.start(waits=["3s", "3s"], final="room:" + ROOM)
    t0 = time.monotonic()
    inc = world.open()
    alice.wait_page(inc, timeout=15)
    world.wait(lambda: world.pages(inc)[0][4], what="the receipt")
    deadline = world.pages(inc)[0][7]
    assert deadline is not None
    procs.stop(p, sig=signal.SIGKILL)
    time.sleep(0.5)
    p2 = start_mcalert(procs, str(world.tmp / "mcops.conf"), name="mcalert2")
    wait_log_line(procs, p2, "connected to the chat server")
    # The restarted pager keeps step 1's deadline (it lives in the log): checked on the
    # log, not on a clock, so a slow restart cannot make it look reset or kept.
    rows = world.pages(inc)
    assert len(rows) == 2 or rows[0][7] == deadline, (deadline, rows)
    page = bob.wait_page(inc, timeout=30)
    assert page["at"] - t0 >= 2.5, page["at"] - t0  # never before the wait
    assert world.pages(inc)[1][3] >= deadline
    time.sleep(1.0)
    assert len(alice.pages(inc)) == 1 and len(bob.pages(inc)) == 1
    assert [r[1] for r in world.pages(inc)] == [1, 2]
    # Killed again after the deadline passed: the next step is paged once on restart.
    procs.stop(p2, sig=signal.SIGKILL)
    time.sleep(3.5)
    p3 = start_mcalert(procs, str(world.tmp / "mcops.conf"), name="mcalert3")
    wait_log_line(procs, p3, "paging step 3")
    time.sleep(1.0)
    assert [r[1] for r in world.pages(inc)] == [1, 2, 3]
    assert procs.log(p3).count("paging step") == 1


def test_a_page_sent_before_a_kill_is_not_sent_again_after_the_restart(
        world, engineers, procs):
    # alice's client sends no receipt, as when the receipt went to the killed session.
    alice = engineers("alice", receipts=False)
    p = world.start(waits=["30s", "30s"])
    inc = world.open()
    alice.wait_page(inc, timeout=15)
    sent = world.wait(lambda: world.events(inc, "page_sent"), what="the page_sent event")
    assert json.loads(sent[0][5])["target"] == jid("alice")
    assert not world.pages(inc)[0][4]  # no receipt
    procs.stop(p, sig=signal.SIGKILL)
    p2 = start_mcalert(procs, str(world.tmp / "mcops.conf"), name="mcalert2")
    wait_log_line(procs, p2, "went out before a restart; not sent again")
    time.sleep(1.5)
    assert len(alice.pages(inc)) == 1
    assert len(world.events(inc, "page_sent")) == 1
    assert [r[1] for r in world.pages(inc)] == [1]


def _post(port, payload, token=None, method="POST", path="/alertmanager"):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=15) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _alert(status, fp="3d7a1b2c4e5f6071"):
    return {
        "version": "4", "status": status, "receiver": "mcops", "groupKey": "{}:{}",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager", "truncatedAlerts": 0, "unknownField": [1],
        "alerts": [{
            "status": status, "fingerprint": fp,
            "labels": {"alertname": "MemcacheDown", "severity": "critical", "cluster": "c1",
                       "node": "n1", "kind": "node_down"},
            "annotations": {"summary": "n1 is not answering"},
            "startsAt": "2024-05-01T10:00:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph"}]}


def test_an_alertmanager_payload_opens_and_then_resolves_an_incident(world, engineers, tmp_path):
    alice = engineers("alice")
    port = free_port()
    token = tmp_path / "intake.token"
    token.write_text("s3cret-token\n")
    world.start(extra_alerter=f"intake = 127.0.0.1:{port}\nintake_token_file = {token}",
                waits=["30s", "30s"])
    wait_port(port)
    status, body = _post(port, _alert("firing"), token="s3cret-token")
    assert status == 200 and body["opened"] == 1
    rows = world.q("SELECT id, kind, severity, cluster, node, title, state FROM incidents"
                   " WHERE fingerprint = 'am:3d7a1b2c4e5f6071'")
    assert len(rows) == 1
    inc, kind, severity, cluster, node, title, state = rows[0]
    assert (kind, severity, cluster, node, title, state) == (
        "node_down", 3, "c1", "n1", "n1 is not answering", "open")
    page = alice.wait_page(inc, timeout=15)
    assert "CRITICAL" in page["body"] and "Runbook: docs/runbooks/node_down.md" in page["body"]
    # Alertmanager repeats a firing alert: still one incident.
    status, body = _post(port, _alert("firing"), token="s3cret-token")
    assert status == 200 and body["opened"] == 0 and body["updated"] == 1
    status, body = _post(port, _alert("resolved"), token="s3cret-token")
    assert status == 200 and body["resolved"] == 1
    assert world.state(inc)[0] == "resolved"
    assert world.events(inc, "resolved")[0][3] == "alertmanager"
    alice.wait_text(f"#{inc} resolved by alertmanager", timeout=15)
    # Abuse: no token, a wrong one, not JSON, not a webhook, a wrong method or path.
    assert _post(port, _alert("firing", fp="aa"))[0] == 401
    assert _post(port, _alert("firing", fp="aa"), token="wrong")[0] == 401
    assert _post(port, b"{not json", token="s3cret-token")[0] == 400
    assert _post(port, {"alerts": "nope"}, token="s3cret-token")[0] == 400
    assert _post(port, b"", token="s3cret-token", method="GET")[0] == 405
    assert _post(port, _alert("firing"), token="s3cret-token", path="/other")[0] == 404
    assert len(world.q("SELECT id FROM incidents")) == 1


def test_mctl_oncall_override_redirects_pages_and_a_test_page_is_delivered(world, engineers,
                                                                          procs):
    alice, bob = engineers("alice"), engineers("bob")
    p = world.start(waits=["30s", "30s"], members=["alice", "carol"])
    cfg = str(world.tmp / "mcops.conf")
    r = world.mctl("-f", cfg, "--json", "oncall")
    now = json.loads(r.stdout)["rotations"][0]
    assert now["rotation"] == "oncall" and now["now"]["jid"] in (jid("alice"), jid("carol"))
    r = world.mctl("-f", cfg, "--json", "oncall", "override", jid("bob"), "--until", "1h")
    override = json.loads(r.stdout)["id"]
    r = world.mctl("-f", cfg, "oncall")
    assert f"oncall: {jid('bob')} (override)" in r.stdout
    wait_log_line(procs, p, "on-call override recorded")  # mcalert has tailed it
    inc = world.open()
    page = bob.wait_page(inc, timeout=15)
    assert "Step 1 of 2" in page["body"]
    assert json.loads(world.events(inc, "paged")[0][5])["via"] == "oncall:oncall"
    world.mctl("-f", cfg, "oncall", "cancel", str(override))
    assert "(override)" not in world.mctl("-f", cfg, "oncall").stdout
    r = world.mctl("page", "--test", jid("alice"), "--wait", "10s")
    assert "delivered to alice@localhost" in r.stdout
    alice.wait_text("Test page", timeout=15)
    doc = json.loads(world.mctl("--json", "page", "--test", jid("alice"), "--wait", "10s").stdout)
    assert (doc["target"], doc["outcome"]) == (jid("alice"), "delivered"), doc
    assert isinstance(doc["elapsed_ms"], int) and doc["elapsed_ms"] >= 0 and doc["request"] > 0
    # Abuse: a test page to someone offline fails; bad arguments are usage errors.
    r = world.mctl("page", "--test", jid("mallory"), "--wait", "10s", check=False)
    assert r.returncode == 1 and "failed" in r.stdout
    assert world.mctl("page", "--test", "not-a-jid", check=False).returncode == 2
    assert world.mctl("-f", cfg, "oncall", "override", jid("bob"), "--until", "yesterday",
                      check=False).returncode == 2
    assert world.mctl("-f", cfg, "oncall", "cancel", "424242", check=False).returncode == 1


def test_a_server_that_stops_answering_is_detected_by_pings_and_left(world, prosody, procs):
    p = world.start()
    os.kill(prosody.proc.pid, signal.SIGSTOP)
    try:
        # ping_interval and ping_timeout are 2 s each in the tests' configuration.
        wait_log_line(procs, p, "no answer to a ping", timeout=20)
    finally:
        os.kill(prosody.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + 15
    while procs.log(p).count("connected to the chat server") < 2:
        assert time.monotonic() < deadline, procs.log(p)
        time.sleep(0.1)


def _send_raw(engineer, build):
    """Builds and sends a stanza on the engineer's own loop (build(client) -> stanza)."""
    done = __import__("threading").Event()

    def _go():
        build(engineer.client).send()
        done.set()

    engineer.loop.call_soon_threadsafe(_go)
    assert done.wait(5)


def test_a_reply_cut_inside_a_character_does_not_cost_the_pager_its_session(
        world, engineers, procs):
    alice = engineers("alice")
    p = world.start(waits=["30s", "30s"])
    # An unknown verb longer than the reply quotes, with a two-byte character
    # straddling the cut: the reply must still be well-formed XML.
    verb = "x" + "é" * 40
    t = time.monotonic()
    alice.say(MCALERT, verb)
    reply = alice.wait_text("Unknown command", timeout=15, after=t)
    assert "\ufffd" not in reply["body"]
    time.sleep(1.0)
    assert "lost the chat server" not in procs.log(p)
    t = time.monotonic()
    alice.say(MCALERT, "ack " + "☃" * 10)
    alice.wait_text("is not an incident number", timeout=15, after=t)
    time.sleep(1.0)
    assert "lost the chat server" not in procs.log(p)


def test_a_title_with_a_character_xml_forbids_is_still_paged_once(world, engineers, procs):
    alice = engineers("alice")
    p = world.start(waits=["30s", "30s"])
    inc = world.open(title="Disk full \uffff on n1")
    page = alice.wait_page(inc, timeout=15)
    assert "Disk full" in page["body"]
    time.sleep(1.5)
    assert "lost the chat server" not in procs.log(p)
    assert len(alice.pages(inc)) == 1


def test_receipts_and_bounces_count_only_from_the_page_target(world, engineers):
    # alice sends no receipt by herself: the test sends them by hand.
    alice, bob, mallory = (engineers("alice", receipts=False), engineers("bob"),
                           engineers("mallory"))
    world.start(waits=["30s", "30s"])
    inc = world.open()
    page = alice.wait_page(inc, timeout=15)
    pid = page["id"]

    def receipt(c):
        m = c.make_message(mto=MCALERT)
        m["receipt"] = pid
        return m

    def bounce(c):
        m = c.make_message(mto=MCALERT, mtype="error")
        m["id"] = pid
        m["error"]["type"] = "cancel"
        m["error"]["condition"] = "service-unavailable"
        return m

    # Abuse: someone who was not paged forges a receipt and a bounce for the page.
    _send_raw(mallory, receipt)
    _send_raw(mallory, bounce)
    _send_raw(bob, bounce)
    time.sleep(1.5)
    rows = world.pages(inc)
    assert len(rows) == 1 and rows[0][4] is None and rows[0][5] is None, rows
    assert not world.events(inc, "delivered") and not world.events(inc, "page_failed")
    assert bob.pages(inc) == []
    # The target's own receipt counts.
    _send_raw(alice, receipt)
    world.wait(lambda: world.pages(inc)[0][4], what="alice's receipt recorded")
    assert world.events(inc, "delivered")[0][3] == "xmpp:" + jid("alice")


def test_a_reload_onto_a_new_connection_sends_an_unreceipted_page_again(
        world, engineers, procs):
    # alice's client sends no receipt: the page stays unconfirmed.
    alice = engineers("alice", receipts=False)
    p = world.start(waits=["30s", "30s"])
    inc = world.open()
    first = alice.wait_page(inc, timeout=15)
    cfg = world.tmp / "mcops.conf"
    cfg.write_text(cfg.read_text().replace("[alerter]\n", "[alerter]\nresource = pager2\n", 1))
    p.send_signal(signal.SIGHUP)
    wait_log_line(procs, p, "configuration reloaded")
    # A new connection is a reconnection: the unconfirmed page goes out on it once.
    again = alice.wait_page(inc, timeout=15, after=first["at"])
    assert again["id"] != first["id"]
    time.sleep(1.5)
    assert len(alice.pages(inc)) == 2
    assert [r[1] for r in world.pages(inc)] == [1]
    assert len(world.events(inc, "page_sent")) == 1


def test_two_pagers_on_one_resource_back_off_instead_of_kicking_each_other_in_a_loop(
        world, procs):
    # A restart that overlaps the old process (or a stray copy) logs in with the same
    # account and resource: the server ends the other's session at each login.
    p1 = world.start(waits=["30s", "30s"])
    p2 = start_mcalert(procs, str(world.tmp / "mcops.conf"), name="mcalert2")
    time.sleep(6.0)
    logins = sum(procs.log(p).count("connected to the chat server") for p in (p1, p2))
    # reconnect_min = 200ms, reconnect_max = 1s in the tests' configuration: sessions
    # the server ends at once must walk the backoff up, not restart it each time.
    assert logins <= 18, logins  # about 12; 30 and more when each login resets it
    assert p1.poll() is None and p2.poll() is None


def _health(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as r:
        return json.loads(r.read())


def test_a_log_locked_by_another_process_stops_neither_pings_nor_timers_and_loses_nothing(
        world, engineers, procs, tmp_path):
    import sys
    alice, bob = engineers("alice"), engineers("bob")
    port = free_port()
    token = tmp_path / "intake.token"
    token.write_text("lock-test-token\n")
    p = world.start(extra_alerter=f"intake = 127.0.0.1:{port}\nintake_token_file = {token}",
                    waits=["2s", "30s"])
    wait_port(port)
    escalating, acked = world.open(title="Storm A"), world.open(title="Storm B")
    alice.wait_page(escalating, timeout=5)
    alice.wait_page(acked, timeout=5)
    world.wait(lambda: all(r[4] for i in (escalating, acked) for r in world.pages(i)),
               timeout=5, what="both receipts recorded")
    # Another process takes the log's write lock and keeps it for 8 s.
    holder = procs.start([sys.executable, "-c", (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)\n"
        "c.execute('BEGIN IMMEDIATE')\n"
        "print('locked', flush=True)\n"
        "time.sleep(8)\n"
        "c.execute('ROLLBACK')\n"), world.db], name="lockholder")
    world.wait(lambda: "locked" in procs.log(holder), timeout=10, what="the lock taken")
    t0 = time.monotonic()
    # An acknowledgement by chat is kept, not refused.
    alice.say(MCALERT, f"ack {acked}")
    alice.wait_text(f"#{acked}: the incident log is busy", timeout=5)
    # The first step's 2 s pass with the lock held: the second step is due. Meanwhile
    # mcalert answers pings and /healthz, and says that the log is busy.
    while time.monotonic() - t0 < 3:
        alice.ping(MCALERT, timeout=2)
        h = _health(port)
        time.sleep(0.2)
    assert h["log"]["busy"] is True and h["log"]["busy_total"] > 0, h
    assert h["log"]["waiting_writes"] >= 1, h
    assert holder.poll() is None, "the lock was let go before mcalert was checked"
    assert world.state(acked)[0] == "open"
    assert not bob.pages(escalating)
    wait_log_line(procs, p, "the incident log refuses writes")
    # Once it is let go: the ack is written (and stops that incident's escalation), the
    # due step is recorded and paged, and /healthz says so.
    assert holder.wait(timeout=15) == 0
    bob.wait_page(escalating, timeout=10)
    world.wait(lambda: world.state(acked) == ("acknowledged", "xmpp:" + jid("alice")),
               timeout=5, what="the kept acknowledgement recorded")
    assert [r[1] for r in world.pages(escalating)] == [1, 2]
    assert [r[1] for r in world.pages(acked)] == [1]
    world.wait(lambda: not _health(port)["log"]["busy"], timeout=5, what="healthz not busy")
    assert _health(port)["log"]["waiting_writes"] == 0
    wait_log_line(procs, p, "the incident log takes writes again")
    assert not bob.pages(acked)



@pytest.fixture
def plain_prosody(tmp_path_factory, procs):
    """A Prosody that offers SASL PLAIN only: the password itself goes over the wire,
    base64-encoded, in the <auth> element."""
    d = tmp_path_factory.mktemp("prosody-plain")
    server = Prosody(procs, d, ["mcalert", "alice", "bob"], group=["mcalert", "alice", "bob"])
    with open(server.config) as f:
        text = f.read()
    with open(server.config, "w") as f:
        f.write(text.replace('VirtualHost "localhost"\n', 'VirtualHost "localhost"\n'
                             '  disable_sasl_mechanisms = { "SCRAM-SHA-1"; "SCRAM-SHA-256";'
                             ' "DIGEST-MD5" }\n'))
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM"])
def test_debug_logging_through_a_page_never_shows_the_password_or_the_intake_token(
        mechanism, world, procs, tmp_path, request):
    import base64
    from xmpptest import password
    server = request.getfixturevalue("plain_prosody" if mechanism == "PLAIN" else "prosody")
    alice = Engineer("alice", server.port)
    # slixmpp refuses PLAIN without TLS unless told: loopback only, as mcalert here.
    alice.client["feature_mechanisms"].unencrypted_plain = True
    alice.start()
    try:
        port = free_port()
        secret_token = "intake-9d8c7b6a5f4e3d2c1b0a"
        (tmp_path / "intake.token").write_text(secret_token + "\n")
        cfg = write_config(str(tmp_path / "mcops.conf"), port=server.port, db=world.db,
                           steps=["oncall", jid("bob")], waits=["30s", "30s"],
                           authorized=["alice", "bob"],
                           extra_alerter=f"intake = 127.0.0.1:{port}\n"
                                         f"intake_token_file = {tmp_path / 'intake.token'}")
        p = procs.start([binary("mcalert"), "-d", "-f", cfg], name="mcalert")
        wait_log_line(procs, p, "connected to the chat server")
        wait_port(port)
        inc = world.open(title="Debugged storm")
        alice.wait_page(inc, timeout=5)
        alice.say(MCALERT, f"ack {inc}")
        alice.wait_text("paging stopped", timeout=5)
        _post(port, _alert("firing", fp="dd01"), token=secret_token)
        _post(port, _alert("firing", fp="dd02"), token="not-" + secret_token)
        # A reconnection authenticates again.
        server.restart()
        deadline = time.monotonic() + 15
        while procs.log(p).count("connected to the chat server") < 2:
            assert time.monotonic() < deadline, procs.log(p)
            time.sleep(0.1)
        assert procs.stop(p) == 0
    finally:
        alice.stop()
    out = procs.log(p)
    assert "SENT:" in out and "RECV:" in out, "libstrophe's debug log is not there"
    assert f'mechanism="{mechanism}' in out, "not the mechanism this test is about"
    pw, user = password("mcalert"), "mcalert"
    forms = {pw, secret_token}
    # SASL PLAIN's message "authzid NUL user NUL password" in base64, with and without
    # an authorization identity and padding, and the password alone in base64.
    for authzid in ("", jid("mcalert")):
        raw = base64.b64encode(f"{authzid}\0{user}\0{pw}".encode()).decode()
        forms |= {raw, raw.rstrip("=")}
    forms.add(base64.b64encode(pw.encode()).decode().rstrip("="))
    for form in forms:
        assert form not in out, f"{form!r} is in mcalert's log"
    # SCRAM's client messages carry no password, but its proof is derived from it:
    # no SASL element the client sends keeps its data.
    for line in out.splitlines():
        if "xmpp-sasl" in line and ("<auth" in line or "<response" in line):
            assert line.endswith("[redacted]"), line
