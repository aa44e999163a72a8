#!/bin/sh
# SPDX-License-Identifier: ISC
# Two applications through one daemon: 10,000 multipart messages of mixed
# sizes byte-exact, send_hwm EAGAIN, no-peer errno, nbmqcat lines.
. "$(dirname "$0")/lib.sh"

start_daemon a
export NBMQ_SOCKET=$T/a.sock

"$APPTOOL" echo -b 127.0.0.1:0 >"$T/echo.out" 2>"$T/echo.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q "bound to" "$T/echo.log" || fail "echo did not bind"
EP=$(bound_endpoint "$T/echo.log")

out=$("$APPTOOL" ping -c "$EP" -n 10000 -W 64 -w 120) || fail "ping: $out"
ok "one daemon: $out"

out=$("$APPTOOL" hwm -c "$EP" -H 4) || fail "hwm: $out"
ok "$out"
out=$("$APPTOOL" nopeer) || fail "nopeer: $out"
ok "$out"

# nbmqcat: lines in, lines out, in order.
"$NBMQCAT" -b 127.0.0.1:0 -r -n 3 -w 20 >"$T/cat.out" 2>"$T/cat.log" &
CATPID=$!
PIDS="$PIDS $CATPID"
wait_for 10 grep -q "bound to" "$T/cat.log" || fail "nbmqcat -b did not bind"
EP2=$(bound_endpoint "$T/cat.log")
printf 'hello\n\nthird line\n' | "$NBMQCAT" -c "$EP2" -w 10 ||
    fail "nbmqcat send failed"
wait "$CATPID" || fail "nbmqcat -r exit $?"
printf 'hello\n\nthird line\n' | cmp -s - "$T/cat.out" ||
    fail "nbmqcat received: $(cat "$T/cat.out")"
ok "nbmqcat lines arrive in order, empty line included"

# Receive timeout: exit 1 when COUNT is not reached.
"$NBMQCAT" -b 127.0.0.1:0 -r -n 1 -w 0.3 -q >/dev/null 2>&1
[ $? -eq 1 ] || fail "nbmqcat -r timeout should exit 1"
"$NBMQCAT" -r >/dev/null 2>&1
[ $? -eq 2 ] || fail "nbmqcat usage error should exit 2"
ok "nbmqcat exit codes"
