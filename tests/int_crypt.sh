#!/bin/sh
# SPDX-License-Identifier: ISC
# Encryption (PROTOCOL.md 4.2): two daemons with sodium encryptors exchange
# messages over dealer, safe_dealer and radio -> dish, through relays that
# record every datagram: no plaintext on the wire.  Then, at the bound
# side: any byte of a captured frame flipped is dropped and counted, a
# replayed frame is dropped, a spoofed frame from a new address moves
# nothing while a real NAT rebinding is followed; a key not in peers gets
# no session; plain and encrypted refuse each other with a log line; key
# files with loose modes are refused; the example plugin works; no key
# ever shows in a log.
. "$(dirname "$0")/lib.sh"

CTL="$BIN/nbmqctl"
PLUGIN="$BIN/examples/encryptor_xor.so"
RELAY="/usr/bin/python3 $TOP/tests/lossy_relay.py"
MARK=SECRET-PLAINTEXT-MARK

# Keys: a (the bound daemon), b (the connecting one), x (a stranger).
umask 077
for k in a b x; do
	"$CTL" genkey >"$T/$k.key" || fail "nbmqctl genkey"
	"$CTL" pubkey <"$T/$k.key" >"$T/$k.pub" || fail "nbmqctl pubkey"
done
umask 022
[ "$(stat -c %a "$T/a.key")" = 600 ] || fail "genkey file mode"
[ "$(wc -c <"$T/a.pub")" = 45 ] || fail "pubkey: $(cat "$T/a.pub")"
echo "correct horse battery staple" >"$T/xor.pass"
chmod 600 "$T/xor.pass"
A_PUB=$(cat "$T/a.pub")
B_PUB=$(cat "$T/b.pub")
X_PUB=$(cat "$T/x.pub")
ok "nbmqctl genkey / pubkey: keys in files of mode 0600"

# json SOCK FIELD [DAEMON]: a field of `nbmqctl --json sockets`; drops.X
# for a drop reason.
json() {
	"$CTL" -S "$T/${3:-a}.sock" --json sockets | /usr/bin/python3 -c '
import json, sys
s = [x for x in json.load(sys.stdin)["sockets"] if x["name"] == sys.argv[1]][0]
v = s
for k in sys.argv[2].split("."):
    v = v[k]
print(v)' "$1" "$2"
}
# For wait_for, which needs a command: json_eq SOCK FIELD VALUE [DAEMON],
# json_ge SOCK FIELD MIN [DAEMON].
json_eq() { [ "$(json "$1" "$2" "${4:-a}")" = "$3" ]; }
json_ge() { [ "$(json "$1" "$2" "${4:-a}")" -ge "$3" ]; }

# Loose modes refused at start-up, with the fix in the message.
cp "$T/a.key" "$T/loose.key"
chmod 644 "$T/loose.key"
cat >"$T/loose.conf" <<CONF
[socket d]
type = dealer
bind = 127.0.0.1:0
encryptor = sodium
private_key_file = $T/loose.key
peers = $B_PUB
CONF
"$NBMQD" -t -c "$T/loose.conf" >"$T/loose.out" 2>&1 && fail "loose key accepted"
grep -q "loose.conf:5: private_key_file: .*mode 0644.*chmod 600" \
    "$T/loose.out" || fail "loose key: $(cat "$T/loose.out")"
ok "private key of mode 0644 refused: $(head -n 1 "$T/loose.out" | sed 's/.*: mode/mode/')"

# Daemon a: bound encrypted sockets of every type, one plain, one plugin.
enc_a() {
	printf 'encryptor = sodium\nprivate_key_file = %s\npeers = %s\n' \
	    "$T/a.key" "$B_PUB"
}
cat >"$T/a.conf" <<CONF
[socket d]
type = dealer
bind = 127.0.0.1:0
$(enc_a)

[socket sd]
type = safe_dealer
bind = 127.0.0.1:0
$(enc_a)

[socket dish]
type = dish
bind = 127.0.0.1:0
$(enc_a)

[socket plain]
type = dealer
bind = 127.0.0.1:0

[socket xor]
type = dealer
bind = 127.0.0.1:0
encryptor = $PLUGIN
private_key_file = $T/xor.pass
CONF
start_daemon a "$T/a.conf"
port_of() { sed -n "s/.*socket $1: bound to //p" "$T/a.log"; }
for s in d sd dish plain xor; do
	[ -n "$(port_of $s)" ] || fail "socket $s did not bind"
done
grep -q "socket xor: encryptor xor (an example; NOT SECURE) from $PLUGIN" \
    "$T/a.log" || fail "plugin not loaded: $(grep xor "$T/a.log")"

# A recording relay in front of d, sd, dish and plain.
for s in d sd dish plain; do
	$RELAY --target "$(port_of $s)" --loss 0 --dump "$T/cap.$s" \
	    --ready-file "$T/relay.$s" 2>"$T/relay-$s.log" &
	eval "RELAY_$s=\$!"
	PIDS="$PIDS $!"
done
for s in d sd dish plain; do
	wait_for 10 test -s "$T/relay.$s" || fail "relay $s did not start"
done
R() { cat "$T/relay.$1"; }

# Daemon b: the connecting side; and sockets that must be refused.
enc_b() {
	printf 'encryptor = sodium\nprivate_key_file = %s\npeers = %s\n' \
	    "$T/b.key" "$A_PUB"
}
cat >"$T/b.conf" <<CONF
[defaults]
reconnect_wait = 0.3

[socket d]
type = dealer
connect = $(R d)
$(enc_b)

[socket sd]
type = safe_dealer
connect = $(R sd)
$(enc_b)

[socket radio]
type = radio
connect = $(R dish)
$(enc_b)

[socket control]
type = dealer
connect = $(R plain)

[socket xor]
type = dealer
connect = $(port_of xor)
encryptor = $PLUGIN
private_key_file = $T/xor.pass

CONF
start_daemon b "$T/b.conf"
for s in d sd radio control xor; do
	wait_for 10 grep -q "socket $s: connecting -> up" "$T/b.log" ||
	    fail "b: socket $s not up"
done
grep -q "socket d: Connect from .*: key $(echo "$B_PUB" | cut -c1-8)\.\.\. authenticated" \
    "$T/a.log" || fail "no authenticated handshake in a's log"
ok "handshakes: dealer, safe_dealer, radio->dish, plugin up"

# nbmqctl: encryption and keys per socket and peer (issue 17).  a's d is
# "key <a's first 8>...", its peer b's d "key <b's first 8>..."; plain is
# plain; the plugin has no key to show.
A8="key $(echo "$A_PUB" | cut -c1-8)..."
B8="key $(echo "$B_PUB" | cut -c1-8)..."
json_eq d encryptor sodium || fail "d: encryptor $(json d encryptor)"
json_eq d key "$A8" || fail "d: key $(json d key), want $A8"
json_eq d key "$B8" b || fail "b's d: key $(json d key b), want $B8"
json_eq plain encryptor None || fail "plain: encryptor $(json plain encryptor)"
json_eq xor encryptor "$PLUGIN" || fail "xor: encryptor $(json xor encryptor)"
json_eq xor key None || fail "xor: key $(json xor key)"
pk=$("$CTL" -S "$T/a.sock" --json peers d | /usr/bin/python3 -c '
import json, sys
print(" ".join(p["key"] or "-" for p in json.load(sys.stdin)["peers"]))')
[ "$pk" = "$B8" ] || fail "a's peers of d: key $pk, want $B8"
"$CTL" -S "$T/a.sock" -l sockets >"$T/ctl-l.out" || fail "nbmqctl -l sockets"
grep -q "ENCRYPTION  *KEY" "$T/ctl-l.out" &&
    grep -q "^d .*sodium  *$A8" "$T/ctl-l.out" ||
    fail "nbmqctl -l sockets: $(cat "$T/ctl-l.out")"
"$CTL" -S "$T/a.sock" -o SOCKET,ADDRESS,KEY peers d >"$T/ctl-p.out" &&
    grep -q "^d .*$B8" "$T/ctl-p.out" ||
    fail "nbmqctl -o ...,KEY peers d: $(cat "$T/ctl-p.out")"
ok "nbmqctl: d is sodium, $A8 to its peers; its peer is $B8; plain and the plugin's keyless socket say so"

# Messages over every type, both ways where the type allows.
export NBMQ_SOCKET
msgs() { seq 1 "$2" | sed "s/^/$MARK-$1-/"; }
check_rx() {
	wait "$1" || fail "$2: receive failed: $(cat "$T/$2.err")"
	msgs "$3" "$4" | cmp -s - "$T/$2.out" ||
	    fail "$2: received $(head -c 300 "$T/$2.out")"
}
NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a d -r -n 50 -w 20 >"$T/d1.out" \
    2>"$T/d1.err" & P=$!
msgs d 50 | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a d -w 10 ||
    fail "send b.d"
check_rx $P d1 d 50
NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a d -r -n 50 -w 20 >"$T/d2.out" \
    2>"$T/d2.err" & P=$!
msgs back 50 | NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a d -w 10 ||
    fail "send a.d"
check_rx $P d2 back 50
ok "dealer: 50 messages each way"

# safe_dealer: 200 lines and one message of 20 kB (46 frames).
head -c 20000 /dev/zero | tr '\0' 'S' | sed "s/^/$MARK-big-/" >"$T/big"
NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a sd -r -n 201 -w 30 >"$T/sd1.all" \
    2>"$T/sd1.err" & P=$!
{ msgs sd 200 | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a sd -w 10 &&
  NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a sd -f "$T/big" -w 10; } ||
    fail "send b.sd"
wait $P || fail "sd: $(cat "$T/sd1.err")"
head -n 200 "$T/sd1.all" >"$T/sd1.out"
msgs sd 200 | cmp -s - "$T/sd1.out" || fail "sd: $(head -c 300 "$T/sd1.out")"
[ "$(tail -n 1 "$T/sd1.all")" = "$(cat "$T/big")" ] || fail "sd: big message"
NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a sd -r -n 20 -w 20 >"$T/sd2.out" \
    2>"$T/sd2.err" & P=$!
msgs sdback 20 | NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a sd -w 10 ||
    fail "send a.sd"
check_rx $P sd2 sdback 20
[ "$(json sd giveups b)" = 0 ] && [ "$(json sd giveups)" = 0 ] ||
    fail "safe_dealer gave up"
ok "safe_dealer: 201 messages (one of 20 kB) and 20 back, all acked"

NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a dish -r -n 30 -w 20 >"$T/dish.out" \
    2>"$T/dish.err" & P=$!
wait_for 10 json_eq dish apps 1 || fail "dish not attached"
msgs radio 30 | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a radio -w 10 ||
    fail "send b.radio"
check_rx $P dish radio 30
ok "radio -> dish: 30 messages"

NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a xor -r -n 10 -w 20 >"$T/xor.out" \
    2>"$T/xor.err" & P=$!
msgs xor 10 | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a xor -w 10 ||
    fail "send b.xor"
check_rx $P xor xor 10
ok "example plugin (encryptor_xor.so): 10 messages"

# The capture: datagrams both ways, and not one byte of plaintext.  The
# plain control socket, through the same kind of relay, shows the method
# finds plaintext when there is some.
NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a plain -r -n 1 -w 20 >/dev/null \
    2>"$T/plain.err" & P=$!
echo "$MARK-control" | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a control -w 10 ||
    fail "send control"
wait $P || fail "control message"
HEXMARK=$(printf '%s' "$MARK" | od -An -tx1 | tr -d ' \n')
n=$(cat "$T/cap.d" "$T/cap.sd" "$T/cap.dish" | wc -l)
# (100 to 350: the daemons batch messages and ack ranges of them,
# docs/PROTOCOL.md 4.3 and 4.6, as the timing falls; over 1000 frames
# without.  The 20 kB message alone is 15 sealed frames.)
[ "$n" -gt 50 ] || fail "only $n datagrams captured"
if grep -q "$HEXMARK" "$T/cap.d" "$T/cap.sd" "$T/cap.dish"; then
	fail "plaintext on the wire: $(grep -l "$HEXMARK" "$T"/cap.*)"
fi
grep -q "$HEXMARK" "$T/cap.plain" || fail "the control capture misses plaintext"
grep -q '^c2t 0181' "$T/cap.d" && grep -q '^t2c 0182' "$T/cap.d" &&
    ! grep -q -E '^(c2t|t2c) 010[0-7]' "$T/cap.d" "$T/cap.sd" \
    "$T/cap.dish" || fail "a plain frame kind on an encrypted socket"
# The extension, sealed: Hello both ways (0x86), Batches (0x87).
grep -q '^c2t 0186' "$T/cap.sd" && grep -q '^t2c 0186' "$T/cap.sd" &&
    grep -q -E '^(c2t|t2c) 0187' "$T/cap.sd" ||
    fail "no sealed Hello or Batch in the capture"
ok "capture: $n datagrams, every kind 0x8x (sealed Hello and Batch too), no plaintext (the plain control has it)"

# Tampering: a data frame held back by the relay (so its nonce is fresh),
# every byte flipped in turn, sent from a new address: each one dropped
# and counted, nothing delivered, nobody moved.
kill -USR2 "$RELAY_d"
echo "$MARK-held" | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a d -w 10 ||
    fail "send held"
wait_for 10 grep -q '^held 0180' "$T/cap.d" || fail "relay held nothing"
FRAME=$(sed -n 's/^held //p' "$T/cap.d")
EP_D=$(port_of d)
drops0=$(json d drops_total)
rx0=$(json d rx_msgs)
auth0=$(json d drops.auth_failed)
rep0=$(json d drops.replay)
# Byte 0 and 1 (version, kind) get one bit flipped, the others all eight.
/usr/bin/python3 - "$EP_D" "$FRAME" <<'PY' || fail "tamper sender"
import socket, sys, time
host, port = sys.argv[1].rsplit(":", 1)
frame = bytes.fromhex(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
for i in range(len(frame)):
    b = bytearray(frame)
    b[i] ^= 0x01 if i < 2 else 0xff
    s.sendto(bytes(b), (host, int(port)))
    time.sleep(0.002)
PY
N=$(( ${#FRAME} / 2 ))
wait_for 10 json_ge d drops_total $((drops0 + N)) ||
    fail "tampered frames: $(($(json d drops_total) - drops0)) of $N counted"
sleep 0.3
[ "$(json d drops_total)" = $((drops0 + N)) ] ||
    fail "tampered: $(($(json d drops_total) - drops0)) drops for $N frames"
[ "$(json d rx_msgs)" = "$rx0" ] || fail "a tampered frame was delivered"
auth=$(( $(json d drops.auth_failed) - auth0 ))
rep=$(( $(json d drops.replay) - rep0 ))
[ $((auth + rep)) = $((N - 10)) ] ||
    fail "$auth auth_failed + $rep replay for $((N - 10)) sealed bytes"
ok "each of the $N bytes of a data frame flipped: $N drops, none delivered ($auth auth_failed, $rep replay; header: $(json d drops.bad_version) bad_version, $(json d drops.bad_handshake) bad_handshake, $(json d drops.unknown_session) unknown_session)"

# Replay: a frame that was delivered, as it was, from elsewhere (a data
# frame or a Batch of them).
FRAME=$(sed -n 's/^c2t \(018[07].*\)/\1/p' "$T/cap.d" | tail -n 1)
[ -n "$FRAME" ] || fail "no data frame captured"
rep0=$(json d drops.replay)
rx0=$(json d rx_msgs)
$PEER send-raw "$EP_D" "$FRAME" --wait 0.1 >/dev/null 2>&1
wait_for 5 json_eq d drops.replay $((rep0 + 1)) ||
    fail "replay not counted"
[ "$(json d rx_msgs)" = "$rx0" ] || fail "a replayed frame was delivered"
[ "$(json d peers)" = 1 ] || fail "d has $(json d peers) peers"
grep -q "socket d peer [0-9a-f]*: address" "$T/a.log" &&
    fail "a spoofed frame moved the peer: $(grep address "$T/a.log")"
ok "replayed frame dropped (replay), no address change from spoofed frames"

# A real rebinding: the relay moves b to a new port; its next sealed frame
# moves the session, and messages still flow.
OLD=$(sed -n 's/.*socket d: Connect from \([^:]*:[0-9]*\): key.*/\1/p' \
    "$T/a.log" | tail -n 1)
kill -USR1 "$RELAY_d"
wait_for 10 grep -q "socket d peer [0-9a-f]*: address $OLD -> " "$T/a.log" ||
    fail "no rebinding followed: $(tail -n 3 "$T/a.log")"
NBMQ_SOCKET=$T/a.sock "$NBMQCAT" -a d -r -n 5 -w 20 >"$T/d3.out" \
    2>"$T/d3.err" & P=$!
msgs moved 5 | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a d -w 10 || fail "send"
check_rx $P d3 moved 5
ok "NAT rebinding followed after an authenticated frame: $(grep -o "address $OLD -> [^ ]*" "$T/a.log")"

# Daemon c: a stranger's key, a plain peer at an encrypted socket, an
# encrypted one at a plain socket, each trying again every 0.3 s.
cat >"$T/c.conf" <<CONF
[defaults]
reconnect_wait = 0.3

[socket stranger]
type = dealer
connect = $(port_of d)
encryptor = sodium
private_key_file = $T/x.key
peers = $A_PUB

[socket plainto]
type = dealer
connect = $(port_of d)

[socket toplain]
type = dealer
connect = $(port_of plain)
$(enc_b)
CONF
start_daemon c "$T/c.conf"

# A key not in peers: no session, a counter, one line naming its start.
X8=$(echo "$X_PUB" | cut -c1-8)
wait_for 10 grep -q "socket d: Connect from .* refused: key $X8\.\.\. is not one of its peers" \
    "$T/a.log" || fail "stranger not refused in the log"
wait_for 10 json_ge d drops.key_not_allowed 3 || fail "key_not_allowed count"
[ "$(json stranger state c)" = connecting ] || fail "stranger got a session"
ok "unknown key: no session ($(json d drops.key_not_allowed) Connects refused, counted)"

# Plain and encrypted refuse each other, each time with a (rate-limited)
# log line at the bound side and a counter.
wait_for 10 grep -q "socket d: plain Connect from .* refused: this socket is encrypted (encryptor sodium)" \
    "$T/a.log" || fail "plain peer not refused in the log"
wait_for 10 grep -q "socket plain: encrypted Connect from .* refused: this socket is plain" \
    "$T/a.log" || fail "encrypted peer not refused in the log"
wait_for 10 json_ge d drops.plain 3 || fail "plain refusals counted"
wait_for 10 json_ge plain drops.encrypted 3 ||
    fail "encrypted refusals counted"
[ "$(json plainto state c)" = connecting ] &&
    [ "$(json toplain state c)" = connecting ] || fail "a mixed session"
[ "$(json d peers)" = 1 ] && [ "$(json plain peers)" = 1 ] ||
    fail "a refused peer got a session"
# Within 10 s of the first refusal: one line each, the rest counted.
lines=$(grep -c "plain Connect from .* refused" "$T/a.log")
lines2=$(grep -c "encrypted Connect from .* refused" "$T/a.log")
[ "$lines" = 1 ] && [ "$lines2" = 1 ] ||
    fail "$lines and $lines2 refusal lines: not rate-limited"
ok "plain <-> encrypted refused: $(json d drops.plain) and $(json plain drops.encrypted) counted, $lines log line(s) each"

# An independent initiator (tests/sodium_peer.py: hashlib's BLAKE2b and
# libsodium's primitives, written from the handshake's description): the
# handshake, the key schedule and sealing agree with the daemon's, byte
# for byte; then, with both static private keys and the recording, no
# frame opens (forward secrecy).
cat >"$T/k.conf" <<CONF
[socket kat]
type = dealer
bind = 127.0.0.1:0
encryptor = sodium
private_key_file = $T/a.key
peers = $X_PUB
CONF
start_daemon k "$T/k.conf"
"$APPTOOL" -S "$T/k.sock" echo -a kat -n 1 >"$T/kat.out" 2>"$T/kat.err" &
KAT=$!
PIDS="$PIDS $KAT"
wait_for 10 log_has k "socket kat: attached" || fail "echo did not attach"
EPK=$(sed -n 's/.*socket kat: bound to //p' "$T/k.log")
out=$(/usr/bin/python3 "$TOP/tests/sodium_peer.py" "$EPK" "$A_PUB" \
    "$T/x.key" "$T/a.key" "kat $$") || fail "independent initiator: $out"
wait "$KAT" || fail "echo: $(cat "$T/kat.err")"
ok "$out"

# No key in any log, ever.
for k in a b x; do
	K=$(cat "$T/$k.key")
	grep -q -F -- "$K" "$T"/*.log && fail "private key $k in a log"
	P=$(cat "$T/$k.pub")
	grep -q -F -- "$P" "$T"/*.log && fail "public key $k in a log"
done
grep -q -F "correct horse" "$T"/*.log && fail "the passphrase in a log"
ok "no key in any log"
