/* SPDX-License-Identifier: ISC */
/*
 * test_hmap.c: unit tests of the core's small containers: hmap.c (the
 * intrusive hash of sessions and addresses), outbox.c (datagrams waiting
 * for sendmmsg) and msg.c.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"
#include "unit.h"

struct item {
	struct hnode	 node;
	int		 val;
};

static struct item *
item_of(struct hnode *n)
{
	return n ? (struct item *)((char *)n - offsetof(struct item, node)) :
	    NULL;
}

START_TEST(test_hmap_empty)
{
	struct hmap	h;
	struct item	it;

	hmap_init(&h);
	ck_assert_ptr_null(hmap_find(&h, 0));
	ck_assert_ptr_null(hmap_find(&h, 42));
	hmap_remove(&h, &it.node);	/* nothing there: no harm */
	ck_assert_uint_eq(h.n, 0);
	hmap_free(&h);
	hmap_free(&h);
}
END_TEST

START_TEST(test_hmap_insert_find_remove)
{
	const int	 n = 1000;
	struct item	*items = calloc(n, sizeof(*items));
	struct hmap	 h;

	hmap_init(&h);
	for (int i = 0; i < n; i++) {
		items[i].val = i;
		/* Keys that differ in high bits only, too. */
		ck_assert_int_eq(hmap_insert(&h, &items[i].node,
		    (uint64_t)i << 40 | 7), 0);
		ck_assert_uint_eq(h.n, (size_t)i + 1);
		ck_assert_uint_ge(h.nb, h.n);
		ck_assert_uint_eq(h.nb & (h.nb - 1), 0);	/* power of 2 */
	}
	for (int i = 0; i < n; i++) {
		struct item *it = item_of(hmap_find(&h, (uint64_t)i << 40 | 7));

		ck_assert_ptr_eq(it, &items[i]);
		ck_assert_ptr_null(hmap_next(&it->node));
	}
	ck_assert_ptr_null(hmap_find(&h, 8));
	/* Remove every other one. */
	for (int i = 0; i < n; i += 2)
		hmap_remove(&h, &items[i].node);
	ck_assert_uint_eq(h.n, n / 2);
	for (int i = 0; i < n; i++)
		ck_assert_ptr_eq(item_of(hmap_find(&h, (uint64_t)i << 40 | 7)),
		    i % 2 ? &items[i] : NULL);
	/* Removing a node that is not in the map changes nothing. */
	hmap_remove(&h, &items[0].node);
	ck_assert_uint_eq(h.n, n / 2);
	hmap_free(&h);
	free(items);
}
END_TEST

START_TEST(test_hmap_same_key)
{
	/* Addresses hash to keys that may collide: a chain per key. */
	struct item	items[5];
	struct hmap	h;
	struct hnode	*n;
	int		seen = 0, count = 0;

	hmap_init(&h);
	for (int i = 0; i < 5; i++) {
		items[i].val = i;
		ck_assert_int_eq(hmap_insert(&h, &items[i].node,
		    i < 3 ? 99 : 100 + i), 0);
	}
	for (n = hmap_find(&h, 99); n != NULL; n = hmap_next(n)) {
		ck_assert_uint_eq(n->key, 99);
		seen |= 1 << item_of(n)->val;
		count++;
	}
	ck_assert_int_eq(count, 3);
	ck_assert_int_eq(seen, 7);
	hmap_remove(&h, &items[1].node);
	count = 0;
	for (n = hmap_find(&h, 99); n != NULL; n = hmap_next(n)) {
		ck_assert_ptr_ne(item_of(n), &items[1]);
		count++;
	}
	ck_assert_int_eq(count, 2);
	ck_assert_ptr_eq(item_of(hmap_find(&h, 103)), &items[3]);
	hmap_free(&h);
}
END_TEST

START_TEST(test_outbox)
{
	struct outbox	 ob;
	struct nbaddr	 to[OUTBOX_SLOTS + 1];
	uint8_t		*b;

	ck_assert_int_eq(outbox_init(&ob, 100), 0);
	ck_assert_int_eq(ob.n, 0);
	for (int i = 0; i <= OUTBOX_SLOTS; i++) {
		memset(&to[i], 0, sizeof(to[i]));
		to[i].u.sin.sin_family = AF_INET;
		to[i].u.sin.sin_port = htons(1000 + i);
		to[i].len = sizeof(struct sockaddr_in);
	}
	for (int i = 0; i < OUTBOX_SLOTS; i++) {
		b = outbox_slot(&ob, &to[i]);
		ck_assert_ptr_nonnull(b);
		memset(b, i, 100);
		outbox_commit(&ob, (uint32_t)i + 1);
	}
	ck_assert_int_eq(ob.n, OUTBOX_SLOTS);
	ck_assert_ptr_null(outbox_slot(&ob, &to[OUTBOX_SLOTS]));
	/* The kernel took 10: the rest moves up, in order. */
	outbox_consume(&ob, 10);
	ck_assert_int_eq(ob.n, OUTBOX_SLOTS - 10);
	for (int i = 0; i < ob.n; i++) {
		ck_assert_uint_eq(ob.len[i], (uint32_t)i + 11);
		ck_assert(addr_eq(&ob.to[i], &to[i + 10]));
		ck_assert_uint_eq(ob.buf[(size_t)i * 100], i + 10);
		ck_assert_uint_eq(ob.buf[(size_t)i * 100 + 99], i + 10);
	}
	outbox_consume(&ob, 0);
	outbox_consume(&ob, -1);
	ck_assert_int_eq(ob.n, OUTBOX_SLOTS - 10);
	b = outbox_slot(&ob, &to[OUTBOX_SLOTS]);
	ck_assert_ptr_eq(b, ob.buf + (size_t)(OUTBOX_SLOTS - 10) * 100);
	outbox_commit(&ob, 5);
	ck_assert(addr_eq(&ob.to[ob.n - 1], &to[OUTBOX_SLOTS]));
	outbox_consume(&ob, 1000);
	ck_assert_int_eq(ob.n, 0);
	outbox_free(&ob);
	ck_assert_ptr_null(ob.buf);
}
END_TEST

START_TEST(test_msg)
{
	struct msg	*m;
	struct msgq	 q;

	m = msg_new(3, 10);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->nparts, 3);
	ck_assert_uint_eq(m->size, 10);
	ck_assert_uint_eq(m->id, 0);
	ck_assert_uint_eq(m->peer, 0);
	ck_assert_ptr_eq(m->partsz, (uint32_t *)(m + 1));
	ck_assert_ptr_eq(m->data, (uint8_t *)(m->partsz + 3));
	memset(m->data, 1, 10);			/* all of it is writable */
	TAILQ_INIT(&q);
	TAILQ_INSERT_TAIL(&q, m, entry);
	m = msg_new_marker(7);
	ck_assert_uint_eq(m->nparts, 0);
	ck_assert_uint_eq(m->size, 0);
	ck_assert_uint_eq(m->dropped, 7);
	TAILQ_INSERT_TAIL(&q, m, entry);
	m = msg_new(1, 0);		/* TAILQ macros evaluate it again */
	TAILQ_INSERT_TAIL(&q, m, entry);
	msgq_free(&q);
	ck_assert(TAILQ_EMPTY(&q));
	msgq_free(&q);
}
END_TEST

static Suite *
hmap_suite(void)
{
	Suite	*s = suite_create("containers");
	TCase	*tc;

	tc = tcase_create("hmap");
	tcase_add_test(tc, test_hmap_empty);
	tcase_add_test(tc, test_hmap_insert_find_remove);
	tcase_add_test(tc, test_hmap_same_key);
	suite_add_tcase(s, tc);

	tc = tcase_create("outbox");
	tcase_add_test(tc, test_outbox);
	tcase_add_test(tc, test_msg);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init(LOG_ERR, 1);
	return run_suite(hmap_suite());
}
