#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""ipc_hostile.py PATH MODE [N] [SECS]: raw IPC clients that misbehave
(tests/int_ipcbounds.sh).  Every mode is bounded in time.

  idle N SECS      N clients say hello and create a dealer each, print
                   "ready N", then stay silent for SECS
  silent N SECS    N connections that never say hello; print "connected
                   C", then "open K answered A" (still open after SECS,
                   refused with an answer)
  bigsend N SECS   N connections without hello, each announcing a SEND of
                   200 MiB and writing zeros for up to SECS; print "wrote
                   BYTES" (what the daemon took in all)
  sendbig SECS     hello, a dealer, a SEND of 100 MiB written for up to
                   SECS; print "wrote BYTES"
  noread N SECS    hello, then N status requests without reading a reply,
                   for up to SECS; print "sent K"
  socks N [SECS]   one client creates N sockets; print "created K errno E"
                   (E the errno of the first refusal, 0 if none), then
                   holds them for SECS
  setopt OPT VAL   one client creates a dealer and sets option OPT to VAL;
                   print "errno E"
"""
import os
import select
import socket
import struct
import sys
import time

HDR = struct.Struct("=IHHII")
HELLO = struct.pack("=IIII", 0x514D424E, 5, os.getpid(), 0)


def connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


class Client:
    def __init__(self, path):
        self.s = connect(path)
        self.buf = b""
        self.reqid = 0

    def send(self, t, payload=b"", handle=0):
        self.reqid += 1
        self.s.sendall(HDR.pack(len(payload), t, 0, handle, self.reqid) +
                       payload)

    def read_one(self, timeout=5):
        end = time.monotonic() + timeout
        while True:
            if len(self.buf) >= HDR.size:
                ln, t, _, _, _ = HDR.unpack_from(self.buf)
                if len(self.buf) >= HDR.size + ln:
                    p = self.buf[HDR.size:HDR.size + ln]
                    self.buf = self.buf[HDR.size + ln:]
                    return t, p
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.s], [], [], left)[0]:
                return None, None
            d = self.s.recv(1 << 20)
            if not d:
                return None, None
            self.buf += d

    def result(self):
        while True:
            t, p = self.read_one()
            if t is None:
                return None, None
            if t == 0x0103:
                err, _, value = struct.unpack_from("=iIQ", p)
                return err, value

    def hello(self):
        self.send(0x0101, HELLO)
        t, _ = self.read_one()
        assert t == 0x0102, "no hello_ok"

    def create(self):
        self.send(0x0201, struct.pack("=II", 1, 0))
        return self.result()


def idle(path, n, secs):
    cs = []
    for _ in range(n):
        c = Client(path)
        c.hello()
        err, _ = c.create()
        assert err == 0, "create: errno %s" % err
        cs.append(c)
    print("ready %d" % len(cs), flush=True)
    time.sleep(secs)


def silent(path, n, secs):
    ss = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(0.5)      # a full backlog blocks connect
        try:
            s.connect(path)
        except OSError:
            s.close()
            break
        ss.append(s)
    print("connected %d" % len(ss), flush=True)
    time.sleep(secs)
    still, answered = 0, 0
    for s in ss:
        s.setblocking(False)
        try:
            if s.recv(64):
                answered += 1       # EUSERS, then closed
        except BlockingIOError:
            still += 1
        except OSError:
            pass
    print("open %d answered %d" % (still, answered), flush=True)


def bigsend(path, n, secs):
    ss = []
    for _ in range(n):
        s = connect(path)
        s.setblocking(False)
        s.send(HDR.pack(200 << 20, 0x0301, 0, 1, 0))
        ss.append(s)
    zeros = bytes(1 << 20)
    total = 0
    end = time.monotonic() + secs
    live = list(ss)
    while live and time.monotonic() < end:
        _, w, _ = select.select([], live, [], 0.1)
        for s in w:
            try:
                total += s.send(zeros)
            except OSError:
                live.remove(s)
    print("wrote %d" % total, flush=True)


def sendbig(path, secs):
    """hello, a dealer, then a SEND announcing 100 MiB (over the default
    max_message_size of 16 MiB, and with no window): "wrote BYTES"."""
    c = Client(path)
    c.hello()
    err, h = c.create()
    assert err == 0
    c.s.setblocking(False)
    c.s.send(HDR.pack(100 << 20, 0x0301, 0, h, 0) +
             struct.pack("=QII", 0, 1, 0) + struct.pack("=I", (100 << 20) - 20))
    zeros = bytes(1 << 20)
    total = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if not select.select([], [c.s], [], 0.1)[1]:
            continue
        try:
            total += c.s.send(zeros)
        except OSError:
            break
    print("wrote %d" % total, flush=True)


def noread(path, n, secs):
    c = Client(path)
    c.hello()
    c.s.setblocking(False)
    req = HDR.pack(0, 0x0401, 0, 0, 1)
    batch = req * 1024
    sent = 0
    end = time.monotonic() + secs
    while sent < n and time.monotonic() < end:
        if not select.select([], [c.s], [], 0.1)[1]:
            continue
        try:
            sent += c.s.send(batch) // len(req)
        except BlockingIOError:
            pass
    print("sent %d" % sent, flush=True)


def socks(path, n, secs=0):
    c = Client(path)
    c.hello()
    made, first = 0, 0
    for _ in range(n):
        err, _ = c.create()
        if err is None:
            break
        if err != 0:
            first = first or err
            continue
        made += 1
    print("created %d errno %d" % (made, first), flush=True)
    time.sleep(secs)


def setopt(path, opt, val):
    c = Client(path)
    c.hello()
    err, h = c.create()
    assert err == 0
    c.send(0x0206, struct.pack("=IIq", opt, 0, val), handle=h)
    err, _ = c.result()
    print("errno %d" % err, flush=True)


def main():
    path, mode = sys.argv[1], sys.argv[2]
    a = sys.argv[3:]
    if mode == "idle":
        idle(path, int(a[0]), float(a[1]))
    elif mode == "silent":
        silent(path, int(a[0]), float(a[1]))
    elif mode == "bigsend":
        bigsend(path, int(a[0]), float(a[1]))
    elif mode == "sendbig":
        sendbig(path, float(a[0]))
    elif mode == "noread":
        noread(path, int(a[0]), float(a[1]))
    elif mode == "socks":
        socks(path, int(a[0]), float(a[1]) if len(a) > 1 else 0)
    elif mode == "setopt":
        setopt(path, int(a[0]), int(a[1]))
    else:
        sys.exit("unknown mode")


if __name__ == "__main__":
    main()
