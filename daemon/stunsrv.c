/* SPDX-License-Identifier: ISC */
/*
 * stunsrv.c: a socket of type stun (PROTOCOL.md 4.1 and 5).
 *
 * It answers STUN Binding requests (RFC 5389/8489; RFC 3489 requests with
 * MAPPED-ADDRESS), keeps the index of names (NBMQ-NAME -> mapped address,
 * expiring 3 stun_refresh_ivl after the last refresh), answers NBMQ-TARGET
 * lookups with NBMQ-PEER-ADDRESS and introduces the requester to the
 * target with a Binding indication, so both start hole punching at once.
 *
 * Abuse limits:
 *  - Every answer costs a token from the source's bucket and from the
 *    socket's; requests beyond them are dropped and counted
 *    (stun_rate_limited).  A source is an address, whatever its port,
 *    and an IPv6 /64 (one host has many ports, one subscriber a /64: one
 *    host with 600 ports used up the socket's budget when sources were
 *    address and port, issue 15), hashed with a key of this socket's
 *    into STUNSRV_SOURCES buckets of STUNSRV_SRC_RATE per second, so that
 *    nobody can aim at another client's bucket.
 *  - No amplification beyond the RFC's own: a success response carries the
 *    mandatory attributes (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS for RFC
 *    3489; NBMQ-PEER-ADDRESS for a lookup; FINGERPRINT when the request
 *    had one), and the optional ones (MAPPED-ADDRESS for RFC 5389 clients,
 *    SOFTWARE) only while the response stays within the request's own
 *    size.  So an answer is never larger than max(request, the smallest
 *    response the RFC allows): at most 52 bytes (IPv6, with FINGERPRINT)
 *    for the smallest (20-byte) request.  Error responses carry ERROR-CODE
 *    and, for 420, UNKNOWN-ATTRIBUTES (2 bytes per 4-byte attribute of the
 *    request, at most STUN_MAX_UNKNOWN), and their reason phrase only
 *    while the answer stays within max(request, the smallest error).
 *  - Binding indications to one registered name: STUNSRV_INTRO_RATE per
 *    second, bursts of STUNSRV_INTRO_BURST (a few peers connecting at
 *    once), so a flood of lookups cannot make the target punch towards
 *    many addresses; a requester that was not introduced asks again.
 *  - At most stun_index_max names; new names beyond are refused (508).
 *  - stun_allow: only those networks may register or look up names
 *    (others get 403); plain Binding requests are answered for everyone.
 * Names are not authenticated: the latest registration of a name wins (a
 * NAT rebinding moves it); stun_allow is the protection.
 *
 * A shared index (stun_index, stunidx.c: Redis) behind the socket: every
 * registration here is also put there (ops->put); a name not registered
 * here is asked for there (ops->get), the request kept (at most
 * STUNSRV_PENDING_MAX, for STUNSRV_LOOKUP_WAIT) until stunsrv_found()
 * answers it; the rendezvous that holds the name is then asked to send
 * the Binding indication (ops->intro; at the holder: stunsrv_intro(),
 * with its rate limit and stun_allow).  When the shared index cannot be
 * asked (degraded), lookups are answered from this socket's own names.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

#define STUNSRV_SOURCES		1024
#define STUNSRV_SRC_RATE	20.0
#define STUNSRV_SRC_BURST	40.0
#define STUNSRV_RATE		5000.0
#define STUNSRV_BURST		10000.0
#define STUNSRV_INTRO_RATE	2.0
#define STUNSRV_INTRO_BURST	5.0
#define STUNSRV_EXPIRE_REFRESHES 3
#define STUNSRV_SOFTWARE	"nbmqd " NBMQD_VERSION

/* A lookup waiting for the shared index. */
struct stun_pending {
	TAILQ_ENTRY(stun_pending) entry;	/* oldest first */
	uint64_t		 id;
	nbmq_time		 deadline;
	struct nbaddr		 from, src;
	struct stun_msg		 req;
	size_t			 reqlen;
};
TAILQ_HEAD(stun_pending_list, stun_pending);

struct stunsrv {
	struct hmap		 by_name;
	struct stun_entry_list	 lru;
	uint32_t		 n;
	uint64_t		 max;
	struct stun_net		 allow[STUN_ALLOW_MAX];
	size_t			 nallow;
	struct tokens		 src[STUNSRV_SOURCES], all;
	uint64_t		 src_key;	/* keys the sources' hash */
	uint64_t		 full;	/* refusals at stun_index_max */
	const struct stun_index_ops *iops;	/* NULL: in memory only */
	void			*iarg;
	struct stun_pending_list pending;
	uint64_t		 next_id;
	struct stun_index_stats	 ist;
};

/* The allow list. */

static int
stunsrv_parse_net(const char *text, struct stun_net *n, char *why,
    size_t whylen)
{
	char		 buf[INET6_ADDRSTRLEN + 8], *slash;
	unsigned long	 bits;
	unsigned int	 max;
	char		*end;

	if (strlen(text) >= sizeof(buf)) {
		snprintf(why, whylen, "\"%.64s\" is not a network", text);
		return -1;
	}
	strcpy(buf, text);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(n, 0, sizeof(*n));
	if (inet_pton(AF_INET, buf, n->addr) == 1) {
		n->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, n->addr) == 1) {
		n->family = AF_INET6;
		max = 128;
	} else {
		snprintf(why, whylen, "\"%.64s\" is not an address (like "
		    "10.0.0.0/8 or 2001:db8::/32)", text);
		return -1;
	}
	n->bits = max;
	if (slash != NULL) {
		bits = strtoul(slash, &end, 10);
		if (*slash == '\0' || !isdigit((unsigned char)*slash) ||
		    *end != '\0' || bits > max) {
			snprintf(why, whylen, "\"%.64s\": the prefix length "
			    "must be 0 to %u", text, max);
			return -1;
		}
		n->bits = (unsigned int)bits;
	}
	/* Host bits are not part of the network. */
	for (unsigned int i = 0; i < 16; i++) {
		if (i * 8 >= n->bits)
			n->addr[i] = 0;
		else if (i * 8 + 8 > n->bits)
			n->addr[i] &= (uint8_t)(0xff <<
			    (8 - (n->bits - i * 8)));
	}
	return 0;
}

int
stunsrv_parse_allow(const char *text, struct stun_net *nets, size_t max,
    char *why, size_t whylen)
{
	char	 word[INET6_ADDRSTRLEN + 8];
	size_t	 n = 0, len;

	while (*text != '\0') {
		while (*text == ',' || isspace((unsigned char)*text))
			text++;
		if (*text == '\0')
			break;
		len = strcspn(text, ", \t");
		if (len >= sizeof(word)) {
			snprintf(why, whylen, "\"%.40s...\" is not a network",
			    text);
			return -1;
		}
		memcpy(word, text, len);
		word[len] = '\0';
		text += len;
		if (n == max) {
			snprintf(why, whylen, "at most %zu networks", max);
			return -1;
		}
		if (stunsrv_parse_net(word, &nets[n], why, whylen) != 0)
			return -1;
		n++;
	}
	if (n == 0) {
		snprintf(why, whylen, "expected networks like 10.0.0.0/8, "
		    "192.168.0.0/16");
		return -1;
	}
	return (int)n;
}

static int
stunsrv_allowed(const struct stunsrv *srv, const struct nbaddr *a)
{
	const uint8_t	*p;
	size_t		 i;
	unsigned int	 b;

	if (srv->nallow == 0)
		return 1;
	if (a->u.sa.sa_family == AF_INET)
		p = (const uint8_t *)&a->u.sin.sin_addr;
	else if (a->u.sa.sa_family == AF_INET6)
		p = a->u.sin6.sin6_addr.s6_addr;
	else
		return 0;
	for (i = 0; i < srv->nallow; i++) {
		const struct stun_net *n = &srv->allow[i];

		if (n->family != a->u.sa.sa_family)
			continue;
		for (b = 0; b < n->bits; b++)
			if (((p[b / 8] ^ n->addr[b / 8]) >> (7 - b % 8)) & 1)
				break;
		if (b == n->bits)
			return 1;
	}
	return 0;
}

/* stun_index: "memory", "redis://HOST[:PORT][/DB]", "redis+unix:///PATH[?db=N]". */

static int
stunsrv_parse_db(const char *text, unsigned int *db, char *why, size_t whylen)
{
	unsigned long	 v;
	char		*end;

	v = strtoul(text, &end, 10);
	if (*text == '\0' || !isdigit((unsigned char)*text) || *end != '\0' ||
	    v > STUN_INDEX_DB_MAX) {
		snprintf(why, whylen, "the database must be 0 to %d, not "
		    "\"%.32s\"", STUN_INDEX_DB_MAX, text);
		return -1;
	}
	*db = (unsigned int)v;
	return 0;
}

static int
stunsrv_parse_unix(const char *text, struct stun_index_url *u, char *why,
    size_t whylen)
{
	const char	*q = strstr(text, "?db=");
	size_t		 len = q != NULL ? (size_t)(q - text) : strlen(text);

	if (len == 0 || text[0] != '/' || len >= sizeof(u->path)) {
		snprintf(why, whylen, "redis+unix:// needs an absolute path "
		    "of at most %zu bytes (redis+unix:///run/redis.sock)",
		    sizeof(u->path) - 1);
		return -1;
	}
	memcpy(u->path, text, len);
	u->path[len] = '\0';
	u->kind = STUN_INDEX_REDIS_UNIX;
	return q != NULL ? stunsrv_parse_db(q + 4, &u->db, why, whylen) : 0;
}

static int
stunsrv_parse_tcp(const char *text, struct stun_index_url *u, char *why,
    size_t whylen)
{
	const char	*hend, *p;
	unsigned long	 port = STUN_INDEX_PORT;
	char		*end;
	size_t		 hlen;

	if (*text == '[') {
		if ((hend = strchr(text, ']')) == NULL)
			goto bad;
		text++;
		p = hend + 1;
	} else {
		hend = text + strcspn(text, ":/");
		p = hend;
	}
	hlen = (size_t)(hend - text);
	if (hlen == 0 || hlen >= sizeof(u->host))
		goto bad;
	memcpy(u->host, text, hlen);
	u->host[hlen] = '\0';
	if (*p == ':') {
		port = strtoul(p + 1, &end, 10);
		if (!isdigit((unsigned char)p[1]) || port == 0 ||
		    port > 65535 || (*end != '\0' && *end != '/'))
			goto bad;
		p = end;
	}
	u->port = (uint16_t)port;
	u->kind = STUN_INDEX_REDIS;
	if (*p == '/' && p[1] != '\0')
		return stunsrv_parse_db(p + 1, &u->db, why, whylen);
	if (*p == '\0' || (*p == '/' && p[1] == '\0'))
		return 0;
bad:
	snprintf(why, whylen, "expected redis://HOST[:PORT][/DB] (like "
	    "redis://10.0.0.5:6379/0)");
	return -1;
}

int
stunsrv_parse_index(const char *text, struct stun_index_url *u, char *why,
    size_t whylen)
{
	memset(u, 0, sizeof(*u));
	if (strcmp(text, "memory") == 0) {
		u->kind = STUN_INDEX_MEMORY;
		return 0;
	}
	if (strncmp(text, "redis://", 8) == 0)
		return stunsrv_parse_tcp(text + 8, u, why, whylen);
	if (strncmp(text, "redis+unix://", 13) == 0)
		return stunsrv_parse_unix(text + 13, u, why, whylen);
	snprintf(why, whylen, "expected memory, redis://HOST[:PORT][/DB] or "
	    "redis+unix:///PATH, not \"%.64s\"", text);
	return -1;
}

/* stun_index_prefix: 1 to STUN_INDEX_PREFIX_MAX of A-Z a-z 0-9 _ . : - */
int
stunsrv_valid_prefix(const char *p)
{
	size_t	 n = strlen(p);

	if (n == 0 || n > STUN_INDEX_PREFIX_MAX)
		return 0;
	for (; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_.:-", *p) == NULL)
			return 0;
	return 1;
}

/* Set up. */

static struct stunsrv *
stunsrv_get(struct sock *s)
{
	struct stunsrv	*srv;

	if (s->stunsrv != NULL)
		return s->stunsrv;
	if ((srv = calloc(1, sizeof(*srv))) == NULL)
		return NULL;
	hmap_init(&srv->by_name);
	TAILQ_INIT(&srv->lru);
	TAILQ_INIT(&srv->pending);
	srv->max = STUN_INDEX_MAX_DEFAULT;
	srv->src_key = s->ops->random64(s->arg);
	s->stunsrv = srv;
	return srv;
}

int
stunsrv_configure(struct sock *s, const char *allow, uint64_t index_max,
    char *why, size_t whylen)
{
	struct stunsrv	*srv;
	int		 n = 0;

	if ((srv = stunsrv_get(s)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (allow != NULL && (n = stunsrv_parse_allow(allow, srv->allow,
	    STUN_ALLOW_MAX, why, whylen)) < 0)
		return -1;
	srv->nallow = (size_t)n;
	srv->max = index_max > 0 ? index_max : STUN_INDEX_MAX_DEFAULT;
	return 0;
}

static void
stunsrv_entry_free(struct stunsrv *srv, struct stun_entry *e)
{
	hmap_remove(&srv->by_name, &e->node);
	TAILQ_REMOVE(&srv->lru, e, entry);
	srv->n--;
	free(e);
}

static void
stunsrv_pending_free(struct stunsrv *srv, struct stun_pending *p)
{
	TAILQ_REMOVE(&srv->pending, p, entry);
	srv->ist.pending--;
	free(p);
}

void
stunsrv_set_index(struct sock *s, const struct stun_index_ops *ops,
    void *arg)
{
	struct stunsrv	*srv;

	if ((srv = stunsrv_get(s)) == NULL)
		return;
	srv->iops = ops;
	srv->iarg = arg;
}

void
stunsrv_index_stats(const struct sock *s, struct stun_index_stats *st)
{
	if (s->stunsrv != NULL)
		*st = s->stunsrv->ist;
	else
		memset(st, 0, sizeof(*st));
}

void
stunsrv_free(struct sock *s)
{
	struct stunsrv		*srv = s->stunsrv;
	struct stun_entry	*e;
	struct stun_pending	*p;

	if (srv == NULL)
		return;
	while ((e = TAILQ_FIRST(&srv->lru)) != NULL)
		stunsrv_entry_free(srv, e);
	while ((p = TAILQ_FIRST(&srv->pending)) != NULL)
		stunsrv_pending_free(srv, p);
	hmap_free(&srv->by_name);
	free(srv);
	s->stunsrv = NULL;
}

/* The index. */

static struct stun_entry *
stunsrv_find(const struct stunsrv *srv, const char *name)
{
	struct hnode	*n;

	for (n = hmap_find(&srv->by_name, fnv1a64(name, strlen(name)));
	    n != NULL; n = hmap_next(n)) {
		struct stun_entry *e = (struct stun_entry *)n;

		if (strcmp(e->name, name) == 0)
			return e;
	}
	return NULL;
}

nbmq_time
stunsrv_expiry(const struct sock *s, const struct stun_entry *e)
{
	return e->last + STUNSRV_EXPIRE_REFRESHES * s->o.stun_refresh_ivl;
}

/* NBMQ-NAME from src in this socket's own index: 0, or the error code to
 * answer. */
static int
stunsrv_register_local(struct sock *s, struct stunsrv *srv, const char *name,
    const struct nbaddr *src, int family, nbmq_time now)
{
	struct stun_entry	*e;
	char			 old[64];

	if ((e = stunsrv_find(srv, name)) != NULL) {
		if (!addr_eq(&e->addr, src)) {
			addr_fmt(&e->addr, old, sizeof(old));
			log_info("socket %s: index: %s moved %s -> %s", s->name,
			    name, old, addr_str(src));
			e->addr = *src;
		} else
			log_debug("socket %s: index: %s at %s refreshed",
			    s->name, name, addr_str(src));
		e->last = now;
		e->family = family;
		e->refreshes++;
		TAILQ_REMOVE(&srv->lru, e, entry);
		TAILQ_INSERT_TAIL(&srv->lru, e, entry);
		return 0;
	}
	if (srv->n >= srv->max) {
		/* Logged at the 1st, 2nd, 4th, 8th... refusal. */
		srv->full++;
		if ((srv->full & (srv->full - 1)) == 0)
			log_warnx("socket %s: index full (stun_index_max "
			    "%llu): %s at %s refused (%llu so far)", s->name,
			    (unsigned long long)srv->max, name, addr_str(src),
			    (unsigned long long)srv->full);
		return STUN_ERR_CAPACITY;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return 500;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->addr = *src;
	e->family = family;
	e->first = e->last = now;
	if (hmap_insert(&srv->by_name, &e->node, fnv1a64(name,
	    strlen(name))) == -1) {
		free(e);
		return 500;
	}
	TAILQ_INSERT_TAIL(&srv->lru, e, entry);
	srv->n++;
	log_info("socket %s: index: %s at %s (%u name%s)", s->name, name,
	    addr_str(src), srv->n, srv->n == 1 ? "" : "s");
	return 0;
}

/* NBMQ-NAME from src, here and in the shared index: 0, or the error code
 * to answer. */
static int
stunsrv_register(struct sock *s, struct stunsrv *srv, const char *name,
    const struct nbaddr *src, int family, nbmq_time now)
{
	int	 code;

	if ((code = stunsrv_register_local(s, srv, name, src, family,
	    now)) == 0 && srv->iops != NULL)
		srv->iops->put(srv->iarg, s, name, src,
		    STUNSRV_EXPIRE_REFRESHES * s->o.stun_refresh_ivl);
	return code;
}

/* The bucket of a source: its address, an IPv6 one's /64, keyed. */
static struct tokens *
stunsrv_source(struct stunsrv *srv, const struct nbaddr *src)
{
	uint64_t	h = srv->src_key;
	const uint8_t	*b;
	size_t		 n;

	if (src->u.sa.sa_family == AF_INET6) {
		b = src->u.sin6.sin6_addr.s6_addr;
		n = 8;
	} else {
		b = (const uint8_t *)&src->u.sin.sin_addr;
		n = 4;
	}
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return &srv->src[h % STUNSRV_SOURCES];
}

/* Answers. */

/*
 * An error answer: ERROR-CODE (and for 420 UNKNOWN-ATTRIBUTES), its reason
 * phrase only while the answer stays within max(request, the smallest
 * error answer), like the optional attributes of a success: a 420 with
 * its phrase was 2.33 times its request (issue 15).
 */
static void
stunsrv_error(struct sock *s, const struct nbaddr *to,
    const struct stun_msg *req, size_t reqlen, int code)
{
	uint8_t		 buf[STUN_MSG_MAX];
	struct stun_out	 o;
	const char	*phrase = stun_error_text(code);
	size_t		 least, nu;

	nu = req->nunknown < STUN_MAX_UNKNOWN ? (size_t)req->nunknown :
	    STUN_MAX_UNKNOWN;
	least = STUN_HDR_SIZE + 8 + (req->fingerprint ? 8 : 0) +
	    (code == STUN_ERR_UNKNOWN_ATTRIBUTE ? 4 + ((2 * nu + 3) & ~3U) : 0);
	if (least + ((strlen(phrase) + 3) & ~(size_t)3) >
	    (reqlen > least ? reqlen : least))
		phrase = "";
	stun_begin(&o, buf, sizeof(buf), STUN_BINDING_ERROR, req, NULL);
	if (stun_put_error(&o, code, phrase) == -1)
		return;
	if (code == STUN_ERR_UNKNOWN_ATTRIBUTE &&
	    stun_put_unknown(&o, req->unknown, req->nunknown) == -1)
		return;
	stun_send(s, to, buf, stun_finish(&o, req->fingerprint));
}

/*
 * The success response to req from `to` (src: the same, unmapped), with
 * NBMQ-PEER-ADDRESS when peer is not NULL; optional attributes within the
 * request's own size (the comment on top).
 */
static void
stunsrv_success(struct sock *s, const struct nbaddr *to,
    const struct nbaddr *src, const struct stun_msg *req, size_t reqlen,
    const struct nbaddr *peer)
{
	uint8_t		 buf[STUN_MSG_MAX];
	struct stun_out	 o;
	size_t		 fp = req->fingerprint ? 8 : 0, budget, soft;

	soft = 4 + ((sizeof(STUNSRV_SOFTWARE) - 1 + 3) & ~(size_t)3);
	budget = STUN_HDR_SIZE + stun_addr_attr_size(src) +
	    (peer != NULL ? stun_addr_attr_size(peer) : 0) + fp;
	if (reqlen > budget)
		budget = reqlen;
	stun_begin(&o, buf, sizeof(buf), STUN_BINDING_SUCCESS, req, NULL);
	if (req->classic) {
		if (stun_put_addr(&o, STUN_A_MAPPED_ADDRESS, src, 0) == -1)
			return;
	} else {
		if (stun_put_addr(&o, STUN_A_XOR_MAPPED_ADDRESS, src, 1) == -1)
			return;
		if (peer != NULL && stun_put_addr(&o,
		    STUN_A_NBMQ_PEER_ADDRESS, peer, 1) == -1)
			return;
		if (o.len + stun_addr_attr_size(src) + fp <= budget)
			stun_put_addr(&o, STUN_A_MAPPED_ADDRESS, src, 0);
	}
	if (o.len + soft + fp <= budget)
		stun_put_attr(&o, STUN_A_SOFTWARE, STUNSRV_SOFTWARE,
		    sizeof(STUNSRV_SOFTWARE) - 1);
	stun_send(s, to, buf, stun_finish(&o, req->fingerprint));
}

/* Tell the target who wants it: a Binding indication with the requester. */
static void
stunsrv_introduce(struct sock *s, struct stun_entry *e,
    const struct nbaddr *src, nbmq_time now)
{
	uint8_t		 buf[STUN_MSG_MAX], txid[12];
	struct stun_out	 o;
	struct nbaddr	 to;

	/* The entry's bucket: full when it was made. */
	if (!tokens_refill(&e->intro, now, STUNSRV_INTRO_RATE,
	    STUNSRV_INTRO_BURST))
		return;
	/* The target's address in the family of this socket. */
	if (stun_addr_for_family(&e->addr, e->family, &to) != 0)
		return;
	e->intro.n -= 1.0;
	stun_txid(s, txid);
	stun_begin(&o, buf, sizeof(buf), STUN_BINDING_INDICATION, NULL, txid);
	if (stun_put_addr(&o, STUN_A_NBMQ_PEER_ADDRESS, src, 1) == -1)
		return;
	stun_send(s, &to, buf, stun_finish(&o, 1));
}

/*
 * NBMQ-TARGET not registered here: ask the shared index and answer later
 * (1), or not (0: answer from this socket's own names).
 */
static int
stunsrv_ask(struct sock *s, struct stunsrv *srv, const struct stun_msg *m,
    size_t len, const struct nbaddr *from, const struct nbaddr *src,
    nbmq_time now)
{
	struct stun_pending	*p;

	if (srv->iops == NULL)
		return 0;
	if (srv->ist.pending >= STUNSRV_PENDING_MAX) {
		srv->ist.busy++;
		return 0;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return 0;
	p->id = ++srv->next_id;
	if (srv->iops->get(srv->iarg, s, m->target, p->id) != 0) {
		srv->ist.local++;
		free(p);
		return 0;
	}
	p->deadline = now + STUNSRV_LOOKUP_WAIT;
	p->from = *from;
	p->src = *src;
	p->req = *m;
	p->reqlen = len;
	TAILQ_INSERT_TAIL(&srv->pending, p, entry);
	srv->ist.pending++;
	srv->ist.asked++;
	return 1;
}

/* The code to answer m with (0: success), and the entry it names. */
static int
stunsrv_handle(struct sock *s, struct stunsrv *srv, const struct stun_msg *m,
    const struct nbaddr *from, const struct nbaddr *src, nbmq_time now,
    struct stun_entry **ep)
{
	struct stun_entry	*e;
	char			 at[64];
	int			 code = 0;

	*ep = NULL;
	if (m->nunknown > 0)
		return STUN_ERR_UNKNOWN_ATTRIBUTE;
	if ((m->name[0] != '\0' || m->target[0] != '\0') &&
	    !stunsrv_allowed(srv, src))
		return STUN_ERR_FORBIDDEN;
	if (m->name[0] != '\0' && (code = stunsrv_register(s, srv, m->name,
	    src, from->u.sa.sa_family, now)) != 0)
		return code;
	if (m->target[0] == '\0')
		return 0;
	if ((e = stunsrv_find(srv, m->target)) == NULL) {
		log_debug("socket %s: %s asks for %s: unknown here", s->name,
		    addr_str(src), m->target);
		return STUN_ERR_UNKNOWN_NAME;
	}
	e->lookups++;
	addr_fmt(&e->addr, at, sizeof(at));
	log_debug("socket %s: %s asks for %s: at %s", s->name, addr_str(src),
	    m->target, at);
	*ep = e;
	return 0;
}

void
stunsrv_input(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, size_t len)
{
	struct stunsrv		*srv;
	struct tokens		*src_tokens;
	struct stun_entry	*e;
	struct stun_msg		 m;
	struct nbaddr		 src;
	enum drop_reason	 why;
	int			 code;

	if ((srv = stunsrv_get(s)) == NULL)
		return;
	if ((why = stun_parse(buf, len, &m)) != DROP_NONE) {
		s->st.drops[why]++;
		return;
	}
	if (m.type == STUN_BINDING_INDICATION)
		return;		/* a keepalive: nothing to answer */
	if (m.type != STUN_BINDING_REQUEST) {
		s->st.drops[DROP_STUN_UNEXPECTED]++;
		return;
	}
	stun_unmap(from, &src);		/* a v4-mapped source is IPv4 */
	src_tokens = stunsrv_source(srv, &src);
	if (!tokens_refill(src_tokens, now, STUNSRV_SRC_RATE,
	    STUNSRV_SRC_BURST) ||
	    !tokens_refill(&srv->all, now, STUNSRV_RATE, STUNSRV_BURST)) {
		s->st.drops[DROP_STUN_RATE]++;
		return;
	}
	src_tokens->n -= 1.0;
	srv->all.n -= 1.0;

	code = stunsrv_handle(s, srv, &m, from, &src, now, &e);
	if (code == STUN_ERR_UNKNOWN_NAME &&
	    stunsrv_ask(s, srv, &m, len, from, &src, now))
		return;		/* answered by stunsrv_found() */
	if (code == STUN_ERR_FORBIDDEN || code == STUN_ERR_CAPACITY)
		s->st.drops[DROP_STUN_REFUSED]++;
	if (code != 0) {
		stunsrv_error(s, from, &m, len, code);
		return;
	}
	stunsrv_success(s, from, &src, &m, len, e != NULL ? &e->addr : NULL);
	if (e != NULL)
		stunsrv_introduce(s, e, &src, now);
}

/* The shared index's answers. */

static struct stun_pending *
stunsrv_pending_find(struct stunsrv *srv, uint64_t id)
{
	struct stun_pending	*p;

	TAILQ_FOREACH(p, &srv->pending, entry)
		if (p->id == id)
			return p;
	return NULL;
}

void
stunsrv_found(struct sock *s, nbmq_time now, uint64_t id,
    const struct nbaddr *addr, const char *holder)
{
	struct stunsrv		*srv = s->stunsrv;
	struct stun_pending	*p;

	if (srv == NULL || (p = stunsrv_pending_find(srv, id)) == NULL)
		return;		/* answered already (timed out) */
	if (addr == NULL) {
		log_debug("socket %s: %s asks for %s: unknown", s->name,
		    addr_str(&p->src), p->req.target);
		stunsrv_error(s, &p->from, &p->req, p->reqlen,
		    STUN_ERR_UNKNOWN_NAME);
	} else {
		char	 at[64];

		srv->ist.found++;
		addr_fmt(addr, at, sizeof(at));
		log_debug("socket %s: %s asks for %s: at %s (held by %s)",
		    s->name, addr_str(&p->src), p->req.target, at,
		    holder != NULL ? holder : "?");
		stunsrv_success(s, &p->from, &p->src, &p->req, p->reqlen,
		    addr);
		if (holder != NULL)
			srv->iops->intro(srv->iarg, s, holder, p->req.target,
			    &p->src);
	}
	stunsrv_pending_free(srv, p);
}

void
stunsrv_intro(struct sock *s, nbmq_time now, const char *name,
    const struct nbaddr *src)
{
	struct stunsrv		*srv = s->stunsrv;
	struct stun_entry	*e;

	if (srv == NULL || (e = stunsrv_find(srv, name)) == NULL ||
	    !stunsrv_allowed(srv, src))
		return;
	srv->ist.intros++;
	log_debug("socket %s: %s asks for %s at another rendezvous: "
	    "introduced", s->name, addr_str(src), name);
	stunsrv_introduce(s, e, src, now);
}

/* Timers: entries that missed 3 refreshes go. */

nbmq_time
stunsrv_next_deadline(const struct sock *s)
{
	const struct stun_entry		*e;
	const struct stun_pending	*p;
	nbmq_time			 t = NBMQ_TIME_NEVER;

	if (s->stunsrv == NULL)
		return t;
	if ((e = TAILQ_FIRST(&s->stunsrv->lru)) != NULL)
		t = stunsrv_expiry(s, e);
	if ((p = TAILQ_FIRST(&s->stunsrv->pending)) != NULL &&
	    p->deadline < t)
		t = p->deadline;
	return t;
}

void
stunsrv_timers(struct sock *s, nbmq_time now)
{
	struct stunsrv		*srv = s->stunsrv;
	struct stun_entry	*e;
	struct stun_pending	*p;

	if (srv == NULL)
		return;
	/* Lookups the shared index did not answer in time: unknown. */
	while ((p = TAILQ_FIRST(&srv->pending)) != NULL && p->deadline <= now) {
		srv->ist.timeouts++;
		stunsrv_error(s, &p->from, &p->req, p->reqlen,
		    STUN_ERR_UNKNOWN_NAME);
		stunsrv_pending_free(srv, p);
	}
	while ((e = TAILQ_FIRST(&srv->lru)) != NULL &&
	    stunsrv_expiry(s, e) <= now) {
		log_info("socket %s: index: %s at %s expired (no refresh for "
		    "%llu s)", s->name, e->name, addr_str(&e->addr),
		    (unsigned long long)((now - e->last) / NSEC));
		stunsrv_entry_free(srv, e);
	}
}

const struct stun_entry *
stunsrv_first(const struct sock *s)
{
	return s->stunsrv != NULL ? TAILQ_FIRST(&s->stunsrv->lru) : NULL;
}

uint32_t
stunsrv_count(const struct sock *s)
{
	return s->stunsrv != NULL ? s->stunsrv->n : 0;
}
