/* SPDX-License-Identifier: ISC */
/*
 * ipc.h: the IPC shell's own header, shared by the transport (ipc.c:
 * connections, buffers, hello, limits, IPC_SEND) and the requests on
 * sockets (ipcreq.c).  Delivery to applications is deliver.c's.
 */
#ifndef IPC_H
#define IPC_H

#include "shell.h"
#include "acl.h"

struct client {
	TAILQ_ENTRY(client) entry;
	TAILQ_ENTRY(client) pending_entry;
	int		 fd;
	struct event	*ev_read, *ev_write;
	struct evbuffer	*in, *out;
	int		 pending;	/* output waits for ipc_flush_cb */
	int		 write_armed;	/* the kernel was full */
	int		 reading;	/* ev_read is added */
	int		 blocked;	/* stopped at IPC_OUT_HIGH */
	int		 out_paused;	/* not read: IPC_REPLY_HIGH waits */
	uint64_t	 skip;		/* payload bytes to discard */
	struct event	*ev_hello;	/* hello_timeout */
	uint64_t	 id;
	pid_t		 pid;
	uid_t		 uid;
	gid_t		 gid;
	int		 hello;
	uint32_t	 version;	/* its IPC version (from 4) */
	int		 tally_fd;	/* received, not yet IPC_TALLY: -1 */
	const uint64_t	*tally;		/* IPC_TALLY: messages handed over */
	uint64_t	 confirmed;	/* IPC_CONFIRM counts, over all subs */
	int		 closing;	/* flush the output, then close */
	int		 dead;		/* broke the protocol: free it */
	struct ctl_list	*ctl;		/* ctl.c: a list being sent */
	struct acl_cred	 acl;		/* uid and groups (ipc_client_acl) */
	int		 acl_done;
	TAILQ_HEAD(, sub) subs;		/* its sockets (sub.centry) */
	struct hmap	 by_handle;	/* the same, by handle (sub.cnode) */
	uint32_t	 nsubs;
};

/* ipc.c */
/* Protocol error: logged; the read loop then drops c alone. */
void		 ipc_kill(struct client *, const char *why);
/* c's attachment to the socket with this handle, or NULL. */
struct sub	*ipc_sub(struct client *, uint32_t handle);
/* IPC_CREDIT to u's application, if its window changed. */
void		 ipc_credit(struct sub *);

/* ipcreq.c: a request on a socket (0x02xx), after IPC_HELLO. */
void		 ipc_request(struct client *, const struct nbmq_ipc_hdr *,
		    const uint8_t *payload);

#endif /* IPC_H */
