/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * portmap.h - the PCP (RFC 6887) and NAT-PMP (RFC 6886) server of
 * `port-mapping <lan-if>`: LAN hosts ask the router for a forward on a WAN
 * themselves (consoles, BitTorrent, VPN and SIP clients).
 *
 * One UDP socket per served LAN, bound to port 5351 on that interface only
 * (SO_BINDTODEVICE) and answering only requests sent to one of that
 * interface's own addresses (IP_PKTINFO): a request from a WAN never
 * reaches it. A mapping is an entry of nat_forwards flagged NAT_FWD_F_PCP,
 * so the data path serves it like a static forward; the table of who owns
 * what (portmap_table.h) is saved to <state-dir>/portmap.json, so mappings
 * and the epoch survive a restart and a reload. Requests are rate limited
 * (portmap_rate.h). Runs in the daemon's event loop thread.
 */
#ifndef XDPNAT_PORTMAP_H
#define XDPNAT_PORTMAP_H

#include <poll.h>
#include <stdint.h>
#include "common/maps.h"
#include "config/config.h"

struct portmap;

/*
 * Start serving the `port-mapping` statements of cfg: load the saved
 * table, drop what no longer fits the configuration (a LAN no longer
 * served, another WAN, a port a static forward now holds, a lifetime that
 * ran out while no daemon ran), follow a WAN device that was made anew
 * (a new ifindex), make nat_forwards agree, open the sockets and announce
 * the epoch. A WAN with no device yet is waited for: its LAN is answered
 * NETWORK_FAILURE and its saved mappings are kept for it. With no `port-mapping` line every
 * mapping left from before is removed and *out is NULL. 0, or -1 (logged).
 */
int portmap_start(struct portmap **out, const struct xdpnat_config *cfg,
		  const struct nat_maps *m);

/* Save the table and close the sockets. The mappings stay in nat_forwards
 * (the data path outlives the daemon); the next start takes them over. */
void portmap_stop(struct portmap *pm);

/* Its sockets for poll(); returns how many were written (at most max). */
int portmap_pollfds(const struct portmap *pm, struct pollfd *pfd, int max);

/* A socket portmap_pollfds() gave is readable: serve what waits there. */
void portmap_input(struct portmap *pm, int fd);

/* Once a second: expire mappings, repeat announcements, save changes. */
void portmap_tick(struct portmap *pm);

/* The address of WAN `ifindex` changed: mappings follow it (nat_forwards
 * is keyed by interface, not address) and the LANs mapping on it are
 * told (NAT-PMP and PCP announcements to 224.0.0.1:5350). */
void portmap_wan_changed(struct portmap *pm, uint32_t ifindex);

#endif /* XDPNAT_PORTMAP_H */
