#!/bin/sh
# SPDX-License-Identifier: ISC
# nbmqctl against the known truth: two daemons with one session between a
# configured bound socket and a configured connecting one.  Session ids
# equal on both ends, addresses, counters that moved by exactly what was
# sent, one drop reason per malformed frame, a rebind, a peer killed with
# -9 reported down (keepalive) to a subscribed application, in the
# counters and in the log; exit codes, answers of the wrong version, and
# reload refused to an unprivileged user.
. "$(dirname "$0")/lib.sh"

CTL=$BIN/nbmqctl

# json FILE EXPR: evaluate EXPR over the JSON document d in FILE.
json() {
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# ctl DAEMON ARGS...: nbmqctl on daemon DAEMON's socket, output in $T/ctl.out.
ctl() {
	_d=$1
	shift
	"$CTL" -S "$T/$_d.sock" "$@" >"$T/ctl.out" 2>"$T/ctl.err" ||
	    fail "nbmqctl $*: exit $?: $(cat "$T/ctl.err")"
}

# ---- exit codes, without a daemon --------------------------------------
t0=$(date +%s%N)
"$CTL" -S "$T/none.sock" status >"$T/nod.out" 2>"$T/nod.err"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc -eq 1 ] || fail "no daemon: exit $rc, want 1"
[ "$(wc -l <"$T/nod.err")" -eq 1 ] && [ ! -s "$T/nod.out" ] ||
    fail "no daemon: want one line on stderr: $(cat "$T/nod.err" "$T/nod.out")"
grep -q "not running" "$T/nod.err" || fail "no daemon: $(cat "$T/nod.err")"
[ $ms -lt 2000 ] || fail "no daemon: took $ms ms"
ok "no daemon: exit 1 in $ms ms: $(cat "$T/nod.err")"

for args in "" "bogus" "peers a b" "status extra" "-w x status" \
    "-w 0 status" "--bogus status" "sockets --bogus" "help nosuch"; do
	# shellcheck disable=SC2086
	"$CTL" -S "$T/none.sock" $args >/dev/null 2>"$T/usage.err"
	rc=$?
	[ $rc -eq 2 ] || fail "nbmqctl $args: exit $rc, want 2"
	# One line that says what is wrong, one that says where to look.
	[ "$(wc -l <"$T/usage.err")" -eq 2 ] &&
	    tail -n 1 "$T/usage.err" | grep -q "^Try 'nbmqctl .*--help'" ||
	    fail "nbmqctl $args: want an error and a hint: $(cat "$T/usage.err")"
done
for c in status sockets peers stats reload help; do
	out=$("$CTL" -S "$T/none.sock" $c --help) || fail "$c --help: exit $?"
	echo "$out" | grep -q "^usage: nbmqctl .* $c" || fail "$c --help: $out"
done
"$CTL" --help | grep -q "^  peers    \[SOCKET\]" || fail "--help lists no peers"
ok "usage errors exit 2; --help on every command exits 0"

# ---- something at the socket that is not this nbmqd ---------------------
# fake MODE: answer hello with another IPC version, garbage, or nothing.
fake() {
	rm -f "$T/fake.sock" "$T/fake.ready"
	/usr/bin/python3 - "$T/fake.sock" "$1" "$T/fake.ready" <<'PY' &
import socket, struct, sys, time
path, mode, ready = sys.argv[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(1)
open(ready, "w").close()
c, _ = s.accept()
c.settimeout(5)
h = c.recv(16)
length, typ, flags, handle, reqid = struct.unpack("=IHHII", h)
c.recv(length)
if mode == "version":
	# IPC_RESULT: err EPROTO, value = the version this daemon speaks
	c.sendall(struct.pack("=IHHII", 16, 0x0103, 0, 0, reqid) +
	    struct.pack("=iIQ", 71, 0, 1))
elif mode == "garbage":
	c.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b"x" * 100)
else:
	time.sleep(3)
time.sleep(0.5)
PY
	PIDS="$PIDS $!"
	wait_for 5 test -f "$T/fake.ready" || fail "fake daemon did not start"
}
for mode in version garbage silent; do
	fake $mode
	t0=$(date +%s%N)
	"$CTL" -S "$T/fake.sock" -w 0.5 status >"$T/fake.out" 2>"$T/fake.err"
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $rc -eq 1 ] || fail "$mode daemon: exit $rc, want 1"
	[ "$(wc -l <"$T/fake.err")" -eq 1 ] && [ ! -s "$T/fake.out" ] ||
	    fail "$mode daemon: want one line: $(cat "$T/fake.err" "$T/fake.out")"
	[ $ms -lt 2500 ] || fail "$mode daemon: took $ms ms"
	[ $mode != version ] || grep -q "version 1, .* version $(sed -n \
	    's/^#define NBMQ_IPC_VERSION[[:space:]]*\([0-9]*\).*/\1/p' \
	    "$TOP/common/nbmq-protocol.h")\>" "$T/fake.err" ||
	    fail "version mismatch: $(cat "$T/fake.err")"
	ok "$mode daemon: $(cat "$T/fake.err")"
done

# ---- two daemons, one session ------------------------------------------
cat >"$T/a.conf" <<CONF
[daemon]
ipc_mode = 0666

[defaults]
peer_heartbeat_ivl = 0.1
peer_keepalive = 0.8

[socket srv]
type = dealer
bind = 127.0.0.1:0
CONF
start_daemon a "$T/a.conf"
EP=$(sed -n 's/.*socket srv: bound to //p' "$T/a.log" | head -n 1)
[ -n "$EP" ] || fail "no endpoint for srv"
cat >"$T/b.conf" <<CONF
[defaults]
peer_heartbeat_ivl = 0.1
peer_keepalive = 0.8

[socket cli]
type = dealer
connect = $EP
CONF

# An application on srv, subscribed to peer events before the peer comes.
"$APPTOOL" -S "$T/a.sock" events -a srv -w 60 >"$T/ev.out" 2>&1 &
EVPID=$!
PIDS="$PIDS $EVPID"
wait_for 5 grep -q ready "$T/ev.out" || fail "events app: $(cat "$T/ev.out")"
start_daemon b "$T/b.conf"
peers1() { ctl "$1" --json peers && [ "$(json "$T/ctl.out" 'len(d["peers"])')" = 1 ]; }
wait_for 5 peers1 a || fail "no peer on a"
wait_for 5 peers1 b || fail "no peer on b"

ctl a --json peers && cp "$T/ctl.out" "$T/pa.json"
ctl b --json peers && cp "$T/ctl.out" "$T/pb.json"
ctl b --json sockets && cp "$T/ctl.out" "$T/sb.json"
SID=$(json "$T/pa.json" 'd["peers"][0]["session"]')
[ "$(json "$T/pb.json" 'd["peers"][0]["session"]')" = "$SID" ] ||
    fail "session ids differ: a $SID, b $(json "$T/pb.json" 'd["peers"][0]["session"]')"
echo "$SID" | grep -Eq '^[0-9a-f]{16}$' || fail "session id $SID"
# b sees a at the bound endpoint; a sees b at b's local port.
[ "$(json "$T/pb.json" 'd["peers"][0]["address"]')" = "$EP" ] ||
    fail "b's peer at $(json "$T/pb.json" 'd["peers"][0]["address"]'), want $EP"
BPORT=$(json "$T/sb.json" 'd["sockets"][0]["port"]')
[ "$(json "$T/pa.json" 'd["peers"][0]["address"]')" = "127.0.0.1:$BPORT" ] ||
    fail "a's peer at $(json "$T/pa.json" 'd["peers"][0]["address"]'), want 127.0.0.1:$BPORT"
[ "$(json "$T/sb.json" 'd["sockets"][0]["remote"]')" = "$EP" ] ||
    fail "b's socket connects to $(json "$T/sb.json" 'd["sockets"][0]["remote"]')"
for f in pa pb; do
	[ "$(json "$T/$f.json" 'd["peers"][0]["state"]')" = up ] || fail "$f: not up"
	[ "$(json "$T/$f.json" 'd["peers"][0]["prev_address"]')" = None ] ||
	    fail "$f: a previous address before any rebind"
	[ "$(json "$T/$f.json" 'd["peers"][0]["last_rx_ms"] < 800')" = True ] ||
	    fail "$f: last_rx_ms $(json "$T/$f.json" 'd["peers"][0]["last_rx_ms"]')"
done
ok "session $SID on both ends; a sees 127.0.0.1:$BPORT, b sees $EP"

# Two nbmq daemons speak the extension (PROTOCOL.md 4.3, 4.4) once the
# Hellos crossed: both ends say so, with the negotiated frame size.
ext_up() {
	"$CTL" -S "$T/$1.sock" --json peers >"$T/ext.json" 2>/dev/null &&
	[ "$(json "$T/ext.json" 'd["peers"][0]["extension"] and d["peers"][0]["slow"] and d["peers"][0]["frame_size"] == 1452 and d["peers"][0]["pace_rate"] == 0')" = True ]
}
wait_for 5 ext_up a || fail "a: no extension: $(cat "$T/ext.json")"
wait_for 5 ext_up b || fail "b: no extension: $(cat "$T/ext.json")"
ctl a -l peers
grep -q " ext/1452+slow " "$T/ctl.out" || fail "peers table: no wire: $(cat "$T/ctl.out")"
ok "both ends: extension, Slow, frames of 1452 bytes, not paced (ext/1452+slow)"

# The same in the table, under its header (-l: every column).
ctl a -l peers
head -n 1 "$T/ctl.out" | grep -q "^SOCKET  *SESSION  *ADDRESS  *STATE  *UP  *LAST RX  *LAST TX  *REACH" ||
    fail "peers header: $(head -n 1 "$T/ctl.out")"
grep -Eq "^srv +$SID +127\.0\.0\.1:$BPORT +up +[0-9.smhd]+ +[0-9.smhd]+ ago +[0-9.smhd]+ ago +[0-7]{3} " "$T/ctl.out" ||
    fail "peers table: $(cat "$T/ctl.out")"
ctl a -l sockets
grep -Eq "^srv +dealer +bound +bind +$EP +${EP##*:} +1 +$EVPID " "$T/ctl.out" ||
    fail "sockets table: $(cat "$T/ctl.out")"
ctl a --json sockets
[ "$(json "$T/ctl.out" 'd["sockets"][0]["pids"]')" = "[$EVPID]" ] ||
    fail "srv's applications: $(json "$T/ctl.out" 'd["sockets"][0]["pids"]')"
# By default a compact view that fits 80 columns, the reach explained;
# -o picks columns by header.
for c in sockets peers index stats; do
	ctl a "$c"
	awk 'length($0) > 80 { exit 1 }' "$T/ctl.out" ||
	    fail "$c wider than 80 columns: $(cat "$T/ctl.out")"
done
ctl a peers
grep -q "^REACH: the last 8 heartbeat intervals" "$T/ctl.out" ||
    fail "no reach legend: $(cat "$T/ctl.out")"
ctl a -o name,rx_msgs sockets
[ "$(head -n 1 "$T/ctl.out")" = "NAME  RX MSGS" ] ||
    fail "-o name,rx_msgs: $(head -n 1 "$T/ctl.out")"
ok "tables: peers and sockets (application pid $EVPID); by default within 80 columns, -l all, -o chosen"

# ---- counters move by exactly what was sent -----------------------------
ctl a --json peers && cp "$T/ctl.out" "$T/pa0.json"
ctl b --json peers && cp "$T/ctl.out" "$T/pb0.json"
ctl a --json stats && cp "$T/ctl.out" "$T/sa0.json"
printf 'one\ntwo\nthree\nfour\nfive\nsix\nseven\n' >"$T/msgs"
"$NBMQCAT" -S "$T/b.sock" -a cli -w 10 <"$T/msgs" || fail "nbmqcat send"
N=7
BYTES=$(tr -d '\n' <"$T/msgs" | wc -c)
rx_is() {
	ctl a --json peers &&
	[ "$(json "$T/ctl.out" 'd["peers"][0]["rx_msgs"]')" = \
	    "$(( $(json "$T/pa0.json" 'd["peers"][0]["rx_msgs"]') + $1 ))" ]
}
wait_for 5 rx_is $N || fail "a's rx_msgs: $(json "$T/ctl.out" 'd["peers"][0]["rx_msgs"]')"
cp "$T/ctl.out" "$T/pa1.json"
ctl b --json peers && cp "$T/ctl.out" "$T/pb1.json"
delta() { echo $(( $(json "$2" "d[\"peers\"][0][\"$3\"]") - $(json "$1" "d[\"peers\"][0][\"$3\"]") )); }
[ "$(delta "$T/pa0.json" "$T/pa1.json" rx_bytes)" = "$BYTES" ] ||
    fail "a's rx_bytes moved by $(delta "$T/pa0.json" "$T/pa1.json" rx_bytes), want $BYTES"
[ "$(delta "$T/pa0.json" "$T/pa1.json" tx_msgs)" = 0 ] || fail "a sent messages"
[ "$(delta "$T/pb0.json" "$T/pb1.json" tx_msgs)" = $N ] ||
    fail "b's tx_msgs moved by $(delta "$T/pb0.json" "$T/pb1.json" tx_msgs), want $N"
[ "$(delta "$T/pb0.json" "$T/pb1.json" tx_bytes)" = "$BYTES" ] ||
    fail "b's tx_bytes moved by $(delta "$T/pb0.json" "$T/pb1.json" tx_bytes)"
[ "$(delta "$T/pb0.json" "$T/pb1.json" rx_msgs)" = 0 ] || fail "b received messages"
ctl a --json stats
[ "$(( $(json "$T/ctl.out" 'd["rx_msgs"]') - $(json "$T/sa0.json" 'd["rx_msgs"]') ))" = $N ] ||
    fail "a's stats rx_msgs"
wait_for 5 sh -c "[ \$(grep -c '^msg $SID ' '$T/ev.out') -eq $N ]" ||
    fail "the application got $(grep -c "^msg" "$T/ev.out") messages"
ok "$N messages, $BYTES bytes: a rx +$N, b tx +$N, exactly; the application got $N"

# ---- one malformed frame, one drop reason -------------------------------
drops() { json "$1" 'sorted(d["drops"].items())'; }
ctl a --json stats && cp "$T/ctl.out" "$T/st0.json"
$PEER send-raw "$EP" "$($PEER frame heartbeat --version 2 --session 0x$SID)" \
    --wait 0.05 >/dev/null 2>&1
bad_version_is() {
	ctl a --json stats &&
	[ "$(json "$T/ctl.out" 'd["drops"]["bad_version"]')" = \
	    "$(( $(json "$T/st0.json" 'd["drops"]["bad_version"]') + $1 ))" ]
}
wait_for 5 bad_version_is 1 || fail "bad_version: $(drops "$T/ctl.out")"
/usr/bin/python3 - "$T/st0.json" "$T/ctl.out" bad_version <<'PY' || fail "drops moved: $(drops "$T/ctl.out")"
import json, sys
a, b = (json.load(open(f))["drops"] for f in sys.argv[1:3])
moved = {k: b[k] - a[k] for k in a if b[k] != a[k]}
sys.exit(0 if moved == {sys.argv[3]: 1} else 1)
PY
ok "a frame of version 2: bad_version +1, no other drop counter moved"

# A data frame of the live session whose length disagrees: counted on the peer.
ctl a --json peers && cp "$T/ctl.out" "$T/pd0.json"
ctl a --json stats && cp "$T/ctl.out" "$T/st0.json"
$PEER send-raw "$EP" "$($PEER frame data --session 0x$SID --chunk-size 9 --data 00)" \
    --wait 0.05 >/dev/null 2>&1
peer_bad_length_is() {
	ctl a --json peers &&
	[ "$(json "$T/ctl.out" 'd["peers"][0]["drops"]["bad_length"]')" = "$1" ]
}
wait_for 5 peer_bad_length_is 1 || fail "peer bad_length: $(cat "$T/ctl.out")"
cp "$T/ctl.out" "$T/pd1.json"
ctl a --json stats
/usr/bin/python3 - "$T/st0.json" "$T/ctl.out" bad_length <<'PY' || fail "drops moved: $(drops "$T/ctl.out")"
import json, sys
a, b = (json.load(open(f))["drops"] for f in sys.argv[1:3])
moved = {k: b[k] - a[k] for k in a if b[k] != a[k]}
sys.exit(0 if moved == {sys.argv[3]: 1} else 1)
PY
[ "$(json "$T/pd1.json" 'd["peers"][0]["drops_total"]')" = 1 ] ||
    fail "peer drops_total $(json "$T/pd1.json" 'd["peers"][0]["drops_total"]')"
[ "$(json "$T/pd1.json" 'd["peers"][0]["address"]')" = "127.0.0.1:$BPORT" ] ||
    fail "a malformed frame moved the peer"
ctl a -l peers
grep -Eq " 1 \(bad_length 1\)( |$)" "$T/ctl.out" || fail "peers table drops: $(cat "$T/ctl.out")"
ok "a data frame with a bad length: the peer's and the daemon's bad_length +1"

# ---- a rebind: the peer's address follows, the previous one is kept -----
FROM=$(free_udp_port)
$PEER send-raw "$EP" "$($PEER frame heartbeat --session 0x$SID)" \
    --from-port "$FROM" --wait 0.05 >/dev/null 2>&1
wait_for 5 grep -q "^address $SID 127.0.0.1:$FROM 127.0.0.1:$BPORT$" "$T/ev.out" ||
    fail "no address event: $(cat "$T/ev.out")"
# b's next heartbeat moves it back.
wait_for 5 grep -q "^address $SID 127.0.0.1:$BPORT 127.0.0.1:$FROM$" "$T/ev.out" ||
    fail "no address event back: $(cat "$T/ev.out")"
ctl a --json peers
[ "$(json "$T/ctl.out" 'd["peers"][0]["prev_address"]')" = "127.0.0.1:$FROM" ] ||
    fail "prev_address $(json "$T/ctl.out" 'd["peers"][0]["prev_address"]')"
ctl a --json stats
[ "$(json "$T/ctl.out" 'd["peer_events"]["address_changed"]')" = 2 ] ||
    fail "address_changed $(json "$T/ctl.out" 'd["peer_events"]["address_changed"]')"
ok "rebind to :$FROM and back: address events, prev_address 127.0.0.1:$FROM"

# ---- the peer dies: keepalive -------------------------------------------
forget_daemon "$PID_b"; kill -9 "$PID_b"
wait_for 5 grep -q "^down $SID 127.0.0.1:$BPORT keepalive$" "$T/ev.out" ||
    fail "no down event: $(cat "$T/ev.out")"
# In order: up, the messages, the rebinds, down.
order=$(sed -n '/^ready$/d; s/^\([a-z_]*\) .*/\1/p' "$T/ev.out" | uniq | tr '\n' ' ')
[ "$order" = "up msg address down " ] || fail "events in order: $order"
ctl a --json stats
[ "$(json "$T/ctl.out" 'd["peer_events"]["down_keepalive"]')" = 1 ] &&
[ "$(json "$T/ctl.out" 'd["peer_events"]["up"]')" = 1 ] &&
[ "$(json "$T/ctl.out" 'd["peers"]')" = 0 ] || fail "stats after kill: $(cat "$T/ctl.out")"
log_has a "peer $SID at 127.0.0.1:$BPORT: down (keepalive timeout)" ||
    fail "no keepalive line in the log"
ctl a --json peers
[ "$(json "$T/ctl.out" 'd["peers"]')" = "[]" ] || fail "a dead peer listed"
ctl a peers
[ "$(cat "$T/ctl.out")" = "$(head -n 1 "$T/ctl.out")" ] || fail "peers: $(cat "$T/ctl.out")"
ok "peer killed: 'down $SID keepalive' to the application, in stats and log"

# ---- status --------------------------------------------------------------
ctl a --json status
[ "$(json "$T/ctl.out" 'd["pid"]')" = "$PID_a" ] || fail "status pid"
[ "$(json "$T/ctl.out" 'd["config"]')" = "$T/a.conf" ] || fail "status config"
[ "$(json "$T/ctl.out" '(d["sockets"], d["configured_sockets"], d["peers"])')" = "(1, 1, 0)" ] ||
    fail "status: $(cat "$T/ctl.out")"
[ "$(json "$T/ctl.out" 'd["rx_msgs"]')" = $N ] || fail "status rx_msgs"
ctl a status
grep -q "^nbmqd [0-9.]*, pid $PID_a, up " "$T/ctl.out" || fail "status: $(cat "$T/ctl.out")"
ok "status: pid $PID_a, $T/a.conf, 1 socket, $N messages received"

# ---- reload: root may, others may not ------------------------------------
ctl a reload
grep -q "configuration reloaded" "$T/ctl.out" || fail "reload: $(cat "$T/ctl.out")"
cp "$T/a.conf" "$T/a.conf.good"
printf '\n[socket bad]\ntype = dealer\nbogus_key = 1\n' >>"$T/a.conf"
"$CTL" -S "$T/a.sock" reload >"$T/rl.out" 2>"$T/rl.err"
rc=$?
[ $rc -eq 1 ] || fail "reload of a bad config: exit $rc"
grep -q "a.conf:[0-9]*: .*bogus_key" "$T/rl.err" || fail "reload errors: $(cat "$T/rl.err")"
cp "$T/a.conf.good" "$T/a.conf"
ok "reload as root: 0; a bad config: exit 1, $(grep -m 1 bogus_key "$T/rl.err")"

if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null &&
    setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
	chmod 755 "$T"
	NOBODY="setpriv --reuid=65534 --regid=65534 --clear-groups"
	$NOBODY "$CTL" -S "$T/a.sock" status >"$T/nb.out" 2>&1 ||
	    fail "status as nobody: $(cat "$T/nb.out")"
	$NOBODY "$CTL" -S "$T/a.sock" reload >"$T/nb.out" 2>"$T/nb.err"
	rc=$?
	[ $rc -eq 1 ] || fail "reload as nobody: exit $rc"
	grep -q "permission denied" "$T/nb.err" || fail "reload as nobody: $(cat "$T/nb.err")"
	ok "uid 65534 reads status; reload refused: $(cat "$T/nb.err")"
else
	echo "skip $NAME: reload as another user needs root and setpriv"
fi

# ---- send HWM events -----------------------------------------------------
# A safe_dealer towards a plain dealer gets no acks: its messages stay
# counted until given up, so the window really closes, whatever the load.
out=$("$APPTOOL" -S "$T/a.sock" hwmev -t safe_dealer -c "$EP" -H 3 2>"$T/hwmev.log") || fail "hwmev: $out $(cat "$T/hwmev.log")"
ok "send HWM: $out"

# ---- a list longer than the daemon's output cap (1 MiB) -----------------
cat >"$T/c.conf" <<CONF
[defaults]
peer_keepalive = 60
peer_heartbeat_ivl = 30

[socket many]
type = dealer
bind = 127.0.0.1:0
CONF
start_daemon c "$T/c.conf"
CEP=$(sed -n 's/.*socket many: bound to //p' "$T/c.log" | head -n 1)
/usr/bin/python3 - "$CEP" <<'PY' || fail "connect flood"
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
socks = []
for i in range(2500):
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind(("127.0.0.1", 0))
	s.sendto(bytes([1, 1]) + bytes(8), (host, int(port)))	# Connect
	socks.append(s)
	if len(socks) == 200:
		for s in socks:
			s.close()
		socks = []
PY
settled() {
	ctl c --json stats && cp "$T/ctl.out" "$T/cs.json" && sleep 0.2 &&
	ctl c --json stats &&
	[ "$(json "$T/ctl.out" '(d["peers"], d["peer_events"])')" = \
	    "$(json "$T/cs.json" '(d["peers"], d["peer_events"])')" ]
}
wait_for 10 settled || fail "peers of c keep changing"
ctl c --json peers
/usr/bin/python3 - "$T/ctl.out" "$T/cs.json" <<'PY' || fail "long list"
import json, sys
peers = json.load(open(sys.argv[1]))["peers"]
st = json.load(open(sys.argv[2]))
n = len(peers)
assert n > 1800, n
assert n == st["peers"], (n, st["peers"])
assert len(set(p["session"] for p in peers)) == n
PY
ctl c -o socket,session peers
[ "$(wc -l <"$T/ctl.out")" = "$(( $(json "$T/cs.json" 'd["peers"]') + 1 ))" ] ||
    fail "peers table: $(wc -l <"$T/ctl.out") lines"
ok "$(json "$T/cs.json" 'd["peers"]') peers (>1 MiB) listed whole, each once, in JSON and in the table"
