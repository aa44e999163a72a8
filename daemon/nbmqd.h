/* SPDX-License-Identifier: ISC */
/*
 * nbmqd.h: the core's header, as bgpd.h is OpenBGPD's (shell.h, the
 * libevent shell's, includes it as session.h does bgpd.h).
 *
 * The core (frame.c, msg.c, reasm.c, sock.c, session.c, crypt.c, ...) is
 * plain C over plain data: it never calls libevent, clock_gettime or
 * sendto.  Time comes in as an argument (monotonic nanoseconds), frames go
 * out into an outbox that the shell (udp.c) flushes with sendmmsg, and
 * received messages wait in the socket's receive queue until the shell
 * (ipc.c) hands them to the application.  The unit tests drive the core
 * with a fake clock.  No type of the shell's is named here (struct dsock,
 * struct daemon, struct client, libevent's): tests/purity.sh fails a core
 * file that includes shell.h or a libevent header.
 */
#ifndef NBMQD_H
#define NBMQD_H

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nbmq.h"
#include "nbmq-protocol.h"

#define NBMQD_VERSION	NBMQ_VERSION

typedef uint64_t nbmq_time;			/* monotonic nanoseconds */
#define NSEC		1000000000ULL
#define MSEC		1000000ULL
#define NBMQ_TIME_NEVER	UINT64_MAX

#include "pace.h"
#include "window.h"

#define NBMQ_NAME_MAX	64

/* opts.c: socket options, one table shared by the config and the IPC. */
struct sockopts {
	uint64_t	send_hwm;
	uint64_t	recv_hwm;
	uint64_t	max_tick_send;
	uint64_t	safe_resend_limit;
	uint64_t	safe_resend_ivl;		/* ns */
	uint64_t	safe_hash_dedup_ttl;		/* ns */
	uint64_t	uncompleted_message_ttl;	/* ns */
	uint64_t	queue_maint_ivl;		/* ns */
	uint64_t	peer_heartbeat_ivl;		/* ns */
	uint64_t	peer_keepalive;			/* ns */
	uint64_t	reconnect_wait;			/* ns */
	uint64_t	max_frame_size;
	uint64_t	max_message_size;
	uint64_t	max_peers;
	uint64_t	linger;				/* ns */
	uint64_t	rcvbuf;				/* SO_RCVBUF, 0 = kernel's */
	uint64_t	sndbuf;				/* SO_SNDBUF, 0 = kernel's */
	uint64_t	stun_refresh_ivl;		/* ns */
	uint64_t	coalesce;			/* 0/1: offer Batch
							   and larger frames
							   (4.3) */
	uint64_t	pacing;				/* 0/1: offer Slow
							   (4.4) */
	uint64_t	ext_frame_size;			/* largest datagram
							   from an extension
							   peer */
	uint64_t	recv_hwm_bytes;			/* bytes received
							   and not taken yet:
							   receive queue and
							   reassembly */
};

enum optkind { OPTK_COUNT, OPTK_BYTES, OPTK_DURATION, OPTK_BOOL };

struct optdesc {
	const char	*name;		/* config key */
	int		 id;		/* NBMQ_OPT_*, 0: config only */
	enum optkind	 kind;
	size_t		 off;		/* into struct sockopts */
	uint64_t	 min, max;	/* in the stored unit (ns for durations) */
};

extern const struct optdesc opt_table[];
void		 opts_defaults(struct sockopts *);
const struct optdesc *opt_by_name(const char *);
const struct optdesc *opt_by_id(int);
uint64_t	 opt_get(const struct sockopts *, const struct optdesc *);
/* Set from text ("1.5", "500ms", "16M"); 0, or -1 with a reason in why. */
int		 opt_parse(struct sockopts *, const struct optdesc *,
		    const char *text, char *why, size_t whylen);
/* Set from the IPC (durations in ms); 0 or -1 when out of range. */
int		 opt_set_ipc(struct sockopts *, const struct optdesc *, int64_t);
int64_t		 opt_get_ipc(const struct sockopts *, const struct optdesc *);
/* Combinations: 0, or -1 with a reason. */
int		 opts_validate(const struct sockopts *, char *why, size_t);
/* "64K", "1G", "123": 0, or -1 when it is not a size in bytes. */
int		 opts_parse_bytes(const char *, uint64_t *);
/* ext_frame_size as used: never below max_frame_size. */
uint64_t	 opts_ext_frame_size(const struct sockopts *);
void		 opt_format(const struct sockopts *, const struct optdesc *,
		    char *buf, size_t len);

/* A socket's encryption keys as configured (PROTOCOL.md 4.2); NULL: unset. */
struct cryptconf {
	char		*encryptor;	/* none, sodium, or /path/plugin.so */
	char		*private_key_file;
	char		*peers;		/* "KEY, KEY" */
	char		*peers_file;
};

/* config.c */
struct sockacl;				/* acl.h */
struct sockconf {
	TAILQ_ENTRY(sockconf) entry;
	char		 name[NBMQ_NAME_MAX + 1];
	char		*file;		/* the file it is in (include_dir) */
	int		 type;		/* enum nbmq_type */
	char		*bind;		/* at most one of bind and connect */
	char		*connect;	/* or "name@host:port" */
	char		*stun_name;	/* `name`: registered at stun_server */
	char		*stun_server;	/* host:port */
	char		*stun_allow;	/* type stun: networks that may register */
	uint64_t	 stun_index_max; /* type stun: names in the index */
	char		*stun_index;	/* type stun: NULL memory, redis://... */
	char		*stun_index_prefix; /* its keys' prefix, NULL default */
	struct cryptconf crypt;		/* encryptor and keys (crypt.c) */
	struct sockacl	*acl;		/* allow_*: NULL, open (acl.h) */
	struct sockopts	 o;
	int		 line;		/* where [socket NAME] starts */
};
TAILQ_HEAD(sockconf_list, sockconf);

/* The longest IPC path a Unix socket takes, with its NUL. */
#define NBMQD_IPC_PATH_SIZE	sizeof(((struct sockaddr_un *)NULL)->sun_path)

/*
 * config_init() makes a complete configuration, every default in place
 * (the daemon runs on it as is when there is no file), and cannot fail:
 * hence ipc_path in place rather than allocated.
 */
struct config {
	char		*path;		/* NULL: no file, the defaults */
	char		 ipc_path[NBMQD_IPC_PATH_SIZE];
	unsigned int	 ipc_mode;
	char		*ipc_group;	/* NULL: the daemon's group */
	int		 log_level;	/* LOG_ERR .. LOG_DEBUG */
	uint64_t	 max_clients;
	uint64_t	 max_memory;	/* bytes all sockets hold of peers' */
	uint64_t	 max_client_sockets;	/* per IPC connection */
	uint64_t	 max_clients_per_uid;	/* 0: 3/4 of max_clients;
						   root and nbmqd's uid: none */
	uint64_t	 hello_timeout;		/* seconds before IPC_HELLO */
	uint64_t	 app_max_hwm;		/* setopt raises hwm up to */
	uint64_t	 app_max_message_size;	/* and max_message_size */
	char		*admin_group;	/* may reload too; NULL: nobody */
	char		*include_dir;	/* *.conf in it read after the file */
	char		*metrics_listen;	/* host:port of /metrics; NULL */
	int		 metrics_peers;		/* per-peer series too */
	gid_t		 admin_gid;	/* admin_group, resolved */
	struct sockopts	 defaults;
	struct sockconf_list sockets;
};

void		 config_init(struct config *);
/* Every error printed to errf as "file:line: key: why"; returns the count. */
int		 config_load(struct config *, const char *path, FILE *errf);
/* Same from a string (tests, fuzzing); name is used in messages. */
int		 config_load_string(struct config *, const char *name,
		    const char *text, FILE *errf);
void		 config_free(struct config *);
void		 config_print(const struct config *, FILE *);
const char	*socktype_name(int);
int		 socktype_from_name(const char *);

/* log.c */
void		 log_init(int level, int to_stderr);
void		 log_setlevel(int level);
int		 log_getlevel(void);
void		 log_errx(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void		 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* At most one line a second per log_rl (log.c); zero-initialised. */
struct log_rl {
	long		 sec;
	int		 logged;
	uint64_t	 suppressed;
};
void		 log_warnx_rl(struct log_rl *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
void		 fatal(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
void		 fatalx(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));

/* addr.c */
union sockaddr_any {
	struct sockaddr		sa;
	struct sockaddr_in	sin;
	struct sockaddr_in6	sin6;
	struct sockaddr_storage	ss;
};
struct nbaddr {
	union sockaddr_any	u;
	socklen_t		len;
};
/*
 * Parse "host:port" / "[v6]:port".  Returns 0 with a numeric address in
 * *a, 1 when host is a name (copied to host, port to *port), -1 on syntax.
 */
int		 addr_parse(const char *, struct nbaddr *a, char *host,
		    size_t hostlen, uint16_t *port);
int		 addr_eq(const struct nbaddr *, const struct nbaddr *);
uint64_t	 addr_hash(const struct nbaddr *);
const char	*addr_str(const struct nbaddr *);	/* static buffer */
void		 addr_fmt(const struct nbaddr *, char *, size_t);

/* frame.c: the v0.2.0 wire format, PROTOCOL.md section 1, and the
 * extension of section 4.3 (Hello, Batch). */
#define FRAME_VERSION		0x01
#define FRAME_HDR_SIZE		10
#define FRAME_DATA_HDR_SIZE	34
#define FRAME_MIN_SIZE		64	/* smallest max_frame_size */
#define FRAME_MAX_SIZE		65507	/* largest UDP payload over IPv4 */
#define FRAME_ENCRYPTED		0x80
/* 4.3: Hello is the 10-byte header, "NBX1", u16 version, u16 flags, u16
 * ext_frame_size; a Batch entry is u16 L then bytes 10..L+10 of the
 * equivalent data frame (its 24-byte data header from message_id on, then
 * the chunk). */
#define FRAME_HELLO_SIZE	20
#define FRAME_HELLO_MAGIC	"NBX1"
#define FRAME_EXT_VERSION	1
#define FRAME_HELLO_COALESCE	0x0001	/* flags: Batch and larger frames */
#define FRAME_HELLO_PACE	0x0002	/* flags: Slow (4.4) both ways */
#define FRAME_HELLO_ACKPOS	0x0004	/* flags: Acks by position (4.3) */
#define FRAME_HELLO_FLOOR	0x0008	/* flags: Floor (4.5) */
#define FRAME_HELLO_ACKRANGE	0x0010	/* flags: Acks of id ranges */
#define FRAME_HELLO_WINDOW	0x0020	/* flags: Window (4.7), dealer */
#define FRAME_HELLO_CONFIRM	0x8000	/* the connecting side has the
					   answer: the bound side stops
					   repeating it (4.3) */
/* The Hello flags a socket offers; 0: it says no Hello at all. */
#define OPTS_EXT_FLAGS(o)						\
	(((o)->coalesce ? FRAME_HELLO_COALESCE | FRAME_HELLO_ACKPOS |	\
	    FRAME_HELLO_ACKRANGE : 0) |					\
	 ((o)->pacing ? FRAME_HELLO_PACE : 0) |				\
	 ((o)->coalesce || (o)->pacing ? FRAME_HELLO_FLOOR : 0))
#define FRAME_SLOW_SIZE		18	/* header, u32 dropped, u32 KiB/s taken */
#define FRAME_FLOOR_SIZE	18	/* header, u64 floor */
#define FRAME_WINDOW_SIZE	28	/* header, u64 seen, u32 msgs, u32 bytes,
					   u16 flags */
#define FRAME_WINDOW_SEEN	0x0001	/* flags: seen is an id */
/* 4.6: Acks is the header, then ranges of u64 first id, u32 count. */
#define FRAME_ACKS_RANGE	12
#define FRAME_ACKS_MAX		40	/* ranges in an Acks: 490 bytes */
#define FRAME_ACKS_COUNT_MAX	4096	/* ids in one range */
#define FRAME_ENTRY_HDR_SIZE	(FRAME_DATA_HDR_SIZE - FRAME_HDR_SIZE)	/* 24 */
#define FRAME_ENTRY_LEN_SIZE	2
#define FRAME_EXT_DEFAULT	1452	/* IPv6 UDP payload, 1500-byte MTU */

enum frame_kind {
	FK_DATA = 0,
	FK_CONNECT = 1,
	FK_CONNECTED = 2,
	FK_DISCONNECTED = 3,
	FK_HEARTBEAT = 4,
	FK_ACK = 5,
	FK_HELLO = 6,		/* 4.3: the extension, offered and answered */
	FK_BATCH = 7,		/* 4.3: data frames of one session, packed */
	FK_SLOW = 8,		/* 4.4: I dropped what you sent: slow down */
	FK_FLOOR = 9,		/* 4.5: ids below this I never send again */
	FK_ACKS = 10,		/* 4.6: first frames acked by id ranges */
	FK_WINDOW = 11,		/* 4.7: the room I have for you */
};

struct frame {
	uint8_t		 kind;
	uint64_t	 session;
	/* data frames */
	uint64_t	 msgid;
	uint8_t		 part_count;
	uint8_t		 part_index;
	uint32_t	 message_size;
	uint32_t	 part_size;
	uint16_t	 chunk_size;
	uint32_t	 chunk_offset;
	const uint8_t	*data;		/* data: chunk; control: payload */
	size_t		 datalen;
	uint64_t	 ack;		/* FK_ACK */
	/* FK_HELLO */
	uint16_t	 ext_version;
	uint16_t	 ext_flags;
	uint16_t	 ext_frame_size;
	/* FK_SLOW: what the peer dropped since its last Slow, and the rate
	 * at which it took our data lately (KiB/s; 0: unknown) */
	uint32_t	 dropped;
	uint32_t	 taken_kib;
	/* FK_FLOOR */
	uint64_t	 floor;
	/* FK_WINDOW */
	uint64_t	 win_seen;
	uint32_t	 win_msgs, win_bytes;
	uint16_t	 win_flags;
	/* FK_BATCH: data/datalen are the entries (after the header) */
	uint32_t	 nentries;
	/* FK_ACKS: data/datalen are the ranges (frame_acks_range()) */
	uint32_t	 nranges;
};

/* Why a datagram was dropped: counters and nbmqctl share these names. */
enum drop_reason {
	DROP_NONE = 0,
	DROP_SHORT,		/* shorter than its kind's header */
	DROP_VERSION,		/* version byte is not 0x01 */
	DROP_LENGTH,		/* length != 34 + chunk_size */
	DROP_PART_INDEX,	/* part_index >= part_count or part_count 0 */
	DROP_CHUNK_RANGE,	/* chunk_offset + chunk_size > part_size */
	DROP_PART_SIZE,		/* part_size > message_size */
	DROP_OVERSIZE,		/* message_size > max_message_size */
	DROP_INCONSISTENT,	/* disagrees with earlier frames of the message */
	DROP_PART_SUM,		/* part sizes do not add up to message_size */
	DROP_FRAGMENTED,	/* too many holes in one message */
	DROP_UNKNOWN_KIND,	/* unknown control kind (ignored) */
	DROP_ENCRYPTED,		/* encrypted frame on a plain socket */
	DROP_UNKNOWN_SESSION,	/* answered with Disconnected */
	DROP_NOT_BOUND,		/* Connect on a connecting socket */
	DROP_MAX_PEERS,		/* Connect refused: max_peers */
	DROP_RECV_HWM,		/* message dropped: recv_hwm */
	DROP_DUPLICATE,		/* a message delivered already */
	DROP_REASM_TIMEOUT,	/* incomplete message expired or overtaken */
	DROP_NO_RECV,		/* data on a socket that cannot receive */
	DROP_PEER_GONE,		/* queued messages of a peer that left */
	DROP_SEND_FAILED,	/* the kernel refused a datagram */
	DROP_STUN_MALFORMED,	/* STUN: bad header, length or attribute */
	DROP_STUN_FINGERPRINT,	/* STUN: FINGERPRINT does not match */
	DROP_STUN_RATE,		/* STUN: over the per-source rate limit */
	DROP_STUN_UNEXPECTED,	/* STUN: not a request we serve, or an
				   answer to nothing we asked */
	DROP_STUN_REFUSED,	/* STUN: registration refused (stun_allow,
				   stun_index_max), answered with an error */
	DROP_PLAIN,		/* plain frame on an encrypted socket */
	DROP_CRYPT_AUTH,	/* does not open: tampered, or not the key */
	DROP_CRYPT_REPLAY,	/* opened before, or older than the window */
	DROP_CRYPT_HANDSHAKE,	/* Connect/Connected that does not verify */
	DROP_CRYPT_DENIED,	/* Connect from a key not in peers */
	DROP_APP_GONE,		/* received, never confirmed read by an
				   application that went away (ipc.c) */
	DROP_CRYPT_COOKIE,	/* Connect under load without mac2 (a
				   cookie reply instead), or past its
				   source's budget with one */
	DROP_BAD_ACK,		/* an Acks range past what was sent */
	DROP_NREASONS
};
extern const char *const drop_reason_names[DROP_NREASONS];

uint64_t	 fnv1a64(const void *, size_t);
/* FNV-1a-64 of a data frame given as its 10-byte header and the rest:
 * the same as fnv1a64() over the whole frame. */
uint64_t	 frame_hash(const uint8_t hdr[FRAME_HDR_SIZE], const uint8_t *,
		    size_t);
/* 4.3: what an Ack says between peers with FRAME_HELLO_ACKPOS. */
uint64_t	 frame_pos_key(uint64_t msgid, uint32_t part, uint32_t off);
/*
 * Parse and validate one datagram; DROP_NONE or why it must be dropped.
 * A Batch is checked for its layout only (entries fill it exactly, each
 * at least a data header): its entries go through frame_next_entry().
 */
enum drop_reason frame_parse(const uint8_t *buf, size_t len,
		    uint64_t max_message_size, struct frame *);
/*
 * The next entry of Batch b (parsed by frame_parse) at *off (0 first):
 * e is the equivalent data frame, validated like a kind-0 one; *off moves
 * past it.  Returns 0 at the end, 1 with DROP_NONE or a reason in *why.
 * *entry, *entrylen: the entry's bytes (the data frame from byte 10 on).
 */
int		 frame_next_entry(const struct frame *b, size_t *off,
		    uint64_t max_message_size, struct frame *e,
		    const uint8_t **entry, size_t *entrylen,
		    enum drop_reason *why);
size_t		 frame_put_ctl(uint8_t *buf, uint8_t kind, uint64_t session);
size_t		 frame_put_ack(uint8_t *buf, uint64_t session, uint64_t hash);
size_t		 frame_put_hello(uint8_t *buf, uint64_t session, uint16_t flags,
		    uint16_t ext_frame_size);
size_t		 frame_put_slow(uint8_t *buf, uint64_t session, uint32_t dropped,
		    uint32_t taken_kib);
size_t		 frame_put_floor(uint8_t *buf, uint64_t session, uint64_t floor);
size_t		 frame_put_window(uint8_t *buf, uint64_t session, uint64_t seen,
		    uint32_t msgs, uint32_t bytes, uint16_t flags);
/* 4.6: an Acks of n ranges (first id, count) in buf; the i-th range of a
 * parsed one. */
size_t		 frame_put_acks(uint8_t *buf, uint64_t session,
		    const uint64_t *lo, const uint32_t *count, uint32_t n);
void		 frame_acks_range(const struct frame *, uint32_t i,
		    uint64_t *lo, uint32_t *count);
/* Write the 34-byte data header of f; returns 34. */
size_t		 frame_put_data_hdr(uint8_t *buf, const struct frame *);
/* Its last 24 bytes alone (a Batch entry's header); returns 24. */
size_t		 frame_put_entry_hdr(uint8_t *buf, const struct frame *);
void		 frame_put16(uint8_t *, uint16_t);

/* msg.c: a multipart message in one allocation. */
struct msg {
	TAILQ_ENTRY(msg) entry;
	uint64_t	 id;		/* wire message id (sent messages) */
	uint64_t	 peer;		/* received: sender session; sent: 0 = any */
	uint32_t	 size;		/* bytes over all parts */
	uint16_t	 nparts;	/* 0: a drop marker in a receive queue */
	uint16_t	 flags;
	uint32_t	 refs;		/* dish fan-out shares one message */
	uint32_t	 unacked;	/* safe_dealer: frames awaiting an Ack */
	uint8_t		 given_up;	/* safe_dealer: a frame hit the limit */
	uint8_t		 inflight;	/* safe_dealer: in its peer's inflightq */
	uint64_t	 dropped;	/* drop marker: how many */
	uint32_t	*partsz;	/* nparts sizes, inside the allocation */
	uint8_t		*data;		/* size bytes, inside the allocation */
};
TAILQ_HEAD(msgq, msg);

/* A free list of blocks of one size (msg.c): at most max kept. */
struct pool {
	void		*free;		/* linked through each block's first word */
	uint32_t	 n;
	uint32_t	 max;
	size_t		 size;
};
extern int	 pool_off;	/* 1: straight to malloc (tests that fail it) */
void		*pool_get(struct pool *);	/* like malloc(size) */
void		 pool_put(struct pool *, void *);	/* like free() */

struct msg	*msg_new(uint16_t nparts, uint32_t size);
struct msg	*msg_new_marker(uint64_t dropped);
struct msg	*msg_ref(struct msg *);
void		 msg_free(struct msg *);	/* drops one reference */
void		 msgq_free(struct msgq *);

/*
 * A FIFO of message references (ipc.c: the messages written to an
 * application and not yet confirmed read), in a growing ring: no
 * allocation per message, and a message shared by a dish's subscribers
 * can sit in several at once (it holds one reference per ring).
 */
struct msgring {
	struct msg	**v;
	uint64_t	 head;		/* index of the oldest */
	uint64_t	 len;
	uint64_t	 cap;		/* 0 or a power of two */
};
/* Append m (the ring takes the caller's reference): 0, or -1 (ENOMEM). */
int		 msgring_push(struct msgring *, struct msg *);
/* The oldest (shift) or newest (pop) message, the reference with it. */
struct msg	*msgring_shift(struct msgring *);
struct msg	*msgring_pop(struct msgring *);
/* Drop every reference and the ring's memory. */
void		 msgring_free(struct msgring *);

/* outbox.c: datagrams waiting for one sendmmsg. */
#define OUTBOX_SLOTS	64
struct outbox {
	uint8_t		*buf;		/* OUTBOX_SLOTS * slot_size */
	size_t		 slot_size;
	int		 n;		/* filled slots */
	struct nbaddr	 to[OUTBOX_SLOTS];
	uint32_t	 len[OUTBOX_SLOTS];
};
int		 outbox_init(struct outbox *, size_t slot_size);
void		 outbox_free(struct outbox *);
/* A slot of slot_size bytes for a datagram to `to`, or NULL when full. */
uint8_t		*outbox_slot(struct outbox *, const struct nbaddr *to);
void		 outbox_commit(struct outbox *, uint32_t len);
/* Drop the first n sent slots, keep the rest in order. */
void		 outbox_consume(struct outbox *, int n);
/* Larger slots (the filled ones move along): 0, or -1 (unchanged). */
int		 outbox_grow(struct outbox *, size_t slot_size);

/* reasm.c: reassembly of one message from its chunks. */
struct reasm_range {
	uint32_t	 off;		/* global: part base + chunk offset */
	uint32_t	 end;
};
struct reasm_part {
	uint16_t	 index;		/* part_index (the parts seen, sorted) */
	uint32_t	 size;
	uint32_t	 base;		/* where the part sits in the message */
	uint32_t	 have;		/* bytes received */
};
/* A chunk received beyond the buffer (out of order, far ahead). */
struct reasm_chunk {
	struct reasm_chunk *next;
	uint32_t	 off, len;	/* global offset */
	uint8_t		 data[];
};
struct reasm {
	TAILQ_ENTRY(reasm) peer_entry;	/* peer's in-progress list */
	TAILQ_ENTRY(reasm) lru_entry;	/* socket-wide, by last frame */
	struct peer	*peer;
	uint64_t	 msgid;
	nbmq_time	 last;		/* last frame arrived */
	uint32_t	 message_size;
	uint32_t	 placed;	/* bytes of buf given to parts */
	uint32_t	 have;		/* bytes received over all parts */
	uint16_t	 part_count;
	uint16_t	 parts_seen;
	uint8_t		 in_order;	/* parts placed in index order */
	uint32_t	 nranges, maxranges;
	struct reasm_range *ranges;	/* sorted, disjoint */
	struct reasm_part *parts;	/* the parts seen, by index */
	uint16_t	 maxparts;
	struct msg	*m;		/* bytes [0, cap) of the message */
	uint32_t	 cap;
	struct reasm_chunk *far;	/* bytes received beyond cap */
	size_t		 mem;		/* bytes allocated for all of it */
};
TAILQ_HEAD(reasm_list, reasm);
#define REASM_MAX_RANGES	4096

struct reasm	*reasm_new(const struct frame *, nbmq_time now);
/*
 * Add one validated data frame.  Returns DROP_NONE (added or duplicate),
 * or a reason: the frame conflicts with the message (the caller drops the
 * frame; the message is kept).  *dup is set for a duplicate chunk.
 */
enum drop_reason reasm_add(struct reasm *, const struct frame *,
		    nbmq_time now, int *dup);
int		 reasm_complete(const struct reasm *);
/* Turn a complete reassembly into a message; frees r. NULL on ENOMEM. */
/* (Memory follows the bytes received, not the size claimed: reasm.c.) */
struct msg	*reasm_finish(struct reasm *);
void		 reasm_free(struct reasm *);

/* The struct of type that holds member field at p (a list or map node). */
#define container_of(p, type, field) \
	((type *)(void *)((char *)(p) - offsetof(type, field)))

/* hmap.c: intrusive chained hash keyed by uint64. */
struct hnode {
	struct hnode	*next;
	uint64_t	 key;
};
struct hmap {
	struct hnode	**b;
	size_t		 nb;		/* power of two */
	size_t		 n;
};
void		 hmap_init(struct hmap *);
void		 hmap_free(struct hmap *);
int		 hmap_insert(struct hmap *, struct hnode *, uint64_t key);
void		 hmap_remove(struct hmap *, struct hnode *);
/* First node with key, then hmap_next for more with the same key. */
struct hnode	*hmap_find(const struct hmap *, uint64_t key);
struct hnode	*hmap_next(struct hnode *);

/* sock.c + session.c: one nbmq socket, its peers and sessions. */

/*
 * Session states and transitions (PROTOCOL.md section 2).  Every change goes
 * through session_change_state(), which logs "state A -> B (event)" and
 * performs the entry actions: into CONNECTING the attempt (Connect, or
 * its timer), into UP the end of the reconnect and the kept queue adopted.
 *
 * Connecting socket (its link to the one remote):
 *   IDLE        -connect()------------> CONNECTING  send Connect
 *   CONNECTING  -reconnect timer------> CONNECTING  send Connect (re-resolve)
 *   CONNECTING  -Connected(id)--------> UP          peer(id), send Heartbeat
 *   UP          -Connected(id')-------> UP          replace the peer
 *   UP          -Disconnected(id)-----> CONNECTING  drop peer, send Connect
 *   UP          -keepalive expired----> CONNECTING  drop peer, send Connect
 *   UP          -Connected(id'), ENOMEM> CONNECTING  Connect at reconnect timer
 *   CONNECTING  -Disconnected(0)------> CONNECTING  a refusal: the reason
 *                                                   shown, nothing else
 * Bound socket (one session per peer):
 *   (none)      -Connect--------------> UP          new id, send Connected;
 *                                                   data and the up event
 *                                                   once its first frame
 *                                                   confirms it
 *   (none)      -Connect, max_peers---> (none)      refused, counted
 *   (none)      -Connect, other crypt-> (none)      refused, counted, and
 *                or key not allowed                 Disconnected(0) sent
 *   UP          -Connect same address-> UP          a new session beside it
 *                                                   (even at max_peers),
 *                                                   which replaces it once
 *                                                   confirmed
 *   UP          -Disconnected(id)-----> (removed)
 *   UP          -keepalive expired----> (removed)
 * Both:
 *   UP          -any frame with id----> UP          last_seen; address follows
 *   UP          -heartbeat due--------> UP          send Heartbeat
 *   (any)       -unknown session id---> (same)      send Disconnected(id)
 *
 * The extension (PROTOCOL.md 4.3) is a peer's own flag inside UP, never a
 * link state; with coalesce or pacing = yes:
 *   connecting  -Connected------------> send Heartbeat, then Hello (1 of 3)
 *   connecting  -a heartbeat interval-> Hello again while unanswered (<= 3)
 *   connecting  -Hello----------------> ext, flags both offer, frame size
 *                                        = min of both (coalescing only);
 *                                        confirm it (Hello, bit 15)
 *   bound       -Hello----------------> the same; answer Hello, and again
 *                                        each interval until confirmed
 *                                        (<= 60)
 *   any new session (reconnect, replaced peer): no ext until a new Hello
 * with coalesce = no and pacing = no neither side says Hello, and kinds
 * 6, 7 and 8 are unknown kinds as in v0.2.0.  Tests: tests/test_ext.c.
 *
 * The test in tests/test_sock.c that drives each transition, in the order
 * of the table (make coverage proves every line and branch of it ran):
 *   IDLE -connect()          test_idle_to_connecting_on_connect,
 *                            test_idle_to_connecting_by_name
 *   CONNECTING -reconnect    test_connecting_reconnect_timer_resends_connect,
 *                            test_idle_to_connecting_by_name (re-resolves)
 *   CONNECTING -Connected    test_connecting_to_up_on_connected
 *   UP -Connected(id')       test_up_connected_new_id_replaces_peer,
 *                            test_up_duplicate_connected_same_id
 *   UP -Disconnected         test_up_disconnected_to_connecting,
 *                            test_bound_restart_disconnected_reconnects
 *   UP -keepalive            test_up_keepalive_to_connecting
 *   UP -Connected, ENOMEM    test_alloc_fail_sessions
 *   (none) -Connect          test_bound_connect_creates_session
 *   (none) -Connect, max     test_bound_connect_max_peers_refused
 *   UP -Connect same addr    test_bound_connect_same_address_replaces
 *   UP -Disconnected (bound) test_bound_disconnected_removes_peer
 *   UP -keepalive (bound)    test_bound_keepalive_removes_peer
 *   UP -any frame with id    test_any_frame_refreshes_last_seen,
 *                            test_address_follows_nat_rebinding,
 *                            test_connecting_side_address_follows
 *   UP -heartbeat due        test_heartbeat_due, test_heartbeat_reach
 *   (any) -unknown id        test_unknown_session_sends_disconnected,
 *                            test_unknown_session_rate_limited
 * Refusals and connect reasons (conn_reason): test_connfail_* here,
 * test_core_plain_vs_encrypted and test_core_unknown_key in test_crypt.c.
 * And outside the table: Connected from elsewhere, with id 0, on a bound or
 * an idle socket, Connect on a connecting one (all dropped, counted:
 * test_connected_from_other_address_ignored); out of memory while a bound
 * socket's session is made (test_alloc_fail_sessions); close
 * (test_destroy_frees_everything).
 */
enum link_state {
	LINK_IDLE,
	LINK_CONNECTING,
	LINK_UP,
	LINK_NSTATES
};
extern const char *const link_state_names[LINK_NSTATES];

/* A message the application gave to send, counted lost (sock_ops). */
enum msg_fate {
	FATE_GIVEN_UP,		/* safe_dealer: resends ran out, or its
				   session ended unacked: fate unknown */
	FATE_PEER_GONE		/* never sent whole: its peer went, or
				   its socket closed first */
};

enum peer_event {
	PEV_UP,
	PEV_DOWN_KEEPALIVE,
	PEV_DOWN_DISCONNECTED,
	PEV_DOWN_REPLACED,
	PEV_DOWN_CLOSED,
	PEV_ADDRESS,
	PEV_NEVENTS
};
extern const char *const peer_event_names[PEV_NEVENTS];

/*
 * Why a connecting socket is not up yet: the last reason seen in this
 * connecting episode (from leaving UP or IDLE to the next UP).  The values
 * are those of the public enum nbmq_connfail (nbmq.h).  The refusals come
 * in unauthenticated frames (PROTOCOL.md 5): they change the reason shown,
 * never the state.
 */
enum conn_reason {
	CONN_NONE,		/* none yet: the first Connect is out */
	CONN_NO_ANSWER,		/* a Connect went unanswered */
	CONN_PEER_ENCRYPTED,	/* refused: the peer is encrypted, we plain */
	CONN_PEER_PLAIN,	/* refused: the peer is plain, we encrypted */
	CONN_KEY_DENIED,	/* refused: our key is not one of its peers */
	CONN_RESOLVE,		/* the host name does not resolve */
	CONN_UNREACHABLE,	/* ICMP: port or host unreachable */
	CONN_NREASONS
};
extern const char *const conn_reason_names[CONN_NREASONS];
/* Unanswered Connects in an episode before the daemon's log warns. */
#define CONN_WARN_AFTER	3

struct peer_stats {
	uint64_t	 rx_msgs, rx_bytes, tx_msgs, tx_bytes;
	uint64_t	 rx_frames, tx_frames;	/* a Batch: its entries */
	uint64_t	 resends, giveups;	/* safe_dealer */
	uint64_t	 acks_rx, acks_tx;	/* safe_dealer */
	uint64_t	 drops[DROP_NREASONS];
};

#define PEER_RECENT	32

/* Disconnected replies (PROTOCOL.md 5): rate and burst per source (in
 * DISC_SOURCES hashed buckets) and for the whole socket. */
#define DISC_SOURCES	64
#define DISC_SRC_RATE	20.0
#define DISC_SRC_BURST	40.0
#define DISC_RATE	200.0
#define DISC_BURST	400.0

/* safe_dealer, sending: one frame awaiting its Ack. */
struct unacked {
	struct hnode	 node;		/* peer->unacked, by its Ack's value:
					   FNV-1a-64 or frame_pos_key */
	TAILQ_ENTRY(unacked) entry;	/* sock->resendq, oldest send first */
	struct peer	*peer;
	struct msg	*m;		/* holds a reference */
	uint32_t	 part, off, base;
	uint16_t	 chunk;
	uint16_t	 tries;		/* resends so far */
	nbmq_time	 sent;
	nbmq_time	 first;		/* its first send: the horizon's start */
};
TAILQ_HEAD(unacked_list, unacked);

/* safe_dealer, receiving: a message delivered lately, to drop resends. */
struct dedup {
	struct hnode	 node;		/* peer->dedup, by message id */
	TAILQ_ENTRY(dedup) entry;	/* sock->dedupq, oldest first; or, a
					   peer with Floor, peer->dedupq */
	struct peer	*peer;
	nbmq_time	 at;		/* last seen; refreshed by resends */
	uint8_t		 floor;		/* in peer->dedupq: no TTL */
};
TAILQ_HEAD(dedup_list, dedup);
/* Delivered ids remembered per socket: when full, new messages are
 * refused unacked (the sender tries again), never an old id forgotten. */
#define DEDUP_MAX	65536
/* ids past its floor a sender begins no message at (4.5) */
#define SAFE_SPAN_MAX	(DEDUP_MAX / 4)

/*
 * PROTOCOL.md 4.3: where a session's negotiation of the extension stands
 * (session_offer, session_hello).  The connecting side offers Hellos,
 * HELLOS_MAX at most, until answered; the bound side answers every offer
 * and, once both have the extension, repeats its answer (HELLO_ANSWERS
 * times at most) until the connecting side confirms it.
 */
enum ext_neg {
	EXT_IDLE,		/* bound: nothing in common offered yet */
	EXT_OFFERING,		/* connecting: no answer yet */
	EXT_ANSWERED,		/* connecting: answered (and confirmed) */
	EXT_ANSWERING,		/* bound: both have it; answer repeated */
	EXT_CONFIRMED		/* bound: the connecting side confirmed */
};

#define CRYPT_WHO_MAX	64	/* NBMQ_ENC_WHO_MAX: who a peer is */

struct peer {
	struct hnode	 id_node;	/* sock->by_id */
	struct hnode	 addr_node;	/* sock->by_addr */
	TAILQ_ENTRY(peer) entry;	/* sock->peers, round robin order */
	TAILQ_ENTRY(peer) seen_entry;	/* sock->by_seen, oldest first */
	TAILQ_ENTRY(peer) sent_entry;	/* sock->by_sent, oldest first */
	TAILQ_ENTRY(peer) active_entry;	/* sock->active: has frames to send */
	struct sock	*sock;
	uint64_t	 session;
	struct nbaddr	 addr;
	struct nbaddr	 prev_addr;	/* before the last rebind */
	char		 who[CRYPT_WHO_MAX];	/* encrypted: who it said it is
					   ("key AbCdEfGh..."); "" plain */
	nbmq_time	 up_since, last_seen, last_sent;
	struct msgq	 sendq;
	uint64_t	 sendq_len;	/* messages */
	uint64_t	 inflight;	/* safe_dealer: sent, frames unacked */
	struct hmap	 unacked;	/* safe_dealer: frames awaiting an Ack */
	struct hmap	 dedup;		/* safe_dealer: delivered message ids */
	/* safe_dealer with Floor (PROTOCOL.md 4.5).  Sending: messages sent
	 * whole, frames unacked, in id order (inflight of them); the last
	 * floor announced.  Receiving: the peer's floor, and the ids from
	 * it up that were delivered, in delivery order. */
	struct msgq	 inflightq;
	uint64_t	 floor_sent;
	uint8_t		 floor_sent_valid;
	uint8_t		 rx_floor_set;
	uint64_t	 rx_floor;
	nbmq_time	 nudge_at;	/* safe_nudge: not again before */
	struct dedup_list dedupq;
	/* the message being cut into frames: sendq's head */
	uint32_t	 cur_part, cur_off, cur_base;
	int64_t		 deficit;
	int		 active;
	struct reasm_list reasms;
	uint32_t	 nreasms;	/* in reasms */
	uint32_t	 reach;		/* heartbeat intervals with traffic, 8 bits */
	uint64_t	 recent[PEER_RECENT];	/* ids delivered lately */
	uint32_t	 recent_pos;
	uint64_t	 last_dropped;	/* msgid dropped at recv_hwm */
	void		*crypt;		/* encryptor's session state (crypt.c) */
	/* PROTOCOL.md 4.3: the extension, negotiated per session */
	uint8_t		 ext;		/* both sides: Batch and frame_size */
	uint16_t	 ext_flags;	/* FRAME_HELLO_* both sides have */
	enum ext_neg	 ext_neg;
	uint8_t		 hellos;	/* offered, or answers repeated, so far */
	nbmq_time	 hello_at;	/* the next Hello offer or answer */
	/* Bound side: the connecting side has shown it has the session
	 * (its first frame after Connected); until then no data goes to
	 * it and the application has not heard of it.  Always 1 on the
	 * connecting side. */
	uint8_t		 confirmed;
	uint32_t	 frame_size;	/* largest datagram to send it */
	struct pace	 pace;		/* PROTOCOL.md 4.4 (pace.c) */
	struct win	 win;		/* PROTOCOL.md 4.7 (window.c) */
	struct peer_stats st;
};
TAILQ_HEAD(peer_list, peer);

struct sock_stats {
	uint64_t	 drops[DROP_NREASONS];
	uint64_t	 rx_datagrams, tx_datagrams;
	uint64_t	 rx_msgs, tx_msgs;
	uint64_t	 sessions_created;
	uint64_t	 resends, giveups;	/* safe_dealer */
};

/* What all sockets of a daemon hold of what peers sent ([daemon]
 * max_memory): the sockets' rx_bytes added up. */
struct membudget {
	uint64_t	 used, max;
};

/*
 * How sock_out() sends a datagram on an encrypted socket: as written (STUN;
 * Disconnected, which nobody can seal, marked by its writer), with the
 * handshake as its body (Connect: p NULL, the socket's handshake in
 * flight; Connected: p's), or sealed for p (everything else).
 */
enum out_how {
	OUT_PLAIN,
	OUT_HANDSHAKE,
	OUT_SEALED
};

struct sock;
struct sock_ops {
	/* Push the outbox to the network; leaves what the kernel refused. */
	void		(*flush)(void *arg, struct sock *);
	/* The receive queue went from empty to non-empty. */
	void		(*recv_ready)(void *arg, struct sock *);
	/* A peer came up, went down or moved. */
	void		(*peer_event)(void *arg, struct sock *, struct peer *,
			    enum peer_event);
	/* The remote is a host name: resolve it now, then sock_set_remote(). */
	void		(*resolve)(void *arg, struct sock *);
	/* 64 random bits (getrandom in the daemon). */
	uint64_t	(*random64)(void *arg);
	/* The STUN server is a host name: resolve it now, then
	 * stuncli_set_server(). */
	void		(*stun_resolve)(void *arg, struct sock *);
	/* Optional (NULL: none).  Connecting: a Connect went unanswered
	 * (CONN_NO_ANSWER, each time), or the reason changed
	 * (s->conn_reason, s->conn_unanswered, s->conn_since). */
	void		(*connect_event)(void *arg, struct sock *);
	/* Optional (NULL: none).  m, accepted from the application, is
	 * counted lost now (giveups, or drops peer_gone): the simulator
	 * checks that every message not delivered was one of these. */
	void		(*msg_lost)(void *arg, struct sock *,
			    const struct msg *, enum msg_fate);
};

struct sock {
	int		 type;		/* enum nbmq_type */
	char		 name[NBMQ_NAME_MAX + 1];
	struct sockopts	 o;
	const struct sock_ops *ops;
	void		*arg;
	/*
	 * The core's calls upward, as hooks so that its files import one
	 * way (tests/layers.py): sock_init wires safe.c's resends to
	 * session_sent() and session.c's ended sessions to sock_peer_gone();
	 * stuncli.c, given a target, has session.c call stuncli_lookup() on
	 * each attempt to connect (NULL: none).
	 */
	void		(*sent)(struct sock *, struct peer *, nbmq_time);
	void		(*peer_gone)(struct sock *, struct peer *);
	void		(*lookup)(struct sock *, nbmq_time);

	int		 bound;		/* bound: many peers; else connecting
					   (link leaves LINK_IDLE) */
	struct nbaddr	 remote;	/* connecting: where Connect goes */
	int		 remote_valid;
	int		 remote_is_name;
	enum link_state	 link;
	nbmq_time	 reconnect_at;
	/* Connecting: since when, Connects sent and unanswered in this
	 * episode, whether the current attempt got an answer (a refusal),
	 * the last reason, and whether the log warned. */
	nbmq_time	 conn_since;
	uint32_t	 conn_attempts;
	uint32_t	 conn_unanswered;
	uint8_t		 conn_answered;
	uint8_t		 conn_warned;
	enum conn_reason conn_reason;

	struct peer_list peers;
	uint32_t	 npeers;
	uint32_t	 nup;		/* of them confirmed: data goes there */
	struct hmap	 by_id, by_addr;
	TAILQ_HEAD(, peer) by_seen;
	TAILQ_HEAD(, peer) by_sent;
	TAILQ_HEAD(, peer) active;
	struct peer	*rr_next;	/* dealer round robin cursor */

	struct msgq	 rq;		/* complete messages for the app */
	uint64_t	 rq_len;	/* messages in rq (markers excluded) */
	uint64_t	 rq_held;	/* taken from rq by the shell, held until
					   the application confirms them (ipc.c,
					   at most recv_hwm of them) */
	uint64_t	 nreasm;	/* messages being reassembled */
	uint64_t	 rx_bytes;	/* held for recv_hwm_bytes: messages in
					   rq, and reassembly memory */
	struct membudget *mb;		/* the daemon's, or NULL */
	uint64_t	 drops_unreported;
	struct reasm_list reasm_lru;
	nbmq_time	 maint_at;
	nbmq_time	 pace_at;	/* a paced peer may send again (4.4) */
	int		 win_dirty;	/* grants may have moved (4.7) */
	uint64_t	 kbuf;		/* SO_RCVBUF as the kernel says (the
					   shell; 0: unknown) */

	uint64_t	 next_msgid;
	uint64_t	 accepted;	/* messages taken from the app */
	uint64_t	 queued;	/* messages in all send queues */
	struct msgq	 orphans;	/* connecting: queue kept over a reconnect */
	uint64_t	 norphans;
	struct unacked_list resendq;	/* safe_dealer */
	struct dedup_list dedupq;	/* safe_dealer */
	uint64_t	 ndedup;

	/* Disconnected replies: a budget per source (hashed) and overall. */
	struct tokens	 disc_all, disc_src[DISC_SOURCES];

	/* STUN (PROTOCOL.md 4.1): the index of a stun socket (stunsrv.c);
	 * the name, server and connect by name of an nbmq socket
	 * (stuncli.c). */
	struct stunsrv	*stunsrv;
	struct stuncli	*stuncli;
	struct nbaddr	 mapped;	/* our address as the STUN server saw it */
	nbmq_time	 mapped_at;	/* when it last said so; 0 never */

	/* Encryption (crypt.c): NULL for a plain socket. */
	struct crypt_sock *crypt;
	uint32_t	 seal_overhead;	/* bytes sealing adds to a frame */
	nbmq_time	 crypt_log_at;	/* refusals: last line logged */
	uint64_t	 crypt_log_skipped;

	struct outbox	 ob;
	/* A Batch being filled in the outbox's next slot (sock.c): open only
	 * inside sock_tick() and safe_timers(), closed before anything else
	 * takes a slot. */
	struct batch {
		struct peer	*p;		/* NULL: none open */
		uint8_t		*b;
		uint32_t	 len, cap;	/* bytes so far; the most */
		uint32_t	 n;		/* entries */
		nbmq_time	 now;
	}		 bt;
	/* safe_dealer: Acks of id ranges for one peer, gathered while
	 * reading and sent at the tick (safe_acks_flush, 4.6). */
	struct acks {
		struct peer	*p;		/* NULL: none gathered */
		uint32_t	 n;
		uint64_t	 lo[FRAME_ACKS_MAX];
		uint32_t	 count[FRAME_ACKS_MAX];
	}		 acks;
	struct sock_stats st;
};

int		 sock_init(struct sock *, int type, const struct sockopts *,
		    const struct sock_ops *, void *arg);
void		 sock_destroy(struct sock *);
/* Mark bound (the shell owns the UDP socket). */
void		 sock_set_bound(struct sock *);
/* Set the remote; starts connecting if it was idle. */
void		 sock_set_remote(struct sock *, const struct nbaddr *,
		    nbmq_time now);
/* Connect to a host name: the shell resolves through ops->resolve. */
void		 sock_connect_name(struct sock *, nbmq_time now);
/* Connecting: the shell learnt why (CONN_RESOLVE, CONN_UNREACHABLE) the
 * attempt to the remote failed; ignored in any other state. */
void		 sock_connect_failed(struct sock *, enum conn_reason,
		    nbmq_time now);
/* One received datagram. */
void		 sock_input(struct sock *, nbmq_time now,
		    const struct nbaddr *from, const uint8_t *, size_t);
/*
 * Queue a message (the socket owns it from now on, also on error).
 * Returns 0, or an errno: EHOSTUNREACH (no peer), ENOTSUP (type).
 * With force, a message is accepted over send_hwm (credit already granted).
 */
int		 sock_send(struct sock *, struct msg *, nbmq_time now,
		    int force);
/* Send up to max_tick_send frames; returns 1 if frames are still queued. */
int		 sock_tick(struct sock *, nbmq_time now);
/* Run due timers; returns the next deadline (NBMQ_TIME_NEVER if none). */
nbmq_time	 sock_timers(struct sock *, nbmq_time now);
nbmq_time	 sock_next_deadline(const struct sock *);
/* Room under send_hwm for the credit window (dealer: sum over peers). */
uint64_t	 sock_send_room(const struct sock *);
int		 sock_has_output(const struct sock *);
/* Take the next message (or drop marker) for the app; NULL if none. */
struct msg	*sock_recv(struct sock *);
/*
 * Give m, taken with sock_recv and held (rq_held) since, back to the head
 * of the receive queue: its application went away without confirming it.
 * Called newest first, the messages end up in their original order.  The
 * queue may then hold more than recv_hwm: new messages wait until it is
 * below again.
 */
void		 sock_unrecv(struct sock *, struct msg *);
/* The peer of session id, or NULL: a look-up in s->by_id, here so that
 * crypt.c finds a peer without calling session.c. */
static inline struct peer *
sock_peer_by_id(const struct sock *s, uint64_t id)
{
	struct hnode	*n = hmap_find(&s->by_id, id);

	return n ? container_of(n, struct peer, id_node) : NULL;
}
uint64_t	 sock_recv_count(const struct sock *);
/* Add the counters of from to to. */
void		 sock_stats_add(struct sock_stats *to,
		    const struct sock_stats *from);
/* delta bytes more (or fewer) held for peers: recv_hwm_bytes, max_memory. */
void		 sock_hold(struct sock *, int64_t delta);
/* The kernel dropped n datagrams for want of room (pace.c). */
void		 sock_rx_overflow(struct sock *, uint32_t n, nbmq_time);
/* n frames or messages from p were dropped: a Slow when due (pace.c). */
void		 sock_pace_drop(struct sock *, struct peer *, uint32_t n,
		    nbmq_time);
/* window.c (4.7): p's grant, if it moved (force: in any case); the grants
 * that moved, once per tick. */
void		 sock_win_out(struct sock *, struct peer *, nbmq_time, int force);
void		 sock_win_flush(struct sock *, nbmq_time);
/* The Hello flags s offers: the socket's, and Window for a dealer or a
 * safe_dealer (4.7). */
#define SOCK_EXT_FLAGS(s)						\
	(OPTS_EXT_FLAGS(&(s)->o) |					\
	 (((s)->type == NBMQ_DEALER || (s)->type == NBMQ_SAFE_DEALER) &&	\
	  (s)->o.pacing ? FRAME_HELLO_WINDOW : 0))

/*
 * crypt.c: encrypted sockets (PROTOCOL.md 4.2) over the encryptor interface
 * (nbmq_encryptor.h); crypt_sodium.c: the built-in `sodium`.
 */
#define CRYPT_KEY_SIZE	32
#define CRYPT_KEY_B64	44	/* base64 of a key, '=' included */
struct nbmq_encryptor;
extern const struct nbmq_encryptor crypt_sodium;
extern uint64_t crypt_sodium_dh_ops;	/* X25519 operations so far */
/*
 * An encryptor as the shell loaded and created it for a socket
 * (crypt_sock_load, cryptconf.c): the core reads no key file and opens no
 * plugin.
 */
struct crypt_loaded {
	const struct nbmq_encryptor *e;	/* crypt_sodium, or a plugin's */
	void		*enc;		/* e's instance (e->create) */
	void		*dl;		/* a plugin's handle, or NULL */
	void		(*unload)(void *dl);	/* the shell's, for dl */
	char		 label[96];	/* "sodium", or the plugin's path */
};
/* Before bind/connect, s adopts l: 0, or -1 out of memory (l released). */
int		 crypt_sock_start(struct sock *, const struct crypt_loaded *l);
void		 crypt_sock_free(struct sock *);
/* 1 if frames still fit sealed in o->max_frame_size, else 0 with why. */
int		 crypt_opts_ok(const struct sock *, const struct sockopts *,
		    char *why, size_t whylen);
/* Room for a data frame with a byte, an Ack, a handshake, all sealed by e. */
uint64_t	 crypt_need(const struct nbmq_encryptor *);
int		 crypt_opts_fit(const struct nbmq_encryptor *, const char *label,
		    const struct sockopts *, char *why, size_t whylen);
/*
 * The built-in encryptor, given the keys read (private, then npeers public
 * keys back to back) and the wall clock of its Connect timestamps: its
 * instance, or NULL with why.
 */
void		*crypt_sodium_new(const uint8_t priv[CRYPT_KEY_SIZE],
		    const uint8_t *peers, size_t npeers, int bound,
		    void (*wallclock)(struct timespec *), char *why,
		    size_t whylen);
/* What crypt_input() made of a datagram (crypt.c says more). */
enum crypt_verdict {
	CRYPT_DONE,		/* dropped and counted: nothing more to do */
	CRYPT_FRAME,		/* the frame in ci, for sock_input */
	CRYPT_UNKNOWN,		/* sealed, of a session unknown here (ci->id) */
	CRYPT_REFUSE,		/* refuse the sender's Connect (ci->why) */
	CRYPT_REFUSED,		/* our Connect was refused (ci->why) */
	CRYPT_REPLY,		/* under load: send ci->reply to the sender
				   instead (sodium's cookie reply) */
	CRYPT_CONNECT		/* Connect again at once (with the cookie
				   the remote just sent) */
};
#define CRYPT_REPLY_MAX	96	/* sodium's cookie reply is 66 bytes */
struct crypt_in {
	const uint8_t		*buf;	/* the frame, opened */
	size_t			 len;
	const struct nbaddr	*from;	/* where it comes from, for the core */
	void			*hs;	/* Connect, Connected: the handshake */
	uint64_t		 id;
	uint8_t			 why;	/* 0, or an enum conn_reason */
	size_t			 reply_len;
	/* the buffers last: crypt_input() clears what is before them */
	uint8_t			 reply[CRYPT_REPLY_MAX];
	char			 who[CRYPT_WHO_MAX];	/* Connect, Connected:
					   the peer's key, as the log says it */
};
enum crypt_verdict crypt_input(struct sock *, nbmq_time,
		    const struct nbaddr *from, const uint8_t *, size_t,
		    struct crypt_in *);
/* sock_out() on an encrypted socket: the frame in b (len bytes, in a slot
 * of cap) with its handshake or sealed; its length now, or 0: not sent. */
size_t		 crypt_out(struct sock *, struct peer *, enum out_how,
		    uint8_t *b, size_t len, size_t cap, nbmq_time);
void		 crypt_hs_free(struct sock *, void *hs);
/* For nbmqctl: the socket's encryptor ("" plain: "sodium", or a plugin's
 * path), and who it is to its peers ("key AbCdEfGh..."; "" unknown). */
const char	*crypt_label(const struct sock *);
void		 crypt_self(const struct sock *, char *who, size_t len);
/* A plain socket got an encrypted frame: a rate-limited log line. */
void		 crypt_refuse(struct sock *, nbmq_time, const struct nbaddr *,
		    uint8_t kind);
/*
 * The wall clock, for what must be compared across restarts (sodium's
 * Connect timestamps): the shell's clock_gettime(CLOCK_REALTIME); the
 * simulator and the tests may set their own.
 */
extern void	(*crypt_wallclock)(struct timespec *);
/* cryptconf.c: keys, peers files, names and plugins, read at start-up. */
int		 crypt_key_decode(const char *, size_t,
		    uint8_t key[CRYPT_KEY_SIZE]);
void		 crypt_key_encode(const uint8_t key[CRYPT_KEY_SIZE],
		    char out[CRYPT_KEY_B64 + 1]);
/*
 * A key file as configured, an absolute path or $CREDENTIALS_DIRECTORY/NAME
 * (a systemd credential: *cred set), as the path to open: 0 or -1 with why.
 */
int		 crypt_path(const char *conf, char *buf, size_t buflen,
		    int *cred, char *why, size_t whylen);
/*
 * A private key file (crypt_path; owned by nbmqd's user with mode 0600 or
 * 0400, or a credential): 0 or -1.
 */
int		 crypt_key_file(const char *path, uint8_t key[CRYPT_KEY_SIZE],
		    char *why, size_t whylen);
/* The keys of peers and peers_file, fn called for each: count or -1. */
int		 crypt_peers(const char *list, const char *file,
		    int (*fn)(void *, const uint8_t *), void *arg, char *why,
		    size_t whylen);
/*
 * A file (crypt_path) that exists and is regular; secret: as
 * crypt_key_file has it, else not writable by group or others.
 */
int		 crypt_file_ok(const char *path, int secret, char *why,
		    size_t whylen);
/* The least max_frame_size a built-in encryptor needs (0: unknown). */
uint64_t	 crypt_min_frame_size(const char *encryptor);
int		 crypt_conf_eq(const struct cryptconf *,
		    const struct cryptconf *);
void		 crypt_conf_free(struct cryptconf *);
/*
 * Before bind/connect: the encryptor cc names loaded (a plugin: dlopen),
 * its keys read and it created, then crypt_sock_start(): 0, or -1 with why
 * (the socket stays plain).
 */
int		 crypt_sock_load(struct sock *, const struct cryptconf *,
		    int bound, char *why, size_t whylen);
/* The built-in sodium of ec: its key files read, crypt_sodium_new(). */
struct nbmq_enc_config;
void		*crypt_sodium_create(const struct nbmq_enc_config *, char *why,
		    size_t whylen);
/* A plugin's encryptor, checked; its handle in *dl (unload it, also on
 * error when set). */
const struct nbmq_encryptor *crypt_plugin_load(const char *path, void **dl,
		    char *why, size_t whylen);
void		 crypt_plugin_unload(void *dl);

/* session.c (used by sock.c) */
int		 session_send_ctl(struct sock *, const struct nbaddr *,
		    uint8_t kind, uint64_t session);
void		 session_sent(struct sock *, struct peer *, nbmq_time);
/* Refuse a Connect with a bare Disconnected(0) (PROTOCOL.md 5), within the
 * Disconnected budget; why: 0, or the one payload byte (CONN_KEY_DENIED). */
void		 session_refuse(struct sock *, const struct nbaddr *,
		    uint8_t why, nbmq_time);
/* A bare Disconnected(0) from from: the refusal of our Connect. */
void		 session_refused(struct sock *, const struct nbaddr *from,
		    enum conn_reason, nbmq_time);
void		 session_heartbeat(struct sock *, struct peer *, nbmq_time);
void		 session_hello(struct sock *, struct peer *,
		    const struct frame *, nbmq_time);
/* Connect, Connected: hs, the handshake that came with it on an encrypted
 * socket, goes to the peer it makes (returned; else NULL: not taken). */
struct peer	*session_accept(struct sock *, const struct nbaddr *, void *hs,
		    nbmq_time);
struct peer	*session_connected(struct sock *, uint64_t id,
		    const struct nbaddr *, void *hs, nbmq_time);
void		 session_disconnected(struct sock *, uint64_t id,
		    const struct nbaddr *from, nbmq_time);
/* Disconnected to every peer and the outbox flushed (a clean close). */
void		 session_goodbye(struct sock *);
void		 session_unknown(struct sock *, uint64_t id,
		    const struct nbaddr *, nbmq_time);
int		 session_seen(struct sock *, struct peer *,
		    const struct nbaddr *, nbmq_time);
void		 session_close_all(struct sock *);
/* A queued message that goes with its peer: counted peer_gone, once. */
void		 session_count_gone(struct sock *, const struct msg *);
nbmq_time	 session_next_deadline(const struct sock *);
void		 session_timers(struct sock *, nbmq_time);

/* safe.c: safe_dealer acks, resends and duplicate suppression. */
int		 safe_track(struct sock *, struct peer *, struct msg *,
		    uint32_t part, uint32_t off, uint32_t base, uint32_t chunk,
		    uint64_t hash, nbmq_time);
void		 safe_ack_in(struct sock *, struct peer *, uint64_t hash,
		    nbmq_time);
/* Floor (PROTOCOL.md 4.5): the peer's, and ours sent when it moved by
 * step ids or more (1: whenever it moved; 0: always). */
void		 safe_floor_in(struct sock *, struct peer *, uint64_t floor);
void		 safe_floor_out(struct sock *, struct peer *, uint64_t step,
		    nbmq_time);
/* The message just sent whole to p waits for its Acks (sock_emit). */
void		 safe_inflight(struct sock *, struct peer *, struct msg *);
/* No room to remember another delivered message: refuse it unacked. */
int		 safe_full(const struct sock *);
void		 safe_rekey(struct sock *, struct peer *);
/* Ack(hash): hash is frame_hash() of the data frame (or Batch entry), or
 * frame_pos_key() with a peer that acks by position (PROTOCOL.md 4.3). */
void		 safe_ack_out(struct sock *, struct peer *,
		    const struct frame *, uint64_t hash, nbmq_time);
/* Acks of id ranges (PROTOCOL.md 4.6): in from p, and the gathered ones
 * out (at the tick, and before a peer goes). */
void		 safe_acks_in(struct sock *, struct peer *,
		    const struct frame *, nbmq_time);
void		 safe_acks_flush(struct sock *, nbmq_time);
/* p's next message waits: too far past its floor (SAFE_SPAN_MAX). */
int		 safe_span_full(const struct sock *, const struct peer *);
/* Held so: the messages at p's floor go again, not counted as tries;
 * returns when to again. */
nbmq_time	 safe_nudge(struct sock *, struct peer *, nbmq_time);
int		 safe_is_dup(struct sock *, struct peer *, uint64_t msgid,
		    nbmq_time);
void		 safe_delivered(struct sock *, struct peer *, uint64_t msgid,
		    nbmq_time);
void		 safe_peer_free(struct sock *, struct peer *);
/* How long a delivered message is remembered: safe_hash_dedup_ttl, and
 * never less than the resend horizon plus a second. */
nbmq_time	 safe_dedup_ttl(const struct sockopts *);
void		 safe_timers(struct sock *, nbmq_time);
nbmq_time	 safe_next_deadline(const struct sock *);
/* sockout.c: the one way out (below session.c, safe.c, pace.c, stun.c). */
/* What an Ack of data frame f says: its position (FRAME_HELLO_ACKPOS) or
 * the FNV-1a-64 of hdr and the rest. */
uint64_t	 sock_ack_key(const struct peer *, const struct frame *,
		    const uint8_t hdr[FRAME_HDR_SIZE], const uint8_t *rest,
		    size_t len);
/*
 * Frame (part, off, chunk) of m for p into the outbox: alone as a data
 * frame, or (an extension peer, coalesce) as an entry of the Batch open
 * for p.  Returns 0, or -1 when the kernel takes nothing.  hash (unless
 * NULL) gets the frame's hash, FNV-1a-64 of the equivalent data frame.
 */
int		 sock_put_frame(struct sock *, struct peer *,
		    const struct msg *, uint32_t part, uint32_t off,
		    uint32_t base, uint32_t chunk, nbmq_time, uint64_t *hash);
/* Seal and commit the open Batch, if any (a single entry goes as kind 0). */
void		 sock_batch_close(struct sock *);
/* The largest datagram to p, and the largest chunk in it. */
uint32_t	 sock_frame_size(const struct sock *, const struct peer *);
uint32_t	 sock_max_chunk(const struct sock *, const struct peer *);
/* Outbox slots this socket needs with options o: max_frame_size, or the
 * largest frame size an extension peer negotiated. */
size_t		 sock_slot_need(const struct sock *, const struct sockopts *);
/* Make room for frames of `want` bytes; returns what fits (want, or less
 * when memory is short). */
uint32_t	 sock_grow_frames(struct sock *, uint32_t want);
/*
 * A free outbox slot for a datagram to `to`, flushing the outbox to the
 * kernel once if it is full; NULL when the kernel takes nothing either.
 */
uint8_t		*sock_slot(struct sock *, const struct nbaddr *to);
/*
 * The one way out: the datagram of len bytes just written into the slot
 * sock_slot() gave goes into the outbox, on an encrypted socket first
 * with its handshake or sealed for p (how), and is counted (tx_datagrams;
 * p's Acks and Slows sent).  now: the time to seal at, or 0 for the
 * encryptor's latest (control frames).  0, or -1: it could not be sealed
 * and was taken back (counted as send_failed).
 */
int		 sock_out(struct sock *, struct peer *, enum out_how,
		    uint32_t len, nbmq_time now);
/* sock.c */
/* Messages counting against send_hwm for p. */
uint64_t	 sock_peer_load(const struct peer *);
/* p's session ends: what the socket holds for it (its reassemblies, its
 * safe_dealer state, its keys) goes. */
void		 sock_peer_gone(struct sock *, struct peer *);

/* stun.c: the STUN codec (RFC 5389/8489, RFC 3489 requests), PROTOCOL.md
 * 4.1, and stun_send() into a socket's outbox. */
#define STUN_HDR_SIZE		20
#define STUN_COOKIE		0x2112A442U
#define STUN_FINGERPRINT_XOR	0x5354554eU
#define STUN_MAX_UNKNOWN	8	/* listed in a 420 answer */
#define STUN_MSG_MAX		256	/* the largest message this daemon sends */

#define STUN_BINDING_REQUEST	0x0001
#define STUN_BINDING_INDICATION	0x0011
#define STUN_BINDING_SUCCESS	0x0101
#define STUN_BINDING_ERROR	0x0111

#define STUN_A_MAPPED_ADDRESS		0x0001
#define STUN_A_CHANGE_REQUEST		0x0003
#define STUN_A_MESSAGE_INTEGRITY	0x0008
#define STUN_A_ERROR_CODE		0x0009
#define STUN_A_UNKNOWN_ATTRIBUTES	0x000a
#define STUN_A_XOR_MAPPED_ADDRESS	0x0020
#define STUN_A_SOFTWARE			0x8022
#define STUN_A_FINGERPRINT		0x8028
#define STUN_A_NBMQ_NAME		0xc001	/* register this name */
#define STUN_A_NBMQ_TARGET		0xc002	/* where is this name? */
#define STUN_A_NBMQ_PEER_ADDRESS	0xc003	/* there (XOR-MAPPED encoding) */

#define STUN_ERR_BAD_REQUEST		400
#define STUN_ERR_FORBIDDEN		403	/* not in stun_allow */
#define STUN_ERR_UNKNOWN_NAME		404	/* NBMQ-TARGET not registered */
#define STUN_ERR_UNKNOWN_ATTRIBUTE	420
#define STUN_ERR_CAPACITY		508	/* the index is full */

/* One parsed message: only what this daemon reads. */
struct stun_msg {
	uint16_t	 type;		/* method and class */
	int		 classic;	/* RFC 3489: no magic cookie */
	uint8_t		 txid[16];	/* 12 bytes; 16 when classic */
	int		 fingerprint;	/* had a FINGERPRINT (a valid one) */
	int		 has_change;
	uint32_t	 change;	/* CHANGE-REQUEST flags */
	int		 nunknown;	/* unknown comprehension-required */
	uint16_t	 unknown[STUN_MAX_UNKNOWN];	/* the first of them */
	int		 has_mapped;	/* XOR-MAPPED-ADDRESS or MAPPED-ADDRESS */
	int		 has_xor_mapped;
	struct nbaddr	 mapped;
	int		 has_peer;	/* NBMQ-PEER-ADDRESS */
	struct nbaddr	 peer;
	int		 error;		/* ERROR-CODE 300..699, 0 none */
	char		 name[NBMQ_NAME_MAX + 1];	/* NBMQ-NAME, "" none */
	char		 target[NBMQ_NAME_MAX + 1];	/* NBMQ-TARGET */
};

/* A message being written into a caller's buffer. */
struct stun_out {
	uint8_t		*b;
	size_t		 cap, len;
	int		 classic;
};

uint32_t	 stun_crc32(const void *, size_t);
/* PROTOCOL.md 4.1 demultiplexing: cookie at 4..7, length == len - 20. */
int		 stun_is_stun(const uint8_t *, size_t);
int		 stun_valid_name(const char *, size_t len);
void		 stun_unmap(const struct nbaddr *in, struct nbaddr *out);
int		 stun_addr_for_family(const struct nbaddr *in, int family,
		    struct nbaddr *out);
/* Validate and parse one datagram: DROP_NONE, or why to drop it. */
enum drop_reason stun_parse(const uint8_t *, size_t, struct stun_msg *);
/* A message of type: an answer to req (its transaction id and flavour),
 * or, req NULL, a new one with the 12-byte txid. */
void		 stun_begin(struct stun_out *, uint8_t *buf, size_t cap,
		    uint16_t type, const struct stun_msg *req,
		    const uint8_t *txid);
int		 stun_put_attr(struct stun_out *, uint16_t type, const void *,
		    size_t);
int		 stun_put_addr(struct stun_out *, uint16_t type,
		    const struct nbaddr *, int xor);
int		 stun_put_error(struct stun_out *, int code, const char *);
int		 stun_put_unknown(struct stun_out *, const uint16_t *, int n);
/* Length field (and FINGERPRINT): the message's size, 0 if it did not fit. */
size_t		 stun_finish(struct stun_out *, int fingerprint);
size_t		 stun_addr_attr_size(const struct nbaddr *);
const char	*stun_error_text(int code);
/* Queue one STUN datagram on s; 0, or -1 (counted as send_failed). */
int		 stun_send(struct sock *, const struct nbaddr *to,
		    const uint8_t *, size_t);
/* 12 random bytes of transaction id (ops->random64). */
void		 stun_txid(struct sock *, uint8_t txid[12]);

/*
 * stunsrv.c: a socket of type stun (PROTOCOL.md 4.1, 5): answers Binding
 * requests, keeps the index of names, introduces peers for hole punching.
 */
#define STUN_ALLOW_MAX		64
#define STUN_INDEX_MAX_DEFAULT	10000
#define STUN_INDEX_MAX_LIMIT	1000000
struct stun_net {
	int		 family;
	uint8_t		 addr[16];
	unsigned int	 bits;
};
struct stun_entry {
	struct hnode	 node;		/* stunsrv->by_name, FNV-1a-64 of name */
	TAILQ_ENTRY(stun_entry) entry;	/* stunsrv->lru, oldest refresh first */
	char		 name[NBMQ_NAME_MAX + 1];
	struct nbaddr	 addr;		/* mapped address (never v4-mapped) */
	nbmq_time	 first, last;	/* registered, last refreshed */
	struct tokens	 intro;		/* Binding indications sent to it */
	uint64_t	 refreshes, lookups;
	int		 family;	/* of the socket address it came to */
};
TAILQ_HEAD(stun_entry_list, stun_entry);

/*
 * A shared index behind a stun socket (stunidx.c: Redis), as the core
 * sees it.  Every call returns at once; what comes back later comes
 * through stunsrv_found() and stunsrv_intro().  Without one (the
 * default), the index is this socket's own, in memory.
 */
struct stun_index_ops {
	/* name registered here at addr (new, refreshed or moved): share it
	 * for ttl ns. */
	void	(*put)(void *arg, struct sock *, const char *name,
		    const struct nbaddr *addr, uint64_t ttl);
	/* name is not registered here: 0 and stunsrv_found(id) later (at
	 * most once), or -1 when the shared index cannot be asked now
	 * (degraded: the answer is this socket's own). */
	int	(*get)(void *arg, struct sock *, const char *name, uint64_t id);
	/* Ask the rendezvous `holder` (get's answer) to introduce src to
	 * name. */
	void	(*intro)(void *arg, struct sock *, const char *holder,
		    const char *name, const struct nbaddr *src);
};
/* What the shared index did (nbmqctl, stunidx.c's status). */
struct stun_index_stats {
	uint64_t	 asked;		/* lookups sent to the shared index */
	uint64_t	 found;		/* of them answered with an address */
	uint64_t	 timeouts;	/* unanswered in STUNSRV_LOOKUP_WAIT */
	uint64_t	 local;		/* answered locally: index degraded */
	uint64_t	 busy;		/* STUNSRV_PENDING_MAX waiting: local */
	uint64_t	 intros;	/* introductions asked by other rendezvous */
	uint32_t	 pending;	/* lookups waiting for an answer now */
};
#define STUNSRV_LOOKUP_WAIT	(2 * NSEC)
#define STUNSRV_PENDING_MAX	1024

/* "10.0.0.0/8, 192.168.0.0/16, 2001:db8::/32": count, or -1 with why. */
int		 stunsrv_parse_allow(const char *, struct stun_net *,
		    size_t max, char *why, size_t whylen);
/* Set up s (type stun): 0, or -1 with why. */
int		 stunsrv_configure(struct sock *, const char *allow,
		    uint64_t index_max, char *why, size_t whylen);
void		 stunsrv_input(struct sock *, nbmq_time,
		    const struct nbaddr *from, const uint8_t *, size_t);
nbmq_time	 stunsrv_next_deadline(const struct sock *);
void		 stunsrv_timers(struct sock *, nbmq_time);
void		 stunsrv_free(struct sock *);
/* The index, oldest refresh first (TAILQ_NEXT(e, entry) for more). */
const struct stun_entry *stunsrv_first(const struct sock *);
uint32_t	 stunsrv_count(const struct sock *);
/* When an entry expires: 3 of the stun socket's stun_refresh_ivl. */
nbmq_time	 stunsrv_expiry(const struct sock *, const struct stun_entry *);
/* stun_index (PROTOCOL.md does not change: the index is the rendezvous'
 * own business) and stun_index_prefix. */
#define STUN_INDEX_MEMORY	0
#define STUN_INDEX_REDIS	1
#define STUN_INDEX_REDIS_UNIX	2
#define STUN_INDEX_PORT		6379
#define STUN_INDEX_DB_MAX	9999
#define STUN_INDEX_PREFIX_MAX	64
#define STUN_INDEX_PREFIX	"nbmq:"
struct stun_index_url {
	int		 kind;		/* STUN_INDEX_* */
	char		 host[256];	/* redis:// */
	uint16_t	 port;
	unsigned int	 db;
	char		 path[108];	/* redis+unix:// */
};
int		 stunsrv_parse_index(const char *, struct stun_index_url *,
		    char *why, size_t whylen);
int		 stunsrv_valid_prefix(const char *);
/* The shared index (NULL: the in-memory one). */
void		 stunsrv_set_index(struct sock *, const struct stun_index_ops *,
		    void *arg);
/* The answer to ops->get id: addr and the holder's id, or NULL, NULL. */
void		 stunsrv_found(struct sock *, nbmq_time, uint64_t id,
		    const struct nbaddr *addr, const char *holder);
/* Another rendezvous asks: introduce src to name, registered here. */
void		 stunsrv_intro(struct sock *, nbmq_time, const char *name,
		    const struct nbaddr *src);
void		 stunsrv_index_stats(const struct sock *,
		    struct stun_index_stats *);

/*
 * stuncli.c: an nbmq socket's side of STUN: its mapped address, its name
 * at the stun server (refreshed every stun_refresh_ivl), connect by name
 * (a lookup, then hole punching).
 */
/* The stun server: numeric, or NULL for a host name that the shell
 * resolves (ops->stun_resolve) before each request; desc for logs. */
int		 stuncli_init(struct sock *, const char *desc,
		    const struct nbaddr *server);
/* Binding requests every stun_refresh_ivl from now: the mapped address,
 * and the registration of name unless it is "". */
void		 stuncli_register(struct sock *, const char *name, nbmq_time);
/* Connect by name: sock_connect_name() then asks for target. */
void		 stuncli_set_target(struct sock *, const char *target);
void		 stuncli_set_server(struct sock *, const struct nbaddr *,
		    nbmq_time);
int		 stuncli_has_target(const struct sock *);
/* Connecting by name: ask the stun server where the target is. */
void		 stuncli_lookup(struct sock *, nbmq_time);
void		 stuncli_input(struct sock *, nbmq_time,
		    const struct nbaddr *from, const uint8_t *, size_t);
nbmq_time	 stuncli_next_deadline(const struct sock *);
void		 stuncli_timers(struct sock *, nbmq_time);
void		 stuncli_free(struct sock *);

#endif /* NBMQD_H */
