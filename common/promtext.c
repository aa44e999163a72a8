/* SPDX-License-Identifier: ISC */
/*
 * promtext.c: the Prometheus text exposition format (version 0.0.4), or
 * OpenMetrics 1.0, of nbmqd's counters (promtext.h).
 *
 * Names follow Prometheus's conventions: nbmq_ as the namespace, the unit
 * in the name (seconds, bytes; messages and datagrams are counts), _total
 * on counters, labels for what varies (socket, type, reason, event) and
 * never in the name.  A socket's every drop reason is a series, zeros
 * too, so that rate() sees a reason from its first drop.  Per-peer
 * series only when the caller passes peers (metrics_peers = yes): a
 * bound socket may have thousands.
 */
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "nbmq.h"
#include "promtext.h"

static const char *
prom_type_name(uint32_t t)
{
	switch (t) {
	case NBMQ_DEALER:
		return "dealer";
	case NBMQ_SAFE_DEALER:
		return "safe_dealer";
	case NBMQ_RADIO:
		return "radio";
	case NBMQ_DISH:
		return "dish";
	case NBMQ_STUN:
		return "stun";
	default:
		return "unknown";
	}
}

/* A label value: backslash, double quote and newline escaped. */
static void
prom_label(FILE *f, const char *v, size_t max)
{
	for (size_t i = 0; i < max && v[i] != '\0'; i++) {
		if (v[i] == '\\' || v[i] == '"')
			fprintf(f, "\\%c", v[i]);
		else if (v[i] == '\n')
			fputs("\\n", f);
		else
			fputc(v[i], f);
	}
}

/* HELP and TYPE; OpenMetrics names a counter's family without _total. */
static void
prom_family(FILE *f, int om, const char *name, const char *type,
    const char *help)
{
	size_t	n = strlen(name);
	int	cut = om && strcmp(type, "counter") == 0 && n > 6 &&
		    strcmp(name + n - 6, "_total") == 0;

	fprintf(f, "# HELP %.*s %s\n", (int)(cut ? n - 6 : n), name, help);
	fprintf(f, "# TYPE %.*s %s\n", (int)(cut ? n - 6 : n), name, type);
}

static void
prom_sock_labels(FILE *f, const struct ipc_ctl_sock *s)
{
	fputs("{socket=\"", f);
	prom_label(f, s->name, sizeof(s->name));
	fprintf(f, "\",type=\"%s\"", prom_type_name(s->type));
}

/* One value of every socket: field at off (a uint64_t or uint32_t). */
static void
prom_socks(FILE *f, const struct prom_in *in, int om, const char *name,
    const char *type, const char *help, size_t off, int is32)
{
	prom_family(f, om, name, type, help);
	for (size_t i = 0; i < in->nsocks; i++) {
		const char	*p = (const char *)&in->socks[i] + off;
		uint64_t	 v;
		uint32_t	 v32;

		if (is32) {
			memcpy(&v32, p, sizeof(v32));
			v = v32;
		} else
			memcpy(&v, p, sizeof(v));
		fputs(name, f);
		prom_sock_labels(f, &in->socks[i]);
		fprintf(f, "} %" PRIu64 "\n", v);
	}
}

#define SOCK64(in, f, om, name, type, help, field)			\
	prom_socks(f, in, om, name, type, help,				\
	    offsetof(struct ipc_ctl_sock, field), 0)
#define SOCK32(in, f, om, name, type, help, field)			\
	prom_socks(f, in, om, name, type, help,				\
	    offsetof(struct ipc_ctl_sock, field), 1)

static void
prom_daemon(FILE *f, const struct prom_in *in, int om)
{
	const struct ipc_ctl_status	*st = in->status;
	const struct ipc_ctl_stats	*ss = in->stats;
	const char			*v = st->version;
	static const struct {
		const char	*name;
		size_t		 off;
	} ev[] = {
		{ "up", offsetof(struct ipc_ctl_events, up) },
		{ "down_keepalive",
		    offsetof(struct ipc_ctl_events, down_keepalive) },
		{ "down_disconnected",
		    offsetof(struct ipc_ctl_events, down_disconnected) },
		{ "down_replaced",
		    offsetof(struct ipc_ctl_events, down_replaced) },
		{ "down_closed", offsetof(struct ipc_ctl_events, down_closed) },
		{ "address_changed",
		    offsetof(struct ipc_ctl_events, address_changed) },
	};

	if (strncmp(v, "nbmqd ", 6) == 0)
		v += 6;
	prom_family(f, om, "nbmq_build_info", "gauge",
	    "nbmqd's version, as a label; always 1");
	fputs("nbmq_build_info{version=\"", f);
	prom_label(f, v, sizeof(st->version));
	fputs("\"} 1\n", f);
	prom_family(f, om, "nbmq_uptime_seconds", "gauge",
	    "Seconds since nbmqd started");
	fprintf(f, "nbmq_uptime_seconds %.3f\n", (double)st->uptime_ms / 1e3);
	if (ss->heap_kib != 0) {	/* 0: a daemon that cannot say */
		prom_family(f, om, "nbmq_heap_bytes", "gauge",
		    "Heap in use: what malloc handed out and has not had back");
		fprintf(f, "nbmq_heap_bytes %" PRIu64 "\n",
		    (uint64_t)ss->heap_kib * 1024);
	}
	prom_family(f, om, "nbmq_ipc_clients", "gauge",
	    "Applications and control clients connected to the IPC socket");
	fprintf(f, "nbmq_ipc_clients %" PRIu32 "\n", st->clients);
	prom_family(f, om, "nbmq_sockets", "gauge", "Sockets now");
	fprintf(f, "nbmq_sockets %" PRIu32 "\n", st->sockets);
	prom_family(f, om, "nbmq_sockets_closed_total", "counter",
	    "Sockets closed since start (their counts stay in the totals)");
	fprintf(f, "nbmq_sockets_closed_total %" PRIu64 "\n",
	    ss->sockets_closed);
	prom_family(f, om, "nbmq_sessions_created_total", "counter",
	    "Peer sessions created, over every socket");
	fprintf(f, "nbmq_sessions_created_total %" PRIu64 "\n", ss->sessions);
	prom_family(f, om, "nbmq_peer_events_total", "counter",
	    "Peer events by kind, over every socket");
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++) {
		uint64_t	n;

		memcpy(&n, (const char *)&ss->ev + ev[i].off, sizeof(n));
		fprintf(f, "nbmq_peer_events_total{event=\"%s\"} %" PRIu64
		    "\n", ev[i].name, n);
	}
}

static void
prom_sockets(FILE *f, const struct prom_in *in, int om)
{
	SOCK32(in, f, om, "nbmq_socket_peers", "gauge",
	    "Peers with a session", peers);
	SOCK32(in, f, om, "nbmq_socket_applications", "gauge",
	    "Applications attached", napps);
	SOCK64(in, f, om, "nbmq_socket_messages_received_total", "counter",
	    "Messages received from peers", rx_msgs);
	SOCK64(in, f, om, "nbmq_socket_messages_sent_total", "counter",
	    "Messages sent to peers", tx_msgs);
	SOCK64(in, f, om, "nbmq_socket_datagrams_received_total", "counter",
	    "UDP datagrams read", rx_datagrams);
	SOCK64(in, f, om, "nbmq_socket_datagrams_sent_total", "counter",
	    "UDP datagrams sent", tx_datagrams);
	SOCK64(in, f, om, "nbmq_socket_sessions_created_total", "counter",
	    "Peer sessions created", sessions);
	SOCK64(in, f, om, "nbmq_socket_resends_total", "counter",
	    "safe_dealer frames sent again for want of an Ack", resends);
	SOCK64(in, f, om, "nbmq_socket_giveups_total", "counter",
	    "safe_dealer messages given up after the resend limit", giveups);
	SOCK64(in, f, om, "nbmq_socket_receive_queue_messages", "gauge",
	    "Messages waiting for the application", rq);
	SOCK64(in, f, om, "nbmq_socket_held_messages", "gauge",
	    "Messages written to applications, not yet confirmed", held);
	SOCK64(in, f, om, "nbmq_socket_reassembly_messages", "gauge",
	    "Messages being reassembled", reasm);
	SOCK64(in, f, om, "nbmq_socket_send_queue_messages", "gauge",
	    "Messages in the peers' send queues", queued);
	SOCK64(in, f, om, "nbmq_socket_send_hwm_messages", "gauge",
	    "send_hwm: a peer's send queue limit", send_hwm);
	SOCK64(in, f, om, "nbmq_socket_recv_hwm_messages", "gauge",
	    "recv_hwm: the receive queue limit", recv_hwm);
	prom_family(f, om, "nbmq_socket_drops_total", "counter",
	    "What was dropped, by reason (datagrams, frames or messages: "
	    "see nbmqctl reasons)");
	for (size_t i = 0; i < in->nsocks; i++) {
		const struct ipc_ctl_sock *s = &in->socks[i];

		for (size_t r = 1; r < in->nreasons && r < NBMQ_IPC_NDROPS;
		    r++) {
			if (in->reasons[r][0] == '\0')
				continue;
			fputs("nbmq_socket_drops_total", f);
			prom_sock_labels(f, s);
			fputs(",reason=\"", f);
			prom_label(f, in->reasons[r], NBMQ_IPC_WORD_LEN);
			fprintf(f, "\"} %" PRIu64 "\n", s->drops[r]);
		}
	}
}

static void
prom_peer_labels(FILE *f, const struct ipc_ctl_peer *p)
{
	fputs("{socket=\"", f);
	prom_label(f, p->sock, sizeof(p->sock));
	fprintf(f, "\",session=\"%016" PRIx64 "\",peer=\"", p->session);
	prom_label(f, p->addr, sizeof(p->addr));
	fputs("\"}", f);
}

static void
prom_peers(FILE *f, const struct prom_in *in, int om)
{
	static const struct {
		const char	*name, *help;
		size_t		 off;
	} pf[] = {
		{ "nbmq_peer_messages_received_total",
		    "Messages received from this peer",
		    offsetof(struct ipc_ctl_peer, rx_msgs) },
		{ "nbmq_peer_messages_sent_total", "Messages sent to this peer",
		    offsetof(struct ipc_ctl_peer, tx_msgs) },
		{ "nbmq_peer_received_bytes_total",
		    "Message bytes received from this peer",
		    offsetof(struct ipc_ctl_peer, rx_bytes) },
		{ "nbmq_peer_sent_bytes_total", "Message bytes sent to this peer",
		    offsetof(struct ipc_ctl_peer, tx_bytes) },
		{ "nbmq_peer_resends_total", "Frames resent to this peer",
		    offsetof(struct ipc_ctl_peer, resends) },
		{ "nbmq_peer_giveups_total", "Messages given up to this peer",
		    offsetof(struct ipc_ctl_peer, giveups) },
	};

	for (size_t k = 0; k < sizeof(pf) / sizeof(pf[0]); k++) {
		prom_family(f, om, pf[k].name, "counter", pf[k].help);
		for (size_t i = 0; i < in->npeers; i++) {
			uint64_t	v;

			memcpy(&v, (const char *)&in->peers[i] + pf[k].off,
			    sizeof(v));
			fputs(pf[k].name, f);
			prom_peer_labels(f, &in->peers[i]);
			fprintf(f, " %" PRIu64 "\n", v);
		}
	}
	prom_family(f, om, "nbmq_peer_send_queue_messages", "gauge",
	    "Messages queued to this peer");
	for (size_t i = 0; i < in->npeers; i++) {
		fputs("nbmq_peer_send_queue_messages", f);
		prom_peer_labels(f, &in->peers[i]);
		fprintf(f, " %" PRIu64 "\n", in->peers[i].sendq);
	}
}

void
prom_write(FILE *f, const struct prom_in *in, int openmetrics)
{
	prom_daemon(f, in, openmetrics);
	prom_sockets(f, in, openmetrics);
	if (in->peers != NULL)
		prom_peers(f, in, openmetrics);
	if (openmetrics)
		fputs("# EOF\n", f);
}
