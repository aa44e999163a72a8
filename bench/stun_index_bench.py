#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""What a shared index (stun_index = redis+unix://...) costs a lookup,
against the in-memory index, in the same run (README "Several
rendezvous").

One nbmqd with three stun sockets: `mem` (in-memory index), `ra` and `rb`
(one Redis, a private redis-server on a Unix socket).  NAMES names
register at `mem` and at `ra`; then lookups (NBMQ-TARGET) go at RATE a
second for SECONDS to `mem`, then to `rb`, where every one is a GET in
Redis and a PUBLISH that makes `ra` send the Binding indication.  Sources
are 250 loopback addresses (a rendezvous answers one address 20 times a
second, and 5000 a second in all: RATE stays below).  Printed: lookups
answered a second, latency percentiles, CPU per lookup in nbmqd and in
redis-server.

usage: bench/stun_index_bench.py NBMQD [RATE] [SECONDS]
"""
import os
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

COOKIE = 0x2112A442
NAMES = 100
SOURCES = 250


def request(txid, attrs):
    msg = struct.pack("!HHI", 1, len(attrs) + 8, COOKIE) + txid + attrs
    crc = (zlib.crc32(msg) & 0xFFFFFFFF) ^ 0x5354554E
    return msg + struct.pack("!HHI", 0x8028, 4, crc)


def attr(t, v):
    return struct.pack("!HH", t, len(v)) + v + b"\0" * ((4 - len(v) % 4) % 4)


def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        f = f.read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def wait_for(what, test, secs=10):
    end = time.time() + secs
    while not test():
        if time.time() > end:
            sys.exit("bench: %s" % what)
        time.sleep(0.02)


def register(port, names):
    """NAMES sockets on 127.0.1.x, each registering its name at port."""
    socks = []
    for i in range(names):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.1.%d" % (i + 1), 0))
        s.settimeout(2)
        s.sendto(request(os.urandom(12), attr(0xC001, b"n%d" % i)),
                 ("127.0.0.1", port))
        s.recv(1500)
        socks.append(s)
    return socks


def load(port, rate, secs, sinks):
    srcs = []
    for i in range(SOURCES):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.2.%d" % (i + 1), 0))
        s.setblocking(False)
        srcs.append(s)
    sent = {}
    lat = []
    errors = 0
    n = 0
    start = time.monotonic()
    end = start + secs
    while True:
        now = time.monotonic()
        if now >= end + 2.0 or (now >= end and not sent):
            break
        due = int((now - start) * rate) if now < end else n
        while n < due:
            txid = os.urandom(12)
            srcs[n % SOURCES].sendto(
                request(txid, attr(0xC002, b"n%d" % (n % NAMES))),
                ("127.0.0.1", port))
            sent[txid] = time.monotonic()
            n += 1
        r, _, _ = select.select(srcs + sinks, [], [], 0.001)
        for s in r:
            try:
                b = s.recv(1500)
            except BlockingIOError:
                continue
            if s in sinks or len(b) < 20:
                continue        # the Binding indications, to the names
            t = sent.pop(b[8:20], None)
            if t is None:
                continue
            if struct.unpack("!H", b[:2])[0] != 0x0101:
                errors += 1
                continue
            lat.append(time.monotonic() - t)
    for s in srcs:
        s.close()
    lat.sort()
    return n, lat, errors, len(sent)


def pct(lat, p):
    return lat[min(len(lat) - 1, int(len(lat) * p))] * 1e6 if lat else 0


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    nbmqd = sys.argv[1]
    rate = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 5
    t = tempfile.mkdtemp(prefix="nbmq-stunbench.")
    procs = []
    try:
        rsock = os.path.join(t, "redis.sock")
        procs.append(subprocess.Popen(
            ["redis-server", "--port", "0", "--unixsocket", rsock,
             "--save", "", "--appendonly", "no", "--dir", t],
            stdout=subprocess.DEVNULL))
        redis = procs[-1]
        wait_for("redis-server did not start",
                 lambda: os.path.exists(rsock))
        ports = {k: free_port() for k in ("mem", "ra", "rb")}
        conf = os.path.join(t, "nbmqd.conf")
        with open(conf, "w") as f:
            for k, p in ports.items():
                f.write("[socket %s]\ntype = stun\nbind = 127.0.0.1:%d\n"
                        "stun_refresh_ivl = 60\n" % (k, p))
                if k != "mem":
                    f.write("stun_index = redis+unix://%s\n" % rsock)
        log = open(os.path.join(t, "nbmqd.log"), "w")
        procs.append(subprocess.Popen(
            [nbmqd, "-c", conf, "-S", os.path.join(t, "nbmqd.sock")],
            stdout=log, stderr=subprocess.STDOUT))
        d = procs[-1]
        wait_for("nbmqd did not connect to Redis", lambda: open(
            os.path.join(t, "nbmqd.log")).read().count("connected as") == 2)
        sinks = register(ports["mem"], NAMES)
        sinks += register(ports["ra"], NAMES)
        print("lookups at %d/s for %.0f s, %d names, %d sources; "
              "nbmqd %s" % (rate, secs, NAMES, SOURCES, nbmqd))
        print("%-22s %9s %9s %9s %9s %12s %12s" % (
            "index", "asked", "answered/s", "p50 us", "p99 us",
            "nbmqd us/lk", "redis us/lk"))
        for name, port in (("in-memory (mem)", ports["mem"]),
                           ("Redis (rb, held by ra)", ports["rb"])):
            c0, r0 = cpu(d.pid), cpu(redis.pid)
            n, lat, errors, lost = load(port, rate, secs, sinks)
            c1, r1 = cpu(d.pid), cpu(redis.pid)
            ok = len(lat)
            print("%-22s %9d %9.0f %9.0f %9.0f %12.1f %12.1f%s" % (
                name, n, ok / secs, pct(lat, 0.5), pct(lat, 0.99),
                (c1 - c0) / max(ok, 1) * 1e6, (r1 - r0) / max(ok, 1) * 1e6,
                "" if not errors and not lost else
                "  (%d errors, %d unanswered)" % (errors, lost)))
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait()
        shutil.rmtree(t)


if __name__ == "__main__":
    main()
