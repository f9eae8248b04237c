/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gc.h - the controller's garbage collector for nat_ct, nat_expect and
 * nat_gate. The data path never deletes flows; this does, once a second.
 *
 * Every function takes map fds and an explicit `now` (CLOCK_MONOTONIC ns,
 * the clock of bpf_ktime_get_ns) so tests can drive it with maps they made
 * themselves and a time they chose.
 */
#ifndef XDPNAT_GC_H
#define XDPNAT_GC_H

#include <stdint.h>
#include "xdpnat.h"

struct gc_maps {
	int ct;				/* nat_ct */
	int config;			/* nat_config, read on every pass */
	int ctl_stats;			/* nat_ctl_stats, counters added */
	int expect;			/* nat_expect, -1 to skip */
	int gate;			/* nat_gate, -1 to skip */
	int alg;			/* nat_alg, -1 to skip */
};

struct gc_result {
	uint64_t flows_expired;		/* ORIG entries (whole flows) deleted */
	uint64_t orphans_deleted;	/* REPLY/HAIRPIN_EGRESS entries without ORIG */
	uint64_t expects_expired;
	uint64_t gates_expired;
	uint64_t algs_deleted;		/* nat_alg entries whose flow is gone */
	uint64_t ct_entries;		/* nat_ct entries read */
};

/* Entries a full pass may read per second of the daemon's time: a larger
 * table is walked less often (every ct_entries / GC_ENTRIES_PER_SEC s), so
 * the collector's cost stays bounded however many flows there are. */
#define GC_ENTRIES_PER_SEC	50000

/* One pass over every map. Adds flows_expired to nat_ctl_stats.ct_expired
 * and 1 to gc_runs. Returns 0, or -errno if a map could not be read. */
int gc_run(const struct gc_maps *maps, uint64_t now_ns, struct gc_result *res);

/* Idle timeout in seconds for a flow of `proto` in `state`. */
uint32_t gc_flow_timeout(const struct nat_config *cfg, uint8_t proto, uint8_t state);

/* The key of the other direction: reverse of this entry's translated tuple. */
void gc_reverse_key(const struct nat_ct_value *v, uint8_t proto, struct nat_ct_key *out);

/* The tc-egress key of a hairpin flow, from its ORIG entry. */
/* The same tuple seen from the other side (addresses and ports swapped). */
void gc_key_reverse(const struct nat_ct_key *k, struct nat_ct_key *out);
/* A hairpin flow's half-translated tuple on LAN egress, original direction;
 * the reply direction's is its reverse. */
void gc_hairpin_egress_key(const struct nat_ct_key *orig, const struct nat_ct_value *v,
			   struct nat_ct_key *out);

/* CLOCK_MONOTONIC in ns, the clock the data path stamps last_seen with. */
uint64_t gc_now_ns(void);

#endif /* XDPNAT_GC_H */
