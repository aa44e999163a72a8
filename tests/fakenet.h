/* SPDX-License-Identifier: ISC */
/*
 * fakenet.h: the unit tests' fake network (tests/fakenet.c), linked into
 * every unit test binary as chrony links test.o.
 *
 * Every socket under test is a `struct node`: a struct sock, its fake UDP
 * address, and what the fake ops recorded.  The fake flush moves the
 * outbox's datagrams into node->out (and empties the outbox, as sendmmsg
 * would); the tests read them there and hand them to another node's
 * sock_input (pass), with the sender's fake address as source.  Time is a
 * plain number: T0 and offsets from it.  Random numbers come from a
 * per-node splitmix64 (node->script first, when set).  Allocations that
 * fail on demand (alloc_fail_in) and REQUIRE are unit.h's.
 */
#ifndef FAKENET_H
#define FAKENET_H

#include <check.h>

#include "nbmqd.h"
#include "unit.h"

#define T0		(1000 * NSEC)
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
	/* Sent and not yet passed or reset. */
	struct dgram	*out;
	size_t		 nout, capout;
	/* Every peer event, in order. */
	struct evrec	*ev;
	int		 nev, capev;
	int		 moved;		/* PEV_ADDRESS events */
	int		 resolves;	/* ops->resolve calls */
	int		 stun_resolves;	/* ops->stun_resolve calls */
	int		 connect_events;	/* ops->connect_event calls */
	enum conn_reason last_reason;	/* s->conn_reason at the last */
	int		 recv_ready;
	int		 flushes;
	int		 refuse;	/* the fake kernel takes nothing */
	int		 accept;	/* > 0: it takes this many a flush */
	uint64_t	 script[16];	/* random64 returns these first */
	int		 nscript, iscript;
	uint64_t	 rng;
	/* Over the node's whole life: */
	uint64_t	 kinds[256];	/* datagrams sent, by kind byte */
	uint64_t	 sent;		/* datagrams sent */
	uint32_t	 maxlen;	/* the longest */
};

extern const struct sock_ops	fake_ops;

/* Nodes */
struct nbaddr	 A(const char *);
struct node	*node_alloc(const char *, int, const struct sockopts *);
struct node	*node_new_opts(const char *, int, int,
		    const struct sockopts *);
struct node	*node_new_plain(const char *, int, int,
		    const struct sockopts *);
void		 node_free(struct node *);
void		 node_free_destroyed(struct node *);
struct peer	*only_peer(struct node *);
uint64_t	 total_drops(const struct sock *);

/* The wire */
void		 flush(struct node *);
void		 out_reset(struct node *);
void		 lose(struct node *, size_t);
int		 kind_of(const struct dgram *);
uint64_t	 session_of(const struct dgram *);
int		 count_kind(const struct node *, int);
void		 check_ctl(const struct node *, size_t, int, uint64_t,
		    const struct nbaddr *);
void		 check_only_ctl(struct node *, int, uint64_t,
		    const struct nbaddr *);
int		 pass_src(struct node *, struct node *, const struct nbaddr *,
		    nbmq_time);
int		 pass(struct node *, struct node *, nbmq_time);
void		 net(struct node **, int, nbmq_time);
void		 tick(struct node *, nbmq_time);
nbmq_time	 run_until(struct node **, int, nbmq_time, nbmq_time);
int		 timers_until(struct node *, nbmq_time);
void		 inject_ctl(struct node *, nbmq_time, const struct nbaddr *,
		    int, uint64_t);
uint64_t	 handshake(struct node *, struct node *, nbmq_time);

/* Messages: byte i of message `seed` is pat(seed, i). */
uint8_t		 pat(uint32_t, uint32_t);
struct msg	*mkmsg(uint32_t, int, const uint32_t *);
struct msg	*mkmsg1(uint32_t, uint32_t);
const char	*msg_diff(const struct msg *, uint32_t, int, const uint32_t *);
int		 msg_is(const struct msg *, uint32_t, int, const uint32_t *);
void		 recv_check(struct node *, uint64_t, uint32_t, int,
		    const uint32_t *);
void		 recv_check1(struct node *, uint64_t, uint32_t, uint32_t);

#endif
