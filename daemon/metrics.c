/* SPDX-License-Identifier: ISC */
/*
 * metrics.c: GET /metrics on [daemon] metrics_listen (off by default), in
 * the Prometheus text exposition format, or OpenMetrics when the scraper
 * asks for it (Accept: application/openmetrics-text); libevent's own HTTP
 * server, no new dependency.  ctl_metrics() writes the text (promtext.c).
 *
 * A scrape is answered whole in one pass of the event loop, O(sockets)
 * (and O(peers) with metrics_peers): it never waits for the data path,
 * nor the data path for it.  The text is rendered at most once a second
 * and shared: every answer references the same copy, so a thousand slow
 * or hostile readers hold one text between them, plus each connection's
 * own few kilobytes (8 KiB of headers at most, no body) and a kernel send
 * buffer of METRICS_SNDBUF; evhttp closes a connection idle or stalled for
 * METRICS_TIMEOUT seconds.  Only GET and
 * HEAD, only /metrics.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "shell.h"

#define METRICS_TIMEOUT		10	/* seconds, idle or slow */
#define METRICS_HEADERS		8192	/* bytes of request headers */
#define METRICS_SNDBUF		65536	/* kernel send buffer, per connection */
#define METRICS_FRESH		(1 * NSEC)	/* a text serves this long */

/*
 * One rendered text, shared by every answer that carries it: evbuffer
 * references, counted, so that many slow readers hold one copy.
 */
struct mtext {
	char		*text;
	size_t		 len;
	int		 refs;		/* answers holding it, and cache[] */
	nbmq_time	 at;
};

static struct evhttp	*http;
static struct mtext	*cache[2];	/* Prometheus text, OpenMetrics */
static uint64_t		 nscrapes;

static void
mtext_unref(struct mtext *m)
{
	if (m != NULL && --m->refs == 0) {
		free(m->text);
		free(m);
	}
}

static void
mtext_done(const void *data, size_t len, void *arg)
{
	mtext_unref(arg);
}

/* The current text of that format: rendered at most once a second. */
static struct mtext *
mtext_get(int om)
{
	struct mtext	*m = cache[om];
	nbmq_time	 now = daemon_now();
	FILE		*f;

	if (m != NULL && now - m->at < METRICS_FRESH)
		return m;
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	if ((f = open_memstream(&m->text, &m->len)) == NULL ||
	    ctl_metrics(f, om, nbmqd->conf->metrics_peers) == -1 ||
	    fclose(f) == EOF) {
		free(m->text);
		free(m);
		return NULL;
	}
	m->at = now;
	m->refs = 1;
	mtext_unref(cache[om]);
	cache[om] = m;
	return m;
}

static void
metrics_reply_text(struct evhttp_request *req, int code, const char *why,
    const char *text)
{
	struct evbuffer	*b = evbuffer_new();

	if (b != NULL)
		evbuffer_add_printf(b, "%s\n", text);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; charset=utf-8");
	evhttp_send_reply(req, code, why, b);
	if (b != NULL)
		evbuffer_free(b);
}

/* Does the scraper take OpenMetrics? (Prometheus asks for it first.) */
static int
metrics_wants_om(struct evhttp_request *req)
{
	const char	*a = evhttp_find_header(
			    evhttp_request_get_input_headers(req), "Accept");

	return a != NULL && strstr(a, "application/openmetrics-text") != NULL;
}

static void
metrics_cb(struct evhttp_request *req, void *arg)
{
	const char	*path = evhttp_uri_get_path(
			    evhttp_request_get_evhttp_uri(req));
	struct evbuffer	*b;
	struct mtext	*m;
	int		 om = metrics_wants_om(req);

	if (path == NULL || strcmp(path, "/metrics") != 0) {
		metrics_reply_text(req, HTTP_NOTFOUND, "Not Found",
		    "nbmqd serves /metrics only");
		return;
	}
	if ((m = mtext_get(om)) == NULL || (b = evbuffer_new()) == NULL) {
		metrics_reply_text(req, HTTP_INTERNAL, "Internal Server Error",
		    "out of memory");
		return;
	}
	m->refs++;
	if (evbuffer_add_reference(b, m->text, m->len, mtext_done, m) != 0)
		m->refs--;
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", om ? "application/openmetrics-text; "
	    "version=1.0.0; charset=utf-8" :
	    "text/plain; version=0.0.4; charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
	nscrapes++;
}

/*
 * Start serving on addr (numeric "host:port" or "[v6]:port"); 0, or -1
 * with the failing call logged at err (start-up stops).
 */
int
metrics_listen(const char *addr)
{
	struct nbaddr	 a;
	uint16_t	 port;
	const char	*call;
	int		 fd;

	if (addr == NULL)
		return 0;
	if (addr_parse(addr, &a, NULL, 0, &port) != 0) {
		log_errx("metrics_listen %s: expected a numeric host:port",
		    addr);
		return -1;
	}
	/* The send buffer fixed: connections inherit it, so a stalled
	 * reader holds at most that much of the kernel's memory. */
	if ((fd = daemon_listen(&a.u.sa, a.len, 64, METRICS_SNDBUF,
	    &call)) == -1) {
		log_errx("metrics_listen %s: %s: %s", addr, call,
		    strerror(errno));
		return -1;
	}
	if ((http = evhttp_new(nbmqd->base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(http, METRICS_HEADERS);
	evhttp_set_max_body_size(http, 0);
	evhttp_set_timeout(http, METRICS_TIMEOUT);
	evhttp_set_gencb(http, metrics_cb, NULL);
	if (evhttp_accept_socket(http, fd) != 0)
		fatalx("evhttp_accept_socket");
	log_info("metrics on http://%s/metrics", addr);
	return 0;
}

void
metrics_shutdown(void)
{
	if (http != NULL)
		evhttp_free(http);
	http = NULL;
	for (int i = 0; i < 2; i++) {
		mtext_unref(cache[i]);
		cache[i] = NULL;
	}
}
