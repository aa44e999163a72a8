#!/bin/sh
# SPDX-License-Identifier: ISC
# Faults: the daemon killed with SIGKILL and restarted (applications get a
# clear error and reconnect; the peer re-handshakes through Disconnected
# long before its keepalive), and 1,000 applications killed mid-send or
# mid-receive (no file descriptor or memory growth in the daemon).
. "$(dirname "$0")/lib.sh"

PORT=$(free_udp_port)
cat >"$T/a.conf" <<CONF
[defaults]
peer_heartbeat_ivl = 0.2
peer_keepalive = 8
reconnect_wait = 0.3

[socket srv]
type = dealer
bind = 127.0.0.1:$PORT
CONF
sed "s/^\[socket srv\]/[socket cli]/; s/^bind = .*/connect = 127.0.0.1:$PORT/" \
    "$T/a.conf" >"$T/b.conf"
start_daemon a "$T/a.conf"
start_daemon b "$T/b.conf"
wait_for 5 log_has b "socket cli: connecting -> up" || fail "no session"

# An application on srv when its daemon dies: a clear error, exit 1.
"$NBMQCAT" -S "$T/a.sock" -a srv -r >"$T/app.out" 2>"$T/app.err" &
APP=$!
PIDS="$PIDS $APP"
wait_for 5 log_has a "socket srv: attached" || fail "attach"
forget_daemon "$PID_a"; kill -9 "$PID_a"
wait "$APP"
[ $? -eq 1 ] || fail "application exit status after the daemon died"
grep -q "daemon closed the connection" "$T/app.err" ||
    fail "no clear error: $(cat "$T/app.err")"
ok "daemon killed: the attached application says '$(head -n 1 "$T/app.err")'"

# Restarted on the same port: the peer's next heartbeat meets an unknown
# session, Disconnected comes back, and it connects again at once.
# Measured in the restarted daemon's own log, from started to the peer up:
# within reconnect_wait (300 ms) plus a heartbeat (200 ms), far below the
# keepalive (8 s), however slow the test around it.
mv "$T/a.log" "$T/a1.log"
start_daemon a "$T/a.conf"
wait_for 5 log_has b "socket cli: up -> connecting (disconnected)" ||
    fail "the peer did not get Disconnected"
wait_for 5 sh -c "[ \$(grep -c 'socket cli: connecting -> up' '$T/b.log') -ge 2 ]" ||
    fail "no new session"
wait_for 5 log_has a "socket srv peer .*: up" || fail "no session in a's log"
ms=$(( $(log_ms a "socket srv peer .*: up") - $(log_ms a "started") ))
[ "$ms" -le 500 ] || fail "re-handshake took ${ms} ms after the restart" \
    "(reconnect_wait 300 ms plus a heartbeat; keepalive is 8 s)"
ok "daemon restarted: peer re-handshook via Disconnected/Connect in ${ms} ms (keepalive 8 s)"

# Applications reconnect cleanly to the new daemon.
"$NBMQCAT" -S "$T/a.sock" -a srv -r -n 1 -w 10 >"$T/app2.out" 2>&1 &
APP2=$!
PIDS="$PIDS $APP2"
wait_for 5 log_has a "socket srv: attached" || fail "attach after restart"
echo again | "$NBMQCAT" -S "$T/b.sock" -a cli -w 10 || fail "send after restart"
wait "$APP2" || fail "receive after restart: $(cat "$T/app2.out")"
[ "$(cat "$T/app2.out")" = again ] || fail "got $(cat "$T/app2.out")"
ok "applications reconnect to the restarted daemon; messages flow"

# 1,000 applications killed mid-send or mid-receive on daemon a, their peer
# an echo on daemon b (so a holds nothing but what the applications made).
"$APPTOOL" -S "$T/b.sock" echo -b 127.0.0.1:0 >/dev/null 2>"$T/echo.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q "bound to" "$T/echo.log" || fail "echo did not bind"
EP=$(bound_endpoint "$T/echo.log")
fds() { ls "/proc/$PID_a/fd" | wc -l; }
rss0=
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID_a/status"; }
out=$("$APPTOOL" -S "$T/a.sock" churn -c "$EP" -n 100) || fail "churn: $out"
wait_for 10 sh -c "[ \$(grep -c 'socket #.*: destroyed' '$T/a.log') -ge 100 ]" ||
    fail "sockets of killed applications not freed"
fd0=$(fds)
churn() {
	out=$("$APPTOOL" -S "$T/a.sock" churn -c "$EP" -n 1000) || fail "churn: $out"
	wait_for 10 sh -c "[ \$(grep -c 'socket #.*: destroyed' '$T/a.log') -ge $1 ]" ||
	    fail "sockets of killed applications not freed: $(grep -c 'destroyed' "$T/a.log")"
	wait_for 5 sh -c "[ \$(ls /proc/$PID_a/fd | wc -l) -le $fd0 ]" ||
	    fail "file descriptors grew: $fd0 -> $(fds)"
}
# The first thousands let the allocator reach its working size; the next
# must not grow the heap in use (malloc's own count, from nbmqctl stats:
# what the daemon holds, not what glibc keeps free).  Measured: 5,153 KiB
# after each thousand to within 2 KiB, so 32 KiB over the fourth
# thousand is a leak of 32 bytes per killed application, or more.
# The RSS is not the measure: glibc gives the heap back only at the
# daemon's idle trim (daemon.c), so it drifts up by a few hundred KiB a
# thousand while the churn goes on and steps now and then, once by 2 MB
# (CI, 2026-12-06); it is held to 4 MiB a thousand, against a gross leak.
# Under ASan freed memory sits in quarantine and under valgrind malloc is
# valgrind's: the fd count and their own leak checks apply there.
churn 1100
churn 2100
churn 3100
rss1=$(rss) heap1=$(heap_kib "$T/a.sock")
churn 4100
rss2=$(rss) heap2=$(heap_kib "$T/a.sock")
[ -n "$rss1" ] && [ -n "$rss2" ] || fail "no VmRSS for the daemon"
[ -n "$heap1" ] && [ -n "$heap2" ] || fail "no heap_bytes from nbmqctl stats"
case "$O:${VALGRIND:-0}" in
*asan*|*:1)	;;
*)	[ "$heap1" -gt 0 ] || fail "nbmqctl stats: heap_bytes 0"
	[ $((heap2 - heap1)) -lt 32 ] ||
	    fail "heap in use grew by $((heap2 - heap1)) KiB over 1,000 cycles ($heap1 -> $heap2)"
	[ $((rss2 - rss1)) -lt 4096 ] ||
	    fail "memory grew by $((rss2 - rss1)) kB over 1,000 cycles" ;;
esac
ok "4 x $out: fds $fd0 -> $(fds), heap in use ${heap1} -> ${heap2} KiB, RSS ${rss1} -> ${rss2} kB over the fourth 1,000, every socket freed"
out=$("$APPTOOL" -S "$T/a.sock" ping -c "$EP" -n 200 -w 30) || fail "after churn: $out"
ok "the daemon still serves: $out"
