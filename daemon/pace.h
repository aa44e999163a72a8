/* SPDX-License-Identifier: ISC */
/*
 * pace.h: flow control for fire-and-forget sends between nbmq daemons
 * (pace.c, PROTOCOL.md 4.4).  Included by nbmqd.h; needs nbmq_time.
 */
#ifndef PACE_H
#define PACE_H

struct pace {
	/* sending side */
	uint64_t	 rate;		/* bytes/s allowed; 0: not paced */
	int64_t		 tokens;	/* bytes that may leave now */
	nbmq_time	 tok_at;	/* tokens counted up to */
	nbmq_time	 last_cut, last_grow;
	nbmq_time	 win_start;	/* rate measurement window */
	uint64_t	 win_bytes;
	uint64_t	 last_rate;	/* bytes/s over the last window */
	/* receiving side (kept when pacing resets) */
	nbmq_time	 rx_start;	/* what we took from the peer lately */
	uint64_t	 rx_bytes, rx_rate;
	uint64_t	 drops;		/* to report in the next Slow */
	uint64_t	 marks;		/* queue marks since the last Slow */
	nbmq_time	 reported_at;	/* the last Slow sent */
	uint64_t	 slows_tx;	/* Slow frames sent (nbmqctl) */
	uint64_t	 cuts;		/* Slow frames acted on (nbmqctl) */
};

/*
 * A token bucket: rate tokens a second, burst at most, full when first
 * used.  session.c's Disconnected replies and stunsrv.c's answers and
 * introductions each take one token per datagram.
 */
struct tokens {
	nbmq_time	 at;		/* refilled up to */
	double		 n;
	int		 used;
};
/* Refill t: 1 if a token is there to take (t->n -= 1.0), else 0.  Here,
 * not in pace.c: session.c and stunsrv.c use it, and pace.c calls sock.c. */
static inline int
tokens_refill(struct tokens *t, nbmq_time now, double rate, double burst)
{
	if (!t->used) {
		t->n = burst;
		t->used = 1;
	} else if (now > t->at)
		t->n += (double)(now - t->at) / NSEC * rate;
	if (t->n > burst)
		t->n = burst;
	t->at = now;
	return t->n >= 1.0;
}

/* bytes left for the peer now. */
void		 pace_sent(struct pace *, uint32_t bytes, nbmq_time now);
/* 0: the next frame may leave now; else when it may. */
nbmq_time	 pace_wait(struct pace *, nbmq_time now);
/*
 * The peer dropped frames from us (dropped > 0), or its queues are filling
 * (dropped = 0, a mark); it took `taken` bytes/s (0: unknown).
 */
void		 pace_slow(struct pace *, uint64_t taken, uint32_t dropped,
		    nbmq_time now);
/* Receiving side: `bytes` of data from the peer were taken. */
void		 pace_taken(struct pace *, uint32_t bytes, nbmq_time now);
/* What the peer's data was taken at lately, bytes/s (0: unknown). */
uint64_t	 pace_taken_rate(const struct pace *, nbmq_time now);
/*
 * Receiving side: n frames or messages from the peer were dropped; n = 0:
 * none yet, but the queue they wait in is filling (a mark, as ECN's).
 */
void		 pace_dropped(struct pace *, uint32_t n);
/* 1: a Slow is due now, reporting *drops (maybe 0: marks only); else 0. */
int		 pace_report_due(struct pace *, nbmq_time now, uint64_t *drops);

#endif
