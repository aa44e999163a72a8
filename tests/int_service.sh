#!/bin/sh
# SPDX-License-Identifier: ISC
# nbmqd as a service: sd_notify (READY, STATUS, RELOADING, WATCHDOG) seen
# from a socket the test listens on; SIGHUP reloads that add, change and
# remove configured sockets, and broken ones that change nothing; the
# backlog of a configured socket; who may attach; journal or stderr; every
# system call against the unit's SystemCallFilter; systemd-analyze verify;
# make install with pkg-config.
. "$(dirname "$0")/lib.sh"

NOTIFY_OUT=$T/notify.out

# count FILE PATTERN: lines matching (0 when none).
count() { grep -c -- "$2" "$1" 2>/dev/null || true; }

# at_least N FILE PATTERN
at_least() { [ "$(count "$2" "$3")" -ge "$1" ]; }

# gone PID: the process exited (a zombie counts: it is not waited for yet).
gone() {
	! kill -0 "$1" 2>/dev/null ||
	    [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# endpoint NAME: where configured socket NAME was bound (last time).
endpoint() { sed -n "s/.*socket $1: bound to //p" "$T/s.log" | tail -n 1; }

# reload: SIGHUP, then wait until the daemon said READY=1 once more.
reload() {
	_r=$(count "$NOTIFY_OUT" '^READY=1$')
	kill -HUP "$PID_s"
	wait_for 10 at_least $((_r + 1)) "$NOTIFY_OUT" '^READY=1$' ||
	    fail "no READY=1 after SIGHUP"
}

# The RELOADING=1 of the last reload came before its READY=1.
reload_order_ok() {
	_rl=$(grep -n '^RELOADING=1$' "$NOTIFY_OUT" | tail -n 1 | cut -d: -f1)
	_rd=$(grep -n '^READY=1$' "$NOTIFY_OUT" | tail -n 1 | cut -d: -f1)
	[ -n "$_rl" ] && [ "$_rl" -lt "$_rd" ]
}

cat >"$T/base.conf" <<'CONF'
[defaults]
peer_heartbeat_ivl = 0.2
peer_keepalive = 2
reconnect_wait = 0.2

[socket inbox]
type = dealer
bind = 127.0.0.1:0

[socket feed]
type = dish
bind = 127.0.0.1:0

CONF
{
	cat "$T/base.conf"
	printf '[socket old]\ntype = dealer\nbind = 127.0.0.1:0\n\n'
	printf '[socket keep]\ntype = dealer\nbind = 127.0.0.1:0\n'
	printf 'recv_hwm = 100\n\n'
	printf '[socket moved]\ntype = dealer\nbind = 127.0.0.1:0\n'
} >"$T/v1.conf"
# old removed, keep's options changed, moved's type changed, new added.
{
	cat "$T/base.conf"
	printf '[socket keep]\ntype = dealer\nbind = 127.0.0.1:0\n'
	printf 'recv_hwm = 200\nmax_frame_size = 1400\n\n'
	printf '[socket moved]\ntype = dish\nbind = 127.0.0.1:0\n\n'
	printf '[socket new]\ntype = dealer\nbind = 127.0.0.1:0\n'
} >"$T/v2.conf"
cp "$T/v1.conf" "$T/s.conf"

# --- sd_notify: the test plays systemd.
/usr/bin/python3 "$TOP/tests/notify_listen.py" "$T/notify.sock" \
    "$NOTIFY_OUT" 2>"$T/listen.log" &
PIDS="$PIDS $!"
wait_for 10 grep -q listening "$NOTIFY_OUT" || fail "notify listener"
# WATCHDOG_PID must be the daemon's own: the shell execs into it.
sh -c 'exec env NOTIFY_SOCKET="$1" WATCHDOG_USEC=200000 WATCHDOG_PID=$$ \
    "$2" -v -c "$3" -S "$4"' nbmqd "$T/notify.sock" "$NBMQD" "$T/s.conf" \
    "$T/s.sock" >"$T/s.log" 2>&1 &
PID_s=$!
PIDS="$PIDS $PID_s"
DPIDS="$DPIDS $PID_s"
wait_for 10 grep -q '^READY=1$' "$NOTIFY_OUT" || fail "no READY=1"
test -S "$T/s.sock" || fail "READY=1 before the IPC socket"
[ "$(count "$T/s.log" ': bound to ')" = 5 ] ||
    fail "READY=1 before every configured socket was bound"
wait_for 5 grep -q '^STATUS=5 sockets (5 configured), 0 peers, 0 attached$' \
    "$NOTIFY_OUT" || fail "no STATUS: $(grep STATUS "$NOTIFY_OUT")"
t0=$(date +%s%N)
wait_for 5 at_least 5 "$NOTIFY_OUT" '^WATCHDOG=1$' || fail "no WATCHDOG=1"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
ok "READY=1 once the IPC socket and 5 sockets are up, STATUS=, WATCHDOG=1 x5 in ${ms} ms (WATCHDOG_USEC 200 ms)"

# STATUS follows what happens (within its one-second pace).
"$NBMQCAT" -S "$T/s.sock" -a old -r -w 60 >"$T/old.out" 2>"$T/old.log" &
OLDCAT=$!
PIDS="$PIDS $OLDCAT"
"$NBMQCAT" -S "$T/s.sock" -a moved -r -w 60 >"$T/moved.out" \
    2>"$T/moved.log" &
MOVEDCAT=$!
PIDS="$PIDS $MOVEDCAT"
wait_for 5 grep -q "socket old: attached" "$T/s.log" || fail "attach old"
wait_for 5 grep -q "socket moved: attached" "$T/s.log" || fail "attach moved"
wait_for 5 grep -q '^STATUS=5 sockets (5 configured), 0 peers, 2 attached$' \
    "$NOTIFY_OUT" || fail "STATUS did not follow: $(tail -n 3 "$NOTIFY_OUT")"
ok "STATUS= follows attached applications"

# --- Reload: add, remove, restart, change in place.
KEEP_EP=$(endpoint keep)
cp "$T/v2.conf" "$T/s.conf"
reload
grep -q "configuration reloaded: 5 sockets (+1 -1 ~2)" "$T/s.log" ||
    fail "reload summary: $(grep 'configuration' "$T/s.log")"
reload_order_ok || fail "RELOADING=1 did not come before READY=1"
wait_for 5 gone "$OLDCAT" ||
    fail "the application on the removed socket was not told"
wait "$OLDCAT" && fail "nbmqcat -a old -r exited 0 after its socket went"
wait_for 5 gone "$MOVEDCAT" ||
    fail "the application on the restarted socket was not told"
wait "$MOVEDCAT" && fail "nbmqcat -a moved exited 0"
ok "SIGHUP: RELOADING=1 then READY=1; +1 -1 ~2; applications of removed and restarted sockets told ($(head -n 1 "$T/old.log"))"

"$NBMQCAT" -S "$T/s.sock" -a old -r -w 1 2>"$T/e.log" &&
    fail "attached to a removed socket"
grep -q "no configured socket" "$T/e.log" || fail "attach old: $(cat "$T/e.log")"
[ "$(endpoint keep)" = "$KEEP_EP" ] && [ "$(count "$T/s.log" \
    'socket keep: bound to')" = 1 ] || fail "keep was bound again"
grep -q "socket keep: options changed" "$T/s.log" || fail "keep options"
[ "$(count "$T/s.log" 'socket moved: bound to')" = 2 ] ||
    fail "moved was not started again"
"$NBMQCAT" -S "$T/s.sock" -a moved -t dish -r -w 0.2 2>"$T/e.log" ||
    fail "moved is not a dish now: $(cat "$T/e.log")"

# new_answers: a message through the new socket, end to end.
new_answers() {
	_n=$(count "$T/s.log" 'socket new: attached')
	"$NBMQCAT" -S "$T/s.sock" -a new -r -n 1 -w 10 >"$T/new.out" \
	    2>"$T/new.log" &
	_rx=$!
	PIDS="$PIDS $_rx"
	wait_for 5 at_least $((_n + 1)) "$T/s.log" 'socket new: attached' ||
	    fail "attach new"
	echo "$1" | "$NBMQCAT" -S "$T/s.sock" -c "$(endpoint new)" -w 10 ||
	    fail "send to new"
	wait "$_rx" || fail "receive on new: $(cat "$T/new.log")"
	[ "$(cat "$T/new.out")" = "$1" ] || fail "new got: $(cat "$T/new.out")"
}
new_answers hello
ok "removed socket: ENXIO; kept port and options changed in place; restarted as a dish; the new socket answers"

# A broken file: nothing changes, every error with file:line.
cp "$T/base.conf" "$T/s.conf"
printf '[socket bad]\ntype = dealer\nbind = 127.0.0.1:0\n' >>"$T/s.conf"
L=$(( $(wc -l <"$T/s.conf") + 1 ))
printf 'send_hwm = 0\nfrobnicate = 1\n' >>"$T/s.conf"
reload
grep -q "s.conf:$L: send_hwm: " "$T/s.log" ||
    fail "no s.conf:$L: $(tail -n 5 "$T/s.log")"
grep -q "s.conf:$((L + 1)): frobnicate: " "$T/s.log" || fail "frobnicate"
grep -q "configuration unchanged" "$T/s.log" || fail "not 'unchanged'"
reload_order_ok || fail "RELOADING=1/READY=1 around a failed reload"
new_answers "still here"
ok "broken file on SIGHUP: s.conf:$L and s.conf:$((L + 1)) logged, configuration unchanged, sockets kept"

# systemctl reload runs the unit's ExecReload lines in order and stops at
# the first that fails: with this broken file the check fails, so the
# reload is reported failed, and no SIGHUP is sent.
n0=$(grep -c "SIGHUP: reloading" "$T/s.log")
rc=0
sed -n 's/^ExecReload=//p' "$TOP/systemd/nbmqd.service" >"$T/reload.cmds"
[ "$(wc -l <"$T/reload.cmds")" = 2 ] || fail "ExecReload: $(cat "$T/reload.cmds")"
while read -r cmd; do
	cmd=$(echo "$cmd" | sed -e "s|/usr/local/sbin/nbmqd|$NBMQD|" \
	    -e "s|/etc/nbmq/nbmqd.conf|$T/s.conf|" -e "s|\$MAINPID|$PID_s|")
	sh -c "$cmd" >"$T/reload.out" 2>&1 || { rc=$?; break; }
done <"$T/reload.cmds"
[ "$rc" != 0 ] || fail "ExecReload succeeded on a broken file"
grep -q "s.conf:$L: send_hwm: " "$T/reload.out" ||
    fail "ExecReload's check did not say why: $(cat "$T/reload.out")"
[ "$(grep -c "SIGHUP: reloading" "$T/s.log")" = "$n0" ] ||
    fail "a SIGHUP was sent after the failed check"
ok "ExecReload on a broken file: fails (exit $rc) with s.conf:$L, no SIGHUP sent"

# A new socket that cannot bind: nothing changes either.
cp "$T/v2.conf" "$T/s.conf"
L=$(( $(wc -l <"$T/s.conf") + 2 ))
printf '\n[socket clash]\ntype = dealer\nbind = %s\n' "$KEEP_EP" >>"$T/s.conf"
n0=$(count "$T/s.log" "configuration unchanged")
reload
at_least $((n0 + 1)) "$T/s.log" "configuration unchanged" ||
    fail "a socket that cannot bind was accepted"
grep -q "s.conf:$L: socket clash: cannot bind $KEEP_EP: Address already in use" \
    "$T/s.log" || fail "clash: $(tail -n 3 "$T/s.log")"
ok "a new socket that cannot bind: s.conf:$L logged, configuration unchanged"

# [daemon]: log_level applies at once, ipc_mode needs a restart.
{
	printf '[daemon]\nipc_mode = 0600\nlog_level = err\n'
	printf 'ipc_path = %s\n\n' "$T/elsewhere.sock"
	cat "$T/v2.conf"
} >"$T/s.conf"
reload
grep -q "ipc_mode 0600 needs a restart; still 0660" "$T/s.log" ||
    fail "ipc_mode: $(tail -n 3 "$T/s.log")"
[ "$(stat -c %a "$T/s.sock")" = 660 ] || fail "IPC socket mode changed"
grep -q "ipc_path" "$T/s.log" && fail "-S did not win over ipc_path on reload"
n0=$(count "$T/s.log" "SIGHUP: reloading")
cp "$T/v2.conf" "$T/s.conf"
reload
[ "$(count "$T/s.log" "SIGHUP: reloading")" = "$n0" ] ||
    fail "log_level = err did not apply at once"
grep -q "configuration reloaded: 5 sockets (+0 -0 ~0)" "$T/s.log" ||
    fail "log level not restored: $(tail -n 3 "$T/s.log")"
ok "log_level applies at once; ipc_mode logged as needing a restart; -S wins over ipc_path"

# --- A configured socket's backlog: arrived before the attach, in order.
INBOX=$(endpoint inbox)
nd=$(count "$T/s.log" ": destroyed")
seq 1 30 | "$NBMQCAT" -S "$T/s.sock" -c "$INBOX" -w 10 || fail "send 30"
# The sender's socket lingers until its queue left: then it is destroyed.
wait_for 5 at_least $((nd + 1)) "$T/s.log" ": destroyed" ||
    fail "the sender's socket did not finish"
"$NBMQCAT" -S "$T/s.sock" -a inbox -r -n 50 -w 20 >"$T/inbox.out" \
    2>"$T/inbox.log" &
RX=$!
PIDS="$PIDS $RX"
wait_for 5 grep -q "socket inbox: attached" "$T/s.log" || fail "attach inbox"
seq 31 50 | "$NBMQCAT" -S "$T/s.sock" -c "$INBOX" -w 10 || fail "send 20"
wait "$RX" || fail "inbox: $(cat "$T/inbox.log")"
seq 1 50 | cmp -s - "$T/inbox.out" || fail "inbox got: $(tr '\n' ' ' <"$T/inbox.out")"
ok "configured socket: 30 messages that waited for the application, then 20 more, in order"

# --- Who may attach: one application sends through a dealer; a dish
# fans out to every attached one.
"$NBMQCAT" -S "$T/s.sock" -a inbox -r -w 60 >/dev/null 2>&1 &
HOLD=$!
PIDS="$PIDS $HOLD"
wait_for 5 at_least 2 "$T/s.log" "socket inbox: attached" || fail "hold inbox"
"$NBMQCAT" -S "$T/s.sock" -a inbox -r -w 1 2>"$T/busy.log" &&
    fail "a second application attached to a dealer"
grep -q "another application is attached" "$T/busy.log" ||
    fail "second attach: $(cat "$T/busy.log")"
kill "$HOLD"
ok "dealer: a second application gets EBUSY ($(cat "$T/busy.log"))"

FEED=$(endpoint feed)
for i in 1 2; do
	"$NBMQCAT" -S "$T/s.sock" -a feed -r -n 5 -w 20 >"$T/feed$i.out" \
	    2>"$T/feed$i.log" &
	eval "FEED$i=\$!"
	PIDS="$PIDS $!"
done
wait_for 5 at_least 2 "$T/s.log" "socket feed: attached" || fail "feed attach"
seq 1 5 | "$NBMQCAT" -S "$T/s.sock" -t radio -c "$FEED" -w 10 ||
    fail "radio to feed"
for i in 1 2; do
	eval "wait \$FEED$i" || fail "feed $i: $(cat "$T/feed$i.log")"
	seq 1 5 | cmp -s - "$T/feed$i.out" || fail "feed $i: $(cat "$T/feed$i.out")"
done
ok "dish: two applications attached, both got 5 of 5"

kill -TERM "$PID_s"
wait_for 5 grep -q '^STOPPING=1$' "$NOTIFY_OUT" || fail "no STOPPING=1"
forget_daemon "$PID_s"; wait "$PID_s" || fail "daemon exit status $?"
ok "SIGTERM: STOPPING=1, exit 0"

# --- Logging: the journal when stderr is the journal's stream.
: >"$T/j.log"
sh -c 'export JOURNAL_STREAM=$(stat -c %d:%i "$1")
    exec "$2" -c /dev/null -S "$3" 2>>"$1"' nbmqd "$T/j.log" "$NBMQD" "$T/j.sock" &
PID_j=$!
PIDS="$PIDS $PID_j"
DPIDS="$DPIDS $PID_j"
wait_for 10 test -S "$T/j.sock" || fail "journal daemon did not start"
kill -TERM "$PID_j"
forget_daemon "$PID_j"; wait "$PID_j" || fail "journal daemon exit"
[ ! -s "$T/j.log" ] || fail "JOURNAL_STREAM set, still on stderr: $(cat "$T/j.log")"
JOURNAL_STREAM=1:1 INVOCATION_ID=0123 "$NBMQD" -c /dev/null -S "$T/k.sock" \
    2>"$T/k.log" &
PID_k=$!
PIDS="$PIDS $PID_k"
DPIDS="$DPIDS $PID_k"
wait_for 10 grep -q started "$T/k.log" || fail "stderr is a file: logs lost"
kill -TERM "$PID_k"
forget_daemon "$PID_k"; wait "$PID_k" || fail "k exit"
ok "logs to the journal when stderr is the journal (JOURNAL_STREAM), else stderr"

# LeakSanitizer cannot run under ptrace (strace): an ASan build traced
# below checks everything but leaks (the other tests check those).
NOLEAK="detect_leaks=0${ASAN_OPTIONS:+:$ASAN_OPTIONS}"

# --- Why a start failed, at err (journalctl -p err -u nbmqd): a bad line,
# a socket that cannot bind, an IPC path that cannot be listened on; each
# with what to do.  No journald here: strace shows what went to its socket.
if have strace strace; then
	printf '[socket a]\ntype = dealer\nbind = 127.0.0.1:0\nfoo = 1\n' >"$T/e1.conf"
	printf '[socket a]\ntype = dealer\nbind = 192.0.2.1:1\n' >"$T/e2.conf"
	: >"$T/e.log"
	for c in "e1.conf $T/e.sock" "e2.conf $T/e.sock" "e3.conf $T/none/e.sock"; do
		set -- $c
		[ -f "$T/$1" ] || : >"$T/$1"
		ASAN_OPTIONS=$NOLEAK sh -c 'export JOURNAL_STREAM=$(stat -c %d:%i "$1")
		    exec strace -f -qq -e trace=sendmsg -s 600 -o "$2" "$3" \
		    -c "$4" -S "$5" 2>>"$1"' x "$T/e.log" "$T/$1.trace" \
		    "$NBMQD" "$T/$1" "$2"
		[ $? -eq 1 ] || fail "$1: nbmqd did not exit 1"
	done
	for want in "e1.conf:4: foo: unknown key" "1 error in the configuration" \
	    "e2.conf:1: socket a: cannot bind 192.0.2.1:1: Cannot assign requested address (not an address of this host" \
	    "cannot listen on $T/none/e.sock: bind: No such file or directory (its directory does not exist"; do
		grep -h -F "MESSAGE=" "$T"/e*.trace | grep -F -- "$want" |
		    grep -q 'PRIORITY=3"' ||
		    fail "not at err in the journal: $want: $(grep -h -o 'MESSAGE=[^"]*' "$T"/e*.trace)"
	done
	[ ! -s "$T/e.log" ] || fail "on stderr, not the journal: $(cat "$T/e.log")"
	ok "start-up failures at err in the journal, each with what to do (a bad line, a bind, the IPC path)"
fi

# --- Structured fields in the journal: journalctl NBMQ_SOCKET=srv works.
# Two sockets of one daemon make a session and end it; what went to the
# journal's socket (strace: no journald here) carries the fields.
if have strace strace; then
	JP=$(free_udp_port)
	printf '[socket srv]\ntype = dealer\nbind = 127.0.0.1:%s\n\n[socket cli]\ntype = dealer\nconnect = 127.0.0.1:%s\n' \
	    "$JP" "$JP" >"$T/sf.conf"
	: >"$T/sf.log"
	ASAN_OPTIONS=$NOLEAK sh -c 'export JOURNAL_STREAM=$(stat -c %d:%i "$1")
	    exec strace -f -qq -e trace=sendmsg -s 800 -o "$2" "$3" -v \
	    -c "$4" -S "$5" 2>>"$1"' x "$T/sf.log" "$T/sf.trace" "$NBMQD" \
	    "$T/sf.conf" "$T/sf.sock" &
	SF=$!
	PIDS="$PIDS $SF"
	wait_for 20 grep -q 'socket cli: connecting -> up' "$T/sf.trace" ||
	    fail "no session in the journal: $(grep -o 'MESSAGE=[^"]*' "$T/sf.trace" | tail -n 5)"
	kill -TERM "$(ps -o pid= --ppid "$SF" | tr -d ' ')" 2>/dev/null ||
	    kill -TERM "$SF"
	wait "$SF"
	for want in 'MESSAGE=socket srv peer [0-9a-f]\{16\} at 127.0.0.1:[0-9]*: up.*NBMQ_SOCKET=srv.*NBMQ_SESSION=[0-9a-f]\{16\}.*NBMQ_PEER=127.0.0.1:[0-9]*"' \
	    'MESSAGE=socket cli peer [0-9a-f]\{16\} at 127.0.0.1:'"$JP"': down (closed).*NBMQ_SOCKET=cli.*NBMQ_REASON=closed"' \
	    'MESSAGE=socket srv: bound to 127.0.0.1:'"$JP"'.*NBMQ_SOCKET=srv"'; do
		grep -q -- "$want" "$T/sf.trace" ||
		    fail "no journal line matching $want: $(grep -o 'MESSAGE=socket[^}]*' "$T/sf.trace" | head -n 6)"
	done
	ok "journal lines carry NBMQ_SOCKET, NBMQ_SESSION, NBMQ_PEER and NBMQ_REASON (journalctl NBMQ_SOCKET=srv)"
fi

# --- Every system call the daemon makes passes the unit's filter.
if ! have strace strace; then
	:
elif ldd "$NBMQD" | grep -q libasan; then
	skip "sanitizer build: system call filter checked in the plain build"
else
	FP=$(free_udp_port)
	cat >"$T/f.conf" <<CONF
[daemon]
ipc_group = $(id -gn)

[socket srv]
type = safe_dealer
bind = 127.0.0.1:$FP

[socket cli]
type = safe_dealer
connect = 127.0.0.1:$FP
CONF
	env NOTIFY_SOCKET="$T/notify.sock" WATCHDOG_USEC=100000 \
	    strace -f -qq -o "$T/f.trace" "$NBMQD" -v -c "$T/f.conf" \
	    -S "$T/f.sock" >"$T/f.log" 2>&1 &
	PIDS="$PIDS $!"
	ST=$!
	wait_for 20 grep -q started "$T/f.log" || fail "traced daemon"
	PID_f=$(sed -n 's/.* nbmqd\[\([0-9]*\)\]: .*/\1/p' "$T/f.log" | head -n 1)
	DPIDS="$DPIDS $PID_f"
	wait_for 10 grep -q "socket cli: connecting -> up" "$T/f.log" ||
	    fail "traced: no session"
	"$NBMQCAT" -S "$T/f.sock" -a srv -r -n 3 -w 20 >"$T/f.out" 2>&1 &
	RX=$!
	PIDS="$PIDS $RX"
	wait_for 10 grep -q "socket srv: attached" "$T/f.log" || fail "traced attach"
	seq 1 3 | "$NBMQCAT" -S "$T/f.sock" -a cli -w 10 || fail "traced send"
	wait "$RX" || fail "traced receive"
	echo x | "$NBMQCAT" -S "$T/f.sock" -c "127.0.0.1:$FP" -w 10 ||
	    fail "traced app socket"
	kill -HUP "$PID_f"
	wait_for 10 grep -q "configuration reloaded" "$T/f.log" || fail "reload"
	echo "[oops" >>"$T/f.conf"
	kill -HUP "$PID_f"
	wait_for 10 grep -q "configuration unchanged" "$T/f.log" || fail "reload"
	kill -TERM "$PID_f"
	forget_daemon "$PID_f"; wait "$ST" || fail "traced daemon exit"
	# The journal path too.
	: >"$T/g.log"
	sh -c 'export JOURNAL_STREAM=$(stat -c %d:%i "$1")
	    exec strace -f -qq -o "$4" "$2" -c /dev/null -S "$3" 2>>"$1"' nbmqd "$T/g.log" \
	    "$NBMQD" "$T/g.sock" "$T/g.trace" &
	ST=$!
	PIDS="$PIDS $ST"
	wait_for 20 test -S "$T/g.sock" || fail "traced journal daemon"
	kill -TERM "$(ps -o pid= --ppid "$ST" | tr -d ' ')"
	wait "$ST" || fail "traced journal daemon exit"
	out=$(/usr/bin/python3 - "$TOP/systemd/nbmqd.service" "$T/f.trace" \
	    "$T/g.trace" <<'PY'
import re, subprocess, sys

groups, cur = {}, None
for line in subprocess.run(["systemd-analyze", "syscall-filter"],
                           capture_output=True, text=True).stdout.splitlines():
    if line.startswith("@"):
        cur = groups.setdefault(line.strip(), set())
    elif cur is not None and line.strip() and not line.strip().startswith("#"):
        cur.add(line.strip())

def expand(name, seen=()):
    if not name.startswith("@"):
        return {name}
    out = set()
    for n in groups.get(name, ()):
        if n not in seen:
            out |= expand(n, seen + (name,))
    return out

allowed = None
for line in open(sys.argv[1]):
    m = re.match(r"SystemCallFilter=(~?)(.*)", line.strip())
    if not m:
        continue
    names = set()
    for n in m.group(2).split():
        names |= expand(n)
    if allowed is None:
        allowed = names if not m.group(1) else None
    elif m.group(1):
        allowed -= names
    else:
        allowed |= names
used, families = set(), set()
for path in sys.argv[2:]:
    for line in open(path):
        m = re.match(r"\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
        if m and not line.split(None, 1)[1].startswith(("+++", "---")):
            used.add(m.group(1))
        m = re.search(r"\bsocket\((AF_[A-Z0-9]+)", line)
        if m:
            families.add(m.group(1))
bad = sorted(used - allowed - {"execve"})
badf = sorted(families - {"AF_UNIX", "AF_LOCAL", "AF_INET", "AF_INET6"})
print("%d system calls used, %d allowed" % (len(used), len(allowed)))
if bad or badf:
    print("outside the filter: %s; address families: %s" % (bad, badf))
    sys.exit(1)
PY
) || fail "$out"
	ok "system call filter: $out, address families within RestrictAddressFamilies"
fi

# --- systemd-analyze verify, on the unit as make install writes it.
if have systemd-analyze systemd; then
	mkdir -p "$T/unit"
	sed "s|/usr/local/sbin/nbmqd|$NBMQD|" "$TOP/systemd/nbmqd.service" \
	    >"$T/unit/nbmqd.service"
	systemd-analyze verify --man=no "$T/unit/nbmqd.service" \
	    >"$T/verify.out" 2>&1 || fail "verify: $(cat "$T/verify.out")"
	[ ! -s "$T/verify.out" ] || fail "verify warned: $(cat "$T/verify.out")"
	ok "systemd-analyze verify: systemd/nbmqd.service (ExecStart at the built nbmqd)"
fi

# --- Man pages: every one renders without a warning; libnbmq(3) covers
# every function of nbmq.h.
if have man man-db; then
	for f in "$TOP"/docs/*.[1-8]; do
		MANWIDTH=80 man --warnings -l "$f" >"$T/man.out" 2>"$T/man.err" ||
		    fail "man $f"
		[ ! -s "$T/man.err" ] || fail "man $f: $(head -n 3 "$T/man.err")"
		[ "$(wc -l <"$T/man.out")" -gt 20 ] || fail "man $f: too short"
	done
fi
for fn in $(sed -n 's/^[a-z].*[ *]\(nbmq_[a-z_]*\)(.*/\1/p' \
    "$TOP/client-lib/nbmq.h"); do
	grep -q "^\.BR $fn ()" "$TOP/docs/libnbmq.3" ||
	    fail "libnbmq.3 does not describe $fn"
done
ok "man pages render cleanly ($(cd "$TOP/docs" && ls *.[1-8] | tr '\n' ' ')); libnbmq.3 describes all $(sed -n 's/^[a-z].*[ *]\(nbmq_[a-z_]*\)(.*/\1/p' "$TOP/client-lib/nbmq.h" | wc -l) functions"

# --- make install into a DESTDIR; build the example with pkg-config.
MK="make -s -C $TOP O=$O"
ldd "$NBMQD" | grep -q libasan && MK="$MK SAN=1"
R=$T/root
$MK install DESTDIR="$R" PREFIX=/usr >"$T/install.log" 2>&1 ||
    fail "make install: $(tail -n 5 "$T/install.log")"
for f in usr/sbin/nbmqd usr/bin/nbmqcat usr/lib/libnbmq.so.0.1.0 \
    usr/lib/libnbmq.a usr/include/nbmq.h usr/lib/pkgconfig/nbmq.pc \
    usr/lib/systemd/system/nbmqd.service usr/lib/sysusers.d/nbmqd.conf \
    etc/nbmq/nbmqd.conf usr/share/man/man8/nbmqd.8 \
    usr/share/man/man5/nbmqd.conf.5 usr/share/man/man1/nbmqcat.1 \
    usr/share/man/man3/libnbmq.3; do
	[ -e "$R/$f" ] || fail "not installed: /$f"
done
[ "$(readlink "$R/usr/lib/libnbmq.so.0")" = libnbmq.so.0.1.0 ] &&
    [ "$(readlink "$R/usr/lib/libnbmq.so")" = libnbmq.so.0 ] ||
    fail "soname links"
[ ! -e "$R/usr/include/nbmq-protocol.h" ] || fail "private header installed"
# nbmqctl on users' PATH (the nbmq group uses it), like chronyc and wg.
[ -x "$R/usr/bin/nbmqctl" ] || fail "nbmqctl not installed in bin"
grep -q "^ExecStart=/usr/sbin/nbmqd -c /etc/nbmq/nbmqd.conf$" \
    "$R/usr/lib/systemd/system/nbmqd.service" || fail "unit paths"
"$R/usr/sbin/nbmqd" -t -c "$R/etc/nbmq/nbmqd.conf" >/dev/null ||
    fail "installed config does not check"
if command -v systemd-analyze >/dev/null; then
	# As installed, but with ExecStart in the DESTDIR (it must exist).
	mkdir -p "$T/unit2"
	sed "s|=/usr/sbin/nbmqd|=$R/usr/sbin/nbmqd|" \
	    "$R/usr/lib/systemd/system/nbmqd.service" >"$T/unit2/nbmqd.service"
	MANPATH=$R/usr/share/man systemd-analyze verify \
	    "$T/unit2/nbmqd.service" >"$T/verify2.out" 2>&1 ||
	    fail "verify installed unit: $(cat "$T/verify2.out")"
	[ ! -s "$T/verify2.out" ] || fail "verify warned: $(cat "$T/verify2.out")"
fi
if command -v systemd-sysusers >/dev/null; then
	systemd-sysusers --root="$R" >"$T/sysusers.out" 2>&1 ||
	    fail "sysusers: $(cat "$T/sysusers.out")"
	grep -q "^nbmq:" "$R/etc/passwd" && grep -q "^nbmq:" "$R/etc/group" ||
	    fail "sysusers made no nbmq user and group"
fi
flags=$(PKG_CONFIG_SYSROOT_DIR=$R PKG_CONFIG_PATH=$R/usr/lib/pkgconfig \
    PKG_CONFIG_LIBDIR=$R/usr/lib/pkgconfig \
    pkg-config --cflags --libs nbmq) || fail "pkg-config nbmq"
san=""
ldd "$NBMQD" | grep -q libasan && san="-fsanitize=address,undefined"
# shellcheck disable=SC2086
cc $san -o "$T/hello" "$TOP/examples/hello.c" $flags \
    -Wl,-rpath,"$R/usr/lib" >"$T/cc.log" 2>&1 ||
    fail "cc hello.c \$(pkg-config ...) [$flags]: $(cat "$T/cc.log")"
start_daemon h
out=$(NBMQ_SOCKET=$T/h.sock "$T/hello") || fail "installed hello: $out"
ok "make install DESTDIR PREFIX=/usr: files, soname links, unit, sysusers; hello.c built with pkg-config ($flags) runs"

echo "# edited" >>"$R/etc/nbmq/nbmqd.conf"
$MK install DESTDIR="$R" PREFIX=/usr >"$T/install2.log" 2>&1 ||
    fail "second make install"
tail -n 1 "$R/etc/nbmq/nbmqd.conf" | grep -q "^# edited$" ||
    fail "the second install overwrote the edited configuration"
$MK uninstall DESTDIR="$R" PREFIX=/usr >"$T/uninstall.log" 2>&1 ||
    fail "make uninstall"
left=$(cd "$R" && find . -type f ! -path './etc/*' | sort | tr '\n' ' ')
[ -z "$left" ] || fail "uninstall left: $left"
[ -f "$R/etc/nbmq/nbmqd.conf" ] || fail "uninstall removed the configuration"
ok "a second install keeps an edited configuration; uninstall removes the rest"

# --- Another prefix: the configuration follows it (nbmqd is built with
# it as its default), LIBDIR reaches nbmq.pc; and the hardening of a
# plain build: PIE, full RELRO, stack protector, _FORTIFY_SOURCE.
R2=$T/root2
B2=$T/b2
# SAN= : a plain, optimised build whatever this test runs under (coverage
# and ASan builds leave _FORTIFY_SOURCE out).
MK2="make -s -C $TOP O=$B2 SAN= PREFIX=/opt/nbmq LIBDIR=/opt/nbmq/lib64"
$MK2 all >"$T/b2.log" 2>&1 || fail "make PREFIX=/opt/nbmq: $(tail -n 5 "$T/b2.log")"
$MK2 install DESTDIR="$R2" >"$T/install3.log" 2>&1 ||
    fail "make install PREFIX=/opt/nbmq: $(tail -n 5 "$T/install3.log")"
[ -f "$R2/opt/nbmq/etc/nbmq/nbmqd.conf" ] ||
    fail "PREFIX=/opt/nbmq: configuration not under the prefix"
"$R2/opt/nbmq/sbin/nbmqd" --help 2>&1 |
    grep -q "default /opt/nbmq/etc/nbmq/nbmqd.conf" ||
    fail "nbmqd's default configuration does not follow SYSCONFDIR"
grep -q "^libdir=/opt/nbmq/lib64$" "$R2/opt/nbmq/lib64/pkgconfig/nbmq.pc" ||
    fail "LIBDIR not in nbmq.pc: $(cat "$R2/opt/nbmq/lib64/pkgconfig/nbmq.pc")"
grep -q "^ExecStart=/opt/nbmq/sbin/nbmqd -c /opt/nbmq/etc/nbmq/nbmqd.conf$" \
    "$R2/opt/nbmq/lib/systemd/system/nbmqd.service" || fail "unit paths, /opt"
for p in nbmqd nbmqcat nbmqctl; do
	readelf -h "$B2/$p" | grep -q "DYN (Position-Independent" ||
	    fail "$p: not PIE"
	readelf -d "$B2/$p" | grep -q "BIND_NOW" &&
	    readelf -l "$B2/$p" | grep -q "GNU_RELRO" || fail "$p: no full RELRO"
done
readelf -s "$B2/nbmqd" | grep -q "__stack_chk_fail" || fail "no stack protector"
readelf -s "$B2/nbmqd" | grep -q "_chk@" || fail "no _FORTIFY_SOURCE"
ok "PREFIX=/opt/nbmq: configuration, nbmqd's default and the unit follow it, LIBDIR in nbmq.pc; nbmqd, nbmqcat, nbmqctl PIE with full RELRO, stack protector and _FORTIFY_SOURCE"
