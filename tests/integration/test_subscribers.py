"""Subscribers end to end: the form on the page posted to mcstatus, double opt-in by a
signed, expiring link, per-component updates by email through a real SMTP server on
loopback (aiosmtpd, Debian's python3-aiosmtpd) and by webhook, unsubscribe, retries of
temporary failures, dropping after permanent ones, flood control, and nothing of one
subscriber in another's messages or pages."""
import email
import email.policy
import email.utils
import hashlib
import hmac
import http.client
import re
import sqlite3
import threading
import time
import urllib.parse

import pytest

from conftest import free_port
from sptest import SECRETS, mctl, open_incident, start, wait_for, write_config

aiosmtpd_controller = pytest.importorskip("aiosmtpd.controller",
                                          reason="python3-aiosmtpd (scripts/setup installs it)")

SECRET = "subscriber-link-secret-0123456789"


class Relay:
    """An aiosmtpd handler that records every accepted message and every RCPT tried,
    and answers chosen codes for chosen recipients: answers[rcpt] is a list of codes
    used in turn at DATA (the last one repeats); 250 accepts."""

    def __init__(self):
        self.lock = threading.Lock()
        self.messages = []   # (rcpt, parsed message)
        self.attempts = {}   # rcpt -> DATA attempts
        self.answers = {}

    async def handle_DATA(self, server, session, envelope):
        rcpt = envelope.rcpt_tos[0]
        with self.lock:
            n = self.attempts.get(rcpt, 0)
            self.attempts[rcpt] = n + 1
            codes = self.answers.get(rcpt, [250])
            code = codes[min(n, len(codes) - 1)]
            msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
            msg.raw = envelope.original_content
            msg.tls = session.ssl is not None
            if code != 250:
                self.messages.append((rcpt, msg, code))
                return f"{code} {'try later' if code < 500 else 'no such mailbox'}"
            self.messages.append((rcpt, msg, 250))
        return "250 OK"

    def to(self, rcpt, accepted=True):
        with self.lock:
            return [m for r, m, c in self.messages if r == rcpt and (c == 250) == accepted]


@pytest.fixture
def relay():
    r = Relay()
    c = aiosmtpd_controller.Controller(r, hostname="127.0.0.1", port=free_port())
    c.start()
    r.port = c.port
    yield r
    c.stop()


def config(tmp_path, relay, port, extra=""):
    (tmp_path / "sub.key").write_text(SECRET + "\n")
    return write_config(tmp_path, port, extra=(
        "[subscribers]\n"
        f"secret_file = {tmp_path / 'sub.key'}\n"
        f"link_url = http://127.0.0.1:{port}/\n"
        f"smtp_url = smtp://127.0.0.1:{relay.port}\n"
        "smtp_from = status@example.com\n"
        "webhooks = any\n"
        "resend_after = 1s\n"
        "retry_base = 100ms\nretry_max = 300ms\n"
        "rate = 100\n" + extra))


def serving(procs, tmp_path, relay, extra=""):
    """mcstatus with subscriptions on, its page rendered: (port, conf, site, db, proc)."""
    port = free_port()
    conf, site, db = config(tmp_path, relay, port, extra)
    p = start(procs, conf, port)
    wait_for(lambda: (site / "index.html").exists(), what="the page")
    return port, conf, site, db, p


def request(port, method, path, body=None, source="127.0.0.1"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(source, 0))
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
    c.request(method, path, body=body, headers=headers)
    r = c.getresponse()
    out = r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode()
    c.close()
    return out


def subscribe(port, source="127.0.0.1", **fields):
    pairs = []
    for k, v in fields.items():
        for one in (v if isinstance(v, list) else [v]):
            pairs.append((k, one))
    return request(port, "POST", "/subscribe", urllib.parse.urlencode(pairs), source)


def link_in(msg, what):
    m = re.search(r"http://127\.0\.0\.1:\d+(/" + what + r"\?token=[0-9a-f.]+)",
                  msg.get_content())
    assert m, msg.get_content()
    return m.group(1)


def wait_mail(relay, rcpt, n=1, accepted=True, what=None):
    return wait_for(lambda: len(relay.to(rcpt, accepted)) >= n and relay.to(rcpt, accepted),
                    timeout=20, what=what or f"{n} message(s) to {rcpt}")


def state(db, address):
    with sqlite3.connect(db) as c:
        row = c.execute("SELECT state, failures FROM subscribers WHERE address = ?",
                        (address,)).fetchone()
    return row


def token(purpose, sid, nonce, expires, secret=SECRET):
    text = f"{purpose}\n{sid}\n{nonce:016x}\n{expires}".encode()
    sig = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
    return f"{sid}.{nonce:016x}.{expires}.{sig}"


def test_subscribe_confirm_receive_only_own_components_and_unsubscribe(procs, tmp_path, relay):
    port = free_port()
    conf, site, db = config(tmp_path, relay, port, "form_rate = 100\nform_burst = 100\n")
    start(procs, conf, port)
    page = wait_for(lambda: (site / "index.html").read_text(), what="the page")
    assert f'action="http://127.0.0.1:{port}/subscribe"' in page
    assert 'name="component" value="c1"' in page and "<script" not in page

    answers = set()
    for who, comps in (("alice@example.com", ["c1"]), ("bob@example.org", ["c2"]),
                       ("carol@example.net", [])):
        status, headers, body = subscribe(port, email=who, component=comps)
        assert status == 200, body
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert headers["referrer-policy"] == "no-referrer"
        answers.add(body)
    assert len(answers) == 1, "the same answer for everyone"

    msg = wait_mail(relay, "alice@example.com")[0]
    assert msg.raw.startswith(b'From: "Example Cache" <status@example.com>\r\n'
                              b'To: <alice@example.com>\r\n'), msg.raw[:200]
    assert msg["From"].addresses[0].display_name == "Example Cache"
    assert msg["To"].addresses[0].addr_spec == "alice@example.com"
    assert msg["Subject"] == "Confirm your subscription to Example Cache"
    assert email.utils.parsedate_to_datetime(msg["Date"]).utcoffset().total_seconds() == 0
    assert re.fullmatch(r"<mcops-\d+-\d+@example\.com>", msg["Message-ID"])
    assert msg["MIME-Version"] == "1.0"
    assert b"\r\nContent-Type: text/plain; charset=utf-8\r\n" in msg.raw
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg["List-Unsubscribe"] is None
    text = msg.get_content()
    assert "of Example Cache, for: US-East C1." in text
    assert "within 24 hours" in text
    confirm = {who: link_in(wait_mail(relay, who)[0], "confirm")
               for who in ("alice@example.com", "bob@example.org", "carol@example.net")}
    assert len(set(confirm.values())) == 3
    assert "bob" not in text and "carol" not in text

    # A pending address asked again after the window: the same answer, a new mail.
    time.sleep(1.1)
    status, _, body = subscribe(port, email="alice@example.com", component="c1")
    assert status == 200 and body in answers
    wait_mail(relay, "alice@example.com", 2)
    status, _, body = subscribe(port, email="alice@example.com", component="c1")
    assert status == 429 and "less than 1 minutes ago" in body

    for who, path in confirm.items():
        status, _, body = request(port, "GET", path)
        assert status == 200 and "confirmed" in body, body
        assert who not in body
        assert state(db, who)[0] == "confirmed"
    # Confirmed: asking again sends nothing and answers the same.
    time.sleep(1.1)
    status, _, body = subscribe(port, email="alice@example.com", component="c2")
    assert status == 200 and body in answers

    inc1 = open_incident(db, "latency", "c1", "major")
    carol = wait_mail(relay, "carol@example.net", 2, what="carol's first update")[1]
    alice = wait_mail(relay, "alice@example.com", 3, what="alice's update")[2]
    assert alice["Subject"].startswith("[Example Cache] Investigating: ")
    assert "US-East C1" in alice["Subject"]
    assert alice["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = alice["List-Unsubscribe"]
    assert re.fullmatch(rf"<http://127\.0\.0\.1:{port}/unsubscribe\?token=[0-9a-f.]+>", unsub)
    body = alice.get_content()
    assert "Affected: US-East C1" in body and "major impact" in body
    assert unsub[1:-1] in body
    for s in SECRETS + ["bob", "carol"]:
        assert s not in alice.as_string()
    assert carol["List-Unsubscribe"] != alice["List-Unsubscribe"]
    assert len(relay.to("bob@example.org")) == 1, "c2's subscriber hears nothing of c1"

    inc2 = open_incident(db, "latency", "c2", "minor")
    wait_mail(relay, "bob@example.org", 2, what="bob's update")
    wait_mail(relay, "carol@example.net", 3, what="carol's second update")
    assert len(relay.to("alice@example.com")) == 3, "c1's subscriber hears nothing of c2"

    # Unsubscribe: a GET only asks (mail scanners open links); the button posts.
    path = link_in(alice, "unsubscribe")
    status, _, body = request(port, "GET", path)
    assert status == 200 and "<form method=\"post\" action=\"unsubscribe\">" in body
    assert state(db, "alice@example.com")[0] == "confirmed"
    tok = path.split("token=")[1]
    status, _, body = request(port, "POST", "/unsubscribe", f"token={tok}")
    assert status == 200 and "no more updates" in body
    assert state(db, "alice@example.com")[0] == "unsubscribed"
    mctl(conf, "update", str(inc1), "--status", "identified", "--message", "A bad route.")
    wait_mail(relay, "carol@example.net", 4, what="carol's third update")
    assert len(relay.to("alice@example.com")) == 3
    mctl(conf, "resolve", str(inc2))
    wait_mail(relay, "bob@example.org", 3, what="bob's resolution")
    assert relay.to("bob@example.org")[2]["Subject"].startswith("[Example Cache] Resolved: ")


def test_a_temporary_failure_is_retried_and_delivered_once(procs, tmp_path, relay):
    relay.answers["dave@example.com"] = [451, 451, 250]
    port, conf, site, db, p = serving(procs, tmp_path, relay)
    assert subscribe(port, email="dave@example.com")[0] == 200
    wait_mail(relay, "dave@example.com", what="the confirmation after two 451s")
    time.sleep(0.5)  # nothing more comes: the item is done
    assert relay.attempts["dave@example.com"] == 3
    assert len(relay.to("dave@example.com")) == 1
    assert state(db, "dave@example.com") == ("pending", 0)


def test_permanent_failures_in_a_row_drop_the_subscriber(procs, tmp_path, relay):
    relay.answers["erin@example.com"] = [250, 550]
    port, conf, site, db, p = serving(procs, tmp_path, relay, "bounce_limit = 2\n")
    assert subscribe(port, email="erin@example.com")[0] == 200
    assert subscribe(port, email="frank@example.com")[0] == 200
    path = link_in(wait_mail(relay, "erin@example.com")[0], "confirm")
    assert request(port, "GET", path)[0] == 200
    assert request(port, "GET", link_in(wait_mail(relay, "frank@example.com")[0], "confirm"))[0] == 200
    inc = open_incident(db, "latency", "c1", "major")
    wait_mail(relay, "frank@example.com", 2)
    wait_for(lambda: state(db, "erin@example.com") == ("confirmed", 1), what="one bounce")
    mctl(conf, "update", str(inc), "--status", "identified", "--message", "Found it.")
    wait_mail(relay, "frank@example.com", 3)
    wait_for(lambda: state(db, "erin@example.com") == ("dropped", 2), what="dropped")
    mctl(conf, "resolve", str(inc))
    wait_mail(relay, "frank@example.com", 4)
    assert relay.attempts["erin@example.com"] == 3, "a dropped subscriber is not tried"


def test_a_flood_from_one_address_is_refused_while_another_still_subscribes(
        procs, tmp_path, relay):
    port, conf, site, db, p = serving(procs, tmp_path, relay, "form_rate = 2\nform_burst = 2\n")
    codes = [subscribe(port, email=f"flood{i}@example.com")[0] for i in range(5)]
    assert codes[:2] == [200, 200] and set(codes[2:]) == {429}
    status, headers, body = subscribe(port, email="flood9@example.com")
    assert status == 429 and "Too many" in body and headers["retry-after"]
    status, _, _ = subscribe(port, source="127.0.0.2", email="other@example.com")
    assert status == 200
    with sqlite3.connect(db) as c:
        n = c.execute("SELECT count(*) FROM subscribers").fetchone()[0]
    assert n == 3, "refused posts change nothing"


@pytest.mark.parametrize("body, why", [
    ("email=not-an-address", "not an email address"),
    ("email=a%40example.com&webhook=http%3A%2F%2F127.0.0.1%2Fx", "one email address"),
    ("email=a%40example.com&component=nope", "component this page does not have"),
    ("", "Give an email address"),
    ("email=a%0d%0aBcc%3A%20x%40example.com%40example.com", "too long or holds"),
    ("email=" + "a" * 9000, None),
])
def test_bad_form_input_is_refused_and_changes_nothing(procs, tmp_path, relay, body, why):
    port, conf, site, db, p = serving(procs, tmp_path, relay)
    status, _, text = request(port, "POST", "/subscribe", body)
    if why is None:
        assert status == 413
    else:
        assert status == 400 and why in text, text
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM subscribers").fetchone()[0] == 0


def test_expired_tampered_and_foreign_tokens_are_refused(procs, tmp_path, relay):
    port, conf, site, db, p = serving(procs, tmp_path, relay)
    assert subscribe(port, email="gina@example.com")[0] == 200
    path = link_in(wait_mail(relay, "gina@example.com")[0], "confirm")
    sid, nonce, expires, sig = path.split("token=")[1].split(".")
    now = int(time.time())
    assert now + 23 * 3600 < int(expires) <= now + 24 * 3600 + 5
    tampered = f"/confirm?token={sid}.{nonce}.{int(expires) + 3600}.{sig}"
    assert request(port, "GET", tampered)[0] == 400
    assert request(port, "GET", path[:-1] + ("0" if path[-1] != "0" else "1"))[0] == 400
    expired = token("confirm", int(sid), int(nonce, 16), now - 10)
    status, _, body = request(port, "GET", f"/confirm?token={expired}")
    assert status == 410 and "expired" in body
    foreign = token("confirm", int(sid), int(nonce, 16), now + 100, secret="another-secret-0123456")
    assert request(port, "GET", f"/confirm?token={foreign}")[0] == 400
    unsub_as_confirm = token("unsubscribe", int(sid), int(nonce, 16), 0)
    assert request(port, "GET", f"/confirm?token={unsub_as_confirm}")[0] == 400
    other = token("confirm", int(sid) + 1, int(nonce, 16), now + 100)
    assert request(port, "GET", f"/confirm?token={other}")[0] == 400
    assert state(db, "gina@example.com")[0] == "pending"
    assert request(port, "GET", path)[0] == 200
    assert state(db, "gina@example.com")[0] == "confirmed"


def test_a_webhook_subscriber_confirms_by_its_link_and_gets_json_updates(
        procs, tmp_path, relay, hook):
    port, conf, site, db, p = serving(procs, tmp_path, relay)
    url = f"http://127.0.0.1:{hook.server_port}/status-hook"
    assert subscribe(port, webhook=url, component="c2")[0] == 200
    first = wait_for(lambda: hook.posts and hook.posts[0], what="the confirmation POST")[2]
    assert first["type"] == "subscription.confirm"
    confirm = urllib.parse.urlsplit(first["confirm_url"])
    assert request(port, "GET", f"{confirm.path}?{confirm.query}")[0] == 200
    open_incident(db, "latency", "c1", "major")
    open_incident(db, "latency", "c2", "major")
    update = wait_for(lambda: len(hook.posts) >= 2 and hook.posts[1], what="the update")[2]
    assert update["type"] == "incident.created"
    assert [c["id"] for c in update["components"]] == ["c2"]
    assert "/unsubscribe?token=" in update["unsubscribe_url"]
    time.sleep(0.3)
    assert len(hook.posts) == 2, "nothing about c1"


def test_subscriptions_need_their_secret(tmp_path, relay):
    import subprocess
    from conftest import binary
    port = free_port()
    conf, _, _ = config(tmp_path, relay, port)
    text = conf.read_text().replace(f"secret_file = {tmp_path / 'sub.key'}\n", "")
    conf.write_text(text)
    r = subprocess.run([binary("mcstatus"), "-n", "-f", str(conf)], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode != 0
    assert "[subscribers] secret_file: required" in r.stderr


def test_maintenance_announcements_reach_the_subscribers_of_its_components(
        procs, tmp_path, relay):
    port, conf, site, db, p = serving(procs, tmp_path, relay)
    for who, comp in (("hana@example.com", "c1"), ("ivan@example.com", "c2")):
        assert subscribe(port, email=who, component=comp)[0] == 200
        assert request(port, "GET", link_in(wait_mail(relay, who)[0], "confirm"))[0] == 200
        wait_for(lambda: state(db, who)[0] == "confirmed", what="confirmed")
    mctl(conf, "maintenance", "schedule", "--cluster", "c1", "--from", "+1h", "--until", "+2h",
         "--title", "Memory upgrade", "--message", "Nodes restart one by one.")
    msg = wait_mail(relay, "hana@example.com", 2, what="the announcement")[1]
    assert msg["Subject"] == "[Example Cache] Scheduled maintenance: Memory upgrade"
    body = msg.get_content()
    assert "Scheduled maintenance, planned from " in body
    assert "Affected: US-East C1" in body and "Nodes restart one by one." in body
    assert msg["List-Unsubscribe"]
    listed = mctl(conf, "--json", "maintenance", "list").stdout
    assert "Memory upgrade" in listed
    mctl(conf, "maintenance", "start", re.search(r'"id":\s*(\d+)', listed).group(1))
    started = wait_mail(relay, "hana@example.com", 3, what="the start")[2]
    assert started["Subject"] == "[Example Cache] Maintenance in progress: Memory upgrade"
    assert len(relay.to("ivan@example.com")) == 1, "c2's subscriber hears nothing of c1's work"


def test_a_link_checker_changes_nothing(procs, tmp_path, relay):
    port, conf, site, db, p = serving(procs, tmp_path, relay)
    assert subscribe(port, email="jo@example.com")[0] == 200
    path = link_in(wait_mail(relay, "jo@example.com")[0], "confirm")
    assert request(port, "HEAD", path)[0] == 405
    assert request(port, "POST", path, "")[0] == 405
    assert state(db, "jo@example.com")[0] == "pending"
    assert request(port, "GET", path)[0] == 200
    assert request(port, "GET", path)[0] == 200, "confirming twice is still confirmed"
    assert state(db, "jo@example.com")[0] == "confirmed"


def test_mail_goes_over_starttls_when_the_relay_offers_it(procs, tmp_path, tls_cert):
    import ssl
    cert, key = tls_cert
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    relay = Relay()
    c = aiosmtpd_controller.Controller(relay, hostname="127.0.0.1", port=free_port(),
                                       tls_context=ctx, require_starttls=True)
    c.start()
    try:
        relay.port = c.port
        port = free_port()
        conf, site, db = config(tmp_path, relay, port, f"smtp_ca_file = {cert}\n")
        conf.write_text(conf.read_text().replace("smtp://127.0.0.1:", "smtp://localhost:"))
        start(procs, conf, port)
        wait_for(lambda: (site / "index.html").exists(), what="the page")
        assert subscribe(port, email="kim@example.com")[0] == 200
        msg = wait_mail(relay, "kim@example.com", what="the confirmation over TLS")[0]
        assert msg.tls, "the relay offered STARTTLS: it was used"
    finally:
        c.stop()


def test_a_reload_keeps_the_form_and_sends_with_the_new_settings(procs, tmp_path, relay):
    import os
    import signal
    port, conf, site, db, p = serving(procs, tmp_path, relay)
    assert subscribe(port, email="lee@example.com")[0] == 200
    wait_mail(relay, "lee@example.com")
    conf.write_text(conf.read_text().replace("smtp_from = status@example.com",
                                             "smtp_from = news@example.org"))
    os.kill(p.pid, signal.SIGHUP)
    wait_for(lambda: "configuration reloaded" in procs.log(p), what="the reload")
    assert subscribe(port, email="max@example.com")[0] == 200
    msg = wait_mail(relay, "max@example.com")[0]
    assert msg["From"].addresses[0].addr_spec == "news@example.org"
    # A broken [subscribers] is refused as a whole: the running one stays.
    conf.write_text(conf.read_text().replace(f"secret_file = {tmp_path / 'sub.key'}\n", ""))
    os.kill(p.pid, signal.SIGHUP)
    wait_for(lambda: "reload refused" in procs.log(p), what="the refusal")
    assert "secret_file: required" in procs.log(p)
    assert SECRET not in procs.log(p)
    assert subscribe(port, email="ned@example.com")[0] == 200
    wait_mail(relay, "ned@example.com")
