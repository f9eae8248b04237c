/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * libFuzzer target for the NAT log's line rendering
 * (ctl/daemon/flowlog_fmt.c): whatever the data path's ring hands over.
 *
 * Input format:
 *   bytes 0..sizeof(struct nat_flow_event)-1   the event, as read from the ring
 *   next 8 bytes                                CLOCK_REALTIME ns
 *   next 8 bytes                                duration ns (signed)
 *   next byte                                   output buffer size (0-255)
 *   the rest                                    the WAN's name (cut at 15 bytes)
 * Buffers sit in heap blocks of their exact size, so the sanitizer sees
 * any access outside them.
 *
 * Invariants: a line that is rendered (length >= 0) is NUL-terminated at
 * that length inside the buffer, starts with {"time":" and ends with }, and
 * has balanced quotes outside escapes; one that does not fit returns -1.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "daemon/flowlog_fmt.h"

static void check_line(const char *s, int n)
{
	int quotes = 0;

	if ((int)strlen(s) != n || n < 12 || memcmp(s, "{\"time\":\"", 9) || s[n - 1] != '}')
		abort();
	for (int i = 0; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '"')
			quotes++;
	}
	if (quotes % 2)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nat_flow_event ev;
	uint64_t real_ns;
	int64_t dur;
	size_t len, nlen;
	char name[16], wan[64], *buf;
	int n;

	if (size < sizeof(ev) + 17)
		return 0;
	memcpy(&ev, data, sizeof(ev));
	memcpy(&real_ns, data + sizeof(ev), 8);
	memcpy(&dur, data + sizeof(ev) + 8, 8);
	real_ns %= 253402300800ULL * 1000000000ULL;	/* up to year 9999 */
	len = data[sizeof(ev) + 16];
	nlen = size - sizeof(ev) - 17;
	nlen = nlen > 15 ? 15 : nlen;
	memcpy(name, data + sizeof(ev) + 17, nlen);
	name[nlen] = '\0';
	if (flowlog_json_string(name, wan, sizeof(wan)) < 0)
		return 0;

	buf = malloc(len ? len : 1);
	if (!buf)
		return 0;
	n = flowlog_format(&ev, real_ns, wan, dur, buf, len);
	if (n >= 0) {
		if ((size_t)n >= len)
			abort();
		check_line(buf, n);
	}
	free(buf);
	buf = malloc(512);
	if (buf) {
		n = flowlog_format(&ev, real_ns, wan, dur, buf, 512);
		if (n >= 0)
			check_line(buf, n);
		free(buf);
	}
	return 0;
}
