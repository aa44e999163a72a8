#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/fuzz/run.sh MODE: build, then run the libFuzzer targets
# (tests/fuzz/fuzz_*.c) in build/fuzz.
#
#   fuzz    each target for FUZZ_SECONDS (default 60) on a working corpus
#           (build/fuzz/corpus/TARGET, seeded from tests/fuzz/corpus/TARGET);
#           fails on any crash, leak or timeout, whose input is left in
#           build/fuzz/artifacts/.  Copy it into tests/fuzz/corpus/TARGET/
#           once fixed: from then on `make check` replays it.
#   replay  each target once over tests/fuzz/corpus/TARGET (fast: make check)
#   build   only build
set -u
cd "$(dirname "$0")/../.."
MODE=${1:-fuzz}
FO=build/fuzz
FCC=${FUZZ_CC:-clang}
SECS=${FUZZ_SECONDS:-60}
MAKE=${MAKE:-make}
TARGETS=$(for f in tests/fuzz/fuzz_*.c; do basename "$f" .c; done)

if ! command -v "$FCC" >/dev/null 2>&1; then
	echo "fuzz: no $FCC: install clang and libclang-rt-dev (make deps)"
	exit 1
fi
mkdir -p "$FO"
probe="$FO/probe"
printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *, size_t);' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return 0; }' \
    >"$probe.c"
if ! "$FCC" -fsanitize=fuzzer,address,undefined -o "$probe" "$probe.c" \
    >"$probe.err" 2>&1; then
	echo "fuzz: $FCC cannot link -fsanitize=fuzzer: clang's libFuzzer" \
	    "runtime is missing (Debian: apt-get install libclang-rt-dev)"
	sed 's/^/  /' "$probe.err" | head -n 5
	exit 1
fi

bins=""
for t in $TARGETS; do bins="$bins $FO/tests/fuzz/$t"; done
# shellcheck disable=SC2086
$MAKE -s ${BUILD_J:-} O=$FO CC="$FCC" SAN=fuzz $bins || exit 1
[ "$MODE" = build ] && exit 0

failed=0
for t in $TARGETS; do
	bin=$FO/tests/fuzz/$t
	seeds=tests/fuzz/corpus/$t
	log=$FO/$t.log
	mkdir -p "$seeds"
	case $MODE in
	replay)
		# -runs=0: execute every corpus file once, then stop.
		mkdir -p "$FO/artifacts"
		if "$bin" -runs=0 -artifact_prefix="$FO/artifacts/$t-" \
		    "$seeds" >"$log" 2>&1; then
			n=$(ls "$seeds" | wc -l)
			echo "ok   fuzz replay $t: $n corpus inputs"
		else
			echo "FAIL fuzz replay $t:"
			grep -E -A 30 "ERROR|runtime error|invariant" "$log" |
			    head -n 40
			failed=$((failed + 1))
		fi
		;;
	fuzz)
		work=$FO/corpus/$t
		mkdir -p "$work" "$FO/artifacts"
		echo "== fuzz $t: $SECS s"
		if "$bin" -max_total_time="$SECS" -timeout=10 \
		    -rss_limit_mb=2048 -print_final_stats=1 \
		    -artifact_prefix="$FO/artifacts/$t-" \
		    "$work" "$seeds" >"$log" 2>&1; then
			execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
			cov=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -n 1 |
			    sed 's/.*\(cov: [0-9]*\).*\(corp: [^ ]*\).*/\1 \2/')
			echo "ok   fuzz $t: $execs executions, $cov, no crash"
		else
			echo "FAIL fuzz $t: (full log $log)"
			grep -E -A 30 "ERROR|runtime error|invariant|timeout" \
			    "$log" | head -n 40
			ls "$FO"/artifacts/"$t"-* 2>/dev/null | sed 's/^/  input: /'
			failed=$((failed + 1))
		fi
		;;
	*)
		echo "usage: $0 fuzz|replay|build"
		exit 2
		;;
	esac
done
[ "$failed" -eq 0 ] || { echo "fuzz: $failed target(s) failed"; exit 1; }
