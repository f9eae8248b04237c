/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli_stats.c - `xdpnat stats`: the data path's counters summed over the
 * CPUs, the controller's counters, the FTP ALG's, and how full nat_ct is.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "common/clock.h"
#include "common/counters.h"
#include "xdpnat.h"

static int read_stats_sum(const struct cli_ctx *c, struct nat_stats *sum)
{
	int fd = cli_open_map(c, XDPNAT_MAP_STATS), err;

	if (fd < 0)
		return -1;
	err = counters_read_stats(fd, sum);
	if (err)
		fprintf(stderr, "xdpnat: cannot read %s: %s\n", XDPNAT_MAP_STATS, strerror(-err));
	close(fd);
	return err ? -1 : 0;
}

static int read_ctl_stats(const struct cli_ctx *c, struct nat_ctl_stats *st)
{
	int fd = cli_open_map(c, XDPNAT_MAP_CTL_STATS);
	__u32 zero = 0;
	int err = 0;

	if (fd < 0)
		return -1;
	if (bpf_map_lookup_elem(fd, &zero, st)) {
		fprintf(stderr, "xdpnat: cannot read %s: %s\n", XDPNAT_MAP_CTL_STATS,
			strerror(errno));
		err = -1;
	}
	close(fd);
	return err;
}

/* nat_alg_stats; zeros when it cannot be read (a daemon of a build before
 * the map existed): the other counters are still worth printing. */
static void read_alg_stats(const struct cli_ctx *c, struct nat_alg_stats *st)
{
	int fd = cli_open_map(c, XDPNAT_MAP_ALG_STATS);
	__u32 zero = 0;

	memset(st, 0, sizeof(*st));
	if (fd < 0)
		return;
	if (bpf_map_lookup_elem(fd, &zero, st))
		memset(st, 0, sizeof(*st));
	close(fd);
}

struct table_use {
	uint64_t entries, flows, max_entries;
	uint64_t nh_cached;		/* entries whose next-hop cache is valid now */
	struct nat_routegen rg;		/* route generation and its bumps */
};

/* Would the data path use this entry's next-hop cache now? (nat_nexthop()) */
static bool nh_valid(const struct nat_ct_value *v, __u32 gen, uint64_t now_ns)
{
	return v->nh.slot && v->nh.tag == nat_route_tag(gen, now_ns) &&
	       nat_ticks_since(nat_tick(now_ns), v->last_seen) < NAT_NH_IDLE_TICKS;
}

struct table_walk {
	struct table_use *u;
	uint64_t now;
};

static int table_one(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	struct table_walk *w = arg;

	(void)k;
	w->u->entries++;
	w->u->flows += v->dir == NAT_DIR_ORIG;
	w->u->nh_cached += nh_valid(v, w->u->rg.gen, w->now);
	return 0;
}

static int read_table_use(const struct cli_ctx *c, struct table_use *u)
{
	struct nat_cttab t;
	int rg_fd = cli_open_map(c, XDPNAT_MAP_ROUTEGEN);
	struct table_walk w = { .u = u };
	struct timespec ts;
	__u32 zero = 0;

	memset(u, 0, sizeof(*u));
	if (rg_fd >= 0) {
		bpf_map_lookup_elem(rg_fd, &zero, &u->rg);
		close(rg_fd);
	}
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);	/* the data path's clock */
	w.now = (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
	if (cli_open_ct(c, &t))
		return -1;
	u->max_entries = cttab_head(&t)->limit;
	ct_for_each(&t, table_one, &w);
	cttab_unmap(&t);
	return 0;
}

static void print_fields(const void *base, const struct counter_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		printf("%-24s %20llu\n", t->f[i].name,
		       (unsigned long long)counter_value(base, &t->f[i]));
}

static void stats_print_table(const struct nat_stats *s, const struct nat_ctl_stats *ctl,
			      const struct nat_alg_stats *alg, const struct table_use *u)
{
	printf("%-24s %20s\n", "COUNTER", "VALUE");
	print_fields(s, &counters_stats);
	print_fields(ctl, &counters_ctl);
	print_fields(alg, &counters_alg);
	printf("%-24s %20llu\n", "flows", (unsigned long long)u->flows);
	printf("%-24s %9llu / %8llu\n", "ct_entries", (unsigned long long)u->entries,
	       (unsigned long long)u->max_entries);
	printf("%-24s %20llu\n", "nh_cached", (unsigned long long)u->nh_cached);
	printf("%-24s %20llu\n", "route_changes", (unsigned long long)u->rg.bumps);
}

static json_object *fields_json(const void *base, const struct counter_table *t)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < t->n; i++)
		json_object_object_add(o, t->f[i].name,
				       json_object_new_int64((int64_t)counter_value(base, &t->f[i])));
	return o;
}

static void stats_print_json(const struct nat_stats *s, const struct nat_ctl_stats *ctl,
			     const struct nat_alg_stats *alg, const struct table_use *u)
{
	json_object *o = json_object_new_object(), *t = json_object_new_object();

	json_object_object_add(o, "datapath", fields_json(s, &counters_stats));
	json_object_object_add(o, "controller", fields_json(ctl, &counters_ctl));
	json_object_object_add(o, "alg", fields_json(alg, &counters_alg));
	json_object_object_add(t, "flows", json_object_new_int64((int64_t)u->flows));
	json_object_object_add(t, "entries", json_object_new_int64((int64_t)u->entries));
	json_object_object_add(t, "max_entries", json_object_new_int64((int64_t)u->max_entries));
	json_object_object_add(t, "nh_cached", json_object_new_int64((int64_t)u->nh_cached));
	json_object_object_add(t, "route_changes", json_object_new_int64((int64_t)u->rg.bumps));
	json_object_object_add(o, "conntrack", t);
	cli_print_json(o);
	json_object_put(o);
}

int cli_stats(const struct cli_ctx *c)
{
	struct nat_stats s;
	struct nat_ctl_stats ctl;
	struct nat_alg_stats alg;
	struct table_use u;

	if (read_stats_sum(c, &s) || read_ctl_stats(c, &ctl) || read_table_use(c, &u))
		return 1;
	read_alg_stats(c, &alg);
	if (c->json)
		stats_print_json(&s, &ctl, &alg, &u);
	else
		stats_print_table(&s, &ctl, &alg, &u);
	return 0;
}
