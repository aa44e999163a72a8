#!/bin/sh
# SPDX-License-Identifier: ISC
# Faults: an application killed mid-send leaves the daemon serving the
# others; a killed daemon gives a blocked application ECONNRESET, not a
# hang; a malformed IPC client is dropped alone.
. "$(dirname "$0")/lib.sh"

start_daemon a
export NBMQ_SOCKET=$T/a.sock

"$APPTOOL" echo -b 127.0.0.1:0 >"$T/echo.out" 2>"$T/echo.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q "bound to" "$T/echo.log" || fail "echo did not bind"
EP=$(bound_endpoint "$T/echo.log")

"$APPTOOL" spam -c "$EP" >"$T/spam.out" 2>&1 &
SPAM=$!
PIDS="$PIDS $SPAM"
wait_for 10 grep -q ready "$T/spam.out" || fail "spam did not start"
kill -9 "$SPAM"
out=$("$APPTOOL" ping -c "$EP" -n 500 -w 60) || fail "after kill: $out"
ok "application killed mid-send; the daemon serves the others: $out"

# A client that speaks garbage is dropped; the others go on.
/usr/bin/python3 - "$T/a.sock" <<'PY' || fail "garbage client"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.sendall(b"\xff" * 64)
s.settimeout(5)
assert s.recv(100) == b"", "daemon did not close the bad client"
PY
out=$("$APPTOOL" ping -c "$EP" -n 100 -w 30) || fail "after garbage: $out"
log_has a "disconnecting it" || fail "no log line for the bad client"
ok "malformed IPC client disconnected alone: $out"

# The daemon dies under a blocked receiver: ECONNRESET at once.
"$APPTOOL" block -b 127.0.0.1:0 >"$T/block.out" 2>&1 &
BLK=$!
PIDS="$PIDS $BLK"
wait_for 10 grep -q ready "$T/block.out" || fail "block did not start"
forget_daemon "$PID_a"; kill -9 "$PID_a"
wait_for 5 sh -c "! kill -0 $BLK" || fail "application hangs after daemon death"
wait "$BLK" || fail "application: $(cat "$T/block.out")"
ok "daemon killed: blocked nbmq_recv fails with $(tail -n 1 "$T/block.out")"

# No daemon at all: a clear error, exit 1.
"$NBMQCAT" -b 127.0.0.1:0 -r -w 1 >/dev/null 2>"$T/nod.err"
[ $? -eq 1 ] || fail "nbmqcat without daemon should exit 1"
grep -q "cannot reach the daemon" "$T/nod.err" || fail "$(cat "$T/nod.err")"
ok "no daemon: $(cat "$T/nod.err")"
