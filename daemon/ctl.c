/* SPDX-License-Identifier: ISC */
/*
 * ctl.c: the control requests of nbmqctl (nbmq-protocol.h, 0x04xx).
 *
 * One function builds each wire struct from the daemon's state
 * (ctl_build_status, ctl_build_sock, ctl_build_peer, ctl_build_stats), so
 * what nbmqctl shows is read in one place.  Lists are streamed: one message
 * per item, then IPC_CTL_END with the count.  A list that does not fit
 * under the client's output cap goes out in slices as the client reads
 * (ctl_resume), so a client that does not read holds about a megabyte of
 * the daemon's memory, not the whole list; peers that come or go between
 * two slices may be missed or shown in the next one.
 *
 * Authority sits at one switch, ctl_request(): the read requests are for
 * everyone who can open the IPC socket (its mode and group decide), reload
 * for root and for the daemon's own uid or gid (SO_PEERCRED).
 */
#include <sys/types.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shell.h"
#include "promtext.h"
#include "acl.h"

static struct log_rl	ctl_rl_refused;

_Static_assert(DROP_NREASONS <= NBMQ_IPC_NDROPS, "more drop reasons than "
    "NBMQ_IPC_NDROPS: raise it and NBMQ_IPC_VERSION");
_Static_assert(NBMQ_NAME_MAX < NBMQ_IPC_NAME_LEN, "socket names too long");

#define CTL_TEXT_MAX	16384		/* reload errors sent back */

/* A list being sent to one client. */
struct ctl_list {
	uint16_t	 type;		/* IPC_CTL_SOCKETS, _PEERS, _REASONS,
					   _INDEX */
	uint32_t	 reqid;
	uint32_t	 handle;	/* next socket: lowest handle >= this */
	uint32_t	 index;		/* next peer (or reason) by position */
	uint32_t	 count;		/* items sent */
	char		 sock[NBMQ_IPC_NAME_LEN];	/* PEERS: "" for all */
};

/* Milliseconds since t, or IPC_CTL_NEVER for a time that never was. */
static uint64_t
ctl_age(nbmq_time t, nbmq_time now)
{
	if (t == 0 || t == NBMQ_TIME_NEVER)
		return IPC_CTL_NEVER;
	return now > t ? (now - t) / MSEC : 0;
}


/* Every socket's counters, the closed ones' included. */
static void
ctl_totals(struct sock_stats *t)
{
	struct dsock	*d;

	*t = nbmqd->closed_st;
	TAILQ_FOREACH(d, &nbmqd->socks, entry)
		sock_stats_add(t, &d->core.st);
}

static void
ctl_build_events(struct ipc_ctl_events *w, const uint64_t pev[PEV_NEVENTS])
{
	w->up = pev[PEV_UP];
	w->down_keepalive = pev[PEV_DOWN_KEEPALIVE];
	w->down_disconnected = pev[PEV_DOWN_DISCONNECTED];
	w->down_replaced = pev[PEV_DOWN_REPLACED];
	w->down_closed = pev[PEV_DOWN_CLOSED];
	w->address_changed = pev[PEV_ADDRESS];
}

static void
ctl_build_status(struct ipc_ctl_status *w, nbmq_time now)
{
	struct sock_stats	 t;
	struct dsock		*d;

	memset(w, 0, sizeof(*w));
	snprintf(w->version, sizeof(w->version), "nbmqd %s", NBMQD_VERSION);
	if (nbmqd->conf != NULL && nbmqd->conf->path != NULL)
		snprintf(w->config, sizeof(w->config), "%s",
		    nbmqd->conf->path);
	w->uptime_ms = ctl_age(nbmqd->started, now);
	w->pid = (uint32_t)getpid();
	w->uid = (uint32_t)geteuid();
	TAILQ_FOREACH(d, &nbmqd->socks, entry) {
		w->sockets++;
		w->configured += d->configured != 0;
		w->peers += d->core.npeers;
	}
	w->clients = (uint32_t)ipc_client_count();
	ctl_totals(&t);
	w->rx_msgs = t.rx_msgs;
	w->tx_msgs = t.tx_msgs;
	for (int i = DROP_NONE + 1; i < DROP_NREASONS; i++)
		w->drops += t.drops[i];
	w->sessions = t.sessions_created;
}

static void
ctl_build_sock(struct ipc_ctl_sock *w, const struct dsock *d)
{
	const struct sock	*s = &d->core;
	const struct sub	*u;
	pid_t			 pid;
	uid_t			 uid;
	gid_t			 gid;
	uint32_t		 n = 0;

	memset(w, 0, sizeof(*w));
	snprintf(w->name, sizeof(w->name), "%s", s->name);
	if (d->fd != -1)
		addr_fmt(&d->local, w->local, sizeof(w->local));
	if (!s->bound && d->host != NULL)
		snprintf(w->remote, sizeof(w->remote), "%s:%u", d->host,
		    d->port);
	else if (!s->bound && s->remote_valid)
		addr_fmt(&s->remote, w->remote, sizeof(w->remote));
	snprintf(w->state, sizeof(w->state), "%s", d->closing ? "closing" :
	    stunidx_state(d) != NULL && strcmp(stunidx_state(d),
	    "degraded") == 0 ? "degraded" :
	    s->bound ? "bound" : link_state_names[s->link]);
	if (s->mapped_at != 0)
		addr_fmt(&s->mapped, w->mapped, sizeof(w->mapped));
	snprintf(w->encryptor, sizeof(w->encryptor), "%s", crypt_label(s));
	crypt_self(s, w->key, sizeof(w->key));
	w->handle = d->handle;
	w->type = (uint32_t)s->type;
	w->flags = (d->configured ? IPC_CTL_SOCK_CONFIGURED : 0) |
	    (s->bound ? IPC_CTL_SOCK_BOUND : 0) |
	    (s->link != LINK_IDLE ? IPC_CTL_SOCK_CONNECT : 0) |
	    (d->closing ? IPC_CTL_SOCK_CLOSING : 0);
	w->peers = s->npeers;
	w->napps = d->nsubs;
	TAILQ_FOREACH(u, &d->subs, entry) {
		if (n == NBMQ_IPC_NPIDS)
			break;
		ipc_client_cred(u->c, &pid, &uid, &gid);
		w->pids[n++] = (uint32_t)pid;
	}
	w->ndrops = DROP_NREASONS;
	w->rq = s->rq_len;
	w->held = s->rq_held;
	TAILQ_FOREACH(u, &d->subs, entry)
		if (s->type == NBMQ_DISH)
			w->held += u->held.len;
	w->reasm = s->nreasm;
	w->queued = s->queued;
	w->send_hwm = s->o.send_hwm;
	w->recv_hwm = s->o.recv_hwm;
	w->rx_datagrams = s->st.rx_datagrams;
	w->tx_datagrams = s->st.tx_datagrams;
	w->rx_msgs = s->st.rx_msgs;
	w->tx_msgs = s->st.tx_msgs;
	w->sessions = s->st.sessions_created;
	w->resends = s->st.resends;
	w->giveups = s->st.giveups;
	ctl_build_events(&w->ev, d->pev);
	for (int i = 0; i < DROP_NREASONS; i++)
		w->drops[i] = s->st.drops[i];
	if (!s->bound && !d->closing && s->link == LINK_CONNECTING) {
		w->conn_ms = ctl_age(s->conn_since, daemon_now());
		w->conn_reason = (uint32_t)s->conn_reason;
		w->conn_unanswered = s->conn_unanswered;
	}
}

static void
ctl_build_peer(struct ipc_ctl_peer *w, const struct dsock *d,
    const struct peer *p, nbmq_time now)
{
	memset(w, 0, sizeof(*w));
	snprintf(w->sock, sizeof(w->sock), "%s", d->core.name);
	addr_fmt(&p->addr, w->addr, sizeof(w->addr));
	if (p->prev_addr.u.sa.sa_family != 0)
		addr_fmt(&p->prev_addr, w->prev_addr, sizeof(w->prev_addr));
	/* A peer exists only while its session is up. */
	snprintf(w->state, sizeof(w->state), "%s", link_state_names[LINK_UP]);
	w->session = p->session;
	w->up_ms = ctl_age(p->up_since, now);
	w->last_rx_ms = ctl_age(p->last_seen, now);
	w->last_tx_ms = ctl_age(p->last_sent, now);
	w->rx_msgs = p->st.rx_msgs;
	w->rx_bytes = p->st.rx_bytes;
	w->tx_msgs = p->st.tx_msgs;
	w->tx_bytes = p->st.tx_bytes;
	w->rx_frames = p->st.rx_frames;
	w->tx_frames = p->st.tx_frames;
	w->resends = p->st.resends;
	w->giveups = p->st.giveups;
	w->sendq = p->sendq_len;
	w->inflight = p->inflight;
	w->reach = p->reach & 0xff;
	w->ndrops = DROP_NREASONS;
	for (int i = 0; i < DROP_NREASONS; i++)
		w->drops[i] = p->st.drops[i];
	w->frame_size = p->ext ? p->frame_size :
	    (uint32_t)d->core.o.max_frame_size;
	w->ext_flags = p->ext ? p->ext_flags : 0;
	w->pace_rate = p->pace.rate;
	w->slows_rx = p->pace.cuts;
	w->slows_tx = p->pace.slows_tx;
	snprintf(w->key, sizeof(w->key), "%.*s", (int)sizeof(w->key) - 1,
	    p->who);
}

static void
ctl_build_stats(struct ipc_ctl_stats *w, nbmq_time now)
{
	struct sock_stats	 t;
	struct dsock		*d;
	uint64_t		 heap;

	memset(w, 0, sizeof(*w));
	w->uptime_ms = ctl_age(nbmqd->started, now);
	TAILQ_FOREACH(d, &nbmqd->socks, entry) {
		w->sockets++;
		w->peers += d->core.npeers;
	}
	w->sockets_closed = nbmqd->nclosed;
	ctl_totals(&t);
	w->rx_datagrams = t.rx_datagrams;
	w->tx_datagrams = t.tx_datagrams;
	w->rx_msgs = t.rx_msgs;
	w->tx_msgs = t.tx_msgs;
	w->sessions = t.sessions_created;
	w->resends = t.resends;
	w->giveups = t.giveups;
	ctl_build_events(&w->ev, nbmqd->pev);
	w->ndrops = DROP_NREASONS;
	for (int i = 0; i < DROP_NREASONS; i++)
		w->drops[i] = t.drops[i];
	heap = (daemon_heap_bytes() + 1023) / 1024;
	w->heap_kib = heap > UINT32_MAX ? UINT32_MAX : (uint32_t)heap;
}

/* One name of a stun socket's index (stunsrv.c). */
static void
ctl_build_index(struct ipc_ctl_index *w, const struct dsock *d,
    const struct stun_entry *e, nbmq_time now)
{
	nbmq_time	 exp = stunsrv_expiry(&d->core, e);

	memset(w, 0, sizeof(*w));
	snprintf(w->sock, sizeof(w->sock), "%s", d->core.name);
	snprintf(w->name, sizeof(w->name), "%s", e->name);
	addr_fmt(&e->addr, w->addr, sizeof(w->addr));
	w->registered_ms = ctl_age(e->first, now);
	w->refreshed_ms = ctl_age(e->last, now);
	w->expires_ms = exp > now ? (exp - now) / MSEC : 0;
	w->refreshes = e->refreshes;
	w->lookups = e->lookups;
	if (stunidx_holder(d) != NULL)
		snprintf(w->where, sizeof(w->where), "%s", stunidx_holder(d));
}

/* One name of the shared index registered at another rendezvous. */
static void
ctl_build_shared(struct ipc_ctl_index *w, const struct dsock *d,
    const struct stunidx_row *r)
{
	uint64_t	 life = 3 * d->core.o.stun_refresh_ivl / MSEC;

	memset(w, 0, sizeof(*w));
	snprintf(w->sock, sizeof(w->sock), "%s", d->core.name);
	snprintf(w->name, sizeof(w->name), "%s", r->name);
	snprintf(w->addr, sizeof(w->addr), "%s", r->addr);
	snprintf(w->where, sizeof(w->where), "%s", r->holder);
	w->registered_ms = IPC_CTL_NEVER;	/* not known here */
	w->expires_ms = r->pttl > 0 ? (uint64_t)r->pttl : 0;
	/* Refreshed: as far as this rendezvous' refresh interval says. */
	w->refreshed_ms = w->expires_ms < life ? life - w->expires_ms : 0;
}

/*
 * A stun socket's names from position l->index: its own, then those of
 * the shared index registered elsewhere.  1: more to come (the output is
 * full, or the shared index is being read).
 */
static int
ctl_index_more(struct client *c, struct ctl_list *l, struct dsock *d,
    nbmq_time now)
{
	const struct stun_entry		*e;
	const struct stunidx_row	*rows;
	const char			*me = stunidx_holder(d);
	struct ipc_ctl_index		 wi;
	uint32_t			 i = 0, n, nlocal;

	e = stunsrv_first(&d->core);
	while (e != NULL && i < l->index) {
		e = TAILQ_NEXT(e, entry);
		i++;
	}
	for (; e != NULL; e = TAILQ_NEXT(e, entry)) {
		if (ipc_client_backlogged(c))
			return 1;
		ctl_build_index(&wi, d, e, now);
		ipc_send_msg(c, IPC_CTL_INDEX_ENTRY, 0, l->reqid, &wi,
		    sizeof(wi), NULL, 0);
		l->index++;
		l->count++;
	}
	if (stunidx_snapshot(d, &rows, &n))
		return 1;	/* ipc_ctl_resume_all() when it is read */
	nlocal = stunsrv_count(&d->core);
	for (i = l->index > nlocal ? l->index - nlocal : 0; i < n; i++) {
		if (ipc_client_backlogged(c))
			return 1;
		l->index++;
		if (me != NULL && strcmp(rows[i].holder, me) == 0)
			continue;	/* listed above */
		ctl_build_shared(&wi, d, &rows[i]);
		ipc_send_msg(c, IPC_CTL_INDEX_ENTRY, 0, l->reqid, &wi,
		    sizeof(wi), NULL, 0);
		l->count++;
	}
	return 0;
}

static void
ctl_build_reason(struct ipc_ctl_reason *w, uint32_t i)
{
	memset(w, 0, sizeof(*w));
	w->index = i;
	snprintf(w->name, sizeof(w->name), "%s", drop_reason_names[i]);
}

/* The socket with the lowest handle >= handle (and the name, if given). */
static struct dsock *
ctl_sock_from(uint32_t handle, const char *name)
{
	struct dsock	*d, *best = NULL;

	TAILQ_FOREACH(d, &nbmqd->socks, entry) {
		if (d->handle < handle || (best != NULL &&
		    d->handle >= best->handle))
			continue;
		if (*name != '\0' && strcmp(d->core.name, name) != 0)
			continue;
		best = d;
	}
	return best;
}

static struct dsock *
ctl_sock_by_name(const char *name)
{
	struct dsock	*d;

	TAILQ_FOREACH(d, &nbmqd->socks, entry)
		if (strcmp(d->core.name, name) == 0)
			return d;
	return NULL;
}

/* Items until the output is full; 1 while more are to come. */
static int
ctl_list_more(struct client *c, struct ctl_list *l, nbmq_time now)
{
	struct ipc_ctl_reason	 r;
	struct ipc_ctl_sock	 ws;
	struct ipc_ctl_peer	 wp;
	struct dsock		*d;
	struct peer		*p;
	uint32_t		 i;

	if (l->type == IPC_CTL_REASONS) {
		if (l->index == 0)
			l->index = DROP_NONE + 1;
		for (; l->index < DROP_NREASONS; l->index++, l->count++) {
			if (ipc_client_backlogged(c))
				return 1;
			ctl_build_reason(&r, l->index);
			ipc_send_msg(c, IPC_CTL_REASON, 0, l->reqid, &r,
			    sizeof(r), NULL, 0);
		}
		return 0;
	}
	while ((d = ctl_sock_from(l->handle, l->sock)) != NULL) {
		/* The socket of the last slice may be gone: start afresh. */
		if (d->handle != l->handle) {
			l->handle = d->handle;
			l->index = 0;
		}
		if (l->type == IPC_CTL_SOCKETS) {
			if (ipc_client_backlogged(c))
				return 1;
			ctl_build_sock(&ws, d);
			ipc_send_msg(c, IPC_CTL_SOCKET_INFO, 0, l->reqid, &ws,
			    sizeof(ws), NULL, 0);
			l->count++;
		} else if (l->type == IPC_CTL_INDEX) {
			/* Names: back to where the last slice stopped. */
			if (ctl_index_more(c, l, d, now))
				return 1;
		} else {
			/* Peers: back to where the last slice stopped. */
			i = 0;
			p = TAILQ_FIRST(&d->core.peers);
			while (p != NULL && i < l->index) {
				p = TAILQ_NEXT(p, entry);
				i++;
			}
			for (; p != NULL; p = TAILQ_NEXT(p, entry)) {
				if (ipc_client_backlogged(c))
					return 1;
				ctl_build_peer(&wp, d, p, now);
				ipc_send_msg(c, IPC_CTL_PEER_INFO, 0, l->reqid,
				    &wp, sizeof(wp), NULL, 0);
				l->index++;
				l->count++;
			}
		}
		if (d->handle == UINT32_MAX)
			break;
		l->handle = d->handle + 1;
		l->index = 0;
	}
	return 0;
}

static void
ctl_list_run(struct client *c)
{
	struct ctl_list		**lp = ipc_client_ctl(c), *l = *lp;
	struct ipc_ctl_end	  end;

	if (ctl_list_more(c, l, daemon_now()))
		return;
	memset(&end, 0, sizeof(end));
	end.count = l->count;
	ipc_send_msg(c, IPC_CTL_END, 0, l->reqid, &end, sizeof(end), NULL, 0);
	free(l);
	*lp = NULL;
}

void
ctl_resume(struct client *c)
{
	if (*ipc_client_ctl(c) != NULL)
		ctl_list_run(c);
}

void
ctl_client_gone(struct client *c)
{
	struct ctl_list	**lp = ipc_client_ctl(c);

	free(*lp);
	*lp = NULL;
}

static void
ctl_list_start(struct client *c, const struct nbmq_ipc_hdr *h,
    const char *sock)
{
	struct ctl_list	*l;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		ipc_send_result(c, h, ENOMEM, 0, 0, NULL);
		return;
	}
	l->type = h->type;
	l->reqid = h->reqid;
	snprintf(l->sock, sizeof(l->sock), "%s", sock);
	*ipc_client_ctl(c) = l;
	ctl_list_run(c);
}

static void
ctl_reload(struct client *c, const struct nbmq_ipc_hdr *h)
{
	char	*err = NULL;
	pid_t	 pid;
	uid_t	 uid;
	gid_t	 gid;
	int	 r;

	ipc_client_cred(c, &pid, &uid, &gid);
	log_info("reload requested by pid %d (uid %d)", (int)pid, (int)uid);
	r = reload_config(&err);
	if (err != NULL && strlen(err) > CTL_TEXT_MAX)
		strcpy(err + CTL_TEXT_MAX - 4, "...");
	ipc_send_result(c, h, r == 0 ? 0 : EINVAL, 0, 0,
	    err != NULL && *err != '\0' ? err : NULL);
	free(err);
}

/*
 * The one place that decides who may do what: reading is everyone's who
 * may connect; what changes the daemon (reload) is root's, the daemon
 * user's, or admin_group's (acl.c), the group database's membership.
 */
static int
ctl_allowed(struct client *c, uint16_t type)
{
	const struct config	*cf = nbmqd->conf;
	pid_t			 pid;
	uid_t			 uid;
	gid_t			 gid;

	if (type != IPC_CTL_RELOAD)
		return 1;
	if (acl_admin(ipc_client_acl(c), cf->admin_group != NULL,
	    cf->admin_gid) == 0)
		return 1;
	ipc_client_cred(c, &pid, &uid, &gid);
	log_warnx_rl(&ctl_rl_refused, "reload by pid %d (uid %d) refused: "
	    "not root, the daemon's user or admin_group", (int)pid, (int)uid);
	return 0;
}

const char *
ctl_request(struct client *c, const struct nbmq_ipc_hdr *h,
    const uint8_t *p)
{
	struct ipc_ctl_req	 req;
	struct ipc_ctl_status	 st;
	struct ipc_ctl_stats	 ss;
	struct dsock		*d;
	char			 why[NBMQ_IPC_NAME_LEN + 64];
	uint32_t		 size;
	nbmq_time		 now = daemon_now();

	if (h->reqid == 0)
		return "control request without id";
	switch (h->type) {
	case IPC_CTL_STATUS:
	case IPC_CTL_SOCKETS:
	case IPC_CTL_PEERS:
	case IPC_CTL_STATS:
	case IPC_CTL_REASONS:
	case IPC_CTL_RELOAD:
	case IPC_CTL_INDEX:
		break;
	default:
		return "unknown control request";
	}
	memset(&req, 0, sizeof(req));
	size = ipc_fixed_size(h->type);
	if (ipc_fixed_decode(h->type, p, h->len, size ? &req : NULL,
	    size) != 0)
		return "malformed control request";
	if (!ctl_allowed(c, h->type)) {
		ipc_send_result(c, h, EPERM, 0, 0, "only root, the daemon's "
		    "user or admin_group may do that");
		return NULL;
	}
	switch (h->type) {
	case IPC_CTL_STATUS:
		ctl_build_status(&st, now);
		ipc_send_msg(c, IPC_CTL_STATUS_INFO, 0, h->reqid, &st,
		    sizeof(st), NULL, 0);
		break;
	case IPC_CTL_STATS:
		ctl_build_stats(&ss, now);
		ipc_send_msg(c, IPC_CTL_STATS_INFO, 0, h->reqid, &ss,
		    sizeof(ss), NULL, 0);
		break;
	case IPC_CTL_PEERS:
		if (req.sock[0] != '\0' && ctl_sock_by_name(req.sock) == NULL) {
			snprintf(why, sizeof(why), "no socket named %s",
			    req.sock);
			ipc_send_result(c, h, ENXIO, 0, 0, why);
			break;
		}
		ctl_list_start(c, h, req.sock);
		break;
	case IPC_CTL_INDEX:
		if (req.sock[0] != '\0' && (d = ctl_sock_by_name(req.sock)) ==
		    NULL) {
			snprintf(why, sizeof(why), "no socket named %s",
			    req.sock);
			ipc_send_result(c, h, ENXIO, 0, 0, why);
			break;
		}
		if (req.sock[0] != '\0' && d->core.type != NBMQ_STUN) {
			snprintf(why, sizeof(why), "%s is not a stun socket",
			    req.sock);
			ipc_send_result(c, h, EINVAL, 0, 0, why);
			break;
		}
		ctl_list_start(c, h, req.sock);
		break;
	case IPC_CTL_SOCKETS:
	case IPC_CTL_REASONS:
		ctl_list_start(c, h, "");
		break;
	case IPC_CTL_RELOAD:
		ctl_reload(c, h);
		break;
	}
	return NULL;
}

/*
 * /metrics (metrics.c): what nbmqctl shows, read in the same place, as
 * Prometheus text.  The whole of it in one pass of the event loop: the
 * sockets, and their peers only with metrics_peers.
 */
int
ctl_metrics(FILE *f, int openmetrics, int peers)
{
	struct ipc_ctl_status	 st;
	struct ipc_ctl_stats	 ss;
	struct ipc_ctl_sock	*socks = NULL;
	struct ipc_ctl_peer	*pv = NULL;
	static char		 reasons[DROP_NREASONS][NBMQ_IPC_WORD_LEN];
	struct prom_in		 in;
	struct dsock		*d;
	struct peer		*p;
	nbmq_time		 now = daemon_now();
	size_t			 ns = 0, np = 0, i = 0, j = 0;

	TAILQ_FOREACH(d, &nbmqd->socks, entry) {
		ns++;
		np += d->core.npeers;
	}
	if ((socks = calloc(ns + 1, sizeof(*socks))) == NULL ||
	    (peers && (pv = calloc(np + 1, sizeof(*pv))) == NULL)) {
		free(socks);
		return -1;
	}
	ctl_build_status(&st, now);
	ctl_build_stats(&ss, now);
	TAILQ_FOREACH(d, &nbmqd->socks, entry) {
		ctl_build_sock(&socks[i++], d);
		if (pv == NULL)
			continue;
		TAILQ_FOREACH(p, &d->core.peers, entry)
			if (j < np)
				ctl_build_peer(&pv[j++], d, p, now);
	}
	for (int r = 0; r < DROP_NREASONS; r++)
		snprintf(reasons[r], sizeof(reasons[r]), "%s",
		    drop_reason_names[r]);
	memset(&in, 0, sizeof(in));
	in.status = &st;
	in.stats = &ss;
	in.socks = socks;
	in.nsocks = ns;
	in.peers = pv;
	in.npeers = j;
	in.reasons = (const char (*)[NBMQ_IPC_WORD_LEN])reasons;
	in.nreasons = DROP_NREASONS;
	prom_write(f, &in, openmetrics);
	free(socks);
	free(pv);
	return 0;
}
