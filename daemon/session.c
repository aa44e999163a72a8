/* SPDX-License-Identifier: ISC */
/*
 * session.c: the peers of one socket and their sessions (PROTOCOL.md
 * section 2): handshake, heartbeats, keepalive, reconnect, NAT rebinding,
 * Disconnected replies.  The state table is in nbmqd.h.
 *
 * Timers cost O(1) per peer: every peer sits in two lists ordered by time,
 * one by last_seen and one by last_sent.  Since all peers of a socket share
 * one keepalive and one heartbeat interval, the heads of the lists hold the
 * earliest keepalive expiry and the earliest heartbeat due.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

#define HB_SLACK_DIV	32	/* heartbeats sent up to ivl/32 early */
#define HELLOS_MAX	3	/* PROTOCOL.md 4.3: offers per session */
#define HELLO_ANSWERS	60	/* the bound side's answers, unconfirmed */

const char *const link_state_names[LINK_NSTATES] = {
	[LINK_IDLE] = "idle",
	[LINK_CONNECTING] = "connecting",
	[LINK_UP] = "up",
};

const char *const peer_event_names[PEV_NEVENTS] = {
	[PEV_UP] = "up",
	[PEV_DOWN_KEEPALIVE] = "keepalive timeout",
	[PEV_DOWN_DISCONNECTED] = "disconnected",
	[PEV_DOWN_REPLACED] = "replaced",
	[PEV_DOWN_CLOSED] = "closed",
	[PEV_ADDRESS] = "address changed",
};

const char *const conn_reason_names[CONN_NREASONS] = {
	[CONN_NONE] = "connecting",
	[CONN_NO_ANSWER] = "no answer",
	[CONN_PEER_ENCRYPTED] = "refused: the peer is encrypted",
	[CONN_PEER_PLAIN] = "refused: the peer is plain",
	[CONN_KEY_DENIED] = "refused: our key is not one of the peer's",
	[CONN_RESOLVE] = "cannot resolve",
	[CONN_UNREACHABLE] = "unreachable (ICMP)",
};

/* What moves a connecting socket's link (session_change_state). */
enum link_event {
	LEV_CONNECT,		/* connect(), or connect by name */
	LEV_KEEPALIVE,		/* the peer went silent */
	LEV_DISCONNECTED,	/* the peer does not know the session */
	LEV_NO_MEMORY,		/* Connected, but no memory for its peer */
	LEV_CONNECTED,		/* Connected: a new session */
	LEV_NEVENTS
};
static const char *const link_event_names[LEV_NEVENTS] = {
	[LEV_CONNECT] = "connect",
	[LEV_KEEPALIVE] = "keepalive timeout",
	[LEV_DISCONNECTED] = "disconnected",
	[LEV_NO_MEMORY] = "no memory",
	[LEV_CONNECTED] = "Connected",
};

static void	session_offer(struct sock *, struct peer *, nbmq_time);

/*
 * Why the connecting socket is not up: recorded, logged when it changes,
 * warned about once an episode after CONN_WARN_AFTER unanswered Connects,
 * and told to the shell when it changes or (no answer) once per Connect.
 */
static void
session_reason(struct sock *s, enum conn_reason why, nbmq_time now)
{
	int	changed = s->conn_reason != why;

	s->conn_reason = why;
	if (changed)
		log_info("socket %s: not up yet: %s", s->name,
		    conn_reason_names[why]);
	if ((changed || why == CONN_NO_ANSWER) && s->ops->connect_event)
		s->ops->connect_event(s->arg, s);
}

void
sock_connect_failed(struct sock *s, enum conn_reason why, nbmq_time now)
{
	if (s->bound || s->link != LINK_CONNECTING ||
	    (unsigned int)why >= CONN_NREASONS)
		return;
	s->conn_answered = 1;
	session_reason(s, why, now);
}

/* A bare Disconnected(0) from the remote: our Connect was refused. */
void
session_refused(struct sock *s, const struct nbaddr *from,
    enum conn_reason why, nbmq_time now)
{
	if (s->bound || s->link != LINK_CONNECTING || !s->remote_valid ||
	    !addr_eq(from, &s->remote))
		return;
	s->conn_answered = 1;
	session_reason(s, why, now);
}

/*
 * Queue one control frame to `to` for p (NULL: none yet, or unknown): 0,
 * or -1 when the kernel is full or it could not be sealed.  Connect and
 * Connected carry the handshake, Disconnected goes unsealed in this
 * socket's kind (nobody can seal it: the sender lost the session), the
 * rest is sealed at the encryptor's time.
 */
static int
session_out(struct sock *s, struct peer *p, const struct nbaddr *to,
    uint8_t kind, uint64_t session)
{
	enum out_how	 how = OUT_SEALED;
	uint8_t		*b;

	if ((b = sock_slot(s, to)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return -1;
	}
	if (kind == FK_CONNECT || kind == FK_CONNECTED)
		how = OUT_HANDSHAKE;
	else if (kind == FK_DISCONNECTED) {
		how = OUT_PLAIN;
		if (s->crypt != NULL)
			kind |= FRAME_ENCRYPTED;
	}
	return sock_out(s, p, how, (uint32_t)frame_put_ctl(b, kind, session),
	    0);
}

int
session_send_ctl(struct sock *s, const struct nbaddr *to, uint8_t kind,
    uint64_t session)
{
	return session_out(s, sock_peer_by_id(s, session), to, kind, session);
}

/* The peer was sent a frame now: it moves to the back of by_sent. */
void
session_sent(struct sock *s, struct peer *p, nbmq_time now)
{
	p->last_sent = now;
	TAILQ_REMOVE(&s->by_sent, p, sent_entry);
	TAILQ_INSERT_TAIL(&s->by_sent, p, sent_entry);
	p->st.tx_frames++;
	if (now >= p->hello_at)
		session_offer(s, p, now);
}

static void
session_send_peer(struct sock *s, struct peer *p, uint8_t kind, nbmq_time now)
{
	session_out(s, p, &p->addr, kind, p->session);
	session_sent(s, p, now);
}

/* Our Hello to p (PROTOCOL.md 4.3): an offer, the bound side's answer,
 * or (confirm) the connecting side's word that the answer arrived. */
static void
session_send_hello(struct sock *s, struct peer *p, uint16_t confirm,
    nbmq_time now)
{
	uint64_t	 efs = opts_ext_frame_size(&s->o);
	uint8_t		*b;

	if ((b = sock_slot(s, &p->addr)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return;
	}
	(void)sock_out(s, p, OUT_SEALED, (uint32_t)frame_put_hello(b,
	    p->session, SOCK_EXT_FLAGS(s) | confirm, (uint16_t)efs), 0);
	session_sent(s, p, now);
}

/*
 * A Heartbeat.  The connecting side (coalesce or pacing) offers the
 * extension after it, with its first HELLOS_MAX heartbeats of a session
 * until it is answered: a v0.2.0 bound peer, which ignores kind 6, sees 3
 * at most.
 */
void
session_heartbeat(struct sock *s, struct peer *p, nbmq_time now)
{
	session_send_peer(s, p, FK_HEARTBEAT, now);
	session_offer(s, p, now);
	/* An idle safe_dealer says its floor again: one may be lost. */
	if (s->type == NBMQ_SAFE_DEALER)
		safe_floor_out(s, p, 0, now);
	/* A grant may be lost: said again with every Heartbeat (4.7). */
	sock_win_out(s, p, now, 1);
}

/*
 * Hellos once per heartbeat interval, whatever else flows (called with
 * every heartbeat and every frame sent, so no timer of its own): the
 * connecting side offers the extension until answered, HELLOS_MAX times
 * at most (a v0.2.0 bound peer sees no more); the bound side, once it
 * has the extension, repeats its answer HELLO_ANSWERS times, since the
 * connecting side takes an answer whenever it comes.  Tied to the
 * heartbeat, which is not due while data flows, one lost offer or
 * answer left the two ends split for as long as the stream ran.
 */
static void
session_offer(struct sock *s, struct peer *p, nbmq_time now)
{
	if (now < p->hello_at || !SOCK_EXT_FLAGS(s) ||
	    (s->bound ? p->ext_neg != EXT_ANSWERING ||
	    p->hellos >= HELLO_ANSWERS : p->ext_neg != EXT_OFFERING ||
	    p->hellos >= HELLOS_MAX)) {
		if (now >= p->hello_at)
			p->hello_at = NBMQ_TIME_NEVER;	/* nothing to say */
		return;
	}
	p->hellos++;
	p->hello_at = now + s->o.peer_heartbeat_ivl;
	session_send_hello(s, p, 0, now);
}

/*
 * Hello from p (coalesce or pacing = yes; a v0.2.0 peer never sends one).
 * Both sides record the extension with the flags both offer and, when
 * both coalesce, the frame size, the smaller of what each accepts (never
 * below max_frame_size, which both ends agree on anyway).  The bound side
 * answers every offer (the connecting side says it again only while it
 * has no answer) and repeats its answer until the connecting side
 * confirms it (FRAME_HELLO_CONFIRM, sent for every answer that
 * arrives): the two ends agree as soon as one answer and one confirm
 * get through, however many were lost.  A session keeps what it
 * negotiated first.
 */
void
session_hello(struct sock *s, struct peer *p, const struct frame *f,
    nbmq_time now)
{
	uint64_t	fs = opts_ext_frame_size(&s->o);
	uint16_t	both = f->ext_flags & SOCK_EXT_FLAGS(s);
	int		newly = !p->ext && both != 0;

	if (newly) {
		p->ext = 1;
		if (p->ext_neg == EXT_IDLE)
			p->ext_neg = EXT_ANSWERING;
		p->ext_flags = both;
		p->frame_size = (uint32_t)s->o.max_frame_size;
		if (both & FRAME_HELLO_COALESCE) {
			if (f->ext_frame_size < fs)
				fs = f->ext_frame_size;
			if (fs < s->o.max_frame_size)
				fs = s->o.max_frame_size;
			p->frame_size = sock_grow_frames(s, (uint32_t)fs);
		}
		/* Frames in flight: their Acks will say their position. */
		if (both & FRAME_HELLO_ACKPOS)
			safe_rekey(s, p);
		log_info("socket %s peer %016llx: extension version %u,%s%s%s "
		    "frames up to %u bytes", s->name,
		    (unsigned long long)p->session, f->ext_version,
		    both & FRAME_HELLO_COALESCE ? " coalescing," : "",
		    both & FRAME_HELLO_PACE ? " pacing," : "",
		    both & FRAME_HELLO_WINDOW ? " window," : "",
		    p->frame_size);
	}
	if (s->bound && (f->ext_flags & FRAME_HELLO_CONFIRM)) {
		p->ext_neg = EXT_CONFIRMED;	/* no more */
		p->hello_at = NBMQ_TIME_NEVER;
	} else if (s->bound) {
		/* Every offer answered; the answer repeated from then on. */
		if (p->ext_neg == EXT_ANSWERING && p->hellos < HELLO_ANSWERS) {
			p->hellos++;
			p->hello_at = now + s->o.peer_heartbeat_ivl;
		}
		session_send_hello(s, p, 0, now);
	} else {
		p->ext_neg = EXT_ANSWERED;
		p->hello_at = NBMQ_TIME_NEVER;
		session_send_hello(s, p, FRAME_HELLO_CONFIRM, now);
	}
	/* The first grant (4.7), after the Hello that lets the peer take it:
	 * a sender holds to it from its first message. */
	if (newly)
		sock_win_out(s, p, now, 1);
}

static uint64_t
session_new_id(struct sock *s)
{
	uint64_t	id;

	for (;;) {
		id = s->ops->random64(s->arg);
		/* Never 0, never the STUN cookie at datagram offsets 4..7. */
		if (id == 0 || (uint32_t)(id >> 16) == STUN_COOKIE)
			continue;
		if (hmap_find(&s->by_id, id) == NULL)
			return id;
	}
}

/* A new session; hs, the handshake that made it (encrypted), is its. */
static struct peer *
session_peer_new(struct sock *s, uint64_t id, const struct nbaddr *addr,
    void *hs, nbmq_time now)
{
	struct peer	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	p->sock = s;
	p->session = id;
	p->addr = *addr;
	p->up_since = p->last_seen = p->last_sent = now;
	p->reach = 1;
	/* The connecting side offers at once; the bound side answers. */
	p->hello_at = s->bound ? NBMQ_TIME_NEVER : now;
	p->ext_neg = s->bound ? EXT_IDLE : EXT_OFFERING;
	p->confirmed = !s->bound;
	if (p->confirmed)
		s->nup++;
	TAILQ_INIT(&p->sendq);
	TAILQ_INIT(&p->inflightq);
	TAILQ_INIT(&p->dedupq);
	TAILQ_INIT(&p->reasms);
	if (hmap_insert(&s->by_id, &p->id_node, id) == -1 ||
	    hmap_insert(&s->by_addr, &p->addr_node, addr_hash(addr)) == -1) {
		hmap_remove(&s->by_id, &p->id_node);
		free(p);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&s->peers, p, entry);
	TAILQ_INSERT_TAIL(&s->by_seen, p, seen_entry);
	TAILQ_INSERT_TAIL(&s->by_sent, p, sent_entry);
	s->npeers++;
	s->st.sessions_created++;
	p->crypt = hs;
	return p;
}

/*
 * A queued message that goes with its peer (its session's queue, or the
 * one a closing socket kept for a next session): peer_gone, counted once
 * (a message given up with its session's frames in flight was counted
 * then: sim seed 3305 counted one both ways).
 */
void
session_count_gone(struct sock *s, const struct msg *m)
{
	if (m->given_up)
		return;
	s->st.drops[DROP_PEER_GONE]++;
	if (s->ops->msg_lost != NULL)
		s->ops->msg_lost(s->arg, s, m, FATE_PEER_GONE);
}

static void
session_peer_free(struct sock *s, struct peer *p, enum peer_event why)
{
	struct msg	*m;

	log_notice("socket %s peer %016llx at %s: down (%s)", s->name,
	    (unsigned long long)p->session, addr_str(&p->addr),
	    peer_event_names[why]);
	hmap_remove(&s->by_id, &p->id_node);
	hmap_remove(&s->by_addr, &p->addr_node);
	if (s->rr_next == p)
		s->rr_next = TAILQ_NEXT(p, entry);
	TAILQ_REMOVE(&s->peers, p, entry);
	TAILQ_REMOVE(&s->by_seen, p, seen_entry);
	TAILQ_REMOVE(&s->by_sent, p, sent_entry);
	if (p->active)
		TAILQ_REMOVE(&s->active, p, active_entry);
	s->npeers--;
	if (p->confirmed)
		s->nup--;

	/*
	 * First what the session took with it: safe_dealer's frames in
	 * flight are given up (safe_peer_free), the message being cut into
	 * frames too when some of it left.
	 */
	s->peer_gone(s, p);
	/*
	 * A connecting socket keeps its queue for the next session with the
	 * same remote; a bound socket's peer took its queue with it.  The
	 * message being cut into frames restarts whole.
	 */
	while ((m = TAILQ_FIRST(&p->sendq)) != NULL) {
		TAILQ_REMOVE(&p->sendq, m, entry);
		if (!s->bound && why != PEV_DOWN_CLOSED) {
			TAILQ_INSERT_TAIL(&s->orphans, m, entry);
			s->norphans++;
		} else {
			s->queued--;
			session_count_gone(s, m);
			msg_free(m);
		}
	}
	/* The application heard of it only once it was confirmed. */
	if (p->confirmed)
		s->ops->peer_event(s->arg, s, p, why);
	free(p);
}

/* Give a new session the queue a connecting socket kept. */
static void
session_adopt_orphans(struct sock *s, struct peer *p)
{
	if (TAILQ_EMPTY(&s->orphans))
		return;
	TAILQ_CONCAT(&p->sendq, &s->orphans, entry);
	p->sendq_len += s->norphans;
	s->norphans = 0;
	if (!p->active) {
		p->active = 1;
		p->deficit = 0;
		TAILQ_INSERT_TAIL(&s->active, p, active_entry);
	}
}

/* Connecting side: the episode's record cleared (a new one, or UP). */
static void
session_episode_clear(struct sock *s)
{
	s->conn_attempts = s->conn_unanswered = 0;
	s->conn_answered = s->conn_warned = 0;
	s->conn_reason = CONN_NONE;
}

/* Connecting side: send Connect to the remote, or have it resolved. */
static void
session_attempt(struct sock *s, nbmq_time now)
{
	s->reconnect_at = now + s->o.reconnect_wait;
	/* The attempt before got neither Connected nor a refusal (an ICMP
	 * error is no answer from nbmqd either, but says more). */
	if (s->conn_attempts > 0 && (!s->conn_answered ||
	    s->conn_reason == CONN_UNREACHABLE)) {
		s->conn_unanswered++;
		if (!s->conn_answered)
			session_reason(s, CONN_NO_ANSWER, now);
		if (!s->conn_warned && s->conn_unanswered >= CONN_WARN_AFTER) {
			s->conn_warned = 1;
			log_warnx("socket %s: no answer from %s after %u "
			    "Connects in %llu s%s%s%s: is nbmqd bound there, "
			    "and the path open?", s->name,
			    s->remote_valid ? addr_str(&s->remote) :
			    "the remote", s->conn_unanswered,
			    (unsigned long long)((now - s->conn_since) / NSEC),
			    s->conn_answered ? " (" : "",
			    s->conn_answered ?
			    conn_reason_names[s->conn_reason] : "",
			    s->conn_answered ? ")" : "");
		}
	}
	s->conn_attempts++;
	s->conn_answered = 0;
	if (s->lookup != NULL)
		s->lookup(s, now);		/* connect by name (4.1) */
	else if (s->remote_is_name)
		s->ops->resolve(s->arg, s);
	else if (s->remote_valid)
		session_send_ctl(s, &s->remote, FK_CONNECT, 0);
}

/*
 * The one writer of a connecting socket's link, with each state's entry
 * actions, as bgpd's change_state() has them.  Entering CONNECTING begins
 * an episode (from IDLE or UP) and makes an attempt, at once, or after
 * reconnect_wait when the last one's answer found no memory.  Entering UP,
 * also again (a new session replaced the old), ends the episode, stops
 * the reconnect and gives the new peer the queue kept over the reconnect.
 */
static void
session_change_state(struct sock *s, enum link_state to, enum link_event ev,
    nbmq_time now)
{
	enum link_state	from = s->link;

	if (from != to)
		log_notice("socket %s: %s -> %s (%s)", s->name,
		    link_state_names[from], link_state_names[to],
		    link_event_names[ev]);
	s->link = to;
	switch (to) {
	case LINK_CONNECTING:
		if (from != LINK_CONNECTING) {
			s->conn_since = now;
			session_episode_clear(s);
		}
		if (ev == LEV_NO_MEMORY)
			s->reconnect_at = now + s->o.reconnect_wait;
		else
			session_attempt(s, now);
		break;
	case LINK_UP:
		session_episode_clear(s);
		s->reconnect_at = NBMQ_TIME_NEVER;
		session_adopt_orphans(s, TAILQ_FIRST(&s->peers));
		break;
	default:
		break;
	}
}

void
sock_set_remote(struct sock *s, const struct nbaddr *a, nbmq_time now)
{
	s->remote = *a;
	s->remote_valid = 1;
	if (s->link == LINK_IDLE)
		session_change_state(s, LINK_CONNECTING, LEV_CONNECT, now);
	else if (s->link == LINK_CONNECTING) {
		/* A fresh resolution: this is the attempt. */
		session_send_ctl(s, &s->remote, FK_CONNECT, 0);
	}
}

void
sock_connect_name(struct sock *s, nbmq_time now)
{
	s->remote_is_name = 1;
	session_change_state(s, LINK_CONNECTING, LEV_CONNECT, now);
}

/* Connecting side lost its peer: connect again at once. */
static void
session_link_down(struct sock *s, struct peer *p, enum peer_event why,
    nbmq_time now)
{
	session_peer_free(s, p, why);
	session_change_state(s, LINK_CONNECTING, why == PEV_DOWN_KEEPALIVE ?
	    LEV_KEEPALIVE : LEV_DISCONNECTED, now);
}

/* A session at address a, confirmed or not, other than except; or NULL. */
static struct peer *
session_at(struct sock *s, const struct nbaddr *a, const struct peer *except,
    int confirmed)
{
	struct hnode	*n;
	struct peer	*p;

	for (n = hmap_find(&s->by_addr, addr_hash(a)); n != NULL;
	    n = hmap_next(n)) {
		p = container_of(n, struct peer, addr_node);
		if (p != except && p->confirmed == confirmed &&
		    addr_eq(&p->addr, a))
			return p;
	}
	return NULL;
}

/*
 * Bound side: a Connect arrived.  From an address that has a session, it
 * is a restarted peer that lost it, or a Connect forged with its address
 * (v0.2.0 cannot tell them apart): the new session replaces the live one
 * only once confirmed (session_confirm), so a forged Connect disturbs
 * nobody, even at max_peers (issue 15).  A session of that address that
 * never came up is superseded at once.
 */
struct peer *
session_accept(struct sock *s, const struct nbaddr *from, void *hs,
    nbmq_time now)
{
	struct peer	*p, *live;

	if (!s->bound) {
		s->st.drops[DROP_NOT_BOUND]++;
		return NULL;
	}
	while ((p = session_at(s, from, NULL, 0)) != NULL)
		session_peer_free(s, p, PEV_DOWN_REPLACED);
	live = session_at(s, from, NULL, 1);
	/*
	 * A replacement may wait beside the session it replaces.  If that
	 * one moves away (session_seen) it has nothing left to replace and
	 * waits out its keepalive: 2 x max_peers bounds what such waiting
	 * ones hold.
	 */
	if (s->npeers >= s->o.max_peers &&
	    (live == NULL || s->npeers >= 2 * (uint64_t)s->o.max_peers)) {
		s->st.drops[DROP_MAX_PEERS]++;
		return NULL;
	}
	if ((p = session_peer_new(s, session_new_id(s), from, hs, now)) ==
	    NULL) {
		log_warn("socket %s: new peer", s->name);
		return NULL;
	}
	log_debug("socket %s peer %016llx at %s: Connected sent",
	    s->name, (unsigned long long)p->session, addr_str(from));
	session_send_peer(s, p, FK_CONNECTED, now);
	return p;
}

/*
 * Bound side: the first frame of a session from the connecting side shows
 * that it got Connected.  Only now does data go to it: sent earlier, it
 * would meet a Disconnected (the Connected lost) and the session would
 * end with safe_dealer frames unacked; and a replayed or forged Connect
 * never becomes a peer that a dealer round-robins into.
 */
static int
session_confirm(struct sock *s, struct peer *p)
{
	struct peer	*old;
	int		 replaced = 0;

	/* It replaces the session its address had (session_accept). */
	while ((old = session_at(s, &p->addr, p, 1)) != NULL) {
		session_peer_free(s, old, PEV_DOWN_REPLACED);
		replaced = 1;
	}
	/*
	 * Accepted at max_peers beside a live session that has since moved
	 * away: it replaces nothing, so there is no room for it.  Told, so
	 * that the other side reconnects rather than send into nothing.
	 */
	if (!replaced && s->nup >= s->o.max_peers) {
		s->st.drops[DROP_MAX_PEERS]++;
		log_info("socket %s peer %016llx at %s: refused, max_peers "
		    "%llu sessions up", s->name, (unsigned long long)p->session,
		    addr_str(&p->addr), (unsigned long long)s->o.max_peers);
		(void)session_send_ctl(s, &p->addr, FK_DISCONNECTED,
		    p->session);
		session_peer_free(s, p, PEV_DOWN_CLOSED);
		return -1;
	}
	p->confirmed = 1;
	s->nup++;
	log_notice("socket %s peer %016llx at %s: up", s->name,
	    (unsigned long long)p->session, addr_str(&p->addr));
	s->ops->peer_event(s->arg, s, p, PEV_UP);
	return 0;
}

/* Connecting side: Connected(id) arrived. */
struct peer *
session_connected(struct sock *s, uint64_t id, const struct nbaddr *from,
    void *hs, nbmq_time now)
{
	struct peer	*p = TAILQ_FIRST(&s->peers);

	if (s->bound || s->link == LINK_IDLE || id == 0 ||
	    (s->remote_valid && !addr_eq(from, &s->remote))) {
		s->st.drops[DROP_NOT_BOUND]++;
		return NULL;
	}
	if (p != NULL && p->session == id) {
		/* Our Connect was answered twice: still a sign of life. */
		(void)session_seen(s, p, from, now);
		session_heartbeat(s, p, now);
		return NULL;
	}
	if (p != NULL)
		session_peer_free(s, p, PEV_DOWN_REPLACED);
	if ((p = session_peer_new(s, id, from, hs, now)) == NULL) {
		log_warn("socket %s: new peer", s->name);
		/* The old peer is gone: never up without one; retry. */
		if (s->link == LINK_UP)
			session_change_state(s, LINK_CONNECTING,
			    LEV_NO_MEMORY, now);
		return NULL;
	}
	session_change_state(s, LINK_UP, LEV_CONNECTED, now);
	log_notice("socket %s peer %016llx at %s: up", s->name,
	    (unsigned long long)id, addr_str(from));
	session_heartbeat(s, p, now);
	s->ops->peer_event(s->arg, s, p, PEV_UP);
	return p;
}

/*
 * Disconnected(id) arrived: the other side does not know the session.
 * Only from the peer's address: anyone who learnt a session id could
 * otherwise end it from anywhere (issue 15).  (A plain socket cannot tell
 * a forged source address; an encrypted one checks the same in crypt.c.)
 */
void
session_disconnected(struct sock *s, uint64_t id, const struct nbaddr *from,
    nbmq_time now)
{
	struct peer	*p = sock_peer_by_id(s, id);

	if (p == NULL)
		return;
	if (!addr_eq(from, &p->addr)) {
		s->st.drops[DROP_NOT_BOUND]++;
		p->st.drops[DROP_NOT_BOUND]++;
		return;
	}
	if (s->bound)
		session_peer_free(s, p, PEV_DOWN_DISCONNECTED);
	else
		session_link_down(s, p, PEV_DOWN_DISCONNECTED, now);
}

/*
 * A frame with an unknown session id: answer Disconnected, within a budget
 * per source and one for the socket, so a flood from one address cannot
 * use up the replies owed to everybody else, and spoofed floods cannot
 * make the daemon an amplifier.
 */
static int
session_disc_budget(struct sock *s, const struct nbaddr *from, nbmq_time now)
{
	struct tokens	*src = &s->disc_src[addr_hash(from) % DISC_SOURCES];

	if (!tokens_refill(src, now, DISC_SRC_RATE, DISC_SRC_BURST) ||
	    !tokens_refill(&s->disc_all, now, DISC_RATE, DISC_BURST))
		return 0;
	src->n -= 1.0;
	s->disc_all.n -= 1.0;
	return 1;
}

void
session_unknown(struct sock *s, uint64_t id, const struct nbaddr *from,
    nbmq_time now)
{
	s->st.drops[DROP_UNKNOWN_SESSION]++;
	if (session_disc_budget(s, from, now))
		session_send_ctl(s, from, FK_DISCONNECTED, id);
}

/*
 * Bound side: a Connect this socket refuses (plain at an encrypted socket,
 * encrypted at a plain one, a key not allowed) gets a bare Disconnected
 * with session 0, in this socket's kind (0x83 encrypted, 0x03 plain), and
 * why as one payload byte if not 0 (PROTOCOL.md 5).  Nothing is sealed:
 * the connecting side only shows it as the reason it is not up.  No
 * larger than the Connect it answers, and within the Disconnected budget.
 */
void
session_refuse(struct sock *s, const struct nbaddr *to, uint8_t why,
    nbmq_time now)
{
	uint8_t		*b;
	uint32_t	 n;

	if (!s->bound || !session_disc_budget(s, to, now))
		return;
	if ((b = sock_slot(s, to)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return;
	}
	n = (uint32_t)frame_put_ctl(b, FK_DISCONNECTED, 0);
	if (s->crypt != NULL)
		b[1] |= FRAME_ENCRYPTED;
	if (why != 0)
		b[n++] = why;
	(void)sock_out(s, NULL, OUT_PLAIN, n, 0);
}

/*
 * Any frame with a known session: the peer is alive, maybe elsewhere.
 * -1 if it was the first and the session was refused (session_confirm):
 * p is freed.
 */
int
session_seen(struct sock *s, struct peer *p, const struct nbaddr *from,
    nbmq_time now)
{
	p->last_seen = now;
	p->reach |= 1;
	if (!p->confirmed && session_confirm(s, p) == -1)
		return -1;
	TAILQ_REMOVE(&s->by_seen, p, seen_entry);
	TAILQ_INSERT_TAIL(&s->by_seen, p, seen_entry);
	if (!addr_eq(from, &p->addr)) {
		char	old[64];

		addr_fmt(&p->addr, old, sizeof(old));
		log_notice("socket %s peer %016llx: address %s -> %s", s->name,
		    (unsigned long long)p->session, old, addr_str(from));
		hmap_remove(&s->by_addr, &p->addr_node);
		p->prev_addr = p->addr;
		p->addr = *from;
		hmap_insert(&s->by_addr, &p->addr_node, addr_hash(from));
		s->ops->peer_event(s->arg, s, p, PEV_ADDRESS);
	}
	return 0;
}

/*
 * A clean close: Disconnected to every peer, so that they drop the
 * session at once instead of sending into it until their keepalive (a
 * v0.2.0 dealer round-robins into it for 10 s).  The outbox goes to the
 * network now; the caller closes the socket after.
 */
void
session_goodbye(struct sock *s)
{
	struct peer	*p;

	TAILQ_FOREACH(p, &s->peers, entry)
		(void)session_send_ctl(s, &p->addr, FK_DISCONNECTED,
		    p->session);
	if (s->ob.n > 0)
		s->ops->flush(s->arg, s);
}

/* Close: free every peer (session_goodbye told them, or they time out). */
void
session_close_all(struct sock *s)
{
	struct peer	*p;

	while ((p = TAILQ_FIRST(&s->peers)) != NULL)
		session_peer_free(s, p, PEV_DOWN_CLOSED);
}

nbmq_time
session_next_deadline(const struct sock *s)
{
	nbmq_time	 t = NBMQ_TIME_NEVER, d;
	struct peer	*p;

	if ((p = TAILQ_FIRST(&s->by_seen)) != NULL &&
	    (d = p->last_seen + s->o.peer_keepalive) < t)
		t = d;
	if ((p = TAILQ_FIRST(&s->by_sent)) != NULL &&
	    (d = p->last_sent + s->o.peer_heartbeat_ivl) < t)
		t = d;
	if (s->link == LINK_CONNECTING && s->reconnect_at < t)
		t = s->reconnect_at;
	return t;
}

void
session_timers(struct sock *s, nbmq_time now)
{
	struct peer	*p;

	while ((p = TAILQ_FIRST(&s->by_seen)) != NULL &&
	    p->last_seen + s->o.peer_keepalive <= now) {
		if (s->bound)
			session_peer_free(s, p, PEV_DOWN_KEEPALIVE);
		else
			session_link_down(s, p, PEV_DOWN_KEEPALIVE, now);
	}
	/*
	 * Heartbeats due within 1/32 of the interval go now too: with many
	 * peers they leave in batches, a few wake-ups a second instead of
	 * one per peer.
	 */
	while ((p = TAILQ_FIRST(&s->by_sent)) != NULL &&
	    p->last_sent + s->o.peer_heartbeat_ivl <=
	    now + s->o.peer_heartbeat_ivl / HB_SLACK_DIV) {
		/* The reach register shifts once per heartbeat interval. */
		p->reach = (p->reach << 1) & 0xff;
		session_heartbeat(s, p, now);
	}
	if (s->link == LINK_CONNECTING && s->reconnect_at <= now)
		session_attempt(s, now);
}
