/* SPDX-License-Identifier: ISC */
/*
 * reload.c: the configured sockets, started at start-up and brought in
 * line with the file again on SIGHUP or `nbmqctl reload`.
 *
 * A reload parses the file into a fresh struct config.  With any error the
 * running configuration stays as it is, and every "file:line: key: why"
 * line is logged and goes back to the caller (for nbmqctl).  Otherwise the
 * running configured sockets are matched with the new [socket NAME]
 * sections by name:
 *
 *	section gone			closed; attached applications are
 *					told (IPC_SOCK_GONE)
 *	type, bind or connect changed	closed and started again
 *	socket options changed		applied in place
 *	new section			started
 *
 * New sockets are started before anything is closed, so that one that
 * cannot bind leaves the daemon exactly as it was (-1, "file:line: socket
 * NAME: cannot bind ...").  Only one that finds its port taken, while
 * sockets are being closed, waits for them and is tried again after.
 * [daemon] log_level applies at once; ipc_path, ipc_mode, ipc_group and
 * max_clients need a restart: the running values are kept, and the log
 * says so.  Access control (allow_*, admin_group) applies at once: an
 * application attached to a socket it may no longer attach is detached
 * and told (IPC_SOCK_GONE).  The -S path of the command line wins over ipc_path on every
 * reload, as at start-up.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <systemd/sd-daemon.h>

#include "shell.h"
#include "acl.h"

enum reload_diff {
	RD_SAME,
	RD_OPTIONS,		/* socket options only: applied in place */
	RD_RESTART,		/* type, bind or connect: closed, started */
};

struct reload_count {
	unsigned int	 added, removed, changed;
};

static char	*reload_ipc_override;
static int	 reload_log_adjust;

void
reload_init(const char *ipc_override, int log_adjust)
{
	free(reload_ipc_override);
	reload_ipc_override = NULL;
	if (ipc_override != NULL &&
	    (reload_ipc_override = strdup(ipc_override)) == NULL)
		fatal("strdup");
	reload_log_adjust = log_adjust;
}

int
reload_log_level(int conf_level)
{
	int	 level = conf_level + reload_log_adjust;

	if (level < LOG_ERR)
		level = LOG_ERR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	return level;
}

static const struct sockconf *
reload_find(const struct config *cf, const char *name)
{
	const struct sockconf	*sc;

	TAILQ_FOREACH(sc, &cf->sockets, entry)
		if (strcmp(sc->name, name) == 0)
			return sc;
	return NULL;
}

static int
reload_streq(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static enum reload_diff
reload_diff(const struct sockconf *o, const struct sockconf *n)
{
	if (o == NULL || o->type != n->type || !reload_streq(o->bind,
	    n->bind) || !reload_streq(o->connect, n->connect))
		return RD_RESTART;
	/* STUN settings: started again (a stun socket's index is lost;
	 * its clients register again within their stun_refresh_ivl). */
	if (!reload_streq(o->stun_name, n->stun_name) ||
	    !reload_streq(o->stun_server, n->stun_server) ||
	    !reload_streq(o->stun_allow, n->stun_allow) ||
	    !reload_streq(o->stun_index, n->stun_index) ||
	    !reload_streq(o->stun_index_prefix, n->stun_index_prefix) ||
	    o->stun_index_max != n->stun_index_max)
		return RD_RESTART;
	/* Encryption: started again, new sessions with the new keys. */
	if (!crypt_conf_eq(&o->crypt, &n->crypt))
		return RD_RESTART;
	if (memcmp(&o->o, &n->o, sizeof(o->o)) != 0)
		return RD_OPTIONS;
	return RD_SAME;
}

/* Start one configured socket: 0 with *dp, or an errno. */
static int
reload_sock_start(const struct sockconf *sc, struct dsock **dp)
{
	struct dsock	*d;
	char		 why[1024];
	int		 e;

	*dp = NULL;
	if ((d = dsock_new(sc->type, &sc->o, sc->name)) == NULL)
		return ENOMEM;
	d->configured = 1;
	/* The encryptor first: a connecting socket sends Connect at once. */
	if (crypt_sock_load(&d->core, &sc->crypt, sc->bind != NULL, why,
	    sizeof(why)) != 0) {
		log_warnx("socket %s: %s", sc->name, why);
		dsock_free(d);
		return EINVAL;
	}
	e = sc->bind != NULL ? udp_bind(d, sc->bind) :
	    udp_connect(d, sc->connect);
	if (e == 0)
		e = udp_stun_setup(d, sc);
	if (e != 0) {
		dsock_free(d);
		return e;
	}
	dsock_sync(d, daemon_now());
	*dp = d;
	return 0;
}

/* What to do about a socket that cannot bind, for the common causes. */
static const char *
reload_sock_hint(int e)
{
	switch (e) {
	case EADDRINUSE:
		return " (another socket has that port: ss -ulpn shows whose;"
		    " port 0 takes a free one)";
	case EADDRNOTAVAIL:
		return " (not an address of this host: ip addr shows them;"
		    " 0.0.0.0 or :: for all)";
	case EACCES:
		return " (ports below 1024 need CAP_NET_BIND_SERVICE:"
		    " AmbientCapabilities= in the unit)";
	default:
		return "";
	}
}

/* "file:line: socket NAME: cannot bind ADDR: why (hint)" (malloc'd, or
 * NULL). */
static char *
reload_sock_error(const struct config *cf, const struct sockconf *sc, int e)
{
	char	*s;

	if (asprintf(&s, "%s:%d: socket %s: cannot %s %s: %s%s",
	    sc->file != NULL ? sc->file : "(defaults)", sc->line, sc->name,
	    sc->bind != NULL ? "bind" : "connect",
	    sc->bind != NULL ? sc->bind : sc->connect, strerror(e),
	    reload_sock_hint(e)) == -1)
		return NULL;
	return s;
}

int
reload_start_sockets(const struct config *cf)
{
	const struct sockconf	*sc;
	struct dsock		*d;
	char			*why;
	int			 e;

	TAILQ_FOREACH(sc, &cf->sockets, entry) {
		if ((e = reload_sock_start(sc, &d)) == 0)
			continue;
		if ((why = reload_sock_error(cf, sc, e)) == NULL)
			fatal("asprintf");
		log_errx("%s", why);	/* start-up: nbmqd exits */
		free(why);
		return -1;
	}
	return 0;
}

/*
 * Each configured socket's allow_* points into cf's sections (a reload
 * frees the old ones).  An application attached under the old rules that
 * the new ones refuse is detached, and hears IPC_SOCK_GONE.
 */
void
reload_acls(const struct config *cf)
{
	const struct sockconf	*sc;
	struct dsock		*d;
	struct sub		*u, *next;
	nbmq_time		 now = daemon_now();

	TAILQ_FOREACH(d, &nbmqd->socks, entry) {
		if (!d->configured)
			continue;
		sc = reload_find(cf, d->core.name);
		d->acl = sc != NULL ? sc->acl : NULL;
		for (u = TAILQ_FIRST(&d->subs); u != NULL; u = next) {
			next = TAILQ_NEXT(u, entry);
			if (acl_attach(d->acl, d->core.type,
			    ipc_client_acl(u->c)) == 0)
				continue;
			log_warnx("socket %s: pid %d may no longer attach it: "
			    "detached", d->core.name, (int)u->pid);
			ipc_sock_gone(u);
			dsock_release(u, now);
		}
	}
}

/* New options for a running socket, in place. */
static void
reload_sock_options(struct dsock *d, const struct sockopts *o)
{
	struct sockopts	 keep;
	int		 e;

	/* Datagrams that the kernel refused wait in the outbox: push them. */
	if (o->max_frame_size != d->core.o.max_frame_size)
		udp_flush(d);
	if ((e = dsock_setopts(d, o)) == EBUSY) {
		keep = *o;
		keep.max_frame_size = d->core.o.max_frame_size;
		e = dsock_setopts(d, &keep);
		log_warnx("socket %s: max_frame_size stays %llu while "
		    "frames wait to be sent or acknowledged; reload again "
		    "to change it",
		    d->core.name, (unsigned long long)keep.max_frame_size);
	}
	if (e != 0)
		log_warnx("socket %s: new options refused: %s; the old ones "
		    "stay", d->core.name, strerror(e));
	else
		log_info("socket %s: options changed", d->core.name);
	dsock_sync(d, daemon_now());
}

/*
 * Bring the configured sockets in line with nc.  -1 with *errtext, and
 * nothing changed, when a new socket cannot start.
 */
static int
reload_sockets(const struct config *cur, const struct config *nc,
    struct reload_count *cnt, char **errtext)
{
	const struct sockconf	*sc, *osc, **later = NULL;
	struct dsock		*d, **run = NULL, **added = NULL;
	size_t			 nrun = 0, nadded = 0, nlater = 0, n = 0, i;
	int			 going = 0, e, ret = -1;
	char			*why;

	TAILQ_FOREACH(d, &nbmqd->socks, entry)
		if (d->configured)
			nrun++;
	TAILQ_FOREACH(sc, &nc->sockets, entry)
		n++;
	if ((run = calloc(nrun + 1, sizeof(*run))) == NULL ||
	    (added = calloc(n + 1, sizeof(*added))) == NULL ||
	    (later = calloc(n + 1, sizeof(*later))) == NULL) {
		*errtext = strdup("reload: out of memory");
		goto out;
	}
	nrun = 0;
	TAILQ_FOREACH(d, &nbmqd->socks, entry) {
		if (!d->configured)
			continue;
		run[nrun++] = d;
		sc = reload_find(nc, d->core.name);
		if (sc == NULL || reload_diff(reload_find(cur, d->core.name),
		    sc) == RD_RESTART)
			going = 1;
	}

	/* New sockets first: a failure here leaves everything as it was. */
	TAILQ_FOREACH(sc, &nc->sockets, entry) {
		if (dsock_by_name(sc->name) != NULL)
			continue;
		if ((e = reload_sock_start(sc, &d)) == 0) {
			added[nadded++] = d;
			continue;
		}
		if (e == EADDRINUSE && going) {
			later[nlater++] = sc;	/* maybe a closing one's port */
			continue;
		}
		*errtext = reload_sock_error(nc, sc, e);
		for (i = 0; i < nadded; i++)
			dsock_free(added[i]);
		goto out;
	}
	cnt->added = nadded;

	/* The point of no return: close, restart, change in place. */
	for (i = 0; i < nrun; i++) {
		d = run[i];
		sc = reload_find(nc, d->core.name);
		osc = reload_find(cur, d->core.name);
		if (sc == NULL) {
			log_info("socket %s: removed from the configuration "
			    "(%u application%s attached)", d->core.name,
			    d->nsubs, d->nsubs == 1 ? "" : "s");
			dsock_remove(d);
			cnt->removed++;
			continue;
		}
		switch (reload_diff(osc, sc)) {
		case RD_SAME:
			break;
		case RD_OPTIONS:
			reload_sock_options(d, &sc->o);
			cnt->changed++;
			break;
		case RD_RESTART:
			log_info("socket %s: type or address changed: "
			    "starting it again (%u application%s attached)",
			    d->core.name, d->nsubs, d->nsubs == 1 ? "" : "s");
			dsock_remove(d);
			cnt->changed++;
			later[nlater++] = sc;
			break;
		}
	}
	for (i = 0; i < nlater; i++) {
		sc = later[i];
		if (reload_find(cur, sc->name) == NULL)
			cnt->added++;
		if ((e = reload_sock_start(sc, &d)) == 0)
			continue;
		if ((why = reload_sock_error(nc, sc, e)) != NULL)
			log_warnx("%s; the socket stays closed until the next "
			    "reload", why);
		free(why);
	}
	ret = 0;
out:
	free(run);
	free(added);
	free(later);
	return ret;
}

/* Every line of text as a warning: SIGHUP and nbmqctl reloads alike. */
static void
reload_log_errors(const char *text)
{
	const char	*line, *nl;

	for (line = text; line != NULL && *line != '\0'; line = nl) {
		if ((nl = strchr(line, '\n')) == NULL)
			nl = line + strlen(line);
		if (nl > line)
			log_warnx("%.*s", (int)(nl - line), line);
		if (*nl == '\n')
			nl++;
	}
	log_warnx("configuration unchanged");
}

/* The [daemon] keys that only a restart changes keep their running value. */
static void
reload_daemon_keys(const struct config *cur, struct config *nc)
{
	if (!reload_streq(cur->ipc_path, nc->ipc_path))
		log_warnx("%s: ipc_path %s needs a restart; still %s",
		    nc->path, nc->ipc_path, cur->ipc_path);
	if (cur->ipc_mode != nc->ipc_mode)
		log_warnx("%s: ipc_mode %04o needs a restart; still %04o",
		    nc->path, nc->ipc_mode, cur->ipc_mode);
	if (!reload_streq(cur->ipc_group, nc->ipc_group))
		log_warnx("%s: ipc_group %s needs a restart; still %s",
		    nc->path, nc->ipc_group ? nc->ipc_group : "(none)",
		    cur->ipc_group ? cur->ipc_group : "(none)");
	if (cur->max_clients != nc->max_clients)
		log_warnx("%s: max_clients %llu needs a restart; still %llu",
		    nc->path, (unsigned long long)nc->max_clients,
		    (unsigned long long)cur->max_clients);
	memcpy(nc->ipc_path, cur->ipc_path, sizeof(nc->ipc_path));
	free(nc->ipc_group);
	nc->ipc_group = cur->ipc_group ? strdup(cur->ipc_group) : NULL;
	if (cur->ipc_group != NULL && nc->ipc_group == NULL)
		fatal("strdup");
	nc->ipc_mode = cur->ipc_mode;
	nc->max_clients = cur->max_clients;
}

/*
 * cur takes everything of nc, whatever fields struct config grows; nc is
 * left empty.  The socket list moves by its links: a TAILQ head cannot be
 * copied.
 */
static void
reload_swap(struct config *cur, struct config *nc)
{
	config_free(cur);
	*cur = *nc;
	TAILQ_INIT(&cur->sockets);
	TAILQ_CONCAT(&cur->sockets, &nc->sockets, entry);
	config_init(nc);	/* forget, not free: cur owns it all now */
}

int
reload_config(char **errtext)
{
	struct config		*cur = nbmqd->conf, nc;
	struct reload_count	 cnt;
	struct dsock		*d;
	FILE			*ef;
	char			*buf = NULL;
	size_t			 len = 0;
	unsigned int		 nconf = 0;
	int			 nerr;

	*errtext = NULL;
	if (cur->path == NULL) {
		log_warnx("nbmqd was started without a configuration file: "
		    "nothing to reload");
		*errtext = strdup("nbmqd was started without a configuration "
		    "file: nothing to reload");
		return -1;
	}
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)(daemon_now() / 1000));
	if ((ef = open_memstream(&buf, &len)) == NULL) {
		*errtext = strdup("reload: open_memstream failed");
		goto fail;
	}
	nerr = config_load(&nc, cur->path, ef);
	fclose(ef);
	if (nerr > 0) {
		*errtext = buf;
		goto fail;
	}
	free(buf);
	if (reload_ipc_override != NULL)
		snprintf(nc.ipc_path, sizeof(nc.ipc_path), "%s",
		    reload_ipc_override);
	memset(&cnt, 0, sizeof(cnt));
	if (reload_sockets(cur, &nc, &cnt, errtext) == -1) {
		config_free(&nc);
		goto fail;
	}
	reload_daemon_keys(cur, &nc);
	if (nc.log_level != cur->log_level)
		log_setlevel(reload_log_level(nc.log_level));
	reload_swap(cur, &nc);
	reload_acls(cur);
	nbmqd->mem.max = cur->max_memory;	/* from now on, no restart */

	TAILQ_FOREACH(d, &nbmqd->socks, entry)
		if (d->configured)
			nconf++;
	log_info("configuration reloaded: %u socket%s (+%u -%u ~%u)", nconf,
	    nconf == 1 ? "" : "s", cnt.added, cnt.removed, cnt.changed);
	sd_notify(0, "READY=1");
	return 0;
fail:
	if (*errtext == NULL)
		*errtext = strdup("reload: out of memory");
	reload_log_errors(*errtext);
	sd_notify(0, "READY=1");
	return -1;
}
