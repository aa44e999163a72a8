#!/bin/sh
# SPDX-License-Identifier: ISC
# Run every integration test (tests/int_*.sh), or those of INT_TESTS (paths);
# then say how many failed and which parts were skipped.  O selects the
# build tree (build, build/asan).  A skipped part is never a pass: it is
# listed at the end, and under make check (NBMQ_STRICT_TOOLS=1) a part
# skipped for a tool that make deps installs fails its test (tests/lib.sh).
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
export O
OUT=$(mktemp "${TMPDIR:-/tmp}/nbmq-int.XXXXXX")
trap 'rm -f "$OUT" "$OUT.rc"' EXIT
failed=0
for t in ${INT_TESTS:-tests/test_peer_selftest.sh tests/int_*.sh}; do
	{ sh "$t"; echo $? >"$OUT.rc"; } | tee -a "$OUT"
	[ "$(cat "$OUT.rc")" = 0 ] || failed=$((failed + 1))
done
skips=$(grep -c '^skip ' "$OUT")
if [ "$skips" -gt 0 ]; then
	echo "integration: $skips part(s) skipped:"
	grep '^skip ' "$OUT" | sed 's/^/  /'
fi
if [ "$failed" -gt 0 ]; then
	echo "integration: $failed test(s) failed"
	exit 1
fi
echo "integration: all passed"
