#!/usr/bin/python3
"""bench_proxy: mcd's proxy role (`mcd --proxy FILE`) against nutcracker (twemproxy),
side by side in one run, in front of the same backends.

Backends: BACKENDS `bin/mcd -t 1` processes (no tenants) on free loopback ports, shared
by the proxies. The proxies place keys the same way (ketama, md5, the same
`host:port:weight name` server lines), do not eject a failing backend (eject = no,
auto_eject_hosts: false; both mark a backend down after 2 failures and retry after
1 s) and have a 1 s request timeout. Ours runs with `-t PROXY_THREADS` and the
spec's default `connections = 2` per worker thread and backend; nutcracker is one
thread with its default server_connections: 1 (as many connections as ours, 4, made
it slower here: 14.6-18k against 20.6k ops/s). A second mcd proxy with `-t 1` runs in
the throughput rounds too, for nutcracker's single thread.

1. added latency: bench/closedloop, one connection each to a backend directly, to
   ours and to nutcracker, the three taking turns request by request in a random
   order (so that the machine's other work falls on all three alike), one request in
   flight, 90% get / 10% set on 1000 stored keys. Added = through the proxy - direct,
   at p50 and p99, in each run; the median of ROUNDS runs. Target: ours' added
   <= 1.2 x nutcracker's, at both. Beside it, the backend latency mcd's `stats backends`
   reports (its histogram since start, which these runs are most of).
2. throughput: memcaslap -T 2 -c 32 -t BENCH_SECONDS (90% get, 10% set) through each
   proxy, ROUNDS rounds, the order rotating; the median round of each, and as the
   ratio the median of the rounds' ratios (paired in time). Also each
   proxy's CPU per 1000 requests in those runs (from /proc/PID/stat), which the
   machine's other work disturbs less than the rate. Target: ours/nutcracker >= 1.0.
3. idle client connections: with the proxy warmed up (10 clients served, then closed),
   VmRSS before and after IDLE_CONNS connections that send nothing (the proxy has
   accepted them all: its fd count says so), then after each has been served once.
   Target: ours <= 0.5 KB per idle connection; nutcracker's for reference.
4. backend connections: the proxy's established connections to the backend ports
   (/proc/net/tcp against the proxy's own socket inodes) with 10 clients and with
   IDLE_CONNS clients, each having been served a multi-get that touches every backend.
   Target: equal (a proxy multiplexes; it never opens a backend connection per client).
Then: keys set through ours must be found through nutcracker (same placement), the
gets of the latency runs must all hit, and each proxy's own failure counters are
printed (a proxy that failed requests was not measured doing its job).

How much to trust a ratio: with a second nutcracker in the mcd column, the latency
ratios came out 0.99-1.03 and the throughput ratio 0.96-1.03 (5 s runs, median of 3);
single 1-3 s runs varied by up to 30%.

IDLE_CONNS is 10,000 unless the hard RLIMIT_NOFILE of this process is too low for it
and the proxies, then as many as it allows (the run says so).

Only ratios measured in the same run mean anything: the machine is shared. A missed
target is reported, not an error; the exit status is non-zero only when a measurement
could not be made. Every process is stopped by pid; every wait and load is bounded;
loopback only.
Environment: MCOPS_BIN, MCOPS_TOOLS, BENCH_SECONDS (memcaslap run, default 5),
BENCH_ROUNDS (default 5), BENCH_IDLE_CONNS (default 10000), BENCH_PROXY_THREADS (2).
"""
import json
import os
import resource
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import Procs, free_port, wait_port  # noqa: E402

BIN = os.environ.get("MCOPS_BIN", os.path.join(ROOT, "bin"))
TOOLS = os.environ.get("MCOPS_TOOLS", os.path.join(ROOT, "build", "rel"))
MCD = os.path.join(BIN, "mcd")
CLOSEDLOOP = os.path.join(TOOLS, "bench", "closedloop")

BACKENDS = 3
RUN_SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
IDLE_CONNS = int(os.environ.get("BENCH_IDLE_CONNS", "10000"))
PROXY_THREADS = int(os.environ.get("BENCH_PROXY_THREADS", "2"))
CONNECTIONS_PER_THREAD = 2          # the proxy file's `connections` (the spec's default)
TIMEOUT_MS = 1000
MEMCASLAP_THREADS = 2
MEMCASLAP_CONCURRENCY = 32
LATENCY_COUNT = 8000                # counted requests per target and run
FEW_CLIENTS = 10
PLACEMENT_KEYS = 300
FD_HEADROOM = 200                   # descriptors kept back for everything but the clients
MULTIGET_KEYS = 24                  # keys in the get each client sends: every backend is hit
CONNECT_BATCH = 500                 # requests in flight while serving the held clients
SETTLE_SECONDS = 1.0                # after the last connection, before reading RSS
WAIT_SECONDS = 60.0                 # bound on every wait for the proxy to catch up

TARGETS = {"throughput": 1.0, "added latency": 1.2, "idle bytes": 512}


def raise_nofile():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def has_proxy_role():
    if not os.path.exists(MCD):
        return False
    out = subprocess.run([MCD, "-h"], capture_output=True, text=True, timeout=10)
    return "--proxy" in out.stdout + out.stderr


# --- the proxies --------------------------------------------------------------------------

class Proxy:
    """One proxy under test: its name, kind (mcd or nutcracker), client port, process,
    the command it was started with, and the port its counters are read from (mcd's
    admin port, nutcracker's stats port)."""

    def __init__(self, name, kind, port, proc, argv, stats_port):
        self.name, self.kind, self.port, self.proc = name, kind, port, proc
        self.argv, self.stats_port = argv, stats_port


def start_backends(procs):
    ports = []
    for i in range(BACKENDS):
        port = free_port()
        p = procs.start([MCD, "-l", "127.0.0.1", "-p", str(port), "-t", "1", "-m", "64",
                         "-c", "4096"], name=f"backend{i + 1}", preexec_fn=raise_nofile)
        wait_port(port, proc=p)
        ports.append(port)
    return ports


def server_lines(backend_ports):
    return [f"127.0.0.1:{p}:1 b{i + 1}" for i, p in enumerate(backend_ports)]


def start_ours(procs, work, backend_ports, conns, threads, name):
    port, admin_port = free_port(), free_port()
    conf = work / "proxy.ini"
    conf.write_text("[proxy]\n" + "".join(f"backend = {s}\n" for s in server_lines(backend_ports))
                    # units written out: mcd read a bare number as seconds before 67ae986
                    + f"timeout = {TIMEOUT_MS}ms\n"
                    "failure_limit = 2\n"
                    "retry_timeout = 1000ms\n"
                    "eject = no\n"
                    f"connections = {CONNECTIONS_PER_THREAD}\n")
    argv = [MCD, "--proxy", str(conf), "-l", "127.0.0.1", "-p", str(port),
            "-t", str(threads), "-c", str(conns + 100), "-b", "4096",
            "--admin-port", str(admin_port)]
    p = procs.start(argv, name=name.replace(" ", ""), preexec_fn=raise_nofile)
    wait_port(port, proc=p)
    return Proxy(name, "mcd", port, p, argv, admin_port)


def start_nutcracker(procs, work, backend_ports, name="nutcracker"):
    port, stats_port = free_port(), free_port()
    conf = work / f"{name}.yml"
    conf.write_text("pool:\n"
                    f"  listen: 127.0.0.1:{port}\n"
                    "  hash: md5\n"
                    "  distribution: ketama\n"
                    "  auto_eject_hosts: false\n"
                    "  server_failure_limit: 2\n"
                    "  server_retry_timeout: 1000\n"
                    f"  timeout: {TIMEOUT_MS}\n"
                    "  backlog: 4096\n"
                    "  servers:\n" + "".join(f"   - {s}\n" for s in server_lines(backend_ports)))
    check = subprocess.run(["nutcracker", "-t", "-c", str(conf)], capture_output=True,
                           text=True, timeout=10)
    if check.returncode != 0:
        raise RuntimeError(f"nutcracker -t: {check.stderr.strip()}")
    # -i: its counters are aggregated every second (30 s by default), for the last look
    argv = ["nutcracker", "-c", str(conf), "-s", str(stats_port), "-a", "127.0.0.1",
            "-i", "1000", "-p", str(work / f"{name}.pid"), "-o", str(work / f"{name}.log")]
    p = procs.start(argv, name=name, preexec_fn=raise_nofile)
    wait_port(port, proc=p)
    return Proxy(name, "nutcracker", port, p, argv, stats_port)


# --- /proc ----------------------------------------------------------------------------------

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def socket_inodes(pid):
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def backend_connections(pid, backend_ports):
    """The process's ESTABLISHED TCP connections whose remote port is a backend's."""
    mine = socket_inodes(pid)
    ports = {f"{p:04X}" for p in backend_ports}
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    w = line.split()
                    if w[3] == "01" and w[2].rsplit(":", 1)[1] in ports and w[9] in mine:
                        n += 1
        except FileNotFoundError:
            pass
    return n


# --- clients --------------------------------------------------------------------------------

def multiget_request():
    return ("get " + " ".join(f"pb:{i}" for i in range(MULTIGET_KEYS)) + "\r\n").encode()


def store_multiget_keys(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"".join(f"set pb:{i} 0 0 2\r\nv{i % 10}\r\n".encode()
                           for i in range(MULTIGET_KEYS)))
        got = b""
        while got.count(b"\r\n") < MULTIGET_KEYS:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError(f"port {port}: closed while storing keys")
            got += chunk
        if got.count(b"STORED\r\n") != MULTIGET_KEYS:
            raise RuntimeError(f"port {port}: storing keys: {got[:200]!r}")


def open_clients(port, n):
    """n connected sockets, nothing sent; bounded by a connect timeout each."""
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            socks.append(s)
    except OSError:
        abort_clients(socks)
        raise
    return socks


def abort_clients(socks):
    """Closes with a reset (SO_LINGER 0): thousands of TIME_WAIT sockets would slow
    everyone's tests."""
    for s in socks:
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        except OSError:
            pass
        s.close()
    socks.clear()


def serve_all(socks):
    """Sends the multi-get on every socket, CONNECT_BATCH in flight at a time, and reads
    each reply to its END. Returns the number of replies that were not whole hits."""
    req = multiget_request()
    bad = 0
    sel = selectors.DefaultSelector()
    try:
        for start in range(0, len(socks), CONNECT_BATCH):
            batch = socks[start:start + CONNECT_BATCH]
            pending = {}
            for s in batch:
                s.setblocking(False)
                if s.send(req) != len(req):  # a few dozen bytes into an empty buffer
                    raise RuntimeError("a multi-get did not fit a fresh socket's buffer")
                pending[s] = b""
                sel.register(s, selectors.EVENT_READ)
            deadline = time.monotonic() + WAIT_SECONDS
            while pending:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{len(pending)} multi-get replies missing after "
                                       f"{WAIT_SECONDS}s")
                for key, _ in sel.select(timeout=1.0):
                    s = key.fileobj
                    chunk = s.recv(65536)
                    if not chunk:
                        raise RuntimeError("a proxy closed a client connection")
                    pending[s] += chunk
                    if pending[s].endswith(b"END\r\n") or pending[s].endswith(b"ERROR\r\n"):
                        if pending[s].count(b"VALUE ") != MULTIGET_KEYS:
                            bad += 1
                        sel.unregister(s)
                        del pending[s]
    finally:
        sel.close()
    return bad


def wait_fds(pid, want, rising):
    """Until the process holds at least (rising) or at most want descriptors."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        n = fd_count(pid)
        if (n >= want) if rising else (n <= want):
            return n
        if time.monotonic() > deadline:
            raise RuntimeError(f"pid {pid} holds {n} descriptors, waited for "
                               f"{'>=' if rising else '<='} {want}")
        time.sleep(0.05)


# --- the measurements -----------------------------------------------------------------------

def memcaslap(proxy, concurrency=MEMCASLAP_CONCURRENCY, conn_sock=1):
    """(ops/s, proxy CPU ms per 1000 requests) of one memcaslap run through proxy (any
    object with name, port and proc: bench_accounting runs it against mcd itself);
    conn_sock sockets per concurrency (memcaslap's -n)."""
    cpu0 = cpu_seconds(proxy.proc.pid)
    r = subprocess.run(["memcaslap", "-s", f"127.0.0.1:{proxy.port}", "-T",
                        str(MEMCASLAP_THREADS), "-c", str(concurrency), "-n", str(conn_sock),
                        "-t", f"{RUN_SECONDS}s"],
                       capture_output=True, text=True, timeout=RUN_SECONDS + 60)
    cpu = cpu_seconds(proxy.proc.pid) - cpu0
    tps, ops = None, None
    for line in r.stdout.splitlines():
        if "TPS:" in line:
            w = line.replace(":", " ").split()
            tps = int(w[w.index("TPS") + 1])
            ops = int(w[w.index("Ops") + 1])
    if tps is None or not ops:
        raise RuntimeError(f"memcaslap through {proxy.name} gave no TPS: "
                           f"{(r.stdout + r.stderr)[-500:]}")
    return tps, cpu * 1000 * 1000 / ops


def closedloop(ports):
    """One interleaved run; {port: fields} from closedloop's result lines."""
    argv = [CLOSEDLOOP, "--count", str(LATENCY_COUNT)]
    for p in ports:
        argv += ["--target", f"127.0.0.1:{p}"]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"closedloop: exit {r.returncode}: {r.stderr.strip()}")
    out = {}
    for line in r.stdout.splitlines():
        if line.startswith("result "):
            f = dict(kv.split("=", 1) for kv in line.split()[1:])
            out[int(f["target"].rsplit(":", 1)[1])] = f
    return out


def connections(proxy, backend_ports, n):
    """{idle, served: RSS growth per connection in bytes, few, many: backend connections
    with FEW_CLIENTS and with n served clients, bad: replies that were not whole hits,
    said: what mcd's `stats proxy` says while the n are held (None for nutcracker)}."""
    pid = proxy.proc.pid
    held = []
    try:
        held = open_clients(proxy.port, FEW_CLIENTS)
        bad = serve_all(held)
        time.sleep(0.3)
        few = backend_connections(pid, backend_ports)
        with_few = fd_count(pid)
        abort_clients(held)
        wait_fds(pid, with_few - FEW_CLIENTS, rising=False)
        time.sleep(SETTLE_SECONDS)

        fds0 = fd_count(pid)
        before = rss_kb(pid)
        held = open_clients(proxy.port, n)
        wait_fds(pid, fds0 + n, rising=True)
        time.sleep(SETTLE_SECONDS)
        idle = rss_kb(pid)
        bad += serve_all(held)
        time.sleep(SETTLE_SECONDS)
        served = rss_kb(pid)
        many = backend_connections(pid, backend_ports)
        said = admin_stats(proxy.stats_port, "stats proxy") if proxy.kind == "mcd" else None
    finally:
        abort_clients(held)
    wait_fds(pid, fds0, rising=False)
    return {"idle": (idle - before) * 1024 / n, "served": (served - before) * 1024 / n,
            "few": few, "many": many, "bad": bad, "said": said}


# --- what the proxies say -------------------------------------------------------------------

def read_until(sock, ends, timeout=5.0):
    data = b""
    deadline = time.monotonic() + timeout
    while not any(data.endswith(e) for e in ends):
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def admin_stats(port, command, login=None):
    """{name: value} of the STAT lines mcd's admin port answers to command; first
    logged in as login = (user, password) when given (mcd with a tenants file)."""
    auth = b""
    if login is not None:
        auth = f"set {login[0]} 0 0 {len(login[1])}\r\n{login[1]}\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(auth + command.encode() + b"\r\n")
        reply = read_until(s, (b"END\r\n", b"ERROR\r\n")).decode("ascii", "replace")
    if auth and not reply.startswith("STORED\r\n"):
        raise RuntimeError(f"port {port}: admin login as {login[0]}: {reply[:100]!r}")
    out = {}
    for line in reply.splitlines():
        w = line.split(" ", 2)
        if len(w) == 3 and w[0] == "STAT":
            out[w[1]] = w[2]
    return out


def nutcracker_stats(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        data = read_until(s, (), timeout=5)
    return json.loads(data)


def counters(proxy, n_backends):
    """One line of the proxy's own failure counters and its requests per backend: a
    proxy that timed out, refused or failed requests during the bench is not measured
    doing its job, whatever the rates say."""
    names = [f"b{i + 1}" for i in range(n_backends)]
    if proxy.kind == "mcd":
        st = admin_stats(proxy.stats_port, "stats proxy")
        be = admin_stats(proxy.stats_port, "stats backends")
        fails = " ".join(f"{k} {st.get(k, '?')}" for k in
                         ("requests", "fast_failures", "queue_refusals", "timeouts",
                          "backends_up", "backend_connections"))
        per = " ".join(f"{n} {be.get(f'{n}:requests', '?')}/{be.get(f'{n}:errors', '?')}"
                       f"/{be.get(f'{n}:timeouts', '?')}" for n in names)
        return f"{fails}; per backend requests/errors/timeouts: {per}"
    st = nutcracker_stats(proxy.stats_port)["pool"]
    fails = " ".join(f"{k} {st.get(k, '?')}" for k in ("forward_error", "client_err",
                                                       "server_ejects"))
    per = " ".join(f"{n} {st[n]['requests']}/{st[n]['server_err'] + st[n]['server_eof']}"
                   f"/{st[n]['server_timedout']}" for n in names if n in st)
    return f"{fails}; per backend requests/errors/timeouts: {per}"


def placement_agreement(writer, reader, n):
    """Of n keys set through writer, how many reader finds (with writer's value): both
    place a key on the same backend, or reader misses it."""
    keys = [f"place:{i}:" + "k" * (i % 13) for i in range(n)]
    with socket.create_connection(("127.0.0.1", writer.port), timeout=5) as s:
        s.sendall(b"".join(f"set {k} 0 0 1\r\nw\r\n".encode() for k in keys))
        got = b""
        while got.count(b"\r\n") < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
        if got.count(b"STORED\r\n") != n:
            raise RuntimeError(f"placement: sets through {writer.name}: {got[:200]!r}")
    with socket.create_connection(("127.0.0.1", reader.port), timeout=5) as s:
        found = 0
        for k in keys:
            s.sendall(f"get {k}\r\n".encode())
            reply = read_until(s, (b"END\r\n", b"ERROR\r\n"))
            found += reply.startswith(f"VALUE {k} 0 1\r\nw\r\n".encode())
    return found


# --- the table ------------------------------------------------------------------------------

def report_failure(bench, error, procs, expected=()):
    """Says why a measurement could not be made, with the log tail of every process
    that had exited (unless with one of the expected statuses) by then."""
    print(f"{bench}: {error}", file=sys.stderr)
    for p in procs.started:
        if p.poll() is not None and p.returncode not in expected:
            print(f"{bench}: {p.args[0]} exited with {p.returncode}:\n"
                  f"{procs.log(p)[-2000:]}", file=sys.stderr)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def verdict(r, op, target):
    if r is None:
        return "-"
    return "ok" if (r >= target if op == ">=" else r <= target) else "MISSED"


def main():
    for tool in ("nutcracker", "memcaslap"):
        if shutil.which(tool) is None:
            print(f"bench_proxy: {tool} is not installed (scripts/setup installs it)",
                  file=sys.stderr)
            return 1
    for path in (MCD, CLOSEDLOOP):
        if not os.path.exists(path):
            print(f"bench_proxy: {path} is not built (make)", file=sys.stderr)
            return 1
    if not has_proxy_role():
        print(f"bench_proxy: {MCD} has no --proxy (the proxy role is not built)",
              file=sys.stderr)
        return 1
    hard = raise_nofile()
    n_idle = min(IDLE_CONNS, hard - FD_HEADROOM)

    work = Path(tempfile.mkdtemp(prefix="bench_proxy."))
    procs = Procs(work)
    failed = False
    try:
        backends = start_backends(procs)
        nut = start_nutcracker(procs, work, backends)
        ours = start_ours(procs, work, backends, n_idle, PROXY_THREADS, "mcd")
        ours1 = start_ours(procs, work, backends, FEW_CLIENTS, 1, "mcd -t 1")
        proxies = [ours, nut]
        print(f"backends: {BACKENDS} x mcd -t 1; ours: mcd --proxy -t {PROXY_THREADS} "
              f"(and -t 1 for throughput), connections = {CONNECTIONS_PER_THREAD} per "
              "thread per backend; nutcracker: one thread, server_connections 1 "
              "(its default)")
        if n_idle < IDLE_CONNS:
            print(f"bench_proxy: RLIMIT_NOFILE hard limit {hard}: {n_idle} client "
                  f"connections instead of {IDLE_CONNS}")

        # 1. added latency (first: the proxy's own latency figures are since its start)
        print(f"1/3 added latency: closedloop, direct / mcd / nutcracker interleaved, "
              f"{LATENCY_COUNT} requests each, {ROUNDS} runs, median", flush=True)
        lat = {"direct": [], ours.name: [], nut.name: []}
        misses = dict.fromkeys(lat, 0)
        for r in range(ROUNDS):
            order = [("direct", backends[r % BACKENDS]), (ours.name, ours.port),
                     (nut.name, nut.port)]
            res = closedloop([port for _, port in order])
            for name, port in order:
                f = res[port]
                misses[name] += int(f["misses"])
                lat[name].append((float(f["p50_us"]), float(f["p99_us"])))
            print(f"    run {r + 1}: " + ", ".join(
                f"{name} p50 {res[port]['p50_us']} p99 {res[port]['p99_us']} us"
                for name, port in order), flush=True)
        seen = admin_stats(ours.stats_port, "stats backends")
        own = [(int(seen[f"b{i + 1}:latency_p50_us"]), int(seen[f"b{i + 1}:latency_p99_us"]))
               for i in range(BACKENDS)]
        print("    mcd's own view (stats backends, since its start), p50 / p99 per backend: " +
              ", ".join(f"{p50} / {p99} us" for p50, p99 in own) +
              f" (closedloop direct: {statistics.median(v[0] for v in lat['direct']):.1f} / "
              f"{statistics.median(v[1] for v in lat['direct']):.1f} us)", flush=True)

        # 2. throughput
        print(f"2/3 throughput: memcaslap -T {MEMCASLAP_THREADS} -c {MEMCASLAP_CONCURRENCY} "
              f"-t {RUN_SECONDS}s, {ROUNDS} rounds, the order rotating, median", flush=True)
        contenders = [ours, nut, ours1]
        tput = {p.name: [] for p in contenders}
        for r in range(ROUNDS):
            for p in contenders[r % 3:] + contenders[:r % 3]:
                tps, cpu_per_k = memcaslap(p)
                tput[p.name].append((tps, cpu_per_k))
                print(f"    round {r + 1} {p.name:<11} {tps:>8} ops/s, proxy CPU "
                      f"{cpu_per_k:.2f} ms per 1000 requests", flush=True)

        # 3. connections
        print(f"3/3 client connections: {FEW_CLIENTS} served, then {n_idle} idle, then "
              f"those served a {MULTIGET_KEYS}-key get", flush=True)
        for p in proxies:
            store_multiget_keys(p.port)
        conns = {}
        for p in proxies:
            c = conns[p.name] = connections(p, backends, n_idle)
            print(f"    {p.name:<11} idle {c['idle']:.0f} B/conn, served {c['served']:.0f} "
                  f"B/conn, backend connections {c['few']} with {FEW_CLIENTS} clients, "
                  f"{c['many']} with {n_idle}; {c['bad']} replies not all hits", flush=True)
            if c["said"] is not None:
                print(f"    {p.name:<11} stats proxy while holding {n_idle}: client_connections "
                      f"{c['said'].get('client_connections')}, backend_connections "
                      f"{c['said'].get('backend_connections')}", flush=True)
            if c["bad"]:
                failed = True

        # what the proxies say about the run, and whether they agree on placement
        agree = placement_agreement(ours, nut, PLACEMENT_KEYS)
        time.sleep(1.2)  # nutcracker's counters are a second behind (-i 1000)
        health = {p.name: counters(p, BACKENDS) for p in proxies}
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        report_failure("bench_proxy", e, procs)
        return 1
    finally:
        procs.stop_all()
        shutil.rmtree(work, ignore_errors=True)

    def med(name, idx, table):
        return statistics.median(v[idx] for v in table[name])

    def added(name, idx):
        # per run, then the median: a run's proxy and direct figures share its moment
        return statistics.median(p[idx] - d[idx] for p, d in zip(lat[name], lat["direct"]))

    def paired(name):
        # the ratio within each round, then the median: neighbours in time share the
        # machine's load, which drifts over a minute more than two proxies differ
        return statistics.median(o[0] / n[0] for o, n in zip(tput[name], tput[nut.name]))

    o_tps, n_tps, o1_tps = med(ours.name, 0, tput), med(nut.name, 0, tput), \
        med(ours1.name, 0, tput)
    r_tps, r1_tps = paired(ours.name), paired(ours1.name)
    o_cpu, n_cpu, o1_cpu = med(ours.name, 1, tput), med(nut.name, 1, tput), \
        med(ours1.name, 1, tput)
    d50, d99 = med("direct", 0, lat), med("direct", 1, lat)
    o_add50, o_add99 = added(ours.name, 0), added(ours.name, 1)
    n_add50, n_add99 = added(nut.name, 0), added(nut.name, 1)
    o_idle, o_served, o_few, o_many = (conns[ours.name][k] for k in
                                       ("idle", "served", "few", "many"))
    n_idle_b, n_served, n_few, n_many = (conns[nut.name][k] for k in
                                         ("idle", "served", "few", "many"))

    rows = [
        (f"throughput, memcaslap (ops/s; -t {PROXY_THREADS})", fmt(o_tps, ".0f"),
         fmt(n_tps, ".0f"), r_tps, ">=", TARGETS["throughput"]),
        ("  proxy CPU per 1000 requests (ms)", fmt(o_cpu, ".2f"), fmt(n_cpu, ".2f"),
         ratio(o_cpu, n_cpu), None, None),
        ("  mcd -t 1: throughput (ops/s)", fmt(o1_tps, ".0f"), fmt(n_tps, ".0f"),
         r1_tps, None, None),
        ("  mcd -t 1: CPU per 1000 requests (ms)", fmt(o1_cpu, ".2f"), fmt(n_cpu, ".2f"),
         ratio(o1_cpu, n_cpu), None, None),
        (f"added latency p50 (us; direct {d50:.1f})", fmt(o_add50, ".1f"), fmt(n_add50, ".1f"),
         ratio(o_add50, n_add50), "<=", TARGETS["added latency"]),
        (f"added latency p99 (us; direct {d99:.1f})", fmt(o_add99, ".1f"), fmt(n_add99, ".1f"),
         ratio(o_add99, n_add99), "<=", TARGETS["added latency"]),
        (f"idle client conn, RSS (B each, {n_idle})", fmt(o_idle, ".0f"), fmt(n_idle_b, ".0f"),
         ratio(o_idle, n_idle_b), None, None),
        ("  served once, RSS (B each)", fmt(o_served, ".0f"), fmt(n_served, ".0f"),
         ratio(o_served, n_served), None, None),
        (f"backend conns, {FEW_CLIENTS} clients", str(o_few), str(n_few), None, None, None),
        (f"backend conns, {n_idle} clients", str(o_many), str(n_many), None, None, None),
    ]
    print()
    print(f"{'measure':<42} {'mcd':>10} {'nutcracker':>11} {'mcd/nut':>8} {'target':>8}")
    for name, o, n, r, op, t in rows:
        target = f"{op} {t}" if op else ""
        print(f"{name:<42} {o:>10} {n:>11} {fmt(r, '.2f'):>8} {target:>8} "
              f"{verdict(r, op, t) if op else ''}")
    print()
    idle_ok = o_idle <= TARGETS["idle bytes"]
    equal_ok = o_few == o_many
    print(f"target {'met   ' if idle_ok else 'MISSED'}: mcd RSS per idle client connection "
          f"{o_idle:.0f} B <= {TARGETS['idle bytes']} B")
    print(f"target {'met   ' if equal_ok else 'MISSED'}: mcd backend connections constant "
          f"({o_few} with {FEW_CLIENTS} clients, {o_many} with {n_idle}; configured "
          f"{BACKENDS * PROXY_THREADS * CONNECTIONS_PER_THREAD})")
    print(f"placement: {agree} of {PLACEMENT_KEYS} keys set through mcd are found through "
          "nutcracker (the same backend for each key: ketama, md5)")
    print("gets that missed in the latency runs (every key was stored first): " +
          ", ".join(f"{k} {v}" for k, v in misses.items()))
    for name, line in health.items():
        print(f"{name} counters: {line}")
    print("(nutcracker counts as client_err the resets the bench closes its held clients with)")
    print(f"ratios: throughput {fmt(r_tps, '.2f')} (-t 1: {fmt(r1_tps, '.2f')}; each the "
          "median of the rounds' ratios), added latency p50 "
          f"{fmt(ratio(o_add50, n_add50), '.2f')} p99 {fmt(ratio(o_add99, n_add99), '.2f')}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
