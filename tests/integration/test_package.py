"""The Debian package on this machine, as an operator would meet it: `make deb`,
lintian, `dpkg -i`, the installed programs' check mode against the installed
configuration, the daemons started as their units start them (the ExecStart, User and
UMask of the installed unit files, readiness on $NOTIFY_SOCKET), one incident played
through them (a node stopped: mcmon opens node_down, the installed mctl reads it),
then `dpkg -r` (the conffile and the state stay) and `dpkg -P` (nothing stays).

It touches the machine's real /etc, /var/lib and user list, but only the package's own
paths, and refuses to start if any of them is there already. Whatever happens, the
daemons are stopped by pid and the package is purged. It needs root (dpkg); this
container has no systemd as PID 1, so the units are verified and read, not started
by systemd."""
import glob
import grp
import json
import os
import pwd
import shlex
import signal
import socket
import subprocess
import time

import pytest

from conftest import ROOT
from disttest import clean_make_env, unit_service
from mcmontest import wait_for

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="installs a package with dpkg: needs root")

PACKAGE = "mcops"
CONF = "/etc/mcops/mcops.conf"
UNITDIR = "/lib/systemd/system"
# The package's own places: none may exist before the test, none after the purge.
OWN_PATHS = ("/etc/mcops", "/var/lib/mcops", "/usr/sbin/mcd", "/usr/sbin/mcmon",
             "/usr/sbin/mcalert", "/usr/sbin/mcstatus", "/usr/bin/mctl",
             f"{UNITDIR}/mcd@.service", f"{UNITDIR}/mcmon.service",
             f"{UNITDIR}/mcalert.service", f"{UNITDIR}/mcstatus.service")
# The example configuration's listeners (dist/mcops.conf).
PORTS = (11211, 11212, 11311, 11312, 9150, 8080)
NODES = ("n1", "n2")


def run(argv, timeout=120, check=True, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check:
        assert r.returncode == 0, f"{argv}: exit {r.returncode}\n{r.stdout}{r.stderr}"
    return r


def package_status():
    r = run(["dpkg-query", "-W", "-f=${db:Status-Abbrev}", PACKAGE], check=False)
    return r.stdout.strip() if r.returncode == 0 else ""


def user_exists(name):
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name):
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def port_in_use(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return False
        except OSError:
            return True


class Unit:
    """An installed daemon started as its unit would start it: ExecStart (with %i),
    User, UMask, the environment systemd gives (PATH, NOTIFY_SOCKET), cwd /."""

    def __init__(self, unit, instance, log_dir):
        self.name = unit.replace("@", f"@{instance}") if instance else unit
        s = {k: v[-1] for k, v in unit_service(os.path.join(UNITDIR, f"{unit}.service")).items()}
        assert s["Type"] == "notify" and s["User"] == "mcops", s
        self.argv = shlex.split(s["ExecStart"].replace("%i", instance or ""))
        self.user, self.umask = s["User"], int(s.get("UMask", "0022"), 8)
        # In the abstract namespace, as systemd's own is: no file whose directory the
        # service user must be able to reach.
        self.notify_name = f"@mcops-test-{os.getpid()}-{self.name}"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.notify_name[1:])
        self.log_path = os.path.join(log_dir, f"{self.name}.log")
        self.proc = None

    def check_argv(self):
        return self.argv + ["-n"]

    def start(self):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "NOTIFY_SOCKET": self.notify_name,
               "LANG": "C.UTF-8"}
        umask = self.umask
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                ["setpriv", f"--reuid={self.user}", f"--regid={self.user}", "--init-groups",
                 "--"] + self.argv, stdout=log, stderr=subprocess.STDOUT, env=env, cwd="/",
                start_new_session=True, preexec_fn=lambda: os.umask(umask))

    def wait_ready(self, timeout=60):
        self.sock.settimeout(0.5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited: {self.log()}"
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            if "READY=1" in msg.split("\n"):
                return
        raise AssertionError(f"{self.name}: no READY=1 in {timeout}s: {self.log()}")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.sock.close()

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-2000:]
        except OSError:
            return ""


def mctl(*args):
    """The installed mctl, as an operator runs it: no -f, no $MCOPS_CONFIG."""
    env = {k: v for k, v in os.environ.items() if k != "MCOPS_CONFIG"}
    return run(["/usr/bin/mctl"] + list(args), env=env, cwd="/", timeout=30)


@pytest.fixture(scope="module")
def deb():
    """make deb's package (built once for this module; $MCOPS_DEB names one already
    built, to iterate on this test)."""
    if os.environ.get("MCOPS_DEB"):
        return os.environ["MCOPS_DEB"]
    r = run(["make", "-s", "-C", ROOT, "deb"], timeout=1800, check=False, env=clean_make_env())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = glob.glob(os.path.join(ROOT, "build", "deb", f"{PACKAGE}_*_amd64.deb"))
    assert len(debs) == 1, debs
    return debs[0]


def test_lintian_finds_no_error_in_the_package(deb):
    r = run(["lintian", "--tag-display-limit", "0", deb], check=False, timeout=600)
    errors = [l for l in r.stdout.splitlines() if l.startswith("E:")]
    assert errors == [] and r.returncode in (0, 1), r.stdout + r.stderr


def test_package_installs_runs_one_incident_and_is_removed_without_a_trace(deb, tmp_path):
    assert package_status() == "", f"{PACKAGE} is already on this machine: not touching it"
    there = [p for p in OWN_PATHS if os.path.lexists(p)]
    assert there == [], f"already on this machine (not the test's to remove): {there}"
    busy = [p for p in PORTS if port_in_use(p)]
    assert busy == [], f"ports of the example configuration in use by another process: {busy}"
    # A user mcops made by someone else (scripts/demo as root) is left to them.
    user_before = user_exists("mcops")
    units = []
    try:
        run(["dpkg", "-i", deb], timeout=300)
        assert package_status() == "ii"

        # What the package put in place, and what postinst made.
        assert user_exists("mcops")
        st = os.stat("/var/lib/mcops")
        assert pwd.getpwuid(st.st_uid).pw_name == "mcops"
        assert os.path.isdir("/var/lib/mcops/www")
        conffiles = run(["dpkg-query", "-W", "-f=${Conffiles}", PACKAGE]).stdout
        assert CONF in conffiles
        for name in ("ops", "probe", "pager"):
            st = os.stat(f"/etc/mcops/secrets/{name}.pw")
            assert st.st_mode & 0o007 == 0 and os.path.getsize(f"/etc/mcops/secrets/{name}.pw") > 16
        assert pwd.getpwuid(os.stat("/etc/mcops/tenants").st_uid).pw_name == "mcops"
        assert run(["man", "-w", "mcops.conf"]).stdout.strip().startswith("/usr/share/man/man5/")

        # The installed units pass systemd-analyze verify (man pages found too).
        inst = tmp_path / "instance"
        inst.mkdir()
        os.symlink(f"{UNITDIR}/mcd@.service", inst / "mcd@n1.service")
        for unit in (str(inst / "mcd@n1.service"), f"{UNITDIR}/mcmon.service",
                     f"{UNITDIR}/mcalert.service", f"{UNITDIR}/mcstatus.service"):
            r = run(["systemd-analyze", "verify", unit], check=False, timeout=60)
            assert r.returncode == 0, f"{unit}: {r.stdout}{r.stderr}"

        # The units' command lines, as the units give them.
        for node in NODES:
            units.append(Unit("mcd@", node, str(tmp_path)))
        for daemon in ("mcmon", "mcalert", "mcstatus"):
            units.append(Unit(daemon, None, str(tmp_path)))
        by_name = {u.name: u for u in units}

        # -n against the installed configuration, as the service user.
        for u in units:
            r = run(["setpriv", "--reuid=mcops", "--regid=mcops", "--init-groups", "--"]
                    + u.check_argv(), check=False, cwd="/", timeout=30)
            assert r.returncode == 0, f"{u.check_argv()}: {r.stdout}{r.stderr}"

        for u in units:
            u.start()
            u.wait_ready()
        # The status page is rendered into the site directory and served.
        wait_for("the status page", lambda: os.path.exists("/var/lib/mcops/www/index.html"), 30)
        assert oct(os.stat("/var/lib/mcops/www/index.html").st_mode & 0o777) == "0o644"

        # One incident: node n2 stops; mcmon opens node_down; the installed mctl (its
        # compiled-in default: /etc/mcops/mcops.conf) reads it from the installed log.
        wait_for("mcmon's view of n2 up", lambda: '"n2"' in open_or("/var/lib/mcops/mcmon.json"), 30)
        by_name["mcd@n2"].stop()

        def node_down():
            doc = json.loads(mctl("--json", "incidents").stdout)
            return [i for i in doc["incidents"] if i["kind"] == "node_down" and i["node"] == "n2"]
        inc = wait_for("a node_down incident for n2", node_down, 60)[0]
        shown = mctl("show", str(inc["id"])).stdout
        assert "node_down" in shown or "n2" in shown, shown
        for u in units:
            if u.name != "mcd@n2":
                assert u.proc.poll() is None, f"{u.name} exited: {u.log()}"
    finally:
        for u in reversed(units):
            u.stop()
        after_remove = None
        if package_status().startswith("i"):
            removed = run(["dpkg", "-r", PACKAGE], check=False)
            after_remove = (removed.returncode, package_status(), os.path.exists(CONF),
                            [p for p in OWN_PATHS if os.path.lexists(p)])
        if package_status() != "":
            run(["dpkg", "-P", PACKAGE], check=False)

    # After dpkg -r: the conffile, what postinst made beside it, and the state.
    assert after_remove == (0, "rc", True, ["/etc/mcops", "/var/lib/mcops"]), after_remove
    # After dpkg -P: nothing, and the user only if it was there before.
    assert package_status() == ""
    assert [p for p in OWN_PATHS if os.path.lexists(p)] == []
    assert user_exists("mcops") == user_before
    assert group_exists("mcops") == user_before


def open_or(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""
