"""Helpers for the alerter's tests and benchmark: a private Prosody on loopback, slixmpp
clients playing the engineers, mcalert's configuration, and reading the incident log.

Prosody runs from a configuration in a temporary directory on a free port (see
shared notes on peers), with a shared roster (mod_groups) so that the pager sees every
engineer's presence, offline storage off (a message to someone offline bounces), and a
MUC service for the team room. Every process goes through conftest's `procs`, which
stops it by pid.
"""
import asyncio
import json
import os
import sqlite3
import subprocess
import threading
import time

from conftest import binary, free_port, wait_port

DOMAIN = "localhost"
MUC = "conference.localhost"
PROSODY = "/usr/bin/prosody"
PROSODYCTL = "/usr/bin/prosodyctl"


def jid(user):
    return f"{user}@{DOMAIN}"


def password(user):
    return f"pw-{user}"


class Prosody:
    """A private Prosody: start(), stop(), restart() (same port, same accounts)."""

    def __init__(self, procs, directory, users, group=None, tls=False):
        self.procs = procs
        self.dir = str(directory)
        self.users = list(users)
        self.group = list(group if group is not None else users)
        self.port = free_port()
        self.proc = None
        os.makedirs(os.path.join(self.dir, "data"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "certs"), exist_ok=True)
        self.config = os.path.join(self.dir, "prosody.cfg.lua")
        self.cert = os.path.join(self.dir, "certs", "localhost.crt")
        if tls:
            # A self-signed certificate for the domain: trusted only through tls_ca.
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                            "-keyout", os.path.join(self.dir, "certs", "localhost.key"),
                            "-out", self.cert, "-days", "2", "-subj", f"/CN={DOMAIN}",
                            "-addext", f"subjectAltName=DNS:{DOMAIN}"],
                           check=True, timeout=60, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            tls_lines = (f'modules_enabled = {{ "roster"; "saslauth"; "disco"; "ping"; "groups";'
                         f' "posix"; "tls" }}\n'
                         f'modules_disabled = {{ "s2s"; "offline" }}\n'
                         f'c2s_require_encryption = true\n'
                         f'ssl = {{ certificate = "{self.cert}"; '
                         f'key = "{self.dir}/certs/localhost.key"; }}\n')
        else:
            tls_lines = ('modules_enabled = { "roster"; "saslauth"; "disco"; "ping"; "groups";'
                         ' "posix" }\n'
                         'modules_disabled = { "s2s"; "tls"; "offline" }\n'
                         'c2s_require_encryption = false\n')
        with open(os.path.join(self.dir, "groups.txt"), "w") as f:
            f.write("[Oncall]\n" + "".join(jid(u) + "\n" for u in self.group))
        with open(self.config, "w") as f:
            f.write(f"""
run_as_root = true
pidfile = "{self.dir}/prosody.pid"
data_path = "{self.dir}/data"
certificates = "{self.dir}/certs"
interfaces = {{ "127.0.0.1" }}
c2s_ports = {{ {self.port} }}
component_ports = {{ }}
http_ports = {{ }}
https_ports = {{ }}
{tls_lines}allow_unencrypted_plain_auth = true
authentication = "internal_hashed"
groups_file = "{self.dir}/groups.txt"
log = {{ info = "{self.dir}/prosody.log" }}
VirtualHost "{DOMAIN}"
Component "{MUC}" "muc"
  muc_room_locking = false
""")
        for u in self.users:
            subprocess.run([PROSODYCTL, "--config", self.config, "register", u, DOMAIN,
                            password(u)], check=True, timeout=30,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self):
        self.proc = self.procs.start([PROSODY, "--config", self.config, "-F"], name="prosody")
        wait_port(self.port, proc=self.proc, timeout=20)

    def stop(self):
        if self.proc is not None:
            self.procs.stop(self.proc)
            self.proc = None

    def restart(self):
        self.stop()
        self.start()


class Engineer:
    """A slixmpp client in its own thread: keeps every message it receives, sends
    delivery receipts (XEP-0184) unless told not to, can send chat and join rooms."""

    def __init__(self, user, port, receipts=True, room=None):
        import logging
        # Without the optional C stringprep slixmpp warns once on import; not ours.
        logging.getLogger("slixmpp.stringprep").setLevel(logging.ERROR)
        import slixmpp  # Debian's python3-slixmpp

        self.user = user
        self.jid = jid(user)
        self.port = port
        self.messages = []          # dicts: body, id, from, type, at (monotonic)
        self.lock = threading.Lock()
        self.online = threading.Event()
        self.room = room
        self.loop = asyncio.new_event_loop()
        self.client = slixmpp.ClientXMPP(self.jid, password(user))
        self.client.loop = self.loop
        self.client.register_plugin("xep_0030")
        self.client.register_plugin("xep_0184")
        self.client.register_plugin("xep_0045")
        self.client.register_plugin("xep_0199")
        self.client.register_plugin("xep_0333")
        self.client.plugin["xep_0184"].auto_ack = receipts
        self.client.add_event_handler("session_start", self._start)
        self.client.add_event_handler("message", self._message)
        self.client.add_event_handler("groupchat_message", self._groupchat)
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _start(self, _event):
        self.client.send_presence()
        await self.client.get_roster()
        if self.room:
            await self.client.plugin["xep_0045"].join_muc_wait(self.room, self.user,
                                                               maxstanzas=0, timeout=10)
        self.online.set()

    def _record(self, msg, kind):
        if not msg["body"]:
            return
        with self.lock:
            self.messages.append({"body": msg["body"], "id": msg["id"], "from": str(msg["from"]),
                                  "type": kind, "at": time.monotonic(), "wall": time.time()})

    def _message(self, msg):
        if msg["type"] in ("chat", "normal"):
            self._record(msg, "chat")

    def _groupchat(self, msg):
        if msg["mucnick"] != self.user:
            self._record(msg, "groupchat")

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.client.connect(address=("127.0.0.1", self.port), use_ssl=False,
                            force_starttls=False, disable_starttls=True)
        self.loop.run_forever()
        # Let slixmpp's own tasks end before the loop closes, quietly.
        pending = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for t in pending:
            t.cancel()
        if pending:
            self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    def start(self, timeout=15):
        self.thread.start()
        if not self.online.wait(timeout):
            raise TimeoutError(f"{self.jid} did not come online")
        return self

    def ping(self, to, timeout=5.0):
        """An XEP-0199 ping to a full JID; the round trip in seconds (raises if none)."""
        fut = asyncio.run_coroutine_threadsafe(
            self.client.plugin["xep_0199"].ping(jid=to, timeout=timeout), self.loop)
        return fut.result(timeout + 2)

    def mark_displayed(self, message):
        """Sends a chat marker (XEP-0333) saying the message was shown."""
        self.loop.call_soon_threadsafe(
            lambda: self.client.plugin["xep_0333"].send_marker(message["from"], message["id"],
                                                               "displayed"))

    def say(self, to, body):
        self.loop.call_soon_threadsafe(
            lambda: self.client.send_message(mto=to, mbody=body, mtype="chat"))

    def stop(self):
        if not self.thread.is_alive():
            return
        done = threading.Event()

        def _disconnect():
            self.client.disconnect(wait=0.5)
            self.loop.call_later(1.0, self.loop.stop)
            done.set()

        self.loop.call_soon_threadsafe(_disconnect)
        done.wait(5)
        self.thread.join(timeout=5)

    def pages(self, incident=None):
        """Messages that are pages ("[mcops] #N ..." with a step line)."""
        with self.lock:
            out = [m for m in self.messages if m["body"].startswith("[mcops] #")
                   and "Runbook:" in m["body"]]
        if incident is not None:
            out = [m for m in out if m["body"].startswith(f"[mcops] #{incident} ")]
        return out

    def texts(self):
        with self.lock:
            return [m["body"] for m in self.messages]

    def wait_for(self, predicate, timeout=10.0, what="a message"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                for m in self.messages:
                    if predicate(m):
                        return m
            time.sleep(0.02)
        raise TimeoutError(f"{self.jid}: no {what} within {timeout}s; got {self.texts()}")

    def wait_page(self, incident, timeout=10.0, after=0):
        return self.wait_for(lambda m: m["body"].startswith(f"[mcops] #{incident} ")
                             and "Runbook:" in m["body"] and m["at"] > after,
                             timeout, f"page for #{incident}")

    def wait_text(self, fragment, timeout=10.0, after=0):
        return self.wait_for(lambda m: fragment in m["body"] and m["at"] > after, timeout,
                             f"message with {fragment!r}")


def write_config(path, *, port, db, steps, waits=None, repeat=0, final=None,
                 ack_timeout="0", authorized=None, extra_alerter="", members=None,
                 extra="", tls="off"):
    """An mcops.conf for mcalert against the private Prosody on port."""
    pwfile = os.path.join(os.path.dirname(path), "mcalert.pw")
    with open(pwfile, "w") as f:
        f.write(password("mcalert") + "\n")
    lines = ["[alerter]", f"jid = {jid('mcalert')}", f"password_file = {pwfile}",
             f"server = 127.0.0.1:{port}", f"tls = {tls}", f"db = {db}",
             f"ack_timeout = {ack_timeout}", "reconnect_min = 200ms", "reconnect_max = 1s",
             "ping_interval = 2s", "ping_timeout = 2s", "late_after = 1s"]
    if authorized is not None:
        lines.append("authorized = " + ", ".join(jid(u) for u in authorized))
    lines += [x for x in extra_alerter.splitlines() if x.strip()]
    lines += ["", "[oncall]", "members = " + ", ".join(jid(u) for u in (members or ["alice"])),
              "shift = 1d", "handoff = 2024-01-01 00:00", "", "[escalation]"]
    waits = waits or ["2s"] * len(steps)
    for i, (s, w) in enumerate(zip(steps, waits), 1):
        lines += [f"step{i} = {s}", f"wait{i} = {w}"]
    lines.append(f"repeat = {repeat}")
    if final:
        lines.append(f"final = {final}")
    lines.append(extra)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


class Log:
    """Reads the incident log directly (SQLite, read-only queries), and opens
    incidents with mctl as an operator would."""

    def __init__(self, db):
        self.db = db

    def q(self, sql, *args):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def mctl(self, *args, check=True):
        r = subprocess.run([binary("mctl"), "--db", self.db, *args], capture_output=True,
                           text=True, timeout=30)
        if check and r.returncode != 0:
            raise RuntimeError(f"mctl {args}: {r.returncode} {r.stderr}")
        return r

    def open(self, title="Connection storm on c1", severity="major"):
        r = self.mctl("--json", "open", "--title", title, "--severity", severity,
                      "--cluster", "c1")
        return json.loads(r.stdout)["id"]

    def pages(self, incident):
        return self.q("SELECT id, step, target, sent_at, delivered_at, failed_at, detail,"
                      " next_deadline FROM pages WHERE incident_id = ? ORDER BY id", incident)

    def events(self, incident=None, type_=None):
        sql = "SELECT id, at, incident_id, actor, type, body_json FROM events WHERE 1=1"
        args = []
        if incident is not None:
            sql += " AND incident_id = ?"
            args.append(incident)
        if type_ is not None:
            sql += " AND type = ?"
            args.append(type_)
        return self.q(sql + " ORDER BY id", *args)

    def state(self, incident):
        return self.q("SELECT state, acked_by FROM incidents WHERE id = ?", incident)[0]

    def wait(self, predicate, timeout=10.0, what="a condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            v = predicate()
            if v:
                return v
            time.sleep(0.05)
        raise TimeoutError(f"no {what} within {timeout}s")


def start_mcalert(procs, config, name="mcalert"):
    return procs.start([binary("mcalert"), "-f", config], name=name)


def wait_log_line(procs, proc, fragment, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fragment in procs.log(proc):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"mcalert exited ({proc.returncode}): {procs.log(proc)}")
        time.sleep(0.05)
    raise TimeoutError(f"no {fragment!r} in the log within {timeout}s: {procs.log(proc)}")
