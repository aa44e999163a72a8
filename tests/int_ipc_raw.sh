#!/bin/sh
# SPDX-License-Identifier: ISC
# The daemon's checks of an application's send, reached by a raw IPC
# client (tests/ipc_raw.py; libnbmq never breaks them): a short send, bad
# part counts, sizes that do not add up, over max_message_size, beyond the
# granted send window.  Each disconnects that client alone, for the reason
# its log names; a raw client inside its window is served.
. "$(dirname "$0")/lib.sh"

cat >"$T/a.conf" <<CONF
[defaults]
max_message_size = 1000
CONF
start_daemon a "$T/a.conf"
RAW="/usr/bin/python3 $TOP/tests/ipc_raw.py $T/a.sock $T/a.log"

out=$($RAW inside) || fail "$out"
ok "a raw client inside its window is served"
for c in short parts0 parts256 partslen sizes sizes2 oversize window; do
	out=$($RAW $c) || fail "$out"
	ok "raw client's $c send: refused, disconnected, the reason logged"
done
# Every refused client went alone: the daemon still serves.
out=$($RAW inside) || fail "after the refusals: $out"
n=$(grep -c "disconnecting it" "$T/a.log")
[ "$n" = 8 ] || fail "$n clients refused, want 8"
ok "eight clients refused, each alone; the daemon still serves"

# max_clients: on a daemon of its own, so that no client of the cases
# above is still being closed when the count is taken.
cat >"$T/m.conf" <<CONF
[daemon]
max_clients = 2
CONF
start_daemon m "$T/m.conf"
out=$(/usr/bin/python3 "$TOP/tests/ipc_raw.py" "$T/m.sock" "$T/m.log" \
    maxclients) || fail "$out"
# At accept (README: max_clients counted at accept), not at its hello.
log_has m "client refused, max_clients (2) reached" ||
    fail "refusal at accept not logged: $(grep max_clients "$T/m.log")"
ok "max_clients 2: the third client is refused at accept (EUSERS), a silent one too"
