"""The incident drill (`make drill`, docs/drill.md).

Starts the whole toolkit in a temporary directory on free loopback ports, as the
service is built: two clusters, c1 and c2, each two mcd proxies (`mcd --proxy`) in front
of three mcd backends, with a fault proxy (tests/tools/faultproxy) on the path from the
proxies to each backend, so that latency can be injected per backend; mcmon, a private
Prosody, mcalert, mcstatus (serving the page, with a signed webhook sink to a local
receiver); scripted engineers alice (on call) and bob (second step) as XMPP clients.
It plays the outages mcops is modelled on:

  1. US-East: 15% of backend responses at 5-15 ms on every backend of c1, then a
     connection storm hopping across c1's proxies: one incident of each kind for c1,
     none for c2 (whose component stays operational on the page throughout), `mctl
     rebalance --cluster c1 --incident N` on the storm's timeline, both resolved after
     the faults end;
  2. C1: two backends of c1 slow: detected, alice paged, nobody answers, bob paged on
     the deadline, bob acknowledges by chat, runs a remedy, posts a public update, the
     page and the webhook follow, the fault removed, resolved, the page operational
     again; in the middle of it mcalert and mcstatus are SIGKILLed and restarted
     (scenario 4): nothing lost, nothing duplicated;
  3. the XMPP server down when an incident opens: the page arrives after it returns,
     marked late, once;
  5. mcmon stopped with SIGSTOP: "monitoring is not running" is paged after the
     heartbeat's stale time; SIGCONT resolves it.

It prints a timeline and, per scenario, how long each step took, and exits 1 if a step
is missing or outside its bound (BOUNDS, the same table as docs/drill.md). A check that
needs what the toolkit does not provide yet is printed as SKIPPED with the reason and
listed at the end; it never passes silently. Every wait is bounded; every process is
stopped by pid, also on failure or Ctrl-C.
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

from conftest import binary, free_port, tool, wait_port, Procs  # noqa: E402
from mcdtest import Raw, add_tenant  # noqa: E402
from mcmontest import FAST, Deployment, Node, control  # noqa: E402
from xmpptest import Engineer, Prosody, jid, password  # noqa: E402

TAIL_WARMUP = "10s"  # see Toolkit.write_config
# The highest normal share of slow probes mcmon learns for a path. Under ASan on a busy
# 2-core host (load 4-5), 13-18% of the probes through a proxy (three processes on the
# path) are slower than the 4 ms threshold with no fault at all, 7-9% of a backend's,
# as many as a 15% tail adds: at 0.1 a proxy's path may be "in a tail" from the host's
# noise alone, at 0.2 or 0.4 a backend's path learns so much noise that the tail is not
# seen within its bound (tried: docs/drill.md). The drill keeps 0.1 and the report says
# when the host is too loaded for the bound.
TAIL_BASELINE_MAX = "0.1"

# The topology: per cluster, its proxies and its backends. Names are the [proxy NAME]
# and [node NAME] sections of the configuration and the proxies' backend names.
CLUSTERS = {
    "c1": {"title": "Cache cluster C1", "proxies": ["c1-p1", "c1-p2"],
           "backends": ["c1-b1", "c1-b2", "c1-b3"]},
    "c2": {"title": "Cache cluster C2", "proxies": ["c2-p1", "c2-p2"],
           "backends": ["c2-b1", "c2-b2", "c2-b3"]},
}

# Seconds. The bounds (docs/drill.md says why each holds). These are the
# product's promise, so the drill keeps them as bounds on elapsed time, unlike the
# tests, which never assert on elapsed time. Where the log records the moment, the step
# is timed from the log's own clock (an incident's opened_at, a page's sent_at) to the
# wall-clock moment the drill saw the result, so the drill's polling is not in it.
# A pair is (lowest, highest): escalation is due on its deadline, not early either.
BOUNDS = {
    "US-East tail: detect": 15,
    "US-East tail: page": 1,
    "US-East storm: detect": 5,
    "US-East storm: page": 1,
    "US-East: resolve (faults ended → resolved)": 25,
    "US-East: page operational": 3,
    "C1: detect": 15,
    "C1: page": 1,
    "restart: back on duty": 10,
    "C1: escalate (bob's page − its deadline)": (-1, 1),
    "C1: public update on the page": 2,
    "C1: resolve": 25,
    "C1: page operational": 3,
    "xmpp down: page after return": 15,
    "mcmon stopped: page": 12,     # HEARTBEAT_STALE + one check + the page
    "mcmon stopped: resolve": 5,   # one beat + one check
}
WAIT1 = 15
POOL = 8   # acme's connections that pile on one proxy during the storm (US-East)
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
        self.skipped = []        # (scenario, check, what is missing)

    def say(self, scenario, text):
        t = time.monotonic() - self.t0
        self.rows.append((t, scenario, text))
        print(f"  {t:7.1f}s  [{scenario}] {text}", flush=True)

    def step(self, name, seconds):
        self.steps[name] = seconds
        if not within(name, seconds):
            self.failures.append(f"{name}: {seconds:.1f}s, outside its bound of "
                                 f"{bound_text(name)}")
        return seconds

    def skip(self, scenario, check, missing):
        """A check whose evidence is missing fails the scenario: every part of the
        toolkit it reads (mcmon's extent, participants and returns; mctl's roles and
        shed counts) exists, so a missing field is a regression, not a gap."""
        self.say(scenario, f"FAILED check: {check} — {missing}")
        raise Failed(f"{check}: {missing}")


def within(name, seconds):
    b = BOUNDS.get(name)
    if b is None:
        return True
    if isinstance(b, tuple):
        return b[0] <= seconds <= b[1]
    return seconds <= b


def bound_text(name):
    b = BOUNDS.get(name)
    if isinstance(b, tuple):
        return f"{b[0]:+g}..{b[1]:+g}s"
    return f"{b}s"


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

    def seen(self):
        with self.lock:
            return {(e["incident"]["id"], e["type"]) for e in self.events}


class PageWatch:
    """Reads the status page's components every 200 ms in a thread and keeps every
    status each component showed, so "c2 stays operational" is checked all along, not
    only at the moments the drill happens to look."""

    def __init__(self, k):
        self.k = k
        self.lock = threading.Lock()
        self.seen = {}           # component id -> {status: first time seen (monotonic)}
        self.samples = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stopped.wait(0.2):
            s = self.k.summary()
            if not s:
                continue
            with self.lock:
                self.samples += 1
                for c in s.get("components", []):
                    self.seen.setdefault(c["id"], {}).setdefault(c["status"], time.monotonic())

    def reset(self):
        with self.lock:
            self.seen = {}
            self.samples = 0

    def statuses(self, component):
        with self.lock:
            return dict(self.seen.get(component, {})), self.samples

    def stop(self):
        self.stopped.set()
        self.thread.join(timeout=5)


class Clients:
    """acme's application: one client per proxy, a set and a get of one of KEYS keys in
    turn, about RATE requests a second each, so that every proxy sends every backend
    traffic (the proxies' per-backend view, which mcmon reads, comes from it). A client
    whose connection fails (a rebalance sheds it, a proxy is down) reconnects to the next
    proxy of its cluster, as a client library does, and counts the failure."""

    KEYS = 64
    RATE = 50
    # A get asks for GET_KEYS keys, which the proxy splits into one request per backend:
    # every backend hears from each proxy at about RATE / 2 + RATE / 6 a second (its
    # share of the sets), well over a hundred replies from the two in the 2 s window,
    # so that the proxies' view of a 15% tail stands clear of its trip level (baseline +
    # 6 sigma) on a noisy host, without more client work (more requests a second made
    # the proxies' own path the noisiest on the machine).
    GET_KEYS = 8

    def __init__(self, k, user, password):
        self.k = k
        self.user, self.password = user, password
        self.stopped = threading.Event()
        self.lock = threading.Lock()
        self.tally = {c: [0, 0, 0] for c in CLUSTERS}  # requests, failed, reconnections
        self.threads = []

    def start(self):
        for c, spec in CLUSTERS.items():
            for i, p in enumerate(spec["proxies"]):
                order = spec["proxies"][i:] + spec["proxies"][:i]
                t = threading.Thread(target=self._run, args=(c, order), daemon=True)
                t.start()
                self.threads.append(t)
        return self

    def connect(self, proxy):
        r = Raw(self.k.proxies[proxy].port, timeout=3)
        if r.auth(self.user, self.password) != "STORED":
            r.close()
            raise ConnectionError(f"{self.user} refused by {proxy}")
        return r

    def _run(self, cluster, order):
        conn, n, at = None, 0, 0
        while not self.stopped.wait(1 / self.RATE):
            key = f"{cluster}:k{n % self.KEYS}"
            try:
                if conn is None:
                    conn = self.connect(order[at % len(order)])
                if n % 2 == 0:
                    reply = conn.cmd(f"set {key} 0 0 5\r\nvalue\r\n")
                else:
                    keys = " ".join(f"{cluster}:k{(n + i) % self.KEYS}"
                                    for i in range(self.GET_KEYS))
                    conn.send(f"get {keys}\r\n")
                    _, reply = conn.until_end()
                with self.lock:
                    self.tally[cluster][0] += 1
                    if reply not in ("STORED", "END"):
                        self.tally[cluster][1] += 1
                n += 1
            except (OSError, ConnectionError):
                with self.lock:
                    self.tally[cluster][1] += 1
                    self.tally[cluster][2] += 1
                if conn is not None:
                    conn.close()
                conn, at = None, at + 1
        if conn is not None:
            conn.close()

    def counts(self):
        """{cluster: (requests, failed, reconnections)} since the start."""
        with self.lock:
            return {c: tuple(t) for c, t in self.tally.items()}

    def said(self):
        return "; ".join(f"{c}: {r} requests, {f} failed, {n} reconnections"
                         for c, (r, f, n) in self.counts().items())

    def stop(self):
        self.stopped.set()
        for t in self.threads:
            t.join(timeout=5)


class Toolkit:
    def __init__(self, tmp, tl):
        self.tmp = Path(tmp)
        self.tl = tl
        self.procs = Procs(self.tmp)
        self.dep = Deployment(self.procs, self.tmp)
        self.controls = {}       # backend -> its fault proxy's control port
        self.proxies = {}        # proxy name -> Node (client and admin port)
        self.engineers = {}
        self.receiver = Receiver()
        self.status_port = free_port()
        self.intake_port = free_port()
        self.intake_token = secrets.token_hex(24)
        self.dep.debug = True  # every daemon logs at debug: no secret may show even so
        self.site = self.tmp / "site"
        self.mcalert = self.mcstatus = None
        self.watch = self.clients = None

    def start(self):
        # The proxies log in to the backends as an account with only the proxy
        # capability (docs/proxy.md); acme is the customer whose data a remedy flushes.
        self.proxy_password = add_tenant(self.dep.tenants, "proxy", caps="proxy")
        (self.tmp / "proxy.pw").write_text(self.proxy_password + "\n")
        self.acme_password = add_tenant(self.dep.tenants, "acme")
        for c, spec in CLUSTERS.items():
            for b in spec["backends"]:
                self.dep.start_node(b)
                # The path from the proxies (and mcmon's own probes) to the backend.
                self.controls[b] = self.dep.start_proxy(b)
            pfile = self.tmp / f"proxy-{c}.conf"
            lines = ["[proxy]"]
            lines += [f"backend = 127.0.0.1:{self.dep.nodes[b].client_port}:1 {b}"
                      for b in spec["backends"]]
            # tail_ms as mcmon's tail_threshold: the proxies' tail_share counts what
            # the monitor calls slow.
            lines += ["timeout = 1000", "tail_ms = 4", "account = proxy",
                      f"password_file = {self.tmp / 'proxy.pw'}", ""]
            pfile.write_text("\n".join(lines))
            for p in spec["proxies"]:
                self.start_mcd_proxy(p, pfile)
        # Before mcmon starts: its detectors learn the normal with the traffic on.
        self.clients = Clients(self, "acme", self.acme_password).start()
        self.prosody = Prosody(self.procs, self.tmp / "prosody", ["mcalert", "alice", "bob"])
        self.prosody.start()
        (self.tmp / "mcalert.pw").write_text(password("mcalert") + "\n")
        (self.tmp / "hook.key").write_text(HOOK_KEY + "\n")
        (self.tmp / "intake.token").write_text(self.intake_token + "\n")
        os.chmod(self.tmp / "intake.token", 0o600)
        self.write_config()
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
        self.watch = PageWatch(self).start()

    def start_mcd_proxy(self, name, pfile):
        port, admin = free_port(), free_port()
        p = self.procs.start([binary("mcd"), "--proxy", str(pfile), "-l", "127.0.0.1",
                              "-p", str(port), "-t", "1", "-U", "0", "--tenants",
                              str(self.dep.tenants), "--admin-port", str(admin), "-d"],
                             name=f"mcd-{name}")
        wait_port(port, proc=p)
        wait_port(admin, proc=p)
        self.proxies[name] = Node(name, port, admin, p)

    def write_config(self):
        # A tail is 15% of responses 5-15 ms late: the threshold sits under 5 ms. Under
        # ASan on a busy 2-core machine, 5-13% of probes of a backend are that slow
        # with no fault (10-20% while the toolkit starts; more through a proxy, see
        # TAIL_BASELINE_MAX): the warm-up outlasts the start. tail_baseline_k stays at
        # its default (6): with twenty tail detectors (ten paths probed, six backends as
        # their proxies time them) a smaller k opened on a burst of the host's noise in
        # one of two ASan runs, and the proxies' view, with over a hundred replies per
        # window, still sees a 15% tail over 6 sigma.
        settings = dict(FAST)
        settings.update({"tail_threshold": "4ms", "tail_warmup": TAIL_WARMUP,
                         "tail_baseline_max": TAIL_BASELINE_MAX, "heartbeat_interval": "1s"})
        self.dep.metrics_port = free_port()
        lines = ["[log]", f"path = {self.dep.db}", "", "[monitor]",
                 f"metrics_listen = 127.0.0.1:{self.dep.metrics_port}",
                 f"state_file = {self.dep.state}"]
        lines += [f"{k} = {v}" for k, v in settings.items()]
        for c, spec in CLUSTERS.items():
            lines += ["", f"[cluster {c}]", f"title = {spec['title']}", "admin_user = ops",
                      f"admin_password_file = {self.tmp / 'ops.pw'}", "probe_user = probe",
                      f"probe_password_file = {self.tmp / 'probe.pw'}"]
            for p in spec["proxies"]:
                n = self.proxies[p]
                lines += ["", f"[proxy {p}]", f"cluster = {c}",
                          f"client = 127.0.0.1:{n.port}", f"admin = 127.0.0.1:{n.admin_port}"]
            for b in spec["backends"]:
                # client: the fault proxy, the path the proxies use, so mcmon's own
                # probes of a backend see what the proxies see.
                n = self.dep.nodes[b]
                lines += ["", f"[node {b}]", f"cluster = {c}",
                          f"client = 127.0.0.1:{n.client_port}",
                          f"admin = 127.0.0.1:{n.admin_port}"]
        lines.append(f"""
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
""")
        self.dep.config.write_text("\n".join(lines))

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
               "the proxies' password": (self.tmp / "proxy.pw").read_text().strip(),
               "mcalert's XMPP password": password("mcalert"),
               "the webhook sink's key": HOOK_KEY,
               "the intake token": self.intake_token}
        if getattr(self, "acme_password", None):
            out["acme's password"] = self.acme_password
        user = jid("mcalert")
        for authcid in (user, user.split("@")[0]):
            for authzid in ("", user):
                plain = f"{authzid}\0{authcid}\0{password('mcalert')}".encode()
                out[f"SASL PLAIN of {authzid or '-'}/{authcid}"] = base64.b64encode(plain).decode()
        return out

    def stop(self):
        if self.watch:
            self.watch.stop()
        if self.clients:
            self.clients.stop()
        for e in self.engineers.values():
            e.stop()
        self.procs.stop_all()
        self.receiver.stop()

    # --- faults --------------------------------------------------------------------------
    def delay(self, backends, spec):
        for b in backends:
            if not control(self.controls[b], spec).startswith("OK"):
                raise Failed(f"the fault proxy of {b} refused '{spec}'")

    # --- reading what happened ---------------------------------------------------------
    def summary(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/api/v2/summary.json",
                                        timeout=2) as r:
                return json.loads(r.read())
        except (OSError, ValueError):
            return None

    def components(self):
        return {c["id"]: c["status"] for c in (self.summary() or {}).get("components", [])}

    def index(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/", timeout=2) as r:
            return r.read().decode()

    def incidents(self, kinds=None, since_id=0, cluster=None):
        if isinstance(kinds, str):
            kinds = (kinds,)
        return [i for i in self.dep.incidents() if i["id"] > since_id and
                (kinds is None or i["kind"] in kinds) and
                (cluster is None or i["cluster"] == cluster)]

    def last_id(self):
        return max([i["id"] for i in self.incidents()] or [0])

    def incident(self, inc):
        return next(i for i in self.incidents() if i["id"] == inc)

    def evidence(self, incident):
        """The bodies of an incident's opened and evidence events, oldest first."""
        out = []
        for e in self.dep.events(incident):
            b = e["body"]
            if e["type"] in ("opened", "evidence", "severity") and isinstance(b, dict):
                # An opened event may carry the evidence under "evidence".
                out.append(b["evidence"] if isinstance(b.get("evidence"), dict) else b)
        return out

    def involved(self, incident):
        out = set()
        for b in self.evidence(incident):
            out.update(b.get("involved", []))
        return out

    def types(self, incident):
        return [e["type"] for e in self.dep.events(incident)]

    def pages(self, incident):
        return self.dep.query("SELECT * FROM pages WHERE incident_id = ? ORDER BY id", incident)

    def mctl(self, *args):
        r = self.dep.mctl(*args)
        if r.returncode != 0:
            raise Failed(f"mctl {' '.join(args)}: exit {r.returncode}: "
                         f"{(r.stderr or r.stdout).strip()[-600:]}")
        return r.stdout


def closed_by_server(conn):
    """True when the other end has closed conn (what is buffered is read and dropped)."""
    conn.sock.setblocking(False)
    try:
        while True:
            if not conn.sock.recv(65536):
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def utc_seconds(text):
    """Unix seconds of "2024-01-02T03:04:05.678Z" (the log's UTC text)."""
    import calendar
    base, _, frac = text.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) + float("0." + (frac or "0"))


def find_key(obj, keys):
    """The first value under any of keys anywhere in a JSON value, or None."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in keys:
                return v
        for v in obj.values():
            found = find_key(v, keys)
            if found is not None:
                return found
    elif isinstance(obj, list):
        for v in obj:
            found = find_key(v, keys)
            if found is not None:
                return found
    return None


def check_remedy_layer(k, tl, s, inc, kind, role, names):
    """The remedy's event on the incident acted on the right layer: every node it names
    has that role, and the expected ones are there."""
    bodies = [e["body"] for e in k.dep.events(inc) if e["type"] == kind]
    nodes = [n for b in bodies for n in (b or {}).get("nodes", [])]
    if not nodes or any("role" not in n for n in nodes):
        tl.skip(s, f"the {kind} acted on the {role} layer only",
                f"mctl's {kind} event names no role per node yet")
        return
    wrong = [n["node"] for n in nodes if n["role"] != role]
    if wrong or not set(names) <= {n["node"] for n in nodes}:
        raise Failed(f"#{inc}: the {kind} acted on {[(n['node'], n['role']) for n in nodes]}"
                     f", not on {names} ({role}) only")
    tl.say(s, f"the {kind} on #{inc} acted on the {role} layer: "
              f"{', '.join(n['node'] for n in nodes)}")


def page_delay(k, engineer, inc):
    """Seconds from the incident's opening in the log to its first page on the
    engineer's client (both on this machine's wall clock)."""
    page = engineer.wait_page(inc, timeout=15)
    return page, page["wall"] - k.incident(inc)["opened_at"] / 1000


def latency_fault(k, tl, s, steps, backends, spec, what):
    """Starts a latency fault on backends' paths with nothing open before it; times the
    detection and alice's page ("<steps>: detect", "<steps>: page"). The incident's id."""
    early = [i for i in k.incidents() if i["state"] != "resolved"]
    if early:
        raise Failed(f"an incident open before the fault: #{early[0]['id']} "
                     f"{early[0]['kind']} ({early[0]['title']})")
    before = k.last_id()
    k.watch.reset()
    tl.say(s, f"fault proxies delay {what}")
    t_fault = time.time()
    k.delay(backends, spec)
    row = wait("a latency incident for c1",
               lambda: k.incidents("latency_tail", before, "c1"), 40)[0]
    inc = row["id"]
    tl.say(s, f"incident #{inc} {row['kind']} opened ({row['title']})")
    tl.step(f"{steps}: detect", row["opened_at"] / 1000 - t_fault)
    _, d = page_delay(k, k.engineers["alice"], inc)
    tl.say(s, f"alice paged for #{inc}")
    tl.step(f"{steps}: page", d)
    return inc


def resolved_early(rows, fault_end):
    """Fails if one of rows was resolved before its fault ended (a tail held for the
    whole fault, a storm for every hop, must not clear half-way)."""
    early = [r for r in rows if r["resolved_at"] / 1000 < fault_end]
    if early:
        raise Failed("resolved while its fault still ran: " + ", ".join(
            f"#{r['id']} {r['kind']} {fault_end - r['resolved_at'] / 1000:.1f}s early"
            for r in early))


def ack_by_chat(k, tl, s, who, inc):
    k.engineers[who].say(jid("mcalert"), f"ack {inc}")
    wait(f"#{inc} acknowledged", lambda: k.incident(inc)["state"] != "open", 10)
    tl.say(s, f"{who} acknowledged #{inc} by chat")


def scenario_us_east(k, tl):
    """1: a network-wide tail on c1's backends, then a storm hopping across its proxies."""
    s = "1 US-East"
    alice = k.engineers["alice"]
    c1 = CLUSTERS["c1"]
    before = k.last_id()
    c2_before = k.clients.counts()["c2"]
    tinc = latency_fault(k, tl, s, "US-East tail", c1["backends"], "delay 0.15 5ms 15ms",
                         "15% of responses by 5-15 ms on every backend of c1")
    ack_by_chat(k, tl, s, "alice", tinc)

    # The storm, while the tail lasts (as in the postmortem): p1, then p2, then p1
    # again, 4 s each; stormgen churns connections on the proxy's client port.
    hops = [c1["proxies"][0], c1["proxies"][1], c1["proxies"][0]]
    storm = None
    rebalanced = None        # the proxy the connections piled on when rebalance ran
    pool = []
    t_storm = time.time()
    hop_at = []              # (proxy, wall time its hop began)
    for p in hops:
        tl.say(s, f"connection storm on proxy {p}")
        hop_at.append((p, time.time()))
        gen = subprocess.Popen([tool("tests/tools/stormgen"), "--target",
                                f"127.0.0.1:{k.proxies[p].port}", "--rate", "800",
                                "--count", "3200", "--duration", "4s"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            if storm is None:
                storm = wait("a connection_storm incident for c1", lambda: k.incidents(
                    "connection_storm", before, "c1"), 15)[0]["id"]
                row = k.incident(storm)
                tl.say(s, f"incident #{storm} connection_storm opened ({row['title']})")
                tl.step("US-East storm: detect", row["opened_at"] / 1000 - t_storm)
                _, d = page_delay(k, alice, storm)
                tl.say(s, f"alice paged for #{storm}")
                tl.step("US-East storm: page", d)
                ack_by_chat(k, tl, s, "alice", storm)
            elif not rebalanced:
                # acme's clients reconnecting through the storm piled on this proxy.
                pool = [k.clients.connect(p) for _ in range(POOL)]
                tl.say(s, f"{POOL} more of acme's connections piled on {p}")
                out = k.mctl("--yes", "rebalance", "--cluster", "c1", "--incident", str(storm))
                rebalanced = p
                tl.say(s, f"mctl rebalance --cluster c1 --incident {storm}: "
                          f"{out.strip().splitlines()[-1] if out.strip() else 'done'}")
        finally:
            gen.communicate(timeout=30)
    closed = sum(1 for conn in pool if closed_by_server(conn))
    for conn in pool:
        conn.close()
    # The fault stays until mcmon has seen it on every backend (or the bound passes):
    # each backend hears only a few dozen requests a second, so on a busy machine its
    # slow share takes longer to pass the detector's threshold than the storm lasts.
    # Ending the fault on a clock would test how fast the machine is; the check below
    # still fails if mcmon never names a backend the fault is on.
    try:
        wait(f"#{tinc}'s evidence naming every backend of c1",
             lambda: set(c1["backends"]) <= k.involved(tinc), 30)
    except Failed:
        pass
    tl.say(s, "storm over; the tail fault removed")
    k.delay(c1["backends"], "off")
    t_end, t_end_wall = time.monotonic(), time.time()
    mine = lambda: k.incidents(None, before)  # noqa: E731
    wait("every US-East incident resolved", lambda: all(
        r["state"] == "resolved" for r in mine()), 40)
    resolved_early(mine(), t_end_wall)
    tl.step("US-East: resolve (faults ended → resolved)", time.monotonic() - t_end)
    tl.say(s, "resolved by mcmon")
    t_res = time.monotonic()
    wait("the page operational", lambda: (k.summary() or {}).get("status", {})
         .get("indicator") == "none", 10)
    tl.step("US-East: page operational", time.monotonic() - t_res)
    tl.say(s, "status page: All Systems Operational")

    # One incident per kind for c1, the right kinds, none for c2.
    rows = mine()
    tails = [r for r in rows if r["kind"] == "latency_tail"]
    storms = [r for r in rows if r["kind"] == "connection_storm"]
    other = [r for r in rows if r not in tails and r not in storms]
    if len(tails) != 1 or len(storms) != 1 or other:
        raise Failed("not one latency and one storm incident: " + ", ".join(
            f"#{r['id']} {r['kind']} {r['cluster']}/{r['node'] or '-'}" for r in rows))
    if any(r["cluster"] != "c1" for r in rows):
        raise Failed(f"an incident outside c1: {[(r['id'], r['cluster']) for r in rows]}")
    c2 = k.clients.counts()["c2"]
    if c2[1] != c2_before[1] or c2[0] <= c2_before[0]:
        raise Failed(f"acme's clients of c2 were affected: {c2_before} → {c2} "
                     "(requests, failed, reconnections)")
    seen, samples = k.watch.statuses("c2")
    if set(seen) != {"operational"}:
        raise Failed(f"c2's component was not operational all along: {sorted(seen)}")
    c1_seen, _ = k.watch.statuses("c1")
    if set(c1_seen) == {"operational"}:
        raise Failed("c1's component never showed the degradation")
    tl.say(s, f"one incident per kind, both for c1: #{tinc} {tails[0]['kind']}, "
              f"#{storm} connection_storm; c2 operational in all {samples} readings of "
              f"the page (c1: {', '.join(sorted(c1_seen))}); acme's clients of c2: "
              f"{c2[0] - c2_before[0]} requests meanwhile, none failed")

    # The tail's evidence: every backend of c1, said to be cluster-wide.
    involved = k.involved(tinc)
    if not set(c1["backends"]) <= involved:
        raise Failed(f"#{tinc}'s evidence names {sorted(involved)}, not every backend of c1")
    tl.say(s, f"#{tinc}'s evidence names {', '.join(sorted(involved))}")
    # How far it reaches (docs/monitor.md: extent): every backend, so cluster-wide.
    extents = [b["extent"] for b in k.evidence(tinc) if "extent" in b]
    if not extents:
        tl.skip(s, "the tail is said to be cluster-wide",
                "mcmon's tail evidence has no extent yet")
    elif "cluster-wide" not in extents:
        raise Failed(f"#{tinc} never said cluster-wide: extents {extents}")
    else:
        st = [b.get("statement") for b in k.evidence(tinc) if b.get("extent") == "cluster-wide"]
        tl.say(s, f"#{tinc} says: {st[0]}")

    # The storm's evidence: each proxy that took part, and when.
    involved = k.involved(storm)
    if not set(c1["proxies"]) <= involved:
        raise Failed(f"#{storm}'s evidence names {sorted(involved)}, not both proxies of c1")
    if involved & set(c1["backends"]):
        raise Failed(f"#{storm}'s evidence names backends {sorted(involved)}: the storm "
                     "was on the proxies")
    # The latest evidence's participants: each node of the episode, its role, when it
    # joined and when it last took part (docs/monitor.md).
    parts = {}
    for b in k.evidence(storm):
        for p in find_key(b, ("participants",)) or []:
            parts[p["node"]] = p
    if not parts:
        tl.skip(s, "the storm's evidence says when each proxy took part",
                "mcmon's storm evidence has no participants yet")
    else:
        missing = [p for p in c1["proxies"] if not parts.get(p, {}).get("joined_at")]
        roles = {p["node"]: p.get("role") for p in parts.values()}
        if missing or any(r != "proxy" for r in roles.values()):
            raise Failed(f"#{storm}'s participants lack {missing} or name a non-proxy: "
                         f"{roles}")
        tl.say(s, f"#{storm}'s participants: " + "; ".join(
            f"{n} ({p['role']}) {p['joined_at'][11:23]}..{p['last_at'][11:23]}"
            for n, p in parts.items()))
        # The hop back: the last hop's proxy took part again after the others.
        back, back_at = hop_at[-1]
        last = utc_seconds(parts[back]["last_at"])
        if last < back_at:
            tl.skip(s, f"the evidence says {back} took part again (from "
                       f"{time.strftime('%H:%M:%S', time.gmtime(back_at))})",
                    f"its last_at stays {parts[back]['last_at'][11:23]}: mcmon writes "
                    "participants when a new node joins, not when one takes part again, "
                    "nor at the resolution")
        else:
            tl.say(s, f"{back} took part again: last_at {parts[back]['last_at'][11:23]}")
    types = k.types(storm)
    if "rebalance" not in types:
        raise Failed(f"no rebalance on #{storm}'s timeline: {types}")
    check_remedy_layer(k, tl, s, storm, "rebalance", "proxy", c1["proxies"])
    # Shed from the busiest only: the proxy the connections piled on, not the other.
    shed = {n["node"]: n.get("shed") for e in k.dep.events(storm) if e["type"] == "rebalance"
            for n in e["body"].get("nodes", [])}
    if not shed or None in shed.values():
        tl.skip(s, "the rebalance shed from the busiest proxy only",
                "mctl's rebalance event says nothing shed per proxy")
    elif not shed.get(rebalanced) or any(v for n, v in shed.items() if n != rebalanced):
        raise Failed(f"the rebalance shed {shed}: not from {rebalanced} only")
    else:
        tl.say(s, f"the rebalance shed {shed[rebalanced]} connections from {rebalanced}, "
                  f"none elsewhere ({closed} of the {POOL} piled there among them)")
    tl.say(s, f"timeline of #{storm}: {', '.join(dict.fromkeys(types))}; "
              f"proxies involved: {', '.join(sorted(involved))}")
    tl.say(s, f"acme's clients so far: {k.clients.said()}")


def scenario_c1(k, tl):
    """2 and 4: two slow backends of c1; mcalert and mcstatus killed mid-way."""
    s = "2 C1"
    alice, bob = k.engineers["alice"], k.engineers["bob"]
    c1 = CLUSTERS["c1"]
    slow = c1["backends"][:2]
    before = k.last_id()
    inc = latency_fault(k, tl, s, "C1", slow, "delay 0.5 5ms 20ms",
                        f"50% of responses by 5-20 ms on {', '.join(slow)}")
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
    # Due WAIT1 after step 1's first page: a severity rise pages the current step
    # again but keeps its deadline (docs/alerter.md).
    page = bob.wait_page(inc, timeout=WAIT1 + 40)
    rows = k.pages(inc)
    first1 = min(p["sent_at"] for p in rows if p["step"] == 1)
    due = first1 / 1000 + WAIT1
    tl.say(s, f"bob paged for #{inc} ({sum(p['step'] == 1 for p in rows)} step-1 "
              f"page(s) before)")
    tl.step("C1: escalate (bob's page − its deadline)", page["wall"] - due)
    ack_by_chat(k, tl, s, "bob", inc)

    # The remedy: customers first, cached data second (the seed's lesson) — acme's
    # data on c1's backends is flushed so that its clients stop waiting on the slow
    # ones' hot keys; recorded on the incident.
    out = k.mctl("--yes", "flush", "--cluster", "c1", "--tenant", "acme", "--incident", str(inc))
    tl.say(s, f"mctl flush --cluster c1 --tenant acme --incident {inc}: "
              f"{out.strip().splitlines()[-1] if out.strip() else 'done'}")

    msg = "We identified slow cache servers and are replacing them."
    k.mctl("update", str(inc), "--status", "identified", "--message", msg)
    # Timed from when the update is in the log (mctl has returned): the bound is
    # mcstatus's, not how long mctl takes to start on a loaded machine.
    t_upd = time.monotonic()
    tl.say(s, f"public update posted on #{inc} (mctl update)")
    wait("the update on the status page", lambda: msg in k.index(), 10, step=0.02)
    tl.step("C1: public update on the page", time.monotonic() - t_upd)
    comp = k.components()
    if comp.get("c1") == "operational" or comp.get("c2") != "operational":
        raise Failed(f"the page does not show c1 degraded and c2 operational: {comp}")
    tl.say(s, f"status page: c1 {comp['c1']}, c2 {comp['c2']}")
    wait("the update at the webhook", lambda: (str(inc), "incident.updated") in
         k.receiver.seen(), 10)
    tl.say(s, "the webhook sink has the update")

    k.delay(slow, "off")
    t_off, t_off_wall = time.monotonic(), time.time()
    tl.say(s, "fault removed (the slow backends replaced)")
    wait("every C1 incident resolved", lambda: all(
        r["state"] == "resolved" for r in k.incidents(None, before)), 40)
    resolved_early(k.incidents(None, before), t_off_wall)
    tl.say(s, "resolved by mcmon")
    tl.step("C1: resolve", time.monotonic() - t_off)
    t_res = time.monotonic()
    wait("the page operational", lambda: (k.summary() or {}).get("status", {})
         .get("indicator") == "none", 10)
    tl.step("C1: page operational", time.monotonic() - t_res)
    tl.say(s, "status page: All Systems Operational")

    # Two slow backends are one incident, naming them (and not the healthy one).
    mine = k.incidents(None, before)
    if len(mine) != 1:
        raise Failed(f"{len(mine)} incidents for two slow backends: " + ", ".join(
            f"#{r['id']} {r['kind']} {r['cluster']}/{r['node'] or '-'}" for r in mine))
    involved = k.involved(inc)
    if not set(slow) <= involved or c1["backends"][2] in involved:
        raise Failed(f"#{inc}'s evidence names {sorted(involved)}, not the slow {slow}")
    tl.say(s, f"one incident; its evidence names {', '.join(sorted(involved))}")
    # The proxies' view (docs/monitor.md): the slow backends, not the healthy one, and
    # the proxies that see them slow.
    last = [b for b in k.evidence(inc) if "extent" in b]
    if not last:
        tl.skip(s, "the evidence names the proxies that see the slow backends",
                "mcmon's tail evidence has no extent, backends, proxies_seeing yet")
    else:
        ev = last[-1]
        if ev["extent"] != "backends" or set(ev.get("backends", [])) != set(slow) or \
                not set(c1["proxies"]) <= set(ev.get("proxies_seeing", [])):
            raise Failed(f"#{inc}: extent {ev['extent']!r}, backends {ev.get('backends')}, "
                         f"seen slow by {ev.get('proxies_seeing')}: not {slow} seen by "
                         f"{c1['proxies']}")
        tl.say(s, f"#{inc} says: {ev.get('statement')}")
    types = k.types(inc)
    if "flush" not in types or "public_update" not in types:
        raise Failed(f"#{inc}'s timeline lacks the remedy or the update: {types}")
    check_remedy_layer(k, tl, s, inc, "flush", "backend", c1["backends"])
    tl.say(s, f"timeline of #{inc}: {', '.join(dict.fromkeys(types))}")
    tl.say(s, f"acme's clients so far: {k.clients.said()}")

    # Nothing lost, nothing duplicated across the kill. Every page the log says was
    # sent reached its engineer, once (a severity rise pages again on purpose: that is
    # a second row, not a duplicate).
    pages = k.pages(inc)
    for who, e in (("alice", alice), ("bob", bob)):
        rows = [p for p in pages if p["target"] == jid(who)]
        got = e.pages(inc)
        if len(got) != len(rows):
            raise Failed(f"#{inc}: the log sent {len(rows)} pages to {who}, "
                         f"{who} received {len(got)}")
    if any(not p["delivered_at"] for p in pages):
        raise Failed(f"#{inc}: a page was never delivered: {pages}")
    wait("every public change at the webhook", lambda: k.receiver.seen() >= {
        (str(inc), t) for t in ("incident.created", "incident.updated", "incident.resolved")},
        15)
    ids = [e["event_id"] for e in k.receiver.events]
    firsts = list(dict.fromkeys(ids))
    if firsts != sorted(firsts) or k.receiver.bad:
        raise Failed(f"webhook out of order or unsigned: {ids}, {k.receiver.bad} bad")
    dups = len(ids) - len(firsts)
    tl.say("4 kill", f"nothing lost: {len(pages)} pages sent, each received once; "
                     f"{len(firsts)} public changes at the webhook in order"
                     f"{f', {dups} repeated with the same event id' if dups else ''}")


def scenario_xmpp_down(k, tl):
    s = "3 xmpp"
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
    # Once the acknowledgement is in the log nothing more is paged for it.
    wait(f"#{inc} acknowledged", lambda: k.incident(inc)["state"] != "open", 10)
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


def settle(k, tl, name):
    """After a failed scenario: what it left would fail the next one too ("an incident
    open before the fault"), so each scenario is judged on its own. The faults off, its
    open incidents resolved with mctl, and mcmon's episodes back to ok (an incident
    resolved while its condition lasts stays resolved and a new fault would not open
    another: only a worsening does)."""
    for b in k.controls:
        k.delay([b], "off")
    for i in k.incidents():
        if i["state"] != "resolved":
            k.dep.mctl("resolve", str(i["id"]), "--message", f"drill: scenario {name} failed")
            tl.say(name, f"#{i['id']} {i['kind']} left open: resolved with mctl")
    try:
        wait("mcmon's episodes back to ok", lambda: all(
            c.get("tail") == "ok" and c.get("storm") == "ok"
            for c in (k.dep.view() or {}).get("clusters", [{}])), 60)
    except Failed as e:
        tl.say(name, str(e))


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
    scenarios = [("1", "US-East", scenario_us_east), ("2+4", "C1, daemons killed", scenario_c1),
                 ("3", "XMPP down", scenario_xmpp_down),
                 ("5", "heartbeat", scenario_monitor_stopped)]
    passed = []
    try:
        k.start()
        tl.say("setup", "clusters " + "; ".join(
            f"{c}: proxies {', '.join(v['proxies'])}, backends {', '.join(v['backends'])}"
            for c, v in CLUSTERS.items()))
        tl.say("setup", f"mcmon, Prosody, mcalert, mcstatus on "
                        f"http://127.0.0.1:{k.status_port}/")
        # The detectors learn a quiet baseline first: the storm detector over
        # storm_warmup polls, the tail detector over tail_warmup once both its windows
        # hold enough probes (about a second after every node's short window does).
        # A fault injected earlier is still caught, only once the warm-up is over.
        wait("every node probed", lambda: all(
            n.get("probes", 0) >= int(FAST["tail_min_samples"])
            for n in (k.dep.view() or {}).get("nodes", [{}])), 20)
        time.sleep(float(TAIL_WARMUP.rstrip("s")) + 2)
        for name, _, fn in scenarios:
            try:
                fn(k, tl)
                passed.append(name)
            except Failed as e:
                tl.failures.append(f"scenario {name}: {e}")
                tl.say(name, f"FAILED: {e}")
                settle(k, tl, name)
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
        mark = "" if within(name, secs) else "  OUT OF BOUND"
        print(f"  {name:44s} {secs:6.1f}s  ({bound_text(name)}){mark}")
    for name, label, _ in scenarios:
        ok = name in passed and not any(f.startswith(f"scenario {name}") for f in tl.failures)
        skips = [c for sc, c, _ in tl.skipped if sc.split()[0] == name.split("+")[0]]
        # The line ends in passed or FAILED: scripts/check counts them so.
        skipped = f", {len(skips)} check{'s' if len(skips) != 1 else ''} SKIPPED" if skips else ""
        print(f"drill: scenario {name} ({label}{skipped}): {'passed' if ok else 'FAILED'}")
    if tl.skipped:
        print("\ndrill: checks SKIPPED (not passed: the toolkit does not provide them yet)")
        for sc, check, missing in tl.skipped:
            print(f"  - [{sc}] {check}: {missing}")
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
