#!/bin/sh
# SPDX-License-Identifier: ISC
# The README's C example (examples/hello.c) works as written.
. "$(dirname "$0")/lib.sh"

start_daemon a
out=$(NBMQ_SOCKET=$T/a.sock "$BIN/examples/hello") || fail "hello: $out"
echo "$out" | grep -q "^part 1: hello, world$" || fail "hello printed: $out"
ok "examples/hello: $(echo "$out" | head -n 2 | tr '\n' ' ')"
