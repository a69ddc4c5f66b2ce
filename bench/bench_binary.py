#!/usr/bin/python3
"""bench_binary: mcd's binary protocol, in one run (`make bench B=binary`).

1. throughput: two memcaslap processes at once against one mcd (no tenants file), one
   in the text protocol and one with -B (binary), each -T 2 -c 24 -t BENCH_SECONDS
   (90% get, 10% set); ROUNDS rounds. Run side by side, both see the same machine: on
   this shared 2-core machine runs taken one after the other varied by 2x between
   rounds, which drowned the difference being measured. The median of the rounds'
   ratios binary/text is the result. Target: >= 1.0. The same against memcached 1.6
   for reference: what memcaslap's own binary and text clients make of one server.
2. new connection + SASL: bench/newconn --auth sasl (per cycle: connect, binary
   SASL_AUTH with PLAIN, binary GET of a stored key, close; NEWCONN_THREADS threads)
   against mcd with a tenants file (a tenant made by mctl) and Debian's memcached with
   -S (Cyrus SASL: a sasldb made by saslpasswd2, SASL_CONF_PATH pointing at a
   memcached.conf with `mech_list: plain`), the order alternating; the median of the
   rounds' ratios mcd/memcached. Target: >= 1.0.

Only ratios measured in the same run mean anything: the machine is shared. A missed
target is reported, not an error; the exit status is non-zero only when a measurement
could not be made. Every process is stopped by pid; every run is bounded; loopback only.
Environment: MCOPS_BIN (mcd, mctl), MCOPS_TOOLS (built bench/newconn), BENCH_SECONDS
(each memcaslap and newconn run, default 5), BENCH_ROUNDS (default 3).
"""
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import Procs, free_port, wait_port  # noqa: E402

BIN = os.environ.get("MCOPS_BIN", os.path.join(ROOT, "bin"))
TOOLS = os.environ.get("MCOPS_TOOLS", os.path.join(ROOT, "build", "rel"))
MCD = os.path.join(BIN, "mcd")
MCTL = os.path.join(BIN, "mctl")
NEWCONN = os.path.join(TOOLS, "bench", "newconn")
MEMCACHED = "/usr/bin/memcached"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"

RUN_SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SERVER_THREADS = 4
MEMCASLAP_THREADS = 4               # both memcaslap processes together
MEMCASLAP_CONCURRENCY = 48          # halves are a multiple of the halved threads
NEWCONN_THREADS = 4
USER = "bench"
TARGETS = {"binary/text": 1.0, "sasl newconn": 1.0}


def memcaslap_pair(port):
    """(text ops/s, binary ops/s): two memcaslap processes at once against one server,
    one in each protocol, each with half the threads and connections."""
    runs = {}
    for proto in ("text", "binary"):
        argv = ["memcaslap", "-s", f"127.0.0.1:{port}", "-T", str(MEMCASLAP_THREADS // 2),
                "-c", str(MEMCASLAP_CONCURRENCY // 2), "-t", f"{RUN_SECONDS}s"]
        if proto == "binary":
            argv.append("-B")
        runs[proto] = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True)
    tps = {}
    for proto, p in runs.items():
        try:
            out, _ = p.communicate(timeout=RUN_SECONDS + 60)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        for line in out.splitlines():
            if "TPS:" in line:
                w = line.replace(":", " ").split()
                tps[proto] = int(w[w.index("TPS") + 1])
        if proto not in tps:
            raise RuntimeError(f"memcaslap ({proto}) gave no TPS: {out[-500:]}")
    return tps["text"], tps["binary"]


def newconn(port, password_file):
    """(cycles/s, p50 ms, p99 ms) of one newconn --auth sasl run."""
    r = subprocess.run([NEWCONN, "--target", f"127.0.0.1:{port}", "--threads",
                        str(NEWCONN_THREADS), "--duration", f"{RUN_SECONDS}s", "--auth", "sasl",
                        "--user", USER, "--password-file", str(password_file)],
                       capture_output=True, text=True, timeout=RUN_SECONDS + 60)
    result = [l for l in r.stdout.splitlines() if l.startswith("result ")]
    if r.returncode != 0 or not result:
        raise RuntimeError(f"newconn --auth sasl against port {port} failed (exit "
                           f"{r.returncode}): {(r.stdout + r.stderr)[-600:]}")
    v = dict(kv.split("=", 1) for kv in result[-1].split()[1:])
    return float(v["rate"]), int(v["p50_us"]) / 1000, int(v["p99_us"]) / 1000


def start(procs, name, argv, port, env=None):
    p = procs.start(argv, name=name, env=env)
    wait_port(port, proc=p)
    return p


def start_mcd(procs, tenants=None):
    port = free_port()
    argv = [MCD, "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-t", str(SERVER_THREADS),
            "-m", "64"]
    if tenants is not None:
        argv += ["--tenants", str(tenants)]
    return start(procs, "mcd", argv, port), port


def start_memcached(procs, sasl_dir=None):
    port = free_port()
    argv = [MEMCACHED, "-u", "nobody", "-l", "127.0.0.1", "-p", str(port), "-U", "0",
            "-t", str(SERVER_THREADS), "-m", "64"]
    env = None
    if sasl_dir is not None:
        argv.append("-S")
        env = {"SASL_CONF_PATH": str(sasl_dir)}
    return start(procs, "memcached", argv, port, env=env), port


def make_sasldb(work, password):
    """A Cyrus sasldb with USER and the memcached.conf that points memcached at it;
    readable by nobody, whom memcached runs as."""
    sasl_dir = work / "sasl"
    sasl_dir.mkdir()
    db = sasl_dir / "sasldb"
    subprocess.run([SASLPASSWD2, "-a", "memcached", "-c", "-p", "-f", str(db), USER],
                   input=password, text=True, check=True, capture_output=True, timeout=30)
    (sasl_dir / "memcached.conf").write_text(f"mech_list: plain\nsasldb_path: {db}\n")
    if os.getuid() == 0:
        shutil.chown(db, user="nobody")
        os.chmod(work, 0o711)
        os.chmod(sasl_dir, 0o755)
    return sasl_dir


def median_ratio(pairs):
    ratios = [a / b for a, b in pairs if b]
    return statistics.median(ratios) if ratios else None


def fmt(v, spec):
    return "n/a" if v is None else format(v, spec)


def verdict(r, target):
    if r is None:
        return "-"
    return "met" if r >= target else "MISSED"


def throughput(procs):
    """Part 1: {server: [(text ops/s, binary ops/s)] per round}."""
    print(f"1/2 throughput: two memcaslap at once against each server, one text, one -B "
          f"(binary), each -T {MEMCASLAP_THREADS // 2} -c {MEMCASLAP_CONCURRENCY // 2} "
          f"-t {RUN_SECONDS}s (90% get, 10% set), {ROUNDS} rounds")
    servers = {"mcd": start_mcd(procs), "memcached": start_memcached(procs)}
    out = {name: [] for name in servers}
    for r in range(ROUNDS):
        order = list(servers) if r % 2 == 0 else list(reversed(servers))
        for name in order:
            text, binary = memcaslap_pair(servers[name][1])
            out[name].append((text, binary))
            print(f"    round {r + 1} {name:<9} text {text:>7} ops/s  binary {binary:>7} ops/s"
                  f"  binary/text {binary / text if text else 0:.2f}", flush=True)
    for proc, _ in servers.values():
        procs.stop(proc)
    return out


def sasl_newconn(procs, work):
    """Part 2: {"mcd": [(rate, p50, p99)], "memcached": [...]}."""
    print(f"2/2 new connection + SASL PLAIN + get + close: newconn --auth sasl, "
          f"{NEWCONN_THREADS} threads, {RUN_SECONDS}s, {ROUNDS} rounds")
    # one generated password (32 characters, like mctl's) for both servers
    password = secrets.token_hex(16)
    password_file = work / "password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    tenants = work / "tenants"
    subprocess.run([MCTL, "tenant", "add", USER, "--file", str(tenants), "--password-file",
                    str(password_file)], check=True, capture_output=True, timeout=30)
    sasl_dir = make_sasldb(work, password)
    out = {"mcd": [], "memcached": []}
    for r in range(ROUNDS):
        order = ["mcd", "memcached"] if r % 2 == 0 else ["memcached", "mcd"]
        for name in order:
            if name == "mcd":
                proc, port = start_mcd(procs, tenants=tenants)
            else:
                proc, port = start_memcached(procs, sasl_dir=sasl_dir)
            try:
                res = newconn(port, password_file)
            finally:
                procs.stop(proc)
            out[name].append(res)
            print(f"    round {r + 1} {name:<9} {res[0]:>9.1f} cycles/s  p50 {res[1]:.3f} ms"
                  f"  p99 {res[2]:.3f} ms", flush=True)
    return out


def main():
    for tool in ("memcaslap", MEMCACHED, SASLPASSWD2):
        if shutil.which(tool) is None:
            print(f"bench_binary: {tool} is not installed (scripts/setup installs it)",
                  file=sys.stderr)
            return 1
    for path in (MCD, MCTL, NEWCONN):
        if not os.path.exists(path):
            print(f"bench_binary: {path} is not built (make)", file=sys.stderr)
            return 1
    failed = False
    with tempfile.TemporaryDirectory(prefix="bench_binary.") as tmp:
        work = Path(tmp)
        procs = Procs(work)
        tp = sc = None
        try:
            try:
                tp = throughput(procs)
            except (RuntimeError, TimeoutError, subprocess.SubprocessError) as e:
                print(f"bench_binary: throughput: {e}", file=sys.stderr)
                failed = True
            try:
                sc = sasl_newconn(procs, work)
            except (RuntimeError, TimeoutError, subprocess.SubprocessError) as e:
                print(f"bench_binary: sasl: {e}", file=sys.stderr)
                failed = True
        finally:
            procs.stop_all()

    print()
    print(f"{'measure':<48} {'mcd':>10} {'memcached':>10} {'target':>8}")
    if tp:
        r_mcd = median_ratio((b, t) for t, b in tp["mcd"])
        r_mc = median_ratio((b, t) for t, b in tp["memcached"])
        for i, proto in enumerate(("text", "binary")):
            print(f"{'throughput ' + proto + ' (ops/s, median)':<48} "
                  f"{statistics.median(x[i] for x in tp['mcd']):>10.0f} "
                  f"{statistics.median(x[i] for x in tp['memcached']):>10.0f}")
        print(f"{'binary/text throughput (median of rounds)':<48} {fmt(r_mcd, '.2f'):>10} "
              f"{fmt(r_mc, '.2f'):>10} {'>= 1.0':>8} {verdict(r_mcd, TARGETS['binary/text'])}")
    if sc:
        rate = {n: statistics.median(x[0] for x in sc[n]) for n in sc}
        p99 = {n: statistics.median(x[2] for x in sc[n]) for n in sc}
        r_new = median_ratio(zip((x[0] for x in sc["mcd"]), (x[0] for x in sc["memcached"])))
        print(f"{'newconn + SASL PLAIN + get (cycles/s, median)':<48} {rate['mcd']:>10.1f} "
              f"{rate['memcached']:>10.1f}")
        print(f"{'  cycle p99 (ms, median)':<48} {p99['mcd']:>10.3f} {p99['memcached']:>10.3f}")
        print(f"{'mcd/memcached -S (median of rounds)':<48} {fmt(r_new, '.2f'):>10} "
              f"{'':>10} {'>= 1.0':>8} {verdict(r_new, TARGETS['sasl newconn'])}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
