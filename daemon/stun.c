/* SPDX-License-Identifier: ISC */
/*
 * stun.c: the STUN codec (RFC 5389/8489 messages, RFC 3489 requests) and
 * this project's attributes, PROTOCOL.md section 4.1.  Pure: bytes in,
 * bytes out, no state.
 *
 * stun_parse() validates a whole datagram before anything is taken from
 * it: the header (top bits 0, length a multiple of 4 and equal to the
 * datagram's length - 20), every attribute TLV inside the message with its
 * padding, the value of every attribute it reads (address families and
 * lengths, names), FINGERPRINT last and correct (CRC-32 xor 0x5354554e).
 * A datagram that fails a check is dropped by the caller with the reason
 * returned.  Attributes after MESSAGE-INTEGRITY other than FINGERPRINT are
 * ignored, as RFC 5389 15.4 says.  Unknown comprehension-required
 * attributes (< 0x8000) are collected for a 420 answer; this daemon does no
 * authentication, so USERNAME, MESSAGE-INTEGRITY and the like are unknown
 * to it.
 *
 * The writer (stun_begin, stun_put_*, stun_finish) never writes past the
 * buffer it is given: a put that does not fit returns -1 and leaves the
 * message as it was.
 */
#include <arpa/inet.h>
#include <string.h>

#include "nbmqd.h"

static uint16_t
stun_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
stun_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static void
stun_set16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
stun_set32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (v >> 16) & 0xff;
	p[2] = (v >> 8) & 0xff;
	p[3] = v & 0xff;
}

/* CRC-32 of ISO 3309 / ITU-T V.42 (the zlib one), as FINGERPRINT uses. */
uint32_t
stun_crc32(const void *buf, size_t len)
{
	static uint32_t	 table[256];
	static int	 ready;
	const uint8_t	*p = buf;
	uint32_t	 c = 0xffffffffU;

	if (!ready) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t v = i;

			for (int k = 0; k < 8; k++)
				v = v & 1 ? 0xedb88320U ^ (v >> 1) : v >> 1;
			table[i] = v;
		}
		ready = 1;
	}
	while (len--)
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffU;
}

/* PROTOCOL.md 4.1: how an NBMQ socket tells STUN from NBMQ. */
int
stun_is_stun(const uint8_t *buf, size_t len)
{
	return len >= STUN_HDR_SIZE && stun_get32(buf + 4) == STUN_COOKIE &&
	    (size_t)stun_get16(buf + 2) == len - STUN_HDR_SIZE;
}

/* Names: 1..NBMQ_NAME_MAX of A-Z a-z 0-9 _ . - (like socket names). */
int
stun_valid_name(const char *s, size_t len)
{
	size_t	i;

	if (len < 1 || len > NBMQ_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

/* A v4-mapped IPv6 address as plain IPv4; anything else as it is. */
void
stun_unmap(const struct nbaddr *in, struct nbaddr *out)
{
	static const uint8_t	 v4mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};
	struct nbaddr		 a;

	if (in->u.sa.sa_family != AF_INET6 ||
	    memcmp(in->u.sin6.sin6_addr.s6_addr, v4mapped, 12) != 0) {
		*out = *in;
		return;
	}
	memset(&a, 0, sizeof(a));
	a.u.sin.sin_family = AF_INET;
	a.u.sin.sin_port = in->u.sin6.sin6_port;
	memcpy(&a.u.sin.sin_addr, in->u.sin6.sin6_addr.s6_addr + 12, 4);
	a.len = sizeof(a.u.sin);
	*out = a;
}

/* Address of the family `family` (AF_INET6: IPv4 as v4-mapped); -1 if not. */
int
stun_addr_for_family(const struct nbaddr *in, int family, struct nbaddr *out)
{
	struct nbaddr	a;

	stun_unmap(in, &a);
	if (a.u.sa.sa_family == family) {
		*out = a;
		return 0;
	}
	if (family != AF_INET6 || a.u.sa.sa_family != AF_INET)
		return -1;
	memset(out, 0, sizeof(*out));
	out->u.sin6.sin6_family = AF_INET6;
	out->u.sin6.sin6_port = a.u.sin.sin_port;
	out->u.sin6.sin6_addr.s6_addr[10] = 0xff;
	out->u.sin6.sin6_addr.s6_addr[11] = 0xff;
	memcpy(out->u.sin6.sin6_addr.s6_addr + 12, &a.u.sin.sin_addr, 4);
	out->len = sizeof(out->u.sin6);
	return 0;
}

/* MAPPED-ADDRESS family: 0x01 IPv4, 0x02 IPv6. */
static int
stun_get_addr(const uint8_t *v, size_t len, int xor, const uint8_t *hdr,
    struct nbaddr *a)
{
	uint16_t	port;
	uint8_t		x[16];

	if (len < 4 || v[0] != 0)
		return -1;
	port = stun_get16(v + 2);
	if (xor)
		port ^= STUN_COOKIE >> 16;
	/* The magic cookie then the transaction id: header bytes 4..19. */
	memcpy(x, hdr + 4, 16);
	memset(a, 0, sizeof(*a));
	switch (v[1]) {
	case 0x01:
		if (len != 8)
			return -1;
		a->u.sin.sin_family = AF_INET;
		a->u.sin.sin_port = htons(port);
		memcpy(&a->u.sin.sin_addr, v + 4, 4);
		if (xor)
			for (int i = 0; i < 4; i++)
				((uint8_t *)&a->u.sin.sin_addr)[i] ^= x[i];
		a->len = sizeof(a->u.sin);
		return 0;
	case 0x02:
		if (len != 20)
			return -1;
		a->u.sin6.sin6_family = AF_INET6;
		a->u.sin6.sin6_port = htons(port);
		memcpy(a->u.sin6.sin6_addr.s6_addr, v + 4, 16);
		if (xor)
			for (int i = 0; i < 16; i++)
				a->u.sin6.sin6_addr.s6_addr[i] ^= x[i];
		a->len = sizeof(a->u.sin6);
		return 0;
	}
	return -1;
}

static void
stun_add_unknown(struct stun_msg *m, uint16_t type)
{
	for (int i = 0; i < m->nunknown && i < STUN_MAX_UNKNOWN; i++)
		if (m->unknown[i] == type)
			return;
	if (m->nunknown < STUN_MAX_UNKNOWN)
		m->unknown[m->nunknown] = type;
	m->nunknown++;
}

/* One attribute's value; -1 if malformed. */
static int
stun_attr(struct stun_msg *m, const uint8_t *hdr, uint16_t type,
    const uint8_t *v, size_t len)
{
	struct nbaddr	a;
	int		code;

	switch (type) {
	case STUN_A_MAPPED_ADDRESS:
		if (stun_get_addr(v, len, 0, hdr, &a) != 0)
			return -1;
		if (!m->has_xor_mapped) {
			m->mapped = a;
			m->has_mapped = 1;
		}
		return 0;
	case STUN_A_XOR_MAPPED_ADDRESS:
		if (m->classic || stun_get_addr(v, len, 1, hdr, &a) != 0)
			return -1;
		m->mapped = a;
		m->has_mapped = m->has_xor_mapped = 1;
		return 0;
	case STUN_A_NBMQ_PEER_ADDRESS:
		if (m->classic || stun_get_addr(v, len, 1, hdr, &m->peer) != 0)
			return -1;
		m->has_peer = 1;
		return 0;
	case STUN_A_CHANGE_REQUEST:
		if (len != 4)
			return -1;
		m->change = stun_get32(v);
		m->has_change = 1;
		/* Another address or port: this server has none. */
		if (m->change & 0x6)
			stun_add_unknown(m, type);
		return 0;
	case STUN_A_ERROR_CODE:
		if (len < 4)
			return -1;
		code = (v[2] & 0x7) * 100 + v[3];
		if (code < 300 || code > 699 || v[3] > 99)
			return -1;
		m->error = code;
		return 0;
	case STUN_A_UNKNOWN_ATTRIBUTES:
		if (len % 2 != 0)
			return -1;
		return 0;
	case STUN_A_SOFTWARE:
		if (len > 763)
			return -1;
		return 0;
	case STUN_A_NBMQ_NAME:
	case STUN_A_NBMQ_TARGET:
		if (m->classic)
			return 0;	/* ours are RFC 5389 messages */
		if (!stun_valid_name((const char *)v, len))
			return -1;
		memcpy(type == STUN_A_NBMQ_NAME ? m->name : m->target, v, len);
		(type == STUN_A_NBMQ_NAME ? m->name : m->target)[len] = '\0';
		return 0;
	}
	if (type < 0x8000)
		stun_add_unknown(m, type);
	return 0;
}

enum drop_reason
stun_parse(const uint8_t *buf, size_t len, struct stun_msg *m)
{
	size_t		 mlen, off, alen;
	uint16_t	 atype;
	int		 integrity = 0;

	memset(m, 0, sizeof(*m));
	if (len < STUN_HDR_SIZE || (buf[0] & 0xc0) != 0)
		return DROP_STUN_MALFORMED;
	mlen = stun_get16(buf + 2);
	if (mlen % 4 != 0 || mlen != len - STUN_HDR_SIZE)
		return DROP_STUN_MALFORMED;
	m->type = stun_get16(buf);
	m->classic = stun_get32(buf + 4) != STUN_COOKIE;
	/* RFC 3489: 16 bytes of transaction id, and requests only. */
	if (m->classic) {
		if (m->type != STUN_BINDING_REQUEST)
			return DROP_STUN_MALFORMED;
		memcpy(m->txid, buf + 4, 16);
	} else
		memcpy(m->txid, buf + 8, 12);
	for (off = STUN_HDR_SIZE; off < len; off += 4 + ((alen + 3) & ~3U)) {
		if (len - off < 4)
			return DROP_STUN_MALFORMED;
		atype = stun_get16(buf + off);
		alen = stun_get16(buf + off + 2);
		/* The value and its padding inside the message. */
		if (((alen + 3) & ~3U) > len - off - 4)
			return DROP_STUN_MALFORMED;
		if (atype == STUN_A_FINGERPRINT) {
			if (m->classic || alen != 4 || off + 8 != len)
				return DROP_STUN_MALFORMED;
			if ((stun_crc32(buf, off) ^ STUN_FINGERPRINT_XOR) !=
			    stun_get32(buf + off + 4))
				return DROP_STUN_FINGERPRINT;
			m->fingerprint = 1;
			continue;
		}
		if (integrity)
			continue;	/* after MESSAGE-INTEGRITY: ignored */
		if (atype == STUN_A_MESSAGE_INTEGRITY)
			integrity = 1;
		if (stun_attr(m, buf, atype, buf + off + 4, alen) != 0)
			return DROP_STUN_MALFORMED;
	}
	return DROP_NONE;
}

/* The writer. */

void
stun_begin(struct stun_out *o, uint8_t *buf, size_t cap, uint16_t type,
    const struct stun_msg *req_or_null, const uint8_t *txid)
{
	o->b = buf;
	o->cap = cap;
	o->len = 0;
	o->classic = req_or_null != NULL && req_or_null->classic;
	if (cap < STUN_HDR_SIZE) {
		o->cap = 0;
		return;
	}
	stun_set16(buf, type);
	stun_set16(buf + 2, 0);
	if (o->classic)
		memcpy(buf + 4, req_or_null->txid, 16);
	else {
		stun_set32(buf + 4, STUN_COOKIE);
		memcpy(buf + 8, req_or_null != NULL ? req_or_null->txid : txid,
		    12);
	}
	o->len = STUN_HDR_SIZE;
}

int
stun_put_attr(struct stun_out *o, uint16_t type, const void *v, size_t len)
{
	size_t	padded = (len + 3) & ~(size_t)3;

	if (o->cap == 0 || len > 0xffff || o->cap - o->len < 4 + padded)
		return -1;
	stun_set16(o->b + o->len, type);
	stun_set16(o->b + o->len + 2, (uint16_t)len);
	if (len > 0)
		memcpy(o->b + o->len + 4, v, len);
	memset(o->b + o->len + 4 + len, 0, padded - len);
	o->len += 4 + padded;
	return 0;
}

size_t
stun_addr_attr_size(const struct nbaddr *a)
{
	struct nbaddr	u;

	stun_unmap(a, &u);
	return u.u.sa.sa_family == AF_INET ? 12 : 24;
}

/* (XOR-)MAPPED-ADDRESS encoding of a, v4-mapped written as IPv4. */
int
stun_put_addr(struct stun_out *o, uint16_t type, const struct nbaddr *a,
    int xor)
{
	struct nbaddr	u;
	uint8_t		v[20];
	uint16_t	port;
	size_t		n;

	stun_unmap(a, &u);
	if (xor && o->classic)
		return -1;
	v[0] = 0;
	if (u.u.sa.sa_family == AF_INET) {
		v[1] = 0x01;
		port = ntohs(u.u.sin.sin_port);
		memcpy(v + 4, &u.u.sin.sin_addr, 4);
		n = 8;
	} else if (u.u.sa.sa_family == AF_INET6) {
		v[1] = 0x02;
		port = ntohs(u.u.sin6.sin6_port);
		memcpy(v + 4, u.u.sin6.sin6_addr.s6_addr, 16);
		n = 20;
	} else
		return -1;
	if (xor) {
		port ^= STUN_COOKIE >> 16;
		/* The cookie and transaction id are header bytes 4..19. */
		for (size_t i = 4; i < n; i++)
			v[i] ^= o->b[i];
	}
	stun_set16(v + 2, port);
	return stun_put_attr(o, type, v, n);
}

int
stun_put_error(struct stun_out *o, int code, const char *reason)
{
	uint8_t	v[4 + 128];
	size_t	n = strlen(reason);

	if (code < 300 || code > 699 || n > 128)
		return -1;
	v[0] = v[1] = 0;
	v[2] = (uint8_t)(code / 100);
	v[3] = (uint8_t)(code % 100);
	memcpy(v + 4, reason, n);
	return stun_put_attr(o, STUN_A_ERROR_CODE, v, 4 + n);
}

int
stun_put_unknown(struct stun_out *o, const uint16_t *types, int n)
{
	uint8_t	v[2 * STUN_MAX_UNKNOWN];

	if (n > STUN_MAX_UNKNOWN)
		n = STUN_MAX_UNKNOWN;
	for (int i = 0; i < n; i++)
		stun_set16(v + 2 * i, types[i]);
	return stun_put_attr(o, STUN_A_UNKNOWN_ATTRIBUTES, v, (size_t)n * 2);
}

/*
 * Set the length field; with fingerprint, append FINGERPRINT over the
 * message with that length.  Returns the message's length, 0 if it did
 * not fit.
 */
size_t
stun_finish(struct stun_out *o, int fingerprint)
{
	uint32_t	crc;

	if (o->cap == 0)
		return 0;
	if (fingerprint && !o->classic) {
		if (o->cap - o->len < 8)
			return 0;
		stun_set16(o->b + 2, (uint16_t)(o->len + 8 - STUN_HDR_SIZE));
		crc = stun_crc32(o->b, o->len) ^ STUN_FINGERPRINT_XOR;
		stun_set16(o->b + o->len, STUN_A_FINGERPRINT);
		stun_set16(o->b + o->len + 2, 4);
		stun_set32(o->b + o->len + 4, crc);
		o->len += 8;
	} else
		stun_set16(o->b + 2, (uint16_t)(o->len - STUN_HDR_SIZE));
	return o->len;
}

/* "404 Unknown name" and the like, for logs. */
const char *
stun_error_text(int code)
{
	switch (code) {
	case 300:	return "Try Alternate";
	case 400:	return "Bad Request";
	case 401:	return "Unauthorized";
	case STUN_ERR_FORBIDDEN:	return "Forbidden";
	case STUN_ERR_UNKNOWN_NAME:	return "Unknown name";
	case STUN_ERR_UNKNOWN_ATTRIBUTE: return "Unknown Attribute";
	case 438:	return "Stale Nonce";
	case 500:	return "Server Error";
	case STUN_ERR_CAPACITY:	return "Insufficient Capacity";
	}
	return "error";
}

int
stun_send(struct sock *s, const struct nbaddr *to, const uint8_t *buf,
    size_t len)
{
	uint8_t	*b;

	if (len == 0 || len > s->ob.slot_size) {
		s->st.drops[DROP_SEND_FAILED]++;
		return -1;
	}
	if ((b = sock_slot(s, to)) == NULL) {
		s->st.drops[DROP_SEND_FAILED]++;
		return -1;
	}
	memcpy(b, buf, len);
	return sock_out(s, NULL, OUT_PLAIN, (uint32_t)len, 0);
}

void
stun_txid(struct sock *s, uint8_t txid[12])
{
	uint64_t	a = s->ops->random64(s->arg);
	uint64_t	b = s->ops->random64(s->arg);

	memcpy(txid, &a, 8);
	memcpy(txid + 8, &b, 4);
}
