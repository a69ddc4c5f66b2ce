"""mcalert over TLS, which is its default: a private Prosody that requires encryption,
with a self-signed certificate for its domain. mcalert trusts it only when told to
(tls_ca, or tls_insecure); otherwise it must refuse to log in rather than send its
password to a server it cannot verify.
"""
import time

import pytest

from conftest import Procs
from xmpptest import Log, Prosody, jid, start_mcalert, wait_log_line, write_config


@pytest.fixture(scope="module")
def tls_prosody(tmp_path_factory):
    d = tmp_path_factory.mktemp("prosody_tls")
    ps = Procs(d)
    server = Prosody(ps, d, ["mcalert", "alice"], tls=True)
    server.start()
    yield server
    ps.stop_all()


def config(tmp_path, server, **kw):
    db = str(tmp_path / "mcops.db")
    Log(db).mctl("incidents")
    return write_config(str(tmp_path / "mcops.conf"), port=server.port, db=db,
                        steps=["oncall"], **kw)


def test_tls_with_the_server_ca_trusted_connects(tmp_path, procs, tls_prosody):
    cfg = config(tmp_path, tls_prosody, tls="on", extra_alerter=f"tls_ca = {tls_prosody.cert}")
    p = start_mcalert(procs, cfg)
    wait_log_line(procs, p, "connected to the chat server", timeout=30)


def test_tls_insecure_connects_to_an_unverifiable_server(tmp_path, procs, tls_prosody):
    cfg = config(tmp_path, tls_prosody, tls="on", extra_alerter="tls_insecure = yes")
    p = start_mcalert(procs, cfg)
    wait_log_line(procs, p, "connected to the chat server", timeout=30)


def test_an_untrusted_certificate_or_plain_text_never_logs_in(tmp_path, procs, tls_prosody):
    authenticated_before = open(tls_prosody.dir + "/prosody.log").read().count(
        f"Authenticated as {jid('mcalert')}")
    # The system's trust store does not know the self-signed certificate.
    cfg = config(tmp_path, tls_prosody, tls="on")
    p = start_mcalert(procs, cfg)
    # Plain text against a server that requires encryption.
    (tmp_path / "plain").mkdir()
    cfg2 = config(tmp_path / "plain", tls_prosody, tls="off")
    p2 = start_mcalert(procs, cfg2, name="mcalert_plain")
    # The first refusal is waited for (the line is rate-limited: one per 10 s); the
    # sleep then leaves room for more attempts at the test's backoff (200 ms to 1 s),
    # which can only make the checks below stricter.
    for proc in (p, p2):
        wait_log_line(procs, proc, "cannot reach the chat server", timeout=30)
    time.sleep(3.0)
    for proc in (p, p2):
        assert proc.poll() is None
        assert "connected to the chat server" not in procs.log(proc)
    # Neither ever authenticated: the server saw no login from these two.
    log = open(tls_prosody.dir + "/prosody.log").read()
    assert log.count(f"Authenticated as {jid('mcalert')}") == authenticated_before
