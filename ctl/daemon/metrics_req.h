/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * metrics_req.h - what the metrics endpoint makes of the bytes a client
 * sent so far: the pure part of daemon/metrics_http.c, apart from the
 * sockets so that it is unit-tested and fuzzed (tests/fuzz/fuzz_metrics_req.c).
 *
 * Only the request line is looked at ("METHOD PATH VERSION"); headers are
 * skipped up to the blank line, a body is never read.
 */
#ifndef XDPNAT_METRICS_REQ_H
#define XDPNAT_METRICS_REQ_H

#include <stddef.h>

enum metrics_req {
	METRICS_REQ_INCOMPLETE,		/* no blank line yet, and room left */
	METRICS_REQ_GET,		/* GET /metrics (a query string is ignored) */
	METRICS_REQ_HEAD,		/* HEAD /metrics */
	METRICS_REQ_BAD,		/* 400: no request line */
	METRICS_REQ_NOT_FOUND,		/* 404: another path */
	METRICS_REQ_METHOD,		/* 405: /metrics with another method */
	METRICS_REQ_TOO_LARGE,		/* 431: max bytes without a blank line, or a NUL */
};

/* The first len bytes of a request (any bytes); max is the most the
 * server reads. */
enum metrics_req metrics_req_parse(const char *buf, size_t len, size_t max);

/* "200 OK", "404 Not Found", ... for a complete request. */
const char *metrics_req_status(enum metrics_req r);

#endif /* XDPNAT_METRICS_REQ_H */
