#!/usr/bin/python3
"""connholder — a process that holds TCP sockets in states a test asks for.

Used by tests/integration/test_conncount.py and bench/bench_conns.py to put
connections in known states (ESTABLISHED, CLOSE_WAIT, FIN_WAIT2, TIME_WAIT, waiting
in an accept queue) and keep them there while the kernel's view is compared with
`ss` and `mctl conns`. It talks only to loopback addresses.

Commands, one per line on stdin; one reply line each ("ok ..." or "err <why>") on
stdout, or on the fd given with --reply-fd:

  listen HOST PORT BACKLOG [dual] [reuseport]  -> ok PORT    (listener index = order)
  accept L N                 accept N connections from listener L (5 s limit each)
  accept_bg L                accept from listener L in a thread until it is closed
  accepted                   -> ok N   connections accepted so far
  connect HOST PORT N [SRCHOST [SRCPORT]]   N blocking connects (5 s limit each)
  connect_nb HOST PORT N     N non-blocking connects, not waited for
  shutdown clients|accepted  shutdown(SHUT_WR) on each
  close clients|accepted|listeners
  abort clients|accepted     close with SO_LINGER 0: a reset, no TIME_WAIT left behind
  udp                        one bound UDP socket
  unixpair                   one AF_UNIX socket pair
  nofile                     raise RLIMIT_NOFILE to the hard limit -> ok LIMIT
  pid                        -> ok PID
  quit

End of input is quit. Everything is bounded: at most MAX_SOCKETS sockets, and every
blocking call has a timeout.
"""
import argparse
import ipaddress
import os
import resource
import socket
import struct
import sys
import threading

MAX_SOCKETS = 20000
CALL_TIMEOUT = 5.0


def loopback(host):
    addr = ipaddress.ip_address(host)
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    if not (addr.is_loopback or addr.is_unspecified):
        raise ValueError(f"not a loopback address: {host}")
    return addr


def family_of(host):
    return socket.AF_INET6 if loopback(host).version == 6 or ":" in host else socket.AF_INET


class Holder:
    def __init__(self):
        self.listeners = []
        self.accepted = []
        self.clients = []
        self.others = []
        self.lock = threading.Lock()
        self.threads = []

    def total(self):
        return (len(self.listeners) + len(self.accepted) + len(self.clients)
                + len(self.others))

    def room(self, n):
        if self.total() + n > MAX_SOCKETS:
            raise ValueError(f"more than {MAX_SOCKETS} sockets")

    def listen(self, host, port, backlog, *flags):
        self.room(1)
        fam = family_of(host)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if "reuseport" in flags:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if "dual" in flags else 1)
        s.bind((host, int(port)))
        s.listen(int(backlog))
        self.listeners.append(s)
        return str(s.getsockname()[1])

    def accept(self, index, n):
        ls = self.listeners[int(index)]
        n = int(n)
        self.room(n)
        ls.settimeout(CALL_TIMEOUT)
        for _ in range(n):
            c, _ = ls.accept()
            c.setblocking(True)
            self.accepted.append(c)
        return str(n)

    def accept_bg(self, index):
        ls = self.listeners[int(index)]
        ls.settimeout(0.2)

        def run():
            while True:
                try:
                    c, _ = ls.accept()
                except socket.timeout:
                    continue
                except OSError:
                    return  # listener closed, or out of descriptors
                with self.lock:
                    self.accepted.append(c)
                    if self.total() >= MAX_SOCKETS:
                        return

        t = threading.Thread(target=run, daemon=True)
        t.start()
        self.threads.append(t)
        return ""

    def count_accepted(self):
        with self.lock:
            return str(len(self.accepted))

    def connect(self, host, port, n, src=None, srcport="0", blocking=True):
        n = int(n)
        self.room(n)
        loopback(host)
        fam = family_of(host)
        for _ in range(n):
            s = socket.socket(fam, socket.SOCK_STREAM)
            try:
                if src is not None:
                    loopback(src)
                    if int(srcport) == 0:
                        # Port chosen at connect(): many sources can share ports.
                        s.setsockopt(socket.IPPROTO_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
                    else:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.bind((src, int(srcport)))
                if blocking:
                    s.settimeout(CALL_TIMEOUT)
                    s.connect((host, int(port)))
                    s.setblocking(True)
                else:
                    s.setblocking(False)
                    s.connect_ex((host, int(port)))
            except BaseException:
                s.close()
                raise
            self.clients.append(s)
        return str(n)

    def shutdown(self, which):
        for s in self.group(which):
            s.shutdown(socket.SHUT_WR)
        return ""

    def close(self, which):
        with self.lock:
            group = self.group(which)
            for s in group:
                s.close()
            group.clear()
        return ""

    def abort(self, which):
        linger = struct.pack("ii", 1, 0)
        with self.lock:
            group = self.group(which)
            for s in group:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                s.close()
            group.clear()
        return ""

    def group(self, which):
        groups = {"clients": self.clients, "accepted": self.accepted,
                  "listeners": self.listeners}
        if which not in groups:
            raise ValueError(f"unknown group {which}")
        return groups[which]

    def udp(self):
        self.room(1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        self.others.append(s)
        return str(s.getsockname()[1])

    def unixpair(self):
        self.room(2)
        self.others.extend(socket.socketpair())
        return ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reply-fd", type=int, default=1)
    args = ap.parse_args()
    out = os.fdopen(args.reply_fd, "w", buffering=1)
    h = Holder()
    commands = {
        "listen": h.listen,
        "accept": h.accept,
        "accept_bg": h.accept_bg,
        "accepted": h.count_accepted,
        "connect": h.connect,
        "connect_nb": lambda host, port, n: h.connect(host, port, n, blocking=False),
        "shutdown": h.shutdown,
        "close": h.close,
        "abort": h.abort,
        "udp": h.udp,
        "unixpair": h.unixpair,
        "pid": lambda: str(os.getpid()),
    }
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        try:
            if words[0] == "nofile":
                _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
                resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
                result = str(hard)
            elif words[0] in commands:
                result = commands[words[0]](*words[1:])
            else:
                raise ValueError(f"unknown command {words[0]}")
            out.write(f"ok {result}".rstrip() + "\n")
        except (OSError, ValueError, TypeError, IndexError) as e:
            out.write(f"err {words[0]}: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
