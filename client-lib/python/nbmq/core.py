# SPDX-License-Identifier: ISC
"""Context, Socket, Message, Event: libnbmq in the shape of pyzmq."""
import ctypes
import errno as _errno
import os
import select
import time
import weakref
from ctypes import (byref, c_char, c_int64, c_size_t, c_uint64, c_void_p,
                    string_at)
from typing import (Any, Iterable, List, NamedTuple, Optional, Sequence,
                    Tuple, Union)

from ._lib import iovec, lib, nbmq_event
from .constants import (BATCH, DONTWAIT, READ_ONLY_OPTIONS, ConnFail,
                        DownReason, EventType, Option, SocketType)
from .error import Closed, NbmqError, error_for

__all__ = ["Context", "Socket", "Message", "Event", "Buffer"]

Buffer = Any
"""bytes, or any object with the buffer protocol (bytearray, memoryview,
array.array, mmap, numpy arrays...): sent without a copy."""

_EINTR = _errno.EINTR
_get_errno = ctypes.get_errno
_MAXPARTS = 255
_EMSGSIZE = _errno.EMSGSIZE
_ENOMSG = _errno.ENOMSG
# recv()'s buffer: messages up to this size take one library call.
_RBUF = 65536

_recv = lib.nbmq_recv
_recvbuf = lib.nbmq_recvbuf
_send = lib.nbmq_send
_sendv = lib.nbmq_sendv
_parts = lib.nbmq_msg_parts
_part = lib.nbmq_msg_part
_peer = lib.nbmq_msg_peer
_size = lib.nbmq_msg_size
_event = lib.nbmq_msg_event
_free = lib.nbmq_msg_free
_readable = lib.nbmq_readable
_flush = lib.nbmq_flush

# send() and recv()'s common case in C (nbmq/_speedups.c), when it was
# built (make, pip install); NBMQ_PY_SPEEDUPS=0 keeps to ctypes.  Both
# paths call the same library: the module is handed its functions.
_fsend = _frecv = None
if os.environ.get("NBMQ_PY_SPEEDUPS", "1") != "0":
    try:
        from . import _speedups
    except ImportError:
        pass
    else:
        _speedups.init(ctypes.cast(lib.nbmq_recvbuf, c_void_p).value,
                       ctypes.cast(lib.nbmq_send, c_void_p).value)
        _fsend, _frecv = _speedups.send, _speedups.recv
SPEEDUPS: bool = _frecv is not None


def _send_bytes(h: int, data: bytes, flags: int) -> None:
    """nbmq_send of one bytes object: the C part's, else ctypes'."""
    if _fsend is not None:
        while True:
            e = _fsend(h, data, flags)
            if e == 0:
                return
            if e != _EINTR or flags & DONTWAIT:
                _raise(e)
    while _send(h, data, len(data), flags) != 0:
        e = _get_errno()
        if e != _EINTR or flags & DONTWAIT:
            _raise(e)


def _raise(errnum: Optional[int] = None) -> "NbmqError":
    raise error_for(_get_errno() if errnum is None else errnum)


# --- any buffer-protocol object, without a copy --------------------------

class _Py_buffer(ctypes.Structure):
    _fields_ = [("buf", c_void_p), ("obj", c_void_p),
                ("len", ctypes.c_ssize_t), ("itemsize", ctypes.c_ssize_t),
                ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
                ("format", c_void_p), ("shape", c_void_p),
                ("strides", c_void_p), ("suboffsets", c_void_p),
                ("internal", c_void_p)]


try:  # CPython: borrow the exporter's memory for the call.
    _GetBuffer = ctypes.pythonapi.PyObject_GetBuffer
    _GetBuffer.argtypes = [ctypes.py_object, ctypes.POINTER(_Py_buffer),
                           ctypes.c_int]
    _GetBuffer.restype = ctypes.c_int
    _ReleaseBuffer = ctypes.pythonapi.PyBuffer_Release
    _ReleaseBuffer.argtypes = [ctypes.POINTER(_Py_buffer)]
    _ReleaseBuffer.restype = None
except (AttributeError, OSError):  # pragma: no cover (not CPython)
    _GetBuffer = None


def _borrow(obj: Buffer, views: list) -> Tuple[Any, int]:
    """(pointer or bytes, length) of a buffer-protocol object for one call.
    A C-contiguous buffer is lent as is (PyObject_GetBuffer; the view goes
    in ``views`` and is released after the call); anything else is copied
    once into bytes."""
    if isinstance(obj, bytes):
        return obj, len(obj)
    if isinstance(obj, str):
        raise TypeError("nbmq sends bytes-like objects, not str "
                        "(encode it first)")
    if _GetBuffer is not None:
        view = _Py_buffer()
        try:
            _GetBuffer(obj, byref(view), 0)   # PyBUF_SIMPLE: contiguous
        except BufferError:
            pass
        else:
            views.append(view)
            return view.buf or 0, view.len
    data = memoryview(obj).tobytes()
    return data, len(data)


def _release(views: list) -> None:
    for v in views:
        _ReleaseBuffer(byref(v))


# --- what recv returns ---------------------------------------------------

class Message(NamedTuple):
    """A received message: its parts (bytes, or memoryviews with
    ``copy=False``) and the sender's peer id, the session id to pass as
    ``peer=`` to answer that peer only.  Unpacks: ``parts, peer = m``."""
    parts: List[Any]
    peer: int

    @property
    def data(self) -> bytes:
        """All parts joined."""
        return b"".join(self.parts)


class Event:
    """A peer event (``sock.events = True``), returned by recv like a
    message and in order with messages.

    type: EventType; peer: the session id (0 for the HWM events);
    addr: "host:port" or ""; prev_addr: the old address (ADDRESS);
    reason: DownReason (DOWN), ConnFail (CONNECT_FAILED), else 0."""

    __slots__ = ("type", "reason", "peer", "addr", "prev_addr")

    def __init__(self, type: int, reason: int = 0, peer: int = 0,
                 addr: str = "", prev_addr: str = "") -> None:
        try:
            self.type: Union[EventType, int] = EventType(type)
        except ValueError:
            self.type = type
        r: Union[DownReason, ConnFail, int] = reason
        try:
            if type == EventType.DOWN:
                r = DownReason(reason)
            elif type == EventType.CONNECT_FAILED:
                r = ConnFail(reason)
        except ValueError:
            pass
        self.reason = r
        self.peer = peer
        self.addr = addr
        self.prev_addr = prev_addr

    @property
    def name(self) -> str:
        """nbmq_event_name: "up", "down", "address", "hwm_reached"..."""
        return lib.nbmq_event_name(int(self.type)).decode()

    @property
    def reason_name(self) -> str:
        """"keepalive", "no_answer"...; "" when the event has no reason."""
        if self.type == EventType.DOWN:
            return lib.nbmq_down_reason_name(int(self.reason)).decode()
        if self.type == EventType.CONNECT_FAILED:
            return lib.nbmq_connfail_name(int(self.reason)).decode()
        return ""

    @property
    def reason_text(self) -> str:
        """CONNECT_FAILED's reason as a phrase ("no answer"...), else
        the reason's name."""
        if self.type == EventType.CONNECT_FAILED:
            return lib.nbmq_connfail_text(int(self.reason)).decode()
        return self.reason_name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and all(
            getattr(self, a) == getattr(other, a) for a in self.__slots__)

    def __repr__(self) -> str:
        s = "<nbmq.Event %s peer=%d" % (self.name, self.peer)
        if self.addr:
            s += " addr=%s" % self.addr
        if self.prev_addr:
            s += " prev_addr=%s" % self.prev_addr
        if self.reason_name:
            s += " reason=%s" % self.reason_name
        return s + ">"


class _MsgOwner:
    """Owns a received nbmq_msg while memoryviews of it (copy=False) live;
    nbmq_msg_free() when the last goes (any thread may free a message,
    after nbmq_close() too)."""
    __slots__ = ("ptr", "__weakref__")

    def __init__(self, ptr: int) -> None:
        self.ptr = ptr

    def __del__(self) -> None:
        if self.ptr:
            _free(self.ptr)
            self.ptr = 0


def _frame(owner: _MsgOwner, ptr: int, n: int) -> memoryview:
    """A read-only memoryview of n bytes at ptr that keeps owner alive."""
    if n == 0:
        return memoryview(b"")
    arr = (ctypes.c_char * n).from_address(ptr)
    arr._nbmq_owner = owner   # the array keeps the message alive
    return memoryview(arr).cast("B").toreadonly()


def _opt_property(opt: Option) -> property:
    def get(self: "Socket") -> int:
        return self.getsockopt(opt)

    def set(self: "Socket", value: int) -> None:
        self.setsockopt(opt, value)

    doc = "Option %s (getsockopt/setsockopt)." % opt.name
    if opt in READ_ONLY_OPTIONS:
        return property(get, doc=doc + " Read-only.")
    return property(get, set, doc=doc)


# --- sockets -------------------------------------------------------------

class Socket:
    """An nbmq socket: it lives in the daemon, this object is the
    application's handle (libnbmq's nbmq_socket).

    Made by Context.socket() or Context.attach().  Every option of nbmq.h
    is a property (``sock.send_hwm = 10``, ``sock.peers``) and goes
    through setsockopt()/getsockopt() too.  Calls on one socket must not
    run concurrently from several threads (as with pyzmq); different
    sockets are independent.  A blocking call releases the GIL.
    """

    def __init__(self, context: "Context", handle: int, type: int) -> None:
        self._h: Optional[int] = handle
        self.context = context
        self._type = type
        self._events = False
        self._msg = c_void_p()
        self._msgref = byref(self._msg)
        self._len = c_size_t()
        self._lenref = byref(self._len)
        self._iov = (iovec * _MAXPARTS)()
        self._ev = nbmq_event()
        self._dropped = False   # a drop report recv_many read, not said yet
        self._rba = bytearray(_RBUF)
        self._rmv = memoryview(self._rba)
        self._rbuf = (c_char * _RBUF).from_buffer(self._rba)
        self._raddr = ctypes.addressof(self._rbuf)
        self._rpeer = c_uint64()
        self._rpeerref = byref(self._rpeer)

    # -- life --
    def _handle(self) -> int:
        h = self._h
        if h is None:
            raise Closed(_errno.ENOTSOCK, "the socket is closed")
        return h

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        return self._h is None

    def close(self, linger: Optional[int] = None) -> None:
        """Close the socket.  Messages already handed to the daemon still
        leave for up to ``linger`` ms (the socket's linger option when
        None).  Messages held by NBMQ_BATCH are pushed first.  Never
        raises: a socket whose daemon is gone is freed all the same.
        Messages received with copy=False stay valid."""
        h = self._h
        if h is None:
            return
        if linger is not None:
            lib.nbmq_setopt(h, Option.LINGER, int(linger))
        self._h = None
        lib.nbmq_close(h)

    def __enter__(self) -> "Socket":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        t = SocketType(self._type).name if self._type in \
            SocketType._value2member_map_ else str(self._type)
        return "<nbmq.Socket %s%s>" % (t, " closed" if self.closed else "")

    @property
    def type(self) -> SocketType:
        """The socket type (for an attached socket, the daemon's)."""
        return SocketType(self._type)

    # -- addresses --
    def bind(self, addr: str) -> str:
        """Bind to "host:port" ("127.0.0.1:0", "[::1]:7000"); port 0
        picks a free port.  Returns the endpoint bound (last_endpoint)."""
        if lib.nbmq_bind(self._handle(), addr.encode()) != 0:
            _raise()
        return self.last_endpoint or ""

    def connect(self, addr: str) -> None:
        """Connect to "host:port" (host may be a name), or by name through
        a STUN socket: "bob@stun.example:3478".  Returns once the daemon
        accepted the address; the handshake goes on in the background
        (sends block, or say NoPeer with DONTWAIT, until a peer is up)."""
        if lib.nbmq_connect(self._handle(), addr.encode()) != 0:
            _raise()

    @property
    def last_endpoint(self) -> Optional[str]:
        """The local endpoint ("127.0.0.1:40123"), None before bind or
        connect."""
        buf = ctypes.create_string_buffer(256)
        if lib.nbmq_last_endpoint(self._handle(), buf, len(buf)) != 0:
            e = _get_errno()
            if e == _errno.ENOTCONN:
                return None
            _raise(e)
        return buf.value.decode()

    # -- options --
    def setsockopt(self, option: int, value: int) -> None:
        """nbmq_setopt: set an Option (ms, bytes or messages).  Raises
        InvalidArgument for an unknown option or a value out of range,
        PermissionDenied past the daemon's app_max_* limits."""
        value = int(value)
        if lib.nbmq_setopt(self._handle(), int(option), value) != 0:
            _raise()
        if option == Option.EVENTS:
            self._events = bool(value)

    def getsockopt(self, option: int) -> int:
        """nbmq_getopt: an Option's value."""
        v = c_int64()
        if lib.nbmq_getopt(self._handle(), int(option), byref(v)) != 0:
            _raise()
        return v.value

    set = setsockopt
    get = getsockopt

    @property
    def events(self) -> bool:
        """Peer events on (Option.EVENTS): recv returns Event objects
        in order with messages; the daemon first reports every peer
        already up."""
        return bool(self.getsockopt(Option.EVENTS))

    @events.setter
    def events(self, on: bool) -> None:
        self.setsockopt(Option.EVENTS, 1 if on else 0)

    # -- polling --
    def fileno(self) -> int:
        """nbmq_fd: the descriptor to poll for input (selectors, select,
        loop.add_reader).  Like ZMQ_FD it signals only data still in the
        kernel: poll it only while ``readable`` is False (see nbmq.h)."""
        fd = lib.nbmq_fd(self._handle())
        if fd < 0:
            _raise()
        return fd

    @property
    def fd(self) -> int:
        """Same as fileno()."""
        return self.fileno()

    @property
    def readable(self) -> bool:
        """nbmq_readable: True when recv would not block (a message, an
        event, a drop report or an error is waiting)."""
        return self._dropped or bool(_readable(self._handle()))

    def poll(self, timeout: Optional[float] = None) -> bool:
        """Wait up to ``timeout`` ms (None: forever) until recv would not
        block; True if so.  Pushes NBMQ_BATCH sends first."""
        h = self._handle()
        deadline = None if timeout is None or timeout < 0 else \
            time.monotonic() + timeout / 1000.0
        _flush(h, DONTWAIT)
        p = select.poll()
        p.register(lib.nbmq_fd(h), select.POLLIN)
        while not (self._dropped or _readable(h)):
            if deadline is None:
                ms = None
            else:
                ms = int((deadline - time.monotonic()) * 1000 + 0.999)
                if ms <= 0:
                    return False
            p.poll(ms)
        return True

    # -- sending --
    def send(self, data: Buffer, flags: int = 0, peer: int = 0) -> None:
        """Send one single-part message (bytes or any buffer, no copy).

        flags: DONTWAIT (raise Again at send_hwm, NoPeer without a peer,
        instead of blocking up to the sndtimeo option), BATCH (more sends
        follow: the library may hold the message until the next send
        without BATCH, flush(), a blocking recv, or 64 KiB).  peer: 0
        (dealer: round robin; radio: every peer) or a Message.peer to
        answer that peer only."""
        h = self._h
        if h is not None and peer == 0 and type(data) is bytes:
            _send_bytes(h, data, flags)     # the common case
            return
        self._sendv(self._handle(), (data,), peer, flags)

    def send_multipart(self, parts: Sequence[Buffer], flags: int = 0,
                       peer: Optional[int] = None) -> None:
        """Send one message of 1..255 parts (bytes or any buffer, empty
        ones too), atomically.  flags and peer as for send()."""
        if not isinstance(parts, (list, tuple)):
            parts = tuple(parts)
        self._sendv(self._handle(), parts, peer or 0, flags)

    def _sendv(self, h: int, parts: Sequence[Buffer], peer: int,
               flags: int) -> None:
        n = len(parts)
        iov = self._iov if n <= _MAXPARTS else (iovec * n)()
        views: list = []
        try:
            for i in range(n):
                v = iov[i]
                p = parts[i]
                if type(p) is bytes:
                    v.iov_base = p
                    v.iov_len = len(p)
                else:
                    v.iov_base, v.iov_len = _borrow(p, views)
            while _sendv(h, iov, n, peer, flags) != 0:
                e = _get_errno()
                if e != _EINTR or flags & DONTWAIT:
                    _raise(e)
        finally:
            if views:
                _release(views)

    def send_many(self, messages: Iterable[Union[Buffer, Sequence[Buffer]]],
                  flags: int = 0, peer: int = 0) -> int:
        """Send many messages with as few system calls as possible: each
        with BATCH, then flush().  Each item is a buffer (one part) or a
        list/tuple of parts.  With DONTWAIT, stops at the first Again and
        raises it after flushing what was accepted (``e.sent`` says how
        many).  Returns the number sent."""
        h = self._handle()
        f = (flags | BATCH)
        n = 0
        try:
            for m in messages:
                if isinstance(m, (list, tuple)):
                    self._sendv(h, m, peer, f)
                elif peer == 0 and type(m) is bytes:
                    _send_bytes(h, m, f)
                else:
                    self._sendv(h, (m,), peer, f)
                n += 1
        except NbmqError as e:
            e.sent = n  # type: ignore[attr-defined]
            self._flush_quiet(flags)
            raise
        self.flush(flags & DONTWAIT)
        return n

    def _flush_quiet(self, flags: int) -> None:
        try:
            self.flush(flags & DONTWAIT)
        except NbmqError:
            pass

    def flush(self, flags: int = 0) -> None:
        """nbmq_flush: push what the library holds (BATCH sends, or what
        DONTWAIT sends left when the kernel buffer was full) to the
        daemon.  Blocks up to sndtimeo; with DONTWAIT raises Again while
        the kernel has no room (wait for the fd to be writable)."""
        h = self._handle()
        while _flush(h, flags) != 0:
            e = _get_errno()
            if e != _EINTR or flags & DONTWAIT:
                _raise(e)

    # -- receiving --
    def _drop_report(self) -> None:
        self._dropped = False
        raise error_for(_errno.ENOBUFS)

    def _recv_msg(self, flags: int) -> int:
        h = self._handle()
        if self._dropped:
            self._drop_report()
        while _recv(h, self._msgref, flags) != 0:
            e = _get_errno()
            if e != _EINTR or flags & DONTWAIT:
                _raise(e)
        return self._msg.value  # type: ignore[return-value]

    def _take_event(self, m: int) -> Optional[Event]:
        ev = self._ev
        if not _event(m, byref(ev)):
            return None
        out = Event(ev.type, ev.reason, ev.peer,
                    ev.addr.decode("utf-8", "replace"),
                    ev.prev_addr.decode("utf-8", "replace"))
        _free(m)
        return out

    def _take(self, m: int, copy: bool) -> Union[Message, Event]:
        if self._events:
            ev = self._take_event(m)
            if ev is not None:
                return ev
        n = _parts(m)
        lr = self._lenref
        ln = self._len
        if copy:
            if n == 1:      # the common case, without the loop
                p = _part(m, 0, lr)
                k = ln.value
                parts = [string_at(p, k) if k else b""]
            else:
                parts = []
                for i in range(n):
                    p = _part(m, i, lr)
                    k = ln.value
                    parts.append(string_at(p, k) if k else b"")
            peer = _peer(m)
            _free(m)
            return Message(parts, peer)
        owner = _MsgOwner(m)
        parts = []
        for i in range(n):
            p = _part(m, i, lr)
            parts.append(_frame(owner, p, ln.value))
        return Message(parts, _peer(m))

    def recv_multipart(self, flags: int = 0, copy: bool = True
                       ) -> Union[Message, Event]:
        """Receive the next message: Message(parts, peer), unpacked as
        ``parts, peer = sock.recv_multipart()``; or an Event when events
        are on.  Blocks up to the rcvtimeo option (Again after it) unless
        flags has DONTWAIT.  copy=False: the parts are read-only
        memoryviews of the library's own buffer (no copy), valid as long
        as you hold them.  Raises Dropped once after messages were lost at
        recv_hwm (receive again), DaemonGone when the daemon went away."""
        return self._take(self._recv_msg(flags), copy)

    def recv(self, flags: int = 0, copy: bool = True
             ) -> Union[Tuple[bytes, int], Event]:
        """Receive the next message as (data, peer): data is its one part
        (a multipart message's parts joined).  An Event when events are
        on.  flags and copy as for recv_multipart (copy=False: data is a
        memoryview, for single-part messages)."""
        h = self._h
        if h is None or self._dropped or self._events or not copy:
            return self._recv_slow(flags, copy)
        # The common case in one library call: the message copied into
        # this socket's buffer; a larger one, or a drop report, stays
        # queued for the general path.
        if _frecv is not None:
            while True:
                r = _frecv(h, self._raddr, _RBUF, flags)
                if type(r) is tuple:
                    return r
                if r == _EMSGSIZE or r == _ENOMSG:
                    return self._recv_slow(flags, copy)
                if r != _EINTR or flags & DONTWAIT:
                    _raise(r)
        while True:
            k = _recvbuf(h, self._raddr, _RBUF, self._rpeerref, flags)
            if k >= 0:
                return self._rmv[:k].tobytes(), self._rpeer.value
            e = _get_errno()
            if e == _EMSGSIZE or e == _ENOMSG:
                return self._recv_slow(flags, copy)
            if e != _EINTR or flags & DONTWAIT:
                _raise(e)

    def _recv_slow(self, flags: int, copy: bool
                   ) -> Union[Tuple[bytes, int], Event]:
        return self._recv_from(self._take(self._recv_msg(flags), copy))

    @staticmethod
    def _recv_from(r: Union[Message, Event]
                   ) -> Union[Tuple[bytes, int], Event]:
        if isinstance(r, Event):
            return r
        parts = r.parts
        if len(parts) == 1:
            return parts[0], r.peer
        return b"".join(parts), r.peer

    def recv_into(self, buffer: Buffer, flags: int = 0
                  ) -> Union[Tuple[int, int], Event]:
        """Receive the next message into a writable buffer (bytearray,
        memoryview...), its parts one after the other: one copy, no
        allocation.  Returns (size, peer); a size larger than the buffer
        means the message was truncated to fit.  An Event when events
        are on."""
        mv = memoryview(buffer).cast("B")
        if mv.readonly:
            raise TypeError("recv_into needs a writable buffer")
        cap = mv.nbytes
        anchor = ctypes.c_char.from_buffer(mv) if cap else None
        base = ctypes.addressof(anchor) if anchor is not None else 0
        m = self._recv_msg(flags)
        if self._events:
            ev = self._take_event(m)
            if ev is not None:
                return ev
        total = _size(m)
        off = 0
        lr = self._lenref
        for i in range(_parts(m)):
            if off >= cap:
                break
            p = _part(m, i, lr)
            k = min(self._len.value, cap - off)
            if k:
                ctypes.memmove(base + off, p, k)
            off += k
        peer = _peer(m)
        _free(m)
        del anchor
        return total, peer

    def recv_many(self, max: int = 1024, copy: bool = True
                  ) -> List[Union[Message, Event]]:
        """Every message (and event) waiting, up to ``max``, without
        blocking: [] when none.  Drops at recv_hwm found after some
        messages are raised (Dropped) by the next receive."""
        return self._recv_many([], max, copy)

    def _recv_many(self, out: List[Union[Message, Event]], max: int,
                   copy: bool) -> List[Union[Message, Event]]:
        h = self._handle()
        if self._dropped and not out:
            self._drop_report()
        ref = self._msgref
        while len(out) < max:
            if _recv(h, ref, DONTWAIT) != 0:
                e = _get_errno()
                if e == _errno.EAGAIN:
                    break
                if e == _errno.ENOBUFS and out:
                    self._dropped = True
                    break
                if e == _EINTR:
                    continue
                _raise(e)
            out.append(self._take(self._msg.value, copy))
        return out


for _o in Option:
    if _o not in (Option.TYPE, Option.EVENTS):
        setattr(Socket, _o.name.lower(), _opt_property(_o))
del _o


# --- the context ---------------------------------------------------------

class Context:
    """Where the daemon is: ``ipc_path``, else $NBMQ_SOCKET, else
    /run/nbmq/nbmqd.sock.  No connection is made until a socket is
    created; each socket is its own connection to the daemon.

    ``with nbmq.Context() as ctx:`` closes its sockets (with their linger)
    and frees the context at the end."""

    _socket_class = Socket

    def __init__(self, ipc_path: Optional[Union[str, "os.PathLike[str]"]]
                 = None) -> None:
        path = os.fsencode(ipc_path) if ipc_path is not None else None
        h = lib.nbmq_ctx_new(path)
        if not h:
            _raise()
        self._h: Optional[int] = h
        self.ipc_path = os.fsdecode(path) if path is not None else \
            os.environ.get("NBMQ_SOCKET", "/run/nbmq/nbmqd.sock")
        self._sockets: "weakref.WeakSet[Socket]" = weakref.WeakSet()

    def _handle(self) -> int:
        if self._h is None:
            raise Closed(_errno.ENOTSOCK, "the context is closed")
        return self._h

    def _wrap(self, h: Optional[int], type: int, **options: int) -> Any:
        if not h:
            _raise()
        s = self._socket_class(self, h, type)
        self._sockets.add(s)
        try:
            for k, v in options.items():
                setattr(s, k, v)
        except BaseException:
            s.close()
            raise
        return s

    def socket(self, socket_type: int, **options: int) -> Any:
        """A new socket of ``socket_type`` (DEALER, SAFE_DEALER, RADIO,
        DISH) in the daemon; it lives while this application keeps it
        open.  Keyword arguments set options: ``ctx.socket(nbmq.DEALER,
        sndtimeo=5000)``.  Raises NoDaemon, ProtocolMismatch,
        InvalidArgument (a bad type)."""
        h = lib.nbmq_socket_new(self._handle(), int(socket_type))
        return self._wrap(h, int(socket_type), **options)

    def attach(self, name: str, **options: int) -> Any:
        """Attach to the socket configured in the daemon as [socket NAME].
        Messages that arrived while no application was attached come
        first.  Raises NoSuchSocket (no such name), Busy (a sending
        socket another application has), or as socket()."""
        h = lib.nbmq_attach(self._handle(), name.encode())
        if not h:
            _raise()
        v = c_int64()
        lib.nbmq_getopt(h, Option.TYPE, byref(v))
        return self._wrap(h, v.value, **options)

    def close(self, linger: Optional[int] = None) -> None:
        """Close every socket of this context still open (with ``linger``
        ms, or each socket's own), then free the context."""
        if self._h is None:
            return
        for s in list(self._sockets):
            s.close(linger)
        lib.nbmq_ctx_destroy(self._h)
        self._h = None

    term = destroy = close

    @property
    def closed(self) -> bool:
        return self._h is None

    def __enter__(self) -> "Context":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            if self._h is not None and not len(self._sockets):
                lib.nbmq_ctx_destroy(self._h)
                self._h = None
        except Exception:
            pass
