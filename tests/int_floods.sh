#!/bin/sh
# SPDX-License-Identifier: ISC
# nbmq-test: serial (floods and round trips under them)
# Floods, loopback only, each bounded in time, against one daemon:
#  - 100,000 Connects from 12,000 source ports (of 127.0.0.2, outside the
#    ephemeral range: nothing the daemon answers reaches another test) at
#    a socket with max_peers 1000: never more than 1000 sessions, memory
#    bounded, and a peer that was there before keeps exchanging messages
#    throughout;
#  - 1,000,000 random datagrams: no crash, every one the daemon read is
#    counted as dropped under one reason, what it did not read the kernel
#    counted (the two add up to what was sent), RSS flat, and it still
#    answers;
#  - 1,000 IPC connections with max_clients 50: refused past the limit
#    with EUSERS, the daemon keeps serving the others;
#  - an application that never reads: the daemon keeps at most recv_hwm
#    for it (plus one IPC buffer), drops the rest, and serves the others.
. "$(dirname "$0")/lib.sh"

FLOOD=$BIN/tests/floodtool
CTL=$BIN/nbmqctl
MAX_PEERS=1000
MAX_CLIENTS=50
# ASan keeps freed memory in quarantine (256 MiB by default), which would
# hide what the daemon really holds: keep it small here.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8
export ASAN_OPTIONS

cat >"$T/a.conf" <<EOF
[daemon]
max_clients = $MAX_CLIENTS

[socket flood]
type = dealer
bind = 127.0.0.1:0
max_peers = $MAX_PEERS

[socket junk]
type = dealer
bind = 127.0.0.1:0
EOF
start_daemon a "$T/a.conf"
export NBMQ_SOCKET=$T/a.sock
DPID=$PID_a

port_of() {
	sed -n "s/.*socket $1: bound to 127\.0\.0\.1:\([0-9]*\)$/\1/p" \
	    "$T/a.log" | head -n 1
}
FPORT=$(port_of flood)
JPORT=$(port_of junk)
[ -n "$FPORT" ] && [ -n "$JPORT" ] || fail "no ports in the log"

rss_kb() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$DPID/status"; }
nfds() { ls "/proc/$DPID/fd" | wc -l; }

# json FILE EXPR: EXPR over the JSON document d in FILE.
json() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
sock_json() {
	"$CTL" -S "$T/a.sock" --json sockets >"$T/ctl.json" 2>"$T/ctl.err" ||
	    fail "nbmqctl sockets: $(cat "$T/ctl.err")"
	json "$T/ctl.json" "[s for s in d['sockets'] if s['name'] == '$1'][0]$2"
}

# The peer that was there first: an echo attached to the flood socket, and
# pings through a session of its own.
"$APPTOOL" echo -a flood >"$T/echo.out" 2>"$T/echo.log" &
PIDS="$PIDS $!"
EP=127.0.0.1:$FPORT
out=$("$APPTOOL" ping -c "$EP" -n 200 -W 16 -w 30) || fail "first ping: $out"
# warm up the allocator before the baseline
out=$("$FLOOD" send -c "$EP" -n 2000 -z 500) || fail "warm-up: $out"
RSS0=$(rss_kb)

# ping_loop FILE: ping rounds until $T/stop exists; one line per round.
# Under valgrind the daemon reads the flood 30 times slower, the kernel
# drops what does not fit its buffer, the ping's datagrams with the rest
# (dealer: fire and forget, counted by the kernel and told in a Slow), so
# there a round must get some of its messages back, in order and each
# once, rather than all (-L).
PING_LOSSY=; [ "${VALGRIND:-0}" = 1 ] && PING_LOSSY=-L
ping_loop() {
	while [ ! -e "$T/stop" ]; do
		"$APPTOOL" ping $PING_LOSSY -c "$EP" -n 100 -W 16 -w 30 >>"$1" 2>&1 ||
		    { echo "FAILED" >>"$1"; return 1; }
	done
}

# ---- 100,000 Connects from 12,000 ports ---------------------------------
rm -f "$T/stop"
ping_loop "$T/ping1.out" &
LOOP=$!
PIDS="$PIDS $LOOP"
t0=$(date +%s%N)
out=$("$FLOOD" connects -n 100000 -p 500 127.0.0.1 "$FPORT") ||
    fail "connect flood: $out"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
touch "$T/stop"
wait "$LOOP" || fail "ping during the Connect flood: $(tail -n 3 "$T/ping1.out")"
rounds=$(grep -c "^ok" "$T/ping1.out")
[ "$rounds" -ge 1 ] || fail "no ping round during the flood"
# The most sessions the flood socket ever held, from its lines of a
# session made (Connected sent: up once its peer confirms it) and gone.
peak=$(awk '/socket flood peer .*: Connected sent$/ { n++; if (n > max) max = n }
    /socket flood peer .*: down/ { n-- } END { print max + 0 }' "$T/a.log")
[ "$peak" -le "$MAX_PEERS" ] || fail "$peak sessions at once, max_peers $MAX_PEERS"
[ "$peak" -eq "$MAX_PEERS" ] || fail "only $peak sessions: the flood did not reach max_peers"
refused=$(sock_json flood "['drops']['max_peers']")
[ "$refused" -gt 0 ] || fail "no Connect refused at max_peers"
RSS1=$(rss_kb)
grow=$(( (RSS1 - RSS0) / 1024 ))
limit=48
[ "${VALGRIND:-0}" = 1 ] && limit=256
[ "$grow" -lt "$limit" ] || fail "RSS grew by $grow MiB (${RSS0} -> ${RSS1} kB)"
if [ -n "$PING_LOSSY" ]; then
	back=$(awk '/^ok/ { b += $4; l += $11 } END { print b + 0 " back, " l + 0 " lost" }' "$T/ping1.out")
	pings="$rounds ping rounds of 100 meanwhile (valgrind: $back)"
else
	pings="$rounds ping rounds of 100 meanwhile, all byte-exact"
fi
ok "$out in $ms ms: at most $peak sessions (max_peers $MAX_PEERS), $refused refused, RSS +$grow MiB; $pings"

# ---- 1,000,000 random datagrams -----------------------------------------
# What the kernel dropped for the junk socket (its receive buffer full):
# the last column of its line in /proc/net/udp.
udp_drops() {
	awk -v a="$(printf '0100007F:%04X' "$JPORT")" \
	    '$2 == a { print $NF; exit }' /proc/net/udp
}
# Loopback drops before any socket too, when the per-CPU backlog is full
# (net.core.netdev_max_backlog): column 2 of /proc/net/softnet_stat, in
# hex, a line per CPU.  Host-wide, but nothing else floods it meanwhile.
backlog_drops() {
	_s=0
	for _d in $(awk '{ print $2 }' /proc/net/softnet_stat); do
		_s=$((_s + 0x$_d))
	done
	echo "$_s"
}
bd0=$(backlog_drops)
kd0=$(udp_drops)
[ -n "$kd0" ] || fail "junk socket (port $JPORT) not in /proc/net/udp"
rx0=$(sock_json junk "['rx_datagrams']")
# RSS sampled all through the flood (sampling, not synchronisation).
rm -f "$T/stop"
( while [ ! -e "$T/stop" ]; do rss_kb; sleep 0.05; done ) >"$T/rss2" &
PIDS="$PIDS $!"
t0=$(date +%s%N)
out=$("$FLOOD" random -n 1000000 127.0.0.1 "$JPORT") || fail "random flood: $out"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
sent=$(echo "$out" | sed -n 's/^ok \([0-9]*\) random datagrams sent$/\1/p')
[ "$sent" = 1000000 ] || fail "floodtool: $out"
kill -0 "$DPID" 2>/dev/null || fail "the daemon died in the random flood"
# Everything it read is counted: wait for it to drain its buffer.
settled() {
	_a=$(sock_json junk "['rx_datagrams']")
	sleep 0.2
	_b=$(sock_json junk "['rx_datagrams']")
	[ "$_a" = "$_b" ]
}
wait_for 60 settled || fail "the daemon is still reading after 60 s"
touch "$T/stop"
# One snapshot: rx, the drops and their reasons from the same document.
sock_json junk "['rx_datagrams']" >/dev/null
rx=$(( $(json "$T/ctl.json" "[s for s in d['sockets'] if s['name'] == 'junk'][0]['rx_datagrams']") - rx0 ))
drops=$(json "$T/ctl.json" "[s for s in d['sockets'] if s['name'] == 'junk'][0]['drops_total']")
sum=$(json "$T/ctl.json" "sum([s for s in d['sockets'] if s['name'] == 'junk'][0]['drops'].values())")
peers=$(json "$T/ctl.json" "[s for s in d['sockets'] if s['name'] == 'junk'][0]['peers']")
kd=$(( $(udp_drops) - kd0 + $(backlog_drops) - bd0 ))
[ "$rx" -gt 0 ] || fail "the daemon read none of the random datagrams"
# No Connect nor Disconnected among them: every one is a drop, each
# counted under one reason, and what the daemon did not read the kernel
# counted: read + kernel drops = sent, exactly.
[ "$drops" -eq "$rx" ] && [ "$sum" -eq "$drops" ] && [ "$peers" -eq 0 ] ||
    fail "read $rx, dropped $drops (reasons add up to $sum), $peers sessions"
[ $((rx + kd)) -eq "$sent" ] ||
    fail "sent $sent: the daemon read $rx and the kernel dropped $kd"
peak=$(sort -n "$T/rss2" | tail -n 1)
[ -n "$peak" ] || fail "no RSS sample during the random flood"
grow=$(( (peak - RSS1) / 1024 ))
limit=16; [ "${VALGRIND:-0}" = 1 ] && limit=256
[ "$grow" -lt "$limit" ] || fail "RSS grew by $grow MiB during the random flood (${RSS1} -> ${peak} kB)"
reasons=$(json "$T/ctl.json" "' '.join('%s=%d' % kv for kv in [s for s in d['sockets'] if s['name'] == 'junk'][0]['drops'].items() if kv[1])")
out2=$("$APPTOOL" ping -c "$EP" -n 100 -W 16 -w 30) || fail "ping after the random flood: $out2"
ok "$sent random datagrams in $ms ms: the daemon read $rx, the kernel dropped $kd (sum exact), every one read counted as dropped under one reason ($reasons, sum $sum); RSS peak +$grow MiB; still answers"

# ---- 1,000 IPC connections, max_clients 50 ------------------------------
fds0=$(nfds)
# The echo holds one connection; nbmqctl's come and go.
out=$("$FLOOD" clients -n 1000) || fail "clients: $out"
set -- $out
[ "$2" -eq $((MAX_CLIENTS - 1)) ] && [ "$4" -eq $((1000 - MAX_CLIENTS + 1)) ] &&
    [ "$6" -eq 0 ] || fail "clients: $out; want $((MAX_CLIENTS - 1)) opened, the rest EUSERS"
grep -q "refused, max_clients" "$T/a.log" || fail "no refusal logged"
wait_for 10 test "$(nfds)" -le "$fds0" || fail "fds: $fds0 before, $(nfds) after"
out2=$("$APPTOOL" ping -c "$EP" -n 100 -W 16 -w 30) || fail "ping after the clients: $out2"
ok "clients: $out (1000 tried, max_clients $MAX_CLIENTS, the echo holds one): refused with EUSERS; fds back to $fds0; still serving"

# ---- an application that never reads ------------------------------------
"$FLOOD" noread -b 127.0.0.1:0 -H 100 2>"$T/noread.log" &
NR=$!
PIDS="$PIDS $NR"
wait_for 10 grep -q "bound to" "$T/noread.log" || fail "noread did not bind"
NEP=$(sed -n 's/.*bound to \([^ ]*\)$/\1/p' "$T/noread.log")
RSS2=$(rss_kb)
rm -f "$T/stop"
ping_loop "$T/ping2.out" &
LOOP=$!
PIDS="$PIDS $LOOP"
# Between nbmq daemons the receiver's window (PROTOCOL.md 4.7) pushes the
# sender back: nothing is dropped at recv_hwm.  A sender without it
# (pacing = no, as a v0.2.0 peer) can only be dropped at recv_hwm.
out=$("$FLOOD" send -c "$NEP" -n 20000 -z 1000 -e) || fail "send to noread: $out"
pushed=$(echo "$out" | sed -n 's/^ok pushed back after \([0-9]*\) .*/\1/p')
[ -n "$pushed" ] || fail "a sender with the window was not pushed back: $out"
"$CTL" -S "$T/a.sock" --json sockets >"$T/ctl.json" || fail "nbmqctl"
nrport=${NEP##*:}
wdrops=$(json "$T/ctl.json" "[s for s in d['sockets'] if s['port'] == $nrport][0]['drops']['recv_hwm']")
[ "$wdrops" = 0 ] || fail "$wdrops dropped at recv_hwm with the window"
out=$("$FLOOD" send -c "$NEP" -n 20000 -z 1000 -P) ||
    fail "send to noread without the window: $out"
touch "$T/stop"
wait "$LOOP" || fail "ping while an application does not read: $(tail -n 3 "$T/ping2.out")"
rounds=$(grep -c "^ok" "$T/ping2.out")
RSS3=$(rss_kb)
grow=$(( (RSS3 - RSS2) / 1024 ))
[ "$grow" -lt 16 ] || fail "RSS grew by $grow MiB for an application that does not read"
hwmdrops=$("$CTL" -S "$T/a.sock" --json sockets >"$T/ctl.json" && json "$T/ctl.json" "[s for s in d['sockets'] if s['port'] == $nrport][0]['drops']['recv_hwm']")
rq=$(json "$T/ctl.json" "[s for s in d['sockets'] if s['port'] == $nrport][0]['rq']")
[ "$rq" -le 100 ] || fail "$rq messages held for the application, recv_hwm 100"
[ "$hwmdrops" -gt 0 ] || fail "nothing dropped at recv_hwm"
ok "never-reading application: a sender with the window pushed back after $pushed messages, none dropped; one without it: $out, $rq held (recv_hwm 100), $hwmdrops dropped at recv_hwm, RSS +$grow MiB; $rounds ping rounds meanwhile"
