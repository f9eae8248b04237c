/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* portmap_rate.c - token buckets for PCP/NAT-PMP requests (see portmap_rate.h). */
#include <string.h>
#include "portmap/portmap_rate.h"

static void refill(struct portmap_bucket *b, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
	uint64_t add = now_ms > b->last_ms ? (now_ms - b->last_ms) * rate : 0;
	uint64_t t = b->tokens_milli + add;

	b->tokens_milli = (uint32_t)(t > (uint64_t)burst * 1000 ? (uint64_t)burst * 1000 : t);
	if (now_ms > b->last_ms)
		b->last_ms = now_ms;
}

static bool take(struct portmap_bucket *b)
{
	if (b->tokens_milli < 1000)
		return false;
	b->tokens_milli -= 1000;
	return true;
}

void portmap_rate_init(struct portmap_rate *r, uint64_t now_ms)
{
	memset(r, 0, sizeof(*r));
	r->all.tokens_milli = PORTMAP_BURST_ALL * 1000;
	r->all.last_ms = now_ms;
}

static struct portmap_bucket *host_bucket(struct portmap_rate *r, uint32_t addr, uint64_t now_ms)
{
	struct portmap_bucket *oldest = &r->host[0];

	for (int i = 0; i < PORTMAP_RATE_HOSTS; i++) {
		if (r->host[i].addr == addr)
			return &r->host[i];
		if (r->host[i].last_ms < oldest->last_ms)
			oldest = &r->host[i];
	}
	oldest->addr = addr;
	oldest->tokens_milli = PORTMAP_BURST_HOST * 1000;
	oldest->last_ms = now_ms;
	return oldest;
}

bool portmap_rate_allow(struct portmap_rate *r, uint32_t addr, uint64_t now_ms)
{
	struct portmap_bucket *h = host_bucket(r, addr, now_ms);

	refill(h, PORTMAP_RATE_HOST, PORTMAP_BURST_HOST, now_ms);
	refill(&r->all, PORTMAP_RATE_ALL, PORTMAP_BURST_ALL, now_ms);
	if (h->tokens_milli < 1000)
		return false;
	if (!take(&r->all))
		return false;
	return take(h);
}
