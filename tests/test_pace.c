/* SPDX-License-Identifier: ISC */
/*
 * test_pace.c: the pacing arithmetic of pace.c (PROTOCOL.md 4.4), with
 * a fake clock: unpaced until the first Slow, then 3/4 of the measured
 * rate or 7/8 of what the receiver took,
 * growth while no Slow comes, one cut per episode, tokens and bursts, the
 * way back to unpaced, and the receiver's report rate limit.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"
#include "unit.h"
#include "pace.h"

#define T0	(1000 * NSEC)

/* Send `rate` bytes/s in 1 KiB frames for `dur`, as fast as allowed. */
static uint64_t
run(struct pace *pc, nbmq_time *now, uint64_t rate, nbmq_time dur)
{
	nbmq_time	end = *now + dur, step = 1024 * NSEC / rate;
	uint64_t	sent = 0;

	while (*now < end) {
		nbmq_time w = pace_wait(pc, *now);

		if (w == 0) {
			pace_sent(pc, 1024, *now);
			sent += 1024;
			*now += step;
		} else {
			ck_assert_uint_gt(w, *now);
			*now = w;
		}
	}
	return sent;
}

START_TEST(test_unpaced_until_slow)
{
	struct pace	pc;
	nbmq_time	now = T0;

	memset(&pc, 0, sizeof(pc));
	/* 100 MB/s offered: all of it goes. */
	ck_assert_uint_eq(run(&pc, &now, 100000000, 100 * MSEC),
	    100 * MSEC * 100000000 / NSEC / 1024 * 1024 + 1024);
	ck_assert_uint_eq(pc.rate, 0);
	ck_assert_uint_eq(pace_wait(&pc, now), 0);
}
END_TEST

START_TEST(test_slow_cuts_measured_rate)
{
	struct pace	pc;
	nbmq_time	now = T0;
	uint64_t	sent;

	memset(&pc, 0, sizeof(pc));
	run(&pc, &now, 100000000, 50 * MSEC);
	pace_slow(&pc, 0, 1, now);
	/* 3/4 of 100 MB/s, give or take the measurement window. */
	ck_assert_uint_ge(pc.rate, 70000000);
	ck_assert_uint_le(pc.rate, 80000000);
	ck_assert_uint_eq(pc.cuts, 1);
	/* A second Slow of the same episode does nothing... */
	pace_slow(&pc, 0, 1, now + 5 * MSEC);
	ck_assert_uint_eq(pc.cuts, 1);
	/* ...and over the next 10 ms about 3/4 goes (plus growth). */
	sent = run(&pc, &now, 100000000, 10 * MSEC);
	ck_assert_uint_ge(sent, 650000);
	ck_assert_uint_le(sent, 900000);
	/* A later one cuts again; the receiver's word (60 MB/s) wins. */
	now += 30 * MSEC;
	pace_slow(&pc, 60000000, 1, now);
	ck_assert_uint_eq(pc.cuts, 2);
	ck_assert_uint_eq(pc.rate, 60000000 / 8 * 7);
	/* A mark (0 dropped): 7/8 of the rate... */
	now += 30 * MSEC;
	sent = pc.rate;
	pace_slow(&pc, 0, 0, now);
	ck_assert_uint_eq(pc.cuts, 3);
	ck_assert_uint_eq(pc.rate, sent / 8 * 7);
	/* ...and never below half of it at one cut, whatever was taken. */
	now += 30 * MSEC;
	sent = pc.rate;
	pace_slow(&pc, 1000, 1, now);
	ck_assert_uint_eq(pc.cuts, 4);
	ck_assert_uint_eq(pc.rate, sent / 2);
}
END_TEST

/*
 * A Slow in the first moments of a stream, before a measurement window
 * closed: from what was sent so far, or what the receiver took; never
 * the 1 MiB/s floor for want of a figure (that stalled a 1 MiB stream
 * at 40 MB/s in bench).  Nothing sent and nothing taken: not paced.
 */
START_TEST(test_slow_early)
{
	struct pace	pc;
	nbmq_time	now = T0;

	memset(&pc, 0, sizeof(pc));
	pace_slow(&pc, 0, 0, now);
	ck_assert_uint_eq(pc.rate, 0);
	ck_assert_uint_eq(pc.cuts, 0);
	pace_sent(&pc, 1000000, now);			/* 1 MB in 1 ms */
	pace_slow(&pc, 0, 0, now + 1 * MSEC);
	ck_assert_uint_ge(pc.rate, 800000000);
	ck_assert_uint_le(pc.rate, 1000000000);
	memset(&pc, 0, sizeof(pc));
	pace_slow(&pc, 80000000, 0, now);		/* taken 80 MB/s */
	ck_assert_uint_eq(pc.rate, 70000000);
}
END_TEST

START_TEST(test_grows_without_slow)
{
	struct pace	pc;
	nbmq_time	now = T0;
	uint64_t	r0;

	memset(&pc, 0, sizeof(pc));
	run(&pc, &now, 10000000, 50 * MSEC);
	pace_slow(&pc, 0, 1, now);
	r0 = pc.rate;
	run(&pc, &now, 100000000, 200 * MSEC);
	/* 20 steps of at least 1/16: more than doubled. */
	ck_assert_uint_gt(pc.rate, 2 * r0);
	ck_assert_uint_ne(pc.rate, 0);
}
END_TEST

START_TEST(test_floor_and_burst)
{
	struct pace	pc;
	nbmq_time	now = T0;
	int		n = 0;

	memset(&pc, 0, sizeof(pc));
	/* Never below the floor, 1 MiB/s. */
	pace_slow(&pc, 1000, 1, now);
	ck_assert_uint_eq(pc.rate, 1 << 20);
	/* After a long pause, at most a burst (64 KiB) leaves at once. */
	now += 5 * MSEC;
	while (pace_wait(&pc, now) == 0 && n < 1000) {
		pace_sent(&pc, 1024, now);
		n++;
	}
	ck_assert_int_ge(n, 1);
	ck_assert_int_le(n, 65);
	/*
	 * And at least that: after a pause that fills the bucket (100 ms at
	 * 1 MiB/s is 100 KiB), a whole burst leaves at once, even at the
	 * floor where 2 ms of the rate would be only 2 KiB.
	 */
	now += 100 * MSEC;
	n = 0;
	while (pace_wait(&pc, now) == 0 && n < 1000) {
		pace_sent(&pc, 1024, now);
		n++;
	}
	ck_assert_int_ge(n, 64);
	ck_assert_int_le(n, 65);
}
END_TEST

START_TEST(test_back_to_unpaced)
{
	struct pace	pc;
	nbmq_time	now = T0;

	memset(&pc, 0, sizeof(pc));
	pace_taken(&pc, 5000, now);		/* the other direction */
	run(&pc, &now, 50000000, 50 * MSEC);
	pace_slow(&pc, 0, 1, now);
	ck_assert_uint_ne(pc.rate, 0);
	/* The demand drops to 1 MB/s for 2 s: pacing is dropped. */
	run(&pc, &now, 1000000, 2 * NSEC);
	ck_assert_uint_eq(pc.rate, 0);
	ck_assert_uint_eq(pc.cuts, 1);		/* kept for nbmqctl */
	/* What this side took from the peer is not the sending side's. */
	ck_assert_uint_eq(pc.rx_start, T0);
	ck_assert_uint_eq(pc.rx_bytes, 5000);
}
END_TEST

/* A rate the sender does not use does not grow (RFC 7661's point). */
START_TEST(test_no_growth_unused)
{
	struct pace	pc;
	nbmq_time	now = T0;
	uint64_t	r0;

	memset(&pc, 0, sizeof(pc));
	run(&pc, &now, 80000000, 50 * MSEC);
	pace_slow(&pc, 0, 1, now);
	r0 = pc.rate;				/* about 60 MB/s */
	/* 300 ms at 20 MB/s, a third of it: no growth at all. */
	run(&pc, &now, 20000000, 300 * MSEC);
	ck_assert_uint_eq(pc.rate, r0);
	/* Using it again: it grows. */
	run(&pc, &now, 200000000, 100 * MSEC);
	ck_assert_uint_gt(pc.rate, r0);
}
END_TEST

/* The receiver's side: what it took from the peer, per window. */
START_TEST(test_taken_rate)
{
	struct pace	pc;
	nbmq_time	now = T0;

	memset(&pc, 0, sizeof(pc));
	ck_assert_uint_eq(pace_taken_rate(&pc, now), 0);
	/* 1000 B every 100 us: 10 MB/s. */
	for (int i = 0; i < 500; i++, now += 100000)
		pace_taken(&pc, 1000, now);
	ck_assert_uint_ge(pace_taken_rate(&pc, now), 9500000);
	ck_assert_uint_le(pace_taken_rate(&pc, now), 10500000);
}
END_TEST

START_TEST(test_report_rate_limited)
{
	struct pace	pc;
	nbmq_time	now = T0;
	uint64_t	d = 99;

	memset(&pc, 0, sizeof(pc));
	ck_assert_int_eq(pace_report_due(&pc, now, &d), 0);
	ck_assert_uint_eq(d, 99);
	pace_dropped(&pc, 3);
	ck_assert_int_eq(pace_report_due(&pc, now, &d), 1);
	ck_assert_uint_eq(d, 3);
	ck_assert_uint_eq(pc.drops, 0);
	pace_dropped(&pc, 2);
	ck_assert_int_eq(pace_report_due(&pc, now + 1 * MSEC, &d), 0);
	ck_assert_int_eq(pace_report_due(&pc, now + 5 * MSEC - 1, &d), 0);
	ck_assert_int_eq(pace_report_due(&pc, now + 5 * MSEC, &d), 1);
	ck_assert_uint_eq(d, 2);
	ck_assert_int_eq(pace_report_due(&pc, now + 50 * MSEC, &d), 0);
}
END_TEST

/* A mark (a queue filling, nothing lost yet) is reported as 0 drops. */
START_TEST(test_report_marks)
{
	struct pace	pc;
	nbmq_time	now = T0;
	uint64_t	d = 99;

	memset(&pc, 0, sizeof(pc));
	pace_dropped(&pc, 0);
	ck_assert_uint_eq(pc.marks, 1);
	ck_assert_int_eq(pace_report_due(&pc, now, &d), 1);
	ck_assert_uint_eq(d, 0);
	ck_assert_uint_eq(pc.marks, 0);
	/* Marks and drops within PACE_REPORT: one Slow, with the drops. */
	pace_dropped(&pc, 0);
	ck_assert_int_eq(pace_report_due(&pc, now + 2 * MSEC, &d), 0);
	pace_dropped(&pc, 4);
	pace_dropped(&pc, 0);
	ck_assert_int_eq(pace_report_due(&pc, now + 5 * MSEC, &d), 1);
	ck_assert_uint_eq(d, 4);
	ck_assert_int_eq(pace_report_due(&pc, now + 20 * MSEC, &d), 0);
}
END_TEST

static Suite *
pace_suite(void)
{
	Suite	*s = suite_create("pace");
	TCase	*tc = tcase_create("pace");

	tcase_add_test(tc, test_unpaced_until_slow);
	tcase_add_test(tc, test_slow_cuts_measured_rate);
	tcase_add_test(tc, test_taken_rate);
	tcase_add_test(tc, test_grows_without_slow);
	tcase_add_test(tc, test_floor_and_burst);
	tcase_add_test(tc, test_back_to_unpaced);
	tcase_add_test(tc, test_report_rate_limited);
	tcase_add_test(tc, test_report_marks);
	tcase_add_test(tc, test_slow_early);
	tcase_add_test(tc, test_no_growth_unused);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(pace_suite());
}
