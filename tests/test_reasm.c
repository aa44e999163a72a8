/* SPDX-License-Identifier: ISC */
/*
 * test_reasm.c: unit tests of reasm.c, reassembly of one message from its
 * data frames (PROTOCOL.md 1.1).
 *
 * Frames are cut exactly as a sender does (sock.c): every part in chunks of
 * max_frame_size - 34 = 466 bytes, in order, an empty part as one frame with
 * chunk_size 0.  They are then parsed with frame_parse, so every frame given
 * to reasm_add is one a receiver would accept, and fed in various orders.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"
#include "unit.h"

#define MAXFRAME	500
#define MAXCHUNK	(MAXFRAME - FRAME_DATA_HDR_SIZE)	/* 466 */
#define MAXMSG		(16U << 20)
#define SESSION		0x0123456789abcdefULL
#define MSGID		0x1122334455667788ULL

struct dgram {
	uint8_t		buf[MAXFRAME];
	size_t		len;
};

struct frames {
	struct dgram	*d;
	size_t		 n, cap;
};

/* Byte i of message `seed`. */
static uint8_t
pat(uint32_t seed, uint32_t i)
{
	return (uint8_t)(i * 131u + seed * 7u + (i >> 8) + (i >> 16));
}

static uint32_t
sum(const uint32_t *sizes, int nparts)
{
	uint32_t	t = 0;

	for (int i = 0; i < nparts; i++)
		t += sizes[i];
	return t;
}

static struct dgram *
frames_add(struct frames *fs)
{
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->d = realloc(fs->d, fs->cap * sizeof(*fs->d));
		REQUIRE(fs->d != NULL);
	}
	return &fs->d[fs->n++];
}

/* One hand-made data frame: header fields as given, payload from pat(). */
static void
put_frame(struct frames *fs, uint32_t seed, int nparts, int index,
    uint32_t msize, uint32_t psize, uint32_t base, uint32_t off,
    uint32_t chunk)
{
	struct dgram	*d = frames_add(fs);
	struct frame	 f;

	REQUIRE(chunk <= MAXCHUNK);
	memset(&f, 0, sizeof(f));
	f.session = SESSION;
	f.msgid = MSGID;
	f.part_count = (uint8_t)nparts;
	f.part_index = (uint8_t)index;
	f.message_size = msize;
	f.part_size = psize;
	f.chunk_size = (uint16_t)chunk;
	f.chunk_offset = off;
	frame_put_data_hdr(d->buf, &f);
	for (uint32_t i = 0; i < chunk; i++)
		d->buf[FRAME_DATA_HDR_SIZE + i] = pat(seed, base + off + i);
	d->len = FRAME_DATA_HDR_SIZE + chunk;
}

/* All frames of a message, in the sender's order. */
static void
cut(struct frames *fs, uint32_t seed, const uint32_t *sizes, int nparts)
{
	uint32_t	msize = sum(sizes, nparts), base = 0;

	for (int p = 0; p < nparts; p++) {
		uint32_t off = 0;

		do {
			uint32_t c = sizes[p] - off;

			if (c > MAXCHUNK)
				c = MAXCHUNK;
			put_frame(fs, seed, nparts, p, msize, sizes[p], base,
			    off, c);
			off += c;
		} while (off < sizes[p]);
		base += sizes[p];
	}
}

static void
frames_free(struct frames *fs)
{
	free(fs->d);
	memset(fs, 0, sizeof(*fs));
}

static void
parse(const struct dgram *d, struct frame *f)
{
	REQUIRE(frame_parse(d->buf, d->len, MAXMSG, f) == DROP_NONE);
}

/* Add one datagram; the drop reason, *dup set. */
static enum drop_reason
add(struct reasm **rp, const struct dgram *d, nbmq_time now, int *dup)
{
	struct frame	f;

	parse(d, &f);
	if (*rp == NULL) {
		*rp = reasm_new(&f, now);
		ck_assert_ptr_nonnull(*rp);
		ck_assert_uint_eq((*rp)->msgid, MSGID);
		ck_assert(!reasm_complete(*rp));
	}
	return reasm_add(*rp, &f, now, dup);
}

/* The finished message must be exactly the one cut by cut(). */
static void
check_msg(const struct msg *m, uint32_t seed, const uint32_t *sizes,
    int nparts)
{
	uint32_t	msize = sum(sizes, nparts);

	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->id, MSGID);
	ck_assert_uint_eq(m->nparts, nparts);
	ck_assert_uint_eq(m->size, msize);
	for (int p = 0; p < nparts; p++)
		ck_assert_msg(m->partsz[p] == sizes[p],
		    "part %d: size %u, want %u", p, m->partsz[p], sizes[p]);
	for (uint32_t i = 0; i < msize; i++)
		if (m->data[i] != pat(seed, i))
			ck_abort_msg("byte %u: %02x, want %02x", i,
			    m->data[i], pat(seed, i));
}

/*
 * Feed the frames in the order given by idx (NULL: as cut); every frame is
 * new, so none may be a duplicate, and the message completes exactly at
 * the last one.  Returns whether the parts were placed in order.
 */
static int
feed_check(const struct frames *fs, const size_t *idx, uint32_t seed,
    const uint32_t *sizes, int nparts)
{
	struct reasm	*r = NULL;
	struct msg	*m;
	int		 dup, in_order;

	for (size_t i = 0; i < fs->n; i++) {
		ck_assert(r == NULL || !reasm_complete(r));
		ck_assert_int_eq(add(&r, &fs->d[idx ? idx[i] : i],
		    1000 + i, &dup), DROP_NONE);
		ck_assert_int_eq(dup, 0);
	}
	ck_assert(reasm_complete(r));
	ck_assert_uint_eq(r->last, 1000 + fs->n - 1);
	in_order = r->in_order;
	m = reasm_finish(r);
	check_msg(m, seed, sizes, nparts);
	msg_free(m);
	return in_order;
}

/* Deterministic shuffle. */
static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static size_t *
order_shuffled(size_t n)
{
	size_t	*idx = malloc(n * sizeof(*idx));

	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = rnd((uint32_t)i), t = idx[i - 1];

		idx[i - 1] = idx[j];
		idx[j] = t;
	}
	return idx;
}

static size_t *
order_reversed(size_t n)
{
	size_t	*idx = malloc(n * sizeof(*idx));

	for (size_t i = 0; i < n; i++)
		idx[i] = n - 1 - i;
	return idx;
}

/* Single part messages */

static const uint32_t single_sizes[] = { 0, 1, 465, 466, 467, 70000 };

START_TEST(test_single_part)
{
	uint32_t	size = single_sizes[_i];
	struct frames	fs = { 0 };
	size_t		want;

	cut(&fs, _i, &size, 1);
	want = size == 0 ? 1 : (size + MAXCHUNK - 1) / MAXCHUNK;
	ck_assert_uint_eq(fs.n, want);
	/* Every frame a sender cuts is at most max_frame_size. */
	for (size_t i = 0; i < fs.n; i++)
		ck_assert_uint_le(fs.d[i].len, MAXFRAME);
	ck_assert(feed_check(&fs, NULL, _i, &size, 1));
	frames_free(&fs);
}
END_TEST

START_TEST(test_single_part_reversed)
{
	uint32_t	 size = single_sizes[_i];
	struct frames	 fs = { 0 };
	size_t		*idx;

	cut(&fs, 40 + _i, &size, 1);
	idx = order_reversed(fs.n);
	/* One part: always in place, whatever the chunk order. */
	ck_assert(feed_check(&fs, idx, 40 + _i, &size, 1));
	free(idx);
	frames_free(&fs);
}
END_TEST

/* Multipart */

START_TEST(test_multipart_in_order)
{
	static const uint32_t s1[] = { 1, 2, 3 };
	static const uint32_t s2[] = { 466, 466, 467, 465, 1000 };
	static const uint32_t s3[] = { 70000, 1, 0, 932 };
	struct frames	fs = { 0 };

	cut(&fs, 1, s1, 3);
	ck_assert_uint_eq(fs.n, 3);
	ck_assert(feed_check(&fs, NULL, 1, s1, 3));
	frames_free(&fs);
	cut(&fs, 2, s2, 5);
	ck_assert_uint_eq(fs.n, 1 + 1 + 2 + 1 + 3);
	ck_assert(feed_check(&fs, NULL, 2, s2, 5));
	frames_free(&fs);
	cut(&fs, 3, s3, 4);
	ck_assert(feed_check(&fs, NULL, 3, s3, 4));
	frames_free(&fs);
}
END_TEST

START_TEST(test_multipart_empty_parts)
{
	static const uint32_t e1[] = { 0, 0, 0 };
	static const uint32_t e2[] = { 0, 5, 0, 0, 1000, 0 };
	static const uint32_t e3[] = { 5, 0 };
	static const uint32_t e4[] = { 0, 466, 0, 467, 0 };
	static const struct { const uint32_t *s; int n; } cases[] = {
		{ e1, 3 }, { e2, 6 }, { e3, 2 }, { e4, 5 },
	};
	uint32_t	many[255];
	struct frames	fs = { 0 };
	size_t		*idx;

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		cut(&fs, 10 + c, cases[c].s, cases[c].n);
		ck_assert(feed_check(&fs, NULL, 10 + c, cases[c].s,
		    cases[c].n));
		idx = order_reversed(fs.n);
		feed_check(&fs, idx, 10 + c, cases[c].s, cases[c].n);
		free(idx);
		frames_free(&fs);
	}
	/* 255 parts, every third empty, shuffled. */
	for (int i = 0; i < 255; i++)
		many[i] = i % 3 == 0 ? 0 : (uint32_t)(i * 7 % 600);
	cut(&fs, 77, many, 255);
	ck_assert(feed_check(&fs, NULL, 77, many, 255));
	idx = order_shuffled(fs.n);
	feed_check(&fs, idx, 77, many, 255);
	free(idx);
	frames_free(&fs);
}
END_TEST

/* Out of order */

START_TEST(test_out_of_order_reversed)
{
	static const uint32_t s[] = { 1000, 0, 3, 2000, 466 };
	struct frames	 fs = { 0 };
	size_t		*idx;

	cut(&fs, 5, s, 5);
	idx = order_reversed(fs.n);
	/* The last part is seen first: reasm_finish must reorder. */
	ck_assert(!feed_check(&fs, idx, 5, s, 5));
	free(idx);
	frames_free(&fs);
}
END_TEST

START_TEST(test_out_of_order_shuffled)
{
	static const uint32_t s[] = { 3000, 1, 0, 4000, 467, 70000, 0 };
	struct frames	 fs = { 0 };
	size_t		*idx;
	int		 reordered = 0;

	cut(&fs, 6, s, 7);
	for (int round = 0; round < 20; round++) {
		idx = order_shuffled(fs.n);
		if (!feed_check(&fs, idx, 6, s, 7))
			reordered++;
		free(idx);
	}
	ck_assert_int_gt(reordered, 0);
	frames_free(&fs);
}
END_TEST

START_TEST(test_parts_out_of_order_chunks_in_order)
{
	/* Part 2 first, then part 0, then part 1; chunks in order inside. */
	static const uint32_t s[] = { 1000, 500, 1500 };
	struct frames	 fs = { 0 };
	size_t		 idx[16], n = 0;
	size_t		 p0 = 3, p1 = 2, p2 = 4;	/* frames per part */

	cut(&fs, 8, s, 3);
	ck_assert_uint_eq(fs.n, p0 + p1 + p2);
	for (size_t i = 0; i < p2; i++)
		idx[n++] = p0 + p1 + i;
	for (size_t i = 0; i < p0; i++)
		idx[n++] = i;
	for (size_t i = 0; i < p1; i++)
		idx[n++] = p0 + i;
	ck_assert(!feed_check(&fs, idx, 8, s, 3));
	frames_free(&fs);
}
END_TEST

/* Duplicates */

START_TEST(test_duplicates)
{
	static const uint32_t s[] = { 1000, 0, 700 };
	struct frames	 fs = { 0 };
	struct reasm	*r = NULL;
	struct msg	*m;
	struct dgram	 evil;
	int		 dup;
	uint32_t	 have;

	cut(&fs, 9, s, 3);
	for (size_t i = 0; i < fs.n; i++) {
		ck_assert_int_eq(add(&r, &fs.d[i], 1, &dup), DROP_NONE);
		ck_assert_int_eq(dup, 0);
		have = r->have;
		/* The same frame again: a duplicate, nothing changes. */
		ck_assert_int_eq(add(&r, &fs.d[i], 2, &dup), DROP_NONE);
		ck_assert_int_eq(dup, 1);
		ck_assert_uint_eq(r->have, have);
		/* Same range, other bytes: still a duplicate, ignored. */
		evil = fs.d[i];
		memset(evil.buf + FRAME_DATA_HDR_SIZE, 0xee,
		    evil.len - FRAME_DATA_HDR_SIZE);
		ck_assert_int_eq(add(&r, &evil, 3, &dup), DROP_NONE);
		ck_assert_int_eq(dup, 1);
		ck_assert_uint_eq(r->have, have);
		if (i + 1 < fs.n)
			ck_assert(!reasm_complete(r));
	}
	ck_assert(reasm_complete(r));
	/* Duplicates after completion change nothing either. */
	ck_assert_int_eq(add(&r, &fs.d[0], 4, &dup), DROP_NONE);
	ck_assert_int_eq(dup, 1);
	ck_assert(reasm_complete(r));
	m = reasm_finish(r);
	check_msg(m, 9, s, 3);
	msg_free(m);
	frames_free(&fs);
}
END_TEST

START_TEST(test_duplicate_subrange)
{
	/* A chunk inside what was received already is a duplicate too. */
	static const uint32_t s[] = { 1000 };
	struct frames	 fs = { 0 }, sub = { 0 };
	struct reasm	*r = NULL;
	struct msg	*m;
	int		 dup;

	cut(&fs, 12, s, 1);
	put_frame(&sub, 12, 1, 0, 1000, 1000, 0, 100, 50);
	put_frame(&sub, 12, 1, 0, 1000, 1000, 0, 460, 20); /* spans 466 */
	ck_assert_int_eq(add(&r, &fs.d[0], 1, &dup), DROP_NONE);
	ck_assert_int_eq(add(&r, &sub.d[0], 1, &dup), DROP_NONE);
	ck_assert_int_eq(dup, 1);
	ck_assert_int_eq(add(&r, &sub.d[1], 1, &dup), DROP_NONE);
	ck_assert_int_eq(dup, 0);		/* 14 new bytes */
	ck_assert_uint_eq(r->have, 480);
	ck_assert_int_eq(add(&r, &fs.d[1], 1, &dup), DROP_NONE);
	ck_assert_int_eq(dup, 0);
	ck_assert_int_eq(add(&r, &fs.d[2], 1, &dup), DROP_NONE);
	ck_assert(reasm_complete(r));
	ck_assert_uint_eq(r->have, 1000);
	m = reasm_finish(r);
	check_msg(m, 12, s, 1);
	msg_free(m);
	frames_free(&fs);
	frames_free(&sub);
}
END_TEST

/* Inconsistent frames */

START_TEST(test_inconsistent)
{
	static const uint32_t s[] = { 1000, 600 };	/* message 1600 */
	struct frames	 fs = { 0 }, bad = { 0 };
	struct reasm	*r = NULL;
	struct msg	*m;
	int		 dup;
	uint32_t	 have;

	cut(&fs, 13, s, 2);
	ck_assert_uint_eq(fs.n, 3 + 2);
	/* Each of these is valid alone, and disagrees with the message. */
	put_frame(&bad, 99, 3, 0, 1600, 1000, 0, 0, 466);   /* part_count */
	put_frame(&bad, 99, 3, 2, 1600, 10, 0, 0, 10);	    /* part_count */
	put_frame(&bad, 99, 2, 0, 1601, 1000, 0, 466, 466); /* message_size */
	put_frame(&bad, 99, 2, 1, 1500, 600, 1000, 0, 466); /* message_size */
	put_frame(&bad, 99, 2, 0, 1600, 1001, 0, 932, 69);  /* part_size */
	put_frame(&bad, 99, 2, 0, 1600, 999, 0, 932, 67);   /* part_size */
	put_frame(&bad, 99, 2, 0, 1600, 0, 0, 0, 0);	    /* part_size */

	ck_assert_int_eq(add(&r, &fs.d[0], 1, &dup), DROP_NONE);
	for (size_t i = 0; i < bad.n; i++) {
		have = r->have;
		ck_assert_msg(add(&r, &bad.d[i], 2, &dup) ==
		    DROP_INCONSISTENT, "bad frame %zu", i);
		ck_assert_uint_eq(r->have, have);
		ck_assert_uint_eq(r->last, 1);	/* not a sign of life */
	}
	ck_assert_int_eq(add(&r, &fs.d[1], 3, &dup), DROP_NONE);
	ck_assert_int_eq(add(&r, &fs.d[2], 3, &dup), DROP_NONE);
	ck_assert_int_eq(add(&r, &fs.d[3], 3, &dup), DROP_NONE);
	/* Part 1 is known now: a different part_size for it conflicts. */
	put_frame(&bad, 99, 2, 1, 1600, 601, 1000, 0, 466);
	ck_assert_int_eq(add(&r, &bad.d[bad.n - 1], 4, &dup),
	    DROP_INCONSISTENT);
	for (size_t i = 0; i < bad.n; i++)
		ck_assert_int_eq(add(&r, &bad.d[i], 5, &dup),
		    DROP_INCONSISTENT);
	ck_assert(!reasm_complete(r));
	ck_assert_int_eq(add(&r, &fs.d[4], 6, &dup), DROP_NONE);
	ck_assert(reasm_complete(r));
	m = reasm_finish(r);
	check_msg(m, 13, s, 2);
	msg_free(m);
	frames_free(&fs);
	frames_free(&bad);
}
END_TEST

START_TEST(test_part_sum)
{
	static const uint32_t s[] = { 600, 300, 100 };	/* message 1000 */
	struct frames	 fs = { 0 }, bad = { 0 };
	struct reasm	*r = NULL;
	struct msg	*m;
	int		 dup;

	cut(&fs, 14, s, 3);
	ck_assert_uint_eq(fs.n, 2 + 1 + 1);
	ck_assert_int_eq(add(&r, &fs.d[0], 1, &dup), DROP_NONE);
	ck_assert_int_eq(add(&r, &fs.d[1], 1, &dup), DROP_NONE);
	/* 600 + 401 > 1000 */
	put_frame(&bad, 99, 3, 1, 1000, 401, 0, 0, 10);
	ck_assert_int_eq(add(&r, &bad.d[0], 2, &dup), DROP_PART_SUM);
	/* 600 + 1000 > 1000, on the last part */
	put_frame(&bad, 99, 3, 2, 1000, 1000, 0, 0, 10);
	ck_assert_int_eq(add(&r, &bad.d[1], 2, &dup), DROP_PART_SUM);
	ck_assert_int_eq(add(&r, &fs.d[2], 3, &dup), DROP_NONE);
	/* Now part 2 is the last unseen one: it must make exactly 1000. */
	put_frame(&bad, 99, 3, 2, 1000, 99, 0, 0, 10);
	ck_assert_int_eq(add(&r, &bad.d[2], 4, &dup), DROP_PART_SUM);
	put_frame(&bad, 99, 3, 2, 1000, 101, 0, 0, 10);
	ck_assert_int_eq(add(&r, &bad.d[3], 4, &dup), DROP_PART_SUM);
	put_frame(&bad, 99, 3, 2, 1000, 0, 0, 0, 0);
	ck_assert_int_eq(add(&r, &bad.d[4], 4, &dup), DROP_PART_SUM);
	ck_assert_uint_eq(r->parts_seen, 2);
	ck_assert(!reasm_complete(r));
	ck_assert_int_eq(add(&r, &fs.d[3], 5, &dup), DROP_NONE);
	ck_assert(reasm_complete(r));
	m = reasm_finish(r);
	check_msg(m, 14, s, 3);
	msg_free(m);
	frames_free(&fs);
	frames_free(&bad);
}
END_TEST

START_TEST(test_part_sum_too_small)
{
	/* Two empty parts of a 10-byte message can never add up. */
	struct frames	 bad = { 0 };
	struct reasm	*r = NULL;
	int		 dup;

	put_frame(&bad, 1, 2, 0, 10, 0, 0, 0, 0);
	put_frame(&bad, 1, 2, 1, 10, 0, 0, 0, 0);
	put_frame(&bad, 1, 2, 1, 10, 9, 0, 0, 9);
	ck_assert_int_eq(add(&r, &bad.d[0], 1, &dup), DROP_NONE);
	ck_assert_int_eq(add(&r, &bad.d[1], 1, &dup), DROP_PART_SUM);
	ck_assert_int_eq(add(&r, &bad.d[2], 1, &dup), DROP_PART_SUM);
	ck_assert(!reasm_complete(r));
	reasm_free(r);
	reasm_free(NULL);
	frames_free(&bad);
}
END_TEST

/*
 * Memory follows the bytes received (issue 15, finding 1): 4,096 frames
 * of one byte each, 4 KiB apart, claiming a 16 MiB message, once made the
 * daemon allocate (and touch) all 16 MiB.  Now they hold about what they
 * carried: at most twice their own size, headers included.
 */
START_TEST(test_memory_follows_bytes)
{
	const uint32_t	 size = 16U << 20, step = 4096;
	struct frames	 fs = { 0 }, bits = { 0 };
	struct reasm	*r = NULL;
	struct msg	*m;
	size_t		 wire = 0, most = 0;
	int		 dup;

	for (uint32_t i = 0; i < REASM_MAX_RANGES; i++)
		put_frame(&bits, 16, 1, 0, size, size, 0, 1 + i * step, 1);
	for (size_t i = 0; i < bits.n; i++) {
		REQUIRE(add(&r, &bits.d[i], 1, &dup) == DROP_NONE);
		wire += bits.d[i].len;
	}
	ck_assert_uint_eq(r->have, REASM_MAX_RANGES);
	ck_assert_uint_le(r->mem, 2 * wire);
	reasm_free(r);
	r = NULL;

	/* 255 parts claimed, one byte sent: no room for 255 parts. */
	frames_free(&bits);
	put_frame(&bits, 16, 255, 254, 255, 1, 254, 0, 1);
	REQUIRE(add(&r, &bits.d[0], 1, &dup) == DROP_NONE);
	ck_assert_uint_le(r->mem, sizeof(*r) + 255 * 4 + 512);
	reasm_free(r);
	r = NULL;

	/* The sender's own frames of 1 MiB, in order: never more than
	 * twice what came, and the buffer is the message (no copy). */
	{
		const uint32_t mb = 1U << 20;

		cut(&fs, 17, &mb, 1);
		for (size_t i = 0; i < fs.n; i++) {
			REQUIRE(add(&r, &fs.d[i], 1, &dup) == DROP_NONE);
			REQUIRE(r->mem <= 2 * (size_t)r->have + 8192);
			if (r->mem > most)
				most = r->mem;
		}
		ck_assert(r->far == NULL);
		ck_assert_uint_eq(r->cap, mb);
		m = reasm_finish(r);
		check_msg(m, 17, &mb, 1);
		msg_free(m);
	}
	/* The same frames backwards: far chunks, then one buffer. */
	r = NULL;
	for (size_t i = fs.n; i-- > 0;)
		REQUIRE(add(&r, &fs.d[i], 1, &dup) == DROP_NONE);
	ck_assert(reasm_complete(r));
	{
		const uint32_t mb = 1U << 20;

		m = reasm_finish(r);
		check_msg(m, 17, &mb, 1);
		msg_free(m);
	}
	frames_free(&fs);
	frames_free(&bits);
}
END_TEST

/* Too many holes */

START_TEST(test_fragmented)
{
	const uint32_t	 size = 2 * (REASM_MAX_RANGES + 500);
	struct frames	 fs = { 0 }, bits = { 0 };
	struct reasm	*r = NULL;
	struct msg	*m;
	int		 dup, fragmented = 0;
	uint32_t	 have;

	/* 1-byte chunks at every other offset. */
	for (uint32_t off = 0; off < size; off += 2)
		put_frame(&bits, 15, 1, 0, size, size, 0, off, 1);
	for (size_t i = 0; i < bits.n; i++) {
		enum drop_reason why;

		have = r ? r->have : 0;
		why = add(&r, &bits.d[i], 1, &dup);
		if (i < REASM_MAX_RANGES) {
			REQUIRE(why == DROP_NONE);
			REQUIRE(r->have == have + 1);
		} else {
			REQUIRE(why == DROP_FRAGMENTED);
			REQUIRE(r->have == have);
			fragmented++;
		}
		REQUIRE(r->nranges <= REASM_MAX_RANGES);
	}
	ck_assert_int_eq(fragmented, 500);
	ck_assert_uint_eq(r->nranges, REASM_MAX_RANGES);
	ck_assert(!reasm_complete(r));

	/* The sender's own frames still complete it, byte-exact. */
	cut(&fs, 15, &size, 1);
	for (size_t i = 0; i < fs.n; i++)
		ck_assert_int_eq(add(&r, &fs.d[i], 2, &dup), DROP_NONE);
	ck_assert(reasm_complete(r));
	ck_assert_uint_eq(r->nranges, 1);
	m = reasm_finish(r);
	check_msg(m, 15, &size, 1);
	msg_free(m);
	frames_free(&fs);
	frames_free(&bits);
}
END_TEST

START_TEST(test_fragmented_free)
{
	/* Give up on a holey message: freeing it leaks nothing. */
	const uint32_t	 size = 4 * REASM_MAX_RANGES;
	struct frames	 bits = { 0 };
	struct reasm	*r = NULL;
	int		 dup, n = 0;

	/* Ranges [4k, 4k+1), inserted last first. */
	for (uint32_t off = size; off >= 4; off -= 4) {
		put_frame(&bits, 16, 1, 0, size, size, 0, off - 4, 1);
		if (add(&r, &bits.d[bits.n - 1], 1, &dup) == DROP_FRAGMENTED)
			n++;
	}
	ck_assert_int_eq(n, 0);			/* exactly at the limit */
	ck_assert_uint_eq(r->nranges, REASM_MAX_RANGES);
	put_frame(&bits, 16, 1, 0, size, size, 0, 2, 1);
	ck_assert_int_eq(add(&r, &bits.d[bits.n - 1], 1, &dup),
	    DROP_FRAGMENTED);
	/* Extending a range needs no new one. */
	put_frame(&bits, 16, 1, 0, size, size, 0, 1, 2);
	ck_assert_int_eq(add(&r, &bits.d[bits.n - 1], 1, &dup), DROP_NONE);
	ck_assert_uint_eq(r->nranges, REASM_MAX_RANGES);
	/* Filling a hole merges two ranges and makes room again. */
	put_frame(&bits, 16, 1, 0, size, size, 0, 2, 2);
	ck_assert_int_eq(add(&r, &bits.d[bits.n - 1], 1, &dup), DROP_NONE);
	ck_assert_int_eq(dup, 0);
	ck_assert_uint_eq(r->nranges, REASM_MAX_RANGES - 1);
	ck_assert_uint_eq(r->have, REASM_MAX_RANGES + 3);
	put_frame(&bits, 16, 1, 0, size, size, 0, 6, 1);
	ck_assert_int_eq(add(&r, &bits.d[bits.n - 1], 1, &dup), DROP_NONE);
	ck_assert_uint_eq(r->nranges, REASM_MAX_RANGES);
	reasm_free(r);
	frames_free(&bits);
}
END_TEST

static Suite *
reasm_suite(void)
{
	Suite	*s = suite_create("reasm");
	TCase	*tc;
	int	 nsingle = sizeof(single_sizes) / sizeof(single_sizes[0]);

	tc = tcase_create("in_order");
	tcase_add_loop_test(tc, test_single_part, 0, nsingle);
	tcase_add_loop_test(tc, test_single_part_reversed, 0, nsingle);
	tcase_add_test(tc, test_multipart_in_order);
	tcase_add_test(tc, test_multipart_empty_parts);
	suite_add_tcase(s, tc);

	tc = tcase_create("out_of_order");
	tcase_add_test(tc, test_out_of_order_reversed);
	tcase_add_test(tc, test_out_of_order_shuffled);
	tcase_add_test(tc, test_parts_out_of_order_chunks_in_order);
	suite_add_tcase(s, tc);

	tc = tcase_create("bad");
	tcase_add_test(tc, test_duplicates);
	tcase_add_test(tc, test_duplicate_subrange);
	tcase_add_test(tc, test_inconsistent);
	tcase_add_test(tc, test_part_sum);
	tcase_add_test(tc, test_part_sum_too_small);
	tcase_add_test(tc, test_fragmented);
	tcase_add_test(tc, test_memory_follows_bytes);
	tcase_add_test(tc, test_fragmented_free);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init(LOG_ERR, 1);
	return run_suite(reasm_suite());
}
