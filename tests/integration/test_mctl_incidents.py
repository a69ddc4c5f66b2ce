"""mctl's incident commands end to end: every command in human and JSON form, the
errors an operator meets, and the exit codes of docs/mctl.md."""
import json
import os
import pwd
import sqlite3
import subprocess

import pytest

from conftest import binary

ACTOR = "mctl:" + pwd.getpwuid(os.getuid()).pw_name


class Mctl:
    def __init__(self, tmp_path):
        self.tmp = tmp_path
        self.db = tmp_path / "mcops.db"

    def run(self, *args, db=True, cwd=None, env=None):
        argv = [binary("mctl")]
        if db:
            argv += ["--db", str(self.db)]
        full_env = dict(os.environ)
        full_env["MCOPS_CONFIG"] = str(self.tmp / "no-such.conf")
        if env:
            full_env.update(env)
        return subprocess.run(argv + list(args), capture_output=True, text=True, timeout=30,
                              cwd=cwd or self.tmp, env=full_env)

    def ok(self, *args):
        out = self.run(*args)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def json(self, *args):
        return json.loads(self.ok("--json", *args))

    def fails(self, code, *args):
        out = self.run(*args)
        assert out.returncode == code, (out.returncode, out.stdout, out.stderr)
        assert out.stdout == "" or args[0] == "--json"
        return out.stderr

    def open(self, title="Timeouts in c1", severity="major", cluster="c1"):
        return self.json("open", "--title", title, "--severity", severity, "--cluster", cluster)["id"]


@pytest.fixture
def m(tmp_path):
    return Mctl(tmp_path)


def test_open_and_list_in_both_forms(m):
    assert m.ok("incidents") == "no unresolved incidents\n"
    assert m.json("incidents") == {"incidents": [], "truncated": False}
    out = m.ok("open", "--title", "Customers see timeouts", "--severity", "critical",
               "--cluster", "c1", "--node", "n2")
    assert out == "opened incident 1: Customers see timeouts\n"
    doc = m.json("open", "--title", "Slow gets", "--severity", "minor", "--cluster", "c2")
    assert doc["id"] == 2 and doc["state"] == "open" and doc["event_id"] > 0
    table = m.ok("incidents").splitlines()
    assert table[0].split()[:5] == ["ID", "STATE", "SEVERITY", "CLUSTER", "KIND"]
    assert table[1].split()[:5] == ["2", "open", "minor", "c2", "manual"]
    assert table[1].endswith("Slow gets")
    assert table[2].split()[:5] == ["1", "open", "critical", "c1", "manual"]
    inc = m.json("incidents")["incidents"]
    assert [i["id"] for i in inc] == [2, 1]
    first = inc[1]
    assert first["title"] == "Customers see timeouts" and first["node"] == "n2"
    assert first["kind"] == "manual" and first["fingerprint"] is None
    assert first["public_status"] == "none" and first["acked_at"] is None
    assert first["opened_at"].endswith("Z") and first["runbook"] == "docs/runbooks/manual.md"
    # Filters.
    assert [i["id"] for i in m.json("incidents", "--cluster", "c1")["incidents"]] == [1]
    limited = m.json("incidents", "--limit", "1")
    assert len(limited["incidents"]) == 1 and limited["truncated"] is True


def test_open_rejects_bad_input(m):
    assert "--severity must be minor, major or critical (not 'urgent')" in m.fails(
        2, "open", "--title", "x", "--severity", "urgent")
    assert "usage: mctl open" in m.fails(2, "open", "--severity", "minor")
    assert "title is longer than 200 bytes" in m.fails(
        2, "open", "--title", "x" * 201, "--severity", "minor")
    assert "unknown option '--kind'" in m.fails(
        2, "open", "--title", "x", "--severity", "minor", "--kind", "storm")
    assert m.json("incidents", "--all")["incidents"] == []


def test_ack_resolve_reopen_and_their_refusals(m):
    n = m.open()
    assert m.ok("ack", str(n)) == "incident %d acknowledged by %s\n" % (n, ACTOR)
    assert "incident %d is already acknowledged by %s" % (n, ACTOR) in m.fails(1, "ack", str(n))
    doc = m.json("resolve", str(n), "--message", "rolled back the deploy")
    assert doc == {"id": n, "state": "resolved", "event_id": doc["event_id"], "actor": ACTOR}
    assert "incident %d is resolved; reopen it first" % n in m.fails(1, "ack", str(n))
    assert "incident %d is already resolved" % n in m.fails(1, "resolve", str(n))
    assert m.ok("reopen", "#%d" % n, "--message", "back again") == \
        "incident %d reopened by %s\n" % (n, ACTOR)
    assert "incident %d is not resolved (it is open)" % n in m.fails(1, "reopen", str(n))
    assert m.json("resolve", str(n))["state"] == "resolved"
    # The state history is in the timeline, with the actor and the messages.
    ev = m.json("show", str(n))["events"]
    assert [e["type"] for e in ev] == ["opened", "acked", "resolved", "reopened", "resolved"]
    assert all(e["actor"] == ACTOR for e in ev)
    assert ev[2]["body"] == {"message": "rolled back the deploy"}
    # Unknown and malformed ids.
    assert "ack: no incident 99" in m.fails(1, "ack", "99")
    assert "'abc' is not an incident number" in m.fails(2, "resolve", "abc")
    assert "usage: mctl reopen N" in m.fails(2, "reopen")
    assert "unexpected argument" in m.fails(2, "ack", "1", "2")


def test_notes_and_public_updates(m):
    n = m.open()
    assert m.ok("note", str(n), "proxies", "look", "fine") == "note added to incident %d\n" % n
    doc = m.json("note", str(n), "second note")
    assert doc["id"] == n and doc["actor"] == ACTOR
    assert m.ok("update", str(n), "--status", "identified", "--message",
                "A deploy caused mass reconnects.") == "incident %d public status: identified\n" % n
    doc = m.json("update", str(n), "--status", "monitoring", "--message", "Recovering.")
    assert doc["public_status"] == "monitoring" and doc["message"] == "Recovering."
    shown = m.json("show", str(n))
    assert shown["incident"]["public_status"] == "monitoring"
    assert [(u["status"], u["message"]) for u in shown["public_updates"]] == [
        ("identified", "A deploy caused mass reconnects."), ("monitoring", "Recovering.")]
    notes = [e["body"]["message"] for e in shown["events"] if e["type"] == "note"]
    assert notes == ["proxies look fine", "second note"]
    # Abuse.
    assert "--status must be investigating, identified, monitoring or resolved (not 'fixed')" \
        in m.fails(2, "update", str(n), "--status", "fixed", "--message", "x")
    assert "usage: mctl update" in m.fails(2, "update", str(n), "--status", "resolved")
    assert "usage: mctl note N TEXT" in m.fails(2, "note", str(n))
    assert "note: no incident 77" in m.fails(1, "note", "77", "hello")
    assert "the text is longer than 4096 bytes" in m.fails(2, "note", str(n), "y" * 5000)
    assert "message is empty" in m.fails(2, "update", str(n), "--status", "resolved",
                                         "--message", "")


def test_show_renders_timeline_pages_updates_and_runbook(m, tmp_path):
    n = m.open(title="Storm on n1")
    m.ok("ack", str(n), "--message", "looking")
    m.ok("update", str(n), "--status", "investigating", "--message", "We are looking into it.")
    # A page as mcalert records it.
    con = sqlite3.connect(str(m.db))
    con.execute("INSERT INTO pages (incident_id, step, target, sent_at, delivered_at, acked_at)"
                " VALUES (?, 0, 'ann@localhost', 1700000000000, 1700000001000, 1700000002000)", (n,))
    con.commit()
    con.close()
    out = m.ok("show", str(n))
    assert out.startswith("Incident %d: Storm on n1\n" % n)
    assert "  state        acknowledged (by %s at " % ACTOR in out
    assert "  runbook      docs/runbooks/manual.md (not written yet)" in out
    assert "Timeline (3 events):" in out
    assert "opened         Storm on n1" in out
    assert "acked          looking" in out
    assert "step 0  ann@localhost  sent 2023-11-14T22:13:20.000Z, delivered, acknowledged" in out
    assert "investigating We are looking into it." in out
    # With the runbook present, the note about it goes.
    (tmp_path / "docs" / "runbooks").mkdir(parents=True)
    (tmp_path / "docs" / "runbooks" / "manual.md").write_text("# Manual incidents\n")
    assert "  runbook      docs/runbooks/manual.md\n" in m.ok("show", str(n))
    doc = m.json("show", str(n))
    assert doc["incident"]["id"] == n
    assert doc["pages"][0]["target"] == "ann@localhost"
    assert doc["pages"][0]["delivered_at"] == "2023-11-14T22:13:21.000Z"
    assert doc["pages"][0]["failed_at"] is None
    assert "show: no incident 5" in m.fails(1, "show", "5")
    assert "usage: mctl show N" in m.fails(2, "show")


def test_incidents_state_filters(m):
    a, b, c = m.open(title="a"), m.open(title="b"), m.open(title="c")
    m.ok("ack", str(b))
    m.ok("resolve", str(c))
    ids = lambda *args: [i["id"] for i in m.json("incidents", *args)["incidents"]]
    assert ids() == [b, a]
    assert ids("--all") == [c, b, a]
    assert ids("--state", "resolved") == [c]
    assert ids("--state", "acknowledged") == [b]
    assert "--state must be open, acknowledged or resolved (not 'closed')" in m.fails(
        2, "incidents", "--state", "closed")
    assert "--all and --state exclude each other" in m.fails(
        2, "incidents", "--all", "--state", "open")
    assert m.ok("incidents", "--state", "open").count("\n") == 2


def test_log_export_and_prune(m):
    n = m.open()
    m.ok("note", str(n), "hello")
    m.ok("resolve", str(n))
    lines = m.ok("log", "export").splitlines()
    evs = [json.loads(l) for l in lines]
    assert [e["type"] for e in evs] == ["opened", "note", "resolved"]
    assert evs[1] == {"id": 2, "at": evs[1]["at"], "time": evs[1]["time"], "incident": n,
                      "actor": ACTOR, "type": "note", "body": {"message": "hello"}}
    assert len(m.ok("log", "export", "--since", "1h").splitlines()) == 3
    assert m.ok("log", "export", "--since", "2999-01-01") == ""
    assert "not a duration or a UTC date/time: 'yesterday'" in m.fails(
        2, "log", "export", "--since", "yesterday")
    assert "not a duration or a UTC date/time" in m.fails(
        2, "log", "export", "--since", "2024-02-30")
    # Retention: a 90-day cut keeps today's incident; a cut at "now" removes it.
    open_one = m.open(title="still open")
    out = m.ok("log", "prune", "--before", "90d")
    assert out.startswith("pruned 0 resolved incidents, 0 events, 0 outbox items, 0 maintenances"
                          " and 0 subscribers from before ")
    doc = m.json("log", "prune", "--before", "0s")
    assert doc["incidents"] == 1 and doc["events"] == 3 and doc["outbox"] == 0
    assert [i["id"] for i in m.json("incidents", "--all")["incidents"]] == [open_one]
    assert "show: no incident %d" % n in m.fails(1, "show", str(n))
    assert "log prune: --before TIME is required" in m.fails(2, "log", "prune")
    assert "log export: --since TIME is the only option" in m.fails(2, "log", "export", "-x")
    assert "unknown subcommand 'rotate'" in m.fails(2, "log", "rotate")


def test_unusable_databases_are_exit_3(m, tmp_path):
    bad = Mctl(tmp_path)
    bad.db = tmp_path / "missing-dir" / "x.db"
    err = bad.fails(3, "incidents")
    assert "cannot open the incident log: cannot open %s: No such file or directory" % bad.db in err
    bad.db = tmp_path / "text.db"
    bad.db.write_text("not a database, just text that is long enough to fill a header....\n" * 4)
    assert "file is not a database" in bad.fails(3, "incidents")
    bad.db = tmp_path / "other.db"
    con = sqlite3.connect(str(bad.db))
    con.execute("CREATE TABLE customers (name TEXT)")
    con.commit()
    con.close()
    assert "is not an mcops incident log" in bad.fails(3, "ack", "1")
    bad.db = tmp_path / "future.db"
    con = sqlite3.connect(str(bad.db))
    con.executescript("PRAGMA application_id = 1296256848; CREATE TABLE x (y);"
                      "PRAGMA user_version = 99;")
    con.close()
    assert "schema version 99 is newer than this mcops supports" in bad.fails(3, "incidents")


def test_database_location_defaults(m, tmp_path):
    # Neither --db nor a configuration: var/mcops.db under the working directory.
    work = tmp_path / "work"
    work.mkdir()
    out = m.run("open", "--title", "x", "--severity", "minor", db=False, cwd=work)
    assert out.returncode == 0, out.stderr
    assert (work / "var" / "mcops.db").exists()
    assert oct((work / "var" / "mcops.db").stat().st_mode & 0o777) == "0o600"
    # [log] path of the configuration.
    conf = tmp_path / "mcops.conf"
    conf.write_text("[log]\npath = %s\n" % (tmp_path / "from-config.db"))
    out = m.run("incidents", db=False, cwd=work, env={"MCOPS_CONFIG": str(conf)})
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "from-config.db").exists()
    out = m.run("-f", str(conf), "--json", "incidents", db=False, cwd=work)
    assert json.loads(out.stdout)["incidents"] == []


def test_help_of_each_command_exits_0(m):
    for cmd in ("incidents", "show", "open", "ack", "resolve", "reopen", "note", "update",
                "log", "flush"):
        out = m.run(cmd, "--help")
        assert out.returncode == 0, (cmd, out.stderr)
        assert "usage: mctl %s" % cmd in out.stdout
    top = m.run("--help").stdout
    for cmd in ("incidents", "show", "ack", "flush", "log"):
        assert "\n  %s " % cmd in top


def test_a_test_page_requested_without_waiting_is_one_event_and_one_json_document(m):
    doc = m.json("page", "--test", "alice@example.com")
    assert doc == {"request": doc["request"], "target": "alice@example.com",
                   "outcome": "requested", "elapsed_ms": None}
    con = sqlite3.connect(str(m.db))
    try:
        rows = con.execute("SELECT id, incident_id, type, body_json FROM events"
                           " WHERE type = 'page_test'").fetchall()
    finally:
        con.close()
    assert rows == [(doc["request"], None, "page_test", '{"target":"alice@example.com"}')]
