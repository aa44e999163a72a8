/* SPDX-License-Identifier: ISC */
/*
 * idle.c: nbmqbench's idle cost: a farm of raw v0.2.0 clients
 * holding 1,000 and 10,000 sessions on a fresh nbmqd, against a raw UDP
 * responder with as many peers.
 */
#include "bench.h"

/* ---- idle peers ---- */

static uint16_t	idle_port;

/*
 * Raw v0.2.0 clients, one UDP socket each: Connect, Connected(id), then a
 * Heartbeat(id) every second (spread over the second so the daemon's
 * receive buffer never sees one burst of 10,000).
 */
static void
farm_child(int unused)
{
	struct rlimit		 rl;
	struct sockaddr_in	 sin = { .sin_family = AF_INET };
	struct epoll_event	 evs[256];
	int			 cap, n = 0, ep, connected = 0;
	int			*fds;
	uint64_t		*ids;
	double			*tconn, t, tick0;
	uint8_t			 connect_frame[10] = { 0x01, 0x01 };
	long			 slot = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	cap = opt_peers[1];
	if ((rlim_t)cap + 64 > rl.rlim_cur)
		child_fail("RLIMIT_NOFILE %llu is too low for %d peers",
		    (unsigned long long)rl.rlim_cur, cap);
	fds = calloc((size_t)cap, sizeof(*fds));
	ids = calloc((size_t)cap, sizeof(*ids));
	tconn = calloc((size_t)cap, sizeof(*tconn));
	if (fds == NULL || ids == NULL || tconn == NULL)
		child_fail("calloc");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		child_fail("epoll_create1: %s", strerror(errno));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(idle_port);
	INC(sh->ready);
	tick0 = now();
	while (!LOAD(sh->stop)) {
		int	target = LOAD(sh->target), sends = 0, k;
		long	now_slot;

		/* New sockets, 500 Connects per 10 ms at most. */
		while (n < target && sends < 500) {
			struct epoll_event ev = { .events = EPOLLIN };
			int	fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK |
				    SOCK_CLOEXEC, 0);

			if (fd == -1 || connect(fd, (struct sockaddr *)&sin,
			    sizeof(sin)) == -1)
				child_fail("peer %d: socket/connect: %s", n,
				    strerror(errno));
			ev.data.u32 = (uint32_t)n;
			epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
			fds[n] = fd;
			send(fd, connect_frame, sizeof(connect_frame), 0);
			tconn[n] = now();
			n++;
			sends++;
		}
		/* Connects that were not answered within a second: again. */
		t = now();
		for (int i = 0; i < n && sends < 500; i++)
			if (ids[i] == 0 && t - tconn[i] > 1.0) {
				send(fds[i], connect_frame,
				    sizeof(connect_frame), 0);
				tconn[i] = t;
				sends++;
			}
		/* Heartbeats: socket i in the 10 ms slot i % 100. */
		now_slot = (long)((now() - tick0) * 100);
		for (; slot < now_slot; slot++) {
			for (int i = (int)(slot % 100); i < n; i += 100) {
				uint8_t	hb[10] = { 0x01, 0x04 };

				if (ids[i] == 0)
					continue;
				for (int b = 0; b < 8; b++)
					hb[2 + b] = (uint8_t)(ids[i] >>
					    (56 - 8 * b));
				if (send(fds[i], hb, sizeof(hb), 0) == 10)
					sh->hb_sent++;
			}
		}
		k = epoll_wait(ep, evs, 256, 5);
		for (int j = 0; j < k; j++) {
			int	i = (int)evs[j].data.u32;
			uint8_t	buf[600];
			ssize_t	len;

			while ((len = recv(fds[i], buf, sizeof(buf), 0)) > 0) {
				uint64_t id = 0;

				if (len < 10 || buf[0] != 0x01)
					continue;
				for (int b = 0; b < 8; b++)
					id = id << 8 | buf[2 + b];
				if (buf[1] == 0x02 && ids[i] == 0 && id != 0) {
					uint8_t	hb[10] = { 0x01, 0x04 };

					ids[i] = id;
					connected++;
					memcpy(hb + 2, buf + 2, 8);
					send(fds[i], hb, sizeof(hb), 0);
				} else if (buf[1] == 0x04)
					sh->hb_rcvd++;
				else if (buf[1] == 0x03) {
					sh->disc_rcvd++;
					if (id == ids[i] && ids[i] != 0) {
						/* dropped: connect again */
						ids[i] = 0;
						connected--;
						tconn[i] = 0;
					}
				}
			}
		}
		STORE(sh->connected, connected);
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static int64_t
idle_peers_now(void)
{
	nbmq_ctx	*ctx = nbmq_ctx_new(sockpath[2]);
	nbmq_socket	*s;
	int64_t		 v = -1;

	if (ctx == NULL)
		return -1;
	if ((s = nbmq_attach(ctx, "idle")) != NULL) {
		nbmq_getopt(s, NBMQ_OPT_PEERS, &v);
		nbmq_close(s);
	}
	nbmq_ctx_destroy(ctx);
	return v;
}

static uint16_t
free_udp_port(void)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd = socket(AF_INET, SOCK_DGRAM, 0);
	uint16_t		port;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sin, sizeof(sin));
	getsockname(fd, (struct sockaddr *)&sin, &len);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static void
idle_measure(struct res *r, pid_t target, pid_t farm, double secs)
{
	double	c0 = proc_cpu(target), f0 = proc_cpu(farm), t0 = now();
	uint64_t hs0 = sh->hb_sent, hr0 = sh->hb_rcvd;
	double	t1;

	sleep_s(secs);
	t1 = now();
	r->idle_cpu = 100 * (proc_cpu(target) - c0) / (t1 - t0);
	r->farm_cpu = 100 * (proc_cpu(farm) - f0) / (t1 - t0);
	r->rss_kib = (double)proc_rss_kib(target);
	r->hb_in = (double)(sh->hb_sent - hs0) / (t1 - t0);
	r->hb_out = (double)(sh->hb_rcvd - hr0) / (t1 - t0);
}

/*
 * The idle baseline: the least a process can do for the same traffic,
 * a bound v0.2.0 side in a few lines.  It answers Connect with
 * Connected(id) and each Heartbeat with one, recvmmsg/sendmmsg per wakeup,
 * and keeps no state.
 */
static void
responder_child(int unused)
{
	struct mmsghdr		 mm[BATCH], out[BATCH];
	struct iovec		 iov[BATCH], oiov[BATCH];
	struct sockaddr_in	 from[BATCH];
	static uint8_t		 bufs[BATCH][600], obufs[BATCH][10];
	uint16_t		 port;
	uint64_t		 next_id = 0x1000;
	int			 fd = udp_socket(&port);

	set_rcvtimeo(fd, 0.2);
	sh->port = port;
	STORE(sh->have_ep, 1);
	INC(sh->ready);
	while (!LOAD(sh->stop)) {
		int	n, k = 0;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			memset(&mm[i], 0, sizeof(mm[i]));
			mm[i].msg_hdr.msg_name = &from[i];
			mm[i].msg_hdr.msg_namelen = sizeof(from[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		if ((n = recvmmsg(fd, mm, BATCH, MSG_WAITFORONE, NULL)) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			uint8_t	*b = bufs[i];

			if (mm[i].msg_len < 10 || b[0] != 0x01)
				continue;
			obufs[k][0] = 0x01;
			if (b[1] == 0x01) {
				uint64_t id = ++next_id;

				obufs[k][1] = 0x02;
				for (int j = 0; j < 8; j++)
					obufs[k][2 + j] = (uint8_t)(id >>
					    (56 - 8 * j));
			} else if (b[1] == 0x04) {
				obufs[k][1] = 0x04;
				memcpy(obufs[k] + 2, b + 2, 8);
			} else
				continue;
			oiov[k].iov_base = obufs[k];
			oiov[k].iov_len = 10;
			memset(&out[k], 0, sizeof(out[k]));
			out[k].msg_hdr.msg_name = &from[i];
			out[k].msg_hdr.msg_namelen = mm[i].msg_hdr.msg_namelen;
			out[k].msg_hdr.msg_iov = &oiov[k];
			out[k].msg_hdr.msg_iovlen = 1;
			k++;
		}
		if (k > 0)
			sendmmsg(fd, out, (unsigned)k, 0);
	}
}

/*
 * 0 peers, then opt_peers[0], then opt_peers[1] raw clients against
 * `target` (listening on idle_port).  daemon: ask it how many peers are up.
 */
static int
idle_series(pid_t target, int daemon, struct res *zero, struct res *rows,
    const char *what)
{
	pid_t	farm;
	double	c0, t0;

	c0 = proc_cpu(target);
	t0 = now();
	sleep_s(2);
	zero->ok = 1;
	zero->reps = 1;
	zero->idle_cpu = 100 * (proc_cpu(target) - c0) / (now() - t0);
	zero->rss_kib = (double)proc_rss_kib(target);
	progress("%s, 0 peers: %.1f%% CPU, %.0f KiB", what, zero->idle_cpu,
	    zero->rss_kib);
	farm = spawn(farm_child, 0);
	if (wait_ready(1, 5) == -1)
		return -1;
	for (int i = 0; i < 2; i++) {
		struct res	*r = &rows[i];
		double		 end = now() + 30;

		r->peers = opt_peers[i];
		STORE(sh->target, opt_peers[i]);
		while (LOAD(sh->connected) < opt_peers[i]) {
			if (LOAD(sh->stop) || now() > end) {
				snprintf(sh->err, sizeof(sh->err),
				    "%d of %d peers connected within 30 s",
				    LOAD(sh->connected), opt_peers[i]);
				return -1;
			}
			sleep_s(0.01);
		}
		sleep_s(2.5);	/* every peer heartbeating, steady state */
		idle_measure(r, target, farm, opt_idle_secs);
		r->peers_seen = daemon ? (int)idle_peers_now() : -1;
		r->rss0_kib = zero->rss_kib;
		r->per_peer = (r->rss_kib - zero->rss_kib) * 1024 / r->peers;
		r->ok = 1;
		r->reps = 1;
		progress("; %d: %.1f%% CPU", r->peers, r->idle_cpu);
		if (daemon)
			progress(", %.0f KiB (%.0f B/peer)", r->rss_kib,
			    r->per_peer);
	}
	STORE(sh->stop, 1);
	reap_kids(5);
	progress("\n");
	return 0;
}

static void
idle_fail(struct res *rows, const char *why)
{
	for (int i = 0; i < 2; i++) {
		rows[i].peers = opt_peers[i];
		if (rows[i].ok)
			continue;
		snprintf(rows[i].err, sizeof(rows[i].err), "%s", why);
	}
	progress(" FAILED (%s)\n", why);
}

void
run_idle(void)
{
	char		conf[512];
	struct rlimit	rl;
	pid_t		resp;

	getrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_max < (rlim_t)opt_peers[1] + 64) {
		int	was = opt_peers[1];

		opt_peers[1] = (int)rl.rlim_max - 64;
		progress("  RLIMIT_NOFILE hard limit %llu: %d peers instead of "
		    "%d\n", (unsigned long long)rl.rlim_max, opt_peers[1], was);
	}

	/* The baseline: a raw responder. */
	shm_reset();
	resp = spawn(responder_child, 0);
	if (wait_ready(1, 5) == -1)
		idle_fail(idle_base, "responder did not start");
	else {
		idle_port = sh->port;
		if (idle_series(resp, 0, &idle_base0, idle_base,
		    "idle: raw responder") == -1)
			idle_fail(idle_base, sh->err);
	}
	STORE(sh->stop, 1);
	reap_kids(5);

	/* nbmqd: a fresh daemon with one configured, bound dealer. */
	shm_reset();
	idle_port = free_udp_port();
	snprintf(conf, sizeof(conf),
	    "# nbmqbench: idle cost.  Defaults but max_peers.\n"
	    "[daemon]\nlog_level = notice\n\n"
	    "[defaults]\npeer_heartbeat_ivl = 1\npeer_keepalive = 10\n\n"
	    "[socket idle]\ntype = dealer\nbind = 127.0.0.1:%u\n"
	    "max_peers = %d\n", idle_port, opt_peers[1] + 100);
	progress("idle: fresh nbmqd C");
	if (start_daemon(2, "c", conf) == -1) {
		idle_fail(idle_rows, "daemon C did not start");
		return;
	}
	sleep_s(0.5);
	if (idle_series(daemons[2], 1, &idle0, idle_rows, "") == -1)
		idle_fail(idle_rows, sh->err);
	STORE(sh->stop, 1);
	reap_kids(5);
	stop_daemon(2);
}
