#!/usr/bin/python3
# SPDX-License-Identifier: ISC
"""notify_listen.py SOCKET OUT: play systemd's side of sd_notify(3).

Binds a Unix datagram socket at SOCKET (a path, or @name for the abstract
namespace) and appends every line of every datagram it receives to OUT,
one datagram after another, each followed by a line "--".  Runs until
killed.  Used by tests/int_service.sh as NOTIFY_SOCKET.
"""
import os
import socket
import sys


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: notify_listen.py SOCKET OUT\n")
        return 2
    path, out = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    addr = "\0" + path[1:] if path.startswith("@") else path
    if not path.startswith("@") and os.path.exists(path):
        os.unlink(path)
    s.bind(addr)
    with open(out, "a", buffering=1) as f:
        f.write("listening\n")
        while True:
            data = s.recv(65536)
            text = data.decode("utf-8", "replace")
            for line in text.split("\n"):
                if line:
                    f.write(line + "\n")
            f.write("--\n")


if __name__ == "__main__":
    sys.exit(main())
