/* SPDX-License-Identifier: ISC */
/*
 * test_frame.c: unit tests of frame.c (the v0.2.0 wire format, PROTOCOL.md
 * section 1, and the extension's Hello and Batch, section 4.3) and addr.c
 * ("host:port" parsing and address helpers).
 *
 * Expected datagrams are written out byte by byte from PROTOCOL.md, never
 * produced by the code under test.
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"
#include "unit.h"

#define MAXMSG	(16U << 20)

/* fnv1a64 */

START_TEST(test_fnv1a64_vectors)
{
	ck_assert_uint_eq(fnv1a64("", 0), 0xcbf29ce484222325ULL);
	ck_assert_uint_eq(fnv1a64("a", 1), 0xaf63dc4c8601ec8cULL);
	ck_assert_uint_eq(fnv1a64("foobar", 6), 0x85944171f73967e8ULL);
	/* A NUL byte counts like any other. */
	ck_assert_uint_ne(fnv1a64("a\0", 2), fnv1a64("a", 1));
}
END_TEST

/* Encoding */

START_TEST(test_put_ctl_bytes)
{
	static const uint8_t want[] = {
		0x01, 0x04, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
	};
	static const uint8_t want_connect[] = {
		0x01, 0x01, 0, 0, 0, 0, 0, 0, 0, 0,
	};
	uint8_t	buf[64];

	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(frame_put_ctl(buf, FK_HEARTBEAT,
	    0x0123456789abcdefULL), 10);
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_uint_eq(buf[10], 0xee);	/* nothing written past it */

	ck_assert_uint_eq(frame_put_ctl(buf, FK_CONNECT, 0), 10);
	ck_assert_mem_eq(buf, want_connect, sizeof(want_connect));
}
END_TEST

START_TEST(test_put_ack_bytes)
{
	static const uint8_t want[] = {
		0x01, 0x05,
		0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10,
		0xcb, 0xf2, 0x9c, 0xe4, 0x84, 0x22, 0x23, 0x25,
	};
	uint8_t	buf[64];

	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(frame_put_ack(buf, 0xfedcba9876543210ULL,
	    0xcbf29ce484222325ULL), 18);
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_uint_eq(buf[18], 0xee);
}
END_TEST

START_TEST(test_put_data_hdr_bytes)
{
	static const uint8_t want[34] = {
		0x01, 0x00,				/* version, kind */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* session */
		0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, /* msgid */
		0x03,					/* part_count */
		0x02,					/* part_index */
		0x00, 0x01, 0x86, 0xa0,			/* message_size 100000 */
		0x00, 0x00, 0xc3, 0x50,			/* part_size 50000 */
		0x01, 0xd2,				/* chunk_size 466 */
		0x00, 0x00, 0x07, 0x48,			/* chunk_offset 1864 */
	};
	struct frame	f;
	uint8_t		buf[64];

	memset(&f, 0, sizeof(f));
	f.kind = FK_DATA;
	f.session = 0x1122334455667788ULL;
	f.msgid = 0xa1a2a3a4a5a6a7a8ULL;
	f.part_count = 3;
	f.part_index = 2;
	f.message_size = 100000;
	f.part_size = 50000;
	f.chunk_size = 466;
	f.chunk_offset = 1864;
	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(frame_put_data_hdr(buf, &f), 34);
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_uint_eq(buf[34], 0xee);
}
END_TEST

/* Parsing */

/* A valid data frame, written by hand; payload bytes 0, 1, 2, ... */
static size_t
mkdata(uint8_t *b, uint8_t count, uint8_t index, uint32_t msize,
    uint32_t psize, uint16_t csize, uint32_t coff)
{
	memset(b, 0, FRAME_DATA_HDR_SIZE);
	b[0] = 0x01;
	b[1] = 0x00;
	b[2] = 0xde; b[3] = 0xad; b[4] = 0xbe; b[5] = 0xef;
	b[6] = 0x00; b[7] = 0x00; b[8] = 0x00; b[9] = 0x07;
	b[10] = 0x10; b[17] = 0x2a;
	b[18] = count;
	b[19] = index;
	b[20] = msize >> 24; b[21] = msize >> 16; b[22] = msize >> 8;
	b[23] = msize;
	b[24] = psize >> 24; b[25] = psize >> 16; b[26] = psize >> 8;
	b[27] = psize;
	b[28] = csize >> 8; b[29] = csize;
	b[30] = coff >> 24; b[31] = coff >> 16; b[32] = coff >> 8;
	b[33] = coff;
	for (int i = 0; i < csize; i++)
		b[34 + i] = (uint8_t)i;
	return FRAME_DATA_HDR_SIZE + csize;
}

START_TEST(test_parse_data_ok)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	n = mkdata(buf, 3, 1, 1000, 600, 466, 100);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_NONE);
	ck_assert_uint_eq(f.kind, FK_DATA);
	ck_assert_uint_eq(f.session, 0xdeadbeef00000007ULL);
	ck_assert_uint_eq(f.msgid, 0x100000000000002aULL);
	ck_assert_uint_eq(f.part_count, 3);
	ck_assert_uint_eq(f.part_index, 1);
	ck_assert_uint_eq(f.message_size, 1000);
	ck_assert_uint_eq(f.part_size, 600);
	ck_assert_uint_eq(f.chunk_size, 466);
	ck_assert_uint_eq(f.chunk_offset, 100);
	ck_assert_ptr_eq(f.data, buf + 34);
	ck_assert_uint_eq(f.datalen, 466);

	/* Boundaries that are still valid. */
	n = mkdata(buf, 1, 0, 0, 0, 0, 0);		/* empty message */
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_NONE);
	ck_assert_uint_eq(f.datalen, 0);
	n = mkdata(buf, 255, 254, 10, 10, 10, 0);	/* last of 255 parts */
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_NONE);
	n = mkdata(buf, 2, 0, 100, 100, 40, 60);	/* chunk ends at part end */
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_NONE);
	n = mkdata(buf, 1, 0, 500, 500, 0, 500);	/* empty chunk at the end */
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_NONE);
	n = mkdata(buf, 1, 0, 1000, 1000, 0, 0);	/* message == max */
	ck_assert_int_eq(frame_parse(buf, n, 1000, &f), DROP_NONE);
}
END_TEST

START_TEST(test_parse_ctl_ok)
{
	uint8_t		buf[64];
	struct frame	f;

	for (uint8_t k = FK_CONNECT; k <= FK_HEARTBEAT; k++) {
		frame_put_ctl(buf, k, 0x0102030405060708ULL);
		ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f), DROP_NONE);
		ck_assert_uint_eq(f.kind, k);
		ck_assert_uint_eq(f.session, 0x0102030405060708ULL);
		ck_assert_uint_eq(f.datalen, 0);
	}
	/* Connect may carry a handshake after the header. */
	frame_put_ctl(buf, FK_CONNECT, 0);
	memcpy(buf + 10, "hello", 5);
	ck_assert_int_eq(frame_parse(buf, 15, MAXMSG, &f), DROP_NONE);
	ck_assert_uint_eq(f.datalen, 5);
	ck_assert_mem_eq(f.data, "hello", 5);

	frame_put_ack(buf, 77, 0x8877665544332211ULL);
	ck_assert_int_eq(frame_parse(buf, 18, MAXMSG, &f), DROP_NONE);
	ck_assert_uint_eq(f.kind, FK_ACK);
	ck_assert_uint_eq(f.session, 77);
	ck_assert_uint_eq(f.ack, 0x8877665544332211ULL);
}
END_TEST

START_TEST(test_parse_short)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	frame_put_ctl(buf, FK_HEARTBEAT, 1);
	ck_assert_int_eq(frame_parse(buf, 0, MAXMSG, &f), DROP_SHORT);
	ck_assert_int_eq(frame_parse(buf, 1, MAXMSG, &f), DROP_SHORT);
	ck_assert_int_eq(frame_parse(buf, 9, MAXMSG, &f), DROP_SHORT);
	/* A data frame needs its 34-byte header. */
	n = mkdata(buf, 1, 0, 0, 0, 0, 0);
	ck_assert_uint_eq(n, 34);
	ck_assert_int_eq(frame_parse(buf, 33, MAXMSG, &f), DROP_SHORT);
	ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f), DROP_SHORT);
}
END_TEST

START_TEST(test_parse_ack_short)
{
	uint8_t		buf[64];
	struct frame	f;

	frame_put_ack(buf, 5, 6);
	ck_assert_int_eq(frame_parse(buf, 17, MAXMSG, &f), DROP_SHORT);
	ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f), DROP_SHORT);
	ck_assert_int_eq(frame_parse(buf, 18, MAXMSG, &f), DROP_NONE);
}
END_TEST

START_TEST(test_parse_bad_version)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	frame_put_ctl(buf, FK_HEARTBEAT, 1);
	buf[0] = 0x00;
	ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f), DROP_VERSION);
	buf[0] = 0x02;
	ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f), DROP_VERSION);
	n = mkdata(buf, 1, 0, 10, 10, 10, 0);
	buf[0] = 0xff;
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_VERSION);
}
END_TEST

START_TEST(test_parse_bad_length)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	n = mkdata(buf, 1, 0, 100, 100, 100, 0);
	ck_assert_int_eq(frame_parse(buf, n - 1, MAXMSG, &f), DROP_LENGTH);
	ck_assert_int_eq(frame_parse(buf, n + 1, MAXMSG, &f), DROP_LENGTH);
	ck_assert_int_eq(frame_parse(buf, 34, MAXMSG, &f), DROP_LENGTH);
	/* chunk_size 0 with trailing bytes */
	n = mkdata(buf, 1, 0, 100, 100, 0, 0);
	ck_assert_int_eq(frame_parse(buf, n + 5, MAXMSG, &f), DROP_LENGTH);
}
END_TEST

START_TEST(test_parse_bad_part_index)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	n = mkdata(buf, 3, 3, 100, 10, 10, 0);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_PART_INDEX);
	n = mkdata(buf, 1, 255, 100, 10, 10, 0);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_PART_INDEX);
	n = mkdata(buf, 3, 2, 100, 10, 10, 0);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_NONE);
}
END_TEST

START_TEST(test_parse_part_count_zero)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	n = mkdata(buf, 0, 0, 10, 10, 10, 0);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_PART_INDEX);
}
END_TEST

START_TEST(test_parse_bad_chunk_range)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	n = mkdata(buf, 1, 0, 100, 100, 10, 91);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_CHUNK_RANGE);
	n = mkdata(buf, 1, 0, 100, 50, 51, 0);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_CHUNK_RANGE);
	n = mkdata(buf, 1, 0, 100, 100, 0, 101);	/* empty, past the end */
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_CHUNK_RANGE);
	/* 32-bit wrap-around of offset + size must not pass. */
	n = mkdata(buf, 1, 0, 100, 100, 10, 0xfffffffcU);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_CHUNK_RANGE);
}
END_TEST

START_TEST(test_parse_bad_part_size)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	n = mkdata(buf, 2, 0, 100, 101, 10, 0);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_PART_SIZE);
	n = mkdata(buf, 1, 0, 0, 1, 1, 0);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_PART_SIZE);
}
END_TEST

START_TEST(test_parse_oversize)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	n = mkdata(buf, 1, 0, 1001, 10, 10, 0);
	ck_assert_int_eq(frame_parse(buf, n, 1000, &f), DROP_OVERSIZE);
	n = mkdata(buf, 1, 0, 0xffffffffU, 10, 10, 0);
	ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f), DROP_OVERSIZE);
}
END_TEST

START_TEST(test_parse_encrypted)
{
	uint8_t		buf[600];
	struct frame	f;
	size_t		n;

	for (uint8_t k = 0; k <= FK_ACK; k++) {
		n = k == FK_DATA ? mkdata(buf, 1, 0, 10, 10, 10, 0) :
		    frame_put_ack(buf, 1, 2);
		buf[1] = FRAME_ENCRYPTED | k;
		ck_assert_int_eq(frame_parse(buf, n, MAXMSG, &f),
		    DROP_ENCRYPTED);
	}
	/* Only bytes 0..10 are clear: a sealed frame of header length. */
	frame_put_ctl(buf, FRAME_ENCRYPTED | FK_CONNECT, 0);
	ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f), DROP_ENCRYPTED);
	buf[1] = 0xff;
	ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f), DROP_ENCRYPTED);
}
END_TEST

/*
 * Acks (4.6): whole ranges of 12 bytes filling the datagram, 1 to
 * FRAME_ACKS_MAX of them, each of 1 to FRAME_ACKS_COUNT_MAX ids; the
 * example of PROTOCOL.md byte for byte.
 */
START_TEST(test_parse_acks)
{
	static const uint8_t want[] = {
		0x01, 0x0a, 0, 0, 0, 0, 0, 0, 0, 0x07,
		0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0, 0x03,
		0, 0, 0, 0, 0, 0, 0, 0x20, 0, 0, 0, 0x01,
	};
	uint8_t		buf[FRAME_HDR_SIZE + (FRAME_ACKS_MAX + 1) *
			    FRAME_ACKS_RANGE];
	uint64_t	lo[FRAME_ACKS_MAX + 1] = { 0x10, 0x20 }, l;
	uint32_t	count[FRAME_ACKS_MAX + 1] = { 3, 1 }, c;
	struct frame	f;
	size_t		len;

	len = frame_put_acks(buf, 7, lo, count, 2);
	ck_assert_uint_eq(len, sizeof(want));
	ck_assert_mem_eq(buf, want, len);
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &f), DROP_NONE);
	ck_assert_uint_eq(f.kind, FK_ACKS);
	ck_assert_uint_eq(f.nranges, 2);
	frame_acks_range(&f, 1, &l, &c);
	ck_assert_uint_eq(l, 0x20);
	ck_assert_uint_eq(c, 1);
	/* None, a stray byte, a short range. */
	ck_assert_int_eq(frame_parse(buf, FRAME_HDR_SIZE, MAXMSG, &f),
	    DROP_SHORT);
	ck_assert_int_eq(frame_parse(buf, len - 1, MAXMSG, &f), DROP_LENGTH);
	ck_assert_int_eq(frame_parse(buf, len + 1, MAXMSG, &f), DROP_LENGTH);
	/* Counts of 0 and past the limit; the limit itself. */
	count[1] = 0;
	len = frame_put_acks(buf, 7, lo, count, 2);
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &f), DROP_BAD_ACK);
	count[1] = FRAME_ACKS_COUNT_MAX + 1;
	len = frame_put_acks(buf, 7, lo, count, 2);
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &f), DROP_BAD_ACK);
	count[1] = FRAME_ACKS_COUNT_MAX;
	len = frame_put_acks(buf, 7, lo, count, 2);
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &f), DROP_NONE);
	/* FRAME_ACKS_MAX ranges, and one more. */
	for (int i = 0; i <= FRAME_ACKS_MAX; i++) {
		lo[i] = (uint64_t)i * 10;
		count[i] = 1;
	}
	len = frame_put_acks(buf, 7, lo, count, FRAME_ACKS_MAX);
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &f), DROP_NONE);
	ck_assert_uint_eq(f.nranges, FRAME_ACKS_MAX);
	len = frame_put_acks(buf, 7, lo, count, FRAME_ACKS_MAX + 1);
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &f), DROP_LENGTH);
}
END_TEST

START_TEST(test_parse_unknown_kind)
{
	uint8_t		buf[64];
	struct frame	f;
	static const uint8_t kinds[] = { 12, 0x10, 0x7f };

	memset(buf, 0, sizeof(buf));
	for (size_t i = 0; i < sizeof(kinds); i++) {
		frame_put_ctl(buf, kinds[i], 1);
		ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f),
		    DROP_UNKNOWN_KIND);
		ck_assert_int_eq(frame_parse(buf, 40, MAXMSG, &f),
		    DROP_UNKNOWN_KIND);
	}
	/* Window (4.7): seen, msgs, bytes, byte for byte; or short. */
	ck_assert_uint_eq(frame_put_window(buf, 7, 0x0102030405060708ULL,
	    1000, 0x00200000, FRAME_WINDOW_SEEN), FRAME_WINDOW_SIZE);
	{
		static const uint8_t want[FRAME_WINDOW_SIZE] = {
			0x01, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0x07,
			1, 2, 3, 4, 5, 6, 7, 8,
			0x00, 0x00, 0x03, 0xe8, 0x00, 0x20, 0x00, 0x00,
			0x00, 0x01,
		};

		ck_assert_mem_eq(buf, want, FRAME_WINDOW_SIZE);
	}
	ck_assert_int_eq(frame_parse(buf, FRAME_WINDOW_SIZE, MAXMSG, &f),
	    DROP_NONE);
	ck_assert_uint_eq(f.kind, FK_WINDOW);
	ck_assert_uint_eq(f.win_seen, 0x0102030405060708ULL);
	ck_assert_uint_eq(f.win_msgs, 1000);
	ck_assert_uint_eq(f.win_bytes, 0x00200000);
	ck_assert_uint_eq(f.win_flags, FRAME_WINDOW_SEEN);
	ck_assert_int_eq(frame_parse(buf, FRAME_WINDOW_SIZE - 1, MAXMSG, &f),
	    DROP_SHORT);
	/* Slow (4.4): a count after the header, or short. */
	frame_put_slow(buf, 1, 70000, 12345);
	ck_assert_int_eq(frame_parse(buf, FRAME_SLOW_SIZE, MAXMSG, &f),
	    DROP_NONE);
	ck_assert_uint_eq(f.kind, FK_SLOW);
	ck_assert_uint_eq(f.dropped, 70000);
	ck_assert_int_eq(frame_parse(buf, FRAME_SLOW_SIZE - 1, MAXMSG, &f),
	    DROP_SHORT);
	/* Floor (4.5): a u64 after the header, or short. */
	ck_assert_uint_eq(frame_put_floor(buf, 7, 0x0102030405060708ULL),
	    FRAME_FLOOR_SIZE);
	ck_assert_int_eq(frame_parse(buf, FRAME_FLOOR_SIZE, MAXMSG, &f),
	    DROP_NONE);
	ck_assert_uint_eq(f.kind, FK_FLOOR);
	ck_assert_uint_eq(f.session, 7);
	ck_assert_uint_eq(f.floor, 0x0102030405060708ULL);
	ck_assert_int_eq(frame_parse(buf, FRAME_FLOOR_SIZE - 1, MAXMSG, &f),
	    DROP_SHORT);
	/* Kind 6 without the extension's magic is somebody else's. */
	frame_put_ctl(buf, FK_HELLO, 1);
	ck_assert_int_eq(frame_parse(buf, 40, MAXMSG, &f), DROP_UNKNOWN_KIND);
	ck_assert_int_eq(frame_parse(buf, 10, MAXMSG, &f), DROP_SHORT);
}
END_TEST

/* The extension (PROTOCOL.md 4.3) */

START_TEST(test_put_hello_bytes)
{
	static const uint8_t want[20] = {
		0x01, 0x06,				/* version, kind 6 */
		0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* session */
		'N', 'B', 'X', '1',			/* magic */
		0x00, 0x01,				/* ext_version 1 */
		0x00, 0x01,				/* flags: coalescing */
		0x05, 0xac,				/* ext_frame_size */
	};
	uint8_t		buf[64];
	struct frame	f;

	memset(buf, 0xee, sizeof(buf));
	ck_assert_uint_eq(frame_put_hello(buf, 0x1122334455667788ULL,
	    FRAME_HELLO_COALESCE, 1452), 20);
	ck_assert_mem_eq(buf, want, sizeof(want));
	ck_assert_uint_eq(buf[20], 0xee);
	ck_assert_int_eq(frame_parse(want, 20, MAXMSG, &f), DROP_NONE);
	ck_assert_int_eq(f.kind, FK_HELLO);
	ck_assert_uint_eq(f.session, 0x1122334455667788ULL);
	ck_assert_uint_eq(f.ext_version, 1);
	ck_assert_uint_eq(f.ext_flags, 1);
	ck_assert_uint_eq(f.ext_frame_size, 1452);
	/* A later version may say more: the first 20 bytes are read. */
	memcpy(buf, want, 20);
	buf[15] = 7;
	ck_assert_int_eq(frame_parse(buf, 30, MAXMSG, &f), DROP_NONE);
	ck_assert_uint_eq(f.ext_version, 7);
	/* Short, another magic, version 0. */
	ck_assert_int_eq(frame_parse(want, 19, MAXMSG, &f), DROP_SHORT);
	memcpy(buf, want, 20);
	buf[13] = '2';
	ck_assert_int_eq(frame_parse(buf, 20, MAXMSG, &f), DROP_UNKNOWN_KIND);
	memcpy(buf, want, 20);
	buf[15] = 0;
	ck_assert_int_eq(frame_parse(buf, 20, MAXMSG, &f), DROP_UNKNOWN_KIND);
	/* Encrypted: not for a plain parser. */
	memcpy(buf, want, 20);
	buf[1] |= FRAME_ENCRYPTED;
	ck_assert_int_eq(frame_parse(buf, 20, MAXMSG, &f), DROP_ENCRYPTED);
}
END_TEST

/* Append one entry: bytes 10.. of the data frame (count, index, ...). */
static size_t
put_entry(uint8_t *b, uint8_t count, uint8_t index, uint32_t msize,
    uint32_t psize, uint16_t csize, uint32_t coff)
{
	uint8_t	frame[FRAME_DATA_HDR_SIZE + 600];
	size_t	n = mkdata(frame, count, index, msize, psize, csize, coff);

	b[0] = (uint8_t)((n - 10) >> 8);
	b[1] = (uint8_t)(n - 10);
	memcpy(b + 2, frame + 10, n - 10);
	return 2 + n - 10;
}

START_TEST(test_parse_batch)
{
	uint8_t		 buf[2048], frame[FRAME_DATA_HDR_SIZE + 600];
	struct frame	 b, e, g;
	const uint8_t	*entry;
	size_t		 len, off = 0, elen, flen;
	enum drop_reason why;
	int		 n = 0;

	/* Three entries of session 0xdeadbeef00000007, written by hand. */
	frame_put_ctl(buf, FK_BATCH, 0xdeadbeef00000007ULL);
	len = FRAME_HDR_SIZE;
	len += put_entry(buf + len, 2, 0, 30, 10, 10, 0);
	len += put_entry(buf + len, 2, 1, 30, 20, 20, 0);
	len += put_entry(buf + len, 1, 0, 0, 0, 0, 0);
	ck_assert_uint_eq(buf[10], 0);
	ck_assert_uint_eq(buf[11], 24 + 10);	/* entry length */
	ck_assert_uint_eq(buf[12], 0x10);	/* its message id */
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &b), DROP_NONE);
	ck_assert_int_eq(b.kind, FK_BATCH);
	ck_assert_uint_eq(b.session, 0xdeadbeef00000007ULL);
	ck_assert_uint_eq(b.nentries, 3);
	while (frame_next_entry(&b, &off, MAXMSG, &e, &entry, &elen, &why)) {
		ck_assert_int_eq(why, DROP_NONE);
		ck_assert_int_eq(e.kind, FK_DATA);
		ck_assert_uint_eq(e.session, b.session);
		/* The entry is the data frame from byte 10: same fields,
		 * same hash as the frame alone. */
		flen = n == 0 ? mkdata(frame, 2, 0, 30, 10, 10, 0) :
		    n == 1 ? mkdata(frame, 2, 1, 30, 20, 20, 0) :
		    mkdata(frame, 1, 0, 0, 0, 0, 0);
		ck_assert_uint_eq(elen, flen - 10);
		ck_assert_mem_eq(entry, frame + 10, elen);
		ck_assert_int_eq(frame_parse(frame, flen, MAXMSG, &g),
		    DROP_NONE);
		ck_assert_uint_eq(e.msgid, g.msgid);
		ck_assert_uint_eq(e.part_index, g.part_index);
		ck_assert_uint_eq(e.part_size, g.part_size);
		ck_assert_uint_eq(e.chunk_size, g.chunk_size);
		ck_assert_uint_eq(e.datalen, g.datalen);
		ck_assert_mem_eq(e.data, g.data, g.datalen);
		ck_assert_uint_eq(frame_hash(frame, entry, elen),
		    fnv1a64(frame, flen));
		n++;
	}
	ck_assert_int_eq(n, 3);
	ck_assert_uint_eq(off, len - FRAME_HDR_SIZE);

	/* Layouts that do not fill the datagram exactly: DROP_LENGTH. */
	ck_assert_int_eq(frame_parse(buf, FRAME_HDR_SIZE, MAXMSG, &b),
	    DROP_LENGTH);				/* no entry */
	buf[len] = 0;
	ck_assert_int_eq(frame_parse(buf, len + 1, MAXMSG, &b),
	    DROP_LENGTH);				/* a stray byte */
	buf[len + 1] = 0;
	ck_assert_int_eq(frame_parse(buf, len + 2, MAXMSG, &b),
	    DROP_LENGTH);				/* an entry of 0 */
	ck_assert_int_eq(frame_parse(buf, len - 1, MAXMSG, &b),
	    DROP_LENGTH);				/* past the end */
	buf[10] = 0xff;
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &b), DROP_LENGTH);
	buf[10] = 0;
	buf[11] = 23;					/* no data header */
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &b), DROP_LENGTH);
	buf[11] = 24 + 10;
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &b), DROP_NONE);

	/* A good layout with a bad entry: that entry is dropped alone. */
	len = FRAME_HDR_SIZE;
	len += put_entry(buf + len, 1, 0, 5, 5, 5, 0);
	len += put_entry(buf + len, 2, 2, 5, 5, 5, 0);	/* part_index */
	len += put_entry(buf + len, 1, 0, 5, 5, 5, 1);	/* chunk range */
	len += put_entry(buf + len, 1, 0, 100, 5, 5, 0);
	ck_assert_int_eq(frame_parse(buf, len, 50, &b), DROP_NONE);
	off = 0;
	ck_assert_int_eq(frame_next_entry(&b, &off, 50, &e, &entry, &elen,
	    &why), 1);
	ck_assert_int_eq(why, DROP_NONE);
	ck_assert_int_eq(frame_next_entry(&b, &off, 50, &e, &entry, &elen,
	    &why), 1);
	ck_assert_int_eq(why, DROP_PART_INDEX);
	ck_assert_int_eq(frame_next_entry(&b, &off, 50, &e, &entry, &elen,
	    &why), 1);
	ck_assert_int_eq(why, DROP_CHUNK_RANGE);
	ck_assert_int_eq(frame_next_entry(&b, &off, 50, &e, &entry, &elen,
	    &why), 1);
	ck_assert_int_eq(why, DROP_OVERSIZE);
	ck_assert_int_eq(frame_next_entry(&b, &off, 50, &e, &entry, &elen,
	    &why), 0);
	/* An entry whose chunk_size disagrees with its length. */
	len = FRAME_HDR_SIZE + put_entry(buf + FRAME_HDR_SIZE, 1, 0, 5, 5, 5,
	    0);
	buf[FRAME_HDR_SIZE + 2 + 19] = 4;		/* chunk_size 4 */
	ck_assert_int_eq(frame_parse(buf, len, MAXMSG, &b), DROP_NONE);
	off = 0;
	ck_assert_int_eq(frame_next_entry(&b, &off, MAXMSG, &e, &entry, &elen,
	    &why), 1);
	ck_assert_int_eq(why, DROP_LENGTH);
}
END_TEST

START_TEST(test_put_entry_hdr)
{
	struct frame	f;
	uint8_t		a[64], b[64];

	memset(&f, 0, sizeof(f));
	f.session = 9;
	f.msgid = 0x0102030405060708ULL;
	f.part_count = 4;
	f.part_index = 3;
	f.message_size = 70000;
	f.part_size = 65536;
	f.chunk_size = 1418;
	f.chunk_offset = 64118;
	ck_assert_uint_eq(frame_put_data_hdr(a, &f), 34);
	ck_assert_uint_eq(frame_put_entry_hdr(b, &f), 24);
	ck_assert_mem_eq(a + 10, b, 24);
	frame_put16(b, 0xabcd);
	ck_assert_uint_eq(b[0], 0xab);
	ck_assert_uint_eq(b[1], 0xcd);
}
END_TEST

START_TEST(test_parse_roundtrip)
{
	struct frame	f, g;
	uint8_t		buf[600];

	memset(&f, 0, sizeof(f));
	f.session = 0x8000000000000001ULL;
	f.msgid = 0xffffffffffffffffULL;
	f.part_count = 255;
	f.part_index = 254;
	f.message_size = 70000;
	f.part_size = 65535 + 466;
	f.chunk_size = 466;
	f.chunk_offset = 65535;
	frame_put_data_hdr(buf, &f);
	memset(buf + 34, 0x5a, 466);
	ck_assert_int_eq(frame_parse(buf, 500, MAXMSG, &g), DROP_NONE);
	ck_assert_uint_eq(g.session, f.session);
	ck_assert_uint_eq(g.msgid, f.msgid);
	ck_assert_uint_eq(g.part_count, f.part_count);
	ck_assert_uint_eq(g.part_index, f.part_index);
	ck_assert_uint_eq(g.message_size, f.message_size);
	ck_assert_uint_eq(g.part_size, f.part_size);
	ck_assert_uint_eq(g.chunk_size, f.chunk_size);
	ck_assert_uint_eq(g.chunk_offset, f.chunk_offset);
}
END_TEST

START_TEST(test_drop_reason_names)
{
	for (int i = 0; i < DROP_NREASONS; i++) {
		ck_assert_ptr_nonnull(drop_reason_names[i]);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(drop_reason_names[i],
			    drop_reason_names[j]);
	}
}
END_TEST

/* addr.c */

START_TEST(test_addr_parse_v4)
{
	struct nbaddr	a;
	char		host[256];
	uint16_t	port = 0;

	ck_assert_int_eq(addr_parse("127.0.0.1:7000", &a, host, sizeof(host),
	    &port), 0);
	ck_assert_int_eq(a.u.sa.sa_family, AF_INET);
	ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(ntohs(a.u.sin.sin_port), 7000);
	ck_assert_uint_eq(ntohl(a.u.sin.sin_addr.s_addr), 0x7f000001);
	ck_assert_int_eq(addr_parse("0.0.0.0:0", &a, host, sizeof(host),
	    &port), 0);
	ck_assert_int_eq(addr_parse("255.255.255.255:65535", &a, host,
	    sizeof(host), &port), 0);
	ck_assert_uint_eq(ntohs(a.u.sin.sin_port), 65535);
}
END_TEST

START_TEST(test_addr_parse_v6)
{
	struct nbaddr	a;
	char		host[256];
	uint16_t	port = 0;
	static const uint8_t lo[16] = { [15] = 1 };

	ck_assert_int_eq(addr_parse("[::1]:7000", &a, host, sizeof(host),
	    &port), 0);
	ck_assert_int_eq(a.u.sa.sa_family, AF_INET6);
	ck_assert_uint_eq(a.len, sizeof(struct sockaddr_in6));
	ck_assert_uint_eq(ntohs(a.u.sin6.sin6_port), 7000);
	ck_assert_mem_eq(&a.u.sin6.sin6_addr, lo, 16);
	ck_assert_int_eq(addr_parse("[2001:db8::42]:1", &a, host,
	    sizeof(host), &port), 0);
	ck_assert_int_eq(addr_parse("[::ffff:10.0.0.1]:9", &a, host,
	    sizeof(host), &port), 0);
	ck_assert_int_eq(a.u.sa.sa_family, AF_INET6);
}
END_TEST

START_TEST(test_addr_parse_name)
{
	struct nbaddr	a;
	char		host[256];
	uint16_t	port = 0;

	ck_assert_int_eq(addr_parse("localhost:80", &a, host, sizeof(host),
	    &port), 1);
	ck_assert_str_eq(host, "localhost");
	ck_assert_uint_eq(port, 80);
	ck_assert_int_eq(addr_parse("stun.example-1.org:3478", &a, host,
	    sizeof(host), &port), 1);
	ck_assert_str_eq(host, "stun.example-1.org");
	ck_assert_uint_eq(port, 3478);
	/* A name that does not fit, or nowhere to put it. */
	ck_assert_int_eq(addr_parse("localhost:80", &a, host, 9, &port), -1);
	ck_assert_int_eq(addr_parse("localhost:80", &a, host, 10, &port), 1);
	ck_assert_int_eq(addr_parse("localhost:80", &a, NULL, 0, &port), -1);
}
END_TEST

START_TEST(test_addr_parse_bad)
{
	static const char *const bad[] = {
		"1.2.3.4", "::1:80", "[::1]80", ":80", "host:99999",
		"host:-1", "a b:1", "", ":", "host:", "[::1]:", "[::1",
		"[]:80", "host:80x", "host:+80", "[localhost]:80",
		"1.2.3.4:65536", "ho/st:1", "host: 80",
	};
	struct nbaddr	a;
	char		host[256];
	uint16_t	port;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(addr_parse(bad[i], &a, host, sizeof(host),
		    &port) == -1, "accepted \"%s\"", bad[i]);
}
END_TEST

START_TEST(test_addr_parse_too_long)
{
	char		*s = malloc(NBMQ_IPC_MAX_STRING + 10);
	char		 host[NBMQ_IPC_MAX_STRING + 10];
	struct nbaddr	 a;
	uint16_t	 port;

	memset(s, 'a', NBMQ_IPC_MAX_STRING + 2);
	strcpy(s + NBMQ_IPC_MAX_STRING + 2, ":80");
	ck_assert_int_eq(addr_parse(s, &a, host, sizeof(host), &port), -1);
	free(s);
}
END_TEST

static struct nbaddr
A(const char *text)
{
	struct nbaddr	a;

	ck_assert_int_eq(addr_parse(text, &a, NULL, 0, NULL), 0);
	return a;
}

START_TEST(test_addr_eq_hash)
{
	struct nbaddr	a = A("10.0.0.1:1000"), b = A("10.0.0.1:1000");
	struct nbaddr	c = A("10.0.0.1:1001"), d = A("10.0.0.2:1000");
	struct nbaddr	e = A("[::1]:1000"), f = A("[::1]:1000");
	struct nbaddr	g = A("[::2]:1000"), h = A("[::ffff:10.0.0.1]:1000");
	struct nbaddr	none;

	ck_assert(addr_eq(&a, &b));
	ck_assert_uint_eq(addr_hash(&a), addr_hash(&b));
	ck_assert(!addr_eq(&a, &c));
	ck_assert(!addr_eq(&a, &d));
	ck_assert_uint_ne(addr_hash(&a), addr_hash(&c));
	ck_assert_uint_ne(addr_hash(&a), addr_hash(&d));
	ck_assert(addr_eq(&e, &f));
	ck_assert_uint_eq(addr_hash(&e), addr_hash(&f));
	ck_assert(!addr_eq(&e, &g));
	ck_assert_uint_ne(addr_hash(&e), addr_hash(&g));
	ck_assert(!addr_eq(&a, &h));	/* v4-mapped is another family */
	ck_assert(!addr_eq(&h, &a));

	memset(&none, 0, sizeof(none));
	ck_assert(!addr_eq(&none, &none));
	ck_assert_uint_eq(addr_hash(&none), 0);

	/* Padding and junk beyond the address do not matter. */
	memset(&b, 0xa5, sizeof(b));
	b.u.sin.sin_family = AF_INET;
	b.u.sin.sin_port = a.u.sin.sin_port;
	b.u.sin.sin_addr = a.u.sin.sin_addr;
	ck_assert(addr_eq(&a, &b));
	ck_assert_uint_eq(addr_hash(&a), addr_hash(&b));
}
END_TEST

START_TEST(test_addr_fmt_roundtrip)
{
	static const char *const texts[] = {
		"127.0.0.1:7000", "10.0.0.2:2000", "0.0.0.0:0",
		"[::1]:7000", "[2001:db8::42]:65535", "[fe80::1]:1",
	};
	char		buf[128];
	struct nbaddr	a, b;

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		a = A(texts[i]);
		addr_fmt(&a, buf, sizeof(buf));
		ck_assert_str_eq(buf, texts[i]);
		ck_assert_str_eq(addr_str(&a), texts[i]);
		b = A(buf);
		ck_assert(addr_eq(&a, &b));
		ck_assert_uint_eq(addr_hash(&a), addr_hash(&b));
	}
	memset(&a, 0, sizeof(a));
	addr_fmt(&a, buf, sizeof(buf));
	ck_assert_str_eq(buf, "(none)");
	/* A short buffer is cut, NUL-terminated. */
	a = A("127.0.0.1:7000");
	addr_fmt(&a, buf, 6);
	ck_assert_str_eq(buf, "127.0");
}
END_TEST

static Suite *
frame_suite(void)
{
	Suite	*s = suite_create("frame");
	TCase	*tc;

	tc = tcase_create("fnv");
	tcase_add_test(tc, test_fnv1a64_vectors);
	suite_add_tcase(s, tc);

	tc = tcase_create("encode");
	tcase_add_test(tc, test_put_ctl_bytes);
	tcase_add_test(tc, test_put_ack_bytes);
	tcase_add_test(tc, test_put_data_hdr_bytes);
	suite_add_tcase(s, tc);

	tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_data_ok);
	tcase_add_test(tc, test_parse_ctl_ok);
	tcase_add_test(tc, test_parse_short);
	tcase_add_test(tc, test_parse_ack_short);
	tcase_add_test(tc, test_parse_bad_version);
	tcase_add_test(tc, test_parse_bad_length);
	tcase_add_test(tc, test_parse_bad_part_index);
	tcase_add_test(tc, test_parse_part_count_zero);
	tcase_add_test(tc, test_parse_bad_chunk_range);
	tcase_add_test(tc, test_parse_bad_part_size);
	tcase_add_test(tc, test_parse_oversize);
	tcase_add_test(tc, test_parse_encrypted);
	tcase_add_test(tc, test_parse_unknown_kind);
	tcase_add_test(tc, test_parse_acks);
	tcase_add_test(tc, test_put_hello_bytes);
	tcase_add_test(tc, test_parse_batch);
	tcase_add_test(tc, test_put_entry_hdr);
	tcase_add_test(tc, test_parse_roundtrip);
	tcase_add_test(tc, test_drop_reason_names);
	suite_add_tcase(s, tc);

	tc = tcase_create("addr");
	tcase_add_test(tc, test_addr_parse_v4);
	tcase_add_test(tc, test_addr_parse_v6);
	tcase_add_test(tc, test_addr_parse_name);
	tcase_add_test(tc, test_addr_parse_bad);
	tcase_add_test(tc, test_addr_parse_too_long);
	tcase_add_test(tc, test_addr_eq_hash);
	tcase_add_test(tc, test_addr_fmt_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	log_init(LOG_ERR, 1);
	return run_suite(frame_suite());
}
