# SPDX-License-Identifier: ISC
"""The Python binding (client-lib/python/nbmq) against a real daemon.

Run by tests/int_python.sh, which starts the daemon and sets:
  NBMQ_SOCKET   the daemon's IPC socket (configured: news, out, bob, stun)
  NBMQ_LIBRARY  build/libnbmq.so.0
  NBMQD, NBMQCAT, APPTOOL   the programs of the build
  NBMQ_H        client-lib/nbmq.h (constants and errnos are checked
                against it)
  NEWS_EP, STUN_EP, TESTDIR
Stdlib only (unittest).  Waits are polls with deadlines.
"""
import array
import asyncio
import errno
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import nbmq
import nbmq.asyncio
from nbmq import constants

ENV = os.environ
TIMEOUT = float(ENV.get("PY_TEST_TIMEOUT", "10"))


def wait_for(cond, secs=TIMEOUT, what="condition"):
    end = time.monotonic() + secs
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(0.02)


def pair(ctx, kind=nbmq.DEALER, **opts):
    """A bound server and a client connected to it, with a peer up."""
    srv = ctx.socket(kind, rcvtimeo=int(TIMEOUT * 1000), **opts)
    cli = ctx.socket(kind, sndtimeo=int(TIMEOUT * 1000),
                     rcvtimeo=int(TIMEOUT * 1000), **opts)
    cli.connect(srv.bind("127.0.0.1:0"))
    wait_for(lambda: cli.peers == 1, what="client peer up")
    return srv, cli


def parse_header(path):
    """The #defines and enums of nbmq.h: {name: value}."""
    text = open(path).read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = {}
    for m in re.finditer(r"#define\s+(NBMQ_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b",
                         text):
        out[m.group(1)] = int(m.group(2), 0)
    for body in re.findall(r"enum\s+\w+\s*\{(.*?)\}", text, flags=re.S):
        v = -1
        for item in body.split(","):
            item = item.strip()
            if not item:
                continue
            if "=" in item:
                name, val = (x.strip() for x in item.split("="))
                v = int(val, 0)
            else:
                name = item
                v += 1
            out[name] = v
    return out


class Header(unittest.TestCase):
    """Every constant and errno of nbmq.h is in the binding."""

    def setUp(self):
        self.h = parse_header(ENV["NBMQ_H"])

    def test_every_option_type_flag_event(self):
        groups = [("NBMQ_OPT_", constants.Option),
                  ("NBMQ_EVENT_", constants.EventType),
                  ("NBMQ_CONNFAIL_", constants.ConnFail),
                  ("NBMQ_DOWN_", constants.DownReason)]
        for prefix, enum in groups:
            names = {k[len(prefix):]: v for k, v in self.h.items()
                     if k.startswith(prefix)}
            self.assertTrue(names, prefix)
            self.assertEqual(names, {e.name: e.value for e in enum}, prefix)
        for t in ("DEALER", "SAFE_DEALER", "RADIO", "DISH", "STUN"):
            self.assertEqual(getattr(nbmq, t), self.h["NBMQ_" + t])
        self.assertEqual(nbmq.DONTWAIT, self.h["NBMQ_DONTWAIT"])
        self.assertEqual(nbmq.BATCH, self.h["NBMQ_BATCH"])
        # Each option is a Socket property too.
        for o in constants.Option:
            self.assertTrue(hasattr(nbmq.Socket, o.name.lower()), o.name)

    def test_speedups_built(self):
        # make builds the C part wherever make deps could install
        # python3-dev; NBMQ_PY_SPEEDUPS=0 keeps the binding on ctypes.
        want = os.environ.get("NBMQ_PY_SPEEDUPS", "1") != "0"
        if want and os.environ.get("NBMQ_STRICT_TOOLS") != "1" and \
                not nbmq.core.SPEEDUPS:
            self.skipTest("nbmq/_speedups not built (no python3-dev)")
        self.assertEqual(nbmq.core.SPEEDUPS, want)

    def test_every_documented_errno_maps(self):
        text = open(ENV["NBMQ_H"]).read()
        documented = set(re.findall(r"\b(E[A-Z]{3,})\b", text)) - {"EXPORT"}
        self.assertIn("EAGAIN", documented)
        for name in sorted(documented):
            num = getattr(errno, name)
            exc = nbmq.error_for(num)
            self.assertIsNot(type(exc), nbmq.NbmqError, name)
            self.assertIsInstance(exc, OSError)
            self.assertEqual(exc.errno, num)
        self.assertIsInstance(nbmq.error_for(errno.EAGAIN), BlockingIOError)
        self.assertIsInstance(nbmq.error_for(errno.EAGAIN), nbmq.Again)
        self.assertIsInstance(nbmq.error_for(errno.EHOSTUNREACH), nbmq.NoPeer)
        self.assertIsInstance(nbmq.error_for(errno.ECONNRESET),
                              nbmq.DaemonGone)
        self.assertIsInstance(nbmq.error_for(errno.ECONNRESET),
                              ConnectionError)
        self.assertIsInstance(nbmq.error_for(errno.EINVAL), ValueError)
        self.assertIn("high-water", str(nbmq.error_for(errno.EAGAIN)))


class Sync(unittest.TestCase):
    def setUp(self):
        self.ctx = nbmq.Context()

    def tearDown(self):
        self.ctx.close(linger=0)

    def test_multipart_empty_parts_buffers_and_replies(self):
        srv, cli = pair(self.ctx)
        parts = [b"", b"head", b"", bytearray(b"mutable"),
                 memoryview(b"..slice..")[2:7], array.array("B", [1, 2, 3]),
                 b"x" * 70000, b""]
        cli.send_multipart(parts)
        got, peer = srv.recv_multipart()
        self.assertEqual(got, [bytes(p) for p in parts])
        self.assertNotEqual(peer, 0)
        srv.send_multipart((p for p in [b"re", b""]), peer=peer)
        m = cli.recv_multipart()
        self.assertIsInstance(m, nbmq.Message)
        self.assertEqual(m.parts, [b"re", b""])
        self.assertEqual(m.data, b"re")
        # recv: one part as bytes; several joined.
        cli.send(b"single")
        self.assertEqual(srv.recv(), (b"single", peer))
        cli.send(memoryview(bytearray(b"any buffer")))
        self.assertEqual(srv.recv()[0], b"any buffer")
        srv.send(b"to you", peer=peer)
        self.assertEqual(cli.recv()[0], b"to you")
        # recv() of what its one-call path cannot take: a message past
        # its 64 KiB buffer, an empty one (C part and ctypes alike).
        cli.send(b"y" * 70000)
        self.assertEqual(srv.recv(), (b"y" * 70000, peer))
        cli.send(b"")
        self.assertEqual(srv.recv(), (b"", peer))
        self.assertRaises(TypeError, cli.send, "a str")
        self.assertRaises(nbmq.InvalidArgument, cli.send_multipart, [])
        self.assertRaises(nbmq.InvalidArgument, cli.send_multipart,
                          [b""] * 256)

    def test_zero_copy_receive(self):
        srv, cli = pair(self.ctx)
        cli.send_multipart([b"abc", b"", b"defg"])
        (a, e, d), peer = srv.recv_multipart(copy=False)
        self.assertIsInstance(a, memoryview)
        self.assertTrue(a.readonly)
        self.assertEqual((a.tobytes(), e.tobytes(), d.tobytes()),
                         (b"abc", b"", b"defg"))
        # recv_into: one copy into the caller's buffer; truncation said.
        cli.send_multipart([b"12345", b"678"])
        buf = bytearray(16)
        n, p = srv.recv_into(buf)
        self.assertEqual((n, p, bytes(buf[:n])), (8, peer, b"12345678"))
        cli.send(b"0123456789")
        small = bytearray(4)
        self.assertEqual(srv.recv_into(memoryview(small))[0], 10)
        self.assertEqual(small, b"0123")
        self.assertRaises(TypeError, srv.recv_into, b"readonly")
        # The views stay valid after the socket and the context are gone.
        srv.close()
        self.assertEqual(bytes(d), b"defg")

    def test_options_every_one(self):
        s = self.ctx.socket(nbmq.DEALER)
        values = {"send_hwm": 77, "recv_hwm": 99, "max_tick_send": 3,
                  "safe_resend_limit": 4, "safe_resend_ivl": 150,
                  "safe_hash_dedup_ttl": 9000,
                  "uncompleted_message_ttl": 1200, "queue_maint_ivl": 250,
                  "peer_heartbeat_ivl": 700, "peer_keepalive": 5000,
                  "reconnect_wait": 300, "max_frame_size": 1200,
                  "max_message_size": 65536, "max_peers": 12,
                  "linger": 1500, "rcvbuf": 1 << 20, "sndbuf": 1 << 20,
                  "stun_refresh_ivl": 15000, "coalesce": 0, "pacing": 0,
                  "ext_frame_size": 8000, "rcvtimeo": 1234,
                  "sndtimeo": 4321}
        rw = [o for o in constants.Option
              if o not in constants.READ_ONLY_OPTIONS and
              o is not constants.Option.EVENTS]
        self.assertEqual(sorted(values), sorted(o.name.lower() for o in rw))
        for name, v in values.items():
            setattr(s, name, v)
            self.assertEqual(getattr(s, name), v, name)
            opt = constants.Option[name.upper()]
            s.setsockopt(opt, v)
            self.assertEqual(s.getsockopt(opt), v, name)
        self.assertEqual(s.peers, 0)
        self.assertEqual(s.giveups, 0)
        self.assertEqual(s.getsockopt(nbmq.TYPE), nbmq.DEALER)
        self.assertEqual(s.type, nbmq.DEALER)
        self.assertFalse(s.events)
        with self.assertRaises(AttributeError):
            s.peers = 3
        self.assertRaises(nbmq.InvalidArgument, s.setsockopt, 9999, 1)
        self.assertRaises(nbmq.InvalidArgument, s.getsockopt, 9999)
        self.assertRaises(nbmq.InvalidArgument, setattr, s, "send_hwm", -1)
        self.assertRaises(nbmq.PermissionDenied, setattr, s, "send_hwm",
                          10 ** 9)
        # Keyword options at creation.
        t = self.ctx.socket(nbmq.SAFE_DEALER, send_hwm=5, linger=0)
        self.assertEqual((t.send_hwm, t.linger, t.type), (5, 0,
                                                         nbmq.SAFE_DEALER))

    def test_endpoints_and_addresses(self):
        s = self.ctx.socket(nbmq.DEALER)
        self.assertIsNone(s.last_endpoint)
        ep = s.bind("127.0.0.1:0")
        self.assertRegex(ep, r"^127\.0\.0\.1:\d+$")
        self.assertNotEqual(ep, "127.0.0.1:0")
        self.assertEqual(s.last_endpoint, ep)
        self.assertRaises(nbmq.AlreadyConnected, s.bind, "127.0.0.1:0")
        self.assertRaises(nbmq.AlreadyConnected, s.connect, ep)
        t = self.ctx.socket(nbmq.DEALER)
        self.assertRaises(nbmq.InvalidArgument, t.bind, "no port here")
        u = self.ctx.socket(nbmq.DEALER)
        self.assertRaises(nbmq.AddressInUse, u.bind, ep)
        self.assertRaises(nbmq.InvalidArgument, self.ctx.socket, 99)
        self.assertRaises(nbmq.InvalidArgument, self.ctx.socket, nbmq.STUN)

    def test_connect_by_name_through_stun(self):
        bob = self.ctx.attach("bob", rcvtimeo=int(TIMEOUT * 1000))
        alice = self.ctx.socket(nbmq.DEALER, sndtimeo=int(TIMEOUT * 1000))
        alice.connect("bob@" + ENV["STUN_EP"])
        alice.send_multipart([b"hi bob", b""])
        parts, peer = bob.recv_multipart()
        self.assertEqual(parts, [b"hi bob", b""])
        bob.send(b"hi alice", peer=peer)
        alice.rcvtimeo = int(TIMEOUT * 1000)
        self.assertEqual(alice.recv()[0], b"hi alice")

    def test_send_hwm_again(self):
        srv, cli = pair(self.ctx)
        # One frame per tick: 1 MiB messages leave slowly, but the ticks
        # come as fast as the daemon's loop turns (a 1 MiB message leaves
        # in milliseconds), so on a busy machine one may leave and give
        # its room back while this loop runs (CI, 2026-12-06: the ctypes
        # path, slower, sent 6).  The exact count at send_hwm is the C
        # library's to hold (test_lib, apptool hwm in int_one_daemon and
        # int_batch); here: EAGAIN comes, as nbmq.Again, at send_hwm or
        # past it by what left during a stall (a message each 5-10 ms),
        # never 100 sends later as it would if send_hwm were not held.
        cli.send_hwm = 4
        cli.max_tick_send = 1
        big = bytes(1 << 20)
        n = 0
        with self.assertRaises(nbmq.Again) as cm:
            while n < 100:
                cli.send(big, nbmq.DONTWAIT)
                n += 1
        self.assertGreaterEqual(n, 4)
        self.assertLess(n, 4 + 16)
        self.assertIsInstance(cm.exception, BlockingIOError)
        self.assertEqual(cm.exception.errno, errno.EAGAIN)
        # With BATCH too, on a small message.  The window may have
        # reopened since (a 1 MiB message left: CI, under coverage on a
        # busy machine): but no further than send_hwm.
        k = 0
        with self.assertRaises(nbmq.Again):
            while k <= 4:
                cli.send_multipart([b"x"], nbmq.DONTWAIT | nbmq.BATCH)
                k += 1
        self.assertLessEqual(k, 4)
        # Blocking: it waits for room, and the room comes.
        cli.send(b"after", 0)

    def test_no_peer_and_unsupported(self):
        s = self.ctx.socket(nbmq.DEALER)
        self.assertRaises(nbmq.NoPeer, s.send, b"x", nbmq.DONTWAIT)
        s.sndtimeo = 50
        self.assertRaises(nbmq.NoPeer, s.send, b"x")
        s.rcvtimeo = 50
        self.assertRaises(nbmq.Again, s.recv)
        self.assertRaises(nbmq.Again, s.recv, nbmq.DONTWAIT)
        dish = self.ctx.socket(nbmq.DISH)
        self.assertRaises(nbmq.NotSupported, dish.send, b"x")
        radio = self.ctx.socket(nbmq.RADIO)
        self.assertRaises(nbmq.NotSupported, radio.recv, nbmq.DONTWAIT)
        s.max_message_size = 1000
        self.assertRaises(nbmq.MessageTooLarge, s.send, bytes(1001))

    def test_batch_flush_and_send_many(self):
        srv, cli = pair(self.ctx)
        srv.recv_hwm = 20000
        for i in range(500):
            cli.send_multipart([b"b", b"%d" % i], nbmq.BATCH)
        cli.flush()
        n = cli.send_many([b"%d" % i for i in range(500, 1000)] +
                          [[b"last", b""]])
        self.assertEqual(n, 501)
        got = []
        while len(got) < 1001:
            self.assertTrue(srv.poll(TIMEOUT * 1000), "poll timed out")
            got += srv.recv_many()
        self.assertEqual([m.parts for m in got[:500]],
                         [[b"b", b"%d" % i] for i in range(500)])
        self.assertEqual([m.parts[0] for m in got[500:1000]],
                         [b"%d" % i for i in range(500, 1000)])
        self.assertEqual(got[1000].parts, [b"last", b""])
        self.assertEqual(srv.recv_many(), [])

    def test_dropped_at_recv_hwm(self):
        # pacing = 0: no receiver's window (PROTOCOL.md 4.7), which would
        # push the sender back instead, so the receiver drops.
        srv, cli = pair(self.ctx, pacing=0)
        srv.recv_hwm = 5
        cli.send_many([b"%d" % i for i in range(3000)])
        got, dropped = 0, False
        while srv.poll(1000):
            try:
                srv.recv(nbmq.DONTWAIT)
                got += 1
            except nbmq.Dropped as e:
                self.assertEqual(e.errno, errno.ENOBUFS)
                dropped = True
        self.assertTrue(dropped, "no Dropped with recv_hwm 5 (%d)" % got)
        self.assertLess(got, 3000)
        # recv_many: a drop report found after messages comes with the
        # next receive, never lost.
        cli.send_many([b"%d" % i for i in range(3000)])
        got, dropped = 0, False
        while srv.poll(1000):
            try:
                got += len(srv.recv_many(100))
            except nbmq.Dropped:
                dropped = True
        self.assertTrue(dropped, "recv_many: no Dropped (%d)" % got)
        self.assertLess(got, 3000)

    def test_radio_dish(self):
        dish = self.ctx.socket(nbmq.DISH, rcvtimeo=int(TIMEOUT * 1000))
        radio = self.ctx.socket(nbmq.RADIO, sndtimeo=int(TIMEOUT * 1000))
        radio.connect(dish.bind("127.0.0.1:0"))
        wait_for(lambda: radio.peers == 1, what="radio peer")
        for i in range(10):
            radio.send_multipart([b"news", b"%d" % i])
        for i in range(10):
            self.assertEqual(dish.recv_multipart().parts, [b"news", b"%d" % i])

    def test_safe_dealer(self):
        srv, cli = pair(self.ctx, nbmq.SAFE_DEALER)
        for i in range(50):
            cli.send(b"safe %d" % i)
        for i in range(50):
            self.assertEqual(srv.recv()[0], b"safe %d" % i)
        self.assertEqual(cli.giveups, 0)

    def test_attach(self):
        subs = [self.ctx.attach("news", rcvtimeo=int(TIMEOUT * 1000))
                for _ in range(2)]
        self.assertEqual(subs[0].type, nbmq.DISH)
        radio = self.ctx.socket(nbmq.RADIO, sndtimeo=int(TIMEOUT * 1000))
        radio.connect(ENV["NEWS_EP"])
        radio.send(b"to all")
        for s in subs:
            self.assertEqual(s.recv()[0], b"to all")
        out = self.ctx.attach("out")
        self.assertEqual(out.type, nbmq.DEALER)
        self.assertRaises(nbmq.Busy, self.ctx.attach, "out")
        self.assertRaises(nbmq.NoSuchSocket, self.ctx.attach, "nosuch")

    def test_events(self):
        srv = self.ctx.socket(nbmq.DEALER, rcvtimeo=int(TIMEOUT * 1000))
        srv.events = True
        self.assertTrue(srv.events)
        ep = srv.bind("127.0.0.1:0")
        cli = self.ctx.socket(nbmq.DEALER, sndtimeo=int(TIMEOUT * 1000))
        cli.connect(ep)
        up = srv.recv()
        self.assertIsInstance(up, nbmq.Event)
        self.assertEqual((up.type, up.name), (nbmq.EventType.UP, "up"))
        self.assertEqual(up.addr.rsplit(":", 1)[1],
                         cli.last_endpoint.rsplit(":", 1)[1])
        cli.send(b"msg")
        data, peer = srv.recv()
        self.assertEqual((data, peer), (b"msg", up.peer))
        cli.close()
        down = srv.recv_multipart()
        self.assertIsInstance(down, nbmq.Event)
        self.assertEqual(down.type, nbmq.EventType.DOWN)
        self.assertEqual(down.peer, up.peer)
        self.assertIsInstance(down.reason, nbmq.constants.DownReason)
        self.assertIn(down.reason_name, ("disconnected", "closed"))
        self.assertIn("down", repr(down))
        # A connect that is not answered says why.
        spare = self.ctx.socket(nbmq.DEALER)
        free = spare.bind("127.0.0.1:0")
        spare.close()
        lone = self.ctx.socket(nbmq.DEALER, reconnect_wait=200,
                               rcvtimeo=int(TIMEOUT * 1000))
        lone.events = True
        lone.connect(free)
        ev = lone.recv()
        self.assertEqual(ev.type, nbmq.EventType.CONNECT_FAILED)
        self.assertIsInstance(ev.reason, nbmq.constants.ConnFail)
        self.assertTrue(ev.reason_text)

    def test_hwm_events(self):
        srv, cli = pair(self.ctx)
        cli.events = True
        while True:  # the UP of the peer already there
            ev = cli.recv(nbmq.DONTWAIT)
            if ev.type == nbmq.EventType.UP:
                break
        cli.send_hwm = 2
        cli.max_tick_send = 1
        big = bytes(1 << 20)
        with self.assertRaises(nbmq.Again):
            for _ in range(10):
                cli.send(big, nbmq.DONTWAIT)
        seen = []
        while nbmq.EventType.HWM_CLEARED not in seen:
            ev = cli.recv()
            seen.append(ev.type)
        self.assertIn(nbmq.EventType.HWM_REACHED, seen)

    def test_selectors_with_fileno(self):
        srv, cli = pair(self.ctx)
        sel = selectors.DefaultSelector()
        sel.register(srv, selectors.EVENT_READ)
        for i in range(3):
            cli.send(b"sel %d" % i)
        got = []
        end = time.monotonic() + TIMEOUT
        while len(got) < 3 and time.monotonic() < end:
            while srv.readable:         # what the library holds first
                got.append(srv.recv(nbmq.DONTWAIT)[0])
            if len(got) < 3:
                sel.select(timeout=1.0)
        sel.close()
        self.assertEqual(got, [b"sel 0", b"sel 1", b"sel 2"])
        self.assertEqual(srv.fileno(), srv.fd)

    def test_close_and_context_manager(self):
        with nbmq.Context() as ctx:
            with ctx.socket(nbmq.DEALER) as s:
                s.bind("127.0.0.1:0")
            self.assertTrue(s.closed)
            self.assertRaises(nbmq.Closed, s.send, b"x")
            self.assertRaises(nbmq.Closed, s.fileno)
            t = ctx.socket(nbmq.DEALER, linger=5000)
            t.close(linger=0)
            t.close()           # twice is fine
            u = ctx.socket(nbmq.DEALER)
        self.assertTrue(u.closed)
        self.assertTrue(ctx.closed)
        self.assertRaises(nbmq.Closed, ctx.socket, nbmq.DEALER)

    def test_signal_during_blocking_recv(self):
        # The handler runs (KeyboardInterrupt would come through), then the
        # receive goes on until its timeout: EINTR is never seen.
        srv = self.ctx.socket(nbmq.DEALER, rcvtimeo=600)
        srv.bind("127.0.0.1:0")
        hits = []
        old = signal.signal(signal.SIGUSR1, lambda *a: hits.append(1))
        try:
            t = threading.Timer(0.1, os.kill, (os.getpid(), signal.SIGUSR1))
            t.start()
            with self.assertRaises(nbmq.Again):
                srv.recv()
            t.join()
        finally:
            signal.signal(signal.SIGUSR1, old)
        self.assertEqual(hits, [1])

    def test_no_daemon(self):
        d = tempfile.mkdtemp(dir=ENV.get("TESTDIR"))
        ctx = nbmq.Context(os.path.join(d, "none.sock"))
        with self.assertRaises(nbmq.NoDaemon) as cm:
            ctx.socket(nbmq.DEALER)
        self.assertIsInstance(cm.exception, ConnectionError)
        ctx.close()


class PrivateDaemon:
    """A daemon of its own, to be killed."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(dir=ENV.get("TESTDIR"))
        self.path = os.path.join(self.dir, "d.sock")
        self.log = open(os.path.join(self.dir, "d.log"), "w+")
        self.proc = subprocess.Popen([ENV["NBMQD"], "-v", "-c", "/dev/null",
                                      "-S", self.path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        wait_for(lambda: os.path.exists(self.path), what="daemon socket")
        wait_for(lambda: "started" in open(self.log.name).read(),
                 what="daemon started")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


class DaemonGone(unittest.TestCase):
    def test_killed_daemon(self):
        d = PrivateDaemon()
        try:
            ctx = nbmq.Context(d.path)
            srv = ctx.socket(nbmq.DEALER)
            srv.bind("127.0.0.1:0")
            d.kill()
            with self.assertRaises(nbmq.DaemonGone) as cm:
                srv.rcvtimeo = 5000
                srv.recv()
            self.assertIsInstance(cm.exception, ConnectionError)
            self.assertRaises(nbmq.DaemonGone, srv.send, b"x")
            srv.close()          # never raises
            ctx.close()
        finally:
            if d.proc.poll() is None:
                d.kill()

    def test_killed_daemon_asyncio(self):
        d = PrivateDaemon()

        async def main():
            with nbmq.asyncio.Context(d.path) as ctx:
                srv = ctx.socket(nbmq.DEALER)
                srv.bind("127.0.0.1:0")
                waiting = asyncio.ensure_future(srv.recv_multipart())
                await asyncio.sleep(0)
                d.kill()
                with self.assertRaises(nbmq.DaemonGone):
                    await asyncio.wait_for(waiting, TIMEOUT)
        try:
            asyncio.run(main())
        finally:
            if d.proc.poll() is None:
                d.kill()


class AsyncIO(unittest.TestCase):
    def run_async(self, coro):
        return asyncio.run(asyncio.wait_for(coro, 30))

    def test_several_sockets_at_once(self):
        async def main():
            with nbmq.asyncio.Context() as ctx:
                srv = ctx.socket(nbmq.DEALER)
                self.assertIsInstance(srv, nbmq.asyncio.Socket)
                ep = srv.bind("127.0.0.1:0")
                clients = [ctx.socket(nbmq.DEALER) for _ in range(4)]
                for c in clients:
                    c.connect(ep)

                async def server(n):
                    for _ in range(n):
                        parts, peer = await srv.recv_multipart()
                        await srv.send_multipart([b"re"] + parts, peer=peer)

                async def client(i, c):
                    for k in range(25):
                        await c.send_multipart([b"%d" % i, b"", b"%d" % k])
                        parts, _ = await c.recv_multipart()
                        self.assertEqual(parts,
                                         [b"re", b"%d" % i, b"", b"%d" % k])
                    return i

                task = asyncio.ensure_future(server(100))
                done = await asyncio.gather(*(client(i, c)
                                              for i, c in enumerate(clients)))
                await task
                self.assertEqual(done, [0, 1, 2, 3])
        self.run_async(main())

    def test_recv_send_variants_timeouts_cancel(self):
        async def main():
            with nbmq.asyncio.Context() as ctx:
                srv = ctx.socket(nbmq.DEALER, recv_hwm=20000)
                cli = ctx.socket(nbmq.DEALER)
                cli.connect(srv.bind("127.0.0.1:0"))
                await cli.send(b"one")          # waits for the peer
                data, peer = await srv.recv()
                self.assertEqual(data, b"one")
                await srv.send(b"back", peer=peer)
                buf = bytearray(10)
                self.assertEqual(await cli.recv_into(buf), (4, peer))
                # A cancelled receive leaves the socket usable.
                t = asyncio.ensure_future(srv.recv())
                await asyncio.sleep(0.05)
                t.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await t
                # rcvtimeo applies.
                srv.rcvtimeo = 50
                with self.assertRaises(nbmq.Again):
                    await srv.recv()
                srv.rcvtimeo = -1
                with self.assertRaises(nbmq.Again):
                    await srv.recv(nbmq.DONTWAIT)
                # A burst, batched, and a receiver that takes it in bulk.
                n = await cli.send_many([b"%d" % i for i in range(2000)])
                got = []
                while len(got) < n:
                    got += await srv.recv_many(copy=False)
                self.assertEqual([bytes(m.parts[0]) for m in got],
                                 [b"%d" % i for i in range(2000)])
                self.assertFalse(await srv.poll(10))
                await cli.send(b"p")
                self.assertTrue(await srv.poll(TIMEOUT * 1000))
        self.run_async(main())

    def test_send_waits_at_hwm(self):
        async def main():
            with nbmq.asyncio.Context() as ctx:
                srv = ctx.socket(nbmq.DEALER)
                cli = ctx.socket(nbmq.DEALER, send_hwm=2, max_tick_send=1)
                cli.connect(srv.bind("127.0.0.1:0"))
                big = bytes(1 << 20)
                await cli.send(big)
                await cli.send(big)
                # At send_hwm; the daemon may have taken one off its queue
                # to send it (one frame a tick) by now, and granted one
                # more: Again within two more sends, not one.
                sent = 2
                with self.assertRaises(nbmq.Again):
                    for _ in range(2):
                        await cli.send(big, nbmq.DONTWAIT)
                        sent += 1
                # Awaited, it waits for the daemon's credit, not a thread.
                t0 = time.monotonic()
                await cli.send(big)
                await cli.send_multipart([b"small", b""])
                for _ in range(sent + 1):
                    parts, _ = await srv.recv_multipart(copy=False)
                    self.assertEqual(len(parts[0]), 1 << 20)
                self.assertEqual((await srv.recv_multipart()).parts,
                                 [b"small", b""])
                self.assertLess(time.monotonic() - t0, 20)
        self.run_async(main())

    def test_events_async(self):
        async def main():
            with nbmq.asyncio.Context() as ctx:
                srv = ctx.socket(nbmq.DEALER, events=1)
                ep = srv.bind("127.0.0.1:0")
                cli = ctx.socket(nbmq.DEALER)
                cli.connect(ep)
                ev = await srv.recv()
                self.assertIsInstance(ev, nbmq.Event)
                self.assertEqual(ev.type, nbmq.EventType.UP)
        self.run_async(main())


class Interop(unittest.TestCase):
    """With nbmqcat and a C application (tests/apptool), both ways."""

    def setUp(self):
        self.ctx = nbmq.Context()

    def tearDown(self):
        self.ctx.close(linger=0)

    def test_python_to_nbmqcat_and_back(self):
        # nbmqcat receives what Python sends...
        s = self.ctx.socket(nbmq.DEALER, sndtimeo=int(TIMEOUT * 1000))
        r = subprocess.Popen([ENV["NBMQCAT"], "-b", "127.0.0.1:0",
                              "-r", "-n", "2", "-w", "10"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            # nbmqcat prints its endpoint on stderr ("bound to ...").
            line = r.stderr.readline().decode()
            m = re.search(r"bound to (\S+)", line)
            self.assertIsNotNone(m, line)
            s.connect(m.group(1))
            s.send(b"line one")
            s.send_multipart([b"a", b"b"])
            out, _ = r.communicate(timeout=TIMEOUT)
        finally:
            if r.poll() is None:
                r.kill()
        self.assertEqual(r.returncode, 0)
        self.assertEqual(out.decode().splitlines(), ["line one", "a\tb"])
        # ...and Python receives what nbmqcat sends.
        srv = self.ctx.socket(nbmq.DEALER, rcvtimeo=int(TIMEOUT * 1000))
        ep = srv.bind("127.0.0.1:0")
        p = subprocess.run([ENV["NBMQCAT"], "-q", "-c", ep, "-w", "10"],
                           input=b"from nbmqcat\nsecond\n", timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0)
        self.assertEqual([srv.recv()[0], srv.recv()[0]],
                         [b"from nbmqcat", b"second"])

    def test_c_application_echo_both_ways(self):
        # The C application binds and echoes; Python connects and checks.
        e = subprocess.Popen([ENV["APPTOOL"], "echo", "-b", "127.0.0.1:0",
                              "-n", "3"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            m = None
            while m is None:
                line = e.stderr.readline().decode()
                self.assertTrue(line, "apptool echo said nothing")
                m = re.search(r"bound to (\S+)", line)
            c = self.ctx.socket(nbmq.DEALER, sndtimeo=int(TIMEOUT * 1000),
                                rcvtimeo=int(TIMEOUT * 1000))
            c.connect(m.group(1))
            msgs = [[b"x"], [b"", b"empty first"], [bytes(range(256)) * 40]]
            for parts in msgs:
                c.send_multipart(parts)
                self.assertEqual(c.recv_multipart().parts, parts)
            e.wait(TIMEOUT)
        finally:
            if e.poll() is None:
                e.kill()
        # Python binds and echoes; the C application connects and checks
        # every message byte for byte (apptool ping).
        srv = self.ctx.socket(nbmq.DEALER, rcvtimeo=int(TIMEOUT * 1000))
        ep = srv.bind("127.0.0.1:0")
        ping = subprocess.Popen([ENV["APPTOOL"], "ping", "-c", ep, "-n",
                                 "200", "-W", "16"], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            for _ in range(200):
                parts, peer = srv.recv_multipart(copy=False)
                srv.send_multipart(parts, peer=peer)   # memoryviews back
            out, _ = ping.communicate(timeout=TIMEOUT)
        finally:
            if ping.poll() is None:
                ping.kill()
        self.assertEqual(ping.returncode, 0, out)
        self.assertIn(b"ok", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
