/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * wanstate.h - apply a WAN's address or gateway change to the data path's
 * maps (nat_ifaces, nat_wanaddr, nat_ct, nat_ctl_stats).
 *
 * Everything works on map fds, so the daemon passes its skeleton's maps
 * and unit tests pass maps of their own. Only interfaces that nat_ifaces
 * lists as NAT_IF_WAN are touched; any other ifindex is a no-op, so every
 * addrwatch event can be handed in unfiltered.
 *
 * Errors are printed here, once, as "wan IFNAME: ...", and returned as
 * -errno; callers need not print them again. Changes are logged on stderr,
 * one line each.
 */
#ifndef XDPNAT_WANSTATE_H
#define XDPNAT_WANSTATE_H

#include <stdint.h>
#include <netinet/in.h>

#include "wan/addrwatch.h"
#include "config/config.h"

struct wan_maps {
	int ifaces_fd;		/* nat_ifaces */
	int wanaddr_fd;		/* nat_wanaddr */
	int ct_fd;		/* nat_ct */
	int ctl_stats_fd;	/* nat_ctl_stats */
};

/*
 * The WAN `ifindex` now has address `addr` (0.0.0.0: none, the data path
 * then passes its traffic untouched). If it differs from nat_ifaces.addr:
 * nat_wanaddr and nat_ifaces follow, and every nat_ct entry bound to the
 * old address on this WAN is deleted (masquerade, forward and hairpin
 * flows, both directions), as their translation can never be valid again.
 * *flows_removed (may be NULL) gets the number of flows (ORIG entries)
 * removed, which is also added to nat_ctl_stats.ct_addr_change.
 */
int wanstate_set_addr(const struct wan_maps *m, uint32_t ifindex, struct in_addr addr,
		      unsigned *flows_removed);

/*
 * Store `gw` (0.0.0.0: unknown) as the WAN's symmetric-return next hop.
 * This does not know about the configuration: the caller must not call it
 * for a WAN whose gateway is pinned in the config (`wan IF gateway IP`);
 * wanstate_apply() makes that decision.
 */
int wanstate_set_gateway(const struct wan_maps *m, uint32_t ifindex, struct in_addr gw);

/*
 * The daemon's addrwatch callback body: AW_ADDR -> wanstate_set_addr();
 * AW_GATEWAY -> wanstate_set_gateway() unless `cfg` pins that WAN's
 * gateway (cfg may be NULL: nothing pinned).
 */
int wanstate_apply(const struct wan_maps *m, const struct xdpnat_config *cfg,
		   const struct addrwatch_event *ev);

#endif /* XDPNAT_WANSTATE_H */
