#!/bin/sh
# SPDX-License-Identifier: ISC
# Access control between local users (issue 15, item 8): one daemon, run
# as root, shared by two unprivileged users created for the test (and
# removed after it).  Each refusal and each permitted path:
#   - a dealer is its user's: the other cannot attach it (EACCES), so can
#     neither send as its owner nor read its backlog; its owner sends and
#     the peer's owner receives what was sent;
#   - a radio takes allow_send, a dish allow_recv; a member of the dish's
#     group by the group database (no supplementary group in its process)
#     receives, a user whose process merely has the group (as after sg)
#     does not;
#   - socket options, bind and connect of a configured socket:
#     allow_setopt or EPERM; the application's own NBMQ_OPT_EVENTS stays
#     allowed;
#   - a socket without allow_* is open to all, as before;
#   - reload: root, or admin_group's members; others EPERM;
#   - refusals are logged, rate-limited; a bad allow_* line stops start-up
#     at its line; a reload that takes a right away detaches the
#     application (IPC_SOCK_GONE).
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" != 0 ] || ! command -v useradd >/dev/null ||
    ! command -v groupadd >/dev/null || ! command -v setpriv >/dev/null; then
	echo "skip $NAME: needs root, useradd, groupadd and setpriv to create" \
	    "its two test users"
	exit 0
fi

CTL=$BIN/nbmqctl
UA=nbmqta$$
UB=nbmqtb$$
GOPS=nbmqto$$
GADM=nbmqtd$$

BLK=
access_cleanup() {
	_arc=$?
	# userdel refuses a user with a process left: ours go first.
	if [ -n "$BLK" ]; then
		kill -9 "$BLK" 2>/dev/null
		wait "$BLK" 2>/dev/null
	fi
	userdel "$UA" 2>/dev/null
	userdel "$UB" 2>/dev/null
	groupdel "$UA" 2>/dev/null
	groupdel "$UB" 2>/dev/null
	groupdel "$GOPS" 2>/dev/null
	groupdel "$GADM" 2>/dev/null
	(exit $_arc)
	cleanup
}
trap access_cleanup EXIT

# retry CMD...: /etc/passwd may be locked by another useradd a moment.
retry() {
	for _i in 1 2 3 4 5; do
		"$@" 2>"$T/useradd.err" && return 0
		sleep 0.2
	done
	return 1
}
retry groupadd "$GOPS" && retry groupadd "$GADM" &&
    retry useradd -M -U -s /usr/sbin/nologin "$UA" &&
    retry useradd -M -U -s /usr/sbin/nologin -G "$GOPS,$GADM" "$UB" ||
    fail "cannot create the test users: $(cat "$T/useradd.err")"
GID_OPS=$(getent group "$GOPS" | cut -d: -f3)

# as USER [--sg GROUP] CMD...: CMD as USER.  Its process gets no
# supplementary group (the daemon must find them in the group database);
# --sg: its primary group is GROUP, as sg(1) would make it.
as() {
	_u=$1
	shift
	_g=$(id -g "$_u")
	if [ "$1" = --sg ]; then
		_g=$(getent group "$2" | cut -d: -f3)
		shift 2
	fi
	setpriv --reuid="$_u" --regid="$_g" --clear-groups "$@"
}

# try USER [--sg G] ARGS...: apptool try, its answers in $T/try.out.
try() {
	_u=$1
	shift
	_sg=
	if [ "$1" = --sg ]; then _sg="--sg $2"; shift 2; fi
	# shellcheck disable=SC2086
	as "$_u" $_sg "$APPTOOL" -S "$T/d.sock" try -w 10 "$@" \
	    >"$T/try.out" 2>&1 || fail "apptool try $*: $(cat "$T/try.out")"
}

# has LINE: the last try answered LINE.
has() {
	grep -qx -- "$1" "$T/try.out" ||
	    fail "want \"$1\", got: $(tr '\n' ';' <"$T/try.out")"
}

chmod 755 "$T"
PA=$(free_udp_port)
PN=$(free_udp_port)
cat >"$T/d.conf" <<CONF
[daemon]
ipc_mode = 0666
admin_group = $GADM

# alice's dealer and bob's, talking to each other
[socket a]
type = dealer
bind = 127.0.0.1:$PA
allow_send = $UA
allow_recv = $UA
allow_setopt = $UA

[socket b]
type = dealer
connect = 127.0.0.1:$PA
allow_send = $UB
allow_recv = $UB

# alice publishes, the ops group listens
[socket news]
type = radio
bind = 127.0.0.1:$PN
allow_send = $UA

[socket feed]
type = dish
connect = 127.0.0.1:$PN
allow_recv = @$GOPS

# no allow_*: open to whoever may connect, as before
[socket open]
type = dealer
bind = 127.0.0.1:0
CONF

# ---- a bad line stops start-up at its line ------------------------------
sed -e "s/^allow_send = $UB\$/allow_send = $UB nosuchuser$$/" \
    "$T/d.conf" >"$T/bad.conf"
"$NBMQD" -t -c "$T/bad.conf" >"$T/bad.out" 2>&1 && fail "bad.conf accepted"
grep -q "bad.conf:[0-9]*: allow_send: no user \"nosuchuser$$\"" "$T/bad.out" ||
    fail "bad allow_send: $(cat "$T/bad.out")"
sed -e "s/^admin_group = .*/admin_group = nosuchgroup$$/" \
    "$T/d.conf" >"$T/bad2.conf"
"$NBMQD" -t -c "$T/bad2.conf" >"$T/bad2.out" 2>&1 && fail "bad2.conf accepted"
grep -q "bad2.conf:3: admin_group: no group" "$T/bad2.out" ||
    fail "bad admin_group: $(cat "$T/bad2.out")"
ok "a bad ACL line stops start-up: $(head -n 1 "$T/bad.out")"

# ---- the worked examples of README.md and nbmqd.conf(5), with our users -
names() {
	sed -e "s/= alice\$/= $UA/" -e "s/= bob\$/= $UB/" \
	    -e "s/= @ops\$/= @$GOPS/" -e "s/= nbmqadm\$/= $GADM/"
}
awk '/^```ini access$/ { f = 1; next } /^```$/ { f = 0 } f' \
    "$TOP/README.md" | names >"$T/readme.conf"
sed -n '/^\.SH ACCESS CONTROL/,/^\.SH KEY FILES/p' "$TOP/docs/nbmqd.conf.5" |
    sed -n '/^\.RS/,/^\.RE/p' | sed '/^\./d' | names >"$T/man.conf"
for f in readme man; do
	grep -q "allow_recv = @$GOPS" "$T/$f.conf" || fail "no example in $f"
	out=$("$NBMQD" -t -c "$T/$f.conf" 2>&1) || fail "$f example: $out"
done
ok "the access-control examples of README.md and nbmqd.conf(5): configuration OK"

start_daemon d "$T/d.conf"

# ---- dealers: each user's own -------------------------------------------
try "$UB" a
has "attach a EACCES"
try "$UA" -n 3 a
has "attach a ok"
has "sent 3"
try "$UA" b
has "attach b EACCES"
try "$UB" -R 3 a b
has "attach a EACCES"
has "attach b ok"
has "received 3"
ok "dealer a is $UA's: $UB refused (EACCES), $UA sent 3; b's backlog is $UB's: $UA refused, $UB received 3"

# ---- radio and dish: allow_send, allow_recv by group --------------------
try "$UB" news
has "attach news EACCES"
try "$UA" -n 2 news
has "attach news ok"
has "sent 2"
try "$UA" feed
has "attach feed EACCES"
try "$UA" --sg "$GOPS" feed
has "attach feed EACCES"
try "$UB" -R 2 feed
has "attach feed ok"
has "received 2"
ok "radio: $UB refused, $UA sent 2; dish: $UB (in @$GOPS by /etc/group only) received 2, $UA refused, also with $GOPS as its process's group (sg)"

# ---- options of a configured socket --------------------------------------
try "$UB" -H 1 -b 127.0.0.1:0 feed
has "attach feed ok"
has "setopt EPERM"
has "events ok"
has "bind EPERM"
try "$UA" -H 100000 a
has "setopt ok"
try "$UB" -H 1000 open
has "attach open ok"
has "setopt ok"
ok "setopt and bind: $UB on feed EPERM (NBMQ_OPT_EVENTS still ok), $UA on a ok; socket open (no allow_*) open to $UB"

# ---- reload: root and admin_group only ----------------------------------
as "$UA" "$CTL" -S "$T/d.sock" reload >"$T/r.out" 2>&1 &&
    fail "reload by $UA allowed"
grep -q "permission denied" "$T/r.out" || fail "reload by $UA: $(cat "$T/r.out")"
as "$UA" --sg "$GADM" "$CTL" -S "$T/d.sock" reload >"$T/r.out" 2>&1 &&
    fail "reload by $UA with $GADM as its process's group allowed"
as "$UB" "$CTL" -S "$T/d.sock" reload >"$T/r.out" 2>&1 ||
    fail "reload by $UB (admin_group): $(cat "$T/r.out")"
"$CTL" -S "$T/d.sock" reload >"$T/r.out" 2>&1 || fail "reload by root: $(cat "$T/r.out")"
ok "reload: $UA refused (also with sg $GADM), $UB (admin_group $GADM) and root reloaded"

# ---- the log: each refusal said, at most one line a second --------------
grep -q "uid $(id -u "$UB")): attach to socket a refused: not allowed" \
    "$T/d.log" || fail "no refusal logged: $(grep refused "$T/d.log")"
grep -q "reload by pid [0-9]* (uid $(id -u "$UA")) refused" "$T/d.log" ||
    fail "reload refusal not logged"
# 20 refused attaches at least, and on until one is logged (the
# limiter's second of the refusals above may not be over): at most 10 s.
refusals() { grep -c "socket .* refused: " "$T/d.log"; }
n=$(refusals)
t0=$(date +%s)
tries=0
while [ $tries -lt 20 ] || { [ "$(refusals)" -le "$n" ] &&
    [ $(( $(date +%s) - t0 )) -lt 10 ]; }; do
	as "$UB" "$APPTOOL" -S "$T/d.sock" try a >/dev/null 2>&1
	tries=$((tries + 1))
done
secs=$(( $(date +%s) - t0 + 1 ))
n2=$(refusals)
[ $((n2 - n)) -ge 1 ] && [ $((n2 - n)) -le $secs ] ||
    fail "$tries refusals in $secs s logged $((n2 - n)) lines"
ok "refusals logged, rate-limited: $tries refused attaches in $secs s, $((n2 - n)) new lines"

# ---- a reload that takes the right away detaches ------------------------
# Not through as(): $! must be the application itself, for the cleanup.
setpriv --reuid="$UB" --regid="$(id -g "$UB")" --clear-groups \
    "$APPTOOL" -S "$T/d.sock" block -a feed >"$T/blk.out" 2>&1 &
BLK=$!
wait_for 10 grep -q "^ready" "$T/blk.out" ||
    fail "feed not attached: $(cat "$T/blk.out")"
sed -e "s/^allow_recv = @$GOPS\$/allow_recv = $UA/" "$T/d.conf" >"$T/d2.conf"
cp "$T/d2.conf" "$T/d.conf"
"$CTL" -S "$T/d.sock" reload >"$T/r.out" 2>&1 || fail "reload: $(cat "$T/r.out")"
wait_for 10 grep -q "socket feed: pid [0-9]* may no longer attach it" \
    "$T/d.log" || fail "not detached at reload"
wait_for 10 grep -q "^ECONNRESET" "$T/blk.out" ||
    fail "detached application: $(cat "$T/blk.out")"
ok "reload taking allow_recv from @$GOPS: $UB's application detached (ECONNRESET)"

# ---- a uid's share of the clients (max_clients_per_uid) -----------------
# One user cannot take every slot: past its share it is refused (EUSERS)
# at accept, while another user and root still get in.
cat >"$T/q.conf" <<CONF
[daemon]
ipc_mode = 0666
max_clients = 16
max_clients_per_uid = 2
CONF
start_daemon q "$T/q.conf"
# clients USER N: N connections held at once; prints "ok K refused R".
clients() {
	as "$1" /usr/bin/python3 -c '
import errno, sys
sys.path.insert(0, sys.argv[1])
import ipc_raw
held, refused = [], 0
for i in range(int(sys.argv[3])):
    try:
        held.append(ipc_raw.Client(sys.argv[2]))
    except RuntimeError as e:
        if "error %d" % errno.EUSERS not in str(e):
            raise
        refused += 1
print("ok %d refused %d" % (len(held), refused))
' "$TOP/tests" "$T/q.sock" "$2"
}
out=$(clients "$UA" 4) || fail "$UA's clients: $out"
[ "$out" = "ok 2 refused 2" ] || fail "$UA, 4 clients at max_clients_per_uid 2: $out"
log_has q "refused: uid $(id -u "$UA") has max_clients_per_uid" ||
    fail "per-uid refusal not logged"
out=$(clients "$UB" 2) || fail "$UB's clients: $out"
[ "$out" = "ok 2 refused 0" ] || fail "$UB after $UA: $out"
out=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import ipc_raw; [ipc_raw.Client(sys.argv[2]) for i in range(4)]; print("ok")' "$TOP/tests" "$T/q.sock") ||
    fail "root past max_clients_per_uid: $out"
ok "max_clients_per_uid 2: $UA's 3rd and 4th connections refused (EUSERS), $UB and root still get in"
