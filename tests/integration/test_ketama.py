"""lib/ketama places every key where nutcracker (twemproxy) puts it.

Real memcached backends on free loopback ports behind a real nutcracker with
`distribution: ketama` and `hash: md5`; 10,000 keys are set through nutcracker,
then every backend is asked directly which of them it holds, and the answer must
equal lib/ketama's placement (tests/tools/ketama_place) for every key. The
configurations mix named and unnamed servers (nutcracker hashes the name, else
"host:port") and unequal weights. Every process is stopped by pid (`procs`).
"""
import shutil
import socket
import subprocess

import pytest

from conftest import free_port, tool, wait_port

KETAMA_PLACE = tool("tests/tools/ketama_place")
NKEYS = 10000
SET_BATCH = 500  # pipelined sets per round trip
GET_BATCH = 100  # keys per multi-get

pytestmark = pytest.mark.skipif(
    shutil.which("nutcracker") is None or shutil.which("memcached") is None,
    reason="nutcracker or memcached not installed")


def keys():
    # Varied lengths and shapes; no whitespace or control bytes (memcache keys).
    return [f"user:{i}:" + "x" * (i % 37) if i % 3 else f"k{i * 7919 % 100003:x}.{i}"
            for i in range(NKEYS)]


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"closed with {self.buf!r} pending")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def close(self):
        self.sock.close()


def set_all(port, ks):
    """Sets every key through port, SET_BATCH commands per round trip."""
    c = Conn(port)
    try:
        for start in range(0, len(ks), SET_BATCH):
            batch = ks[start:start + SET_BATCH]
            c.sock.sendall(b"".join(f"set {k} 0 0 1\r\nv\r\n".encode() for k in batch))
            for k in batch:
                reply = c.line()
                assert reply == b"STORED", f"set {k}: {reply!r}"
    finally:
        c.close()


def held_keys(port, ks):
    """The keys of ks that the memcached on port holds."""
    c = Conn(port)
    held = set()
    try:
        for start in range(0, len(ks), GET_BATCH):
            batch = ks[start:start + GET_BATCH]
            c.sock.sendall(("get " + " ".join(batch) + "\r\n").encode())
            while True:
                line = c.line()
                if line == b"END":
                    break
                parts = line.split()
                assert parts[0] == b"VALUE", line
                held.add(parts[1].decode())
                c.line()  # the value
    finally:
        c.close()
    return held


def start_memcached(procs):
    port = free_port()
    p = procs.start(["memcached", "-u", "nobody", "-l", "127.0.0.1", "-p", str(port),
                     "-U", "0", "-t", "1", "-m", "16"], name="memcached")
    wait_port(port, proc=p)
    return port


def start_nutcracker(procs, tmp_path, server_lines):
    port, stats_port = free_port(), free_port()
    conf = tmp_path / "nutcracker.yml"
    conf.write_text("pool:\n"
                    f"  listen: 127.0.0.1:{port}\n"
                    "  hash: md5\n"
                    "  distribution: ketama\n"
                    "  auto_eject_hosts: false\n"
                    "  timeout: 5000\n"
                    "  servers:\n" + "".join(f"   - {s}\n" for s in server_lines))
    check = subprocess.run(["nutcracker", "-t", "-c", str(conf)], capture_output=True,
                           timeout=10)
    assert check.returncode == 0, check.stderr.decode()
    p = procs.start(["nutcracker", "-c", str(conf), "-s", str(stats_port),
                     "-a", "127.0.0.1", "-p", str(tmp_path / "nutcracker.pid"),
                     "-o", str(tmp_path / "nutcracker.log")], name="nutcracker")
    wait_port(port, proc=p)
    return port


def ketama_place(server_lines, ks):
    out = subprocess.run([KETAMA_PLACE, *server_lines], input="".join(k + "\n" for k in ks),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    placed = {}
    for line in out.stdout.splitlines():
        key, index = line.rsplit(" ", 1)
        placed[key] = int(index)
    assert len(placed) == len(ks)
    return placed


# (name or None, weight) per backend; None lists the server as host:port:weight.
CONFIGS = {
    "unnamed-equal": [(None, 1), (None, 1), (None, 1)],
    "named-weighted": [("alpha", 1), ("beta", 2), ("gamma", 1), ("delta", 3), ("epsilon", 1)],
    "mixed": [("cache-a", 2), (None, 1), ("cache-c", 1), (None, 4)],
}


@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_every_key_lands_where_lib_ketama_places_it(procs, tmp_path, config):
    backends = CONFIGS[config]
    ports = [start_memcached(procs) for _ in backends]
    lines = [f"127.0.0.1:{port}:{weight}" + (f" {name}" if name else "")
             for port, (name, weight) in zip(ports, backends)]
    proxy = start_nutcracker(procs, tmp_path, lines)
    ks = keys()

    set_all(proxy, ks)
    holder = {}
    for index, port in enumerate(ports):
        for k in held_keys(port, ks):
            assert k not in holder, f"{k} on backends {holder[k]} and {index}"
            holder[k] = index
    assert len(holder) == NKEYS, f"{NKEYS - len(holder)} keys on no backend"

    placed = ketama_place(lines, ks)
    wrong = [(k, holder[k], placed[k]) for k in ks if holder[k] != placed[k]]
    assert not wrong, f"{len(wrong)} keys differ, e.g. (key, nutcracker, ours): {wrong[:5]}"
    # Every backend got a share: a test that put everything on one would prove little.
    for index in range(len(ports)):
        assert sum(1 for v in holder.values() if v == index) > NKEYS // (10 * len(ports))


def test_ketama_place_refuses_a_bad_server_list():
    for args in (["127.0.0.1:1:0"], ["127.0.0.1:1:1 same", "127.0.0.1:2:1 same"],
                 ["127.0.0.1:1"]):
        out = subprocess.run([KETAMA_PLACE, *args], input="k\n", capture_output=True,
                             text=True, timeout=10)
        assert out.returncode == 1, (args, out)
        assert out.stdout == ""
        assert "ketama_place:" in out.stderr
