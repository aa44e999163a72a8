/* SPDX-License-Identifier: ISC */
/*
 * crypt.c: encrypted sockets (PROTOCOL.md 4.2) over the encryptor
 * interface of nbmq_encryptor.h: a socket adopts the encryptor the shell
 * loaded for it (crypt_sock_start; cryptconf.c reads the key files and
 * opens plugins), then the handshake riding in Connect and Connected,
 * sealing every frame the core writes and opening every frame it
 * receives, the refusals.
 *
 * A plain socket (encryptor = none) has s->crypt == NULL and runs the
 * v0.2.0 code untouched.  The core calls in behind one `if (s->crypt)`:
 *
 *	sock_input		crypt_input(): a sealed frame comes back
 *				opened (its kind without 0x80), a handshake
 *				verified as the one for the session it makes,
 *				or a refusal to send or received, or nothing
 *	sock_out		crypt_out(): every frame on its way into
 *				the outbox gets its handshake or is sealed
 *	sock_peer_gone		crypt_hs_free(): a peer's handshake, or one
 *				that made no session
 *
 * Frames are built plain and sealed in their outbox slot, so what a
 * safe_dealer hashes for its Acks is the plain frame on both sides.  A
 * frame that cannot be sealed never enters the outbox: nothing leaves an
 * encrypted socket in the clear.
 *
 * A peer's address follows it (session_seen) only from sock_input, after
 * its frame was opened: a spoofed frame with a known session id cannot
 * move a session.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "nbmqd.h"
#include "nbmq_encryptor.h"
#include "crypt_sodium.h"

#define CRYPT_LOG_IVL		(10 * NSEC)	/* refusal lines: one per */
#define CRYPT_BUF_SIZE		(FRAME_MAX_SIZE + 64)
/* Cookie replies, within a budget per source (hashed address and port)
 * and one for the socket: a flood gets few, and cannot use up those owed
 * to the others; a reply costs less than the Connect it answers. */
#define COOKIE_SOURCES		64
#define COOKIE_SRC_RATE		20.0
#define COOKIE_SRC_BURST	40.0
#define COOKIE_RATE		1000.0
#define COOKIE_BURST		1000.0

/* Refusals logged at most once per CRYPT_LOG_IVL each (and socket). */
enum crypt_refusal {
	CR_PLAIN,		/* plain peer here, or encrypted peer at plain */
	CR_DENIED,		/* key not in peers */
	CR_REPLAY,		/* Connect replayed */
	CR_HANDSHAKE,		/* handshake does not verify */
	CR_COOKIE,		/* under load: Connects answered with cookies */
	CR_N
};

struct crypt_lim {
	nbmq_time	 at;		/* last line; 0 never */
	uint64_t	 skipped;	/* refusals not logged since */
};

_Static_assert(CRYPT_WHO_MAX == NBMQ_ENC_WHO_MAX, "CRYPT_WHO_MAX is "
    "nbmq_encryptor.h's NBMQ_ENC_WHO_MAX");

struct crypt_sock {
	const struct nbmq_encryptor *e;
	void		*enc;		/* e->create() */
	void		*dl;		/* dlopen() handle of a plugin */
	void		(*unload)(void *dl);	/* the shell's dlclose */
	char		 label[96];	/* "sodium", or the plugin's path */
	void		*pending;	/* connecting: the handshake in flight */
	nbmq_time	 now;		/* the latest time seen */
	uint8_t		*buf;		/* opened frames */
	struct crypt_lim lim[CR_N];
	struct tokens	 cookie_all, cookie_src[COOKIE_SOURCES];
};

static uint64_t
crypt_get64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static const char *
crypt_kind_name(uint8_t kind)
{
	static char	buf[16];

	switch (kind & ~FRAME_ENCRYPTED) {
	case FK_DATA:
		return "Data";
	case FK_CONNECT:
		return "Connect";
	case FK_CONNECTED:
		return "Connected";
	case FK_DISCONNECTED:
		return "Disconnected";
	case FK_HEARTBEAT:
		return "Heartbeat";
	case FK_ACK:
		return "Ack";
	case FK_HELLO:
		return "Hello";
	case FK_BATCH:
		return "Batch";
	}
	snprintf(buf, sizeof(buf), "kind %u", kind & ~FRAME_ENCRYPTED);
	return buf;
}

static void
crypt_count(struct sock *s, struct peer *p, enum drop_reason why)
{
	s->st.drops[why]++;
	if (p != NULL)
		p->st.drops[why]++;
}

/*
 * A refusal: one line per CRYPT_LOG_IVL, socket and kind of refusal,
 * saying how many were not logged since, so that a flood can neither fill
 * the log nor hide another kind of refusal.  A plain socket keeps its one
 * limit in struct sock.  crypt_log_due() first: 0 when the line is
 * skipped (counted), so that a flood costs no formatting of addresses.
 */
static struct crypt_lim *
crypt_lim_of(struct sock *s, enum crypt_refusal cr, struct crypt_lim *plain)
{
	if (s->crypt != NULL)
		return &s->crypt->lim[cr];
	plain->at = s->crypt_log_at;
	plain->skipped = s->crypt_log_skipped;
	return plain;
}

static void
crypt_lim_put(struct sock *s, const struct crypt_lim *l)
{
	if (s->crypt == NULL) {
		s->crypt_log_at = l->at;
		s->crypt_log_skipped = l->skipped;
	}
}

static int
crypt_log_due(struct sock *s, enum crypt_refusal cr, nbmq_time now)
{
	struct crypt_lim	 plain, *l = crypt_lim_of(s, cr, &plain);

	if (l->at == 0 || now >= l->at + CRYPT_LOG_IVL)
		return 1;
	l->skipped++;
	crypt_lim_put(s, l);
	return 0;
}

/* A line crypt_log_due() allowed. */
static void __attribute__((format(printf, 4, 5)))
crypt_log(struct sock *s, enum crypt_refusal cr, nbmq_time now,
    const char *fmt, ...)
{
	struct crypt_lim	 plain, *l = crypt_lim_of(s, cr, &plain);
	va_list			 ap;
	char			 line[320];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (l->skipped > 0)
		log_warnx("%s (and %llu more since)", line,
		    (unsigned long long)l->skipped);
	else
		log_warnx("%s", line);
	l->at = now ? now : 1;
	l->skipped = 0;
	crypt_lim_put(s, l);
}

/* A plain socket got an encrypted frame (DROP_ENCRYPTED, counted there). */
void
crypt_refuse(struct sock *s, nbmq_time now, const struct nbaddr *from,
    uint8_t kind)
{
	if (crypt_log_due(s, CR_PLAIN, now))
		crypt_log(s, CR_PLAIN, now, "socket %s: encrypted %s from %s "
		    "refused: this socket is plain (encryptor = none)",
		    s->name, crypt_kind_name(kind), addr_str(from));
}

/* Keys as text: base64 (nbmqctl genkey, peers). */

int
crypt_key_decode(const char *s, size_t len, uint8_t key[CRYPT_KEY_SIZE])
{
	const char	*end;
	size_t		 n;

	if (sodium_init() < 0 || len != CRYPT_KEY_B64)
		return -1;
	if (sodium_base642bin(key, CRYPT_KEY_SIZE, s, len, NULL, &n, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || n != CRYPT_KEY_SIZE ||
	    end != s + len)
		return -1;
	return 0;
}


uint64_t
crypt_need(const struct nbmq_encryptor *e)
{
	uint64_t	need = FRAME_DATA_HDR_SIZE + e->overhead + 1;

	if (need < FRAME_HDR_SIZE + 8 + e->overhead)
		need = FRAME_HDR_SIZE + 8 + e->overhead;
	if (need < FRAME_HDR_SIZE + e->handshake_max)
		need = FRAME_HDR_SIZE + e->handshake_max;
	return need;
}

/* The frames of a socket with options o fit sealed by e (label: its name
 * in why) in max_frame_size: 1, else 0 with why. */
int
crypt_opts_fit(const struct nbmq_encryptor *e, const char *label,
    const struct sockopts *o, char *why, size_t whylen)
{
	uint64_t	need = crypt_need(e);

	if (o->max_frame_size >= need)
		return 1;
	snprintf(why, whylen, "max_frame_size %llu is too small for "
	    "encryptor %s: at least %llu",
	    (unsigned long long)o->max_frame_size, label,
	    (unsigned long long)need);
	return 0;
}

/* The frames of an encrypted socket must fit sealed in max_frame_size. */
int
crypt_opts_ok(const struct sock *s, const struct sockopts *o, char *why,
    size_t whylen)
{
	return crypt_opts_fit(s->crypt->e, s->crypt->label, o, why, whylen);
}

/*
 * s adopts the encryptor the shell loaded and created (crypt_sock_load,
 * cryptconf.c), before the socket binds or connects; the core reads no
 * key file and opens no plugin.  0, or -1 out of memory (l released).
 */
int
crypt_sock_start(struct sock *s, const struct crypt_loaded *l)
{
	struct crypt_sock	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL ||
	    (c->buf = malloc(CRYPT_BUF_SIZE)) == NULL) {
		free(c);
		l->e->destroy(l->enc);
		if (l->dl != NULL)
			l->unload(l->dl);
		return -1;
	}
	c->e = l->e;
	c->enc = l->enc;
	c->dl = l->dl;
	c->unload = l->unload;
	snprintf(c->label, sizeof(c->label), "%s", l->label);
	s->crypt = c;
	s->seal_overhead = c->e->overhead;
	log_info("socket %s: encryptor %s%s%s", s->name, c->e->name,
	    c->dl != NULL ? " from " : "", c->dl != NULL ? c->label : "");
	return 0;
}

void
crypt_sock_free(struct sock *s)
{
	struct crypt_sock	*c = s->crypt;

	if (c == NULL)
		return;
	if (c->e != NULL) {
		if (c->pending != NULL)
			c->e->session_free(c->pending);
		if (c->enc != NULL)
			c->e->destroy(c->enc);
	}
	if (c->dl != NULL)
		c->unload(c->dl);
	free(c->buf);
	free(c);
	s->crypt = NULL;
	s->seal_overhead = 0;
}

/* A handshake crypt_input() verified that no session took, or a peer's. */
void
crypt_hs_free(struct sock *s, void *hs)
{
	if (hs != NULL)
		s->crypt->e->session_free(hs);
}

/* Sending. */

/* Connect (p NULL: a new attempt, new ephemeral keys) or Connected (p's
 * handshake): the handshake as b's body; its length, or 0. */
static size_t
crypt_handshake(struct crypt_sock *c, struct peer *p, uint8_t *b, size_t cap)
{
	void	*hs;
	size_t	 n = 0;

	if (p == NULL) {
		if (c->pending != NULL)
			c->e->session_free(c->pending);
		c->pending = c->e->session_new(c->enc, NBMQ_ENC_INITIATOR);
		hs = c->pending;
	} else
		hs = p->crypt;
	if (hs == NULL || c->e->hs_write(hs, b, b + FRAME_HDR_SIZE,
	    cap - FRAME_HDR_SIZE, &n) != NBMQ_ENC_OK)
		return 0;
	return FRAME_HDR_SIZE + n;
}

/*
 * sock_out: the frame in b (len bytes, in a slot of cap bytes) for p,
 * marked encrypted, gets its handshake or is sealed in place.  Its length
 * now, or 0 when it cannot go: nothing leaves in the clear.
 */
size_t
crypt_out(struct sock *s, struct peer *p, enum out_how how, uint8_t *b,
    size_t len, size_t cap, nbmq_time now)
{
	struct crypt_sock	*c = s->crypt;
	size_t			 n = 0;

	if (now > c->now)
		c->now = now;
	b[1] |= FRAME_ENCRYPTED;
	if (how == OUT_HANDSHAKE)
		return crypt_handshake(c, p, b, cap);
	if (p != NULL && p->crypt != NULL)
		n = c->e->seal(p->crypt, b, len, cap, c->now);
	return n < FRAME_HDR_SIZE || n > cap ? 0 : n;
}

/* Receiving. */

static enum drop_reason
crypt_reason(int r)
{
	switch (r) {
	case NBMQ_ENC_REPLAY:
		return DROP_CRYPT_REPLAY;
	case NBMQ_ENC_DENIED:
		return DROP_CRYPT_DENIED;
	default:
		return DROP_CRYPT_AUTH;
	}
}

/* The header of a frame that is not sealed (a handshake's, Disconnected),
 * without 0x80, for sock_input. */
static enum crypt_verdict
crypt_header(struct sock *s, const uint8_t *buf, struct crypt_in *ci)
{
	memcpy(s->crypt->buf, buf, FRAME_HDR_SIZE);
	s->crypt->buf[1] &= ~FRAME_ENCRYPTED;
	ci->buf = s->crypt->buf;
	ci->len = FRAME_HDR_SIZE;
	return CRYPT_FRAME;
}

/* A Connect that does not verify: counted, a line now and then. */
static void
crypt_bad_connect(struct sock *s, nbmq_time now, const struct nbaddr *from)
{
	crypt_count(s, NULL, DROP_CRYPT_HANDSHAKE);
	if (crypt_log_due(s, CR_HANDSHAKE, now))
		crypt_log(s, CR_HANDSHAKE, now, "socket %s: Connect from %s "
		    "refused: the handshake does not verify (made for "
		    "another key, another encryptor, or damaged)", s->name,
		    addr_str(from));
}

/* What a cookie is made of: the source's address and port, as bytes. */
static size_t
crypt_src(const struct nbaddr *a, uint8_t out[18])
{
	if (a->u.sa.sa_family == AF_INET6) {
		memcpy(out, &a->u.sin6.sin6_addr, 16);
		memcpy(out + 16, &a->u.sin6.sin6_port, 2);
		return 18;
	}
	memcpy(out, &a->u.sin.sin_addr, 4);
	memcpy(out + 4, &a->u.sin.sin_port, 2);
	return 6;
}

/* May a cookie reply go to from now (the budgets on COOKIE_SOURCES)? */
static int
crypt_cookie_budget(struct crypt_sock *c, const struct nbaddr *from,
    nbmq_time now)
{
	struct tokens	*src = &c->cookie_src[addr_hash(from) %
			    COOKIE_SOURCES];

	if (!tokens_refill(src, now, COOKIE_SRC_RATE, COOKIE_SRC_BURST) ||
	    !tokens_refill(&c->cookie_all, now, COOKIE_RATE, COOKIE_BURST))
		return 0;
	src->n -= 1.0;
	c->cookie_all.n -= 1.0;
	return 1;
}

/* Under load: a Connect without mac2 gets a cookie reply (in ci, for
 * sock.c to send), if the budget allows, and never public-key work. */
static void
crypt_cookie_out(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, const uint8_t *src, size_t srclen,
    struct crypt_in *ci)
{
	struct crypt_sock	*c = s->crypt;

	crypt_count(s, NULL, DROP_CRYPT_COOKIE);
	if (crypt_log_due(s, CR_COOKIE, now))
		crypt_log(s, CR_COOKIE, now, "socket %s: under load: a "
		    "Connect without a valid cookie (mac2) gets a cookie "
		    "reply, no public-key work (the last from %s)", s->name,
		    addr_str(from));
	if (!crypt_cookie_budget(c, from, now))
		return;
	ci->reply_len = crypt_sodium_reply(c->enc, buf, src, srclen,
	    ci->reply, sizeof(ci->reply));
}

/*
 * sodium's gate before any session or public-key work for a Connect:
 * 1 when it is worth hs_read(); else 0, dropped: garbage, or under load
 * (crypt_sodium.c, the comment on top).
 */
static int
crypt_gate(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, size_t len, struct crypt_in *ci)
{
	uint8_t		src[18];
	size_t		srclen = crypt_src(from, src);

	switch (crypt_sodium_gate(s->crypt->enc, buf, len, src, srclen,
	    now)) {
	case SOD_GATE_PASS:
		return 1;
	case SOD_GATE_BAD:
		crypt_bad_connect(s, now, from);
		return 0;
	case SOD_GATE_LIMITED:
		crypt_count(s, NULL, DROP_CRYPT_COOKIE);
		return 0;
	}
	crypt_cookie_out(s, now, from, buf, src, srclen, ci);
	return 0;
}

/* Bound side: an encrypted Connect. */
static enum crypt_verdict
crypt_accept(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, size_t len, struct crypt_in *ci)
{
	struct crypt_sock	*c = s->crypt;
	char			 who[NBMQ_ENC_WHO_MAX];
	void			*sess;
	int			 r;

	if (!s->bound) {
		s->st.drops[DROP_NOT_BOUND]++;
		return CRYPT_DONE;
	}
	if (c->e == &crypt_sodium && !crypt_gate(s, now, from, buf, len, ci))
		return ci->reply_len > 0 ? CRYPT_REPLY : CRYPT_DONE;
	if ((sess = c->e->session_new(c->enc, NBMQ_ENC_RESPONDER)) == NULL) {
		log_warnx("socket %s: handshake: out of memory", s->name);
		return CRYPT_DONE;
	}
	who[0] = '\0';
	r = c->e->hs_read(sess, buf, buf + FRAME_HDR_SIZE,
	    len - FRAME_HDR_SIZE, who, sizeof(who));
	who[sizeof(who) - 1] = '\0';
	if (r != NBMQ_ENC_OK) {
		c->e->session_free(sess);
		if (r == NBMQ_ENC_DENIED) {
			crypt_count(s, NULL, DROP_CRYPT_DENIED);
			if (crypt_log_due(s, CR_DENIED, now))
				crypt_log(s, CR_DENIED, now, "socket %s: "
				    "Connect from %s refused: %s is not one "
				    "of its peers", s->name, addr_str(from),
				    who[0] ? who : "the key");
			ci->why = CONN_KEY_DENIED;
			return CRYPT_REFUSE;
		} else if (r == NBMQ_ENC_REPLAY) {
			crypt_count(s, NULL, DROP_CRYPT_REPLAY);
			if (crypt_log_due(s, CR_REPLAY, now))
				crypt_log(s, CR_REPLAY, now, "socket %s: "
				    "Connect from %s refused: replayed (not "
				    "newer than the last one of %s)", s->name,
				    addr_str(from), who[0] ? who : "its key");
		} else
			crypt_bad_connect(s, now, from);
		return CRYPT_DONE;
	}
	log_info("socket %s: Connect from %s: %s authenticated", s->name,
	    addr_str(from), who[0] ? who : "peer");
	ci->hs = sess;
	memcpy(ci->who, who, sizeof(ci->who));
	return crypt_header(s, buf, ci);
}

/*
 * Connecting side: a Connected of session 0 from the remote, sodium's
 * cookie reply to our Connect: the next Connect, sent at once, carries
 * mac2 (crypt_sodium.c, the comment on top).
 */
static enum crypt_verdict
crypt_cookie_in(struct sock *s, nbmq_time now, const uint8_t *buf,
    size_t len)
{
	struct crypt_sock	*c = s->crypt;

	if (c->e != &crypt_sodium ||
	    crypt_sodium_cookie(c->enc, c->pending, buf, len) != 0) {
		crypt_count(s, NULL, DROP_CRYPT_HANDSHAKE);
		return CRYPT_DONE;
	}
	if (crypt_log_due(s, CR_COOKIE, now))
		crypt_log(s, CR_COOKIE, now, "socket %s: %s is under load: "
		    "Connect again with its cookie", s->name,
		    addr_str(&s->remote));
	if (s->link == LINK_CONNECTING && s->remote_valid)
		return CRYPT_CONNECT;
	return CRYPT_DONE;
}

/* Connecting side: an encrypted Connected. */
static enum crypt_verdict
crypt_connected(struct sock *s, nbmq_time now, const struct nbaddr *from,
    uint64_t id, const uint8_t *buf, size_t len, struct crypt_in *ci)
{
	struct crypt_sock	*c = s->crypt;
	char			 who[NBMQ_ENC_WHO_MAX];
	int			 r;

	if (s->bound || s->link == LINK_IDLE ||
	    (s->remote_valid && !addr_eq(from, &s->remote))) {
		s->st.drops[DROP_NOT_BOUND]++;
		return CRYPT_DONE;
	}
	if (id == 0)
		return crypt_cookie_in(s, now, buf, len);
	if (c->pending == NULL) {
		/* Answered already (a duplicate), or never asked. */
		crypt_count(s, NULL, DROP_CRYPT_HANDSHAKE);
		return CRYPT_DONE;
	}
	who[0] = '\0';
	r = c->e->hs_read(c->pending, buf, buf + FRAME_HDR_SIZE,
	    len - FRAME_HDR_SIZE, who, sizeof(who));
	who[sizeof(who) - 1] = '\0';
	if (r != NBMQ_ENC_OK) {
		/* The handshake stays: the real answer may follow. */
		crypt_count(s, NULL, r == NBMQ_ENC_BAD ? DROP_CRYPT_HANDSHAKE :
		    crypt_reason(r));
		if (crypt_log_due(s, CR_HANDSHAKE, now))
			crypt_log(s, CR_HANDSHAKE, now, "socket %s: Connected "
			    "from %s refused: the handshake does not verify",
			    s->name, addr_str(from));
		return CRYPT_DONE;
	}
	log_info("socket %s: Connected from %s: %s authenticated", s->name,
	    addr_str(from), who[0] ? who : "peer");
	ci->hs = c->pending;
	memcpy(ci->who, who, sizeof(ci->who));
	c->pending = NULL;
	return crypt_header(s, buf, ci);
}

/* A plain frame at this encrypted socket (PROTOCOL.md 5): a plain socket
 * refused our Connect (the reason is logged), or we refuse a plain one,
 * and say so. */
static enum crypt_verdict
crypt_plain(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, struct crypt_in *ci)
{
	crypt_count(s, NULL, DROP_PLAIN);
	if (buf[1] == FK_DISCONNECTED && crypt_get64(buf + 2) == 0) {
		ci->why = CONN_PEER_PLAIN;
		return CRYPT_REFUSED;
	}
	if (crypt_log_due(s, CR_PLAIN, now))
		crypt_log(s, CR_PLAIN, now, "socket %s: plain %s from %s "
		    "refused: this socket is encrypted (encryptor %s)",
		    s->name, crypt_kind_name(buf[1]), addr_str(from),
		    s->crypt->e->name);
	if (buf[1] != FK_CONNECT)
		return CRYPT_DONE;
	ci->why = 0;
	return CRYPT_REFUSE;
}

/*
 * Disconnected: nobody can seal it (the sender lost the session), so it
 * counts only from where the peer is.  Session 0 with CONN_KEY_DENIED: our
 * Connect refused (PROTOCOL.md 5).
 */
static enum crypt_verdict
crypt_disconnected(struct sock *s, const struct nbaddr *from, uint64_t id,
    const uint8_t *buf, size_t len, struct crypt_in *ci)
{
	struct peer	*p;

	if (id == 0 && len > FRAME_HDR_SIZE &&
	    buf[FRAME_HDR_SIZE] == CONN_KEY_DENIED) {
		ci->why = CONN_KEY_DENIED;
		return CRYPT_REFUSED;
	}
	if ((p = sock_peer_by_id(s, id)) == NULL)
		return CRYPT_DONE;
	if (!addr_eq(from, &p->addr)) {
		crypt_count(s, p, DROP_CRYPT_AUTH);
		return CRYPT_DONE;
	}
	return crypt_header(s, buf, ci);
}

/*
 * One datagram on an encrypted socket, for sock_input: CRYPT_FRAME with
 * ci->buf the frame opened (in the socket's buffer; kind without 0x80),
 * ci->from where it counts as coming from, and for Connect and Connected
 * ci->hs, the handshake verified, for the session it makes (else
 * crypt_hs_free); a refusal to send (CRYPT_REFUSE) or one received
 * (CRYPT_REFUSED), ci->why saying why; a frame of a session unknown here,
 * ci->id (CRYPT_UNKNOWN); or CRYPT_DONE: dropped, counted.
 */
enum crypt_verdict
crypt_input(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, size_t len, struct crypt_in *ci)
{
	struct crypt_sock	*c = s->crypt;
	size_t			 n = 0;
	struct peer		*p;
	uint64_t		 id;
	int			 r;

	/* Not the reply and who buffers (160 bytes a datagram): each is read
	 * only when reply_len or hs says it was written. */
	memset(ci, 0, offsetof(struct crypt_in, reply));
	ci->from = from;
	if (now > c->now)
		c->now = now;
	if (len < FRAME_HDR_SIZE) {
		crypt_count(s, NULL, DROP_SHORT);
		return CRYPT_DONE;
	}
	if (buf[0] != FRAME_VERSION) {
		crypt_count(s, NULL, DROP_VERSION);
		return CRYPT_DONE;
	}
	if (!(buf[1] & FRAME_ENCRYPTED))
		return crypt_plain(s, now, from, buf, ci);
	id = crypt_get64(buf + 2);
	switch (buf[1] & ~FRAME_ENCRYPTED) {
	case FK_CONNECT:
		return crypt_accept(s, now, from, buf, len, ci);
	case FK_CONNECTED:
		return crypt_connected(s, now, from, id, buf, len, ci);
	case FK_DISCONNECTED:
		return crypt_disconnected(s, from, id, buf, len, ci);
	}
	if ((p = sock_peer_by_id(s, id)) == NULL) {
		ci->id = id;
		return CRYPT_UNKNOWN;
	}
	if (len > CRYPT_BUF_SIZE - FRAME_HDR_SIZE) {
		crypt_count(s, p, DROP_LENGTH);
		return CRYPT_DONE;
	}
	r = p->crypt == NULL ? NBMQ_ENC_BAD : c->e->open(p->crypt, buf, len,
	    c->buf + FRAME_HDR_SIZE, &n, now);
	/*
	 * Authentic but older than the newest frame: used, but it comes
	 * from where the session is, whatever its source (issue 14: a frame
	 * withheld and released elsewhere moved the session there).
	 */
	if (r == NBMQ_ENC_OK_LATE) {
		r = NBMQ_ENC_OK;
		ci->from = &p->addr;
	}
	if (r != NBMQ_ENC_OK || n > len) {
		crypt_count(s, p, crypt_reason(r == NBMQ_ENC_OK ?
		    NBMQ_ENC_BAD : r));
		return CRYPT_DONE;
	}
	memcpy(c->buf, buf, FRAME_HDR_SIZE);
	c->buf[1] &= ~FRAME_ENCRYPTED;
	ci->buf = c->buf;
	ci->len = FRAME_HDR_SIZE + n;
	return CRYPT_FRAME;
}

const char *
crypt_label(const struct sock *s)
{
	return s->crypt != NULL ? s->crypt->label : "";
}

void
crypt_self(const struct sock *s, char *who, size_t len)
{
	if (len == 0)
		return;
	who[0] = '\0';
	if (s->crypt != NULL && s->crypt->e == &crypt_sodium)
		crypt_sodium_self(s->crypt->enc, who, len);
}
