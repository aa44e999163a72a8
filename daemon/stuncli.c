/* SPDX-License-Identifier: ISC */
/*
 * stuncli.c: an nbmq socket's side of STUN (PROTOCOL.md 4.1).
 *
 * Registration: with stun_server set, the socket sends a Binding request
 * from its own UDP port every stun_refresh_ivl (with NBMQ-NAME when it has
 * a `name`), which keeps its NAT mapping open and tells it its mapped
 * address (s->mapped).  Unanswered requests are retried sooner (1, 2, 4 s
 * ... up to stun_refresh_ivl); after STUNCLI_NOANSWER of them in a row the
 * log says so.
 *
 * Connect by name (`connect = bob@host:port`): every connect attempt
 * (session_attempt, every reconnect_wait while connecting) asks the stun
 * server for bob (NBMQ-TARGET).  The answer's NBMQ-PEER-ADDRESS becomes
 * the remote (sock_set_remote sends Connect), and Connect is sent again
 * every STUNCLI_PUNCH_IVL while no Connected came, a few times: these
 * open our NAT towards bob while the stun server has told bob to punch
 * towards us.  If none is answered, "hole punching failed" is logged and
 * the next attempt asks again.  404 (bob is not registered) and silence
 * are logged too; the socket stays connecting and keeps trying.
 *
 * The target side: a Binding indication from the stun server with
 * NBMQ-PEER-ADDRESS makes the socket send STUNCLI_PUNCHES small Binding
 * indications to that address, STUNCLI_PUNCH_IVL apart, which open its NAT
 * for the requester's Connect.  The requester ignores them: STUN
 * indications are keepalives to it.
 *
 * Everything STUN that reaches an nbmq socket comes here (sock_input's
 * demultiplexing): answers are taken only from the stun server and only
 * for the transaction in flight; anything else is dropped and counted.
 */
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

#define STUNCLI_PUNCH_IVL	(200 * MSEC)
#define STUNCLI_PUNCHES		5	/* indications to a requester */
#define STUNCLI_CONNECTS	10	/* at most, per lookup answer */
#define STUNCLI_PUNCH_SLOTS	4	/* requesters punched at once */
#define STUNCLI_RETRY		(1 * NSEC) /* first retry of a request */
#define STUNCLI_NOANSWER	3	/* unanswered requests before a log */

struct stuncli_punch {
	struct nbaddr	 to;
	nbmq_time	 at;
	int		 left;
};

struct stuncli {
	char		 name[NBMQ_NAME_MAX + 1];	/* "" none */
	char		 target[NBMQ_NAME_MAX + 1];	/* "" none */
	char		 desc[NBMQ_IPC_HOST_LEN]; /* the server, for logs */
	struct nbaddr	 server;
	int		 server_valid;
	int		 server_is_name;

	/* Binding requests: mapped address, name registration */
	nbmq_time	 reg_at;
	uint8_t		 reg_txid[12];
	int		 reg_outstanding;
	int		 reg_waiting;	/* for the server's address */
	uint32_t	 reg_missed;		/* unanswered in a row */
	int		 reg_error;	/* the last error answered */
	int		 registered;

	/* connect by name */
	uint8_t		 look_txid[12];
	int		 look_outstanding;
	int		 look_waiting;
	uint32_t	 look_missed;
	uint64_t	 look_unknown;		/* 404 in a row */
	int		 connects_left;
	nbmq_time	 connect_at;
	int		 verdict;		/* punching: did it work? */
	uint64_t	 punch_failures;

	struct stuncli_punch punch[STUNCLI_PUNCH_SLOTS];
};

/* 1 at the 1st, 2nd, 4th, 8th... time: for logs that could repeat. */
static int
stuncli_pow2(uint64_t n)
{
	return n > 0 && (n & (n - 1)) == 0;
}

int
stuncli_init(struct sock *s, const char *desc, const struct nbaddr *server)
{
	struct stuncli	*c;

	if ((c = s->stuncli) == NULL) {
		if ((c = calloc(1, sizeof(*c))) == NULL)
			return -1;
		c->reg_at = NBMQ_TIME_NEVER;
		s->stuncli = c;
	}
	snprintf(c->desc, sizeof(c->desc), "%s", desc);
	if (server != NULL) {
		c->server = *server;
		c->server_valid = 1;
		c->server_is_name = 0;
	} else {
		c->server_valid = 0;
		c->server_is_name = 1;
	}
	return 0;
}

void
stuncli_register(struct sock *s, const char *name, nbmq_time now)
{
	struct stuncli	*c = s->stuncli;

	if (c == NULL)
		return;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->reg_at = now;
}

void
stuncli_set_target(struct sock *s, const char *target)
{
	if (s->stuncli == NULL)
		return;
	snprintf(s->stuncli->target, sizeof(s->stuncli->target), "%s",
	    target);
	s->lookup = target[0] != '\0' ? stuncli_lookup : NULL;
}

int
stuncli_has_target(const struct sock *s)
{
	return s->stuncli != NULL && s->stuncli->target[0] != '\0';
}

void
stuncli_free(struct sock *s)
{
	free(s->stuncli);
	s->stuncli = NULL;
	s->lookup = NULL;
}

/* A Binding request with attr = name (none if name is ""). */
static void
stuncli_request(struct sock *s, const uint8_t *txid, uint16_t attr,
    const char *name)
{
	struct stuncli	*c = s->stuncli;
	uint8_t		 buf[STUN_MSG_MAX];
	struct stun_out	 o;

	stun_begin(&o, buf, sizeof(buf), STUN_BINDING_REQUEST, NULL, txid);
	if (*name != '\0' && stun_put_attr(&o, attr, name, strlen(name)) == -1)
		return;
	if (stun_send(s, &c->server, buf, stun_finish(&o, 1)) == -1)
		log_warnx("socket %s: cannot send to stun server %s "
		    "(max_frame_size %llu)", s->name, c->desc,
		    (unsigned long long)s->o.max_frame_size);
}

static void
stuncli_send_reg(struct sock *s)
{
	stuncli_request(s, s->stuncli->reg_txid, STUN_A_NBMQ_NAME,
	    s->stuncli->name);
}

static void
stuncli_send_lookup(struct sock *s)
{
	stuncli_request(s, s->stuncli->look_txid, STUN_A_NBMQ_TARGET,
	    s->stuncli->target);
}

/* The shell resolved the server's host name: send what waited for it. */
void
stuncli_set_server(struct sock *s, const struct nbaddr *a, nbmq_time now)
{
	struct stuncli	*c = s->stuncli;

	if (c == NULL)
		return;
	c->server = *a;
	c->server_valid = 1;
	if (c->reg_waiting) {
		c->reg_waiting = 0;
		stuncli_send_reg(s);
	}
	if (c->look_waiting) {
		c->look_waiting = 0;
		stuncli_send_lookup(s);
	}
}

/* Send now, or once the server's name is resolved (again). */
static void
stuncli_send_or_wait(struct sock *s, int *waiting, void (*send)(struct sock *))
{
	struct stuncli	*c = s->stuncli;

	if (c->server_is_name) {
		*waiting = 1;
		s->ops->stun_resolve(s->arg, s);
	} else if (c->server_valid)
		send(s);
}

/* Registration (and address discovery) every stun_refresh_ivl. */
static void
stuncli_refresh(struct sock *s, nbmq_time now)
{
	struct stuncli	*c = s->stuncli;
	nbmq_time	 ivl = s->o.stun_refresh_ivl, retry;

	if (c->reg_outstanding) {
		c->reg_missed++;
		c->registered = 0;
		if (c->reg_missed % STUNCLI_NOANSWER == 0 &&
		    stuncli_pow2(c->reg_missed / STUNCLI_NOANSWER))
			log_warnx("socket %s: no answer from stun server %s "
			    "after %u Binding requests%s%s", s->name, c->desc,
			    c->reg_missed, c->name[0] ? " registering " : "",
			    c->name);
		retry = STUNCLI_RETRY << (c->reg_missed < 8 ?
		    c->reg_missed - 1 : 7);
		if (retry < ivl)
			ivl = retry;
	}
	c->reg_at = now + ivl;
	c->reg_outstanding = 1;
	stun_txid(s, c->reg_txid);
	stuncli_send_or_wait(s, &c->reg_waiting, stuncli_send_reg);
}

/* The punching towards bob is over: did a Connected come? */
static void
stuncli_verdict(struct sock *s)
{
	struct stuncli	*c = s->stuncli;
	char		 wait[32];

	c->verdict = 0;
	c->connects_left = 0;
	if (s->link == LINK_UP)
		return;
	c->punch_failures++;
	opt_format(&s->o, opt_by_name("reconnect_wait"), wait, sizeof(wait));
	log_warnx("socket %s: hole punching to %s at %s failed: no answer to "
	    "Connect (a symmetric NAT on either side?); asking stun server "
	    "%s again in %s s (%llu failure%s)", s->name, c->target,
	    addr_str(&s->remote), c->desc, wait,
	    (unsigned long long)c->punch_failures,
	    c->punch_failures == 1 ? "" : "s");
}

void
stuncli_lookup(struct sock *s, nbmq_time now)
{
	struct stuncli	*c = s->stuncli;

	if (c == NULL || c->target[0] == '\0')
		return;
	if (c->verdict)
		stuncli_verdict(s);
	if (c->look_outstanding) {
		c->look_missed++;
		if (c->look_missed % STUNCLI_NOANSWER == 0 &&
		    stuncli_pow2(c->look_missed / STUNCLI_NOANSWER))
			log_warnx("socket %s: no answer from stun server %s "
			    "about %s after %u attempts", s->name, c->desc,
			    c->target, c->look_missed);
	}
	c->look_outstanding = 1;
	stun_txid(s, c->look_txid);
	stuncli_send_or_wait(s, &c->look_waiting, stuncli_send_lookup);
}

static void
stuncli_mapped(struct sock *s, const struct stun_msg *m, nbmq_time now)
{
	struct nbaddr	a;

	if (!m->has_mapped)
		return;
	stun_unmap(&m->mapped, &a);
	if (s->mapped_at == 0 || !addr_eq(&a, &s->mapped))
		log_info("socket %s: mapped address %s (stun server %s)",
		    s->name, addr_str(&a), s->stuncli->desc);
	s->mapped = a;
	s->mapped_at = now;
}

static void
stuncli_registered(struct sock *s, const struct stun_msg *m, nbmq_time now)
{
	struct stuncli	*c = s->stuncli;

	c->reg_outstanding = 0;
	if (c->reg_missed >= STUNCLI_NOANSWER)
		log_info("socket %s: stun server %s answers again", s->name,
		    c->desc);
	c->reg_missed = 0;
	if (m->type == STUN_BINDING_ERROR) {
		if (m->error != c->reg_error)
			log_warnx("socket %s: stun server %s refused %s%s: %d "
			    "%s", s->name, c->desc, c->name[0] ? "the name " :
			    "the Binding request", c->name, m->error,
			    stun_error_text(m->error));
		c->reg_error = m->error;
		c->registered = 0;
		return;
	}
	c->reg_error = 0;
	stuncli_mapped(s, m, now);
	if (c->name[0] != '\0' && !c->registered)
		log_info("socket %s: registered as %s at stun server %s",
		    s->name, c->name, c->desc);
	c->registered = 1;
}

static void
stuncli_found(struct sock *s, const struct stun_msg *m, nbmq_time now)
{
	struct stuncli	*c = s->stuncli;
	struct nbaddr	 peer;
	char		 wait[32];
	int		 n;

	c->look_outstanding = 0;
	c->look_missed = 0;
	if (m->type == STUN_BINDING_ERROR) {
		opt_format(&s->o, opt_by_name("reconnect_wait"), wait,
		    sizeof(wait));
		if (m->error != STUN_ERR_UNKNOWN_NAME)
			log_warnx("socket %s: stun server %s refused the "
			    "lookup of %s: %d %s", s->name, c->desc, c->target,
			    m->error, stun_error_text(m->error));
		else if (stuncli_pow2(++c->look_unknown))
			log_warnx("socket %s: %s is not registered at stun "
			    "server %s (404, %llu time%s); asking again every "
			    "%s s", s->name, c->target, c->desc,
			    (unsigned long long)c->look_unknown,
			    c->look_unknown == 1 ? "" : "s", wait);
		return;
	}
	c->look_unknown = 0;
	stuncli_mapped(s, m, now);
	if (!m->has_peer) {
		s->st.drops[DROP_STUN_UNEXPECTED]++;
		return;
	}
	if (s->link != LINK_CONNECTING)
		return;		/* a late answer: connected meanwhile */
	if (stun_addr_for_family(&m->peer, c->server.u.sa.sa_family,
	    &peer) != 0) {
		log_warnx("socket %s: %s is at %s, an address family this "
		    "socket cannot reach", s->name, c->target,
		    addr_str(&m->peer));
		return;
	}
	log_info("socket %s: %s is at %s (stun server %s): connecting, "
	    "hole punching", s->name, c->target, addr_str(&peer), c->desc);
	/* Connects STUNCLI_PUNCH_IVL apart, done before the next attempt. */
	n = (int)(s->o.reconnect_wait / STUNCLI_PUNCH_IVL) - 1;
	if (n > STUNCLI_CONNECTS - 1)
		n = STUNCLI_CONNECTS - 1;
	if (n < 2)
		n = 2;
	c->connects_left = n;
	c->connect_at = now + STUNCLI_PUNCH_IVL;
	c->verdict = 1;
	sock_set_remote(s, &peer, now);		/* the first Connect */
}

/* The stun server says a peer is looking for us: punch towards it. */
static void
stuncli_introduced(struct sock *s, const struct nbaddr *peer, nbmq_time now)
{
	struct stuncli		*c = s->stuncli;
	struct stuncli_punch	*p, *slot = NULL;
	struct nbaddr		 to;

	if (stun_addr_for_family(peer, c->server.u.sa.sa_family, &to) != 0)
		return;
	/* The same requester again (its next attempt): quietly. */
	for (int i = 0; i < STUNCLI_PUNCH_SLOTS && slot == NULL; i++) {
		p = &c->punch[i];
		if (addr_eq(&p->to, &to))
			slot = p;
	}
	if (slot == NULL) {
		/* A free slot, or (all busy) the first one. */
		slot = &c->punch[0];
		for (int i = 0; i < STUNCLI_PUNCH_SLOTS; i++)
			if (c->punch[i].left == 0) {
				slot = &c->punch[i];
				break;
			}
		log_info("socket %s: stun server %s introduces a peer at %s: "
		    "hole punching", s->name, c->desc, addr_str(&to));
	}
	slot->to = to;
	slot->left = STUNCLI_PUNCHES;
	slot->at = now;
	stuncli_timers(s, now);
}

/* One punch: a Binding indication, which the other side ignores. */
static void
stuncli_punch(struct sock *s, const struct nbaddr *to)
{
	uint8_t		 buf[STUN_MSG_MAX], txid[12];
	struct stun_out	 o;

	stun_txid(s, txid);
	stun_begin(&o, buf, sizeof(buf), STUN_BINDING_INDICATION, NULL, txid);
	stun_send(s, to, buf, stun_finish(&o, 1));
}

void
stuncli_input(struct sock *s, nbmq_time now, const struct nbaddr *from,
    const uint8_t *buf, size_t len)
{
	struct stuncli		*c = s->stuncli;
	struct stun_msg		 m;
	enum drop_reason	 why;

	if ((why = stun_parse(buf, len, &m)) != DROP_NONE) {
		s->st.drops[why]++;
		return;
	}
	if (m.type == STUN_BINDING_INDICATION) {
		/* From the stun server: an introduction; else a punch. */
		if (c != NULL && m.has_peer && c->server_valid &&
		    addr_eq(from, &c->server))
			stuncli_introduced(s, &m.peer, now);
		return;
	}
	if (c == NULL || (m.type != STUN_BINDING_SUCCESS &&
	    m.type != STUN_BINDING_ERROR) || !c->server_valid ||
	    !addr_eq(from, &c->server)) {
		s->st.drops[DROP_STUN_UNEXPECTED]++;
		return;
	}
	if (c->reg_outstanding && memcmp(m.txid, c->reg_txid, 12) == 0)
		stuncli_registered(s, &m, now);
	else if (c->look_outstanding && memcmp(m.txid, c->look_txid, 12) == 0)
		stuncli_found(s, &m, now);
	else
		s->st.drops[DROP_STUN_UNEXPECTED]++;
}

nbmq_time
stuncli_next_deadline(const struct sock *s)
{
	const struct stuncli	*c = s->stuncli;
	nbmq_time		 t;

	if (c == NULL)
		return NBMQ_TIME_NEVER;
	t = c->reg_at;
	if ((c->connects_left > 0 || c->verdict) && c->connect_at < t)
		t = c->connect_at;
	for (int i = 0; i < STUNCLI_PUNCH_SLOTS; i++)
		if (c->punch[i].left > 0 && c->punch[i].at < t)
			t = c->punch[i].at;
	return t;
}

void
stuncli_timers(struct sock *s, nbmq_time now)
{
	struct stuncli		*c = s->stuncli;
	struct stuncli_punch	*p;

	if (c == NULL)
		return;
	if (c->reg_at <= now)
		stuncli_refresh(s, now);
	for (int i = 0; i < STUNCLI_PUNCH_SLOTS; i++) {
		p = &c->punch[i];
		if (p->left > 0 && p->at <= now) {
			stuncli_punch(s, &p->to);
			p->left--;
			p->at = now + STUNCLI_PUNCH_IVL;
		}
	}
	if ((c->connects_left > 0 || c->verdict) && c->connect_at <= now) {
		if (s->link != LINK_CONNECTING || !s->remote_valid)
			c->connects_left = c->verdict = 0;
		else if (c->connects_left > 0) {
			session_send_ctl(s, &s->remote, FK_CONNECT, 0);
			c->connects_left--;
			c->connect_at = now + STUNCLI_PUNCH_IVL;
		} else
			stuncli_verdict(s);
	}
}
