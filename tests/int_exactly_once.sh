#!/bin/sh
# SPDX-License-Identifier: ISC
# nbmq-test: serial (a Python relay on the path: starved of CPU, it loses more than its 20% and resends run out)
# Issue 14's reproduction, kept: two daemons with safe_dealer's default
# resend options (10 x 0.2 s) through a relay that loses 20% of the
# datagrams each way and duplicates and reorders some.  3,000 messages
# there and back (ping -u: each must come back exactly once, byte-exact),
# once between extension peers (Floor, PROTOCOL.md 4.5) and once with
# v0.2.0 framing (coalesce = no, pacing = no: the TTL window, which must
# cover the resend horizon).  Before the fix: 1 to 23 duplicates a run.
. "$(dirname "$0")/lib.sh"

N=${EXACTLY_ONCE_N:-3000}
# Under ASan and gcov (make check's second and third passes) the point
# is memory errors and coverage, not the count: a third of it.
W=256
case "$O" in
*asan*|*cov*)	N=${EXACTLY_ONCE_N:-1000} ;;
esac
# Under valgrind too, and fewer in flight: with 256, the sending daemon's
# loop ran so late that its resends of one message spanned 5 s, and
# without Floor a copy that late is given up (safe.c: RESEND_GRACE);
# at 20% loss, one whose few copies were all lost never came back.
if [ "${VALGRIND:-0}" = 1 ]; then
	N=${EXACTLY_ONCE_N:-1000}
	W=64
fi

stat_of() {	# daemon, key of nbmqctl --json stats
	"$BIN/nbmqctl" -S "$T/$1.sock" --json stats |
	    /usr/bin/python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"
}

run() {	# name, extra config lines
	name=$1
	printf '[defaults]\nlinger = 10\n%s\n' "$2" >"$T/$name.conf"
	start_daemon "${name}a" "$T/$name.conf"
	start_daemon "${name}b" "$T/$name.conf"
	"$APPTOOL" -S "$T/${name}a.sock" echo -t safe_dealer -b 127.0.0.1:0 \
	    >"$T/$name.echo.out" 2>"$T/$name.echo.log" &
	PIDS="$PIDS $!"
	wait_for 10 grep -q "bound to" "$T/$name.echo.log" ||
	    fail "$name: echo did not bind"
	/usr/bin/python3 "$TOP/tests/lossy_relay.py" \
	    --target "$(bound_endpoint "$T/$name.echo.log")" --loss 0.2 \
	    --dup 0.05 --reorder 0.05 --seed 14 \
	    --ready-file "$T/$name.relay" 2>"$T/$name.relay.log" &
	relay=$!
	PIDS="$PIDS $relay"
	wait_for 10 test -s "$T/$name.relay" || fail "$name: relay did not start"
	out=$("$APPTOOL" -S "$T/${name}b.sock" ping -t safe_dealer -u \
	    -c "$(cat "$T/$name.relay")" -n "$N" -W "$W" -w 240) ||
	    fail "$name: $out"
	kill -TERM "$relay"
	wait_for 5 grep -q "lost" "$T/$name.relay.log" || fail "relay summary"
	# Every message came back once.  A give-up is a message whose every
	# Ack was lost (fate unknown to the sender: here each one arrived);
	# the pinging socket lingers until its last frames are acked, so
	# none is given up at its close.
	i=0
	while [ "$(stat_of "${name}b" sockets)" != 0 ]; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || fail "$name: the pinging socket did not close"
		sleep 0.1
	done
	ga=$(stat_of "${name}a" giveups)
	gb=$(stat_of "${name}b" giveups)
	grep -q "given up (session ended)" "$T/${name}b.log" &&
	    fail "$name: the pinging socket closed with frames unacked"
	ok "$name, 20% loss each way: $out; given up (all arrived): $gb" \
	    "there, $ga back ($(sed 's/relay: //' "$T/$name.relay.log"))"
}

run extension ""
run v020 "coalesce = no
pacing = no"
