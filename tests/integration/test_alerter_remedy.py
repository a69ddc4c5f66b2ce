"""Remedies from the page: mcalert on a private Prosody, slixmpp clients playing the
engineers, and a real cluster (proxies p1, p2 in front of backends n1..n3: the Tier of
test_mctl_tier.py). An incident whose evidence points at remedies is paged with them
numbered; "run K" says exactly what will happen, "yes" does it once on the real nodes
through the code mctl runs, recorded on the incident with the engineer as actor; each
refusal is its own reply. "silence" and "maintenance" write the maintenance part's rows.
A tenant that dominates the new connections is limited from chat: the tenants file the
nodes share gets the rate, the proxies reload it and refuse that tenant's logins beyond
it, and the incident gets the connlimit event mctl writes.

A "yes" after the minute is pinned by tests/unit/test_alerter_remedy.c on a fake
clock: mcalert has no clock a test could move, and waiting a minute is no test.
"""
import json
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

# test_alerter.py's Prosody (mallory is no engineer) and engineers: pytest fixtures.
from test_alerter import engineers, prosody  # noqa: F401
from conftest import binary
from mcdtest import Raw
from test_mctl_tier import Tier
from xmpptest import jid, start_mcalert, wait_log_line, write_config

CONNRATE = 2  # [alerter] suggest_connrate: far below a burst of BURST logins
BURST = 30
TENANT_RATE = "SERVER_ERROR too many new connections for this account"


class World:
    """The Tier's cluster, its incident log, and mcalert configured with its clusters."""

    def __init__(self, procs, tmp_path, prosody):
        self.procs = procs
        self.tier = Tier(procs, tmp_path)
        self.db = str(self.tier.db)
        self.tier.mctl("incidents")  # creates the log
        topology = self.tier.conf.read_text()
        topology = topology[topology.index("[cluster c1]"):]
        topology += f"[mcd]\ntenants = {self.tier.tenants}\n"
        self.cfg = write_config(str(tmp_path / "mcalert.conf"), port=prosody.port,
                                db=self.db, steps=["oncall"], waits=["1h"],
                                authorized=["alice", "bob"],
                                extra_alerter="heartbeat_stale = 0\n"
                                f"suggest_connrate = {CONNRATE}", extra=topology)

    def start(self):
        p = start_mcalert(self.procs, self.cfg)
        wait_log_line(self.procs, p, "connected to the chat server")
        wait_log_line(self.procs, p, "started:")
        return p

    def q(self, sql, *args):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            with con:
                return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def incident(self, busiest="p1", share=0.8, tenant="acme", tenant_share=0.9):
        """A storm-like incident on c1 whose latest evidence names who and where."""
        out = self.tier.mctl("--json", "open", "--title", "Connection storm on c1",
                             "--severity", "major", "--cluster", "c1")
        assert out.returncode == 0, out.stderr
        inc = json.loads(out.stdout)["id"]
        self.evidence(inc, busiest, share, tenant, tenant_share)
        return inc

    def evidence(self, inc, busiest="p1", share=0.8, tenant="acme", tenant_share=0.9):
        who = {"tenants": [{"name": tenant, "share": tenant_share, "new_connections": 900}],
               "sources": [], "dominant": True, "known": True, "new_connections": 1000,
               "remedy": "limit_tenant", "busiest_node": busiest, "busiest_share": share}
        body = {"finding": f"90% of new connections: tenant {tenant}",
                "remedy": "limit the tenant", "who": who}
        self.q("INSERT INTO events (at, incident_id, actor, type, body_json)"
               " VALUES (?, ?, 'mcmon', 'evidence', ?)", int(time.time() * 1000), inc,
               json.dumps(body))

    def wait_paged(self, inc, timeout=15.0):
        """Waits for the pager's decision on inc (a "paged" event, sent or held)."""
        deadline = time.monotonic() + timeout
        while not self.events(inc, "paged"):
            assert time.monotonic() < deadline, f"#{inc} was never decided"
            time.sleep(0.05)
        return self.events(inc, "paged")

    def events(self, inc, type_):
        return [(actor, json.loads(body)) for actor, body in self.q(
            "SELECT actor, body_json FROM events WHERE incident_id = ? AND type = ?"
            " ORDER BY id", inc, type_)]

    def cmd_flush(self, node):
        a = self.tier.admin(node)
        n = int(a.stats()["cmd_flush"])
        a.close()
        return n


@pytest.fixture
def world(procs, tmp_path, prosody):
    return World(procs, tmp_path, prosody)


def ask(engineer, text, fragment, after=None):
    """Says text to mcalert and waits for its reply holding fragment."""
    t0 = time.monotonic() if after is None else after
    engineer.say(jid("mcalert"), text)
    return engineer.wait_for(lambda m: fragment in m["body"] and m["at"] > t0, 15,
                             f"a reply to {text!r} with {fragment!r}")["body"]


def test_run_1_asks_then_yes_rebalances_once_on_the_proxies(world, engineers):
    held = [world.tier.client("p1") for _ in range(20)]
    inc = world.incident()
    alice = engineers("alice")
    p = world.start()
    page = alice.wait_page(inc, timeout=15)["body"]
    assert ("Remedies (reply \"run K\", then \"yes\"):\n"
            "1: rebalance c1 — p1 holds 80% of the cluster's connections\n"
            f"2: limit tenant acme's new connections to {CONNRATE}/s on c1 — it has 90% of "
            "new connections\n"
            "3: flush tenant acme on c1") in page
    rows = world.q("SELECT number, verb, cluster, tenant, run_at FROM remedies"
                   " WHERE incident_id = ? ORDER BY number", inc)
    assert rows == [(1, "rebalance", "c1", None, None), (2, "connlimit", "c1", "acme", None),
                    (3, "flush", "c1", "acme", None)]

    reply = ask(alice, "run 1", "Run on")
    assert reply == (f"Run on #{inc}: rebalance c1 — close 10 of p1's 20 connections "
                     "(idle ones first) so that clients reconnect evenly. "
                     "Reply yes within 60 s.")
    # Asking changes nothing.
    assert world.tier.proxy_clients("p1") == 20
    assert not world.events(inc, "rebalance")

    reply = ask(alice, "yes", "done on")
    assert reply.startswith(f"#{inc}: rebalance c1 — p1 holds 80% of the cluster's "
                            "connections — done on 2 of 2: p1: OK, closing 10 of 20 "
                            "connections; p2: OK, closing 0 of 0 connections. "
                            "Recorded as event ")
    deadline = time.monotonic() + 30
    while world.tier.proxy_clients("p1") > 10:
        assert time.monotonic() < deadline, "p1 still holds more than the mean"
        time.sleep(0.1)
    evs = world.events(inc, "rebalance")
    assert len(evs) == 1
    actor, body = evs[0]
    assert actor == "xmpp:" + jid("alice")
    assert body["suggestion"] == 1 and body["cluster"] == "c1"
    assert [(n["node"], n["ok"], n["shed"]) for n in body["nodes"]] == [
        ("p1", True, 10), ("p2", True, 0)]
    run = world.q("SELECT run_by, run_event FROM remedies WHERE incident_id = ? AND number = 1",
                  inc)
    assert run[0][0] == "xmpp:" + jid("alice") and run[0][1] > 0

    # A second yes, and the same suggestion again, are refused; nothing more is shed.
    assert "Nothing waits for your yes" in ask(alice, "yes", "Nothing waits")
    reply = ask(alice, f"run 1 #{inc}", "Refused")
    assert f"suggestion 1 was already run by {jid('alice')} at " in reply
    assert len(world.events(inc, "rebalance")) == 1
    assert world.tier.proxy_clients("p1") == 10
    # A restart loses nothing: the suggestions, their numbers and who ran one.
    world.procs.stop(p)
    world.start()
    assert "already run by" in ask(alice, f"run 1 #{inc}", "Refused")
    assert "flush tenant acme on c1" in ask(alice, f"run 3 #{inc}", "Run on")
    assert len(world.events(inc, "rebalance")) == 1
    for r in held:
        r.close()


def test_two_engineers_racing_on_a_flush_run_it_exactly_once(world, engineers):
    c = world.tier.client("p1", "acme")
    for i in range(10):
        assert c.cmd(f"set a{i} 0 0 1\r\nv\r\n") == "STORED"
    inc = world.incident()
    alice, bob = engineers("alice"), engineers("bob")
    world.start()
    alice.wait_page(inc, timeout=15)
    reply = ask(alice, "run 3", "Run on")
    assert reply == (f"Run on #{inc}: flush tenant acme on c1 — its cached data is dropped "
                     "on n1, n2, n3. Reply yes within 60 s.")
    # bob has no page: he names the incident.
    assert ask(bob, "run 3", "no unresolved page")
    assert ask(bob, f"run 3 #{inc}", "Run on") == reply
    before = {n: world.cmd_flush(n) for n in ("n1", "n2", "n3")}
    t0 = time.monotonic()
    alice.say(jid("mcalert"), "yes")
    bob.say(jid("mcalert"), "yes")
    done = [e.wait_for(lambda m: m["at"] > t0 and ("done on" in m["body"] or
                                                   "Refused" in m["body"]), 15, "an outcome")
            ["body"] for e in (alice, bob)]
    assert sum("done on 3 of 3: n1: OK; n2: OK; n3: OK" in d for d in done) == 1, done
    refused = [d for d in done if "Refused" in d]
    assert len(refused) == 1 and "already run by " in refused[0], done
    evs = world.events(inc, "flush")
    assert len(evs) == 1 and evs[0][1]["tenant"] == "acme" and evs[0][1]["flushed"] == 3
    # Each backend flushed once; the proxies were never asked.
    assert {n: world.cmd_flush(n) - before[n] for n in before} == {"n1": 1, "n2": 1, "n3": 1}
    c.send("get " + " ".join(f"a{i}" for i in range(10)) + "\r\n")
    assert c.until_end() == ([], "END")
    c.close()


def logins(port, tenant, password, n):
    """The replies to n logins of tenant in a row, each on a new connection."""
    replies = []
    for _ in range(n):
        r = Raw(port)
        replies.append(r.auth(tenant, password))
        r.close()
    return replies


def tenants_lines(world):
    return world.tier.tenants.read_text().splitlines()


def test_run_2_limits_the_dominant_tenant_in_the_file_and_on_the_proxies(world, engineers):
    inc = world.incident()
    alice = engineers("alice")
    world.start()
    path = world.tier.tenants
    before = tenants_lines(world)
    # Before: acme logs in as often as it likes.
    assert set(logins(world.tier.proxies["p1"].port, "acme", world.tier.pw["acme"],
                      BURST)) == {"STORED"}
    alice.wait_page(inc, timeout=15)
    reply = ask(alice, "run 2", "Run on")
    assert reply == (f"Run on #{inc}: set tenant acme's limit to {CONNRATE} new connections a "
                     f"second (max connections unchanged) in the tenants file {path} and "
                     "reload p1, p2. Reply yes within 60 s.")
    # Asking changes nothing.
    assert tenants_lines(world) == before
    assert not world.events(inc, "connlimit")

    reply = ask(alice, "yes", "done on")
    assert reply.startswith(
        f"#{inc}: limit tenant acme's new connections to {CONNRATE}/s on c1 — it has 90% of "
        "new connections — done on 2 of 2: p1: OK, reloaded; p2: OK, reloaded; tenant acme: "
        f"{CONNRATE} new connections a second (was 0; 0 = none), at most 0 connections "
        "(0 = none). Recorded as event "), reply
    # The file: acme's line has the rate; every other line is as it was.
    after = tenants_lines(world)
    changed = [(b, a) for b, a in zip(before, after) if b != a]
    assert len(after) == len(before) and len(changed) == 1, changed
    assert changed[0][0].startswith("acme:") and changed[0][1] == changed[0][0] + \
        f":0:{CONNRATE}"
    out = world.tier.mctl("--json", "tenant", "list", "--file", str(path))
    acme = [t for t in json.loads(out.stdout)["tenants"] if t["name"] == "acme"][0]
    assert (acme["max_connections"], acme["new_per_second"]) == (0, CONNRATE)
    # Both proxies enforce it: a burst of acme's logins meets the refusal; other's none.
    for proxy in ("p1", "p2"):
        port = world.tier.proxies[proxy].port
        replies = logins(port, "acme", world.tier.pw["acme"], BURST)
        assert TENANT_RATE in replies and set(replies) <= {"STORED", TENANT_RATE}, replies
        assert set(logins(port, "other", world.tier.pw["other"], BURST)) == {"STORED"}
    # The incident's event: the engineer as actor, mctl's body plus the suggestion.
    evs = world.events(inc, "connlimit")
    assert len(evs) == 1
    actor, body = evs[0]
    assert actor == "xmpp:" + jid("alice")
    assert (body["suggestion"], body["tenant"], body["cluster"], body["applied"]) == (
        2, "acme", "c1", True)
    assert (body["new_per_second"], body["max_connections"]) == (CONNRATE, 0)
    assert body["before"] == {"max_connections": 0, "new_per_second": 0}
    assert body["file"] == str(path) and (body["done"], body["failed"]) == (2, 0)
    assert [(n["node"], n["ok"]) for n in body["nodes"]] == [("p1", True), ("p2", True)]
    # Once: a second yes, and the suggestion again, are refused; the file stays.
    assert "Nothing waits for your yes" in ask(alice, "yes", "Nothing waits")
    assert f"suggestion 2 was already run by {jid('alice')} at " in ask(alice, "run 2",
                                                                         "Refused")
    assert tenants_lines(world) == after and len(world.events(inc, "connlimit")) == 1


def test_a_limit_whose_file_cannot_be_changed_reloads_nobody_and_says_so(world, engineers):
    inc = world.incident(tenant="ghost")
    alice = engineers("alice")
    world.start()
    before = tenants_lines(world)
    alice.wait_page(inc, timeout=15)
    assert "set tenant ghost's limit" in ask(alice, "run 2", "Run on")
    reply = ask(alice, "yes", "done on")
    assert ("done on 0 of 2: p1: FAILED: not reloaded: the tenants file was not changed; "
            "p2: FAILED: not reloaded: the tenants file was not changed. The tenants file "
            f"was NOT changed: no tenant 'ghost' in {world.tier.tenants}") in reply, reply
    assert tenants_lines(world) == before
    evs = world.events(inc, "connlimit")
    assert len(evs) == 1 and evs[0][1]["applied"] is False and evs[0][1]["failed"] == 2


def test_mctl_tenant_connlimit_incident_records_the_same_event(world):
    tier = world.tier
    inc = world.incident()
    path = str(tier.tenants)
    before = tenants_lines(world)

    def connlimit(*args):
        return subprocess.run([binary("mctl"), "-f", str(tier.conf), "--db", world.db,
                               "tenant", "connlimit", "acme", "--file", path] + list(args),
                              capture_output=True, text=True, timeout=60,
                              stdin=subprocess.DEVNULL)

    # An unknown incident or a bad number: nothing changed, nothing recorded.
    r = connlimit("--new-per-second", "5", "--incident", "999")
    assert r.returncode == 1 and "nothing was changed" in r.stderr, r.stderr
    r = connlimit("--new-per-second", "5", "--incident", "x")
    assert r.returncode == 2 and "is not an incident number" in r.stderr, r.stderr
    r = subprocess.run([binary("mctl"), "tenant", "limit", "acme", "1M", "--file", path,
                        "--incident", str(inc)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "'--incident' does not apply" in r.stderr, r.stderr
    assert tenants_lines(world) == before and not world.events(inc, "connlimit")

    r = connlimit("--new-per-second", "5", "--incident", f"#{inc}")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Tenant 'acme' now has at most - connections and 5 new "
                               "connections per second on each node ('-' = no limit).\n"
                               "Recorded as event "), r.stdout
    assert f" on incident {inc}.\n" in r.stdout
    r = connlimit("--json", "--max-connections", "9", "--incident", str(inc))
    doc = json.loads(r.stdout)
    assert (doc["max_connections"], doc["new_per_second"], doc["incident"]) == (9, 5, inc)
    evs = world.events(inc, "connlimit")
    assert len(evs) == 2 and doc["event_id"] > 0
    for actor, body in evs:
        assert actor.startswith("mctl:")
        assert (body["scope"], body["cluster"], body["tenant"], body["file"]) == (
            "file", None, "acme", path)
        assert body["nodes"] == [] and body["applied"] is True
    assert evs[0][1]["before"] == {"max_connections": 0, "new_per_second": 0}
    assert evs[1][1]["before"] == {"max_connections": 0, "new_per_second": 5}
    assert (evs[1][1]["max_connections"], evs[1][1]["new_per_second"]) == (9, 5)


def test_strangers_unknown_expired_superseded_and_resolved_are_refused(world, engineers):
    inc = world.incident()
    alice, mallory = engineers("alice"), engineers("mallory")
    world.start()
    alice.wait_page(inc, timeout=15)
    assert "not allowed" in ask(mallory, f"run 1 #{inc}", "not allowed")
    assert "nothing was" not in mallory.texts()[-1]
    assert ask(alice, "run 7", f"#{inc} has no suggestion 7")
    assert ask(alice, "run 0", "is not a suggestion's number")
    assert ask(alice, "yes", "Nothing waits for your yes")

    # Older than its lifetime.
    world.q("UPDATE remedies SET created_at = created_at - 31 * 60000 WHERE incident_id = ?",
            inc)
    assert "it has expired" in ask(alice, "run 1", "Refused")
    world.q("UPDATE remedies SET created_at = created_at + 31 * 60000 WHERE incident_id = ?",
            inc)
    # Nothing to do is said, not asked.
    assert ask(alice, "run 1", "nothing to rebalance on c1 now: p1 holds 0, p2 holds 0.")
    # Asked, then newer evidence came: the yes is refused too.
    assert ask(alice, "run 2", "Run on")
    world.evidence(inc, busiest="p2", share=0.9)
    assert "newer evidence replaced it" in ask(alice, "yes", "Refused")
    assert "newer evidence replaced it" in ask(alice, "run 1", "Refused")
    # Resolved.
    out = world.tier.mctl("resolve", str(inc))
    assert out.returncode == 0, out.stderr
    assert "the incident is resolved" in ask(alice, f"run 2 #{inc}", "Refused")
    for verb in ("rebalance", "flush", "drain", "connlimit"):
        assert not world.events(inc, verb)
    assert world.q("SELECT count(*) FROM remedies WHERE run_at IS NOT NULL") == [(0,)]


def test_silence_and_maintenance_from_chat_are_bounded_and_audited(world, engineers):
    alice, mallory = engineers("alice"), engineers("mallory")
    world.start()
    reply = ask(alice, "silence c1 30m", "Silenced")
    assert reply.startswith("Silenced c1 for 30m, until ")
    reply = ask(alice, "maintenance c1 1h Kernel upgrade", "Maintenance")
    assert "of c1 for 1h" in reply and "\"Kernel upgrade\"" in reply
    rows = world.q("SELECT kind, cluster, title, ends_at - starts_at, created_by"
                   " FROM maintenances ORDER BY id")
    who = "xmpp:" + jid("alice")
    assert rows == [("silence", "c1", "", 30 * 60000, who),
                    ("public", "c1", "Kernel upgrade", 3600000, who)]
    types = [t for (t, a) in world.q("SELECT type, actor FROM events"
                                     " WHERE incident_id IS NULL ORDER BY id") if a == who]
    assert types == ["silence_set", "maintenance_scheduled"]
    # They hold c1's pages: recorded, not sent.
    inc = world.incident()
    paged = world.wait_paged(inc)
    assert paged[0][1]["suppressed"] is True
    assert paged[0][1]["window"] in ("silence #1", "maintenance #2")
    assert not [m for m in alice.texts() if m.startswith(f"[mcops] #{inc} ")]
    # Bounds, unknown clusters and strangers.
    assert "is not a duration from 1m to 24h" in ask(alice, "silence c1 25h", "not a duration")
    assert "is not a duration from 1m to 7d" in ask(alice, "maintenance c1 8d", "not a duration")
    assert ask(alice, "silence c9 30m", "There is no cluster \"c9\"")
    assert ask(mallory, "silence c1 24h", "not allowed")
    assert len(world.q("SELECT id FROM maintenances")) == 2


class SilentPort:
    """A TCP listener that accepts and never answers, until released: an admin port
    whose node is too busy to reply. accepted is set once a connection came."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            self.accepted.set()

    def release(self):
        self.sock.close()
        for c in self.conns:
            c.close()
        self.thread.join(5)


def test_a_remedy_waiting_on_a_silent_node_does_not_hold_up_the_next_page(world, engineers):
    """A node that never answers its admin port holds the remedy (for remedy_timeout,
    here a minute), not the pager: a new incident is paged meanwhile. The node is
    released only after that page arrived, so the order is the test's, not a race."""
    silent = SilentPort()
    try:
        cfg = open(world.cfg).read()
        n3 = f"admin = 127.0.0.1:{world.tier.backends['n3'].admin_port}\n"
        assert cfg.count(n3) == 1
        cfg = cfg.replace(n3, f"admin = 127.0.0.1:{silent.port}\n")
        cfg = cfg.replace(f"suggest_connrate = {CONNRATE}",
                          f"suggest_connrate = {CONNRATE}\nremedy_timeout = 60s")
        open(world.cfg, "w").write(cfg)
        inc = world.incident()
        alice = engineers("alice")
        world.start()
        alice.wait_page(inc, timeout=15)
        assert ask(alice, "run 3", "Run on").startswith(f"Run on #{inc}: flush tenant acme")
        t0 = time.monotonic()
        alice.say(jid("mcalert"), "yes")
        assert silent.accepted.wait(15), "n3's admin port was never asked"
        # While n3 holds the flush: a second remedy waits, a new incident is paged.
        assert "is running #%d's suggestion 3" % inc in ask(alice, f"run 1 #{inc}",
                                                              "is running")
        inc2 = world.incident(tenant="other")
        alice.wait_page(inc2, timeout=15)
        assert not [m for m in alice.texts() if "done on" in m]
        assert not world.events(inc, "flush")
        silent.release()
        done = alice.wait_for(lambda m: m["at"] > t0 and "done on" in m["body"], 15,
                              "the flush's outcome")["body"]
        assert "done on 2 of 3: n1: OK; n2: OK; n3: FAILED: " in done, done
        evs = world.events(inc, "flush")
        assert len(evs) == 1 and (evs[0][1]["flushed"], evs[0][1]["failed"]) == (2, 1)
    finally:
        silent.release()


@pytest.mark.parametrize("value, ok", [("100ms", True), ("60s", True), ("99ms", False),
                                       ("61s", False), ("soon", False)])
def test_remedy_timeout_is_bounded_and_a_bad_one_is_a_configuration_error(
        tmp_path, prosody, value, ok):
    cfg = write_config(str(tmp_path / "mcalert.conf"), port=prosody.port,
                       db=str(tmp_path / "mcops.db"), steps=["oncall"], authorized=["alice"],
                       extra_alerter=f"remedy_timeout = {value}")
    r = subprocess.run([binary("mcalert"), "-n", "-f", cfg], capture_output=True, text=True,
                       timeout=30, stdin=subprocess.DEVNULL)
    if ok:
        assert r.returncode == 0, r.stderr
    else:
        assert r.returncode != 0 and "remedy_timeout" in r.stderr, r.stderr
