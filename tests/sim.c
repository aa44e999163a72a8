/* SPDX-License-Identifier: ISC */
/*
 * sim.c: a deterministic simulator of the core (issue 14), in the spirit
 * of FoundationDB's simulation testing and TigerBeetle's VOPR.
 *
 * The core takes time and I/O as arguments, so a whole network of nbmq
 * sockets runs in one process, on one virtual clock, from one seed: a
 * bound socket (node 0) and one to three connecting ones, each a struct
 * sock with fake ops, an application that sends and reads at its own
 * pace, and a network between them that loses, duplicates, delays,
 * reorders, partitions, withholds and releases datagrams, rebinds NAT
 * ports and restarts nodes (their core recreated, its state lost, same
 * address).  A quarter of the runs are encrypted (sodium, every node).
 * The seed draws the scenario (socket type, wire, encryption, options,
 * faults) and every event after it, so a seed is a reproduction.
 *
 * Not simulated yet: applications attaching, detaching and dying (they
 * live in the shell, ipc.c, not in the core), steps of the wall clock
 * (sodium reads CLOCK_REALTIME itself), STUN.
 *
 * Invariants, checked as the run goes and after it (each failure names
 * the one it broke; the README's Reliability table lists them):
 *   corrupt       a message arrives byte-exact, with its parts, or not at all
 *   phantom       nothing arrives that no application sent
 *   duplicate     safe_dealer: at most once, always; dealer and dish: at
 *                 most once on a network that does not duplicate
 *   order         dealer and dish: in order per sender on a path that
 *                 neither reorders nor duplicates
 *   lost          safe_dealer: every message accepted while its session
 *                 lives is delivered, once the network heals
 *   uncounted     safe_dealer: a message not delivered is counted
 *                 (given up, or dropped with its session)
 *   negotiation   the two ends of a live session agree on the extension
 *   bounds        receive queue within recv_hwm, per-peer load within
 *                 send_hwm, peers within max_peers
 *   timer         no deadline in the past after the timers ran
 *   busy          no node runs more than SAME_TIME_MAX times at one instant
 *   leak          what a run allocated is freed when its cores are: the
 *                 heap in use after a seed stays within LEAK_SLACK of
 *                 what it was after the first few (a reference never
 *                 dropped made a 100,000-seed run grow to 19 GB)
 *   quiet         after the traffic and the faults stop, every queue drains
 *   acks          safe_dealer: an Acks of id ranges (PROTOCOL.md 4.6) goes
 *                 only to a peer with the extension, and never acks an id
 *                 its sender has not sent (no node counts bad_ack)
 *
 * Both ways of acking run: two nodes with the extension ack first frames
 * by ranges (Acks), a v0.2.0 node and every node to it one frame per Ack;
 * the totals of each are printed at the end, so a run shows both were
 * exercised.
 *
 * Usage: sim [-kv] [-s SEED] [-n COUNT] [-t SECONDS]
 *   -s  first seed (default 1), -n seeds to run (default 1000),
 *   -t  stop after this many seconds of wall time (CI's bounded runs),
 *   -k  keep going after a failure: failures counted by invariant, with
 *       the first seed of each,
 *   -v  the scenario and a trace of every datagram and event, with the
 *       core's own log at debug level: what a failing seed prints when
 *       it is run alone.
 * Exit 0 when every seed held every invariant, 1 at the first failure,
 * which prints the seed, the invariant, the last trace lines and the
 * command that reproduces it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "nbmqd.h"

#define MAXNODES	4
#define MAXINC		8		/* incarnations of a node (restarts) */
#define TRACE_LINES	4096		/* kept for the report of a failure */
#define TRACE_TAIL	60		/* printed with it */
#define SAME_TIME_MAX	10000
#define LEAK_SLACK	(8U << 20)
#define US		((nbmq_time)1000)

/* A failure: the invariant it broke, and where. */
#define FAIL(sm, inv, ...) sim_fail(sm, inv, __VA_ARGS__)

struct pkt {
	nbmq_time	 at;
	uint64_t	 seq;		/* ties: in the order sent */
	int		 from, to;	/* nodes (to: -1 when unrouted) */
	struct nbaddr	 src, dst;
	uint32_t	 len;
	uint8_t		*buf;
};

/* What happened to one message: sent, accepted, delivered where. */
struct mrec {
	uint8_t		 accepted;
	uint8_t		 deliv[MAXNODES];
	uint8_t		 lost;		/* LOST_*: how the core counted it */
};
#define LOST_GIVEN_UP	0x01		/* FATE_GIVEN_UP: fate unknown */
#define LOST_PEER_GONE	0x02		/* FATE_PEER_GONE: never sent whole */
#define LOST_APP_GONE	0x04		/* in a closed socket's queue */
struct mlog {
	struct mrec	*r;
	uint64_t	 n, cap;
};

struct node {
	int		 id;
	int		 alive;
	int		 inc;		/* incarnation: restarts so far */
	int		 type;
	int		 bound;
	int		 ext;		/* coalesce and pacing */
	struct sock	 s;
	struct sockopts	 o;
	struct nbaddr	 addr;		/* where it listens */
	struct nbaddr	 pub;		/* its source address, as NAT maps it */
	uint64_t	 rng;
	nbmq_time	 timer_at, write_at;
	nbmq_time	 same_at;
	unsigned int	 same_n;
	/* the application */
	int		 sends;		/* this node's app sends */
	uint64_t	 tosend;	/* messages left to send */
	uint64_t	 total;		/* to send in all */
	uint64_t	 next_seq;
	nbmq_time	 send_at, send_ivl;
	unsigned int	 burst;
	nbmq_time	 read_at, read_ivl;
	unsigned int	 read_batch;
	nbmq_time	 stall_until;
	uint64_t	 last_seq[MAXNODES][MAXINC];	/* order check */
	uint64_t	 downs;		/* peer down events */
	uint64_t	 markers;	/* drop markers read (ENOBUFS) */
	struct mlog	 sent[MAXINC];
	/* what this node's dead incarnations counted */
	uint64_t	 dead_giveups, dead_peer_gone, dead_app_gone;
	/* its application closed the socket: it lingers until then */
	int		 closing;
	nbmq_time	 close_until;
};

struct sim {
	uint64_t	 seed;
	uint64_t	 rng;
	nbmq_time	 now, end_traffic, end;
	int		 verbose;
	int		 tracing;	/* a failing seed's second run */
	int		 failed;
	char		 why[512];
	/* scenario */
	int		 type;		/* of the bound node; peers match */
	int		 encrypted;	/* every node: sodium */
	int		 nnodes;
	int		 ext[MAXNODES];	/* coalesce/pacing per node */
	double		 loss, dup;
	nbmq_time	 delay, jitter;
	int		 reorder;	/* jitter may reorder */
	double		 p_withhold;	/* a copy held and released later */
	nbmq_time	 withhold_max;
	nbmq_time	 part_at, part_until;	/* a partition, one node */
	int		 part_node;
	nbmq_time	 rebind_at;	/* NAT: a client's port changes */
	int		 rebind_node;
	nbmq_time	 restart_at;
	int		 restart_node;
	int		 restarts;	/* done */
	nbmq_time	 close_at;	/* a client's application closes */
	int		 close_node;
	nbmq_time	 close_linger;
	int		 faults_on;
	/* the network */
	struct pkt	**heap;
	size_t		 nheap, capheap;
	uint64_t	 pktseq;
	nbmq_time	 link_last[MAXNODES][MAXNODES];	/* FIFO links */
	uint64_t	 sent_dgrams, lost_dgrams, dup_dgrams, held_dgrams;
	struct node	 nodes[MAXNODES];
	/* trace: a ring of the last lines */
	char		 (*trace)[160];	/* TRACE_LINES, when tracing */
	uint64_t	 ntrace;
};

static struct sim	*cur;		/* for the ops, which get a node */
/* Over all seeds: safe_dealer's Ack datagrams (kind 5), its Acks (kind
 * 10), and the ids those carried. */
static uint64_t		 tot_ack, tot_acks, tot_acks_ids;
/* Sockets an application closed: all, and those freed with messages
 * still queued or unacked (the linger ran out). */
static uint64_t		 tot_closes, tot_closes_left, tot_closes_orphans;

/*
 * The core's wall clock (sodium's Connect timestamps) is the virtual
 * clock, from an epoch: the run stays deterministic, and a node that
 * restarts still sends newer timestamps than before.
 */
static void
sim_wallclock(struct timespec *ts)
{
	nbmq_time	t = cur != NULL ? cur->now : 0;

	ts->tv_sec = 1700000000 + (time_t)(t / NSEC);
	ts->tv_nsec = (long)(t % NSEC);
}

/*
 * Encrypted runs (sodium): one private key file per node, made once in a
 * temporary directory, and every node's public key in peers.  The keys
 * are fixed (seeded); sodium's own randomness and wall clock change the
 * bytes of handshakes and seals, never their sizes or outcomes, so a
 * seed replays the same.
 */
static char	 keydir[64];
static char	 keypath[MAXNODES][96];
static char	 keypeers[MAXNODES * (CRYPT_KEY_B64 + 2)];

static void
keys_make(void)
{
	uint8_t	 seed[crypto_box_SEEDBYTES], pub[CRYPT_KEY_SIZE],
		 priv[CRYPT_KEY_SIZE];
	char	 b64[CRYPT_KEY_B64 + 2];
	FILE	*f;

	if (sodium_init() < 0)
		abort();
	snprintf(keydir, sizeof(keydir), "%s/nbmq-sim.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(keydir) == NULL)
		abort();
	for (int i = 0; i < MAXNODES; i++) {
		memset(seed, 0x40 + i, sizeof(seed));
		crypto_box_seed_keypair(pub, priv, seed);
		snprintf(keypath[i], sizeof(keypath[i]), "%s/n%d.key", keydir,
		    i);
		crypt_key_encode(priv, b64);
		if ((f = fopen(keypath[i], "w")) == NULL ||
		    fchmod(fileno(f), 0600) == -1 ||
		    fprintf(f, "%s\n", b64) < 0 || fclose(f) != 0)
			abort();
		crypt_key_encode(pub, b64);
		if (i > 0)
			strcat(keypeers, ", ");
		strcat(keypeers, b64);
	}
}

static void
keys_remove(void)
{
	for (int i = 0; i < MAXNODES; i++)
		unlink(keypath[i]);
	rmdir(keydir);
}

/* Randomness: splitmix64, one stream for the world, one per node. */
static uint64_t
mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t
rng_next(uint64_t *st)
{
	return mix64(*st += 0x9e3779b97f4a7c15ULL);
}

static uint64_t
rnd(struct sim *sm, uint64_t n)
{
	return n ? rng_next(&sm->rng) % n : 0;
}

static int
chance(struct sim *sm, double p)
{
	return p > 0 && (double)(rng_next(&sm->rng) >> 11) / 9007199254740992.0
	    < p;
}

static nbmq_time
between(struct sim *sm, nbmq_time lo, nbmq_time hi)
{
	return lo + rnd(sm, hi - lo + 1);
}

/*
 * A line of the trace.  Seeds run untraced (formatting every datagram
 * would be most of the run's time); a failing seed runs again, traced,
 * and being deterministic fails again the same way.
 */
static void
trace(struct sim *sm, const char *fmt, ...)
{
	char	*line;
	int	 n;
	va_list	 ap;

	if (!sm->tracing)
		return;
	line = sm->trace[sm->ntrace++ % TRACE_LINES];
	n = snprintf(line, sizeof(sm->trace[0]), "%4" PRIu64 ".%06" PRIu64
	    " ", (uint64_t)(sm->now / NSEC), (uint64_t)(sm->now % NSEC / US));
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(sm->trace[0]) - n, fmt, ap);
	va_end(ap);
	if (sm->verbose)
		fprintf(stderr, "sim %s\n", line);
}

static void
sim_fail(struct sim *sm, const char *inv, const char *fmt, ...)
{
	int	n;
	va_list	ap;

	if (sm->failed)
		return;
	sm->failed = 1;
	n = snprintf(sm->why, sizeof(sm->why), "%s: ", inv);
	va_start(ap, fmt);
	vsnprintf(sm->why + n, sizeof(sm->why) - n, fmt, ap);
	va_end(ap);
	trace(sm, "FAIL %s", sm->why);
}

/* Messages: a header naming the sender, then bytes drawn from it. */
#define MSG_HDR		16	/* "NBSM", origin, inc, u16 0, u64 seq */

static uint64_t
msg_key(int origin, int inc, uint64_t seq)
{
	return mix64(((uint64_t)origin << 56) ^ ((uint64_t)inc << 48) ^ seq ^
	    cur->seed * 0x9e3779b97f4a7c15ULL);
}

/* The shape of message (origin, inc, seq): parts and their sizes. */
static uint16_t
msg_shape(int origin, int inc, uint64_t seq, uint32_t *sizes)
{
	uint64_t	k = msg_key(origin, inc, seq), r = mix64(k + 1);
	uint16_t	n = 1 + (r & 3 ? 0 : (uint16_t)(r >> 2) % 4);

	for (uint16_t i = 0; i < n; i++) {
		uint64_t q = mix64(k + 2 + i);
		uint32_t sz;

		switch (q % 10) {
		case 0:		/* several frames, across a Batch or not */
			sz = (uint32_t)((q >> 8) % 6000);
			break;
		case 1:		/* many frames */
			sz = (uint32_t)((q >> 8) % 40000);
			break;
		case 2:
			sz = 0;
			break;
		default:	/* one frame */
			sz = (uint32_t)((q >> 8) % 400);
			break;
		}
		if (i == 0 && sz < MSG_HDR)
			sz = MSG_HDR;
		sizes[i] = sz;
	}
	return n;
}

/* Bytes i..i+7 (i a multiple of 8) of a message with key k. */
static uint64_t
msg_word(uint64_t k, uint32_t i)
{
	return mix64(k ^ ((uint64_t)i * 0x9e3779b97f4a7c15ULL));
}

static void
msg_fill(uint64_t k, uint8_t *b, uint32_t len)
{
	for (uint32_t i = 0; i < len; i += 8) {
		uint64_t w = msg_word(k, i);

		memcpy(b + i, &w, len - i < 8 ? len - i : 8);
	}
}

static struct msg *
msg_make(int origin, int inc, uint64_t seq)
{
	uint32_t	 sizes[4], total = 0;
	uint16_t	 n = msg_shape(origin, inc, seq, sizes);
	uint64_t	 k = msg_key(origin, inc, seq);
	struct msg	*m;

	for (int i = 0; i < n; i++)
		total += sizes[i];
	if ((m = msg_new(n, total)) == NULL)
		abort();
	memcpy(m->partsz, sizes, n * sizeof(uint32_t));
	msg_fill(k, m->data, total);
	memcpy(m->data, "NBSM", 4);
	m->data[4] = (uint8_t)origin;
	m->data[5] = (uint8_t)inc;
	m->data[6] = m->data[7] = 0;
	memcpy(m->data + 8, &seq, 8);
	return m;
}

static struct mrec *
mlog_rec(struct mlog *l, uint64_t seq)
{
	if (seq >= l->cap) {
		uint64_t cap = l->cap ? l->cap * 2 : 256;

		while (cap <= seq)
			cap *= 2;
		if ((l->r = realloc(l->r, cap * sizeof(*l->r))) == NULL)
			abort();
		memset(l->r + l->cap, 0, (cap - l->cap) * sizeof(*l->r));
		l->cap = cap;
	}
	if (seq >= l->n)
		l->n = seq + 1;
	return &l->r[seq];
}

/* The application of node n read message m: is it one that was sent? */
static void
msg_check(struct sim *sm, struct node *n, const struct msg *m)
{
	uint32_t	 sizes[4], total = 0;
	uint64_t	 seq, k;
	int		 origin, inc;
	uint16_t	 np;
	struct node	*o;
	struct mrec	*r;

	if (m->size < MSG_HDR || memcmp(m->data, "NBSM", 4) != 0) {
		FAIL(sm, "corrupt", "node %d read %u bytes without a header",
		    n->id, m->size);
		return;
	}
	origin = m->data[4];
	inc = m->data[5];
	memcpy(&seq, m->data + 8, 8);
	if (origin >= sm->nnodes || inc >= MAXINC) {
		FAIL(sm, "corrupt", "node %d read a bad header", n->id);
		return;
	}
	o = &sm->nodes[origin];
	np = msg_shape(origin, inc, seq, sizes);
	if (np != m->nparts) {
		FAIL(sm, "corrupt", "node %d: %d/%d/%" PRIu64 " has %u parts, "
		    "not %u", n->id, origin, inc, seq, m->nparts, np);
		return;
	}
	for (int i = 0; i < np; i++) {
		if (sizes[i] != m->partsz[i]) {
			FAIL(sm, "corrupt", "node %d: %d/%d/%" PRIu64 " part "
			    "%d is %u bytes, not %u", n->id, origin, inc, seq,
			    i, m->partsz[i], sizes[i]);
			return;
		}
		total += sizes[i];
	}
	k = msg_key(origin, inc, seq);
	if (total != m->size) {
		FAIL(sm, "corrupt", "node %d: size", n->id);
		return;
	}
	for (uint32_t i = MSG_HDR; i < total; i += 8) {
		uint64_t	 w = msg_word(k, i);	/* MSG_HDR: aligned */
		uint32_t	 len = total - i < 8 ? total - i : 8;

		if (memcmp(m->data + i, &w, len) != 0) {
			FAIL(sm, "corrupt", "node %d: %d/%d/%" PRIu64 " bytes "
			    "%u..%u differ", n->id, origin, inc, seq, i,
			    i + len - 1);
			return;
		}
	}
	if (seq >= o->sent[inc].n || !o->sent[inc].r[seq].accepted) {
		FAIL(sm, "phantom", "node %d read %d/%d/%" PRIu64 ", never "
		    "accepted", n->id, origin, inc, seq);
		return;
	}
	r = &o->sent[inc].r[seq];
	if (r->deliv[n->id] < 255)
		r->deliv[n->id]++;
	trace(sm, "n%d app reads %d/%d/%" PRIu64 " (%u bytes, %u parts)%s",
	    n->id, origin, inc, seq, m->size, m->nparts,
	    r->deliv[n->id] > 1 ? " AGAIN" : "");
	if (r->deliv[n->id] > 1 && (sm->type == NBMQ_SAFE_DEALER ||
	    (sm->dup == 0 && sm->p_withhold == 0)))
		FAIL(sm, "duplicate", "node %d read %d/%d/%" PRIu64 " %u times",
		    n->id, origin, inc, seq, r->deliv[n->id]);
	/* In order per sender where the path keeps it. */
	if (sm->type != NBMQ_SAFE_DEALER && !sm->reorder && sm->dup == 0 &&
	    sm->p_withhold == 0) {
		if (seq + 1 <= n->last_seq[origin][inc])
			FAIL(sm, "order", "node %d read %d/%d/%" PRIu64 " after "
			    "%" PRIu64, n->id, origin, inc, seq,
			    n->last_seq[origin][inc] - 1);
		n->last_seq[origin][inc] = seq + 1;
	}
}

/* The network */
static int
pkt_before(const struct pkt *a, const struct pkt *b)
{
	return a->at < b->at || (a->at == b->at && a->seq < b->seq);
}

static void
heap_push(struct sim *sm, struct pkt *p)
{
	size_t	i;

	if (sm->nheap == sm->capheap) {
		sm->capheap = sm->capheap ? sm->capheap * 2 : 256;
		sm->heap = realloc(sm->heap, sm->capheap * sizeof(*sm->heap));
		if (sm->heap == NULL)
			abort();
	}
	i = sm->nheap++;
	while (i > 0 && pkt_before(p, sm->heap[(i - 1) / 2])) {
		sm->heap[i] = sm->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	sm->heap[i] = p;
}

static struct pkt *
heap_pop(struct sim *sm)
{
	struct pkt	*top = sm->heap[0], *last = sm->heap[--sm->nheap];
	size_t		 i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= sm->nheap)
			break;
		if (c + 1 < sm->nheap && pkt_before(sm->heap[c + 1],
		    sm->heap[c]))
			c++;
		if (!pkt_before(sm->heap[c], last))
			break;
		sm->heap[i] = sm->heap[c];
		i = c;
	}
	if (sm->nheap > 0)
		sm->heap[i] = last;
	return top;
}

static const char *
kind_name(const uint8_t *b, size_t len)
{
	static const char *const k[] = { "Data", "Connect", "Connected",
	    "Disconnected", "Heartbeat", "Ack", "Hello", "Batch", "Slow",
	    "Floor", "Acks" };
	uint8_t	kind;

	if (len < 2)
		return "runt";
	kind = b[1] & (uint8_t)~FRAME_ENCRYPTED;
	return kind < sizeof(k) / sizeof(k[0]) ? k[kind] : "?";
}

static int
route(struct sim *sm, const struct nbaddr *to)
{
	for (int i = 0; i < sm->nnodes; i++) {
		struct node *n = &sm->nodes[i];

		if (n->bound ? addr_eq(to, &n->addr) : addr_eq(to, &n->pub))
			return i;
	}
	return -1;
}

static int
partitioned(struct sim *sm, int a, int b)
{
	return sm->faults_on && sm->now >= sm->part_at &&
	    sm->now < sm->part_until && (a == sm->part_node ||
	    b == sm->part_node);
}

/* The acks invariant's wire half, and the totals of both ways of acking. */
static void
net_acks(struct sim *sm, struct node *n, int dst, const uint8_t *buf,
    uint32_t len)
{
	uint8_t	kind;

	if (len < FRAME_HDR_SIZE)
		return;
	kind = buf[1] & (uint8_t)~FRAME_ENCRYPTED;
	if (kind == FK_ACK)
		tot_ack++;
	if (kind != FK_ACKS)
		return;
	tot_acks++;
	/* Plain ones: the ids their ranges count. */
	for (uint32_t o = FRAME_HDR_SIZE + 8; !(buf[1] & FRAME_ENCRYPTED) &&
	    o + 4 <= len; o += FRAME_ACKS_RANGE)
		tot_acks_ids += (uint64_t)buf[o] << 24 | buf[o + 1] << 16 |
		    buf[o + 2] << 8 | buf[o + 3];
	if (!n->ext || (dst >= 0 && !sm->nodes[dst].ext))
		FAIL(sm, "acks", "node %d sent an Acks to node %d, without "
		    "the extension", n->id, dst);
}

static void
net_send(struct sim *sm, struct node *n, const struct nbaddr *to,
    const uint8_t *buf, uint32_t len)
{
	int	 dst = route(sm, to), copies = 1;
	char	 f[16];

	sm->sent_dgrams++;
	snprintf(f, sizeof(f), "%s", kind_name(buf, len));
	net_acks(sm, n, dst, buf, len);
	if (dst < 0 || partitioned(sm, n->id, dst) ||
	    (sm->faults_on && chance(sm, sm->loss))) {
		sm->lost_dgrams++;
		trace(sm, "n%d -> n%d %s %u bytes: lost", n->id, dst, f, len);
		return;
	}
	if (sm->faults_on && chance(sm, sm->dup)) {
		copies = 2;
		sm->dup_dgrams++;
	}
	for (int c = 0; c < copies; c++) {
		struct pkt *p = calloc(1, sizeof(*p));

		if (p == NULL || (p->buf = malloc(len ? len : 1)) == NULL)
			abort();
		memcpy(p->buf, buf, len);
		p->len = len;
		p->from = n->id;
		p->to = dst;
		p->src = n->bound ? n->addr : n->pub;
		p->dst = *to;
		p->at = sm->now + sm->delay;
		if (sm->reorder)
			p->at += rnd(sm, sm->jitter + 1);
		else if (p->at < sm->link_last[n->id][dst])
			p->at = sm->link_last[n->id][dst];
		sm->link_last[n->id][dst] = p->at;
		if (sm->faults_on && c == 0 && chance(sm, sm->p_withhold)) {
			/* Withheld: arrives much later, out of all order. */
			p->at = sm->now + between(sm, sm->delay,
			    sm->withhold_max);
			sm->held_dgrams++;
		}
		p->seq = sm->pktseq++;
		trace(sm, "n%d -> n%d %s %u bytes%s, at %" PRIu64 ".%06" PRIu64,
		    n->id, dst, f, len, c ? " (duplicate)" : "", p->at / NSEC,
		    p->at % NSEC / US);
		heap_push(sm, p);
	}
}

/* The fake ops */
static struct node *
node_of(struct sock *s)
{
	return (struct node *)((char *)s - offsetof(struct node, s));
}

static void
sim_flush(void *arg, struct sock *s)
{
	struct node	*n = node_of(s);

	for (int i = 0; i < s->ob.n; i++)
		net_send(cur, n, &s->ob.to[i], s->ob.buf +
		    (size_t)i * s->ob.slot_size, s->ob.len[i]);
	outbox_consume(&s->ob, s->ob.n);
}

static void
sim_recv_ready(void *arg, struct sock *s)
{
}

static void
sim_peer_event(void *arg, struct sock *s, struct peer *p, enum peer_event ev)
{
	struct node	*n = node_of(s);

	trace(cur, "n%d peer %016" PRIx64 " %s", n->id, p->session,
	    peer_event_names[ev]);
	if (ev != PEV_UP && ev != PEV_ADDRESS)
		n->downs++;
}

static void
sim_resolve(void *arg, struct sock *s)
{
}

static uint64_t
sim_random64(void *arg)
{
	struct node	*n = arg;

	return rng_next(&n->rng);
}

/* The record of the message m, by its header; NULL when it has none. */
static struct mrec *
msg_rec(struct sim *sm, const struct msg *m)
{
	uint64_t	 seq;
	int		 origin, inc;

	if (m->nparts == 0 || m->size < MSG_HDR ||
	    memcmp(m->data, "NBSM", 4) != 0)
		return NULL;
	origin = m->data[4];
	inc = m->data[5];
	memcpy(&seq, m->data + 8, 8);
	if (origin >= sm->nnodes || inc >= MAXINC ||
	    seq >= sm->nodes[origin].sent[inc].n)
		return NULL;
	return &sm->nodes[origin].sent[inc].r[seq];
}

/* The core counted m lost: which message, and how. */
static void
sim_msg_lost(void *arg, struct sock *s, const struct msg *m,
    enum msg_fate fate)
{
	struct node	*n = arg;
	struct mrec	*r = msg_rec(cur, m);
	uint8_t		 f = fate == FATE_GIVEN_UP ? LOST_GIVEN_UP :
			    LOST_PEER_GONE;
	uint64_t	 seq;

	(void)s;
	if (r == NULL) {
		FAIL(cur, "counted", "node %d counted lost a message it "
		    "was never given", n->id);
		return;
	}
	memcpy(&seq, m->data + 8, sizeof(seq));	/* (unaligned) */
	trace(cur, "n%d counts %d/%d/%" PRIu64 " lost: %s", n->id, m->data[4],
	    m->data[5], seq, fate == FATE_GIVEN_UP ? "given up" : "peer_gone");
	r->lost |= f;
}

static const struct sock_ops sim_ops = {
	.msg_lost = sim_msg_lost,
	.flush = sim_flush,
	.recv_ready = sim_recv_ready,
	.peer_event = sim_peer_event,
	.resolve = sim_resolve,
	.random64 = sim_random64,
	.stun_resolve = sim_resolve,
};

/* Nodes */
static void
node_bounds(struct sim *sm, struct node *n)
{
	struct sock	*s = &n->s;
	struct peer	*p;

	if (s->rq_len > s->o.recv_hwm)
		FAIL(sm, "bounds", "node %d holds %" PRIu64 " messages, "
		    "recv_hwm %" PRIu64, n->id, s->rq_len, s->o.recv_hwm);
	if (s->npeers > s->o.max_peers)
		FAIL(sm, "bounds", "node %d has %u peers", n->id, s->npeers);
	if (s->rx_bytes > s->o.recv_hwm_bytes + 2 * FRAME_MAX_SIZE)
		FAIL(sm, "bounds", "node %d holds %" PRIu64 " bytes, "
		    "recv_hwm_bytes %" PRIu64, n->id, s->rx_bytes,
		    s->o.recv_hwm_bytes);
	if (s->ndedup > DEDUP_MAX)
		FAIL(sm, "bounds", "node %d remembers %" PRIu64 " ids", n->id,
		    s->ndedup);
	if (s->st.drops[DROP_BAD_ACK] > 0)
		FAIL(sm, "acks", "node %d got %" PRIu64 " Acks past what it "
		    "sent", n->id, s->st.drops[DROP_BAD_ACK]);
	TAILQ_FOREACH(p, &s->peers, entry)
		if (sock_peer_load(p) > s->o.send_hwm)
			FAIL(sm, "bounds", "node %d peer load %" PRIu64
			    " over send_hwm %" PRIu64, n->id,
			    sock_peer_load(p), s->o.send_hwm);
}

/* After every event on n, as dsock_sync does: tick, flush, arm. */
static void
node_sync(struct sim *sm, struct node *n)
{
	if (!n->alive)
		return;
	if (n->write_at == NBMQ_TIME_NEVER && sock_tick(&n->s, sm->now))
		n->write_at = sm->now + US;	/* the kernel took a burst */
	sim_flush(NULL, &n->s);
	n->timer_at = sock_next_deadline(&n->s);
	node_bounds(sm, n);
}

static void
node_start(struct sim *sm, struct node *n)
{
	char		 name[32];

	if (sock_init(&n->s, n->type, &n->o, &sim_ops, n) == -1)
		abort();
	snprintf(name, sizeof(name), "n%d", n->id);
	snprintf(n->s.name, sizeof(n->s.name), "%s", name);
	if (sm->encrypted) {
		struct cryptconf	cc;
		char			why[256];

		memset(&cc, 0, sizeof(cc));
		cc.encryptor = (char *)"sodium";
		cc.private_key_file = keypath[n->id];
		cc.peers = keypeers;
		if (crypt_sock_load(&n->s, &cc, n->bound, why,
		    sizeof(why)) == -1) {
			fprintf(stderr, "sim: n%d: %s\n", n->id, why);
			abort();
		}
	}
	n->alive = 1;
	n->timer_at = n->write_at = NBMQ_TIME_NEVER;
	if (n->bound)
		sock_set_bound(&n->s);
	else
		sock_set_remote(&n->s, &sm->nodes[0].addr, sm->now);
	node_sync(sm, n);
}

/* Counted after sock_destroy: what it frees uncounted is lost. */
static void
node_stop(struct sim *sm, struct node *n)
{
	(void)sm;
	sock_destroy(&n->s);
	n->dead_giveups += n->s.st.giveups;
	n->dead_peer_gone += n->s.st.drops[DROP_PEER_GONE];
	n->alive = 0;
}

static void
node_restart(struct sim *sm, struct node *n)
{
	trace(sm, "n%d RESTART (state lost)", n->id);
	node_stop(sm, n);
	n->inc++;
	n->next_seq = 0;
	node_start(sm, n);
	if (n->closing) {
		/* the lingering socket went with the daemon */
		n->closing = 0;
		if (n->tosend > 0 && sm->now < sm->end_traffic)
			n->send_at = sm->now + n->send_ivl;
		n->read_at = sm->now + n->read_ivl;
	}
}

static void
app_send(struct sim *sm, struct node *n)
{
	for (unsigned int b = 0; b < n->burst && n->tosend > 0; b++) {
		uint64_t	 seq = n->next_seq;
		struct msg	*m = msg_make(n->id, n->inc, seq);
		uint32_t	 size = m->size;
		int		 e;

		e = sock_send(&n->s, m, sm->now, 0);
		trace(sm, "n%d app sends %d/%d/%" PRIu64 " (%u bytes): %s",
		    n->id, n->id, n->inc, seq, size, e ? strerror(e) : "ok");
		if (e != 0)
			break;		/* EAGAIN, no peer yet: later */
		mlog_rec(&n->sent[n->inc], seq)->accepted = 1;
		n->next_seq++;
		n->tosend--;
	}
	n->send_at = n->tosend > 0 && sm->now < sm->end_traffic ?
	    sm->now + n->send_ivl : NBMQ_TIME_NEVER;
}

static void
app_read(struct sim *sm, struct node *n)
{
	struct msg	*m;

	if (sm->now >= n->stall_until) {
		for (unsigned int i = 0; i < n->read_batch; i++) {
			if ((m = sock_recv(&n->s)) == NULL)
				break;
			if (m->nparts == 0) {
				n->markers += m->dropped;
				trace(sm, "n%d app reads ENOBUFS (%" PRIu64
				    " dropped)", n->id, m->dropped);
			} else
				msg_check(sm, n, m);
			msg_free(m);
		}
		if (sm->faults_on && chance(sm, 0.002)) {
			n->stall_until = sm->now + between(sm, 10 * MSEC,
			    2 * NSEC);
			trace(sm, "n%d app stalls", n->id);
		}
	}
	n->read_at = sm->now + n->read_ivl;
}

/*
 * n's application closed its socket: it lingers, as dsock_release has it,
 * until its queue has left and every frame is acked, or the linger ran
 * out; then the daemon frees it (dsock_free: Disconnected to its peers,
 * what it received and nobody read counted app_gone).  Unlike a restart
 * nothing is lost uncounted, so conservation holds across it.  The
 * application opens a new socket and sends the rest.
 */
static void
node_close(struct sim *sm, struct node *n)
{
	trace(sm, "n%d app closes its socket (linger %.3f s)", n->id,
	    (double)sm->close_linger / NSEC);
	n->closing = 1;
	n->close_until = sm->now + sm->close_linger;
	n->send_at = n->read_at = NBMQ_TIME_NEVER;
}

static int
node_drained(const struct node *n)
{
	return n->s.queued == 0 && TAILQ_EMPTY(&n->s.resendq);
}

static void
node_closed(struct sim *sm, struct node *n)
{
	struct msg	*m;
	struct mrec	*r;

	trace(sm, "n%d socket freed: %" PRIu64 " queued, %s, %" PRIu64
	    " not read", n->id, n->s.queued, TAILQ_EMPTY(&n->s.resendq) ?
	    "all acked" : "some unacked", n->s.rq_len);
	n->dead_app_gone += n->s.rq_len;
	TAILQ_FOREACH(m, &n->s.rq, entry)
		if ((r = msg_rec(sm, m)) != NULL)
			r->lost |= LOST_APP_GONE;
	tot_closes++;
	if (!node_drained(n))
		tot_closes_left++;
	if (n->s.norphans > 0)
		tot_closes_orphans++;
	session_goodbye(&n->s);
	node_stop(sm, n);
	n->closing = 0;
	n->close_until = NBMQ_TIME_NEVER;
	n->inc++;
	n->next_seq = 0;
	node_start(sm, n);
	if (n->tosend > 0 && sm->now < sm->end_traffic)
		n->send_at = sm->now + n->send_ivl;
	n->read_at = sm->now + n->read_ivl;
}

/* Scenario: everything the seed decides before the first event. */
static void
sim_setup(struct sim *sm)
{
	static const int types[] = { NBMQ_DEALER, NBMQ_SAFE_DEALER,
	    NBMQ_SAFE_DEALER, NBMQ_SAFE_DEALER, NBMQ_RADIO };
	static const double losses[] = { 0, 0, 0.01, 0.05, 0.2, 0.3 };
	static const double dups[] = { 0, 0, 0.01, 0.05 };
	struct sockopts	 o;
	nbmq_time	 traffic = between(sm, 1 * NSEC, 8 * NSEC);
	int		 wire = (int)rnd(sm, 4);
	uint64_t	 r2 = mix64(sm->seed ^ 0x636c6f7365ULL);
	nbmq_time	 part_end, close_sends_at = NBMQ_TIME_NEVER;

	sm->type = types[rnd(sm, 5)];
	sm->nnodes = 2 + (int)rnd(sm, MAXNODES - 1);
	sm->loss = losses[rnd(sm, 6)];
	sm->dup = dups[rnd(sm, 4)];
	sm->delay = between(sm, 20 * US, 5 * MSEC);
	sm->reorder = rnd(sm, 2);
	sm->jitter = sm->reorder ? between(sm, 0, 20 * MSEC) : 0;
	sm->p_withhold = rnd(sm, 4) == 0 ? 0.01 : 0;
	sm->withhold_max = between(sm, 100 * MSEC, 900 * MSEC);
	sm->part_at = sm->part_until = NBMQ_TIME_NEVER;
	if (rnd(sm, 4) == 0) {
		sm->part_at = between(sm, 0, traffic);
		sm->part_until = sm->part_at + between(sm, 10 * MSEC,
		    15 * NSEC);
		sm->part_node = (int)rnd(sm, sm->nnodes);
	}
	sm->rebind_at = rnd(sm, 4) == 0 ? between(sm, 0, traffic) :
	    NBMQ_TIME_NEVER;
	sm->rebind_node = 1 + (int)rnd(sm, sm->nnodes - 1);
	sm->restart_at = rnd(sm, 6) == 0 ? between(sm, 0, traffic) :
	    NBMQ_TIME_NEVER;
	sm->restart_node = (int)rnd(sm, sm->nnodes);
	/* Drawn apart (r2), so that the draws above stay what they were. */
	sm->close_at = rng_next(&r2) % 5 == 0 ?
	    rng_next(&r2) % (uint64_t)traffic : NBMQ_TIME_NEVER;
	sm->close_node = 1 + (int)(rng_next(&r2) % (uint64_t)(sm->nnodes - 1));
	sm->close_linger = rng_next(&r2) % 3 == 0 ? 0 :
	    (nbmq_time)(rng_next(&r2) % (3 * NSEC));
	sm->faults_on = 1;
	sm->end_traffic = traffic;
	/* Long enough for every resend, keepalive and reconnect to run out. */
	sm->end = traffic + 40 * NSEC;

	opts_defaults(&o);
	if (rnd(sm, 3) == 0)
		o.recv_hwm = between(sm, 2, 50);
	if (rnd(sm, 3) == 0)
		o.send_hwm = between(sm, 2, 50);
	if (rnd(sm, 4) == 0)
		o.max_tick_send = between(sm, 1, 8);
	if (rnd(sm, 4) == 0)
		o.max_frame_size = between(sm, 200, 1400);
	if (rnd(sm, 4) == 0)
		o.recv_hwm_bytes = between(sm, 64 << 10, 1 << 20);
	/* Sessions that end within a partition, and an application that
	 * closes its socket then: its queue waits for a session that may
	 * never come (orphans), until the linger runs out. */
	if (rng_next(&r2) % 3 == 0) {
		o.peer_heartbeat_ivl = 200 * MSEC;
		o.peer_keepalive = 600 * MSEC +
		    (nbmq_time)(rng_next(&r2) % (3 * NSEC));
	}
	/* (Faults end with the traffic: the partition too.) */
	part_end = sm->part_until < traffic ? sm->part_until : traffic;
	if (sm->part_at != NBMQ_TIME_NEVER && sm->part_node != 0 &&
	    part_end > sm->part_at + o.peer_keepalive &&
	    rng_next(&r2) % 2 == 0) {
		/* a queue that drains a frame a tick: left when it ends */
		if (rng_next(&r2) % 2 == 0)
			o.max_tick_send = 1;
		sm->close_node = sm->part_node;
		sm->close_at = sm->part_at + o.peer_keepalive +
		    (nbmq_time)(rng_next(&r2) % (uint64_t)(part_end -
		    sm->part_at - o.peer_keepalive));
		/* and its application sends into the partition */
		close_sends_at = sm->part_at +
		    (nbmq_time)(rng_next(&r2) % (uint64_t)o.peer_keepalive);
	}
	if ((sm->encrypted = rnd(sm, 4) == 0) &&
	    o.max_frame_size < crypt_min_frame_size("sodium"))
		o.max_frame_size = crypt_min_frame_size("sodium");

	for (int i = 0; i < sm->nnodes; i++) {
		struct node	*n = &sm->nodes[i];
		char		 a[32], host[64];
		uint16_t	 port;

		n->id = i;
		n->bound = i == 0;
		n->rng = mix64(sm->seed * 31 + (uint64_t)i + 1);
		n->o = o;
		/* v0.2.0, the extension, or one side each (a v0.2.0 peer). */
		n->ext = wire == 0 ? 0 : wire == 1 ? 1 : wire == 2 ? i != 0 :
		    i == 0;
		sm->ext[i] = n->ext;
		n->o.coalesce = n->o.pacing = (uint64_t)n->ext;
		if (sm->type == NBMQ_RADIO)
			n->type = i == 0 ? NBMQ_RADIO : NBMQ_DISH;
		else
			n->type = sm->type;
		snprintf(a, sizeof(a), "10.0.0.%d:%d", i + 1, 7000 + i);
		if (addr_parse(a, &n->addr, host, sizeof(host), &port) != 0)
			abort();
		n->pub = n->addr;
		/* Who sends: clients to the server, the server, or both. */
		n->sends = n->type == NBMQ_DISH ? 0 : i == 0 ?
		    (sm->type == NBMQ_RADIO || rnd(sm, 3) != 0) : rnd(sm, 4) != 0;
		n->tosend = n->total = n->sends ? between(sm, 1, 300) : 0;
		n->send_ivl = between(sm, 10 * US, 5 * MSEC);
		n->burst = (unsigned int)between(sm, 1, 20);
		n->send_at = n->tosend ? between(sm, 0, 100 * MSEC) :
		    NBMQ_TIME_NEVER;
		n->read_ivl = between(sm, 10 * US, 20 * MSEC);
		n->read_batch = (unsigned int)between(sm, 1, 64);
		n->read_at = n->read_ivl;
	}
	if (close_sends_at != NBMQ_TIME_NEVER) {
		struct node *n = &sm->nodes[sm->close_node];

		n->sends = 1;
		n->tosend = n->total = 20 + rng_next(&r2) % 280;
		n->send_at = close_sends_at;
		/* a slow reader: paced (Slow), the queue waits at the sender */
		if (rng_next(&r2) % 2 == 0) {
			sm->nodes[0].read_ivl = 20 * MSEC;
			sm->nodes[0].read_batch = 1;
		}
	}
}

static const char *
node_ext(const struct node *n)
{
	return n->ext ? "extension" : "v0.2.0";
}

static void
sim_describe(struct sim *sm, FILE *f)
{
	fprintf(f, "seed %" PRIu64 ": %s%s, %d nodes, loss %.2f dup %.2f "
	    "delay %" PRIu64 " us jitter %" PRIu64 " us%s%s", sm->seed,
	    socktype_name(sm->type), sm->encrypted ? " encrypted" : "",
	    sm->nnodes, sm->loss, sm->dup,
	    sm->delay / US, sm->jitter / US, sm->reorder ? " reordering" : "",
	    sm->p_withhold > 0 ? ", withheld frames" : "");
	if (sm->part_at != NBMQ_TIME_NEVER)
		fprintf(f, ", n%d partitioned %.3f..%.3f s", sm->part_node,
		    (double)sm->part_at / NSEC, (double)sm->part_until / NSEC);
	if (sm->rebind_at != NBMQ_TIME_NEVER)
		fprintf(f, ", n%d rebinds at %.3f s", sm->rebind_node,
		    (double)sm->rebind_at / NSEC);
	if (sm->restart_at != NBMQ_TIME_NEVER)
		fprintf(f, ", n%d restarts at %.3f s", sm->restart_node,
		    (double)sm->restart_at / NSEC);
	if (sm->close_at != NBMQ_TIME_NEVER)
		fprintf(f, ", n%d's app closes at %.3f s (linger %.3f s)",
		    sm->close_node, (double)sm->close_at / NSEC,
		    (double)sm->close_linger / NSEC);
	fprintf(f, "\n");
	for (int i = 0; i < sm->nnodes; i++) {
		struct node *n = &sm->nodes[i];

		fprintf(f, "  n%d %s %s %s: sends %" PRIu64 " every %" PRIu64
		    " us by %u; reads %u every %" PRIu64 " us; recv_hwm %"
		    PRIu64 " send_hwm %" PRIu64 " max_tick_send %" PRIu64
		    " max_frame_size %" PRIu64 "\n", i, socktype_name(n->type),
		    n->bound ? "bound" : "connecting", node_ext(n), n->total,
		    n->send_ivl / US, n->burst, n->read_batch,
		    n->read_ivl / US, n->o.recv_hwm, n->o.send_hwm,
		    n->o.max_tick_send, n->o.max_frame_size);
	}
}

/* Once per instant and node: count, and stop a node that spins. */
static void
node_busy(struct sim *sm, struct node *n)
{
	if (n->same_at != sm->now) {
		n->same_at = sm->now;
		n->same_n = 0;
	}
	if (++n->same_n > SAME_TIME_MAX)
		FAIL(sm, "busy", "node %d ran %u times at one instant", n->id,
		    n->same_n);
}

static void
node_timers(struct sim *sm, struct node *n)
{
	nbmq_time	next;

	node_busy(sm, n);
	next = sock_timers(&n->s, sm->now);
	if (next <= sm->now)
		FAIL(sm, "timer", "node %d: next deadline %" PRIu64 " ns, now "
		    "%" PRIu64, n->id, next, sm->now);
	node_sync(sm, n);
}

static void
sim_faults(struct sim *sm)
{
	if (sm->now >= sm->rebind_at) {
		struct node *n = &sm->nodes[sm->rebind_node];

		sm->rebind_at = NBMQ_TIME_NEVER;
		n->pub.u.sin.sin_port = htons(ntohs(n->pub.u.sin.sin_port) +
		    1000);
		trace(sm, "n%d NAT rebinds to %s", n->id, addr_str(&n->pub));
	}
	if (sm->now >= sm->close_at) {
		struct node *n = &sm->nodes[sm->close_node];

		sm->close_at = NBMQ_TIME_NEVER;
		if (n->alive && !n->closing)
			node_close(sm, n);
	}
	if (sm->now >= sm->restart_at) {
		sm->restart_at = NBMQ_TIME_NEVER;
		sm->restarts++;
		node_restart(sm, &sm->nodes[sm->restart_node]);
	}
	if (sm->faults_on && sm->now >= sm->end_traffic) {
		sm->faults_on = 0;
		trace(sm, "traffic stops; the network heals");
		for (int i = 0; i < sm->nnodes; i++)
			sm->nodes[i].stall_until = 0;
	}
}

static nbmq_time
sim_next(struct sim *sm)
{
	nbmq_time	t = sm->end;

	if (sm->nheap > 0 && sm->heap[0]->at < t)
		t = sm->heap[0]->at;
	if (sm->rebind_at < t)
		t = sm->rebind_at;
	if (sm->restart_at < t)
		t = sm->restart_at;
	if (sm->close_at < t)
		t = sm->close_at;
	if (sm->faults_on && sm->end_traffic < t)
		t = sm->end_traffic;
	for (int i = 0; i < sm->nnodes; i++) {
		struct node *n = &sm->nodes[i];

		if (n->timer_at < t)
			t = n->timer_at;
		if (n->write_at < t)
			t = n->write_at;
		if (n->send_at < t)
			t = n->send_at;
		if (n->read_at < t)
			t = n->read_at;
		if (n->closing && n->close_until < t)
			t = n->close_until;
	}
	return t;
}

/* One instant: everything due now, in a fixed order. */
static void
sim_step(struct sim *sm)
{
	sim_faults(sm);
	while (sm->nheap > 0 && sm->heap[0]->at <= sm->now && !sm->failed) {
		struct pkt	*p = heap_pop(sm);
		struct node	*n = &sm->nodes[p->to];

		/* A NAT mapping gone, or the packet to a node now elsewhere. */
		if (route(sm, &p->dst) == p->to && n->alive) {
			trace(sm, "n%d <- n%d %s %u bytes", p->to, p->from,
			    kind_name(p->buf, p->len), p->len);
			node_busy(sm, n);
			sock_input(&n->s, sm->now, &p->src, p->buf, p->len);
			node_sync(sm, n);
		}
		free(p->buf);
		free(p);
	}
	for (int i = 0; i < sm->nnodes && !sm->failed; i++) {
		struct node *n = &sm->nodes[i];

		if (n->write_at <= sm->now) {
			n->write_at = NBMQ_TIME_NEVER;
			node_busy(sm, n);
			node_sync(sm, n);
		}
		if (n->timer_at <= sm->now)
			node_timers(sm, n);
		if (n->send_at <= sm->now) {
			app_send(sm, n);
			node_sync(sm, n);
		}
		if (n->read_at <= sm->now) {
			app_read(sm, n);
			node_sync(sm, n);
		}
		if (n->closing && n->alive && (node_drained(n) ||
		    n->close_until <= sm->now))
			node_closed(sm, n);
	}
}

/* The live sessions' two ends agree on what they negotiated. */
static void
check_negotiation(struct sim *sm)
{
	struct node	*b = &sm->nodes[0];

	for (int i = 1; i < sm->nnodes; i++) {
		struct node	*c = &sm->nodes[i];
		struct peer	*pc = TAILQ_FIRST(&c->s.peers), *pb;

		if (pc == NULL || (pb = sock_peer_by_id(&b->s,
		    pc->session)) == NULL)
			continue;
		if (pc->ext_flags != pb->ext_flags)
			FAIL(sm, "negotiation", "session %016" PRIx64 ": n%d "
			    "has flags %#x, n0 %#x", pc->session, i,
			    pc->ext_flags, pb->ext_flags);
	}
}

/* After the quiet period: what safe_dealer promised. */
static void
check_end(struct sim *sm)
{
	uint64_t	 undelivered = 0, counted = 0, downs = 0;
	uint64_t	 ncounted = 0, flagged = 0;
	int		 restarted = sm->restarts > 0;
	int		 safe = sm->type == NBMQ_SAFE_DEALER;

	check_negotiation(sm);
	for (int i = 0; i < sm->nnodes; i++) {
		struct node	*n = &sm->nodes[i];
		struct msg	*m;
		struct reasm	*r;
		uint64_t	 held = 0;

		if (n->alive) {
			TAILQ_FOREACH(m, &n->s.rq, entry)
				held += m->size;
			TAILQ_FOREACH(r, &n->s.reasm_lru, lru_entry)
				held += r->mem;
			if (held != n->s.rx_bytes)
				FAIL(sm, "bounds", "node %d counts %" PRIu64
				    " bytes held, holds %" PRIu64, n->id,
				    n->s.rx_bytes, held);
		}
		downs += n->downs;
		if (n->alive && (n->s.queued > 0 ||
		    !TAILQ_EMPTY(&n->s.resendq)))
			FAIL(sm, "quiet", "node %d still has %" PRIu64
			    " queued, %s unacked, after the quiet period",
			    n->id, n->s.queued,
			    TAILQ_EMPTY(&n->s.resendq) ? "none" : "some");
	}
	/* A radio's message goes to every dish: no one fate per message. */
	if (sm->type == NBMQ_RADIO || sm->failed)
		return;
	for (int i = 0; i < sm->nnodes; i++) {
		struct node *n = &sm->nodes[i];

		counted += n->dead_giveups + n->dead_peer_gone +
		    n->dead_app_gone;
		if (n->alive)
			counted += n->s.st.giveups +
			    n->s.st.drops[DROP_PEER_GONE];
		ncounted += n->dead_giveups + n->dead_peer_gone;
		if (n->alive)
			ncounted += n->s.st.giveups +
			    n->s.st.drops[DROP_PEER_GONE];
		for (int inc = 0; inc <= n->inc; inc++)
			for (uint64_t q = 0; q < n->sent[inc].n; q++) {
				struct mrec *r = &n->sent[inc].r[q];
				int got = 0;

				if (!r->accepted)
					continue;
				for (int d = 0; d < sm->nnodes; d++)
					got += r->deliv[d];
				flagged += (r->lost & LOST_GIVEN_UP) != 0;
				flagged += (r->lost & LOST_PEER_GONE) != 0;
				/* Given up is "fate unknown": it may have
				 * arrived, and gone with a closed socket. */
				if ((r->lost & LOST_PEER_GONE) &&
				    (r->lost & ~LOST_PEER_GONE))
					FAIL(sm, "counted", "%d/%d/%" PRIu64
					    " counted lost twice (%#x)", i, inc,
					    q, r->lost);
				else if (got > 0 && (r->lost &
				    (LOST_PEER_GONE | LOST_APP_GONE)))
					FAIL(sm, "counted", "%d/%d/%" PRIu64
					    " delivered, yet counted %s", i,
					    inc, q, r->lost == LOST_PEER_GONE ?
					    "peer_gone" : "app_gone");
				else if (safe && got == 0 && r->lost == 0 &&
				    !restarted)
					FAIL(sm, "uncounted", "%d/%d/%" PRIu64
					    " neither delivered nor counted",
					    i, inc, q);
				if (got == 0)
					undelivered++;
				if (sm->failed)
					return;
			}
	}
	/* The counters say what the messages say. */
	if (flagged != ncounted)
		FAIL(sm, "counted", "giveups and peer_gone count %" PRIu64
		    ", the messages counted lost are %" PRIu64, ncounted,
		    flagged);
	/* A dealer's losses on the network are UDP's, not counted. */
	if (!safe || undelivered == 0)
		return;
	trace(sm, "%" PRIu64 " undelivered, %" PRIu64 " counted (given up or "
	    "peer_gone), %" PRIu64 " sessions down", undelivered, counted,
	    downs);
	if (downs == 0 && counted == 0 && !restarted)
		FAIL(sm, "lost", "%" PRIu64 " messages not delivered while "
		    "every session lived", undelivered);
	else if (!restarted && undelivered > counted)
		FAIL(sm, "uncounted", "%" PRIu64 " messages not delivered, %"
		    PRIu64 " counted", undelivered, counted);
}

static void
sim_free(struct sim *sm)
{
	for (int i = 0; i < sm->nnodes; i++) {
		struct node *n = &sm->nodes[i];

		if (n->alive)
			sock_destroy(&n->s);
		for (int inc = 0; inc < MAXINC; inc++)
			free(n->sent[inc].r);
	}
	while (sm->nheap > 0) {
		struct pkt *p = heap_pop(sm);

		free(p->buf);
		free(p);
	}
	free(sm->heap);
	free(sm->trace);
}

/* -k: failures by invariant, and the first seed of each. */
struct tally {
	char		 inv[32];
	uint64_t	 n, first;
};
static struct tally	 tallies[16];
static int		 ntallies, keep_going;

static void
tally(uint64_t seed, const char *why)
{
	size_t	len = strcspn(why, ":");
	int	i;

	for (i = 0; i < ntallies; i++)
		if (strlen(tallies[i].inv) == len &&
		    strncmp(tallies[i].inv, why, len) == 0)
			break;
	if (i == ntallies) {
		if (ntallies == 16)
			return;
		snprintf(tallies[i].inv, sizeof(tallies[i].inv), "%.*s",
		    (int)len, why);
		tallies[i].first = seed;
		ntallies++;
	}
	tallies[i].n++;
}

/* One seed; 0 when every invariant held. */
static int
sim_run(uint64_t seed, int verbose, int tracing)
{
	struct sim	*sm;
	int		 failed;

	if ((sm = calloc(1, sizeof(*sm))) == NULL)
		abort();
	cur = sm;
	sm->seed = seed;
	sm->rng = mix64(seed);
	sm->verbose = verbose;
	sm->tracing = tracing || verbose;
	if (sm->tracing &&
	    (sm->trace = calloc(TRACE_LINES, sizeof(*sm->trace))) == NULL)
		abort();
	sim_setup(sm);
	if (verbose)
		sim_describe(sm, stderr);
	for (int i = 0; i < sm->nnodes; i++)
		node_start(sm, &sm->nodes[i]);
	while (!sm->failed) {
		nbmq_time t = sim_next(sm);

		if (t < sm->now) {
			FAIL(sm, "timer", "an event at %" PRIu64 " before now",
			    t);
			break;
		}
		if (t >= sm->end)
			break;
		sm->now = t;
		sim_step(sm);
	}
	if (!sm->failed) {
		sm->now = sm->end;
		check_end(sm);
	}
	failed = sm->failed;
	if (failed && keep_going)
		tally(seed, sm->why);
	else if (failed && !sm->tracing) {
		/* Again, traced, for the report. */
		sim_free(sm);
		free(sm);
		return sim_run(seed, verbose, 1);
	} else if (failed) {
		uint64_t first = sm->ntrace > TRACE_TAIL ?
		    sm->ntrace - TRACE_TAIL : 0;

		fprintf(stderr, "sim: FAIL seed %" PRIu64 ": %s\n", seed,
		    sm->why);
		sim_describe(sm, stderr);
		if (!verbose) {
			fprintf(stderr, "last events:\n");
			for (uint64_t i = first; i < sm->ntrace; i++)
				fprintf(stderr, "  %s\n",
				    sm->trace[i % TRACE_LINES]);
		}
		fprintf(stderr, "reproduce: build/tests/sim -s %" PRIu64
		    " -n 1 -v\n", seed);
	} else if (verbose)
		fprintf(stderr, "sim: seed %" PRIu64 ": %" PRIu64 " datagrams "
		    "(%" PRIu64 " lost, %" PRIu64 " duplicated, %" PRIu64
		    " withheld)\n", seed, sm->sent_dgrams, sm->lost_dgrams,
		    sm->dup_dgrams, sm->held_dgrams);
	sim_free(sm);
	free(sm);
	cur = NULL;
	return failed;
}

static void
usage(void)
{
	fprintf(stderr, "usage: sim [-kv] [-s seed] [-n count] [-t seconds]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	uint64_t	 seed = 1, count = 1000, done = 0;
	size_t		 heap0 = 0;
	double		 limit = 0;
	int		 verbose = 0, ch;
	struct timespec	 t0, t1;

	crypt_wallclock = sim_wallclock;
	while ((ch = getopt(argc, argv, "kn:s:t:v")) != -1) {
		switch (ch) {
		case 'k':
			keep_going = 1;
			break;
		case 'n':
			count = strtoull(optarg, NULL, 10);
			break;
		case 's':
			seed = strtoull(optarg, NULL, 10);
			break;
		case 't':
			limit = strtod(optarg, NULL);
			break;
		case 'v':
			verbose = 1;
			break;
		default:
			usage();
		}
	}
	log_init(verbose ? LOG_DEBUG : LOG_CRIT, 1);
	keys_make();
	atexit(keys_remove);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t s = seed; s < seed + count; s++) {
		size_t	used;

		if (sim_run(s, verbose, 0) && !keep_going)
			return 1;
		done++;
		/* (Under ASan, whose allocator this does not see, it holds
		 * trivially: LeakSanitizer checks at exit instead.) */
		used = mallinfo2().uordblks;
		if (done == 4)
			heap0 = used;
		if (done > 4 && used > heap0 + LEAK_SLACK) {
			fprintf(stderr, "sim: FAIL seed %" PRIu64 ": leak: %zu "
			    "bytes in use after it, %zu after the first 4 "
			    "seeds\nreproduce: build/tests/sim -s %" PRIu64
			    " -n 200\n", s, used, heap0, seed);
			return 1;
		}
		if (limit > 0 && (done & 15) == 0) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((double)(t1.tv_sec - t0.tv_sec) +
			    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 >= limit)
				break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (ntallies > 0) {
		for (int i = 0; i < ntallies; i++)
			printf("sim: %-12s %6" PRIu64 " seeds, the first %"
			    PRIu64 "\n", tallies[i].inv, tallies[i].n,
			    tallies[i].first);
		return 1;
	}
	printf("sim: %" PRIu64 " seeds from %" PRIu64 " held every invariant "
	    "(%.1f s)\n", done, seed, (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("sim: safe_dealer acked by %" PRIu64 " Ack datagrams (one frame "
	    "each) and %" PRIu64 " Acks (of id ranges: %" PRIu64 " ids in the "
	    "plain ones)\n", tot_ack, tot_acks, tot_acks_ids);
	printf("sim: %" PRIu64 " sockets closed by their application, %" PRIu64
	    " of them freed with messages left when the linger ran out (%"
	    PRIu64 " with a queue kept for the next session)\n",
	    tot_closes, tot_closes_left, tot_closes_orphans);
	return 0;
}
