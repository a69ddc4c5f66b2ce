"""Benchmark of the status publisher (mcstatus):

  1. the size of index.html, gzipped, with 10 components and 90 days of history
     (bench/status_history writes the history; target <= 14 KB, one first round trip);
  2. the time to render the whole site once (mctl statuspage render) with that history;
  3. the time from a public change committed to the log (mctl update) to the page on
     disk showing it (the file's mtime minus the event's time; target < 1 s), median of
     20, with mcstatus's default poll of 100 ms, on the same 90-day history;
  4. in the same run, the time from the change to each sink's receipt at a local HTTP
     receiver: a chat webhook, a signed webhook, Mastodon, and the PUT of index.html.

Bounded: 20 changes, each waited for at most 10 s. Every process is stopped by pid.
"""
import gzip
import http.server
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
BIN = os.environ.get("MCOPS_BIN", os.path.join(ROOT, "bin"))
TOOLS = os.environ.get("MCOPS_TOOLS", os.path.join(ROOT, "build", "rel"))
CHANGES = 20
GZIP_TARGET = 14 * 1024
LATENCY_TARGET_MS = 1000


def config(d, clusters):
    conf = os.path.join(d, "mcops.conf")
    with open(conf, "w") as f:
        f.write(f"[log]\npath = {d}/mcops.db\n[statuspage]\ndir = {d}/site\n"
                "name = Example Cache\nurl = https://status.example.com/\n")
        for i in range(1, clusters + 1):
            f.write(f"[cluster c{i}]\ntitle = Region {i} cache\n")
    return conf


class Receiver:
    """Records when each request arrived (wall clock, like the log's times)."""

    def __init__(self):
        self.got = []
        self.lock = threading.Lock()
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with outer.lock:
                    outer.got.append((time.time() * 1000, self.path, body))
                out = b'{"id":"1"}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)
            do_POST = do_PUT = do_PATCH = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def first(self, prefix, needle):
        with self.lock:
            for at, path, body in self.got:
                if path.startswith(prefix) and needle in body:
                    return at
        return None


def mctl(conf, *args):
    r = subprocess.run([os.path.join(BIN, "mctl"), "-f", conf, *args], capture_output=True,
                       text=True, timeout=60, check=True)
    return r.stdout


def main():
    d = tempfile.mkdtemp(prefix="bench_statuspage.")
    proc = None
    try:
        conf = config(d, 10)
        subprocess.run([os.path.join(TOOLS, "bench", "status_history"), f"{d}/mcops.db", "10",
                        "90"], check=True, timeout=120)
        t0 = time.monotonic()
        out = mctl(conf, "statuspage", "render", f"{d}/preview")
        render_ms = (time.monotonic() - t0) * 1000
        with open(f"{d}/preview/index.html", "rb") as f:
            html = f.read()
        gz = len(gzip.compress(html, 9))
        print(f"history: {out.strip()}")
        print(f"index.html with 10 components and 90 days: {len(html)} bytes, "
              f"{gz} bytes gzipped (target <= {GZIP_TARGET}): "
              f"{'PASS' if gz <= GZIP_TARGET else 'MISS'}")
        print(f"full render (mctl statuspage render, all files): {render_ms:.0f} ms")

        rx = Receiver()
        with open(f"{d}/key", "w") as f:
            f.write("bench-key\n")
        with open(conf, "a") as f:
            for name, typ, path in (("chat", "chat", "/chat"), ("hook", "webhook", "/hook"),
                                    ("masto", "mastodon", "/m"), ("mirror", "put", "/put/")):
                secret = f"secret_file = {d}/key\n" if typ in ("webhook", "mastodon") else ""
                f.write(f"[sink {name}]\ntype = {typ}\nurl = http://127.0.0.1:{rx.port}{path}\n"
                        f"rate = 50\n{secret}")
        # An open incident to post public updates to.
        inc = json.loads(mctl(conf, "--json", "open", "--title", "bench", "--severity", "minor",
                              "--cluster", "c1"))["id"]
        proc = subprocess.Popen([os.path.join(BIN, "mcstatus"), "-f", conf],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        index = f"{d}/site/index.html"
        deadline = time.monotonic() + 30
        while not os.path.exists(index) and time.monotonic() < deadline:
            time.sleep(0.01)
        db = sqlite3.connect(f"file:{d}/mcops.db?mode=ro", uri=True)
        lat = []
        sinks = {"chat": [], "hook": [], "masto": [], "mirror": []}
        prefixes = {"chat": "/chat", "hook": "/hook", "masto": "/m/", "mirror": "/put/index.html"}
        for i in range(CHANGES):
            msg = f"Update number {i} of the benchmark."
            ev = json.loads(mctl(conf, "--json", "update", str(inc), "--status", "identified",
                                 "--message", msg))["event_id"]
            at = db.execute("SELECT at FROM events WHERE id = ?", (ev,)).fetchone()[0]
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    with open(index, "rb") as f:
                        if msg.encode() in f.read():
                            lat.append(os.stat(index).st_mtime_ns / 1e6 - at)
                            break
                except OSError:
                    pass
                time.sleep(0.001)
            else:
                print(f"change {i}: not on the page after 10 s")
            for name, prefix in prefixes.items():
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline:
                    t = rx.first(prefix, msg.encode())
                    if t is not None:
                        sinks[name].append(t - at)
                        break
                    time.sleep(0.001)
            time.sleep(0.05 + (i % 5) * 0.023)  # land at different points of the poll
        db.close()
        if lat:
            lat.sort()
            med = statistics.median(lat)
            print(f"public change -> page on disk: median {med:.0f} ms, p90 "
                  f"{lat[int(len(lat) * 0.9) - 1]:.0f} ms, max {lat[-1]:.0f} ms over {len(lat)} "
                  f"changes (poll 100 ms; target < {LATENCY_TARGET_MS} ms): "
                  f"{'PASS' if len(lat) == CHANGES and lat[-1] < LATENCY_TARGET_MS else 'MISS'}")
        for name, v in sinks.items():
            if v:
                v.sort()
                print(f"public change -> {name} sink receipt: median {statistics.median(v):.0f} ms, "
                      f"max {v[-1]:.0f} ms over {len(v)} changes")
            else:
                print(f"public change -> {name} sink receipt: nothing received")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
