#!/bin/sh
# SPDX-License-Identifier: ISC
# Run every integration test (tests/int_*.sh), or those of INT_TESTS (paths);
# then say how many failed and which parts were skipped.  O selects the
# build tree (build, build/asan).  A skipped part is never a pass: it is
# listed at the end, and under make check (NBMQ_STRICT_TOOLS=1) a part
# skipped for a tool that make deps installs fails its test (tests/lib.sh).
#
# The tests use port 0 and their own temporary directories, so INT_JOBS of
# them (default 2) run at once; each one's output is printed whole when it
# ends, with its time.  A test that measures time or memory against a
# bound (a flood, a round trip ratio) says so with a line
#   # nbmq-test: serial (why)
# and runs alone after the others, so that its neighbours do not stretch
# what it measures.
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
export O
JOBS=${INT_JOBS:-2}
D=$(mktemp -d "${TMPDIR:-/tmp}/nbmq-int.XXXXXX")
trap 'rm -rf "$D"' EXIT
: >"$D/all"

# run_one TEST: its output to $D, then printed at once; its status kept.
run_one() {
	_n=$(basename "$1" .sh)
	_t0=$(date +%s%N)
	sh "$1" >"$D/$_n.out" 2>&1
	echo $? >"$D/$_n.rc"
	_ms=$(( ($(date +%s%N) - _t0) / 1000000 ))
	{
		flock 9
		cat "$D/$_n.out"
		echo "time $_n: $((_ms / 1000)).$(printf %03d $((_ms % 1000))) s"
		cat "$D/$_n.out" >>"$D/all"
	} 9>>"$D/lock"
}

all=${INT_TESTS:-tests/test_peer_selftest.sh tests/int_*.sh}
par=
ser=
for t in $all; do
	if grep -q '^# nbmq-test: serial' "$t"; then
		ser="$ser $t"
	else
		par="$par $t"
	fi
done

# The parallel ones: JOBS workers, each taking the next test off a queue
# when its last one ends.
next_test() {
	{
		flock 8
		head -n 1 "$D/queue"
		sed -i 1d "$D/queue"
	} 8>>"$D/qlock"
}
worker() {
	while _t=$(next_test) && [ -n "$_t" ]; do
		run_one "$_t"
	done
}
: >"$D/queue"
for t in $par; do
	echo "$t" >>"$D/queue"
done
w=0
while [ "$w" -lt "$JOBS" ]; do
	worker &
	w=$((w + 1))
done
wait
for t in $ser; do
	run_one "$t"
done

failed=0
failures=
for t in $all; do
	_n=$(basename "$t" .sh)
	if [ "$(cat "$D/$_n.rc" 2>/dev/null)" != 0 ]; then
		failed=$((failed + 1))
		failures="$failures $_n"
	fi
done
skips=$(grep -c '^skip ' "$D/all")
if [ "$skips" -gt 0 ]; then
	echo "integration: $skips part(s) skipped:"
	grep '^skip ' "$D/all" | sed 's/^/  /'
fi
if [ "$failed" -gt 0 ]; then
	echo "integration: $failed test(s) failed:$failures"
	exit 1
fi
echo "integration: all passed"
