/* SPDX-License-Identifier: ISC */
/*
 * sockout.c: the one way out of a socket.  Every datagram the core sends
 * takes an outbox slot (sock_slot), is written there and leaves through
 * sock_out(), which seals it for its peer (crypt_out) and counts it once;
 * data frames to a peer that said Hello are packed into Batch datagrams
 * built in place (sock_put_frame, sock_batch_close).  Below session.c,
 * safe.c, pace.c, stun.c and sock.c, which all send through it; it calls
 * crypt.c, outbox.c and frame.c, and the shell through s->ops->flush.
 */
#include <string.h>

#include "nbmqd.h"

/*
 * What an Ack of data frame f says (hdr and the rest of its bytes): its
 * position with a peer that acks by position (PROTOCOL.md 4.3), else the
 * FNV-1a-64 of the frame.
 */
uint64_t
sock_ack_key(const struct peer *p, const struct frame *f,
    const uint8_t hdr[FRAME_HDR_SIZE], const uint8_t *rest, size_t len)
{
	if (p->ext_flags & FRAME_HELLO_ACKPOS)
		return frame_pos_key(f->msgid, f->part_index, f->chunk_offset);
	return frame_hash(hdr, rest, len);
}

uint8_t *
sock_slot(struct sock *s, const struct nbaddr *to)
{
	uint8_t	*b;

	sock_batch_close(s);	/* it holds the next slot */
	if ((b = outbox_slot(&s->ob, to)) == NULL) {
		s->ops->flush(s->arg, s);
		b = outbox_slot(&s->ob, to);
	}
	return b;
}

int
sock_out(struct sock *s, struct peer *p, enum out_how how, uint32_t len,
    nbmq_time now)
{
	struct outbox	*ob = &s->ob;
	uint8_t		*b = ob->buf + (size_t)ob->n * ob->slot_size;
	uint8_t		 kind = b[1];

	if (s->crypt != NULL && how != OUT_PLAIN && (len = (uint32_t)crypt_out(
	    s, p, how, b, len, ob->slot_size, now)) == 0) {
		s->st.drops[DROP_SEND_FAILED]++;
		return -1;
	}
	outbox_commit(ob, len);
	s->st.tx_datagrams++;
	if (p != NULL && kind == FK_ACK)
		p->st.acks_tx++;
	else if (p != NULL && kind == FK_SLOW)
		p->pace.slows_tx++;
	return 0;
}

uint32_t
sock_frame_size(const struct sock *s, const struct peer *p)
{
	uint64_t	fs = s->o.max_frame_size;

	if ((p->ext_flags & FRAME_HELLO_COALESCE) && p->frame_size > fs)
		fs = p->frame_size;
	return (uint32_t)fs;
}

uint32_t
sock_max_chunk(const struct sock *s, const struct peer *p)
{
	return sock_frame_size(s, p) - FRAME_DATA_HDR_SIZE - s->seal_overhead;
}

size_t
sock_slot_need(const struct sock *s, const struct sockopts *o)
{
	const struct peer	*p;
	size_t			 need = o->max_frame_size;

	TAILQ_FOREACH(p, &s->peers, entry)
		if ((p->ext_flags & FRAME_HELLO_COALESCE) &&
		    p->frame_size > need)
			need = p->frame_size;
	return need;
}

uint32_t
sock_grow_frames(struct sock *s, uint32_t want)
{
	sock_batch_close(s);
	if (outbox_grow(&s->ob, want) == -1) {
		log_warn("socket %s: frames of %u bytes", s->name, want);
		return (uint32_t)s->ob.slot_size;
	}
	return want;
}

void
sock_batch_close(struct sock *s)
{
	struct batch	*bt = &s->bt;
	struct peer	*p = bt->p;
	uint32_t	 len = bt->len;

	if (p == NULL)
		return;
	bt->p = NULL;
	if (bt->n == 1) {
		/* One entry: the data frame it stands for, as v0.2.0 has it. */
		len -= FRAME_ENTRY_LEN_SIZE;
		bt->b[1] = FK_DATA;
		memmove(bt->b + FRAME_HDR_SIZE, bt->b + FRAME_HDR_SIZE +
		    FRAME_ENTRY_LEN_SIZE, len - FRAME_HDR_SIZE);
	}
	/* Sealed after the entries' hashes were taken. */
	(void)sock_out(s, p, OUT_SEALED, len, bt->now);
}

int
sock_put_frame(struct sock *s, struct peer *p, const struct msg *m,
    uint32_t part, uint32_t off, uint32_t base, uint32_t chunk,
    nbmq_time now, uint64_t *hash)
{
	struct batch	*bt = &s->bt;
	struct frame	 f;
	uint32_t	 body = FRAME_ENTRY_HDR_SIZE + chunk, cap;
	uint8_t		*b, *e;

	memset(&f, 0, sizeof(f));
	f.session = p->session;
	f.msgid = m->id;
	f.part_count = (uint8_t)m->nparts;
	f.part_index = (uint8_t)part;
	f.message_size = m->size;
	f.part_size = m->partsz[part];
	f.chunk_size = (uint16_t)chunk;
	f.chunk_offset = off;

	if (bt->p != NULL && (bt->p != p ||
	    bt->len + FRAME_ENTRY_LEN_SIZE + body > bt->cap))
		sock_batch_close(s);
	if (bt->p == NULL) {
		if ((b = sock_slot(s, &p->addr)) == NULL)
			return -1;
		cap = sock_frame_size(s, p) - s->seal_overhead;
		/* A Batch while a second (empty) entry could still join. */
		if ((p->ext_flags & FRAME_HELLO_COALESCE) &&
		    FRAME_HDR_SIZE + 2 * (FRAME_ENTRY_LEN_SIZE +
		    FRAME_ENTRY_HDR_SIZE) + chunk <= cap) {
			frame_put_ctl(b, FK_BATCH, p->session);
			bt->p = p;
			bt->b = b;
			bt->len = FRAME_HDR_SIZE;
			bt->cap = cap;
			bt->n = 0;
			bt->now = now;
		} else {
			/* Alone: the plain data frame. */
			frame_put_ctl(b, FK_DATA, p->session);
			e = b + FRAME_HDR_SIZE;
			frame_put_entry_hdr(e, &f);
			memcpy(e + FRAME_ENTRY_HDR_SIZE, m->data + base + off,
			    chunk);
			if (hash != NULL)
				*hash = sock_ack_key(p, &f, b, e, body);
			/* One that cannot be sealed is lost on the way:
			 * safe_dealer sends it again. */
			(void)sock_out(s, p, OUT_SEALED, FRAME_HDR_SIZE + body,
			    now);
			return 0;
		}
	}
	e = bt->b + bt->len;
	frame_put16(e, (uint16_t)body);
	e += FRAME_ENTRY_LEN_SIZE;
	frame_put_entry_hdr(e, &f);
	memcpy(e + FRAME_ENTRY_HDR_SIZE, m->data + base + off, chunk);
	bt->len += FRAME_ENTRY_LEN_SIZE + body;
	bt->n++;
	if (hash != NULL) {
		uint8_t	hdr[FRAME_HDR_SIZE];

		frame_put_ctl(hdr, FK_DATA, p->session);
		*hash = sock_ack_key(p, &f, hdr, e, body);
	}
	return 0;
}
