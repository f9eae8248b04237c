/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * udpkeyed.h - the controller's side of nat_udp_keyed (include/xdpnat.h):
 * which ports a UDP entry to a WAN address may be keyed by, so that a lazy
 * UDP flow (bpf/nat_lazyreply.h) skips the lookup of its reply tuple on
 * the others. The data path sets bits; this fills a new map at start and
 * rebuilds it once every GC pass, which is what clears a bit no entry
 * needs any more.
 *
 * Every function takes the map through m->keyed (nat_maps_map_keyed()).
 */
#ifndef XDPNAT_UDPKEYED_H
#define XDPNAT_UDPKEYED_H

#include <stdbool.h>
#include "xdpnat.h"
#include "common/maps.h"

/* At start, once the programs are attached: set the bits of what nat_ct
 * holds, then the READY word. 0, or -EBADF if m->keyed is not mapped
 * (the data path then keeps looking every reply tuple up). */
int udpkeyed_fill(const struct nat_maps *m);

/*
 * A GC pass's rebuild, in three calls around its walk of nat_ct:
 *  - udpkeyed_begin() when the walk starts: switches the epoch the data
 *    path marks and waits until no program still marks the old one (an
 *    RCU grace period: membarrier(MEMBARRIER_CMD_GLOBAL)). Returns the new
 *    epoch, or -1 for no rebuild this pass (map not mapped or not filled
 *    yet, no such barrier on this kernel or none exact: PREEMPT_RT with
 *    one CPU, udpkeyed_grace_exact(); or the wait failed);
 *  - udpkeyed_mark() for every entry the walk leaves in nat_ct;
 *  - udpkeyed_end() once the walk has read the whole table: waits again,
 *    then clears the old epoch's bitmap. After a walk that broke off it
 *    is not called, and the old bits stay (a bit too many only costs a
 *    lookup).
 */
int udpkeyed_begin(const struct nat_maps *m);
void udpkeyed_mark(const struct nat_maps *m, int epoch, const struct nat_ct_key *k,
		   const struct nat_ct_value *v);
void udpkeyed_end(const struct nat_maps *m, int epoch);

/* Does membarrier(MEMBARRIER_CMD_GLOBAL) wait for every running program
 * on a kernel of this `uname -v` with this many CPUs online? Not on a
 * PREEMPT_RT kernel with one CPU (or an unknown count): the call returns
 * at once while a preempted softirq thread may be inside a program. The
 * rebuild is then skipped, its bits stay set. */
bool udpkeyed_grace_exact(const char *uts_version, long cpus_online);

#endif /* XDPNAT_UDPKEYED_H */
