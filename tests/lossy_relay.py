#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""lossy_relay.py: a UDP relay that loses, duplicates and reorders.

    lossy_relay.py --target HOST:PORT [--loss 0.3] [--dup 0.1]
                   [--reorder 0.1] [--seed N] [--dump FILE] --ready-file F

Listens on 127.0.0.1 (port 0, written to the ready file).  Datagrams from
a client go to the target from one socket per client address, so the
target sees one peer per client; replies go back to that client.  Each
datagram, in each direction, is dropped with probability --loss,
sent twice with --dup, and held back behind the next one with --reorder.
Counts are printed on SIGTERM.  --dump appends every datagram received,
one line each: "c2t HEX" (client to target) or "t2c HEX".  SIGUSR1 moves
every client to a new source port toward the target, as a NAT rebinding
would.  SIGUSR2 holds back the next data frame from a client (encrypted
or not): dumped as "held HEX", never forwarded.
"""
import argparse, random, selectors, signal, socket, sys

ap = argparse.ArgumentParser()
ap.add_argument("--target", required=True)
ap.add_argument("--loss", type=float, default=0.3)
ap.add_argument("--dup", type=float, default=0.0)
ap.add_argument("--reorder", type=float, default=0.0)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--ready-file", required=True)
ap.add_argument("--dump")
a = ap.parse_args()
rng = random.Random(a.seed)
host, port = a.target.rsplit(":", 1)
target = (host.strip("[]"), int(port))

sel = selectors.DefaultSelector()
front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
front.bind(("127.0.0.1", 0))
front.setblocking(False)
sel.register(front, selectors.EVENT_READ, None)
backs = {}          # client address -> socket toward the target
held = {}           # socket -> (datagram, destination) held for reordering
stats = {"in": 0, "lost": 0, "dup": 0, "reordered": 0}

def emit(sock, data, dest):
    stats["in"] += 1
    if rng.random() < a.loss:
        stats["lost"] += 1
        return
    copies = 2 if rng.random() < a.dup else 1
    stats["dup"] += copies - 1
    if sock in held:
        prev = held.pop(sock)
        for _ in range(copies):
            sock.sendto(data, dest)
        sock.sendto(*prev)
        return
    if rng.random() < a.reorder:
        stats["reordered"] += 1
        held[sock] = (data, dest)
        return
    for _ in range(copies):
        sock.sendto(data, dest)

dump = open(a.dump, "a", buffering=1) if a.dump else None
rebind = [False]
hold = [False]

def on_usr1(*_):
    rebind[0] = True

def on_usr2(*_):
    hold[0] = True

def do_rebind():
    for src, old in list(backs.items()):
        b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        b.bind(("127.0.0.1", 0))
        b.setblocking(False)
        sel.unregister(old)
        held.pop(old, None)
        old.close()
        sel.register(b, selectors.EVENT_READ, src)
        backs[src] = b
    print("relay: rebound %d client(s)" % len(backs), file=sys.stderr,
          flush=True)

def stop(*_):
    print("relay: %(in)d datagrams, %(lost)d lost, %(dup)d duplicated, "
          "%(reordered)d reordered" % stats, file=sys.stderr, flush=True)
    sys.exit(0)

signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGUSR1, on_usr1)
signal.signal(signal.SIGUSR2, on_usr2)
with open(a.ready_file + ".tmp", "w") as f:
    f.write("127.0.0.1:%d\n" % front.getsockname()[1])
import os
os.rename(a.ready_file + ".tmp", a.ready_file)

while True:
    if rebind[0]:
        rebind[0] = False
        do_rebind()
    for key, _ in sel.select(timeout=0.05):
        sock = key.fileobj
        for _ in range(64):
            try:
                data, src = sock.recvfrom(65536)
            except BlockingIOError:
                break
            if key.data is None and hold[0] and data[1:2] in (b"\x00",
                                                              b"\x80"):
                hold[0] = False
                if dump:
                    dump.write("held %s\n" % data.hex())
                continue
            if dump:
                dump.write("%s %s\n" % ("c2t" if key.data is None else "t2c",
                                        data.hex()))
            if key.data is None:        # from a client
                b = backs.get(src)
                if b is None:
                    b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
                    b.bind(("127.0.0.1", 0))
                    b.setblocking(False)
                    sel.register(b, selectors.EVENT_READ, src)
                    backs[src] = b
                emit(b, data, target)
            else:                       # from the target, back to its client
                emit(front, data, key.data)
    # Nothing held back forever: release what waits when idle.
    for sock, (data, dest) in list(held.items()):
        if rng.random() < 0.5:
            del held[sock]
            sock.sendto(data, dest)
