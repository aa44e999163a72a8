#!/bin/sh
# SPDX-License-Identifier: ISC
# NBMQ_BATCH through one daemon: a burst of 10,000 multipart messages of
# mixed sizes sent with NBMQ_BATCH, then nbmq_flush, arrives complete, in
# order and byte-exact while the sender idles without closing (so
# nbmq_flush sent them, not nbmq_close); NBMQ_BATCH|NBMQ_DONTWAIT sends get
# EAGAIN after exactly send_hwm 4, like plain ones, for a dealer whose
# daemon drains slowly and a safe_dealer whose peer never acks; blocking
# NBMQ_BATCH sends get past the window's edge.  (Held messages themselves:
# tests/test_lib.c.)
. "$(dirname "$0")/lib.sh"

start_daemon a
export NBMQ_SOCKET=$T/a.sock

# The receiver keeps up to 20,000: none is dropped at recv_hwm if it is
# scheduled late.
"$APPTOOL" collect -b 127.0.0.1:0 -n 10000 -O -R 20000 -w 30 \
    >"$T/collect.out" 2>"$T/collect.log" &
COLLECT=$!
PIDS="$PIDS $COLLECT"
wait_for 10 grep -q "bound to" "$T/collect.log" || fail "collect did not bind"
EP=$(bound_endpoint "$T/collect.log")
"$APPTOOL" blast -c "$EP" -n 10000 -B >"$T/blast.out" 2>&1 &
BLAST=$!
PIDS="$PIDS $BLAST"
wait "$COLLECT" || fail "collect: $(cat "$T/collect.out" "$T/blast.out")"
grep -q "^ok 10000 of 10000 arrived, every one intact and once, in order" \
    "$T/collect.out" || fail "collect: $(cat "$T/collect.out")"
wait_for 10 grep -q "flushed" "$T/blast.out" ||
    fail "blast: $(cat "$T/blast.out")"
kill -0 "$BLAST" 2>/dev/null || fail "the sender closed: $(cat "$T/blast.out")"
kill "$BLAST"
ok "10,000 NBMQ_BATCH sends and nbmq_flush: all arrived in order, byte-exact, sender still open"

# Send window: a dealer whose daemon sends one frame a tick (1 MiB
# messages: nothing is held), and 64-byte ones (all held until the EAGAIN).
"$APPTOOL" echo -b 127.0.0.1:0 >"$T/echo.out" 2>"$T/echo.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q "bound to" "$T/echo.log" || fail "echo did not bind"
EP=$(bound_endpoint "$T/echo.log")
out=$("$APPTOOL" hwm -c "$EP" -H 4 -B) || fail "hwm -B: $out"
ok "dealer: $out"
out=$("$APPTOOL" hwm -c "$EP" -H 4 -B -s 64) || fail "hwm -B -s 64: $out"
ok "dealer: $out"

# A safe_dealer to a peer that never acks: nothing leaves the window.
/usr/bin/python3 "$TOP/tests/peer_v020.py" bind 127.0.0.1:0 --timeout 30 \
    --ready-file "$T/noack.addr" >/dev/null 2>&1 &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/noack.addr" || fail "peer did not bind"
out=$("$APPTOOL" hwm -t safe_dealer -s 100 -H 4 -B \
    -c "$(cat "$T/noack.addr")") || fail "safe_dealer hwm -B: $out"
ok "safe_dealer to a peer that never acks: $out"
