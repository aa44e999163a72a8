#!/bin/sh
# SPDX-License-Identifier: ISC
# Two applications through two daemons over UDP: 10,000 multipart messages
# of mixed sizes byte-exact, IPv4 and IPv6.
. "$(dirname "$0")/lib.sh"

start_daemon a
start_daemon b

for addr in 127.0.0.1:0 '[::1]:0'; do
	"$APPTOOL" -S "$T/a.sock" echo -b "$addr" >"$T/echo.out" \
	    2>"$T/echo.log" &
	EPID=$!
	PIDS="$PIDS $EPID"
	wait_for 10 grep -q "bound to" "$T/echo.log" || fail "echo did not bind"
	EP=$(bound_endpoint "$T/echo.log")
	n=10000
	[ "$addr" = 127.0.0.1:0 ] || n=2000
	out=$("$APPTOOL" -S "$T/b.sock" ping -c "$EP" -n $n -W 64 -w 120) ||
	    fail "ping via $EP: $out"
	ok "two daemons via $EP: $out"
	kill "$EPID"
done

# A host name, resolved without blocking the daemon.
"$APPTOOL" -S "$T/a.sock" echo -b 127.0.0.1:0 >"$T/echo.out" 2>"$T/echo.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q "bound to" "$T/echo.log" || fail "echo did not bind"
PORT=$(bound_endpoint "$T/echo.log" | sed 's/.*://')
out=$("$APPTOOL" -S "$T/b.sock" ping -c "localhost:$PORT" -n 100 -w 30) ||
    fail "ping via localhost:$PORT: $out"
ok "connect by host name localhost:$PORT: $out"
