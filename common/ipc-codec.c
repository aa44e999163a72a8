/* SPDX-License-Identifier: ISC */
/*
 * ipc-codec.c: validation of IPC messages, shared by nbmqd and libnbmq.
 * Nothing here trusts the peer: every length is checked before use.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "nbmq.h"
#include "nbmq-protocol.h"

/* No hidden padding: every byte on the wire is a named field. */
_Static_assert(sizeof(struct ipc_event) == 16 + 2 * NBMQ_IPC_ADDR_LEN,
    "ipc_event padding");
_Static_assert(sizeof(struct ipc_ctl_events) == 6 * 8, "events padding");
_Static_assert(sizeof(struct ipc_ctl_req) == NBMQ_IPC_NAME_LEN,
    "ctl_req padding");
_Static_assert(sizeof(struct ipc_ctl_status) == NBMQ_IPC_WORD_LEN +
    NBMQ_IPC_PATH_LEN + 8 + 6 * 4 + 4 * 8, "ctl_status padding");
_Static_assert(sizeof(struct ipc_ctl_sock) == NBMQ_IPC_NAME_LEN +
    2 * NBMQ_IPC_ADDR_LEN + NBMQ_IPC_HOST_LEN + NBMQ_IPC_WORD_LEN +
    (6 + NBMQ_IPC_NPIDS) * 4 + 13 * 8 + sizeof(struct ipc_ctl_events) +
    NBMQ_IPC_NDROPS * 8 + 8 + 2 * 4 + NBMQ_IPC_PATH_LEN + NBMQ_IPC_WORD_LEN,
    "ctl_sock padding");
_Static_assert(sizeof(struct ipc_ctl_peer) == NBMQ_IPC_NAME_LEN +
    2 * NBMQ_IPC_ADDR_LEN + NBMQ_IPC_WORD_LEN + 14 * 8 + 2 * 4 +
    NBMQ_IPC_NDROPS * 8 + 2 * 4 + 3 * 8 + NBMQ_IPC_WORD_LEN,
    "ctl_peer padding");
_Static_assert(sizeof(struct ipc_ctl_stats) == 8 + 2 * 4 + 8 * 8 +
    sizeof(struct ipc_ctl_events) + 2 * 4 + NBMQ_IPC_NDROPS * 8,
    "ctl_stats padding");
_Static_assert(sizeof(struct ipc_ctl_reason) == 8 + NBMQ_IPC_WORD_LEN,
    "ctl_reason padding");
_Static_assert(sizeof(struct ipc_ctl_end) == 8, "ctl_end padding");
_Static_assert(sizeof(struct ipc_ctl_index) == 2 * NBMQ_IPC_NAME_LEN +
    NBMQ_IPC_ADDR_LEN + 5 * 8 + NBMQ_IPC_HOST_LEN, "ctl_index padding");

#define STR(type, field)	\
	{ offsetof(type, field), sizeof(((type *)0)->field) }

/* The fixed-size messages and where their strings are. */
static const struct ipc_fixed {
	uint16_t	 type;
	uint32_t	 size;
	struct {
		size_t	 off, len;
	}		 str[8];		/* len 0 ends the list */
} ipc_fixed[] = {
	{ IPC_EVENT, sizeof(struct ipc_event), {
	    STR(struct ipc_event, addr),
	    STR(struct ipc_event, prev_addr) } },
	{ IPC_CTL_STATUS, 0, { { 0, 0 } } },
	{ IPC_CTL_SOCKETS, 0, { { 0, 0 } } },
	{ IPC_CTL_PEERS, sizeof(struct ipc_ctl_req), {
	    STR(struct ipc_ctl_req, sock) } },
	{ IPC_CTL_STATS, 0, { { 0, 0 } } },
	{ IPC_CTL_REASONS, 0, { { 0, 0 } } },
	{ IPC_CTL_RELOAD, 0, { { 0, 0 } } },
	{ IPC_CTL_STATUS_INFO, sizeof(struct ipc_ctl_status), {
	    STR(struct ipc_ctl_status, version),
	    STR(struct ipc_ctl_status, config) } },
	{ IPC_CTL_SOCKET_INFO, sizeof(struct ipc_ctl_sock), {
	    STR(struct ipc_ctl_sock, name),
	    STR(struct ipc_ctl_sock, local),
	    STR(struct ipc_ctl_sock, remote),
	    STR(struct ipc_ctl_sock, state),
	    STR(struct ipc_ctl_sock, mapped),
	    STR(struct ipc_ctl_sock, encryptor),
	    STR(struct ipc_ctl_sock, key) } },
	{ IPC_CTL_PEER_INFO, sizeof(struct ipc_ctl_peer), {
	    STR(struct ipc_ctl_peer, sock),
	    STR(struct ipc_ctl_peer, addr),
	    STR(struct ipc_ctl_peer, prev_addr),
	    STR(struct ipc_ctl_peer, state),
	    STR(struct ipc_ctl_peer, key) } },
	{ IPC_CTL_STATS_INFO, sizeof(struct ipc_ctl_stats), { { 0, 0 } } },
	{ IPC_CTL_REASON, sizeof(struct ipc_ctl_reason), {
	    STR(struct ipc_ctl_reason, name) } },
	{ IPC_CTL_END, sizeof(struct ipc_ctl_end), { { 0, 0 } } },
	{ IPC_CTL_INDEX, sizeof(struct ipc_ctl_req), {
	    STR(struct ipc_ctl_req, sock) } },
	{ IPC_CTL_INDEX_ENTRY, sizeof(struct ipc_ctl_index), {
	    STR(struct ipc_ctl_index, sock),
	    STR(struct ipc_ctl_index, name),
	    STR(struct ipc_ctl_index, addr),
	    STR(struct ipc_ctl_index, where) } },
};

static const struct ipc_fixed *
ipc_fixed_find(uint16_t type)
{
	for (size_t i = 0; i < sizeof(ipc_fixed) / sizeof(ipc_fixed[0]); i++)
		if (ipc_fixed[i].type == type)
			return &ipc_fixed[i];
	return NULL;
}

uint32_t
ipc_fixed_size(uint16_t type)
{
	const struct ipc_fixed	*f = ipc_fixed_find(type);

	return f != NULL ? f->size : 0;
}

int
ipc_fixed_decode(uint16_t type, const void *payload, uint32_t len,
    void *out, size_t outlen)
{
	const struct ipc_fixed	*f = ipc_fixed_find(type);
	const uint8_t		*p = payload;

	if (f == NULL || len != f->size || outlen != f->size)
		return EPROTO;
	for (size_t i = 0; i < sizeof(f->str) / sizeof(f->str[0]) &&
	    f->str[i].len > 0; i++)
		if (memchr(p + f->str[i].off, '\0', f->str[i].len) == NULL)
			return EPROTO;
	if (len > 0)
		memcpy(out, p, len);
	return 0;
}

const char *
ipc_event_name(uint32_t type)
{
	switch (type) {
	case NBMQ_EVENT_UP:		return "up";
	case NBMQ_EVENT_DOWN:		return "down";
	case NBMQ_EVENT_ADDRESS:	return "address";
	case NBMQ_EVENT_HWM_REACHED:	return "hwm_reached";
	case NBMQ_EVENT_HWM_CLEARED:	return "hwm_cleared";
	case NBMQ_EVENT_CONNECT_FAILED:	return "connect_failed";
	}
	return "unknown";
}

const char *
ipc_connfail_name(uint32_t reason)
{
	switch (reason) {
	case NBMQ_CONNFAIL_NO_ANSWER:		return "no_answer";
	case NBMQ_CONNFAIL_PEER_ENCRYPTED:	return "peer_encrypted";
	case NBMQ_CONNFAIL_PEER_PLAIN:		return "peer_plain";
	case NBMQ_CONNFAIL_KEY_DENIED:		return "key_denied";
	case NBMQ_CONNFAIL_RESOLVE:		return "resolve";
	case NBMQ_CONNFAIL_UNREACHABLE:		return "unreachable";
	}
	return "unknown";
}

const char *
ipc_connfail_text(uint32_t reason)
{
	switch (reason) {
	case NBMQ_CONNFAIL_NO_ANSWER:	return "no answer";
	case NBMQ_CONNFAIL_PEER_ENCRYPTED:
		return "refused: the peer is encrypted";
	case NBMQ_CONNFAIL_PEER_PLAIN:	return "refused: the peer is plain";
	case NBMQ_CONNFAIL_KEY_DENIED:	return "refused: key not allowed";
	case NBMQ_CONNFAIL_RESOLVE:	return "cannot resolve";
	case NBMQ_CONNFAIL_UNREACHABLE:	return "unreachable (ICMP)";
	}
	return "unknown";
}

const char *
ipc_down_reason_name(uint32_t reason)
{
	switch (reason) {
	case NBMQ_DOWN_KEEPALIVE:	return "keepalive";
	case NBMQ_DOWN_DISCONNECTED:	return "disconnected";
	case NBMQ_DOWN_REPLACED:	return "replaced";
	case NBMQ_DOWN_CLOSED:		return "closed";
	}
	return "unknown";
}

int
ipc_hdr_check(const struct nbmq_ipc_hdr *h, uint32_t max_payload)
{
	if (h->len > max_payload)
		return EMSGSIZE;
	if ((h->type >> 8) < 0x01 || (h->type >> 8) > 0x04)
		return EPROTO;
	return 0;
}

int
ipc_msg_parse(const uint8_t *p, uint32_t len, struct ipc_msgview *v)
{
	struct ipc_msg	hdr;
	uint64_t	sum = 0, sizes_len;

	if (len < sizeof(hdr))
		return EPROTO;
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.nparts == 0 || hdr.nparts > NBMQ_IPC_MAX_PARTS)
		return EPROTO;
	sizes_len = (uint64_t)hdr.nparts * 4;
	if (len - sizeof(hdr) < sizes_len)
		return EPROTO;
	v->peer = hdr.peer;
	v->nparts = hdr.nparts;
	v->flags = hdr.flags;
	v->sizes = p + sizeof(hdr);
	v->data = v->sizes + sizes_len;
	for (uint32_t i = 0; i < hdr.nparts; i++)
		sum += ipc_msg_part_size(v, i);
	if (sum != len - sizeof(hdr) - sizes_len)
		return EPROTO;
	v->size = (uint32_t)sum;
	return 0;
}

uint32_t
ipc_msg_part_size(const struct ipc_msgview *v, uint32_t i)
{
	uint32_t	sz;

	memcpy(&sz, v->sizes + (size_t)i * 4, 4);
	return sz;
}

const char *
ipc_type_name(uint16_t type)
{
	switch (type) {
	case IPC_HELLO:		return "hello";
	case IPC_HELLO_OK:	return "hello_ok";
	case IPC_RESULT:	return "result";
	case IPC_SOCK_CREATE:	return "create";
	case IPC_SOCK_ATTACH:	return "attach";
	case IPC_SOCK_CLOSE:	return "close";
	case IPC_SOCK_BIND:	return "bind";
	case IPC_SOCK_CONNECT:	return "connect";
	case IPC_SOCK_SETOPT:	return "setopt";
	case IPC_SOCK_GETOPT:	return "getopt";
	case IPC_SEND:		return "send";
	case IPC_MSG:		return "msg";
	case IPC_CREDIT:	return "credit";
	case IPC_DROPPED:	return "dropped";
	case IPC_SOCK_GONE:	return "sock_gone";
	case IPC_EVENT:		return "event";
	case IPC_CONFIRM:	return "confirm";
	case IPC_TALLY:		return "tally";
	case IPC_CTL_STATUS:	return "ctl_status";
	case IPC_CTL_SOCKETS:	return "ctl_sockets";
	case IPC_CTL_PEERS:	return "ctl_peers";
	case IPC_CTL_STATS:	return "ctl_stats";
	case IPC_CTL_REASONS:	return "ctl_reasons";
	case IPC_CTL_RELOAD:	return "ctl_reload";
	case IPC_CTL_INDEX:	return "ctl_index";
	case IPC_CTL_STATUS_INFO: return "ctl_status_info";
	case IPC_CTL_SOCKET_INFO: return "ctl_socket_info";
	case IPC_CTL_PEER_INFO:	return "ctl_peer_info";
	case IPC_CTL_STATS_INFO: return "ctl_stats_info";
	case IPC_CTL_REASON:	return "ctl_reason";
	case IPC_CTL_INDEX_ENTRY: return "ctl_index_entry";
	case IPC_CTL_END:	return "ctl_end";
	}
	return "unknown";
}
