/* SPDX-License-Identifier: ISC */
/*
 * main.c: arguments, config, start the modules in order, run the loop,
 * stop them in reverse.  All logic lives in the other files.
 *
 * Under systemd (Type=notify) the daemon says READY=1 once the IPC socket
 * and every configured socket are up, keeps STATUS= current (at most once
 * a second, only when it changed), wraps a reload in RELOADING=1 ... READY=1
 * (reload.c) and sends WATCHDOG=1 at half of WatchdogSec.  Without
 * NOTIFY_SOCKET none of it runs and no timer wakes an idle daemon.
 */
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "shell.h"
#include "ipc.h"

/* The daemon's sockets' two sides: UDP (udp.c) and applications (ipc.c). */
static const struct dsock_io main_dsock_io = {
	.sock_ops = &udp_sock_ops,
	.flush = udp_flush,
	.arm_timer = udp_arm_timer,
	.set_bufs = udp_set_bufs,
	.close = udp_close,
	.deliver = ipc_deliver,
	.push = ipc_push,
	.sock_gone = ipc_sock_gone,
	.sub_link = ipc_sub_link,
	.sub_unlink = ipc_sub_unlink,
	.client_backlogged = ipc_client_backlogged,
	.client_cred = ipc_client_cred,
	.client_version = ipc_client_version,
};

/* The IPC's requests: on sockets (ipcreq.c) and nbmqctl's (ctl.c). */
static const struct ipc_handlers main_ipc_handlers = {
	.request = ipc_request,
	.ctl_request = ctl_request,
	.ctl_resume = ctl_resume,
	.client_gone = ctl_client_gone,
};

#ifndef NBMQD_CONF			/* the Makefile's, from SYSCONFDIR */
#define NBMQD_CONF	"/etc/nbmq/nbmqd.conf"
#endif

/*
 * The configuration, its errors on stderr as "file:line: key: why".  Under
 * systemd (journal) each goes to the journal at err instead, so that
 * journalctl -p err -u nbmqd shows why a start failed.
 */
static int
main_load(struct config *conf, const char *path, int journal)
{
	char	*buf = NULL, *line, *next;
	size_t	 len = 0;
	FILE	*f = journal ? open_memstream(&buf, &len) : NULL;
	int	 nerr;

	nerr = config_load(conf, path, f != NULL ? f : stderr);
	if (f == NULL) {
		if (nerr > 0)
			fprintf(stderr, "nbmqd: %d error%s in the "
			    "configuration\n", nerr, nerr == 1 ? "" : "s");
		return nerr;
	}
	fclose(f);
	log_init(LOG_INFO, 0);
	for (line = buf; line != NULL && *line != '\0'; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		log_errx("%s", line);
	}
	if (nerr > 0)
		log_errx("%d error%s in the configuration: not started", nerr,
		    nerr == 1 ? "" : "s");
	free(buf);
	log_init(LOG_INFO, 1);
	return nerr;
}

static void
usage(void)
{
	printf("usage: nbmqd [-tTvqVh] [-c FILE] [-S IPC_SOCKET_PATH]\n"
	    "  -c FILE        configuration file (default " NBMQD_CONF ")\n"
	    "  -S PATH        IPC socket path (overrides ipc_path)\n"
	    "  -t             check the configuration and exit\n"
	    "  -T             print the effective configuration and exit\n"
	    "  -v             more logging (repeat for debug)\n"
	    "  -q             less logging\n"
	    "  -V, --version  print the version and exit\n"
	    "  -h, --help     this help\n"
	    "\nExit status: 0 success, 1 configuration or start-up error, "
	    "2 usage error.\n");
}

/* A usage error: one line (getopt's, or fmt's), then where to look. */
static int
usage_error(const char *fmt, const char *arg)
{
	if (fmt != NULL) {
		fputs("nbmqd: ", stderr);
		fprintf(stderr, fmt, arg);
		fputc('\n', stderr);
	}
	fputs("Try 'nbmqd --help' for more information.\n", stderr);
	return 2;
}

static struct event	*main_status_ev, *main_watchdog_ev;
static char		 main_status_last[128];

/*
 * Under systemd, log to the journal with priorities: stderr is the
 * journal's stream (JOURNAL_STREAM names its device and inode), or the
 * service has no stderr at all (INVOCATION_ID set, stderr /dev/null or
 * closed).  Otherwise, in the foreground, stderr with timestamps.
 */
static int
main_log_to_stderr(void)
{
	const char		*js = getenv("JOURNAL_STREAM");
	struct stat		 st;
	unsigned long long	 dev, ino;

	if (isatty(STDERR_FILENO))
		return 1;
	if (fstat(STDERR_FILENO, &st) == -1)
		return getenv("INVOCATION_ID") == NULL;
	if (js != NULL && sscanf(js, "%llu:%llu", &dev, &ino) == 2)
		return !((unsigned long long)st.st_dev == dev &&
		    (unsigned long long)st.st_ino == ino);
	return !(getenv("INVOCATION_ID") != NULL && S_ISCHR(st.st_mode));
}

/* STATUS=: sockets, peers, attached applications; sent when it changed. */
static void
main_status(int force)
{
	struct dsock	*d;
	unsigned int	 n = 0, nconf = 0, npeers = 0, nsubs = 0;
	char		 buf[sizeof(main_status_last)];

	TAILQ_FOREACH(d, &nbmqd->socks, entry) {
		n++;
		nconf += d->configured != 0;
		npeers += d->core.npeers;
		nsubs += d->nsubs;
	}
	snprintf(buf, sizeof(buf), "%u socket%s (%u configured), %u peer%s, "
	    "%u attached", n, n == 1 ? "" : "s", nconf, npeers,
	    npeers == 1 ? "" : "s", nsubs);
	if (!force && strcmp(buf, main_status_last) == 0)
		return;
	memcpy(main_status_last, buf, sizeof(buf));
	sd_notifyf(0, "STATUS=%s", buf);
}

static void
main_status_cb(evutil_socket_t fd, short what, void *arg)
{
	main_status(0);
}

static void
main_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

/* The timers exist only under a service manager that listens. */
static void
main_notify_start(void)
{
	struct timeval	 tv;
	uint64_t	 usec;
	const char	*ns = getenv("NOTIFY_SOCKET");

	if (ns == NULL || *ns == '\0')
		return;
	main_status_ev = event_new(nbmqd->base, -1, EV_PERSIST,
	    main_status_cb, NULL);
	if (main_status_ev == NULL)
		fatalx("event_new");
	tv.tv_sec = 1;
	tv.tv_usec = 0;
	event_add(main_status_ev, &tv);
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		main_watchdog_ev = event_new(nbmqd->base, -1, EV_PERSIST,
		    main_watchdog_cb, NULL);
		if (main_watchdog_ev == NULL)
			fatalx("event_new");
		usec /= 2;
		tv.tv_sec = usec / 1000000;
		tv.tv_usec = usec % 1000000;
		event_add(main_watchdog_ev, &tv);
		log_info("systemd watchdog: WATCHDOG=1 every %llu ms",
		    (unsigned long long)usec / 1000);
	}
}

static void
main_notify_stop(void)
{
	if (main_status_ev != NULL)
		event_free(main_status_ev);
	if (main_watchdog_ev != NULL)
		event_free(main_watchdog_ev);
	main_status_ev = main_watchdog_ev = NULL;
}

/*
 * SIGHUP: the file again, swapped in only if it is valid.  reload.c logs
 * the outcome: every error and "configuration unchanged", or a summary.
 */
static void
main_reload(void)
{
	char	*err = NULL;

	log_info("SIGHUP: reloading %s", nbmqd->conf->path != NULL ?
	    nbmqd->conf->path : "the configuration");
	reload_config(&err);
	free(err);
	main_status(1);
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		main_reload();
		return;
	}
	log_info("%s: shutting down", strsignal(sig));
	event_base_loopbreak(nbmqd->base);
}

int
main(int argc, char *argv[])
{
	struct daemon	 d;
	struct config	 conf;
	struct event	*sigs[4];
	const int	 signums[4] = { SIGINT, SIGTERM, SIGHUP, 0 };
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char	*path = NULL, *ipc = NULL;
	int		 ch, check = 0, print = 0, verbose = 0;
	int		 nerr, ret = 0;

	/*
	 * Messages up to max_message_size come and go all the time: keep
	 * them in the heap rather than a fresh, zeroed mmap each.  And never
	 * give the heap back from free(): with the threshold at 4 MiB, a
	 * stream of 1 MiB messages whose working set rose and fell by the
	 * pad had the top trimmed and faulted in again, zeroed, over and
	 * over (safe_dealer 1 MiB: a quarter of daemon B's samples in page
	 * faults, twice its CPU per message).  daemon.c's heap_idle_cb
	 * trims once nothing has moved for 2 s.
	 */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	mallopt(M_TOP_PAD, 32 << 20);
	daemon_heap_thp();

	while ((ch = getopt_long(argc, argv, "c:S:tTvqVh", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'S':
			ipc = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'T':
			print = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'q':
			verbose--;
			break;
		case 'V':
			printf("nbmqd %s\n", NBMQD_VERSION);
			return 0;
		case 'h':
			usage();
			return 0;
		default:
			return usage_error(NULL, NULL);
		}
	}
	if (optind != argc)
		return usage_error("unexpected argument %s", argv[optind]);
	if (ipc != NULL && strlen(ipc) >= NBMQD_IPC_PATH_SIZE) {
		fprintf(stderr, "nbmqd: -S %s: longer than %zu bytes\n", ipc,
		    NBMQD_IPC_PATH_SIZE - 1);
		return usage_error(NULL, NULL);
	}

	log_init(LOG_INFO, 1);
	/*
	 * No file at the default path: config_init's defaults, complete as
	 * they are (conf.path stays NULL: nothing to reload).
	 */
	config_init(&conf);
	if (path == NULL && access(NBMQD_CONF, F_OK) == -1)
		nerr = 0;
	else
		nerr = main_load(&conf, path ? path : NBMQD_CONF,
		    !check && !print && !main_log_to_stderr());
	if (nerr > 0) {
		config_free(&conf);
		return 1;
	}
	if (ipc != NULL)
		snprintf(conf.ipc_path, sizeof(conf.ipc_path), "%s", ipc);
	if (check || print) {
		if (print)
			config_print(&conf, stdout);
		else if (conf.path == NULL)
			printf("configuration OK (no %s: the defaults)\n",
			    NBMQD_CONF);
		else
			printf("configuration OK\n");
		config_free(&conf);
		return 0;
	}
	reload_init(ipc, verbose);
	log_init(reload_log_level(conf.log_level), main_log_to_stderr());

	signal(SIGPIPE, SIG_IGN);
	memset(&d, 0, sizeof(d));
	nbmqd = &d;
	d.io = &main_dsock_io;
	d.conf = &conf;
	d.mem.max = conf.max_memory;
	TAILQ_INIT(&d.socks);
	d.started = daemon_now();
	if ((d.base = event_base_new()) == NULL)
		fatalx("event_base_new");
	d.dns = evdns_base_new(d.base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (d.dns == NULL) {
		/* No resolv.conf: /etc/hosts and numeric names still work. */
		d.dns = evdns_base_new(d.base, 0);
		if (d.dns == NULL)
			fatalx("evdns_base_new");
		evdns_base_load_hosts(d.dns, NULL);
	}
	for (int i = 0; signums[i]; i++) {
		sigs[i] = evsignal_new(d.base, signums[i], main_signal_cb, NULL);
		event_add(sigs[i], NULL);
	}

	if (reload_start_sockets(&conf) == -1 ||
	    ipc_listen(conf.ipc_path, conf.ipc_mode, conf.ipc_group,
	    conf.max_clients, &main_ipc_handlers) == -1 ||
	    metrics_listen(conf.metrics_listen) == -1) {
		ret = 1;
		goto out;
	}
	reload_acls(&conf);
	if (conf.path == NULL)
		log_info("no %s: running on the defaults", NBMQD_CONF);
	log_info("nbmqd %s started", NBMQD_VERSION);
	main_notify_start();
	sd_notify(0, "READY=1");
	main_status(1);
	event_base_dispatch(d.base);
	sd_notify(0, "STOPPING=1");

out:
	main_notify_stop();
	reload_init(NULL, 0);
	metrics_shutdown();
	ipc_shutdown();
	while (!TAILQ_EMPTY(&d.socks))
		dsock_free(TAILQ_FIRST(&d.socks));
	/*
	 * A name lookup cancelled above (udp_close) tells its callback so on
	 * the loop's next turn, from a block libevent allocated for it: with
	 * no turn, valgrind found it lost (int_connfail, a daemon stopped
	 * while nonexistent.invalid was being looked up).  The callbacks
	 * return at once on EVUTIL_EAI_CANCEL.
	 */
	event_base_loop(d.base, EVLOOP_NONBLOCK);
	hmap_free(&d.by_handle);
	for (int i = 0; signums[i]; i++)
		event_free(sigs[i]);
	evdns_base_free(d.dns, 0);
	daemon_heap_stop();
	event_base_free(d.base);
	config_free(&conf);
	return ret;
}
