"""bench_mcmon: how fast mcmon sees each fault, and what watching 50 nodes costs it.

1. Time from fault start to incident open, against real mcd nodes, with the default
   detector settings (docs/monitor.md), polls each second, 10 probes a second and an
   evaluation each second:
     - node_down, node killed (SIGKILL)           5 trials
     - node_down, node hung (SIGSTOP)             3 trials
     - latency_tail, fault proxy delaying 15% of replies by 5-15 ms (notes/peers.md)
                                                  3 trials
     - connection_storm, stormgen at 1000 new connections a second
                                                  3 trials
   Differences from the defaults, none of which changes how soon an incident opens:
   storm_warmup = 10 (not 30 polls: the bench would wait half a minute), host-wide
   listen overflows off (shared by everything on this machine), and shorter holds
   (resolve_hold 2s, tail_clear_hold 5s, cluster_grace 5s) so that trials follow
   each other sooner.
2. CPU of mcmon watching 50 nodes at the defaults (10 probes and one poll of `stats`
   + `stats kernel` a second each: 550 round trips a second). The 50 nodes are fake
   (bench/fakenodes.py: two loopback ports each in one asyncio process, replies
   shaped like mcd's), because 50 mcd processes on 2 cores would measure the
   scheduler. Target: below 2% of one core. On loopback every send also runs the
   receiving side's TCP path and wakes the receiver, charged to the sender, so the
   same round trips cost any client a floor of CPU on this machine: bench/probe_floor
   (blocking sockets, nothing parsed) makes exactly these round trips against the same
   nodes in the same run, and the monitor's own share is what it costs above it. For
   comparison, the same with 5 real mcd. Measured in the steady state, from 35 s after
   mcmon starts (windows full, baselines warmed up).

Every process is stopped by pid; every wait is bounded. Prints a table.
"""
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("MCOPS_BIN", os.path.join(ROOT, "bin"))
TOOLS = os.environ.get("MCOPS_TOOLS", os.path.join(ROOT, "build", "rel"))
CPU_SECONDS = 30
# The cost of a monitor is its steady state: measuring starts once the longest tail
# window (20 s) has filled and the storm baselines have warmed up (30 polls), so the
# one-off work of the first half minute (first touches of the window slots) is not
# counted as running cost.
WARMUP_SECONDS = 35
TICKS = os.sysconf("SC_CLK_TCK")

BENCH_MONITOR = {
    "storm_warmup": "10",
    "storm_overflow_rate": "0",
    "resolve_hold": "2s",
    "tail_clear_hold": "5s",
    "cluster_grace": "5s",
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pid {proc.pid} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing on port {port}")


class Bench:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="bench_mcmon.")
        self.procs = []
        self.tenants = os.path.join(self.dir, "tenants")
        self.ops = self.tenant("ops", admin=True)
        self.probe = self.tenant("probe")
        for name, pw in (("ops", self.ops), ("probe", self.probe)):
            with open(os.path.join(self.dir, name + ".pw"), "w") as f:
                f.write(pw + "\n")

    def tenant(self, name, admin=False):
        argv = [os.path.join(BIN, "mctl"), "--json", "tenant", "add", name, "--file",
                self.tenants] + (["--admin"] if admin else ["--limit", "1M"])
        out = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=30)
        return json.loads(out.stdout)["password"]

    def start(self, argv, name):
        log = open(os.path.join(self.dir, f"{name}.{len(self.procs)}.log"), "wb")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGCONT)
                os.kill(p.pid, sig)
            except ProcessLookupError:
                pass
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=5)

    def close(self):
        for p in reversed(self.procs):
            self.stop(p)
        shutil.rmtree(self.dir, ignore_errors=True)

    def mcd(self, port=None, admin=None):
        port, admin = port or free_port(), admin or free_port()
        p = self.start([os.path.join(BIN, "mcd"), "-l", "127.0.0.1", "-p", str(port), "-t", "2",
                        "-m", "16", "-U", "0", "-c", "8192", "--tenants", self.tenants,
                        "--admin-port", str(admin)], "mcd")
        wait_port(port, p)
        wait_port(admin, p)
        return p, port, admin

    def config(self, name, nodes, monitor):
        db = os.path.join(self.dir, name + ".db")
        metrics = free_port()
        lines = ["[log]", f"path = {db}", "[monitor]", f"metrics_listen = 127.0.0.1:{metrics}",
                 f"state_file = {os.path.join(self.dir, name + '.json')}"]
        lines += [f"{k} = {v}" for k, v in monitor.items()]
        lines += ["[cluster c1]", "admin_user = ops",
                  f"admin_password_file = {os.path.join(self.dir, 'ops.pw')}",
                  "probe_user = probe",
                  f"probe_password_file = {os.path.join(self.dir, 'probe.pw')}"]
        for i, (client, admin) in enumerate(nodes):
            lines += [f"[node n{i + 1}]", "cluster = c1", f"client = 127.0.0.1:{client}",
                      f"admin = 127.0.0.1:{admin}"]
        path = os.path.join(self.dir, name + ".conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path, db, metrics

    def mcmon(self, conf, metrics):
        p = self.start([os.path.join(BIN, "mcmon"), "-f", conf], "mcmon")
        wait_port(metrics, p)
        return p


def incidents(db, kind):
    if not os.path.exists(db):
        return []
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return con.execute("SELECT id, state FROM incidents WHERE kind = ? ORDER BY id",
                           (kind,)).fetchall()
    finally:
        con.close()


def wait_new(db, kind, known, timeout):
    """Seconds until an incident of kind beyond the `known` ones opens."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        rows = incidents(db, kind)
        if len(rows) > known:
            return time.monotonic() - start
        time.sleep(0.02)
    raise TimeoutError(f"no {kind} incident within {timeout}s")


def wait_resolved(db, kind, timeout):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if all(state == "resolved" for _, state in incidents(db, kind)):
            return
        time.sleep(0.1)
    raise TimeoutError(f"{kind} not resolved within {timeout}s")


def control(port, line):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(line.encode() + b"\r\n")
        return s.recv(256).decode().strip()


def time_to_detect(b):
    results = {}
    p1, port1, admin1 = b.mcd()
    proxy_ctl = free_port()
    proxy_port = free_port()
    proxy = b.start([os.path.join(TOOLS, "tests/tools/faultproxy"), "--listen",
                     f"127.0.0.1:{proxy_port}", "--upstream", f"127.0.0.1:{port1}",
                     "--control", f"127.0.0.1:{proxy_ctl}"], "faultproxy")
    wait_port(proxy_ctl, proxy)
    p2, port2, admin2 = b.mcd()
    conf, db, metrics = b.config("detect", [(proxy_port, admin1), (port2, admin2)],
                                 BENCH_MONITOR)
    b.mcmon(conf, metrics)
    time.sleep(22)  # the long tail window fills, the storm baselines learn

    # node down: killed, then hung. n2 is the victim; restarted on its ports.
    kills = []
    for _ in range(5):
        known = len(incidents(db, "node_down"))
        b.stop(p2, signal.SIGKILL)
        kills.append(wait_new(db, "node_down", known, 15))
        p2, _, _ = b.mcd(port2, admin2)
        wait_resolved(db, "node_down", 30)
    results["node_down (killed)"] = kills
    hangs = []
    for _ in range(3):
        known = len(incidents(db, "node_down"))
        os.kill(p2.pid, signal.SIGSTOP)
        try:
            hangs.append(wait_new(db, "node_down", known, 15))
        finally:
            os.kill(p2.pid, signal.SIGCONT)
        wait_resolved(db, "node_down", 30)
    results["node_down (hung)"] = hangs

    # latency tail on n1, through the proxy.
    tails = []
    for _ in range(3):
        known = len(incidents(db, "latency_tail"))
        assert control(proxy_ctl, "delay 0.15 5ms 15ms") == "OK"
        try:
            tails.append(wait_new(db, "latency_tail", known, 40))
        finally:
            assert control(proxy_ctl, "off") == "OK"
        try:
            wait_resolved(db, "latency_tail", 60)
        except TimeoutError:
            # Seen on this VM: after the proxy stops delaying, 2-10% of the probes
            # through its extra hop still take over 5 ms (the machine's own scheduling
            # latency; the proxy's counters show no delay), so the tail lasts. Said,
            # and the remaining trials skipped: a new incident cannot open meanwhile.
            print(f"  note: the latency_tail incident was still open 60 s after the fault "
                  f"ended (slow probes without an injected delay); {len(tails)} trial(s) "
                  "kept", flush=True)
            break
    results["latency_tail (15% at 5-15 ms)"] = tails

    # connection storm on n2.
    storms = []
    for _ in range(3):
        known = len(incidents(db, "connection_storm"))
        gen = subprocess.Popen([os.path.join(TOOLS, "tests/tools/stormgen"), "--target",
                                f"127.0.0.1:{port2}", "--rate", "1000", "--count", "5000",
                                "--duration", "6s"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        try:
            storms.append(wait_new(db, "connection_storm", known, 15))
        finally:
            gen.wait(timeout=30)
        wait_resolved(db, "connection_storm", 60)
    results["connection_storm (1000 conn/s)"] = storms
    return results


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def measure_cpu(b, name, nodes):
    conf, _, metrics = b.config(name, nodes, {"storm_overflow_rate": "0"})
    mon = b.mcmon(conf, metrics)
    time.sleep(WARMUP_SECONDS)  # steady state: windows full, storm baselines warmed up
    t0, c0 = time.monotonic(), cpu_ticks(mon.pid)
    time.sleep(CPU_SECONDS)
    t1, c1 = time.monotonic(), cpu_ticks(mon.pid)
    rss = rss_kb(mon.pid)
    with open(conf.replace(".conf", ".json")) as f:
        view = json.load(f)
    b.stop(mon)
    up = sum(1 for n in view["nodes"] if n["up"] and n["poll_ok"])
    return 100.0 * (c1 - c0) / TICKS / (t1 - t0), rss, up


def measure_floor(b, nodes, admin=True):
    """CPU percent of probe_floor making mcmon's round trips to the same nodes."""
    argv = [os.path.join(TOOLS, "bench", "probe_floor"), "--seconds", str(CPU_SECONDS),
            "--rate", "10", "--user", "probe", "--password-file",
            os.path.join(b.dir, "probe.pw")]
    if admin:
        argv += ["--admin-user", "ops", "--admin-password-file", os.path.join(b.dir, "ops.pw")]
    out = subprocess.run(argv + [f"{c}:{a}" for c, a in nodes], capture_output=True, text=True,
                         timeout=CPU_SECONDS + 60)
    if out.returncode != 0:
        raise RuntimeError(f"probe_floor failed: {out.stderr}")
    return float(out.stdout.split("cpu_percent=")[1].split()[0])


def main():
    for exe in ("mcd", "mcmon", "mctl"):
        if not os.path.exists(os.path.join(BIN, exe)):
            print(f"bench_mcmon: {exe} is not built (run make)", file=sys.stderr)
            return 1
    b = Bench()
    try:
        print("time from fault start to incident open (default detector settings):")
        for what, times in time_to_detect(b).items():
            print(f"  {what:34s} median {statistics.median(times):5.2f} s   "
                  f"min {min(times):5.2f}   max {max(times):5.2f}   ({len(times)} trials)")

        out = os.path.join(b.dir, "fakenodes.json")
        fake = b.start([sys.executable, os.path.join(ROOT, "bench", "fakenodes.py"), "--nodes",
                        "50", "--out", out], "fakenodes")
        deadline = time.monotonic() + 20
        while not os.path.exists(out) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(out) as f:
            nodes = json.load(f)["nodes"]
        cpu50, rss50, up50 = measure_cpu(b, "cpu50", nodes)
        floor50 = measure_floor(b, nodes, admin=False)
        b.stop(fake)
        real = [b.mcd()[1:] for _ in range(5)]
        cpu5, rss5, up5 = measure_cpu(b, "cpu5", real)
        floor5 = measure_floor(b, real)
        print(f"\nCPU at the defaults (10 probes + 1 poll a second per node), {CPU_SECONDS} s each:")
        print(f"  {'':22s} {'mcmon':>8s} {'floor':>8s} {'mcmon - floor':>14s}")
        for what, cpu, floor, count in (("50 fake nodes", cpu50, floor50, 50),
                                        ("5 real mcd", cpu5, floor5, 5)):
            print(f"  {what:22s} {cpu:7.2f}% {floor:7.2f}% {cpu - floor:13.2f}%   "
                  f"({cpu / count:.3f}% per node)")
        print(f"  mcmon RSS: {rss50 / 1024:.1f} MiB with 50 nodes, {rss5 / 1024:.1f} MiB with 5; "
              f"nodes up: {up50}/50, {up5}/5")
        verdict = "meets" if cpu50 < 2.0 else "misses"
        print(f"  target below 2% of one core for 50 nodes: {verdict} it ({cpu50:.2f}%, of which "
              f"{floor50:.2f}% is the round trips' floor on this machine)")
        return 0 if up50 == 50 and up5 == 5 else 1
    finally:
        b.close()


if __name__ == "__main__":
    sys.exit(main())
