/* SPDX-License-Identifier: ISC */
/*
 * fuzz_frame.c: libFuzzer target for the wire side of the core: frame_parse
 * and everything sock_input drives behind it (sessions, reassembly,
 * safe_dealer acks and dedup, recv_hwm), with a fake clock and fake ops.
 *
 * Two sockets, B (bound) and C (connecting to B), wired by a fake network
 * that the input steers.  The input is a header byte (socket types and
 * options), then operations, each one byte (op & 7, argument op >> 3)
 * followed by what it needs:
 *
 *   0  datagram to B: 2-byte length, bytes; from C's address or 3 others
 *   1  datagram to C: 2-byte length, bytes; from B's address or 3 others
 *   2  clock: 1 byte (< 200: 5 ms steps; else whole seconds), then the
 *      timers of both sockets
 *   3  sock_send on B or C: sizes of 1..4 parts, maybe to one peer, maybe
 *      forced past send_hwm; then sock_tick
 *   4  sock_tick both
 *   5  the network: what each socket sent reaches the other, maybe with
 *      losses, duplicates, reversed order, or from a rebound address
 *   6  the applications read: drain both receive queues
 *   7  the kernel refuses (toggle) on B or C, or C's host name resolves
 *
 * After every operation the target checks invariants of the core (peer
 * limits, link state against the peer count, recv_hwm, send queue
 * accounting, deadlines in the future) and traps on a violation.  Every
 * datagram that parses is also re-encoded and compared with its input
 * (a Batch entry by entry).
 *
 * Both sockets offer the extension (PROTOCOL.md 4.3: Hello, Batch, larger
 * frames), so that a handshake negotiates it, except B when C connects by
 * name (header bit 0x40): then B is a coalesce = no, pacing = no socket,
 * and Hello, Batch and Slow are unknown kinds to it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

#define MAXOUT		128
#define MAXDGRAM	1536	/* an extension frame (1452) fits */
#define MAXOPS		2000

#define CHECK(e)	do { if (!(e)) { \
	fprintf(stderr, "fuzz_frame: invariant failed: %s (line %d)\n", \
	    #e, __LINE__); abort(); } } while (0)

struct fdgram {
	struct nbaddr	 to;
	uint32_t	 len;
	uint8_t		 buf[MAXDGRAM];
};

struct fnode {
	struct sock	 s;
	struct nbaddr	 addr;
	struct fdgram	 out[MAXOUT];
	int		 nout;
	int		 refuse;
	int		 inited;
	uint64_t	 ids;
};

static struct fnode	B, C;
static struct nbaddr	X[3];
static nbmq_time	now;

static void
f_flush(void *arg, struct sock *s)
{
	struct fnode	*n = arg;

	CHECK(&n->s == s);
	if (n->refuse)
		return;
	for (int i = 0; i < s->ob.n; i++) {
		struct fdgram	*d;

		CHECK(s->ob.len[i] <= s->ob.slot_size);
		if (n->nout == MAXOUT || s->ob.len[i] > MAXDGRAM)
			continue;	/* lost on the way */
		d = &n->out[n->nout++];
		d->to = s->ob.to[i];
		d->len = s->ob.len[i];
		memcpy(d->buf, s->ob.buf + (size_t)i * s->ob.slot_size,
		    d->len);
	}
	outbox_consume(&s->ob, s->ob.n);
}

static void
f_recv_ready(void *arg, struct sock *s)
{
	CHECK(!TAILQ_EMPTY(&s->rq));
}

static void
f_peer_event(void *arg, struct sock *s, struct peer *p, enum peer_event ev)
{
	CHECK(ev < PEV_NEVENTS);
	CHECK(p->sock == s);
}

static void
f_resolve(void *arg, struct sock *s)
{
}

/* Small, predictable ids, so that inputs can name live sessions. */
static uint64_t
f_random64(void *arg)
{
	struct fnode	*n = arg;

	return ++n->ids;
}

static const struct sock_ops f_ops = {
	.flush = f_flush,
	.recv_ready = f_recv_ready,
	.peer_event = f_peer_event,
	.resolve = f_resolve,
	.random64 = f_random64,
	.stun_resolve = f_resolve,
};

static struct nbaddr
mkaddr(const char *text)
{
	struct nbaddr	a;

	if (addr_parse(text, &a, NULL, 0, NULL) != 0)
		abort();
	return a;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_init(LOG_CRIT, 1);		/* quiet: no state change lines */
	B.addr = mkaddr("10.0.0.1:1000");
	C.addr = mkaddr("10.0.0.2:2000");
	X[0] = mkaddr("10.0.0.3:3000");
	X[1] = mkaddr("[fd00::4]:4000");
	X[2] = mkaddr("10.0.0.2:2001");	/* C rebound by a NAT */
	return 0;
}

/* The input, consumed from the front. */
struct in {
	const uint8_t	*p;
	size_t		 left;
};

static uint8_t
in_u8(struct in *in)
{
	if (in->left == 0)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t
in_u16(struct in *in)
{
	uint16_t	v = in_u8(in);

	return (uint16_t)(v << 8 | in_u8(in));
}

/* A parsed frame re-encodes to the same bytes. */
static void
check_roundtrip(const uint8_t *buf, size_t len, uint64_t maxmsg)
{
	struct frame	f;
	uint8_t		hdr[FRAME_DATA_HDR_SIZE + 8];

	if (frame_parse(buf, len, maxmsg, &f) != DROP_NONE)
		return;
	switch (f.kind) {
	case FK_DATA:
		CHECK(len == (size_t)FRAME_DATA_HDR_SIZE + f.chunk_size);
		CHECK(f.part_index < f.part_count);
		CHECK((uint64_t)f.chunk_offset + f.chunk_size <= f.part_size);
		CHECK(f.part_size <= f.message_size);
		CHECK(f.message_size <= maxmsg);
		CHECK(frame_put_data_hdr(hdr, &f) == FRAME_DATA_HDR_SIZE);
		CHECK(memcmp(hdr, buf, FRAME_DATA_HDR_SIZE) == 0);
		break;
	case FK_ACK:
		CHECK(frame_put_ack(hdr, f.session, f.ack) ==
		    FRAME_HDR_SIZE + 8);
		CHECK(memcmp(hdr, buf, FRAME_HDR_SIZE + 8) == 0);
		break;
	case FK_HELLO:
		CHECK(frame_put_hello(hdr, f.session, f.ext_flags,
		    f.ext_frame_size) == FRAME_HELLO_SIZE);
		memcpy(hdr + 14, buf + 14, 2);	/* ext_version: any but 0 */
		CHECK(memcmp(hdr, buf, FRAME_HELLO_SIZE) == 0);
		break;
	case FK_BATCH: {
		struct frame		 e;
		const uint8_t		*entry;
		size_t			 off = 0, elen, total = FRAME_HDR_SIZE;
		enum drop_reason	 why;
		uint32_t		 n = 0;

		CHECK(f.nentries > 0);
		while (frame_next_entry(&f, &off, maxmsg, &e, &entry, &elen,
		    &why)) {
			n++;
			total += FRAME_ENTRY_LEN_SIZE + elen;
			CHECK(elen >= FRAME_ENTRY_HDR_SIZE);
			CHECK(entry >= buf && entry + elen <= buf + len);
			if (why != DROP_NONE)
				continue;
			CHECK(elen == (size_t)FRAME_ENTRY_HDR_SIZE +
			    e.chunk_size);
			CHECK(e.part_index < e.part_count);
			CHECK(e.session == f.session);
			CHECK(frame_put_entry_hdr(hdr, &e) ==
			    FRAME_ENTRY_HDR_SIZE);
			CHECK(memcmp(hdr, entry, FRAME_ENTRY_HDR_SIZE) == 0);
		}
		CHECK(n == f.nentries);
		CHECK(total == len);
		break;
	}
	default:
		CHECK(frame_put_ctl(hdr, f.kind, f.session) == FRAME_HDR_SIZE);
		CHECK(memcmp(hdr, buf, FRAME_HDR_SIZE) == 0);
		break;
	}
}

static void
input(struct fnode *n, const struct nbaddr *from, const uint8_t *buf,
    size_t len)
{
	check_roundtrip(buf, len, n->s.o.max_message_size);
	sock_input(&n->s, now, from, buf, len);
}

static void
invariants(struct fnode *n)
{
	struct sock	*s = &n->s;
	struct peer	*p;
	struct msg	*m;
	uint64_t	 queued = s->norphans, inrq = 0, npeers = 0;

	TAILQ_FOREACH(p, &s->peers, entry) {
		uint64_t len = 0;

		/* Walked only while short: the walk is the fuzzer's cost. */
		if (p->sendq_len < 16) {
			TAILQ_FOREACH(m, &p->sendq, entry)
				len++;
			CHECK(len == p->sendq_len);
		}
		CHECK(sock_peer_by_id(s, p->session) == p);
		CHECK(sock_frame_size(s, p) <= s->ob.slot_size);
		CHECK(!p->ext || p->frame_size >= s->o.max_frame_size);
		queued += p->sendq_len;
		npeers++;
	}
	CHECK(npeers == s->npeers);
	CHECK(s->bt.p == NULL);		/* no Batch left open */
	CHECK(queued == s->queued);
	TAILQ_FOREACH(m, &s->rq, entry)
		if (m->nparts > 0)
			inrq++;
	CHECK(inrq == s->rq_len);
	CHECK(s->rq_len + s->nreasm <= s->o.recv_hwm);
	if (s->bound) {
		/*
		 * At max_peers a Connect from a live session's address still
		 * gets a session, which replaces the live one once confirmed
		 * (session_accept, issue 15): one may wait beside each.  If
		 * the live one moves away, the waiting one is refused when it
		 * confirms and is held in 2 x max_peers until its keepalive.
		 */
		uint64_t	 beside = 0;
		struct peer	*q;

		TAILQ_FOREACH(p, &s->peers, entry) {
			if (p->confirmed)
				continue;
			TAILQ_FOREACH(q, &s->peers, entry)
				if (q->confirmed && addr_eq(&q->addr, &p->addr))
					break;
			beside += q != NULL;
		}
		CHECK(s->nup <= s->o.max_peers);
		CHECK(s->npeers <= 2 * s->o.max_peers);
		CHECK(beside <= s->nup);
	} else {
		CHECK(s->npeers <= 1);
		if (s->link != LINK_IDLE)
			CHECK((s->link == LINK_UP) == (s->npeers == 1));
	}
}

static void
run_timers(struct fnode *n)
{
	nbmq_time	next = sock_timers(&n->s, now);

	CHECK(next > now);
	CHECK(sock_next_deadline(&n->s) == next);
	f_flush(n, &n->s);
}

static void
tick(struct fnode *n)
{
	for (int guard = 0; sock_tick(&n->s, now); guard++) {
		f_flush(n, &n->s);
		if (n->refuse || guard > 16)
			break;
	}
	f_flush(n, &n->s);
}

static void
drain(struct fnode *n)
{
	struct msg	*m;

	while ((m = sock_recv(&n->s)) != NULL) {
		if (m->nparts > 0) {
			uint64_t sum = 0;

			for (uint16_t i = 0; i < m->nparts; i++)
				sum += m->partsz[i];
			CHECK(sum == m->size);
			CHECK(m->peer != 0);
		} else
			CHECK(m->dropped > 0);
		msg_free(m);
	}
	CHECK(n->s.rq_len == 0);
}

/* Send what `from` sent to `to`'s address, steered by arg. */
static void
deliver(struct fnode *from, struct fnode *to, unsigned arg)
{
	struct fdgram	*d;
	int		 nout = from->nout;
	const struct nbaddr *src = (arg & 8) && from == &C ? &X[2] :
			    &from->addr;

	for (int k = 0; k < nout; k++) {
		int i = (arg & 4) ? nout - 1 - k : k;

		d = &from->out[i];
		/* C behind its NAT is still C. */
		if (!addr_eq(&d->to, &to->addr) &&
		    !(to == &C && addr_eq(&d->to, &X[2])))
			continue;
		if ((arg & 1) && (k & 1))
			continue;	/* lost */
		input(to, src, d->buf, d->len);
		if (arg & 2)
			input(to, src, d->buf, d->len);	/* duplicated */
		f_flush(to, &to->s);
	}
	/* Everything else is lost; what `to` sent waits for its turn. */
	from->nout = 0;
}

static void
do_send(struct fnode *n, unsigned arg, struct in *in)
{
	uint32_t	 sizes[4], size = 0;
	uint16_t	 nparts = (uint16_t)(1 + ((arg >> 1) & 3));
	uint32_t	 mult = (arg & 16) ? 17 : 1;
	struct msg	*m;
	struct peer	*p;

	for (uint16_t i = 0; i < nparts; i++) {
		sizes[i] = in_u8(in) * mult;
		size += sizes[i];
	}
	if ((m = msg_new(nparts, size)) == NULL)
		return;
	memcpy(m->partsz, sizes, nparts * sizeof(uint32_t));
	memset(m->data, (int)(size & 0xff), size);
	if (arg & 8) {
		unsigned k = in_u8(in);

		m->peer = k;		/* an unknown id unless found below */
		TAILQ_FOREACH(p, &n->s.peers, entry)
			if (k-- == 0) {
				m->peer = p->session;
				break;
			}
	}
	(void)sock_send(&n->s, m, now, (arg & 16) != 0);
	(void)sock_send_room(&n->s);
	(void)sock_has_output(&n->s);
	tick(n);
}

static void
node_init(struct fnode *n, int type, const struct sockopts *o)
{
	n->nout = 0;
	n->refuse = 0;
	n->ids = 0;
	if (sock_init(&n->s, type, o, &f_ops, n) != 0)
		abort();
	n->inited = 1;
}

static uint64_t
drops(const struct sock *s)
{
	uint64_t	t = 0;

	for (int i = 0; i < DROP_NREASONS; i++)
		t += s->st.drops[i];
	return t;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int	 trace = -1;
	static const int types[4] = { NBMQ_DEALER, NBMQ_SAFE_DEALER,
	    NBMQ_RADIO, NBMQ_DISH };
	struct in	 in = { data, size };
	struct sockopts	 o;
	uint8_t		 h = in_u8(&in);
	static uint8_t	 buf[65536];

	if (trace == -1)
		trace = getenv("FUZZ_FRAME_TRACE") != NULL;
	opts_defaults(&o);
	o.max_peers = 4;
	o.send_hwm = 8;
	o.recv_hwm = (h & 0x20) ? 4 : 32;
	o.max_frame_size = (h & 0x10) ? 64 : 500;
	o.max_message_size = (h & 0x80) ? 2048 : 1 << 16;
	o.safe_resend_limit = 3;
	o.max_tick_send = 16;	/* many ticks rather than long ones */
	now = 1000 * NSEC;

	node_init(&C, types[(h >> 2) & 3], &o);
	o.coalesce = (h & 0x40) == 0;
	o.pacing = o.coalesce;
	node_init(&B, types[h & 3], &o);
	/* Both ids counters start apart: B's sessions and C's are distinct. */
	C.ids = 1000;
	sock_set_bound(&B.s);
	if (h & 0x40)
		sock_connect_name(&C.s, now);
	else
		sock_set_remote(&C.s, &B.addr, now);
	f_flush(&C, &C.s);

	for (int ops = 0; in.left > 0 && ops < MAXOPS; ops++) {
		uint8_t		 op = in_u8(&in);
		unsigned	 arg = op >> 3;
		size_t		 len;

		switch (op & 7) {
		case 0:
		case 1: {
			struct fnode *to = (op & 7) == 0 ? &B : &C;
			const struct nbaddr *from = (arg & 3) == 0 ?
			    ((op & 7) == 0 ? &C.addr : &B.addr) :
			    &X[(arg & 3) - 1];

			len = in_u16(&in);
			if (len > in.left)
				len = in.left;
			memcpy(buf, in.p, len);
			in.p += len;
			in.left -= len;
			input(to, from, buf, len);
			f_flush(to, &to->s);
			break;
		}
		case 2: {
			uint8_t v = in_u8(&in);

			now += v < 200 ? v * 5 * MSEC : (v - 199) * NSEC;
			run_timers(&B);
			run_timers(&C);
			break;
		}
		case 3:
			do_send((arg & 1) ? &B : &C, arg, &in);
			break;
		case 4:
			tick(&B);
			tick(&C);
			break;
		case 5:
			deliver(&C, &B, arg);
			deliver(&B, &C, arg & 7);
			break;
		case 6:
			drain(&B);
			drain(&C);
			break;
		case 7:
			switch (arg & 3) {
			case 0:
				B.refuse = !B.refuse;
				break;
			case 1:
				C.refuse = !C.refuse;
				break;
			default:
				sock_set_remote(&C.s, &B.addr, now);
				f_flush(&C, &C.s);
				break;
			}
			break;
		}
		invariants(&B);
		invariants(&C);
		if (trace)
			fprintf(stderr, "op %d kind %d arg %u: B peers %u rq %llu "
			    "rx %llu | C %s rq %llu rx %llu | drops B %llu "
			    "C %llu\n", ops, op & 7, arg, B.s.npeers,
			    (unsigned long long)B.s.rq_len,
			    (unsigned long long)B.s.st.rx_msgs,
			    link_state_names[C.s.link],
			    (unsigned long long)C.s.rq_len,
			    (unsigned long long)C.s.st.rx_msgs,
			    (unsigned long long)drops(&B.s),
			    (unsigned long long)drops(&C.s));
	}
	sock_destroy(&B.s);
	sock_destroy(&C.s);
	return 0;
}
