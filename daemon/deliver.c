/* SPDX-License-Identifier: ISC */
/*
 * deliver.c: from a socket to its attached applications.  The dish's
 * fan-out into each subscriber's queue, peer events in order with the
 * messages, the send HWM events, the held messages until the library
 * confirms them, and the credit window.
 *
 * Pure: the time, the core's queues and the connection to write to are
 * handed in (struct deliver_out: ipc.c's, or a test's fake), so that
 * tests/test_deliver.c checks the order and the bounds without a
 * daemon.
 */
#include <stdlib.h>
#include <string.h>

#include "deliver.h"

/* Announce the send window when it changed. */
int
deliver_credit_due(struct sub *u, uint64_t limit, uint32_t peers)
{
	if (u->credit_sent && limit == u->credit_limit &&
	    peers == u->credit_peers)
		return 0;
	/* A lower limit with the same peers can wait for the next change. */
	if (u->credit_sent && limit < u->credit_limit &&
	    peers == u->credit_peers)
		return 0;
	/*
	 * More room: tell the app only once what it still has (as far as we
	 * know) is at most half of what it could have.  A busy sender gets
	 * a few large grants instead of one per tick; a blocked one (nothing
	 * left) hears at once.
	 */
	if (u->credit_sent && peers == u->credit_peers &&
	    u->credit_limit > u->accepted &&
	    (u->credit_limit - u->accepted) * 2 > limit - u->accepted)
		return 0;
	u->credit_sent = 1;
	u->credit_limit = limit;
	if (limit > u->credit_max)
		u->credit_max = limit;
	u->credit_peers = peers;
	return 1;
}

void
deliver_credit(struct sub *u, const struct deliver_out *out)
{
	struct dsock		*d = u->d;
	struct ipc_credit	 cr;
	uint64_t		 limit = u->accepted + sock_send_room(&d->core);

	if (!deliver_credit_due(u, limit, d->core.nup))
		return;
	memset(&cr, 0, sizeof(cr));
	cr.limit = limit;
	cr.peers = d->core.nup;
	out->send(u->c, IPC_CREDIT, d->handle, 0, &cr, sizeof(cr), NULL, 0);
}

/*
 * Queue a peer event for u, in order with its messages.  A dish's messages
 * were fanned out into u->q already, so the event simply goes last.  Other
 * sockets keep their messages in the core's receive queue: the event waits
 * in u->q marked with how many messages must have been taken from it first
 * (m->id), that is every message waiting now.
 */
static void
deliver_event_queue(struct sub *u, const struct ipc_event *ev)
{
	struct dsock	*d = u->d;
	struct qent	*e;
	struct msg	*m;

	if (u->nevents >= DELIVER_EVENTS_MAX ||
	    (m = msg_new(1, sizeof(*ev))) == NULL) {
		/* Logged at the 1st, 2nd, 4th, 8th... loss. */
		u->events_lost++;
		if ((u->events_lost & (u->events_lost - 1)) == 0)
			log_warnx("socket %s: pid %d reads no events: %llu "
			    "lost", d->core.name, (int)u->pid,
			    (unsigned long long)u->events_lost);
		return;
	}
	if ((e = malloc(sizeof(*e))) == NULL) {
		msg_free(m);
		u->events_lost++;
		return;
	}
	m->flags = DELIVER_F_EVENT;
	m->peer = ev->peer;
	m->partsz[0] = sizeof(*ev);
	memcpy(m->data, ev, sizeof(*ev));
	m->id = d->rq_taken + d->core.rq_len;
	e->m = m;
	TAILQ_INSERT_TAIL(&u->q, e, entry);
	u->nevents++;
}

static void
deliver_event_fill(struct ipc_event *ev, const struct peer *p, uint32_t type,
    uint32_t reason)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = type;
	ev->reason = reason;
	if (p == NULL)
		return;
	ev->peer = p->session;
	addr_fmt(&p->addr, ev->addr, sizeof(ev->addr));
	if (type == NBMQ_EVENT_ADDRESS)
		addr_fmt(&p->prev_addr, ev->prev_addr, sizeof(ev->prev_addr));
}

void
deliver_peer_event(struct dsock *d, const struct peer *p, enum peer_event pev)
{
	static const uint32_t	 type[PEV_NEVENTS] = {
		[PEV_UP] = NBMQ_EVENT_UP,
		[PEV_DOWN_KEEPALIVE] = NBMQ_EVENT_DOWN,
		[PEV_DOWN_DISCONNECTED] = NBMQ_EVENT_DOWN,
		[PEV_DOWN_REPLACED] = NBMQ_EVENT_DOWN,
		[PEV_DOWN_CLOSED] = NBMQ_EVENT_DOWN,
		[PEV_ADDRESS] = NBMQ_EVENT_ADDRESS,
	};
	static const uint32_t	 reason[PEV_NEVENTS] = {
		[PEV_DOWN_KEEPALIVE] = NBMQ_DOWN_KEEPALIVE,
		[PEV_DOWN_DISCONNECTED] = NBMQ_DOWN_DISCONNECTED,
		[PEV_DOWN_REPLACED] = NBMQ_DOWN_REPLACED,
		[PEV_DOWN_CLOSED] = NBMQ_DOWN_CLOSED,
	};
	struct ipc_event	 ev;
	struct sub		*u;
	int			 any = 0;

	if ((unsigned int)pev >= PEV_NEVENTS || type[pev] == 0)
		return;
	TAILQ_FOREACH(u, &d->subs, entry)
		any |= u->events;
	if (!any)
		return;
	/* Messages that came before the event go before it. */
	if (d->core.type == NBMQ_DISH)
		deliver_fanout(d);
	deliver_event_fill(&ev, p, type[pev], reason[pev]);
	TAILQ_FOREACH(u, &d->subs, entry)
		if (u->events)
			deliver_event_queue(u, &ev);
}

/* The core's values are the public ones (nbmq.h). */
_Static_assert((int)CONN_NO_ANSWER == (int)NBMQ_CONNFAIL_NO_ANSWER &&
    (int)CONN_PEER_ENCRYPTED == (int)NBMQ_CONNFAIL_PEER_ENCRYPTED &&
    (int)CONN_PEER_PLAIN == (int)NBMQ_CONNFAIL_PEER_PLAIN &&
    (int)CONN_KEY_DENIED == (int)NBMQ_CONNFAIL_KEY_DENIED &&
    (int)CONN_RESOLVE == (int)NBMQ_CONNFAIL_RESOLVE &&
    (int)CONN_UNREACHABLE == (int)NBMQ_CONNFAIL_UNREACHABLE, "enum conn_reason");

static void
deliver_connect_fill(struct ipc_event *ev, const struct dsock *d)
{
	const struct sock	*s = &d->core;

	memset(ev, 0, sizeof(*ev));
	ev->type = NBMQ_EVENT_CONNECT_FAILED;
	ev->reason = (uint32_t)s->conn_reason;
	if (d->host != NULL)
		snprintf(ev->addr, sizeof(ev->addr), "%s:%u", d->host,
		    d->port);
	else if (s->remote_valid)
		addr_fmt(&s->remote, ev->addr, sizeof(ev->addr));
	/* What the name resolved to (IPv4 as such, not v4-mapped). */
	if (d->host != NULL && s->remote_valid) {
		struct nbaddr	a = s->remote;

		if (a.u.sa.sa_family == AF_INET6 &&
		    IN6_IS_ADDR_V4MAPPED(&a.u.sin6.sin6_addr)) {
			struct sockaddr_in	sin;

			memset(&sin, 0, sizeof(sin));
			sin.sin_family = AF_INET;
			sin.sin_port = a.u.sin6.sin6_port;
			memcpy(&sin.sin_addr, &a.u.sin6.sin6_addr.s6_addr[12],
			    4);
			memset(&a, 0, sizeof(a));
			memcpy(&a.u.sin, &sin, sizeof(sin));
			a.len = sizeof(sin);
		}
		addr_fmt(&a, ev->prev_addr, sizeof(ev->prev_addr));
	}
}

/*
 * The connecting socket is not up, and why (sock_ops.connect_event): an
 * NBMQ_EVENT_CONNECT_FAILED for each subscribed application that knows
 * it (IPC version 6; an older library would take it for a protocol
 * error).
 */
void
deliver_connect_event(struct dsock *d)
{
	struct ipc_event	 ev;
	struct sub		*u;

	if (d->core.conn_reason == CONN_NONE)
		return;
	deliver_connect_fill(&ev, d);
	TAILQ_FOREACH(u, &d->subs, entry)
		if (u->events && u->version >= 6)
			deliver_event_queue(u, &ev);
}

/* Send HWM reached/cleared when the window closed or opened again. */
static void
deliver_hwm_event(struct sub *u)
{
	struct dsock		*d = u->d;
	struct ipc_event	 ev;
	int			 full;

	if (!u->events || d->core.type == NBMQ_DISH)
		return;
	full = d->core.nup > 0 && sock_send_room(&d->core) == 0;
	if (full == u->hwm_full)
		return;
	u->hwm_full = full;
	deliver_event_fill(&ev, NULL, full ? NBMQ_EVENT_HWM_REACHED :
	    NBMQ_EVENT_HWM_CLEARED, 0);
	deliver_event_queue(u, &ev);
}

/*
 * NBMQ_OPT_EVENTS: on, every peer up now is reported first; off, events
 * not delivered yet are dropped.
 */
void
deliver_subscribe(struct sub *u, int on)
{
	struct dsock		*d = u->d;
	struct ipc_event	 ev;
	struct peer		*p;
	struct qent		*e, *next;

	if (on && !u->events) {
		u->events = 1;
		u->hwm_full = 0;
		if (d->core.type == NBMQ_DISH)
			deliver_fanout(d);
		TAILQ_FOREACH(p, &d->core.peers, entry) {
			deliver_event_fill(&ev, p, NBMQ_EVENT_UP, 0);
			deliver_event_queue(u, &ev);
		}
		/* Connecting: why it is not up, so far. */
		if (!d->core.bound && d->core.link == LINK_CONNECTING &&
		    d->core.conn_reason != CONN_NONE && u->version >= 6) {
			deliver_connect_fill(&ev, d);
			deliver_event_queue(u, &ev);
		}
	} else if (!on && u->events) {
		u->events = 0;
		for (e = TAILQ_FIRST(&u->q); e != NULL; e = next) {
			next = TAILQ_NEXT(e, entry);
			if ((e->m->flags & DELIVER_F_EVENT) == 0)
				continue;
			TAILQ_REMOVE(&u->q, e, entry);
			msg_free(e->m);
			free(e);
			u->nevents--;
		}
	}
}

/*
 * The next message, drop marker or event for u.  A dish's come from u's
 * own fan-out queue.  Other sockets take messages from the core's receive
 * queue; u->q holds only events there, each due once the messages that
 * waited when it happened were taken (deliver_event_queue).
 */
static struct msg *
deliver_next(struct sub *u)
{
	struct dsock	*d = u->d;
	struct qent	*e = TAILQ_FIRST(&u->q);
	struct msg	*m;

	if (d->core.type != NBMQ_DISH && (e == NULL ||
	    e->m->id > d->rq_taken)) {
		if ((m = sock_recv(&d->core)) != NULL) {
			if (m->nparts > 0)
				d->rq_taken++;
			return m;
		}
	}
	if (e == NULL)
		return NULL;
	TAILQ_REMOVE(&u->q, e, entry);
	m = e->m;
	free(e);
	if (m->flags & DELIVER_F_EVENT)
		u->nevents--;
	else if (m->nparts > 0)
		u->qlen--;
	return m;
}

/* One message to the application; 1 when it is held (IPC_CONFIRM). */
static int
deliver_msg(struct sub *u, struct msg *m, const struct deliver_out *out)
{
	struct ipc_msg	 im = {
		.peer = m->peer,
		.nparts = m->nparts,
	};
	size_t		 len = (size_t)m->nparts * 4 + m->size;

	/* Sizes and data are contiguous in a struct msg. */
	if (len < DELIVER_BYREF_MIN)
		out->send(u->c, IPC_MSG, u->d->handle, 0, &im, sizeof(im),
		    m->partsz, len);
	else
		out->send_ref(u->c, u->d->handle, &im, m, len);
	/* Held until the library confirms it (IPC_CONFIRM). */
	if (u->version < 5)
		return 0;
	if (msgring_push(&u->held, m) == -1)
		fatal("msgring_push");
	u->held_bytes += m->size + DELIVER_HELD_COST;
	if (u->d->core.type != NBMQ_DISH)
		u->d->core.rq_held++;
	return 1;
}

void
deliver(struct sub *u, const struct deliver_out *out)
{
	struct msg	*m;

	deliver_hwm_event(u);
	/*
	 * Up to recv_hwm written and not confirmed, or 1 MiB of them (small
	 * messages: as many as the output buffer could hold before held
	 * messages existed, so a fast reader is not slowed by the round
	 * trip of its confirms).  Past it the library reads but does not
	 * hand over (or confirm), and the rest waits here, against
	 * recv_hwm, until it does.
	 */
	while (!out->full(u->c) &&
	    (u->held.len < u->d->core.o.recv_hwm ||
	    u->held_bytes < DELIVER_HELD_BYTES) &&
	    (m = deliver_next(u)) != NULL) {
		if (m->flags & DELIVER_F_EVENT) {
			out->send(u->c, IPC_EVENT, u->d->handle, 0, m->data,
			    m->size, NULL, 0);
		} else if (m->nparts == 0) {
			struct ipc_dropped dr = { .count = m->dropped };

			out->send(u->c, IPC_DROPPED, u->d->handle, 0, &dr,
			    sizeof(dr), NULL, 0);
		} else if (deliver_msg(u, m, out))
			continue;
		msg_free(m);
	}
	deliver_credit(u, out);
}

/* The oldest n messages held for u are the application's now. */
void
deliver_confirmed(struct sub *u, uint64_t n)
{
	struct msg	*m;

	if (u->d->core.type != NBMQ_DISH)
		u->d->core.rq_held -= n;
	u->confirmed += n;
	for (uint64_t i = 0; i < n; i++) {
		m = msgring_shift(&u->held);
		u->held_bytes -= m->size + DELIVER_HELD_COST;
		msg_free(m);
	}
}

/*
 * Dish: hand every complete message to each subscriber's own queue.  A
 * subscriber at recv_hwm loses the message (counted, and told ENOBUFS once
 * after its backlog); the others are not held back by it.
 */
static void
deliver_sub_push(struct dsock *d, struct sub *u, struct msg *m)
{
	struct qent	*last = TAILQ_LAST(&u->q, qent_list), *e;
	uint64_t	 dropped = m->nparts == 0 ? m->dropped : 0;
	struct msg	*x;

	if (m->nparts > 0 && u->qlen >= d->core.o.recv_hwm) {
		u->drops++;
		d->core.st.drops[DROP_RECV_HWM]++;
		dropped = 1;
	}
	if (dropped > 0) {
		if (last != NULL && last->m->nparts == 0) {
			last->m->dropped += dropped;
			return;
		}
		if ((x = msg_new_marker(dropped)) == NULL)
			return;
	} else
		x = msg_ref(m);
	if ((e = malloc(sizeof(*e))) == NULL) {
		msg_free(x);
		return;
	}
	e->m = x;
	TAILQ_INSERT_TAIL(&u->q, e, entry);
	if (x->nparts > 0)
		u->qlen++;
}

void
deliver_fanout(struct dsock *d)
{
	struct msg	*m;
	struct sub	*u;

	while ((m = sock_recv(&d->core)) != NULL) {
		TAILQ_FOREACH(u, &d->subs, entry)
			deliver_sub_push(d, u, m);
		msg_free(m);
	}
}

/*
 * u's application went away, or closed the socket, or the socket goes:
 * the messages written to it and not confirmed (u->held), and a dish
 * subscriber's own queue, are not lost silently.  A configured socket
 * that lives on (keep) takes the held ones back at the head of its
 * receive queue, in their order, for the next application, which gets
 * each once: the one that went away is gone, and a late IPC_CONFIRM of
 * it finds no sub.  Otherwise they are counted as dropped, app_gone.
 */
void
deliver_release(struct sub *u, int keep, uint64_t *heldp, uint64_t *backp,
    uint64_t *lostp)
{
	struct dsock	*d = u->d;
	struct qent	*e;
	struct msg	*m;
	uint64_t	 held = u->held.len, lost = 0;

	if (d->core.type != NBMQ_DISH) {
		d->core.rq_held -= held <= d->core.rq_held ? held :
		    d->core.rq_held;
		if (keep && d->configured) {
			while ((m = msgring_pop(&u->held)) != NULL)
				sock_unrecv(&d->core, m);
		} else
			lost = held;
	} else
		lost = held + u->qlen;
	*heldp = held;
	*backp = held + (d->core.type == NBMQ_DISH ? u->qlen : 0) - lost;
	*lostp = lost;
	msgring_free(&u->held);
	while ((e = TAILQ_FIRST(&u->q)) != NULL) {
		TAILQ_REMOVE(&u->q, e, entry);
		msg_free(e->m);
		free(e);
	}
	d->core.st.drops[DROP_APP_GONE] += lost;
}
