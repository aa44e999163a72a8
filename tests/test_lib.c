/* SPDX-License-Identifier: ISC */
/*
 * test_lib.c: unit tests of libnbmq's data path (client-lib/nbmq.c):
 * NBMQ_BATCH, the credit window, and what the fd and nbmq_readable()
 * say on the receiving side.
 *
 * The daemon is a fake: a thread on the other end of the IPC socket that
 * answers the library's requests, grants credit as told, records every
 * IPC_SEND (in order and byte-exact, or counted as bad) and writes
 * messages on command.  Commands go through a pipe and are acknowledged
 * with a snapshot of what it saw.  The sync command first reads everything
 * the kernel holds for it: the library's calls are synchronous, so what
 * the fake has not seen then, the library had not written.  No sleeps.
 *
 * The library is included, like tests/fuzz/fuzz_ipc.c does, for its
 * constants (BATCH_MAX) and its message pool, so that the Makefile's
 * unit-test rule links it, and so that its system calls and allocations
 * can be counted: in the library only (the fake's own are not).
 */
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"

struct sys {
	int	recv, recv_fail, poll, sendmsg, send, sockopt;
	int	alloc, free;	/* malloc, calloc, realloc; free */
};
static struct sys	sys;

static void *
sys_malloc(size_t n)
{
	__atomic_add_fetch(&sys.alloc, 1, __ATOMIC_RELAXED);
	return malloc(n);
}

static void *
sys_calloc(size_t n, size_t size)
{
	__atomic_add_fetch(&sys.alloc, 1, __ATOMIC_RELAXED);
	return calloc(n, size);
}

static void *
sys_realloc(void *p, size_t n)
{
	__atomic_add_fetch(&sys.alloc, 1, __ATOMIC_RELAXED);
	return realloc(p, n);
}

static void
sys_free(void *p)
{
	if (p != NULL)
		__atomic_add_fetch(&sys.free, 1, __ATOMIC_RELAXED);
	free(p);
}

static ssize_t
sys_recv(int fd, void *b, size_t len, int flags)
{
	ssize_t	n = recv(fd, b, len, flags);

	sys.recv++;
	sys.recv_fail += n == -1;
	return n;
}

static int
sys_poll(struct pollfd *p, nfds_t n, int timeout)
{
	sys.poll++;
	return poll(p, n, timeout);
}

static ssize_t
sys_sendmsg(int fd, const struct msghdr *mh, int flags)
{
	sys.sendmsg++;
	return sendmsg(fd, mh, flags);
}

static ssize_t
sys_send(int fd, const void *b, size_t len, int flags)
{
	sys.send++;
	return send(fd, b, len, flags);
}

static int
sys_setsockopt(int fd, int level, int name, const void *v, socklen_t len)
{
	sys.sockopt++;
	return setsockopt(fd, level, name, v, len);
}

#define recv(...)	sys_recv(__VA_ARGS__)
#define setsockopt(...)	sys_setsockopt(__VA_ARGS__)
#define poll(...)	sys_poll(__VA_ARGS__)
#define sendmsg(...)	sys_sendmsg(__VA_ARGS__)
#define send(...)	sys_send(__VA_ARGS__)
#define malloc(...)	sys_malloc(__VA_ARGS__)
#define calloc(...)	sys_calloc(__VA_ARGS__)
#define realloc(...)	sys_realloc(__VA_ARGS__)
#define free(...)	sys_free(__VA_ARGS__)
#include "../client-lib/nbmq.c"
#undef recv
#undef setsockopt
#undef poll
#undef sendmsg
#undef send
#undef malloc
#undef calloc
#undef realloc
#undef free

#include <check.h>
#include <pthread.h>
#include <stdlib.h>

#define HANDLE		7
#define PEER		0x1122334455667788ULL

/* Message i: nparts 1, size from sizefn, bytes a function of i. */
static uint8_t
pat(uint32_t i, size_t j)
{
	return (uint8_t)(i * 131 + j * 7 + (j >> 8));
}

static void
fill(uint8_t *p, size_t len, uint32_t i)
{
	for (size_t j = 0; j < len; j++)
		p[j] = pat(i, j);
	if (len >= 4)
		memcpy(p, &i, 4);
}

/*
 * Message i of a burst (OP_BURST): in mode MIXED of mixed sizes (none,
 * tiny, 466 B, 4 KiB, up to 64 KiB, larger than a pool's block) and 1..4
 * parts; else of `mode` bytes in one part.  Its bytes are fill(i) over all
 * parts.
 */
#define MIXED		UINT64_MAX

static size_t
burst_size(uint64_t mode, uint32_t i, uint32_t *nparts)
{
	uint32_t	x = i * 2654435761U;

	x ^= x >> 15;
	*nparts = 1;
	if (mode != MIXED)
		return mode;
	*nparts = 1 + i % 4;
	switch (x % 20) {
	case 0:
		return 0;
	case 1: case 2: case 3: case 4: case 5: case 6: case 7:
		return (x >> 8) % 200;
	case 8: case 9: case 10: case 11:
		return 400 + (x >> 8) % 200;
	case 12: case 13: case 14: case 15:
		return 4096;
	case 16: case 17: case 18:
		return 1000 + (x >> 8) % 64000;
	}
	return 60000 + (x >> 8) % 100000;
}

/* Part k's length of a message of size bytes in n parts. */
static size_t
part_len(size_t size, uint32_t n, uint32_t k)
{
	return k + 1 < n ? size / n : size - (size / n) * (n - 1);
}

static int
intact(const uint8_t *p, size_t len, uint32_t i)
{
	uint32_t	k;

	if (len >= 4) {
		memcpy(&k, p, 4);
		if (k != i)
			return 0;
	}
	for (size_t j = 4; j < len; j++)
		if (p[j] != pat(i, j))
			return 0;
	return 1;
}

/* ---- the fake daemon ---- */

struct snap {
	uint64_t	sends;		/* IPC_SEND seen */
	uint64_t	bad;		/* out of order, or content differs */
	uint64_t	sends_at_req;	/* sends seen before the last request */
	uint32_t	last_req;	/* its type */
	uint32_t	eof;		/* the library closed the connection */
	uint32_t	tallies;	/* IPC_TALLY seen */
	uint64_t	confirmed;	/* IPC_CONFIRM counts, summed */
};

struct cmd {
	int		op;
	uint64_t	a, b, c;
};

enum { OP_SYNC = 1, OP_CREDIT, OP_AUTO, OP_ECHO, OP_MSG, OP_REST, OP_BURST,
    OP_EVENT, OP_QUIT };

struct fake {
	char		 dir[40], path[64];
	int		 lfd, fd;
	int		 ctl[2], ack[2];
	pthread_t	 th;
	/* the thread's own */
	uint8_t		*in;
	size_t		 in_len, in_cap;
	uint64_t	 window0;	/* the first credit */
	uint64_t	 autowin;	/* > 0: a credit after the sends */
	uint64_t	 owed;		/* that credit, not written yet */
	int		 echo;		/* answer each send with it */
	uint8_t		*rest;		/* OP_MSG's unwritten part */
	size_t		 rest_len;
	struct snap	 st;
};

static struct fake	 F;
static nbmq_ctx		*ctx;

static void
fake_write(const void *p, size_t len)
{
	const uint8_t	*b = p;
	ssize_t		 n;

	while (len > 0) {
		n = write(F.fd, b, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return;		/* the library went away */
		b += n;
		len -= (size_t)n;
	}
}

static void
fake_send(uint16_t type, uint32_t reqid, const void *p, size_t len)
{
	struct nbmq_ipc_hdr	h = {
		.len = (uint32_t)len,
		.type = type,
		.handle = HANDLE,
		.reqid = reqid,
	};

	fake_write(&h, sizeof(h));
	if (len > 0)
		fake_write(p, len);
}

static void
fake_result(uint32_t reqid, uint64_t value, uint32_t aux)
{
	struct ipc_result	r = { .err = 0, .aux = aux, .value = value };

	fake_send(IPC_RESULT, reqid, &r, sizeof(r));
}

static void
fake_credit(uint64_t limit)
{
	struct ipc_credit	c = { .limit = limit, .peers = 1 };

	fake_send(IPC_CREDIT, 0, &c, sizeof(c));
}

/*
 * The credit OP_AUTO owes: only the latest, and only when the socket takes
 * it (else on POLLOUT).  A credit per send, written blocking, could fill
 * the socket and block this thread for good: the library reads credits
 * only when its window is used up, and the test may be waiting for an ack
 * meanwhile (test_batch_mixed_order did, now and then).
 */
static void
fake_credit_owed(void)
{
	struct ipc_credit	c = { .limit = F.owed, .peers = 1 };
	struct nbmq_ipc_hdr	h = {
		.len = sizeof(c),
		.type = IPC_CREDIT,
		.handle = HANDLE,
	};
	uint8_t			b[sizeof(h) + sizeof(c)];
	ssize_t			n;

	if (F.owed == 0)
		return;
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), &c, sizeof(c));
	n = send(F.fd, b, sizeof(b), MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return;
	F.owed = 0;
	if (n > 0 && (size_t)n < sizeof(b))
		fake_write(b + n, sizeof(b) - (size_t)n);
}

static void	fake_msg(uint32_t, size_t, size_t);

static void
fake_handle(const struct nbmq_ipc_hdr *h, const uint8_t *p)
{
	struct ipc_msgview	v;
	struct ipc_opt		o;

	if (h->type != IPC_SEND && h->type != IPC_CONFIRM &&
	    h->type != IPC_TALLY) {
		F.st.sends_at_req = F.st.sends;
		F.st.last_req = h->type;
	}
	switch (h->type) {
	case IPC_HELLO: {
		struct ipc_hello_ok ok = { .version = NBMQ_IPC_VERSION };

		snprintf(ok.daemon, sizeof(ok.daemon), "fake");
		fake_send(IPC_HELLO_OK, h->reqid, &ok, sizeof(ok));
		break;
	}
	case IPC_SOCK_CREATE:
		fake_result(h->reqid, HANDLE, NBMQ_DEALER);
		fake_credit(F.window0);
		break;
	case IPC_SOCK_GETOPT:
		memcpy(&o, p, sizeof(o));
		fake_result(h->reqid, o.opt == NBMQ_OPT_MAX_MESSAGE_SIZE ?
		    16U << 20 : o.opt == NBMQ_OPT_PEERS ? 1 : 0, 0);
		break;
	case IPC_SOCK_SETOPT:
	case IPC_SOCK_CLOSE:
		fake_result(h->reqid, 0, 0);
		break;
	case IPC_SEND:
		if (ipc_msg_parse(p, h->len, &v) != 0 || v.nparts != 1 ||
		    !intact(v.data, v.size, (uint32_t)F.st.sends))
			F.st.bad++;
		if (F.echo)
			fake_msg((uint32_t)F.st.sends, v.size, SIZE_MAX);
		F.st.sends++;
		if (F.autowin > 0)
			F.owed = F.st.sends + F.autowin;
		break;
	case IPC_CONFIRM: {
		struct ipc_confirm cf;

		if (h->len != sizeof(cf))
			F.st.bad++;
		else {
			memcpy(&cf, p, sizeof(cf));
			F.st.confirmed += cf.count;
		}
		break;
	}
	case IPC_TALLY:
		F.st.tallies++;
		break;
	default:
		F.st.bad++;
	}
}

/* Read what the kernel has for us (all of it: until EAGAIN). */
static void
fake_read(void)
{
	struct nbmq_ipc_hdr	h;
	size_t			off;
	ssize_t			n;

	for (;;) {
		if (F.in_cap - F.in_len < 65536) {
			F.in_cap = F.in_cap ? F.in_cap * 2 : 1 << 20;
			F.in = realloc(F.in, F.in_cap);
			if (F.in == NULL)
				abort();
		}
		n = recv(F.fd, F.in + F.in_len, F.in_cap - F.in_len,
		    MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			F.st.eof = 1;
		if (n <= 0)
			break;
		F.in_len += (size_t)n;
	}
	for (off = 0; F.in_len - off >= sizeof(h); off += sizeof(h) + h.len) {
		memcpy(&h, F.in + off, sizeof(h));
		if (F.in_len - off < sizeof(h) + h.len)
			break;
		fake_handle(&h, F.in + off + sizeof(h));
	}
	memmove(F.in, F.in + off, F.in_len - off);
	F.in_len -= off;
	fake_credit_owed();
}

/*
 * OP_MSG: message a of b bytes to the library, c bytes of it now (with one
 * write), the rest on OP_REST.
 */
static void
fake_msg(uint32_t i, size_t size, size_t now)
{
	struct ipc_msg		 im = { .peer = PEER, .nparts = 1 };
	struct nbmq_ipc_hdr	 h = {
		.len = (uint32_t)(sizeof(im) + 4 + size),
		.type = IPC_MSG,
		.handle = HANDLE,
	};
	uint32_t		 sz = (uint32_t)size;
	size_t			 len = sizeof(h) + sizeof(im) + 4 + size;
	uint8_t			*b = malloc(len);

	if (b == NULL)
		abort();
	memcpy(b, &h, sizeof(h));
	memcpy(b + sizeof(h), &im, sizeof(im));
	memcpy(b + sizeof(h) + sizeof(im), &sz, 4);
	fill(b + sizeof(h) + sizeof(im) + 4, size, i);
	if (now > len)
		now = len;
	fake_write(b, now);
	free(F.rest);
	F.rest_len = len - now;
	F.rest = malloc(F.rest_len + 1);
	memcpy(F.rest, b + now, F.rest_len);
	free(b);
}

/* OP_BURST: messages a..a+b-1 of burst mode c, with one write. */
static void
fake_burst(uint32_t first, uint32_t count, uint64_t mode)
{
	struct ipc_msg		 im = { .peer = PEER };
	struct nbmq_ipc_hdr	 h = { .type = IPC_MSG, .handle = HANDLE };
	uint32_t		 np, sz;
	size_t			 len = 0, size;
	uint8_t			*b, *p;

	for (uint32_t i = first; i - first < count; i++) {
		size = burst_size(mode, i, &np);
		len += sizeof(h) + sizeof(im) + (size_t)np * 4 + size;
	}
	if ((b = p = malloc(len + 1)) == NULL)
		abort();
	for (uint32_t i = first; i - first < count; i++) {
		size = burst_size(mode, i, &np);
		im.nparts = np;
		h.len = (uint32_t)(sizeof(im) + (size_t)np * 4 + size);
		memcpy(p, &h, sizeof(h));
		memcpy(p + sizeof(h), &im, sizeof(im));
		p += sizeof(h) + sizeof(im);
		for (uint32_t k = 0; k < np; k++) {
			sz = (uint32_t)part_len(size, np, k);
			memcpy(p, &sz, 4);
			p += 4;
		}
		fill(p, size, i);
		p += size;
	}
	fake_write(b, len);
	free(b);
}

static void *
fake_main(void *arg)
{
	struct pollfd	pfd[2];
	struct cmd	c;

	if ((F.fd = accept(F.lfd, NULL, NULL)) == -1)
		abort();
	for (;;) {
		pfd[0].fd = F.ctl[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = F.st.eof ? -1 : F.fd;
		pfd[1].events = F.owed ? POLLIN | POLLOUT : POLLIN;
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR)
				continue;
			abort();
		}
		if (pfd[1].revents & ~POLLOUT)
			fake_read();
		if (pfd[1].revents & POLLOUT)
			fake_credit_owed();
		if (!(pfd[0].revents & POLLIN))
			continue;
		if (read(F.ctl[0], &c, sizeof(c)) != sizeof(c))
			abort();
		switch (c.op) {
		case OP_SYNC:
			fake_read();
			break;
		case OP_CREDIT:
			fake_credit(c.a);
			break;
		case OP_EVENT: {
			struct ipc_event	ev;

			memset(&ev, 0, sizeof(ev));
			ev.type = (uint32_t)c.a;
			fake_send(IPC_EVENT, 0, &ev, sizeof(ev));
			break;
		}
		case OP_AUTO:
			F.autowin = c.a;
			break;
		case OP_ECHO:
			F.echo = 1;
			break;
		case OP_MSG:
			fake_msg((uint32_t)c.a, c.b, c.c);
			break;
		case OP_REST:
			fake_write(F.rest, F.rest_len);
			F.rest_len = 0;
			break;
		case OP_BURST:
			fake_burst((uint32_t)c.a, (uint32_t)c.b, c.c);
			break;
		}
		if (write(F.ack[1], &F.st, sizeof(F.st)) != sizeof(F.st))
			abort();
		if (c.op == OP_QUIT)
			return NULL;
	}
}

static void
cmd_send(int op, uint64_t a, uint64_t b, uint64_t c)
{
	struct cmd	x;

	memset(&x, 0, sizeof(x));	/* the padding too: it is written */
	x.op = op;
	x.a = a;
	x.b = b;
	x.c = c;
	ck_assert_int_eq(write(F.ctl[1], &x, sizeof(x)), sizeof(x));
}

static struct snap
cmd_ack(void)
{
	struct snap	st;

	ck_assert_int_eq(read(F.ack[0], &st, sizeof(st)), sizeof(st));
	return st;
}

static struct snap
cmd(int op, uint64_t a, uint64_t b, uint64_t c)
{
	cmd_send(op, a, b, c);
	return cmd_ack();
}

/* What the fake has seen of everything the library wrote so far. */
static struct snap
fake_sync(void)
{
	return cmd(OP_SYNC, 0, 0, 0);
}

/* A fake daemon granting `window` first, and a socket on it. */
static nbmq_socket *
fake_start(uint64_t window)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	nbmq_socket		*s;

	memset(&F, 0, sizeof(F));
	F.window0 = window;
	snprintf(F.dir, sizeof(F.dir), "/tmp/nbmq-test-lib.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(F.dir));
	snprintf(F.path, sizeof(F.path), "%s/fake.sock", F.dir);
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", F.path);
	F.lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ne(F.lfd, -1);
	ck_assert_int_eq(bind(F.lfd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(F.lfd, 1), 0);
	ck_assert_int_eq(pipe(F.ctl), 0);
	ck_assert_int_eq(pipe(F.ack), 0);
	ck_assert_int_eq(pthread_create(&F.th, NULL, fake_main, NULL), 0);
	ctx = nbmq_ctx_new(F.path);
	ck_assert_ptr_nonnull(ctx);
	s = nbmq_socket_new(ctx, NBMQ_DEALER);
	ck_assert_msg(s != NULL, "socket: %s", strerror(errno));
	return s;
}

static void
fake_stop(nbmq_socket *s)
{
	if (s != NULL)
		nbmq_close(s);
	cmd(OP_QUIT, 0, 0, 0);
	pthread_join(F.th, NULL);
	close(F.fd);
	close(F.lfd);
	close(F.ctl[0]);
	close(F.ctl[1]);
	close(F.ack[0]);
	close(F.ack[1]);
	free(F.in);
	free(F.rest);
	unlink(F.path);
	rmdir(F.dir);
	nbmq_ctx_destroy(ctx);
}

/* Send message i of `size` bytes with `flags`; nbmq_send's result. */
static int
send_i(nbmq_socket *s, uint32_t i, size_t size, int flags)
{
	static uint8_t	buf[256 << 10];

	ck_assert_uint_le(size, sizeof(buf));
	fill(buf, size, i);
	return nbmq_send(s, buf, size, flags);
}

/* The bytes one message of `size` takes on the IPC stream. */
static size_t
ipc_size(size_t size)
{
	return sizeof(struct nbmq_ipc_hdr) + sizeof(struct ipc_msg) + 4 + size;
}

/* ---- NBMQ_BATCH ---- */

START_TEST(test_batch_held_until_plain)
{
	nbmq_socket	*s = fake_start(1000);
	struct snap	 st;
	uint32_t	 i;

	for (i = 0; i < 10; i++)
		ck_assert_int_eq(send_i(s, i, 100, NBMQ_BATCH), 0);
	st = fake_sync();
	ck_assert_uint_eq(st.sends, 0);
	ck_assert_int_eq(send_i(s, i++, 100, 0), 0);
	st = fake_sync();
	ck_assert_uint_eq(st.sends, 11);
	ck_assert_uint_eq(st.bad, 0);

	/* NBMQ_DONTWAIT without NBMQ_BATCH pushes them too. */
	for (; i < 20; i++)
		ck_assert_int_eq(send_i(s, i, 10,
		    NBMQ_BATCH | NBMQ_DONTWAIT), 0);
	ck_assert_uint_eq(fake_sync().sends, 11);
	ck_assert_int_eq(send_i(s, i++, 10, NBMQ_DONTWAIT), 0);
	st = fake_sync();
	ck_assert_uint_eq(st.sends, 21);
	ck_assert_uint_eq(st.bad, 0);
	fake_stop(s);
}
END_TEST

START_TEST(test_batch_held_until_flush)
{
	nbmq_socket	*s = fake_start(1000);
	struct snap	 st;
	uint32_t	 i;

	ck_assert_int_eq(nbmq_flush(s, 0), 0);		/* nothing: fine */
	for (i = 0; i < 10; i++)
		ck_assert_int_eq(send_i(s, i, i * 10, NBMQ_BATCH), 0);
	ck_assert_uint_eq(fake_sync().sends, 0);
	ck_assert_int_eq(nbmq_flush(s, 0), 0);
	st = fake_sync();
	ck_assert_uint_eq(st.sends, 10);
	ck_assert_uint_eq(st.bad, 0);

	for (; i < 15; i++)
		ck_assert_int_eq(send_i(s, i, 0, NBMQ_BATCH | NBMQ_DONTWAIT),
		    0);
	ck_assert_uint_eq(fake_sync().sends, 10);
	ck_assert_int_eq(nbmq_flush(s, NBMQ_DONTWAIT), 0);
	st = fake_sync();
	ck_assert_uint_eq(st.sends, 15);
	ck_assert_uint_eq(st.bad, 0);
	fake_stop(s);
}
END_TEST

/* A receive that may block sends them; one with NBMQ_DONTWAIT does not. */
START_TEST(test_batch_held_until_blocking_recv)
{
	nbmq_socket	*s = fake_start(1000);
	nbmq_msg	*m;

	for (uint32_t i = 0; i < 5; i++)
		ck_assert_int_eq(send_i(s, i, 64, NBMQ_BATCH), 0);
	ck_assert_int_eq(nbmq_recv(s, &m, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(fake_sync().sends, 0);
	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 0), 0);
	ck_assert_int_eq(nbmq_recv(s, &m, 0), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(fake_sync().sends, 5);
	ck_assert_uint_eq(fake_sync().bad, 0);
	fake_stop(s);
}
END_TEST

/* Held while the buffer stays within 64 KiB; the one past it writes all. */
START_TEST(test_batch_64k)
{
	nbmq_socket	*s = fake_start(1000);
	size_t		 held = BATCH_MAX / ipc_size(1000);
	uint32_t	 i;

	ck_assert_uint_eq(BATCH_MAX, 64 << 10);
	ck_assert_uint_eq(held, 63);
	for (i = 0; i < held; i++)
		ck_assert_int_eq(send_i(s, i, 1000, NBMQ_BATCH), 0);
	ck_assert_uint_eq(fake_sync().sends, 0);
	ck_assert_int_eq(send_i(s, i++, 1000, NBMQ_BATCH), 0);
	ck_assert_uint_eq(fake_sync().sends, held + 1);

	/* A message larger than the buffer is never held, nor what waits. */
	ck_assert_int_eq(send_i(s, i++, 10, NBMQ_BATCH), 0);
	ck_assert_uint_eq(fake_sync().sends, held + 1);
	ck_assert_int_eq(send_i(s, i++, 100000, NBMQ_BATCH), 0);
	ck_assert_uint_eq(fake_sync().sends, held + 3);
	ck_assert_uint_eq(fake_sync().bad, 0);
	fake_stop(s);
}
END_TEST

/* A request goes after what is held, which leaves with it. */
START_TEST(test_batch_request_and_close)
{
	nbmq_socket	*s = fake_start(1000);
	struct snap	 st;
	int64_t		 v;
	uint32_t	 i;

	for (i = 0; i < 3; i++)
		ck_assert_int_eq(send_i(s, i, 50, NBMQ_BATCH), 0);
	ck_assert_int_eq(nbmq_getopt(s, NBMQ_OPT_PEERS, &v), 0);
	ck_assert_int_eq(v, 1);
	st = fake_sync();
	ck_assert_uint_eq(st.last_req, IPC_SOCK_GETOPT);
	ck_assert_uint_eq(st.sends_at_req, 3);

	for (; i < 10; i++)
		ck_assert_int_eq(send_i(s, i, 50, NBMQ_BATCH), 0);
	ck_assert_uint_eq(fake_sync().sends, 3);
	ck_assert_int_eq(nbmq_close(s), 0);
	st = fake_sync();
	ck_assert_uint_eq(st.last_req, IPC_SOCK_CLOSE);
	ck_assert_uint_eq(st.sends_at_req, 10);
	ck_assert_uint_eq(st.bad, 0);
	fake_stop(NULL);
}
END_TEST

/* Any mix of flags and sizes arrives complete and in order. */
START_TEST(test_batch_mixed_order)
{
	nbmq_socket	*s = fake_start(1000);
	struct snap	 st;
	uint32_t	 x = 1, n = 5000;

	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 10000), 0);
	ck_assert_int_eq(cmd(OP_AUTO, 1000, 0, 0).bad, 0);
	for (uint32_t i = 0; i < n; i++) {
		size_t	size;
		int	flags;

		x = x * 1103515245U + 12345;
		size = (x >> 8) % 16 == 0 ? 70000 + (x >> 12) % 100000 :
		    (x >> 8) % 2000;
		flags = (x >> 20) % 8 == 0 ? 0 : NBMQ_BATCH;
		if ((x >> 24) % 4 == 0)
			flags |= NBMQ_DONTWAIT;
		while (send_i(s, i, size, flags) == -1) {
			ck_assert_int_eq(errno, EAGAIN);
			ck_assert_int_eq(nbmq_flush(s, 0), 0);
		}
	}
	ck_assert_int_eq(nbmq_flush(s, 0), 0);
	st = fake_sync();
	ck_assert_uint_eq(st.sends, n);
	ck_assert_uint_eq(st.bad, 0);
	fake_stop(s);
}
END_TEST

/* ---- the credit window ---- */

/* EAGAIN after exactly the window, held or not; the held ones leave. */
START_TEST(test_window_dontwait)
{
	int		 fl = _i == 0 ? NBMQ_DONTWAIT :
			    NBMQ_DONTWAIT | NBMQ_BATCH;
	nbmq_socket	*s = fake_start(4);
	uint32_t	 i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(send_i(s, i, 64, fl), 0);
	ck_assert_int_eq(send_i(s, i, 64, fl), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(fake_sync().sends, 4);
	/* More room: exactly that much more. */
	cmd(OP_CREDIT, 6, 0, 0);
	ck_assert_int_eq(send_i(s, i++, 64, fl), 0);
	ck_assert_int_eq(send_i(s, i++, 64, fl), 0);
	ck_assert_int_eq(send_i(s, i, 64, fl), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_uint_eq(fake_sync().sends, 6);
	ck_assert_uint_eq(fake_sync().bad, 0);
	fake_stop(s);
}
END_TEST

/* The next event nbmq_recv hands over now, or -1 (nothing there). */
static int
next_event_now(nbmq_socket *s)
{
	nbmq_msg		*m;
	struct nbmq_event	 ev;
	int			 t;

	if (nbmq_recv(s, &m, NBMQ_DONTWAIT) == -1) {
		ck_assert_int_eq(errno, EAGAIN);
		return -1;
	}
	ck_assert(nbmq_msg_event(m, &ev));
	t = ev.type;
	nbmq_msg_free(m);
	return t;
}

/*
 * The send HWM events as the application meets the window's edge: a
 * send refused with EAGAIN says hwm_reached even when the daemon never
 * saw its queue full (it sent a message before it read the next, and
 * granted more before the library read the grant: no event at all came,
 * 1 python test in 80); the grant that gives room says hwm_cleared; the
 * daemon's own events that repeat what was told are dropped.
 */
START_TEST(test_window_hwm_events)
{
	nbmq_socket	*s = fake_start(4);
	uint32_t	 i;

	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_EVENTS, 1), 0);
	for (i = 0; i < 4; i++)
		ck_assert_int_eq(send_i(s, i, 64, NBMQ_DONTWAIT), 0);
	ck_assert_int_eq(next_event_now(s), -1);
	ck_assert_int_eq(send_i(s, i, 64, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(send_i(s, i, 64, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(next_event_now(s), NBMQ_EVENT_HWM_REACHED);
	ck_assert_int_eq(next_event_now(s), -1);	/* told once */
	/* The daemon's, late: already told. */
	cmd(OP_EVENT, NBMQ_EVENT_HWM_REACHED, 0, 0);
	ck_assert_int_eq(next_event_now(s), -1);
	/* Room: cleared, once, though the daemon says it too. */
	cmd(OP_CREDIT, 6, 0, 0);
	cmd(OP_EVENT, NBMQ_EVENT_HWM_CLEARED, 0, 0);
	ck_assert_int_eq(next_event_now(s), NBMQ_EVENT_HWM_CLEARED);
	ck_assert_int_eq(next_event_now(s), -1);
	ck_assert_int_eq(send_i(s, i++, 64, NBMQ_DONTWAIT), 0);
	/* The daemon's reached when the library still had room: told. */
	cmd(OP_EVENT, NBMQ_EVENT_HWM_REACHED, 0, 0);
	ck_assert_int_eq(next_event_now(s), NBMQ_EVENT_HWM_REACHED);
	/* Events off: nothing, whatever the window. */
	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_EVENTS, 0), 0);
	ck_assert_int_eq(send_i(s, i++, 64, NBMQ_DONTWAIT), 0);
	ck_assert_int_eq(send_i(s, i, 64, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(next_event_now(s), -1);
	ck_assert_uint_eq(fake_sync().bad, 0);
	fake_stop(s);
}
END_TEST

/*
 * The library's own checks of a send, before anything reaches the daemon
 * (README errno table): max_message_size exactly is sent, one byte more
 * is EMSGSIZE; no parts is EINVAL; a dish cannot send (ENOTSUP).  None of
 * them may reach the daemon, which would disconnect the client.
 */
START_TEST(test_send_checks)
{
	nbmq_socket	*s = fake_start(8);
	struct iovec	 iov = { "x", 1 };

	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_MAX_MESSAGE_SIZE, 100), 0);
	ck_assert_int_eq(send_i(s, 0, 100, NBMQ_DONTWAIT), 0);
	ck_assert_int_eq(send_i(s, 1, 101, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_int_eq(nbmq_sendv(s, &iov, 0, 0, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(nbmq_sendv(s, NULL, 1, 0, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(fake_sync().sends, 1);
	/* The same socket as a dish (its type is all the library checks). */
	s->type = NBMQ_DISH;
	ck_assert_int_eq(send_i(s, 1, 10, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, ENOTSUP);
	ck_assert_uint_eq(fake_sync().sends, 1);
	ck_assert_uint_eq(fake_sync().bad, 0);
	s->type = NBMQ_DEALER;
	fake_stop(s);
}
END_TEST

/*
 * A blocking send at the window's edge sends what is held before it
 * waits: the daemon grants room only for messages it has.
 */
START_TEST(test_window_blocking)
{
	nbmq_socket	*s = fake_start(4);
	uint32_t	 i;

	cmd(OP_AUTO, 4, 0, 0);
	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 5000), 0);
	for (i = 0; i < 20; i++)
		ck_assert_msg(send_i(s, i, 64, NBMQ_BATCH) == 0,
		    "send %u: %s", i, strerror(errno));
	ck_assert_uint_lt(fake_sync().sends, 20);
	ck_assert_int_eq(nbmq_flush(s, 0), 0);
	ck_assert_uint_eq(fake_sync().sends, 20);
	ck_assert_uint_eq(fake_sync().bad, 0);
	fake_stop(s);
}
END_TEST

/* ---- receiving ---- */

static void
expect_msg(nbmq_socket *s, int flags, uint32_t i, size_t size)
{
	nbmq_msg	*m;
	const void	*p;
	size_t		 len = 0;

	ck_assert_msg(nbmq_recv(s, &m, flags) == 0, "recv %u: %s", i,
	    strerror(errno));
	ck_assert_uint_eq(nbmq_msg_parts(m), 1);
	ck_assert_uint_eq(nbmq_msg_peer(m), PEER);
	p = nbmq_msg_part(m, 0, &len);
	ck_assert_uint_eq(len, size);
	ck_assert_msg(intact(p, len, i), "message %u differs", i);
	nbmq_msg_free(m);
}

static int
fd_readable(nbmq_socket *s)
{
	struct pollfd	pfd = { .fd = nbmq_fd(s), .events = POLLIN };

	return poll(&pfd, 1, 0);
}

/* NBMQ_DONTWAIT reads what the kernel holds, without polling first. */
START_TEST(test_recv_dontwait_reads_kernel)
{
	nbmq_socket	*s = fake_start(1000);
	nbmq_msg	*m;

	ck_assert_int_eq(nbmq_recv(s, &m, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	cmd(OP_MSG, 0, 300, SIZE_MAX);
	ck_assert_int_eq(fd_readable(s), 1);
	expect_msg(s, NBMQ_DONTWAIT, 0, 300);
	ck_assert_int_eq(nbmq_recv(s, &m, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	fake_stop(s);
}
END_TEST

/*
 * nbmq_recvbuf: one call, nothing cut: a message larger than the buffer
 * stays queued (EMSGSIZE) for a larger one or nbmq_recv.
 */
START_TEST(test_recvbuf)
{
	nbmq_socket	*s = fake_start(1000);
	uint8_t		 buf[400];
	uint64_t	 peer = 0;

	ck_assert_int_eq(nbmq_recvbuf(s, buf, sizeof(buf), &peer,
	    NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	cmd(OP_MSG, 0, 300, SIZE_MAX);
	cmd(OP_MSG, 1, 20, SIZE_MAX);
	ck_assert_int_eq(nbmq_recvbuf(s, buf, 299, &peer, 0), -1);
	ck_assert_int_eq(errno, EMSGSIZE);
	ck_assert_uint_eq(peer, 0);
	ck_assert_int_eq(nbmq_recvbuf(s, buf, 300, &peer, 0), 300);
	ck_assert_uint_eq(peer, PEER);
	ck_assert_msg(intact(buf, 300, 0), "message 0 differs");
	expect_msg(s, 0, 1, 20);
	cmd(OP_MSG, 2, 0, SIZE_MAX);
	ck_assert_int_eq(nbmq_recvbuf(s, buf, 0, NULL, 0), 0);
	fake_stop(s);
}
END_TEST

/*
 * Messages the library read already are not on the fd: nbmq_readable()
 * finds them (nbmq.h, nbmq_fd).  Read by a receive, and by a request.
 */
START_TEST(test_readable_not_fd)
{
	nbmq_socket	*s = fake_start(1000);
	int64_t		 v;

	ck_assert_int_eq(nbmq_readable(s), 0);
	cmd(OP_MSG, 0, 10, SIZE_MAX);
	cmd(OP_MSG, 1, 20, SIZE_MAX);
	expect_msg(s, NBMQ_DONTWAIT, 0, 10);
	ck_assert_int_eq(fd_readable(s), 0);
	ck_assert_int_ne(nbmq_readable(s), 0);
	expect_msg(s, NBMQ_DONTWAIT, 1, 20);
	ck_assert_int_eq(nbmq_readable(s), 0);

	cmd(OP_MSG, 2, 30, SIZE_MAX);
	ck_assert_int_eq(nbmq_getopt(s, NBMQ_OPT_PEERS, &v), 0);
	ck_assert_int_eq(fd_readable(s), 0);
	ck_assert_int_ne(nbmq_readable(s), 0);
	expect_msg(s, 0, 2, 30);
	ck_assert_int_eq(nbmq_readable(s), 0);
	fake_stop(s);
}
END_TEST

/*
 * A message larger than a read, arriving in two pieces: a short read is
 * not a whole message; a blocking receive waits for the rest.
 */
START_TEST(test_recv_split_large)
{
	nbmq_socket	*s = fake_start(1000);
	size_t		 size = 1 << 20;
	nbmq_msg	*m;

	cmd(OP_MSG, 5, size, 100000);
	ck_assert_int_eq(nbmq_recv(s, &m, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(nbmq_readable(s), 0);
	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 10000), 0);
	cmd_send(OP_REST, 0, 0, 0);	/* written while we read */
	expect_msg(s, 0, 5, size);
	cmd_ack();
	fake_stop(s);
}
END_TEST

/* ---- message buffers: the pool ---- */

/* Byte-exact: message i of burst `mode`, through the API. */
static int
burst_ok(const nbmq_msg *m, uint64_t mode, uint32_t i)
{
	const uint8_t	*p;
	uint8_t		 head[4];
	uint32_t	 np, k;
	size_t		 size = burst_size(mode, i, &np), off = 0, len;

	memcpy(head, &i, 4);		/* as fill() */
	if (nbmq_msg_event(m, NULL) || nbmq_msg_peer(m) != PEER ||
	    nbmq_msg_parts(m) != np || nbmq_msg_size(m) != size ||
	    nbmq_msg_part(m, np, &len) != NULL)
		return 0;
	for (k = 0; k < np; k++) {
		if ((p = nbmq_msg_part(m, k, &len)) == NULL ||
		    len != part_len(size, np, k))
			return 0;
		for (size_t j = 0; j < len; j++, off++)
			if (p[j] != (off < 4 && size >= 4 ? head[off] :
			    pat(i, off)))
				return 0;
	}
	return off == size;
}

/*
 * Messages first..first+count-1 of burst `mode`, each checked as it
 * arrives, into out[] (NULL: freed at once).  With `written`, the fake
 * writes all of it before the first receive (it must fit in the socket
 * buffer), so that one read takes it; else the library reads it while the
 * fake writes.
 */
static void
recv_burst(nbmq_socket *s, uint32_t first, uint32_t count, uint64_t mode,
    nbmq_msg **out, int written)
{
	nbmq_msg	*m;

	if (written)
		cmd(OP_BURST, first, count, mode);
	else
		cmd_send(OP_BURST, first, count, mode);
	for (uint32_t i = first; i - first < count; i++) {
		ck_assert_msg(nbmq_recv(s, &m, 0) == 0, "recv %u: %s", i,
		    strerror(errno));
		ck_assert_msg(burst_ok(m, mode, i), "message %u differs", i);
		if (out != NULL)
			out[i - first] = m;
		else
			nbmq_msg_free(m);
	}
	if (!written)
		cmd_ack();
}

static nbmq_socket *
pool_start(void)
{
	nbmq_socket	*s = fake_start(1000);

	ck_assert_ptr_nonnull(s->pool);
	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 10000), 0);
	return s;
}

/*
 * Every size up to a block's has a class at most 1/8 larger; none past.
 * Each of the million sizes is checked with plain tests and one assertion
 * at the end: a Check assertion records its line each time it passes,
 * which made this test 32 s of make check's valgrind stage.
 */
static const char *
pool_class_bad(size_t n, int prev)
{
	int	c = pool_class(n);
	size_t	size;

	if (c < prev || c > prev + 1)
		return "class not the same or the next as the size before";
	if (c >= (int)POOL_NCLASS)
		return "class out of range";
	size = pool_size((uint32_t)c);
	if (size < n)
		return "class smaller than the size";
	if (n > 1U << POOL_MIN_SHIFT && (size - n) * 8 >= n)
		return "class more than 1/8 larger";
	if (size % 16 != 0)
		return "class not a multiple of 16 (ASan's granule)";
	if (pool_class(size) != c)
		return "the class's size is not of the class";
	return NULL;
}

START_TEST(test_pool_classes)
{
	const char	*why;
	int		 prev = 0;

	ck_assert_int_eq(pool_class(0), 0);
	for (size_t n = 1; n <= POOL_BLOCK_MAX; n++) {
		if ((why = pool_class_bad(n, prev)) != NULL)
			ck_abort_msg("%zu B: %s", n, why);
		prev = pool_class(n);
	}
	ck_assert_int_eq(prev, POOL_NCLASS - 1);
	ck_assert_uint_eq(pool_size(POOL_NCLASS - 1), POOL_BLOCK_MAX);
	ck_assert_int_eq(pool_class(POOL_BLOCK_MAX + 1), -1);
	ck_assert_int_eq(pool_class(SIZE_MAX), -1);
}
END_TEST

/*
 * Mixed sizes and parts, received a burst at a time, freed in different
 * orders (as they come, FIFO, LIFO, shuffled), some kept across later
 * bursts: every message byte-exact when it arrives and when it is freed.
 */
START_TEST(test_pool_mixed_orders)
{
	enum { N = 150, KEEP = 64, ROUNDS = 16 };
	nbmq_socket	*s = pool_start();
	nbmq_msg	*batch[N], *kept[KEEP], *m;
	uint32_t	 keptid[KEEP], idx[N], nkept = 0, first = 0, x = 7;

	for (int r = 0; r < ROUNDS; r++, first += N) {
		if (r % 4 == 3) {
			/* Every other one freed as it comes. */
			for (uint32_t i = first; i < first + N; i++) {
				recv_burst(s, i, 1, MIXED, &m, 0);
				if (i % 2 == 0)
					nbmq_msg_free(m);
				else
					batch[i - first] = m;
			}
			for (uint32_t k = 1; k < N; k += 2) {
				ck_assert(burst_ok(batch[k], MIXED, first + k));
				nbmq_msg_free(batch[k]);
			}
			continue;
		}
		recv_burst(s, first, N, MIXED, batch, 0);
		for (uint32_t k = 0; k < N; k++)
			idx[k] = r % 4 == 0 ? k : r % 4 == 1 ? N - 1 - k : k;
		if (r % 4 == 2)
			for (uint32_t k = N - 1; k > 0; k--) {
				uint32_t j, t;

				x = x * 1103515245U + 12345;
				j = (x >> 8) % (k + 1);
				t = idx[k];
				idx[k] = idx[j];
				idx[j] = t;
			}
		for (uint32_t k = 0; k < N; k++) {
			uint32_t i = idx[k];

			ck_assert_msg(burst_ok(batch[i], MIXED, first + i),
			    "message %u changed", first + i);
			x = x * 1103515245U + 12345;
			if ((x >> 8) % 8 == 0 && nkept < KEEP) {
				kept[nkept] = batch[i];
				keptid[nkept++] = first + i;
			} else
				nbmq_msg_free(batch[i]);
		}
		/* The kept ones are intact; a quarter of them go. */
		for (uint32_t k = 0; k < nkept; k++) {
			ck_assert_msg(burst_ok(kept[k], MIXED, keptid[k]),
			    "kept message %u changed", keptid[k]);
			x = x * 1103515245U + 12345;
			if ((x >> 8) % 4 == 0) {
				nbmq_msg_free(kept[k]);
				kept[k] = kept[--nkept];
				keptid[k] = keptid[nkept];
				k--;
			}
		}
	}
	ck_assert_uint_gt(s->pool->hits, 0);
	ck_assert_uint_le(pool_bytes(s->pool), POOL_BYTES);
	for (uint32_t k = 0; k < nkept; k++) {
		ck_assert(burst_ok(kept[k], MIXED, keptid[k]));
		nbmq_msg_free(kept[k]);
	}
	nbmq_msg_free(NULL);
	fake_stop(s);
}
END_TEST

/* A message kept while its class's blocks go round is not one of them. */
START_TEST(test_pool_kept_intact)
{
	nbmq_socket	*s = pool_start();
	nbmq_msg	*m;
	uint32_t	 i = 1;

	recv_burst(s, 0, 1, 4096, &m, 1);
	for (int r = 0; r < 10; r++, i += 20) {
		recv_burst(s, i, 20, 4096, NULL, 1);
		ck_assert_msg(burst_ok(m, 4096, 0), "kept message changed");
	}
	ck_assert_uint_ge(s->pool->hits, 9 * 20);
	nbmq_msg_free(m);
	/* Its block is the next message's: that one is whole too. */
	recv_burst(s, i, 1, 4096, &m, 1);
	nbmq_msg_free(m);
	fake_stop(s);
}
END_TEST

/*
 * Past the first bursts of a size, receiving and freeing does no malloc
 * or free at all (nor realloc of the input buffer), for every size a
 * block holds.
 */
START_TEST(test_pool_steady_no_alloc)
{
	static const struct {
		size_t		size;
		uint32_t	count;		/* a burst: <= 100 KB */
	} sz[] = {
		{ 0, 500 }, { 64, 500 }, { 466, 150 }, { 4096, 24 },
		{ 30000, 3 }, { POOL_BLOCK_MAX - 200, 1 },
	};
	nbmq_socket	*s = pool_start();
	uint32_t	 i = 0;
	uint64_t	 misses;

	for (size_t k = 0; k < sizeof(sz) / sizeof(sz[0]); k++) {
		for (int r = 0; r < 2; r++, i += sz[k].count)
			recv_burst(s, i, sz[k].count, sz[k].size, NULL, 1);
		misses = s->pool->misses;
		memset(&sys, 0, sizeof(sys));
		for (int r = 0; r < 5; r++, i += sz[k].count)
			recv_burst(s, i, sz[k].count, sz[k].size, NULL, 1);
		ck_assert_msg(sys.alloc == 0 && sys.free == 0,
		    "%zu B: %d allocations, %d frees", sz[k].size, sys.alloc,
		    sys.free);
		ck_assert_uint_eq(s->pool->misses, misses);
	}
	/* Larger messages are malloc'd and freed. */
	memset(&sys, 0, sizeof(sys));
	recv_burst(s, i, 1, POOL_BLOCK_MAX, NULL, 1);
	ck_assert_int_eq(sys.alloc, 1);
	ck_assert_int_eq(sys.free, 1);
	fake_stop(s);
}
END_TEST

/*
 * The pool keeps POOL_BYTES at most; once it was full, a new size makes
 * room by freeing as much of the others as did not fit, and is then
 * recycled.
 */
START_TEST(test_pool_bound_evict)
{
	enum { N = 300 };
	nbmq_socket	*s = pool_start();
	nbmq_msg	*held[N];
	uint64_t	 refused;
	uint32_t	 i = 0, c4k = (uint32_t)pool_class(sizeof(struct
			    nbmq_msg) + 4 + 4096);

	for (; i < N; i += 20)
		recv_burst(s, i, 20, 4096, held + i, 0);
	ck_assert_uint_gt(N * pool_size(c4k), POOL_BYTES);
	for (uint32_t k = 0; k < N; k++)
		nbmq_msg_free(held[k]);
	ck_assert_uint_le(pool_bytes(s->pool), POOL_BYTES);
	ck_assert_uint_gt(pool_bytes(s->pool), POOL_BYTES - pool_size(c4k));
	refused = s->pool->refused;
	ck_assert_uint_eq(refused, N * pool_size(c4k) -
	    pool_bytes(s->pool));

	recv_burst(s, i, 3, 30000, NULL, 1);
	i += 3;
	ck_assert_uint_eq(s->pool->refused, 0);
	ck_assert(s->pool->ready[c4k] != NULL ||	/* not all of them */
	    s->pool->freed[c4k] != NULL);
	ck_assert_uint_le(pool_bytes(s->pool), POOL_BYTES - refused +
	    3 * 32768);
	memset(&sys, 0, sizeof(sys));
	for (int r = 0; r < 5; r++, i += 3)
		recv_burst(s, i, 3, 30000, NULL, 1);
	ck_assert_int_eq(sys.alloc + sys.free, 0);
	fake_stop(s);
}
END_TEST

/*
 * Messages outlive their socket and context (nbmq.h, nbmq_msg_free); the
 * pool goes with the last of them (ASan, valgrind: no leak, no use after
 * free).  Messages still queued in the library go with the socket.
 */
START_TEST(test_pool_outlives_socket)
{
	nbmq_socket	*s = pool_start();
	nbmq_msg	*m[4];
	static const size_t size[4] = { 100, 4096, 70000, 466 };

	for (uint32_t i = 0; i < 4; i++)
		recv_burst(s, i, 1, size[i], m + i, 1);
	cmd(OP_BURST, 10, 5, 4096);
	ck_assert_int_ne(nbmq_readable(s), 0);		/* read, queued */
	ck_assert_ptr_nonnull(s->head);
	nbmq_msg_free(m[3]);
	ck_assert_int_eq(nbmq_close(s), 0);
	ck_assert(burst_ok(m[0], 100, 0));
	nbmq_msg_free(m[0]);
	fake_stop(NULL);				/* the context too */
	ck_assert(burst_ok(m[1], 4096, 1));
	ck_assert(burst_ok(m[2], 70000, 2));
	nbmq_msg_free(m[2]);
	nbmq_msg_free(m[1]);				/* the pool goes */
}
END_TEST

/* Frees in another thread while the socket receives, and after close. */
struct freer {
	int		fd[2];
	uint64_t	freed, bad;
};

struct freed_msg {
	nbmq_msg	*m;
	uint32_t	 i;
};

static void *
freer_main(void *arg)
{
	struct freer		*fr = arg;
	struct freed_msg	 x;

	while (read(fr->fd[0], &x, sizeof(x)) == sizeof(x) && x.m != NULL) {
		if (!burst_ok(x.m, MIXED, x.i))
			fr->bad++;
		nbmq_msg_free(x.m);
		fr->freed++;
	}
	return NULL;
}

START_TEST(test_pool_free_threads)
{
	enum { N = 150, ROUNDS = 12, LAST = 30 };
	nbmq_socket		*s = pool_start();
	nbmq_msg		*batch[N];
	struct freer		 fr;
	struct freed_msg	 x;
	pthread_t		 th;
	uint64_t		 mine = 0;
	uint32_t		 first = 0;

	memset(&fr, 0, sizeof(fr));
	memset(&x, 0, sizeof(x));	/* the padding too: it is written */
	ck_assert_int_eq(pipe(fr.fd), 0);
	ck_assert_int_eq(pthread_create(&th, NULL, freer_main, &fr), 0);
	for (int r = 0; r < ROUNDS; r++, first += N) {
		recv_burst(s, first, N, MIXED, batch, 0);
		for (uint32_t k = r + 1 < ROUNDS ? 0 : LAST; k < N; k++) {
			if (k % 3 == 0) {
				nbmq_msg_free(batch[k]);	/* here */
				mine++;
				continue;
			}
			x.m = batch[k];
			x.i = first + k;
			ck_assert_int_eq(write(fr.fd[1], &x, sizeof(x)),
			    sizeof(x));
		}
	}
	/* The last round's first ones are freed there after the close. */
	ck_assert_int_eq(nbmq_close(s), 0);
	for (uint32_t k = 0; k < LAST; k++) {
		x.m = batch[k];
		x.i = first - N + k;
		ck_assert_int_eq(write(fr.fd[1], &x, sizeof(x)), sizeof(x));
	}
	x.m = NULL;
	ck_assert_int_eq(write(fr.fd[1], &x, sizeof(x)), sizeof(x));
	pthread_join(th, NULL);
	close(fr.fd[0]);
	close(fr.fd[1]);
	ck_assert_uint_eq(fr.bad, 0);
	ck_assert_uint_eq(fr.freed + mine, ROUNDS * N);
	fake_stop(NULL);
}
END_TEST

/* ---- system calls ---- */

/*
 * A round trip: the send is one sendmsg; the blocking receive with
 * nothing queued reads once, blocking in recv itself (no poll, and no
 * failing read before or after): each end of a blocking ping-pong paid a
 * poll per message before.  SO_RCVTIMEO carries the receive timeout, set
 * once.
 */
START_TEST(test_syscalls_roundtrip)
{
	nbmq_socket	*s = fake_start(1000);
	nbmq_msg	*m;
	int		 n = 100;

	cmd(OP_ECHO, 0, 0, 0);
	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 10000), 0);
	memset(&sys, 0, sizeof(sys));
	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(send_i(s, (uint32_t)i, 64, 0), 0);
		expect_msg(s, 0, (uint32_t)i, 64);
	}
	ck_assert_int_eq(sys.sendmsg, n);
	ck_assert_int_eq(sys.send, 0);
	ck_assert_int_eq(sys.poll, 0);
	ck_assert_int_eq(sys.recv, n);
	ck_assert_int_eq(sys.recv_fail, 0);
	ck_assert_int_eq(sys.sockopt, 1);

	/* Each reply was confirmed with the next send, at no cost. */
	ck_assert_uint_eq(fake_sync().confirmed, n - 1);
	ck_assert_uint_eq(fake_sync().tallies, 1);

	/* NBMQ_DONTWAIT: one read, no poll; EAGAIN when it finds nothing. */
	memset(&sys, 0, sizeof(sys));
	ck_assert_int_eq(nbmq_recv(s, &m, NBMQ_DONTWAIT), -1);
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(sys.recv, 1);
	ck_assert_int_eq(sys.poll, 0);
	/* Before it read, with nothing left to hand over: the last one. */
	ck_assert_int_eq(sys.sendmsg, 1);
	ck_assert_uint_eq(fake_sync().confirmed, n);
	fake_stop(s);
}
END_TEST

static double
mono_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The blocking receive waits in recv with SO_RCVTIMEO: a new timeout
 * reaches the kernel, and nothing waits longer or shorter than asked.
 */
START_TEST(test_recv_timeout_kept)
{
	nbmq_socket	*s = fake_start(1000);
	nbmq_msg	*m;
	double		 t0, t;
	static const int	 ms[] = { 50, 200, 30 };

	for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
		ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, ms[i]), 0);
		t0 = mono_s();
		ck_assert_int_eq(nbmq_recv(s, &m, 0), -1);
		ck_assert_int_eq(errno, EAGAIN);
		t = mono_s() - t0;
		ck_assert_msg(t >= ms[i] / 1000.0 - 0.002 && t < ms[i] / 1000.0 +
		    5, "RCVTIMEO %d: waited %.3f s", ms[i], t);
	}
	/* And a message that comes meanwhile ends the wait at once. */
	cmd(OP_ECHO, 0, 0, 0);
	ck_assert_int_eq(nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 10000), 0);
	ck_assert_int_eq(send_i(s, 0, 64, 0), 0);
	t0 = mono_s();
	expect_msg(s, 0, 0, 64);
	ck_assert(mono_s() - t0 < 5);
	fake_stop(s);
}
END_TEST

static volatile sig_atomic_t	alarms;

/*
 * The first alarm only interrupts.  Should recv have been restarted
 * instead, the next (a second on) has the fake send a message, so that
 * the test fails at once rather than at its timeout.
 */
static void
on_alarm(int sig)
{
	struct cmd	x;

	(void)sig;
	if (alarms++ == 0)
		return;
	memset(&x, 0, sizeof(x));
	x.op = OP_MSG;
	x.b = 10;
	x.c = SIZE_MAX;
	(void)!write(F.ctl[1], &x, sizeof(x));
}

/*
 * README: EINTR, a signal interrupted a blocking call.  Waiting forever
 * in recv, a handler installed with SA_RESTART would have restarted it
 * (signal(7)); with a timeout set on the socket it never is.
 */
START_TEST(test_recv_blocking_eintr)
{
	nbmq_socket		*s = fake_start(1000);
	nbmq_msg		*m;
	struct sigaction	 sa, old;
	struct itimerval	 it = { .it_value = { 0, 100000 },
				    .it_interval = { 1, 0 } }, off;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	ck_assert_int_eq(sigaction(SIGALRM, &sa, &old), 0);
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
	alarms = 0;
	ck_assert_int_eq(nbmq_recv(s, &m, 0), -1);	/* RCVTIMEO -1 */
	ck_assert_int_eq(errno, EINTR);
	memset(&off, 0, sizeof(off));
	ck_assert_int_eq(setitimer(ITIMER_REAL, &off, NULL), 0);
	ck_assert_int_eq(alarms, 1);
	ck_assert_int_eq(sigaction(SIGALRM, &old, NULL), 0);
	fake_stop(s);
}
END_TEST

/* 63 messages held, the 64th without NBMQ_BATCH: one sendmsg for all. */
START_TEST(test_syscalls_batch)
{
	nbmq_socket	*s = fake_start(1000);
	struct snap	 st;

	memset(&sys, 0, sizeof(sys));
	for (uint32_t i = 0; i < 64; i++)
		ck_assert_int_eq(send_i(s, i, 64, i < 63 ? NBMQ_BATCH : 0), 0);
	ck_assert_int_eq(sys.sendmsg, 1);
	ck_assert_int_eq(sys.send + sys.recv + sys.poll, 0);
	st = fake_sync();
	ck_assert_uint_eq(st.sends, 64);
	ck_assert_uint_eq(st.bad, 0);
	fake_stop(s);
}
END_TEST

static Suite *
lib_suite(void)
{
	Suite	*s = suite_create("lib");
	TCase	*tc;

	tc = tcase_create("batch");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_batch_held_until_plain);
	tcase_add_test(tc, test_batch_held_until_flush);
	tcase_add_test(tc, test_batch_held_until_blocking_recv);
	tcase_add_test(tc, test_batch_64k);
	tcase_add_test(tc, test_batch_request_and_close);
	tcase_add_test(tc, test_batch_mixed_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("window");
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_window_dontwait, 0, 2);
	tcase_add_test(tc, test_window_hwm_events);
	tcase_add_test(tc, test_window_blocking);
	tcase_add_test(tc, test_send_checks);
	suite_add_tcase(s, tc);

	tc = tcase_create("recv");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_recv_dontwait_reads_kernel);
	tcase_add_test(tc, test_recvbuf);
	tcase_add_test(tc, test_readable_not_fd);
	tcase_add_test(tc, test_recv_split_large);
	suite_add_tcase(s, tc);

	tc = tcase_create("pool");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_pool_classes);
	tcase_add_test(tc, test_pool_mixed_orders);
	tcase_add_test(tc, test_pool_kept_intact);
	tcase_add_test(tc, test_pool_steady_no_alloc);
	tcase_add_test(tc, test_pool_bound_evict);
	tcase_add_test(tc, test_pool_outlives_socket);
	tcase_add_test(tc, test_pool_free_threads);
	suite_add_tcase(s, tc);

	tc = tcase_create("syscalls");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_syscalls_roundtrip);
	tcase_add_test(tc, test_recv_timeout_kept);
	tcase_add_test(tc, test_recv_blocking_eintr);
	tcase_add_test(tc, test_syscalls_batch);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(lib_suite());
}
