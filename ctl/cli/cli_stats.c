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
#include "xdpnat.h"

struct counter_field {
	const char *name;
	size_t offset;
};

#define STATS_FIELD(f) { #f, offsetof(struct nat_stats, f) }
static const struct counter_field stats_fields[] = {
	STATS_FIELD(rx_packets), STATS_FIELD(xdp_forwarded), STATS_FIELD(tc_translated),
	STATS_FIELD(passed_untouched), STATS_FIELD(passed_to_kernel),
	STATS_FIELD(flows_created), STATS_FIELD(icmp_errors_translated),
	STATS_FIELD(fragments_translated), STATS_FIELD(drop_malformed),
	STATS_FIELD(drop_no_port), STATS_FIELD(drop_ct_full), STATS_FIELD(drop_frag_unknown),
	STATS_FIELD(drop_no_flow), STATS_FIELD(drop_wan_mismatch), STATS_FIELD(drop_gate), STATS_FIELD(alg_to_user),
	STATS_FIELD(drop_alg_down), STATS_FIELD(alg_no_queue), STATS_FIELD(alg_off_flows),
	STATS_FIELD(alg_off_passed), STATS_FIELD(drop_alg_no_route), STATS_FIELD(expect_used),
	STATS_FIELD(ct_evicted), STATS_FIELD(drop_inbound), STATS_FIELD(drop_spoofed),
	STATS_FIELD(frag_src_limited),
	STATS_FIELD(tcp_out_of_window),
	STATS_FIELD(gate_full),
	STATS_FIELD(passed_vlan),
	STATS_FIELD(csum_finished), STATS_FIELD(csum_kept), STATS_FIELD(csum_to_kernel),
	STATS_FIELD(flowlog_lost),
};
_Static_assert(sizeof(stats_fields) / sizeof(stats_fields[0]) ==
	       sizeof(struct nat_stats) / sizeof(__u64), "every nat_stats field is listed");

#define CTL_FIELD(f) { #f, offsetof(struct nat_ctl_stats, f) }
static const struct counter_field ctl_fields[] = {
	CTL_FIELD(ct_expired), CTL_FIELD(ct_addr_change), CTL_FIELD(gc_runs),
	CTL_FIELD(daemon_pid), CTL_FIELD(daemon_started),
};
_Static_assert(sizeof(ctl_fields) / sizeof(ctl_fields[0]) ==
	       sizeof(struct nat_ctl_stats) / sizeof(__u64), "every nat_ctl_stats field is listed");

#define ALG_FIELD(f) { #f, offsetof(struct nat_alg_stats, f) }
static const struct counter_field alg_fields[] = {
	ALG_FIELD(alg_sessions), ALG_FIELD(alg_expects_live), ALG_FIELD(alg_rx),
	ALG_FIELD(alg_tx), ALG_FIELD(alg_rewritten), ALG_FIELD(alg_dropped),
	ALG_FIELD(alg_out_of_window), ALG_FIELD(alg_syn_ignored), ALG_FIELD(alg_bad_frame),
	ALG_FIELD(alg_no_tx_room), ALG_FIELD(alg_no_flow), ALG_FIELD(alg_uninspected),
	ALG_FIELD(alg_evicted), ALG_FIELD(alg_handed_back), ALG_FIELD(alg_expects_opened),
	ALG_FIELD(alg_expects_cancelled), ALG_FIELD(alg_expects_replaced),
	ALG_FIELD(alg_expects_refused), ALG_FIELD(alg_save_failed),
};
_Static_assert(sizeof(alg_fields) / sizeof(alg_fields[0]) ==
	       sizeof(struct nat_alg_stats) / sizeof(__u64), "every nat_alg_stats field is listed");

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t field_at(const void *base, size_t offset)
{
	uint64_t v;

	memcpy(&v, (const char *)base + offset, sizeof(v));
	return v;
}

static int read_stats_sum(const struct cli_ctx *c, struct nat_stats *sum)
{
	int fd = cli_open_map(c, XDPNAT_MAP_STATS), ncpu = libbpf_num_possible_cpus();
	struct nat_stats *percpu;
	__u32 zero = 0;
	int err = 0;

	if (fd < 0)
		return -1;
	percpu = calloc((size_t)(ncpu > 0 ? ncpu : 1), sizeof(*percpu));
	if (ncpu <= 0 || !percpu || bpf_map_lookup_elem(fd, &zero, percpu)) {
		fprintf(stderr, "xdpnat: cannot read %s: %s\n", XDPNAT_MAP_STATS, strerror(errno));
		err = -1;
	}
	memset(sum, 0, sizeof(*sum));
	for (int cpu = 0; !err && cpu < ncpu; cpu++)
		for (size_t i = 0; i < NFIELDS(stats_fields); i++) {
			uint64_t v = field_at(sum, stats_fields[i].offset) +
				     field_at(&percpu[cpu], stats_fields[i].offset);

			memcpy((char *)sum + stats_fields[i].offset, &v, sizeof(v));
		}
	free(percpu);
	close(fd);
	return err;
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

static int read_table_use(const struct cli_ctx *c, struct table_use *u)
{
	int fd = cli_open_map(c, XDPNAT_MAP_CT);
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	struct nat_ct_key key, next;
	struct nat_ct_value val;
	void *prev = NULL;
	int rg_fd = cli_open_map(c, XDPNAT_MAP_ROUTEGEN);
	struct timespec ts;
	uint64_t now;
	__u32 zero = 0;

	memset(u, 0, sizeof(*u));
	if (rg_fd >= 0) {
		bpf_map_lookup_elem(rg_fd, &zero, &u->rg);
		close(rg_fd);
	}
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);	/* the data path's clock */
	now = (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
	if (fd < 0)
		return -1;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		fprintf(stderr, "xdpnat: cannot query %s: %s\n", XDPNAT_MAP_CT, strerror(errno));
		close(fd);
		return -1;
	}
	u->max_entries = info.max_entries;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		u->entries++;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;
		u->flows += val.dir == NAT_DIR_ORIG;
		u->nh_cached += nh_valid(&val, u->rg.gen, now);
	}
	close(fd);
	return 0;
}

static void stats_print_table(const struct nat_stats *s, const struct nat_ctl_stats *ctl,
			      const struct nat_alg_stats *alg, const struct table_use *u)
{
	printf("%-24s %20s\n", "COUNTER", "VALUE");
	for (size_t i = 0; i < NFIELDS(stats_fields); i++)
		printf("%-24s %20llu\n", stats_fields[i].name,
		       (unsigned long long)field_at(s, stats_fields[i].offset));
	for (size_t i = 0; i < NFIELDS(ctl_fields); i++)
		printf("%-24s %20llu\n", ctl_fields[i].name,
		       (unsigned long long)field_at(ctl, ctl_fields[i].offset));
	for (size_t i = 0; i < NFIELDS(alg_fields); i++)
		printf("%-24s %20llu\n", alg_fields[i].name,
		       (unsigned long long)field_at(alg, alg_fields[i].offset));
	printf("%-24s %20llu\n", "flows", (unsigned long long)u->flows);
	printf("%-24s %9llu / %8llu\n", "ct_entries", (unsigned long long)u->entries,
	       (unsigned long long)u->max_entries);
	printf("%-24s %20llu\n", "nh_cached", (unsigned long long)u->nh_cached);
	printf("%-24s %20llu\n", "route_changes", (unsigned long long)u->rg.bumps);
}

static json_object *fields_json(const void *base, const struct counter_field *f, size_t n)
{
	json_object *o = json_object_new_object();

	for (size_t i = 0; i < n; i++)
		json_object_object_add(o, f[i].name,
				       json_object_new_int64((int64_t)field_at(base, f[i].offset)));
	return o;
}

static void stats_print_json(const struct nat_stats *s, const struct nat_ctl_stats *ctl,
			     const struct nat_alg_stats *alg, const struct table_use *u)
{
	json_object *o = json_object_new_object(), *t = json_object_new_object();

	json_object_object_add(o, "datapath", fields_json(s, stats_fields, NFIELDS(stats_fields)));
	json_object_object_add(o, "controller", fields_json(ctl, ctl_fields, NFIELDS(ctl_fields)));
	json_object_object_add(o, "alg", fields_json(alg, alg_fields, NFIELDS(alg_fields)));
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
