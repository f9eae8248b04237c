/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * wanstate.h - the one owner of what the data path knows about its
 * interfaces: nat_ifaces (role, slot, masquerade range, and for a WAN its
 * current address and symmetric-return gateway) and nat_wanaddr (which
 * WAN has which address). Nothing else writes those two maps.
 *
 * The daemon hands in what it attached (wanstate_put_iface, at start and
 * on reload), what it detached (wanstate_remove_iface) and every address
 * watcher event (wanstate_apply). A WAN address change removes the flows
 * bound to the old address and tells DDNS, through addr_changed.
 *
 * Everything works on map fds (struct nat_maps), so the daemon passes its
 * skeleton's maps and unit tests pass maps of their own. Errors are logged
 * here, once, as "wan IFNAME: ...", and returned as -errno. Changes are
 * logged one line each.
 */
#ifndef XDPNAT_WANSTATE_H
#define XDPNAT_WANSTATE_H

#include <stdint.h>
#include <netinet/in.h>

#include "xdpnat.h"
#include "common/maps.h"
#include "config/config.h"
#include "wan/addrwatch.h"

struct wanstate {
	const struct nat_maps *m;	/* ifaces, wanaddr written; ct, gate,
					 * ctl_stats for the flows of an old address */
	const struct xdpnat_config *cfg; /* static WAN settings and pinned
					 * gateways; NULL: nothing configured */
	/* A WAN's address changed (0.0.0.0: it has none now); may be NULL. */
	void (*addr_changed)(void *arg, uint32_t ifindex, struct in_addr addr);
	void *arg;
};

/* nat_iface.mss for WAN w: its `mss-clamp` value, or for `auto` its
 * MTU (read now) minus 40; 0 = no clamping. */
__u16 wanstate_mss(const struct cfg_wan *w);

/*
 * Enter (or update after a reload) interface `ifindex` named `ifname`
 * with `role` and nat_xsks `slot`: its static settings come from ws->cfg;
 * a WAN that was a WAN before keeps its current address and learned
 * gateway (a gateway pinned in the config wins). An interface whose role
 * changes first loses everything it had (wanstate_remove_iface).
 * link_flags: the NAT_IFACE_F_* bits that come from the link and how it is
 * attached (NAT_IFACE_F_XDP_GENERIC, _L3, _PARTIAL_CSUM), not from the
 * configuration.
 */
int wanstate_put_iface(const struct wanstate *ws, uint32_t ifindex, const char *ifname,
		       enum nat_if_role role, __u8 slot, __u8 link_flags);

/* Tell addr_changed the WAN's current address, changed or not: after a
 * restart the data path kept it, and DDNS must still learn it. */
void wanstate_announce(const struct wanstate *ws, uint32_t ifindex);

/* The interface is no longer attached: a WAN loses its address as in an
 * address change (its flows go), then its nat_ifaces entry goes. */
int wanstate_remove_iface(const struct wanstate *ws, uint32_t ifindex);

/*
 * The WAN `ifindex` now has address `addr` (0.0.0.0: none, the data path
 * then passes its traffic untouched). If it differs from nat_ifaces.addr:
 * nat_wanaddr and nat_ifaces follow, every flow bound to the old address
 * on this WAN is removed with ctflow_remove() (both directions, hairpin
 * halves, and the gate count of an FTP control session), and
 * addr_changed is called. *flows_removed (may be NULL) gets the number of
 * flows removed, which is also added to nat_ctl_stats.ct_addr_change.
 * Any ifindex that is not a WAN in nat_ifaces is a no-op.
 */
int wanstate_set_addr(const struct wanstate *ws, uint32_t ifindex, struct in_addr addr,
		      unsigned *flows_removed);

/* The WAN is dead (wan/failover.h): every flow bound to it (its current
 * address) is removed as in an address change, which it keeps. *flows_removed
 * (may be NULL) gets their number. 0 or -errno. */
int wanstate_flush_wan(const struct wanstate *ws, uint32_t ifindex, unsigned *flows_removed);

/* Store `gw` (0.0.0.0: unknown) as the WAN's symmetric-return next hop;
 * does not look at the configuration (wanstate_apply does). */
int wanstate_set_gateway(const struct wanstate *ws, uint32_t ifindex, struct in_addr gw);

/*
 * The daemon's addrwatch callback body: AW_ADDR -> wanstate_set_addr();
 * AW_GATEWAY -> wanstate_set_gateway() unless ws->cfg pins that WAN's
 * gateway. Events about LANs and unknown interfaces change nothing (the
 * data path does not use a LAN's address).
 */
int wanstate_apply(const struct wanstate *ws, const struct addrwatch_event *ev);

#endif /* XDPNAT_WANSTATE_H */
