/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target for the metrics endpoint's request parser
 * (ctl/daemon/metrics_req.c): any bytes a client sends, in a heap block of
 * their exact size (the sanitizer sees a read past them).
 *
 * Invariants: the answer is one of the enum's; GET or HEAD only for a
 * request line that starts with that method and " /metrics"; a request
 * with a NUL byte or of the maximum size without a blank line is never
 * incomplete; fed one byte more at a time, as the server may read it, the
 * first complete answer is the answer for all the bytes (what follows the
 * blank line changes nothing).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/metrics_req.h"

#define MAX 4096
#define CHECK(x) do { if (!(x)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = size < MAX ? size : MAX;
	char *buf = malloc(len ? len : 1);
	enum metrics_req r, first = METRICS_REQ_INCOMPLETE;
	size_t at = 0;

	memcpy(buf, data, len);
	r = metrics_req_parse(buf, len, MAX);
	CHECK(r >= METRICS_REQ_INCOMPLETE && r <= METRICS_REQ_TOO_LARGE);
	if (r == METRICS_REQ_GET)
		CHECK(len > 13 && !memcmp(buf, "GET /metrics", 12));
	if (r == METRICS_REQ_HEAD)
		CHECK(len > 14 && !memcmp(buf, "HEAD /metrics", 13));
	if (memchr(buf, '\0', len))
		CHECK(r == METRICS_REQ_TOO_LARGE);
	if (len == MAX)
		CHECK(r != METRICS_REQ_INCOMPLETE);
	/* byte by byte, as the server may read it: the first complete answer */
	for (at = 1; at <= len && first == METRICS_REQ_INCOMPLETE; at++)
		first = metrics_req_parse(buf, at, MAX);
	if (!memchr(buf, '\0', len) && first != METRICS_REQ_INCOMPLETE && first != METRICS_REQ_TOO_LARGE)
		CHECK(r == first);	/* bytes after the blank line change nothing */
	free(buf);
	return 0;
}
