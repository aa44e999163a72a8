/* SPDX-License-Identifier: ISC */
/*
 * test_stun.c: unit tests of the STUN codec (stun.c), the stun socket
 * (stunsrv.c) and an nbmq socket's STUN side (stuncli.c): the RFC 5769
 * test vectors, every malformed case dropped, the amplification bound,
 * the index, and connect by name through the whole exchange (three
 * sockets, datagrams passed by hand, a fake clock).
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "fakenet.h"

/* RFC 5769 section 2: the sample request and responses. */
static const uint8_t sample_request[108] = {
	0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10,
	0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x63, 0x6c,
	0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
	0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36,
	0x00, 0x06, 0x00, 0x09, 0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76,
	0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14, 0x9a, 0xea, 0xa7, 0x0c,
	0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
	0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

static const uint8_t sample_v4[80] = {
	0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
	0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3,
	0x8c, 0x74, 0x89, 0xf9, 0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7,
	0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

static const uint8_t sample_v6[92] = {
	0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01,
	0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b,
	0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63, 0x74, 0x6f, 0x72, 0x20,
	0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
	0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9,
	0x00, 0x08, 0x00, 0x14, 0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1,
	0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75, 0xbf, 0xe3, 0xed, 0x41,
	0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

static const uint8_t sample_txid[12] = {
	0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae,
};

/* The codec */

START_TEST(test_crc32)
{
	ck_assert_uint_eq(stun_crc32("123456789", 9), 0xcbf43926U);
	ck_assert_uint_eq(stun_crc32("", 0), 0);
}
END_TEST

START_TEST(test_rfc5769_request)
{
	struct stun_msg	m;

	ck_assert_int_eq(stun_parse(sample_request, sizeof(sample_request),
	    &m), DROP_NONE);
	ck_assert_uint_eq(m.type, STUN_BINDING_REQUEST);
	ck_assert(!m.classic);
	ck_assert(m.fingerprint);
	ck_assert_mem_eq(m.txid, sample_txid, 12);
	/* PRIORITY, USERNAME, MESSAGE-INTEGRITY: no ICE, no authentication
	 * here; ICE-CONTROLLED (0x8029) is optional. */
	ck_assert_int_eq(m.nunknown, 3);
	ck_assert_uint_eq(m.unknown[0], 0x0024);
	ck_assert_uint_eq(m.unknown[1], 0x0006);
	ck_assert_uint_eq(m.unknown[2], 0x0008);
	ck_assert(stun_is_stun(sample_request, sizeof(sample_request)));
}
END_TEST

START_TEST(test_rfc5769_responses)
{
	struct stun_msg	m;
	struct nbaddr	want;

	ck_assert_int_eq(stun_parse(sample_v4, sizeof(sample_v4), &m),
	    DROP_NONE);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ck_assert(m.fingerprint && m.has_xor_mapped);
	want = A("192.0.2.1:32853");
	ck_assert(addr_eq(&m.mapped, &want));

	ck_assert_int_eq(stun_parse(sample_v6, sizeof(sample_v6), &m),
	    DROP_NONE);
	ck_assert(m.fingerprint && m.has_xor_mapped);
	want = A("[2001:db8:1234:5678:11:2233:4455:6677]:32853");
	ck_assert(addr_eq(&m.mapped, &want));
}
END_TEST

/*
 * Our writer reproduces the sample responses byte for byte: SOFTWARE and
 * XOR-MAPPED-ADDRESS written by us, MESSAGE-INTEGRITY (HMAC-SHA1, which
 * this daemon does not do) copied, FINGERPRINT computed by us.  The
 * samples pad SOFTWARE with a space where we write 0: that byte is set
 * before the FINGERPRINT, which covers it.
 */
static void
reproduce(const uint8_t *sample, size_t len, const char *mapped)
{
	uint8_t		 buf[STUN_MSG_MAX];
	struct stun_out	 o;
	struct nbaddr	 a = A(mapped);
	size_t		 mi = len - 8 - 24;	/* MESSAGE-INTEGRITY */

	stun_begin(&o, buf, sizeof(buf), STUN_BINDING_SUCCESS, NULL,
	    sample_txid);
	ck_assert_int_eq(stun_put_attr(&o, STUN_A_SOFTWARE, "test vector",
	    11), 0);
	ck_assert_int_eq(stun_put_addr(&o, STUN_A_XOR_MAPPED_ADDRESS, &a, 1),
	    0);
	ck_assert_int_eq(stun_put_attr(&o, STUN_A_MESSAGE_INTEGRITY,
	    sample + mi + 4, 20), 0);
	buf[35] = 0x20;
	ck_assert_uint_eq(stun_finish(&o, 1), len);
	ck_assert_mem_eq(buf, sample, len);
}

START_TEST(test_rfc5769_reproduced)
{
	reproduce(sample_v4, sizeof(sample_v4), "192.0.2.1:32853");
	reproduce(sample_v6, sizeof(sample_v6),
	    "[2001:db8:1234:5678:11:2233:4455:6677]:32853");
}
END_TEST

/* Every proper prefix, and every changed byte the FINGERPRINT covers. */
START_TEST(test_vectors_damaged)
{
	const uint8_t	*v[] = { sample_request, sample_v4, sample_v6 };
	size_t		 n[] = { sizeof(sample_request), sizeof(sample_v4),
	    sizeof(sample_v6) };
	uint8_t		 b[128];
	struct stun_msg	 m;

	for (int k = 0; k < 3; k++) {
		for (size_t len = 0; len < n[k]; len++)
			ck_assert_int_ne(stun_parse(v[k], len, &m), DROP_NONE);
		for (size_t i = 0; i < n[k]; i++) {
			if (i >= n[k] - 8 && i < n[k] - 4)
				continue;	/* FINGERPRINT's own header */
			/* Dropped, or (a length that swallows the rest)
			 * no longer fingerprinted. */
			for (int bit = 0; bit < 8; bit++) {
				memcpy(b, v[k], n[k]);
				b[i] ^= (uint8_t)(1 << bit);
				ck_assert_msg(stun_parse(b, n[k], &m) !=
				    DROP_NONE || !m.fingerprint,
				    "vector %d byte %zu bit %d", k, i, bit);
			}
		}
	}
	memcpy(b, sample_v4, sizeof(sample_v4));
	b[79] ^= 1;
	ck_assert_int_eq(stun_parse(b, sizeof(sample_v4), &m),
	    DROP_STUN_FINGERPRINT);
}
END_TEST

/* A Binding request with the given attributes (raw TLVs). */
static size_t
mkreq(uint8_t *b, const uint8_t *attrs, size_t alen)
{
	static const uint8_t hdr[20] = {
		0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
	};

	memcpy(b, hdr, 20);
	if (alen > 0)
		memcpy(b + 20, attrs, alen);
	b[2] = (uint8_t)(alen >> 8);
	b[3] = (uint8_t)alen;
	return 20 + alen;
}

START_TEST(test_malformed)
{
	static const struct {
		const char	*what;
		uint8_t		 a[32];
		size_t		 len;
	} bad[] = {
		{ "value past the end", { 0x80, 0x22, 0x00, 0x08, 0, 0, 0, 0 },
		    8 },
		{ "TLV header cut", { 0x80, 0x22, 0x00, 0x00, 0x80, 0x22 }, 6 },
		{ "padding past the end", { 0x80, 0x22, 0x00, 0x05, 1, 2, 3, 4 },
		    8 },
		{ "address too short", { 0, 1, 0, 0 }, 4 },
		{ "address family 3", { 0, 1, 0, 8, 0, 3, 0, 0, 1, 2, 3, 4 },
		    12 },
		{ "IPv6 family, IPv4 length", { 0, 1, 0, 8, 0, 2, 0, 0, 1, 2,
		    3, 4 }, 12 },
		{ "reserved byte set", { 0, 0x20, 0, 8, 1, 1, 0, 0, 1, 2, 3, 4 },
		    12 },
		{ "CHANGE-REQUEST length", { 0, 3, 0, 8, 0, 0, 0, 0, 0, 0, 0,
		    0 }, 12 },
		{ "ERROR-CODE class 7", { 0, 9, 0, 4, 0, 0, 7, 0 }, 8 },
		{ "ERROR-CODE number 100", { 0, 9, 0, 4, 0, 0, 4, 100 }, 8 },
		{ "odd UNKNOWN-ATTRIBUTES", { 0, 0x0a, 0, 3, 0, 1, 0, 0 }, 8 },
		{ "FINGERPRINT not last", { 0x80, 0x28, 0, 4, 0, 0, 0, 0, 0x80,
		    0x22, 0, 0 }, 12 },
		{ "FINGERPRINT length", { 0x80, 0x28, 0, 0 }, 4 },
		{ "empty NBMQ-NAME", { 0xc0, 0x01, 0, 0 }, 4 },
		{ "NBMQ-NAME with a space", { 0xc0, 0x01, 0, 3, 'a', ' ', 'b',
		    0 }, 8 },
		{ "NBMQ-TARGET with a NUL", { 0xc0, 0x02, 0, 3, 'a', 0, 'b',
		    0 }, 8 },
		{ "NBMQ-PEER-ADDRESS family", { 0xc0, 0x03, 0, 8, 0, 9, 0, 0,
		    1, 2, 3, 4 }, 12 },
		{ "IPv4 family, 12 bytes", { 0, 1, 0, 12, 0, 1, 0, 0, 1, 2,
		    3, 4, 5, 6, 7, 8 }, 16 },
	};
	uint8_t		 b[128], name[4 + 68];
	struct stun_msg	 m;
	size_t		 len;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		len = mkreq(b, bad[i].a, bad[i].len);
		if (len % 4 != 0) {
			/* Not a multiple of 4: malformed as it is. */
			ck_assert_int_eq(stun_parse(b, len, &m),
			    DROP_STUN_MALFORMED);
			continue;
		}
		ck_assert_msg(stun_parse(b, len, &m) == DROP_STUN_MALFORMED,
		    "%s", bad[i].what);
	}
	/* A 65-byte name. */
	memset(name, 'a', sizeof(name));
	name[0] = 0xc0; name[1] = 0x01; name[2] = 0; name[3] = 65;
	len = mkreq(b, name, 4 + 68);
	ck_assert_int_eq(stun_parse(b, len, &m), DROP_STUN_MALFORMED);
	name[3] = 64;
	len = mkreq(b, name, 4 + 64);
	ck_assert_int_eq(stun_parse(b, len, &m), DROP_NONE);
	ck_assert_uint_eq(strlen(m.name), 64);

	/* Header: top bits, length field, datagram length. */
	len = mkreq(b, NULL, 0);
	ck_assert_int_eq(stun_parse(b, len, &m), DROP_NONE);
	b[0] = 0x40;
	ck_assert_int_eq(stun_parse(b, len, &m), DROP_STUN_MALFORMED);
	b[0] = 0;
	b[3] = 4;
	ck_assert_int_eq(stun_parse(b, len, &m), DROP_STUN_MALFORMED);
	ck_assert(!stun_is_stun(b, len));
	b[3] = 2;
	memset(b + 20, 0, 2);
	ck_assert_int_eq(stun_parse(b, 22, &m), DROP_STUN_MALFORMED);
	b[3] = 0;
	ck_assert_int_eq(stun_parse(b, 19, &m), DROP_STUN_MALFORMED);
	ck_assert_int_eq(stun_parse(b, 21, &m), DROP_STUN_MALFORMED);
	/* Bytes past the length field, even a whole valid attribute. */
	memcpy(b + 20, "\x8f\xff\x00\x00", 4);
	ck_assert_int_eq(stun_parse(b, 24, &m), DROP_STUN_MALFORMED);
	ck_assert(!stun_is_stun(b, 19));
	/* RFC 3489 (no cookie): requests only, no XOR addresses. */
	b[4] = 0;
	ck_assert_int_eq(stun_parse(b, 20, &m), DROP_NONE);
	ck_assert(m.classic);
	ck_assert(!stun_is_stun(b, 20));
	b[0] = 0x01;
	ck_assert_int_eq(stun_parse(b, 20, &m), DROP_STUN_MALFORMED);
	/* Our attributes belong to RFC 5389 messages: ignored in 3489. */
	len = mkreq(b, (const uint8_t *)"\xc0\x02\x00\x01t\0\0\0", 8);
	b[4] = 0;
	ck_assert_int_eq(stun_parse(b, len, &m), DROP_NONE);
	ck_assert(m.classic && m.target[0] == '\0');
}
END_TEST

/* Unknown optional attributes are skipped; attributes after
 * MESSAGE-INTEGRITY are ignored. */
START_TEST(test_unknown_and_integrity)
{
	static const uint8_t a[] = {
		0x8f, 0xff, 0, 2, 1, 2, 0, 0,		/* optional */
		0x7f, 0xff, 0, 0,			/* required */
		0x00, 0x08, 0, 4, 0, 0, 0, 0,		/* MESSAGE-INTEGRITY */
		0x7f, 0xfe, 0, 0,			/* ignored */
	};
	uint8_t		 b[128];
	struct stun_msg	 m;

	ck_assert_int_eq(stun_parse(b, mkreq(b, a, sizeof(a)), &m),
	    DROP_NONE);
	ck_assert_int_eq(m.nunknown, 2);
	ck_assert_uint_eq(m.unknown[0], 0x7fff);
	ck_assert_uint_eq(m.unknown[1], 0x0008);
}
END_TEST

START_TEST(test_writer_bounds)
{
	uint8_t		 buf[40];
	struct stun_out	 o;
	struct nbaddr	 a = A("[2001:db8::1]:1"), b;

	stun_begin(&o, buf, sizeof(buf), STUN_BINDING_SUCCESS, NULL,
	    sample_txid);
	ck_assert_int_eq(stun_put_addr(&o, STUN_A_XOR_MAPPED_ADDRESS, &a, 1),
	    -1);		/* 20 + 24 > 40: nothing written */
	ck_assert_uint_eq(o.len, 20);
	ck_assert_int_eq(stun_put_attr(&o, STUN_A_SOFTWARE, "x", 1), 0);
	ck_assert_uint_eq(o.len, 28);
	ck_assert_uint_eq(stun_finish(&o, 1), 36);
	ck_assert_uint_eq(stun_finish(&o, 1), 0);	/* no room for another */
	stun_begin(&o, buf, 10, STUN_BINDING_SUCCESS, NULL, sample_txid);
	ck_assert_uint_eq(stun_finish(&o, 0), 0);
	/* v4-mapped is written, and compared, as IPv4. */
	a = A("[::ffff:192.0.2.1]:32853");
	stun_unmap(&a, &b);
	ck_assert_int_eq(b.u.sa.sa_family, AF_INET);
	ck_assert_uint_eq(stun_addr_attr_size(&a), 12);
	ck_assert_int_eq(stun_addr_for_family(&b, AF_INET6, &a), 0);
	ck_assert_int_eq(a.u.sa.sa_family, AF_INET6);
	b = A("[2001:db8::1]:1");
	ck_assert_int_eq(stun_addr_for_family(&b, AF_INET, &a), -1);
}
END_TEST

START_TEST(test_allow_parse)
{
	struct stun_net	 n[4];
	char		 why[128];

	ck_assert_int_eq(stunsrv_parse_allow("10.0.0.0/8, 192.168.0.0/16",
	    n, 4, why, sizeof(why)), 2);
	ck_assert_uint_eq(n[1].bits, 16);
	ck_assert_int_eq(stunsrv_parse_allow("2001:db8::/32 10.1.2.3", n, 4,
	    why, sizeof(why)), 2);
	ck_assert_uint_eq(n[1].bits, 32);
	ck_assert_int_eq(stunsrv_parse_allow("10.1.2.3/8", n, 4, why,
	    sizeof(why)), 1);
	ck_assert_uint_eq(n[0].addr[1], 0);	/* host bits cleared */
	ck_assert_int_eq(stunsrv_parse_allow("10.0.0.0/33", n, 4, why,
	    sizeof(why)), -1);
	ck_assert_int_eq(stunsrv_parse_allow("bogus", n, 4, why, sizeof(why)),
	    -1);
	ck_assert_int_eq(stunsrv_parse_allow(" , ", n, 4, why, sizeof(why)),
	    -1);
	ck_assert_int_eq(stunsrv_parse_allow("1.1.1.1 2.2.2.2 3.3.3.3 4.4.4.4 "
	    "5.5.5.5", n, 4, why, sizeof(why)), -1);
	ck_assert_int_eq(stunsrv_parse_allow("10.0.0.0/", n, 4, why,
	    sizeof(why)), -1);
}
END_TEST

/* Sockets on the fake network (tests/fakenet.c). */

static struct node *
node_new(int type, const char *addr)
{
	struct sockopts	 o;

	opts_defaults(&o);
	o.reconnect_wait = 1 * NSEC;
	o.stun_refresh_ivl = 2 * NSEC;
	return node_alloc(addr, type, &o);
}

static struct dgram *
last_out(struct node *n)
{
	flush(n);
	ck_assert_uint_gt(n->nout, 0);
	return &n->out[n->nout - 1];
}

/* A datagram kept past the next pass or out_reset. */
struct kept {
	struct nbaddr	 to;
	uint32_t	 len;
	uint8_t		 buf[STUN_MSG_MAX + 64];
};

static void
keep(struct kept *k, const struct dgram *d)
{
	ck_assert_uint_le(d->len, sizeof(k->buf));
	k->to = d->to;
	k->len = d->len;
	memcpy(k->buf, d->buf, d->len);
}

/*
 * Deliver n's datagrams to those of the nodes they are addressed to (from
 * n); the others are lost.
 */
static int
pass_to(struct node *from, struct node **to, int nto, nbmq_time now)
{
	int	 moved = 0;

	flush(from);
	for (size_t i = 0; i < from->nout; i++)
		for (int k = 0; k < nto; k++)
			if (addr_eq(&from->out[i].to, &to[k]->addr)) {
				sock_input(&to[k]->s, now, &from->addr,
				    from->out[i].buf, from->out[i].len);
				moved++;
			}
	out_reset(from);
	return moved;
}

/* What a request from `from` got back, parsed. */
static int
ask(struct node *srv, const char *from, const uint8_t *req, size_t len,
    struct stun_msg *m, nbmq_time now)
{
	struct nbaddr	f = A(from);
	struct dgram	*d;
	size_t		 before;

	flush(srv);
	before = srv->nout;
	sock_input(&srv->s, now, &f, req, len);
	flush(srv);
	if (srv->nout == before)
		return 0;
	d = &srv->out[srv->nout - 1];
	ck_assert(addr_eq(&d->to, &f));
	ck_assert_int_eq(stun_parse(d->buf, d->len, m), DROP_NONE);
	return (int)d->len;
}

/* A Binding request built with our writer. */
static size_t
build_req(uint8_t *b, size_t cap, uint8_t txfill, uint16_t attr,
    const char *name, int fp)
{
	struct stun_out	 o;
	uint8_t		 txid[12];

	memset(txid, txfill, sizeof(txid));
	stun_begin(&o, b, cap, STUN_BINDING_REQUEST, NULL, txid);
	if (name != NULL)
		ck_assert_int_eq(stun_put_attr(&o, attr, name, strlen(name)),
		    0);
	return stun_finish(&o, fp);
}

START_TEST(test_server_binding)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct stun_msg	 m;
	struct nbaddr	 want = A("198.51.100.7:4000");
	uint8_t		 b[STUN_MSG_MAX];
	size_t		 len;

	/* The smallest request: XOR-MAPPED-ADDRESS alone (32 bytes). */
	len = build_req(b, sizeof(b), 1, 0, NULL, 0);
	ck_assert_int_eq(ask(srv, "198.51.100.7:4000", b, len, &m, T0), 32);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ck_assert(m.has_xor_mapped && addr_eq(&m.mapped, &want));
	ck_assert(!m.fingerprint);
	/* With FINGERPRINT: answered with one. */
	len = build_req(b, sizeof(b), 2, 0, NULL, 1);
	ck_assert_int_eq(ask(srv, "198.51.100.7:4000", b, len, &m, T0), 40);
	ck_assert(m.fingerprint && m.has_xor_mapped);
	/* A large request gets MAPPED-ADDRESS and SOFTWARE as well. */
	len = build_req(b, sizeof(b), 3, 0x8099,
	    "padding-padding-padding-padding-padding-padding", 1);
	ck_assert_int_gt(ask(srv, "198.51.100.7:4000", b, len, &m, T0), 40);
	ck_assert_int_le(srv->out[srv->nout - 1].len, len);
	ck_assert(m.has_xor_mapped && addr_eq(&m.mapped, &want));
	/* IPv6. */
	want = A("[2001:db8::7]:4000");
	len = build_req(b, sizeof(b), 4, 0, NULL, 1);
	ck_assert_int_eq(ask(srv, "[2001:db8::7]:4000", b, len, &m, T0), 52);
	ck_assert(addr_eq(&m.mapped, &want));
	/* v4-mapped sources (a dual-stack socket) are answered as IPv4. */
	want = A("198.51.100.8:9");
	ask(srv, "[::ffff:198.51.100.8]:9", b, len, &m, T0);
	ck_assert(addr_eq(&m.mapped, &want));
	/* An indication is not answered; a response is dropped. */
	len = build_req(b, sizeof(b), 5, 0, NULL, 0);
	b[1] = 0x11;
	ck_assert_int_eq(ask(srv, "198.51.100.7:4000", b, len, &m, T0), 0);
	b[0] = 0x01; b[1] = 0x01;
	ck_assert_int_eq(ask(srv, "198.51.100.7:4000", b, len, &m, T0), 0);
	ck_assert_uint_eq(srv->s.st.drops[DROP_STUN_UNEXPECTED], 1);
	node_free(srv);
}
END_TEST

/* Debian's stun client: RFC 3489, 28 bytes with CHANGE-REQUEST 0. */
START_TEST(test_server_rfc3489)
{
	static const uint8_t req[28] = {
		0x00, 0x01, 0x00, 0x08, 0x01, 0xc1, 0xca, 0x30, 0x07, 0xc0,
		0x8d, 0x64, 0x5f, 0x1e, 0xee, 0x06, 0x99, 0x16, 0x9e, 0x40,
		0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
	};
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct stun_msg	 m;
	struct nbaddr	 want = A("198.51.100.7:4000");
	uint8_t		 b[28];
	struct dgram	*d;

	/* Our parser takes RFC 3489 requests only: read the answer here. */
	sock_input(&srv->s, T0, &want, req, sizeof(req));
	d = last_out(srv);
	ck_assert_uint_eq(d->len, 32);
	ck_assert(addr_eq(&d->to, &want));
	ck_assert_mem_eq(d->buf, "\x01\x01\x00\x0c", 4);
	ck_assert_mem_eq(d->buf + 4, req + 4, 16);	/* 16-byte id */
	ck_assert_mem_eq(d->buf + 20, "\x00\x01\x00\x08\x00\x01\x0f\xa0"
	    "\xc6\x33\x64\x07", 12);		/* MAPPED-ADDRESS */
	/* Another address or port: 420 with UNKNOWN-ATTRIBUTES. */
	memcpy(b, req, sizeof(b));
	b[27] = 0x06;
	sock_input(&srv->s, T0, &want, b, sizeof(b));
	d = last_out(srv);
	ck_assert_mem_eq(d->buf, "\x01\x11", 2);
	ck_assert(memmem(d->buf, d->len, "\x00\x09\x00", 3) != NULL);
	ck_assert(memmem(d->buf, d->len, "\x00\x0a\x00\x02\x00\x03", 6) !=
	    NULL);
	(void)m;
	node_free(srv);
}
END_TEST

START_TEST(test_server_420)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct stun_msg	 m;
	struct dgram	*d;
	uint8_t		 b[STUN_MSG_MAX];
	size_t		 len;

	ck_assert(ask(srv, "198.51.100.7:4000", sample_request,
	    sizeof(sample_request), &m, T0) > 0);
	ck_assert_uint_eq(m.type, STUN_BINDING_ERROR);
	ck_assert_int_eq(m.error, 420);
	ck_assert(m.fingerprint);
	d = last_out(srv);
	/* UNKNOWN-ATTRIBUTES: 0x0024 0x0006 0x0008 (+ padding). */
	ck_assert_uint_le(d->len, sizeof(sample_request));
	ck_assert(memmem(d->buf, d->len, "\x00\x0a\x00\x06\x00\x24\x00\x06"
	    "\x00\x08", 10) != NULL);
	/* An unknown optional attribute is fine. */
	len = build_req(b, sizeof(b), 9, 0x8fff, "x", 1);
	ask(srv, "198.51.100.7:4000", b, len, &m, T0);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	len = build_req(b, sizeof(b), 9, 0x7fff, "x", 1);
	ask(srv, "198.51.100.7:4000", b, len, &m, T0);
	ck_assert_int_eq(m.error, 420);
	node_free(srv);
}
END_TEST

/* No answer larger than max(request, the mandatory answer). */
START_TEST(test_server_amplification)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	const char	*from[] = { "198.51.100.7:4000", "[2001:db8::7]:4000" };
	struct stun_msg	 m;
	uint8_t		 b[STUN_MSG_MAX];
	char		 pad[200];
	size_t		 len, need;
	int		 got;

	for (int f = 0; f < 2; f++)
		for (int fp = 0; fp < 2; fp++)
			for (size_t n = 0; n < 120; n += 1) {
				memset(pad, 'p', n);
				pad[n] = '\0';
				len = build_req(b, sizeof(b), (uint8_t)n, 0x8099,
				    n ? pad : NULL, fp);
				got = ask(srv, from[f], b, len, &m,
				    T0 + n * NSEC);
				need = 20 + (f ? 24 : 12) + (fp ? 8 : 0);
				ck_assert_int_gt(got, 0);
				ck_assert_uint_le((size_t)got,
				    len > need ? len : need);
			}
	node_free(srv);
}
END_TEST

START_TEST(test_server_rate_limit)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct stun_msg	 m;
	uint8_t		 b[STUN_MSG_MAX];
	size_t		 len = build_req(b, sizeof(b), 1, 0, NULL, 1);
	int		 answered = 0;

	for (int i = 0; i < 100; i++)
		answered += ask(srv, "198.51.100.7:4000", b, len, &m, T0) > 0;
	ck_assert_int_eq(answered, 40);		/* the burst */
	ck_assert_uint_eq(srv->s.st.drops[DROP_STUN_RATE], 60);
	/* Another source is not held back. */
	ck_assert_int_gt(ask(srv, "198.51.100.9:4000", b, len, &m, T0), 0);
	/* Refilled at 20 per second. */
	answered = 0;
	for (int i = 0; i < 100; i++)
		answered += ask(srv, "198.51.100.7:4000", b, len, &m,
		    T0 + NSEC) > 0;
	ck_assert_int_eq(answered, 20);
	node_free(srv);
}
END_TEST

/*
 * Sources are addresses (IPv6: /64s), not address and port: one host with
 * 600 ports once used up the socket's budget and a legitimate client got
 * 7 of 31 answers (issue 15).
 */
START_TEST(test_server_rate_per_address)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct stun_msg	 m;
	uint8_t		 b[STUN_MSG_MAX];
	size_t		 len = build_req(b, sizeof(b), 1, 0, NULL, 1);
	char		 from[64];
	int		 answered = 0;

	/* 600 ports of one host, 20 requests each, within a second. */
	for (int round = 0; round < 20; round++)
		for (int port = 0; port < 600; port++) {
			snprintf(from, sizeof(from), "198.51.100.7:%d",
			    2000 + port);
			answered += ask(srv, from, b, len, &m,
			    T0 + (nbmq_time)round * 40 * MSEC) > 0;
		}
	ck_assert_int_le(answered, 40 + 20);	/* its burst and rate */
	/* Meanwhile a client elsewhere gets every answer. */
	answered = 0;
	for (int i = 0; i < 31; i++)
		answered += ask(srv, "192.0.2.50:5000", b, len, &m,
		    T0 + 800 * MSEC) > 0;
	ck_assert_int_eq(answered, 31);
	/* A v4-mapped source is its IPv4 address. */
	ck_assert_int_eq(ask(srv, "[::ffff:198.51.100.7]:9", b, len, &m,
	    T0 + 760 * MSEC), 0);
	/* IPv6: one /64 shares a budget, the next /64 has its own. */
	answered = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(from, sizeof(from), "[2001:db8:0:1::%x]:4000", i + 1);
		answered += ask(srv, from, b, len, &m, T0 + 2 * NSEC) > 0;
	}
	ck_assert_int_eq(answered, 40);
	ck_assert_int_gt(ask(srv, "[2001:db8:0:2::1]:4000", b, len, &m,
	    T0 + 2 * NSEC), 0);
	node_free(srv);
}
END_TEST

/* An error answer is no larger than max(request, the smallest error). */
START_TEST(test_server_error_size)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct stun_msg	 m;
	uint8_t		 b[STUN_MSG_MAX];
	size_t		 len;
	int		 got;

	for (int fp = 0; fp < 2; fp++) {
		/* One unknown comprehension-required attribute, empty. */
		len = build_req(b, sizeof(b), 9, 0x7fff, "x", fp);
		got = ask(srv, "198.51.100.8:4000", b, len, &m, T0);
		ck_assert_int_eq(m.error, 420);
		ck_assert_uint_le((size_t)got, len > 36u + 8 * fp ? len :
		    36u + 8 * fp);
		/* A larger request may have the phrase. */
		len = build_req(b, sizeof(b), 9, 0x7fff,
		    "0123456789012345678901234567890123456789", fp);
		got = ask(srv, "198.51.100.8:4000", b, len, &m, T0);
		ck_assert_int_eq(m.error, 420);
		ck_assert_uint_le((size_t)got, len);
	}
	node_free(srv);
}
END_TEST

START_TEST(test_server_index)
{
	struct node		*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	const struct stun_entry	*e;
	struct stun_msg		 m;
	struct nbaddr		 bob = A("198.51.100.2:7000");
	struct nbaddr		 alice = A("198.51.100.3:5000");
	uint8_t			 b[STUN_MSG_MAX];
	size_t			 len;
	struct dgram		*d;
	char			 why[64];

	ck_assert_int_eq(stunsrv_configure(&srv->s, NULL, 2, why,
	    sizeof(why)), 0);
	/* Unknown name: 404. */
	len = build_req(b, sizeof(b), 1, STUN_A_NBMQ_TARGET, "bob", 1);
	ask(srv, "198.51.100.3:5000", b, len, &m, T0);
	ck_assert_int_eq(m.error, 404);
	/* Register bob. */
	len = build_req(b, sizeof(b), 2, STUN_A_NBMQ_NAME, "bob", 1);
	ask(srv, "198.51.100.2:7000", b, len, &m, T0);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ck_assert(addr_eq(&m.mapped, &bob));
	ck_assert_uint_eq(stunsrv_count(&srv->s), 1);
	e = stunsrv_first(&srv->s);
	ck_assert_str_eq(e->name, "bob");
	ck_assert(addr_eq(&e->addr, &bob));
	/* Alice asks for bob: bob's address, and bob is told alice's. */
	len = build_req(b, sizeof(b), 3, STUN_A_NBMQ_TARGET, "bob", 1);
	flush(srv);
	out_reset(srv);
	sock_input(&srv->s, T0, &alice, b, len);
	flush(srv);
	ck_assert_uint_eq(srv->nout, 2);
	ck_assert_int_eq(stun_parse(srv->out[0].buf, srv->out[0].len, &m),
	    DROP_NONE);
	ck_assert(addr_eq(&srv->out[0].to, &alice));
	ck_assert(m.has_peer && addr_eq(&m.peer, &bob));
	ck_assert(addr_eq(&m.mapped, &alice));
	d = &srv->out[1];
	ck_assert(addr_eq(&d->to, &bob));
	ck_assert_int_eq(stun_parse(d->buf, d->len, &m), DROP_NONE);
	ck_assert_uint_eq(m.type, STUN_BINDING_INDICATION);
	ck_assert(m.has_peer && addr_eq(&m.peer, &alice));
	/* Asked again and again at once: always answered; bob is told 5
	 * times in all (the burst), then 2 a second. */
	out_reset(srv);
	for (int i = 0; i < 10; i++)
		sock_input(&srv->s, T0, &alice, b, len);
	flush(srv);
	ck_assert_uint_eq(srv->nout, 10 + 4);
	out_reset(srv);
	for (int i = 0; i < 10; i++)
		sock_input(&srv->s, T0 + NSEC, &alice, b, len);
	flush(srv);
	ck_assert_uint_eq(srv->nout, 10 + 2);
	out_reset(srv);
	/* bob moves (NAT rebinding): the latest registration wins. */
	bob = A("198.51.100.2:7001");
	len = build_req(b, sizeof(b), 4, STUN_A_NBMQ_NAME, "bob", 1);
	ask(srv, "198.51.100.2:7001", b, len, &m, T0 + NSEC);
	ck_assert(addr_eq(&stunsrv_first(&srv->s)->addr, &bob));
	/* The index holds 2 names: a third is refused (508). */
	len = build_req(b, sizeof(b), 5, STUN_A_NBMQ_NAME, "carol", 1);
	ask(srv, "198.51.100.4:1", b, len, &m, T0 + NSEC);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	len = build_req(b, sizeof(b), 6, STUN_A_NBMQ_NAME, "dave", 1);
	ask(srv, "198.51.100.5:1", b, len, &m, T0 + NSEC);
	ck_assert_int_eq(m.error, 508);
	ck_assert_uint_eq(srv->s.st.drops[DROP_STUN_REFUSED], 1);
	ck_assert_uint_eq(stunsrv_count(&srv->s), 2);
	/* Expiry: 3 of the socket's stun_refresh_ivl (2 s) after the last
	 * refresh; carol refreshes at T0 + 5 s, bob does not. */
	ck_assert_uint_eq(stunsrv_next_deadline(&srv->s), T0 + 7 * NSEC);
	len = build_req(b, sizeof(b), 7, STUN_A_NBMQ_NAME, "carol", 1);
	ask(srv, "198.51.100.4:1", b, len, &m, T0 + 5 * NSEC);
	sock_timers(&srv->s, T0 + 7 * NSEC - 1);
	ck_assert_uint_eq(stunsrv_count(&srv->s), 2);
	sock_timers(&srv->s, T0 + 7 * NSEC);
	ck_assert_uint_eq(stunsrv_count(&srv->s), 1);
	ck_assert_str_eq(stunsrv_first(&srv->s)->name, "carol");
	ck_assert_uint_eq(sock_next_deadline(&srv->s), T0 + 11 * NSEC);
	sock_timers(&srv->s, T0 + 11 * NSEC);
	ck_assert_uint_eq(stunsrv_count(&srv->s), 0);
	ck_assert_uint_eq(sock_next_deadline(&srv->s), NBMQ_TIME_NEVER);
	node_free(srv);
}
END_TEST

/*
 * A shared index (stunsrv_set_index), faked: one table for every
 * rendezvous, lookups answered only when the test says (fidx_run), the
 * introductions handed to the holder's stunsrv_intro().
 */
#define FIDX_MAX	8
struct fidx {
	struct {
		char		 name[NBMQ_NAME_MAX + 1];
		struct nbaddr	 addr;
		struct node	*holder;
		uint64_t	 ttl;
	} keys[FIDX_MAX];
	int		 nkeys;
	struct {
		struct node	*asker;
		char		 name[NBMQ_NAME_MAX + 1];
		uint64_t	 id;
	} gets[FIDX_MAX];
	int		 ngets;
	int		 down;		/* get refuses: degraded */
	int		 silent;	/* get takes, never answers */
	int		 puts, intros;
	struct node	*nodes[2];
};
static struct fidx	fidx;

static struct node *
fidx_node(struct sock *s)
{
	for (int i = 0; i < 2; i++)
		if (fidx.nodes[i] != NULL && &fidx.nodes[i]->s == s)
			return fidx.nodes[i];
	ck_abort_msg("not a rendezvous");
	return NULL;
}

static void
fidx_put(void *arg, struct sock *s, const char *name,
    const struct nbaddr *addr, uint64_t ttl)
{
	int	 i;

	fidx.puts++;
	for (i = 0; i < fidx.nkeys; i++)
		if (strcmp(fidx.keys[i].name, name) == 0)
			break;
	ck_assert_int_lt(i, FIDX_MAX);
	if (i == fidx.nkeys)
		fidx.nkeys++;
	snprintf(fidx.keys[i].name, sizeof(fidx.keys[i].name), "%s", name);
	fidx.keys[i].addr = *addr;
	fidx.keys[i].holder = fidx_node(s);
	fidx.keys[i].ttl = ttl;
}

static int
fidx_get(void *arg, struct sock *s, const char *name, uint64_t id)
{
	if (fidx.down)
		return -1;
	if (fidx.silent)
		return 0;
	ck_assert_int_lt(fidx.ngets, FIDX_MAX);
	fidx.gets[fidx.ngets].asker = fidx_node(s);
	snprintf(fidx.gets[fidx.ngets].name, sizeof(fidx.gets[0].name), "%s",
	    name);
	fidx.gets[fidx.ngets++].id = id;
	return 0;
}

static void
fidx_intro(void *arg, struct sock *s, const char *holder, const char *name,
    const struct nbaddr *src)
{
	fidx.intros++;
	for (int i = 0; i < 2; i++)
		if (strcmp(fidx.nodes[i]->s.name, holder) == 0)
			stunsrv_intro(&fidx.nodes[i]->s, T0, name, src);
}

static const struct stun_index_ops fidx_ops = {
	.put = fidx_put,
	.get = fidx_get,
	.intro = fidx_intro,
};

/* Answer every lookup asked so far. */
static void
fidx_run(nbmq_time now)
{
	for (int g = 0; g < fidx.ngets; g++) {
		int	 i;

		for (i = 0; i < fidx.nkeys; i++)
			if (strcmp(fidx.keys[i].name, fidx.gets[g].name) == 0)
				break;
		if (i == fidx.nkeys)
			stunsrv_found(&fidx.gets[g].asker->s, now,
			    fidx.gets[g].id, NULL, NULL);
		else
			stunsrv_found(&fidx.gets[g].asker->s, now,
			    fidx.gets[g].id, &fidx.keys[i].addr,
			    fidx.keys[i].holder->s.name);
	}
	fidx.ngets = 0;
}

/* Two rendezvous on one shared index: bob registers at A, alice asks B. */
START_TEST(test_server_shared_index)
{
	struct node		*a = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct node		*b = node_new(NBMQ_STUN, "203.0.113.2:3478");
	struct nbaddr		 bob = A("198.51.100.2:7000");
	struct nbaddr		 alice = A("198.51.100.3:5000");
	struct stun_index_stats	 st;
	struct stun_msg		 m;
	uint8_t			 buf[STUN_MSG_MAX];
	size_t			 len;

	memset(&fidx, 0, sizeof(fidx));
	fidx.nodes[0] = a;
	fidx.nodes[1] = b;
	snprintf(a->s.name, sizeof(a->s.name), "A");
	snprintf(b->s.name, sizeof(b->s.name), "B");
	stunsrv_set_index(&a->s, &fidx_ops, NULL);
	stunsrv_set_index(&b->s, &fidx_ops, NULL);

	/* Bob registers at A: shared, for 3 refresh intervals. */
	len = build_req(buf, sizeof(buf), 1, STUN_A_NBMQ_NAME, "bob", 1);
	ask(a, "198.51.100.2:7000", buf, len, &m, T0);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ck_assert_int_eq(fidx.puts, 1);
	ck_assert_str_eq(fidx.keys[0].name, "bob");
	ck_assert(addr_eq(&fidx.keys[0].addr, &bob));
	ck_assert_uint_eq(fidx.keys[0].ttl, 6 * NSEC);

	/* Alice asks B: no answer until the index answers. */
	len = build_req(buf, sizeof(buf), 2, STUN_A_NBMQ_TARGET, "bob", 1);
	ck_assert_int_eq(ask(b, "198.51.100.3:5000", buf, len, &m, T0), 0);
	ck_assert_int_eq(fidx.ngets, 1);
	stunsrv_index_stats(&b->s, &st);
	ck_assert_uint_eq(st.pending, 1);
	ck_assert_uint_eq(sock_next_deadline(&b->s), T0 + STUNSRV_LOOKUP_WAIT);
	out_reset(a);
	fidx_run(T0);
	/* B answers alice with bob's address ... */
	flush(b);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert(addr_eq(&b->out[0].to, &alice));
	ck_assert_int_eq(stun_parse(b->out[0].buf, b->out[0].len, &m),
	    DROP_NONE);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ck_assert(m.has_peer && addr_eq(&m.peer, &bob));
	ck_assert(addr_eq(&m.mapped, &alice));
	/* ... and A, which bob's NAT knows, tells bob alice's. */
	flush(a);
	ck_assert_uint_eq(a->nout, 1);
	ck_assert(addr_eq(&a->out[0].to, &bob));
	ck_assert_int_eq(stun_parse(a->out[0].buf, a->out[0].len, &m),
	    DROP_NONE);
	ck_assert_uint_eq(m.type, STUN_BINDING_INDICATION);
	ck_assert(m.has_peer && addr_eq(&m.peer, &alice));
	stunsrv_index_stats(&b->s, &st);
	ck_assert_uint_eq(st.asked, 1);
	ck_assert_uint_eq(st.found, 1);
	ck_assert_uint_eq(st.pending, 0);
	stunsrv_index_stats(&a->s, &st);
	ck_assert_uint_eq(st.intros, 1);
	out_reset(a);
	out_reset(b);

	/* The introductions A sends bob keep their rate limit: 5 at once. */
	for (int i = 0; i < 10; i++) {
		ask(b, "198.51.100.3:5000", buf, len, &m, T0);
		fidx_run(T0);
	}
	flush(a);
	ck_assert_uint_eq(a->nout, 4);
	flush(b);
	ck_assert_uint_eq(b->nout, 10);
	out_reset(a);
	out_reset(b);

	/* A name nobody registered: 404, once the index said so. */
	len = build_req(buf, sizeof(buf), 3, STUN_A_NBMQ_TARGET, "carol", 1);
	ck_assert_int_eq(ask(b, "198.51.100.3:5000", buf, len, &m, T0), 0);
	fidx_run(T0);
	flush(b);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(stun_parse(b->out[0].buf, b->out[0].len, &m),
	    DROP_NONE);
	ck_assert_int_eq(m.error, 404);
	out_reset(b);

	/* The index never answers: 404 after STUNSRV_LOOKUP_WAIT, and the
	 * late answer is ignored. */
	ck_assert_int_eq(ask(b, "198.51.100.3:5000", buf, len, &m, T0), 0);
	sock_timers(&b->s, T0 + STUNSRV_LOOKUP_WAIT - 1);
	flush(b);
	ck_assert_uint_eq(b->nout, 0);
	sock_timers(&b->s, T0 + STUNSRV_LOOKUP_WAIT);
	flush(b);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_int_eq(stun_parse(b->out[0].buf, b->out[0].len, &m),
	    DROP_NONE);
	ck_assert_int_eq(m.error, 404);
	out_reset(b);
	fidx_run(T0 + STUNSRV_LOOKUP_WAIT);
	flush(b);
	ck_assert_uint_eq(b->nout, 0);
	stunsrv_index_stats(&b->s, &st);
	ck_assert_uint_eq(st.timeouts, 1);

	/* Degraded: B answers from its own names, at once. */
	fidx.down = 1;
	len = build_req(buf, sizeof(buf), 4, STUN_A_NBMQ_NAME, "dave", 1);
	ask(b, "198.51.100.4:1", buf, len, &m, T0);
	len = build_req(buf, sizeof(buf), 5, STUN_A_NBMQ_TARGET, "dave", 1);
	flush(b);
	out_reset(b);
	sock_input(&b->s, T0, &alice, buf, len);
	flush(b);
	ck_assert_uint_eq(b->nout, 2);		/* answer, introduction */
	ck_assert_int_eq(stun_parse(b->out[0].buf, b->out[0].len, &m),
	    DROP_NONE);
	bob = A("198.51.100.4:1");		/* dave, here */
	ck_assert(m.has_peer && addr_eq(&m.peer, &bob));
	len = build_req(buf, sizeof(buf), 6, STUN_A_NBMQ_TARGET, "bob", 1);
	ask(b, "198.51.100.3:5000", buf, len, &m, T0);
	ck_assert_int_eq(m.error, 404);
	stunsrv_index_stats(&b->s, &st);
	ck_assert_uint_eq(st.local, 1);
	ck_assert_uint_eq(st.pending, 0);
	node_free(a);
	node_free(b);
}
END_TEST

/* A shared index that never answers: STUNSRV_PENDING_MAX lookups wait,
 * the next is answered at once (404) and counted; then all time out. */
START_TEST(test_server_shared_bound)
{
	struct node		*b = node_new(NBMQ_STUN, "203.0.113.2:3478");
	struct stun_index_stats	 st;
	struct stun_msg		 m;
	struct nbaddr		 from;
	uint8_t			 buf[STUN_MSG_MAX];
	char			 addr[64];
	size_t			 len;

	memset(&fidx, 0, sizeof(fidx));
	fidx.nodes[0] = b;
	fidx.silent = 1;
	stunsrv_set_index(&b->s, &fidx_ops, NULL);
	len = build_req(buf, sizeof(buf), 1, STUN_A_NBMQ_TARGET, "bob", 1);
	for (int i = 0; i < STUNSRV_PENDING_MAX; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1:5000", i / 256,
		    i % 256);
		from = A(addr);
		sock_input(&b->s, T0, &from, buf, len);
	}
	flush(b);
	ck_assert_uint_eq(b->nout, 0);
	stunsrv_index_stats(&b->s, &st);
	ck_assert_uint_eq(st.pending, STUNSRV_PENDING_MAX);
	ck_assert_uint_eq(st.busy, 0);
	ck_assert_int_gt(ask(b, "192.0.2.1:5000", buf, len, &m, T0), 0);
	ck_assert_int_eq(m.error, 404);
	stunsrv_index_stats(&b->s, &st);
	ck_assert_uint_eq(st.busy, 1);
	ck_assert_uint_eq(st.pending, STUNSRV_PENDING_MAX);
	out_reset(b);
	sock_timers(&b->s, T0 + STUNSRV_LOOKUP_WAIT);
	flush(b);
	ck_assert_uint_eq(b->nout, STUNSRV_PENDING_MAX);
	stunsrv_index_stats(&b->s, &st);
	ck_assert_uint_eq(st.pending, 0);
	ck_assert_uint_eq(st.timeouts, STUNSRV_PENDING_MAX);
	node_free(b);
}
END_TEST

/* An introduction asked by another rendezvous: stun_allow holds there
 * too, and a name not (or no longer) here is nobody's. */
START_TEST(test_server_remote_intro)
{
	struct node		*a = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct nbaddr		 out = A("192.0.2.9:1");
	struct nbaddr		 in = A("198.51.100.3:5000");
	struct stun_index_stats	 st;
	struct stun_msg		 m;
	uint8_t			 buf[STUN_MSG_MAX];
	size_t			 len;
	char			 why[64];

	ck_assert_int_eq(stunsrv_configure(&a->s, "198.51.100.0/24", 0, why,
	    sizeof(why)), 0);
	len = build_req(buf, sizeof(buf), 1, STUN_A_NBMQ_NAME, "bob", 1);
	ask(a, "198.51.100.2:7000", buf, len, &m, T0);
	out_reset(a);
	stunsrv_intro(&a->s, T0, "bob", &out);
	stunsrv_intro(&a->s, T0, "nobody", &in);
	flush(a);
	ck_assert_uint_eq(a->nout, 0);
	stunsrv_intro(&a->s, T0, "bob", &in);
	flush(a);
	ck_assert_uint_eq(a->nout, 1);
	out = A("198.51.100.2:7000");
	ck_assert(addr_eq(&a->out[0].to, &out));
	stunsrv_index_stats(&a->s, &st);
	ck_assert_uint_eq(st.intros, 1);
	node_free(a);
}
END_TEST

START_TEST(test_server_allow)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct stun_msg	 m;
	uint8_t		 b[STUN_MSG_MAX];
	size_t		 len;
	char		 why[64];

	ck_assert_int_eq(stunsrv_configure(&srv->s, "10.0.0.0/8, "
	    "2001:db8::/32", 0, why, sizeof(why)), 0);
	len = build_req(b, sizeof(b), 1, STUN_A_NBMQ_NAME, "bob", 1);
	ask(srv, "192.0.2.1:1", b, len, &m, T0);
	ck_assert_int_eq(m.error, 403);
	ask(srv, "10.1.2.3:1", b, len, &m, T0);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ask(srv, "[::ffff:10.1.2.3]:2", b, len, &m, T0);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ask(srv, "[2001:db8:1::1]:1", b, len, &m, T0);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ask(srv, "[2001:db9::1]:1", b, len, &m, T0);
	ck_assert_int_eq(m.error, 403);
	/* Lookups too; plain Binding requests are for everyone. */
	len = build_req(b, sizeof(b), 2, STUN_A_NBMQ_TARGET, "bob", 1);
	ask(srv, "192.0.2.1:1", b, len, &m, T0);
	ck_assert_int_eq(m.error, 403);
	len = build_req(b, sizeof(b), 3, 0, NULL, 1);
	ask(srv, "192.0.2.1:1", b, len, &m, T0);
	ck_assert_uint_eq(m.type, STUN_BINDING_SUCCESS);
	ck_assert_uint_eq(srv->s.st.drops[DROP_STUN_REFUSED], 3);
	/* Malformed ones are dropped and counted. */
	b[3] = 1;
	ck_assert_int_eq(ask(srv, "192.0.2.1:1", b, len, &m, T0), 0);
	ck_assert_uint_eq(srv->s.st.drops[DROP_STUN_MALFORMED], 1);
	node_free(srv);
}
END_TEST

/* An nbmq socket registers, learns its mapped address, refreshes. */
START_TEST(test_client_register)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct node	*bob = node_new(NBMQ_DEALER, "198.51.100.2:7000");
	struct nbaddr	 want = bob->addr;
	nbmq_time	 t = T0;

	sock_set_bound(&bob->s);
	ck_assert_int_eq(stuncli_init(&bob->s, "203.0.113.1:3478",
	    &srv->addr), 0);
	stuncli_register(&bob->s, "bob", t);
	ck_assert_uint_eq(sock_next_deadline(&bob->s), t);
	sock_timers(&bob->s, t);
	ck_assert_int_eq(pass_to(bob, &srv, 1, t), 1);
	ck_assert_uint_eq(stunsrv_count(&srv->s), 1);
	ck_assert_int_eq(pass_to(srv, &bob, 1, t), 1);
	ck_assert(bob->s.mapped_at == t && addr_eq(&bob->s.mapped, &want));
	ck_assert_uint_eq(sock_next_deadline(&bob->s), t + 2 * NSEC);
	/* Unanswered: retried after 1, 2, 2 s (stun_refresh_ivl). */
	sock_timers(&bob->s, t += 2 * NSEC);
	flush(bob);
	out_reset(bob);
	ck_assert_uint_eq(sock_next_deadline(&bob->s), t + 2 * NSEC);
	sock_timers(&bob->s, t += 2 * NSEC);
	ck_assert_uint_eq(sock_next_deadline(&bob->s), t + 1 * NSEC);
	sock_timers(&bob->s, t += 1 * NSEC);
	ck_assert_uint_eq(sock_next_deadline(&bob->s), t + 2 * NSEC);
	/* An answer to an old request, or from elsewhere, is dropped. */
	flush(bob);
	out_reset(bob);
	ck_assert_int_eq(pass_to(srv, &bob, 1, t), 0);
	node_free(srv);
	node_free(bob);
}
END_TEST

/*
 * The client believes its stun server only, and only about what it asked:
 * an answer from elsewhere, an answer to an older request, a lookup answer
 * without the peer's address are dropped and counted (stun_unexpected) and
 * change nothing; an introduction from elsewhere makes nobody punch.
 */
START_TEST(test_client_checks_answers)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct node	*bob = node_new(NBMQ_DEALER, "198.51.100.2:7000");
	struct node	*alice = node_new(NBMQ_DEALER, "198.51.100.3:5000");
	struct node	*all[] = { srv, bob, alice };
	struct nbaddr	 eve = A("192.0.2.66:3478");
	struct kept	 ans, look, intro;
	struct stun_msg	 m, req;
	struct stun_out	 o;
	uint8_t		 b[STUN_MSG_MAX];
	nbmq_time	 t = T0;
	size_t		 len;
	int		 found;

	/* Bob registers; the server's answer, kept. */
	sock_set_bound(&bob->s);
	stuncli_init(&bob->s, "srv", &srv->addr);
	stuncli_register(&bob->s, "bob", t);
	sock_timers(&bob->s, t);
	ck_assert_int_eq(pass_to(bob, all, 3, t), 1);
	keep(&ans, last_out(srv));
	/* The same answer from elsewhere: dropped, counted, not taken. */
	sock_input(&bob->s, t, &eve, ans.buf, ans.len);
	ck_assert_uint_eq(bob->s.st.drops[DROP_STUN_UNEXPECTED], 1);
	ck_assert_uint_eq(bob->s.mapped_at, 0);
	/* From the server: taken. */
	ck_assert_int_eq(pass_to(srv, all, 3, t), 1);
	ck_assert_uint_eq(bob->s.mapped_at, t);
	/* The next registration (lost): the old answer is not its answer. */
	t += 2 * NSEC;
	ck_assert_uint_eq(sock_next_deadline(&bob->s), t);
	sock_timers(&bob->s, t);
	flush(bob);
	ck_assert_uint_eq(bob->nout, 1);
	out_reset(bob);
	sock_input(&bob->s, t, &srv->addr, ans.buf, ans.len);
	ck_assert_uint_eq(bob->s.st.drops[DROP_STUN_UNEXPECTED], 2);
	ck_assert_uint_eq(bob->s.mapped_at, T0);

	/* Alice looks bob up: the answer to her, the introduction to bob. */
	stuncli_init(&alice->s, "srv", &srv->addr);
	stuncli_set_target(&alice->s, "bob");
	sock_connect_name(&alice->s, t);
	pass_to(alice, all, 3, t);
	flush(srv);
	found = 0;
	for (size_t i = 0; i < srv->nout; i++) {
		if (addr_eq(&srv->out[i].to, &alice->addr)) {
			keep(&look, &srv->out[i]);
			found |= 1;
		} else if (addr_eq(&srv->out[i].to, &bob->addr)) {
			keep(&intro, &srv->out[i]);
			found |= 2;
		}
	}
	ck_assert_int_eq(found, 3);
	out_reset(srv);
	/* The introduction from elsewhere: bob punches nobody. */
	sock_input(&bob->s, t, &eve, intro.buf, intro.len);
	flush(bob);
	ck_assert_uint_eq(bob->nout, 0);
	/* From the server: bob punches towards alice. */
	sock_input(&bob->s, t, &srv->addr, intro.buf, intro.len);
	flush(bob);
	ck_assert_int_ge(bob->nout, 1);
	ck_assert(addr_eq(&bob->out[0].to, &alice->addr));
	out_reset(bob);

	/* Alice asks again (reconnect_wait, the answer was lost): the
	 * answer to the first lookup is no answer to this one. */
	t += alice->s.o.reconnect_wait;
	ck_assert_uint_eq(sock_next_deadline(&alice->s), t);
	sock_timers(&alice->s, t);
	flush(alice);
	found = 0;
	for (size_t i = 0; i < alice->nout; i++)
		if (stun_parse(alice->out[i].buf, alice->out[i].len, &req) ==
		    DROP_NONE && req.target[0] != '\0') {
			found++;
			m = req;
		}
	ck_assert_int_eq(found, 1);
	req = m;
	out_reset(alice);
	sock_input(&alice->s, t, &srv->addr, look.buf, look.len);
	ck_assert_uint_eq(alice->s.st.drops[DROP_STUN_UNEXPECTED], 1);
	ck_assert(!alice->s.remote_valid);
	/* An answer to it without NBMQ-PEER-ADDRESS (a plain stun server):
	 * counted, and still nowhere to connect to. */
	stun_begin(&o, b, sizeof(b), STUN_BINDING_SUCCESS, &req, NULL);
	ck_assert_int_eq(stun_put_addr(&o, STUN_A_XOR_MAPPED_ADDRESS,
	    &alice->addr, 1), 0);
	len = stun_finish(&o, req.fingerprint);
	ck_assert_uint_gt(len, 0);
	sock_input(&alice->s, t, &srv->addr, b, len);
	ck_assert_uint_eq(alice->s.st.drops[DROP_STUN_UNEXPECTED], 2);
	ck_assert(!alice->s.remote_valid);
	ck_assert(addr_eq(&alice->s.mapped, &alice->addr));
	node_free(srv);
	node_free(bob);
	node_free(alice);
}
END_TEST

/*
 * Connect by name, the whole exchange: bob registers; alice asks for bob;
 * the stun socket answers alice and introduces her to bob; bob punches;
 * alice's Connect reaches bob; the session comes up.
 */
START_TEST(test_connect_by_name)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct node	*bob = node_new(NBMQ_DEALER, "198.51.100.2:7000");
	struct node	*alice = node_new(NBMQ_DEALER, "198.51.100.3:5000");
	struct node	*all[] = { srv, bob, alice };
	nbmq_time	 t = T0;
	int		 punches = 0, connects = 0;
	struct stun_msg	 m;

	sock_set_bound(&bob->s);
	stuncli_init(&bob->s, "srv", &srv->addr);
	stuncli_register(&bob->s, "bob", t);
	sock_timers(&bob->s, t);
	pass_to(bob, all, 3, t);
	pass_to(srv, all, 3, t);

	/* Alice: bob is not there yet under "carol": 404, still trying. */
	stuncli_init(&alice->s, "srv", &srv->addr);
	stuncli_set_target(&alice->s, "carol");
	ck_assert(stuncli_has_target(&alice->s));
	sock_connect_name(&alice->s, t);
	ck_assert_int_eq(alice->s.link, LINK_CONNECTING);
	pass_to(alice, all, 3, t);
	pass_to(srv, all, 3, t);
	ck_assert(!alice->s.remote_valid);
	ck_assert_uint_eq(sock_next_deadline(&alice->s), t + NSEC);

	/* Now bob. */
	stuncli_set_target(&alice->s, "bob");
	sock_timers(&alice->s, t += NSEC);
	pass_to(alice, all, 3, t);			/* the lookup */
	ck_assert_int_eq(pass_to(srv, all, 3, t), 2);	/* answer, intro */
	ck_assert(alice->s.remote_valid);
	ck_assert(addr_eq(&alice->s.remote, &bob->addr));
	ck_assert(addr_eq(&alice->s.mapped, &alice->addr));
	/* Bob punched at once: a Binding indication to alice. */
	flush(bob);
	for (size_t i = 0; i < bob->nout; i++)
		if (addr_eq(&bob->out[i].to, &alice->addr) &&
		    stun_parse(bob->out[i].buf, bob->out[i].len, &m) ==
		    DROP_NONE && m.type == STUN_BINDING_INDICATION)
			punches++;
	ck_assert_int_eq(punches, 1);
	/* Alice sent Connect to bob (the first of a few). */
	flush(alice);
	for (size_t i = 0; i < alice->nout; i++)
		if (addr_eq(&alice->out[i].to, &bob->addr) &&
		    alice->out[i].buf[1] == FK_CONNECT)
			connects++;
	ck_assert_int_eq(connects, 1);
	/* Punches reach alice: ignored, not counted as drops. */
	pass_to(bob, all, 3, t);
	for (int i = 0; i < DROP_NREASONS; i++)
		ck_assert_uint_eq(alice->s.st.drops[i], 0);
	/* Connect reaches bob, Connected reaches alice: up. */
	pass_to(alice, all, 3, t);
	pass_to(bob, all, 3, t);
	ck_assert_int_eq(alice->s.link, LINK_UP);
	ck_assert_uint_eq(alice->s.npeers, 1);
	ck_assert_uint_eq(bob->s.npeers, 1);
	/* No more Connects once up. */
	for (int i = 0; i < 20; i++) {
		t += 100 * MSEC;
		sock_timers(&alice->s, t);
		sock_timers(&bob->s, t);
		flush(alice);
		for (size_t k = 0; k < alice->nout; k++)
			ck_assert_uint_ne(alice->out[k].buf[1], FK_CONNECT);
		pass_to(alice, all, 3, t);
		pass_to(bob, all, 3, t);
		pass_to(srv, all, 3, t);
	}
	ck_assert_int_eq(alice->s.link, LINK_UP);
	node_free(srv);
	node_free(bob);
	node_free(alice);
}
END_TEST

/* Nothing gets through (a symmetric NAT): a few Connects, then the
 * failure is reported and the next attempt asks again. */
START_TEST(test_punch_fails)
{
	struct node	*srv = node_new(NBMQ_STUN, "203.0.113.1:3478");
	struct node	*bob = node_new(NBMQ_DEALER, "198.51.100.2:7000");
	struct node	*alice = node_new(NBMQ_DEALER, "198.51.100.3:5000");
	struct node	*all[] = { srv, bob, alice };
	nbmq_time	 t = T0;
	int		 connects = 0, lookups = 0;

	sock_set_bound(&bob->s);
	stuncli_init(&bob->s, "srv", &srv->addr);
	stuncli_register(&bob->s, "bob", t);
	sock_timers(&bob->s, t);
	pass_to(bob, all, 3, t);
	pass_to(srv, all, 3, t);
	stuncli_init(&alice->s, "srv", &srv->addr);
	stuncli_set_target(&alice->s, "bob");
	sock_connect_name(&alice->s, t);
	pass_to(alice, all, 3, t);
	pass_to(srv, all, 3, t);
	ck_assert(alice->s.remote_valid);
	/* From now on alice's datagrams to bob are lost. */
	for (int i = 0; i < 10; i++) {
		t += 100 * MSEC;
		sock_timers(&alice->s, t);
		flush(alice);
		for (size_t k = 0; k < alice->nout; k++) {
			if (alice->out[k].buf[1] == FK_CONNECT &&
			    addr_eq(&alice->out[k].to, &bob->addr))
				connects++;
			if (addr_eq(&alice->out[k].to, &srv->addr))
				lookups++;
		}
		out_reset(alice);
	}
	/* reconnect_wait 1 s: the first Connect, then 4 more 0.2 s apart,
	 * then a new lookup at 1 s. */
	ck_assert_int_eq(connects, 5);
	ck_assert_int_eq(lookups, 1);
	ck_assert_int_eq(alice->s.link, LINK_CONNECTING);
	node_free(srv);
	node_free(bob);
	node_free(alice);
}
END_TEST

/* The stun server as a host name: every request waits for a resolution. */
START_TEST(test_client_resolves)
{
	struct node	*bob = node_new(NBMQ_DEALER, "198.51.100.2:7000");
	struct nbaddr	 srv = A("203.0.113.1:3478");

	stuncli_init(&bob->s, "stun.example.net:3478", NULL);
	stuncli_register(&bob->s, "bob", T0);
	sock_timers(&bob->s, T0);
	ck_assert_int_eq(bob->stun_resolves, 1);
	flush(bob);
	ck_assert_uint_eq(bob->nout, 0);
	stuncli_set_server(&bob->s, &srv, T0);
	flush(bob);
	ck_assert_uint_eq(bob->nout, 1);
	ck_assert(addr_eq(&bob->out[0].to, &srv));
	node_free(bob);
}
END_TEST

/* What reaches an nbmq socket that is not STUN stays NBMQ, and back. */
START_TEST(test_demux)
{
	struct node	*n = node_new(NBMQ_DEALER, "198.51.100.2:7000");
	uint8_t		 b[STUN_MSG_MAX];
	struct nbaddr	 from = A("192.0.2.1:1");
	size_t		 len;

	sock_set_bound(&n->s);
	/* A Binding response to nothing we asked: counted. */
	sock_input(&n->s, T0, &from, sample_v4, sizeof(sample_v4));
	ck_assert_uint_eq(n->s.st.drops[DROP_STUN_UNEXPECTED], 1);
	/* A Binding indication (a punch): ignored quietly. */
	len = build_req(b, sizeof(b), 1, 0, NULL, 0);
	b[1] = 0x11;
	sock_input(&n->s, T0, &from, b, len);
	ck_assert_uint_eq(n->s.st.drops[DROP_STUN_UNEXPECTED], 1);
	/* A bad FINGERPRINT. */
	memcpy(b, sample_v4, sizeof(sample_v4));
	b[79] ^= 1;
	sock_input(&n->s, T0, &from, b, sizeof(sample_v4));
	ck_assert_uint_eq(n->s.st.drops[DROP_STUN_FINGERPRINT], 1);
	/* The cookie at 4..7 but the wrong length: NBMQ (a bad version). */
	b[0] = 0x01;
	b[3] = 0;
	sock_input(&n->s, T0, &from, b, sizeof(sample_v4));
	ck_assert_uint_eq(n->s.st.drops[DROP_STUN_FINGERPRINT], 1);
	node_free(n);
}
END_TEST

static Suite *
stun_suite(void)
{
	Suite	*s = suite_create("stun");
	TCase	*tc;

	tc = tcase_create("codec");
	tcase_add_test(tc, test_crc32);
	tcase_add_test(tc, test_rfc5769_request);
	tcase_add_test(tc, test_rfc5769_responses);
	tcase_add_test(tc, test_rfc5769_reproduced);
	tcase_add_test(tc, test_vectors_damaged);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_unknown_and_integrity);
	tcase_add_test(tc, test_writer_bounds);
	tcase_add_test(tc, test_allow_parse);
	suite_add_tcase(s, tc);

	tc = tcase_create("server");
	tcase_add_test(tc, test_server_binding);
	tcase_add_test(tc, test_server_rfc3489);
	tcase_add_test(tc, test_server_420);
	tcase_add_test(tc, test_server_amplification);
	tcase_add_test(tc, test_server_rate_limit);
	tcase_add_test(tc, test_server_rate_per_address);
	tcase_add_test(tc, test_server_error_size);
	tcase_add_test(tc, test_server_index);
	tcase_add_test(tc, test_server_allow);
	tcase_add_test(tc, test_server_shared_index);
	tcase_add_test(tc, test_server_remote_intro);
	tcase_add_test(tc, test_server_shared_bound);
	suite_add_tcase(s, tc);

	tc = tcase_create("client");
	tcase_add_test(tc, test_client_register);
	tcase_add_test(tc, test_client_checks_answers);
	tcase_add_test(tc, test_connect_by_name);
	tcase_add_test(tc, test_punch_fails);
	tcase_add_test(tc, test_client_resolves);
	tcase_add_test(tc, test_demux);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init(LOG_ERR, 1);
	return run_suite(stun_suite());
}
