/* SPDX-License-Identifier: ISC */
/*
 * nbmqcat: send stdin (or files) to an nbmq socket, or print what it
 * receives.  Like mosquitto_pub/sub or kcat, for nbmq.
 *
 *	nbmqcat -b 127.0.0.1:7000 -r			print messages
 *	echo hello | nbmqcat -c 127.0.0.1:7000		send one
 *	nbmqcat -c 127.0.0.1:7000 -N < file.bin		a file, raw
 *	nbmqcat -b 127.0.0.1:7000 -r -o 'in/%n'		a file per message
 *	nbmqcat -c 127.0.0.1:7000 -P -m a -m b		one message, two parts
 *
 * Built on the public libnbmq API (nbmq.h) only.
 */

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <netdb.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nbmq.h"

#define PROG		"nbmqcat"
#define PEER_POLL_MS	10	/* how often to look for a peer */
#define RECV_SLICE_MS	100	/* longest blocking receive between checks */
#define MAX_WAIT_S	1e9	/* -w upper bound (about 31 years) */
#define MAX_PARTS	255	/* parts of one message (nbmq_sendv) */
#define GUARD_GRACE_MS	200	/* the guard's time past -w (-w 0 works) */

enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2 };

static const char *Sflag;		/* -S: daemon IPC socket path */
static int	 type = NBMQ_DEALER;	/* -t */
static int	 tflag;			/* -t given */
static const char *baddr;		/* -b */
static const char *caddr;		/* -c */
static const char *aname;		/* -a */
static int	 rflag;			/* -r: receive */
static long long count = -1;		/* -n: -1 = unlimited */
static int64_t	 wait_ms = -1;		/* -w: -1 = forever */
static const char *wstr;		/* -w as given, for messages */
static int	 zflag;			/* -0: NUL-separated records */
static int	 fflag;			/* -f: arguments are files */
static int	 xflag;			/* -x: hex output */
static char	*sep = "\t";		/* -d: part separator */
static size_t	 seplen = 1;
static int	 eflag;			/* -e: print the sender's peer id */
static int	 qflag;			/* -q: quiet */
static int	 Nflag;			/* -N: raw, no added newlines */
static int	 Pflag;			/* -P: the records are parts of one */
static int	 dflag;			/* -d given */
static const char *opattern;		/* -o: one file per message */
static char	**mtexts;		/* -m: messages (or parts) from argv */
static int	 nm;
static int64_t	 maxsize = -1;		/* the socket's max_message_size */

static volatile sig_atomic_t gotsig;

static nbmq_socket *sock;

static const struct {
	const char	*name;
	int		 type;
} types[] = {
	{ "dealer",		NBMQ_DEALER },
	{ "safe_dealer",	NBMQ_SAFE_DEALER },
	{ "safe-dealer",	NBMQ_SAFE_DEALER },
	{ "radio",		NBMQ_RADIO },
	{ "dish",		NBMQ_DISH },
};

static void
synopsis(FILE *fp)
{
	fprintf(fp,
	    "usage: " PROG " [-0eNPfqrx] [-d sep] [-m text] [-n count] "
	    "[-o pattern]\n"
	    "               [-S path] [-t type] [-w seconds]\n"
	    "               -b addr | -c addr | -a name [-f file ...]\n");
}

static void __attribute__((noreturn))
usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt != NULL) {
		fputs(PROG ": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fputs("Try '" PROG " --help' for more information.\n", stderr);
	exit(EX_USAGE);
}

static void __attribute__((noreturn))
help(void)
{
	synopsis(stdout);
	printf(
	    "\n"
	    "Without -r, send each line of stdin as one message; with -r, print\n"
	    "each received message on one line.\n"
	    "\n"
	    "  -S path     the daemon's IPC socket (default $NBMQ_SOCKET, else "
	    NBMQ_DEFAULT_IPC_PATH ")\n"
	    "  -t type     socket type: dealer (default), safe_dealer, radio, "
	    "dish\n"
	    "  -b addr     bind to host:port, [v6]:port or name:port (port 0: "
	    "any; printed)\n"
	    "  -c addr     connect to host:port (host may be a name)\n"
	    "  -a name     attach to the socket configured in the daemon as "
	    "name\n"
	    "  -r          receive and print messages instead of sending\n"
	    "  -n count    stop after count messages (receive: exit 1 if fewer "
	    "arrive within -w)\n"
	    "  -w seconds  bound every wait (for a peer, for room, for the "
	    "daemon);\n"
	    "              receive: the total run time\n"
	    "  -N          raw: send stdin as one message; print messages "
	    "without a newline\n"
	    "              (and parts without a separator unless -d)\n"
	    "  -o pattern  receive each message into its own file: %%n its "
	    "number (000001),\n"
	    "              %%p the sender's peer id, %%%% a %%; the names are "
	    "printed\n"
	    "  -m text     send text as one message (repeatable: one message "
	    "each)\n"
	    "  -P          send one multipart message: each -m, file or stdin "
	    "record a part\n"
	    "  -0          records are NUL-terminated instead of lines (input "
	    "or output)\n"
	    "  -f          send each file argument as one message (\"-\" is "
	    "stdin)\n"
	    "  -x          print message parts as hex\n"
	    "  -d sep      separator printed between parts (default tab; "
	    "\\t \\n \\r \\0 \\\\)\n"
	    "  -e          print the sender's peer id (16 hex digits) and a "
	    "space first\n"
	    "  -q          quiet: no informational messages on stderr\n"
	    "  -V, --version  print the version and exit\n"
	    "  -h, --help     print this help and exit\n"
	    "\n"
	    "Exit status: 0 success, 1 timeout or failure, 2 usage error.\n");
	exit(EX_OK);
}

/* "nbmqcat: what: reason" with nbmq's meaning of errno. */
static void __attribute__((format(printf, 1, 2)))
warnnb(const char *fmt, ...)
{
	va_list ap;
	int saved = errno;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", nbmq_strerror(saved));
	errno = saved;
}

/* "nbmqcat: what" */
static void __attribute__((format(printf, 1, 2)))
warnmsg(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !gotsig)
		;
}

static const char *
type_name(int t)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == t)
			return types[i].name;
	return "unknown";
}

static int
parse_type(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(s, types[i].name) == 0)
			return types[i].type;
	usage("unknown socket type: %s", s);
}

static long long
parse_count(const char *s)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || n < 1)
		usage("bad count (a whole number, at least 1): %s", s);
	return n;
}

static int64_t
parse_seconds(const char *s)
{
	char *end;
	double d;
	int64_t ms;

	errno = 0;
	d = strtod(s, &end);
	if (*s == '\0' || *end != '\0' || errno == ERANGE || !isfinite(d) ||
	    d < 0 || d > MAX_WAIT_S)
		usage("bad number of seconds: %s", s);
	ms = (int64_t)(d * 1000.0 + 0.5);
	if (ms == 0 && d > 0)
		ms = 1;
	return ms;
}

/* -d: the separator with \t \n \r \0 \\ decoded (it may hold a NUL). */
static void
parse_sep(const char *s)
{
	char *p;

	if ((sep = p = malloc(strlen(s) + 1)) == NULL) {
		warnmsg("out of memory");
		exit(EX_FAIL);
	}
	for (; *s != '\0'; s++) {
		if (*s != '\\' || s[1] == '\0') {
			*p++ = *s;
			continue;
		}
		switch (*++s) {
		case 't':	*p++ = '\t';	break;
		case 'n':	*p++ = '\n';	break;
		case 'r':	*p++ = '\r';	break;
		case '0':	*p++ = '\0';	break;
		case '\\':	*p++ = '\\';	break;
		default:	*p++ = '\\'; *p++ = *s; break;
		}
	}
	seplen = (size_t)(p - sep);
}

static void
on_signal(int sig)
{
	/* Sending: no clean way out of a blocked send; just go. */
	if (!rflag)
		_exit(EX_FAIL);
	gotsig = sig;
}

/*
 * The -w guard.  Every call that waits for the daemon's answer (creating
 * the socket, bind, connect, options, close) is bounded by the library's
 * own 10 s; a stopped daemon must not make nbmqcat outlast -w, so an
 * interval timer ends the program when a wait runs past it.
 */
static char	guardmsg[512];
static size_t	guardlen;

static void
on_alarm(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, guardmsg, guardlen) == -1)
		_exit(EX_FAIL);
	_exit(EX_FAIL);
}

static const char *daemon_path(void);

/*
 * Arm the guard for ms and a grace (what: what we are waiting for), so
 * that what -w bounds itself says so first; -1 disarms.
 */
static void
guard(int64_t ms, const char *what)
{
	struct itimerval it;
	int n;

	if (wait_ms < 0)
		return;
	memset(&it, 0, sizeof(it));
	if (ms >= 0) {
		ms += GUARD_GRACE_MS;
		n = snprintf(guardmsg, sizeof(guardmsg), PROG ": no answer "
		    "from the daemon at %s within %s seconds (%s): is it "
		    "stopped or hung?\n", daemon_path(), wstr, what);
		guardlen = n < 0 ? 0 : (size_t)n < sizeof(guardmsg) ?
		    (size_t)n : sizeof(guardmsg) - 1;
		it.it_value.tv_sec = ms / 1000;
		it.it_value.tv_usec = (ms % 1000) * 1000;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

static void
setup_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = 0;		/* no SA_RESTART: let waits return */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	/* A closed pipe or a vanished daemon is an error, not a kill. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Which daemon we talk to, for error messages (as nbmq_ctx_new picks it). */
static const char *
daemon_path(void)
{
	const char *p;

	if (Sflag != NULL)
		return Sflag;
	if ((p = getenv("NBMQ_SOCKET")) != NULL && *p != '\0')
		return p;
	return NBMQ_DEFAULT_IPC_PATH;
}

/*
 * -b and -c: "host:port", "[v6]:port" (and "name@host:port" to connect by
 * name through a stun server), checked here as the daemon will, so that a
 * mistake is said as such rather than as the daemon's EINVAL.  The host
 * goes to host (without brackets), the port to port.
 */
static void
check_addr(char opt, const char *addr, char *host, size_t hostlen,
    char *port, size_t portlen)
{
	struct in6_addr a6;
	const char *h, *p, *c, *at;
	size_t hl;

	if (opt == 'c' && (at = strchr(addr, '@')) != NULL) {
		if (at == addr)
			usage("-c %s: expected name@host:port", addr);
		addr = at + 1;
	}
	if (addr[0] == '[') {
		if ((c = strchr(addr, ']')) == NULL || c[1] != ':')
			usage("-%c %s: expected [v6]:port, e.g. [::1]:7000",
			    opt, addr);
		h = addr + 1;
		hl = (size_t)(c - h);
		p = c + 2;
	} else {
		if ((c = strrchr(addr, ':')) == NULL)
			usage("-%c %s: expected host:port, e.g. "
			    "127.0.0.1:7000", opt, addr);
		h = addr;
		hl = (size_t)(c - h);
		p = c + 1;
		if (memchr(h, ':', hl) != NULL)
			usage("-%c %s: an IPv6 address needs brackets, e.g. "
			    "[::1]:7000", opt, addr);
	}
	if (hl == 0 || hl >= hostlen)
		usage("-%c %s: expected host:port (no host)", opt, addr);
	if (*p == '\0' || strspn(p, "0123456789") != strlen(p) ||
	    strlen(p) >= portlen || strtoul(p, NULL, 10) > 65535)
		usage("-%c %s: expected host:port, the port a number from 0 "
		    "to 65535", opt, addr);
	memcpy(host, h, hl);
	host[hl] = '\0';
	strcpy(port, p);
	if (addr[0] == '[' && inet_pton(AF_INET6, host, &a6) != 1)
		usage("-%c %s: not an IPv6 address: %s", opt, addr, host);
	if (addr[0] != '[' && strspn(host, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") != hl)
		usage("-%c %s: not a host name or address: %s", opt, addr,
		    host);
}

/* Is host a literal IPv4 or IPv6 address? */
static int
numeric_host(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

/*
 * -b: the daemon binds numeric addresses only, so a name is resolved
 * here, and each of its addresses tried in the resolver's order until
 * one binds.
 */
static int
bind_addr(void)
{
	struct addrinfo hints, *res, *ai;
	char host[256], port[8], num[INET6_ADDRSTRLEN], ep[300];
	int e;

	check_addr('b', baddr, host, sizeof(host), port, sizeof(port));
	if (numeric_host(host)) {
		if (nbmq_bind(sock, baddr) == 0)
			return 0;
		warnnb("cannot bind to %s", baddr);
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((e = getaddrinfo(host, port, &hints, &res)) != 0) {
		warnmsg("cannot resolve %s: %s", host, e == EAI_SYSTEM ?
		    strerror(errno) : gai_strerror(e));
		return -1;
	}
	e = EADDRNOTAVAIL;
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num),
		    NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		snprintf(ep, sizeof(ep), ai->ai_family == AF_INET6 ?
		    "[%s]:%s" : "%s:%s", num, port);
		if (nbmq_bind(sock, ep) == 0) {
			freeaddrinfo(res);
			return 0;
		}
		e = errno;
	}
	freeaddrinfo(res);
	errno = e;
	warnnb("cannot bind to %s", baddr);
	return -1;
}

static int
open_socket(nbmq_ctx *ctx)
{
	char ep[256];
	int64_t t;

	if (aname != NULL) {
		if ((sock = nbmq_attach(ctx, aname)) == NULL) {
			if (errno == ECONNREFUSED)
				warnnb("cannot reach the daemon at %s",
				    daemon_path());
			else
				warnnb("cannot attach to socket %s "
				    "(daemon at %s)", aname, daemon_path());
			return -1;
		}
		/* The daemon's config decides the type: check it fits. */
		if (nbmq_getopt(sock, NBMQ_OPT_TYPE, &t) == 0) {
			if (tflag && t != type) {
				warnmsg("socket %s is a %s, not a %s", aname,
				    type_name((int)t), type_name(type));
				return -1;
			}
			if (rflag && t == NBMQ_RADIO) {
				warnmsg("socket %s is a radio: it cannot "
				    "receive", aname);
				return -1;
			}
			if (!rflag && t == NBMQ_DISH) {
				warnmsg("socket %s is a dish: it cannot send "
				    "(use -r)", aname);
				return -1;
			}
		}
		return 0;
	}

	if ((sock = nbmq_socket_new(ctx, type)) == NULL) {
		warnnb("cannot reach the daemon at %s", daemon_path());
		return -1;
	}
	if (baddr != NULL) {
		if (bind_addr() == -1)
			return -1;
		if (!qflag) {
			if (nbmq_last_endpoint(sock, ep, sizeof(ep)) == -1)
				warnnb("bound to %s, but cannot read the "
				    "endpoint", baddr);
			else
				fprintf(stderr, PROG ": bound to %s\n", ep);
			fflush(stderr);
		}
	} else {
		if (nbmq_connect(sock, caddr) == -1) {
			warnnb("cannot connect to %s", caddr);
			return -1;
		}
	}
	return 0;
}

/*
 * Sending.
 */

static int64_t	cur_sndtimeo = -2;	/* what NBMQ_OPT_SNDTIMEO is now */

static int
set_sndtimeo(int64_t ms)
{
	if (ms == cur_sndtimeo)
		return 0;
	if (nbmq_setopt(sock, NBMQ_OPT_SNDTIMEO, ms) == -1) {
		warnnb("cannot set the send timeout");
		return -1;
	}
	cur_sndtimeo = ms;
	return 0;
}

#define WAITING_AFTER_MS	1000

/*
 * While connecting: the last NBMQ_EVENT_CONNECT_FAILED's reason (0: none
 * yet), read from the events the socket subscribed to in wait_peer.
 */
static char	resolved[64];	/* what -c's name resolved to, or "" */

static int
connect_reason(int reason)
{
	struct nbmq_event ev;
	nbmq_msg *m;

	while (nbmq_recv(sock, &m, NBMQ_DONTWAIT) == 0) {
		/* A message before the peer's up event: nobody reads it. */
		if (nbmq_msg_event(m, &ev) &&
		    ev.type == NBMQ_EVENT_CONNECT_FAILED) {
			reason = ev.reason;
			snprintf(resolved, sizeof(resolved), "%s",
			    ev.prev_addr);
		}
		nbmq_msg_free(m);
	}
	return reason;
}

/* Connecting without a peer for a second: say so, and why, once per
 * reason (told: the reason last said, -1 none). */
static void
waiting_note(int64_t start, int reason, int *told)
{
	if (caddr == NULL || qflag || reason == *told ||
	    now_ms() - start < WAITING_AFTER_MS)
		return;
	/* A name: where it went, "(127.0.0.1:7001: no answer)". */
	warnmsg("waiting for a peer at %s (%s%s%s)", caddr,
	    reason && resolved[0] ? resolved : "",
	    reason && resolved[0] ? ": " : "",
	    reason ? nbmq_connfail_text(reason) : "no answer yet");
	*told = reason;
}

/*
 * Wait until the socket has a peer, up to -w.  Connecting, after a second
 * without one, say so on stderr, with why (NBMQ_EVENT_CONNECT_FAILED),
 * once and again each time the reason changes.
 */
static int
wait_peer1(void)
{
	int64_t peers, deadline, now, start = now_ms();
	int reason = 0, told = -1, events = 0;

	deadline = wait_ms >= 0 ? start + wait_ms : -1;
	/* An older daemon has no such events: the line says less. */
	if (caddr != NULL && nbmq_setopt(sock, NBMQ_OPT_EVENTS, 1) == 0)
		events = 1;
	for (;;) {
		if (nbmq_getopt(sock, NBMQ_OPT_PEERS, &peers) == -1) {
			warnnb("cannot read the peer count");
			return -1;
		}
		if (peers > 0) {
			if (events)
				(void)nbmq_setopt(sock, NBMQ_OPT_EVENTS, 0);
			return 0;
		}
		now = now_ms();
		if (events)
			reason = connect_reason(reason);
		waiting_note(start, reason, &told);
		if (deadline >= 0 && now >= deadline) {
			if (reason != 0)
				warnmsg("no peer within %s seconds (%s)", wstr,
				    nbmq_connfail_text(reason));
			else
				warnmsg("no peer within %s seconds", wstr);
			return -1;
		}
		if (deadline >= 0 && deadline - now < PEER_POLL_MS)
			sleep_ms(deadline - now);
		else
			sleep_ms(PEER_POLL_MS);
	}
}

/* "stdin" for "-", for messages. */
static const char *
fname(const char *path)
{
	return strcmp(path, "-") == 0 ? "stdin" : path;
}

/* Over the socket's max_message_size: say so, return 1. */
static int
too_big(const char *what, uint64_t size)
{
	if (maxsize < 0 || size <= (uint64_t)maxsize)
		return 0;
	warnmsg("%s: %" PRIu64 " bytes, more than the socket's "
	    "max_message_size (%" PRId64 "): not sent", what, size, maxsize);
	return 1;
}

static int
wait_peer(void)
{
	int rv;

	guard(wait_ms, "waiting for a peer");
	rv = wait_peer1();
	guard(-1, NULL);
	return rv;
}

/*
 * Hand one message to the daemon.  Blocks while the high-water mark is
 * reached; if the peer went away, try again until -w passes.
 */
static int
send_msg(const struct iovec *iov, int niov, long long n)
{
	int64_t deadline, left;
	uint64_t total = 0;
	char what[64];
	int i;

	for (i = 0; i < niov; i++)
		total += iov[i].iov_len;
	snprintf(what, sizeof(what), "message %lld", n);
	if (too_big(what, total))
		return -1;
	deadline = wait_ms >= 0 ? now_ms() + wait_ms : -1;
	if (set_sndtimeo(wait_ms) == -1)
		return -1;
	guard(wait_ms, "sending");
	for (;;) {
		if (nbmq_sendv(sock, iov, niov, 0, 0) == 0) {
			guard(-1, NULL);
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EHOSTUNREACH)
			break;
		if (deadline >= 0) {
			if ((left = deadline - now_ms()) <= 0)
				break;
			if (set_sndtimeo(left) == -1)
				return -1;
		}
		sleep_ms(PEER_POLL_MS);
	}
	guard(-1, NULL);
	if ((errno == EAGAIN || errno == EHOSTUNREACH) && wstr != NULL)
		warnnb("cannot send message %lld within %s seconds", n, wstr);
	else
		warnnb("cannot send message %lld (%" PRIu64 " bytes)", n, total);
	return -1;
}

static int
send_one(const void *buf, size_t len, long long n)
{
	struct iovec iov = { (void *)(uintptr_t)buf, len };

	return send_msg(&iov, 1, n);
}

/*
 * Before reading a file: a regular file (or stdin redirected from one)
 * larger than the limit is refused by its size.  Returns its size, 0 when
 * not a regular file, -1 when refused or unreadable.
 */
static off_t
check_size(int fd, const char *path)
{
	struct stat st;

	if (fstat(fd, &st) == -1) {
		warnmsg("%s: %s", fname(path), strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode))
		return 0;
	if (too_big(fname(path), (uint64_t)st.st_size))
		return -1;
	return st.st_size;
}

/*
 * Read a whole file ("-": stdin) into *bufp, refusing one larger than
 * max_message_size by its size before reading it, or (a pipe) as soon as
 * it has read more.
 */
static int
read_file(const char *path, char **bufp, size_t *lenp)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t r;
	off_t size;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if ((size = check_size(fd, path)) == -1)
		goto refused;
	if (size > 0)
		cap = (size_t)size + 1;		/* +1: see EOF at once */
	for (;;) {
		if (len == cap) {
			cap = cap < 65536 ? 65536 : cap * 2;
			if ((nbuf = realloc(buf, cap)) == NULL)
				goto fail;
			buf = nbuf;
		} else if (buf == NULL && (buf = malloc(cap)) == NULL)
			goto fail;
		if ((r = read(fd, buf + len, cap - len)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (maxsize >= 0 && len > (uint64_t)maxsize) {
			warnmsg("%s: more than the socket's max_message_size "
			    "(%" PRId64 " bytes): not sent", fname(path),
			    maxsize);
			goto refused;
		}
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	warnmsg("%s: %s", fname(path), strerror(errno));
refused:
	if (fd != -1 && fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return -1;
}

/* -P: the parts of the one message, gathered. */
struct parts {
	struct iovec	 iov[MAX_PARTS];
	int		 n;
	uint64_t	 total;
};

static int
parts_add(struct parts *p, char *buf, size_t len)
{
	if (p->n == MAX_PARTS) {
		warnmsg("more than %d parts: not sent", MAX_PARTS);
		free(buf);
		return -1;
	}
	p->iov[p->n].iov_base = buf;
	p->iov[p->n++].iov_len = len;
	p->total += len;
	if (too_big("the message", p->total))
		return -1;
	return 0;
}

static void
parts_free(struct parts *p)
{
	while (p->n > 0)
		free(p->iov[--p->n].iov_base);
}

/*
 * -f: each file one message, or with -P each a part of one.  Missing,
 * unreadable or too large files are said before waiting for a peer.
 */
static int
send_files(char **files, int nfiles)
{
	struct parts p = { .n = 0 };
	char *buf;
	size_t len;
	uint64_t total = 0;
	long long n = 0;
	off_t size;
	int i, fd, rv = -1;

	for (i = 0; i < nfiles; i++) {
		if (strcmp(files[i], "-") == 0)
			fd = STDIN_FILENO;
		else if ((fd = open(files[i], O_RDONLY | O_CLOEXEC)) == -1) {
			warnmsg("%s: %s", files[i], strerror(errno));
			return -1;
		}
		size = check_size(fd, files[i]);
		if (fd != STDIN_FILENO)
			close(fd);
		if (size == -1)
			return -1;
		total += (uint64_t)size;
	}
	if (Pflag && too_big("the message", total))
		return -1;
	if (wait_peer() == -1)
		return -1;
	for (i = 0; i < nfiles && (Pflag || count < 0 || n < count); i++) {
		if (read_file(files[i], &buf, &len) == -1)
			goto out;
		if (Pflag) {
			if (parts_add(&p, buf, len) == -1)
				goto out;
			continue;
		}
		if (send_one(buf, len, ++n) == -1) {
			free(buf);
			goto out;
		}
		free(buf);
	}
	rv = Pflag ? send_msg(p.iov, p.n, 1) : 0;
out:
	parts_free(&p);
	return rv;
}

/*
 * -m: each text one message, or with -P each a part of one (check_args
 * holds -P to MAX_PARTS of them; one at a time otherwise).
 */
static int
send_texts(void)
{
	struct iovec iov[MAX_PARTS];
	uint64_t total = 0;
	long long n = 0;
	int i;

	for (i = 0; i < nm; i++) {
		total += strlen(mtexts[i]);
		if (!Pflag && too_big("-m", strlen(mtexts[i])))
			return -1;
	}
	if (Pflag && too_big("the message", total))
		return -1;
	if (wait_peer() == -1)
		return -1;
	if (Pflag) {
		for (i = 0; i < nm; i++) {
			iov[i].iov_base = mtexts[i];
			iov[i].iov_len = strlen(mtexts[i]);
		}
		return send_msg(iov, nm, 1);
	}
	for (i = 0; i < nm && (count < 0 || n < count); i++)
		if (send_one(mtexts[i], strlen(mtexts[i]), ++n) == -1)
			return -1;
	return 0;
}

/*
 * stdin: each line (-0: NUL-terminated record) one message, or with -P a
 * part of one sent at the end; -N: all of it one message.
 */
static int
send_stdin(void)
{
	struct parts p = { .n = 0 };
	char *line = NULL, *copy;
	size_t cap = 0;
	ssize_t len;
	long long n = 0;
	int delim = zflag ? '\0' : '\n', rv = 0;

	if (Nflag) {
		if (check_size(STDIN_FILENO, "-") == -1 || wait_peer() == -1 ||
		    read_file("-", &line, &cap) == -1)
			return -1;
		rv = send_one(line, cap, 1);
		free(line);
		return rv;
	}
	if (wait_peer() == -1)
		return -1;
	while (Pflag || count < 0 || n < count) {
		if ((len = getdelim(&line, &cap, delim, stdin)) == -1) {
			if (ferror(stdin)) {
				warnmsg("stdin: %s", strerror(errno));
				rv = -1;
			}
			break;
		}
		if (len > 0 && line[len - 1] == delim)
			len--;
		if (Pflag) {
			if ((copy = malloc(len + 1)) == NULL) {
				warnmsg("out of memory");
				rv = -1;
				break;
			}
			memcpy(copy, line, len);
			if ((rv = parts_add(&p, copy, (size_t)len)) == -1)
				break;
			continue;
		}
		if (send_one(line, (size_t)len, ++n) == -1) {
			rv = -1;
			break;
		}
	}
	free(line);
	if (Pflag && rv == 0 && p.n > 0)
		rv = send_msg(p.iov, p.n, 1);
	parts_free(&p);
	return rv;
}

/*
 * Receiving.
 */

/*
 * The parts of m to fp: hex with -x; between parts the separator (-d,
 * else a tab; raw and into files, only one that -d gave).
 */
static void
write_parts(FILE *fp, const nbmq_msg *m)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t i, j, nparts, len;
	int withsep = dflag || (!Nflag && opattern == NULL);

	nparts = nbmq_msg_parts(m);
	for (i = 0; i < nparts; i++) {
		if (i > 0 && withsep)
			fwrite(sep, 1, seplen, fp);
		if ((p = nbmq_msg_part(m, i, &len)) == NULL || len == 0)
			continue;
		if (xflag) {
			for (j = 0; j < len; j++) {
				putc(hex[p[j] >> 4], fp);
				putc(hex[p[j] & 0xf], fp);
			}
		} else
			fwrite(p, 1, len, fp);
	}
}

static int
flush_stdout(void)
{
	if (fflush(stdout) == EOF || ferror(stdout)) {
		/* A reader that went away (| head) is not worth a word. */
		if (errno != EPIPE && !gotsig)
			warnmsg("stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int
print_msg(const nbmq_msg *m)
{
	if (eflag)
		printf("%016" PRIx64 " ", nbmq_msg_peer(m));
	write_parts(stdout, m);
	if (!Nflag)
		putchar(zflag ? '\0' : '\n');
	return flush_stdout();
}

/*
 * -o: the file name of message n from the pattern (%n the number, 6
 * digits at least, %p the peer id, %% a %).  With m NULL, only check the
 * pattern.  Returns -1 when it does not fit or has an unknown %.
 */
static int
expand(char *buf, size_t size, long long n, const nbmq_msg *m)
{
	const char *s;
	size_t len = 0;
	int r;

	for (s = opattern; *s != '\0'; s++) {
		if (*s != '%') {
			r = snprintf(buf + len, size - len, "%c", *s);
		} else if (*++s == 'n') {
			r = snprintf(buf + len, size - len, "%06lld", n);
		} else if (*s == 'p') {
			r = snprintf(buf + len, size - len, "%016" PRIx64,
			    m != NULL ? nbmq_msg_peer(m) : (uint64_t)0);
		} else if (*s == '%') {
			r = snprintf(buf + len, size - len, "%%");
		} else
			return -1;
		if (r < 0 || (size_t)r >= size - len)
			return -1;
		len += (size_t)r;
	}
	return len > 0 ? 0 : -1;
}

/*
 * -o: message n into its own file, written under a temporary name in the
 * same directory and renamed, so that whoever watches the directory sees
 * only whole files; then its name on stdout.
 */
static int
save_msg(const nbmq_msg *m, long long n)
{
	char name[PATH_MAX], tmp[PATH_MAX + 16], *slash;
	mode_t um;
	FILE *fp;
	int fd;

	if (expand(name, sizeof(name), n, m) == -1) {
		warnmsg("-o %s: the name is too long", opattern);
		return -1;
	}
	if ((slash = strrchr(name, '/')) != NULL)
		snprintf(tmp, sizeof(tmp), "%.*s/.%s.XXXXXX",
		    (int)(slash - name), name, slash + 1);
	else
		snprintf(tmp, sizeof(tmp), ".%s.XXXXXX", name);
	if ((fd = mkstemp(tmp)) == -1) {
		warnmsg("%s: %s", tmp, strerror(errno));
		return -1;
	}
	um = umask(0);
	umask(um);
	if (fchmod(fd, 0666 & ~um) == -1 || (fp = fdopen(fd, "w")) == NULL) {
		warnmsg("%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	write_parts(fp, m);
	if (ferror(fp) | (fclose(fp) == EOF) || rename(tmp, name) == -1) {
		warnmsg("%s: %s", name, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (eflag)
		printf("%016" PRIx64 " ", nbmq_msg_peer(m));
	printf("%s%c", name, zflag ? '\0' : '\n');
	return flush_stdout();
}

/* -o given: check the pattern and that its directory takes files. */
static void
check_pattern(void)
{
	char name[PATH_MAX], *slash;

	if (expand(name, sizeof(name), 1, NULL) == -1)
		usage("-o %s: a file name pattern (%%n the message's number, "
		    "%%p the peer id, %%%% a %%)", opattern);
	if (strstr(opattern, "%n") == NULL && count != 1)
		usage("-o %s: one file per message needs %%n in the name "
		    "(or -n 1)", opattern);
	if ((slash = strrchr(name, '/')) != NULL)
		*slash = '\0';
	if (access(slash == NULL ? "." : name[0] == '\0' ? "/" : name,
	    W_OK | X_OK) == -1) {
		warnmsg("-o %s: cannot write in %s: %s", opattern,
		    slash == NULL ? "." : name, strerror(errno));
		exit(EX_FAIL);
	}
}

/* Returns the exit status. */
static int
recv_loop(void)
{
	nbmq_msg *m;
	struct nbmq_event ev;
	int64_t deadline, left, slice, start = now_ms();
	long long n = 0;
	int events = 0, reason = 0, told = -1;

	deadline = wait_ms >= 0 ? start + wait_ms : -1;
	/* Connecting: events until the first peer, for the waiting line. */
	guard(wait_ms, "asking for events");
	if (caddr != NULL && !qflag &&
	    nbmq_setopt(sock, NBMQ_OPT_EVENTS, 1) == 0)
		events = 1;
	guard(-1, NULL);
	for (;;) {
		if (events)
			waiting_note(start, reason, &told);
		if (gotsig)
			return count < 0 ? EX_OK : EX_FAIL;
		if (count >= 0 && n >= count)
			return EX_OK;
		slice = RECV_SLICE_MS;
		if (deadline >= 0) {
			if ((left = deadline - now_ms()) <= 0) {
				if (count < 0)
					return EX_OK;
				warnmsg("timed out after %s seconds: %lld of "
				    "%lld messages received", wstr, n, count);
				return EX_FAIL;
			}
			if (left < slice)
				slice = left;
		}
		/*
		 * Block in slices, so that a signal is seen at once even if
		 * the library resumes its wait after EINTR.
		 */
		if (nbmq_setopt(sock, NBMQ_OPT_RCVTIMEO, slice) == -1) {
			warnnb("cannot set the receive timeout");
			return EX_FAIL;
		}
		if (nbmq_recv(sock, &m, 0) == -1) {
			switch (errno) {
			case EAGAIN:
			case EINTR:
				continue;
			case ENOBUFS:
				warnmsg("messages dropped (receive high-water "
				    "mark)");
				continue;
			default:
				warnnb("cannot receive");
				return EX_FAIL;
			}
		}
		if (nbmq_msg_event(m, &ev)) {
			if (ev.type == NBMQ_EVENT_CONNECT_FAILED) {
				reason = ev.reason;
				snprintf(resolved, sizeof(resolved), "%s",
				    ev.prev_addr);
			} else if (ev.type == NBMQ_EVENT_UP) {
				events = 0;	/* a peer: nothing to say */
				guard(wait_ms, "asking for events");
				(void)nbmq_setopt(sock, NBMQ_OPT_EVENTS, 0);
				guard(-1, NULL);
			}
			nbmq_msg_free(m);
			continue;
		}
		n++;
		if ((opattern != NULL ? save_msg(m, n) : print_msg(m)) == -1) {
			nbmq_msg_free(m);
			return gotsig && count < 0 ? EX_OK : EX_FAIL;
		}
		nbmq_msg_free(m);
	}
}

static void
add_text(char *text)
{
	char **n;

	if ((n = reallocarray(mtexts, nm + 1, sizeof(*n))) == NULL) {
		warnmsg("out of memory");
		exit(EX_FAIL);
	}
	mtexts = n;
	mtexts[nm++] = text;
}

/* The combinations that make no sense, as usage errors. */
static void
check_args(int argc, char *argv[])
{
	char host[256], port[8];
	int nmode;

	nmode = (baddr != NULL) + (caddr != NULL) + (aname != NULL);
	if (nmode != 1)
		usage("exactly one of -b, -c or -a is required");
	if (baddr != NULL)
		check_addr('b', baddr, host, sizeof(host), port, sizeof(port));
	if (caddr != NULL)
		check_addr('c', caddr, host, sizeof(host), port, sizeof(port));
	if (fflag && rflag)
		usage("-f sends files: it cannot be used with -r");
	if (fflag && argc == 0)
		usage("-f needs at least one file");
	if (!fflag && argc > 0)
		usage("unexpected argument: %s (files need -f)", argv[0]);
	if (nm > 0 && (rflag || fflag))
		usage("-m sends its text: it cannot be used with %s",
		    rflag ? "-r" : "-f");
	if (Pflag && rflag)
		usage("-P sends one multipart message: it cannot be used "
		    "with -r");
	if (Pflag && (nm > MAX_PARTS || argc > MAX_PARTS))
		usage("-P: at most %d parts", MAX_PARTS);
	if (Nflag && zflag)
		usage("-N (no separator) and -0 (NUL-separated) cannot be "
		    "used together");
	if (opattern != NULL && !rflag)
		usage("-o writes received messages into files: it needs -r");
	if (opattern != NULL)
		check_pattern();
	if (aname == NULL && rflag && type == NBMQ_RADIO)
		usage("a radio socket cannot receive");
	if (aname == NULL && !rflag && type == NBMQ_DISH)
		usage("a dish socket cannot send (use -r)");
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	nbmq_ctx *ctx;
	int ch, rv;

	while ((ch = getopt_long(argc, argv, "0a:b:c:d:efhm:Nn:o:PqrS:t:Vw:x",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case '0':
			zflag = 1;
			break;
		case 'a':
			aname = optarg;
			break;
		case 'b':
			baddr = optarg;
			break;
		case 'c':
			caddr = optarg;
			break;
		case 'd':
			parse_sep(optarg);
			dflag = 1;
			break;
		case 'e':
			eflag = 1;
			break;
		case 'f':
			fflag = 1;
			break;
		case 'h':
			help();
		case 'V':
			printf(PROG " %s\n", NBMQ_VERSION);
			exit(EX_OK);
		case 'm':
			add_text(optarg);
			break;
		case 'N':
			Nflag = 1;
			break;
		case 'n':
			count = parse_count(optarg);
			break;
		case 'o':
			opattern = optarg;
			break;
		case 'P':
			Pflag = 1;
			break;
		case 'q':
			qflag = 1;
			break;
		case 'r':
			rflag = 1;
			break;
		case 'S':
			Sflag = optarg;
			break;
		case 't':
			type = parse_type(optarg);
			tflag = 1;
			break;
		case 'w':
			wait_ms = parse_seconds(optarg);
			wstr = optarg;
			break;
		case 'x':
			xflag = 1;
			break;
		default:
			usage(NULL);
		}
	}
	argc -= optind;
	argv += optind;

	check_args(argc, argv);
	setup_signals();

	if ((ctx = nbmq_ctx_new(Sflag)) == NULL) {
		warnnb("cannot create a context");
		return EX_FAIL;
	}
	guard(wait_ms, "opening the socket");
	if (open_socket(ctx) == -1) {
		if (sock != NULL)
			nbmq_close(sock);
		nbmq_ctx_destroy(ctx);
		return EX_FAIL;
	}
	if (!rflag && nbmq_getopt(sock, NBMQ_OPT_MAX_MESSAGE_SIZE,
	    &maxsize) == -1)
		maxsize = -1;		/* the library says EMSGSIZE then */
	guard(-1, NULL);

	if (rflag) {
		rv = recv_loop();
		guard(wait_ms, "closing the socket");
		nbmq_close(sock);
		guard(-1, NULL);
	} else {
		if (fflag)
			rv = send_files(argv, argc) == 0 ? EX_OK : EX_FAIL;
		else if (nm > 0)
			rv = send_texts() == 0 ? EX_OK : EX_FAIL;
		else
			rv = send_stdin() == 0 ? EX_OK : EX_FAIL;
		/* The daemon lingers to deliver what it was handed. */
		guard(wait_ms, "closing the socket");
		if (nbmq_close(sock) == -1 && rv == EX_OK) {
			warnnb("cannot close the socket");
			rv = EX_FAIL;
		}
		guard(-1, NULL);
	}
	nbmq_ctx_destroy(ctx);
	return rv;
}
