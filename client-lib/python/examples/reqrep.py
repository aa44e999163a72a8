#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Request/reply over a dealer pair.

    reqrep.py server [ADDR] [-n N]   bind (default 127.0.0.1:0), answer N
                                     requests (default: forever)
    reqrep.py client ADDR [-n N]     send N requests, check each reply

The server answers whoever asked by passing the request's peer id back.
The daemon is $NBMQ_SOCKET, else /run/nbmq/nbmqd.sock.
"""
import argparse
import sys

import nbmq


def server(addr: str, n: int) -> None:
    with nbmq.Context() as ctx, ctx.socket(nbmq.DEALER) as srv:
        print("bound to", srv.bind(addr), flush=True)
        served = 0
        while n == 0 or served < n:
            parts, peer = srv.recv_multipart()
            if parts[:1] != [b"ping"]:
                continue
            srv.send_multipart([b"pong"] + parts[1:], peer=peer)
            served += 1
        print("served", served)


def client(addr: str, n: int) -> None:
    with nbmq.Context() as ctx:
        # Block up to 5 s for a peer (or room), and for each reply.
        cli = ctx.socket(nbmq.DEALER, sndtimeo=5000, rcvtimeo=5000)
        cli.connect(addr)
        for i in range(n):
            cli.send_multipart([b"ping", b"%d" % i])
            try:
                parts, _ = cli.recv_multipart()
            except nbmq.Again:
                sys.exit("no reply to request %d within 5 s" % i)
            assert parts == [b"pong", b"%d" % i], parts
        print("client: %d replies" % n)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("addr", nargs="?", default="127.0.0.1:0")
    ap.add_argument("-n", type=int, default=None)
    a = ap.parse_args()
    if a.role == "server":
        server(a.addr, a.n or 0)
    else:
        client(a.addr, a.n or 10)
