/* SPDX-License-Identifier: ISC */
/*
 * fakenet.c: the unit tests' fake network, fake clock and fake ops (see
 * fakenet.h), once for every test of the core: test_session, test_sock,
 * test_ext, test_crypt and test_stun.  Every unit test links it, with
 * unit.c.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "fakenet.h"

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
		REQUIRE(d->len >= 2);		/* a version and a kind */
		d->buf = malloc(d->len);
		REQUIRE(d->buf != NULL);
		memcpy(d->buf, s->ob.buf + (size_t)i * s->ob.slot_size,
		    d->len);
		n->kinds[d->buf[1]]++;
		n->sent++;
		if (d->len > n->maxlen)
			n->maxlen = d->len;
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
	struct evrec	*e;

	REQUIRE(&n->s == s);
	if (n->nev == n->capev) {
		n->capev = n->capev ? n->capev * 2 : 64;
		/* not an allocation that alloc_fail_in counts */
		n->ev = __real_realloc(n->ev, (size_t)n->capev *
		    sizeof(*n->ev));
		REQUIRE(n->ev != NULL);
	}
	e = &n->ev[n->nev++];
	e->ev = ev;
	e->session = p->session;
	e->addr = p->addr;
	e->prev = p->prev_addr;
	if (ev == PEV_ADDRESS)
		n->moved++;
}

static void
fake_resolve(void *arg, struct sock *s)
{
	struct node	*n = arg;

	REQUIRE(&n->s == s);
	n->resolves++;
}

static void
fake_stun_resolve(void *arg, struct sock *s)
{
	struct node	*n = arg;

	REQUIRE(&n->s == s);
	n->stun_resolves++;
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

const struct sock_ops fake_ops = {
	.flush = fake_flush,
	.recv_ready = fake_recv_ready,
	.peer_event = fake_peer_event,
	.resolve = fake_resolve,
	.random64 = fake_random64,
	.stun_resolve = fake_stun_resolve,
	.connect_event = fake_connect_event,
};

/* Nodes */

struct nbaddr
A(const char *text)
{
	struct nbaddr	a;

	ck_assert_int_eq(addr_parse(text, &a, NULL, 0, NULL), 0);
	return a;
}

/*
 * A socket of `type` at fake address addr with options o (NULL: the
 * defaults), neither bound nor connected: for tests that set up more
 * (an encryptor) before sock_set_bound.
 */
struct node *
node_alloc(const char *addr, int type, const struct sockopts *o)
{
	static uint64_t	 seed = 1;
	struct node	*n = calloc(1, sizeof(*n));
	struct sockopts	 def;

	ck_assert_ptr_nonnull(n);
	if (o == NULL) {
		opts_defaults(&def);
		o = &def;
	}
	n->addr = A(addr);
	n->rng = seed++ * 0x1000;
	ck_assert_int_eq(sock_init(&n->s, type, o, &fake_ops, n), 0);
	snprintf(n->s.name, sizeof(n->s.name), "%s", addr);
	return n;
}

/* A socket with options o (NULL: the defaults, coalesce = yes). */
struct node *
node_new_opts(const char *addr, int type, int bound, const struct sockopts *o)
{
	struct node	*n = node_alloc(addr, type, o);

	if (bound)
		sock_set_bound(&n->s);
	return n;
}

/*
 * o (NULL: the defaults) but coalesce = no, pacing = no: the v0.2.0
 * protocol, byte for byte what a v0.2.0 peer sees.
 */
struct node *
node_new_plain(const char *addr, int type, int bound, const struct sockopts *o)
{
	struct sockopts	def;

	if (o == NULL)
		opts_defaults(&def);
	else
		def = *o;
	def.coalesce = 0;
	def.pacing = 0;
	return node_new_opts(addr, type, bound, &def);
}

void
node_free(struct node *n)
{
	sock_destroy(&n->s);
	node_free_destroyed(n);
}

/* A node whose socket a test destroyed itself (to read its counters). */
void
node_free_destroyed(struct node *n)
{
	ck_assert_ptr_null(n->s.crypt);
	out_reset(n);
	free(n->out);
	free(n->ev);		/* (free is not wrapped) */
	free(n);
}

struct peer *
only_peer(struct node *n)
{
	ck_assert_uint_eq(n->s.npeers, 1);
	return TAILQ_FIRST(&n->s.peers);
}

uint64_t
total_drops(const struct sock *s)
{
	uint64_t	t = 0;

	for (int i = 0; i < DROP_NREASONS; i++)
		t += s->st.drops[i];
	return t;
}

/* The wire */

void
flush(struct node *n)
{
	fake_flush(n, &n->s);
}

void
out_reset(struct node *n)
{
	for (size_t i = 0; i < n->nout; i++)
		free(n->out[i].buf);
	n->nout = 0;
}

/* Drop datagram i of n's output (lost on the way). */
void
lose(struct node *n, size_t i)
{
	REQUIRE(i < n->nout);
	free(n->out[i].buf);
	memmove(n->out + i, n->out + i + 1, (n->nout - i - 1) *
	    sizeof(*n->out));
	n->nout--;
}

int
kind_of(const struct dgram *d)
{
	return d->len >= 2 ? d->buf[1] : -1;
}

uint64_t
session_of(const struct dgram *d)
{
	uint64_t	v = 0;

	REQUIRE(d->len >= FRAME_HDR_SIZE);
	for (int i = 2; i < 10; i++)
		v = v << 8 | d->buf[i];
	return v;
}

int
count_kind(const struct node *n, int kind)
{
	int	c = 0;

	for (size_t i = 0; i < n->nout; i++)
		if (kind_of(&n->out[i]) == kind)
			c++;
	return c;
}

/* Datagram i is exactly the control frame (kind, session) to `to`. */
void
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
void
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
int
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
		/* The end of the event, as the daemon's sock_tick does it:
		 * the Acks gathered leave (PROTOCOL.md 4.6). */
		safe_acks_flush(&to->s, now);
		flush(to);
		free(d.buf);
		moved++;
	}
	from->nout = keep;
	return moved;
}

int
pass(struct node *from, struct node *to, nbmq_time now)
{
	return pass_src(from, to, &from->addr, now);
}

/* Pass datagrams between the nodes until none is left in flight. */
void
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
void
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
nbmq_time
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

/*
 * Run n's timers alone, at each of its deadlines up to end; what it sends
 * is lost.  Returns how many heartbeats it sent.
 */
int
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

/* Feed a control frame to n as if it came from `from`. */
void
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
	safe_acks_flush(&n->s, now);
	flush(n);
}

/*
 * Connect c to bound b at `now` with v0.2.0 frames (Connect, Connected,
 * Heartbeat); returns the session id.
 */
uint64_t
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

/* Messages */

uint8_t
pat(uint32_t seed, uint32_t i)
{
	return (uint8_t)(i * 131u + seed * 7u + (i >> 8) + (i >> 16));
}

struct msg *
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

struct msg *
mkmsg1(uint32_t seed, uint32_t size)
{
	return mkmsg(seed, 1, &size);
}

/* NULL if m is message (seed, sizes), else what differs. */
const char *
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

int
msg_is(const struct msg *m, uint32_t seed, int nparts, const uint32_t *sizes)
{
	return msg_diff(m, seed, nparts, sizes) == NULL;
}

/* Receive one message from n; it must be (seed, sizes) from `peer`. */
void
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

void
recv_check1(struct node *n, uint64_t peer, uint32_t seed, uint32_t size)
{
	recv_check(n, peer, seed, 1, &size);
}
