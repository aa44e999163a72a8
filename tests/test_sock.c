/* SPDX-License-Identifier: ISC */
/*
 * test_sock.c: unit tests of sock.c (with safe.c): the dealer's sending
 * (queues, round robin, fairness, high-water marks, a full kernel), its
 * receiving (reassembly, duplicates, the receive high-water marks), faults
 * (allocations that fail, the safe dealer's resends and dedup, memory
 * limits) and deadlines.  The session table and its state machine are
 * test_session.c's.
 *
 * The fake network, clock and ops are tests/fakenet.c's.  These sockets
 * have coalesce = no and pacing = no: what is tested here is the v0.2.0
 * protocol, byte for byte what a v0.2.0 peer sees.  The extension
 * (PROTOCOL.md 4.3, the default between two nbmq daemons) has its own
 * tests in tests/test_ext.c.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "fakenet.h"

#define MAXCHUNK	(500 - FRAME_DATA_HDR_SIZE)

/* A dealer at addr, v0.2.0 frames (see the top). */
static struct node *
node_new(const char *addr, int bound)
{
	return node_new_plain(addr, NBMQ_DEALER, bound, NULL);
}


/*
 * Dealer: sending
 */

START_TEST(test_dealer_send_queues_tick_in_order)
{
	static const uint32_t s0[] = { 1000 }, s1[] = { 0, 5 };
	static const uint32_t s2[] = { 466, 467 };
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct peer	*p;
	struct frame	 f;
	uint64_t	 id, msgid0 = 0;
	/* Every frame's (msg, part, offset, chunk), as a sender cuts them. */
	static const uint32_t want[][4] = {
		{ 0, 0, 0, 466 }, { 0, 0, 466, 466 }, { 0, 0, 932, 68 },
		{ 1, 0, 0, 0 }, { 1, 1, 0, 5 },
		{ 2, 0, 0, 466 }, { 2, 1, 0, 466 }, { 2, 1, 466, 1 },
	};

	id = handshake(b, c, T0);
	p = only_peer(c);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(0, 1, s0), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(1, 2, s1), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(2, 2, s2), T0, 0), 0);
	/* Queued, nothing sent before the tick. */
	ck_assert_uint_eq(p->sendq_len, 3);
	ck_assert_uint_eq(c->s.queued, 3);
	ck_assert(sock_has_output(&c->s));
	ck_assert_uint_eq(sock_send_room(&c->s), c->s.o.send_hwm - 3);
	flush(c);
	ck_assert_uint_eq(c->nout, 0);
	ck_assert_int_eq(sock_tick(&c->s, T0 + MSEC), 0);
	flush(c);
	ck_assert_uint_eq(c->nout, 8);
	for (size_t i = 0; i < c->nout; i++) {
		ck_assert(addr_eq(&c->out[i].to, &b->addr));
		ck_assert_int_eq(frame_parse(c->out[i].buf, c->out[i].len,
		    c->s.o.max_message_size, &f), DROP_NONE);
		ck_assert_int_eq(f.kind, FK_DATA);
		ck_assert_uint_eq(f.session, id);
		if (i == 0)
			msgid0 = f.msgid;
		ck_assert_uint_eq(f.msgid, msgid0 + want[i][0]);
		ck_assert_uint_eq(f.part_index, want[i][1]);
		ck_assert_uint_eq(f.chunk_offset, want[i][2]);
		ck_assert_uint_eq(f.chunk_size, want[i][3]);
		ck_assert_uint_le(c->out[i].len, c->s.o.max_frame_size);
	}
	ck_assert_uint_eq(p->sendq_len, 0);
	ck_assert_uint_eq(c->s.queued, 0);
	ck_assert(!sock_has_output(&c->s));
	ck_assert_uint_eq(c->s.st.tx_msgs, 3);
	ck_assert_uint_eq(p->st.tx_bytes, 1000 + 5 + 933);
	ck_assert_uint_eq(p->last_sent, T0 + MSEC);
	ck_assert_int_eq(pass(c, b, T0 + MSEC), 8);
	recv_check(b, id, 0, 1, s0);
	recv_check(b, id, 1, 2, s1);
	recv_check(b, id, 2, 2, s2);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_int_eq(b->recv_ready, 1);
	ck_assert_uint_eq(total_drops(&b->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_dealer_round_robin_3_peers)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct node	*c[3];
	uint64_t	 id[3];
	struct msg	*m;

	c[0] = node_new("10.0.0.2:2000", 0);
	c[1] = node_new("10.0.0.3:3000", 0);
	c[2] = node_new("10.0.0.4:4000", 0);
	for (int i = 0; i < 3; i++)
		id[i] = handshake(b, c[i], T0);
	for (uint32_t i = 0; i < 9; i++)
		ck_assert_int_eq(sock_send(&b->s, mkmsg1(i, 10 + i), T0, 0), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_eq(sock_peer_by_id(&b->s, id[i])->sendq_len, 3);
	tick(b, T0);
	ck_assert_uint_eq(b->nout, 9);
	for (int k = 0; k < 3; k++) {
		ck_assert_int_eq(pass(b, c[k], T0), 3);
		for (uint32_t i = k; i < 9; i += 3)
			recv_check1(c[k], id[k], i, 10 + i);
		ck_assert_ptr_null(sock_recv(&c[k]->s));
	}
	/* One peer leaves: the others share. */
	inject_ctl(b, T0, &c[1]->addr, FK_DISCONNECTED, id[1]);
	ck_assert_uint_eq(b->s.npeers, 2);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(sock_send(&b->s, mkmsg1(i, 1), T0, 0), 0);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[0])->sendq_len, 2);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[2])->sendq_len, 2);
	/* A message for one peer goes there, round robin or not. */
	m = mkmsg1(50, 1);
	m->peer = id[2];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[2])->sendq_len, 3);
	m = mkmsg1(51, 1);
	m->peer = id[1];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), EHOSTUNREACH);
	node_free(b);
	for (int i = 0; i < 3; i++)
		node_free(c[i]);
}
END_TEST

START_TEST(test_dealer_send_hwm)
{
	struct sockopts	 o;
	struct node	*b, *c[3];
	uint64_t	 id[3];
	struct msg	*m;

	opts_defaults(&o);
	o.send_hwm = 2;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	c[0] = node_new("10.0.0.2:2000", 0);
	c[1] = node_new("10.0.0.3:3000", 0);
	c[2] = node_new("10.0.0.4:4000", 0);
	for (int i = 0; i < 3; i++)
		id[i] = handshake(b, c[i], T0);
	ck_assert_uint_eq(sock_send_room(&b->s), 6);
	for (uint32_t i = 0; i < 6; i++) {
		ck_assert_int_eq(sock_send(&b->s, mkmsg1(i, 10), T0, 0), 0);
		ck_assert_uint_eq(sock_send_room(&b->s), 5 - i);
	}
	/* Everyone at send_hwm. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(6, 10), T0, 0), EAGAIN);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_uint_eq(b->s.queued, 6);
	m = mkmsg1(7, 10);
	m->peer = id[1];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), EAGAIN);
	/* Credit granted earlier: force goes over it. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(8, 10), T0, 1), 0);
	m = mkmsg1(9, 10);
	m->peer = id[1];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 1), 0);
	ck_assert_uint_eq(b->s.queued, 8);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[1])->sendq_len, 3);
	/* Forced without a peer: the least loaded one takes it. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(10, 10), T0, 1), 0);
	ck_assert_uint_eq(sock_peer_by_id(&b->s, id[2])->sendq_len, 3);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(11, 10), T0, 1), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_uint_le(sock_peer_by_id(&b->s, id[i])->sendq_len, 4);
	tick(b, T0);
	ck_assert_uint_eq(b->nout, 10);
	ck_assert_uint_eq(sock_send_room(&b->s), 6);
	ck_assert_uint_eq(b->s.queued, 0);
	node_free(b);
	for (int i = 0; i < 3; i++)
		node_free(c[i]);
}
END_TEST

START_TEST(test_dealer_no_peer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);

	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 1), T0, 0), EHOSTUNREACH);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 1), T0, 1), EHOSTUNREACH);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1), T0, 0), EHOSTUNREACH);
	sock_set_remote(&c->s, &b->addr, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1), T0, 0), EHOSTUNREACH);
	ck_assert_uint_eq(sock_send_room(&c->s), 0);
	ck_assert_uint_eq(b->s.queued + c->s.queued, 0);
	ck_assert(!sock_has_output(&b->s));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_dish_cannot_send)
{
	struct node	*b = node_new_plain(B_ADDR, NBMQ_DISH, 1, NULL);
	struct node	*c = node_new(C_ADDR, 0);
	uint64_t	 id;

	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 1), T0, 0), ENOTSUP);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 1), T0, 1), ENOTSUP);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	/* It receives. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 700), T0, 0), 0);
	tick(c, T0);
	pass(c, b, T0);
	recv_check1(b, id, 2, 700);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_send_too_big)
{
	struct sockopts	 o;
	struct node	*b = node_new(B_ADDR, 1), *c;

	opts_defaults(&o);
	o.max_message_size = 1000;
	c = node_new_plain(C_ADDR, NBMQ_DEALER, 0, &o);
	handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1001), T0, 0), EMSGSIZE);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), T0, 0), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_radio_sends_to_all)
{
	struct node	*b = node_new_plain(B_ADDR, NBMQ_RADIO, 1, NULL);
	struct node	*c[3];
	uint64_t	 id[3];
	static const uint32_t sz[] = { 3, 0, 600 };

	for (int i = 0; i < 3; i++) {
		char text[32];

		snprintf(text, sizeof(text), "10.0.0.%d:2000", i + 2);
		c[i] = node_new(text, 0);
		id[i] = handshake(b, c[i], T0);
	}
	ck_assert_int_eq(sock_send(&b->s, mkmsg(5, 3, sz), T0, 0), 0);
	ck_assert_uint_eq(b->s.queued, 3);
	tick(b, T0);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(pass(b, c[i], T0), 4);
		recv_check(c[i], id[i], 5, 3, sz);
	}
	/* A radio receives nothing. */
	ck_assert_int_eq(sock_send(&c[0]->s, mkmsg1(1, 1), T0, 0), 0);
	tick(c[0], T0);
	pass(c[0], b, T0);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.st.drops[DROP_NO_RECV], 1);
	node_free(b);
	for (int i = 0; i < 3; i++)
		node_free(c[i]);
}
END_TEST

START_TEST(test_drr_fairness)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct node	*ca = node_new("10.0.0.2:2000", 0);
	struct node	*cb = node_new("10.0.0.3:3000", 0);
	uint64_t	 ida, idb;
	struct msg	*m;
	int		 pos = -1;
	size_t		 before;

	ida = handshake(b, ca, T0);
	idb = handshake(b, cb, T0);
	/* A: 100 big messages first, then B: one small. */
	for (uint32_t i = 0; i < 100; i++) {
		m = mkmsg1(i, 5000);
		m->peer = ida;
		ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	}
	m = mkmsg1(1000, 10);
	m->peer = idb;
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_int_eq(sock_tick(&b->s, T0), 1);	/* 1000 of 1100 */
	flush(b);
	ck_assert_uint_eq(b->nout, b->s.o.max_tick_send);
	for (size_t i = 0; i < b->nout; i++)
		if (addr_eq(&b->out[i].to, &cb->addr)) {
			ck_assert_int_eq(pos, -1);
			pos = (int)i;
		}
	ck_assert_int_ge(pos, 0);
	ck_assert_int_lt(pos, 2);
	ck_assert_int_eq(pass(b, cb, T0), 1);
	recv_check1(cb, idb, 1000, 10);

	/*
	 * B joins while A is busy.  A may carry up to one frame's worth of
	 * deficit into the round: at most two of its frames go before B's.
	 */
	before = b->nout;
	m = mkmsg1(1001, 300);
	m->peer = idb;
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_int_eq(sock_tick(&b->s, T0), 0);
	flush(b);
	pos = -1;
	for (size_t i = before; i < b->nout; i++)
		if (addr_eq(&b->out[i].to, &cb->addr))
			pos = (int)(i - before);
	ck_assert_int_ge(pos, 0);
	ck_assert_int_lt(pos, 3);
	ck_assert_int_eq(pass(b, cb, T0), 1);
	recv_check1(cb, idb, 1001, 300);
	/* And A gets everything, in order. */
	pass(b, ca, T0);
	for (uint32_t i = 0; i < 100; i++)
		recv_check1(ca, ida, i, 5000);
	node_free(b);
	node_free(ca);
	node_free(cb);
}
END_TEST

START_TEST(test_drr_three_peers)
{
	/*
	 * Three peers, A with 100 times the backlog of B and C (100 messages
	 * of 10 frames against one each): B's and C's frames all leave in
	 * the first three rounds of the tick, interleaved with A's.
	 */
	struct node	*b = node_new(B_ADDR, 1), *c[3];
	uint64_t	 id[3];
	struct msg	*m;
	int		 last[3] = { -1, -1, -1 }, count[3] = { 0, 0, 0 };

	for (int k = 0; k < 3; k++) {
		char	addr[32];

		snprintf(addr, sizeof(addr), "10.0.0.%d:%d", 2 + k, 2000 + k);
		c[k] = node_new(addr, 0);
		id[k] = handshake(b, c[k], T0);
	}
	for (uint32_t i = 0; i < 100; i++) {
		m = mkmsg1(i, 466 * 10);
		m->peer = id[0];
		ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	}
	for (int k = 1; k < 3; k++) {
		m = mkmsg1(500 + (uint32_t)k, 466 * 10);
		m->peer = id[k];
		ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	}
	ck_assert_int_eq(sock_tick(&b->s, T0), 1);
	flush(b);
	ck_assert_uint_eq(b->nout, b->s.o.max_tick_send);
	for (size_t i = 0; i < b->nout; i++)
		for (int k = 0; k < 3; k++)
			if (addr_eq(&b->out[i].to, &c[k]->addr)) {
				last[k] = (int)i;
				count[k]++;
			}
	ck_assert_int_eq(count[1], 10);
	ck_assert_int_eq(count[2], 10);
	ck_assert_int_lt(last[1], 30);
	ck_assert_int_lt(last[2], 30);
	ck_assert_int_eq(count[0], (int)b->s.o.max_tick_send - 20);
	for (int k = 1; k < 3; k++) {
		ck_assert_int_eq(pass(b, c[k], T0), 10);
		recv_check1(c[k], id[k], 500 + (uint32_t)k, 466 * 10);
	}
	node_free(b);
	for (int k = 0; k < 3; k++)
		node_free(c[k]);
}
END_TEST

START_TEST(test_drr_equal_share)
{
	/* Two busy peers with equal frames alternate. */
	struct sockopts	 o;
	struct node	*b, *ca, *cb;
	struct msg	*m;
	uint64_t	 ida, idb;
	int		 na = 0, nb = 0;

	opts_defaults(&o);
	o.max_tick_send = 100;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	ca = node_new("10.0.0.2:2000", 0);
	cb = node_new("10.0.0.3:3000", 0);
	ida = handshake(b, ca, T0);
	idb = handshake(b, cb, T0);
	for (uint32_t i = 0; i < 20; i++) {
		m = mkmsg1(i, 466 * 10);
		m->peer = i < 10 ? ida : idb;
		ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	}
	ck_assert_int_eq(sock_tick(&b->s, T0), 1);
	flush(b);
	ck_assert_uint_eq(b->nout, 100);
	for (size_t i = 0; i < b->nout; i++) {
		int to_a = addr_eq(&b->out[i].to, &ca->addr);

		ck_assert_int_eq(to_a, i % 2 == 0);
		if (to_a)
			na++;
		else
			nb++;
	}
	ck_assert_int_eq(na, 50);
	ck_assert_int_eq(nb, 50);
	node_free(b);
	node_free(ca);
	node_free(cb);
}
END_TEST

START_TEST(test_max_tick_send)
{
	struct sockopts	 o;
	struct node	*b = node_new(B_ADDR, 1), *c;
	uint64_t	 id;
	int		 ticks = 0, more;

	opts_defaults(&o);
	o.max_tick_send = 7;
	c = node_new_plain(C_ADDR, NBMQ_DEALER, 0, &o);
	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 10; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
	do {
		size_t before = c->nout;

		more = sock_tick(&c->s, T0);
		flush(c);
		ticks++;
		ck_assert_uint_eq(c->nout - before, more ? 7 : 30 % 7);
	} while (more);
	ck_assert_int_eq(ticks, 5);
	ck_assert_uint_eq(c->nout, 30);
	ck_assert(!sock_has_output(&c->s));
	pass(c, b, T0);
	for (uint32_t i = 0; i < 10; i++)
		recv_check1(b, id, i, 1000);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_tick_kernel_full)
{
	/* More frames than outbox slots, and a kernel that stops taking. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;
	int		 flushes;

	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 50; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
	c->refuse = 1;
	flushes = c->flushes;
	ck_assert_int_eq(sock_tick(&c->s, T0), 1);
	ck_assert_int_gt(c->flushes, flushes);
	ck_assert_int_eq(c->s.ob.n, OUTBOX_SLOTS);
	ck_assert(sock_has_output(&c->s));
	ck_assert_int_eq(sock_tick(&c->s, T0), 1);	/* still full */
	ck_assert_int_eq(c->s.ob.n, OUTBOX_SLOTS);
	c->refuse = 0;
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 150);
	ck_assert(!sock_has_output(&c->s));
	pass(c, b, T0);
	for (uint32_t i = 0; i < 50; i++)
		recv_check1(b, id, i, 1000);
	ck_assert_uint_eq(total_drops(&c->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_tick_kernel_partial)
{
	/* The kernel takes a few datagrams a time: nothing lost, in order. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;
	int		 rounds = 0;

	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 50; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
	c->accept = 7;
	while (sock_tick(&c->s, T0) || c->s.ob.n > 0) {
		flush(c);
		ck_assert_int_lt(++rounds, 1000);
	}
	ck_assert_uint_eq(c->nout, 150);
	pass(c, b, T0);
	for (uint32_t i = 0; i < 50; i++)
		recv_check1(b, id, i, 1000);
	ck_assert_uint_eq(total_drops(&b->s) + total_drops(&c->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_radio_send_hwm)
{
	/* A radio's room is the smallest over its peers; a full peer */
	/* misses the message, the others get it. */
	struct sockopts	 o;
	struct node	*b, *c[2];
	uint64_t	 id[2];
	struct msg	*m;

	opts_defaults(&o);
	o.send_hwm = 2;
	b = node_new_plain(B_ADDR, NBMQ_RADIO, 1, &o);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	c[0] = node_new("10.0.0.2:2000", 0);
	c[1] = node_new("10.0.0.3:3000", 0);
	for (int i = 0; i < 2; i++)
		id[i] = handshake(b, c[i], T0);
	ck_assert_uint_eq(sock_send_room(&b->s), 2);
	m = mkmsg1(1, 10);
	m->peer = id[0];
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_uint_eq(sock_send_room(&b->s), 1);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(2, 10), T0, 0), 0);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(3, 10), T0, 0), 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_SEND_FAILED], 1);
	tick(b, T0);
	ck_assert_int_eq(pass(b, c[0], T0), 2);
	ck_assert_int_eq(pass(b, c[1], T0), 2);
	recv_check1(c[0], id[0], 1, 10);
	recv_check1(c[0], id[0], 2, 10);
	ck_assert_ptr_null(sock_recv(&c[0]->s));
	recv_check1(c[1], id[1], 2, 10);
	recv_check1(c[1], id[1], 3, 10);
	node_free(b);
	node_free(c[0]);
	node_free(c[1]);
}
END_TEST

/*
 * Receiving
 */

/*
 * The free lists: a block given back is handed out again, at most max are
 * kept, and messages of every size (pooled or not, grown by reassembly's
 * realloc or not) hold their bytes and go back whole (ASan/valgrind).
 */
START_TEST(test_pool)
{
	struct pool	 pl = { .size = 64, .max = 2 };
	void		*b[3];
	struct msg	*m;
	uint32_t	 sizes[] = { 0, 64, 180, 200, 300, 4000, 70000 };
	uintptr_t	 shrunk;

	for (int i = 0; i < 3; i++) {
		ck_assert_ptr_nonnull(b[i] = pool_get(&pl));
		memset(b[i], 0xa5, pl.size);
	}
	ck_assert_uint_eq(pl.n, 0);
	for (int i = 0; i < 3; i++)
		pool_put(&pl, b[i]);
	if (pool_off) {				/* valgrind: all freed */
		ck_assert_uint_eq(pl.n, 0);
		ck_assert_ptr_null(pl.free);
	} else {
		ck_assert_uint_eq(pl.n, 2);	/* the third was freed */
		ck_assert_ptr_eq(pool_get(&pl), b[1]);	/* last kept first */
		ck_assert_ptr_eq(pool_get(&pl), b[0]);
		ck_assert_uint_eq(pl.n, 0);
		ck_assert_ptr_null(pl.free);
		pool_put(&pl, b[0]);
		pool_put(&pl, b[1]);
		pool_put(&pl, NULL);		/* like free(NULL) */
		ck_assert_uint_eq(pl.n, 2);
		while ((b[0] = pool_get(&pl)) != NULL && pl.n > 0)
			free(b[0]);
		free(b[0]);
	}

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		for (int i = 0; i < 3; i++) {
			ck_assert_ptr_nonnull(m = msg_new(2, sizes[k]));
			m->partsz[0] = m->partsz[1] = sizes[k] / 2;
			memset(m->data, i, sizes[k]);
			msg_free(m);
		}
	}
	/* Grown from a pooled block, then shrunk: malloc's again. */
	ck_assert_ptr_nonnull(m = msg_new(1, 8));
	ck_assert_ptr_nonnull(m = realloc(m, sizeof(*m) + 4 + 5000));
	memset(m + 1, 1, 4 + 5000);
	ck_assert_ptr_nonnull(m = realloc(m, sizeof(*m) + 4 + 8));
	m->refs = 1;
	shrunk = (uintptr_t)m;
	msg_free(m);
	/* The list is not empty (the loop above): it hands out its own. */
	ck_assert_ptr_nonnull(m = msg_new(1, 100));
	ck_assert_uint_ne((uintptr_t)m, shrunk);
	memset(m->data, 2, 100);
	msg_free(m);
}
END_TEST

/* msgring: FIFO order across wrap-around and growth; pop takes the newest. */
START_TEST(test_msgring)
{
	struct msgring	 r = { 0 };
	struct msg	*m;
	uint64_t	 next = 0, last = 0;

	ck_assert_ptr_null(msgring_shift(&r));
	ck_assert_ptr_null(msgring_pop(&r));
	for (int round = 0; round < 5; round++) {
		/* 50 in, 30 out: the ring wraps, then grows while wrapped. */
		for (int i = 0; i < 50 + round * 40; i++) {
			ck_assert_ptr_nonnull(m = msg_new(1, 0));
			m->id = last++;
			ck_assert_int_eq(msgring_push(&r, m), 0);
		}
		for (int i = 0; i < 30; i++) {
			ck_assert_ptr_nonnull(m = msgring_shift(&r));
			ck_assert_uint_eq(m->id, next++);
			msg_free(m);
		}
		ck_assert_uint_eq(r.len, last - next);
	}
	/* Newest first from the other end. */
	ck_assert_ptr_nonnull(m = msgring_pop(&r));
	ck_assert_uint_eq(m->id, --last);
	msg_free(m);
	ck_assert_ptr_nonnull(m = msgring_shift(&r));
	ck_assert_uint_eq(m->id, next++);
	msg_free(m);
	/* A shared message: the ring holds one reference of its own. */
	ck_assert_ptr_nonnull(m = msg_new(1, 0));
	ck_assert_int_eq(msgring_push(&r, msg_ref(m)), 0);
	msgring_free(&r);	/* frees the rest (ASan/valgrind: no leak) */
	ck_assert_uint_eq(r.len, 0);
	ck_assert_uint_eq(m->refs, 1);
	msg_free(m);
	ck_assert_ptr_null(msgring_shift(&r));
}
END_TEST

/*
 * Messages the shell took and holds for an application (rq_held) leave
 * room under recv_hwm (the shell bounds them on its own); given back
 * (sock_unrecv, newest first), they are received again first, in their
 * order, then what came meanwhile, the queue over recv_hwm until it
 * drains.
 */
START_TEST(test_recv_held_given_back)
{
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct msg	*m, *held[2];
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 3;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 2; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 2);
	for (int i = 0; i < 2; i++) {
		ck_assert_ptr_nonnull(held[i] = sock_recv(&b->s));
		b->s.rq_held++;		/* what ipc.c does */
	}
	ck_assert_uint_eq(b->s.rq_len, 0);
	ck_assert_uint_eq(sock_recv_count(&b->s), 0);
	/* Three more fit under recv_hwm 3; the next is dropped. */
	for (uint32_t i = 2; i < 6; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 4);
	ck_assert_uint_eq(b->s.rq_len, 3);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	/* The application went away: back at the head, in order. */
	b->recv_ready = 0;
	sock_unrecv(&b->s, held[1]);
	sock_unrecv(&b->s, held[0]);
	ck_assert_uint_eq(b->s.rq_held, 0);
	ck_assert_uint_eq(b->s.rq_len, 5);
	ck_assert_uint_eq(b->recv_ready, 0);	/* it was not empty */
	/* Over recv_hwm now: the next one is dropped. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(7, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 2);
	for (uint32_t i = 0; i < 5; i++)
		recv_check1(b, id, i, 10);
	ck_assert_ptr_nonnull(m = sock_recv(&b->s));	/* the drop marker */
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 2);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&b->s));
	/* An empty queue that gets one back says so (recv_ready). */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(9, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_ptr_nonnull(m = sock_recv(&b->s));
	b->s.rq_held++;
	b->recv_ready = 0;
	sock_unrecv(&b->s, m);
	ck_assert_int_eq(b->recv_ready, 1);
	recv_check1(b, id, 9, 10);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm)
{
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct peer	*bp;
	struct msg	*m;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 2;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	bp = only_peer(b);
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 3);
	ck_assert_uint_eq(b->s.rq_len, 2);
	ck_assert_uint_eq(sock_recv_count(&b->s), 2);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(bp->st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(b->s.drops_unreported, 1);
	ck_assert_int_eq(b->recv_ready, 1);
	recv_check1(b, id, 0, 10);
	recv_check1(b, id, 1, 10);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_ge(m->dropped, 1);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.drops_unreported, 0);
	ck_assert_uint_eq(sock_recv_count(&b->s), 0);

	/* Room again; then a 3-frame message over the hwm counts once, */
	/* and later drops join the marker at the end of the queue. */
	for (uint32_t i = 10; i < 15; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, i < 12 ? 10 :
		    1000), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 2 + 3 * 3);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 4);
	ck_assert_uint_eq(b->s.nreasm, 0);
	recv_check1(b, id, 10, 10);
	recv_check1(b, id, 11, 10);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 3);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_int_eq(b->recv_ready, 2);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm_counts_reassembly)
{
	/* Messages being reassembled hold room under recv_hwm too. */
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct msg	*m;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 2;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 9);
	/* The first frame of each: two start, the third is dropped. */
	for (int i = 0; i < 3; i++)
		sock_input(&b->s, T0, &c->addr, c->out[i * 3].buf,
		    c->out[i * 3].len);
	ck_assert_uint_eq(b->s.nreasm, 2);
	ck_assert_uint_eq(sock_recv_count(&b->s), 2);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	for (int i = 0; i < 2; i++)
		for (int k = 1; k < 3; k++)
			sock_input(&b->s, T0, &c->addr, c->out[i * 3 + k].buf,
			    c->out[i * 3 + k].len);
	ck_assert_uint_eq(b->s.nreasm, 0);
	/* The drop happened first: its marker comes first. */
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 1);
	msg_free(m);
	recv_check1(b, id, 0, 1000);
	recv_check1(b, id, 1, 1000);
	ck_assert_ptr_null(sock_recv(&b->s));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm_reordered_counted_once)
{
	/* Over recv_hwm, a message's frames in any order: one drop. */
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct msg	*m;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 1;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(0, 10), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 4);
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	for (int i = 3; i >= 1; i--)
		sock_input(&b->s, T0, &c->addr, c->out[i].buf, c->out[i].len);
	/* The first frame again (a resend): still the same drop. */
	sock_input(&b->s, T0, &c->addr, c->out[1].buf, c->out[1].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(b->s.nreasm, 0);
	recv_check1(b, id, 0, 10);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 1);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&b->s));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_reasm_ttl)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2] = { b, c };
	const nbmq_time	 ttl = b->s.o.uncompleted_message_ttl;
	const nbmq_time	 maint = b->s.o.queue_maint_ivl;
	nbmq_time	 now = T0, t1;
	uint64_t	 id;

	id = handshake(b, c, now);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
	now += 300 * MSEC;
	t1 = now;
	tick(c, now);
	ck_assert_uint_eq(c->nout, 3);
	/* Only the first frame arrives. */
	sock_input(&b->s, now, &c->addr, c->out[0].buf, c->out[0].len);
	flush(b);
	out_reset(c);
	ck_assert_uint_eq(b->s.nreasm, 1);
	ck_assert_uint_eq(sock_recv_count(&b->s), 1);
	ck_assert_uint_eq(b->s.maint_at, t1 + maint);
	ck_assert_uint_le(sock_next_deadline(&b->s), t1 + maint);
	/* The peer stays alive (heartbeats pass); the message waits... */
	now = run_until(nodes, 2, now, t1 + ttl - 1);
	ck_assert_uint_eq(b->s.nreasm, 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 0);
	/* ... until ttl after its last frame, give or take a maint run. */
	now = run_until(nodes, 2, now, t1 + ttl + maint);
	ck_assert_uint_eq(b->s.nreasm, 0);
	ck_assert_uint_eq(sock_recv_count(&b->s), 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(only_peer(b)->st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(b->s.maint_at, NBMQ_TIME_NEVER);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), only_peer(b));
	/* Nothing is left to maintain: only heartbeats remain. */
	ck_assert_uint_eq(sock_next_deadline(&b->s),
	    only_peer(b)->last_sent + b->s.o.peer_heartbeat_ivl);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * Fire and forget: a message overtaken by 16 newer incomplete ones from
 * its peer goes at once (reassembly_timeout), not after the TTL.
 */
START_TEST(test_reasm_overtaken)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	nbmq_time	 now = T0;

	handshake(b, c, now);
	for (int i = 0; i < 17; i++) {
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
		tick(c, now);
		ck_assert_uint_eq(c->nout, 3);
		/* The first frame of each, then the rest held back. */
		sock_input(&b->s, now, &c->addr, c->out[0].buf,
		    c->out[0].len);
		out_reset(c);
		ck_assert_uint_eq(b->s.nreasm, i < 16 ? i + 1 : 16);
	}
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(only_peer(b)->st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(only_peer(b)->nreasms, 16);
	ck_assert_ptr_null(sock_recv(&b->s));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_reasm_ttl_refreshed_by_frames)
{
	/* Each frame restarts the message's ttl. */
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct node	*nodes[2];
	struct dgram	 held[3];
	nbmq_time	 now = T0;
	uint64_t	 id;

	opts_defaults(&o);
	o.uncompleted_message_ttl = 2 * NSEC;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	nodes[0] = b;
	nodes[1] = c;
	id = handshake(b, c, now);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
	tick(c, now);
	ck_assert_uint_eq(c->nout, 3);
	memcpy(held, c->out, sizeof(held));	/* held back by the network */
	c->nout = 0;
	for (int i = 0; i < 3; i++) {
		sock_input(&b->s, now, &c->addr, held[i].buf, held[i].len);
		flush(b);
		free(held[i].buf);
		if (i < 2) {
			now = run_until(nodes, 2, now,
			    now + o.uncompleted_message_ttl - 1);
			ck_assert_uint_eq(b->s.nreasm, 1);
		}
	}
	recv_check1(b, id, 1, 1000);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_reasm_ttl_bad_frame_keeps_order)
{
	/*
	 * A frame that conflicts with a message is dropped and is no sign
	 * of life: the message still expires ttl after its last good frame,
	 * even when other messages started later.
	 */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2] = { b, c };
	const nbmq_time	 ttl = b->s.o.uncompleted_message_ttl;
	const nbmq_time	 maint = b->s.o.queue_maint_ivl;
	struct dgram	 held[6];
	struct frame	 f;
	nbmq_time	 now = T0;
	uint8_t		 bad[FRAME_DATA_HDR_SIZE + 10];

	handshake(b, c, now);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 1000), now, 0), 0);
	tick(c, now);
	ck_assert_uint_eq(c->nout, 6);
	memcpy(held, c->out, sizeof(held));
	c->nout = 0;
	/* m1's first frame at T0, m2's at T0 + 5 s. */
	sock_input(&b->s, now, &c->addr, held[0].buf, held[0].len);
	now = run_until(nodes, 2, now, T0 + 5 * NSEC);
	sock_input(&b->s, now, &c->addr, held[3].buf, held[3].len);
	ck_assert_uint_eq(b->s.nreasm, 2);
	/* At T0 + 6 s, a frame of m1 that disagrees with it. */
	now = run_until(nodes, 2, now, T0 + 6 * NSEC);
	ck_assert_int_eq(frame_parse(held[0].buf, held[0].len,
	    b->s.o.max_message_size, &f), DROP_NONE);
	f.message_size += 1;
	f.part_size += 1;
	f.chunk_size = 10;
	frame_put_data_hdr(bad, &f);
	memset(bad + FRAME_DATA_HDR_SIZE, 0, 10);
	sock_input(&b->s, now, &c->addr, bad, sizeof(bad));
	ck_assert_uint_eq(b->s.st.drops[DROP_INCONSISTENT], 1);
	/* m1 goes by T0 + ttl + maint, m2 stays. */
	now = run_until(nodes, 2, now, T0 + ttl + maint);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 1);
	ck_assert_uint_eq(b->s.nreasm, 1);
	now = run_until(nodes, 2, now, T0 + 5 * NSEC + ttl + maint);
	ck_assert_uint_eq(b->s.st.drops[DROP_REASM_TIMEOUT], 2);
	ck_assert_uint_eq(b->s.nreasm, 0);
	for (int i = 0; i < 6; i++)
		free(held[i].buf);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm_dropped_message_tail)
{
	/*
	 * The rest of a message dropped at recv_hwm arrives after the app
	 * made room: it is part of the dropped message, it must not hold
	 * room that the next complete message needs.
	 */
	struct sockopts	 o;
	struct node	*b, *c = node_new(C_ADDR, 0);
	struct msg	*m;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 1;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(0, 10), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 1 + 3 + 1);
	/* m0 fills the queue, m1's first frame is dropped. */
	for (int i = 0; i < 2; i++)
		sock_input(&b->s, T0, &c->addr, c->out[i].buf, c->out[i].len);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	/* The app reads m0 and the drop report. */
	recv_check1(b, id, 0, 10);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->dropped, 1);
	msg_free(m);
	/* Then m1's tail and m2. */
	for (int i = 2; i < 5; i++)
		sock_input(&b->s, T0, &c->addr, c->out[i].buf, c->out[i].len);
	out_reset(c);
	recv_check1(b, id, 2, 10);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(b->s.nreasm, 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_duplicate_message_delivered_once)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;

	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 1);
	/* The network duplicates the datagram. */
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.rq_len, 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_DUPLICATE], 1);
	recv_check1(b, id, 1, 100);
	ck_assert_ptr_null(sock_recv(&b->s));
	/* Also after the app took it, and for a multi-frame message. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 1000), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 3);
	for (int round = 0; round < 2; round++)
		for (size_t i = 0; i < c->nout; i++)
			sock_input(&b->s, T0, &c->addr, c->out[i].buf,
			    c->out[i].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.st.drops[DROP_DUPLICATE], 1 + 3);
	recv_check1(b, id, 2, 1000);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.nreasm, 0);
	ck_assert_uint_eq(b->s.st.rx_msgs, 2);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_interleaved_and_reordered)
{
	/* Frames of two messages, mixed and reversed: both complete. */
	static const uint32_t s1[] = { 1000, 0, 20 }, s2[] = { 5, 1400 };
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;

	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(1, 3, s1), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg(2, 2, s2), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 5 + 5);
	for (size_t i = c->nout; i-- > 0;)
		sock_input(&b->s, T0, &c->addr, c->out[i].buf, c->out[i].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.nreasm, 0);
	recv_check(b, id, 2, 2, s2);
	recv_check(b, id, 1, 3, s1);
	ck_assert_uint_eq(total_drops(&b->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

/* The 10,000-message exchange */

static int
gen(uint32_t seed, uint32_t *sizes)
{
	uint64_t	z = seed * 0x9e3779b97f4a7c15ULL + 12345;
	int		nparts;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	nparts = 1 + (int)(z % 5);
	for (int i = 0; i < nparts; i++) {
		z = z * 6364136223846793005ULL + 1442695040888963407ULL;
		switch ((z >> 33) % 8) {
		case 0: sizes[i] = 0; break;
		case 1: sizes[i] = 1; break;
		case 2: sizes[i] = 465; break;
		case 3: sizes[i] = 466; break;
		case 4: sizes[i] = 467; break;
		default: sizes[i] = (uint32_t)(z >> 40) % 2000; break;
		}
	}
	if (seed % 500 == 7)
		sizes[0] = 70000;
	return nparts;
}

START_TEST(test_exchange_10000)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2] = { b, c };
	const uint32_t	 total = 10000, batch = 150;
	uint32_t	 sent_c = 0, sent_b = 0, got_b = 0, got_c = 0;
	uint32_t	 sizes[8];
	nbmq_time	 now = T0;
	uint64_t	 id, bytes = 0;
	struct msg	*m;
	int		 n;

	id = handshake(b, c, now);
	while (got_b + got_c < total) {
		/* c sends even seeds, b odd ones. */
		for (uint32_t k = 0; k < batch && sent_c < total / 2; k++) {
			uint32_t seed = 2 * sent_c++;

			n = gen(seed, sizes);
			REQUIRE(sock_send(&c->s, mkmsg(seed, n, sizes), now,
			    0) == 0);
		}
		for (uint32_t k = 0; k < batch && sent_b < total / 2; k++) {
			uint32_t seed = 2 * sent_b++ + 1;

			n = gen(seed, sizes);
			REQUIRE(sock_send(&b->s, mkmsg(seed, n, sizes), now,
			    0) == 0);
		}
		tick(c, now);
		tick(b, now);
		net(nodes, 2, now);
		while ((m = sock_recv(&b->s)) != NULL) {
			uint32_t seed = 2 * got_b++;

			n = gen(seed, sizes);
			if (!msg_is(m, seed, n, sizes))
				ck_abort_msg("b: message %u: %s", seed,
				    msg_diff(m, seed, n, sizes));
			REQUIRE(m->peer == id);
			bytes += m->size;
			msg_free(m);
		}
		while ((m = sock_recv(&c->s)) != NULL) {
			uint32_t seed = 2 * got_c++ + 1;

			n = gen(seed, sizes);
			if (!msg_is(m, seed, n, sizes))
				ck_abort_msg("c: message %u: %s", seed,
				    msg_diff(m, seed, n, sizes));
			REQUIRE(m->peer == id);
			bytes += m->size;
			msg_free(m);
		}
		REQUIRE(got_b == sent_c);
		REQUIRE(got_c == sent_b);
		now = run_until(nodes, 2, now, now + 40 * MSEC);
	}
	ck_assert_uint_eq(got_b, total / 2);
	ck_assert_uint_eq(got_c, total / 2);
	ck_assert_uint_gt(bytes, 10ULL << 20);
	ck_assert_uint_eq(total_drops(&b->s), 0);
	ck_assert_uint_eq(total_drops(&c->s), 0);
	ck_assert_uint_eq(b->s.st.rx_msgs, total / 2);
	ck_assert_uint_eq(c->s.st.tx_msgs, total / 2);
	ck_assert_uint_eq(b->s.nreasm + c->s.nreasm, 0);
	ck_assert_uint_eq(b->s.queued + c->s.queued, 0);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), only_peer(b));
	node_free(b);
	node_free(c);
}
END_TEST

/* Deadlines */

START_TEST(test_next_deadline)
{
	struct sockopts	 o;
	struct node	*idle = node_new(C_ADDR, 0);
	struct node	*b, *c;
	nbmq_time	 now = T0;

	/* Nothing to do: never, and timers do nothing. */
	ck_assert_uint_eq(sock_next_deadline(&idle->s), NBMQ_TIME_NEVER);
	ck_assert_uint_eq(sock_timers(&idle->s, now), NBMQ_TIME_NEVER);
	flush(idle);
	ck_assert_uint_eq(idle->nout, 0);
	node_free(idle);

	opts_defaults(&o);
	o.peer_heartbeat_ivl = 3 * NSEC;
	o.peer_keepalive = 10 * NSEC;
	o.queue_maint_ivl = 1 * NSEC;
	o.reconnect_wait = 2 * NSEC;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_DEALER, 0, &o);
	ck_assert_uint_eq(sock_next_deadline(&b->s), NBMQ_TIME_NEVER);
	ck_assert_uint_eq(sock_timers(&b->s, now), NBMQ_TIME_NEVER);
	/* Connecting: the reconnect timer. */
	sock_set_remote(&c->s, &b->addr, now);
	flush(c);
	ck_assert_uint_eq(sock_next_deadline(&c->s), now + 2 * NSEC);
	/* Up: the heartbeat (3 s) before the keepalive (10 s). */
	now += 500 * MSEC;
	pass(c, b, now);
	pass(b, c, now);
	pass(c, b, now);
	ck_assert_uint_eq(sock_next_deadline(&b->s), now + 3 * NSEC);
	ck_assert_uint_eq(sock_next_deadline(&c->s), now + 3 * NSEC);
	/* A message in reassembly: the maintenance run (1 s) first. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1000), now, 0), 0);
	tick(c, now);
	sock_input(&b->s, now, &c->addr, c->out[0].buf, c->out[0].len);
	out_reset(c);
	ck_assert_uint_eq(sock_next_deadline(&b->s), now + 1 * NSEC);
	ck_assert_uint_eq(sock_timers(&b->s, now + 1 * NSEC),
	    now + 2 * NSEC);
	/* Keepalive first when heartbeats are frequent. */
	node_free(b);
	node_free(c);
	o.peer_heartbeat_ivl = 20 * NSEC;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	{
		struct nbaddr ca = A(C_ADDR);

		inject_ctl(b, now, &ca, FK_CONNECT, 0);
	}
	ck_assert_uint_eq(sock_next_deadline(&b->s), now + 10 * NSEC);
	ck_assert_uint_eq(sock_timers(&b->s, now + 10 * NSEC),
	    NBMQ_TIME_NEVER);
	ck_assert_uint_eq(b->s.npeers, 0);
	node_free(b);
}
END_TEST

START_TEST(test_destroy_frees_everything)
{
	/* Queues, orphans, reassemblies, received messages: no leak. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;

	id = handshake(b, c, T0);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), T0, 0), 0);
		ck_assert_int_eq(sock_send(&b->s, mkmsg1(i, 1000), T0, 0), 0);
	}
	tick(c, T0);
	pass(c, b, T0);			/* three in b's receive queue */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(9, 1000), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(10, 10), T0, 0), 0);
	tick(c, T0);
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	out_reset(c);
	ck_assert_uint_eq(b->s.nreasm, 1);
	ck_assert_uint_eq(b->s.rq_len, 3);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(11, 10), T0, 0), 0);
	inject_ctl(c, T0, &b->addr, FK_DISCONNECTED, id);
	ck_assert_uint_eq(c->s.norphans, 1);
	node_free(b);			/* 3 queued, 1 reassembly, 3 received */
	node_free(c);			/* 1 orphan */
}
END_TEST

/*
 * Faults: out of memory, a kernel that takes nothing
 */

START_TEST(test_alloc_fail_receive)
{
	/*
	 * Out of memory for a received message, for its reassembly, for a
	 * recv_hwm marker, for a radio's copy: that message is lost (and
	 * counted where it can be), nothing else, and the next one arrives.
	 */
	struct sockopts	 o;
	struct node	*b, *c, *c2;
	uint64_t	 id, id2;
	struct peer	*p;
	struct msg	*m;

	opts_defaults(&o);
	o.recv_hwm = 2;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	c = node_new(C_ADDR, 0);
	id = handshake(b, c, T0);

	/* One frame: the message itself. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0);
	pool_off = 1;		/* every allocation by malloc */
	alloc_fail_in = 1;
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_int_eq(alloc_fail_in, 0);
	ck_assert_uint_eq(b->s.rq_len, 0);
	/* Several frames: the reassembly, its message, its ranges. */
	for (int k = 1; k <= 3; k++) {
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(10 + (uint32_t)k,
		    2000), T0, 0), 0);
		tick(c, T0);
		ck_assert_uint_eq(c->nout, 5);
		pool_off = 1;		/* every allocation by malloc */
		alloc_fail_in = k;
		sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
		ck_assert_int_eq(alloc_fail_in, 0);
		ck_assert_uint_eq(b->s.nreasm, 0);
		out_reset(c);
	}
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(20, 2000), T0, 0), 0);
	tick(c, T0);
	pass(c, b, T0);
	recv_check1(b, id, 20, 2000);

	/* At recv_hwm: the marker that would say so. */
	for (uint32_t i = 0; i < 3; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(30 + i, 10), T0, 0),
		    0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 3);
	sock_input(&b->s, T0, &c->addr, c->out[0].buf, c->out[0].len);
	sock_input(&b->s, T0, &c->addr, c->out[1].buf, c->out[1].len);
	pool_off = 1;		/* every allocation by malloc */
	alloc_fail_in = 1;
	sock_input(&b->s, T0, &c->addr, c->out[2].buf, c->out[2].len);
	ck_assert_int_eq(alloc_fail_in, 0);
	out_reset(c);
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	recv_check1(b, id, 30, 10);
	recv_check1(b, id, 31, 10);
	ck_assert_ptr_null(sock_recv(&b->s));
	node_free(b);
	node_free(c);

	/* A radio's copy for one of two peers. */
	b = node_new_plain(B_ADDR, NBMQ_RADIO, 1, NULL);
	c = node_new(C_ADDR, 0);
	c2 = node_new("10.0.0.3:3000", 0);
	id = handshake(b, c, T0);
	id2 = handshake(b, c2, T0);
	m = mkmsg1(40, 10);
	pool_off = 1;		/* every allocation by malloc */
	alloc_fail_in = 1;
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	ck_assert_int_eq(alloc_fail_in, 0);
	ck_assert_uint_eq(b->s.queued, 1);
	p = sock_peer_by_id(&b->s, id);
	ck_assert_uint_eq(p->sendq_len + sock_peer_by_id(&b->s, id2)->sendq_len,
	    1);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(41, 10), T0, 0), 0);
	ck_assert_uint_eq(b->s.queued, 3);
	node_free(b);
	node_free(c);
	node_free(c2);
}
END_TEST

START_TEST(test_addr_hash_collision_kept_apart)
{
	/*
	 * Two peers whose addresses share a hash key but are not equal
	 * (addresses of a family addr_eq never matches hash to 0): the
	 * same-address search walks past the first, both sessions live.
	 */
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 x;

	memset(&x, 0, sizeof(x));
	x.u.sa.sa_family = AF_UNIX;
	x.len = sizeof(x.u.sa);
	inject_ctl(b, T0, &x, FK_CONNECT, 0);
	inject_ctl(b, T0, &x, FK_CONNECT, 0);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, session_of(&b->out[0])));
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, session_of(&b->out[1])));
	node_free(b);
}
END_TEST

/* A one-frame message (msgid, 10 bytes of 'x') from `from` on session. */
static void
inject_data(struct node *n, nbmq_time now, const struct nbaddr *from,
    uint64_t session, uint64_t msgid)
{
	uint8_t		buf[FRAME_DATA_HDR_SIZE + 10];
	struct frame	f;

	memset(&f, 0, sizeof(f));
	f.session = session;
	f.msgid = msgid;
	f.part_count = 1;
	f.message_size = f.part_size = f.chunk_size = 10;
	frame_put_data_hdr(buf, &f);
	memset(buf + FRAME_DATA_HDR_SIZE, 'x', 10);
	sock_input(&n->s, now, from, buf, sizeof(buf));
	flush(n);
}

START_TEST(test_safe_dedup_full_refuses)
{
	/*
	 * Issue 14, finding 2: once the socket remembered DEDUP_MAX
	 * messages, the oldest id was forgotten whatever its age, and a
	 * resend of message 1 was delivered again.  Now a new message is
	 * refused unacked (its sender tries again) and no id is forgotten
	 * before its time.
	 */
	struct sockopts	 o;
	struct node	*b, *c;
	struct msg	*m;
	uint64_t	 id, i;
	nbmq_time	 t = T0;

	opts_defaults(&o);
	o.recv_hwm = 10000000;
	b = node_new_plain(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	for (i = 1; i <= DEDUP_MAX; i++) {
		inject_data(b, t, &c->addr, id, i);
		REQUIRE((m = sock_recv(&b->s)) != NULL);
		msg_free(m);
	}
	ck_assert_uint_eq(b->nout, DEDUP_MAX);		/* every one acked */
	ck_assert_uint_eq(b->s.ndedup, DEDUP_MAX);
	out_reset(b);
	/* Full: a new message is refused, unacked, counted. */
	inject_data(b, t, &c->addr, id, DEDUP_MAX + 1);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	/* Message 1 again: still known, acked again, not delivered. */
	inject_data(b, t, &c->addr, id, 1);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(kind_of(&b->out[0]), FK_ACK);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(b->s.st.drops[DROP_DUPLICATE], 1);
	out_reset(b);
	/* The ids age out after the whole resend horizon, not before. */
	t += safe_dedup_ttl(&o) - MSEC;
	inject_ctl(b, t, &c->addr, FK_HEARTBEAT, id);
	sock_timers(&b->s, t);
	ck_assert_uint_eq(b->s.ndedup, DEDUP_MAX);
	t += 2 * MSEC;
	sock_timers(&b->s, t);
	ck_assert_uint_eq(b->s.ndedup, 0);
	out_reset(b);
	inject_data(b, t, &c->addr, id, DEDUP_MAX + 1);
	ck_assert_ptr_nonnull(m = sock_recv(&b->s));
	msg_free(m);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_recv_hwm_bytes)
{
	/*
	 * recv_hwm_bytes bounds what a peer makes this socket hold, the
	 * messages begun included (issue 15): 64 KiB, an application that
	 * does not read, 20,000-byte messages.
	 */
	struct sockopts	 o;
	struct node	*b, *c;
	struct msg	*m;
	uint64_t	 most = 0;
	int		 got = 0;

	opts_defaults(&o);
	o.recv_hwm_bytes = 64 * 1024;
	b = node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_DEALER, 0, &o);
	handshake(b, c, T0);
	for (uint32_t i = 0; i < 10; i++) {
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 20000), T0, 0), 0);
		tick(c, T0);
		pass(c, b, T0);
		if (b->s.rx_bytes > most)
			most = b->s.rx_bytes;
	}
	ck_assert_uint_le(most, o.recv_hwm_bytes + 500);
	ck_assert_uint_ge(b->s.st.drops[DROP_RECV_HWM], 6);
	ck_assert_uint_eq(b->s.nreasm, 0);
	while ((m = sock_recv(&b->s)) != NULL) {
		got += m->nparts > 0;
		msg_free(m);
	}
	ck_assert_int_eq(got, 3);
	ck_assert_uint_eq(b->s.rx_bytes, 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_max_memory)
{
	/* Two sockets share the daemon's budget ([daemon] max_memory):
	 * what one holds, the other cannot take. */
	struct membudget mb = { 0, 100 * 1024 };
	struct node	*b1, *b2, *c1, *c2;
	struct msg	*m;
	int		 got = 0;

	b1 = node_new_plain(B_ADDR, NBMQ_DEALER, 1, NULL);
	b2 = node_new_plain("10.0.0.1:1001", NBMQ_DEALER, 1, NULL);
	c1 = node_new_plain(C_ADDR, NBMQ_DEALER, 0, NULL);
	c2 = node_new_plain("10.0.0.2:2001", NBMQ_DEALER, 0, NULL);
	b1->s.mb = b2->s.mb = &mb;
	handshake(b1, c1, T0);
	handshake(b2, c2, T0);
	for (uint32_t i = 0; i < 8; i++) {
		ck_assert_int_eq(sock_send(&c1->s, mkmsg1(i, 20000), T0, 0), 0);
		tick(c1, T0);
		pass(c1, b1, T0);
	}
	ck_assert_uint_le(mb.used, mb.max);
	ck_assert_uint_ge(b1->s.rx_bytes, 80000);
	ck_assert_int_eq(sock_send(&c2->s, mkmsg1(9, 20000), T0, 0), 0);
	tick(c2, T0);
	pass(c2, b2, T0);
	while ((m = sock_recv(&b2->s)) != NULL) {	/* a drop marker */
		ck_assert_uint_eq(m->nparts, 0);
		msg_free(m);
	}
	ck_assert_uint_ge(b2->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_uint_eq(mb.used, b1->s.rx_bytes + b2->s.rx_bytes);
	while ((m = sock_recv(&b1->s)) != NULL) {
		got += m->nparts > 0;
		msg_free(m);
	}
	ck_assert_int_ge(got, 4);
	node_free(b1);
	node_free(b2);
	ck_assert_uint_eq(mb.used, 0);
	node_free(c1);
	node_free(c2);
}
END_TEST

START_TEST(test_goodbye)
{
	/* A clean close says Disconnected to every peer, both sides. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*c2 = node_new("10.0.0.3:3000", 0);
	uint64_t	 id = handshake(b, c, T0), id2 = handshake(b, c2, T0);

	session_goodbye(&b->s);
	ck_assert_uint_eq(b->nout, 2);
	ck_assert_int_eq(count_kind(b, FK_DISCONNECTED), 2);
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_int_eq(pass(b, c2, T0), 1);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);	/* at once */
	ck_assert_int_eq(c2->s.link, LINK_CONNECTING);
	out_reset(c);
	out_reset(c2);
	id = handshake(b, c, T0 + NSEC);
	session_goodbye(&c->s);
	check_only_ctl(c, FK_DISCONNECTED, id, &b->addr);
	(void)id2;
	node_free(b);
	node_free(c);
	node_free(c2);
}
END_TEST

START_TEST(test_safe_acks_keep_heartbeats)
{
	/*
	 * A safe_dealer that only receives sends Acks, and Heartbeats on
	 * schedule all the same: the Rust NBMQ 0.2.0 counts only Heartbeat
	 * and Data as signs of life, and dropped a session after 10 s of
	 * nothing but Acks (issue 14).
	 */
	struct sockopts	 o;
	struct node	*b, *c;
	uint64_t	 id, i;
	nbmq_time	 t;
	int		 hb = 0;

	opts_defaults(&o);
	b = node_new_plain(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	for (i = 1, t = T0; t < T0 + 5 * NSEC; i++, t += 100 * MSEC) {
		struct msg *m;

		inject_data(b, t, &c->addr, id, i);
		sock_timers(&b->s, t);
		flush(b);
		hb += count_kind(b, FK_HEARTBEAT);
		out_reset(b);
		REQUIRE((m = sock_recv(&b->s)) != NULL);
		msg_free(m);
	}
	ck_assert_int_ge(hb, 4);
	ck_assert_uint_eq(only_peer(b)->st.acks_tx, i - 1);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_safe_resend_kernel_full)
{
	/*
	 * safe_dealer: a resend falls due while the kernel takes nothing.
	 * The resend waits one more interval, uncounted; the next deadline
	 * is never in the past (it was: the daemon's timer spun at 100% CPU
	 * until the socket was writable again; found by fuzz_frame).
	 */
	struct sockopts	 o;
	struct node	*b, *c;
	nbmq_time	 t, due;
	uint64_t	 id;
	struct peer	*p;

	opts_defaults(&o);
	b = node_new_plain(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	p = only_peer(c);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 1);
	out_reset(c);				/* lost */
	/* The outbox is full of what the kernel refuses. */
	c->refuse = 1;
	for (uint32_t i = 0; i < OUTBOX_SLOTS; i++)
		session_send_ctl(&c->s, &b->addr, FK_HEARTBEAT, id);
	ck_assert_int_eq(c->s.ob.n, OUTBOX_SLOTS);
	due = T0 + o.safe_resend_ivl;
	ck_assert_uint_eq(sock_next_deadline(&c->s), due);
	t = sock_timers(&c->s, due);
	ck_assert_uint_gt(t, due);
	ck_assert_uint_eq(t, due + o.safe_resend_ivl);
	ck_assert_uint_eq(p->st.resends, 0);
	/* The kernel takes again: the resend leaves, counted once. */
	c->refuse = 0;
	flush(c);
	out_reset(c);
	ck_assert_uint_gt(sock_timers(&c->s, t), t);
	flush(c);
	ck_assert_uint_eq(p->st.resends, 1);
	ck_assert_int_eq(count_kind(c, FK_DATA), 1);
	pass(c, b, t);
	recv_check1(b, id, 1, 100);
	pass(b, c, t);				/* the Ack */
	ck_assert_uint_eq(p->inflight, 0);
	ck_assert_ptr_null(TAILQ_FIRST(&c->s.resendq));
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * safe_dealer at recv_hwm: the frame it cannot keep is not acked (README:
 * "A receiver at recv_hwm does not ack what it cannot keep"), so the
 * sender still holds it and delivers it once there is room.
 */
START_TEST(test_safe_recv_hwm_no_ack)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct peer	*cp;
	nbmq_time	 t;
	uint64_t	 id;

	opts_defaults(&o);
	o.recv_hwm = 1;
	b = node_new_plain(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	cp = only_peer(c);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(count_kind(c, FK_DATA), 2);
	ck_assert_int_eq(pass(c, b, T0), 2);
	/* The first is kept and acked; the second dropped, not acked. */
	ck_assert_uint_eq(b->s.st.drops[DROP_RECV_HWM], 1);
	ck_assert_int_eq(count_kind(b, FK_ACK), 1);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_uint_eq(cp->inflight, 1);	/* the sender still has it */
	ck_assert_uint_eq(cp->st.acks_rx, 1);
	/* The application reads; the resend finds room and is acked. */
	recv_check1(b, id, 1, 100);
	t = T0 + o.safe_resend_ivl;
	ck_assert_uint_eq(sock_next_deadline(&c->s), t);
	ck_assert_uint_gt(sock_timers(&c->s, t), t);
	flush(c);
	ck_assert_int_eq(count_kind(c, FK_DATA), 1);
	ck_assert_int_eq(pass(c, b, t), 1);
	ck_assert_int_eq(count_kind(b, FK_ACK), 1);
	ck_assert_int_eq(pass(b, c, t), 1);
	recv_check1(b, id, 2, 100);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(cp->inflight, 0);
	ck_assert_uint_eq(cp->st.giveups, 0);
	node_free(b);
	node_free(c);
}
END_TEST

/* A safe_dealer pair up at T0 (b bound); c's one 100 B message sent. */
static struct peer *
safe_one_sent(const struct sockopts *o, struct node **b, struct node **c)
{
	*b = node_new_plain(B_ADDR, NBMQ_SAFE_DEALER, 1, o);
	*c = node_new_plain(C_ADDR, NBMQ_SAFE_DEALER, 0, o);
	handshake(*b, *c, T0);
	ck_assert_int_eq(sock_send(&(*c)->s, mkmsg1(1, 100), T0, 0), 0);
	tick(*c, T0);
	return only_peer(*c);
}

/*
 * safe_dealer: an unacked frame is sent again exactly safe_resend_limit
 * times, one every safe_resend_ivl, then given up and counted once (per
 * peer and for the socket: NBMQ_OPT_GIVEUPS), and its room under send_hwm
 * comes back.
 */
START_TEST(test_safe_resend_limit_then_giveup)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct peer	*cp;
	nbmq_time	 t, now = T0;
	int		 data = 0;

	opts_defaults(&o);
	o.safe_resend_limit = 3;
	o.peer_keepalive = 60 * NSEC;		/* the session outlives it */
	cp = safe_one_sent(&o, &b, &c);
	ck_assert_int_eq(count_kind(c, FK_DATA), 1);
	out_reset(c);				/* lost, and every copy after */
	ck_assert_uint_eq(cp->inflight, 1);
	/* Every deadline up to well past the last resend: copies counted. */
	while ((t = sock_next_deadline(&c->s)) <= T0 + 10 * o.safe_resend_ivl) {
		ck_assert_uint_ge(t, now);
		now = t;
		ck_assert_uint_gt(sock_timers(&c->s, now), now);
		flush(c);
		data += count_kind(c, FK_DATA);
		out_reset(c);
		if (data < 3)
			ck_assert_uint_eq(cp->st.giveups, 0);
	}
	ck_assert_int_eq(data, 3);
	ck_assert_uint_eq(cp->st.resends, 3);
	ck_assert_uint_eq(c->s.st.resends, 3);
	ck_assert_uint_eq(cp->st.giveups, 1);
	ck_assert_uint_eq(c->s.st.giveups, 1);
	ck_assert_uint_eq(cp->inflight, 0);
	ck_assert_ptr_null(TAILQ_FIRST(&c->s.resendq));
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * A sender whose loop runs late: its timers fire 0.7 s after they are due.
 * To a peer without Floor (v0.2.0 framing, as here) no copy may leave
 * later than the resend horizon plus RESEND_GRACE after the first: the
 * receiver keeps delivered ids only that long, and a later copy was
 * delivered twice (int_exactly_once under valgrind).  Given up instead,
 * and counted.
 */
START_TEST(test_safe_late_loop_holds_horizon)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct peer	*cp;
	nbmq_time	 t, now = T0, last = 0, horizon;
	int		 data = 0;

	opts_defaults(&o);
	o.peer_keepalive = 60 * NSEC;
	horizon = o.safe_resend_limit * o.safe_resend_ivl;
	cp = safe_one_sent(&o, &b, &c);
	out_reset(c);
	while ((t = sock_next_deadline(&c->s)) <= T0 + 30 * NSEC) {
		now = t + 700 * MSEC;
		(void)sock_timers(&c->s, now);
		flush(c);
		if (count_kind(c, FK_DATA) > 0) {
			data += count_kind(c, FK_DATA);
			last = now;
		}
		out_reset(c);
	}
	ck_assert_int_gt(data, 0);
	ck_assert_int_lt(data, (int)o.safe_resend_limit);
	ck_assert_uint_le(last - T0, horizon + NSEC / 2);
	ck_assert_uint_eq(cp->st.giveups, 1);
	ck_assert_uint_eq(cp->inflight, 0);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * A session ends while a message is half sent: its frames in flight are
 * given up with the session, and the message is counted once, given
 * up, never also peer_gone (the simulator's seed 3305 counted both).
 */
START_TEST(test_safe_half_sent_counted_once)
{
	struct sockopts	 o;
	struct node	*b, *c;
	uint64_t	 id;

	opts_defaults(&o);
	o.max_tick_send = 2;
	b = node_new_plain(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	/* 3000 bytes: 7 frames of 466; 2 leave, 5 wait. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 3000), T0, 0), 0);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(2, 100), T0, 0), 0);
	ck_assert_int_eq(sock_tick(&b->s, T0), 1);	/* one pass: more due */
	flush(b);
	ck_assert_int_eq(count_kind(b, FK_DATA), 2);
	out_reset(b);
	inject_ctl(b, T0, &c->addr, FK_DISCONNECTED, id);
	ck_assert_uint_eq(b->s.npeers, 0);
	/* message 1 given up (its fate unknown), message 2 never sent */
	ck_assert_uint_eq(b->s.st.giveups, 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_PEER_GONE], 1);
	ck_assert_uint_eq(b->s.queued, 0);
	node_free(b);
	node_free(c);
}
END_TEST

/* The same on the connecting side: the half-sent message is kept for
 * the next session (orphans) and given up; the socket closes before
 * one comes, and counts it no second time. */
START_TEST(test_safe_half_sent_orphan_counted_once)
{
	struct sockopts	 o;
	struct node	*b, *c;
	uint64_t	 id, gu, pg;

	opts_defaults(&o);
	o.max_tick_send = 2;
	b = node_new_plain(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 3000), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 100), T0, 0), 0);
	ck_assert_int_eq(sock_tick(&c->s, T0), 1);
	flush(c);
	ck_assert_int_eq(count_kind(c, FK_DATA), 2);
	out_reset(c);
	inject_ctl(c, T0, &b->addr, FK_DISCONNECTED, id);
	ck_assert_uint_eq(c->s.norphans, 2);
	ck_assert_uint_eq(c->s.st.giveups, 1);
	sock_destroy(&c->s);
	gu = c->s.st.giveups;
	pg = c->s.st.drops[DROP_PEER_GONE];
	ck_assert_uint_eq(gu, 1);
	ck_assert_uint_eq(pg, 1);		/* message 2 alone */
	node_free_destroyed(c);
	node_free(b);
}
END_TEST

/*
 * safe_dealer receiving: duplicates are suppressed for
 * safe_hash_dedup_ttl, a window every copy refreshes (README).  A resend
 * that comes more than the TTL after the first delivery, but within the
 * TTL of the copy before it, is still a duplicate: not delivered again,
 * and acked again (the Acks before it may all have been lost).
 */
START_TEST(test_safe_dedup_refreshed_by_copies)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct dgram	 d;
	nbmq_time	 ttl, t;
	uint64_t	 id;

	opts_defaults(&o);
	o.peer_keepalive = 60 * NSEC;
	b = node_new_plain(B_ADDR, NBMQ_SAFE_DEALER, 1, &o);
	c = node_new_plain(C_ADDR, NBMQ_SAFE_DEALER, 0, &o);
	ttl = o.safe_hash_dedup_ttl;
	id = handshake(b, c, T0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(7, 100), T0, 0), 0);
	tick(c, T0);
	ck_assert_uint_eq(c->nout, 1);
	d = c->out[0];				/* every copy is this datagram */
	c->nout = 0;
	sock_input(&b->s, T0, &c->addr, d.buf, d.len);
	flush(b);
	ck_assert_int_eq(count_kind(b, FK_ACK), 1);
	out_reset(b);				/* the Ack is lost */
	recv_check1(b, id, 7, 100);
	/*
	 * Many messages after it, so that no short memory of recent ids
	 * could pass for the dedup window.
	 */
	for (uint32_t i = 100; i < 164; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 10), T0, 0), 0);
	tick(c, T0);
	ck_assert_int_eq(pass(c, b, T0), 64);
	for (uint32_t i = 100; i < 164; i++)
		recv_check1(b, id, i, 10);
	out_reset(b);
	/* Copies 0.6 TTL apart: each within the TTL of the one before. */
	for (int i = 1; i <= 3; i++) {
		t = T0 + (nbmq_time)i * ttl * 6 / 10;
		timers_until(b, t);		/* expiry, if any, happens */
		sock_input(&b->s, t, &c->addr, d.buf, d.len);
		flush(b);
		ck_assert_msg(count_kind(b, FK_ACK) == 1,
		    "copy %d at %.1f TTL: not acked again", i, i * 0.6);
		out_reset(b);
		ck_assert_msg(sock_recv(&b->s) == NULL,
		    "copy %d at %.1f TTL: delivered again", i, i * 0.6);
		ck_assert_uint_eq(b->s.st.drops[DROP_DUPLICATE], (uint64_t)i);
	}
	free(d.buf);
	node_free(b);
	node_free(c);
}
END_TEST

static Suite *
sock_suite(void)
{
	Suite	*s = suite_create("sock");
	TCase	*tc;

	tc = tcase_create("dealer_send");
	tcase_add_test(tc, test_dealer_send_queues_tick_in_order);
	tcase_add_test(tc, test_dealer_round_robin_3_peers);
	tcase_add_test(tc, test_dealer_send_hwm);
	tcase_add_test(tc, test_dealer_no_peer);
	tcase_add_test(tc, test_dish_cannot_send);
	tcase_add_test(tc, test_send_too_big);
	tcase_add_test(tc, test_radio_sends_to_all);
	tcase_add_test(tc, test_drr_fairness);
	tcase_add_test(tc, test_drr_equal_share);
	tcase_add_test(tc, test_drr_three_peers);
	tcase_add_test(tc, test_max_tick_send);
	tcase_add_test(tc, test_tick_kernel_full);
	tcase_add_test(tc, test_tick_kernel_partial);
	tcase_add_test(tc, test_radio_send_hwm);
	suite_add_tcase(s, tc);

	tc = tcase_create("receive");
	tcase_add_test(tc, test_recv_hwm);
	tcase_add_test(tc, test_pool);
	tcase_add_test(tc, test_msgring);
	tcase_add_test(tc, test_recv_held_given_back);
	tcase_add_test(tc, test_recv_hwm_counts_reassembly);
	tcase_add_test(tc, test_recv_hwm_reordered_counted_once);
	tcase_add_test(tc, test_reasm_ttl);
	tcase_add_test(tc, test_reasm_overtaken);
	tcase_add_test(tc, test_reasm_ttl_refreshed_by_frames);
	tcase_add_test(tc, test_reasm_ttl_bad_frame_keeps_order);
	tcase_add_test(tc, test_recv_hwm_dropped_message_tail);
	tcase_add_test(tc, test_duplicate_message_delivered_once);
	tcase_add_test(tc, test_interleaved_and_reordered);
	tcase_add_test(tc, test_exchange_10000);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_test(tc, test_alloc_fail_receive);
	tcase_add_test(tc, test_addr_hash_collision_kept_apart);
	tcase_add_test(tc, test_safe_resend_kernel_full);
	tcase_add_test(tc, test_safe_dedup_full_refuses);
	tcase_add_test(tc, test_goodbye);
	tcase_add_test(tc, test_max_memory);
	tcase_add_test(tc, test_recv_hwm_bytes);
	tcase_add_test(tc, test_safe_acks_keep_heartbeats);
	tcase_add_test(tc, test_safe_recv_hwm_no_ack);
	tcase_add_test(tc, test_safe_resend_limit_then_giveup);
	tcase_add_test(tc, test_safe_late_loop_holds_horizon);
	tcase_add_test(tc, test_safe_half_sent_counted_once);
	tcase_add_test(tc, test_safe_half_sent_orphan_counted_once);
	tcase_add_test(tc, test_safe_dedup_refreshed_by_copies);
	suite_add_tcase(s, tc);

	tc = tcase_create("deadlines");
	tcase_add_test(tc, test_next_deadline);
	tcase_add_test(tc, test_destroy_frees_everything);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init(LOG_ERR, 1);
	return run_suite(sock_suite());
}
