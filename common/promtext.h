/* SPDX-License-Identifier: ISC */
/*
 * promtext.h: nbmqd's counters in the Prometheus text exposition format
 * (or OpenMetrics), from the control protocol's structs: the daemon
 * serves it on metrics_listen, nbmqctl metrics prints the same from the
 * IPC socket (for node_exporter's textfile collector).
 */
#ifndef NBMQ_PROMTEXT_H
#define NBMQ_PROMTEXT_H

#include <stdio.h>

#include "nbmq-protocol.h"

struct prom_in {
	const struct ipc_ctl_status	*status;
	const struct ipc_ctl_stats	*stats;
	const struct ipc_ctl_sock	*socks;
	size_t				 nsocks;
	const struct ipc_ctl_peer	*peers;		/* NULL: no per-peer series */
	size_t				 npeers;
	/* drop reason names, by the index of the drops arrays */
	const char			(*reasons)[NBMQ_IPC_WORD_LEN];
	size_t				 nreasons;
};

/* Every family, with HELP and TYPE; openmetrics: that format, "# EOF". */
void	prom_write(FILE *, const struct prom_in *, int openmetrics);

#endif
