"""mcalert's Alertmanager intake: who may post to it. An intake opens and resolves
incidents, and so pages people and turns the status page red: it takes a bearer token
(as Alertmanager's http_config authorization sends it) unless the operator wrote that
it is open and it listens on loopback only. No chat server is needed: the XMPP port is
one nobody listens on.
"""
import json
import subprocess
import urllib.error
import urllib.request

from conftest import binary, free_port, wait_port
from xmpptest import Log, start_mcalert, wait_log_line, write_config

TOKEN = "tok-3f9a1c7e5b2d4068a1b2c3d4e5f60718"


def post(port, payload, headers=None, path="/alertmanager"):
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST",
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read() or b"{}"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}"), dict(e.headers)


def health(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
        return json.loads(r.read())


def alert(status, fp="5e1d2c3b4a596877"):
    return {"version": "4", "status": status, "receiver": "mcops", "alerts": [{
        "status": status, "fingerprint": fp,
        "labels": {"alertname": "MemcacheDown", "severity": "critical", "cluster": "c1"},
        "annotations": {"summary": "c1 is not answering"},
        "startsAt": "2024-05-01T10:00:00Z"}]}


def config(tmp_path, intake_lines):
    db = str(tmp_path / "mcops.db")
    Log(db).mctl("incidents")  # creates the log
    return write_config(str(tmp_path / "mcops.conf"), port=free_port(), db=db,
                        steps=["oncall"], extra_alerter=intake_lines), Log(db)


def check(cfg):
    return subprocess.run([binary("mcalert"), "-n", "-f", cfg], capture_output=True,
                          text=True, timeout=20)


def test_an_intake_without_a_token_does_not_start(tmp_path, procs):
    port = free_port()
    cfg, _ = config(tmp_path, f"intake = 127.0.0.1:{port}")
    r = check(cfg)
    assert r.returncode == 2, r.stdout + r.stderr
    assert f"{cfg}:" in r.stderr and "intake: needs intake_token_file" in r.stderr, r.stderr
    p = start_mcalert(procs, cfg)
    assert p.wait(timeout=20) != 0
    assert "intake: needs intake_token_file" in procs.log(p)


def test_an_open_intake_must_be_said_and_listen_on_loopback(tmp_path, procs):
    port = free_port()
    # Open on a wildcard address: refused, whatever the operator says.
    cfg, _ = config(tmp_path, f"intake = 0.0.0.0:{port}\nintake_open = yes")
    r = check(cfg)
    assert r.returncode == 2 and "intake_open: '0.0.0.0' is not a loopback address" in r.stderr
    # Open and a token: one or the other.
    (tmp_path / "t").write_text(TOKEN + "\n")
    cfg, _ = config(tmp_path, f"intake = 127.0.0.1:{port}\nintake_open = yes\n"
                              f"intake_token_file = {tmp_path / 't'}")
    assert check(cfg).returncode == 2
    # Said, on loopback: it starts and takes a post without a token.
    cfg, log = config(tmp_path, f"intake = 127.0.0.1:{port}\nintake_open = yes")
    assert check(cfg).returncode == 0
    p = start_mcalert(procs, cfg)
    wait_log_line(procs, p, "started:")
    wait_port(port)
    status, body, _ = post(port, alert("firing"))
    assert status == 200 and body["opened"] == 1
    assert len(log.q("SELECT id FROM incidents")) == 1


def test_a_post_without_the_right_bearer_token_changes_nothing(tmp_path, procs):
    port = free_port()
    token_file = tmp_path / "intake.token"
    token_file.write_text(TOKEN + "\n")
    cfg, log = config(tmp_path, f"intake = 127.0.0.1:{port}\nintake_token_file = {token_file}")
    p = start_mcalert(procs, cfg)
    wait_log_line(procs, p, "started:")
    wait_port(port)
    refusals = [
        {},                                                  # no header at all
        {"Authorization": "Bearer guess-8c1f77"},
        {"Authorization": "Bearer " + TOKEN[:-1]},           # a prefix of it
        {"Authorization": "Bearer " + TOKEN + "x"},          # longer
        {"Authorization": TOKEN},                            # no scheme
        {"Authorization": "Basic " + TOKEN},                 # another scheme
        {"Authorization": "Bearer"},
        {"X-Token": TOKEN},
    ]
    for h in refusals:
        for status_ in ("firing", "resolved"):
            status, body, headers = post(port, alert(status_), h)
            assert status == 401, (h, status, body)
            assert body["status"] == "error" and "token" in body["error"], body
            assert headers.get("WWW-Authenticate", "").startswith("Bearer"), headers
    assert "Authorization: Bearer <token>" in post(port, alert("firing"))[1]["error"]
    # Nothing was opened, nothing written.
    assert log.q("SELECT count(*) FROM incidents")[0][0] == 0
    assert log.q("SELECT count(*) FROM events WHERE actor = 'alertmanager'")[0][0] == 0
    # Counted, and visible.
    h = health(port)
    assert h["intake"]["unauthorized"] == 2 * len(refusals) + 1
    assert h["intake"]["served"] == 0
    # Logged, but never a token (neither the right one nor one tried).
    wait_log_line(procs, p, "intake: refused a request from 127.0.0.1")
    out = procs.log(p)
    assert TOKEN not in out and TOKEN[:-1] not in out and "guess-8c1f77" not in out
    # The token as Alertmanager sends it (the scheme's case does not matter).
    status, body, _ = post(port, alert("firing"), {"Authorization": "Bearer " + TOKEN})
    assert status == 200 and body["opened"] == 1
    status, body, _ = post(port, alert("resolved"), {"Authorization": "bearer " + TOKEN})
    assert status == 200 and body["resolved"] == 1
    assert health(port)["intake"]["served"] == 2
    assert TOKEN not in procs.log(p)
