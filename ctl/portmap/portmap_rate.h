/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * portmap_rate.h - how many PCP/NAT-PMP requests the daemon serves: a
 * token bucket per source address (a small table; a new source takes the
 * slot of the one idle longest) and one for everybody, so a host that
 * floods requests costs the event loop a bounded share of its time and
 * cannot crowd out the others. A request over either limit is dropped
 * unanswered and counted. Times in milliseconds of the caller's clock.
 */
#ifndef XDPNAT_PORTMAP_RATE_H
#define XDPNAT_PORTMAP_RATE_H

#include <stdbool.h>
#include <stdint.h>

#define PORTMAP_RATE_HOSTS	64
#define PORTMAP_RATE_HOST	10	/* requests a second per source */
#define PORTMAP_BURST_HOST	20
#define PORTMAP_RATE_ALL	200	/* requests a second, all sources */
#define PORTMAP_BURST_ALL	400

struct portmap_bucket {
	uint32_t addr;			/* network order; 0 = free slot */
	uint32_t tokens_milli;		/* tokens * 1000 */
	uint64_t last_ms;
};

struct portmap_rate {
	struct portmap_bucket host[PORTMAP_RATE_HOSTS];
	struct portmap_bucket all;
};

void portmap_rate_init(struct portmap_rate *r, uint64_t now_ms);

/* May a request from `addr` be served now? Takes a token if so. */
bool portmap_rate_allow(struct portmap_rate *r, uint32_t addr, uint64_t now_ms);

#endif /* XDPNAT_PORTMAP_RATE_H */
