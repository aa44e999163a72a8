#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""A raw IPC client: speaks common/nbmq-protocol.h without libnbmq.

libnbmq never sends what the daemon refuses, so the daemon's own checks of
an IPC_SEND (ipc.c, ipc_send) are only reached by a client that is not
libnbmq.  Each case opens its own connection, breaks one rule, and expects
the daemon to disconnect that client alone, before it answers a request
sent after the offending message, with the reason in its log:

  short     a SEND shorter than struct ipc_msg          "short send"
  parts0    nparts 0                                    "bad send parts"
  parts256  nparts over NBMQ_IPC_MAX_PARTS              "bad send parts"
  partslen  nparts 3, room for one size                 "bad send parts"
  sizes     part sizes that add up to more than the     "send sizes do not add up"
            rest,
  sizes2    or to less
  oversize  max_message_size + 1 bytes (the daemon's    "message over max_message_size"
            max_message_size must be 1000)
  window    one message with no window granted (no      "send beyond the granted window"
            peer: the daemon granted 0); max_message_size
            bytes exactly, so that it is not oversize
  inside    the other side: inside its window a raw client's messages are
            taken and delivered, and it stays connected
  maxclients  on a daemon with max_clients 2 and no other client: two are
            served, the third is refused with EUSERS

usage: ipc_raw.py IPC_SOCKET DAEMON_LOG CASE...
Exit 0 when every case behaved, else 1 with a line per failed case.
"""
import errno
import os
import socket
import struct
import sys

HDR = struct.Struct("=IHHII")          # len, type, flags, handle, reqid
IPC_MAGIC, IPC_VERSION = 0x514D424E, 4
IPC_HELLO, IPC_HELLO_OK, IPC_RESULT = 0x0101, 0x0102, 0x0103
IPC_SOCK_CREATE, IPC_SOCK_BIND, IPC_SOCK_CONNECT = 0x0201, 0x0204, 0x0205
IPC_SOCK_GETOPT = 0x0207
IPC_SEND, IPC_MSG, IPC_CREDIT = 0x0301, 0x0302, 0x0303
NBMQ_DEALER, NBMQ_OPT_SEND_HWM = 1, 1
MAX_MSG = 1000                          # the test's max_message_size
DEADLINE = 10.0                         # seconds: fail rather than hang


class Gone(Exception):
    """The daemon closed the connection."""


class Client:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(DEADLINE)
        self.s.connect(path)
        self.reqid = 0
        self.credit = {}                # handle -> (limit, peers)
        self.msgs = []                  # (handle, parts)
        r = self.request(IPC_HELLO, 0,
                         struct.pack("=IIII", IPC_MAGIC, IPC_VERSION,
                                     os.getpid(), 0), want=IPC_HELLO_OK)
        assert r is not None

    def send(self, typ, handle, payload, reqid=0, length=None):
        n = len(payload) if length is None else length
        try:
            self.s.sendall(HDR.pack(n, typ, 0, handle, reqid) + payload)
        except BrokenPipeError:
            # The daemon answered and closed before this was written (past
            # max_clients it refuses at accept): its answer is still there
            # to read.
            if typ != IPC_HELLO:
                raise

    def recvn(self, n):
        b = b""
        while len(b) < n:
            c = self.s.recv(n - len(b))
            if not c:
                raise Gone()
            b += c
        return b

    def read(self):
        """One message from the daemon; stream messages are recorded."""
        n, typ, _, handle, reqid = HDR.unpack(self.recvn(HDR.size))
        p = self.recvn(n)
        if typ == IPC_CREDIT:
            self.credit[handle] = struct.unpack_from("=QI", p)
        elif typ == IPC_MSG:
            _, nparts, _ = struct.unpack_from("=QII", p)
            sizes = struct.unpack_from("=%dI" % nparts, p, 16)
            off, parts = 16 + 4 * nparts, []
            for sz in sizes:
                parts.append(p[off:off + sz])
                off += sz
            self.msgs.append((handle, parts))
        return typ, reqid, p

    def request(self, typ, handle, payload, want=IPC_RESULT):
        self.reqid += 1
        self.send(typ, handle, payload, self.reqid)
        while True:
            t, reqid, p = self.read()
            if reqid == self.reqid and t in (want, IPC_RESULT):
                if t == IPC_RESULT:
                    err, aux, value = struct.unpack_from("=iIQ", p)
                    if want != IPC_RESULT or err != 0:
                        raise RuntimeError("request %#x: error %d" %
                                           (typ, err))
                    return value, p[16:]
                return p

    def create(self):
        value, _ = self.request(IPC_SOCK_CREATE, 0,
                                struct.pack("=II", NBMQ_DEALER, 0))
        return value

    def getopt(self, handle):
        return self.request(IPC_SOCK_GETOPT, handle,
                            struct.pack("=IIq", NBMQ_OPT_SEND_HWM, 0, 0))

    def wait(self, cond):
        while not cond():
            self.read()


def msg(sizes, data, nparts=None):
    n = len(sizes) if nparts is None else nparts
    return (struct.pack("=QII", 0, n, 0) +
            struct.pack("=%dI" % len(sizes), *sizes) + data)


BAD = {
    "short": (lambda: struct.pack("=QI", 0, 1), "short send"),
    "parts0": (lambda: msg([], b"", 0), "bad send parts"),
    "parts256": (lambda: msg([1] * 256, b"x" * 256), "bad send parts"),
    "partslen": (lambda: msg([0], b"", 3), "bad send parts"),
    "sizes": (lambda: msg([10], b"x" * 9), "send sizes do not add up"),
    "sizes2": (lambda: msg([4, 5], b"x" * 10), "send sizes do not add up"),
    "oversize": (lambda: msg([MAX_MSG + 1], b"x" * (MAX_MSG + 1)),
                 "message over max_message_size"),
    "window": (lambda: msg([MAX_MSG // 2, MAX_MSG // 2], b"x" * MAX_MSG),
               "send beyond the granted window"),
}


def last_refusal(log):
    """The reason of the daemon's last 'disconnecting it' line."""
    why = None
    with open(log, errors="replace") as f:
        for line in f:
            if line.rstrip().endswith("; disconnecting it"):
                why = line.split("): ", 1)[-1].rsplit(";", 1)[0]
    return why


def bad_case(path, log, name):
    make, reason = BAD[name]
    c = Client(path)
    h = c.create()
    c.wait(lambda: h in c.credit)
    if name == "window" and c.credit[h][0] != 0:
        return "the daemon granted %d with no peer" % c.credit[h][0]
    if name != "window":
        # A window to send in, so that the daemon judges the message
        # itself (the window is checked first, on the header).
        srv = Client(path)
        b = srv.create()
        _, ep = srv.request(IPC_SOCK_BIND, b, b"127.0.0.1:0")
        c.request(IPC_SOCK_CONNECT, h, ep.rstrip(b"\0"))
        c.wait(lambda: c.credit.get(h, (0, 0))[0] >= 1)
    c.send(IPC_SEND, h, make())
    try:
        c.getopt(h)
        return "still connected: its next request was answered"
    except (Gone, BrokenPipeError, ConnectionResetError):
        pass                            # closed before or after the request
    why = last_refusal(log)
    if why != reason:
        return "disconnected for %r, want %r" % (why, reason)
    return None


def inside_case(path, log):
    srv, cli = Client(path), Client(path)
    b = srv.create()
    _, ep = srv.request(IPC_SOCK_BIND, b, b"127.0.0.1:0")
    h = cli.create()
    cli.request(IPC_SOCK_CONNECT, h, ep.rstrip(b"\0"))
    cli.wait(lambda: cli.credit.get(h, (0, 0))[1] >= 1 and
             cli.credit[h][0] >= 3)
    for i in range(3):
        cli.send(IPC_SEND, h, msg([2, 3], b"m%d" % i + b"abc"))
    cli.getopt(h)                       # answered: still connected
    srv.wait(lambda: len(srv.msgs) >= 3)
    got = [parts for _, parts in srv.msgs]
    want = [[b"m%d" % i, b"abc"] for i in range(3)]
    if got != want:
        return "delivered %r, want %r" % (got, want)
    return None


def maxclients_case(path, log):
    """The daemon's max_clients is 2: the third client is refused."""
    held = [Client(path), Client(path)]
    try:
        Client(path)
        return "a third client was accepted with max_clients 2"
    except RuntimeError as e:
        if "error %d" % errno.EUSERS not in str(e):
            return "third client: %s, want EUSERS" % e
    # Refused at accept, not at hello: a connection that never says
    # hello is answered EUSERS and closed at once, so that silent
    # connections cannot hold descriptors (issue 15, item 7).
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2.0)
    try:
        s.connect(path)
        b = b""
        while len(b) < HDR.size + 16:
            c = s.recv(HDR.size + 16 - len(b))
            if not c:
                break
            b += c
    except socket.timeout:
        return "a silent client past max_clients was held, not refused"
    finally:
        s.close()
        for c in held:
            c.s.close()
    if len(b) < HDR.size + 16:
        return "silent client: closed after %d bytes, want EUSERS" % len(b)
    err = struct.unpack_from("=i", b, HDR.size)[0]
    if err != errno.EUSERS:
        return "silent client: error %d, want EUSERS" % err
    return None


def main():
    if len(sys.argv) < 4:
        print(__doc__.strip().splitlines()[-2], file=sys.stderr)
        return 2
    path, log, failed = sys.argv[1], sys.argv[2], 0
    for name in sys.argv[3:]:
        try:
            err = (inside_case(path, log) if name == "inside" else
                   maxclients_case(path, log) if name == "maxclients" else
                   bad_case(path, log, name))
        except (Gone, OSError, RuntimeError) as e:
            err = "%s: %s" % (type(e).__name__, e)
        if err:
            print("%s: %s" % (name, err))
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
