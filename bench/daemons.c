/* SPDX-License-Identifier: ISC */
/*
 * daemons.c: the nbmqd processes nbmqbench measures: started on
 * private IPC sockets in a temporary directory, with the keys and
 * configurations of the encrypted cases.
 */
#include "bench.h"

/* ---- daemons ---- */

static int
unix_connectable(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd, r;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return r;
}

int
start_daemon(int i, const char *name, const char *conf)
{
	char	confpath[300], logpath[300];
	FILE	*f;
	pid_t	pid;
	double	end;

	snprintf(confpath, sizeof(confpath), "%s/%s.conf", tmpdir, name);
	snprintf(logpath, sizeof(logpath), "%s/%s.log", tmpdir, name);
	snprintf(sockpath[i], sizeof(sockpath[i]), "%s/%s.sock", tmpdir, name);
	if ((f = fopen(confpath, "w")) == NULL)
		return -1;
	fputs(conf, f);
	fclose(f);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		int	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		if (i < 2)
			enter_side(i);
		execl(opt_nbmqd, "nbmqd", "-c", confpath, "-S", sockpath[i],
		    (char *)NULL);
		_exit(127);
	}
	daemons[i] = pid;
	end = now() + 10;
	while (!unix_connectable(sockpath[i])) {
		int	st;

		if (waitpid(pid, &st, WNOHANG) == pid) {
			daemons[i] = 0;
			progress("nbmqd %s exited; see %s\n", name, logpath);
			return -1;
		}
		if (now() > end) {
			progress("nbmqd %s did not start; see %s\n", name,
			    logpath);
			return -1;
		}
		sleep_s(0.01);
	}
	return 0;
}

static const char *data_conf =
    "# nbmqbench: the data-path daemons run on the defaults.\n"
    "[daemon]\n"
    "log_level = info\n";

/*
 * The encrypted cases: one dealer socket configured in each daemon, with
 * encryptor = sodium, new keys (as `nbmqctl genkey` makes them: 32 random
 * bytes, base64) in the temporary directory, B bound to a port picked
 * here, A connected to it.  Without those cases, the plain configuration.
 */
char	 secure_conf[2][2048];

static int
write_key(const char *path, const uint8_t *key)
{
	char	b64[sodium_base64_ENCODED_LEN(32,
		    sodium_base64_VARIANT_ORIGINAL)];
	FILE	*f;
	int	 fd;

	sodium_bin2base64(b64, sizeof(b64), key, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		perror(path);
		return -1;
	}
	fprintf(f, "%s\n", b64);
	sodium_memzero(b64, sizeof(b64));
	return fclose(f);
}

int
secure_confs(void)
{
	static const char *const cases[] = { "dealer64s", "dealer1ms" };
	uint8_t	 priv[2][32], pub[2][32];
	char	 path[2][300], pub64[2][64];
	uint16_t port;

	for (int i = 0; i < 2; i++)
		snprintf(secure_conf[i], sizeof(secure_conf[i]), "%s",
		    data_conf);
	if (!wanted("dealer64s") && !wanted("dealer1ms"))
		return 0;
	if (sodium_init() < 0) {
		fprintf(stderr, "nbmqbench: libsodium cannot start\n");
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		randombytes_buf(priv[i], sizeof(priv[i]));
		crypto_scalarmult_base(pub[i], priv[i]);
		sodium_bin2base64(pub64[i], sizeof(pub64[i]), pub[i], 32,
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(path[i], sizeof(path[i]), "%s/%c.key", tmpdir,
		    'a' + i);
		if (write_key(path[i], priv[i]) == -1)
			return -1;
		sodium_memzero(priv[i], sizeof(priv[i]));
	}
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		/* A free port for B (a race with the machine, once). */
		close(udp_socket(&port));
		for (int i = 0; i < 2; i++) {
			size_t	len = strlen(secure_conf[i]);

			snprintf(secure_conf[i] + len,
			    sizeof(secure_conf[i]) - len,
			    "\n[socket %s]\n"
			    "type = dealer\n"
			    "%s = 127.0.0.1:%u\n"
			    "encryptor = sodium\n"
			    "private_key_file = %s\n"
			    "peers = %s\n", cases[c],
			    i == 0 ? "connect" : "bind", (unsigned)port,
			    path[i], pub64[1 - i]);
		}
	}
	return 0;
}
