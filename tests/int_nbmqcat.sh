#!/bin/sh
# SPDX-License-Identifier: ISC
# nbmqcat as issue 17 asks of a tool of its family: -N round-trips a
# binary file exactly (cmp); -o writes one whole file per message and
# prints its name; -m sends argv text, -P one multipart message from -m,
# files or stdin; a file over max_message_size is refused by its size,
# before reading it or waiting for a peer; -w bounds the wait for a
# SIGSTOP'd daemon (measured); address mistakes are said as such
# ("expected host:port", "cannot resolve NAME"), never "Invalid argument";
# -b takes a name.
. "$(dirname "$0")/lib.sh"

cat >"$T/a.conf" <<CONF
[defaults]
max_message_size = 400000
CONF
start_daemon a "$T/a.conf"
export NBMQ_SOCKET=$T/a.sock

# receiver NAME ARGS...: nbmqcat -r on a free port in the background,
# stdout in $T/NAME.out, stderr in $T/NAME.err; EP is where it is bound.
receiver() {
	_r=$1
	shift
	"$NBMQCAT" -r -w 20 "$@" >"$T/$_r.out" 2>"$T/$_r.log" &
	RPID=$!
	PIDS="$PIDS $RPID"
	wait_for 10 grep -q "bound to" "$T/$_r.log" ||
	    fail "$_r: not bound: $(cat "$T/$_r.log")"
	EP=$(bound_endpoint "$T/$_r.log")
}

# done_ok NAME: the receiver exited 0.
done_ok() {
	wait "$RPID" || fail "$1: receiver exit $?: $(cat "$T/$1.log")"
}

# elapsed_ms CMD...: run it, its status in RC, the wall time in MS.
elapsed_ms() {
	_t0=$(date +%s%3N)
	"$@"
	RC=$?
	MS=$(( $(date +%s%3N) - _t0 ))
}

# --- -N: a binary file (every byte value, NULs and newlines) exactly.
head -c 300000 /dev/urandom >"$T/in.bin"
receiver raw -b 127.0.0.1:0 -N -n 1
"$NBMQCAT" -c "$EP" -N -w 10 <"$T/in.bin" || fail "-N send: exit $?"
done_ok raw
cmp "$T/in.bin" "$T/raw.out" || fail "-N: the received bytes differ"
receiver raw2 -b 127.0.0.1:0 -N -n 2
printf 'one' | "$NBMQCAT" -c "$EP" -N -w 10 || fail "-N send one"
printf 'two\n' | "$NBMQCAT" -c "$EP" -N -w 10 || fail "-N send two"
done_ok raw2
[ "$(od -An -c "$T/raw2.out" | tr -d ' ')" = 'onetwo\n' ] ||
    fail "-N: nothing added, nothing taken: $(od -An -c "$T/raw2.out")"
ok "-N: 300000 random bytes round-trip (cmp); messages printed as sent"

# --- -o: one file per message, whole, named, in order.
mkdir "$T/got"
receiver files -b 127.0.0.1:0 -n 3 -o "$T/got/m-%n.bin"
"$NBMQCAT" -c "$EP" -w 10 -f "$T/in.bin" || fail "-o: send the file"
"$NBMQCAT" -c "$EP" -w 10 -m second -m third || fail "-o: send -m"
done_ok files
printf '%s\n' "$T/got/m-000001.bin" "$T/got/m-000002.bin" \
    "$T/got/m-000003.bin" | cmp - "$T/files.out" ||
    fail "-o: names printed: $(cat "$T/files.out")"
cmp "$T/in.bin" "$T/got/m-000001.bin" || fail "-o: file 1 differs"
[ "$(cat "$T/got/m-000002.bin")" = second ] || fail "-o: file 2"
[ "$(ls -A "$T/got" | wc -l)" = 3 ] || fail "-o: left: $(ls -A "$T/got")"
# One message into one named file (-n 1); a pattern without %n otherwise
# is a usage error.
receiver one -b 127.0.0.1:0 -n 1 -o "$T/copy.bin"
"$NBMQCAT" -c "$EP" -w 10 -f "$T/in.bin" || fail "-o -n 1: send"
done_ok one
cmp "$T/in.bin" "$T/copy.bin" || fail "-o -n 1: differs"
"$NBMQCAT" -b 127.0.0.1:0 -r -o "$T/x" 2>"$T/err"
[ $? = 2 ] && grep -q "needs %n" "$T/err" || fail "-o no %n: $(cat "$T/err")"
"$NBMQCAT" -b 127.0.0.1:0 -r -o "$T/nodir/%n" 2>"$T/err"
[ $? = 1 ] && grep -q "cannot write in $T/nodir" "$T/err" ||
    fail "-o into nothing: $(cat "$T/err")"
ok "-o: 3 messages in 3 whole files, names on stdout, no temporaries left"

# --- -m and -P: messages and parts from the command line.
receiver parts -b 127.0.0.1:0 -n 4 -d '|'
"$NBMQCAT" -c "$EP" -w 10 -m 'hello, world' -m two ||
    fail "-m: exit $?"
"$NBMQCAT" -c "$EP" -w 10 -P -m greeting -m 'hello, world' -m '' ||
    fail "-P -m: exit $?"
printf 'l1\nl2\n' | "$NBMQCAT" -c "$EP" -w 10 -P || fail "-P stdin"
done_ok parts
printf '%s\n' 'hello, world' two 'greeting|hello, world|' 'l1|l2' |
    cmp - "$T/parts.out" || fail "-m/-P received: $(cat "$T/parts.out")"
printf 'A' >"$T/p1"; printf 'B\n' >"$T/p2"
receiver fparts -b 127.0.0.1:0 -n 1 -x -d ' '
"$NBMQCAT" -c "$EP" -w 10 -P -f "$T/p1" "$T/p2" || fail "-P -f"
done_ok fparts
[ "$(cat "$T/fparts.out")" = "41 420a" ] ||
    fail "-P -f: $(cat "$T/fparts.out")"
# More -m than a message has parts: one message each, all sent; -P
# refuses them as a usage error.
set --
for i in $(seq 300); do set -- "$@" -m "m$i"; done
receiver many -b 127.0.0.1:0 -n 300
"$NBMQCAT" -c "$EP" -w 10 "$@" || fail "300 -m: exit $?"
done_ok many
seq 1 300 | sed 's/^/m/' | cmp - "$T/many.out" || fail "300 -m: received"
"$NBMQCAT" -c "$EP" -w 1 -P "$@" 2>"$T/err"
[ $? = 2 ] && grep -q "at most 255 parts" "$T/err" ||
    fail "-P with 300 parts: $(cat "$T/err")"
ok "-m: one message each (300 of them); -P: one message of parts from -m, stdin, files, at most 255"

# --- The size limit (400000 here), by the file's size: no waiting for a
# peer (nobody is there), no reading (an 8 GiB sparse file is refused at
# once).
head -c 400001 /dev/zero >"$T/big.bin"
truncate -s 8G "$T/huge.bin"
for f in big.bin huge.bin; do
	elapsed_ms "$NBMQCAT" -c 127.0.0.1:9 -w 10 -f "$T/$f" 2>"$T/err"
	[ "$RC" = 1 ] || fail "$f: exit $RC"
	grep -q "^nbmqcat: $T/$f: [0-9]* bytes, more than the socket's max_message_size (400000): not sent$" \
	    "$T/err" || fail "$f: $(cat "$T/err")"
	[ "$MS" -lt 3000 ] || fail "$f: refused only after $MS ms"
done
elapsed_ms "$NBMQCAT" -c 127.0.0.1:9 -w 10 -N <"$T/big.bin" 2>"$T/err"
[ "$RC" = 1 ] && grep -q "stdin: 400001 bytes, more than" "$T/err" ||
    fail "-N < big: exit $RC: $(cat "$T/err")"
receiver edge -b 127.0.0.1:0 -N -n 1
head -c 400001 /dev/zero | "$NBMQCAT" -c "$EP" -w 10 -N 2>"$T/err"
[ $? = 1 ] && grep -q "stdin: more than the socket's max_message_size" \
    "$T/err" || fail "pipe over the limit: $(cat "$T/err")"
head -c 400000 /dev/zero | "$NBMQCAT" -c "$EP" -w 10 -N ||
    fail "exactly max_message_size: exit $?"
done_ok edge
[ "$(wc -c <"$T/edge.out")" = 400000 ] || fail "edge: $(wc -c <"$T/edge.out")"
ok "max_message_size: files refused by size at once ($MS ms), a pipe past it, exactly the limit sent"

# --- Addresses: the mistake said, exit 2; a name to bind to; a name that
# does not resolve, exit 1.  Never the daemon's "Invalid argument".
for c in "-c 7000|expected host:port" "-b 127.0.0.1|expected host:port" \
    "-c ::1:7000|needs brackets" "-b [::1]7000|expected \[v6\]:port" \
    "-c 127.0.0.1:99999|the port a number from 0 to 65535" \
    "-c :7000|no host" "-b a/b:0|not a host name" \
    "-b [localhost]:0|not an IPv6 address" \
    "-c @127.0.0.1:3478|expected name@host:port"; do
	args=${c%%|*}
	# shellcheck disable=SC2086
	"$NBMQCAT" $args -m x >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc = 2 ] || fail "$args: exit $rc: $(cat "$T/err")"
	head -n 1 "$T/err" | grep -q -- "${c#*|}" ||
	    fail "$args: $(cat "$T/err")"
	! grep -q "Invalid argument" "$T/err" || fail "$args: EINVAL"
done
"$NBMQCAT" -b nonexistent.invalid:0 -r -w 5 2>"$T/err"
[ $? = 1 ] && grep -q "^nbmqcat: cannot resolve nonexistent.invalid: " \
    "$T/err" || fail "-b nonexistent.invalid: $(cat "$T/err")"
receiver byname -b localhost:0 -n 1
echo "$EP" | grep -q '^127\.0\.0\.1:[1-9][0-9]*$\|^\[::1\]:[1-9][0-9]*$' ||
    fail "-b localhost:0 bound to $EP"
"$NBMQCAT" -c "localhost:${EP##*:}" -w 10 -m named || fail "send to name"
done_ok byname
[ "$(cat "$T/byname.out")" = named ] || fail "byname: $(cat "$T/byname.out")"
ok "addresses: 9 mistakes said (exit 2), cannot resolve (exit 1), -b localhost:0 bound to $EP"

# --- -w bounds every wait, a stopped daemon's too: no hang past -w.
start_daemon b
forget_daemon "$PID_b"
kill -STOP "$PID_b"
for mode in "-c 127.0.0.1:9 -m hi" "-b 127.0.0.1:0 -r" "-a nosuch -r"; do
	# shellcheck disable=SC2086
	elapsed_ms "$NBMQCAT" -S "$T/b.sock" -w 1 $mode 2>"$T/err"
	[ "$RC" = 1 ] || fail "stopped daemon, $mode: exit $RC"
	[ "$MS" -ge 900 ] && [ "$MS" -lt 2500 ] ||
	    fail "stopped daemon, $mode: $MS ms for -w 1"
	grep -q "^nbmqcat: no answer from the daemon at $T/b.sock within 1 seconds" \
	    "$T/err" || fail "stopped daemon, $mode: $(cat "$T/err")"
done
kill -CONT "$PID_b"
# -w 0 still means "do not wait" to a daemon that answers: a receiver
# binds and ends at once, exit 0; a sender without a peer fails at once.
"$NBMQCAT" -S "$T/b.sock" -w 0 -b 127.0.0.1:0 -r 2>"$T/err" ||
    fail "-w 0 receiver: exit $?: $(cat "$T/err")"
"$NBMQCAT" -S "$T/b.sock" -w 0 -c 127.0.0.1:9 -m x 2>"$T/err"
[ $? = 1 ] && grep -q "no peer within 0 seconds" "$T/err" ||
    fail "-w 0 sender: $(cat "$T/err")"
kill -TERM "$PID_b"
wait_for 10 sh -c "! kill -0 $PID_b" || fail "daemon b did not stop"
ok "-w 1 with a SIGSTOP'd daemon: sender, receiver, attach each exit 1 after ${MS} ms, saying why; -w 0 as before"
