/* SPDX-License-Identifier: ISC */
/* addr.c: "host:port" parsing and socket address helpers. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nbmqd.h"

static int
addr_parse_port(const char *s, uint16_t *port)
{
	char		*end;
	unsigned long	 v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
addr_parse(const char *text, struct nbaddr *a, char *host, size_t hostlen,
    uint16_t *portp)
{
	char		 buf[NBMQ_IPC_MAX_STRING];
	const char	*h, *p;
	char		*colon;
	uint16_t	 port;

	if (strlen(text) >= sizeof(buf))
		return -1;
	strcpy(buf, text);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		*close = '\0';
		h = buf + 1;
		p = close + 2;
	} else {
		colon = strrchr(buf, ':');
		if (colon == NULL)
			return -1;
		*colon = '\0';
		h = buf;
		p = colon + 1;
		if (strchr(h, ':') != NULL)	/* bare IPv6 needs brackets */
			return -1;
	}
	if (*h == '\0' || addr_parse_port(p, &port) == -1)
		return -1;

	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, h, &a->u.sin.sin_addr) == 1) {
		a->u.sin.sin_family = AF_INET;
		a->u.sin.sin_port = htons(port);
		a->len = sizeof(a->u.sin);
		return 0;
	}
	if (inet_pton(AF_INET6, h, &a->u.sin6.sin6_addr) == 1) {
		a->u.sin6.sin6_family = AF_INET6;
		a->u.sin6.sin6_port = htons(port);
		a->len = sizeof(a->u.sin6);
		return 0;
	}
	if (buf[0] == '[' || strlen(h) >= hostlen || host == NULL)
		return -1;
	/* A host name: letters, digits, dots, dashes. */
	for (const char *c = h; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' ||
		    *c == '_'))
			return -1;
	strcpy(host, h);
	*portp = port;
	return 1;
}

int
addr_eq(const struct nbaddr *a, const struct nbaddr *b)
{
	if (a->u.sa.sa_family != b->u.sa.sa_family)
		return 0;
	if (a->u.sa.sa_family == AF_INET)
		return a->u.sin.sin_port == b->u.sin.sin_port &&
		    a->u.sin.sin_addr.s_addr == b->u.sin.sin_addr.s_addr;
	if (a->u.sa.sa_family == AF_INET6)
		return a->u.sin6.sin6_port == b->u.sin6.sin6_port &&
		    memcmp(&a->u.sin6.sin6_addr, &b->u.sin6.sin6_addr, 16) == 0;
	return 0;
}

uint64_t
addr_hash(const struct nbaddr *a)
{
	if (a->u.sa.sa_family == AF_INET) {
		uint8_t k[6];

		memcpy(k, &a->u.sin.sin_addr, 4);
		memcpy(k + 4, &a->u.sin.sin_port, 2);
		return fnv1a64(k, sizeof(k));
	}
	if (a->u.sa.sa_family == AF_INET6) {
		uint8_t k[18];

		memcpy(k, &a->u.sin6.sin6_addr, 16);
		memcpy(k + 16, &a->u.sin6.sin6_port, 2);
		return fnv1a64(k, sizeof(k));
	}
	return 0;
}

void
addr_fmt(const struct nbaddr *a, char *buf, size_t len)
{
	char	host[INET6_ADDRSTRLEN];

	if (a->u.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->u.sin.sin_addr, host, sizeof(host));
		snprintf(buf, len, "%s:%u", host, ntohs(a->u.sin.sin_port));
	} else if (a->u.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->u.sin6.sin6_addr, host, sizeof(host));
		snprintf(buf, len, "[%s]:%u", host, ntohs(a->u.sin6.sin6_port));
	} else
		snprintf(buf, len, "(none)");
}

const char *
addr_str(const struct nbaddr *a)
{
	static char	buf[INET6_ADDRSTRLEN + 10];

	addr_fmt(a, buf, sizeof(buf));
	return buf;
}
