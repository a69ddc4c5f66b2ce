"""`mctl tenant` against a tenants file in a temporary directory.

Drives the real bin/mctl and checks the file it writes independently: the salted
SHA-256 is recomputed here with hashlib, so a generated password is known to work
without trusting mctl's own verification.
"""
import hashlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

from conftest import binary, free_port, wait_port

SALT_HEX = 32
HASH_HEX = 64
LINE_RE = re.compile(r"^([A-Za-z0-9_.-]+):sha256\$([0-9a-f]{32})\$([0-9a-f]{64}):(\d+):([a-z,]*)$")


def mctl(cwd, *args, umask=None):
    """Runs bin/mctl in cwd with no inherited configuration; stdin is not a terminal."""
    env = dict(os.environ)
    env.pop("MCOPS_CONFIG", None)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
    pre = (lambda: os.umask(umask)) if umask is not None else None
    return subprocess.run([binary("mctl"), *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=20, preexec_fn=pre)


def entries(path):
    """name -> (salt bytes, hash bytes, limit, caps list), from the file as written."""
    out = {}
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            m = LINE_RE.match(line)
            assert m, f"malformed line in {path}: {line!r}"
            name, salt, digest, limit, caps = m.groups()
            out[name] = (bytes.fromhex(salt), bytes.fromhex(digest), int(limit),
                         caps.split(",") if caps else [])
    return out


def verifies(entry, password):
    salt, digest = entry[0], entry[1]
    return hashlib.sha256(salt + password.encode()).digest() == digest


def shown_password(stdout, name):
    """The password from the human 'add'/'passwd' block (the line after the auth set)."""
    m = re.search(rf"set {re.escape(name)} 0 0 (\d+)\n\s+(\S+)\n", stdout)
    assert m, f"no password block in:\n{stdout}"
    assert int(m.group(1)) == len(m.group(2))
    return m.group(2)


@pytest.fixture
def work(tmp_path):
    (tmp_path / "etc").mkdir()
    return tmp_path


def test_add_prints_a_generated_password_once_that_verifies(work):
    r = mctl(work, "tenant", "add", "acme", "--limit", "64M")
    assert r.returncode == 0, r.stderr
    pw = shown_password(r.stdout, "acme")
    assert re.fullmatch(r"[A-Za-z0-9]{32}", pw)
    assert r.stdout.count(pw) == 2  # once in the block, once in the example 'set'
    assert "only" in r.stdout and "kill -HUP" in r.stdout
    e = entries(work / "etc" / "tenants")
    assert list(e) == ["acme"]
    assert e["acme"][2] == 64 << 20
    assert e["acme"][3] == ["read", "write", "flush"]
    assert verifies(e["acme"], pw)
    assert not verifies(e["acme"], pw[:-1])
    text = (work / "etc" / "tenants").read_text()
    assert pw not in text
    # Nothing later shows it again.
    listing = mctl(work, "tenant", "list")
    assert pw not in listing.stdout and "sha256" not in listing.stdout


def test_add_json_gives_name_password_limit_caps(work):
    r = mctl(work, "tenant", "add", "beta", "--limit", "1G", "--caps", "read,write", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["name"] == "beta" and doc["limit"] == 1 << 30 and doc["caps"] == ["read", "write"]
    assert verifies(entries(work / "etc" / "tenants")["beta"], doc["password"])


def test_two_adds_get_different_passwords_and_salts(work):
    a = json.loads(mctl(work, "tenant", "add", "a", "--json").stdout)
    b = json.loads(mctl(work, "tenant", "add", "b", "--json").stdout)
    assert a["password"] != b["password"]
    e = entries(work / "etc" / "tenants")
    assert e["a"][0] != e["b"][0]
    assert not verifies(e["a"], b["password"])


def test_list_human_and_json_show_limits_and_caps_never_hashes(work):
    assert mctl(work, "tenant", "add", "web", "--limit", "512K", "--caps", "read").returncode == 0
    assert mctl(work, "tenant", "add", "app").returncode == 0
    assert mctl(work, "tenant", "add", "ops", "--admin").returncode == 0
    r = mctl(work, "tenant", "list")
    assert r.returncode == 0, r.stderr
    rows = [line.split() for line in r.stdout.strip().splitlines()]
    assert rows[0] == ["NAME", "LIMIT", "MAXCONN", "NEW/S", "CAPS"]
    assert rows[1:] == [["app", "64M", "-", "-", "read,write,flush"],
                        ["ops", "-", "-", "-", "admin"], ["web", "512K", "-", "-", "read"]]
    j = mctl(work, "tenant", "list", "--json")
    assert j.returncode == 0, j.stderr
    doc = json.loads(j.stdout)
    assert [t["name"] for t in doc["tenants"]] == ["app", "ops", "web"]
    assert doc["tenants"][2] == {"name": "web", "limit": 512 << 10, "caps": ["read"],
                                 "max_connections": 0, "new_per_second": 0}
    assert doc["tenants"][1]["caps"] == ["admin"]
    for out in (r.stdout, j.stdout):
        assert "sha256" not in out and "$" not in out


def test_list_of_an_empty_file_and_of_a_missing_one(work):
    (work / "etc" / "tenants").write_text("# nothing yet\n")
    r = mctl(work, "tenant", "list", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["tenants"] == []
    (work / "etc" / "tenants").unlink()
    r = mctl(work, "tenant", "list")
    assert r.returncode == 3
    assert "etc/tenants" in r.stderr and "No such file" in r.stderr


def test_duplicate_add_fails_with_exit_1_and_leaves_file_unchanged(work):
    assert mctl(work, "tenant", "add", "acme").returncode == 0
    path = work / "etc" / "tenants"
    before, st = path.read_bytes(), path.stat()
    r = mctl(work, "tenant", "add", "acme", "--limit", "1G")
    assert r.returncode == 1
    assert r.stderr.strip() == "mctl: tenant 'acme' already exists"
    assert r.stdout == ""
    assert path.read_bytes() == before
    assert path.stat().st_ino == st.st_ino  # not even rewritten


@pytest.mark.parametrize("args, message", [
    (["add", "bad name"], "mctl: invalid tenant name 'bad name'"),
    (["add", "a:b"], "mctl: invalid tenant name 'a:b'"),
    (["add", "x" * 65], "mctl: invalid tenant name"),
    (["add", "ok", "--limit", "64Q"], "mctl: invalid size '64Q' (e.g. 64M, 1G)"),
    (["add", "ok", "--limit", "-1"], "mctl: invalid size '-1'"),
    (["add", "ok", "--limit", "2T"], "mctl: size '2T' out of range"),
    (["add", "ok", "--caps", "read,root"], "mctl: invalid capabilities 'read,root'"),
    (["add", "ok", "--caps", "read,admin"], "mctl: capability 'admin' cannot be combined"),
    (["add", "ok", "--admin", "--limit", "1G"], "mctl: --admin takes neither"),
    (["add"], "mctl: 'tenant add' takes 1 argument"),
    (["list", "--limit", "1G"], "mctl: option '--limit' does not apply to 'tenant list'"),
    (["frobnicate"], "mctl: unknown tenant command 'frobnicate'"),
    (["add", "ok", "--file"], "mctl: option '--file' needs a value"),
    (["add", "ok", "--max-connections", "-1"], "mctl: invalid --max-connections '-1'"),
    (["add", "ok", "--new-per-second", "10000001"], "mctl: invalid --new-per-second"),
    (["add", "ok", "--admin", "--max-connections", "5"], "mctl: --admin takes neither"),
    (["connlimit", "ok"], "mctl: 'tenant connlimit' needs --max-connections"),
    (["connlimit", "ok", "--max-connections", "x"], "mctl: invalid --max-connections 'x'"),
    (["limit", "ok", "1G", "--new-per-second", "5"],
     "mctl: option '--new-per-second' does not apply to 'tenant limit'"),
])
def test_bad_arguments_exit_2_and_write_nothing(work, args, message):
    r = mctl(work, "tenant", *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith(message), r.stderr
    assert not (work / "etc" / "tenants").exists()


def test_remove_needs_confirmation_then_removes_only_that_tenant(work):
    for name in ("a", "b"):
        assert mctl(work, "tenant", "add", name).returncode == 0
    path = work / "etc" / "tenants"
    before = path.read_bytes()
    r = mctl(work, "tenant", "remove", "a")  # stdin is not a terminal, no --yes
    assert r.returncode == 2 and "--yes" in r.stderr
    assert path.read_bytes() == before
    r = mctl(work, "tenant", "remove", "a", "--yes")
    assert r.returncode == 0, r.stderr
    assert "kill -HUP" in r.stdout
    assert list(entries(path)) == ["b"]
    r = mctl(work, "tenant", "remove", "a", "--yes")
    assert r.returncode == 1
    assert r.stderr.strip() == "mctl: no tenant 'a' in etc/tenants"


def test_passwd_changes_the_hash_and_only_the_new_password_verifies(work):
    old = json.loads(mctl(work, "tenant", "add", "acme", "--json").stdout)["password"]
    path = work / "etc" / "tenants"
    before = entries(path)["acme"]
    r = mctl(work, "tenant", "passwd", "acme")
    assert r.returncode == 0, r.stderr
    new = shown_password(r.stdout, "acme")
    after = entries(path)["acme"]
    assert after[0] != before[0] and after[1] != before[1]
    assert after[2:] == before[2:]  # limit and caps kept
    assert verifies(after, new) and not verifies(after, old)
    r = mctl(work, "tenant", "passwd", "nobody")
    assert r.returncode == 1 and "no tenant 'nobody'" in r.stderr


def test_file_mode_is_0600_even_with_a_permissive_umask(work):
    assert mctl(work, "tenant", "add", "acme", umask=0).returncode == 0
    path = work / "etc" / "tenants"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    os.chmod(path, 0o644)  # loosened by hand: the next write tightens it again
    assert mctl(work, "tenant", "limit", "acme", "128M", umask=0).returncode == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in (work / "etc").iterdir()] == ["tenants"]  # no temp file left


def test_password_file_is_used_and_never_printed(work):
    secret = "s3cret-from-a-file-0123456789"
    (work / "pw").write_text(secret + "\n")
    r = mctl(work, "tenant", "add", "demo", "--password-file", "pw")
    assert r.returncode == 0, r.stderr
    assert secret not in r.stdout and secret not in r.stderr
    assert verifies(entries(work / "etc" / "tenants")["demo"], secret)
    j = mctl(work, "tenant", "passwd", "demo", "--password-file", "pw", "--json")
    assert j.returncode == 0 and "password" not in json.loads(j.stdout)


@pytest.mark.parametrize("content", ["short\n", "has a space in it 0123456789\n", "\n"])
def test_weak_or_odd_password_file_is_refused(work, content):
    (work / "pw").write_text(content)
    r = mctl(work, "tenant", "add", "demo", "--password-file", "pw")
    assert r.returncode in (1, 2)
    assert content.strip() == "" or content.strip() not in r.stderr
    assert not (work / "etc" / "tenants").exists()


def test_limit_and_caps_change_one_field(work):
    assert mctl(work, "tenant", "add", "acme").returncode == 0
    path = work / "etc" / "tenants"
    assert mctl(work, "tenant", "limit", "acme", "2G").returncode == 0
    assert entries(path)["acme"][2] == 2 << 30
    r = mctl(work, "tenant", "caps", "acme", "read,flush", "--json")
    assert r.returncode == 0
    assert json.loads(r.stdout)["caps"] == ["read", "flush"]
    assert entries(path)["acme"][2:] == (2 << 30, ["read", "flush"])
    before = path.read_bytes()
    assert mctl(work, "tenant", "limit", "acme", "lots").returncode == 2
    assert mctl(work, "tenant", "caps", "acme", "everything").returncode == 2
    assert mctl(work, "tenant", "limit", "ghost", "1G").returncode == 1
    assert path.read_bytes() == before


def test_path_comes_from_the_mcd_section_of_the_config_and_file_overrides(work):
    (work / "conf").mkdir()
    (work / "etc" / "mcops.conf").write_text("[mcd]\nthreads = 2\ntenants = conf/tenants\n")
    assert mctl(work, "tenant", "add", "viaconfig").returncode == 0
    assert list(entries(work / "conf" / "tenants")) == ["viaconfig"]
    assert not (work / "etc" / "tenants").exists()
    assert mctl(work, "tenant", "add", "viaflag", "--file", "other").returncode == 0
    assert list(entries(work / "other")) == ["viaflag"]
    # -f names another configuration; a broken one is a configuration error.
    (work / "bad.conf").write_text("[mcd\n")
    r = mctl(work, "-f", "bad.conf", "tenant", "list")
    assert r.returncode == 3 and "bad.conf:1:" in r.stderr


def test_a_corrupt_file_is_reported_as_path_line_and_not_rewritten(work):
    path = work / "etc" / "tenants"
    good = "acme:sha256$" + "0" * SALT_HEX + "$" + "1" * HASH_HEX + ":1024:read\n"
    path.write_text("# hand-edited\n" + good + good.replace("read", "read,root"))
    before = path.read_bytes()
    for args in (["list"], ["add", "new"], ["remove", "acme", "--yes"]):
        r = mctl(work, "tenant", *args)
        assert r.returncode == 3, (args, r.stderr)
        assert "etc/tenants:3:" in r.stderr, r.stderr
        assert path.read_bytes() == before
    path.write_text(good + good)
    r = mctl(work, "tenant", "list")
    assert r.returncode == 3
    assert "etc/tenants:2: duplicate tenant 'acme' (first on line 1)" in r.stderr


def test_help_exits_0_and_bare_tenant_is_a_usage_error(work):
    r = mctl(work, "tenant", "--help")
    assert r.returncode == 0 and "mctl tenant" in r.stdout and "passwd" in r.stdout
    r = mctl(work, "tenant", "add", "--help")
    assert r.returncode == 0
    r = mctl(work, "tenant")
    assert r.returncode == 2 and "usage" in r.stderr


def test_concurrent_adds_lose_no_tenant(work):
    """Each add reads, changes and renames the whole file; the directory lock keeps
    parallel operators from overwriting each other's change."""
    env = dict(os.environ)
    env.pop("MCOPS_CONFIG", None)
    names = [f"t{i}" for i in range(8)]
    ps = [subprocess.Popen([binary("mctl"), "tenant", "add", n, "--json"], cwd=work, env=env,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE) for n in names]
    try:
        results = [p.communicate(timeout=20) for p in ps]
    finally:
        for p in ps:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=5)
    assert [p.returncode for p in ps] == [0] * len(names), [r[1] for r in results]
    e = entries(work / "etc" / "tenants")
    assert sorted(e) == sorted(names)
    for n, (out, _) in zip(names, results):
        assert verifies(e[n], json.loads(out)["password"])


def auth_reply(port, name, password, timeout=5.0):
    """Sends the auth set (and a version) to mcd; returns everything it answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(f"set {name} 0 0 {len(password)}\r\n{password}\r\nversion\r\n".encode())
        data = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not (b"VERSION" in data or b"ERROR" in data):
            chunk = c.recv(4096)
            if not chunk:
                break
            data += chunk
        return data.decode("ascii", "replace")


def test_mcd_accepts_the_printed_password_and_a_new_one_after_sighup(work, procs):
    """The file mctl writes is the file mcd reads: the password printed by add
    authenticates, and after passwd and SIGHUP only the new one does."""
    old = json.loads(mctl(work, "tenant", "add", "acme", "--json").stdout)["password"]
    port = free_port()
    mcd = procs.start([binary("mcd"), "-p", str(port), "-l", "127.0.0.1",
                       "--tenants", str(work / "etc" / "tenants"),
                       "--admin-port", str(free_port())], cwd=work)
    wait_port(port, proc=mcd)
    assert auth_reply(port, "acme", old).startswith("STORED\r\nVERSION")
    assert "CLIENT_ERROR authentication failure" in auth_reply(port, "acme", old[:-1] + "!")

    new = json.loads(mctl(work, "tenant", "passwd", "acme", "--json").stdout)["password"]
    os.kill(mcd.pid, signal.SIGHUP)
    deadline = time.monotonic() + 30
    while "STORED" not in auth_reply(port, "acme", new) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert auth_reply(port, "acme", new).startswith("STORED\r\nVERSION")
    assert "CLIENT_ERROR authentication failure" in auth_reply(port, "acme", old)
