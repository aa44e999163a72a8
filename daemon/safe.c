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
 * for an extension peer leave batched like first sends.
 *
 * Receiving: every accepted frame is acked, duplicates too (their Ack may
 * have been lost); a message delivered lately is not delivered again.
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

/* How long a delivered message id is kept (the comment above). */
nbmq_time
safe_dedup_ttl(const struct sockopts *o)
{
	nbmq_time	horizon = o->safe_resend_limit * o->safe_resend_ivl +
			    DEDUP_SLACK;

	return o->safe_hash_dedup_ttl > horizon ? o->safe_hash_dedup_ttl :
	    horizon;
}

/* One frame of m leaves for p: remember it until its Ack. */
int
safe_track(struct sock *s, struct peer *p, struct msg *m, uint32_t part,
    uint32_t off, uint32_t base, uint32_t chunk, uint64_t hash,
    nbmq_time now)
{
	struct unacked	*u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return -1;
	if (hmap_insert(&p->unacked, &u->node, hash) == -1) {
		free(u);
		return -1;
	}
	u->peer = p;
	u->m = msg_ref(m);
	u->part = part;
	u->off = off;
	u->base = base;
	u->chunk = (uint16_t)chunk;
	u->sent = now;
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
	free(u);
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

void
safe_ack_out(struct sock *s, struct peer *p, uint64_t hash, nbmq_time now)
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

static void
safe_dedup_free(struct sock *s, struct dedup *d)
{
	hmap_remove(&d->peer->dedup, &d->node);
	if (d->floor)
		TAILQ_REMOVE(&d->peer->dedupq, d, entry);
	else
		TAILQ_REMOVE(&s->dedupq, d, entry);
	s->ndedup--;
	free(d);
}

/* a is below b, ids being a circle (they start anywhere). */
static int
safe_id_below(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) < 0;
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

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return;
	if (hmap_insert(&p->dedup, &d->node, msgid) == -1) {
		free(d);
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

		if (u->tries >= s->o.safe_resend_limit) {
			safe_give_up(s, p, u->m, "out of resends");
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
