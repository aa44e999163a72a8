/* SPDX-License-Identifier: ISC */
/*
 * floodtool: floods for tests/int_floods.sh, loopback only.
 *
 *   floodtool random [-n COUNT] [-s SEED] HOST PORT
 *       COUNT random datagrams (default 1,000,000; lengths 0..600, a third
 *       of them with NBMQ's version byte and a kind that the daemon must
 *       drop: data, Connected, Heartbeat, Ack, unknown, encrypted; so that
 *       every parser path sees traffic) from one socket, with sendmmsg
 *   floodtool connects [-n COUNT] [-p SOCKETS] HOST PORT
 *       COUNT Connect frames, each from another source port (127.0.0.2,
 *       12,000 ports from 20000, in turn): SOCKETS sockets (default 500)
 *       open at a time, one Connect each, then all are closed and the next
 *       batch opens
 *   floodtool clients -n COUNT
 *       try COUNT nbmq_socket_new() at once ($NBMQ_SOCKET); print
 *       "opened K refused R other O" (R: failed with EUSERS), close all
 *   floodtool noread -b ADDR [-H RECV_HWM]
 *       a dealer bound to ADDR that never reads (until killed)
 *   floodtool send -c ADDR -n COUNT [-z SIZE] [-e] [-P]
 *       COUNT messages of SIZE bytes (default 1000), blocking sends;
 *       -e: a send still refused after 2 s (EAGAIN: the receiver's window
 *       is closed) ends the run, "pushed back after N"; -P: pacing = no
 *       (no Slow, no window: the receiver can only drop)
 *   floodtool hsconnects [-n COUNT] [-z SIZE] [-k KEY] [-r RATE] HOST PORT
 *       COUNT encrypted Connects (kind 0x81) of SIZE random bytes (default
 *       124, the size of sodium's), from one socket, with sendmmsg; with
 *       -k (the responder's public key, base64) each ends with a valid
 *       mac1: what a flooder that knows the key sends, past mac1; -r:
 *       at most RATE a second (also for random)
 *   floodtool rtt -a NAME [-n COUNT] [-z SIZE]
 *       attach the configured socket NAME ($NBMQ_SOCKET), whose peer
 *       echoes, and time COUNT round trips (default 1000) of SIZE bytes
 *       (default 64), one at a time; print "rtt p50 P50 p90 P90 max MAX
 *       n COUNT" in microseconds
 *   floodtool claims [-n MESSAGES] [-p CHUNKS] HOST PORT
 *       a session (Connect, Connected, Heartbeat), then MESSAGES messages
 *       each claiming 16 MiB, sent as CHUNKS one-byte chunks 4 KiB apart,
 *       interleaved (chunk i of every message, then chunk i + 1), so that
 *       all stay incomplete; prints the bytes sent
 *
 * Exit 0 on success, 1 on error, 2 on usage.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "nbmq.h"

#define BATCH	64
#define MAXLEN	600

static uint64_t	rng = 0x9e3779b97f4a7c15ULL;

static uint64_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: floodtool random [-n count] [-s seed] host port\n"
	    "       floodtool connects [-n count] [-p sockets] host port\n"
	    "       floodtool clients -n count\n"
	    "       floodtool noread -b addr [-H recv_hwm]\n"
	    "       floodtool send -c addr -n count [-z size] [-e] [-P]\n"
	    "       floodtool claims [-n messages] [-p chunks] host port\n"
	    "       floodtool hsconnects [-n count] [-z size] [-k key] "
	    "[-r rate] host port\n"
	    "       floodtool rtt -a name [-n count] [-z size]\n");
	return 2;
}

static int	hsconnects;	/* floodtool hsconnects */
static int	hsmac1;		/* with a valid mac1 (-k) */
static long	rate;		/* datagrams a second at most (-r); 0 any */

/* -r: wait until `sent` datagrams are due since t0 (absolute deadlines:
 * no drift). */
static void
pace(const struct timespec *t0, long sent)
{
	struct timespec	t = *t0;
	long long	ns;

	if (rate <= 0)
		return;
	ns = (long long)sent * 1000000000LL / rate + t0->tv_nsec;
	t.tv_sec += (time_t)(ns / 1000000000LL);
	t.tv_nsec = (long)(ns % 1000000000LL);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) ==
	    EINTR)
		;
}
static uint8_t	mac1_key[32];	/* BLAKE2b-256("mac1----" || key) */
static size_t	hssize = 124;	/* its handshake bytes (-z) */

static int
flood_random(const struct sockaddr_in *to, long count)
{
	static uint8_t	 bufs[BATCH][MAXLEN];
	struct mmsghdr	 mm[BATCH];
	struct iovec	 iov[BATCH];
	long		 sent = 0;
	int		 fd;
	struct timespec	 t0;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1) {
		perror("socket");
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < count) {
		int n = count - sent < BATCH ? (int)(count - sent) : BATCH;

		pace(&t0, sent);

		for (int i = 0; i < n; i++) {
			size_t len = rnd() % (MAXLEN + 1);

			for (size_t j = 0; j < len; j += 8) {
				uint64_t v = rnd();

				memcpy(bufs[i] + j, &v, len - j < 8 ? len - j :
				    8);
			}
			if (len >= 2 && rnd() % 3 == 0) {
				/* Never Connect (1) nor Disconnected (3):
				 * everything else must be dropped. */
				static const uint8_t kinds[] = { 0, 2, 4, 5,
				    6, 0x80 };

				bufs[i][0] = 0x01;
				bufs[i][1] = kinds[rnd() % sizeof(kinds)];
			}
			if (len >= 2 && bufs[i][0] == 0x01 &&
			    (bufs[i][1] == 1 || bufs[i][1] == 3))
				bufs[i][1] = 4;
			if (hsconnects) {
				/* An encrypted Connect of garbage, the
				 * size of sodium's. */
				len = 10 + hssize;
				bufs[i][0] = 0x01;
				bufs[i][1] = 0x81;
				memset(bufs[i] + 2, 0, 8);
				if (hsmac1 && hssize == 124)
					crypto_generichash(bufs[i] + 118, 16,
					    bufs[i], 118, mac1_key, 32);
			}
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = len;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_name = (void *)to;
			mm[i].msg_hdr.msg_namelen = sizeof(*to);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = sendmmsg(fd, mm, (unsigned)n, 0);
		if (n == -1) {
			if (errno == EINTR || errno == ENOBUFS ||
			    errno == EAGAIN || errno == ECONNREFUSED)
				continue;
			perror("sendmmsg");
			close(fd);
			return 1;
		}
		sent += n;
	}
	close(fd);
	printf("ok %ld %s sent\n", sent, hsconnects ?
	    "encrypted Connects of garbage" : "random datagrams");
	return 0;
}

/*
 * Each Connect from its own source port: 127.0.0.2, ports FLOOD_PORT0 and
 * up, below the kernel's ephemeral range, so that what the daemon sends
 * back to these "peers" (Connected, heartbeats) never reaches a socket of
 * another test running at the same time.
 */
#define FLOOD_ADDR	"127.0.0.2"
#define FLOOD_PORT0	20000
#define FLOOD_PORTS	12000

static int
flood_connects(const struct sockaddr_in *to, long count, int nsock)
{
	static const uint8_t connect_frame[10] = { 0x01, 0x01 };
	struct sockaddr_in	 src;
	int			*fds, port = 0;
	long			 sent = 0, busy = 0;

	if ((fds = calloc((size_t)nsock, sizeof(int))) == NULL)
		return 1;
	memset(&src, 0, sizeof(src));
	src.sin_family = AF_INET;
	inet_pton(AF_INET, FLOOD_ADDR, &src.sin_addr);
	while (sent < count) {
		int n = count - sent < nsock ? (int)(count - sent) : nsock;

		for (int i = 0; i < n; i++) {
			if ((fds[i] = socket(AF_INET, SOCK_DGRAM, 0)) == -1) {
				perror("socket");
				return 1;
			}
			src.sin_port = htons((uint16_t)(FLOOD_PORT0 + port));
			port = (port + 1) % FLOOD_PORTS;
			if (bind(fds[i], (struct sockaddr *)&src,
			    sizeof(src)) == -1) {
				busy++;	/* another flood has it: skip */
				continue;
			}
			if (sendto(fds[i], connect_frame, sizeof(connect_frame),
			    0, (const struct sockaddr *)to, sizeof(*to)) ==
			    (ssize_t)sizeof(connect_frame))
				sent++;
		}
		for (int i = 0; i < n; i++)
			close(fds[i]);
		if (busy > count) {
			fprintf(stderr, "floodtool: no free source port\n");
			return 1;
		}
	}
	free(fds);
	printf("ok %ld Connects sent from %d ports of %s\n", sent,
	    FLOOD_PORTS, FLOOD_ADDR);
	return 0;
}

static void
put64be(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
}

static void
put32be(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (24 - 8 * i));
}

static int
flood_claims(const struct sockaddr_in *to, long nmsg, int chunks)
{
	static const uint8_t	 connect_frame[10] = { 0x01, 0x01 };
	uint8_t			 buf[BATCH][35], in[64];
	struct mmsghdr		 mm[BATCH];
	struct iovec		 iov[BATCH];
	struct timeval		 tv = { 5, 0 };
	uint64_t		 session = 0, sent = 0;
	ssize_t			 n;
	int			 fd, k = 0;

	if ((fd = socket(AF_INET, SOCK_DGRAM, 0)) == -1 ||
	    connect(fd, (const struct sockaddr *)to, sizeof(*to)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == -1) {
		perror("floodtool: socket");
		return 1;
	}
	send(fd, connect_frame, sizeof(connect_frame), 0);
	while ((n = recv(fd, in, sizeof(in), 0)) >= 10)
		if (in[0] == 0x01 && in[1] == 0x02) {	/* Connected */
			for (int i = 0; i < 8; i++)
				session = session << 8 | in[2 + i];
			break;
		}
	if (session == 0) {
		fprintf(stderr, "floodtool: no Connected\n");
		return 1;
	}
	memset(buf, 0, sizeof(buf));
	buf[0][0] = 0x01;
	buf[0][1] = 0x04;				/* Heartbeat */
	put64be(buf[0] + 2, session);
	send(fd, buf[0], 10, 0);
	memset(mm, 0, sizeof(mm));
	for (int c = 0; c < chunks; c++)
		for (long m = 0; m < nmsg; m++) {
			uint8_t *b = buf[k];

			b[0] = 0x01;
			b[1] = 0x00;			/* Data */
			put64be(b + 2, session);
			put64be(b + 10, 0x1000 + (uint64_t)m);	/* message */
			b[18] = 1;			/* part_count */
			b[19] = 0;			/* part_index */
			put32be(b + 20, 16U << 20);	/* message_size */
			put32be(b + 24, 16U << 20);	/* part_size */
			b[28] = 0;
			b[29] = 1;			/* chunk_size */
			put32be(b + 30, 1 + (uint32_t)c * 4096);
			b[34] = (uint8_t)c;
			iov[k].iov_base = b;
			iov[k].iov_len = 35;
			mm[k].msg_hdr.msg_iov = &iov[k];
			mm[k].msg_hdr.msg_iovlen = 1;
			if (++k == BATCH) {
				if (sendmmsg(fd, mm, BATCH, 0) != BATCH) {
					perror("floodtool: sendmmsg");
					return 1;
				}
				sent += BATCH * 35;
				k = 0;
			}
		}
	if (k > 0 && sendmmsg(fd, mm, (unsigned int)k, 0) == k)
		sent += (uint64_t)k * 35;
	close(fd);
	printf("ok %llu bytes of claims sent\n", (unsigned long long)sent);
	return 0;
}

static int
flood_clients(long count)
{
	nbmq_ctx	 *ctx = nbmq_ctx_new(NULL);
	nbmq_socket	**s;
	long		  opened = 0, refused = 0, other = 0;
	int		  first_other = 0;

	if (ctx == NULL || (s = calloc((size_t)count, sizeof(*s))) == NULL)
		return 1;
	for (long i = 0; i < count; i++) {
		if ((s[i] = nbmq_socket_new(ctx, NBMQ_DEALER)) != NULL)
			opened++;
		else if (errno == EUSERS)
			refused++;
		else if (other++ == 0)
			first_other = errno;
	}
	printf("opened %ld refused %ld other %ld", opened, refused, other);
	if (other > 0)
		printf(" (%s)", nbmq_strerror(first_other));
	printf("\n");
	for (long i = 0; i < count; i++)
		if (s[i] != NULL)
			nbmq_close(s[i]);
	free(s);
	nbmq_ctx_destroy(ctx);
	return 0;
}

static int
noread(const char *addr, int64_t hwm)
{
	nbmq_ctx	*ctx = nbmq_ctx_new(NULL);
	nbmq_socket	*s;
	char		 ep[128];

	if (ctx == NULL || (s = nbmq_socket_new(ctx, NBMQ_DEALER)) == NULL) {
		fprintf(stderr, "floodtool: socket: %s\n",
		    nbmq_strerror(errno));
		return 1;
	}
	if ((hwm > 0 && nbmq_setopt(s, NBMQ_OPT_RECV_HWM, hwm) == -1) ||
	    nbmq_bind(s, addr) == -1) {
		fprintf(stderr, "floodtool: bind: %s\n", nbmq_strerror(errno));
		return 1;
	}
	nbmq_last_endpoint(s, ep, sizeof(ep));
	fprintf(stderr, "floodtool: bound to %s\n", ep);
	for (;;)
		pause();	/* never reads */
}

static int	send_eagain_ends, send_nopace;

static int
send_msgs(const char *addr, long count, size_t size)
{
	nbmq_ctx	*ctx = nbmq_ctx_new(NULL);
	nbmq_socket	*s = NULL;
	char		*buf = NULL;
	long		 sent = 0;
	int		 rc = 1;

	/* pacing before connect: the Hello offers what the socket has then */
	if (ctx == NULL || (s = nbmq_socket_new(ctx, NBMQ_DEALER)) == NULL ||
	    (send_nopace && nbmq_setopt(s, NBMQ_OPT_PACING, 0) == -1) ||
	    nbmq_connect(s, addr) == -1 || (buf = calloc(1, size + 1)) == NULL) {
		fprintf(stderr, "floodtool: %s\n", nbmq_strerror(errno));
		goto out;
	}
	nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, send_eagain_ends ? 2000 : 10000);
	while (sent < count) {
		memcpy(buf, &sent, size < sizeof(sent) ? size : sizeof(sent));
		if (nbmq_send(s, buf, size, 0) == 0) {
			sent++;
			continue;
		}
		if (errno == EAGAIN && send_eagain_ends) {
			printf("ok pushed back after %ld messages of %zu "
			    "bytes\n", sent, size);
			rc = 0;
			goto out;
		}
		fprintf(stderr, "floodtool: send %ld: %s\n", sent,
		    nbmq_strerror(errno));
		goto out;
	}
	printf("ok %ld messages of %zu bytes sent\n", sent, size);
	rc = 0;
out:
	/* every way out frees, so ASan's leak check judges the library */
	if (s != NULL)
		nbmq_close(s);
	if (ctx != NULL)
		nbmq_ctx_destroy(ctx);
	free(buf);
	return rc;
}

static double
mono_us(void)
{
	struct timespec	t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Round trips through an echo, one at a time (flood_rtt). */
static int
rtt_loop(nbmq_socket *s, double *us, long count, char *buf, size_t size)
{
	nbmq_msg	*m;
	double		 t;

	for (long i = 0; i < count; i++) {
		memcpy(buf, &i, size < sizeof(i) ? size : sizeof(i));
		t = mono_us();
		if (nbmq_send(s, buf, size, 0) == -1 ||
		    nbmq_recv(s, &m, 0) == -1) {
			fprintf(stderr, "floodtool: rtt %ld: %s\n", i,
			    nbmq_strerror(errno));
			return -1;
		}
		us[i] = mono_us() - t;
		nbmq_msg_free(m);
	}
	return 0;
}

static int
flood_rtt(const char *name, long count, size_t size)
{
	nbmq_ctx	*ctx = nbmq_ctx_new(NULL);
	nbmq_socket	*s;
	double		*us;
	char		*buf;

	if (count < 1 || ctx == NULL || (s = nbmq_attach(ctx, name)) == NULL ||
	    (us = calloc((size_t)count, sizeof(*us))) == NULL ||
	    (buf = calloc(1, size + 8)) == NULL) {
		fprintf(stderr, "floodtool: rtt: %s\n", nbmq_strerror(errno));
		return 1;
	}
	nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 10000);
	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 10000);
	if (rtt_loop(s, us, count, buf, size) == -1)
		return 1;
	qsort(us, (size_t)count, sizeof(*us), cmp_double);
	printf("rtt p50 %.0f p90 %.0f max %.0f n %ld\n", us[count / 2],
	    us[count * 9 / 10], us[count - 1], count);
	nbmq_close(s);
	nbmq_ctx_destroy(ctx);
	free(us);
	free(buf);
	return 0;
}

/* -k: the key of mac1 for Connects to the holder of public key b64. */
static int
mac1_from(const char *b64)
{
	crypto_generichash_state	st;
	uint8_t				pub[32];
	size_t				n;

	if (sodium_init() < 0 || sodium_base642bin(pub, sizeof(pub), b64,
	    strlen(b64), "\n", &n, NULL, sodium_base64_VARIANT_ORIGINAL) !=
	    0 || n != sizeof(pub))
		return -1;
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"mac1----", 8);
	crypto_generichash_update(&st, pub, sizeof(pub));
	crypto_generichash_final(&st, mac1_key, sizeof(mac1_key));
	hsmac1 = 1;
	return 0;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in	 to;
	const char		*cmd, *bind_addr = NULL, *connect_addr = NULL;
	const char		*name = NULL;
	long			 count = 1000000;
	int64_t			 hwm = 0;
	size_t			 size = 1000;
	int			 c, nsock = 500;

	if (argc < 2)
		return usage();
	cmd = argv[1];
	optind = 2;
	while ((c = getopt(argc, argv, "a:b:c:eH:k:n:Pp:r:s:z:")) != -1) {
		switch (c) {
		case 'a':
			name = optarg;
			break;
		case 'b':
			bind_addr = optarg;
			break;
		case 'c':
			connect_addr = optarg;
			break;
		case 'H':
			hwm = strtoll(optarg, NULL, 10);
			break;
		case 'k':
			if (mac1_from(optarg) == -1)
				return usage();
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 'p':
			nsock = atoi(optarg);
			break;
		case 'r':
			rate = strtol(optarg, NULL, 10);
			break;
		case 's':
			rng = strtoull(optarg, NULL, 0) | 1;
			break;
		case 'z':
			size = strtoul(optarg, NULL, 10);
			break;
		case 'e':
			send_eagain_ends = 1;
			break;
		case 'P':
			send_nopace = 1;
			break;
		default:
			return usage();
		}
	}
	if (count < 0 || nsock < 1)
		return usage();
	if (strcmp(cmd, "clients") == 0)
		return flood_clients(count);
	if (strcmp(cmd, "noread") == 0)
		return bind_addr ? noread(bind_addr, hwm) : usage();
	if (strcmp(cmd, "rtt") == 0)
		return name ? flood_rtt(name, count == 1000000 ? 1000 : count,
		    size == 1000 ? 64 : size) : usage();
	if (strcmp(cmd, "send") == 0)
		return connect_addr ? send_msgs(connect_addr, count, size) :
		    usage();
	if (argc - optind != 2)
		return usage();
	memset(&to, 0, sizeof(to));
	to.sin_family = AF_INET;
	to.sin_port = htons((uint16_t)atoi(argv[optind + 1]));
	if (inet_pton(AF_INET, argv[optind], &to.sin_addr) != 1)
		return usage();
	if (strcmp(cmd, "random") == 0)
		return flood_random(&to, count);
	if (strcmp(cmd, "hsconnects") == 0) {
		hsconnects = 1;
		if (size + 10 <= MAXLEN && size != 1000)
			hssize = size;
		return flood_random(&to, count);
	}
	if (strcmp(cmd, "connects") == 0)
		return flood_connects(&to, count, nsock);
	if (strcmp(cmd, "claims") == 0)
		return flood_claims(&to, count, nsock);
	return usage();
}
