/* SPDX-License-Identifier: ISC */
/*
 * ctlclient.c: a control client of nbmqd's IPC, for nbmqctl and the
 * bench (see ctlclient.h).  It speaks the protocol of nbmq-protocol.h
 * through the codec (ipc-codec.c): IPC_HELLO, then control requests, each
 * answered with one struct or a streamed list ending in IPC_CTL_END.
 * Every answer is checked (exact lengths, terminated strings, the request
 * id, the count of a list) before the caller sees a field.
 */
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctlclient.h"

static int __attribute__((format(printf, 2, 3)))
fail(struct ctl *c, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(c->err, sizeof(c->err), fmt, ap);
	va_end(ap);
	return -1;
}

static int64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
conn(struct ctl *c)
{
	struct sockaddr_un	sun;
	struct timeval		tv;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(c->path) >= sizeof(sun.sun_path))
		return fail(c, "%s: path too long", c->path);
	strcpy(sun.sun_path, c->path);
	if ((c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return fail(c, "socket: %s", strerror(errno));
	/* A daemon with a full backlog must not hang us in connect. */
	tv.tv_sec = c->wait_ms / 1000;
	tv.tv_usec = (c->wait_ms % 1000) * 1000;
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return 0;
	switch (errno) {
	case ENOENT:
	case ECONNREFUSED:
		return fail(c, "nbmqd is not running (no daemon at %s)",
		    c->path);
	case EAGAIN:
	case ETIMEDOUT:
	case EINPROGRESS:
		return fail(c, "nbmqd at %s does not accept connections",
		    c->path);
	default:
		return fail(c, "%s: %s", c->path, strerror(errno));
	}
}

static int
conn_write(struct ctl *c, const void *p, size_t len)
{
	const uint8_t	*b = p;
	ssize_t		 n;

	while (len > 0) {
		n = send(c->fd, b, len, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return fail(c, "nbmqd at %s does not read its socket",
			    c->path);
		/*
		 * Closed: past max_clients the daemon answers EUSERS and
		 * closes as it accepts, maybe before the hello went out.
		 * The answer, or EOF, is what the read says next.
		 */
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			return 0;
		if (n == -1)
			return fail(c, "nbmqd went away: %s", strerror(errno));
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Exactly len bytes before the deadline. */
static int
conn_read(struct ctl *c, void *p, size_t len, int64_t deadline)
{
	struct pollfd	 pfd = { .fd = c->fd, .events = POLLIN };
	uint8_t		*b = p;
	ssize_t		 n;
	int64_t		 left;
	int		 r;

	while (len > 0) {
		if ((left = deadline - now_ms()) <= 0)
			return fail(c, "no answer from nbmqd within %d ms",
			    c->wait_ms);
		if ((r = poll(&pfd, 1, (int)left)) == -1 && errno != EINTR)
			return fail(c, "poll: %s", strerror(errno));
		if (r <= 0)
			continue;
		n = recv(c->fd, b, len, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == -1)
			return fail(c, "nbmqd went away: %s", strerror(errno));
		if (n == 0)
			return fail(c, "nbmqd closed the connection");
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int
ctl_send(struct ctl *c, uint16_t type, const void *p, uint32_t len)
{
	struct nbmq_ipc_hdr	h;

	memset(&h, 0, sizeof(h));
	h.len = len;
	h.type = type;
	h.reqid = ++c->reqid;
	if (conn_write(c, &h, sizeof(h)) == -1)
		return -1;
	return len > 0 ? conn_write(c, p, len) : 0;
}

/* The next answer to the request in flight; its payload in c->buf. */
int
ctl_recv(struct ctl *c, struct nbmq_ipc_hdr *h)
{
	int64_t	deadline = now_ms() + c->wait_ms;

	if (conn_read(c, h, sizeof(*h), deadline) == -1)
		return -1;
	if (ipc_hdr_check(h, CTL_MAX_ANSWER) != 0)
		return fail(c, "malformed answer (is %s an nbmqd socket?)",
		    c->path);
	if (h->len > c->cap) {
		free(c->buf);
		if ((c->buf = malloc(h->len)) == NULL) {
			c->cap = 0;
			return fail(c, "out of memory");
		}
		c->cap = h->len;
	}
	if (conn_read(c, c->buf, h->len, deadline) == -1)
		return -1;
	if (h->reqid != c->reqid)
		return fail(c, "answer %s to request %u, expected %u",
		    ipc_type_name(h->type), h->reqid, c->reqid);
	return 0;
}

int
ctl_result(struct ctl *c, const struct nbmq_ipc_hdr *h, int *errp,
    char *text, size_t textlen)
{
	struct ipc_result	r;
	size_t			n;

	if (h->type != IPC_RESULT || h->len < sizeof(r))
		return fail(c, "malformed result from nbmqd");
	memcpy(&r, c->buf, sizeof(r));
	n = h->len - sizeof(r);
	if (n >= textlen)
		n = textlen - 1;
	memcpy(text, c->buf + sizeof(r), n);
	text[n] = '\0';
	if (memchr(text, '\0', n) != NULL)
		return fail(c, "malformed result from nbmqd");
	*errp = r.err;
	return 0;
}

int
ctl_expect(struct ctl *c, const struct nbmq_ipc_hdr *h, uint16_t want,
    void *out, size_t outlen, const char *what)
{
	char	text[1024];
	int	e;

	if (h->type == IPC_RESULT) {
		if (ctl_result(c, h, &e, text, sizeof(text)) == -1)
			return -1;
		if (e == 0)
			return fail(c, "%s: unexpected empty answer", what);
		return fail(c, "%s: %s", what, *text ? text : strerror(e));
	}
	if (h->type != want)
		return fail(c, "%s: unexpected answer %s", what,
		    ipc_type_name(h->type));
	if (ipc_fixed_decode(h->type, c->buf, h->len, out, outlen) != 0)
		return fail(c, "%s: malformed %s from nbmqd", what,
		    ipc_type_name(h->type));
	return 0;
}

int
ctl_ask(struct ctl *c, uint16_t req, const void *p, uint32_t len,
    uint16_t want, void *out, size_t outlen, const char *what)
{
	struct nbmq_ipc_hdr	h;

	if (ctl_send(c, req, p, len) == -1 || ctl_recv(c, &h) == -1)
		return -1;
	return ctl_expect(c, &h, want, out, outlen, what);
}

static int
hello(struct ctl *c)
{
	struct ipc_hello	hello;
	struct ipc_hello_ok	ok;
	struct ipc_result	r;
	struct nbmq_ipc_hdr	h;

	memset(&hello, 0, sizeof(hello));
	hello.magic = NBMQ_IPC_MAGIC;
	hello.version = NBMQ_IPC_VERSION;
	hello.pid = (uint32_t)getpid();
	if (ctl_send(c, IPC_HELLO, &hello, sizeof(hello)) == -1 ||
	    ctl_recv(c, &h) == -1)
		return -1;
	if (h.type == IPC_RESULT && h.len >= sizeof(r)) {
		memcpy(&r, c->buf, sizeof(r));
		if (r.err == EPROTO)
			return fail(c, "nbmqd speaks IPC protocol version "
			    "%llu, this %s version %d: use the %s of the "
			    "same release", (unsigned long long)r.value,
			    c->prog, NBMQ_IPC_VERSION, c->prog);
		if (r.err == EUSERS)
			return fail(c, "nbmqd has too many clients connected");
		return fail(c, "nbmqd refused: %s", strerror(r.err));
	}
	if (h.type != IPC_HELLO_OK || h.len != sizeof(ok))
		return fail(c, "unexpected answer to hello (is %s an nbmqd "
		    "socket?)", c->path);
	memcpy(&ok, c->buf, sizeof(ok));
	if (ok.version != NBMQ_IPC_VERSION)
		return fail(c, "nbmqd speaks IPC protocol version %u, this %s "
		    "version %d: use the %s of the same release", ok.version,
		    c->prog, NBMQ_IPC_VERSION, c->prog);
	return 0;
}

int
ctl_open(struct ctl *c, const char *path, const char *prog, int wait_ms)
{
	memset(c, 0, sizeof(*c));
	c->path = path;
	c->prog = prog;
	c->wait_ms = wait_ms;
	c->fd = -1;
	return conn(c) == -1 || hello(c) == -1 ? -1 : 0;
}

void
ctl_close(struct ctl *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
	c->cap = 0;
}

int
ctl_list(struct ctl *c, uint16_t req, const void *p, uint32_t len,
    uint16_t item, size_t size, void **itemsp, uint32_t *countp,
    const char *what)
{
	struct nbmq_ipc_hdr	 h;
	struct ipc_ctl_end	 end;
	uint8_t			*items = NULL, *n;
	uint32_t		 count = 0, cap = 0;

	if (ctl_send(c, req, p, len) == -1)
		return -1;
	for (;;) {
		if (ctl_recv(c, &h) == -1)
			goto bad;
		if (h.type == IPC_CTL_END)
			break;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			if ((n = realloc(items, (size_t)cap * size)) == NULL) {
				fail(c, "out of memory");
				goto bad;
			}
			items = n;
		}
		if (ctl_expect(c, &h, item, items + (size_t)count * size, size,
		    what) == -1)
			goto bad;
		count++;
	}
	if (ctl_expect(c, &h, IPC_CTL_END, &end, sizeof(end), what) == -1)
		goto bad;
	if (end.count != count) {
		fail(c, "%s: nbmqd sent %u items and says %u", what, count,
		    end.count);
		goto bad;
	}
	*itemsp = items;
	*countp = count;
	return 0;
bad:
	free(items);
	return -1;
}

int
ctl_reasons(struct ctl *c, char reasons[NBMQ_IPC_NDROPS][NBMQ_IPC_WORD_LEN])
{
	struct ipc_ctl_reason	*r = NULL;
	uint32_t		 n;

	if (ctl_list(c, IPC_CTL_REASONS, NULL, 0, IPC_CTL_REASON, sizeof(*r),
	    (void **)&r, &n, "reasons") == -1)
		return -1;
	memset(reasons, 0, NBMQ_IPC_NDROPS * NBMQ_IPC_WORD_LEN);
	for (uint32_t i = 0; i < n; i++)
		if (r[i].index < NBMQ_IPC_NDROPS)
			memcpy(reasons[r[i].index], r[i].name,
			    sizeof(r[i].name));
	free(r);
	return 0;
}
