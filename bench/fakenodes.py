"""Many lightweight fake mcd nodes in one process, for measuring what watching them
costs the monitor (bench_mcmon.py). Fifty real mcd processes would measure the
machine's scheduler more than the monitor, so each fake node is two loopback
listeners of one asyncio process:

  - a client port that answers what mcmon's probes send: the auth `set` (STORED),
    `set <key> ...` (STORED), `get <key>` (the value last set, or END);
  - an admin port that answers the auth `set`, `stats` and `stats kernel` with replies
    shaped and sized like mcd's (about 55 and 45 STAT lines), with counters that move.

Usage: fakenodes.py --nodes N --out FILE   writes {"nodes": [[client, admin], ...]}
once listening, and serves until SIGTERM. Loopback only; no request is logged.
"""
import argparse
import asyncio
import json
import os
import signal
import time

STATS_NAMES = [
    "pid", "uptime", "time", "version", "pointer_size", "rusage_user", "rusage_system",
    "max_connections", "curr_connections", "total_connections", "rejected_connections",
    "connection_structures", "cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "cmd_meta",
    "get_hits", "get_misses", "get_expired", "get_flushed", "delete_misses", "delete_hits",
    "incr_misses", "incr_hits", "decr_misses", "decr_hits", "cas_misses", "cas_hits",
    "cas_badval", "touch_hits", "touch_misses", "auth_cmds", "auth_errors", "auth_timeouts",
    "bytes_read", "bytes_written", "accepting_conns", "listen_disabled_num", "threads",
    "conn_yields", "protocol_errors", "closed_line_too_long", "out_of_memory_errors",
    "log_lines", "log_lines_suppressed", "tenants", "limit_maxbytes", "bytes", "curr_items",
    "total_items", "expired_unfetched", "evicted_unfetched", "evictions", "reclaimed",
]
STATES = ["established", "syn_sent", "syn_recv", "fin_wait1", "fin_wait2", "time_wait", "close",
          "close_wait", "last_ack", "listen", "closing", "new_syn_recv"]


class Node:
    def __init__(self, index):
        self.index = index
        self.started = time.time()
        self.total = 2
        self.value = None

    def stats(self):
        self.total += 1  # one new connection a second, or so
        lines = []
        for name in STATS_NAMES:
            if name == "curr_connections":
                v = 12
            elif name == "total_connections":
                v = self.total
            elif name == "version":
                v = "1.6.18-fake"
            elif name == "uptime":
                v = int(time.time() - self.started)
            else:
                v = 0
            lines.append(f"STAT {name} {v}\r\n")
        return "".join(lines) + "END\r\n"

    def kernel(self, client_port, admin_port):
        lines = []
        for kind, port in (("client", client_port), ("admin", admin_port)):
            lines.append(f"STAT listener:{kind}:addr 127.0.0.1:{port}\r\n")
            for s in STATES:
                lines.append(f"STAT listener:{kind}:{s} {11 if s == 'established' else 0}\r\n")
            lines.append(f"STAT listener:{kind}:accept_queue 0\r\n")
            lines.append(f"STAT listener:{kind}:backlog 1024\r\n")
        lines += ["STAT kernel_method netlink\r\n", "STAT host:listen_overflows 0\r\n",
                  "STAT host:listen_drops 0\r\n", "STAT host:curr_estab 100\r\n",
                  "STAT host:passive_opens 1000\r\n", "STAT kernel_established 11\r\n",
                  "STAT kernel_not_accepted 0\r\n", "STAT kernel_close_wait 0\r\n",
                  "STAT kernel_age_ms 0\r\n", "STAT curr_connections 12\r\n",
                  f"STAT total_connections {self.total}\r\n",
                  "STAT rejected_connections 0\r\n"]
        return "".join(lines) + "END\r\n"


async def serve(node, reader, writer, ports, admin):
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            words = line.split()
            if not words:
                writer.write(b"ERROR\r\n")
            elif words[0] == b"set" and len(words) >= 5:
                data = await reader.readexactly(int(words[4]) + 2)
                if not admin and words[1] != b"probe":
                    node.value = (words[1], data[:-2])
                writer.write(b"STORED\r\n")
            elif words[0] == b"get" and len(words) == 2:
                if node.value and node.value[0] == words[1]:
                    key, val = node.value
                    writer.write(b"VALUE %s 0 %d\r\n%s\r\nEND\r\n" % (key, len(val), val))
                else:
                    writer.write(b"END\r\n")
            elif admin and words == [b"stats"]:
                writer.write(node.stats().encode())
            elif admin and words == [b"stats", b"kernel"]:
                writer.write(node.kernel(*ports).encode())
            else:
                writer.write(b"ERROR\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, ValueError):
        pass
    finally:
        writer.close()


async def main(count, out):
    servers, ports = [], []
    for i in range(count):
        node = Node(i)
        box = []

        def handler(admin, node=node, box=box):
            return lambda r, w: serve(node, r, w, box[0], admin)
        client = await asyncio.start_server(handler(False), "127.0.0.1", 0)
        admin = await asyncio.start_server(handler(True), "127.0.0.1", 0)
        pair = (client.sockets[0].getsockname()[1], admin.sockets[0].getsockname()[1])
        box.append(pair)
        servers += [client, admin]
        ports.append(list(pair))
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"nodes": ports, "pid": os.getpid()}, f)
    os.rename(tmp, out)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for s in servers:
        s.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if not 1 <= a.nodes <= 500:
        ap.error("--nodes: 1..500")
    asyncio.run(main(a.nodes, a.out))
