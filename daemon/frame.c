/* frame.c: the NBMQ v0.2.0 wire frames (PROTOCOL.md section 1). */
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
		break;
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
	default:
		return DROP_UNKNOWN_KIND;
	}

	if (len < FRAME_DATA_HDR_SIZE)
		return DROP_SHORT;
	f->msgid = get64(buf + 10);
	f->part_count = buf[18];
	f->part_index = buf[19];
	f->message_size = get32(buf + 20);
	f->part_size = get32(buf + 24);
	f->chunk_size = (uint16_t)(buf[28] << 8 | buf[29]);
	f->chunk_offset = get32(buf + 30);
	f->data = buf + FRAME_DATA_HDR_SIZE;
	f->datalen = len - FRAME_DATA_HDR_SIZE;

	if (len != (size_t)FRAME_DATA_HDR_SIZE + f->chunk_size)
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
frame_put_data_hdr(uint8_t *buf, const struct frame *f)
{
	frame_put_ctl(buf, FK_DATA, f->session);
	put64(buf + 10, f->msgid);
	buf[18] = f->part_count;
	buf[19] = f->part_index;
	put32(buf + 20, f->message_size);
	put32(buf + 24, f->part_size);
	buf[28] = f->chunk_size >> 8;
	buf[29] = f->chunk_size & 0xff;
	put32(buf + 30, f->chunk_offset);
	return FRAME_DATA_HDR_SIZE;
}
