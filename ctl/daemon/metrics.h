/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * metrics.h - the Prometheus endpoint (`metrics <ip>:<port>`): what is
 * exported and how it is read.
 *
 * A scrape is served by the metrics thread (daemon/metrics_http.c), never
 * by the daemon's event loop: it reads the pinned maps itself (nat_stats,
 * nat_ctl_stats, nat_alg_stats, a walk of nat_ct, nat_expect, nat_gate) and
 * takes what only the daemon knows (the WANs' names, the DDNS state, the
 * start time) from a copy kept under a mutex, which the daemon updates at
 * start and reload. A slow scrape or a hostile client so never delays the
 * controller.
 *
 * metrics_render() is the pure part: a snapshot in, the text exposition
 * format (version 0.0.4) out; the unit test feeds it snapshots.
 */
#ifndef XDPNAT_METRICS_H
#define XDPNAT_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include "xdpnat.h"
#include "common/maps.h"
#include "config/config.h"
#include "wan/ddns.h"
#include "wan/failover.h"

#define METRICS_KINDS	(NAT_KIND_MAPPED + 1)		/* enum nat_ct_kind, 0 unused */
#define METRICS_STATES	(NAT_CT_SYN_RECV + 1)		/* enum nat_ct_state */

enum { METRICS_RX, METRICS_TX };	/* from the WAN, to the WAN */

struct metrics_wan {
	char ifname[IF_NAMESIZE];
	uint32_t ifindex;
	uint64_t packets[2], bytes[2];	/* [METRICS_RX], [METRICS_TX] */
};

/* Everything one scrape shows. */
struct metrics_snapshot {
	const char *version;
	time_t start_time;		/* the daemon's, unix seconds */
	struct nat_stats stats;
	struct nat_ctl_stats ctl;
	struct nat_alg_stats alg;
	uint64_t flows[METRICS_KINDS][METRICS_STATES];
	uint64_t flows_limit;		/* conntrack-max */
	uint64_t ct_entries, ct_entries_limit;	/* nat_ct: two entries or more per flow */
	uint64_t expectations;		/* nat_expect entries */
	uint64_t gate_sessions;		/* live FTP control sessions counted in nat_gate */
	struct metrics_wan wans[CFG_MAX_IFACES];
	int nwans;
	struct ddns_name_state ddns[CFG_MAX_DDNS];
	int nddns;
	struct failover_health health[CFG_MAX_IFACES];	/* tracked WANs (`track`) */
	int nhealth;
	bool partial;			/* a map could not be read: xdpnat_scrape_errors */
};

/* The text format of s. 0, or -1 on a write error of out. */
int metrics_render(FILE *out, const struct metrics_snapshot *s);

/*
 * The endpoint as the daemon runs it. metrics_start() takes a listening
 * socket (metrics_http_listen()) and owns it from then on; NULL on
 * failure (logged, the socket closed). metrics_update() gives it the
 * daemon's view after the start and every reload.
 */
struct metrics;

struct metrics *metrics_start(int listen_fd, const struct nat_maps *m);
void metrics_update(struct metrics *mt, const struct xdpnat_config *cfg, struct ddns *ddns,
		    time_t started);
/* The tracked WANs' health (failover_health()), after each change. */
void metrics_set_health(struct metrics *mt, const struct failover_health *h, int n);
void metrics_stop(struct metrics *mt);

#endif /* XDPNAT_METRICS_H */
