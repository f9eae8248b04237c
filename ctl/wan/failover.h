/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * failover.h - WAN health by probes, and what a dead WAN changes
 * (`wan IF ... track <ip>[,<ip>...] [interval s] [down n] [up n]`).
 *
 * Each tracked WAN is probed every `interval` with one ICMP echo per
 * target, from a raw socket bound to the WAN (SO_BINDTODEVICE) and routed
 * through the WAN's own probe table (wan/routesteer.h), so the probe
 * leaves by that WAN and its gateway whatever the main table says. A round
 * is answered if any target answers within min(interval, 2 s). The
 * verdict is wan/probe.h's: `down` unanswered rounds in a row, or a lost
 * carrier or address (seen within FAILOVER_TICK_MS), mark the WAN down;
 * `up` answered rounds in a row mark it up.
 *
 * While a WAN is down and some WAN is live (up, or not tracked):
 *  - the main table's default routes avoid it (routesteer_apply), so new
 *    LAN flows and the router's own traffic leave by a live WAN;
 *  - the flows bound to it are removed once (wanstate_flush_wan),
 *    counted; nothing else is touched;
 *  - DDNS names with `failover` follow the other WAN (ddns_wan_state).
 * When every tracked WAN is down and none is untracked, the probe targets
 * are the likelier culprit: nothing is steered (logged once). Recovery
 * puts the routes back exactly as they were; so does failover_stop().
 *
 * The module runs in the daemon's poll() loop through one fd (an epoll
 * set of its timer and its sockets) and never blocks.
 */
#ifndef XDPNAT_FAILOVER_H
#define XDPNAT_FAILOVER_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <net/if.h>
#include "common/maps.h"
#include "config/config.h"
#include "wan/ddns.h"
#include "wan/wanstate.h"

#define FAILOVER_TICK_MS	200	/* link checks; probe rounds start on ticks */
#define FAILOVER_TIMEOUT_MS	2000	/* a round's answers, at most */

struct failover;
struct json_object;

/* Start for cfg's tracked WANs; NULL if none is tracked (errno 0) or on
 * failure (errno set, logged). ws: to remove a dead WAN's flows (its maps
 * give the WANs' addresses and learned gateways); ddns may be NULL. */
struct failover *failover_start(const struct xdpnat_config *cfg, const struct wanstate *ws,
				struct ddns *ddns);

/* After a reload: WANs whose tracking is unchanged keep their state; the
 * rest start afresh. *f may be NULL before and after. */
void failover_reload(struct failover **f, const struct xdpnat_config *cfg,
		     const struct wanstate *ws, struct ddns *ddns);

/* For poll(POLLIN); -1 for NULL. */
int failover_fd(const struct failover *f);

/* Everything pending, without blocking. true when status.json should be
 * written again (a round ended or a state changed). */
bool failover_process(struct failover *f);

/* Routes put back, probe rules and tables removed, sockets closed. NULL ok. */
void failover_stop(struct failover *f);

/* One tracked WAN's health, as the metrics endpoint shows it. */
struct failover_health {
	char ifname[IF_NAMESIZE];
	bool up;
	time_t since;			/* wall clock of the last change (or the start) */
	unsigned rtt_ms;		/* of the last answered round, 0 = none yet */
	uint64_t changes;		/* state changes since the start */
	uint64_t flows_removed;		/* flows removed because the WAN was dead */
};

/* The tracked WANs' health into out (at most max); how many. 0 for NULL. */
int failover_health(const struct failover *f, struct failover_health *out, int max);

/* {"wan0": {"state": "up", "since": unix, "reason": ..., "probes": "+++-",
 *  "targets": [...], "flows_removed": n, "steered": bool}, ...}, new
 * reference; NULL for a NULL f. */
struct json_object *failover_status(const struct failover *f);

#endif /* XDPNAT_FAILOVER_H */
