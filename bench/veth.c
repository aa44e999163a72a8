/* SPDX-License-Identifier: ISC */
/*
 * veth.c: nbmqbench --veth, a path that is not loopback.  Two network
 * namespaces joined by a veth pair, side A (10.77.0.1: daemon A, the
 * senders, the pinger) and side B (10.77.0.2: daemon B, the receivers, the
 * echo): datagrams cross a real device, its queue and softirq, with no
 * loopback GSO/GRO shortcut.  The applications stay where they are (they
 * reach their daemon over its Unix socket, which a namespace does not
 * hide); the daemons and the raw-UDP children enter their side's
 * namespace (setns) before they open a socket, so the raw UDP baseline
 * crosses the same veth.  Needs root (ip netns); torn down at exit.
 */
#include "bench.h"

int		 opt_veth;
static int	 side_now = -1;		/* this process's side; -1: none */
static char	 ns_name[2][32];
static int	 veth_up;

static const char *const side_ip[2] = { "10.77.0.1", "10.77.0.2" };

static int
run(const char *fmt, ...)
{
	char	cmd[512];
	va_list	ap;
	int	st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if ((st = system(cmd)) != 0) {
		progress("nbmqbench: failed (%d): %s\n", st, cmd);
		return -1;
	}
	return 0;
}

void
veth_teardown(void)
{
	if (!veth_up)
		return;
	veth_up = 0;
	for (int i = 0; i < 2; i++)
		(void)run("ip netns del %s 2>/dev/null", ns_name[i]);
}

int
veth_setup(void)
{
	int	pid = (int)getpid();

	for (int i = 0; i < 2; i++)
		snprintf(ns_name[i], sizeof(ns_name[i]), "nbmqb%d%c", pid,
		    'a' + i);
	veth_up = 1;
	if (run("ip netns add %s", ns_name[0]) == -1 ||
	    run("ip netns add %s", ns_name[1]) == -1 ||
	    run("ip link add nbv%da netns %s type veth peer nbv%db netns %s",
	    pid, ns_name[0], pid, ns_name[1]) == -1)
		return -1;
	for (int i = 0; i < 2; i++)
		if (run("ip -n %s addr add %s/24 dev nbv%d%c", ns_name[i],
		    side_ip[i], pid, 'a' + i) == -1 ||
		    run("ip -n %s link set nbv%d%c up", ns_name[i], pid,
		    'a' + i) == -1 ||
		    run("ip -n %s link set lo up", ns_name[i]) == -1)
			return -1;
	return 0;
}

/* This process into its side's namespace (nothing without --veth). */
void
enter_side(int side)
{
	char	path[64];
	int	fd;

	side_now = side;
	if (!opt_veth)
		return;
	snprintf(path, sizeof(path), "/run/netns/%s", ns_name[side]);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    setns(fd, CLONE_NEWNET) == -1)
		child_fail("setns %s: %s", path, strerror(errno));
	close(fd);
}

/* The address a side's sockets use: loopback without --veth. */
in_addr_t
side_addr(int side)
{
	if (!opt_veth || side < 0)
		return htonl(INADDR_LOOPBACK);
	return inet_addr(side_ip[side]);
}

/* The same as text, for nbmq_bind. */
const char *
side_text(int side)
{
	return opt_veth && side >= 0 ? side_ip[side] : "127.0.0.1";
}

int
my_side(void)
{
	return side_now;
}
