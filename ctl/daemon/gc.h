/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gc.h - the controller's garbage collector: every expiry of every map.
 * nat_ct (idle flows and orphaned halves), nat_expect (expired, or their
 * control flow gone), nat_gate (no session and past the linger time),
 * nat_alg and nat_alg_state (their flow gone). The data path never deletes these; this does,
 * once a second.
 *
 * Every function takes map fds and an explicit `now` (CLOCK_MONOTONIC ns,
 * the clock of bpf_ktime_get_ns) so tests can drive it with maps they made
 * themselves and a time they chose.
 */
#ifndef XDPNAT_GC_H
#define XDPNAT_GC_H

#include <stdint.h>
#include "xdpnat.h"
#include "common/maps.h"

struct gc_result {
	uint64_t flows_expired;		/* ORIG entries (whole flows) deleted */
	uint64_t orphans_deleted;	/* REPLY/HAIRPIN_EGRESS entries without ORIG */
	uint64_t expects_expired;
	uint64_t gates_expired;
	uint64_t algs_deleted;		/* nat_alg entries whose flow is gone */
	uint64_t alg_states_deleted;	/* nat_alg_state entries whose flow is gone */
	uint64_t ct_entries;		/* nat_ct entries read */
};

/* Entries a full pass may read per second of the daemon's time: a larger
 * table is walked less often (every ct_entries / GC_ENTRIES_PER_SEC s), so
 * the collector's cost stays bounded however many flows there are. */
#define GC_ENTRIES_PER_SEC	50000

/* One pass over every map (fds -1 in `maps` are skipped, except ct,
 * config and ctl_stats). Adds flows_expired to nat_ctl_stats.ct_expired
 * and 1 to gc_runs. Returns 0, or -errno if a map could not be read. */
int gc_run(const struct nat_maps *maps, uint64_t now_ns, struct gc_result *res);

/* Idle timeout in seconds for a flow of `proto` in `state`. */
uint32_t gc_flow_timeout(const struct nat_config *cfg, uint8_t proto, uint8_t state);

#endif /* XDPNAT_GC_H */
