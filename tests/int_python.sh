#!/bin/sh
# The Python binding (client-lib/python, issue 19) against a real daemon:
# tests/python_binding.py (unittest: every call of the API, errnos as
# exceptions, options, events, EAGAIN at send_hwm, zero copy, selectors,
# asyncio with several sockets, a killed daemon, interop with nbmqcat and a
# C application both ways), then the examples of client-lib/python/examples
# as a user runs them.  PYTHON picks the interpreter (default python3).
. "$(dirname "$0")/lib.sh"

PY=${PYTHON:-python3}
if ! command -v "$PY" >/dev/null; then
	have "$PY" python3 || exit 0
fi
STUN_PORT=$(free_udp_port)
cat >"$T/a.conf" <<CONF
[socket news]
type = dish
bind = 127.0.0.1:0

[socket out]
type = dealer
bind = 127.0.0.1:0

[socket rendezvous]
type = stun
bind = 127.0.0.1:$STUN_PORT
stun_allow = 127.0.0.0/8

[socket bob]
type = dealer
bind = 127.0.0.1:0
name = bob
stun_server = 127.0.0.1:$STUN_PORT
stun_refresh_ivl = 1
CONF
start_daemon a "$T/a.conf"
NEWS_EP=$(sed -n 's/.*socket news: bound to //p' "$T/a.log")
[ -n "$NEWS_EP" ] || fail "no endpoint for socket news"

export NBMQ_SOCKET="$T/a.sock" NBMQ_LIBRARY="$BIN/libnbmq.so.0"
export PYTHONPATH="$TOP/client-lib/python${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
export NBMQD NBMQCAT APPTOOL NBMQ_H="$TOP/client-lib/nbmq.h" NEWS_EP \
    STUN_EP="127.0.0.1:$STUN_PORT" TESTDIR="$T"

# bob is registered once the stun socket has its name.
wait_for 10 "$BIN/nbmqctl" -S "$T/a.sock" index rendezvous \
    >/dev/null || fail "nbmqctl index"
wait_for 10 sh -c "'$BIN/nbmqctl' -S '$T/a.sock' index rendezvous |
    grep -q bob" || fail "bob never registered at the stun socket"

(cd "$TOP/tests" && "$PY" -m unittest -v python_binding) >"$T/unittest.out" 2>&1 \
    </dev/null || {
	cd "$TOP" && tail -n 80 "$T/unittest.out"; fail "python_binding"; }
ok "python binding ($("$PY" --version 2>&1)):" \
    "$(tail -n 3 "$T/unittest.out" | grep -E '^(OK|Ran)' | tr '\n' ' ')"
