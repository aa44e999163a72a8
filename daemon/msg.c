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
