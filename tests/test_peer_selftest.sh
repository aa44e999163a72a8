#!/bin/sh
# SPDX-License-Identifier: ISC
# Codec self test of the independent NBMQ v0.2.0 peer (tests/peer_v020.py).
cd "$(dirname "$0")/.." || exit 1
python3 tests/peer_v020.py selftest
exit $?
