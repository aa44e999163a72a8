/* SPDX-License-Identifier: ISC */
/*
 * acl.c: access control between local users, in the spirit of D-Bus
 * policies and mosquitto's ACLs: a configured socket lists who may send
 * through it, receive from it and change it (allow_send, allow_recv,
 * allow_setopt), by user and by group; a socket an application created is
 * its uid's; reloading is root's, the daemon user's, or admin_group's.
 *
 * Names are resolved when the configuration is read (an unknown one stops
 * start-up at its line), so a check is a comparison of numbers.  The
 * client's groups are the group database's for its uid (the IPC shell
 * resolves them: ipc.c), never the process's own, which `sg` or a stale
 * session could give it.
 */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl.h"
#include "nbmq.h"

#define ACL_TOKEN_MAX	256

const char *const acl_keys[ACL_NRIGHTS] = {
	"allow_send", "allow_recv", "allow_setopt",
};

/* A uid or gid written as a number: 0, or -1 (not one). */
static int
acl_number(const char *s, unsigned long *v)
{
	char	*end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	*v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || *v >= (unsigned long)(uid_t)-1)
		return -1;
	return 0;
}

static int
acl_add_uid(struct acl *a, uid_t uid)
{
	uid_t	*v;

	if ((v = reallocarray(a->uids, a->nuids + 1, sizeof(*v))) == NULL)
		return -1;
	a->uids = v;
	a->uids[a->nuids++] = uid;
	return 0;
}

static int
acl_add_gid(struct acl *a, gid_t gid)
{
	gid_t	*v;

	if ((v = reallocarray(a->gids, a->ngids + 1, sizeof(*v))) == NULL)
		return -1;
	a->gids = v;
	a->gids[a->ngids++] = gid;
	return 0;
}

/* One entry: "*", "@group", "@gid", "user" or "uid". */
static int
acl_token(struct acl *a, const char *t, char *why, size_t len)
{
	struct passwd	*pw;
	struct group	*gr;
	unsigned long	 v;
	int		 r;

	if (strcmp(t, "*") == 0) {
		a->any = 1;
		return 0;
	}
	if (*t == '@') {
		if (acl_number(t + 1, &v) == 0)
			r = acl_add_gid(a, (gid_t)v);
		else if ((gr = getgrnam(t + 1)) != NULL)
			r = acl_add_gid(a, gr->gr_gid);
		else {
			snprintf(why, len, "no group \"%.64s\"", t + 1);
			return -1;
		}
	} else if (acl_number(t, &v) == 0)
		r = acl_add_uid(a, (uid_t)v);
	else if ((pw = getpwnam(t)) != NULL)
		r = acl_add_uid(a, pw->pw_uid);
	else {
		snprintf(why, len, "no user \"%.64s\" (a group is written "
		    "@name)", t);
		return -1;
	}
	if (r == -1)
		snprintf(why, len, "out of memory");
	return r;
}

int
acl_parse(struct acl *a, const char *text, char *why, size_t len)
{
	char		 tok[ACL_TOKEN_MAX];
	const char	*p = text;
	size_t		 n, count = 0;

	memset(a, 0, sizeof(*a));
	for (;;) {
		p += strspn(p, " \t,");
		if (*p == '\0')
			break;
		n = strcspn(p, " \t,");
		if (n >= sizeof(tok) || (n == 1 && *p == '@')) {
			snprintf(why, len, "\"%.64s\" is not a user, @group "
			    "or *", p);
			acl_free(a);
			return -1;
		}
		memcpy(tok, p, n);
		tok[n] = '\0';
		if (acl_token(a, tok, why, len) == -1) {
			acl_free(a);
			return -1;
		}
		p += n;
		count++;
	}
	if (count == 0) {
		snprintf(why, len, "empty: list users, @groups or *");
		return -1;
	}
	return 0;
}

void
acl_free(struct acl *a)
{
	free(a->uids);
	free(a->gids);
	memset(a, 0, sizeof(*a));
}

void
sockacl_free(struct sockacl *sa)
{
	if (sa == NULL)
		return;
	for (int i = 0; i < ACL_NRIGHTS; i++) {
		acl_free(&sa->right[i]);
		free(sa->text[i]);
	}
	free(sa);
}

int
acl_in_group(const struct acl_cred *cr, gid_t gid)
{
	for (size_t i = 0; i < cr->ngids; i++)
		if (cr->gids[i] == gid)
			return 1;
	return 0;
}

int
acl_has(const struct acl *a, const struct acl_cred *cr)
{
	if (a->any)
		return 1;
	for (size_t i = 0; i < a->nuids; i++)
		if (a->uids[i] == cr->uid)
			return 1;
	for (size_t i = 0; i < a->ngids; i++)
		if (acl_in_group(cr, a->gids[i]))
			return 1;
	return 0;
}

/* cr holds right r on the socket: its key is set and lists cr. */
static int
acl_right(const struct sockacl *sa, enum acl_right r,
    const struct acl_cred *cr)
{
	return sa->set[r] && acl_has(&sa->right[r], cr);
}

int
acl_attach(const struct sockacl *sa, int type, const struct acl_cred *cr)
{
	int	send = type != NBMQ_DISH, recv = type != NBMQ_RADIO;

	if (sa == NULL || cr->trusted)
		return 0;
	if (send && !acl_right(sa, ACL_SEND, cr))
		return EACCES;
	if (recv && !acl_right(sa, ACL_RECV, cr))
		return EACCES;
	return 0;
}

int
acl_owner(uid_t owner, const struct acl_cred *cr)
{
	if (cr->trusted || cr->uid == owner)
		return 0;
	return EACCES;
}

int
acl_setopt(const struct sockacl *sa, const struct acl_cred *cr)
{
	if (sa == NULL || cr->trusted)
		return 0;
	if (!acl_right(sa, ACL_SETOPT, cr))
		return EPERM;
	return 0;
}

int
acl_admin(const struct acl_cred *cr, int has_admin, gid_t admin_gid)
{
	if (cr->trusted)
		return 0;
	if (has_admin && acl_in_group(cr, admin_gid))
		return 0;
	return EPERM;
}
