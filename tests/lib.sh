# SPDX-License-Identifier: ISC
# tests/lib.sh: helpers for integration tests, sourced by tests/int_*.sh.
# Every test gets its own temporary directory, its own daemons on private
# IPC sockets and UDP port 0 (or a port the kernel just gave out), and
# cleans up with a trap.  Waits are polls with deadlines, never bare sleeps.

set -u
O=${O:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$TOP/$O
NBMQD=$BIN/nbmqd
NBMQCAT=$BIN/nbmqcat
APPTOOL=$BIN/tests/apptool
PEER="/usr/bin/python3 $TOP/tests/peer_v020.py"
T=$(mktemp -d "${TMPDIR:-/tmp}/nbmq-test.XXXXXX")
PIDS=""
DPIDS=""
NAME=$(basename "$0" .sh)

# Daemons get SIGTERM and must exit cleanly: under ASan that is where a
# leak or a UBSan report would show.  Then everything else is killed.
# stop_daemons: SIGTERM to every daemon still ours; each must exit within
# 5 s (30 under valgrind) with status 0: a daemon that hangs, or one that
# valgrind or ASan saw fail, fails the test.  Daemons a test kills or
# waits for itself are forgotten first (forget_daemon).  Returns 1 on a
# failure; DPIDS is empty after.  It must run in the shell that started
# them (a subshell cannot wait for its parent's children).
stop_daemons() {
	_sd=0
	for p in $DPIDS; do kill -TERM "$p" 2>/dev/null; done
	_wait=250; [ "${VALGRIND:-0}" = 1 ] && _wait=1500
	for p in $DPIDS; do
		_n=0
		while kill -0 "$p" 2>/dev/null && [ $_n -lt $_wait ]; do
			sleep 0.02; _n=$((_n + 1))
		done
	done
	for p in $DPIDS; do
		if kill -0 "$p" 2>/dev/null; then
			echo "FAIL $NAME: daemon $p still running after SIGTERM"
			kill -9 "$p" 2>/dev/null
			_sd=1
		fi
		wait "$p" 2>/dev/null
		_st=$?
		if [ "$_st" != 0 ]; then
			echo "FAIL $NAME: daemon $p exited with status $_st"
			_sd=1
		fi
	done
	DPIDS=
	return $_sd
}

cleanup() {
	_rc=$?
	stop_daemons || _rc=1
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	if grep -l -E "Sanitizer|runtime error" "$T"/*.log "$T"/*.out \
	    2>/dev/null; then
		echo "FAIL $NAME: sanitizer report:"
		grep -h -A 20 -E "Sanitizer|runtime error" "$T"/*.log \
		    "$T"/*.out 2>/dev/null | head -n 60
		_rc=1
	fi
	if grep -l -E "ERROR SUMMARY: [1-9]" "$T"/*.vg 2>/dev/null; then
		echo "FAIL $NAME: valgrind report:"
		grep -h -v -E "^==[0-9]+== *$" "$T"/*.vg | grep -A 25 -E \
		    "Invalid|uninitialised|lost in|Mismatched|overlap|Syscall" |
		    head -n 80
		_rc=1
	fi
	if [ "${KEEP:-0}" = 1 ]; then echo "kept $T"; else rm -rf "$T"; fi
	exit $_rc
}
trap cleanup EXIT

fail() {
	echo "FAIL $NAME: $*"
	for f in "$T"/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f"; tail -n 30 "$f"
	done
	exit 1
}

ok() { echo "ok   $NAME: $*"; }

# skip WHY: a part of the test that cannot run here, said as such (never
# as "ok"); run-integration.sh counts them.
skip() { echo "skip $NAME: $*"; }

# have TOOL PACKAGE: 0 if TOOL is on the PATH.  Else the part is skipped,
# unless NBMQ_STRICT_TOOLS=1 (make check: make deps installs PACKAGE, so
# its absence is a broken machine, not a reason to pass): then it fails.
have() {
	command -v "$1" >/dev/null && return 0
	[ "${NBMQ_STRICT_TOOLS:-0}" = 1 ] &&
	    fail "$1 missing (package $2, which make deps installs)"
	skip "$1 not installed (apt-get install $2)"
	return 1
}

# wait_for SECONDS COMMAND...: poll every 20 ms until COMMAND succeeds.
wait_for() {
	_end=$(( $(date +%s%N) + ${1%.*} * 1000000000 ))
	shift
	while ! "$@" 2>/dev/null; do
		[ "$(date +%s%N)" -lt "$_end" ] || return 1
		sleep 0.02
	done
}

# start_daemon NAME [CONFIG]: nbmqd on $T/NAME.sock, log in $T/NAME.log.
start_daemon() {
	_n=$1
	_conf=${2:-/dev/null}
	# VALGRIND=1 (make check-valgrind): the daemon runs under valgrind;
	# an error or a leak in $T/NAME.vg fails the test at cleanup.
	_vg=
	[ "${VALGRIND:-0}" = 1 ] && _vg="valgrind --leak-check=full \
	    --error-exitcode=99 --log-file=$T/$_n.vg"
	$_vg "$NBMQD" -v -c "$_conf" -S "$T/$_n.sock" >"$T/$_n.log" 2>&1 &
	eval "PID_$_n=$!"
	PIDS="$PIDS $!"
	DPIDS="$DPIDS $!"
	wait_for 10 test -S "$T/$_n.sock" || fail "daemon $_n did not start"
	wait_for 10 grep -q "started" "$T/$_n.log" || fail "daemon $_n not ready"
}

# bound_port LOGFILE: the endpoint printed by nbmqcat/apptool after bind.
bound_endpoint() {
	sed -n 's/.*bound to \([^ ]*\)$/\1/p' "$1" | head -n 1
}

# A UDP port that was free a moment ago (for daemons that must restart on
# the same port).
free_udp_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# forget_daemon PID: a daemon the test kills or stops on purpose; its exit
# status is the test's business, not cleanup's.
forget_daemon() {
	_keep=
	for _p in $DPIDS; do [ "$_p" = "$1" ] || _keep="$_keep $_p"; done
	DPIDS=$_keep
}

log_has() { grep -q -- "$2" "$T/$1.log"; }

# log_ms NAME PATTERN: when daemon NAME logged the first line matching
# PATTERN, in ms since the epoch: its own timestamp, so that a slow test
# (valgrind, a busy machine) does not stretch what is measured.
log_ms() {
	_ts=$(grep -m 1 -- "$2" "$T/$1.log" | cut -c 1-23)
	[ -n "$_ts" ] || return 1
	date -d "$_ts" +%s%3N
}

# heap_kib SOCK: the heap in use of the daemon at SOCK, in KiB (nbmqctl
# stats' heap_bytes: malloc's own count, where the RSS says only what the
# allocator has not given back).
heap_kib() {
	"$BIN/nbmqctl" -S "$1" --json stats | /usr/bin/python3 -c \
	    'import json,sys; print(json.load(sys.stdin)["heap_bytes"] // 1024)'
}
