#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/purity.sh CORE_OBJECT... [--beside OBJECT...] [--shell OBJECT...]:
# the core's boundary, as a build check (make check-purity, in make check).
# The protocol core is pure: time and I/O are passed in (the shell's ops
# and clocks), so it calls no clock, no socket, no libevent, no file, no
# process or user lookup, no dlopen of its own.  Each core object's
# undefined symbols (nm -u) are held to that; one found names the object,
# the symbol and where such code belongs.
# Its header is nbmqd.h: a core object, or one beside it (--beside: what
# start-up reads, which may call the system), that included the shell's
# shell.h or a libevent header fails (its .d, from -MMD, lists the
# project's headers it read; those and its source are searched for
# libevent's).  --shell: the shell's pure modules, held to the symbols.
set -u
[ $# -gt 0 ] || { echo "usage: tests/purity.sh OBJECT... [--beside OBJECT...] [--shell OBJECT...]" >&2; exit 2; }
FORBIDDEN='^(event_|evtimer_|evsignal_|evbuffer_|bufferevent_|evconnlistener_|evhttp_|evdns_|evutil_|socket|socketpair|bind|connect|listen|accept4?|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|setsockopt|getsockopt|getsockname|getpeername|shutdown|poll|epoll_.*|select|clock_gettime|gettimeofday|time|sleep|usleep|nanosleep|fopen|fopen64|fdopen|freopen|open|open64|openat|openat64|creat|read|write|pread|pwrite|readv|writev|close|unlink|stat|stat64|lstat|fstat|fstat64|__xstat|__fxstat|__lxstat|scandir|opendir|readdir|mkdir|rename|dlopen|dlsym|dlclose|getpid|getuid|geteuid|getgid|getpwnam|getpwuid|getgrnam|getgrgid|getgrouplist|getenv|fork|exec.*|system|popen|kill|signal|sigaction|sd_.*|getaddrinfo|gethostbyname)(@.*)?$'
bad=0
n=0

# The calls of object $1 (core or shell-pure).
calls() {
	syms=$(nm -u "$1" | awk '{ print $NF }' | grep -E "$FORBIDDEN")
	for s in $syms; do
		echo "purity: $1 calls $s: the core takes time and I/O from the shell (daemon/udp.c, ipc.c, daemon.c) or from the start-up code beside it (config.c, cryptconf.c, acl.c, log.c)"
		bad=1
	done
}

# The headers of object $1 (core or beside it): nbmqd.h, never shell.h.
headers() {
	d=${1%%.o}.d
	[ -f "$d" ] || { echo "purity: $d: no such file (build with -MMD)"; bad=1; return; }
	files=$(sed -e 's/\\$//' -e 's/^[^:]*://' "$d" | tr ' ' '\n' | grep -v '^$' | sort -u)
	for f in $files; do
		case $f in
		*/shell.h|shell.h)
			echo "purity: $1 includes $f: the core's header is daemon/nbmqd.h; the shell's types stay in the shell"
			bad=1 ;;
		esac
		[ -f "$f" ] || continue
		if grep -Eq '^[[:space:]]*#[[:space:]]*include[[:space:]]*<(event2/|event\.h|evhttp\.h|evdns\.h)' "$f"; then
			echo "purity: $1 includes libevent (in $f): the core does not see libevent"
			bad=1
		fi
	done
}

mode=core
for o; do
	case $o in
	--beside) mode=beside; continue ;;
	--shell) mode=shell; continue ;;
	esac
	[ -f "$o" ] || { echo "purity: $o: no such object (build first)"; exit 2; }
	n=$((n + 1))
	case $mode in
	core) calls "$o"; headers "$o" ;;
	beside) headers "$o" ;;
	shell) calls "$o" ;;
	esac
done
[ $bad = 0 ] || exit 1
echo "purity: $n objects: the core calls no clock, socket, libevent, file or lookup of its own, and it and the start-up code beside it include no shell or libevent header"
