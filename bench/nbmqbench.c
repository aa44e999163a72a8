/* SPDX-License-Identifier: ISC */
/*
 * nbmqbench: nbmq measured against raw-socket baselines, in one run
 * (`make bench`).
 *
 *   nbmqbench [--json] [--json-file FILE] [--reps N] [--secs S]
 *             [--idle-secs S] [--peers N,M] [--drain S] [--only ID,...]
 *             [--nbmqd PATH] [--keep] [--idle-sender] [--list]
 *
 * Baselines (one sender process, one receiver process, loopback):
 *   raw UDP 64 B one datagram per syscall, sendmmsg/recvmmsg batches of 64,
 *   one GSO send of 64 datagrams read back with GRO (what nbmqd does),
 *   500 B datagrams in batches of 64 (what nbmq's 500-byte frames could
 *   carry: 466 payload bytes each), UDP ping-pong (blocking), a Unix stream
 *   socket (64 B messages, one write each, and 64 per writev).
 *
 * nbmq: two nbmqd processes on private IPC sockets in a temporary
 * directory, on their defaults; applications in forked processes on
 * libnbmq, the sender on daemon A and the receiver on daemon B (app ->
 * Unix socket -> daemon -> UDP -> daemon -> Unix socket -> app).  dealer
 * 64 B, 466 B, 4 KiB, 1 MiB; safe_dealer 64 B and 1 MiB; radio to 4 dishes;
 * ping-pong 64 B with both applications blocking in nbmq_recv.  The
 * throughput senders (dealer, safe_dealer, radio) send with NBMQ_BATCH
 * but every 64th message, which goes without it: the library writes 64
 * messages (or 64 KiB, whichever comes first) per syscall, as an
 * application streaming messages would; then nbmq_flush() after the last.
 * Ping-pong is not batched: each message is one syscall.  Idle cost:
 * a raw UDP responder (the baseline), then a third, fresh nbmqd, each with
 * 1,000 and 10,000 connected idle peers: raw v0.2.0 clients in this
 * program, one UDP socket each (Connect, Connected(id), then a
 * Heartbeat(id) every second).
 *
 * Throughput cases send for --secs seconds.  The receiver counts what
 * arrives until everything did, or --drain seconds after the sender
 * finished (2 s, 5 s for 1 MiB), or after half a second of silence once
 * the sender finished (1 s for 1 MiB; safe_dealer: the deadline only).
 * msgs/s is received messages over the time from the first send to the
 * last receipt; "recv %" is received over what the sender's library
 * accepted: losses are reported, never hidden, and attributed: kernel drops
 * on daemon B's UDP sockets (/proc/net/udp) and the daemons' own drop
 * counters by reason (IPC_CTL_STATS, read-only).  CPU is utime+stime of
 * every process over the case (/proc/PID/stat for the daemons, getrusage
 * in the applications); "CPU us per message" adds them all up.
 *
 * Every case runs once per round, baselines and nbmq interleaved, for
 * --reps rounds; the figures are medians over the rounds.  Every wait has
 * a deadline; children that overrun are killed.
 *
 * A file a job (bench.h): this one the cases, running them, and main;
 * proc.c the children, /proc and the daemons' counters; baseline.c the
 * raw-socket baselines; apps.c the applications on libnbmq; daemons.c the
 * nbmqd processes; idle.c the idle cost; report.c the output.
 */
#include "bench.h"

/* ---- shared state ---- */

struct shm	*sh;

/* ---- options ---- */

int		 opt_json, opt_keep, opt_reps = 3;
double		 opt_secs = 1.0;
const char	*opt_only, *opt_json_file, *opt_nbmqd;
int		 opt_peers[2] = { 1000, 10000 };
double		 opt_idle_secs = 5;
static double		 opt_drain;	/* 0: per case (2 s, 5 s for 1 MiB) */
int		 opt_idle_sender;	/* safe: no library call after
						   the last send */

/* ---- results ---- */


#define NOTE_BATCH	"sender: NBMQ_BATCH but every 64th message, so 64 " \
			"messages per write"

struct res results[] = {
	{ .id = "udp1", .label = "raw UDP 64 B, 1 datagram per syscall",
	  .kind = R_THRU, .size = 64, .nrx = 1 },
	{ .id = "udpmmsg", .label = "raw UDP 64 B, sendmmsg/recvmmsg x64",
	  .kind = R_THRU, .size = 64, .nrx = 1 },
	{ .id = "udpgso", .label = "raw UDP 64 B, GSO send/GRO read x64",
	  .kind = R_THRU, .size = 64, .nrx = 1,
	  .note = "one send() of 64 datagrams (UDP_SEGMENT), reads of whole "
	  "runs (UDP_GRO): what nbmqd does; on loopback 64 datagrams cross "
	  "the stack as one" },
	{ .id = "udp500", .label = "raw UDP 500 B, sendmmsg/recvmmsg x64",
	  .kind = R_THRU, .size = 500, .nrx = 1,
	  .note = "MB/s counts 466 B per datagram: an nbmq frame's payload" },
	{ .id = "udppp", .label = "raw UDP ping-pong 64 B (blocking)",
	  .kind = R_LAT, .size = 64, .nrx = 1,
	  .note = "each end pinned to its own CPU (unpinned it flips between "
	  "4 us on one CPU and 50 us across two)" },
	{ .id = "udppp4", .label = "raw UDP ping-pong via 2 relays",
	  .kind = R_LAT, .size = 64, .nrx = 1,
	  .note = "4 processes as nbmq has (pinger, relay, relay, echo), "
	  "blocking; no protocol: the cost of the process hops alone" },
	{ .id = "unix1", .label = "Unix stream 64 B, 1 write each",
	  .kind = R_THRU, .size = 64, .nrx = 1 },
	{ .id = "unixv", .label = "Unix stream 64 B, 64 per writev",
	  .kind = R_THRU, .size = 64, .nrx = 1 },
	{ .id = "zmq64", .label = "libzmq DEALER tcp 64 B",
	  .kind = R_THRU, .size = 64, .nrx = 1,
	  .note = "DEALER to DEALER, blocking sends at the default HWM "
	  "(1,000); reliable (tcp)" },
	{ .id = "enetrel64", .label = "ENet reliable 64 B",
	  .kind = R_THRU, .size = 64, .nrx = 1,
	  .note = "host serviced every 64 packets, at most 1,000 unacked" },
	{ .id = "enetunrel64", .label = "ENet unreliable 64 B",
	  .kind = R_THRU, .size = 64, .nrx = 1,
	  .note = "unsequenced; host serviced every 64 packets" },
	{ .id = "zmqpp", .label = "libzmq DEALER tcp ping-pong 64 B",
	  .kind = R_LAT, .size = 64, .nrx = 1 },
	{ .id = "enetpp", .label = "ENet reliable ping-pong 64 B",
	  .kind = R_LAT, .size = 64, .nrx = 1 },
	{ .id = "dealer64", .label = "dealer 64 B", .kind = R_THRU, .nbmq = 1,
	  .size = 64, .nrx = 1, .base = "udpmmsg", .base2 = "udp1",
	  .rivals = "zmq64,enetrel64,enetunrel64", .note = NOTE_BATCH },
	{ .id = "dealer64p", .label = "dealer 64 B, v0.2.0 framing",
	  .kind = R_THRU, .nbmq = 1, .size = 64, .nrx = 1, .base = "udpmmsg",
	  .base2 = "udp1", .note = "coalesce = no on both sockets: one "
	  "datagram per message, as to a v0.2.0 peer; Slow (pacing = yes) "
	  "still negotiated; " NOTE_BATCH },
	{ .id = "dealer64v", .label = "dealer 64 B, exactly v0.2.0",
	  .kind = R_THRU, .nbmq = 1, .size = 64, .nrx = 1, .base = "udpmmsg",
	  .base2 = "udp1", .note = "coalesce = no, pacing = no on both "
	  "sockets: nothing but v0.2.0 on the wire, no flow control; "
	  NOTE_BATCH },
	{ .id = "dealer466", .label = "dealer 466 B (1 frame)", .kind = R_THRU,
	  .nbmq = 1, .size = 466, .nrx = 1, .base = "udp500",
	  .note = NOTE_BATCH },
	{ .id = "dealer4k", .label = "dealer 4 KiB", .kind = R_THRU, .nbmq = 1,
	  .size = 4096, .nrx = 1, .base = "udp500", .base_mb = 1,
	  .note = "sender: NBMQ_BATCH, so 16 messages (64 KiB) per write" },
	{ .id = "dealer1m", .label = "dealer 1 MiB", .kind = R_THRU, .nbmq = 1,
	  .size = 1 << 20, .nrx = 1, .base = "udp500", .base_mb = 1,
	  .note = "send_hwm 8 on the sender (see README); NBMQ_BATCH holds "
	  "nothing this large" },
	{ .id = "dealer1mp", .label = "dealer 1 MiB, v0.2.0 framing",
	  .kind = R_THRU, .nbmq = 1, .size = 1 << 20, .nrx = 1,
	  .base = "udp500", .base_mb = 1, .note = "coalesce = no: 500-byte "
	  "frames, Slow on; send_hwm 8 on the sender" },
	{ .id = "dealer64s", .label = "dealer 64 B, encrypted (sodium)",
	  .kind = R_THRU, .nbmq = 1, .size = 64, .nrx = 1, .base = "udpmmsg",
	  .base2 = "dealer64", .note = "a socket configured in both daemons "
	  "with encryptor = sodium, the applications attached to it by "
	  "name; vs dealer64: the cost of encryption; " NOTE_BATCH },
	{ .id = "dealer1ms", .label = "dealer 1 MiB, encrypted (sodium)",
	  .kind = R_THRU, .nbmq = 1, .size = 1 << 20, .nrx = 1,
	  .base = "udp500", .base_mb = 1, .base2 = "dealer1m",
	  .note = "as dealer64s; send_hwm 8 on the sender" },
	{ .id = "safe64", .label = "safe_dealer 64 B", .kind = R_THRU,
	  .nbmq = 1, .size = 64, .nrx = 1, .base = "udpmmsg", .base2 = "udp1",
	  .rivals = "zmq64,enetrel64", .note = NOTE_BATCH },
	{ .id = "safe64h", .label = "safe_dealer 64 B, send_hwm 10,000",
	  .kind = R_THRU, .nbmq = 1, .size = 64, .nrx = 1, .base = "udpmmsg",
	  .base2 = "safe64", .note = "send_hwm 10,000 on the sender, the "
	  "receiver's recv_hwm at its 1,000: the receiver's window (PROTOCOL.md "
	  "4.7) holds the sender; " NOTE_BATCH },
	{ .id = "safe1m", .label = "safe_dealer 1 MiB", .kind = R_THRU,
	  .nbmq = 1, .size = 1 << 20, .nrx = 1, .base = "udp500", .base_mb = 1,
	  .note = "send_hwm 8 on the sender (see README); NBMQ_BATCH holds "
	  "nothing this large" },
	{ .id = "radio", .label = "radio 64 B to 4 dishes (per dish)",
	  .kind = R_THRU, .nbmq = 1, .size = 64, .nrx = 4, .base = "udpmmsg",
	  .note = NOTE_BATCH },
	{ .id = "pp", .label = "ping-pong 64 B (blocking nbmq_recv)",
	  .kind = R_LAT, .nbmq = 1, .size = 64, .nrx = 1, .base = "udppp",
	  .base2 = "udppp4", .rivals = "zmqpp,enetpp",
	  .note = "not batched: one sendmsg per message, each side blocking "
	  "in nbmq_recv" },
	{ .id = "idle", .label = "idle peers", .kind = R_IDLE, .nbmq = 1 },
};
#define NRESULTS	(int)(sizeof(results) / sizeof(results[0]))
const int	nresults = NRESULTS;		/* report.c's */

/* idle has two rows: 1,000 and 10,000 peers */
struct res	 idle_rows[2];
struct res	 idle0;		/* the daemon with no peer */
struct res	 idle_base[2], idle_base0;	/* the raw responder */

struct res *
res_by_id(const char *id)
{
	for (int i = 0; i < NRESULTS; i++)
		if (strcmp(results[i].id, id) == 0)
			return &results[i];
	return NULL;
}

int
wanted(const char *id)
{
	const char	*p;
	size_t		 n = strlen(id);

	if (opt_only == NULL)
		return 1;
	for (p = opt_only; (p = strstr(p, id)) != NULL; p += n)
		if ((p == opt_only || p[-1] == ',') &&
		    (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

static int
cmpd(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
median(const double *v, int n)
{
	double	t[MAXREPS];

	if (n <= 0)
		return 0;
	memcpy(t, v, sizeof(double) * (size_t)n);
	qsort(t, (size_t)n, sizeof(double), cmpd);
	return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static void
finish(struct res *r)
{
	double	t[MAXREPS];
	int	n = r->reps;

	if (n == 0)
		return;
	r->rx_rate[0] = median(r->rx_rate, n);
	r->tx_rate[0] = median(r->tx_rate, n);
	r->pct[0] = median(r->pct, n);
	r->mbps[0] = median(r->mbps, n);
	r->cpu_a[0] = median(r->cpu_a, n);
	r->cpu_b[0] = median(r->cpu_b, n);
	r->cpu_tx[0] = median(r->cpu_tx, n);
	r->cpu_rx[0] = median(r->cpu_rx, n);
	r->p50[0] = median(r->p50, n);
	r->p99[0] = median(r->p99, n);
	r->minpct[0] = median(r->minpct, n);
	r->us_msg[0] = median(r->us_msg, n);
	/* the totals over every repetition */
	for (int i = 1; i < n; i++) {
		r->sent[0] += r->sent[i];
		r->got[0] += r->got[i];
		r->lost[0] += r->lost[i];
		r->giveups[0] += r->giveups[i];
		r->kdrop_b[0] += r->kdrop_b[i];
	}
	(void)t;
}

/* ---- running a case ---- */

void
shm_reset(void)
{
	memset(sh, 0, offsetof(struct shm, rtt));
}

static void
case_error(struct res *r, const char *what)
{
	r->ok = 0;
	snprintf(r->err, sizeof(r->err), "%s: %.200s", what,
	    sh->err[0] ? sh->err : "a child failed");
	progress(" FAILED (%s)", r->err);
}

/* One repetition of a throughput case with `nrx` receivers. */
static int
run_thru(struct res *r, void (*rx)(int), void (*tx)(int), int nrx,
    int tx_first)
{
	double	ca0, cb0, ca1, cb1, t0, t1, pctmin = 100, rate = 0;
	int	rep = r->reps, bad;
	uint64_t got = 0, bytes = 0;
	double	 t_last = 0, rxcpu = 0;
	struct dstats d0[2], d1[2];

	shm_reset();
	if (tx_first)
		spawn(tx, nrx);
	for (int i = 0; i < nrx; i++)
		spawn(rx, i);
	if (!tx_first)
		spawn(tx, nrx);
	if (unix_pair[0] != -1) {	/* the children hold the ends now */
		close(unix_pair[0]);
		close(unix_pair[1]);
		unix_pair[0] = unix_pair[1] = -1;
	}
	if (wait_ready(nrx + 1, 15) == -1) {
		STORE(sh->stop, 1);
		reap_kids(3);
		case_error(r, "setup");
		return -1;
	}
	if (r->nbmq)
		for (int k = 0; k < 2; k++)
			daemon_stats(k, &d0[k]);
	ca0 = daemons[0] ? proc_cpu(daemons[0]) : 0;
	cb0 = daemons[1] ? proc_cpu(daemons[1]) : 0;
	t0 = now();
	STORE(sh->go, 1);
	/* Bounded: sending, the drain deadline, and some slack. */
	for (int i = 0; i < nrx; i++)
		while (!LOAD(sh->rx[i].done) && !LOAD(sh->stop) &&
		    now() < t0 + opt_secs + drain_s + 10)
			sleep_s(0.002);
	t1 = now();
	ca1 = daemons[0] ? proc_cpu(daemons[0]) : 0;
	cb1 = daemons[1] ? proc_cpu(daemons[1]) : 0;
	if (r->nbmq) {
		r->kdrop_b[rep] = proc_udp_drops(daemons[1]);
		for (int k = 0; k < 2; k++) {
			daemon_stats(k, &d1[k]);
			/* sum the differences over repetitions */
			if (rep == 0) {
				r->dsum[k][0] = d0[k];
				r->dsum[k][1] = d1[k];
			} else if (d0[k].ok && d1[k].ok) {
				for (int j = 0; j < NDROPS; j++)
					r->dsum[k][1].drops[j] +=
					    d1[k].drops[j] - d0[k].drops[j];
			} else
				r->dsum[k][1].ok = 0;
			drops_text(&r->dsum[k][0], &r->dsum[k][1],
			    r->ddrops[k], sizeof(r->ddrops[k]));
		}
	}
	STORE(sh->release, 1);
	if (!LOAD(sh->done))
		STORE(sh->stop, 1);
	bad = reap_kids(5);
	if (bad || sh->err[0] || !LOAD(sh->done)) {
		case_error(r, "run");
		return -1;
	}
	for (int i = 0; i < nrx; i++) {
		struct rxstat	*st = &sh->rx[i];
		double		 p = sh->sent ? 100.0 * (double)st->got /
				    (double)sh->sent : 0;
		double		 span = st->t_last - sh->t_start;

		if (p < pctmin)
			pctmin = p;
		got += st->got;
		bytes += st->bytes;
		rxcpu += st->cpu;
		if (st->t_last > t_last)
			t_last = st->t_last;
		if (span > 0)
			rate += (double)st->got / span;
		if (st->bad)
			progress(" [%llu messages of a wrong size]",
			    (unsigned long long)st->bad);
	}
	r->rx_rate[rep] = rate / nrx;
	r->tx_rate[rep] = (double)sh->sent / (sh->t_end - sh->t_start);
	r->pct[rep] = sh->sent ? 100.0 * (double)got / nrx / (double)sh->sent : 0;
	r->minpct[rep] = pctmin;
	r->mbps[rep] = t_last > sh->t_start ? (double)bytes / nrx /
	    (t_last - sh->t_start) / 1e6 : 0;
	if (strcmp(r->id, "udp500") == 0)	/* payload an nbmq frame carries */
		r->mbps[rep] = r->rx_rate[rep] * FRAME_PAYLOAD / 1e6;
	r->cpu_a[rep] = 100 * (ca1 - ca0) / (t1 - t0);
	r->cpu_b[rep] = 100 * (cb1 - cb0) / (t1 - t0);
	r->cpu_tx[rep] = 100 * sh->tx_cpu / (sh->t_end - sh->t_start);
	r->cpu_rx[rep] = t_last > sh->t_start ?
	    100 * rxcpu / nrx / (t_last - sh->t_start) : 0;
	r->sent[rep] = sh->sent;
	r->got[rep] = got / (uint64_t)nrx;
	/* Every process's CPU, daemons included, per message received. */
	r->us_msg[rep] = got ? 1e6 * ((ca1 - ca0) + (cb1 - cb0) + sh->tx_cpu +
	    rxcpu) / (double)got : 0;
	r->giveups[rep] = sh->giveups;
	r->reps++;
	return 0;
}

static int
run_lat(struct res *r, void (*srv)(int), void (*cli)(int))
{
	int	rep = r->reps;
	double	t0;

	shm_reset();
	spawn(srv, 0);
	if (case_relay) {
		spawn(udp_relay_child, 1);
		spawn(udp_relay_child, 0);
	}
	spawn(cli, 0);
	if (wait_ready(case_relay ? 4 : 2, 15) == -1) {
		STORE(sh->stop, 1);
		reap_kids(3);
		case_error(r, "setup");
		return -1;
	}
	t0 = now();
	STORE(sh->go, 1);
	while (!LOAD(sh->done) && !LOAD(sh->stop) && now() < t0 + opt_secs + 10)
		sleep_s(0.005);
	if (!LOAD(sh->done))
		STORE(sh->stop, 1);
	if (reap_kids(3) || sh->err[0] || sh->nrtt == 0) {
		case_error(r, "run");
		return -1;
	}
	qsort(sh->rtt, sh->nrtt, sizeof(double), cmpd);
	r->p50[rep] = sh->rtt[sh->nrtt / 2] * 1e6;
	r->p99[rep] = sh->rtt[(size_t)sh->nrtt * 99 / 100] * 1e6;
	r->rx_rate[rep] = sh->nrtt / (sh->t_end - sh->t_start);
	r->lost[rep] = sh->lost;
	r->got[rep] = sh->nrtt;
	r->reps++;
	return 0;
}

/* ---- main ---- */

static void
usage(void)
{
	fprintf(stderr, "usage: nbmqbench [--json] [--json-file FILE] "
	    "[--reps N] [--secs S]\n"
	    "                 [--idle-secs S] [--peers N,M] [--drain S] "
	    "[--only ID,...]\n"
	    "                 [--nbmqd PATH] [--keep] [--idle-sender] "
	    "[--veth] [--list]\n");
	exit(2);
}

static void
run_case(const char *id, int round)
{
	struct res	*r = res_by_id(id);
	int		 nrx = r->nrx;

	if (!wanted(id))
		return;
	if (round == 0) {
		r->ok = r->err[0] == '\0';
		r->reps = 0;
	}
	if (!r->ok)
		return;
	progress("  %-10s", id);
	case_size = r->size;
	case_batch = 1;
	case_gso = 0;
	case_hwm = 0;
	case_plain = id[strlen(id) - 1] == 'p' && strcmp(id, "pp") != 0;
	case_secure = strncmp(id, "dealer", 6) == 0 &&
	    id[strlen(id) - 1] == 's';
	snprintf(case_id, sizeof(case_id), "%s", id);
	if (strcmp(id, "dealer64v") == 0)
		case_plain = 2;
	drain_s = r->size >= (1 << 20) ? 5.0 : 2.0;
	silence_s = r->size >= (1 << 20) ? 1.0 : 0.5;
	if (opt_drain > 0)
		drain_s = opt_drain;
	if (strncmp(id, "safe", 4) == 0)	/* resends: only the deadline */
		silence_s = drain_s;
	{
		int	e = 0, rep = r->reps;

		if (r->nbmq)
			settle();
		if (strcmp(id, "udp1") == 0)
			e = run_thru(r, udp_rx_child, udp_tx_child, 1, 0);
		else if (strcmp(id, "udpmmsg") == 0 || strcmp(id, "udp500") == 0 ||
		    strcmp(id, "udpgso") == 0) {
			case_batch = BATCH;
			case_gso = strcmp(id, "udpgso") == 0;
			e = run_thru(r, udp_rx_child, udp_tx_child, 1, 0);
		} else if (strcmp(id, "unix1") == 0 || strcmp(id, "unixv") == 0) {
			case_batch = id[4] == 'v' ? BATCH : 1;
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
			    unix_pair) == -1) {
				perror("socketpair");
				exit(1);
			}
			e = run_thru(r, unix_rx_child, unix_tx_child, 1, 0);
		} else if (strcmp(id, "udppp") == 0 ||
		    strcmp(id, "udppp4") == 0) {
			case_relay = id[5] == '4';
			e = run_lat(r, udp_echo_child, udp_ping_child);
			case_relay = 0;
		}
		else if (strcmp(id, "pp") == 0)
			e = run_lat(r, nbmq_echo_child, nbmq_ping_child);
		else if (strcmp(id, "zmq64") == 0)
			e = run_thru(r, zmq_rx_child, zmq_tx_child, 1, 0);
		else if (strcmp(id, "zmqpp") == 0)
			e = run_lat(r, zmq_echo_child, zmq_ping_child);
		else if (strcmp(id, "enetrel64") == 0 ||
		    strcmp(id, "enetunrel64") == 0) {
			case_enet_reliable = id[4] == 'r';
			e = run_thru(r, enet_rx_child, enet_tx_child, 1, 0);
		} else if (strcmp(id, "enetpp") == 0)
			e = run_lat(r, enet_echo_child, enet_ping_child);
		else {
			case_type = strncmp(id, "safe", 4) == 0 ?
			    NBMQ_SAFE_DEALER : strcmp(id, "radio") == 0 ?
			    NBMQ_RADIO : NBMQ_DEALER;
			if (r->size >= (1 << 20))
				case_hwm = 8;
			if (strcmp(id, "safe64h") == 0)
				case_hwm = 10000;
			e = run_thru(r, nbmq_rx_child, nbmq_tx_child, nrx,
			    case_type == NBMQ_RADIO);
		}
		if (e == 0 && r->kind == R_THRU)
			progress(" %.0f/s (%.1f%%)", r->rx_rate[rep],
			    r->pct[rep]);
		else if (e == 0)
			progress(" p50 %.0f us, p99 %.0f us", r->p50[rep],
			    r->p99[rep]);
	}
	progress("\n");
}

/*
 * Every case once per round, baselines and nbmq interleaved, so that the
 * load of a shared machine falls on both alike.
 */
static const char *const case_order[] = {
	"udp1", "udpmmsg", "udpgso", "udp500", "udppp", "udppp4", "unix1",
	"unixv", "zmq64", "enetrel64", "enetunrel64", "zmqpp", "enetpp",
	"dealer64v", "dealer64p", "dealer64", "dealer466", "dealer4k",
	"dealer1mp", "dealer1m", "dealer64s", "dealer1ms", "safe64", "safe64h",
	"safe1m",
	"radio", "pp",
};

#define VETH_CASES	"udp1,udpmmsg,udp500,udppp,dealer64,dealer64v," \
			"dealer466,dealer4k,dealer1m,safe64,safe1m,pp"

int
main(int argc, char *argv[])
{
	static char	 self[PATH_MAX], dpath[PATH_MAX + 16];
	FILE		*jf;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--json") == 0)
			opt_json = 1;
		else if (strcmp(a, "--keep") == 0)
			opt_keep = 1;
		else if (strcmp(a, "--idle-sender") == 0)
			opt_idle_sender = 1;
		else if (strcmp(a, "--veth") == 0)
			opt_veth = 1;
		else if (strcmp(a, "--list") == 0) {
			for (int k = 0; k < NRESULTS; k++)
				printf("%-10s %s\n", results[k].id,
				    results[k].label);
			return 0;
		} else if (v == NULL)
			usage();
		else if (strcmp(a, "--json-file") == 0)
			opt_json_file = argv[++i];
		else if (strcmp(a, "--reps") == 0) {
			opt_reps = atoi(argv[++i]);
			if (opt_reps < 1 || opt_reps > MAXREPS)
				usage();
		} else if (strcmp(a, "--secs") == 0) {
			opt_secs = atof(argv[++i]);
			if (opt_secs <= 0 || opt_secs > 60)
				usage();
		} else if (strcmp(a, "--idle-secs") == 0)
			opt_idle_secs = atof(argv[++i]);
		else if (strcmp(a, "--drain") == 0)
			opt_drain = atof(argv[++i]);
		else if (strcmp(a, "--peers") == 0) {
			if (sscanf(argv[++i], "%d,%d", &opt_peers[0],
			    &opt_peers[1]) != 2 || opt_peers[0] < 1 ||
			    opt_peers[1] < opt_peers[0])
				usage();
		} else if (strcmp(a, "--only") == 0)
			opt_only = argv[++i];
		else if (strcmp(a, "--nbmqd") == 0)
			opt_nbmqd = argv[++i];
		else
			usage();
	}
	if (opt_nbmqd == NULL) {
		ssize_t	n = readlink("/proc/self/exe", self, sizeof(self) - 1);

		if (n > 0) {
			self[n] = '\0';
			*strrchr(self, '/') = '\0';
		} else
			strcpy(self, ".");
		snprintf(dpath, sizeof(dpath), "%s/nbmqd", self);
		opt_nbmqd = dpath;
	}
	if (access(opt_nbmqd, X_OK) == -1) {
		fprintf(stderr, "nbmqbench: %s: %s (use --nbmqd)\n", opt_nbmqd,
		    strerror(errno));
		return 1;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	machine_info();
	snprintf(tmpdir, sizeof(tmpdir), "%s/nbmqbench.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (opt_veth) {
		/* The cases whose every process can take a side (veth.c). */
		if (opt_only == NULL)
			opt_only = VETH_CASES;
		if (veth_setup() == -1) {
			fprintf(stderr, "nbmqbench: --veth needs root and "
			    "ip netns\n");
			return 1;
		}
	}

	progress("nbmqbench: %ld CPUs, %s, %s; %d x %.1f s per case; %s\n",
	    ncpu, cpu_model, kernel, opt_reps, opt_secs, tmpdir);
	if (!wanted("dealer64") && !wanted("dealer466") && !wanted("dealer4k") &&
	    !wanted("dealer1m") && !wanted("safe64") && !wanted("safe1m") &&
	    !wanted("safe64h") &&
	    !wanted("radio") && !wanted("pp") && !wanted("dealer64p") &&
	    !wanted("dealer64v") && !wanted("dealer64s") &&
	    !wanted("dealer1ms") &&
	    !wanted("dealer1mp"))
		;	/* no data-path case: no daemons */
	else if (secure_confs() == -1 ||	/* B first: A connects to it */
	    start_daemon(1, "b", secure_conf[1]) == -1 ||
	    start_daemon(0, "a", secure_conf[0]) == -1) {
		for (int i = 0; i < NRESULTS; i++)
			if (results[i].nbmq) {
				results[i].ok = 0;
				snprintf(results[i].err, sizeof(results[i].err),
				    "the daemons did not start");
			}
	} else {
		progress("daemons A (pid %d) and B (pid %d) up\n",
		    (int)daemons[0], (int)daemons[1]);
	}
	for (int round = 0; round < opt_reps; round++) {
		progress("round %d of %d\n", round + 1, opt_reps);
		for (size_t i = 0; i < sizeof(case_order) /
		    sizeof(case_order[0]); i++)
			run_case(case_order[i], round);
	}
	for (int i = 0; i < NRESULTS; i++)
		finish(&results[i]);
	stop_daemon(0);
	stop_daemon(1);
	if (wanted("idle"))
		run_idle();
	loadavg(load_end, sizeof(load_end));

	if (opt_json)
		print_json(stdout);
	else
		print_text();
	if (opt_json_file != NULL) {
		if ((jf = fopen(opt_json_file, "w")) == NULL)
			perror(opt_json_file);
		else {
			print_json(jf);
			fclose(jf);
		}
	}
	return 0;
}
