"""Benchmark of the incident log (lib/ilog) with tests/tools/ilog_writer:

  1. events appended per second by one writer process (synchronous=NORMAL, the
     default; and FULL, which waits for the disk on every commit, for comparison);
  2. events per second with four writer processes appending at once;
  3. open-or-update + append per second (what the monitor does per condition);
  4. tail latency: time from an append's commit returning in one process to a
     second process, polling PRAGMA data_version every millisecond, reading it.

Every run is bounded in count and time. Machines here are shared and noisy; the
figures are for the order of magnitude and for comparing rows of one run.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
TOOLS = os.environ.get("MCOPS_TOOLS", os.path.join(ROOT, "build", "rel"))
WRITER = os.path.join(TOOLS, "tests", "tools", "ilog_writer")

EVENTS_ONE = 20000
EVENTS_FULL = 2000
EVENTS_EACH = 5000
WRITERS = 4
LATENCY_EVENTS = 1000
LATENCY_INTERVAL_US = 2000
TIMEOUT = 300


def run(argv):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT)
    if out.returncode != 0:
        sys.exit("bench_ilog: %s failed: %s" % (" ".join(argv), out.stderr.strip()))
    return out.stdout


def summary(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def one_writer(tmp, events, *extra):
    db = os.path.join(tmp, "one%s.db" % "".join(extra).replace("-", ""))
    s = summary(run([WRITER, "write", "--db", db, "--events", str(events)] + list(extra)))
    return events / (s["elapsed_ms"] / 1000.0)


def four_writers(tmp):
    db = os.path.join(tmp, "four.db")
    # Create the schema first so that the four start on equal terms.
    run([WRITER, "write", "--db", db, "--events", "1", "--plain"])
    t0 = time.monotonic()
    ps = [subprocess.Popen([WRITER, "write", "--db", db, "--writer", str(w), "--events",
                            str(EVENTS_EACH), "--plain"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
          for w in range(1, WRITERS + 1)]
    for p in ps:
        out, err = p.communicate(timeout=TIMEOUT)
        if p.returncode != 0:
            sys.exit("bench_ilog: a writer failed: %s" % err.strip())
    wall = time.monotonic() - t0
    return WRITERS * EVENTS_EACH / wall


def tail_latency(tmp):
    db = os.path.join(tmp, "tail.db")
    run([WRITER, "write", "--db", db, "--events", "1", "--plain"])
    tailer = subprocess.Popen([WRITER, "tail", "--db", db, "--count", str(LATENCY_EVENTS),
                               "--poll-us", "1000", "--timeout-ms", "120000"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = tailer.stdout.readline()
        if not first.startswith("ready"):
            sys.exit("bench_ilog: tailer did not start: %s" % tailer.stderr.read())
        wout = run([WRITER, "write", "--db", db, "--writer", "9", "--events",
                    str(LATENCY_EVENTS), "--plain", "--print-commits", "--interval-us",
                    str(LATENCY_INTERVAL_US)])
        tout, terr = tailer.communicate(timeout=TIMEOUT)
    finally:
        if tailer.poll() is None:
            tailer.kill()
            tailer.wait()
    if tailer.returncode != 0:
        sys.exit("bench_ilog: tailer failed: %s" % terr.strip())
    committed = {}
    for line in wout.splitlines():
        p = line.split()
        if p and p[0] == "committed":
            committed[int(p[2])] = int(p[3])
    lat = []
    for line in tout.splitlines():
        p = line.split()
        if p and p[0] == "seen" and int(p[1]) in committed:
            # A tail can read a commit before the writer's clock read after it: 0 then.
            lat.append(max(0, int(p[2]) - committed[int(p[1])]) / 1e6)
    if len(lat) != LATENCY_EVENTS:
        sys.exit("bench_ilog: matched %d of %d events" % (len(lat), LATENCY_EVENTS))
    lat.sort()
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1], lat[-1]


def main():
    if not os.path.exists(WRITER):
        sys.exit("bench_ilog: %s is not built (make tools)" % WRITER)
    tmp = tempfile.mkdtemp(prefix="bench_ilog.")
    try:
        one = one_writer(tmp, EVENTS_ONE, "--plain")
        full = one_writer(tmp, EVENTS_FULL, "--plain", "--sync-full")
        upsert = one_writer(tmp, EVENTS_ONE // 2)
        four = four_writers(tmp)
        med, p99, worst = tail_latency(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("incident log (SQLite WAL, one transaction per event)")
    print("  %-52s %10.0f events/s" % ("1 writer, append (synchronous=NORMAL)", one))
    print("  %-52s %10.0f events/s" % ("1 writer, append (synchronous=FULL)", full))
    print("  %-52s %10.0f steps/s" % ("1 writer, open-or-update + append", upsert))
    print("  %-52s %10.0f events/s" % ("%d writers at once, append, total" % WRITERS, four))
    print("  %-52s %10.2f" % ("ratio: %d writers / 1 writer" % WRITERS, four / one))
    print("  tail latency, commit -> seen by another process (poll 1 ms, %d events):"
          % LATENCY_EVENTS)
    print("  %-52s %10.3f ms" % ("median", med))
    print("  %-52s %10.3f ms" % ("p99", p99))
    print("  %-52s %10.3f ms" % ("max", worst))


if __name__ == "__main__":
    main()
