/* SPDX-License-Identifier: ISC */
/*
 * window.c: the receiver's window for dealer streams between nbmq
 * daemons (PROTOCOL.md 4.7), as the IPC credits are between the library
 * and the daemon.  Pure arithmetic over struct win, time passed in, and
 * the Window frames out (through sockout.c).
 *
 * The receiver says, in a Window frame, the newest message it has begun
 * from the peer (seen) and how many messages and bytes more it has room
 * for (its recv_hwm and recv_hwm_bytes less what it holds, shared over
 * its peers, the bytes also kept under half its kernel buffer).  The
 * sender keeps the messages it began and the grant did not cover yet; a
 * new message begins only while they are fewer than the room, in
 * messages and in bytes: otherwise it waits in the send queue, counted
 * against send_hwm.  Grants are not cumulative counts, so a message lost
 * on the way costs nothing once a newer one is seen; one that was never
 * followed (a lost tail) is taken as lost after peer_heartbeat_ivl, and
 * a lost grant is said again with every Heartbeat: a closed window
 * always reopens.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

/* a <= b on the circle of 2^64 (message ids, section 3.3) */
static int
win_le(uint64_t a, uint64_t b)
{
	return (int64_t)(a - b) <= 0;
}

static void
win_pop(struct win *w)
{
	w->bytes -= w->ring[w->head].size;
	w->head = (w->head + 1) % w->cap;
	w->n--;
}

int
win_open(const struct win *w, uint64_t size)
{
	/*
	 * Nothing granted yet: an initial window, as TCP's (the receiver
	 * grants as soon as it sees a message; unheld, a first burst of
	 * send_hwm 1 MiB messages overflowed its kernel buffer, 19%
	 * received).
	 */
	uint64_t	msgs = w->granted ? w->room_msgs : WIN_INIT_MSGS;
	uint64_t	bytes = w->granted ? w->room_bytes : WIN_INIT_BYTES;

	if (w->n >= msgs)
		return 0;
	/*
	 * The bytes: the message fits beside those in flight.  (A message
	 * that began while a byte of room was left passed the receiver's
	 * recv_hwm by up to its size: 1 MiB messages were dropped there.)
	 * One larger than the room goes alone, into an empty window, while
	 * there is any room: a grant is at most half the receiver's kernel
	 * buffer, and a larger message must go some time.
	 */
	return w->bytes + size <= bytes || (w->n == 0 && bytes > 0);
}

static int
win_grow(struct win *w)
{
	struct win_ent	*r;
	uint32_t	 cap = w->cap ? w->cap * 2 : 64;

	if ((r = calloc(cap, sizeof(*r))) == NULL)
		return -1;
	for (uint32_t i = 0; i < w->n; i++)
		r[i] = w->ring[(w->head + i) % w->cap];
	free(w->ring);
	w->ring = r;
	w->cap = cap;
	w->head = 0;
	return 0;
}

int
win_begin(struct win *w, uint64_t id, uint32_t size, nbmq_time now)
{
	struct win_ent	*e;

	if (w->n == w->cap && (w->n >= WIN_MAX_MSGS || win_grow(w) == -1))
		return -1;
	e = &w->ring[(w->head + w->n) % w->cap];
	e->id = id;
	e->size = size;
	e->at = now;
	w->n++;
	w->bytes += size;
	return 0;
}

void
win_grant(struct win *w, const uint64_t *seen, uint32_t msgs,
    uint32_t bytes)
{
	/* Overtaken by a newer grant: nothing new in it. */
	if (w->seen_valid && (seen == NULL || !win_le(w->seen, *seen)))
		return;
	w->grants_rx++;
	w->granted = 1;
	/* A hostile or confused peer: never more than WIN_MAX_MSGS. */
	w->room_msgs = msgs < WIN_MAX_MSGS ? msgs : WIN_MAX_MSGS;
	w->room_bytes = bytes;
	/* Nothing seen yet (the grant at negotiation): all begun wait. */
	if (seen == NULL)
		return;
	w->seen_valid = 1;
	w->seen = *seen;
	while (w->n > 0 && win_le(w->ring[w->head].id, *seen))
		win_pop(w);
}

void
win_expire(struct win *w, nbmq_time now, nbmq_time ttl)
{
	while (w->n > 0 && w->ring[w->head].at + ttl <= now)
		win_pop(w);
}

nbmq_time
win_wait(const struct win *w, nbmq_time ttl)
{
	return w->n > 0 ? w->ring[w->head].at + ttl : NBMQ_TIME_NEVER;
}

void
win_free(struct win *w)
{
	free(w->ring);
	w->ring = NULL;
	w->cap = w->head = w->n = 0;
	w->bytes = 0;
}

void
win_seen(struct win *w, uint64_t id, uint32_t size)
{
	w->since_msgs++;
	w->since_bytes += size;
	if (!w->rx_seen_valid || !win_le(id, w->rx_seen))
		w->rx_seen = id;
	w->rx_seen_valid = 1;
}

/*
 * What p may send past what we saw of it: the room, shared over peers;
 * *most: the most bytes it can be.  The bytes also stay under half the
 * kernel's receive buffer (what SO_RCVBUF says, overhead counted in),
 * where what is sent waits before it is read.
 */
static void
win_room(const struct sock *s, uint32_t *msgs, uint32_t *bytes,
    uint64_t *most)
{
	uint64_t	n = s->nup > 0 ? s->nup : 1;
	uint64_t	used = s->rq_len + s->nreasm, m = 0, b = 0;
	uint64_t	cap = (s->kbuf ? s->kbuf : WIN_KBUF) / 2;
	uint64_t	held = s->rx_bytes;
	struct reasm	*r;

	/*
	 * A message begun here left the sender's window when we saw it,
	 * but holds only what arrived so far: the rest of it is owed room
	 * too (1 MiB messages passed recv_hwm_bytes by the rest of the one
	 * in reassembly).  Few at a time where it matters: large messages.
	 */
	TAILQ_FOREACH(r, &s->reasm_lru, lru_entry)
		if (r->message_size > r->have)
			held += r->message_size - r->have;

	/*
	 * Shared, but a room of one at least while there is any: with
	 * recv_hwm under the peers' number, shares of none held every
	 * sender for good (sim seed 2578: recv_hwm 2, 3 peers).
	 */
	if (used < s->o.recv_hwm)
		m = (s->o.recv_hwm - used + n - 1) / n;
	/*
	 * And one message in hand: a sender with nothing in flight may
	 * begin one larger than the room (win_open), which passed
	 * recv_hwm_bytes when our application fell behind by 255 MiB.  At
	 * most half of recv_hwm_bytes, so that the room opens at all.
	 */
	held += s->o.max_message_size < s->o.recv_hwm_bytes / 2 ?
	    s->o.max_message_size : s->o.recv_hwm_bytes / 2;
	if (held < s->o.recv_hwm_bytes)
		b = s->o.recv_hwm_bytes - held;
	if (b > cap)
		b = cap;
	b = (b + n - 1) / n;
	*most = (cap < s->o.recv_hwm_bytes ? cap : s->o.recv_hwm_bytes) / n;
	*msgs = m > WIN_MAX_MSGS ? WIN_MAX_MSGS : (uint32_t)m;
	*bytes = b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

/*
 * The peer began messages since our last grant: say so once they use a
 * quarter of what it granted (or the first time).  A grant stays good
 * until then (the room it gave past its seen was ours to keep), and the
 * sender still has three quarters: a Window for every message seen cost
 * a datagram each way in request and reply, where the reply itself
 * goes the same way a moment later.  Heartbeats say it again anyway.
 */
static int
win_moved(const struct win *w)
{
	if (w->rx_seen_valid == w->sent_valid && w->rx_seen == w->sent_seen)
		return 0;
	return !w->sent_valid || w->since_msgs * 4ULL >= w->sent_msgs ||
	    w->since_bytes * 4 >= w->sent_bytes;
}

/* The room of win_room(), the same for every peer of the socket. */
struct win_rooms {
	uint32_t	msgs, bytes;
	uint64_t	most;
};

/* Room that grew by a sixteenth of the most it can be, or from none. */
static int
win_grew(uint64_t now, uint64_t before, uint64_t most)
{
	return now > before && (before == 0 || now - before >= most / 16);
}

static void
win_out(struct sock *s, struct peer *p, const struct win_rooms *r,
    nbmq_time now, int force)
{
	struct win	*w = &p->win;
	uint32_t	 m = r->msgs, b = r->bytes;
	uint8_t		*buf;

	if (!force && !win_moved(w) &&
	    !win_grew(m, w->sent_msgs, s->o.recv_hwm) &&
	    !win_grew(b, w->sent_bytes, r->most))
		return;
	if ((buf = sock_slot(s, &p->addr)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return;
	}
	(void)sock_out(s, p, OUT_SEALED, (uint32_t)frame_put_window(buf,
	    p->session, w->rx_seen, m, b, w->rx_seen_valid ?
	    FRAME_WINDOW_SEEN : 0), 0);
	p->st.tx_frames++;	/* not a Heartbeat's stand-in, as Slow */
	w->sent_valid = w->rx_seen_valid;
	w->sent_seen = w->rx_seen;
	w->sent_msgs = m;
	w->sent_bytes = b;
	w->since_msgs = 0;
	w->since_bytes = 0;
	w->sent_at = now;
	w->grants_tx++;
}

void
sock_win_out(struct sock *s, struct peer *p, nbmq_time now, int force)
{
	struct win_rooms	r;

	if (!(p->ext_flags & FRAME_HELLO_WINDOW))
		return;
	win_room(s, &r.msgs, &r.bytes, &r.most);
	win_out(s, p, &r, now, force);
}

/*
 * Once per pass of the loop (sock_tick), as Acks: the grants that moved.
 * The room once for all peers (win_room walks the reassemblies).
 */
void
sock_win_flush(struct sock *s, nbmq_time now)
{
	struct win_rooms	 r;
	struct peer		*p;
	int			 have = 0;

	if (!s->win_dirty)
		return;
	s->win_dirty = 0;
	TAILQ_FOREACH(p, &s->peers, entry) {
		if (!(p->ext_flags & FRAME_HELLO_WINDOW))
			continue;
		if (!have)
			win_room(s, &r.msgs, &r.bytes, &r.most);
		have = 1;
		win_out(s, p, &r, now, 0);
	}
}
