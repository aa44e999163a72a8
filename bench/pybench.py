# SPDX-License-Identifier: ISC
"""make bench's Python cases: the binding beside pyzmq, in the same run.

    pybench.py --nbmqd PATH --lib PATH --cperf PATH [--rounds N] [-n N]
               [--json-file FILE]

One nbmqd with a private IPC socket; for each round, interleaved:
  pynbmq64   64-byte messages per second, one Python process sending
             (send(BATCH) in a loop, then flush) to another (recv in a
             loop), both on that daemon, through a UDP session on loopback
  pyzmq64    the same with pyzmq DEALER over tcp on loopback (send, recv)
  c64        the same with the C library (tests/pyperf.c), for reference
  pynbmqpp   blocking round trips (send, recv) to an echoing process,
  pyzmqpp    p50 and p99, for the binding, pyzmq and C (cpp)
  cpp
Medians over the rounds are printed with the ratios the issue sets
targets for: pynbmq64 / pyzmq64 (at least 1), pynbmqpp / cpp (at most
1.2 at p50).  The sender and receiver of each case are the same Python
code (tests/python_perf.py for nbmq, zmq_side() below for pyzmq), so the
ratio is the libraries'.  Timings are printed, never asserted.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PERF = os.path.join(TOP, "tests", "python_perf.py")


def zmq_side(mode: str, addr: str, n: int) -> None:
    """pyzmq's half of a case, as python_perf.py's is nbmq's."""
    import zmq

    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 1000)
    data = b"x" * 64
    if mode in ("recv", "echo"):
        s.setsockopt(zmq.RCVHWM, 100000)
        port = s.bind_to_random_port("tcp://127.0.0.1")
        print("bound to tcp://127.0.0.1:%d" % port, file=sys.stderr,
              flush=True)
    else:
        s.setsockopt(zmq.SNDHWM, 100000)
        s.connect(addr)
    if mode == "recv":
        recv = s.recv
        recv()
        t0 = time.perf_counter()
        for _ in range(n - 1):
            recv()
        t1 = time.perf_counter()
        print("recv %d msgs/s %.0f" % (n, (n - 1) / (t1 - t0)))
    elif mode == "send":
        send = s.send
        t0 = time.perf_counter()
        for _ in range(n):
            send(data)
        print("send %d msgs/s %.0f" % (n, n / (time.perf_counter() - t0)))
    elif mode == "echo":
        for _ in range(n):
            s.send(s.recv())
    elif mode == "ping":
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
    ctx.term()


def bound(proc: subprocess.Popen) -> str:
    """The endpoint a receiver or echo process printed on stderr."""
    deadline = time.monotonic() + 10
    line = proc.stderr.readline()
    while not line.startswith("bound to ") and time.monotonic() < deadline:
        if not line:
            raise RuntimeError("no endpoint: exited %s" % proc.wait())
        line = proc.stderr.readline()
    return line.split()[2]


def pair(cmd: list, n: int, env: dict) -> float:
    """Messages per second seen by the receiver of cmd recv | cmd send."""
    r = subprocess.Popen(cmd + ["recv", "127.0.0.1:0", str(n)], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    ep = bound(r)
    subprocess.run(cmd + ["send", ep, str(n)], env=env, check=True,
                   stdout=subprocess.DEVNULL, timeout=120)
    out, _ = r.communicate(timeout=120)
    return float(out.split()[-1])


def pingpong(cmd: list, n: int, env: dict) -> tuple:
    """p50 and p99 of n round trips, in microseconds."""
    e = subprocess.Popen(cmd + ["echo", "127.0.0.1:0", str(n)], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    ep = bound(e)
    out = subprocess.run(cmd + ["ping", ep, str(n)], env=env, check=True,
                         capture_output=True, text=True, timeout=120).stdout
    e.wait(timeout=30)
    f = out.split()
    return float(f[2]), float(f[4])


def start_daemon(nbmqd: str, d: str) -> subprocess.Popen:
    conf = os.path.join(d, "bench.conf")
    sock = os.path.join(d, "bench.sock")
    with open(conf, "w") as f:
        f.write("[daemon]\nipc_path = %s\n" % sock)
    p = subprocess.Popen([nbmqd, "-c", conf, "-S", sock],
                         stderr=open(os.path.join(d, "nbmqd.log"), "w"))
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("nbmqd did not start (%s/nbmqd.log)" % d)
        time.sleep(0.01)
    return p


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--nbmqd", required=True)
    ap.add_argument("--lib", required=True)
    ap.add_argument("--cperf", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("-n", type=int, default=200000)
    ap.add_argument("--pp", type=int, default=5000)
    ap.add_argument("--json-file")
    ap.add_argument("--zmq-side", nargs=3, metavar=("MODE", "ADDR", "N"),
                    help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.zmq_side:
        zmq_side(a.zmq_side[0], a.zmq_side[1], int(a.zmq_side[2]))
        return 0
    try:
        import zmq  # noqa: F401
    except ImportError:
        print("pybench: no pyzmq (python3-zmq: make bench-deps)",
              file=sys.stderr)
        return 1
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="nbmq-pybench.") as d:
        daemon = start_daemon(a.nbmqd, d)
        env = dict(os.environ, NBMQ_SOCKET=os.path.join(d, "bench.sock"),
                   NBMQ_LIBRARY=a.lib, PYTHONDONTWRITEBYTECODE="1",
                   PYTHONPATH=os.path.join(TOP, "client-lib", "python"))
        nb = [py, PERF]
        zq = [py, os.path.abspath(__file__), "--nbmqd", "-", "--lib", "-",
              "--cperf", "-", "--zmq-side"]
        c = [a.cperf]
        rows = {}
        try:
            for _ in range(a.rounds):
                for k, cmd in (("c64", c), ("pynbmq64", nb),
                               ("pyzmq64", zq)):
                    rows.setdefault(k, []).append(pair(cmd, a.n, env))
                for k, cmd in (("cpp", c), ("pynbmqpp", nb),
                               ("pyzmqpp", zq)):
                    rows.setdefault(k, []).append(
                        pingpong(cmd, a.pp, env))
        finally:
            daemon.terminate()
            daemon.wait()
    med = {}
    for k, v in rows.items():
        if isinstance(v[0], tuple):
            med[k] = tuple(statistics.median(x) for x in zip(*v))
        else:
            med[k] = statistics.median(v)
    print("\nPython, 64 B, medians of %d rounds (same run):" % a.rounds)
    print("  %-10s %10.0f msgs/s  %.2fx pyzmq DEALER tcp (target >= 1)"
          % ("pynbmq64", med["pynbmq64"], med["pynbmq64"] / med["pyzmq64"]))
    print("  %-10s %10.0f msgs/s" % ("pyzmq64", med["pyzmq64"]))
    print("  %-10s %10.0f msgs/s  (the C library, same path)"
          % ("c64", med["c64"]))
    for k in ("pynbmqpp", "pyzmqpp", "cpp"):
        p50, p99 = med[k]
        extra = ""
        if k == "pynbmqpp":
            extra = "  p50 %.2fx C (target <= 1.2), %.2fx pyzmq" % (
                p50 / med["cpp"][0], p50 / med["pyzmqpp"][0])
        print("  %-10s p50 %7.1f us  p99 %7.1f us%s" % (k, p50, p99, extra))
    if a.json_file:
        with open(a.json_file, "w") as f:
            json.dump({"rounds": a.rounds, "medians": med}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
