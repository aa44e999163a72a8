/*
 * test_ipc.c: unit tests of client-lib/ipc-codec.c, the IPC validation
 * shared by nbmqd and libnbmq (nbmq-protocol.h).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"
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
		IPC_MSG, IPC_CREDIT, IPC_DROPPED, IPC_SOCK_GONE,
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
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init(LOG_ERR, 1);
	sr = srunner_create(ipc_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
