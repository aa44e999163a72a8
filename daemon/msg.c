/* SPDX-License-Identifier: ISC */
/* msg.c: multipart messages, one allocation each; free lists. */
#include <malloc.h>
#include <stdlib.h>

#include "nbmqd.h"

/*
 * Free lists of fixed-size blocks.  Small messages and their safe_dealer
 * records come and go by the million a second, in bursts of a batch;
 * glibc's per-thread cache keeps 7 blocks of a size, so most of a burst
 * went through the arena's bins (the allocator was 13-16% of a daemon's
 * CPU in perf, safe_dealer 64 B).  A list keeps at most `max` blocks;
 * what comes back beyond that is freed.  Under AddressSanitizer, and
 * under valgrind (where its header was there to build with), every block
 * goes back to malloc, so a use after free is still found.
 */
#if defined(__SANITIZE_ADDRESS__)
#define POOL_OFF	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_OFF	1
#endif
#endif
#if !defined(POOL_OFF) && defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define POOL_VALGRIND	1
#endif
#endif

#ifdef POOL_OFF
int	pool_off = 1;
#else
int	pool_off;
#endif

void *
pool_get(struct pool *pl)
{
	void	*b;

	if ((b = pl->free) == NULL || pool_off)
		return malloc(pl->size);
	pl->free = *(void **)b;
	pl->n--;
	return b;
}

void
pool_put(struct pool *pl, void *b)
{
#ifndef POOL_OFF
#ifdef POOL_VALGRIND
	static int	checked;

	if (!checked) {
		checked = 1;
		if (RUNNING_ON_VALGRIND)
			pool_off = 1;
	}
#endif
	if (b != NULL && pl->n < pl->max && !pool_off) {
		*(void **)b = pl->free;
		pl->free = b;
		pl->n++;
		return;
	}
#endif
	free(b);
}

/* Messages of up to MSG_SMALL bytes, header included (64 B data: 116). */
#define MSG_SMALL	256
static struct pool	msg_pool = { .size = MSG_SMALL, .max = 2048 };

struct msg *
msg_new(uint16_t nparts, uint32_t size)
{
	struct msg	*m;
	size_t		 len;

	len = sizeof(*m) + (size_t)nparts * sizeof(uint32_t) + size;
	m = len <= MSG_SMALL ? pool_get(&msg_pool) : malloc(len);
	if (m == NULL)
		return NULL;
	m->id = 0;
	m->peer = 0;
	m->size = size;
	m->nparts = nparts;
	m->flags = 0;
	m->refs = 1;
	m->unacked = 0;
	m->given_up = 0;
	m->inflight = 0;
	m->dropped = 0;
	m->partsz = (uint32_t *)(m + 1);
	m->data = (uint8_t *)(m->partsz + nparts);
	return m;
}

struct msg *
msg_new_marker(uint64_t dropped)
{
	struct msg	*m;

	if ((m = msg_new(0, 0)) != NULL)
		m->dropped = dropped;
	return m;
}

struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

void
msg_free(struct msg *m)
{
	size_t	len;

	if (m == NULL || --m->refs > 0)
		return;
	/*
	 * By the block's own size: reassembly may have grown a pool block
	 * with realloc, or shrunk one, and then it is malloc's again.
	 */
	len = malloc_usable_size(m);
	if (len >= MSG_SMALL && len < 2 * MSG_SMALL)
		pool_put(&msg_pool, m);
	else
		free(m);
}

void
msgq_free(struct msgq *q)
{
	struct msg	*m;

	while ((m = TAILQ_FIRST(q)) != NULL) {
		TAILQ_REMOVE(q, m, entry);
		msg_free(m);
	}
}

int
msgring_push(struct msgring *r, struct msg *m)
{
	if (r->len == r->cap) {
		uint64_t	  cap = r->cap ? r->cap * 2 : 64;
		struct msg	**v;

		if ((v = reallocarray(NULL, cap, sizeof(*v))) == NULL)
			return -1;
		/* Unrolled into the new array, oldest first. */
		for (uint64_t i = 0; i < r->len; i++)
			v[i] = r->v[(r->head + i) & (r->cap - 1)];
		free(r->v);
		r->v = v;
		r->cap = cap;
		r->head = 0;
	}
	r->v[(r->head + r->len) & (r->cap - 1)] = m;
	r->len++;
	return 0;
}

struct msg *
msgring_shift(struct msgring *r)
{
	struct msg	*m;

	if (r->len == 0)
		return NULL;
	m = r->v[r->head];
	r->head = (r->head + 1) & (r->cap - 1);
	r->len--;
	return m;
}

struct msg *
msgring_pop(struct msgring *r)
{
	if (r->len == 0)
		return NULL;
	r->len--;
	return r->v[(r->head + r->len) & (r->cap - 1)];
}

void
msgring_free(struct msgring *r)
{
	struct msg	*m;

	while ((m = msgring_shift(r)) != NULL)
		msg_free(m);
	free(r->v);
	r->v = NULL;
	r->head = r->len = r->cap = 0;
}
