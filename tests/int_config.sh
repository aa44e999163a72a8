#!/bin/sh
# nbmqd -t / -T and start-up with a bad config: file:line: key: why.
. "$(dirname "$0")/lib.sh"

out=$("$NBMQD" -t -c "$TOP/conf/nbmqd.conf") || fail "default config: $out"
[ "$out" = "configuration OK" ] || fail "nbmqd -t printed: $out"
: >"$T/empty.conf"
"$NBMQD" -t -c "$T/empty.conf" >/dev/null || fail "empty config rejected"
ok "conf/nbmqd.conf and an empty file: configuration OK"

cat >"$T/bad.conf" <<'CONF'
[daemon]
log_level = chatty

[socket s1]
type = dealer
bind = 127.0.0.1:7000
send_hwm = lots
frobnicate = 1
CONF
"$NBMQD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1
[ $? -ne 0 ] || fail "bad config accepted"
for want in "bad.conf:2: log_level:" "bad.conf:7: send_hwm:" \
    "bad.conf:8: frobnicate:"; do
	grep -q "$want" "$T/bad.out" || fail "missing '$want' in: $(cat "$T/bad.out")"
done
ok "every error reported as file:line: key: why ($(grep -c ': ' "$T/bad.out") lines)"

# The daemon refuses to start on it, and leaves no socket behind.
"$NBMQD" -c "$T/bad.conf" -S "$T/x.sock" >"$T/start.out" 2>&1
[ $? -ne 0 ] || fail "daemon started on a bad config"
[ ! -e "$T/x.sock" ] || fail "IPC socket left behind"
ok "start-up stops on a bad config"

# -T prints the effective config, which is itself valid.
"$NBMQD" -T -c "$TOP/conf/nbmqd.conf" >"$T/eff.conf" || fail "-T"
grep -q "send_hwm" "$T/eff.conf" || fail "-T lacks defaults"
"$NBMQD" -t -c "$T/eff.conf" >/dev/null 2>&1 || fail "-T output invalid"
ok "nbmqd -T prints a complete config that checks OK"

# SIGTERM: clean shutdown, IPC socket file removed.
start_daemon a
kill -TERM "$PID_a"
wait_for 5 sh -c "! test -e '$T/a.sock'" || fail "IPC socket not removed"
ok "SIGTERM removes the IPC socket"
