"""What ships besides the binaries: the man pages (mandoc's lint, and in step with
each program's --help), the systemd units (systemd-analyze verify, the sandbox the
issue asks for) and `make install` (what goes where, and that the installed programs
default to the installed paths). The Debian package itself: test_package.py."""
import os
import re
import shutil
import stat
import subprocess

import pytest

from conftest import ROOT, binary
from disttest import clean_make_env, unit_service

MAN = os.path.join(ROOT, "man")
UNITS = os.path.join(ROOT, "dist", "systemd")
# Each program and its man page.
PAGES = {"mcd": "mcd.8", "mcmon": "mcmon.8", "mcalert": "mcalert.8",
         "mcstatus": "mcstatus.8", "mctl": "mctl.1"}
DAEMONS = ("mcd", "mcmon", "mcalert", "mcstatus")


def man_sections(path):
    """{section name: [lines]} of an mdoc page (.Sh NAME ...)."""
    sections, name = {}, None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith(".Sh "):
                name = line[4:].strip()
                sections[name] = []
            elif name is not None:
                sections[name].append(line)
    return sections


def man_options(path):
    """The options an mdoc page lists in OPTIONS: every Fl of each .It line
    (`.It Fl p , Fl \\-port Ar port` gives -p and --port)."""
    opts = set()
    for line in man_sections(path).get("OPTIONS", []):
        if line.startswith(".It "):
            for flag in re.findall(r"\bFl\s+(\S+)", line):
                opts.add("-" + flag.replace("\\-", "-"))
    return opts


def help_options(text):
    """The options a --help text lists: each line that starts (indented) with an
    option, and its long form after a comma (`  -p, --port PORT`)."""
    opts = set()
    for line in text.splitlines():
        m = re.match(r"^\s{2,}(-[A-Za-z]|--[a-z][a-z-]*)(?:,\s+(--[a-z][a-z-]*))?(?=\s|$)", line)
        if m:
            opts.update(o for o in m.groups() if o)
    return opts


def program_help(name):
    r = subprocess.run([binary(name), "-h"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    return r.stdout


def help_commands(text):
    """mctl's commands: the first word of each line of the Commands: block."""
    block = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^  ([a-z]+)\s", block, re.M)}


def man_commands(path):
    return {m.group(1) for line in man_sections(path).get("COMMANDS", [])
            for m in [re.match(r"^\.It Cm ([a-z]+)", line)] if m}


@pytest.mark.parametrize("page", sorted(os.listdir(MAN)))
def test_man_page_is_clean_under_mandoc_lint(page):
    # Warnings and errors only: "referenced manual not found" (STYLE) is about the
    # pages installed on this machine, not ours.
    r = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", os.path.join(MAN, page)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and r.stdout + r.stderr == "", r.stdout + r.stderr


def test_every_program_and_the_configuration_have_a_page():
    assert sorted(os.listdir(MAN)) == sorted(list(PAGES.values()) + ["mcops.conf.5"])


@pytest.mark.parametrize("program", sorted(PAGES))
def test_help_and_man_page_list_the_same_options(program):
    in_help = help_options(program_help(program))
    in_page = man_options(os.path.join(MAN, PAGES[program]))
    assert in_help, f"no options found in {program} -h"
    assert in_help - in_page == set(), f"in {program} -h but not in man/{PAGES[program]}"
    assert in_page - in_help == set(), f"in man/{PAGES[program]} but not in {program} -h"


def test_mctl_help_and_man_page_list_the_same_commands():
    in_help = help_commands(program_help("mctl"))
    in_page = man_commands(os.path.join(MAN, "mctl.1"))
    assert len(in_help) > 10
    assert in_help - in_page == set(), "in mctl -h but not in man/mctl.1"
    assert in_page - in_help == set(), "in man/mctl.1 but not in mctl -h"


def test_the_option_checker_sees_a_missing_option():
    # The checkers above must not pass by reading nothing.
    assert help_options("  -p, --port PORT   x\n      --node NAME  y\n  -v  z\n  text -q\n") == \
        {"-p", "--port", "--node", "-v"}
    assert "--tls-key" in man_options(os.path.join(MAN, "mcd.8"))
    assert "statuspage" in man_commands(os.path.join(MAN, "mctl.1"))


def unit_files(tmp_path, sbindir):
    """The units as `make install` writes them, with sbindir for the programs, into
    tmp_path/units; mcd@.service also as the instance mcd@n1.service."""
    out = tmp_path / "units"
    out.mkdir()
    for name in sorted(os.listdir(UNITS)):
        with open(os.path.join(UNITS, name)) as f:
            text = f.read()
        text = (text.replace("@SBINDIR@", sbindir).replace("@SYSCONFDIR@", "/etc/mcops")
                .replace("@STATEDIR@", "/var/lib/mcops"))
        (out / name[:-3]).write_text(text)
    os.symlink("mcd@.service", out / "mcd@n1.service")
    return out


def test_units_pass_systemd_analyze_verify(tmp_path):
    units = unit_files(tmp_path, os.path.dirname(binary("mcd")))
    # verify also runs `man` on each Documentation= page: our pages, found by MANPATH.
    man = tmp_path / "man"
    for page in os.listdir(MAN):
        section = man / f"man{page.rsplit('.', 1)[1]}"
        section.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(MAN, page), section)
    env = dict(os.environ, MANPATH=str(man), SYSTEMD_LOG_LEVEL="notice")
    for unit in ("mcd@n1.service", "mcmon.service", "mcalert.service", "mcstatus.service"):
        r = subprocess.run(["systemd-analyze", "verify", str(units / unit)], env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0 and r.stdout + r.stderr == "", f"{unit}: {r.stdout}{r.stderr}"


@pytest.mark.parametrize("daemon", DAEMONS)
def test_unit_is_a_notify_service_in_the_sandbox(daemon):
    s = unit_service(os.path.join(UNITS, f"{daemon}{'@' if daemon == 'mcd' else ''}.service.in"))
    want = {"Type": "notify", "User": "mcops", "Restart": "on-failure",
            "ExecReload": "/bin/kill -HUP $MAINPID", "NoNewPrivileges": "yes",
            "ProtectSystem": "strict", "PrivateTmp": "yes", "CapabilityBoundingSet": "",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX AF_NETLINK"}
    for k, v in want.items():
        assert s.get(k) == [v], f"{daemon}: {k}={s.get(k)}"
    # Writable: the state directory (the incident log, mcmon's view, the site) alone;
    # mcd writes nothing.
    assert s.get("ReadWritePaths") == (None if daemon == "mcd" else ["@STATEDIR@"])
    suffix = " --node %i" if daemon == "mcd" else ""
    assert s["ExecStart"] == [f"@SBINDIR@/{daemon} -f @SYSCONFDIR@/mcops.conf{suffix}"]


def test_make_install_puts_each_file_in_its_place(tmp_path):
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", "PREFIX=/usr",
                        "SYSTEMDUNITDIR=/lib/systemd/system"], env=clean_make_env(),
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    for d in DAEMONS:
        assert os.access(dest / "usr/sbin" / d, os.X_OK)
    assert os.access(dest / "usr/bin/mctl", os.X_OK)
    for unit in ("mcd@.service", "mcmon.service", "mcalert.service", "mcstatus.service"):
        text = (dest / "lib/systemd/system" / unit).read_text()
        assert re.search(r"@[A-Z]+@", text) is None, unit
        assert "ExecStart=/usr/sbin/" in text
    for page in PAGES.values():
        assert (dest / "usr/share/man" / f"man{page[-1]}" / page).exists()
    assert (dest / "usr/share/man/man5/mcops.conf.5").exists()
    conf = (dest / "etc/mcops/mcops.conf").read_text()
    assert "path = /var/lib/mcops/mcops.db" in conf and "dir = /var/lib/mcops/www" in conf
    assert stat.S_ISDIR(os.stat(dest / "var/lib/mcops/www").st_mode)
    # The installed build knows the installed paths; the checkout's keeps etc/ and var/.
    installed = subprocess.run([str(dest / "usr/bin/mctl"), "-h"], capture_output=True,
                               text=True, timeout=10).stdout
    assert "or /etc/mcops/mcops.conf)" in installed and "/var/lib/mcops/mcops.db" in installed
    checkout = program_help("mctl")
    assert "or etc/mcops.conf)" in checkout and "var/mcops.db" in checkout

    # An operator's edited configuration is never overwritten.
    (dest / "etc/mcops/mcops.conf").write_text("# mine\n")
    r = subprocess.run(["make", "-s", "-C", ROOT, "install", f"DESTDIR={dest}", "PREFIX=/usr"],
                       env=clean_make_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (dest / "etc/mcops/mcops.conf").read_text() == "# mine\n"


def test_the_installed_example_configuration_passes_every_check_mode(tmp_path):
    # The example as the package installs it, with its secrets and tenants file made
    # here as postinst makes them (test_package.py checks the installed one).
    conf = open(os.path.join(ROOT, "dist", "mcops.conf")).read()
    conf = conf.replace("/etc/mcops", str(tmp_path)).replace("/var/lib/mcops", str(tmp_path))
    (tmp_path / "mcops.conf").write_text(conf)
    (tmp_path / "secrets").mkdir()
    for name in ("ops", "probe", "pager"):
        (tmp_path / "secrets" / f"{name}.pw").write_text("0123456789abcdef0123456789abcdef\n")
    for name, caps in (("probe", ["--limit", "1M"]), ("ops", ["--admin"])):
        r = subprocess.run([binary("mctl"), "tenant", "add", name, "--file", str(tmp_path / "tenants"),
                            "--password-file", str(tmp_path / "secrets" / f"{name}.pw")] + caps,
                           capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, r.stderr
    path = str(tmp_path / "mcops.conf")
    for argv in ([binary("mcd"), "-f", path, "--node", "n1", "-n"],
                 [binary("mcd"), "-f", path, "--node", "n2", "-n"],
                 [binary("mcmon"), "-f", path, "-n"], [binary("mcalert"), "-f", path, "-n"],
                 [binary("mcstatus"), "-f", path, "-n"]):
        r = subprocess.run(argv, capture_output=True, text=True, timeout=10)
        assert r.returncode == 0, f"{argv}: {r.stdout}{r.stderr}"
