/* SPDX-License-Identifier: ISC */
/*
 * pyperf: the C side of the Python binding's figures (tests/python_perf.py
 * does the same in Python; tests/int_python.sh runs both in one run).
 *
 *   pyperf recv ADDR N    bind, receive N 64-byte messages (or until 1 s of
 *                         silence): "recv GOT msgs/s RATE"
 *   pyperf send ADDR N    connect, send N 64-byte messages with NBMQ_BATCH
 *   pyperf echo ADDR N    bind, send N messages back to their sender
 *   pyperf ping ADDR N    connect, N blocking round trips: "rtt p50 US p99 US"
 *
 * Bound modes print "bound to ADDR" on stderr.  The daemon is $NBMQ_SOCKET.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nbmq.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "pyperf: %s: %s\n", what, nbmq_strerror(errno));
	exit(1);
}

static int
cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
main(int argc, char **argv)
{
	nbmq_ctx	*ctx;
	nbmq_socket	*s;
	nbmq_msg	*m;
	char		 buf[64], ep[128];
	long		 n, got = 0;
	double		 t0 = 0, t1 = 0;

	if (argc != 4)
		return fprintf(stderr, "usage: pyperf MODE ADDR N\n"), 2;
	n = atol(argv[3]);
	memset(buf, 'x', sizeof(buf));
	if ((ctx = nbmq_ctx_new(NULL)) == NULL ||
	    (s = nbmq_socket_new(ctx, NBMQ_DEALER)) == NULL)
		die("socket");
	nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 10000);
	if (!strcmp(argv[1], "recv") || !strcmp(argv[1], "echo")) {
		nbmq_setopt(s, NBMQ_OPT_RECV_HWM, 100000);
		if (nbmq_bind(s, argv[2]) == -1 ||
		    nbmq_last_endpoint(s, ep, sizeof(ep)) == -1)
			die("bind");
		fprintf(stderr, "bound to %s\n", ep);
	} else if (nbmq_connect(s, argv[2]) == -1)
		die("connect");

	if (!strcmp(argv[1], "recv")) {
		nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 1000);
		while (got < n) {
			if (nbmq_recv(s, &m, 0) == -1) {
				if (errno == ENOBUFS)
					continue;
				if (errno == EAGAIN && got > 0)
					break;
				if (errno == EAGAIN)
					continue;
				die("recv");
			}
			if (got++ == 0)
				t0 = now();
			t1 = now();
			nbmq_msg_free(m);
		}
		printf("recv %ld msgs/s %.0f\n", got,
		    got > 1 ? (double)(got - 1) / (t1 - t0) : 0.0);
	} else if (!strcmp(argv[1], "send")) {
		int64_t	peers = 0;

		for (int i = 0; i < 10000 && peers == 0; i++)
			if (nbmq_getopt(s, NBMQ_OPT_PEERS, &peers) == 0 &&
			    peers == 0)
				nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
		t0 = now();
		for (long i = 0; i < n; i++)
			if (nbmq_send(s, buf, sizeof(buf), NBMQ_BATCH) == -1)
				die("send");
		if (nbmq_flush(s, 0) == -1)
			die("flush");
		printf("send %ld msgs/s %.0f\n", n, (double)n / (now() - t0));
	} else if (!strcmp(argv[1], "echo")) {
		for (long i = 0; i < n; i++) {
			struct iovec	iov;

			if (nbmq_recv(s, &m, 0) == -1)
				die("recv");
			iov.iov_base = (void *)nbmq_msg_part(m, 0, &iov.iov_len);
			if (nbmq_sendv(s, &iov, 1, nbmq_msg_peer(m), 0) == -1)
				die("send");
			nbmq_msg_free(m);
		}
	} else if (!strcmp(argv[1], "ping")) {
		double	*rtt = calloc((size_t)n, sizeof(*rtt));

		nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 10000);
		for (long i = 0; i < n; i++) {
			double	t = now();

			if (nbmq_send(s, buf, sizeof(buf), 0) == -1)
				die("send");
			if (nbmq_recv(s, &m, 0) == -1)
				die("recv");
			rtt[i] = now() - t;
			nbmq_msg_free(m);
		}
		qsort(rtt, (size_t)n, sizeof(*rtt), cmp);
		printf("rtt p50 %.1f p99 %.1f\n", rtt[n / 2] * 1e6,
		    rtt[n * 99 / 100] * 1e6);
		free(rtt);
	} else
		return fprintf(stderr, "pyperf: unknown mode\n"), 2;
	nbmq_close(s);
	nbmq_ctx_destroy(ctx);
	return 0;
}
