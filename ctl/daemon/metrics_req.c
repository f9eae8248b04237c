/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* metrics_req.c - see metrics_req.h. */
#include <string.h>
#include "daemon/metrics_req.h"

/* Where the headers end ("\r\n\r\n" or a bare "\n\n"), or NULL. */
static const char *blank_line(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (buf[i + 1] == '\n' || (buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n'))
			return buf + i;
	}
	return NULL;
}

enum metrics_req metrics_req_parse(const char *buf, size_t len, size_t max)
{
	const char *end, *sp1, *path, *eol;
	size_t mlen, plen;

	if (memchr(buf, '\0', len))
		return METRICS_REQ_TOO_LARGE;
	end = blank_line(buf, len);
	if (!end)
		return len >= max ? METRICS_REQ_TOO_LARGE : METRICS_REQ_INCOMPLETE;
	eol = memchr(buf, '\n', (size_t)(end - buf) + 1);	/* the request line's end */
	sp1 = memchr(buf, ' ', (size_t)(eol - buf));
	if (!sp1 || sp1 == buf || !memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1)))
		return METRICS_REQ_BAD;
	mlen = (size_t)(sp1 - buf);
	path = sp1 + 1;
	plen = strcspn(path, "? \r\n");
	if (plen != 8 || memcmp(path, "/metrics", 8))
		return METRICS_REQ_NOT_FOUND;
	if (mlen == 3 && !memcmp(buf, "GET", 3))
		return METRICS_REQ_GET;
	if (mlen == 4 && !memcmp(buf, "HEAD", 4))
		return METRICS_REQ_HEAD;
	return METRICS_REQ_METHOD;
}

const char *metrics_req_status(enum metrics_req r)
{
	switch (r) {
	case METRICS_REQ_GET:
	case METRICS_REQ_HEAD:
		return "200 OK";
	case METRICS_REQ_NOT_FOUND:
		return "404 Not Found";
	case METRICS_REQ_METHOD:
		return "405 Method Not Allowed";
	case METRICS_REQ_TOO_LARGE:
		return "431 Request Header Fields Too Large";
	default:
		return "400 Bad Request";
	}
}
