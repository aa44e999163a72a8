#!/bin/sh
# SPDX-License-Identifier: ISC
# The Makefile takes the builder's CPPFLAGS, CFLAGS and LDFLAGS without
# losing its own (make CFLAGS=-O0 builds), and tracks headers per object
# (-MMD -MP): a changed header rebuilds the objects that include it and
# only those; an object without its .d is rebuilt once.  In a build tree
# of its own under $T: nothing in build/ is touched.
. "$(dirname "$0")/lib.sh"

unset MAKEFLAGS MFLAGS MAKELEVEL	# not the flags of a make running us
cd "$TOP" || fail "cd $TOP"
B=$T/b
mk() { make --no-print-directory O="$B" CFLAGS=-O0 CPPFLAGS=-DNBMQ_CPPFLAGS_TEST "$@"; }

line=$(mk -n -B "$B/daemon/pace.o" | grep -- " -c ") ||
    fail "no compile line for pace.o"
for want in -D_GNU_SOURCE -Iinclude -Iclient-lib -Icommon -Ictl -Idaemon \
    -DNBMQ_CPPFLAGS_TEST \
    -Wall -Wextra -O0 -MMD -MP; do
	case " $line " in
	*" $want "*) ;;
	*) fail "make CFLAGS=-O0 CPPFLAGS=...: no $want in: $line" ;;
	esac
done
# The builder's CFLAGS come after nbmq's, so -O0 (or -Wno-x) wins.
case "$line" in
*-Wall*-O0*) ;;
*) fail "CFLAGS before nbmq's own: $line" ;;
esac
mk "$B/daemon/pace.o" "$B/daemon/crypt.o" >"$T/mk.out" 2>&1 ||
    fail "make CFLAGS=-O0: $(tail -n 20 "$T/mk.out")"
ok "make CFLAGS=-O0 CPPFLAGS=-D...: nbmq's -I, -D, warnings and -MMD kept, the builder's after"

grep -q "daemon/pace.h" "$B/daemon/pace.d" ||
    fail "pace.d: $(cat "$B/daemon/pace.d")"
mk -q "$B/daemon/pace.o" || fail "pace.o not up to date after a build"
mk -q -W daemon/pace.h "$B/daemon/pace.o" &&
    fail "pace.h changed: pace.o not rebuilt"
mk -q -W client-lib/nbmq.h "$B/daemon/crypt.o" &&
    fail "nbmq.h changed: crypt.o not rebuilt"
mk -q -W include/nbmq_encryptor.h "$B/daemon/pace.o" ||
    fail "nbmq_encryptor.h changed: pace.o, which does not include it, rebuilt"
rm "$B/daemon/pace.d"
mk -q "$B/daemon/pace.o" && fail "pace.o without its .d: not rebuilt"
mk "$B/daemon/pace.o" >/dev/null 2>&1 && [ -s "$B/daemon/pace.d" ] ||
    fail "pace.d not written again"
mk -q "$B/daemon/pace.o" || fail "pace.o rebuilt twice"
ok "headers tracked per object: pace.h rebuilds pace.o, nbmq_encryptor.h does not; no .d: rebuilt once"

# Plain make builds what is installed and the examples, and needs no test
# library: nothing of Check (or the test programs) in what it would do.
plan=$(mk -n -B all 2>&1) || fail "make -n all: $(echo "$plan" | tail -n 3)"
echo "$plan" | grep -q -- "-o $B/nbmqd " || fail "make all does not build nbmqd"
case "$plan" in
*-lcheck*|*check.h*|*/tests/*) fail "make all builds tests: $(echo "$plan" |
    grep -m 1 -e -lcheck -e /tests/)" ;;
esac
mk -n -B tests 2>&1 | grep -q -- "-lcheck" || fail "make tests does not link Check"
ok "plain make needs no test library (make tests builds the tests)"

# Every source file says its licence (SPDX), as LICENSE has it (ISC).
cd "$TOP" || fail "cd"
if [ -d .git ]; then
	missing=$(git ls-files '*.c' '*.h' '*.sh' '*.py' Makefile .ci/run |
	    while read -r f; do
		head -n 3 "$f" | grep -q 'SPDX-License-Identifier: ISC' ||
		    echo "$f"
	    done)
	[ -z "$missing" ] || fail "no SPDX line: $missing"
	grep -q "^Permission to use, copy, modify, and distribute" LICENSE ||
	    fail "LICENSE is not ISC"
	ok "every source file names its licence: SPDX-License-Identifier: ISC"
fi
