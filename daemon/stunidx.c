/* SPDX-License-Identifier: ISC */
/*
 * stunidx.c: a stun socket's shared index in Redis (stun_index =
 * redis://HOST:PORT/DB or redis+unix:///PATH), the shell side of
 * stunsrv.c's struct stun_index_ops, through hiredis's asynchronous API
 * on the daemon's event loop: nothing here waits for Redis.
 *
 * Keys and channels (PREFIX: stun_index_prefix, "nbmq:" by default):
 *   PREFIXname:NAME	string "HOLDER ADDR", PX 3 x stun_refresh_ivl:
 *			NAME is at ADDR (as its NAT maps it), registered
 *			at the rendezvous HOLDER; written at every
 *			registration and refresh.
 *   PREFIXintro:HOLDER	channel; a message "NAME ADDR" asks HOLDER to
 *			send NAME a Binding indication with ADDR (the
 *			rendezvous NAME's NAT knows is the one that can).
 * HOLDER is this socket's id for the run: host name, socket name and 32
 * random bits ("rv1/rendezvous/5f3a09c2").
 *
 * Two connections: commands, and the subscription (a subscribed Redis
 * connection takes no other command).  Up means answered: the command
 * connection's PING, the subscription's confirmation; a PING every
 * STUNIDX_WATCH that goes unanswered for STUNIDX_STALL (a stopped Redis,
 * a partition that sends no reset, a connect that never completes) drops
 * both.  Until both are up the index is degraded: lookups are answered from this socket's own registrations
 * (stunsrv.c), registrations are kept here only.  The first failure is
 * logged once; reconnection follows with backoff (STUNIDX_BACKOFF_MIN
 * doubling to STUNIDX_BACKOFF_MAX, or half the socket's stun_refresh_ivl
 * if less: names are shared again within one refresh interval of Redis
 * coming back); once back, one line says how long it
 * was down and what was answered locally, and every registration held
 * here is written again with what is left of its expiry.
 *
 * A host name in redis:// is resolved with evdns before each connection
 * attempt (hiredis would resolve it with a blocking getaddrinfo).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/dns.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "shell.h"

#define STUNIDX_BACKOFF_MIN	(100 * MSEC)
#define STUNIDX_BACKOFF_MAX	(5 * NSEC)
#define STUNIDX_WATCH		(1 * NSEC)
#define STUNIDX_STALL		(2 * NSEC)

struct stunidx {
	uint32_t		 handle;	/* the dsock: callbacks find it */
	struct stun_index_url	 url;
	char			 desc[160];	/* the URL, for logs */
	char			 prefix[STUN_INDEX_PREFIX_MAX + 1];
	char			 holder[STUNIDX_HOLDER_MAX + 1];
	redisAsyncContext	*cmd, *sub;
	int			 cmd_up, sub_up;
	int			 degraded;
	struct event		*retry, *watch;
	nbmq_time		 ping_at;	/* PING unanswered since, or 0 */
	nbmq_time		 sub_at;	/* SUBSCRIBE unconfirmed since */
	struct evdns_getaddrinfo_request *dns;
	nbmq_time		 backoff, backoff_max;
	nbmq_time		 down_since;
	uint64_t		 attempts;	/* since it went down */
	uint64_t		 local_at_down;	/* stats.local then */
	uint64_t		 unshared;	/* registrations kept here only */
	uint64_t		 downs;		/* times it went down */
	struct stunidx_row	*rows;		/* nbmqctl index: a snapshot */
	uint32_t		 nrows;
	nbmq_time		 snap_at;	/* when it came, 0 never */
	int			 fetching;
};

/* A GET in flight: the socket by handle (it may be gone by the reply). */
struct stunidx_get {
	uint32_t		 handle;
	uint64_t		 id;
};

static struct stunidx *
stunidx_of(uint32_t handle, struct dsock **dp)
{
	struct dsock	*d = dsock_by_handle(handle);

	*dp = d;
	return d != NULL ? d->stunidx : NULL;
}

/* State. */

static void
stunidx_schedule(struct stunidx *x)
{
	struct timeval	 tv;

	if (evtimer_pending(x->retry, NULL))
		return;
	tv.tv_sec = (time_t)(x->backoff / NSEC);
	tv.tv_usec = (suseconds_t)(x->backoff % NSEC / 1000);
	evtimer_add(x->retry, &tv);
	x->backoff *= 2;
	if (x->backoff > x->backoff_max)
		x->backoff = x->backoff_max;
}

static void
stunidx_down(struct stunidx *x, const char *why)
{
	struct dsock		*d = dsock_by_handle(x->handle);
	struct stun_index_stats	 st;
	uint32_t		 n;

	if (d != NULL && !x->degraded) {
		x->degraded = 1;
		x->downs++;
		x->down_since = daemon_now();
		x->attempts = 0;
		stunsrv_index_stats(&d->core, &st);
		x->local_at_down = st.local;
		n = stunsrv_count(&d->core);
		log_warnx("socket %s: stun_index %s: %s: degraded, answering "
		    "from this rendezvous' %u registration%s; reconnecting",
		    d->core.name, x->desc, why, n, n == 1 ? "" : "s");
	}
	/* The one that is still up stays; the other is opened again. */
	if (x->cmd == NULL || x->sub == NULL)
		stunidx_schedule(x);
}

/*
 * A write refused: a replica (Sentinel demoted the master we talk to)
 * says READONLY.  The connection is dropped, so that the next attempt
 * resolves the name again and finds the new master.
 */
static void
stunidx_write_cb(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r;
	struct stunidx	*x;
	struct dsock	*d;

	if (reply == NULL || reply->type != REDIS_REPLY_ERROR ||
	    (x = stunidx_of((uint32_t)(uintptr_t)priv, &d)) == NULL)
		return;
	if (strncmp(reply->str, "READONLY", 8) == 0 && x->cmd == ac &&
	    x->cmd_up) {
		log_warnx("socket %s: stun_index %s: %s: reconnecting",
		    d->core.name, x->desc, reply->str);
		redisAsyncDisconnect(ac);
	} else
		log_debug("socket %s: stun_index %s: %s", d->core.name,
		    x->desc, reply->str);
}

static void
stunidx_put_entry(struct stunidx *x, const char *name,
    const struct nbaddr *addr, uint64_t ttl)
{
	char	 at[64], val[STUNIDX_HOLDER_MAX + 72];

	/* One argument: hiredis splits the format at its spaces. */
	addr_fmt(addr, at, sizeof(at));
	snprintf(val, sizeof(val), "%s %s", x->holder, at);
	redisAsyncCommand(x->cmd, stunidx_write_cb,
	    (void *)(uintptr_t)x->handle, "SET %sname:%s %s PX %llu",
	    x->prefix, name, val,
	    (unsigned long long)(ttl / MSEC > 0 ? ttl / MSEC : 1));
}

/* Both connections up: registrations held here are shared again. */
static void
stunidx_up(struct stunidx *x)
{
	struct dsock		*d = dsock_by_handle(x->handle);
	const struct stun_entry	*e;
	struct stun_index_stats	 st;
	nbmq_time		 now = daemon_now(), exp;
	uint32_t		 n = 0;

	x->backoff = STUNIDX_BACKOFF_MIN;
	if (d == NULL)
		return;
	for (e = stunsrv_first(&d->core); e != NULL;
	    e = TAILQ_NEXT(e, entry)) {
		if ((exp = stunsrv_expiry(&d->core, e)) <= now)
			continue;
		stunidx_put_entry(x, e->name, &e->addr, exp - now);
		n++;
	}
	if (!x->degraded) {
		log_info("socket %s: stun_index %s: connected as %s",
		    d->core.name, x->desc, x->holder);
		return;
	}
	x->degraded = 0;
	stunsrv_index_stats(&d->core, &st);
	log_notice("socket %s: stun_index %s: back after %llu ms and %llu "
	    "attempt%s; %llu lookups answered locally, %llu registrations "
	    "unshared meanwhile; %u written again", d->core.name, x->desc,
	    (unsigned long long)((now - x->down_since) / MSEC),
	    (unsigned long long)x->attempts, x->attempts == 1 ? "" : "s",
	    (unsigned long long)(st.local - x->local_at_down),
	    (unsigned long long)x->unshared, n);
	x->unshared = 0;
}

/* Redis' callbacks. */

static void
stunidx_connect_cb(const redisAsyncContext *ac, int status)
{
	struct stunidx	*x = ac->data;

	if (x == NULL)
		return;
	if (status != REDIS_OK) {
		/* hiredis frees ac after this. */
		if (x->cmd == ac)
			x->cmd = NULL;
		if (x->sub == ac)
			x->sub = NULL;
		stunidx_down(x, ac->errstr[0] != '\0' ? ac->errstr :
		    "cannot connect");
		return;
	}
	/* Connected is not up: up is answered (stunidx_pong_cb and the
	 * subscription's confirmation). */
}

/* The command connection answered its PING. */
static void
stunidx_pong_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct stunidx	*x;
	struct dsock	*d;

	if (r == NULL || (x = stunidx_of((uint32_t)(uintptr_t)priv, &d)) ==
	    NULL || x->cmd != ac)
		return;
	x->ping_at = 0;
	if (x->cmd_up)
		return;
	x->cmd_up = 1;
	if (x->sub_up)
		stunidx_up(x);
}

static void
stunidx_disconnect_cb(const redisAsyncContext *ac, int status)
{
	struct stunidx	*x = ac->data;

	if (x == NULL)
		return;		/* stunidx_free() */
	if (x->cmd == ac) {
		x->cmd = NULL;
		x->cmd_up = 0;
	}
	if (x->sub == ac) {
		x->sub = NULL;
		x->sub_up = 0;
	}
	stunidx_down(x, status == REDIS_OK ? "disconnected" :
	    ac->errstr[0] != '\0' ? ac->errstr : "connection lost");
}

/* "HOLDER ADDR" or "NAME ADDR": the word (at most wlen - 1) and ADDR. */
static int
stunidx_split(const char *s, size_t len, char *word, size_t wlen,
    struct nbaddr *addr)
{
	char		 buf[256], host[8];
	const char	*sp;
	uint16_t	 port;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if ((sp = strchr(buf, ' ')) == NULL || (size_t)(sp - buf) >= wlen ||
	    sp == buf)
		return -1;
	memcpy(word, buf, (size_t)(sp - buf));
	word[sp - buf] = '\0';
	return addr_parse(sp + 1, addr, host, sizeof(host), &port) == 0 ? 0 :
	    -1;
}

static void
stunidx_get_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct stunidx_get	*g = priv;
	redisReply		*reply = r;
	struct stunidx		*x;
	struct dsock		*d;
	struct nbaddr		 addr;
	char			 holder[STUNIDX_HOLDER_MAX + 1];
	nbmq_time		 now = daemon_now();

	/* No reply: the connection went; the lookup times out. */
	if (reply == NULL || (x = stunidx_of(g->handle, &d)) == NULL) {
		free(g);
		return;
	}
	if (reply->type == REDIS_REPLY_STRING && stunidx_split(reply->str,
	    reply->len, holder, sizeof(holder), &addr) == 0)
		stunsrv_found(&d->core, now, g->id, &addr, holder);
	else {
		if (reply->type == REDIS_REPLY_ERROR)
			log_debug("socket %s: stun_index %s: GET: %s",
			    d->core.name, x->desc, reply->str);
		stunsrv_found(&d->core, now, g->id, NULL, NULL);
	}
	free(g);
	dsock_sync(d, now);
}

/* A message on our channel: another rendezvous asks for a Binding
 * indication to a name registered here. */
static void
stunidx_message_cb(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r, *msg;
	struct stunidx	*x;
	struct dsock	*d;
	struct nbaddr	 src;
	char		 name[NBMQ_NAME_MAX + 1];
	nbmq_time	 now = daemon_now();

	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING ||
	    (x = stunidx_of((uint32_t)(uintptr_t)priv, &d)) == NULL)
		return;
	if (strcmp(reply->element[0]->str, "subscribe") == 0 &&
	    x->sub == ac && !x->sub_up) {
		x->sub_at = 0;
		x->sub_up = 1;
		if (x->cmd_up)
			stunidx_up(x);
		return;
	}
	if (strcmp(reply->element[0]->str, "message") != 0)
		return;
	msg = reply->element[2];
	if (msg->type != REDIS_REPLY_STRING || stunidx_split(msg->str,
	    msg->len, name, sizeof(name), &src) != 0 ||
	    !stun_valid_name(name, strlen(name))) {
		log_debug("socket %s: stun_index: a malformed introduction "
		    "ignored", d->core.name);
		return;
	}
	stunsrv_intro(&d->core, now, name, &src);
	dsock_sync(d, now);
}

/* Connecting. */

static void
stunidx_select_cb(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r;
	struct dsock	*d;
	struct stunidx	*x;

	if (reply != NULL && reply->type == REDIS_REPLY_ERROR &&
	    (x = stunidx_of((uint32_t)(uintptr_t)priv, &d)) != NULL)
		log_warnx("socket %s: stun_index %s: SELECT %u: %s",
		    d->core.name, x->desc, x->url.db, reply->str);
}

static redisAsyncContext *
stunidx_open(struct stunidx *x, const char *host)
{
	redisAsyncContext	*ac;

	if (x->url.kind == STUN_INDEX_REDIS_UNIX)
		ac = redisAsyncConnectUnix(x->url.path);
	else
		ac = redisAsyncConnect(host, x->url.port);
	if (ac == NULL)
		return NULL;
	if (ac->err) {
		log_debug("stun_index %s: %s", x->desc, ac->errstr);
		redisAsyncFree(ac);
		return NULL;
	}
	ac->data = x;
	redisLibeventAttach(ac, nbmqd->base);
	redisAsyncSetConnectCallback(ac, stunidx_connect_cb);
	redisAsyncSetDisconnectCallback(ac, stunidx_disconnect_cb);
	return ac;
}

static void
stunidx_open_both(struct stunidx *x, const char *host)
{
	nbmq_time	 now = daemon_now();

	x->attempts++;
	if (x->cmd == NULL && (x->cmd = stunidx_open(x, host)) != NULL) {
		if (x->url.db != 0)
			redisAsyncCommand(x->cmd, stunidx_select_cb,
			    (void *)(uintptr_t)x->handle, "SELECT %u",
			    x->url.db);
		redisAsyncCommand(x->cmd, stunidx_pong_cb,
		    (void *)(uintptr_t)x->handle, "PING");
		x->ping_at = now;
	}
	if (x->sub == NULL && (x->sub = stunidx_open(x, host)) != NULL) {
		redisAsyncCommand(x->sub, stunidx_message_cb,
		    (void *)(uintptr_t)x->handle, "SUBSCRIBE %sintro:%s",
		    x->prefix, x->holder);
		x->sub_at = now;
	}
	if (x->cmd == NULL || x->sub == NULL)
		stunidx_down(x, "cannot connect");
}

static void
stunidx_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct stunidx	*x = arg;
	char		 host[INET6_ADDRSTRLEN];
	const void	*a;

	if (result == EVUTIL_EAI_CANCEL)
		return;		/* x is being freed */
	x->dns = NULL;
	if (result != 0 || res == NULL) {
		stunidx_down(x, evutil_gai_strerror(result));
		return;
	}
	a = res->ai_family == AF_INET6 ?
	    (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr :
	    (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
	evutil_inet_ntop(res->ai_family, a, host, sizeof(host));
	evutil_freeaddrinfo(res);
	stunidx_open_both(x, host);
}

static void
stunidx_connect(struct stunidx *x)
{
	struct evutil_addrinfo	 hints;
	uint8_t			 a[16];

	if (x->url.kind == STUN_INDEX_REDIS) {
		if (evutil_inet_pton(AF_INET, x->url.host, a) != 1 &&
		    evutil_inet_pton(AF_INET6, x->url.host, a) != 1) {
			memset(&hints, 0, sizeof(hints));
			hints.ai_family = AF_UNSPEC;
			hints.ai_socktype = SOCK_STREAM;
			x->attempts++;
			x->dns = evdns_getaddrinfo(nbmqd->dns, x->url.host,
			    NULL, &hints, stunidx_dns_cb, x);
			return;
		}
	}
	stunidx_open_both(x, x->url.host);
}

static void
stunidx_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	stunidx_connect(arg);
}

/* Drop a connection now (not from one of its own callbacks). */
static void
stunidx_drop(redisAsyncContext **acp, int *upp)
{
	redisAsyncContext	*ac = *acp;

	*acp = NULL;
	*upp = 0;
	if (ac != NULL) {
		ac->data = NULL;	/* no disconnect callback */
		redisAsyncFree(ac);	/* replies waiting: NULL */
	}
}

/* Every STUNIDX_WATCH: a PING; one unanswered for STUNIDX_STALL, or a
 * subscription unconfirmed as long, drops both connections. */
static void
stunidx_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stunidx	*x = arg;
	nbmq_time	 now = daemon_now();
	char		 why[64];

	if ((x->cmd != NULL && x->ping_at != 0 &&
	    now - x->ping_at >= STUNIDX_STALL) ||
	    (x->sub != NULL && !x->sub_up && x->sub_at != 0 &&
	    now - x->sub_at >= STUNIDX_STALL)) {
		snprintf(why, sizeof(why), "no answer for %llu ms",
		    (unsigned long long)(STUNIDX_STALL / MSEC));
		x->ping_at = x->sub_at = 0;
		stunidx_drop(&x->cmd, &x->cmd_up);
		stunidx_drop(&x->sub, &x->sub_up);
		stunidx_down(x, why);
		return;
	}
	if (x->cmd_up && x->ping_at == 0) {
		x->ping_at = now;
		redisAsyncCommand(x->cmd, stunidx_pong_cb,
		    (void *)(uintptr_t)x->handle, "PING");
	}
}

/* The ops the core calls. */

static void
stunidx_put(void *arg, struct sock *s, const char *name,
    const struct nbaddr *addr, uint64_t ttl)
{
	struct stunidx	*x = arg;

	if (!x->cmd_up) {
		x->unshared++;
		return;
	}
	stunidx_put_entry(x, name, addr, ttl);
}

static int
stunidx_get(void *arg, struct sock *s, const char *name, uint64_t id)
{
	struct stunidx		*x = arg;
	struct stunidx_get	*g;

	if (!x->cmd_up || !x->sub_up || (g = malloc(sizeof(*g))) == NULL)
		return -1;
	g->handle = x->handle;
	g->id = id;
	if (redisAsyncCommand(x->cmd, stunidx_get_cb, g, "GET %sname:%s",
	    x->prefix, name) != REDIS_OK) {
		free(g);
		return -1;
	}
	return 0;
}

static void
stunidx_intro(void *arg, struct sock *s, const char *holder,
    const char *name, const struct nbaddr *src)
{
	struct stunidx	*x = arg;
	char		 at[64], msg[NBMQ_NAME_MAX + 72];

	if (strcmp(holder, x->holder) == 0) {
		stunsrv_intro(s, daemon_now(), name, src);
		return;
	}
	if (!x->cmd_up)
		return;
	addr_fmt(src, at, sizeof(at));
	snprintf(msg, sizeof(msg), "%s %s", name, at);
	redisAsyncCommand(x->cmd, stunidx_write_cb,
	    (void *)(uintptr_t)x->handle, "PUBLISH %sintro:%s %s",
	    x->prefix, holder, msg);
}

static const struct stun_index_ops stunidx_ops = {
	.put = stunidx_put,
	.get = stunidx_get,
	.intro = stunidx_intro,
};

/* nbmqctl index: the shared index, a snapshot at most STUNIDX_SNAP_AGE
 * old, of at most STUNIDX_LIST_MAX names (one script: SCAN, GET, PTTL). */

static const char stunidx_list_lua[] =
    "local out, cur, max = {}, '0', tonumber(ARGV[2]) * 3\n"
    "repeat\n"
    "  local r = redis.call('SCAN', cur, 'MATCH', ARGV[1], 'COUNT', 500)\n"
    "  cur = r[1]\n"
    "  for _, k in ipairs(r[2]) do\n"
    "    if #out >= max then return out end\n"
    "    local v = redis.call('GET', k)\n"
    "    if v then\n"
    "      out[#out + 1] = k\n"
    "      out[#out + 1] = v\n"
    "      out[#out + 1] = redis.call('PTTL', k)\n"
    "    end\n"
    "  end\n"
    "until cur == '0'\n"
    "return out\n";

static void
stunidx_snap_row(struct stunidx *x, redisReply **el)
{
	struct stunidx_row	*w = &x->rows[x->nrows];
	struct nbaddr		 a;
	size_t			 plen = strlen(x->prefix) + 5;	/* "name:" */

	if (el[0]->type != REDIS_REPLY_STRING || el[0]->len <= plen ||
	    el[0]->len - plen > NBMQ_NAME_MAX ||
	    el[1]->type != REDIS_REPLY_STRING ||
	    el[2]->type != REDIS_REPLY_INTEGER ||
	    stunidx_split(el[1]->str, el[1]->len, w->holder,
	    sizeof(w->holder), &a) != 0)
		return;
	memcpy(w->name, el[0]->str + plen, el[0]->len - plen);
	w->name[el[0]->len - plen] = '\0';
	addr_fmt(&a, w->addr, sizeof(w->addr));
	w->pttl = el[2]->integer;
	x->nrows++;
}

static void
stunidx_snap_cb(redisAsyncContext *ac, void *r, void *priv)
{
	redisReply	*reply = r;
	struct stunidx	*x;
	struct dsock	*d;

	if ((x = stunidx_of((uint32_t)(uintptr_t)priv, &d)) == NULL)
		return;
	x->fetching = 0;
	x->snap_at = daemon_now();
	x->nrows = 0;
	if (reply != NULL && reply->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i + 2 < reply->elements &&
		    x->nrows < STUNIDX_LIST_MAX; i += 3)
			stunidx_snap_row(x, reply->element + i);
	} else if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_warnx("socket %s: stun_index %s: listing: %s",
		    d->core.name, x->desc, reply->str);
	ipc_ctl_resume_all();
}

int
stunidx_snapshot(struct dsock *d, const struct stunidx_row **rows,
    uint32_t *n)
{
	struct stunidx	*x = d->stunidx;
	nbmq_time	 now = daemon_now();
	char		 pattern[STUN_INDEX_PREFIX_MAX + 8];

	*rows = NULL;
	*n = 0;
	if (x == NULL)
		return 0;
	if (x->fetching)
		return 1;
	if (x->snap_at != 0 && now - x->snap_at < STUNIDX_SNAP_AGE) {
		*rows = x->rows;
		*n = x->nrows;
		return 0;
	}
	if (!x->cmd_up)
		return 0;	/* degraded: this rendezvous' own names */
	if (x->rows == NULL && (x->rows = calloc(STUNIDX_LIST_MAX,
	    sizeof(*x->rows))) == NULL)
		return 0;
	snprintf(pattern, sizeof(pattern), "%sname:*", x->prefix);
	if (redisAsyncCommand(x->cmd, stunidx_snap_cb,
	    (void *)(uintptr_t)x->handle, "EVAL %s 0 %s %d", stunidx_list_lua,
	    pattern, STUNIDX_LIST_MAX) != REDIS_OK)
		return 0;
	x->fetching = 1;
	return 1;
}

/* Set up and tear down. */

int
stunidx_start(struct dsock *d, const char *url, const char *prefix)
{
	struct stunidx	*x;
	struct timeval	 tv;
	char		 why[160], host[64];

	if (url == NULL)
		return 0;
	if ((x = calloc(1, sizeof(*x))) == NULL)
		return ENOMEM;
	if (stunsrv_parse_index(url, &x->url, why, sizeof(why)) != 0) {
		log_warnx("socket %s: stun_index: %s", d->core.name, why);
		free(x);
		return EINVAL;
	}
	if (x->url.kind == STUN_INDEX_MEMORY) {
		free(x);
		return 0;
	}
	if ((x->retry = evtimer_new(nbmqd->base, stunidx_retry_cb, x)) ==
	    NULL || (x->watch = event_new(nbmqd->base, -1, EV_PERSIST,
	    stunidx_watch_cb, x)) == NULL) {
		if (x->retry != NULL)
			event_free(x->retry);
		free(x);
		return ENOMEM;
	}
	x->handle = d->handle;
	x->backoff = STUNIDX_BACKOFF_MIN;
	x->backoff_max = d->core.o.stun_refresh_ivl / 2;
	if (x->backoff_max > STUNIDX_BACKOFF_MAX)
		x->backoff_max = STUNIDX_BACKOFF_MAX;
	if (x->backoff_max < STUNIDX_BACKOFF_MIN)
		x->backoff_max = STUNIDX_BACKOFF_MIN;
	snprintf(x->desc, sizeof(x->desc), "%s", url);
	snprintf(x->prefix, sizeof(x->prefix), "%s",
	    prefix != NULL ? prefix : STUN_INDEX_PREFIX);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "nbmqd");
	host[sizeof(host) - 1] = '\0';
	snprintf(x->holder, sizeof(x->holder), "%.64s/%s/%08x", host,
	    d->core.name, (unsigned int)(d->core.ops->random64(d->core.arg) &
	    0xffffffffU));
	for (char *c = x->holder; *c != '\0'; c++)
		if (*c == ' ')
			*c = '_';
	d->stunidx = x;
	stunsrv_set_index(&d->core, &stunidx_ops, x);
	tv.tv_sec = (time_t)(STUNIDX_WATCH / NSEC);
	tv.tv_usec = (suseconds_t)(STUNIDX_WATCH % NSEC / 1000);
	event_add(x->watch, &tv);
	stunidx_connect(x);
	return 0;
}

void
stunidx_free(struct dsock *d)
{
	struct stunidx	*x = d->stunidx;

	if (x == NULL)
		return;
	d->stunidx = NULL;
	stunsrv_set_index(&d->core, NULL, NULL);
	if (x->dns != NULL)
		evdns_getaddrinfo_cancel(x->dns);
	/* Callbacks from here on find no stunidx (ac->data, handle). */
	if (x->cmd != NULL) {
		x->cmd->data = NULL;
		redisAsyncFree(x->cmd);
	}
	if (x->sub != NULL) {
		x->sub->data = NULL;
		redisAsyncFree(x->sub);
	}
	event_free(x->retry);
	event_free(x->watch);
	free(x->rows);
	free(x);
}

/* For nbmqctl: "redis" when up, "degraded" when not; NULL: in memory. */
const char *
stunidx_state(const struct dsock *d)
{
	if (d->stunidx == NULL)
		return NULL;
	return d->stunidx->degraded || !d->stunidx->cmd_up ||
	    !d->stunidx->sub_up ? "degraded" : "shared";
}

const char *
stunidx_holder(const struct dsock *d)
{
	return d->stunidx != NULL ? d->stunidx->holder : NULL;
}
