/* SPDX-License-Identifier: ISC */
/*
 * test_config.c: unit tests of opts.c and config.c.
 *
 * Run from the repository root (conf/nbmqd.conf is read by its path).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"
#include "unit.h"
#include "nbmq-protocol.h"

#define MIB	(1024ULL * 1024)

/* Load text; the error output, NUL-terminated, in *errs (caller frees). */
static int
load(struct config *cf, const char *text, char **errs)
{
	FILE	*f;
	size_t	 len = 0;
	int	 n;

	*errs = NULL;
	f = open_memstream(errs, &len);
	ck_assert_ptr_nonnull(f);
	n = config_load_string(cf, "t.conf", text, f);
	fclose(f);
	return n;
}

static int
count_lines(const char *s)
{
	int	 n = 0;

	for (; *s != '\0'; s++)
		if (*s == '\n')
			n++;
	return n;
}

/* Expect exactly one error, whose line contains want. */
static void
expect_one(const char *text, const char *want)
{
	struct config	 cf;
	char		*errs;
	int		 n;

	n = load(&cf, text, &errs);
	ck_assert_msg(n == 1, "want 1 error, got %d:\n%s", n, errs);
	ck_assert_int_eq(count_lines(errs), 1);
	ck_assert_msg(strstr(errs, want) != NULL, "want \"%s\" in:\n%s",
	    want, errs);
	config_free(&cf);
	free(errs);
}

static struct sockconf *
sock_named(struct config *cf, const char *name)
{
	struct sockconf	*sc;

	TAILQ_FOREACH(sc, &cf->sockets, entry)
		if (strcmp(sc->name, name) == 0)
			return sc;
	return NULL;
}

/* Parse text into a fresh default set; returns opt_parse's result. */
static int
parse(const char *key, const char *text, uint64_t *v, char *why, size_t len)
{
	struct sockopts		 o;
	const struct optdesc	*d;
	int			 r;

	d = opt_by_name(key);
	ck_assert_ptr_nonnull(d);
	opts_defaults(&o);
	why[0] = '\0';
	r = opt_parse(&o, d, text, why, len);
	*v = opt_get(&o, d);
	return r;
}

static uint64_t
parse_ok(const char *key, const char *text)
{
	char		 why[256];
	uint64_t	 v;

	ck_assert_msg(parse(key, text, &v, why, sizeof(why)) == 0,
	    "%s = %s: %s", key, text, why);
	return v;
}

static void
parse_bad(const char *key, const char *text, const char *want)
{
	char		 why[256];
	uint64_t	 v;

	ck_assert_msg(parse(key, text, &v, why, sizeof(why)) == -1,
	    "%s = %s accepted", key, text);
	ck_assert_msg(strstr(why, want) != NULL, "%s = %s: want \"%s\" in "
	    "\"%s\"", key, text, want, why);
}

START_TEST(test_empty)
{
	struct config	 cf;
	struct sockopts	 o;
	char		*errs;

	ck_assert_int_eq(load(&cf, "", &errs), 0);
	ck_assert_str_eq(errs, "");
	ck_assert(TAILQ_EMPTY(&cf.sockets));
	ck_assert_str_eq(cf.ipc_path, NBMQ_DEFAULT_IPC_PATH);
	ck_assert_uint_eq(cf.ipc_mode, 0660);
	ck_assert_ptr_null(cf.ipc_group);
	ck_assert_int_eq(cf.log_level, LOG_INFO);
	ck_assert_uint_eq(cf.max_clients, 1024);
	ck_assert_uint_eq(cf.max_client_sockets, 1024);
	ck_assert_uint_eq(cf.hello_timeout, 5);
	ck_assert_uint_eq(cf.app_max_hwm, 100000);
	ck_assert_uint_eq(cf.app_max_message_size, 16U << 20);
	opts_defaults(&o);
	ck_assert(memcmp(&o, &cf.defaults, sizeof(o)) == 0);
	config_free(&cf);
	free(errs);

	/* Only comments and blank lines. */
	ck_assert_int_eq(load(&cf, "# x\n\n  ; y\n[daemon]\n", &errs), 0);
	config_free(&cf);
	free(errs);
}
END_TEST

START_TEST(test_defaults)
{
	struct sockopts	 o;

	opts_defaults(&o);
	ck_assert_uint_eq(o.send_hwm, 1000);
	ck_assert_uint_eq(o.recv_hwm, 1000);
	ck_assert_uint_eq(o.max_tick_send, 1000);
	ck_assert_uint_eq(o.safe_resend_limit, 10);
	ck_assert_uint_eq(o.safe_resend_ivl, 200 * MSEC);
	ck_assert_uint_eq(o.safe_hash_dedup_ttl, 3 * NSEC);
	ck_assert_uint_eq(o.uncompleted_message_ttl, 10 * NSEC);
	ck_assert_uint_eq(o.queue_maint_ivl, NSEC);
	ck_assert_uint_eq(o.peer_heartbeat_ivl, NSEC);
	ck_assert_uint_eq(o.peer_keepalive, 10 * NSEC);
	ck_assert_uint_eq(o.reconnect_wait, 5 * NSEC);
	ck_assert_uint_eq(o.max_frame_size, 500);
	ck_assert_uint_eq(o.max_message_size, 16 * MIB);
	ck_assert_uint_eq(o.max_peers, 4096);
	ck_assert_uint_eq(o.linger, NSEC);
	ck_assert_uint_eq(o.rcvbuf, 4 * MIB);
	ck_assert_uint_eq(o.sndbuf, MIB);
	ck_assert_int_eq(opts_validate(&o, NULL, 0), 0);
}
END_TEST

START_TEST(test_table)
{
	const struct optdesc	*d, *e;
	struct sockopts		 o;
	int			 n = 0;

	for (d = opt_table; d->name != NULL; d++, n++) {
		ck_assert_ptr_eq(opt_by_name(d->name), d);
		/* id 0: set in the config only (not through the IPC) */
		if (d->id != 0)
			ck_assert_ptr_eq(opt_by_id(d->id), d);
		ck_assert(d->off % sizeof(uint64_t) == 0);
		ck_assert(d->off < sizeof(struct sockopts));
		ck_assert(d->min <= d->max);
		for (e = opt_table; e < d; e++) {
			ck_assert(e->off != d->off);
			ck_assert(e->id != d->id || d->id == 0);
		}
		/* The defaults are inside the ranges. */
		opts_defaults(&o);
		ck_assert(opt_get(&o, d) >= d->min);
		ck_assert(opt_get(&o, d) <= d->max);
	}
	ck_assert_int_eq(n, sizeof(struct sockopts) / sizeof(uint64_t));
	ck_assert_ptr_null(opt_by_name("nope"));
	ck_assert_ptr_null(opt_by_id(NBMQ_OPT_PEERS));
	ck_assert_int_eq(opt_by_name("peer_keepalive")->id,
	    NBMQ_OPT_PEER_KEEPALIVE);
	ck_assert_int_eq(opt_by_id(NBMQ_OPT_SNDBUF)->off,
	    offsetof(struct sockopts, sndbuf));
	ck_assert_ptr_null(opt_by_id(0));
	ck_assert_int_eq(opt_by_name("coalesce")->id, NBMQ_OPT_COALESCE);
	ck_assert_int_eq(opt_by_name("pacing")->id, NBMQ_OPT_PACING);
	ck_assert_int_eq(opt_by_name("ext_frame_size")->id,
	    NBMQ_OPT_EXT_FRAME_SIZE);
	/* Through the IPC as through the config: bytes, in range. */
	opts_defaults(&o);
	ck_assert_int_eq(opt_set_ipc(&o, opt_by_id(NBMQ_OPT_EXT_FRAME_SIZE),
	    8972), 0);
	ck_assert_uint_eq(o.ext_frame_size, 8972);
	ck_assert_int_ne(opt_set_ipc(&o, opt_by_id(NBMQ_OPT_EXT_FRAME_SIZE),
	    65508), 0);
	ck_assert_uint_eq(o.ext_frame_size, 8972);
}
END_TEST

START_TEST(test_parse_duration)
{
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "0.2"), 200 * MSEC);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "1.5"), 1500 * MSEC);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "1.5s"), 1500 * MSEC);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "500ms"), 500 * MSEC);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "2m"), 120 * NSEC);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "1h"), 3600 * NSEC);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "0.001"), MSEC);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "0.0015"),
	    1500 * 1000);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "86400"), 86400 * NSEC);
	ck_assert_uint_eq(parse_ok("safe_resend_ivl", "1440m"), 86400 * NSEC);
	ck_assert_uint_eq(parse_ok("linger", "0"), 0);

	parse_bad("peer_keepalive", "abc",
	    "must be a duration between 0.001 and 86400 seconds");
	parse_bad("peer_keepalive", "abc", "not \"abc\"");
	parse_bad("peer_keepalive", "-1", "between 0.001 and 86400");
	parse_bad("peer_keepalive", "0", "between 0.001 and 86400");
	parse_bad("peer_keepalive", "0.0005", "between 0.001 and 86400");
	parse_bad("peer_keepalive", "86400.001", "between 0.001 and 86400");
	parse_bad("peer_keepalive", "2d", "between 0.001 and 86400");
	parse_bad("peer_keepalive", "1.", "duration");
	parse_bad("peer_keepalive", ".5", "duration");
	parse_bad("peer_keepalive", "", "duration");
	parse_bad("peer_keepalive", "1 s", "duration");
	parse_bad("peer_keepalive", "5ms5", "duration");
	parse_bad("peer_keepalive", "99999999999999999999999", "duration");
	parse_bad("peer_keepalive", "9999999999999999999m", "duration");
	parse_bad("linger", "86401", "between 0 and 86400 seconds");
}
END_TEST

START_TEST(test_parse_bytes)
{
	ck_assert_uint_eq(parse_ok("max_message_size", "16M"), 16 * MIB);
	ck_assert_uint_eq(parse_ok("max_message_size", "16MiB"), 16 * MIB);
	ck_assert_uint_eq(parse_ok("max_message_size", "64k"), 64 * 1024);
	ck_assert_uint_eq(parse_ok("max_message_size", "1000"), 1000);
	ck_assert_uint_eq(parse_ok("max_message_size", "256M"),
	    NBMQ_IPC_MAX_MSG_SIZE);
	ck_assert_uint_eq(parse_ok("rcvbuf", "1G"), 1024 * MIB);
	ck_assert_uint_eq(parse_ok("rcvbuf", "0"), 0);
	ck_assert_uint_eq(parse_ok("max_frame_size", "64"), FRAME_MIN_SIZE);
	ck_assert_uint_eq(parse_ok("max_frame_size", "65507"),
	    FRAME_MAX_SIZE);

	parse_bad("max_message_size", "257M", "between 1 and 268435456 bytes");
	parse_bad("max_message_size", "0", "between 1 and");
	parse_bad("max_message_size", "1.5M", "size");
	parse_bad("max_message_size", "16X", "size");
	parse_bad("max_message_size", "M", "size");
	parse_bad("max_message_size", "-1", "size");
	parse_bad("max_message_size", "16Mi", "size");
	parse_bad("rcvbuf", "2G", "between 0 and 1073741824");
	parse_bad("rcvbuf", "99999999999999999999G", "size");
	parse_bad("rcvbuf", "17179869184G", "size");
	parse_bad("max_frame_size", "63", "between 64 and 65507");
	parse_bad("max_frame_size", "65508", "between 64 and 65507");
	ck_assert_uint_eq(parse_ok("ext_frame_size", "9000"), 9000);
	ck_assert_uint_eq(parse_ok("ext_frame_size", "65507"), FRAME_MAX_SIZE);
	parse_bad("ext_frame_size", "65508", "between 64 and 65507");
}
END_TEST

START_TEST(test_parse_bool)
{
	struct sockopts	 o;

	ck_assert_uint_eq(parse_ok("coalesce", "yes"), 1);
	ck_assert_uint_eq(parse_ok("coalesce", "no"), 0);
	ck_assert_uint_eq(parse_ok("coalesce", "on"), 1);
	ck_assert_uint_eq(parse_ok("coalesce", "false"), 0);
	ck_assert_uint_eq(parse_ok("coalesce", "1"), 1);
	parse_bad("coalesce", "maybe", "must be yes or no, not \"maybe\"");
	parse_bad("coalesce", "", "yes or no");
	parse_bad("coalesce", "Yes ", "yes or no");
	/* IPC: 0 or 1 */
	opts_defaults(&o);
	ck_assert_uint_eq(o.coalesce, 1);
	ck_assert_int_eq(opt_set_ipc(&o, opt_by_id(NBMQ_OPT_COALESCE), 0), 0);
	ck_assert_uint_eq(o.coalesce, 0);
	ck_assert_int_eq(opt_set_ipc(&o, opt_by_id(NBMQ_OPT_COALESCE), 2),
	    -1);
	ck_assert_int_eq(opt_get_ipc(&o, opt_by_id(NBMQ_OPT_COALESCE)), 0);
	/* ext_frame_size below max_frame_size means max_frame_size */
	ck_assert_uint_eq(o.ext_frame_size, 1452);
	ck_assert_uint_eq(opts_ext_frame_size(&o), 1452);
	o.max_frame_size = 9000;
	ck_assert_uint_eq(opts_ext_frame_size(&o), 9000);
	ck_assert_int_eq(opts_validate(&o, NULL, 0), 0);
}
END_TEST

START_TEST(test_parse_count)
{
	ck_assert_uint_eq(parse_ok("send_hwm", "1"), 1);
	ck_assert_uint_eq(parse_ok("send_hwm", "10000000"), 10000000);
	ck_assert_uint_eq(parse_ok("safe_resend_limit", "0"), 0);
	ck_assert_uint_eq(parse_ok("max_peers", "1000000"), 1000000);

	parse_bad("send_hwm", "12x", "must be an integer between 1 and "
	    "10000000, not \"12x\"");
	parse_bad("send_hwm", "0", "between 1 and 10000000");
	parse_bad("send_hwm", "10000001", "between 1 and 10000000");
	parse_bad("send_hwm", "+5", "integer");
	parse_bad("send_hwm", "-5", "integer");
	parse_bad("send_hwm", " 5", "integer");
	parse_bad("send_hwm", "5 ", "integer");
	parse_bad("send_hwm", "1e3", "integer");
	parse_bad("send_hwm", "0x10", "integer");
	parse_bad("send_hwm", "", "integer");
	parse_bad("send_hwm", "18446744073709551617", "integer");
	parse_bad("max_tick_send", "1000001", "between 1 and 1000000");
	parse_bad("safe_resend_limit", "1001", "between 0 and 1000");
	parse_bad("max_peers", "0", "between 1 and 1000000");
}
END_TEST

START_TEST(test_ipc)
{
	const struct optdesc	*d;
	struct sockopts		 o;

	opts_defaults(&o);
	d = opt_by_id(NBMQ_OPT_SAFE_RESEND_IVL);
	ck_assert_int_eq(opt_get_ipc(&o, d), 200);
	ck_assert_int_eq(opt_set_ipc(&o, d, 1500), 0);
	ck_assert_uint_eq(o.safe_resend_ivl, 1500 * MSEC);
	ck_assert_int_eq(opt_get_ipc(&o, d), 1500);
	ck_assert_int_eq(opt_set_ipc(&o, d, 0), -1);
	ck_assert_int_eq(opt_set_ipc(&o, d, -1), -1);
	ck_assert_int_eq(opt_set_ipc(&o, d, 86400001), -1);
	ck_assert_int_eq(opt_set_ipc(&o, d, INT64_MAX), -1);
	ck_assert_uint_eq(o.safe_resend_ivl, 1500 * MSEC);

	d = opt_by_id(NBMQ_OPT_LINGER);
	ck_assert_int_eq(opt_set_ipc(&o, d, 0), 0);
	ck_assert_uint_eq(o.linger, 0);

	d = opt_by_id(NBMQ_OPT_MAX_MESSAGE_SIZE);
	ck_assert_int_eq(opt_get_ipc(&o, d), 16 * MIB);
	ck_assert_int_eq(opt_set_ipc(&o, d, NBMQ_IPC_MAX_MSG_SIZE), 0);
	ck_assert_int_eq(opt_set_ipc(&o, d, NBMQ_IPC_MAX_MSG_SIZE + 1LL), -1);

	d = opt_by_id(NBMQ_OPT_SEND_HWM);
	ck_assert_int_eq(opt_set_ipc(&o, d, 5), 0);
	ck_assert_int_eq(opt_get_ipc(&o, d), 5);
	ck_assert_int_eq(opt_set_ipc(&o, d, 0), -1);
	ck_assert_int_eq(opt_set_ipc(&o, d, -5), -1);
}
END_TEST

START_TEST(test_format)
{
	struct sockopts	 o;
	char		 buf[64];

	opts_defaults(&o);
	opt_format(&o, opt_by_name("safe_resend_ivl"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "0.2");
	opt_format(&o, opt_by_name("peer_keepalive"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "10");
	opt_format(&o, opt_by_name("max_message_size"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "16777216");
	opt_format(&o, opt_by_name("send_hwm"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "1000");
	opt_format(&o, opt_by_name("coalesce"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "yes");
	o.coalesce = 0;
	opt_format(&o, opt_by_name("coalesce"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "no");
	opt_format(&o, opt_by_name("pacing"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "yes");
	o.linger = 0;
	opt_format(&o, opt_by_name("linger"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "0");
	o.linger = 1234 * MSEC;
	opt_format(&o, opt_by_name("linger"), buf, sizeof(buf));
	ck_assert_str_eq(buf, "1.234");
}
END_TEST

START_TEST(test_validate)
{
	struct sockopts	 o;
	char		 why[256];

	opts_defaults(&o);
	o.peer_keepalive = 2 * NSEC;
	o.peer_heartbeat_ivl = 3 * NSEC;
	ck_assert_int_eq(opts_validate(&o, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "peer_keepalive (2s) must be greater than "
	    "peer_heartbeat_ivl (3s)");
	o.peer_keepalive = 3 * NSEC;
	ck_assert_int_eq(opts_validate(&o, why, sizeof(why)), -1);
	o.peer_keepalive = 3 * NSEC + MSEC;
	ck_assert_int_eq(opts_validate(&o, why, sizeof(why)), 0);

	/* A short dedup TTL is valid: the window in use covers the resend
	 * horizon all the same (issue 14: 1 s let late copies through). */
	o.safe_hash_dedup_ttl = 100 * MSEC;
	ck_assert_int_eq(opts_validate(&o, why, sizeof(why)), 0);
	ck_assert_uint_eq(safe_dedup_ttl(&o), 10 * 200 * MSEC + NSEC);
	o.safe_resend_limit = 50;
	ck_assert_uint_eq(safe_dedup_ttl(&o), 50 * 200 * MSEC + NSEC);
	o.safe_hash_dedup_ttl = 20 * NSEC;
	ck_assert_uint_eq(safe_dedup_ttl(&o), 20 * NSEC);
}
END_TEST

START_TEST(test_sockets)
{
	struct config	 cf;
	struct sockconf	*sc;
	char		*errs;

	ck_assert_int_eq(load(&cf,
	    "[socket a]\n"
	    "type = dealer\n"
	    "bind = 0.0.0.0:7000\n"
	    "[socket b.c-d_e]\n"
	    "type = safe_dealer\n"
	    "connect = server.example.net:7000 ; a comment\n"
	    "[socket r]\n"
	    "type = radio\n"
	    "bind = [::]:0\n"
	    "[socket d]\n"
	    "type = dish\n"
	    "connect = [fe80::1%eth0]:9\n"
	    "[daemon]\n"
	    "ipc_path = /tmp/x.sock\n"
	    "ipc_mode = 0600\n"
	    "ipc_group = nbmq\n"
	    "log_level = debug\n"
	    "max_clients = 100000\n"
	    "max_client_sockets = 64\n"
	    "hello_timeout = 3\n"
	    "app_max_hwm = 5000\n"
	    "app_max_message_size = 1M\n", &errs), 0);
	ck_assert_str_eq(errs, "");
	ck_assert_ptr_nonnull(sc = sock_named(&cf, "a"));
	ck_assert_int_eq(sc->type, NBMQ_DEALER);
	ck_assert_str_eq(sc->bind, "0.0.0.0:7000");
	ck_assert_ptr_null(sc->connect);
	ck_assert_int_eq(sc->line, 1);
	ck_assert_ptr_nonnull(sc = sock_named(&cf, "b.c-d_e"));
	ck_assert_int_eq(sc->type, NBMQ_SAFE_DEALER);
	ck_assert_str_eq(sc->connect, "server.example.net:7000");
	ck_assert_int_eq(sc->line, 4);
	ck_assert_int_eq(sock_named(&cf, "r")->type, NBMQ_RADIO);
	ck_assert_int_eq(sock_named(&cf, "d")->type, NBMQ_DISH);
	/* Declaration order is kept. */
	ck_assert_str_eq(TAILQ_FIRST(&cf.sockets)->name, "a");
	ck_assert_str_eq(TAILQ_LAST(&cf.sockets, sockconf_list)->name, "d");
	ck_assert_str_eq(cf.ipc_path, "/tmp/x.sock");
	ck_assert_uint_eq(cf.ipc_mode, 0600);
	ck_assert_str_eq(cf.ipc_group, "nbmq");
	ck_assert_int_eq(cf.log_level, LOG_DEBUG);
	ck_assert_uint_eq(cf.max_clients, 100000);
	ck_assert_uint_eq(cf.max_client_sockets, 64);
	ck_assert_uint_eq(cf.hello_timeout, 3);
	ck_assert_uint_eq(cf.app_max_hwm, 5000);
	ck_assert_uint_eq(cf.app_max_message_size, 1U << 20);
	config_free(&cf);
	free(errs);
}
END_TEST

START_TEST(test_socktype)
{
	ck_assert_str_eq(socktype_name(NBMQ_DEALER), "dealer");
	ck_assert_str_eq(socktype_name(NBMQ_SAFE_DEALER), "safe_dealer");
	ck_assert_str_eq(socktype_name(NBMQ_RADIO), "radio");
	ck_assert_str_eq(socktype_name(NBMQ_DISH), "dish");
	ck_assert_ptr_null(socktype_name(0));
	ck_assert_ptr_null(socktype_name(99));
	ck_assert_int_eq(socktype_from_name("dish"), NBMQ_DISH);
	ck_assert_int_eq(socktype_from_name("safe_dealer"), NBMQ_SAFE_DEALER);
	ck_assert_int_eq(socktype_from_name("DEALER"), -1);
	ck_assert_int_eq(socktype_from_name(""), -1);
}
END_TEST

START_TEST(test_unknown_key)
{
	expect_one("[daemon]\n\n# c\nfoo = 1\n",
	    "t.conf:4: foo: unknown key in [daemon]\n");
	expect_one("[defaults]\nsend_hwn = 1\n",
	    "t.conf:2: send_hwn: unknown key in [defaults]\n");
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\nbogus = 1\n",
	    "t.conf:4: bogus: unknown key in [socket a]\n");
	/* Keys in the wrong section say where they belong. */
	expect_one("[daemon]\nsend_hwm = 5\n",
	    "t.conf:2: send_hwm: a socket option");
	expect_one("[defaults]\nipc_path = /x\n",
	    "t.conf:2: ipc_path: only allowed in [daemon]");
	expect_one("[defaults]\nbind = 1.2.3.4:5\n",
	    "t.conf:2: bind: only allowed in a [socket NAME] section");
	expect_one("send_hwm = 5\n",
	    "t.conf:1: send_hwm: outside of any section");
}
END_TEST

START_TEST(test_unsupported)
{
	/* Every key is supported now; encryption's keys need an encryptor
	 * (tests/test_crypt.c checks them further). */
	const char	*keys[] = { "private_key_file", "peers",
	    "peers_file" };
	char		 text[256], want[160];
	size_t		 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(text, sizeof(text), "[socket a]\ntype = dealer\n"
		    "bind = 1.2.3.4:5\n%s = x\n", keys[i]);
		snprintf(want, sizeof(want), "t.conf:4: %s: the socket is "
		    "plain (encryptor = none): set encryptor = sodium to use "
		    "it\n", keys[i]);
		expect_one(text, want);
	}
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "encryptor = x\n", "t.conf:4: encryptor: must be none, sodium, "
	    "or the absolute path of a plugin (.so), not \"x\"\n");
	expect_one("[defaults]\nencryptor = sodium\n",
	    "t.conf:2: encryptor: only allowed in a [socket NAME] section\n");
}
END_TEST

/* STUN: the stun type, name, stun_server, connect by name, the index. */
START_TEST(test_stun_keys)
{
	struct config	 cf;
	struct sockconf	*sc;
	char		*errs;

	ck_assert_int_eq(load(&cf,
	    "[socket rendezvous]\ntype = stun\nbind = 0.0.0.0:3478\n"
	    "stun_allow = 10.0.0.0/8, 192.168.0.0/16\nstun_index_max = 500\n"
	    "stun_refresh_ivl = 5\n"
	    "[socket bob]\ntype = dealer\nbind = 0.0.0.0:7000\nname = bob\n"
	    "stun_server = stun.example.net:3478\n"
	    "[socket alice]\ntype = dealer\n"
	    "connect = bob@stun.example.net:3478\nname = alice\n"
	    "[socket plain]\ntype = dealer\nconnect = [::1]:1\n"
	    "stun_server = 192.0.2.1:3478\n", &errs), 0);
	sc = sock_named(&cf, "rendezvous");
	ck_assert_int_eq(sc->type, NBMQ_STUN);
	ck_assert_str_eq(sc->stun_allow, "10.0.0.0/8, 192.168.0.0/16");
	ck_assert_uint_eq(sc->stun_index_max, 500);
	ck_assert_uint_eq(sc->o.stun_refresh_ivl, 5 * NSEC);
	sc = sock_named(&cf, "bob");
	ck_assert_str_eq(sc->stun_name, "bob");
	ck_assert_str_eq(sc->stun_server, "stun.example.net:3478");
	ck_assert_uint_eq(sc->o.stun_refresh_ivl, 20 * NSEC);
	ck_assert_str_eq(sock_named(&cf, "alice")->connect,
	    "bob@stun.example.net:3478");
	ck_assert_ptr_null(sock_named(&cf, "alice")->stun_server);
	config_free(&cf);
	free(errs);

	expect_one("[socket s]\ntype = stun\nconnect = 1.2.3.4:5\n",
	    "t.conf:3: connect: a stun socket only binds\n");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\nname = x\n",
	    "t.conf:4: name: not for a stun socket");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_server = 1.2.3.4:6\n",
	    "t.conf:4: stun_server: not for a stun socket\n");
	expect_one("[socket s]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "stun_allow = 10.0.0.0/8\n",
	    "t.conf:4: stun_allow: only for type = stun\n");
	expect_one("[socket s]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "stun_index_max = 5\n",
	    "t.conf:4: stun_index_max: only for type = stun\n");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_index_max = 0\n",
	    "t.conf:4: stun_index_max: must be an integer between 1 and "
	    "1000000, not \"0\"\n");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_allow = 10.0.0.0/33\n",
	    "t.conf:4: stun_allow: \"10.0.0.0/33\": the prefix length must "
	    "be 0 to 32\n");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_allow = everyone\n",
	    "t.conf:4: stun_allow: \"everyone\" is not an address");
	expect_one("[socket s]\ntype = dealer\nbind = 1.2.3.4:5\nname = bob\n",
	    "t.conf:4: name: needs stun_server");
	expect_one("[socket s]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "name = b o b\nstun_server = 1.2.3.4:6\n",
	    "t.conf:4: name: must be 1 to 64 characters");
	expect_one("[socket s]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "stun_server = 1.2.3.4\n",
	    "t.conf:4: stun_server: missing port");
	expect_one("[socket s]\ntype = dealer\nconnect = b@1.2.3.4:5\n"
	    "stun_server = 1.2.3.4:6\n",
	    "t.conf:4: stun_server: not with connect = name@host:port "
	    "(line 3)");
	expect_one("[socket s]\ntype = dealer\nconnect = b b@1.2.3.4:5\n",
	    "t.conf:3: connect: \"b b\" before '@' is not a valid name");
	expect_one("[socket s]\ntype = dealer\nconnect = @1.2.3.4:5\n",
	    "t.conf:3: connect: \"\" before '@' is not a valid name");
	expect_one("[socket s]\ntype = dealer\nconnect = bob@1.2.3.4\n",
	    "t.conf:3: connect: missing port");
	expect_one("[defaults]\nname = x\n",
	    "t.conf:2: name: only allowed in a [socket NAME] section\n");
	expect_one("[defaults]\nstun_refresh_ivl = 0.01\n",
	    "t.conf:2: stun_refresh_ivl: must be a duration between 0.1 and");
}
END_TEST

/* stun_index and stun_index_prefix: the shared index of a stun socket. */
START_TEST(test_stun_index_keys)
{
	struct stun_index_url	 u;
	struct config		 cf;
	char			*errs = NULL, why[128];

	ck_assert_int_eq(load(&cf,
	    "[socket a]\ntype = stun\nbind = 0.0.0.0:3478\n"
	    "stun_index = redis+unix:///run/redis/r.sock?db=2\n"
	    "stun_index_prefix = eu-west:nbmq:\n"
	    "[socket b]\ntype = stun\nbind = 0.0.0.0:3479\n", &errs), 0);
	ck_assert_str_eq(sock_named(&cf, "a")->stun_index,
	    "redis+unix:///run/redis/r.sock?db=2");
	ck_assert_str_eq(sock_named(&cf, "a")->stun_index_prefix,
	    "eu-west:nbmq:");
	ck_assert_ptr_null(sock_named(&cf, "b")->stun_index);
	config_free(&cf);
	free(errs);

	ck_assert_int_eq(stunsrv_parse_index("redis+unix:///run/r.sock?db=2",
	    &u, why, sizeof(why)), 0);
	ck_assert_int_eq(u.kind, STUN_INDEX_REDIS_UNIX);
	ck_assert_str_eq(u.path, "/run/r.sock");
	ck_assert_uint_eq(u.db, 2);
	ck_assert_int_eq(stunsrv_parse_index("redis://10.0.0.5:6380/3", &u,
	    why, sizeof(why)), 0);
	ck_assert_int_eq(u.kind, STUN_INDEX_REDIS);
	ck_assert_str_eq(u.host, "10.0.0.5");
	ck_assert_uint_eq(u.port, 6380);
	ck_assert_uint_eq(u.db, 3);
	ck_assert_int_eq(stunsrv_parse_index("redis://redis.example.net", &u,
	    why, sizeof(why)), 0);
	ck_assert_str_eq(u.host, "redis.example.net");
	ck_assert_uint_eq(u.port, 6379);
	ck_assert_uint_eq(u.db, 0);
	ck_assert_int_eq(stunsrv_parse_index("redis://[2001:db8::1]:7000/", &u,
	    why, sizeof(why)), 0);
	ck_assert_str_eq(u.host, "2001:db8::1");
	ck_assert_uint_eq(u.port, 7000);
	ck_assert_int_eq(stunsrv_parse_index("memory", &u, why, sizeof(why)),
	    0);
	ck_assert_int_eq(u.kind, STUN_INDEX_MEMORY);

	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_index = redis://10.0.0.5:0\n",
	    "t.conf:4: stun_index: expected redis://HOST[:PORT][/DB]");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_index = redis://10.0.0.5:6379/x\n",
	    "t.conf:4: stun_index: the database must be 0 to 9999, not "
	    "\"x\"\n");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_index = redis://10.0.0.5/10000\n",
	    "t.conf:4: stun_index: the database must be 0 to 9999");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_index = redis+unix://run/r.sock\n",
	    "t.conf:4: stun_index: redis+unix:// needs an absolute path");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_index = etcd://10.0.0.5\n",
	    "t.conf:4: stun_index: expected memory, redis://HOST[:PORT][/DB] "
	    "or redis+unix:///PATH, not \"etcd://10.0.0.5\"\n");
	expect_one("[socket s]\ntype = stun\nbind = 1.2.3.4:5\n"
	    "stun_index_prefix = a b\n",
	    "t.conf:4: stun_index_prefix: must be 1 to 64 characters of "
	    "A-Z a-z 0-9 _ . : -, not \"a b\"\n");
	expect_one("[socket s]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "stun_index = memory\n",
	    "t.conf:4: stun_index: only for type = stun\n");
	expect_one("[socket s]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "stun_index_prefix = x:\n",
	    "t.conf:4: stun_index_prefix: only for type = stun\n");
}
END_TEST

START_TEST(test_sections)
{
	expect_one("[daemon]\n[bogus]\nx = 1\n",
	    "t.conf:2: [bogus]: unknown section");
	expect_one("[sockets a]\n", "t.conf:1: [sockets a]: unknown section");
	expect_one("[daemon]\n[daemon]\n",
	    "t.conf:2: [daemon]: duplicate section (first at line 1)\n");
	expect_one("\n[defaults]\n\n[defaults]\n",
	    "t.conf:4: [defaults]: duplicate section (first at line 2)\n");
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "[socket a]\ntype = dealer\nbind = 1.2.3.4:6\n",
	    "t.conf:4: [socket a]: duplicate section (first at line 1)\n");
	expect_one("[socket]\ntype = dealer\nbind = 1.2.3.4:5\n",
	    "t.conf:1: [socket]: invalid socket name");
	expect_one("[socket a/b]\ntype = dealer\nbind = 1.2.3.4:5\n",
	    "t.conf:1: [socket a/b]: invalid socket name");
	expect_one("[socket "
	    "a123456789a123456789a123456789a123456789a123456789a123456789"
	    "12345]\ntype = dealer\nbind = 1.2.3.4:5\n",
	    "invalid socket name: 1 to 64 characters");
	expect_one("[daemon\nlog_level = info\n",
	    "t.conf:1: syntax error: section header without ']'");
	expect_one("[daemon] junk\n", "t.conf:1: [daemon]: unexpected text");
	/* Keys of a duplicate [daemon] are still checked against the first. */
	expect_one("[daemon]\nlog_level = info\n[defaults]\n[daemon]\n"
	    "max_clients = 5\n",
	    "t.conf:4: [daemon]: duplicate section");
}
END_TEST

START_TEST(test_duplicate_key)
{
	struct config	 cf;
	char		*errs;

	expect_one("[daemon]\nlog_level = info\nlog_level = debug\n",
	    "t.conf:3: log_level: duplicate key (first at line 2)\n");
	expect_one("[defaults]\nsend_hwm = 1\n\nsend_hwm = 1\n",
	    "t.conf:4: send_hwm: duplicate key (first at line 2)\n");
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "type = radio\n",
	    "t.conf:4: type: duplicate key (first at line 2)\n");
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "bind = 1.2.3.4:6\n",
	    "t.conf:4: bind: duplicate key (first at line 3)\n");
	/* A repeated section goes on with the keys of the first. */
	ck_assert_int_eq(load(&cf, "[daemon]\nlog_level = info\n[defaults]\n"
	    "[daemon]\nlog_level = info\n", &errs), 2);
	ck_assert_str_eq(errs,
	    "t.conf:4: [daemon]: duplicate section (first at line 1)\n"
	    "t.conf:5: log_level: duplicate key (first at line 2)\n");
	free(errs);
	config_free(&cf);
}
END_TEST

START_TEST(test_socket_required)
{
	expect_one("[socket a]\ntype = dealer\n",
	    "t.conf:1: [socket a]: needs bind or connect\n");
	expect_one("\n[socket a]\nbind = 1.2.3.4:5\n",
	    "t.conf:2: type: missing in [socket a]");
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "connect = 1.2.3.4:6\n",
	    "t.conf:4: connect: cannot be used with bind (line 3)");
	expect_one("[socket a]\ntype = dealer\nconnect = 1.2.3.4:6\n"
	    "bind = 1.2.3.4:5\n",
	    "t.conf:4: bind: cannot be used with connect (line 3)");
	expect_one("[socket a]\ntype = router\nbind = 1.2.3.4:5\n",
	    "t.conf:2: type: must be one of dealer, safe_dealer, radio, dish, "
	    "stun, not \"router\"\n");
}
END_TEST

START_TEST(test_addresses)
{
	const char	*bad[][2] = {
		{ "1.2.3.4", "missing port" },
		{ "1.2.3.4:", "missing port" },
		{ ":7000", "missing host" },
		{ "::1:7000", "needs brackets" },
		{ "[::1]", "missing port" },
		{ "[::1]:", "missing port" },
		{ "[::1", "missing ']'" },
		{ "[]:5", "empty IPv6" },
		{ "[::1]x5", "expected ':'" },
		{ "1.2.3.4:65536", "invalid port" },
		{ "1.2.3.4:-1", "invalid port" },
		{ "1.2.3.4:http", "invalid port" },
		{ "1.2.3.4:000007", "invalid port" },
		{ "a b:5", "invalid host" },
		{ "", "missing address" },
	};
	const char	*good[] = { "1.2.3.4:0", "localhost:65535",
	    "[::1]:7000", "[::ffff:1.2.3.4]:1", "host-1.example_x:80" };
	char		 text[256];
	struct config	 cf;
	char		*errs;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[socket a]\ntype = dealer\n"
		    "bind = %s\n", bad[i][0]);
		expect_one(text, bad[i][1]);
		expect_one(text, "t.conf:3: bind: ");
	}
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[socket a]\ntype = dealer\n"
		    "bind = %s\n", good[i]);
		ck_assert_msg(load(&cf, text, &errs) == 0, "%s: %s", good[i],
		    errs);
		config_free(&cf);
		free(errs);
	}
	expect_one("[socket a]\ntype = dealer\nconnect = 1.2.3.4:0\n",
	    "t.conf:3: connect: cannot connect to port 0");
}
END_TEST

START_TEST(test_daemon_values)
{
	expect_one("[daemon]\nipc_mode = 0888\n",
	    "t.conf:2: ipc_mode: must be an octal mode between 0000 and 0777");
	expect_one("[daemon]\nipc_mode = 01777\n", "ipc_mode: must be");
	expect_one("[daemon]\nipc_mode = -660\n", "ipc_mode: must be");
	expect_one("[daemon]\nlog_level = loud\n",
	    "t.conf:2: log_level: must be one of err, warning, notice, info, "
	    "debug, not \"loud\"");
	expect_one("[daemon]\nmax_clients = 0\n",
	    "max_clients: must be an integer between 1 and 100000");
	expect_one("[daemon]\nmax_clients = 100001\n", "max_clients");
	expect_one("[daemon]\nmax_clients = 5x\n", "max_clients");
	expect_one("[daemon]\nmax_client_sockets = 0\n",
	    "max_client_sockets: must be an integer between 1 and 1000000");
	expect_one("[daemon]\nhello_timeout = 0\n", "hello_timeout: must be");
	expect_one("[daemon]\nhello_timeout = 3601\n", "hello_timeout");
	expect_one("[daemon]\napp_max_hwm = 0\n", "app_max_hwm");
	expect_one("[daemon]\napp_max_message_size = 1G\n",
	    "app_max_message_size");
	expect_one("[daemon]\nipc_path =\n", "t.conf:2: ipc_path: must be a "
	    "path");
	expect_one("[daemon]\nipc_group = a b\n", "ipc_group: must be a group");
}
END_TEST

START_TEST(test_option_values)
{
	expect_one("[defaults]\npeer_keepalive = abc\n",
	    "t.conf:2: peer_keepalive: must be a duration between 0.001 and "
	    "86400 seconds");
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "send_hwm = 12x\n",
	    "t.conf:4: send_hwm: must be an integer between 1 and 10000000");
	expect_one("[defaults]\nmax_message_size = 1G\n",
	    "t.conf:2: max_message_size: must be a size between 1 and "
	    "268435456 bytes");
}
END_TEST

START_TEST(test_syntax)
{
	char	 text[512];

	expect_one("[daemon]\njust words\n",
	    "t.conf:2: syntax error: expected \"key = value\"");
	expect_one("[daemon]\nfoo ; = 1\n", "t.conf:2: syntax error");
	expect_one("[daemon]\n= 1\n", "t.conf:2: syntax error: missing key");
	/* Indented lines are not continuations. */
	expect_one("[daemon]\nlog_level = info\n   max_clients = 7\n"
	    "  [defaults]\n  send_hwm = 5\n  send_hwm = 6\n",
	    "t.conf:6: send_hwm: duplicate key");
	/* Too long for inih's line buffer. */
	memset(text, 0, sizeof(text));
	strcpy(text, "[daemon]\nipc_path = /");
	memset(text + strlen(text), 'x', 300);
	strcat(text, "\nlog_level = info\n");
	expect_one(text, "t.conf:2: syntax error: line too long");
	/* CRLF and a UTF-8 BOM are fine. */
	expect_one("\xef\xbb\xbf[daemon]\r\nlog_level = debug\r\nfoo = 1\r\n",
	    "t.conf:3: foo: unknown key in [daemon]\n");
	/* A ':' separator, as inih allows. */
	expect_one("[daemon]\nlog_level: debug\nfoo: 1\n", "t.conf:3: foo");
}
END_TEST

START_TEST(test_defaults_order)
{
	struct config	 cf;
	struct sockconf	*a, *b, *c;
	char		*errs;

	ck_assert_int_eq(load(&cf,
	    "[socket a]\n"
	    "type = dealer\n"
	    "bind = 127.0.0.1:7000\n"
	    "send_hwm = 7\n"
	    "[defaults]\n"
	    "send_hwm = 50\n"
	    "recv_hwm = 60\n"
	    "peer_keepalive = 30\n"
	    "[socket b]\n"
	    "type = dish\n"
	    "connect = 127.0.0.1:7000\n"
	    "recv_hwm = 9\n"
	    "[socket c]\n"
	    "type = radio\n"
	    "bind = 127.0.0.1:7001\n", &errs), 0);
	ck_assert_str_eq(errs, "");
	a = sock_named(&cf, "a");
	b = sock_named(&cf, "b");
	c = sock_named(&cf, "c");
	ck_assert(a != NULL && b != NULL && c != NULL);
	/* Before [defaults]: its own value wins, the rest from [defaults]. */
	ck_assert_uint_eq(a->o.send_hwm, 7);
	ck_assert_uint_eq(a->o.recv_hwm, 60);
	ck_assert_uint_eq(a->o.peer_keepalive, 30 * NSEC);
	/* After [defaults]. */
	ck_assert_uint_eq(b->o.send_hwm, 50);
	ck_assert_uint_eq(b->o.recv_hwm, 9);
	ck_assert_uint_eq(b->o.peer_keepalive, 30 * NSEC);
	ck_assert_uint_eq(c->o.send_hwm, 50);
	ck_assert_uint_eq(c->o.recv_hwm, 60);
	/* Untouched options keep the built-in defaults. */
	ck_assert_uint_eq(c->o.max_frame_size, 500);
	ck_assert_uint_eq(cf.defaults.send_hwm, 50);
	config_free(&cf);
	free(errs);
}
END_TEST

START_TEST(test_keepalive)
{
	struct config	 cf;
	char		*errs;

	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "peer_keepalive = 2\npeer_heartbeat_ivl = 3\n",
	    "t.conf:1: [socket a]: peer_keepalive (2s) must be greater than "
	    "peer_heartbeat_ivl (3s)\n");
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "peer_keepalive = 1\n",
	    "t.conf:1: [socket a]: peer_keepalive (1s) must be greater than "
	    "peer_heartbeat_ivl (1s)\n");
	/* Bad [defaults] are reported once, not again for every socket. */
	expect_one("[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "[socket b]\ntype = dealer\nbind = 1.2.3.4:6\n"
	    "\n[defaults]\npeer_keepalive = 0.5\n",
	    "t.conf:8: [defaults]: peer_keepalive (0.5s) must be greater "
	    "than peer_heartbeat_ivl (1s)\n");
	/* A socket may repair bad [defaults] for itself... */
	ck_assert_int_eq(load(&cf, "[defaults]\npeer_keepalive = 0.5\n"
	    "[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "peer_heartbeat_ivl = 0.1\n", &errs), 1);
	ck_assert_str_eq(errs, "t.conf:1: [defaults]: peer_keepalive (0.5s) "
	    "must be greater than peer_heartbeat_ivl (1s)\n");
	free(errs);
	/* ...or break good ones. */
	ck_assert_int_eq(load(&cf, "[defaults]\npeer_heartbeat_ivl = 5\n"
	    "[socket a]\ntype = dealer\nbind = 1.2.3.4:5\n"
	    "peer_keepalive = 4\n", &errs), 1);
	ck_assert_str_eq(errs, "t.conf:3: [socket a]: peer_keepalive (4s) "
	    "must be greater than peer_heartbeat_ivl (5s)\n");
	free(errs);
	/* An error frees what was loaded: cf is as after config_init. */
	ck_assert(TAILQ_EMPTY(&cf.sockets));
	ck_assert_str_eq(cf.ipc_path, NBMQ_DEFAULT_IPC_PATH);
	config_free(&cf);
}
END_TEST

START_TEST(test_many_errors)
{
	struct config	 cf;
	char		*errs;

	ck_assert_int_eq(load(&cf,
	    "[daemon]\n"			/* 1 */
	    "log_level = loud\n"		/* 2 */
	    "colour = blue\n"			/* 3 */
	    "[defaults]\n"			/* 4 */
	    "send_hwm = 0\n"			/* 5 */
	    "[socket a]\n"			/* 6: needs bind/connect */
	    "type = dealer\n"			/* 7 */
	    "type = dealer\n"			/* 8 */
	    "[nope]\n"				/* 9 */
	    "ignored = 1\n"			/* 10 */
	    "[socket b]\n"			/* 11: type missing */
	    "connect = host\n"			/* 12 */
	    "linger = 2 days\n"			/* 13 */
	    "oops\n", &errs), 10);		/* 14 */
	ck_assert_str_eq(errs,
	    "t.conf:2: log_level: must be one of err, warning, notice, info, "
	    "debug, not \"loud\"\n"
	    "t.conf:3: colour: unknown key in [daemon]\n"
	    "t.conf:5: send_hwm: must be an integer between 1 and 10000000, "
	    "not \"0\"\n"
	    "t.conf:6: [socket a]: needs bind or connect\n"
	    "t.conf:8: type: duplicate key (first at line 7)\n"
	    "t.conf:9: [nope]: unknown section (expected [daemon], [defaults] "
	    "or [socket NAME])\n"
	    "t.conf:11: type: missing in [socket b] (dealer, safe_dealer, "
	    "radio, dish or stun)\n"
	    "t.conf:12: connect: missing port: expected host:port or "
	    "[v6]:port, not \"host\"\n"
	    "t.conf:13: linger: must be a duration between 0 and 86400 "
	    "seconds (like 0.2, 500ms, 2m), not \"2 days\"\n"
	    "t.conf:14: syntax error: expected \"key = value\"\n");
	free(errs);
	config_free(&cf);
}
END_TEST

START_TEST(test_file)
{
	struct config	 cf;
	char		*errs = NULL;
	size_t		 len = 0;
	FILE		*f;
	int		 n;

	f = open_memstream(&errs, &len);
	n = config_load(&cf, "conf/nbmqd.conf", f);
	fclose(f);
	ck_assert_msg(n == 0, "conf/nbmqd.conf: %d errors:\n%s", n, errs);
	ck_assert_str_eq(errs, "");
	ck_assert(TAILQ_EMPTY(&cf.sockets));
	ck_assert_str_eq(cf.path, "conf/nbmqd.conf");
	ck_assert_str_eq(cf.ipc_path, NBMQ_DEFAULT_IPC_PATH);
	config_free(&cf);
	free(errs);

	errs = NULL;
	f = open_memstream(&errs, &len);
	n = config_load(&cf, "/nonexistent/nbmqd.conf", f);
	fclose(f);
	ck_assert_int_eq(n, 1);
	ck_assert_str_eq(errs, "/nonexistent/nbmqd.conf: cannot open: "
	    "No such file or directory\n");
	config_free(&cf);
	free(errs);
}
END_TEST

/* The example section of conf/nbmqd.conf, uncommented, is valid. */
START_TEST(test_file_example)
{
	struct config	 cf;
	FILE		*f;
	char		*line = NULL, *text = NULL, *errs;
	size_t		 cap = 0, len = 0;
	ssize_t		 r;
	FILE		*out;
	int		 in_example = 0;

	ck_assert_ptr_nonnull(f = fopen("conf/nbmqd.conf", "r"));
	ck_assert_ptr_nonnull(out = open_memstream(&text, &len));
	while ((r = getline(&line, &cap, f)) > 0) {
		if (strncmp(line, "#[socket example]", 17) == 0)
			in_example = 1;
		if (in_example && line[0] == '#')
			fputs(line + 1, out);
	}
	fclose(out);
	fclose(f);
	free(line);
	ck_assert_int_eq(load(&cf, text, &errs), 0);
	ck_assert_str_eq(sock_named(&cf, "example")->bind, "0.0.0.0:7000");
	ck_assert_uint_eq(sock_named(&cf, "example")->o.send_hwm, 5000);
	config_free(&cf);
	free(errs);
	free(text);
}
END_TEST

static char *
print_config(const struct config *cf)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*f;

	f = open_memstream(&buf, &len);
	config_print(cf, f);
	fclose(f);
	return buf;
}

START_TEST(test_roundtrip)
{
	struct config	 cf, cf2;
	char		*errs, *p1, *p2;
	const char	*text =
	    "[daemon]\n"
	    "ipc_path = /tmp/nbmq test.sock\n"
	    "ipc_mode = 0640\n"
	    "ipc_group = 1234\n"
	    "log_level = warning\n"
	    "[defaults]\n"
	    "safe_resend_ivl = 0.25\n"
	    "peer_keepalive = 0.0015s\n"
	    "peer_heartbeat_ivl = 1ms\n"
	    "linger = 0\n"
	    "[socket one]\n"
	    "type = safe_dealer\n"
	    "connect = [::1]:7000\n"
	    "max_message_size = 1G\n"
	    "[socket two]\n"
	    "type = radio\n"
	    "bind = 0.0.0.0:0\n"
	    "uncompleted_message_ttl = 2m\n"
	    "rcvbuf = 0\n";

	ck_assert_int_eq(load(&cf, text, &errs), 1);	/* 1G > 256M */
	ck_assert_ptr_nonnull(strstr(errs, "t.conf:14: max_message_size"));
	free(errs);
	ck_assert_int_eq(load(&cf, "[daemon]\n"
	    "ipc_path = /tmp/nbmq test.sock\n"
	    "ipc_mode = 0640\n"
	    "ipc_group = 1234\n"
	    "log_level = warning\n"
	    "[defaults]\n"
	    "safe_resend_ivl = 0.25\n"
	    "peer_keepalive = 0.0015s\n"
	    "peer_heartbeat_ivl = 1ms\n"
	    "linger = 0\n"
	    "[socket one]\n"
	    "type = safe_dealer\n"
	    "connect = [::1]:7000\n"
	    "max_message_size = 256M\n"
	    "safe_hash_dedup_ttl = 0.25\n"
	    "[socket two]\n"
	    "type = radio\n"
	    "bind = 0.0.0.0:0\n"
	    "uncompleted_message_ttl = 2m\n"
	    "rcvbuf = 0\n", &errs), 0);
	ck_assert_msg(errs[0] == '\0', "%s", errs);
	free(errs);
	p1 = print_config(&cf);
	ck_assert_ptr_nonnull(strstr(p1, "safe_resend_ivl = 0.25\n"));
	ck_assert_ptr_nonnull(strstr(p1, "peer_keepalive = 0.0015\n"));
	ck_assert_ptr_nonnull(strstr(p1, "uncompleted_message_ttl = 120\n"));
	ck_assert_ptr_nonnull(strstr(p1, "max_message_size = 268435456\n"));
	ck_assert_ptr_nonnull(strstr(p1, "ipc_mode = 0640\n"));
	ck_assert_ptr_nonnull(strstr(p1, "log_level = warning\n"));

	ck_assert_int_eq(load(&cf2, p1, &errs), 0);
	ck_assert_msg(errs[0] == '\0', "%s", errs);
	free(errs);
	ck_assert(memcmp(&cf.defaults, &cf2.defaults,
	    sizeof(cf.defaults)) == 0);
	ck_assert(memcmp(&sock_named(&cf, "one")->o,
	    &sock_named(&cf2, "one")->o, sizeof(struct sockopts)) == 0);
	ck_assert(memcmp(&sock_named(&cf, "two")->o,
	    &sock_named(&cf2, "two")->o, sizeof(struct sockopts)) == 0);
	p2 = print_config(&cf2);
	/* Same but for the "from FILE" header line. */
	ck_assert_str_eq(strchr(p1, '\n'), strchr(p2, '\n'));
	free(p1);
	free(p2);
	config_free(&cf2);

	/* The defaults alone print and reload too. */
	config_free(&cf);
	config_init(&cf);
	/* Complete as it is: nbmqd with no file runs on it (issue 17). */
	ck_assert_str_eq(cf.ipc_path, NBMQ_DEFAULT_IPC_PATH);
	ck_assert_ptr_null(cf.path);
	p1 = print_config(&cf);
	ck_assert_ptr_nonnull(strstr(p1, "ipc_path = " NBMQ_DEFAULT_IPC_PATH));
	ck_assert_int_eq(load(&cf2, p1, &errs), 0);
	free(errs);
	free(p1);
	config_free(&cf2);
	config_free(&cf);
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc;

	tc = tcase_create("opts");
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_table);
	tcase_add_test(tc, test_parse_duration);
	tcase_add_test(tc, test_parse_bytes);
	tcase_add_test(tc, test_parse_count);
	tcase_add_test(tc, test_parse_bool);
	tcase_add_test(tc, test_ipc);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_validate);
	suite_add_tcase(s, tc);

	tc = tcase_create("config");
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_sockets);
	tcase_add_test(tc, test_socktype);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_unsupported);
	tcase_add_test(tc, test_stun_keys);
	tcase_add_test(tc, test_stun_index_keys);
	tcase_add_test(tc, test_sections);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_socket_required);
	tcase_add_test(tc, test_addresses);
	tcase_add_test(tc, test_daemon_values);
	tcase_add_test(tc, test_option_values);
	tcase_add_test(tc, test_syntax);
	tcase_add_test(tc, test_defaults_order);
	tcase_add_test(tc, test_keepalive);
	tcase_add_test(tc, test_many_errors);
	tcase_add_test(tc, test_file);
	tcase_add_test(tc, test_file_example);
	tcase_add_test(tc, test_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return run_suite(config_suite());
}
