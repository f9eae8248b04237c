/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * metrics_http.h - the smallest HTTP server that serves GET /metrics, in a
 * thread of its own, with hard bounds so that no client can hold it:
 *  - at most METRICS_HTTP_CONNS connections at once (one more is accepted
 *    and closed at once);
 *  - a request (line and headers) of at most METRICS_HTTP_REQ_MAX bytes;
 *  - METRICS_HTTP_TIMEOUT_MS to send the request, as much again to read
 *    the answer; then the connection is closed, whatever it is doing;
 *  - one request per connection (Connection: close), no body read.
 * Anything else than GET or HEAD of /metrics gets 404 or 405.
 */
#ifndef XDPNAT_METRICS_HTTP_H
#define XDPNAT_METRICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "config/config.h"

#define METRICS_HTTP_CONNS	8
#define METRICS_HTTP_REQ_MAX	4096
#define METRICS_HTTP_TIMEOUT_MS	2000

/*
 * The listening socket for cfg->metrics, after the checks the file alone
 * cannot make: the address must be one of this host's (bind() says so),
 * and not the address of a configured `wan` unless the line says
 * allow-wan. Errors go to err as "FILE:LINE: metrics: ..." (also NULL).
 * Returns the socket, or -1.
 */
int metrics_http_listen(const struct xdpnat_config *cfg, FILE *err);

/*
 * The same checks for `xdpnat check`, without keeping the socket. An
 * address in use is fine when the running daemon of this run-dir is the
 * one serving it (its status.json says so). 0 = fine, -1 = reported.
 */
int metrics_http_check(const struct xdpnat_config *cfg, FILE *err);

/* "A.B.C.D:PORT" of the configured endpoint. */
void metrics_http_addr(const struct cfg_metrics *m, char *buf, size_t size);

/* One scrape: *body (malloc'ed, the caller frees it) and *len. 0 or -1. */
typedef int (*metrics_http_fn)(void *arg, char **body, size_t *len);

struct metrics_http;

/* Serve listen_fd (owned from now on) in a new thread; NULL on failure
 * (logged; the socket is closed). */
struct metrics_http *metrics_http_start(int listen_fd, metrics_http_fn fn, void *arg);

/* Stop the thread, close every socket, free h. NULL is fine. */
void metrics_http_stop(struct metrics_http *h);

#endif /* XDPNAT_METRICS_HTTP_H */
