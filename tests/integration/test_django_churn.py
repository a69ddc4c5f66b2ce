"""The churn advisory (connection_churn) and the Django backend, end to end: two
Django applications in one process use one mcd node, each as its own tenant. One uses
Django's stock behaviour against an mcd that requires a login (emulated: the backend
disconnects in close(), which Django calls after every request, as its memcached
backends do); the other uses mcops_cache's McdCache, which keeps its connections.
mcmon opens connection_churn for the first tenant and names only it."""
import os
import sys
import time
import warnings

import pytest

from conftest import ROOT
from mcdtest import add_tenant
from mcmontest import Deployment, wait_for

sys.path.insert(0, os.path.join(ROOT, "clients", "python"))
warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"django\.")

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.urls import path  # noqa: E402

from mcops_cache.django import McdCache  # noqa: E402

# Churn decided in seconds rather than minutes (docs/monitor.md: the churn_* keys).
CHURN = {"churn_rate": "5", "churn_share": "0.9", "churn_sustain": "2s", "churn_clear": "1s"}
REQUESTS_MAX = 1200  # bounds the load: 20 requests a second for a minute at most


class StockMcdCache(McdCache):
    """Django's stock memcached behaviour with a login: disconnect at each request's end."""

    def close(self, **kwargs):
        self.disconnect()


def page_view(request):
    """Each request reads and writes both applications' caches."""
    from django.core.cache import caches
    for alias in ("stock", "kept"):
        c = caches[alias]
        c.set("visits", (c.get("visits") or 0) + 1)
    return HttpResponse("ok")


urlpatterns = [path("page/", page_view)]

if not settings.configured:
    settings.configure(DEBUG=False, ALLOWED_HOSTS=["testserver"], ROOT_URLCONF=__name__,
                       SECRET_KEY="test only", INSTALLED_APPS=[], MIDDLEWARE=[],
                       CACHES={"default": {"BACKEND":
                                           "django.core.cache.backends.locmem.LocMemCache"}})
    django.setup()

from django.core.cache import caches  # noqa: E402
from django.test import Client as DjangoClient  # noqa: E402
from django.test import override_settings  # noqa: E402


@pytest.fixture
def dep(procs, tmp_path):
    d = Deployment(procs, tmp_path)
    yield d
    if d.mcmon is not None and d.mcmon.poll() is None:
        d.stop_mcmon()


def backend(name, node, user, pwfile):
    return {"BACKEND": f"{__name__}.{name}", "LOCATION": f"127.0.0.1:{node.port}",
            "OPTIONS": {"username": user, "password_file": str(pwfile)}}


def test_stock_per_request_connections_open_churn_and_the_kept_backend_does_not(dep):
    pws = {}
    for t in ("stock", "kept"):
        pws[t] = dep.dir / f"{t}.pw"
        pws[t].write_text(add_tenant(dep.tenants, t) + "\n")
    node = dep.start_node("n1")
    dep.start_mcmon(monitor=CHURN)
    conf = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "stock": backend("StockMcdCache", node, "stock", pws["stock"]),
            "kept": backend("McdCache", node, "kept", pws["kept"])}
    with override_settings(ROOT_URLCONF=__name__, CACHES=conf):
        client = DjangoClient()
        inc = None
        try:
            for i in range(REQUESTS_MAX):
                assert client.get("/page/").status_code == 200
                time.sleep(0.05)
                if i % 20 == 19:
                    found = dep.incidents("connection_churn")
                    if found:
                        inc = found[0]
                        break
            assert inc is not None, "no connection_churn within the requests' bound"
            evidence = wait_for("churn evidence naming tenants", lambda: [
                e["body"] for e in dep.events(inc["id"])
                if e["type"] == "evidence" and e["body"].get("tenants")], 30)
        finally:
            for alias in ("stock", "kept"):
                caches[alias].disconnect()
    assert inc["title"] == "Connection churn in cluster c1: tenant stock", inc
    names = {t["name"] for t in evidence[-1]["tenants"]}
    assert names == {"stock"}, evidence[-1]
