#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""tests/fuzz/mkcorpus.py: write the seed corpora of the fuzz targets.

    python3 tests/fuzz/mkcorpus.py      (from the repository root)

Seeds are small valid inputs: a handshake and messages for fuzz_frame (in
its operation format, see fuzz_frame.c), daemon-to-library IPC streams for
fuzz_ipc, configurations for fuzz_config.  Crash inputs kept as regression
tests live beside them (crash-*, leak-*, timeout-*) and are not rewritten.
"""
import os
import struct

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(TOP, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- fuzz_frame ---------------------------------------------------------

DEALER, SAFE, RADIO, DISH = 0, 1, 2, 3


def hdr(btype, ctype, small_frames=False, small_hwm=False, by_name=False,
        small_msgs=False):
    return bytes([btype | ctype << 2 | small_frames << 4 | small_hwm << 5 |
                  by_name << 6 | small_msgs << 7])


def op(kind, arg=0):
    return bytes([kind | arg << 3])


def to_b(dgram, src=0):
    return op(0, src) + struct.pack(">H", len(dgram)) + dgram


def to_c(dgram, src=0):
    return op(1, src) + struct.pack(">H", len(dgram)) + dgram


def clock(v):
    return op(2) + bytes([v])


def send(from_b, sizes, peer=None, big=False):
    arg = (1 if from_b else 0) | (len(sizes) - 1) << 1
    arg |= (8 if peer is not None else 0) | (16 if big else 0)
    out = op(3, arg) + bytes(sizes)
    if peer is not None:
        out += bytes([peer])
    return out


TICK = op(4)
NET = op(5)
DRAIN = op(6)


def ctl(kind, session):
    return struct.pack(">BBQ", 1, kind, session)


def ack(session, h):
    return ctl(5, session) + struct.pack(">Q", h)


def data(session, msgid, part_count, part_index, message_size, part_size,
         offset, chunk):
    return struct.pack(">BBQQBBIIHI", 1, 0, session, msgid, part_count,
                       part_index, message_size, part_size, len(chunk),
                       offset) + chunk


def frame_seeds():
    # B's ids: 1 went to its first message id, so its first session is 2.
    handshake = NET + NET
    write("fuzz_frame", "dealer-exchange",
          hdr(DEALER, DEALER) + handshake + send(False, [10]) + NET +
          send(True, [200, 3], peer=0) + NET + DRAIN + clock(150) + NET +
          clock(205) + NET + DRAIN)
    write("fuzz_frame", "safe-exchange",
          hdr(SAFE, SAFE) + handshake + send(False, [255, 255], big=True) +
          op(5, 1) + NET + clock(50) + NET + clock(50) + NET + DRAIN +
          send(True, [7]) + op(5, 2) + NET + clock(220) + NET + DRAIN)
    write("fuzz_frame", "radio-dish",
          hdr(DISH, RADIO) + handshake + send(False, [1, 2, 3, 4]) + NET +
          DRAIN + clock(209) + NET)
    write("fuzz_frame", "small-frames-reorder",
          hdr(DEALER, DEALER, small_frames=True, small_hwm=True) +
          handshake + send(False, [100, 50], big=True) + op(5, 4) +
          op(5, 8) + DRAIN + clock(255) + NET)
    write("fuzz_frame", "by-name",
          hdr(DEALER, SAFE, by_name=True) + op(7, 2) + handshake +
          op(7, 1) + send(False, [9]) + op(7, 1) + TICK + NET + clock(230))
    # Raw datagrams from elsewhere: a Connect, a message in three chunks
    # out of order, a heartbeat, an ack, garbage, a Disconnected.
    msg = bytes(range(200))
    raw = (to_b(ctl(1, 0), 1) +
           to_b(data(2, 77, 2, 1, 200, 120, 60, msg[140:200]), 1) +
           to_b(data(2, 77, 2, 0, 200, 80, 0, msg[0:80]), 1) +
           to_b(data(2, 77, 2, 1, 200, 120, 0, msg[80:140]), 1) +
           to_b(ctl(4, 2), 1) + to_b(ack(2, 0x1234), 1) +
           to_b(data(2, 78, 1, 0, 0, 0, 0, b""), 1) +
           to_b(b"\x01\x09garbage", 2) + to_b(b"\x02\x00", 3) +
           to_b(ctl(4, 99), 2) + DRAIN + to_b(ctl(3, 2), 1) +
           to_c(ctl(2, 5)) + to_c(data(5, 1, 1, 0, 4, 4, 0, b"abcd")) +
           to_c(ctl(3, 5)) + clock(255))
    write("fuzz_frame", "raw-datagrams", hdr(SAFE, DEALER) + raw)
    write("fuzz_frame", "max-peers",
          hdr(DEALER, DEALER) + b"".join(to_b(ctl(1, 0), s) for s in
                                         (0, 1, 2, 3, 1)) + clock(120))
    # The extension (PROTOCOL.md 4.3): the handshake negotiates it (Hello
    # both ways); a message of small parts leaves as one Batch, a large one
    # in 1452-byte frames; safe_dealer resends batched after a loss.
    write("fuzz_frame", "ext-batches",
          hdr(DEALER, DEALER) + handshake + send(False, [5, 6, 7, 8]) +
          NET + send(True, [200, 1, 2, 3], peer=0) + NET + DRAIN +
          send(False, [255, 255, 9, 10], big=True) + NET + DRAIN +
          clock(220) + NET)
    write("fuzz_frame", "ext-safe-loss",
          hdr(SAFE, SAFE) + handshake + send(False, [30, 40, 50, 60]) +
          op(5, 1) + NET + clock(50) + NET + clock(50) + NET + DRAIN)
    # B with coalesce = no (C connects by name): three Hellos ignored.
    write("fuzz_frame", "ext-coalesce-no",
          hdr(DEALER, DEALER, by_name=True) + op(7, 2) + handshake +
          send(False, [1, 2, 3, 4]) + NET + clock(210) + NET + clock(210) +
          NET + clock(210) + NET + DRAIN)
    # Raw Hello and Batch frames to B's first session (id 2) after C's
    # handshake: a good Batch, each bad layout, a bad entry, Hellos.
    def entry(msgid, count, index, msize, psize, off, chunk):
        return struct.pack(">HQBBIIHI", 24 + len(chunk), msgid, count,
                           index, msize, psize, len(chunk), off) + chunk

    def batch(session, entries, tail=b""):
        return ctl(7, session) + b"".join(entries) + tail

    def hello(session, flags=1, size=1452, magic=b"NBX1", version=1):
        return ctl(6, session) + magic + struct.pack(">HHH", version, flags,
                                                     size)
    good = [entry(90, 1, 0, 3, 3, 0, b"abc"),
            entry(91, 2, 0, 7, 4, 0, b"defg"),
            entry(91, 2, 1, 7, 3, 0, b"hij")]
    raw = (to_b(hello(2)) + to_b(hello(2, size=64)) +
           to_b(hello(2, flags=0)) + to_b(hello(2, magic=b"XXXX")) +
           to_b(hello(2, version=0)) + to_b(hello(2)[:19]) +
           to_b(hello(77)) + to_c(hello(1002)) +
           to_b(batch(2, good)) + to_b(batch(2, [])) +
           to_b(batch(2, good, b"\x00")) + to_b(batch(2, good)[:-1]) +
           to_b(batch(2, [struct.pack(">H", 23) + bytes(23)])) +
           to_b(batch(2, [entry(92, 2, 2, 3, 3, 0, b"abc")] + good)) +
           to_b(batch(99, good)) + DRAIN + clock(230) + NET)
    write("fuzz_frame", "ext-raw", hdr(SAFE, DEALER) + handshake + raw)


# ---- fuzz_ipc -----------------------------------------------------------

IPC_HELLO_OK, IPC_RESULT = 0x0102, 0x0103
IPC_MSG, IPC_CREDIT, IPC_DROPPED, IPC_SOCK_GONE, IPC_EVENT = \
    0x0302, 0x0303, 0x0304, 0x0305, 0x0306


def ipc(typ, payload=b"", reqid=0, handle=1):
    return struct.pack("<IHHII", len(payload), typ, 0, handle, reqid) + \
        payload


def ipc_msg(peer, parts):
    return struct.pack("<QII", peer, len(parts), 0) + \
        b"".join(struct.pack("<I", len(p)) for p in parts) + b"".join(parts)


def ipc_event(peer, typ, reason, addr, prev=b""):
    return struct.pack("<QII", peer, typ, reason) + \
        addr.ljust(64, b"\0") + prev.ljust(64, b"\0")


def ipc_seeds():
    write("fuzz_ipc", "result", ipc(IPC_RESULT, struct.pack(
        "<iIQ", 0, 0, 7) + b"127.0.0.1:40123", reqid=1))
    write("fuzz_ipc", "hello-ok", ipc(IPC_HELLO_OK, struct.pack(
        "<II", 2, 0) + b"nbmqd 0.1.0".ljust(32, b"\0"), reqid=1))
    write("fuzz_ipc", "stream",
          ipc(IPC_CREDIT, struct.pack("<QII", 1000, 1, 0)) +
          ipc(IPC_MSG, ipc_msg(0x1122334455667788, [b"greeting",
                                                    b"hello, world"])) +
          ipc(IPC_MSG, ipc_msg(1, [b""])) +
          ipc(IPC_DROPPED, struct.pack("<Q", 3)) +
          ipc(IPC_EVENT, ipc_event(5, 1, 0, b"127.0.0.1:7000")) +
          ipc(IPC_EVENT, ipc_event(5, 2, 2, b"127.0.0.1:7000")) +
          ipc(IPC_EVENT, ipc_event(5, 3, 0, b"127.0.0.1:7001",
                                   b"127.0.0.1:7000")) +
          ipc(IPC_MSG, ipc_msg(2, [bytes(range(256))] * 3)))
    write("fuzz_ipc", "gone", ipc(IPC_CREDIT, struct.pack("<QII", 5, 0, 0))
          + ipc(IPC_SOCK_GONE))
    write("fuzz_ipc", "partial", ipc(IPC_MSG, ipc_msg(1, [b"abc"]))[:-1])


# ---- fuzz_config --------------------------------------------------------

def config_seeds():
    write("fuzz_config", "full", b"""\
[daemon]
ipc_path = /run/nbmq/nbmqd.sock
ipc_mode = 0660
log_level = info
max_clients = 50

[defaults]
peer_heartbeat_ivl = 1
peer_keepalive = 10
send_hwm = 1000
max_message_size = 16M
safe_resend_ivl = 200ms

[socket events]
type = dealer
bind = 0.0.0.0:7000
recv_hwm = 10000

[socket news]
type = dish
bind = [::1]:7003

[socket up]
type = safe_dealer
connect = localhost:7000
safe_resend_limit = 5
""")
    write("fuzz_config", "errors", b"""\
[daemon]
nope = 1
[socket a]
type = dealer
bind = 1.2.3.4:x
connect = 1.2.3.4:5
send_hwm = -3
[socket a]
[bogus]
""")
    write("fuzz_config", "radio", b"[socket r]\ntype = radio\n"
          b"connect = 127.0.0.1:9\nmax_frame_size = 64\nlinger = 0.5\n")
    default = os.path.join(os.path.dirname(TOP), "..", "..", "conf",
                           "nbmqd.conf")
    if os.path.exists(default):
        with open(default, "rb") as f:
            write("fuzz_config", "nbmqd.conf", f.read())


# ---- fuzz_stun (s-* files; the others there are older seeds) -----------

def stun_attr(typ, value):
    pad = (4 - len(value) % 4) % 4
    return struct.pack(">HH", typ, len(value)) + value + b"\0" * pad


def stun_msg(typ, attrs, txid=b"\x01" * 12, classic=False):
    body = b"".join(attrs)
    if classic:
        return struct.pack(">HH", typ, len(body)) + b"\x07" * 16 + body
    return struct.pack(">HHI", typ, len(body), 0x2112A442) + txid + body


def stun_op(kind, arg, payload):
    return bytes([kind | arg << 3]) + struct.pack(">H", len(payload)) + \
        payload


def stun_seeds():
    reg = stun_msg(0x0001, [stun_attr(0xc001, b"bob")])
    look = stun_msg(0x0001, [stun_attr(0xc002, b"bob")], b"\x02" * 12)
    write("fuzz_stun", "s-register-lookup",
          stun_op(0, 1, reg) + stun_op(0, 2, look) + bytes([4]) +
          bytes([3, 150]) + bytes([4]) + bytes([3, 230]) + bytes([4]))
    write("fuzz_stun", "s-classic", stun_op(0, 0, stun_msg(
        0x0001, [stun_attr(0x0003, b"\0\0\0\0")], classic=True)))
    write("fuzz_stun", "s-unknown-attr", stun_op(0, 2, stun_msg(
        0x0001, [stun_attr(0x0777, b"x")])))
    write("fuzz_stun", "s-timers", bytes([3, 100, 4, 3, 210, 4, 3, 255,
                                          4]))


frame_seeds()
ipc_seeds()
config_seeds()
stun_seeds()
