"""Benchmark of mcalert (run by `make bench`): against a private Prosody on loopback,

  page latency     time from an incident opened (its opened_at in the log) to the page's
                   arrival at a slixmpp client playing the on-call engineer;
  deadline error   how late the second step is paged after its deadline (the first
                   page's time plus its wait), in the log and at the second engineer;
  peer baseline    the same Prosody carrying a chat message between two slixmpp
                   clients, measured in the same run: what any XMPP pager pays.

Targets (issue 6): median page latency under 1 s, deadline error under 1 s.
Bounded: ROUNDS incidents one after another, each a few seconds at most.
"""
import os
import statistics
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

from conftest import Procs  # noqa: E402
from xmpptest import Engineer, Log, Prosody, jid, start_mcalert, wait_log_line, write_config  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ALERTER_ROUNDS", "20"))
WAIT_S = 1.0


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def row(name, values):
    ms = [x * 1000 for x in values]
    print(f"  {name:<34} median {statistics.median(ms):7.1f} ms   p90 {pct(ms, 90):7.1f} ms"
          f"   max {max(ms):7.1f} ms   (n={len(ms)})")


def main():
    tmp = tempfile.mkdtemp(prefix="bench_alerter.")
    procs = Procs(__import__("pathlib").Path(tmp))
    engineers = []
    try:
        server = Prosody(procs, os.path.join(tmp, "prosody"), ["mcalert", "alice", "bob", "carol"])
        server.start()
        alice = Engineer("alice", server.port).start()
        bob = Engineer("bob", server.port).start()
        carol = Engineer("carol", server.port).start()
        engineers += [alice, bob, carol]
        db = os.path.join(tmp, "mcops.db")
        log = Log(db)
        log.mctl("incidents")
        cfg = write_config(os.path.join(tmp, "mcops.conf"), port=server.port, db=db,
                           steps=["oncall", jid("bob")], waits=[f"{int(WAIT_S * 1000)}ms", "60s"])
        p = start_mcalert(procs, cfg)
        wait_log_line(procs, p, "connected to the chat server")
        time.sleep(2.5)  # past the presence settling after connecting

        # The peer baseline: a chat message through the same server.
        chat = []
        for i in range(ROUNDS):
            t = time.monotonic()
            carol.say(jid("alice"), f"baseline {i}")
            m = alice.wait_text(f"baseline {i}", timeout=5)
            chat.append(m["at"] - t)

        page_latency, log_error, arrival_error = [], [], []
        for i in range(ROUNDS):
            inc = log.open(title=f"Bench incident {i}")
            first = alice.wait_page(inc, timeout=10)
            opened_at = log.q("SELECT opened_at FROM incidents WHERE id = ?", inc)[0][0] / 1000.0
            page_latency.append(first["wall"] - opened_at)
            second = bob.wait_page(inc, timeout=10)
            rows = log.wait(lambda: len(log.pages(inc)) >= 2 and log.pages(inc), what="step 2")
            deadline = rows[0][3] / 1000.0 + WAIT_S
            log_error.append(rows[1][3] / 1000.0 - deadline)
            arrival_error.append(second["wall"] - deadline)
            log.mctl("resolve", str(inc))

        print(f"mcalert vs Prosody ({ROUNDS} incidents, step wait {WAIT_S:.0f} s, loopback)")
        row("peer: chat message client->client", chat)
        row("incident opened -> page at client", page_latency)
        row("deadline -> step 2 recorded", log_error)
        row("deadline -> step 2 at client", arrival_error)
        ratio = statistics.median(page_latency) / statistics.median(chat)
        print(f"  page latency / chat latency (medians): {ratio:.1f}x")
        ok = statistics.median(page_latency) < 1.0 and max(arrival_error) < 1.0
        print(f"  targets (median page < 1 s, deadline error < 1 s): {'met' if ok else 'MISSED'}")
        return 0 if ok else 1
    finally:
        for e in engineers:
            e.stop()
        procs.stop_all()


if __name__ == "__main__":
    sys.exit(main())
