/* SPDX-License-Identifier: ISC */
/*
 * test_session.c: unit tests of session.c, the session table and its
 * state machine (the state table above enum link_state in nbmqd.h): the
 * connecting socket's link, the bound socket's peers, addresses that
 * follow NAT rebinding, heartbeats, keepalive, unknown sessions and a
 * session that cannot be made for want of memory.  The dealer's sending
 * and receiving are test_sock.c's.
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

#define STUN_COOKIE	0x2112A442U
#define MAXCHUNK	(500 - FRAME_DATA_HDR_SIZE)

/* A dealer at addr, v0.2.0 frames (see the top). */
static struct node *
node_new(const char *addr, int bound)
{
	return node_new_plain(addr, NBMQ_DEALER, bound, NULL);
}

/*
 * Connecting socket: the link's transitions
 */

START_TEST(test_idle_to_connecting_on_connect)
{
	struct node	*c = node_new(C_ADDR, 0);
	struct nbaddr	 b = A(B_ADDR);

	ck_assert_int_eq(c->s.link, LINK_IDLE);
	ck_assert_uint_eq(sock_next_deadline(&c->s), NBMQ_TIME_NEVER);
	sock_set_remote(&c->s, &b, T0);
	flush(c);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert(!c->s.bound);
	/* Connect, session 0, to the remote: 01 01 00*8 */
	check_only_ctl(c, FK_CONNECT, 0, &b);
	ck_assert_uint_eq(sock_next_deadline(&c->s),
	    T0 + c->s.o.reconnect_wait);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_int_eq(c->nev, 0);
	ck_assert_int_eq(c->resolves, 0);
	node_free(c);
}
END_TEST

START_TEST(test_idle_to_connecting_by_name)
{
	struct node	*c = node_new(C_ADDR, 0);
	struct nbaddr	 b = A(B_ADDR);
	nbmq_time	 t;

	sock_connect_name(&c->s, T0);
	flush(c);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_int_eq(c->resolves, 1);
	ck_assert_uint_eq(c->nout, 0);
	/* The resolution arrives: that is the attempt. */
	sock_set_remote(&c->s, &b, T0 + 5 * MSEC);
	flush(c);
	check_only_ctl(c, FK_CONNECT, 0, &b);
	/* The reconnect timer resolves again. */
	t = sock_next_deadline(&c->s);
	ck_assert_uint_eq(t, T0 + c->s.o.reconnect_wait);
	sock_timers(&c->s, t);
	flush(c);
	ck_assert_int_eq(c->resolves, 2);
	ck_assert_uint_eq(c->nout, 0);
	node_free(c);
}
END_TEST

START_TEST(test_connecting_reconnect_timer_resends_connect)
{
	struct node	*c = node_new(C_ADDR, 0);
	struct nbaddr	 b = A(B_ADDR);
	nbmq_time	 wait = c->s.o.reconnect_wait, t;

	sock_set_remote(&c->s, &b, T0);
	flush(c);
	check_only_ctl(c, FK_CONNECT, 0, &b);
	for (int k = 1; k <= 4; k++) {
		t = sock_next_deadline(&c->s);
		ck_assert_uint_eq(t, T0 + k * wait);
		/* Not a moment early. */
		ck_assert_uint_eq(sock_timers(&c->s, t - 1), t);
		flush(c);
		ck_assert_uint_eq(c->nout, 0);
		ck_assert_uint_eq(sock_timers(&c->s, t), t + wait);
		flush(c);
		check_only_ctl(c, FK_CONNECT, 0, &b);
		ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	}
	node_free(c);
}
END_TEST

START_TEST(test_connecting_to_up_on_connected)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct peer	*p, *bp;
	uint64_t	 id;

	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(kind_of(&b->out[0]), FK_CONNECTED);
	id = session_of(&b->out[0]);
	ck_assert_uint_ne(id, 0);
	ck_assert_int_eq(pass(b, c, T0 + MSEC), 1);
	/* Up, with the id, and a Heartbeat(id) to the bound side. */
	ck_assert_int_eq(c->s.link, LINK_UP);
	p = only_peer(c);
	ck_assert_uint_eq(p->session, id);
	ck_assert(addr_eq(&p->addr, &b->addr));
	ck_assert_uint_eq(p->up_since, T0 + MSEC);
	check_ctl(c, 0, FK_HEARTBEAT, id, &b->addr);
	ck_assert_uint_eq(c->nout, 1);
	ck_assert_int_eq(c->nev, 1);
	ck_assert_int_eq(c->ev[0].ev, PEV_UP);
	ck_assert_uint_eq(c->ev[0].session, id);
	/* No more reconnecting: the next deadline is the heartbeat. */
	ck_assert_uint_eq(c->s.reconnect_at, NBMQ_TIME_NEVER);
	ck_assert_uint_eq(sock_next_deadline(&c->s),
	    T0 + MSEC + c->s.o.peer_heartbeat_ivl);
	/* The bound side sees the heartbeat. */
	ck_assert_int_eq(pass(c, b, T0 + 2 * MSEC), 1);
	bp = only_peer(b);
	ck_assert_uint_eq(bp->last_seen, T0 + 2 * MSEC);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(total_drops(&b->s), 0);
	ck_assert_uint_eq(total_drops(&c->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_up_duplicate_connected_same_id)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct peer	*p;
	uint64_t	 id;

	id = handshake(b, c, T0);
	p = only_peer(c);
	inject_ctl(c, T0 + 500 * MSEC, &b->addr, FK_CONNECTED, id);
	/* Same peer, still up, answered with a heartbeat, no event. */
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_ptr_eq(only_peer(c), p);
	ck_assert_uint_eq(p->session, id);
	ck_assert_uint_eq(p->up_since, T0);
	ck_assert_uint_eq(c->s.st.sessions_created, 1);
	ck_assert_int_eq(c->nev, 1);
	check_only_ctl(c, FK_HEARTBEAT, id, &b->addr);
	ck_assert_uint_eq(p->last_sent, T0 + 500 * MSEC);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_up_connected_new_id_replaces_peer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	const uint64_t	 id2 = 0x5555666677778888ULL;
	struct peer	*p;
	uint64_t	 id;
	int		 nframes = 0;

	id = handshake(b, c, T0);
	/* Two messages wait in the old session's queue. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 10), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 1000), T0, 0), 0);
	inject_ctl(c, T0 + 100 * MSEC, &b->addr, FK_CONNECTED, id2);
	ck_assert_int_eq(c->s.link, LINK_UP);
	p = only_peer(c);
	ck_assert_uint_eq(p->session, id2);
	ck_assert_ptr_null(sock_peer_by_id(&c->s, id));
	ck_assert_ptr_eq(sock_peer_by_id(&c->s, id2), p);
	ck_assert_int_eq(c->nev, 3);
	ck_assert_int_eq(c->ev[1].ev, PEV_DOWN_REPLACED);
	ck_assert_uint_eq(c->ev[1].session, id);
	ck_assert_int_eq(c->ev[2].ev, PEV_UP);
	ck_assert_uint_eq(c->ev[2].session, id2);
	check_only_ctl(c, FK_HEARTBEAT, id2, &b->addr);
	/* The queue went over to the new session. */
	ck_assert_uint_eq(p->sendq_len, 2);
	ck_assert_uint_eq(c->s.queued, 2);
	ck_assert_uint_eq(c->s.norphans, 0);
	tick(c, T0 + 100 * MSEC);
	for (size_t i = 0; i < c->nout; i++) {
		ck_assert_int_eq(kind_of(&c->out[i]), FK_DATA);
		ck_assert_uint_eq(session_of(&c->out[i]), id2);
		nframes++;
	}
	ck_assert_int_eq(nframes, 1 + 3);
	ck_assert_uint_eq(c->s.queued, 0);
	ck_assert_uint_eq(c->s.st.drops[DROP_PEER_GONE], 0);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_up_disconnected_to_connecting)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	const nbmq_time	 t = T0 + 3 * NSEC;
	uint64_t	 id;

	id = handshake(b, c, T0);
	/* Disconnected for some other id: not ours, ignored. */
	inject_ctl(c, t, &b->addr, FK_DISCONNECTED, id + 1);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_uint_eq(c->s.npeers, 1);
	ck_assert_uint_eq(c->nout, 0);
	/* Ours: down, and Connect again at once. */
	inject_ctl(c, t, &b->addr, FK_DISCONNECTED, id);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_ptr_null(sock_peer_by_id(&c->s, id));
	ck_assert_int_eq(c->nev, 2);
	ck_assert_int_eq(c->ev[1].ev, PEV_DOWN_DISCONNECTED);
	ck_assert_uint_eq(c->ev[1].session, id);
	check_only_ctl(c, FK_CONNECT, 0, &b->addr);
	ck_assert_uint_eq(sock_next_deadline(&c->s),
	    t + c->s.o.reconnect_wait);
	/* No peer meanwhile. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1), t, 0), EHOSTUNREACH);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_bound_restart_disconnected_reconnects)
{
	/* The bound side forgot the session: the whole recovery path. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2];
	nbmq_time	 now = T0;
	uint64_t	 id, id2;

	id = handshake(b, c, now);
	node_free(b);
	b = node_new(B_ADDR, 1);
	nodes[0] = b;
	nodes[1] = c;
	/* c's next heartbeat meets the new b: Disconnected, Connect, ... */
	now = run_until(nodes, 2, now, now + c->s.o.peer_heartbeat_ivl);
	ck_assert_int_eq(c->s.link, LINK_UP);
	id2 = only_peer(c)->session;
	ck_assert_uint_ne(id2, id);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, id2));
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 1);
	ck_assert_int_eq(c->ev[c->nev - 2].ev, PEV_DOWN_DISCONNECTED);
	ck_assert_int_eq(c->ev[c->nev - 1].ev, PEV_UP);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(7, 100), now, 0), 0);
	tick(c, now);
	net(nodes, 2, now);
	recv_check1(b, id2, 7, 100);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_up_keepalive_to_connecting)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	const nbmq_time	 ka = c->s.o.peer_keepalive;
	nbmq_time	 t;
	uint64_t	 id;
	int		 hb = 0;

	id = handshake(b, c, T0);
	/* b went silent: c's heartbeats are lost, nothing comes back. */
	while ((t = sock_next_deadline(&c->s)) < T0 + ka) {
		sock_timers(&c->s, t);
		flush(c);
		hb += count_kind(c, FK_HEARTBEAT);
		ck_assert_uint_eq(c->nout, (size_t)count_kind(c,
		    FK_HEARTBEAT));
		out_reset(c);
	}
	ck_assert_int_eq(hb, (int)(ka / c->s.o.peer_heartbeat_ivl) - 1);
	ck_assert_uint_eq(t, T0 + ka);
	ck_assert_int_eq(c->s.link, LINK_UP);
	sock_timers(&c->s, t - 1);
	flush(c);
	ck_assert_int_eq(c->s.link, LINK_UP);
	/* Only the heartbeat due at t, sent a little early. */
	ck_assert_uint_eq(c->nout, (size_t)count_kind(c, FK_HEARTBEAT));
	ck_assert_uint_le(c->nout, 1);
	out_reset(c);
	sock_timers(&c->s, t);
	flush(c);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_int_eq(c->ev[c->nev - 1].ev, PEV_DOWN_KEEPALIVE);
	ck_assert_uint_eq(c->ev[c->nev - 1].session, id);
	check_only_ctl(c, FK_CONNECT, 0, &b->addr);
	ck_assert_uint_eq(sock_next_deadline(&c->s),
	    t + c->s.o.reconnect_wait);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_connected_from_other_address_ignored)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 evil = A("10.0.0.9:9");

	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	out_reset(c);
	inject_ctl(c, T0 + MSEC, &evil, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_uint_eq(c->nout, 0);
	ck_assert_int_eq(c->nev, 0);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 1);
	/* Connected with session 0 is no session either. */
	inject_ctl(c, T0 + MSEC, &b->addr, FK_CONNECTED, 0);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 2);
	/* The real one still works; then the other address again. */
	inject_ctl(c, T0 + MSEC, &b->addr, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(c->s.link, LINK_UP);
	out_reset(c);
	inject_ctl(c, T0 + MSEC, &evil, FK_CONNECTED, 0x9999);
	ck_assert_uint_eq(only_peer(c)->session, 0x1234);
	ck_assert_uint_eq(c->nout, 0);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 3);
	/* A connecting socket takes no Connect, a bound one no Connected. */
	inject_ctl(c, T0 + MSEC, &evil, FK_CONNECT, 0);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 4);
	ck_assert_uint_eq(c->nout, 0);
	inject_ctl(b, T0 + MSEC, &c->addr, FK_CONNECTED, 0x4321);
	ck_assert_uint_eq(b->s.st.drops[DROP_NOT_BOUND], 1);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->nout, 0);
	/* An idle (never connected) socket takes no Connected. */
	node_free(c);
	c = node_new(C_ADDR, 0);
	inject_ctl(c, T0, &b->addr, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(c->s.link, LINK_IDLE);
	ck_assert_uint_eq(c->s.npeers, 0);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * A connecting socket's orphans (its queue, kept for the next session
 * with the same remote) that the socket closes with: counted peer_gone,
 * like the queue of a session that ends.  The hole int_appgone showed:
 * a sender's socket lingered after its receiver's went, and 6 queued
 * messages went with it uncounted.
 */
START_TEST(test_orphans_counted_when_destroyed)
{
	struct node	*b, *c;
	uint64_t	 id, before;
	nbmq_time	 now = T0;

	b = node_new(B_ADDR, 1);
	c = node_new(C_ADDR, 0);
	id = handshake(b, c, now);
	for (uint32_t i = 0; i < 5; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 100), now, 0), 0);
	inject_ctl(c, now, &b->addr, FK_DISCONNECTED, id);
	ck_assert_uint_eq(c->s.norphans, 5);
	before = c->s.st.drops[DROP_PEER_GONE];
	sock_destroy(&c->s);
	ck_assert_uint_eq(c->s.st.drops[DROP_PEER_GONE], before + 5);
	ck_assert_uint_eq(c->s.queued, 0);
	ck_assert_uint_eq(c->s.norphans, 0);
	node_free_destroyed(c);
	node_free(b);
}
END_TEST

START_TEST(test_orphans_survive_reconnect)
{
	struct sockopts	 o;
	struct node	*b, *c;
	struct peer	*p;
	uint64_t	 id, id2;
	nbmq_time	 now = T0;

	opts_defaults(&o);
	o.max_tick_send = 4;
	b = node_new(B_ADDR, 1);
	c = node_new_plain(C_ADDR, NBMQ_DEALER, 0, &o);
	id = handshake(b, c, now);
	/* 5 messages of 3 frames; 4 frames leave: m0 and m1's first. */
	for (uint32_t i = 0; i < 5; i++)
		ck_assert_int_eq(sock_send(&c->s, mkmsg1(i, 1000), now, 0), 0);
	ck_assert_int_eq(sock_tick(&c->s, now), 1);
	flush(c);
	ck_assert_uint_eq(c->nout, 4);
	ck_assert_int_eq(pass(c, b, now), 4);		/* m0 and a piece */
	recv_check1(b, id, 0, 1000);
	ck_assert_uint_eq(b->s.nreasm, 1);
	/* The session breaks: the queue is kept for the next one. */
	now += 10 * MSEC;
	inject_ctl(c, now, &b->addr, FK_DISCONNECTED, id);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.norphans, 4);
	ck_assert_uint_eq(c->s.queued, 4);
	ck_assert_uint_eq(c->s.st.drops[DROP_PEER_GONE], 0);
	ck_assert(!sock_has_output(&c->s));
	ck_assert_uint_eq(sock_send_room(&c->s), 0);
	/* Reconnect: b replaces the session from the same address once
	 * the new one is confirmed (c's Heartbeat, passed with the data). */
	ck_assert_int_eq(pass(c, b, now), 1);		/* Connect */
	ck_assert_uint_eq(b->s.nreasm, 1);
	ck_assert_int_eq(pass(b, c, now), 1);		/* Connected */
	ck_assert_int_eq(c->s.link, LINK_UP);
	p = only_peer(c);
	id2 = p->session;
	ck_assert_uint_ne(id2, id);
	ck_assert_uint_eq(c->s.norphans, 0);
	ck_assert(TAILQ_EMPTY(&c->s.orphans));
	ck_assert_uint_eq(p->sendq_len, 4);
	ck_assert(sock_has_output(&c->s));
	ck_assert_uint_eq(sock_send_room(&c->s), o.send_hwm - 4);
	/* m1 restarts whole; all four arrive, byte-exact, in order. */
	tick(c, now);
	ck_assert_int_eq(pass(c, b, now), 1 + 4 * 3);
	ck_assert_uint_eq(b->s.nreasm, 0);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	for (uint32_t i = 1; i < 5; i++)
		recv_check1(b, id2, i, 1000);
	ck_assert_ptr_null(sock_recv(&b->s));
	ck_assert_uint_eq(c->s.queued, 0);
	ck_assert_uint_eq(c->s.st.tx_msgs, 5);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * Bound socket
 */

START_TEST(test_bound_connect_creates_session)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 c = A(C_ADDR), d = A("10.0.0.3:3000");
	const uint64_t	 cookie_id = 0xabcd2112a442ef01ULL;
	struct peer	*p;

	/* The first candidates: the STUN cookie at bytes 4..7, then 0. */
	b->script[0] = cookie_id;
	b->script[1] = 0;
	b->script[2] = 0x0102030405060708ULL;
	b->nscript = 3;
	ck_assert_uint_eq((uint32_t)(cookie_id >> 16), STUN_COOKIE);
	ck_assert_uint_eq(sock_next_deadline(&b->s), NBMQ_TIME_NEVER);

	inject_ctl(b, T0, &c, FK_CONNECT, 0);
	ck_assert_int_eq(b->iscript, 3);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(kind_of(&b->out[0]), FK_CONNECTED);
	ck_assert_uint_ne((uint32_t)b->out[0].buf[4] << 24 |
	    (uint32_t)b->out[0].buf[5] << 16 |
	    (uint32_t)b->out[0].buf[6] << 8 | b->out[0].buf[7], STUN_COOKIE);
	check_only_ctl(b, FK_CONNECTED, 0x0102030405060708ULL, &c);
	p = only_peer(b);
	ck_assert_uint_eq(p->session, 0x0102030405060708ULL);
	ck_assert(addr_eq(&p->addr, &c));
	ck_assert_uint_eq(p->last_seen, T0);
	ck_assert_uint_eq(p->last_sent, T0);
	ck_assert_uint_eq(p->up_since, T0);
	ck_assert_int_eq(b->s.link, LINK_IDLE);	/* links are per peer */
	ck_assert_uint_eq(b->s.st.sessions_created, 1);
	/* Not up until the connecting side shows it has the session: no
	 * event, no data (issue 14: a lost Connected lost unacked frames). */
	ck_assert_int_eq(b->nev, 0);
	ck_assert(!p->confirmed);
	ck_assert_uint_eq(b->s.nup, 0);
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(1, 10), T0, 0), EHOSTUNREACH);
	ck_assert_uint_eq(sock_send_room(&b->s), 0);
	ck_assert_uint_eq(sock_next_deadline(&b->s),
	    T0 + b->s.o.peer_heartbeat_ivl);
	inject_ctl(b, T0, &c, FK_HEARTBEAT, p->session);
	ck_assert(p->confirmed);
	ck_assert_uint_eq(b->s.nup, 1);
	ck_assert_int_eq(b->nev, 1);
	ck_assert_int_eq(b->ev[0].ev, PEV_UP);
	ck_assert_uint_eq(b->ev[0].session, p->session);
	ck_assert_uint_eq(sock_send_room(&b->s), b->s.o.send_hwm);

	/* Never a live id again: the same value is skipped. */
	b->script[3] = 0x0102030405060708ULL;
	b->script[4] = 0x1111;
	b->nscript = 5;
	inject_ctl(b, T0, &d, FK_CONNECT, 0);
	check_only_ctl(b, FK_CONNECTED, 0x1111, &d);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_uint_eq(b->s.st.sessions_created, 2);
	/* Data from neither the session nor the address mixes up. */
	ck_assert(addr_eq(&sock_peer_by_id(&b->s, 0x1111)->addr, &d));
	node_free(b);
}
END_TEST

/* A bound dealer at max_peers max, and n addresses of net 10.0.net.0/24. */
static struct node *
node_max_peers(uint64_t max, struct nbaddr *a, int n, int net)
{
	struct sockopts	 o;
	char		 text[32];

	opts_defaults(&o);
	o.max_peers = max;
	for (int i = 0; i < n; i++) {
		snprintf(text, sizeof(text), "10.0.%d.%d:%d", net, i + 1,
		    3000 + 1000 * net + i);
		a[i] = A(text);
	}
	return node_new_plain(B_ADDR, NBMQ_DEALER, 1, &o);
}

START_TEST(test_bound_connect_max_peers_refused)
{
	struct node	*b;
	struct nbaddr	 a[41];
	uint64_t	 ids[41];

	b = node_max_peers(40, a, 41, 1);
	for (int i = 0; i < 40; i++) {
		inject_ctl(b, T0, &a[i], FK_CONNECT, 0);
		ck_assert_uint_eq(b->nout, 1);
		ids[i] = session_of(&b->out[0]);
		check_only_ctl(b, FK_CONNECTED, ids[i], &a[i]);
	}
	ck_assert_uint_eq(b->s.npeers, 40);
	/* One more: refused, counted, nothing sent, nobody affected. */
	inject_ctl(b, T0 + MSEC, &a[40], FK_CONNECT, 0);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(b->s.npeers, 40);
	ck_assert_uint_eq(b->s.st.drops[DROP_MAX_PEERS], 1);
	ck_assert_uint_eq(b->s.st.sessions_created, 40);
	ck_assert_int_eq(b->nev, 0);		/* none confirmed yet */
	for (int i = 0; i < 40; i++) {
		struct peer *p = sock_peer_by_id(&b->s, ids[i]);

		ck_assert_ptr_nonnull(p);
		ck_assert(addr_eq(&p->addr, &a[i]));
		inject_ctl(b, T0 + 2 * MSEC, &a[i], FK_HEARTBEAT, ids[i]);
		ck_assert_uint_eq(p->last_seen, T0 + 2 * MSEC);
	}
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 0);
	/* A known address reconnecting at max_peers is a replacement:
	 * it waits beside the live session until confirmed, then takes
	 * its place (a forged Connect would not confirm it). */
	inject_ctl(b, T0 + 3 * MSEC, &a[7], FK_CONNECT, 0);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_uint_eq(b->s.npeers, 41);
	ck_assert_uint_eq(b->s.st.drops[DROP_MAX_PEERS], 1);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, ids[7]));
	inject_ctl(b, T0 + 3 * MSEC, &a[7], FK_HEARTBEAT,
	    session_of(&b->out[0]));
	ck_assert_uint_eq(b->s.npeers, 40);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, ids[7]));
	out_reset(b);
	/* When one leaves, a new one fits again. */
	inject_ctl(b, T0 + 4 * MSEC, &a[3], FK_DISCONNECTED, ids[3]);
	ck_assert_uint_eq(b->s.npeers, 39);
	out_reset(b);
	inject_ctl(b, T0 + 5 * MSEC, &a[40], FK_CONNECT, 0);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(kind_of(&b->out[0]), FK_CONNECTED);
	ck_assert_uint_eq(b->s.npeers, 40);
	node_free(b);
}
END_TEST

/*
 * A replacement may wait beside a live session at max_peers; if the live
 * one then moves (NAT rebinding, or its owner sending from elsewhere), the
 * replacement has nothing to replace.  Found by fuzz_frame: one peer
 * could hold a session per round of Connect, move, confirm, past
 * max_peers, and unconfirmed ones could pile up past 2 x max_peers.
 */
START_TEST(test_bound_rebind_max_peers_held)
{
	struct node	*b;
	struct nbaddr	 a[8];
	uint64_t	 id = 0, nid;

	b = node_max_peers(2, a, 8, 2);
	/* Two live sessions: the socket is full. */
	for (int i = 0; i < 2; i++) {
		inject_ctl(b, T0, &a[i], FK_CONNECT, 0);
		id = session_of(&b->out[0]);
		out_reset(b);
		inject_ctl(b, T0, &a[i], FK_HEARTBEAT, id);
	}
	ck_assert_uint_eq(b->s.nup, 2);	/* id: the one at a[1] */
	/*
	 * Connect from the live session's address, the live one moves, then
	 * the waiting one confirms: it replaces nothing, so it is refused,
	 * counted and told (Disconnected); the moved session lives on.
	 */
	inject_ctl(b, T0 + MSEC, &a[1], FK_CONNECT, 0);
	nid = session_of(&b->out[0]);
	out_reset(b);
	ck_assert_uint_eq(b->s.npeers, 3);
	inject_ctl(b, T0 + MSEC, &a[2], FK_HEARTBEAT, id);
	ck_assert(addr_eq(&sock_peer_by_id(&b->s, id)->addr, &a[2]));
	out_reset(b);
	inject_ctl(b, T0 + MSEC, &a[1], FK_HEARTBEAT, nid);
	ck_assert_uint_eq(b->s.nup, 2);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, nid));
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, id));
	ck_assert_uint_eq(b->s.st.drops[DROP_MAX_PEERS], 1);
	check_only_ctl(b, FK_DISCONNECTED, nid, &a[1]);
	out_reset(b);
	/*
	 * Unconfirmed ones left behind by the move cannot pile up: each
	 * round leaves one, and the socket holds at most 2 x max_peers.
	 */
	for (int i = 2; i < 7; i++) {
		inject_ctl(b, T0 + 2 * MSEC, &a[i], FK_CONNECT, 0);
		out_reset(b);
		inject_ctl(b, T0 + 2 * MSEC, &a[i + 1], FK_HEARTBEAT, id);
		out_reset(b);
		ck_assert_uint_le(b->s.npeers, 2 * b->s.o.max_peers);
		ck_assert_uint_le(b->s.nup, b->s.o.max_peers);
	}
	ck_assert_uint_eq(b->s.npeers, 4);
	ck_assert_uint_ge(b->s.st.drops[DROP_MAX_PEERS], 2);
	/* The live ones still work. */
	ck_assert(addr_eq(&sock_peer_by_id(&b->s, id)->addr, &a[7]));
	node_free(b);
}
END_TEST

START_TEST(test_bound_connect_same_address_replaces)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 c = A(C_ADDR), d = A("10.0.0.2:2001");
	uint64_t	 id1, id2;
	struct peer	*p;
	struct msg	*m;

	inject_ctl(b, T0, &c, FK_CONNECT, 0);
	id1 = session_of(&b->out[0]);
	out_reset(b);
	inject_ctl(b, T0, &c, FK_HEARTBEAT, id1);	/* confirmed */
	inject_ctl(b, T0, &d, FK_CONNECT, 0);	/* same host, other port */
	inject_ctl(b, T0, &d, FK_HEARTBEAT, session_of(&b->out[0]));
	out_reset(b);
	ck_assert_uint_eq(b->s.npeers, 2);
	/* A queued message is lost with the old session, and counted. */
	m = mkmsg1(1, 10);
	m->peer = id1;
	ck_assert_int_eq(sock_send(&b->s, m, T0, 0), 0);
	inject_ctl(b, T0 + NSEC, &c, FK_CONNECT, 0);
	ck_assert_uint_eq(b->nout, 1);
	id2 = session_of(&b->out[0]);
	ck_assert_uint_ne(id2, id1);
	check_only_ctl(b, FK_CONNECTED, id2, &c);
	/* Until the new session is confirmed the old one lives: a Connect
	 * forged with c's address disturbs nothing (issue 15). */
	ck_assert_uint_eq(b->s.npeers, 3);
	ck_assert_ptr_nonnull(sock_peer_by_id(&b->s, id1));
	ck_assert_int_eq(b->nev, 2);
	/* A second Connect from there supersedes the unconfirmed one. */
	inject_ctl(b, T0 + NSEC, &c, FK_CONNECT, 0);
	ck_assert_uint_eq(b->s.npeers, 3);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id2));
	id2 = session_of(&b->out[0]);
	out_reset(b);
	ck_assert_int_eq(b->nev, 2);
	p = sock_peer_by_id(&b->s, id2);
	ck_assert_ptr_nonnull(p);
	ck_assert(addr_eq(&p->addr, &c));
	ck_assert_uint_eq(p->up_since, T0 + NSEC);
	inject_ctl(b, T0 + NSEC, &c, FK_HEARTBEAT, id2);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id1));
	ck_assert_int_eq(b->nev, 4);
	ck_assert_int_eq(b->ev[2].ev, PEV_DOWN_REPLACED);
	ck_assert_uint_eq(b->ev[2].session, id1);
	ck_assert_int_eq(b->ev[3].ev, PEV_UP);
	ck_assert_uint_eq(b->ev[3].session, id2);
	ck_assert_uint_eq(b->s.st.drops[DROP_PEER_GONE], 1);
	ck_assert_uint_eq(b->s.queued, 0);
	/* The old id is unknown now. */
	inject_ctl(b, T0 + NSEC, &c, FK_HEARTBEAT, id1);
	check_only_ctl(b, FK_DISCONNECTED, id1, &c);
	node_free(b);
}
END_TEST

START_TEST(test_bound_disconnected_removes_peer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	uint64_t	 id;

	struct nbaddr	 x = A("10.9.9.9:999");

	id = handshake(b, c, T0);
	inject_ctl(b, T0 + NSEC, &c->addr, FK_DISCONNECTED, id + 1);
	ck_assert_uint_eq(b->s.npeers, 1);
	/* From anywhere but the peer's address: ignored, counted (issue
	 * 15: a known session id ended sessions from any source). */
	inject_ctl(b, T0 + NSEC, &x, FK_DISCONNECTED, id);
	ck_assert_uint_eq(b->s.npeers, 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_NOT_BOUND], 1);
	inject_ctl(c, T0 + NSEC, &x, FK_DISCONNECTED, id);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 1);
	inject_ctl(b, T0 + NSEC, &c->addr, FK_DISCONNECTED, id);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	ck_assert_int_eq(b->ev[b->nev - 1].ev, PEV_DOWN_DISCONNECTED);
	ck_assert_uint_eq(b->ev[b->nev - 1].session, id);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(sock_next_deadline(&b->s), NBMQ_TIME_NEVER);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_bound_keepalive_removes_peer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*c2 = node_new("10.0.0.3:3000", 0);
	const nbmq_time	 ka = b->s.o.peer_keepalive;
	nbmq_time	 t;
	uint64_t	 id, id2;

	id = handshake(b, c, T0);
	id2 = handshake(b, c2, T0 + 1 * NSEC);
	ck_assert_uint_eq(b->s.npeers, 2);
	/* Nothing reaches b; b's own heartbeats go out regardless. */
	while ((t = sock_next_deadline(&b->s)) < T0 + ka) {
		sock_timers(&b->s, t);
		flush(b);
		ck_assert_uint_eq(b->nout, (size_t)count_kind(b,
		    FK_HEARTBEAT));
		out_reset(b);
	}
	ck_assert_uint_eq(t, T0 + ka);
	/* At t - 1 the other peer's heartbeat, due at t, goes early. */
	sock_timers(&b->s, t - 1);
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_uint_eq(sock_timers(&b->s, t),
	    t - 1 + b->s.o.peer_heartbeat_ivl);
	flush(b);
	out_reset(b);
	ck_assert_uint_eq(b->s.npeers, 1);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	ck_assert_int_eq(b->ev[b->nev - 1].ev, PEV_DOWN_KEEPALIVE);
	ck_assert_uint_eq(b->ev[b->nev - 1].session, id);
	ck_assert_int_eq(b->s.link, LINK_IDLE);
	ck_assert_uint_eq(b->nout, 0);		/* no Connect from a bound one */
	sock_timers(&b->s, T0 + 1 * NSEC + ka);
	flush(b);
	out_reset(b);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->ev[b->nev - 1].session, id2);
	ck_assert_uint_eq(sock_next_deadline(&b->s), NBMQ_TIME_NEVER);
	node_free(b);
	node_free(c);
	node_free(c2);
}
END_TEST

/*
 * Both kinds
 */

START_TEST(test_any_frame_refreshes_last_seen)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*c2 = node_new("10.0.0.3:3000", 0);
	const nbmq_time	 ka = b->s.o.peer_keepalive;
	struct peer	*p, *p2;
	uint8_t		 bad[FRAME_DATA_HDR_SIZE + 1];
	struct frame	 f;
	uint64_t	 id, id2;

	id = handshake(b, c, T0);
	id2 = handshake(b, c2, T0);
	p = sock_peer_by_id(&b->s, id);
	p2 = sock_peer_by_id(&b->s, id2);
	ck_assert_uint_eq(p2->last_seen, T0);
	/* Heartbeat, Ack, data: each one refreshes. */
	inject_ctl(b, T0 + 1 * NSEC, &c->addr, FK_HEARTBEAT, id);
	ck_assert_uint_eq(p->last_seen, T0 + 1 * NSEC);
	inject_ctl(b, T0 + 2 * NSEC, &c->addr, FK_ACK, id);
	ck_assert_uint_eq(p->last_seen, T0 + 2 * NSEC);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 5), T0, 0), 0);
	tick(c, T0 + 3 * NSEC);
	pass(c, b, T0 + 3 * NSEC);
	ck_assert_uint_eq(p->last_seen, T0 + 3 * NSEC);
	/* A malformed data frame proves nothing. */
	memset(&f, 0, sizeof(f));
	f.session = id;
	f.part_count = 1;
	f.message_size = f.part_size = 1;
	f.chunk_size = 1;
	frame_put_data_hdr(bad, &f);
	sock_input(&b->s, T0 + 4 * NSEC, &c->addr, bad, sizeof(bad) - 1);
	ck_assert_uint_eq(p->last_seen, T0 + 3 * NSEC);
	ck_assert_uint_eq(b->s.st.drops[DROP_LENGTH], 1);
	ck_assert_uint_eq(p->st.drops[DROP_LENGTH], 1);
	/* p2 was silent: it goes at T0 + ka, p ka after its last frame. */
	timers_until(b, T0 + ka - 1);
	ck_assert_uint_eq(b->s.npeers, 2);
	timers_until(b, T0 + ka);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id2));
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), p);
	ck_assert_int_eq(b->ev[b->nev - 1].ev, PEV_DOWN_KEEPALIVE);
	ck_assert_uint_eq(b->ev[b->nev - 1].session, id2);
	timers_until(b, T0 + 3 * NSEC + ka - 1);
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), p);
	timers_until(b, T0 + 3 * NSEC + ka);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	ck_assert_uint_eq(b->s.npeers, 0);
	recv_check1(b, id, 1, 5);
	node_free(b);
	node_free(c);
	node_free(c2);
}
END_TEST

START_TEST(test_address_follows_nat_rebinding)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 moved = A("192.0.2.7:40000");
	const nbmq_time	 t = T0 + 500 * MSEC;
	struct peer	*p;
	uint64_t	 id;

	id = handshake(b, c, T0);
	p = only_peer(b);
	/* c's NAT gave it a new source address. */
	inject_ctl(b, t, &moved, FK_HEARTBEAT, id);
	ck_assert_ptr_eq(only_peer(b), p);
	ck_assert(addr_eq(&p->addr, &moved));
	ck_assert(addr_eq(&p->prev_addr, &c->addr));
	ck_assert_uint_eq(p->last_seen, t);
	ck_assert_int_eq(b->nev, 2);
	ck_assert_int_eq(b->ev[1].ev, PEV_ADDRESS);
	ck_assert_uint_eq(b->ev[1].session, id);
	ck_assert(addr_eq(&b->ev[1].addr, &moved));
	ck_assert(addr_eq(&b->ev[1].prev, &c->addr));
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 0);
	/* Same address again: no event. */
	inject_ctl(b, t, &moved, FK_HEARTBEAT, id);
	ck_assert_int_eq(b->nev, 2);
	/* Data and heartbeats now go to the new address. */
	ck_assert_int_eq(sock_send(&b->s, mkmsg1(3, 1000), t, 0), 0);
	tick(b, t);
	ck_assert_uint_eq(b->nout, 3);
	for (size_t i = 0; i < b->nout; i++) {
		ck_assert_int_eq(kind_of(&b->out[i]), FK_DATA);
		ck_assert(addr_eq(&b->out[i].to, &moved));
	}
	out_reset(b);
	sock_timers(&b->s, t + b->s.o.peer_heartbeat_ivl);
	flush(b);
	check_only_ctl(b, FK_HEARTBEAT, id, &moved);
	/* The address index follows: a confirmed session from the new
	 * address replaces this one, one from the old address does not. */
	inject_ctl(b, t + 2 * NSEC, &c->addr, FK_CONNECT, 0);
	inject_ctl(b, t + 2 * NSEC, &c->addr, FK_HEARTBEAT,
	    session_of(&b->out[b->nout - 1]));
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), p);
	inject_ctl(b, t + 2 * NSEC, &moved, FK_CONNECT, 0);
	ck_assert_uint_eq(b->s.npeers, 3);
	ck_assert_ptr_eq(sock_peer_by_id(&b->s, id), p);
	inject_ctl(b, t + 2 * NSEC, &moved, FK_HEARTBEAT,
	    session_of(&b->out[b->nout - 1]));
	ck_assert_uint_eq(b->s.npeers, 2);
	ck_assert_ptr_null(sock_peer_by_id(&b->s, id));
	ck_assert_int_eq(b->ev[b->nev - 2].ev, PEV_DOWN_REPLACED);
	ck_assert_uint_eq(b->ev[b->nev - 2].session, id);
	ck_assert_int_eq(b->ev[b->nev - 1].ev, PEV_UP);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_connecting_side_address_follows)
{
	/* The bound side moved (e.g. its NAT): the connecting side follows. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 moved = A("192.0.2.8:1000");
	uint64_t	 id;

	id = handshake(b, c, T0);
	inject_ctl(c, T0 + MSEC, &moved, FK_HEARTBEAT, id);
	ck_assert(addr_eq(&only_peer(c)->addr, &moved));
	ck_assert_int_eq(c->ev[c->nev - 1].ev, PEV_ADDRESS);
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 1), T0, 0), 0);
	tick(c, T0 + MSEC);
	ck_assert_uint_eq(c->nout, 1);
	ck_assert(addr_eq(&c->out[0].to, &moved));
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_heartbeat_due)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	const nbmq_time	 ivl = b->s.o.peer_heartbeat_ivl;
	uint64_t	 id;

	id = handshake(b, c, T0);
	/* b: last sent (Connected) at T0. */
	ck_assert_uint_eq(sock_next_deadline(&b->s), T0 + ivl);
	/* Due at T0 + ivl; sent up to ivl/32 early (batched), not before. */
	ck_assert_uint_eq(sock_timers(&b->s, T0 + ivl - ivl / 32 - 1),
	    T0 + ivl);
	flush(b);
	ck_assert_uint_eq(b->nout, 0);
	ck_assert_uint_eq(sock_timers(&b->s, T0 + ivl), T0 + 2 * ivl);
	flush(b);
	check_only_ctl(b, FK_HEARTBEAT, id, &c->addr);
	/* c sends data at T0 + ivl/2: its heartbeat moves to 1.5 ivl. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(1, 100), T0, 0), 0);
	tick(c, T0 + ivl / 2);
	ck_assert_uint_eq(c->nout, 1);
	ck_assert_uint_eq(sock_next_deadline(&c->s), T0 + ivl + ivl / 2);
	sock_timers(&c->s, T0 + ivl);
	flush(c);
	ck_assert_uint_eq(c->nout, 1);			/* the data only */
	/* b gets the data at T0 + ivl + 1: not due, no heartbeat. */
	ck_assert_int_eq(pass(c, b, T0 + ivl + 1), 1);
	ck_assert_uint_eq(b->nout, 0);
	sock_timers(&c->s, T0 + ivl + ivl / 2);
	flush(c);
	check_only_ctl(c, FK_HEARTBEAT, id, &b->addr);
	/* Data arriving when a heartbeat is due is answered with one. */
	ck_assert_int_eq(sock_send(&c->s, mkmsg1(2, 100), T0, 0), 0);
	tick(c, T0 + 2 * ivl);
	ck_assert_int_eq(pass(c, b, T0 + 2 * ivl), 1);
	check_only_ctl(b, FK_HEARTBEAT, id, &c->addr);
	ck_assert_uint_eq(only_peer(b)->last_sent, T0 + 2 * ivl);
	ck_assert_uint_eq(sock_next_deadline(&b->s), T0 + 3 * ivl);
	recv_check1(b, id, 1, 100);
	recv_check1(b, id, 2, 100);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * 100 peers whose heartbeats fall due over 20 ms leave in one timer run
 * (they are within ivl/32 of each other), not in 100 wake-ups.
 */
START_TEST(test_heartbeats_batched)
{
	struct node	*b = node_new(B_ADDR, 1), *c[100];
	const nbmq_time	 ivl = b->s.o.peer_heartbeat_ivl;
	nbmq_time	 t;

	for (int k = 0; k < 100; k++) {
		char	addr[32];

		snprintf(addr, sizeof(addr), "10.0.1.%d:%d", 2 + k, 3000 + k);
		c[k] = node_new(addr, 0);
		handshake(b, c[k], T0 + (nbmq_time)k * MSEC / 5);
	}
	flush(b);
	out_reset(b);
	t = sock_next_deadline(&b->s);
	ck_assert_uint_eq(t, T0 + ivl);
	t = sock_timers(&b->s, t);
	flush(b);
	ck_assert_uint_eq(b->nout, 100);
	ck_assert_int_eq(count_kind(b, FK_HEARTBEAT), 100);
	ck_assert_uint_eq(t, T0 + 2 * ivl);
	out_reset(b);
	for (int k = 0; k < 100; k++)
		node_free(c[k]);
	node_free(b);
}
END_TEST

START_TEST(test_heartbeat_reach)
{
	/* Every heartbeat interval shifts the reach register. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct node	*nodes[2] = { b, c };
	struct peer	*p;
	nbmq_time	 now = T0;

	handshake(b, c, now);
	p = only_peer(b);
	now = run_until(nodes, 2, now, now + 8 * b->s.o.peer_heartbeat_ivl);
	ck_assert_uint_eq(p->reach & 0xff, 0xff);
	ck_assert_ptr_eq(only_peer(b), p);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * Why a connecting socket is not up (conn_reason): every reconnect after
 * an unanswered Connect says "no answer", the log warns once an episode
 * after CONN_WARN_AFTER of them, and UP clears it all.
 */

/* stderr (the log) into a file while a test runs; its text after. */
static int	cap_fd = -1, cap_saved = -1;

static void
capture_start(void)
{
	char	path[] = "/tmp/test_sock.XXXXXX";

	fflush(stderr);
	cap_fd = mkstemp(path);
	REQUIRE(cap_fd != -1);
	unlink(path);
	cap_saved = dup(2);
	dup2(cap_fd, 2);
	log_setlevel(LOG_WARNING);
}

static char *
capture_end(void)
{
	static char	buf[8192];
	ssize_t		n;

	fflush(stderr);
	log_setlevel(LOG_ERR);
	dup2(cap_saved, 2);
	close(cap_saved);
	n = pread(cap_fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(cap_fd);
	return buf;
}

static int
count_str(const char *hay, const char *needle)
{
	int	c = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		c++;
	return c;
}

START_TEST(test_connfail_no_answer)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	nbmq_time	 wait = c->s.o.reconnect_wait, t = T0;
	char		*log;

	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_uint_eq(c->s.conn_since, T0);
	ck_assert_int_eq(c->s.conn_reason, CONN_NONE);
	ck_assert_int_eq(c->connect_events, 0);
	capture_start();
	for (int k = 1; k <= 5; k++) {
		t = sock_next_deadline(&c->s);
		sock_timers(&c->s, t);
		flush(c);
		out_reset(c);		/* lost */
		ck_assert_uint_eq(c->s.conn_unanswered, (uint32_t)k);
		ck_assert_int_eq(c->s.conn_reason, CONN_NO_ANSWER);
		/* One event per unanswered Connect. */
		ck_assert_int_eq(c->connect_events, k);
		ck_assert_int_eq(c->last_reason, CONN_NO_ANSWER);
		ck_assert_int_eq(c->s.conn_warned, k >= CONN_WARN_AFTER);
	}
	log = capture_end();
	ck_assert_int_eq(count_str(log, "no answer from 10.0.0.1:1000 after 3 "
	    "Connects in 15 s: is nbmqd bound there, and the path open?"), 1);
	ck_assert_int_eq(count_str(log, "warning:"), 1);
	ck_assert_uint_eq(c->s.conn_since, T0);
	/* Answered at last: UP clears the reason. */
	ck_assert_int_eq(pass(c, b, t), 0);
	sock_timers(&c->s, t + wait);
	flush(c);
	ck_assert_int_eq(pass(c, b, t + wait), 1);
	ck_assert_int_eq(pass(b, c, t + wait), 1);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_int_eq(c->s.conn_reason, CONN_NONE);
	ck_assert_uint_eq(c->s.conn_unanswered, 0);
	ck_assert_int_eq(c->s.conn_warned, 0);
	node_free(b);
	node_free(c);
}
END_TEST

/* A new episode (the bound side went away) warns again, once. */
START_TEST(test_connfail_warn_once_per_episode)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	nbmq_time	 t, wait = c->s.o.reconnect_wait;
	uint64_t	 id = handshake(b, c, T0);
	char		*log;

	out_reset(b);
	out_reset(c);
	capture_start();
	inject_ctl(c, T0 + MSEC, &b->addr, FK_DISCONNECTED, id);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->s.conn_since, T0 + MSEC);
	out_reset(c);
	for (int k = 0; k < 2 * CONN_WARN_AFTER; k++) {
		t = sock_next_deadline(&c->s);
		sock_timers(&c->s, t);
		flush(c);
		out_reset(c);
	}
	log = capture_end();
	ck_assert_int_eq(count_str(log, "no answer from"), 1);
	ck_assert_uint_eq(c->s.conn_unanswered, 2 * CONN_WARN_AFTER);
	(void)wait;
	node_free(b);
	node_free(c);
}
END_TEST

/* A plain bound socket answers an encrypted Connect with a plain
 * Disconnected(0); a plain connecting one takes 0x83 session 0 from its
 * remote as "the peer is encrypted", from elsewhere as nothing. */
START_TEST(test_connfail_refused_encrypted)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 x = A("10.9.9.9:999");
	uint8_t		 buf[64];
	size_t		 len;

	memset(buf, 0xaa, sizeof(buf));
	len = frame_put_ctl(buf, FK_CONNECT | FRAME_ENCRYPTED, 0);
	sock_input(&b->s, T0, &c->addr, buf, len + 40);
	flush(b);
	check_only_ctl(b, FK_DISCONNECTED, 0, &c->addr);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_ENCRYPTED], 1);
	/* The connecting side. */
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	out_reset(c);
	len = frame_put_ctl(buf, FK_DISCONNECTED | FRAME_ENCRYPTED, 0);
	sock_input(&c->s, T0 + MSEC, &x, buf, len);
	ck_assert_int_eq(c->s.conn_reason, CONN_NONE);
	ck_assert_int_eq(c->connect_events, 0);
	sock_input(&c->s, T0 + MSEC, &b->addr, buf, len);
	ck_assert_int_eq(c->s.conn_reason, CONN_PEER_ENCRYPTED);
	ck_assert_int_eq(c->connect_events, 1);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	/* Answered: the next attempt does not count it unanswered. */
	sock_timers(&c->s, sock_next_deadline(&c->s));
	flush(c);
	ck_assert_uint_eq(c->s.conn_unanswered, 0);
	ck_assert_int_eq(c->s.conn_reason, CONN_PEER_ENCRYPTED);
	ck_assert_int_eq(c->connect_events, 1);
	/* Then nothing more: no answer. */
	sock_timers(&c->s, sock_next_deadline(&c->s));
	ck_assert_int_eq(c->s.conn_reason, CONN_NO_ANSWER);
	ck_assert_int_eq(c->connect_events, 2);
	/* The refusals share the Disconnected budget. */
	for (int i = 0; i < 100; i++) {
		len = frame_put_ctl(buf, FK_CONNECT | FRAME_ENCRYPTED, 0);
		sock_input(&b->s, T0 + MSEC, &x, buf, len + 40);
	}
	flush(b);
	ck_assert_uint_eq(b->nout, (size_t)DISC_SRC_BURST);
	node_free(b);
	node_free(c);
}
END_TEST

/* Set by the shell: cannot resolve, unreachable; only while connecting. */
START_TEST(test_connfail_shell_reasons)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);

	sock_connect_failed(&b->s, CONN_RESOLVE, T0);
	ck_assert_int_eq(b->s.conn_reason, CONN_NONE);
	sock_connect_name(&c->s, T0);
	sock_connect_failed(&c->s, CONN_RESOLVE, T0 + MSEC);
	ck_assert_int_eq(c->s.conn_reason, CONN_RESOLVE);
	ck_assert_int_eq(c->connect_events, 1);
	/* Again the same: no new event. */
	sock_timers(&c->s, sock_next_deadline(&c->s));
	sock_connect_failed(&c->s, CONN_RESOLVE, T0 + 2 * MSEC);
	ck_assert_int_eq(c->connect_events, 1);
	ck_assert_uint_eq(c->s.conn_unanswered, 0);
	sock_set_remote(&c->s, &b->addr, T0 + 3 * MSEC);
	sock_connect_failed(&c->s, CONN_UNREACHABLE, T0 + 4 * MSEC);
	ck_assert_int_eq(c->s.conn_reason, CONN_UNREACHABLE);
	ck_assert_int_eq(c->connect_events, 2);
	/* ICMP errors count towards the warning, the reason stays. */
	capture_start();
	for (int k = 1; k <= CONN_WARN_AFTER; k++) {
		sock_timers(&c->s, sock_next_deadline(&c->s));
		ck_assert_uint_eq(c->s.conn_unanswered, (uint32_t)k);
		sock_connect_failed(&c->s, CONN_UNREACHABLE, T0);
	}
	ck_assert_int_eq(count_str(capture_end(), "after 3 Connects in 20 s "
	    "(unreachable (ICMP)): is nbmqd bound there"), 1);
	ck_assert_int_eq(c->s.conn_reason, CONN_UNREACHABLE);
	ck_assert_int_eq(c->connect_events, 2);
	ck_assert_str_eq(conn_reason_names[CONN_UNREACHABLE],
	    "unreachable (ICMP)");
	for (int i = 0; i < CONN_NREASONS; i++)
		ck_assert_ptr_nonnull(conn_reason_names[i]);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_unknown_session_sends_disconnected)
{
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 x = A("10.9.9.9:999");
	uint8_t		 buf[FRAME_DATA_HDR_SIZE + 10];
	struct frame	 f;
	uint64_t	 id;

	inject_ctl(b, T0, &x, FK_HEARTBEAT, 0x77);
	check_only_ctl(b, FK_DISCONNECTED, 0x77, &x);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 1);
	inject_ctl(b, T0, &x, FK_ACK, 0x79);
	check_only_ctl(b, FK_DISCONNECTED, 0x79, &x);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 2);
	/* A valid data frame. */
	memset(&f, 0, sizeof(f));
	f.session = 0x78;
	f.msgid = 1;
	f.part_count = 1;
	f.message_size = f.part_size = f.chunk_size = 10;
	frame_put_data_hdr(buf, &f);
	memset(buf + FRAME_DATA_HDR_SIZE, 'x', 10);
	sock_input(&b->s, T0, &x, buf, sizeof(buf));
	flush(b);
	check_only_ctl(b, FK_DISCONNECTED, 0x78, &x);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 3);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_ptr_null(sock_recv(&b->s));
	/* A connecting socket answers the same way, and stays up. */
	id = handshake(b, c, T0);
	inject_ctl(c, T0, &x, FK_HEARTBEAT, id ^ 1);
	check_only_ctl(c, FK_DISCONNECTED, id ^ 1, &x);
	ck_assert_uint_eq(c->s.st.drops[DROP_UNKNOWN_SESSION], 1);
	ck_assert_int_eq(c->s.link, LINK_UP);
	/* Session 0 is never known. */
	inject_ctl(c, T0, &b->addr, FK_HEARTBEAT, 0);
	check_only_ctl(c, FK_DISCONNECTED, 0, &b->addr);
	node_free(b);
	node_free(c);
}
END_TEST

/* Many distinct sources, so per-source reply budgets don't interfere. */
static struct nbaddr
src_addr(int i)
{
	char	a[32];

	snprintf(a, sizeof(a), "10.9.%d.%d:999", i / 200, i % 200 + 1);
	return A(a);
}

START_TEST(test_unknown_session_rate_limited)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 x = A("10.9.9.9:999");

	/* 1000 from one source at the same instant: its burst, then nothing. */
	for (int i = 0; i < 1000; i++)
		inject_ctl(b, T0, &x, FK_HEARTBEAT, 0x1000 + i);
	ck_assert_int_eq(count_kind(b, FK_DISCONNECTED), (int)DISC_SRC_BURST);
	ck_assert_uint_eq(b->nout, DISC_SRC_BURST);
	for (int i = 0; i < (int)DISC_SRC_BURST; i++)
		check_ctl(b, i, FK_DISCONNECTED, 0x1000 + i, &x);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 1000);
	out_reset(b);
	/* One second later: one second's worth. */
	for (int i = 0; i < 300; i++)
		inject_ctl(b, T0 + NSEC, &x, FK_HEARTBEAT, 0x5000 + i);
	ck_assert_uint_eq(b->nout, DISC_SRC_RATE);
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_SESSION], 1300);
	out_reset(b);
	/* A long pause refills no more than the burst. */
	for (int i = 0; i < 500; i++)
		inject_ctl(b, T0 + 100 * NSEC, &x, FK_HEARTBEAT, 0x9000 + i);
	ck_assert_uint_eq(b->nout, DISC_SRC_BURST);
	node_free(b);
}
END_TEST

START_TEST(test_unknown_session_rate_per_source)
{
	/*
	 * A flood from many sources hits the socket-wide budget; a source
	 * whose own budget is spent does not take another source's.
	 */
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 x = A("10.9.9.9:999"), y;
	int		 sent_y = 0;

	for (int i = 0; i < 1000; i++)
		inject_ctl(b, T0, &x, FK_HEARTBEAT, 0x1000 + i);
	out_reset(b);
	/* Another source still gets answers while x is silenced. */
	y = A("10.8.8.8:888");
	inject_ctl(b, T0, &y, FK_HEARTBEAT, 0x2000);
	for (size_t i = 0; i < b->nout; i++)
		if (addr_eq(&b->out[i].to, &y))
			sent_y++;
	if (addr_hash(&x) % DISC_SOURCES != addr_hash(&y) % DISC_SOURCES)
		ck_assert_int_eq(sent_y, 1);
	out_reset(b);
	/* Many sources at once: no more than the socket's burst. */
	for (int i = 0; i < 5000; i++) {
		char	a[32];
		struct nbaddr z;

		snprintf(a, sizeof(a), "10.1.%d.%d:%d", i / 250, i % 250,
		    1000 + i);
		z = A(a);
		inject_ctl(b, T0, &z, FK_HEARTBEAT, 0x3000 + i);
	}
	ck_assert_uint_le(b->nout, DISC_BURST);
	ck_assert_uint_ge(b->nout, DISC_BURST - DISC_SRC_BURST - 1);
	node_free(b);
}
END_TEST

START_TEST(test_ctl_kernel_full)
{
	/* The kernel takes nothing: 64 replies wait, the rest is counted. */
	struct node	*b = node_new(B_ADDR, 1);

	b->refuse = 1;
	for (int i = 0; i < OUTBOX_SLOTS + 5; i++) {
		uint8_t buf[FRAME_HDR_SIZE];

		frame_put_ctl(buf, FK_HEARTBEAT, 100 + i);
		struct nbaddr x = src_addr(i);

		sock_input(&b->s, T0, &x, buf, sizeof(buf));
	}
	ck_assert_int_eq(b->s.ob.n, OUTBOX_SLOTS);
	ck_assert_uint_eq(b->s.st.drops[DROP_SEND_FAILED], 5);
	ck_assert(sock_has_output(&b->s));
	b->refuse = 0;
	flush(b);
	ck_assert_uint_eq(b->nout, OUTBOX_SLOTS);
	for (int i = 0; i < OUTBOX_SLOTS; i++)
	{
		struct nbaddr x = src_addr(i);

		check_ctl(b, i, FK_DISCONNECTED, 100 + i, &x);
	}
	ck_assert(!sock_has_output(&b->s));
	node_free(b);
}
END_TEST

START_TEST(test_bad_datagrams_counted)
{
	struct node	*b = node_new(B_ADDR, 1);
	struct nbaddr	 x = A("10.9.9.9:999");
	uint8_t		 buf[FRAME_HDR_SIZE];

	memset(buf, 0, sizeof(buf));
	sock_input(&b->s, T0, &x, buf, 3);
	ck_assert_uint_eq(b->s.st.drops[DROP_SHORT], 1);
	frame_put_ctl(buf, FK_HEARTBEAT, 5);
	buf[0] = 2;
	sock_input(&b->s, T0, &x, buf, sizeof(buf));
	ck_assert_uint_eq(b->s.st.drops[DROP_VERSION], 1);
	frame_put_ctl(buf, 9, 5);
	sock_input(&b->s, T0, &x, buf, sizeof(buf));
	ck_assert_uint_eq(b->s.st.drops[DROP_UNKNOWN_KIND], 1);
	frame_put_ctl(buf, FRAME_ENCRYPTED | FK_CONNECT, 0);
	sock_input(&b->s, T0, &x, buf, sizeof(buf));
	ck_assert_uint_eq(b->s.st.drops[DROP_ENCRYPTED], 1);
	flush(b);
	/* None of them is answered but the encrypted Connect: a plain
	 * Disconnected(0) says this socket is plain (PROTOCOL.md 5). */
	check_only_ctl(b, FK_DISCONNECTED, 0, &x);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->s.st.rx_datagrams, 4);
	node_free(b);
}
END_TEST


START_TEST(test_up_set_remote_keeps_link)
{
	/* A new resolution while up: no Connect, the next attempt uses it. */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 other = A("10.0.0.5:5000");
	uint64_t	 id;

	id = handshake(b, c, T0);
	sock_set_remote(&c->s, &other, T0 + MSEC);
	flush(c);
	ck_assert_uint_eq(c->nout, 0);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_uint_eq(only_peer(c)->session, id);
	inject_ctl(c, T0 + 2 * MSEC, &b->addr, FK_DISCONNECTED, id);
	check_only_ctl(c, FK_CONNECT, 0, &other);
	node_free(b);
	node_free(c);
}
END_TEST

START_TEST(test_ctl_outbox_full_flushes)
{
	/* More replies than outbox slots in one go: flushed, in order. */
	struct node	*b = node_new(B_ADDR, 1);

	for (int i = 0; i < 3 * OUTBOX_SLOTS; i++) {
		uint8_t buf[FRAME_HDR_SIZE];

		frame_put_ctl(buf, FK_HEARTBEAT, 100 + i);
		struct nbaddr x = src_addr(i);

		sock_input(&b->s, T0, &x, buf, sizeof(buf));
	}
	ck_assert_uint_eq(b->nout, 2 * OUTBOX_SLOTS);
	flush(b);
	ck_assert_uint_eq(b->nout, 3 * OUTBOX_SLOTS);
	for (int i = 0; i < 3 * OUTBOX_SLOTS; i++)
	{
		struct nbaddr x = src_addr(i);

		check_ctl(b, i, FK_DISCONNECTED, 100 + i, &x);
	}
	ck_assert_uint_eq(b->s.st.drops[DROP_SEND_FAILED], 0);
	node_free(b);
}
END_TEST

/*
 * Faults: out of memory while a session is made
 */

START_TEST(test_alloc_fail_sessions)
{
	/*
	 * Out of memory while a session is made: no session, nothing half
	 * made, no reply; the next Connect works.  Then the connecting side:
	 * never up without a peer, and it connects again.
	 */
	struct node	*b = node_new(B_ADDR, 1), *c = node_new(C_ADDR, 0);
	struct nbaddr	 from;
	char		 addr[32];
	nbmq_time	 t;

	/* The peer, then by_id's first table, then by_addr's. */
	for (int k = 1; k <= 3; k++) {
		snprintf(addr, sizeof(addr), "10.0.1.%d:100", k);
		from = A(addr);
		pool_off = 1;		/* every allocation by malloc */
		alloc_fail_in = k;
		inject_ctl(b, T0, &from, FK_CONNECT, 0);
		ck_assert_int_eq(alloc_fail_in, 0);
		ck_assert_uint_eq(b->s.npeers, 0);
		ck_assert(hmap_find(&b->s.by_addr, addr_hash(&from)) == NULL);
		ck_assert_uint_eq(b->nout, 0);
		ck_assert_int_eq(b->nev, 0);
	}
	ck_assert_uint_eq(b->s.st.sessions_created, 0);

	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	out_reset(c);
	pool_off = 1;		/* every allocation by malloc */
	alloc_fail_in = 1;
	inject_ctl(c, T0, &b->addr, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(alloc_fail_in, 0);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(c->nout, 0);
	/* Up; a new Connected whose peer cannot be made. */
	inject_ctl(c, T0, &b->addr, FK_CONNECTED, 0x1234);
	ck_assert_int_eq(c->s.link, LINK_UP);
	out_reset(c);
	pool_off = 1;		/* every allocation by malloc */
	alloc_fail_in = 1;
	inject_ctl(c, T0 + MSEC, &b->addr, FK_CONNECTED, 0x5678);
	ck_assert_int_eq(alloc_fail_in, 0);
	ck_assert_uint_eq(c->s.npeers, 0);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_int_eq(c->ev[c->nev - 1].ev, PEV_DOWN_REPLACED);
	t = sock_next_deadline(&c->s);
	ck_assert_uint_eq(t, T0 + MSEC + c->s.o.reconnect_wait);
	ck_assert_uint_gt(sock_timers(&c->s, t), t);
	flush(c);
	check_only_ctl(c, FK_CONNECT, 0, &b->addr);

	/* Memory again: both sides work. */
	ck_assert_uint_eq(handshake(b, c, t), only_peer(c)->session);
	node_free(b);
	node_free(c);
}
END_TEST

static Suite *
session_suite(void)
{
	Suite	*s = suite_create("session");
	TCase	*tc;

	tc = tcase_create("connecting");
	tcase_add_test(tc, test_idle_to_connecting_on_connect);
	tcase_add_test(tc, test_idle_to_connecting_by_name);
	tcase_add_test(tc, test_connecting_reconnect_timer_resends_connect);
	tcase_add_test(tc, test_connecting_to_up_on_connected);
	tcase_add_test(tc, test_up_duplicate_connected_same_id);
	tcase_add_test(tc, test_up_connected_new_id_replaces_peer);
	tcase_add_test(tc, test_up_disconnected_to_connecting);
	tcase_add_test(tc, test_bound_restart_disconnected_reconnects);
	tcase_add_test(tc, test_up_keepalive_to_connecting);
	tcase_add_test(tc, test_connected_from_other_address_ignored);
	tcase_add_test(tc, test_orphans_survive_reconnect);
	tcase_add_test(tc, test_orphans_counted_when_destroyed);
	tcase_add_test(tc, test_up_set_remote_keeps_link);
	tcase_add_test(tc, test_connfail_no_answer);
	tcase_add_test(tc, test_connfail_warn_once_per_episode);
	tcase_add_test(tc, test_connfail_refused_encrypted);
	tcase_add_test(tc, test_connfail_shell_reasons);
	suite_add_tcase(s, tc);

	tc = tcase_create("bound");
	tcase_add_test(tc, test_bound_connect_creates_session);
	tcase_add_test(tc, test_bound_connect_max_peers_refused);
	tcase_add_test(tc, test_bound_rebind_max_peers_held);
	tcase_add_test(tc, test_bound_connect_same_address_replaces);
	tcase_add_test(tc, test_bound_disconnected_removes_peer);
	tcase_add_test(tc, test_bound_keepalive_removes_peer);
	suite_add_tcase(s, tc);

	tc = tcase_create("both");
	tcase_add_test(tc, test_any_frame_refreshes_last_seen);
	tcase_add_test(tc, test_address_follows_nat_rebinding);
	tcase_add_test(tc, test_connecting_side_address_follows);
	tcase_add_test(tc, test_heartbeat_due);
	tcase_add_test(tc, test_heartbeats_batched);
	tcase_add_test(tc, test_heartbeat_reach);
	tcase_add_test(tc, test_unknown_session_sends_disconnected);
	tcase_add_test(tc, test_unknown_session_rate_limited);
	tcase_add_test(tc, test_unknown_session_rate_per_source);
	tcase_add_test(tc, test_ctl_kernel_full);
	tcase_add_test(tc, test_ctl_outbox_full_flushes);
	tcase_add_test(tc, test_bad_datagrams_counted);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_test(tc, test_alloc_fail_sessions);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init(LOG_ERR, 1);
	return run_suite(session_suite());
}
