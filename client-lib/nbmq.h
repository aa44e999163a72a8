/* SPDX-License-Identifier: ISC */
/*
 * nbmq.h: the nbmq client library (libnbmq).
 *
 * Applications never touch UDP: every socket lives in the nbmqd daemon and
 * the library talks to it over a Unix domain socket.  The library has no
 * threads, never prints and never exits.  Every call that can fail returns
 * -1 (or NULL) and sets errno; nbmq_strerror() explains nbmq's own meanings.
 *
 * Errors you will see:
 *   EAGAIN        send: the send high-water mark is reached (or, blocking,
 *                 the send timeout passed); recv: no message (NBMQ_DONTWAIT
 *                 or the receive timeout passed)
 *   EHOSTUNREACH  send: the socket has no connected peer (NBMQ_ENOPEER)
 *   EMSGSIZE      send: the message is larger than max_message_size
 *   ENOBUFS       recv: messages were dropped at recv_hwm since the last
 *                 receive; reported once, after the backlog was read
 *   ENOTSUP       the operation does not exist for this socket type
 *   ECONNREFUSED, ENOENT   nbmq_socket_new/attach: no daemon at the path
 *   ECONNRESET, ENOTCONN   the daemon went away; the socket is dead
 *   EPROTO        the daemon speaks another IPC protocol version
 *   EINVAL        a bad argument (address, option, value)
 */
#ifndef NBMQ_H
#define NBMQ_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NBMQ_VERSION		"0.1.0"
#define NBMQ_DEFAULT_IPC_PATH	"/run/nbmq/nbmqd.sock"
#define NBMQ_ENOPEER		EHOSTUNREACH

/* Socket types. */
enum nbmq_type {
	NBMQ_DEALER = 1,
	NBMQ_SAFE_DEALER = 2,
	NBMQ_RADIO = 3,
	NBMQ_DISH = 4,
	NBMQ_STUN = 5,		/* configured only ([socket NAME] type = stun in
				   nbmqd.conf): a STUN server and name index;
				   nbmq_socket_new() refuses it (EINVAL) */
};

/*
 * Flags for send and recv.
 *
 * NBMQ_DONTWAIT: send or recv without blocking; EAGAIN instead.
 *
 * NBMQ_BATCH (send only): more sends follow at once.  The library may keep
 * this message in its buffer, and sends it with the next send without
 * NBMQ_BATCH, nbmq_flush(), any blocking nbmq_recv(), or when its buffer
 * passes 64 KiB: many messages in one syscall.  (A request such as
 * nbmq_getopt() or nbmq_close(), and a send that finds the credit window
 * used up, send it too.)  Such a message counts against the send window
 * like any other: the send fails with EAGAIN (or blocks) at the same
 * point.  Nothing sends it by itself: end a burst with a send without
 * NBMQ_BATCH or with nbmq_flush(), or it waits for your next call.
 * Combines with NBMQ_DONTWAIT:
 *
 *	for (i = 0; i < n; i++)
 *		if (nbmq_send(s, msg[i], len[i], NBMQ_BATCH) == -1)
 *			break;
 *	nbmq_flush(s, 0);
 */
#define NBMQ_DONTWAIT		0x1
#define NBMQ_BATCH		0x2

/*
 * Socket options, for nbmq_setopt()/nbmq_getopt().  Durations are in
 * milliseconds, sizes in bytes, hwms in messages.  Options marked (local)
 * live in the library only.
 */
enum nbmq_opt {
	NBMQ_OPT_SEND_HWM = 1,
	NBMQ_OPT_RECV_HWM,
	NBMQ_OPT_MAX_TICK_SEND,
	NBMQ_OPT_SAFE_RESEND_LIMIT,
	NBMQ_OPT_SAFE_RESEND_IVL,
	NBMQ_OPT_SAFE_HASH_DEDUP_TTL,
	NBMQ_OPT_UNCOMPLETED_MESSAGE_TTL,
	NBMQ_OPT_QUEUE_MAINT_IVL,
	NBMQ_OPT_PEER_HEARTBEAT_IVL,
	NBMQ_OPT_PEER_KEEPALIVE,
	NBMQ_OPT_RECONNECT_WAIT,
	NBMQ_OPT_MAX_FRAME_SIZE,
	NBMQ_OPT_MAX_MESSAGE_SIZE,
	NBMQ_OPT_MAX_PEERS,
	NBMQ_OPT_LINGER,
	NBMQ_OPT_RCVBUF,
	NBMQ_OPT_SNDBUF,
	NBMQ_OPT_STUN_REFRESH_IVL,	/* Binding requests to the STUN server
					   (name registration, NAT keepalive) */
	NBMQ_OPT_COALESCE,		/* 1: offer nbmq's wire extension to
					   peers (several messages per datagram,
					   larger frames); 0: plain v0.2.0 */
	NBMQ_OPT_PACING,		/* 1: offer flow control to peers (a
					   receiver that drops says Slow, the
					   sender paces); 0: never */
	NBMQ_OPT_EXT_FRAME_SIZE,	/* bytes: the largest datagram taken
					   from a peer with the extension (both
					   use the smaller of their two; 1452
					   by default, up to 65507; below
					   max_frame_size it means that) */
	NBMQ_OPT_PEERS = 64,		/* getopt only: connected peers now */
	NBMQ_OPT_TYPE,			/* getopt only: enum nbmq_type */
	NBMQ_OPT_GIVEUPS,		/* getopt only: safe_dealer messages given
					   up after safe_resend_limit resends */
	NBMQ_OPT_EVENTS = 96,		/* 1: this application receives peer
					   events (see nbmq_msg_event); 0: not
					   (the default) */
	NBMQ_OPT_RCVTIMEO = 128,	/* (local) blocking recv timeout, -1 = forever */
	NBMQ_OPT_SNDTIMEO,		/* (local) blocking send timeout, -1 = forever */
};

typedef struct nbmq_ctx nbmq_ctx;
typedef struct nbmq_socket nbmq_socket;
typedef struct nbmq_msg nbmq_msg;

/*
 * Peer events.  After nbmq_setopt(s, NBMQ_OPT_EVENTS, 1) the daemon first
 * reports every peer already up (NBMQ_EVENT_UP), then each change as it
 * happens.  Events come through nbmq_recv() like messages and in order
 * with them (a peer's messages before its NBMQ_EVENT_DOWN); tell them
 * apart with nbmq_msg_event().  An event has no parts and its
 * nbmq_msg_peer() is the peer's session id (0 for the HWM events).
 * A radio socket, which has no messages to receive, may nbmq_recv()
 * once it subscribed.  An application that does not read loses the
 * events beyond 10,000 waiting (the daemon logs it), never messages.
 */
enum nbmq_event_type {
	NBMQ_EVENT_UP = 1,		/* a session is up: peer, addr */
	NBMQ_EVENT_DOWN,		/* a session ended: peer, addr,
					   reason */
	NBMQ_EVENT_ADDRESS,		/* the peer moved (NAT rebinding):
					   addr is the new one, prev_addr
					   the old one */
	NBMQ_EVENT_HWM_REACHED,		/* every send queue is at send_hwm:
					   sends fail with EAGAIN (told when
					   the daemon sees it, or when a send
					   fails so, whichever is first) */
	NBMQ_EVENT_HWM_CLEARED,		/* room again (or no peer left);
					   the two alternate */
	NBMQ_EVENT_CONNECT_FAILED,	/* a connecting socket is not up yet,
					   and why: reason (enum
					   nbmq_connfail), addr the remote
					   as given to nbmq_connect()
					   ("host:port") or as resolved */
};

/*
 * NBMQ_EVENT_CONNECT_FAILED (daemon and library of IPC version 6 and
 * later).  While a socket that called nbmq_connect() has no peer, the
 * daemon sends Connect every reconnect_wait (5 s by default).  The event
 * comes each time a Connect went unanswered for reconnect_wait
 * (NBMQ_CONNFAIL_NO_ANSWER, again for every one), and whenever the reason
 * changes to another; subscribing while connecting reports the last
 * reason at once.  The refusals come from the remote's nbmqd in
 * unauthenticated datagrams: they change what is reported, never the
 * socket, which keeps trying until it is up or closed.  An NBMQ_EVENT_UP
 * ends it; after a later NBMQ_EVENT_DOWN it starts over.
 */
enum nbmq_connfail {
	NBMQ_CONNFAIL_NO_ANSWER = 1,	/* no answer to a Connect: nothing
					   bound there, a firewall, or the
					   wrong address (family) */
	NBMQ_CONNFAIL_PEER_ENCRYPTED,	/* refused: the remote socket is
					   encrypted, this one plain */
	NBMQ_CONNFAIL_PEER_PLAIN,	/* refused: the remote socket is
					   plain, this one encrypted */
	NBMQ_CONNFAIL_KEY_DENIED,	/* refused: this socket's key is not
					   one of the remote's peers */
	NBMQ_CONNFAIL_RESOLVE,		/* the host name does not resolve */
	NBMQ_CONNFAIL_UNREACHABLE,	/* ICMP: port or host unreachable */
};

enum nbmq_down_reason {
	NBMQ_DOWN_KEEPALIVE = 1,	/* nothing heard for peer_keepalive */
	NBMQ_DOWN_DISCONNECTED,		/* the peer said Disconnected */
	NBMQ_DOWN_REPLACED,		/* a new session from the same peer */
	NBMQ_DOWN_CLOSED,		/* the socket was closed */
};

struct nbmq_event {
	int		 type;		/* enum nbmq_event_type */
	int		 reason;	/* NBMQ_EVENT_DOWN: enum
					   nbmq_down_reason; else 0 */
	uint64_t	 peer;		/* session id; 0 for the HWM events */
	char		 addr[64];	/* "host:port" of the peer, or "" */
	char		 prev_addr[64];	/* NBMQ_EVENT_ADDRESS: the old one */
};

/*
 * Context: where the daemon is.  path NULL means $NBMQ_SOCKET, else
 * NBMQ_DEFAULT_IPC_PATH.  Returns NULL with errno ENOMEM.  No connection is
 * made until a socket is created.
 */
nbmq_ctx	*nbmq_ctx_new(const char *path);
/* Frees the context.  Its sockets must be closed first. */
void		 nbmq_ctx_destroy(nbmq_ctx *);

/*
 * Create a socket of `type` in the daemon; it lives as long as this
 * application keeps it open.  Returns NULL and sets errno on failure
 * (ECONNREFUSED/ENOENT: no daemon; EPROTO; EINVAL: bad type).
 */
nbmq_socket	*nbmq_socket_new(nbmq_ctx *, int type);
/*
 * Attach to a socket configured in the daemon by `name`.  Messages that
 * arrived while no application was attached are delivered first.
 * Any number of applications may attach to a dish (each gets every
 * message); a sending socket takes one at a time.  Returns NULL with errno
 * ENXIO (no configured socket of that name), EBUSY (a sending socket
 * another application is attached to), or as nbmq_socket_new.
 */
nbmq_socket	*nbmq_attach(nbmq_ctx *, const char *name);
/*
 * Close the socket.  Messages already handed to the daemon still leave for
 * up to the socket's linger time.  Returns 0, or -1 if the daemon was gone
 * (the handle is freed either way).
 */
int		 nbmq_close(nbmq_socket *);

/*
 * Bind to "host:port" ("127.0.0.1:7000", "[::1]:0", "0.0.0.0:7000").
 * Port 0 picks a free port: read it with nbmq_last_endpoint().
 * Returns 0, or -1 (EINVAL, EADDRINUSE, EISCONN if already bound/connected).
 */
int		 nbmq_bind(nbmq_socket *, const char *addr);
/*
 * Connect to "host:port"; host may be a name, resolved again on every
 * reconnect attempt.  "name@host:port" connects by name: the stun socket at
 * host:port says where the socket registered as name is, and both punch
 * through their NATs (README: STUN).  Returns 0 once the daemon accepted
 * the address (the handshake goes on in the background), or -1 (EINVAL,
 * EISCONN).
 */
int		 nbmq_connect(nbmq_socket *, const char *addr);
/*
 * Copy the local endpoint ("127.0.0.1:40123") into buf.  Returns 0, or -1
 * (ENOTCONN: neither bound nor connected; ENAMETOOLONG: buf too small).
 */
int		 nbmq_last_endpoint(nbmq_socket *, char *buf, size_t len);

/* Returns 0, or -1 (EINVAL: unknown option or value out of range; EPERM:
 * raising send_hwm, recv_hwm or max_message_size past the daemon's
 * app_max_hwm or app_max_message_size). */
int		 nbmq_setopt(nbmq_socket *, int opt, int64_t value);
/* Returns 0 and stores the value, or -1 (EINVAL). */
int		 nbmq_getopt(nbmq_socket *, int opt, int64_t *value);

/*
 * Send one message of `nparts` parts (1..255) to one peer (dealer: round
 * robin; radio: all peers).  peer is 0, or a session id from
 * nbmq_msg_peer() to answer that peer only.  Without NBMQ_DONTWAIT it
 * blocks while the high-water mark is reached or there is no peer, up to
 * NBMQ_OPT_SNDTIMEO.  flags: NBMQ_DONTWAIT, NBMQ_BATCH.  Returns 0 once the
 * library accepted the message (without NBMQ_BATCH or NBMQ_DONTWAIT: once
 * it and every message before it are in the kernel, owned by the daemon),
 * or -1 (EAGAIN, EHOSTUNREACH, EMSGSIZE, ENOTSUP, ECONNRESET).
 */
int		 nbmq_sendv(nbmq_socket *, const struct iovec *parts,
		    int nparts, uint64_t peer, int flags);
/*
 * Push what the library holds to the daemon: messages sent with
 * NBMQ_BATCH, and what NBMQ_DONTWAIT sends left when the kernel's socket
 * buffer was full (up to 8 MiB wait, then such sends fail with EAGAIN).
 * A send without NBMQ_BATCH pushes it too, and a blocking one never leaves
 * anything; an application that goes idle after NBMQ_BATCH or
 * NBMQ_DONTWAIT sends calls this (with NBMQ_DONTWAIT: until it returns 0,
 * polling nbmq_fd() for POLLOUT while it says EAGAIN).  Blocks up to
 * NBMQ_OPT_SNDTIMEO unless NBMQ_DONTWAIT.  Returns 0 when nothing is left,
 * or -1 (EAGAIN: still waiting for the kernel; ECONNRESET).
 */
int		 nbmq_flush(nbmq_socket *, int flags);
/* One single-part message: nbmq_sendv with one part and peer 0. */
int		 nbmq_send(nbmq_socket *, const void *buf, size_t len,
		    int flags);

/*
 * Receive the next message (or peer event, see NBMQ_OPT_EVENTS).  Blocks
 * (up to NBMQ_OPT_RCVTIMEO) unless NBMQ_DONTWAIT; a receive that may block
 * first sends what NBMQ_BATCH sends left in the library.  Returns 0 and
 * stores a message the caller frees with nbmq_msg_free, or -1 (EAGAIN,
 * ENOBUFS once after drops, ENOTSUP, ECONNRESET).
 */
int		 nbmq_recv(nbmq_socket *, nbmq_msg **msgp, int flags);

/*
 * Receive the next message into buf, its parts one after the other, in one
 * call (for bindings, which pay per call; like zmq_recv, but nothing is
 * ever cut).  Waits as nbmq_recv does.  Returns the message's size and
 * stores its sender's session id in *peer (if not NULL); or -1 with errno
 * EMSGSIZE (it is larger than len), ENOMSG (the next item is a peer event
 * or a drop report), either leaving it at the head of the queue for
 * nbmq_recv, or as nbmq_recv (EAGAIN, ENOTSUP, ECONNRESET).
 */
ssize_t		 nbmq_recvbuf(nbmq_socket *, void *buf, size_t len,
		    uint64_t *peer, int flags);

/* Number of parts. */
size_t		 nbmq_msg_parts(const nbmq_msg *);
/* Part i (NULL if out of range); its length in *len. */
const void	*nbmq_msg_part(const nbmq_msg *, size_t i, size_t *len);
/* Total bytes over all parts. */
size_t		 nbmq_msg_size(const nbmq_msg *);
/* The sending peer's session id (never 0 for a received message). */
uint64_t	 nbmq_msg_peer(const nbmq_msg *);
/*
 * Returns 1 and fills *ev (if not NULL) when the message is a peer event
 * (NBMQ_OPT_EVENTS), 0 when it is a message.
 */
int		 nbmq_msg_event(const nbmq_msg *, struct nbmq_event *ev);
/* "up", "down", "address", "hwm_reached", "hwm_cleared",
 * "connect_failed"; "unknown". */
const char	*nbmq_event_name(int type);
/* "no_answer", "peer_encrypted", "peer_plain", "key_denied", "resolve",
 * "unreachable"; "unknown". */
const char	*nbmq_connfail_name(int reason);
/* The same as a phrase: "no answer", "refused: the peer is encrypted",
 * "refused: the peer is plain", "refused: key not allowed", "cannot
 * resolve", "unreachable (ICMP)"; "unknown". */
const char	*nbmq_connfail_text(int reason);
/* "keepalive", "disconnected", "replaced", "closed"; "unknown". */
const char	*nbmq_down_reason_name(int reason);
/*
 * Free a received message (NULL: nothing).  A message stays valid until
 * then, after nbmq_close() and nbmq_ctx_destroy() too, and any thread may
 * free it.  Its memory may go to the socket's next messages.
 */
void		 nbmq_msg_free(nbmq_msg *);

/*
 * The file descriptor to poll for input.  Like ZMQ_FD it signals only data
 * still in the kernel, not messages the library already read: any call on
 * the socket may read some (a send reading its credit, a request such as
 * nbmq_getopt() reading its answer, a receive reading more than one
 * message).  So poll it only while nbmq_readable() is 0:
 *
 *	for (;;) {
 *		while (nbmq_readable(s)) {
 *			if (nbmq_recv(s, &m, NBMQ_DONTWAIT) == 0)
 *				handle(m);	(which may send, getopt...)
 *			else if (errno != ENOBUFS)
 *				return -1;	(the socket is dead)
 *		}
 *		nbmq_flush(s, NBMQ_DONTWAIT);	(if handle used NBMQ_BATCH)
 *		poll(&(struct pollfd){ nbmq_fd(s), POLLIN }, 1, -1);
 *	}
 *
 * (Receiving with NBMQ_DONTWAIT until EAGAIN comes to the same, if nothing
 * else is called on the socket between that EAGAIN and the poll.)  While
 * nbmq_flush() says EAGAIN, poll for POLLOUT too.  Returns the fd, or -1
 * (ENOTCONN).
 */
int		 nbmq_fd(nbmq_socket *);
/*
 * Non-zero when nbmq_recv would return without blocking (a message, a
 * drop report or an error is waiting): messages the library holds first,
 * else it reads the fd without blocking (one recv when there is nothing).
 */
int		 nbmq_readable(nbmq_socket *);

/* Like strerror, with nbmq's meaning of EAGAIN, EHOSTUNREACH, ENOBUFS... */
const char	*nbmq_strerror(int errnum);

#ifdef __cplusplus
}
#endif
#endif /* NBMQ_H */
