/* SPDX-License-Identifier: ISC */
/* msg.c: multipart messages, one allocation each. */
#include <stdlib.h>

#include "nbmqd.h"

struct msg *
msg_new(uint16_t nparts, uint32_t size)
{
	struct msg	*m;

	m = malloc(sizeof(*m) + (size_t)nparts * sizeof(uint32_t) + size);
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
	if (m != NULL && --m->refs == 0)
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
