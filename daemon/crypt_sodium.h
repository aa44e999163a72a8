/* SPDX-License-Identifier: ISC */
/*
 * crypt_sodium.h: what crypt.c calls of the built-in `sodium` encryptor
 * beyond nbmq_encryptor.h: cookies under load (crypt_sodium.c, the
 * comment on top; PROTOCOL.md 4.2).
 */
#ifndef CRYPT_SODIUM_H
#define CRYPT_SODIUM_H

#include <stddef.h>
#include <stdint.h>

enum sod_gate {
	SOD_GATE_PASS,		/* worth public-key work: hs_read() it */
	SOD_GATE_BAD,		/* malformed or a wrong mac1: dropped */
	SOD_GATE_COOKIE,	/* under load: no public-key work; a cookie
				   reply is owed (crypt_sodium_reply) */
	SOD_GATE_LIMITED	/* under load, mac2 valid, but its source is
				   past its budget: dropped */
};

int	crypt_sodium_gate(void *enc, const uint8_t *frame, size_t len,
	    const uint8_t *src, size_t srclen, uint64_t now);
size_t	crypt_sodium_reply(void *enc, const uint8_t *frame,
	    const uint8_t *src, size_t srclen, uint8_t *out, size_t cap);
int	crypt_sodium_loaded(void *enc, uint64_t now);
int	crypt_sodium_cookie(void *enc, void *pending, const uint8_t *frame,
	    size_t len);
void	crypt_sodium_self(void *enc, char *who, size_t len);

#endif /* CRYPT_SODIUM_H */
