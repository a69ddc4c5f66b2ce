#!/usr/bin/python3
"""What starting mctl costs, against the least a command can cost:

  peer          build/rel/bench/start_peer: a C program that returns at once (libc only)
  peer+crypto   build/rel/bench/start_peer_crypto: the same, with libcrypto linked
  mctl --help   bin/mctl printing its usage (no file, no database)
  tenant add    bin/mctl tenant add into a new temporary file (one SHA-256 of a salted
                password, the file written and renamed)

Per row: the median wall time and the median CPU time (user + system, from
RUSAGE_CHILDREN) over RUNS starts, and the ratio to the peer. "peer+crypto - peer" is
what libcrypto would add to every mctl command: lib/sha256.h says why mctl hashes with
its own SHA-256 while that figure is above 1 ms. Runs are bounded in number and time;
the machine is shared, so compare the rows of one run, not runs.
Environment: MCOPS_BIN (bin/), MCOPS_TOOLS (build/rel/).
"""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("MCOPS_BIN", os.path.join(ROOT, "bin"))
TOOLS = os.environ.get("MCOPS_TOOLS", os.path.join(ROOT, "build", "rel"))
MCTL = os.path.join(BIN, "mctl")
PEER = os.path.join(TOOLS, "bench", "start_peer")
PEER_CRYPTO = os.path.join(TOOLS, "bench", "start_peer_crypto")

RUNS = 200
WARMUP = 10
COMMAND_TIMEOUT = 10.0   # seconds for one start
THRESHOLD_MS = 1.0       # what libcrypto may cost mctl before its own SHA-256 goes


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def measure(argv, prepare=None):
    """Median wall and CPU milliseconds of RUNS starts of argv."""
    wall, cpu = [], []
    for i in range(WARMUP + RUNS):
        if prepare is not None:
            prepare()
        c0, t0 = children_cpu(), time.perf_counter()
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=COMMAND_TIMEOUT)
        t1, c1 = time.perf_counter(), children_cpu()
        if r.returncode != 0:
            sys.exit("bench_mctl_start: %s exited with %d" % (" ".join(argv), r.returncode))
        if i >= WARMUP:
            wall.append((t1 - t0) * 1000)
            cpu.append((c1 - c0) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def main():
    for path in (MCTL, PEER, PEER_CRYPTO):
        if not os.access(path, os.X_OK):
            sys.exit("bench_mctl_start: %s is missing (make all)" % path)
    with tempfile.TemporaryDirectory(prefix="mcops-bench-start-") as tmp:
        tenants = os.path.join(tmp, "tenants")

        def fresh_file():
            for p in (tenants, tenants + ".lock"):
                if os.path.exists(p):
                    os.unlink(p)

        rows = [
            ("peer", measure([PEER])),
            ("peer+crypto", measure([PEER_CRYPTO])),
            ("mctl --help", measure([MCTL, "--help"])),
            ("tenant add", measure([MCTL, "tenant", "add", "acme", "--file", tenants],
                                   prepare=fresh_file)),
        ]
    peer_wall, peer_cpu = rows[0][1]
    print("%-14s %10s %10s %10s" % ("", "wall ms", "cpu ms", "x peer"))
    for name, (wall, cpu) in rows:
        print("%-14s %10.2f %10.2f %10.1f" % (name, wall, cpu, wall / peer_wall))
    crypto_wall = rows[1][1][0] - peer_wall
    crypto_cpu = rows[1][1][1] - peer_cpu
    print("libcrypto adds %.2f ms wall, %.2f ms CPU to a start (threshold %.1f ms): %s"
          % (crypto_wall, crypto_cpu, THRESHOLD_MS,
             "mctl keeps lib/sha256" if crypto_wall > THRESHOLD_MS
             else "libcrypto's SHA-256 would cost mctl less than the threshold"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
