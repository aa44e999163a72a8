/* SPDX-License-Identifier: ISC */
/*
 * apps.c: nbmqbench's applications on libnbmq, each a forked child:
 * the receivers, the sender, and the two ends of the ping-pong.
 */
#include "bench.h"

/* ---- nbmq applications ---- */

int	case_type, case_hwm;
/*
 * The encrypted cases attach to a socket configured for each (named as
 * the case): options set by one case's application (send_hwm 8 for 1 MiB)
 * and what its sender left in flight stay with the socket.
 */
int	case_secure;
char	case_id[16];
int	case_plain;	/* 1: coalesce = no (v0.2.0 framing on the
				   wire); 2: pacing = no as well */

static int	app_daemon;	/* the daemon of this child's socket */

static nbmq_socket *
app_socket(int daemon, int type, nbmq_ctx **ctxp)
{
	nbmq_ctx	*ctx;
	nbmq_socket	*s;

	app_daemon = daemon;
	if ((ctx = nbmq_ctx_new(sockpath[daemon])) == NULL)
		child_fail("nbmq_ctx_new: %s", strerror(errno));
	if (case_secure) {
		if ((s = nbmq_attach(ctx, case_id)) == NULL)
			child_fail("nbmq_attach: %s", nbmq_strerror(errno));
		*ctxp = ctx;
		return s;
	}
	if ((s = nbmq_socket_new(ctx, type)) == NULL)
		child_fail("nbmq_socket_new: %s", nbmq_strerror(errno));
	if (case_plain && nbmq_setopt(s, NBMQ_OPT_COALESCE, 0) == -1)
		child_fail("setopt coalesce: %s", nbmq_strerror(errno));
	if (case_plain == 2 && nbmq_setopt(s, NBMQ_OPT_PACING, 0) == -1)
		child_fail("setopt pacing: %s", nbmq_strerror(errno));
	*ctxp = ctx;
	return s;
}

static void
app_bind(nbmq_socket *s)
{
	char	ep[64];

	snprintf(ep, sizeof(ep), "%s:0", side_text(app_daemon));
	if (nbmq_bind(s, ep) == -1)
		child_fail("nbmq_bind: %s", nbmq_strerror(errno));
	if (nbmq_last_endpoint(s, sh->endpoint, sizeof(sh->endpoint)) == -1)
		child_fail("nbmq_last_endpoint: %s", nbmq_strerror(errno));
	STORE(sh->have_ep, 1);
}

static void
app_wait_peers(nbmq_socket *s, int64_t want)
{
	double	end = now() + 10;
	int64_t	peers = 0;

	while (now() < end && !LOAD(sh->stop)) {
		if (nbmq_getopt(s, NBMQ_OPT_PEERS, &peers) == -1)
			child_fail("getopt peers: %s", nbmq_strerror(errno));
		if (peers >= want)
			return;
		sleep_s(0.002);
	}
	child_fail("%lld of %lld peers within 10 s", (long long)peers,
	    (long long)want);
}

/* The receiving application: dealer/safe_dealer bound, or a dish. */
void
nbmq_rx_child(int idx)
{
	struct rxstat	*st = &sh->rx[idx];
	nbmq_ctx	*ctx;
	nbmq_socket	*s;
	nbmq_msg	*m;
	int		 type = case_type == NBMQ_RADIO ? NBMQ_DISH : case_type;
	double		 c0;

	s = app_socket(1, type, &ctx);
	if (type == NBMQ_DISH) {
		if (wait_flag(&sh->have_ep, 10) == -1)
			_exit(1);
		if (nbmq_connect(s, sh->endpoint) == -1)
			child_fail("dish connect: %s", nbmq_strerror(errno));
	} else if (case_secure)
		STORE(sh->have_ep, 1);	/* bound by the configuration */
	else
		app_bind(s);
	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 20);
	/*
	 * A configured socket outlives its applications: what the last
	 * repetition's sender left in flight waits for this one.
	 */
	while (case_secure && nbmq_recv(s, &m, NBMQ_DONTWAIT) == 0)
		nbmq_msg_free(m);
	c0 = child_go();
	while (!rx_stop(st->got, st->t_last)) {
		if (nbmq_recv(s, &m, 0) == -1) {
			if (errno == EAGAIN)
				continue;
			if (errno == ENOBUFS)	/* drops at recv_hwm: counted
						   by what never arrives */
				continue;
			child_fail("nbmq_recv: %s", nbmq_strerror(errno));
		}
		if (st->got == 0)
			st->t_first = now();
		st->got++;
		st->bytes += nbmq_msg_size(m);
		if (nbmq_msg_size(m) != (size_t)case_size)
			st->bad++;
		st->t_last = now();
		nbmq_msg_free(m);
	}
	st->cpu = cpu_self() - c0;
	STORE(st->done, 1);
	/* The parent reads the daemon's socket counters first. */
	for (double end = now() + 10; !LOAD(sh->release) && now() < end; )
		sleep_s(0.002);
	nbmq_close(s);
	nbmq_ctx_destroy(ctx);
}

void
nbmq_tx_child(int nrx)
{
	static uint8_t	*buf;
	nbmq_ctx	*ctx;
	nbmq_socket	*s;
	uint64_t	 sent = 0;
	double		 end, c0;

	if ((buf = calloc(1, (size_t)case_size + 8)) == NULL)
		child_fail("calloc");
	s = app_socket(0, case_type, &ctx);
	if (case_hwm > 0 && nbmq_setopt(s, NBMQ_OPT_SEND_HWM, case_hwm) == -1)
		child_fail("setopt send_hwm: %s", nbmq_strerror(errno));
	if (case_type == NBMQ_RADIO)
		app_bind(s);
	else if (case_secure) {
		if (wait_flag(&sh->have_ep, 10) == -1)
			_exit(1);
	} else {
		if (wait_flag(&sh->have_ep, 10) == -1)
			_exit(1);
		if (nbmq_connect(s, sh->endpoint) == -1)
			child_fail("connect %s: %s", sh->endpoint,
			    nbmq_strerror(errno));
	}
	app_wait_peers(s, nrx);
	nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 50);
	c0 = child_go();
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	while (now() < end && !LOAD(sh->stop)) {
		/* BATCH - 1 messages held, then one that writes them all. */
		int	flags = sent % BATCH == BATCH - 1 ? 0 : NBMQ_BATCH;

		if (case_size >= 8)
			memcpy(buf, &sent, 8);
		if (nbmq_send(s, buf, (size_t)case_size, flags) == -1) {
			if (errno == EAGAIN)
				continue;
			child_fail("nbmq_send: %s", nbmq_strerror(errno));
		}
		sent++;
	}
	/* The last run, if it ended held. */
	nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 10000);
	if (nbmq_flush(s, 0) == -1)
		child_fail("nbmq_flush: %s", nbmq_strerror(errno));
	sh->t_end = now();
	sh->tx_cpu = cpu_self() - c0;
	STORE(sh->sent, sent);
	STORE(sh->done, 1);
	if (case_type == NBMQ_SAFE_DEALER) {
		/* Wait for the receivers: give-ups are counted by then. */
		/*
		 * Polling give-ups also lets the library flush what the
		 * kernel did not take yet: an application that stops calling
		 * the library after its last send leaves up to a credit
		 * window of messages in the library (--idle-sender shows it).
		 */
		while (!LOAD(sh->stop) && !LOAD(sh->rx[0].done)) {
			if (!opt_idle_sender)
				nbmq_getopt(s, NBMQ_OPT_GIVEUPS, &sh->giveups);
			sleep_s(0.01);
		}
		nbmq_getopt(s, NBMQ_OPT_GIVEUPS, &sh->giveups);
	}
	nbmq_close(s);
	nbmq_ctx_destroy(ctx);
}

void
nbmq_echo_child(int unused)
{
	nbmq_ctx	*ctx;
	nbmq_socket	*s = app_socket(1, NBMQ_DEALER, &ctx);
	nbmq_msg	*m;

	app_bind(s);
	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 500);
	INC(sh->ready);
	while (!LOAD(sh->stop)) {
		struct iovec	 iov;

		if (nbmq_recv(s, &m, 0) == -1) {
			if (errno == EAGAIN && !LOAD(sh->done))
				continue;
			if (errno == EAGAIN)
				break;
			child_fail("echo recv: %s", nbmq_strerror(errno));
		}
		iov.iov_base = (void *)nbmq_msg_part(m, 0, &iov.iov_len);
		if (iov.iov_len == 1 && *(uint8_t *)iov.iov_base == STOP_BYTE) {
			nbmq_msg_free(m);
			break;
		}
		if (nbmq_sendv(s, &iov, 1, nbmq_msg_peer(m), 0) == -1)
			child_fail("echo send: %s", nbmq_strerror(errno));
		nbmq_msg_free(m);
	}
	nbmq_close(s);
	nbmq_ctx_destroy(ctx);
}

void
nbmq_ping_child(int unused)
{
	nbmq_ctx	*ctx;
	nbmq_socket	*s = app_socket(0, NBMQ_DEALER, &ctx);
	nbmq_msg	*m;
	uint8_t		 buf[64] = { 0 };
	uint32_t	 seq = 0, k = 0;
	double		 end, t;

	if (wait_flag(&sh->have_ep, 10) == -1)
		_exit(1);
	if (nbmq_connect(s, sh->endpoint) == -1)
		child_fail("connect: %s", nbmq_strerror(errno));
	app_wait_peers(s, 1);
	nbmq_setopt(s, NBMQ_OPT_RCVTIMEO, 200);
	nbmq_setopt(s, NBMQ_OPT_SNDTIMEO, 1000);
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	sh->t_start = now();
	end = sh->t_start + opt_secs;
	for (uint32_t i = 0; k < MAXRTT && (t = now()) < end; i++) {
		seq++;
		memcpy(buf, &seq, 4);
		if (nbmq_send(s, buf, sizeof(buf), 0) == -1)
			child_fail("ping send: %s", nbmq_strerror(errno));
		for (;;) {
			const uint8_t	*p;
			size_t		 len;
			uint32_t	 back;

			if (nbmq_recv(s, &m, 0) == -1) {	/* blocks */
				if (errno != EAGAIN)
					child_fail("ping recv: %s",
					    nbmq_strerror(errno));
				sh->lost++;
				break;
			}
			p = nbmq_msg_part(m, 0, &len);
			memcpy(&back, p, 4);
			nbmq_msg_free(m);
			if (len != sizeof(buf) || back != seq)
				continue;
			if (i >= 200)		/* warm-up */
				sh->rtt[k++] = now() - t;
			break;
		}
	}
	sh->nrtt = k;
	sh->t_end = now();
	STORE(sh->done, 1);
	buf[0] = STOP_BYTE;
	nbmq_send(s, buf, 1, 0);
	nbmq_close(s);
	nbmq_ctx_destroy(ctx);
}
