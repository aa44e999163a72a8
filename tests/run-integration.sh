#!/bin/sh
# Run every integration test (tests/int_*.sh), or those of INT_TESTS;
# then say how many failed.  O selects the build tree (build, build/asan).
set -u
cd "$(dirname "$0")/.."
O=${O:-build}
export O
failed=0
for t in ${INT_TESTS:-tests/test_peer_selftest.sh tests/int_*.sh}; do
	if ! sh "$t"; then
		failed=$((failed + 1))
	fi
done
if [ "$failed" -gt 0 ]; then
	echo "integration: $failed test(s) failed"
	exit 1
fi
echo "integration: all passed"
