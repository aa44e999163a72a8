#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/stage.sh NAME COMMAND...: one stage of make check, timed.  Runs
# COMMAND; appends "NAME  SECONDS s" to $O/check-stages.txt (the first
# stage starts it afresh) so that make check ends with where its time
# went; exits with COMMAND's status.
name=$1
shift
f=${O:-build}/check-stages.txt
mkdir -p "$(dirname "$f")"
[ "$name" = tests ] && : >"$f"
t0=$(date +%s)
"$@"
rc=$?
printf 'check: %-10s %4d s%s\n' "$name" $(($(date +%s) - t0)) \
    "$([ $rc = 0 ] || echo " (failed)")" >>"$f"
[ $rc = 0 ] || cat "$f"
exit $rc
