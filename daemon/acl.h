/* SPDX-License-Identifier: ISC */
/*
 * acl.h: who may use a configured socket, and who may change the daemon
 * (acl.c).  Pure evaluation: the client's credentials (its uid from
 * SO_PEERCRED and its groups from the group database) are resolved by the
 * IPC shell and handed in.
 */
#ifndef ACL_H
#define ACL_H

#include <sys/types.h>
#include <stddef.h>

/* Users and groups, as listed in an allow_* key. */
struct acl {
	uid_t		*uids;
	size_t		 nuids;
	gid_t		*gids;
	size_t		 ngids;
	int		 any;		/* "*": whoever may connect */
};

enum acl_right {
	ACL_SEND,		/* allow_send: send through the socket */
	ACL_RECV,		/* allow_recv: receive, its backlog too */
	ACL_SETOPT,		/* allow_setopt: its options, bind, connect */
	ACL_NRIGHTS
};

/*
 * A configured socket's policy: NULL (no allow_* key) lets in whoever may
 * connect to the IPC socket, as before access control existed.  With one
 * key set, a right whose key is missing is nobody's.
 */
struct sockacl {
	struct acl	 right[ACL_NRIGHTS];
	int		 set[ACL_NRIGHTS];
	char		*text[ACL_NRIGHTS];	/* as written (nbmqd -T) */
};

/* An application: resolved once per connection. */
struct acl_cred {
	uid_t		 uid;
	gid_t		*gids;		/* every group of uid, primary first */
	size_t		 ngids;
	int		 trusted;	/* root or the daemon's own user */
};

extern const char *const acl_keys[ACL_NRIGHTS];	/* "allow_send"... */

/* "alice @ops 1001 @2000 *": 0, or -1 with why (an unknown name...). */
int	 acl_parse(struct acl *, const char *text, char *why, size_t len);
void	 acl_free(struct acl *);
void	 sockacl_free(struct sockacl *);
/* Is cr listed: its uid, or one of its groups, or "*". */
int	 acl_has(const struct acl *, const struct acl_cred *);
/* Is cr a member of gid (its primary group or a supplementary one). */
int	 acl_in_group(const struct acl_cred *, gid_t);

/*
 * The checks, each 0 or the errno the application gets.  Attaching a
 * configured socket takes the rights its type uses (dealer and
 * safe_dealer: send and receive, radio: send, dish: receive): EACCES.
 * A socket an application created is its uid's: EACCES to others.
 * Socket options, bind and connect of a configured socket: EPERM.
 * Mutating control requests (reload): root, the daemon's user, or a
 * member of admin_group (has_admin): EPERM.
 */
int	 acl_attach(const struct sockacl *, int type,
	    const struct acl_cred *);
int	 acl_owner(uid_t owner, const struct acl_cred *);
int	 acl_setopt(const struct sockacl *, const struct acl_cred *);
int	 acl_admin(const struct acl_cred *, int has_admin, gid_t admin_gid);

#endif /* ACL_H */
