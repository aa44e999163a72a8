/*
 * main.c: arguments, config, start the modules in order, run the loop,
 * stop them in reverse.  All logic lives in the other files.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "nbmqd.h"

#define NBMQD_CONF	"/etc/nbmq/nbmqd.conf"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: nbmqd [-tTvqh] [-c FILE] [-S IPC_SOCKET_PATH]\n"
	    "  -c FILE   configuration file (default " NBMQD_CONF ")\n"
	    "  -S PATH   IPC socket path (overrides ipc_path)\n"
	    "  -t        check the configuration and exit\n"
	    "  -T        print the effective configuration and exit\n"
	    "  -v        more logging (repeat for debug)\n"
	    "  -q        less logging\n"
	    "  -V        print the version and exit\n"
	    "  -h        this help\n");
}

static void
main_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	if (sig == SIGHUP) {
		log_warnx("SIGHUP: reload is not implemented yet; "
		    "configuration unchanged");
		return;
	}
	log_info("%s: shutting down", strsignal(sig));
	event_base_loopbreak(nbmqd->base);
}

/* Configured sockets live as long as the daemon. */
static int
main_start_sockets(struct config *conf)
{
	struct sockconf	*sc;
	struct dsock	*d;
	int		 e;

	TAILQ_FOREACH(sc, &conf->sockets, entry) {
		if ((d = dsock_new(sc->type, &sc->o, sc->name)) == NULL)
			fatal("socket %s", sc->name);
		d->configured = 1;
		e = sc->bind ? udp_bind(d, sc->bind) : udp_connect(d, sc->connect);
		if (e != 0) {
			log_warnx("%s:%d: socket %s: cannot %s %s: %s",
			    conf->path, sc->line, sc->name,
			    sc->bind ? "bind" : "connect",
			    sc->bind ? sc->bind : sc->connect, strerror(e));
			return -1;
		}
		dsock_sync(d, daemon_now());
	}
	return 0;
}

static unsigned int
main_count_sockets(void)
{
	struct dsock	*d;
	unsigned int	 n = 0;

	TAILQ_FOREACH(d, &nbmqd->socks, entry)
		n++;
	return n;
}

int
main(int argc, char *argv[])
{
	struct daemon	 d;
	struct config	 conf;
	struct event	*sigs[4];
	const int	 signums[4] = { SIGINT, SIGTERM, SIGHUP, 0 };
	const char	*path = NULL, *ipc = NULL;
	int		 ch, check = 0, print = 0, verbose = 0;
	int		 nerr, level, ret = 0;

	while ((ch = getopt(argc, argv, "c:S:tTvqVh")) != -1) {
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
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	log_init(LOG_INFO, 1);
	config_init(&conf);
	if (path == NULL && access(NBMQD_CONF, F_OK) == -1)
		nerr = 0;	/* no file at the default path: all defaults */
	else
		nerr = config_load(&conf, path ? path : NBMQD_CONF, stderr);
	if (nerr > 0) {
		fprintf(stderr, "nbmqd: %d error%s in the configuration\n",
		    nerr, nerr == 1 ? "" : "s");
		config_free(&conf);
		return 1;
	}
	if (ipc != NULL) {
		free(conf.ipc_path);
		if ((conf.ipc_path = strdup(ipc)) == NULL)
			fatal("strdup");
	}
	if (check || print) {
		if (print)
			config_print(&conf, stdout);
		else
			printf("configuration OK\n");
		config_free(&conf);
		return 0;
	}
	level = conf.log_level + verbose;
	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	log_init(level, 1);

	signal(SIGPIPE, SIG_IGN);
	memset(&d, 0, sizeof(d));
	nbmqd = &d;
	d.conf = &conf;
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

	if (main_start_sockets(&conf) == -1 ||
	    ipc_listen(conf.ipc_path, conf.ipc_mode, conf.ipc_group,
	    conf.max_clients) == -1) {
		ret = 1;
		goto out;
	}
	log_info("nbmqd %s started", NBMQD_VERSION);
	sd_notifyf(0, "READY=1\nSTATUS=%u configured sockets",
	    main_count_sockets());
	event_base_dispatch(d.base);
	sd_notify(0, "STOPPING=1");

out:
	ipc_shutdown();
	while (!TAILQ_EMPTY(&d.socks))
		dsock_free(TAILQ_FIRST(&d.socks));
	for (int i = 0; signums[i]; i++)
		event_free(sigs[i]);
	evdns_base_free(d.dns, 0);
	event_base_free(d.base);
	config_free(&conf);
	return ret;
}
