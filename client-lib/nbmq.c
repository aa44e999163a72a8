/* SPDX-License-Identifier: ISC */
/*
 * nbmq.c: libnbmq, the client side of the IPC protocol (nbmq-protocol.h).
 *
 * One Unix stream connection per socket, so each socket has its own fd to
 * poll.  Sends go to the kernel with one sendmsg (what waits in the output
 * buffer, then header and the application's parts as an iovec, no copy)
 * while the daemon's credit window allows; what the kernel does not take
 * is kept and goes first next time.  A send with NBMQ_BATCH is copied into
 * the output buffer instead, up to BATCH_MAX bytes, and leaves with the
 * next write: many messages per syscall.  Received data is read in large
 * chunks, until a read comes back short (the stream is drained for now),
 * and parsed into a queue of messages, so a request waiting for its result
 * never loses a message that arrived before it.  A blocking receive with
 * an empty queue polls before it reads: poll, one read, and the message.
 * Each message is one allocation, which a socket's pool recycles (see
 * "Message buffers" below).  The library never prints or exits.
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nbmq.h"
#include "nbmq-protocol.h"

/* Blocks in a pool are freed memory to ASan and valgrind (POOL_HIDE). */
#if defined(__SANITIZE_ADDRESS__)
#define NBMQ_ASAN
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NBMQ_ASAN
#endif
#endif
#if defined(NBMQ_ASAN)
#include <sanitizer/asan_interface.h>
#define POOL_HIDE(p, n)	ASAN_POISON_MEMORY_REGION(p, n)
#define POOL_SHOW(p, n)	ASAN_UNPOISON_MEMORY_REGION(p, n)
#elif defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define POOL_HIDE(p, n)	(void)VALGRIND_MAKE_MEM_NOACCESS(p, n)
#define POOL_SHOW(p, n)	(void)VALGRIND_MAKE_MEM_UNDEFINED(p, n)
#endif
#endif
#ifndef POOL_HIDE
#define POOL_HIDE(p, n)	do { } while (0)
#define POOL_SHOW(p, n)	do { } while (0)
#endif

#define EXPORT		__attribute__((visibility("default")))
#define READ_CHUNK	(256U << 10)
#define REQ_TIMEOUT_MS	10000
#define OUT_MAX		(8U << 20)	/* DONTWAIT sends waiting for the kernel */
#define BATCH_MAX	(64U << 10)	/* NBMQ_BATCH sends held at most */
#define CONFIRM_BATCH	64		/* messages handed, then IPC_CONFIRM */

struct nbmq_ctx {
	char		*path;
};

struct nbmq_msg {
	struct nbmq_msg	*next;
	struct msg_pool	*pool;		/* NULL: malloc'd, free()d */
	uint64_t	 peer;
	uint64_t	 dropped;	/* > 0: a drop report, not a message */
	struct nbmq_event *event;	/* a peer event, not a message */
	uint32_t	*sizes;
	uint8_t		*data;
	uint32_t	 nparts;
	uint32_t	 size;
	uint32_t	 cls;		/* the pool's size class */
};

/*
 * Message buffers.  A received message is one allocation: struct nbmq_msg,
 * the part sizes, the bytes.  One of up to POOL_BLOCK_MAX bytes takes a
 * block of its size class (eighths of a power of two: at most 1/8 more
 * than it needs), which nbmq_msg_free() gives back to the socket's pool
 * and the next message of that class takes: a steady stream of small
 * messages costs no malloc or free, and the heap does not grow and shrink
 * (brk, page faults) as malloc trims it.  The pool keeps up to POOL_BYTES
 * (a few more blocks while frees race) and frees what does not fit; the
 * next message that finds no block of its class then frees as many bytes
 * of other classes, so that the sizes in use now take the room of those
 * no longer used.  Larger messages, events and drop reports are plain
 * malloc.
 *
 * nbmq_msg_free() may be called from any thread, and after nbmq_close():
 * frees push onto a lock-free stack per class (any number of producers),
 * which only the socket's receives empty (calls on one socket are never
 * concurrent: its queue has no lock either), taking a whole stack with one
 * exchange (one consumer: no ABA).  The pool lives while the socket or
 * a message of its blocks does: refs counts the socket and the messages,
 * taken POOL_REFS at a time, so that a receive takes a block without an
 * atomic read-modify-write (but the exchange that empties a stack).
 * Under ASan or valgrind a block in the pool is inaccessible, as freed
 * memory would be.
 */
#define POOL_BYTES	(1U << 20)
#define POOL_MIN_SHIFT	7		/* blocks of 128 B.. */
#define POOL_MAX_SHIFT	16		/* ..64 KiB */
#define POOL_BLOCK_MAX	(1U << POOL_MAX_SHIFT)
#define POOL_STEP_SHIFT	3		/* 8 classes per power of two */
#define POOL_STEPS	(1U << POOL_STEP_SHIFT)
#define POOL_NCLASS	((POOL_MAX_SHIFT - POOL_MIN_SHIFT) * POOL_STEPS + 1)
#define POOL_REFS	256

/*
 * freed: the stacks nbmq_msg_free pushes to; ready: what the socket took
 * from them.  in: bytes pushed, ever; out: bytes taken or freed, ever
 * (the socket's calls write it).
 */
struct msg_pool {
	_Atomic(struct nbmq_msg *) freed[POOL_NCLASS];
	struct nbmq_msg	*ready[POOL_NCLASS];
	_Atomic uint64_t in;
	_Atomic uint64_t out;
	_Atomic unsigned long refs;	/* socket, messages (POOL_REFS) */
	_Atomic int	 closed;	/* no socket: free, do not push */
	_Atomic uint64_t refused;	/* bytes frees had no room for */
	unsigned long	 credit;	/* refs taken, not yet given */
	uint32_t	 evict;		/* pool_evict's class */
	uint64_t	 hits, misses;	/* blocks reused, malloc'd */
};

struct nbmq_socket {
	nbmq_ctx	*ctx;
	int		 fd;
	int		 err;		/* sticky: the connection is dead */
	uint32_t	 handle;
	int		 type;
	uint32_t	 next_reqid;

	uint8_t		*in;		/* unparsed input */
	size_t		 in_len, in_cap;
	uint8_t		*out;		/* output held (NBMQ_BATCH) or that the
					   kernel did not take, in order */
	size_t		 out_len, out_cap;

	struct nbmq_msg	*head, **tailp;	/* received, in order */
	struct msg_pool	*pool;		/* their blocks */

	uint64_t	 sent, limit;	/* credit window */
	uint64_t	 taken;		/* messages handed to the application,
					   not confirmed to the daemon yet */
	uint64_t	 handed;	/* messages handed over, ever */
	uint64_t	*tally;		/* IPC_TALLY: handed, for the daemon */
	uint32_t	 peers;
	uint64_t	 max_message_size;
	int64_t		 rcvtimeo, sndtimeo;
	int64_t		 kern_rcvtimeo;	/* what SO_RCVTIMEO says (-2: unset) */
	int		 events;	/* NBMQ_OPT_EVENTS is on */
	int		 hwm_state;	/* 1: hwm_reached was the last told */

	/* The result of the request in flight. */
	uint32_t	 wait_reqid;
	int		 got_result;
	struct ipc_result result;
	char		 result_str[NBMQ_IPC_MAX_STRING];
	char		 endpoint[NBMQ_IPC_MAX_STRING];
};

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

EXPORT nbmq_ctx *
nbmq_ctx_new(const char *path)
{
	nbmq_ctx	*ctx;

	if (path == NULL || *path == '\0')
		path = getenv("NBMQ_SOCKET");
	if (path == NULL || *path == '\0')
		path = NBMQ_DEFAULT_IPC_PATH;
	if ((ctx = calloc(1, sizeof(*ctx))) == NULL)
		return NULL;
	if ((ctx->path = strdup(path)) == NULL) {
		free(ctx);
		return NULL;
	}
	return ctx;
}

EXPORT void
nbmq_ctx_destroy(nbmq_ctx *ctx)
{
	if (ctx == NULL)
		return;
	free(ctx->path);
	free(ctx);
}

/* ---- message buffers (struct msg_pool) ---- */

/* The size class of an allocation of n bytes; -1 past POOL_BLOCK_MAX. */
static int
pool_class(size_t n)
{
	unsigned	k;

	if (n > POOL_BLOCK_MAX)
		return -1;
	if (n <= 1U << POOL_MIN_SHIFT)
		return 0;
	/* 2^k < n <= 2^(k+1): the eighth of 2^k that n ends in. */
	k = 63 - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
	return (int)((k - POOL_MIN_SHIFT) * POOL_STEPS + 1 +
	    ((n - 1 - ((size_t)1 << k)) >> (k - POOL_STEP_SHIFT)));
}

/* The block size of class c: the largest n of pool_class(n) == c. */
static size_t
pool_size(uint32_t c)
{
	uint32_t	k, q;

	if (c == 0)
		return 1U << POOL_MIN_SHIFT;
	k = POOL_MIN_SHIFT + (c - 1) / POOL_STEPS;
	q = (c - 1) % POOL_STEPS;
	return ((size_t)1 << k) + ((size_t)(q + 1) << (k - POOL_STEP_SHIFT));
}

/* Bytes in the pool now (racing frees may add more meanwhile). */
static uint64_t
pool_bytes(struct msg_pool *p)
{
	uint64_t	out, in;

	out = atomic_load_explicit(&p->out, memory_order_relaxed);
	in = atomic_load_explicit(&p->in, memory_order_relaxed);
	return in > out ? in - out : 0;
}

/* The socket's calls only: count n more bytes out of the pool. */
static void
pool_out(struct msg_pool *p, uint64_t n)
{
	atomic_store_explicit(&p->out, atomic_load_explicit(&p->out,
	    memory_order_relaxed) + n, memory_order_relaxed);
}

static struct msg_pool *
pool_new(void)
{
	struct msg_pool	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return NULL;
	atomic_init(&p->refs, 1);
	return p;
}

/* Free the blocks of class c (the socket's calls, or the last owner). */
static void
pool_drop(struct msg_pool *p, uint32_t c)
{
	struct nbmq_msg	*m, *list[2];
	size_t		 sz = pool_size(c);
	uint64_t	 n = 0;

	list[0] = p->ready[c];
	p->ready[c] = NULL;
	list[1] = atomic_load_explicit(&p->freed[c], memory_order_relaxed) ==
	    NULL ? NULL : atomic_exchange_explicit(&p->freed[c], NULL,
	    memory_order_acquire);
	for (int i = 0; i < 2; i++)
		while ((m = list[i]) != NULL) {
			list[i] = m->next;
			POOL_SHOW(m, sz);
			free(m);
			n += sz;
		}
	if (n > 0)
		pool_out(p, n);
}

static void
pool_destroy(struct msg_pool *p)
{
	for (uint32_t c = 0; c < POOL_NCLASS; c++)
		pool_drop(p, c);
	free(p);
}

/*
 * A message of `need` bytes found no block of class keep: free blocks of
 * the other classes, a class after another, for the bytes frees found no
 * room for, and for this block's room when it comes back.
 */
static void
pool_evict(struct msg_pool *p, uint32_t keep, size_t need)
{
	struct nbmq_msg	*m;
	uint64_t	 want = 0, got = 0, have;
	size_t		 sz;
	uint32_t	 c;

	if (atomic_load_explicit(&p->refused, memory_order_relaxed) != 0)
		want = atomic_exchange_explicit(&p->refused, 0,
		    memory_order_relaxed);
	if ((have = pool_bytes(p)) + need > POOL_BYTES)
		want += have + need - POOL_BYTES;
	for (uint32_t n = 0; n < POOL_NCLASS && got < want; n++) {
		c = p->evict = (p->evict + 1) % POOL_NCLASS;
		if (c == keep)
			continue;
		if (p->ready[c] == NULL && atomic_load_explicit(&p->freed[c],
		    memory_order_relaxed) != NULL)
			p->ready[c] = atomic_exchange_explicit(&p->freed[c],
			    NULL, memory_order_acquire);
		sz = pool_size(c);
		while ((m = p->ready[c]) != NULL && got < want) {
			p->ready[c] = m->next;
			POOL_SHOW(m, sz);
			free(m);
			got += sz;
		}
	}
	if (got > 0)
		pool_out(p, got);
}

/* The socket is gone: free the blocks, and the pool if no message is out. */
static void
pool_close(struct msg_pool *p)
{
	unsigned long	mine;

	if (p == NULL)
		return;
	atomic_store_explicit(&p->closed, 1, memory_order_relaxed);
	for (uint32_t c = 0; c < POOL_NCLASS; c++)
		pool_drop(p, c);
	mine = p->credit + 1;
	if (atomic_fetch_sub_explicit(&p->refs, mine,
	    memory_order_acq_rel) == mine)
		pool_destroy(p);
}

/*
 * A block of class c for a message of len bytes (the socket's calls);
 * NULL: ENOMEM.  The rest of the block stays inaccessible to ASan and
 * valgrind, which see overruns as past a malloc'd message.
 */
static struct nbmq_msg *
pool_get(struct msg_pool *p, uint32_t c, size_t len)
{
	struct nbmq_msg	*m;
	size_t		 sz = pool_size(c);

	if ((m = p->ready[c]) == NULL &&
	    atomic_load_explicit(&p->freed[c], memory_order_relaxed) != NULL)
		m = atomic_exchange_explicit(&p->freed[c], NULL,
		    memory_order_acquire);
	if (m != NULL) {
		p->ready[c] = m->next;
		POOL_SHOW(m, len);
		pool_out(p, sz);
		p->hits++;
	} else {
		pool_evict(p, c, sz);
		if ((m = malloc(sz)) == NULL)
			return NULL;
		POOL_HIDE((uint8_t *)m + len, sz - len);
		p->misses++;
	}
	if (p->credit == 0) {
		atomic_fetch_add_explicit(&p->refs, POOL_REFS,
		    memory_order_relaxed);
		p->credit = POOL_REFS;
	}
	p->credit--;
	m->pool = p;
	m->cls = c;
	return m;
}

/* nbmq_msg_free of a pool's block: any thread, the socket open or not. */
static void
pool_put(struct nbmq_msg *m)
{
	struct msg_pool	*p = m->pool;
	uint32_t	 c = m->cls;
	size_t		 sz = pool_size(c);

	if (atomic_load_explicit(&p->closed, memory_order_relaxed))
		free(m);
	else if (pool_bytes(p) + sz > POOL_BYTES) {
		atomic_fetch_add_explicit(&p->refused, sz,
		    memory_order_relaxed);
		free(m);
	} else {
		atomic_fetch_add_explicit(&p->in, sz, memory_order_relaxed);
		m->next = atomic_load_explicit(&p->freed[c],
		    memory_order_relaxed);
		POOL_HIDE((uint8_t *)m + sizeof(m->next),
		    sz - sizeof(m->next));
		/* Release: the consumer's exchange sees m->next. */
		while (!atomic_compare_exchange_weak_explicit(&p->freed[c],
		    &m->next, m, memory_order_release, memory_order_relaxed))
			;
	}
	if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1)
		pool_destroy(p);
}

/* Room for a message of len bytes in all (struct nbmq_msg included). */
static struct nbmq_msg *
msg_alloc(nbmq_socket *s, size_t len)
{
	struct nbmq_msg	*m;
	int		 c;

	if (s->pool != NULL && (c = pool_class(len)) != -1)
		return pool_get(s->pool, (uint32_t)c, len);
	if ((m = malloc(len)) != NULL)
		m->pool = NULL;
	return m;
}

static void
lmsg_free(struct nbmq_msg *m)
{
	if (m == NULL)
		return;
	if (m->pool != NULL)
		pool_put(m);
	else
		free(m);
}

static void
sock_dead(nbmq_socket *s, int err)
{
	if (s->err == 0)
		s->err = err;
}

/* Write what waits in s->out; 0, or -1 with s->err set. */
static int
out_flush(nbmq_socket *s)
{
	ssize_t	n;

	while (s->out_len > 0) {
		n = send(s->fd, s->out, s->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			memmove(s->out, s->out + n, s->out_len - (size_t)n);
			s->out_len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		sock_dead(s, errno == EPIPE ? ECONNRESET : errno);
		return -1;
	}
	return 0;
}

/* Room for `len` more bytes in s->out; 0, or -1 (ENOMEM). */
static int
out_reserve(nbmq_socket *s, size_t len)
{
	size_t	 cap = s->out_cap ? s->out_cap : 4096;
	uint8_t	*n;

	if (s->out_len + len <= s->out_cap)
		return 0;
	while (cap < s->out_len + len)
		cap *= 2;
	if ((n = realloc(s->out, cap)) == NULL)
		return -1;
	s->out = n;
	s->out_cap = cap;
	return 0;
}

/* Append the iovecs from byte `skip` on; the room must be reserved. */
static void
out_append(nbmq_socket *s, const struct iovec *iov, int iovcnt, size_t skip)
{
	for (int i = 0; i < iovcnt; i++) {
		size_t	len = iov[i].iov_len;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		memcpy(s->out + s->out_len, (const uint8_t *)iov[i].iov_base +
		    skip, len - skip);
		s->out_len += len - skip;
		skip = 0;
	}
}

/*
 * Send one IPC message made of iovecs.  With `hold` (NBMQ_BATCH) it is
 * copied to the end of s->out while that stays within BATCH_MAX.
 * Otherwise what waits in s->out and the message leave with one sendmsg,
 * in that order, and the part the kernel did not take is kept in s->out.
 * Returns 1 when it wrote, 0 when it held the message, or -1 with errno
 * (ENOMEM when holding: nothing changed).
 */
static int
ipc_sendv(nbmq_socket *s, const struct iovec *iov, int iovcnt, int hold)
{
	struct iovec	v[1 + 5 + NBMQ_IPC_MAX_PARTS];
	struct msghdr	mh;
	size_t		total = 0, taken, k;
	ssize_t		n;
	int		nv = 0;

	if (s->err) {
		errno = s->err;
		return -1;
	}
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	if (hold && s->out_len + total <= BATCH_MAX) {
		if (out_reserve(s, total) == -1) {
			errno = ENOMEM;
			return -1;
		}
		out_append(s, iov, iovcnt, 0);
		return 0;
	}
	if (s->out_len > 0) {
		v[nv].iov_base = s->out;
		v[nv++].iov_len = s->out_len;
	}
	for (int i = 0; i < iovcnt; i++)
		v[nv++] = iov[i];
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = v;
	mh.msg_iovlen = (size_t)nv;
	do
		n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			sock_dead(s, errno == EPIPE ? ECONNRESET : errno);
			errno = s->err;
			return -1;
		}
		n = 0;
	}
	taken = (size_t)n;
	if (s->out_len > 0) {
		k = taken < s->out_len ? taken : s->out_len;
		memmove(s->out, s->out + k, s->out_len - k);
		s->out_len -= k;
		taken -= k;
	}
	/*
	 * Keep the part of the message the kernel did not take.  Part of it
	 * may be in the kernel already: without room for the rest the
	 * stream is broken, and the socket with it.
	 */
	if (taken < total) {
		if (out_reserve(s, total - taken) == -1) {
			sock_dead(s, ENOMEM);
			errno = ENOMEM;
			return -1;
		}
		out_append(s, iov, iovcnt, taken);
	}
	return 1;
}

static int
ipc_send1(nbmq_socket *s, uint16_t type, uint32_t reqid, const void *p,
    size_t len)
{
	struct nbmq_ipc_hdr	h = {
		.len = (uint32_t)len,
		.type = type,
		.handle = s->handle,
		.reqid = reqid,
	};
	struct iovec		iov[2] = {
		{ &h, sizeof(h) },
		{ (void *)p, len },
	};

	return ipc_sendv(s, iov, len ? 2 : 1, 0) == -1 ? -1 : 0;
}

/*
 * Tell the daemon the messages nbmq_recv handed over since the last time
 * (IPC_CONFIRM): it holds each until then, and gives back to the socket
 * (or counts as app_gone) what an application that dies never got.  Sent
 * every CONFIRM_BATCH messages, and whenever the library is about to read
 * or wait with nothing left to hand over, so that a daemon holding up to
 * recv_hwm always hears; after NBMQ_BATCH sends still held here, it joins
 * them and leaves with them.  Errors are sticky in s->err.
 */
static void
confirm_send(nbmq_socket *s)
{
	struct ipc_confirm	cf = { .count = s->taken };
	struct nbmq_ipc_hdr	h = {
		.len = sizeof(cf),
		.type = IPC_CONFIRM,
		.handle = s->handle,
	};
	struct iovec		iov[2] = {
		{ &h, sizeof(h) },
		{ &cf, sizeof(cf) },
	};

	if (s->taken == 0 || s->err)
		return;
	if (ipc_sendv(s, iov, 2, s->out_len > 0) != -1)
		s->taken = 0;
}

static void
queue_push(nbmq_socket *s, struct nbmq_msg *m)
{
	m->next = NULL;
	*s->tailp = m;
	s->tailp = &m->next;
}

/* An event for the application, after what is queued; 0 or ENOMEM. */
static int
event_push(nbmq_socket *s, int type, int reason, uint64_t peer,
    const char *addr, const char *prev_addr)
{
	struct nbmq_msg	*m;

	/* No parts; the event sits right after the message. */
	if ((m = calloc(1, sizeof(*m) + sizeof(*m->event))) == NULL)
		return ENOMEM;
	m->event = (struct nbmq_event *)(m + 1);
	m->peer = peer;
	m->event->type = type;
	m->event->reason = reason;
	m->event->peer = peer;
	snprintf(m->event->addr, sizeof(m->event->addr), "%s", addr);
	snprintf(m->event->prev_addr, sizeof(m->event->prev_addr), "%s",
	    prev_addr);
	queue_push(s, m);
	return 0;
}

/*
 * The send HWM events as the application meets the window's edge.  The
 * daemon says reached when every send queue is full at a moment it
 * looks, but a send can fail with EAGAIN while its queue never is: it
 * sent one message before it read the next and granted more room before
 * the library read the grant (a python test saw no event at all, 1 run
 * in 80).  So the library says reached too when a send fails so, and
 * cleared when a grant gives room again; an HWM event from either that
 * does not change what was last told is dropped, so the two alternate.
 * 1 when the event is to be told.
 */
static int
hwm_change(nbmq_socket *s, int type)
{
	int	reached = type == NBMQ_EVENT_HWM_REACHED;

	if (reached == s->hwm_state)
		return 0;
	s->hwm_state = reached;
	return 1;
}

static void
hwm_tell(nbmq_socket *s, int type)
{
	if (s->events && hwm_change(s, type))
		(void)event_push(s, type, 0, 0, "", "");
}

/* One complete IPC message from the daemon. */
static int
ipc_handle(nbmq_socket *s, const struct nbmq_ipc_hdr *h, const uint8_t *p)
{
	struct ipc_msgview	 v;
	struct nbmq_msg		*m;

	switch (h->type) {
	case IPC_MSG:
		if (ipc_msg_parse(p, h->len, &v) != 0)
			return EPROTO;
		m = msg_alloc(s, sizeof(*m) + (size_t)v.nparts * 4 + v.size);
		if (m == NULL)
			return ENOMEM;
		m->peer = v.peer;
		m->dropped = 0;
		m->event = NULL;
		m->nparts = v.nparts;
		m->size = v.size;
		m->sizes = (uint32_t *)(m + 1);
		m->data = (uint8_t *)(m->sizes + v.nparts);
		memcpy(m->sizes, v.sizes, (size_t)v.nparts * 4);
		memcpy(m->data, v.data, v.size);
		queue_push(s, m);
		return 0;
	case IPC_DROPPED: {
		struct ipc_dropped d;

		if (h->len != sizeof(d))
			return EPROTO;
		memcpy(&d, p, sizeof(d));
		if ((m = calloc(1, sizeof(*m))) == NULL)
			return ENOMEM;
		m->dropped = d.count ? d.count : 1;
		queue_push(s, m);
		return 0;
	}
	case IPC_CREDIT: {
		struct ipc_credit c;

		if (h->len != sizeof(c))
			return EPROTO;
		memcpy(&c, p, sizeof(c));
		s->limit = c.limit;
		s->peers = c.peers;
		if (s->hwm_state && (s->sent < s->limit || s->peers == 0))
			hwm_tell(s, NBMQ_EVENT_HWM_CLEARED);
		return 0;
	}
	case IPC_RESULT:
	case IPC_HELLO_OK:
		if (h->reqid != s->wait_reqid || s->got_result)
			return EPROTO;
		memset(&s->result, 0, sizeof(s->result));
		s->result_str[0] = '\0';
		if (h->type == IPC_HELLO_OK) {
			struct ipc_hello_ok ok;

			if (h->len != sizeof(ok))
				return EPROTO;
		} else {
			size_t	slen;

			if (h->len < sizeof(s->result) ||
			    (slen = h->len - sizeof(s->result)) >=
			    sizeof(s->result_str))
				return EPROTO;
			memcpy(&s->result, p, sizeof(s->result));
			memcpy(s->result_str, p + sizeof(s->result), slen);
			s->result_str[slen] = '\0';
		}
		s->got_result = 1;
		return 0;
	case IPC_SOCK_GONE:
		return ECONNRESET;
	case IPC_EVENT: {
		struct ipc_event	ev;

		if (ipc_fixed_decode(h->type, p, h->len, &ev,
		    sizeof(ev)) != 0 || ev.type < NBMQ_EVENT_UP ||
		    ev.type > NBMQ_EVENT_CONNECT_FAILED ||
		    (ev.type == NBMQ_EVENT_DOWN ||
		    ev.type == NBMQ_EVENT_CONNECT_FAILED) != (ev.reason != 0) ||
		    (ev.type == NBMQ_EVENT_DOWN &&
		    ev.reason > NBMQ_DOWN_CLOSED) ||
		    ev.reason > NBMQ_CONNFAIL_UNREACHABLE)
			return EPROTO;
		if ((ev.type == NBMQ_EVENT_HWM_REACHED ||
		    ev.type == NBMQ_EVENT_HWM_CLEARED) &&
		    !hwm_change(s, (int)ev.type))
			return 0;
		return event_push(s, (int)ev.type, (int)ev.reason, ev.peer,
		    ev.addr, ev.prev_addr);
	}
	}
	return EPROTO;
}

/* Parse every complete message in the input buffer. */
static void
in_parse(nbmq_socket *s)
{
	struct nbmq_ipc_hdr	 h;
	size_t			 off = 0;
	int			 e;

	while (s->err == 0 && s->in_len - off >= sizeof(h)) {
		memcpy(&h, s->in + off, sizeof(h));
		if ((e = ipc_hdr_check(&h, NBMQ_IPC_MAX_PAYLOAD)) != 0) {
			sock_dead(s, EPROTO);
			break;
		}
		if (s->in_len - off < sizeof(h) + h.len)
			break;
		if ((e = ipc_handle(s, &h, s->in + off + sizeof(h))) != 0)
			sock_dead(s, e);
		off += sizeof(h) + h.len;
	}
	/* Once per read, and not for a large message still coming. */
	if (off > 0) {
		memmove(s->in, s->in + off, s->in_len - off);
		s->in_len -= off;
	}
}

/*
 * Read what the kernel has: until a read comes back short (a stream that
 * gave less than asked for is drained for now), or EAGAIN.  With wait,
 * the first read blocks (up to SO_RCVTIMEO: in_read_wait) and a signal
 * ends it.  1 when something was read, 0 when nothing was (waiting: the
 * timeout), or -1: with s->err set (EOF too), or EINTR while waiting.
 */
static int
in_read_how(nbmq_socket *s, int wait)
{
	ssize_t	n;
	size_t	want;
	int	flags = wait ? 0 : MSG_DONTWAIT, got = 0;

	for (;;) {
		if (s->in_cap - s->in_len < READ_CHUNK / 4) {
			size_t	 cap = s->in_cap * 2;
			uint8_t	*b;

			/* A message larger than the buffer: make room for it. */
			if (s->in_len >= sizeof(struct nbmq_ipc_hdr)) {
				struct nbmq_ipc_hdr h;

				memcpy(&h, s->in, sizeof(h));
				while (cap < sizeof(h) + (size_t)h.len +
				    READ_CHUNK)
					cap *= 2;
			}
			if ((b = realloc(s->in, cap)) == NULL) {
				sock_dead(s, ENOMEM);
				return -1;
			}
			s->in = b;
			s->in_cap = cap;
		}
		want = s->in_cap - s->in_len;
		n = recv(s->fd, s->in + s->in_len, want, flags);
		if (n > 0) {
			s->in_len += (size_t)n;
			in_parse(s);
			if (s->err)
				return -1;
			got = 1;
			if ((size_t)n < want)
				return 1;
			flags = MSG_DONTWAIT;	/* the rest without waiting */
			continue;
		}
		if (n == -1 && errno == EINTR) {
			if (flags == 0)
				return -1;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return got;
		sock_dead(s, n == 0 ? ECONNRESET : errno);
		return -1;
	}
}

static int
in_read(nbmq_socket *s)
{
	return in_read_how(s, 0);
}

/*
 * Wait for input in recv itself, with nothing to write: one system call
 * where poll and recv were two (a blocking ping-pong paid both per message
 * at each end).  The socket is blocking; every other call on it says
 * MSG_DONTWAIT.  SO_RCVTIMEO bounds the wait (set when the timeout
 * changes).  Returns as io_wait, and -2 when it cannot be used here.
 */
static int
in_read_wait(nbmq_socket *s, int timeout)
{
	/*
	 * Only for the socket's own receive timeout (what nbmq_recv waits
	 * first), so that SO_RCVTIMEO is set once, not per call; never 0
	 * (to the kernel: forever).
	 */
	if (s->out_len > 0 || timeout == 0 ||
	    (timeout != -1 && timeout != s->rcvtimeo))
		return -2;
	if (s->kern_rcvtimeo != timeout) {
		/*
		 * Forever is an hour at a time (then EAGAIN, and the caller
		 * waits again): with no timeout on the socket, a handler
		 * installed with SA_RESTART would restart recv, and a
		 * signal would no longer end the wait with EINTR.
		 */
		struct timeval	tv = { 3600, 0 };

		if (timeout > 0) {
			tv.tv_sec = timeout / 1000;
			tv.tv_usec = (timeout % 1000) * 1000;
		}
		if (setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
		    sizeof(tv)) == -1)
			return -2;
		s->kern_rcvtimeo = timeout;
	}
	return in_read_how(s, 1);
}

/*
 * Wait up to timeout ms (-1 forever) for input, flushing output meanwhile.
 * Returns 1 when something was read, 0 on timeout, -1 on error/EINTR.
 */
static int
io_wait(nbmq_socket *s, int timeout)
{
	struct pollfd	pfd = { .fd = s->fd, .events = POLLIN };
	int		r;

	confirm_send(s);
	if ((r = in_read_wait(s, timeout)) != -2)
		return r;
	if (s->out_len > 0)
		pfd.events |= POLLOUT;
	r = poll(&pfd, 1, timeout);
	if (r == -1)
		return -1;	/* EINTR */
	if (r == 0)
		return 0;
	if ((pfd.revents & POLLOUT) && out_flush(s) == -1)
		return -1;
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
		if (in_read(s) == -1)
			return -1;
		return 1;
	}
	return 1;
}

static int
remaining(int64_t deadline)
{
	int64_t	left;

	if (deadline < 0)
		return -1;
	left = deadline - now_ms();
	return left < 0 ? 0 : (int)(left > 60000 ? 60000 : left);
}

/*
 * Wait up to NBMQ_OPT_SNDTIMEO until the kernel took what s->out holds,
 * writing it as it makes room; 0, or -1 with errno (EAGAIN: timed out).
 */
static int
out_wait(nbmq_socket *s)
{
	int64_t	deadline;

	deadline = s->sndtimeo < 0 ? -1 : now_ms() + s->sndtimeo;
	while (s->out_len > 0) {
		if (io_wait(s, remaining(deadline)) == -1) {
			if (s->err)
				errno = s->err;
			return -1;
		}
		if (s->out_len > 0 && deadline >= 0 && now_ms() >= deadline) {
			errno = EAGAIN;
			return -1;
		}
	}
	return 0;
}

/* Send a request, wait for its result; 0 or errno from the daemon. */
static int
request(nbmq_socket *s, uint16_t type, const void *p, size_t len)
{
	int64_t	deadline = now_ms() + REQ_TIMEOUT_MS;

	s->wait_reqid = ++s->next_reqid ? s->next_reqid : ++s->next_reqid;
	s->got_result = 0;
	if (ipc_send1(s, type, s->wait_reqid, p, len) == -1)
		return errno;
	while (!s->got_result) {
		if (s->err)
			return s->err;
		if (io_wait(s, remaining(deadline)) == -1) {
			/* The answer came, then the daemon hung up (EUSERS). */
			if (s->got_result)
				break;
			if (s->err)
				return s->err;
			if (errno == EINTR)
				continue;
			return errno;
		}
		if (!s->got_result && now_ms() >= deadline)
			return ETIMEDOUT;
	}
	s->wait_reqid = 0;
	return s->result.err;
}

static void
lsock_free(nbmq_socket *s)
{
	struct nbmq_msg	*m;

	while ((m = s->head) != NULL) {
		s->head = m->next;
		lmsg_free(m);
	}
	pool_close(s->pool);
	if (s->tally != NULL)
		munmap(s->tally, NBMQ_IPC_TALLY_SIZE);
	if (s->fd != -1)
		close(s->fd);
	free(s->in);
	free(s->out);
	free(s);
}

/*
 * IPC_TALLY: share the count of messages handed over with the daemon, in
 * a sealed memfd it reads once the application is gone.  Best effort:
 * without it (no memfd, a full socket) the daemon hands what this one
 * took and had not confirmed to the next application too.
 */
static void
tally_offer(nbmq_socket *s)
{
	struct nbmq_ipc_hdr	 h = { .type = IPC_TALLY };
	struct iovec		 iov = { &h, sizeof(h) };
	struct msghdr		 mh;
	struct cmsghdr		*cm;
	union {
		struct cmsghdr	 align;
		char		 buf[CMSG_SPACE(sizeof(int))];
	}			 cbuf;
	void			*p;
	int			 fd;
	ssize_t			 n;

	if ((fd = memfd_create("nbmq-tally", MFD_CLOEXEC |
	    MFD_ALLOW_SEALING)) == -1)
		return;
	if (ftruncate(fd, NBMQ_IPC_TALLY_SIZE) == -1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == -1 ||
	    (p = mmap(NULL, NBMQ_IPC_TALLY_SIZE, PROT_READ | PROT_WRITE,
	    MAP_SHARED, fd, 0)) == MAP_FAILED) {
		close(fd);
		return;
	}
	memset(&mh, 0, sizeof(mh));
	memset(&cbuf, 0, sizeof(cbuf));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf.buf;
	mh.msg_controllen = sizeof(cbuf.buf);
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(fd));
	do
		n = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	close(fd);
	/* Nothing else was sent yet: all of it or none of it. */
	if (n != (ssize_t)sizeof(h)) {
		munmap(p, NBMQ_IPC_TALLY_SIZE);
		if (n > 0)
			sock_dead(s, EPROTO);
		return;
	}
	s->tally = p;
}

/*
 * A daemon at max_clients answers EUSERS as it accepts, and closes,
 * maybe before the hello was written (which then fails with EPIPE): the
 * answer is still there to be read.
 */
static int
refused_at_accept(int fd)
{
	struct {
		struct nbmq_ipc_hdr	h;
		struct ipc_result	r;
	} __attribute__((packed))	 m;

	if (recv(fd, &m, sizeof(m), MSG_DONTWAIT | MSG_PEEK) != sizeof(m))
		return 0;
	return m.h.type == IPC_RESULT && m.h.len == sizeof(m.r) &&
	    m.r.err == EUSERS;
}

/* Connect to the daemon and say hello. */
static nbmq_socket *
lsock_open(nbmq_ctx *ctx)
{
	struct sockaddr_un	 sun;
	struct ipc_hello	 hello;
	nbmq_socket		*s;
	int			 e;

	if (ctx == NULL) {
		errno = EINVAL;
		return NULL;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(ctx->path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(sun.sun_path, ctx->path);
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->ctx = ctx;
	s->tailp = &s->head;
	s->rcvtimeo = s->sndtimeo = -1;
	s->kern_rcvtimeo = -2;
	s->max_message_size = 16U << 20;
	s->in_cap = READ_CHUNK;
	if ((s->in = malloc(s->in_cap)) == NULL ||
	    (s->pool = pool_new()) == NULL) {
		free(s->in);
		free(s);
		return NULL;
	}
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd == -1 || connect(s->fd, (struct sockaddr *)&sun,
	    sizeof(sun)) == -1) {
		e = errno;
		lsock_free(s);
		errno = e;
		return NULL;
	}
	memset(&hello, 0, sizeof(hello));
	hello.magic = NBMQ_IPC_MAGIC;
	hello.version = NBMQ_IPC_VERSION;
	hello.pid = (uint32_t)getpid();
	if ((e = request(s, IPC_HELLO, &hello, sizeof(hello))) != 0) {
		if (e == ECONNRESET && refused_at_accept(s->fd))
			e = EUSERS;
		lsock_free(s);
		errno = e;
		return NULL;
	}
	tally_offer(s);
	return s;
}

static int
sock_cache_opts(nbmq_socket *s)
{
	int64_t	v;

	if (nbmq_getopt(s, NBMQ_OPT_MAX_MESSAGE_SIZE, &v) == -1)
		return -1;
	s->max_message_size = (uint64_t)v;
	return 0;
}

EXPORT nbmq_socket *
nbmq_socket_new(nbmq_ctx *ctx, int type)
{
	struct ipc_create	 cr = { .type = (uint32_t)type };
	nbmq_socket		*s;
	int			 e;

	if (type < NBMQ_DEALER || type > NBMQ_DISH) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = lsock_open(ctx)) == NULL)
		return NULL;
	if ((e = request(s, IPC_SOCK_CREATE, &cr, sizeof(cr))) != 0) {
		lsock_free(s);
		errno = e;
		return NULL;
	}
	s->handle = (uint32_t)s->result.value;
	s->type = type;
	if (sock_cache_opts(s) == -1) {
		e = errno;
		lsock_free(s);
		errno = e;
		return NULL;
	}
	return s;
}

EXPORT nbmq_socket *
nbmq_attach(nbmq_ctx *ctx, const char *name)
{
	nbmq_socket	*s;
	int		 e;

	if (name == NULL || *name == '\0' ||
	    strlen(name) >= NBMQ_IPC_MAX_STRING) {
		errno = EINVAL;
		return NULL;
	}
	if ((s = lsock_open(ctx)) == NULL)
		return NULL;
	if ((e = request(s, IPC_SOCK_ATTACH, name, strlen(name))) != 0) {
		lsock_free(s);
		errno = e;
		return NULL;
	}
	s->handle = (uint32_t)s->result.value;
	s->type = (int)s->result.aux;
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", s->result_str);
	if (sock_cache_opts(s) == -1) {
		e = errno;
		lsock_free(s);
		errno = e;
		return NULL;
	}
	return s;
}

EXPORT int
nbmq_close(nbmq_socket *s)
{
	int64_t	deadline = now_ms() + REQ_TIMEOUT_MS;
	int	e = 0;

	if (s == NULL)
		return 0;
	/*
	 * Messages still here (NBMQ_BATCH, or what the kernel did not take)
	 * go first; then the daemon lingers.
	 */
	if (s->err == 0 && s->out_len > 0)
		(void)out_flush(s);
	while (s->err == 0 && s->out_len > 0 && now_ms() < deadline)
		if (io_wait(s, remaining(deadline)) == -1 && errno != EINTR)
			break;
	/* What was handed over is the application's; the rest goes back. */
	confirm_send(s);
	if (s->err == 0)
		e = request(s, IPC_SOCK_CLOSE, NULL, 0);
	else
		e = s->err;
	lsock_free(s);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}

static int
addr_request(nbmq_socket *s, uint16_t type, const char *addr)
{
	int	e;

	if (addr == NULL || *addr == '\0' ||
	    strlen(addr) >= NBMQ_IPC_MAX_STRING) {
		errno = EINVAL;
		return -1;
	}
	if ((e = request(s, type, addr, strlen(addr))) != 0) {
		errno = e;
		return -1;
	}
	snprintf(s->endpoint, sizeof(s->endpoint), "%s", s->result_str);
	return 0;
}

EXPORT int
nbmq_bind(nbmq_socket *s, const char *addr)
{
	return addr_request(s, IPC_SOCK_BIND, addr);
}

EXPORT int
nbmq_connect(nbmq_socket *s, const char *addr)
{
	return addr_request(s, IPC_SOCK_CONNECT, addr);
}

EXPORT int
nbmq_last_endpoint(nbmq_socket *s, char *buf, size_t len)
{
	if (s->endpoint[0] == '\0') {
		errno = ENOTCONN;
		return -1;
	}
	if (strlen(s->endpoint) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, s->endpoint);
	return 0;
}

EXPORT int
nbmq_setopt(nbmq_socket *s, int opt, int64_t value)
{
	struct ipc_opt	o = { .opt = (uint32_t)opt, .value = value };
	int		e;

	if (opt == NBMQ_OPT_RCVTIMEO || opt == NBMQ_OPT_SNDTIMEO) {
		if (value < -1) {
			errno = EINVAL;
			return -1;
		}
		*(opt == NBMQ_OPT_RCVTIMEO ? &s->rcvtimeo : &s->sndtimeo) =
		    value;
		return 0;
	}
	if ((e = request(s, IPC_SOCK_SETOPT, &o, sizeof(o))) != 0) {
		errno = e;
		return -1;
	}
	if (opt == NBMQ_OPT_MAX_MESSAGE_SIZE)
		s->max_message_size = (uint64_t)value;
	if (opt == NBMQ_OPT_EVENTS) {
		s->events = value != 0;
		s->hwm_state = 0;	/* as the daemon's, anew */
	}
	return 0;
}

EXPORT int
nbmq_getopt(nbmq_socket *s, int opt, int64_t *value)
{
	struct ipc_opt	o = { .opt = (uint32_t)opt };
	int		e;

	if (opt == NBMQ_OPT_RCVTIMEO || opt == NBMQ_OPT_SNDTIMEO) {
		*value = opt == NBMQ_OPT_RCVTIMEO ? s->rcvtimeo : s->sndtimeo;
		return 0;
	}
	if ((e = request(s, IPC_SOCK_GETOPT, &o, sizeof(o))) != 0) {
		errno = e;
		return -1;
	}
	*value = (int64_t)s->result.value;
	return 0;
}

/*
 * Wait for room in the credit window; 0, or -1 with errno.  Messages held
 * here count in s->sent but the daemon has not seen them, and it grants
 * more room only for what it has: at the window's edge they leave, or a
 * blocking send would wait for a credit that never comes, and so would an
 * application polling for one after EAGAIN.  They leave after the read of
 * what the daemon granted so far, so the window is exact: no credit read
 * here can answer them.
 */
static int
send_wait(nbmq_socket *s, int flags)
{
	int64_t	deadline;
	int	r;

	if (s->sent < s->limit)
		return 0;
	/* The daemon may have granted more meanwhile. */
	if (in_read(s) == -1) {
		errno = s->err;
		return -1;
	}
	if (s->sent < s->limit)
		return 0;
	if (s->out_len > 0 && out_flush(s) == -1) {
		errno = s->err;
		return -1;
	}
	if ((flags & NBMQ_DONTWAIT) || s->sndtimeo == 0) {
		if (s->peers > 0)
			hwm_tell(s, NBMQ_EVENT_HWM_REACHED);
		errno = s->peers == 0 ? EHOSTUNREACH : EAGAIN;
		return -1;
	}
	deadline = s->sndtimeo < 0 ? -1 : now_ms() + s->sndtimeo;
	while (s->sent >= s->limit) {
		if ((r = io_wait(s, remaining(deadline))) == -1) {
			if (s->err)
				errno = s->err;
			return -1;
		}
		if (s->sent < s->limit)
			break;
		if (deadline >= 0 && now_ms() >= deadline) {
			if (s->peers > 0)
				hwm_tell(s, NBMQ_EVENT_HWM_REACHED);
			errno = s->peers == 0 ? EHOSTUNREACH : EAGAIN;
			return -1;
		}
	}
	return 0;
}

EXPORT int
nbmq_sendv(nbmq_socket *s, const struct iovec *parts, int nparts,
    uint64_t peer, int flags)
{
	struct nbmq_ipc_hdr	h;
	struct ipc_msg		im;
	uint32_t		sizes[NBMQ_IPC_MAX_PARTS];
	struct iovec		iov[5 + NBMQ_IPC_MAX_PARTS];
	struct nbmq_ipc_hdr	ch;
	struct ipc_confirm	cf;
	uint64_t		total = 0;
	int			wrote, k = 0;

	if (s->err) {
		errno = s->err;
		return -1;
	}
	if (nparts < 1 || nparts > NBMQ_IPC_MAX_PARTS || parts == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (s->type == NBMQ_DISH) {
		errno = ENOTSUP;
		return -1;
	}
	for (int i = 0; i < nparts; i++) {
		if (parts[i].iov_len > UINT32_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
		sizes[i] = (uint32_t)parts[i].iov_len;
		total += parts[i].iov_len;
	}
	if (total > s->max_message_size) {
		errno = EMSGSIZE;
		return -1;
	}
	/*
	 * What waits here leaves with this message (ipc_sendv), unless it
	 * is held too.  Past OUT_MAX bytes that the kernel did not take, a
	 * non-blocking send says EAGAIN instead of buffering more.
	 */
	if (s->out_len > OUT_MAX && (flags & NBMQ_DONTWAIT)) {
		if (out_flush(s) == -1) {
			errno = s->err;
			return -1;
		}
		if (s->out_len > OUT_MAX) {
			errno = EAGAIN;
			return -1;
		}
	}
	if (send_wait(s, flags) == -1)
		return -1;

	memset(&im, 0, sizeof(im));
	im.peer = peer;
	im.nparts = (uint32_t)nparts;
	memset(&h, 0, sizeof(h));
	h.type = IPC_SEND;
	h.handle = s->handle;
	h.len = (uint32_t)(sizeof(im) + (size_t)nparts * 4 + total);
	/* Messages received meanwhile are confirmed with this write. */
	if (s->taken > 0 && !(flags & NBMQ_BATCH)) {
		memset(&ch, 0, sizeof(ch));
		ch.type = IPC_CONFIRM;
		ch.handle = s->handle;
		ch.len = sizeof(cf);
		cf.count = s->taken;
		iov[k].iov_base = &ch;
		iov[k++].iov_len = sizeof(ch);
		iov[k].iov_base = &cf;
		iov[k++].iov_len = sizeof(cf);
	}
	iov[k].iov_base = &h;
	iov[k++].iov_len = sizeof(h);
	iov[k].iov_base = &im;
	iov[k++].iov_len = sizeof(im);
	iov[k].iov_base = sizes;
	iov[k++].iov_len = (size_t)nparts * 4;
	for (int i = 0; i < nparts; i++)
		iov[k + i] = parts[i];
	if ((wrote = ipc_sendv(s, iov, k + nparts,
	    (flags & NBMQ_BATCH) != 0)) == -1)
		return -1;
	if (k == 5)
		s->taken = 0;
	s->sent++;
	/*
	 * The daemon owns the message once it is in the kernel.  A blocking
	 * send waits for that, so nothing the application was told was sent
	 * waits here for a next call that may never come: unless it asked
	 * for that with NBMQ_BATCH, and then only up to BATCH_MAX bytes (a
	 * batched send that had to write pushes like a plain one).
	 */
	if (s->out_len > 0 && !(flags & NBMQ_DONTWAIT) &&
	    (!(flags & NBMQ_BATCH) || wrote) && s->sndtimeo != 0)
		(void)out_wait(s);	/* the kernel just said it is full */
	return 0;
}

EXPORT int
nbmq_flush(nbmq_socket *s, int flags)
{
	if (s->err) {
		errno = s->err;
		return -1;
	}
	if (s->out_len > 0 && out_flush(s) == -1) {
		errno = s->err;
		return -1;
	}
	if (s->out_len == 0)
		return 0;
	if ((flags & NBMQ_DONTWAIT) || s->sndtimeo == 0) {
		errno = EAGAIN;
		return -1;
	}
	return out_wait(s);
}

EXPORT int
nbmq_send(nbmq_socket *s, const void *buf, size_t len, int flags)
{
	struct iovec	iov = { (void *)buf, len };

	return nbmq_sendv(s, &iov, 1, 0, flags);
}

/*
 * A receive that may not block reads what the kernel has (one recv when
 * it is empty).  One that may block sends what NBMQ_BATCH sends left here,
 * then, with nothing queued, polls first and reads once it is woken: a
 * message that answers a request costs a poll and a recv, not a failing
 * recv before and after them.
 */
static int
recv_wait(nbmq_socket *s, int flags)
{
	int64_t		 deadline;
	int		 timeout = (flags & NBMQ_DONTWAIT) ? 0 :
			    (int)(s->rcvtimeo > INT32_MAX ? INT32_MAX :
			    s->rcvtimeo);
	int		 first = 1;

	if (s->type == NBMQ_RADIO && !s->events) {
		errno = ENOTSUP;
		return -1;
	}
	/* An error here is sticky: the queue is still delivered first. */
	if (!(flags & NBMQ_DONTWAIT) && s->out_len > 0)
		(void)out_flush(s);
	deadline = timeout < 0 ? -1 : now_ms() + timeout;
	while (s->head == NULL) {
		if (s->err) {
			errno = s->err;
			return -1;
		}
		if (timeout == 0) {
			confirm_send(s);
			if (in_read(s) == -1 && s->head == NULL) {
				errno = s->err;
				return -1;
			}
			if (s->head != NULL)
				break;
			errno = EAGAIN;
			return -1;
		}
		if (deadline >= 0 && now_ms() >= deadline) {
			errno = EAGAIN;
			return -1;
		}
		/*
		 * The first wait is the whole timeout (the deadline was
		 * taken just now), so that in_read_wait knows it for the
		 * socket's own also when a millisecond turned meanwhile: under
		 * valgrind it did, and the receive polled.
		 */
		if (io_wait(s, first ? timeout : remaining(deadline)) == -1 &&
		    s->head == NULL) {
			if (s->err)
				errno = s->err;
			return -1;
		}
		first = 0;
	}
	return 0;
}

/* The head of the queue, which recv_wait found, becomes the caller's. */
static struct nbmq_msg *
recv_take(nbmq_socket *s)
{
	struct nbmq_msg	*m = s->head;

	if ((s->head = m->next) == NULL)
		s->tailp = &s->head;
	if (m->dropped) {
		lmsg_free(m);
		errno = ENOBUFS;
		return NULL;
	}
	m->next = NULL;
	if (m->event == NULL) {
		/* The ones before this one; then this one is the app's. */
		if (s->taken >= CONFIRM_BATCH)
			confirm_send(s);
		s->taken++;
		s->handed++;
		if (s->tally != NULL)
			__atomic_store_n(s->tally, s->handed, __ATOMIC_RELEASE);
	}
	return m;
}

EXPORT int
nbmq_recv(nbmq_socket *s, nbmq_msg **msgp, int flags)
{
	struct nbmq_msg	*m;

	if (recv_wait(s, flags) == -1 || (m = recv_take(s)) == NULL)
		return -1;
	*msgp = m;
	return 0;
}

/*
 * One call for the common case (bindings pay per call): the next message's
 * parts, joined, copied into buf.  What does not fit, an event or a drop
 * report stays at the head of the queue for nbmq_recv.
 */
EXPORT ssize_t
nbmq_recvbuf(nbmq_socket *s, void *buf, size_t len, uint64_t *peer,
    int flags)
{
	struct nbmq_msg	*m;
	size_t		 size;

	if (recv_wait(s, flags) == -1)
		return -1;
	m = s->head;
	if (m->dropped || m->event != NULL) {
		errno = ENOMSG;
		return -1;
	}
	if ((size = m->size) > len) {
		errno = EMSGSIZE;
		return -1;
	}
	(void)recv_take(s);
	if (size > 0)
		memcpy(buf, m->data, size);
	if (peer != NULL)
		*peer = m->peer;
	nbmq_msg_free(m);
	return (ssize_t)size;
}

EXPORT size_t
nbmq_msg_parts(const nbmq_msg *m)
{
	return m->nparts;
}

EXPORT const void *
nbmq_msg_part(const nbmq_msg *m, size_t i, size_t *len)
{
	size_t	off = 0;

	if (i >= m->nparts)
		return NULL;
	for (size_t j = 0; j < i; j++)
		off += m->sizes[j];
	if (len != NULL)
		*len = m->sizes[i];
	return m->data + off;
}

EXPORT size_t
nbmq_msg_size(const nbmq_msg *m)
{
	return m->size;
}

EXPORT uint64_t
nbmq_msg_peer(const nbmq_msg *m)
{
	return m->peer;
}

EXPORT int
nbmq_msg_event(const nbmq_msg *m, struct nbmq_event *ev)
{
	if (m->event == NULL)
		return 0;
	if (ev != NULL)
		*ev = *m->event;
	return 1;
}

EXPORT const char *
nbmq_event_name(int type)
{
	return type < 0 ? "unknown" : ipc_event_name((uint32_t)type);
}

EXPORT const char *
nbmq_connfail_name(int reason)
{
	return reason < 0 ? "unknown" : ipc_connfail_name((uint32_t)reason);
}

EXPORT const char *
nbmq_connfail_text(int reason)
{
	return reason < 0 ? "unknown" : ipc_connfail_text((uint32_t)reason);
}

EXPORT const char *
nbmq_down_reason_name(int reason)
{
	return reason < 0 ? "unknown" : ipc_down_reason_name((uint32_t)reason);
}

EXPORT void
nbmq_msg_free(nbmq_msg *m)
{
	lmsg_free(m);
}

EXPORT int
nbmq_fd(nbmq_socket *s)
{
	if (s->fd == -1) {
		errno = ENOTCONN;
		return -1;
	}
	return s->fd;
}

EXPORT int
nbmq_readable(nbmq_socket *s)
{
	if (s->head == NULL && s->err == 0) {
		confirm_send(s);
		in_read(s);
	}
	return s->head != NULL || s->err != 0;
}

EXPORT const char *
nbmq_strerror(int e)
{
	switch (e) {
	case EAGAIN:
		return "would block (high-water mark reached or no message)";
	case EHOSTUNREACH:
		return "no connected peer";
	case ENOBUFS:
		return "messages were dropped at the receive high-water mark";
	case EMSGSIZE:
		return "message larger than max_message_size";
	case ECONNRESET:
		return "the daemon closed the connection";
	case EPROTO:
		return "IPC protocol mismatch with the daemon";
	case ENXIO:
		return "no configured socket with that name";
	case EBUSY:
		return "another application is attached to that socket";
	case EUSERS:
		return "the daemon has too many clients";
	case ENOTSUP:
		return "operation not supported by this socket type";
	case EISCONN:
		return "socket is already bound or connected";
	}
	return strerror(e);
}
