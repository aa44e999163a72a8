/*
 * ipc.c: application connections over the Unix socket.
 *
 * Validate before dispatch: the header's length and type are checked before
 * a byte of payload is looked at, every payload has an exact or bounded
 * length, and a client that breaks the protocol is disconnected alone.
 * Output to a client is capped: received messages stay in the socket's
 * queue (counted against recv_hwm) while the client's buffer is full.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "nbmqd.h"

#define IPC_CTL_MAX		4096		/* payload of any non-SEND */
#define IPC_OUT_HIGH		(1U << 20)	/* stop delivering above */
#define IPC_OUT_LOW		(256U << 10)	/* resume below */

struct client {
	TAILQ_ENTRY(client) entry;
	struct bufferevent *bev;
	uint64_t	 id;
	pid_t		 pid;
	uid_t		 uid;
	gid_t		 gid;
	int		 hello;
	int		 closing;	/* flush the output, then close */
	int		 dead;		/* broke the protocol: free it */
};

static TAILQ_HEAD(, client) clients = TAILQ_HEAD_INITIALIZER(clients);
static struct evconnlistener *listener;
static char		*ipc_path;
static uint64_t		 nclients, max_clients, next_client_id;

static void	ipc_client_free(struct client *);

void
ipc_send_msg(struct client *c, uint16_t type, uint32_t handle, uint32_t reqid,
    const void *p, size_t len, const void *p2, size_t len2)
{
	struct nbmq_ipc_hdr	h = {
		.len = (uint32_t)(len + len2),
		.type = type,
		.handle = handle,
		.reqid = reqid,
	};
	struct evbuffer		*out = bufferevent_get_output(c->bev);

	evbuffer_add(out, &h, sizeof(h));
	if (len)
		evbuffer_add(out, p, len);
	if (len2)
		evbuffer_add(out, p2, len2);
}

void
ipc_send_result(struct client *c, const struct nbmq_ipc_hdr *req, int err,
    uint64_t value, uint32_t aux, const char *str)
{
	struct ipc_result	r = { .err = err, .aux = aux, .value = value };

	ipc_send_msg(c, IPC_RESULT, req->handle, req->reqid, &r, sizeof(r), str,
	    str ? strlen(str) : 0);
}

/* Protocol error: say why; the read loop drops this client only. */
static void
ipc_kill(struct client *c, const char *why)
{
	log_warnx("client %llu (pid %d): %s; disconnecting it",
	    (unsigned long long)c->id, (int)c->pid, why);
	c->dead = 1;
}

int
ipc_client_backlogged(const struct client *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) >=
	    IPC_OUT_HIGH;
}

/* Announce the send window when it changed. */
static void
ipc_credit(struct sub *u)
{
	struct dsock		*d = u->d;
	struct ipc_credit	 cr;
	uint64_t		 limit = u->accepted + sock_send_room(&d->core);

	if (u->credit_sent && limit == u->credit_limit &&
	    d->core.npeers == u->credit_peers)
		return;
	/* A lower limit with the same peers can wait for the next change. */
	if (u->credit_sent && limit < u->credit_limit &&
	    d->core.npeers == u->credit_peers)
		return;
	u->credit_sent = 1;
	u->credit_limit = limit;
	if (limit > u->credit_max)
		u->credit_max = limit;
	u->credit_peers = d->core.npeers;
	memset(&cr, 0, sizeof(cr));
	cr.limit = limit;
	cr.peers = d->core.npeers;
	ipc_send_msg(u->c, IPC_CREDIT, d->handle, 0, &cr, sizeof(cr), NULL, 0);
}

/* The next message for u: its own fan-out queue, or the socket's. */
static struct msg *
ipc_next(struct sub *u)
{
	struct qent	*e;
	struct msg	*m;

	if (u->d->core.type != NBMQ_DISH)
		return sock_recv(&u->d->core);
	if ((e = TAILQ_FIRST(&u->q)) == NULL)
		return NULL;
	TAILQ_REMOVE(&u->q, e, entry);
	m = e->m;
	free(e);
	if (m->nparts > 0)
		u->qlen--;
	return m;
}

void
ipc_deliver(struct sub *u)
{
	struct client	*c = u->c;
	struct msg	*m;

	while (!ipc_client_backlogged(c) && (m = ipc_next(u)) != NULL) {
		if (m->nparts == 0) {
			struct ipc_dropped dr = { .count = m->dropped };

			ipc_send_msg(c, IPC_DROPPED, u->d->handle, 0, &dr,
			    sizeof(dr), NULL, 0);
		} else {
			struct ipc_msg im = {
				.peer = m->peer,
				.nparts = m->nparts,
			};

			/* Sizes and data are contiguous in a struct msg. */
			ipc_send_msg(c, IPC_MSG, u->d->handle, 0, &im,
			    sizeof(im), m->partsz,
			    (size_t)m->nparts * 4 + m->size);
		}
		msg_free(m);
	}
	ipc_credit(u);
}

void
ipc_sock_gone(struct sub *u)
{
	ipc_send_msg(u->c, IPC_SOCK_GONE, u->d->handle, 0, NULL, 0, NULL, 0);
}

static struct sub *
ipc_sub(struct client *c, uint32_t handle)
{
	struct dsock	*d = dsock_by_handle(handle);
	struct sub	*u;

	if (d == NULL)
		return NULL;
	TAILQ_FOREACH(u, &d->subs, entry)
		if (u->c == c)
			return u;
	return NULL;
}

/* A NUL-free string payload of 1..NBMQ_IPC_MAX_STRING-1 bytes. */
static int
ipc_string(const uint8_t *p, uint32_t len, char *buf)
{
	if (len == 0 || len >= NBMQ_IPC_MAX_STRING || memchr(p, 0, len))
		return -1;
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

static void
ipc_hello(struct client *c, const struct nbmq_ipc_hdr *h, const uint8_t *p)
{
	struct ipc_hello	hello;
	struct ipc_hello_ok	ok;

	if (h->len != sizeof(hello)) {
		ipc_kill(c, "bad hello");
		return;
	}
	memcpy(&hello, p, sizeof(hello));
	if (hello.magic != NBMQ_IPC_MAGIC || hello.version != NBMQ_IPC_VERSION) {
		log_warnx("client %llu (pid %d): IPC version %u, ours is %u",
		    (unsigned long long)c->id, (int)c->pid, hello.version,
		    NBMQ_IPC_VERSION);
		ipc_send_result(c, h, EPROTO, NBMQ_IPC_VERSION, 0, NULL);
		c->closing = 1;
		return;
	}
	if (nclients > max_clients) {
		log_warnx("client %llu (pid %d): refused, max_clients (%llu) "
		    "reached", (unsigned long long)c->id, (int)c->pid,
		    (unsigned long long)max_clients);
		ipc_send_result(c, h, EUSERS, 0, 0, NULL);
		c->closing = 1;
		return;
	}
	c->hello = 1;
	memset(&ok, 0, sizeof(ok));
	ok.version = NBMQ_IPC_VERSION;
	snprintf(ok.daemon, sizeof(ok.daemon), "nbmqd %s", NBMQD_VERSION);
	ipc_send_msg(c, IPC_HELLO_OK, 0, h->reqid, &ok, sizeof(ok), NULL, 0);
}

static void
ipc_request(struct client *c, const struct nbmq_ipc_hdr *h, const uint8_t *p)
{
	struct dsock		*d = NULL;
	struct sub		*u = NULL;
	struct ipc_create	 cr;
	struct ipc_opt		 o;
	const struct optdesc	*od;
	char			 str[NBMQ_IPC_MAX_STRING], ep[128];
	nbmq_time		 now = daemon_now();
	int			 e;

	if (h->reqid == 0) {
		ipc_kill(c, "request without id");
		return;
	}
	if (h->type != IPC_SOCK_CREATE && h->type != IPC_SOCK_ATTACH) {
		if ((u = ipc_sub(c, h->handle)) == NULL) {
			ipc_send_result(c, h, EBADF, 0, 0, NULL);
			return;
		}
		d = u->d;
	}
	switch (h->type) {
	case IPC_SOCK_CREATE:
		if (h->len != sizeof(cr)) {
			ipc_kill(c, "bad create");
			return;
		}
		memcpy(&cr, p, sizeof(cr));
		if (cr.type < NBMQ_DEALER || cr.type > NBMQ_DISH) {
			ipc_send_result(c, h, EINVAL, 0, 0, NULL);
			return;
		}
		if ((d = dsock_new((int)cr.type, &nbmqd->conf->defaults,
		    NULL)) == NULL || (u = dsock_attach(d, c)) == NULL) {
			if (d != NULL)
				dsock_free(d);
			ipc_send_result(c, h, ENOMEM, 0, 0, NULL);
			return;
		}
		log_debug("socket %s: %s created by pid %d", d->core.name,
		    socktype_name(d->core.type), (int)c->pid);
		ipc_send_result(c, h, 0, d->handle, (uint32_t)d->core.type,
		    NULL);
		ipc_credit(u);
		return;
	case IPC_SOCK_ATTACH:
		if (ipc_string(p, h->len, str) == -1) {
			ipc_kill(c, "bad attach");
			return;
		}
		if ((d = dsock_by_name(str)) == NULL) {
			ipc_send_result(c, h, ENXIO, 0, 0, NULL);
			return;
		}
		/* Many may listen to a dish; one application sends. */
		if (d->nsubs > 0 && (d->core.type != NBMQ_DISH ||
		    ipc_sub(c, d->handle) != NULL)) {
			ipc_send_result(c, h, EBUSY, 0, 0, NULL);
			return;
		}
		if (dsock_attach(d, c) == NULL) {
			ipc_send_result(c, h, ENOMEM, 0, 0, NULL);
			return;
		}
		log_info("socket %s: attached by pid %d (%u attached)",
		    d->core.name, (int)c->pid, d->nsubs);
		addr_fmt(&d->local, ep, sizeof(ep));
		ipc_send_result(c, h, 0, d->handle, (uint32_t)d->core.type,
		    d->fd != -1 ? ep : NULL);
		dsock_sync(d, now);
		return;
	case IPC_SOCK_CLOSE:
		ipc_send_result(c, h, 0, 0, 0, NULL);
		dsock_release(u, now);
		return;
	case IPC_SOCK_BIND:
	case IPC_SOCK_CONNECT:
		if (ipc_string(p, h->len, str) == -1) {
			ipc_kill(c, "bad address");
			return;
		}
		e = h->type == IPC_SOCK_BIND ? udp_bind(d, str) :
		    udp_connect(d, str);
		addr_fmt(&d->local, ep, sizeof(ep));
		ipc_send_result(c, h, e, 0, 0, e == 0 ? ep : NULL);
		if (e == 0)
			dsock_sync(d, now);
		return;
	case IPC_SOCK_SETOPT:
	case IPC_SOCK_GETOPT:
		if (h->len != sizeof(o)) {
			ipc_kill(c, "bad option request");
			return;
		}
		memcpy(&o, p, sizeof(o));
		if (h->type == IPC_SOCK_GETOPT && o.opt == NBMQ_OPT_PEERS) {
			ipc_send_result(c, h, 0, d->core.npeers, 0, NULL);
			return;
		}
		if (h->type == IPC_SOCK_GETOPT && o.opt == NBMQ_OPT_TYPE) {
			ipc_send_result(c, h, 0, (uint64_t)d->core.type, 0,
			    NULL);
			return;
		}
		if (h->type == IPC_SOCK_GETOPT && o.opt == NBMQ_OPT_GIVEUPS) {
			ipc_send_result(c, h, 0, d->core.st.giveups, 0, NULL);
			return;
		}
		if ((od = opt_by_id((int)o.opt)) == NULL) {
			ipc_send_result(c, h, EINVAL, 0, 0, NULL);
			return;
		}
		if (h->type == IPC_SOCK_GETOPT) {
			ipc_send_result(c, h, 0,
			    (uint64_t)opt_get_ipc(&d->core.o, od), 0, NULL);
			return;
		}
		e = dsock_setopt(d, od, o.value);
		ipc_send_result(c, h, e, 0, 0, NULL);
		if (e == 0) {
			u->credit_sent = 0;	/* send_hwm may have changed */
			dsock_sync(d, now);
		}
		return;
	}
	ipc_kill(c, "unknown request");
}

/* IPC_SEND: take the message straight from the input buffer. */
static int
ipc_send(struct client *c, const struct nbmq_ipc_hdr *h,
    struct evbuffer *in)
{
	uint8_t		 head[sizeof(struct ipc_msg) + 4 * NBMQ_IPC_MAX_PARTS];
	struct ipc_msg	 im;
	struct msg	*m;
	struct dsock	*d;
	struct sub	*u;
	uint64_t	 sum = 0;
	size_t		 sizes_len;
	int		 e;

	if (h->len < sizeof(im)) {
		ipc_kill(c, "short send");
		return -1;
	}
	evbuffer_copyout(in, &im, sizeof(im));
	if (im.nparts == 0 || im.nparts > NBMQ_IPC_MAX_PARTS ||
	    h->len < sizeof(im) + (size_t)im.nparts * 4) {
		ipc_kill(c, "bad send parts");
		return -1;
	}
	sizes_len = (size_t)im.nparts * 4;
	evbuffer_copyout(in, head, sizeof(im) + sizes_len);
	for (uint32_t i = 0; i < im.nparts; i++) {
		uint32_t sz;

		memcpy(&sz, head + sizeof(im) + i * 4, 4);
		sum += sz;
	}
	if (sum != h->len - sizeof(im) - sizes_len) {
		ipc_kill(c, "send sizes do not add up");
		return -1;
	}
	if ((u = ipc_sub(c, h->handle)) == NULL) {
		/* Closed meanwhile: nothing to account for. */
		evbuffer_drain(in, h->len);
		return 0;
	}
	d = u->d;
	if (sum > d->core.o.max_message_size) {
		ipc_kill(c, "message over max_message_size");
		return -1;
	}
	if (u->accepted >= u->credit_max) {
		ipc_kill(c, "send beyond the granted window");
		return -1;
	}
	u->accepted++;
	d->core.accepted++;
	if ((m = msg_new((uint16_t)im.nparts, (uint32_t)sum)) == NULL)
		fatal("msg_new");
	evbuffer_drain(in, sizeof(im));
	evbuffer_remove(in, m->partsz, sizes_len);
	evbuffer_remove(in, m->data, sum);
	m->peer = im.peer;
	/* The window was granted: the message is accepted over send_hwm. */
	if ((e = sock_send(&d->core, m, daemon_now(), 1)) != 0)
		d->core.st.drops[DROP_PEER_GONE]++;
	return 0;
}

static void
ipc_read_cb(struct bufferevent *bev, void *arg)
{
	struct client		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct nbmq_ipc_hdr	 h;
	struct dsock		*d;
	uint8_t			*p;
	nbmq_time		 now;

	while (!c->closing && evbuffer_get_length(in) >= sizeof(h)) {
		evbuffer_copyout(in, &h, sizeof(h));
		if (ipc_hdr_check(&h, NBMQ_IPC_MAX_PAYLOAD) != 0 ||
		    (h.type != IPC_SEND && h.len > IPC_CTL_MAX)) {
			ipc_kill(c, "bad message header");
			break;
		}
		if (evbuffer_get_length(in) < sizeof(h) + h.len) {
			/* Let the whole message in at once. */
			bufferevent_setwatermark(bev, EV_READ,
			    sizeof(h) + h.len, 0);
			break;
		}
		bufferevent_setwatermark(bev, EV_READ, 0, 0);
		if (!c->hello && h.type != IPC_HELLO) {
			ipc_kill(c, "no hello");
			break;
		}
		if (h.type == IPC_SEND) {
			evbuffer_drain(in, sizeof(h));
			if (ipc_send(c, &h, in) == -1)
				break;
			continue;
		}
		p = evbuffer_pullup(in, sizeof(h) + h.len) + sizeof(h);
		if (h.type == IPC_HELLO)
			ipc_hello(c, &h, p);
		else if ((h.type >> 8) == 0x02)
			ipc_request(c, &h, p);
		else
			ipc_kill(c, "unexpected message type");
		if (c->dead)
			break;
		evbuffer_drain(in, sizeof(h) + h.len);
	}
	if (c->dead) {
		ipc_client_free(c);
		return;
	}
	/* Batched: the sends of this read leave in one tick per socket. */
	now = daemon_now();
	for (d = TAILQ_FIRST(&nbmqd->socks); d != NULL; ) {
		struct dsock *next = TAILQ_NEXT(d, entry);

		if (ipc_sub(c, d->handle) != NULL)
			dsock_sync(d, now);
		d = next;
	}
}

static void
ipc_write_cb(struct bufferevent *bev, void *arg)
{
	struct client	*c = arg;
	struct dsock	*d;
	struct sub	*u;

	if (c->closing) {
		ipc_client_free(c);
		return;
	}
	/* Below the low mark again: deliver what waited. */
	TAILQ_FOREACH(d, &nbmqd->socks, entry)
		if ((u = ipc_sub(c, d->handle)) != NULL)
			ipc_deliver(u);
}

static void
ipc_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct client	*c = arg;

	if (what & BEV_EVENT_ERROR)
		log_debug("client %llu (pid %d): %s", (unsigned long long)c->id,
		    (int)c->pid, strerror(EVUTIL_SOCKET_ERROR()));
	ipc_client_free(c);
}

static void
ipc_client_free(struct client *c)
{
	struct dsock	*d, *next;
	nbmq_time	 now = daemon_now();

	log_debug("client %llu (pid %d): gone", (unsigned long long)c->id,
	    (int)c->pid);
	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	bufferevent_free(c->bev);
	c->bev = NULL;
	for (d = TAILQ_FIRST(&nbmqd->socks); d != NULL; d = next) {
		struct sub *u = ipc_sub(c, d->handle);

		next = TAILQ_NEXT(d, entry);
		if (u != NULL)
			dsock_release(u, now);
	}
	free(c);
}

static void
ipc_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct client	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->id = ++next_client_id;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->pid = cred.pid;
		c->uid = cred.uid;
		c->gid = cred.gid;
	}
	c->bev = bufferevent_socket_new(nbmqd->base, fd,
	    BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	log_debug("client %llu: pid %d uid %d", (unsigned long long)c->id,
	    (int)c->pid, (int)c->uid);
	bufferevent_setcb(c->bev, ipc_read_cb, ipc_write_cb, ipc_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, IPC_OUT_LOW, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
ipc_accept_error_cb(struct evconnlistener *l, void *arg)
{
	int	e = EVUTIL_SOCKET_ERROR();

	log_warnx("ipc accept: %s", strerror(e));
}

int
ipc_listen(const char *path, unsigned int mode, const char *group,
    uint64_t maxc)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	int			 fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_warnx("ipc_path %s: too long", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	/* A socket file left by a daemon that died: remove it if stale. */
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) != -1) {
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
			close(fd);
			log_warnx("%s: another nbmqd is running", path);
			return -1;
		}
		close(fd);
	}
	unlink(path);
	listener = evconnlistener_new_bind(nbmqd->base, ipc_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128,
	    (struct sockaddr *)&sun, sizeof(sun));
	if (listener == NULL) {
		log_warn("%s: listen", path);
		return -1;
	}
	evconnlistener_set_error_cb(listener, ipc_accept_error_cb);
	if (chmod(path, mode) == -1)
		log_warn("%s: chmod", path);
	if (group != NULL) {
		if ((gr = getgrnam(group)) == NULL)
			log_warnx("%s: no group %s", path, group);
		else if (chown(path, (uid_t)-1, gr->gr_gid) == -1)
			log_warn("%s: chown", path);
	}
	ipc_path = strdup(path);
	max_clients = maxc;
	log_info("listening on %s", path);
	return 0;
}

void
ipc_shutdown(void)
{
	struct client	*c;

	while ((c = TAILQ_FIRST(&clients)) != NULL)
		ipc_client_free(c);
	if (listener != NULL)
		evconnlistener_free(listener);
	listener = NULL;
	if (ipc_path != NULL)
		unlink(ipc_path);
	free(ipc_path);
	ipc_path = NULL;
}
