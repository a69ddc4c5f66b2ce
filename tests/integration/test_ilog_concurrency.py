"""The incident log under several writing processes and under SIGKILL.

Writers are tests/tools/ilog_writer processes (lib/ilog in a separate process each);
the database is checked afterwards with Python's own sqlite3 module and with mctl.
"""
import json
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import binary, tool

WRITERS = 4
EVENTS = 1000  # per writer: 4000 appends plus about 3000 transitions and opens in all


def writer(db):
    path = tool("tests/tools/ilog_writer")
    if not os.path.exists(path):
        pytest.fail(f"{path} is not built (make tools)")
    return [path, "write", "--db", str(db)]


def query(db, sql, *args):
    con = sqlite3.connect(str(db), timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def test_four_writers_lose_nothing_and_never_see_locked(procs, tmp_path):
    db = tmp_path / "log.db"
    ps = [procs.start(writer(db) + ["--writer", str(w), "--events", str(EVENTS),
                                    "--fingerprints", "8", "--transitions"],
                      name="writer%d" % w)
          for w in range(1, WRITERS + 1)]
    summaries = []
    for p in ps:
        assert p.wait(timeout=300) == 0, procs.log(p)
        out = procs.log(p)
        assert "locked" not in out and "busy" not in out, out
        summaries.append(json.loads(out.strip().splitlines()[-1]))

    # Every append is there exactly once.
    ticks = query(db, "SELECT json_extract(body_json, '$.writer'), json_extract(body_json, '$.seq')"
                      " FROM events WHERE type = 'tick'")
    assert len(ticks) == WRITERS * EVENTS
    assert len(set(ticks)) == WRITERS * EVENTS
    for w in range(1, WRITERS + 1):
        assert sorted(s for (ww, s) in ticks if ww == w) == list(range(EVENTS))

    # Each transition a writer saw succeed is one event, and nothing else was written.
    counts = dict(query(db, "SELECT type, count(*) FROM events GROUP BY type"))
    total = lambda k: sum(s[k] for s in summaries)
    assert counts.get("opened", 0) == total("opened")
    assert counts.get("severity", 0) == total("raised")
    assert counts.get("acked", 0) == total("acked")
    assert counts.get("resolved", 0) == total("resolved")
    assert counts.get("reopened", 0) == total("reopened")
    assert sum(counts.values()) == (WRITERS * EVENTS + total("opened") + total("raised")
                                    + total("acked") + total("resolved") + total("reopened"))
    # The races were real: transitions on shared incidents succeeded and were refused.
    assert total("acked") > 0 and total("resolved") > 0 and total("reopened") > 0

    # Never two unresolved incidents for one fingerprint; one incident per "opened".
    dup = query(db, "SELECT fingerprint, count(*) FROM incidents WHERE state != 'resolved'"
                    " GROUP BY fingerprint HAVING count(*) > 1")
    assert dup == []
    assert query(db, "SELECT count(*) FROM incidents")[0][0] == total("opened")
    # Ids were handed out in commit order without holes.
    n, hi = query(db, "SELECT count(*), max(id) FROM events")[0]
    assert n == hi
    assert query(db, "PRAGMA integrity_check") == [("ok",)]


def committed(lines):
    """(seq, event_id) pairs from a writer's --print-commits output."""
    out = []
    for line in lines.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[0] == "committed":
            out.append((int(parts[1]), int(parts[2])))
    return out


@pytest.mark.parametrize("after", [50, 400, 1500])
def test_sigkill_mid_stream_keeps_every_committed_event(procs, tmp_path, after):
    db = tmp_path / "log.db"
    p = procs.start(writer(db) + ["--writer", "1", "--events", "1000000", "--fingerprints", "3",
                                  "--transitions", "--print-commits"], name="writer")
    # Wait until it has committed `after` events, then kill it without warning.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(committed(procs.log(p))) >= after:
            break
        assert p.poll() is None, procs.log(p)
        time.sleep(0.005)
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=10)
    seen = committed(procs.log(p))
    assert len(seen) >= after

    # The file opens cleanly (WAL recovery) and holds every commit that was reported.
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    ids = dict(query(db, "SELECT json_extract(body_json, '$.seq'), id FROM events"
                         " WHERE type = 'tick'"))
    for seq, ev in seen:
        assert ids.get(seq) == ev, "committed event %d (seq %d) is missing" % (ev, seq)
    # Nothing half-written: ticks are exactly seqs 0..k-1 for some k >= what was printed.
    assert sorted(ids) == list(range(len(ids)))
    assert len(ids) >= len(seen)
    # The library reopens it and goes on writing where it stopped.
    out = subprocess.run([binary("mctl"), "--db", str(db), "--json", "incidents", "--all"],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)["incidents"]) >= 1
    more = procs.start(writer(db) + ["--writer", "2", "--events", "10"], name="writer2")
    assert more.wait(timeout=60) == 0, procs.log(more)
    assert query(db, "SELECT count(*) FROM events WHERE type = 'tick'"
                     " AND json_extract(body_json, '$.writer') = 2")[0][0] == 10
