#!/bin/sh
# SPDX-License-Identifier: ISC
# The command lines of nbmqd, nbmqctl and nbmqcat: --help and --version
# (and -h, -V) exit 0 on stdout; the version is NBMQ_VERSION of nbmq.h,
# the one place it is defined, and nbmq.pc says the same; a usage error
# exits 2 with one line saying what is wrong and one saying where to look.
. "$(dirname "$0")/lib.sh"

VERSION=$(sed -n 's/.*define NBMQ_VERSION[^"]*"\([^"]*\)".*/\1/p' \
    "$TOP/client-lib/nbmq.h")
echo "$VERSION" | grep -q '^[0-9][0-9.]*[0-9]$' ||
    fail "no NBMQ_VERSION in nbmq.h: '$VERSION'"
grep -q "^Version: $VERSION$" "$BIN/nbmq.pc" ||
    fail "nbmq.pc: $(grep Version "$BIN/nbmq.pc"), nbmq.h: $VERSION"
for m in "$TOP"/docs/*.[1-8]; do
	grep -q "^\.TH .* \"nbmq $VERSION\" " "$m" ||
	    fail "$m: $(grep '^\.TH' "$m"), nbmq.h: $VERSION"
done

n=0
for p in nbmqd nbmqctl nbmqcat; do
	for a in --version -V; do
		out=$("$BIN/$p" $a 2>"$T/err") || fail "$p $a: exit $?"
		[ "$out" = "$p $VERSION" ] || fail "$p $a printed: $out"
		[ ! -s "$T/err" ] || fail "$p $a on stderr: $(cat "$T/err")"
	done
	for a in --help -h; do
		"$BIN/$p" $a >"$T/out" 2>"$T/err" || fail "$p $a: exit $?"
		head -n 1 "$T/out" | grep -q "^usage: $p " ||
		    fail "$p $a: $(head -n 3 "$T/out")"
		grep -q -- "--version" "$T/out" || fail "$p $a: no --version"
		[ ! -s "$T/err" ] || fail "$p $a on stderr: $(cat "$T/err")"
	done
	for a in --bogus -z "-S"; do
		"$BIN/$p" $a >"$T/out" 2>"$T/err"
		rc=$?
		[ $rc -eq 2 ] || fail "$p $a: exit $rc, want 2"
		[ ! -s "$T/out" ] || fail "$p $a: stdout: $(cat "$T/out")"
		[ "$(wc -l <"$T/err")" -eq 2 ] &&
		    tail -n 1 "$T/err" | grep -q -x \
		    "Try '$p --help' for more information." ||
		    fail "$p $a: want an error and a hint: $(cat "$T/err")"
		n=$((n + 1))
	done
done
# Errors of the programs' own, not getopt's.
for cmd in "nbmqd extra" "nbmqcat -r" "nbmqcat -b 127.0.0.1:0 -f" \
    "nbmqctl nosuch" "nbmqctl"; do
	# shellcheck disable=SC2086
	set -- $cmd
	p=$1
	shift
	"$BIN/$p" "$@" </dev/null >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -eq 2 ] || fail "$cmd: exit $rc, want 2"
	[ "$(wc -l <"$T/err")" -eq 2 ] && head -n 1 "$T/err" | grep -q "^$p: " &&
	    tail -n 1 "$T/err" | grep -q "^Try '$p --help'" ||
	    fail "$cmd: want an error and a hint: $(cat "$T/err")"
	n=$((n + 1))
done
ok "nbmqd, nbmqctl, nbmqcat: --version/-V print $VERSION (nbmq.h, nbmq.pc), --help/-h exit 0; $n usage errors: exit 2, one line and a hint"

# NEWS: its newest entry is this version.
top=$(sed -n 's/^nbmq \([0-9][0-9.]*\) .*/\1/p' "$TOP/NEWS" | head -n 1)
[ "$top" = "$VERSION" ] || fail "NEWS's newest entry is ${top:-none}, the version $VERSION"
ok "NEWS's newest entry is $VERSION"
