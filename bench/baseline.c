/* SPDX-License-Identifier: ISC */
/*
 * baseline.c: nbmqbench's raw-socket baselines, what nbmq is set
 * against: UDP one datagram per syscall, sendmmsg/recvmmsg, GSO/GRO and
 * 500-byte batches; a Unix stream socket; UDP ping-pong, direct and
 * through two relays.
 */
#include "bench.h"

/* ---- raw UDP ---- */

int
udp_socket(uint16_t *port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd, v;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		child_fail("socket: %s", strerror(errno));
	sin.sin_addr.s_addr = side_addr(my_side());
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		child_fail("bind: %s", strerror(errno));
	v = UDP_RCVBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	v = UDP_SNDBUF;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)) == -1)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	if (port != NULL)
		*port = ntohs(sin.sin_port);
	return fd;
}

static void
udp_connect_port(int fd, uint16_t port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };

	sin.sin_addr.s_addr = side_addr(1);	/* the receiver's, the echo's */
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		child_fail("connect: %s", strerror(errno));
}

void
set_rcvtimeo(int fd, double s)
{
	struct timeval	tv = { .tv_sec = (time_t)s,
			    .tv_usec = (suseconds_t)((s - (time_t)s) * 1e6) };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* The case's receive deadline: everything came, or drain/silence. */
double	 drain_s = 2.0, silence_s = 0.5;

int
rx_stop(uint64_t got, double t_last)
{
	double	t;

	if (LOAD(sh->stop))
		return 1;
	if (!LOAD(sh->done))
		return 0;
	t = now();
	if (got >= LOAD(sh->sent))
		return 1;
	if (t > sh->t_end + drain_s)
		return 1;
	if (t - (t_last > sh->t_end ? t_last : sh->t_end) > silence_s)
		return 1;
	return 0;
}

int	case_size, case_batch;
int	case_gso;	/* raw UDP with UDP_SEGMENT and UDP_GRO */

void
udp_rx_child(int idx)
{
	struct rxstat	*st = &sh->rx[idx];
	struct mmsghdr	 mm[BATCH];
	struct iovec	 iov[BATCH];
	static uint8_t	 bufs[BATCH][2048];
	uint16_t	 port;
	int		 fd;
	double		 c0;

	enter_side(1);
	fd = udp_socket(&port);
	set_rcvtimeo(fd, 0.02);
	if (case_gso) {
		int	one = 1;

		if (setsockopt(fd, SOL_UDP, UDP_GRO, &one, sizeof(one)) == -1)
			child_fail("UDP_GRO: %s", strerror(errno));
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = bufs[i];
		iov[i].iov_len = sizeof(bufs[i]);
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	sh->port = port;
	STORE(sh->have_ep, 1);
	c0 = child_go();
	while (!rx_stop(st->got, st->t_last)) {
		int	n;

		if (case_gso) {
			static uint8_t	big[65536];
			ssize_t		r = recv(fd, big, sizeof(big), 0);

			n = r > 0 ? (int)((r + case_size - 1) / case_size) : -1;
		} else if (case_batch > 1)
			n = recvmmsg(fd, mm, BATCH, MSG_WAITFORONE, NULL);
		else
			n = recv(fd, bufs[0], sizeof(bufs[0]), 0) >= 0 ? 1 : -1;
		if (n <= 0)
			continue;
		if (st->got == 0)
			st->t_first = now();
		st->got += (uint64_t)n;
		st->bytes += (uint64_t)n * (uint64_t)case_size;
		st->t_last = now();
	}
	st->cpu = cpu_self() - c0;
	STORE(st->done, 1);
}

void
udp_tx_child(int unused)
{
	struct mmsghdr	 mm[BATCH];
	struct iovec	 iov[BATCH];
	static uint8_t	 buf[2048];
	int		 fd;
	uint64_t	 sent = 0;
	double		 end, c0;

	enter_side(0);
	fd = udp_socket(NULL);
	if (wait_flag(&sh->have_ep, 10) == -1)
		_exit(1);
	udp_connect_port(fd, sh->port);
	if (case_gso) {
		int	seg = case_size;

		if (setsockopt(fd, SOL_UDP, UDP_SEGMENT, &seg, sizeof(seg)) ==
		    -1)
			child_fail("UDP_SEGMENT: %s", strerror(errno));
	}
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = (size_t)case_size;
		memset(&mm[i], 0, sizeof(mm[i]));
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	c0 = child_go();
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	while (now() < end) {
		int	n;

		if (case_gso) {
			static uint8_t	big[BATCH * 2048];

			n = send(fd, big, (size_t)case_size * BATCH, 0) >= 0 ?
			    BATCH : -1;
		} else if (case_batch > 1)
			n = sendmmsg(fd, mm, BATCH, 0);
		else
			n = send(fd, buf, (size_t)case_size, 0) >= 0 ? 1 : -1;
		if (n > 0)
			sent += (uint64_t)n;
	}
	sh->t_end = now();
	sh->tx_cpu = cpu_self() - c0;
	STORE(sh->sent, sent);
	STORE(sh->done, 1);
}

/* ---- Unix stream ---- */

int	unix_pair[2] = { -1, -1 };

void
unix_rx_child(int idx)
{
	struct rxstat	*st = &sh->rx[0];
	static uint8_t	 buf[256 << 10];
	ssize_t		 n;
	double		 c0;

	close(unix_pair[0]);
	c0 = child_go();
	while ((n = read(unix_pair[1], buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			child_fail("unix read: %s", strerror(errno));
		}
		if (st->bytes == 0)
			st->t_first = now();
		st->bytes += (uint64_t)n;
		st->t_last = now();
	}
	st->got = st->bytes / (uint64_t)case_size;
	st->cpu = cpu_self() - c0;
	STORE(st->done, 1);
}

void
unix_tx_child(int unused)
{
	static uint8_t	 buf[64];
	struct iovec	 iov[BATCH];
	uint64_t	 bytes = 0;
	double		 end, c0;
	ssize_t		 n;

	close(unix_pair[1]);
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = (size_t)case_size;
	}
	c0 = child_go();
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	while (now() < end) {
		if (case_batch > 1)
			n = writev(unix_pair[0], iov, BATCH);
		else
			n = write(unix_pair[0], buf, (size_t)case_size);
		if (n > 0)
			bytes += (uint64_t)n;
	}
	sh->t_end = now();
	sh->tx_cpu = cpu_self() - c0;
	STORE(sh->sent, bytes / (uint64_t)case_size);
	STORE(sh->done, 1);
	close(unix_pair[0]);
}

/* ---- ping-pong, raw UDP ---- */

int	case_relay;	/* udppp4: ping through the relays */

/*
 * udppp: each end on a CPU of its own.  Left to the scheduler, the two
 * ends sometimes share one CPU and a round trip is 4 us without any
 * cross-CPU wake-up, sometimes not and it is 50 us: the median of three
 * flipped between the two from run to run.  (The figure for this
 * baseline, ~26 us, is the cross-CPU one.)  nbmq's processes are never
 * pinned; udppp4 is not either.
 */
static void
pin_cpu(int cpu)
{
	cpu_set_t	set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

/*
 * The next datagram for an echo or a relay, in buf; -1 when the case is
 * over (the parent stops it, or the pinger is done and the line idle).
 */
static ssize_t
udp_serve_recv(int fd, uint8_t *buf, size_t size, struct sockaddr_in *from)
{
	socklen_t	flen;
	ssize_t		n;

	while (!LOAD(sh->stop)) {
		flen = sizeof(*from);
		n = recvfrom(fd, buf, size, 0, (struct sockaddr *)from, &flen);
		if (n >= 0)
			return n;
		if (LOAD(sh->done))
			break;
	}
	return -1;
}

void
udp_echo_child(int unused)
{
	struct sockaddr_in	 from;
	uint8_t			 buf[2048];
	uint16_t		 port;
	int			 fd;
	ssize_t			 n;

	enter_side(1);
	fd = udp_socket(&port);
	if (!case_relay)
		pin_cpu(0);
	set_rcvtimeo(fd, 0.5);
	sh->port = port;
	STORE(sh->have_ep, 1);
	INC(sh->ready);
	while ((n = udp_serve_recv(fd, buf, sizeof(buf), &from)) >= 0) {
		if (n == 1 && buf[0] == STOP_BYTE)
			break;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&from,
		    sizeof(from));
	}
}

/*
 * udppp4: a relay on the path of raw UDP ping-pong, as a daemon is on
 * nbmq's: relay 0 forwards from the pinger to relay 1, relay 1 to the
 * echo; answers go back the same way.  Four processes, four wakeups each
 * way, no protocol at all.
 */
void
udp_relay_child(int idx)
{
	struct sockaddr_in	 from, up = { 0 };
	struct sockaddr_in	 down = { .sin_family = AF_INET };
	uint8_t			 buf[2048];
	uint16_t		 port;
	int			 fd = udp_socket(&port), have_up = 0;
	ssize_t			 n;

	if (wait_flag(idx == 0 ? &sh->have_relay[1] : &sh->have_ep, 10) == -1)
		_exit(1);
	down.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	down.sin_port = htons(idx == 0 ? sh->relay_port[1] : sh->port);
	set_rcvtimeo(fd, 0.5);
	sh->relay_port[idx] = port;
	STORE(sh->have_relay[idx], 1);
	INC(sh->ready);
	while ((n = udp_serve_recv(fd, buf, sizeof(buf), &from)) >= 0) {
		if (from.sin_port == down.sin_port) {
			if (have_up)
				sendto(fd, buf, (size_t)n, 0,
				    (struct sockaddr *)&up, sizeof(up));
			continue;
		}
		up = from;
		have_up = 1;
		sendto(fd, buf, (size_t)n, 0, (struct sockaddr *)&down,
		    sizeof(down));
		if (n == 1 && buf[0] == STOP_BYTE)
			break;
	}
}

void
udp_ping_child(int unused)
{
	uint8_t		 buf[2048];
	int		 fd;
	uint32_t	 seq = 0, k = 0;
	double		 end, t;
	ssize_t		 n;

	enter_side(0);
	fd = udp_socket(NULL);
	if (wait_flag(case_relay ? &sh->have_relay[0] : &sh->have_ep, 10) == -1)
		_exit(1);
	udp_connect_port(fd, case_relay ? sh->relay_port[0] : sh->port);
	if (!case_relay)
		pin_cpu(1);
	set_rcvtimeo(fd, 0.2);
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	memset(buf, 0, sizeof(buf));
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	for (uint32_t i = 0; k < MAXRTT && (t = now()) < end; i++) {
		seq++;
		memcpy(buf, &seq, 4);
		send(fd, buf, 64, 0);
		for (;;) {
			uint32_t back;

			n = recv(fd, buf, sizeof(buf), 0);
			if (n < 0) {
				sh->lost++;
				break;
			}
			memcpy(&back, buf, 4);
			if (back != seq)
				continue;	/* a late answer */
			if (i >= 200)		/* warm-up */
				sh->rtt[k++] = now() - t;
			break;
		}
	}
	sh->nrtt = k;
	sh->t_end = now();
	buf[0] = STOP_BYTE;
	for (int i = 0; i < 3; i++)
		send(fd, buf, 1, 0);
	STORE(sh->done, 1);
}
