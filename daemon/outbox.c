/* SPDX-License-Identifier: ISC */
/* outbox.c: datagrams built in place, waiting for one sendmmsg. */
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

int
outbox_init(struct outbox *ob, size_t slot_size)
{
	memset(ob, 0, sizeof(*ob));
	ob->buf = malloc(OUTBOX_SLOTS * slot_size);
	if (ob->buf == NULL)
		return -1;
	ob->slot_size = slot_size;
	return 0;
}

void
outbox_free(struct outbox *ob)
{
	free(ob->buf);
	ob->buf = NULL;
	ob->n = 0;
}

uint8_t *
outbox_slot(struct outbox *ob, const struct nbaddr *to)
{
	if (ob->n == OUTBOX_SLOTS)
		return NULL;
	ob->to[ob->n] = *to;
	return ob->buf + (size_t)ob->n * ob->slot_size;
}

void
outbox_commit(struct outbox *ob, uint32_t len)
{
	ob->len[ob->n++] = len;
}

void
outbox_consume(struct outbox *ob, int n)
{
	if (n <= 0)
		return;
	if (n >= ob->n) {
		ob->n = 0;
		return;
	}
	memmove(ob->buf, ob->buf + (size_t)n * ob->slot_size,
	    (size_t)(ob->n - n) * ob->slot_size);
	memmove(ob->to, ob->to + n, (size_t)(ob->n - n) * sizeof(ob->to[0]));
	memmove(ob->len, ob->len + n, (size_t)(ob->n - n) * sizeof(ob->len[0]));
	ob->n -= n;
}

int
outbox_grow(struct outbox *ob, size_t slot_size)
{
	uint8_t	*b;

	if (slot_size <= ob->slot_size)
		return 0;
	if ((b = malloc(OUTBOX_SLOTS * slot_size)) == NULL)
		return -1;
	for (int i = 0; i < ob->n; i++)
		memcpy(b + (size_t)i * slot_size,
		    ob->buf + (size_t)i * ob->slot_size, ob->len[i]);
	free(ob->buf);
	ob->buf = b;
	ob->slot_size = slot_size;
	return 0;
}
