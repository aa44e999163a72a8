/* SPDX-License-Identifier: ISC */
/*
 * crypt_sodium.c: the built-in `sodium` encryptor (nbmq_encryptor.h) on
 * libsodium.
 *
 * Keys.  Every socket has a static X25519 key pair (private_key_file, the
 * base64 of 32 random bytes, nbmqd's user's with mode 0600, or a systemd
 * credential, read by cryptconf.c and given to crypt_sodium_new()) and an
 * allow-list of peers' public keys (peers, peers_file).  A bound socket accepts a Connect
 * only from a key on its list; a connecting socket sends its Connect to a
 * key on its list (the first; the next one on each new attempt, so a list
 * of several servers works) and so talks to nobody else.
 *
 * Handshake: Noise IK in shape (the initiator knows the responder's
 * static key), on X25519, BLAKE2b and ChaCha20-Poly1305-IETF.  h is a
 * running hash of everything said, ck the chaining key; MixKey(dh) is
 * (ck, k) = BLAKE2b-512(key = ck, dh).
 *
 *   Connect data (108 bytes), initiator i -> responder r:
 *	h = H(H(NAME) || S_r);  h = H(h || clear header)
 *	E_i                       h = H(h || E_i)
 *	MixKey(DH(e_i, S_r))      AEAD(k, S_i)  48 bytes, AD h; h = H(h || c)
 *	MixKey(DH(s_i, S_r))      AEAD(k, ts)   28 bytes, AD h; h = H(h || c)
 *	mac1                      16 bytes (below)
 *   ts is TAI64N-like (seconds, nanoseconds of the wall clock) and must be
 *   newer than the last one accepted from S_i: a replayed Connect is
 *   refused (it could otherwise replace the session of a peer behind the
 *   same address).
 *
 *   mac1, as WireGuard's: BLAKE2b-128(key = BLAKE2b-256("mac1----" ||
 *   S_r), clear header || the 108 bytes before it).  Only who knows the
 *   responder's public key can make it, and the responder checks it
 *   before any public-key work: a Connect of garbage costs it one hash,
 *   not an X25519 operation (110k garbage Connects a second once let it
 *   refuse only 15k, and a legitimate peer's round trip went from 435 us
 *   to 17.3 ms, issue 15).
 *
 *   Cookies under load, as WireGuard's (in shape; PROTOCOL.md 4.2).  A
 *   Connect that passes mac1 costs the responder an X25519 operation, so
 *   a flooder that knows its public key could still take its CPU.  The
 *   responder allows HS_BURST such handshakes at once and one per HS_COST
 *   after; past that it is under load for LOAD_HOLD, and then answers a
 *   Connect with a cookie reply instead of any public-key work, unless
 *   the Connect carries a valid mac2:
 *	cookie = BLAKE2b-128(key = R, source address and port), R a random
 *	secret replaced every COOKIE_ROTATE (the last two are accepted)
 *	mac2 = BLAKE2b-128(key = cookie, clear header || 108 bytes || mac1),
 *	appended to the Connect (140 bytes instead of 124)
 *	cookie reply: a Connected with session id 0 (which no session has),
 *	data nonce (24) || XChaCha20-Poly1305(key = BLAKE2b-256("cookie--"
 *	|| S_r), cookie, AD = its clear header || mac1 of the Connect) (56)
 *   A source with a valid mac2 still gets at most MAC2_SRC_BURST
 *   handshakes at once and MAC2_SRC_RATE a second under load (a bucket
 *   per hash of its address and port), as WireGuard's rate limiter: a
 *   flooder that reads its cookie buys no more than that.
 *   The initiator opens it with its pending Connect's mac1, keeps the
 *   cookie, and sends a new Connect at once (to the same key) with mac2:
 *   one extra round trip.  A flood from spoofed addresses never sees the
 *   cookies of its addresses, so it costs one hash and one small answer
 *   a Connect, never an X25519 operation (issue 15).
 *
 *   Connected data (48 bytes), r -> i, its clear header carries the new
 *   session id:
 *	h = H(h || clear header)
 *	E_r                       h = H(h || E_r)
 *	MixKey(DH(e_r, E_i)), MixKey(DH(e_r, S_i))
 *	AEAD(k, "")               16 bytes, AD h: the responder has s_r
 *
 *   Then (k_i->r, k_r->i) = BLAKE2b-512(key = ck, "").  The ephemeral
 *   keys (ee, and es/se) make the session keys unrecoverable from the
 *   static keys later: forward secrecy.  The initiator proves itself with
 *   its first sealed frame (the Heartbeat that follows Connected).
 *
 * Frames: clear header (10, the AD) | n (8, big-endian) | sealed rest |
 * tag (16): 24 bytes of overhead.  n is (epoch << 40 | counter); the
 * AEAD nonce is 4 zero bytes and n, little-endian.  Each direction has its
 * own key.
 *
 * Rekey: a sender moves to the next epoch, key' = BLAKE2b(key = key,
 * "nbmq sodium rekey"), after REKEY_AFTER_TIME or REKEY_AFTER_MSGS frames
 * (or when told, rekey()), and forgets the old key.  The receiver follows
 * when a frame of a later epoch opens, and keeps the previous epoch's key
 * and window for frames still on their way.
 *
 * Replays: per epoch a sliding window (RFC 6479) of REPLAY_BITS bits, a
 * frame checked before it is opened and recorded after.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "nbmqd.h"
#include "nbmq_encryptor.h"
#include "crypt_sodium.h"

#define SOD_NAME	"nbmq sodium v1: IK X25519 ChaChaPoly BLAKE2b"
#define SOD_KEY		32
#define SOD_HASH	32
#define SOD_TAG		crypto_aead_chacha20poly1305_ietf_ABYTES
#define SOD_TS		12
#define SOD_NONCE	8
#define SOD_OVERHEAD	(SOD_NONCE + SOD_TAG)
#define SOD_MAC		16
#define SOD_HS1_BODY	(SOD_KEY + SOD_KEY + SOD_TAG + SOD_TS + SOD_TAG)
#define SOD_HS1		(SOD_HS1_BODY + SOD_MAC)
#define SOD_HS2		(SOD_KEY + SOD_TAG)
#define SOD_COOKIE	16
#define SOD_XNONCE	crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define SOD_REPLY	(SOD_XNONCE + SOD_COOKIE + SOD_TAG)
#define SOD_HS1_MAC2	(SOD_HS1 + SOD_MAC)
#define SOD_HDR		NBMQ_ENC_HDR

#define EPOCH_SHIFT		40
#define COUNTER_MASK		((1ULL << EPOCH_SHIFT) - 1)
#define EPOCH_MAX		((1ULL << (64 - EPOCH_SHIFT)) - 1)
#define EPOCH_SKIP_MAX		8	/* epochs a receiver catches up at once */
#define REKEY_AFTER_TIME	(120 * NSEC)
#define REKEY_AFTER_MSGS	(1ULL << 39)

#define COOKIE_ROTATE		(120 * NSEC)	/* a new cookie secret */
#define HS_COST			(10 * 1000000ULL)	/* a handshake a 10 ms */
#define HS_BURST		100		/* handshakes at once */
#define LOAD_HOLD		NSEC		/* cookies only, once over */
#define MAC2_SOURCES		64	/* buckets of sources (hashed) */
#define MAC2_SRC_RATE		5.0	/* handshakes a second with mac2 */
#define MAC2_SRC_BURST		10.0

#define REPLAY_WORDS		32	/* a power of two */
#define REPLAY_BITS		(REPLAY_WORDS * 64)

_Static_assert(SOD_HS1 == 124 && SOD_HS2 == 48 && SOD_REPLY == 56 &&
    SOD_HS1_MAC2 == 140, "handshake sizes");

/* X25519 operations done (tests: a garbage Connect must cost none). */
uint64_t	crypt_sodium_dh_ops;
_Static_assert((REPLAY_WORDS & (REPLAY_WORDS - 1)) == 0, "REPLAY_WORDS");

struct sod_peer {
	uint8_t		 pub[SOD_KEY];
	uint8_t		 ts[SOD_TS];	/* last accepted Connect's */
};

struct sod {
	uint8_t		*priv;		/* sodium_malloc: guarded, locked */
	uint8_t		 pub[SOD_KEY];
	struct sod_peer	*peers;
	size_t		 npeers, cap;
	int		 bound;
	unsigned int	 attempt;	/* connecting: whose key to try next */
	uint8_t		 last_ts[SOD_TS];	/* ours, strictly increasing */
	uint8_t		 mac1_key[SOD_HASH];	/* ours, for Connects to us */
	void		(*wallclock)(struct timespec *);	/* the shell's */
	/* bound: cookies under load */
	uint8_t		 cookie_key[SOD_HASH];	/* ours, for cookie replies */
	uint8_t		 secret[SOD_HASH], secret_prev[SOD_HASH];
	uint64_t	 secret_at;	/* when made; 0 none yet */
	uint64_t	 credit, credit_at;	/* handshake budget, in ns */
	uint64_t	 loaded_until;	/* under load before then */
	struct tokens	 mac2_src[MAC2_SOURCES];	/* under load */
	/* connecting: the cookie of a responder under load */
	uint8_t		 cookie[SOD_COOKIE];
	uint8_t		 cookie_for[SOD_KEY];	/* its key */
	int		 has_cookie, cookie_retry;
};

struct replay {
	uint64_t	 top;		/* highest counter recorded */
	uint64_t	 bits[REPLAY_WORDS];
};

struct rx_epoch {
	int		 valid;
	uint64_t	 epoch;
	uint8_t		 key[SOD_KEY];
	struct replay	 win;
};

enum sod_state {
	SOD_NEW,
	SOD_SENT,		/* initiator: Connect written */
	SOD_READ,		/* responder: Connect read */
	SOD_UP,			/* keys agreed */
	SOD_DEAD,		/* out of epochs: seals nothing */
};

struct sod_sess {
	struct sod	*enc;
	enum nbmq_enc_role role;
	enum sod_state	 state;
	/* handshake */
	uint8_t		 ck[SOD_HASH], h[SOD_HASH];
	uint8_t		 e_priv[SOD_KEY], e_pub[SOD_KEY];
	uint8_t		 re[SOD_KEY];	/* remote ephemeral */
	uint8_t		 rs[SOD_KEY];	/* remote static */
	uint8_t		 mac1[SOD_MAC];	/* initiator: of its Connect */
	/* sending */
	uint8_t		 tx_key[SOD_KEY];
	uint64_t	 tx_epoch, tx_ctr;
	uint64_t	 tx_since;	/* epoch start; 0 before the first seal */
	int		 tx_rekey;	/* rekey() asked for it */
	/* receiving */
	struct rx_epoch	 rx, rx_prev;
};

static void
sod_put64be(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static uint64_t
sod_get64be(const uint8_t *p)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

static void
sod_nonce(uint8_t nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES],
    uint64_t n)
{
	memset(nonce, 0, crypto_aead_chacha20poly1305_ietf_NPUBBYTES);
	for (int i = 0; i < 8; i++, n >>= 8)
		nonce[4 + i] = n & 0xff;
}

/* A key as base64 (crypt.c decodes): here, below crypt.c, which calls
 * this file. */
void
crypt_key_encode(const uint8_t key[CRYPT_KEY_SIZE],
    char out[CRYPT_KEY_B64 + 1])
{
	sodium_bin2base64(out, CRYPT_KEY_B64 + 1, key, CRYPT_KEY_SIZE,
	    sodium_base64_VARIANT_ORIGINAL);
}

/* "key AbCdEfGh...": enough to tell keys apart, never a whole key. */
static void
sod_who(const uint8_t pub[SOD_KEY], char *who, size_t len)
{
	char	b64[CRYPT_KEY_B64 + 1];

	if (who == NULL || len == 0)
		return;
	crypt_key_encode(pub, b64);
	snprintf(who, len, "key %.8s...", b64);
}

/* Noise's MixHash and MixKey on BLAKE2b. */
static void
sod_mix_hash(uint8_t h[SOD_HASH], const uint8_t *d, size_t len)
{
	crypto_generichash_state	st;

	crypto_generichash_init(&st, NULL, 0, SOD_HASH);
	crypto_generichash_update(&st, h, SOD_HASH);
	crypto_generichash_update(&st, d, len);
	crypto_generichash_final(&st, h, SOD_HASH);
}

static void
sod_mix_key(uint8_t ck[SOD_HASH], uint8_t k[SOD_KEY], const uint8_t *ikm,
    size_t len)
{
	uint8_t	t[64];

	crypto_generichash(t, sizeof(t), ikm, len, ck, SOD_HASH);
	memcpy(ck, t, SOD_HASH);
	memcpy(k, t + SOD_HASH, SOD_KEY);
	sodium_memzero(t, sizeof(t));
}

/* MixKey(DH(priv, pub)); -1 for a low-order point (an all-zero result). */
static int
sod_mix_dh(uint8_t ck[SOD_HASH], uint8_t k[SOD_KEY], const uint8_t *priv,
    const uint8_t *pub)
{
	uint8_t	dh[crypto_scalarmult_BYTES];
	int	r;

	crypt_sodium_dh_ops++;
	if ((r = crypto_scalarmult(dh, priv, pub)) == 0)
		sod_mix_key(ck, k, dh, sizeof(dh));
	sodium_memzero(dh, sizeof(dh));
	return r == 0 ? 0 : -1;
}

/* BLAKE2b-256(label || pub): the keys of mac1 and of cookie replies. */
static void
sod_label_key(uint8_t key[SOD_HASH], const char label[8],
    const uint8_t pub[SOD_KEY])
{
	crypto_generichash_state	st;

	crypto_generichash_init(&st, NULL, 0, SOD_HASH);
	crypto_generichash_update(&st, (const uint8_t *)label, 8);
	crypto_generichash_update(&st, pub, SOD_KEY);
	crypto_generichash_final(&st, key, SOD_HASH);
}

/* The key of mac1 for Connects to the holder of static key pub. */
static void
sod_mac1_key(uint8_t key[SOD_HASH], const uint8_t pub[SOD_KEY])
{
	sod_label_key(key, "mac1----", pub);
}

/* mac1 of a Connect: its clear header and handshake body. */
static void
sod_mac1(uint8_t mac[SOD_MAC], const uint8_t key[SOD_HASH],
    const uint8_t hdr[SOD_HDR], const uint8_t *body)
{
	crypto_generichash_state	st;

	crypto_generichash_init(&st, key, SOD_HASH, SOD_MAC);
	crypto_generichash_update(&st, hdr, SOD_HDR);
	crypto_generichash_update(&st, body, SOD_HS1_BODY);
	crypto_generichash_final(&st, mac, SOD_MAC);
}

/* mac2 of a Connect: its clear header, handshake body and mac1. */
static void
sod_mac2(uint8_t mac[SOD_MAC], const uint8_t cookie[SOD_COOKIE],
    const uint8_t hdr[SOD_HDR], const uint8_t *body)
{
	crypto_generichash_state	st;

	crypto_generichash_init(&st, cookie, SOD_COOKIE, SOD_MAC);
	crypto_generichash_update(&st, hdr, SOD_HDR);
	crypto_generichash_update(&st, body, SOD_HS1);
	crypto_generichash_final(&st, mac, SOD_MAC);
}

static void
sod_hs_init(uint8_t ck[SOD_HASH], uint8_t h[SOD_HASH],
    const uint8_t rs[SOD_KEY], const uint8_t hdr[SOD_HDR])
{
	crypto_generichash(ck, SOD_HASH, (const uint8_t *)SOD_NAME,
	    sizeof(SOD_NAME) - 1, NULL, 0);
	memcpy(h, ck, SOD_HASH);
	sod_mix_hash(h, rs, SOD_KEY);
	sod_mix_hash(h, hdr, SOD_HDR);
}

static void
sod_enc(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t k[SOD_KEY],
    const uint8_t h[SOD_HASH])
{
	uint8_t	nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	sod_nonce(nonce, 0);
	crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, mlen, h,
	    SOD_HASH, NULL, nonce, k);
}

static int
sod_dec(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t k[SOD_KEY],
    const uint8_t h[SOD_HASH])
{
	uint8_t	nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];

	sod_nonce(nonce, 0);
	return crypto_aead_chacha20poly1305_ietf_decrypt(m, NULL, NULL, c,
	    clen, h, SOD_HASH, nonce, k);
}

static void
sod_split(struct sod_sess *x)
{
	uint8_t	t[64];

	crypto_generichash(t, sizeof(t), NULL, 0, x->ck, SOD_HASH);
	memcpy(x->tx_key, x->role == NBMQ_ENC_INITIATOR ? t : t + 32, SOD_KEY);
	memcpy(x->rx.key, x->role == NBMQ_ENC_INITIATOR ? t + 32 : t,
	    SOD_KEY);
	sodium_memzero(t, sizeof(t));
	x->rx.valid = 1;
	x->rx.epoch = 0;
	memset(&x->rx.win, 0, sizeof(x->rx.win));
	x->tx_epoch = x->tx_ctr = x->tx_since = 0;
	sodium_memzero(x->ck, sizeof(x->ck));
	sodium_memzero(x->h, sizeof(x->h));
	sodium_memzero(x->e_priv, sizeof(x->e_priv));
	x->state = SOD_UP;
}

static void
sod_ratchet(uint8_t key[SOD_KEY])
{
	static const char	label[] = "nbmq sodium rekey";

	crypto_generichash(key, SOD_KEY, (const uint8_t *)label,
	    sizeof(label) - 1, key, SOD_KEY);
}

/* Replay window (RFC 6479): may counter c still be accepted? */
static int
replay_ok(const struct replay *r, uint64_t c)
{
	if (c > r->top)
		return 1;
	if (r->top - c >= REPLAY_BITS - 64)
		return 0;		/* older than the window */
	return !(r->bits[(c >> 6) & (REPLAY_WORDS - 1)] & (1ULL << (c & 63)));
}

static void
replay_record(struct replay *r, uint64_t c)
{
	uint64_t	cur = r->top >> 6, idx = c >> 6, d;

	if (c > r->top) {
		d = idx - cur;
		if (d > REPLAY_WORDS)
			d = REPLAY_WORDS;
		for (uint64_t i = 1; i <= d; i++)
			r->bits[(cur + i) & (REPLAY_WORDS - 1)] = 0;
		r->top = c;
	}
	r->bits[idx & (REPLAY_WORDS - 1)] |= 1ULL << (c & 63);
}

/* The socket. */

static int
sod_add_peer(void *arg, const uint8_t *key)
{
	struct sod	*sd = arg;
	struct sod_peer	*v;
	size_t		 i;

	for (i = 0; i < sd->npeers; i++)
		if (sodium_memcmp(sd->peers[i].pub, key, SOD_KEY) == 0)
			return 0;	/* listed twice */
	if (sd->npeers == sd->cap) {
		sd->cap = sd->cap ? sd->cap * 2 : 8;
		if ((v = reallocarray(sd->peers, sd->cap, sizeof(*v))) == NULL)
			return -1;
		sd->peers = v;
	}
	memset(&sd->peers[sd->npeers], 0, sizeof(sd->peers[0]));
	memcpy(sd->peers[sd->npeers].pub, key, SOD_KEY);
	sd->npeers++;
	return 0;
}

static void
sod_destroy(void *enc)
{
	struct sod	*sd = enc;

	if (sd == NULL)
		return;
	if (sd->priv != NULL)
		sodium_free(sd->priv);
	free(sd->peers);
	free(sd);
}

/*
 * The built-in encryptor with the keys the shell read (crypt_sodium_create,
 * cryptconf.c): the private key and npeers public keys, and the wall clock
 * its Connect timestamps read.  NULL with why.
 */
void *
crypt_sodium_new(const uint8_t priv[CRYPT_KEY_SIZE], const uint8_t *peers,
    size_t npeers, int bound, void (*wallclock)(struct timespec *), char *why,
    size_t whylen)
{
	struct sod	*sd;
	size_t		 i;

	if (sodium_init() < 0) {
		snprintf(why, whylen, "libsodium cannot start");
		return NULL;
	}
	if ((sd = calloc(1, sizeof(*sd))) == NULL ||
	    (sd->priv = sodium_malloc(SOD_KEY)) == NULL) {
		free(sd);
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	sd->bound = bound;
	sd->wallclock = wallclock;
	memcpy(sd->priv, priv, SOD_KEY);
	for (i = 0; i < npeers; i++)
		if (sod_add_peer(sd, peers + i * SOD_KEY) != 0) {
			snprintf(why, whylen, "out of memory");
			sod_destroy(sd);
			return NULL;
		}
	if (sd->npeers == 0) {
		snprintf(why, whylen, "no peers: list the public keys it may "
		    "talk to in peers or peers_file");
		sod_destroy(sd);
		return NULL;
	}
	crypto_scalarmult_base(sd->pub, sd->priv);
	sod_mac1_key(sd->mac1_key, sd->pub);
	sod_label_key(sd->cookie_key, "cookie--", sd->pub);
	sodium_mprotect_readonly(sd->priv);
	return sd;
}

static void *
sod_session_new(void *enc, enum nbmq_enc_role role)
{
	struct sod_sess	*x;

	if ((x = calloc(1, sizeof(*x))) == NULL)
		return NULL;
	x->enc = enc;
	x->role = role;
	x->state = SOD_NEW;
	return x;
}

static void
sod_session_free(void *sess)
{
	if (sess == NULL)
		return;
	sodium_memzero(sess, sizeof(struct sod_sess));
	free(sess);
}

/* Our Connect timestamp: the wall clock, and always newer than the last. */
static void
sod_timestamp(struct sod *sd, uint8_t ts[SOD_TS])
{
	struct timespec	 t;
	int		 i;

	sd->wallclock(&t);
	sod_put64be(ts, (uint64_t)t.tv_sec);
	for (i = 0; i < 4; i++)
		ts[8 + i] = ((uint32_t)t.tv_nsec >> (24 - 8 * i)) & 0xff;
	if (memcmp(ts, sd->last_ts, SOD_TS) <= 0) {
		memcpy(ts, sd->last_ts, SOD_TS);
		for (i = SOD_TS - 1; i >= 0 && ++ts[i] == 0; i--)
			;
	}
	memcpy(sd->last_ts, ts, SOD_TS);
}

static int
sod_hs_write(void *sess, const uint8_t hdr[SOD_HDR], uint8_t *out,
    size_t cap, size_t *outlen)
{
	struct sod_sess	*x = sess;
	struct sod	*sd = x->enc;
	uint8_t		 k[SOD_KEY], ts[SOD_TS];
	uint8_t		*o = out;

	if (x->role == NBMQ_ENC_INITIATOR && x->state == SOD_NEW) {
		if (cap < SOD_HS1)
			return NBMQ_ENC_FAIL;
		if (sd->cookie_retry)	/* again, to the key that asked */
			memcpy(x->rs, sd->cookie_for, SOD_KEY);
		else
			memcpy(x->rs, sd->peers[sd->attempt++ %
			    sd->npeers].pub, SOD_KEY);
		sd->cookie_retry = 0;
		sod_hs_init(x->ck, x->h, x->rs, hdr);
		crypto_box_keypair(x->e_pub, x->e_priv);
		memcpy(o, x->e_pub, SOD_KEY);
		sod_mix_hash(x->h, o, SOD_KEY);
		o += SOD_KEY;
		if (sod_mix_dh(x->ck, k, x->e_priv, x->rs) != 0)
			return NBMQ_ENC_FAIL;
		sod_enc(o, sd->pub, SOD_KEY, k, x->h);
		sod_mix_hash(x->h, o, SOD_KEY + SOD_TAG);
		o += SOD_KEY + SOD_TAG;
		if (sod_mix_dh(x->ck, k, sd->priv, x->rs) != 0)
			return NBMQ_ENC_FAIL;
		sod_timestamp(sd, ts);
		sod_enc(o, ts, SOD_TS, k, x->h);
		sod_mix_hash(x->h, o, SOD_TS + SOD_TAG);
		o += SOD_TS + SOD_TAG;
		sodium_memzero(k, sizeof(k));
		sod_mac1_key(k, x->rs);
		sod_mac1(o, k, hdr, out);
		memcpy(x->mac1, o, SOD_MAC);
		*outlen = SOD_HS1;
		if (sd->has_cookie && cap >= SOD_HS1_MAC2 &&
		    sodium_memcmp(sd->cookie_for, x->rs, SOD_KEY) == 0) {
			sod_mac2(o + SOD_MAC, sd->cookie, hdr, out);
			*outlen = SOD_HS1_MAC2;
		}
		x->state = SOD_SENT;
		return NBMQ_ENC_OK;
	}
	if (x->role == NBMQ_ENC_RESPONDER && x->state == SOD_READ) {
		if (cap < SOD_HS2)
			return NBMQ_ENC_FAIL;
		sod_mix_hash(x->h, hdr, SOD_HDR);
		crypto_box_keypair(x->e_pub, x->e_priv);
		memcpy(o, x->e_pub, SOD_KEY);
		sod_mix_hash(x->h, o, SOD_KEY);
		o += SOD_KEY;
		if (sod_mix_dh(x->ck, k, x->e_priv, x->re) != 0 ||
		    sod_mix_dh(x->ck, k, x->e_priv, x->rs) != 0)
			return NBMQ_ENC_FAIL;
		sod_enc(o, NULL, 0, k, x->h);
		sod_mix_hash(x->h, o, SOD_TAG);
		sodium_memzero(k, sizeof(k));
		sod_split(x);
		*outlen = SOD_HS2;
		return NBMQ_ENC_OK;
	}
	return NBMQ_ENC_FAIL;
}

/* Responder: a Connect.  Works on copies: x changes only on success. */
static int
sod_read_connect(struct sod_sess *x, const uint8_t hdr[SOD_HDR],
    const uint8_t *in, size_t len, char *who, size_t wholen)
{
	struct sod	*sd = x->enc;
	struct sod_peer	*pe = NULL;
	uint8_t		 ck[SOD_HASH], h[SOD_HASH], k[SOD_KEY];
	uint8_t		 rs[SOD_KEY], ts[SOD_TS], mac[SOD_MAC];
	int		 r = NBMQ_ENC_BAD;

	if (len != SOD_HS1 && len != SOD_HS1_MAC2)
		return NBMQ_ENC_BAD;
	/* Garbage goes before any public-key work (the comment on top). */
	sod_mac1(mac, sd->mac1_key, hdr, in);
	if (sodium_memcmp(mac, in + SOD_HS1_BODY, SOD_MAC) != 0)
		return NBMQ_ENC_BAD;
	sod_hs_init(ck, h, sd->pub, hdr);
	sod_mix_hash(h, in, SOD_KEY);
	if (sod_mix_dh(ck, k, sd->priv, in) != 0 ||
	    sod_dec(rs, in + SOD_KEY, SOD_KEY + SOD_TAG, k, h) != 0)
		goto out;
	sod_mix_hash(h, in + SOD_KEY, SOD_KEY + SOD_TAG);
	sod_who(rs, who, wholen);
	for (size_t i = 0; i < sd->npeers && pe == NULL; i++)
		if (sodium_memcmp(sd->peers[i].pub, rs, SOD_KEY) == 0)
			pe = &sd->peers[i];
	if (pe == NULL) {
		r = NBMQ_ENC_DENIED;
		goto out;
	}
	if (sod_mix_dh(ck, k, sd->priv, rs) != 0 ||
	    sod_dec(ts, in + 2 * SOD_KEY + SOD_TAG, SOD_TS + SOD_TAG, k,
	    h) != 0)
		goto out;
	sod_mix_hash(h, in + 2 * SOD_KEY + SOD_TAG, SOD_TS + SOD_TAG);
	if (memcmp(ts, pe->ts, SOD_TS) <= 0) {
		r = NBMQ_ENC_REPLAY;
		goto out;
	}
	memcpy(pe->ts, ts, SOD_TS);
	memcpy(x->ck, ck, SOD_HASH);
	memcpy(x->h, h, SOD_HASH);
	memcpy(x->re, in, SOD_KEY);
	memcpy(x->rs, rs, SOD_KEY);
	x->state = SOD_READ;
	r = NBMQ_ENC_OK;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(k, sizeof(k));
	return r;
}

/* Initiator: the Connected answering our Connect. */
static int
sod_read_connected(struct sod_sess *x, const uint8_t hdr[SOD_HDR],
    const uint8_t *in, size_t len, char *who, size_t wholen)
{
	struct sod	*sd = x->enc;
	uint8_t		 ck[SOD_HASH], h[SOD_HASH], k[SOD_KEY];
	int		 r = NBMQ_ENC_BAD;

	if (len != SOD_HS2)
		return NBMQ_ENC_BAD;
	memcpy(ck, x->ck, SOD_HASH);
	memcpy(h, x->h, SOD_HASH);
	sod_mix_hash(h, hdr, SOD_HDR);
	sod_mix_hash(h, in, SOD_KEY);
	if (sod_mix_dh(ck, k, x->e_priv, in) != 0 ||
	    sod_mix_dh(ck, k, sd->priv, in) != 0 ||
	    sod_dec(NULL, in + SOD_KEY, SOD_TAG, k, h) != 0)
		goto out;
	sod_mix_hash(h, in + SOD_KEY, SOD_TAG);
	memcpy(x->ck, ck, SOD_HASH);
	memcpy(x->h, h, SOD_HASH);
	memcpy(x->re, in, SOD_KEY);
	sod_split(x);
	sod_who(x->rs, who, wholen);
	r = NBMQ_ENC_OK;
out:
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(k, sizeof(k));
	return r;
}

static int
sod_hs_read(void *sess, const uint8_t hdr[SOD_HDR], const uint8_t *in,
    size_t len, char *who, size_t wholen)
{
	struct sod_sess	*x = sess;

	if (x->role == NBMQ_ENC_RESPONDER && x->state == SOD_NEW)
		return sod_read_connect(x, hdr, in, len, who, wholen);
	if (x->role == NBMQ_ENC_INITIATOR && x->state == SOD_SENT)
		return sod_read_connected(x, hdr, in, len, who, wholen);
	return NBMQ_ENC_BAD;
}

static size_t
sod_seal(void *sess, uint8_t *frame, size_t len, size_t cap, uint64_t now)
{
	struct sod_sess	*x = sess;
	uint8_t		 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	size_t		 body;
	uint64_t	 n;

	if (x->state != SOD_UP || len < SOD_HDR || len + SOD_OVERHEAD > cap)
		return 0;
	if (x->tx_since == 0)
		x->tx_since = now ? now : 1;
	if (x->tx_rekey || x->tx_ctr >= REKEY_AFTER_MSGS ||
	    (now > x->tx_since && now - x->tx_since >= REKEY_AFTER_TIME)) {
		if (x->tx_epoch == EPOCH_MAX) {
			x->state = SOD_DEAD;
			sodium_memzero(x->tx_key, sizeof(x->tx_key));
			return 0;
		}
		sod_ratchet(x->tx_key);
		x->tx_epoch++;
		x->tx_ctr = 0;
		x->tx_since = now ? now : 1;
		x->tx_rekey = 0;
	}
	n = x->tx_epoch << EPOCH_SHIFT | x->tx_ctr++;
	body = len - SOD_HDR;
	memmove(frame + SOD_HDR + SOD_NONCE, frame + SOD_HDR, body);
	sod_put64be(frame + SOD_HDR, n);
	sod_nonce(nonce, n);
	crypto_aead_chacha20poly1305_ietf_encrypt_detached(
	    frame + SOD_HDR + SOD_NONCE, frame + SOD_HDR + SOD_NONCE + body,
	    NULL, frame + SOD_HDR + SOD_NONCE, body, frame, SOD_HDR, NULL,
	    nonce, x->tx_key);
	return len + SOD_OVERHEAD;
}

static int
sod_open(void *sess, const uint8_t *frame, size_t len, uint8_t *out,
    size_t *outlen, uint64_t now)
{
	struct sod_sess	*x = sess;
	struct rx_epoch	*ep, next;
	uint8_t		 nonce[crypto_aead_chacha20poly1305_ietf_NPUBBYTES];
	uint64_t	 n, epoch, c;
	size_t		 body;
	int		 late;

	if (x->state != SOD_UP && x->state != SOD_DEAD)
		return NBMQ_ENC_BAD;
	if (len < SOD_HDR + SOD_OVERHEAD)
		return NBMQ_ENC_BAD;
	n = sod_get64be(frame + SOD_HDR);
	epoch = n >> EPOCH_SHIFT;
	c = n & COUNTER_MASK;
	body = len - SOD_HDR - SOD_OVERHEAD;
	next.valid = 0;
	if (epoch == x->rx.epoch)
		ep = &x->rx;
	else if (x->rx_prev.valid && epoch == x->rx_prev.epoch)
		ep = &x->rx_prev;
	else if (epoch > x->rx.epoch && epoch - x->rx.epoch <= EPOCH_SKIP_MAX) {
		/* The sender moved on: try the next key, keep it if it opens. */
		memcpy(next.key, x->rx.key, SOD_KEY);
		for (uint64_t i = x->rx.epoch; i < epoch; i++)
			sod_ratchet(next.key);
		next.valid = 1;
		next.epoch = epoch;
		memset(&next.win, 0, sizeof(next.win));
		ep = &next;
	} else if (epoch < x->rx.epoch)
		return NBMQ_ENC_REPLAY;	/* an epoch long gone */
	else
		return NBMQ_ENC_BAD;
	if (!replay_ok(&ep->win, c)) {
		sodium_memzero(&next, sizeof(next));
		return NBMQ_ENC_REPLAY;
	}
	sod_nonce(nonce, n);
	if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(out, NULL,
	    frame + SOD_HDR + SOD_NONCE, body,
	    frame + SOD_HDR + SOD_NONCE + body, frame, SOD_HDR, nonce,
	    ep->key) != 0) {
		sodium_memzero(&next, sizeof(next));
		return NBMQ_ENC_BAD;
	}
	/* Older than the newest accepted: of the previous epoch, or below
	 * the top of this one's window (checked before it moves). */
	late = ep == &x->rx_prev || (ep == &x->rx && c < ep->win.top);
	if (ep == &next) {
		x->rx_prev = x->rx;
		x->rx = next;
		sodium_memzero(&next, sizeof(next));
		ep = &x->rx;
	}
	replay_record(&ep->win, c);
	*outlen = body;
	return late ? NBMQ_ENC_OK_LATE : NBMQ_ENC_OK;
}

static int
sod_rekey(void *sess, uint64_t now)
{
	struct sod_sess	*x = sess;

	if (x->state != SOD_UP)
		return NBMQ_ENC_FAIL;
	x->tx_rekey = 1;
	return NBMQ_ENC_OK;
}

/* Cookies under load (the comment on top). */

/* The cookie of source src under secret r. */
static void
sod_cookie(uint8_t cookie[SOD_COOKIE], const uint8_t r[SOD_HASH],
    const uint8_t *src, size_t srclen)
{
	crypto_generichash(cookie, SOD_COOKIE, src, srclen, r, SOD_HASH);
}

/* A new secret every COOKIE_ROTATE; the one before stays good. */
static void
sod_rotate(struct sod *sd, uint64_t now)
{
	if (sd->secret_at != 0 && now - sd->secret_at < COOKIE_ROTATE)
		return;
	if (sd->secret_at == 0)
		randombytes_buf(sd->secret, SOD_HASH);
	memcpy(sd->secret_prev, sd->secret, SOD_HASH);
	randombytes_buf(sd->secret, SOD_HASH);
	sd->secret_at = now ? now : 1;
}

/* May one more Connect cost public-key work now?  HS_BURST at once, then
 * one per HS_COST. */
static int
sod_budget(struct sod *sd, uint64_t now)
{
	if (sd->credit_at == 0)
		sd->credit = HS_BURST * HS_COST;
	else if (now > sd->credit_at)
		sd->credit += now - sd->credit_at;
	sd->credit_at = now ? now : 1;
	if (sd->credit > HS_BURST * HS_COST)
		sd->credit = HS_BURST * HS_COST;
	if (sd->credit < HS_COST)
		return 0;
	sd->credit -= HS_COST;
	return 1;
}

/* Under load, a source with a valid mac2: may it have a handshake now? */
static int
sod_mac2_budget(struct sod *sd, const uint8_t *src, size_t srclen,
    uint64_t now)
{
	struct tokens	*t = &sd->mac2_src[fnv1a64(src, srclen) %
			    MAC2_SOURCES];

	if (!tokens_refill(t, now, MAC2_SRC_RATE, MAC2_SRC_BURST))
		return 0;
	t->n -= 1.0;
	return 1;
}

/* Does the Connect (hdr, in: 140 bytes) carry the mac2 of src's cookie? */
static int
sod_mac2_ok(const struct sod *sd, const uint8_t hdr[SOD_HDR],
    const uint8_t *in, size_t len, const uint8_t *src, size_t srclen)
{
	uint8_t	cookie[SOD_COOKIE], mac[SOD_MAC];
	int	ok = 0;

	if (len != SOD_HS1_MAC2)
		return 0;
	for (int i = 0; i < 2 && !ok; i++) {
		sod_cookie(cookie, i == 0 ? sd->secret : sd->secret_prev,
		    src, srclen);
		sod_mac2(mac, cookie, hdr, in);
		ok = sodium_memcmp(mac, in + SOD_HS1, SOD_MAC) == 0;
	}
	sodium_memzero(cookie, sizeof(cookie));
	return ok;
}

/*
 * Bound side, before any session for a Connect (frame: len bytes, its
 * clear header first) from src (address and port, srclen bytes): is it
 * worth public-key work?  SOD_GATE_PASS, SOD_GATE_BAD (malformed or a
 * wrong mac1: drop it), SOD_GATE_COOKIE: under load and without a valid
 * mac2, it gets no public-key work; crypt_sodium_reply() writes the
 * cookie reply owed to it; or SOD_GATE_LIMITED: under load, a valid mac2
 * from a source past its budget: dropped.
 */
int
crypt_sodium_gate(void *enc, const uint8_t *frame, size_t len,
    const uint8_t *src, size_t srclen, uint64_t now)
{
	struct sod	*sd = enc;
	const uint8_t	*in = frame + SOD_HDR;
	uint8_t		 mac[SOD_MAC];

	if (len != SOD_HDR + SOD_HS1 && len != SOD_HDR + SOD_HS1_MAC2)
		return SOD_GATE_BAD;
	sod_mac1(mac, sd->mac1_key, frame, in);
	if (sodium_memcmp(mac, in + SOD_HS1_BODY, SOD_MAC) != 0)
		return SOD_GATE_BAD;
	sod_rotate(sd, now);
	if (now >= sd->loaded_until) {
		if (sod_budget(sd, now))
			return SOD_GATE_PASS;
		sd->loaded_until = now + LOAD_HOLD;
	}
	if (sod_mac2_ok(sd, frame, in, len - SOD_HDR, src, srclen))
		return sod_mac2_budget(sd, src, srclen, now) ? SOD_GATE_PASS :
		    SOD_GATE_LIMITED;
	return SOD_GATE_COOKIE;
}

/*
 * The cookie reply to a Connect (frame, its clear header first) that
 * crypt_sodium_gate() said SOD_GATE_COOKIE for, from src, into out (cap
 * bytes): its length, or 0 when it does not fit.
 */
size_t
crypt_sodium_reply(void *enc, const uint8_t *frame, const uint8_t *src,
    size_t srclen, uint8_t *out, size_t cap)
{
	struct sod	*sd = enc;
	uint8_t		 ad[SOD_HDR + SOD_MAC], cookie[SOD_COOKIE];

	if (cap < SOD_HDR + SOD_REPLY)
		return 0;
	out[0] = frame[0];
	out[1] = FK_CONNECTED | FRAME_ENCRYPTED;
	memset(out + 2, 0, SOD_HDR - 2);	/* session id 0 */
	memcpy(ad, out, SOD_HDR);
	memcpy(ad + SOD_HDR, frame + SOD_HDR + SOD_HS1_BODY, SOD_MAC);
	randombytes_buf(out + SOD_HDR, SOD_XNONCE);
	sod_cookie(cookie, sd->secret, src, srclen);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + SOD_HDR + SOD_XNONCE,
	    NULL, cookie, SOD_COOKIE, ad, sizeof(ad), NULL, out + SOD_HDR,
	    sd->cookie_key);
	sodium_memzero(cookie, sizeof(cookie));
	return SOD_HDR + SOD_REPLY;
}

/* Who this socket is to its peers, as sod_who() names them. */
void
crypt_sodium_self(void *enc, char *who, size_t len)
{
	sod_who(((struct sod *)enc)->pub, who, len);
}

/* Is the bound side under load (cookies only) at now? */
int
crypt_sodium_loaded(void *enc, uint64_t now)
{
	return now < ((struct sod *)enc)->loaded_until;
}

/*
 * Connecting side: a cookie reply (frame, len bytes) to the Connect of
 * handshake pending.  0: kept, the next Connect goes to the same key with
 * mac2; -1: not a reply to it.
 */
int
crypt_sodium_cookie(void *enc, void *pending, const uint8_t *frame,
    size_t len)
{
	struct sod	*sd = enc;
	struct sod_sess	*x = pending;
	uint8_t		 ad[SOD_HDR + SOD_MAC], key[SOD_HASH];
	uint8_t		 cookie[SOD_COOKIE];
	int		 r;

	if (x == NULL || x->role != NBMQ_ENC_INITIATOR ||
	    x->state != SOD_SENT || len != SOD_HDR + SOD_REPLY)
		return -1;
	memcpy(ad, frame, SOD_HDR);
	memcpy(ad + SOD_HDR, x->mac1, SOD_MAC);
	sod_label_key(key, "cookie--", x->rs);
	r = crypto_aead_xchacha20poly1305_ietf_decrypt(cookie, NULL, NULL,
	    frame + SOD_HDR + SOD_XNONCE, SOD_COOKIE + SOD_TAG, ad, sizeof(ad),
	    frame + SOD_HDR, key);
	if (r == 0) {
		memcpy(sd->cookie, cookie, SOD_COOKIE);
		memcpy(sd->cookie_for, x->rs, SOD_KEY);
		sd->has_cookie = sd->cookie_retry = 1;
	}
	sodium_memzero(cookie, sizeof(cookie));
	return r == 0 ? 0 : -1;
}

const struct nbmq_encryptor crypt_sodium = {
	.abi = NBMQ_ENCRYPTOR_ABI,
	.size = sizeof(struct nbmq_encryptor),
	.name = "sodium",
	.overhead = SOD_OVERHEAD,
	.handshake_max = SOD_HS1_MAC2,
	.create = NULL,		/* built in: crypt_sodium_new() */
	.destroy = sod_destroy,
	.session_new = sod_session_new,
	.session_free = sod_session_free,
	.hs_write = sod_hs_write,
	.hs_read = sod_hs_read,
	.seal = sod_seal,
	.open = sod_open,
	.rekey = sod_rekey,
};
