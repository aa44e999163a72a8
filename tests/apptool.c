/* SPDX-License-Identifier: ISC */
/*
 * apptool: a test application on libnbmq for the integration tests.
 *
 *   apptool [-S PATH] ping  (-b|-c ADDR) -n N [-W WINDOW] [-w SECS]
 *       send N multipart messages of mixed sizes, at most WINDOW in flight,
 *       and check that each comes back byte-exact and in order
 *       (-t safe_dealer: any socket type; -u: accept any order, but each
 *       message exactly once; -L: in order and each at most once, but a
 *       second with nothing back counts what is in flight lost)
 *   apptool [-S PATH] echo  (-b|-c ADDR) [-n N] [-t TYPE]
 *       send every message back to the peer it came from
 *   apptool [-S PATH] blast -c ADDR -n N [-t TYPE] [-B]
 *       send N messages of the ping sequence, then close (-B: every send
 *       with NBMQ_BATCH, then nbmq_flush, then idle without closing, to be
 *       killed: what arrives, nbmq_flush sent)
 *   apptool [-S PATH] collect -b ADDR -n N [-w SECS] [-t TYPE] [-O] [-R HWM]
 *       receive until N or SECS of silence; each intact and at most once
 *       (-O: and in order; -R: recv_hwm); exit 1 unless all N came with -O
 *   apptool [-S PATH] hwm   -c ADDR [-H HWM] [-s SIZE] [-B]
 *       with the daemon unable to drain fast, NBMQ_DONTWAIT sends must fail
 *       with EAGAIN after exactly HWM messages; a blocking send then succeeds
 *       (-B: the sends with NBMQ_BATCH too; with SIZE up to 4 KiB and
 *       not a safe_dealer, then 3 x HWM blocking NBMQ_BATCH sends, which
 *       must pass the window's edge, and nbmq_flush)
 *   apptool [-S PATH] idle -c ADDR -n N -s SIZE [-t TYPE]
 *       N blocking sends, then idle without closing (to be killed)
 *   apptool [-S PATH] churn -c ADDR -n N
 *       N applications killed mid-send or mid-receive, one after another
 *   apptool [-S PATH] nopeer
 *       a send on a socket with no peer fails with EHOSTUNREACH
 *   apptool [-S PATH] block (-b|-c ADDR)
 *       block in nbmq_recv; print the errno name it fails with
 *   apptool [-S PATH] spam  -c ADDR
 *       send forever (to be killed)
 *   apptool [-S PATH] events (-a NAME|-b ADDR|-c ADDR) [-w SECS] [-t TYPE]
 *       subscribe to peer events (NBMQ_OPT_EVENTS) and print one line per
 *       event or message, in the order nbmq_recv returns them, for SECS:
 *       "up ID ADDR", "down ID ADDR REASON", "address ID ADDR PREV",
 *       "hwm_reached", "hwm_cleared", "msg ID SIZE",
 *       "connect_failed ADDR REASON" (REASON: nbmq_connfail_name)
 *   apptool [-S PATH] drain (-a NAME|-b ADDR) [-w SECS] [-D USECS] [-t TYPE]
 *       receive until SECS of silence, printing each message's index as
 *       nbmq_recv hands it over ("%u" a line), USECS apart (to be killed
 *       mid-stream); each must be intact
 *   apptool [-S PATH] hwmev -c ADDR [-H HWM]
 *       like hwm, subscribed to events: EAGAIN comes with hwm_reached,
 *       and hwm_cleared follows once the queue drained
 *   apptool [-S PATH] try [-H MAXSIZE] [-b ADDR] [-n SEND] [-R RECV] [-w SECS]
 *       NAME...
 *       access control: attach each NAME in turn on one connection,
 *       printing "attach NAME ok" or "attach NAME ERRNO"; on the last
 *       socket attached, set max_message_size (-H: "setopt ok|ERRNO")
 *       and NBMQ_OPT_EVENTS ("events ok|ERRNO"), bind it to ADDR ("bind
 *       ok|ERRNO"), send SEND messages
 *       ("sent N") and receive RECV ("received N") within SECS.  Exits
 *       0 whatever the answers: the test reads them
 *
 * Prints "ok ..." and exits 0 on success; "FAIL: ..." and exits 1.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nbmq.h"

#define MAXPARTS	4
#define PAYLOAD_MAX	(80 * 1024)

static const char	*bind_addr, *connect_addr, *attach_name;
static int		 socktype = NBMQ_DEALER;
static int		 unordered;	/* ping: any order, each exactly once */
static int		 lossy;		/* ping: in order, gaps allowed */
static int64_t		 want_peers = 1;	/* blast: wait for this many */
static size_t		 hwm_size = 1 << 20;	/* hwm: message size */
static int		 batch;		/* -B: sends with NBMQ_BATCH */
static int		 ordered;	/* collect: in order, all of them */
static int64_t		 recv_hwm;	/* -R: set recv_hwm */
static uint32_t		 drain_usecs;	/* -D: drain's pause per message */

static void __attribute__((noreturn, format(printf, 1, 2)))
fail(const char *fmt, ...)
{
	va_list	ap;

	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	exit(1);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Message i: 1..4 parts of sizes that hit every chunking edge. */
static int
gen(uint32_t i, struct iovec *iov, uint8_t *buf)
{
	static const uint32_t	edges[] = { 0, 1, 465, 466, 467, 932, 933,
				    1398, 4000, 70000 };
	uint32_t		x = i * 2654435761U + 12345;
	int			nparts = 1 + (int)(x % MAXPARTS);
	size_t			off = 0;

	for (int k = 0; k < nparts; k++) {
		uint32_t sz;

		x = x * 1103515245U + 12345;
		sz = (i + (uint32_t)k) % 7 == 0 ? edges[(x >> 8) % 10] :
		    (x >> 8) % 600;
		if (k == 0 && sz < 4)
			sz = 4;
		if (off + sz > PAYLOAD_MAX)
			sz = 0;
		iov[k].iov_base = buf + off;
		iov[k].iov_len = sz;
		for (uint32_t j = 0; j < sz; j++)
			buf[off + j] = (uint8_t)(i * 31 + (uint32_t)k * 7 + j);
		if (k == 0)
			memcpy(buf + off, &i, 4);
		off += sz;
	}
	return nparts;
}

static void
check(nbmq_msg *m, uint32_t i)
{
	struct iovec	iov[MAXPARTS];
	static uint8_t	buf[PAYLOAD_MAX];
	int		n = gen(i, iov, buf);

	if (nbmq_msg_parts(m) != (size_t)n)
		fail("message %u: %zu parts, want %d", i, nbmq_msg_parts(m), n);
	for (int k = 0; k < n; k++) {
		size_t		 len;
		const void	*p = nbmq_msg_part(m, (size_t)k, &len);

		if (len != iov[k].iov_len || memcmp(p, iov[k].iov_base, len))
			fail("message %u part %d: content differs (%zu bytes, "
			    "want %zu)", i, k, len, iov[k].iov_len);
	}
}

static nbmq_socket *
open_sock(nbmq_ctx *ctx, int type)
{
	nbmq_socket	*s;
	char		 ep[256];

	if (attach_name != NULL) {
		if ((s = nbmq_attach(ctx, attach_name)) == NULL)
			fail("attach %s: %s", attach_name,
			    nbmq_strerror(errno));
		return s;
	}
	if ((s = nbmq_socket_new(ctx, type)) == NULL)
		fail("socket: %s", nbmq_strerror(errno));
	if (recv_hwm > 0 && nbmq_setopt(s, NBMQ_OPT_RECV_HWM, recv_hwm) == -1)
		fail("setopt recv_hwm: %s", nbmq_strerror(errno));
	if (bind_addr != NULL) {
		if (nbmq_bind(s, bind_addr) == -1)
			fail("bind %s: %s", bind_addr, nbmq_strerror(errno));
		nbmq_last_endpoint(s, ep, sizeof(ep));
		fprintf(stderr, "apptool: bound to %s\n", ep);
	} else if (connect_addr != NULL) {
		if (nbmq_connect(s, connect_addr) == -1)
			fail("connect %s: %s", connect_addr,
			    nbmq_strerror(errno));
	}
	return s;
}

static void
wait_peers(nbmq_socket *s, int64_t want, double secs)
{
	double	end = now() + secs;
	int64_t	peers = 0;

	while (now() < end) {
		if (nbmq_getopt(s, NBMQ_OPT_PEERS, &peers) == -1)
			fail("getopt peers: %s", nbmq_strerror(errno));
		if (peers >= want)
			return;
		usleep(5000);
	}
	fail("%lld of %lld peers within %.0f s", (long long)peers,
	    (long long)want, secs);
}

static void
wait_peer(nbmq_socket *s, double secs)
{
	wait_peers(s, 1, secs);
}

/*
 * ping -u and -L: the index a message carries, sent and not seen before,
 * its content checked; the test fails otherwise.
 */
static uint32_t
ping_index(nbmq_msg *m, uint32_t sent, uint8_t *seen)
{
	uint32_t	 i;
	size_t		 len;
	const void	*p = nbmq_msg_part(m, 0, &len);

	if (len < 4)
		fail("message without an index");
	memcpy(&i, p, 4);
	if (i >= sent)
		fail("message %u was never sent", i);
	if (seen[i]++)
		fail("message %u delivered twice", i);
	check(m, i);
	return i;
}

static int
do_ping(nbmq_ctx *ctx, uint32_t n, uint32_t window, double secs)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	uint8_t		*seen = calloc(n + 1, 1);
	static uint8_t	 buf[PAYLOAD_MAX];
	struct iovec	 iov[MAXPARTS];
	uint32_t	 sent = 0, got = 0, lost = 0, late = 0, floor = 0;
	uint32_t	 last = 0;
	uint64_t	 bytes = 0;
	double		 end = now() + secs, quiet = now() + 1;
	nbmq_msg	*m;

	wait_peer(s, secs);
	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 100);
	while (got + lost < n) {
		while (sent < n && sent - got - lost < window) {
			int np = gen(sent, iov, buf);

			if (nbmq_sendv(s, iov, np, 0, 0) == -1)
				fail("send %u: %s", sent, nbmq_strerror(errno));
			sent++;
		}
		if (nbmq_recv(s, &m, 0) == -1) {
			if (errno != EAGAIN)
				fail("recv: %s", nbmq_strerror(errno));
			if (now() > end)
				fail("timeout: %u sent, %u came back", sent,
				    got);
			/*
			 * -L: a second without a message loses what is in
			 * flight; what comes after that is late, not back.
			 */
			if (lossy && now() > quiet) {
				lost = sent - got;
				floor = sent;
				quiet = now() + 1;
			}
			continue;
		}
		quiet = now() + 1;
		if (lossy) {
			uint32_t	 i = ping_index(m, sent, seen);

			if (got + late > 0 && i < last)
				fail("message %u after %u", i, last);
			last = i;
			nbmq_msg_free(m);
			if (i < floor) {
				late++;
				continue;
			}
			got++;
			continue;
		}
		if (unordered)
			(void)ping_index(m, sent, seen);
		else
			check(m, got);
		bytes += nbmq_msg_size(m);
		nbmq_msg_free(m);
		got++;
	}
	if (nbmq_close(s) == -1)
		fail("close: %s", nbmq_strerror(errno));
	if (lossy) {
		if (got == 0)
			fail("none of %u messages came back", n);
		printf("ok %u messages: %u back byte-exact, in order, each "
		    "once; %u lost (%u of them late)\n", n, got, lost, late);
	} else
		printf("ok %u messages, %llu bytes back byte-exact%s\n", n,
		    (unsigned long long)bytes, unordered ? ", each once" : "");
	free(seen);
	return 0;
}

/*
 * Print the index of every message as it is handed over, slowly enough to
 * be killed in the middle of a stream; until `secs` of silence.
 */
static int
do_drain(nbmq_ctx *ctx, double secs, uint32_t usecs)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	uint32_t	 got = 0, i;
	nbmq_msg	*m;

	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, (int64_t)(secs * 1000));
	fprintf(stderr, "apptool: drain ready\n");
	for (;;) {
		size_t		 len;
		const void	*p;

		if (nbmq_recv(s, &m, 0) == -1) {
			if (errno == EAGAIN)
				break;
			if (errno == ENOBUFS)
				continue;
			fail("recv: %s", nbmq_strerror(errno));
		}
		/* Printed first: a kill between the two is unlikely. */
		p = nbmq_msg_part(m, 0, &len);
		if (len < 4)
			fail("message without an index");
		memcpy(&i, p, 4);
		printf("%u\n", i);
		check(m, i);
		nbmq_msg_free(m);
		got++;
		if (usecs > 0)
			usleep(usecs);
	}
	nbmq_close(s);
	fprintf(stderr, "apptool: drain: %u messages\n", got);
	return 0;
}

/*
 * Send N messages (blocking), close: the daemon lingers to deliver.  -B:
 * a burst of NBMQ_BATCH sends, then nbmq_flush, then idle until killed.
 */
static int
do_blast(nbmq_ctx *ctx, uint32_t n)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	static uint8_t	 buf[PAYLOAD_MAX];
	struct iovec	 iov[MAXPARTS];

	wait_peers(s, want_peers, 10);
	if (batch)
		nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 30000);
	for (uint32_t i = 0; i < n; i++) {
		int np = gen(i, iov, buf);

		if (nbmq_sendv(s, iov, np, 0, batch ? NBMQ_BATCH : 0) == -1)
			fail("send %u: %s", i, nbmq_strerror(errno));
		if (!batch && i % 16 == 15)
			usleep(2000);	/* let the relay keep up */
	}
	if (batch) {
		if (nbmq_flush(s, 0) == -1)
			fail("flush: %s", nbmq_strerror(errno));
		printf("ok sent %u with NBMQ_BATCH, flushed\n", n);
		fflush(stdout);
		pause();
	}
	nbmq_close(s);
	printf("ok sent %u\n", n);
	return 0;
}

/*
 * Receive until N messages or `secs` of silence: every message must be
 * intact and arrive at most once; fire and forget may lose some.
 */
static int
do_collect(nbmq_ctx *ctx, uint32_t n, double secs)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	uint8_t		*seen = calloc(n + 1, 1);
	uint32_t	 got = 0, i;
	nbmq_msg	*m;

	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, (int64_t)(secs * 1000));
	printf("ready\n");
	while (got < n) {
		size_t		 len;
		const void	*p;

		if (nbmq_recv(s, &m, 0) == -1) {
			if (errno == EAGAIN)
				break;
			fail("recv: %s", nbmq_strerror(errno));
		}
		p = nbmq_msg_part(m, 0, &len);
		if (len < 4)
			fail("message without an index");
		memcpy(&i, p, 4);
		if (i >= n)
			fail("message %u was never sent", i);
		if (seen[i]++)
			fail("message %u delivered twice", i);
		if (ordered && i != got)
			fail("message %u arrived as number %u", i, got);
		check(m, i);
		nbmq_msg_free(m);
		got++;
	}
	nbmq_close(s);
	free(seen);
	if (ordered && got != n)
		fail("%u of %u arrived (in order, intact)", got, n);
	printf("ok %u of %u arrived, every one intact and once%s\n", got, n,
	    ordered ? ", in order" : "");
	return got > 0 ? 0 : 1;
}

static int
do_echo(nbmq_ctx *ctx, uint32_t n)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	struct iovec	 iov[256];
	nbmq_msg	*m;
	uint32_t	 count = 0;

	while (n == 0 || count < n) {
		size_t	np;

		if (nbmq_recv(s, &m, 0) == -1) {
			if (errno == ENOBUFS)	/* flooded: some were dropped */
				continue;
			fail("recv: %s", nbmq_strerror(errno));
		}
		np = nbmq_msg_parts(m);
		for (size_t k = 0; k < np; k++)
			iov[k].iov_base = (void *)nbmq_msg_part(m, k,
			    &iov[k].iov_len);
		/* A peer that left meanwhile cannot be answered: fine. */
		if (nbmq_sendv(s, iov, (int)np, nbmq_msg_peer(m), 0) == -1 &&
		    errno != EHOSTUNREACH)
			fail("echo send: %s", nbmq_strerror(errno));
		nbmq_msg_free(m);
		count++;
	}
	nbmq_close(s);
	printf("ok echoed %u\n", count);
	return 0;
}

static int
do_hwm(nbmq_ctx *ctx, int64_t hwm)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	static uint8_t	 big[1 << 20];
	int		 n = 0;

	/*
	 * One frame per tick: 1 MiB needs 2,250 ticks to leave.  A
	 * safe_dealer whose peer never acks holds every message anyway.
	 */
	if (nbmq_setopt(s, NBMQ_OPT_SEND_HWM, hwm) == -1 ||
	    nbmq_setopt(s, NBMQ_OPT_MAX_TICK_SEND, 1) == -1)
		fail("setopt: %s", nbmq_strerror(errno));
	wait_peers(s, want_peers, 10);
	for (;;) {
		if (nbmq_send(s, big, hwm_size, NBMQ_DONTWAIT |
		    (batch ? NBMQ_BATCH : 0)) == -1) {
			if (errno != EAGAIN)
				fail("send: %s, want EAGAIN",
				    nbmq_strerror(errno));
			break;
		}
		if (++n > hwm * 4)
			fail("%d sends accepted with send_hwm %lld", n,
			    (long long)hwm);
	}
	/*
	 * Never before send_hwm.  A safe_dealer whose peer never acks holds
	 * every message, so exactly at it; a dealer's or radio's message
	 * that has left gives its room back, which the library rightly
	 * takes: after a stall of 5 ms or more between two sends (a busy
	 * machine), a few more are accepted.  The exact count against a
	 * daemon that holds still is test_lib's (test_window_dontwait).
	 */
	if (n < hwm || (socktype == NBMQ_SAFE_DEALER && n != hwm) ||
	    n > 2 * hwm)
		fail("EAGAIN after %d sends, want %lld%s", n, (long long)hwm,
		    socktype == NBMQ_SAFE_DEALER ? "" : " (or a few more)");
	nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 30000);
	if (socktype == NBMQ_SAFE_DEALER) {
		/*
		 * Never acked: after safe_resend_limit resends each message
		 * is given up, counted, and its room comes back.
		 */
		int64_t	giveups = 0;
		double	end = now() + 30;

		while (giveups < n && now() < end) {
			if (nbmq_getopt(s, NBMQ_OPT_GIVEUPS, &giveups) == -1)
				fail("getopt giveups: %s", nbmq_strerror(errno));
			usleep(20000);
		}
		if (giveups != n)
			fail("%lld messages given up, want %d",
			    (long long)giveups, n);
	}
	if (nbmq_send(s, big, 100, 0) == -1)
		fail("blocking send after EAGAIN: %s", nbmq_strerror(errno));
	/*
	 * Held messages count against the window, and the daemon grants room
	 * only for those it has: a blocking send at the window's edge must
	 * send them before it waits, or it waits for nothing.
	 */
	if (batch && hwm_size <= 4096 && socktype != NBMQ_SAFE_DEALER) {
		for (int64_t k = 0; k < 3 * hwm; k++)
			if (nbmq_send(s, big, hwm_size, NBMQ_BATCH) == -1)
				fail("blocking NBMQ_BATCH send %lld: %s",
				    (long long)k, nbmq_strerror(errno));
		if (nbmq_flush(s, 0) == -1)
			fail("flush: %s", nbmq_strerror(errno));
	}
	nbmq_close(s);
	printf("ok EAGAIN after %d %ssends of %zu B at send_hwm %lld%s\n", n,
	    batch ? "NBMQ_BATCH|NBMQ_DONTWAIT " : "", hwm_size,
	    (long long)hwm, socktype == NBMQ_SAFE_DEALER ?
	    ", each then given up and counted" : batch && hwm_size <= 4096 ?
	    "; blocking NBMQ_BATCH sends past the edge" : "");
	return 0;
}

/*
 * Blocking sends of N messages of -s bytes, then idle without closing:
 * every message must reach the daemon although the application never
 * calls the library again (nothing may wait in the library's buffer).
 */
static int
do_idle(nbmq_ctx *ctx, uint32_t n)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	static uint8_t	 big[1 << 20];

	wait_peer(s, 10);
	for (uint32_t i = 0; i < n; i++)
		if (nbmq_send(s, big, hwm_size, 0) == -1)
			fail("send %u: %s", i, nbmq_strerror(errno));
	printf("sent %u, now idle\n", n);
	fflush(stdout);
	pause();
	return 0;
}

/*
 * N cycles of an application killed (SIGKILL) mid-send (odd cycles) or
 * blocked mid-receive (even ones), right after it said it was ready.
 */
static int
do_churn(const char *path, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int	 fds[2];
		pid_t	 pid;
		char	 c;

		if (pipe(fds) == -1 || (pid = fork()) == -1)
			fail("fork: %s", strerror(errno));
		if (pid == 0) {
			nbmq_ctx	*ctx = nbmq_ctx_new(path);
			nbmq_socket	*s = open_sock(ctx, NBMQ_DEALER);
			nbmq_msg	*m;
			char		 buf[300] = { 0 };

			close(fds[0]);
			if (i % 2)
				for (int k = 0; k < 20; k++)
					nbmq_send(s, buf, sizeof(buf),
					    NBMQ_DONTWAIT);
			if (write(fds[1], "r", 1) != 1)
				_exit(1);
			if (i % 2)
				for (;;)
					nbmq_send(s, buf, sizeof(buf), 0);
			for (;;)
				if (nbmq_recv(s, &m, 0) == 0)
					nbmq_msg_free(m);
		}
		close(fds[1]);
		if (read(fds[0], &c, 1) != 1)
			fail("cycle %u: the child died before it was ready", i);
		close(fds[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	printf("ok %u applications killed mid-send or mid-receive\n", n);
	return 0;
}

static int
do_nopeer(nbmq_ctx *ctx)
{
	nbmq_socket	*s = open_sock(ctx, NBMQ_DEALER);

	if (nbmq_send(s, "x", 1, NBMQ_DONTWAIT) != -1 || errno != EHOSTUNREACH)
		fail("send without peer: %s, want EHOSTUNREACH",
		    nbmq_strerror(errno));
	nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 50);
	if (nbmq_send(s, "x", 1, 0) != -1 || errno != EHOSTUNREACH)
		fail("blocking send without peer: %s, want EHOSTUNREACH",
		    nbmq_strerror(errno));
	nbmq_close(s);
	printf("ok EHOSTUNREACH without a peer\n");
	return 0;
}

static int
do_block(nbmq_ctx *ctx)
{
	nbmq_socket	*s = open_sock(ctx, NBMQ_DEALER);
	nbmq_msg	*m;

	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (nbmq_recv(s, &m, 0) == -1) {
			int e = errno;

			printf("%s\n", e == ECONNRESET ? "ECONNRESET" :
			    e == ENOTCONN ? "ENOTCONN" : strerror(e));
			if (nbmq_close(s) != -1)
				fail("close succeeded on a dead daemon");
			return e == ECONNRESET || e == ENOTCONN ? 0 : 1;
		}
		nbmq_msg_free(m);
	}
}

static int
do_spam(nbmq_ctx *ctx)
{
	nbmq_socket	*s = open_sock(ctx, NBMQ_DEALER);
	char		 buf[1000] = { 0 };

	wait_peer(s, 10);
	printf("ready\n");
	fflush(stdout);
	for (;;)
		if (nbmq_send(s, buf, sizeof(buf), 0) == -1 &&
		    errno != EAGAIN)
			fail("spam: %s", nbmq_strerror(errno));
}

/* One line for a message or an event; 1 if it was an event. */
static int
print_msg(nbmq_msg *m)
{
	struct nbmq_event	ev;

	if (!nbmq_msg_event(m, &ev)) {
		printf("msg %016llx %zu\n",
		    (unsigned long long)nbmq_msg_peer(m), nbmq_msg_size(m));
		return 0;
	}
	if (nbmq_msg_parts(m) != 0 || nbmq_msg_peer(m) != ev.peer)
		fail("event with %zu parts, peer %llx", nbmq_msg_parts(m),
		    (unsigned long long)nbmq_msg_peer(m));
	printf("%s", nbmq_event_name(ev.type));
	if (ev.type == NBMQ_EVENT_CONNECT_FAILED) {
		if (ev.peer != 0)
			fail("connect_failed with peer %llx",
			    (unsigned long long)ev.peer);
		printf(" %s %s\n", ev.addr, nbmq_connfail_name(ev.reason));
		return 1;
	}
	if (ev.type != NBMQ_EVENT_HWM_REACHED &&
	    ev.type != NBMQ_EVENT_HWM_CLEARED)
		printf(" %016llx %s", (unsigned long long)ev.peer, ev.addr);
	if (ev.type == NBMQ_EVENT_DOWN)
		printf(" %s", nbmq_down_reason_name(ev.reason));
	if (ev.type == NBMQ_EVENT_ADDRESS)
		printf(" %s", ev.prev_addr);
	printf("\n");
	return 1;
}

static int
do_events(nbmq_ctx *ctx, double secs)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	double		 end = now() + secs;
	int64_t		 on = 0;
	nbmq_msg	*m;

	if (nbmq_setopt(s, NBMQ_OPT_EVENTS, 1) == -1 ||
	    nbmq_getopt(s, NBMQ_OPT_EVENTS, &on) == -1 || on != 1)
		fail("subscribe: %s", nbmq_strerror(errno));
	if (nbmq_setopt(s, NBMQ_OPT_EVENTS, 2) != -1 || errno != EINVAL)
		fail("NBMQ_OPT_EVENTS 2 accepted");
	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 100);
	printf("ready\n");
	while (now() < end) {
		if (nbmq_recv(s, &m, 0) == -1) {
			if (errno == EAGAIN || errno == ENOBUFS)
				continue;
			fail("recv: %s", nbmq_strerror(errno));
		}
		print_msg(m);
		nbmq_msg_free(m);
	}
	nbmq_close(s);
	return 0;
}

/* The next event, skipping nothing: every message here is one. */
static int
next_event(nbmq_socket *s, double secs)
{
	struct nbmq_event	 ev;
	nbmq_msg		*m;
	double			 end = now() + secs;

	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 100);
	while (now() < end) {
		if (nbmq_recv(s, &m, 0) == -1) {
			if (errno == EAGAIN)
				continue;
			fail("recv: %s", nbmq_strerror(errno));
		}
		if (!nbmq_msg_event(m, &ev))
			fail("a message on a socket that receives none");
		nbmq_msg_free(m);
		return ev.type;
	}
	fail("no event within %.0f s", secs);
}

static int
do_hwmev(nbmq_ctx *ctx, int64_t hwm)
{
	nbmq_socket	*s = open_sock(ctx, socktype);
	static uint8_t	 big[256 << 10];
	int		 n = 0, t;

	if (nbmq_setopt(s, NBMQ_OPT_SEND_HWM, hwm) == -1 ||
	    nbmq_setopt(s, NBMQ_OPT_MAX_TICK_SEND, 1) == -1)
		fail("setopt: %s", nbmq_strerror(errno));
	wait_peer(s, 10);
	if (nbmq_setopt(s, NBMQ_OPT_EVENTS, 1) == -1)
		fail("subscribe: %s", nbmq_strerror(errno));
	if ((t = next_event(s, 10)) != NBMQ_EVENT_UP)
		fail("first event %s, want up", nbmq_event_name(t));
	while (nbmq_send(s, big, sizeof(big), NBMQ_DONTWAIT) == 0)
		if (++n > hwm * 4)
			fail("%d sends accepted with send_hwm %lld", n,
			    (long long)hwm);
	if (errno != EAGAIN)
		fail("send: %s, want EAGAIN", nbmq_strerror(errno));
	fprintf(stderr, "apptool: hwmev: EAGAIN after %d sends\n", n);
	if ((t = next_event(s, 10)) != NBMQ_EVENT_HWM_REACHED)
		fail("event %s, want hwm_reached", nbmq_event_name(t));
	if ((t = next_event(s, 30)) != NBMQ_EVENT_HWM_CLEARED)
		fail("event %s, want hwm_cleared", nbmq_event_name(t));
	if (nbmq_send(s, big, 100, NBMQ_DONTWAIT) == -1)
		fail("send after hwm_cleared: %s", nbmq_strerror(errno));
	nbmq_close(s);
	printf("ok EAGAIN after %d sends with hwm_reached, then hwm_cleared\n",
	    n);
	return 0;
}

static const char *
errname(int e)
{
	const char	*n = strerrorname_np(e);

	return n != NULL ? n : "?";
}

static int
do_try(nbmq_ctx *ctx, int argc, char *argv[], int64_t maxsize, uint32_t nsend,
    uint32_t nrecv, double secs)
{
	nbmq_socket	*s = NULL, *x;
	nbmq_msg	*m;
	uint32_t	 sent = 0, got = 0;
	double		 end;

	for (int i = 0; i < argc; i++) {
		if ((x = nbmq_attach(ctx, argv[i])) == NULL) {
			printf("attach %s %s\n", argv[i], errname(errno));
			continue;
		}
		printf("attach %s ok\n", argv[i]);
		if (s != NULL)
			nbmq_close(s);
		s = x;
	}
	if (s == NULL)
		return 0;
	if (maxsize > 0)
		printf("setopt %s\n", nbmq_setopt(s, NBMQ_OPT_MAX_MESSAGE_SIZE,
		    maxsize) == 0 ? "ok" : errname(errno));
	printf("events %s\n", nbmq_setopt(s, NBMQ_OPT_EVENTS, 0) == 0 ? "ok" :
	    errname(errno));
	if (bind_addr != NULL)
		printf("bind %s\n", nbmq_bind(s, bind_addr) == 0 ? "ok" :
		    errname(errno));
	end = now() + secs;
	while (sent < nsend && now() < end) {
		if (nbmq_send(s, "hello", 5, NBMQ_DONTWAIT) == 0)
			sent++;
		else if (errno == EAGAIN || errno == EHOSTUNREACH)
			usleep(20000);
		else
			fail("send: %s", nbmq_strerror(errno));
	}
	if (nsend > 0) {
		nbmq_flush(s, 0);
		printf("sent %u\n", sent);
	}
	while (got < nrecv && now() < end) {
		if (nbmq_recv(s, &m, NBMQ_DONTWAIT) == 0) {
			got++;
			nbmq_msg_free(m);
		} else if (errno == EAGAIN)
			usleep(20000);
		else
			fail("recv: %s", nbmq_strerror(errno));
	}
	if (nrecv > 0)
		printf("received %u\n", got);
	nbmq_close(s);
	return 0;
}

int
main(int argc, char *argv[])
{
	const char	*path = NULL, *mode;
	uint32_t	 n = 0, window = 64, nrecv = 0;
	int64_t		 maxsize = 0;
	int64_t		 hwm = 4;
	double		 secs = 60;
	nbmq_ctx	*ctx;
	int		 ch, r;

	if (argc > 2 && strcmp(argv[1], "-S") == 0) {
		path = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: apptool [-S PATH] MODE [options]\n");
		return 2;
	}
	mode = argv[1];
	argv++;
	argc--;
	while ((ch = getopt(argc, argv, "a:b:c:D:n:W:w:H:t:uLP:s:BOR:")) != -1) {
		switch (ch) {
		case 't':
			socktype = strcmp(optarg, "safe_dealer") == 0 ?
			    NBMQ_SAFE_DEALER : strcmp(optarg, "radio") == 0 ?
			    NBMQ_RADIO : strcmp(optarg, "dish") == 0 ?
			    NBMQ_DISH : NBMQ_DEALER;
			break;
		case 'u': unordered = 1; break;
		case 'L': lossy = 1; break;
		case 'B': batch = 1; break;
		case 'O': ordered = 1; break;
		case 'R':
			recv_hwm = strtoll(optarg, NULL, 10);
			nrecv = (uint32_t)recv_hwm;
			break;
		case 'P': want_peers = strtoll(optarg, NULL, 10); break;
		case 's': hwm_size = strtoul(optarg, NULL, 10); break;
		case 'a': attach_name = optarg; break;
		case 'b': bind_addr = optarg; break;
		case 'c': connect_addr = optarg; break;
		case 'n': n = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'W': window = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'D': drain_usecs = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'w': secs = strtod(optarg, NULL); break;
		case 'H':
			hwm = maxsize = strtoll(optarg, NULL, 10);
			break;
		default: return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((ctx = nbmq_ctx_new(path)) == NULL)
		fail("ctx: %s", strerror(errno));
	if (strcmp(mode, "ping") == 0)
		r = do_ping(ctx, n, window, secs);
	else if (strcmp(mode, "blast") == 0)
		r = do_blast(ctx, n);
	else if (strcmp(mode, "collect") == 0)
		r = do_collect(ctx, n, secs);
	else if (strcmp(mode, "echo") == 0)
		r = do_echo(ctx, n);
	else if (strcmp(mode, "hwm") == 0)
		r = do_hwm(ctx, hwm);
	else if (strcmp(mode, "churn") == 0)
		r = do_churn(path, n);
	else if (strcmp(mode, "idle") == 0)
		r = do_idle(ctx, n);
	else if (strcmp(mode, "nopeer") == 0)
		r = do_nopeer(ctx);
	else if (strcmp(mode, "block") == 0)
		r = do_block(ctx);
	else if (strcmp(mode, "spam") == 0)
		r = do_spam(ctx);
	else if (strcmp(mode, "events") == 0)
		r = do_events(ctx, secs);
	else if (strcmp(mode, "drain") == 0)
		r = do_drain(ctx, secs, drain_usecs);
	else if (strcmp(mode, "hwmev") == 0)
		r = do_hwmev(ctx, hwm);
	else if (strcmp(mode, "try") == 0)
		r = do_try(ctx, argc - optind, argv + optind, maxsize, n, nrecv,
		    secs);
	else {
		fprintf(stderr, "apptool: unknown mode %s\n", mode);
		r = 2;
	}
	nbmq_ctx_destroy(ctx);
	return r;
}
