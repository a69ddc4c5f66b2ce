"""mcd under abusive clients: every limit holds, and what a client sees when it hits
one (docs/mcd.md, "Limits"). Memory is judged by the server's own accounting (stats)
or its RSS with generous bounds; every wait is synchronised by a protocol reply."""
import os
import signal
import socket
import subprocess

import pytest

from conftest import binary
from mcdtest import Raw, add_tenant, start_mcd


@pytest.fixture
def tenants(tmp_path):
    path = tmp_path / "tenants"
    pw = {
        "acme": add_tenant(path, "acme"),
        "beta": add_tenant(path, "beta"),
        "ops": add_tenant(path, "ops", admin=True),
    }
    return path, pw


def login(mcd, pw, user="acme"):
    r = mcd.raw()
    assert r.auth(user, pw[user]) == "STORED"
    return r


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


# --- a refused storage command's data block is never run ---------------------------------

@pytest.mark.parametrize("line", [
    "set k 4294967296 0 9",        # flags above 32 bits
    "set k x 0 9",                 # flags not a number
    "set k 0 x 9",                 # exptime not a number
    "set k 0 0 9 noreply extra",   # too many tokens
    "cas k 0 0 9 x",               # bad cas unique
    "set " + "k" * 251 + " 0 0 9",  # key too long
])
def test_refused_set_does_not_run_its_data_block(procs, tenants, line):
    m = start_mcd(procs, tenants=tenants[0])
    r = login(m, tenants[1])
    assert r.cmd("set keep 0 0 1\r\nv\r\n") == "STORED"
    reply = r.cmd("%s\r\nflush_all\r\n" % line)
    assert reply.startswith(("CLIENT_ERROR", "ERROR")), reply
    # The next reply answers this get, not a flush_all run from the data block.
    r.send("get keep\r\n")
    assert r.until_end() == (["VALUE keep 0 1", "v"], "END")
