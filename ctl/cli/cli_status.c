/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli_status.c - `xdpnat status`: the daemon's own account of itself
 * (<run-dir>/status.json and ddns.json, and the PCP/NAT-PMP mappings of
 * <state-dir>/portmap.json), with each interface checked
 * against the kernel for whether our XDP program is still attached.
 *
 * The data path outlives the daemon, so there are three answers, each
 * with its exit status: the daemon runs with the data path attached (0);
 * the data path is attached but no daemon runs: flows are translated but
 * frozen, nothing expires and WAN address changes are not followed (1);
 * nothing is attached (2). A running daemon whose FTP ALG thread stopped
 * is degraded (3).
 */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "common/linkinfo.h"
#include "common/runfiles.h"

static json_object *read_json_file(const struct xdpnat_config *cfg, const char *name)
{
	char path[PATH_MAX];
	json_object *o;
	int fd;

	if (run_path(path, sizeof(path), cfg->run_dir, name) || (fd = run_open_read(path)) < 0)
		return NULL;
	o = json_object_from_fd(fd);
	close(fd);
	return o;
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

		if (json_object_object_get_ex(ifc, "absent", NULL))
			continue;	/* waited for: nothing to lose */

		json_object_object_add(ifc, "attached", json_object_new_boolean(ok));
		if (!ok)
			bad++;
	}
	return bad;
}

/* One interface: name, role, link type, the path packets take there (from
 * status.json's path, or built from xdp_mode and tc_egress for a file an
 * older daemon wrote), address; then its note, if a limitation applies. */
static void status_print_iface(json_object *ifc)
{
	const char *addr = jstr(ifc, "address", "");
	const char *role = jstr(ifc, "role", "?");
	const char *note = jstr(ifc, "note", "");
	bool tc = json_object_get_boolean(json_object_object_get(ifc, "tc_egress"));
	char attach[64];
	json_object *attached;

	json_object_object_get_ex(ifc, "attached", &attached);
	snprintf(attach, sizeof(attach), "%s%s",
		 jstr(ifc, "path", linkinfo_path(jstr(ifc, "xdp_mode", "none"), tc)),
		 json_object_get_boolean(attached) ||
		 json_object_object_get_ex(ifc, "absent", NULL) ? "" : " (NOT ATTACHED)");
	if (!*addr)
		addr = !strcmp(role, "wan") ? "none: passing traffic untouched" : "none";
	printf("  %-12s %-4s %-9s %-28s %s", jstr(ifc, "name", "?"), role,
	       jstr(ifc, "link_type", "?"), attach, addr);
	if (!strcmp(role, "wan") && *jstr(ifc, "gateway", ""))
		printf(" via %s", jstr(ifc, "gateway", ""));
	printf("\n");
	if (*note)
		printf("  %-12s %s\n", "", note);
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

/* <state-dir>/portmap.json, written by the PCP/NAT-PMP server
 * (portmap/portmap.c): its mappings, each with the seconds left now. */
static json_object *read_portmap(const struct xdpnat_config *cfg)
{
	char path[PATH_MAX];
	json_object *o, *arr;
	int64_t since;
	int fd;

	if (!cfg->nportmaps || run_path(path, sizeof(path), cfg->state_dir, STATE_PORTMAP_FILE) ||
	    (fd = run_open_read(path)) < 0)
		return NULL;
	o = json_object_from_fd(fd);
	close(fd);
	if (!o)
		return NULL;
	since = (int64_t)time(NULL) - jint(o, "saved_at");
	if (json_object_object_get_ex(o, "mappings", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *m = json_object_array_get_idx(arr, i);
			int64_t left = jint(m, "lifetime_left") - (since > 0 ? since : 0);

			json_object_object_add(m, "lifetime_left",
					       json_object_new_int64(left > 0 ? left : 0));
		}
	return o;
}

static void status_print_portmap(json_object *pm)
{
	json_object *arr, *c;

	printf("port mappings (PCP, NAT-PMP), epoch %lld:\n", (long long)jint(pm, "epoch"));
	if (json_object_object_get_ex(pm, "mappings", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			json_object *m = json_object_array_get_idx(arr, i);

			printf("  %s %s:%lld -> %s:%lld on %s (%s, %lld s left)\n",
			       jstr(m, "proto", "?"), jstr(m, "inside", "?"),
			       (long long)jint(m, "inside_port"), jstr(m, "outside", "?"),
			       (long long)jint(m, "outside_port"), jstr(m, "wan", "?"),
			       jstr(m, "by", "?"), (long long)jint(m, "lifetime_left"));
		}
	if (json_object_object_get_ex(pm, "counters", &c)) {
		printf("  requests %lld, answered %lld, errors %lld; dropped: not to the LAN "
		       "%lld, rate limit %lld, malformed %lld\n",
		       (long long)jint(c, "requests"), (long long)jint(c, "answered"),
		       (long long)jint(c, "errors_sent"), (long long)jint(c, "dropped_not_lan"),
		       (long long)jint(c, "dropped_rate"), (long long)jint(c, "dropped_malformed"));
	}
}

/* status.json's "failover" (wan/failover.h): one line per tracked WAN. */
static void status_print_failover(json_object *fo)
{
	char since[32];

	printf("failover:\n");
	json_object_object_foreach(fo, name, w) {
		format_time(jint(w, "since"), since, sizeof(since));
		printf("  %-12s %-4s since %s (%s), probes %s (newest first), rtt %lld ms, "
		       "%s, %lld flows removed\n", name, jstr(w, "state", "?"), since,
		       jstr(w, "reason", "?"), *jstr(w, "probes", "") ? jstr(w, "probes", "") : "-",
		       (long long)jint(w, "last_rtt_ms"),
		       json_object_get_boolean(json_object_object_get(w, "steered"))
			       ? "new flows steered away" : "in use",
		       (long long)jint(w, "flows_removed"));
	}
}

static void status_print(json_object *st, int64_t uptime, bool running)
{
	json_object *ifs, *ddns, *pm, *fo;

	printf("daemon: %s", running ? "running" : "NOT RUNNING");
	if (running)
		printf(", pid %lld, up %llds", (long long)jint(st, "pid"), (long long)uptime);
	printf("\nconfig: %s\npin-dir: %s\n", jstr(st, "config", "?"), jstr(st, "pin_dir", "?"));
	if (running && jstr(st, "metrics", "")[0])
		printf("metrics: http://%s/metrics\n", jstr(st, "metrics", ""));
	printf("interfaces:\n");
	if (json_object_object_get_ex(st, "interfaces", &ifs))
		for (size_t i = 0; i < json_object_array_length(ifs); i++)
			status_print_iface(json_object_array_get_idx(ifs, i));
	if (json_object_object_get_ex(st, "failover", &fo))
		status_print_failover(fo);
	if (json_object_object_get_ex(st, "ddns", &ddns))
		status_print_ddns(ddns);
	if (json_object_object_get_ex(st, "port_mapping", &pm))
		status_print_portmap(pm);
}

/* Is an XDP program of ours on interface `name`? */
static bool ours_attached(const char *name)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int ifindex = (int)if_nametoindex(name), fd;
	bool ours;

	if (!ifindex || bpf_xdp_query(ifindex, 0, &q) || !q.prog_id)
		return false;
	fd = bpf_prog_get_fd_by_id(q.prog_id);
	if (fd < 0)
		return false;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strncmp(info.name, "xdpnat_xdp_", 11);
	close(fd);
	return ours;
}

/* No daemon: is the data path still attached to the configured
 * interfaces? Exit 1 if so (frozen), 2 if nothing is attached. */
static int status_no_daemon(const struct cli_ctx *c, json_object *st)
{
	const struct xdpnat_config *cfg = c->cfg;
	int n = 0, total = cfg->nwans + cfg->nlans;
	int64_t since = st ? jint(st, "stopped") : 0;
	char path[PATH_MAX], when[32];
	struct stat sb;

	const char *name;

	for (int i = 0; (name = cfg_iface_name(cfg, i)); i++)
		n += ours_attached(name);
	if (!since && st && !run_path(path, sizeof(path), cfg->run_dir, RUN_STATUS_FILE) &&
	    !stat(path, &sb))
		since = sb.st_mtime;	/* killed: the last time it wrote its status */
	format_time(since, when, sizeof(when));
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "running", json_object_new_boolean(false));
		json_object_object_add(o, "attached_interfaces", json_object_new_int(n));
		json_object_object_add(o, "since", json_object_new_int64(since));
		cli_print_json(o);
		json_object_put(o);
	}
	if (!n) {
		fprintf(stderr, "xdpnat: not running, nothing attached\n");
		return 2;
	}
	fprintf(stderr, "xdpnat: daemon NOT RUNNING (since %s); the data path is attached to %d "
		"of %d interface(s) and keeps translating the flows it knows, but they are "
		"frozen: nothing expires and WAN address changes are not followed. "
		"`xdpnat run` adopts it, `xdpnat detach` removes it.\n", when, n, total);
	return 1;
}

int cli_status(const struct cli_ctx *c)
{
	json_object *st = read_json_file(c->cfg, RUN_STATUS_FILE), *ddns, *pm;
	int64_t uptime;
	int detached, rc;
	bool degraded;

	if (!c->daemon_pid || !st) {
		rc = status_no_daemon(c, st);
		json_object_put(st);
		return rc;
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
	pm = read_portmap(c->cfg);
	if (pm)
		json_object_object_add(st, "port_mapping", pm);
	if (c->json)
		cli_print_json(st);
	else
		status_print(st, uptime, true);
	degraded = !strcmp(jstr(st, "alg", ""), "failed");
	json_object_put(st);
	if (detached) {
		fprintf(stderr, "xdpnat: daemon runs but %d interface(s) lost the XDP program\n",
			detached);
		return 1;
	}
	if (degraded) {
		fprintf(stderr, "xdpnat: degraded: the FTP ALG has stopped; FTP control flows "
			"pass uninspected until a reload (SIGHUP) restarts it\n");
		return 3;
	}
	return 0;
}
