"""Helpers to run mcd's proxy role in integration tests: a `Pool` of backend mcd
processes on loopback ports (named b1, b2, ...), the proxy file that lists them
(nutcracker's `host:port:weight name` lines) and the proxy in front of them
(`mcd --proxy FILE` with an admin port).

Backends can be killed, stopped and restarted on their own port. Where a key should
be is asked of tests/tools/ketama_place (lib/ketama, which test_ketama.py pins to
nutcracker's placement); where it is is asked of each backend directly. Every wait is
a bounded poll on an explicit condition (the proxy's own `stats backends`)."""
import os
import signal

from conftest import binary, free_port, wait_port
from mcdtest import Mcd, Raw, add_tenant, start_mcd
from mcmontest import wait_for
from test_ketama import ketama_place

# Short enough that a test sees a down backend come back in well under a second, long
# enough that a loaded machine does not time out healthy replies.
SETTINGS = {
    "timeout": 2000,
    "failure_limit": 2,
    "retry_timeout": 100,
    "retry_max": 400,
    "eject": "no",
    "connections": 2,
}
UNAVAILABLE = "SERVER_ERROR backend unavailable"


class Backend:
    def __init__(self, name, port, weight=1):
        self.name = name
        self.port = port
        self.weight = weight
        self.mcd = None  # the running process (an mcdtest.Mcd), None while down

    @property
    def line(self):
        """The proxy file's (and ketama_place's) server line."""
        return "127.0.0.1:%d:%d %s" % (self.port, self.weight, self.name)


class TenantsFile:
    """One tenants file for backends and proxy: the tenants acme and beta, the
    admin account ops, and the internal account proxy with the `proxy` capability."""

    def __init__(self, tmp_path):
        self.path = tmp_path / "tenants"
        self.pw = {
            "acme": add_tenant(self.path, "acme"),
            "beta": add_tenant(self.path, "beta"),
            "ops": add_tenant(self.path, "ops", admin=True),
            "proxy": add_tenant(self.path, "proxy", caps="proxy"),
        }
        self.proxy_pw_file = tmp_path / "proxy.pw"
        self.proxy_pw_file.write_text(self.pw["proxy"] + "\n")


class Pool:
    def __init__(self, procs, tmp_path, tenants=None):
        self.procs = procs
        self.dir = tmp_path
        self.tenants = tenants  # a TenantsFile or None
        self.backends = []
        self.proxy = None
        self.proxy_file = tmp_path / "proxy.ini"

    # --- backends -------------------------------------------------------------------
    def add_backend(self, weight=1, port=None, start=True):
        """A new backend b<N>; started unless start=False (then its port is closed)."""
        b = Backend("b%d" % (len(self.backends) + 1), port or free_port(), weight)
        self.backends.append(b)
        if start:
            self.start_backend(b)
        return b

    def start_backend(self, b):
        """Starts (or restarts) b's mcd on b's own port."""
        argv = [binary("mcd"), "-l", "127.0.0.1", "-p", str(b.port), "-t", "1", "-m", "16",
                "-U", "0"]
        if self.tenants:
            argv += ["--tenants", str(self.tenants.path)]
        p = self.procs.start(argv, name="backend-" + b.name)
        wait_port(b.port, proc=p)
        b.mcd = Mcd(p, b.port)
        return b

    def kill_backend(self, b):
        self.procs.stop(b.mcd.proc, sig=signal.SIGKILL)
        b.mcd = None

    def backend(self, name):
        return next(b for b in self.backends if b.name == name)

    # --- the proxy --------------------------------------------------------------------
    def write_proxy_file(self, backends=None, **settings):
        conf = dict(SETTINGS)
        conf.update(settings)
        if self.tenants:
            conf["account"] = "proxy"
            conf["password_file"] = str(self.tenants.proxy_pw_file)
        lines = ["[proxy]"]
        lines += ["backend = " + b.line for b in (backends or self.backends)]
        lines += ["%s = %s" % kv for kv in conf.items()]
        self.proxy_file.write_text("\n".join(lines) + "\n")

    def start_proxy(self, threads=2, extra=(), tls=None, **settings):
        """Writes the proxy file (SETTINGS, overridden by settings) and starts the proxy
        (with a TLS port if tls is given: (cert, key))."""
        self.write_proxy_file(**settings)
        self.proxy = start_mcd(self.procs, "--proxy", str(self.proxy_file),
                               tenants=self.tenants.path if self.tenants else None,
                               admin=True, tls=tls, threads=threads, extra=extra)
        return self.proxy

    def reload(self):
        os.kill(self.proxy.proc.pid, signal.SIGHUP)

    def client(self, user=None):
        """A raw connection to the proxy, logged in as user if given."""
        r = self.proxy.raw()
        if user:
            assert r.auth(user, self.tenants.pw[user]) == "STORED"
        return r

    def admin(self):
        """A raw connection to the proxy's admin port (logged in as ops with tenants)."""
        a = Raw(self.proxy.admin_port)
        if self.tenants:
            assert a.auth("ops", self.tenants.pw["ops"]) == "STORED"
        return a

    def log(self):
        return self.procs.log(self.proxy.proc)

    # --- what the proxy says ------------------------------------------------------------
    def backend_stats(self, admin=None):
        """`stats backends` as {name: {field: value}}."""
        a = admin or self.admin()
        out = {}
        for k, v in a.stats("backends").items():
            name, field = k.rsplit(":", 1)
            out.setdefault(name, {})[field] = v
        return out

    def proxy_stats(self, admin=None):
        return (admin or self.admin()).stats("proxy")

    def wait_state(self, b, state, poke=None, timeout=30):
        """Waits (bounded) until `stats backends` says b is in state; calls poke()
        between polls, for a proxy that only notices a change when asked to use b."""
        a = self.admin()

        def reached():
            if poke:
                poke()
            return self.backend_stats(a).get(b.name, {}).get("state") == state
        wait_for("%s %s in the proxy's stats backends" % (b.name, state), reached, timeout,
                 step=0.05)

    # --- where keys are -----------------------------------------------------------------
    def placement(self, keys, backends=None):
        """{key: backend name} as lib/ketama (and nutcracker) place keys on backends."""
        bs = backends or self.backends
        unique = list(dict.fromkeys(keys))  # ketama_place answers each key once
        return {k: bs[i].name for k, i in ketama_place([b.line for b in bs], unique).items()}

    def keys_on(self, name, count, prefix="key", backends=None):
        """count keys that the ring (of backends, default all) places on backend name."""
        # A backend's arc is roughly its fair share, but a small sample can miss it.
        candidates = ["%s:%d" % (prefix, i)
                      for i in range(count * len(self.backends) * 4 + 200)]
        placed = self.placement(candidates, backends)
        found = [k for k in candidates if placed[k] == name][:count]
        assert len(found) == count, "only %d keys on %s" % (len(found), name)
        return found

    def key_per_backend(self, prefix):
        """[a key on b1, a key on b2, ...]."""
        return [self.keys_on(b.name, 1, prefix=prefix)[0] for b in self.backends]

    def direct(self, b, user=None):
        """A raw connection straight to backend b (logged in as user if given)."""
        r = b.mcd.raw()
        if user:
            assert r.auth(user, self.tenants.pw[user]) == "STORED"
        return r

    def held(self, b, keys, user=None):
        """{key: value} of the keys in keys that backend b holds, asked directly."""
        r = self.direct(b, user)
        out = {}
        try:
            for start in range(0, len(keys), 100):
                r.send("get %s\r\n" % " ".join(keys[start:start + 100]))
                lines, end = r.until_end()
                assert end == "END", end
                for head, value in zip(lines[::2], lines[1::2]):
                    out[head.split()[1]] = value
        finally:
            r.close()
        return out


def start_pool(procs, tmp_path, n=3, tenants=None, threads=2, extra=(), **settings):
    """n running backends and a proxy in front of them (settings: the proxy file's)."""
    pool = Pool(procs, tmp_path, tenants)
    for _ in range(n):
        pool.add_backend()
    pool.start_proxy(threads=threads, extra=extra, **settings)
    return pool


def stop_checked(procs):
    """Stops every process of the test that is still running (SIGTERM) and returns the
    complaints: a non-zero exit, a sanitizer report, or a proxy that was already gone
    (backends killed on purpose are not complaints)."""
    complaints = []
    for p in reversed(procs.started):
        running = p.poll() is None
        rc = procs.stop(p)
        log = procs.log(p)
        if not running and "--proxy" not in p.args:
            continue
        if not running or rc != 0 or "Sanitizer" in log or "runtime error:" in log:
            complaints.append("%s exited with %s:\n%s" % (" ".join(p.args[:3]), rc,
                                                         log[-3000:]))
    return complaints


def set_all(r, keys, value=None):
    """Pipelined sets of keys (each key's value: value, else the key itself); asserts
    that every one is STORED."""
    r.send("".join("set %s 0 0 %d\r\n%s\r\n" % (k, len(value or k), value or k)
                   for k in keys))
    for k in keys:
        assert r.line() == "STORED", k


def multiget(r, verb, keys):
    """Sends `verb k1 k2 ...` and returns [(key, value, cas or None)] as answered."""
    r.send("%s %s\r\n" % (verb, " ".join(keys)))
    return read_values(r)


def read_values(r):
    """Reads a get's reply: [(key, value, cas or None)] up to its END."""
    lines, end = r.until_end()
    assert end == "END", (end, lines)
    out = []
    for head, value in zip(lines[::2], lines[1::2]):
        parts = head.split()
        assert parts[0] == "VALUE", head
        out.append((parts[1], value, int(parts[4]) if len(parts) > 4 else None))
    return out
