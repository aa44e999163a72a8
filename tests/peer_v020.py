#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""Independent NBMQ v0.2.0 UDP peer and wire-conformance checker.

Written from /work/shared/PROTOCOL.md (sections 1 and 2) alone, as an
independent check of the daemon's wire compatibility.  Python 3 stdlib only.

Unknown control kinds are ignored, as PROTOCOL.md 1.2 says a v0.2.0 peer
does; but as a checker this peer also holds nbmqd to its extension's promise
(docs/PROTOCOL.md 4.3): a v0.2.0 peer never gets a Batch (kind 7, data it
would silently lose), a connecting v0.2.0 peer never a Hello (kind 6), a
bound one at most 3 Hellos per session, and nothing of any other kind.

Subcommands (see `peer_v020.py SUBCOMMAND --help`):
  connect HOST:PORT   act as a connecting v0.2.0 peer (send and/or receive)
  bind HOST:PORT      act as the bound side (port 0 allowed, --ready-file)
  gen                 print the messages `connect/bind --send N --seed X` send
  selftest            pure codec / reassembly / rejection checks
  send-raw HOST:PORT HEX   send one datagram, print replies as hex
  frame KIND ...      build one (possibly malformed) frame, print it as hex
  decode HEX          describe a frame

Message output format (stdout, one line per message): the message's parts,
each hex-encoded (lowercase), separated by one TAB.  An empty part is an empty
string, so a message whose last part is empty ends with a TAB.

Exit status: 0 success; 1 protocol violation by the other side (or selftest
failure); 2 usage error; 3 timeout; 4 other runtime error (e.g. the other side
disconnected our session, socket error).
"""

import argparse
import bisect
import collections
import hashlib
import os
import random
import secrets
import select
import socket
import struct
import sys
import time

# ---------------------------------------------------------------------------
# Constants (PROTOCOL.md 1)
# ---------------------------------------------------------------------------

PROTOCOL_VERSION = 0x01

KIND_DATA = 0
KIND_CONNECT = 1
KIND_CONNECTED = 2
KIND_DISCONNECTED = 3
KIND_HEARTBEAT = 4
KIND_ACK = 5

KIND_NAMES = {
    KIND_DATA: "Data",
    KIND_CONNECT: "Connect",
    KIND_CONNECTED: "Connected",
    KIND_DISCONNECTED: "Disconnected",
    KIND_HEARTBEAT: "Heartbeat",
    KIND_ACK: "Ack",
}
KIND_BY_NAME = {v.lower(): k for k, v in KIND_NAMES.items()}

# Not v0.2.0: nbmq's extension (docs/PROTOCOL.md 4.3), ignored like any
# unknown kind, and counted.
KIND_HELLO = 6
KIND_BATCH = 7
EXT_KIND_NAMES = {KIND_HELLO: "Hello (kind 6)", KIND_BATCH: "Batch (kind 7)"}
MAX_HELLOS = 3  # per session, to a bound v0.2.0 peer

COMMON_HDR = struct.Struct(">BBQ")  # version, kind, session_id
COMMON_HDR_LEN = COMMON_HDR.size  # 10
# version, kind, session_id, message_id, part_count, part_index,
# message_size, part_size, chunk_size, chunk_offset
DATA_HDR = struct.Struct(">BBQQBBIIHI")
DATA_HDR_LEN = DATA_HDR.size  # 34
ACK_LEN = COMMON_HDR_LEN + 8  # 18

DEFAULT_MAX_FRAME = 500
DEFAULT_MAX_PAYLOAD = DEFAULT_MAX_FRAME - DATA_HDR_LEN  # 466
DEFAULT_MAX_MESSAGE = 16 * 1024 * 1024
MAX_PARTS = 255
U64_MASK = (1 << 64) - 1

STUN_COOKIE = 0x2112A442
STUN_COOKIE_BYTES = struct.pack(">I", STUN_COOKIE)

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3

HEARTBEAT_IVL = 1.0  # peer_heartbeat_ivl default
CONNECT_RETRY = 1.0  # how often we re-send Connect while unanswered

EXIT_OK = 0
EXIT_VIOLATION = 1
EXIT_TIMEOUT = 3
EXIT_ERROR = 4

PROG = "peer_v020"


class ProtocolViolation(Exception):
    """The other side sent something PROTOCOL.md forbids."""


class PeerError(Exception):
    """Runtime failure that is not a protocol violation (exit 4)."""


class PeerTimeout(Exception):
    """Expected traffic did not arrive in time (exit 3)."""


# ---------------------------------------------------------------------------
# FNV-1a-64
# ---------------------------------------------------------------------------

def fnv1a64(data):
    h = FNV_OFFSET
    for b in data:
        h ^= b
        h = (h * FNV_PRIME) & U64_MASK
    return h


# ---------------------------------------------------------------------------
# Encoding
# ---------------------------------------------------------------------------

def encode_control(kind, session_id, data=b"", version=PROTOCOL_VERSION):
    return COMMON_HDR.pack(version, kind, session_id & U64_MASK) + bytes(data)


def encode_connect(session_id=0):
    return encode_control(KIND_CONNECT, session_id)


def encode_connected(session_id):
    return encode_control(KIND_CONNECTED, session_id)


def encode_disconnected(session_id):
    return encode_control(KIND_DISCONNECTED, session_id)


def encode_heartbeat(session_id):
    return encode_control(KIND_HEARTBEAT, session_id)


def encode_ack(session_id, frame_hash):
    return encode_control(KIND_ACK, session_id, struct.pack(">Q", frame_hash & U64_MASK))


def encode_data_frame(session_id, message_id, part_count, part_index, message_size,
                      part_size, chunk_offset, data, chunk_size=None,
                      version=PROTOCOL_VERSION):
    """One data frame.  chunk_size defaults to len(data); pass another value
    (and/or other inconsistent fields) to build malformed frames."""
    data = bytes(data)
    if chunk_size is None:
        chunk_size = len(data)
    return DATA_HDR.pack(version, KIND_DATA, session_id & U64_MASK, message_id & U64_MASK,
                         part_count, part_index, message_size, part_size,
                         chunk_size, chunk_offset) + data


def chunk_message(session_id, message_id, parts, max_frame=DEFAULT_MAX_FRAME):
    """Cut a multipart message into data frames, in order (part 0 chunk 0,
    part 0 chunk 1, ...).  An empty part is one frame with chunk_size 0."""
    parts = [bytes(p) for p in parts]
    if not 1 <= len(parts) <= MAX_PARTS:
        raise ValueError("a message has 1..255 parts, not %d" % len(parts))
    payload = max_frame - DATA_HDR_LEN
    if payload < 1:
        raise ValueError("max_frame %d leaves no room for payload" % max_frame)
    message_size = sum(len(p) for p in parts)
    if message_size > 0xFFFFFFFF:
        raise ValueError("message too large for the 32-bit message_size field")
    frames = []
    for idx, part in enumerate(parts):
        if not part:
            frames.append(encode_data_frame(session_id, message_id, len(parts), idx,
                                            message_size, 0, 0, b""))
            continue
        for off in range(0, len(part), payload):
            frames.append(encode_data_frame(session_id, message_id, len(parts), idx,
                                            message_size, len(part), off,
                                            part[off:off + payload]))
    return frames


# ---------------------------------------------------------------------------
# Parsing (per-frame validation)
# ---------------------------------------------------------------------------

class Frame(object):
    __slots__ = ("raw", "version", "kind", "session_id", "message_id", "part_count",
                 "part_index", "message_size", "part_size", "chunk_size",
                 "chunk_offset", "data", "ack_hash", "ignored")

    def __init__(self, raw):
        self.raw = raw
        self.data = b""
        self.ack_hash = None
        self.ignored = False  # an unknown kind: PROTOCOL.md 1.2 ignores it

    def describe(self):
        name = KIND_NAMES.get(self.kind) or EXT_KIND_NAMES.get(self.kind, "kind%d" % self.kind)
        s = "%s v=0x%02x session=0x%016x" % (name, self.version, self.session_id)
        if self.kind == KIND_DATA:
            s += (" message_id=0x%016x part_count=%d part_index=%d message_size=%d"
                  " part_size=%d chunk_size=%d chunk_offset=%d len=%d"
                  % (self.message_id, self.part_count, self.part_index,
                     self.message_size, self.part_size, self.chunk_size,
                     self.chunk_offset, len(self.raw)))
        elif self.kind == KIND_ACK:
            s += " hash=0x%016x" % self.ack_hash
        elif len(self.raw) > COMMON_HDR_LEN:
            s += " data=%s" % self.raw[COMMON_HDR_LEN:].hex()
        return s


def parse_frame(raw, max_frame=DEFAULT_MAX_FRAME, max_message_size=DEFAULT_MAX_MESSAGE):
    """Parse and validate one datagram against PROTOCOL.md 1 for a plain
    (unencrypted) v0.2.0 socket.  Raises ProtocolViolation on anything
    non-conforming.  Session-id semantics (known/unknown) are the caller's."""
    raw = bytes(raw)
    n = len(raw)
    if n < COMMON_HDR_LEN:
        raise ProtocolViolation("datagram of %d bytes is shorter than the 10-byte common header" % n)
    f = Frame(raw)
    f.version, f.kind, f.session_id = COMMON_HDR.unpack_from(raw)
    if f.version != PROTOCOL_VERSION:
        raise ProtocolViolation("bad version byte 0x%02x (protocol 0.2.0 is 0x01)" % f.version)
    if n > max_frame:
        raise ProtocolViolation("datagram of %d bytes exceeds max_frame_size %d (v0.2.0 peers "
                                "read into a %d-byte buffer)" % (n, max_frame, max_frame))
    if f.kind & 0x80:
        raise ProtocolViolation("encrypted kind 0x%02x sent to a plain (unencrypted) peer" % f.kind)
    if f.kind == KIND_DATA:
        if n < DATA_HDR_LEN:
            raise ProtocolViolation("data frame of %d bytes is shorter than the 34-byte data header" % n)
        (_, _, _, f.message_id, f.part_count, f.part_index, f.message_size, f.part_size,
         f.chunk_size, f.chunk_offset) = DATA_HDR.unpack_from(raw)
        if n != DATA_HDR_LEN + f.chunk_size:
            raise ProtocolViolation("data frame length %d != 34 + chunk_size %d" % (n, f.chunk_size))
        if f.part_count < 1:
            raise ProtocolViolation("part_count 0 (must be 1..255)")
        if f.part_index >= f.part_count:
            raise ProtocolViolation("part_index %d >= part_count %d" % (f.part_index, f.part_count))
        if f.chunk_offset + f.chunk_size > f.part_size:
            raise ProtocolViolation("chunk_offset %d + chunk_size %d > part_size %d"
                                    % (f.chunk_offset, f.chunk_size, f.part_size))
        if f.part_size > f.message_size:
            raise ProtocolViolation("part_size %d > message_size %d" % (f.part_size, f.message_size))
        if f.message_size > max_message_size:
            raise ProtocolViolation("message_size %d > max_message_size %d"
                                    % (f.message_size, max_message_size))
        if f.chunk_size == 0 and f.part_size != 0:
            raise ProtocolViolation("zero-length chunk in a non-empty part (part_size %d)" % f.part_size)
        f.data = raw[DATA_HDR_LEN:]
    elif f.kind in (KIND_CONNECT, KIND_CONNECTED, KIND_DISCONNECTED, KIND_HEARTBEAT):
        if n != COMMON_HDR_LEN:
            raise ProtocolViolation("%s carries %d bytes after the header; on a plain socket it "
                                    "carries none" % (KIND_NAMES[f.kind], n - COMMON_HDR_LEN))
        if f.kind == KIND_CONNECT and f.session_id != 0:
            raise ProtocolViolation("Connect with session_id 0x%016x (must be 0 on a plain socket)"
                                    % f.session_id)
        if f.kind == KIND_CONNECTED:
            if f.session_id == 0:
                raise ProtocolViolation("Connected with session id 0 (never 0)")
            if raw[4:8] == STUN_COOKIE_BYTES:
                raise ProtocolViolation("Connected session id 0x%016x puts the STUN magic cookie at "
                                        "datagram offsets 4..7" % f.session_id)
    elif f.kind == KIND_ACK:
        if n != ACK_LEN:
            raise ProtocolViolation("Ack of %d bytes (must be 10 + 8)" % n)
        f.ack_hash = struct.unpack_from(">Q", raw, COMMON_HDR_LEN)[0]
    else:
        # PROTOCOL.md 1.2: unknown control kinds are ignored.  What the
        # caller thinks of receiving one is ExtGuard's business.
        f.ignored = True
        f.data = raw[COMMON_HDR_LEN:]
    return f


class ExtGuard(object):
    """What a v0.2.0 peer may see of nbmq's extension: at most MAX_HELLOS
    Hellos per session when it is the bound side, none when it connects,
    never a Batch, nothing of any other unknown kind.  seen() raises
    ProtocolViolation, or counts the frame that the peer then ignores."""

    def __init__(self, bound):
        self.bound = bound
        self.hellos = collections.Counter()  # session id -> Hellos

    def seen(self, f):
        if f.kind == KIND_BATCH:
            raise ProtocolViolation("Batch (kind 7) sent to a v0.2.0 peer, which ignores "
                                    "unknown kinds: the messages in it would be lost")
        if f.kind != KIND_HELLO:
            raise ProtocolViolation("unknown frame kind %d (v0.2.0 defines 0..5; nbmq adds "
                                    "only Hello, kind 6, towards a v0.2.0 peer)" % f.kind)
        if not self.bound:
            raise ProtocolViolation("Hello (kind 6) sent to a connecting v0.2.0 peer: only "
                                    "the connecting side may offer the extension")
        self.hellos[f.session_id] += 1
        if self.hellos[f.session_id] > MAX_HELLOS:
            raise ProtocolViolation("%d Hello (kind 6) frames for session 0x%016x: at most %d "
                                    "may go to a v0.2.0 peer"
                                    % (self.hellos[f.session_id], f.session_id, MAX_HELLOS))

    def total(self):
        return sum(self.hellos.values())


# ---------------------------------------------------------------------------
# Reassembly (cross-frame validation)
# ---------------------------------------------------------------------------

class _Part(object):
    __slots__ = ("size", "buf", "offsets", "lengths", "received")

    def __init__(self, size):
        self.size = size
        self.buf = bytearray(size)
        self.offsets = []  # sorted chunk offsets
        self.lengths = {}  # offset -> chunk length
        self.received = 0


class _Message(object):
    __slots__ = ("part_count", "message_size", "parts", "known_size", "complete_parts",
                 "expect", "hashes", "last_frame")

    def __init__(self, part_count, message_size):
        self.part_count = part_count
        self.message_size = message_size
        self.parts = {}
        self.known_size = 0
        self.complete_parts = 0
        self.expect = (0, 0)
        self.hashes = set()
        self.last_frame = 0.0


class Reassembler(object):
    """Reassembles data frames keyed by (session_id, message_id).  feed()
    validates everything before touching state, so a rejected frame never
    corrupts a message being reassembled."""

    def __init__(self, max_frame=DEFAULT_MAX_FRAME, max_message_size=DEFAULT_MAX_MESSAGE):
        self.max_frame = max_frame
        self.max_message_size = max_message_size
        self.pending = {}
        self.completed = {}  # key -> set of (builtin) hashes of its frames
        self.duplicates = 0
        self.late_duplicates = 0
        self.out_of_order = 0
        self.frames = 0

    def feed_datagram(self, raw):
        return self.feed(parse_frame(raw, self.max_frame, self.max_message_size))

    def feed(self, f):
        """Returns the list of parts (bytes) when f completes a message,
        else None.  Raises ProtocolViolation."""
        if f.kind != KIND_DATA:
            raise ValueError("not a data frame")
        key = (f.session_id, f.message_id)
        done = self.completed.get(key)
        if done is not None:
            if hash(f.raw) in done:
                self.late_duplicates += 1
                return None
            raise ProtocolViolation("frame for message_id 0x%016x, which is already complete, "
                                    "differs from all its frames (message_id reused?)" % f.message_id)
        m = self.pending.get(key)
        part = None
        new_part = True
        if m is not None:
            if f.part_count != m.part_count:
                raise ProtocolViolation("part_count %d disagrees with %d in earlier frames of message "
                                        "0x%016x" % (f.part_count, m.part_count, f.message_id))
            if f.message_size != m.message_size:
                raise ProtocolViolation("message_size %d disagrees with %d in earlier frames of "
                                        "message 0x%016x" % (f.message_size, m.message_size, f.message_id))
            part = m.parts.get(f.part_index)
            if part is not None:
                new_part = False
                if f.part_size != part.size:
                    raise ProtocolViolation("part_size %d of part %d disagrees with %d in earlier "
                                            "frames" % (f.part_size, f.part_index, part.size))
            known_parts = len(m.parts)
            known_size = m.known_size
        else:
            known_parts = 0
            known_size = 0
        if new_part:
            known_parts += 1
            known_size += f.part_size
            if known_size > f.message_size:
                raise ProtocolViolation("part sizes add up to %d, more than message_size %d"
                                        % (known_size, f.message_size))
            if known_parts == f.part_count and known_size != f.message_size:
                raise ProtocolViolation("the %d part sizes add up to %d, not message_size %d"
                                        % (f.part_count, known_size, f.message_size))
        # chunk placement within the part
        dup = False
        pos = None
        if part is not None:
            if f.part_size == 0:
                dup = True
            else:
                off, n = f.chunk_offset, f.chunk_size
                if off in part.lengths:
                    if part.lengths[off] != n:
                        raise ProtocolViolation("chunk [%d,+%d) of part %d overlaps an earlier chunk "
                                                "[%d,+%d)" % (off, n, f.part_index, off, part.lengths[off]))
                    if bytes(part.buf[off:off + n]) != f.data:
                        raise ProtocolViolation("duplicate chunk [%d,+%d) of part %d with different "
                                                "content" % (off, n, f.part_index))
                    dup = True
                else:
                    pos = bisect.bisect_left(part.offsets, off)
                    if pos > 0:
                        poff = part.offsets[pos - 1]
                        if poff + part.lengths[poff] > off:
                            raise ProtocolViolation("chunk [%d,+%d) of part %d overlaps an earlier "
                                                    "chunk [%d,+%d)" % (off, n, f.part_index, poff,
                                                                        part.lengths[poff]))
                    if pos < len(part.offsets):
                        noff = part.offsets[pos]
                        if off + n > noff:
                            raise ProtocolViolation("chunk [%d,+%d) of part %d overlaps an earlier "
                                                    "chunk [%d,+%d)" % (off, n, f.part_index, noff,
                                                                        part.lengths[noff]))
        # ---- all checks passed: now mutate state ----
        self.frames += 1
        if dup:
            self.duplicates += 1
            m.hashes.add(hash(f.raw))
            m.last_frame = time.monotonic()
            return None
        if m is None:
            m = _Message(f.part_count, f.message_size)
            self.pending[key] = m
        m.last_frame = time.monotonic()
        m.hashes.add(hash(f.raw))
        if (f.part_index, f.chunk_offset) != m.expect:
            self.out_of_order += 1
        if f.chunk_offset + f.chunk_size >= f.part_size:
            m.expect = (f.part_index + 1, 0)
        else:
            m.expect = (f.part_index, f.chunk_offset + f.chunk_size)
        if part is None:
            part = _Part(f.part_size)
            m.parts[f.part_index] = part
            m.known_size += f.part_size
            pos = 0
        if f.part_size == 0:
            m.complete_parts += 1
        else:
            off, n = f.chunk_offset, f.chunk_size
            part.offsets.insert(pos, off)
            part.lengths[off] = n
            part.buf[off:off + n] = f.data
            part.received += n
            if part.received == part.size:
                m.complete_parts += 1
        if m.complete_parts == m.part_count:
            del self.pending[key]
            self.completed[key] = m.hashes
            return [bytes(m.parts[i].buf) for i in range(m.part_count)]
        return None

    def incomplete_summary(self):
        out = []
        for (sid, mid), m in self.pending.items():
            got = sum(p.received for p in m.parts.values())
            out.append("session 0x%016x message 0x%016x: %d/%d parts known, %d/%d bytes"
                       % (sid, mid, len(m.parts), m.part_count, got, m.message_size))
        return out


# ---------------------------------------------------------------------------
# Deterministic test messages
# ---------------------------------------------------------------------------

# Sizes of parts 1.. for even-indexed messages (odd ones are seeded-random).
SPECIAL_PART_SIZES = [
    [0], [1], [465], [466], [467], [932], [933],
    [0, 467, 0], [2000, 1, 465], [70000],
]


def part_content(index, part, size):
    """Deterministic bytes of part `part` (>= 1) of message `index`:
    SHA-256("nbmq-v020:<index>:<part>:<k>") for k = 0, 1, ... concatenated."""
    out = bytearray()
    k = 0
    while len(out) < size:
        out += hashlib.sha256(b"nbmq-v020:%d:%d:%d" % (index, part, k)).digest()
        k += 1
    return bytes(out[:size])


def gen_messages(count, seed, max_parts=4, max_size=10000, no_empty=False):
    """Message i: part 0 = b"m<i>"; then 0..max_parts-1 further parts whose
    sizes cover 0, 1, 465, 466, 467, multi-chunk (even i: fixed list) or are
    seeded-random (odd i), all capped so the message is <= max_size bytes
    (part 0 is never cut)."""
    rng = random.Random(seed)
    msgs = []
    specials = SPECIAL_PART_SIZES
    for i in range(count):
        p0 = b"m%d" % i
        budget = max(0, max_size - len(p0))
        extra = max_parts - 1
        if i % 2 == 0:
            want = list(specials[(i // 2) % len(specials)])[:extra]
        else:
            nextra = rng.randint(0, extra) if extra > 0 else 0
            want = []
            for _ in range(nextra):
                r = rng.random()
                if r < 0.3:
                    want.append(rng.choice([0, 1, 465, 466, 467, 932, 933]))
                elif r < 0.6:
                    want.append(rng.randint(0, 3 * DEFAULT_MAX_PAYLOAD))
                else:
                    want.append(rng.randint(0, max(0, budget)))
        parts = [p0]
        for pi, s in enumerate(want, start=1):
            s = min(s, budget)
            if no_empty and s == 0:
                if budget == 0:
                    break
                s = 1
            budget -= s
            parts.append(part_content(i, pi, s))
        msgs.append(parts)
    return msgs


def format_message(parts):
    return "\t".join(bytes(p).hex() for p in parts)


# ---------------------------------------------------------------------------
# Networking helpers
# ---------------------------------------------------------------------------

def parse_hostport(s):
    if s.startswith("["):
        host, _, rest = s[1:].partition("]")
        if not rest.startswith(":"):
            raise argparse.ArgumentTypeError("expected [HOST]:PORT, got %r" % s)
        port = rest[1:]
    else:
        host, sep, port = s.rpartition(":")
        if not sep:
            raise argparse.ArgumentTypeError("expected HOST:PORT, got %r" % s)
    try:
        port = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError("bad port in %r" % s)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError("bad port in %r" % s)
    return host or "0.0.0.0", port


def resolve(host, port, passive=False):
    flags = socket.AI_PASSIVE if passive else 0
    infos = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_DGRAM, 0, flags)
    if not infos:
        raise PeerError("cannot resolve %s" % host)
    fam, _, _, _, addr = infos[0]
    return fam, addr


def fmt_addr(addr):
    host, port = addr[0], addr[1]
    if ":" in host:
        return "[%s]:%d" % (host, port)
    return "%s:%d" % (host, port)


def make_socket(family):
    s = socket.socket(family, socket.SOCK_DGRAM)
    for opt in (socket.SO_RCVBUF, socket.SO_SNDBUF):
        try:
            s.setsockopt(socket.SOL_SOCKET, opt, 4 * 1024 * 1024)
        except OSError:
            pass
    s.setblocking(False)
    return s


def random_session_id(live=()):
    while True:
        sid = secrets.randbits(64)
        if sid == 0 or sid in live:
            continue
        if struct.pack(">Q", sid)[2:6] == STUN_COOKIE_BYTES:
            continue
        return sid


def log(msg):
    sys.stderr.write("%s: %s\n" % (PROG, msg))
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# The peer engine shared by `connect` and `bind`
# ---------------------------------------------------------------------------

class PeerState(object):
    def __init__(self, sid, addr, now):
        self.sid = sid
        self.addr = addr
        self.last_sent = now
        self.last_seen = now
        self.heartbeats_in = 0
        self.got_heartbeat = False
        self.max_gap = 0.0


class Engine(object):
    def __init__(self, sock, args):
        self.sock = sock
        self.args = args
        self.reasm = Reassembler(args.max_frame, args.max_message_size)
        self.sent_hashes = set()  # FNV-1a-64 of data frames sent (filled lazily)
        self.sent_unhashed = collections.deque()
        self.next_mid = secrets.randbits(64)
        self.out_queue = collections.deque()  # (frame, PeerState)
        self.to_send = collections.deque(
            gen_messages(args.send, args.seed, args.parts, args.max_size, args.no_empty))
        self.msgs_queued = 0
        self.received = 0
        self.extra_msgs = 0
        self.stats = collections.Counter()
        self.warned = set()
        self.ext = ExtGuard(bound=args.cmd == "bind")

    def vlog(self, msg):
        if self.args.verbose:
            log(msg)

    def warn_once(self, key, msg):
        if key not in self.warned:
            self.warned.add(key)
            log("warning: " + msg)

    def violation(self, msg, raw=None, addr=None):
        if raw is not None:
            msg += " [frame from %s: %s%s]" % (fmt_addr(addr) if addr else "?", raw[:64].hex(),
                                               "..." if len(raw) > 64 else "")
        raise ProtocolViolation(msg)

    def sendto(self, data, addr, peer=None):
        try:
            self.sock.sendto(data, addr)
        except BlockingIOError:
            # kernel buffer full: wait until writable once, then retry
            select.select([], [self.sock], [], 1.0)
            self.sock.sendto(data, addr)
        if peer is not None:
            peer.last_sent = time.monotonic()
        k = data[1] if len(data) > 1 else -1
        self.stats["sent_" + KIND_NAMES.get(k, "other")] += 1

    def queue_message(self, parts, peer):
        mid = self.next_mid
        self.next_mid = (self.next_mid + 1) & U64_MASK
        for fr in chunk_message(peer.sid, mid, parts, self.args.max_frame):
            self.out_queue.append((fr, peer))
        self.msgs_queued += 1

    def pump(self, peer):
        """Send up to --burst frames.  Returns True if frames remain."""
        if peer is not None:
            while self.to_send and len(self.out_queue) < self.args.burst:
                self.queue_message(self.to_send.popleft(), peer)
        n = 0
        while self.out_queue and n < self.args.burst:
            fr, p = self.out_queue.popleft()
            self.sent_unhashed.append(fr)
            self.sendto(fr, p.addr, p)
            n += 1
        return bool(self.out_queue or (self.to_send and peer is not None))

    def sending_done(self):
        return not self.to_send and not self.out_queue

    def drain(self):
        out = []
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
            except (BlockingIOError, InterruptedError):
                return out
            except ConnectionRefusedError:
                self.warn_once("icmp", "ICMP port unreachable (nobody listening yet?)")
                continue
            out.append((data, addr))

    def deliver(self, parts):
        self.received += 1
        if self.received > self.args.recv:
            self.extra_msgs += 1
            log("warning: unexpected extra message #%d (only --recv %d expected): %s"
                % (self.received, self.args.recv, format_message(parts)[:200]))
            return
        sys.stdout.write(format_message(parts) + "\n")
        sys.stdout.flush()

    def handle_data(self, f, peer, addr):
        self.stats["recv_Data"] += 1
        try:
            parts = self.reasm.feed(f)
        except ProtocolViolation as e:
            self.violation(str(e), f.raw, addr)
        if self.args.ack:
            self.sendto(encode_ack(f.session_id, fnv1a64(f.raw)), peer.addr, peer)
        if parts is not None:
            self.deliver(parts)

    def handle_ack(self, f, addr):
        self.stats["recv_Ack"] += 1
        # hash sent frames only when acks arrive (FNV in Python is slow)
        while f.ack_hash not in self.sent_hashes and self.sent_unhashed:
            self.sent_hashes.add(fnv1a64(self.sent_unhashed.popleft()))
        if f.ack_hash not in self.sent_hashes:
            self.violation("Ack with hash 0x%016x matching no data frame we sent" % f.ack_hash,
                           f.raw, addr)

    def note_seen(self, peer, now, addr):
        gap = now - peer.last_seen
        if gap > peer.max_gap:
            peer.max_gap = gap
        peer.last_seen = now
        if addr != peer.addr:
            log("peer 0x%016x moved from %s to %s" % (peer.sid, fmt_addr(peer.addr), fmt_addr(addr)))
            peer.addr = addr

    def summary(self, peers):
        r = self.reasm
        log("summary: sent %d messages, received %d messages (%d extra); data frames sent %d, "
            "received %d (duplicates %d, late duplicates %d, out-of-order %d); acks sent %d, "
            "received %d"
            % (self.msgs_queued, min(self.received, self.args.recv), self.extra_msgs,
               self.stats["sent_Data"], self.stats["recv_Data"], r.duplicates,
               r.late_duplicates, r.out_of_order, self.stats["sent_Ack"], self.stats["recv_Ack"]))
        for p in peers:
            log("summary: session 0x%016x at %s: heartbeats received %d, max silence %.2f s"
                % (p.sid, fmt_addr(p.addr), p.heartbeats_in, p.max_gap))
        log("summary: ignored %d Hello (kind 6) frame(s) of nbmq's extension%s"
            % (self.ext.total(), "".join(", session 0x%016x: %d" % kv
                                        for kv in sorted(self.ext.hellos.items()))))
        for line in r.incomplete_summary():
            log("incomplete: " + line)

    def ignore(self, f, addr):
        """An unknown kind (PROTOCOL.md 1.2): checked, counted, ignored."""
        try:
            self.ext.seen(f)
        except ProtocolViolation as e:
            self.violation(str(e), f.raw, addr)
        self.stats["recv_kind%d" % f.kind] += 1
        self.vlog("ignored %s" % f.describe())


def wait_readable(sock, timeout):
    if timeout < 0:
        timeout = 0
    select.select([sock], [], [], timeout)


def run_connect(args):
    host, port = args.target
    fam, daddr = resolve(host, port)
    sock = make_socket(fam)
    eng = Engine(sock, args)
    start = time.monotonic()
    deadline = start + args.timeout
    peer = None
    known = {}  # sid -> PeerState (all sessions the daemon gave us)
    next_connect = start
    done_at = None
    try:
        while True:
            now = time.monotonic()
            # --- timers ---
            if peer is None and now >= next_connect:
                eng.sendto(encode_connect(), daddr)
                eng.vlog("sent Connect to %s" % fmt_addr(daddr))
                next_connect = now + CONNECT_RETRY
            more = False
            if peer is not None:
                more = eng.pump(peer)
                now = time.monotonic()
                if now - peer.last_sent >= HEARTBEAT_IVL:
                    eng.sendto(encode_heartbeat(peer.sid), peer.addr, peer)
                if args.max_silence and now - peer.last_seen > args.max_silence:
                    eng.violation("daemon silent for %.2f s (> --max-silence %.2f): no heartbeats"
                                  % (now - peer.last_seen, args.max_silence))
            finished = (peer is not None and eng.sending_done()
                        and eng.received >= args.recv)
            if finished and done_at is None:
                done_at = now
                eng.vlog("all messages sent and received; lingering %.2f s" % args.linger)
            if done_at is not None and now >= done_at + args.linger:
                break
            if done_at is None and now >= deadline:
                raise PeerTimeout("timeout after %.1f s: %s; sent %d/%d messages, received %d/%d"
                                  % (args.timeout, "connected" if peer else "no Connected received",
                                     eng.msgs_queued - (1 if eng.out_queue else 0), args.send,
                                     eng.received, args.recv))
            # --- wait ---
            if more:
                wait_readable(sock, args.gap)
            else:
                t = min(0.1, (peer.last_sent + HEARTBEAT_IVL - now) if peer else 0.1)
                if peer is None:
                    t = min(t, next_connect - now)
                wait_readable(sock, t)
            # --- receive ---
            for raw, addr in eng.drain():
                now = time.monotonic()
                if addr[:2] != daddr[:2]:
                    # Not from the daemon we test (a stray datagram to a
                    # reused port, say): a v0.2.0 peer answers an unknown
                    # session with Disconnected and carries on.
                    eng.warn_once(("src", addr), "frame from %s, not the connected address %s: ignored"
                                  % (fmt_addr(addr), fmt_addr(daddr)))
                    if len(raw) >= 10 and raw[0] == 1 and raw[1] in (0, 4, 5):
                        eng.sendto(encode_disconnected(int.from_bytes(raw[2:10], "big")), addr)
                    continue
                try:
                    f = parse_frame(raw, args.max_frame, args.max_message_size)
                except ProtocolViolation as e:
                    eng.violation(str(e), raw, addr)
                eng.vlog("recv %s from %s" % (f.describe(), fmt_addr(addr)))
                if f.ignored:
                    eng.ignore(f, addr)
                    continue
                if f.kind == KIND_CONNECTED:
                    eng.stats["recv_Connected"] += 1
                    if peer is not None and peer.sid == f.session_id:
                        eng.vlog("duplicate Connected for current session")
                    else:
                        if peer is not None:
                            log("Connected(0x%016x) replaces session 0x%016x"
                                % (f.session_id, peer.sid))
                        peer = known.get(f.session_id) or PeerState(f.session_id, addr, now)
                        known[f.session_id] = peer
                        log("connected to %s, session 0x%016x" % (fmt_addr(addr), peer.sid))
                    peer.addr = addr
                    peer.last_seen = now
                    eng.sendto(encode_heartbeat(peer.sid), peer.addr, peer)
                    continue
                if f.kind == KIND_CONNECT:
                    eng.violation("bound side sent Connect to a connecting peer", raw, addr)
                if f.kind == KIND_DISCONNECTED:
                    eng.stats["recv_Disconnected"] += 1
                    if peer is not None and f.session_id == peer.sid and done_at is not None:
                        # Its goodbye: the socket closed cleanly after our work was done.
                        log("Disconnected(0x%016x): the daemon closed the session" % f.session_id)
                        break
                    if peer is not None and f.session_id == peer.sid:
                        raise PeerError("daemon sent Disconnected(0x%016x) for our session"
                                        % f.session_id)
                    log("warning: Disconnected(0x%016x) for a session that is not ours: ignored"
                        % f.session_id)
                    continue
                p = known.get(f.session_id)
                if p is None:
                    eng.sendto(encode_disconnected(f.session_id), addr)
                    eng.violation("%s with session id 0x%016x the daemon never gave us "
                                  "(answered Disconnected)" % (KIND_NAMES[f.kind], f.session_id),
                                  raw, addr)
                eng.note_seen(p, now, addr)
                if f.kind == KIND_HEARTBEAT:
                    eng.stats["recv_Heartbeat"] += 1
                    p.heartbeats_in += 1
                    p.got_heartbeat = True
                elif f.kind == KIND_ACK:
                    eng.handle_ack(f, addr)
                elif f.kind == KIND_DATA:
                    eng.handle_data(f, p, addr)
        hb = sum(p.heartbeats_in for p in known.values())
        if hb < args.min_heartbeats:
            eng.violation("daemon sent %d Heartbeat(s), --min-heartbeats is %d"
                          % (hb, args.min_heartbeats))
        return EXIT_OK
    finally:
        eng.summary(known.values())
        sock.close()


def run_bind(args):
    host, port = args.listen
    fam, baddr = resolve(host, port, passive=True)
    sock = make_socket(fam)
    sock.bind(baddr)
    local = sock.getsockname()
    shown = fmt_addr(local)
    if args.ready_file:
        tmp = args.ready_file + ".tmp.%d" % os.getpid()
        with open(tmp, "w") as fh:
            fh.write(shown + "\n")
        os.rename(tmp, args.ready_file)
    log("listening %s" % shown)
    eng = Engine(sock, args)
    start = time.monotonic()
    deadline = start + args.timeout
    sessions = {}
    ended = []          # sessions the connecting side closed (Disconnected)
    current = None  # the session we send to: the latest one that sent Heartbeat
    done_at = None
    serve_only = args.recv == 0 and args.send == 0
    try:
        while True:
            now = time.monotonic()
            more = False
            if current is not None:
                more = eng.pump(current)
            now = time.monotonic()
            for p in sessions.values():
                if now - p.last_sent >= HEARTBEAT_IVL:
                    eng.sendto(encode_heartbeat(p.sid), p.addr, p)
                if args.max_silence and p is current and now - p.last_seen > args.max_silence:
                    eng.violation("peer silent for %.2f s (> --max-silence %.2f)"
                                  % (now - p.last_seen, args.max_silence))
            finished = (not serve_only and eng.received >= args.recv
                        and (args.send == 0 or ((current is not None or ended)
                                                and eng.sending_done())))
            if finished and done_at is None:
                done_at = now
            if done_at is not None and now >= done_at + args.linger:
                break
            if done_at is None and now >= deadline:
                if serve_only:
                    break
                raise PeerTimeout("timeout after %.1f s: %s; sent %d/%d messages, received %d/%d"
                                  % (args.timeout, "peer connected" if current else
                                     ("Connect seen but no Heartbeat" if sessions else
                                      "no Connect received"),
                                     eng.msgs_queued - (1 if eng.out_queue else 0), args.send,
                                     eng.received, args.recv))
            wait_readable(sock, args.gap if more else 0.1)
            for raw, addr in eng.drain():
                now = time.monotonic()
                try:
                    f = parse_frame(raw, args.max_frame, args.max_message_size)
                except ProtocolViolation as e:
                    eng.violation(str(e), raw, addr)
                eng.vlog("recv %s from %s" % (f.describe(), fmt_addr(addr)))
                if f.ignored:
                    eng.ignore(f, addr)
                    continue
                if f.kind == KIND_CONNECT:
                    eng.stats["recv_Connect"] += 1
                    sid = random_session_id(sessions)
                    p = PeerState(sid, addr, now)
                    sessions[sid] = p
                    eng.sendto(encode_connected(sid), addr, p)
                    log("Connect from %s: session 0x%016x" % (fmt_addr(addr), sid))
                    continue
                if f.kind == KIND_CONNECTED:
                    eng.violation("connecting side sent %s to the bound side"
                                  % KIND_NAMES[f.kind], raw, addr)
                if f.kind == KIND_DISCONNECTED:
                    # A goodbye: the connecting side closed cleanly.  From
                    # the session's own address only, and the session goes.
                    eng.stats["recv_Disconnected"] += 1
                    p = sessions.get(f.session_id)
                    if p is not None and p.addr == addr:
                        ended.append(sessions.pop(f.session_id))
                        if current is p:
                            current = None
                        log("Disconnected(0x%016x) from %s: session dropped"
                            % (f.session_id, fmt_addr(addr)))
                    else:
                        log("warning: Disconnected(0x%016x) from %s for no "
                            "session of its own: ignored"
                            % (f.session_id, fmt_addr(addr)))
                    continue
                p = sessions.get(f.session_id)
                if p is None:
                    eng.sendto(encode_disconnected(f.session_id), addr)
                    eng.stats["unknown_session"] += 1
                    log("%s with unknown session 0x%016x from %s: answered Disconnected"
                        % (KIND_NAMES[f.kind], f.session_id, fmt_addr(addr)))
                    continue
                eng.note_seen(p, now, addr)
                if f.kind == KIND_HEARTBEAT:
                    eng.stats["recv_Heartbeat"] += 1
                    p.heartbeats_in += 1
                    if not p.got_heartbeat:
                        p.got_heartbeat = True
                        if current is not p:
                            if current is not None:
                                log("session 0x%016x replaces 0x%016x as the peer we send to"
                                    % (p.sid, current.sid))
                            current = p
                elif f.kind == KIND_ACK:
                    eng.handle_ack(f, addr)
                elif f.kind == KIND_DATA:
                    if not p.got_heartbeat:
                        eng.warn_once(("early", p.sid), "data on session 0x%016x before its "
                                      "Heartbeat (reordered, or Heartbeat missing)" % p.sid)
                    eng.handle_data(f, p, addr)
        if eng.stats["recv_Data"] and not any(p.got_heartbeat for p in
                                              list(sessions.values()) + ended):
            eng.violation("peer sent data but never a Heartbeat after Connected")
        hb = sum(p.heartbeats_in for p in sessions.values())
        if hb < args.min_heartbeats:
            eng.violation("peer sent %d Heartbeat(s), --min-heartbeats is %d"
                          % (hb, args.min_heartbeats))
        return EXIT_OK
    finally:
        eng.summary(sessions.values())
        sock.close()


# ---------------------------------------------------------------------------
# raw helpers
# ---------------------------------------------------------------------------

def describe_raw(raw):
    try:
        f = parse_frame(raw, max_frame=max(len(raw), DEFAULT_MAX_FRAME))
        return ("ignored (unknown kind) " if f.ignored else "") + f.describe()
    except ProtocolViolation as e:
        return "INVALID (%s)" % e


def run_send_raw(args):
    host, port = args.target
    fam, daddr = resolve(host, port)
    sock = make_socket(fam)
    try:
        if args.from_port:
            sock.bind(("::" if fam == socket.AF_INET6 else "0.0.0.0", args.from_port))
        raw = bytes.fromhex(args.hex)
        sock.sendto(raw, daddr)
        end = time.monotonic() + args.wait
        replies = []
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            r, _, _ = select.select([sock], [], [], left)
            if not r:
                break
            try:
                data, addr = sock.recvfrom(65536)
            except ConnectionRefusedError:
                log("ICMP port unreachable from %s" % fmt_addr(daddr))
                continue
            replies.append(data)
            sys.stdout.write(data.hex() + "\n")
            sys.stdout.flush()
            log("reply from %s: %s" % (fmt_addr(addr), describe_raw(data)))
    finally:
        sock.close()
    if args.expect_none and replies:
        log("expected no reply, got %d" % len(replies))
        return EXIT_VIOLATION
    if args.expect is not None:
        want = bytes.fromhex(args.expect)
        if want not in replies:
            log("expected reply %s not received" % want.hex())
            return EXIT_VIOLATION
    return EXIT_OK


def run_frame(args):
    kind = args.kind.lower()
    sid = args.session
    if kind == "data":
        data = bytes.fromhex(args.data)
        part_size = args.part_size if args.part_size is not None else len(data)
        message_size = args.message_size if args.message_size is not None else part_size
        raw = encode_data_frame(sid, args.message_id, args.part_count, args.part_index,
                                message_size, part_size, args.chunk_offset, data,
                                chunk_size=args.chunk_size, version=args.version)
    elif kind == "ack":
        raw = encode_control(KIND_ACK, sid, struct.pack(">Q", args.hash), version=args.version)
    elif kind in KIND_BY_NAME:
        raw = encode_control(KIND_BY_NAME[kind], sid, bytes.fromhex(args.data), version=args.version)
    else:
        try:
            k = int(kind, 0)
        except ValueError:
            raise PeerError("unknown frame kind %r" % args.kind)
        raw = encode_control(k, sid, bytes.fromhex(args.data), version=args.version)
    if args.truncate is not None:
        raw = raw[:args.truncate]
    sys.stdout.write(raw.hex() + "\n")
    return EXIT_OK


def run_decode(args):
    raw = bytes.fromhex(args.hex)
    try:
        f = parse_frame(raw, args.max_frame, args.max_message_size)
    except ProtocolViolation as e:
        sys.stdout.write("INVALID: %s\n" % e)
        return EXIT_VIOLATION
    sys.stdout.write(f.describe() + "\n")
    return EXIT_OK


def run_gen(args):
    for parts in gen_messages(args.count, args.seed, args.parts, args.max_size, args.no_empty):
        sys.stdout.write(format_message(parts) + "\n")
    return EXIT_OK


# ---------------------------------------------------------------------------
# selftest
# ---------------------------------------------------------------------------

class SelfTest(object):
    def __init__(self, verbose):
        self.verbose = verbose
        self.passed = 0
        self.failed = 0

    def check(self, cond, name):
        if cond:
            self.passed += 1
            if self.verbose:
                log("ok   %s" % name)
        else:
            self.failed += 1
            log("FAIL %s" % name)

    def expect_violation(self, fn, name, contains=None):
        try:
            fn()
        except ProtocolViolation as e:
            ok = contains is None or contains in str(e)
            self.check(ok, "%s rejected (%s)" % (name, e))
            return
        self.check(False, "%s: expected rejection, was accepted" % name)


def _reassemble(frames, r=None):
    r = r or Reassembler()
    got = []
    for fr in frames:
        res = r.feed_datagram(fr)
        if res is not None:
            got.append(res)
    return got, r


def run_selftest(args):
    t = SelfTest(args.verbose)
    rng = random.Random(12345)

    # --- FNV-1a-64 vectors ---
    t.check(fnv1a64(b"") == 0xCBF29CE484222325, "fnv1a64('')")
    t.check(fnv1a64(b"a") == 0xAF63DC4C8601EC8C, "fnv1a64('a')")
    t.check(fnv1a64(b"foobar") == 0x85944171F73967E8, "fnv1a64('foobar')")

    # --- header layouts ---
    t.check(COMMON_HDR_LEN == 10 and DATA_HDR_LEN == 34, "header sizes 10/34")
    hb = encode_heartbeat(0x0102030405060708)
    t.check(hb == bytes([1, 4, 1, 2, 3, 4, 5, 6, 7, 8]), "heartbeat byte layout (big-endian)")
    t.check(encode_connect() == bytes([1, 1] + [0] * 8), "connect byte layout")
    ack = encode_ack(7, 0x1122334455667788)
    t.check(ack == bytes([1, 5, 0, 0, 0, 0, 0, 0, 0, 7, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]),
            "ack byte layout")
    df = encode_data_frame(0xAABBCCDDEEFF0011, 0x0102030405060708, 3, 1, 0x01020304, 0x0A0B0C0D,
                           0x00000102, b"xyz")
    want = (bytes([1, 0, 0xAA, 0xBB, 0xCC, 0xDD, 0xEE, 0xFF, 0x00, 0x11,
                   1, 2, 3, 4, 5, 6, 7, 8, 3, 1, 1, 2, 3, 4, 0x0A, 0x0B, 0x0C, 0x0D,
                   0, 3, 0, 0, 1, 2]) + b"xyz")
    t.check(df == want, "data frame byte layout (offsets 0,1,2,10,18,19,20,24,28,30,34)")
    for k, enc in ((KIND_CONNECT, encode_connect()), (KIND_CONNECTED, encode_connected(99)),
                   (KIND_DISCONNECTED, encode_disconnected(99)), (KIND_HEARTBEAT, encode_heartbeat(99)),
                   (KIND_ACK, encode_ack(99, 12345))):
        f = parse_frame(enc)
        t.check(f.kind == k and f.session_id == (0 if k == KIND_CONNECT else 99)
                and (k != KIND_ACK or f.ack_hash == 12345), "control round trip %s" % KIND_NAMES[k])
    t.check(parse_frame(encode_disconnected(0)).session_id == 0, "Disconnected(0) accepted")

    # --- chunking of single-part messages ---
    expected_frames = {0: 1, 1: 1, 465: 1, 466: 1, 467: 2, 932: 2, 933: 3, 70000: 151}
    for size, nframes in sorted(expected_frames.items()):
        data = part_content(size, 1, size)
        frames = chunk_message(42, 1000 + size, [data])
        t.check(len(frames) == nframes, "size %d -> %d frames (got %d)" % (size, nframes, len(frames)))
        t.check(all(len(fr) <= 500 for fr in frames), "size %d: frames <= 500 bytes" % size)
        fields = [parse_frame(fr) for fr in frames]
        t.check(all(f.part_count == 1 and f.part_index == 0 and f.message_size == size
                    and f.part_size == size and f.message_id == 1000 + size and f.session_id == 42
                    for f in fields), "size %d: header fields" % size)
        t.check([f.chunk_offset for f in fields] == [i * 466 for i in range(nframes)],
                "size %d: chunk offsets in order" % size)
        t.check(sum(f.chunk_size for f in fields) == size, "size %d: chunk sizes add up" % size)
        if size == 0:
            t.check(fields[0].chunk_size == 0 and len(frames[0]) == 34, "empty part = one 34-byte frame")
        got, r = _reassemble(frames)
        t.check(got == [[data]] and not r.pending, "size %d: reassembly round trip" % size)

    # --- multipart ---
    parts = [b"m0", b"", part_content(1, 1, 467), part_content(1, 2, 70000), b"", b"x",
             part_content(1, 3, 466)]
    frames = chunk_message(5, 77, parts)
    fields = [parse_frame(fr) for fr in frames]
    t.check([f.part_index for f in fields] == sorted(f.part_index for f in fields),
            "multipart: parts in order")
    t.check(all(f.part_count == len(parts) and f.message_size == sum(map(len, parts))
                for f in fields), "multipart: part_count/message_size on every frame")
    got, r = _reassemble(frames)
    t.check(got == [parts], "multipart round trip")
    got, r = _reassemble(chunk_message(5, 78, [b""]))
    t.check(got == [[b""]], "message of one empty part (message_size 0)")
    got, r = _reassemble(chunk_message(5, 79, [b"", b""]))
    t.check(got == [[b"", b""]], "message of two empty parts")
    many = [bytes([i]) * (i % 5) for i in range(255)]
    got, r = _reassemble(chunk_message(5, 80, many))
    t.check(got == [many], "255-part message round trip")
    try:
        chunk_message(5, 81, [b"x"] * 256)
        t.check(False, "256 parts refused by encoder")
    except ValueError:
        t.check(True, "256 parts refused by encoder")
    try:
        chunk_message(5, 81, [])
        t.check(False, "0 parts refused by encoder")
    except ValueError:
        t.check(True, "0 parts refused by encoder")

    # --- out-of-order and duplicates ---
    shuffled = list(frames)
    rng.shuffle(shuffled)
    got, r = _reassemble(shuffled)
    t.check(got == [parts] and r.out_of_order > 0, "out-of-order chunks reassemble (%d out of order)"
            % r.out_of_order)
    duped = []
    for fr in frames:
        duped.append(fr)
        if rng.random() < 0.5:
            duped.append(fr)
    rng.shuffle(duped)
    got, r = _reassemble(duped + frames[:3])
    t.check(got == [parts], "duplicated chunks ignored, message delivered once")
    t.check(r.duplicates + r.late_duplicates == len(duped) + 3 - len(frames),
            "duplicates counted (%d + %d late)" % (r.duplicates, r.late_duplicates))
    # interleaved messages from two sessions with the same message id
    a = chunk_message(1, 500, [b"m1", part_content(9, 1, 1000)])
    b = chunk_message(2, 500, [b"m2", part_content(9, 2, 1500)])
    inter = [x for pair in zip(a, b) for x in pair] + b[len(a):]
    got, r = _reassemble(inter)
    t.check(sorted(got) == sorted([[b"m1", part_content(9, 1, 1000)], [b"m2", part_content(9, 2, 1500)]]),
            "interleaved messages keyed by (session, message_id)")

    # --- gen messages round trip ---
    msgs = gen_messages(40, 7, 4, 10000)
    sizes = set()
    for m in msgs:
        sizes.update(len(p) for p in m[1:])
    t.check({0, 1, 465, 466, 467}.issubset(sizes), "gen covers part sizes 0,1,465,466,467")
    t.check(any(len(p) > 466 * 2 for m in msgs for p in m), "gen has multi-chunk parts")
    t.check(all(m[0] == b"m%d" % i for i, m in enumerate(msgs)), "gen part 0 = m<index>")
    t.check(all(sum(map(len, m)) <= 10000 for m in msgs), "gen respects --max-size")
    t.check(gen_messages(40, 7, 4, 10000) == msgs, "gen deterministic")
    t.check(gen_messages(40, 8, 4, 10000) != msgs, "gen depends on seed")
    t.check(all(len(p) > 0 for m in gen_messages(40, 7, 4, 10000, True) for p in m), "gen --no-empty")
    r = Reassembler()
    allframes = []
    for i, m in enumerate(msgs):
        allframes += chunk_message(3, 10 ** 6 + i, m)
    got, r = _reassemble(allframes, r)
    t.check(got == msgs, "gen messages round trip")

    # --- rejection of malformed frames, without corrupting reassembly ---
    good = [b"m5", part_content(5, 1, 1000), b"", part_content(5, 3, 10)]
    gframes = chunk_message(9, 4242, good)
    msize = sum(map(len, good))

    def bad_data(**kw):
        d = dict(session_id=9, message_id=4242, part_count=4, part_index=1, message_size=msize,
                 part_size=1000, chunk_offset=466, data=b"\x00" * 466, chunk_size=None)
        d.update(kw)
        return encode_data_frame(**d)

    def rejection_suite(label, r, name, raw, contains=None):
        before = {k: (len(m.parts), m.complete_parts, m.known_size) for k, m in r.pending.items()}
        t.expect_violation(lambda: r.feed_datagram(raw), "%s: %s" % (label, name), contains)
        after = {k: (len(m.parts), m.complete_parts, m.known_size) for k, m in r.pending.items()}
        t.check(before == after, "%s: %s leaves reassembly state untouched" % (label, name))

    r = Reassembler(max_message_size=1 << 20)
    r.feed_datagram(gframes[0])  # part 0
    r.feed_datagram(gframes[1])  # part 1 chunk 0
    lbl = "malformed"
    cases = [
        ("short datagram (9 bytes)", encode_heartbeat(9)[:9], "shorter than the 10-byte"),
        ("empty datagram", b"", "shorter than the 10-byte"),
        ("bad version 0x02", encode_heartbeat(9)[:0] + b"\x02" + encode_heartbeat(9)[1:], "version"),
        ("bad version 0x00 on data", bad_data(version=0), "version"),
        ("data shorter than 34-byte header", bad_data()[:33], "34-byte data header"),
        ("data truncated (len < 34 + chunk_size)", bad_data()[:-1], "34 + chunk_size"),
        ("data with trailing byte (len > 34 + chunk_size)", bad_data() + b"\x00", None),
        ("chunk_size field larger than data", bad_data(chunk_size=467), "34 + chunk_size"),
        ("frame > 500 bytes", bad_data(part_size=1000, chunk_offset=0, data=b"\x00" * 467),
         "exceeds max_frame_size"),
        ("part_count 0", bad_data(part_count=0, part_index=0), "part_count 0"),
        ("part_index == part_count", bad_data(part_index=4), "part_index"),
        ("part_index > part_count", bad_data(part_index=200), "part_index"),
        ("chunk_offset + chunk_size > part_size", bad_data(chunk_offset=600), "chunk_offset"),
        ("chunk_offset beyond part", bad_data(chunk_offset=0xFFFFFFFF, data=b"\x00"), "chunk_offset"),
        ("part_size > message_size", bad_data(part_size=msize + 1, message_size=msize), "message_size"),
        ("message_size > max_message_size", bad_data(message_size=(1 << 20) + 1), "max_message_size"),
        ("zero-length chunk in non-empty part", bad_data(data=b""), "zero-length chunk"),
        ("part_count disagrees", bad_data(part_count=5), "part_count"),
        ("message_size disagrees", bad_data(message_size=msize + 1), "message_size"),
        ("part_size disagrees", bad_data(part_size=999, chunk_offset=466, data=b"\x00" * 466),
         "part_size"),
        ("part sizes exceed message_size", bad_data(part_index=3, part_size=msize - 2 - 1000 + 1,
                                                    chunk_offset=0, data=b"\x00"), "add up"),
        ("overlapping chunk", bad_data(chunk_offset=465, data=b"\x00" * 10), "overlaps"),
        ("overlapping chunk (different length, same offset)", bad_data(chunk_offset=0, data=b"\x00" * 10),
         "overlaps"),
        ("duplicate chunk with different content", bad_data(chunk_offset=0, data=b"\x00" * 466),
         "different content"),
        ("Connected with session id 0", encode_connected(0), "session id 0"),
        ("Connected with STUN cookie in session id", encode_connected(0x00002112A4420000), "cookie"),
        ("Connected with data on a plain socket", encode_control(KIND_CONNECTED, 5, b"hs"), "carries"),
        ("Connect with data on a plain socket", encode_control(KIND_CONNECT, 0, b"hs"), "carries"),
        ("Connect with nonzero session", encode_connect(5), "Connect with session_id"),
        ("Heartbeat with trailing data", encode_heartbeat(9) + b"\x00", "carries"),
        ("Disconnected with trailing data", encode_disconnected(9) + b"\x00", "carries"),
        ("Ack too short", encode_ack(9, 1)[:17], "Ack of 17"),
        ("Ack too long", encode_ack(9, 1) + b"\x00", "Ack of 19"),
        ("encrypted kind 0x84 to a plain peer", encode_control(0x84, 9, b"sealed"), "encrypted"),
    ]
    for name, raw, contains in cases:
        rejection_suite(lbl, r, name, raw, contains)
    # unknown kinds are ignored (PROTOCOL.md 1.2), leaving reassembly alone
    hello = encode_control(KIND_HELLO, 9, b"NBX1" + struct.pack(">HHH", 1, 1, 1452))
    for name, raw in (("kind 6 (Hello)", hello),
                      ("kind 7 (Batch)", encode_control(KIND_BATCH, 9, b"\x00\x18" + bytes(24))),
                      ("kind 6 without data", encode_control(6, 9)),
                      ("kind 127", encode_control(127, 9))):
        before = {k: (len(m.parts), m.complete_parts, m.known_size) for k, m in r.pending.items()}
        f = parse_frame(raw)
        t.check(f.ignored and f.kind == raw[1], "unknown %s parsed, to be ignored" % name)
        after = {k: (len(m.parts), m.complete_parts, m.known_size) for k, m in r.pending.items()}
        t.check(before == after, "unknown %s leaves reassembly state untouched" % name)
    # ... and what a v0.2.0 peer may see of the extension
    g = ExtGuard(bound=True)
    for _ in range(MAX_HELLOS):
        g.seen(parse_frame(hello))
    t.check(g.total() == 3, "bound v0.2.0 peer: 3 Hellos of one session ignored")
    t.expect_violation(lambda: g.seen(parse_frame(hello)), "a 4th Hello of a session", "at most 3")
    g.seen(parse_frame(encode_control(KIND_HELLO, 10, hello[10:])))
    t.check(g.total() == 5, "Hellos counted per session")
    t.expect_violation(lambda: g.seen(parse_frame(encode_control(KIND_BATCH, 9, b""))),
                       "a Batch to a v0.2.0 peer", "Batch")
    t.expect_violation(lambda: g.seen(parse_frame(encode_control(127, 9))), "kind 127",
                       "unknown frame kind")
    t.expect_violation(lambda: ExtGuard(bound=False).seen(parse_frame(hello)),
                       "a Hello to a connecting v0.2.0 peer", "connecting")
    # a fresh message whose only part disagrees with message_size
    rejection_suite(lbl, r, "single part smaller than message_size",
                    encode_data_frame(9, 1, 1, 0, 10, 5, 0, b"12345"), "add up")
    t.check(r.feed_datagram(encode_data_frame(9, 2, 2, 1, 10, 0, 0, b"")) is None,
            "one empty part of two, message_size 10: accepted (other part may hold 10)")
    rejection_suite(lbl, r, "parts add up short of message_size",
                    encode_data_frame(9, 2, 2, 0, 10, 3, 0, b"abc"), "add up")
    # the message under reassembly still completes correctly
    got = []
    for fr in gframes[2:]:
        res = r.feed_datagram(fr)
        if res is not None:
            got.append(res)
    t.check(got == [good], "message completes intact after all rejected frames")
    # reuse of a completed message id with different content
    t.expect_violation(lambda: r.feed_datagram(chunk_message(9, 4242, [b"other"])[0]),
                       "message_id reused after completion", "reused")
    t.check(r.feed_datagram(gframes[1]) is None and r.late_duplicates == 1,
            "resent frame of a completed message ignored")
    # part size disagreement on an empty part
    r2 = Reassembler()
    r2.feed_datagram(encode_data_frame(1, 1, 2, 0, 5, 0, 0, b""))
    rejection_suite(lbl, r2, "empty part later claimed non-empty",
                    encode_data_frame(1, 1, 2, 0, 5, 5, 0, b"abcde"), "part_size")
    t.check(r2.feed_datagram(encode_data_frame(1, 1, 2, 0, 5, 0, 0, b"")) is None and r2.duplicates == 1,
            "duplicate empty-part frame ignored")
    t.check(r2.feed_datagram(encode_data_frame(1, 1, 2, 1, 5, 5, 0, b"abcde")) == [b"", b"abcde"],
            "message with leading empty part completes")
    # --max-frame raised: bigger frames accepted when configured
    big = chunk_message(1, 1, [b"z" * 2000], max_frame=1500)
    t.check(len(big) == 2 and len(big[0]) == 1500, "max_frame 1500 chunking")
    got, _ = _reassemble(big, Reassembler(max_frame=1500))
    t.check(got == [[b"z" * 2000]], "max_frame 1500 round trip")
    t.expect_violation(lambda: Reassembler().feed_datagram(big[0]), "1500-byte frame at default max")

    # --- session id generator ---
    ids = [random_session_id() for _ in range(2000)]
    t.check(all(i != 0 and struct.pack(">Q", i)[2:6] != STUN_COOKIE_BYTES for i in ids)
            and len(set(ids)) == len(ids), "random session ids nonzero, unique, cookie-free")

    # --- output format ---
    t.check(format_message([b"m1", b"", b"\x00\xff"]) == "6d31\t\t00ff", "output format")

    log("selftest: %d passed, %d failed" % (t.passed, t.failed))
    return EXIT_OK if t.failed == 0 else EXIT_VIOLATION


# ---------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------

def add_gen_opts(p, send_default=0):
    p.add_argument("--parts", type=int, default=4, metavar="K",
                   help="max parts per message, 1..255 (default 4)")
    p.add_argument("--max-size", type=int, default=10000, metavar="B",
                   help="max bytes per message (default 10000; part 0 is never cut)")
    p.add_argument("--seed", type=int, default=1, metavar="X", help="size seed (default 1)")
    p.add_argument("--no-empty", action="store_true",
                   help="never send empty parts (v0.2.0 peers cannot receive them)")


def add_peer_opts(p):
    p.add_argument("--timeout", type=float, default=10.0, metavar="S",
                   help="seconds to finish sending/receiving (default 10)")
    p.add_argument("--linger", type=float, default=0.2, metavar="S",
                   help="stay S seconds after finishing, answering control frames (default 0.2)")
    p.add_argument("--ack", action="store_true",
                   help="send Ack(id, fnv1a64(frame)) for every data frame received")
    p.add_argument("--min-heartbeats", type=int, default=0, metavar="H",
                   help="fail unless the other side sent at least H Heartbeats")
    p.add_argument("--max-silence", type=float, default=0.0, metavar="S",
                   help="fail if the other side is silent for more than S s once connected "
                        "(0 = off)")
    p.add_argument("--max-frame", type=int, default=DEFAULT_MAX_FRAME, metavar="N",
                   help="max_frame_size for sending and accepting (default 500)")
    p.add_argument("--max-message-size", type=int, default=DEFAULT_MAX_MESSAGE, metavar="N",
                   help="max_message_size accepted (default 16 MiB)")
    p.add_argument("--burst", type=int, default=16, metavar="F",
                   help="frames sent before pausing --gap seconds (default 16)")
    p.add_argument("--gap", type=float, default=0.001, metavar="S",
                   help="pause between bursts (default 0.001)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every frame on stderr")


def hexarg(s):
    s = s.replace(" ", "").replace(":", "")
    bytes.fromhex(s)
    return s


def build_parser():
    ap = argparse.ArgumentParser(prog="peer_v020.py",
                                 description="Independent NBMQ v0.2.0 peer / conformance checker")
    sub = ap.add_subparsers(dest="cmd")
    sub.required = True

    p = sub.add_parser("connect", help="act as a connecting peer")
    p.add_argument("target", type=parse_hostport, metavar="HOST:PORT")
    p.add_argument("--send", type=int, default=0, metavar="N")
    p.add_argument("--recv", type=int, default=0, metavar="M")
    add_gen_opts(p)
    add_peer_opts(p)

    p = sub.add_parser("bind", help="act as the bound side")
    p.add_argument("listen", type=parse_hostport, metavar="HOST:PORT")
    p.add_argument("--recv", type=int, default=0, metavar="M")
    p.add_argument("--send", type=int, default=0, metavar="N")
    p.add_argument("--ready-file", metavar="F", help="write the bound host:port here")
    add_gen_opts(p)
    add_peer_opts(p)

    p = sub.add_parser("gen", help="print the messages connect/bind --send would send")
    p.add_argument("--count", type=int, required=True, metavar="N")
    add_gen_opts(p)

    p = sub.add_parser("selftest", help="codec self test")
    p.add_argument("-v", "--verbose", action="store_true")

    p = sub.add_parser("send-raw", help="send one datagram, print replies as hex")
    p.add_argument("target", type=parse_hostport, metavar="HOST:PORT")
    p.add_argument("hex", type=hexarg, metavar="HEX")
    p.add_argument("--wait", type=float, default=0.5, metavar="S",
                   help="collect replies for S seconds (default 0.5)")
    p.add_argument("--from-port", type=int, default=0, metavar="P", help="local source port")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--expect", type=hexarg, metavar="HEX",
                   help="exit 1 unless one reply equals HEX")
    g.add_argument("--expect-none", action="store_true", help="exit 1 if anything replies")

    p = sub.add_parser("frame", help="build one frame (possibly malformed) and print it as hex")
    p.add_argument("kind", help="connect|connected|disconnected|heartbeat|ack|data|<number>")
    p.add_argument("--session", type=lambda s: int(s, 0), default=0)
    p.add_argument("--version", type=lambda s: int(s, 0), default=PROTOCOL_VERSION)
    p.add_argument("--hash", type=lambda s: int(s, 0), default=0, help="Ack hash")
    p.add_argument("--data", type=hexarg, default="", help="payload hex (data) / trailing bytes")
    p.add_argument("--message-id", type=lambda s: int(s, 0), default=1)
    p.add_argument("--part-count", type=int, default=1)
    p.add_argument("--part-index", type=int, default=0)
    p.add_argument("--message-size", type=int, default=None, help="default: part size")
    p.add_argument("--part-size", type=int, default=None, help="default: len(data)")
    p.add_argument("--chunk-size", type=int, default=None, help="default: len(data)")
    p.add_argument("--chunk-offset", type=int, default=0)
    p.add_argument("--truncate", type=int, default=None, metavar="LEN", help="cut the frame to LEN bytes")

    p = sub.add_parser("decode", help="validate and describe one frame")
    p.add_argument("hex", type=hexarg, metavar="HEX")
    p.add_argument("--max-frame", type=int, default=DEFAULT_MAX_FRAME)
    p.add_argument("--max-message-size", type=int, default=DEFAULT_MAX_MESSAGE)
    return ap


def main(argv=None):
    args = build_parser().parse_args(argv)
    if hasattr(args, "parts") and not 1 <= args.parts <= MAX_PARTS:
        log("--parts must be 1..255")
        return 2
    runners = {"connect": run_connect, "bind": run_bind, "gen": run_gen,
               "selftest": run_selftest, "send-raw": run_send_raw, "frame": run_frame,
               "decode": run_decode}
    try:
        return runners[args.cmd](args)
    except ProtocolViolation as e:
        log("PROTOCOL VIOLATION: %s" % e)
        return EXIT_VIOLATION
    except PeerTimeout as e:
        log("TIMEOUT: %s" % e)
        return EXIT_TIMEOUT
    except BrokenPipeError:
        try:
            sys.stdout = None
        finally:
            return EXIT_ERROR
    except (PeerError, OSError) as e:
        log("ERROR: %s" % e)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
