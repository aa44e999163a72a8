/* SPDX-License-Identifier: ISC */
/*
 * pace.c: flow control for fire-and-forget sends between nbmq daemons
 * (PROTOCOL.md 4.4).  Pure arithmetic over struct pace, time passed in.
 *
 * The receiving side counts what it had to drop from a peer (its socket
 * buffer overflowed, recv_hwm, an incomplete message overtaken) and tells
 * that peer with a Slow frame, at most every PACE_REPORT.  The sending
 * side is unpaced until the first Slow; then it sends at 3/4 of the rate
 * it was measured at (7/8 for a mark; or 7/8 of what the receiver says it
 * took, if less, but not below half), 3/4 of that at the next Slow, and
 * grows by 1/16 every PACE_GROW while no Slow comes and the sender uses
 * 3/4 of it at least (AIMD, as TCP does for congestion).  A peer whose
 * pacing no longer limits anything (its demand stayed below half the
 * allowed rate for PACE_FREE) goes back to unpaced.  Tokens in bytes; a
 * burst of up to PACE_BURST_MIN bytes or 2 ms of the rate may leave at
 * once, so frames still go out in GSO-sized runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "nbmqd.h"

#define PACE_WIN	(10 * MSEC)	/* rate measurement window */
#define PACE_HOLD	(20 * MSEC)	/* one cut per congestion episode */
#define PACE_GROW	(10 * MSEC)	/* additive step interval */
#define PACE_FREE	(1000 * MSEC)	/* unused pacing is dropped after */
#define PACE_REPORT	(5 * MSEC)	/* Slow frames per peer at most */
#define PACE_MIN	(1 << 20)	/* bytes/s: never slower */
#define PACE_BURST_MIN	(64 << 10)	/* bytes */

/*
 * A rate over windows of PACE_WIN: count `bytes` at now into the window
 * (*start, *bytes); a window that ended leaves its rate in *last.
 */
static void
win_count(nbmq_time *start, uint64_t *bytes, uint64_t *last, uint32_t n,
    nbmq_time now)
{
	if (now - *start >= PACE_WIN) {
		if (*start != 0)
			*last = *bytes * NSEC / (now - *start);
		*start = now;
		*bytes = 0;
	}
	*bytes += n;
}

/*
 * The rate lately: the current window once half full, else the last, else
 * (nothing before it) the current window however short.
 */
static uint64_t
win_rate(nbmq_time start, uint64_t bytes, uint64_t last, nbmq_time now)
{
	nbmq_time	el = now - start;

	if (bytes > 0 && el > 0 && (el >= PACE_WIN / 2 || last == 0))
		return bytes * NSEC / el;
	return last;
}

static uint64_t
pace_burst(const struct pace *pc)
{
	uint64_t	b = pc->rate / 500;	/* 2 ms */

	return b > PACE_BURST_MIN ? b : PACE_BURST_MIN;
}

/* What the peer was sent at lately, bytes/s (0: nothing measured). */
static uint64_t
pace_measured(const struct pace *pc, nbmq_time now)
{
	return win_rate(pc->win_start, pc->win_bytes, pc->last_rate, now);
}

static void
pace_grow(struct pace *pc, nbmq_time now)
{
	uint64_t	step, used;

	if (pc->rate == 0 || now - pc->last_grow < PACE_GROW)
		return;
	used = pace_measured(pc, now);
	/* Demand far below what is allowed for long: pacing is moot. */
	if (now - pc->last_cut >= PACE_FREE && used * 2 < pc->rate) {
		memset(pc, 0, offsetof(struct pace, rx_start));
		return;
	}
	/*
	 * Only a rate that limits grows (RFC 7661's reasoning): one the
	 * sender does not use says nothing of what the receiver can take,
	 * and grew 7x in 320 ms of a 1 MiB stream held by send_hwm, for a
	 * burst that lost a tenth of the messages.
	 */
	if (used * 4 < pc->rate * 3) {
		pc->last_grow = now;
		return;
	}
	step = pc->rate / 16;
	if (step < PACE_MIN / 4)
		step = PACE_MIN / 4;
	pc->rate += step * ((now - pc->last_grow) / PACE_GROW);
	pc->last_grow = now;
}

void
pace_sent(struct pace *pc, uint32_t bytes, nbmq_time now)
{
	win_count(&pc->win_start, &pc->win_bytes, &pc->last_rate, bytes, now);
	if (pc->rate != 0)
		pc->tokens -= (int64_t)bytes;
}

nbmq_time
pace_wait(struct pace *pc, nbmq_time now)
{
	uint64_t	burst;

	pace_grow(pc, now);
	if (pc->rate == 0)
		return 0;
	burst = pace_burst(pc);
	if (now > pc->tok_at) {
		uint64_t add = (now - pc->tok_at) * pc->rate / NSEC;

		pc->tokens = pc->tokens + (int64_t)add > (int64_t)burst ?
		    (int64_t)burst : pc->tokens + (int64_t)add;
		pc->tok_at = now;
	}
	if (pc->tokens > 0)
		return 0;
	/* Long enough for the debt and one byte more. */
	return now + ((uint64_t)(-pc->tokens) + 1) * NSEC / pc->rate + 1;
}

void
pace_slow(struct pace *pc, uint64_t taken, uint32_t dropped, nbmq_time now)
{
	uint64_t	cur, base;

	if (pc->rate != 0 && now - pc->last_cut < PACE_HOLD)
		return;
	/* Unpaced: from what was measured.  Paced: from the allowed rate. */
	cur = pc->rate != 0 ? pc->rate : pace_measured(pc, now);
	/* A mark (nothing lost yet): a gentler cut. */
	base = dropped == 0 ? cur / 8 * 7 : cur / 4 * 3;
	/*
	 * The receiver said what it managed to take: a little less, but
	 * never below half of the rate at one cut (what it took over 10 ms
	 * in which it may have been descheduled can be far less than it
	 * can take), unless nothing else is known.
	 */
	if (taken != 0 && (cur == 0 || taken / 8 * 7 < base)) {
		base = taken / 8 * 7;
		if (base < cur / 2)
			base = cur / 2;
	}
	/* Nothing sent lately, nothing taken: nothing to pace from. */
	if (base == 0)
		return;
	pc->rate = base > PACE_MIN ? base : PACE_MIN;
	pc->last_cut = pc->last_grow = pc->tok_at = now;
	if (pc->tokens > (int64_t)pace_burst(pc))
		pc->tokens = (int64_t)pace_burst(pc);
	pc->cuts++;
}

void
pace_taken(struct pace *pc, uint32_t bytes, nbmq_time now)
{
	win_count(&pc->rx_start, &pc->rx_bytes, &pc->rx_rate, bytes, now);
}

uint64_t
pace_taken_rate(const struct pace *pc, nbmq_time now)
{
	return win_rate(pc->rx_start, pc->rx_bytes, pc->rx_rate, now);
}

void
pace_dropped(struct pace *pc, uint32_t n)
{
	if (n == 0)
		pc->marks++;
	pc->drops += n;
}

int
pace_report_due(struct pace *pc, nbmq_time now, uint64_t *drops)
{
	if ((pc->drops == 0 && pc->marks == 0) || (pc->reported_at != 0 &&
	    now - pc->reported_at < PACE_REPORT))
		return 0;
	*drops = pc->drops;
	pc->reported_at = now;
	pc->drops = pc->marks = 0;
	return 1;
}

/*
 * The socket's buffer overflowed (n datagrams lost), or n = 0: it is
 * filling up, or the applications are behind.  Which peers filled it is
 * unknown, so every extension peer heard from within PACE_HOLD shares
 * the blame.
 */
void
sock_rx_overflow(struct sock *s, uint32_t n, nbmq_time now)
{
	struct peer	*p;

	TAILQ_FOREACH_REVERSE(p, &s->by_seen, peer_list, seen_entry) {
		if (p->last_seen + PACE_HOLD < now)
			break;
		sock_pace_drop(s, p, n, now);
	}
}

/*
 * n frames or messages from p were dropped here (0: a queue mark).  A peer
 * that speaks 4.4 hears it in a Slow, at most every PACE_REPORT; drops
 * meanwhile go in the next one, sent with the next drop or mark after
 * that.
 */
void
sock_pace_drop(struct sock *s, struct peer *p, uint32_t n, nbmq_time now)
{
	uint64_t	 d, kib;
	uint8_t		*b;

	if (!(p->ext_flags & FRAME_HELLO_PACE))
		return;
	/*
	 * A mark (n = 0) says the buffer is filling.  A peer held by our
	 * window (4.7) cannot fill it past what we granted: there, a mark
	 * only cut its pacing (dealer 1 MiB at 150 messages/s, the daemons
	 * idle); what it still hears is loss.
	 */
	if (n == 0 && (p->ext_flags & FRAME_HELLO_WINDOW))
		return;
	pace_dropped(&p->pace, n);
	if (!pace_report_due(&p->pace, now, &d))
		return;
	if ((b = sock_slot(s, &p->addr)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return;
	}
	kib = pace_taken_rate(&p->pace, now) >> 10;
	/* Sealed at the encryptor's time (0), as control frames are. */
	(void)sock_out(s, p, OUT_SEALED, (uint32_t)frame_put_slow(b,
	    p->session, d > UINT32_MAX ? UINT32_MAX : (uint32_t)d,
	    kib > UINT32_MAX ? UINT32_MAX : (uint32_t)kib), 0);
	p->st.tx_frames++;	/* not a Heartbeat's stand-in (safe.c) */
	log_debug("socket %s peer %016llx: Slow sent (%llu dropped, taken "
	    "%llu KiB/s)", s->name, (unsigned long long)p->session,
	    (unsigned long long)d, (unsigned long long)kib);
}
