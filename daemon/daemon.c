/* SPDX-License-Identifier: ISC */
/*
 * daemon.c: the daemon's sockets, created by applications or by the config,
 * and the one place that moves data between the core and the shell after
 * every event (dsock_sync).
 */
#include <sys/mman.h>

#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "shell.h"
#include "deliver.h"

struct daemon	*nbmqd;

/*
 * Large messages live in the heap (main.c's mallopt), and every page of
 * it is zeroed by a fault when first touched.  On a paravirtualised VM a
 * 4 KiB fault cost about 20 us: a fresh daemon receiving 1 MiB messages
 * spent 60-75% of its time in faults while its heap grew, took 50 of
 * them a second for 1.2 s where a warm one takes 1,300, and the queue
 * that built meanwhile held 256 MiB.  Each new stretch of the heap is
 * marked for transparent huge pages (one fault per 2 MiB), as glibc does
 * with its glibc.malloc.hugetlb=1 tunable, which only the environment
 * can set; main.c's M_TOP_PAD makes the heap grow 32 MiB at a time, so
 * most of a stretch is marked before it is touched.  Past the first
 * 32 MiB only: below that, 2 MiB pages would double the RSS of a daemon
 * of 1,000 idle peers (the bench's 2 KiB a peer).  sbrk(0) reads a
 * variable; madvise runs when the heap grew.  With THP off madvise fails
 * and nothing changes.
 *
 * The pad stays while messages flow; once none has moved for HEAP_IDLE
 * after the heap last grew, malloc_trim gives back what is free.
 */
#define HEAP_THP_FROM	(32U << 20)	/* a small daemon keeps 4 KiB pages */
#define HEAP_IDLE	2		/* seconds */
static uintptr_t	 heap_base, heap_done;
static struct event	*heap_ev;
static uint64_t		 heap_msgs;

static uint64_t
daemon_msgs(void)
{
	struct dsock	*d;
	uint64_t	 n = 0;

	TAILQ_FOREACH(d, &nbmqd->socks, entry)
		n += d->core.st.rx_msgs + d->core.st.tx_msgs;
	return n;
}

static void
heap_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	 tv = { HEAP_IDLE, 0 };
	uint64_t	 n = daemon_msgs();
	uintptr_t	 end;

	if (n != heap_msgs) {
		heap_msgs = n;
		event_add(heap_ev, &tv);
		return;
	}
	malloc_trim(0);
	end = (uintptr_t)sbrk(0);
	if (end != (uintptr_t)-1 && end < heap_done)
		heap_done = end;	/* what grows again is marked again */
}

/*
 * Bytes the heap holds in use: what malloc has handed out and not had
 * back, arenas and mmapped blocks both, not what it keeps free or what
 * the kernel has resident.  A leak shows here exactly, where the RSS
 * moves with malloc's policy (the pad, when it trims).  O(free chunks):
 * for nbmqctl stats and a scrape, never the data path.  0 where
 * mallinfo2 is not there.
 */
uint64_t
daemon_heap_bytes(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
#else
	return 0;
#endif
}

void
daemon_heap_stop(void)
{
	if (heap_ev != NULL)
		event_free(heap_ev);
	heap_ev = NULL;
}

void
daemon_heap_thp(void)
{
	struct timeval	 tv = { HEAP_IDLE, 0 };
	uintptr_t	 end = (uintptr_t)sbrk(0), from;
	const uintptr_t	 pg = 4096;

	if (end == (uintptr_t)-1 || end <= heap_done)
		return;
	if (heap_base == 0) {		/* at start-up (main): where it begins */
		heap_base = heap_done = end;
		return;
	}
	from = heap_done > heap_base + HEAP_THP_FROM ? heap_done :
	    heap_base + HEAP_THP_FROM;
	from &= ~(pg - 1);
	end &= ~(pg - 1);
	if (end > from)
		(void)madvise((void *)from, end - from, MADV_HUGEPAGE);
	heap_done = end;
	if (heap_ev == NULL && (heap_ev = evtimer_new(nbmqd->base,
	    heap_idle_cb, NULL)) == NULL)
		return;
	heap_msgs = daemon_msgs();
	event_add(heap_ev, &tv);
}

nbmq_time
daemon_now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (nbmq_time)ts.tv_sec * NSEC + (nbmq_time)ts.tv_nsec;
}

static void
dsock_timer_cb(evutil_socket_t fd, short what, void *arg);

struct dsock *
dsock_new(int type, const struct sockopts *o, const char *name)
{
	struct dsock	*d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (sock_init(&d->core, type, o, nbmqd->io->sock_ops, d) == -1) {
		free(d);
		return NULL;
	}
	d->core.mb = &nbmqd->mem;	/* [daemon] max_memory */
	d->fd = -1;
	TAILQ_INIT(&d->subs);
	d->handle = ++nbmqd->next_handle;
	if (hmap_insert(&nbmqd->by_handle, &d->hnode, d->handle) == -1) {
		sock_destroy(&d->core);
		free(d);
		return NULL;
	}
	if (name != NULL)
		snprintf(d->core.name, sizeof(d->core.name), "%s", name);
	else
		snprintf(d->core.name, sizeof(d->core.name), "#%u", d->handle);
	if ((d->ev_timer = evtimer_new(nbmqd->base, dsock_timer_cb, d)) == NULL)
		fatalx("evtimer_new");
	TAILQ_INSERT_TAIL(&nbmqd->socks, d, entry);
	return d;
}

/*
 * u's application went away, or closed the socket, or the socket goes:
 * what it held goes back to a configured socket, or is counted
 * (deliver_release).
 */
static void
dsock_sub_free(struct sub *u, int keep)
{
	struct dsock	*d = u->d;
	uint64_t	 held, back, lost;

	deliver_release(u, keep, &held, &back, &lost);
	if (held > 0 || lost > 0)
		log_info("socket %s: pid %d left with %llu messages not "
		    "confirmed: %llu given back, %llu lost (app_gone)",
		    d->core.name, (int)u->pid, (unsigned long long)held,
		    (unsigned long long)back, (unsigned long long)lost);
	TAILQ_REMOVE(&d->subs, u, entry);
	d->nsubs--;
	nbmqd->io->sub_unlink(u);
	free(u);
}

void
dsock_free(struct dsock *d)
{
	struct sub	*u;

	while ((u = TAILQ_FIRST(&d->subs)) != NULL)
		dsock_sub_free(u, 0);
	/* Received, and no application will ever read them. */
	if (d->core.rq_len > 0) {
		log_info("socket %s: closed with %llu messages not read "
		    "(app_gone)", d->core.name,
		    (unsigned long long)d->core.rq_len);
		d->core.st.drops[DROP_APP_GONE] += d->core.rq_len;
	}
	log_debug("socket %s: destroyed", d->core.name);
	TAILQ_REMOVE(&nbmqd->socks, d, entry);
	hmap_remove(&nbmqd->by_handle, &d->hnode);
	if (d->fd != -1)
		session_goodbye(&d->core);
	nbmqd->io->close(d);
	event_free(d->ev_timer);
	sock_destroy(&d->core);
	/* its counters stay in the daemon's totals */
	sock_stats_add(&nbmqd->closed_st, &d->core.st);
	nbmqd->nclosed++;
	free(d->host);
	free(d);
}

struct dsock *
dsock_by_handle(uint32_t handle)
{
	struct hnode	*n = hmap_find(&nbmqd->by_handle, handle);

	return n == NULL ? NULL : container_of(n, struct dsock, hnode);
}

struct dsock *
dsock_by_name(const char *name)
{
	struct dsock	*d;

	TAILQ_FOREACH(d, &nbmqd->socks, entry)
		if (d->configured && strcmp(d->core.name, name) == 0)
			return d;
	return NULL;
}

static void
dsock_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dsock	*d = arg;
	nbmq_time	 now = daemon_now();

	sock_timers(&d->core, now);
	dsock_sync(d, now);
}

struct sub *
dsock_attach(struct dsock *d, struct client *c)
{
	struct sub	*u;
	uid_t		 uid;
	gid_t		 gid;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return NULL;
	u->d = d;
	u->c = c;
	nbmqd->io->client_cred(c, &u->pid, &uid, &gid);
	u->version = nbmqd->io->client_version(c);
	TAILQ_INIT(&u->q);
	if (nbmqd->io->sub_link(u) == -1) {
		free(u);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&d->subs, u, entry);
	d->nsubs++;
	return u;
}

/* What completed goes on to the attached applications. */
void
dsock_deliver(struct dsock *d)
{
	struct sub	*u;

	if (d->core.type == NBMQ_DISH && !TAILQ_EMPTY(&d->subs))
		deliver_fanout(d);
	TAILQ_FOREACH(u, &d->subs, entry)
		nbmqd->io->deliver(u);
}

/*
 * What completed goes on to the applications while a read goes on (udp.c):
 * an application's output past its high mark is written now, as it may be
 * reading meanwhile, and what waited is delivered after that write.
 */
void
dsock_deliver_busy(struct dsock *d)
{
	struct sub	*u;

	dsock_deliver(d);
	TAILQ_FOREACH(u, &d->subs, entry) {
		if (nbmqd->io->client_backlogged(u->c)) {
			nbmqd->io->push(u->c);
			nbmqd->io->deliver(u);
		}
	}
}

/* Counted for nbmqctl; queued for subscribed applications. */
void
dsock_peer_event(struct dsock *d, const struct peer *p, enum peer_event ev)
{
	if ((unsigned int)ev >= PEV_NEVENTS)
		return;
	d->pev[ev]++;
	nbmqd->pev[ev]++;
	deliver_peer_event(d, p, ev);
}

void
dsock_connect_event(struct dsock *d)
{
	deliver_connect_event(d);
}

void
dsock_sync(struct dsock *d, nbmq_time now)
{
	/* Frames queued by this event leave now, not on the next loop. */
	if (!d->write_armed && d->fd != -1) {
		if (sock_tick(&d->core, now) && !d->write_armed) {
			event_add(d->ev_write, NULL);
			d->write_armed = 1;
		}
		nbmqd->io->flush(d);
	}
	dsock_deliver(d);

	/*
	 * A closed socket lingers until its queue has left and, safe_dealer,
	 * every frame is acked: closing before the last Acks came would give
	 * up messages that arrived.
	 */
	if (d->closing && ((d->core.queued == 0 &&
	    TAILQ_EMPTY(&d->core.resendq)) || now >= d->linger_until)) {
		if (d->core.queued > 0 || !TAILQ_EMPTY(&d->core.resendq))
			log_info("socket %s: linger expired with %llu "
			    "messages not sent (peer_gone)%s", d->core.name,
			    (unsigned long long)d->core.queued,
			    TAILQ_EMPTY(&d->core.resendq) ? "" :
			    " and sent messages not acked (given up)");
		dsock_free(d);
		return;
	}
	nbmqd->io->arm_timer(d, now);
}

/*
 * A listening stream socket on sa (non-blocking, close-on-exec), for the
 * IPC socket and /metrics: -1 with errno and *call naming the call that
 * failed, for a message that says which.  TCP ones reuse the address;
 * sndbuf > 0 fixes the send buffer, which accepted connections inherit.
 */
int
daemon_listen(const struct sockaddr *sa, socklen_t len, int backlog,
    int sndbuf, const char **call)
{
	int	fd, e, one = 1;

	*call = "socket";
	if ((fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (sa->sa_family != AF_UNIX)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
	if (sndbuf > 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof(sndbuf));
	*call = "bind";
	if (bind(fd, sa, len) == 0) {
		*call = "listen";
		if (listen(fd, backlog) == 0)
			return fd;
	}
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

void
dsock_release(struct sub *u, nbmq_time now)
{
	struct dsock	*d = u->d;
	uint64_t	 handed = u->confirmed;
	pid_t		 pid = 0;
	uid_t		 uid;
	gid_t		 gid;

	nbmqd->io->client_cred(u->c, &pid, &uid, &gid);
	dsock_sub_free(u, 1);
	if (d->configured) {
		log_info("socket %s: application (pid %d) detached, %llu "
		    "messages handed over to it", d->core.name, (int)pid,
		    (unsigned long long)handed);
		return;
	}
	/* Its own socket: the count for tests/int_appgone.sh, in debug. */
	log_debug("socket %s: application (pid %d) closed it, %llu messages "
	    "handed over to it", d->core.name, (int)pid,
	    (unsigned long long)handed);
	if (d->nsubs > 0)
		return;
	d->closing = 1;
	d->linger_until = now + d->core.o.linger;
	dsock_sync(d, now);
}

void
dsock_remove(struct dsock *d)
{
	struct sub	*u;

	TAILQ_FOREACH(u, &d->subs, entry)
		nbmqd->io->sock_gone(u);
	dsock_free(d);
}

int
dsock_setopt(struct dsock *d, const struct optdesc *od, int64_t v)
{
	struct sockopts	o = d->core.o;
	char		why[128];

	if (opt_set_ipc(&o, od, v) == -1)
		return EINVAL;
	if (opts_validate(&o, why, sizeof(why)) == -1)
		return EINVAL;
	return dsock_setopts(d, &o);
}

/*
 * Replace every option at once (IPC setopt, config reload).  A new
 * max_frame_size needs a new outbox: EBUSY while datagrams of the old size
 * still wait in it, or (smaller) while safe_dealer frames of the old size
 * may have to be resent.  coalesce and ext_frame_size apply to
 * negotiations from now on (PROTOCOL.md 4.3).
 */
int
dsock_setopts(struct dsock *d, const struct sockopts *o)
{
	char	why[160];

	if (d->core.crypt != NULL && !crypt_opts_ok(&d->core, o, why,
	    sizeof(why))) {
		log_warnx("socket %s: %s: options unchanged", d->core.name, why);
		return EINVAL;
	}
	/* Slots hold the largest frame in use: an extension peer's may be
	 * larger than max_frame_size (PROTOCOL.md 4.3). */
	if (o->max_frame_size != d->core.o.max_frame_size &&
	    sock_slot_need(&d->core, o) != d->core.ob.slot_size) {
		struct outbox	ob;
		size_t		need = sock_slot_need(&d->core, o);

		if (d->core.ob.n > 0 ||
		    (need < d->core.ob.slot_size &&
		    !TAILQ_EMPTY(&d->core.resendq)) ||
		    outbox_init(&ob, need))
			return EBUSY;
		outbox_free(&d->core.ob);
		d->core.ob = ob;
	}
	d->core.o = *o;
	nbmqd->io->set_bufs(d);
	return 0;
}
