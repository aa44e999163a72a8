/* SPDX-License-Identifier: ISC */
/*
 * bench.h: what the parts of nbmqbench share (bench/nbmqbench.c: the
 * benchmark, its cases and main; proc.c: processes, /proc and the
 * daemons' counters; baseline.c: the raw-socket baselines; apps.c: the
 * applications on libnbmq; daemons.c: the nbmqd processes; idle.c: the
 * idle cost; report.c: the output).
 */
#ifndef NBMQBENCH_H
#define NBMQBENCH_H

#include <sys/epoll.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sched.h>
#include <sodium.h>

#include "nbmq.h"
#include "nbmq-protocol.h"
#include "ctlclient.h"


#define MAXREPS		9
#define MAXRX		4
#define MAXRTT		200000
#define BATCH		64		/* sendmmsg/recvmmsg, writev, and
					   NBMQ_BATCH runs: messages per
					   syscall */
#define UDP_RCVBUF	(4 << 20)	/* what nbmqd sets (rcvbuf = 4M) */
#define UDP_SNDBUF	(1 << 20)	/* sndbuf = 1M */
#define FRAME_PAYLOAD	466		/* max_frame_size 500 - 34 */
#define STOP_BYTE	0xff		/* ping-pong: the last message */

/* ---- shared state between the parent and its forked children ---- */

struct rxstat {
	uint64_t	 got, bytes, bad;
	double		 t_first, t_last;
	double		 cpu;		/* seconds of CPU while receiving */
	int		 done;
};

struct shm {
	int		 ready;		/* children that are ready */
	int		 have_ep;	/* endpoint/port published */
	int		 go;
	int		 done;		/* the sender finished */
	int		 stop;		/* parent: everybody stop now */
	int		 release;	/* parent: receivers may close now */
	char		 endpoint[128];
	uint16_t	 port;
	uint16_t	 relay_port[2];	/* udppp4: the relays, in path order */
	int		 have_relay[2];
	double		 t_start, t_end;
	uint64_t	 sent;
	double		 tx_cpu;
	int64_t		 giveups;
	struct rxstat	 rx[MAXRX];
	/* ping-pong */
	uint32_t	 nrtt;
	uint32_t	 lost;
	/* idle peers */
	int		 target;	/* peers wanted */
	int		 connected;	/* peers with a session */
	int		 farm_err;
	uint64_t	 hb_sent, hb_rcvd, disc_rcvd;
	char		 err[256];
	double		 rtt[MAXRTT];
};

extern struct shm	*sh;

#define LOAD(x)		__atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define INC(x)		__atomic_add_fetch(&(x), 1, __ATOMIC_SEQ_CST)

/* ---- the daemons' own counters (proc.c) ---- */

#define NDROPS		NBMQ_IPC_NDROPS

struct dstats {
	int		 ok;
	uint64_t	 drops[NDROPS];
	uint64_t	 rx_datagrams, tx_datagrams, resends, giveups;
};

/* ---- results (nbmqbench.c) ---- */

enum rkind { R_THRU = 1, R_LAT, R_IDLE };

struct res {
	const char	*id;
	const char	*label;
	int		 kind;
	int		 nbmq;
	int		 size;		/* message bytes */
	int		 nrx;		/* receivers (radio: dishes) */
	const char	*base;		/* id of the baseline it is set against */
	int		 base_mb;	/* compare MB/s instead of msgs/s */
	const char	*base2;		/* a second baseline, msgs/s */
	const char	*rivals;		/* ids of what users would pick
					   instead: the strongest that ran
					   is printed beside it, as a ratio */
	const char	*note;
	int		 ok, reps;
	char		 err[256];

	/* per repetition, then the median in [0] after finish() */
	double		 rx_rate[MAXREPS], tx_rate[MAXREPS], pct[MAXREPS];
	double		 mbps[MAXREPS], cpu_a[MAXREPS], cpu_b[MAXREPS];
	double		 cpu_tx[MAXREPS], cpu_rx[MAXREPS];
	double		 p50[MAXREPS], p99[MAXREPS];
	uint64_t	 sent[MAXREPS], got[MAXREPS], lost[MAXREPS];
	double		 us_msg[MAXREPS];	/* CPU of every process / msg */
	double		 kdrop_b[MAXREPS];	/* kernel UDP drops, daemon B */
	char		 ddrops[2][160];	/* daemon A, B: drops by reason,
						   summed over repetitions */
	struct dstats	 dsum[2][2];		/* [daemon][before, after] */
	double		 minpct[MAXREPS];	/* radio: worst dish */
	int64_t		 giveups[MAXREPS];

	/* idle */
	int		 peers;
	double		 idle_cpu, farm_cpu, rss_kib, rss0_kib, per_peer;
	double		 hb_in, hb_out;
	int		 peers_seen;
};

/* ---- options (nbmqbench.c) ---- */

extern int		 opt_json, opt_keep, opt_reps;
extern double		 opt_secs;
extern const char	*opt_only, *opt_json_file, *opt_nbmqd;
extern int		 opt_peers[2];
extern double		 opt_idle_secs;
extern int		 opt_idle_sender;
/* veth.c: --veth, two namespaces joined by a veth pair */
extern int		 opt_veth;
int		 veth_setup(void);
void		 veth_teardown(void);
void		 enter_side(int);
in_addr_t	 side_addr(int);
const char	*side_text(int);
int		 my_side(void);

/* ---- the case being run: run_case (nbmqbench.c) sets them ---- */

/* baseline.c */
extern double		 drain_s, silence_s;
extern int		 case_size, case_batch, case_gso, case_relay;
extern int		 unix_pair[2];
/* apps.c */
extern int		 case_type, case_hwm, case_secure, case_plain;
extern char		 case_id[16];

/* ---- nbmqbench.c ---- */

extern struct res	 results[];
extern const int	 nresults;
extern struct res	 idle_rows[2], idle0, idle_base[2], idle_base0;

struct res	*res_by_id(const char *);
int		 wanted(const char *);
void		 shm_reset(void);

/* ---- proc.c ---- */

extern char		 tmpdir[256];
extern pid_t		 daemons[3];
extern char		 sockpath[3][300];

double		 now(void);
void		 sleep_s(double);
double		 cpu_self(void);
void __attribute__((noreturn, format(printf, 1, 2)))
		 child_fail(const char *, ...);
void __attribute__((format(printf, 1, 2)))
		 progress(const char *, ...);
pid_t		 spawn(void (*)(int), int);
int		 reap_kids(double);
void		 stop_daemon(int);
void		 cleanup(void);
void		 on_signal(int);
int		 wait_go(void);
double		 child_go(void);
int		 wait_ready(int, double);
int		 wait_flag(int *, double);
double		 proc_cpu(pid_t);
long		 proc_rss_kib(pid_t);
double		 proc_udp_drops(pid_t);
void		 settle(void);
void		 daemon_stats(int, struct dstats *);
void		 drops_text(const struct dstats *, const struct dstats *,
		    char *, size_t);

/* ---- baseline.c ---- */

int		 udp_socket(uint16_t *);
void		 set_rcvtimeo(int, double);
int		 rx_stop(uint64_t, double);
void		 udp_rx_child(int);
void		 udp_tx_child(int);
void		 unix_rx_child(int);
void		 unix_tx_child(int);
void		 udp_echo_child(int);
void		 udp_relay_child(int);
void		 udp_ping_child(int);

/* ---- apps.c ---- */

/* peers.c: libzmq and ENet, the same cases */
extern int		 case_enet_reliable;	/* else unsequenced */
void		 zmq_rx_child(int);
void		 zmq_tx_child(int);
void		 zmq_echo_child(int);
void		 zmq_ping_child(int);
void		 enet_rx_child(int);
void		 enet_tx_child(int);
void		 enet_echo_child(int);
void		 enet_ping_child(int);
void		 nbmq_rx_child(int);
void		 nbmq_tx_child(int);
void		 nbmq_echo_child(int);
void		 nbmq_ping_child(int);

/* ---- daemons.c ---- */

extern char		 secure_conf[2][2048];

int		 start_daemon(int, const char *, const char *);
int		 secure_confs(void);

/* ---- idle.c ---- */

void		 run_idle(void);

/* ---- report.c ---- */

extern char		 cpu_model[160], kernel[300], load_end[64];
extern long		 ncpu;

void		 loadavg(char *, size_t);
void		 machine_info(void);
void		 print_text(void);
void		 print_json(FILE *);

#endif
