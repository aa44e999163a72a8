/* SPDX-License-Identifier: ISC */
/*
 * proc.c: nbmqbench's processes: the forked children and their
 * reaping, the flags they wait on in shared memory, what /proc says of a
 * process (CPU, RSS, kernel UDP drops), and the daemons' own counters
 * through the control client (ctl/ctlclient.c).
 */
#include "bench.h"

/* ---- process bookkeeping ---- */

char		 tmpdir[256];
pid_t		 daemons[3];
char		 sockpath[3][300];
static pid_t	 kids[16];
static int	 nkids;

double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void
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

double
cpu_self(void)
{
	struct rusage	ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}


void __attribute__((noreturn, format(printf, 1, 2)))
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

void __attribute__((format(printf, 1, 2)))
progress(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fflush(stderr);
}

pid_t
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
int
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

void
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

void
cleanup(void)
{
	char	cmd[300];

	for (int i = 0; i < nkids; i++)
		kill(kids[i], SIGKILL);
	reap_kids(1);
	for (int i = 0; i < 3; i++)
		stop_daemon(i);
	veth_teardown();
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

void
on_signal(int sig)
{
	cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

/* Wait for the parent's go, or a stop. */
int
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

/* A child is ready: the parent's go (or exit), then its CPU clock starts. */
double
child_go(void)
{
	INC(sh->ready);
	if (wait_go() == -1)
		_exit(1);
	return cpu_self();
}

/* Parent: wait until `n` children are ready; 0, or -1 on error/timeout. */
int
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

int
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

double
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

long
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
double
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
void
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


static char	 drop_names[NDROPS][NBMQ_IPC_WORD_LEN];
static int	 have_drop_names;

/* The daemon's counters now (ctlclient.c); st->ok 0 when it cannot say. */
void
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
void
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
