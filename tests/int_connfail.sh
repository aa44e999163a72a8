#!/bin/sh
# SPDX-License-Identifier: ISC
# Why a connect is not up (issue 17, defect 2): each reason provoked and
# seen by an application (apptool events: NBMQ_EVENT_CONNECT_FAILED) and
# by `nbmqctl --json sockets`: no answer (a UDP port held by a socket that
# never answers), unreachable (ICMP port unreachable from a free port),
# refused as encrypted and as plain both ways, key not allowed, cannot
# resolve (nonexistent.invalid); the daemon's warning after 3 unanswered
# Connects; nbmqcat's "waiting for a peer at X (reason)" line.
. "$(dirname "$0")/lib.sh"

CTL="$BIN/nbmqctl"

umask 077
for k in a b x; do
	"$CTL" genkey >"$T/$k.key" || fail "nbmqctl genkey"
	"$CTL" pubkey <"$T/$k.key" >"$T/$k.pub" || fail "nbmqctl pubkey"
done
umask 022
A_PUB=$(cat "$T/a.pub")
B_PUB=$(cat "$T/b.pub")

# json SOCK FIELD DAEMON: a field of `nbmqctl --json sockets`.
json() {
	"$CTL" -S "$T/$3.sock" --json sockets | /usr/bin/python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin)["sockets"] if x["name"] == sys.argv[1]][0]
v = s
for k in sys.argv[2].split("."):
    v = v[k]
print("null" if v is None else v)' "$1" "$2"
}
json_eq() { [ "$(json "$1" "$2" "$4")" = "$3" ]; }
json_ge() { [ "$(json "$1" "$2" "$4")" -ge "$3" ]; }

# A UDP port held by a socket that reads nothing and answers nothing:
# no ICMP either.
/usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(600)' >"$T/silent.port" &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/silent.port" || fail "silent listener"
SILENT=127.0.0.1:$(cat "$T/silent.port")
FREE=127.0.0.1:$(free_udp_port)

# Daemon s: the bound side, one encrypted socket and one plain.
cat >"$T/s.conf" <<CONF
[socket enc]
type = dealer
bind = 127.0.0.1:0
encryptor = sodium
private_key_file = $T/a.key
peers = $B_PUB

[socket plain]
type = dealer
bind = 127.0.0.1:0
CONF
start_daemon s "$T/s.conf"
port_of() { sed -n "s/.*socket $1: bound to //p" "$T/s.log"; }
ENC=$(port_of enc)
PLAIN=$(port_of plain)
[ -n "$ENC" ] && [ -n "$PLAIN" ] || fail "daemon s did not bind"

# Daemon c: one connecting socket per reason, trying every 0.3 s.
enc_with() {
	printf 'encryptor = sodium\nprivate_key_file = %s\npeers = %s\n' \
	    "$T/$1.key" "$A_PUB"
}
cat >"$T/c.conf" <<CONF
[defaults]
reconnect_wait = 0.3

[socket noanswer]
type = dealer
connect = $SILENT

[socket unreach]
type = dealer
connect = $FREE

[socket plain2enc]
type = dealer
connect = $ENC

[socket enc2plain]
type = dealer
connect = $PLAIN
$(enc_with b)

[socket stranger]
type = dealer
connect = $ENC
$(enc_with x)

[socket noname]
type = dealer
connect = nonexistent.invalid:7001

[socket good]
type = dealer
connect = $ENC
$(enc_with b)
CONF
start_daemon c "$T/c.conf"

wait_for 10 json_eq good state up c || fail "good: not up: $(json good state c)"
[ "$(json good connect_reason c)" = null ] &&
    [ "$(json good connecting_ms c)" = null ] || fail "good: a reason while up"

# check SOCK TOKEN ADDR: nbmqctl --json has the reason; an application
# attached to the socket hears it as an event.
check() {
	wait_for 10 json_eq "$1" connect_reason "$2" c ||
	    fail "$1: reason $(json "$1" connect_reason c), want $2"
	[ "$(json "$1" state c)" = connecting ] || fail "$1: not connecting"
	json_ge "$1" connecting_ms 1 c || fail "$1: connecting_ms"
	NBMQ_SOCKET=$T/c.sock "$APPTOOL" events -a "$1" -w 0.5 \
	    >"$T/ev.$1.out" 2>&1 || fail "$1: apptool: $(cat "$T/ev.$1.out")"
	grep -qx "connect_failed $3 $2" "$T/ev.$1.out" ||
	    fail "$1: events: $(cat "$T/ev.$1.out")"
	ok "$1: $(json "$1" connect_reason_text c) after $(json "$1" connecting_ms c) ms, and the event"
}
check noanswer no_answer "$SILENT"
check unreach unreachable "$FREE"
check plain2enc peer_encrypted "$ENC"
check enc2plain peer_plain "$PLAIN"
check stranger key_denied "$ENC"
check noname resolve nonexistent.invalid:7001

# No answer: counted, and one warning in the log however long it lasts.
wait_for 10 json_ge noanswer connects_unanswered 5 c ||
    fail "noanswer: $(json noanswer connects_unanswered c) unanswered"
n=$(grep -c "socket noanswer: no answer from $SILENT after 3 Connects in [0-9]* s: is nbmqd bound there, and the path open?" "$T/c.log")
[ "$n" = 1 ] || fail "noanswer: $n warnings"
grep -q "warning: socket noanswer: no answer" "$T/c.log" ||
    fail "noanswer: the warning is not at warning level"
ok "no answer: one warning after 3 Connects, $(json noanswer connects_unanswered c) unanswered so far"

# The refusals changed nothing at the bound side: no session.
[ "$(json enc peers s)" = 1 ] && [ "$(json plain peers s)" = 0 ] ||
    fail "a refused peer got a session"
ok "refused peers got no session; the good one is up"

# An application's own socket: the event comes as it connects.
NBMQ_SOCKET=$T/c.sock "$APPTOOL" events -c "$FREE" -w 1.5 \
    >"$T/ev.app1.out" 2>&1 || fail "apptool -c: $(cat "$T/ev.app1.out")"
grep -q "^connect_failed $FREE unreachable$" "$T/ev.app1.out" ||
    fail "apptool -c $FREE: $(cat "$T/ev.app1.out")"
NBMQ_SOCKET=$T/c.sock "$APPTOOL" events -c nonexistent.invalid:7001 -w 1.5 \
    >"$T/ev.app2.out" 2>&1 || fail "apptool -c: $(cat "$T/ev.app2.out")"
grep -q "^connect_failed nonexistent.invalid:7001 resolve$" \
    "$T/ev.app2.out" || fail "apptool -c name: $(cat "$T/ev.app2.out")"
ok "an application's own connect: unreachable, cannot resolve"

# nbmqcat: after a second, one line saying what it waits for; -w holds.
cat_wait() {	# ADDR SECS -> $T/cat.err, exit status in $rc
	rc=0
	echo hi | NBMQ_SOCKET=$T/c.sock "$NBMQCAT" -c "$1" -w "$2" \
	    2>"$T/cat.err" || rc=$?
}
cat_wait "$SILENT" 2
[ "$rc" = 1 ] || fail "nbmqcat to $SILENT: exit $rc"
# (Daemon c's reconnect_wait of 0.3 s applies to it: "no answer" by
# then; with the default 5 s the line says "no answer yet".)
grep -qx "nbmqcat: waiting for a peer at $SILENT (no answer)" \
    "$T/cat.err" || fail "nbmqcat: $(cat "$T/cat.err")"
[ "$(grep -c waiting "$T/cat.err")" = 1 ] || fail "nbmqcat: $(cat "$T/cat.err")"
grep -qx "nbmqcat: no peer within 2 seconds (no answer)" "$T/cat.err" ||
    fail "nbmqcat: $(cat "$T/cat.err")"
ok "nbmqcat, no answer: $(head -n 1 "$T/cat.err")"
cat_wait nonexistent.invalid:7001 1.5
[ "$rc" = 1 ] || fail "nbmqcat to nonexistent.invalid: exit $rc"
grep -qx "nbmqcat: waiting for a peer at nonexistent.invalid:7001 (cannot resolve)" \
    "$T/cat.err" || fail "nbmqcat: $(cat "$T/cat.err")"
grep -qx "nbmqcat: no peer within 1.5 seconds (cannot resolve)" \
    "$T/cat.err" || fail "nbmqcat: $(cat "$T/cat.err")"
ok "nbmqcat, cannot resolve: $(head -n 1 "$T/cat.err")"
cat_wait "$ENC" 1.5
grep -qx "nbmqcat: waiting for a peer at $ENC (refused: the peer is encrypted)" \
    "$T/cat.err" || fail "nbmqcat: $(cat "$T/cat.err")"
ok "nbmqcat, plain to encrypted: $(head -n 1 "$T/cat.err")"
# A name: the line says where it went.
FP=${FREE##*:}
cat_wait "localhost:$FP" 1.5
grep -Eqx "nbmqcat: waiting for a peer at localhost:$FP \((127\.0\.0\.1|\[::1\]):$FP: unreachable \(ICMP\)\)" \
    "$T/cat.err" || fail "nbmqcat: $(cat "$T/cat.err")"
ok "nbmqcat, a name: $(head -n 1 "$T/cat.err")"
# Receiving (-r -c): silent with a peer, the same line without one.
rc=0
NBMQ_SOCKET=$T/c.sock "$NBMQCAT" -c "$PLAIN" -r -w 1.5 >"$T/cat.out" \
    2>"$T/cat.err" || rc=$?
[ "$rc" = 0 ] && [ ! -s "$T/cat.err" ] ||
    fail "nbmqcat -r to a peer: exit $rc, $(cat "$T/cat.err")"
NBMQ_SOCKET=$T/c.sock "$NBMQCAT" -c "$FREE" -r -w 1.5 >"$T/cat.out" \
    2>"$T/cat.err" || rc=$?
grep -qx "nbmqcat: waiting for a peer at $FREE (unreachable (ICMP))" \
    "$T/cat.err" || fail "nbmqcat -r: $(cat "$T/cat.err")"
ok "nbmqcat -r: $(head -n 1 "$T/cat.err")"
# A peer at once: nothing said.
cat_wait "$PLAIN" 5
[ "$rc" = 0 ] && [ ! -s "$T/cat.err" ] ||
    fail "nbmqcat to a peer: exit $rc, $(cat "$T/cat.err")"
ok "nbmqcat with a peer: silent"
