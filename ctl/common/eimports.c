/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* eimports.c - nat_eim_ports from the controller (see eimports.h). */
#include <errno.h>
#include <netinet/in.h>
#include "common/eimports.h"

static const uint8_t protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };

static uint64_t *word_at(const struct nat_maps *m, uint32_t table, uint8_t proto, uint16_t port)
{
	int64_t i = nat_eim_port_index(table, proto, port);

	return i < 0 ? NULL : (uint64_t *)&m->ports[i];
}

static uint64_t load(const uint64_t *w)
{
	return __atomic_load_n(w, __ATOMIC_ACQUIRE);
}

/* A word as the element it is (nat_eim_port_word()'s other way). */
static struct nat_eim_port port_of(uint64_t w)
{
	struct nat_eim_port e;

	__builtin_memcpy(&e, &w, sizeof(e));
	return e;
}

static bool swap(uint64_t *w, uint64_t old, uint64_t want)
{
	return __atomic_compare_exchange_n(w, &old, want, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_RELAXED);
}

int eimports_bind(const struct nat_maps *m, uint32_t table, uint32_t ifindex)
{
	uint64_t *h, bound = nat_eim_port_word(ifindex, 0, 0), was;

	if (!m->ports)
		return -ENODEV;
	if (table >= m->port_tables)
		return -ENOSPC;
	h = word_at(m, table, IPPROTO_TCP, 0);
	was = load(h);
	if (was == bound)
		return 0;
	/* unbound first: the data path leaves the table alone while it is
	 * cleared (a claim under way may still land: the GC frees it) */
	__atomic_store_n(h, 0, __ATOMIC_SEQ_CST);
	for (uint32_t i = 1; i < NAT_EIM_PORT_TABLE; i++)
		__atomic_store_n(h + i, 0, __ATOMIC_RELAXED);
	__atomic_store_n(h, bound, __ATOMIC_SEQ_CST);
	return was ? 1 : 2;
}

int eimports_table(const struct nat_maps *m, uint32_t ifindex)
{
	uint64_t bound = nat_eim_port_word(ifindex, 0, 0);

	for (uint32_t t = 0; m->ports && t < m->port_tables; t++)
		if (load(word_at(m, t, IPPROTO_TCP, 0)) == bound)
			return (int)t;
	return -1;
}

bool eimports_stale(uint16_t stamp, uint64_t pass_start)
{
	return (uint16_t)(stamp - nat_eim_stamp(pass_start)) >= NAT_EIM_STAMP_AHEAD;
}

void eimports_keep(const struct nat_maps *m, uint32_t ifindex, uint8_t proto, uint16_t port,
		   __be32 addr, __be16 iport, uint64_t pass_start, uint64_t now)
{
	int t = port ? eimports_table(m, ifindex) : -1;
	uint64_t *w = t < 0 ? NULL : word_at(m, (uint32_t)t, proto, port);
	uint64_t want = nat_eim_port_word(addr, iport, nat_eim_stamp(now)), old;

	if (!w)
		return;
	for (int i = 0; i < 3; i++) {
		old = load(w);
		if (old && nat_eim_port_owner(old) != nat_eim_port_owner(want))
			return;	/* another endpoint's: a port for this destination only */
		if (old && !eimports_stale(port_of(old).stamp, pass_start))
			return;
		if (swap(w, old, want))
			return;
	}
}

/* An inside endpoint in the form nat_eim_port_owner() gives a word's. */
static uint64_t owner_of(__be32 addr, __be16 iport)
{
	return nat_eim_port_owner(nat_eim_port_word(addr, iport, 0));
}

bool eimports_held_by_other(const struct nat_maps *m, uint32_t ifindex, uint8_t proto,
			    uint16_t port, __be32 addr, __be16 iport)
{
	int t = port ? eimports_table(m, ifindex) : -1;
	uint64_t *w = t < 0 ? NULL : word_at(m, (uint32_t)t, proto, port);
	uint64_t owner = w ? nat_eim_port_owner(load(w)) : 0;

	return owner && owner != owner_of(addr, iport);
}

uint16_t eimports_port_of(const struct nat_maps *m, uint32_t ifindex, uint8_t proto,
			  __be32 addr, __be16 iport)
{
	uint64_t want = owner_of(addr, iport);
	int t = addr ? eimports_table(m, ifindex) : -1;

	for (uint32_t port = 1; t >= 0 && port <= 0xffff; port++) {
		uint64_t *w = word_at(m, (uint32_t)t, proto, (uint16_t)port);

		if (w && nat_eim_port_owner(load(w)) == want)
			return (uint16_t)port;
	}
	return 0;
}

/* Every taken element of every bound table: fn(ifindex, proto, port,
 * its word, what it held when read, ctx). */
typedef void (*walk_fn)(uint32_t ifindex, uint8_t proto, uint16_t port, uint64_t *w,
			uint64_t old, void *ctx);

static void walk(const struct nat_maps *m, walk_fn fn, void *ctx)
{
	for (uint32_t t = 0; m->ports && t < m->port_tables; t++) {
		uint32_t ifindex = m->ports[t * NAT_EIM_PORT_TABLE].addr;

		if (!ifindex)
			continue;
		for (unsigned r = 0; r < sizeof(protos); r++)
			for (uint32_t port = 1; port <= 0xffff; port++) {
				uint64_t *w = word_at(m, t, protos[r], (uint16_t)port), old = load(w);

				if (old)
					fn(ifindex, protos[r], (uint16_t)port, w, old, ctx);
			}
	}
}

struct sweep_ctx {
	uint64_t pass_start;
	eimports_keep_fn keep;
	void *ctx;
	long freed;
};

static void sweep_one(uint32_t ifindex, uint8_t proto, uint16_t port, uint64_t *w, uint64_t old,
		      void *ctx)
{
	struct sweep_ctx *x = ctx;
	struct nat_eim_port e = port_of(old);

	if (!eimports_stale(e.stamp, x->pass_start) ||
	    (x->keep && x->keep(ifindex, proto, port, &e, x->ctx)))
		return;
	x->freed += swap(w, old, 0);
}

long eimports_sweep(const struct nat_maps *m, uint64_t pass_start, eimports_keep_fn keep,
		    void *ctx)
{
	struct sweep_ctx x = { .pass_start = pass_start, .keep = keep, .ctx = ctx };

	walk(m, sweep_one, &x);
	return x.freed;
}

struct each_ctx {
	eimports_each_fn fn;
	void *ctx;
};

static void each_one(uint32_t ifindex, uint8_t proto, uint16_t port, uint64_t *w, uint64_t old,
		     void *ctx)
{
	struct each_ctx *x = ctx;
	struct nat_eim_port e = port_of(old);

	(void)w;
	x->fn(ifindex, proto, port, &e, x->ctx);
}

void eimports_each(const struct nat_maps *m, eimports_each_fn fn, void *ctx)
{
	struct each_ctx x = { .fn = fn, .ctx = ctx };

	walk(m, each_one, &x);
}
