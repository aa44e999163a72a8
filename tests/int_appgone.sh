#!/bin/sh
# SPDX-License-Identifier: ISC
# Applications killed while messages are on their way to them (issue 14,
# finding 3).  The daemon holds every message it writes to an application
# until the library confirms it handed it over (IPC_CONFIRM, or the tally
# it reads after the application died, IPC_TALLY); when the application
# dies, a configured socket takes back what it never got, in order, for
# the next application, and a socket the application created itself
# counts it (app_gone).  Nothing is lost silently, or handed over twice.
. "$(dirname "$0")/lib.sh"

N=3000
KILLS=8

# json FILE EXPR: evaluate EXPR over the JSON document d in FILE.
json() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}
ctl() { "$BIN/nbmqctl" -S "$T/a.sock" --json "$@" >"$T/ctl.out" 2>&1; }
lines() { cat "$@" 2>/dev/null | wc -l; }

cat >"$T/a.conf" <<CONF
[daemon]
log_level = debug

[defaults]
peer_heartbeat_ivl = 0.2
peer_keepalive = 5

[socket in]
type = safe_dealer
bind = 127.0.0.1:0
recv_hwm = 100000

[socket slow]
type = safe_dealer
bind = 127.0.0.1:0
recv_hwm = 100
CONF
start_daemon a "$T/a.conf"
EP=$(sed -n 's/.*socket in: bound to //p' "$T/a.log" | head -n 1)
[ -n "$EP" ] || fail "no endpoint for in"

# 1. A configured safe_dealer socket: N messages from an application's own
# safe_dealer socket; the receiving application is killed KILLS times in
# the middle of the stream and started again.
"$APPTOOL" -S "$T/a.sock" blast -c "$EP" -n $N -t safe_dealer \
    >"$T/blast.out" 2>&1 &
BLAST=$!
PIDS="$PIDS $BLAST"
k=1
while [ $k -le $KILLS ]; do
	"$APPTOOL" -S "$T/a.sock" drain -a in -w 30 -D 300 \
	    >"$T/r$k.out" 2>"$T/r$k.err" &
	R=$!
	PIDS="$PIDS $R"
	# Some messages in, then SIGKILL, wherever it is.
	want=$(( $(lines "$T"/r*.out) + 40 ))
	wait_for 20 sh -c "[ \$(cat '$T'/r*.out | wc -l) -ge $want ]" ||
	    fail "receiver $k got nothing: $(cat "$T/r$k.err")"
	kill -9 $R
	wait $R 2>/dev/null
	echo "$R" >"$T/r$k.pid"
	k=$((k + 1))
done
wait $BLAST || fail "sender: $(cat "$T/blast.out")"
# The last one takes what is left, until 2 s of silence.
"$APPTOOL" -S "$T/a.sock" drain -a in -w 2 >"$T/rlast.out" 2>"$T/rlast.err" ||
    fail "last receiver: $(cat "$T/rlast.err")"
total=$(lines "$T"/r*.out)
uniq=$(cat "$T"/r*.out | sort -n | uniq | wc -l)
back=$(sed -n 's/.*socket in: pid [0-9]* left with .*: \([0-9]*\) given back.*/\1/p' \
    "$T/a.log" | awk '{ s += $1 } END { print s + 0 }')
ctl sockets || fail "nbmqctl sockets: $(cat "$T/ctl.out")"
gone=$(json "$T/ctl.out" '[s for s in d["sockets"] if s["name"] == "in"][0]["drops"].get("app_gone", -1)')
held=$(json "$T/ctl.out" '[s for s in d["sockets"] if s["name"] == "in"][0].get("held", -1)')
# A receiver killed between nbmq_recv's return and its printf had the
# message (the daemon was told, by its tally) and lost it itself: that is
# the application's loss, as with any queue that hands messages over, and
# the daemon's count of what it handed to each says so.  Every message
# not printed must be one of those, at most one per kill.
unprinted=0
k=1
while [ $k -le $KILLS ]; do
	pid=$(cat "$T/r$k.pid")
	h=$(sed -n "s/.*socket in: application (pid $pid) detached, \([0-9]*\) messages handed over.*/\1/p" "$T/a.log")
	[ -n "$h" ] || fail "receiver $k (pid $pid): no detach line"
	p=$(lines "$T/r$k.out")
	[ "$p" -le "$h" ] && [ "$p" -ge $((h - 1)) ] ||
	    fail "receiver $k: printed $p, the daemon handed it $h"
	unprinted=$((unprinted + h - p))
	k=$((k + 1))
done
[ $((uniq + unprinted)) -eq $N ] ||
    fail "$uniq of $N messages reached an application and $unprinted were killed with one before printing ($total handed over, $back given back, app_gone $gone)"
[ "$gone" = 0 ] || fail "app_gone $gone on a configured socket"
[ "$held" = 0 ] || fail "$held messages still held"
# What nbmq_recv returned to an application that died before confirming
# it was its (the tally, IPC_TALLY): the next one does not get it again.
[ "$total" -eq "$uniq" ] ||
    fail "$((total - uniq)) messages handed to two applications ($back given back)"
ok "$KILLS receivers killed mid-stream: $N of $N messages reached one, each exactly once ($unprinted killed between nbmq_recv and printf, as the daemon's counts say); $back given back for the next"

# 2. A socket the application made itself: it goes with the application,
# and what was written to it or waited in it is counted (app_gone).
# 3 ms a message: the kill comes long before the 1000th (at 300 us, a
# loaded machine let the test's poll see the 40th only after the last),
# and the sender's socket, paced by the receiver's Slow, often still
# holds a queue when the receiver's socket goes.  That queue, kept for a
# next session that never came, was freed uncounted when the sender's
# linger ran out: 1 run in 4 accounted for 994 of the 1000.
ctl stats || fail "nbmqctl stats: $(cat "$T/ctl.out")"
gone0=$(json "$T/ctl.out" 'd["drops"].get("app_gone", 0)')
giveups0=$(json "$T/ctl.out" 'd["giveups"]')
pgone0=$(json "$T/ctl.out" 'd["drops"].get("peer_gone", 0)')
"$APPTOOL" -S "$T/a.sock" drain -b 127.0.0.1:0 -t safe_dealer -w 30 -D 3000 \
    >"$T/own.out" 2>"$T/own.err" &
R=$!
PIDS="$PIDS $R"
wait_for 10 grep -q "bound to" "$T/own.err" || fail "own receiver: $(cat "$T/own.err")"
OWN=$(bound_endpoint "$T/own.err")
"$APPTOOL" -S "$T/a.sock" blast -c "$OWN" -n 1000 -t safe_dealer \
    >"$T/blast2.out" 2>&1 || fail "sender 2: $(cat "$T/blast2.out")"
wait_for 10 sh -c "[ \$(wc -l <'$T/own.out') -ge 40 ]" ||
    fail "own receiver got nothing"
kill -9 $R
wait $R 2>/dev/null
got=$(sort -n "$T/own.out" | uniq | wc -l)
# Its socket lingers, then closes: its counters join the daemon's.
only_in() {
	"$BIN/nbmqctl" -S "$T/a.sock" sockets >"$T/socks.out" 2>&1 &&
	    ! grep -v -e '^NAME' -e '^in ' -e '^slow ' "$T/socks.out" |
	    grep -q .
}
wait_for 10 only_in || fail "the application's socket did not close: $(cat "$T/socks.out")"
ctl stats || fail "nbmqctl stats: $(cat "$T/ctl.out")"
gone=$(( $(json "$T/ctl.out" 'd["drops"].get("app_gone", 0)') - gone0 ))
giveups=$(( $(json "$T/ctl.out" 'd["giveups"]') - giveups0 ))
# Still queued at the sender when the receiver's socket went: peer_gone.
pgone=$(( $(json "$T/ctl.out" 'd["drops"].get("peer_gone", 0)') - pgone0 ))
# Handed over by nbmq_recv, and killed before printf: at most one.
h=$(sed -n "s/.*application (pid $R) closed it, \([0-9]*\) messages handed over.*/\1/p" "$T/a.log")
[ -n "$h" ] || fail "no count of what the receiver (pid $R) was handed"
[ "$got" -le "$h" ] && [ "$got" -ge $((h - 1)) ] ||
    fail "own receiver: printed $got, the daemon handed it $h"
[ "$gone" -gt 0 ] || fail "app_gone $gone after a receiver with $got of 1000 was killed"
# Every message once: handed over, or counted where it was lost.  A
# give-up's fate is unknown (its Ack may have been what was lost), so
# give-ups may cover messages counted already.
counted=$((h + gone + pgone))
[ $((counted + giveups)) -ge 1000 ] ||
    fail "$h handed over + $gone app_gone + $giveups given up + $pgone peer_gone < 1000 sent: $(json "$T/ctl.out" '{k: v for k, v in d["drops"].items() if v}') $(cat "$T/blast2.out")"
[ "$counted" -le 1000 ] ||
    fail "$h handed over + $gone app_gone + $pgone peer_gone > 1000 sent: some counted twice"
ok "a receiver with its own socket killed after $h of 1000 (printed $got): app_gone $gone, peer_gone $pgone, given up $giveups: every message handed over or counted"

# 3. A client that reads but never confirms is pushed back: it gets
# recv_hwm messages, or 1 MiB of them, and no more; killed, all it got
# goes to the next application, with what waited.
EPS=$(sed -n 's/.*socket slow: bound to //p' "$T/a.log" | head -n 1)
/usr/bin/python3 "$TOP/tests/ipc_noconfirm.py" "$T/a.sock" slow 3 \
    >"$T/nc.out" 2>&1 &
NC=$!
PIDS="$PIDS $NC"
wait_for 5 grep -q ready "$T/nc.out" || fail "raw client: $(cat "$T/nc.out")"
"$APPTOOL" -S "$T/a.sock" blast -c "$EPS" -n 1000 -t safe_dealer \
    >"$T/blast3.out" 2>&1 || fail "sender 3: $(cat "$T/blast3.out")"
wait_for 10 grep -q "^got" "$T/nc.out" || fail "raw client: $(cat "$T/nc.out")"
set -- $(grep "^got" "$T/nc.out")
got=$2 bytes=$3
[ "$got" -gt 0 ] && [ "$got" -lt 1000 ] ||
    fail "a client that never confirms got $got of 1000"
[ "$got" -le 100 ] || [ $((bytes + 128 * got)) -lt $((1048576 + 70000 + 128)) ] ||
    fail "held past recv_hwm 100 and 1 MiB: $got messages, $bytes bytes"
ctl sockets || fail "nbmqctl sockets: $(cat "$T/ctl.out")"
held=$(json "$T/ctl.out" '[s for s in d["sockets"] if s["name"] == "slow"][0]["held"]')
[ "$held" = "$got" ] || fail "held $held, the client has $got"
kill -9 $NC
wait $NC 2>/dev/null
"$APPTOOL" -S "$T/a.sock" drain -a slow -w 3 >"$T/slow.out" 2>"$T/slow.err" ||
    fail "receiver after the raw client: $(cat "$T/slow.err")"
sed -n 's/^idx //p' "$T/nc.out" | sort -n >"$T/nc.idx"
sort -n "$T/slow.out" >"$T/slow.idx"
[ "$(uniq "$T/slow.idx" | wc -l)" -eq "$(wc -l <"$T/slow.idx")" ] ||
    fail "messages handed twice after the raw client"
[ -z "$(comm -23 "$T/nc.idx" "$T/slow.idx")" ] ||
    fail "messages the raw client never confirmed did not come back"
ok "a client that never confirms: $got messages ($bytes bytes) held for it and no more; killed, they and the rest went to the next: $(wc -l <"$T/slow.idx") of 1000"
