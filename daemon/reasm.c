/* SPDX-License-Identifier: ISC */
/*
 * reasm.c: reassembly of one message from its chunks (PROTOCOL.md 1.1).
 *
 * Memory follows the bytes received, never the size a frame claims: the
 * first frame of a 16 MiB message costs what it carries, not 16 MiB (a
 * peer once raised the daemon's RSS by 906 MiB with 9.2 MB of one-byte
 * chunks, issue 15).  The message grows in one buffer, doubling, as long
 * as that stays within twice the bytes received (plus a page): chunks in
 * order, the normal case, land in place, and when parts were seen in
 * index order the buffer is the finished message, with no copy.  A chunk
 * beyond that (out of order, far ahead) waits in a list of its own and
 * joins the buffer when it grows past it, or at the end.  Received bytes
 * are tracked as sorted, disjoint ranges of message offsets, so duplicate
 * and overlapping chunks are recognised; the parts seen, sorted by index,
 * grow one entry at a time.
 */
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

#define REASM_SLACK	4096	/* the buffer may run this far ahead */

static size_t
reasm_msg_bytes(uint16_t nparts, uint32_t cap)
{
	return sizeof(struct msg) + (size_t)nparts * sizeof(uint32_t) + cap;
}

struct reasm *
reasm_new(const struct frame *f, nbmq_time now)
{
	struct reasm	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->m = msg_new(f->part_count, 0);
	r->maxranges = 4;
	r->ranges = malloc(r->maxranges * sizeof(*r->ranges));
	r->maxparts = 1;
	r->parts = malloc(sizeof(*r->parts));
	if (r->m == NULL || r->ranges == NULL || r->parts == NULL) {
		reasm_free(r);
		return NULL;
	}
	memset(r->m->partsz, 0, (size_t)f->part_count * sizeof(uint32_t));
	r->mem = sizeof(*r) + r->maxranges * sizeof(*r->ranges) +
	    sizeof(*r->parts) + reasm_msg_bytes(f->part_count, 0);
	r->msgid = f->msgid;
	r->message_size = f->message_size;
	r->part_count = f->part_count;
	r->in_order = 1;
	r->last = now;
	return r;
}

void
reasm_free(struct reasm *r)
{
	struct reasm_chunk	*c;

	if (r == NULL)
		return;
	while ((c = r->far) != NULL) {
		r->far = c->next;
		free(c);
	}
	if (r->m != NULL)
		msg_free(r->m);
	free(r->ranges);
	free(r->parts);
	free(r);
}

/* Make room for one more range; 0, or -1 when the message is too holey. */
static int
reasm_grow(struct reasm *r)
{
	struct reasm_range	*n;
	uint32_t		 max;

	if (r->nranges < r->maxranges)
		return 0;
	if (r->maxranges >= REASM_MAX_RANGES)
		return -1;
	max = r->maxranges * 2;
	if ((n = realloc(r->ranges, max * sizeof(*n))) == NULL)
		return -1;
	r->ranges = n;
	r->mem += (max - r->maxranges) * sizeof(*n);
	r->maxranges = max;
	return 0;
}

/*
 * Insert [off, end) into the range set; returns the count of bytes that
 * were not covered before, or -1 when the set would grow too large.
 */
static int64_t
reasm_insert(struct reasm *r, uint32_t off, uint32_t end)
{
	struct reasm_range	*rg = r->ranges;
	uint32_t		 lo, hi, i, j, covered = 0;
	const uint32_t		 len = end - off;

	/* Fast path: in-order arrival extends the last range. */
	if (r->nranges > 0 && rg[r->nranges - 1].end == off) {
		rg[r->nranges - 1].end = end;
		return end - off;
	}
	/* First range that ends at or after off. */
	lo = 0;
	hi = r->nranges;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (rg[mid].end < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	i = lo;
	/* Ranges i..j-1 touch or overlap [off, end). */
	for (j = i; j < r->nranges && rg[j].off <= end; j++) {
		uint32_t a = rg[j].off > off ? rg[j].off : off;
		uint32_t b = rg[j].end < end ? rg[j].end : end;

		if (b > a)
			covered += b - a;
	}
	if (j == i) {
		if (reasm_grow(r) == -1)
			return -1;
		rg = r->ranges;
		memmove(&rg[i + 1], &rg[i], (r->nranges - i) * sizeof(*rg));
		rg[i].off = off;
		rg[i].end = end;
		r->nranges++;
		return end - off;
	}
	if (rg[i].off < off)
		off = rg[i].off;
	if (rg[j - 1].end > end)
		end = rg[j - 1].end;
	rg[i].off = off;
	rg[i].end = end;
	memmove(&rg[i + 1], &rg[j], (r->nranges - j) * sizeof(*rg));
	r->nranges -= j - i - 1;
	return (int64_t)len - covered;
}

/* The entry of part index, or where it goes (*at) if not seen yet. */
static struct reasm_part *
reasm_part(struct reasm *r, uint16_t index, uint16_t *at)
{
	uint16_t	lo = 0, hi = r->parts_seen;

	while (lo < hi) {
		uint16_t mid = (uint16_t)((lo + hi) / 2);

		if (r->parts[mid].index < index)
			lo = (uint16_t)(mid + 1);
		else
			hi = mid;
	}
	*at = lo;
	return lo < r->parts_seen && r->parts[lo].index == index ?
	    &r->parts[lo] : NULL;
}

/* A new part at position at of the sorted array; NULL on ENOMEM. */
static struct reasm_part *
reasm_part_add(struct reasm *r, uint16_t at)
{
	struct reasm_part	*n;

	if (r->parts_seen == r->maxparts) {
		uint16_t max = r->maxparts * 2 < r->part_count ?
		    (uint16_t)(r->maxparts * 2) : r->part_count;

		if ((n = realloc(r->parts, max * sizeof(*n))) == NULL)
			return NULL;
		r->parts = n;
		r->mem += (size_t)(max - r->maxparts) * sizeof(*n);
		r->maxparts = max;
	}
	memmove(&r->parts[at + 1], &r->parts[at],
	    (size_t)(r->parts_seen - at) * sizeof(*r->parts));
	r->parts_seen++;
	return &r->parts[at];
}

/* The buffer to cap bytes (the message keeps its layout); 0 or -1. */
static int
reasm_resize(struct reasm *r, uint32_t cap)
{
	struct msg		*m;
	struct reasm_chunk	*c, **cp;

	m = realloc(r->m, reasm_msg_bytes(r->part_count, cap));
	if (m == NULL)
		return -1;
	m->partsz = (uint32_t *)(m + 1);
	m->data = (uint8_t *)(m->partsz + r->part_count);
	r->m = m;
	r->mem += cap - r->cap;
	r->cap = cap;
	/* Chunks that waited for it move in. */
	for (cp = &r->far; (c = *cp) != NULL;) {
		if (c->off + c->len > cap) {
			cp = &c->next;
			continue;
		}
		memcpy(m->data + c->off, c->data, c->len);
		*cp = c->next;
		r->mem -= sizeof(*c) + c->len;
		free(c);
	}
	return 0;
}

/* Chunk [off, off + len) into the buffer, or the far list; 0 or -1. */
static int
reasm_store(struct reasm *r, uint32_t off, const uint8_t *data,
    uint32_t len)
{
	struct reasm_chunk	*c;
	uint32_t		 end = off + len;
	uint64_t		 want, allowed;

	if (end > r->cap) {
		want = (uint64_t)r->cap * 2 > end ? (uint64_t)r->cap * 2 : end;
		if (want > r->message_size)
			want = r->message_size;
		allowed = 2 * ((uint64_t)r->have + len) + REASM_SLACK;
		if (want <= allowed) {
			if (reasm_resize(r, (uint32_t)want) == -1)
				return -1;
		} else if (end <= allowed && reasm_resize(r, end) == -1)
			return -1;
	}
	if (end <= r->cap) {
		memcpy(r->m->data + off, data, len);
		return 0;
	}
	if ((c = malloc(sizeof(*c) + len)) == NULL)
		return -1;
	c->off = off;
	c->len = len;
	memcpy(c->data, data, len);
	c->next = r->far;
	r->far = c;
	r->mem += sizeof(*c) + len;
	return 0;
}

enum drop_reason
reasm_add(struct reasm *r, const struct frame *f, nbmq_time now, int *dup)
{
	struct reasm_part	*p;
	uint32_t		 off, end, before;
	int64_t			 added;
	uint16_t		 at;

	*dup = 0;
	if (f->part_count != r->part_count ||
	    f->message_size != r->message_size)
		return DROP_INCONSISTENT;
	if ((p = reasm_part(r, f->part_index, &at)) == NULL) {
		uint64_t placed = (uint64_t)r->placed + f->part_size;

		if (placed > r->message_size)
			return DROP_PART_SUM;
		/* The last unseen part must fill the message exactly. */
		if (r->parts_seen + 1 == r->part_count &&
		    placed != r->message_size)
			return DROP_PART_SUM;
		if (f->part_index != r->parts_seen)
			r->in_order = 0;
		if ((p = reasm_part_add(r, at)) == NULL)
			return DROP_FRAGMENTED;		/* no memory */
		p->index = f->part_index;
		p->size = f->part_size;
		p->base = r->placed;
		p->have = 0;
		r->placed = (uint32_t)placed;
		r->m->partsz[f->part_index] = f->part_size;
	} else if (p->size != f->part_size)
		return DROP_INCONSISTENT;
	else if (f->chunk_size == 0) {
		*dup = 1;
		return DROP_NONE;
	}
	r->last = now;
	if (f->chunk_size == 0)
		return DROP_NONE;

	off = p->base + f->chunk_offset;
	end = off + f->chunk_size;
	before = r->have;
	if ((added = reasm_insert(r, off, end)) < 0)
		return DROP_FRAGMENTED;
	if (added == 0) {
		*dup = 1;
		return DROP_NONE;
	}
	/*
	 * A chunk that overlaps what was received carries the same bytes
	 * (or the sender is broken): stored whole, it is one copy more.
	 */
	if (reasm_store(r, off, f->data, f->chunk_size) == -1)
		return DROP_FRAGMENTED;
	r->have = before + (uint32_t)added;
	p->have += (uint32_t)added;
	return DROP_NONE;
}

int
reasm_complete(const struct reasm *r)
{
	return r->parts_seen == r->part_count && r->have == r->message_size;
}

struct msg *
reasm_finish(struct reasm *r)
{
	struct msg	*m, *n;
	uint32_t	 pos = 0;

	/* Everything arrived: the buffer may hold it all now. */
	if ((r->cap < r->message_size || r->far != NULL) &&
	    reasm_resize(r, r->message_size) == -1) {
		reasm_free(r);
		return NULL;
	}
	m = r->m;
	m->size = r->message_size;
	m->id = r->msgid;
	if (!r->in_order) {
		if ((n = msg_new(r->part_count, r->message_size)) == NULL) {
			reasm_free(r);
			return NULL;
		}
		n->id = r->msgid;
		/* r->parts is sorted by index: the message's order. */
		for (uint16_t i = 0; i < r->part_count; i++) {
			n->partsz[i] = r->parts[i].size;
			memcpy(n->data + pos, m->data + r->parts[i].base,
			    r->parts[i].size);
			pos += r->parts[i].size;
		}
		reasm_free(r);
		return n;
	}
	r->m = NULL;
	reasm_free(r);
	return m;
}
