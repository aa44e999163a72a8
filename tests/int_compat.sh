#!/bin/sh
# SPDX-License-Identifier: ISC
# Wire compatibility with an independent v0.2.0 peer (tests/peer_v020.py,
# written from PROTOCOL.md alone).  The peer fails on any frame of ours
# that breaks the spec, and on anything of nbmq's extension (docs/
# PROTOCOL.md 4.3) beyond what a v0.2.0 peer may see: it ignores Hello
# (kind 6) as PROTOCOL.md 1.2 says, and fails on a Batch (kind 7), on a
# Hello to a connecting peer, on a 4th Hello of a session.  Every daemon
# here runs with nbmq's defaults (coalesce = yes).
. "$(dirname "$0")/lib.sh"

# A configured socket lives with the daemon, so it keeps heart-beating
# after nbmqcat has detached.
cat >"$T/a.conf" <<CONF
[socket compat]
type = dealer
bind = 127.0.0.1:0

[socket mal]
type = dealer
bind = 127.0.0.1:0
max_message_size = 1048576
CONF
start_daemon a "$T/a.conf"
export NBMQ_SOCKET=$T/a.sock
N=300

# 1. The v0.2.0 peer connects to a bound nbmqd socket and sends N
#    multipart messages (every chunking edge, empty parts); nbmqcat prints
#    them in hex and they must equal what the peer says it sent.
"$NBMQCAT" -a compat -r -x -n $N -w 60 >"$T/rx.out" 2>"$T/rx.log" &
RX=$!
PIDS="$PIDS $RX"
EP=$(sed -n 's/.*socket compat: bound to //p' "$T/a.log")
$PEER connect "$EP" --send $N --seed 7 --timeout 60 \
    --linger 2.5 --min-heartbeats 1 >"$T/peer1.out" 2>"$T/peer1.log" ||
    fail "v0.2.0 peer (connect) failed: $(tail -n 5 "$T/peer1.log")"
wait "$RX" || fail "nbmqcat -r exit $?"
$PEER gen --count $N --seed 7 >"$T/expect1"
cmp -s "$T/expect1" "$T/rx.out" || fail "messages from the v0.2.0 peer differ"
grep -q "ignored 0 Hello" "$T/peer1.log" || fail "a Hello to a connecting v0.2.0 peer"
ok "v0.2.0 peer -> nbmqd: $N multipart messages byte-exact, heartbeats sent, no Hello"

# 2. nbmqd connects to a bound v0.2.0 peer and sends it lines; the peer
#    validates every frame and prints what it reassembled.
$PEER bind 127.0.0.1:0 --recv 3 --send 2 --seed 3 --no-empty --timeout 30 --ack \
    --ready-file "$T/peer.addr" >"$T/peer2.out" 2>"$T/peer2.log" &
PP=$!
PIDS="$PIDS $PP"
wait_for 10 test -s "$T/peer.addr" || fail "v0.2.0 peer did not bind"
PEP=$(cat "$T/peer.addr")
"$NBMQCAT" -c "$PEP" -r -x -n 2 -w 30 >"$T/rx2.out" 2>"$T/rx2.log" &
RX2=$!
PIDS="$PIDS $RX2"
# The peer sends to its newest session: let the receiver be it first.
wait_for 10 grep -q "connecting -> up" "$T/a.log" || fail "no session with the peer"
wait_for 10 test -s "$T/rx2.out" || fail "nothing from the v0.2.0 peer"
printf 'one\ntwo\n%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)" |
    "$NBMQCAT" -c "$PEP" -w 10 || fail "nbmqcat send to the v0.2.0 peer"
wait "$PP" || fail "v0.2.0 peer (bind) failed: $(tail -n 5 "$T/peer2.log")"
exp=$(printf 'one\ntwo\n%s\n' "$(head -c 3000 /dev/zero | tr '\0' x)" |
    while IFS= read -r l; do printf '%s' "$l" | od -v -An -tx1 | tr -d ' \n'; echo; done)
[ "$(cat "$T/peer2.out")" = "$exp" ] ||
    fail "v0.2.0 peer received: $(cat "$T/peer2.out")"
# The sender's socket closed cleanly behind its data: a Disconnected
# goodbye, so the peer stops sending into the session at once.
grep -q "session dropped" "$T/peer2.log" ||
    fail "no Disconnected from the closed socket: $(tail -n 3 "$T/peer2.log")"
ok "nbmqd -> v0.2.0 peer: handshake and 3 messages (one of 7 frames) validated, acks tolerated, Disconnected on close"
wait "$RX2" || fail "nbmqcat -r from the v0.2.0 peer exit $?"
$PEER gen --count 2 --seed 3 --no-empty >"$T/expect2"
cmp -s "$T/expect2" "$T/rx2.out" || fail "messages from the v0.2.0 bound peer differ"
ok "v0.2.0 bound peer -> nbmqd connecting socket: 2 messages byte-exact"

# 2b. A bound v0.2.0 peer over a longer session: nbmqd's connecting socket
#     offers its extension (Hello) with its first 3 heartbeats, gets no
#     answer, then stops; its 50 messages go as plain data frames (the
#     peer fails on any Batch).  The peer stays 4 s after the last one,
#     long enough for a 4th Hello (one heartbeat interval later).
$PEER bind 127.0.0.1:0 --recv 50 --timeout 30 --linger 4 --ack \
    --ready-file "$T/peer8.addr" >"$T/peer8.out" 2>"$T/peer8.log" &
P8=$!
PIDS="$PIDS $P8"
wait_for 10 test -s "$T/peer8.addr" || fail "v0.2.0 peer did not bind"
cat >"$T/b.conf" <<CONF
[socket up]
type = safe_dealer
connect = $(cat "$T/peer8.addr")
CONF
start_daemon b "$T/b.conf"
seq 1 50 | NBMQ_SOCKET=$T/b.sock "$NBMQCAT" -a up -w 10 ||
    fail "nbmqcat send through the configured socket"
wait "$P8" || fail "v0.2.0 peer (bind, coalesce = yes on our side): $(tail -n 5 "$T/peer8.log")"
[ "$(wc -l <"$T/peer8.out")" -eq 50 ] || fail "v0.2.0 peer got $(wc -l <"$T/peer8.out") of 50 messages"
[ "$(head -n 1 "$T/peer8.out")" = 31 ] || fail "v0.2.0 peer got $(head -n 1 "$T/peer8.out")"
hellos=$(sed -n 's/.*ignored \([0-9]*\) Hello.*/\1/p' "$T/peer8.log")
[ "$hellos" = 3 ] || fail "the v0.2.0 peer ignored ${hellos:-?} Hellos, not 3"
ok "nbmqd -> v0.2.0 bound peer: 3 Hellos ignored, then none; 50 messages as plain frames, no Batch"

# 3. Unknown session ids are answered with Disconnected(id); malformed
#    frames are dropped and the socket keeps working.
"$NBMQCAT" -b 127.0.0.1:0 -r -n 1 -w 20 >"$T/rx3.out" 2>"$T/rx3.log" &
RX3=$!
PIDS="$PIDS $RX3"
wait_for 10 grep -q "bound to" "$T/rx3.log" || fail "nbmqcat did not bind"
EP3=$(bound_endpoint "$T/rx3.log")
HB=$($PEER frame heartbeat --session 0x1122334455667788)
DI=$($PEER frame disconnected --session 0x1122334455667788)
$PEER send-raw "$EP3" "$HB" --expect "$DI" >/dev/null 2>&1 ||
    fail "no Disconnected for an unknown session"
for bad in 02 0200 0100112233445566 \
    "$($PEER frame data --session 5 --chunk-size 9 --data 00)" \
    "$($PEER frame data --session 5 --part-count 0)" \
    ff00000000000000000000; do
	$PEER send-raw "$EP3" "$bad" --wait 0.05 >/dev/null 2>&1
done
echo survived | "$NBMQCAT" -c "$EP3" -w 10 || fail "send after bad frames"
wait "$RX3" || fail "socket stopped working after malformed frames"
[ "$(cat "$T/rx3.out")" = survived ] || fail "got $(cat "$T/rx3.out")"
ok "unknown session -> Disconnected(id); malformed frames dropped, socket alive"

# 3b. The same rules on a live session, each checked by its reason: a
#     v0.2.0 peer sends the start of a good message, one malformed frame
#     per rule (most of them of that message), then the rest of it.
"$NBMQCAT" -a mal -r -x -n 1 -w 20 >"$T/rx3b.out" 2>"$T/rx3b.log" &
RX3B=$!
PIDS="$PIDS $RX3B"
wait_for 10 log_has a "socket mal: attached" || fail "nbmqcat -a mal"
EPM=$(sed -n 's/.*socket mal: bound to //p' "$T/a.log")
out=$(/usr/bin/python3 "$TOP/tests/malformed_live.py" "$EPM" "$BIN/nbmqctl" \
    "$T/a.sock" mal) || fail "malformed frames on a live session: $out"
wait "$RX3B" || fail "the good message did not arrive: $(cat "$T/rx3b.log")"
want=$(printf '%s\t%s\t\t%s' 6d35 \
    "$(/usr/bin/python3 -c 'print(bytes(range(256)).hex() * 4)')" \
    "$(printf tailtailtail | od -An -tx1 | tr -d ' \n')")
[ "$(cat "$T/rx3b.out")" = "$want" ] ||
    fail "the good message arrived changed: $(cut -c 1-80 "$T/rx3b.out")"
ok "on a live session: $out; the message they interleaved arrived byte-exact"

# 4. safe_dealer on the wire: nbmqd acks every frame of the v0.2.0 peer
#    (the peer checks each Ack is FNV-1a-64 of a frame it sent), and a
#    v0.2.0 peer that acks stops nbmqd's resends.
"$NBMQCAT" -t safe_dealer -b 127.0.0.1:0 -r -x -n 40 -w 30 >"$T/rx4.out" \
    2>"$T/rx4.log" &
RX4=$!
PIDS="$PIDS $RX4"
wait_for 10 grep -q "bound to" "$T/rx4.log" || fail "nbmqcat did not bind"
$PEER connect "$(bound_endpoint "$T/rx4.log")" --send 40 --seed 11 \
    --timeout 30 >"$T/peer4.out" 2>"$T/peer4.log" ||
    fail "v0.2.0 peer vs safe_dealer: $(tail -n 3 "$T/peer4.log")"
wait "$RX4" || fail "safe_dealer receive"
$PEER gen --count 40 --seed 11 | cmp -s - "$T/rx4.out" ||
    fail "safe_dealer received different messages"
acks=$(sed -n 's/.*acks sent [0-9]*, received \([0-9]*\).*/\1/p' "$T/peer4.log")
frames=$(sed -n 's/.*data frames sent \([0-9]*\),.*/\1/p' "$T/peer4.log")
[ "$acks" -ge "$frames" ] || fail "$acks acks for $frames frames"
ok "safe_dealer <- v0.2.0 peer: 40 messages, $acks acks for $frames frames, every Ack a valid FNV-1a-64"

$PEER bind 127.0.0.1:0 --recv 20 --seed 5 --timeout 30 --ack \
    --ready-file "$T/peer5.addr" >"$T/peer5.out" 2>"$T/peer5.log" &
P5=$!
PIDS="$PIDS $P5"
wait_for 10 test -s "$T/peer5.addr" || fail "v0.2.0 peer did not bind"
seq 1 20 | "$NBMQCAT" -t safe_dealer -c "$(cat "$T/peer5.addr")" -w 10 ||
    fail "safe_dealer send"
wait "$P5" || fail "v0.2.0 peer: $(tail -n 3 "$T/peer5.log")"
grep -q "duplicates 0," "$T/peer5.log" || fail "resent although acked: $(grep summary "$T/peer5.log")"
ok "safe_dealer -> v0.2.0 peer that acks: 20 messages, no resend"

# 5. radio and dish on the wire: the same data frames, one-way.
$PEER bind 127.0.0.1:0 --recv 5 --timeout 30 --ready-file "$T/peer6.addr" \
    >"$T/peer6.out" 2>"$T/peer6.log" &
P6=$!
PIDS="$PIDS $P6"
wait_for 10 test -s "$T/peer6.addr" || fail "v0.2.0 peer did not bind"
seq 1 5 | "$NBMQCAT" -t radio -c "$(cat "$T/peer6.addr")" -w 10 ||
    fail "radio send"
wait "$P6" || fail "v0.2.0 peer vs radio: $(tail -n 3 "$T/peer6.log")"
[ "$(cat "$T/peer6.out")" = "$(printf '31\n32\n33\n34\n35')" ] ||
    fail "v0.2.0 peer got $(cat "$T/peer6.out")"
"$NBMQCAT" -t dish -b 127.0.0.1:0 -r -x -n 30 -w 30 >"$T/rx7.out" \
    2>"$T/rx7.log" &
RX7=$!
PIDS="$PIDS $RX7"
wait_for 10 grep -q "bound to" "$T/rx7.log" || fail "dish did not bind"
$PEER connect "$(bound_endpoint "$T/rx7.log")" --send 30 --seed 13 \
    --timeout 30 >/dev/null 2>"$T/peer7.log" || fail "v0.2.0 peer -> dish"
wait "$RX7" || fail "dish receive"
$PEER gen --count 30 --seed 13 | cmp -s - "$T/rx7.out" || fail "dish got different messages"
ok "radio -> v0.2.0 peer and v0.2.0 peer -> dish: frames validated, byte-exact"
