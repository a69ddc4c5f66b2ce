#!/usr/bin/python3
"""Cost of counting a listener's established connections, four ways, at 1,000, 10,000
and 30,000 established loopback connections:

  mctl netlink  `mctl conns --port P --method netlink`   (a process per count)
  mctl proc     `mctl conns --port P --method proc`
  ss            `ss -Htn state established '( sport = :P )' | wc -l`
  lsof          `lsof -nP -iTCP:P -sTCP:ESTABLISHED | wc -l`

and, for reference, lib/conncount inside a long-running process (bench/conncount_cost:
the counter opened once, as mcd's `stats kernel` uses it), the first count of a new
process by the library alone (what a one-shot command pays the kernel), and that
process as a whole (starting, opening, one count: the least a one-shot command costs).
If bin/mcd answers `stats kernel` on its admin port, its cost under 10,000 connections
is measured too.

Per method and size: the median wall time and the median CPU time (user + system of
the command and its children, from RUSAGE_CHILDREN) over several runs. Then the
ratios, and the issue's targets: at 10k, netlink >= 50x cheaper than lsof and cheaper
than ss; netlink's cost growing no faster than linearly with the connections.

The connections are held by tests/tools/connholder.py processes (a process may hold
only ~20,000 files here): three accepting processes share the port with SO_REUSEPORT,
three connecting processes use their own source addresses (127.0.0.10-12) so that the
ephemeral port range is no limit. Everything is bounded in time and stopped by pid.
Environment: MCOPS_BIN (bin/), MCOPS_TOOLS (build/rel/).
"""
import os
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("MCOPS_BIN", os.path.join(ROOT, "bin"))
TOOLS = os.environ.get("MCOPS_TOOLS", os.path.join(ROOT, "build", "rel"))
HOLDER = os.path.join(ROOT, "tests", "tools", "connholder.py")
MCTL = os.path.join(BIN, "mctl")
MCD = os.path.join(BIN, "mcd")
COST = os.path.join(TOOLS, "bench", "conncount_cost")

SIZES = (1000, 10000, 30000)
HOLDERS = 3                 # accepting processes, and as many connecting ones
CHUNK = 1000                # connections per connect command
SETUP_TIMEOUT = 120.0       # seconds to reach one size
RUNS = 7                    # samples per method and size (median)
LSOF_RUNS = 3               # lsof takes seconds at 30k
COMMAND_TIMEOUT = 60.0


class Holder:
    def __init__(self, name):
        self.name = name
        self.p = subprocess.Popen([sys.executable, HOLDER], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True, start_new_session=True)

    def cmd(self, line, timeout=60.0):
        self.p.stdin.write(line + "\n")
        self.p.stdin.flush()
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            raise RuntimeError(f"{self.name}: no answer to '{line}' within {timeout}s")
        answer = self.p.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise RuntimeError(f"{self.name}: {line}: {answer}")
        return answer[3:]

    def stop(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=5)


def measure(argv, runs, shell=False):
    """Median wall and CPU milliseconds of a command, and its last output."""
    walls, cpus, out = [], [], ""
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        r = subprocess.run(argv, shell=shell, capture_output=True, text=True,
                           timeout=COMMAND_TIMEOUT)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode not in (0,):
            raise RuntimeError(f"{argv}: exit {r.returncode}: {r.stderr.strip()}")
        walls.append(wall * 1000)
        cpus.append(((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
                    * 1000)
        out = r.stdout
    return statistics.median(walls), statistics.median(cpus), out


def established_from_mctl(out):
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "established":
            return int(words[1])
    raise RuntimeError(f"no established row in: {out}")


def table_size():
    """TCP sockets in the namespace (all states): the table every method walks."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                return int(w[w.index("inuse") + 1]) + int(w[w.index("tw") + 1])
    return -1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_request(sock, line, timeout=5.0):
    """Sends one admin command; returns the reply up to END or an error line."""
    sock.sendall(line.encode() + b"\r\n")
    data = b""
    deadline = time.monotonic() + timeout
    while not (data.endswith(b"END\r\n") or data.endswith(b"ERROR\r\n")):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode("ascii", "replace")


def stat_value(reply, name):
    for line in reply.splitlines():
        w = line.split()
        if len(w) == 3 and w[0] == "STAT" and w[1] == name:
            return int(w[2])
    return None


def raise_nofile():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def process_cpu_ms(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def mcd_stats_kernel(clients, conns):
    """`stats kernel` on an mcd whose client port holds `conns` connections: the median
    wall ms of a fresh answer (mcd refreshes at most once a second, so requests are
    spaced 1.1 s apart), its CPU ms per request (coarse: clock ticks), the median of an
    answer served from its cache, and the established count mcd reported. None and a
    reason when bin/mcd is missing or does not answer `stats kernel`."""
    if not os.path.exists(MCD):
        return None, f"{MCD} is not built"
    cport, aport = free_port(), free_port()
    mcd = subprocess.Popen([MCD, "-p", str(cport), "-l", "127.0.0.1", "--admin-port",
                            str(aport), "-c", str(conns + 1000), "-t", "2", "-b", "4096"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           preexec_fn=raise_nofile, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                admin = socket.create_connection(("127.0.0.1", aport), timeout=1)
                break
            except OSError:
                if mcd.poll() is not None or time.monotonic() > deadline:
                    return None, "mcd did not start"
                time.sleep(0.05)
        with admin:
            reply = admin_request(admin, "stats kernel")
            if stat_value(reply, "listener:client:established") is None:
                return None, "mcd does not answer `stats kernel` yet"
            have = 0
            while have < conns:
                i = (have // CHUNK) % len(clients)
                step = min(CHUNK, conns - have)
                clients[i].cmd(f"connect 127.0.0.1 {cport} {step} 127.0.0.{10 + i}")
                have += step
            fresh, cached, seen = [], [], None
            cpu0 = process_cpu_ms(mcd.pid)
            for _ in range(8):
                time.sleep(1.1)
                t0 = time.perf_counter()
                reply = admin_request(admin, "stats kernel")
                fresh.append((time.perf_counter() - t0) * 1000)
                seen = stat_value(reply, "listener:client:established")
                t0 = time.perf_counter()
                admin_request(admin, "stats kernel")
                cached.append((time.perf_counter() - t0) * 1000)
            cpu = (process_cpu_ms(mcd.pid) - cpu0) / len(fresh)
            return (statistics.median(fresh), cpu, statistics.median(cached), seen), None
    finally:
        for c in clients:
            c.cmd("abort clients")
        mcd.send_signal(signal.SIGTERM)
        try:
            mcd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            mcd.kill()
            mcd.wait(timeout=5)


def library_cost(port, n, runs):
    """bench/conncount_cost: the median wall and CPU ms of a count by lib/conncount,
    the counter opened once and read `runs` times in one process."""
    r = subprocess.run([COST, "--port", str(port), "--method", "netlink", "--runs",
                        str(runs)], capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    fields = dict(kv.split("=") for kv in r.stdout.split())
    if r.returncode != 0 or int(fields["established"]) != n:
        raise RuntimeError(f"conncount_cost: {r.stdout} {r.stderr}")
    return float(fields["wall_us"]) / 1000, float(fields["cpu_us"]) / 1000


def grow_to(servers, clients, port, n, have):
    deadline = time.monotonic() + SETUP_TIMEOUT
    while have < n:
        i = (have // CHUNK) % len(clients)
        step = min(CHUNK, n - have)
        clients[i].cmd(f"connect 127.0.0.1 {port} {step} 127.0.0.{10 + i}")
        have += step
        if time.monotonic() > deadline:
            raise RuntimeError(f"could not open {n} connections in {SETUP_TIMEOUT}s")
    while sum(int(s.cmd("accepted")) for s in servers) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("the accepting processes fell behind")
        time.sleep(0.1)
    return have


def main():
    for path in (MCTL, COST):
        if not os.path.exists(path):
            print(f"bench_conns: {path} is not built (run make)", file=sys.stderr)
            return 1
    missing = [t for t in ("ss", "lsof") if shutil.which(t) is None]
    if missing:
        print(f"bench_conns: missing {' '.join(missing)} (scripts/setup installs them)",
              file=sys.stderr)
        return 1

    servers, clients, results = [], [], {}
    try:
        for i in range(HOLDERS):
            servers.append(Holder(f"server{i}"))
            clients.append(Holder(f"client{i}"))
        for h in servers + clients:
            h.cmd("nofile")
        port = int(servers[0].cmd("listen 127.0.0.1 0 4096 reuseport"))
        for s in servers[1:]:
            s.cmd(f"listen 127.0.0.1 {port} 4096 reuseport")
        for s in servers:
            s.cmd("accept_bg 0")

        # mcd first, while the table holds nothing of ours; its connections are reset
        # afterwards, so no TIME_WAIT sockets are left to slow the counts below.
        mcd, mcd_note = mcd_stats_kernel(clients, 10000)

        have = 0
        methods = [
            ("mctl netlink", [MCTL, "conns", "--port", str(port), "--method", "netlink"], False),
            ("mctl proc", [MCTL, "conns", "--port", str(port), "--method", "proc"], False),
            ("ss", f"ss -Htn state established '( sport = :{port} )' | wc -l", True),
            ("lsof", f"lsof -nP -iTCP:{port} -sTCP:ESTABLISHED | wc -l", True),
        ]
        for n in SIZES:
            t0 = time.monotonic()
            have = grow_to(servers, clients, port, n, have)
            print(f"{n} connections up in {time.monotonic() - t0:.1f}s; "
                  f"TCP sockets in the namespace: {table_size()}", flush=True)
            for name, argv, shell in methods:
                runs = LSOF_RUNS if name == "lsof" and n > 10000 else RUNS
                wall, cpu, out = measure(argv, runs, shell)
                if name.startswith("mctl"):
                    seen = established_from_mctl(out)
                    if seen != n:
                        raise RuntimeError(f"{name} counted {seen}, expected {n}")
                elif name == "ss" and int(out.strip()) != n:
                    raise RuntimeError(f"ss counted {out.strip()}, expected {n}")
                results[(name, n)] = (wall, cpu)
            results[("in-process netlink", n)] = library_cost(port, n, 50)
            # One count in a new process, without starting a command: the kernel's
            # part of a one-shot count, caches and all.
            firsts = [library_cost(port, n, 1) for _ in range(RUNS)]
            results[("library, first count", n)] = (
                statistics.median(w for w, _ in firsts), statistics.median(c for _, c in firsts))
            # The same as a whole process (libc only, no output): the least a one-shot
            # command can cost here.
            wall, cpu, _ = measure([COST, "--port", str(port), "--method", "netlink", "--runs",
                                    "1"], RUNS)
            results[("bare one-count process", n)] = (wall, cpu)
    finally:
        # Resets instead of closes: 30,000 TIME_WAIT sockets would slow everyone's
        # tests for a minute.
        for h in clients:
            if h.p.poll() is None:
                try:
                    h.cmd("abort clients")
                except (RuntimeError, OSError):
                    pass
        for h in servers + clients:
            h.stop()

    names = ["in-process netlink", "library, first count", "bare one-count process",
             "mctl netlink", "mctl proc", "ss", "lsof"]
    print()
    print(f"{'method':<22}" + "".join(f"{f'{n} wall/cpu ms':>22}" for n in SIZES))
    for name in names:
        cells = []
        for n in SIZES:
            if (name, n) in results:
                w, c = results[(name, n)]
                cells.append(f"{w:>12.1f} /{c:>8.1f}")
            else:
                cells.append(f"{'-':>22}")
        print(f"{name:<22}" + "".join(f"{c:>22}" for c in cells))

    print()
    print("ratios (cost of the other / cost of mctl netlink), wall and CPU:")
    for other in ("lsof", "ss", "mctl proc"):
        cells = []
        for n in SIZES:
            ow, oc = results[(other, n)]
            nw, nc = results[("mctl netlink", n)]
            cells.append(f"{n}: {ow / nw:6.1f}x / {oc / max(nc, 0.001):6.1f}x")
        print(f"  {other:<10} " + "   ".join(cells))
    cells = []
    for n in SIZES:
        ow, oc = results[("lsof", n)]
        iw, ic = results[("in-process netlink", n)]
        cells.append(f"{n}: {ow / iw:6.1f}x / {oc / max(ic, 0.001):6.1f}x")
    print("  lsof / in-process netlink (no process start, a warm table): " + "   ".join(cells))
    cells = []
    for n in SIZES:
        ow, oc = results[("lsof", n)]
        bw, bc = results[("bare one-count process", n)]
        cells.append(f"{n}: {ow / bw:6.1f}x / {oc / max(bc, 0.001):6.1f}x")
    print("  lsof / bare one-count process (the least a one-shot command costs): " +
          "   ".join(cells))
    nw1, _ = results[("mctl netlink", 1000)]
    nw30, _ = results[("mctl netlink", 30000)]
    iw1, _ = results[("in-process netlink", 1000)]
    iw30, _ = results[("in-process netlink", 30000)]
    print(f"growth 1k -> 30k (30x the connections): mctl netlink {nw30 / nw1:.1f}x, "
          f"in-process netlink {iw30 / iw1:.1f}x")
    print("in-process netlink per connection: " + ", ".join(
        f"{n}: {results[('in-process netlink', n)][0] * 1000 / n:.2f} us" for n in SIZES))

    if mcd is None:
        print(f"mcd stats kernel: not measured: {mcd_note}")
    else:
        fresh, cpu, cached, seen = mcd
        print(f"mcd stats kernel at 10000 connections: {fresh:.1f} ms wall and "
              f"{cpu:.1f} ms CPU when refreshed, {cached:.2f} ms from its 1 s cache; "
              f"it reported {seen} established")

    lw, lc = results[("lsof", 10000)]
    sw, sc = results[("ss", 10000)]
    nw, nc = results[("mctl netlink", 10000)]
    checks = [
        ("at 10k, netlink >= 50x cheaper than lsof (wall)", lw / nw >= 50),
        ("at 10k, netlink cheaper than ss (wall)", nw < sw),
        ("netlink grows no faster than linearly", nw30 / nw1 <= 30 and iw30 / iw1 <= 30),
    ]
    for what, ok in checks:
        print(f"target {'met   ' if ok else 'MISSED'}: {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
