/* SPDX-License-Identifier: ISC */
/*
 * nbmqctl: look into a running nbmqd, and steer it.
 *
 *	nbmqctl [-S socket] [-w seconds] [--json] COMMAND [ARGS]
 *
 * It speaks the IPC protocol through the control client it shares with
 * the bench (ctlclient.c, over nbmq-protocol.h and ipc-codec.c):
 * IPC_HELLO, then control requests, each answered with one struct or a
 * streamed list ending in IPC_CTL_END.  Every answer is checked (exact
 * lengths, terminated strings, the request id, the count of a list)
 * before a field is printed.  Two output backends, like bgpctl's struct
 * output: aligned tables for people, JSON with stable field names for
 * scripts.  Every wait has a deadline.
 *
 * Exit status: 0 success, 1 failure (no daemon, refused, a bad config on
 * reload), 2 usage error.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "nbmq.h"
#include "nbmq-protocol.h"
#include "ctlclient.h"
#include "promtext.h"

#define PROG		"nbmqctl"
#define DEFAULT_WAIT_MS	5000

enum { EX_OK = 0, EX_FAIL = 1, EX_USAGE = 2 };

/* The connection to the daemon and what was learnt on it. */
struct conn {
	struct ctl	 ctl;
	char		 reasons[NBMQ_IPC_NDROPS][NBMQ_IPC_WORD_LEN];
};

/* One output backend per format (bgpctl's struct output). */
struct output {
	void	(*status)(const struct ipc_ctl_status *);
	void	(*sockets)(const struct conn *, const struct ipc_ctl_sock *,
		    uint32_t n);
	void	(*peers)(const struct conn *, const struct ipc_ctl_peer *,
		    uint32_t n);
	void	(*stats)(const struct conn *, const struct ipc_ctl_stats *);
	void	(*reloaded)(void);
	void	(*index)(const struct ipc_ctl_index *, uint32_t n);
};

struct cmd {
	const char	*name;
	int		(*fn)(struct conn *, const struct output *,
			    const char *arg);
	const char	*args;		/* synopsis of the arguments */
	int		 maxargs;
	const char	*help;
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(EX_FAIL);
}

/* ---- the IPC (ctlclient.c): every failure is fatal here ----------- */

static void
need(struct conn *c, int r)
{
	if (r == -1)
		die("%s", c->ctl.err);
}

/* ---- formatting ------------------------------------------------------- */

/* "1.2s", "42s", "5m02s", "3h05m", "2d03h". */
static void
fmt_age(char *b, size_t len, uint64_t ms)
{
	uint64_t	s = ms / 1000;

	if (ms < 10000)
		snprintf(b, len, "%.1fs", (double)ms / 1000);
	else if (s < 60)
		snprintf(b, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(b, len, "%llum%02llus", (unsigned long long)s / 60,
		    (unsigned long long)s % 60);
	else if (s < 86400)
		snprintf(b, len, "%lluh%02llum", (unsigned long long)s / 3600,
		    (unsigned long long)s / 60 % 60);
	else
		snprintf(b, len, "%llud%02lluh", (unsigned long long)s / 86400,
		    (unsigned long long)s / 3600 % 24);
}

/* "1.2s ago", never a zero timestamp: "never". */
static void
fmt_ago(char *b, size_t len, uint64_t ms)
{
	char	a[32];

	if (ms == IPC_CTL_NEVER) {
		snprintf(b, len, "never");
		return;
	}
	fmt_age(a, sizeof(a), ms);
	snprintf(b, len, "%s ago", a);
}

static void
fmt_bytes(char *b, size_t len, uint64_t n)
{
	static const char	*unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double			 v = (double)n;
	int			 i = -1;

	if (n < 1024) {
		snprintf(b, len, "%lluB", (unsigned long long)n);
		return;
	}
	while (v >= 1024 && i < 3) {
		v /= 1024;
		i++;
	}
	snprintf(b, len, "%.1f%s", v, unit[i]);
}

static void
fmt_u64(char *b, size_t len, uint64_t n)
{
	snprintf(b, len, "%llu", (unsigned long long)n);
}

static const char *
fmt_type(uint32_t t)
{
	switch (t) {
	case NBMQ_DEALER:	return "dealer";
	case NBMQ_SAFE_DEALER:	return "safe_dealer";
	case NBMQ_RADIO:	return "radio";
	case NBMQ_DISH:		return "dish";
	case NBMQ_STUN:		return "stun";
	}
	return "unknown";
}

static const char *
fmt_mode(uint32_t flags)
{
	if (flags & IPC_CTL_SOCK_BOUND)
		return "bind";
	if (flags & IPC_CTL_SOCK_CONNECT)
		return "connect";
	return "-";
}

/* The port of "host:port", or "-". */
static const char *
fmt_port(const char *ep)
{
	const char	*p = strrchr(ep, ':');

	return p != NULL && p[1] != '\0' ? p + 1 : "-";
}

static uint64_t
drops_total(const uint64_t *drops, uint32_t n)
{
	uint64_t	t = 0;

	for (uint32_t i = 1; i < n && i < NBMQ_IPC_NDROPS; i++)
		t += drops[i];
	return t;
}

/* "0", or "3 (bad_length 1, duplicate 2)". */
static void
fmt_drops(char *b, size_t len, const struct conn *c, const uint64_t *drops,
    uint32_t n)
{
	size_t	off;
	int	first = 1;

	off = (size_t)snprintf(b, len, "%llu",
	    (unsigned long long)drops_total(drops, n));
	for (uint32_t i = 1; i < n && i < NBMQ_IPC_NDROPS && off < len; i++) {
		if (drops[i] == 0)
			continue;
		off += (size_t)snprintf(b + off, len - off, "%s%s %llu",
		    first ? " (" : ", ", c->reasons[i][0] ? c->reasons[i] :
		    "?", (unsigned long long)drops[i]);
		first = 0;
	}
	if (!first && off < len)
		snprintf(b + off, len - off, ")");
}

/* ---- table backend ---------------------------------------------------- */

#define TABLE_MAXCOLS	24
#define CELL		64

/*
 * Columns as wide as their widest cell, a header line on top; numbers
 * right-aligned.  The last column is never padded.
 */
struct table {
	int		 ncols;
	const char	*head[TABLE_MAXCOLS];
	int		 right[TABLE_MAXCOLS];
	int		 show[TABLE_MAXCOLS];	/* printed */
	char		*cells;		/* rows * ncols * CELL */
	size_t		 rows, cap;
};

/*
 * Which columns: -l all of them; -o NAME,... those (header names, any
 * case, spaces as _: rx_msgs); by default the compact view, the columns
 * whose align letter is upper case ('L', 'R'), which fits 80 columns for
 * ordinary names and addresses, as wg show and chronyc sources do.
 */
static int		 opt_long;
static const char	*opt_cols;

static int
table_wanted(const char *head)
{
	const char	*p = opt_cols;
	size_t		 n;

	while (p != NULL && *p != '\0') {
		n = strcspn(p, ",");
		if (n == strlen(head)) {
			size_t i;

			for (i = 0; i < n; i++)
				if (toupper((unsigned char)p[i]) !=
				    (head[i] == ' ' ? '_' : head[i]))
					break;
			if (i == n)
				return 1;
		}
		p += n + (p[n] == ',');
	}
	return 0;
}

static void
table_init(struct table *t, const char *const *head, const char *align)
{
	memset(t, 0, sizeof(*t));
	while (head[t->ncols] != NULL && t->ncols < TABLE_MAXCOLS) {
		char	a = align[t->ncols];

		t->head[t->ncols] = head[t->ncols];
		t->right[t->ncols] = a == 'r' || a == 'R';
		if (opt_cols != NULL)
			t->show[t->ncols] = table_wanted(head[t->ncols]);
		else
			t->show[t->ncols] = opt_long || a == 'L' || a == 'R';
		t->ncols++;
	}
}

static char *
table_cell(struct table *t, size_t row, int col)
{
	return t->cells + (row * (size_t)t->ncols + (size_t)col) * CELL;
}

/* A new row; fill its cells with table_cell(t, row, col). */
static size_t
table_row(struct table *t)
{
	char	*n;

	if (t->rows == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 16;
		n = realloc(t->cells, t->cap * (size_t)t->ncols * CELL);
		if (n == NULL)
			die("out of memory");
		t->cells = n;
	}
	memset(table_cell(t, t->rows, 0), 0, (size_t)t->ncols * CELL);
	return t->rows++;
}

static void
table_print(struct table *t)
{
	int	w[TABLE_MAXCOLS];

	for (int i = 0; i < t->ncols; i++) {
		w[i] = (int)strlen(t->head[i]);
		for (size_t r = 0; r < t->rows; r++) {
			int l = (int)strlen(table_cell(t, r, i));

			if (l > w[i])
				w[i] = l;
		}
	}
	int	lastcol = -1;

	for (int i = 0; i < t->ncols; i++)
		if (t->show[i])
			lastcol = i;
	for (size_t r = 0; r <= t->rows; r++) {
		for (int i = 0; i < t->ncols; i++) {
			const char *s = r == 0 ? t->head[i] :
			    table_cell(t, r - 1, i);
			int last = i == lastcol;

			if (!t->show[i])
				continue;
			if (t->right[i])
				printf("%*s", w[i], s);
			else
				printf("%-*s", last ? 0 : w[i], s);
			printf("%s", last ? "\n" : "  ");
		}
	}
	free(t->cells);
	t->cells = NULL;
}

static void
table_status(const struct ipc_ctl_status *s)
{
	char	up[32];

	fmt_age(up, sizeof(up), s->uptime_ms);
	printf("%s, pid %u, up %s\n", s->version, s->pid, up);
	printf("config:    %s\n", s->config[0] ? s->config : "(none)");
	printf("sockets:   %u (%u configured)\n", s->sockets, s->configured);
	printf("peers:     %u\n", s->peers);
	printf("clients:   %u connected to the IPC socket\n", s->clients);
	printf("messages:  %llu received, %llu sent\n",
	    (unsigned long long)s->rx_msgs, (unsigned long long)s->tx_msgs);
	printf("sessions:  %llu created\n", (unsigned long long)s->sessions);
	printf("drops:     %llu\n", (unsigned long long)s->drops);
}

static void
table_sockets(const struct conn *c, const struct ipc_ctl_sock *v, uint32_t n)
{
	static const char *const head[] = { "NAME", "TYPE", "STATE", "MODE",
	    "ADDRESS", "PORT", "PEERS", "APPS", "RQ", "SENDQ", "RX MSGS",
	    "TX MSGS", "MAPPED", "DROPS", "WHY NOT UP", "ENCRYPTION", "KEY",
	    NULL };
	struct table	t;

	table_init(&t, head, "LLLlLrRlrrrrllLll");
	for (uint32_t i = 0; i < n; i++) {
		const struct ipc_ctl_sock *s = &v[i];
		size_t	 r = table_row(&t);
		char	*apps = table_cell(&t, r, 7);
		size_t	 off = 0;

		snprintf(table_cell(&t, r, 0), CELL, "%s", s->name);
		snprintf(table_cell(&t, r, 1), CELL, "%s", fmt_type(s->type));
		/* Connecting: for how long ("connecting 12s"). */
		if (strcmp(s->state, "connecting") == 0) {
			char	age[32];

			fmt_age(age, sizeof(age), s->conn_ms);
			snprintf(table_cell(&t, r, 2), CELL, "%s %s", s->state,
			    age);
		} else
			snprintf(table_cell(&t, r, 2), CELL, "%s", s->state);
		snprintf(table_cell(&t, r, 3), CELL, "%s", fmt_mode(s->flags));
		snprintf(table_cell(&t, r, 4), CELL, "%s",
		    s->flags & IPC_CTL_SOCK_BOUND ? s->local :
		    s->remote[0] ? s->remote : "-");
		snprintf(table_cell(&t, r, 5), CELL, "%s", fmt_port(s->local));
		fmt_u64(table_cell(&t, r, 6), CELL, s->peers);
		for (uint32_t k = 0; k < s->napps && k < NBMQ_IPC_NPIDS &&
		    off < CELL; k++)
			off += (size_t)snprintf(apps + off, CELL - off, "%s%u",
			    k ? "," : "", s->pids[k]);
		if (s->napps > NBMQ_IPC_NPIDS && off < CELL)
			snprintf(apps + off, CELL - off, ",+%u",
			    s->napps - NBMQ_IPC_NPIDS);
		if (s->napps == 0)
			snprintf(apps, CELL, "-");
		fmt_u64(table_cell(&t, r, 8), CELL, s->rq);
		fmt_u64(table_cell(&t, r, 9), CELL, s->queued);
		fmt_u64(table_cell(&t, r, 10), CELL, s->rx_msgs);
		fmt_u64(table_cell(&t, r, 11), CELL, s->tx_msgs);
		snprintf(table_cell(&t, r, 12), CELL, "%s",
		    s->mapped[0] ? s->mapped : "-");
		fmt_drops(table_cell(&t, r, 13), CELL, c, s->drops, s->ndrops);
		if (s->conn_reason != 0 && s->conn_unanswered > 0)
			snprintf(table_cell(&t, r, 14), CELL, "%s (%u "
			    "unanswered)", ipc_connfail_text(s->conn_reason),
			    s->conn_unanswered);
		else
			snprintf(table_cell(&t, r, 14), CELL, "%s",
			    s->conn_reason ? ipc_connfail_text(s->conn_reason) :
			    "-");
		snprintf(table_cell(&t, r, 15), CELL, "%s",
		    s->encryptor[0] ? s->encryptor : "-");
		snprintf(table_cell(&t, r, 16), CELL, "%s",
		    s->key[0] ? s->key : "-");
	}
	table_print(&t);
}

static void
table_peers(const struct conn *c, const struct ipc_ctl_peer *v, uint32_t n)
{
	static const char *const head[] = { "SOCKET", "SESSION", "ADDRESS",
	    "STATE", "UP", "LAST RX", "LAST TX", "REACH", "RX MSGS",
	    "RX BYTES", "TX MSGS", "TX BYTES", "RESENDS", "GIVEUPS", "SENDQ",
	    "PREVIOUS ADDRESS", "WIRE", "PACED", "DROPS", "KEY", NULL };
	struct table	t;

	table_init(&t, head, "LlLLLLlLRrRrrrrllrll");
	for (uint32_t i = 0; i < n; i++) {
		const struct ipc_ctl_peer *p = &v[i];
		size_t	 r = table_row(&t);

		snprintf(table_cell(&t, r, 0), CELL, "%s", p->sock);
		snprintf(table_cell(&t, r, 1), CELL, "%016llx",
		    (unsigned long long)p->session);
		snprintf(table_cell(&t, r, 2), CELL, "%s", p->addr);
		snprintf(table_cell(&t, r, 3), CELL, "%s", p->state);
		fmt_age(table_cell(&t, r, 4), CELL, p->up_ms);
		fmt_ago(table_cell(&t, r, 5), CELL, p->last_rx_ms);
		fmt_ago(table_cell(&t, r, 6), CELL, p->last_tx_ms);
		snprintf(table_cell(&t, r, 7), CELL, "%03o", p->reach & 0xff);
		fmt_u64(table_cell(&t, r, 8), CELL, p->rx_msgs);
		fmt_bytes(table_cell(&t, r, 9), CELL, p->rx_bytes);
		fmt_u64(table_cell(&t, r, 10), CELL, p->tx_msgs);
		fmt_bytes(table_cell(&t, r, 11), CELL, p->tx_bytes);
		fmt_u64(table_cell(&t, r, 12), CELL, p->resends);
		fmt_u64(table_cell(&t, r, 13), CELL, p->giveups);
		fmt_u64(table_cell(&t, r, 14), CELL, p->sendq);
		snprintf(table_cell(&t, r, 15), CELL, "%s",
		    p->prev_addr[0] ? p->prev_addr : "-");
		/*
		 * v0.2.0/500, or ext/1452 (Batch frames), either with
		 * +slow: PROTOCOL.md 4.3, 4.4 (pacing without coalescing
		 * keeps v0.2.0 frames: v0.2.0/500+slow).
		 */
		snprintf(table_cell(&t, r, 16), CELL, "%s/%u%s",
		    (p->ext_flags & 1) ? "ext" : "v0.2.0", p->frame_size,
		    (p->ext_flags & 2) ? "+slow" : "");
		if (p->pace_rate == 0)
			snprintf(table_cell(&t, r, 17), CELL, "-");
		else {
			fmt_bytes(table_cell(&t, r, 17), CELL, p->pace_rate);
			strncat(table_cell(&t, r, 17), "/s", CELL - 1 -
			    strlen(table_cell(&t, r, 17)));
		}
		fmt_drops(table_cell(&t, r, 18), CELL, c, p->drops, p->ndrops);
		snprintf(table_cell(&t, r, 19), CELL, "%s",
		    p->key[0] ? p->key : "-");
	}
	table_print(&t);
	if (n > 0 && (opt_long || (opt_cols != NULL && table_wanted("REACH")) ||
	    opt_cols == NULL))
		printf("REACH: the last 8 heartbeat intervals in octal, newest "
		    "in the lowest bit:\n  377 all heard, 376 the last one "
		    "missed, 0 none\n");
}

static void
table_stats(const struct conn *c, const struct ipc_ctl_stats *s)
{
	static const char *const head[] = { "COUNTER", "VALUE", NULL };
	const struct {
		const char	*name;
		uint64_t	 v;
	} rows[] = {
		{ "sockets", s->sockets },
		{ "sockets_closed", s->sockets_closed },
		{ "peers", s->peers },
		{ "sessions", s->sessions },
		{ "rx_datagrams", s->rx_datagrams },
		{ "tx_datagrams", s->tx_datagrams },
		{ "rx_msgs", s->rx_msgs },
		{ "tx_msgs", s->tx_msgs },
		{ "resends", s->resends },
		{ "giveups", s->giveups },
		{ "peer_up", s->ev.up },
		{ "peer_down_keepalive", s->ev.down_keepalive },
		{ "peer_down_disconnected", s->ev.down_disconnected },
		{ "peer_down_replaced", s->ev.down_replaced },
		{ "peer_down_closed", s->ev.down_closed },
		{ "peer_address_changed", s->ev.address_changed },
		{ "drops", drops_total(s->drops, s->ndrops) },
		{ "heap_kib", s->heap_kib },
	};
	struct table	t;
	size_t		r;

	table_init(&t, head, "LR");
	r = table_row(&t);
	snprintf(table_cell(&t, r, 0), CELL, "uptime");
	fmt_age(table_cell(&t, r, 1), CELL, s->uptime_ms);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = table_row(&t);
		snprintf(table_cell(&t, r, 0), CELL, "%s", rows[i].name);
		fmt_u64(table_cell(&t, r, 1), CELL, rows[i].v);
	}
	for (uint32_t i = 1; i < s->ndrops && i < NBMQ_IPC_NDROPS; i++) {
		r = table_row(&t);
		snprintf(table_cell(&t, r, 0), CELL, "drop.%s",
		    c->reasons[i][0] ? c->reasons[i] : "?");
		fmt_u64(table_cell(&t, r, 1), CELL, s->drops[i]);
	}
	table_print(&t);
}

static void
table_reloaded(void)
{
	printf("configuration reloaded\n");
}

/* The names stun sockets know, and where those names are. */
static void
table_index(const struct ipc_ctl_index *v, uint32_t n)
{
	static const char *const head[] = { "SOCKET", "NAME", "ADDRESS",
	    "REGISTERED", "REFRESHED", "EXPIRES IN", "REFRESHES", "LOOKUPS",
	    "AT", NULL };
	struct table	t;

	table_init(&t, head, "LLLLLRrrL");
	for (uint32_t i = 0; i < n; i++) {
		const struct ipc_ctl_index *e = &v[i];
		size_t	 r = table_row(&t);

		snprintf(table_cell(&t, r, 0), CELL, "%s", e->sock);
		snprintf(table_cell(&t, r, 1), CELL, "%s", e->name);
		snprintf(table_cell(&t, r, 2), CELL, "%s", e->addr);
		fmt_ago(table_cell(&t, r, 3), CELL, e->registered_ms);
		fmt_ago(table_cell(&t, r, 4), CELL, e->refreshed_ms);
		fmt_age(table_cell(&t, r, 5), CELL, e->expires_ms);
		fmt_u64(table_cell(&t, r, 6), CELL, e->refreshes);
		fmt_u64(table_cell(&t, r, 7), CELL, e->lookups);
		snprintf(table_cell(&t, r, 8), CELL, "%s",
		    e->where[0] != '\0' ? e->where : "-");
	}
	table_print(&t);
}

static const struct output table_output = {
	.status = table_status,
	.sockets = table_sockets,
	.peers = table_peers,
	.stats = table_stats,
	.reloaded = table_reloaded,
	.index = table_index,
};

/* ---- JSON backend ----------------------------------------------------- */

static int	json_first;

static void
json_key(const char *k)
{
	printf("%s\"%s\": ", json_first ? "" : ", ", k);
	json_first = 0;
}

static void
json_quote(const char *v)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	}
	putchar('"');
}

static void
json_str(const char *k, const char *v)
{
	json_key(k);
	json_quote(v);
}

/* "" as null: a string field that may be absent. */
static void
json_str_null(const char *k, const char *v)
{
	json_key(k);
	if (v[0] != '\0')
		json_quote(v);
	else
		printf("null");
}

static void
json_u64(const char *k, uint64_t v)
{
	json_key(k);
	printf("%llu", (unsigned long long)v);
}

/* An age in ms, or null for never. */
static void
json_age(const char *k, uint64_t v)
{
	json_key(k);
	if (v == IPC_CTL_NEVER)
		printf("null");
	else
		printf("%llu", (unsigned long long)v);
}

static void
json_open(const char *k)
{
	if (k != NULL)
		json_key(k);
	printf("{");
	json_first = 1;
}

static void
json_close(void)
{
	printf("}");
	json_first = 0;
}

static void
json_events(const struct ipc_ctl_events *e, const char *k)
{
	json_open(k);
	json_u64("up", e->up);
	json_u64("down_keepalive", e->down_keepalive);
	json_u64("down_disconnected", e->down_disconnected);
	json_u64("down_replaced", e->down_replaced);
	json_u64("down_closed", e->down_closed);
	json_u64("address_changed", e->address_changed);
	json_close();
}

/* "drops": {"short": 0, ...}, every reason the daemon named. */
static void
json_drops(const struct conn *c, const uint64_t *drops, uint32_t n)
{
	json_u64("drops_total", drops_total(drops, n));
	json_open("drops");
	for (uint32_t i = 1; i < n && i < NBMQ_IPC_NDROPS; i++)
		if (c->reasons[i][0] != '\0')
			json_u64(c->reasons[i], drops[i]);
	json_close();
}

static void
json_status(const struct ipc_ctl_status *s)
{
	json_open(NULL);
	json_str("version", s->version);
	json_u64("pid", s->pid);
	json_u64("uid", s->uid);
	json_u64("uptime_ms", s->uptime_ms);
	json_str("config", s->config);
	json_u64("sockets", s->sockets);
	json_u64("configured_sockets", s->configured);
	json_u64("peers", s->peers);
	json_u64("clients", s->clients);
	json_u64("rx_msgs", s->rx_msgs);
	json_u64("tx_msgs", s->tx_msgs);
	json_u64("sessions", s->sessions);
	json_u64("drops_total", s->drops);
	json_close();
	printf("\n");
}

static void
json_sockets(const struct conn *c, const struct ipc_ctl_sock *v, uint32_t n)
{
	json_open(NULL);
	json_key("sockets");
	printf("[");
	for (uint32_t i = 0; i < n; i++) {
		const struct ipc_ctl_sock *s = &v[i];

		if (i > 0)
			printf(", ");
		json_open(NULL);
		json_str("name", s->name);
		json_u64("handle", s->handle);
		json_str("type", fmt_type(s->type));
		json_key("configured");
		printf("%s", s->flags & IPC_CTL_SOCK_CONFIGURED ? "true" :
		    "false");
		json_str("mode", fmt_mode(s->flags));
		json_str("state", s->state);
		json_str("local", s->local);
		json_str("remote", s->remote);
		json_key("mapped");
		if (s->mapped[0] != '\0')
			json_quote(s->mapped);
		else
			printf("null");
		json_u64("port", strtoull(fmt_port(s->local), NULL, 10));
		json_str_null("encryptor", s->encryptor);
		json_str_null("key", s->key);
		json_u64("peers", s->peers);
		json_u64("apps", s->napps);
		json_key("pids");
		printf("[");
		for (uint32_t k = 0; k < s->napps && k < NBMQ_IPC_NPIDS; k++)
			printf("%s%u", k ? ", " : "", s->pids[k]);
		printf("]");
		json_u64("rq", s->rq);
		json_u64("held", s->held);
		json_u64("reassembling", s->reasm);
		json_u64("sendq", s->queued);
		json_u64("send_hwm", s->send_hwm);
		json_u64("recv_hwm", s->recv_hwm);
		json_u64("rx_datagrams", s->rx_datagrams);
		json_u64("tx_datagrams", s->tx_datagrams);
		json_u64("rx_msgs", s->rx_msgs);
		json_u64("tx_msgs", s->tx_msgs);
		json_u64("sessions", s->sessions);
		json_u64("resends", s->resends);
		json_u64("giveups", s->giveups);
		/* Connecting: for how long, and why not up (null: not
		 * connecting; reason null: no reason yet). */
		if (strcmp(s->state, "connecting") == 0) {
			json_u64("connecting_ms", s->conn_ms);
			json_u64("connects_unanswered", s->conn_unanswered);
			json_key("connect_reason");
			if (s->conn_reason != 0)
				json_quote(ipc_connfail_name(s->conn_reason));
			else
				printf("null");
			json_key("connect_reason_text");
			if (s->conn_reason != 0)
				json_quote(ipc_connfail_text(s->conn_reason));
			else
				printf("null");
		} else {
			json_key("connecting_ms");
			printf("null");
			json_u64("connects_unanswered", 0);
			json_key("connect_reason");
			printf("null");
			json_key("connect_reason_text");
			printf("null");
		}
		json_events(&s->ev, "peer_events");
		json_drops(c, s->drops, s->ndrops);
		json_close();
	}
	printf("]");
	json_close();
	printf("\n");
}

static void
json_peers(const struct conn *c, const struct ipc_ctl_peer *v, uint32_t n)
{
	char	id[17];

	json_open(NULL);
	json_key("peers");
	printf("[");
	for (uint32_t i = 0; i < n; i++) {
		const struct ipc_ctl_peer *p = &v[i];

		if (i > 0)
			printf(", ");
		json_open(NULL);
		json_str("socket", p->sock);
		snprintf(id, sizeof(id), "%016llx",
		    (unsigned long long)p->session);
		json_str("session", id);
		json_str("address", p->addr);
		json_key("prev_address");
		if (p->prev_addr[0] != '\0')
			json_quote(p->prev_addr);
		else
			printf("null");
		json_str("state", p->state);
		json_u64("up_ms", p->up_ms);
		json_age("last_rx_ms", p->last_rx_ms);
		json_age("last_tx_ms", p->last_tx_ms);
		json_u64("rx_msgs", p->rx_msgs);
		json_u64("rx_bytes", p->rx_bytes);
		json_u64("tx_msgs", p->tx_msgs);
		json_u64("tx_bytes", p->tx_bytes);
		json_u64("rx_frames", p->rx_frames);
		json_u64("tx_frames", p->tx_frames);
		json_u64("resends", p->resends);
		json_u64("giveups", p->giveups);
		json_u64("sendq", p->sendq);
		json_u64("inflight", p->inflight);
		json_u64("reach", p->reach & 0xff);
		json_u64("frame_size", p->frame_size);
		json_key("extension");		/* Batch, larger frames */
		printf("%s", (p->ext_flags & 1) ? "true" : "false");
		json_key("slow");
		printf("%s", (p->ext_flags & 2) ? "true" : "false");
		json_u64("pace_rate", p->pace_rate);
		json_u64("slows_rx", p->slows_rx);
		json_u64("slows_tx", p->slows_tx);
		json_str_null("key", p->key);
		json_drops(c, p->drops, p->ndrops);
		json_close();
	}
	printf("]");
	json_close();
	printf("\n");
}

static void
json_stats(const struct conn *c, const struct ipc_ctl_stats *s)
{
	json_open(NULL);
	json_u64("uptime_ms", s->uptime_ms);
	json_u64("sockets", s->sockets);
	json_u64("sockets_closed", s->sockets_closed);
	json_u64("peers", s->peers);
	json_u64("sessions", s->sessions);
	json_u64("rx_datagrams", s->rx_datagrams);
	json_u64("tx_datagrams", s->tx_datagrams);
	json_u64("rx_msgs", s->rx_msgs);
	json_u64("tx_msgs", s->tx_msgs);
	json_u64("resends", s->resends);
	json_u64("giveups", s->giveups);
	json_events(&s->ev, "peer_events");
	json_drops(c, s->drops, s->ndrops);
	json_u64("heap_bytes", (uint64_t)s->heap_kib * 1024);
	json_close();
	printf("\n");
}

static void
json_reloaded(void)
{
	printf("{\"reloaded\": true}\n");
}

static void
json_index(const struct ipc_ctl_index *v, uint32_t n)
{
	json_open(NULL);
	json_key("index");
	printf("[");
	for (uint32_t i = 0; i < n; i++) {
		const struct ipc_ctl_index *e = &v[i];

		if (i > 0)
			printf(", ");
		json_open(NULL);
		json_str("socket", e->sock);
		json_str("name", e->name);
		json_str("address", e->addr);
		json_age("registered_ms", e->registered_ms);
		json_age("refreshed_ms", e->refreshed_ms);
		json_u64("expires_ms", e->expires_ms);
		json_u64("refreshes", e->refreshes);
		json_u64("lookups", e->lookups);
		json_str("at", e->where);
		json_close();
	}
	printf("]");
	json_close();
	printf("\n");
}

static const struct output json_output = {
	.status = json_status,
	.sockets = json_sockets,
	.peers = json_peers,
	.stats = json_stats,
	.reloaded = json_reloaded,
	.index = json_index,
};

/* ---- commands --------------------------------------------------------- */

static int
cmd_status(struct conn *c, const struct output *out, const char *arg)
{
	struct ipc_ctl_status	s;

	need(c, ctl_ask(&c->ctl, IPC_CTL_STATUS, NULL, 0, IPC_CTL_STATUS_INFO,
	    &s, sizeof(s), "status"));
	out->status(&s);
	return EX_OK;
}

static int
cmd_sockets(struct conn *c, const struct output *out, const char *arg)
{
	struct ipc_ctl_sock	*v = NULL;
	uint32_t		 n;

	need(c, ctl_reasons(&c->ctl, c->reasons));
	need(c, ctl_list(&c->ctl, IPC_CTL_SOCKETS, NULL, 0, IPC_CTL_SOCKET_INFO,
	    sizeof(*v), (void **)&v, &n, "sockets"));
	out->sockets(c, v, n);
	free(v);
	return EX_OK;
}

static int
cmd_peers(struct conn *c, const struct output *out, const char *arg)
{
	struct ipc_ctl_req	 req;
	struct ipc_ctl_peer	*v = NULL;
	uint32_t		 n;

	memset(&req, 0, sizeof(req));
	if (arg != NULL) {
		if (strlen(arg) >= sizeof(req.sock))
			die("peers: no socket named %s", arg);
		strcpy(req.sock, arg);
	}
	need(c, ctl_reasons(&c->ctl, c->reasons));
	need(c, ctl_list(&c->ctl, IPC_CTL_PEERS, &req, sizeof(req),
	    IPC_CTL_PEER_INFO, sizeof(*v), (void **)&v, &n, "peers"));
	out->peers(c, v, n);
	free(v);
	return EX_OK;
}

/* A stun socket whose shared index is unreachable lists only its own
 * names: said on stderr, after the list. */
static void
index_degraded(struct conn *c, const char *only)
{
	struct ipc_ctl_sock	*v = NULL;
	uint32_t		 n;

	need(c, ctl_list(&c->ctl, IPC_CTL_SOCKETS, NULL, 0, IPC_CTL_SOCKET_INFO,
	    sizeof(*v), (void **)&v, &n, "sockets"));
	for (uint32_t i = 0; i < n; i++)
		if (strcmp(v[i].state, "degraded") == 0 &&
		    (only == NULL || strcmp(v[i].name, only) == 0))
			fprintf(stderr, "nbmqctl: %s: shared index degraded "
			    "(stun_index unreachable): only the names "
			    "registered at this rendezvous\n", v[i].name);
	free(v);
}

static int
cmd_index(struct conn *c, const struct output *out, const char *arg)
{
	struct ipc_ctl_req	 req;
	struct ipc_ctl_index	*v = NULL;
	uint32_t		 n;

	memset(&req, 0, sizeof(req));
	if (arg != NULL) {
		if (strlen(arg) >= sizeof(req.sock))
			die("index: no socket named %s", arg);
		strcpy(req.sock, arg);
	}
	need(c, ctl_list(&c->ctl, IPC_CTL_INDEX, &req, sizeof(req),
	    IPC_CTL_INDEX_ENTRY, sizeof(*v), (void **)&v, &n, "index"));
	out->index(v, n);
	free(v);
	index_degraded(c, arg);
	return EX_OK;
}

static int
cmd_stats(struct conn *c, const struct output *out, const char *arg)
{
	struct ipc_ctl_stats	s;

	need(c, ctl_reasons(&c->ctl, c->reasons));
	need(c, ctl_ask(&c->ctl, IPC_CTL_STATS, NULL, 0, IPC_CTL_STATS_INFO,
	    &s, sizeof(s), "stats"));
	out->stats(c, &s);
	return EX_OK;
}

/*
 * The daemon's /metrics text, from the IPC socket: for node_exporter's
 * textfile collector where metrics_listen is off.  "peers" adds the
 * per-peer series (as metrics_peers = yes).
 */
static int
cmd_metrics(struct conn *c, const struct output *out, const char *arg)
{
	struct ipc_ctl_status	 st;
	struct ipc_ctl_stats	 ss;
	struct ipc_ctl_sock	*v = NULL;
	struct ipc_ctl_peer	*pv = NULL;
	struct ipc_ctl_req	 req;
	struct prom_in		 in;
	uint32_t		 n, np = 0;

	if (arg != NULL && strcmp(arg, "peers") != 0)
		die("metrics: unknown argument %s (peers, or none)", arg);
	need(c, ctl_reasons(&c->ctl, c->reasons));
	need(c, ctl_ask(&c->ctl, IPC_CTL_STATUS, NULL, 0, IPC_CTL_STATUS_INFO,
	    &st, sizeof(st), "status"));
	need(c, ctl_ask(&c->ctl, IPC_CTL_STATS, NULL, 0, IPC_CTL_STATS_INFO,
	    &ss, sizeof(ss), "stats"));
	need(c, ctl_list(&c->ctl, IPC_CTL_SOCKETS, NULL, 0, IPC_CTL_SOCKET_INFO,
	    sizeof(*v), (void **)&v, &n, "sockets"));
	if (arg != NULL) {
		memset(&req, 0, sizeof(req));
		need(c, ctl_list(&c->ctl, IPC_CTL_PEERS, &req, sizeof(req),
		    IPC_CTL_PEER_INFO, sizeof(*pv), (void **)&pv, &np,
		    "peers"));
	}
	memset(&in, 0, sizeof(in));
	in.status = &st;
	in.stats = &ss;
	in.socks = v;
	in.nsocks = n;
	in.peers = pv;
	in.npeers = np;
	in.reasons = (const char (*)[NBMQ_IPC_WORD_LEN])c->reasons;
	in.nreasons = NBMQ_IPC_NDROPS;
	prom_write(stdout, &in, 0);
	free(v);
	free(pv);
	return EX_OK;
}

static int
cmd_reload(struct conn *c, const struct output *out, const char *arg)
{
	struct nbmq_ipc_hdr	 h;
	char			*text;
	int			 e;

	/* A reload re-reads the file and may bind sockets: wait longer. */
	if (c->ctl.wait_ms < 30000)
		c->ctl.wait_ms = 30000;
	need(c, ctl_send(&c->ctl, IPC_CTL_RELOAD, NULL, 0));
	need(c, ctl_recv(&c->ctl, &h));
	if (h.type != IPC_RESULT)
		die("reload: unexpected answer %s", ipc_type_name(h.type));
	if ((text = malloc(h.len + 1)) == NULL)
		die("out of memory");
	need(c, ctl_result(&c->ctl, &h, &e, text, h.len + 1));
	if (e == EPERM)
		die("reload: permission denied: %s", text);
	if (e != 0) {
		fflush(stdout);
		fprintf(stderr, "%s%s", text, *text &&
		    text[strlen(text) - 1] != '\n' ? "\n" : "");
		die("reload failed, the running configuration is unchanged");
	}
	free(text);
	out->reloaded();
	return EX_OK;
}

/* ---- keys: nbmqctl genkey | tee private.key | nbmqctl pubkey -------- */

#define KEY_SIZE	crypto_scalarmult_SCALARBYTES		/* 32 */
#define KEY_B64		sodium_base64_ENCODED_LEN(KEY_SIZE, \
			    sodium_base64_VARIANT_ORIGINAL)	/* 44 + NUL */

static void
key_print(const uint8_t *key)
{
	char	b64[KEY_B64];

	sodium_bin2base64(b64, sizeof(b64), key, KEY_SIZE,
	    sodium_base64_VARIANT_ORIGINAL);
	printf("%s\n", b64);
	sodium_memzero(b64, sizeof(b64));
	if (fflush(stdout) == EOF || ferror(stdout))
		die("stdout: %s", strerror(errno));
}

/* Like `wg genkey`: a new X25519 private key (clamped), base64. */
static int
cmd_genkey(struct conn *c, const struct output *out, const char *arg)
{
	uint8_t		key[KEY_SIZE];
	struct stat	st;

	if (sodium_init() < 0)
		die("libsodium cannot start");
	if (fstat(STDOUT_FILENO, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 077) != 0)
		fprintf(stderr, PROG ": warning: writing a private key to a "
		    "file that others can read: chmod 600 it (nbmqd refuses "
		    "it as it is), or set umask 077 first\n");
	randombytes_buf(key, sizeof(key));
	key[0] &= 248;
	key[31] = (key[31] & 127) | 64;
	key_print(key);
	sodium_memzero(key, sizeof(key));
	return EX_OK;
}

/* Like `wg pubkey`: a private key on stdin, its public key on stdout. */
static int
cmd_pubkey(struct conn *c, const struct output *out, const char *arg)
{
	uint8_t		key[KEY_SIZE], pub[KEY_SIZE];
	char		buf[128], *s;
	const char	*end;
	size_t		len = 0, n;
	ssize_t		r;

	if (sodium_init() < 0)
		die("libsodium cannot start");
	while (len < sizeof(buf) - 1 &&
	    (r = read(STDIN_FILENO, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			die("stdin: %s", strerror(errno));
		len += (size_t)r;
	}
	buf[len] = '\0';
	for (s = buf; *s == ' ' || *s == '\t' || *s == '\n' || *s == '\r';
	    s++)
		;
	for (n = strlen(s); n > 0 && strchr(" \t\r\n", s[n - 1]) != NULL;
	    n--)
		;
	if (n != KEY_B64 - 1 || sodium_base642bin(key, sizeof(key), s, n, NULL, &len, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || len != KEY_SIZE ||
	    end != s + n) {
		sodium_memzero(buf, sizeof(buf));
		die("stdin: not a private key (one line of base64, 32 bytes, "
		    "as `nbmqctl genkey` prints)");
	}
	sodium_memzero(buf, sizeof(buf));
	crypto_scalarmult_base(pub, key);
	sodium_memzero(key, sizeof(key));
	key_print(pub);
	return EX_OK;
}

static int	cmd_help(struct conn *, const struct output *, const char *);

static const struct cmd cmds[] = {
	{ "status", cmd_status, "", 0,
	    "version, uptime, configuration file, sockets, peers, totals" },
	{ "sockets", cmd_sockets, "", 0,
	    "every socket: address, state, applications, queues, counters" },
	{ "peers", cmd_peers, "[SOCKET]", 1,
	    "every peer (of SOCKET): session, address, ages, reach, counters" },
	{ "stats", cmd_stats, "", 0,
	    "daemon-wide counters, drops by reason, closed sockets included" },
	{ "index", cmd_index, "[SOCKET]", 1,
	    "the names stun sockets know: address, refreshed, expires" },
	{ "metrics", cmd_metrics, "[peers]", 1,
	    "the counters as Prometheus text, as /metrics serves them" },
	{ "reload", cmd_reload, "", 0,
	    "re-read the configuration file (root or nbmqd's user or group)" },
	{ "genkey", cmd_genkey, "", 0,
	    "print a new private key for private_key_file (no daemon needed)" },
	{ "pubkey", cmd_pubkey, "", 0,
	    "read a private key on stdin, print its public key, for peers" },
	{ "help", cmd_help, "[COMMAND]", 1,
	    "this list, or the help of one command" },
};
#define NCMDS	(sizeof(cmds) / sizeof(cmds[0]))

static const struct cmd *
cmd_find(const char *name)
{
	for (size_t i = 0; i < NCMDS; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: " PROG " [-S socket] [-w seconds] [--json | -l | "
	    "-o columns] COMMAND [ARGS]\n\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(f, "  %-8s %-10s %s\n", cmds[i].name, cmds[i].args,
		    cmds[i].help);
	fprintf(f, "\n"
	    "  -S socket   the daemon's IPC socket (default $NBMQ_SOCKET, "
	    "else " NBMQ_DEFAULT_IPC_PATH ")\n"
	    "  -w seconds  how long to wait for each answer (default 5)\n"
	    "  -j, --json     JSON for scripts instead of tables\n"
	    "  -l, --long     every column of the tables (by default a "
	    "compact view)\n"
	    "  -o columns     these columns, by header: -o name,rx_msgs\n"
	    "  -V, --version  print the version and exit\n"
	    "  -h, --help     this help; COMMAND --help for one command\n"
	    "\nExit status: 0 success, 1 failure (nbmqd not running, "
	    "refused), 2 usage error.\n");
}

/*
 * A usage error: one line saying what is wrong (fmt; getopt's own when
 * NULL), then where to look: the help of cmd, or the whole help.
 */
static int __attribute__((format(printf, 2, 3)))
usage_error(const struct cmd *cmd, const char *fmt, ...)
{
	va_list	ap;

	if (fmt != NULL) {
		fputs(PROG ": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	fprintf(stderr, "Try '" PROG " %s%s--help' for more information.\n",
	    cmd != NULL ? cmd->name : "", cmd != NULL ? " " : "");
	return EX_USAGE;
}

static void
cmd_usage(FILE *f, const struct cmd *cmd)
{
	fprintf(f, "usage: " PROG " [-S socket] [-w seconds] [--json] %s%s%s\n"
	    "  %s\n", cmd->name, *cmd->args ? " " : "", cmd->args, cmd->help);
}

static int
cmd_help(struct conn *c, const struct output *out, const char *arg)
{
	const struct cmd	*cmd;

	if (arg == NULL) {
		usage(stdout);
		return EX_OK;
	}
	if ((cmd = cmd_find(arg)) == NULL)
		return usage_error(NULL, "no command %s", arg);
	cmd_usage(stdout, cmd);
	return EX_OK;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "long", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const struct output	*out = &table_output;
	const struct cmd	*cmd;
	struct conn		 c;
	const char		*path, *arg = NULL;
	char			*end;
	double			 w;
	int			 ch, ret, wait_ms = DEFAULT_WAIT_MS;

	memset(&c, 0, sizeof(c));
	if ((path = getenv("NBMQ_SOCKET")) == NULL || *path == '\0')
		path = NBMQ_DEFAULT_IPC_PATH;
	/* Options before the command, then the command's own. */
	while ((ch = getopt_long(argc, argv, "+S:w:jlo:hV", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'S':
			path = optarg;
			break;
		case 'w':
			w = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || !(w > 0) ||
			    w > 3600)
				return usage_error(NULL, "-w %s: seconds, "
				    "more than 0, at most 3600", optarg);
			wait_ms = (int)(w * 1000) > 0 ? (int)(w * 1000) : 1;
			break;
		case 'j':
			out = &json_output;
			break;
		case 'l':
			opt_long = 1;
			break;
		case 'o':
			opt_cols = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf(PROG " %s\n", NBMQ_VERSION);
			return EX_OK;
		default:
			return usage_error(NULL, NULL);
		}
	}
	if (optind >= argc)
		return usage_error(NULL, "no command (status, sockets, peers, "
		    "...)");
	if ((cmd = cmd_find(argv[optind])) == NULL)
		return usage_error(NULL, "no command %s", argv[optind]);
	for (int i = optind + 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cmd_usage(stdout, cmd);
			return EX_OK;
		}
		if (strcmp(argv[i], "--json") == 0 ||
		    strcmp(argv[i], "-j") == 0) {
			out = &json_output;
			continue;
		}
		if (argv[i][0] == '-' || arg != NULL || cmd->maxargs == 0)
			return usage_error(cmd, "%s: unexpected argument %s",
			    cmd->name, argv[i]);
		arg = argv[i];
	}
	if (cmd->fn == cmd_help)
		return cmd_help(NULL, out, arg);
	if (cmd->fn == cmd_genkey || cmd->fn == cmd_pubkey)
		return cmd->fn(NULL, out, arg);	/* keys: no daemon */
	need(&c, ctl_open(&c.ctl, path, PROG, wait_ms));
	ret = cmd->fn(&c, out, arg);
	if (fflush(stdout) == EOF || ferror(stdout))
		die("stdout: %s", strerror(errno));
	ctl_close(&c.ctl);
	return ret;
}
