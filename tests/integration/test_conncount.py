"""`mctl conns` and lib/conncount against the truth.

A helper process (tests/tools/connholder.py) puts connections in known states —
ESTABLISHED, CLOSE_WAIT, FIN_WAIT2, TIME_WAIT, waiting in an accept queue — and both
counting methods (netlink sock_diag, /proc/net/tcp*) must report what `ss` reports
for the same listener, over IPv4, IPv6 and a [::] listener with IPv4 clients. Counts
are bounded (at most 50 connections per test) and every process is stopped by pid.
"""
import json
import os
import pwd
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, binary, free_port, wait_port

HOLDER = os.path.join(ROOT, "tests", "tools", "connholder.py")
N = 50
METHODS = ("netlink", "proc")

# ss state names -> mctl's JSON names
SS_STATES = {
    "established": "established", "syn-sent": "syn_sent", "syn-recv": "syn_recv",
    "fin-wait-1": "fin_wait1", "fin-wait-2": "fin_wait2", "time-wait": "time_wait",
    "closed": "close", "close-wait": "close_wait", "last-ack": "last_ack",
    "listening": "listen", "closing": "closing",
}


class Holder:
    """A connholder process; cmd() sends one command and returns its reply."""

    def __init__(self, procs, name="connholder"):
        r, w = os.pipe()
        self.p = procs.start([sys.executable, HOLDER, "--reply-fd", str(w)], name=name,
                             stdin=subprocess.PIPE, pass_fds=(w,))
        os.close(w)
        self.reply = os.fdopen(r, "r")
        self.pid = self.p.pid

    def cmd(self, line, timeout=30.0):
        self.p.stdin.write((line + "\n").encode())
        self.p.stdin.flush()
        ready, _, _ = select.select([self.reply], [], [], timeout)
        assert ready, f"connholder did not answer '{line}' within {timeout}s"
        answer = self.reply.readline().strip()
        assert answer.startswith("ok"), f"connholder: {line}: {answer}"
        return answer[3:]


def mctl(*args, check=True, user=None, timeout=30):
    kw = {}
    if user is not None:
        pw = pwd.getpwnam(user)

        def drop():
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)
        kw["preexec_fn"] = drop
    r = subprocess.run([binary("mctl"), "conns", *args], capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check:
        assert r.returncode == 0, f"mctl conns {args}: {r.returncode} {r.stderr}"
    return r


def conns_json(*args, method="netlink", expect_rc=0):
    r = mctl(*args, "--method", method, "--json", check=False)
    assert r.returncode == expect_rc, f"{args} {method}: rc {r.returncode}: {r.stderr}"
    doc = json.loads(r.stdout)
    assert doc["method"] == method
    return doc, r


def summed_states(doc):
    total = {name: 0 for name in SS_STATES.values()}
    for lst in doc["listeners"]:
        for name in total:
            total[name] += lst["states"][name]
    return total


def ss_lines(*args):
    r = subprocess.run(["ss", "-Htn", *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return [line for line in r.stdout.splitlines() if line.strip()]


def ss_count(state, filt):
    return len(ss_lines("-a", "state", state, filt))


def wait_for(predicate, what, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def assert_matches_ss(port, expected, args=None, ss_filter=None, attempts=3):
    """Both methods equal ss for every state, and equal the expected counts.

    Neither a dump nor /proc/net/tcp is a snapshot: while other processes open and close
    connections (other tests run beside these), a read can miss a socket that moved. A
    difference is therefore retried; a real one persists."""
    args = args or ("--port", str(port))
    ss_filter = ss_filter or f"( sport = :{port} )"
    for attempt in range(attempts):
        truth = {ours: ss_count(theirs, ss_filter) for theirs, ours in SS_STATES.items()}
        seen = {}
        for method in METHODS:
            doc, _ = conns_json(*args, method=method)
            seen[method] = summed_states(doc)
        wrong = {n: c for n, c in expected.items() if truth[n] != c}
        if not wrong and all(counts == truth for counts in seen.values()):
            return doc
        time.sleep(0.2)
    assert not wrong, f"ss itself: {wrong} != {expected}"
    mismatched = {m: counts for m, counts in seen.items() if counts != truth}
    raise AssertionError(f"differs from ss {truth}: {mismatched}")


def host_counters():
    def table(path):
        with open(path) as f:
            lines = f.read().splitlines()
        values = {}
        for head, vals in zip(lines[0::2], lines[1::2]):
            sec = head.split(":")[0]
            for k, v in zip(head.split()[1:], vals.split()[1:]):
                values[f"{sec}.{k}"] = int(v)
        return values
    t = table("/proc/net/netstat")
    t.update(table("/proc/net/snmp"))
    return {"listen_overflows": t["TcpExt.ListenOverflows"],
            "listen_drops": t["TcpExt.ListenDrops"],
            "passive_opens": t["Tcp.PassiveOpens"]}


def established_pair(procs, listen_host, connect_host, *flags):
    h = Holder(procs)
    port = int(h.cmd(f"listen {listen_host} 0 128 {' '.join(flags)}"))
    h.cmd(f"connect {connect_host} {port} {N}")
    h.cmd(f"accept 0 {N}")
    return h, port


# --- listeners ------------------------------------------------------------------------

def test_established_ipv4_both_methods_equal_ss(procs):
    h, port = established_pair(procs, "127.0.0.1", "127.0.0.1")
    assert_matches_ss(port, {"established": N, "listen": 1})
    doc, _ = conns_json("--port", str(port), method="netlink")
    (lst,) = doc["listeners"]
    assert (lst["address"], lst["port"], lst["family"]) == ("127.0.0.1", port, "ipv4")
    assert lst["listening"] and lst["listen_sockets"] == 1
    assert lst["accept_queue"] == 0 and lst["backlog"] == 128
    assert lst["total"] == N + 1
    proc_doc, _ = conns_json("--port", str(port), method="proc")
    assert proc_doc["listeners"][0]["backlog"] is None  # /proc does not show it


def test_established_ipv6_both_methods_equal_ss(procs):
    h, port = established_pair(procs, "::1", "::1")
    doc = assert_matches_ss(port, {"established": N, "listen": 1})
    assert doc["listeners"][0]["family"] == "ipv6"
    assert doc["listeners"][0]["address"] == "::1"


def test_dual_stack_listener_counts_ipv4_clients_as_ipv6(procs):
    h, port = established_pair(procs, "::", "127.0.0.1", "dual")
    doc = assert_matches_ss(port, {"established": N, "listen": 1})
    (lst,) = doc["listeners"]
    assert (lst["address"], lst["family"]) == ("::", "ipv6")
    # The same with the listener's address given explicitly.
    assert_matches_ss(port, {"established": N}, args=("--port", str(port), "--addr", "::"))


def test_ipv4_address_of_a_dual_stack_listener_says_no_listener_and_where(procs):
    h, port = established_pair(procs, "::", "127.0.0.1", "dual")
    for method in METHODS:
        doc, r = conns_json("--port", str(port), "--addr", "127.0.0.1", method=method,
                            expect_rc=1)
        assert doc["listening"] is False
        assert summed_states(doc)["established"] == 0  # they are IPv6 sockets
        assert f"no listener on 127.0.0.1:{port}" in r.stderr
        assert f"[::]:{port}" in r.stderr


def test_close_wait_when_clients_half_close_and_server_never_closes(procs):
    h, port = established_pair(procs, "127.0.0.1", "127.0.0.1")
    h.cmd("shutdown clients")
    wait_for(lambda: ss_count("close-wait", f"( sport = :{port} )") == N, "CLOSE_WAIT")
    # The clients' FIN_WAIT2 sockets have the port as their remote port: not counted.
    assert_matches_ss(port, {"close_wait": N, "established": 0, "fin_wait2": 0, "listen": 1})


def test_fin_wait2_then_time_wait_sit_on_the_listener_port_after_server_close(procs):
    h, port = established_pair(procs, "127.0.0.1", "127.0.0.1")
    h.cmd("close accepted")  # the server side closes first: it will hold TIME_WAIT
    wait_for(lambda: ss_count("fin-wait-2", f"( sport = :{port} )") == N, "FIN_WAIT2")
    assert_matches_ss(port, {"fin_wait2": N, "established": 0})
    h.cmd("close clients")
    wait_for(lambda: ss_count("time-wait", f"( sport = :{port} )") == N, "TIME_WAIT")
    assert_matches_ss(port, {"time_wait": N, "fin_wait2": 0, "listen": 1})


def test_accept_queue_holds_completed_handshakes_never_accepted(procs):
    h = Holder(procs)
    port = int(h.cmd("listen 127.0.0.1 0 64"))
    h.cmd(f"connect 127.0.0.1 {port} 20")
    assert_matches_ss(port, {"established": 20, "listen": 1})
    (ss_listener,) = ss_lines("-l", f"( sport = :{port} )")
    recv_q, send_q = (int(x) for x in ss_listener.split()[1:3])
    assert (recv_q, send_q) == (20, 64)
    for method in METHODS:
        doc, _ = conns_json("--port", str(port), method=method)
        assert doc["listeners"][0]["accept_queue"] == 20
    doc, _ = conns_json("--port", str(port), method="netlink")
    assert doc["listeners"][0]["backlog"] == 64


def test_full_accept_queue_caps_at_backlog_plus_one_and_counts_overflows(procs):
    h = Holder(procs)
    port = int(h.cmd("listen 127.0.0.1 0 3"))
    before = host_counters()
    h.cmd(f"connect_nb 127.0.0.1 {port} 10")
    wait_for(lambda: host_counters()["listen_overflows"] > before["listen_overflows"],
             "a listen overflow")
    for method in METHODS:
        doc, _ = conns_json("--port", str(port), method=method)
        assert doc["listeners"][0]["accept_queue"] == 4  # the kernel's backlog + 1
        assert doc["host"]["listen_overflows"] > before["listen_overflows"]
        assert doc["host"]["listen_drops"] > before["listen_drops"]


def test_client_bound_to_the_listener_port_on_another_address_is_not_counted(procs):
    h = Holder(procs)
    port = int(h.cmd("listen 127.0.0.1 0 128"))
    other = int(h.cmd("listen 127.0.0.3 0 128"))
    h.cmd(f"connect 127.0.0.1 {port} 5")
    h.cmd("accept 0 5")
    h.cmd(f"connect 127.0.0.3 {other} 1 127.0.0.2 {port}")
    # The trap is real: a port-only filter sees 6 established sockets.
    assert ss_count("established", f"( sport = :{port} )") == 6
    assert_matches_ss(port, {"established": 5, "listen": 1},
                      ss_filter=f"( src 127.0.0.1:{port} )")
    # Asked about that other address, it says nothing listens there but shows the socket.
    for method in METHODS:
        doc, r = conns_json("--port", str(port), "--addr", "127.0.0.2", method=method,
                            expect_rc=1)
        assert summed_states(doc)["established"] == 1
        assert f"no listener on 127.0.0.2:{port}" in r.stderr


def test_no_listener_on_port_still_counts_leftover_sockets_and_fails(procs):
    h, port = established_pair(procs, "127.0.0.1", "127.0.0.1")
    h.cmd("close listeners")
    for method in METHODS:
        doc, r = conns_json("--port", str(port), method=method, expect_rc=1)
        assert doc["listening"] is False
        assert [lst["address"] for lst in doc["listeners"]] == ["0.0.0.0", "::"]
        assert summed_states(doc)["established"] == N
        assert f"no listener on port {port}" in r.stderr


def test_host_counters_lie_between_two_reads_of_proc():
    before = host_counters()
    doc, _ = conns_json("--port", "1", method="netlink", expect_rc=1)
    after = host_counters()
    for name in before:
        assert before[name] <= doc["host"][name] <= after[name], name


def test_human_output_is_a_table_per_state(procs):
    h, port = established_pair(procs, "127.0.0.1", "127.0.0.1")
    out = mctl("--port", str(port)).stdout
    assert f"127.0.0.1:{port}  listening (1 socket), accept queue 0 of backlog 128" in out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()
            if line.startswith("  ") and len(line.split()) == 2}
    assert rows["established"] == str(N) and rows["listen"] == "1"
    assert rows["total"] == str(N + 1)
    assert "close_wait" not in rows  # zero states are left out, except established
    assert "host: listen_overflows" in out


# --- processes ------------------------------------------------------------------------

def socket_fds(pid):
    fds = os.listdir(f"/proc/{pid}/fd")
    links = []
    for fd in fds:
        try:
            links.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except FileNotFoundError:
            pass
    return len(fds), sum(1 for link in links if link.startswith("socket:["))


def test_pid_counts_agree_with_the_process_socket_fds(procs):
    h = Holder(procs)
    port = int(h.cmd("listen 127.0.0.1 0 128"))
    h.cmd(f"connect 127.0.0.1 {port} 10")
    h.cmd("accept 0 10")
    h.cmd("udp")       # sockets, but not TCP
    h.cmd("unixpair")
    fds, sockets = socket_fds(h.pid)
    assert sockets == 1 + 10 + 10 + 1 + 2
    for method in METHODS:
        doc, _ = conns_json("--pid", str(h.pid), method=method)
        assert doc["pid"] == h.pid
        assert (doc["fds"], doc["socket_fds"]) == (fds, sockets)
        assert doc["tcp_sockets"] == 21
        assert doc["states"]["established"] == 20 and doc["states"]["listen"] == 1
        by_port = {p["port"]: p for p in doc["ports"]}
        assert by_port[port]["total"] == 11
        assert by_port[port]["states"]["listen"] == 1
        assert by_port[port]["states"]["established"] == 10
        clients = [p for p in doc["ports"] if p["port"] != port]
        assert len(clients) == 10 and all(p["total"] == 1 for p in clients)
    out = mctl("--pid", str(h.pid)).stdout
    assert f"pid {h.pid}: {fds} fds, {sockets} sockets, 21 TCP" in out


def test_pid_that_does_not_exist_fails_with_a_clear_message():
    child = subprocess.Popen(["true"])
    child.wait()
    for method in METHODS:
        r = mctl("--pid", str(child.pid), "--method", method, check=False)
        assert r.returncode == 1
        assert f"no such process: {child.pid}" in r.stderr
        assert r.stdout == ""


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run mctl as another user")
def test_pid_of_another_user_is_permission_denied(procs):
    h = Holder(procs)
    h.cmd("listen 127.0.0.1 0 16")
    r = mctl("--pid", str(h.pid), check=False, user="nobody")
    assert r.returncode == 1
    assert f"permission denied reading /proc/{h.pid}/fd" in r.stderr


# --- usage, watch -------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    (), ("--port", "0"), ("--port", "65536"), ("--port", "x"), ("--pid", "0"),
    ("--pid", "12ab"), ("--port", "80", "--pid", "1"), ("--addr", "127.0.0.1"),
    ("--port", "80", "--addr", "localhost"), ("--port", "80", "--method", "lsof"),
    ("--port", "80", "--count", "3"), ("--port", "80", "--watch", "50ms"),
    ("--port", "80", "--watch", "0.5"), ("--port", "80", "--bogus", "1"), ("--port",),
])
def test_bad_arguments_are_usage_errors(args):
    r = mctl(*args, check=False)
    assert r.returncode == 2, (args, r.stderr)
    assert r.stderr.startswith("mctl: conns: ")


def test_help_exits_zero():
    r = mctl("--help")
    assert "--watch INTERVAL" in r.stdout


def test_watch_with_count_prints_that_many_samples(procs):
    h = Holder(procs)
    port = int(h.cmd("listen 127.0.0.1 0 16"))
    start = time.monotonic()
    r = mctl("--port", str(port), "--watch", "100ms", "--count", "3", "--json")
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    assert all(json.loads(line)["listeners"][0]["listen_sockets"] == 1 for line in lines)
    assert time.monotonic() - start >= 0.2


def test_watch_stops_on_ctrl_c(procs, tmp_path):
    h = Holder(procs)
    port = int(h.cmd("listen 127.0.0.1 0 16"))
    p = procs.start([binary("mctl"), "conns", "--port", str(port), "--watch", "1s"],
                    name="mctl-watch")
    wait_for(lambda: "listening" in procs.log(p), "the first sample")
    os.kill(p.pid, signal.SIGINT)
    assert p.wait(timeout=5) == 0


# --- mcd's `stats kernel` -------------------------------------------------------------

def admin_stats(s, command):
    s.sendall(command.encode() + b"\r\n")
    data = b""
    while not data.endswith(b"END\r\n"):
        chunk = s.recv(65536)
        assert chunk, f"admin port closed; got {data!r}"
        assert not data.startswith(b"ERROR"), data
        data += chunk
    stats = {}
    for line in data.decode().splitlines():
        w = line.split()
        if len(w) == 3 and w[0] == "STAT":
            stats[w[1]] = w[2]
    return stats


def test_mcd_stats_kernel_matches_mctl_conns(procs):
    cport, aport = free_port(), free_port()
    mcd = procs.start([binary("mcd"), "-p", str(cport), "-l", "127.0.0.1", "--admin-port",
                       str(aport), "-t", "2", "-b", "333"], name="mcd")
    wait_port(aport, proc=mcd)
    h = Holder(procs)
    h.cmd(f"connect 127.0.0.1 {cport} 20")
    h.cmd(f"connect 127.0.0.1 {aport} 3")

    def settled():
        doc, _ = conns_json("--port", str(cport), method="netlink")
        lst = doc["listeners"][0]
        return lst["states"]["established"] == 20 and lst["total"] == 21 and \
            lst["accept_queue"] == 0
    wait_for(settled, "mcd to accept the 20 connections")

    # The asking connection stays open while mctl counts, so both see it.
    admin = socket.create_connection(("127.0.0.1", aport), timeout=5)
    for attempt in range(3):
        stats = admin_stats(admin, "stats kernel")
        docs = {port: conns_json("--port", str(port), "--addr", "127.0.0.1")[0]["listeners"][0]
                for port in (cport, aport)}
        mismatched = []
        for kind, port in (("client", cport), ("admin", aport)):
            lst = docs[port]
            ours = dict(lst["states"], accept_queue=lst["accept_queue"], backlog=lst["backlog"])
            for name, value in ours.items():
                if stats.get(f"listener:{kind}:{name}") != str(value):
                    mismatched.append((kind, name, stats.get(f"listener:{kind}:{name}"), value))
        if not mismatched:
            break
        time.sleep(1.1)  # mcd serves a view up to a second old: let it refresh
    assert not mismatched, mismatched

    # A stats storm is not a netlink storm: within a second mcd answers from its cache,
    # even though 5 more clients arrived; after it, the new count.
    time.sleep(1.1)
    t0 = time.monotonic()
    first = admin_stats(admin, "stats kernel")["listener:client:established"]
    h.cmd(f"connect 127.0.0.1 {cport} 5")
    wait_for(lambda: conns_json("--port", str(cport))[0]["listeners"][0]["states"][
        "established"] == 25, "the 5 new connections")
    repeated = [admin_stats(admin, "stats kernel")["listener:client:established"]
                for _ in range(50)]
    if time.monotonic() - t0 < 0.9:
        assert first == "20" and set(repeated) == {"20"}, repeated
    time.sleep(1.1)
    assert admin_stats(admin, "stats kernel")["listener:client:established"] == "25"
    admin.close()
    assert stats["listener:client:established"] == "20"
    assert stats["listener:client:backlog"] == "333"
    # The admin connection asking counts too: the 3 held ones and this one.
    assert stats["listener:admin:established"] == "4"
    assert stats["kernel_method"] == "netlink"
    for name in ("listen_overflows", "listen_drops", "curr_estab", "passive_opens"):
        assert stats[f"host:{name}"].isdigit()
