/* SPDX-License-Identifier: ISC */
/* hmap.c: an intrusive chained hash table keyed by uint64. */
#include <stdlib.h>

#include "nbmqd.h"

#define HMAP_MIN	16

void
hmap_init(struct hmap *h)
{
	h->b = NULL;
	h->nb = 0;
	h->n = 0;
}

void
hmap_free(struct hmap *h)
{
	free(h->b);
	hmap_init(h);
}

static size_t
hmap_slot(size_t nb, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdULL;
	key ^= key >> 33;
	return key & (nb - 1);
}

static int
hmap_grow(struct hmap *h)
{
	size_t		  nb = h->nb ? h->nb * 2 : HMAP_MIN;
	struct hnode	**b, *n, *next;

	if ((b = calloc(nb, sizeof(*b))) == NULL)
		return -1;
	for (size_t i = 0; i < h->nb; i++)
		for (n = h->b[i]; n != NULL; n = next) {
			size_t s = hmap_slot(nb, n->key);

			next = n->next;
			n->next = b[s];
			b[s] = n;
		}
	free(h->b);
	h->b = b;
	h->nb = nb;
	return 0;
}

int
hmap_insert(struct hmap *h, struct hnode *n, uint64_t key)
{
	size_t	s;

	if (h->n >= h->nb && hmap_grow(h) == -1)
		return -1;
	n->key = key;
	s = hmap_slot(h->nb, key);
	n->next = h->b[s];
	h->b[s] = n;
	h->n++;
	return 0;
}

void
hmap_remove(struct hmap *h, struct hnode *n)
{
	struct hnode	**pp;

	if (h->nb == 0)
		return;
	for (pp = &h->b[hmap_slot(h->nb, n->key)]; *pp; pp = &(*pp)->next)
		if (*pp == n) {
			*pp = n->next;
			h->n--;
			return;
		}
}

struct hnode *
hmap_find(const struct hmap *h, uint64_t key)
{
	struct hnode	*n;

	if (h->nb == 0)
		return NULL;
	for (n = h->b[hmap_slot(h->nb, key)]; n != NULL; n = n->next)
		if (n->key == key)
			return n;
	return NULL;
}

struct hnode *
hmap_next(struct hnode *n)
{
	uint64_t	key = n->key;

	for (n = n->next; n != NULL; n = n->next)
		if (n->key == key)
			return n;
	return NULL;
}
