#!/bin/sh
# SPDX-License-Identifier: ISC
# safe_dealer through a relay that loses 30% of the datagrams each way
# (and duplicates and reorders some): every message arrives exactly once,
# byte-exact.  Plain dealer through the same relay delivers only intact
# messages.
. "$(dirname "$0")/lib.sh"

cat >"$T/d.conf" <<CONF
[defaults]
safe_resend_ivl = 0.03
safe_resend_limit = 60
safe_hash_dedup_ttl = 1
peer_heartbeat_ivl = 0.2
reconnect_wait = 0.1
CONF
start_daemon a "$T/d.conf"
start_daemon b "$T/d.conf"

"$APPTOOL" -S "$T/a.sock" echo -t safe_dealer -b 127.0.0.1:0 \
    >"$T/echo.out" 2>"$T/echo.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q "bound to" "$T/echo.log" || fail "echo did not bind"
EP=$(bound_endpoint "$T/echo.log")

/usr/bin/python3 "$TOP/tests/lossy_relay.py" --target "$EP" --loss 0.3 \
    --dup 0.1 --reorder 0.1 --seed 42 --ready-file "$T/relay.addr" \
    2>"$T/relay.log" &
RELAY=$!
PIDS="$PIDS $RELAY"
wait_for 10 test -s "$T/relay.addr" || fail "relay did not start"
RA=$(cat "$T/relay.addr")

out=$("$APPTOOL" -S "$T/b.sock" ping -t safe_dealer -u -c "$RA" -n 600 \
    -W 16 -w 240) || fail "safe_dealer through loss: $out"
kill -TERM "$RELAY"
wait_for 5 grep -q "lost" "$T/relay.log" || fail "relay summary"
ok "safe_dealer, 30% loss each way: $out ($(cat "$T/relay.log" | sed 's/relay: //'))"

# Plain dealer through the same kind of relay: whatever arrives is intact.
"$APPTOOL" -S "$T/a.sock" collect -b 127.0.0.1:0 -n 400 -w 2 \
    >"$T/col.out" 2>"$T/col.log" &
COL=$!
PIDS="$PIDS $COL"
wait_for 10 grep -q "bound to" "$T/col.log" || fail "collect did not bind"
EP2=$(bound_endpoint "$T/col.log")
/usr/bin/python3 "$TOP/tests/lossy_relay.py" --target "$EP2" --loss 0.3 \
    --dup 0.1 --reorder 0.1 --seed 7 --ready-file "$T/relay2.addr" \
    2>"$T/relay2.log" &
PIDS="$PIDS $!"
wait_for 10 test -s "$T/relay2.addr" || fail "relay did not start"
out=$("$APPTOOL" -S "$T/b.sock" blast -c "$(cat "$T/relay2.addr")" -n 400) ||
    fail "blast: $out"
wait "$COL" || fail "dealer through loss: $(cat "$T/col.out")"
ok "dealer, 30% loss: $(tail -n 1 "$T/col.out")"
