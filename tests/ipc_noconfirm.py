#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""ipc_noconfirm.py SOCKPATH NAME SECS: an IPC client that attaches to the
configured socket NAME, reads every message for SECS and never confirms
one (tests/int_appgone.sh).  Prints "ready", then "got COUNT BYTES" and
one "idx I" line per message (the first 4 bytes of its first part, as
tests/apptool.c's ping sequence has them), then waits to be killed."""
import os
import select
import socket
import struct
import sys
import time

HDR = struct.Struct("=IHHII")


def main():
    path, name, secs = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    buf = b""

    def send(t, reqid, payload=b""):
        s.sendall(HDR.pack(len(payload), t, 0, 0, reqid) + payload)

    def read_one(timeout):
        nonlocal buf
        end = time.monotonic() + timeout
        while True:
            if len(buf) >= HDR.size:
                ln, t, _, _, _ = HDR.unpack_from(buf)
                if len(buf) >= HDR.size + ln:
                    p = buf[HDR.size:HDR.size + ln]
                    buf = buf[HDR.size + ln:]
                    return t, p
            left = end - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                return None, None
            d = s.recv(1 << 20)
            if not d:
                sys.exit("daemon closed the connection")
            buf += d

    send(0x0101, 1, struct.pack("=IIII", 0x514D424E, 5, os.getpid(), 0))
    t, p = read_one(5)
    assert t == 0x0102, "no hello_ok"
    send(0x0202, 2, name)
    while True:
        t, p = read_one(5)
        assert t is not None, "no attach result"
        if t == 0x0103:
            err = struct.unpack_from("=i", p)[0]
            assert err == 0, "attach: errno %d" % err
            break
    print("ready", flush=True)
    got, size, idx = 0, 0, []
    end = time.monotonic() + secs
    while time.monotonic() < end:
        t, p = read_one(end - time.monotonic())
        if t != 0x0302:
            continue
        nparts = struct.unpack_from("=Q I", p)[1]
        data = 16 + 4 * nparts
        size += len(p) - data
        idx.append(struct.unpack_from("=I", p, data)[0])
        got += 1
    print("got %d %d" % (got, size), flush=True)
    for i in idx:
        print("idx %d" % i)
    sys.stdout.flush()
    while True:
        time.sleep(60)


main()
