# SPDX-License-Identifier: ISC
"""Exceptions: every errno that client-lib/nbmq.h documents, as a class.

All are subclasses of NbmqError (an OSError: ``e.errno``, ``e.strerror``
with nbmq's own meaning from nbmq_strerror), and of the matching Python
built-in where there is one: ``except BlockingIOError`` catches
``nbmq.Again``, ``except ConnectionError`` catches ``nbmq.DaemonGone``.

=================  ===============================  ==============================
errno              class                            when
=================  ===============================  ==============================
EAGAIN             Again (BlockingIOError)          send: send_hwm reached or send
                                                    timeout; recv: no message
EHOSTUNREACH       NoPeer                           send: no connected peer
EMSGSIZE           MessageTooLarge                  larger than max_message_size
ENOBUFS            Dropped                          recv: messages were dropped at
                                                    recv_hwm (once, after backlog)
ENOTSUP            NotSupported                     e.g. send on a dish
ECONNREFUSED,      NoDaemon (ConnectionError)       no daemon at the IPC path
ENOENT
ECONNRESET,        DaemonGone (ConnectionError)     the daemon went away; the
ENOTCONN                                            socket is dead
EPROTO             ProtocolMismatch                 another IPC protocol version
EINVAL             InvalidArgument (ValueError)     bad address, option or value
EPERM              PermissionDenied                 setopt past the daemon's limits
                   (PermissionError)
ENXIO              NoSuchSocket                     attach: no configured socket
EBUSY              Busy                             attach: another application
EISCONN            AlreadyConnected                 bind/connect twice
EADDRINUSE         AddressInUse                     bind: the port is taken
EUSERS             TooManyClients                   the daemon's max_clients
ENAMETOOLONG       NameTooLong                      last_endpoint: buffer too small
ENOMEM             OutOfMemory (MemoryError)        no memory
EINTR              Interrupted (InterruptedError)   a signal (blocking calls retry)
ENOTSOCK           Closed                           the Socket was closed
ENOMSG             NotAMessage                      nbmq_recvbuf: an event or a
                                                    drop report is next (recv()
                                                    takes those itself: never
                                                    raised by the binding)
=================  ===============================  ==============================
"""
import errno as _errno
from typing import Dict, Type

from ._lib import lib

__all__ = ["NbmqError", "Error", "Again", "NoPeer", "MessageTooLarge",
           "Dropped", "NotSupported", "NoDaemon", "DaemonGone",
           "ProtocolMismatch", "InvalidArgument", "PermissionDenied",
           "NoSuchSocket", "Busy", "AlreadyConnected", "AddressInUse",
           "NameTooLong", "TooManyClients", "OutOfMemory", "Interrupted", "Closed", "NotAMessage",
           "strerror",
           "error_for"]


def strerror(errnum: int) -> str:
    """nbmq_strerror(): strerror with nbmq's meaning of EAGAIN, ENOBUFS..."""
    return lib.nbmq_strerror(errnum).decode("utf-8", "replace")


class NbmqError(OSError):
    """Base of every nbmq exception; ``errno`` is the library's errno."""

    def __init__(self, errnum: int, msg: "str | None" = None) -> None:
        super().__init__(errnum, msg if msg is not None else strerror(errnum))


Error = NbmqError


class Again(NbmqError, BlockingIOError):
    """EAGAIN: would block (send_hwm reached, no message, or a timeout)."""


class NoPeer(NbmqError):
    """EHOSTUNREACH (NBMQ_ENOPEER): the socket has no connected peer."""


class MessageTooLarge(NbmqError):
    """EMSGSIZE: the message is larger than max_message_size."""


class Dropped(NbmqError):
    """ENOBUFS: messages were dropped at recv_hwm since the last receive.
    Reported once, after the backlog was read; receiving again goes on."""


class NotSupported(NbmqError):
    """ENOTSUP: the operation does not exist for this socket type."""


class NoDaemon(NbmqError, ConnectionError):
    """ECONNREFUSED or ENOENT: no daemon at the IPC path."""


class DaemonGone(NbmqError, ConnectionError):
    """ECONNRESET or ENOTCONN: the daemon went away; the socket is dead."""


class ProtocolMismatch(NbmqError):
    """EPROTO: the daemon speaks another IPC protocol version."""


class InvalidArgument(NbmqError, ValueError):
    """EINVAL: a bad argument (address, option, value)."""


class PermissionDenied(NbmqError, PermissionError):
    """EPERM: raising send_hwm, recv_hwm or max_message_size past the
    daemon's app_max_hwm or app_max_message_size."""


class NoSuchSocket(NbmqError):
    """ENXIO: attach: no configured socket of that name."""


class Busy(NbmqError):
    """EBUSY: attach: another application is attached to that sending
    socket."""


class AlreadyConnected(NbmqError):
    """EISCONN: the socket is already bound or connected."""


class AddressInUse(NbmqError):
    """EADDRINUSE: bind: the address is in use."""


class NameTooLong(NbmqError):
    """ENAMETOOLONG: last_endpoint: the endpoint does not fit the buffer
    (the binding's buffer is larger than any endpoint)."""


class TooManyClients(NbmqError):
    """EUSERS: the daemon has too many clients."""


class OutOfMemory(NbmqError, MemoryError):
    """ENOMEM: nbmq_ctx_new (or the library) could not allocate."""


class Interrupted(NbmqError, InterruptedError):
    """EINTR: a signal interrupted a call (blocking calls retry instead,
    after Python ran the signal's handler)."""


class Closed(NbmqError):
    """ENOTSOCK: the Socket (or its Context) was closed."""


class NotAMessage(NbmqError):
    """ENOMSG: nbmq_recvbuf found a peer event or a drop report next; the
    binding's recv() then receives it the general way, so this is never
    raised by it."""


_BY_ERRNO: Dict[int, Type[NbmqError]] = {
    _errno.EAGAIN: Again,
    _errno.EHOSTUNREACH: NoPeer,
    _errno.EMSGSIZE: MessageTooLarge,
    _errno.ENOBUFS: Dropped,
    _errno.ENOTSUP: NotSupported,
    _errno.ECONNREFUSED: NoDaemon,
    _errno.ENOENT: NoDaemon,
    _errno.ECONNRESET: DaemonGone,
    _errno.ENOTCONN: DaemonGone,
    _errno.EPIPE: DaemonGone,
    _errno.EPROTO: ProtocolMismatch,
    _errno.EINVAL: InvalidArgument,
    _errno.EPERM: PermissionDenied,
    _errno.ENXIO: NoSuchSocket,
    _errno.EBUSY: Busy,
    _errno.EISCONN: AlreadyConnected,
    _errno.EADDRINUSE: AddressInUse,
    _errno.EUSERS: TooManyClients,
    _errno.ENAMETOOLONG: NameTooLong,
    _errno.EINTR: Interrupted,
    _errno.ENOMEM: OutOfMemory,
    _errno.ENOTSOCK: Closed,
    _errno.ENOMSG: NotAMessage,
}
if hasattr(_errno, "EOPNOTSUPP"):
    _BY_ERRNO.setdefault(_errno.EOPNOTSUPP, NotSupported)


def error_for(errnum: int) -> NbmqError:
    """The exception for errno ``errnum`` (NbmqError if none is specific)."""
    return _BY_ERRNO.get(errnum, NbmqError)(errnum)
