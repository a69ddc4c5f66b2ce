"""Helpers to run mcmon against real mcd nodes in integration tests and benchmarks.

A `Deployment` holds a temporary directory with the tenants file (an admin account
and a probe tenant), their password files, the incident log and the monitor's view;
it starts mcd nodes on chosen or free loopback ports, writes the configuration
(short intervals, so that tests are quick) and starts mcmon. Incidents are read
straight from the SQLite incident log, read only.
"""
import json
import os
import re
import resource
import socket
import sqlite3
import subprocess
import time
import urllib.request

from conftest import binary, free_port, tool, wait_port
from mcdtest import add_tenant

# Detection tuned for tests: fast polls and probes, short windows, short holds.
# The tail threshold is 20 ms (not 5 ms) so that a loaded machine under ASan does not
# make a healthy node look slow; host-wide listen overflows are left out because every
# test on this host shares that counter.
FAST = {
    "poll_interval": "200ms",
    "poll_timeout": "200ms",
    "evaluate_interval": "200ms",
    "probe_rate": "50",
    "probe_timeout": "500ms",
    "connect_timeout": "500ms",
    "resolve_hold": "1s",
    "evidence_interval": "0",
    "storm_warmup": "5",
    "storm_overflow_rate": "0",
    "cluster_grace": "2s",
    "tail_threshold": "20ms",
    "tail_short_window": "2s",
    "tail_long_window": "4s",
    "tail_slot": "500ms",
    "tail_min_samples": "50",
    "tail_long_min_samples": "100",
    "tail_clear_hold": "1s",
    "tail_warmup": "4s",
    "down_silence": "2s",
}


def wait_for(what, predicate, timeout, step=0.1):
    """Polls predicate() until it returns something true; fails after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"{what}: not within {timeout}s (last: {last!r})")


def wait_log(procs, p, pattern, timeout=10.0):
    """Waits for a line matching pattern in a process's output; returns the match."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = re.search(pattern, procs.log(p))
        if m:
            return m
        if p.poll() is not None:
            break
        time.sleep(0.02)
    raise AssertionError(f"no {pattern!r} in the output of pid {p.pid}:\n{procs.log(p)[-2000:]}")


class Node:
    def __init__(self, name, port, admin_port, proc, client_port=None):
        self.name = name
        self.port = port                    # mcd's client port
        self.admin_port = admin_port
        self.proc = proc
        self.client_port = client_port or port  # where the monitor probes (a proxy or mcd)


class Deployment:
    def __init__(self, procs, tmp_path):
        self.procs = procs
        self.dir = tmp_path
        self.tenants = tmp_path / "tenants"
        ops = add_tenant(self.tenants, "ops", admin=True)
        probe = add_tenant(self.tenants, "probe", limit="1M")
        (tmp_path / "ops.pw").write_text(ops + "\n")
        (tmp_path / "probe.pw").write_text(probe + "\n")
        self.ops_password = ops
        self.db = tmp_path / "mcops.db"
        self.state = tmp_path / "mcmon.json"
        self.config = tmp_path / "mcops.conf"
        self.metrics_port = None  # chosen with the first configuration (see write_config)
        self.nodes = {}
        self.mcmon = None
        self.debug = False  # start mcd and mcmon with -d (debug logging)

    # --- nodes ------------------------------------------------------------------
    def start_node(self, name, port=None, admin_port=None, threads=1):
        """Starts mcd with tenants and an admin port (the same ports for a restart)."""
        port = port or free_port()
        admin_port = admin_port or free_port()
        p = self.procs.start([binary("mcd"), "-l", "127.0.0.1", "-p", str(port), "-t",
                              str(threads), "-m", "16", "-U", "0", "--tenants",
                              str(self.tenants), "--admin-port", str(admin_port)] +
                             (["-d"] if self.debug else []),
                             name=f"mcd-{name}")
        wait_port(port, proc=p)
        wait_port(admin_port, proc=p)
        old = self.nodes.get(name)
        node = Node(name, port, admin_port, p, old.client_port if old else None)
        self.nodes[name] = node
        return node

    def kill_node(self, name):
        node = self.nodes[name]
        self.procs.stop(node.proc, sig=9)

    def start_proxy(self, name, *args):
        """Puts faultproxy between the monitor's probes and a node; returns its control port."""
        node = self.nodes[name]
        p = self.procs.start([tool("tests/tools/faultproxy"), "--listen", "127.0.0.1:0",
                              "--upstream", f"127.0.0.1:{node.port}", "--control",
                              "127.0.0.1:0", *args], name="faultproxy")
        m = wait_log(self.procs, p, r"faultproxy: listen 127\.0\.0\.1:(\d+) upstream \S+ "
                                    r"control 127\.0\.0\.1:(\d+)")
        node.client_port = int(m.group(1))
        return int(m.group(2))

    # --- the monitor ---------------------------------------------------------------
    def write_config(self, cluster="c1", monitor=None, nodes=None, extra=""):
        settings = dict(FAST)
        settings.update(monitor or {})
        # Chosen as late as possible: a port picked early can be taken meanwhile by a
        # process that binds port 0 (the fault proxy does), and mcmon then cannot listen.
        if self.metrics_port is None:
            self.metrics_port = free_port()
        lines = ["[log]", f"path = {self.db}", "", "[monitor]",
                 f"metrics_listen = 127.0.0.1:{self.metrics_port}",
                 f"state_file = {self.state}"]
        lines += [f"{k} = {v}" for k, v in settings.items()]
        lines += ["", f"[cluster {cluster}]", "title = Test cluster", "admin_user = ops",
                  f"admin_password_file = {self.dir / 'ops.pw'}", "probe_user = probe",
                  f"probe_password_file = {self.dir / 'probe.pw'}", ""]
        for name in (nodes if nodes is not None else self.nodes):
            n = self.nodes[name]
            lines += [f"[node {name}]", f"cluster = {cluster}",
                      f"client = 127.0.0.1:{n.client_port}",
                      f"admin = 127.0.0.1:{n.admin_port}", ""]
        self.config.write_text("\n".join(lines) + extra)

    def start_mcmon(self, fd_limit=None, **kw):
        """Starts mcmon; fd_limit caps its open descriptors (RLIMIT_NOFILE)."""
        if not self.config.exists():
            self.write_config(**kw)
        extra = {}
        if fd_limit is not None:
            extra["preexec_fn"] = lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                                             (fd_limit, fd_limit))
        self.mcmon = self.procs.start([binary("mcmon"), "-f", str(self.config)] +
                                      (["-d"] if self.debug else []), name="mcmon", **extra)
        wait_port(self.metrics_port, proc=self.mcmon)
        return self.mcmon

    def stop_mcmon(self):
        """SIGTERM; asserts a clean exit (status 0, no sanitizer report)."""
        rc = self.procs.stop(self.mcmon)
        log = self.procs.log(self.mcmon)
        assert rc == 0 and "Sanitizer" not in log, f"mcmon exited with {rc}:\n{log[-3000:]}"

    def mcmon_log(self):
        return self.procs.log(self.mcmon)

    def metrics(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics",
                                    timeout=5) as r:
            return r.headers.get("Content-Type"), r.read().decode()

    def view(self):
        """The monitor's state file, or None before the first write."""
        try:
            return json.loads(self.state.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def mctl(self, *args, check=False):
        return subprocess.run([binary("mctl"), "-f", str(self.config), *args],
                              capture_output=True, text=True, timeout=30, check=check)

    # --- the incident log ---------------------------------------------------------
    def query(self, sql, *params):
        if not self.db.exists():
            return []
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            con.row_factory = sqlite3.Row
            return [dict(r) for r in con.execute(sql, params)]
        finally:
            con.close()

    def incidents(self, kind=None):
        rows = self.query("SELECT * FROM incidents ORDER BY id")
        return [r for r in rows if kind is None or r["kind"] == kind]

    def events(self, incident_id):
        rows = self.query("SELECT * FROM events WHERE incident_id = ? ORDER BY id", incident_id)
        for r in rows:
            r["body"] = json.loads(r["body_json"])
        return rows

    def wait_incident(self, kind, timeout, state=None):
        def find():
            for r in self.incidents(kind):
                if state is None or r["state"] == state:
                    return r
            return None
        return wait_for(f"a {kind} incident" + (f" in state {state}" if state else ""),
                        find, timeout)


def control(port, line):
    """One faultproxy control command; returns its reply line."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(line.encode() + b"\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return data.decode().strip()
