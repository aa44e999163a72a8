/* SPDX-License-Identifier: ISC */
/*
 * fuzz_stun.c: libFuzzer target for the STUN side (PROTOCOL.md 4.1): the
 * codec (stun_parse, and an answer built to a parsed request must parse
 * back), a stun socket (stunsrv: Binding requests, the name index, hole
 * punching introductions) and two nbmq sockets' STUN clients (stuncli: bob
 * registers "bob", alice connects to "bob" by name), with a fake clock.
 *
 * Input: operations, each one byte (op & 7, argument op >> 3) followed by
 * what it needs:
 *   0, 1, 2  a datagram to the stun socket, bob, alice: 2-byte length,
 *            bytes; from one of the other two or from elsewhere
 *   3        clock: 1 byte (< 200: 10 ms steps; else whole seconds),
 *            then everyone's timers
 *   4        the network: what each sent reaches whom it was sent to
 *   5        codec only: 2-byte length, bytes
 * Invariants: deadlines in the future, the index within its limit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

#define MAXOUT		64
#define MAXDGRAM	600
#define MAXOPS		1000
#define INDEX_MAX	4

#define CHECK(e)	do { if (!(e)) { \
	fprintf(stderr, "fuzz_stun: invariant failed: %s (line %d)\n", \
	    #e, __LINE__); abort(); } } while (0)

struct fdgram {
	struct nbaddr	 to;
	uint32_t	 len;
	uint8_t		 buf[MAXDGRAM];
};

struct fnode {
	struct sock	 s;
	struct nbaddr	 addr;
	struct fdgram	 out[MAXOUT];
	int		 nout;
	uint64_t	 rng;
};

static struct fnode	N[3];		/* srv, bob, alice */
static struct nbaddr	elsewhere;
static nbmq_time	now;

static void
f_flush(void *arg, struct sock *s)
{
	struct fnode	*n = arg;

	for (int i = 0; i < s->ob.n; i++) {
		struct fdgram	*d;

		CHECK(s->ob.len[i] <= s->ob.slot_size);
		if (n->nout == MAXOUT || s->ob.len[i] > MAXDGRAM)
			continue;
		d = &n->out[n->nout++];
		d->to = s->ob.to[i];
		d->len = s->ob.len[i];
		memcpy(d->buf, s->ob.buf + (size_t)i * s->ob.slot_size,
		    d->len);
	}
	outbox_consume(&s->ob, s->ob.n);
}

static void
f_recv_ready(void *arg, struct sock *s)
{
}

static void
f_peer_event(void *arg, struct sock *s, struct peer *p, enum peer_event ev)
{
}

static void
f_resolve(void *arg, struct sock *s)
{
}

static uint64_t
f_random64(void *arg)
{
	struct fnode	*n = arg;

	n->rng = n->rng * 6364136223846793005ULL + 1442695040888963407ULL;
	return n->rng;
}

static const struct sock_ops f_ops = {
	.flush = f_flush,
	.recv_ready = f_recv_ready,
	.peer_event = f_peer_event,
	.resolve = f_resolve,
	.random64 = f_random64,
	.stun_resolve = f_resolve,
};

static struct nbaddr
mkaddr(const char *text)
{
	struct nbaddr	a;

	if (addr_parse(text, &a, NULL, 0, NULL) != 0)
		abort();
	return a;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(LOG_CRIT, 1);
	N[0].addr = mkaddr("203.0.113.1:3478");
	N[1].addr = mkaddr("198.51.100.2:7000");
	N[2].addr = mkaddr("[2001:db8::3]:5000");
	elsewhere = mkaddr("192.0.2.9:9");
	return 0;
}

struct in {
	const uint8_t	*p;
	size_t		 left;
};

static uint8_t
in_u8(struct in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static size_t
in_bytes(struct in *in, const uint8_t **p)
{
	size_t	len = (size_t)in_u8(in) << 8;

	len |= in_u8(in);
	if (len > in->left)
		len = in->left;
	*p = in->p;
	in->p += len;
	in->left -= len;
	return len;
}

/* The codec alone: a parsed request gets an answer that parses back. */
static void
codec(const uint8_t *buf, size_t len)
{
	struct stun_msg	 m, a;
	struct stun_out	 o;
	uint8_t		 out[STUN_MSG_MAX];
	size_t		 n;

	(void)stun_is_stun(buf, len);
	if (stun_parse(buf, len, &m) != DROP_NONE)
		return;
	CHECK(m.nunknown >= 0);
	CHECK(strlen(m.name) <= NBMQ_NAME_MAX);
	CHECK(strlen(m.target) <= NBMQ_NAME_MAX);
	/* RFC 3489 answers are written, never read: no round trip. */
	if (m.classic)
		return;
	stun_begin(&o, out, sizeof(out), STUN_BINDING_SUCCESS, &m, NULL);
	if (stun_put_addr(&o, STUN_A_XOR_MAPPED_ADDRESS, &N[1].addr, 1) != 0)
		return;
	if ((n = stun_finish(&o, m.fingerprint)) == 0)
		return;
	CHECK(stun_parse(out, n, &a) == DROP_NONE);
	CHECK(a.type == STUN_BINDING_SUCCESS);
	CHECK(a.has_mapped && addr_eq(&a.mapped, &N[1].addr));
}

static void
input(struct fnode *n, const struct nbaddr *from, const uint8_t *buf,
    size_t len)
{
	sock_input(&n->s, now, from, buf, len);
	f_flush(n, &n->s);
}

static void
timers(void)
{
	for (int i = 0; i < 3; i++) {
		nbmq_time next = sock_timers(&N[i].s, now);

		CHECK(next > now);
		f_flush(&N[i], &N[i].s);
	}
	CHECK(stunsrv_count(&N[0].s) <= INDEX_MAX);
}

static void
network(void)
{
	struct fdgram	*d;

	for (int i = 0; i < 3; i++) {
		int nout = N[i].nout;

		N[i].nout = 0;
		for (int k = 0; k < nout; k++) {
			d = &N[i].out[k];
			for (int j = 0; j < 3; j++)
				if (j != i && addr_eq(&d->to, &N[j].addr))
					input(&N[j], &N[i].addr, d->buf,
					    d->len);
		}
	}
	CHECK(stunsrv_count(&N[0].s) <= INDEX_MAX);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in	 in = { data, size };
	struct sockopts	 o;
	char		 why[128];
	const uint8_t	*p;
	size_t		 len;

	opts_defaults(&o);
	now = 1000 * NSEC;
	for (int i = 0; i < 3; i++) {
		N[i].nout = 0;
		N[i].rng = (uint64_t)i + 1;
		if (sock_init(&N[i].s, i == 0 ? NBMQ_STUN : NBMQ_DEALER, &o,
		    &f_ops, &N[i]) != 0)
			abort();
	}
	sock_set_bound(&N[0].s);
	if (stunsrv_configure(&N[0].s, NULL, INDEX_MAX, why,
	    sizeof(why)) != 0)
		abort();
	sock_set_bound(&N[1].s);
	stuncli_init(&N[1].s, "srv", &N[0].addr);
	stuncli_register(&N[1].s, "bob", now);
	stuncli_init(&N[2].s, "srv", &N[0].addr);
	stuncli_set_target(&N[2].s, "bob");
	sock_connect_name(&N[2].s, now);
	timers();

	for (int ops = 0; in.left > 0 && ops < MAXOPS; ops++) {
		uint8_t		op = in_u8(&in);
		unsigned	arg = op >> 3, k = op & 7;

		switch (k) {
		case 0:
		case 1:
		case 2: {
			const struct nbaddr *from = (arg % 3) == k ?
			    &elsewhere : &N[arg % 3].addr;

			len = in_bytes(&in, &p);
			codec(p, len);
			input(&N[k], from, p, len);
			break;
		}
		case 3: {
			uint8_t v = in_u8(&in);

			now += v < 200 ? v * 10 * MSEC : (v - 199) * NSEC;
			timers();
			break;
		}
		case 4:
			network();
			break;
		default:
			len = in_bytes(&in, &p);
			codec(p, len);
			break;
		}
	}
	for (int i = 0; i < 3; i++)
		sock_destroy(&N[i].s);
	return 0;
}
