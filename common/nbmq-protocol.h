/* SPDX-License-Identifier: ISC */
/*
 * nbmq-protocol.h: the IPC protocol between libnbmq (and nbmqctl) and nbmqd.
 *
 * One SOCK_STREAM Unix socket per client connection.  Every message is a
 * fixed 16-byte header followed by `len` payload bytes.  Integers are in host
 * byte order (both ends are on the same host); every field has a fixed size
 * and is copied out with memcpy, never by casting a pointer into the buffer.
 *
 * Bump NBMQ_IPC_VERSION whenever any message below changes.
 * History:
 *   1  first version: hello, socket control, data stream, credits.
 *   2  control requests for nbmqctl (0x04xx); peer events to applications
 *      (IPC_EVENT, NBMQ_OPT_EVENTS).
 *   3  STUN: a socket's mapped address in ipc_ctl_sock; IPC_CTL_INDEX,
 *      the names a stun socket knows.
 *   4  ipc_ctl_peer: the wire a peer speaks (frame size, extension flags,
 *      PROTOCOL.md 4.3/4.4) and its pacing; NBMQ_OPT_COALESCE.
 *   5  IPC_CONFIRM: the library confirms the messages it handed to the
 *      application; the daemon holds every IPC_MSG until then, and gives
 *      back (or counts as app_gone) what an application that went away
 *      never confirmed.  NBMQ_IPC_NDROPS 32 -> 48 (app_gone is the 33rd
 *      reason); ipc_ctl_sock.held.  The daemon still takes version-4
 *      clients for data (nothing is held for them: what was written
 *      towards one that dies is lost, as before), not for 0x04xx control
 *      requests, whose replies changed size.  IPC_TALLY: the count of
 *      messages handed over, in memory the daemon reads once the
 *      application is gone.
 *   6  Connect failures: NBMQ_EVENT_CONNECT_FAILED (IPC_EVENT, reason
 *      NBMQ_CONNFAIL_*), sent only to version-6 clients;
 *      ipc_ctl_sock.conn_ms/conn_reason/conn_unanswered.  Version-5
 *      clients keep data and events, not 0x04xx control requests.
 *   7  ipc_ctl_index.where: the rendezvous a name registered at, for a
 *      stun socket whose index is shared (stun_index); its names
 *      registered at other rendezvous are listed too.  Version-6
 *      clients keep data and events, not 0x04xx control requests.
 *   8  ipc_ctl_sock.encryptor and .key, ipc_ctl_peer.key: encryption
 *      and keys per socket and peer for nbmqctl.  Version-7 clients keep
 *      data and events, not 0x04xx control requests.
 *      Later, without a bump: ipc_ctl_stats.heap_kib took the place of
 *      a reserved field.  Daemons before it send 0 there, which reads
 *      as "unknown"; the layout is the same, so nothing else changed.
 */
#ifndef NBMQ_PROTOCOL_H
#define NBMQ_PROTOCOL_H

#include <stdint.h>

#define NBMQ_IPC_VERSION	8
#define NBMQ_IPC_VERSION_MIN	4	/* oldest the daemon accepts */
#define NBMQ_IPC_MAGIC		0x514d424eU	/* "NBMQ" little-endian */

/* Largest payload one IPC message may carry (a whole max-size message). */
#define NBMQ_IPC_MAX_MSG_SIZE	(256U << 20)	/* hard cap of max_message_size */
#define NBMQ_IPC_MAX_PARTS	255
#define NBMQ_IPC_MAX_PAYLOAD	(NBMQ_IPC_MAX_MSG_SIZE + 16 + 4 * NBMQ_IPC_MAX_PARTS)
#define NBMQ_IPC_MAX_STRING	1024		/* addresses, names */

/* Fixed string fields: NUL-terminated inside their array, checked. */
#define NBMQ_IPC_NAME_LEN	72	/* socket names (64 characters) */
#define NBMQ_IPC_ADDR_LEN	64	/* "[v6 address%scope]:port" */
#define NBMQ_IPC_HOST_LEN	264	/* "host:port" as configured */
#define NBMQ_IPC_PATH_LEN	256	/* file paths */
#define NBMQ_IPC_WORD_LEN	32	/* versions, states, reason names */
#define NBMQ_IPC_NDROPS		48	/* drop counter slots (IPC_CTL_REASON) */
#define NBMQ_IPC_NPIDS		8	/* application pids listed per socket */

struct nbmq_ipc_hdr {
	uint32_t	len;		/* payload bytes after this header */
	uint16_t	type;		/* enum nbmq_ipc_type */
	uint16_t	flags;		/* per type; 0 otherwise */
	uint32_t	handle;		/* socket handle, 0 for none */
	uint32_t	reqid;		/* request id echoed in IPC_RESULT; 0 for streams */
};
#define NBMQ_IPC_HDR_SIZE	16

enum nbmq_ipc_type {
	/* 0x01xx: connection */
	IPC_HELLO	= 0x0101,	/* c->d: struct ipc_hello */
	IPC_HELLO_OK	= 0x0102,	/* d->c: struct ipc_hello_ok */
	IPC_RESULT	= 0x0103,	/* d->c: struct ipc_result [+ string] */

	/* 0x02xx: socket control, request/response (reqid != 0) */
	IPC_SOCK_CREATE	= 0x0201,	/* struct ipc_create -> value = handle */
	IPC_SOCK_ATTACH	= 0x0202,	/* name string -> value = handle, aux = type */
	IPC_SOCK_CLOSE	= 0x0203,	/* empty -> result once lingering started */
	IPC_SOCK_BIND	= 0x0204,	/* address string -> result + local endpoint string */
	IPC_SOCK_CONNECT = 0x0205,	/* address string -> result */
	IPC_SOCK_SETOPT	= 0x0206,	/* struct ipc_opt -> result */
	IPC_SOCK_GETOPT	= 0x0207,	/* struct ipc_opt (value ignored) -> value */

	/* 0x03xx: data stream, both ways, never answered */
	IPC_SEND	= 0x0301,	/* c->d: struct ipc_msg + sizes + data */
	IPC_MSG		= 0x0302,	/* d->c: struct ipc_msg + sizes + data */
	IPC_CREDIT	= 0x0303,	/* d->c: struct ipc_credit */
	IPC_DROPPED	= 0x0304,	/* d->c: struct ipc_dropped, in order with IPC_MSG */
	IPC_SOCK_GONE	= 0x0305,	/* d->c: the socket was destroyed by the daemon */
	IPC_EVENT	= 0x0306,	/* d->c: struct ipc_event, in order with IPC_MSG */
	IPC_CONFIRM	= 0x0307,	/* c->d: struct ipc_confirm (version 5) */
	IPC_TALLY	= 0x0308,	/* c->d: empty, with a memfd (version 5) */

	/*
	 * 0x04xx: control requests (nbmqctl), handle 0, reqid != 0.  Each
	 * is answered with its reply (one struct, or a streamed list: one
	 * message per item then IPC_CTL_END, like OpenBGPD's IMSG_CTL_END),
	 * all with the request's reqid, or with IPC_RESULT when it failed
	 * (err, and a text).  Read requests are open to every client;
	 * IPC_CTL_RELOAD needs uid 0 or the daemon's uid or gid (EPERM).
	 * One request at a time: the next is read once the answer is out.
	 */
	IPC_CTL_STATUS	= 0x0401,	/* empty -> IPC_CTL_STATUS_INFO */
	IPC_CTL_SOCKETS	= 0x0402,	/* empty -> IPC_CTL_SOCKET_INFO..., END */
	IPC_CTL_PEERS	= 0x0403,	/* struct ipc_ctl_req -> IPC_CTL_PEER_INFO..., END */
	IPC_CTL_STATS	= 0x0404,	/* empty -> IPC_CTL_STATS_INFO */
	IPC_CTL_REASONS	= 0x0405,	/* empty -> IPC_CTL_REASON..., END */
	IPC_CTL_RELOAD	= 0x0406,	/* empty -> IPC_RESULT [+ what was wrong] */
	IPC_CTL_INDEX	= 0x0407,	/* struct ipc_ctl_req -> IPC_CTL_INDEX_ENTRY..., END */
	IPC_CTL_STATUS_INFO = 0x0481,	/* struct ipc_ctl_status */
	IPC_CTL_SOCKET_INFO = 0x0482,	/* struct ipc_ctl_sock */
	IPC_CTL_PEER_INFO = 0x0483,	/* struct ipc_ctl_peer */
	IPC_CTL_STATS_INFO = 0x0484,	/* struct ipc_ctl_stats */
	IPC_CTL_REASON	= 0x0485,	/* struct ipc_ctl_reason */
	IPC_CTL_INDEX_ENTRY = 0x0486,	/* struct ipc_ctl_index */
	IPC_CTL_END	= 0x04ff,	/* struct ipc_ctl_end: the list is complete */
};

struct ipc_hello {			/* IPC_HELLO */
	uint32_t	magic;		/* NBMQ_IPC_MAGIC */
	uint32_t	version;	/* NBMQ_IPC_VERSION */
	uint32_t	pid;
	uint32_t	reserved;
};

struct ipc_hello_ok {			/* IPC_HELLO_OK */
	uint32_t	version;
	uint32_t	reserved;
	char		daemon[32];	/* NUL-terminated "nbmqd 0.1.0" */
};

struct ipc_result {			/* IPC_RESULT */
	int32_t		err;		/* 0 or a positive errno */
	uint32_t	aux;
	uint64_t	value;
	/* optional NUL-free string to the end of the payload */
};

struct ipc_create {			/* IPC_SOCK_CREATE */
	uint32_t	type;		/* NBMQ_DEALER, ... */
	uint32_t	reserved;
};

struct ipc_opt {			/* IPC_SOCK_SETOPT / GETOPT */
	uint32_t	opt;		/* NBMQ_OPT_* */
	uint32_t	reserved;
	int64_t		value;		/* counts, bytes, or milliseconds */
};

/*
 * IPC_SEND / IPC_MSG payload: this struct, then nparts uint32 part sizes,
 * then the parts' bytes back to back.  The sizes must add up exactly to the
 * rest of the payload.
 */
struct ipc_msg {
	uint64_t	peer;		/* send: 0 = any peer; msg: sender's session id */
	uint32_t	nparts;		/* 1..NBMQ_IPC_MAX_PARTS */
	uint32_t	flags;
};

struct ipc_credit {			/* IPC_CREDIT: cumulative send window */
	uint64_t	limit;		/* the client may send while sent < limit */
	uint32_t	peers;		/* connected peers now */
	uint32_t	reserved;
};

struct ipc_dropped {			/* IPC_DROPPED */
	uint64_t	count;		/* messages dropped at recv_hwm since last report */
};

/*
 * IPC_CONFIRM: count more of the socket's IPC_MSG messages, the oldest
 * not confirmed yet, were handed to the application (nbmq_recv returned
 * them).  The daemon holds each IPC_MSG it wrote until it is confirmed:
 * when the connection ends (or the socket is closed) with messages not
 * confirmed, a configured socket puts them back at the head of its
 * receive queue for the next application, other sockets count them as
 * dropped (app_gone).  Confirming more than were written is a protocol
 * error.  IPC_DROPPED and IPC_EVENT are not counted.
 */
struct ipc_confirm {
	uint64_t	count;
};

/*
 * IPC_TALLY: the library's tally of what it handed over, where the daemon
 * can read it after the application died.  Sent once, right after
 * IPC_HELLO_OK, with one file descriptor (SCM_RIGHTS): a memfd of at least
 * NBMQ_IPC_TALLY_SIZE bytes sealed against shrinking (F_SEAL_SHRINK),
 * whose first uint64 the library sets to the number of IPC_MSG nbmq_recv
 * has returned on this connection, before it returns each.  When the
 * connection ends, the daemon reads it and takes the messages handed over
 * but not yet confirmed (IPC_CONFIRM) as confirmed: those are the
 * application's, and the next one does not get them again.  Optional:
 * without it, those messages are handed to the next application too.
 */
#define NBMQ_IPC_TALLY_SIZE	4096

/*
 * IPC_EVENT: a peer event for an application that subscribed with
 * NBMQ_OPT_EVENTS (nbmq.h: enum nbmq_event_type, enum nbmq_down_reason).
 */
struct ipc_event {
	uint64_t	peer;		/* session id; 0 for the send HWM events */
	uint32_t	type;		/* NBMQ_EVENT_* */
	uint32_t	reason;		/* NBMQ_EVENT_DOWN: NBMQ_DOWN_*;
					   CONNECT_FAILED: NBMQ_CONNFAIL_*;
					   else 0 */
	char		addr[NBMQ_IPC_ADDR_LEN];	/* the peer's address */
	char		prev_addr[NBMQ_IPC_ADDR_LEN];	/* ADDRESS: the old one */
};

/* Counters of peer events, per socket and daemon-wide. */
struct ipc_ctl_events {
	uint64_t	up;
	uint64_t	down_keepalive;
	uint64_t	down_disconnected;
	uint64_t	down_replaced;
	uint64_t	down_closed;
	uint64_t	address_changed;
};

struct ipc_ctl_req {			/* IPC_CTL_PEERS */
	char		sock[NBMQ_IPC_NAME_LEN];	/* "" for every socket */
};

struct ipc_ctl_status {			/* IPC_CTL_STATUS_INFO */
	char		version[NBMQ_IPC_WORD_LEN];	/* "nbmqd 0.1.0" */
	char		config[NBMQ_IPC_PATH_LEN];	/* "" without a file */
	uint64_t	uptime_ms;
	uint32_t	pid;
	uint32_t	uid;
	uint32_t	sockets;	/* now */
	uint32_t	configured;	/* of them from the config */
	uint32_t	peers;		/* now, over every socket */
	uint32_t	clients;	/* IPC connections now, this one too */
	uint64_t	rx_msgs;	/* since start, closed sockets included */
	uint64_t	tx_msgs;
	uint64_t	drops;		/* over every reason */
	uint64_t	sessions;	/* sessions created */
};

#define IPC_CTL_SOCK_CONFIGURED	0x1	/* from the config file */
#define IPC_CTL_SOCK_BOUND	0x2	/* else connecting (or neither yet) */
#define IPC_CTL_SOCK_CONNECT	0x4	/* connect() was called */
#define IPC_CTL_SOCK_CLOSING	0x8	/* lingering after close */

struct ipc_ctl_sock {			/* IPC_CTL_SOCKET_INFO */
	char		name[NBMQ_IPC_NAME_LEN];
	char		local[NBMQ_IPC_ADDR_LEN];	/* "" before bind/connect */
	char		remote[NBMQ_IPC_HOST_LEN];	/* connect: where to */
	char		state[NBMQ_IPC_WORD_LEN];	/* bound, idle, connecting, up */
	char		mapped[NBMQ_IPC_ADDR_LEN];	/* STUN: our public address,
							   "" unknown */
	uint32_t	handle;
	uint32_t	type;		/* NBMQ_DEALER... */
	uint32_t	flags;		/* IPC_CTL_SOCK_* */
	uint32_t	peers;
	uint32_t	napps;		/* attached applications */
	uint32_t	pids[NBMQ_IPC_NPIDS];	/* the first napps of them */
	uint32_t	ndrops;		/* drop slots in use */
	uint64_t	rq;		/* messages waiting for the application */
	uint64_t	held;		/* written to it, not confirmed yet */
	uint64_t	reasm;		/* messages being reassembled */
	uint64_t	queued;		/* messages in the peers' send queues */
	uint64_t	send_hwm, recv_hwm;
	uint64_t	rx_datagrams, tx_datagrams;
	uint64_t	rx_msgs, tx_msgs;
	uint64_t	sessions;	/* sessions created */
	uint64_t	resends, giveups;
	struct ipc_ctl_events ev;
	uint64_t	drops[NBMQ_IPC_NDROPS];	/* by IPC_CTL_REASON index */
	/* v6: connecting (state "connecting"): for how long, and why not
	 * up yet (NBMQ_CONNFAIL_*, 0 none yet); else 0. */
	uint64_t	conn_ms;
	uint32_t	conn_reason;
	uint32_t	conn_unanswered;	/* Connects unanswered */
	/* v8: encryption: the encryptor ("" plain, "sodium", a plugin's
	 * path) and who the socket is to its peers ("key AbCdEfGh..."). */
	char		encryptor[NBMQ_IPC_PATH_LEN];
	char		key[NBMQ_IPC_WORD_LEN];
};

#define IPC_CTL_NEVER	UINT64_MAX	/* an age for "never" */

struct ipc_ctl_peer {			/* IPC_CTL_PEER_INFO */
	char		sock[NBMQ_IPC_NAME_LEN];
	char		addr[NBMQ_IPC_ADDR_LEN];
	char		prev_addr[NBMQ_IPC_ADDR_LEN];	/* "" until a rebind */
	char		state[NBMQ_IPC_WORD_LEN];
	uint64_t	session;
	uint64_t	up_ms;		/* age of the session */
	uint64_t	last_rx_ms;	/* ages, or IPC_CTL_NEVER */
	uint64_t	last_tx_ms;
	uint64_t	rx_msgs, rx_bytes, tx_msgs, tx_bytes;
	uint64_t	rx_frames, tx_frames;
	uint64_t	resends, giveups;
	uint64_t	sendq;		/* messages queued to this peer */
	uint64_t	inflight;	/* safe_dealer: sent, not all acked */
	uint32_t	reach;		/* 8 heartbeat intervals, newest in bit 0 */
	uint32_t	ndrops;
	uint64_t	drops[NBMQ_IPC_NDROPS];
	uint32_t	frame_size;	/* largest datagram sent to it */
	uint32_t	ext_flags;	/* extensions both sides have (Hello flags:
					   1 Batch, 2 Slow); 0: v0.2.0 */
	uint64_t	pace_rate;	/* bytes/s it may be sent; 0: not paced */
	uint64_t	slows_rx;	/* its Slow frames acted on */
	uint64_t	slows_tx;	/* Slow frames sent to it */
	char		key[NBMQ_IPC_WORD_LEN];	/* v8: who the peer is, as its
						   handshake said; "" plain */
};

struct ipc_ctl_stats {			/* IPC_CTL_STATS_INFO */
	uint64_t	uptime_ms;
	uint32_t	sockets;	/* now */
	uint32_t	peers;		/* now */
	uint64_t	sockets_closed;	/* counters below include theirs */
	uint64_t	rx_datagrams, tx_datagrams;
	uint64_t	rx_msgs, tx_msgs;
	uint64_t	sessions;
	uint64_t	resends, giveups;
	struct ipc_ctl_events ev;
	uint32_t	ndrops;
	uint32_t	heap_kib;	/* the heap in use, KiB (malloc's
					   count: not what it keeps free); 0
					   unknown, as from an older daemon */
	uint64_t	drops[NBMQ_IPC_NDROPS];
};

struct ipc_ctl_reason {			/* IPC_CTL_REASON */
	uint32_t	index;		/* into the drops arrays */
	uint32_t	reserved;
	char		name[NBMQ_IPC_WORD_LEN];	/* "bad_length" */
};

/* One name a stun socket knows (IPC_CTL_INDEX: req.sock "" for all). */
struct ipc_ctl_index {			/* IPC_CTL_INDEX_ENTRY */
	char		sock[NBMQ_IPC_NAME_LEN];	/* the stun socket */
	char		name[NBMQ_IPC_NAME_LEN];	/* the registered name */
	char		addr[NBMQ_IPC_ADDR_LEN];	/* its mapped address */
	uint64_t	registered_ms;	/* age of the first registration */
	uint64_t	refreshed_ms;	/* age of the last refresh */
	uint64_t	expires_ms;	/* until it expires without one */
	uint64_t	refreshes;
	uint64_t	lookups;	/* NBMQ-TARGET requests answered */
	char		where[NBMQ_IPC_HOST_LEN];	/* the rendezvous it
							   registered at (its
							   stun_index id), ""
							   for an index of its
							   own */
};

struct ipc_ctl_end {			/* IPC_CTL_END */
	uint32_t	count;		/* items sent before it */
	uint32_t	reserved;
};

/* ipc-codec.c: shared by the daemon and the library. */
struct ipc_msgview {
	uint64_t	 peer;
	uint32_t	 nparts;
	uint32_t	 flags;
	const uint8_t	*sizes;		/* nparts unaligned uint32 */
	const uint8_t	*data;
	uint32_t	 size;		/* sum of the parts */
};

int	ipc_hdr_check(const struct nbmq_ipc_hdr *, uint32_t max_payload);
int	ipc_msg_parse(const uint8_t *payload, uint32_t len,
	    struct ipc_msgview *);
uint32_t ipc_msg_part_size(const struct ipc_msgview *, uint32_t i);
const char *ipc_type_name(uint16_t type);
/*
 * Fixed-size messages (IPC_EVENT, the IPC_CTL_* requests and replies):
 * check the exact length and that every string field is NUL-terminated
 * inside its array, then copy into out (outlen must be the struct's size).
 * 0, or EPROTO.
 */
int	ipc_fixed_decode(uint16_t type, const void *payload, uint32_t len,
	    void *out, size_t outlen);
/* The payload size of a fixed-size type, 0 if the type is not one. */
uint32_t ipc_fixed_size(uint16_t type);
/* Names of NBMQ_EVENT_* and NBMQ_DOWN_*; "unknown" when out of range. */
const char *ipc_event_name(uint32_t type);
const char *ipc_down_reason_name(uint32_t reason);
/* NBMQ_CONNFAIL_*: a token ("no_answer") and a phrase ("no answer"). */
const char *ipc_connfail_name(uint32_t reason);
const char *ipc_connfail_text(uint32_t reason);

#endif /* NBMQ_PROTOCOL_H */
