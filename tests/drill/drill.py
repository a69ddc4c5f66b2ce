"""The incident drill (`make drill`, docs/drill.md).

Starts the whole toolkit in a temporary directory on free loopback ports — three mcd
nodes behind fault proxies, mcmon, a private Prosody, mcalert, mcstatus (serving the
page, with a signed webhook sink to a local receiver) — with scripted engineers alice
(on call) and bob (second step) as XMPP clients, and plays the outages mcops is
modelled on:

  1. a latency tail on every node: detected, alice paged, nobody answers, bob paged,
     bob acknowledges by chat, a public update, the page degraded, the fault removed,
     resolved, the page operational again; in the middle of it mcalert and mcstatus
     are SIGKILLed and restarted (scenario 4): nothing lost, nothing duplicated;
  2. a connection storm hopping from node to node: one cluster incident, paged once,
     a flush recorded on its timeline, resolved when the storm ends;
  3. the XMPP server down when an incident opens: the page arrives after it returns,
     marked late, once;
  5. mcmon stopped with SIGSTOP: "monitoring is not running" is paged after the
     heartbeat's stale time; SIGCONT resolves it.

It prints a timeline and, per scenario, how long each step took, and exits 1 if a step
is missing or later than its bound (BOUNDS, the same table as docs/drill.md). Every wait
is bounded; every process is stopped by pid, also on failure or Ctrl-C.
"""
import base64
import hashlib
import hmac
import http.server
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))

from conftest import Procs, binary, free_port, tool  # noqa: E402
from mcmontest import FAST, Deployment, control  # noqa: E402
from xmpptest import Engineer, Prosody, jid, password  # noqa: E402

TAIL_WARMUP = "10s"  # see Toolkit.start

# Seconds. The reasons are in docs/drill.md. These are the product's promise (what an
# on-call team should expect from these settings), so the drill keeps them as bounds on
# elapsed time, unlike the tests, which never assert on elapsed time. Each is several
# times what its mechanism needs (a poll interval, a wait plus slack) so that a loaded
# 2-core machine under AddressSanitizer meets it; each step is timed from the moment
# the toolkit could start on it, not from the drill's own set-up (an mctl run, a login).
BOUNDS = {
    "tail: detect": 20,
    "tail: page": 5,
    "tail: escalate": 15 + 8,      # wait1 + slack
    "tail: public update on the page": 2,
    "tail: resolve": 25,
    "tail: page operational": 3,
    "storm: detect": 12,
    "storm: page": 5,
    "storm: resolve": 25,
    "xmpp down: page after return": 15,
    "restart: back on duty": 10,
    "mcmon stopped: page": 12,     # HEARTBEAT_STALE + one check + the page
    "mcmon stopped: resolve": 5,   # one beat + one check
}
WAIT1 = 15
HEARTBEAT_STALE = 5
HOOK_KEY = "drill-webhook-key"


class Failed(Exception):
    pass


class Timeline:
    def __init__(self):
        self.t0 = time.monotonic()
        self.rows = []
        self.steps = {}          # name -> seconds
        self.failures = []

    def say(self, scenario, text):
        t = time.monotonic() - self.t0
        self.rows.append((t, scenario, text))
        print(f"  {t:7.1f}s  [{scenario}] {text}", flush=True)

    def step(self, name, seconds):
        self.steps[name] = seconds
        bound = BOUNDS.get(name)
        late = bound is not None and seconds > bound
        if late:
            self.failures.append(f"{name}: {seconds:.1f}s, over its bound of {bound}s")
        return seconds


def wait(what, predicate, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(step)
    raise Failed(f"{what}: not within {timeout:.0f}s (last: {last!r})")


class Receiver:
    """The webhook sink's other end: verifies signatures, records event ids."""

    def __init__(self):
        self.events = []
        self.bad = 0
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                ts = self.headers.get("X-Mcops-Timestamp", "")
                sig = hmac.new(HOOK_KEY.encode(), ts.encode() + b"." + body,
                               hashlib.sha256).hexdigest()
                with outer.lock:
                    if self.headers.get("X-Mcops-Signature") != "sha256=" + sig:
                        outer.bad += 1
                    else:
                        outer.events.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a sender killed mid-request (scenario 4) is expected here

        self.server = Server(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class Toolkit:
    def __init__(self, tmp, tl):
        self.tmp = Path(tmp)
        self.tl = tl
        self.procs = Procs(self.tmp)
        self.dep = Deployment(self.procs, self.tmp)
        self.controls = {}
        self.engineers = {}
        self.receiver = Receiver()
        self.status_port = free_port()
        self.intake_port = free_port()
        self.intake_token = secrets.token_hex(24)
        self.dep.debug = True  # every daemon logs at debug: no secret may show even so
        self.site = self.tmp / "site"
        self.mcalert = self.mcstatus = None

    def start(self):
        for n in ("n1", "n2", "n3"):
            self.dep.start_node(n)
            self.controls[n] = self.dep.start_proxy(n)
        self.prosody = Prosody(self.procs, self.tmp / "prosody", ["mcalert", "alice", "bob"])
        self.prosody.start()
        (self.tmp / "mcalert.pw").write_text(password("mcalert") + "\n")
        (self.tmp / "hook.key").write_text(HOOK_KEY + "\n")
        (self.tmp / "intake.token").write_text(self.intake_token + "\n")
        os.chmod(self.tmp / "intake.token", 0o600)
        extra = f"""
[alerter]
jid = {jid('mcalert')}
password_file = {self.tmp}/mcalert.pw
server = 127.0.0.1:{self.prosody.port}
tls = off
ack_timeout = 0
reconnect_min = 200ms
reconnect_max = 1s
ping_interval = 2s
ping_timeout = 2s
late_after = 1s
heartbeat_interval = 1s
heartbeat_stale = {HEARTBEAT_STALE}s
intake = 127.0.0.1:{self.intake_port}
intake_token_file = {self.tmp}/intake.token

[oncall]
members = {jid('alice')}
shift = 1d
handoff = 2024-01-01 00:00

[escalation]
step1 = oncall
wait1 = {WAIT1}s
step2 = {jid('bob')}
wait2 = {WAIT1}s
repeat = 0
min_severity = minor

[statuspage]
dir = {self.site}
name = Drill Cache
url = http://127.0.0.1:{self.status_port}/
listen = 127.0.0.1:{self.status_port}
poll = 100ms
rerender = 5s
heartbeat_interval = 1s

[sink hooks]
type = webhook
url = http://127.0.0.1:{self.receiver.port}/hook
secret_file = {self.tmp}/hook.key
rate = 20
retry_base = 200ms
retry_max = 2s
"""
        # A tail is 15% of probes 5-15 ms late: the threshold sits under 5 ms. Under
        # ASan on a busy 2-core machine, 5-13% of probes are that slow with no fault
        # (10-20% while the toolkit starts): the warm-up outlasts the start, the
        # baseline may learn up to 10%, and k = 4 (the drill lasts a minute, not a
        # year: its false-alarm budget is small) leaves room for a 15% tail over
        # 100 and 200 probe windows.
        self.dep.write_config(monitor={"tail_threshold": "4ms", "tail_warmup": TAIL_WARMUP,
                                       "tail_baseline_max": "0.1", "tail_baseline_k": "4",
                                       "heartbeat_interval": "1s"},
                              extra=extra)
        for u in ("alice", "bob"):
            self.engineers[u] = Engineer(u, self.prosody.port).start()
        self.dep.start_mcmon()
        self.start_mcalert()
        self.start_mcstatus()
        wait("mcalert online", lambda: "connected" in self.procs.log(self.mcalert).lower() or
             "online" in self.procs.log(self.mcalert).lower(), 20)
        wait("the status page", lambda: self.summary() is not None, 10)
        codes = self.use_the_intake()
        if codes != [200, 401]:
            raise Failed(f"the intake answered {codes} to the right and a wrong token, "
                         "not [200, 401]")

    def start_mcalert(self):
        self.mcalert = self.procs.start([binary("mcalert"), "-d", "-f", str(self.dep.config)],
                                        name="mcalert")

    def start_mcstatus(self):
        self.mcstatus = self.procs.start([binary("mcstatus"), "-d", "-f", str(self.dep.config)],
                                         name="mcstatus")

    def use_the_intake(self):
        """Posts to the Alertmanager intake with the token and with a wrong one: a
        resolved alert that matches no incident, so the scenarios see no change."""
        body = json.dumps({"version": "4", "status": "resolved", "receiver": "mcops",
                           "alerts": [{"status": "resolved", "fingerprint": "d0d0d0d0d0d0",
                                       "labels": {"alertname": "DrillCheck", "cluster": "c1"},
                                       "startsAt": "2024-05-01T10:00:00Z"}]}).encode()
        codes = []
        for token in (self.intake_token, "not-" + self.intake_token):
            req = urllib.request.Request(f"http://127.0.0.1:{self.intake_port}/alertmanager",
                                         data=body, method="POST", headers={
                                             "Content-Type": "application/json",
                                             "Authorization": f"Bearer {token}"})
            try:
                with urllib.request.urlopen(req, timeout=10) as r:
                    codes.append(r.status)
            except urllib.error.HTTPError as e:
                codes.append(e.code)
        return codes

    def secrets(self):
        """Every secret the toolkit was given, with the forms a protocol carries them in
        (SASL PLAIN's base64 of authzid NUL authcid NUL password)."""
        out = {"ops password": self.dep.ops_password,
               "probe password": (self.tmp / "probe.pw").read_text().strip(),
               "mcalert's XMPP password": password("mcalert"),
               "the webhook sink's key": HOOK_KEY,
               "the intake token": self.intake_token}
        user = jid("mcalert")
        for authcid in (user, user.split("@")[0]):
            for authzid in ("", user):
                plain = f"{authzid}\0{authcid}\0{password('mcalert')}".encode()
                out[f"SASL PLAIN of {authzid or '-'}/{authcid}"] = base64.b64encode(plain).decode()
        return out

    def stop(self):
        for e in self.engineers.values():
            e.stop()
        self.procs.stop_all()
        self.receiver.stop()

    # --- reading what happened ---------------------------------------------------------
    def summary(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/api/v2/summary.json",
                                        timeout=2) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def index(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/", timeout=2) as r:
            return r.read().decode()

    def incidents(self, kind=None, since_id=0):
        return [i for i in self.dep.incidents(kind) if i["id"] > since_id]

    def timeline(self, incident):
        """`mctl show`'s events of an incident, and the nodes its evidence names."""
        show = json.loads(self.mctl("--json", "show", str(incident)))
        events = show.get("events", show.get("timeline", []))
        involved = set()
        for e in events:
            if e["type"] == "evidence":
                involved.update((e.get("body") or {}).get("involved", []))
        return [e["type"] for e in events], involved

    def pages(self, incident):
        return self.dep.query("SELECT * FROM pages WHERE incident_id = ? ORDER BY id", incident)

    def mctl(self, *args):
        r = self.dep.mctl(*args)
        if r.returncode != 0:
            raise Failed(f"mctl {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout


def pages_of(engineer, incident):
    return engineer.pages(incident)


def scenario_tail(k, tl):
    """1 and 4: a latency tail on every node; mcalert and mcstatus killed mid-way."""
    s = "1 tail"
    alice, bob = k.engineers["alice"], k.engineers["bob"]
    before = max([i["id"] for i in k.incidents()] or [0])
    # One opened by the machine's own noise would swallow the fault's (same cluster).
    early = [i for i in k.incidents("latency_tail") if i["state"] != "resolved"]
    if early:
        raise Failed(f"a latency_tail incident opened before any fault: #{early[0]['id']} "
                     f"({early[0]['title']})")
    tl.say(s, "fault proxies delay 15% of responses by 5-15 ms on n1, n2, n3")
    t_fault = time.monotonic()
    for n, port in k.controls.items():
        if control(port, "delay 0.15 5ms 15ms") != "OK":
            raise Failed(f"faultproxy of {n} refused the delay")
    first = wait("a latency_tail incident", lambda: k.incidents("latency_tail", before), 40)[0]
    inc = first["id"]
    tl.say(s, f"incident #{inc} opened ({first['title']})")
    tl.step("tail: detect", time.monotonic() - t_fault)
    t_open = time.monotonic()
    alice.wait_page(inc, timeout=15)
    tl.say(s, f"alice paged for #{inc}")
    tl.step("tail: page", time.monotonic() - t_open)
    # Her phone's delivery receipt goes to the mcalert that sent the page: killed
    # before it arrives, the receipt is lost with it (the page stays undelivered in the
    # log). The scenario kills mcalert mid-escalation, not mid-receipt.
    wait("alice's delivery receipt in the log", lambda: all(
        p["delivered_at"] for p in k.pages(inc) if p["target"] == jid("alice")), 5)

    # Scenario 4: kill the pager and the publisher while the incident runs.
    k.procs.stop(k.mcalert, sig=signal.SIGKILL)
    k.procs.stop(k.mcstatus, sig=signal.SIGKILL)
    tl.say("4 kill", "mcalert and mcstatus SIGKILLed; restarting them")
    t_kill = time.monotonic()
    k.start_mcalert()
    k.start_mcstatus()
    wait("mcstatus serving again", lambda: k.summary() is not None, 10)
    tl.step("restart: back on duty", time.monotonic() - t_kill)
    tl.say("4 kill", "both back")

    tl.say(s, "nobody answers alice's page")
    # A severity rise pages the current step again but keeps its deadline
    # (docs/alerter.md), so the escalation is timed from alice's first page to bob's.
    bob.wait_page(inc, timeout=WAIT1 + 40)
    rows = k.pages(inc)
    bob_at = min(p["sent_at"] for p in rows if p["step"] == 2)
    first1 = min(p["sent_at"] for p in rows if p["step"] == 1)
    tl.say(s, f"bob paged for #{inc} (escalation, {(bob_at - first1) / 1000:.1f}s after "
              f"alice's first page; {sum(p['step'] == 1 for p in rows)} step-1 pages)")
    tl.step("tail: escalate", (bob_at - first1) / 1000)
    tails = k.incidents("latency_tail", before)
    for i in tails:
        bob.say(jid("mcalert"), f"ack {i['id']}")
    wait("the acknowledgements", lambda: all(
        r["state"] != "open" for r in k.incidents("latency_tail", before)), 10)
    tl.say(s, f"bob acknowledged {', '.join('#%d' % i['id'] for i in tails)} by chat")

    msg = "We identified slow responses in the network path to the cache and are rerouting."
    k.mctl("update", str(inc), "--status", "identified", "--message", msg)
    # Timed from when the update is in the log (mctl has returned): the bound is
    # mcstatus's, not how long mctl takes to start on a loaded machine.
    t_upd = time.monotonic()
    tl.say(s, f"public update posted on #{inc} (mctl update)")
    wait("the update on the status page", lambda: msg in k.index(), 10, step=0.02)
    tl.step("tail: public update on the page", time.monotonic() - t_upd)
    summary = k.summary()
    comp = {c["id"]: c["status"] for c in summary["components"]}
    if summary["status"]["indicator"] == "none" or comp.get("c1") == "operational":
        raise Failed(f"the page does not show the degradation: {summary['status']}, {comp}")
    tl.say(s, f"status page: {summary['status']['description']}, c1 {comp['c1']}")

    for port in k.controls.values():
        control(port, "off")
    t_off = time.monotonic()
    tl.say(s, "fault removed")
    wait("every tail incident resolved", lambda: all(
        r["state"] == "resolved" for r in k.incidents("latency_tail", before)), 40)
    tl.say(s, "resolved by mcmon")
    tl.step("tail: resolve", time.monotonic() - t_off)
    t_res = time.monotonic()
    wait("the page operational", lambda: (k.summary() or {}).get("status", {})
         .get("indicator") == "none", 10)
    tl.step("tail: page operational", time.monotonic() - t_res)
    tl.say(s, "status page: All Systems Operational")

    # A tail on every node is one problem: one incident for the cluster.
    tails = k.incidents("latency_tail", before)
    if len(tails) != 1:
        raise Failed(f"{len(tails)} latency_tail incidents for one cluster-wide tail: "
                     f"{[t['fingerprint'] for t in tails]}")
    _, involved = k.timeline(inc)
    tl.say(s, f"one incident for the cluster; slow nodes in its evidence: "
              f"{', '.join(sorted(involved)) or '?'}")

    # Nothing lost, nothing duplicated across the kill.
    # Every page the log says was sent reached its engineer, once (a severity rise pages
    # again on purpose: that is a second row, not a duplicate).
    sent = 0
    for i in tails:
        pages = k.pages(i["id"])
        sent += len(pages)
        for who, e in (("alice", alice), ("bob", bob)):
            rows = [p for p in pages if p["target"] == jid(who)]
            got = e.pages(i["id"])
            if len(got) != len(rows):
                raise Failed(f"#{i['id']}: the log sent {len(rows)} pages to {who}, "
                             f"{who} received {len(got)}")
        if any(not p["delivered_at"] for p in pages):
            raise Failed(f"#{i['id']}: a page was never delivered: {pages}")
    wait("every public change at the webhook", lambda: {
        (e["incident"]["id"], e["type"]) for e in k.receiver.events} >=
        {(str(i["id"]), t) for i in tails for t in ("incident.created", "incident.resolved")}
        | {(str(inc), "incident.updated")}, 15)
    ids = [e["event_id"] for e in k.receiver.events]
    firsts = list(dict.fromkeys(ids))
    if firsts != sorted(firsts) or k.receiver.bad:
        raise Failed(f"webhook out of order or unsigned: {ids}, {k.receiver.bad} bad")
    dups = len(ids) - len(firsts)
    tl.say("4 kill", f"nothing lost: {len(tails)} incident{'s' if len(tails) != 1 else ''}, {sent} pages sent, each received once; "
                     f"{len(firsts)} public changes at the webhook in order"
                     f"{f', {dups} repeated with the same event id' if dups else ''}")


def scenario_storm(k, tl):
    s = "2 storm"
    alice = k.engineers["alice"]
    before = max([i["id"] for i in k.incidents()] or [0])
    t0 = time.monotonic()
    inc = None
    flushed = False
    for n in ("n1", "n2", "n3"):
        node = k.dep.nodes[n]
        tl.say(s, f"connection storm on {n}")
        gen = subprocess.Popen([tool("tests/tools/stormgen"), "--target",
                                f"127.0.0.1:{node.port}", "--rate", "800", "--count", "3200",
                                "--duration", "4s"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
        try:
            if inc is None:
                found = wait("a connection_storm incident",
                             lambda: k.incidents("connection_storm", before), 15, step=0.05)
                inc = found[0]["id"]
                tl.say(s, f"incident #{inc} opened")
                tl.step("storm: detect", time.monotonic() - t0)
                alice.wait_page(inc, timeout=10)
                tl.say(s, f"alice paged for #{inc}")
                tl.step("storm: page", time.monotonic() - t0 - tl.steps["storm: detect"])
                alice.say(jid("mcalert"), f"ack {inc}")
            elif not flushed:
                k.mctl("--yes", "flush", n, "--incident", str(inc))
                flushed = True
                tl.say(s, f"mctl flush {n} --incident {inc}")
        finally:
            gen.communicate(timeout=30)
    t_end = time.monotonic()
    tl.say(s, "storm over")
    wait("the storm incident resolved", lambda: all(
        r["state"] == "resolved" for r in k.incidents("connection_storm", before)), 40)
    tl.step("storm: resolve", time.monotonic() - t_end)
    storms = k.incidents("connection_storm", before)
    if len(storms) != 1:
        raise Failed(f"{len(storms)} storm incidents, not one: {[r['id'] for r in storms]}")
    tl.say(s, f"#{inc} resolved; one incident for the whole storm")
    if len(alice.pages(inc)) != 1 or k.engineers["bob"].pages(inc):
        raise Failed(f"#{inc} paged {len(alice.pages(inc))} times (alice), "
                     f"{len(k.engineers['bob'].pages(inc))} (bob)")
    types, involved = k.timeline(inc)
    if "flush" not in types:
        raise Failed(f"no flush on #{inc}'s timeline: {types}")
    tl.say(s, f"timeline of #{inc}: {', '.join(dict.fromkeys(types))}; "
              f"nodes involved: {', '.join(sorted(involved)) or '?'}")


def scenario_xmpp_down(k, tl):
    s = "3 xmpp"
    before = max([i["id"] for i in k.incidents()] or [0])
    k.engineers["alice"].stop()
    k.engineers["bob"].stop()
    k.prosody.stop()
    tl.say(s, "Prosody stopped")
    out = k.mctl("--json", "open", "--title", "Drill: clients report errors", "--severity",
                 "major", "--cluster", "c1")
    inc = json.loads(out)["id"]
    tl.say(s, f"incident #{inc} opened while the XMPP server is down")
    time.sleep(3)
    k.prosody.start()
    tl.say(s, "Prosody back")
    alice = k.engineers["alice"] = Engineer("alice", k.prosody.port).start()
    k.engineers["bob"] = Engineer("bob", k.prosody.port).start()
    # Timed from when alice can receive it: the engineers' own logins are the drill's
    # set-up; mcalert's reconnection, if slower, is inside the measure.
    t_back = time.monotonic()
    page = alice.wait_page(inc, timeout=BOUNDS["xmpp down: page after return"] + 10)
    tl.step("xmpp down: page after return", time.monotonic() - t_back)
    if "LATE" not in page["body"]:
        raise Failed(f"the page is not marked late: {page['body']!r}")
    tl.say(s, f"alice paged for #{inc}, marked late: "
              f"{[l for l in page['body'].splitlines() if 'LATE' in l][0].strip()}")
    alice.say(jid("mcalert"), f"ack {inc}")
    time.sleep(1.5)
    if len(alice.pages(inc)) != 1:
        raise Failed(f"alice got {len(alice.pages(inc))} pages for #{inc}")
    if len([p for p in k.pages(inc) if p["step"] == 1]) != 1:
        raise Failed(f"#{inc} has {len(k.pages(inc))} step-1 pages")
    k.mctl("resolve", str(inc), "--message", "drill over")
    tl.say(s, f"#{inc} paged once, acknowledged, resolved")


def scenario_monitor_stopped(k, tl):
    s = "5 mcmon"
    alice = k.engineers["alice"]
    before = max([i["id"] for i in k.incidents()] or [0])
    mcmon = k.dep.mcmon
    mcmon.send_signal(signal.SIGSTOP)
    t0 = time.monotonic()
    tl.say(s, f"mcmon (pid {mcmon.pid}) stopped with SIGSTOP")
    try:
        found = wait("a heartbeat incident", lambda: k.incidents("heartbeat", before),
                     BOUNDS["mcmon stopped: page"] + 10)
        inc = found[0]["id"]
        tl.say(s, f"incident #{inc} opened by mcalert: {found[0]['title']}")
        page = alice.wait_page(inc, timeout=BOUNDS["mcmon stopped: page"] + 10)
        tl.step("mcmon stopped: page", time.monotonic() - t0)
        if "monitoring is not running" not in page["body"]:
            raise Failed(f"the page does not say what stopped: {page['body']!r}")
        tl.say(s, f"alice paged for #{inc}: monitoring is not running")
        alice.say(jid("mcalert"), f"ack {inc}")
    finally:
        mcmon.send_signal(signal.SIGCONT)
    t1 = time.monotonic()
    tl.say(s, "mcmon continued with SIGCONT")
    wait("the heartbeat incident resolved", lambda: all(
        r["state"] == "resolved" for r in k.incidents("heartbeat", before)), 20)
    tl.step("mcmon stopped: resolve", time.monotonic() - t1)
    rows = k.incidents("heartbeat", before)
    if len(rows) != 1 or rows[0]["resolved_by"] != "mcalert":
        raise Failed(f"heartbeat incidents: {[(r['id'], r['resolved_by']) for r in rows]}")
    tl.say(s, f"#{inc} resolved by mcalert: mcmon is beating again")


def main():
    keep = "--keep" in sys.argv
    tmp = tempfile.mkdtemp(prefix="mcops-drill.")
    tl = Timeline()
    k = Toolkit(tmp, tl)
    status = 0

    def on_signal(sig, _frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    print(f"drill: the toolkit in {tmp} (binaries from {os.path.dirname(binary('mcd'))})",
          flush=True)
    scenarios = [("1+4", scenario_tail), ("2", scenario_storm), ("3", scenario_xmpp_down),
                 ("5", scenario_monitor_stopped)]
    passed = []
    try:
        k.start()
        tl.say("setup", f"3 nodes, mcmon, Prosody, mcalert, mcstatus on "
                        f"http://127.0.0.1:{k.status_port}/")
        # The detectors learn a quiet baseline first: the storm detector over
        # storm_warmup polls, the tail detector over tail_warmup once both its windows
        # hold enough probes (about a second after every node's short window does).
        # A fault injected earlier is still caught, only once the warm-up is over.
        wait("every node probed", lambda: all(
            n.get("probes", 0) >= int(FAST["tail_min_samples"])
            for n in (k.dep.view() or {}).get("nodes", [{}])), 20)
        time.sleep(float(TAIL_WARMUP.rstrip("s")) + 2)
        for name, fn in scenarios:
            try:
                fn(k, tl)
                passed.append(name)
            except Failed as e:
                tl.failures.append(f"scenario {name}: {e}")
                tl.say(name, f"FAILED: {e}")
    except KeyboardInterrupt:
        tl.failures.append("interrupted")
    except Exception as e:  # the set-up itself failed
        tl.failures.append(f"set-up: {type(e).__name__}: {e}")
    finally:
        k.stop()
    # A daemon that crashed or tripped a sanitizer fails the drill too.
    for log in Path(tmp).glob("*.log"):
        text = log.read_text(errors="replace")
        if "ERROR: AddressSanitizer" in text or "runtime error:" in text or \
                "ERROR: LeakSanitizer" in text:
            tl.failures.append(f"sanitizer report in {log.name}")
    # No secret in any daemon's log (each ran with -d) nor in the incident log.
    try:
        given = k.secrets()
    except OSError as e:  # the set-up failed before the secrets were written
        given = {}
        tl.failures.append(f"secrets: {e}")
    places = list(Path(tmp).glob("*.log")) + list(Path(tmp).glob("mcops.db*"))
    for place in places:
        data = place.read_bytes()
        for what, secret in given.items():
            if secret and secret.encode() in data:
                tl.failures.append(f"{what} written in {place.name}")
    tl.say("secrets", f"{len(given)} secrets looked for in {len(places)} logs and log files")
    print("\ndrill: times (bound)")
    for name, secs in tl.steps.items():
        b = BOUNDS.get(name)
        mark = "" if b is None or secs <= b else "  LATE"
        print(f"  {name:36s} {secs:6.1f}s  ({b}s){mark}")
    for name, _ in scenarios:
        print(f"drill: scenario {name}: {'passed' if name in passed and not any(f.startswith(f'scenario {name}') for f in tl.failures) else 'FAILED'}")
    if tl.failures:
        print("\ndrill: FAILED")
        for f in tl.failures:
            print(f"  - {f}")
        print(f"  logs kept in {tmp}")
        status = 1
    else:
        print(f"\ndrill: passed, {len(passed)} scenarios in {time.monotonic() - tl.t0:.0f}s")
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
