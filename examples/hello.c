/* SPDX-License-Identifier: ISC */
/*
 * hello.c: the README's example.  Two dealer sockets in the daemon, one
 * bound and one connected to it; a two-part message goes across, and the
 * receiver waits for it with poll() on nbmq_fd() as an event loop would.
 *
 *   cc hello.c $(pkg-config --cflags --libs nbmq) -o hello
 *   NBMQ_SOCKET=/path/to/nbmqd.sock ./hello
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <nbmq.h>

static int
die(const char *what)
{
	fprintf(stderr, "hello: %s: %s\n", what, nbmq_strerror(errno));
	return 1;
}

int
main(void)
{
	nbmq_ctx	*ctx = nbmq_ctx_new(NULL);	/* $NBMQ_SOCKET */
	nbmq_socket	*srv, *cli;
	nbmq_msg	*msg;
	char		 ep[128];
	struct iovec	 parts[2] = {
		{ "greeting", 8 },
		{ "hello, world", 12 },
	};
	struct pollfd	 pfd;
	int64_t		 peers = 0;

	if ((srv = nbmq_socket_new(ctx, NBMQ_DEALER)) == NULL)
		return die("socket");
	if (nbmq_bind(srv, "127.0.0.1:0") == -1 ||
	    nbmq_last_endpoint(srv, ep, sizeof(ep)) == -1)
		return die("bind");
	if ((cli = nbmq_socket_new(ctx, NBMQ_DEALER)) == NULL)
		return die("socket");
	if (nbmq_connect(cli, ep) == -1)
		return die("connect");

	/* Blocking send: waits for the handshake (up to 5 s). */
	nbmq_setopt(cli, NBMQ_OPT_SNDTIMEO, 5000);
	if (nbmq_sendv(cli, parts, 2, 0, 0) == -1)
		return die("send");

	/* The event-loop way: poll the fd, then drain with DONTWAIT. */
	pfd.fd = nbmq_fd(srv);
	pfd.events = POLLIN;
	for (;;) {
		if (nbmq_recv(srv, &msg, NBMQ_DONTWAIT) == 0)
			break;
		if (errno != EAGAIN)
			return die("recv");
		if (poll(&pfd, 1, 5000) == 0) {
			fprintf(stderr, "hello: nothing arrived\n");
			return 1;
		}
	}
	for (size_t i = 0; i < nbmq_msg_parts(msg); i++) {
		size_t		 len;
		const char	*p = nbmq_msg_part(msg, i, &len);

		printf("part %zu: %.*s\n", i, (int)len, p);
	}
	printf("from peer %016llx via %s\n",
	    (unsigned long long)nbmq_msg_peer(msg), ep);
	nbmq_getopt(srv, NBMQ_OPT_PEERS, &peers);
	nbmq_msg_free(msg);
	nbmq_close(cli);
	nbmq_close(srv);
	nbmq_ctx_destroy(ctx);
	return peers == 1 ? 0 : 1;
}
