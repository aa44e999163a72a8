# SPDX-License-Identifier: ISC
"""ctypes declarations of libnbmq (client-lib/nbmq.h), loaded once.

The library is ``$NBMQ_LIBRARY`` when that is set (a path), else
``libnbmq.so.0`` from the loader's search path.  Every function is
declared with its exact argument and result types; functions that set
errno are called through a CDLL with ``use_errno=True``, so
``ctypes.get_errno()`` right after a failed call is the call's errno.
Blocking calls (nbmq_recv, nbmq_sendv, nbmq_flush, nbmq_close) release
the GIL, as every ctypes call on a CDLL does.
"""
import ctypes
import os
from ctypes import (POINTER, Structure, c_char, c_char_p, c_int, c_int64,
                    c_size_t, c_ssize_t, c_uint64, c_void_p)

__all__ = ["lib", "iovec", "nbmq_event", "LIBRARY"]


class iovec(Structure):
    """struct iovec.  iov_base is a c_char_p: assigning bytes keeps a
    reference and points at the bytes object's own buffer (no copy);
    assigning an int stores that address."""
    _fields_ = [("iov_base", c_char_p), ("iov_len", c_size_t)]


class nbmq_event(Structure):
    """struct nbmq_event."""
    _fields_ = [("type", c_int), ("reason", c_int), ("peer", c_uint64),
                ("addr", c_char * 64), ("prev_addr", c_char * 64)]


def _load() -> ctypes.CDLL:
    path = os.environ.get("NBMQ_LIBRARY") or "libnbmq.so.0"
    try:
        return ctypes.CDLL(path, use_errno=True)
    except OSError as e:
        raise ImportError(
            "nbmq: cannot load %s (%s); install libnbmq0, or set "
            "NBMQ_LIBRARY to the path of libnbmq.so.0" % (path, e)) from None


lib = _load()
LIBRARY: str = lib._name

_ctx_p = c_void_p
_sock_p = c_void_p
_msg_p = c_void_p

_PROTOS = {
    # name: (restype, argtypes)
    "nbmq_ctx_new": (_ctx_p, [c_char_p]),
    "nbmq_ctx_destroy": (None, [_ctx_p]),
    "nbmq_socket_new": (_sock_p, [_ctx_p, c_int]),
    "nbmq_attach": (_sock_p, [_ctx_p, c_char_p]),
    "nbmq_close": (c_int, [_sock_p]),
    "nbmq_bind": (c_int, [_sock_p, c_char_p]),
    "nbmq_connect": (c_int, [_sock_p, c_char_p]),
    "nbmq_last_endpoint": (c_int, [_sock_p, c_char_p, c_size_t]),
    "nbmq_setopt": (c_int, [_sock_p, c_int, c_int64]),
    "nbmq_getopt": (c_int, [_sock_p, c_int, POINTER(c_int64)]),
    "nbmq_sendv": (c_int, [_sock_p, POINTER(iovec), c_int, c_uint64, c_int]),
    "nbmq_flush": (c_int, [_sock_p, c_int]),
    "nbmq_send": (c_int, [_sock_p, c_char_p, c_size_t, c_int]),
    "nbmq_recv": (c_int, [_sock_p, POINTER(_msg_p), c_int]),
    "nbmq_recvbuf": (c_ssize_t, [_sock_p, c_void_p, c_size_t,
                                 POINTER(c_uint64), c_int]),
    "nbmq_msg_parts": (c_size_t, [_msg_p]),
    "nbmq_msg_part": (c_void_p, [_msg_p, c_size_t, POINTER(c_size_t)]),
    "nbmq_msg_size": (c_size_t, [_msg_p]),
    "nbmq_msg_peer": (c_uint64, [_msg_p]),
    "nbmq_msg_event": (c_int, [_msg_p, POINTER(nbmq_event)]),
    "nbmq_event_name": (c_char_p, [c_int]),
    "nbmq_connfail_name": (c_char_p, [c_int]),
    "nbmq_connfail_text": (c_char_p, [c_int]),
    "nbmq_down_reason_name": (c_char_p, [c_int]),
    "nbmq_msg_free": (None, [_msg_p]),
    "nbmq_fd": (c_int, [_sock_p]),
    "nbmq_readable": (c_int, [_sock_p]),
    "nbmq_strerror": (c_char_p, [c_int]),
}

for _name, (_res, _args) in _PROTOS.items():
    _f = getattr(lib, _name)
    _f.restype = _res
    _f.argtypes = _args
