/* SPDX-License-Identifier: ISC */
/*
 * unit.h: what every unit test links (tests/unit.c, as chrony links
 * test.o): the Check runner, allocations that fail on demand, and an
 * assertion cheap enough for loops.  The core's tests also link the fake
 * network (fakenet.h).
 */
#ifndef UNIT_H
#define UNIT_H

#include <check.h>

/*
 * ck_assert for hot paths: Check's asserts cost a write(2) each even when
 * they pass, which would dominate a 10,000-message exchange.
 */
#define REQUIRE(e) do {						\
	if (!(e))						\
		ck_abort_msg("assertion failed: %s", #e);	\
} while (0)

/*
 * Allocation failures: the Makefile links the unit tests with
 * -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc, so that every
 * allocation, the core's included, goes through unit.c; alloc_fail_in = n
 * makes the n-th allocation from now fail, once.  The daemon's free
 * lists (msg.c) hand out blocks without malloc: a test that makes one
 * fail sets pool_off first.
 */
extern int	alloc_fail_in;

void	*__real_malloc(size_t);
void	*__real_calloc(size_t, size_t);
void	*__real_realloc(void *, size_t);

/* Run every test of s; EXIT_SUCCESS when none failed. */
int	 run_suite(Suite *);

#endif
