/* SPDX-License-Identifier: ISC */
/*
 * ctlclient.h: a control client of nbmqd's IPC (ctl/ctlclient.c),
 * shared by nbmqctl and the bench (bench/nbmqbench.c): connect, hello,
 * and request/answer framing over the codec (ipc-codec.c).  Applications
 * use libnbmq (nbmq.c) instead.
 *
 * Every call returns 0, or -1 with the reason in c->err, a sentence for
 * a person ("nbmqd is not running (no daemon at PATH)"); nothing exits,
 * nothing prints.  Every wait has a deadline: c->wait_ms per answer.
 */
#ifndef NBMQ_CTLCLIENT_H
#define NBMQ_CTLCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "nbmq-protocol.h"

#define CTL_MAX_ANSWER	(64U << 10)	/* largest answer payload taken */

struct ctl {
	const char	*path;
	const char	*prog;		/* who we are, in version errors */
	int		 fd;
	int		 wait_ms;	/* per answer */
	uint32_t	 reqid;
	uint8_t		*buf;		/* the last answer's payload */
	size_t		 cap;
	char		 err[1200];	/* why the last call failed */
};

/* Connect to the daemon at path and say hello. */
int	ctl_open(struct ctl *, const char *path, const char *prog,
	    int wait_ms);
void	ctl_close(struct ctl *);

/* One request (a fresh reqid), and the next answer to it (c->buf). */
int	ctl_send(struct ctl *, uint16_t type, const void *, uint32_t len);
int	ctl_recv(struct ctl *, struct nbmq_ipc_hdr *);
/* IPC_RESULT: its errno in *errp, its text (if any) in text. */
int	ctl_result(struct ctl *, const struct nbmq_ipc_hdr *, int *errp,
	    char *text, size_t textlen);
/* The answer is of the fixed-size type want (decoded into out), not an
 * IPC_RESULT; what names the request in errors. */
int	ctl_expect(struct ctl *, const struct nbmq_ipc_hdr *, uint16_t want,
	    void *out, size_t outlen, const char *what);
/* A request answered with a struct of type want. */
int	ctl_ask(struct ctl *, uint16_t req, const void *, uint32_t len,
	    uint16_t want, void *out, size_t outlen, const char *what);
/* A streamed list: items of type item (each size bytes) into a new array
 * (*itemsp, free it), until IPC_CTL_END with the right count. */
int	ctl_list(struct ctl *, uint16_t req, const void *, uint32_t len,
	    uint16_t item, size_t size, void **itemsp, uint32_t *countp,
	    const char *what);
/* The daemon's names of the drop reasons, by index ("" where none). */
int	ctl_reasons(struct ctl *,
	    char reasons[NBMQ_IPC_NDROPS][NBMQ_IPC_WORD_LEN]);

#endif
