#!/bin/sh
# SPDX-License-Identifier: ISC
# nbmq-test: serial (RSS growth per byte of a flood)
# Memory follows the bytes received (issue 15, finding 1): one session
# sends 64 messages, each claiming 16 MiB, as 4,096 one-byte chunks 4 KiB
# apart, interleaved so that none completes: 262,144 frames of 35 bytes
# (9.2 MB).  Before, the first frame of each message allocated its whole
# claim and the chunks touched every page: +906 MiB RSS for such a flood.
# Now the daemon's RSS may grow by about what the frames carried (the
# test allows 4x, for the allocator), and it still answers.
. "$(dirname "$0")/lib.sh"

FLOOD=$BIN/tests/floodtool
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8
export ASAN_OPTIONS

printf '[socket claims]\ntype = safe_dealer\nbind = 127.0.0.1:0\n' \
    >"$T/a.conf"
start_daemon a "$T/a.conf"
DPID=$PID_a
PORT=$(sed -n 's/.*socket claims: bound to 127\.0\.0\.1:\([0-9]*\)$/\1/p' \
    "$T/a.log" | head -n 1)
[ -n "$PORT" ] || fail "no port in the log"

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$DPID/status"; }
rx() {
	"$BIN/nbmqctl" -S "$T/a.sock" --json stats |
	    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["rx_datagrams"])'
}

# An application on the socket: it must keep its service through it all.
"$APPTOOL" -S "$T/a.sock" echo -t safe_dealer -a claims >"$T/echo.out" \
    2>"$T/echo.log" &
PIDS="$PIDS $!"
"$APPTOOL" -S "$T/a.sock" ping -t safe_dealer -c "127.0.0.1:$PORT" -n 20 \
    -w 20 >/dev/null || fail "no echo before the flood"
RSS0=$(rss_kb)
RX0=$(rx)
# A slow daemon (valgrind, a loaded machine) reads only part of a flood
# before the kernel drops the rest: flood again, each time from a new
# session, until it has read 1 MB of claims (at most 8 rounds).
round=0
read_bytes=0
while [ "$read_bytes" -le 1000000 ]; do
	round=$((round + 1))
	[ "$round" -le 8 ] || fail "only $read_bytes bytes read in 8 floods"
	out=$("$FLOOD" claims -n 64 -p 4096 127.0.0.1 "$PORT") ||
	    fail "flood: $out"
	# Until the daemon has read what the kernel kept for it.
	last=-1
	i=0
	while :; do
		now=$(rx)
		[ "$now" = "$last" ] && break
		last=$now
		i=$((i + 1))
		[ "$i" -lt 300 ] || fail "the daemon is still reading after 30 s"
		sleep 0.1
	done
	read_bytes=$(( (last - RX0) * 35 ))
done
RSS1=$(rss_kb)
grow=$(( (RSS1 - RSS0) * 1024 ))
# Under valgrind the process's RSS is mostly valgrind's own (shadow
# memory, translated code): that run checks for errors and leaks only.
if [ "${VALGRIND:-0}" = 1 ]; then
	judged="not judged under valgrind"
else
	[ "$grow" -le $(( 4 * read_bytes )) ] ||
	    fail "RSS grew by $grow bytes for $read_bytes bytes of claims"
	judged="$(awk "BEGIN { printf \"%.2f\", $grow / $read_bytes }") x the bytes read"
fi
"$APPTOOL" -S "$T/a.sock" ping -t safe_dealer -c "127.0.0.1:$PORT" -n 20 \
    -w 20 >/dev/null || fail "the daemon does not answer after the flood"
ok "$out ($round flood(s)); read $((last - RX0)) frames ($read_bytes bytes), RSS +$((grow / 1024)) KiB" \
    "($judged)"
