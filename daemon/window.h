/* SPDX-License-Identifier: ISC */
/*
 * window.h: the receiver's window for dealer streams between nbmq daemons
 * (window.c, PROTOCOL.md 4.7).  Included by nbmqd.h; needs nbmq_time.
 */
#ifndef WINDOW_H
#define WINDOW_H

#define WIN_MAX_MSGS	65536		/* a grant is clamped to it */
#define WIN_KBUF	(208 << 10)	/* Linux's default SO_RCVBUF */
#define WIN_INIT_MSGS	128		/* before the first grant */
#define WIN_INIT_BYTES	(256 << 10)

/* A message begun towards the peer and not yet seen by it. */
struct win_ent {
	uint64_t	 id;
	uint32_t	 size;
	nbmq_time	 at;
};

struct win {
	/* sending side: messages begun and not yet covered by a grant */
	struct win_ent	*ring;
	uint32_t	 cap, head, n;
	uint64_t	 bytes;		/* of the n */
	uint8_t		 granted;	/* a grant arrived */
	uint8_t		 seen_valid;	/* the last grant had a seen */
	uint64_t	 seen;		/* the last grant's */
	uint32_t	 room_msgs;	/* what it allows past seen */
	uint64_t	 room_bytes;
	uint64_t	 grants_rx;	/* grants taken */
	/* receiving side */
	uint8_t		 rx_seen_valid;
	uint64_t	 rx_seen;	/* newest message begun from the peer */
	uint8_t		 sent_valid;	/* the last grant sent had a seen */
	uint64_t	 sent_seen;	/* the last grant sent */
	uint32_t	 sent_msgs, sent_bytes;
	uint32_t	 since_msgs;	/* begun since the last grant sent */
	uint64_t	 since_bytes;
	nbmq_time	 sent_at;
	uint64_t	 grants_tx;
};

/* Sending side. */
/* 1: a new message of size bytes may begin now. */
int		 win_open(const struct win *, uint64_t size);
/* A message of size bytes begins: 0, or -1 (no memory: not tracked). */
int		 win_begin(struct win *, uint64_t id, uint32_t size,
		    nbmq_time now);
/* A grant: the peer has begun every message up to *seen (NULL: none
 * yet) and has room for msgs messages and bytes bytes more. */
void		 win_grant(struct win *, const uint64_t *seen, uint32_t msgs,
		    uint32_t bytes);
/* Messages begun ttl ago and never seen are taken as lost. */
void		 win_expire(struct win *, nbmq_time now, nbmq_time ttl);
/* When a closed window may open by itself (win_expire); NEVER if not. */
nbmq_time	 win_wait(const struct win *, nbmq_time ttl);
void		 win_free(struct win *);
/* Receiving side: a new message id from the peer. */
void		 win_seen(struct win *, uint64_t id, uint32_t size);

#endif
