/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * counters.h - the one list of every counter in nat_stats, nat_ctl_stats
 * and nat_alg_stats: the name `xdpnat stats` prints, where the field is,
 * and what the Prometheus endpoint calls it. `xdpnat stats` (cli/) and
 * the metrics endpoint (daemon/metrics.c) both walk these tables, so a
 * field added to a struct in xdpnat.h fails the build until it is named
 * here (the _Static_asserts in counters.c).
 */
#ifndef XDPNAT_COUNTERS_H
#define XDPNAT_COUNTERS_H

#include <stddef.h>
#include <stdint.h>
#include "xdpnat.h"

enum counter_kind {
	COUNTER_TOTAL,		/* a counter: xdpnat_<metric> (ends in _total) */
	COUNTER_DROP,		/* a data path drop: xdpnat_drops_total{reason="<metric>"} */
	COUNTER_GAUGE,		/* a value that goes up and down: xdpnat_<metric> */
	COUNTER_CLI_ONLY,	/* printed by `xdpnat stats`, not exported */
};

struct counter_field {
	const char *name;	/* the field, as `xdpnat stats` prints it */
	size_t offset;		/* of its __u64 in the struct */
	enum counter_kind kind;
	const char *metric;	/* metric name after xdpnat_, or the drop reason */
	const char *help;	/* the metric's HELP text */
};

struct counter_table {
	const char *map;	/* XDPNAT_MAP_* */
	const struct counter_field *f;
	size_t n;
};

extern const struct counter_table counters_stats;	/* nat_stats */
extern const struct counter_table counters_ctl;		/* nat_ctl_stats */
extern const struct counter_table counters_alg;		/* nat_alg_stats */

uint64_t counter_value(const void *base, const struct counter_field *f);

/* nat_stats summed over the possible CPUs. 0, or -errno. */
int counters_read_stats(int fd, struct nat_stats *sum);

#endif /* XDPNAT_COUNTERS_H */
