"""memcached 1.6.18's own tests (Debian's source package, t/) against mcd as an external
server, through scripts/memcached-t: every test file that applies and is not a listed
known difference passes, and docs/mcd.md lists the same classification as the script
(each file that does not apply and each known difference, with its reason). The known
differences are not run here: two of them wait for their timeout; `scripts/memcached-t`
without --passing runs them."""
import json
import os
import subprocess
import sys

from conftest import BIN

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "memcached-t")


def run_script(*args, timeout):
    env = dict(os.environ, MCOPS_BIN=BIN)
    return subprocess.run([sys.executable, SCRIPT, *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def test_docs_list_every_t_file_as_the_script_classifies_it():
    table = run_script("--markdown", timeout=30)
    assert table.returncode == 0, table.stderr
    with open(os.path.join(ROOT, "docs", "mcd.md")) as f:
        docs = f.read()
    missing = [l for l in table.stdout.splitlines() if l not in docs]
    assert not missing, "docs/mcd.md lacks these rows of `scripts/memcached-t --markdown`:\n" + \
        "\n".join(missing)


def test_memcached_t_files_that_apply_pass_against_mcd():
    # fetches the source package the first time (apt-get source memcached)
    r = run_script("--json", "--passing", timeout=1800)
    results = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    assert results, "no results: " + (r.stdout + r.stderr)[-2000:]
    expected = [x for x in results if x["kind"] == "pass"]
    assert expected, "the script ran no test expected to pass"
    failed = ["%s: %s %s" % (x["test"], x["verdict"], x["reason"])
              for x in expected if x["verdict"] != "PASS"]
    assert not failed, "memcached t/ files expected to pass against mcd:\n" + "\n".join(failed)
    assert r.returncode == 0, (r.stdout + r.stderr)[-2000:]
