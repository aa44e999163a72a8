#!/bin/sh
# SPDX-License-Identifier: ISC
# Two rendezvous sharing their index of names through a real redis-server
# (stun_index = redis+unix://..., README "Several rendezvous"):
#  - bob registers at rendezvous A; alice connects by name through B;
#    messages flow both ways, and A (the one bob's NAT knows) sent bob the
#    Binding indication that B was asked for;
#  - Redis killed: no crash, no hang, both say "degraded" once (log and
#    nbmqctl), A still answers for bob from its own registrations;
#    Redis started again: both back, bob's key written again within one
#    refresh interval, alice connects through B again;
#  - Redis made a replica (what Sentinel does to a failed-over master):
#    A sees READONLY, reconnects, writes bob again once it can;
#  - bob's daemon stops: his name is gone from Redis and from both
#    rendezvous (nbmqctl index) within 3 refresh intervals;
#  - a reload with another stun_index_prefix starts the socket again;
#  - a rendezvous on redis://localhost:PORT/1 before that Redis runs:
#    degraded, then connected once it does; names in database 1;
#  - in network namespaces: bob and alice each behind a MASQUERADE NAT
#    that drops new inbound UDP, the two rendezvous on the public side;
#    bob registers at A, alice asks B, A's Binding indication is the one
#    bob's NAT lets in, and messages flow both ways.
# nbmq-test: serial (re-registration within one refresh interval of Redis
# coming back, expiry within 3: time bounds a busy neighbour would stretch)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/natlab.sh"

have redis-server redis-server || exit 0
have redis-cli redis-server || exit 0
CTL=$BIN/nbmqctl
R="redis-cli -s $T/redis.sock"

start_redis() {
	redis-server --port 0 --unixsocket "$T/redis.sock" --save '' \
	    --appendonly no --dir "$T" >"$T/redis.out" 2>&1 &
	REDIS_PID=$!
	PIDS="$PIDS $REDIS_PID"
	wait_for 10 sh -c "$R ping | grep -q PONG" ||
	    fail "redis-server did not start: $(tail -n 5 "$T/redis.out")"
}

# ctl_json DAEMON COMMAND EXPR: nbmqctl --json COMMAND, then EXPR over d.
ctl_json() {
	"$CTL" -S "$T/$1.sock" --json $2 >"$T/ctl.json" 2>"$T/ctl.err" ||
	    return 1
	/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/ctl.json" "$3"
}
state_is() {
	[ "$(ctl_json "$1" sockets "[s['state'] for s in d['sockets'] if s['name'] == 'rv'][0]")" = "$2" ]
}
key_is() { [ "$($R get "t1:name:$1")" = "$2" ]; }
key_gone() { [ -z "$($R get "t1:name:$1")" ]; }
now_ms() { date +%s%3N; }

start_redis
PA=$(free_udp_port)
PB=$(free_udp_port)
for r in a b; do
	[ $r = a ] && p=$PA || p=$PB
	cat >"$T/r$r.conf" <<EOF
[daemon]
log_level = debug

[socket rv]
type = stun
bind = 127.0.0.1:$p
stun_refresh_ivl = 1
stun_allow = 127.0.0.0/8
stun_index = redis+unix://$T/redis.sock
stun_index_prefix = t1:
EOF
	start_daemon r$r "$T/r$r.conf"
	wait_for 10 log_has r$r "stun_index .* connected as" ||
	    fail "rendezvous $r: not connected to Redis"
done
state_is ra bound || fail "ra: state $(cat "$T/ctl.json")"
ok "two rendezvous on one Redis: $(grep -m 1 -o "stun_index .* connected as .*" "$T/ra.log")"

# ---- bob at A, alice through B -------------------------------------------
cat >"$T/bob.conf" <<EOF
[socket bob]
type = dealer
bind = 127.0.0.1:0
name = bob
stun_server = 127.0.0.1:$PA
stun_refresh_ivl = 1
EOF
start_daemon bob "$T/bob.conf"
wait_for 10 log_has ra "index: bob at 127.0.0.1:" || fail "bob not at A"
bobport=$(sed -n 's/.*socket bob: bound to 127.0.0.1:\([0-9]*\)$/\1/p' "$T/bob.log")
holder_a=$(sed -n 's/.*stun_index .* connected as \(.*\)$/\1/p' "$T/ra.log")
wait_for 5 key_is bob "$holder_a 127.0.0.1:$bobport" ||
    fail "t1:name:bob is \"$($R get t1:name:bob)\""
ttl=$($R pttl t1:name:bob)
[ "$ttl" -gt 0 ] && [ "$ttl" -le 3000 ] || fail "t1:name:bob: PTTL $ttl"
ok "bob registered at A: t1:name:bob = \"$($R get t1:name:bob)\", PTTL $ttl ms"

# nbmqctl index: B lists bob, registered at A; A lists him as its own.
for r in ra rb; do
	ctl_json $r index "[(e['name'], e['address'], e['at']) for e in d['index']]" >"$T/index.json" ||
	    fail "$r: nbmqctl --json index: $(cat "$T/ctl.err")"
	[ "$(cat "$T/index.json")" = "[('bob', '127.0.0.1:$bobport', '$holder_a')]" ] ||
	    fail "$r: nbmqctl --json index: $(cat "$T/index.json")"
done
"$BIN/nbmqctl" -S "$T/rb.sock" index >"$T/index.out" ||
    fail "nbmqctl index: $(cat "$T/index.out")"
grep -q "^rv  *bob  *127.0.0.1:$bobport .* $holder_a$" "$T/index.out" ||
    fail "nbmqctl index at B: $(cat "$T/index.out")"
ok "nbmqctl index at B: $(sed -n 2p "$T/index.out" | tr -s ' ')"

cat >"$T/alice.conf" <<EOF
[socket alice]
type = dealer
connect = bob@127.0.0.1:$PB
reconnect_wait = 1
EOF
start_daemon alice "$T/alice.conf"
exchange() {
	NBMQ_SOCKET=$T/bob.sock "$NBMQCAT" -a bob -r -n 2 -w 10 \
	    >"$T/bob.out" 2>"$T/bob.err" &
	_rpid=$!
	printf "$1\n$2\n" | NBMQ_SOCKET=$T/alice.sock "$NBMQCAT" -a alice \
	    -w 10 2>"$T/cat.err" || fail "alice: $(cat "$T/cat.err")"
	wait "$_rpid" || fail "bob received $(cat "$T/bob.out" "$T/bob.err")"
	[ "$(sort "$T/bob.out" | tr '\n' ' ')" = "$1 $2 " ] ||
	    fail "bob received: $(cat "$T/bob.out")"
	printf 'back\n' | NBMQ_SOCKET=$T/bob.sock "$NBMQCAT" -a bob -w 5 \
	    2>"$T/cat.err" || fail "bob: $(cat "$T/cat.err")"
	_got=$(NBMQ_SOCKET=$T/alice.sock "$NBMQCAT" -a alice -r -n 1 -w 5) ||
	    fail "alice received nothing"
	[ "$_got" = "back" ] || fail "alice received $_got"
}
exchange one two
log_has alice "socket alice: bob is at 127.0.0.1:$bobport (stun server 127.0.0.1:$PB" ||
    fail "alice: lookup through B not logged"
log_has ra "asks for bob at another rendezvous: introduced" ||
    fail "A did not introduce alice to bob"
ok "alice -> B -> Redis -> bob at A: 2 messages to bob, 1 back; A sent the Binding indication"

# ---- Redis down and back ---------------------------------------------------
kill -9 "$REDIS_PID"
wait "$REDIS_PID" 2>/dev/null
for r in ra rb; do
	wait_for 10 log_has $r "stun_index .* degraded, answering" ||
	    fail "$r: no degraded warning"
	wait_for 10 state_is $r degraded || fail "$r: nbmqctl state $(cat "$T/ctl.json")"
done
"$BIN/nbmqctl" -S "$T/ra.sock" index >"$T/index.out" 2>"$T/index.err" ||
    fail "nbmqctl index while degraded: $(cat "$T/index.err")"
grep -q "^rv  *bob  *127.0.0.1:$bobport " "$T/index.out" ||
    fail "nbmqctl index at A while degraded: $(cat "$T/index.out")"
grep -q "rv: shared index degraded" "$T/index.err" ||
    fail "nbmqctl index: degraded not said: $(cat "$T/index.err")"
# A still knows bob (its own registration): a lookup there is answered.
printf 'local\n' | NBMQ_SOCKET=$T/alice.sock "$NBMQCAT" \
    -c "bob@127.0.0.1:$PA" -w 10 2>"$T/cat.err" ||
    fail "bob through A while Redis is down: $(cat "$T/cat.err")"
NBMQ_SOCKET=$T/bob.sock "$NBMQCAT" -a bob -r -n 1 -w 10 >"$T/bob.out" ||
    fail "bob: nothing through A while Redis was down"
# Down for a refresh of bob's at least: kept at A only, for now.
nref=$(grep -c "index: bob at .* refreshed" "$T/ra.log")
wait_for 5 sh -c "[ \$(grep -c 'index: bob at .* refreshed' '$T/ra.log') -gt $nref ]" ||
    fail "bob did not refresh at A while Redis was down"
n=$(grep -c "degraded, answering" "$T/ra.log")
[ "$n" = 1 ] || fail "ra warned $n times"
t0=$(now_ms)
start_redis
wait_for 10 key_is bob "$holder_a 127.0.0.1:$bobport" ||
    fail "bob not written again: \"$($R get t1:name:bob)\""
t1=$(now_ms)
# Within one refresh interval (1 s): reconnection backs off to half of it.
[ $((t1 - t0)) -le 1000 ] || fail "bob written again after $((t1 - t0)) ms"
for r in ra rb; do
	wait_for 10 log_has $r "stun_index .* back after" || fail "$r: not back"
	wait_for 5 state_is $r bound || fail "$r: state $(cat "$T/ctl.json")"
done
ok "Redis killed: $(grep -m 1 -o "stun_index .* degraded.*" "$T/rb.log" | cut -c 1-90)...; $(grep -m 1 -o "back after.*" "$T/ra.log"); bob's key again $((t1 - t0)) ms after Redis started"

# alice again through B (a new lookup: the config socket reconnects).
printf 'again\n' | NBMQ_SOCKET=$T/alice.sock "$NBMQCAT" \
    -c "bob@127.0.0.1:$PB" -w 10 2>"$T/cat.err" ||
    fail "bob through B after Redis came back: $(cat "$T/cat.err")"
NBMQ_SOCKET=$T/bob.sock "$NBMQCAT" -a bob -r -n 1 -w 10 >"$T/bob.out" ||
    fail "bob: nothing through B after Redis came back"
[ "$(cat "$T/bob.out")" = "again" ] || fail "bob received $(cat "$T/bob.out")"
ok "after Redis came back: alice through B reaches bob at A"

# ---- Redis stalled (SIGSTOP: a partition sends no reset either) ------------
n0=$(grep -c "degraded, answering" "$T/ra.log")
kill -STOP "$REDIS_PID"
t0=$(now_ms)
wait_for 10 sh -c "[ \$(grep -c 'degraded, answering' '$T/ra.log') -gt $n0 ]" ||
    { kill -CONT "$REDIS_PID"; fail "A: a stalled Redis not noticed"; }
t1=$(now_ms)
state_is ra degraded || { kill -CONT "$REDIS_PID"; fail "A: state $(cat "$T/ctl.json")"; }
# Still answering for its own names, at once.
printf 'stalled\n' | NBMQ_SOCKET=$T/alice.sock "$NBMQCAT" \
    -c "bob@127.0.0.1:$PA" -w 10 2>"$T/cat.err" ||
    { kill -CONT "$REDIS_PID"; fail "bob through A while Redis is stalled: $(cat "$T/cat.err")"; }
NBMQ_SOCKET=$T/bob.sock "$NBMQCAT" -a bob -r -n 1 -w 10 >"$T/bob.out" ||
    { kill -CONT "$REDIS_PID"; fail "bob: nothing through A while Redis was stalled"; }
kill -CONT "$REDIS_PID"
wait_for 10 state_is ra bound || fail "A: not back after SIGCONT: $(cat "$T/ctl.json")"
wait_for 10 state_is rb bound || fail "B: not back after SIGCONT: $(cat "$T/ctl.json")"
ok "Redis stalled: degraded after $((t1 - t0)) ms ($(grep 'degraded, answering' "$T/ra.log" | tail -n 1 | sed 's/.*redis.sock: //' | cut -c 1-40)...), A answered for bob meanwhile, both back after SIGCONT"

# ---- a master demoted to replica (a Sentinel failover) ---------------------
$R replicaof 127.0.0.1 1 >/dev/null
wait_for 5 log_has ra "stun_index .*READONLY.*reconnecting" ||
    fail "A: READONLY not noticed"
$R replicaof no one >/dev/null
$R del t1:name:bob >/dev/null
wait_for 5 key_is bob "$holder_a 127.0.0.1:$bobport" ||
    fail "bob not written again after READONLY"
ok "a demoted master: $(grep -m 1 -o "stun_index .*READONLY.*" "$T/ra.log" | sed 's/.*redis.sock: //'); bob written again once it was a master again"

# ---- expiry ----------------------------------------------------------------
t0=$(now_ms)
kill -TERM "$PID_bob"
wait_for 10 key_gone bob || fail "t1:name:bob still there"
t1=$(now_ms)
wait_for 10 log_has ra "index: bob at 127.0.0.1:$bobport expired" ||
    fail "bob did not expire at A"
[ $((t1 - t0)) -le 3500 ] || fail "bob gone from Redis after $((t1 - t0)) ms"
no_bob() {
	ctl_json "$1" index "[e['name'] for e in d['index']]" >"$T/names" &&
	    [ "$(cat "$T/names")" = "[]" ]
}
wait_for 5 no_bob rb || fail "B still lists $(cat "$T/names")"
wait_for 5 no_bob ra || fail "A still lists $(cat "$T/names")"
ok "bob's daemon stopped: gone from Redis after $((t1 - t0)) ms (3 x 1 s); $(grep -m 1 -o "index: bob at .* expired.*" "$T/ra.log")"

# ---- reload: another prefix starts the socket again ------------------------
sed 's/^stun_index_prefix = t1:$/stun_index_prefix = t3:/' "$T/rb.conf" \
    >"$T/rb.new" && mv "$T/rb.new" "$T/rb.conf"
"$BIN/nbmqctl" -S "$T/rb.sock" reload >"$T/reload.out" 2>&1 ||
    fail "reload: $(cat "$T/reload.out")"
wait_for 10 sh -c "[ \$(grep -c 'stun_index .* connected as' '$T/rb.log') = 2 ]" ||
    fail "rb: not connected again after the reload"
wait_for 5 sh -c "$R pubsub channels 't3:intro:*' | grep -q ." ||
    fail "rb: no t3:intro: channel: $($R pubsub channels '*')"
[ -z "$($R pubsub channels "t1:intro:$(sed -n 's/.*stun_index .* connected as \(.*\)$/\1/p' "$T/rb.log" | head -n 1)")" ] ||
    fail "rb: the old subscription is still there"
ok "reload with stun_index_prefix t3: the socket started again, subscribed to $($R pubsub channels 't3:intro:*'), the old subscription gone"

# ---- Redis over TCP, by name, database 1, unreachable at start -------------
PT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/rc.conf" <<EOF
[socket rv]
type = stun
bind = 127.0.0.1:0
stun_refresh_ivl = 1
stun_index = redis://localhost:$PT/1
EOF
start_daemon rc "$T/rc.conf"
wait_for 10 log_has rc "stun_index redis://localhost:$PT/1: .* degraded" ||
    fail "rc: no Redis on localhost:$PT, yet not degraded"
state_is rc degraded || fail "rc: state $(cat "$T/ctl.json")"
redis-server --port "$PT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$T" >"$T/redis2.out" 2>&1 &
PIDS="$PIDS $!"
wait_for 10 log_has rc "stun_index redis://localhost:$PT/1: back after" ||
    fail "rc: not connected to Redis on localhost:$PT"
rcport=$(sed -n 's/.*socket rv: bound to 127.0.0.1:\([0-9]*\)$/\1/p' "$T/rc.log")
cat >"$T/carol.py" <<'EOF'
import os, socket, struct, sys, zlib
name = b"carol"
attrs = struct.pack("!HH", 0xC001, len(name)) + name + b"\0" * 3
msg = struct.pack("!HHI", 1, len(attrs) + 8, 0x2112A442) + os.urandom(12)
msg += attrs
msg += struct.pack("!HHI", 0x8028, 4,
                   (zlib.crc32(msg) & 0xFFFFFFFF) ^ 0x5354554E)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(msg, ("127.0.0.1", int(sys.argv[1])))
sys.exit(0 if s.recv(1500)[:2] == b"\x01\x01" else 1)
EOF
/usr/bin/python3 "$T/carol.py" "$rcport" || fail "rc: registering carol"
wait_for 5 sh -c "redis-cli -p $PT -n 1 get nbmq:name:carol | grep -q ' 127.0.0.1:'" ||
    fail "carol not in database 1: $(redis-cli -p "$PT" -n 1 keys '*')"
ok "redis://localhost:$PT/1: degraded while nobody listened, then $(grep -m 1 -o "back after [0-9]* ms" "$T/rc.log"); carol in database 1 as nbmq:name:carol"

# ---- through NATs, in network namespaces -----------------------------------
# Two rendezvous on the public side (203.0.113.1 and .5, one Redis: a Unix
# socket reaches across namespaces), bob and alice each behind a
# MASQUERADE NAT that drops new inbound UDP, like home routers.  Bob's NAT
# lets in only what comes from A, where bob registers: the Binding
# indication must come from A although alice asks B.
natlab_start nbrd$$ || exit 0
ip -n "$NS_PUB" addr add 203.0.113.5/24 dev br0	# rendezvous B
router 1 203.0.113.2
router 2 203.0.113.3

for r in a b; do
	[ $r = a ] && ip=203.0.113.1 || ip=203.0.113.5
	cat >"$T/n$r.conf" <<EOF2
[daemon]
log_level = debug

[socket rv]
type = stun
bind = $ip:3478
stun_refresh_ivl = 1
stun_allow = 203.0.113.0/24
stun_index = redis+unix://$T/redis.sock
stun_index_prefix = t2:
EOF2
	ns_daemon "$NS_PUB" n$r "$T/n$r.conf"
	wait_for 10 log_has n$r "stun_index .* connected as" ||
	    fail "NAT: rendezvous $r not connected to Redis"
done
cat >"$T/nbob.conf" <<EOF2
[socket bob]
type = dealer
bind = 0.0.0.0:7000
name = bob
stun_server = 203.0.113.1:3478
stun_refresh_ivl = 1
EOF2
cat >"$T/nalice.conf" <<EOF2
[socket alice]
type = dealer
connect = bob@203.0.113.5:3478
reconnect_wait = 1
EOF2
ns_daemon "${S}h2" nbob "$T/nbob.conf"
wait_for 10 log_has na "index: bob at 203.0.113.3:7000" ||
    fail "NAT: bob is not at A as 203.0.113.3:7000"
ns_daemon "${S}h1" nalice "$T/nalice.conf"
wait_for 10 log_has nalice "socket alice: connecting -> up" ||
    fail "NAT: alice did not get through to bob"
log_has nalice "bob is at 203.0.113.3:7000 (stun server 203.0.113.5:3478" ||
    fail "NAT: alice did not find bob through B"
log_has na "203.0.113.2:.* asks for bob at another rendezvous: introduced" ||
    fail "NAT: A did not introduce alice"
printf 'over\nthe\nnats\n' | NBMQ_SOCKET=$T/nalice.sock "$NBMQCAT" -a alice \
    -w 5 2>"$T/cat.err" || fail "NAT: alice: $(cat "$T/cat.err")"
got=$(NBMQ_SOCKET=$T/nbob.sock "$NBMQCAT" -a bob -r -n 3 -w 5 | tr '\n' ' ') ||
    fail "NAT: bob received $got"
[ "$got" = "over the nats " ] || fail "NAT: bob received $got"
printf 'and back\n' | NBMQ_SOCKET=$T/nbob.sock "$NBMQCAT" -a bob -w 5 \
    2>"$T/cat.err" || fail "NAT: bob: $(cat "$T/cat.err")"
got=$(NBMQ_SOCKET=$T/nalice.sock "$NBMQCAT" -a alice -r -n 1 -w 5) ||
    fail "NAT: alice received nothing"
[ "$got" = "and back" ] || fail "NAT: alice received $got"
ok "NAT: bob (10.2.0.2) registered at A, alice (10.1.0.2) asked B, A introduced, both NATs punched: $(grep -o "peer .* at 203.0.113.3:7000: up" "$T/nalice.log"); 3 messages there, 1 back"
