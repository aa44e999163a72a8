/* SPDX-License-Identifier: ISC */
/*
 * sock.c: one nbmq socket as messaging behaviour over its sessions:
 * received datagrams in, reassembly into the receive queue, messages out
 * through per-peer send queues cut into frames by deficit round robin.
 *
 * The extension (PROTOCOL.md 4.3): towards a peer that said Hello, chunks
 * are cut to its negotiated frame size, and the frames one tick sends it
 * back to back are packed into Batch datagrams, built in place in the
 * outbox's next slot (struct batch) and committed when the next frame does
 * not fit, goes elsewhere, or the tick ends.  Every entry is one data frame
 * as far as anything else is concerned (hashes, acks, resends, counters).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

#define REASM_OVERTAKEN	16	/* incomplete messages per peer */

static void	sock_reasm_drop(struct sock *, struct reasm *,
		    enum drop_reason);

int
sock_init(struct sock *s, int type, const struct sockopts *o,
    const struct sock_ops *ops, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->sent = session_sent;
	s->peer_gone = sock_peer_gone;
	s->type = type;
	s->o = *o;
	s->ops = ops;
	s->arg = arg;
	s->link = LINK_IDLE;
	s->reconnect_at = NBMQ_TIME_NEVER;
	s->maint_at = NBMQ_TIME_NEVER;
	s->pace_at = NBMQ_TIME_NEVER;
	TAILQ_INIT(&s->peers);
	TAILQ_INIT(&s->by_seen);
	TAILQ_INIT(&s->by_sent);
	TAILQ_INIT(&s->active);
	TAILQ_INIT(&s->rq);
	TAILQ_INIT(&s->reasm_lru);
	TAILQ_INIT(&s->orphans);
	TAILQ_INIT(&s->resendq);
	TAILQ_INIT(&s->dedupq);
	hmap_init(&s->by_id);
	hmap_init(&s->by_addr);
	s->next_msgid = ops->random64(arg);
	snprintf(s->name, sizeof(s->name), "?");
	return outbox_init(&s->ob, o->max_frame_size);
}

void
sock_destroy(struct sock *s)
{
	struct msg	*m;

	session_close_all(s);
	sock_hold(s, -(int64_t)s->rx_bytes);	/* the receive queue's */
	stunsrv_free(s);
	stuncli_free(s);
	crypt_sock_free(s);
	/* Kept for a next session that never came: counted as their
	 * session's queue was (session_peer_free). */
	while ((m = TAILQ_FIRST(&s->orphans)) != NULL) {
		TAILQ_REMOVE(&s->orphans, m, entry);
		session_count_gone(s, m);
		s->queued--;
		s->norphans--;
		msg_free(m);
	}
	msgq_free(&s->rq);
	hmap_free(&s->by_id);
	hmap_free(&s->by_addr);
	outbox_free(&s->ob);
}

void
sock_set_bound(struct sock *s)
{
	s->bound = 1;
}

static void
sock_count(struct sock *s, struct peer *p, enum drop_reason why)
{
	s->st.drops[why]++;
	if (p != NULL)
		p->st.drops[why]++;
}

void
sock_hold(struct sock *s, int64_t delta)
{
	s->rx_bytes += (uint64_t)delta;
	if (s->mb != NULL)
		s->mb->used += (uint64_t)delta;
}

/*
 * Would holding `more` bytes pass recv_hwm_bytes or the daemon's
 * max_memory?  (0: a new message, which needs room for a byte at least.)
 */
static int
sock_over(const struct sock *s, uint64_t more)
{
	if (more == 0)
		more = 1;
	return s->rx_bytes + more > s->o.recv_hwm_bytes ||
	    (s->mb != NULL && s->mb->used + more > s->mb->max);
}

/* A message for the application. */
static void
sock_deliver(struct sock *s, struct peer *p, struct msg *m)
{
	int	was_empty = TAILQ_EMPTY(&s->rq);

	m->peer = p->session;
	p->recent[p->recent_pos++ % PEER_RECENT] = m->id;
	p->st.rx_msgs++;
	p->st.rx_bytes += m->size;
	s->st.rx_msgs++;
	TAILQ_INSERT_TAIL(&s->rq, m, entry);
	s->rq_len++;
	sock_hold(s, m->size);
	if (was_empty)
		s->ops->recv_ready(s->arg, s);
}

/* recv_hwm: drop, count, and leave a marker the app will read as ENOBUFS. */
static void
sock_drop_hwm(struct sock *s, struct peer *p, uint64_t msgid)
{
	struct msg	*last = TAILQ_LAST(&s->rq, msgq);

	if (p->last_dropped == msgid && msgid != 0)
		return;		/* another frame of a message dropped already */
	p->last_dropped = msgid;
	sock_count(s, p, DROP_RECV_HWM);
	s->drops_unreported++;
	if (last != NULL && last->nparts == 0) {
		last->dropped++;
		return;
	}
	if ((last = msg_new_marker(1)) == NULL)
		return;
	TAILQ_INSERT_TAIL(&s->rq, last, entry);
	if (TAILQ_FIRST(&s->rq) == last)
		s->ops->recv_ready(s->arg, s);
}

static int
sock_recent(const struct peer *p, uint64_t msgid)
{
	for (int i = 0; i < PEER_RECENT; i++)
		if (p->recent[i] == msgid && msgid != 0)
			return 1;
	return 0;
}

/*
 * One validated data frame f from p: a kind-0 frame, or a Batch entry.
 * hdr is its 10-byte header (kind 0), rest/len the frame from byte 10 on:
 * safe_dealer acks FNV-1a-64 of the two.
 */
static void
sock_data(struct sock *s, struct peer *p, const struct frame *f,
    const uint8_t *hdr, const uint8_t *rest, size_t len, nbmq_time now)
{
	struct reasm		*r;
	struct msg		*m;
	enum drop_reason	 why;
	nbmq_time		 last;
	size_t			 mem;
	uint64_t		 hash = 0;
	int			 dup, safe = s->type == NBMQ_SAFE_DEALER;

	if (s->type == NBMQ_RADIO) {
		sock_count(s, p, DROP_NO_RECV);
		return;
	}
	if (safe)
		hash = sock_ack_key(p, f, hdr, rest, len);
	/* Newest first: frames come in order, stale ones wait at the head. */
	TAILQ_FOREACH_REVERSE(r, &p->reasms, reasm_list, peer_entry)
		if (r->msgid == f->msgid)
			break;
	if (r == NULL) {
		if ((safe && safe_is_dup(s, p, f->msgid, now)) ||
		    sock_recent(p, f->msgid)) {
			/* safe_dealer: our Ack was lost; ack it again. */
			if (safe)
				safe_ack_out(s, p, f, hash, now);
			sock_count(s, p, DROP_DUPLICATE);
			return;
		}
		if (s->rq_len + s->nreasm >= s->o.recv_hwm ||
		    sock_over(s, 0) ||
		    (safe && safe_full(s))) {
			/*
			 * safe_dealer: no Ack, so the sender tries again
			 * and gives up visibly; nothing is lost silently.
			 */
			if (safe)
				sock_count(s, p, DROP_RECV_HWM);
			else
				sock_drop_hwm(s, p, f->msgid);
			/*
			 * The application is behind: the sender hears it too
			 * (Slow, 4.4), so that its own application waits
			 * rather than this one losing.
			 */
			sock_pace_drop(s, p, 1, now);
			return;
		}
		/* Begun here: the sender's window moves on (4.7). */
		win_seen(&p->win, f->msgid, f->message_size);
		s->win_dirty = 1;
		/* The rest of a message dropped at recv_hwm goes with it. */
		if (!safe && f->msgid == p->last_dropped && f->msgid != 0 &&
		    (f->part_index != 0 || f->chunk_offset != 0))
			return;
		/* One frame, one part: no reassembly state at all. */
		if (f->part_count == 1 && f->chunk_offset == 0 &&
		    f->chunk_size == f->message_size) {
			if ((m = msg_new(1, f->message_size)) == NULL)
				return;
			m->id = f->msgid;
			m->partsz[0] = f->message_size;
			memcpy(m->data, f->data, f->chunk_size);
			pace_taken(&p->pace, f->chunk_size, now);
			if (safe) {
				safe_ack_out(s, p, f, hash, now);
				safe_delivered(s, p, m->id, now);
			}
			sock_deliver(s, p, m);
			return;
		}
		/*
		 * Fire and forget: a peer sends its messages' frames in
		 * order, so one overtaken by REASM_OVERTAKEN newer ones lost
		 * a frame for good.  It goes now rather than holding its
		 * memory and a recv_hwm place until the TTL.
		 */
		if (!safe && p->nreasms >= REASM_OVERTAKEN) {
			sock_reasm_drop(s, TAILQ_FIRST(&p->reasms),
			    DROP_REASM_TIMEOUT);
			sock_pace_drop(s, p, 1, now);
		}
		if ((r = reasm_new(f, now)) == NULL) {
			log_warn("socket %s: reassembly", s->name);
			return;
		}
		r->peer = p;
		sock_hold(s, (int64_t)r->mem);
		p->nreasms++;
		TAILQ_INSERT_TAIL(&p->reasms, r, peer_entry);
		TAILQ_INSERT_TAIL(&s->reasm_lru, r, lru_entry);
		s->nreasm++;
		if (s->maint_at == NBMQ_TIME_NEVER)
			s->maint_at = now + s->o.queue_maint_ivl;
	}
	/*
	 * recv_hwm_bytes holds for the messages begun too: past it a frame
	 * that would add bytes is not taken (safe_dealer: not acked, sent
	 * again later; else its message goes, counted).
	 */
	if (f->chunk_size > 0 &&
	    sock_over(s, f->chunk_size + sizeof(struct reasm_chunk))) {
		if (safe)
			sock_count(s, p, DROP_RECV_HWM);
		else {
			sock_reasm_drop(s, r, DROP_NONE);
			sock_drop_hwm(s, p, f->msgid);
		}
		sock_pace_drop(s, p, 1, now);
		return;
	}
	pace_taken(&p->pace, f->chunk_size, now);	/* 4.4 */
	last = r->last;
	mem = r->mem;
	why = reasm_add(r, f, now, &dup);
	sock_hold(s, (int64_t)r->mem - (int64_t)mem);
	if (r->last != last) {
		/* Only a frame that refreshed it: the LRU stays by r->last. */
		TAILQ_REMOVE(&s->reasm_lru, r, lru_entry);
		TAILQ_INSERT_TAIL(&s->reasm_lru, r, lru_entry);
	}
	if (why != DROP_NONE) {
		sock_count(s, p, why);
		return;
	}
	if (safe)
		safe_ack_out(s, p, f, hash, now);
	if (!reasm_complete(r))
		return;
	TAILQ_REMOVE(&p->reasms, r, peer_entry);
	TAILQ_REMOVE(&s->reasm_lru, r, lru_entry);
	p->nreasms--;
	s->nreasm--;
	sock_hold(s, -(int64_t)r->mem);
	if (safe)
		safe_delivered(s, p, r->msgid, now);
	if ((m = reasm_finish(r)) != NULL)
		sock_deliver(s, p, m);
}

/* Batches come from a peer that has the extension, or that we offered
 * it to (its answer may be lost while its Batches arrive). */
static int
sock_takes_batch(const struct sock *s, const struct peer *p)
{
	return (p->ext_flags & FRAME_HELLO_COALESCE) ||
	    (!p->ext && !s->bound && p->hellos > 0 && s->o.coalesce);
}

/* A Slow from p (PROTOCOL.md 4.4): pace what goes to it. */
static void
sock_slow_in(struct sock *s, struct peer *p, const struct frame *f,
    nbmq_time now)
{
	uint64_t	cuts = p->pace.cuts;

	pace_slow(&p->pace, (uint64_t)f->taken_kib << 10, f->dropped, now);
	/* At most one per PACE_HOLD (20 ms) and peer. */
	if (p->pace.cuts != cuts)
		log_debug("socket %s peer %016llx: Slow (%u dropped, taken "
		    "%u KiB/s): paced at %llu KiB/s", s->name,
		    (unsigned long long)p->session, f->dropped, f->taken_kib,
		    (unsigned long long)(p->pace.rate >> 10));
}

/*
 * A Batch from p (PROTOCOL.md 4.3): its layout was checked (why), each
 * entry goes on as the data frame it stands for, validated as one; the
 * peer's liveness is refreshed once, by the first entry that is valid.
 */
static void
sock_batch_in(struct sock *s, struct peer *p, const struct frame *b,
    enum drop_reason why, const struct nbaddr *from, nbmq_time now)
{
	struct frame	 e;
	uint8_t		 hdr[FRAME_HDR_SIZE];
	const uint8_t	*entry;
	size_t		 off = 0, len;
	int		 seen = 0;

	if (!sock_takes_batch(s, p))
		why = DROP_UNKNOWN_KIND;	/* what a v0.2.0 peer does */
	if (why != DROP_NONE) {
		p->st.rx_frames++;
		sock_count(s, p, why);
		return;
	}
	frame_put_ctl(hdr, FK_DATA, p->session);
	while (frame_next_entry(b, &off, s->o.max_message_size, &e, &entry,
	    &len, &why)) {
		p->st.rx_frames++;
		if (why != DROP_NONE) {
			sock_count(s, p, why);
			continue;
		}
		if (!seen) {
			seen = 1;
			if (session_seen(s, p, from, now) == -1)
				return;		/* refused: counted */
			if (now - p->last_sent >= s->o.peer_heartbeat_ivl)
				session_heartbeat(s, p, now);
		}
		sock_data(s, p, &e, hdr, entry, len, now);
	}
}

/* Under load, sodium's cookie reply to a Connect, as it is. */
static void
sock_reply(struct sock *s, const struct nbaddr *to, const struct crypt_in *ci)
{
	uint8_t	*b;

	if ((b = sock_slot(s, to)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return;
	}
	memcpy(b, ci->reply, ci->reply_len);
	(void)sock_out(s, NULL, OUT_PLAIN, (uint32_t)ci->reply_len, 0);
}

/*
 * An encrypted socket's datagram through crypt_input(): 1 and *ci the
 * frame to go on with, or 0: the rest is done here (a refusal to send or
 * received, a session unknown) or nothing is left to do.
 */
static int
sock_unseal(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, size_t len, struct crypt_in *ci)
{
	switch (crypt_input(s, now, from, buf, len, ci)) {
	case CRYPT_FRAME:
		return 1;
	case CRYPT_UNKNOWN:
		session_unknown(s, ci->id, from, now);
		break;
	case CRYPT_REFUSE:
		session_refuse(s, from, ci->why, now);
		break;
	case CRYPT_REFUSED:
		session_refused(s, from, ci->why, now);
		break;
	case CRYPT_REPLY:
		sock_reply(s, from, ci);
		break;
	case CRYPT_CONNECT:
		(void)session_send_ctl(s, &s->remote, FK_CONNECT, 0);
		break;
	case CRYPT_DONE:
		break;
	}
	return 0;
}

/* Connect and Connected: a handshake no session took goes. */
static void
sock_handshake(struct sock *s, const struct frame *f,
    const struct nbaddr *from, const struct crypt_in *ci, nbmq_time now)
{
	struct peer	*p;

	if (f->kind == FK_CONNECT)
		p = session_accept(s, from, ci->hs, now);
	else
		p = session_connected(s, f->session, from, ci->hs, now);
	if (p == NULL && ci->hs != NULL)
		crypt_hs_free(s, ci->hs);
	else if (p != NULL && ci->hs != NULL)
		memcpy(p->who, ci->who, sizeof(p->who));
}

void
sock_input(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, size_t len)
{
	struct crypt_in		 ci;
	struct frame		 f;
	struct peer		*p;
	enum drop_reason	 why;

	s->st.rx_datagrams++;
	/* STUN: a stun socket's everything; else PROTOCOL.md 4.1's test. */
	if (s->type == NBMQ_STUN) {
		stunsrv_input(s, now, from, buf, len);
		return;
	}
	if (stun_is_stun(buf, len)) {
		stuncli_input(s, now, from, buf, len);
		return;
	}
	/* Encrypted socket: frames come opened, handshakes verified. */
	ci.hs = NULL;
	if (s->crypt != NULL) {
		if (!sock_unseal(s, now, from, buf, len, &ci))
			return;
		buf = ci.buf;
		len = ci.len;
		from = ci.from;
	}
	why = frame_parse(buf, len, s->o.max_message_size, &f);
	/* No extension offered: Hello and Slow are unknown, as for v0.2.0. */
	if ((f.kind == FK_HELLO || f.kind == FK_SLOW || f.kind == FK_FLOOR ||
	    f.kind == FK_ACKS || f.kind == FK_WINDOW) &&
	    OPTS_EXT_FLAGS(&s->o) == 0)
		why = DROP_UNKNOWN_KIND;
	if (why == DROP_SHORT || why == DROP_VERSION ||
	    why == DROP_UNKNOWN_KIND || why == DROP_ENCRYPTED) {
		/* PROTOCOL.md 5: an encrypted socket refused our Connect
		 * (the reason is logged), or we refuse an encrypted one, and
		 * say so. */
		if (why == DROP_ENCRYPTED && f.kind == (FK_DISCONNECTED |
		    FRAME_ENCRYPTED) && f.session == 0)
			session_refused(s, from, CONN_PEER_ENCRYPTED, now);
		else if (why == DROP_ENCRYPTED) {
			crypt_refuse(s, now, from, f.kind);
			if (f.kind == (FK_CONNECT | FRAME_ENCRYPTED))
				session_refuse(s, from, 0, now);
		}
		sock_count(s, NULL, why);
		return;
	}
	switch (f.kind) {
	case FK_CONNECT:
	case FK_CONNECTED:
		sock_handshake(s, &f, from, &ci, now);
		return;
	case FK_DISCONNECTED:
		session_disconnected(s, f.session, from, now);
		return;
	}
	if ((p = sock_peer_by_id(s, f.session)) == NULL) {
		if (f.kind == FK_BATCH && !s->o.coalesce)
			sock_count(s, NULL, DROP_UNKNOWN_KIND);
		else
			session_unknown(s, f.session, from, now);
		return;
	}
	if (f.kind == FK_BATCH) {
		sock_batch_in(s, p, &f, why, from, now);
		return;
	}
	p->st.rx_frames++;
	if (why != DROP_NONE) {
		/* A malformed data frame proves nothing about the peer. */
		sock_count(s, p, why);
		return;
	}
	if (session_seen(s, p, from, now) == -1)
		return;			/* refused: counted */
	if (f.kind == FK_DATA) {
		if (now - p->last_sent >= s->o.peer_heartbeat_ivl)
			session_heartbeat(s, p, now);
		sock_data(s, p, &f, buf, buf + FRAME_HDR_SIZE,
		    len - FRAME_HDR_SIZE, now);
	} else if (f.kind == FK_ACK && s->type == NBMQ_SAFE_DEALER)
		safe_ack_in(s, p, f.ack, now);
	else if (f.kind == FK_ACKS && s->type == NBMQ_SAFE_DEALER)
		safe_acks_in(s, p, &f, now);
	else if (f.kind == FK_FLOOR && s->type == NBMQ_SAFE_DEALER &&
	    (p->ext_flags & FRAME_HELLO_FLOOR))
		safe_floor_in(s, p, f.floor);
	else if (f.kind == FK_HELLO)
		session_hello(s, p, &f, now);
	else if (f.kind == FK_SLOW && (p->ext_flags & FRAME_HELLO_PACE))
		sock_slow_in(s, p, &f, now);
	else if (f.kind == FK_WINDOW && (p->ext_flags & FRAME_HELLO_WINDOW))
		win_grant(&p->win, f.win_flags & FRAME_WINDOW_SEEN ?
		    &f.win_seen : NULL, f.win_msgs, f.win_bytes);
	/* FK_HEARTBEAT: liveness only. */
}

/* Append m to p's send queue. */
static void
sock_enqueue(struct sock *s, struct peer *p, struct msg *m)
{
	TAILQ_INSERT_TAIL(&p->sendq, m, entry);
	p->sendq_len++;
	s->queued++;
	if (!p->active) {
		p->active = 1;
		p->deficit = 0;
		TAILQ_INSERT_TAIL(&s->active, p, active_entry);
	}
}

/* Dealer: the next peer in round robin order with room under send_hwm. */
static struct peer *
sock_pick(struct sock *s, int force)
{
	struct peer	*p, *start, *best = NULL;

	start = s->rr_next ? s->rr_next : TAILQ_FIRST(&s->peers);
	p = start;
	do {
		if (!p->confirmed)
			;	/* not yet shown it has the session */
		else if (sock_peer_load(p) < s->o.send_hwm) {
			s->rr_next = TAILQ_NEXT(p, entry);
			return p;
		}
		else if (best == NULL ||
		    sock_peer_load(p) < sock_peer_load(best))
			best = p;
		if ((p = TAILQ_NEXT(p, entry)) == NULL)
			p = TAILQ_FIRST(&s->peers);
	} while (p != start);
	if (force && best != NULL)
		s->rr_next = TAILQ_NEXT(best, entry);
	return force ? best : NULL;
}

int
sock_send(struct sock *s, struct msg *m, nbmq_time now, int force)
{
	struct peer	*p;

	if (s->type == NBMQ_DISH) {
		msg_free(m);
		return ENOTSUP;
	}
	if (m->size > s->o.max_message_size) {
		msg_free(m);
		return EMSGSIZE;
	}
	if (s->nup == 0) {
		msg_free(m);
		return EHOSTUNREACH;
	}
	m->id = s->next_msgid++;
	if (m->peer != 0) {
		if ((p = sock_peer_by_id(s, m->peer)) == NULL ||
		    !p->confirmed) {
			msg_free(m);
			return EHOSTUNREACH;
		}
		if (sock_peer_load(p) >= s->o.send_hwm && !force) {
			msg_free(m);
			return EAGAIN;
		}
		sock_enqueue(s, p, m);
		return 0;
	}
	if (s->type == NBMQ_RADIO) {
		struct peer	*last = NULL;

		/* Each confirmed peer gets a copy; the last takes m itself. */
		TAILQ_FOREACH(p, &s->peers, entry)
			if (p->confirmed)
				last = p;
		TAILQ_FOREACH(p, &s->peers, entry) {
			struct msg *c = m;

			if (!p->confirmed)
				continue;
			if (p != last) {
				size_t	n = (size_t)m->nparts * 4 + m->size;

				if ((c = msg_new(m->nparts, m->size)) == NULL)
					continue;
				memcpy(c->partsz, m->partsz, n);
				c->id = m->id;
			}
			if (sock_peer_load(p) >= s->o.send_hwm && !force) {
				sock_count(s, p, DROP_SEND_FAILED);
				msg_free(c);
				continue;
			}
			sock_enqueue(s, p, c);
		}
		return 0;
	}
	if ((p = sock_pick(s, force)) == NULL) {
		msg_free(m);
		return EAGAIN;
	}
	sock_enqueue(s, p, m);
	return 0;
}

uint64_t
sock_peer_load(const struct peer *p)
{
	return p->sendq_len + p->inflight;
}

void
sock_peer_gone(struct sock *s, struct peer *p)
{
	struct reasm	*r;

	safe_peer_free(s, p);
	win_free(&p->win);
	while ((r = TAILQ_FIRST(&p->reasms)) != NULL) {
		TAILQ_REMOVE(&p->reasms, r, peer_entry);
		TAILQ_REMOVE(&s->reasm_lru, r, lru_entry);
		s->nreasm--;
		sock_hold(s, -(int64_t)r->mem);
		reasm_free(r);
	}
	if (s->crypt != NULL)
		crypt_hs_free(s, p->crypt);
	p->crypt = NULL;
}

/* Cut the next frame of p's head message into the outbox: 0, or -1 when
 * the kernel takes nothing. */
static int
sock_emit(struct sock *s, struct peer *p, nbmq_time now)
{
	struct msg	*m = TAILQ_FIRST(&p->sendq);
	uint32_t	 psz = m->partsz[p->cur_part];
	uint32_t	 maxchunk = sock_max_chunk(s, p);
	uint32_t	 chunk = psz - p->cur_off;
	uint64_t	 hash;
	int		 safe = s->type == NBMQ_SAFE_DEALER;

	if (chunk > maxchunk)
		chunk = maxchunk;
	if (p->cur_part == 0 && p->cur_off == 0 &&
	    (p->ext_flags & FRAME_HELLO_WINDOW))
		(void)win_begin(&p->win, m->id, m->size, now);
	if (sock_put_frame(s, p, m, p->cur_part, p->cur_off, p->cur_base,
	    chunk, now, safe ? &hash : NULL) == -1)
		return -1;
	session_sent(s, p, now);
	if (safe)
		safe_track(s, p, m, p->cur_part, p->cur_off, p->cur_base,
		    chunk, hash, now);

	p->cur_off += chunk;
	if (p->cur_off < psz)
		return 0;
	p->cur_base += psz;
	p->cur_off = 0;
	if (++p->cur_part < m->nparts)
		return 0;
	/* The whole message left; safe_dealer: it waits for its Acks. */
	TAILQ_REMOVE(&p->sendq, m, entry);
	p->sendq_len--;
	s->queued--;
	p->st.tx_msgs++;
	p->st.tx_bytes += m->size;
	s->st.tx_msgs++;
	p->cur_part = p->cur_base = 0;
	if (m->unacked > 0)
		safe_inflight(s, p, m);
	msg_free(m);
	return 0;
}

/* Size of the next frame p would send (alone). */
static uint32_t
sock_next_frame_size(const struct sock *s, const struct peer *p)
{
	const struct msg	*m = TAILQ_FIRST(&p->sendq);
	uint32_t		 left = m->partsz[p->cur_part] - p->cur_off;
	uint32_t		 maxchunk = sock_max_chunk(s, p);

	return FRAME_DATA_HDR_SIZE + (left < maxchunk ? left : maxchunk);
}

/*
 * Dealer between daemons (4.7): p's next frame begins a message and its
 * receiver has no room for one.  Messages begun peer_heartbeat_ivl ago
 * and not seen since are taken as lost first.
 */
static int
sock_win_held(struct sock *s, struct peer *p, nbmq_time now)
{
	struct msg	*m = TAILQ_FIRST(&p->sendq);

	if (!(p->ext_flags & FRAME_HELLO_WINDOW) || p->cur_part != 0 ||
	    p->cur_off != 0 || m == NULL)
		return 0;
	win_expire(&p->win, now, s->o.peer_heartbeat_ivl);
	if (win_open(&p->win, m->size))
		return 0;
	return 1;
}

/*
 * When p may send next: 0 at once; else when its pacing has the tokens
 * (4.4), or, held by its safe_dealer window, its next nudge (safe_nudge;
 * Acks that move its floor come sooner).
 */
static nbmq_time
sock_wait(struct sock *s, struct peer *p, nbmq_time now)
{
	nbmq_time	w;

	if (p->pace.rate != 0 && (w = pace_wait(&p->pace, now)) != 0)
		return w;
	if (sock_win_held(s, p, now))
		return win_wait(&p->win, s->o.peer_heartbeat_ivl);
	if (safe_span_full(s, p))
		return safe_nudge(s, p, now);
	return 0;
}

/*
 * Deficit round robin in bytes.  The quantum is the largest frame in use
 * on the socket (the outbox's slot: max_frame_size, or an extension peer's
 * frame size), so every peer sends at least one frame per round and all
 * get the same bytes whatever their frame size.
 */
int
sock_tick(struct sock *s, nbmq_time now)
{
	uint64_t	 budget = s->o.max_tick_send;
	int64_t		 quantum = (int64_t)s->ob.slot_size;
	struct peer	*p = NULL, *paced = NULL;
	nbmq_time	 w;

	/* What the reading gathered is acked first (4.6). */
	safe_acks_flush(s, now);
	sock_win_flush(s, now);		/* and the grants that moved (4.7) */
	s->pace_at = NBMQ_TIME_NEVER;
	while (budget > 0 && (p = TAILQ_FIRST(&s->active)) != NULL) {
		/*
		 * A paced peer (4.4) waits for its tokens, a safe_dealer
		 * peer held by its window for Acks or its next nudge: its
		 * turn comes again from the timer.  Once every active peer
		 * is waiting, the tick is over.
		 */
		if ((w = sock_wait(s, p, now)) != 0) {
			if (w < s->pace_at)
				s->pace_at = w;
			if (p == paced)
				break;
			if (paced == NULL)
				paced = p;
			TAILQ_REMOVE(&s->active, p, active_entry);
			TAILQ_INSERT_TAIL(&s->active, p, active_entry);
			continue;
		}
		paced = NULL;
		p->deficit += quantum;
		while (budget > 0 && !TAILQ_EMPTY(&p->sendq) &&
		    !safe_span_full(s, p)) {
			uint32_t size = sock_next_frame_size(s, p);

			if (size > p->deficit || sock_win_held(s, p, now))
				break;
			if (p->pace.rate != 0 &&
			    (w = pace_wait(&p->pace, now)) != 0) {
				if (w < s->pace_at)
					s->pace_at = w;
				break;
			}
			if (sock_emit(s, p, now) == -1) {
				/* The kernel is full: wait. */
				p->deficit -= quantum;
				return 1;
			}
			pace_sent(&p->pace, size, now);
			p->deficit -= size;
			budget--;
		}
		TAILQ_REMOVE(&s->active, p, active_entry);
		if (TAILQ_EMPTY(&p->sendq)) {
			p->active = 0;
			p->deficit = 0;
		} else
			TAILQ_INSERT_TAIL(&s->active, p, active_entry);
	}
	sock_batch_close(s);
	/* Only paced peers left: the timer (s->pace_at) goes on. */
	if (p != NULL && p == paced)
		return 0;
	return !TAILQ_EMPTY(&s->active);
}

int
sock_has_output(const struct sock *s)
{
	return !TAILQ_EMPTY(&s->active) || s->ob.n > 0;
}

uint64_t
sock_send_room(const struct sock *s)
{
	const struct peer	*p;
	uint64_t		 room = 0, min = UINT64_MAX;

	if (s->type == NBMQ_DISH)
		return 0;
	TAILQ_FOREACH(p, &s->peers, entry) {
		uint64_t l = sock_peer_load(p);
		uint64_t r = l < s->o.send_hwm ? s->o.send_hwm - l : 0;

		if (!p->confirmed)
			continue;
		room += r;
		if (r < min)
			min = r;
	}
	if (s->type == NBMQ_RADIO)
		return s->nup ? min : 0;
	return room;
}

/* An incomplete message goes, counted as why. */
static void
sock_reasm_drop(struct sock *s, struct reasm *r, enum drop_reason why)
{
	TAILQ_REMOVE(&s->reasm_lru, r, lru_entry);
	TAILQ_REMOVE(&r->peer->reasms, r, peer_entry);
	r->peer->nreasms--;
	s->nreasm--;
	sock_hold(s, -(int64_t)r->mem);
	if (why != DROP_NONE)
		sock_count(s, r->peer, why);
	reasm_free(r);
}

static void
sock_expire_reasm(struct sock *s, nbmq_time now)
{
	struct reasm	*r;

	while ((r = TAILQ_FIRST(&s->reasm_lru)) != NULL &&
	    r->last + s->o.uncompleted_message_ttl <= now)
		sock_reasm_drop(s, r, DROP_REASM_TIMEOUT);
	s->maint_at = TAILQ_EMPTY(&s->reasm_lru) ? NBMQ_TIME_NEVER :
	    now + s->o.queue_maint_ivl;
}

nbmq_time
sock_next_deadline(const struct sock *s)
{
	nbmq_time	t = session_next_deadline(s), u;

	if (s->maint_at < t)
		t = s->maint_at;
	if (s->pace_at < t)
		t = s->pace_at;
	if (s->type == NBMQ_SAFE_DEALER && (u = safe_next_deadline(s)) < t)
		t = u;
	if ((u = stunsrv_next_deadline(s)) < t)
		t = u;
	if ((u = stuncli_next_deadline(s)) < t)
		t = u;
	return t;
}

nbmq_time
sock_timers(struct sock *s, nbmq_time now)
{
	session_timers(s, now);
	if (s->pace_at <= now)
		s->pace_at = NBMQ_TIME_NEVER;	/* the tick that follows */
	if (s->maint_at <= now)
		sock_expire_reasm(s, now);
	if (s->type == NBMQ_SAFE_DEALER)
		safe_timers(s, now);
	stunsrv_timers(s, now);
	stuncli_timers(s, now);
	return sock_next_deadline(s);
}

struct msg *
sock_recv(struct sock *s)
{
	struct msg	*m;

	if ((m = TAILQ_FIRST(&s->rq)) == NULL)
		return NULL;
	TAILQ_REMOVE(&s->rq, m, entry);
	if (m->nparts == 0)
		s->drops_unreported -= m->dropped <= s->drops_unreported ?
		    m->dropped : s->drops_unreported;
	else {
		s->rq_len--;
		sock_hold(s, -(int64_t)m->size);
		s->win_dirty = 1;	/* room for senders (4.7) */
	}
	return m;
}

void
sock_unrecv(struct sock *s, struct msg *m)
{
	int	was_empty = TAILQ_EMPTY(&s->rq);

	TAILQ_INSERT_HEAD(&s->rq, m, entry);
	s->rq_len++;
	sock_hold(s, m->size);
	if (s->rq_held > 0)
		s->rq_held--;
	if (was_empty)
		s->ops->recv_ready(s->arg, s);
}

uint64_t
sock_recv_count(const struct sock *s)
{
	return s->rq_len + s->nreasm;
}

/* Add from's counters to to (the daemon's totals, a closed socket's). */
void
sock_stats_add(struct sock_stats *to, const struct sock_stats *from)
{
	for (int i = 0; i < DROP_NREASONS; i++)
		to->drops[i] += from->drops[i];
	to->rx_datagrams += from->rx_datagrams;
	to->tx_datagrams += from->tx_datagrams;
	to->rx_msgs += from->rx_msgs;
	to->tx_msgs += from->tx_msgs;
	to->sessions_created += from->sessions_created;
	to->resends += from->resends;
	to->giveups += from->giveups;
}
