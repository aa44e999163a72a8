# SPDX-License-Identifier: ISC
# tests/natlab.sh: the NAT lab of int_stun and int_redis, sourced after
# lib.sh.  A "public" namespace with a bridge (203.0.113.1/24), home
# routers behind it (MASQUERADE, new inbound UDP on the WAN side
# dropped), a host behind each, and nbmqd inside any of them.  The
# namespaces go at exit, after the daemons in them (lib.sh's cleanup).

NSLIST=""
natlab_cleanup() {
	_src=$?
	stop_daemons || _src=1
	(exit $_src)
	(cleanup)
	_src=$?
	for _ns in $NSLIST; do
		ip netns del "$_ns" 2>/dev/null
	done
	exit $_src
}
trap natlab_cleanup EXIT

# natlab_start PREFIX: the public namespace ${PREFIX}pub ($NS_PUB); 1, with
# the part skipped and said so, where the tools or namespaces are missing.
natlab_start() {
	S=$1
	NS_PUB=${S}pub
	if ! have iptables iptables || ! have ip iproute2; then
		return 1
	fi
	if ! ip netns add "$NS_PUB" 2>"$T/netns.err"; then
		skip "NAT: network namespaces refused here: $(cat "$T/netns.err")"
		return 1
	fi
	NSLIST=$NS_PUB
	if ! ip netns exec "$NS_PUB" iptables -t nat -L POSTROUTING \
	    >/dev/null 2>"$T/nat.err"; then
		skip "NAT: iptables cannot use the nat table here: $(head -n 1 \
		    "$T/nat.err")"
		return 1
	fi
	ip -n "$NS_PUB" link set lo up
	ip -n "$NS_PUB" link add br0 type bridge
	ip -n "$NS_PUB" addr add 203.0.113.1/24 dev br0
	ip -n "$NS_PUB" link set br0 up
}

# nsx NS CMD...: run CMD in namespace NS, failing the test if it fails.
nsx() {
	_ns=$1
	shift
	ip netns exec "$_ns" "$@" || fail "in $_ns: $*"
}

# router N WAN-ADDR [MASQUERADE flags]: a home router: 10.N.0.0/24 behind
# WAN-ADDR (203.0.113.x), MASQUERADE, and new inbound UDP on the WAN side
# dropped; its host ${S}hN is 10.N.0.2.
router() {
	_r=${S}r$1
	_h=${S}h$1
	ip netns add "$_r" || fail "ip netns add $_r"
	NSLIST="$NSLIST $_r"
	ip netns add "$_h" || fail "ip netns add $_h"
	NSLIST="$NSLIST $_h"
	ip -n "$_r" link set lo up
	ip -n "$_h" link set lo up
	ip link add wan netns "$_r" type veth peer name "r$1" netns "$NS_PUB" ||
	    fail "veth wan $1"
	ip -n "$NS_PUB" link set "r$1" master br0 up
	ip -n "$_r" addr add "$2/24" dev wan
	ip -n "$_r" link set wan up
	ip link add lan netns "$_r" type veth peer name eth0 netns "$_h" ||
	    fail "veth lan $1"
	ip -n "$_r" addr add "10.$1.0.1/24" dev lan
	ip -n "$_r" link set lan up
	ip -n "$_h" addr add "10.$1.0.2/24" dev eth0
	ip -n "$_h" link set eth0 up
	ip -n "$_h" route add default via "10.$1.0.1"
	nsx "$_r" sysctl -qw net.ipv4.ip_forward=1
	shift 2
	nsx "$_r" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE "$@"
	nsx "$_r" iptables -A INPUT -i wan -p udp -m conntrack --ctstate NEW \
	    -j DROP
}

# ns_daemon NS NAME CONF: nbmqd inside NS; its IPC socket is a file in $T.
ns_daemon() {
	ip netns exec "$1" "$NBMQD" -v -c "$3" -S "$T/$2.sock" >"$T/$2.log" 2>&1 &
	eval "PID_$2=$!"
	PIDS="$PIDS $!"
	DPIDS="$DPIDS $!"
	wait_for 10 grep -q "started" "$T/$2.log" || fail "daemon $2 not ready"
}
