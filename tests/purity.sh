#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/purity.sh OBJECT...: the core's boundary, as a build check (make
# check-purity, in make check).  The protocol core is pure: time and I/O
# are passed in (the shell's ops and clocks), so it calls no clock, no
# socket, no libevent, no file, no process or user lookup, no dlopen of
# its own.  Each object's undefined symbols (nm -u) are held to that; one
# found names the object, the symbol and where such code belongs.
set -u
[ $# -gt 0 ] || { echo "usage: tests/purity.sh OBJECT..." >&2; exit 2; }
FORBIDDEN='^(event_|evtimer_|evsignal_|evbuffer_|bufferevent_|evconnlistener_|evhttp_|evdns_|evutil_|socket|socketpair|bind|connect|listen|accept4?|send|sendto|sendmsg|sendmmsg|recv|recvfrom|recvmsg|recvmmsg|setsockopt|getsockopt|getsockname|getpeername|shutdown|poll|epoll_.*|select|clock_gettime|gettimeofday|time|sleep|usleep|nanosleep|fopen|fopen64|fdopen|freopen|open|open64|openat|openat64|creat|read|write|pread|pwrite|readv|writev|close|unlink|stat|stat64|lstat|fstat|fstat64|__xstat|__fxstat|__lxstat|scandir|opendir|readdir|mkdir|rename|dlopen|dlsym|dlclose|getpid|getuid|geteuid|getgid|getpwnam|getpwuid|getgrnam|getgrgid|getgrouplist|getenv|fork|exec.*|system|popen|kill|signal|sigaction|sd_.*|getaddrinfo|gethostbyname)(@.*)?$'
bad=0
for o; do
	[ -f "$o" ] || { echo "purity: $o: no such object (build first)"; exit 2; }
	syms=$(nm -u "$o" | awk '{ print $NF }' | grep -E "$FORBIDDEN")
	for s in $syms; do
		echo "purity: $o calls $s: the core takes time and I/O from the shell (daemon/udp.c, ipc.c, daemon.c) or from the start-up code beside it (config.c, cryptconf.c, acl.c, log.c)"
		bad=1
	done
done
[ $bad = 0 ] || exit 1
echo "purity: $# core objects call no clock, socket, libevent, file or lookup of their own"
