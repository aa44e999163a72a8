#!/bin/sh
# SPDX-License-Identifier: ISC
# The stun socket (PROTOCOL.md 4.1) against clients nobody here wrote, and
# names and connect by name between daemons:
#  - Debian's stun-client (RFC 3489) and coturn's turnutils_stunclient
#    (RFC 5389, IPv4 and IPv6) get their mapped address from nbmqd;
#  - an independent client (stun_probe.py) checks FINGERPRINT, lengths and
#    the no-amplification rule; malformed requests are dropped and counted;
#  - tshark's STUN dissector decodes the answers without a bad FINGERPRINT
#    or a malformed packet;
#  - on loopback: a socket registers a name (the index, nbmqctl index), an
#    application connects to it by name, messages flow both ways; an
#    unknown name (404), a refused registration (stun_allow, 403), a stun
#    server that never answers and an expired entry are logged;
#  - in network namespaces: two private networks behind MASQUERADE NATs
#    that drop unsolicited UDP, like home routers, connect by name through
#    a public rendezvous daemon and exchange messages both ways; a third
#    behind a symmetric NAT (--random-fully) reports "hole punching
#    failed" and keeps trying, instead of hanging.
# Parts whose tools are missing, or namespaces where they are refused, are
# skipped with a message saying so.
. "$(dirname "$0")/lib.sh"

CTL=$BIN/nbmqctl
PROBE="/usr/bin/python3 $TOP/tests/stun_probe.py"
. "$(dirname "$0")/natlab.sh"


# ctl_json DAEMON COMMAND EXPR: nbmqctl --json COMMAND, then EXPR over d.
ctl_json() {
	"$CTL" -S "$T/$1.sock" --json $2 >"$T/ctl.json" 2>"$T/ctl.err" ||
	    return 1
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/ctl.json" "$3"
}

# drops DAEMON SOCKET REASON: a drop counter of a socket.
drops() {
	ctl_json "$1" sockets "[s for s in d['sockets'] if s['name'] == '$2'][0]['drops']['$3']"
}

P=$(free_udp_port)
P2=$(free_udp_port)
PV=$(free_udp_port)		# nothing answers there
P6=$(/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET6, socket.SOCK_DGRAM); s.bind(("::1",0)); print(s.getsockname()[1])' 2>/dev/null)

cat >"$T/r.conf" <<EOF
[socket rendezvous]
type = stun
bind = 127.0.0.1:$P
stun_refresh_ivl = 1
stun_allow = 127.0.0.0/8

[socket closed]
type = stun
bind = 127.0.0.1:$P2
stun_allow = 192.0.2.0/24, 2001:db8::/32
EOF
if [ -n "$P6" ]; then
	cat >>"$T/r.conf" <<EOF

[socket rendezvous6]
type = stun
bind = [::1]:$P6
EOF
fi
start_daemon r "$T/r.conf"

# tshark watches the stun sockets while the clients below ask them.
TSHARK=""
case $O in
*asan*)	skip "tshark: once, in the plain build" ;;
*)	if have tshark tshark; then
		tshark -i lo -f "udp port $P or udp port $P2${P6:+ or udp port $P6}" \
		    -w "$T/stun.pcapng" >"$T/tshark.out" 2>&1 &
		TSHARK=$!
		PIDS="$PIDS $TSHARK"
		if ! wait_for 15 grep -q "Capture started" "$T/tshark.out"; then
			skip "tshark does not capture here: $(tail -n 1 \
			    "$T/tshark.out")"
			kill "$TSHARK" 2>/dev/null
			TSHARK=""
		fi
	fi ;;
esac

# ---- real clients --------------------------------------------------------
if have stun stun-client; then
	timeout 5 stun "127.0.0.1:$P" 1 -v >"$T/stun.out" 2>&1
	port=$(sed -n 's/^Opened port \([0-9]*\) .*/\1/p' "$T/stun.out")
	grep -q "^MappedAddress = 127.0.0.1:$port\$" "$T/stun.out" ||
	    fail "stun-client: want MappedAddress 127.0.0.1:$port: $(tail -n 8 \
	    "$T/stun.out")"
	ok "Debian stun-client (RFC 3489, CHANGE-REQUEST 0): MappedAddress = 127.0.0.1:$port"
fi

if have turnutils_stunclient coturn; then
	timeout 5 turnutils_stunclient -p "$P" 127.0.0.1 >"$T/turn.out" 2>&1
	grep -q "IPv4. UDP reflexive addr: 127.0.0.1:[0-9]" "$T/turn.out" ||
	    fail "turnutils_stunclient: $(cat "$T/turn.out")"
	ok "coturn turnutils_stunclient (RFC 5389): $(grep -m 1 reflexive \
	    "$T/turn.out" | sed 's/^.*: IPv4/IPv4/')"
	if [ -n "$P6" ]; then
		timeout 5 turnutils_stunclient -p "$P6" ::1 >"$T/turn6.out" 2>&1
		grep -q "IPv6. UDP reflexive addr: ::1:[0-9]" "$T/turn6.out" ||
		    fail "turnutils_stunclient IPv6: $(cat "$T/turn6.out")"
		ok "coturn turnutils_stunclient over IPv6: $(grep -m 1 \
		    reflexive "$T/turn6.out" | sed 's/^.*: IPv6/IPv6/')"
	else
		skip "no IPv6 loopback here"
	fi
fi

out=$($PROBE probe 127.0.0.1 "$P") || fail "stun_probe IPv4"
ok "independent client, IPv4: $out"
if [ -n "$P6" ]; then
	out=$($PROBE probe ::1 "$P6") || fail "stun_probe IPv6"
	ok "independent client, IPv6: $out"
fi

n=$($PROBE malformed 127.0.0.1 "$P") || fail "a malformed request was answered"
m=$(drops r rendezvous stun_malformed)
f=$(drops r rendezvous stun_bad_fingerprint)
[ "$m" -eq $((n - 1)) ] && [ "$f" -eq 1 ] ||
    fail "$n malformed requests: stun_malformed $m, stun_bad_fingerprint $f"
ok "$n malformed requests unanswered, counted: stun_malformed $m, stun_bad_fingerprint $f"

n=$($PROBE flood 127.0.0.1 "$P" 100) || fail "flood"
l=$(drops r rendezvous stun_rate_limited)
[ "$n" -le 45 ] && [ "$n" -ge 35 ] && [ "$l" -ge 55 ] ||
    fail "100 requests at once: $n answered, $l rate-limited"
ok "100 requests at once from one port: $n answered, $l dropped (rate limit)"

if [ -n "$TSHARK" ]; then
	sleep 0.5
	kill -INT "$TSHARK"
	wait "$TSHARK"
	tshark -r "$T/stun.pcapng" -Y "stun || classicstun" >"$T/decoded" \
	    2>/dev/null
	good=$(tshark -r "$T/stun.pcapng" -Y "stun.type == 0x0101 && \
	    stun.att.crc32.status == 1" 2>/dev/null | wc -l)
	responses=$(grep -c "Success Response\|Binding Response" "$T/decoded")
	classic=$(grep -c "CLASSIC-STUN.*Binding Response" "$T/decoded")
	# stun_probe's malformed ones are not answers: only look at ours.
	badans=$(tshark -r "$T/stun.pcapng" -Y "(stun.att.crc32.bad || \
	    _ws.malformed) && udp.srcport in {$P $P2${P6:+ $P6}}" \
	    2>/dev/null | wc -l)
	[ "$badans" -eq 0 ] || fail "tshark: $badans bad answers: $(tshark -r \
	    "$T/stun.pcapng" -Y "stun.att.crc32.bad || _ws.malformed" \
	    2>/dev/null | head -n 5)"
	[ "$good" -ge 2 ] && [ "$responses" -ge 4 ] ||
	    fail "tshark: $responses responses, $good with a good FINGERPRINT: $(cat "$T/decoded")"
	[ ! -x "$(command -v stun)" ] || [ "$classic" -ge 1 ] ||
	    fail "tshark: no RFC 3489 response: $(cat "$T/decoded")"
	ok "tshark decodes $responses answers ($classic RFC 3489), $good with FINGERPRINT [Good], none bad or malformed"
fi

# ---- names on loopback ---------------------------------------------------
cat >"$T/b.conf" <<EOF
[socket bob]
type = dealer
bind = 127.0.0.1:0
name = bob
stun_server = localhost:$P
stun_refresh_ivl = 1

[socket eve]
type = dealer
bind = 127.0.0.1:0
name = eve
stun_server = 127.0.0.1:$P2
EOF
start_daemon b "$T/b.conf"
wait_for 10 log_has r "index: bob at 127.0.0.1:" || fail "bob not in the index"
wait_for 10 log_has b "socket bob: registered as bob at stun server" ||
    fail "bob: not registered"
wait_for 10 log_has b "refused the name eve: 403 Forbidden" ||
    fail "eve: refusal not logged"
ok "registered: $(grep -m 1 -o "index: bob at .*" "$T/r.log"); refused: $(grep -m 1 -o "stun server .* refused the name eve: 403 Forbidden" "$T/b.log")"

bobport=$(sed -n 's/.*socket bob: bound to 127.0.0.1:\([0-9]*\)$/\1/p' "$T/b.log")
wait_for 10 log_has b "socket bob: mapped address 127.0.0.1:$bobport " ||
    fail "bob: no mapped address"
if "$CTL" -S "$T/b.sock" help index >/dev/null 2>&1; then
	ctl_json b sockets "[s['mapped'] for s in d['sockets'] if s['name'] == 'bob'][0]" >"$T/mapped" ||
	    fail "nbmqctl sockets: $(cat "$T/ctl.err")"
	[ "$(cat "$T/mapped")" = "127.0.0.1:$bobport" ] ||
	    fail "nbmqctl sockets: mapped $(cat "$T/mapped"), want 127.0.0.1:$bobport"
	"$CTL" -S "$T/r.sock" index >"$T/index.out" ||
	    fail "nbmqctl index: $(cat "$T/index.out")"
	grep -q "^rendezvous  *bob  *127.0.0.1:$bobport " "$T/index.out" ||
	    fail "nbmqctl index: $(cat "$T/index.out")"
	ctl_json r index "[(e['socket'], e['name'], e['address']) for e in d['index']]" >"$T/index.json" ||
	    fail "nbmqctl --json index: $(cat "$T/ctl.err")"
	[ "$(cat "$T/index.json")" = "[('rendezvous', 'bob', '127.0.0.1:$bobport')]" ] ||
	    fail "nbmqctl --json index: $(cat "$T/index.json")"
	ok "nbmqctl: bob's mapped address 127.0.0.1:$bobport; index: $(sed -n 2p "$T/index.out" | tr -s ' ')"
else
	skip "nbmqctl has no index command yet: the daemon log says it"
fi

# An application connects by name (nbmq_connect), and a configured socket.
cat >"$T/a.conf" <<EOF
[socket alice]
type = dealer
connect = bob@127.0.0.1:$P
reconnect_wait = 1

[socket lost]
type = dealer
connect = nobody@127.0.0.1:$P
reconnect_wait = 1

[socket void]
type = dealer
connect = bob@127.0.0.1:$PV
reconnect_wait = 1
EOF
start_daemon a "$T/a.conf"
NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a bob -r -n 3 -w 10 >"$T/bob.out" \
    2>"$T/bob.err" &
rpid=$!
PIDS="$PIDS $rpid"
printf 'one\ntwo\n' | NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -c "bob@127.0.0.1:$P" \
    -w 5 2>"$T/cat.err" || fail "nbmqcat -c bob@...: $(cat "$T/cat.err")"
printf 'three\n' | NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a alice -w 5 \
    2>"$T/cat.err" || fail "alice: $(cat "$T/cat.err")"
wait "$rpid" || fail "bob received $(cat "$T/bob.out" "$T/bob.err")"
[ "$(sort "$T/bob.out" | tr '\n' ' ')" = "one three two " ] ||
    fail "bob received: $(cat "$T/bob.out")"
printf 'back\n' | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a bob -w 5 \
    2>"$T/cat.err" || fail "bob: $(cat "$T/cat.err")"
got=$(NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a alice -r -n 1 -w 5) ||
    fail "alice received nothing"
[ "$got" = "back" ] || fail "alice received $got"
log_has a "socket alice: bob is at 127.0.0.1:$bobport (stun server" ||
    fail "alice: lookup not logged"
ok "connect by name (nbmq_connect and the config): 3 messages to bob, 1 back"

wait_for 10 log_has a "nobody is not registered at stun server 127.0.0.1:$P (404" ||
    fail "404 not logged"
ok "unknown name: $(grep -m 1 -o "nobody is not registered.*" "$T/a.log")"

kill -TERM "$PID_b"
wait_for 10 log_has r "index: bob at 127.0.0.1:$bobport expired" ||
    fail "bob did not expire"
ok "gone for 3 refreshes: $(grep -m 1 -o "index: bob at .* expired.*" "$T/r.log")"
wait_for 10 log_has a "no answer from stun server 127.0.0.1:$PV about bob after 3 attempts" ||
    fail "silence not logged"
log_has a "socket void: connecting -> up" && fail "void: up?"
ok "no stun server: $(grep -m 1 -o "no answer from stun server.*" "$T/a.log")"

# ---- through NATs, in network namespaces -----------------------------------
natlab_start nbst$$ || exit 0
router 1 203.0.113.2
router 2 203.0.113.3
router 3 203.0.113.4 --random-fully


cat >"$T/nr.conf" <<EOF
[socket rendezvous]
type = stun
bind = 203.0.113.1:3478
stun_refresh_ivl = 1
stun_allow = 203.0.113.0/24
EOF
cat >"$T/nb.conf" <<EOF
[socket bob]
type = dealer
bind = 0.0.0.0:7000
name = bob
stun_server = 203.0.113.1:3478
stun_refresh_ivl = 1
EOF
cat >"$T/na.conf" <<EOF
[socket alice]
type = dealer
connect = bob@203.0.113.1:3478
reconnect_wait = 1
EOF
sed 's/alice/carol/' "$T/na.conf" >"$T/nc.conf"
ns_daemon "$NS_PUB" nr "$T/nr.conf"
ns_daemon "${S}h2" nb "$T/nb.conf"
wait_for 10 log_has nr "index: bob at 203.0.113.3:7000" ||
    fail "NAT: bob is not in the index as 203.0.113.3:7000"
ns_daemon "${S}h1" na "$T/na.conf"
ns_daemon "${S}h3" nc "$T/nc.conf"

wait_for 10 log_has na "socket alice: connecting -> up" ||
    fail "NAT: alice did not get through to bob"
printf 'over\nthe\nnats\n' | NBMQ_SOCKET=$T/na.sock "$NBMQCAT" -a alice -w 5 \
    2>"$T/cat.err" || fail "NAT: alice: $(cat "$T/cat.err")"
got=$(NBMQ_SOCKET=$T/nb.sock "$NBMQCAT" -a bob -r -n 3 -w 5 | tr '\n' ' ') ||
    fail "NAT: bob received $got"
[ "$got" = "over the nats " ] || fail "NAT: bob received $got"
printf 'and back\n' | NBMQ_SOCKET=$T/nb.sock "$NBMQCAT" -a bob -w 5 \
    2>"$T/cat.err" || fail "NAT: bob: $(cat "$T/cat.err")"
got=$(NBMQ_SOCKET=$T/na.sock "$NBMQCAT" -a alice -r -n 1 -w 5) ||
    fail "NAT: alice received nothing"
[ "$got" = "and back" ] || fail "NAT: alice received $got"
ok "NAT: 10.1.0.2 and 10.2.0.2, each behind its own NAT, connected by name: $(grep -o "peer .* at 203.0.113.3:7000: up" "$T/na.log"); 3 messages there, 1 back"

wait_for 10 log_has nc "hole punching to bob at 203.0.113.3:7000 failed" ||
    fail "symmetric NAT: no failure reported"
log_has nc "connecting -> up" && fail "symmetric NAT: carol got through?"
ok "symmetric NAT: $(grep -m 1 -o "socket carol: hole punching.*" "$T/nc.log" | cut -c1-110)..."
