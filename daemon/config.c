/* SPDX-License-Identifier: ISC */
/*
 * config.c: nbmqd.conf, an ini file read with inih.
 *
 *	[daemon]		ipc_path, ipc_mode, ipc_group, log_level,
 *				max_clients, admin_group
 *	[defaults]		socket options for every socket
 *	[socket NAME]		type, bind or connect, socket options;
 *				name and stun_server (a name at a STUN
 *				server), connect = name@host:port (connect
 *				by name); type stun: stun_allow,
 *				stun_index_max, stun_index,
 *				stun_index_prefix; allow_send, allow_recv,
 *				allow_setopt (acl.c)
 *
 * inih reads the file through config_reader(), which counts lines, handles
 * section headers itself (so that empty, duplicate and unknown sections are
 * seen, with their line, whatever inih's section length limit) and checks
 * the syntax of every other line before inih splits it into key and value
 * for config_handler().  Every error is collected with its line; after the
 * whole file is read, [defaults] is applied to every socket (declared
 * before or after it) for the options the socket did not set itself, and
 * the combinations are checked.  The errors are then printed in line order
 * as "file:line: key: what is wrong".
 */
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <dirent.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include <ini.h>

#include "nbmqd.h"
#include "acl.h"

#define CONFIG_MAXOPTS		64	/* >= entries of opt_table */
#define CONFIG_WHY		256
#define CONFIG_MAX_CLIENTS	100000
#define CONFIG_MAX_CLIENT_SOCKETS 1000000
#define CONFIG_IPC_PATH_MAX	(NBMQD_IPC_PATH_SIZE - 1)

enum config_section {
	SEC_NONE,		/* before the first section */
	SEC_DAEMON,
	SEC_DEFAULTS,
	SEC_SOCKET,
	SEC_IGNORE,		/* a broken header: its keys are skipped */
};

enum config_dkey {
	DK_IPC_PATH,
	DK_IPC_MODE,
	DK_IPC_GROUP,
	DK_LOG_LEVEL,
	DK_MAX_CLIENTS,
	DK_MAX_MEMORY,
	DK_MAX_CLIENT_SOCKETS,
	DK_HELLO_TIMEOUT,
	DK_APP_MAX_HWM,
	DK_APP_MAX_MESSAGE_SIZE,
	DK_ADMIN_GROUP,
	DK_INCLUDE_DIR,
	DK_MAX_CLIENTS_PER_UID,
	DK_METRICS_LISTEN,
	DK_METRICS_PEERS,
	DK_N
};

static const char *const config_dkeys[DK_N] = {
	"ipc_path", "ipc_mode", "ipc_group", "log_level", "max_clients",
	"max_memory",
	"max_client_sockets", "hello_timeout", "app_max_hwm",
	"app_max_message_size", "admin_group", "include_dir", "max_clients_per_uid",
	"metrics_listen", "metrics_peers",
};

/* Keys of later versions: known, so that the message can say so. */
static const char *const config_unsupported[] = {
	NULL
};

/* Encryption keys of [socket NAME] (PROTOCOL.md 4.2), in enum order. */
enum config_ckey {
	CK_ENCRYPTOR,
	CK_PRIVATE_KEY_FILE,
	CK_PEERS,
	CK_PEERS_FILE,
	CK_N
};
static const char *const config_ckeys[CK_N] = {
	"encryptor", "private_key_file", "peers", "peers_file",
};

/* Keys of [socket NAME] besides type, bind, connect and the options. */
static const char *const config_skeys[] = {
	"name", "stun_server", "stun_allow", "stun_index_max", "stun_index",
	"stun_index_prefix", NULL
};

static const struct {
	const char	*name;
	int		 level;
} config_levels[] = {
	{ "err", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

static const struct {
	const char	*name;
	int		 type;
} config_types[] = {
	{ "dealer", NBMQ_DEALER },
	{ "safe_dealer", NBMQ_SAFE_DEALER },
	{ "radio", NBMQ_RADIO },
	{ "dish", NBMQ_DISH },
	{ "stun", NBMQ_STUN },
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* A [socket NAME] section while the file is read. */
struct config_sock {
	struct sockconf	*sc;
	char		*title;		/* "socket NAME" as written */
	int		 listed;	/* in cf->sockets (else discarded) */
	int		 line;		/* its header, as stored (file, line) */
	int		 type_line, bind_line, connect_line;
	int		 name_line, server_line, allow_line, imax_line;
	int		 index_line, prefix_line;
	int		 by_name;	/* connect = name@host:port */
	int		 crypt_line[CK_N];
	int		 acl_line[ACL_NRIGHTS];
	int		 optline[CONFIG_MAXOPTS];	/* 0: from [defaults] */
};

struct config_err {
	int		 line;
	size_t		 seq;
	char		*msg;
};

/*
 * Lines are numbered per file; with include_dir several files are read,
 * so a line as stored is the file's index (0: the main file) above
 * CONFIG_FILE_SHIFT bits and its number below: errors sort by file, then
 * line, and each says its own file.
 */
#define CONFIG_FILE_SHIFT	20
#define CONFIG_LINE_MASK	((1 << CONFIG_FILE_SHIFT) - 1)
#define CONFIG_MAX_INCLUDES	1000
#define CONFIG_LNO(l)		((l) & CONFIG_LINE_MASK)

struct config_parse {
	struct config	*cf;
	const char	*name;		/* file name for messages */
	char		**names;	/* by file index: [0] is name */
	int		 nnames;
	FILE		*errf;
	int		 nerr;
	struct config_err *errs;
	size_t		 nerrs, errcap;

	FILE		*fp;		/* input: a file, */
	const char	*str;		/* or a string */
	char		*line;
	size_t		 linecap;
	int		 lineno;

	enum config_section sec;
	struct config_sock *cur;
	int		 daemon_line, defaults_line;
	int		 dkey_line[DK_N];
	int		 defopt_line[CONFIG_MAXOPTS];
	struct config_sock **socks;
	size_t		 nsocks, sockcap;
};

static void	config_err(struct config_parse *, int, const char *, ...)
		    __attribute__((format(printf, 3, 4)));

/* The name of the file a stored line is in. */
static const char *
config_file_of(const struct config_parse *p, int line)
{
	int	i = line >> CONFIG_FILE_SHIFT;

	return i > 0 && i < p->nnames ? p->names[i] : p->name;
}

/* "line N" in the same file as at, else "FILE:N": for "(first at ...)". */
static const char *
config_where(const struct config_parse *p, int line, int at, char *buf,
    size_t len)
{
	if ((line >> CONFIG_FILE_SHIFT) == (at >> CONFIG_FILE_SHIFT))
		snprintf(buf, len, "line %d", CONFIG_LNO(line));
	else
		snprintf(buf, len, "%s:%d", config_file_of(p, line),
		    CONFIG_LNO(line));
	return buf;
}

const char *
socktype_name(int type)
{
	size_t	 i;

	for (i = 0; i < NITEMS(config_types); i++)
		if (config_types[i].type == type)
			return config_types[i].name;
	return NULL;
}

int
socktype_from_name(const char *name)
{
	size_t	 i;

	for (i = 0; i < NITEMS(config_types); i++)
		if (strcmp(config_types[i].name, name) == 0)
			return config_types[i].type;
	return -1;
}

static const char *
config_level_name(int level)
{
	size_t	 i;

	for (i = 0; i < NITEMS(config_levels); i++)
		if (config_levels[i].level == level)
			return config_levels[i].name;
	return "info";
}

void
config_init(struct config *cf)
{
	memset(cf, 0, sizeof(*cf));
	snprintf(cf->ipc_path, sizeof(cf->ipc_path), "%s",
	    NBMQ_DEFAULT_IPC_PATH);
	cf->ipc_mode = 0660;
	cf->log_level = LOG_INFO;
	cf->max_clients = 1024;
	cf->max_memory = 1ULL << 30;
	cf->max_client_sockets = 1024;
	cf->hello_timeout = 5;
	cf->app_max_hwm = 100000;
	cf->app_max_message_size = 16 << 20;
	opts_defaults(&cf->defaults);
	TAILQ_INIT(&cf->sockets);
}

static void
config_sockconf_free(struct sockconf *sc)
{
	if (sc == NULL)
		return;
	free(sc->bind);
	free(sc->connect);
	free(sc->stun_name);
	free(sc->stun_server);
	free(sc->stun_allow);
	free(sc->stun_index);
	free(sc->stun_index_prefix);
	free(sc->file);
	crypt_conf_free(&sc->crypt);
	sockacl_free(sc->acl);
	free(sc);
}

void
config_free(struct config *cf)
{
	struct sockconf	*sc;

	while ((sc = TAILQ_FIRST(&cf->sockets)) != NULL) {
		TAILQ_REMOVE(&cf->sockets, sc, entry);
		config_sockconf_free(sc);
	}
	free(cf->path);
	free(cf->ipc_group);
	free(cf->admin_group);
	free(cf->include_dir);
	free(cf->metrics_listen);
	config_init(cf);
}

/* Errors. */

static void
config_err(struct config_parse *p, int line, const char *fmt, ...)
{
	struct config_err	*e;
	va_list			 ap;
	char			*msg;
	size_t			 ncap;
	int			 r;

	p->nerr++;
	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		msg = NULL;
	if (msg != NULL && p->nerrs == p->errcap) {
		ncap = p->errcap ? p->errcap * 2 : 16;
		e = reallocarray(p->errs, ncap, sizeof(*e));
		if (e == NULL) {
			free(msg);
			msg = NULL;
		} else {
			p->errs = e;
			p->errcap = ncap;
		}
	}
	if (msg == NULL) {
		/* Out of memory: say what we can, now. */
		if (p->errf != NULL)
			fprintf(p->errf, "%s:%d: out of memory\n",
			    config_file_of(p, line), CONFIG_LNO(line));
		return;
	}
	e = &p->errs[p->nerrs];
	e->line = line;
	e->seq = p->nerrs;
	e->msg = msg;
	p->nerrs++;
}

static int
config_err_cmp(const void *a, const void *b)
{
	const struct config_err	*x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
config_err_at(const struct config_parse *p, int line)
{
	size_t	 i;

	for (i = 0; i < p->nerrs; i++)
		if (p->errs[i].line == line)
			return 1;
	return 0;
}

static void
config_err_flush(struct config_parse *p)
{
	size_t	 i;
	int	 l;

	if (p->nerrs > 1)
		qsort(p->errs, p->nerrs, sizeof(*p->errs), config_err_cmp);
	for (i = 0; i < p->nerrs; i++) {
		l = p->errs[i].line;
		if (p->errf != NULL) {
			if (CONFIG_LNO(l) > 0)
				fprintf(p->errf, "%s:%d: %s\n",
				    config_file_of(p, l), CONFIG_LNO(l),
				    p->errs[i].msg);
			else
				fprintf(p->errf, "%s: %s\n",
				    config_file_of(p, l), p->errs[i].msg);
		}
		free(p->errs[i].msg);
	}
	free(p->errs);
	p->errs = NULL;
	p->nerrs = p->errcap = 0;
}

/* Small parsers. */

static char *
config_lskip(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	return s;
}

static char *
config_trim(char *s)
{
	char	*e;

	s = config_lskip(s);
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Decimal digits only, no sign: 0, or -1. */
static int
config_parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	uint64_t	 n = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > max)
			return -1;
	}
	*v = n;
	return 0;
}

static int
config_valid_name(const char *s)
{
	size_t	 n;

	for (n = 0; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) && s[n] != '_' &&
		    s[n] != '.' && s[n] != '-')
			return 0;
	return n >= 1 && n <= NBMQ_NAME_MAX;
}

/*
 * A light look at "host:port" or "[v6]:port"; addr_parse() does the real
 * work when the socket is set up.  0, or -1 with the reason in why.
 */
static int
config_check_addr(const char *s, int connecting, char *why, size_t len)
{
	const char	*host, *hend, *port, *c;
	uint64_t	 pn;

	if (*s == '\0') {
		snprintf(why, len, "missing address");
		return -1;
	}
	if (*s == '[') {
		host = s + 1;
		if ((hend = strchr(host, ']')) == NULL) {
			snprintf(why, len, "missing ']' after the IPv6 "
			    "address");
			return -1;
		}
		if (hend == host) {
			snprintf(why, len, "empty IPv6 address");
			return -1;
		}
		for (c = host; c < hend; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' &&
			    *c != '.' && *c != '%' &&
			    !isalnum((unsigned char)*c))
				break;
		if (c < hend || memchr(host, ':', hend - host) == NULL) {
			snprintf(why, len, "invalid IPv6 address");
			return -1;
		}
		if (hend[1] == '\0') {
			snprintf(why, len, "missing port");
			return -1;
		}
		if (hend[1] != ':') {
			snprintf(why, len, "expected ':' and a port after "
			    "']'");
			return -1;
		}
		port = hend + 2;
	} else {
		if ((c = strrchr(s, ':')) == NULL) {
			snprintf(why, len, "missing port");
			return -1;
		}
		host = s;
		hend = c;
		port = c + 1;
		if (memchr(host, ':', hend - host) != NULL) {
			snprintf(why, len, "an IPv6 address needs brackets, "
			    "like [::1]:7000");
			return -1;
		}
		if (hend == host) {
			snprintf(why, len, "missing host");
			return -1;
		}
		for (c = host; c < hend; c++)
			if (!isalnum((unsigned char)*c) && *c != '.' &&
			    *c != '-' && *c != '_')
				break;
		if (c < hend) {
			snprintf(why, len, "invalid host");
			return -1;
		}
	}
	if (*port == '\0') {
		snprintf(why, len, "missing port");
		return -1;
	}
	if (strlen(port) > 5 || config_parse_uint(port, 65535, &pn) != 0) {
		snprintf(why, len, "invalid port (0..65535)");
		return -1;
	}
	if (connecting && pn == 0) {
		snprintf(why, len, "cannot connect to port 0");
		return -1;
	}
	return 0;
}

static int
config_is_unsupported(const char *key)
{
	size_t	 i;

	for (i = 0; config_unsupported[i] != NULL; i++)
		if (strcmp(config_unsupported[i], key) == 0)
			return 1;
	return 0;
}

static int
config_is_skey(const char *key)
{
	size_t	 i;

	for (i = 0; config_skeys[i] != NULL; i++)
		if (strcmp(config_skeys[i], key) == 0)
			return 1;
	return 0;
}

static int
config_ckey(const char *key)
{
	int	 i;

	for (i = 0; i < CK_N; i++)
		if (strcmp(config_ckeys[i], key) == 0)
			return i;
	return -1;
}

static int
config_akey(const char *key)
{
	int	 i;

	for (i = 0; i < ACL_NRIGHTS; i++)
		if (strcmp(acl_keys[i], key) == 0)
			return i;
	return -1;
}

static int
config_dkey(const char *key)
{
	int	 i;

	for (i = 0; i < DK_N; i++)
		if (strcmp(config_dkeys[i], key) == 0)
			return i;
	return -1;
}

static int
config_optidx(const char *key, const struct optdesc **dp)
{
	const struct optdesc	*d;
	ptrdiff_t		 i;

	if ((d = opt_by_name(key)) == NULL)
		return -1;
	i = d - opt_table;
	if (i < 0 || i >= CONFIG_MAXOPTS)
		return -1;
	*dp = d;
	return (int)i;
}

/* 1 if key was already set in this section (and says so), else records it. */
static int
config_dup(struct config_parse *p, int *linep, const char *key)
{
	char	w[PATH_MAX + 16];

	if (*linep != 0) {
		config_err(p, p->lineno, "%s: duplicate key (first at %s)",
		    key, config_where(p, *linep, p->lineno, w, sizeof(w)));
		return 1;
	}
	*linep = p->lineno;
	return 0;
}

/*
 * A key that does not belong to the current section: explain where it
 * goes, or that it does not exist.
 */
static void
config_misplaced(struct config_parse *p, const char *key, const char *where)
{
	const struct optdesc	*d;

	if (config_is_unsupported(key))
		config_err(p, p->lineno, "%s: not supported by this version "
		    "of nbmqd", key);
	else if (config_dkey(key) >= 0)
		config_err(p, p->lineno, "%s: only allowed in [daemon]", key);
	else if (config_optidx(key, &d) >= 0)
		config_err(p, p->lineno, "%s: a socket option: put it in "
		    "[defaults] or a [socket NAME] section", key);
	else if (strcmp(key, "type") == 0 || strcmp(key, "bind") == 0 ||
	    strcmp(key, "connect") == 0 || config_is_skey(key) ||
	    config_ckey(key) >= 0 || config_akey(key) >= 0)
		config_err(p, p->lineno, "%s: only allowed in a [socket NAME] "
		    "section", key);
	else
		config_err(p, p->lineno, "%s: unknown key in %s", key, where);
}

/* Sections. */

/* admin_group: one group name or number, resolved now. */
/* include_dir: a relative path is from the main file's directory. */
static void
config_include_dir(struct config_parse *p, const char *key, const char *val)
{
	const char	*slash = strrchr(p->name, '/');
	char		*s;
	int		 r;

	if (*val == '\0') {
		config_err(p, p->lineno, "%s: empty value", key);
		return;
	}
	if (*val == '/' || slash == NULL)
		r = asprintf(&s, "%s", val);
	else
		r = asprintf(&s, "%.*s/%s", (int)(slash - p->name), p->name,
		    val);
	if (r == -1) {
		config_err(p, p->lineno, "%s: out of memory", key);
		return;
	}
	free(p->cf->include_dir);
	p->cf->include_dir = s;
}

static void
config_admin_group(struct config_parse *p, const char *key, const char *val)
{
	struct config	*cf = p->cf;
	struct group	*gr;
	unsigned long	 v;
	char		*end, *s;
	gid_t		 gid;

	if (*val == '\0' || strpbrk(val, " \t,@*") != NULL) {
		config_err(p, p->lineno, "%s: must be one group name or "
		    "number, not \"%.64s\"", key, val);
		return;
	}
	if (isdigit((unsigned char)*val)) {
		errno = 0;
		v = strtoul(val, &end, 10);
		if (errno != 0 || *end != '\0' ||
		    v >= (unsigned long)(gid_t)-1) {
			config_err(p, p->lineno, "%s: must be one group name "
			    "or number, not \"%.64s\"", key, val);
			return;
		}
		gid = (gid_t)v;
	} else if ((gr = getgrnam(val)) != NULL)
		gid = gr->gr_gid;
	else {
		config_err(p, p->lineno, "%s: no group \"%.64s\"", key, val);
		return;
	}
	if ((s = strdup(val)) == NULL) {
		config_err(p, p->lineno, "%s: out of memory", key);
		return;
	}
	free(cf->admin_group);
	cf->admin_group = s;
	cf->admin_gid = gid;
}

static void
config_daemon_key(struct config_parse *p, const char *key, const char *val)
{
	struct config	*cf = p->cf;
	uint64_t	 v;
	char		*s;
	size_t		 i;
	int		 k;

	if ((k = config_dkey(key)) < 0) {
		config_misplaced(p, key, "[daemon]");
		return;
	}
	if (config_dup(p, &p->dkey_line[k], key))
		return;
	switch (k) {
	case DK_IPC_PATH:
	case DK_IPC_GROUP:
		if (k == DK_IPC_PATH && (*val == '\0' ||
		    strlen(val) > CONFIG_IPC_PATH_MAX)) {
			config_err(p, p->lineno, "%s: must be a path of 1 to "
			    "%zu characters", key, CONFIG_IPC_PATH_MAX);
			return;
		}
		if (k == DK_IPC_GROUP) {
			for (i = 0; val[i] != '\0'; i++)
				if (isspace((unsigned char)val[i]) ||
				    val[i] == ':')
					break;
			if (*val == '\0' || val[i] != '\0') {
				config_err(p, p->lineno, "%s: must be a group "
				    "name or number, not \"%.64s\"", key, val);
				return;
			}
		}
		if (k == DK_IPC_PATH) {
			snprintf(cf->ipc_path, sizeof(cf->ipc_path), "%s",
			    val);
			break;
		}
		if ((s = strdup(val)) == NULL) {
			config_err(p, p->lineno, "%s: out of memory", key);
			return;
		}
		free(cf->ipc_group);
		cf->ipc_group = s;
		break;
	case DK_IPC_MODE:
		for (i = 0; val[i] >= '0' && val[i] <= '7'; i++)
			;
		if (i == 0 || i > 4 || val[i] != '\0' ||
		    (v = strtoul(val, NULL, 8)) > 0777) {
			config_err(p, p->lineno, "%s: must be an octal mode "
			    "between 0000 and 0777 (like 0660), not \"%.64s\"",
			    key, val);
			return;
		}
		cf->ipc_mode = (unsigned int)v;
		break;
	case DK_LOG_LEVEL:
		for (i = 0; i < NITEMS(config_levels); i++)
			if (strcmp(config_levels[i].name, val) == 0)
				break;
		if (i == NITEMS(config_levels)) {
			config_err(p, p->lineno, "%s: must be one of err, "
			    "warning, notice, info, debug, not \"%.64s\"",
			    key, val);
			return;
		}
		cf->log_level = config_levels[i].level;
		break;
	case DK_MAX_CLIENTS:
		if (config_parse_uint(val, CONFIG_MAX_CLIENTS, &v) != 0 ||
		    v < 1) {
			config_err(p, p->lineno, "%s: must be an integer "
			    "between 1 and %d, not \"%.64s\"", key,
			    CONFIG_MAX_CLIENTS, val);
			return;
		}
		cf->max_clients = v;
		break;
	case DK_MAX_MEMORY:
		if (opts_parse_bytes(val, &v) != 0 || v < (1ULL << 20) ||
		    v > (1ULL << 40)) {
			config_err(p, p->lineno, "%s: must be a size between "
			    "1M and 1T, not \"%.64s\"", key, val);
			return;
		}
		cf->max_memory = v;
		break;
	case DK_MAX_CLIENTS_PER_UID:
		if (config_parse_uint(val, 1000000, &v) != 0) {
			config_err(p, p->lineno, "%s: must be an integer "
			    "between 0 (3/4 of max_clients) and 1000000, not "
			    "\"%.64s\"", key, val);
			return;
		}
		cf->max_clients_per_uid = v;
		break;
	case DK_MAX_CLIENT_SOCKETS:
		if (config_parse_uint(val, CONFIG_MAX_CLIENT_SOCKETS, &v) != 0 ||
		    v < 1) {
			config_err(p, p->lineno, "%s: must be an integer "
			    "between 1 and %d, not \"%.64s\"", key,
			    CONFIG_MAX_CLIENT_SOCKETS, val);
			return;
		}
		cf->max_client_sockets = v;
		break;
	case DK_HELLO_TIMEOUT:
		if (config_parse_uint(val, 3600, &v) != 0 || v < 1) {
			config_err(p, p->lineno, "%s: must be a number of "
			    "seconds between 1 and 3600, not \"%.64s\"", key,
			    val);
			return;
		}
		cf->hello_timeout = v;
		break;
	case DK_APP_MAX_HWM:
	case DK_APP_MAX_MESSAGE_SIZE: {
		/* Parsed, and bounded, as the option they cap. */
		const struct optdesc	*od = opt_by_name(
		    k == DK_APP_MAX_HWM ? "send_hwm" : "max_message_size");
		struct sockopts		 o;
		char			 why[CONFIG_WHY];

		opts_defaults(&o);
		if (opt_parse(&o, od, val, why, sizeof(why)) != 0) {
			config_err(p, p->lineno, "%s: %s", key, why);
			return;
		}
		if (k == DK_APP_MAX_HWM)
			cf->app_max_hwm = o.send_hwm;
		else
			cf->app_max_message_size = o.max_message_size;
		break;
	}
	case DK_ADMIN_GROUP:
		config_admin_group(p, key, val);
		break;
	case DK_INCLUDE_DIR:
		config_include_dir(p, key, val);
		break;
	case DK_METRICS_LISTEN: {
		struct nbaddr	a;
		uint16_t	port;

		if (addr_parse(val, &a, NULL, 0, &port) != 0) {
			config_err(p, p->lineno, "%s: expected a numeric "
			    "host:port (127.0.0.1:9464, [::1]:9464), not "
			    "\"%.64s\"", key, val);
			return;
		}
		free(cf->metrics_listen);
		if ((cf->metrics_listen = strdup(val)) == NULL)
			config_err(p, p->lineno, "%s: out of memory", key);
		break;
	}
	case DK_METRICS_PEERS:
		if (strcmp(val, "yes") == 0)
			cf->metrics_peers = 1;
		else if (strcmp(val, "no") == 0)
			cf->metrics_peers = 0;
		else
			config_err(p, p->lineno, "%s: must be yes or no, not "
			    "\"%.64s\"", key, val);
		break;
	}
}

/* A socket option into o; 0 if key is not one. */
static int
config_opt_key(struct config_parse *p, struct sockopts *o, int *lines,
    const char *key, const char *val)
{
	const struct optdesc	*d;
	char			 why[CONFIG_WHY];
	int			 i;

	if ((i = config_optidx(key, &d)) < 0)
		return 0;
	if (config_dup(p, &lines[i], key))
		return 1;
	if (opt_parse(o, d, val, why, sizeof(why)) != 0)
		config_err(p, p->lineno, "%s: %s", key, why);
	return 1;
}

static void
config_defaults_key(struct config_parse *p, const char *key, const char *val)
{
	if (!config_opt_key(p, &p->cf->defaults, p->defopt_line, key, val))
		config_misplaced(p, key, "[defaults]");
}

static void
config_addr_key(struct config_parse *p, struct config_sock *cs, char **dst,
    int *linep, const char *key, const char *val)
{
	char		 why[CONFIG_WHY];
	const char	*at, *addr = val;

	if (config_dup(p, linep, key))
		return;
	/* Connect by name: "bob@stun.example.net:3478" (PROTOCOL.md 4.1). */
	if (dst == &cs->sc->connect && (at = strchr(val, '@')) != NULL) {
		if (!stun_valid_name(val, (size_t)(at - val))) {
			config_err(p, p->lineno, "%s: \"%.*s\" before '@' is "
			    "not a valid name (1 to %d characters of A-Z a-z "
			    "0-9 _ . -)", key, (int)(at - val > 64 ? 64 :
			    at - val), val, NBMQ_NAME_MAX);
			return;
		}
		addr = at + 1;
		cs->by_name = 1;
	}
	if (config_check_addr(addr, dst == &cs->sc->connect, why,
	    sizeof(why)) != 0) {
		config_err(p, p->lineno, "%s: %s: expected host:port or "
		    "[v6]:port, not \"%.64s\"", key, why, val);
		return;
	}
	if ((*dst = strdup(val)) == NULL)
		config_err(p, p->lineno, "%s: out of memory", key);
}

/* name, stun_server, stun_allow, stun_index_max of a [socket NAME]. */
static void
config_stun_key(struct config_parse *p, struct config_sock *cs,
    const char *key, const char *val)
{
	struct stun_net	 nets[STUN_ALLOW_MAX];
	char		 why[CONFIG_WHY], **dst;
	uint64_t	 v;

	if (strcmp(key, "stun_index_max") == 0) {
		if (config_dup(p, &cs->imax_line, key))
			return;
		if (config_parse_uint(val, STUN_INDEX_MAX_LIMIT, &v) != 0 ||
		    v < 1) {
			config_err(p, p->lineno, "%s: must be an integer "
			    "between 1 and %d, not \"%.64s\"", key,
			    STUN_INDEX_MAX_LIMIT, val);
			return;
		}
		cs->sc->stun_index_max = v;
		return;
	}
	if (strcmp(key, "name") == 0) {
		if (config_dup(p, &cs->name_line, key))
			return;
		if (!stun_valid_name(val, strlen(val))) {
			config_err(p, p->lineno, "%s: must be 1 to %d "
			    "characters of A-Z a-z 0-9 _ . -, not \"%.64s\"",
			    key, NBMQ_NAME_MAX, val);
			return;
		}
		dst = &cs->sc->stun_name;
	} else if (strcmp(key, "stun_index") == 0) {
		struct stun_index_url	 u;

		if (config_dup(p, &cs->index_line, key))
			return;
		if (stunsrv_parse_index(val, &u, why, sizeof(why)) != 0) {
			config_err(p, p->lineno, "%s: %s", key, why);
			return;
		}
		dst = &cs->sc->stun_index;
	} else if (strcmp(key, "stun_index_prefix") == 0) {
		if (config_dup(p, &cs->prefix_line, key))
			return;
		if (!stunsrv_valid_prefix(val)) {
			config_err(p, p->lineno, "%s: must be 1 to %d "
			    "characters of A-Z a-z 0-9 _ . : -, not \"%.64s\"",
			    key, STUN_INDEX_PREFIX_MAX, val);
			return;
		}
		dst = &cs->sc->stun_index_prefix;
	} else if (strcmp(key, "stun_server") == 0) {
		if (config_dup(p, &cs->server_line, key))
			return;
		if (config_check_addr(val, 1, why, sizeof(why)) != 0) {
			config_err(p, p->lineno, "%s: %s: expected host:port "
			    "or [v6]:port, not \"%.64s\"", key, why, val);
			return;
		}
		dst = &cs->sc->stun_server;
	} else {
		if (config_dup(p, &cs->allow_line, key))
			return;
		if (stunsrv_parse_allow(val, nets, STUN_ALLOW_MAX, why,
		    sizeof(why)) < 0) {
			config_err(p, p->lineno, "%s: %s", key, why);
			return;
		}
		dst = &cs->sc->stun_allow;
	}
	if ((*dst = strdup(val)) == NULL)
		config_err(p, p->lineno, "%s: out of memory", key);
}

/* What a socket of its type may and must have (type known). */
static void
config_check_stun(struct config_parse *p, struct config_sock *cs)
{
	if (cs->sc->type == NBMQ_STUN) {
		for (int r = 0; r < ACL_NRIGHTS; r++)
			if (cs->acl_line[r] != 0)
				config_err(p, cs->acl_line[r], "%s: a stun "
				    "socket has no applications", acl_keys[r]);
		if (cs->connect_line != 0)
			config_err(p, cs->connect_line, "connect: a stun socket "
			    "only binds");
		if (cs->name_line != 0)
			config_err(p, cs->name_line, "name: not for a stun "
			    "socket (it keeps the index of names)");
		if (cs->server_line != 0)
			config_err(p, cs->server_line, "stun_server: not for a "
			    "stun socket");
		return;
	}
	if (cs->allow_line != 0)
		config_err(p, cs->allow_line, "stun_allow: only for type = "
		    "stun");
	if (cs->imax_line != 0)
		config_err(p, cs->imax_line, "stun_index_max: only for type = "
		    "stun");
	if (cs->index_line != 0)
		config_err(p, cs->index_line, "stun_index: only for type = "
		    "stun");
	if (cs->prefix_line != 0)
		config_err(p, cs->prefix_line, "stun_index_prefix: only for "
		    "type = stun");
	if (cs->by_name && cs->server_line != 0)
		config_err(p, cs->server_line, "stun_server: not with connect "
		    "= name@host:port (line %d), which names the stun server",
		    CONFIG_LNO(cs->connect_line));
	else if (cs->name_line != 0 && cs->server_line == 0 && !cs->by_name)
		config_err(p, cs->name_line, "name: needs stun_server (the "
		    "stun socket that keeps the index of names)");
}

/* encryptor, private_key_file, peers, peers_file: checked in
 * config_check_crypt() once the encryptor is known. */
static void
config_crypt_key(struct config_parse *p, struct config_sock *cs, int k,
    const char *val)
{
	struct cryptconf	*cc = &cs->sc->crypt;
	char			**dst[CK_N] = { &cc->encryptor,
				    &cc->private_key_file, &cc->peers,
				    &cc->peers_file };

	if (config_dup(p, &cs->crypt_line[k], config_ckeys[k]))
		return;
	if (*val == '\0') {
		config_err(p, p->lineno, "%s: empty value", config_ckeys[k]);
		return;
	}
	if ((*dst[k] = strdup(val)) == NULL)
		config_err(p, p->lineno, "%s: out of memory", config_ckeys[k]);
}

/*
 * The whole encryption of one socket: the encryptor exists, sodium has its
 * private key (a valid key in a file only its owner reads) and at least
 * one peer, the keys parse, frames fit.  A plugin checks its own keys at
 * start-up; only the private key file's mode is checked for it here.
 */
static void
config_check_crypt(struct config_parse *p, struct config_sock *cs)
{
	struct cryptconf	*cc = &cs->sc->crypt;
	const int		*ln = cs->crypt_line;
	char			 why[CONFIG_WHY + 768];
	uint8_t			 key[CRYPT_KEY_SIZE];
	struct stat		 st;
	int			 sodium, n = 0, m = 0, k;

	if (cc->encryptor == NULL || strcmp(cc->encryptor, "none") == 0) {
		for (k = CK_PRIVATE_KEY_FILE; k < CK_N; k++)
			if (ln[k] != 0)
				config_err(p, ln[k], "%s: the socket is plain "
				    "(encryptor = none): set encryptor = "
				    "sodium to use it", config_ckeys[k]);
		return;
	}
	sodium = strcmp(cc->encryptor, "sodium") == 0;
	if (!sodium && cc->encryptor[0] != '/') {
		config_err(p, ln[CK_ENCRYPTOR], "encryptor: must be none, "
		    "sodium, or the absolute path of a plugin (.so), not "
		    "\"%.64s\"", cc->encryptor);
		return;
	}
	if (!sodium && stat(cc->encryptor, &st) == -1) {
		config_err(p, ln[CK_ENCRYPTOR], "encryptor: %s: %s",
		    cc->encryptor, strerror(errno));
		return;
	}
	if (!sodium && !S_ISREG(st.st_mode)) {
		config_err(p, ln[CK_ENCRYPTOR], "encryptor: %s: not a "
		    "regular file", cc->encryptor);
		return;
	}
	if (cs->sc->type == NBMQ_STUN)
		config_err(p, ln[CK_ENCRYPTOR], "encryptor: not for a stun "
		    "socket (STUN is plain by its RFCs)");
	if (sodium && ln[CK_PRIVATE_KEY_FILE] == 0)
		config_err(p, ln[CK_ENCRYPTOR], "encryptor: sodium needs "
		    "private_key_file (make one with `nbmqctl genkey`)");
	if (sodium && ln[CK_PRIVATE_KEY_FILE] != 0) {
		if (crypt_key_file(cc->private_key_file, key, why,
		    sizeof(why)) != 0)
			config_err(p, ln[CK_PRIVATE_KEY_FILE],
			    "private_key_file: %s", why);
		explicit_bzero(key, sizeof(key));
	} else if (ln[CK_PRIVATE_KEY_FILE] != 0 &&
	    crypt_file_ok(cc->private_key_file, 1, why, sizeof(why)) != 0)
		config_err(p, ln[CK_PRIVATE_KEY_FILE], "private_key_file: %s",
		    why);
	if (!sodium)
		return;
	if (cc->peers != NULL && (n = crypt_peers(cc->peers, NULL, NULL,
	    NULL, why, sizeof(why))) < 0)
		config_err(p, ln[CK_PEERS], "peers: %s", why);
	if (cc->peers_file != NULL && (m = crypt_peers(NULL, cc->peers_file,
	    NULL, NULL, why, sizeof(why))) < 0)
		config_err(p, ln[CK_PEERS_FILE], "peers_file: %s", why);
	if (n == 0 && m == 0)
		config_err(p, ln[CK_ENCRYPTOR], "encryptor: sodium needs the "
		    "public keys of its peers: peers = KEY, ... or "
		    "peers_file = PATH");
	if (cs->sc->o.max_frame_size < crypt_min_frame_size(cc->encryptor))
		config_err(p, ln[CK_ENCRYPTOR], "encryptor: sodium needs "
		    "max_frame_size %llu or more, not %llu",
		    (unsigned long long)crypt_min_frame_size(cc->encryptor),
		    (unsigned long long)cs->sc->o.max_frame_size);
}

/* allow_send, allow_recv, allow_setopt: users and @groups, resolved now. */
static void
config_acl_key(struct config_parse *p, struct config_sock *cs, int r,
    const char *val)
{
	struct sockacl	*sa = cs->sc->acl;
	char		 why[CONFIG_WHY];

	if (config_dup(p, &cs->acl_line[r], acl_keys[r]))
		return;
	if (sa == NULL &&
	    (sa = cs->sc->acl = calloc(1, sizeof(*sa))) == NULL) {
		config_err(p, p->lineno, "%s: out of memory", acl_keys[r]);
		return;
	}
	if (acl_parse(&sa->right[r], val, why, sizeof(why)) == -1) {
		config_err(p, p->lineno, "%s: %s", acl_keys[r], why);
		return;
	}
	if ((sa->text[r] = strdup(val)) == NULL) {
		config_err(p, p->lineno, "%s: out of memory", acl_keys[r]);
		return;
	}
	sa->set[r] = 1;
}

static void
config_socket_key(struct config_parse *p, const char *key, const char *val)
{
	struct config_sock	*cs = p->cur;
	char			 where[96];
	int			 t;

	if (strcmp(key, "type") == 0) {
		if (config_dup(p, &cs->type_line, key))
			return;
		if ((t = socktype_from_name(val)) < 0) {
			config_err(p, p->lineno, "%s: must be one of dealer, "
			    "safe_dealer, radio, dish, stun, not \"%.64s\"",
			    key, val);
			return;
		}
		cs->sc->type = t;
	} else if (config_is_skey(key))
		config_stun_key(p, cs, key, val);
	else if ((t = config_ckey(key)) >= 0)
		config_crypt_key(p, cs, t, val);
	else if ((t = config_akey(key)) >= 0)
		config_acl_key(p, cs, t, val);
	else if (strcmp(key, "bind") == 0)
		config_addr_key(p, cs, &cs->sc->bind, &cs->bind_line, key, val);
	else if (strcmp(key, "connect") == 0)
		config_addr_key(p, cs, &cs->sc->connect, &cs->connect_line,
		    key, val);
	else if (!config_opt_key(p, &cs->sc->o, cs->optline, key, val)) {
		snprintf(where, sizeof(where), "[%.80s]", cs->title);
		config_misplaced(p, key, where);
	}
}

static struct config_sock *
config_sock_new(struct config_parse *p, const char *title, const char *name)
{
	struct config_sock	*cs, **v;
	size_t			 ncap;

	if (p->nsocks == p->sockcap) {
		ncap = p->sockcap ? p->sockcap * 2 : 8;
		if ((v = reallocarray(p->socks, ncap, sizeof(*v))) == NULL)
			return NULL;
		p->socks = v;
		p->sockcap = ncap;
	}
	if ((cs = calloc(1, sizeof(*cs))) == NULL)
		return NULL;
	if ((cs->sc = calloc(1, sizeof(*cs->sc))) == NULL ||
	    (cs->title = strdup(title)) == NULL) {
		free(cs->sc);
		free(cs);
		return NULL;
	}
	snprintf(cs->sc->name, sizeof(cs->sc->name), "%s", name);
	cs->sc->type = 0;
	cs->line = p->lineno;
	cs->sc->line = CONFIG_LNO(p->lineno);
	if ((cs->sc->file = strdup(config_file_of(p, p->lineno))) == NULL) {
		free(cs->title);
		free(cs->sc);
		free(cs);
		return NULL;
	}
	opts_defaults(&cs->sc->o);
	p->socks[p->nsocks++] = cs;
	return cs;
}

static struct config_sock *
config_sock_find(struct config_parse *p, const char *name)
{
	size_t	 i;

	for (i = 0; i < p->nsocks; i++)
		if (p->socks[i]->listed &&
		    strcmp(p->socks[i]->sc->name, name) == 0)
			return p->socks[i];
	return NULL;
}

/* A section header "[title]". */
static void
config_section(struct config_parse *p, char *title)
{
	struct config_sock	*cs, *first;
	char			*name, w[PATH_MAX + 16];
	int			*linep = NULL;

	p->cur = NULL;
	p->sec = SEC_IGNORE;
	if (strcmp(title, "daemon") == 0) {
		p->sec = SEC_DAEMON;
		linep = &p->daemon_line;
	} else if (strcmp(title, "defaults") == 0) {
		p->sec = SEC_DEFAULTS;
		linep = &p->defaults_line;
	}
	if (linep != NULL) {
		/* A repeated section goes on where the first one left. */
		if (p->names != NULL && (p->lineno >> CONFIG_FILE_SHIFT) > 0)
			config_err(p, p->lineno, "[%s]: only in the main "
			    "configuration file (%s), not in include_dir",
			    title, p->name);
		else if (*linep != 0)
			config_err(p, p->lineno, "[%s]: duplicate section "
			    "(first at %s)", title, config_where(p, *linep,
			    p->lineno, w, sizeof(w)));
		else
			*linep = p->lineno;
		return;
	}
	if (strncmp(title, "socket", 6) != 0 ||
	    (title[6] != '\0' && !isspace((unsigned char)title[6]))) {
		config_err(p, p->lineno, "[%.80s]: unknown section (expected "
		    "[daemon], [defaults] or [socket NAME])", title);
		return;
	}
	name = config_trim(title + 6);
	if ((cs = config_sock_new(p, title, name)) == NULL) {
		config_err(p, p->lineno, "[%.80s]: out of memory", title);
		return;
	}
	p->sec = SEC_SOCKET;
	p->cur = cs;
	/*
	 * A bad or repeated name: the section is still read and checked,
	 * then discarded.
	 */
	if (!config_valid_name(name))
		config_err(p, p->lineno, "[%.80s]: invalid socket name: "
		    "1 to %d characters of A-Z a-z 0-9 _ . -", title,
		    NBMQ_NAME_MAX);
	else if ((first = config_sock_find(p, name)) != NULL)
		config_err(p, p->lineno, "[%s]: duplicate section (first at "
		    "%s)", title, config_where(p, first->line, p->lineno, w,
		    sizeof(w)));
	else {
		cs->listed = 1;
		TAILQ_INSERT_TAIL(&p->cf->sockets, cs->sc, entry);
	}
}

/* Reading. */

/* The next line without its end of line, or NULL at the end. */
static char *
config_getline(struct config_parse *p, size_t *lenp)
{
	const char	*e;
	ssize_t		 r;
	size_t		 n;
	char		*nl;

	if (p->fp != NULL) {
		if ((r = getline(&p->line, &p->linecap, p->fp)) < 0)
			return NULL;
		n = (size_t)r;
	} else {
		if (p->str == NULL || *p->str == '\0')
			return NULL;
		e = strchr(p->str, '\n');
		n = e != NULL ? (size_t)(e - p->str) + 1 : strlen(p->str);
		if (n + 1 > p->linecap) {
			if ((nl = realloc(p->line, n + 1)) == NULL)
				return NULL;
			p->line = nl;
			p->linecap = n + 1;
		}
		memcpy(p->line, p->str, n);
		p->line[n] = '\0';
		p->str += n;
	}
	if (n > 0 && p->line[n - 1] == '\n')
		p->line[--n] = '\0';
	if (n > 0 && p->line[n - 1] == '\r')
		p->line[--n] = '\0';
	*lenp = n;
	return p->line;
}

/*
 * Look at one line.  Returns what inih should see: the line itself for
 * "key = value", or NULL (a blank line) for comments, section headers
 * (handled here) and lines with errors (reported here).
 */
static char *
config_line(struct config_parse *p, char *s, size_t len)
{
	char	*e, *rest;
	size_t	 i;

	if (strlen(s) != len) {
		config_err(p, p->lineno, "syntax error: NUL byte in line");
		return NULL;
	}
	if (CONFIG_LNO(p->lineno) == 1 && strncmp(s, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	s = config_lskip(s);
	if (*s == '\0' || *s == ';' || *s == '#')
		return NULL;
	if (*s == '[') {
		if ((e = strchr(s, ']')) == NULL) {
			config_err(p, p->lineno, "syntax error: section "
			    "header without ']'");
			p->cur = NULL;
			p->sec = SEC_IGNORE;
			return NULL;
		}
		*e = '\0';
		rest = config_lskip(e + 1);
		if (*rest != '\0' && *rest != ';' && *rest != '#')
			config_err(p, p->lineno, "[%.80s]: unexpected text "
			    "after ']'", s + 1);
		config_section(p, config_trim(s + 1));
		return NULL;
	}
	/* inih's rules: the first '=' or ':' before an inline comment. */
	for (i = 0; s[i] != '\0' && s[i] != '=' && s[i] != ':'; i++)
		if (s[i] == ';' && i > 0 && isspace((unsigned char)s[i - 1]))
			break;
	if (s[i] != '=' && s[i] != ':') {
		config_err(p, p->lineno, "syntax error: expected \"key = "
		    "value\"");
		return NULL;
	}
	return s;
}

static char *
config_reader(char *str, int num, void *stream)
{
	struct config_parse	*p = stream;
	char			*raw, *s;
	size_t			 len;

	if (num < 2 || (raw = config_getline(p, &len)) == NULL)
		return NULL;
	p->lineno++;
	if (len + 2 > (size_t)num) {
		config_err(p, p->lineno, "syntax error: line too long (at most "
		    "%d characters)", num - 2);
		s = NULL;
	} else
		s = config_line(p, raw, len);
	if (s == NULL)
		s = "";
	len = strlen(s);
	memcpy(str, s, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int
config_handler(void *user, const char *section, const char *key,
    const char *val)
{
	struct config_parse	*p = user;

	if (*key == '\0') {
		config_err(p, p->lineno, "syntax error: missing key before "
		    "'='");
		return 1;
	}
	switch (p->sec) {
	case SEC_NONE:
		config_err(p, p->lineno, "%.64s: outside of any section (start "
		    "with [daemon], [defaults] or [socket NAME])", key);
		break;
	case SEC_DAEMON:
		config_daemon_key(p, key, val);
		break;
	case SEC_DEFAULTS:
		config_defaults_key(p, key, val);
		break;
	case SEC_SOCKET:
		config_socket_key(p, key, val);
		break;
	case SEC_IGNORE:
		break;
	}
	return 1;
}

/* The whole file is read: defaults, required keys, combinations. */
static void
config_finish(struct config_parse *p)
{
	struct config		*cf = p->cf;
	struct config_sock	*cs;
	const struct optdesc	*d;
	char			 why[CONFIG_WHY];
	size_t			 i;
	int			 defaults_ok = 1, own, j;

	if (opts_validate(&cf->defaults, why, sizeof(why)) != 0) {
		defaults_ok = 0;
		config_err(p, p->defaults_line, "[defaults]: %s", why);
	}
	for (i = 0; i < p->nsocks; i++) {
		cs = p->socks[i];
		if (cs->type_line == 0)
			config_err(p, cs->line, "type: missing in [%.80s] "
			    "(dealer, safe_dealer, radio, dish or stun)",
			    cs->title);
		else
			config_check_stun(p, cs);
		if (cs->bind_line != 0 && cs->connect_line != 0) {
			if (cs->bind_line > cs->connect_line)
				config_err(p, cs->bind_line, "bind: cannot be "
				    "used with connect (line %d): a socket "
				    "binds or connects",
				    CONFIG_LNO(cs->connect_line));
			else
				config_err(p, cs->connect_line, "connect: "
				    "cannot be used with bind (line %d): a "
				    "socket binds or connects",
				    CONFIG_LNO(cs->bind_line));
		} else if (cs->bind_line == 0 && cs->connect_line == 0)
			config_err(p, cs->line, "[%.80s]: needs bind or "
			    "connect", cs->title);
		own = 0;
		for (d = opt_table, j = 0; d->name != NULL &&
		    j < CONFIG_MAXOPTS; d++, j++) {
			if (cs->optline[j] != 0)
				own = 1;
			else
				memcpy((char *)&cs->sc->o + d->off,
				    (const char *)&cf->defaults + d->off,
				    sizeof(uint64_t));
		}
		/* Bad [defaults] alone were reported once, above. */
		if ((own || defaults_ok) &&
		    opts_validate(&cs->sc->o, why, sizeof(why)) != 0)
			config_err(p, cs->line, "[%.80s]: %s", cs->title,
			    why);
		config_check_crypt(p, cs);
	}
}

static void
config_parse_free(struct config_parse *p)
{
	struct config_sock	*cs;
	size_t			 i;

	for (i = 0; i < p->nsocks; i++) {
		cs = p->socks[i];
		if (!cs->listed)
			config_sockconf_free(cs->sc);
		free(cs->title);
		free(cs);
	}
	free(p->socks);
	free(p->line);
	for (int k = 1; k < p->nnames; k++)
		free(p->names[k]);
	free(p->names);
}

/* include_dir's files: NAME.conf, not hidden. */
static int
config_inc_filter(const struct dirent *e)
{
	size_t	n = strlen(e->d_name);

	return e->d_name[0] != '.' && n > 5 &&
	    strcmp(e->d_name + n - 5, ".conf") == 0;
}

/* One file of include_dir, as file index idx: [socket NAME] sections. */
static void
config_include(struct config_parse *p, int idx, const char *path, int at)
{
	FILE	*fp;
	int	 r, base = idx << CONFIG_FILE_SHIFT;

	if ((fp = fopen(path, "r")) == NULL) {
		config_err(p, at, "include_dir: %s: cannot open: %s", path,
		    strerror(errno));
		return;
	}
	p->fp = fp;
	p->str = NULL;
	p->sec = SEC_NONE;
	p->cur = NULL;
	p->lineno = base;
	r = ini_parse_stream(config_reader, p, config_handler, p);
	if (r == -2)
		config_err(p, p->lineno, "out of memory");
	else if (r > 0 && !config_err_at(p, base | r))
		config_err(p, base | r, "syntax error");
	if (ferror(fp) || !feof(fp))
		config_err(p, base, "read error after line %d",
		    CONFIG_LNO(p->lineno));
	fclose(fp);
}

/*
 * The *.conf files of include_dir, in the C locale's order of their names,
 * after the main file: packages and tools drop sockets in.  A missing
 * directory is an error (at the include_dir line): a typo must not
 * silently leave sockets out.
 */
static void
config_includes(struct config_parse *p)
{
	struct dirent	**ents = NULL;
	const char	 *dir = p->cf->include_dir;
	char		  path[PATH_MAX];
	int		  n, at = p->dkey_line[DK_INCLUDE_DIR];

	if ((n = scandir(dir, &ents, config_inc_filter, alphasort)) == -1) {
		config_err(p, at, "include_dir: %s: %s", dir, strerror(errno));
		return;
	}
	if (n >= CONFIG_MAX_INCLUDES) {
		config_err(p, at, "include_dir: %s: %d files, at most %d", dir,
		    n, CONFIG_MAX_INCLUDES - 1);
		n = CONFIG_MAX_INCLUDES - 1;
	}
	if ((p->names = calloc((size_t)n + 1, sizeof(*p->names))) == NULL)
		config_err(p, at, "include_dir: out of memory");
	p->nnames = 1;
	for (int i = 0; i < n && p->names != NULL; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    ents[i]->d_name) >= sizeof(path) ||
		    (p->names[p->nnames] = strdup(path)) == NULL) {
			config_err(p, at, "include_dir: %s: name too long or "
			    "out of memory", ents[i]->d_name);
			continue;
		}
		p->nnames++;
		config_include(p, p->nnames - 1, path, at);
	}
	for (int i = 0; ents != NULL && i < n; i++)
		free(ents[i]);
	free(ents);
}

/* Read fp or text into cf (from config_init); returns the error count. */
static int
config_parse(struct config *cf, const char *name, FILE *fp, const char *text,
    FILE *errf)
{
	struct config_parse	 p;
	int			 r;

	memset(&p, 0, sizeof(p));
	p.cf = cf;
	p.name = name;
	p.errf = errf;
	p.fp = fp;
	p.str = text;
	p.sec = SEC_NONE;

	if ((cf->path = strdup(name)) == NULL)
		config_err(&p, 0, "out of memory");
	r = ini_parse_stream(config_reader, &p, config_handler, &p);
	if (r == -2)
		config_err(&p, p.lineno, "out of memory");
	else if (r > 0 && !config_err_at(&p, r))
		config_err(&p, r, "syntax error");
	if (fp != NULL && (ferror(fp) || !feof(fp)))
		config_err(&p, 0, "read error after line %d", p.lineno);
	else if (fp == NULL && p.str != NULL && *p.str != '\0')
		config_err(&p, p.lineno, "out of memory");
	if (cf->include_dir != NULL)
		config_includes(&p);
	config_finish(&p);
	config_err_flush(&p);
	config_parse_free(&p);
	if (p.nerr > 0)
		config_free(cf);
	return p.nerr;
}

int
config_load(struct config *cf, const char *path, FILE *errf)
{
	FILE	*fp;
	int	 n;

	config_init(cf);
	if ((fp = fopen(path, "r")) == NULL) {
		if (errf != NULL)
			fprintf(errf, "%s: cannot open: %s\n", path,
			    strerror(errno));
		return 1;
	}
	n = config_parse(cf, path, fp, NULL, errf);
	fclose(fp);
	return n;
}

int
config_load_string(struct config *cf, const char *name, const char *text,
    FILE *errf)
{
	config_init(cf);
	return config_parse(cf, name, NULL, text, errf);
}

void
config_print(const struct config *cf, FILE *fp)
{
	const struct sockconf	*sc;
	const struct optdesc	*d;
	const char		*t;
	char			 buf[64];

	fprintf(fp, "# nbmqd %s: the effective configuration", NBMQD_VERSION);
	if (cf->path != NULL)
		fprintf(fp, " from %s", cf->path);
	fprintf(fp, ",\n# every default filled in.\n\n");

	fprintf(fp, "[daemon]\n");
	fprintf(fp, "ipc_path = %s\n", cf->ipc_path);
	fprintf(fp, "ipc_mode = %04o\n", cf->ipc_mode);
	if (cf->ipc_group != NULL)
		fprintf(fp, "ipc_group = %s\n", cf->ipc_group);
	else
		fprintf(fp, "# ipc_group: not set, the daemon's own group\n");
	fprintf(fp, "log_level = %s\n", config_level_name(cf->log_level));
	fprintf(fp, "max_clients = %" PRIu64 "\n", cf->max_clients);
	fprintf(fp, "max_memory = %" PRIu64 "\n", cf->max_memory);
	fprintf(fp, "max_client_sockets = %" PRIu64 "\n",
	    cf->max_client_sockets);
	fprintf(fp, "max_clients_per_uid = %" PRIu64 "\n",
	    cf->max_clients_per_uid);
	if (cf->metrics_listen != NULL)
		fprintf(fp, "metrics_listen = %s\n", cf->metrics_listen);
	else
		fprintf(fp, "# metrics_listen: not set, no /metrics\n");
	fprintf(fp, "metrics_peers = %s\n", cf->metrics_peers ? "yes" : "no");
	fprintf(fp, "hello_timeout = %" PRIu64 "\n", cf->hello_timeout);
	fprintf(fp, "app_max_hwm = %" PRIu64 "\n", cf->app_max_hwm);
	fprintf(fp, "app_max_message_size = %" PRIu64 "\n",
	    cf->app_max_message_size);
	if (cf->admin_group != NULL)
		fprintf(fp, "admin_group = %s\n", cf->admin_group);
	else
		fprintf(fp, "# admin_group: not set, root and the daemon's "
		    "user only\n");
	/* Its sockets are printed below, each from its own file: read
	 * again, this output must not define them twice. */
	if (cf->include_dir != NULL)
		fprintf(fp, "# include_dir = %s (its sockets are below)\n",
		    cf->include_dir);

	fprintf(fp, "\n[defaults]\n");
	for (d = opt_table; d->name != NULL; d++) {
		opt_format(&cf->defaults, d, buf, sizeof(buf));
		fprintf(fp, "%s = %s\n", d->name, buf);
	}

	TAILQ_FOREACH(sc, &cf->sockets, entry) {
		fprintf(fp, "\n[socket %s]\n", sc->name);
		if ((t = socktype_name(sc->type)) != NULL)
			fprintf(fp, "type = %s\n", t);
		if (sc->bind != NULL)
			fprintf(fp, "bind = %s\n", sc->bind);
		if (sc->connect != NULL)
			fprintf(fp, "connect = %s\n", sc->connect);
		if (sc->stun_name != NULL)
			fprintf(fp, "name = %s\n", sc->stun_name);
		if (sc->stun_server != NULL)
			fprintf(fp, "stun_server = %s\n", sc->stun_server);
		if (sc->stun_allow != NULL)
			fprintf(fp, "stun_allow = %s\n", sc->stun_allow);
		if (sc->type == NBMQ_STUN)
			fprintf(fp, "stun_index_max = %llu\n",
			    (unsigned long long)(sc->stun_index_max ?
			    sc->stun_index_max : STUN_INDEX_MAX_DEFAULT));
		if (sc->type == NBMQ_STUN)
			fprintf(fp, "stun_index = %s\nstun_index_prefix = "
			    "%s\n", sc->stun_index != NULL ? sc->stun_index :
			    "memory", sc->stun_index_prefix != NULL ?
			    sc->stun_index_prefix : STUN_INDEX_PREFIX);
		if (sc->crypt.encryptor != NULL)
			fprintf(fp, "encryptor = %s\n", sc->crypt.encryptor);
		if (sc->crypt.private_key_file != NULL)
			fprintf(fp, "private_key_file = %s\n",
			    sc->crypt.private_key_file);
		if (sc->crypt.peers != NULL)
			fprintf(fp, "peers = %s\n", sc->crypt.peers);
		if (sc->crypt.peers_file != NULL)
			fprintf(fp, "peers_file = %s\n", sc->crypt.peers_file);
		for (int r = 0; sc->acl != NULL && r < ACL_NRIGHTS; r++)
			if (sc->acl->set[r])
				fprintf(fp, "%s = %s\n", acl_keys[r],
				    sc->acl->text[r]);
		for (d = opt_table; d->name != NULL; d++) {
			opt_format(&sc->o, d, buf, sizeof(buf));
			fprintf(fp, "%s = %s\n", d->name, buf);
		}
	}
}
