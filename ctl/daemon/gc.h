/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gc.h - the controller's garbage collector: every expiry of every map.
 * nat_ct (idle flows and orphaned halves), nat_expect (expired, or their
 * control flow gone), nat_gate (no session and past the linger time),
 * nat_alg and nat_alg_state (their flow gone). The data path never deletes these; this does,
 * once a second; and it rebuilds nat_udp_keyed once a pass (udpkeyed.h).
 *
 * Every function takes map fds and an explicit `now` (CLOCK_MONOTONIC ns,
 * the clock of bpf_ktime_get_ns) so tests can drive it with maps they made
 * themselves and a time they chose.
 */
#ifndef XDPNAT_GC_H
#define XDPNAT_GC_H

#include <stdbool.h>
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
	uint64_t eim_expired;		/* endpoint-independent mappings removed */
};

/* Entries of nat_ct the daemon's GC reads per second (one step a
 * second): a table of N entries is walked once every N / GC_ENTRIES_PER_SEC
 * seconds, and its cost per second stays the same however many flows
 * there are. */
#define GC_ENTRIES_PER_SEC	50000

/* Where the walk of nat_ct stands between steps. Zero = not started. */
struct gc_cursor {
	bool started;
	uint64_t pass_start;		/* now, when the pass began (nat_eim's mark) */
	__u32 slot;			/* the next slot of nat_ct to read */
	uint64_t live;			/* live entries seen so far (left after judging) */
	int keyed_epoch;		/* nat_udp_keyed's epoch this pass rebuilds
					 * (udpkeyed_begin()), -1: none */
	struct gc_result pass;		/* what this pass has done so far */
};

/*
 * Read up to `budget` more entries of nat_ct,
 * expiring idle flows and orphaned halves; at the end of the table also
 * sweep nat_expect, nat_gate and nat_alg. Flows expired are added to
 * nat_ctl_stats.ct_expired as they go; gc_runs counts completed passes.
 * Returns 1 when the pass completed (*res = the whole pass; the cursor is
 * reset), 0 when there is more to read (*res untouched), -errno on error
 * (the next step starts a new pass).
 */
int gc_step(const struct nat_maps *maps, struct gc_cursor *c, uint64_t now_ns, uint64_t budget,
	    struct gc_result *res);

/* A whole pass at once (tests, tools). 0 or -errno. */
int gc_run(const struct nat_maps *maps, uint64_t now_ns, struct gc_result *res);

/* Idle timeout in seconds for a flow of `proto` in `state`. */
uint32_t gc_flow_timeout(const struct nat_config *cfg, uint8_t proto, uint8_t state);

#endif /* XDPNAT_GC_H */
