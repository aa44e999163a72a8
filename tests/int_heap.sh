#!/bin/sh
# SPDX-License-Identifier: ISC
# The daemon gives memory back once traffic stops (daemon.c, heap_idle_cb).
#
# free() never trims nbmqd's heap (main.c: trimming from free() made a
# 1 MiB stream fault its working set back in, zeroed, over and over), so
# the heap goes back to the kernel only when nothing has moved for 2 s.
# Here 48 messages of 1 MiB wait in a socket whose application never
# reads; the application is killed, its messages are freed, and within a
# few seconds of quiet the daemon's RSS must fall back near where it was,
# and the heap in use (nbmqctl stats) with it.
. "$(dirname "$0")/lib.sh"

FLOOD=$BIN/tests/floodtool
CTL=$BIN/nbmqctl
N=48

case "$O:${VALGRIND:-0}" in
*asan*|*:1)
	# ASan's and valgrind's allocators are their own: malloc_trim and
	# the RSS say nothing of nbmqd's there.
	skip "the allocator is not glibc's under $O"
	exit 0 ;;
esac

cat >"$T/a.conf" <<EOF
[daemon]
EOF
start_daemon a "$T/a.conf"
export NBMQ_SOCKET=$T/a.sock
DPID=$PID_a

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$DPID/status"; }
"$FLOOD" noread -b 127.0.0.1:0 -H $((N + 16)) 2>"$T/noread.log" &
NR=$!
PIDS="$PIDS $NR"
wait_for 10 grep -q "bound to" "$T/noread.log" || fail "noread did not bind"
NEP=$(sed -n 's/.*bound to \([^ ]*\)$/\1/p' "$T/noread.log")
# held: messages waiting for the application or written to it, unconfirmed
held() {
	"$CTL" -S "$T/a.sock" --json sockets | /usr/bin/python3 -c \
	    'import json,sys; print(sum(s["rq"] + s["held"] for s in json.load(sys.stdin)["sockets"]))'
}
# A first message sets up what every daemon that has read once keeps (the
# receive buffers, 4 MiB): the baseline is after it.
out=$("$FLOOD" send -c "$NEP" -n 1 -z 1000) || fail "send: $out"
held_ge() { [ "$(held)" -ge "$1" ]; }
rss_lt() { [ "$(rss_kb)" -lt "$1" ]; }
wait_for 10 held_ge 1 ||
    fail "the first message was not held"
RSS0=$(rss_kb) HEAP0=$(heap_kib "$T/a.sock")
[ -n "$RSS0" ] && [ "${HEAP0:-0}" -gt 0 ] || fail "no RSS or heap: '$RSS0' '$HEAP0'"

out=$("$FLOOD" send -c "$NEP" -n $N -z 1048576 -e) || fail "send: $out"
wait_for 10 held_ge $((N + 1)) ||
    fail "$(held) of $N messages held for the application ($out)"
RSS1=$(rss_kb) HEAP1=$(heap_kib "$T/a.sock")
[ $((RSS1 - RSS0)) -ge $((N * 1024)) ] ||
    fail "RSS +$((RSS1 - RSS0)) kB with $N MiB held: the case measures nothing"

kill "$NR"
wait "$NR" 2>/dev/null
wait_for 10 grep -q "socket #.*: destroyed" "$T/a.log" ||
    fail "the socket of the killed application was not freed"
HEAP2=$(heap_kib "$T/a.sock")
[ $((HEAP2 - HEAP0)) -lt 1024 ] ||
    fail "heap in use $HEAP0 -> $HEAP1 -> $HEAP2 KiB: the messages were not freed"
t0=$(date +%s%N)
wait_for 10 rss_lt $((RSS0 + 8192)) ||
    fail "RSS $RSS0 -> $RSS1 -> $(rss_kb) kB 10 s after the $N MiB were freed: the heap was not given back"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "$N MiB held, then freed: RSS $RSS0 -> $RSS1 -> $(rss_kb) kB within $ms ms of quiet (heap in use $HEAP0 -> $HEAP1 -> $HEAP2 KiB)"
