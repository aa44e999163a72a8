/* SPDX-License-Identifier: ISC */
/*
 * opts.c: socket options, one table shared by the config and the IPC.
 *
 * Every option is a uint64_t in struct sockopts, stored in its natural unit:
 * messages or frames (counts), bytes, nanoseconds (durations), or 0/1
 * (yes/no).  The config speaks text ("0.2", "500ms", "16M", "yes"), the
 * IPC speaks int64 (durations in milliseconds, 1 for yes); both go through
 * the ranges below.  An option with id 0 is set in the config only.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "nbmqd.h"
#include "nbmq-protocol.h"

#define KIB		1024ULL
#define MIB		(1024ULL * KIB)
#define GIB		(1024ULL * MIB)
#define DAY		(86400ULL * NSEC)

#define OPT(field, id, kind, min, max)					\
	{ #field, id, kind, offsetof(struct sockopts, field), min, max }

const struct optdesc opt_table[] = {
	OPT(send_hwm, NBMQ_OPT_SEND_HWM, OPTK_COUNT, 1, 10000000),
	OPT(recv_hwm, NBMQ_OPT_RECV_HWM, OPTK_COUNT, 1, 10000000),
	OPT(max_tick_send, NBMQ_OPT_MAX_TICK_SEND, OPTK_COUNT, 1, 1000000),
	OPT(safe_resend_limit, NBMQ_OPT_SAFE_RESEND_LIMIT, OPTK_COUNT, 0, 1000),
	OPT(safe_resend_ivl, NBMQ_OPT_SAFE_RESEND_IVL, OPTK_DURATION,
	    MSEC, DAY),
	OPT(safe_hash_dedup_ttl, NBMQ_OPT_SAFE_HASH_DEDUP_TTL, OPTK_DURATION,
	    MSEC, DAY),
	OPT(uncompleted_message_ttl, NBMQ_OPT_UNCOMPLETED_MESSAGE_TTL,
	    OPTK_DURATION, MSEC, DAY),
	OPT(queue_maint_ivl, NBMQ_OPT_QUEUE_MAINT_IVL, OPTK_DURATION,
	    MSEC, DAY),
	OPT(peer_heartbeat_ivl, NBMQ_OPT_PEER_HEARTBEAT_IVL, OPTK_DURATION,
	    MSEC, DAY),
	OPT(peer_keepalive, NBMQ_OPT_PEER_KEEPALIVE, OPTK_DURATION,
	    MSEC, DAY),
	OPT(reconnect_wait, NBMQ_OPT_RECONNECT_WAIT, OPTK_DURATION,
	    MSEC, DAY),
	OPT(max_frame_size, NBMQ_OPT_MAX_FRAME_SIZE, OPTK_BYTES,
	    FRAME_MIN_SIZE, FRAME_MAX_SIZE),
	OPT(max_message_size, NBMQ_OPT_MAX_MESSAGE_SIZE, OPTK_BYTES,
	    1, NBMQ_IPC_MAX_MSG_SIZE),
	OPT(max_peers, NBMQ_OPT_MAX_PEERS, OPTK_COUNT, 1, 1000000),
	OPT(linger, NBMQ_OPT_LINGER, OPTK_DURATION, 0, DAY),
	OPT(rcvbuf, NBMQ_OPT_RCVBUF, OPTK_BYTES, 0, GIB),
	OPT(sndbuf, NBMQ_OPT_SNDBUF, OPTK_BYTES, 0, GIB),
	OPT(stun_refresh_ivl, NBMQ_OPT_STUN_REFRESH_IVL, OPTK_DURATION,
	    100 * MSEC, DAY),
	/* PROTOCOL.md 4.3: Hello, Batch and larger frames between daemons. */
	OPT(coalesce, NBMQ_OPT_COALESCE, OPTK_BOOL, 0, 1),
	/* PROTOCOL.md 4.4: Slow, pacing between daemons. */
	OPT(pacing, NBMQ_OPT_PACING, OPTK_BOOL, 0, 1),
	OPT(ext_frame_size, NBMQ_OPT_EXT_FRAME_SIZE, OPTK_BYTES, FRAME_MIN_SIZE,
	    FRAME_MAX_SIZE),
	/* Config only (no NBMQ_OPT_): what a peer may make this daemon hold
	 * is the operator's to say, not an application's (issue 15). */
	OPT(recv_hwm_bytes, 0, OPTK_BYTES, 64 * KIB, 64 * GIB),
	{ NULL, 0, OPTK_COUNT, 0, 0, 0 }
};

void
opts_defaults(struct sockopts *o)
{
	memset(o, 0, sizeof(*o));
	o->send_hwm = 1000;
	o->recv_hwm = 1000;
	o->max_tick_send = 1000;
	o->safe_resend_limit = 10;
	o->safe_resend_ivl = 200 * MSEC;
	o->safe_hash_dedup_ttl = 3 * NSEC;	/* > 10 x 0.2 s + 1 s */
	o->uncompleted_message_ttl = 10 * NSEC;
	o->queue_maint_ivl = 1 * NSEC;
	o->peer_heartbeat_ivl = 1 * NSEC;
	o->peer_keepalive = 10 * NSEC;
	o->reconnect_wait = 5 * NSEC;
	o->max_frame_size = 500;
	o->max_message_size = 16 * MIB;
	o->max_peers = 4096;
	o->linger = 1 * NSEC;
	o->rcvbuf = 4 * MIB;
	o->sndbuf = 1 * MIB;
	o->stun_refresh_ivl = 20 * NSEC;
	o->coalesce = 1;
	o->pacing = 1;
	o->ext_frame_size = FRAME_EXT_DEFAULT;
	o->recv_hwm_bytes = 256 * MIB;
}

/*
 * What a socket accepts from an extension peer.  Below max_frame_size it
 * means max_frame_size: a config that raised max_frame_size alone (to 9000
 * on a jumbo-frame LAN, say) stays valid, and the extension never makes
 * frames smaller than plain ones.
 */
uint64_t
opts_ext_frame_size(const struct sockopts *o)
{
	return o->ext_frame_size > o->max_frame_size ? o->ext_frame_size :
	    o->max_frame_size;
}

const struct optdesc *
opt_by_name(const char *name)
{
	const struct optdesc	*d;

	if (name == NULL)
		return NULL;
	for (d = opt_table; d->name != NULL; d++)
		if (strcmp(d->name, name) == 0)
			return d;
	return NULL;
}

const struct optdesc *
opt_by_id(int id)
{
	const struct optdesc	*d;

	for (d = opt_table; d->name != NULL; d++)
		if (d->id == id && id != 0)
			return d;
	return NULL;
}

uint64_t
opt_get(const struct sockopts *o, const struct optdesc *d)
{
	uint64_t	 v;

	memcpy(&v, (const char *)o + d->off, sizeof(v));
	return v;
}

static void
opts_store(struct sockopts *o, const struct optdesc *d, uint64_t v)
{
	memcpy((char *)o + d->off, &v, sizeof(v));
}

/*
 * Seconds with up to 9 decimals, trailing zeros cut: 200000000 -> "0.2",
 * 1000000000 -> "1", 1500000 -> "0.0015".
 */
static void
opts_fmt_duration(uint64_t ns, char *buf, size_t len)
{
	char	 frac[16];
	int	 n;

	if (ns % NSEC == 0) {
		snprintf(buf, len, "%" PRIu64, (uint64_t)(ns / NSEC));
		return;
	}
	snprintf(frac, sizeof(frac), "%09" PRIu64, (uint64_t)(ns % NSEC));
	for (n = 9; n > 0 && frac[n - 1] == '0'; n--)
		frac[n - 1] = '\0';
	snprintf(buf, len, "%" PRIu64 ".%s", (uint64_t)(ns / NSEC), frac);
}

void
opt_format(const struct sockopts *o, const struct optdesc *d, char *buf,
    size_t len)
{
	uint64_t	 v = opt_get(o, d);

	if (d->kind == OPTK_DURATION)
		opts_fmt_duration(v, buf, len);
	else if (d->kind == OPTK_BOOL)
		snprintf(buf, len, "%s", v ? "yes" : "no");
	else
		snprintf(buf, len, "%" PRIu64, v);
}

/* What the option accepts, for error messages. */
static void
opts_range_text(const struct optdesc *d, char *buf, size_t len)
{
	char	 lo[32], hi[32];

	switch (d->kind) {
	case OPTK_DURATION:
		opts_fmt_duration(d->min, lo, sizeof(lo));
		opts_fmt_duration(d->max, hi, sizeof(hi));
		snprintf(buf, len, "must be a duration between %s and %s "
		    "seconds (like 0.2, 500ms, 2m)", lo, hi);
		break;
	case OPTK_BYTES:
		snprintf(buf, len, "must be a size between %" PRIu64 " and %"
		    PRIu64 " bytes (suffixes K, M, G allowed)", d->min, d->max);
		break;
	case OPTK_BOOL:
		snprintf(buf, len, "must be yes or no");
		break;
	default:
		snprintf(buf, len, "must be an integer between %" PRIu64
		    " and %" PRIu64, d->min, d->max);
		break;
	}
}

/*
 * Leading decimal digits of *sp into *v; advances *sp past all of them.
 * Returns the digit count, or -1 on overflow.
 */
static int
opts_digits(const char **sp, uint64_t *v)
{
	const char	*s = *sp;
	uint64_t	 n = 0;
	int		 count = 0, overflow = 0;

	for (; *s >= '0' && *s <= '9'; s++, count++) {
		if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			overflow = 1;
		else
			n = n * 10 + (uint64_t)(*s - '0');
	}
	*sp = s;
	*v = n;
	return overflow ? -1 : count;
}

/* 0 with the value, 1 out of range (overflow), -1 bad syntax. */
static int
opts_parse_count(const char *s, uint64_t *v)
{
	int	 n;

	n = opts_digits(&s, v);
	if (n < 0)
		return 1;
	if (n == 0 || *s != '\0')
		return -1;
	return 0;
}

int
opts_parse_bytes(const char *s, uint64_t *v)
{
	uint64_t	 n, mult = 1;
	int		 nd;

	nd = opts_digits(&s, &n);
	if (nd == 0)
		return -1;
	switch (*s) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = KIB;
		break;
	case 'm':
	case 'M':
		mult = MIB;
		break;
	case 'g':
	case 'G':
		mult = GIB;
		break;
	default:
		return -1;
	}
	if (*s != '\0') {
		s++;
		if (strcmp(s, "iB") == 0 || strcmp(s, "B") == 0)
			s += strlen(s);
		if (*s != '\0')
			return -1;
	}
	if (nd < 0 || n > UINT64_MAX / mult)
		return 1;
	*v = n * mult;
	return 0;
}

/* yes/no (also true/false, on/off, 1/0). */
static int
opts_parse_bool(const char *s, uint64_t *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*v = 1;
			return 0;
		}
		if (strcmp(s, no[i]) == 0) {
			*v = 0;
			return 0;
		}
	}
	return -1;
}

/* "1", "0.2", "1.5s", "500ms", "2m", "1h" into nanoseconds. */
static int
opts_parse_duration(const char *s, uint64_t *v)
{
	unsigned __int128	 total;
	uint64_t		 ip, unit, frac = 0, scale = 1;
	int			 nd, nf = 0;

	nd = opts_digits(&s, &ip);
	if (nd == 0)
		return -1;
	if (*s == '.') {
		s++;
		for (; *s >= '0' && *s <= '9'; s++, nf++) {
			/* Below a nanosecond of an hour: ignore the rest. */
			if (nf < 18) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				scale *= 10;
			}
		}
		if (nf == 0)
			return -1;
	}
	if (*s == '\0' || strcmp(s, "s") == 0)
		unit = NSEC;
	else if (strcmp(s, "ms") == 0)
		unit = MSEC;
	else if (strcmp(s, "m") == 0)
		unit = 60 * NSEC;
	else if (strcmp(s, "h") == 0)
		unit = 3600 * NSEC;
	else
		return -1;
	if (nd < 0)
		return 1;
	total = (unsigned __int128)ip * unit +
	    (unsigned __int128)frac * unit / scale;
	if (total > UINT64_MAX)
		return 1;
	*v = (uint64_t)total;
	return 0;
}

int
opt_parse(struct sockopts *o, const struct optdesc *d, const char *text,
    char *why, size_t whylen)
{
	char		 range[128];
	uint64_t	 v = 0;
	int		 r;

	switch (d->kind) {
	case OPTK_DURATION:
		r = opts_parse_duration(text, &v);
		break;
	case OPTK_BYTES:
		r = opts_parse_bytes(text, &v);
		break;
	case OPTK_BOOL:
		r = opts_parse_bool(text, &v);
		break;
	default:
		r = opts_parse_count(text, &v);
		break;
	}
	if (r == 0 && v >= d->min && v <= d->max) {
		opts_store(o, d, v);
		return 0;
	}
	opts_range_text(d, range, sizeof(range));
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "%s, not \"%.40s%s\"", range, text,
		    strlen(text) > 40 ? "..." : "");
	return -1;
}

int
opt_set_ipc(struct sockopts *o, const struct optdesc *d, int64_t value)
{
	uint64_t	 v;

	if (value < 0)
		return -1;
	v = (uint64_t)value;
	if (d->kind == OPTK_DURATION) {
		if (v > UINT64_MAX / MSEC)
			return -1;
		v *= MSEC;
	}
	if (v < d->min || v > d->max)
		return -1;
	opts_store(o, d, v);
	return 0;
}

int64_t
opt_get_ipc(const struct sockopts *o, const struct optdesc *d)
{
	uint64_t	 v = opt_get(o, d);

	if (d->kind == OPTK_DURATION)
		v /= MSEC;
	if (v > INT64_MAX)
		return INT64_MAX;
	return (int64_t)v;
}

int
opts_validate(const struct sockopts *o, char *why, size_t whylen)
{
	char	 a[32], b[32];

	if (o->peer_keepalive <= o->peer_heartbeat_ivl) {
		opts_fmt_duration(o->peer_keepalive, a, sizeof(a));
		opts_fmt_duration(o->peer_heartbeat_ivl, b, sizeof(b));
		snprintf(why, whylen, "peer_keepalive (%ss) must be greater "
		    "than peer_heartbeat_ivl (%ss)", a, b);
		return -1;
	}
	/*
	 * No check of safe_hash_dedup_ttl against the resend options: the
	 * window in use is never shorter than the resend horizon (safe.c,
	 * safe_dedup_ttl), and a TTL of a resend interval, which this once
	 * required, let a late copy through whenever the copies between
	 * were lost (issue 14).
	 */
	return 0;
}
