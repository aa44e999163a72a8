/* SPDX-License-Identifier: ISC */
/*
 * safe.c: safe_dealer (PROTOCOL.md section 3).
 *
 * Sending: every data frame waits for Ack(session, FNV-1a-64 of the frame)
 * in the peer's table (a Batch entry: of the data frame it stands for, so
 * that a frame is the same frame alone or batched, PROTOCOL.md 4.3);
 * unacked frames are sent again every safe_resend_ivl, up to
 * safe_resend_limit times, then given up and counted.  A message
 * counts against send_hwm until its last frame is acked or given up, so a
 * receiver that stops acking pushes back on the sender.  Frames are rebuilt
 * from the message for a resend, byte for byte, so nothing but the message
 * is kept.  All frames share one interval, so the socket's resend queue in
 * send order has the earliest deadline at its head.  Resends due together
 * for an extension peer leave batched like first sends.  With Floor
 * (4.5) a message waits while it would be SAFE_SPAN_MAX ids past the
 * floor, and the messages at the floor are nudged (safe_span_full,
 * safe_nudge).
 *
 * Receiving: every accepted frame is acked, duplicates too (their Ack may
 * have been lost); a message delivered lately is not delivered again.
 * Between daemons with Acks of id ranges (4.6) a message's first frame is
 * acked by its id, gathered over a read into s->acks and sent at the tick
 * (safe_acks_flush); every other frame has its own Ack.
 * "Lately" must cover the sender's whole resend horizon: its last copy
 * leaves safe_resend_limit x safe_resend_ivl after its first, and when
 * every copy in between is lost, nothing refreshes the window until that
 * one arrives (a window of one resend interval delivered 1 to 23
 * duplicates per 3,000 messages at 20% loss, issue 14).  So the window
 * is safe_hash_dedup_ttl or, if that is shorter, this socket's own
 * horizon plus a second for the network (safe_dedup_ttl): the peer is
 * assumed to resend no longer than we do, which holds for nbmq peers
 * with the same options and v0.2.0 defaults.
 */
#include <stdlib.h>

#include "nbmqd.h"

#define DEDUP_SLACK	NSEC	/* the network's share of the horizon */
/*
 * A sender whose loop runs late (a saturated host, valgrind) stretches
 * its resends past the horizon that a receiver without Floor (v0.2.0
 * framing) keeps delivered ids for: a copy sent 4.9 s after the first was
 * delivered twice (int_exactly_once under valgrind).  So to such a peer
 * no copy leaves later than the horizon plus half the network's share
 * after the first: past that the frame is given up and counted, like one
 * out of resends.  With Floor the receiver forgets nothing by time, and
 * every try is made however late.
 */
#define RESEND_GRACE	(DEDUP_SLACK / 2)

/* From a frame's first send to its last copy's: the resend horizon. */
static nbmq_time
safe_horizon(const struct sockopts *o)
{
	return o->safe_resend_limit * o->safe_resend_ivl;
}

/* How long a delivered message id is kept (the comment above). */
nbmq_time
safe_dedup_ttl(const struct sockopts *o)
{
	nbmq_time	horizon = safe_horizon(o) + DEDUP_SLACK;

	return o->safe_hash_dedup_ttl > horizon ? o->safe_hash_dedup_ttl :
	    horizon;
}

/* Records of frames in flight and of messages delivered (msg.c). */
static struct pool	unacked_pool = {
	.size = sizeof(struct unacked), .max = 4096
};
static struct pool	dedup_pool = {
	.size = sizeof(struct dedup), .max = 4096
};

/* One frame of m leaves for p: remember it until its Ack. */
int
safe_track(struct sock *s, struct peer *p, struct msg *m, uint32_t part,
    uint32_t off, uint32_t base, uint32_t chunk, uint64_t hash,
    nbmq_time now)
{
	struct unacked	*u;

	if ((u = pool_get(&unacked_pool)) == NULL)
		return -1;
	memset(u, 0, sizeof(*u));
	if (hmap_insert(&p->unacked, &u->node, hash) == -1) {
		pool_put(&unacked_pool, u);
		return -1;
	}
	u->peer = p;
	u->m = msg_ref(m);
	u->part = part;
	u->off = off;
	u->base = base;
	u->chunk = (uint16_t)chunk;
	u->sent = u->first = now;
	TAILQ_INSERT_TAIL(&s->resendq, u, entry);
	m->unacked++;
	return 0;
}

/*
 * p now acks by position (4.3): the frames it has not acked yet are
 * found by their position from now on.  (Acks by hash still on their
 * way are ignored: those frames go again at the next resend, and are
 * acked again, by position, as duplicates.)
 */
void
safe_rekey(struct sock *s, struct peer *p)
{
	struct unacked	*u;

	TAILQ_FOREACH(u, &s->resendq, entry) {
		if (u->peer != p)
			continue;
		hmap_remove(&p->unacked, &u->node);
		/* Never fails: the table had room for it a moment ago. */
		(void)hmap_insert(&p->unacked, &u->node,
		    frame_pos_key(u->m->id, u->part, u->off));
	}
}

void
safe_inflight(struct sock *s, struct peer *p, struct msg *m)
{
	m->inflight = 1;
	msg_ref(m);	/* (not inside TAILQ_INSERT_TAIL: it says m thrice) */
	TAILQ_INSERT_TAIL(&p->inflightq, m, entry);
	p->inflight++;
}

/* The frame is done with, acked or given up. */
static void
safe_untrack(struct sock *s, struct unacked *u)
{
	struct peer	*p = u->peer;
	struct msg	*m = u->m;

	hmap_remove(&p->unacked, &u->node);
	TAILQ_REMOVE(&s->resendq, u, entry);
	/* Its last frame: the message stops counting against send_hwm. */
	if (--m->unacked == 0 && m->inflight) {
		m->inflight = 0;
		TAILQ_REMOVE(&p->inflightq, m, entry);
		p->inflight--;
		msg_free(m);
	}
	msg_free(m);
	pool_put(&unacked_pool, u);
}

/*
 * Floor (PROTOCOL.md 4.5): the lowest id this socket may still send p,
 * its oldest message in flight or queued; every id below it is acked or
 * given up.  Ids to one peer rise in the order sent, so that is the
 * head of inflightq, else of sendq, else the next id.
 */
static uint64_t
safe_floor(const struct sock *s, const struct peer *p)
{
	const struct msg	*m;

	if ((m = TAILQ_FIRST(&p->inflightq)) != NULL ||
	    (m = TAILQ_FIRST(&p->sendq)) != NULL)
		return m->id;
	return s->next_msgid;
}

/*
 * With Floor (4.5) the receiver keeps every id it delivered above our
 * floor, up to DEDUP_MAX for the socket, and refuses new messages past
 * that: the resend of the one message that holds the floor too.  So a
 * message p has not begun waits while it is SAFE_SPAN_MAX ids or more
 * past the floor: sock_tick keeps it waiting, as a paced peer waits.
 */
int
safe_span_full(const struct sock *s, const struct peer *p)
{
	const struct msg	*m = TAILQ_FIRST(&p->sendq);
	const struct msg	*f = TAILQ_FIRST(&p->inflightq);

	if (s->type != NBMQ_SAFE_DEALER ||
	    !(p->ext_flags & FRAME_HELLO_FLOOR) || m == NULL || f == NULL ||
	    p->cur_part != 0 || p->cur_off != 0)
		return 0;
	return m->id - f->id >= SAFE_SPAN_MAX;
}

#define SAFE_NUDGE_IVL	(5 * MSEC)
#define SAFE_NUDGE_MAX	64	/* messages, from the floor on */

/*
 * p is held by its window: the messages at its floor were refused
 * (recv_hwm) or lost while the ones after them were acked, so the
 * receiver most likely has room for them now.  The first frames of the
 * oldest SAFE_NUDGE_MAX go again at once rather than at their resend,
 * at most every SAFE_NUDGE_IVL: not counted as tries, their timers
 * unchanged (a receiver that keeps refusing them still makes the sender
 * give them up).  At a million messages a second the window holds
 * within 16 ms, and the wait for the 200 ms resend was most of the time.
 * Returns when to nudge again (later than now): p waits until then, or
 * until Acks move its floor.
 */
nbmq_time
safe_nudge(struct sock *s, struct peer *p, nbmq_time now)
{
	struct msg	*m;
	struct hnode	*n;
	struct unacked	*u;
	int		 k = 0;

	if (now < p->nudge_at)
		return p->nudge_at;
	p->nudge_at = now + SAFE_NUDGE_IVL;
	if (!(p->ext_flags & FRAME_HELLO_ACKPOS))
		return p->nudge_at;
	TAILQ_FOREACH(m, &p->inflightq, entry) {
		if (k++ == SAFE_NUDGE_MAX)
			break;
		if ((n = hmap_find(&p->unacked,
		    frame_pos_key(m->id, 0, 0))) == NULL)
			continue;
		u = container_of(n, struct unacked, node);
		if (u->sent + SAFE_NUDGE_IVL > now)
			continue;	/* it has just gone */
		if (sock_put_frame(s, p, u->m, u->part, u->off, u->base,
		    u->chunk, now, NULL) == -1)
			break;
		p->st.resends++;
		s->st.resends++;
		s->sent(s, p, now);
	}
	return p->nudge_at;
}

#define FLOOR_STEP	64	/* ids, between Floors while busy */

void
safe_floor_out(struct sock *s, struct peer *p, uint64_t step, nbmq_time now)
{
	uint64_t	 floor;
	uint8_t		*b;

	if (!(p->ext_flags & FRAME_HELLO_FLOOR))
		return;
	floor = safe_floor(s, p);
	/* Everything resolved: say so at once, else every step ids. */
	if (TAILQ_EMPTY(&p->inflightq) && TAILQ_EMPTY(&p->sendq) && step > 1)
		step = 1;
	if (p->floor_sent_valid && floor - p->floor_sent < step)
		return;
	if ((b = sock_slot(s, &p->addr)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return;
	}
	(void)sock_out(s, p, OUT_SEALED, (uint32_t)frame_put_floor(b,
	    p->session, floor), now);
	p->floor_sent = floor;
	p->floor_sent_valid = 1;
	p->st.tx_frames++;
}

void
safe_ack_in(struct sock *s, struct peer *p, uint64_t hash, nbmq_time now)
{
	struct hnode	*n;

	p->st.acks_rx++;
	if ((n = hmap_find(&p->unacked, hash)) == NULL)
		return;		/* a late duplicate Ack */
	safe_untrack(s, container_of(n, struct unacked, node));
	safe_floor_out(s, p, FLOOR_STEP, now);
}

/* The Ack of one frame, alone (kind 5). */
static void
safe_ack_one(struct sock *s, struct peer *p, uint64_t hash, nbmq_time now)
{
	uint8_t	*b;

	if ((b = sock_slot(s, &p->addr)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return;
	}
	(void)sock_out(s, p, OUT_SEALED, (uint32_t)frame_put_ack(b,
	    p->session, hash), now);
	/*
	 * Not session_sent(): an Ack does not put off our Heartbeat.  A
	 * v0.2.0 peer (the Rust NBMQ 0.2.0) counts only Heartbeat and Data
	 * as signs of life, and dropped a session after 10 s of Acks.
	 */
	p->st.tx_frames++;
}

#define ACKS_BOTH	(FRAME_HELLO_ACKPOS | FRAME_HELLO_ACKRANGE)

/*
 * The gathered Acks leave, one datagram (PROTOCOL.md 4.6).  Like an Ack,
 * not session_sent().
 */
void
safe_acks_flush(struct sock *s, nbmq_time now)
{
	struct acks	*a = &s->acks;
	uint8_t		*b;

	if (a->p == NULL)
		return;
	if ((b = sock_slot(s, &a->p->addr)) == NULL)
		s->st.drops[DROP_SEND_FAILED]++;
	else {
		(void)sock_out(s, a->p, OUT_SEALED, (uint32_t)frame_put_acks(b,
		    a->p->session, a->lo, a->count, a->n), now);
		a->p->st.tx_frames++;
		a->p->st.acks_tx++;
	}
	a->p = NULL;
	a->n = 0;
}

/* Ranges in one Acks to p: FRAME_ACKS_MAX, or what its frames hold. */
static uint32_t
safe_acks_max(const struct sock *s, const struct peer *p)
{
	uint32_t	room = sock_frame_size(s, p) - s->seal_overhead;
	uint32_t	n = (room - FRAME_HDR_SIZE) / FRAME_ACKS_RANGE;

	if (room < FRAME_HDR_SIZE + FRAME_ACKS_RANGE)
		return 1;
	return n < FRAME_ACKS_MAX ? n : FRAME_ACKS_MAX;
}

/* msgid's first frame is acked with the next Acks to p. */
static void
safe_acks_add(struct sock *s, struct peer *p, uint64_t msgid, nbmq_time now)
{
	struct acks	*a = &s->acks;
	uint32_t	 last;

	if (a->p != NULL && a->p != p)
		safe_acks_flush(s, now);
	if (a->n > 0) {
		last = a->n - 1;
		if (msgid - a->lo[last] < a->count[last])
			return;		/* a duplicate, acked already */
		if (msgid == a->lo[last] + a->count[last] &&
		    a->count[last] < FRAME_ACKS_COUNT_MAX) {
			a->count[last]++;
			return;
		}
		if (a->n == safe_acks_max(s, p))
			safe_acks_flush(s, now);
	}
	a->p = p;
	a->lo[a->n] = msgid;
	a->count[a->n] = 1;
	a->n++;
}

/*
 * Ack data frame f (hash: its Ack's value).  With a peer that takes
 * Acks of ranges, a message's first frame (for 64-byte messages, the
 * whole message) is gathered into the next Acks; any other frame, and
 * every frame of a peer without them (v0.2.0), has its own Ack.
 */
void
safe_ack_out(struct sock *s, struct peer *p, const struct frame *f,
    uint64_t hash, nbmq_time now)
{
	if ((p->ext_flags & ACKS_BOTH) == ACKS_BOTH && f->part_index == 0 &&
	    f->chunk_offset == 0)
		safe_acks_add(s, p, f->msgid, now);
	else
		safe_ack_one(s, p, hash, now);
}

/*
 * The end of what this socket sent p: no id at or past it was sent to p
 * whole or in part.  p's queue is sent in order, its ids rising, so that
 * is its queue's head (one past it once a frame of it left), else the
 * socket's next id.
 */
static uint64_t
safe_sent_end(const struct sock *s, const struct peer *p)
{
	const struct msg	*m;

	if ((m = TAILQ_FIRST(&p->sendq)) == NULL)
		return s->next_msgid;
	return p->cur_part != 0 || p->cur_off != 0 ? m->id + 1 : m->id;
}

/* a is below b, ids being a circle (they start anywhere). */
static int
safe_id_below(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) < 0;
}

/* Every range of f ends below what was sent to p: else none is taken. */
static int
safe_acks_valid(const struct sock *s, const struct peer *p,
    const struct frame *f)
{
	uint64_t	end = safe_sent_end(s, p), lo;
	uint32_t	count;

	for (uint32_t i = 0; i < f->nranges; i++) {
		frame_acks_range(f, i, &lo, &count);
		if (!safe_id_below(lo + count - 1, end))
			return 0;
	}
	return 1;
}

/*
 * An Acks from p (PROTOCOL.md 4.6): the first frame of each message id
 * in its ranges is acked.  Ids below the floor are resolved already, so
 * a range is walked from there: at most FRAME_ACKS_COUNT_MAX lookups.
 */
void
safe_acks_in(struct sock *s, struct peer *p, const struct frame *f,
    nbmq_time now)
{
	struct hnode	*n;
	uint64_t	 floor = safe_floor(s, p), lo, id;
	uint32_t	 count;

	p->st.acks_rx++;
	if ((p->ext_flags & ACKS_BOTH) != ACKS_BOTH)
		return;		/* keyed by hash still (4.3): resent */
	if (!safe_acks_valid(s, p, f)) {
		s->st.drops[DROP_BAD_ACK]++;
		p->st.drops[DROP_BAD_ACK]++;
		return;
	}
	for (uint32_t i = 0; i < f->nranges; i++) {
		frame_acks_range(f, i, &lo, &count);
		for (uint32_t k = 0; k < count; k++) {
			id = lo + k;
			if (safe_id_below(id, floor))
				continue;
			if ((n = hmap_find(&p->unacked,
			    frame_pos_key(id, 0, 0))) != NULL)
				safe_untrack(s, container_of(n,
				    struct unacked, node));
		}
	}
	safe_floor_out(s, p, FLOOR_STEP, now);
}

static void
safe_dedup_free(struct sock *s, struct dedup *d)
{
	hmap_remove(&d->peer->dedup, &d->node);
	if (d->floor)
		TAILQ_REMOVE(&d->peer->dedupq, d, entry);
	else
		TAILQ_REMOVE(&s->dedupq, d, entry);
	s->ndedup--;
	pool_put(&dedup_pool, d);
}

/*
 * The peer's floor moved up: every id below it is resolved at the
 * sender, and a copy of one that comes late (withheld, duplicated) is a
 * duplicate without a look at the table.  The entries below it go, from
 * the oldest delivered; one delivered out of order goes with a later
 * floor.
 */
void
safe_floor_in(struct sock *s, struct peer *p, uint64_t floor)
{
	struct dedup	*d;

	if (p->rx_floor_set && !safe_id_below(p->rx_floor, floor))
		return;
	p->rx_floor = floor;
	p->rx_floor_set = 1;
	while ((d = TAILQ_FIRST(&p->dedupq)) != NULL &&
	    safe_id_below(d->node.key, floor))
		safe_dedup_free(s, d);
}

int
safe_full(const struct sock *s)
{
	return s->ndedup + s->nreasm >= DEDUP_MAX;
}

int
safe_is_dup(struct sock *s, struct peer *p, uint64_t msgid, nbmq_time now)
{
	struct hnode	*n;
	struct dedup	*d;

	if (p->rx_floor_set && safe_id_below(msgid, p->rx_floor))
		return 1;
	if ((n = hmap_find(&p->dedup, msgid)) == NULL)
		return 0;
	d = container_of(n, struct dedup, node);
	if (!d->floor) {
		d->at = now;
		TAILQ_REMOVE(&s->dedupq, d, entry);
		TAILQ_INSERT_TAIL(&s->dedupq, d, entry);
	}
	return 1;
}

/*
 * Remember msgid as delivered: until the peer's floor passes it (a peer
 * with Floor), else for safe_dedup_ttl.  Never by forgetting another:
 * sock_data refuses new messages while safe_full().
 */
void
safe_delivered(struct sock *s, struct peer *p, uint64_t msgid, nbmq_time now)
{
	struct dedup	*d;

	if ((d = pool_get(&dedup_pool)) == NULL)
		return;
	memset(d, 0, sizeof(*d));
	if (hmap_insert(&p->dedup, &d->node, msgid) == -1) {
		pool_put(&dedup_pool, d);
		return;
	}
	d->peer = p;
	d->at = now;
	if (p->ext_flags & FRAME_HELLO_FLOOR) {
		d->floor = 1;
		TAILQ_INSERT_TAIL(&p->dedupq, d, entry);
	} else
		TAILQ_INSERT_TAIL(&s->dedupq, d, entry);
	s->ndedup++;
}

/* m will not be sent again: its fate is unknown (it may have arrived). */
static void
safe_give_up(struct sock *s, struct peer *p, struct msg *m, const char *why)
{
	if (m->given_up)
		return;
	m->given_up = 1;
	p->st.giveups++;
	s->st.giveups++;
	if (s->ops->msg_lost != NULL)
		s->ops->msg_lost(s->arg, s, m, FATE_GIVEN_UP);
	log_debug("socket %s peer %016llx: message %016llx given up (%s)",
	    s->name, (unsigned long long)p->session,
	    (unsigned long long)m->id, why);
}

/*
 * The session ends: its frames still unacked go with it, and their
 * messages are given up, counted like those that ran out of resends.
 */
void
safe_peer_free(struct sock *s, struct peer *p)
{
	struct unacked	*u, *un;
	struct dedup	*d, *dn;

	for (u = TAILQ_FIRST(&s->resendq); u != NULL; u = un) {
		un = TAILQ_NEXT(u, entry);
		if (u->peer != p)
			continue;
		safe_give_up(s, p, u->m, "session ended");
		safe_untrack(s, u);
	}
	for (d = TAILQ_FIRST(&s->dedupq); d != NULL; d = dn) {
		dn = TAILQ_NEXT(d, entry);
		if (d->peer == p)
			safe_dedup_free(s, d);
	}
	while ((d = TAILQ_FIRST(&p->dedupq)) != NULL)
		safe_dedup_free(s, d);
	if (s->acks.p == p) {
		s->acks.p = NULL;
		s->acks.n = 0;
	}
	hmap_free(&p->unacked);
	hmap_free(&p->dedup);
}

nbmq_time
safe_next_deadline(const struct sock *s)
{
	nbmq_time	 t = NBMQ_TIME_NEVER, d;
	struct unacked	*u;
	struct dedup	*dd;

	if ((u = TAILQ_FIRST(&s->resendq)) != NULL &&
	    (d = u->sent + s->o.safe_resend_ivl) < t)
		t = d;
	if ((dd = TAILQ_FIRST(&s->dedupq)) != NULL &&
	    (d = dd->at + safe_dedup_ttl(&s->o)) < t)
		t = d;
	return t;
}

/*
 * The kernel took nothing: what is due waits one more interval (no try
 * counted), so that the next deadline is never in the past and the timer
 * does not spin until the socket is writable again.
 */
static void
safe_defer(struct sock *s, nbmq_time now)
{
	struct unacked	*u;

	while ((u = TAILQ_FIRST(&s->resendq)) != NULL &&
	    u->sent + s->o.safe_resend_ivl <= now) {
		u->sent = now;
		TAILQ_REMOVE(&s->resendq, u, entry);
		TAILQ_INSERT_TAIL(&s->resendq, u, entry);
	}
}

void
safe_timers(struct sock *s, nbmq_time now)
{
	struct unacked	*u;
	struct dedup	*d;

	while ((d = TAILQ_FIRST(&s->dedupq)) != NULL &&
	    d->at + safe_dedup_ttl(&s->o) <= now)
		safe_dedup_free(s, d);

	while ((u = TAILQ_FIRST(&s->resendq)) != NULL &&
	    u->sent + s->o.safe_resend_ivl <= now) {
		struct peer	*p = u->peer;
		const char	*why = NULL;

		if (u->tries >= s->o.safe_resend_limit)
			why = "out of resends";
		else if (!(p->ext_flags & FRAME_HELLO_FLOOR) &&
		    now > u->first + safe_horizon(&s->o) + RESEND_GRACE)
			why = "out of time";
		if (why != NULL) {
			safe_give_up(s, p, u->m, why);
			safe_untrack(s, u);
			safe_floor_out(s, p, FLOOR_STEP, now);
			continue;
		}
		if (sock_put_frame(s, p, u->m, u->part, u->off, u->base,
		    u->chunk, now, NULL) == -1) {
			/* The kernel is full: next interval. */
			safe_defer(s, now);
			return;
		}
		u->tries++;
		u->sent = now;
		p->st.resends++;
		s->st.resends++;
		s->sent(s, p, now);
		TAILQ_REMOVE(&s->resendq, u, entry);
		TAILQ_INSERT_TAIL(&s->resendq, u, entry);
	}
	sock_batch_close(s);
}
