"""mcalert without a chat server: configuration checks, reload, and the fallback webhook
when the XMPP server stays unreachable (a real HTTP server on loopback stands in for the
webhook). No Prosody is needed: the XMPP port is one nobody listens on.
"""
import json
import signal
import time

from conftest import binary, free_port
from xmpptest import Log, jid, start_mcalert, wait_log_line, write_config


def test_pages_go_to_the_fallback_webhook_when_xmpp_stays_unreachable(tmp_path, procs, hook):
    db = str(tmp_path / "mcops.db")
    log = Log(db)
    log.mctl("incidents")
    cfg = write_config(str(tmp_path / "mcops.conf"), port=free_port(), db=db,
                       steps=["oncall", jid("bob")], waits=["30s", "30s"],
                       extra_alerter=f"fallback_url = http://127.0.0.1:{hook.server_port}/page\n"
                                     "fallback_after = 1s\nfallback_timeout = 2s")
    hook.status = 500  # the first attempts fail: nothing is recorded as sent
    p = start_mcalert(procs, cfg)
    wait_log_line(procs, p, "started:")
    t0 = time.monotonic()
    inc = log.open(title="Node down: n1")
    wait_log_line(procs, p, "the fallback webhook failed: HTTP 500", timeout=10)
    assert not log.events(inc, "page_fallback")
    hook.status = 200
    # Retried at the next sweep; a SIGHUP reload makes it look again at once.
    p.send_signal(signal.SIGHUP)
    log.wait(lambda: log.events(inc, "page_fallback"), timeout=10, what="a fallback page")
    at, _, payload = hook.posts[-1]
    assert at - t0 >= 0.9  # not before fallback_after
    assert payload["incident"] == inc and payload["target"] == jid("alice")
    assert payload["text"].startswith(f"[mcops] #{inc} MAJOR: Node down: n1")
    rec = json.loads(log.events(inc, "page_fallback")[0][5])
    assert rec["status"] == 200 and rec["target"] == jid("alice")
    # Abuse: the same page is never posted twice.
    n = len(hook.posts)
    p.send_signal(signal.SIGHUP)
    time.sleep(1.5)
    assert len([x for x in hook.posts[n:] if x[2]["page_id"] == payload["page_id"]]) == 0


def test_a_configuration_check_reports_every_error_with_file_and_line(tmp_path):
    import subprocess

    good = write_config(str(tmp_path / "good.conf"), port=5222, db=str(tmp_path / "x.db"),
                        steps=["oncall"])
    r = subprocess.run([binary("mcalert"), "-n", "-f", good], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 0 and "configuration ok" in r.stdout
    bad = tmp_path / "bad.conf"
    bad.write_text("[alerter]\n"
                   "jid = not a jid\n"
                   "password_file = /nonexistent/pw\n"
                   "tls = maybe\n"
                   "colour = blue\n"
                   "[escalation]\n"
                   "step1 = oncall:nobody\n"
                   "repeat = -1\n")
    r = subprocess.run([binary("mcalert"), "-n", "-f", str(bad)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 2
    for fragment in (f"{bad}:2: jid: 'not a jid'", f"{bad}:3: password_file:",
                     f"{bad}:4: tls", f"{bad}:5: unknown key 'colour'",
                     f"{bad}:7: step1: there is no [oncall nobody] section", f"{bad}:8: repeat"):
        assert fragment in r.stderr, (fragment, r.stderr)
    # The secret's file name may show, never a secret.
    assert r.stderr.count("\n") >= 6


def test_a_reload_with_errors_keeps_the_running_configuration(tmp_path, procs):
    db = str(tmp_path / "mcops.db")
    cfg = write_config(str(tmp_path / "mcops.conf"), port=free_port(), db=db, steps=["oncall"])
    p = start_mcalert(procs, cfg)
    wait_log_line(procs, p, "started:")
    with open(cfg, "a") as f:
        f.write("[escalation]\nstep9 = nobody\n")
    p.send_signal(signal.SIGHUP)
    wait_log_line(procs, p, "the running configuration stays")
    assert p.poll() is None
    write_config(cfg, port=free_port(), db=db, steps=["oncall", jid("bob")])
    p.send_signal(signal.SIGHUP)
    wait_log_line(procs, p, "configuration reloaded")
    assert procs.stop(p) == 0
