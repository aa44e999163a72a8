/* SPDX-License-Identifier: ISC */
/*
 * deliver.h: what an attached application gets, and in which order
 * (deliver.c).  Pure: no libevent, no sockets; the IPC transport (ipc.c)
 * hands it a struct deliver_out to write with, the unit tests a fake.
 */
#ifndef DELIVER_H
#define DELIVER_H

#include "shell.h"

#define DELIVER_F_EVENT		0x8000	/* struct msg: a peer event */
#define DELIVER_EVENTS_MAX	10000	/* waiting per application */
#define DELIVER_HELD_BYTES	(1U << 20)	/* held past recv_hwm below */
#define DELIVER_HELD_COST	128	/* bytes a held message costs */
#define DELIVER_BYREF_MIN	(64U << 10)	/* by reference from */

/* How delivery writes to an application's connection. */
struct deliver_out {
	/* The output is past its high mark: stop (told when it drains). */
	int	(*full)(struct client *);
	/* One IPC message: header, then p and p2 back to back. */
	void	(*send)(struct client *, uint16_t type, uint32_t handle,
		    uint32_t reqid, const void *p, size_t len, const void *p2,
		    size_t len2);
	/* IPC_MSG im with len bytes from m->partsz, m referenced. */
	void	(*send_ref)(struct client *, uint32_t handle,
		    const struct ipc_msg *im, struct msg *m, size_t len);
};

/* Messages, drop marks and events for u, then its credit. */
void	deliver(struct sub *, const struct deliver_out *);
/* IPC_CREDIT when the window changed enough to say so. */
void	deliver_credit(struct sub *, const struct deliver_out *);
/* Is a window of limit with peers worth announcing?  Records it if so. */
int	deliver_credit_due(struct sub *, uint64_t limit, uint32_t peers);
/* The oldest n messages held for u were handed over (IPC_CONFIRM). */
void	deliver_confirmed(struct sub *, uint64_t n);
/* Dish: every complete message into each subscriber's own queue. */
void	deliver_fanout(struct dsock *);
/* Queue peer events for subscribed applications, in order. */
void	deliver_peer_event(struct dsock *, const struct peer *,
	    enum peer_event);
void	deliver_connect_event(struct dsock *);
/* NBMQ_OPT_EVENTS on (peers up now reported first) or off. */
void	deliver_subscribe(struct sub *, int on);
/*
 * u goes: what it held goes back to a configured socket that lives on
 * (keep), else is counted app_gone; its queue is freed.  How many were
 * held, given back and lost, for the log.
 */
void	deliver_release(struct sub *, int keep, uint64_t *held,
	    uint64_t *back, uint64_t *lost);

#endif /* DELIVER_H */
