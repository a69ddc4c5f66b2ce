"""A Django cache backend for mcd that logs in as a tenant and keeps its connections.

    CACHES = {"default": {"BACKEND": "mcops_cache.django.McdCache", "LOCATION": "127.0.0.1:11211",
                          "OPTIONS": {"username": "acme", "password_file": "/etc/acme/mcd.pw"}}}

Django's own memcached backends disconnect in close(), which Django calls at the end
of every request (the request_finished signal): against an mcd with tenants that is a
TCP connection and a login per request. Here close() keeps the connections, and one
pool per process (shared by Django's per-thread backend objects, so a server that starts
a thread per request keeps them too) serves every request.

OPTIONS: username, password or password_file (first line; read again for every new
connection), timeout (seconds per reply, default 5), connect_timeout (5), max_idle
(connections kept open, default 8). Without username, no login is sent (an mcd without
a tenants file). One LOCATION only: for a cluster, point it at an mcd proxy.
"""
import re
import threading
import time

from django.core.cache.backends.base import (
    DEFAULT_TIMEOUT, BaseCache, InvalidCacheKey, memcache_key_warnings,
)
from django.core.exceptions import ImproperlyConfigured

from . import serde
from .client import KEY_MAX, Client

OPTION_NAMES = ("username", "password", "password_file", "timeout", "connect_timeout",
                "max_idle")
THIRTY_DAYS = 30 * 24 * 3600  # memcache reads a longer exptime as a Unix time

_shared = {}
_shared_lock = threading.Lock()


def shared_client(server, options):
    """The one Client of this process for this server and these options."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise ImproperlyConfigured("mcops_cache: unknown OPTIONS %s (known: %s)"
                                   % (", ".join(unknown), ", ".join(OPTION_NAMES)))
    ident = (server,) + tuple(options.get(name) for name in OPTION_NAMES)
    with _shared_lock:
        client = _shared.get(ident)
        if client is None:
            try:
                client = Client(server, **options)
            except ValueError as e:
                raise ImproperlyConfigured("mcops_cache: %s" % e) from e
            _shared[ident] = client
        return client


class McdCache(BaseCache):
    def __init__(self, server, params):
        super().__init__(params)
        servers = re.split("[;,]", server) if isinstance(server, str) else list(server)
        servers = [s.strip() for s in servers if s.strip()]
        if len(servers) != 1:
            raise ImproperlyConfigured(
                "mcops_cache: LOCATION must name one mcd address (for a cluster, the "
                "address of its mcd proxy), not %r" % (server,))
        self._client = shared_client(servers[0], dict(params.get("OPTIONS") or {}))

    # -- keys and timeouts, as Django's memcached backends -------------------------------

    def validate_key(self, key):
        for warning in memcache_key_warnings(key):
            raise InvalidCacheKey(warning)
        # memcache_key_warnings counts characters; the limit is in bytes on the wire.
        if len(key.encode("utf-8")) > KEY_MAX:
            raise InvalidCacheKey("Cache key is longer than %d bytes in UTF-8, which mcd "
                                  "refuses: %r" % (KEY_MAX, key))

    def _key(self, key, version):
        key = self.make_key(key, version=version)
        self.validate_key(key)
        return key.encode("utf-8")

    def get_backend_timeout(self, timeout=DEFAULT_TIMEOUT):
        if timeout == DEFAULT_TIMEOUT:
            timeout = self.default_timeout
        if timeout is None:
            return 0  # memcache's "never expires"
        timeout = int(timeout)
        if timeout <= 0:
            return -1  # Django's 0 means "expire at once"; memcache's 0 does not
        if timeout > THIRTY_DAYS:
            timeout += int(time.time())
        return timeout

    # -- the cache API ------------------------------------------------------------------

    def get(self, key, default=None, version=None):
        found = self._client.get(self._key(key, version))
        return default if found is None else serde.loads(found[1], found[0])

    def get_many(self, keys, version=None):
        key_map = {self._key(key, version): key for key in keys}
        found = self._client.get_many(key_map)
        return {key_map[k]: serde.loads(v, f) for k, (f, v) in found.items()}

    def has_key(self, key, version=None):
        return self._client.get(self._key(key, version)) is not None

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        key = self._key(key, version)
        data, flags = serde.dumps(value)
        if not self._client.set(key, flags, data, self.get_backend_timeout(timeout)):
            # Not stored (too large): mcd has dropped the old value already, as
            # memcached does; make sure of it as Django's memcached backends do.
            self._client.delete(key)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        data, flags = serde.dumps(value)
        return self._client.add(self._key(key, version), flags, data,
                                self.get_backend_timeout(timeout))

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        items, original = [], {}
        for key, value in data.items():
            wire = self._key(key, version)
            original[wire] = key
            data_bytes, flags = serde.dumps(value)
            items.append((wire, flags, data_bytes))
        failed = self._client.set_many(items, self.get_backend_timeout(timeout))
        return [original[k] for k in failed]

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._client.touch(self._key(key, version), self.get_backend_timeout(timeout))

    def delete(self, key, version=None):
        return self._client.delete(self._key(key, version))

    def delete_many(self, keys, version=None):
        self._client.delete_many([self._key(key, version) for key in keys])

    def _arith(self, key, delta, version, up):
        wire = self._key(key, version)
        # memcache takes no negative delta: a negative incr is a decr.
        if (delta >= 0) == up:
            value = self._client.incr(wire, abs(delta))
        else:
            value = self._client.decr(wire, abs(delta))
        if value is None:
            raise ValueError("Key '%s' not found" % wire.decode("utf-8"))
        return value

    def incr(self, key, delta=1, version=None):
        return self._arith(key, delta, version, up=True)

    def decr(self, key, delta=1, version=None):
        return self._arith(key, delta, version, up=False)

    def clear(self):
        """flush_all: on mcd, only this tenant's items, and only with the flush
        capability (else mcops_cache.PermissionDenied)."""
        self._client.flush_all()

    def close(self, **kwargs):
        # Called by Django after every request. The point of this backend is to keep
        # the logged-in connections, so it does nothing; disconnect() closes them.
        pass

    def disconnect(self):
        """Closes this process's idle connections to the server (e.g. at shutdown)."""
        self._client.close()
