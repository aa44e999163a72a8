/* SPDX-License-Identifier: ISC */
/*
 * nbmq_encryptor.h: the interface of an nbmq encryptor, version 1.
 *
 * An encryptor seals every frame a socket sends to a peer and opens every
 * frame it receives, with per-session keys agreed in a handshake that rides
 * in the Connect and Connected frames (PROTOCOL.md section 4.2).  nbmqd has
 * two built in, `none` (plain v0.2.0 frames: no encryptor at all) and
 * `sodium`; a shared object that exports
 *
 *	const struct nbmq_encryptor nbmq_encryptor = { NBMQ_ENCRYPTOR_ABI, ... };
 *
 * is loaded with `encryptor = /path/to/plugin.so` in a [socket NAME]
 * section.  examples/encryptor_xor.c is a complete (and deliberately
 * insecure) one.
 *
 * What nbmqd does, so the encryptor does not have to:
 *
 *  - Frames.  Every frame of an encrypted socket has the high bit of its
 *    kind set (0x80 | kind).  Its first NBMQ_ENC_HDR (10) bytes, version,
 *    kind and session id, stay clear: they route the frame to its session.
 *    nbmqd sets the 0x80 bit before it calls seal(), and hands the clear
 *    header to seal() and open() as associated data: the encryptor must
 *    authenticate it.  Everything after it is the encryptor's.
 *  - Sessions.  One session state per peer session, created with
 *    session_new() for each handshake and freed with session_free().
 *  - Handshake.  The connecting side (NBMQ_ENC_INITIATOR) calls hs_write()
 *    for the data of its Connect, then hs_read() on the data of the
 *    Connected that answers it.  The bound side (NBMQ_ENC_RESPONDER) calls
 *    hs_read() on a Connect, and only if that returned NBMQ_ENC_OK creates
 *    a session and calls hs_write() for the data of its Connected.  After
 *    the initiator's hs_read() or the responder's hs_write() succeeded,
 *    the session seals and opens.  The connecting side then sends a
 *    Heartbeat: the bound side's first sealed frame from it.
 *  - Liveness and addresses.  A peer's address follows it (NAT rebinding)
 *    only after open() returned NBMQ_ENC_OK for a frame from the new one.
 *  - Counting.  Every status other than NBMQ_ENC_OK drops the frame and is
 *    counted by reason (nbmqctl sockets / peers / stats).
 *
 * What the encryptor must do:
 *
 *  - Never print, log or exit: say why in the `why` buffer of create(), and
 *    with the status of the other calls.
 *  - Leave a session unchanged when hs_read() or open() fails: a forged or
 *    damaged frame must not break the real one that may follow.
 *  - Protect against replays itself (open() returns NBMQ_ENC_REPLAY).
 *  - Keep key material away from everything it returns, `who` included.
 *
 * Every call of one socket happens on nbmqd's one thread, never two at a
 * time.  `now` is a monotonic clock in nanoseconds, never going backwards.
 *
 * Versions (bump NBMQ_ENCRYPTOR_ABI when a field or a call changes; nbmqd
 * refuses an encryptor built against another version):
 *	1	the first one.
 */
#ifndef NBMQ_ENCRYPTOR_H
#define NBMQ_ENCRYPTOR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NBMQ_ENCRYPTOR_ABI	1
#define NBMQ_ENCRYPTOR_SYMBOL	"nbmq_encryptor"	/* what nbmqd dlsym()s */
#define NBMQ_ENC_HDR		10	/* the clear header: version, kind, id */
#define NBMQ_ENC_WHO_MAX	64	/* the who buffer of hs_read() */

/* What hs_read(), open() and rekey() return. */
enum nbmq_enc_status {
	NBMQ_ENC_OK = 0,
	NBMQ_ENC_BAD = 1,	/* malformed, or failed authentication */
	NBMQ_ENC_REPLAY = 2,	/* seen already, or too old to tell */
	NBMQ_ENC_DENIED = 3,	/* handshake: the peer is not allowed */
	NBMQ_ENC_FAIL = 4,	/* a local failure: memory, nonces used up */
	/* open(): authentic and not a replay, but older than the newest
	 * frame accepted (released late, or overtaken): it is used, and it
	 * never moves the session to its source address.  An encryptor
	 * that never says it (NBMQ_ENC_OK for all) lets every frame move
	 * the session, as before. */
	NBMQ_ENC_OK_LATE = 5,
};

enum nbmq_enc_role {
	NBMQ_ENC_INITIATOR = 1,	/* connecting: writes Connect, reads Connected */
	NBMQ_ENC_RESPONDER = 2,	/* bound: reads Connect, writes Connected */
};

/* The socket's configuration keys, as written (NULL when not set). */
struct nbmq_enc_config {
	uint32_t	 abi;		/* NBMQ_ENCRYPTOR_ABI of nbmqd */
	const char	*socket;	/* the socket's name, for messages */
	int		 bound;		/* 1: bound (responder), 0: connecting */
	uint32_t	 max_frame_size;	/* of the socket */
	const char	*private_key_file;	/* private_key_file = */
	const char	*peers;		/* peers = KEY[, KEY...] */
	const char	*peers_file;	/* peers_file = */
};

struct nbmq_encryptor {
	uint32_t	 abi;		/* NBMQ_ENCRYPTOR_ABI it was built for */
	uint32_t	 size;		/* sizeof(struct nbmq_encryptor) */
	const char	*name;		/* for messages, e.g. "sodium" */
	uint32_t	 overhead;	/* seal() adds at most this many bytes */
	uint32_t	 handshake_max;	/* longest data of a Connect/Connected */

	/*
	 * One instance per socket: read keys, check them.  Returns the
	 * instance, or NULL with a one-line reason in why (never a key).
	 */
	void	*(*create)(const struct nbmq_enc_config *, char *why,
		    size_t whylen);
	void	 (*destroy)(void *enc);

	/* A session state for one handshake; NULL when out of memory. */
	void	*(*session_new)(void *enc, enum nbmq_enc_role);
	void	 (*session_free)(void *sess);

	/*
	 * Write this side's handshake message (the data of Connect or
	 * Connected) after the clear header hdr, into out (cap bytes, at
	 * least handshake_max).  Returns NBMQ_ENC_OK with *outlen, or a
	 * status.
	 */
	int	 (*hs_write)(void *sess, const uint8_t hdr[NBMQ_ENC_HDR],
		    uint8_t *out, size_t cap, size_t *outlen);
	/*
	 * Read the other side's handshake message in (len bytes) that came
	 * after the clear header hdr.  On NBMQ_ENC_OK, and on NBMQ_ENC_DENIED
	 * when the peer said who it is, who (NBMQ_ENC_WHO_MAX bytes) names
	 * the peer for the log: a fingerprint, never a whole key.
	 */
	int	 (*hs_read)(void *sess, const uint8_t hdr[NBMQ_ENC_HDR],
		    const uint8_t *in, size_t len, char *who, size_t wholen);

	/*
	 * Seal in place: frame[0..NBMQ_ENC_HDR) is the clear header (kind
	 * has 0x80 set), frame[NBMQ_ENC_HDR..len) the plain rest.  Writes the
	 * sealed rest after the header; the frame may grow to cap bytes.
	 * Returns the new length, or 0 when it cannot seal (the frame is
	 * not sent).
	 */
	size_t	 (*seal)(void *sess, uint8_t *frame, size_t len, size_t cap,
		    uint64_t now);
	/*
	 * Open frame (len bytes, its clear header first): the plain rest
	 * goes to out (room for len bytes, never overlapping frame), its
	 * length to *outlen.  Returns NBMQ_ENC_OK, NBMQ_ENC_OK_LATE, or
	 * why not.
	 */
	int	 (*open)(void *sess, const uint8_t *frame, size_t len,
		    uint8_t *out, size_t *outlen, uint64_t now);

	/* Optional (NULL): seal with fresh keys from the next frame on. */
	int	 (*rekey)(void *sess, uint64_t now);
};

#ifdef __cplusplus
}
#endif

#endif /* NBMQ_ENCRYPTOR_H */
