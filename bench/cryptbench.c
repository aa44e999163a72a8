/* SPDX-License-Identifier: ISC */
/*
 * cryptbench: what encryption costs nbmqd's core, as a ratio to plain on
 * the same run (make bench).
 *
 *   cryptbench [--secs S]
 *
 * Two sockets of the daemon's core (sock.c, session.c, safe.c, crypt.c)
 * joined by memory, no syscalls: the connecting one sends, the bound one
 * receives, every datagram built, (sealed,) (opened,) parsed and
 * reassembled exactly as nbmqd does it.  Each case runs plain and with the
 * sodium encryptor for S seconds each; the line gives both rates and
 * sodium/plain.  What it leaves out, the UDP and IPC syscalls, costs the
 * same with and without encryption: end to end the ratio is closer to 1.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "nbmqd.h"

#define QMAX		16384
#define BURST		64

struct node {
	struct sock	 s;
	struct nbaddr	 addr;
	uint64_t	 rng;
	/* what flush took: datagrams waiting to be handed over */
	uint8_t		*q;
	uint32_t	 qlen[QMAX];
	int		 nq;
};

static void
b_flush(void *arg, struct sock *s)
{
	struct node	*n = arg;

	for (int i = 0; i < s->ob.n && n->nq < QMAX; i++) {
		memcpy(n->q + (size_t)n->nq * s->ob.slot_size,
		    s->ob.buf + (size_t)i * s->ob.slot_size, s->ob.len[i]);
		n->qlen[n->nq++] = s->ob.len[i];
	}
	outbox_consume(&s->ob, s->ob.n);
}

static void
b_recv_ready(void *arg, struct sock *s)
{
}

static void
b_peer_event(void *arg, struct sock *s, struct peer *p, enum peer_event ev)
{
}

static void
b_resolve(void *arg, struct sock *s)
{
}

static uint64_t
b_random64(void *arg)
{
	struct node	*n = arg;
	uint64_t	 z = (n->rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static const struct sock_ops bench_ops = {
	.flush = b_flush,
	.recv_ready = b_recv_ready,
	.peer_event = b_peer_event,
	.resolve = b_resolve,
	.random64 = b_random64,
};

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static nbmq_time
now_ns(void)
{
	return (nbmq_time)(now_s() * 1e9);
}

static void
die(const char *what)
{
	fprintf(stderr, "cryptbench: %s\n", what);
	exit(1);
}

static struct node *
node_new(const char *addr, int type, int bound, const struct cryptconf *cc)
{
	static uint64_t	 seed = 1;
	struct node	*n = calloc(1, sizeof(*n));
	struct sockopts	 o;
	char		 why[256];

	if (n == NULL || (n->q = malloc((size_t)QMAX * 500)) == NULL)
		die("out of memory");
	opts_defaults(&o);
	o.send_hwm = o.recv_hwm = 1000000;
	o.max_tick_send = 1000000;
	if (addr_parse(addr, &n->addr, NULL, 0, NULL) != 0)
		die("address");
	n->rng = seed++ << 20;
	if (sock_init(&n->s, type, &o, &bench_ops, n) != 0)
		die("sock_init");
	if (crypt_sock_load(&n->s, cc, bound, why, sizeof(why)) != 0) {
		fprintf(stderr, "cryptbench: %s\n", why);
		exit(1);
	}
	if (bound)
		sock_set_bound(&n->s);
	return n;
}

static void
node_free(struct node *n)
{
	sock_destroy(&n->s);
	free(n->q);
	free(n);
}

/* Hand what from flushed over to `to`. */
static void
pass(struct node *from, struct node *to, nbmq_time now)
{
	int	n = from->nq;

	from->nq = 0;
	for (int i = 0; i < n; i++)
		sock_input(&to->s, now, &from->addr, from->q +
		    (size_t)i * from->s.ob.slot_size, from->qlen[i]);
	b_flush(to, &to->s);
}

/* Messages per second from c to b, messages of size bytes, for secs. */
static double
run(int type, const struct cryptconf *cb, const struct cryptconf *cc,
    uint32_t size, double secs)
{
	struct node	*b, *c;
	struct msg	*m;
	double		 t0, t;
	uint64_t	 got = 0;
	nbmq_time	 now;

	b = node_new("10.0.0.1:1000", type, 1, cb);
	c = node_new("10.0.0.2:2000", type, 0, cc);
	now = now_ns();
	sock_set_remote(&c->s, &b->addr, now);
	b_flush(c, &c->s);
	for (int i = 0; i < 4; i++) {
		pass(c, b, now);
		pass(b, c, now);
	}
	if (c->s.link != LINK_UP)
		die("no session");
	t0 = now_s();
	do {
		now = now_ns();
		for (int i = 0; i < BURST; i++) {
			if ((m = msg_new(1, size)) == NULL)
				die("out of memory");
			m->partsz[0] = size;
			memset(m->data, 0x5a, size);
			if (sock_send(&c->s, m, now, 0) != 0)
				die("send");
		}
		while (sock_tick(&c->s, now)) {
			b_flush(c, &c->s);
			pass(c, b, now);
		}
		b_flush(c, &c->s);
		pass(c, b, now);
		pass(b, c, now);	/* acks, heartbeats */
		while ((m = sock_recv(&b->s)) != NULL) {
			got += m->nparts > 0;
			msg_free(m);
		}
		t = now_s() - t0;
	} while (t < secs);
	node_free(b);
	node_free(c);
	return (double)got / t;
}

static void
key_files(const char *dir, const char *name, char *path, size_t len,
    char pub[CRYPT_KEY_B64 + 1])
{
	uint8_t	 sk[CRYPT_KEY_SIZE], pk[CRYPT_KEY_SIZE];
	char	 b64[CRYPT_KEY_B64 + 2];
	int	 fd;

	crypto_box_keypair(pk, sk);
	crypt_key_encode(pk, pub);
	crypt_key_encode(sk, b64);
	strcat(b64, "\n");
	snprintf(path, len, "%s/%s.key", dir, name);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, b64, strlen(b64)) != (ssize_t)strlen(b64))
		die("key file");
	close(fd);
}

int
main(int argc, char *argv[])
{
	static const struct {
		const char	*name;
		int		 type;
		uint32_t	 size;
	} cases[] = {
		{ "dealer 64 B", NBMQ_DEALER, 64 },
		{ "dealer 442 B (one frame)", NBMQ_DEALER, 442 },
		{ "dealer 64 KiB", NBMQ_DEALER, 65536 },
		{ "safe_dealer 442 B", NBMQ_SAFE_DEALER, 442 },
	};
	char		 dir[] = "/tmp/cryptbench.XXXXXX", kb[128], kc[128];
	char		 pb[CRYPT_KEY_B64 + 1], pc[CRYPT_KEY_B64 + 1];
	struct cryptconf plain, sb, sc;
	double		 secs = 1.0, p, s;

	if (argc == 3 && strcmp(argv[1], "--secs") == 0)
		secs = atof(argv[2]);
	else if (argc != 1) {
		fprintf(stderr, "usage: cryptbench [--secs S]\n");
		return 2;
	}
	log_init(LOG_ERR, 1);
	if (sodium_init() < 0 || mkdtemp(dir) == NULL)
		die("setup");
	key_files(dir, "b", kb, sizeof(kb), pb);
	key_files(dir, "c", kc, sizeof(kc), pc);
	memset(&plain, 0, sizeof(plain));
	memset(&sb, 0, sizeof(sb));
	sb.encryptor = "sodium";
	sb.private_key_file = kb;
	sb.peers = pc;
	sc = sb;
	sc.private_key_file = kc;
	sc.peers = pb;

	printf("encryption in nbmqd's core (no syscalls), %.1f s a case: "
	    "messages/s\n", secs);
	printf("%-26s %12s %12s %8s\n", "case", "plain", "sodium", "ratio");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		p = run(cases[i].type, &plain, &plain, cases[i].size, secs);
		s = run(cases[i].type, &sb, &sc, cases[i].size, secs);
		printf("%-26s %12.0f %12.0f %8.2f\n", cases[i].name, p, s,
		    p > 0 ? s / p : 0);
	}
	unlink(kb);
	unlink(kc);
	rmdir(dir);
	return 0;
}
