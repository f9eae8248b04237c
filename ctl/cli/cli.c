/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli.c - `xdpnat flows`, `xdpnat stats`, `xdpnat status`: human tables by
 * default, JSON (json-c) with --json. Field names in JSON are stable.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/stat.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "alg/alg_ftp.h"
#include "cli/cli.h"
#include "nat_ct_key.h"
#include "common/clock.h"
#include "common/runfiles.h"
#include "xdpnat.h"

/* ---------------------------------------------------------------- common */

static int run_file_path(const struct xdpnat_config *cfg, const char *name, char *buf,
			 size_t len)
{
	int n = snprintf(buf, len, "%s/%s", cfg->run_dir, name);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* A pid file left by a killed daemon may name a pid reused since. */
static bool is_xdpnat(pid_t pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strncmp(comm, "xdpnat", 6);
}

pid_t cli_daemon_pid(const struct xdpnat_config *cfg)
{
	char path[PATH_MAX];
	FILE *f;
	int pid = 0;

	if (run_file_path(cfg, RUN_PID_FILE, path, sizeof(path)))
		return 0;
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH) || !is_xdpnat(pid))
		return 0;
	return pid;
}

/* Same network namespace as the daemon? Compares the nsfs inodes. */
static bool same_netns(pid_t pid)
{
	char path[64];
	struct stat self, other;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	if (stat("/proc/self/ns/net", &self) || stat(path, &other))
		return true;	/* cannot tell: stay where we are */
	return self.st_ino == other.st_ino && self.st_dev == other.st_dev;
}

int cli_enter_daemon_netns(pid_t pid)
{
	char path[64];
	int fd, err;

	if (!pid || same_netns(pid))
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	err = fd < 0 ? -1 : setns(fd, CLONE_NEWNET);
	if (err)
		fprintf(stderr, "xdpnat: cannot enter the daemon's network namespace (%s): %s; "
			"interface names and attach checks refer to this one\n", path,
			strerror(errno));
	if (fd >= 0)
		close(fd);
	return err;
}

/*
 * The daemon's own view of pin-dir comes first: /proc/<pid>/root reaches
 * its mount namespace (under `ip netns exec` that has its own bpffs), and
 * it is never another daemon's pins that happen to sit at the same path
 * here. Without a daemon, the local pin-dir is all there is.
 */
int cli_open_map(const struct cli_ctx *c, const char *name)
{
	char local[PATH_MAX], remote[PATH_MAX + 32];
	int fd;

	snprintf(local, sizeof(local), "%s/%s", c->cfg->pin_dir, name);
	if (c->daemon_pid) {
		snprintf(remote, sizeof(remote), "/proc/%d/root%s", (int)c->daemon_pid, local);
		fd = bpf_obj_get(remote);
		if (fd >= 0)
			return fd;
		fprintf(stderr, "xdpnat: cannot open %s: %s\n", remote, strerror(errno));
		return -1;
	}
	fd = bpf_obj_get(local);
	if (fd < 0)
		fprintf(stderr, "xdpnat: cannot open %s: %s (is the daemon running?)\n", local,
			strerror(errno));
	return fd;
}

static void json_print(json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const char *endpoint(__be32 addr, __be16 port, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	snprintf(buf, len, "%s:%u", a, ntohs(port));
	return buf;
}

/* ---------------------------------------------------------------- flows */

struct flow_row {
	char proto[8], kind[8], inside[24], outside[24], remote[24];
	char wan[IF_NAMESIZE], state[12];
	uint64_t pkts_orig, bytes_orig, pkts_reply, bytes_reply;
	uint64_t idle;			/* seconds since either direction's last packet */
};

static const char *proto_name(uint8_t proto, char *buf, size_t len)
{
	switch (proto) {
	case IPPROTO_TCP: return "tcp";
	case IPPROTO_UDP: return "udp";
	case IPPROTO_ICMP: return "icmp";
	}
	snprintf(buf, len, "%u", proto);
	return buf;
}

static const char *kind_name(uint8_t kind)
{
	switch (kind) {
	case NAT_KIND_MASQ: return "masq";
	case NAT_KIND_FORWARD: return "forward";
	case NAT_KIND_HAIRPIN: return "hairpin";
	case NAT_KIND_EXPECT: return "expect";
	}
	return "?";
}

static const char *state_name(uint8_t state)
{
	switch (state) {
	case NAT_CT_NEW: return "new";
	case NAT_CT_SYN_SENT: return "syn_sent";
	case NAT_CT_ESTABLISHED: return "established";
	case NAT_CT_FIN_WAIT: return "fin_wait";
	case NAT_CT_CLOSING: return "closing";
	}
	return "?";
}

/*
 * Who is who depends on the kind: a masqueraded flow starts inside, a
 * forwarded or expected one starts outside, and a hairpin starts inside
 * towards a WAN address and ends at an inside server (shown as remote).
 */
static void flow_endpoints(const struct nat_ct_key *k, const struct nat_ct_value *v,
			   struct flow_row *r)
{
	switch (v->kind) {
	case NAT_KIND_MASQ:
		endpoint(k->saddr, k->sport, r->inside, sizeof(r->inside));
		endpoint(v->to_saddr, v->to_sport, r->outside, sizeof(r->outside));
		endpoint(k->daddr, k->dport, r->remote, sizeof(r->remote));
		break;
	case NAT_KIND_HAIRPIN:
		endpoint(k->saddr, k->sport, r->inside, sizeof(r->inside));
		endpoint(k->daddr, k->dport, r->outside, sizeof(r->outside));
		endpoint(v->to_daddr, v->to_dport, r->remote, sizeof(r->remote));
		break;
	default:	/* FORWARD, EXPECT */
		endpoint(v->to_daddr, v->to_dport, r->inside, sizeof(r->inside));
		endpoint(k->daddr, k->dport, r->outside, sizeof(r->outside));
		endpoint(k->saddr, k->sport, r->remote, sizeof(r->remote));
		break;
	}
}

static void flow_row_fill(int ct_fd, const struct nat_ct_key *k, const struct nat_ct_value *v,
			  uint64_t now_ns, struct flow_row *r)
{
	struct nat_ct_key rk;
	struct nat_ct_value rv = {};
	__u32 last = v->last_seen;

	memset(r, 0, sizeof(*r));
	ct_twin_key(&rk, v, k->proto);
	if (bpf_map_lookup_elem(ct_fd, &rk, &rv) == 0 &&
	    nat_ticks_since(rv.last_seen, last) > 0)
		last = rv.last_seen;
	snprintf(r->proto, sizeof(r->proto), "%s", proto_name(k->proto, r->proto, sizeof(r->proto)));
	snprintf(r->kind, sizeof(r->kind), "%s", kind_name(v->kind));
	flow_endpoints(k, v, r);
	if (!if_indextoname(v->wan_ifindex, r->wan))
		snprintf(r->wan, sizeof(r->wan), "#%u", v->wan_ifindex);
	snprintf(r->state, sizeof(r->state), "%s", state_name(v->state));
	r->pkts_orig = v->packets;
	r->bytes_orig = v->bytes;
	r->pkts_reply = rv.packets;
	r->bytes_reply = rv.bytes;
	r->idle = ((uint64_t)nat_ticks_since(nat_tick(now_ns), last) << NAT_TICK_SHIFT) /
		  1000000000ULL;
}

static json_object *flow_row_json(const struct flow_row *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "proto", json_object_new_string(r->proto));
	json_object_object_add(o, "kind", json_object_new_string(r->kind));
	json_object_object_add(o, "inside", json_object_new_string(r->inside));
	json_object_object_add(o, "outside", json_object_new_string(r->outside));
	json_object_object_add(o, "remote", json_object_new_string(r->remote));
	json_object_object_add(o, "wan", json_object_new_string(r->wan));
	json_object_object_add(o, "state", json_object_new_string(r->state));
	json_object_object_add(o, "packets_orig", json_object_new_int64((int64_t)r->pkts_orig));
	json_object_object_add(o, "bytes_orig", json_object_new_int64((int64_t)r->bytes_orig));
	json_object_object_add(o, "packets_reply", json_object_new_int64((int64_t)r->pkts_reply));
	json_object_object_add(o, "bytes_reply", json_object_new_int64((int64_t)r->bytes_reply));
	json_object_object_add(o, "idle", json_object_new_int64((int64_t)r->idle));
	return o;
}

#define FLOW_FMT "%-5s %-7s %-21s %-21s %-21s %-10s %-11s %10s %12s %10s %12s %6s\n"

static void flow_row_print(const struct flow_row *r)
{
	char n[5][24];

	snprintf(n[0], sizeof(n[0]), "%llu", (unsigned long long)r->pkts_orig);
	snprintf(n[1], sizeof(n[1]), "%llu", (unsigned long long)r->bytes_orig);
	snprintf(n[2], sizeof(n[2]), "%llu", (unsigned long long)r->pkts_reply);
	snprintf(n[3], sizeof(n[3]), "%llu", (unsigned long long)r->bytes_reply);
	snprintf(n[4], sizeof(n[4]), "%llu", (unsigned long long)r->idle);
	printf(FLOW_FMT, r->proto, r->kind, r->inside, r->outside, r->remote, r->wan, r->state,
	       n[0], n[1], n[2], n[3], n[4]);
}

/* FTP control flows: the ALG's state (nat_alg) and the expectations the
 * flow opened (nat_expect entries whose ctl is this flow). */
struct alg_view {
	int alg_fd;
	size_t nexp;
	struct nat_expect_key ek[XDPNAT_EXPECT_MAX];
	struct nat_expect_value ev[XDPNAT_EXPECT_MAX];
};

static void alg_view_load(const struct cli_ctx *c, struct alg_view *a)
{
	int fd = cli_open_map(c, XDPNAT_MAP_EXPECT);
	struct nat_expect_key k, *prev = NULL;

	a->alg_fd = cli_open_map(c, XDPNAT_MAP_ALG);
	a->nexp = 0;
	while (fd >= 0 && a->nexp < XDPNAT_EXPECT_MAX &&
	       bpf_map_get_next_key(fd, prev, &a->ek[a->nexp]) == 0) {
		k = a->ek[a->nexp];
		prev = &k;
		if (bpf_map_lookup_elem(fd, &k, &a->ev[a->nexp]) == 0)
			a->nexp++;
	}
	if (fd >= 0)
		close(fd);
}

static json_object *alg_json(const struct alg_view *a, const struct nat_ct_key *k,
			     uint64_t now_ns)
{
	json_object *o = json_object_new_object(), *exps = json_object_new_array();
	struct nat_alg_value av = {};
	char r[24], w[24], in[24];

	if (a->alg_fd >= 0)
		bpf_map_lookup_elem(a->alg_fd, k, &av);
	json_object_object_add(o, "state", json_object_new_string(
		alg_ftp_state_name((enum alg_ftp_state)av.state)));
	json_object_object_add(o, "user_packets", json_object_new_int64((int64_t)av.user_packets));
	json_object_object_add(o, "delta_orig", json_object_new_int(av.delta[0]));
	json_object_object_add(o, "delta_reply", json_object_new_int(av.delta[1]));
	for (size_t i = 0; i < a->nexp; i++) {
		const struct nat_expect_value *e = &a->ev[i];
		json_object *x;

		if (memcmp(&e->ctl, k, sizeof(*k)))
			continue;
		x = json_object_new_object();
		inet_ntop(AF_INET, &a->ek[i].raddr, r, sizeof(r));
		endpoint(a->ek[i].waddr, a->ek[i].wport, w, sizeof(w));
		endpoint(e->to_addr, e->to_port, in, sizeof(in));
		json_object_object_add(x, "remote", json_object_new_string(r));
		json_object_object_add(x, "outside", json_object_new_string(w));
		json_object_object_add(x, "inside", json_object_new_string(in));
		json_object_object_add(x, "expires_in", json_object_new_int64(
			e->expires > now_ns ? (int64_t)((e->expires - now_ns) / 1000000000ULL) : 0));
		json_object_array_add(exps, x);
	}
	json_object_object_add(o, "expectations", exps);
	return o;
}

static void alg_print(json_object *alg)
{
	json_object *exps = json_object_object_get(alg, "expectations");

	printf("      alg ftp: %s, %lld packets in userspace, offsets %+d/%+d\n",
	       json_object_get_string(json_object_object_get(alg, "state")),
	       (long long)json_object_get_int64(json_object_object_get(alg, "user_packets")),
	       json_object_get_int(json_object_object_get(alg, "delta_orig")),
	       json_object_get_int(json_object_object_get(alg, "delta_reply")));
	for (size_t i = 0; i < json_object_array_length(exps); i++) {
		json_object *x = json_object_array_get_idx(exps, i);

		printf("      expect %s -> %s => %s, %lld s left\n",
		       json_object_get_string(json_object_object_get(x, "remote")),
		       json_object_get_string(json_object_object_get(x, "outside")),
		       json_object_get_string(json_object_object_get(x, "inside")),
		       (long long)json_object_get_int64(json_object_object_get(x, "expires_in")));
	}
}

int cli_flows(const struct cli_ctx *c)
{
	int fd = cli_open_map(c, XDPNAT_MAP_CT);
	json_object *arr = json_object_new_array();
	struct nat_ct_key key, next;
	struct nat_ct_value val;
	struct flow_row row;
	uint64_t now = nat_now_ns(), n = 0;
	struct alg_view *algv;
	void *prev = NULL;

	if (fd < 0) {
		json_object_put(arr);
		return 1;
	}
	algv = calloc(1, sizeof(*algv));
	if (!algv) {
		close(fd);
		json_object_put(arr);
		return 1;
	}
	alg_view_load(c, algv);
	if (!c->json)
		printf(FLOW_FMT, "PROTO", "KIND", "INSIDE", "OUTSIDE", "REMOTE", "WAN", "STATE",
		       "PKTS_ORIG", "BYTES_ORIG", "PKTS_REPL", "BYTES_REPL", "IDLE");
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		json_object *o, *alg = NULL;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val) || val.dir != NAT_DIR_ORIG)
			continue;
		flow_row_fill(fd, &key, &val, now, &row);
		n++;
		if (val.flags & NAT_CT_F_ALG)
			alg = alg_json(algv, &key, now);
		if (c->json) {
			o = flow_row_json(&row);
			if (alg)
				json_object_object_add(o, "alg", alg);
			json_object_array_add(arr, o);
		} else {
			flow_row_print(&row);
			if (alg) {
				alg_print(alg);
				json_object_put(alg);
			}
		}
	}
	if (c->json)
		json_print(arr);
	else
		printf("%llu flows\n", (unsigned long long)n);
	json_object_put(arr);
	if (algv->alg_fd >= 0)
		close(algv->alg_fd);
	free(algv);
	close(fd);
	return 0;
}

/* ---------------------------------------------------------------- stats */

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
	STATS_FIELD(alg_xsk_fail), STATS_FIELD(drop_alg_no_route), STATS_FIELD(expect_used),
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
	now = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
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
			      const struct table_use *u)
{
	printf("%-24s %20s\n", "COUNTER", "VALUE");
	for (size_t i = 0; i < NFIELDS(stats_fields); i++)
		printf("%-24s %20llu\n", stats_fields[i].name,
		       (unsigned long long)field_at(s, stats_fields[i].offset));
	for (size_t i = 0; i < NFIELDS(ctl_fields); i++)
		printf("%-24s %20llu\n", ctl_fields[i].name,
		       (unsigned long long)field_at(ctl, ctl_fields[i].offset));
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
			     const struct table_use *u)
{
	json_object *o = json_object_new_object(), *t = json_object_new_object();

	json_object_object_add(o, "datapath", fields_json(s, stats_fields, NFIELDS(stats_fields)));
	json_object_object_add(o, "controller", fields_json(ctl, ctl_fields, NFIELDS(ctl_fields)));
	json_object_object_add(t, "flows", json_object_new_int64((int64_t)u->flows));
	json_object_object_add(t, "entries", json_object_new_int64((int64_t)u->entries));
	json_object_object_add(t, "max_entries", json_object_new_int64((int64_t)u->max_entries));
	json_object_object_add(t, "nh_cached", json_object_new_int64((int64_t)u->nh_cached));
	json_object_object_add(t, "route_changes", json_object_new_int64((int64_t)u->rg.bumps));
	json_object_object_add(o, "conntrack", t);
	json_print(o);
	json_object_put(o);
}

int cli_stats(const struct cli_ctx *c)
{
	struct nat_stats s;
	struct nat_ctl_stats ctl;
	struct table_use u;

	if (read_stats_sum(c, &s) || read_ctl_stats(c, &ctl) || read_table_use(c, &u))
		return 1;
	if (c->json)
		stats_print_json(&s, &ctl, &u);
	else
		stats_print_table(&s, &ctl, &u);
	return 0;
}

/* ---------------------------------------------------------------- status */

static json_object *read_json_file(const struct xdpnat_config *cfg, const char *name)
{
	char path[PATH_MAX];

	if (run_file_path(cfg, name, path, sizeof(path)) || access(path, R_OK))
		return NULL;
	return json_object_from_file(path);
}

static const char *jstr(json_object *o, const char *key, const char *dflt)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || json_object_is_type(v, json_type_null))
		return dflt;
	return json_object_get_string(v);
}

static int64_t jint(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

/* Is our program still attached there? Compares the XDP prog id the
 * daemon recorded with what the kernel says now. */
static bool iface_attached(json_object *ifc)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int64_t id = jint(ifc, "xdp_prog_id");

	if (bpf_xdp_query((int)jint(ifc, "ifindex"), 0, &q))
		return false;
	return id && q.prog_id == (__u32)id;
}

static int check_attached(json_object *status)
{
	json_object *ifs;
	int bad = 0;

	if (!json_object_object_get_ex(status, "interfaces", &ifs))
		return 1;
	for (size_t i = 0; i < json_object_array_length(ifs); i++) {
		json_object *ifc = json_object_array_get_idx(ifs, i);
		bool ok = iface_attached(ifc);

		json_object_object_add(ifc, "attached", json_object_new_boolean(ok));
		if (!ok)
			bad++;
	}
	return bad;
}

static void status_print_iface(json_object *ifc)
{
	const char *addr = jstr(ifc, "address", "");
	const char *role = jstr(ifc, "role", "?");
	char attach[64];
	json_object *attached;

	json_object_object_get_ex(ifc, "attached", &attached);
	snprintf(attach, sizeof(attach), "xdp %s%s + tc%s", jstr(ifc, "xdp_mode", "none"),
		 json_object_get_boolean(attached) ? "" : " (NOT ATTACHED)",
		 json_object_get_boolean(json_object_object_get(ifc, "tc_egress")) ? "" : " (no)");
	if (!*addr)
		addr = !strcmp(role, "wan") ? "none: passing traffic untouched" : "none";
	printf("  %-12s %-4s %-28s %s", jstr(ifc, "name", "?"), role, attach, addr);
	if (!strcmp(role, "wan") && *jstr(ifc, "gateway", ""))
		printf(" via %s", jstr(ifc, "gateway", ""));
	printf("\n");
}

static void format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0) {
		snprintf(buf, len, "-");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* One entry of <run-dir>/ddns.json, written by the DDNS worker (ddns.c). */
static void status_print_ddns_entry(json_object *e)
{
	char last[32], next[32];

	format_time(jint(e, "last_time"), last, sizeof(last));
	format_time(jint(e, "next_attempt"), next, sizeof(next));
	printf("  %s (%s, %s): sent %s, result %s at %s, next attempt %s, %s\n",
	       jstr(e, "name", "?"), jstr(e, "wan", "?"), jstr(e, "provider", "?"),
	       *jstr(e, "last_address", "") ? jstr(e, "last_address", "") : "nothing",
	       *jstr(e, "last_result", "") ? jstr(e, "last_result", "") : "-", last, next,
	       jstr(e, "state", "?"));
}

static void status_print_ddns(json_object *ddns)
{
	printf("ddns:\n");
	if (!json_object_is_type(ddns, json_type_array)) {
		printf("  %s\n", json_object_to_json_string_ext(ddns, JSON_C_TO_STRING_PLAIN));
		return;
	}
	for (size_t i = 0; i < json_object_array_length(ddns); i++)
		status_print_ddns_entry(json_object_array_get_idx(ddns, i));
}

static void status_print(json_object *st, int64_t uptime, bool running)
{
	json_object *ifs, *ddns;

	printf("daemon: %s", running ? "running" : "NOT RUNNING");
	if (running)
		printf(", pid %lld, up %llds", (long long)jint(st, "pid"), (long long)uptime);
	printf("\nconfig: %s\npin-dir: %s\ninterfaces:\n", jstr(st, "config", "?"),
	       jstr(st, "pin_dir", "?"));
	if (json_object_object_get_ex(st, "interfaces", &ifs))
		for (size_t i = 0; i < json_object_array_length(ifs); i++)
			status_print_iface(json_object_array_get_idx(ifs, i));
	if (json_object_object_get_ex(st, "ddns", &ddns))
		status_print_ddns(ddns);
}

int cli_status(const struct cli_ctx *c)
{
	json_object *st = read_json_file(c->cfg, RUN_STATUS_FILE), *ddns;
	int64_t uptime;
	int detached;

	if (!c->daemon_pid || !st) {
		fprintf(stderr, "xdpnat: not running (no live daemon found via %s/%s)\n",
			c->cfg->run_dir, RUN_PID_FILE);
		json_object_put(st);
		return 1;
	}
	detached = check_attached(st);
	uptime = (int64_t)time(NULL) - jint(st, "started");
	json_object_object_add(st, "uptime", json_object_new_int64(uptime));
	json_object_object_add(st, "running", json_object_new_boolean(true));
	ddns = read_json_file(c->cfg, RUN_DDNS_FILE);
	if (ddns && !json_object_object_get_ex(st, "ddns", NULL))
		json_object_object_add(st, "ddns", ddns);
	else
		json_object_put(ddns);
	if (c->json)
		json_print(st);
	else
		status_print(st, uptime, true);
	json_object_put(st);
	if (detached) {
		fprintf(stderr, "xdpnat: daemon runs but %d interface(s) lost the XDP program\n",
			detached);
		return 1;
	}
	return 0;
}
