/* SPDX-License-Identifier: ISC */
/*
 * ipcreq.c: an application's requests on sockets (IPC_SOCK_*), as a table
 * of {type, payload size, what it acts on, handler}, the way chrony's
 * cmdmon lists its commands.  The dispatcher checks what every request
 * shares (a request id, the payload's size, a string without NUL, the
 * socket it names or the room for a new one) before the handler runs;
 * handlers only do their job.  Sizes and replies are nbmq-protocol.h's.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "deliver.h"

#define REQ_SOCK	0x1	/* on the socket of h->handle (else EBADF) */
#define REQ_NEW		0x2	/* gives c one more: max_client_sockets */
#define REQ_STRING	0x4	/* a string payload, NUL-free */

/* What a handler gets: the request, its socket (REQ_SOCK), its payload
 * (a NUL-terminated copy for REQ_STRING). */
struct req {
	struct client			*c;
	const struct nbmq_ipc_hdr	*h;
	struct sub			*u;
	struct dsock			*d;
	const void			*p;
	nbmq_time			 now;
};

struct req_type {
	uint16_t	 type;
	uint32_t	 min, max;	/* payload length */
	int		 flags;
	const char	*bad;		/* the protocol error of a bad payload */
	void		(*fn)(struct req *);
};

static struct log_rl	rl_sockets, rl_access;
static uint64_t		naccess_refused;

static void	req_create(struct req *);
static void	req_attach(struct req *);
static void	req_close(struct req *);
static void	req_bind(struct req *);
static void	req_setopt(struct req *);
static void	req_getopt(struct req *);

static const struct req_type req_types[] = {
	{ IPC_SOCK_CREATE, sizeof(struct ipc_create),
	    sizeof(struct ipc_create), REQ_NEW, "bad create", req_create },
	{ IPC_SOCK_ATTACH, 1, NBMQ_IPC_MAX_STRING - 1, REQ_NEW | REQ_STRING,
	    "bad attach", req_attach },
	{ IPC_SOCK_CLOSE, 0, UINT32_MAX, REQ_SOCK, NULL, req_close },
	{ IPC_SOCK_BIND, 1, NBMQ_IPC_MAX_STRING - 1, REQ_SOCK | REQ_STRING,
	    "bad address", req_bind },
	{ IPC_SOCK_CONNECT, 1, NBMQ_IPC_MAX_STRING - 1, REQ_SOCK | REQ_STRING,
	    "bad address", req_bind },
	{ IPC_SOCK_SETOPT, sizeof(struct ipc_opt), sizeof(struct ipc_opt),
	    REQ_SOCK, "bad option request", req_setopt },
	{ IPC_SOCK_GETOPT, sizeof(struct ipc_opt), sizeof(struct ipc_opt),
	    REQ_SOCK, "bad option request", req_getopt },
};

static void
req_result(struct req *r, int err, uint64_t value, uint32_t aux,
    const char *str)
{
	ipc_send_result(r->c, r->h, err, value, aux, str);
}

/*
 * Access control (acl.c): refused with err, logged at most once a second
 * with the count so far; the client goes on as before.
 */
static void
req_refuse(struct req *r, struct dsock *d, int err, const char *what)
{
	naccess_refused++;
	log_warnx_rl(&rl_access, "client %llu (pid %d, uid %d): %s socket %s "
	    "refused: %s (%llu refused so far)", (unsigned long long)r->c->id,
	    (int)r->c->pid, (int)r->c->uid, what, d->core.name,
	    !d->configured ? "another uid created it" : err == EACCES ?
	    "not allowed by its allow_send and allow_recv" :
	    "not in its allow_setopt", (unsigned long long)naccess_refused);
	req_result(r, err, 0, 0, NULL);
}

/* May the client attach d: 0, or refused (EACCES). */
static int
req_may_attach(struct req *r, struct dsock *d)
{
	const struct acl_cred	*cr;
	int			 e;

	if (d->configured && d->acl == NULL)
		return 0;	/* open: no need to look the client up */
	cr = ipc_client_acl(r->c);
	e = d->configured ? acl_attach(d->acl, d->core.type, cr) :
	    acl_owner(d->owner, cr);
	if (e != 0)
		req_refuse(r, d, e, "attach to");
	return e;
}

/*
 * May the client change its socket for everyone: a configured socket's
 * options, bind and connect (they outlive the application and apply to
 * every subscriber and peer).  0, or refused (EPERM).
 */
static int
req_may_change(struct req *r)
{
	int	e;

	if (!r->d->configured || r->d->acl == NULL)
		return 0;
	if ((e = acl_setopt(r->d->acl, ipc_client_acl(r->c))) != 0)
		req_refuse(r, r->d, e, "change of");
	return e;
}

static void
req_create(struct req *r)
{
	struct ipc_create	 cr;
	struct dsock		*d;
	struct sub		*u = NULL;

	memcpy(&cr, r->p, sizeof(cr));
	/* NBMQ_STUN: configured only, never by an application. */
	if (cr.type < NBMQ_DEALER || cr.type > NBMQ_DISH ||
	    cr.type == NBMQ_STUN) {
		req_result(r, EINVAL, 0, 0, NULL);
		return;
	}
	if ((d = dsock_new((int)cr.type, &nbmqd->conf->defaults,
	    NULL)) == NULL || (u = dsock_attach(d, r->c)) == NULL) {
		if (d != NULL)
			dsock_free(d);
		req_result(r, ENOMEM, 0, 0, NULL);
		return;
	}
	d->owner = r->c->uid;		/* others cannot attach it */
	log_debug("socket %s: %s created by pid %d", d->core.name,
	    socktype_name(d->core.type), (int)u->pid);
	req_result(r, 0, d->handle, (uint32_t)d->core.type, NULL);
	ipc_credit(u);
}

static void
req_attach(struct req *r)
{
	struct dsock	*d;
	struct sub	*u;
	char		 ep[128];

	if ((d = dsock_by_name(r->p)) == NULL) {
		req_result(r, ENXIO, 0, 0, NULL);
		return;
	}
	if (req_may_attach(r, d) != 0)
		return;
	/* Many may listen to a dish; one application sends. */
	if (d->nsubs > 0 && (d->core.type != NBMQ_DISH ||
	    ipc_sub(r->c, d->handle) != NULL)) {
		req_result(r, EBUSY, 0, 0, NULL);
		return;
	}
	if ((u = dsock_attach(d, r->c)) == NULL) {
		req_result(r, ENOMEM, 0, 0, NULL);
		return;
	}
	log_info("socket %s: attached by pid %d (%u attached)",
	    d->core.name, (int)u->pid, d->nsubs);
	addr_fmt(&d->local, ep, sizeof(ep));
	req_result(r, 0, d->handle, (uint32_t)d->core.type,
	    d->fd != -1 ? ep : NULL);
	dsock_sync(d, r->now);
}

static void
req_close(struct req *r)
{
	req_result(r, 0, 0, 0, NULL);
	dsock_release(r->u, r->now);
}

/* IPC_SOCK_BIND and IPC_SOCK_CONNECT. */
static void
req_bind(struct req *r)
{
	struct dsock	*d = r->d;
	char		 ep[128];
	int		 e;

	if (req_may_change(r) != 0)
		return;
	e = r->h->type == IPC_SOCK_BIND ? udp_bind(d, r->p) :
	    udp_connect(d, r->p);
	addr_fmt(&d->local, ep, sizeof(ep));
	req_result(r, e, 0, 0, e == 0 ? ep : NULL);
	if (e == 0)
		dsock_sync(d, r->now);
}

/*
 * What an application may make the daemon hold: send_hwm and recv_hwm
 * messages of up to max_message_size each.  setopt may lower them, or
 * raise them up to [daemon] app_max_hwm and app_max_message_size (more
 * only if the configuration gave the socket more): EPERM past that.
 */
static int
req_opt_cap(const struct dsock *d, const struct optdesc *od, int64_t v)
{
	const struct config	*cf = nbmqd->conf;
	uint64_t		 cap;

	switch (od->id) {
	case NBMQ_OPT_SEND_HWM:
	case NBMQ_OPT_RECV_HWM:
		cap = cf->app_max_hwm;
		break;
	case NBMQ_OPT_MAX_MESSAGE_SIZE:
		cap = cf->app_max_message_size;
		break;
	default:
		return 0;
	}
	if (v <= 0 || (uint64_t)v <= cap ||
	    (uint64_t)v <= (uint64_t)opt_get_ipc(&d->core.o, od))
		return 0;
	return EPERM;
}

/* NBMQ_OPT_EVENTS is the application's own, not the socket's. */
static void
req_setopt_events(struct req *r, int64_t v)
{
	if (v != 0 && v != 1) {
		req_result(r, EINVAL, 0, 0, NULL);
		return;
	}
	deliver_subscribe(r->u, (int)v);
	req_result(r, 0, 0, 0, NULL);
	dsock_sync(r->d, r->now);
}

static void
req_setopt(struct req *r)
{
	struct ipc_opt		 o;
	const struct optdesc	*od;
	int			 e;

	memcpy(&o, r->p, sizeof(o));
	if (o.opt == NBMQ_OPT_EVENTS) {
		req_setopt_events(r, o.value);
		return;
	}
	if ((od = opt_by_id((int)o.opt)) == NULL) {
		req_result(r, EINVAL, 0, 0, NULL);
		return;
	}
	if (req_may_change(r) != 0)
		return;
	if ((e = req_opt_cap(r->d, od, o.value)) == 0)
		e = dsock_setopt(r->d, od, o.value);
	req_result(r, e, 0, 0, NULL);
	if (e == 0) {
		r->u->credit_sent = 0;	/* send_hwm may have changed */
		dsock_sync(r->d, r->now);
	}
}

static void
req_getopt(struct req *r)
{
	struct ipc_opt		 o;
	const struct optdesc	*od;
	const struct sock	*s = &r->d->core;

	memcpy(&o, r->p, sizeof(o));
	switch (o.opt) {
	case NBMQ_OPT_EVENTS:
		req_result(r, 0, (uint64_t)r->u->events, 0, NULL);
		return;
	case NBMQ_OPT_PEERS:
		req_result(r, 0, s->nup, 0, NULL);
		return;
	case NBMQ_OPT_TYPE:
		req_result(r, 0, (uint64_t)s->type, 0, NULL);
		return;
	case NBMQ_OPT_GIVEUPS:
		req_result(r, 0, s->st.giveups, 0, NULL);
		return;
	}
	if ((od = opt_by_id((int)o.opt)) == NULL) {
		req_result(r, EINVAL, 0, 0, NULL);
		return;
	}
	req_result(r, 0, (uint64_t)opt_get_ipc(&s->o, od), 0, NULL);
}

static const struct req_type *
req_lookup(uint16_t type)
{
	for (size_t i = 0; i < sizeof(req_types) / sizeof(req_types[0]); i++)
		if (req_types[i].type == type)
			return &req_types[i];
	return NULL;
}

/* The payload fits the table: 0, or -1 and the client is killed. */
static int
req_payload(struct req *r, const struct req_type *t, const uint8_t *p,
    char *str)
{
	uint32_t	len = r->h->len;

	if (len < t->min || len > t->max ||
	    ((t->flags & REQ_STRING) && memchr(p, 0, len) != NULL)) {
		ipc_kill(r->c, t->bad);
		return -1;
	}
	r->p = p;
	if (t->flags & REQ_STRING) {
		memcpy(str, p, len);
		str[len] = '\0';
		r->p = str;
	}
	return 0;
}

void
ipc_request(struct client *c, const struct nbmq_ipc_hdr *h, const uint8_t *p)
{
	const struct req_type	*t = req_lookup(h->type);
	struct req		 r = { .c = c, .h = h };
	char			 str[NBMQ_IPC_MAX_STRING];

	if (h->reqid == 0) {
		ipc_kill(c, "request without id");
		return;
	}
	/* An unknown type names a socket too: EBADF comes first. */
	if (t == NULL || (t->flags & REQ_SOCK)) {
		if ((r.u = ipc_sub(c, h->handle)) == NULL) {
			ipc_send_result(c, h, EBADF, 0, 0, NULL);
			return;
		}
		r.d = r.u->d;
	} else if (c->nsubs >= nbmqd->conf->max_client_sockets) {
		/* One client with 20,000 sockets slowed every other. */
		log_warnx_rl(&rl_sockets, "client %llu (pid %d): refused a "
		    "socket, max_client_sockets (%llu) reached",
		    (unsigned long long)c->id, (int)c->pid,
		    (unsigned long long)nbmqd->conf->max_client_sockets);
		ipc_send_result(c, h, EMFILE, 0, 0, NULL);
		return;
	}
	if (t == NULL) {
		ipc_kill(c, "unknown request");
		return;
	}
	if (req_payload(&r, t, p, str) == -1)
		return;
	r.now = daemon_now();
	t->fn(&r);
}
