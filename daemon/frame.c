/* SPDX-License-Identifier: ISC */
/*
 * frame.c: the NBMQ v0.2.0 wire frames (PROTOCOL.md section 1), and the
 * extension's Hello and Batch (section 4.3).
 */
#include <string.h>

#include "nbmqd.h"

const char *const drop_reason_names[DROP_NREASONS] = {
	[DROP_NONE] = "none",
	[DROP_SHORT] = "short",
	[DROP_VERSION] = "bad_version",
	[DROP_LENGTH] = "bad_length",
	[DROP_PART_INDEX] = "bad_part_index",
	[DROP_CHUNK_RANGE] = "bad_chunk_range",
	[DROP_PART_SIZE] = "bad_part_size",
	[DROP_OVERSIZE] = "oversize",
	[DROP_INCONSISTENT] = "inconsistent",
	[DROP_PART_SUM] = "bad_part_sum",
	[DROP_FRAGMENTED] = "fragmented",
	[DROP_UNKNOWN_KIND] = "unknown_kind",
	[DROP_ENCRYPTED] = "encrypted",
	[DROP_UNKNOWN_SESSION] = "unknown_session",
	[DROP_NOT_BOUND] = "connect_not_bound",
	[DROP_MAX_PEERS] = "max_peers",
	[DROP_RECV_HWM] = "recv_hwm",
	[DROP_DUPLICATE] = "duplicate",
	[DROP_REASM_TIMEOUT] = "reassembly_timeout",
	[DROP_NO_RECV] = "cannot_receive",
	[DROP_PEER_GONE] = "peer_gone",
	[DROP_SEND_FAILED] = "send_failed",
	[DROP_STUN_MALFORMED] = "stun_malformed",
	[DROP_STUN_FINGERPRINT] = "stun_bad_fingerprint",
	[DROP_STUN_RATE] = "stun_rate_limited",
	[DROP_STUN_UNEXPECTED] = "stun_unexpected",
	[DROP_STUN_REFUSED] = "stun_refused",
	[DROP_PLAIN] = "plain",
	[DROP_CRYPT_AUTH] = "auth_failed",
	[DROP_CRYPT_REPLAY] = "replay",
	[DROP_CRYPT_HANDSHAKE] = "bad_handshake",
	[DROP_CRYPT_DENIED] = "key_not_allowed",
	[DROP_APP_GONE] = "app_gone",
	[DROP_CRYPT_COOKIE] = "under_load",
	[DROP_BAD_ACK] = "bad_ack",
};

uint64_t
fnv1a64(const void *p, size_t len)
{
	const uint8_t	*b = p;
	uint64_t	 h = 0xcbf29ce484222325ULL;

	while (len--) {
		h ^= *b++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint64_t
frame_hash(const uint8_t hdr[FRAME_HDR_SIZE], const uint8_t *rest,
    size_t len)
{
	uint64_t	 h = fnv1a64(hdr, FRAME_HDR_SIZE);

	while (len--) {
		h ^= *rest++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * PROTOCOL.md 4.3, Acks by position: splitmix64's finalizer over the
 * message id, then the part index and chunk offset mixed in; unique for
 * the frames of one message, and as well spread as FNV-1a over the
 * rest, at the cost of a few multiplies instead of one per byte (which
 * was 55% of a safe_dealer daemon's CPU with 1 MiB messages).
 */
uint64_t
frame_pos_key(uint64_t msgid, uint32_t part, uint32_t off)
{
	uint64_t	z = msgid + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return z ^ ((uint64_t)part << 32 | off);
}

static uint64_t
get64(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void
frame_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void
put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = v & 0xff;
		v >>= 8;
	}
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/*
 * The data frame from byte 10 on (rest, len bytes): a kind-0 frame's, or a
 * Batch entry's.  f->session and f->kind are set by the caller.
 */
static enum drop_reason
frame_parse_data(const uint8_t *rest, size_t len, uint64_t max_message_size,
    struct frame *f)
{
	f->msgid = get64(rest);
	f->part_count = rest[8];
	f->part_index = rest[9];
	f->message_size = get32(rest + 10);
	f->part_size = get32(rest + 14);
	f->chunk_size = get16(rest + 18);
	f->chunk_offset = get32(rest + 20);
	f->data = rest + FRAME_ENTRY_HDR_SIZE;
	f->datalen = len - FRAME_ENTRY_HDR_SIZE;

	if (len != (size_t)FRAME_ENTRY_HDR_SIZE + f->chunk_size)
		return DROP_LENGTH;
	if (f->part_count == 0 || f->part_index >= f->part_count)
		return DROP_PART_INDEX;
	if ((uint64_t)f->chunk_offset + f->chunk_size > f->part_size)
		return DROP_CHUNK_RANGE;
	if (f->part_size > f->message_size)
		return DROP_PART_SIZE;
	if (f->message_size > max_message_size)
		return DROP_OVERSIZE;
	return DROP_NONE;
}

/*
 * A Batch's layout: one or more entries (u16 L, then L >= 24 bytes) that
 * fill the datagram exactly.  Anything else is DROP_LENGTH.
 */
static enum drop_reason
frame_parse_batch(const uint8_t *p, size_t len, struct frame *f)
{
	size_t	off = 0, l;

	f->data = p;
	f->datalen = len;
	while (off < len) {
		if (len - off < FRAME_ENTRY_LEN_SIZE)
			return DROP_LENGTH;	/* a stray byte */
		l = get16(p + off);
		off += FRAME_ENTRY_LEN_SIZE;
		if (l < FRAME_ENTRY_HDR_SIZE || l > len - off)
			return DROP_LENGTH;	/* no data header, or past
						   the end */
		off += l;
		f->nentries++;
	}
	return f->nentries == 0 ? DROP_LENGTH : DROP_NONE;
}

/*
 * 4.6: 1 to FRAME_ACKS_MAX ranges of 12 bytes filling the datagram, each
 * of 1 to FRAME_ACKS_COUNT_MAX ids.  Whether a range stays within what
 * was sent is for the sender to judge (safe_acks_in).
 */
static enum drop_reason
frame_parse_acks(const uint8_t *p, size_t len, struct frame *f)
{
	uint32_t	count;

	if (len == 0)
		return DROP_SHORT;
	if (len % FRAME_ACKS_RANGE != 0 ||
	    len / FRAME_ACKS_RANGE > FRAME_ACKS_MAX)
		return DROP_LENGTH;
	f->data = p;
	f->datalen = len;
	f->nranges = (uint32_t)(len / FRAME_ACKS_RANGE);
	for (uint32_t i = 0; i < f->nranges; i++) {
		count = get32(p + i * FRAME_ACKS_RANGE + 8);
		if (count == 0 || count > FRAME_ACKS_COUNT_MAX)
			return DROP_BAD_ACK;
	}
	return DROP_NONE;
}

void
frame_acks_range(const struct frame *f, uint32_t i, uint64_t *lo,
    uint32_t *count)
{
	*lo = get64(f->data + (size_t)i * FRAME_ACKS_RANGE);
	*count = get32(f->data + (size_t)i * FRAME_ACKS_RANGE + 8);
}

enum drop_reason
frame_parse(const uint8_t *buf, size_t len, uint64_t max_message_size,
    struct frame *f)
{
	memset(f, 0, sizeof(*f));
	if (len < FRAME_HDR_SIZE)
		return DROP_SHORT;
	if (buf[0] != FRAME_VERSION)
		return DROP_VERSION;
	f->kind = buf[1];
	f->session = get64(buf + 2);
	if (f->kind & FRAME_ENCRYPTED)
		return DROP_ENCRYPTED;

	switch (f->kind) {
	case FK_DATA:
		if (len < FRAME_DATA_HDR_SIZE)
			return DROP_SHORT;
		return frame_parse_data(buf + FRAME_HDR_SIZE,
		    len - FRAME_HDR_SIZE, max_message_size, f);
	case FK_ACK:
		if (len < FRAME_HDR_SIZE + 8)
			return DROP_SHORT;
		f->ack = get64(buf + FRAME_HDR_SIZE);
		/* FALLTHROUGH */
	case FK_CONNECT:
	case FK_CONNECTED:
	case FK_DISCONNECTED:
	case FK_HEARTBEAT:
		f->data = buf + FRAME_HDR_SIZE;
		f->datalen = len - FRAME_HDR_SIZE;
		return DROP_NONE;
	case FK_HELLO:
		/* Not ours (another magic, version 0): an unknown kind. */
		if (len < FRAME_HELLO_SIZE)
			return DROP_SHORT;
		if (memcmp(buf + FRAME_HDR_SIZE, FRAME_HELLO_MAGIC, 4) != 0 ||
		    (f->ext_version = get16(buf + 14)) == 0)
			return DROP_UNKNOWN_KIND;
		f->ext_flags = get16(buf + 16);
		f->ext_frame_size = get16(buf + 18);
		/* Bytes after the 20 are a later version's: ignored. */
		f->data = buf + FRAME_HDR_SIZE;
		f->datalen = len - FRAME_HDR_SIZE;
		return DROP_NONE;
	case FK_BATCH:
		return frame_parse_batch(buf + FRAME_HDR_SIZE,
		    len - FRAME_HDR_SIZE, f);
	case FK_SLOW:
		if (len < FRAME_SLOW_SIZE)
			return DROP_SHORT;
		f->dropped = get32(buf + FRAME_HDR_SIZE);
		f->taken_kib = get32(buf + FRAME_HDR_SIZE + 4);
		return DROP_NONE;
	case FK_FLOOR:
		if (len < FRAME_FLOOR_SIZE)
			return DROP_SHORT;
		f->floor = get64(buf + FRAME_HDR_SIZE);
		return DROP_NONE;
	case FK_WINDOW:
		if (len < FRAME_WINDOW_SIZE)
			return DROP_SHORT;
		f->win_seen = get64(buf + FRAME_HDR_SIZE);
		f->win_msgs = get32(buf + FRAME_HDR_SIZE + 8);
		f->win_bytes = get32(buf + FRAME_HDR_SIZE + 12);
		f->win_flags = get16(buf + FRAME_HDR_SIZE + 16);
		return DROP_NONE;
	case FK_ACKS:
		return frame_parse_acks(buf + FRAME_HDR_SIZE,
		    len - FRAME_HDR_SIZE, f);
	default:
		return DROP_UNKNOWN_KIND;
	}
}

int
frame_next_entry(const struct frame *b, size_t *off,
    uint64_t max_message_size, struct frame *e, const uint8_t **entry,
    size_t *entrylen, enum drop_reason *why)
{
	size_t	l;

	if (*off >= b->datalen)
		return 0;
	/* frame_parse() checked the layout: every entry fits. */
	l = get16(b->data + *off);
	memset(e, 0, sizeof(*e));
	e->kind = FK_DATA;
	e->session = b->session;
	*entry = b->data + *off + FRAME_ENTRY_LEN_SIZE;
	*entrylen = l;
	*off += FRAME_ENTRY_LEN_SIZE + l;
	*why = frame_parse_data(*entry, l, max_message_size, e);
	return 1;
}

size_t
frame_put_ctl(uint8_t *buf, uint8_t kind, uint64_t session)
{
	buf[0] = FRAME_VERSION;
	buf[1] = kind;
	put64(buf + 2, session);
	return FRAME_HDR_SIZE;
}

size_t
frame_put_ack(uint8_t *buf, uint64_t session, uint64_t hash)
{
	frame_put_ctl(buf, FK_ACK, session);
	put64(buf + FRAME_HDR_SIZE, hash);
	return FRAME_HDR_SIZE + 8;
}

size_t
frame_put_hello(uint8_t *buf, uint64_t session, uint16_t flags,
    uint16_t ext_frame_size)
{
	frame_put_ctl(buf, FK_HELLO, session);
	memcpy(buf + FRAME_HDR_SIZE, FRAME_HELLO_MAGIC, 4);
	frame_put16(buf + 14, FRAME_EXT_VERSION);
	frame_put16(buf + 16, flags);
	frame_put16(buf + 18, ext_frame_size);
	return FRAME_HELLO_SIZE;
}

size_t
frame_put_entry_hdr(uint8_t *buf, const struct frame *f)
{
	put64(buf, f->msgid);
	buf[8] = f->part_count;
	buf[9] = f->part_index;
	put32(buf + 10, f->message_size);
	put32(buf + 14, f->part_size);
	frame_put16(buf + 18, f->chunk_size);
	put32(buf + 20, f->chunk_offset);
	return FRAME_ENTRY_HDR_SIZE;
}

size_t
frame_put_data_hdr(uint8_t *buf, const struct frame *f)
{
	frame_put_ctl(buf, FK_DATA, f->session);
	frame_put_entry_hdr(buf + FRAME_HDR_SIZE, f);
	return FRAME_DATA_HDR_SIZE;
}

size_t
frame_put_slow(uint8_t *buf, uint64_t session, uint32_t dropped,
    uint32_t taken_kib)
{
	frame_put_ctl(buf, FK_SLOW, session);
	put32(buf + FRAME_HDR_SIZE, dropped);
	put32(buf + FRAME_HDR_SIZE + 4, taken_kib);
	return FRAME_SLOW_SIZE;
}

size_t
frame_put_floor(uint8_t *buf, uint64_t session, uint64_t floor)
{
	frame_put_ctl(buf, FK_FLOOR, session);
	put64(buf + FRAME_HDR_SIZE, floor);
	return FRAME_FLOOR_SIZE;
}

size_t
frame_put_window(uint8_t *buf, uint64_t session, uint64_t seen,
    uint32_t msgs, uint32_t bytes, uint16_t flags)
{
	frame_put_ctl(buf, FK_WINDOW, session);
	put64(buf + FRAME_HDR_SIZE, seen);
	put32(buf + FRAME_HDR_SIZE + 8, msgs);
	put32(buf + FRAME_HDR_SIZE + 12, bytes);
	frame_put16(buf + FRAME_HDR_SIZE + 16, flags);
	return FRAME_WINDOW_SIZE;
}

size_t
frame_put_acks(uint8_t *buf, uint64_t session, const uint64_t *lo,
    const uint32_t *count, uint32_t n)
{
	uint8_t	*r = buf + FRAME_HDR_SIZE;

	frame_put_ctl(buf, FK_ACKS, session);
	for (uint32_t i = 0; i < n; i++, r += FRAME_ACKS_RANGE) {
		put64(r, lo[i]);
		put32(r + 8, count[i]);
	}
	return FRAME_HDR_SIZE + (size_t)n * FRAME_ACKS_RANGE;
}
