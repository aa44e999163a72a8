/*
 * reasm.c: reassembly of one message from its chunks (PROTOCOL.md 1.1).
 *
 * The message buffer is allocated once, at message_size, which frame_parse
 * has already bounded by max_message_size.  Parts are placed in the buffer
 * in the order they are first seen; when they were seen in index order (the
 * normal case) the buffer is already the finished message and no byte is
 * copied again.  Received bytes are tracked as sorted, disjoint ranges of
 * buffer offsets, so duplicate and overlapping chunks are recognised and
 * out-of-order chunks cost nothing extra.
 */
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

struct reasm *
reasm_new(const struct frame *f, nbmq_time now)
{
	struct reasm	*r;

	r = calloc(1, sizeof(*r) + f->part_count * sizeof(struct reasm_part));
	if (r == NULL)
		return NULL;
	r->parts = (struct reasm_part *)(r + 1);
	r->m = msg_new(f->part_count, f->message_size);
	r->maxranges = 4;
	r->ranges = malloc(r->maxranges * sizeof(*r->ranges));
	if (r->m == NULL || r->ranges == NULL) {
		reasm_free(r);
		return NULL;
	}
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
	if (r == NULL)
		return;
	msg_free(r->m);
	free(r->ranges);
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

enum drop_reason
reasm_add(struct reasm *r, const struct frame *f, nbmq_time now, int *dup)
{
	struct reasm_part	*p;
	uint32_t		 off, end, before;
	int64_t			 added;

	*dup = 0;
	if (f->part_count != r->part_count ||
	    f->message_size != r->message_size)
		return DROP_INCONSISTENT;
	p = &r->parts[f->part_index];
	if (!p->seen) {
		uint64_t placed = (uint64_t)r->placed + f->part_size;

		if (placed > r->message_size)
			return DROP_PART_SUM;
		/* The last unseen part must fill the message exactly. */
		if (r->parts_seen + 1 == r->part_count &&
		    placed != r->message_size)
			return DROP_PART_SUM;
		if (f->part_index != r->parts_seen)
			r->in_order = 0;
		p->seen = 1;
		p->size = f->part_size;
		p->base = r->placed;
		r->placed = (uint32_t)placed;
		r->parts_seen++;
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
	memcpy(r->m->data + off, f->data, f->chunk_size);
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
	struct msg	*m = r->m, *n;
	uint32_t	 pos = 0;

	m->id = r->msgid;
	if (!r->in_order) {
		if ((n = msg_new(r->part_count, r->message_size)) == NULL) {
			reasm_free(r);
			return NULL;
		}
		n->id = r->msgid;
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
