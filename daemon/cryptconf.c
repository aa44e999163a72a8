/* SPDX-License-Identifier: ISC */
/*
 * cryptconf.c: what encryption reads from the system, at start-up and
 * reload, for crypt.c: key files and peers files (their owner and mode
 * checked, as OpenSSH does; systemd credentials), the names of users and
 * groups in what it says, and encryptor plugins (dlopen); then each
 * socket's encryptor, created with its keys (crypt_sock_load) and handed
 * to the core (crypt_sock_start).  The protocol core (crypt.c,
 * crypt_sodium.c) does no I/O of its own: tests/purity.sh holds it to
 * that.
 */
#include <sys/stat.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "nbmqd.h"
#include "nbmq_encryptor.h"

#define CRYPT_KEYFILE_MAX	256
#define CRYPT_PEERSFILE_MAX	(1 << 20)

static void
crypt_realtime(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

void	(*crypt_wallclock)(struct timespec *) = crypt_realtime;

/*
 * A key file as configured: an absolute path, or $CREDENTIALS_DIRECTORY/NAME
 * (or ${CREDENTIALS_DIRECTORY}/NAME), the credential NAME that systemd's
 * LoadCredential=NAME:FILE copied into the service's own directory.
 */
#define CRYPT_CRED_VAR	"CREDENTIALS_DIRECTORY"

/* Keys and key files. */

int
crypt_path(const char *conf, char *buf, size_t buflen, int *cred, char *why,
    size_t whylen)
{
	static const char *const pre[] = { "$" CRYPT_CRED_VAR "/",
	    "${" CRYPT_CRED_VAR "}/" };
	const char	*name = NULL, *dir;
	size_t		 i;

	*cred = 0;
	if (conf == NULL || conf[0] == '\0') {
		snprintf(why, whylen, "no file given");
		return -1;
	}
	for (i = 0; i < sizeof(pre) / sizeof(pre[0]) && name == NULL; i++)
		if (strncmp(conf, pre[i], strlen(pre[i])) == 0)
			name = conf + strlen(pre[i]);
	if (name == NULL && conf[0] != '/') {
		snprintf(why, whylen, "%s: must be an absolute path, or "
		    "$" CRYPT_CRED_VAR "/NAME for a systemd credential", conf);
		return -1;
	}
	if (name == NULL) {
		if ((size_t)snprintf(buf, buflen, "%s", conf) >= buflen) {
			snprintf(why, whylen, "%.64s...: path too long", conf);
			return -1;
		}
		return 0;
	}
	if (*name == '\0' || strchr(name, '/') != NULL ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		snprintf(why, whylen, "%s: a credential is named by one file "
		    "name: $" CRYPT_CRED_VAR "/NAME", conf);
		return -1;
	}
	dir = getenv(CRYPT_CRED_VAR);
	if (dir == NULL || dir[0] != '/') {
		snprintf(why, whylen, "%s: $" CRYPT_CRED_VAR " is %s: nbmqd "
		    "was not started by systemd with LoadCredential=%s:FILE "
		    "(systemctl edit nbmqd; to check FILE's directory by hand: "
		    CRYPT_CRED_VAR "=DIR nbmqd -t)", conf,
		    dir == NULL ? "not set" : "not an absolute path", name);
		return -1;
	}
	if ((size_t)snprintf(buf, buflen, "%s/%s", dir, name) >= buflen) {
		snprintf(why, whylen, "%s: path too long", conf);
		return -1;
	}
	*cred = 1;
	return 0;
}

static void
crypt_user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd	*pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned int)uid);
}

static void
crypt_group_name(gid_t gid, char *buf, size_t len)
{
	struct group	*gr = getgrgid(gid);

	if (gr != NULL)
		snprintf(buf, len, "%s", gr->gr_name);
	else
		snprintf(buf, len, "%u", (unsigned int)gid);
}

/*
 * A private key file that is refused says what is wrong with it (what)
 * and the two layouts that work: owned by nbmqd's user with mode 0600
 * (or 0400), or left root's and passed by systemd's LoadCredential=.
 * Not root:nbmq 0640: the daemon's group is the IPC socket's, the
 * applications', and they must not read the key.
 */
static void
crypt_key_layout(char *why, size_t whylen, const char *path,
    const char *what)
{
	const char	*base = strrchr(path, '/') + 1;	/* absolute */
	char		 user[64];

	crypt_user_name(geteuid(), user, sizeof(user));
	snprintf(why, whylen, "%s: %s. A private key must be readable by "
	    "nbmqd's user (%s) alone: owned by it with mode 0600 (chown %s "
	    "%s; chmod 600 %s), or left as it is and passed by systemd: "
	    "LoadCredential=%s:%s in the unit, private_key_file = "
	    "$" CRYPT_CRED_VAR "/%s", path, what, user, user, path, path,
	    base, path, base);
}

/*
 * Open a key file as configured (crypt_path) for reading.  Any such file
 * must be a regular file no larger than max.
 *
 * A secret file (a private key) must be owned by nbmqd's user, with no
 * permission for its group or others: 0600 or 0400.  A credential
 * ($CREDENTIALS_DIRECTORY/NAME) lives in a directory systemd made for
 * this service alone; its owner may be root and, where systemd granted
 * the service's user read access with an ACL, its group bits show the
 * ACL's mask (0440): group read is allowed there, anything more is not.
 *
 * Any other file (peers_file) must not be writable by group or others:
 * someone could add a key.
 */
static int
crypt_open_file(const char *conf, int secret, size_t max, char *why,
    size_t whylen)
{
	struct stat	 st;
	char		 path[PATH_MAX], what[256], owner[64], group[64];
	int		 fd, cred, e;

	if (crypt_path(conf, path, sizeof(path), &cred, why, whylen) == -1)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		e = errno;
		if (cred && e == ENOENT) {
			snprintf(why, whylen, "%s: no such credential: the "
			    "unit needs LoadCredential=%s:FILE (systemctl "
			    "edit nbmqd)", path, strrchr(path, '/') + 1);
		} else if (secret && !cred && e == EACCES &&
		    stat(path, &st) == 0) {
			crypt_user_name(st.st_uid, owner, sizeof(owner));
			crypt_group_name(st.st_gid, group, sizeof(group));
			snprintf(what, sizeof(what), "nbmqd's user cannot read "
			    "it (owner %s:%s, mode %04o)", owner, group,
			    (unsigned int)(st.st_mode & 07777));
			crypt_key_layout(why, whylen, path, what);
		} else
			snprintf(why, whylen, "%s: %s", path, strerror(e));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	crypt_user_name(st.st_uid, owner, sizeof(owner));
	crypt_group_name(st.st_gid, group, sizeof(group));
	what[0] = '\0';
	if (secret && cred && ((st.st_mode & 037) != 0 ||
	    (st.st_uid != 0 && st.st_uid != geteuid())))
		snprintf(what, sizeof(what), "a credential with owner %s:%s "
		    "and mode %04o: systemd makes it 0400 (0440 with an "
		    "ACL), owned by root or nbmqd's user", owner, group,
		    (unsigned int)(st.st_mode & 07777));
	else if (secret && !cred && (st.st_mode & 077) != 0)
		snprintf(what, sizeof(what), "owner %s:%s, mode %04o lets %s "
		    "read it", owner, group, (unsigned int)(st.st_mode & 07777),
		    (st.st_mode & 070) ? "its group" : "others");
	else if (secret && !cred && st.st_uid != geteuid())
		snprintf(what, sizeof(what), "owned by %s, not by nbmqd's "
		    "user: its owner can change the key", owner);
	if (what[0] != '\0') {
		if (cred)
			snprintf(why, whylen, "%s: %s", path, what);
		else
			crypt_key_layout(why, whylen, path, what);
		close(fd);
		return -1;
	}
	/* As OpenSSH's authorized_keys: whoever owns it can add a key. */
	if (!secret && !cred && st.st_uid != 0 && st.st_uid != geteuid()) {
		snprintf(why, whylen, "%s: owned by %s: only root or nbmqd's "
		    "user may own a peers file, whose owner can add a key "
		    "(chown root %s)", path, owner, path);
		close(fd);
		return -1;
	}
	if (!secret && (st.st_mode & 022) != 0) {
		snprintf(why, whylen, "%s: mode %04o lets %s change it: "
		    "anyone who can write it can add a key (chmod go-w %s)",
		    path, (unsigned int)(st.st_mode & 07777),
		    (st.st_mode & 020) ? "its group" : "others", path);
		close(fd);
		return -1;
	}
	if ((size_t)st.st_size > max) {
		snprintf(why, whylen, "%s: larger than %zu bytes", path, max);
		close(fd);
		return -1;
	}
	return fd;
}

static char *
crypt_read_file(const char *path, int secret, size_t max, size_t *lenp,
    char *why, size_t whylen)
{
	char		*buf;
	size_t		 len = 0;
	ssize_t		 r;
	int		 fd;

	if ((fd = crypt_open_file(path, secret, max, why, whylen)) == -1)
		return NULL;
	buf = secret ? sodium_malloc(max + 1) : malloc(max + 1);
	if (buf == NULL) {
		snprintf(why, whylen, "%s: out of memory", path);
		close(fd);
		return NULL;
	}
	while (len < max && (r = read(fd, buf + len, max - len)) != 0) {
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			snprintf(why, whylen, "%s: %s", path, strerror(errno));
			close(fd);
			if (secret)
				sodium_free(buf);
			else
				free(buf);
			return NULL;
		}
		len += (size_t)r;
	}
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

int
crypt_file_ok(const char *path, int secret, char *why, size_t whylen)
{
	int	fd;

	if ((fd = crypt_open_file(path, secret, SIZE_MAX, why, whylen)) == -1)
		return -1;
	close(fd);
	return 0;
}

int
crypt_key_file(const char *path, uint8_t key[CRYPT_KEY_SIZE], char *why,
    size_t whylen)
{
	char	*buf, *s;
	size_t	 len, n;
	int	 ret = 0;

	if (sodium_init() < 0) {
		snprintf(why, whylen, "libsodium cannot start");
		return -1;
	}
	if ((buf = crypt_read_file(path, 1, CRYPT_KEYFILE_MAX, &len, why,
	    whylen)) == NULL)
		return -1;
	s = buf;
	while (len > 0 && strchr(" \t\r\n", s[len - 1]) != NULL)
		len--;
	while (len > 0 && strchr(" \t\r\n", *s) != NULL) {
		s++;
		len--;
	}
	n = strlen(s);
	if (len > n || crypt_key_decode(s, len, key) != 0) {
		snprintf(why, whylen, "%s: not a private key (one line of "
		    "base64, 32 bytes: make one with `nbmqctl genkey`)", path);
		ret = -1;
	}
	sodium_free(buf);	/* zeroed */
	return ret;
}

/* Split "KEY, KEY KEY" (commas and/or blanks); fn for each key. */
static int
crypt_key_list(const char *list, const char *what, int (*fn)(void *,
    const uint8_t *), void *arg, char *why, size_t whylen)
{
	uint8_t		 key[CRYPT_KEY_SIZE];
	const char	*s = list, *e;
	int		 n = 0;

	for (;;) {
		while (*s == ',' || *s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			return n;
		for (e = s; *e != '\0' && *e != ',' && *e != ' ' &&
		    *e != '\t'; e++)
			;
		if (crypt_key_decode(s, (size_t)(e - s), key) != 0) {
			snprintf(why, whylen, "%s\"%.*s\" is not a public key "
			    "(base64 of 32 bytes, like `nbmqctl pubkey` "
			    "prints)", what, (int)(e - s > 48 ? 48 : e - s), s);
			return -1;
		}
		if (fn != NULL && fn(arg, key) != 0) {
			snprintf(why, whylen, "%sout of memory", what);
			return -1;
		}
		n++;
		s = e;
	}
}

int
crypt_peers(const char *list, const char *file,
    int (*fn)(void *, const uint8_t *), void *arg, char *why, size_t whylen)
{
	char	*buf, *line, *next, *c, what[300];
	size_t	 len;
	int	 n = 0, r, lineno = 0;

	if (list != NULL && (n = crypt_key_list(list, "", fn, arg, why,
	    whylen)) < 0)
		return -1;
	if (file == NULL)
		return n;
	if ((buf = crypt_read_file(file, 0, CRYPT_PEERSFILE_MAX, &len, why,
	    whylen)) == NULL)
		return -1;
	if (strlen(buf) != len) {
		snprintf(why, whylen, "%s: NUL byte in the file", file);
		free(buf);
		return -1;
	}
	for (line = buf; line != NULL; line = next) {
		lineno++;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if ((c = strchr(line, '#')) != NULL)
			*c = '\0';
		snprintf(what, sizeof(what), "%s:%d: ", file, lineno);
		if ((r = crypt_key_list(line, what, fn, arg, why,
		    whylen)) < 0) {
			free(buf);
			return -1;
		}
		n += r;
	}
	free(buf);
	return n;
}

int
crypt_conf_eq(const struct cryptconf *a, const struct cryptconf *b)
{
	const char *const x[] = { a->encryptor, a->private_key_file,
	    a->peers, a->peers_file };
	const char *const y[] = { b->encryptor, b->private_key_file,
	    b->peers, b->peers_file };

	for (int i = 0; i < 4; i++)
		if ((x[i] == NULL || y[i] == NULL) ? x[i] != y[i] :
		    strcmp(x[i], y[i]) != 0)
			return 0;
	return 1;
}

void
crypt_conf_free(struct cryptconf *cc)
{
	free(cc->encryptor);
	free(cc->private_key_file);
	free(cc->peers);
	free(cc->peers_file);
	memset(cc, 0, sizeof(*cc));
}

/* Sockets. */

/* Room for a data frame with a byte, an Ack, a handshake, all sealed. */
/* A plugin's encryptor, checked; its dlopen handle in *dlp (also on error:
 * crypt_plugin_unload it). */
const struct nbmq_encryptor *
crypt_plugin_load(const char *path, void **dlp, char *why, size_t whylen)
{
	const struct nbmq_encryptor	*e;

	if ((*dlp = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(why, whylen, "cannot load: %s", dlerror());
		return NULL;
	}
	if ((e = dlsym(*dlp, NBMQ_ENCRYPTOR_SYMBOL)) == NULL) {
		snprintf(why, whylen, "no symbol %s: not an nbmq encryptor",
		    NBMQ_ENCRYPTOR_SYMBOL);
		return NULL;
	}
	if (e->abi != NBMQ_ENCRYPTOR_ABI) {
		snprintf(why, whylen, "built for encryptor interface version "
		    "%u; this nbmqd speaks version %u", e->abi,
		    NBMQ_ENCRYPTOR_ABI);
		return NULL;
	}
	if (e->size < sizeof(*e) || e->create == NULL || e->destroy == NULL ||
	    e->session_new == NULL || e->session_free == NULL ||
	    e->hs_write == NULL || e->hs_read == NULL || e->seal == NULL ||
	    e->open == NULL || e->name == NULL) {
		snprintf(why, whylen, "incomplete encryptor (a call is "
		    "missing)");
		return NULL;
	}
	if (e->overhead > 4096 || e->handshake_max > 4096) {
		snprintf(why, whylen, "overhead %u or handshake_max %u over "
		    "4096 bytes", e->overhead, e->handshake_max);
		return NULL;
	}
	return e;
}

void
crypt_plugin_unload(void *dl)
{
	dlclose(dl);
}

/* Encryptors: the shell loads them, the core (crypt.c) adopts them. */

uint64_t
crypt_min_frame_size(const char *encryptor)
{
	return strcmp(encryptor, "sodium") == 0 ? crypt_need(&crypt_sodium) :
	    0;
}

struct crypt_keyset {
	uint8_t		*keys;
	size_t		 n, cap;
};

static int
crypt_keyset_add(void *arg, const uint8_t *key)
{
	struct crypt_keyset	*ks = arg;
	uint8_t			*v;

	if (ks->n == ks->cap) {
		ks->cap = ks->cap ? ks->cap * 2 : 8;
		if ((v = reallocarray(ks->keys, ks->cap, CRYPT_KEY_SIZE)) ==
		    NULL)
			return -1;
		ks->keys = v;
	}
	memcpy(ks->keys + ks->n++ * CRYPT_KEY_SIZE, key, CRYPT_KEY_SIZE);
	return 0;
}

/*
 * The built-in sodium encryptor of ec: its private key file and peers read
 * here, then crypt_sodium_new() (the core) given the keys and the wall
 * clock.  NULL with why.
 */
void *
crypt_sodium_create(const struct nbmq_enc_config *ec, char *why,
    size_t whylen)
{
	struct crypt_keyset	 ks = { NULL, 0, 0 };
	uint8_t			 priv[CRYPT_KEY_SIZE];
	void			*enc = NULL;

	if (ec->private_key_file == NULL) {
		snprintf(why, whylen, "needs private_key_file");
		return NULL;
	}
	if (crypt_key_file(ec->private_key_file, priv, why, whylen) == 0 &&
	    crypt_peers(ec->peers, ec->peers_file, crypt_keyset_add, &ks, why,
	    whylen) >= 0)
		enc = crypt_sodium_new(priv, ks.keys, ks.n, ec->bound,
		    crypt_wallclock, why, whylen);
	sodium_memzero(priv, sizeof(priv));
	free(ks.keys);
	return enc;
}

/* The encryptor cc names: sodium, or a plugin (dlopen); NULL with why. */
static const struct nbmq_encryptor *
crypt_pick(const struct cryptconf *cc, struct crypt_loaded *l, char *why,
    size_t whylen)
{
	if (strcmp(cc->encryptor, "sodium") == 0)
		return &crypt_sodium;
	if (cc->encryptor[0] != '/') {
		snprintf(why, whylen, "unknown encryptor (none, sodium, or "
		    "the absolute path of a plugin)");
		return NULL;
	}
	l->unload = crypt_plugin_unload;
	return crypt_plugin_load(cc->encryptor, &l->dl, why, whylen);
}

/* Its instance, created with ec: the key files by the paths they
 * resolve to. */
static void *
crypt_create(const struct nbmq_encryptor *e, const struct cryptconf *cc,
    struct nbmq_enc_config *ec, char *why, size_t whylen)
{
	char	kpath[PATH_MAX], ppath[PATH_MAX];
	int	cred;
	void	*enc;

	if (cc->private_key_file != NULL) {
		if (crypt_path(cc->private_key_file, kpath, sizeof(kpath),
		    &cred, why, whylen) != 0)
			return NULL;
		ec->private_key_file = kpath;
	}
	if (cc->peers_file != NULL) {
		if (crypt_path(cc->peers_file, ppath, sizeof(ppath), &cred,
		    why, whylen) != 0)
			return NULL;
		ec->peers_file = ppath;
	}
	enc = e == &crypt_sodium ? crypt_sodium_create(ec, why, whylen) :
	    e->create(ec, why, whylen);
	if (enc == NULL && why[0] == '\0')
		snprintf(why, whylen, "cannot start");
	return enc;
}

/*
 * Give s the encryptor cc names (bound or connecting), before the socket
 * binds or connects: loaded and created here, adopted by the core
 * (crypt_sock_start).  0, or -1 with why (the socket stays plain).
 */
int
crypt_sock_load(struct sock *s, const struct cryptconf *cc, int bound,
    char *why, size_t whylen)
{
	struct crypt_loaded	 l;
	struct nbmq_enc_config	 ec;
	char			 ewhy[768] = "";

	if (cc->encryptor == NULL || strcmp(cc->encryptor, "none") == 0)
		return 0;
	memset(&l, 0, sizeof(l));
	snprintf(l.label, sizeof(l.label), "%s", cc->encryptor);
	memset(&ec, 0, sizeof(ec));
	ec.abi = NBMQ_ENCRYPTOR_ABI;
	ec.socket = s->name;
	ec.bound = bound;
	ec.max_frame_size = (uint32_t)s->o.max_frame_size;
	ec.peers = cc->peers;
	if ((l.e = crypt_pick(cc, &l, ewhy, sizeof(ewhy))) != NULL &&
	    crypt_opts_fit(l.e, l.label, &s->o, ewhy, sizeof(ewhy)))
		l.enc = crypt_create(l.e, cc, &ec, ewhy, sizeof(ewhy));
	if (l.enc == NULL) {
		snprintf(why, whylen, "encryptor %s: %s", cc->encryptor, ewhy);
		if (l.dl != NULL)
			crypt_plugin_unload(l.dl);
		return -1;
	}
	crypt_sock_start(s, &l);
	return 0;
}
