/* SPDX-License-Identifier: ISC */
/*
 * udp.c: the UDP side of the shell.  One socket per nbmq socket, drained
 * completely on every readable event with recvmmsg, written with sendmmsg
 * and UDP GSO from the core's outbox, one timer per socket at the core's
 * next deadline.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <linux/errqueue.h>
#include <linux/sock_diag.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/dns.h>
#include <event2/util.h>

#include "shell.h"

#define UDP_BATCH	64
/*
 * The kernel is drained completely on every readable event (PROTOCOL.md
 * 3.2), and what the core queued to send meanwhile (acks, Slow, replies)
 * leaves every UDP_SLICE of reading: a peer sending faster than this
 * daemon reads must hear its Slow while the flood lasts, not after it.
 * (Returning to the event loop between slices instead lost more of other
 * peers' datagrams under a flood, in int_floods under valgrind.  Slices
 * of 16 batches were 100-200 ms on an encrypted socket, where a batch of
 * GRO runs is 4 MiB to open: Slow came too late to save anything.)
 */
#define UDP_SLICE	(1 * MSEC)
/*
 * But never more than UDP_READ_MAX in one go: a flood the daemon reads
 * slower than it comes (Connects that cost public-key work, before
 * cookies) kept the kernel buffer from ever emptying, and the drain never
 * ended: no IPC request, timer or signal was served, nbmqctl got no
 * answer for 10 s and SIGTERM went unheard (issue 15).  The socket is
 * still readable after: the loop comes back to it once the rest had
 * their turn.
 */
#define UDP_READ_MAX	(10 * MSEC)

static void	udp_flush_cb(void *, struct sock *);
static void	udp_recv_ready_cb(void *, struct sock *);
static void	udp_peer_event_cb(void *, struct sock *, struct peer *,
		    enum peer_event);
static void	udp_resolve_cb(void *, struct sock *);
static void	udp_stun_resolve_cb(void *, struct sock *);
static void	udp_connect_event_cb(void *, struct sock *);
static uint64_t	udp_random64_cb(void *);

const struct sock_ops udp_sock_ops = {
	.flush = udp_flush_cb,
	.recv_ready = udp_recv_ready_cb,
	.peer_event = udp_peer_event_cb,
	.resolve = udp_resolve_cb,
	.stun_resolve = udp_stun_resolve_cb,
	.random64 = udp_random64_cb,
	.connect_event = udp_connect_event_cb,
};

/* Why the connecting socket is not up: to subscribed applications. */
static void
udp_connect_event_cb(void *arg, struct sock *s)
{
	dsock_connect_event(arg);
}

static uint64_t
udp_random64_cb(void *arg)
{
	uint64_t	v;

	while (getrandom(&v, sizeof(v), 0) != sizeof(v))
		if (errno != EINTR)
			fatal("getrandom");
	return v;
}

static void
udp_recv_ready_cb(void *arg, struct sock *s)
{
	/* Delivery happens in dsock_sync at the end of the callback. */
}

/* Counted for nbmqctl; queued for subscribed applications (daemon.c). */
static void
udp_peer_event_cb(void *arg, struct sock *s, struct peer *p,
    enum peer_event ev)
{
	dsock_peer_event(arg, p, ev);
}

/*
 * Runs of datagrams to one address with one size (the last may be
 * shorter) leave as one UDP GSO send (UDP_SEGMENT): the kernel cuts them
 * into ordinary datagrams, so a peer sees exactly what separate sends
 * would have given it, and the stack is walked once per run instead of
 * once per datagram.  The first datagram in a run fixes the segment size.
 */
#define GSO_MAX_SEGS	64		/* UDP_MAX_SEGMENTS on older kernels */
#define GSO_MAX_BYTES	65000

static int
udp_run(const struct outbox *ob, int i, int gso)
{
	int		 j = i + 1;
	uint32_t	 seg = ob->len[i], total = seg;

	if (!gso)
		return 1;
	while (j < ob->n && j - i < GSO_MAX_SEGS &&
	    ob->len[j] <= seg && total + ob->len[j] <= GSO_MAX_BYTES &&
	    addr_eq(&ob->to[j], &ob->to[i])) {
		total += ob->len[j];
		if (ob->len[j++] < seg)
			break;		/* a shorter one ends the run */
	}
	return j - i;
}

/* Send what the outbox holds; keep what the kernel refused for later. */
void
udp_flush(struct dsock *d)
{
	struct outbox	*ob = &d->core.ob;
	struct mmsghdr	 mm[OUTBOX_SLOTS];
	struct iovec	 iov[OUTBOX_SLOTS];
	union {
		char		buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr	align;
	}		 ctl[OUTBOX_SLOTS];
	int		 first[OUTBOX_SLOTS + 1], nmm = 0;
	int		 n, sent = 0, done = 0, icmp = 0;

	if (ob->n == 0)
		return;
	if (d->fd == -1) {
		ob->n = 0;
		return;
	}
	for (int i = 0; i < ob->n; ) {
		int		 run = udp_run(ob, i, d->gso);
		struct msghdr	*mh = &mm[nmm].msg_hdr;

		memset(&mm[nmm], 0, sizeof(mm[nmm]));
		for (int k = 0; k < run; k++) {
			iov[i + k].iov_base = ob->buf +
			    (size_t)(i + k) * ob->slot_size;
			iov[i + k].iov_len = ob->len[i + k];
		}
		mh->msg_name = &ob->to[i].u;
		mh->msg_namelen = ob->to[i].len;
		mh->msg_iov = &iov[i];
		mh->msg_iovlen = (size_t)run;
		if (run > 1) {
			struct cmsghdr	*cm;
			uint16_t	 seg = (uint16_t)ob->len[i];

			memset(ctl[nmm].buf, 0, sizeof(ctl[nmm].buf));
			mh->msg_control = ctl[nmm].buf;
			mh->msg_controllen = sizeof(ctl[nmm].buf);
			cm = CMSG_FIRSTHDR(mh);
			cm->cmsg_level = SOL_UDP;
			cm->cmsg_type = UDP_SEGMENT;
			cm->cmsg_len = CMSG_LEN(sizeof(seg));
			memcpy(CMSG_DATA(cm), &seg, sizeof(seg));
		}
		first[nmm++] = i;
		i += run;
	}
	first[nmm] = ob->n;
	while (done < nmm) {
		n = sendmmsg(d->fd, mm + done, (unsigned int)(nmm - done),
		    MSG_DONTWAIT);
		if (n > 0) {
			done += n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)
			break;
		/* IP_RECVERR: an earlier datagram's ICMP error, reported
		 * (and cleared) by this send, which did not go: again. */
		if (d->recverr && !icmp++ && (errno == ECONNREFUSED ||
		    errno == EHOSTUNREACH || errno == ENETUNREACH ||
		    errno == EHOSTDOWN))
			continue;
		if (mm[done].msg_hdr.msg_iovlen > 1 &&
		    (errno == EIO || errno == EINVAL || errno == EOPNOTSUPP)) {
			/* No GSO on this path: send one by one from now. */
			log_info("socket %s: no UDP GSO (%s), sending datagrams "
			    "one by one", d->core.name, strerror(errno));
			d->gso = 0;
			break;
		}
		/* This datagram cannot go (no route, refused): skip it. */
		d->core.st.drops[DROP_SEND_FAILED] +=
		    first[done + 1] - first[done];
		done++;
	}
	sent = first[done];
	outbox_consume(ob, sent);
	if (ob->n > 0 && d->gso == 0 && done < nmm &&
	    mm[done].msg_hdr.msg_iovlen > 1) {
		udp_flush(d);		/* again, without GSO */
		return;
	}
	if (ob->n > 0 && !d->write_armed) {
		event_add(d->ev_write, NULL);
		d->write_armed = 1;
	}
}

static void
udp_flush_cb(void *arg, struct sock *s)
{
	udp_flush(arg);
}

/*
 * After a busy read: the socket's drop counter moved, or what still waits
 * in its buffer passed an eighth of it (a mark: senders slow down before
 * anything is lost).  Either way the core hears it (Slow, pace.c).
 */
static void
udp_rx_check(struct dsock *d, nbmq_time now)
{
	uint32_t	mi[SK_MEMINFO_VARS];
	socklen_t	len = sizeof(mi);

	if (getsockopt(d->fd, SOL_SOCKET, SO_MEMINFO, mi, &len) == -1 ||
	    len <= SK_MEMINFO_DROPS * sizeof(mi[0]))
		return;
	if (mi[SK_MEMINFO_DROPS] != d->rx_ovfl) {
		sock_rx_overflow(&d->core, mi[SK_MEMINFO_DROPS] - d->rx_ovfl,
		    now);
		d->rx_ovfl = mi[SK_MEMINFO_DROPS];
	} else if (mi[SK_MEMINFO_RMEM_ALLOC] >= mi[SK_MEMINFO_RCVBUF] / 8)
		sock_rx_overflow(&d->core, 0, now);
}

/*
 * What completed goes on to the applications while the read goes on: one
 * recvmmsg of GRO runs holds up to 64 x 64 KiB, tens of thousands of
 * small messages, far more than recv_hwm, which counts only what the
 * applications could not take yet.  An application's output past its
 * high mark is written now (dsock_deliver_busy); if half of
 * recv_hwm still waits after that, the applications are behind: a mark.
 */
static void
udp_deliver(struct dsock *d, nbmq_time now)
{
	dsock_deliver_busy(d);
	if (d->core.rq_len * 2 >= d->core.o.recv_hwm)
		sock_rx_overflow(&d->core, 0, now);
}

/*
 * Drain the kernel with recvmmsg.  With UDP_GRO a read may hold a run of
 * datagrams from one source, all of one size but the last (the cmsg says
 * which size): each is handed to the core on its own, as if read alone,
 * and what completed goes on to the applications after each read buffer.
 */
/*
 * A connecting socket has IP_RECVERR (and IPV6_RECVERR) on: the ICMP
 * errors its datagrams met wait in the error queue, each with the
 * address it was sent to.  One for a Connect to the remote (port or host
 * unreachable) is the reason it is not up.  The queue must be drained:
 * while it holds anything the socket polls as readable (POLLERR).
 */
static void
udp_errqueue(struct dsock *d, nbmq_time now)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		union {
			char		buf[512];
			struct cmsghdr	align;
		}		 ctl;
		struct nbaddr	 to;
		struct msghdr	 mh;
		struct cmsghdr	*cm;
		struct sock_extended_err ee;
		char		 b[64];
		struct iovec	 iov = { b, sizeof(b) };

		memset(&mh, 0, sizeof(mh));
		memset(&to, 0, sizeof(to));
		mh.msg_name = &to.u;
		mh.msg_namelen = sizeof(to.u);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		if (recvmsg(d->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) == -1)
			return;
		to.len = mh.msg_namelen;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm)) {
			if (!(cm->cmsg_level == SOL_IP &&
			    cm->cmsg_type == IP_RECVERR) &&
			    !(cm->cmsg_level == SOL_IPV6 &&
			    cm->cmsg_type == IPV6_RECVERR))
				continue;
			memcpy(&ee, CMSG_DATA(cm), sizeof(ee));
			if (ee.ee_origin != SO_EE_ORIGIN_ICMP &&
			    ee.ee_origin != SO_EE_ORIGIN_ICMP6)
				continue;
			if (!d->core.remote_valid ||
			    !addr_eq(&to, &d->core.remote))
				continue;
			log_debug("socket %s: %s: %s", d->core.name,
			    addr_str(&to), strerror((int)ee.ee_errno));
			sock_connect_failed(&d->core, CONN_UNREACHABLE, now);
		}
	}
}

static void
udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dsock	*d = arg;
	struct mmsghdr	 mm[UDP_BATCH];
	struct iovec	 iov[UDP_BATCH];
	struct nbaddr	 from[UDP_BATCH];
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	}		 ctl[UDP_BATCH];
	int		 busy = 0, nread = 0;
	static uint8_t	*bufs;
	const size_t	 bufsz = 65536;	/* a GRO run: at most 64 KiB */
	nbmq_time	 now = daemon_now(), sliced = now, start = now;
	int		 n;

	if (bufs == NULL && (bufs = malloc(UDP_BATCH * bufsz)) == NULL)
		fatal("udp buffers");
	do {
		for (int i = 0; i < UDP_BATCH; i++) {
			iov[i].iov_base = bufs + (size_t)i * bufsz;
			iov[i].iov_len = bufsz;
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_name = &from[i].u;
			mm[i].msg_hdr.msg_namelen = sizeof(from[i].u);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			if (d->gro) {
				mm[i].msg_hdr.msg_control = ctl[i].buf;
				mm[i].msg_hdr.msg_controllen =
				    sizeof(ctl[i].buf);
			}
		}
		n = recvmmsg(fd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n == -1) {
			/* ICMP errors (IP_RECVERR) come as errnos too. */
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR && errno != ECONNREFUSED &&
			    !(d->recverr && (errno == EHOSTUNREACH ||
			    errno == ENETUNREACH || errno == EHOSTDOWN)))
				log_warn("socket %s: recvmmsg", d->core.name);
			/*
			 * The error queue: when an ICMP error came back as
			 * an errno, or when woken with nothing to read (it
			 * polls as readable while it holds anything).  Not
			 * on every read: that cost a system call for each
			 * reply to a connecting socket.
			 */
			if (d->recverr && (nread == 0 || (errno != EAGAIN &&
			    errno != EWOULDBLOCK)))
				udp_errqueue(d, now);
			break;
		}
		/*
		 * A long drain takes milliseconds: rates measured for
		 * pacing (4.4) over a stale clock were off by 4x.
		 */
		if (busy)
			now = daemon_now();
		for (int i = 0; i < n; i++) {
			struct msghdr	*mh = &mm[i].msg_hdr;
			struct cmsghdr	*cm;
			const uint8_t	*p = iov[i].iov_base;
			size_t		 len = mm[i].msg_len, seg = len;

			from[i].len = mh->msg_namelen;
			if (mh->msg_flags & MSG_TRUNC) {
				d->core.st.rx_datagrams++;
				d->core.st.drops[DROP_LENGTH]++;
				continue;
			}
			for (cm = d->gro ? CMSG_FIRSTHDR(mh) : NULL; cm != NULL;
			    cm = CMSG_NXTHDR(mh, cm)) {
				int	v;

				if (cm->cmsg_level != SOL_UDP ||
				    cm->cmsg_type != UDP_GRO)
					continue;
				memcpy(&v, CMSG_DATA(cm), sizeof(v));
				if (v > 0 && (size_t)v < len)
					seg = (size_t)v;
			}
			/* An empty datagram too: read, so counted (short). */
			do {
				size_t	one = len < seg ? len : seg;

				sock_input(&d->core, now, &from[i], p, one);
				p += one;
				len -= one;
			} while (len > 0);
			if (d->core.rq_len > 0 && (n == UDP_BATCH ||
			    i + 1 < n))
				udp_deliver(d, now);
		}
		busy |= n == UDP_BATCH;
		nread += n;
		daemon_heap_thp();
		if (n == UDP_BATCH && now - sliced >= UDP_SLICE) {
			sliced = now;
			udp_rx_check(d, now);
			safe_acks_flush(&d->core, now);
			udp_flush(d);
		}
	} while (n == UDP_BATCH && now - start < UDP_READ_MAX);
	/*
	 * A busy read: did the kernel drop datagrams for want of room, or is
	 * its buffer filling (an eighth: 1 MiB of the default rcvbuf, doubled
	 * by the kernel; a quarter lost 12-24% of 1 MiB messages in bench, an
	 * eighth 0.5-1.5%)?  (Its SO_RXQ_OVFL cmsg does not come with UDP
	 * here; SO_MEMINFO does.)  A read of a few datagrams costs no more
	 * syscalls than it did.
	 */
	if (busy || nread >= UDP_BATCH / 4)
		udp_rx_check(d, now);
	dsock_sync(d, now);
}

static void
udp_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct dsock	*d = arg;
	nbmq_time	 now = daemon_now();

	d->write_armed = 0;
	udp_flush(d);
	if (d->core.ob.n == 0)
		sock_tick(&d->core, now);
	dsock_sync(d, now);
}

void
udp_arm_timer(struct dsock *d, nbmq_time now)
{
	nbmq_time	 t = sock_next_deadline(&d->core);
	struct timeval	 tv;

	if (d->closing && d->linger_until < t)
		t = d->linger_until;
	if (t == NBMQ_TIME_NEVER) {
		event_del(d->ev_timer);
		return;
	}
	t = t > now ? t - now : 0;
	tv.tv_sec = t / NSEC;
	tv.tv_usec = (t % NSEC) / 1000 + 1;	/* never early */
	event_add(d->ev_timer, &tv);
}

void
udp_set_bufs(struct dsock *d)
{
	socklen_t	len;
	int		v;

	if (d->fd == -1)
		return;
	/* As root, go past net.core.rmem_max; else the kernel caps it. */
	if ((v = (int)d->core.o.rcvbuf) > 0 &&
	    setsockopt(d->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) == -1)
		setsockopt(d->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	/* What the kernel gave: the window of 4.7 keeps under it. */
	len = sizeof(v);
	if (getsockopt(d->fd, SOL_SOCKET, SO_RCVBUF, &v, &len) == 0 && v > 0)
		d->core.kbuf = (uint64_t)v;
	if ((v = (int)d->core.o.sndbuf) > 0 &&
	    setsockopt(d->fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) == -1)
		setsockopt(d->fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
}

/* A UDP socket of family af bound to a (or to any address, port 0). */
static int
udp_open(struct dsock *d, int af, const struct nbaddr *a)
{
	struct nbaddr	 any;
	int		 fd, zero = 0, one = 1;

	if ((fd = socket(af, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0)) == -1)
		return errno;
	if (a == NULL) {
		memset(&any, 0, sizeof(any));
		any.u.sa.sa_family = af;
		any.len = af == AF_INET ? sizeof(any.u.sin) : sizeof(any.u.sin6);
		a = &any;
	}
	if (af == AF_INET6)	/* [::] takes IPv4 too, as v4-mapped */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	if (bind(fd, &a->u.sa, a->len) == -1) {
		int	e = errno;

		close(fd);
		return e;
	}
	d->fd = fd;
	d->local.len = sizeof(d->local.u);
	getsockname(fd, &d->local.u.sa, &d->local.len);
	udp_set_bufs(d);
	d->gso = 1;
	d->gro = setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == 0;
	d->rx_ovfl = 0;		/* SO_MEMINFO's drop count (udp_rx_drops) */
	d->ev_read = event_new(nbmqd->base, fd, EV_READ | EV_PERSIST,
	    udp_read_cb, d);
	d->ev_write = event_new(nbmqd->base, fd, EV_WRITE, udp_write_cb, d);
	if (d->ev_read == NULL || d->ev_write == NULL)
		fatalx("event_new");
	event_add(d->ev_read, NULL);
	return 0;
}

int
udp_bind(struct dsock *d, const char *text)
{
	struct nbaddr	a;
	int		e;

	if (d->fd != -1)
		return EISCONN;
	if (addr_parse(text, &a, NULL, 0, NULL) != 0)
		return EINVAL;
	if ((e = udp_open(d, a.u.sa.sa_family, &a)) != 0)
		return e;
	sock_set_bound(&d->core);
	log_info("socket %s: bound to %s", d->core.name, addr_str(&d->local));
	return 0;
}

/*
 * The stun server of d: "host:port" (stun_server, or the part after '@'
 * of connect = name@host:port).  Opens d's UDP socket if it has none yet
 * (in the server's family; dual-stack for a host name).  0 or errno.
 */
static int
udp_stun_server(struct dsock *d, const char *text)
{
	struct nbaddr	a, b;
	char		host[256];
	uint16_t	port;
	int		r, e;

	if ((r = addr_parse(text, &a, host, sizeof(host), &port)) == -1)
		return EINVAL;
	if (d->fd == -1 && (e = udp_open(d, r == 0 ? a.u.sa.sa_family :
	    AF_INET6, NULL)) != 0 && (r == 0 ||
	    (e = udp_open(d, AF_INET, NULL)) != 0))
		return e;
	if (r == 1) {
		free(d->stun_host);
		if ((d->stun_host = strdup(host)) == NULL)
			return ENOMEM;
		d->stun_port = port;
		return stuncli_init(&d->core, text, NULL) == 0 ? 0 : ENOMEM;
	}
	/* Numeric: in the family of our socket (IPv4 as v4-mapped). */
	if (stun_addr_for_family(&a, d->local.u.sa.sa_family, &b) != 0)
		return EAFNOSUPPORT;
	return stuncli_init(&d->core, text, &b) == 0 ? 0 : ENOMEM;
}

/* connect = name@host:port: ask the stun server at host:port for name. */
static int
udp_connect_by_name(struct dsock *d, const char *text)
{
	const char	*at = strchr(text, '@'), *colon = strrchr(text, ':');
	char		 target[NBMQ_NAME_MAX + 1];
	int		 e;

	if (!stun_valid_name(text, (size_t)(at - text)) || colon < at)
		return EINVAL;
	memcpy(target, text, (size_t)(at - text));
	target[at - text] = '\0';
	if ((e = udp_stun_server(d, at + 1)) != 0)
		return e;
	/* Shown as the remote (nbmqctl); never resolved through DNS. */
	free(d->host);
	if ((d->host = strndup(text, (size_t)(colon - text))) == NULL)
		return ENOMEM;
	d->port = (uint16_t)strtoul(colon + 1, NULL, 10);
	stuncli_set_target(&d->core, target);
	log_info("socket %s: connecting from %s to %s", d->core.name,
	    addr_str(&d->local), text);
	sock_connect_name(&d->core, daemon_now());
	return 0;
}

/* Connecting: ICMP errors queued (udp_errqueue); best effort. */
static void
udp_recverr(struct dsock *d)
{
	int	one = 1, ok;

	ok = setsockopt(d->fd, SOL_IP, IP_RECVERR, &one, sizeof(one)) == 0;
	if (d->local.u.sa.sa_family == AF_INET6)
		ok |= setsockopt(d->fd, SOL_IPV6, IPV6_RECVERR, &one,
		    sizeof(one)) == 0;
	d->recverr = ok;
}

int
udp_connect(struct dsock *d, const char *text)
{
	struct nbaddr	a;
	char		host[256];
	uint16_t	port;
	int		r, e;

	if (d->fd != -1)
		return EISCONN;
	if (strchr(text, '@') != NULL)
		return udp_connect_by_name(d, text);
	if ((r = addr_parse(text, &a, host, sizeof(host), &port)) == -1)
		return EINVAL;
	if (r == 0) {
		if ((e = udp_open(d, a.u.sa.sa_family, NULL)) != 0)
			return e;
		udp_recverr(d);
		log_info("socket %s: connecting from %s to %s", d->core.name,
		    addr_str(&d->local), text);
		sock_set_remote(&d->core, &a, daemon_now());
		return 0;
	}
	/* A name: one dual-stack socket, IPv4 answers as v4-mapped. */
	if ((e = udp_open(d, AF_INET6, NULL)) != 0 &&
	    (e = udp_open(d, AF_INET, NULL)) != 0)
		return e;
	udp_recverr(d);
	if ((d->host = strdup(host)) == NULL)
		return ENOMEM;
	d->port = port;
	log_info("socket %s: connecting from %s to %s", d->core.name,
	    addr_str(&d->local), text);
	sock_connect_name(&d->core, daemon_now());
	return 0;
}

/* The first answer as an address this socket can send to (v4-mapped on a
 * dual-stack socket); -1 if there is none. */
static int
udp_dns_addr(const struct dsock *d, const struct evutil_addrinfo *res,
    struct nbaddr *out)
{
	struct nbaddr	a;

	if (res->ai_addrlen > sizeof(a.u))
		return -1;
	memset(&a, 0, sizeof(a));
	memcpy(&a.u, res->ai_addr, res->ai_addrlen);
	a.len = res->ai_addrlen;
	return stun_addr_for_family(&a, d->local.u.sa.sa_family, out);
}

/* Start a lookup of host:port for d, unless one is running. */
static void
udp_lookup(struct dsock *d, const char *host, uint16_t port,
    evdns_getaddrinfo_cb cb, struct evdns_getaddrinfo_request **reqp)
{
	struct evutil_addrinfo	 hints;
	char			 ports[8];

	if (*reqp != NULL || host == NULL)
		return;		/* one lookup at a time */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = d->local.u.sa.sa_family == AF_INET ? AF_INET :
	    AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_protocol = IPPROTO_UDP;
	snprintf(ports, sizeof(ports), "%u", port);
	/* The callback may run at once (numeric, /etc/hosts). */
	*reqp = evdns_getaddrinfo(nbmqd->dns, host, ports, &hints, cb, d);
}

static void
udp_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dsock	*d = arg;
	struct nbaddr	 a;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* d is being freed */
	d->dns_req = NULL;
	if (result != 0 || res == NULL) {
		/* Once an episode: the reconnect timer tries every
		 * reconnect_wait, and the reason stays in nbmqctl. */
		if (d->core.conn_reason != CONN_RESOLVE)
			log_warnx("socket %s: cannot resolve %s: %s",
			    d->core.name, d->host,
			    evutil_gai_strerror(result));
		else
			log_debug("socket %s: cannot resolve %s: %s",
			    d->core.name, d->host,
			    evutil_gai_strerror(result));
		sock_connect_failed(&d->core, CONN_RESOLVE, daemon_now());
		dsock_sync(d, daemon_now());
		return;		/* the reconnect timer tries again */
	}
	if (udp_dns_addr(d, res, &a) == -1) {
		log_warnx("socket %s: %s has no usable address", d->core.name,
		    d->host);
		evutil_freeaddrinfo(res);
		sock_connect_failed(&d->core, CONN_RESOLVE, daemon_now());
		dsock_sync(d, daemon_now());
		return;
	}
	evutil_freeaddrinfo(res);
	log_debug("socket %s: %s is %s", d->core.name, d->host, addr_str(&a));
	sock_set_remote(&d->core, &a, daemon_now());
	dsock_sync(d, daemon_now());
}

static void
udp_resolve_cb(void *arg, struct sock *s)
{
	struct dsock	*d = arg;

	udp_lookup(d, d->host, d->port, udp_dns_cb, &d->dns_req);
}

static void
udp_stun_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct dsock	*d = arg;
	struct nbaddr	 b;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* d is being freed */
	d->stun_dns_req = NULL;
	if (result != 0 || res == NULL) {
		log_warnx("socket %s: cannot resolve stun server %s: %s",
		    d->core.name, d->stun_host, evutil_gai_strerror(result));
		return;		/* the next request tries again */
	}
	if (udp_dns_addr(d, res, &b) == -1) {
		evutil_freeaddrinfo(res);
		log_warnx("socket %s: stun server %s has no usable address",
		    d->core.name, d->stun_host);
		return;
	}
	evutil_freeaddrinfo(res);
	log_debug("socket %s: stun server %s is %s", d->core.name,
	    d->stun_host, addr_str(&b));
	stuncli_set_server(&d->core, &b, daemon_now());
	dsock_sync(d, daemon_now());
}

/* The stun server is a host name: resolved before every request. */
static void
udp_stun_resolve_cb(void *arg, struct sock *s)
{
	struct dsock	*d = arg;

	udp_lookup(d, d->stun_host, d->stun_port, udp_stun_dns_cb,
	    &d->stun_dns_req);
}

/*
 * The STUN settings of a configured socket, once it is bound or
 * connected: a stun socket's index; an nbmq socket's name at its stun
 * server.
 */
int
udp_stun_setup(struct dsock *d, const struct sockconf *sc)
{
	char	 why[128];
	int	 e;

	if (sc->type == NBMQ_STUN) {
		if (stunsrv_configure(&d->core, sc->stun_allow,
		    sc->stun_index_max, why, sizeof(why)) != 0) {
			log_warnx("socket %s: %s", d->core.name, why);
			return EINVAL;
		}
		return stunidx_start(d, sc->stun_index, sc->stun_index_prefix);
	}
	if (sc->stun_server != NULL &&
	    (e = udp_stun_server(d, sc->stun_server)) != 0)
		return e;
	if (d->core.stuncli == NULL)
		return 0;	/* neither stun_server nor name@ */
	if (sc->stun_server != NULL || sc->stun_name != NULL)
		stuncli_register(&d->core, sc->stun_name != NULL ?
		    sc->stun_name : "", daemon_now());
	return 0;
}

void
udp_close(struct dsock *d)
{
	if (d->dns_req != NULL) {
		evdns_getaddrinfo_cancel(d->dns_req);
		d->dns_req = NULL;
	}
	if (d->stun_dns_req != NULL) {
		evdns_getaddrinfo_cancel(d->stun_dns_req);
		d->stun_dns_req = NULL;
	}
	free(d->stun_host);
	d->stun_host = NULL;
	stunidx_free(d);
	if (d->ev_read)
		event_free(d->ev_read);
	if (d->ev_write)
		event_free(d->ev_write);
	d->ev_read = d->ev_write = NULL;
	if (d->fd != -1)
		close(d->fd);
	d->fd = -1;
}
