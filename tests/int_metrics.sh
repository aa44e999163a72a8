#!/bin/sh
# SPDX-License-Identifier: ISC
# Prometheus metrics (issue 20): GET /metrics on metrics_listen, checked by
# promtool; the counters say what happened (messages each way, sessions,
# drops by reason, per-peer series with metrics_peers); OpenMetrics when
# asked for; only GET /metrics; nbmqctl metrics prints the same families;
# 300 connections that ask and never read cost one shared text, not 300,
# and a scrape still answers meanwhile.
. "$(dirname "$0")/lib.sh"

CTL=$BIN/nbmqctl
SP=$(free_udp_port)
MP=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$T/a.conf" <<CONF
[daemon]
metrics_listen = 127.0.0.1:$MP
metrics_peers = yes

[socket srv]
type = dealer
bind = 127.0.0.1:$SP

[socket cli]
type = dealer
connect = 127.0.0.1:$SP
CONF
# 100 more sockets: a text of a few hundred kilobytes, so that copies of
# it per connection would show.
for i in $(seq 1 100); do
	printf '\n[socket s%d]\ntype = dish\nbind = 127.0.0.1:0\n' "$i" >>"$T/a.conf"
done
start_daemon a "$T/a.conf"
log_has a "metrics on http://127.0.0.1:$MP/metrics" || fail "metrics not announced"
wait_for 10 log_has a "socket cli: connecting -> up" || fail "cli not up"
"$NBMQCAT" -S "$T/a.sock" -a srv -r -n 3 -w 20 >"$T/rx.out" 2>"$T/rx.err" &
RX=$!
PIDS="$PIDS $RX"
printf 'one\ntwo\nthree\n' | "$NBMQCAT" -S "$T/a.sock" -a cli -w 10 ||
    fail "send"
wait "$RX" || fail "receive: $(cat "$T/rx.err")"

# get PATH [ACCEPT]: status, content type and body into $T/get.*
get() {
	/usr/bin/python3 - "$MP" "$1" "${2:-}" "$T/get" <<'PY'
import sys, urllib.request, urllib.error
port, path, accept, out = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
req = urllib.request.Request("http://127.0.0.1:%s%s" % (port, path))
if accept:
    req.add_header("Accept", accept)
try:
    r = urllib.request.urlopen(req, timeout=10)
    code, ctype, body = r.status, r.headers.get("Content-Type"), r.read()
except urllib.error.HTTPError as e:
    code, ctype, body = e.code, e.headers.get("Content-Type"), e.read()
open(out + ".code", "w").write("%d\n" % code)
open(out + ".type", "w").write("%s\n" % ctype)
open(out + ".body", "wb").write(body)
PY
}
val() {	# val METRIC{labels}: its value in $T/get.body
	awk -v k="$1" '$1 == k { print $2 }' "$T/get.body"
}
get /metrics
[ "$(cat "$T/get.code")" = 200 ] || fail "GET /metrics: $(cat "$T/get.code")"
grep -q "^text/plain; version=0.0.4" "$T/get.type" || fail "type $(cat "$T/get.type")"
if have promtool prometheus; then
	promtool check metrics <"$T/get.body" >"$T/promtool.out" 2>&1 ||
	    fail "promtool: $(head -n 5 "$T/promtool.out")"
fi
[ "$(val 'nbmq_sockets')" = 102 ] || fail "nbmq_sockets $(val 'nbmq_sockets'), want 102"
[ "$(val 'nbmq_socket_messages_received_total{socket="srv",type="dealer"}')" = 3 ] ||
    fail "srv received $(val 'nbmq_socket_messages_received_total{socket="srv",type="dealer"}'), want 3"
[ "$(val 'nbmq_sessions_created_total')" -ge 1 ] || fail "no session counted"
reasons=$(grep -c '^nbmq_socket_drops_total{socket="srv",type="dealer",reason="[a-z_0-9]*"} [0-9]*$' "$T/get.body")
[ "$reasons" -ge 30 ] || fail "only $reasons drop reasons for srv"
grep -q '^nbmq_peer_messages_received_total{socket="srv",session="[0-9a-f]\{16\}",peer="127.0.0.1:[0-9]*"} 3$' "$T/get.body" ||
    fail "no per-peer series with metrics_peers: $(grep '^nbmq_peer_' "$T/get.body" | head -n 3)"
grep -q '^nbmq_build_info{version="[0-9.]*"} 1$' "$T/get.body" || fail "build_info"
# Debian's python3-prometheus-client parses it, and what it reads is what
# nbmqctl --json says (the same counters, read a moment apart on an idle
# daemon).
"$CTL" -S "$T/a.sock" --json stats >"$T/stats.json" || fail "nbmqctl stats"
"$CTL" -S "$T/a.sock" --json sockets >"$T/socks.json" || fail "nbmqctl sockets"
out=$(/usr/bin/python3 - "$T/get.body" "$T/stats.json" "$T/socks.json" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
def sample(fam, name, **labels):
    for s in fams[fam].samples:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise SystemExit("no %s %r" % (name, labels))
st = json.load(open(sys.argv[2]))
socks = {s["name"]: s for s in json.load(open(sys.argv[3]))["sockets"]}
checks = [
    (sample("nbmq_sessions_created", "nbmq_sessions_created_total"), st["sessions"], "sessions"),
    (sample("nbmq_socket_messages_received", "nbmq_socket_messages_received_total", socket="srv"),
     socks["srv"]["rx_msgs"], "srv rx_msgs"),
    (sample("nbmq_socket_messages_sent", "nbmq_socket_messages_sent_total", socket="cli"),
     socks["cli"]["tx_msgs"], "cli tx_msgs"),
    (sample("nbmq_socket_peers", "nbmq_socket_peers", socket="srv"), socks["srv"]["peers"], "srv peers"),
]
for got, want, what in checks:
    if got != want:
        raise SystemExit("%s: /metrics %r, nbmqctl %r" % (what, got, want))
print("%d families parsed; sessions %d, srv received %d, cli sent %d, as nbmqctl --json says"
      % (len(fams), checks[0][0], checks[1][0], checks[2][0]))
PY
) || fail "prometheus_client: $out"
ok "GET /metrics: promtool clean; srv received 3, $reasons drop reasons, per-peer series; $out"

get /metrics "application/openmetrics-text; version=1.0.0"
grep -q "^application/openmetrics-text; version=1.0.0" "$T/get.type" ||
    fail "OpenMetrics not negotiated: $(cat "$T/get.type")"
[ "$(tail -n 1 "$T/get.body")" = "# EOF" ] || fail "OpenMetrics without # EOF"
grep -q "^# TYPE nbmq_sessions_created counter$" "$T/get.body" ||
    fail "OpenMetrics counter family named with _total"
get /other
[ "$(cat "$T/get.code")" = 404 ] || fail "GET /other: $(cat "$T/get.code")"
code=$(/usr/bin/python3 -c 'import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:%s/metrics" % sys.argv[1], data=b"", method="POST"), timeout=10)
    print(200)
except urllib.error.HTTPError as e:
    print(e.code)' "$MP")
[ "$code" = 501 ] || fail "POST /metrics: $code (libevent answers a method not allowed 501)"
ok "OpenMetrics when asked (# EOF, counter families without _total); /other 404, POST 501"

"$CTL" -S "$T/a.sock" metrics peers >"$T/ctl.prom" || fail "nbmqctl metrics"
if have promtool prometheus; then
	promtool check metrics <"$T/ctl.prom" >"$T/promtool2.out" 2>&1 ||
	    fail "promtool, nbmqctl metrics: $(head -n 5 "$T/promtool2.out")"
fi
get /metrics
sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$T/get.body" >"$T/f1"
sed -n 's/^# TYPE \([a-z_]*\) .*/\1/p' "$T/ctl.prom" >"$T/f2"
cmp -s "$T/f1" "$T/f2" || fail "nbmqctl metrics families differ: $(diff "$T/f1" "$T/f2" | head -n 5)"
ok "nbmqctl metrics peers: the same $(wc -l <"$T/f1") families, promtool clean"

# 300 connections ask for /metrics and never read: they share one text.
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PID_a/status"; }
r0=$(rss)
/usr/bin/python3 - "$MP" "$T/hold" <<'PY' &
import os, socket, sys, time
conns = []
for i in range(300):
    # A small window from the start: the answers stay in the daemon.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", int(sys.argv[1])))
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    conns.append(s)
open(sys.argv[2], "w").write("%d\n" % len(conns))
while not os.path.exists(sys.argv[2] + ".stop"):
    time.sleep(0.05)
PY
HOLD=$!
PIDS="$PIDS $HOLD"
wait_for 20 test -s "$T/hold" || fail "the 300 connections did not open"
get /metrics
[ "$(cat "$T/get.code")" = 200 ] || fail "scrape during the 300: $(cat "$T/get.code")"
r1=$(rss)
touch "$T/hold.stop"
wait "$HOLD"
size=$(wc -c <"$T/get.body")
grow=$(( (r1 - r0) ))
# 300 copies of the text would be 300 x $size bytes.
[ "$grow" -lt $(( 300 * size / 1024 / 4 )) ] && [ "$grow" -lt 32768 ] ||
    fail "RSS grew by $grow KiB with 300 unread answers of $size bytes"
ok "300 connections that never read: RSS +$grow KiB (one text of $size bytes shared, not 300 copies); a scrape still answered"

# README's Operating nbmq: its scrape configuration and alert rules are
# what promtool accepts, and the rules name metrics this daemon serves.
if have promtool prometheus; then
	for b in prometheus nbmq-alerts.yml; do
		awk -v tag="$b" '$0 == "```yaml " tag { on = 1; next }
		    on && /^```$/ { exit } on { print }' "$TOP/README.md" >"$T/$b.out"
		[ -s "$T/$b.out" ] || fail "README has no yaml $b block"
	done
	mv "$T/nbmq-alerts.yml.out" "$T/nbmq-alerts.yml"
	mv "$T/prometheus.out" "$T/prometheus.yml"
	promtool check rules "$T/nbmq-alerts.yml" >"$T/rules.out" 2>&1 ||
	    fail "promtool check rules: $(cat "$T/rules.out")"
	(cd "$T" && promtool check config prometheus.yml) >"$T/config.out" 2>&1 ||
	    fail "promtool check config: $(cat "$T/config.out")"
	for m in $(grep -o 'nbmq_[a-z_]*' "$T/nbmq-alerts.yml" | sort -u); do
		grep -q "^# TYPE ${m%_total} \|^# TYPE $m " "$T/get.body" ||
		    fail "README's alerts use $m, which /metrics does not serve"
	done
	ok "README's scrape configuration and 3 alerts: promtool check config and rules clean, every metric they use served"
fi
