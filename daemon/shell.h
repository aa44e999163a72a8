/* SPDX-License-Identifier: ISC */
/*
 * shell.h: the libevent shell's header (daemon.c, udp.c, ipc.c, ipcreq.c,
 * reload.c, ctl.c, metrics.c, main.c, and deliver.c, the shell's pure
 * delivery), over the core's nbmqd.h as OpenBGPD's session.h is over
 * bgpd.h.  libevent's types are only named here, never included: a file
 * that calls libevent includes its headers itself.
 */
#ifndef NBMQD_SHELL_H
#define NBMQD_SHELL_H

#include "nbmqd.h"

/*
 * The libevent shell: daemon.c (sockets of the daemon), udp.c (UDP I/O and
 * timers), ipc.c (application connections).
 */
struct client;
struct event;
struct event_base;
struct evdns_base;
struct evdns_getaddrinfo_request;
struct bufferevent;
struct evconnlistener;

/*
 * One application attached to a socket.  Sending types (dealer,
 * safe_dealer, radio) take one at a time; its backlog is the core's
 * receive queue.  A dish takes any number: every message is fanned out to
 * each one's own queue, bounded by recv_hwm per subscriber, so a slow one
 * drops (and is told, ENOBUFS) without slowing the others.
 */
struct qent {
	TAILQ_ENTRY(qent) entry;
	struct msg	*m;
};
TAILQ_HEAD(qent_list, qent);

struct sub {
	TAILQ_ENTRY(sub) entry;		/* d->subs */
	TAILQ_ENTRY(sub) centry;	/* its client's list (ipc.c) */
	struct hnode	 cnode;		/* its client's map, by handle */
	struct dsock	*d;
	struct client	*c;
	pid_t		 pid;		/* c's, for the log */
	uint32_t	 version;	/* c's IPC version */
	struct qent_list q;		/* dish fan-out queue */
	uint64_t	 qlen;
	/*
	 * IPC_MSG written to the application, oldest first, until the
	 * library confirms it handed them over (IPC_CONFIRM); also counted
	 * in core.rq_held (not a dish).  Up to recv_hwm messages, or more
	 * while they take under 1 MiB (deliver.h: DELIVER_HELD_BYTES); then
	 * delivery waits, the queue fills, and recv_hwm pushes back.
	 */
	struct msgring	 held;
	uint64_t	 held_bytes;	/* their sizes, plus DELIVER_HELD_COST each */
	uint64_t	 drops;		/* dropped for this subscriber, total */
	uint64_t	 accepted;	/* messages taken from this app */
	uint64_t	 confirmed;	/* handed over to it (IPC_CONFIRM,
					   or its tally when it died) */
	uint64_t	 credit_limit;	/* last announced */
	uint64_t	 credit_max;	/* highest ever announced: sends up to
					   it were allowed when they left */
	uint32_t	 credit_peers;
	int		 credit_sent;
	int		 events;	/* NBMQ_OPT_EVENTS: peer events wanted */
	int		 hwm_full;	/* the last HWM event said reached */
	uint32_t	 nevents;	/* events waiting in q */
	uint64_t	 events_lost;	/* over IPC_EVENTS_MAX waiting */
};
TAILQ_HEAD(sub_list, sub);

struct dsock {
	struct sock	 core;
	TAILQ_ENTRY(dsock) entry;
	struct hnode	 hnode;		/* nbmqd->by_handle */
	uint32_t	 handle;
	int		 configured;	/* from the config: lives with the daemon */
	const struct sockacl *acl;	/* configured: its allow_*, or NULL */
	uid_t		 owner;		/* created by an application of uid */
	struct sub_list	 subs;		/* attached applications */
	uint32_t	 nsubs;
	int		 fd;		/* UDP, -1 before bind/connect */
	struct event	*ev_read, *ev_write, *ev_timer;
	int		 write_armed;
	int		 gso;		/* UDP_SEGMENT sends work here */
	int		 gro;		/* UDP_GRO on: reads may hold runs */
	uint32_t	 rx_ovfl;	/* SO_RXQ_OVFL: kernel drops so far */
	struct nbaddr	 local;
	char		*host;		/* connect by name */
	uint16_t	 port;
	struct evdns_getaddrinfo_request *dns_req;
	int		 closing;	/* lingering after close */
	nbmq_time	 linger_until;
	uint64_t	 rq_taken;	/* messages taken from core.rq (ipc.c) */
	uint64_t	 pev[PEV_NEVENTS];	/* peer events (nbmqctl) */
	char		*stun_host;	/* stun_server as a host name */
	uint16_t	 stun_port;
	struct evdns_getaddrinfo_request *stun_dns_req;
	int		 recverr;	/* IP(V6)_RECVERR: ICMP errors queued */
	struct stunidx	*stunidx;	/* type stun: its Redis index, or NULL */
};
TAILQ_HEAD(dsock_list, dsock);

/*
 * What daemon.c's sockets ask of the shell's two I/O sides, udp.c and
 * ipc.c, which main.c wires in: they call daemon.c after their events
 * (dsock_sync), daemon.c calls them only through this, so that the
 * shell's files import one way too (tests/layers.py), as the core calls
 * the shell only through struct sock_ops.
 */
struct dsock_io {
	/* udp.c: the UDP side of each socket */
	const struct sock_ops *sock_ops;	/* the core's, for sock_init */
	void		(*flush)(struct dsock *);
	void		(*arm_timer)(struct dsock *, nbmq_time now);
	void		(*set_bufs)(struct dsock *);
	void		(*close)(struct dsock *);
	/* ipc.c: the attached applications */
	void		(*deliver)(struct sub *);
	void		(*push)(struct client *);
	void		(*sock_gone)(struct sub *);
	int		(*sub_link)(struct sub *);
	void		(*sub_unlink)(struct sub *);
	int		(*client_backlogged)(struct client *);
	void		(*client_cred)(const struct client *, pid_t *, uid_t *,
			    gid_t *);
	uint32_t	(*client_version)(const struct client *);
};

struct daemon {
	const struct dsock_io *io;	/* main.c's: udp.c and ipc.c */
	struct event_base *base;
	struct evdns_base *dns;
	struct config	*conf;
	struct dsock_list socks;
	struct hmap	 by_handle;	/* every dsock, by handle */
	uint32_t	 next_handle;
	nbmq_time	 started;
	/* nbmqctl stats: what closed sockets counted, and every peer event */
	struct sock_stats closed_st;
	uint64_t	 nclosed;
	uint64_t	 pev[PEV_NEVENTS];
	struct membudget mem;		/* [daemon] max_memory, every socket */
};
extern struct daemon *nbmqd;

/* daemon.c */
/* Transparent huge pages for the heap as it grows (after a read batch). */
void		 daemon_heap_thp(void);
uint64_t	 daemon_heap_bytes(void);
void		 daemon_heap_stop(void);	/* at exit: its idle timer */
/* A listening stream socket (IPC, /metrics); -1, errno, the failed call. */
int		 daemon_listen(const struct sockaddr *, socklen_t, int backlog,
		    int sndbuf, const char **call);
nbmq_time	 daemon_now(void);
struct dsock	*dsock_new(int type, const struct sockopts *, const char *name);
void		 dsock_free(struct dsock *);
struct dsock	*dsock_by_handle(uint32_t);
struct dsock	*dsock_by_name(const char *);
/* Push output, deliver to the app, announce credit, re-arm the timer. */
void		 dsock_sync(struct dsock *, nbmq_time now);
struct sub	*dsock_attach(struct dsock *, struct client *);
/* The app closed it or went away: configured ones stay, others linger. */
void		 dsock_release(struct sub *, nbmq_time now);
/* Close now (config reload): attached apps are told IPC_SOCK_GONE. */
void		 dsock_remove(struct dsock *);
int		 dsock_setopt(struct dsock *, const struct optdesc *, int64_t);
/* Every option at once (validated already); 0 or EBUSY (frame size). */
int		 dsock_setopts(struct dsock *, const struct sockopts *);
/* The fan-out, then ipc_deliver() to every attached application. */
void		 dsock_deliver(struct dsock *);
/* The same while a read goes on: full outputs are written now too. */
void		 dsock_deliver_busy(struct dsock *);
/* A peer event (counted; queued for subscribed applications). */
void		 dsock_peer_event(struct dsock *, const struct peer *,
		    enum peer_event);
/* The connecting socket is not up: subscribed applications hear why. */
void		 dsock_connect_event(struct dsock *);

/* udp.c */
extern const struct sock_ops udp_sock_ops;
int		 udp_bind(struct dsock *, const char *addr);	/* 0 or errno */
int		 udp_connect(struct dsock *, const char *addr);	/* 0 or errno */
void		 udp_close(struct dsock *);
void		 udp_arm_timer(struct dsock *, nbmq_time now);
void		 udp_flush(struct dsock *);
void		 udp_set_bufs(struct dsock *);
/* name, stun_server, stun_allow of a configured socket: 0 or errno. */
int		 udp_stun_setup(struct dsock *, const struct sockconf *);

/* stunidx.c: a stun socket's shared index in Redis (stun_index). */
#define STUNIDX_HOLDER_MAX	160
/* stun_index url (NULL or memory: nothing to do): 0 or an errno. */
int		 stunidx_start(struct dsock *, const char *url,
		    const char *prefix);
void		 stunidx_free(struct dsock *);
/* "shared", "degraded", or NULL for the in-memory index. */
const char	*stunidx_state(const struct dsock *);
/* This rendezvous' id in the shared index, or NULL. */
const char	*stunidx_holder(const struct dsock *);
/* nbmqctl index: a name of the shared index. */
#define STUNIDX_LIST_MAX	1000
#define STUNIDX_SNAP_AGE	(1 * NSEC)
struct stunidx_row {
	char		 name[NBMQ_NAME_MAX + 1];
	char		 addr[64];
	char		 holder[STUNIDX_HOLDER_MAX + 1];
	long long	 pttl;		/* ms until it expires */
};
/* The shared index, at most STUNIDX_LIST_MAX names: 0 with rows (none
 * when there is no shared index or it is degraded), or 1 while they are
 * fetched (ipc_ctl_resume_all() once they are here). */
int		 stunidx_snapshot(struct dsock *, const struct stunidx_row **,
		    uint32_t *n);

/* reload.c: SIGHUP and `nbmqctl reload`.  Parse the file into a fresh
 * config; on errors keep the running one and return -1 with every
 * "file:line: key: why" line in *errtext (malloc'd; the caller frees).
 * Either way the outcome is logged, and sd_notify hears RELOADING=1 and
 * READY=1 around it. */
int		 reload_config(char **errtext);
/* Remember -S (kept over reloads) and the -v/-q adjustment of log_level. */
void		 reload_init(const char *ipc_override, int log_adjust);
/* A config's log_level with the -v/-q adjustment, within LOG_ERR..DEBUG. */
int		 reload_log_level(int conf_level);
/* Start every configured socket (start-up); 0, or -1 logged as file:line. */
int		 reload_start_sockets(const struct config *);
/* Each configured socket's allow_* from cf (start-up, after a reload). */
void		 reload_acls(const struct config *);

/* ipc.c */
/*
 * What the transport hands on, by the type's range: ipc.c calls neither
 * ipcreq.c nor ctl.c, main.c wires them in (the shell's files import one
 * way: tests/layers.py).
 */
struct ipc_handlers {
	/* a request on a socket (0x02xx): ipc_request, ipcreq.c */
	void		 (*request)(struct client *, const struct nbmq_ipc_hdr *,
			    const uint8_t *payload);
	/* nbmqctl's (0x04xx): ctl_request, NULL or why to disconnect */
	const char	*(*ctl_request)(struct client *,
			    const struct nbmq_ipc_hdr *, const uint8_t *payload);
	void		 (*ctl_resume)(struct client *);	/* output drained */
	void		 (*client_gone)(struct client *);
};
int		 ipc_listen(const char *path, unsigned int mode,
		    const char *group, uint64_t max_clients,
		    const struct ipc_handlers *);
void		 ipc_shutdown(void);
/* Write queued messages and credit to an attached app. */
void		 ipc_deliver(struct sub *);
void		 ipc_push(struct client *);
void		 ipc_sock_gone(struct sub *);
/* u joins (0, or -1 out of memory) or leaves its client's own list. */
int		 ipc_sub_link(struct sub *);
void		 ipc_sub_unlink(struct sub *);
int		 ipc_client_backlogged(struct client *);
/* One message: header, then p and p2 back to back (either may be empty). */
void		 ipc_send_msg(struct client *, uint16_t type, uint32_t handle,
		    uint32_t reqid, const void *p, size_t len, const void *p2,
		    size_t len2);
/* IPC_RESULT for request req, with an optional string. */
void		 ipc_send_result(struct client *, const struct nbmq_ipc_hdr *req,
		    int err, uint64_t value, uint32_t aux, const char *str);
void		 ipc_client_cred(const struct client *, pid_t *, uid_t *,
		    gid_t *);
/* ctl.c's state of a list being sent to this client (NULL if none). */
struct ctl_list	**ipc_client_ctl(struct client *);
/* Its uid and the group database's groups of it (acl.h), resolved once. */
const struct acl_cred *ipc_client_acl(struct client *);
uint64_t	 ipc_client_count(void);
/* ctl_resume() for every client (a list that waited for data). */
void		 ipc_ctl_resume_all(void);
uint32_t	 ipc_client_version(const struct client *);

/*
 * ctl.c: nbmqctl's requests (0x04xx), after IPC_HELLO.  Returns NULL, or
 * why the client broke the protocol (the caller disconnects it).
 */
struct ctl_list;
const char	*ctl_request(struct client *, const struct nbmq_ipc_hdr *,
		    const uint8_t *payload);
/* The client's output drained: send more of its list. */
void		 ctl_resume(struct client *);
void		 ctl_client_gone(struct client *);
/* The counters as Prometheus text (promtext.h) to f; -1 out of memory. */
int		 ctl_metrics(FILE *f, int openmetrics, int peers);

/* metrics.c: GET /metrics on [daemon] metrics_listen (evhttp). */
int		 metrics_listen(const char *addr);
void		 metrics_shutdown(void);

#endif /* NBMQD_SHELL_H */
