/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * routesteer.h - the kernel routes behind WAN failover (wan/failover.h),
 * through rtnetlink (libmnl).
 *
 * Steering. While a tracked WAN is down, every IPv4 default route of the
 * main table loses its nexthops through that WAN: an ECMP route is
 * replaced by the same route without them; a route only through dead
 * WANs is deleted if another default route is left. The exact message of
 * every route changed is kept and put back as it was when the WAN
 * recovers, when steering ends, and when the daemon stops. The data path
 * (bpf_fib_lookup), the kernel path and the router's own traffic (DDNS)
 * all read the same table, so they all follow.
 *
 * Probing. Each tracked WAN gets a routing table of its own holding only
 * `default via GATEWAY dev WAN onlink` (or `default dev WAN` on a
 * point-to-point link), reached by the rule `oif WAN lookup TABLE`. Only a
 * socket bound to the WAN (SO_BINDTODEVICE: the probes) has an output
 * interface at route lookup, so forwarded traffic never matches the rule,
 * and the probes keep going out through the WAN's gateway while the main
 * table has nothing through it.
 */
#ifndef XDPNAT_ROUTESTEER_H
#define XDPNAT_ROUTESTEER_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

/* Table of the WAN with config index i (cfg->wans[i]) and the priority of
 * the rules; see xdpnat.conf(5). */
#define ROUTESTEER_TABLE_BASE	0x7864		/* 30820 + i */
#define ROUTESTEER_RULE_PRIO	30820		/* before main (32766) */
#define ROUTESTEER_MAX_SAVED	16		/* default routes changed at once */

struct routesteer;

/* NULL with errno on failure. */
struct routesteer *routesteer_open(void);

/* Put back every route changed, remove every probe rule and table made.
 * NULL is ok. */
void routesteer_close(struct routesteer *rs);

/*
 * Probe route for WAN `wan_id` (its table ROUTESTEER_TABLE_BASE + wan_id):
 * via gw (0.0.0.0 on a point-to-point link: straight out of the device).
 * Idempotent: it writes only when ifindex or gw changed since the last
 * call, or when `force` (the WAN's address came back: the kernel flushed
 * the table's route with the old one). ifindex 0 removes rule and route.
 * 0 or -errno (logged).
 */
int routesteer_probe_route(struct routesteer *rs, int wan_id, const char *ifname, int ifindex,
			   struct in_addr gw, bool force);

/*
 * Make the main table's default routes avoid the interfaces in dead[]
 * (ndead 0: put everything back). Only does work when the set changed
 * or an earlier attempt failed. *steered (may be NULL) tells whether any
 * route now avoids them. 0 or -errno (logged; retried on the next call).
 */
int routesteer_apply(struct routesteer *rs, const int *dead, int ndead, bool *steered);

/* Routes changed right now (for status). */
int routesteer_nsaved(const struct routesteer *rs);

#endif /* XDPNAT_ROUTESTEER_H */
