/* SPDX-License-Identifier: ISC */
/*
 * test_acl.c: unit tests of daemon/acl.c, access control between local
 * users: parsing allow_* lists (names resolved, errors said), matching
 * by uid, primary and supplementary group and "*", and each rule: attach
 * by socket type, the owner of a created socket, socket options, and
 * mutating control requests.  Names used are root, daemon and adm, which
 * every Debian-like system has.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "nbmqd.h"
#include "acl.h"

static struct acl_cred
cred(uid_t uid, const gid_t *gids, size_t n)
{
	struct acl_cred	c = { .uid = uid, .ngids = n };

	c.gids = (gid_t *)gids;
	return c;
}

/* A policy from allow_send, allow_recv, allow_setopt (NULL: unset). */
static struct sockacl *
policy(const char *send, const char *recv, const char *setopt)
{
	struct sockacl	*sa = calloc(1, sizeof(*sa));
	const char	*t[ACL_NRIGHTS] = { send, recv, setopt };
	char		 why[128];

	ck_assert_ptr_nonnull(sa);
	for (int r = 0; r < ACL_NRIGHTS; r++) {
		if (t[r] == NULL)
			continue;
		ck_assert_int_eq(acl_parse(&sa->right[r], t[r], why,
		    sizeof(why)), 0);
		sa->set[r] = 1;
	}
	return sa;
}

START_TEST(test_parse)
{
	struct acl	a;
	char		why[128];

	ck_assert_int_eq(acl_parse(&a, "root, 1001 @adm @2000", why,
	    sizeof(why)), 0);
	ck_assert_uint_eq(a.nuids, 2);
	ck_assert_uint_eq(a.uids[0], 0);
	ck_assert_uint_eq(a.uids[1], 1001);
	ck_assert_uint_eq(a.ngids, 2);
	ck_assert_uint_eq(a.gids[0], 4);
	ck_assert_uint_eq(a.gids[1], 2000);
	ck_assert_int_eq(a.any, 0);
	acl_free(&a);
	ck_assert_int_eq(acl_parse(&a, "*", why, sizeof(why)), 0);
	ck_assert_int_eq(a.any, 1);
	acl_free(&a);
}
END_TEST

START_TEST(test_parse_errors)
{
	struct acl	a;
	char		why[128];

	ck_assert_int_eq(acl_parse(&a, "root nosuchuser_nbmq", why,
	    sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "no user \"nosuchuser_nbmq\""));
	ck_assert_int_eq(acl_parse(&a, "@nosuchgroup_nbmq", why,
	    sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "no group \"nosuchgroup_nbmq\""));
	ck_assert_int_eq(acl_parse(&a, " , ", why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "empty"));
	ck_assert_int_eq(acl_parse(&a, "@", why, sizeof(why)), -1);
	ck_assert_int_eq(acl_parse(&a, "4294967295", why, sizeof(why)), -1);
	ck_assert_ptr_null(a.uids);
}
END_TEST

/* Listed by uid, by any of its groups (primary or supplementary), or *. */
START_TEST(test_has)
{
	struct acl	 a;
	char		 why[128];
	gid_t		 g1[] = { 100, 4 }, g2[] = { 100, 50 };
	struct acl_cred	 in_uid = cred(1001, NULL, 0);
	struct acl_cred	 in_supp = cred(1500, g1, 2);
	struct acl_cred	 out = cred(1500, g2, 2);

	ck_assert_int_eq(acl_parse(&a, "1001 @adm", why, sizeof(why)), 0);
	ck_assert_int_eq(acl_has(&a, &in_uid), 1);
	ck_assert_int_eq(acl_has(&a, &in_supp), 1);
	ck_assert_int_eq(acl_has(&a, &out), 0);
	ck_assert_int_eq(acl_in_group(&in_supp, 4), 1);
	ck_assert_int_eq(acl_in_group(&in_supp, 100), 1);
	ck_assert_int_eq(acl_in_group(&out, 4), 0);
	acl_free(&a);
}
END_TEST

/* No allow_* key: open to whoever may connect, as before. */
START_TEST(test_attach_open)
{
	struct acl_cred	c = cred(1500, NULL, 0);

	for (int t = NBMQ_DEALER; t <= NBMQ_DISH; t++)
		ck_assert_int_eq(acl_attach(NULL, t, &c), 0);
	ck_assert_int_eq(acl_setopt(NULL, &c), 0);
}
END_TEST

/* Each type takes the rights it uses. */
START_TEST(test_attach_by_type)
{
	struct sockacl	*both = policy("1001", "1001", NULL);
	struct sockacl	*send = policy("1001", "1002", NULL);
	struct sockacl	*recv = policy("1002", "1001", NULL);
	struct acl_cred	 c = cred(1001, NULL, 0);

	ck_assert_int_eq(acl_attach(both, NBMQ_DEALER, &c), 0);
	ck_assert_int_eq(acl_attach(both, NBMQ_SAFE_DEALER, &c), 0);
	/* A dealer both sends and receives (its backlog too). */
	ck_assert_int_eq(acl_attach(send, NBMQ_DEALER, &c), EACCES);
	ck_assert_int_eq(acl_attach(recv, NBMQ_SAFE_DEALER, &c), EACCES);
	/* A radio only sends, a dish only receives. */
	ck_assert_int_eq(acl_attach(send, NBMQ_RADIO, &c), 0);
	ck_assert_int_eq(acl_attach(recv, NBMQ_RADIO, &c), EACCES);
	ck_assert_int_eq(acl_attach(recv, NBMQ_DISH, &c), 0);
	ck_assert_int_eq(acl_attach(send, NBMQ_DISH, &c), EACCES);
	sockacl_free(both);
	sockacl_free(send);
	sockacl_free(recv);
}
END_TEST

/* With one key set, a right whose key is missing is nobody's. */
START_TEST(test_attach_unset_right)
{
	struct sockacl	*sa = policy(NULL, "*", NULL);
	struct acl_cred	 c = cred(1001, NULL, 0);

	ck_assert_int_eq(acl_attach(sa, NBMQ_DISH, &c), 0);
	ck_assert_int_eq(acl_attach(sa, NBMQ_RADIO, &c), EACCES);
	ck_assert_int_eq(acl_setopt(sa, &c), EPERM);
	sockacl_free(sa);
}
END_TEST

/* A supplementary group listed lets its members in. */
START_TEST(test_attach_group)
{
	struct sockacl	*sa = policy(NULL, "@4", NULL);
	gid_t		 g[] = { 1500, 4 };
	struct acl_cred	 member = cred(1500, g, 2), other = cred(1501, g, 1);

	ck_assert_int_eq(acl_attach(sa, NBMQ_DISH, &member), 0);
	ck_assert_int_eq(acl_attach(sa, NBMQ_DISH, &other), EACCES);
	sockacl_free(sa);
}
END_TEST

/* Root and the daemon's own user pass every socket rule. */
START_TEST(test_trusted)
{
	struct sockacl	*sa = policy("1001", "1001", "1001");
	struct acl_cred	 c = cred(1500, NULL, 0);

	ck_assert_int_eq(acl_attach(sa, NBMQ_DEALER, &c), EACCES);
	c.trusted = 1;
	ck_assert_int_eq(acl_attach(sa, NBMQ_DEALER, &c), 0);
	ck_assert_int_eq(acl_setopt(sa, &c), 0);
	ck_assert_int_eq(acl_owner(1001, &c), 0);
	ck_assert_int_eq(acl_admin(&c, 0, 0), 0);
	sockacl_free(sa);
}
END_TEST

/* A socket an application created is its uid's. */
START_TEST(test_owner)
{
	struct acl_cred	mine = cred(1001, NULL, 0), other = cred(1002, NULL, 0);

	ck_assert_int_eq(acl_owner(1001, &mine), 0);
	ck_assert_int_eq(acl_owner(1001, &other), EACCES);
}
END_TEST

START_TEST(test_setopt)
{
	struct sockacl	*sa = policy("*", "*", "@4 1001");
	gid_t		 g[] = { 4 };
	struct acl_cred	 u = cred(1001, NULL, 0), grp = cred(1500, g, 1);
	struct acl_cred	 other = cred(1002, NULL, 0);

	ck_assert_int_eq(acl_setopt(sa, &u), 0);
	ck_assert_int_eq(acl_setopt(sa, &grp), 0);
	ck_assert_int_eq(acl_setopt(sa, &other), EPERM);
	/* Attaching is not changing. */
	ck_assert_int_eq(acl_attach(sa, NBMQ_DEALER, &other), 0);
	sockacl_free(sa);
}
END_TEST

/* Reload: admin_group's members (supplementary too), else EPERM. */
START_TEST(test_admin)
{
	gid_t		 g[] = { 1500, 4 };
	struct acl_cred	 member = cred(1500, g, 2), other = cred(1501, g, 1);

	ck_assert_int_eq(acl_admin(&member, 1, 4), 0);
	ck_assert_int_eq(acl_admin(&other, 1, 4), EPERM);
	ck_assert_int_eq(acl_admin(&member, 0, 4), EPERM);	/* unset */
	/* A group it is not in, gid 0 included. */
	ck_assert_int_eq(acl_admin(&member, 1, 0), EPERM);
}
END_TEST

/* The configuration: keys, a bad line stops start-up at its line. */
START_TEST(test_config)
{
	struct config	 cf;
	FILE		*ef;
	char		*buf = NULL;
	size_t		 len = 0;

	config_init(&cf);
	ck_assert_int_eq(config_load_string(&cf, "t.conf",
	    "[daemon]\nadmin_group = adm\n"
	    "[socket s]\ntype = dish\nbind = 127.0.0.1:0\n"
	    "allow_recv = root @adm\nallow_setopt = root\n", stderr), 0);
	ck_assert_str_eq(cf.admin_group, "adm");
	ck_assert_uint_eq(cf.admin_gid, 4);
	ck_assert_ptr_nonnull(TAILQ_FIRST(&cf.sockets)->acl);
	ck_assert_int_eq(TAILQ_FIRST(&cf.sockets)->acl->set[ACL_RECV], 1);
	ck_assert_int_eq(TAILQ_FIRST(&cf.sockets)->acl->set[ACL_SEND], 0);
	config_free(&cf);

	ef = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(ef);
	ck_assert_int_eq(config_load_string(&cf, "t.conf",
	    "[daemon]\nadmin_group = nosuchgroup_nbmq\n"
	    "[socket s]\ntype = dealer\nbind = 127.0.0.1:0\n"
	    "allow_send = nosuchuser_nbmq\nallow_send = root\n"
	    "allow_recv =\n"
	    "[socket t]\ntype = stun\nbind = 127.0.0.1:0\nallow_recv = *\n",
	    ef), 5);
	fclose(ef);
	ck_assert_ptr_nonnull(strstr(buf, "t.conf:2: admin_group: no group "
	    "\"nosuchgroup_nbmq\""));
	ck_assert_ptr_nonnull(strstr(buf, "t.conf:6: allow_send: no user "
	    "\"nosuchuser_nbmq\""));
	ck_assert_ptr_nonnull(strstr(buf, "t.conf:7: allow_send: duplicate"));
	ck_assert_ptr_nonnull(strstr(buf, "t.conf:8: allow_recv: empty"));
	ck_assert_ptr_nonnull(strstr(buf, "t.conf:12: allow_recv: a stun "
	    "socket has no applications"));
	free(buf);
	config_free(&cf);
}
END_TEST

static Suite *
acl_suite(void)
{
	Suite	*s = suite_create("acl");
	TCase	*tc = tcase_create("acl");

	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_parse_errors);
	tcase_add_test(tc, test_has);
	tcase_add_test(tc, test_attach_open);
	tcase_add_test(tc, test_attach_by_type);
	tcase_add_test(tc, test_attach_unset_right);
	tcase_add_test(tc, test_attach_group);
	tcase_add_test(tc, test_trusted);
	tcase_add_test(tc, test_owner);
	tcase_add_test(tc, test_setopt);
	tcase_add_test(tc, test_admin);
	tcase_add_test(tc, test_config);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr;
	int	 failed;

	log_init(LOG_ERR, 1);
	sr = srunner_create(acl_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
