/* SPDX-License-Identifier: ISC */
/*
 * test_deliver.c: unit tests of daemon/deliver.c, delivery from a socket
 * to its attached applications: the order of messages, drop marks and
 * events, the dish's fan-out under recv_hwm, the HWM events, messages
 * held until confirmed, and the credit window.  The connection is a fake
 * (struct client is the transport's; here it records what was sent).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "deliver.h"

#define SENT_MAX	64

/* What deliver() wrote to the application, in order. */
struct client {
	int		 nsent;
	uint16_t	 type[SENT_MAX];
	uint64_t	 value[SENT_MAX];	/* event type, drop count, size */
	int		 byref[SENT_MAX];
	int		 full;			/* output past its high mark */
};

static int
fake_full(struct client *c)
{
	return c->full;
}

static void
fake_record(struct client *c, uint16_t type, uint64_t value, int byref)
{
	ck_assert_int_lt(c->nsent, SENT_MAX);
	c->type[c->nsent] = type;
	c->value[c->nsent] = value;
	c->byref[c->nsent++] = byref;
}

static void
fake_send(struct client *c, uint16_t type, uint32_t handle, uint32_t reqid,
    const void *p, size_t len, const void *p2, size_t len2)
{
	uint64_t	v = 0;

	ck_assert_uint_eq(handle, 7);
	/* Copied out: an event comes from inside a struct msg, unaligned. */
	if (type == IPC_EVENT) {
		struct ipc_event	ev;

		ck_assert_uint_eq(len, sizeof(ev));
		memcpy(&ev, p, sizeof(ev));
		v = ev.type;
	} else if (type == IPC_DROPPED) {
		struct ipc_dropped	dr;

		memcpy(&dr, p, sizeof(dr));
		v = dr.count;
	} else if (type == IPC_CREDIT) {
		struct ipc_credit	cr;

		memcpy(&cr, p, sizeof(cr));
		v = cr.limit;
	}
	if (type == IPC_MSG)
		v = len2;
	fake_record(c, type, v, 0);
}

static void
fake_send_ref(struct client *c, uint32_t handle, const struct ipc_msg *im,
    struct msg *m, size_t len)
{
	fake_record(c, IPC_MSG, len, 1);
}

static const struct deliver_out fake_out = {
	.full = fake_full,
	.send = fake_send,
	.send_ref = fake_send_ref,
};

static void
ops_flush(void *arg, struct sock *s)
{
}

static uint64_t
ops_random64(void *arg)
{
	return 42;
}

static const struct sock_ops ops = {
	.flush = ops_flush,
	.recv_ready = ops_flush,
	.random64 = ops_random64,
};

static struct dsock *
dsock_fake(int type, uint64_t recv_hwm)
{
	struct dsock	*d = calloc(1, sizeof(*d));
	struct sockopts	 o;

	ck_assert_ptr_nonnull(d);
	opts_defaults(&o);
	o.recv_hwm = recv_hwm;
	ck_assert_int_eq(sock_init(&d->core, type, &o, &ops, d), 0);
	TAILQ_INIT(&d->subs);
	d->handle = 7;
	d->fd = -1;
	return d;
}

static struct sub *
sub_fake(struct dsock *d, uint32_t version)
{
	struct sub	*u = calloc(1, sizeof(*u));

	ck_assert_ptr_nonnull(u);
	u->c = calloc(1, sizeof(*u->c));
	ck_assert_ptr_nonnull(u->c);
	u->d = d;
	u->version = version;
	u->pid = 1;
	TAILQ_INIT(&u->q);
	TAILQ_INSERT_TAIL(&d->subs, u, entry);
	d->nsubs++;
	return u;
}

static void
sub_free(struct sub *u)
{
	uint64_t	held, back, lost;

	deliver_release(u, 0, &held, &back, &lost);
	TAILQ_REMOVE(&u->d->subs, u, entry);
	u->d->nsubs--;
	free(u->c);
	free(u);
}

static void
dsock_fake_free(struct dsock *d)
{
	struct sub	*u;

	while ((u = TAILQ_FIRST(&d->subs)) != NULL)
		sub_free(u);
	sock_destroy(&d->core);
	free(d);
}

/* A message of size bytes completes: the tail of the receive queue. */
static void
rq_add(struct dsock *d, uint32_t size)
{
	struct msg	*m = msg_new(1, size);

	ck_assert_ptr_nonnull(m);
	m->partsz[0] = size;
	memset(m->data, 'x', size);
	TAILQ_INSERT_TAIL(&d->core.rq, m, entry);
	d->core.rq_len++;
	d->core.rx_bytes += size;
}

static void
expect(const struct client *c, int i, uint16_t type, uint64_t value)
{
	ck_assert_int_gt(c->nsent, i);
	ck_assert_uint_eq(c->type[i], type);
	ck_assert_uint_eq(c->value[i], value);
}

/* An event goes after the messages that waited when it happened. */
START_TEST(test_event_order)
{
	struct dsock	*d = dsock_fake(NBMQ_DEALER, 100);
	struct sub	*u = sub_fake(d, 6);
	struct peer	 p;

	memset(&p, 0, sizeof(p));
	p.session = 99;
	deliver_subscribe(u, 1);
	rq_add(d, 10);
	rq_add(d, 11);
	deliver_peer_event(d, &p, PEV_UP);
	rq_add(d, 12);
	deliver_peer_event(d, &p, PEV_DOWN_KEEPALIVE);
	deliver(u, &fake_out);
	expect(u->c, 0, IPC_MSG, 4 + 10);
	expect(u->c, 1, IPC_MSG, 4 + 11);
	expect(u->c, 2, IPC_EVENT, NBMQ_EVENT_UP);
	expect(u->c, 3, IPC_MSG, 4 + 12);
	expect(u->c, 4, IPC_EVENT, NBMQ_EVENT_DOWN);
	expect(u->c, 5, IPC_CREDIT, 0);
	ck_assert_int_eq(u->c->nsent, 6);
	ck_assert_uint_eq(u->nevents, 0);
	dsock_fake_free(d);
}
END_TEST

/* Not subscribed: no event is queued; unsubscribing drops those queued. */
START_TEST(test_events_off)
{
	struct dsock	*d = dsock_fake(NBMQ_DEALER, 100);
	struct sub	*u = sub_fake(d, 6);
	struct peer	 p;

	memset(&p, 0, sizeof(p));
	deliver_peer_event(d, &p, PEV_UP);
	ck_assert_uint_eq(u->nevents, 0);
	deliver_subscribe(u, 1);
	deliver_peer_event(d, &p, PEV_UP);
	deliver_peer_event(d, &p, PEV_ADDRESS);
	ck_assert_uint_eq(u->nevents, 2);
	deliver_subscribe(u, 0);
	ck_assert_uint_eq(u->nevents, 0);
	deliver(u, &fake_out);
	ck_assert_int_eq(u->c->nsent, 1);
	expect(u->c, 0, IPC_CREDIT, 0);
	dsock_fake_free(d);
}
END_TEST

/* An application that reads no events holds DELIVER_EVENTS_MAX at most. */
START_TEST(test_events_max)
{
	struct dsock	*d = dsock_fake(NBMQ_DEALER, 100);
	struct sub	*u = sub_fake(d, 6);
	struct peer	 p;

	memset(&p, 0, sizeof(p));
	deliver_subscribe(u, 1);
	for (int i = 0; i < DELIVER_EVENTS_MAX + 5; i++)
		deliver_peer_event(d, &p, PEV_UP);
	ck_assert_uint_eq(u->nevents, DELIVER_EVENTS_MAX);
	ck_assert_uint_eq(u->events_lost, 5);
	dsock_fake_free(d);
}
END_TEST

/* The send HWM events: reached when the window closed, then cleared. */
START_TEST(test_hwm_events)
{
	struct dsock	*d = dsock_fake(NBMQ_DEALER, 100);
	struct sub	*u = sub_fake(d, 6);

	deliver_subscribe(u, 1);
	d->core.nup = 1;		/* a peer up, no room: full */
	deliver(u, &fake_out);
	expect(u->c, 0, IPC_EVENT, NBMQ_EVENT_HWM_REACHED);
	deliver(u, &fake_out);		/* said once */
	ck_assert_int_eq(u->c->nsent, 2);
	d->core.nup = 0;
	deliver(u, &fake_out);
	expect(u->c, 2, IPC_EVENT, NBMQ_EVENT_HWM_CLEARED);
	dsock_fake_free(d);
}
END_TEST

/*
 * Dish: each subscriber its own queue and recv_hwm; one that is full
 * loses (counted, one drop mark) without holding the other back.
 */
START_TEST(test_dish_fanout)
{
	struct dsock	*d = dsock_fake(NBMQ_DISH, 2);
	struct sub	*a = sub_fake(d, 6), *b = sub_fake(d, 6);

	for (int i = 0; i < 3; i++)
		rq_add(d, 20 + i);
	deliver_fanout(d);
	ck_assert_uint_eq(d->core.rq_len, 0);
	ck_assert_uint_eq(a->qlen, 2);
	ck_assert_uint_eq(a->drops, 1);
	ck_assert_uint_eq(d->core.st.drops[DROP_RECV_HWM], 2);
	deliver(a, &fake_out);
	expect(a->c, 0, IPC_MSG, 4 + 20);
	expect(a->c, 1, IPC_MSG, 4 + 21);
	expect(a->c, 2, IPC_DROPPED, 1);
	/* b read nothing yet: its queue is its own. */
	ck_assert_uint_eq(b->qlen, 2);
	ck_assert_int_eq(b->c->nsent, 0);
	rq_add(d, 30);
	deliver_fanout(d);
	ck_assert_uint_eq(a->qlen, 1);
	ck_assert_uint_eq(b->drops, 2);
	dsock_fake_free(d);
}
END_TEST

/* A full output stops delivery; the messages wait in the socket. */
START_TEST(test_full_output)
{
	struct dsock	*d = dsock_fake(NBMQ_DEALER, 100);
	struct sub	*u = sub_fake(d, 6);

	rq_add(d, 10);
	u->c->full = 1;
	deliver(u, &fake_out);
	ck_assert_uint_eq(d->core.rq_len, 1);
	u->c->full = 0;
	deliver(u, &fake_out);
	ck_assert_uint_eq(d->core.rq_len, 0);
	expect(u->c, 1, IPC_MSG, 4 + 10);
	dsock_fake_free(d);
}
END_TEST

/*
 * Held until confirmed: past recv_hwm and 1 MiB written and not
 * confirmed, delivery waits; a confirm lets the next one go.  Large
 * messages go by reference.  Version 4 holds nothing.
 */
START_TEST(test_held)
{
	struct dsock	*d = dsock_fake(NBMQ_DEALER, 2);
	struct sub	*u = sub_fake(d, 6), *v;
	uint32_t	 big = 600 << 10;

	for (int i = 0; i < 3; i++)
		rq_add(d, big);
	deliver(u, &fake_out);
	ck_assert_uint_eq(u->held.len, 2);
	ck_assert_uint_eq(d->core.rq_held, 2);
	ck_assert_uint_eq(d->core.rq_len, 1);
	ck_assert_int_eq(u->c->byref[0], 1);
	deliver_confirmed(u, 1);
	ck_assert_uint_eq(u->held.len, 1);
	ck_assert_uint_eq(u->held_bytes, big + DELIVER_HELD_COST);
	deliver(u, &fake_out);
	ck_assert_uint_eq(d->core.rq_len, 0);
	ck_assert_uint_eq(u->held.len, 2);
	sub_free(u);
	ck_assert_uint_eq(d->core.st.drops[DROP_APP_GONE], 2);

	v = sub_fake(d, 4);
	rq_add(d, big);
	deliver(v, &fake_out);
	ck_assert_uint_eq(v->held.len, 0);
	ck_assert_uint_eq(d->core.rq_len, 0);
	dsock_fake_free(d);
}
END_TEST

/* A configured socket takes back what its application never confirmed. */
START_TEST(test_release_gives_back)
{
	struct dsock	*d = dsock_fake(NBMQ_DEALER, 100);
	struct sub	*u = sub_fake(d, 6), *v;
	uint64_t	 held, back, lost;

	d->configured = 1;
	rq_add(d, 10);
	rq_add(d, 11);
	deliver(u, &fake_out);
	ck_assert_uint_eq(u->held.len, 2);
	deliver_release(u, 1, &held, &back, &lost);
	ck_assert_uint_eq(held, 2);
	ck_assert_uint_eq(back, 2);
	ck_assert_uint_eq(lost, 0);
	TAILQ_REMOVE(&d->subs, u, entry);
	free(u->c);
	free(u);
	v = sub_fake(d, 6);
	deliver(v, &fake_out);
	expect(v->c, 0, IPC_MSG, 4 + 10);	/* in their order */
	expect(v->c, 1, IPC_MSG, 4 + 11);
	ck_assert_uint_eq(d->core.st.drops[DROP_APP_GONE], 0);
	dsock_fake_free(d);
}
END_TEST

/* The credit window: announced when it changed enough to matter. */
START_TEST(test_credit_due)
{
	struct sub	u;

	memset(&u, 0, sizeof(u));
	ck_assert_int_eq(deliver_credit_due(&u, 100, 1), 1);
	ck_assert_int_eq(deliver_credit_due(&u, 100, 1), 0);	/* same */
	ck_assert_int_eq(deliver_credit_due(&u, 90, 1), 0);	/* lower */
	ck_assert_uint_eq(u.credit_limit, 100);
	u.accepted = 40;	/* 60 left of 100: more than half of 160 */
	ck_assert_int_eq(deliver_credit_due(&u, 140, 1), 0);
	u.accepted = 75;	/* 25 left: less than half of 65 */
	ck_assert_int_eq(deliver_credit_due(&u, 140, 1), 1);
	ck_assert_uint_eq(u.credit_limit, 140);
	ck_assert_int_eq(deliver_credit_due(&u, 80, 2), 1);	/* peers */
	ck_assert_uint_eq(u.credit_limit, 80);
	ck_assert_uint_eq(u.credit_max, 140);	/* the highest stays */
}
END_TEST

static Suite *
deliver_suite(void)
{
	Suite	*s = suite_create("deliver");
	TCase	*tc = tcase_create("deliver");

	tcase_add_test(tc, test_event_order);
	tcase_add_test(tc, test_events_off);
	tcase_add_test(tc, test_events_max);
	tcase_add_test(tc, test_hwm_events);
	tcase_add_test(tc, test_dish_fanout);
	tcase_add_test(tc, test_full_output);
	tcase_add_test(tc, test_held);
	tcase_add_test(tc, test_release_gives_back);
	tcase_add_test(tc, test_credit_due);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init(LOG_ERR, 1);
	sr = srunner_create(deliver_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
