"""The Django cache backend of clients/python (mcops_cache.django.McdCache) against real
Django (Debian's python3-django) and a real mcd with tenants: one connection serves
many requests, where Django's stock behaviour opens one per request; a wrong password
is a clear exception; a restarted mcd is reconnected to; values and keys behave as with
Django's memcached backends."""
import os
import sys
import threading
import warnings

import pytest

from conftest import ROOT
from mcdtest import Raw, add_tenant, restart_mcd, start_mcd
from mcmontest import wait_for

sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
# Django 3.2 on Python 3.11 warns about its own use of cgi and locale: not ours to fix.
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"django\.")

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

import mcops_cache  # noqa: E402
from mcops_cache import serde  # noqa: E402
from mcops_cache.client import Client as McdClient  # noqa: E402
from mcops_cache.django import McdCache  # noqa: E402

REQUESTS = 50


def counter_view(request):
    """A page that uses the cache as an application would: a read and a write."""
    from django.core.cache import cache
    hits = cache.get("hits", 0) + 1
    cache.set("hits", hits)
    cache.set("last_visit", {"n": hits, "path": request.path})
    return HttpResponse(str(hits))


urlpatterns = [path("count/", counter_view)]

if not settings.configured:
    settings.configure(DEBUG=False, ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=__name__,
                       SECRET_KEY="test only", INSTALLED_APPS=[], MIDDLEWARE=[],
                       CACHES={"default": {"BACKEND":
                                           "django.core.cache.backends.locmem.LocMemCache"}})
    django.setup()

from django.core.cache import caches  # noqa: E402
from django.core.cache.backends.base import InvalidCacheKey  # noqa: E402
from django.test import Client as DjangoClient  # noqa: E402
from django.test import override_settings  # noqa: E402


class PerRequestMcdCache(McdCache):
    """Django's stock behaviour with authentication: the memcached backends disconnect
    in close(), which Django calls after every request."""

    def close(self, **kwargs):
        self.disconnect()


@pytest.fixture
def tenants(tmp_path):
    p = tmp_path / "tenants"
    pw = {"acme": add_tenant(p, "acme"), "beta": add_tenant(p, "beta"),
          "noflush": add_tenant(p, "noflush", caps="read,write"),
          "ops": add_tenant(p, "ops", admin=True)}
    return p, pw


@pytest.fixture
def mcd(procs, tenants):
    return start_mcd(procs, tenants=tenants[0], admin=True)


def cache_settings(mcd, backend="mcops_cache.django.McdCache", **options):
    return {"default": {"BACKEND": backend, "LOCATION": "127.0.0.1:%d" % mcd.port,
                        "OPTIONS": options}}


@pytest.fixture
def using():
    """using(CACHES) switches Django to those caches for the test; at the end the
    backend's connections are closed."""
    overrides = []

    def switch(caches_setting):
        # This module's URLs whichever test module configured Django first.
        o = override_settings(CACHES=caches_setting, ROOT_URLCONF=__name__)
        o.enable()
        overrides.append(o)
        return caches["default"]

    yield switch
    for o in reversed(overrides):
        backend = caches["default"]
        if hasattr(backend, "disconnect"):
            backend.disconnect()
        o.disable()


def tenant_stats(mcd, pw):
    a = Raw(mcd.admin_port)
    assert a.auth("ops", pw["ops"]) == "STORED"
    st = a.stats("tenants")
    a.close()
    return st


def browse(n=REQUESTS):
    c = DjangoClient()
    for i in range(n):
        r = c.get("/count/")
        assert r.status_code == 200
    return int(r.content)


def test_one_connection_serves_many_requests(mcd, tenants, using):
    using(cache_settings(mcd, username="acme", password=tenants[1]["acme"]))
    assert browse() == REQUESTS
    st = tenant_stats(mcd, tenants[1])
    assert st["tenant:acme:total_connections"] == "1"
    assert st["tenant:acme:curr_connections"] == "1"


def test_threads_share_the_process_pool(mcd, tenants, using):
    # Django makes a backend object per thread (runserver: a thread per request); the
    # connections belong to the process, so a new thread reuses the logged-in one.
    using(cache_settings(mcd, username="acme", password=tenants[1]["acme"]))
    for _ in range(5):
        t = threading.Thread(target=browse, args=(10,))
        t.start()
        t.join()
    assert caches["default"].get("hits") == REQUESTS
    assert tenant_stats(mcd, tenants[1])["tenant:acme:total_connections"] == "1"


def test_concurrent_threads_each_get_their_own_connection(mcd, tenants, using):
    using(cache_settings(mcd, username="acme", password=tenants[1]["acme"]))
    errors = []

    def work(n):
        from django.core.cache import cache
        try:
            for i in range(25):
                cache.set("t%d:%d" % (n, i), [n, i])
                assert cache.get("t%d:%d" % (n, i)) == [n, i]
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # No connection is shared by two threads at once, and none is opened per request.
    assert 1 <= int(tenant_stats(mcd, tenants[1])["tenant:acme:total_connections"]) <= 4


def test_a_connection_per_request_is_what_the_stock_behaviour_costs(mcd, tenants, using):
    using(cache_settings(mcd, backend=__name__ + ".PerRequestMcdCache", username="acme",
                         password=tenants[1]["acme"]))
    assert browse() == REQUESTS
    st = tenant_stats(mcd, tenants[1])
    assert st["tenant:acme:total_connections"] == str(REQUESTS)
    assert st["tenant:acme:curr_connections"] == "0"


def test_stock_pymemcache_backend_connects_per_request(procs, using):
    # Django's own PyMemcacheCache cannot log in to mcd, so it runs against an mcd
    # without tenants: the server's total_connections shows its connection per request.
    plain = start_mcd(procs)
    using(cache_settings(plain, backend="django.core.cache.backends.memcached.PyMemcacheCache"))
    # start_mcd's readiness probe is counted by the worker it went to, perhaps after
    # another worker answers a stats connection: wait until both are counted.
    probe = Raw(plain.port)
    before = wait_for("the probe and this stats connection counted",
                      lambda: (lambda n: n if n >= 2 else None)(
                          int(probe.stats()["total_connections"])), 10)
    probe.close()
    assert browse() == REQUESTS
    after = int(Raw(plain.port).stats()["total_connections"])
    assert after - before - 1 == REQUESTS  # less the stats connection itself


def test_wrong_password_is_an_authentication_error(mcd, tenants, using, tmp_path):
    using(cache_settings(mcd, username="acme", password="x" * 32))
    with pytest.raises(mcops_cache.AuthenticationError,
                       match=r"refused the login of tenant 'acme': wrong tenant name or "
                             r"password \(CLIENT_ERROR authentication failure\)"):
        DjangoClient().get("/count/")
    nobody = McdClient("127.0.0.1:%d" % mcd.port, username="nobody", password="x" * 32)
    with pytest.raises(mcops_cache.AuthenticationError, match="tenant 'nobody'"):
        nobody.get(b"k")
    anonymous = McdClient("127.0.0.1:%d" % mcd.port)
    with pytest.raises(mcops_cache.AuthenticationError, match="requires a login"):
        anonymous.get(b"k")
    assert issubclass(mcops_cache.AuthenticationError, mcops_cache.McdError)


def test_password_file_keeps_the_secret_out_of_settings(mcd, tenants, using, tmp_path):
    pw_file = tmp_path / "acme.pw"
    pw_file.write_text(tenants[1]["acme"] + "\n")
    using(cache_settings(mcd, username="acme", password_file=str(pw_file)))
    assert browse(3) == 3


def test_restarted_mcd_is_reconnected(procs, mcd, tenants, using):
    using(cache_settings(mcd, username="acme", password=tenants[1]["acme"]))
    assert browse(5) == 5
    mcd = restart_mcd(procs, mcd)
    # An add is never retried: it succeeds at once because the pooled connection is
    # seen closed before use, and a new one is logged in.
    assert caches["default"].add("after_restart", 1) is True
    # The items went with the old process; the next request works.
    assert browse(1) == 1
    assert tenant_stats(mcd, tenants[1])["tenant:acme:total_connections"] == "1"


def test_a_read_is_retried_once_on_a_connection_broken_in_flight(procs, mcd, tenants,
                                                                 monkeypatch):
    c = McdClient("127.0.0.1:%d" % mcd.port, username="acme", password=tenants[1]["acme"])
    assert c.set(b"k", 0, b"v")
    mcd = restart_mcd(procs, mcd)
    # Pretend the check at checkout did not see the close (a restart at that moment).
    monkeypatch.setattr(mcops_cache.client.Connection, "alive", lambda self: True)
    assert c.get(b"k") is None  # retried on a new connection: a miss, not an error
    assert c.set(b"k", 0, b"v2")
    mcd = restart_mcd(procs, mcd)
    with pytest.raises(mcops_cache.ConnectionFailed):
        c.add(b"k", 0, b"v3")  # not idempotent: never retried
    assert c.add(b"k", 0, b"v3")
    c.close()


def test_values_round_trip_with_the_memcached_backends_flags(mcd, tenants, using):
    cache = using(cache_settings(mcd, username="acme", password=tenants[1]["acme"]))
    values = {"s": "héllo wörld", "b": b"\x00\xffraw\r\n", "i": -(2 ** 70), "n": 42,
              "d": {"a": [1, 2.5, None], "t": (True, "x")}, "true": True, "none": None,
              "empty": ""}
    for k, v in values.items():
        cache.set(k, v)
    for k, v in values.items():
        got = cache.get(k, "missing")
        assert got == v and type(got) is type(v), k
    # On the wire: the flags of python-memcached and pymemcache, which Django's stock
    # memcached backends read.
    r = Raw(mcd.port)
    assert r.auth("acme", tenants[1]["acme"]) == "STORED"
    expected_flags = {"s": 16, "b": 0, "i": 2, "n": 2, "d": 1, "true": 1, "empty": 16}
    for k, flags in expected_flags.items():
        r.send("get :1:%s\r\n" % k)
        head = r.line().split()
        assert head[:3] == ["VALUE", ":1:" + k, str(flags)], k
        data = r.read(int(head[3]) + 2)[:-2]
        assert r.line() == "END"
        import pymemcache.serde
        assert pymemcache.serde.python_memcache_deserializer(k, data, flags) == values[k]
        assert serde.loads(data, flags) == values[k]


def test_the_cache_api(mcd, tenants, using):
    cache = using(cache_settings(mcd, username="acme", password=tenants[1]["acme"]))
    assert cache.add("a", 1) is True and cache.add("a", 2) is False and cache.get("a") == 1
    assert cache.has_key("a") and not cache.has_key("nope")
    assert cache.incr("a", 10) == 11 and cache.decr("a", 20) == 0 and cache.incr("a", -0) == 0
    assert cache.incr("a", 5) == 5 and cache.incr("a", -2) == 3 and cache.decr("a", -4) == 7
    with pytest.raises(ValueError, match="not found"):
        cache.incr("nope")
    assert cache.set_many({"x": 1, "y": "two", "z": [3]}) == []
    assert cache.get_many(["x", "y", "z", "nope"]) == {"x": 1, "y": "two", "z": [3]}
    assert cache.touch("x", 100) is True and cache.touch("nope") is False
    assert cache.delete("x") is True and cache.delete("x") is False
    cache.delete_many(["y", "z"])
    assert cache.get_many(["y", "z"]) == {}
    cache.set("gone", 1, timeout=0)  # Django's 0: expire at once
    assert cache.get("gone") is None
    assert cache.get_or_set("g", lambda: "made") == "made" and cache.get("g") == "made"
    cache.set("big", "small")
    cache.set("big", b"x" * (2 << 20))  # over mcd's 1 MiB items: not stored, old value gone
    assert cache.get("big") is None
    many = {"k%d" % i: i for i in range(250)}  # more than one get line and one pipeline
    assert cache.set_many(many) == []
    assert cache.get_many(many) == many


def test_clear_flushes_only_this_tenant_and_needs_the_flush_capability(mcd, tenants, using):
    pw = tenants[1]
    beta = McdClient("127.0.0.1:%d" % mcd.port, username="beta", password=pw["beta"])
    assert beta.set(b":1:k", 2, b"1")
    cache = using(cache_settings(mcd, username="acme", password=pw["acme"]))
    cache.set("k", 1)
    cache.clear()
    assert cache.get("k") is None and beta.get(b":1:k") == (2, b"1")
    noflush = McdCache("127.0.0.1:%d" % mcd.port,
                       {"OPTIONS": {"username": "noflush", "password": pw["noflush"]}})
    noflush.set("k", 1)
    with pytest.raises(mcops_cache.PermissionDenied, match="tenant may not flush"):
        noflush.clear()
    assert noflush.get("k") == 1  # the connection stays usable after the refusal
    noflush.disconnect()
    beta.close()


def test_bad_keys_are_refused_before_reaching_the_server(mcd, tenants, using):
    cache = using(cache_settings(mcd, username="acme", password=tenants[1]["acme"]))
    for key in ("has space", "ctl\x01char", "k" * 251, "é" * 200):
        with pytest.raises(InvalidCacheKey):
            cache.set(key, 1)
        with pytest.raises(InvalidCacheKey):
            cache.get(key)
    cache.set("clé", 1)  # non-ASCII within 250 bytes is fine
    assert cache.get("clé") == 1


def test_bad_settings_are_improperly_configured(mcd):
    from django.core.exceptions import ImproperlyConfigured
    loc = "127.0.0.1:%d" % mcd.port
    for location, options, message in [
            ("a:1;b:2", {}, "one mcd address"),
            (loc, {"usename": "acme"}, "unknown OPTIONS usename"),
            (loc, {"username": "acme"}, "exactly one of password and password_file"),
            (loc, {"username": "bad name", "password": "p"}, "not a tenant name"),
            (loc, {"password": "p"}, "a password needs a username")]:
        with pytest.raises(ImproperlyConfigured, match=message):
            McdCache(location, {"OPTIONS": options})


def test_a_timeout_is_not_retried():
    # A server that answers once, then goes silent: the read times out and is not sent
    # again on a new connection (which would double the wait).
    import socket
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    accepted = []

    def serve():
        conn, _ = listener.accept()
        accepted.append(conn)
        conn.recv(100)
        conn.sendall(b"VERSION 1\r\n")
        conn.recv(100)  # and no answer

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    c = McdClient("127.0.0.1:%d" % listener.getsockname()[1], timeout=0.5)
    assert c.version() == "1"
    with pytest.raises(mcops_cache.ConnectionFailed, match="timed out"):
        c.get(b"k")
    listener.settimeout(0.5)
    with pytest.raises(socket.timeout):
        listener.accept()
    assert len(accepted) == 1
    t.join(5)
    for s in accepted + [listener]:
        s.close()
