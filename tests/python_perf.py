# SPDX-License-Identifier: ISC
"""The Python side of the binding's figures: tests/pyperf.c in Python.

    python_perf.py [--many|--async] recv ADDR N
    python_perf.py [--many|--async] send ADDR N
    python_perf.py echo ADDR N
    python_perf.py ping ADDR N

sync: send(data, BATCH) / recv() in a loop, as a pyzmq user writes it;
many: send_many() / recv_many(); async: nbmq.asyncio, send(BATCH) and
recv_many().  Output as pyperf's.  Timings are printed, never asserted.
"""
import asyncio
import sys
import time

import nbmq
import nbmq.asyncio


def wait_peer(s: nbmq.Socket) -> None:
    end = time.monotonic() + 10
    while s.peers == 0 and time.monotonic() < end:
        time.sleep(0.001)


def main() -> None:
    args = sys.argv[1:]
    how = "sync"
    if args and args[0] in ("--many", "--async"):
        how = args.pop(0)[2:]
    mode, addr, n = args[0], args[1], int(args[2])
    data = b"x" * 64
    if how == "async" and mode in ("recv", "send"):
        asyncio.run(amain(mode, addr, n, data))
        return
    ctx = nbmq.Context()
    s = ctx.socket(nbmq.DEALER, sndtimeo=10000)
    if mode in ("recv", "echo"):
        s.recv_hwm = 100000
        print("bound to", s.bind(addr), file=sys.stderr, flush=True)
    else:
        s.connect(addr)
    if mode == "recv":
        s.rcvtimeo = 1000
        got, t0, t1 = 0, 0.0, 0.0
        recv = s.recv
        while got < n:
            try:
                if how == "many":
                    if not s.poll(1000):
                        raise nbmq.Again(11)
                    k = len(s.recv_many())
                else:
                    recv()
                    k = 1
            except nbmq.Dropped:
                continue
            except nbmq.Again:
                if got:
                    break
                continue
            if got == 0:
                t0 = time.perf_counter()
                k -= 1
            got += k if got else k + 1
            t1 = time.perf_counter()
        print("recv %d msgs/s %.0f" % (got, (got - 1) / (t1 - t0)
                                        if got > 1 else 0))
    elif mode == "send":
        wait_peer(s)
        t0 = time.perf_counter()
        if how == "many":
            s.send_many([data] * n)
        else:
            send = s.send
            for _ in range(n):
                send(data, nbmq.BATCH)
            s.flush()
        print("send %d msgs/s %.0f" % (n, n / (time.perf_counter() - t0)))
    elif mode == "echo":
        for _ in range(n):
            data, peer = s.recv()
            s.send(data, peer=peer)
    elif mode == "ping":
        s.rcvtimeo = 10000
        rtt = []
        for _ in range(n):
            t = time.perf_counter()
            s.send(data)
            s.recv()
            rtt.append(time.perf_counter() - t)
        rtt.sort()
        print("rtt p50 %.1f p99 %.1f" % (rtt[n // 2] * 1e6,
                                         rtt[n * 99 // 100] * 1e6))
    s.close()
    ctx.close()


async def amain(mode: str, addr: str, n: int, data: bytes) -> None:
    with nbmq.asyncio.Context() as ctx:
        s = ctx.socket(nbmq.DEALER)
        if mode == "send":
            s.connect(addr)
            wait_peer(s)
            t0 = time.perf_counter()
            for _ in range(n):
                await s.send(data, nbmq.BATCH)
            await s.flush()
            print("send %d msgs/s %.0f" % (n, n / (time.perf_counter() - t0)))
            return
        s.recv_hwm = 100000
        print("bound to", s.bind(addr), file=sys.stderr, flush=True)
        got, t0, t1 = 0, 0.0, 0.0
        while got < n:
            try:
                k = len(await asyncio.wait_for(s.recv_many(), 1.0))
            except nbmq.Dropped:
                continue
            except asyncio.TimeoutError:
                if got:
                    break
                continue
            if got == 0:
                t0 = time.perf_counter()
                got = 1
                k -= 1
            got += k
            t1 = time.perf_counter()
        print("recv %d msgs/s %.0f" % (got, (got - 1) / (t1 - t0)
                                        if got > 1 else 0))


if __name__ == "__main__":
    main()
