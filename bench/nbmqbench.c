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
 */
#include <sys/epoll.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sched.h>
#include <sodium.h>

#include "nbmq.h"
#include "nbmq-protocol.h"
#include "ctlclient.h"

#define MAXREPS		9
#define MAXRX		4
#define MAXRTT		200000
#define BATCH		64		/* sendmmsg/recvmmsg, writev, and
					   NBMQ_BATCH runs: messages per
					   syscall */
#define UDP_RCVBUF	(4 << 20)	/* what nbmqd sets (rcvbuf = 4M) */
#define UDP_SNDBUF	(1 << 20)	/* sndbuf = 1M */
#define FRAME_PAYLOAD	466		/* max_frame_size 500 - 34 */
#define STOP_BYTE	0xff		/* ping-pong: the last message */

/* ---- shared state between the parent and its forked children ---- */

struct rxstat {
	uint64_t	 got, bytes, bad;
	double		 t_first, t_last;
	double		 cpu;		/* seconds of CPU while receiving */
	int		 done;
};

struct shm {
	int		 ready;		/* children that are ready */
	int		 have_ep;	/* endpoint/port published */
	int		 go;
	int		 done;		/* the sender finished */
	int		 stop;		/* parent: everybody stop now */
	int		 release;	/* parent: receivers may close now */
	char		 endpoint[128];
	uint16_t	 port;
	uint16_t	 relay_port[2];	/* udppp4: the relays, in path order */
	int		 have_relay[2];
	double		 t_start, t_end;
	uint64_t	 sent;
	double		 tx_cpu;
	int64_t		 giveups;
	struct rxstat	 rx[MAXRX];
	/* ping-pong */
	uint32_t	 nrtt;
	uint32_t	 lost;
	/* idle peers */
	int		 target;	/* peers wanted */
	int		 connected;	/* peers with a session */
	int		 farm_err;
	uint64_t	 hb_sent, hb_rcvd, disc_rcvd;
	char		 err[256];
	double		 rtt[MAXRTT];
};

static struct shm	*sh;

/* ---- options ---- */

static int		 opt_json, opt_keep, opt_reps = 3;
static double		 opt_secs = 1.0;
static const char	*opt_only, *opt_json_file, *opt_nbmqd;
static int		 opt_peers[2] = { 1000, 10000 };
static double		 opt_idle_secs = 5;
static double		 opt_drain;	/* 0: per case (2 s, 5 s for 1 MiB) */
static int		 opt_idle_sender;	/* safe: no library call after
						   the last send */

/* ---- process bookkeeping ---- */

static char		 tmpdir[256];
static pid_t		 daemons[3];
static char		 sockpath[3][300];
static pid_t		 kids[16];
static int		 nkids;

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_s(double s)
{
	struct timespec	ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static double
cpu_self(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x)		__atomic_add_fetch(&(x), 1, __ATOMIC_SEQ_CST)

static void __attribute__((noreturn, format(printf, 1, 2)))
child_fail(const char *fmt, ...)
{
	va_list	ap;
	char	buf[256];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (sh->err[0] == '\0')
		snprintf(sh->err, sizeof(sh->err), "%s", buf);
	STORE(sh->stop, 1);
	_exit(1);
}

static void __attribute__((format(printf, 1, 2)))
progress(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

static pid_t
spawn(void (*fn)(int), int arg)
{
	pid_t	pid;

	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		perror("fork");
		exit(1);
	}
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	if (nkids < (int)(sizeof(kids) / sizeof(kids[0])))
		kids[nkids++] = pid;
	return pid;
}

/* Reap every child of the case; kill those still running after `secs`. */
static int
reap_kids(double secs)
{
	double	end = now() + secs;
	int	bad = 0, st;

	for (int i = 0; i < nkids; i++) {
		for (;;) {
			pid_t r = waitpid(kids[i], &st, WNOHANG);

			if (r == kids[i]) {
				if (WIFSIGNALED(st)) {
					progress(" [child %d: signal %d]",
					    (int)kids[i], WTERMSIG(st));
					bad++;
				} else if (WEXITSTATUS(st) != 0) {
					progress(" [child %d: exit %d]",
					    (int)kids[i], WEXITSTATUS(st));
					bad++;
				}
				break;
			}
			if (r == -1)
				break;
			if (now() > end) {
				kill(kids[i], SIGKILL);
				waitpid(kids[i], &st, 0);
				progress(" [child %d: still running, killed]",
				    (int)kids[i]);
				bad++;
				break;
			}
			sleep_s(0.005);
		}
	}
	nkids = 0;
	return bad;
}

static void
stop_daemon(int i)
{
	int	st;

	if (daemons[i] <= 0)
		return;
	kill(daemons[i], SIGTERM);
	for (int n = 0; n < 200; n++) {
		if (waitpid(daemons[i], &st, WNOHANG) == daemons[i]) {
			daemons[i] = 0;
			return;
		}
		sleep_s(0.01);
	}
	kill(daemons[i], SIGKILL);
	waitpid(daemons[i], &st, 0);
	daemons[i] = 0;
}

static void
cleanup(void)
{
	char	cmd[300];

	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	reap_kids(1);
	for (int i = 0; i < 3; i++)
		stop_daemon(i);
	if (tmpdir[0] != '\0') {
		if (opt_keep)
			progress("kept %s\n", tmpdir);
		else {
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
			if (system(cmd) != 0)
				progress("could not remove %s\n", tmpdir);
		}
		tmpdir[0] = '\0';
	}
}

static void
on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Wait for the parent's go, or a stop. */
static int
wait_go(void)
{
	double	end = now() + 60;

	while (!LOAD(sh->go)) {
		if (LOAD(sh->stop) || now() > end)
			return -1;
		sleep_s(0.0005);
	}
	return 0;
}

/* Parent: wait until `n` children are ready; 0, or -1 on error/timeout. */
static int
wait_ready(int n, double secs)
{
	double	end = now() + secs;

	while (LOAD(sh->ready) < n) {
		if (LOAD(sh->stop) || now() > end) {
			if (sh->err[0] == '\0')
				snprintf(sh->err, sizeof(sh->err),
				    "children not ready within %.0f s", secs);
			return -1;
		}
		sleep_s(0.001);
	}
	return 0;
}

static int
wait_flag(int *flag, double secs)
{
	double	end = now() + secs;

	while (!LOAD(*flag)) {
		if (LOAD(sh->stop) || now() > end)
			return -1;
		sleep_s(0.001);
	}
	return 0;
}

/* ---- /proc ---- */

static double
proc_cpu(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut = 0, st = 0;
	FILE		*f;
	size_t		 n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
	    "%lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long
proc_rss_kib(pid_t pid)
{
	char	 path[64], line[256];
	long	 kib = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * Datagrams the kernel dropped on the UDP sockets `pid` holds (receive
 * buffer full): the drops column of /proc/net/udp{,6} for its inodes.
 */
static double
proc_udp_drops(pid_t pid)
{
	static const char *tabs[] = { "/proc/net/udp", "/proc/net/udp6" };
	unsigned long	 inodes[256];
	int		 n = 0;
	double		 drops = 0;
	char		 path[300], link[64], line[512];
	FILE		*f;

	for (int fd = 0; fd < 1024 && n < 256; fd++) {
		ssize_t	len;

		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		if ((len = readlink(path, link, sizeof(link) - 1)) <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &inodes[n]) == 1)
			n++;
	}
	for (int t = 0; t < 2; t++) {
		if ((f = fopen(tabs[t], "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			unsigned long	ino, dr;

			if (sscanf(line, "%*s %*s %*s %*s %*s %*s %*s %*s %*s "
			    "%lu %*s %*s %lu", &ino, &dr) != 2)
				continue;
			for (int i = 0; i < n; i++)
				if (inodes[i] == ino)
					drops += (double)dr;
		}
		fclose(f);
	}
	return drops;
}

/* Let the daemons finish what the last case left (linger, resends). */
static void
settle(void)
{
	double	end = now() + 2.5;

	while (now() < end) {
		double	c0 = proc_cpu(daemons[0]) + proc_cpu(daemons[1]);

		sleep_s(0.1);
		if (proc_cpu(daemons[0]) + proc_cpu(daemons[1]) - c0 < 0.011)
			return;
	}
}

/* ---- the daemons' own counters (IPC_CTL_STATS, read-only) ---- */

#define NDROPS		NBMQ_IPC_NDROPS

struct dstats {
	int		 ok;
	uint64_t	 drops[NDROPS];
	uint64_t	 rx_datagrams, tx_datagrams, resends, giveups;
};

static char	 drop_names[NDROPS][NBMQ_IPC_WORD_LEN];
static int	 have_drop_names;

/* The daemon's counters now (ctlclient.c); st->ok 0 when it cannot say. */
static void
daemon_stats(int i, struct dstats *st)
{
	struct ctl		c;
	struct ipc_ctl_stats	ss;

	memset(st, 0, sizeof(*st));
	if (ctl_open(&c, sockpath[i], "nbmqbench", 2000) == -1)
		goto out;
	if (!have_drop_names) {
		if (ctl_reasons(&c, drop_names) == -1)
			goto out;
		have_drop_names = 1;
	}
	if (ctl_ask(&c, IPC_CTL_STATS, NULL, 0, IPC_CTL_STATS_INFO, &ss,
	    sizeof(ss), "stats") == -1)
		goto out;
	for (uint32_t k = 0; k < NDROPS && k < ss.ndrops; k++)
		st->drops[k] = ss.drops[k];
	st->rx_datagrams = ss.rx_datagrams;
	st->tx_datagrams = ss.tx_datagrams;
	st->resends = ss.resends;
	st->giveups = ss.giveups;
	st->ok = 1;
out:
	ctl_close(&c);
}

/* "recv_hwm 1234, peer_gone 5" from the difference of two snapshots. */
static void
drops_text(const struct dstats *a, const struct dstats *b, char *buf,
    size_t len)
{
	size_t	off = 0;

	buf[0] = '\0';
	if (!a->ok || !b->ok) {
		snprintf(buf, len, "n/a");
		return;
	}
	for (int k = 1; k < NDROPS; k++) {
		uint64_t d = b->drops[k] - a->drops[k];

		if (d == 0 || off >= len)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%s %llu",
		    off ? ", " : "", drop_names[k][0] ? drop_names[k] : "?",
		    (unsigned long long)d);
	}
	if (off == 0)
		snprintf(buf, len, "none");
}

/* ---- results ---- */

enum rkind { R_THRU = 1, R_LAT, R_IDLE };

struct res {
	const char	*id;
	const char	*label;
	int		 kind;
	int		 nbmq;
	int		 size;		/* message bytes */
	int		 nrx;		/* receivers (radio: dishes) */
	const char	*base;		/* id of the baseline it is set against */
	int		 base_mb;	/* compare MB/s instead of msgs/s */
	const char	*base2;		/* a second baseline, msgs/s */
	const char	*note;
	int		 ok, reps;
	char		 err[256];

	/* per repetition, then the median in [0] after finish() */
	double		 rx_rate[MAXREPS], tx_rate[MAXREPS], pct[MAXREPS];
	double		 mbps[MAXREPS], cpu_a[MAXREPS], cpu_b[MAXREPS];
	double		 cpu_tx[MAXREPS], cpu_rx[MAXREPS];
	double		 p50[MAXREPS], p99[MAXREPS];
	uint64_t	 sent[MAXREPS], got[MAXREPS], lost[MAXREPS];
	double		 us_msg[MAXREPS];	/* CPU of every process / msg */
	double		 kdrop_b[MAXREPS];	/* kernel UDP drops, daemon B */
	char		 ddrops[2][160];	/* daemon A, B: drops by reason,
						   summed over repetitions */
	struct dstats	 dsum[2][2];		/* [daemon][before, after] */
	double		 minpct[MAXREPS];	/* radio: worst dish */
	int64_t		 giveups[MAXREPS];

	/* idle */
	int		 peers;
	double		 idle_cpu, farm_cpu, rss_kib, rss0_kib, per_peer;
	double		 hb_in, hb_out;
	int		 peers_seen;
};

#define NOTE_BATCH	"sender: NBMQ_BATCH but every 64th message, so 64 " \
			"messages per write"

static struct res results[] = {
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
	{ .id = "dealer64", .label = "dealer 64 B", .kind = R_THRU, .nbmq = 1,
	  .size = 64, .nrx = 1, .base = "udpmmsg", .base2 = "udp1",
	  .note = NOTE_BATCH },
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
	  .note = NOTE_BATCH },
	{ .id = "safe1m", .label = "safe_dealer 1 MiB", .kind = R_THRU,
	  .nbmq = 1, .size = 1 << 20, .nrx = 1, .base = "udp500", .base_mb = 1,
	  .note = "send_hwm 8 on the sender (see README); NBMQ_BATCH holds "
	  "nothing this large" },
	{ .id = "radio", .label = "radio 64 B to 4 dishes (per dish)",
	  .kind = R_THRU, .nbmq = 1, .size = 64, .nrx = 4, .base = "udpmmsg",
	  .note = NOTE_BATCH },
	{ .id = "pp", .label = "ping-pong 64 B (blocking nbmq_recv)",
	  .kind = R_LAT, .nbmq = 1, .size = 64, .nrx = 1, .base = "udppp",
	  .base2 = "udppp4",
	  .note = "not batched: one sendmsg per message, each side blocking "
	  "in nbmq_recv" },
	{ .id = "idle", .label = "idle peers", .kind = R_IDLE, .nbmq = 1 },
};
#define NRESULTS	(int)(sizeof(results) / sizeof(results[0]))

/* idle has two rows: 1,000 and 10,000 peers */
static struct res	 idle_rows[2];
static struct res	 idle0;		/* the daemon with no peer */
static struct res	 idle_base[2], idle_base0;	/* the raw responder */

static struct res *
res_by_id(const char *id)
{
	for (int i = 0; i < NRESULTS; i++)
		if (strcmp(results[i].id, id) == 0)
			return &results[i];
	return NULL;
}

static int
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

/* ---- raw UDP ---- */

static int
udp_socket(uint16_t *port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	socklen_t		len = sizeof(sin);
	int			fd, v;

	if ((fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		child_fail("socket: %s", strerror(errno));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
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

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		child_fail("connect: %s", strerror(errno));
}

static void
set_rcvtimeo(int fd, double s)
{
	struct timeval	tv = { .tv_sec = (time_t)s,
			    .tv_usec = (suseconds_t)((s - (time_t)s) * 1e6) };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* The case's receive deadline: everything came, or drain/silence. */
static double	 drain_s = 2.0, silence_s = 0.5;

static int
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

static int	case_size, case_batch;
static int	case_gso;	/* raw UDP with UDP_SEGMENT and UDP_GRO */

static void
udp_rx_child(int idx)
{
	struct rxstat	*st = &sh->rx[idx];
	struct mmsghdr	 mm[BATCH];
	struct iovec	 iov[BATCH];
	static uint8_t	 bufs[BATCH][2048];
	uint16_t	 port;
	int		 fd = udp_socket(&port);
	double		 c0;

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
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	c0 = cpu_self();
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

static void
udp_tx_child(int unused)
{
	struct mmsghdr	 mm[BATCH];
	struct iovec	 iov[BATCH];
	static uint8_t	 buf[2048];
	int		 fd = udp_socket(NULL);
	uint64_t	 sent = 0;
	double		 end, c0;

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
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	c0 = cpu_self();
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

static int	unix_pair[2] = { -1, -1 };

static void
unix_rx_child(int idx)
{
	struct rxstat	*st = &sh->rx[0];
	static uint8_t	 buf[256 << 10];
	ssize_t		 n;
	double		 c0;

	close(unix_pair[0]);
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	c0 = cpu_self();
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

static void
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
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	c0 = cpu_self();
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

static int	case_relay;	/* udppp4: ping through the relays */

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

static void
udp_echo_child(int unused)
{
	struct sockaddr_in	 from;
	uint8_t			 buf[2048];
	uint16_t		 port;
	int			 fd = udp_socket(&port);
	ssize_t			 n;

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
static void
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

static void
udp_ping_child(int unused)
{
	uint8_t		 buf[2048];
	int		 fd = udp_socket(NULL);
	uint32_t	 seq = 0, k = 0;
	double		 end, t;
	ssize_t		 n;

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

/* ---- nbmq applications ---- */

static int	case_type, case_hwm;
/*
 * The encrypted cases attach to a socket configured for each (named as
 * the case): options set by one case's application (send_hwm 8 for 1 MiB)
 * and what its sender left in flight stay with the socket.
 */
static int	case_secure;
static char	case_id[16];
static int	case_plain;	/* 1: coalesce = no (v0.2.0 framing on the
				   wire); 2: pacing = no as well */

static nbmq_socket *
app_socket(int daemon, int type, nbmq_ctx **ctxp)
{
	nbmq_ctx	*ctx;
	nbmq_socket	*s;

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
	if (nbmq_bind(s, "127.0.0.1:0") == -1)
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
static void
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
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	c0 = cpu_self();
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

static void
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
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	c0 = cpu_self();
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

static void
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

static void
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

/* ---- running a case ---- */

static void
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

/* ---- daemons ---- */

static int
unix_connectable(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd, r;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return r;
}

static int
start_daemon(int i, const char *name, const char *conf)
{
	char	confpath[300], logpath[300];
	FILE	*f;
	pid_t	pid;
	double	end;

	snprintf(confpath, sizeof(confpath), "%s/%s.conf", tmpdir, name);
	snprintf(logpath, sizeof(logpath), "%s/%s.log", tmpdir, name);
	snprintf(sockpath[i], sizeof(sockpath[i]), "%s/%s.sock", tmpdir, name);
	if ((f = fopen(confpath, "w")) == NULL)
		return -1;
	fputs(conf, f);
	fclose(f);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		int	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execl(opt_nbmqd, "nbmqd", "-c", confpath, "-S", sockpath[i],
		    (char *)NULL);
		_exit(127);
	}
	daemons[i] = pid;
	end = now() + 10;
	while (!unix_connectable(sockpath[i])) {
		int	st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			daemons[i] = 0;
			progress("nbmqd %s exited; see %s\n", name, logpath);
			return -1;
		}
		if (now() > end) {
			progress("nbmqd %s did not start; see %s\n", name,
			    logpath);
			return -1;
		}
		sleep_s(0.01);
	}
	return 0;
}

static const char *data_conf =
    "# nbmqbench: the data-path daemons run on the defaults.\n"
    "[daemon]\n"
    "log_level = info\n";

/*
 * The encrypted cases: one dealer socket configured in each daemon, with
 * encryptor = sodium, new keys (as `nbmqctl genkey` makes them: 32 random
 * bytes, base64) in the temporary directory, B bound to a port picked
 * here, A connected to it.  Without those cases, the plain configuration.
 */
static char	 secure_conf[2][2048];

static int
write_key(const char *path, const uint8_t *key)
{
	char	b64[sodium_base64_ENCODED_LEN(32,
		    sodium_base64_VARIANT_ORIGINAL)];
	FILE	*f;
	int	 fd;

	sodium_bin2base64(b64, sizeof(b64), key, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		perror(path);
		return -1;
	}
	fprintf(f, "%s\n", b64);
	sodium_memzero(b64, sizeof(b64));
	return fclose(f);
}

static int
secure_confs(void)
{
	static const char *const cases[] = { "dealer64s", "dealer1ms" };
	uint8_t	 priv[2][32], pub[2][32];
	char	 path[2][300], pub64[2][64];
	uint16_t port;

	for (int i = 0; i < 2; i++)
		snprintf(secure_conf[i], sizeof(secure_conf[i]), "%s",
		    data_conf);
	if (!wanted("dealer64s") && !wanted("dealer1ms"))
		return 0;
	if (sodium_init() < 0) {
		fprintf(stderr, "nbmqbench: libsodium cannot start\n");
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		randombytes_buf(priv[i], sizeof(priv[i]));
		crypto_scalarmult_base(pub[i], priv[i]);
		sodium_bin2base64(pub64[i], sizeof(pub64[i]), pub[i], 32,
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(path[i], sizeof(path[i]), "%s/%c.key", tmpdir,
		    'a' + i);
		if (write_key(path[i], priv[i]) == -1)
			return -1;
		sodium_memzero(priv[i], sizeof(priv[i]));
	}
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		/* A free port for B (a race with the machine, once). */
		close(udp_socket(&port));
		for (int i = 0; i < 2; i++) {
			size_t	len = strlen(secure_conf[i]);

			snprintf(secure_conf[i] + len,
			    sizeof(secure_conf[i]) - len,
			    "\n[socket %s]\n"
			    "type = dealer\n"
			    "%s = 127.0.0.1:%u\n"
			    "encryptor = sodium\n"
			    "private_key_file = %s\n"
			    "peers = %s\n", cases[c],
			    i == 0 ? "connect" : "bind", (unsigned)port,
			    path[i], pub64[1 - i]);
		}
	}
	return 0;
}

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

static void
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

/* ---- output ---- */

static char	 cpu_model[160] = "unknown", kernel[300] = "unknown";
static long	 ncpu;
static char	 started[64], load_start[64], load_end[64];

static void
loadavg(char *buf, size_t len)
{
	FILE	*f = fopen("/proc/loadavg", "r");

	snprintf(buf, len, "?");
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) != NULL) {
		char	*p = buf;

		/* the three averages only */
		for (int i = 0; i < 3 && p != NULL; i++)
			p = strchr(p + 1, ' ');
		if (p != NULL)
			*p = '\0';
	}
	fclose(f);
}

static void
machine_info(void)
{
	struct utsname	 u;
	char		 line[256];
	FILE		*f;
	time_t		 t = time(NULL);

	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (uname(&u) == 0)
		snprintf(kernel, sizeof(kernel), "%s %s", u.sysname, u.release);
	if ((f = fopen("/proc/cpuinfo", "r")) != NULL) {
		while (fgets(line, sizeof(line), f) != NULL) {
			char *p = strchr(line, ':');

			if (strncmp(line, "model name", 10) == 0 && p) {
				p++;
				while (*p == ' ')
					p++;
				p[strcspn(p, "\n")] = '\0';
				snprintf(cpu_model, sizeof(cpu_model), "%s", p);
				break;
			}
		}
		fclose(f);
	}
	strftime(started, sizeof(started), "%Y-%m-%d %H:%M:%S %Z",
	    localtime(&t));
	loadavg(load_start, sizeof(load_start));
}

static const char *
human(double v, char *buf, size_t len)
{
	if (v >= 1e6)
		snprintf(buf, len, "%.2fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, len, "%.1fk", v / 1e3);
	else
		snprintf(buf, len, "%.1f", v);
	return buf;
}

static const struct res *
base_ok(const char *id)
{
	const struct res *b = id ? res_by_id(id) : NULL;

	return b != NULL && b->ok && b->reps > 0 ? b : NULL;
}

/* The figure a nbmq result is compared on, and its baseline's. */
static int
ratio_of(const struct res *r, const char *base_id, int mb, double *mine,
    double *theirs, const struct res **bp)
{
	const struct res *b = base_ok(base_id);

	*bp = b;
	if (b == NULL || !r->ok || r->reps == 0)
		return -1;
	*mine = mb ? r->mbps[0] : r->rx_rate[0];
	*theirs = mb ? b->mbps[0] : b->rx_rate[0];
	return *theirs > 0 ? 0 : -1;
}

static const struct res *
idle_baseline_row(int i)
{
	return idle_base[i].ok ? &idle_base[i] : NULL;
}

static void
print_text(void)
{
	char	a[32], b[32], bl[96];

	printf("\nnbmqbench %s: %ld CPUs (%s), %s\n", started, ncpu, cpu_model,
	    kernel);
	printf("load average %s at the start, %s at the end; medians of %d "
	    "repetitions of %.1f s; loopback\n\n", load_start, load_end,
	    opt_reps, opt_secs);
	printf("Baselines (one sender process, one receiver process)\n");
	printf("  %-40s %10s %8s %10s %8s %9s\n", "", "recv msg/s", "MB/s",
	    "sent msg/s", "recv %", "CPU us/msg");
	for (int i = 0; i < NRESULTS; i++) {
		struct res *r = &results[i];

		if (r->nbmq || !wanted(r->id))
			continue;
		if (!r->ok) {
			printf("  %-40s FAILED: %s\n", r->label, r->err);
			continue;
		}
		if (r->kind == R_LAT)
			printf("  %-40s p50 %.1f us, p99 %.1f us "
			    "(%s round trips/s)\n", r->label, r->p50[0],
			    r->p99[0], human(r->rx_rate[0], a, sizeof(a)));
		else
			printf("  %-40s %10s %8.1f %10s %7.1f%% %9.2f\n",
			    r->label, human(r->rx_rate[0], a, sizeof(a)),
			    r->mbps[0], human(r->tx_rate[0], b, sizeof(b)),
			    r->pct[0], r->us_msg[0]);
		if (r->note)
			printf("  %-40s (%s)\n", "", r->note);
	}
	printf("\nnbmq: app -> nbmqd A -> UDP -> nbmqd B -> app "
	    "(4 processes; daemons on defaults)\n");
	printf("  %-36s %10s %8s %8s   %-28s %6s\n", "", "recv msg/s", "MB/s",
	    "recv %", "baseline", "ratio");
	for (int i = 0; i < NRESULTS; i++) {
		struct res	*r = &results[i];
		const struct res *bs;
		double		 mine, theirs;

		if (!r->nbmq || r->kind == R_IDLE || !wanted(r->id))
			continue;
		if (!r->ok) {
			printf("  %-36s FAILED: %s\n", r->label, r->err);
			continue;
		}
		if (r->kind == R_LAT) {
			const struct res *bb = base_ok(r->base);

			printf("  %-36s p50 %.1f us, p99 %.1f us (%llu lost, "
			    "%s round trips/s)\n", r->label, r->p50[0],
			    r->p99[0], (unsigned long long)r->lost[0],
			    human(r->rx_rate[0], a, sizeof(a)));
			if (bb != NULL)
				printf("  %-36s   vs %s p50 %.1f us, p99 %.1f us: "
				    "p50 %.2fx, p99 %.2fx\n", "", bb->id,
				    bb->p50[0], bb->p99[0],
				    r->p50[0] / bb->p50[0],
				    r->p99[0] / bb->p99[0]);
			if ((bb = base_ok(r->base2)) != NULL)
				printf("  %-36s   vs %s p50 %.1f us, p99 %.1f us: "
				    "p50 %.2fx, p99 %.2fx\n", "", bb->id,
				    bb->p50[0], bb->p99[0],
				    r->p50[0] / bb->p50[0],
				    r->p99[0] / bb->p99[0]);
			if (r->note)
				printf("  %-36s   %s\n", "", r->note);
			continue;
		}
		printf("  %-36s %10s %8.1f %7.2f%%", r->label,
		    human(r->rx_rate[0], a, sizeof(a)), r->mbps[0], r->pct[0]);
		if (ratio_of(r, r->base, r->base_mb, &mine, &theirs, &bs) == 0) {
			if (r->base_mb)
				snprintf(bl, sizeof(bl), "%s %.1f MB/s", bs->id,
				    theirs);
			else
				snprintf(bl, sizeof(bl), "%s %s/s", bs->id,
				    human(theirs, a, sizeof(a)));
			printf("   %-28s %5.2fx\n", bl, mine / theirs);
		} else
			printf("   %-28s %6s\n", r->base ? r->base : "", "n/a");
		if (r->base2 && ratio_of(r, r->base2, 0, &mine, &theirs,
		    &bs) == 0) {
			snprintf(bl, sizeof(bl), "%s %s/s", bs->id,
			    human(theirs, a, sizeof(a)));
			printf("  %-36s %10s %8s %8s   %-28s %5.2fx\n", "", "",
			    "", "", bl, mine / theirs);
		}
		printf("  %-36s   sent %s/s; over all repetitions %llu sent, "
		    "%llu received (%.2f%%)", "",
		    human(r->tx_rate[0], a, sizeof(a)),
		    (unsigned long long)r->sent[0],
		    (unsigned long long)r->got[0], r->sent[0] ?
		    100.0 * (double)r->got[0] / (double)r->sent[0] : 0);
		if (r->nrx > 1)
			printf(" per dish (worst dish %.2f%%)", r->minpct[0]);
		printf("\n  %-36s   dropped: kernel UDP at daemon B %.0f; "
		    "daemon A: %s; daemon B: %s\n", "", r->kdrop_b[0],
		    r->ddrops[0], r->ddrops[1]);
		printf("  %-36s   CPU: daemon A %.0f%%, B %.0f%%, sender %.0f%%, "
		    "receiver %.0f%%; %.2f us CPU per message", "",
		    r->cpu_a[0], r->cpu_b[0], r->cpu_tx[0], r->cpu_rx[0],
		    r->us_msg[0]);
		if ((bs = base_ok(r->base)) != NULL && bs->us_msg[0] > 0 &&
		    !r->base_mb)
			printf(" (%.1fx %s)", r->us_msg[0] / bs->us_msg[0],
			    bs->id);
		printf("\n");
		if (strncmp(r->id, "safe", 4) == 0)
			printf("  %-36s   give-ups %lld\n", "",
			    (long long)r->giveups[0]);
		if (r->note)
			printf("  %-36s   %s\n", "", r->note);
	}
	if (wanted("idle")) {
		printf("\nIdle cost: peers heartbeating every 1 s; a fresh nbmqd, "
		    "and a raw UDP responder as the baseline\n"
		    "(goal: nbmqd <= 5%% of one core, <= 2 KiB RSS per peer)\n");
		printf("  %-7s %9s %9s %10s %8s %8s   %-22s %s\n", "peers",
		    "CPU %", "RSS KiB", "RSS/peer B", "hb in/s", "hb out/s",
		    "raw responder CPU %", "ratio");
		if (idle0.ok)
			printf("  %-7d %8.2f%% %9.0f %10s %8s %8s   %-22.2f\n", 0,
			    idle0.idle_cpu, idle0.rss_kib, "-", "-", "-",
			    idle_base0.idle_cpu);
		for (int i = 0; i < 2; i++) {
			struct res *r = &idle_rows[i];
			const struct res *bb = idle_baseline_row(i);

			if (!r->ok) {
				printf("  %-7d FAILED: %s\n", opt_peers[i],
				    r->err);
				continue;
			}
			printf("  %-7d %8.2f%% %9.0f %10.0f %8.0f %8.0f   ",
			    r->peers, r->idle_cpu, r->rss_kib, r->per_peer,
			    r->hb_in, r->hb_out);
			if (bb != NULL && bb->idle_cpu > 0)
				printf("%-22.2f %.1fx\n", bb->idle_cpu,
				    r->idle_cpu / bb->idle_cpu);
			else
				printf("%-22s\n", bb ? "0.00" : "failed");
			printf("  %-7s goal: CPU %.2fx of 5%%, RSS %.2fx of "
			    "2 KiB/peer; %d peers up in the daemon\n", "",
			    r->idle_cpu / 5.0, r->per_peer / 2048.0,
			    r->peers_seen);
		}
	}
}

static void
json_num(FILE *f, const char *k, double v, int comma)
{
	if (isfinite(v))
		fprintf(f, "\"%s\": %.10g%s", k, v, comma ? ", " : "");
	else
		fprintf(f, "\"%s\": null%s", k, comma ? ", " : "");
}

static void
json_str(FILE *f, const char *k, const char *v, int comma)
{
	fprintf(f, "\"%s\": \"", k);
	for (; v && *v; v++) {
		if (*v == '"' || *v == '\\')
			fputc('\\', f);
		if ((unsigned char)*v >= 0x20)
			fputc(*v, f);
	}
	fprintf(f, "\"%s", comma ? ", " : "");
}

static void
json_idle(FILE *f, const char *id, const char *label, const struct res *r,
    int peers, const struct res *base)
{
	fprintf(f, ",\n    {");
	json_str(f, "id", id, 1);
	json_str(f, "label", label, 1);
	json_str(f, "group", base == r ? "baseline" : "nbmq", 1);
	json_num(f, "peers", peers, 1);
	json_num(f, "ok", r->ok, r->ok ? 1 : 1);
	if (!r->ok) {
		json_str(f, "error", r->err, 0);
		fprintf(f, "}");
		return;
	}
	json_num(f, "cpu_pct", r->idle_cpu, 1);
	json_num(f, "rss_kib", r->rss_kib, peers > 0);
	if (peers > 0) {
		json_num(f, "heartbeats_in_per_s", r->hb_in, 1);
		json_num(f, "heartbeats_out_per_s", r->hb_out, 1);
		json_num(f, "client_cpu_pct", r->farm_cpu, base != r);
		if (base != r) {
			json_num(f, "peers_up_in_daemon", r->peers_seen, 1);
			json_num(f, "rss_per_peer_bytes", r->per_peer, 1);
			json_num(f, "goal_ratio_cpu_5pct", r->idle_cpu / 5, 1);
			json_num(f, "goal_ratio_rss_2kib", r->per_peer / 2048,
			    base != NULL && base->ok && base->idle_cpu > 0);
			if (base != NULL && base->ok && base->idle_cpu > 0) {
				json_str(f, "baseline", peers == opt_peers[0] ?
				    "idle_raw1" : "idle_raw2", 1);
				json_num(f, "ratio_cpu", r->idle_cpu /
				    base->idle_cpu, 0);
			}
		}
	}
	fprintf(f, "}");
}

static void
print_json(FILE *f)
{
	int	first = 1;

	fprintf(f, "{\n  \"machine\": {");
	json_num(f, "nproc", (double)ncpu, 1);
	json_str(f, "cpu", cpu_model, 1);
	json_str(f, "kernel", kernel, 1);
	json_str(f, "loadavg_start", load_start, 1);
	json_str(f, "loadavg_end", load_end, 1);
	json_str(f, "started", started, 0);
	fprintf(f, "},\n  \"settings\": {");
	json_num(f, "reps", opt_reps, 1);
	json_num(f, "secs", opt_secs, 1);
	json_num(f, "idle_secs", opt_idle_secs, 0);
	fprintf(f, "},\n  \"results\": [");
	for (int i = 0; i < NRESULTS; i++) {
		struct res	*r = &results[i];
		const struct res *bs;
		double		 mine, theirs;

		if (r->kind == R_IDLE || !wanted(r->id))
			continue;
		fprintf(f, "%s\n    {", first ? "" : ",");
		first = 0;
		json_str(f, "id", r->id, 1);
		json_str(f, "label", r->label, 1);
		json_str(f, "group", r->nbmq ? "nbmq" : "baseline", 1);
		json_num(f, "ok", r->ok, 1);
		if (!r->ok) {
			json_str(f, "error", r->err, 0);
			fprintf(f, "}");
			continue;
		}
		json_num(f, "size", r->size, 1);
		if (r->kind == R_LAT) {
			const struct res *bb = base_ok(r->base);

			json_num(f, "p50_us", r->p50[0], 1);
			json_num(f, "p99_us", r->p99[0], 1);
			json_num(f, "round_trips_per_s", r->rx_rate[0], 1);
			json_num(f, "lost", (double)r->lost[0], 1);
			if (bb != NULL) {
				json_str(f, "baseline", bb->id, 1);
				json_num(f, "ratio_p50",
				    r->p50[0] / bb->p50[0], 1);
				json_num(f, "ratio_p99",
				    r->p99[0] / bb->p99[0], 1);
			}
			if ((bb = base_ok(r->base2)) != NULL) {
				json_str(f, "baseline2", bb->id, 1);
				json_num(f, "ratio2_p50",
				    r->p50[0] / bb->p50[0], 1);
				json_num(f, "ratio2_p99",
				    r->p99[0] / bb->p99[0], 1);
			}
			json_num(f, "reps", r->reps, 0);
			fprintf(f, "}");
			continue;
		}
		json_num(f, "recv_msgs_per_s", r->rx_rate[0], 1);
		json_num(f, "sent_msgs_per_s", r->tx_rate[0], 1);
		json_num(f, "mb_per_s", r->mbps[0], 1);
		json_num(f, "received_pct", r->pct[0], 1);
		json_num(f, "sent_total", (double)r->sent[0], 1);
		json_num(f, "received_total", (double)r->got[0], 1);
		json_num(f, "received_total_pct", r->sent[0] ? 100.0 *
		    (double)r->got[0] / (double)r->sent[0] : 0, 1);
		json_num(f, "cpu_us_per_msg", r->us_msg[0], 1);
		if (r->nrx > 1) {
			json_num(f, "receivers", r->nrx, 1);
			json_num(f, "worst_received_pct", r->minpct[0], 1);
		}
		if (r->nbmq) {
			json_num(f, "kernel_udp_drops_daemon_b", r->kdrop_b[0],
			    1);
			json_str(f, "daemon_a_drops", r->ddrops[0], 1);
			json_str(f, "daemon_b_drops", r->ddrops[1], 1);
			if (strncmp(r->id, "safe", 4) == 0)
				json_num(f, "giveups", (double)r->giveups[0], 1);
			fprintf(f, "\"cpu_pct\": {");
			json_num(f, "daemon_a", r->cpu_a[0], 1);
			json_num(f, "daemon_b", r->cpu_b[0], 1);
			json_num(f, "sender", r->cpu_tx[0], 1);
			json_num(f, "receiver", r->cpu_rx[0], 0);
			fprintf(f, "}, ");
		}
		if (r->note)
			json_str(f, "note", r->note, 1);
		if (ratio_of(r, r->base, r->base_mb, &mine, &theirs, &bs) == 0) {
			json_str(f, "baseline", bs->id, 1);
			json_str(f, "compared_on", r->base_mb ? "mb_per_s" :
			    "recv_msgs_per_s", 1);
			json_num(f, "ratio", mine / theirs, 1);
			if (!r->base_mb && bs->us_msg[0] > 0)
				json_num(f, "ratio_cpu_per_msg",
				    r->us_msg[0] / bs->us_msg[0], 1);
		}
		if (r->base2 && ratio_of(r, r->base2, 0, &mine, &theirs,
		    &bs) == 0) {
			json_str(f, "baseline2", bs->id, 1);
			json_num(f, "ratio2", mine / theirs, 1);
		}
		json_num(f, "reps", r->reps, 0);
		fprintf(f, "}");
	}
	if (wanted("idle")) {
		if (first)
			fprintf(f, "\n    {\"id\": \"none\"}");
		json_idle(f, "idle_raw0", "raw UDP responder, 0 peers",
		    &idle_base0, 0, &idle_base0);
		json_idle(f, "idle_raw1", "raw UDP responder", &idle_base[0],
		    opt_peers[0], &idle_base[0]);
		json_idle(f, "idle_raw2", "raw UDP responder", &idle_base[1],
		    opt_peers[1], &idle_base[1]);
		json_idle(f, "idle0", "idle nbmqd, 0 peers", &idle0, 0, NULL);
		json_idle(f, "idle1", "idle nbmqd", &idle_rows[0],
		    opt_peers[0], &idle_base[0]);
		json_idle(f, "idle2", "idle nbmqd", &idle_rows[1],
		    opt_peers[1], &idle_base[1]);
	}
	fprintf(f, "\n  ]\n}\n");
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
	    "[--list]\n");
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
		else {
			case_type = strncmp(id, "safe", 4) == 0 ?
			    NBMQ_SAFE_DEALER : strcmp(id, "radio") == 0 ?
			    NBMQ_RADIO : NBMQ_DEALER;
			if (r->size >= (1 << 20))
				case_hwm = 8;
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
	"unixv",
	"dealer64v", "dealer64p", "dealer64", "dealer466", "dealer4k",
	"dealer1mp", "dealer1m", "dealer64s", "dealer1ms", "safe64", "safe1m",
	"radio", "pp",
};

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

	progress("nbmqbench: %ld CPUs, %s, %s; %d x %.1f s per case; %s\n",
	    ncpu, cpu_model, kernel, opt_reps, opt_secs, tmpdir);
	if (!wanted("dealer64") && !wanted("dealer466") && !wanted("dealer4k") &&
	    !wanted("dealer1m") && !wanted("safe64") && !wanted("safe1m") &&
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
