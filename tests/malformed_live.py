#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""malformed_live.py HOST:PORT NBMQCTL IPC SOCKET: every validation rule of
PROTOCOL.md 1 fired on a live session (tests/int_compat.sh).

A v0.2.0 peer (tests/peer_v020.py's codec) connects to nbmqd's bound socket
SOCKET at HOST:PORT and learns its session id.  It sends the first frames of
a good message, then, one at a time, a malformed frame of that session
(most of them of that very message), and after each asks nbmqctl for the
socket's drops: exactly one more drop, under the reason named for the rule.
Then the rest of the good message: the application receives it byte-exact
(printed by the test's nbmqcat), so no malformed frame touched reassembly,
and the session is still up (one session, no Disconnected).

Exit 0 when every rule held, 1 with one line per rule that did not.
"""

import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_v020 as v  # noqa: E402

DEADLINE = 5.0


def drops(ctl, ipc, name):
    out = subprocess.run([ctl, "-S", ipc, "--json", "sockets"], check=True,
                         capture_output=True, text=True).stdout
    s = [x for x in json.loads(out)["sockets"] if x["name"] == name][0]
    return s["drops"], s["peers"]


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    host, port = sys.argv[1].rsplit(":", 1)
    ctl, ipc, name = sys.argv[2:5]
    to = (host, int(port))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.settimeout(DEADLINE)
    u.sendto(v.encode_connect(0), to)
    while True:                     # Connected; a Hello may come too
        b, _ = u.recvfrom(2048)
        if len(b) >= 10 and b[1] == v.KIND_CONNECTED:
            sid = int.from_bytes(b[2:10], "big")
            break
    u.sendto(v.encode_heartbeat(sid), to)  # confirms the session

    good = [b"m5", bytes(range(256)) * 4, b"", b"tail" * 3]
    mid = 4242
    frames = v.chunk_message(sid, mid, good)
    msize = sum(map(len, good))

    def bad(**kw):
        d = dict(session_id=sid, message_id=mid, part_count=4, part_index=1,
                 message_size=msize, part_size=1024, chunk_offset=466,
                 data=b"\0" * 466, chunk_size=None)
        d.update(kw)
        return v.encode_data_frame(**d)

    hb = v.encode_heartbeat(sid)
    cases = [
        ("short datagram (9 bytes)", hb[:9], "short"),
        ("version 0x02", b"\x02" + hb[1:], "bad_version"),
        ("version 0x00 on data", bad(version=0), "bad_version"),
        ("data shorter than its 34-byte header", bad()[:33], "short"),
        ("data truncated", bad()[:-1], "bad_length"),
        ("data with a trailing byte", bad() + b"\0", "bad_length"),
        ("chunk_size beyond the data", bad(chunk_size=467), "bad_length"),
        ("part_count 0", bad(part_count=0, part_index=0), "bad_part_index"),
        ("part_index == part_count", bad(part_index=4), "bad_part_index"),
        ("chunk past its part", bad(chunk_offset=600), "bad_chunk_range"),
        ("chunk_offset 2^32-1", bad(chunk_offset=0xFFFFFFFF, data=b"\0"),
         "bad_chunk_range"),
        ("part_size > message_size",
         bad(part_size=msize + 1, chunk_offset=0, data=b"\0"),
         "bad_part_size"),
        ("message_size > max_message_size",
         bad(message_id=7, message_size=(1 << 20) + 1, chunk_offset=0,
             data=b"\0"), "oversize"),
        ("part_count disagrees", bad(part_count=5), "inconsistent"),
        ("message_size disagrees", bad(message_size=msize + 1),
         "inconsistent"),
        ("part sizes past message_size",
         bad(part_index=3, part_size=msize - 2 - 1024 + 1, chunk_offset=0,
             data=b"\0"), "bad_part_sum"),
        ("unknown control kind 0x40", v.encode_control(0x40, sid),
         "unknown_kind"),
        ("encrypted kind on a plain socket",
         v.encode_control(0x80 | v.KIND_DATA, sid, b"\0" * 40), "encrypted"),
    ]
    failed = 0
    # The first two frames of the good message: the malformed ones below
    # would corrupt it if they were let in.
    for f in frames[:2]:
        u.sendto(f, to)
    base, _ = drops(ctl, ipc, name)
    for what, raw, want in cases:
        u.sendto(raw, to)
        end = time.monotonic() + DEADLINE
        while True:
            now, _ = drops(ctl, ipc, name)
            rose = {k: now[k] - base.get(k, 0) for k in now
                    if now[k] != base.get(k, 0)}
            if rose or time.monotonic() > end:
                break
            time.sleep(0.01)
        if rose != {want: 1}:
            print("%s: drops rose by %r, want {%r: 1}" % (what, rose, want))
            failed += 1
        base = now
    for f in frames[2:]:
        u.sendto(f, to)
    _, peers = drops(ctl, ipc, name)
    if peers != 1:
        print("after the malformed frames: %d sessions, want 1" % peers)
        failed += 1
    u.settimeout(0.2)
    try:
        while True:
            b, _ = u.recvfrom(2048)
            if len(b) >= 2 and b[1] == v.KIND_DISCONNECTED:
                print("the daemon sent Disconnected")
                failed += 1
    except socket.timeout:
        pass
    if failed:
        return 1
    print("%d rules, each counted under its reason, session alive"
          % len(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
