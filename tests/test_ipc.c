/* SPDX-License-Identifier: ISC */
/*
 * test_ipc.c: unit tests of common/ipc-codec.c, the IPC validation
 * shared by nbmqd and libnbmq (nbmq-protocol.h).
 */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"
#include "unit.h"
#include "nbmq-protocol.h"

/* A payload: struct ipc_msg, nparts sizes, then the bytes. */
struct payload {
	uint8_t		*p;
	uint32_t	 len;
};

static void
mkpayload(struct payload *pl, uint64_t peer, uint32_t nparts,
    const uint32_t *sizes, uint32_t nsizes, uint32_t datalen)
{
	struct ipc_msg	h = { .peer = peer, .nparts = nparts, .flags = 3 };

	pl->len = (uint32_t)sizeof(h) + nsizes * 4 + datalen;
	pl->p = malloc(pl->len ? pl->len : 1);
	ck_assert_ptr_nonnull(pl->p);
	memcpy(pl->p, &h, sizeof(h));
	if (nsizes > 0)
		memcpy(pl->p + sizeof(h), sizes, (size_t)nsizes * 4);
	for (uint32_t i = 0; i < datalen; i++)
		pl->p[sizeof(h) + nsizes * 4 + i] = (uint8_t)(i * 3);
}

START_TEST(test_hdr_ok)
{
	static const uint16_t types[] = {
		IPC_HELLO, IPC_HELLO_OK, IPC_RESULT, IPC_SOCK_CREATE,
		IPC_SOCK_ATTACH, IPC_SOCK_CLOSE, IPC_SOCK_BIND,
		IPC_SOCK_CONNECT, IPC_SOCK_SETOPT, IPC_SOCK_GETOPT, IPC_SEND,
		IPC_MSG, IPC_CREDIT, IPC_DROPPED, IPC_SOCK_GONE, IPC_EVENT,
		IPC_CONFIRM, IPC_TALLY,
		IPC_CTL_STATUS, IPC_CTL_SOCKETS, IPC_CTL_PEERS, IPC_CTL_STATS,
		IPC_CTL_REASONS, IPC_CTL_RELOAD, IPC_CTL_STATUS_INFO,
		IPC_CTL_SOCKET_INFO, IPC_CTL_PEER_INFO, IPC_CTL_STATS_INFO,
		IPC_CTL_REASON, IPC_CTL_END, IPC_CTL_INDEX,
		IPC_CTL_INDEX_ENTRY,
	};
	struct nbmq_ipc_hdr	h = { 0 };

	ck_assert_uint_eq(sizeof(h), NBMQ_IPC_HDR_SIZE);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		h.type = types[i];
		h.len = 0;
		ck_assert_int_eq(ipc_hdr_check(&h, 1024), 0);
		h.len = 1024;
		ck_assert_int_eq(ipc_hdr_check(&h, 1024), 0);
		ck_assert_str_ne(ipc_type_name(types[i]), "unknown");
	}
	h.type = IPC_SEND;
	h.len = NBMQ_IPC_MAX_PAYLOAD;
	ck_assert_int_eq(ipc_hdr_check(&h, NBMQ_IPC_MAX_PAYLOAD), 0);
}
END_TEST

START_TEST(test_hdr_oversize)
{
	struct nbmq_ipc_hdr	h = { .type = IPC_SEND };

	h.len = 1025;
	ck_assert_int_eq(ipc_hdr_check(&h, 1024), EMSGSIZE);
	h.len = UINT32_MAX;
	ck_assert_int_eq(ipc_hdr_check(&h, NBMQ_IPC_MAX_PAYLOAD), EMSGSIZE);
	h.len = NBMQ_IPC_MAX_PAYLOAD + 1;
	ck_assert_int_eq(ipc_hdr_check(&h, NBMQ_IPC_MAX_PAYLOAD), EMSGSIZE);
	h.len = 1;
	ck_assert_int_eq(ipc_hdr_check(&h, 0), EMSGSIZE);
}
END_TEST

START_TEST(test_hdr_bad_type)
{
	static const uint16_t bad[] = { 0x0000, 0x00ff, 0x0501, 0xff01,
	    0xffff };
	struct nbmq_ipc_hdr	h = { .len = 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		h.type = bad[i];
		ck_assert_int_eq(ipc_hdr_check(&h, 1024), EPROTO);
		ck_assert_str_eq(ipc_type_name(bad[i]), "unknown");
	}
}
END_TEST

START_TEST(test_msg_ok)
{
	static const uint32_t sizes[] = { 5, 0, 1000, 1 };
	struct payload		pl;
	struct ipc_msgview	v;

	mkpayload(&pl, 0x1234567890ULL, 4, sizes, 4, 1006);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), 0);
	ck_assert_uint_eq(v.peer, 0x1234567890ULL);
	ck_assert_uint_eq(v.nparts, 4);
	ck_assert_uint_eq(v.flags, 3);
	ck_assert_uint_eq(v.size, 1006);
	ck_assert_ptr_eq(v.sizes, pl.p + sizeof(struct ipc_msg));
	ck_assert_ptr_eq(v.data, pl.p + sizeof(struct ipc_msg) + 16);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_uint_eq(ipc_msg_part_size(&v, i), sizes[i]);
	ck_assert_uint_eq(v.data[1005], (uint8_t)(1005 * 3));
	free(pl.p);
}
END_TEST

START_TEST(test_msg_ok_edges)
{
	uint32_t		sizes[NBMQ_IPC_MAX_PARTS];
	struct payload		pl;
	struct ipc_msgview	v;

	/* One empty part. */
	sizes[0] = 0;
	mkpayload(&pl, 0, 1, sizes, 1, 0);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), 0);
	ck_assert_uint_eq(v.nparts, 1);
	ck_assert_uint_eq(v.size, 0);
	free(pl.p);
	/* The most parts. */
	for (int i = 0; i < NBMQ_IPC_MAX_PARTS; i++)
		sizes[i] = (uint32_t)i;
	mkpayload(&pl, 0, NBMQ_IPC_MAX_PARTS, sizes, NBMQ_IPC_MAX_PARTS,
	    254 * 255 / 2);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), 0);
	ck_assert_uint_eq(v.nparts, NBMQ_IPC_MAX_PARTS);
	ck_assert_uint_eq(v.size, 254 * 255 / 2);
	ck_assert_uint_eq(ipc_msg_part_size(&v, 254), 254);
	free(pl.p);
}
END_TEST

START_TEST(test_msg_nparts)
{
	uint32_t		sizes[NBMQ_IPC_MAX_PARTS + 2] = { 0 };
	struct payload		pl;
	struct ipc_msgview	v;

	mkpayload(&pl, 0, 0, sizes, 0, 0);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
	mkpayload(&pl, 0, 0, sizes, 1, 0);	/* a size, but nparts 0 */
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
	mkpayload(&pl, 0, NBMQ_IPC_MAX_PARTS + 1, sizes,
	    NBMQ_IPC_MAX_PARTS + 1, 0);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
	mkpayload(&pl, 0, UINT32_MAX, sizes, NBMQ_IPC_MAX_PARTS + 2, 0);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
	mkpayload(&pl, 0, 0x40000001U, sizes, 1, 0);	/* *4 wraps 32 bits */
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
}
END_TEST

START_TEST(test_msg_truncated)
{
	static const uint32_t sizes[] = { 0, 0, 0 };
	struct payload		pl;
	struct ipc_msgview	v;

	/* Shorter than struct ipc_msg. */
	mkpayload(&pl, 0, 1, sizes, 1, 0);
	for (uint32_t len = 0; len < sizeof(struct ipc_msg); len++)
		ck_assert_int_eq(ipc_msg_parse(pl.p, len, &v), EPROTO);
	free(pl.p);
	/* Sizes cut short: 3 parts, 2 sizes (the rest of a third). */
	mkpayload(&pl, 0, 3, sizes, 3, 0);
	for (uint32_t len = sizeof(struct ipc_msg); len < pl.len; len++)
		ck_assert_int_eq(ipc_msg_parse(pl.p, len, &v), EPROTO);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), 0);
	free(pl.p);
}
END_TEST

START_TEST(test_msg_sizes_mismatch)
{
	uint32_t		sizes[] = { 10, 20 };
	struct payload		pl;
	struct ipc_msgview	v;

	/* More data than the sizes say. */
	mkpayload(&pl, 0, 2, sizes, 2, 31);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
	/* Less. */
	mkpayload(&pl, 0, 2, sizes, 2, 29);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
	mkpayload(&pl, 0, 2, sizes, 2, 0);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
	mkpayload(&pl, 0, 2, sizes, 2, 30);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), 0);
	free(pl.p);
	/* Sizes whose 32-bit sum would wrap to the data length. */
	sizes[0] = UINT32_MAX;
	sizes[1] = 31;			/* 2^32 + 30 */
	mkpayload(&pl, 0, 2, sizes, 2, 30);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
	/* One huge part, little data. */
	sizes[0] = NBMQ_IPC_MAX_MSG_SIZE;
	mkpayload(&pl, 0, 1, sizes, 1, 100);
	ck_assert_int_eq(ipc_msg_parse(pl.p, pl.len, &v), EPROTO);
	free(pl.p);
}
END_TEST

/* The fixed-size messages, their sizes and their string fields. */
struct strf {
	size_t	 off, len;
};
static const struct fixed {
	uint16_t	 type;
	size_t		 size;
	struct strf	 str[8];
	int		 nstr;
} fixed[] = {
#define F(t, st)	t, sizeof(struct st)
#define S(st, f)	{ offsetof(struct st, f), sizeof(((struct st *)0)->f) }
	{ F(IPC_EVENT, ipc_event), { S(ipc_event, addr),
	    S(ipc_event, prev_addr) }, 2 },
	{ F(IPC_CTL_PEERS, ipc_ctl_req), { S(ipc_ctl_req, sock) }, 1 },
	{ F(IPC_CTL_STATUS_INFO, ipc_ctl_status), {
	    S(ipc_ctl_status, version), S(ipc_ctl_status, config) }, 2 },
	{ F(IPC_CTL_SOCKET_INFO, ipc_ctl_sock), { S(ipc_ctl_sock, name),
	    S(ipc_ctl_sock, local), S(ipc_ctl_sock, remote),
	    S(ipc_ctl_sock, state), S(ipc_ctl_sock, mapped),
	    S(ipc_ctl_sock, encryptor), S(ipc_ctl_sock, key) }, 7 },
	{ F(IPC_CTL_PEER_INFO, ipc_ctl_peer), { S(ipc_ctl_peer, sock),
	    S(ipc_ctl_peer, addr), S(ipc_ctl_peer, prev_addr),
	    S(ipc_ctl_peer, state), S(ipc_ctl_peer, key) }, 5 },
	{ F(IPC_CTL_STATS_INFO, ipc_ctl_stats), { { 0, 0 } }, 0 },
	{ F(IPC_CTL_REASON, ipc_ctl_reason), { S(ipc_ctl_reason, name) }, 1 },
	{ F(IPC_CTL_END, ipc_ctl_end), { { 0, 0 } }, 0 },
	{ F(IPC_CTL_INDEX, ipc_ctl_req), { S(ipc_ctl_req, sock) }, 1 },
	{ F(IPC_CTL_INDEX_ENTRY, ipc_ctl_index), { S(ipc_ctl_index, sock),
	    S(ipc_ctl_index, name), S(ipc_ctl_index, addr),
	    S(ipc_ctl_index, where) }, 4 },
#undef F
#undef S
};
#define NFIXED	(sizeof(fixed) / sizeof(fixed[0]))

/* A valid payload: every byte set, every string short and terminated. */
static uint8_t *
mkfixed(const struct fixed *f)
{
	uint8_t	*p = malloc(f->size + 1);

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < f->size + 1; i++)
		p[i] = (uint8_t)(i * 7 + 1);
	for (int i = 0; i < f->nstr; i++) {
		memset(p + f->str[i].off, 'a', f->str[i].len);
		p[f->str[i].off + f->str[i].len - 1] = '\0';
	}
	return p;
}

START_TEST(test_fixed_ok)
{
	for (size_t k = 0; k < NFIXED; k++) {
		const struct fixed	*f = &fixed[k];
		uint8_t			*p = mkfixed(f);
		uint8_t			*out = calloc(1, f->size);

		ck_assert_uint_eq(ipc_fixed_size(f->type), f->size);
		ck_assert_int_eq(ipc_fixed_decode(f->type, p,
		    (uint32_t)f->size, out, f->size), 0);
		ck_assert_mem_eq(out, p, f->size);
		/* An empty string is a string too. */
		for (int i = 0; i < f->nstr; i++)
			p[f->str[i].off] = '\0';
		ck_assert_int_eq(ipc_fixed_decode(f->type, p,
		    (uint32_t)f->size, out, f->size), 0);
		free(out);
		free(p);
	}
}
END_TEST

START_TEST(test_fixed_length)
{
	for (size_t k = 0; k < NFIXED; k++) {
		const struct fixed	*f = &fixed[k];
		uint8_t			*p = mkfixed(f);
		uint8_t			*out = calloc(1, f->size + 1);

		/* One byte short, one too many, none. */
		ck_assert_int_eq(ipc_fixed_decode(f->type, p,
		    (uint32_t)f->size - 1, out, f->size), EPROTO);
		ck_assert_int_eq(ipc_fixed_decode(f->type, p,
		    (uint32_t)f->size + 1, out, f->size), EPROTO);
		ck_assert_int_eq(ipc_fixed_decode(f->type, p, 0, out,
		    f->size), EPROTO);
		/* The caller's struct must be the right one. */
		ck_assert_int_eq(ipc_fixed_decode(f->type, p,
		    (uint32_t)f->size, out, f->size + 1), EPROTO);
		free(out);
		free(p);
	}
}
END_TEST

START_TEST(test_fixed_unterminated)
{
	for (size_t k = 0; k < NFIXED; k++) {
		const struct fixed	*f = &fixed[k];
		uint8_t			*out = calloc(1, f->size);

		for (int i = 0; i < f->nstr; i++) {
			uint8_t *p = mkfixed(f);

			/* The last byte of the field is no longer NUL. */
			p[f->str[i].off + f->str[i].len - 1] = 'z';
			ck_assert_int_eq(ipc_fixed_decode(f->type, p,
			    (uint32_t)f->size, out, f->size), EPROTO);
			/* A NUL anywhere inside the field will do. */
			p[f->str[i].off + 3] = '\0';
			ck_assert_int_eq(ipc_fixed_decode(f->type, p,
			    (uint32_t)f->size, out, f->size), 0);
			free(p);
		}
		free(out);
	}
}
END_TEST

START_TEST(test_fixed_empty_and_unknown)
{
	static const uint16_t empty[] = { IPC_CTL_STATUS, IPC_CTL_SOCKETS,
	    IPC_CTL_STATS, IPC_CTL_REASONS, IPC_CTL_RELOAD };
	static const uint16_t other[] = { IPC_HELLO, IPC_RESULT, IPC_SEND,
	    IPC_MSG, IPC_CREDIT, 0x04fe, 0x0000, 0xffff };
	uint8_t	buf[16] = { 0 };

	for (size_t i = 0; i < sizeof(empty) / sizeof(empty[0]); i++) {
		ck_assert_uint_eq(ipc_fixed_size(empty[i]), 0);
		ck_assert_int_eq(ipc_fixed_decode(empty[i], buf, 0, NULL, 0),
		    0);
		ck_assert_int_eq(ipc_fixed_decode(empty[i], buf, 1, buf, 0),
		    EPROTO);
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		ck_assert_uint_eq(ipc_fixed_size(other[i]), 0);
		ck_assert_int_eq(ipc_fixed_decode(other[i], buf, 0, NULL, 0),
		    EPROTO);
		ck_assert_int_eq(ipc_fixed_decode(other[i], buf, 16, buf, 16),
		    EPROTO);
	}
}
END_TEST

START_TEST(test_event_names)
{
	ck_assert_str_eq(ipc_event_name(NBMQ_EVENT_UP), "up");
	ck_assert_str_eq(ipc_event_name(NBMQ_EVENT_DOWN), "down");
	ck_assert_str_eq(ipc_event_name(NBMQ_EVENT_ADDRESS), "address");
	ck_assert_str_eq(ipc_event_name(NBMQ_EVENT_HWM_REACHED),
	    "hwm_reached");
	ck_assert_str_eq(ipc_event_name(NBMQ_EVENT_HWM_CLEARED),
	    "hwm_cleared");
	ck_assert_str_eq(ipc_event_name(0), "unknown");
	ck_assert_str_eq(ipc_event_name(99), "unknown");
	ck_assert_str_eq(ipc_down_reason_name(NBMQ_DOWN_KEEPALIVE),
	    "keepalive");
	ck_assert_str_eq(ipc_down_reason_name(NBMQ_DOWN_DISCONNECTED),
	    "disconnected");
	ck_assert_str_eq(ipc_down_reason_name(NBMQ_DOWN_REPLACED),
	    "replaced");
	ck_assert_str_eq(ipc_down_reason_name(NBMQ_DOWN_CLOSED), "closed");
	ck_assert_str_eq(ipc_down_reason_name(0), "unknown");
	ck_assert_str_eq(ipc_down_reason_name(5), "unknown");
	/* Every drop reason has a name that fits the wire. */
	for (int i = 0; i < DROP_NREASONS; i++) {
		ck_assert_ptr_nonnull(drop_reason_names[i]);
		ck_assert_uint_lt(strlen(drop_reason_names[i]),
		    NBMQ_IPC_WORD_LEN);
	}
	ck_assert_int_le(DROP_NREASONS, NBMQ_IPC_NDROPS);
}
END_TEST

static Suite *
ipc_suite(void)
{
	Suite	*s = suite_create("ipc");
	TCase	*tc;

	tc = tcase_create("hdr");
	tcase_add_test(tc, test_hdr_ok);
	tcase_add_test(tc, test_hdr_oversize);
	tcase_add_test(tc, test_hdr_bad_type);
	suite_add_tcase(s, tc);

	tc = tcase_create("msg");
	tcase_add_test(tc, test_msg_ok);
	tcase_add_test(tc, test_msg_ok_edges);
	tcase_add_test(tc, test_msg_nparts);
	tcase_add_test(tc, test_msg_truncated);
	tcase_add_test(tc, test_msg_sizes_mismatch);
	suite_add_tcase(s, tc);

	tc = tcase_create("fixed");
	tcase_add_test(tc, test_fixed_ok);
	tcase_add_test(tc, test_fixed_length);
	tcase_add_test(tc, test_fixed_unterminated);
	tcase_add_test(tc, test_fixed_empty_and_unknown);
	tcase_add_test(tc, test_event_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init(LOG_ERR, 1);
	return run_suite(ipc_suite());
}
