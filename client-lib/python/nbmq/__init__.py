# SPDX-License-Identifier: ISC
"""nbmq: the Python binding of libnbmq, the nbmq client library.

It feels like pyzmq::

    import nbmq

    with nbmq.Context() as ctx:                  # $NBMQ_SOCKET, else /run/nbmq/nbmqd.sock
        srv = ctx.socket(nbmq.DEALER)
        cli = ctx.socket(nbmq.DEALER, sndtimeo=5000)
        cli.connect(srv.bind("127.0.0.1:0"))
        cli.send_multipart([b"greeting", b"hello, world"])
        parts, peer = srv.recv_multipart()
        srv.send(b"pong", peer=peer)             # answer that peer only

Every socket lives in the nbmqd daemon; the library talks to it over a Unix
socket.  ``nbmq.asyncio`` has the same sockets with awaitable send and
recv.  Errors are exceptions, one class per errno (nbmq.error).

The library is ``$NBMQ_LIBRARY`` when set, else libnbmq.so.0 from the
loader's path.
"""
from . import constants
from .constants import *  # noqa: F401,F403
from .core import Buffer, Context, Event, Message, Socket
from .error import *  # noqa: F401,F403
from .error import __all__ as _error_all
from ._lib import LIBRARY

__version__ = "0.1.0"

__all__ = (["Context", "Socket", "Message", "Event", "Buffer", "LIBRARY",
            "constants"] + list(constants.__all__) + list(_error_all))
