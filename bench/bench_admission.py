#!/usr/bin/python3
"""bench_admission: does a limit shed only the tenant that storms? A steady tenant's
request p99, quiet and while another tenant opens STORM_RATE new connections a
second, on mcd (with and without admission limits) and on memcached (which has no
such control), side by side in one run.

Servers, each started once, each with -t THREADS, on free loopback ports:
  memcached          no authentication: the storm connects and sends a get;
  mcd, no limit      tenants `steady` and `storm`, no connection limits (reference);
  mcd, tenant limit  `storm` limited to STORM_TENANT_RATE new connections a second
                     (the tenants file's CONNRATE field, written by `mctl tenant add
                     --new-per-second`); per-source limits off (--source-conn-rate 0)
                     so that only the tenant's limit acts;
  mcd, source limit  no tenant limit; --source-conn-rate SOURCE_RATE (only when mcd
                     has the option), and the storm comes from one address.
The steady client (bench/closedloop --rate) authenticates as `steady` (no auth on
memcached) on one connection from 127.0.0.100, and gets STEADY_RATE a second for
BENCH_SECONDS, one request in flight; p99 is of the send-to-reply times.
The storm (tests/tools/stormgen, bounded by --count and --duration, stopped by pid
when the steady run ends) opens STORM_RATE connections a second, each authenticating
as `storm` (on mcd) and sending a get, then closing; it comes from STORM_SOURCES
addresses (127.0.0.1..), one for the source-limit variant.

A round: each server in turn (the order rotating), a quiet phase, a storm phase and a
second quiet phase ("after": whether the steady client recovers, and, against the
first quiet phase, this run's noise floor: on a shared machine two quiet phases can
differ by more than the storm does). ROUNDS rounds; per server the median p99 of each
phase, and as the ratio the median of the rounds' storm/quiet ratios (a round's
phases are neighbours in time).
Target (issue 17): on mcd with the tenant limit, storm p99 <= 2 x quiet p99.
Each storm's own figures are printed: how many connections it started, how many were
refused (mcd's rejected_* counters, from the admin port) and the rate it reached,
since a storm that could not reach its rate on a loaded machine was not the storm the
target speaks of. So is the steady client's reached rate.

How much to trust it: on this 2-core machine shared with other work (load 3-10), a
quiet phase's p99 ranged from 0.2 to 4 ms between rounds (p50 40-60 us), and a quiet
phase after a storm differed from the one before by 0.2x to 9x in single rounds; the
median of 5 rounds' ratios is steadier, but the p50 columns say more about what a storm
costs the steady client than one run's p99 does.

Only ratios measured in the same run mean anything: the machine is shared. A missed
target is reported, not an error; the exit status is non-zero only when a measurement
could not be made. Every process is stopped by pid; loopback only.
Environment: MCOPS_BIN, MCOPS_TOOLS, BENCH_SECONDS (each phase, default 10),
BENCH_ROUNDS (default 3), BENCH_STORM_RATE (default 2000).
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_proxy import (BIN, MCD, TOOLS, Procs, admin_stats, fmt, free_port,  # noqa: E402
                         raise_nofile, report_failure, wait_port)

MCTL = os.path.join(BIN, "mctl")
CLOSEDLOOP = os.path.join(TOOLS, "bench", "closedloop")
STORMGEN = os.path.join(TOOLS, "tests", "tools", "stormgen")

PHASE_SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
STORM_RATE = int(os.environ.get("BENCH_STORM_RATE", "2000"))
STEADY_RATE = 1000          # the steady tenant's gets per second: moderate, one in flight
STEADY_KEYS = 100
STEADY_WARMUP = 200         # requests not counted (the connection's first moments)
STEADY_SOURCE = "127.0.0.100"
STORM_SOURCES = 2           # stormgen processes, from 127.0.0.1, 127.0.0.2
STORM_TENANT_RATE = 100     # `storm`'s new connections per second in the tenant-limit variant
SOURCE_RATE = 100           # --source-conn-rate in the source-limit variant
STORM_LEAD_SECONDS = 1.0    # the storm runs this long before the steady client starts
SETTLE_SECONDS = 1.0        # after a storm, before the next phase
THREADS = 2                 # worker threads of each server: the machine has 2 cores
CONN_LIMIT = 8192
TARGET = 2.0                # storm p99 <= TARGET x quiet p99


class Server:
    """A server under test: name, port, process, admin port (mcd) and how the storm
    and the steady client talk to it."""

    def __init__(self, name, port, proc, admin_port, auth, storm_procs):
        self.name, self.port, self.proc, self.admin_port = name, port, proc, admin_port
        self.auth, self.storm_procs = auth, storm_procs


def mcd_options():
    out = subprocess.run([MCD, "-h"], capture_output=True, text=True, timeout=10)
    return out.stdout + out.stderr


def make_tenants(work, storm_rate):
    """A tenants file with `steady` and `storm` (storm limited to storm_rate new
    connections a second unless 0). None when mctl cannot write the limit."""
    path = work / (f"tenants.limit{storm_rate}" if storm_rate else "tenants")
    for name in ("ops", "steady", "storm"):
        argv = [MCTL, "tenant", "add", name, "--file", str(path),
                "--password-file", str(work / f"{name}.pw")]
        if name == "ops":
            argv.append("--admin")  # the admin port wants an admin tenant's login
        if name == "storm" and storm_rate:
            argv += ["--new-per-second", str(storm_rate)]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            if storm_rate:
                print(f"bench_admission: mctl cannot set a tenant's new-connection rate "
                      f"({(r.stdout + r.stderr).strip()[:200]}): no tenant-limit variant")
                return None
            raise RuntimeError(f"mctl tenant add {name}: {(r.stdout + r.stderr).strip()}")
    return path


def write_password(path):
    import secrets
    import string
    path.write_text("".join(secrets.choice(string.ascii_letters + string.digits)
                            for _ in range(32)) + "\n")
    path.chmod(0o600)


def start_memcached(procs):
    port = free_port()
    argv = ["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", str(THREADS),
            "-m", "64", "-c", str(CONN_LIMIT)]
    if os.getuid() == 0:
        argv += ["-u", "nobody"]
    p = procs.start(argv, name="memcached", preexec_fn=raise_nofile)
    wait_port(port, proc=p)
    return Server("memcached", port, p, None, False, STORM_SOURCES)


def start_mcd(procs, name, tenants, extra, storm_procs):
    port, admin_port = free_port(), free_port()
    argv = [MCD, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", str(THREADS),
            "-m", "64", "-c", str(CONN_LIMIT), "--tenants", str(tenants),
            "--admin-port", str(admin_port)] + extra
    p = procs.start(argv, name=name.replace(" ", "").replace(",", "_"),
                    preexec_fn=raise_nofile)
    wait_port(port, proc=p)
    return Server(name, port, p, admin_port, True, storm_procs)


def steady_run(srv, work):
    """closedloop's result fields for one steady phase against srv."""
    count = STEADY_RATE * PHASE_SECONDS
    argv = [CLOSEDLOOP, "--target", f"127.0.0.1:{srv.port}", "--count", str(count),
            "--rate", str(STEADY_RATE), "--keys", str(STEADY_KEYS), "--warmup",
            str(STEADY_WARMUP), "--set-every", str(2 ** 32 - 1), "--source", STEADY_SOURCE]
    if srv.auth:
        argv += ["--user", "steady", "--password-file", str(work / "steady.pw")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=PHASE_SECONDS * 3 + 60)
    if r.returncode != 0:
        raise RuntimeError(f"closedloop against {srv.name}: exit {r.returncode}: "
                           f"{r.stderr.strip()}")
    for line in r.stdout.splitlines():
        if line.startswith("result "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    raise RuntimeError(f"closedloop against {srv.name}: no result line: {r.stdout[-300:]}")


def storm_start(procs, srv, work):
    seconds = PHASE_SECONDS + STORM_LEAD_SECONDS + 10  # a bound: it is stopped before
    argv = [STORMGEN, "--target", f"127.0.0.1:{srv.port}", "--rate", str(STORM_RATE),
            "--count", str(int(STORM_RATE * seconds)), "--duration", f"{int(seconds)}s",
            "--command", "get storm:key", "--procs", str(srv.storm_procs),
            "--timeout", "2s"]
    if srv.auth:
        argv += ["--user", "storm", "--password-file", str(work / "storm.pw")]
    return procs.start(argv, name="stormgen")


def storm_stop(procs, p):
    """Stops the storm (SIGTERM: it prints its totals) and returns them as a dict."""
    procs.stop(p, sig=signal.SIGTERM, timeout=15)
    for line in procs.log(p).splitlines():
        if line.startswith("stormgen: started="):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    raise RuntimeError(f"stormgen gave no totals: {procs.log(p)[-300:]}")


def rejected(srv, work):
    """mcd's (tenant, source) refusal counters; (None, None) without them."""
    if srv.admin_port is None:
        return None, None
    st = admin_stats(srv.admin_port, "stats", ("ops", (work / "ops.pw").read_text().strip()))
    t, s = st.get("rejected_tenant_connections"), st.get("rejected_source_connections")
    return (int(t) if t is not None else None), (int(s) if s is not None else None)


def diff(a, b):
    return None if a is None or b is None else b - a


def measure(procs, srv, work):
    """One quiet and one storm phase against srv: a dict of what they showed."""
    quiet = steady_run(srv, work)
    rej0 = rejected(srv, work)
    storm = storm_start(procs, srv, work)
    try:
        time.sleep(STORM_LEAD_SECONDS)
        if storm.poll() is not None:
            raise RuntimeError(f"stormgen exited early: {procs.log(storm)[-300:]}")
        loud = steady_run(srv, work)
    finally:
        totals = storm_stop(procs, storm)
    rej1 = rejected(srv, work)
    if srv.proc.poll() is not None:
        raise RuntimeError(f"{srv.name} exited with {srv.proc.returncode}: "
                           f"{procs.log(srv.proc)[-500:]}")
    time.sleep(SETTLE_SECONDS)
    after = steady_run(srv, work)
    elapsed = int(totals["elapsed_ms"]) / 1000
    return {"quiet": float(quiet["p99_us"]), "storm": float(loud["p99_us"]),
            "after": float(after["p99_us"]),
            "quiet_p50": float(quiet["p50_us"]), "storm_p50": float(loud["p50_us"]),
            "quiet_rate": float(quiet.get("rate", "nan")),
            "storm_rate_steady": float(loud.get("rate", "nan")),
            "started": int(totals["started"]), "opened": int(totals["opened"]),
            "failed": int(totals["failed"]), "refused_seen": int(totals["auth_failed"]),
            "replies": int(totals["replies"]),
            "storm_rate": int(totals["started"]) / elapsed if elapsed > 0 else 0,
            "rej_tenant": diff(rej0[0], rej1[0]), "rej_source": diff(rej0[1], rej1[1])}


def main():
    if shutil.which("memcached") is None:
        print("bench_admission: memcached is not installed (scripts/setup installs it)",
              file=sys.stderr)
        return 1
    for path in (MCD, MCTL, CLOSEDLOOP, STORMGEN):
        if not os.path.exists(path):
            print(f"bench_admission: {path} is not built (make)", file=sys.stderr)
            return 1
    raise_nofile()
    opts = mcd_options()
    have_source_rate = "--source-conn-rate" in opts

    work = Path(tempfile.mkdtemp(prefix="bench_admission."))
    if os.getuid() == 0:
        os.chmod(work, 0o711)
    procs = Procs(work)
    results = {}
    try:
        for name in ("ops", "steady", "storm"):
            write_password(work / f"{name}.pw")
        plain = make_tenants(work, 0)
        limited = make_tenants(work, STORM_TENANT_RATE)
        servers = [start_memcached(procs),
                   start_mcd(procs, "mcd, no limit", plain,
                             ["--source-conn-rate", "0"] if have_source_rate else [],
                             STORM_SOURCES)]
        if limited is not None:
            servers.append(start_mcd(procs, "mcd, tenant limit", limited,
                                     ["--source-conn-rate", "0"] if have_source_rate else [],
                                     STORM_SOURCES))
        if have_source_rate:
            servers.append(start_mcd(procs, "mcd, source limit", plain,
                                     ["--source-conn-rate", str(SOURCE_RATE)], 1))
        else:
            print("bench_admission: mcd has no --source-conn-rate: no source-limit variant")
        print(f"servers: -t {THREADS} each; steady: {STEADY_RATE} gets/s for "
              f"{PHASE_SECONDS}s from {STEADY_SOURCE}, one connection; storm: "
              f"{STORM_RATE} new connections/s (connect, auth as storm, get, close) from "
              f"{STORM_SOURCES} addresses (1 in the source-limit variant); tenant limit "
              f"{STORM_TENANT_RATE}/s, source limit {SOURCE_RATE}/s; {ROUNDS} rounds",
              flush=True)
        results = {s.name: [] for s in servers}
        for r in range(ROUNDS):
            k = r % len(servers)
            for srv in servers[k:] + servers[:k]:
                m = measure(procs, srv, work)
                results[srv.name].append(m)
                print(f"    round {r + 1} {srv.name:<18} quiet p99 {m['quiet']:8.1f} us, "
                      f"storm p99 {m['storm']:8.1f} us ({m['storm'] / m['quiet']:.2f}x), "
                      f"after {m['after']:8.1f} us ({m['after'] / m['quiet']:.2f}x); "
                      f"p50 {m['quiet_p50']:.1f} / {m['storm_p50']:.1f} us; storm "
                      f"{m['storm_rate']:.0f}/s started, {m['opened']} opened, "
                      f"{m['replies']} served a get, {m['refused_seen']} refused, "
                      f"{m['failed']} failed; mcd rejected tenant "
                      f"{fmt(m['rej_tenant'], 'd')} source {fmt(m['rej_source'], 'd')}; "
                      f"steady reached {m['quiet_rate']:.0f} / {m['storm_rate_steady']:.0f}"
                      f" req/s", flush=True)
    except (RuntimeError, OSError, subprocess.SubprocessError, TimeoutError) as e:
        # stormgen runs that were stopped exited 0 or by SIGTERM: not the failure
        report_failure("bench_admission", e, procs, expected=(0, -signal.SIGTERM))
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{'server':<20} {'quiet p99 us':>13} {'storm p99 us':>13} {'storm/quiet':>12} "
          f"{'after/quiet':>12} {'p50 q/s us':>13} {'storm rate/s':>13} {'target':>8}")
    verdicts = []
    for name, runs in results.items():
        q = statistics.median(m["quiet"] for m in runs)
        s = statistics.median(m["storm"] for m in runs)
        ratio = statistics.median(m["storm"] / m["quiet"] for m in runs)
        floor = statistics.median(m["after"] / m["quiet"] for m in runs)
        rate = statistics.median(m["storm_rate"] for m in runs)
        p50 = (f"{statistics.median(m['quiet_p50'] for m in runs):.0f} / "
               f"{statistics.median(m['storm_p50'] for m in runs):.0f}")
        judged = name in ("mcd, tenant limit", "mcd, source limit")
        verdict = ("ok" if ratio <= TARGET else "MISSED") if judged else ""
        print(f"{name:<20} {q:>13.1f} {s:>13.1f} {ratio:>12.2f} {floor:>12.2f} {p50:>13} "
              f"{rate:>13.0f} "
              f"{f'<= {TARGET:g}' if judged else '':>8} {verdict}")
        if judged:
            verdicts.append((name, ratio, verdict, floor))
    print()
    if not any(v[0] == "mcd, tenant limit" for v in verdicts):
        print("target NOT MEASURED: mcd has no tenant connection limits here")
    for name, ratio, verdict, floor in verdicts:
        # two quiet phases that differ by as much as the target allows leave nothing
        # to judge a storm by: say so rather than pass or fail the limit on noise
        noisy = max(floor, 1 / floor) >= TARGET
        print(f"target {'met   ' if verdict == 'ok' else 'MISSED'}: {name}: steady tenant's "
              f"storm p99 {ratio:.2f} x its quiet p99 (<= {TARGET:g}); quiet after the "
              f"storm {floor:.2f} x quiet before" +
              (": the run's noise is as large as the target, not a verdict on the limit"
               if noisy else ""))
    slow = [n for n, runs in results.items()
            if statistics.median(m["storm_rate"] for m in runs) < 0.9 * STORM_RATE]
    if slow:
        print(f"note: the storm reached less than 90% of {STORM_RATE}/s against: "
              f"{', '.join(slow)} (the machine is shared; that storm was lighter)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
