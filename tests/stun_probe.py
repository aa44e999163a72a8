#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""stun_probe.py: an independent STUN client for tests/int_stun.sh.

    stun_probe.py probe HOST PORT      a Binding request with FINGERPRINT;
                                       checks the answer's length, cookie,
                                       transaction id, FINGERPRINT (zlib's
                                       CRC-32) and that XOR-MAPPED-ADDRESS
                                       is this socket's own address
    stun_probe.py malformed HOST PORT  sends malformed requests; none may be
                                       answered; prints how many were sent
    stun_probe.py flood HOST PORT N    N requests from one port; prints how
                                       many were answered (rate limit)

Written from RFC 5389/8489 alone: it shares no code with nbmqd.  Exit 0
on success, 1 with a reason on stderr.
"""
import os
import socket
import struct
import sys
import zlib

COOKIE = 0x2112A442


def fail(why):
    print("stun_probe: " + why, file=sys.stderr)
    sys.exit(1)


def request(txid, attrs=b"", fingerprint=True, mtype=0x0001):
    msg = struct.pack("!HHI", mtype, len(attrs), COOKIE) + txid + attrs
    if fingerprint:
        msg = struct.pack("!HHI", mtype, len(attrs) + 8, COOKIE) + txid + \
            attrs
        crc = (zlib.crc32(msg) & 0xFFFFFFFF) ^ 0x5354554E
        msg += struct.pack("!HHI", 0x8028, 4, crc)
    return msg


def attr(t, v):
    pad = (4 - len(v) % 4) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


def sock_for(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.connect((host, port))
    s.settimeout(2)
    return s, fam


def xor_addr(v, txid, fam):
    if v[1] == 1 and len(v) == 8:
        port = struct.unpack("!H", v[2:4])[0] ^ (COOKIE >> 16)
        a = bytes(x ^ y for x, y in zip(v[4:8], struct.pack("!I", COOKIE)))
        return socket.inet_ntop(socket.AF_INET, a), port
    if v[1] == 2 and len(v) == 20:
        port = struct.unpack("!H", v[2:4])[0] ^ (COOKIE >> 16)
        key = struct.pack("!I", COOKIE) + txid
        a = bytes(x ^ y for x, y in zip(v[4:20], key))
        return socket.inet_ntop(socket.AF_INET6, a), port
    fail("bad XOR-MAPPED-ADDRESS value " + v.hex())


def probe(host, port):
    s, fam = sock_for(host, port)
    txid = os.urandom(12)
    req = request(txid, attr(0x8022, b"stun_probe padding for room"))
    s.send(req)
    try:
        r = s.recv(2048)
    except socket.timeout:
        fail("no answer")
    if len(r) < 20:
        fail("short answer")
    mtype, mlen, cookie = struct.unpack("!HHI", r[:8])
    if mtype != 0x0101 or cookie != COOKIE or r[8:20] != txid:
        fail("not our success response: " + r[:20].hex())
    if mlen != len(r) - 20 or mlen % 4:
        fail("length field %d for %d bytes" % (mlen, len(r)))
    if len(r) > len(req):
        fail("answer of %d bytes to a request of %d" % (len(r), len(req)))
    off, mapped, fp = 20, None, False
    while off < len(r):
        t, n = struct.unpack("!HH", r[off:off + 4])
        v = r[off + 4:off + 4 + n]
        if len(v) != n:
            fail("attribute 0x%04x runs past the end" % t)
        if t == 0x0020:
            mapped = xor_addr(v, txid, fam)
        if t == 0x8028:
            if off + 8 != len(r):
                fail("FINGERPRINT not last")
            want = (zlib.crc32(r[:off]) & 0xFFFFFFFF) ^ 0x5354554E
            if struct.unpack("!I", v)[0] != want:
                fail("bad FINGERPRINT")
            fp = True
        off += 4 + n + (4 - n % 4) % 4
    if not fp:
        fail("no FINGERPRINT, though the request had one")
    own = s.getsockname()[:2]
    if mapped is None or (mapped[0], mapped[1]) != (own[0], own[1]):
        fail("XOR-MAPPED-ADDRESS %r, we are %r" % (mapped, own))
    print("ok %d-byte answer, XOR-MAPPED-ADDRESS %s port %d, FINGERPRINT good"
          % (len(r), mapped[0], mapped[1]))


def malformed(host, port):
    s, _ = sock_for(host, port)
    t = os.urandom(12)
    good = request(t, fingerprint=False)
    bad = [
        good[:19],                                  # short header
        b"\x40" + good[1:],                         # top bits
        good[:3] + b"\x04" + good[4:],              # length > datagram
        good + b"\0\0",                             # not a multiple of 4
        request(t, b"\x80\x22\x00\x08abcd", False),  # value past the end
        request(t, attr(0x0001, b"\0\x03\0\0abcd"), False),  # family 3
        request(t, attr(0xC001, b"bad name"), False),         # space
        # bad FINGERPRINT: its last byte flipped (set to 0, it was
        # right in 1 run of 256, and answered: make check-asan-all, once)
        request(t, b"", True)[:-1] + bytes([request(t, b"", True)[-1] ^ 0xFF]),
        request(t, attr(0x8028, b"\0\0\0\0") + attr(0x8022, b"x"), False),
    ]
    for b in bad:
        s.send(b)
    s.settimeout(0.5)
    try:
        while True:
            r = s.recv(2048)
            # Only an answer to these requests counts: an ephemeral port
            # the kernel reused may still get a late answer meant for
            # the client that had it before (a retransmission of its).
            if r[8:20] == t:
                fail("a malformed request was answered: " + r.hex())
    except socket.timeout:
        pass
    print(len(bad))


def flood(host, port, n):
    s, _ = sock_for(host, port)
    for _ in range(n):
        s.send(request(os.urandom(12)))
    s.settimeout(0.5)
    got = 0
    try:
        while True:
            s.recv(2048)
            got += 1
    except socket.timeout:
        pass
    print(got)


def main():
    if len(sys.argv) < 4:
        fail(__doc__)
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "probe":
        probe(host, port)
    elif cmd == "malformed":
        malformed(host, port)
    elif cmd == "flood":
        flood(host, port, int(sys.argv[4]))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
