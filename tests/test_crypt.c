/* SPDX-License-Identifier: ISC */
/*
 * test_crypt.c: unit tests of encryption (crypt.c, crypt_sodium.c).
 *
 * The sodium encryptor through its interface: handshakes (and the ones
 * that must be refused: an unknown key, the wrong responder key, a replay,
 * damage), seal/open, tampering with every byte, the replay window,
 * rekeying by call, by time and with lost epochs.  Then the core with two
 * encrypted sockets on the fake network (tests/fakenet.c): handshake, dealer
 * and safe_dealer messages, nothing in the clear on the wire, refusals of
 * plain peers and of keys not allowed, and a peer's address following
 * only authenticated frames; the extension (PROTOCOL.md 4.3) sealed.  The
 * core tests run with coalesce = no, pacing = no (v0.2.0 frames) except
 * test_core_extension.  Key files live in a temporary directory.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <sodium.h>

#include "fakenet.h"
#include "nbmq_encryptor.h"
#include "crypt_sodium.h"

#define EVIL_ADDR	"10.6.6.6:6666"
#define SEALED_MAX	1024

static char	tmpdir[64];
static int	node_coalesce;	/* coalesce of the sockets enode_new() makes */

/* Keys: a pair, its files. */
struct kp {
	uint8_t		 priv[CRYPT_KEY_SIZE], pub[CRYPT_KEY_SIZE];
	char		 pub64[CRYPT_KEY_B64 + 1];
	char		 path[128];
};

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int	fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

static void
kp_new(struct kp *k, const char *name)
{
	char	b64[CRYPT_KEY_B64 + 2];

	crypto_box_keypair(k->pub, k->priv);
	crypt_key_encode(k->pub, k->pub64);
	crypt_key_encode(k->priv, b64);
	strcat(b64, "\n");
	snprintf(k->path, sizeof(k->path), "%s/%s.key", tmpdir, name);
	write_file(k->path, b64, 0600);
}

static void *
enc_new(const struct kp *k, const char *peers, int bound)
{
	struct nbmq_enc_config	 ec;
	char			 why[256] = "";
	void			*e;

	memset(&ec, 0, sizeof(ec));
	ec.abi = NBMQ_ENCRYPTOR_ABI;
	ec.socket = "t";
	ec.bound = bound;
	ec.max_frame_size = 500;
	ec.private_key_file = k->path;
	ec.peers = peers;
	e = crypt_sodium_create(&ec, why, sizeof(why));
	ck_assert_msg(e != NULL, "create: %s", why);
	return e;
}

static void
hdr(uint8_t h[NBMQ_ENC_HDR], uint8_t kind, uint64_t session)
{
	frame_put_ctl(h, kind | FRAME_ENCRYPTED, session);
}

/* A session pair through the handshake: *ip initiator, *rp responder. */
struct pair {
	struct kp	 ki, kr;
	void		*ei, *er;
	void		*si, *sr;
};

static void
pair_new(struct pair *x)
{
	const struct nbmq_encryptor *e = &crypt_sodium;
	uint8_t		 h1[NBMQ_ENC_HDR], h2[NBMQ_ENC_HDR], m1[256], m2[256];
	size_t		 n1, n2;
	char		 who[NBMQ_ENC_WHO_MAX];

	kp_new(&x->ki, "i");
	kp_new(&x->kr, "r");
	x->ei = enc_new(&x->ki, x->kr.pub64, 0);
	x->er = enc_new(&x->kr, x->ki.pub64, 1);
	x->si = e->session_new(x->ei, NBMQ_ENC_INITIATOR);
	x->sr = e->session_new(x->er, NBMQ_ENC_RESPONDER);
	hdr(h1, FK_CONNECT, 0);
	ck_assert_int_eq(e->hs_write(x->si, h1, m1, sizeof(m1), &n1),
	    NBMQ_ENC_OK);
	ck_assert_uint_eq(n1, 124);
	ck_assert_int_eq(e->hs_read(x->sr, h1, m1, n1, who, sizeof(who)),
	    NBMQ_ENC_OK);
	ck_assert_int_eq(strncmp(who, "key ", 4), 0);
	ck_assert_int_eq(strncmp(who + 4, x->ki.pub64, 8), 0);
	ck_assert_uint_lt(strlen(who), 20);	/* never the whole key */
	hdr(h2, FK_CONNECTED, 0x1122334455667788ULL);
	ck_assert_int_eq(e->hs_write(x->sr, h2, m2, sizeof(m2), &n2),
	    NBMQ_ENC_OK);
	ck_assert_uint_eq(n2, 48);
	ck_assert_int_eq(e->hs_read(x->si, h2, m2, n2, who, sizeof(who)),
	    NBMQ_ENC_OK);
	ck_assert_int_eq(strncmp(who + 4, x->kr.pub64, 8), 0);
}

static void
pair_free(struct pair *x)
{
	crypt_sodium.session_free(x->si);
	crypt_sodium.session_free(x->sr);
	crypt_sodium.destroy(x->ei);
	crypt_sodium.destroy(x->er);
}

/* A data frame of `n` body bytes, sealed by sess; returns its length. */
static size_t
seal_frame(void *sess, uint8_t *b, size_t body, uint8_t fill, nbmq_time now)
{
	size_t	n;

	ck_assert_uint_le(FRAME_HDR_SIZE + body + 24, SEALED_MAX);
	hdr(b, FK_DATA, 0x1122334455667788ULL);
	memset(b + FRAME_HDR_SIZE, fill, body);
	n = crypt_sodium.seal(sess, b, FRAME_HDR_SIZE + body, SEALED_MAX, now);
	ck_assert_uint_eq(n, FRAME_HDR_SIZE + body + 24);
	return n;
}

static int
open_frame(void *sess, const uint8_t *b, size_t len, nbmq_time now)
{
	uint8_t	out[SEALED_MAX];
	size_t	n = 0;
	int	r;

	r = crypt_sodium.open(sess, b, len, out, &n, now);
	if (r == NBMQ_ENC_OK)
		ck_assert_uint_eq(n, len - FRAME_HDR_SIZE - 24);
	return r;
}

static uint64_t
nonce_of(const uint8_t *b)
{
	uint64_t	v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | b[FRAME_HDR_SIZE + i];
	return v;
}

/* Keys and files. */

START_TEST(test_key_encoding)
{
	uint8_t	 k[CRYPT_KEY_SIZE], k2[CRYPT_KEY_SIZE];
	char	 b64[CRYPT_KEY_B64 + 1];

	randombytes_buf(k, sizeof(k));
	crypt_key_encode(k, b64);
	ck_assert_uint_eq(strlen(b64), 44);
	ck_assert_int_eq(crypt_key_decode(b64, 44, k2), 0);
	ck_assert_int_eq(memcmp(k, k2, sizeof(k)), 0);
	ck_assert_int_eq(crypt_key_decode(b64, 43, k2), -1);
	b64[10] = '*';
	ck_assert_int_eq(crypt_key_decode(b64, 44, k2), -1);
	ck_assert_int_eq(crypt_key_decode("", 0, k2), -1);
	/* 33 bytes of base64 (44 characters without padding) */
	ck_assert_int_eq(crypt_key_decode(
	    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 44, k2), -1);
}
END_TEST

START_TEST(test_key_files)
{
	struct kp	 k;
	uint8_t		 key[CRYPT_KEY_SIZE];
	char		 why[512], path[160], text[200];

	kp_new(&k, "kf");
	ck_assert_int_eq(crypt_key_file(k.path, key, why, sizeof(why)), 0);
	ck_assert_int_eq(memcmp(key, k.priv, sizeof(key)), 0);
	/* too open: refused, the fix named */
	ck_assert_int_eq(chmod(k.path, 0640), 0);
	ck_assert_int_eq(crypt_key_file(k.path, key, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "mode 0640"));
	ck_assert_ptr_nonnull(strstr(why, "chmod 600"));
	ck_assert_int_eq(chmod(k.path, 0604), 0);
	ck_assert_int_eq(crypt_key_file(k.path, key, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "others"));
	ck_assert_int_eq(chmod(k.path, 0400), 0);
	ck_assert_int_eq(crypt_key_file(k.path, key, why, sizeof(why)), 0);
	/* not a key; not there; relative */
	snprintf(path, sizeof(path), "%s/bad.key", tmpdir);
	write_file(path, "hello\n", 0600);
	ck_assert_int_eq(crypt_key_file(path, key, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "not a private key"));
	ck_assert_int_eq(crypt_key_file("/nonexistent/x", key, why,
	    sizeof(why)), -1);
	ck_assert_int_eq(crypt_key_file("rel.key", key, why, sizeof(why)),
	    -1);
	ck_assert_ptr_nonnull(strstr(why, "absolute"));
	/* the error never shows the key */
	ck_assert_ptr_null(strstr(why, k.pub64));

	/* peers and peers_file */
	ck_assert_int_eq(crypt_peers(k.pub64, NULL, NULL, NULL, why,
	    sizeof(why)), 1);
	snprintf(text, sizeof(text), "%s, %s %s", k.pub64, k.pub64, k.pub64);
	ck_assert_int_eq(crypt_peers(text, NULL, NULL, NULL, why, sizeof(why)),
	    3);
	ck_assert_int_eq(crypt_peers("nokey", NULL, NULL, NULL, why,
	    sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "\"nokey\" is not a public key"));
	snprintf(path, sizeof(path), "%s/peers", tmpdir);
	snprintf(text, sizeof(text), "# mine\n%s  # laptop\n\n%s\n", k.pub64,
	    k.pub64);
	write_file(path, text, 0644);
	ck_assert_int_eq(crypt_peers(NULL, path, NULL, NULL, why, sizeof(why)),
	    2);
	ck_assert_int_eq(crypt_peers(k.pub64, path, NULL, NULL, why,
	    sizeof(why)), 3);
	write_file(path, text, 0664);
	ck_assert_int_eq(crypt_peers(NULL, path, NULL, NULL, why, sizeof(why)),
	    -1);
	ck_assert_ptr_nonnull(strstr(why, "add a key"));
	/* Owned by another user (issue 15): refused, as sshd does.  (As
	 * root only: nobody else can give a file away.) */
	write_file(path, text, 0644);
	if (geteuid() == 0 && chown(path, 65534, 65534) == 0) {
		ck_assert_int_eq(crypt_peers(NULL, path, NULL, NULL, why,
		    sizeof(why)), -1);
		ck_assert_ptr_nonnull(strstr(why, "only root or nbmqd's user"));
		ck_assert_int_eq(chown(path, 0, 0), 0);
	}
	write_file(path, "# x\nnot-a-key\n", 0644);
	ck_assert_int_eq(crypt_peers(NULL, path, NULL, NULL, why, sizeof(why)),
	    -1);
	ck_assert_ptr_nonnull(strstr(why, "peers:2:"));
}
END_TEST

/* want in why, or a failure that shows why. */
#define WHY_HAS(want)	ck_assert_msg(strstr(why, (want)) != NULL, \
			    "want \"%s\" in \"%s\"", (want), why)

/*
 * Where a key file is (issue 17): an absolute path, or a systemd
 * credential, $CREDENTIALS_DIRECTORY/NAME.
 */
START_TEST(test_key_paths)
{
	char	 buf[256], want[300], why[512];
	int	 cred;

	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_int_eq(crypt_path("/etc/nbmq/server.key", buf, sizeof(buf),
	    &cred, why, sizeof(why)), 0);
	ck_assert_str_eq(buf, "/etc/nbmq/server.key");
	ck_assert_int_eq(cred, 0);
	ck_assert_int_eq(crypt_path("$CREDENTIALS_DIRECTORY/server.key", buf,
	    sizeof(buf), &cred, why, sizeof(why)), -1);
	WHY_HAS("$CREDENTIALS_DIRECTORY is not set");
	WHY_HAS("LoadCredential=server.key:FILE");
	setenv("CREDENTIALS_DIRECTORY", "run/creds", 1);
	ck_assert_int_eq(crypt_path("$CREDENTIALS_DIRECTORY/server.key", buf,
	    sizeof(buf), &cred, why, sizeof(why)), -1);
	WHY_HAS("not an absolute path");

	setenv("CREDENTIALS_DIRECTORY", "/run/credentials/nbmqd.service", 1);
	ck_assert_int_eq(crypt_path("$CREDENTIALS_DIRECTORY/server.key", buf,
	    sizeof(buf), &cred, why, sizeof(why)), 0);
	ck_assert_str_eq(buf, "/run/credentials/nbmqd.service/server.key");
	ck_assert_int_eq(cred, 1);
	cred = 0;
	ck_assert_int_eq(crypt_path("${CREDENTIALS_DIRECTORY}/peers", buf,
	    sizeof(buf), &cred, why, sizeof(why)), 0);
	ck_assert_str_eq(buf, "/run/credentials/nbmqd.service/peers");
	ck_assert_int_eq(cred, 1);
	/* One name, in that directory: nothing else expands. */
	ck_assert_int_eq(crypt_path("$CREDENTIALS_DIRECTORY/../x", buf,
	    sizeof(buf), &cred, why, sizeof(why)), -1);
	WHY_HAS("one file name");
	ck_assert_int_eq(crypt_path("$CREDENTIALS_DIRECTORY/..", buf,
	    sizeof(buf), &cred, why, sizeof(why)), -1);
	ck_assert_int_eq(crypt_path("$CREDENTIALS_DIRECTORY/", buf,
	    sizeof(buf), &cred, why, sizeof(why)), -1);
	ck_assert_int_eq(crypt_path("$HOME/server.key", buf, sizeof(buf),
	    &cred, why, sizeof(why)), -1);
	WHY_HAS("must be an absolute path, or $CREDENTIALS_DIRECTORY/NAME");
	ck_assert_int_eq(crypt_path("server.key", buf, sizeof(buf), &cred,
	    why, sizeof(why)), -1);
	ck_assert_int_eq(crypt_path("", buf, sizeof(buf), &cred, why,
	    sizeof(why)), -1);
	/* Too long for buf: refused, not cut. */
	memset(want, 'x', sizeof(want) - 1);
	want[0] = '/';
	want[sizeof(want) - 1] = '\0';
	ck_assert_int_eq(crypt_path(want, buf, sizeof(buf), &cred, why,
	    sizeof(why)), -1);
	WHY_HAS("too long");
	unsetenv("CREDENTIALS_DIRECTORY");
}
END_TEST

/*
 * Who may own a private key and how open it may be: owned by nbmqd's user
 * with mode 0600 or 0400; a credential as systemd makes it (0400, or 0440
 * where an ACL grants the service's user read access).  Every refusal
 * names both layouts.
 */
START_TEST(test_key_layouts)
{
	struct kp	 k;
	uint8_t		 key[CRYPT_KEY_SIZE];
	char		 why[1024], dir[128], cpath[192], b64[64];
	pid_t		 pid;
	int		 st;

	kp_new(&k, "layout");
	crypt_key_encode(k.priv, b64);
	/* group-readable (root:nbmq 0640 is this): refused, both layouts */
	ck_assert_int_eq(chmod(k.path, 0640), 0);
	ck_assert_int_eq(crypt_key_file(k.path, key, why, sizeof(why)), -1);
	WHY_HAS("mode 0640 lets its group read it");
	WHY_HAS("chmod 600");
	WHY_HAS("LoadCredential=layout.key:");
	WHY_HAS("private_key_file = $CREDENTIALS_DIRECTORY/layout.key");
	ck_assert_int_eq(chmod(k.path, 0600), 0);

	/* The same key as a credential. */
	snprintf(dir, sizeof(dir), "%s/creds", tmpdir);
	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(cpath, sizeof(cpath), "%s/server.key", dir);
	write_file(cpath, b64, 0400);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	memset(key, 0, sizeof(key));
	ck_assert_msg(crypt_key_file("$CREDENTIALS_DIRECTORY/server.key", key,
	    why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(memcmp(key, k.priv, sizeof(key)), 0);
	/* an ACL's mask shows as group read: allowed for a credential only */
	ck_assert_int_eq(chmod(cpath, 0440), 0);
	ck_assert_msg(crypt_key_file("$CREDENTIALS_DIRECTORY/server.key", key,
	    why, sizeof(why)) == 0, "%s", why);
	ck_assert_int_eq(crypt_key_file(cpath, key, why, sizeof(why)), -1);
	WHY_HAS("lets its group read it");
	ck_assert_int_eq(chmod(cpath, 0444), 0);
	ck_assert_int_eq(crypt_key_file("$CREDENTIALS_DIRECTORY/server.key",
	    key, why, sizeof(why)), -1);
	WHY_HAS("a credential with owner");
	ck_assert_int_eq(chmod(cpath, 0460), 0);
	ck_assert_int_eq(crypt_key_file("$CREDENTIALS_DIRECTORY/server.key",
	    key, why, sizeof(why)), -1);
	ck_assert_int_eq(chmod(cpath, 0400), 0);
	/* a credential the unit does not load */
	ck_assert_int_eq(crypt_key_file("$CREDENTIALS_DIRECTORY/other.key",
	    key, why, sizeof(why)), -1);
	WHY_HAS("no such credential");
	WHY_HAS("LoadCredential=other.key:FILE");
	/* peers_file may be a credential too */
	snprintf(cpath, sizeof(cpath), "%s/peers", dir);
	write_file(cpath, k.pub64, 0400);
	ck_assert_int_eq(crypt_peers(NULL, "$CREDENTIALS_DIRECTORY/peers",
	    NULL, NULL, why, sizeof(why)), 1);
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_int_eq(crypt_peers(NULL, "$CREDENTIALS_DIRECTORY/peers",
	    NULL, NULL, why, sizeof(why)), -1);
	WHY_HAS("is not set");

	if (geteuid() != 0)
		return;		/* the rest needs other users */

	/* Owned by someone else: they could change the key. */
	snprintf(cpath, sizeof(cpath), "%s/server.key", dir);
	ck_assert_int_eq(chown(k.path, 65534, 65534), 0);
	ck_assert_int_eq(crypt_key_file(k.path, key, why, sizeof(why)), -1);
	WHY_HAS("not by nbmqd's user");
	WHY_HAS("chown root ");
	ck_assert_int_eq(chown(k.path, 0, 0), 0);
	ck_assert_int_eq(chown(cpath, 65534, 65534), 0);
	setenv("CREDENTIALS_DIRECTORY", dir, 1);
	ck_assert_int_eq(crypt_key_file("$CREDENTIALS_DIRECTORY/server.key",
	    key, why, sizeof(why)), -1);
	WHY_HAS("a credential with owner");
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_int_eq(chown(cpath, 0, 0), 0);

	/*
	 * root:root 0600 read by a daemon running as another user (the
	 * shipped unit's User=nbmq): it cannot open it, and is told both
	 * ways out.  In a child that gives up root.
	 */
	ck_assert_int_eq(chmod(tmpdir, 0711), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		if (crypt_key_file(k.path, key, why, sizeof(why)) != -1 ||
		    strstr(why, "nbmqd's user cannot read it (owner root:root, "
		    "mode 0600)") == NULL ||
		    strstr(why, "LoadCredential=layout.key:") == NULL) {
			fprintf(stderr, "as uid 65534: %s\n", why);
			_exit(1);
		}
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_int_eq(chmod(tmpdir, 0700), 0);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

START_TEST(test_create_refuses)
{
	struct nbmq_enc_config	 ec;
	struct kp		 k;
	char			 why[256];

	kp_new(&k, "cr");
	memset(&ec, 0, sizeof(ec));
	ec.abi = NBMQ_ENCRYPTOR_ABI;
	ec.private_key_file = k.path;
	ck_assert_ptr_null(crypt_sodium_create(&ec, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "no peers"));
	ec.private_key_file = NULL;
	ec.peers = k.pub64;
	ck_assert_ptr_null(crypt_sodium_create(&ec, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "private_key_file"));
	ec.private_key_file = k.path;
	chmod(k.path, 0644);
	ck_assert_ptr_null(crypt_sodium_create(&ec, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "0600"));
}
END_TEST

/* Handshake, seal, open. */

START_TEST(test_roundtrip)
{
	struct pair	 x;
	uint8_t		 b[SEALED_MAX], out[SEALED_MAX];
	size_t		 n, m;

	pair_new(&x);
	for (size_t body = 0; body <= 900; body += body < 40 ? 1 : 97) {
		/* initiator -> responder, and back */
		hdr(b, FK_DATA, 7);
		for (size_t i = 0; i < body; i++)
			b[FRAME_HDR_SIZE + i] = (uint8_t)(i * 7 + body);
		n = crypt_sodium.seal(x.si, b, FRAME_HDR_SIZE + body,
		    SEALED_MAX, T0);
		ck_assert_uint_eq(n, FRAME_HDR_SIZE + body + 24);
		ck_assert_int_eq(b[1], FRAME_ENCRYPTED);
		ck_assert_int_eq(crypt_sodium.open(x.sr, b, n, out, &m, T0),
		    NBMQ_ENC_OK);
		ck_assert_uint_eq(m, body);
		for (size_t i = 0; i < body; i++)
			ck_assert_int_eq(out[i], (uint8_t)(i * 7 + body));
		n = seal_frame(x.sr, b, body, 0x5a, T0);
		ck_assert_int_eq(open_frame(x.si, b, n, T0), NBMQ_ENC_OK);
		/* keys are per direction: a frame does not open on its
		 * own side */
		n = seal_frame(x.si, b, body, 0x5a, T0);
		ck_assert_int_eq(open_frame(x.si, b, n, T0), NBMQ_ENC_BAD);
	}
	/* no room: nothing sealed */
	hdr(b, FK_DATA, 7);
	ck_assert_uint_eq(crypt_sodium.seal(x.si, b, 100, 123, T0), 0);
	pair_free(&x);
}
END_TEST

START_TEST(test_tamper_every_byte)
{
	struct pair	 x;
	uint8_t		 b[SEALED_MAX], t[SEALED_MAX];
	size_t		 n;
	int		 r;

	pair_new(&x);
	n = seal_frame(x.si, b, 60, 0x41, T0);
	for (size_t i = 0; i < n; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(t, b, n);
			t[i] ^= (uint8_t)(1 << bit);
			r = open_frame(x.sr, t, n, T0);
			ck_assert_msg(r != NBMQ_ENC_OK, "byte %zu bit %d "
			    "flipped: opened", i, bit);
		}
	/* truncated or extended */
	for (size_t len = 0; len < n; len++)
		ck_assert_int_ne(open_frame(x.sr, b, len, T0), NBMQ_ENC_OK);
	memcpy(t, b, n);
	t[n] = 0;
	ck_assert_int_ne(open_frame(x.sr, t, n + 1, T0), NBMQ_ENC_OK);
	/* none of it spoilt the session: the real frame still opens */
	ck_assert_int_eq(open_frame(x.sr, b, n, T0), NBMQ_ENC_OK);
	pair_free(&x);
}
END_TEST

START_TEST(test_replay_window)
{
	struct pair	 x;
	static uint8_t	 f[3000][128];
	size_t		 len[3000];
	int		 i;

	pair_new(&x);
	for (i = 0; i < 3000; i++)
		len[i] = seal_frame(x.si, f[i], 20, (uint8_t)i, T0);
	ck_assert_uint_eq(nonce_of(f[2999]), 2999);
	/* once, and only once */
	ck_assert_int_eq(open_frame(x.sr, f[0], len[0], T0), NBMQ_ENC_OK);
	ck_assert_int_eq(open_frame(x.sr, f[0], len[0], T0), NBMQ_ENC_REPLAY);
	/* reordered within the window: all open, none twice; those older
	 * than the newest say so (they never move the session) */
	ck_assert_int_eq(open_frame(x.sr, f[100], len[100], T0), NBMQ_ENC_OK);
	for (i = 99; i >= 1; i--)
		ck_assert_int_eq(open_frame(x.sr, f[i], len[i], T0),
		    NBMQ_ENC_OK_LATE);
	for (i = 1; i <= 100; i++)
		ck_assert_int_eq(open_frame(x.sr, f[i], len[i], T0),
		    NBMQ_ENC_REPLAY);
	/* a jump ahead: what is more than the window behind is refused,
	 * what is within it still opens once */
	ck_assert_int_eq(open_frame(x.sr, f[2999], len[2999], T0),
	    NBMQ_ENC_OK);
	ck_assert_int_eq(open_frame(x.sr, f[500], len[500], T0),
	    NBMQ_ENC_REPLAY);
	ck_assert_int_eq(open_frame(x.sr, f[2999 - 1900], len[2999 - 1900],
	    T0), NBMQ_ENC_OK_LATE);
	ck_assert_int_eq(open_frame(x.sr, f[2999 - 1900], len[2999 - 1900],
	    T0), NBMQ_ENC_REPLAY);
	ck_assert_int_eq(open_frame(x.sr, f[2998], len[2998], T0),
	    NBMQ_ENC_OK_LATE);
	/* a replayed frame with a damaged tag is not even tried */
	f[2998][len[2998] - 1] ^= 1;
	ck_assert_int_eq(open_frame(x.sr, f[2998], len[2998], T0),
	    NBMQ_ENC_REPLAY);
	pair_free(&x);
}
END_TEST

START_TEST(test_rekey)
{
	struct pair	 x;
	uint8_t		 a[4][SEALED_MAX], b[SEALED_MAX];
	size_t		 la[4], n;

	pair_new(&x);
	/* epoch 0 frames, then a rekey: epoch 1 */
	la[0] = seal_frame(x.si, a[0], 30, 1, T0);
	la[1] = seal_frame(x.si, a[1], 30, 2, T0);
	ck_assert_int_eq(crypt_sodium.rekey(x.si, T0), NBMQ_ENC_OK);
	n = seal_frame(x.si, b, 30, 3, T0);
	ck_assert_uint_eq(nonce_of(b) >> 40, 1);
	ck_assert_uint_eq(nonce_of(b) & 0xffffffffffULL, 0);
	ck_assert_int_eq(open_frame(x.sr, a[0], la[0], T0), NBMQ_ENC_OK);
	ck_assert_int_eq(open_frame(x.sr, b, n, T0), NBMQ_ENC_OK);
	/* a late frame of the old epoch still opens, once, as late */
	ck_assert_int_eq(open_frame(x.sr, a[1], la[1], T0), NBMQ_ENC_OK_LATE);
	ck_assert_int_eq(open_frame(x.sr, a[1], la[1], T0), NBMQ_ENC_REPLAY);
	ck_assert_int_eq(open_frame(x.sr, b, n, T0), NBMQ_ENC_REPLAY);

	/* by time: 120 s after the epoch's first frame */
	la[2] = seal_frame(x.si, a[2], 30, 4, T0 + 119 * NSEC);
	ck_assert_uint_eq(nonce_of(a[2]) >> 40, 1);
	la[3] = seal_frame(x.si, a[3], 30, 5, T0 + 121 * NSEC);
	ck_assert_uint_eq(nonce_of(a[3]) >> 40, 2);
	ck_assert_int_eq(open_frame(x.sr, a[3], la[3], T0), NBMQ_ENC_OK);
	ck_assert_int_eq(open_frame(x.sr, a[2], la[2], T0), NBMQ_ENC_OK_LATE);
	/* two epochs back: gone */
	ck_assert_int_eq(crypt_sodium.rekey(x.si, T0), NBMQ_ENC_OK);
	n = seal_frame(x.si, b, 30, 6, T0 + 122 * NSEC);
	ck_assert_int_eq(open_frame(x.sr, b, n, T0), NBMQ_ENC_OK);
	ck_assert_int_eq(open_frame(x.sr, a[0], la[0], T0), NBMQ_ENC_REPLAY);

	/* epochs lost on the way: the receiver catches up */
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(crypt_sodium.rekey(x.si, T0), NBMQ_ENC_OK);
		seal_frame(x.si, b, 30, 7, T0 + 122 * NSEC);
	}
	n = seal_frame(x.si, b, 30, 8, T0 + 122 * NSEC);
	ck_assert_uint_eq(nonce_of(b) >> 40, 8);
	ck_assert_int_eq(open_frame(x.sr, b, n, T0), NBMQ_ENC_OK);
	/* the other direction is independent */
	n = seal_frame(x.sr, b, 30, 9, T0);
	ck_assert_uint_eq(nonce_of(b) >> 40, 0);
	ck_assert_int_eq(open_frame(x.si, b, n, T0), NBMQ_ENC_OK);
	pair_free(&x);
}
END_TEST

START_TEST(test_handshake_refusals)
{
	const struct nbmq_encryptor *e = &crypt_sodium;
	struct kp	 ki, kr, kx;
	void		*ei, *er, *ex, *si, *sr, *sr2;
	uint8_t		 h1[NBMQ_ENC_HDR], h2[NBMQ_ENC_HDR], m1[256], m2[256];
	uint8_t		 t[256];
	size_t		 n1, n2;
	char		 who[NBMQ_ENC_WHO_MAX];

	kp_new(&ki, "hi");
	kp_new(&kr, "hr");
	kp_new(&kx, "hx");
	hdr(h1, FK_CONNECT, 0);
	hdr(h2, FK_CONNECTED, 99);

	/* A key the responder does not list: denied, and named */
	ex = enc_new(&kx, kr.pub64, 0);
	er = enc_new(&kr, ki.pub64, 1);
	si = e->session_new(ex, NBMQ_ENC_INITIATOR);
	ck_assert_int_eq(e->hs_write(si, h1, m1, sizeof(m1), &n1),
	    NBMQ_ENC_OK);
	sr = e->session_new(er, NBMQ_ENC_RESPONDER);
	who[0] = '\0';
	ck_assert_int_eq(e->hs_read(sr, h1, m1, n1, who, sizeof(who)),
	    NBMQ_ENC_DENIED);
	ck_assert_int_eq(strncmp(who + 4, kx.pub64, 8), 0);
	/* and the denied session writes nothing */
	ck_assert_int_ne(e->hs_write(sr, h2, m2, sizeof(m2), &n2),
	    NBMQ_ENC_OK);
	e->session_free(sr);
	e->session_free(si);
	e->destroy(ex);

	/* An initiator that thinks the responder has another key */
	ei = enc_new(&ki, kx.pub64, 0);
	si = e->session_new(ei, NBMQ_ENC_INITIATOR);
	ck_assert_int_eq(e->hs_write(si, h1, m1, sizeof(m1), &n1),
	    NBMQ_ENC_OK);
	sr = e->session_new(er, NBMQ_ENC_RESPONDER);
	ck_assert_int_eq(e->hs_read(sr, h1, m1, n1, who, sizeof(who)),
	    NBMQ_ENC_BAD);
	e->session_free(sr);
	e->session_free(si);
	e->destroy(ei);

	/* The right keys: every damaged byte of Connect is refused, then
	 * the real one passes, and its replay is refused */
	ei = enc_new(&ki, kr.pub64, 0);
	si = e->session_new(ei, NBMQ_ENC_INITIATOR);
	ck_assert_int_eq(e->hs_write(si, h1, m1, sizeof(m1), &n1),
	    NBMQ_ENC_OK);
	for (size_t i = 0; i < n1; i++) {
		memcpy(t, m1, n1);
		t[i] ^= 0x10;
		sr = e->session_new(er, NBMQ_ENC_RESPONDER);
		ck_assert_int_ne(e->hs_read(sr, h1, t, n1, who, sizeof(who)),
		    NBMQ_ENC_OK);
		e->session_free(sr);
	}
	sr = e->session_new(er, NBMQ_ENC_RESPONDER);
	ck_assert_int_ne(e->hs_read(sr, h2, m1, n1, who, sizeof(who)),
	    NBMQ_ENC_OK);			/* another clear header */
	ck_assert_int_ne(e->hs_read(sr, h1, m1, n1 - 1, who, sizeof(who)),
	    NBMQ_ENC_OK);
	ck_assert_int_eq(e->hs_read(sr, h1, m1, n1, who, sizeof(who)),
	    NBMQ_ENC_OK);
	sr2 = e->session_new(er, NBMQ_ENC_RESPONDER);
	ck_assert_int_eq(e->hs_read(sr2, h1, m1, n1, who, sizeof(who)),
	    NBMQ_ENC_REPLAY);
	e->session_free(sr2);
	/* Connected: damage is refused and leaves the initiator able to
	 * take the real one */
	ck_assert_int_eq(e->hs_write(sr, h2, m2, sizeof(m2), &n2),
	    NBMQ_ENC_OK);
	for (size_t i = 0; i < n2; i++) {
		memcpy(t, m2, n2);
		t[i] ^= 0x01;
		ck_assert_int_ne(e->hs_read(si, h2, t, n2, who, sizeof(who)),
		    NBMQ_ENC_OK);
	}
	hdr(t, FK_CONNECTED, 98);		/* another session id */
	ck_assert_int_ne(e->hs_read(si, t, m2, n2, who, sizeof(who)),
	    NBMQ_ENC_OK);
	ck_assert_int_eq(e->hs_read(si, h2, m2, n2, who, sizeof(who)),
	    NBMQ_ENC_OK);
	/* and it is done: the same Connected again is not a handshake */
	ck_assert_int_ne(e->hs_read(si, h2, m2, n2, who, sizeof(who)),
	    NBMQ_ENC_OK);
	/* a new Connect from the same key is newer: accepted */
	sr2 = e->session_new(er, NBMQ_ENC_RESPONDER);
	e->session_free(si);
	si = e->session_new(ei, NBMQ_ENC_INITIATOR);
	ck_assert_int_eq(e->hs_write(si, h1, m1, sizeof(m1), &n1),
	    NBMQ_ENC_OK);
	ck_assert_int_eq(e->hs_read(sr2, h1, m1, n1, who, sizeof(who)),
	    NBMQ_ENC_OK);
	e->session_free(sr2);
	e->session_free(sr);
	e->session_free(si);
	e->destroy(ei);
	e->destroy(er);
}
END_TEST

/* Forward secrecy, in the small: two sessions of the same key pairs
 * never share keys. */
START_TEST(test_sessions_differ)
{
	struct pair	 x, y;
	uint8_t		 b[SEALED_MAX];
	size_t		 n;

	pair_new(&x);
	y = x;
	pair_new(&y);
	n = seal_frame(x.si, b, 40, 1, T0);
	ck_assert_int_eq(open_frame(y.sr, b, n, T0), NBMQ_ENC_BAD);
	ck_assert_int_eq(open_frame(x.sr, b, n, T0), NBMQ_ENC_OK);
	pair_free(&x);
	pair_free(&y);
}
END_TEST

/* The core: two encrypted sockets on the fake network (fakenet.c). */

/* A socket; encryptor "none" (plain), "sodium" or a plugin path. */
static struct node *
enode_new(const char *addr, int type, int bound, const char *encryptor,
    const struct kp *k, const char *peers)
{
	struct node	*n;
	struct sockopts	 o;
	struct cryptconf cc;
	char		 why[256];

	opts_defaults(&o);
	o.coalesce = (uint64_t)node_coalesce;
	o.pacing = (uint64_t)node_coalesce;
	n = node_alloc(addr, type, &o);
	memset(&cc, 0, sizeof(cc));
	cc.encryptor = (char *)encryptor;
	cc.private_key_file = k != NULL ? (char *)k->path : NULL;
	cc.peers = (char *)peers;
	ck_assert_msg(crypt_sock_load(&n->s, &cc, bound, why,
	    sizeof(why)) == 0, "crypt_sock_load: %s", why);
	if (bound)
		sock_set_bound(&n->s);
	return n;
}

static void
net2(struct node *a, struct node *b, nbmq_time now)
{
	struct node	*nodes[] = { a, b };

	net(nodes, 2, now);
}

static uint64_t
drops(const struct sock *s)
{
	uint64_t	t = 0;

	for (int i = 1; i < DROP_NREASONS; i++)
		t += s->st.drops[i];
	return t;
}

/* Does the plain pattern (16 bytes of it) show anywhere in what n sent? */
static int
leaks(const struct node *n, uint8_t fill)
{
	uint8_t	pat[16];

	memset(pat, fill, sizeof(pat));
	for (size_t i = 0; i < n->nout; i++)
		if (n->out[i].len >= sizeof(pat) && memmem(n->out[i].buf,
		    n->out[i].len, pat, sizeof(pat)) != NULL)
			return 1;
	return 0;
}

static struct msg *
mkfill(uint32_t size, uint8_t fill)
{
	struct msg	*m = msg_new(1, size);

	ck_assert_ptr_nonnull(m);
	m->partsz[0] = size;
	memset(m->data, fill, size);
	return m;
}

/* Bound b and connecting c with each other's keys, handshake done. */
struct duo {
	struct kp	 kb, kc;
	struct node	*b, *c;
	uint64_t	 id;
};

static void
duo_new(struct duo *d, int type_b, int type_c)
{
	struct peer	*p;

	kp_new(&d->kb, "b");
	kp_new(&d->kc, "c");
	d->b = enode_new(B_ADDR, type_b, 1, "sodium", &d->kb, d->kc.pub64);
	d->c = enode_new(C_ADDR, type_c, 0, "sodium", &d->kc, d->kb.pub64);
	ck_assert_uint_eq(d->b->s.seal_overhead, 24);
	sock_set_remote(&d->c->s, &d->b->addr, T0);
	flush(d->c);
	/* Connect: encrypted kind, 124 bytes of handshake (108 and mac1) */
	ck_assert_uint_eq(d->c->nout, 1);
	ck_assert_int_eq(d->c->out[0].buf[1], FRAME_ENCRYPTED | FK_CONNECT);
	ck_assert_uint_eq(d->c->out[0].len, FRAME_HDR_SIZE + 124);
	ck_assert_int_eq(pass(d->c, d->b, T0), 1);
	ck_assert_uint_eq(d->b->s.npeers, 1);
	ck_assert_uint_eq(d->b->nout, 1);
	ck_assert_int_eq(d->b->out[0].buf[1], FRAME_ENCRYPTED | FK_CONNECTED);
	ck_assert_uint_eq(d->b->out[0].len, FRAME_HDR_SIZE + 48);
	ck_assert_int_eq(pass(d->b, d->c, T0), 1);
	ck_assert_int_eq(d->c->s.link, LINK_UP);
	/* the Heartbeat: sealed */
	ck_assert_uint_eq(d->c->nout, 1);
	ck_assert_int_eq(d->c->out[0].buf[1], FRAME_ENCRYPTED | FK_HEARTBEAT);
	ck_assert_uint_eq(d->c->out[0].len, FRAME_HDR_SIZE + 24);
	ck_assert_int_eq(pass(d->c, d->b, T0), 1);
	p = TAILQ_FIRST(&d->c->s.peers);
	d->id = p->session;
	ck_assert_ptr_nonnull(sock_peer_by_id(&d->b->s, d->id));
	ck_assert_uint_eq(drops(&d->b->s), 0);
	ck_assert_uint_eq(drops(&d->c->s), 0);
}

static void
duo_free(struct duo *d)
{
	node_free(d->b);
	node_free(d->c);
}

START_TEST(test_core_dealer)
{
	struct duo	 d;
	struct msg	*m;
	uint32_t	 sizes[] = { 0, 1, 441, 442, 443, 2000, 100000 };

	duo_new(&d, NBMQ_DEALER, NBMQ_DEALER);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		ck_assert_int_eq(sock_send(&d.c->s, mkfill(sizes[i], 0xab),
		    T0, 0), 0);
		tick(d.c, T0);
		/* at most max_frame_size on the wire, all sealed data */
		for (size_t j = 0; j < d.c->nout; j++) {
			ck_assert_uint_le(d.c->out[j].len, 500);
			ck_assert_int_eq(d.c->out[j].buf[1], FRAME_ENCRYPTED);
		}
		if (sizes[i] >= 443)
			ck_assert_uint_eq(d.c->out[0].len, 500);
		ck_assert(!leaks(d.c, 0xab));
		net2(d.c, d.b, T0);
		m = sock_recv(&d.b->s);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(m->size, sizes[i]);
		for (uint32_t k = 0; k < sizes[i]; k++)
			if (m->data[k] != 0xab)
				ck_abort_msg("byte %u differs", k);
		msg_free(m);
		/* and back */
		ck_assert_int_eq(sock_send(&d.b->s, mkfill(sizes[i], 0xcd),
		    T0, 0), 0);
		tick(d.b, T0);
		ck_assert(!leaks(d.b, 0xcd));
		net2(d.b, d.c, T0);
		m = sock_recv(&d.c->s);
		ck_assert_ptr_nonnull(m);
		ck_assert_uint_eq(m->size, sizes[i]);
		msg_free(m);
	}
	ck_assert_uint_eq(drops(&d.b->s), 0);
	ck_assert_uint_eq(drops(&d.c->s), 0);
	duo_free(&d);
}
END_TEST

START_TEST(test_core_safe_dealer)
{
	struct duo	 d;
	struct msg	*m;
	struct peer	*p;
	int		 n = 0;

	duo_new(&d, NBMQ_SAFE_DEALER, NBMQ_SAFE_DEALER);
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(sock_send(&d.c->s, mkfill(1000, 0x77), T0, 0),
		    0);
	tick(d.c, T0);
	ck_assert(!leaks(d.c, 0x77));
	/* lose the first frame: the resend (sealed anew) gets through */
	free(d.c->out[0].buf);
	memmove(d.c->out, d.c->out + 1, (d.c->nout - 1) * sizeof(*d.c->out));
	d.c->nout--;
	net2(d.c, d.b, T0);
	while ((m = sock_recv(&d.b->s)) != NULL) {
		n++;
		msg_free(m);
	}
	ck_assert_int_eq(n, 19);
	/* the Acks were sealed (kind 0x85) and matched: only the lost
	 * frame's message waits */
	p = TAILQ_FIRST(&d.c->s.peers);
	ck_assert_uint_eq(p->inflight, 1);
	ck_assert_uint_eq(p->st.acks_rx, 20 * 3 - 1);
	sock_timers(&d.c->s, T0 + d.c->s.o.safe_resend_ivl);
	flush(d.c);
	ck_assert_uint_eq(d.c->nout, 1);
	ck_assert_int_eq(d.c->out[0].buf[1], FRAME_ENCRYPTED);
	net2(d.c, d.b, T0 + d.c->s.o.safe_resend_ivl);
	m = sock_recv(&d.b->s);
	ck_assert_ptr_nonnull(m);
	msg_free(m);
	ck_assert_uint_eq(p->inflight, 0);
	ck_assert_uint_eq(drops(&d.b->s), 0);
	duo_free(&d);
}
END_TEST

/*
 * A Connect of garbage costs no public-key work (mac1): 110k a second once
 * starved legitimate peers (issue 15).
 */
START_TEST(test_core_garbage_connect_cheap)
{
	struct duo	 d;
	struct nbaddr	 evil = A(EVIL_ADDR);
	uint8_t		 b[FRAME_HDR_SIZE + 124];
	uint64_t	 before, drops;

	duo_new(&d, NBMQ_DEALER, NBMQ_DEALER);
	drops = d.b->s.st.drops[DROP_CRYPT_HANDSHAKE];
	before = crypt_sodium_dh_ops;
	for (int i = 0; i < 1000; i++) {
		randombytes_buf(b, sizeof(b));
		frame_put_ctl(b, FRAME_ENCRYPTED | FK_CONNECT, 0);
		sock_input(&d.b->s, T0 + (nbmq_time)i * MSEC, &evil, b,
		    sizeof(b));
	}
	ck_assert_uint_eq(crypt_sodium_dh_ops, before);
	ck_assert_uint_eq(d.b->s.st.drops[DROP_CRYPT_HANDSHAKE], drops + 1000);
	ck_assert_uint_eq(d.b->s.npeers, 1);
	duo_free(&d);
}
END_TEST

/*
 * Cookies under load (crypt_sodium.c, the comment on top).  What the
 * tests know of its figures: 100 handshakes at once, one per 10 ms after,
 * under load for 1 s, a new secret every 120 s.
 */
#define HS_BURST_T	100
#define HS_COST_T	(10 * MSEC)
#define ROTATE_T	(120 * NSEC)

/* A Connect of garbage with a valid mac1 for the key pub (what a flooder
 * that knows it sends): len 134. */
static void
mac1_connect(uint8_t b[FRAME_HDR_SIZE + 124], const uint8_t pub[32])
{
	uint8_t	key[32];
	crypto_generichash_state st;

	randombytes_buf(b, FRAME_HDR_SIZE + 124);
	frame_put_ctl(b, FRAME_ENCRYPTED | FK_CONNECT, 0);
	crypto_generichash_init(&st, NULL, 0, 32);
	crypto_generichash_update(&st, (const uint8_t *)"mac1----", 8);
	crypto_generichash_update(&st, pub, 32);
	crypto_generichash_final(&st, key, 32);
	crypto_generichash(b + FRAME_HDR_SIZE + 108, 16, b,
	    FRAME_HDR_SIZE + 108, key, 32);
}

/* The gate, and the cookie reply to the Connect when it says so. */
static int
gate(void *er, const uint8_t *b, size_t len, const char *src, nbmq_time now,
    uint8_t *reply, size_t *rlen)
{
	int	r;

	r = crypt_sodium_gate(er, b, len, (const uint8_t *)src, strlen(src),
	    now);
	*rlen = 0;
	if (r == SOD_GATE_COOKIE) {
		ck_assert_uint_eq(crypt_sodium_reply(er, b,
		    (const uint8_t *)src, strlen(src), reply, 65), 0);
		*rlen = crypt_sodium_reply(er, b, (const uint8_t *)src,
		    strlen(src), reply, 256);
	}
	return r;
}

/* Spend the budget at now: the responder is under load after. */
static void
overload(void *er, const uint8_t pub[32], nbmq_time now)
{
	uint8_t	b[FRAME_HDR_SIZE + 124], reply[256];
	size_t	n;
	int	i, r;

	for (i = 0; i <= HS_BURST_T; i++) {
		mac1_connect(b, pub);
		if ((r = gate(er, b, sizeof(b), "evil", now, reply, &n)) !=
		    SOD_GATE_PASS)
			break;
	}
	ck_assert_int_eq(r, SOD_GATE_COOKIE);
	ck_assert_int_le(i, HS_BURST_T);
	ck_assert(crypt_sodium_loaded(er, now));
}

/* The initiator's Connect, from a new handshake of ei. */
static size_t
connect_of(void *ei, void **si, uint8_t *b, size_t cap)
{
	size_t	n;

	*si = crypt_sodium.session_new(ei, NBMQ_ENC_INITIATOR);
	hdr(b, FK_CONNECT, 0);
	ck_assert_int_eq(crypt_sodium.hs_write(*si, b, b + FRAME_HDR_SIZE,
	    cap - FRAME_HDR_SIZE, &n), NBMQ_ENC_OK);
	return FRAME_HDR_SIZE + n;
}

START_TEST(test_cookie_gate)
{
	struct pair	 x;
	uint8_t		 b[FRAME_HDR_SIZE + 124], c[512], reply[256], bad[256];
	size_t		 n, rlen;
	void		*si, *si2, *sr;
	char		 who[NBMQ_ENC_WHO_MAX];
	uint64_t	 before;

	pair_new(&x);
	/* garbage and wrong sizes: dropped, whatever the load; hs_read()
	 * too refuses a wrong mac1 before any X25519 */
	randombytes_buf(b, sizeof(b));
	ck_assert_int_eq(gate(x.er, b, sizeof(b), "a", T0, reply, &rlen),
	    SOD_GATE_BAD);
	before = crypt_sodium_dh_ops;
	sr = crypt_sodium.session_new(x.er, NBMQ_ENC_RESPONDER);
	ck_assert_int_eq(crypt_sodium.hs_read(sr, b, b + FRAME_HDR_SIZE, 124,
	    who, sizeof(who)), NBMQ_ENC_BAD);
	crypt_sodium.session_free(sr);
	ck_assert_uint_eq(crypt_sodium_dh_ops, before);
	mac1_connect(b, x.kr.pub);
	ck_assert_int_eq(gate(x.er, b, sizeof(b) - 1, "a", T0, reply, &rlen),
	    SOD_GATE_BAD);
	/* a burst passes, then cookies: no public-key work */
	ck_assert(!crypt_sodium_loaded(x.er, T0));
	overload(x.er, x.kr.pub, T0);
	n = connect_of(x.ei, &si, c, sizeof(c));
	ck_assert_uint_eq(n, FRAME_HDR_SIZE + 124);	/* no cookie yet */
	ck_assert_int_eq(gate(x.er, c, n, "a", T0, reply, &rlen),
	    SOD_GATE_COOKIE);
	ck_assert_uint_eq(rlen, FRAME_HDR_SIZE + 56);
	ck_assert_int_eq(reply[1], FRAME_ENCRYPTED | FK_CONNECTED);
	for (int i = 2; i < FRAME_HDR_SIZE; i++)
		ck_assert_int_eq(reply[i], 0);		/* session 0 */
	/* the reply opens only for the Connect it answers, untouched */
	si2 = crypt_sodium.session_new(x.ei, NBMQ_ENC_INITIATOR);
	ck_assert_int_eq(crypt_sodium_cookie(x.ei, si2, reply, rlen), -1);
	crypt_sodium.session_free(si2);
	for (size_t i = 0; i < rlen; i++) {
		memcpy(bad, reply, rlen);
		bad[i] ^= 0x40;
		ck_assert_int_eq(crypt_sodium_cookie(x.ei, si, bad, rlen), -1);
	}
	ck_assert_int_eq(crypt_sodium_cookie(x.ei, si, reply, rlen - 1), -1);
	ck_assert_int_eq(crypt_sodium_cookie(x.ei, si, reply, rlen), 0);
	crypt_sodium.session_free(si);
	/* the next Connect carries mac2: it passes under load, from where
	 * the cookie was given only, and completes the handshake */
	n = connect_of(x.ei, &si, c, sizeof(c));
	ck_assert_uint_eq(n, FRAME_HDR_SIZE + 140);
	ck_assert_int_eq(gate(x.er, c, n, "b", T0, reply, &rlen),
	    SOD_GATE_COOKIE);
	ck_assert_int_eq(gate(x.er, c, n, "a", T0, reply, &rlen),
	    SOD_GATE_PASS);
	c[n - 1] ^= 1;
	ck_assert_int_eq(gate(x.er, c, n, "a", T0, reply, &rlen),
	    SOD_GATE_COOKIE);
	c[n - 1] ^= 1;
	/* a valid mac2 buys its source 10 handshakes at once, 5 a second */
	for (int i = 0; i < 9; i++)
		ck_assert_int_eq(gate(x.er, c, n, "a", T0, reply, &rlen),
		    SOD_GATE_PASS);
	ck_assert_int_eq(gate(x.er, c, n, "a", T0, reply, &rlen),
	    SOD_GATE_LIMITED);
	ck_assert_int_eq(gate(x.er, c, n, "a", T0 + 200 * MSEC, reply, &rlen),
	    SOD_GATE_PASS);
	ck_assert_int_eq(gate(x.er, c, n, "a", T0 + 200 * MSEC, reply, &rlen),
	    SOD_GATE_LIMITED);
	sr = crypt_sodium.session_new(x.er, NBMQ_ENC_RESPONDER);
	ck_assert_int_eq(crypt_sodium.hs_read(sr, c, c + FRAME_HDR_SIZE,
	    n - FRAME_HDR_SIZE, who, sizeof(who)), NBMQ_ENC_OK);
	crypt_sodium.session_free(sr);
	crypt_sodium.session_free(si);
	/* the secret turns every 120 s; the one before stays good */
	overload(x.er, x.kr.pub, T0 + ROTATE_T);
	n = connect_of(x.ei, &si, c, sizeof(c));
	ck_assert_int_eq(gate(x.er, c, n, "a", T0 + ROTATE_T, reply, &rlen),
	    SOD_GATE_PASS);
	crypt_sodium.session_free(si);
	overload(x.er, x.kr.pub, T0 + 2 * ROTATE_T);
	n = connect_of(x.ei, &si, c, sizeof(c));
	ck_assert_int_eq(gate(x.er, c, n, "a", T0 + 2 * ROTATE_T, reply,
	    &rlen), SOD_GATE_COOKIE);
	crypt_sodium.session_free(si);
	pair_free(&x);
}
END_TEST

/* With several server keys, the Connect after a cookie goes to the key
 * that sent it, and the one after that to the next key as before. */
START_TEST(test_cookie_same_key)
{
	struct kp	 ki, kr, kx;
	void		*ei, *er, *si;
	uint8_t		 c[512], reply[256];
	char		 peers[2 * CRYPT_KEY_B64 + 4];
	size_t		 n, rlen;

	kp_new(&ki, "i");
	kp_new(&kr, "r");
	kp_new(&kx, "x");
	snprintf(peers, sizeof(peers), "%s, %s", kr.pub64, kx.pub64);
	ei = enc_new(&ki, peers, 0);
	er = enc_new(&kr, ki.pub64, 1);
	overload(er, kr.pub, T0);
	n = connect_of(ei, &si, c, sizeof(c));		/* to r */
	ck_assert_int_eq(gate(er, c, n, "a", T0, reply, &rlen),
	    SOD_GATE_COOKIE);
	ck_assert_int_eq(crypt_sodium_cookie(ei, si, reply, rlen), 0);
	crypt_sodium.session_free(si);
	n = connect_of(ei, &si, c, sizeof(c));		/* to r again */
	ck_assert_uint_eq(n, FRAME_HDR_SIZE + 140);
	ck_assert_int_eq(gate(er, c, n, "a", T0, reply, &rlen),
	    SOD_GATE_PASS);
	crypt_sodium.session_free(si);
	n = connect_of(ei, &si, c, sizeof(c));		/* to x: no mac2 */
	ck_assert_uint_eq(n, FRAME_HDR_SIZE + 124);
	ck_assert_int_eq(gate(er, c, n, "a", T0, reply, &rlen),
	    SOD_GATE_BAD);
	crypt_sodium.session_free(si);
	crypt_sodium.destroy(ei);
	crypt_sodium.destroy(er);
}
END_TEST

/* The switch: under load for 1 s after the budget ran out, then a Connect
 * without mac2 passes again; the budget comes back one per 10 ms. */
START_TEST(test_cookie_load_switch)
{
	struct pair	 x;
	uint8_t		 b[FRAME_HDR_SIZE + 124], reply[256];
	size_t		 rlen;
	nbmq_time	 t = T0;
	int		 passed = 0;

	pair_new(&x);
	/* one per 10 ms is never load */
	for (int i = 0; i < 3 * HS_BURST_T; i++, t += HS_COST_T) {
		mac1_connect(b, x.kr.pub);
		ck_assert_int_eq(gate(x.er, b, sizeof(b), "a", t, reply,
		    &rlen), SOD_GATE_PASS);
	}
	/* a burst at once: exactly the budget passes */
	for (int i = 0; i < 2 * HS_BURST_T; i++) {
		mac1_connect(b, x.kr.pub);
		passed += gate(x.er, b, sizeof(b), "a", t, reply, &rlen) ==
		    SOD_GATE_PASS;
	}
	ck_assert_int_eq(passed, HS_BURST_T);
	ck_assert(crypt_sodium_loaded(x.er, t));
	ck_assert(crypt_sodium_loaded(x.er, t + NSEC - 1));
	/* under load until 1 s later, whatever the budget meanwhile */
	mac1_connect(b, x.kr.pub);
	ck_assert_int_eq(gate(x.er, b, sizeof(b), "a", t + NSEC - 1, reply,
	    &rlen), SOD_GATE_COOKIE);
	ck_assert(!crypt_sodium_loaded(x.er, t + NSEC));
	ck_assert_int_eq(gate(x.er, b, sizeof(b), "a", t + NSEC, reply,
	    &rlen), SOD_GATE_PASS);
	pair_free(&x);
}
END_TEST

/*
 * The core under a flood of Connects that pass mac1 (a flooder that knows
 * the public key): at most the budget of X25519 operations, cookies for
 * the rest, and a new initiator gets through with one more round trip.
 */
START_TEST(test_core_cookie)
{
	struct kp	 kb, kc;
	struct node	*b, *c;
	struct nbaddr	 evil = A(EVIL_ADDR), evil6;
	uint8_t		 f[FRAME_HDR_SIZE + 124], m2[FRAME_HDR_SIZE + 140];
	uint64_t	 before, replays, under;

	kp_new(&kb, "b");
	kp_new(&kc, "c");
	b = enode_new(B_ADDR, NBMQ_DEALER, 1, "sodium", &kb, kc.pub64);
	before = crypt_sodium_dh_ops;
	for (int i = 0; i < 1000; i++) {
		mac1_connect(f, kb.pub);
		sock_input(&b->s, T0, &evil, f, sizeof(f));
	}
	ck_assert_uint_le(crypt_sodium_dh_ops - before, HS_BURST_T);
	ck_assert_uint_eq(b->s.st.drops[DROP_CRYPT_COOKIE], 1000 - HS_BURST_T);
	ck_assert_uint_eq(b->s.st.drops[DROP_CRYPT_HANDSHAKE], HS_BURST_T);
	flush(b);
	/* cookie replies: 40 at once to one source, 20 a second after
	 * (half a second later: still under load, 10 more) */
	ck_assert_uint_eq(b->nout, 40);
	ck_assert_uint_eq(b->out[0].len, FRAME_HDR_SIZE + 56);
	out_reset(b);
	for (int i = 0; i < 100; i++) {
		mac1_connect(f, kb.pub);
		sock_input(&b->s, T0 + NSEC / 2, &evil, f, sizeof(f));
	}
	flush(b);
	ck_assert_uint_eq(b->nout, 10);
	out_reset(b);
	/* an IPv6 source is a source of its own: its replies */
	evil6 = A("[2001:db8::6]:6666");
	mac1_connect(f, kb.pub);
	sock_input(&b->s, T0 + NSEC / 2, &evil6, f, sizeof(f));
	flush(b);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_uint_eq(b->out[0].len, FRAME_HDR_SIZE + 56);
	out_reset(b);
	out_reset(b);
	c = enode_new(C_ADDR, NBMQ_DEALER, 0, "sodium", &kc, kb.pub64);
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_uint_eq(c->nout, 1);
	ck_assert_uint_eq(c->out[0].len, FRAME_HDR_SIZE + 124);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_uint_eq(b->out[0].len, FRAME_HDR_SIZE + 56);
	ck_assert_int_eq(pass(b, c, T0), 1);
	/* at once, with mac2 */
	ck_assert_uint_eq(c->nout, 1);
	ck_assert_uint_eq(c->out[0].len, FRAME_HDR_SIZE + 140);
	memcpy(m2, c->out[0].buf, sizeof(m2));
	ck_assert_uint_eq(c->s.st.drops[DROP_CRYPT_HANDSHAKE], 0);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.npeers, 1);
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_int_eq(c->s.link, LINK_UP);
	/* its source's budget under load: 9 more handshakes (replays,
	 * refused after public-key work), then dropped, no reply */
	replays = b->s.st.drops[DROP_CRYPT_REPLAY];
	under = b->s.st.drops[DROP_CRYPT_COOKIE];
	for (int i = 0; i < 20; i++)
		sock_input(&b->s, T0, &c->addr, m2, sizeof(m2));
	ck_assert_uint_eq(b->s.st.drops[DROP_CRYPT_REPLAY], replays + 9);
	ck_assert_uint_eq(b->s.st.drops[DROP_CRYPT_COOKIE], under + 11);
	flush(b);
	ck_assert_uint_eq(b->nout, 0);
	/* a stray cookie reply (no Connect pending) is dropped */
	mac1_connect(f, kb.pub);
	frame_put_ctl(f, FRAME_ENCRYPTED | FK_CONNECTED, 0);
	before = c->s.st.drops[DROP_CRYPT_HANDSHAKE];
	sock_input(&c->s, T0, &b->addr, f, FRAME_HDR_SIZE + 56);
	ck_assert_uint_eq(c->s.st.drops[DROP_CRYPT_HANDSHAKE], before + 1);
	node_free(b);
	node_free(c);
}
END_TEST

/* A frame from somewhere else moves the peer only if it opens. */
START_TEST(test_core_address_follows_authenticated)
{
	struct duo	 d;
	struct nbaddr	 evil = A(EVIL_ADDR);
	struct peer	*p;
	uint8_t		 b[200];
	size_t		 len;
	struct msg	*m;

	duo_new(&d, NBMQ_DEALER, NBMQ_DEALER);
	p = sock_peer_by_id(&d.b->s, d.id);
	/* garbage with the right session id, from elsewhere */
	memset(b, 0x33, sizeof(b));
	frame_put_ctl(b, FRAME_ENCRYPTED | FK_DATA, d.id);
	sock_input(&d.b->s, T0, &evil, b, sizeof(b));
	ck_assert(addr_eq(&p->addr, &d.c->addr));
	ck_assert_uint_eq(d.b->s.st.drops[DROP_CRYPT_AUTH], 1);
	ck_assert_uint_eq(p->st.drops[DROP_CRYPT_AUTH], 1);
	/* a plain heartbeat with it, and an unauthenticated Disconnected */
	frame_put_ctl(b, FK_HEARTBEAT, d.id);
	sock_input(&d.b->s, T0, &evil, b, FRAME_HDR_SIZE);
	ck_assert_uint_eq(d.b->s.st.drops[DROP_PLAIN], 1);
	frame_put_ctl(b, FRAME_ENCRYPTED | FK_DISCONNECTED, d.id);
	sock_input(&d.b->s, T0, &evil, b, FRAME_HDR_SIZE);
	ck_assert_uint_eq(d.b->s.npeers, 1);
	ck_assert_uint_eq(d.b->s.st.drops[DROP_CRYPT_AUTH], 2);
	ck_assert(addr_eq(&p->addr, &d.c->addr));
	ck_assert_uint_eq(p->st.drops[DROP_CRYPT_AUTH], 2);	/* counted so */
	/* a real frame replayed from elsewhere: a replay, no move */
	ck_assert_int_eq(sock_send(&d.c->s, mkfill(10, 1), T0, 0), 0);
	tick(d.c, T0);
	ck_assert_uint_eq(d.c->nout, 1);
	len = d.c->out[0].len;
	ck_assert_uint_eq(len, FRAME_DATA_HDR_SIZE + 10 + 24);
	memcpy(b, d.c->out[0].buf, len);
	ck_assert_int_eq(pass(d.c, d.b, T0), 1);
	sock_input(&d.b->s, T0, &evil, b, len);
	ck_assert_uint_eq(d.b->s.st.drops[DROP_CRYPT_REPLAY], 1);
	ck_assert(addr_eq(&p->addr, &d.c->addr));
	ck_assert_int_eq(d.b->moved, 0);
	m = sock_recv(&d.b->s);
	ck_assert_ptr_nonnull(m);
	msg_free(m);
	ck_assert_ptr_null(sock_recv(&d.b->s));
	/*
	 * A real frame withheld, a newer one delivered, then the withheld
	 * one released from elsewhere: it opens (it is authentic and not a
	 * replay) but never moves the session (issue 14, finding 6).
	 */
	ck_assert_int_eq(sock_send(&d.c->s, mkfill(10, 3), T0, 0), 0);
	tick(d.c, T0);
	ck_assert_uint_eq(d.c->nout, 1);
	len = d.c->out[0].len;
	memcpy(b, d.c->out[0].buf, len);
	out_reset(d.c);
	ck_assert_int_eq(sock_send(&d.c->s, mkfill(10, 4), T0, 0), 0);
	tick(d.c, T0);
	ck_assert_int_eq(pass(d.c, d.b, T0), 1);
	sock_input(&d.b->s, T0 + NSEC, &evil, b, len);
	ck_assert(addr_eq(&p->addr, &d.c->addr));
	ck_assert_int_eq(d.b->moved, 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_ptr_nonnull(m = sock_recv(&d.b->s));
		msg_free(m);
	}
	/* the peer really moves (NAT rebinding): its next frame opens */
	ck_assert_int_eq(sock_send(&d.c->s, mkfill(10, 2), T0, 0), 0);
	tick(d.c, T0);
	ck_assert_int_eq(pass_src(d.c, d.b, &evil, T0), 1);
	ck_assert(addr_eq(&p->addr, &evil));
	ck_assert_int_eq(d.b->moved, 1);
	m = sock_recv(&d.b->s);
	ck_assert_ptr_nonnull(m);
	msg_free(m);
	duo_free(&d);
}
END_TEST

/*
 * The extension between encrypted sockets: Hello sealed like a Heartbeat
 * (kind 0x86), Batches sealed whole (0x87) within the negotiated frame
 * size, nothing in the clear, safe_dealer's resends batched and acked.
 */
START_TEST(test_core_extension)
{
	struct kp	 kb, kc;
	struct node	*b, *c;
	struct peer	*pb, *pc;
	struct msg	*m;
	int		 n = 0, batches = 0;

	kp_new(&kb, "eb");
	kp_new(&kc, "ec");
	node_coalesce = 1;
	b = enode_new(B_ADDR, NBMQ_SAFE_DEALER, 1, "sodium", &kb, kc.pub64);
	c = enode_new(C_ADDR, NBMQ_SAFE_DEALER, 0, "sodium", &kc, kb.pub64);
	node_coalesce = 0;
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0), 1);		/* Connect */
	ck_assert_int_eq(pass(b, c, T0), 1);		/* Connected */
	/* Heartbeat, then Hello: both sealed */
	ck_assert_uint_eq(c->nout, 2);
	ck_assert_int_eq(c->out[0].buf[1], FRAME_ENCRYPTED | FK_HEARTBEAT);
	ck_assert_int_eq(c->out[1].buf[1], FRAME_ENCRYPTED | FK_HELLO);
	ck_assert_uint_eq(c->out[1].len, FRAME_HELLO_SIZE + 24);
	ck_assert_ptr_null(memmem(c->out[1].buf, c->out[1].len, "NBX1", 4));
	ck_assert_int_eq(pass(c, b, T0), 2);
	pb = TAILQ_FIRST(&b->s.peers);
	ck_assert(pb->ext);
	/* the answer, and the first grant (4.7), sealed */
	ck_assert_uint_eq(b->nout, 2);
	ck_assert_int_eq(b->out[0].buf[1], FRAME_ENCRYPTED | FK_HELLO);
	ck_assert_int_eq(b->out[1].buf[1], FRAME_ENCRYPTED | FK_WINDOW);
	ck_assert_int_eq(pass(b, c, T0), 2);
	ck_assert_int_eq(pass(c, b, T0), 2);		/* the confirm, a grant */
	pc = TAILQ_FIRST(&c->s.peers);
	ck_assert(pc->ext);
	ck_assert_uint_eq(pc->frame_size, 1452);
	ck_assert_uint_eq(pb->frame_size, 1452);

	/* 40 small messages and a large one, the first datagram lost */
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(sock_send(&c->s, mkfill(50, 0x5a), T0, 0), 0);
	ck_assert_int_eq(sock_send(&c->s, mkfill(5000, 0x5a), T0, 0), 0);
	tick(c, T0);
	ck_assert(!leaks(c, 0x5a));
	for (size_t i = 0; i < c->nout; i++) {
		ck_assert_uint_le(c->out[i].len, 1452);
		ck_assert(c->out[i].buf[1] == (FRAME_ENCRYPTED | FK_BATCH) ||
		    c->out[i].buf[1] == (FRAME_ENCRYPTED | FK_DATA));
		if (c->out[i].buf[1] == (FRAME_ENCRYPTED | FK_BATCH))
			batches++;
	}
	ck_assert_int_ge(batches, 2);
	/* frames of 1452 sealed: chunks of 1452 - 34 - 24 */
	ck_assert_uint_eq(c->out[c->nout - 2].len, 1452);
	free(c->out[0].buf);
	memmove(c->out, c->out + 1, (c->nout - 1) * sizeof(*c->out));
	c->nout--;
	net2(c, b, T0);
	while ((m = sock_recv(&b->s)) != NULL) {
		n++;
		msg_free(m);
	}
	ck_assert_int_lt(n, 41);
	ck_assert_uint_gt(pc->inflight, 0);
	/* the resends, batched too, and acked */
	sock_timers(&c->s, T0 + c->s.o.safe_resend_ivl);
	flush(c);
	ck_assert_uint_ge(c->nout, 1);
	ck_assert_int_eq(c->out[0].buf[1], FRAME_ENCRYPTED | FK_BATCH);
	net2(c, b, T0 + c->s.o.safe_resend_ivl);
	while ((m = sock_recv(&b->s)) != NULL) {
		n++;
		ck_assert(m->size == 50 || m->size == 5000);
		msg_free(m);
	}
	ck_assert_int_eq(n, 41);
	ck_assert_uint_eq(pc->inflight, 0);
	ck_assert_uint_eq(drops(&b->s), 0);
	ck_assert_uint_eq(drops(&c->s), 0);
	node_free(b);
	node_free(c);
}
END_TEST

/* Plain and encrypted refuse each other, loudly (counted, logged). */
START_TEST(test_core_plain_vs_encrypted)
{
	struct kp	 kb, kc;
	struct node	*b, *c;

	kp_new(&kb, "pb");
	kp_new(&kc, "pc");
	/* a plain peer connects to an encrypted socket */
	b = enode_new(B_ADDR, NBMQ_DEALER, 1, "sodium", &kb, kc.pub64);
	c = enode_new(C_ADDR, NBMQ_DEALER, 0, "none", NULL, NULL);
	ck_assert_ptr_null(c->s.crypt);
	ck_assert_uint_eq(c->s.seal_overhead, 0);
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_int_eq(c->out[0].buf[1], FK_CONNECT);
	ck_assert_uint_eq(c->out[0].len, FRAME_HDR_SIZE);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_PLAIN], 1);
	/* told so: a bare encrypted Disconnected(0) (PROTOCOL.md 5) */
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_uint_eq(b->out[0].len, FRAME_HDR_SIZE);
	ck_assert_int_eq(b->out[0].buf[1], FK_DISCONNECTED | FRAME_ENCRYPTED);
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_int_eq(c->s.conn_reason, CONN_PEER_ENCRYPTED);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	node_free(b);
	node_free(c);

	/* an encrypted peer connects to a plain socket */
	b = enode_new(B_ADDR, NBMQ_DEALER, 1, "none", NULL, NULL);
	c = enode_new(C_ADDR, NBMQ_DEALER, 0, "sodium", &kc, kb.pub64);
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_ENCRYPTED], 1);
	ck_assert_uint_ne(b->s.crypt_log_at, 0);
	/* told so: a plain Disconnected(0) */
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_uint_eq(b->out[0].len, FRAME_HDR_SIZE);
	ck_assert_int_eq(b->out[0].buf[1], FK_DISCONNECTED);
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_int_eq(c->s.conn_reason, CONN_PEER_PLAIN);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	/* again within 10 s: counted, not logged */
	sock_set_remote(&c->s, &b->addr, T0 + NSEC);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0 + NSEC), 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_ENCRYPTED], 2);
	ck_assert_uint_eq(b->s.crypt_log_skipped, 1);
	node_free(b);
	node_free(c);
}
END_TEST

/* A key not in peers gets no session; nor does one for another key. */
START_TEST(test_core_unknown_key)
{
	struct kp	 kb, kc, kx;
	struct node	*b, *c;

	kp_new(&kb, "ub");
	kp_new(&kc, "uc");
	kp_new(&kx, "ux");
	b = enode_new(B_ADDR, NBMQ_DEALER, 1, "sodium", &kb, kc.pub64);
	c = enode_new(C_ADDR, NBMQ_DEALER, 0, "sodium", &kx, kb.pub64);
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_CRYPT_DENIED], 1);
	/* no session for strangers, only a bare 0x83 with one byte saying
	 * why (PROTOCOL.md 5), which changes the reason shown, no state */
	ck_assert_uint_eq(b->nout, 1);
	ck_assert_uint_eq(b->out[0].len, FRAME_HDR_SIZE + 1);
	ck_assert_int_eq(b->out[0].buf[1], FK_DISCONNECTED | FRAME_ENCRYPTED);
	ck_assert_int_eq(b->out[0].buf[FRAME_HDR_SIZE], CONN_KEY_DENIED);
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_int_eq(c->s.conn_reason, CONN_KEY_DENIED);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	ck_assert_uint_eq(b->s.st.sessions_created, 0);
	node_free(c);
	/* the connecting side lists another server key */
	c = enode_new(C_ADDR, NBMQ_DEALER, 0, "sodium", &kc, kx.pub64);
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.npeers, 0);
	ck_assert_uint_eq(b->s.st.drops[DROP_CRYPT_HANDSHAKE], 1);
	node_free(c);
	/* a connecting socket with two server keys tries the next one on
	 * its next attempt */
	{
		char	two[100];

		snprintf(two, sizeof(two), "%s, %s", kx.pub64, kb.pub64);
		c = enode_new(C_ADDR, NBMQ_DEALER, 0, "sodium", &kc, two);
	}
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.npeers, 0);
	sock_timers(&c->s, T0 + c->s.o.reconnect_wait);
	flush(c);
	ck_assert_int_eq(pass(c, b, T0 + c->s.o.reconnect_wait), 1);
	ck_assert_uint_eq(b->s.npeers, 1);
	net2(c, b, T0 + c->s.o.reconnect_wait);
	ck_assert_int_eq(c->s.link, LINK_UP);
	node_free(b);
	node_free(c);
}
END_TEST

/*
 * Refusals of a handshake, each counted by its kind (README Encryption):
 * a Connect replayed is a replay; a Connected from an address the socket
 * did not connect to is refused before its handshake is read, so that
 * the real answer, after it, still brings the session up.
 */
START_TEST(test_core_handshake_refusals_counted)
{
	struct kp	 kb, kc;
	struct node	*b, *c;
	struct nbaddr	 evil = A(EVIL_ADDR);
	struct dgram	 d;
	uint8_t		 conn[512];
	size_t		 len;

	kp_new(&kb, "rb");
	kp_new(&kc, "rc");
	b = enode_new(B_ADDR, NBMQ_DEALER, 1, "sodium", &kb, kc.pub64);
	c = enode_new(C_ADDR, NBMQ_DEALER, 0, "sodium", &kc, kb.pub64);
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	ck_assert_uint_eq(c->nout, 1);
	len = c->out[0].len;
	ck_assert_uint_le(len, sizeof(conn));
	memcpy(conn, c->out[0].buf, len);		/* the Connect */
	ck_assert_int_eq(pass(c, b, T0), 1);
	ck_assert_uint_eq(b->s.npeers, 1);
	/* Its Connected, first from elsewhere: refused, counted. */
	ck_assert_uint_eq(b->nout, 1);
	d = b->out[0];
	sock_input(&c->s, T0, &evil, d.buf, d.len);
	flush(c);
	ck_assert_uint_eq(c->s.st.drops[DROP_NOT_BOUND], 1);
	ck_assert_int_eq(c->s.link, LINK_CONNECTING);
	/* Then from b: up. */
	ck_assert_int_eq(pass(b, c, T0), 1);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_uint_eq(c->s.st.drops[DROP_CRYPT_HANDSHAKE], 0);
	net2(c, b, T0);
	/* The Connect again (recorded, replayed): a replay, counted so. */
	sock_input(&b->s, T0 + NSEC, &c->addr, conn, len);
	flush(b);
	ck_assert_uint_eq(b->s.st.drops[DROP_CRYPT_REPLAY], 1);
	ck_assert_uint_eq(b->s.st.drops[DROP_CRYPT_HANDSHAKE], 0);
	ck_assert_uint_eq(b->s.st.sessions_created, 1);
	ck_assert_uint_eq(b->s.npeers, 1);
	node_free(b);
	node_free(c);
}
END_TEST

/* The bound side restarted: its Disconnected (from the peer's address)
 * brings the connecting side back with a new handshake. */
START_TEST(test_core_reconnect)
{
	struct duo	 d;
	struct node	*b2;
	struct msg	*m;

	duo_new(&d, NBMQ_DEALER, NBMQ_DEALER);
	node_free(d.b);
	b2 = enode_new(B_ADDR, NBMQ_DEALER, 1, "sodium", &d.kb, d.kc.pub64);
	d.b = b2;
	ck_assert_int_eq(sock_send(&d.c->s, mkfill(10, 3), T0, 0), 0);
	tick(d.c, T0);
	ck_assert_int_eq(pass(d.c, d.b, T0), 1);	/* unknown session */
	ck_assert_uint_eq(d.b->nout, 1);
	ck_assert_int_eq(d.b->out[0].buf[1], FRAME_ENCRYPTED |
	    FK_DISCONNECTED);
	net2(d.b, d.c, T0 + NSEC);
	ck_assert_int_eq(d.c->s.link, LINK_UP);
	ck_assert_uint_eq(d.b->s.npeers, 1);
	ck_assert_int_eq(sock_send(&d.c->s, mkfill(10, 4), T0, 0), 0);
	tick(d.c, T0 + NSEC);
	net2(d.c, d.b, T0 + NSEC);
	m = sock_recv(&d.b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(m->data[0], 4);
	msg_free(m);
	duo_free(&d);
}
END_TEST

/* The example plugin, loaded as nbmqd loads it (when built). */
START_TEST(test_core_plugin)
{
	char		 so[4096];
	struct kp	 k;
	struct node	*b, *c;
	struct sockopts	 o;
	struct cryptconf cc;
	char		 why[256], pass_path[128];
	struct msg	*m;
	ssize_t		 r;

	/* build/tests/test_crypt -> build/examples/encryptor_xor.so */
	r = readlink("/proc/self/exe", so, sizeof(so) - 64);
	ck_assert_int_gt(r, 0);
	so[r] = '\0';
	*strrchr(so, '/') = '\0';
	strcat(so, "/../examples/encryptor_xor.so");
	ck_assert_msg(access(so, R_OK) == 0, "%s: not built", so);
	snprintf(pass_path, sizeof(pass_path), "%s/xor.pass", tmpdir);
	write_file(pass_path, "correct horse\n", 0600);
	memset(&k, 0, sizeof(k));
	snprintf(k.path, sizeof(k.path), "%s", pass_path);
	b = enode_new(B_ADDR, NBMQ_DEALER, 1, so, &k, NULL);
	c = enode_new(C_ADDR, NBMQ_DEALER, 0, so, &k, NULL);
	ck_assert_uint_eq(b->s.seal_overhead, 4);
	sock_set_remote(&c->s, &b->addr, T0);
	flush(c);
	net2(c, b, T0);
	ck_assert_int_eq(c->s.link, LINK_UP);
	ck_assert_int_eq(sock_send(&c->s, mkfill(1000, 0x61), T0, 0), 0);
	tick(c, T0);
	ck_assert(!leaks(c, 0x61));
	net2(c, b, T0);
	m = sock_recv(&b->s);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->size, 1000);
	msg_free(m);
	node_free(b);
	node_free(c);

	/* a plugin of another interface version, or none at all */
	opts_defaults(&o);
	b = calloc(1, sizeof(*b));
	ck_assert_int_eq(sock_init(&b->s, NBMQ_DEALER, &o, &fake_ops, b), 0);
	memset(&cc, 0, sizeof(cc));
	cc.encryptor = "/nonexistent/plugin.so";
	ck_assert_int_eq(crypt_sock_load(&b->s, &cc, 1, why, sizeof(why)),
	    -1);
	ck_assert_ptr_nonnull(strstr(why, "cannot load"));
	ck_assert_ptr_null(b->s.crypt);
	cc.encryptor = "rot13";
	ck_assert_int_eq(crypt_sock_load(&b->s, &cc, 1, why, sizeof(why)),
	    -1);
	ck_assert_ptr_nonnull(strstr(why, "unknown encryptor"));
	sock_destroy(&b->s);
	free(b);
}
END_TEST

/* max_frame_size must leave room for the handshake and the overhead. */
START_TEST(test_core_frame_room)
{
	struct kp	 k;
	struct node	*b;
	struct sockopts	 o;
	char		 why[256];

	kp_new(&k, "fr");
	b = enode_new(B_ADDR, NBMQ_DEALER, 1, "sodium", &k, k.pub64);
	o = b->s.o;
	o.max_frame_size = 149;
	ck_assert_int_eq(crypt_opts_ok(&b->s, &o, why, sizeof(why)), 0);
	ck_assert_ptr_nonnull(strstr(why, "at least 150"));
	o.max_frame_size = 150;
	ck_assert_int_eq(crypt_opts_ok(&b->s, &o, why, sizeof(why)), 1);
	ck_assert_uint_eq(crypt_min_frame_size("sodium"), 150);
	node_free(b);
}
END_TEST

/* The configuration: keys accepted, and every mistake said with its line. */
static void
conf_expect(const char *text, const char *want)
{
	struct config	 cf;
	char		*buf = NULL;
	size_t		 len = 0;
	FILE		*f = open_memstream(&buf, &len);
	int		 n;

	n = config_load_string(&cf, "t.conf", text, f);
	fclose(f);
	if (want == NULL)
		ck_assert_msg(n == 0, "unexpected errors: %s", buf);
	else
		ck_assert_msg(n > 0 && strstr(buf, want) != NULL,
		    "wanted \"%s\", got \"%s\"", want, buf);
	if (n == 0)
		config_free(&cf);
	free(buf);
}

START_TEST(test_config)
{
	struct kp	 k;
	struct config	 cf;
	const struct sockconf *sc;
	char		 text[1024], peers[160];

	kp_new(&k, "conf");
	snprintf(text, sizeof(text), "[socket a]\ntype = dealer\nbind = "
	    "127.0.0.1:0\nencryptor = sodium\nprivate_key_file = %s\n"
	    "peers = %s, %s\n", k.path, k.pub64, k.pub64);
	conf_expect(text, NULL);
	ck_assert_int_eq(config_load_string(&cf, "t.conf", text, NULL), 0);
	sc = TAILQ_FIRST(&cf.sockets);
	ck_assert_str_eq(sc->crypt.encryptor, "sodium");
	ck_assert_str_eq(sc->crypt.private_key_file, k.path);
	ck_assert_ptr_null(sc->crypt.peers_file);
	config_free(&cf);

	snprintf(peers, sizeof(peers), "%s/peers.list", tmpdir);
	write_file(peers, k.pub64, 0644);
	snprintf(text, sizeof(text), "[socket a]\ntype = dealer\nbind = "
	    "127.0.0.1:0\nencryptor = sodium\nprivate_key_file = %s\n"
	    "peers_file = %s\n", k.path, peers);
	conf_expect(text, NULL);

	/* sodium without its keys */
	conf_expect("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "encryptor = sodium\n", "t.conf:4: encryptor: sodium needs "
	    "private_key_file");
	snprintf(text, sizeof(text), "[socket a]\ntype = dealer\nbind = "
	    "1.2.3.4:5\nencryptor = sodium\nprivate_key_file = %s\n", k.path);
	conf_expect(text, "t.conf:4: encryptor: sodium needs the public keys");
	/* keys without an encryptor */
	snprintf(text, sizeof(text), "[socket a]\ntype = dealer\nbind = "
	    "1.2.3.4:5\npeers = %s\n", k.pub64);
	conf_expect(text, "t.conf:4: peers: the socket is plain");
	/* unknown encryptor, missing plugin */
	conf_expect("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "encryptor = aes\n", "t.conf:4: encryptor: must be none, sodium, "
	    "or the absolute path");
	conf_expect("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "encryptor = /no/such.so\n", "t.conf:4: encryptor: /no/such.so: "
	    "No such file");
	/* a bad key, a loose key file, a duplicate */
	snprintf(text, sizeof(text), "[socket a]\ntype = dealer\nbind = "
	    "1.2.3.4:5\nencryptor = sodium\nprivate_key_file = %s\n"
	    "peers = abc\n", k.path);
	conf_expect(text, "t.conf:6: peers: \"abc\" is not a public key");
	chmod(k.path, 0644);
	snprintf(text, sizeof(text), "[socket a]\ntype = dealer\nbind = "
	    "1.2.3.4:5\nencryptor = sodium\nprivate_key_file = %s\n"
	    "peers = %s\n", k.path, k.pub64);
	conf_expect(text, "t.conf:5: private_key_file: ");
	conf_expect(text, "chmod 600");
	chmod(k.path, 0600);
	snprintf(text, sizeof(text), "[socket a]\ntype = dealer\nbind = "
	    "1.2.3.4:5\nencryptor = sodium\nencryptor = none\n");
	conf_expect(text, "t.conf:5: encryptor: duplicate key");
	/* too small frames */
	snprintf(text, sizeof(text), "[socket a]\ntype = dealer\nbind = "
	    "1.2.3.4:5\nencryptor = sodium\nprivate_key_file = %s\n"
	    "peers = %s\nmax_frame_size = 100\n", k.path, k.pub64);
	conf_expect(text, "t.conf:4: encryptor: sodium needs max_frame_size "
	    "150 or more, not 100");
	/* only in a socket */
	conf_expect("[defaults]\nencryptor = sodium\n", "t.conf:2: encryptor: "
	    "only allowed in a [socket NAME] section");
	/* no key in the config's own errors */
	ck_assert_int_eq(config_load_string(&cf, "t.conf", "[socket a]\n"
	    "type = dealer\nbind = 1.2.3.4:5\nencryptor = none\n", NULL), 0);
	ck_assert(crypt_conf_eq(&TAILQ_FIRST(&cf.sockets)->crypt,
	    &TAILQ_FIRST(&cf.sockets)->crypt));
	config_free(&cf);
}
END_TEST

static Suite *
crypt_suite(void)
{
	Suite	*s = suite_create("crypt");
	TCase	*tc;

	tc = tcase_create("sodium");
	tcase_add_test(tc, test_key_encoding);
	tcase_add_test(tc, test_key_files);
	tcase_add_test(tc, test_key_paths);
	tcase_add_test(tc, test_key_layouts);
	tcase_add_test(tc, test_create_refuses);
	tcase_add_test(tc, test_roundtrip);
	tcase_add_test(tc, test_tamper_every_byte);
	tcase_add_test(tc, test_replay_window);
	tcase_add_test(tc, test_rekey);
	tcase_add_test(tc, test_handshake_refusals);
	tcase_add_test(tc, test_sessions_differ);
	suite_add_tcase(s, tc);

	tc = tcase_create("core");
	tcase_add_test(tc, test_core_dealer);
	tcase_add_test(tc, test_core_safe_dealer);
	tcase_add_test(tc, test_core_address_follows_authenticated);
	tcase_add_test(tc, test_core_garbage_connect_cheap);
	tcase_add_test(tc, test_cookie_gate);
	tcase_add_test(tc, test_cookie_load_switch);
	tcase_add_test(tc, test_cookie_same_key);
	tcase_add_test(tc, test_core_cookie);
	tcase_add_test(tc, test_core_plain_vs_encrypted);
	tcase_add_test(tc, test_core_extension);
	tcase_add_test(tc, test_core_unknown_key);
	tcase_add_test(tc, test_core_handshake_refusals_counted);
	tcase_add_test(tc, test_core_reconnect);
	tcase_add_test(tc, test_core_plugin);
	tcase_add_test(tc, test_core_frame_room);
	tcase_add_test(tc, test_config);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	int	 failed;
	char	 cmd[96];

	log_init(LOG_CRIT, 1);
	if (sodium_init() < 0)
		return EXIT_FAILURE;
	snprintf(tmpdir, sizeof(tmpdir), "%s/nbmq-crypt.XXXXXX",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(tmpdir) == NULL)
		return EXIT_FAILURE;
	failed = run_suite(crypt_suite()) != EXIT_SUCCESS;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		failed++;
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
