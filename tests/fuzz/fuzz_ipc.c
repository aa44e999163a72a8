/* SPDX-License-Identifier: ISC */
/*
 * fuzz_ipc.c: libFuzzer target for the IPC decoders.
 *
 * 1. The codec shared by nbmqd and libnbmq (common/ipc-codec.c): the
 *    first 16 bytes as a header (ipc_hdr_check), the rest as its payload
 *    (ipc_msg_parse, ipc_fixed_decode for the header's type).
 * 2. libnbmq's input parser, in_parse() and ipc_handle(): the whole input
 *    is what the daemon sent down one socket's connection.  They are
 *    static, so this file includes nbmq.c itself; the socket has no fd and
 *    a request with reqid 1 in flight, as after nbmq_bind().
 *
 * Every payload is copied into a buffer of exactly its size, so that ASan
 * sees any read past it.
 */
#include "../../client-lib/nbmq.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e)	do { if (!(e)) { \
	fprintf(stderr, "fuzz_ipc: invariant failed: %s (line %d)\n", \
	    #e, __LINE__); abort(); } } while (0)

static void
codec(const uint8_t *data, size_t size)
{
	struct nbmq_ipc_hdr	 h;
	struct ipc_msgview	 v;
	uint32_t		 len, fsz;
	uint8_t			*p, *out;

	if (size < sizeof(h))
		return;
	memcpy(&h, data, sizeof(h));
	(void)ipc_hdr_check(&h, NBMQ_IPC_MAX_PAYLOAD);
	(void)ipc_type_name(h.type);
	(void)ipc_event_name(h.flags);
	(void)ipc_down_reason_name(h.handle);
	len = (uint32_t)(size - sizeof(h));
	if ((p = malloc(len ? len : 1)) == NULL)
		return;
	memcpy(p, data + sizeof(h), len);
	if (ipc_msg_parse(p, len, &v) == 0) {
		uint64_t sum = 0;

		CHECK(v.nparts >= 1 && v.nparts <= NBMQ_IPC_MAX_PARTS);
		for (uint32_t i = 0; i < v.nparts; i++)
			sum += ipc_msg_part_size(&v, i);
		CHECK(sum == v.size);
		CHECK(v.data + v.size == p + len);
		if (v.size > 0)
			CHECK(v.data[v.size - 1] == p[len - 1]);
	}
	fsz = ipc_fixed_size(h.type);
	if ((out = malloc(fsz ? fsz : 1)) != NULL) {
		if (ipc_fixed_decode(h.type, p, len, out, fsz) == 0)
			CHECK(len == fsz);
		free(out);
	}
	free(p);
}

static void
library(const uint8_t *data, size_t size)
{
	nbmq_socket	*s;
	struct nbmq_msg	*m;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return;
	s->fd = -1;
	s->tailp = &s->head;
	s->wait_reqid = 1;
	s->in_cap = s->in_len = size;
	if ((s->in = malloc(size ? size : 1)) == NULL) {
		free(s);
		return;
	}
	memcpy(s->in, data, size);
	in_parse(s);
	CHECK(s->in_len <= size);
	if (s->got_result)
		CHECK(strlen(s->result_str) < sizeof(s->result_str));
	for (m = s->head; m != NULL; m = m->next) {
		struct nbmq_event	ev;
		size_t			total = 0, plen;
		const uint8_t		*part;

		if (nbmq_msg_event(m, &ev)) {
			CHECK(strlen(ev.addr) < sizeof(ev.addr));
			(void)nbmq_event_name(ev.type);
			(void)nbmq_down_reason_name(ev.reason);
			continue;
		}
		for (size_t i = 0; i < nbmq_msg_parts(m); i++) {
			part = nbmq_msg_part(m, i, &plen);
			CHECK(part != NULL);
			if (plen > 0)
				total += part[plen - 1] * 0 + plen;
		}
		CHECK(total == nbmq_msg_size(m));
		(void)nbmq_msg_peer(m);
	}
	lsock_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	codec(data, size);
	library(data, size);
	return 0;
}
