#!/bin/sh
# SPDX-License-Identifier: ISC
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

# A table of broken files: each fails nbmqd -t with its file:line: key.
# Fields: the expected start of the error (after "bad.conf:"), the file
# with \n for new lines.
n=0
while IFS='|' read -r want body; do
	[ -n "$want" ] || continue
	printf '%b' "$body" >"$T/bad.conf"
	if "$NBMQD" -t -c "$T/bad.conf" >"$T/t.out" 2>&1; then
		fail "accepted: $body"
	fi
	grep -q -F -- "bad.conf:$want" "$T/t.out" ||
	    fail "'$body': expected bad.conf:$want, got: $(cat "$T/t.out")"
	n=$((n + 1))
done <<'TABLE'
2: foo: unknown key in [daemon]|[daemon]\nfoo = 1\n
1: [sockets]: unknown section|[sockets]\n
1: syntax error: section header without ']'|[daemon\n
2: syntax error: expected "key = value"|[daemon]\nipc_mode\n
1: send_hwm: outside of any section|send_hwm = 5\n
2: peer_keepalive: must be a duration|[defaults]\npeer_keepalive = 10x\n
2: send_hwm: must be an integer between 1 and|[defaults]\nsend_hwm = 0\n
3: send_hwm: duplicate key (first at line 2)|[defaults]\nsend_hwm = 5\nsend_hwm = 6\n
2: max_frame_size: must be a size between 64 and 65507|[defaults]\nmax_frame_size = 70000\n
1: [defaults]: peer_keepalive (2s) must be greater|[defaults]\npeer_heartbeat_ivl = 5\npeer_keepalive = 2\n
2: type: only allowed in a [socket NAME] section|[defaults]\ntype = dealer\n
2: send_hwm: a socket option|[daemon]\nsend_hwm = 1\n
2: ipc_mode: must be an octal mode|[daemon]\nipc_mode = 999\n
2: max_clients: must be an integer between 1 and 100000|[daemon]\nmax_clients = 0\n
2: log_level: must be one of|[daemon]\nlog_level = loud\n
2: type: must be one of dealer|[socket a]\ntype = router\nbind = 127.0.0.1:0\n
1: type: missing in [socket a]|[socket a]\nbind = 127.0.0.1:0\n
1: [socket a]: needs bind or connect|[socket a]\ntype = dealer\n
4: connect: cannot be used with bind (line 3)|[socket a]\ntype = dealer\nbind = 127.0.0.1:0\nconnect = 127.0.0.1:7000\n
5: [socket a]: duplicate section (first at line 1)|[socket a]\ntype = dealer\nbind = 127.0.0.1:0\n\n[socket a]\ntype = dealer\nbind = 127.0.0.1:1\n
1: [socket a/b]: invalid socket name|[socket a/b]\ntype = dealer\nbind = 127.0.0.1:0\n
3: bind: missing port|[socket a]\ntype = dealer\nbind = 127.0.0.1\n
3: bind: invalid port (0..65535)|[socket a]\ntype = dealer\nbind = 127.0.0.1:99999\n
3: connect: an IPv6 address needs brackets|[socket a]\ntype = dealer\nconnect = ::1:7000\n
3: connect: cannot connect to port 0|[socket a]\ntype = dealer\nconnect = 127.0.0.1:0\n
4: linger: must be a duration between 0 and|[socket a]\ntype = dealer\nbind = 127.0.0.1:0\nlinger = -1\n
2: ipc_group: must be a group name or number|[daemon]\nipc_group = a b\n
2: max_memory: must be a size between 1M and 1T|[daemon]\nmax_memory = 10\n
4: safe_resend_limit: must be an integer between 0 and 1000|[socket a]\ntype = safe_dealer\nbind = 127.0.0.1:0\nsafe_resend_limit = 1001\n
TABLE
[ "$n" -ge 28 ] || fail "only $n broken configs checked"
ok "$n kinds of broken config, each refused by nbmqd -t with its file:line: key"

# Every shipped and documented configuration checks: conf/nbmqd.conf with
# every commented key of [daemon] and [defaults] set to the default it
# shows, the example of nbmqd.conf(5) and the README's.
awk '/^\[/ { sec = $0 } /^#\[/ { sec = "" }
    (sec == "[daemon]" || sec == "[defaults]") && /^#[a-z_]+ = / {
	sub(/^#/, "") } { print }' "$TOP/conf/nbmqd.conf" >"$T/all.conf"
mkdir -p "$T/nbmqd.conf.d"	# include_dir, relative to all.conf
out=$("$NBMQD" -t -c "$T/all.conf" 2>&1) || fail "conf/nbmqd.conf, all keys set: $out"
keys=$(grep -c '^[a-z_]* = ' "$T/all.conf")
sed -n '/^\.SH EXAMPLE/,/^\.SH/p' "$TOP/docs/nbmqd.conf.5" |
    sed -n '/^\.RS/,/^\.RE/p' | sed '1d;$d' >"$T/man.conf"
[ -s "$T/man.conf" ] || fail "no example in nbmqd.conf.5"
out=$("$NBMQD" -t -c "$T/man.conf" 2>&1) || fail "nbmqd.conf(5) example: $out"
awk -v dir="$T" '/^```ini$/ { n++; f = dir "/readme" n ".conf"; next }
    /^```$/ { f = ""; next } f != "" { print > f }' "$TOP/README.md"
nr=0
for f in "$T"/readme*.conf; do
	[ -s "$f" ] || continue
	out=$("$NBMQD" -t -c "$f" 2>&1) || fail "README example: $out"
	nr=$((nr + 1))
done
[ "$nr" -ge 1 ] || fail "no ini example in README.md"
ok "conf/nbmqd.conf with all $keys keys set, the nbmqd.conf(5) example and $nr README examples: configuration OK"

# No configuration file at all (issue 17: this crashed): nbmqd, nbmqd -v,
# -t and -T run on config_init's defaults.  The real default path must be
# absent; where a file is installed there, a private mount namespace hides
# it (root), else this part is skipped.
NBMQCTL=$BIN/nbmqctl
DEFCONF=/etc/nbmq/nbmqd.conf
HIDE=
if [ -e "$DEFCONF" ]; then
	printf '#!/bin/sh\nmount -t tmpfs nbmq-test %s || exit 1\nexec "$@"\n' \
	    "$(dirname "$DEFCONF")" >"$T/hide.sh"
	chmod +x "$T/hide.sh"
	if [ "$(id -u)" = 0 ] && unshare -m "$T/hide.sh" true 2>/dev/null; then
		HIDE="unshare -m $T/hide.sh"
	else
		HIDE=skip
	fi
fi
if [ "$HIDE" = skip ]; then
	echo "skip $NAME: $DEFCONF exists and cannot be hidden (not root)"
else
	out=$($HIDE "$NBMQD" -t 2>&1) || fail "nbmqd -t, no file: $out"
	[ "$out" = "configuration OK (no $DEFCONF: the defaults)" ] ||
	    fail "nbmqd -t, no file, printed: $out"
	$HIDE "$NBMQD" -T >"$T/nofile.conf" 2>&1 || fail "nbmqd -T, no file"
	grep -q "^ipc_path = /run/nbmq/nbmqd.sock$" "$T/nofile.conf" ||
	    fail "nbmqd -T, no file: $(cat "$T/nofile.conf")"
	"$NBMQD" -t -c "$T/nofile.conf" >/dev/null 2>&1 ||
	    fail "nbmqd -T with no file printed a config that does not check"
	ok "no configuration file: -t says so, -T prints the defaults"

	_vg=
	[ "${VALGRIND:-0}" = 1 ] && _vg="valgrind --leak-check=full \
	    --error-exitcode=99 --log-file=$T/nofile.vg"
	$HIDE $_vg "$NBMQD" -v -S "$T/nofile.sock" >"$T/nofile.log" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	wait_for 20 grep -q "started" "$T/nofile.log" ||
	    fail "nbmqd with no configuration file did not start"
	log_has nofile "no $DEFCONF: running on the defaults" ||
	    fail "the daemon did not say it runs on the defaults"
	"$NBMQCTL" -S "$T/nofile.sock" status >"$T/nofile.out" 2>&1 ||
	    fail "nbmqctl status: $(cat "$T/nofile.out")"
	grep -q "^config: *(none)$" "$T/nofile.out" ||
	    fail "nbmqctl status: $(cat "$T/nofile.out")"
	kill -HUP "$pid"
	wait_for 10 log_has nofile "nothing to reload" ||
	    fail "SIGHUP with no file: no warning"
	"$NBMQCTL" -S "$T/nofile.sock" status >/dev/null 2>&1 ||
	    fail "no answer after SIGHUP"
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	[ "$rc" = 0 ] || fail "nbmqd with no file: exit $rc on SIGTERM"
	[ ! -e "$T/nofile.sock" ] || fail "IPC socket left behind"
	ok "no configuration file: nbmqd -v starts, answers nbmqctl status, SIGHUP warns, SIGTERM exits 0"
fi

# -S (or ipc_path) naming something that is not a socket: refused, and
# the file is left alone (it once deleted whatever was there).
echo keep >"$T/precious.txt"
if timeout 10 "$NBMQD" -c /dev/null -S "$T/precious.txt" \
    >"$T/precious.out" 2>&1; then
	fail "nbmqd started on a regular file"
fi
[ "$(cat "$T/precious.txt")" = keep ] || fail "nbmqd removed precious.txt"
grep -q "is not a socket" "$T/precious.out" ||
    fail "no reason given: $(cat "$T/precious.out")"
ok "-S naming a regular file: refused with the reason, the file kept"

# include_dir: *.conf files dropped in beside the main file add sockets;
# an error in one names that file and line; [daemon] only in the main
# file; a reload reads the directory again.
mkdir -p "$T/inc/conf.d"
cat >"$T/inc/main.conf" <<CONF
[daemon]
include_dir = conf.d

[socket a]
type = dealer
bind = 127.0.0.1:0
CONF
printf '[socket b]\ntype = dish\nbind = 127.0.0.1:0\n' >"$T/inc/conf.d/10-b.conf"
printf 'not a config file\n' >"$T/inc/conf.d/README"
printf '# c\n[socket a]\ntype = dealer\nbind = 127.0.0.1:0\nfoo = 2\n[daemon]\n' \
    >"$T/inc/conf.d/20-bad.conf"
"$NBMQD" -t -c "$T/inc/main.conf" >"$T/inc.out" 2>&1 &&
    fail "include_dir with errors checked OK"
for want in "$T/inc/conf.d/20-bad.conf:2: [socket a]: duplicate section (first at $T/inc/main.conf:4)" \
    "$T/inc/conf.d/20-bad.conf:5: foo: unknown key in [socket a]" \
    "$T/inc/conf.d/20-bad.conf:6: [daemon]: only in the main configuration file"; do
	grep -q -F -- "$want" "$T/inc.out" || fail "no '$want' in: $(cat "$T/inc.out")"
done
rm "$T/inc/conf.d/20-bad.conf"
"$NBMQD" -t -c "$T/inc/main.conf" >/dev/null || fail "include_dir: check"
start_daemon inc "$T/inc/main.conf"
log_has inc "socket b: bound to" || fail "socket b of conf.d not started"
printf '[socket c]\ntype = radio\nbind = 127.0.0.1:0\n' >"$T/inc/conf.d/30-c.conf"
kill -HUP "$PID_inc"
wait_for 10 log_has inc "socket c: bound to" || fail "reload did not read conf.d again"
"$NBMQD" -T -c "$T/inc/main.conf" >"$T/inc.T" || fail "-T"
"$NBMQD" -t -c "$T/inc.T" >/dev/null || fail "-T's output with include_dir does not check: $(head -n 20 "$T/inc.T")"
printf '[daemon]\ninclude_dir = %s/none\n' "$T" >"$T/inc2.conf"
"$NBMQD" -t -c "$T/inc2.conf" 2>&1 | grep -q "inc2.conf:2: include_dir: $T/none: No such file or directory" ||
    fail "a missing include_dir is not an error at its line"
ok "include_dir: sockets from conf.d/*.conf, errors at their own file:line, [daemon] refused there, re-read on reload, a missing directory an error"
