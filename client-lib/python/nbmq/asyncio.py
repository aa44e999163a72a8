# SPDX-License-Identifier: ISC
"""nbmq for asyncio: sockets whose send and recv are awaitable.

    import nbmq, nbmq.asyncio

    async def main():
        with nbmq.asyncio.Context() as ctx:
            srv = ctx.socket(nbmq.DEALER)
            ...
            parts, peer = await srv.recv_multipart()
            await srv.send_multipart([b"reply"], peer=peer)

How it waits: a receive (and a send that finds send_hwm reached or no
peer) first tries without blocking (NBMQ_DONTWAIT); when that says Again it
waits for the socket's fd with loop.add_reader, then asks nbmq_readable()
(which reads what the fd has: messages, send credit, a dead daemon) and
wakes whoever waits on that socket.  No polling loop, no thread.  The fd
only signals data still in the kernel, not messages the library already
read (a send reading its credit may read messages too), so after every
operation on the socket the waiting receivers are woken if nbmq_readable()
says so.  A send without BATCH returns once the message is with the kernel
(as a blocking nbmq_sendv does): if the kernel buffer was full, it waits
for the fd to be writable (loop.add_writer) and flushes.

The rcvtimeo and sndtimeo options apply (Again, or NoPeer, after them);
asyncio.wait_for and cancellation work as usual.  Options, bind, connect,
close and the rest are the same (synchronous) calls as nbmq.Socket.  Use a
socket from one event loop (the thread running it).
"""
import asyncio as _aio
import errno as _errno
import time
from typing import Any, List, Optional, Sequence, Tuple, Union

from . import core
from .constants import BATCH, DONTWAIT, Option
from .core import Buffer, Event, Message
from .error import Again, Closed, NbmqError, NoPeer

__all__ = ["Context", "Socket"]

_readable = core._readable


class Socket(core.Socket):
    """An nbmq.Socket whose send, send_multipart, send_many, recv,
    recv_multipart, recv_into, recv_many, flush and poll are coroutines."""

    def __init__(self, context: "core.Context", handle: int,
                 type: int) -> None:
        super().__init__(context, handle, type)
        self._rwait: List["_aio.Future[None]"] = []   # receivers
        self._swait: List["_aio.Future[None]"] = []   # senders (credit)
        self._wwait: List["_aio.Future[None]"] = []   # flush (writable)
        self._loop: Optional[_aio.AbstractEventLoop] = None
        self._reading = False
        self._writing = False
        self._fdno = -1
        self._rcvtimeo = -1
        self._sndtimeo = -1

    # -- the event loop's side --
    def _on_input(self) -> None:
        if not (self._rwait or self._swait) or self._h is None:
            self._stop_reading()
            return
        ready = _readable(self._h)
        senders, self._swait = self._swait, []
        _wake(senders)
        if ready:
            receivers, self._rwait = self._rwait, []
            _wake(receivers)

    def _on_output(self) -> None:
        writers, self._wwait = self._wwait, []
        _wake(writers)
        self._stop_writing()

    def _stop_reading(self) -> None:
        if self._reading and self._loop is not None:
            self._loop.remove_reader(self._fdno)
        self._reading = False

    def _stop_writing(self) -> None:
        if self._writing and self._loop is not None:
            self._loop.remove_writer(self._fdno)
        self._writing = False

    def _poke(self) -> None:
        """After any call on the socket: messages it read from the fd are
        in the library now, where the fd does not show them."""
        if self._rwait and self._h is not None and _readable(self._h):
            receivers, self._rwait = self._rwait, []
            _wake(receivers)

    async def _wait(self, waiters: List["_aio.Future[None]"],
                    deadline: Optional[float], writable: bool = False
                    ) -> bool:
        """Wait for the fd (input, or output if writable); False at the
        deadline."""
        loop = _aio.get_running_loop()
        if self._loop is not loop:
            self._stop_reading()
            self._stop_writing()
            self._loop = loop
        self._fdno = self.fileno()
        fut = loop.create_future()
        waiters.append(fut)
        if writable:
            if not self._writing:
                loop.add_writer(self._fdno, self._on_output)
                self._writing = True
        elif not self._reading:
            loop.add_reader(self._fdno, self._on_input)
            self._reading = True
        try:
            if deadline is None:
                await fut
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await _aio.wait_for(_aio.shield(fut), left)
            except _aio.TimeoutError:
                return False
            return True
        finally:
            if fut in waiters:
                waiters.remove(fut)
            if not fut.done():
                fut.cancel()

    @staticmethod
    def _deadline(ms: int) -> Optional[float]:
        return None if ms < 0 else time.monotonic() + ms / 1000.0

    # -- options: the timeouts are the coroutines' too --
    def setsockopt(self, option: int, value: int) -> None:
        super().setsockopt(option, value)
        if option == Option.RCVTIMEO:
            self._rcvtimeo = int(value)
        elif option == Option.SNDTIMEO:
            self._sndtimeo = int(value)
        self._poke()

    def getsockopt(self, option: int) -> int:
        v = super().getsockopt(option)
        self._poke()
        return v

    set = setsockopt
    get = getsockopt

    def close(self, linger: Optional[int] = None) -> None:
        if self._h is not None:
            self._stop_reading()
            self._stop_writing()
        super().close(linger)
        waiters = self._rwait + self._swait + self._wwait
        self._rwait, self._swait, self._wwait = [], [], []
        _wake(waiters)   # they retry and raise Closed

    # -- receiving --
    async def _recv_with(self, fn: Any, flags: int) -> Any:
        if flags & DONTWAIT:
            try:
                return fn(flags)
            finally:
                self._poke()
        deadline = self._deadline(self._rcvtimeo)
        while True:
            try:
                r = fn(flags | DONTWAIT)
            except Again:
                if not await self._wait(self._rwait, deadline):
                    raise
                continue
            self._poke()
            return r

    async def recv_multipart(self, flags: int = 0, copy: bool = True
                             ) -> Union[Message, Event]:  # type: ignore[override]
        """Await the next message: Message(parts, peer), or an Event."""
        return await self._recv_with(
            lambda f: core.Socket.recv_multipart(self, f, copy), flags)

    async def recv(self, flags: int = 0, copy: bool = True
                   ) -> Union[Tuple[bytes, int], Event]:  # type: ignore[override]
        """Await the next message as (data, peer), or an Event."""
        return await self._recv_with(
            lambda f: core.Socket.recv(self, f, copy), flags)

    async def recv_into(self, buffer: Buffer, flags: int = 0
                        ) -> Union[Tuple[int, int], Event]:  # type: ignore[override]
        """Await the next message into buffer: (size, peer), or an Event."""
        return await self._recv_with(
            lambda f: core.Socket.recv_into(self, buffer, f), flags)

    async def recv_many(self, max: int = 1024, copy: bool = True
                        ) -> List[Union[Message, Event]]:  # type: ignore[override]
        """Await at least one message, then return every one waiting (up
        to max): one wakeup for a burst."""
        out = [await self.recv_multipart(0, copy)]
        self._recv_many(out, max, copy)
        self._poke()
        return out

    async def poll(self, timeout: Optional[float] = None) -> bool:  # type: ignore[override]
        """Await until a receive would not block, up to timeout ms
        (None: forever); True if so."""
        h = self._handle()
        deadline = None if timeout is None or timeout < 0 else \
            time.monotonic() + timeout / 1000.0
        while not (self._dropped or _readable(h)):
            if not await self._wait(self._rwait, deadline):
                return False
            h = self._handle()
        return True

    # -- sending --
    async def _send_with(self, fn: Any, flags: int) -> None:
        if flags & DONTWAIT:
            try:
                fn(flags)
            finally:
                self._poke()
            return
        deadline = self._deadline(self._sndtimeo)
        while True:
            try:
                fn(flags | DONTWAIT)
                break
            except (Again, NoPeer):
                # The kernel's buffer full (what the library holds past
                # 8 MiB), or no credit / no peer yet: the daemon's word
                # comes as input.
                try:
                    core.Socket.flush(self, DONTWAIT)
                    pending = False
                except Again:
                    pending = True
                if not await self._wait(self._wwait if pending
                                        else self._swait, deadline,
                                        writable=pending):
                    raise
        if not flags & BATCH:
            await self.flush()
        self._poke()

    async def send(self, data: Buffer, flags: int = 0,  # type: ignore[override]
                   peer: int = 0) -> None:
        """Await sending one single-part message (see nbmq.Socket.send):
        at send_hwm, or with no peer, it waits (up to sndtimeo) instead of
        blocking the loop."""
        await self._send_with(
            lambda f: core.Socket.send(self, data, f, peer), flags)

    async def send_multipart(self, parts: Sequence[Buffer],  # type: ignore[override]
                             flags: int = 0, peer: Optional[int] = None
                             ) -> None:
        """Await sending one message of several parts."""
        if not isinstance(parts, (list, tuple)):
            parts = tuple(parts)    # it may be tried more than once
        await self._send_with(
            lambda f: core.Socket.send_multipart(self, parts, f, peer),
            flags)

    async def send_many(self, messages: Any, flags: int = 0,  # type: ignore[override]
                        peer: int = 0) -> int:
        """Await sending many messages, each with BATCH, then flush: one
        system call per 64 KiB."""
        n = 0
        for m in messages:
            parts = m if isinstance(m, (list, tuple)) else (m,)
            await self._send_with(
                lambda f: core.Socket.send_multipart(self, parts, f, peer),
                flags | BATCH)
            n += 1
        await self.flush(flags & DONTWAIT)
        return n

    async def flush(self, flags: int = 0) -> None:  # type: ignore[override]
        """Await until the library holds nothing (see nbmq.Socket.flush);
        waits for the fd to be writable, not the thread."""
        deadline = self._deadline(self._sndtimeo)
        while True:
            try:
                core.Socket.flush(self, DONTWAIT)
                return
            except Again:
                if flags & DONTWAIT:
                    raise
                if not await self._wait(self._wwait, deadline, True):
                    raise


for _name in ("setsockopt", "getsockopt", "close"):
    getattr(Socket, _name).__doc__ = getattr(core.Socket, _name).__doc__
del _name


def _wake(waiters: List["_aio.Future[None]"]) -> None:
    for f in waiters:
        if not f.done():
            f.set_result(None)


class Context(core.Context):
    """nbmq.Context whose socket() and attach() make nbmq.asyncio.Socket."""
    _socket_class = Socket

    def socket(self, socket_type: int, **options: int) -> Socket:
        return super().socket(socket_type, **options)

    def attach(self, name: str, **options: int) -> Socket:
        return super().attach(name, **options)
