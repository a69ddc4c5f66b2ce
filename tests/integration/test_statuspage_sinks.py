"""mcstatus's sinks: every public change pushed through the log's outbox to a chat
webhook, a signed webhook, a hosted Statuspage-style API, Mastodon, and a second origin
by HTTP PUT (a real nginx with WebDAV) — exact requests, order, retries, 429 and
Retry-After, and nothing lost or duplicated across a SIGKILL."""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest

from conftest import free_port, wait_port
from sptest import SECRETS, mctl, open_incident, start, wait_for, write_config

WEBHOOK_KEY = "hook-key-0123456789"
SP_KEY = "statuspage-oauth-key"
MASTODON_TOKEN = "mastodon-token-abc"


class Receiver:
    """A local HTTP server that records every request and answers by a rule."""

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        self.rule = lambda req: (200, {}, b"ok")
        self.hold = None  # a threading.Event a request waits on before answering
        self.next_id = 100
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                req = {"method": self.command, "path": self.path,
                       "headers": {k.lower(): v for k, v in self.headers.items()},
                       "body": body, "at": time.monotonic()}
                with outer.lock:
                    outer.requests.append(req)
                if outer.hold is not None:
                    outer.hold.wait(30)
                status, headers, out = outer.rule(req)
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_POST = do_PATCH = do_PUT = handle_any

        self.port = free_port()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def got(self, prefix):
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(prefix)]

    def stop(self):
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def sink_config(tmp_path, rx, only=None, retry="retry_base = 100ms\nretry_max = 1s\n"):
    (tmp_path / "hook.key").write_text(WEBHOOK_KEY + "\n")
    (tmp_path / "sp.key").write_text(SP_KEY + "\n")
    (tmp_path / "m.token").write_text(MASTODON_TOKEN + "\n")
    sinks = {
        "chat": f"[sink chat]\ntype = chat\nurl = {rx.url('/chat')}\nrate = 50\n{retry}",
        "hook": f"[sink hook]\ntype = webhook\nurl = {rx.url('/hook')}\n"
                f"secret_file = {tmp_path}/hook.key\nrate = 50\n{retry}",
        "sp": f"[sink sp]\ntype = statuspage\nurl = {rx.url('/sp/v1')}\n"
              f"secret_file = {tmp_path}/sp.key\npage_id = PG1\ncomponents = c1:RC1 c2:RC2\n"
              f"rate = 50\n{retry}",
        "masto": f"[sink masto]\ntype = mastodon\nurl = {rx.url('/m')}\n"
                 f"secret_file = {tmp_path}/m.token\nrate = 50\n{retry}",
    }
    return "".join(v for k, v in sinks.items() if only is None or k in only)


def answer_ids(rx):
    """Statuspage and Mastodon answer with ids; the rest with 200 ok."""
    def rule(req):
        if req["path"].startswith("/sp/") and req["method"] == "POST":
            return 201, {"Content-Type": "application/json"}, b'{"id":"remote-inc-1"}'
        if req["path"].startswith("/m/"):
            with rx.lock:
                rx.next_id += 1
                n = rx.next_id
            return 200, {"Content-Type": "application/json"}, json.dumps({"id": str(n)}).encode()
        return 200, {}, b"ok"
    return rule


def test_every_sink_receives_exact_requests_in_order(procs, tmp_path, receiver):
    receiver.rule = answer_ids(receiver)
    conf, site, db = write_config(tmp_path, extra=sink_config(tmp_path, receiver))
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    inc = open_incident(db, "latency_tail", "c1", "minor")
    mctl(conf, "note", str(inc), f"internal-note-secret {SECRETS[0]}")
    wait_for(lambda: len(receiver.got("/hook")) == 1, what="the opening push")
    mctl(conf, "update", str(inc), "--status", "identified", "--message", "A bad route.")
    wait_for(lambda: len(receiver.got("/hook")) == 2, what="the update push")
    mctl(conf, "resolve", str(inc))
    wait_for(lambda: len(receiver.got("/hook")) == 3 and len(receiver.got("/m/")) == 3 and
             len(receiver.got("/chat")) == 3 and len(receiver.got("/sp/")) == 6,
             what="every push of every sink")

    for r in receiver.requests:
        body = r["body"].decode()
        for s in SECRETS:
            assert s not in body, f"{s} leaked to {r['path']}"

    # chat: Slack/Mattermost {"text"}.
    texts = [json.loads(r["body"])["text"] for r in receiver.got("/chat")]
    assert [r["method"] for r in receiver.got("/chat")] == ["POST"] * 3
    assert texts[0].startswith("Minor Service Outage: Elevated latency in US-East C1 - "
                               "Investigating: We are investigating elevated latency")
    assert texts[0].endswith("https://status.example.com/incidents/%d.html" % inc)
    assert "Identified: A bad route." in texts[1]
    assert texts[2].startswith("Resolved: ")

    # webhook: our JSON, signed over timestamp + "." + body, a stable event id.
    hooks = receiver.got("/hook")
    types = []
    for r in hooks:
        h = r["headers"]
        assert h["content-type"] == "application/json"
        expect = hmac.new(WEBHOOK_KEY.encode(), h["x-mcops-timestamp"].encode() + b"." + r["body"],
                          hashlib.sha256).hexdigest()
        assert h["x-mcops-signature"] == "sha256=" + expect
        assert abs(int(h["x-mcops-timestamp"]) - time.time()) < 120
        p = json.loads(r["body"])
        assert h["x-mcops-event"] == str(p["event_id"])
        assert h["idempotency-key"] == f"mcops-hook-{p['event_id']}"
        assert set(p) == {"event_id", "type", "at", "page", "indicator", "description",
                          "incident", "update", "components", "text"}
        types.append(p["type"])
        assert p["incident"]["id"] == str(inc)
    assert types == ["incident.created", "incident.updated", "incident.resolved"]
    ids = [json.loads(r["body"])["event_id"] for r in hooks]
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [c["status"] for c in json.loads(hooks[0]["body"])["components"]] == \
        ["degraded_performance"]
    assert [c["status"] for c in json.loads(hooks[2]["body"])["components"]] == ["operational"]

    # statuspage: components (idempotent) then the incident; the remote id is reused.
    sp = [(r["method"], r["path"], json.loads(r["body"])) for r in receiver.got("/sp/")]
    assert all(r["headers"]["authorization"] == f"OAuth {SP_KEY}" for r in receiver.got("/sp/"))
    assert sp[0] == ("PATCH", "/sp/v1/pages/PG1/components/RC1",
                     {"component": {"status": "degraded_performance"}})
    assert sp[1][0:2] == ("POST", "/sp/v1/pages/PG1/incidents")
    assert sp[1][2]["incident"]["name"] == "Elevated latency in US-East C1"
    assert sp[1][2]["incident"]["status"] == "investigating"
    assert sp[1][2]["incident"]["impact_override"] == "minor"
    assert sp[1][2]["incident"]["components"] == {"RC1": "degraded_performance"}
    assert sp[3][0:2] == ("PATCH", "/sp/v1/pages/PG1/incidents/remote-inc-1")
    assert sp[3][2]["incident"]["status"] == "identified"
    assert sp[3][2]["incident"]["body"] == "A bad route."
    assert sp[4] == ("PATCH", "/sp/v1/pages/PG1/components/RC1",
                     {"component": {"status": "operational"}})
    assert sp[5][2]["incident"]["status"] == "resolved"

    # mastodon: a thread, each with its own Idempotency-Key.
    ms = receiver.got("/m/")
    assert all(r["path"] == "/m/api/v1/statuses" for r in ms)
    assert all(r["headers"]["authorization"] == f"Bearer {MASTODON_TOKEN}" for r in ms)
    keys = [r["headers"]["idempotency-key"] for r in ms]
    assert len(set(keys)) == 3 and all(k.startswith("mcops-masto-") for k in keys)
    bodies = [json.loads(r["body"]) for r in ms]
    assert "in_reply_to_id" not in bodies[0]
    assert bodies[1]["in_reply_to_id"] == "101" and bodies[2]["in_reply_to_id"] == "102"
    assert all(b["visibility"] == "public" and len(b["status"]) <= 500 for b in bodies)

    def queues():
        r = mctl(conf, "--json", "statuspage", "sinks")
        return {q["sink"]: q for q in json.loads(r.stdout)}
    # The last answers may still be on their way back to the log.
    q = wait_for(lambda: (lambda q: q if all(x["done"] == 3 for x in q.values()) else None)(
        queues()), what="every push recorded as done")
    assert set(q) == {"chat", "hook", "sp", "masto"}
    assert all(x["pending"] == 0 and x["gave_up"] == 0 and x["last_success"] for x in q.values())


def test_a_sink_down_for_many_updates_then_back_gets_each_once_in_order(
        procs, tmp_path, receiver):
    down = {"on": True}
    receiver.rule = lambda req: (503, {}, b"down") if down["on"] else (200, {}, b"ok")
    conf, site, db = write_config(tmp_path, extra=sink_config(tmp_path, receiver, only={"hook"}))
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    inc = open_incident(db, "connection_storm", "c1", "major")
    for i in range(20):
        mctl(conf, "update", str(inc), "--status", "identified", "--message", f"Update {i}.")
    wait_for(lambda: len(receiver.got("/hook")) >= 3, what="retries while down")
    # 21 waiting (the opening and 20 updates), and why.
    out = wait_for(lambda: (lambda o: o if " 21 " in o else None)(
        mctl(conf, "statuspage", "sinks").stdout), what="every update queued")
    assert "HTTP 503" in out
    down["on"] = False
    wait_for(lambda: sum(1 for x in receiver.got("/hook") if x.get("ok") or True) and
             len({json.loads(x["body"])["event_id"] for x in receiver.got("/hook")}) == 21 and
             json.loads(mctl(conf, "--json", "statuspage", "sinks").stdout)[0]["pending"] == 0,
             timeout=30, what="every update delivered")
    delivered = []
    for x in receiver.got("/hook"):
        e = json.loads(x["body"])["event_id"]
        if not delivered or delivered[-1] != e:
            delivered.append(e)
    # Retries repeat the head only; once through, each event went once, in order.
    assert delivered == sorted(delivered) and len(delivered) == len(set(delivered)) == 21
    bodies = [json.loads(x["body"])["update"]["body"] for x in receiver.got("/hook")]
    assert [b for b in dict.fromkeys(bodies) if b.startswith("Update")] == \
        [f"Update {i}." for i in range(20)]


def test_a_sink_answering_429_is_left_alone_for_its_retry_after(procs, tmp_path, receiver):
    seen = []

    def rule(req):
        seen.append(req["at"])
        if len(seen) == 1:
            return 429, {"Retry-After": "2"}, b"slow down"
        return 200, {}, b"ok"
    receiver.rule = rule
    conf, site, db = write_config(tmp_path, extra=sink_config(tmp_path, receiver, only={"chat"}))
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    open_incident(db, "latency_tail", "c2", "minor")
    wait_for(lambda: len(seen) >= 2, timeout=15, what="the retry after 429")
    assert seen[1] - seen[0] >= 1.9, "no request before Retry-After ran out"
    assert len(seen) == 2


def test_mcstatus_killed_mid_push_loses_nothing_and_repeats_only_the_same_event(
        procs, tmp_path, receiver):
    receiver.rule = answer_ids(receiver)
    conf, site, db = write_config(tmp_path, extra=sink_config(
        tmp_path, receiver, only={"hook", "masto"}))
    p = start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    inc = open_incident(db, "node_down", "c1", "critical")
    wait_for(lambda: len(receiver.got("/hook")) == 1 and len(receiver.got("/m/")) == 1,
             what="the first push")
    receiver.hold = threading.Event()  # the next pushes hang in the remote
    mctl(conf, "update", str(inc), "--status", "identified", "--message", "Power failure.")
    wait_for(lambda: len(receiver.got("/hook")) == 2, what="a push in flight")
    procs.stop(p, sig=signal.SIGKILL)
    mctl(conf, "update", str(inc), "--status", "monitoring", "--message", "Power is back.")
    mctl(conf, "resolve", str(inc))
    receiver.hold.set()
    receiver.hold = None
    start(procs, conf, name="mcstatus-again")
    # The lease of the killed push runs out (timeout x requests + 5 s) before the retry.
    keys = lambda: {x["headers"]["idempotency-key"] for x in receiver.got("/m/")}  # noqa: E731
    wait_for(lambda: {json.loads(x["body"])["type"] for x in receiver.got("/hook")} >=
             {"incident.resolved"} and len(keys()) == 4, timeout=120,
             what="everything after the restart")
    events = [json.loads(x["body"])["event_id"] for x in receiver.got("/hook")]
    firsts = list(dict.fromkeys(events))
    assert firsts == sorted(firsts) and len(firsts) == 4  # opened, 2 updates, resolved
    dups = len(events) - len(firsts)
    assert dups <= 1 and (dups == 0 or events.count(firsts[1]) == 2)
    sent = [x["headers"]["idempotency-key"] for x in receiver.got("/m/")]
    assert len(set(sent)) == 4 and len(sent) - len(set(sent)) <= 1  # a repeat has its key


@pytest.mark.skipif(shutil.which("nginx") is None and not os.path.exists("/usr/sbin/nginx"),
                    reason="nginx is not installed (scripts/setup installs it)")
def test_a_real_nginx_with_webdav_receives_the_whole_site(procs, tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    root = tmp_path / "dav"
    (root / "status").mkdir(parents=True)
    for d in ("logs", "tmp"):
        (tmp_path / "nginx" / d).mkdir(parents=True)
    (tmp_path / "nginx" / "nginx.conf").write_text(f"""
daemon off;
worker_processes 1;
pid {tmp_path}/nginx/nginx.pid;
error_log {tmp_path}/nginx/logs/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {tmp_path}/nginx/logs/access.log;
    client_body_temp_path {tmp_path}/nginx/tmp/body;
    proxy_temp_path {tmp_path}/nginx/tmp/proxy;
    fastcgi_temp_path {tmp_path}/nginx/tmp/fastcgi;
    uwsgi_temp_path {tmp_path}/nginx/tmp/uwsgi;
    scgi_temp_path {tmp_path}/nginx/tmp/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /status/ {{
            dav_methods PUT;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            client_max_body_size 16m;
        }}
    }}
}}
""")
    ng = procs.start([nginx, "-p", str(tmp_path / "nginx"), "-c", str(tmp_path / "nginx" /
                                                                      "nginx.conf"),
                      "-g", "user root;"], name="nginx")
    wait_port(port, proc=ng)
    extra = (f"[sink mirror]\ntype = put\nurl = http://127.0.0.1:{port}/status/\nrate = 100\n"
             "retry_base = 100ms\nretry_max = 1s\n")
    conf, site, db = write_config(tmp_path, extra=extra)
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    inc = open_incident(db, "latency_tail", "c1", "minor")
    mctl(conf, "update", str(inc), "--status", "identified", "--message", "Mirrored.")

    def same():
        mine = {os.path.relpath(p, site): open(p, "rb").read()
                for p in (os.path.join(r, f) for r, _, fs in os.walk(site) for f in fs)}
        theirs = {os.path.relpath(p, root / "status"): open(p, "rb").read()
                  for p in (os.path.join(r, f) for r, _, fs in os.walk(root / "status")
                            for f in fs)}
        return b"Mirrored." in mine.get("index.html", b"") and mine == theirs
    wait_for(same, timeout=20, what="nginx's copy equal to the site")
    assert (root / "status" / "api" / "v2" / "summary.json").exists()
    assert (root / "status" / "incidents" / f"{inc}.html").exists()


def test_a_push_interrupted_by_a_reload_is_retried_not_given_up(procs, tmp_path, receiver):
    # max_attempts = 1: a push the remote refuses is given up at once, but one that
    # mcstatus itself abandoned (SIGHUP restarts the sinks' threads) never got an answer.
    receiver.rule = answer_ids(receiver)
    conf, site, db = write_config(tmp_path, extra=sink_config(
        tmp_path, receiver, only={"hook"},
        retry="retry_base = 100ms\nretry_max = 1s\nmax_attempts = 1\n"))
    p = start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    receiver.hold = threading.Event()  # the push hangs in the remote
    inc = open_incident(db, "latency_tail", "c1", "minor")
    wait_for(lambda: len(receiver.got("/hook")) == 1, what="a push in flight")
    os.kill(p.pid, signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in procs.log(p), what="the reload")
    receiver.hold.set()
    receiver.hold = None
    wait_for(lambda: len(receiver.got("/hook")) >= 2, timeout=15,
             what="the interrupted push sent again")
    q = wait_for(lambda: (lambda q: q if q["done"] == 1 else None)(
        json.loads(mctl(conf, "--json", "statuspage", "sinks").stdout)[0]),
        what="the push recorded as done")
    assert q["gave_up"] == 0 and q["pending"] == 0
    assert {json.loads(x["body"])["incident"]["id"] for x in receiver.got("/hook")} == {str(inc)}
    assert "gave up" not in procs.log(p)


def test_a_mirror_sends_the_front_page_and_the_api_first_then_the_rest(procs, tmp_path,
                                                                     receiver):
    """The first push after a start sends the whole site, one PUT per file at the sink's
    rate: the files a visitor or a status client reads first lead, in this order."""
    extra = (f"[sink mirror]\ntype = put\nurl = {receiver.url('/put/')}\nrate = 100\n"
             "retry_base = 100ms\nretry_max = 1s\n")
    conf, site, db = write_config(tmp_path, extra=extra)
    start(procs, conf)
    wait_for(lambda: os.path.exists(site / "index.html"), what="the first render")
    inc = open_incident(db, "latency_tail", "c1", "minor")
    wait_for(lambda: any(r["path"] == f"/put/incidents/{inc}.html"
                         for r in receiver.got("/put/")), timeout=20,
             what="the incident's page mirrored")
    paths = [r["path"][len("/put/"):] for r in receiver.got("/put/")]
    assert paths[:8] == ["index.html", "api/v2/status.json", "api/v2/summary.json",
                         "api/v2/incidents/unresolved.json", "api/v2/components.json",
                         "api/v2/scheduled-maintenances/active.json",
                         "api/v2/scheduled-maintenances/upcoming.json", "history.atom"], paths
    assert {r["method"] for r in receiver.got("/put/")} == {"PUT"}
