/* SPDX-License-Identifier: ISC */
/*
 * peers.c: what users would pick instead of nbmq, measured in the same
 * run on the same loopback: libzmq 4.3 DEALER to DEALER over tcp, and
 * ENet 1.3 reliable and unreliable (issue 18).  64 B throughput with CPU
 * per message, and ping-pong.  Each peer as its own authors would have it
 * used for a stream: zmq sends block at its high-water mark (1,000
 * messages) and the tcp stream loses nothing; ENet's sender services its
 * host every 64 packets and, reliable, keeps at most 1,000 packets
 * unacknowledged, its own flow control doing the rest; unreliable packets
 * are unsequenced, so what the receiver misses is lost, and counted.
 */
#include <zmq.h>
#include <enet/enet.h>

#include "bench.h"

#define PEER_WINDOW	1000		/* ENet: packets not yet acked */
#define ENET_SERVICE	64		/* ENet: packets between services */

/* ---- libzmq DEALER over tcp ---- */

static void *
zmq_dealer(void **ctx)
{
	void	*s;
	int	 v = 0;

	if ((*ctx = zmq_ctx_new()) == NULL ||
	    (s = zmq_socket(*ctx, ZMQ_DEALER)) == NULL)
		child_fail("zmq: %s", zmq_strerror(errno));
	zmq_setsockopt(s, ZMQ_LINGER, &v, sizeof(v));
	return s;
}

static void *
zmq_bound(void **ctx)
{
	void	*s = zmq_dealer(ctx);
	size_t	 len = sizeof(sh->endpoint);

	if (zmq_bind(s, "tcp://127.0.0.1:*") == -1)
		child_fail("zmq_bind: %s", zmq_strerror(errno));
	zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, sh->endpoint, &len);
	STORE(sh->have_ep, 1);
	return s;
}

static void *
zmq_connected(void **ctx)
{
	void	*s = zmq_dealer(ctx);

	if (wait_flag(&sh->have_ep, 10) == -1)
		_exit(1);
	if (zmq_connect(s, sh->endpoint) == -1)
		child_fail("zmq_connect: %s", zmq_strerror(errno));
	return s;
}

void
zmq_rx_child(int idx)
{
	struct rxstat	*st = &sh->rx[idx];
	void		*ctx, *s = zmq_bound(&ctx);
	uint8_t		 buf[2048];
	int		 tmo = 100;
	double		 c0;

	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	INC(sh->ready);
	c0 = child_go();
	for (;;) {
		if (zmq_recv(s, buf, sizeof(buf), 0) >= 0) {
			if (st->got++ == 0)
				st->t_first = now();
			st->bytes += (uint64_t)case_size;
			st->t_last = now();
			continue;
		}
		if (rx_stop(st->got, st->t_last))
			break;
	}
	st->cpu = cpu_self() - c0;
	STORE(st->done, 1);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

void
zmq_tx_child(int unused)
{
	void		*ctx, *s = zmq_connected(&ctx);
	uint8_t		 buf[64] = { 0 };
	uint64_t	 n = 0;
	double		 end, c0;

	INC(sh->ready);
	c0 = child_go();
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	while ((n & 63) != 0 || now() < end)
		if (zmq_send(s, buf, (size_t)case_size, 0) >= 0)
			n++;
	sh->t_end = now();
	sh->tx_cpu = cpu_self() - c0;
	STORE(sh->sent, n);
	STORE(sh->done, 1);
	/* Linger until the receiver has all of it (a tcp stream loses
	 * nothing: what it sent is what it counts). */
	while (!LOAD(sh->release) && !LOAD(sh->stop))
		sleep_s(0.01);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

void
zmq_echo_child(int unused)
{
	void	*ctx, *s = zmq_bound(&ctx);
	uint8_t	 buf[2048];
	int	 tmo = 500, n;

	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	INC(sh->ready);
	for (;;) {
		if ((n = zmq_recv(s, buf, sizeof(buf), 0)) < 0) {
			if (LOAD(sh->done) || LOAD(sh->stop))
				break;
			continue;
		}
		if (n == 1 && buf[0] == STOP_BYTE)
			break;
		zmq_send(s, buf, (size_t)n, 0);
	}
	zmq_close(s);
	zmq_ctx_term(ctx);
}

void
zmq_ping_child(int unused)
{
	void		*ctx, *s = zmq_connected(&ctx);
	uint8_t		 buf[2048] = { 0 };
	uint32_t	 seq = 0, k = 0, back;
	int		 tmo = 200;
	double		 end, t;

	zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof(tmo));
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	for (uint32_t i = 0; k < MAXRTT && (t = now()) < end; i++) {
		seq++;
		memcpy(buf, &seq, 4);
		zmq_send(s, buf, 64, 0);
		for (;;) {
			if (zmq_recv(s, buf, sizeof(buf), 0) < 0) {
				sh->lost++;
				break;
			}
			memcpy(&back, buf, 4);
			if (back != seq)
				continue;
			if (i >= 200)
				sh->rtt[k++] = now() - t;
			break;
		}
	}
	sh->nrtt = k;
	sh->t_end = now();
	buf[0] = STOP_BYTE;
	zmq_send(s, buf, 1, 0);
	STORE(sh->done, 1);
	zmq_close(s);
	zmq_ctx_term(ctx);
}

/* ---- ENet ---- */

int	case_enet_reliable;	/* enetrel64; enetunrel64: unsequenced */

static ENetHost *
enet_server(void)
{
	ENetAddress	 a = { .host = ENET_HOST_ANY, .port = 0 };
	ENetHost	*h;

	if (enet_initialize() != 0)
		child_fail("enet_initialize");
	enet_address_set_host(&a, "127.0.0.1");
	if ((h = enet_host_create(&a, 4, 1, 0, 0)) == NULL)
		child_fail("enet_host_create (server)");
	if (enet_socket_get_address(h->socket, &a) == 0)
		sh->port = a.port;
	STORE(sh->have_ep, 1);
	return h;
}

/* A client host and its peer, connected; NULL host on failure. */
static ENetHost *
enet_client(ENetPeer **pp)
{
	ENetAddress	 a = { 0 };
	ENetHost	*h;
	ENetEvent	 ev;
	double		 end = now() + 10;

	if (enet_initialize() != 0)
		child_fail("enet_initialize");
	if (wait_flag(&sh->have_ep, 10) == -1)
		_exit(1);
	if ((h = enet_host_create(NULL, 1, 1, 0, 0)) == NULL)
		child_fail("enet_host_create (client)");
	enet_address_set_host(&a, "127.0.0.1");
	a.port = sh->port;
	if ((*pp = enet_host_connect(h, &a, 1, 0)) == NULL)
		child_fail("enet_host_connect");
	while (now() < end)
		if (enet_host_service(h, &ev, 100) > 0 &&
		    ev.type == ENET_EVENT_TYPE_CONNECT)
			return h;
	child_fail("enet: no connection");
}

void
enet_rx_child(int idx)
{
	struct rxstat	*st = &sh->rx[idx];
	ENetHost	*h = enet_server();
	ENetEvent	 ev;
	double		 c0;
	int		 r;

	INC(sh->ready);
	c0 = child_go();
	for (;;) {
		while ((r = enet_host_service(h, &ev, 50)) > 0) {
			if (ev.type != ENET_EVENT_TYPE_RECEIVE)
				continue;
			if (st->got++ == 0)
				st->t_first = now();
			st->bytes += ev.packet->dataLength;
			st->t_last = now();
			enet_packet_destroy(ev.packet);
		}
		if (r < 0 || rx_stop(st->got, st->t_last))
			break;
	}
	st->cpu = cpu_self() - c0;
	STORE(st->done, 1);
	/* Keep acknowledging until the sender is through. */
	while (!LOAD(sh->release) && !LOAD(sh->stop))
		enet_host_service(h, &ev, 10);
	enet_host_destroy(h);
}

void
enet_tx_child(int unused)
{
	ENetPeer	*p;
	ENetHost	*h = enet_client(&p);
	ENetEvent	 ev;
	uint8_t		 buf[64] = { 0 };
	uint64_t	 n = 0;
	double		 end, c0;
	enet_uint32	 flags = case_enet_reliable ?
			    ENET_PACKET_FLAG_RELIABLE :
			    ENET_PACKET_FLAG_UNSEQUENCED;

	INC(sh->ready);
	c0 = child_go();
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	while ((n & (ENET_SERVICE - 1)) != 0 || now() < end) {
		ENetPacket *pk = enet_packet_create(buf, (size_t)case_size,
		    flags);

		if (pk == NULL || enet_peer_send(p, 0, pk) != 0)
			child_fail("enet_peer_send");
		if (++n % ENET_SERVICE != 0)
			continue;
		/* Reliable: no more than PEER_WINDOW packets unacked. */
		do
			while (enet_host_service(h, &ev, 0) > 0)
				;
		while (case_enet_reliable &&
		    p->reliableDataInTransit > (enet_uint32)(PEER_WINDOW * case_size) &&
		    now() < end + 5);
	}
	enet_host_flush(h);
	sh->t_end = now();
	sh->tx_cpu = cpu_self() - c0;
	STORE(sh->sent, n);
	STORE(sh->done, 1);
	while (!LOAD(sh->release) && !LOAD(sh->stop))
		enet_host_service(h, &ev, 10);
	enet_host_destroy(h);
}

void
enet_echo_child(int unused)
{
	ENetHost	*h = enet_server();
	ENetEvent	 ev;

	INC(sh->ready);
	while (!LOAD(sh->stop)) {
		if (enet_host_service(h, &ev, 100) <= 0) {
			if (LOAD(sh->done))
				break;
			continue;
		}
		if (ev.type != ENET_EVENT_TYPE_RECEIVE)
			continue;
		if (ev.packet->dataLength == 1 &&
		    ev.packet->data[0] == STOP_BYTE) {
			enet_packet_destroy(ev.packet);
			break;
		}
		enet_peer_send(ev.peer, 0, enet_packet_create(ev.packet->data,
		    ev.packet->dataLength, ENET_PACKET_FLAG_RELIABLE));
		enet_host_flush(h);
		enet_packet_destroy(ev.packet);
	}
	enet_host_destroy(h);
}

void
enet_ping_child(int unused)
{
	ENetPeer	*p;
	ENetHost	*h = enet_client(&p);
	ENetEvent	 ev;
	uint8_t		 buf[64] = { 0 };
	uint32_t	 seq = 0, k = 0, back;
	double		 end, t, give_up;

	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	for (uint32_t i = 0; k < MAXRTT && (t = now()) < end; i++) {
		seq++;
		memcpy(buf, &seq, 4);
		enet_peer_send(p, 0, enet_packet_create(buf, 64,
		    ENET_PACKET_FLAG_RELIABLE));
		enet_host_flush(h);
		for (give_up = t + 0.2;;) {
			if (enet_host_service(h, &ev, 1) <= 0) {
				if (now() > give_up) {
					sh->lost++;
					break;
				}
				continue;
			}
			if (ev.type != ENET_EVENT_TYPE_RECEIVE)
				continue;
			memcpy(&back, ev.packet->data, 4);
			enet_packet_destroy(ev.packet);
			if (back != seq)
				continue;
			if (i >= 200)
				sh->rtt[k++] = now() - t;
			break;
		}
	}
	sh->nrtt = k;
	sh->t_end = now();
	buf[0] = STOP_BYTE;
	enet_peer_send(p, 0, enet_packet_create(buf, 1,
	    ENET_PACKET_FLAG_RELIABLE));
	enet_host_flush(h);
	STORE(sh->done, 1);
	enet_host_destroy(h);
}
