/* SPDX-License-Identifier: ISC */
/*
 * ipc.c: application connections over the Unix socket.
 *
 * Validate before dispatch: the header's length and type are checked before
 * a byte of payload is looked at, every payload has an exact or bounded
 * length, and a client that breaks the protocol is disconnected alone.
 * Output to a client is capped: received messages stay in the socket's
 * queue (counted against recv_hwm) while the client's buffer is full.
 *
 * Plain events and evbuffers rather than bufferevents: input is read with
 * one readv of up to a whole message, and output is written at the end of
 * the loop iteration that produced it (one deferred event for all
 * clients), so a message passing through costs no extra trip round the
 * event loop, no FIONREAD and no write-event churn in epoll.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "shell.h"
#include "deliver.h"
#include "ipc.h"

#define IPC_CTL_MAX		4096		/* payload of any non-SEND */
#define IPC_OUT_HIGH		(1U << 20)	/* stop delivering above */
#define IPC_OUT_LOW		(256U << 10)	/* resume below */
#define IPC_IO_MAX		(1U << 20)	/* per read or write call */
#define IPC_READ_MIN		(64U << 10)	/* read at least this much */
/*
 * A client's requests are not read while more than this waits for it
 * (replies, lists, messages): a client that asks and does not read the
 * answers cannot grow the daemon (issue 15: 2M status requests, +712
 * MiB).  Above IPC_OUT_HIGH, so that a stream of messages (which stops
 * at IPC_OUT_HIGH) does not stop its sends; reading resumes below
 * IPC_OUT_LOW, as OpenBGPD's control socket and bufferevent watermarks do.
 */
#define IPC_REPLY_HIGH		(4U << 20)


static TAILQ_HEAD(client_list, client) clients =
    TAILQ_HEAD_INITIALIZER(clients);
static struct client_list pending = TAILQ_HEAD_INITIALIZER(pending);
static struct event	*ev_flush;
static const struct ipc_handlers *handlers;	/* ipc_listen's */
static struct evconnlistener *listener;
static char		*ipc_path;
static uint64_t		 nclients, max_clients, next_client_id;
static int		 reserve_fd = -1;	/* given up at EMFILE */
static struct event	*ev_relisten;		/* listener paused */
static struct log_rl	 rl_refused, rl_refused_uid, rl_accept, rl_hello;
static uint64_t		 nrefused, nhello_timeouts, naccept_failed;

static void	ipc_client_free(struct client *);
static void	ipc_process(struct client *);
static void	ipc_read_again(struct client *);

/* Output was added: it leaves at the end of this loop iteration. */
static void
ipc_pending(struct client *c)
{
	if (c->pending || c->write_armed)
		return;
	c->pending = 1;
	TAILQ_INSERT_TAIL(&pending, c, pending_entry);
	event_active(ev_flush, EV_WRITE, 0);
}

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
	struct evbuffer		*out = c->out;

	evbuffer_add(out, &h, sizeof(h));
	if (len)
		evbuffer_add(out, p, len);
	if (len2)
		evbuffer_add(out, p2, len2);
	ipc_pending(c);
}

static void
ipc_msg_unref(const void *data, size_t len, void *arg)
{
	msg_free(arg);
}

/* A large message goes out by reference: no copy into the buffer. */
static void
ipc_send_ref(struct client *c, uint32_t handle, const struct ipc_msg *im,
    struct msg *m, size_t len)
{
	struct evbuffer		*out = c->out;
	struct nbmq_ipc_hdr	 h = {
		.len = (uint32_t)(sizeof(*im) + len),
		.type = IPC_MSG,
		.handle = handle,
	};

	evbuffer_add(out, &h, sizeof(h));
	evbuffer_add(out, im, sizeof(*im));
	msg_ref(m);
	if (evbuffer_add_reference(out, m->partsz, len, ipc_msg_unref,
	    m) == -1)
		fatal("evbuffer_add_reference");
	ipc_pending(c);
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
void
ipc_kill(struct client *c, const char *why)
{
	log_warnx("client %llu (pid %d): %s; disconnecting it",
	    (unsigned long long)c->id, (int)c->pid, why);
	c->dead = 1;
}

void
ipc_client_cred(const struct client *c, pid_t *pid, uid_t *uid, gid_t *gid)
{
	*pid = c->pid;
	*uid = c->uid;
	*gid = c->gid;
}

struct ctl_list **
ipc_client_ctl(struct client *c)
{
	return &c->ctl;
}

/*
 * The groups of the client's uid in the group database (getgrouplist),
 * not those of its process: the uid comes from SO_PEERCRED, fixed by the
 * kernel at connect, so no pid reuse can swap the answer (reading
 * /proc/PID/status could find another process under a reused pid), and
 * a group the process gained with sg or kept from before it was removed
 * from /etc/group counts for nothing.  Resolved once, at the first check
 * that needs it (a name service lookup blocks the loop: once per client).
 * A uid without a passwd entry has no group.
 */
const struct acl_cred *
ipc_client_acl(struct client *c)
{
	struct acl_cred	*cr = &c->acl;
	struct passwd	*pw;
	gid_t		*g;
	int		 n = 16;

	if (c->acl_done)
		return cr;
	c->acl_done = 1;
	cr->uid = c->uid;
	cr->trusted = c->uid == 0 || c->uid == geteuid();
	if (c->uid == (uid_t)-1 || (pw = getpwuid(c->uid)) == NULL)
		return cr;
	for (;;) {
		if ((g = reallocarray(cr->gids, (size_t)n, sizeof(*g))) == NULL)
			return cr;	/* no group: fails closed */
		cr->gids = g;
		if (getgrouplist(pw->pw_name, pw->pw_gid, g, &n) != -1)
			break;
		if (n > 65536)
			return cr;
	}
	cr->ngids = (size_t)n;
	return cr;
}

void
ipc_ctl_resume_all(void)
{
	struct client	*c, *next;

	for (c = TAILQ_FIRST(&clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->ctl == NULL)
			continue;
		handlers->ctl_resume(c);
		ipc_read_again(c);
	}
}

uint64_t
ipc_client_count(void)
{
	return nclients;
}

uint32_t
ipc_client_version(const struct client *c)
{
	return c->version;
}

int
ipc_client_backlogged(struct client *c)
{
	if (evbuffer_get_length(c->out) < IPC_OUT_HIGH)
		return 0;
	c->blocked = 1;		/* ipc_writable when it drained */
	return 1;
}

/* How deliver.c writes to a client. */
static const struct deliver_out ipc_out = {
	.full = ipc_client_backlogged,
	.send = ipc_send_msg,
	.send_ref = ipc_send_ref,
};

void
ipc_deliver(struct sub *u)
{
	deliver(u, &ipc_out);
}

void
ipc_credit(struct sub *u)
{
	deliver_credit(u, &ipc_out);
}

/* IPC_CONFIRM: the library handed count more to the application. */
static void
ipc_confirm(struct client *c, const struct nbmq_ipc_hdr *h, const uint8_t *p)
{
	struct ipc_confirm	 cf;
	struct sub		*u;

	if (h->len != sizeof(cf) || c->version < 5) {
		ipc_kill(c, "bad confirm");
		return;
	}
	memcpy(&cf, p, sizeof(cf));
	if ((u = ipc_sub(c, h->handle)) == NULL)
		return;		/* closed meanwhile: nothing is held */
	if (cf.count > u->held.len) {
		ipc_kill(c, "confirms messages it was not sent");
		return;
	}
	c->confirmed += cf.count;
	deliver_confirmed(u, cf.count);
}

/*
 * IPC_TALLY: map the memfd that came with it (ipc_read_ev kept it).  Only
 * a sealed memfd: a file the client could shrink would fault the daemon.
 */
static void
ipc_tally(struct client *c, const struct nbmq_ipc_hdr *h)
{
	struct stat	 st;
	void		*p;
	int		 seals;

	if (h->len != 0 || c->version < 5 || c->tally != NULL ||
	    c->tally_fd == -1) {
		ipc_kill(c, "bad tally");
		return;
	}
	seals = fcntl(c->tally_fd, F_GET_SEALS);
	if (seals == -1 || !(seals & F_SEAL_SHRINK) ||
	    fstat(c->tally_fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size < NBMQ_IPC_TALLY_SIZE) {
		ipc_kill(c, "tally is not a sealed memfd");
		return;
	}
	p = mmap(NULL, NBMQ_IPC_TALLY_SIZE, PROT_READ, MAP_SHARED,
	    c->tally_fd, 0);
	close(c->tally_fd);
	c->tally_fd = -1;
	if (p == MAP_FAILED) {
		log_warn("client %llu (pid %d): tally", (unsigned long long)c->id,
		    (int)c->pid);
		return;		/* then what it had not confirmed goes back */
	}
	c->tally = p;
}

/*
 * The client is going: what its library handed over and had no time to
 * confirm is the application's (the tally says how many), so that the
 * next application does not get it again.  The library has one socket per
 * connection; with more, the tally does not say whose they were.
 */
static void
ipc_tally_final(struct client *c)
{
	struct sub	*u, *one = NULL;
	uint64_t	 handed;
	int		 n = 0;

	if (c->tally_fd != -1)
		close(c->tally_fd);
	c->tally_fd = -1;
	if (c->tally == NULL)
		return;
	handed = __atomic_load_n(c->tally, __ATOMIC_ACQUIRE);
	munmap((void *)c->tally, NBMQ_IPC_TALLY_SIZE);
	c->tally = NULL;
	TAILQ_FOREACH(u, &c->subs, centry) {
		one = u;
		n++;
	}
	if (n != 1 || handed <= c->confirmed ||
	    handed - c->confirmed > one->held.len)
		return;
	deliver_confirmed(one, handed - c->confirmed);
}

void
ipc_sock_gone(struct sub *u)
{
	ipc_send_msg(u->c, IPC_SOCK_GONE, u->d->handle, 0, NULL, 0, NULL, 0);
}

/* c's attachment to the socket with this handle: O(1), c's own map. */
struct sub *
ipc_sub(struct client *c, uint32_t handle)
{
	struct hnode	*n = hmap_find(&c->by_handle, handle);

	return n == NULL ? NULL : container_of(n, struct sub, cnode);
}

int
ipc_sub_link(struct sub *u)
{
	struct client	*c = u->c;

	if (hmap_insert(&c->by_handle, &u->cnode, u->d->handle) == -1)
		return -1;
	TAILQ_INSERT_TAIL(&c->subs, u, centry);
	c->nsubs++;
	return 0;
}

void
ipc_sub_unlink(struct sub *u)
{
	struct client	*c = u->c;

	hmap_remove(&c->by_handle, &u->cnode);
	TAILQ_REMOVE(&c->subs, u, centry);
	c->nsubs--;
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
	/* Version 4 (no IPC_CONFIRM): served, holding nothing for it. */
	if (hello.magic != NBMQ_IPC_MAGIC ||
	    hello.version < NBMQ_IPC_VERSION_MIN ||
	    hello.version > NBMQ_IPC_VERSION) {
		log_warnx("client %llu (pid %d): IPC version %u, ours is %u",
		    (unsigned long long)c->id, (int)c->pid, hello.version,
		    NBMQ_IPC_VERSION);
		ipc_send_result(c, h, EPROTO, NBMQ_IPC_VERSION, 0, NULL);
		c->closing = 1;
		return;
	}
	if (nclients > max_clients) {	/* refused at accept now */
		log_warnx("client %llu (pid %d): refused, max_clients (%llu) "
		    "reached", (unsigned long long)c->id, (int)c->pid,
		    (unsigned long long)max_clients);
		ipc_send_result(c, h, EUSERS, 0, 0, NULL);
		c->closing = 1;
		return;
	}
	c->hello = 1;
	c->version = hello.version;
	event_del(c->ev_hello);
	memset(&ok, 0, sizeof(ok));
	ok.version = hello.version;
	snprintf(ok.daemon, sizeof(ok.daemon), "nbmqd %s", NBMQD_VERSION);
	ipc_send_msg(c, IPC_HELLO_OK, 0, h->reqid, &ok, sizeof(ok), NULL, 0);
}

/*
 * IPC_SEND's header, before its payload is read: larger than the
 * socket's max_message_size can take, or beyond the window granted,
 * and the client goes.  -1 when it does.
 */
static int
ipc_send_check(struct client *c, const struct nbmq_ipc_hdr *h)
{
	struct sub	*u = ipc_sub(c, h->handle);

	if (u == NULL)
		return 0;
	if (h->len > u->d->core.o.max_message_size + sizeof(struct ipc_msg) +
	    4 * NBMQ_IPC_MAX_PARTS) {
		ipc_kill(c, "message over max_message_size");
		return -1;
	}
	if (u->accepted >= u->credit_max) {
		ipc_kill(c, "send beyond the granted window");
		return -1;
	}
	return 0;
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
	/* (The window was checked on the header: ipc_send_check.) */
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

/* Handle every complete message waiting in c->in. */
static void
ipc_process(struct client *c)
{
	struct evbuffer		*in = c->in;
	struct nbmq_ipc_hdr	 h;
	struct sub		*u, *next;
	uint8_t			*p;
	const char		*why;
	nbmq_time		 now;

	/* A list for nbmqctl still going out: the next request waits. */
	while (!c->closing && c->ctl == NULL) {
		if (c->skip > 0) {
			size_t n = evbuffer_get_length(in);

			n = n < c->skip ? n : (size_t)c->skip;
			evbuffer_drain(in, n);
			if ((c->skip -= n) > 0)
				break;
		}
		if (evbuffer_get_length(in) < sizeof(h))
			break;
		/* Its answers are not read: neither are its requests. */
		if (evbuffer_get_length(c->out) >= IPC_REPLY_HIGH) {
			c->out_paused = 1;
			c->blocked = 1;		/* ipc_writable resumes */
			break;
		}
		evbuffer_copyout(in, &h, sizeof(h));
		if (ipc_hdr_check(&h, NBMQ_IPC_MAX_PAYLOAD) != 0 ||
		    (h.type != IPC_SEND && h.len > IPC_CTL_MAX)) {
			ipc_kill(c, "bad message header");
			break;
		}
		/*
		 * Judged on the header, before a byte of the payload is
		 * buffered: before hello only a hello, and a SEND only
		 * within max_message_size and the window (issue 15: three
		 * silent connections announcing 256 MiB SENDs took 750 MiB).
		 */
		if (!c->hello && (h.type != IPC_HELLO ||
		    h.len != sizeof(struct ipc_hello))) {
			ipc_kill(c, "no hello");
			break;
		}
		if (h.type == IPC_SEND && ipc_send_check(c, &h) == -1)
			break;
		if (h.type == IPC_SEND && ipc_sub(c, h.handle) == NULL) {
			/* Closed meanwhile: discarded as it comes. */
			evbuffer_drain(in, sizeof(h));
			c->skip = h.len;
			continue;
		}
		if (evbuffer_get_length(in) < sizeof(h) + h.len)
			break;		/* the rest comes with a later read */
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
			handlers->request(c, &h, p);
		else if (h.type == IPC_CONFIRM)
			ipc_confirm(c, &h, p);
		else if (h.type == IPC_TALLY)
			ipc_tally(c, &h);
		else if ((h.type >> 8) == 0x04 && c->version < 8)
			/* Its replies changed size in versions 5 to 8. */
			ipc_send_result(c, &h, EPROTO, NBMQ_IPC_VERSION, 0,
			    NULL);
		else if ((h.type >> 8) == 0x04) {
			if ((why = handlers->ctl_request(c, &h, p)) != NULL)
				ipc_kill(c, why);
		} else
			ipc_kill(c, "unexpected message type");
		if (c->dead)
			break;
		evbuffer_drain(in, sizeof(h) + h.len);
	}
	if (c->dead) {
		ipc_client_free(c);
		return;
	}
	/* A list is going out, or answers wait: read no more until they
	 * are out (ipc_writable). */
	if ((c->ctl != NULL || c->out_paused) && c->reading) {
		event_del(c->ev_read);
		c->reading = 0;
	}
	/*
	 * Batched: the sends of this read leave in one tick per socket.
	 * Only c's own sockets: walking every socket of the daemon here made
	 * each read cost O(sockets) (issue 15, item 6).  A socket with c
	 * attached is not lingering, so dsock_sync does not free it.
	 */
	now = daemon_now();
	for (u = TAILQ_FIRST(&c->subs); u != NULL; u = next) {
		next = TAILQ_NEXT(u, centry);
		dsock_sync(u->d, now);
	}
}

/* Bytes to read next: at least IPC_READ_MIN, or the rest of a message. */
static size_t
ipc_read_size(const struct client *c)
{
	struct nbmq_ipc_hdr	h;
	size_t			have = evbuffer_get_length(c->in), want;

	if (c->skip > 0)
		return c->skip < IPC_IO_MAX ? IPC_READ_MIN : IPC_IO_MAX;
	if (have < sizeof(h))
		return IPC_READ_MIN;
	evbuffer_copyout(c->in, &h, sizeof(h));
	want = sizeof(h) + (size_t)h.len;
	if (want <= have + IPC_READ_MIN)
		return IPC_READ_MIN;
	want -= have;
	return want < IPC_IO_MAX ? want : IPC_IO_MAX;
}

static void
ipc_read_ev(evutil_socket_t fd, short what, void *arg)
{
	struct client		*c = arg;
	struct evbuffer_iovec	 v[2];
	struct iovec		 iov[2];
	struct msghdr		 mh;
	struct cmsghdr		*cm;
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(4 * sizeof(int))];
	}			 cbuf;
	size_t			 left;
	ssize_t			 n;
	int			 nv;

	if ((nv = evbuffer_reserve_space(c->in, (ev_ssize_t)ipc_read_size(c),
	    v, 2)) <= 0)
		fatal("evbuffer_reserve_space");
	for (int i = 0; i < nv; i++) {
		iov[i].iov_base = v[i].iov_base;
		iov[i].iov_len = v[i].iov_len;
	}
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = iov;
	mh.msg_iovlen = (size_t)nv;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	do
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	/* Descriptors: IPC_TALLY's (the first one) is kept, others closed. */
	for (cm = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL; cm != NULL;
	    cm = CMSG_NXTHDR(&mh, cm)) {
		int	*fds = (int *)CMSG_DATA(cm);
		size_t	 nfd;

		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		nfd = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < nfd; i++) {
			int	 x;

			memcpy(&x, fds + i, sizeof(x));
			if (c->tally_fd == -1 && c->tally == NULL)
				c->tally_fd = x;
			else
				close(x);
		}
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (n <= 0) {
		if (n == -1)
			log_debug("client %llu (pid %d): %s",
			    (unsigned long long)c->id, (int)c->pid,
			    strerror(errno));
		ipc_client_free(c);
		return;
	}
	left = (size_t)n;
	for (int i = 0; i < nv; i++) {
		if (v[i].iov_len > left)
			v[i].iov_len = left;
		left -= v[i].iov_len;
	}
	if (evbuffer_commit_space(c->in, v, nv) == -1)
		fatal("evbuffer_commit_space");
	ipc_process(c);
	daemon_heap_thp();
}

/*
 * The output fell below the low mark after the client was held at the
 * high one: deliver what waited, resume a list for nbmqctl.
 */
static void
ipc_writable(struct client *c)
{
	struct sub	*u;

	c->blocked = 0;
	TAILQ_FOREACH(u, &c->subs, centry)
		ipc_deliver(u);
	if (c->ctl != NULL)
		handlers->ctl_resume(c);
	ipc_read_again(c);
}

/* The list is out, the answers read: requests that waited go on. */
static void
ipc_read_again(struct client *c)
{
	if (!c->reading && c->ctl == NULL &&
	    evbuffer_get_length(c->out) < IPC_REPLY_HIGH) {
		c->out_paused = 0;
		event_add(c->ev_read, NULL);
		c->reading = 1;
		ipc_process(c);
	}
}

/*
 * Write what waits for c.  Returns -1 when c is gone (freed here): a write
 * error, or a closing client whose last words are out.
 */
static int
ipc_write(struct client *c)
{
	size_t	len;
	int	n;

	while ((len = evbuffer_get_length(c->out)) > 0) {
		n = evbuffer_write_atmost(c->out, c->fd, IPC_IO_MAX);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EWOULDBLOCK) {
			log_debug("client %llu (pid %d): %s",
			    (unsigned long long)c->id, (int)c->pid,
			    strerror(errno));
			ipc_client_free(c);
			return -1;
		}
		/* Short: the kernel is full; wait until it takes more. */
		if (n == -1 || ((size_t)n < len && (size_t)n < IPC_IO_MAX)) {
			if (!c->write_armed) {
				event_add(c->ev_write, NULL);
				c->write_armed = 1;
			}
			break;
		}
	}
	if (evbuffer_get_length(c->out) == 0 && c->closing) {
		ipc_client_free(c);
		return -1;
	}
	return 0;
}

/*
 * A busy reader (udp.c) has more for c than IPC_OUT_HIGH: one write now,
 * while the application may be reading, rather than only at the end of
 * the loop iteration.  Errors and a full kernel are left to that flush
 * (c stays pending), so c is never freed here, under the caller's feet.
 */
void
ipc_push(struct client *c)
{
	if (c->write_armed || evbuffer_get_length(c->out) == 0)
		return;
	(void)evbuffer_write_atmost(c->out, c->fd, IPC_IO_MAX);
}

/* After the write: more to deliver now that there is room? */
static void
ipc_write_done(struct client *c)
{
	if (c->blocked && evbuffer_get_length(c->out) < IPC_OUT_LOW)
		ipc_writable(c);
}

static void
ipc_write_ev(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	c->write_armed = 0;
	if (ipc_write(c) == 0)
		ipc_write_done(c);
}

/* End of a loop iteration's callbacks: every client with output writes. */
static void
ipc_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c;

	while ((c = TAILQ_FIRST(&pending)) != NULL) {
		TAILQ_REMOVE(&pending, c, pending_entry);
		c->pending = 0;
		if (c->write_armed)
			continue;	/* ipc_write_ev writes it */
		if (ipc_write(c) == 0)
			ipc_write_done(c);
	}
}

static void
ipc_client_free(struct client *c)
{
	struct sub	*u;
	nbmq_time	 now = daemon_now();

	log_debug("client %llu (pid %d): gone", (unsigned long long)c->id,
	    (int)c->pid);
	TAILQ_REMOVE(&clients, c, entry);
	nclients--;
	if (c->pending)
		TAILQ_REMOVE(&pending, c, pending_entry);
	handlers->client_gone(c);
	event_free(c->ev_hello);
	event_free(c->ev_read);
	event_free(c->ev_write);
	evbuffer_free(c->in);
	evbuffer_free(c->out);	/* messages by reference: msg_free */
	close(c->fd);
	ipc_tally_final(c);
	while ((u = TAILQ_FIRST(&c->subs)) != NULL)
		dsock_release(u, now);		/* unlinks u */
	hmap_free(&c->by_handle);
	free(c->acl.gids);
	free(c);
}

/* No hello within hello_timeout: a silent connection holds no slot. */
static void
ipc_hello_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;

	nhello_timeouts++;
	log_warnx_rl(&rl_hello, "client %llu (pid %d): no hello in %llu s; "
	    "disconnecting it (%llu so far)", (unsigned long long)c->id,
	    (int)c->pid, (unsigned long long)nbmqd->conf->hello_timeout,
	    (unsigned long long)nhello_timeouts);
	ipc_client_free(c);
}

/*
 * Past max_clients: refused at once, not at hello, so that connections
 * that never say hello cannot hold descriptors (issue 15: 246 of them
 * locked every client out).  The library hears EUSERS as the answer to
 * its hello (request id 1); what the client wrote is read first, so that
 * the close does not turn into a reset that loses the answer.
 */
/*
 * A uid's share of max_clients (max_clients_per_uid; by default 3/4 of
 * it), so that one local user cannot take every slot from the others.
 * Root and nbmqd's own uid have none.  Counted at accept, by walking the
 * clients: at most max_clients of them, and accepts are rare.
 */
static int
ipc_uid_full(uid_t uid)
{
	const struct client	*c;
	uint64_t		 n = 0, cap = nbmqd->conf->max_clients_per_uid;

	if (uid == 0 || uid == geteuid())
		return 0;
	if (cap == 0)
		cap = max_clients - max_clients / 4;
	TAILQ_FOREACH(c, &clients, entry)
		if (c->uid == uid && ++n >= cap)
			return 1;
	return 0;
}

static void
ipc_refuse(int fd, const struct ucred *uidfull)
{
	struct {
		struct nbmq_ipc_hdr	h;
		struct ipc_result	r;
	} __attribute__((packed))	 m;
	char				 junk[512];

	memset(&m, 0, sizeof(m));
	m.h.len = sizeof(m.r);
	m.h.type = IPC_RESULT;
	m.h.reqid = 1;
	m.r.err = EUSERS;
	(void)send(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_NOSIGNAL);
	(void)recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
	close(fd);
	nrefused++;
	if (uidfull != NULL)
		log_warnx_rl(&rl_refused_uid, "client (pid %d) refused: uid %d "
		    "has max_clients_per_uid connections (%llu refused so "
		    "far)", (int)uidfull->pid, (int)uidfull->uid,
		    (unsigned long long)nrefused);
	else
		log_warnx_rl(&rl_refused, "client refused, max_clients (%llu) "
		    "reached (%llu refused so far)",
		    (unsigned long long)max_clients,
		    (unsigned long long)nrefused);
}

static void
ipc_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct client	*c;
	struct ucred	 cred;
	socklen_t	 len = sizeof(cred);

	if (nclients >= max_clients) {
		ipc_refuse(fd, NULL);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
	    ipc_uid_full(cred.uid)) {
		ipc_refuse(fd, &cred);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		return;
	}
	c->id = ++next_client_id;
	c->tally_fd = -1;
	TAILQ_INIT(&c->subs);
	hmap_init(&c->by_handle);
	c->uid = (uid_t)-1;	/* no credentials: no privilege */
	c->gid = (gid_t)-1;
	len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		c->pid = cred.pid;
		c->uid = cred.uid;
		c->gid = cred.gid;
	}
	c->fd = fd;
	evutil_make_socket_nonblocking(fd);
	c->in = evbuffer_new();
	c->out = evbuffer_new();
	c->ev_read = event_new(nbmqd->base, fd, EV_READ | EV_PERSIST,
	    ipc_read_ev, c);
	c->ev_write = event_new(nbmqd->base, fd, EV_WRITE, ipc_write_ev, c);
	c->ev_hello = evtimer_new(nbmqd->base, ipc_hello_timeout_cb, c);
	if (c->in == NULL || c->out == NULL || c->ev_read == NULL ||
	    c->ev_write == NULL || c->ev_hello == NULL)
		fatalx("client %llu: out of memory", (unsigned long long)c->id);
	TAILQ_INSERT_TAIL(&clients, c, entry);
	nclients++;
	log_debug("client %llu: pid %d uid %d", (unsigned long long)c->id,
	    (int)c->pid, (int)c->uid);
	event_add(c->ev_read, NULL);
	c->reading = 1;
	{
		struct timeval tv = {
			.tv_sec = (time_t)nbmqd->conf->hello_timeout,
		};

		event_add(c->ev_hello, &tv);
	}
}

static void
ipc_reserve(void)
{
	if (reserve_fd == -1)
		reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

static void
ipc_relisten_cb(evutil_socket_t fd, short what, void *arg)
{
	ipc_reserve();
	if (listener != NULL)
		evconnlistener_enable(listener);
}

/*
 * accept failed.  Out of descriptors, the connection stays pending and
 * the listener readable: libevent would call again at once, forever
 * (issue 15: 86% CPU, 610,700 log lines in 5 s).  The reserve descriptor
 * makes room to accept the connection and close it (it is told nothing:
 * there is nothing to tell it with), as tmux and libevent users do; with
 * no reserve left either, the listener rests 100 ms.  Logged at most once
 * a second.
 */
static void
ipc_accept_error_cb(struct evconnlistener *l, void *arg)
{
	int		 e = EVUTIL_SOCKET_ERROR(), fd;
	struct timeval	 tv = { 0, 100000 };

	naccept_failed++;
	log_warnx_rl(&rl_accept, "ipc accept: %s (%llu failed so far)",
	    strerror(e), (unsigned long long)naccept_failed);
	if (e != EMFILE && e != ENFILE && e != ENOBUFS && e != ENOMEM)
		return;
	if (reserve_fd != -1) {
		close(reserve_fd);
		reserve_fd = -1;
		if ((fd = accept(evconnlistener_get_fd(l), NULL, NULL)) != -1)
			close(fd);
		ipc_reserve();
		if (reserve_fd != -1)
			return;
	}
	evconnlistener_disable(l);
	if (ev_relisten == NULL &&
	    (ev_relisten = evtimer_new(nbmqd->base, ipc_relisten_cb,
	    NULL)) == NULL)
		fatalx("evtimer_new");
	evtimer_add(ev_relisten, &tv);
}

/*
 * The listening socket, its failures said at err with the call that
 * failed and what to do: nbmqd does not start without it.
 */
static int
ipc_socket(const struct sockaddr_un *sun)
{
	const char	*path = sun->sun_path, *call, *hint = "";
	int		 fd, e;

	if ((fd = daemon_listen((const struct sockaddr *)sun, sizeof(*sun), 128,
	    0, &call)) != -1)
		return fd;
	e = errno;
	if (e == ENOENT)
		hint = " (its directory does not exist: create it, or choose "
		    "another ipc_path or -S; under systemd RuntimeDirectory= "
		    "makes /run/nbmq)";
	else if (e == EACCES || e == EROFS)
		hint = " (nbmqd's user cannot write its directory: choose "
		    "another ipc_path or -S)";
	log_errx("cannot listen on %s: %s: %s%s", path, call, strerror(e),
	    hint);
	return -1;
}

int
ipc_listen(const char *path, unsigned int mode, const char *group,
    uint64_t maxc, const struct ipc_handlers *h)
{
	struct sockaddr_un	 sun;
	struct group		*gr;
	struct stat		 st;
	int			 fd;

	handlers = h;
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
	/*
	 * Only a socket is ours to remove: `-S precious.txt`, or ipc_path
	 * naming the configuration file, deleted the file (issue 15).
	 */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			log_warnx("%s: exists and is not a socket: not removed "
			    "(choose another ipc_path or -S)", path);
			return -1;
		}
		unlink(path);
	}
	if (ev_flush == NULL &&
	    (ev_flush = event_new(nbmqd->base, -1, 0, ipc_flush_cb,
	    NULL)) == NULL)
		fatalx("event_new");
	if ((fd = ipc_socket(&sun)) == -1)
		return -1;
	listener = evconnlistener_new(nbmqd->base, ipc_accept_cb, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128, fd);
	if (listener == NULL) {
		close(fd);
		log_errx("%s: evconnlistener_new failed", path);
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
	ipc_reserve();
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
	if (ev_flush != NULL)
		event_free(ev_flush);
	ev_flush = NULL;
	if (ev_relisten != NULL)
		event_free(ev_relisten);
	ev_relisten = NULL;
	if (reserve_fd != -1)
		close(reserve_fd);
	reserve_fd = -1;
	if (ipc_path != NULL)
		unlink(ipc_path);
	free(ipc_path);
	ipc_path = NULL;
}
