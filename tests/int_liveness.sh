#!/bin/sh
# SPDX-License-Identifier: ISC
# nbmq-test: serial (keepalive and reconnect times against bounds)
# Sessions across two daemons with configured sockets: a peer that
# disappears is pruned after peer_keepalive; the connecting side reconnects
# when the bound side comes back (same port) and messages flow again.
. "$(dirname "$0")/lib.sh"

PORT=$(free_udp_port)
cat >"$T/a.conf" <<CONF
[defaults]
peer_heartbeat_ivl = 0.1
peer_keepalive = 0.6
reconnect_wait = 0.2

[socket srv]
type = dealer
bind = 127.0.0.1:$PORT
CONF
cat >"$T/b.conf" <<CONF
[defaults]
peer_heartbeat_ivl = 0.1
peer_keepalive = 0.6
reconnect_wait = 0.2

[socket cli]
type = dealer
connect = 127.0.0.1:$PORT
CONF

start_daemon a "$T/a.conf"
start_daemon b "$T/b.conf"
wait_for 5 log_has b "socket cli: connecting -> up" || fail "no session"
ok "configured sockets connect: $(grep -c 'peer .*: up' "$T/a.log") session"

# Messages flow from a connecting configured socket to a bound one.
"$NBMQCAT" -S "$T/a.sock" -a srv -r -n 1 -w 10 >"$T/rx.out" 2>&1 &
RX=$!
PIDS="$PIDS $RX"
wait_for 5 log_has a "socket srv: attached" || fail "attach"
echo before | "$NBMQCAT" -S "$T/b.sock" -a cli -w 10 || fail "send before"
wait "$RX" || fail "receive before: $(cat "$T/rx.out")"

# Idle sessions stay up: heartbeats keep them alive over 3 keepalives.
start=$(grep -c "down (" "$T/a.log")
sleep 2
[ "$(grep -c "down (" "$T/a.log")" = "$start" ] ||
    fail "idle session dropped despite heartbeats"
ok "idle session kept alive by heartbeats for 3 keepalive periods"

# The bound side vanishes (frozen: a daemon that stops cleanly says
# Disconnected, tested below): the connecting side notices after
# keepalive.  From the moment it froze (the test's clock, read right
# before SIGSTOP) to b's own log timestamp: at most the keepalive (600 ms)
# plus two heartbeats (under valgrind, whose timers fire late, 1.6 s);
# at least half of it.
t0=$(date +%s%3N)
forget_daemon "$PID_a"; kill -STOP "$PID_a"
wait_for 5 log_has b "down (keepalive timeout)" || fail "b kept a dead peer"
ms=$(( $(log_ms b "down (keepalive timeout)") - t0 ))
max=800
[ "${VALGRIND:-0}" = 1 ] && max=1600
[ "$ms" -ge 300 ] || fail "peer dropped after ${ms} ms, before keepalive"
[ "$ms" -le "$max" ] ||
    fail "peer dropped after ${ms} ms, keepalive 600 ms plus two heartbeats"
ok "connecting side drops the vanished peer after ${ms} ms (keepalive 600 ms)"
kill -9 "$PID_a"
forget_daemon "$PID_a"; wait "$PID_a" 2>/dev/null

# It comes back on the same port: the session is re-established within
# reconnect_wait (b tries every 200 ms) plus a heartbeat, measured from
# a's own log (started, then the peer up).
mv "$T/a.log" "$T/a1.log"
start_daemon a "$T/a.conf"
wait_for 5 log_has a "socket srv peer .*: up" || fail "no reconnect"
ms=$(( $(log_ms a "socket srv peer .*: up") - $(log_ms a "started") ))
[ "$ms" -le 300 ] || fail "reconnected ${ms} ms after the bound side" \
    "started, reconnect_wait 200 ms plus a heartbeat"
ok "reconnected ${ms} ms after the bound side came back (reconnect_wait 200 ms)"

"$NBMQCAT" -S "$T/a.sock" -a srv -r -n 1 -w 10 >"$T/rx.out" 2>&1 &
RX=$!
PIDS="$PIDS $RX"
wait_for 5 log_has a "socket srv: attached" || fail "attach"
echo after | "$NBMQCAT" -S "$T/b.sock" -a cli -w 10 || fail "send after"
wait "$RX" || fail "receive after reconnect: $(cat "$T/rx.out")"
[ "$(cat "$T/rx.out")" = after ] || fail "got $(cat "$T/rx.out")"
ok "messages flow again after the reconnect"

# The connecting side vanishes: the bound side prunes it after keepalive.
forget_daemon "$PID_b"; kill -9 "$PID_b"
wait_for 5 log_has a "socket srv peer .*: down (keepalive timeout)" ||
    fail "bound side kept the vanished peer"
ok "bound side prunes the vanished peer"

# A daemon that stops cleanly says Disconnected to its peers: they drop
# the session at once, not after their keepalive (v0.2.0 peers round-robin
# into a session until then).  b comes back, then a stops (SIGTERM): from
# a's log line to b's, both the daemons' own timestamps.
mv "$T/b.log" "$T/b1.log"
start_daemon b "$T/b.conf"
wait_for 5 log_has b "socket cli: connecting -> up" || fail "b did not reconnect"
kill -TERM "$PID_a"
forget_daemon "$PID_a"; wait "$PID_a" || fail "a did not exit cleanly on SIGTERM"
wait_for 5 log_has b "down (disconnected)" ||
    fail "b was not told: $(grep down "$T/b.log")"
ms=$(( $(log_ms b "down (disconnected)") - $(log_ms a "Terminated: shutting down") ))
[ "$ms" -le 300 ] || fail "b heard the goodbye after ${ms} ms"
ok "a daemon that stops says Disconnected: b dropped the session after ${ms} ms"
