# SPDX-License-Identifier: ISC
"""The constants of client-lib/nbmq.h, as IntEnums and as module names."""
import enum

__all__ = ["SocketType", "Flag", "Option", "EventType", "DownReason",
           "ConnFail", "DEALER", "SAFE_DEALER", "RADIO", "DISH", "STUN",
           "DONTWAIT", "BATCH", "VERSION", "DEFAULT_IPC_PATH"]

VERSION = "0.1.0"
"""NBMQ_VERSION of the nbmq.h this binding was written against."""
DEFAULT_IPC_PATH = "/run/nbmq/nbmqd.sock"


class SocketType(enum.IntEnum):
    """enum nbmq_type.  STUN exists only as a configured socket:
    Context.socket() refuses it (InvalidArgument)."""
    DEALER = 1
    SAFE_DEALER = 2
    RADIO = 3
    DISH = 4
    STUN = 5


DEALER = SocketType.DEALER
SAFE_DEALER = SocketType.SAFE_DEALER
RADIO = SocketType.RADIO
DISH = SocketType.DISH
STUN = SocketType.STUN


class Flag(enum.IntFlag):
    """Flags for send and recv (NBMQ_DONTWAIT, NBMQ_BATCH)."""
    DONTWAIT = 0x1
    BATCH = 0x2


DONTWAIT = Flag.DONTWAIT
BATCH = Flag.BATCH


class Option(enum.IntEnum):
    """enum nbmq_opt.  Durations in ms, sizes in bytes, hwms in messages.
    PEERS, TYPE and GIVEUPS are read-only; RCVTIMEO and SNDTIMEO live in
    the library only (-1: forever)."""
    SEND_HWM = 1
    RECV_HWM = 2
    MAX_TICK_SEND = 3
    SAFE_RESEND_LIMIT = 4
    SAFE_RESEND_IVL = 5
    SAFE_HASH_DEDUP_TTL = 6
    UNCOMPLETED_MESSAGE_TTL = 7
    QUEUE_MAINT_IVL = 8
    PEER_HEARTBEAT_IVL = 9
    PEER_KEEPALIVE = 10
    RECONNECT_WAIT = 11
    MAX_FRAME_SIZE = 12
    MAX_MESSAGE_SIZE = 13
    MAX_PEERS = 14
    LINGER = 15
    RCVBUF = 16
    SNDBUF = 17
    STUN_REFRESH_IVL = 18
    COALESCE = 19
    PACING = 20
    EXT_FRAME_SIZE = 21
    PEERS = 64
    TYPE = 65
    GIVEUPS = 66
    EVENTS = 96
    RCVTIMEO = 128
    SNDTIMEO = 129


READ_ONLY_OPTIONS = frozenset({Option.PEERS, Option.TYPE, Option.GIVEUPS})

# SEND_HWM, RCVTIMEO, ... as module names, like zmq.SNDHWM.
globals().update({o.name: o for o in Option})
__all__ += [o.name for o in Option]


class EventType(enum.IntEnum):
    """enum nbmq_event_type."""
    UP = 1
    DOWN = 2
    ADDRESS = 3
    HWM_REACHED = 4
    HWM_CLEARED = 5
    CONNECT_FAILED = 6


class DownReason(enum.IntEnum):
    """enum nbmq_down_reason (EventType.DOWN)."""
    KEEPALIVE = 1
    DISCONNECTED = 2
    REPLACED = 3
    CLOSED = 4


class ConnFail(enum.IntEnum):
    """enum nbmq_connfail (EventType.CONNECT_FAILED)."""
    NO_ANSWER = 1
    PEER_ENCRYPTED = 2
    PEER_PLAIN = 3
    KEY_DENIED = 4
    RESOLVE = 5
    UNREACHABLE = 6


# EVENT_UP, EVENT_DOWN, ... as module names.
globals().update({"EVENT_" + e.name: e for e in EventType})
__all__ += ["EVENT_" + e.name for e in EventType]
