/* SPDX-License-Identifier: ISC */
/*
 * encryptor_xor.c: an example nbmq encryptor plugin.
 *
 *	!!! NOT SECURE.  DO NOT USE IT TO PROTECT ANYTHING. !!!
 *
 * It shows the encryptor interface (nbmq_encryptor.h) end to end and
 * nothing more: a repeating-key XOR hides nothing from anyone who looks,
 * the 32-bit checksum stops accidents, not attackers, and nothing stops a
 * replay.  Use `encryptor = sodium` for real.
 *
 * Build it as nbmqd's Makefile does:
 *
 *	cc -fPIC -shared -I include -o encryptor_xor.so encryptor_xor.c
 *
 * and use it from a [socket NAME] section on both sides:
 *
 *	encryptor = /path/to/encryptor_xor.so
 *	private_key_file = /path/to/secret	; a shared passphrase, mode 0600
 *
 * Handshake: Connect carries "XORTOY1" and a random 8-byte salt, Connected
 * echoes "XORTOY1" and the salt; the keystream is the passphrase mixed
 * with the salt.  Frames: clear header | body XOR keystream | FNV-1a-32 of
 * the header and the plain body (4 bytes).
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nbmq_encryptor.h"

#define XOR_MAGIC	"XORTOY1"
#define XOR_MAGIC_LEN	7
#define XOR_SALT	8
#define XOR_HS		(XOR_MAGIC_LEN + XOR_SALT)
#define XOR_SUM		4
#define XOR_KEY_MAX	64

struct xor_enc {
	uint8_t		 pass[XOR_KEY_MAX];
	size_t		 passlen;
};

struct xor_sess {
	struct xor_enc	*enc;
	int		 role;
	int		 up;
	uint8_t		 salt[XOR_SALT];
	uint8_t		 key[XOR_KEY_MAX + XOR_SALT];
	size_t		 keylen;
};

static uint32_t
xor_fnv32(uint32_t h, const uint8_t *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 16777619U;
	}
	return h;
}

static void *
xor_create(const struct nbmq_enc_config *ec, char *why, size_t whylen)
{
	struct xor_enc	*x;
	struct stat	 st;
	ssize_t		 n;
	int		 fd;

	if (ec->abi != NBMQ_ENCRYPTOR_ABI) {
		snprintf(why, whylen, "interface version %u, want %u", ec->abi,
		    NBMQ_ENCRYPTOR_ABI);
		return NULL;
	}
	if (ec->private_key_file == NULL) {
		snprintf(why, whylen, "needs private_key_file (a shared "
		    "passphrase)");
		return NULL;
	}
	if ((fd = open(ec->private_key_file, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(why, whylen, "%s: %s", ec->private_key_file,
		    strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || (st.st_mode & 077) != 0) {
		snprintf(why, whylen, "%s: must be mode 0600 or stricter",
		    ec->private_key_file);
		close(fd);
		return NULL;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		close(fd);
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	n = read(fd, x->pass, sizeof(x->pass));
	close(fd);
	while (n > 0 && (x->pass[n - 1] == '\n' || x->pass[n - 1] == '\r'))
		n--;
	if (n <= 0) {
		snprintf(why, whylen, "%s: empty passphrase",
		    ec->private_key_file);
		free(x);
		return NULL;
	}
	x->passlen = (size_t)n;
	return x;
}

static void
xor_destroy(void *enc)
{
	struct xor_enc	*x = enc;

	if (x != NULL)
		memset(x->pass, 0, sizeof(x->pass));
	free(x);
}

static void *
xor_session_new(void *enc, enum nbmq_enc_role role)
{
	struct xor_sess	*s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->enc = enc;
	s->role = role;
	return s;
}

static void
xor_session_free(void *sess)
{
	free(sess);
}

static void
xor_keyed(struct xor_sess *s)
{
	memcpy(s->key, s->enc->pass, s->enc->passlen);
	memcpy(s->key + s->enc->passlen, s->salt, XOR_SALT);
	s->keylen = s->enc->passlen + XOR_SALT;
	s->up = 1;
}

static int
xor_hs_write(void *sess, const uint8_t hdr[NBMQ_ENC_HDR], uint8_t *out,
    size_t cap, size_t *outlen)
{
	struct xor_sess	*s = sess;

	if (cap < XOR_HS)
		return NBMQ_ENC_FAIL;
	if (s->role == NBMQ_ENC_INITIATOR &&
	    getrandom(s->salt, XOR_SALT, 0) != XOR_SALT)
		return NBMQ_ENC_FAIL;
	memcpy(out, XOR_MAGIC, XOR_MAGIC_LEN);
	memcpy(out + XOR_MAGIC_LEN, s->salt, XOR_SALT);
	*outlen = XOR_HS;
	if (s->role == NBMQ_ENC_RESPONDER)
		xor_keyed(s);
	return NBMQ_ENC_OK;
}

static int
xor_hs_read(void *sess, const uint8_t hdr[NBMQ_ENC_HDR], const uint8_t *in,
    size_t len, char *who, size_t wholen)
{
	struct xor_sess	*s = sess;

	if (len != XOR_HS || memcmp(in, XOR_MAGIC, XOR_MAGIC_LEN) != 0)
		return NBMQ_ENC_BAD;
	if (s->role == NBMQ_ENC_INITIATOR) {
		if (memcmp(in + XOR_MAGIC_LEN, s->salt, XOR_SALT) != 0)
			return NBMQ_ENC_BAD;
		xor_keyed(s);
	} else
		memcpy(s->salt, in + XOR_MAGIC_LEN, XOR_SALT);
	snprintf(who, wholen, "a xor toy peer");
	return NBMQ_ENC_OK;
}

static size_t
xor_seal(void *sess, uint8_t *frame, size_t len, size_t cap, uint64_t now)
{
	struct xor_sess	*s = sess;
	uint32_t	 sum;

	if (!s->up || len < NBMQ_ENC_HDR || len + XOR_SUM > cap)
		return 0;
	sum = xor_fnv32(2166136261U, frame, len);
	for (size_t i = NBMQ_ENC_HDR; i < len; i++)
		frame[i] ^= s->key[(i - NBMQ_ENC_HDR) % s->keylen];
	for (int i = 0; i < XOR_SUM; i++)
		frame[len + i] = (uint8_t)(sum >> (24 - 8 * i));
	return len + XOR_SUM;
}

static int
xor_open(void *sess, const uint8_t *frame, size_t len, uint8_t *out,
    size_t *outlen, uint64_t now)
{
	struct xor_sess	*s = sess;
	size_t		 n;
	uint32_t	 sum, want = 0;

	if (!s->up || len < NBMQ_ENC_HDR + XOR_SUM)
		return NBMQ_ENC_BAD;
	n = len - NBMQ_ENC_HDR - XOR_SUM;
	for (size_t i = 0; i < n; i++)
		out[i] = frame[NBMQ_ENC_HDR + i] ^ s->key[i % s->keylen];
	sum = xor_fnv32(xor_fnv32(2166136261U, frame, NBMQ_ENC_HDR), out, n);
	for (int i = 0; i < XOR_SUM; i++)
		want = want << 8 | frame[len - XOR_SUM + i];
	if (sum != want)
		return NBMQ_ENC_BAD;
	*outlen = n;
	return NBMQ_ENC_OK;
}

const struct nbmq_encryptor nbmq_encryptor = {
	.abi = NBMQ_ENCRYPTOR_ABI,
	.size = sizeof(struct nbmq_encryptor),
	.name = "xor (an example; NOT SECURE)",
	.overhead = XOR_SUM,
	.handshake_max = XOR_HS,
	.create = xor_create,
	.destroy = xor_destroy,
	.session_new = xor_session_new,
	.session_free = xor_session_free,
	.hs_write = xor_hs_write,
	.hs_read = xor_hs_read,
	.seal = xor_seal,
	.open = xor_open,
	.rekey = NULL,
};
