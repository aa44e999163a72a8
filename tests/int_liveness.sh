#!/bin/sh
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

# The bound side vanishes: the connecting side notices after keepalive.
kill -9 "$PID_a"
t0=$(date +%s%N)
wait_for 5 log_has b "down (keepalive timeout)" || fail "b kept a dead peer"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 400 ] || fail "peer dropped after ${ms} ms, before keepalive"
ok "connecting side drops the vanished peer after ${ms} ms (keepalive 600 ms)"

# It comes back on the same port: the session is re-established.
mv "$T/a.log" "$T/a1.log"
start_daemon a "$T/a.conf"
t0=$(date +%s%N)
wait_for 5 log_has a "socket srv peer .*: up" || fail "no reconnect"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
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
kill -9 "$PID_b"
wait_for 5 log_has a "socket srv peer .*: down (keepalive timeout)" ||
    fail "bound side kept the vanished peer"
ok "bound side prunes the vanished peer"
