#!/bin/sh
# SPDX-License-Identifier: ISC
# The encryption walkthrough under the shipped unit (issue 17, defect 3):
# `nbmqctl genkey > /etc/nbmq/server.key` as root makes a root:root 0600
# file, and the unit runs nbmqd as another user (User=nbmq).  That daemon
# cannot read the key and says which layouts work; given the key the way
# systemd's LoadCredential= does ($CREDENTIALS_DIRECTORY/server.key, a copy
# the service's user reads), it starts and talks encrypted to a client.
# As root the daemon runs as nobody (setpriv), as the unit's user would;
# otherwise as the caller, and the part about another user is skipped.
. "$(dirname "$0")/lib.sh"

CTL=$BIN/nbmqctl
AS=
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 711 "$T"		# nobody reaches its files, lists nothing
	# A coverage build writes its counts at exit: where nobody may (its
	# run's counts are lost, but it says nothing on stderr about it).
	mkdir "$T/gcov" && chmod 777 "$T/gcov"
	AS="setpriv --reuid=65534 --regid=65534 --clear-groups env GCOV_PREFIX=$T/gcov"
fi

# The README's steps: keys made under umask 077 (root:root 0600 as root).
mkdir -p "$T/etc" "$T/run" "$T/creds"
umask 077
"$CTL" genkey >"$T/etc/server.key" || fail "genkey"
"$CTL" genkey >"$T/etc/client.key" || fail "genkey"
umask 022
chmod 755 "$T/etc"
S_PUB=$("$CTL" pubkey <"$T/etc/server.key")
C_PUB=$("$CTL" pubkey <"$T/etc/client.key")
[ -n "$AS" ] && chown 65534 "$T/run"

# server.conf KEYFILE: the server's configuration.
server_conf() {
	cat <<CONF
[socket secret]
type = dealer
bind = 127.0.0.1:0
encryptor = sodium
private_key_file = $1
peers = $C_PUB
CONF
}

# start_server NAME: the server daemon as the unit's user, log NAME.log.
start_server() {
	$AS "$NBMQD" -v -c "$T/etc/$1.conf" -S "$T/run/$1.sock" \
	    >"$T/$1.log" 2>&1 &
	eval "PID_$1=$!"
	PIDS="$PIDS $!"
	DPIDS="$DPIDS $!"
}

# The key file as genkey left it, read by another user: refused, with
# the way out in the message (both layouts).
if [ -n "$AS" ]; then
	server_conf "$T/etc/server.key" >"$T/etc/direct.conf"
	chmod 644 "$T/etc/direct.conf"
	$AS "$NBMQD" -t -c "$T/etc/direct.conf" >"$T/direct.out" 2>&1 &&
	    fail "nobody read a root:root 0600 key"
	for want in "direct.conf:5: private_key_file: $T/etc/server.key: nbmqd's user cannot read it (owner root:root, mode 0600)" \
	    "owned by it with mode 0600 (chown nobody $T/etc/server.key" \
	    "LoadCredential=server.key:$T/etc/server.key in the unit, private_key_file = \$CREDENTIALS_DIRECTORY/server.key"; do
		grep -q -F -- "$want" "$T/direct.out" ||
		    fail "no '$want' in: $(cat "$T/direct.out")"
	done
	start_server direct
	forget_daemon "$PID_direct"; wait "$PID_direct" && fail "the daemon started without its key"
	grep -q "cannot read it" "$T/direct.log" ||
	    fail "start-up: $(cat "$T/direct.log")"
	ok "root:root 0600 key, daemon as another user: refused, both layouts named"
fi

# What LoadCredential=server.key:$T/etc/server.key does: a copy in the
# service's credentials directory, 0400, its user's (systemd on ramfs;
# on tmpfs root's with an ACL, 0440: test_crypt covers that).
cp "$T/etc/server.key" "$T/creds/server.key"
chmod 400 "$T/creds/server.key"
if [ -n "$AS" ]; then
	chown 65534 "$T/creds/server.key" "$T/creds"
	chmod 500 "$T/creds"
fi
export CREDENTIALS_DIRECTORY="$T/creds"
server_conf '$CREDENTIALS_DIRECTORY/server.key' >"$T/etc/cred.conf"
chmod 644 "$T/etc/cred.conf"
out=$($AS "$NBMQD" -t -c "$T/etc/cred.conf" 2>&1) || fail "nbmqd -t: $out"
[ "$out" = "configuration OK" ] || fail "nbmqd -t: $out"
# -T prints it as written, not where it points today.
$AS "$NBMQD" -T -c "$T/etc/cred.conf" | grep -q -F \
    'private_key_file = $CREDENTIALS_DIRECTORY/server.key' ||
    fail "-T does not keep \$CREDENTIALS_DIRECTORY"
start_server cred
wait_for 10 grep -q "started" "$T/cred.log" ||
    fail "server with the credential did not start"
grep -q "socket secret: encryptor sodium" "$T/cred.log" ||
    fail "no encryptor: $(cat "$T/cred.log")"
[ -z "$AS" ] || [ "$(stat -c %u /proc/"$PID_cred")" = 65534 ] ||
    fail "the server is not running as nobody"
port=$(sed -n 's/.*socket secret: bound to //p' "$T/cred.log")
[ -n "$port" ] || fail "the server did not bind"

# Without the environment (not started by systemd): refused, and why.
unset CREDENTIALS_DIRECTORY
"$NBMQD" -t -c "$T/etc/cred.conf" >"$T/noenv.out" 2>&1 &&
    fail "accepted with no \$CREDENTIALS_DIRECTORY"
grep -q -F 'cred.conf:5: private_key_file: $CREDENTIALS_DIRECTORY/server.key: $CREDENTIALS_DIRECTORY is not set: nbmqd was not started by systemd with LoadCredential=server.key:FILE' \
    "$T/noenv.out" || fail "no environment: $(cat "$T/noenv.out")"
# A credential the unit does not load.
CREDENTIALS_DIRECTORY=$T/etc "$NBMQD" -t -c "$T/etc/cred.conf" \
    >/dev/null 2>&1 || fail "CREDENTIALS_DIRECTORY=DIR nbmqd -t"
mkdir "$T/empty"
CREDENTIALS_DIRECTORY=$T/empty "$NBMQD" -t -c "$T/etc/cred.conf" \
    >"$T/nocred.out" 2>&1 && fail "accepted a missing credential"
grep -q -F "$T/empty/server.key: no such credential: the unit needs LoadCredential=server.key:FILE" \
    "$T/nocred.out" || fail "missing credential: $(cat "$T/nocred.out")"
ok "private_key_file = \$CREDENTIALS_DIRECTORY/server.key: the server starts${AS:+ as nobody}; unset or missing, nbmqd -t says why"

# A client daemon (its key in a file of its own, 0600) and one message
# each way over the encrypted session.
cat >"$T/client.conf" <<CONF
[socket secret]
type = dealer
connect = $port
encryptor = sodium
private_key_file = $T/etc/client.key
peers = $S_PUB
CONF
start_daemon client "$T/client.conf"
wait_for 10 grep -q "socket secret: connecting -> up" "$T/client.log" ||
    fail "the client's session did not come up"
"$NBMQCAT" -S "$T/run/cred.sock" -a secret -r -n 1 -w 10 >"$T/rx.out" \
    2>"$T/rx.err" & P=$!
echo "over a credential" | "$NBMQCAT" -S "$T/client.sock" -a secret -w 10 ||
    fail "send"
wait "$P" || fail "receive: $(cat "$T/rx.err")"
[ "$(cat "$T/rx.out")" = "over a credential" ] ||
    fail "received: $(cat "$T/rx.out")"
"$NBMQCAT" -S "$T/client.sock" -a secret -r -n 1 -w 10 >"$T/rx2.out" \
    2>"$T/rx2.err" & P=$!
echo "and back" | "$NBMQCAT" -S "$T/run/cred.sock" -a secret -w 10 ||
    fail "send back"
wait "$P" || fail "receive back: $(cat "$T/rx2.err")"
[ "$(cat "$T/rx2.out")" = "and back" ] || fail "received: $(cat "$T/rx2.out")"
kill -TERM "$PID_cred"
forget_daemon "$PID_cred"; wait "$PID_cred" || fail "the server did not exit cleanly"
ok "an encrypted message each way with the server's key from \$CREDENTIALS_DIRECTORY"
