/*
 * nbmqcat: send stdin (or files) to an nbmq socket, or print what it
 * receives.  Like mosquitto_pub/sub or kcat, for nbmq.
 *
 *	nbmqcat -b 127.0.0.1:7000 -r			print messages
 *	echo hello | nbmqcat -c 127.0.0.1:7000		send one
 *
 * Built on the public libnbmq API (nbmq.h) only.
 */

#include <sys/stat.h>

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
	    "usage: " PROG " [-0efqrx] [-d sep] [-n count] [-S path] "
	    "[-t type] [-w seconds]\n"
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
	    "  -b addr     bind to host:port (port 0: any; printed on stderr)\n"
	    "  -c addr     connect to host:port\n"
	    "  -a name     attach to the socket configured in the daemon as "
	    "name\n"
	    "  -r          receive and print messages instead of sending\n"
	    "  -n count    stop after count messages (receive: exit 1 if fewer "
	    "arrive within -w)\n"
	    "  -w seconds  send: longest wait for a peer or for room; receive: "
	    "total run time\n"
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
	    "  -V          print the version and exit (also --version)\n"
	    "  -h          print this help and exit (also --help)\n"
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
		if (nbmq_bind(sock, baddr) == -1) {
			warnnb("cannot bind to %s", baddr);
			return -1;
		}
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
wait_peer(void)
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

/*
 * Hand one message to the daemon.  Blocks while the high-water mark is
 * reached; if the peer went away, try again until -w passes.
 */
static int
send_one(const void *buf, size_t len, long long n)
{
	int64_t deadline, left;

	deadline = wait_ms >= 0 ? now_ms() + wait_ms : -1;
	if (set_sndtimeo(wait_ms) == -1)
		return -1;
	for (;;) {
		if (nbmq_send(sock, buf, len, 0) == 0)
			return 0;
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
	if ((errno == EAGAIN || errno == EHOSTUNREACH) && wstr != NULL)
		warnnb("cannot send message %lld within %s seconds", n, wstr);
	else
		warnnb("cannot send message %lld (%zu bytes)", n, len);
	return -1;
}

/* Read a whole file ("-": stdin) into *bufp. */
static int
read_file(const char *path, char **bufp, size_t *lenp)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t r;
	struct stat st;
	int fd;

	if (strcmp(path, "-") == 0)
		fd = STDIN_FILENO;
	else if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		cap = (size_t)st.st_size + 1;	/* +1: see EOF at once */
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
	}
	if (fd != STDIN_FILENO)
		close(fd);
	*bufp = buf;
	*lenp = len;
	return 0;
fail:
	warnmsg("%s: %s", path, strerror(errno));
	if (fd != -1 && fd != STDIN_FILENO)
		close(fd);
	free(buf);
	return -1;
}

static int
send_files(char **files, int nfiles)
{
	char *buf;
	size_t len;
	long long n = 0;
	int i, fd;

	/* Complain about a missing file now, not after waiting for a peer. */
	for (i = 0; i < nfiles; i++) {
		if (strcmp(files[i], "-") == 0)
			continue;
		if ((fd = open(files[i], O_RDONLY | O_CLOEXEC)) == -1) {
			warnmsg("%s: %s", files[i], strerror(errno));
			return -1;
		}
		close(fd);
	}
	if (wait_peer() == -1)
		return -1;
	for (i = 0; i < nfiles && (count < 0 || n < count); i++) {
		if (read_file(files[i], &buf, &len) == -1)
			return -1;
		if (send_one(buf, len, ++n) == -1) {
			free(buf);
			return -1;
		}
		free(buf);
	}
	return 0;
}

static int
send_stdin(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	long long n = 0;
	int delim = zflag ? '\0' : '\n', rv = 0;

	if (wait_peer() == -1)
		return -1;
	while (count < 0 || n < count) {
		if ((len = getdelim(&line, &cap, delim, stdin)) == -1) {
			if (ferror(stdin)) {
				warnmsg("stdin: %s", strerror(errno));
				rv = -1;
			}
			break;
		}
		if (len > 0 && line[len - 1] == delim)
			len--;
		if (send_one(line, (size_t)len, ++n) == -1) {
			rv = -1;
			break;
		}
	}
	free(line);
	return rv;
}

/*
 * Receiving.
 */

static int
print_msg(const nbmq_msg *m)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;
	size_t i, j, nparts, len;

	if (eflag)
		printf("%016" PRIx64 " ", nbmq_msg_peer(m));
	nparts = nbmq_msg_parts(m);
	for (i = 0; i < nparts; i++) {
		if (i > 0)
			fwrite(sep, 1, seplen, stdout);
		if ((p = nbmq_msg_part(m, i, &len)) == NULL || len == 0)
			continue;
		if (xflag) {
			for (j = 0; j < len; j++) {
				putchar(hex[p[j] >> 4]);
				putchar(hex[p[j] & 0xf]);
			}
		} else
			fwrite(p, 1, len, stdout);
	}
	putchar(zflag ? '\0' : '\n');
	if (fflush(stdout) == EOF || ferror(stdout)) {
		/* A reader that went away (| head) is not worth a word. */
		if (errno != EPIPE && !gotsig)
			warnmsg("stdout: %s", strerror(errno));
		return -1;
	}
	return 0;
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
	if (caddr != NULL && !qflag &&
	    nbmq_setopt(sock, NBMQ_OPT_EVENTS, 1) == 0)
		events = 1;
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
				(void)nbmq_setopt(sock, NBMQ_OPT_EVENTS, 0);
			}
			nbmq_msg_free(m);
			continue;
		}
		n++;
		if (print_msg(m) == -1) {
			nbmq_msg_free(m);
			return gotsig && count < 0 ? EX_OK : EX_FAIL;
		}
		nbmq_msg_free(m);
	}
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
	int ch, nmode, rv;

	while ((ch = getopt_long(argc, argv, "0a:b:c:d:efhn:qrS:t:Vw:x",
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
		case 'n':
			count = parse_count(optarg);
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

	nmode = (baddr != NULL) + (caddr != NULL) + (aname != NULL);
	if (nmode != 1)
		usage("exactly one of -b, -c or -a is required");
	if (fflag && rflag)
		usage("-f sends files: it cannot be used with -r");
	if (fflag && argc == 0)
		usage("-f needs at least one file");
	if (!fflag && argc > 0)
		usage("unexpected argument: %s (files need -f)", argv[0]);
	if (aname == NULL && rflag && type == NBMQ_RADIO)
		usage("a radio socket cannot receive");
	if (aname == NULL && !rflag && type == NBMQ_DISH)
		usage("a dish socket cannot send (use -r)");

	setup_signals();

	if ((ctx = nbmq_ctx_new(Sflag)) == NULL) {
		warnnb("cannot create a context");
		return EX_FAIL;
	}
	if (open_socket(ctx) == -1) {
		if (sock != NULL)
			nbmq_close(sock);
		nbmq_ctx_destroy(ctx);
		return EX_FAIL;
	}

	if (rflag) {
		rv = recv_loop();
		nbmq_close(sock);
	} else {
		if (fflag)
			rv = send_files(argv, argc) == 0 ? EX_OK : EX_FAIL;
		else
			rv = send_stdin() == 0 ? EX_OK : EX_FAIL;
		/* The daemon lingers to deliver what it was handed. */
		if (nbmq_close(sock) == -1 && rv == EX_OK) {
			warnnb("cannot close the socket");
			rv = EX_FAIL;
		}
	}
	nbmq_ctx_destroy(ctx);
	return rv;
}
