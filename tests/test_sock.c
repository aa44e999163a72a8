/*
 * test_sock.c: unit tests of sock.c and session.c, the session state
 * machine (the state table above enum link_state in nbmqd.h) and the
 * dealer's sending and receiving, with a fake clock and fake ops.
 *
 * Every socket under test is a `struct node`: a struct sock, its fake UDP
 * address, and what the fake ops recorded.  The fake flush moves the
 * outbox's datagrams into node->out (and empties the outbox, as sendmmsg
 * would); the tests read them there and hand them to another node's
 * sock_input by hand (pass), with the sender's fake address as source.
 * Time is a plain number: T0 and offsets from it.
 *
 * These sockets have coalesce = no and pacing = no: what is tested here
 * is the v0.2.0 protocol, byte for byte what a v0.2.0 peer sees.  The extension
 * (PROTOCOL.md 4.3, the default between two nbmq daemons) has its own
 * tests in tests/test_ext.c.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "nbmqd.h"

#define T0		(1000 * NSEC)
#define STUN_COOKIE	0x2112A442U
#define MAXCHUNK	(500 - FRAME_DATA_HDR_SIZE)
#define MAXEV		1024

/*
 * ck_assert for hot paths: Check's asserts cost a write(2) each even when
 * they pass, which would dominate the 10,000-message exchange.
 */
#define REQUIRE(e) do {						\
	if (!(e))						\
		ck_abort_msg("assertion failed: %s", #e);	\
} while (0)

#define B_ADDR		"10.0.0.1:1000"		/* the bound socket */
#define C_ADDR		"10.0.0.2:2000"		/* the connecting one */

struct dgram {
	struct nbaddr	 to;
	uint32_t	 len;
	uint8_t		*buf;
};

struct evrec {
	enum peer_event	 ev;
	uint64_t	 session;
	struct nbaddr	 addr, prev;
};

struct node {
	struct sock	 s;
	struct nbaddr	 addr;
	struct dgram	*out;
	size_t		 nout, capout;
	struct evrec	 ev[MAXEV];
	int		 nev;
	int		 resolves;
	int		 connect_events;	/* ops->connect_event calls */
	enum conn_reason last_reason;	/* s->conn_reason at the last */
	int		 recv_ready;
	int		 flushes;
	int		 refuse;	/* the fake kernel takes nothing */
	int		 accept;	/* > 0: it takes this many a flush */
	uint64_t	 script[16];	/* random64 returns these first */
	int		 nscript, iscript;
	uint64_t	 rng;
};

/*
 * Allocation failures: the Makefile links this test with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so that every
 * allocation, the core's included, goes through these.  alloc_fail_in = n
 * makes the n-th allocation from now fail, once.
 */
static int	alloc_fail_in;

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);
void	*__wrap_malloc(size_t);
void	*__wrap_calloc(size_t, size_t);
void	*__wrap_realloc(void *, size_t);

static int
alloc_fails(void)
{
	return alloc_fail_in > 0 && --alloc_fail_in == 0;
}

void *
__wrap_malloc(size_t n)
{
	return alloc_fails() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return alloc_fails() ? NULL : __real_calloc(n, size);
}

void *
__wrap_realloc(void *p, size_t n)
{
	return alloc_fails() ? NULL : __real_realloc(p, n);
}

/* The fake ops */

static void
fake_flush(void *arg, struct sock *s)
{
	struct node	*n = arg;

	REQUIRE(&n->s == s);
	n->flushes++;
	if (n->refuse)
		return;
	for (int i = 0; i < s->ob.n && (n->accept == 0 || i < n->accept);
	    i++) {
		struct dgram *d;

		if (n->nout == n->capout) {
			n->capout = n->capout ? n->capout * 2 : 64;
			n->out = realloc(n->out, n->capout * sizeof(*n->out));
			REQUIRE(n->out != NULL);
		}
		d = &n->out[n->nout++];
		d->to = s->ob.to[i];
		d->len = s->ob.len[i];
		REQUIRE(d->len <= s->ob.slot_size);
		d->buf = malloc(d->len ? d->len : 1);
		REQUIRE(d->buf != NULL);
		memcpy(d->buf, s->ob.buf + (size_t)i * s->ob.slot_size,
		    d->len);
	}
	outbox_consume(&s->ob, n->accept && n->accept < s->ob.n ? n->accept :
	    s->ob.n);
}

static void
fake_recv_ready(void *arg, struct sock *s)
{
	struct node	*n = arg;

	REQUIRE(!TAILQ_EMPTY(&s->rq));
	n->recv_ready++;
}

static void
fake_peer_event(void *arg, struct sock *s, struct peer *p,
    enum peer_event ev)
{
	struct node	*n = arg;

	REQUIRE(&n->s == s);
	REQUIRE(n->nev < MAXEV);
	n->ev[n->nev].ev = ev;
	n->ev[n->nev].session = p->session;
	n->ev[n->nev].addr = p->addr;
	n->ev[n->nev].prev = p->prev_addr;
	n->nev++;
}

static void
fake_resolve(void *arg, struct sock *s)
{
	struct node	*n = arg;

	REQUIRE(&n->s == s);
	n->resolves++;
}

static uint64_t
fake_random64(void *arg)
{
	struct node	*n = arg;
	uint64_t	 z;

	if (n->iscript < n->nscript)
		return n->script[n->iscript++];
	/* splitmix64 */
	z = (n->rng += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void
fake_connect_event(void *arg, struct sock *s)
{
	struct node	*n = arg;

	REQUIRE(&n->s == s);
	n->connect_events++;
	n->last_reason = s->conn_reason;
}

static const struct sock_ops fake_ops = {
	.flush = fake_flush,
	.recv_ready = fake_recv_ready,
	.peer_event = fake_peer_event,
	.resolve = fake_resolve,
	.random64 = fake_random64,
	.connect_event = fake_connect_event,
};

/* Nodes */

static struct nbaddr
A(const char *text)
{
	struct nbaddr	a;

	ck_assert_int_eq(addr_parse(text, &a, NULL, 0, NULL), 0);
	return a;
}

static struct node *
node_new_opts(const char *addr, int type, int bound,
    const struct sockopts *o)
{
	static uint64_t	 seed = 1;
	struct node	*n = calloc(1, sizeof(*n));
	struct sockopts	 def;

	ck_assert_ptr_nonnull(n);
	if (o == NULL)
		opts_defaults(&def);
	else
		def = *o;
	def.coalesce = 0;		/* v0.2.0: see the top */
	def.pacing = 0;
	n->addr = A(addr);
	n->rng = seed++ * 0x1000;
	ck_assert_int_eq(sock_init(&n->s, type, &def, &fake_ops, n), 0);
	snprintf(n->s.name, sizeof(n->s.name), "%s", addr);
	if (bound)
		sock_set_bound(&n->s);
	return n;
}

static struct node *
node_new(const char *addr, int bound)
{
	return node_new_opts(addr, NBMQ_DEALER, bound, NULL);
}

static void
out_reset(struct node *n)
{
	for (size_t i = 0; i < n->nout; i++)
		free(n->out[i].buf);
	n->nout = 0;
}

static void
node_free(struct node *n)
{
	sock_destroy(&n->s);
	out_reset(n);
	free(n->out);
	free(n);
}

static void
flush(struct node *n)
{
	fake_flush(n, &n->s);
}

/*
 * Run n's timers alone, at each of its deadlines up to end; what it sends
 * is lost.  Returns how many heartbeats it sent.
 */
static int
timers_until(struct node *n, nbmq_time end)
{
	nbmq_time	t;
	int		hb = 0;

	while ((t = sock_next_deadline(&n->s)) <= end) {
		ck_assert_uint_gt(sock_timers(&n->s, t), t);
		flush(n);
		for (size_t i = 0; i < n->nout; i++)
			if (n->out[i].buf[1] == FK_HEARTBEAT)
				hb++;
		out_reset(n);
	}
	return hb;
}

static int
kind_of(const struct dgram *d)
{
	return d->len >= 2 ? d->buf[1] : -1;
}

static uint64_t
session_of(const struct dgram *d)
{
	uint64_t	v = 0;

	REQUIRE(d->len >= FRAME_HDR_SIZE);
	for (int i = 2; i < 10; i++)
		v = v << 8 | d->buf[i];
	return v;
}

static int
count_kind(const struct node *n, int kind)
{
	int	c = 0;

	for (size_t i = 0; i < n->nout; i++)
		if (kind_of(&n->out[i]) == kind)
			c++;
	return c;
}

/* Datagram i is exactly the control frame (kind, session) to `to`. */
static void
check_ctl(const struct node *n, size_t i, int kind, uint64_t session,
    const struct nbaddr *to)
{
	uint8_t	want[FRAME_HDR_SIZE];

	ck_assert_uint_lt(i, n->nout);
	frame_put_ctl(want, (uint8_t)kind, session);
	ck_assert_uint_eq(n->out[i].len, FRAME_HDR_SIZE);
	ck_assert_mem_eq(n->out[i].buf, want, FRAME_HDR_SIZE);
	ck_assert(addr_eq(&n->out[i].to, to));
}

/* n sent exactly one datagram: that control frame. */
static void
check_only_ctl(struct node *n, int kind, uint64_t session,
    const struct nbaddr *to)
{
	ck_assert_uint_eq(n->nout, 1);
	check_ctl(n, 0, kind, session, to);
	out_reset(n);
}

/*
 * Hand every datagram `from` sent to `to` over, as coming from src, in
 * order; the others stay.  Returns how many.
 */
static int
pass_src(struct node *from, struct node *to, const struct nbaddr *src,
    nbmq_time now)
{
	size_t	 keep = 0;
	int	 moved = 0;

	for (size_t i = 0; i < from->nout; i++) {
		struct dgram d = from->out[i];

		if (!addr_eq(&d.to, &to->addr)) {
			from->out[keep++] = d;
			continue;
		}
		sock_input(&to->s, now, src, d.buf, d.len);
		flush(to);
		free(d.buf);
		moved++;
	}
	from->nout = keep;
	return moved;
}

static int
pass(struct node *from, struct node *to, nbmq_time now)
{
	return pass_src(from, to, &from->addr, now);
}

/* Pass datagrams between the nodes until none is left in flight. */
static void
net(struct node **nodes, int nn, nbmq_time now)
{
	int	moved;

	do {
		moved = 0;
		for (int i = 0; i < nn; i++)
			for (int j = 0; j < nn; j++)
				if (i != j)
					moved += pass(nodes[i], nodes[j], now);
	} while (moved > 0);
}

/* Send everything queued, as the shell does on writable. */
static void
tick(struct node *n, nbmq_time now)
{
	int	rounds = 0;

	while (sock_tick(&n->s, now)) {
		flush(n);
		REQUIRE(++rounds < 100000);
	}
	flush(n);
}

/*
 * Run every node's timers in deadline order until `end`, passing all
 * traffic between them at once.  Returns the new now (end).
 */
static nbmq_time
run_until(struct node **nodes, int nn, nbmq_time now, nbmq_time end)
{
	for (int guard = 0;; guard++) {
		nbmq_time t = NBMQ_TIME_NEVER;

		REQUIRE(guard < 100000);
		for (int i = 0; i < nn; i++) {
			nbmq_time d = sock_next_deadline(&nodes[i]->s);

			if (d < t)
				t = d;
		}
		if (t > end)
			break;
		REQUIRE(t >= now);	/* no deadline in the past */
		now = t;
		for (int i = 0; i < nn; i++)
			if (sock_next_deadline(&nodes[i]->s) <= now) {
				nbmq_time next = sock_timers(&nodes[i]->s,
				    now);

				REQUIRE(next > now);
				flush(nodes[i]);
			}
		net(nodes, nn, now);
	}
	return end;
}

/* Feed a control frame to n as if it came from `from`. */
static void
inject_ctl(struct node *n, nbmq_time now, const struct nbaddr *from,
    int kind, uint64_t session)
{
	uint8_t	buf[FRAME_HDR_SIZE + 8];
	size_t	len;

	if (kind == FK_ACK)
		len = frame_put_ack(buf, session, 0x1234);
	else
		len = frame_put_ctl(buf, (uint8_t)kind, session);
	sock_input(&n->s, now, from, buf, len);
	flush(n);
}

/* Connect c to bound b at `now`; returns the session id. */
static uint64_t
handshake(struct node *b, struct node *c, nbmq_time now)
{
	struct peer	*p;

	sock_set_remote(&c->s, &b->addr, now);
	flush(c);
	ck_assert_int_eq(pass(c, b, now), 1);		/* Connect */
	ck_assert_int_eq(pass(b, c, now), 1);		/* Connected */
	ck_assert_int_eq(pass(c, b, now), 1);		/* Heartbeat */
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_int_eq(c->s.link, LINK_UP);
	p = TAILQ_FIRST(&c->s.peers);
	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, p->session));
	return p->session;
}

static struct peer *
only_peer(struct node *n)
{
	ck_assert_uint_eq(n->s.npeers, 1);
	return TAILQ_FIRST(&n->s.peers);
}

/* Messages */

static uint8_t
pat(uint32_t seed, uint32_t i)
{
	return (uint8_t)(i * 131u + seed * 7u + (i >> 8) + (i >> 16));
}

static struct msg *
mkmsg(uint32_t seed, int nparts, const uint32_t *sizes)
{
	struct msg	*m;
	uint32_t	 size = 0;

	for (int i = 0; i < nparts; i++)
		size += sizes[i];
	m = msg_new((uint16_t)nparts, size);
	REQUIRE(m != NULL);
	memcpy(m->partsz, sizes, (size_t)nparts * sizeof(uint32_t));
	for (uint32_t i = 0; i < size; i++)
		m->data[i] = pat(seed, i);
	return m;
}

static struct msg *
mkmsg1(uint32_t seed, uint32_t size)
{
	return mkmsg(seed, 1, &size);
}

/* NULL if m is message (seed, sizes), else what differs. */
static const char *
msg_diff(const struct msg *m, uint32_t seed, int nparts,
    const uint32_t *sizes)
{
	static char	why[128];
	uint32_t	size = 0;

	if (m == NULL)
		return "no message";
	if (m->nparts != nparts) {
		snprintf(why, sizeof(why), "%u parts, want %d", m->nparts,
		    nparts);
		return why;
	}
	for (int i = 0; i < nparts; i++) {
		if (m->partsz[i] != sizes[i]) {
			snprintf(why, sizeof(why), "part %d: %u bytes, want %u",
			    i, m->partsz[i], sizes[i]);
			return why;
		}
		size += sizes[i];
	}
	if (m->size != size) {
		snprintf(why, sizeof(why), "%u bytes, want %u", m->size, size);
		return why;
	}
	for (uint32_t i = 0; i < size; i++)
		if (m->data[i] != pat(seed, i)) {
			snprintf(why, sizeof(why), "byte %u: %02x, want %02x",
			    i, m->data[i], pat(seed, i));
			return why;
		}
	return NULL;
}

static int
msg_is(const struct msg *m, uint32_t seed, int nparts, const uint32_t *sizes)
{
	return msg_diff(m, seed, nparts, sizes) == NULL;
}

/* Receive one message from n; it must be (seed, sizes) from `peer`. */
static void
recv_check(struct node *n, uint64_t peer, uint32_t seed, int nparts,
    const uint32_t *sizes)
{
	struct msg	*m = sock_recv(&n->s);
	const char	*why;

	ck_assert_ptr_nonnull(m);
	why = msg_diff(m, seed, nparts, sizes);
	ck_assert_msg(why == NULL, "message %u: %s", seed, why);
	ck_assert_uint_eq(m->peer, peer);
	msg_free(m);
}

static void
recv_check1(struct node *n, uint64_t peer, uint32_t seed, uint32_t size)
{
	recv_check(n, peer, seed, 1, &size);
}

static uint64_t
total_drops(const struct sock *s)
{
	uint64_t	t = 0;

	for (int i = 0; i < DROP_NREASONS; i++)
		t += s->st.drops[i];
	return t;
}

/*
 * Connecting socket: the link's transitions
 */

START_TEST(test_idle_to_connecting_on_connect)
{
	struct node	*c = node_new(C_ADDR, 0);
	struct nbaddr	 b = A(B_ADDR);

	ck_assert_int_eq(c->s.link, LINK_IDLE);
	ck_assert_uint_eq(sock_next_deadline(&c->s), NBMQ_TIME_NEVER);
	sock_set_remote(&c->s, &b, T0);
	flush(c);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert(!c->s.bound);
	/* Connect, session 0, to the remote: 01 01 00*8 */
	check_only_ctl(c, FK_CONNECT, 0, &b);
	ck_assert_uint_eq(sock_next_deadline(&c->s),
	    T0 + c->s.o.reconnect_wait);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_int_eq(c->nev, 0);
	ck_assert_int_eq(c->resolves, 0);
	node_free(c);
}
END_TEST

START_TEST(test_idle_to_connecting_by_name)
{
	struct node	*c = node_new(C_ADDR, 0);
	struct nbaddr	 b = A(B_ADDR);
	nbmq_time	 t;

	sock_connect_name(&c->s, T0);
	flush(c);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_int_eq(c->resolves, 1);
	ck_assert_uint_eq(c->nout, 0);
	/* The resolution arrives: that is the attempt. */
	sock_set_remote(&c->s, &b, T0 + 5 * MSEC);
	flush(c);
	check_only_ctl(c, FK_CONNECT, 0, &b);
	/* The reconnect timer resolves again. */
	t = sock_next_deadline(&c->s);
	ck_assert_uint_eq(t, T0 + c->s.o.reconnect_wait);
	sock_timers(&c->s, t);
	flush(c);
	ck_assert_int_eq(c->resolves, 2);
	ck_assert_uint_eq(c->nout, 0);
	node_free(c);
}
END_TEST

START_TEST(test_connecting_reconnect_timer_resends_connect)
{
	struct node	*c = node_new(C_ADDR, 0);
	struct nbaddr	 b = A(B_ADDR);
	nbmq_time	 wait = c->s.o.reconnect_wait, t;

	sock_set_remote(&c->s, &b, T0);
	flush(c);
	check_only_ctl(c, FK_CONNECT, 0, &b);
	for (int k = 1; k <= 4; k++) {
		t = sock_next_deadline(&c->s);
		ck_assert_uint_eq(t, T0 + k * wait);
		/* Not a moment early. */
		ck_assert_uint_eq(sock_timers(&c->s, t - 1), t);
		flush(c);
		ck_assert_uint_eq(c->nout, 0);
		ck_assert_uint_eq(sock_timers(&c->s, t), t + wait);
		flush(c);
		check_only_ctl(c, FK_CONNECT, 0, &b);
		ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	}
	node_free(c);
}
END_TEST

START_TEST(test_connecting_to_up_on_connected)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct peer	*p, *bp;
	uint64_t	 id;

	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(kind_of(&b->out[0]), FK_CONNECTED);
	id = session_of(&b->out[0]);
	ck_assert_uint_ne(id, 0);
	ck_assert_int_eq(pass(b, c, T0 + MSEC), 1);
	/* Up, with the id, and a Heartbeat(id) to the bound side. */
	ck_assert_int_eq(c->s.link, LINK_UP);
	p = only_peer(c);
	ck_assert_uint_eq(p->session, id);
	ck_assert(addr_eq(&p->addr, &b->addr));
	ck_assert_uint_eq(p->up_since, T0 + MSEC);
	check_ctl(c, 0, FK_HEARTBEAT, id, &b->addr);
	ck_assert_uint_eq(c->nout, 1);
	ck_assert_int_eq(c->nev, 1);
	ck_assert_int_eq(c->ev[0].ev, PEV_UP);
	ck_assert_uint_eq(c->ev[0].session, id);
	/* No more reconnecting: the next deadline is the heartbeat. */
	ck_assert_uint_eq(c->s.reconnect_at, NBMQ_TIME_NEVER);
	ck_assert_uint_eq(sock_next_deadline(&c->s),
	    T0 + MSEC + c->s.o.peer_heartbeat_ivl);
	/* The bound side sees the heartbeat. */
	ck_assert_int_eq(pass(c, b, T0 + 2 * MSEC), 1);
	bp = only_peer(b);
	ck_assert_uint_eq(bp->last_seen, T0 + 2 * MSEC);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(total_drops(&b->s), 0);
	ck_assert_uint_eq(total_drops(&c->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_up_duplicate_connected_same_id)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct peer	*p;
	uint64_t	 id;

	id = handshake(b, c, T0);
	p = only_peer(c);
	inject_ctl(c, T0 + 500 * MSEC, &b->addr, FK_CONNECTED, id);
	/* Same peer, still up, answered with a heartbeat, no event. */
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_ptr_eq(only_peer(c), p);
	ck_assert_uint_eq(p->session, id);
	ck_assert_uint_eq(p->up_since, T0);
	ck_assert_uint_eq(c->s.st.sessions_created, 1);
	ck_assert_int_eq(c->nev, 1);
	check_only_ctl(c, FK_HEARTBEAT, id, &b->addr);
	ck_assert_uint_eq(p->last_sent, T0 + 500 * MSEC);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_up_connected_new_id_replaces_peer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	const uint64_t	 id2 = 0x5555666677778888ULL;
	struct peer	*p;
	uint64_t	 id;
	int		 nframes = 0;

	id = handshake(b, c, T0);
	/* Two messages wait in the old session's queue. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 10), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 1000), T0, 0), 0);
	inject_ctl(c, T0 + 100 * MSEC, &b->addr, FK_CONNECTED, id2);
	ck_assert_int_eq(c->s.link, LINK_UP);
	p = only_peer(c);
	ck_assert_uint_eq(p->session, id2);
	ck_assert_ptr_null(sock_peer_by_id(&c->s, id));
	ck_assert_ptr_eq(sock_peer_by_id(&c->s, id2), p);
	ck_assert_int_eq(c->nev, 3);
	ck_assert_int_eq(c->ev[1].ev, PEV_DOWN_REPLACED);
	ck_assert_uint_eq(c->ev[1].session, id);
	ck_assert_int_eq(c->ev[2].ev, PEV_UP);
	ck_assert_uint_eq(c->ev[2].session, id2);
	check_only_ctl(c, FK_HEARTBEAT, id2, &b->addr);
	/* The queue went over to the new session. */
	ck_assert_uint_eq(p->sendq_len, 2);
	ck_assert_uint_eq(c->s.queued, 2);
	ck_assert_uint_eq(c->s.norphans, 0);
	tick(c, T0 + 100 * MSEC);
	for (size_t i = 0; i < c->nout; i++) {
		ck_assert_int_eq(kind_of(&c->out[i]), FK_DATA);
		ck_assert_uint_eq(session_of(&c->out[i]), id2);
		nframes++;
	}
	ck_assert_int_eq(nframes, 1 + 3);
	ck_assert_uint_eq(c->s.queued, 0);
	ck_assert_uint_eq(c->s.st.drops[DROP_PEER_GONE], 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_up_disconnected_to_connecting)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	const nbmq_time	 t = T0 + 3 * NSEC;
	uint64_t	 id;

	id = handshake(b, c, T0);
	/* Disconnected for some other id: not ours, ignored. */
	inject_ctl(c, t, &b->addr, FK_DISCONNECTED, id + 1);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_uint_eq(c->s.npeers, 1);
	ck_assert_uint_eq(c->nout, 0);
	/* Ours: down, and Connect again at once. */
	inject_ctl(c, t, &b->addr, FK_DISCONNECTED, id);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_ptr_null(sock_peer_by_id(&c->s, id));
	ck_assert_int_eq(c->nev, 2);
	ck_assert_int_eq(c->ev[1].ev, PEV_DOWN_DISCONNECTED);
	ck_assert_uint_eq(c->ev[1].session, id);
	check_only_ctl(c, FK_CONNECT, 0, &b->addr);
	ck_assert_uint_eq(sock_next_deadline(&c->s),
	    t + c->s.o.reconnect_wait);
	/* No peer meanwhile. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1), t, 0), EHOSTUNREACH);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_bound_restart_disconnected_reconnects)
{
	/* The bound side forgot the session: the whole recovery path. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2];
	nbmq_time	 now = T0;
	uint64_t	 id, id2;

	id = handshake(b, c, now);
	node_free(b);
	b = node_new(B_ADDR, 1);
	nodes[0] = b;
	nodes[1] = c;
	/* c's next heartbeat meets the new b: Disconnected, Connect, ... */
	now = run_until(nodes, 2, now, now + c->s.o.peer_heartbeat_ivl);
	ck_assert_int_eq(c->s.link, LINK_UP);
	id2 = only_peer(c)->session;
	ck_assert_uint_ne(id2, id);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, id2));
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 1);
	ck_assert_int_eq(c->ev[c->nev - 2].ev, PEV_DOWN_DISCONNECTED);
	ck_assert_int_eq(c->ev[c->nev - 1].ev, PEV_UP);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(7, 100), now, 0), 0);
	tick(c, now);
	net(nodes, 2, now);
	recv_check1(b, id2, 7, 100);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_up_keepalive_to_connecting)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	const nbmq_time	 ka = c->s.o.peer_keepalive;
	nbmq_time	 t;
	uint64_t	 id;
	int		 hb = 0;

	id = handshake(b, c, T0);
	/* b went silent: c's heartbeats are lost, nothing comes back. */
	while ((t = sock_next_deadline(&c->s)) < T0 + ka) {
		sock_timers(&c->s, t);
		flush(c);
		hb += count_kind(c, FK_HEARTBEAT);
		ck_assert_uint_eq(c->nout, (size_t)count_kind(c,
		    FK_HEARTBEAT));
		out_reset(c);
	}
	ck_assert_int_eq(hb, (int)(ka / c->s.o.peer_heartbeat_ivl) - 1);
	ck_assert_uint_eq(t, T0 + ka);
	ck_assert_int_eq(c->s.link, LINK_UP);
	sock_timers(&c->s, t - 1);
	flush(c);
	ck_assert_int_eq(c->s.link, LINK_UP);
	/* Only the heartbeat due at t, sent a little early. */
	ck_assert_uint_eq(c->nout, (size_t)count_kind(c, FK_HEARTBEAT));
	ck_assert_uint_le(c->nout, 1);
	out_reset(c);
	sock_timers(&c->s, t);
	flush(c);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_int_eq(c->ev[c->nev - 1].ev, PEV_DOWN_KEEPALIVE);
	ck_assert_uint_eq(c->ev[c->nev - 1].session, id);
	check_only_ctl(c, FK_CONNECT, 0, &b->addr);
	ck_assert_uint_eq(sock_next_deadline(&c->s),
	    t + c->s.o.reconnect_wait);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_connected_from_other_address_ignored)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 evil = A("10.0.0.9:9");

	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	out_reset(c);
	inject_ctl(c, T0 + MSEC, &evil, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_uint_eq(c->nout, 0);
	ck_assert_int_eq(c->nev, 0);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 1);
	/* Connected with session 0 is no session either. */
	inject_ctl(c, T0 + MSEC, &b->addr, FK_CONNECTED, 0);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 2);
	/* The real one still works; then the other address again. */
	inject_ctl(c, T0 + MSEC, &b->addr, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(c->s.link, LINK_UP);
	out_reset(c);
	inject_ctl(c, T0 + MSEC, &evil, FK_CONNECTED, 0x9999);
	ck_assert_uint_eq(only_peer(c)->session, 0x1234);
	ck_assert_uint_eq(c->nout, 0);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 3);
	/* A connecting socket takes no Connect, a bound one no Connected. */
	inject_ctl(c, T0 + MSEC, &evil, FK_CONNECT, 0);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 4);
	ck_assert_uint_eq(c->nout, 0);
	inject_ctl(b, T0 + MSEC, &c->addr, FK_CONNECTED, 0x4321);
	ck_assert_uint_eq(b->s.st.drops[DROP_NOT_BOUND], 1);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->nout, 0);
	/* An idle (never connected) socket takes no Connected. */
	node_free(c);
	c = node_new(C_ADDR, 0);
	inject_ctl(c, T0, &b->addr, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(c->s.link, LINK_IDLE);
	ck_assert_uint_eq(c->s.npeers, 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_orphans_survive_reconnect)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct peer	*p;
	uint64_t	 id, id2;
	nbmq_time	 now = T0;

	opts_defaults(&o);
	o.max_tick_send = 4;
	b = node_new(B_ADDR, 1);
	c = node_new_opts(C_ADDR, NBMQ_DEALER, 0, &o);
	id = handshake(b, c, now);
	/* 5 messages of 3 frames; 4 frames leave: m0 and m1's first. */
	for (uint32_t i = 0; i < 5; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), now, 0), 0);
	ck_assert_int_eq(sock_tick(&c->s, now), 1);
	flush(c);
	ck_assert_uint_eq(c->nout, 4);
	ck_assert_int_eq(pass(c, b, now), 4);		/* m0 and a piece */
	recv_check1(b, id, 0, 1000);
	ck_assert_uint_eq(b->s.nreasm, 1);
	/* The session breaks: the queue is kept for the next one. */
	now += 10 * MSEC;
	inject_ctl(c, now, &b->addr, FK_DISCONNECTED, id);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.norphans, 4);
	ck_assert_uint_eq(c->s.queued, 4);
	ck_assert_uint_eq(c->s.st.drops[DROP_PEER_GONE], 0);
	ck_assert(!sock_has_output(&c->s));
	ck_assert_uint_eq(sock_send_room(&c->s), 0);
	/* Reconnect: b replaces the session from the same address once
	 * the new one is confirmed (c's Heartbeat, passed with the data). */
	ck_assert_int_eq(pass(c, b, now), 1);		/* Connect */
	ck_assert_uint_eq(b->s.nreasm, 1);
	ck_assert_int_eq(pass(b, c, now), 1);		/* Connected */
	ck_assert_int_eq(c->s.link, LINK_UP);
	p = only_peer(c);
	id2 = p->session;
	ck_assert_uint_ne(id2, id);
	ck_assert_uint_eq(c->s.norphans, 0);
	ck_assert(TAILQ_EMPTY(&c->s.orphans));
	ck_assert_uint_eq(p->sendq_len, 4);
	ck_assert(sock_has_output(&c->s));
	ck_assert_uint_eq(sock_send_room(&c->s), o.send_hwm - 4);
	/* m1 restarts whole; all four arrive, byte-exact, in order. */
	tick(c, now);
	ck_assert_int_eq(pass(c, b, now), 1 + 4 * 3);
	ck_assert_uint_eq(b->s.nreasm, 0);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	for (uint32_t i = 1; i < 5; i++)
		recv_check1(b, id2, i, 1000);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(c->s.queued, 0);
	ck_assert_uint_eq(c->s.st.tx_msgs, 5);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * Bound socket
 */

START_TEST(test_bound_connect_creates_session)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 c = A(C_ADDR), d = A("10.0.0.3:3000");
	const uint64_t	 cookie_id = 0xabcd2112a442ef01ULL;
	struct peer	*p;

	/* The first candidates: the STUN cookie at bytes 4..7, then 0. */
	b->script[0] = cookie_id;
	b->script[1] = 0;
	b->script[2] = 0x0102030405060708ULL;
	b->nscript = 3;
	ck_assert_uint_eq((uint32_t)(cookie_id >> 16), STUN_COOKIE);
	ck_assert_uint_eq(sock_next_deadline(&b->s), NBMQ_TIME_NEVER);

	inject_ctl(b, T0, &c, FK_CONNECT, 0);
	ck_assert_int_eq(b->iscript, 3);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(kind_of(&b->out[0]), FK_CONNECTED);
	ck_assert_uint_ne((uint32_t)b->out[0].buf[4] << 24 |
	    (uint32_t)b->out[0].buf[5] << 16 |
	    (uint32_t)b->out[0].buf[6] << 8 | b->out[0].buf[7], STUN_COOKIE);
	check_only_ctl(b, FK_CONNECTED, 0x0102030405060708ULL, &c);
	p = only_peer(b);
	ck_assert_uint_eq(p->session, 0x0102030405060708ULL);
	ck_assert(addr_eq(&p->addr, &c));
	ck_assert_uint_eq(p->last_seen, T0);
	ck_assert_uint_eq(p->last_sent, T0);
	ck_assert_uint_eq(p->up_since, T0);
	ck_assert_int_eq(b->s.link, LINK_IDLE);	/* links are per peer */
	ck_assert_uint_eq(b->s.st.sessions_created, 1);
	/* Not up until the connecting side shows it has the session: no
	 * event, no data (issue 14: a lost Connected lost unacked frames). */
	ck_assert_int_eq(b->nev, 0);
	ck_assert(!p->confirmed);
	ck_assert_uint_eq(b->s.nup, 0);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 10), T0, 0), EHOSTUNREACH);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_uint_eq(sock_next_deadline(&b->s),
	    T0 + b->s.o.peer_heartbeat_ivl);
	inject_ctl(b, T0, &c, FK_HEARTBEAT, p->session);
	ck_assert(p->confirmed);
	ck_assert_uint_eq(b->s.nup, 1);
	ck_assert_int_eq(b->nev, 1);
	ck_assert_int_eq(b->ev[0].ev, PEV_UP);
	ck_assert_uint_eq(b->ev[0].session, p->session);
	ck_assert_uint_eq(sock_send_room(&b->s), b->s.o.send_hwm);

	/* Never a live id again: the same value is skipped. */
	b->script[3] = 0x0102030405060708ULL;
	b->script[4] = 0x1111;
	b->nscript = 5;
	inject_ctl(b, T0, &d, FK_CONNECT, 0);
	check_only_ctl(b, FK_CONNECTED, 0x1111, &d);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_uint_eq(b->s.st.sessions_created, 2);
	/* Data from neither the session nor the address mixes up. */
	ck_assert(addr_eq(&sock_peer_by_id(&b->s, 0x1111)->addr, &d));
	node_free(b);
}
END_TEST

START_TEST(test_bound_connect_max_peers_refused)
{
	struct sockopts	 o;
	struct node	*b;
	struct nbaddr	 a[41];
	uint64_t	 ids[41];
	char		 text[32];

	opts_defaults(&o);
	o.max_peers = 40;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	for (int i = 0; i < 41; i++) {
		snprintf(text, sizeof(text), "10.0.1.%d:%d", i + 1, 4000 + i);
		a[i] = A(text);
	}
	for (int i = 0; i < 40; i++) {
		inject_ctl(b, T0, &a[i], FK_CONNECT, 0);
		ck_assert_uint_eq(b->nout, 1);
		ids[i] = session_of(&b->out[0]);
		check_only_ctl(b, FK_CONNECTED, ids[i], &a[i]);
	}
	ck_assert_uint_eq(b->s.npeers, 40);
	/* One more: refused, counted, nothing sent, nobody affected. */
	inject_ctl(b, T0 + MSEC, &a[40], FK_CONNECT, 0);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(b->s.npeers, 40);
	ck_assert_uint_eq(b->s.st.drops[DROP_MAX_PEERS], 1);
	ck_assert_uint_eq(b->s.st.sessions_created, 40);
	ck_assert_int_eq(b->nev, 0);		/* none confirmed yet */
	for (int i = 0; i < 40; i++) {
		struct peer *p = sock_peer_by_id(&b->s, ids[i]);

		ck_assert_ptr_nonnull(p);
		ck_assert(addr_eq(&p->addr, &a[i]));
		inject_ctl(b, T0 + 2 * MSEC, &a[i], FK_HEARTBEAT, ids[i]);
		ck_assert_uint_eq(p->last_seen, T0 + 2 * MSEC);
	}
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 0);
	/* A known address reconnecting at max_peers is a replacement:
	 * it waits beside the live session until confirmed, then takes
	 * its place (a forged Connect would not confirm it). */
	inject_ctl(b, T0 + 3 * MSEC, &a[7], FK_CONNECT, 0);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_uint_eq(b->s.npeers, 41);
	ck_assert_uint_eq(b->s.st.drops[DROP_MAX_PEERS], 1);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, ids[7]));
	inject_ctl(b, T0 + 3 * MSEC, &a[7], FK_HEARTBEAT,
	    session_of(&b->out[0]));
	ck_assert_uint_eq(b->s.npeers, 40);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, ids[7]));
	out_reset(b);
	/* When one leaves, a new one fits again. */
	inject_ctl(b, T0 + 4 * MSEC, &a[3], FK_DISCONNECTED, ids[3]);
	ck_assert_uint_eq(b->s.npeers, 39);
	out_reset(b);
	inject_ctl(b, T0 + 5 * MSEC, &a[40], FK_CONNECT, 0);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(kind_of(&b->out[0]), FK_CONNECTED);
	ck_assert_uint_eq(b->s.npeers, 40);
	node_free(b);
}
END_TEST

START_TEST(test_bound_connect_same_address_replaces)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 c = A(C_ADDR), d = A("10.0.0.2:2001");
	uint64_t	 id1, id2;
	struct peer	*p;
	struct msg	*m;

	inject_ctl(b, T0, &c, FK_CONNECT, 0);
	id1 = session_of(&b->out[0]);
	out_reset(b);
	inject_ctl(b, T0, &c, FK_HEARTBEAT, id1);	/* confirmed */
	inject_ctl(b, T0, &d, FK_CONNECT, 0);	/* same host, other port */
	inject_ctl(b, T0, &d, FK_HEARTBEAT, session_of(&b->out[0]));
	out_reset(b);
	ck_assert_uint_eq(b->s.npeers, 2);
	/* A queued message is lost with the old session, and counted. */
	m = mkmsg1(1, 10);
	m->peer = id1;
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	inject_ctl(b, T0 + NSEC, &c, FK_CONNECT, 0);
	ck_assert_uint_eq(b->nout, 1);
	id2 = session_of(&b->out[0]);
	ck_assert_uint_ne(id2, id1);
	check_only_ctl(b, FK_CONNECTED, id2, &c);
	/* Until the new session is confirmed the old one lives: a Connect
	 * forged with c's address disturbs nothing (issue 15). */
	ck_assert_uint_eq(b->s.npeers, 3);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, id1));
	ck_assert_int_eq(b->nev, 2);
	/* A second Connect from there supersedes the unconfirmed one. */
	inject_ctl(b, T0 + NSEC, &c, FK_CONNECT, 0);
	ck_assert_uint_eq(b->s.npeers, 3);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id2));
	id2 = session_of(&b->out[0]);
	out_reset(b);
	ck_assert_int_eq(b->nev, 2);
	p = sock_peer_by_id(&b->s, id2);
	ck_assert_ptr_nonnull(p);
	ck_assert(addr_eq(&p->addr, &c));
	ck_assert_uint_eq(p->up_since, T0 + NSEC);
	inject_ctl(b, T0 + NSEC, &c, FK_HEARTBEAT, id2);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id1));
	ck_assert_int_eq(b->nev, 4);
	ck_assert_int_eq(b->ev[2].ev, PEV_DOWN_REPLACED);
	ck_assert_uint_eq(b->ev[2].session, id1);
	ck_assert_int_eq(b->ev[3].ev, PEV_UP);
	ck_assert_uint_eq(b->ev[3].session, id2);
	ck_assert_uint_eq(b->s.st.drops[DROP_PEER_GONE], 1);
	ck_assert_uint_eq(b->s.queued, 0);
	/* The old id is unknown now. */
	inject_ctl(b, T0 + NSEC, &c, FK_HEARTBEAT, id1);
	check_only_ctl(b, FK_DISCONNECTED, id1, &c);
	node_free(b);
}
END_TEST

START_TEST(test_bound_disconnected_removes_peer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;

	struct nbaddr	 x = A("10.9.9.9:999");

	id = handshake(b, c, T0);
	inject_ctl(b, T0 + NSEC, &c->addr, FK_DISCONNECTED, id + 1);
	ck_assert_uint_eq(b->s.npeers, 1);
	/* From anywhere but the peer's address: ignored, counted (issue
	 * 15: a known session id ended sessions from any source). */
	inject_ctl(b, T0 + NSEC, &x, FK_DISCONNECTED, id);
	ck_assert_uint_eq(b->s.npeers, 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_NOT_BOUND], 1);
	inject_ctl(c, T0 + NSEC, &x, FK_DISCONNECTED, id);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 1);
	inject_ctl(b, T0 + NSEC, &c->addr, FK_DISCONNECTED, id);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	ck_assert_int_eq(b->ev[b->nev - 1].ev, PEV_DOWN_DISCONNECTED);
	ck_assert_uint_eq(b->ev[b->nev - 1].session, id);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(sock_next_deadline(&b->s), NBMQ_TIME_NEVER);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_bound_keepalive_removes_peer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*c2 = node_new("10.0.0.3:3000", 0);
	const nbmq_time	 ka = b->s.o.peer_keepalive;
	nbmq_time	 t;
	uint64_t	 id, id2;

	id = handshake(b, c, T0);
	id2 = handshake(b, c2, T0 + 1 * NSEC);
	ck_assert_uint_eq(b->s.npeers, 2);
	/* Nothing reaches b; b's own heartbeats go out regardless. */
	while ((t = sock_next_deadline(&b->s)) < T0 + ka) {
		sock_timers(&b->s, t);
		flush(b);
		ck_assert_uint_eq(b->nout, (size_t)count_kind(b,
		    FK_HEARTBEAT));
		out_reset(b);
	}
	ck_assert_uint_eq(t, T0 + ka);
	/* At t - 1 the other peer's heartbeat, due at t, goes early. */
	sock_timers(&b->s, t - 1);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_uint_eq(sock_timers(&b->s, t),
	    t - 1 + b->s.o.peer_heartbeat_ivl);
	flush(b);
	out_reset(b);
	ck_assert_uint_eq(b->s.npeers, 1);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	ck_assert_int_eq(b->ev[b->nev - 1].ev, PEV_DOWN_KEEPALIVE);
	ck_assert_uint_eq(b->ev[b->nev - 1].session, id);
	ck_assert_int_eq(b->s.link, LINK_IDLE);
	ck_assert_uint_eq(b->nout, 0);		/* no Connect from a bound one */
	sock_timers(&b->s, T0 + 1 * NSEC + ka);
	flush(b);
	out_reset(b);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->ev[b->nev - 1].session, id2);
	ck_assert_uint_eq(sock_next_deadline(&b->s), NBMQ_TIME_NEVER);
	node_free(b);
	node_free(c);
	node_free(c2);
}
END_TEST

/*
 * Both kinds
 */

START_TEST(test_any_frame_refreshes_last_seen)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*c2 = node_new("10.0.0.3:3000", 0);
	const nbmq_time	 ka = b->s.o.peer_keepalive;
	struct peer	*p, *p2;
	uint8_t		 bad[FRAME_DATA_HDR_SIZE + 1];
	struct frame	 f;
	uint64_t	 id, id2;

	id = handshake(b, c, T0);
	id2 = handshake(b, c2, T0);
	p = sock_peer_by_id(&b->s, id);
	p2 = sock_peer_by_id(&b->s, id2);
	ck_assert_uint_eq(p2->last_seen, T0);
	/* Heartbeat, Ack, data: each one refreshes. */
	inject_ctl(b, T0 + 1 * NSEC, &c->addr, FK_HEARTBEAT, id);
	ck_assert_uint_eq(p->last_seen, T0 + 1 * NSEC);
	inject_ctl(b, T0 + 2 * NSEC, &c->addr, FK_ACK, id);
	ck_assert_uint_eq(p->last_seen, T0 + 2 * NSEC);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 5), T0, 0), 0);
	tick(c, T0 + 3 * NSEC);
	pass(c, b, T0 + 3 * NSEC);
	ck_assert_uint_eq(p->last_seen, T0 + 3 * NSEC);
	/* A malformed data frame proves nothing. */
	memset(&f, 0, sizeof(f));
	f.session = id;
	f.part_count = 1;
	f.message_size = f.part_size = 1;
	f.chunk_size = 1;
	frame_put_data_hdr(bad, &f);
	sock_input(&b->s, T0 + 4 * NSEC, &c->addr, bad, sizeof(bad) - 1);
	ck_assert_uint_eq(p->last_seen, T0 + 3 * NSEC);
	ck_assert_uint_eq(b->s.st.drops[DROP_LENGTH], 1);
	ck_assert_uint_eq(p->st.drops[DROP_LENGTH], 1);
	/* p2 was silent: it goes at T0 + ka, p ka after its last frame. */
	timers_until(b, T0 + ka - 1);
	ck_assert_uint_eq(b->s.npeers, 2);
	timers_until(b, T0 + ka);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id2));
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), p);
	ck_assert_int_eq(b->ev[b->nev - 1].ev, PEV_DOWN_KEEPALIVE);
	ck_assert_uint_eq(b->ev[b->nev - 1].session, id2);
	timers_until(b, T0 + 3 * NSEC + ka - 1);
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), p);
	timers_until(b, T0 + 3 * NSEC + ka);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	ck_assert_uint_eq(b->s.npeers, 0);
	recv_check1(b, id, 1, 5);
	node_free(b);
	node_free(c);
	node_free(c2);
}
END_TEST

START_TEST(test_address_follows_nat_rebinding)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 moved = A("192.0.2.7:40000");
	const nbmq_time	 t = T0 + 500 * MSEC;
	struct peer	*p;
	uint64_t	 id;

	id = handshake(b, c, T0);
	p = only_peer(b);
	/* c's NAT gave it a new source address. */
	inject_ctl(b, t, &moved, FK_HEARTBEAT, id);
	ck_assert_ptr_eq(only_peer(b), p);
	ck_assert(addr_eq(&p->addr, &moved));
	ck_assert(addr_eq(&p->prev_addr, &c->addr));
	ck_assert_uint_eq(p->last_seen, t);
	ck_assert_int_eq(b->nev, 2);
	ck_assert_int_eq(b->ev[1].ev, PEV_ADDRESS);
	ck_assert_uint_eq(b->ev[1].session, id);
	ck_assert(addr_eq(&b->ev[1].addr, &moved));
	ck_assert(addr_eq(&b->ev[1].prev, &c->addr));
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 0);
	/* Same address again: no event. */
	inject_ctl(b, t, &moved, FK_HEARTBEAT, id);
	ck_assert_int_eq(b->nev, 2);
	/* Data and heartbeats now go to the new address. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(3, 1000), t, 0), 0);
	tick(b, t);
	ck_assert_uint_eq(b->nout, 3);
	for (size_t i = 0; i < b->nout; i++) {
		ck_assert_int_eq(kind_of(&b->out[i]), FK_DATA);
		ck_assert(addr_eq(&b->out[i].to, &moved));
	}
	out_reset(b);
	sock_timers(&b->s, t + b->s.o.peer_heartbeat_ivl);
	flush(b);
	check_only_ctl(b, FK_HEARTBEAT, id, &moved);
	/* The address index follows: a confirmed session from the new
	 * address replaces this one, one from the old address does not. */
	inject_ctl(b, t + 2 * NSEC, &c->addr, FK_CONNECT, 0);
	inject_ctl(b, t + 2 * NSEC, &c->addr, FK_HEARTBEAT,
	    session_of(&b->out[b->nout - 1]));
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), p);
	inject_ctl(b, t + 2 * NSEC, &moved, FK_CONNECT, 0);
	ck_assert_uint_eq(b->s.npeers, 3);
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), p);
	inject_ctl(b, t + 2 * NSEC, &moved, FK_HEARTBEAT,
	    session_of(&b->out[b->nout - 1]));
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	ck_assert_int_eq(b->ev[b->nev - 2].ev, PEV_DOWN_REPLACED);
	ck_assert_uint_eq(b->ev[b->nev - 2].session, id);
	ck_assert_int_eq(b->ev[b->nev - 1].ev, PEV_UP);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_connecting_side_address_follows)
{
	/* The bound side moved (e.g. its NAT): the connecting side follows. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 moved = A("192.0.2.8:1000");
	uint64_t	 id;

	id = handshake(b, c, T0);
	inject_ctl(c, T0 + MSEC, &moved, FK_HEARTBEAT, id);
	ck_assert(addr_eq(&only_peer(c)->addr, &moved));
	ck_assert_int_eq(c->ev[c->nev - 1].ev, PEV_ADDRESS);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1), T0, 0), 0);
	tick(c, T0 + MSEC);
	ck_assert_uint_eq(c->nout, 1);
	ck_assert(addr_eq(&c->out[0].to, &moved));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_heartbeat_due)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	const nbmq_time	 ivl = b->s.o.peer_heartbeat_ivl;
	uint64_t	 id;

	id = handshake(b, c, T0);
	/* b: last sent (Connected) at T0. */
	ck_assert_uint_eq(sock_next_deadline(&b->s), T0 + ivl);
	/* Due at T0 + ivl; sent up to ivl/32 early (batched), not before. */
	ck_assert_uint_eq(sock_timers(&b->s, T0 + ivl - ivl / 32 - 1),
	    T0 + ivl);
	flush(b);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(sock_timers(&b->s, T0 + ivl), T0 + 2 * ivl);
	flush(b);
	check_only_ctl(b, FK_HEARTBEAT, id, &c->addr);
	/* c sends data at T0 + ivl/2: its heartbeat moves to 1.5 ivl. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0 + ivl / 2);
	ck_assert_uint_eq(c->nout, 1);
	ck_assert_uint_eq(sock_next_deadline(&c->s), T0 + ivl + ivl / 2);
	sock_timers(&c->s, T0 + ivl);
	flush(c);
	ck_assert_uint_eq(c->nout, 1);			/* the data only */
	/* b gets the data at T0 + ivl + 1: not due, no heartbeat. */
	ck_assert_int_eq(pass(c, b, T0 + ivl + 1), 1);
	ck_assert_uint_eq(b->nout, 0);
	sock_timers(&c->s, T0 + ivl + ivl / 2);
	flush(c);
	check_only_ctl(c, FK_HEARTBEAT, id, &b->addr);
	/* Data arriving when a heartbeat is due is answered with one. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 100), T0, 0), 0);
	tick(c, T0 + 2 * ivl);
	ck_assert_int_eq(pass(c, b, T0 + 2 * ivl), 1);
	check_only_ctl(b, FK_HEARTBEAT, id, &c->addr);
	ck_assert_uint_eq(only_peer(b)->last_sent, T0 + 2 * ivl);
	ck_assert_uint_eq(sock_next_deadline(&b->s), T0 + 3 * ivl);
	recv_check1(b, id, 1, 100);
	recv_check1(b, id, 2, 100);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * 100 peers whose heartbeats fall due over 20 ms leave in one timer run
 * (they are within ivl/32 of each other), not in 100 wake-ups.
 */
START_TEST(test_heartbeats_batched)
{
	struct node	*b = node_new(B_ADDR, 1), *c[100];
	const nbmq_time	 ivl = b->s.o.peer_heartbeat_ivl;
	nbmq_time	 t;

	for (int k = 0; k < 100; k++) {
		char	addr[32];

		snprintf(addr, sizeof(addr), "10.0.1.%d:%d", 2 + k, 3000 + k);
		c[k] = node_new(addr, 0);
		handshake(b, c[k], T0 + (nbmq_time)k * MSEC / 5);
	}
	flush(b);
	out_reset(b);
	t = sock_next_deadline(&b->s);
	ck_assert_uint_eq(t, T0 + ivl);
	t = sock_timers(&b->s, t);
	flush(b);
	ck_assert_uint_eq(b->nout, 100);
	ck_assert_int_eq(count_kind(b, FK_HEARTBEAT), 100);
	ck_assert_uint_eq(t, T0 + 2 * ivl);
	out_reset(b);
	for (int k = 0; k < 100; k++)
		node_free(c[k]);
	node_free(b);
}
END_TEST

START_TEST(test_heartbeat_reach)
{
	/* Every heartbeat interval shifts the reach register. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2] = { b, c };
	struct peer	*p;
	nbmq_time	 now = T0;

	handshake(b, c, now);
	p = only_peer(b);
	now = run_until(nodes, 2, now, now + 8 * b->s.o.peer_heartbeat_ivl);
	ck_assert_uint_eq(p->reach & 0xff, 0xff);
	ck_assert_ptr_eq(only_peer(b), p);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * Why a connecting socket is not up (conn_reason): every reconnect after
 * an unanswered Connect says "no answer", the log warns once an episode
 * after CONN_WARN_AFTER of them, and UP clears it all.
 */

/* stderr (the log) into a file while a test runs; its text after. */
static int	cap_fd = -1, cap_saved = -1;

static void
capture_start(void)
{
	char	path[] = "/tmp/test_sock.XXXXXX";

	fflush(stderr);
	cap_fd = mkstemp(path);
	REQUIRE(cap_fd != -1);
	unlink(path);
	cap_saved = dup(2);
	dup2(cap_fd, 2);
	log_setlevel(LOG_WARNING);
}

static char *
capture_end(void)
{
	static char	buf[8192];
	ssize_t		n;

	fflush(stderr);
	log_setlevel(LOG_ERR);
	dup2(cap_saved, 2);
	close(cap_saved);
	n = pread(cap_fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(cap_fd);
	return buf;
}

static int
count_str(const char *hay, const char *needle)
{
	int	c = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		c++;
	return c;
}

START_TEST(test_connfail_no_answer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	nbmq_time	 wait = c->s.o.reconnect_wait, t = T0;
	char		*log;

	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_uint_eq(c->s.conn_since, T0);
	ck_assert_int_eq(c->s.conn_reason, CONN_NONE);
	ck_assert_int_eq(c->connect_events, 0);
	capture_start();
	for (int k = 1; k <= 5; k++) {
		t = sock_next_deadline(&c->s);
		sock_timers(&c->s, t);
		flush(c);
		out_reset(c);		/* lost */
		ck_assert_uint_eq(c->s.conn_unanswered, (uint32_t)k);
		ck_assert_int_eq(c->s.conn_reason, CONN_NO_ANSWER);
		/* One event per unanswered Connect. */
		ck_assert_int_eq(c->connect_events, k);
		ck_assert_int_eq(c->last_reason, CONN_NO_ANSWER);
		ck_assert_int_eq(c->s.conn_warned, k >= CONN_WARN_AFTER);
	}
	log = capture_end();
	ck_assert_int_eq(count_str(log, "no answer from 10.0.0.1:1000 after 3 "
	    "Connects in 15 s: is nbmqd bound there, and the path open?"), 1);
	ck_assert_int_eq(count_str(log, "warning:"), 1);
	ck_assert_uint_eq(c->s.conn_since, T0);
	/* Answered at last: UP clears the reason. */
	ck_assert_int_eq(pass(c, b, t), 0);
	sock_timers(&c->s, t + wait);
	flush(c);
	ck_assert_int_eq(pass(c, b, t + wait), 1);
	ck_assert_int_eq(pass(b, c, t + wait), 1);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_int_eq(c->s.conn_reason, CONN_NONE);
	ck_assert_uint_eq(c->s.conn_unanswered, 0);
	ck_assert_int_eq(c->s.conn_warned, 0);
	node_free(b);
	node_free(c);
}
END_TEST

/* A new episode (the bound side went away) warns again, once. */
START_TEST(test_connfail_warn_once_per_episode)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	nbmq_time	 t, wait = c->s.o.reconnect_wait;
	uint64_t	 id = handshake(b, c, T0);
	char		*log;

	out_reset(b);
	out_reset(c);
	capture_start();
	inject_ctl(c, T0 + MSEC, &b->addr, FK_DISCONNECTED, id);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.conn_since, T0 + MSEC);
	out_reset(c);
	for (int k = 0; k < 2 * CONN_WARN_AFTER; k++) {
		t = sock_next_deadline(&c->s);
		sock_timers(&c->s, t);
		flush(c);
		out_reset(c);
	}
	log = capture_end();
	ck_assert_int_eq(count_str(log, "no answer from"), 1);
	ck_assert_uint_eq(c->s.conn_unanswered, 2 * CONN_WARN_AFTER);
	(void)wait;
	node_free(b);
	node_free(c);
}
END_TEST

/* A plain bound socket answers an encrypted Connect with a plain
 * Disconnected(0); a plain connecting one takes 0x83 session 0 from its
 * remote as "the peer is encrypted", from elsewhere as nothing. */
START_TEST(test_connfail_refused_encrypted)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 x = A("10.9.9.9:999");
	uint8_t		 buf[64];
	size_t		 len;

	memset(buf, 0xaa, sizeof(buf));
	len = frame_put_ctl(buf, FK_CONNECT | FRAME_ENCRYPTED, 0);
	sock_input(&b->s, T0, &c->addr, buf, len + 40);
	flush(b);
	check_only_ctl(b, FK_DISCONNECTED, 0, &c->addr);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_ENCRYPTED], 1);
	/* The connecting side. */
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	out_reset(c);
	len = frame_put_ctl(buf, FK_DISCONNECTED | FRAME_ENCRYPTED, 0);
	sock_input(&c->s, T0 + MSEC, &x, buf, len);
	ck_assert_int_eq(c->s.conn_reason, CONN_NONE);
	ck_assert_int_eq(c->connect_events, 0);
	sock_input(&c->s, T0 + MSEC, &b->addr, buf, len);
	ck_assert_int_eq(c->s.conn_reason, CONN_PEER_ENCRYPTED);
	ck_assert_int_eq(c->connect_events, 1);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	/* Answered: the next attempt does not count it unanswered. */
	sock_timers(&c->s, sock_next_deadline(&c->s));
	flush(c);
	ck_assert_uint_eq(c->s.conn_unanswered, 0);
	ck_assert_int_eq(c->s.conn_reason, CONN_PEER_ENCRYPTED);
	ck_assert_int_eq(c->connect_events, 1);
	/* Then nothing more: no answer. */
	sock_timers(&c->s, sock_next_deadline(&c->s));
	ck_assert_int_eq(c->s.conn_reason, CONN_NO_ANSWER);
	ck_assert_int_eq(c->connect_events, 2);
	/* The refusals share the Disconnected budget. */
	for (int i = 0; i < 100; i++) {
		len = frame_put_ctl(buf, FK_CONNECT | FRAME_ENCRYPTED, 0);
		sock_input(&b->s, T0 + MSEC, &x, buf, len + 40);
	}
	flush(b);
	ck_assert_uint_eq(b->nout, (size_t)DISC_SRC_BURST);
	node_free(b);
	node_free(c);
}
END_TEST

/* Set by the shell: cannot resolve, unreachable; only while connecting. */
START_TEST(test_connfail_shell_reasons)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);

	sock_connect_failed(&b->s, CONN_RESOLVE, T0);
	ck_assert_int_eq(b->s.conn_reason, CONN_NONE);
	sock_connect_name(&c->s, T0);
	sock_connect_failed(&c->s, CONN_RESOLVE, T0 + MSEC);
	ck_assert_int_eq(c->s.conn_reason, CONN_RESOLVE);
	ck_assert_int_eq(c->connect_events, 1);
	/* Again the same: no new event. */
	sock_timers(&c->s, sock_next_deadline(&c->s));
	sock_connect_failed(&c->s, CONN_RESOLVE, T0 + 2 * MSEC);
	ck_assert_int_eq(c->connect_events, 1);
	ck_assert_uint_eq(c->s.conn_unanswered, 0);
	sock_set_remote(&c->s, &b->addr, T0 + 3 * MSEC);
	sock_connect_failed(&c->s, CONN_UNREACHABLE, T0 + 4 * MSEC);
	ck_assert_int_eq(c->s.conn_reason, CONN_UNREACHABLE);
	ck_assert_int_eq(c->connect_events, 2);
	/* ICMP errors count towards the warning, the reason stays. */
	capture_start();
	for (int k = 1; k <= CONN_WARN_AFTER; k++) {
		sock_timers(&c->s, sock_next_deadline(&c->s));
		ck_assert_uint_eq(c->s.conn_unanswered, (uint32_t)k);
		sock_connect_failed(&c->s, CONN_UNREACHABLE, T0);
	}
	ck_assert_int_eq(count_str(capture_end(), "after 3 Connects in 20 s "
	    "(unreachable (ICMP)): is nbmqd bound there"), 1);
	ck_assert_int_eq(c->s.conn_reason, CONN_UNREACHABLE);
	ck_assert_int_eq(c->connect_events, 2);
	ck_assert_str_eq(conn_reason_names[CONN_UNREACHABLE],
	    "unreachable (ICMP)");
	for (int i = 0; i < CONN_NREASONS; i++)
		ck_assert_ptr_nonnull(conn_reason_names[i]);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_unknown_session_sends_disconnected)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 x = A("10.9.9.9:999");
	uint8_t		 buf[FRAME_DATA_HDR_SIZE + 10];
	struct frame	 f;
	uint64_t	 id;

	inject_ctl(b, T0, &x, FK_HEARTBEAT, 0x77);
	check_only_ctl(b, FK_DISCONNECTED, 0x77, &x);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 1);
	inject_ctl(b, T0, &x, FK_ACK, 0x79);
	check_only_ctl(b, FK_DISCONNECTED, 0x79, &x);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 2);
	/* A valid data frame. */
	memset(&f, 0, sizeof(f));
	f.session = 0x78;
	f.msgid = 1;
	f.part_count = 1;
	f.message_size = f.part_size = f.chunk_size = 10;
	frame_put_data_hdr(buf, &f);
	memset(buf + FRAME_DATA_HDR_SIZE, 'x', 10);
	sock_input(&b->s, T0, &x, buf, sizeof(buf));
	flush(b);
	check_only_ctl(b, FK_DISCONNECTED, 0x78, &x);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 3);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_ptr_null(sock_recv(&b->s));
	/* A connecting socket answers the same way, and stays up. */
	id = handshake(b, c, T0);
	inject_ctl(c, T0, &x, FK_HEARTBEAT, id ^ 1);
	check_only_ctl(c, FK_DISCONNECTED, id ^ 1, &x);
	ck_assert_uint_eq(c->s.st.drops[DROP_UNKNOWN_SESSION], 1);
	ck_assert_int_eq(c->s.link, LINK_UP);
	/* Session 0 is never known. */
	inject_ctl(c, T0, &b->addr, FK_HEARTBEAT, 0);
	check_only_ctl(c, FK_DISCONNECTED, 0, &b->addr);
	node_free(b);
	node_free(c);
}
END_TEST

/* Many distinct sources, so per-source reply budgets don't interfere. */
static struct nbaddr
src_addr(int i)
{
	char	a[32];

	snprintf(a, sizeof(a), "10.9.%d.%d:999", i / 200, i % 200 + 1);
	return A(a);
}

START_TEST(test_unknown_session_rate_limited)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 x = A("10.9.9.9:999");

	/* 1000 from one source at the same instant: its burst, then nothing. */
	for (int i = 0; i < 1000; i++)
		inject_ctl(b, T0, &x, FK_HEARTBEAT, 0x1000 + i);
	ck_assert_int_eq(count_kind(b, FK_DISCONNECTED), (int)DISC_SRC_BURST);
	ck_assert_uint_eq(b->nout, DISC_SRC_BURST);
	for (int i = 0; i < (int)DISC_SRC_BURST; i++)
		check_ctl(b, i, FK_DISCONNECTED, 0x1000 + i, &x);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 1000);
	out_reset(b);
	/* One second later: one second's worth. */
	for (int i = 0; i < 300; i++)
		inject_ctl(b, T0 + NSEC, &x, FK_HEARTBEAT, 0x5000 + i);
	ck_assert_uint_eq(b->nout, DISC_SRC_RATE);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 1300);
	out_reset(b);
	/* A long pause refills no more than the burst. */
	for (int i = 0; i < 500; i++)
		inject_ctl(b, T0 + 100 * NSEC, &x, FK_HEARTBEAT, 0x9000 + i);
	ck_assert_uint_eq(b->nout, DISC_SRC_BURST);
	node_free(b);
}
END_TEST

START_TEST(test_unknown_session_rate_per_source)
{
	/*
	 * A flood from many sources hits the socket-wide budget; a source
	 * whose own budget is spent does not take another source's.
	 */
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 x = A("10.9.9.9:999"), y;
	int		 sent_y = 0;

	for (int i = 0; i < 1000; i++)
		inject_ctl(b, T0, &x, FK_HEARTBEAT, 0x1000 + i);
	out_reset(b);
	/* Another source still gets answers while x is silenced. */
	y = A("10.8.8.8:888");
	inject_ctl(b, T0, &y, FK_HEARTBEAT, 0x2000);
	for (size_t i = 0; i < b->nout; i++)
		if (addr_eq(&b->out[i].to, &y))
			sent_y++;
	if (addr_hash(&x) % DISC_SOURCES != addr_hash(&y) % DISC_SOURCES)
		ck_assert_int_eq(sent_y, 1);
	out_reset(b);
	/* Many sources at once: no more than the socket's burst. */
	for (int i = 0; i < 5000; i++) {
		char	a[32];
		struct nbaddr z;

		snprintf(a, sizeof(a), "10.1.%d.%d:%d", i / 250, i % 250,
		    1000 + i);
		z = A(a);
		inject_ctl(b, T0, &z, FK_HEARTBEAT, 0x3000 + i);
	}
	ck_assert_uint_le(b->nout, DISC_BURST);
	ck_assert_uint_ge(b->nout, DISC_BURST - DISC_SRC_BURST - 1);
	node_free(b);
}
END_TEST

START_TEST(test_ctl_kernel_full)
{
	/* The kernel takes nothing: 64 replies wait, the rest is counted. */
	struct node	*b = node_new(B_ADDR, 1);

	b->refuse = 1;
	for (int i = 0; i < OUTBOX_SLOTS + 5; i++) {
		uint8_t buf[FRAME_HDR_SIZE];

		frame_put_ctl(buf, FK_HEARTBEAT, 100 + i);
		struct nbaddr x = src_addr(i);

		sock_input(&b->s, T0, &x, buf, sizeof(buf));
	}
	ck_assert_int_eq(b->s.ob.n, OUTBOX_SLOTS);
	ck_assert_uint_eq(b->s.st.drops[DROP_SEND_FAILED], 5);
	ck_assert(sock_has_output(&b->s));
	b->refuse = 0;
	flush(b);
	ck_assert_uint_eq(b->nout, OUTBOX_SLOTS);
	for (int i = 0; i < OUTBOX_SLOTS; i++)
	{
		struct nbaddr x = src_addr(i);

		check_ctl(b, i, FK_DISCONNECTED, 100 + i, &x);
	}
	ck_assert(!sock_has_output(&b->s));
	node_free(b);
}
END_TEST

START_TEST(test_bad_datagrams_counted)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 x = A("10.9.9.9:999");
	uint8_t		 buf[FRAME_HDR_SIZE];

	memset(buf, 0, sizeof(buf));
	sock_input(&b->s, T0, &x, buf, 3);
	ck_assert_uint_eq(b->s.st.drops[DROP_SHORT], 1);
	frame_put_ctl(buf, FK_HEARTBEAT, 5);
	buf[0] = 2;
	sock_input(&b->s, T0, &x, buf, sizeof(buf));
	ck_assert_uint_eq(b->s.st.drops[DROP_VERSION], 1);
	frame_put_ctl(buf, 9, 5);
	sock_input(&b->s, T0, &x, buf, sizeof(buf));
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_KIND], 1);
	frame_put_ctl(buf, FRAME_ENCRYPTED | FK_CONNECT, 0);
	sock_input(&b->s, T0, &x, buf, sizeof(buf));
	ck_assert_uint_eq(b->s.st.drops[DROP_ENCRYPTED], 1);
	flush(b);
	/* None of them is answered but the encrypted Connect: a plain
	 * Disconnected(0) says this socket is plain (PROTOCOL.md 5). */
	check_only_ctl(b, FK_DISCONNECTED, 0, &x);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->s.st.rx_datagrams, 4);
	node_free(b);
}
END_TEST

/*
 * Dealer: sending
 */

START_TEST(test_dealer_send_queues_tick_in_order)
{
	static const uint32_t s0[] = { 1000 }, s1[] = { 0, 5 };
	static const uint32_t s2[] = { 466, 467 };
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct peer	*p;
	struct frame	 f;
	uint64_t	 id, msgid0 = 0;
	/* Every frame's (msg, part, offset, chunk), as a sender cuts them. */
	static const uint32_t want[][4] = {
		{ 0, 0, 0, 466 }, { 0, 0, 466, 466 }, { 0, 0, 932, 68 },
		{ 1, 0, 0, 0 }, { 1, 1, 0, 5 },
		{ 2, 0, 0, 466 }, { 2, 1, 0, 466 }, { 2, 1, 466, 1 },
	};

	id = handshake(b, c, T0);
	p = only_peer(c);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(0, 1, s0), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(1, 2, s1), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(2, 2, s2), T0, 0), 0);
	/* Queued, nothing sent before the tick. */
	ck_assert_uint_eq(p->sendq_len, 3);
	ck_assert_uint_eq(c->s.queued, 3);
	ck_assert(sock_has_output(&c->s));
	ck_assert_uint_eq(sock_send_room(&c->s), c->s.o.send_hwm - 3);
	flush(c);
	ck_assert_uint_eq(c->nout, 0);
	ck_assert_int_eq(sock_tick(&c->s, T0 + MSEC), 0);
	flush(c);
	ck_assert_uint_eq(c->nout, 8);
	for (size_t i = 0; i < c->nout; i++) {
		ck_assert(addr_eq(&c->out[i].to, &b->addr));
		ck_assert_int_eq(frame_parse(c->out[i].buf, c->out[i].len,
		    c->s.o.max_message_size, &f), DROP_NONE);
		ck_assert_int_eq(f.kind, FK_DATA);
		ck_assert_uint_eq(f.session, id);
		if (i == 0)
			msgid0 = f.msgid;
		ck_assert_uint_eq(f.msgid, msgid0 + want[i][0]);
		ck_assert_uint_eq(f.part_index, want[i][1]);
		ck_assert_uint_eq(f.chunk_offset, want[i][2]);
		ck_assert_uint_eq(f.chunk_size, want[i][3]);
		ck_assert_uint_le(c->out[i].len, c->s.o.max_frame_size);
	}
	ck_assert_uint_eq(p->sendq_len, 0);
	ck_assert_uint_eq(c->s.queued, 0);
	ck_assert(!sock_has_output(&c->s));
	ck_assert_uint_eq(c->s.st.tx_msgs, 3);
	ck_assert_uint_eq(p->st.tx_bytes, 1000 + 5 + 933);
	ck_assert_uint_eq(p->last_sent, T0 + MSEC);
	ck_assert_int_eq(pass(c, b, T0 + MSEC), 8);
	recv_check(b, id, 0, 1, s0);
	recv_check(b, id, 1, 2, s1);
	recv_check(b, id, 2, 2, s2);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_int_eq(b->recv_ready, 1);
	ck_assert_uint_eq(total_drops(&b->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_dealer_round_robin_3_peers)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct node	*c[3];
	uint64_t	 id[3];
	struct msg	*m;

	c[0] = node_new("10.0.0.2:2000", 0);
	c[1] = node_new("10.0.0.3:3000", 0);
	c[2] = node_new("10.0.0.4:4000", 0);
	for (int i = 0; i < 3; i++)
		id[i] = handshake(b, c[i], T0);
	for (uint32_t i = 0; i < 9; i++)
		ck_assert_int_eq(sock_send(&b->s, mkmsg1(i, 10 + i), T0, 0), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(sock_peer_by_id(&b->s, id[i])->sendq_len, 3);
	tick(b, T0);
	ck_assert_uint_eq(b->nout, 9);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(pass(b, c[k], T0), 3);
		for (uint32_t i = k; i < 9; i += 3)
			recv_check1(c[k], id[k], i, 10 + i);
		ck_assert_ptr_null(sock_recv(&c[k]->s));
	}
	/* One peer leaves: the others share. */
	inject_ctl(b, T0, &c[1]->addr, FK_DISCONNECTED, id[1]);
	ck_assert_uint_eq(b->s.npeers, 2);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(sock_send(&b->s, mkmsg1(i, 1), T0, 0), 0);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[0])->sendq_len, 2);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[2])->sendq_len, 2);
	/* A message for one peer goes there, round robin or not. */
	m = mkmsg1(50, 1);
	m->peer = id[2];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[2])->sendq_len, 3);
	m = mkmsg1(51, 1);
	m->peer = id[1];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), EHOSTUNREACH);
	node_free(b);
	for (int i = 0; i < 3; i++)
		node_free(c[i]);
}
END_TEST

START_TEST(test_dealer_send_hwm)
{
	struct sockopts	 o;
	struct node	*b, *c[3];
	uint64_t	 id[3];
	struct msg	*m;

	opts_defaults(&o);
	o.send_hwm = 2;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	c[0] = node_new("10.0.0.2:2000", 0);
	c[1] = node_new("10.0.0.3:3000", 0);
	c[2] = node_new("10.0.0.4:4000", 0);
	for (int i = 0; i < 3; i++)
		id[i] = handshake(b, c[i], T0);
	ck_assert_uint_eq(sock_send_room(&b->s), 6);
	for (uint32_t i = 0; i < 6; i++) {
		ck_assert_int_eq(sock_send(&b->s, mkmsg1(i, 10), T0, 0), 0);
		ck_assert_uint_eq(sock_send_room(&b->s), 5 - i);
	}
	/* Everyone at send_hwm. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(6, 10), T0, 0), EAGAIN);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_uint_eq(b->s.queued, 6);
	m = mkmsg1(7, 10);
	m->peer = id[1];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), EAGAIN);
	/* Credit granted earlier: force goes over it. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(8, 10), T0, 1), 0);
	m = mkmsg1(9, 10);
	m->peer = id[1];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 1), 0);
	ck_assert_uint_eq(b->s.queued, 8);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[1])->sendq_len, 3);
	/* Forced without a peer: the least loaded one takes it. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(10, 10), T0, 1), 0);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[2])->sendq_len, 3);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(11, 10), T0, 1), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_le(sock_peer_by_id(&b->s, id[i])->sendq_len, 4);
	tick(b, T0);
	ck_assert_uint_eq(b->nout, 10);
	ck_assert_uint_eq(sock_send_room(&b->s), 6);
	ck_assert_uint_eq(b->s.queued, 0);
	node_free(b);
	for (int i = 0; i < 3; i++)
		node_free(c[i]);
}
END_TEST

START_TEST(test_dealer_no_peer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);

	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 1), T0, 0), EHOSTUNREACH);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 1), T0, 1), EHOSTUNREACH);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1), T0, 0), EHOSTUNREACH);
	sock_set_remote(&c->s, &b->addr, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1), T0, 0), EHOSTUNREACH);
	ck_assert_uint_eq(sock_send_room(&c->s), 0);
	ck_assert_uint_eq(b->s.queued + c->s.queued, 0);
	ck_assert(!sock_has_output(&b->s));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_dish_cannot_send)
{
	struct node	*b = node_new_opts(B_ADDR, NBMQ_DISH, 1, NULL);
	struct node	*c = node_new(C_ADDR, 0);
	uint64_t	 id;

	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 1), T0, 0), ENOTSUP);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 1), T0, 1), ENOTSUP);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	/* It receives. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 700), T0, 0), 0);
	tick(c, T0);
	pass(c, b, T0);
	recv_check1(b, id, 2, 700);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_send_too_big)
{
	struct sockopts	 o;
	struct node	*b = node_new(B_ADDR, 1), *c;

	opts_defaults(&o);
	o.max_message_size = 1000;
	c = node_new_opts(C_ADDR, NBMQ_DEALER, 0, &o);
	handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1001), T0, 0), EMSGSIZE);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), T0, 0), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_radio_sends_to_all)
{
	struct node	*b = node_new_opts(B_ADDR, NBMQ_RADIO, 1, NULL);
	struct node	*c[3];
	uint64_t	 id[3];
	static const uint32_t sz[] = { 3, 0, 600 };

	for (int i = 0; i < 3; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.0.0.%d:2000", i + 2);
		c[i] = node_new(text, 0);
		id[i] = handshake(b, c[i], T0);
	}
	ck_assert_int_eq(sock_send(&b->s, mkmsg(5, 3, sz), T0, 0), 0);
	ck_assert_uint_eq(b->s.queued, 3);
	tick(b, T0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(pass(b, c[i], T0), 4);
		recv_check(c[i], id[i], 5, 3, sz);
	}
	/* A radio receives nothing. */
	ck_assert_int_eq(sock_send(&c[0]->s, mkmsg1(1, 1), T0, 0), 0);
	tick(c[0], T0);
	pass(c[0], b, T0);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.st.drops[DROP_NO_RECV], 1);
	node_free(b);
	for (int i = 0; i < 3; i++)
		node_free(c[i]);
}
END_TEST

START_TEST(test_drr_fairness)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct node	*ca = node_new("10.0.0.2:2000", 0);
	struct node	*cb = node_new("10.0.0.3:3000", 0);
	uint64_t	 ida, idb;
	struct msg	*m;
	int		 pos = -1;
	size_t		 before;

	ida = handshake(b, ca, T0);
	idb = handshake(b, cb, T0);
	/* A: 100 big messages first, then B: one small. */
	for (uint32_t i = 0; i < 100; i++) {
		m = mkmsg1(i, 5000);
		m->peer = ida;
		ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	}
	m = mkmsg1(1000, 10);
	m->peer = idb;
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_int_eq(sock_tick(&b->s, T0), 1);	/* 1000 of 1100 */
	flush(b);
	ck_assert_uint_eq(b->nout, b->s.o.max_tick_send);
	for (size_t i = 0; i < b->nout; i++)
		if (addr_eq(&b->out[i].to, &cb->addr)) {
			ck_assert_int_eq(pos, -1);
			pos = (int)i;
		}
	ck_assert_int_ge(pos, 0);
	ck_assert_int_lt(pos, 2);
	ck_assert_int_eq(pass(b, cb, T0), 1);
	recv_check1(cb, idb, 1000, 10);

	/*
	 * B joins while A is busy.  A may carry up to one frame's worth of
	 * deficit into the round: at most two of its frames go before B's.
	 */
	before = b->nout;
	m = mkmsg1(1001, 300);
	m->peer = idb;
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_int_eq(sock_tick(&b->s, T0), 0);
	flush(b);
	pos = -1;
	for (size_t i = before; i < b->nout; i++)
		if (addr_eq(&b->out[i].to, &cb->addr))
			pos = (int)(i - before);
	ck_assert_int_ge(pos, 0);
	ck_assert_int_lt(pos, 3);
	ck_assert_int_eq(pass(b, cb, T0), 1);
	recv_check1(cb, idb, 1001, 300);
	/* And A gets everything, in order. */
	pass(b, ca, T0);
	for (uint32_t i = 0; i < 100; i++)
		recv_check1(ca, ida, i, 5000);
	node_free(b);
	node_free(ca);
	node_free(cb);
}
END_TEST

START_TEST(test_drr_three_peers)
{
	/*
	 * Three peers, A with 100 times the backlog of B and C (100 messages
	 * of 10 frames against one each): B's and C's frames all leave in
	 * the first three rounds of the tick, interleaved with A's.
	 */
	struct node	*b = node_new(B_ADDR, 1), *c[3];
	uint64_t	 id[3];
	struct msg	*m;
	int		 last[3] = { -1, -1, -1 }, count[3] = { 0, 0, 0 };

	for (int k = 0; k < 3; k++) {
		char	addr[32];

		snprintf(addr, sizeof(addr), "10.0.0.%d:%d", 2 + k, 2000 + k);
		c[k] = node_new(addr, 0);
		id[k] = handshake(b, c[k], T0);
	}
	for (uint32_t i = 0; i < 100; i++) {
		m = mkmsg1(i, 466 * 10);
		m->peer = id[0];
		ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	}
	for (int k = 1; k < 3; k++) {
		m = mkmsg1(500 + (uint32_t)k, 466 * 10);
		m->peer = id[k];
		ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	}
	ck_assert_int_eq(sock_tick(&b->s, T0), 1);
	flush(b);
	ck_assert_uint_eq(b->nout, b->s.o.max_tick_send);
	for (size_t i = 0; i < b->nout; i++)
		for (int k = 0; k < 3; k++)
			if (addr_eq(&b->out[i].to, &c[k]->addr)) {
				last[k] = (int)i;
				count[k]++;
			}
	ck_assert_int_eq(count[1], 10);
	ck_assert_int_eq(count[2], 10);
	ck_assert_int_lt(last[1], 30);
	ck_assert_int_lt(last[2], 30);
	ck_assert_int_eq(count[0], (int)b->s.o.max_tick_send - 20);
	for (int k = 1; k < 3; k++) {
		ck_assert_int_eq(pass(b, c[k], T0), 10);
		recv_check1(c[k], id[k], 500 + (uint32_t)k, 466 * 10);
	}
	node_free(b);
	for (int k = 0; k < 3; k++)
		node_free(c[k]);
}
END_TEST

START_TEST(test_drr_equal_share)
{
	/* Two busy peers with equal frames alternate. */
	struct sockopts	 o;
	struct node	*b, *ca, *cb;
	struct msg	*m;
	uint64_t	 ida, idb;
	int		 na = 0, nb = 0;

	opts_defaults(&o);
	o.max_tick_send = 100;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	ca = node_new("10.0.0.2:2000", 0);
	cb = node_new("10.0.0.3:3000", 0);
	ida = handshake(b, ca, T0);
	idb = handshake(b, cb, T0);
	for (uint32_t i = 0; i < 20; i++) {
		m = mkmsg1(i, 466 * 10);
		m->peer = i < 10 ? ida : idb;
		ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	}
	ck_assert_int_eq(sock_tick(&b->s, T0), 1);
	flush(b);
	ck_assert_uint_eq(b->nout, 100);
	for (size_t i = 0; i < b->nout; i++) {
		int to_a = addr_eq(&b->out[i].to, &ca->addr);

		ck_assert_int_eq(to_a, i % 2 == 0);
		if (to_a)
			na++;
		else
			nb++;
	}
	ck_assert_int_eq(na, 50);
	ck_assert_int_eq(nb, 50);
	node_free(b);
	node_free(ca);
	node_free(cb);
}
END_TEST

START_TEST(test_max_tick_send)
{
	struct sockopts	 o;
	struct node	*b = node_new(B_ADDR, 1), *c;
	uint64_t	 id;
	int		 ticks = 0, more;

	opts_defaults(&o);
	o.max_tick_send = 7;
	c = node_new_opts(C_ADDR, NBMQ_DEALER, 0, &o);
	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 10; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
	do {
		size_t before = c->nout;

		more = sock_tick(&c->s, T0);
		flush(c);
		ticks++;
		ck_assert_uint_eq(c->nout - before, more ? 7 : 30 % 7);
	} while (more);
	ck_assert_int_eq(ticks, 5);
	ck_assert_uint_eq(c->nout, 30);
	ck_assert(!sock_has_output(&c->s));
	pass(c, b, T0);
	for (uint32_t i = 0; i < 10; i++)
		recv_check1(b, id, i, 1000);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_tick_kernel_full)
{
	/* More frames than outbox slots, and a kernel that stops taking. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;
	int		 flushes;

	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 50; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
	c->refuse = 1;
	flushes = c->flushes;
	ck_assert_int_eq(sock_tick(&c->s, T0), 1);
	ck_assert_int_gt(c->flushes, flushes);
	ck_assert_int_eq(c->s.ob.n, OUTBOX_SLOTS);
	ck_assert(sock_has_output(&c->s));
	ck_assert_int_eq(sock_tick(&c->s, T0), 1);	/* still full */
	ck_assert_int_eq(c->s.ob.n, OUTBOX_SLOTS);
	c->refuse = 0;
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 150);
	ck_assert(!sock_has_output(&c->s));
	pass(c, b, T0);
	for (uint32_t i = 0; i < 50; i++)
		recv_check1(b, id, i, 1000);
	ck_assert_uint_eq(total_drops(&c->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST


START_TEST(test_up_set_remote_keeps_link)
{
	/* A new resolution while up: no Connect, the next attempt uses it. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 other = A("10.0.0.5:5000");
	uint64_t	 id;

	id = handshake(b, c, T0);
	sock_set_remote(&c->s, &other, T0 + MSEC);
	flush(c);
	ck_assert_uint_eq(c->nout, 0);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_uint_eq(only_peer(c)->session, id);
	inject_ctl(c, T0 + 2 * MSEC, &b->addr, FK_DISCONNECTED, id);
	check_only_ctl(c, FK_CONNECT, 0, &other);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_ctl_outbox_full_flushes)
{
	/* More replies than outbox slots in one go: flushed, in order. */
	struct node	*b = node_new(B_ADDR, 1);

	for (int i = 0; i < 3 * OUTBOX_SLOTS; i++) {
		uint8_t buf[FRAME_HDR_SIZE];

		frame_put_ctl(buf, FK_HEARTBEAT, 100 + i);
		struct nbaddr x = src_addr(i);

		sock_input(&b->s, T0, &x, buf, sizeof(buf));
	}
	ck_assert_uint_eq(b->nout, 2 * OUTBOX_SLOTS);
	flush(b);
	ck_assert_uint_eq(b->nout, 3 * OUTBOX_SLOTS);
	for (int i = 0; i < 3 * OUTBOX_SLOTS; i++)
	{
		struct nbaddr x = src_addr(i);

		check_ctl(b, i, FK_DISCONNECTED, 100 + i, &x);
	}
	ck_assert_uint_eq(b->s.st.drops[DROP_SEND_FAILED], 0);
	node_free(b);
}
END_TEST

START_TEST(test_tick_kernel_partial)
{
	/* The kernel takes a few datagrams a time: nothing lost, in order. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;
	int		 rounds = 0;

	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 50; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
	c->accept = 7;
	while (sock_tick(&c->s, T0) || c->s.ob.n > 0) {
		flush(c);
		ck_assert_int_lt(++rounds, 1000);
	}
	ck_assert_uint_eq(c->nout, 150);
	pass(c, b, T0);
	for (uint32_t i = 0; i < 50; i++)
		recv_check1(b, id, i, 1000);
	ck_assert_uint_eq(total_drops(&b->s) + total_drops(&c->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_radio_send_hwm)
{
	/* A radio's room is the smallest over its peers; a full peer */
	/* misses the message, the others get it. */
	struct sockopts	 o;
	struct node	*b, *c[2];
	uint64_t	 id[2];
	struct msg	*m;

	opts_defaults(&o);
	o.send_hwm = 2;
	b = node_new_opts(B_ADDR, NBMQ_RADIO, 1, &o);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	c[0] = node_new("10.0.0.2:2000", 0);
	c[1] = node_new("10.0.0.3:3000", 0);
	for (int i = 0; i < 2; i++)
		id[i] = handshake(b, c[i], T0);
	ck_assert_uint_eq(sock_send_room(&b->s), 2);
	m = mkmsg1(1, 10);
	m->peer = id[0];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_uint_eq(sock_send_room(&b->s), 1);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(2, 10), T0, 0), 0);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(3, 10), T0, 0), 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_SEND_FAILED], 1);
	tick(b, T0);
	ck_assert_int_eq(pass(b, c[0], T0), 2);
	ck_assert_int_eq(pass(b, c[1], T0), 2);
	recv_check1(c[0], id[0], 1, 10);
	recv_check1(c[0], id[0], 2, 10);
	ck_assert_ptr_null(sock_recv(&c[0]->s));
	recv_check1(c[1], id[1], 2, 10);
	recv_check1(c[1], id[1], 3, 10);
	node_free(b);
	node_free(c[0]);
	node_free(c[1]);
}
END_TEST

/*
 * Receiving
 */

/* msgring: FIFO order across wrap-around and growth; pop takes the newest. */
START_TEST(test_msgring)
{
	struct msgring	 r = { 0 };
	struct msg	*m;
	uint64_t	 next = 0, last = 0;

	ck_assert_ptr_null(msgring_shift(&r));
	ck_assert_ptr_null(msgring_pop(&r));
	for (int round = 0; round < 5; round++) {
		/* 50 in, 30 out: the ring wraps, then grows while wrapped. */
		for (int i = 0; i < 50 + round * 40; i++) {
			ck_assert_ptr_nonnull(m = msg_new(1, 0));
			m->id = last++;
			ck_assert_int_eq(msgring_push(&r, m), 0);
		}
		for (int i = 0; i < 30; i++) {
			ck_assert_ptr_nonnull(m = msgring_shift(&r));
			ck_assert_uint_eq(m->id, next++);
			msg_free(m);
		}
		ck_assert_uint_eq(r.len, last - next);
	}
	/* Newest first from the other end. */
	ck_assert_ptr_nonnull(m = msgring_pop(&r));
	ck_assert_uint_eq(m->id, --last);
	msg_free(m);
	ck_assert_ptr_nonnull(m = msgring_shift(&r));
	ck_assert_uint_eq(m->id, next++);
	msg_free(m);
	/* A shared message: the ring holds one reference of its own. */
	ck_assert_ptr_nonnull(m = msg_new(1, 0));
	ck_assert_int_eq(msgring_push(&r, msg_ref(m)), 0);
	msgring_free(&r);	/* frees the rest (ASan/valgrind: no leak) */
	ck_assert_uint_eq(r.len, 0);
	ck_assert_uint_eq(m->refs, 1);
	msg_free(m);
	ck_assert_ptr_null(msgring_shift(&r));
}
END_TEST

/*
 * Messages the shell took and holds for an application (rq_held) leave
 * room under recv_hwm (the shell bounds them on its own); given back
 * (sock_unrecv, newest first), they are received again first, in their
 * order, then what came meanwhile, the queue over recv_hwm until it
 * drains.
 */
START_TEST(test_recv_held_given_back)
{
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct msg	*m, *held[2];
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 3;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 2; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_ptr_nonnull(held[i] = sock_recv(&b->s));
		b->s.rq_held++;		/* what ipc.c does */
	}
	ck_assert_uint_eq(b->s.rq_len, 0);
	ck_assert_uint_eq(sock_recv_count(&b->s), 0);
	/* Three more fit under recv_hwm 3; the next is dropped. */
	for (uint32_t i = 2; i < 6; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 4);
	ck_assert_uint_eq(b->s.rq_len, 3);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	/* The application went away: back at the head, in order. */
	b->recv_ready = 0;
	sock_unrecv(&b->s, held[1]);
	sock_unrecv(&b->s, held[0]);
	ck_assert_uint_eq(b->s.rq_held, 0);
	ck_assert_uint_eq(b->s.rq_len, 5);
	ck_assert_uint_eq(b->recv_ready, 0);	/* it was not empty */
	/* Over recv_hwm now: the next one is dropped. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(7, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 2);
	for (uint32_t i = 0; i < 5; i++)
		recv_check1(b, id, i, 10);
	ck_assert_ptr_nonnull(m = sock_recv(&b->s));	/* the drop marker */
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 2);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&b->s));
	/* An empty queue that gets one back says so (recv_ready). */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(9, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_ptr_nonnull(m = sock_recv(&b->s));
	b->s.rq_held++;
	b->recv_ready = 0;
	sock_unrecv(&b->s, m);
	ck_assert_int_eq(b->recv_ready, 1);
	recv_check1(b, id, 9, 10);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm)
{
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct peer	*bp;
	struct msg	*m;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 2;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	bp = only_peer(b);
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 3);
	ck_assert_uint_eq(b->s.rq_len, 2);
	ck_assert_uint_eq(sock_recv_count(&b->s), 2);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(bp->st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(b->s.drops_unreported, 1);
	ck_assert_int_eq(b->recv_ready, 1);
	recv_check1(b, id, 0, 10);
	recv_check1(b, id, 1, 10);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_ge(m->dropped, 1);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.drops_unreported, 0);
	ck_assert_uint_eq(sock_recv_count(&b->s), 0);

	/* Room again; then a 3-frame message over the hwm counts once, */
	/* and later drops join the marker at the end of the queue. */
	for (uint32_t i = 10; i < 15; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, i < 12 ? 10 :
		    1000), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 2 + 3 * 3);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 4);
	ck_assert_uint_eq(b->s.nreasm, 0);
	recv_check1(b, id, 10, 10);
	recv_check1(b, id, 11, 10);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 3);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_int_eq(b->recv_ready, 2);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm_counts_reassembly)
{
	/* Messages being reassembled hold room under recv_hwm too. */
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct msg	*m;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 2;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 9);
	/* The first frame of each: two start, the third is dropped. */
	for (int i = 0; i < 3; i++)
		sock_input(&b->s, T0, &c->addr, c->out[i * 3].buf,
		    c->out[i * 3].len);
	ck_assert_uint_eq(b->s.nreasm, 2);
	ck_assert_uint_eq(sock_recv_count(&b->s), 2);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	for (int i = 0; i < 2; i++)
		for (int k = 1; k < 3; k++)
			sock_input(&b->s, T0, &c->addr, c->out[i * 3 + k].buf,
			    c->out[i * 3 + k].len);
	ck_assert_uint_eq(b->s.nreasm, 0);
	/* The drop happened first: its marker comes first. */
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 1);
	msg_free(m);
	recv_check1(b, id, 0, 1000);
	recv_check1(b, id, 1, 1000);
	ck_assert_ptr_null(sock_recv(&b->s));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm_reordered_counted_once)
{
	/* Over recv_hwm, a message's frames in any order: one drop. */
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct msg	*m;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 1;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(0, 10), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 4);
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	for (int i = 3; i >= 1; i--)
		sock_input(&b->s, T0, &c->addr, c->out[i].buf, c->out[i].len);
	/* The first frame again (a resend): still the same drop. */
	sock_input(&b->s, T0, &c->addr, c->out[1].buf, c->out[1].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(b->s.nreasm, 0);
	recv_check1(b, id, 0, 10);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 1);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&b->s));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_reasm_ttl)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2] = { b, c };
	const nbmq_time	 ttl = b->s.o.uncompleted_message_ttl;
	const nbmq_time	 maint = b->s.o.queue_maint_ivl;
	nbmq_time	 now = T0, t1;
	uint64_t	 id;

	id = handshake(b, c, now);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
	now += 300 * MSEC;
	t1 = now;
	tick(c, now);
	ck_assert_uint_eq(c->nout, 3);
	/* Only the first frame arrives. */
	sock_input(&b->s, now, &c->addr, c->out[0].buf, c->out[0].len);
	flush(b);
	out_reset(c);
	ck_assert_uint_eq(b->s.nreasm, 1);
	ck_assert_uint_eq(sock_recv_count(&b->s), 1);
	ck_assert_uint_eq(b->s.maint_at, t1 + maint);
	ck_assert_uint_le(sock_next_deadline(&b->s), t1 + maint);
	/* The peer stays alive (heartbeats pass); the message waits... */
	now = run_until(nodes, 2, now, t1 + ttl - 1);
	ck_assert_uint_eq(b->s.nreasm, 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 0);
	/* ... until ttl after its last frame, give or take a maint run. */
	now = run_until(nodes, 2, now, t1 + ttl + maint);
	ck_assert_uint_eq(b->s.nreasm, 0);
	ck_assert_uint_eq(sock_recv_count(&b->s), 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(only_peer(b)->st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(b->s.maint_at, NBMQ_TIME_NEVER);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), only_peer(b));
	/* Nothing is left to maintain: only heartbeats remain. */
	ck_assert_uint_eq(sock_next_deadline(&b->s),
	    only_peer(b)->last_sent + b->s.o.peer_heartbeat_ivl);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * Fire and forget: a message overtaken by 16 newer incomplete ones from
 * its peer goes at once (reassembly_timeout), not after the TTL.
 */
START_TEST(test_reasm_overtaken)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	nbmq_time	 now = T0;

	handshake(b, c, now);
	for (int i = 0; i < 17; i++) {
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
		tick(c, now);
		ck_assert_uint_eq(c->nout, 3);
		/* The first frame of each, then the rest held back. */
		sock_input(&b->s, now, &c->addr, c->out[0].buf,
		    c->out[0].len);
		out_reset(c);
		ck_assert_uint_eq(b->s.nreasm, i < 16 ? i + 1 : 16);
	}
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(only_peer(b)->st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(only_peer(b)->nreasms, 16);
	ck_assert_ptr_null(sock_recv(&b->s));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_reasm_ttl_refreshed_by_frames)
{
	/* Each frame restarts the message's ttl. */
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct node	*nodes[2];
	struct dgram	 held[3];
	nbmq_time	 now = T0;
	uint64_t	 id;

	opts_defaults(&o);
	o.uncompleted_message_ttl = 2 * NSEC;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	nodes[0] = b;
	nodes[1] = c;
	id = handshake(b, c, now);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
	tick(c, now);
	ck_assert_uint_eq(c->nout, 3);
	memcpy(held, c->out, sizeof(held));	/* held back by the network */
	c->nout = 0;
	for (int i = 0; i < 3; i++) {
		sock_input(&b->s, now, &c->addr, held[i].buf, held[i].len);
		flush(b);
		free(held[i].buf);
		if (i < 2) {
			now = run_until(nodes, 2, now,
			    now + o.uncompleted_message_ttl - 1);
			ck_assert_uint_eq(b->s.nreasm, 1);
		}
	}
	recv_check1(b, id, 1, 1000);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_reasm_ttl_bad_frame_keeps_order)
{
	/*
	 * A frame that conflicts with a message is dropped and is no sign
	 * of life: the message still expires ttl after its last good frame,
	 * even when other messages started later.
	 */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2] = { b, c };
	const nbmq_time	 ttl = b->s.o.uncompleted_message_ttl;
	const nbmq_time	 maint = b->s.o.queue_maint_ivl;
	struct dgram	 held[6];
	struct frame	 f;
	nbmq_time	 now = T0;
	uint8_t		 bad[FRAME_DATA_HDR_SIZE + 10];

	handshake(b, c, now);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 1000), now, 0), 0);
	tick(c, now);
	ck_assert_uint_eq(c->nout, 6);
	memcpy(held, c->out, sizeof(held));
	c->nout = 0;
	/* m1's first frame at T0, m2's at T0 + 5 s. */
	sock_input(&b->s, now, &c->addr, held[0].buf, held[0].len);
	now = run_until(nodes, 2, now, T0 + 5 * NSEC);
	sock_input(&b->s, now, &c->addr, held[3].buf, held[3].len);
	ck_assert_uint_eq(b->s.nreasm, 2);
	/* At T0 + 6 s, a frame of m1 that disagrees with it. */
	now = run_until(nodes, 2, now, T0 + 6 * NSEC);
	ck_assert_int_eq(frame_parse(held[0].buf, held[0].len,
	    b->s.o.max_message_size, &f), DROP_NONE);
	f.message_size += 1;
	f.part_size += 1;
	f.chunk_size = 10;
	frame_put_data_hdr(bad, &f);
	memset(bad + FRAME_DATA_HDR_SIZE, 0, 10);
	sock_input(&b->s, now, &c->addr, bad, sizeof(bad));
	ck_assert_uint_eq(b->s.st.drops[DROP_INCONSISTENT], 1);
	/* m1 goes by T0 + ttl + maint, m2 stays. */
	now = run_until(nodes, 2, now, T0 + ttl + maint);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(b->s.nreasm, 1);
	now = run_until(nodes, 2, now, T0 + 5 * NSEC + ttl + maint);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 2);
	ck_assert_uint_eq(b->s.nreasm, 0);
	for (int i = 0; i < 6; i++)
		free(held[i].buf);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm_dropped_message_tail)
{
	/*
	 * The rest of a message dropped at recv_hwm arrives after the app
	 * made room: it is part of the dropped message, it must not hold
	 * room that the next complete message needs.
	 */
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct msg	*m;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 1;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(0, 10), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 1 + 3 + 1);
	/* m0 fills the queue, m1's first frame is dropped. */
	for (int i = 0; i < 2; i++)
		sock_input(&b->s, T0, &c->addr, c->out[i].buf, c->out[i].len);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	/* The app reads m0 and the drop report. */
	recv_check1(b, id, 0, 10);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 1);
	msg_free(m);
	/* Then m1's tail and m2. */
	for (int i = 2; i < 5; i++)
		sock_input(&b->s, T0, &c->addr, c->out[i].buf, c->out[i].len);
	out_reset(c);
	recv_check1(b, id, 2, 10);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(b->s.nreasm, 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_duplicate_message_delivered_once)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;

	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 1);
	/* The network duplicates the datagram. */
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.rq_len, 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_DUPLICATE], 1);
	recv_check1(b, id, 1, 100);
	ck_assert_ptr_null(sock_recv(&b->s));
	/* Also after the app took it, and for a multi-frame message. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 1000), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 3);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < c->nout; i++)
			sock_input(&b->s, T0, &c->addr, c->out[i].buf,
			    c->out[i].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.st.drops[DROP_DUPLICATE], 1 + 3);
	recv_check1(b, id, 2, 1000);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.nreasm, 0);
	ck_assert_uint_eq(b->s.st.rx_msgs, 2);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_interleaved_and_reordered)
{
	/* Frames of two messages, mixed and reversed: both complete. */
	static const uint32_t s1[] = { 1000, 0, 20 }, s2[] = { 5, 1400 };
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;

	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(1, 3, s1), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(2, 2, s2), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 5 + 5);
	for (size_t i = c->nout; i-- > 0;)
		sock_input(&b->s, T0, &c->addr, c->out[i].buf, c->out[i].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.nreasm, 0);
	recv_check(b, id, 2, 2, s2);
	recv_check(b, id, 1, 3, s1);
	ck_assert_uint_eq(total_drops(&b->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

/* The 10,000-message exchange */

static int
gen(uint32_t seed, uint32_t *sizes)
{
	uint64_t	z = seed * 0x9e3779b97f4a7c15ULL + 12345;
	int		nparts;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	nparts = 1 + (int)(z % 5);
	for (int i = 0; i < nparts; i++) {
		z = z * 6364136223846793005ULL + 1442695040888963407ULL;
		switch ((z >> 33) % 8) {
		case 0: sizes[i] = 0; break;
		case 1: sizes[i] = 1; break;
		case 2: sizes[i] = 465; break;
		case 3: sizes[i] = 466; break;
		case 4: sizes[i] = 467; break;
		default: sizes[i] = (uint32_t)(z >> 40) % 2000; break;
		}
	}
	if (seed % 500 == 7)
		sizes[0] = 70000;
	return nparts;
}

START_TEST(test_exchange_10000)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2] = { b, c };
	const uint32_t	 total = 10000, batch = 150;
	uint32_t	 sent_c = 0, sent_b = 0, got_b = 0, got_c = 0;
	uint32_t	 sizes[8];
	nbmq_time	 now = T0;
	uint64_t	 id, bytes = 0;
	struct msg	*m;
	int		 n;

	id = handshake(b, c, now);
	while (got_b + got_c < total) {
		/* c sends even seeds, b odd ones. */
		for (uint32_t k = 0; k < batch && sent_c < total / 2; k++) {
			uint32_t seed = 2 * sent_c++;

			n = gen(seed, sizes);
			REQUIRE(sock_send(&c->s, mkmsg(seed, n, sizes), now,
			    0) == 0);
		}
		for (uint32_t k = 0; k < batch && sent_b < total / 2; k++) {
			uint32_t seed = 2 * sent_b++ + 1;

			n = gen(seed, sizes);
			REQUIRE(sock_send(&b->s, mkmsg(seed, n, sizes), now,
			    0) == 0);
		}
		tick(c, now);
		tick(b, now);
		net(nodes, 2, now);
		while ((m = sock_recv(&b->s)) != NULL) {
			uint32_t seed = 2 * got_b++;

			n = gen(seed, sizes);
			if (!msg_is(m, seed, n, sizes))
				ck_abort_msg("b: message %u: %s", seed,
				    msg_diff(m, seed, n, sizes));
			REQUIRE(m->peer == id);
			bytes += m->size;
			msg_free(m);
		}
		while ((m = sock_recv(&c->s)) != NULL) {
			uint32_t seed = 2 * got_c++ + 1;

			n = gen(seed, sizes);
			if (!msg_is(m, seed, n, sizes))
				ck_abort_msg("c: message %u: %s", seed,
				    msg_diff(m, seed, n, sizes));
			REQUIRE(m->peer == id);
			bytes += m->size;
			msg_free(m);
		}
		REQUIRE(got_b == sent_c);
		REQUIRE(got_c == sent_b);
		now = run_until(nodes, 2, now, now + 40 * MSEC);
	}
	ck_assert_uint_eq(got_b, total / 2);
	ck_assert_uint_eq(got_c, total / 2);
	ck_assert_uint_gt(bytes, 10ULL << 20);
	ck_assert_uint_eq(total_drops(&b->s), 0);
	ck_assert_uint_eq(total_drops(&c->s), 0);
	ck_assert_uint_eq(b->s.st.rx_msgs, total / 2);
	ck_assert_uint_eq(c->s.st.tx_msgs, total / 2);
	ck_assert_uint_eq(b->s.nreasm + c->s.nreasm, 0);
	ck_assert_uint_eq(b->s.queued + c->s.queued, 0);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), only_peer(b));
	node_free(b);
	node_free(c);
}
END_TEST

/* Deadlines */

START_TEST(test_next_deadline)
{
	struct sockopts	 o;
	struct node	*idle = node_new(C_ADDR, 0);
	struct node	*b, *c;
	nbmq_time	 now = T0;

	/* Nothing to do: never, and timers do nothing. */
	ck_assert_uint_eq(sock_next_deadline(&idle->s), NBMQ_TIME_NEVER);
	ck_assert_uint_eq(sock_timers(&idle->s, now), NBMQ_TIME_NEVER);
	flush(idle);
	ck_assert_uint_eq(idle->nout, 0);
	node_free(idle);

	opts_defaults(&o);
	o.peer_heartbeat_ivl = 3 * NSEC;
	o.peer_keepalive = 10 * NSEC;
	o.queue_maint_ivl = 1 * NSEC;
	o.reconnect_wait = 2 * NSEC;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	c = node_new_opts(C_ADDR, NBMQ_DEALER, 0, &o);
	ck_assert_uint_eq(sock_next_deadline(&b->s), NBMQ_TIME_NEVER);
	ck_assert_uint_eq(sock_timers(&b->s, now), NBMQ_TIME_NEVER);
	/* Connecting: the reconnect timer. */
	sock_set_remote(&c->s, &b->addr, now);
	flush(c);
	ck_assert_uint_eq(sock_next_deadline(&c->s), now + 2 * NSEC);
	/* Up: the heartbeat (3 s) before the keepalive (10 s). */
	now += 500 * MSEC;
	pass(c, b, now);
	pass(b, c, now);
	pass(c, b, now);
	ck_assert_uint_eq(sock_next_deadline(&b->s), now + 3 * NSEC);
	ck_assert_uint_eq(sock_next_deadline(&c->s), now + 3 * NSEC);
	/* A message in reassembly: the maintenance run (1 s) first. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
	tick(c, now);
	sock_input(&b->s, now, &c->addr, c->out[0].buf, c->out[0].len);
	out_reset(c);
	ck_assert_uint_eq(sock_next_deadline(&b->s), now + 1 * NSEC);
	ck_assert_uint_eq(sock_timers(&b->s, now + 1 * NSEC),
	    now + 2 * NSEC);
	/* Keepalive first when heartbeats are frequent. */
	node_free(b);
	node_free(c);
	o.peer_heartbeat_ivl = 20 * NSEC;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	{
		struct nbaddr ca = A(C_ADDR);

		inject_ctl(b, now, &ca, FK_CONNECT, 0);
	}
	ck_assert_uint_eq(sock_next_deadline(&b->s), now + 10 * NSEC);
	ck_assert_uint_eq(sock_timers(&b->s, now + 10 * NSEC),
	    NBMQ_TIME_NEVER);
	ck_assert_uint_eq(b->s.npeers, 0);
	node_free(b);
}
END_TEST

START_TEST(test_destroy_frees_everything)
{
	/* Queues, orphans, reassemblies, received messages: no leak. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;

	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
		ck_assert_int_eq(sock_send(&b->s, mkmsg1(i, 1000), T0, 0), 0);
	}
	tick(c, T0);
	pass(c, b, T0);			/* three in b's receive queue */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(9, 1000), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(10, 10), T0, 0), 0);
	tick(c, T0);
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.nreasm, 1);
	ck_assert_uint_eq(b->s.rq_len, 3);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(11, 10), T0, 0), 0);
	inject_ctl(c, T0, &b->addr, FK_DISCONNECTED, id);
	ck_assert_uint_eq(c->s.norphans, 1);
	node_free(b);			/* 3 queued, 1 reassembly, 3 received */
	node_free(c);			/* 1 orphan */
}
END_TEST

/*
 * Faults: out of memory, a kernel that takes nothing
 */

START_TEST(test_alloc_fail_sessions)
{
	/*
	 * Out of memory while a session is made: no session, nothing half
	 * made, no reply; the next Connect works.  Then the connecting side:
	 * never up without a peer, and it connects again.
	 */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 from;
	char		 addr[32];
	nbmq_time	 t;

	/* The peer, then by_id's first table, then by_addr's. */
	for (int k = 1; k <= 3; k++) {
		snprintf(addr, sizeof(addr), "10.0.1.%d:100", k);
		from = A(addr);
		alloc_fail_in = k;
		inject_ctl(b, T0, &from, FK_CONNECT, 0);
		ck_assert_int_eq(alloc_fail_in, 0);
		ck_assert_uint_eq(b->s.npeers, 0);
		ck_assert(hmap_find(&b->s.by_addr, addr_hash(&from)) == NULL);
		ck_assert_uint_eq(b->nout, 0);
		ck_assert_int_eq(b->nev, 0);
	}
	ck_assert_uint_eq(b->s.st.sessions_created, 0);

	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	out_reset(c);
	alloc_fail_in = 1;
	inject_ctl(c, T0, &b->addr, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(alloc_fail_in, 0);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->nout, 0);
	/* Up; a new Connected whose peer cannot be made. */
	inject_ctl(c, T0, &b->addr, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(c->s.link, LINK_UP);
	out_reset(c);
	alloc_fail_in = 1;
	inject_ctl(c, T0 + MSEC, &b->addr, FK_CONNECTED, 0x5678);
	ck_assert_int_eq(alloc_fail_in, 0);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_int_eq(c->ev[c->nev - 1].ev, PEV_DOWN_REPLACED);
	t = sock_next_deadline(&c->s);
	ck_assert_uint_eq(t, T0 + MSEC + c->s.o.reconnect_wait);
	ck_assert_uint_gt(sock_timers(&c->s, t), t);
	flush(c);
	check_only_ctl(c, FK_CONNECT, 0, &b->addr);

	/* Memory again: both sides work. */
	ck_assert_uint_eq(handshake(b, c, t), only_peer(c)->session);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_alloc_fail_receive)
{
	/*
	 * Out of memory for a received message, for its reassembly, for a
	 * recv_hwm marker, for a radio's copy: that message is lost (and
	 * counted where it can be), nothing else, and the next one arrives.
	 */
	struct sockopts	 o;
	struct node	*b, *c, *c2;
	uint64_t	 id, id2;
	struct peer	*p;
	struct msg	*m;

	opts_defaults(&o);
	o.recv_hwm = 2;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	c = node_new(C_ADDR, 0);
	id = handshake(b, c, T0);

	/* One frame: the message itself. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0);
	alloc_fail_in = 1;
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_int_eq(alloc_fail_in, 0);
	ck_assert_uint_eq(b->s.rq_len, 0);
	/* Several frames: the reassembly, its message, its ranges. */
	for (int k = 1; k <= 3; k++) {
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(10 + (uint32_t)k,
		    2000), T0, 0), 0);
		tick(c, T0);
		ck_assert_uint_eq(c->nout, 5);
		alloc_fail_in = k;
		sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
		ck_assert_int_eq(alloc_fail_in, 0);
		ck_assert_uint_eq(b->s.nreasm, 0);
		out_reset(c);
	}
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(20, 2000), T0, 0), 0);
	tick(c, T0);
	pass(c, b, T0);
	recv_check1(b, id, 20, 2000);

	/* At recv_hwm: the marker that would say so. */
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(30 + i, 10), T0, 0),
		    0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 3);
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	sock_input(&b->s, T0, &c->addr, c->out[1].buf, c->out[1].len);
	alloc_fail_in = 1;
	sock_input(&b->s, T0, &c->addr, c->out[2].buf, c->out[2].len);
	ck_assert_int_eq(alloc_fail_in, 0);
	out_reset(c);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	recv_check1(b, id, 30, 10);
	recv_check1(b, id, 31, 10);
	ck_assert_ptr_null(sock_recv(&b->s));
	node_free(b);
	node_free(c);

	/* A radio's copy for one of two peers. */
	b = node_new_opts(B_ADDR, NBMQ_RADIO, 1, NULL);
	c = node_new(C_ADDR, 0);
	c2 = node_new("10.0.0.3:3000", 0);
	id = handshake(b, c, T0);
	id2 = handshake(b, c2, T0);
	m = mkmsg1(40, 10);
	alloc_fail_in = 1;
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_int_eq(alloc_fail_in, 0);
	ck_assert_uint_eq(b->s.queued, 1);
	p = sock_peer_by_id(&b->s, id);
	ck_assert_uint_eq(p->sendq_len + sock_peer_by_id(&b->s, id2)->sendq_len,
	    1);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(41, 10), T0, 0), 0);
	ck_assert_uint_eq(b->s.queued, 3);
	node_free(b);
	node_free(c);
	node_free(c2);
}
END_TEST

START_TEST(test_addr_hash_collision_kept_apart)
{
	/*
	 * Two peers whose addresses share a hash key but are not equal
	 * (addresses of a family addr_eq never matches hash to 0): the
	 * same-address search walks past the first, both sessions live.
	 */
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 x;

	memset(&x, 0, sizeof(x));
	x.u.sa.sa_family = AF_UNIX;
	x.len = sizeof(x.u.sa);
	inject_ctl(b, T0, &x, FK_CONNECT, 0);
	inject_ctl(b, T0, &x, FK_CONNECT, 0);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, session_of(&b->out[0])));
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, session_of(&b->out[1])));
	node_free(b);
}
END_TEST

/* A one-frame message (msgid, 10 bytes of 'x') from `from` on session. */
static void
inject_data(struct node *n, nbmq_time now, const struct nbaddr *from,
    uint64_t session, uint64_t msgid)
{
	uint8_t		buf[FRAME_DATA_HDR_SIZE + 10];
	struct frame	f;

	memset(&f, 0, sizeof(f));
	f.session = session;
	f.msgid = msgid;
	f.part_count = 1;
	f.message_size = f.part_size = f.chunk_size = 10;
	frame_put_data_hdr(buf, &f);
	memset(buf + FRAME_DATA_HDR_SIZE, 'x', 10);
	sock_input(&n->s, now, from, buf, sizeof(buf));
	flush(n);
}

START_TEST(test_safe_dedup_full_refuses)
{
	/*
	 * Issue 14, finding 2: once the socket remembered DEDUP_MAX
	 * messages, the oldest id was forgotten whatever its age, and a
	 * resend of message 1 was delivered again.  Now a new message is
	 * refused unacked (its sender tries again) and no id is forgotten
	 * before its time.
	 */
	struct sockopts	 o;
	struct node	*b, *c;
	struct msg	*m;
	uint64_t	 id, i;
	nbmq_time	 t = T0;

	opts_defaults(&o);
	o.recv_hwm = 10000000;
	b = node_new_opts(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_opts(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	for (i = 1; i <= DEDUP_MAX; i++) {
		inject_data(b, t, &c->addr, id, i);
		REQUIRE((m = sock_recv(&b->s)) != NULL);
		msg_free(m);
	}
	ck_assert_uint_eq(b->nout, DEDUP_MAX);		/* every one acked */
	ck_assert_uint_eq(b->s.ndedup, DEDUP_MAX);
	out_reset(b);
	/* Full: a new message is refused, unacked, counted. */
	inject_data(b, t, &c->addr, id, DEDUP_MAX + 1);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	/* Message 1 again: still known, acked again, not delivered. */
	inject_data(b, t, &c->addr, id, 1);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(kind_of(&b->out[0]), FK_ACK);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.st.drops[DROP_DUPLICATE], 1);
	out_reset(b);
	/* The ids age out after the whole resend horizon, not before. */
	t += safe_dedup_ttl(&o) - MSEC;
	inject_ctl(b, t, &c->addr, FK_HEARTBEAT, id);
	sock_timers(&b->s, t);
	ck_assert_uint_eq(b->s.ndedup, DEDUP_MAX);
	t += 2 * MSEC;
	sock_timers(&b->s, t);
	ck_assert_uint_eq(b->s.ndedup, 0);
	out_reset(b);
	inject_data(b, t, &c->addr, id, DEDUP_MAX + 1);
	ck_assert_ptr_nonnull(m = sock_recv(&b->s));
	msg_free(m);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm_bytes)
{
	/*
	 * recv_hwm_bytes bounds what a peer makes this socket hold, the
	 * messages begun included (issue 15): 64 KiB, an application that
	 * does not read, 20,000-byte messages.
	 */
	struct sockopts	 o;
	struct node	*b, *c;
	struct msg	*m;
	uint64_t	 most = 0;
	int		 got = 0;

	opts_defaults(&o);
	o.recv_hwm_bytes = 64 * 1024;
	b = node_new_opts(B_ADDR, NBMQ_DEALER, 1, &o);
	c = node_new_opts(C_ADDR, NBMQ_DEALER, 0, &o);
	handshake(b, c, T0);
	for (uint32_t i = 0; i < 10; i++) {
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 20000), T0, 0), 0);
		tick(c, T0);
		pass(c, b, T0);
		if (b->s.rx_bytes > most)
			most = b->s.rx_bytes;
	}
	ck_assert_uint_le(most, o.recv_hwm_bytes + 500);
	ck_assert_uint_ge(b->s.st.drops[DROP_RECV_HWM], 6);
	ck_assert_uint_eq(b->s.nreasm, 0);
	while ((m = sock_recv(&b->s)) != NULL) {
		got += m->nparts > 0;
		msg_free(m);
	}
	ck_assert_int_eq(got, 3);
	ck_assert_uint_eq(b->s.rx_bytes, 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_max_memory)
{
	/* Two sockets share the daemon's budget ([daemon] max_memory):
	 * what one holds, the other cannot take. */
	struct membudget mb = { 0, 100 * 1024 };
	struct node	*b1, *b2, *c1, *c2;
	struct msg	*m;
	int		 got = 0;

	b1 = node_new_opts(B_ADDR, NBMQ_DEALER, 1, NULL);
	b2 = node_new_opts("10.0.0.1:1001", NBMQ_DEALER, 1, NULL);
	c1 = node_new_opts(C_ADDR, NBMQ_DEALER, 0, NULL);
	c2 = node_new_opts("10.0.0.2:2001", NBMQ_DEALER, 0, NULL);
	b1->s.mb = b2->s.mb = &mb;
	handshake(b1, c1, T0);
	handshake(b2, c2, T0);
	for (uint32_t i = 0; i < 8; i++) {
		ck_assert_int_eq(sock_send(&c1->s, mkmsg1(i, 20000), T0, 0), 0);
		tick(c1, T0);
		pass(c1, b1, T0);
	}
	ck_assert_uint_le(mb.used, mb.max);
	ck_assert_uint_ge(b1->s.rx_bytes, 80000);
	ck_assert_int_eq(sock_send(&c2->s, mkmsg1(9, 20000), T0, 0), 0);
	tick(c2, T0);
	pass(c2, b2, T0);
	while ((m = sock_recv(&b2->s)) != NULL) {	/* a drop marker */
		ck_assert_uint_eq(m->nparts, 0);
		msg_free(m);
	}
	ck_assert_uint_ge(b2->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(mb.used, b1->s.rx_bytes + b2->s.rx_bytes);
	while ((m = sock_recv(&b1->s)) != NULL) {
		got += m->nparts > 0;
		msg_free(m);
	}
	ck_assert_int_ge(got, 4);
	node_free(b1);
	node_free(b2);
	ck_assert_uint_eq(mb.used, 0);
	node_free(c1);
	node_free(c2);
}
END_TEST

START_TEST(test_goodbye)
{
	/* A clean close says Disconnected to every peer, both sides. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*c2 = node_new("10.0.0.3:3000", 0);
	uint64_t	 id = handshake(b, c, T0), id2 = handshake(b, c2, T0);

	session_goodbye(&b->s);
	ck_assert_uint_eq(b->nout, 2);
	ck_assert_int_eq(count_kind(b, FK_DISCONNECTED), 2);
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_int_eq(pass(b, c2, T0), 1);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);	/* at once */
	ck_assert_int_eq(c2->s.link, LINK_CONNECTING);
	out_reset(c);
	out_reset(c2);
	id = handshake(b, c, T0 + NSEC);
	session_goodbye(&c->s);
	check_only_ctl(c, FK_DISCONNECTED, id, &b->addr);
	(void)id2;
	node_free(b);
	node_free(c);
	node_free(c2);
}
END_TEST

START_TEST(test_safe_acks_keep_heartbeats)
{
	/*
	 * A safe_dealer that only receives sends Acks, and Heartbeats on
	 * schedule all the same: the Rust NBMQ 0.2.0 counts only Heartbeat
	 * and Data as signs of life, and dropped a session after 10 s of
	 * nothing but Acks (issue 14).
	 */
	struct sockopts	 o;
	struct node	*b, *c;
	uint64_t	 id, i;
	nbmq_time	 t;
	int		 hb = 0;

	opts_defaults(&o);
	b = node_new_opts(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_opts(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	for (i = 1, t = T0; t < T0 + 5 * NSEC; i++, t += 100 * MSEC) {
		struct msg *m;

		inject_data(b, t, &c->addr, id, i);
		sock_timers(&b->s, t);
		flush(b);
		hb += count_kind(b, FK_HEARTBEAT);
		out_reset(b);
		REQUIRE((m = sock_recv(&b->s)) != NULL);
		msg_free(m);
	}
	ck_assert_int_ge(hb, 4);
	ck_assert_uint_eq(only_peer(b)->st.acks_tx, i - 1);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_safe_resend_kernel_full)
{
	/*
	 * safe_dealer: a resend falls due while the kernel takes nothing.
	 * The resend waits one more interval, uncounted; the next deadline
	 * is never in the past (it was: the daemon's timer spun at 100% CPU
	 * until the socket was writable again; found by fuzz_frame).
	 */
	struct sockopts	 o;
	struct node	*b, *c;
	nbmq_time	 t, due;
	uint64_t	 id;
	struct peer	*p;

	opts_defaults(&o);
	b = node_new_opts(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_opts(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	p = only_peer(c);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 1);
	out_reset(c);				/* lost */
	/* The outbox is full of what the kernel refuses. */
	c->refuse = 1;
	for (uint32_t i = 0; i < OUTBOX_SLOTS; i++)
		session_send_ctl(&c->s, &b->addr, FK_HEARTBEAT, id);
	ck_assert_int_eq(c->s.ob.n, OUTBOX_SLOTS);
	due = T0 + o.safe_resend_ivl;
	ck_assert_uint_eq(sock_next_deadline(&c->s), due);
	t = sock_timers(&c->s, due);
	ck_assert_uint_gt(t, due);
	ck_assert_uint_eq(t, due + o.safe_resend_ivl);
	ck_assert_uint_eq(p->st.resends, 0);
	/* The kernel takes again: the resend leaves, counted once. */
	c->refuse = 0;
	flush(c);
	out_reset(c);
	ck_assert_uint_gt(sock_timers(&c->s, t), t);
	flush(c);
	ck_assert_uint_eq(p->st.resends, 1);
	ck_assert_int_eq(count_kind(c, FK_DATA), 1);
	pass(c, b, t);
	recv_check1(b, id, 1, 100);
	pass(b, c, t);				/* the Ack */
	ck_assert_uint_eq(p->inflight, 0);
	ck_assert_ptr_null(TAILQ_FIRST(&c->s.resendq));
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * safe_dealer at recv_hwm: the frame it cannot keep is not acked (README:
 * "A receiver at recv_hwm does not ack what it cannot keep"), so the
 * sender still holds it and delivers it once there is room.
 */
START_TEST(test_safe_recv_hwm_no_ack)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct peer	*cp;
	nbmq_time	 t;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 1;
	b = node_new_opts(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_opts(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	cp = only_peer(c);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(count_kind(c, FK_DATA), 2);
	ck_assert_int_eq(pass(c, b, T0), 2);
	/* The first is kept and acked; the second dropped, not acked. */
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_int_eq(count_kind(b, FK_ACK), 1);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_uint_eq(cp->inflight, 1);	/* the sender still has it */
	ck_assert_uint_eq(cp->st.acks_rx, 1);
	/* The application reads; the resend finds room and is acked. */
	recv_check1(b, id, 1, 100);
	t = T0 + o.safe_resend_ivl;
	ck_assert_uint_eq(sock_next_deadline(&c->s), t);
	ck_assert_uint_gt(sock_timers(&c->s, t), t);
	flush(c);
	ck_assert_int_eq(count_kind(c, FK_DATA), 1);
	ck_assert_int_eq(pass(c, b, t), 1);
	ck_assert_int_eq(count_kind(b, FK_ACK), 1);
	ck_assert_int_eq(pass(b, c, t), 1);
	recv_check1(b, id, 2, 100);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(cp->inflight, 0);
	ck_assert_uint_eq(cp->st.giveups, 0);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * safe_dealer: an unacked frame is sent again exactly safe_resend_limit
 * times, one every safe_resend_ivl, then given up and counted once (per
 * peer and for the socket: NBMQ_OPT_GIVEUPS), and its room under send_hwm
 * comes back.
 */
START_TEST(test_safe_resend_limit_then_giveup)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct peer	*cp;
	nbmq_time	 t, now = T0;
	int		 data = 0;

	opts_defaults(&o);
	o.safe_resend_limit = 3;
	o.peer_keepalive = 60 * NSEC;		/* the session outlives it */
	b = node_new_opts(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_opts(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	handshake(b, c, T0);
	cp = only_peer(c);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(count_kind(c, FK_DATA), 1);
	out_reset(c);				/* lost, and every copy after */
	ck_assert_uint_eq(cp->inflight, 1);
	/* Every deadline up to well past the last resend: copies counted. */
	while ((t = sock_next_deadline(&c->s)) <= T0 + 10 * o.safe_resend_ivl) {
		ck_assert_uint_ge(t, now);
		now = t;
		ck_assert_uint_gt(sock_timers(&c->s, now), now);
		flush(c);
		data += count_kind(c, FK_DATA);
		out_reset(c);
		if (data < 3)
			ck_assert_uint_eq(cp->st.giveups, 0);
	}
	ck_assert_int_eq(data, 3);
	ck_assert_uint_eq(cp->st.resends, 3);
	ck_assert_uint_eq(c->s.st.resends, 3);
	ck_assert_uint_eq(cp->st.giveups, 1);
	ck_assert_uint_eq(c->s.st.giveups, 1);
	ck_assert_uint_eq(cp->inflight, 0);
	ck_assert_ptr_null(TAILQ_FIRST(&c->s.resendq));
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * safe_dealer receiving: duplicates are suppressed for
 * safe_hash_dedup_ttl, a window every copy refreshes (README).  A resend
 * that comes more than the TTL after the first delivery, but within the
 * TTL of the copy before it, is still a duplicate: not delivered again,
 * and acked again (the Acks before it may all have been lost).
 */
START_TEST(test_safe_dedup_refreshed_by_copies)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct dgram	 d;
	nbmq_time	 ttl, t;
	uint64_t	 id;

	opts_defaults(&o);
	o.peer_keepalive = 60 * NSEC;
	b = node_new_opts(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_opts(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	ttl = o.safe_hash_dedup_ttl;
	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(7, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 1);
	d = c->out[0];				/* every copy is this datagram */
	c->nout = 0;
	sock_input(&b->s, T0, &c->addr, d.buf, d.len);
	flush(b);
	ck_assert_int_eq(count_kind(b, FK_ACK), 1);
	out_reset(b);				/* the Ack is lost */
	recv_check1(b, id, 7, 100);
	/*
	 * Many messages after it, so that no short memory of recent ids
	 * could pass for the dedup window.
	 */
	for (uint32_t i = 100; i < 164; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 64);
	for (uint32_t i = 100; i < 164; i++)
		recv_check1(b, id, i, 10);
	out_reset(b);
	/* Copies 0.6 TTL apart: each within the TTL of the one before. */
	for (int i = 1; i <= 3; i++) {
		t = T0 + (nbmq_time)i * ttl * 6 / 10;
		timers_until(b, t);		/* expiry, if any, happens */
		sock_input(&b->s, t, &c->addr, d.buf, d.len);
		flush(b);
		ck_assert_msg(count_kind(b, FK_ACK) == 1,
		    "copy %d at %.1f TTL: not acked again", i, i * 0.6);
		out_reset(b);
		ck_assert_msg(sock_recv(&b->s) == NULL,
		    "copy %d at %.1f TTL: delivered again", i, i * 0.6);
		ck_assert_uint_eq(b->s.st.drops[DROP_DUPLICATE], (uint64_t)i);
	}
	free(d.buf);
	node_free(b);
	node_free(c);
}
END_TEST

static Suite *
sock_suite(void)
{
	Suite	*s = suite_create("sock");
	TCase	*tc;

	tc = tcase_create("connecting");
	tcase_add_test(tc, test_idle_to_connecting_on_connect);
	tcase_add_test(tc, test_idle_to_connecting_by_name);
	tcase_add_test(tc, test_connecting_reconnect_timer_resends_connect);
	tcase_add_test(tc, test_connecting_to_up_on_connected);
	tcase_add_test(tc, test_up_duplicate_connected_same_id);
	tcase_add_test(tc, test_up_connected_new_id_replaces_peer);
	tcase_add_test(tc, test_up_disconnected_to_connecting);
	tcase_add_test(tc, test_bound_restart_disconnected_reconnects);
	tcase_add_test(tc, test_up_keepalive_to_connecting);
	tcase_add_test(tc, test_connected_from_other_address_ignored);
	tcase_add_test(tc, test_orphans_survive_reconnect);
	tcase_add_test(tc, test_up_set_remote_keeps_link);
	tcase_add_test(tc, test_connfail_no_answer);
	tcase_add_test(tc, test_connfail_warn_once_per_episode);
	tcase_add_test(tc, test_connfail_refused_encrypted);
	tcase_add_test(tc, test_connfail_shell_reasons);
	suite_add_tcase(s, tc);

	tc = tcase_create("bound");
	tcase_add_test(tc, test_bound_connect_creates_session);
	tcase_add_test(tc, test_bound_connect_max_peers_refused);
	tcase_add_test(tc, test_bound_connect_same_address_replaces);
	tcase_add_test(tc, test_bound_disconnected_removes_peer);
	tcase_add_test(tc, test_bound_keepalive_removes_peer);
	suite_add_tcase(s, tc);

	tc = tcase_create("both");
	tcase_add_test(tc, test_any_frame_refreshes_last_seen);
	tcase_add_test(tc, test_address_follows_nat_rebinding);
	tcase_add_test(tc, test_connecting_side_address_follows);
	tcase_add_test(tc, test_heartbeat_due);
	tcase_add_test(tc, test_heartbeats_batched);
	tcase_add_test(tc, test_heartbeat_reach);
	tcase_add_test(tc, test_unknown_session_sends_disconnected);
	tcase_add_test(tc, test_unknown_session_rate_limited);
	tcase_add_test(tc, test_unknown_session_rate_per_source);
	tcase_add_test(tc, test_ctl_kernel_full);
	tcase_add_test(tc, test_ctl_outbox_full_flushes);
	tcase_add_test(tc, test_bad_datagrams_counted);
	suite_add_tcase(s, tc);

	tc = tcase_create("dealer_send");
	tcase_add_test(tc, test_dealer_send_queues_tick_in_order);
	tcase_add_test(tc, test_dealer_round_robin_3_peers);
	tcase_add_test(tc, test_dealer_send_hwm);
	tcase_add_test(tc, test_dealer_no_peer);
	tcase_add_test(tc, test_dish_cannot_send);
	tcase_add_test(tc, test_send_too_big);
	tcase_add_test(tc, test_radio_sends_to_all);
	tcase_add_test(tc, test_drr_fairness);
	tcase_add_test(tc, test_drr_equal_share);
	tcase_add_test(tc, test_drr_three_peers);
	tcase_add_test(tc, test_max_tick_send);
	tcase_add_test(tc, test_tick_kernel_full);
	tcase_add_test(tc, test_tick_kernel_partial);
	tcase_add_test(tc, test_radio_send_hwm);
	suite_add_tcase(s, tc);

	tc = tcase_create("receive");
	tcase_add_test(tc, test_recv_hwm);
	tcase_add_test(tc, test_msgring);
	tcase_add_test(tc, test_recv_held_given_back);
	tcase_add_test(tc, test_recv_hwm_counts_reassembly);
	tcase_add_test(tc, test_recv_hwm_reordered_counted_once);
	tcase_add_test(tc, test_reasm_ttl);
	tcase_add_test(tc, test_reasm_overtaken);
	tcase_add_test(tc, test_reasm_ttl_refreshed_by_frames);
	tcase_add_test(tc, test_reasm_ttl_bad_frame_keeps_order);
	tcase_add_test(tc, test_recv_hwm_dropped_message_tail);
	tcase_add_test(tc, test_duplicate_message_delivered_once);
	tcase_add_test(tc, test_interleaved_and_reordered);
	tcase_add_test(tc, test_exchange_10000);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_test(tc, test_alloc_fail_sessions);
	tcase_add_test(tc, test_alloc_fail_receive);
	tcase_add_test(tc, test_addr_hash_collision_kept_apart);
	tcase_add_test(tc, test_safe_resend_kernel_full);
	tcase_add_test(tc, test_safe_dedup_full_refuses);
	tcase_add_test(tc, test_goodbye);
	tcase_add_test(tc, test_max_memory);
	tcase_add_test(tc, test_recv_hwm_bytes);
	tcase_add_test(tc, test_safe_acks_keep_heartbeats);
	tcase_add_test(tc, test_safe_recv_hwm_no_ack);
	tcase_add_test(tc, test_safe_resend_limit_then_giveup);
	tcase_add_test(tc, test_safe_dedup_refreshed_by_copies);
	suite_add_tcase(s, tc);

	tc = tcase_create("deadlines");
	tcase_add_test(tc, test_next_deadline);
	tcase_add_test(tc, test_destroy_frees_everything);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init(LOG_ERR, 1);
	sr = srunner_create(sock_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
