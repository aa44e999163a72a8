#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""An asyncio server: answers reqrep.py's requests, many clients at once.

    asyncio_server.py serve [ADDR] [-n N]   bind (default 127.0.0.1:0) and
                                            answer N requests (0: forever)
    asyncio_server.py demo [-c CLIENTS]     the server and CLIENTS asyncio
                                            clients in one event loop

Each request is handled in its own task; the socket waits in the event
loop (its fd with loop.add_reader), never in a thread.  Peer events show
clients coming and going.
"""
import argparse
import asyncio

import nbmq
import nbmq.asyncio


async def handle(srv: nbmq.asyncio.Socket, parts: list, peer: int) -> None:
    await asyncio.sleep(0.001)                 # some asynchronous work
    await srv.send_multipart([b"pong"] + parts[1:], peer=peer)


async def serve(srv: nbmq.asyncio.Socket, n: int) -> None:
    srv.events = True
    served = 0
    tasks = set()
    while n == 0 or served < n:
        m = await srv.recv_multipart()
        if isinstance(m, nbmq.Event):
            print("peer %016x %s %s" % (m.peer, m.name, m.addr), flush=True)
            continue
        parts, peer = m
        if parts[:1] != [b"ping"]:
            continue
        t = asyncio.ensure_future(handle(srv, parts, peer))
        tasks.add(t)
        t.add_done_callback(tasks.discard)
        served += 1
    await asyncio.gather(*tasks)
    print("served", served, flush=True)


async def client(ctx: nbmq.asyncio.Context, addr: str, i: int, n: int) -> int:
    with ctx.socket(nbmq.DEALER) as cli:
        cli.connect(addr)
        for k in range(n):
            await cli.send_multipart([b"ping", b"%d.%d" % (i, k)])
            parts, _ = await asyncio.wait_for(cli.recv_multipart(), 5)
            assert parts == [b"pong", b"%d.%d" % (i, k)], parts
    return n


async def main(role: str, addr: str, n: int, clients: int) -> None:
    with nbmq.asyncio.Context() as ctx:
        srv = ctx.socket(nbmq.DEALER)
        ep = srv.bind(addr)
        print("bound to", ep, flush=True)
        if role == "serve":
            await serve(srv, n)
            return
        per = 20
        server = asyncio.ensure_future(serve(srv, clients * per))
        done = await asyncio.gather(*(client(ctx, ep, i, per)
                                      for i in range(clients)))
        await server
        print("demo: %d clients, %d replies" % (clients, sum(done)))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("role", choices=["serve", "demo"])
    ap.add_argument("addr", nargs="?", default="127.0.0.1:0")
    ap.add_argument("-n", type=int, default=0)
    ap.add_argument("-c", "--clients", type=int, default=3)
    a = ap.parse_args()
    asyncio.run(main(a.role, a.addr, a.n, a.clients))
