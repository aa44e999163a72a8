/* SPDX-License-Identifier: ISC */
/*
 * log.c: the daemon's logging, in the style of OpenBGPD's log.c.
 *
 * In the foreground every line goes to stderr as
 *	2024-05-01T12:00:00.123 nbmqd[4242]: warning: message
 * otherwise to the systemd journal with the line's syslog priority.
 * Levels are syslog's: a line is written when its priority is at most the
 * configured level (LOG_ERR .. LOG_DEBUG); fatal and fatalx always write,
 * at LOG_CRIT, then exit(1).  Logging never changes errno.
 */
#include <sys/uio.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "nbmqd.h"

#define LOG_LINE_MAX	2048

static int	log_level = LOG_INFO;
static int	log_to_stderr = 1;

static const char *
log_level_name(int pri)
{
	switch (pri) {
	case LOG_EMERG:
		return "emerg";
	case LOG_ALERT:
		return "alert";
	case LOG_CRIT:
		return "crit";
	case LOG_ERR:
		return "err";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void
log_init(int level, int to_stderr)
{
	log_level = level;
	log_to_stderr = to_stderr;
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

/*
 * The journal's fields of a line, read off its shape: every line about a
 * socket starts "socket NAME", about a session "socket NAME peer SESSION
 * at ADDRESS", and a session's end says "down (REASON)", so one place
 * gives journalctl NBMQ_SOCKET=events, NBMQ_SESSION=, NBMQ_PEER= and
 * NBMQ_REASON= for every line, whoever wrote it.  A field is a word: up
 * to a space or the end, less a colon that ends it (REASON: up to the
 * parenthesis); an address keeps its port ("[::1]:7000").
 */
struct log_field {
	const char	*key;		/* "socket ", " peer ", " at ", "down (" */
	const char	*name;		/* the journal's field */
	const char	*stop;		/* what ends the value */
	int		 start;		/* only at the start of the line */
};

static const struct log_field log_fields[] = {
	{ "socket ", "NBMQ_SOCKET", " ", 1 },
	{ " peer ", "NBMQ_SESSION", " ", 0 },
	{ " at ", "NBMQ_PEER", " ", 0 },
	{ ": down (", "NBMQ_REASON", ")", 0 },
};
#define LOG_NFIELDS	(sizeof(log_fields) / sizeof(log_fields[0]))

static void
log_journal(int pri, const char *msg)
{
	struct iovec	 iov[3 + LOG_NFIELDS];
	char		 f[LOG_NFIELDS][160], m[LOG_LINE_MAX + 16], p[16];
	const char	*at, *v;
	size_t		 n = 0, len;
	int		 sock = 0;

	snprintf(m, sizeof(m), "MESSAGE=%s", msg);
	snprintf(p, sizeof(p), "PRIORITY=%d", pri);
	iov[n++] = (struct iovec){ m, strlen(m) };
	iov[n++] = (struct iovec){ p, strlen(p) };
	iov[n++] = (struct iovec){ "SYSLOG_IDENTIFIER=nbmqd", 23 };
	for (size_t i = 0; i < LOG_NFIELDS; i++) {
		const struct log_field *lf = &log_fields[i];

		if (lf->start)
			at = strncmp(msg, lf->key, strlen(lf->key)) == 0 ?
			    msg : NULL;
		else if (!sock)
			continue;	/* the others only about a socket */
		else
			at = strstr(msg, lf->key);
		if (at == NULL)
			continue;
		v = at + strlen(lf->key);
		len = strcspn(v, lf->stop);
		if (len > 0 && v[len - 1] == ':')
			len--;
		if (len == 0)
			continue;
		sock = 1;
		snprintf(f[i], sizeof(f[i]), "%s=%.*s", lf->name, (int)len, v);
		iov[n++] = (struct iovec){ f[i], strlen(f[i]) };
	}
	sd_journal_sendv(iov, (int)n);
}

static void
log_emit(int pri, const char *msg)
{
	struct timespec	 ts;
	struct tm	 tm;
	char		 when[32];

	if (!log_to_stderr) {
		log_journal(pri, msg);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	if (localtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm) == 0)
		strcpy(when, "-");
	/* stderr is unbuffered: one fprintf is one write. */
	fprintf(stderr, "%s.%03ld nbmqd[%ld]: %s: %s\n", when,
	    ts.tv_nsec / 1000000, (long)getpid(), log_level_name(pri), msg);
}

/*
 * Format and write one line.  errnum > 0 appends ": strerror(errnum)".
 * Overlong lines are cut, never dropped.
 */
static void
log_vwrite(int pri, int errnum, const char *fmt, va_list ap)
{
	char	 buf[LOG_LINE_MAX];
	size_t	 n;
	int	 saved = errno;

	if (pri > log_level && pri > LOG_CRIT) {
		errno = saved;
		return;
	}
	if (fmt != NULL) {
		if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
			strcpy(buf, "(unprintable message)");
	} else
		buf[0] = '\0';
	if (errnum > 0) {
		n = strlen(buf);
		snprintf(buf + n, sizeof(buf) - n, "%s%s",
		    n > 0 ? ": " : "", strerror(errnum));
	}
	log_emit(pri, buf);
	errno = saved;
}

/* An error the daemon cannot go on with (start-up): at err, so that
 * journalctl -p err -u nbmqd shows why a start failed. */
void
log_errx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_ERR, 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;
	int	 errnum = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, errnum, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_WARNING, 0, fmt, ap);
	va_end(ap);
}

/* A state change an operator cares about (a peer up or down, a socket's
 * link): log_level = notice shows these and the warnings only. */
void
log_notice(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_NOTICE, 0, fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_INFO, 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_DEBUG, 0, fmt, ap);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;
	int	 errnum = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, errnum, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vwrite(LOG_CRIT, 0, fmt, ap);
	va_end(ap);
	exit(1);
}

/*
 * A warning that an attacker can repeat (a refused connection, accept
 * failing for want of descriptors): at most one line a second per rl,
 * and the next line written says how many were suppressed meanwhile
 * (issue 15: 610,700 lines in 5 s without this).
 */
void
log_warnx_rl(struct log_rl *rl, const char *fmt, ...)
{
	struct timespec	 ts;
	va_list		 ap;
	char		 buf[LOG_LINE_MAX];
	int		 saved = errno;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (rl->logged && ts.tv_sec == rl->sec) {
		rl->suppressed++;
		errno = saved;
		return;
	}
	va_start(ap, fmt);
	if (vsnprintf(buf, sizeof(buf), fmt, ap) < 0)
		strcpy(buf, "(unprintable message)");
	va_end(ap);
	if (rl->suppressed > 0)
		log_warnx("%s (%llu more like it suppressed)", buf,
		    (unsigned long long)rl->suppressed);
	else
		log_warnx("%s", buf);
	rl->logged = 1;
	rl->sec = ts.tv_sec;
	rl->suppressed = 0;
	errno = saved;
}
