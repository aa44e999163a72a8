#!/bin/sh
# SPDX-License-Identifier: ISC
# Socket types: radio to 3 dishes, a configured dish fanned out to 3 local
# applications (and a stopped one that drops alone), high-water marks on
# the send side of dealer, safe_dealer and radio and on the receive side,
# and the receiver's window between two daemons (PROTOCOL.md 4.7).
. "$(dirname "$0")/lib.sh"

cat >"$T/a.conf" <<CONF
[socket news]
type = dish
bind = 127.0.0.1:0
recv_hwm = 1000

# Without the window (pacing = no): recv_hwm as a v0.2.0 peer meets it.
[socket inbox]
type = dealer
bind = 127.0.0.1:0
recv_hwm = 5
pacing = no

[socket inbox2]
type = dealer
bind = 127.0.0.1:0
recv_hwm = 5

[socket sink]
type = dealer
bind = 127.0.0.1:0
CONF
start_daemon a "$T/a.conf"
INBOX2=$(sed -n 's/.*socket inbox2: bound to //p' "$T/a.log")
cat >"$T/b.conf" <<CONF
[socket out]
type = dealer
connect = $INBOX2
CONF
start_daemon b "$T/b.conf"
NEWS=$(sed -n 's/.*socket news: bound to //p' "$T/a.log")
INBOX=$(sed -n 's/.*socket inbox: bound to //p' "$T/a.log")
SINK=$(sed -n 's/.*socket sink: bound to //p' "$T/a.log")

# Radio reaches 3 dishes with every message.
"$APPTOOL" -S "$T/b.sock" blast -t radio -b 127.0.0.1:0 -P 3 -n 300 \
    >"$T/radio.out" 2>"$T/radio.log" &
RADIO=$!
PIDS="$PIDS $RADIO"
wait_for 10 grep -q "bound to" "$T/radio.log" || fail "radio did not bind"
REP=$(bound_endpoint "$T/radio.log")
for i in 1 2 3; do
	"$APPTOOL" -S "$T/a.sock" collect -t dish -c "$REP" -n 300 -w 5 \
	    >"$T/dish$i.out" 2>&1 &
	eval "DISH$i=\$!"
	PIDS="$PIDS $!"
done
wait "$RADIO" || fail "radio: $(cat "$T/radio.out")"
for i in 1 2 3; do
	eval "wait \$DISH$i" || fail "dish $i: $(cat "$T/dish$i.out")"
	grep -q "ok 300 of 300" "$T/dish$i.out" ||
	    fail "dish $i: $(tail -n 1 "$T/dish$i.out")"
done
ok "radio -> 3 dishes: 300 of 300 messages each"

# A radio cannot receive, a dish cannot send: clear errors.
echo x | "$NBMQCAT" -S "$T/a.sock" -t dish -c "$REP" -w 1 2>"$T/e1" &&
    fail "a dish sent"
"$NBMQCAT" -S "$T/a.sock" -t radio -b 127.0.0.1:0 -r -w 1 2>"$T/e2" &&
    fail "a radio received"
ok "dish send / radio receive refused: $(head -n 1 "$T/e1")"

# One configured dish, 3 local applications: each gets every message.
for i in 1 2 3; do
	"$NBMQCAT" -S "$T/a.sock" -a news -r -n 40 -w 20 >"$T/sub$i.out" \
	    2>"$T/sub$i.log" &
	eval "SUB$i=\$!"
	PIDS="$PIDS $!"
done
wait_for 10 sh -c "[ \$(grep -c 'socket news: attached' '$T/a.log') -ge 3 ]" ||
    fail "3 applications did not attach"
seq 1 40 | "$NBMQCAT" -S "$T/b.sock" -t radio -c "$NEWS" -w 10 ||
    fail "radio send to news"
for i in 1 2 3; do
	eval "wait \$SUB$i" || fail "subscriber $i: $(cat "$T/sub$i.log")"
	seq 1 40 | cmp -s - "$T/sub$i.out" || fail "subscriber $i got $(wc -l <"$T/sub$i.out") lines"
done
ok "dish fan-out: 3 applications on one UDP port, 40 of 40 each, in order"

# A stopped subscriber loses messages over its own recv_hwm (1000, after
# what its socket buffers hold) and is told (ENOBUFS); a running one gets
# all 5000 meanwhile.
"$NBMQCAT" -S "$T/a.sock" -a news -r -w 30 >"$T/slow.out" 2>"$T/slow.log" &
SLOW=$!
PIDS="$PIDS $SLOW"
"$NBMQCAT" -S "$T/a.sock" -a news -r -n 5000 -w 60 >"$T/fast.out" \
    2>"$T/fast.log" &
FAST=$!
PIDS="$PIDS $FAST"
wait_for 10 sh -c "[ \$(grep -c 'socket news: attached' '$T/a.log') -ge 5 ]" ||
    fail "slow and fast did not attach"
# recv_hwm drops in daemon a's counters (nbmqctl stats): the stopped
# subscriber's losses are counted, not only told.
hwm_drops() {
	"$BIN/nbmqctl" -S "$T/a.sock" --json stats |
	    sed -n 's/.*"recv_hwm": \([0-9]*\).*/\1/p'
}
drops0=$(hwm_drops)
[ -n "$drops0" ] || fail "nbmqctl stats: no recv_hwm counter"
kill -STOP "$SLOW"
head -c 100000 /dev/zero | tr '\0' a | fold -w 1000 >"$T/chunk"
for i in $(seq 1 50); do
	"$NBMQCAT" -S "$T/b.sock" -t radio -c "$NEWS" -w 10 <"$T/chunk" ||
	    fail "radio send of chunk $i"
done
wait "$FAST" || fail "the fast subscriber was held back: $(cat "$T/fast.log")"
grep -q "messages dropped" "$T/fast.log" && fail "the fast subscriber dropped"
kill -CONT "$SLOW"
wait_for 10 grep -q "messages dropped" "$T/slow.log" ||
    fail "the stopped subscriber was not told of its drops"
drops=$(( $(hwm_drops) - drops0 ))
[ "$drops" -gt 0 ] || fail "the stopped subscriber's drops were not counted"
ok "stopped subscriber: $drops drops counted and ENOBUFS for it alone; the other got 5000 of 5000"

# Send-side high-water marks.
out=$("$APPTOOL" -S "$T/b.sock" hwm -c "$SINK" -H 4) || fail "dealer: $out"
ok "dealer $out"
/usr/bin/python3 "$TOP/tests/peer_v020.py" bind 127.0.0.1:0 --timeout 20 \
    --ready-file "$T/noack.addr" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/noack.addr" || fail "peer did not bind"
out=$("$APPTOOL" -S "$T/b.sock" hwm -t safe_dealer -s 100 -H 6 \
    -c "$(cat "$T/noack.addr")") || fail "safe_dealer: $out"
ok "safe_dealer to a peer that never acks: $out"
# A radio's window is the smallest room over its peers: two dishes.
"$APPTOOL" -S "$T/a.sock" hwm -t radio -P 2 -H 3 -b 127.0.0.1:0 \
    >"$T/rh.out" 2>"$T/rh.log" &
RH=$!
PIDS="$PIDS $RH"
wait_for 10 grep -q "bound to" "$T/rh.log" || fail "radio did not bind"
for i in 1 2; do
	"$APPTOOL" -S "$T/b.sock" collect -t dish -n 1 -w 30 \
	    -c "$(bound_endpoint "$T/rh.log")" >"$T/d$i.out" 2>&1 &
	PIDS="$PIDS $!"
done
wait "$RH" || fail "radio: $(cat "$T/rh.out")"
out=$(cat "$T/rh.out")
ok "radio $out"

# Receive side: nobody attached to inbox (recv_hwm 5); 12 arrive; the
# application that attaches later gets the 5 in order, then ENOBUFS once.
# nbmqcat's exit does not mean the 12 arrived (the sending daemon may pace
# them after a Slow: PROTOCOL.md 4.4): wait until daemon a has dropped 7.
seq 1 12 | "$NBMQCAT" -S "$T/b.sock" -c "$INBOX" -w 10 || fail "send 12"
inbox_dropped() {
	"$BIN/nbmqctl" -S "$T/a.sock" --json sockets >"$T/inbox.json" &&
	/usr/bin/python3 -c 'import json, sys
s = [x for x in json.load(open(sys.argv[1]))["sockets"] if x["name"] == "inbox"][0]
sys.exit(0 if s["drops"]["recv_hwm"] >= 7 else 1)' "$T/inbox.json"
}
wait_for 10 inbox_dropped || fail "inbox: 12 did not arrive: $(cat "$T/inbox.json")"
"$NBMQCAT" -S "$T/a.sock" -a inbox -r -w 1 >"$T/inbox.out" 2>"$T/inbox.log"
seq 1 5 | cmp -s - "$T/inbox.out" || fail "backlog: $(cat "$T/inbox.out")"
[ "$(grep -c 'messages dropped' "$T/inbox.log")" = 1 ] ||
    fail "ENOBUFS not reported once: $(cat "$T/inbox.log")"
ok "recv_hwm 5: backlog of 5 in order on attach, then ENOBUFS once"

# The same between two daemons with the window: daemon b's configured
# socket holds the 7 that daemon a has no room for (none dropped), and
# the application that attaches to inbox2 gets all 12 in order.
seq 1 12 | "$NBMQCAT" -S "$T/b.sock" -a out -w 10 || fail "send 12 (window)"
"$NBMQCAT" -S "$T/a.sock" -a inbox2 -r -n 12 -w 10 >"$T/inbox2.out" \
    2>"$T/inbox2.log" || fail "inbox2: $(cat "$T/inbox2.log")"
seq 1 12 | cmp -s - "$T/inbox2.out" || fail "window: $(cat "$T/inbox2.out")"
"$BIN/nbmqctl" -S "$T/a.sock" --json sockets >"$T/inbox2.json"
/usr/bin/python3 -c 'import json, sys
s = [x for x in json.load(open(sys.argv[1]))["sockets"] if x["name"] == "inbox2"][0]
sys.exit(0 if s["drops_total"] == 0 else 1)' "$T/inbox2.json" ||
    fail "window: drops at the receiver: $(cat "$T/inbox2.json")"
ok "recv_hwm 5 with the window: 12 of 12 in order, 0 dropped"

# An application that sends and then goes idle, never calling the library
# again: every message still reaches the peer (none waits in the library).
"$NBMQCAT" -S "$T/a.sock" -t safe_dealer -b 127.0.0.1:0 -r -n 12 -w 60 \
    >/dev/null 2>"$T/idle_rx.log" &
IRX=$!
PIDS="$PIDS $IRX"
wait_for 10 grep -q "bound to" "$T/idle_rx.log" || fail "receiver did not bind"
"$APPTOOL" -S "$T/b.sock" idle -t safe_dealer -n 12 -s 1048576 \
    -c "$(bound_endpoint "$T/idle_rx.log")" >"$T/idle.out" 2>&1 &
PIDS="$PIDS $!"
wait "$IRX" || fail "an idle sender's messages did not all arrive: $(cat "$T/idle.out" "$T/idle_rx.log")"
ok "12 x 1 MiB safe_dealer from an application gone idle: all arrived"
