#!/bin/sh
# SPDX-License-Identifier: ISC
# Every example of README.md runs as written (issue 17).  The examples are
# extracted from README.md, never copied here.  Each fenced ```sh, ```c and
# ```ini block follows a marker, an HTML comment on the line right before
# its fence (GitHub does not show it):
#
#   <!-- run -->             sh: run as one script (sh -e), must exit 0;
#                            c: compiled against build/ as the body of
#                            main() (after the usual headers and nbmq.h),
#                            run, must exit 0
#   <!-- run: background --> sh: started and left running, as in a
#                            terminal of its own (a receiver); stopped at
#                            the end or by the next config, and it must not
#                            have failed by then
#   <!-- run: output -->     a plain ``` block: what the last background
#                            example has printed by then, exactly
#   <!-- run: config -->     ini: the daemon restarted on this file, as
#                            `make run RUN_CONF=FILE` would run it
#   <!-- not run: WHY -->    not run, for the reason given
#
# An sh, c or ini block without a marker fails the test: a new example is
# run, or says why not.  The examples run as a reader runs them after
# `make run`: in a directory laid out like the top of the tree (build/
# holds the programs, conf/ and README.md are there), against a private
# daemon on build/run/nbmqd.sock there, one block after the other in the
# README's order, with NBMQ_SOCKET exported to it as the tour has the
# reader do in each terminal (a block that sets it wrongly still fails).  Their fixed ports (7000-7099) are each replaced by one
# the kernel just gave out, the same in every block, so that parallel runs
# do not collide; a port bound by two examples fails the test (a reader
# running both would get EADDRINUSE).
. "$(dirname "$0")/lib.sh"

README=$TOP/README.md
EX=$T/ex
mkdir -p "$EX" "$T/top/build/run"
TOPDIR=$T/top
for p in nbmqd nbmqcat nbmqctl; do ln -s "$BIN/$p" "$TOPDIR/build/$p"; done
for l in "$BIN"/libnbmq.*; do ln -s "$l" "$TOPDIR/build/"; done
ln -s "$TOP/conf" "$TOPDIR/conf"
ln -s "$README" "$TOPDIR/README.md"
RUNSOCK=$TOPDIR/build/run/nbmqd.sock
export NBMQ_SOCKET=$RUNSOCK

# --- Extract: $EX/N.LANG holds block N, $EX/list says "N KIND LANG LINE"
# (KIND: run, background, output, config, not-run, none).
awk -v dir="$EX" '
	function kind(m) {
		if (m ~ /^<!-- run -->$/) return "run"
		if (m ~ /^<!-- run: background -->$/) return "background"
		if (m ~ /^<!-- run: output -->$/) return "output"
		if (m ~ /^<!-- run: config -->$/) return "config"
		if (m ~ /^<!-- not run: .+ -->$/) return "not-run"
		return "none"
	}
	/^```/ && !inb {
		inb = 1; n++
		lang = substr($0, 4); if (lang == "") lang = "text"
		k = kind(prev)
		print n, k, lang, NR > (dir "/list")
		f = dir "/" n "." lang
		printf "" > f
		next
	}
	/^```$/ && inb { inb = 0; close(f); prev = $0; next }
	inb { print > f; next }
	{ prev = $0 }
' "$README"
[ -s "$EX/list" ] || fail "no fenced blocks in README.md"

bad=$(awk '($3 == "sh" || $3 == "c" || $3 == "ini") && $2 == "none" {
    printf " README.md:%s (%s)", $4, $3 }' "$EX/list")
[ -z "$bad" ] || fail "examples without a marker (<!-- run... --> or <!-- not run: why -->):$bad"
bad=$(awk '($2 == "run" && $3 != "sh" && $3 != "c") ||
    ($2 == "background" && $3 != "sh") || ($2 == "config" && $3 != "ini") ||
    ($2 == "output" && $3 != "text") { printf " README.md:%s (%s %s)", $4,
    $2, $3 }' "$EX/list")
[ -z "$bad" ] || fail "markers on the wrong kind of block:$bad"

# --- Ports: a bound port once only; then each replaced by a free one.
RUNNABLE=$(awk '$2 == "run" || $2 == "background" || $2 == "config" {
    print $1 "." $3 }' "$EX/list")
for b in $RUNNABLE; do
	grep -o -E -- "(-b '?\[?[^ ']*:|bind *= *[^ ]*:)[0-9]+" "$EX/$b" |
	    sed 's/.*://' | grep -v '^0$' | sed "s/\$/ $b/"
done >"$T/binds"
dup=$(cut -d' ' -f1 "$T/binds" | sort | uniq -d | paste -s -d'|')
[ -z "$dup" ] || fail "port(s) $dup bound by two README examples: $(grep -E "^($dup) " "$T/binds" | tr '\n' ' ' | sed 's/ \([0-9]*\)\./ block \1./g')"
for b in $RUNNABLE; do grep -o -E ':70[0-9][0-9]\b' "$EX/$b"; done |
    sort -u >"$T/ports"
: >"$T/sed"
for p in $(cat "$T/ports"); do
	q=$(free_udp_port)
	while grep -q ":$q/g\$" "$T/sed"; do q=$(free_udp_port); done
	printf 's/%s\\b/:%s/g\n' "$p" "$q" >>"$T/sed"
done
for b in $RUNNABLE; do sed -i -f "$T/sed" "$EX/$b"; done

# --- The private daemon: what make run runs, on build/run/nbmqd.sock.
DN=0
daemon_start() {
	DN=$((DN + 1))
	"$NBMQD" -v -c "$1" -S "$RUNSOCK" >"$T/d$DN.log" 2>&1 &
	DPID=$!
	PIDS="$PIDS $DPID"
	wait_for 10 test -S "$RUNSOCK" &&
	    wait_for 10 grep -q "started" "$T/d$DN.log" ||
	    fail "daemon on $1 did not start: $(tail -n 5 "$T/d$DN.log")"
}
daemon_stop() {
	kill -TERM "$DPID"
	wait "$DPID"
	_st=$?
	[ "$_st" = 0 ] || fail "daemon exited with status $_st"
	wait_for 5 sh -c "! test -S '$RUNSOCK'" || rm -f "$RUNSOCK"
}

# exited PID: it exited (and is not waited for yet), or is gone.
exited() {
	! kill -0 "$1" 2>/dev/null ||
	    [ "$(cut -d' ' -f3 "/proc/$1/stat" 2>/dev/null)" = Z ]
}

# Every example runs in a session of its own (GRPS: their ids), so that
# what it leaves running is stopped with it; background examples
# (BGS: "PID:LINE") must still run, or have exited 0, when stopped.
GRPS=
BGS=
bg_stop_all() {
	for e in $BGS; do
		_p=${e%%:*}
		if exited "$_p"; then
			wait "$_p"
			_st=$?
			[ "$_st" = 0 ] || fail "README.md:${e#*:}: the background example exited with status $_st: $(cat "$T/bg${e#*:}.log")"
		fi
	done
	for g in $GRPS; do kill -TERM "-$g" 2>/dev/null; done
	for g in $GRPS; do
		wait_for 5 exited "$g" || kill -KILL "-$g" 2>/dev/null
		kill -KILL "-$g" 2>/dev/null
		wait "$g" 2>/dev/null
	done
	BGS=
	GRPS=
}
trap '_rc=$?; for g in $GRPS; do kill -KILL "-$g" 2>/dev/null; done
    (exit $_rc); cleanup' EXIT

# run_sh FILE LINE: one script, within 60 s, exit 0.
run_sh() {
	(cd "$TOPDIR" && exec setsid sh -e "$1") >"$T/run.txt" 2>"$T/run.log" &
	_p=$!
	GRPS="$GRPS $_p"
	wait_for 60 exited "$_p" ||
	    fail "README.md:$2: still running after 60 s: $(cat "$T/run.log")"
	wait "$_p"
	_st=$?
	[ "$_st" = 0 ] || fail "README.md:$2: exit $_st: $(cat "$T/run.txt" "$T/run.log" | tail -n 20)"
}

run_c() {
	{
		printf '#include <errno.h>\n#include <poll.h>\n'
		printf '#include <stdint.h>\n#include <stdio.h>\n'
		printf '#include <sys/uio.h>\n\n#include <nbmq.h>\n\n'
		printf 'int\nmain(void)\n{\n'
		cat "$1"
		printf 'return 0;\n}\n'
	} >"$T/example.c"
	# An ASan build's library needs the runtime (as int_service does).
	_san=
	ldd "$NBMQD" | grep -q libasan && _san="-fsanitize=address,undefined"
	# shellcheck disable=SC2086
	cc $_san -std=gnu11 -Wall -Wextra -Werror -I"$TOP/client-lib" \
	    -o "$T/example" \
	    "$T/example.c" -L"$BIN" -lnbmq -Wl,-rpath,"$BIN" 2>"$T/cc.err" ||
	    fail "README.md:$2: does not compile: $(head -n 20 "$T/cc.err")"
	(cd "$TOPDIR" && NBMQ_SOCKET=$RUNSOCK exec "$T/example") >"$T/run.txt" 2>&1 &
	_p=$!
	PIDS="$PIDS $_p"
	wait_for 60 exited "$_p" ||
	    fail "README.md:$2: still running after 60 s"
	wait "$_p" || fail "README.md:$2: exit $?: $(cat "$T/run.txt")"
}

daemon_start "$TOP/conf/nbmqd.conf"
nsh=0 nc=0 nini=0 nout=0 nbg=0 nnot=0 lastbg=
while read -r n kind lang line; do
	f=$EX/$n.$lang
	case "$kind.$lang" in
	run.sh)
		run_sh "$f" "$line"
		nsh=$((nsh + 1))
		;;
	run.c)
		run_c "$f" "$line"
		nc=$((nc + 1))
		;;
	background.sh)
		# Its output is named by its README line, known before the
		# fork (the child opens the files: not yet, when $! is).
		(cd "$TOPDIR" && exec setsid sh -e "$f") >"$T/bg$line.txt" \
		    2>"$T/bg$line.log" &
		_p=$!
		BGS="$BGS $_p:$line"
		GRPS="$GRPS $_p"
		lastbg=$line
		# A receiver that binds is ready once it says where.
		if grep -q -- ' -b ' "$f"; then
			wait_for 10 grep -qs "bound to" "$T/bg$line.log" ||
			    fail "README.md:$line: not bound: $(cat "$T/bg$line.log" 2>&1)"
		fi
		nbg=$((nbg + 1))
		;;
	output.text)
		[ -n "$lastbg" ] || fail "README.md:$line: output of nothing"
		wait_for 20 cmp -s "$f" "$T/bg$lastbg.txt" ||
		    fail "README.md:$line: the example printed: $(cat "$T/bg$lastbg.txt")"
		nout=$((nout + 1))
		;;
	config.ini)
		bg_stop_all
		daemon_stop
		cp "$f" "$TOPDIR/my.conf"
		daemon_start "$TOPDIR/my.conf"
		nini=$((nini + 1))
		;;
	not-run.*)
		nnot=$((nnot + 1))
		;;
	esac
done <"$EX/list"
bg_stop_all
daemon_stop
ok "README.md: $nsh sh and $nc C examples ran, $nbg in the background, $nout outputs as shown, $nini configurations; $nnot marked not run; bound ports unique"
