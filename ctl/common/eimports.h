/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * eimports.h - the controller's side of nat_eim_ports, the owners of the
 * WANs' outside ports (see include/xdpnat.h): binding a WAN's table to its
 * interface (wanstate.c), and keeping, taking again and freeing mappings
 * (the GC). Everything works on the mapped map (nat_maps_map_ports()) with
 * the same 64-bit compare-and-swap as the data path, so neither side ever
 * undoes what the other just did; without the mapping every call is a
 * no-op.
 */
#ifndef XDPNAT_EIMPORTS_H
#define XDPNAT_EIMPORTS_H

#include <stdbool.h>
#include <stdint.h>
#include "xdpnat.h"
#include "common/maps.h"

/* Bind table `table` (a WAN's wan_id) to interface ifindex: a table bound
 * to another interface is unbound, cleared and bound again. 0 if it was
 * bound already, 1 if it was bound to another interface (its mappings
 * are gone), 2 if it was bound to none; -ENOSPC past the map's tables,
 * -ENODEV without the mapping. */
int eimports_bind(const struct nat_maps *m, uint32_t table, uint32_t ifindex);

/* The table bound to ifindex, or -1. */
int eimports_table(const struct nat_maps *m, uint32_t ifindex);

/* A live flow's mapping: outside port `port` (host order) of proto on WAN
 * ifindex, owned by inside endpoint addr:iport (network order). Its stamp
 * is brought up to `now` if it is older than the pass (started at
 * pass_start); a free port is taken again for the endpoint (a table
 * cleared under live flows, or a previous version's mappings). */
void eimports_keep(const struct nat_maps *m, uint32_t ifindex, uint8_t proto, uint16_t port,
		   __be32 addr, __be16 iport, uint64_t pass_start, uint64_t now);

/* Should the GC keep port `port` (host order) of proto on WAN ifindex,
 * whose stamp is older than the pass? */
typedef bool (*eimports_keep_fn)(uint32_t ifindex, uint8_t proto, uint16_t port,
				 const struct nat_eim_port *e, void *ctx);

/* After a whole pass: free every mapping (of a bound table) whose stamp is
 * older than pass_start and that keep (if given) does not keep. Returns
 * the mappings freed. */
long eimports_sweep(const struct nat_maps *m, uint64_t pass_start, eimports_keep_fn keep,
		    void *ctx);

/* Every mapping of every bound table, as read (for the CLI). */
typedef void (*eimports_each_fn)(uint32_t ifindex, uint8_t proto, uint16_t port,
				 const struct nat_eim_port *e, void *ctx);
void eimports_each(const struct nat_maps *m, eimports_each_fn fn, void *ctx);

/*
 * For port requests (PCP, NAT-PMP: ctl/portmap/), which must not give
 * out a port that a mapping of another inside endpoint holds.
 * eimports_held_by_other(): does the mapping of an inside endpoint other
 * than addr:iport (network order) hold port `port` (host order) of proto
 * on WAN ifindex?
 * eimports_port_of(): the port that inside endpoint addr:iport (network
 * order) holds there, 0 if none; a scan of the protocol's table.
 */
bool eimports_held_by_other(const struct nat_maps *m, uint32_t ifindex, uint8_t proto,
			    uint16_t port, __be32 addr, __be16 iport);
uint16_t eimports_port_of(const struct nat_maps *m, uint32_t ifindex, uint8_t proto,
			  __be32 addr, __be16 iport);

/* Is stamp older than the pass that started at pass_start? */
bool eimports_stale(uint16_t stamp, uint64_t pass_start);

#endif /* XDPNAT_EIMPORTS_H */
