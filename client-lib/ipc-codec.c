/*
 * ipc-codec.c: validation of IPC messages, shared by nbmqd and libnbmq.
 * Nothing here trusts the peer: every length is checked before use.
 */
#include <errno.h>
#include <string.h>

#include "nbmq-protocol.h"

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
	}
	return "unknown";
}
