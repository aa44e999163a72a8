#!/bin/sh
# SPDX-License-Identifier: ISC
# nbmq-test: serial (Python's rate and round trip as ratios of C's)
# The Python binding (client-lib/python, issue 19) against a real daemon:
# tests/python_binding.py (unittest: every call of the API, errnos as
# exceptions, options, events, EAGAIN at send_hwm, zero copy, selectors,
# asyncio with several sockets, a killed daemon, interop with nbmqcat and a
# C application both ways), then the examples of client-lib/python/examples
# as a user runs them.  PYTHON picks the interpreter (default python3).
. "$(dirname "$0")/lib.sh"

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null; then
	have "$PY" python3 || exit 0
fi
STUN_PORT=$(free_udp_port)
cat >"$T/a.conf" <<CONF
[socket news]
type = dish
bind = 127.0.0.1:0

[socket out]
type = dealer
bind = 127.0.0.1:0

[socket rendezvous]
type = stun
bind = 127.0.0.1:$STUN_PORT
stun_allow = 127.0.0.0/8

[socket bob]
type = dealer
bind = 127.0.0.1:0
name = bob
stun_server = 127.0.0.1:$STUN_PORT
stun_refresh_ivl = 1
CONF
start_daemon a "$T/a.conf"
NEWS_EP=$(sed -n 's/.*socket news: bound to //p' "$T/a.log")
[ -n "$NEWS_EP" ] || fail "no endpoint for socket news"

export NBMQ_SOCKET="$T/a.sock" NBMQ_LIBRARY="$BIN/libnbmq.so.0"
export PYTHONPATH="$TOP/client-lib/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
# Each wait of the test module, longer with the daemon under valgrind.
PY_TEST_TIMEOUT=10
[ "${VALGRIND:-0}" = 1 ] && PY_TEST_TIMEOUT=30
export PY_TEST_TIMEOUT
# A library built with ASan (make check-asan-all) loads into Python only
# after the ASan runtime; Python's own allocations are not ours to judge.
if ldd "$BIN/libnbmq.so.0" 2>/dev/null | grep -q libasan; then
	LD_PRELOAD=$(${CC:-cc} -print-file-name=libasan.so)
	export LD_PRELOAD ASAN_OPTIONS="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
fi
export NBMQD NBMQCAT APPTOOL NBMQ_H="$TOP/client-lib/nbmq.h" NEWS_EP \
    STUN_EP="127.0.0.1:$STUN_PORT" TESTDIR="$T"

# bob is registered once the stun socket has its name.
wait_for 10 "$BIN/nbmqctl" -S "$T/a.sock" index rendezvous \
    >/dev/null || fail "nbmqctl index"
wait_for 10 sh -c "'$BIN/nbmqctl' -S '$T/a.sock' index rendezvous |
    grep -q bob" || fail "bob never registered at the stun socket"

# pytest runs them (make deps installs Debian's, for /usr/bin/python3);
# unittest's own runner where no Python here has pytest.
TPY=$PY
"$TPY" -m pytest --version >/dev/null 2>&1 || TPY=/usr/bin/python3
if "$TPY" -m pytest --version >/dev/null 2>&1; then
	(cd "$TOP/tests" && "$TPY" -m pytest -q -p no:cacheprovider \
	    python_binding.py) >"$T/unittest.out" 2>&1 </dev/null || {
		cd "$TOP" && tail -n 80 "$T/unittest.out"; fail "python_binding"; }
	ok "python binding, pytest ($("$TPY" --version 2>&1)):" \
	    "$(tail -n 1 "$T/unittest.out")"
	# Again on ctypes alone: the path of a binding without its C part.
	(cd "$TOP/tests" && NBMQ_PY_SPEEDUPS=0 "$TPY" -m pytest -q \
	    -p no:cacheprovider python_binding.py) >"$T/unittest0.out" 2>&1 \
	    </dev/null || {
		cd "$TOP" && tail -n 80 "$T/unittest0.out"
		fail "python_binding on ctypes alone"; }
	ok "python binding on ctypes alone (NBMQ_PY_SPEEDUPS=0):" \
	    "$(tail -n 1 "$T/unittest0.out")"
else
	(cd "$TOP/tests" && "$PY" -m unittest -v python_binding) \
	    >"$T/unittest.out" 2>&1 </dev/null || {
		cd "$TOP" && tail -n 80 "$T/unittest.out"; fail "python_binding"; }
	ok "python binding, unittest ($("$PY" --version 2>&1)):" \
	    "$(tail -n 3 "$T/unittest.out" | grep -E '^(OK|Ran)' | tr '\n' ' ')"
fi

# The examples, as a user runs them.
EX=$TOP/client-lib/python/examples
"$PY" "$EX/reqrep.py" server -n 10 >"$T/rr-srv.out" 2>&1 &
RR=$!
PIDS="$PIDS $RR"
wait_for 30 grep -q "bound to" "$T/rr-srv.out" || fail "reqrep server: $(cat "$T/rr-srv.out")"
EP=$(sed -n 's/^bound to //p' "$T/rr-srv.out")
out=$("$PY" "$EX/reqrep.py" client "$EP" -n 10 2>&1) || fail "reqrep client: $out"
wait "$RR" || fail "reqrep server: $(cat "$T/rr-srv.out")"
grep -q "^served 10$" "$T/rr-srv.out" || fail "reqrep server: $(cat "$T/rr-srv.out")"
ok "examples/reqrep.py: $out"

"$PY" "$EX/radio_dish.py" radio -n 5 -d 2 >"$T/radio.out" 2>&1 &
RADIO=$!
PIDS="$PIDS $RADIO"
wait_for 30 grep -q "bound to" "$T/radio.out" || fail "radio: $(cat "$T/radio.out")"
EP=$(sed -n 's/^bound to //p' "$T/radio.out")
for i in 1 2; do
	"$PY" "$EX/radio_dish.py" dish "$EP" -n 5 >"$T/dish$i.out" 2>&1 &
	eval "DISH$i=\$!"
	PIDS="$PIDS $!"
done
wait "$RADIO" || fail "radio: $(cat "$T/radio.out")"
for i in 1 2; do
	eval "wait \$DISH$i" || fail "dish $i: $(cat "$T/dish$i.out")"
	[ "$(grep -c '^news [0-4]$' "$T/dish$i.out")" = 5 ] ||
	    fail "dish $i: $(cat "$T/dish$i.out")"
done
out=$(tail -n 1 "$T/radio.out")
ok "examples/radio_dish.py: $out, each got news 0..4"

out=$("$PY" "$EX/asyncio_server.py" demo -c 4 2>&1) || fail "asyncio demo: $out"
echo "$out" | grep -q "^demo: 4 clients, 80 replies$" || fail "asyncio demo: $out"
# The asyncio server against the blocking client, twice at once.
"$PY" "$EX/asyncio_server.py" serve -n 20 >"$T/as.out" 2>&1 &
AS=$!
PIDS="$PIDS $AS"
wait_for 30 grep -q "bound to" "$T/as.out" || fail "asyncio server: $(cat "$T/as.out")"
EP=$(sed -n 's/^bound to //p' "$T/as.out")
"$PY" "$EX/reqrep.py" client "$EP" -n 10 >"$T/c1.out" 2>&1 &
C1=$!
out=$("$PY" "$EX/reqrep.py" client "$EP" -n 10 2>&1) || fail "client 2: $out"
wait "$C1" || fail "client 1: $(cat "$T/c1.out")"
wait "$AS" || fail "asyncio server: $(cat "$T/as.out")"
grep -q "^served 20$" "$T/as.out" || fail "asyncio server: $(cat "$T/as.out")"
grep -q " up " "$T/as.out" || fail "asyncio server saw no peer event: $(cat "$T/as.out")"
ok "examples/asyncio_server.py: demo with 4 clients; serve for 2 reqrep clients"

# The README's Python section: each of its python blocks runs as written.
awk '/^## Python$/ { on = 1; next } on && /^## / { on = 0 }
    on && /^```python$/ { n++; f = sprintf("'"$T"'/readme%d.py", n); inb = 1; next }
    inb && /^```$/ { inb = 0; close(f); next }
    inb { print > f }' "$TOP/README.md"
[ -f "$T/readme1.py" ] && [ -f "$T/readme2.py" ] ||
    fail "README: no python blocks in the Python section"
out=$("$PY" "$T/readme1.py" 2>&1) || fail "README example 1: $out"
[ "$out" = "[b'greeting', b'hello, world'] b'pong'" ] ||
    fail "README example 1 printed: $out"
out=$("$PY" "$T/readme2.py" 2>&1) || fail "README example 2: $out"
echo "$out" | grep -q "^Message(parts=\[b're:', b'ping', b''\], peer=[0-9]*)$" ||
    fail "README example 2 printed: $out"
ok "README: the Python section's two examples print what it says"

# Figures, never asserted: 64-byte messages per second from a sender to a
# receiver through the daemon, and blocking round trips, for the C library
# (tests/pyperf.c) and the binding (tests/python_perf.py), interleaved in
# this run.  PYPERF_ROUNDS=3 for the README's medians; PYPERF_ROUNDS=0
# skips them.
ROUNDS=${PYPERF_ROUNDS:-1}
[ "${VALGRIND:-0}" = 1 ] && ROUNDS=0	# figures under valgrind mean nothing
PN=${PYPERF_N:-100000}
if [ "$ROUNDS" -gt 0 ] && command -v "${CC:-cc}" >/dev/null; then
	"${CC:-cc}" -O2 -Wall -I"$TOP/client-lib" "$TOP/tests/pyperf.c" \
	    "$BIN/libnbmq.so.0" -Wl,-rpath,"$BIN" -o "$T/pyperf" ||
	    fail "cannot build tests/pyperf.c"
	CPERF=$T/pyperf
	PPERF="$PY $TOP/tests/python_perf.py"
	# perf_pair NAME RECV SEND: the receiver's msgs/s
	perf_pair() {
		: >"$T/pr.err"
		$2 recv 127.0.0.1:0 "$PN" >"$T/pr.out" 2>"$T/pr.err" &
		_r=$!
		wait_for 10 grep -q "bound to" "$T/pr.err" || fail "$1: $(cat "$T/pr.err")"
		_ep=$(sed -n 's/^bound to //p' "$T/pr.err")
		$3 send "$_ep" "$PN" >/dev/null || fail "$1 sender"
		wait "$_r" || fail "$1 receiver: $(cat "$T/pr.out" "$T/pr.err")"
		echo "$1 $(sed -n 's/^recv [0-9]* msgs\/s //p' "$T/pr.out") $(cut -d ' ' -f 2 "$T/pr.out")" >>"$T/perf.txt"
	}
	perf_rtt() {
		: >"$T/pr.err"
		$2 echo 127.0.0.1:0 2000 >/dev/null 2>"$T/pr.err" &
		_r=$!
		wait_for 10 grep -q "bound to" "$T/pr.err" || fail "$1: $(cat "$T/pr.err")"
		_ep=$(sed -n 's/^bound to //p' "$T/pr.err")
		_o=$($3 ping "$_ep" 2000) || fail "$1 ping"
		wait "$_r" || fail "$1 echo"
		echo "$1 $(echo "$_o" | cut -d ' ' -f 3,5)" >>"$T/perf.txt"
	}
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		perf_pair c "$CPERF" "$CPERF"
		perf_pair py-sync "$PPERF" "$PPERF"
		perf_pair py-many "$PPERF --many" "$PPERF --many"
		perf_pair py-async "$PPERF --async" "$PPERF --async"
		perf_pair c-to-py "$PPERF" "$CPERF"
		perf_pair py-to-c "$CPERF" "$PPERF"
		perf_rtt rtt-c "$CPERF" "$CPERF"
		perf_rtt rtt-py "$PPERF" "$PPERF"
		r=$((r + 1))
	done
	# The median of each over the rounds, and Python's as a ratio of C's.
	"$PY" - "$T/perf.txt" <<'PYEOF'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    f = line.split()
    rows.setdefault(f[0], []).append([float(x) for x in f[1:]])
med = {k: [statistics.median(c) for c in zip(*v)] for k, v in rows.items()}
c = med["c"][0]
for k in ("c", "py-sync", "py-many", "py-async", "c-to-py", "py-to-c"):
    print("perf %-9s %9.0f msgs/s  %.2fx C" % (k, med[k][0], med[k][0] / c))
rc = med["rtt-c"]
rp = med["rtt-py"]
print("perf rtt C p50 %.1f us p99 %.1f us; Python p50 %.1f us (%.2fx) "
      "p99 %.1f us (%.2fx)" % (rc[0], rc[1], rp[0], rp[0] / rc[0],
                               rp[1], rp[1] / rc[1]))
PYEOF
fi
