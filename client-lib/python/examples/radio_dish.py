#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""One to many: a radio sends each message to every dish connected.

    radio_dish.py radio [ADDR] [-n N] [-d DISHES]
        bind (default 127.0.0.1:0), wait until DISHES dishes (default 2)
        are up, send each of them N messages (default 5)
    radio_dish.py dish ADDR [-n N]
        connect to the radio, print N messages

Radio/dish is fire and forget; a dish that falls behind loses what is past
its recv_hwm and is told once (nbmq.Dropped), without slowing the others.
"""
import argparse

import nbmq


def radio(addr: str, n: int, dishes: int) -> None:
    with nbmq.Context() as ctx, ctx.socket(nbmq.RADIO) as r:
        r.events = True          # peer events tell when the dishes are up
        print("bound to", r.bind(addr), flush=True)
        up = set()
        while len(up) < dishes:
            ev = r.recv()        # a radio receives events only
            if ev.type == nbmq.EventType.UP:
                up.add(ev.peer)
            elif ev.type == nbmq.EventType.DOWN:
                up.discard(ev.peer)
        for i in range(n):
            r.send(b"news %d" % i, nbmq.BATCH)   # one syscall per burst
        r.flush()
        print("radio: %d messages to %d dishes" % (n, len(up)))


def dish(addr: str, n: int) -> None:
    with nbmq.Context() as ctx, ctx.socket(nbmq.DISH) as d:
        d.connect(addr)
        got = 0
        while got < n:
            try:
                data, _ = d.recv()
            except nbmq.Dropped:
                print("(messages were dropped)")
                continue
            print(data.decode(), flush=True)
            got += 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("role", choices=["radio", "dish"])
    ap.add_argument("addr", nargs="?", default="127.0.0.1:0")
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("-d", "--dishes", type=int, default=2)
    a = ap.parse_args()
    if a.role == "radio":
        radio(a.addr, a.n, a.dishes)
    else:
        dish(a.addr, a.n)
