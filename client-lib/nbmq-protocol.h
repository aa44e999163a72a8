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
 */
#ifndef NBMQ_PROTOCOL_H
#define NBMQ_PROTOCOL_H

#include <stdint.h>

#define NBMQ_IPC_VERSION	1
#define NBMQ_IPC_MAGIC		0x514d424eU	/* "NBMQ" little-endian */

/* Largest payload one IPC message may carry (a whole max-size message). */
#define NBMQ_IPC_MAX_MSG_SIZE	(256U << 20)	/* hard cap of max_message_size */
#define NBMQ_IPC_MAX_PARTS	255
#define NBMQ_IPC_MAX_PAYLOAD	(NBMQ_IPC_MAX_MSG_SIZE + 16 + 4 * NBMQ_IPC_MAX_PARTS)
#define NBMQ_IPC_MAX_STRING	1024		/* addresses, names */

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

#endif /* NBMQ_PROTOCOL_H */
