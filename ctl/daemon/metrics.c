/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* metrics.c - see metrics.h. Names follow the Prometheus conventions:
 * xdpnat_ prefix, counters end in _total, bytes and seconds as base units,
 * the WAN and the drop reason as labels. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include "nat_ct_key.h"
#include "common/counters.h"
#include "common/ctflow.h"
#include "common/log.h"
#include "daemon/metrics.h"
#include "daemon/metrics_http.h"

#ifndef XDPNAT_VERSION
#define XDPNAT_VERSION "unknown"
#endif

/* ------------------------------------------------------------ rendering */

static const char *const kind_names[METRICS_KINDS] = {
	[NAT_KIND_MASQ] = "masquerade", [NAT_KIND_FORWARD] = "forward",
	[NAT_KIND_HAIRPIN] = "hairpin", [NAT_KIND_EXPECT] = "expect",
	[NAT_KIND_ROUTED] = "routed", [NAT_KIND_MAPPED] = "mapped",
};

static const char *const state_names[METRICS_STATES] = {
	[NAT_CT_NEW] = "new", [NAT_CT_SYN_SENT] = "syn_sent",
	[NAT_CT_ESTABLISHED] = "established", [NAT_CT_FIN_WAIT] = "fin_wait",
	[NAT_CT_CLOSING] = "closing", [NAT_CT_SYN_RECV] = "syn_recv",
};

static void head(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP xdpnat_%s %s\n# TYPE xdpnat_%s %s\n", name, help, name, type);
}

static void one(FILE *out, const char *name, const char *type, const char *help, uint64_t v)
{
	head(out, name, type, help);
	fprintf(out, "xdpnat_%s %" PRIu64 "\n", name, v);
}

/* A label value: backslash, double quote and newline escaped. */
static void label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', out);
		if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void table(FILE *out, const void *base, const struct counter_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct counter_field *f = &t->f[i];

		if (f->kind == COUNTER_TOTAL || f->kind == COUNTER_GAUGE)
			one(out, f->metric, f->kind == COUNTER_TOTAL ? "counter" : "gauge", f->help,
			    counter_value(base, f));
	}
}

static void drops(FILE *out, const struct nat_stats *s)
{
	const struct counter_table *t = &counters_stats;

	head(out, "drops_total", "counter", "Packets dropped by the data path, by reason.");
	for (size_t i = 0; i < t->n; i++)
		if (t->f[i].kind == COUNTER_DROP)
			fprintf(out, "xdpnat_drops_total{reason=\"%s\"} %" PRIu64 "\n",
				t->f[i].metric, counter_value(s, &t->f[i]));
}

static void flows(FILE *out, const struct metrics_snapshot *s)
{
	head(out, "flows", "gauge", "Flows in the conntrack table, by kind and state.");
	for (int k = 1; k < METRICS_KINDS; k++)
		for (int st = 0; st < METRICS_STATES; st++)
			fprintf(out, "xdpnat_flows{kind=\"%s\",state=\"%s\"} %" PRIu64 "\n",
				kind_names[k], state_names[st], s->flows[k][st]);
	one(out, "flows_limit", "gauge", "Flows the conntrack table holds at most (conntrack-max).",
	    s->flows_limit);
	one(out, "conntrack_entries", "gauge",
	    "Entries in nat_ct (two per flow, four per hairpin flow).", s->ct_entries);
	one(out, "conntrack_entries_limit", "gauge", "Entries nat_ct holds at most.",
	    s->ct_entries_limit);
}

static void wans(FILE *out, const struct metrics_snapshot *s)
{
	static const char *const dir[2] = { [METRICS_RX] = "rx", [METRICS_TX] = "tx" };
	const char *what[2] = { "packets", "bytes" };

	for (int w = 0; w < 2; w++) {
		fprintf(out, "# HELP xdpnat_wan_%s_total %s of translated flows through the WAN "
			"(rx: from it, tx: to it); counted from the flow table, see README.\n"
			"# TYPE xdpnat_wan_%s_total counter\n", what[w],
			w ? "Bytes (IP length)" : "Packets", what[w]);
		for (int i = 0; i < s->nwans; i++)
			for (int d = 0; d < 2; d++) {
				fprintf(out, "xdpnat_wan_%s_total{wan=\"", what[w]);
				label(out, s->wans[i].ifname);
				fprintf(out, "\",direction=\"%s\"} %" PRIu64 "\n", dir[d],
					w ? s->wans[i].bytes[d] : s->wans[i].packets[d]);
			}
	}
}

static void ddns_labels(FILE *out, const char *metric, const struct ddns_name_state *d)
{
	fprintf(out, "xdpnat_%s{name=\"", metric);
	label(out, d->fqdn);
	fputs("\",wan=\"", out);
	label(out, d->wan);
	fputs("\"}", out);
}

static void ddns(FILE *out, const struct metrics_snapshot *s)
{
	if (!s->nddns)
		return;
	head(out, "ddns_last_result", "gauge",
	     "1 if the last DDNS answer for the name was a success, 0 if a failure, "
	     "-1 if none came yet.");
	for (int i = 0; i < s->nddns; i++) {
		ddns_labels(out, "ddns_last_result", &s->ddns[i]);
		fprintf(out, " %d\n", !s->ddns[i].answered ? -1 : s->ddns[i].last_ok ? 1 : 0);
	}
	head(out, "ddns_last_success_timestamp_seconds", "gauge",
	     "When the name was last updated successfully (unix time, 0 = never).");
	for (int i = 0; i < s->nddns; i++) {
		ddns_labels(out, "ddns_last_success_timestamp_seconds", &s->ddns[i]);
		fprintf(out, " %lld\n", (long long)s->ddns[i].last_success);
	}
	head(out, "ddns_failures_total", "counter",
	     "Failed DDNS answers for the name since the daemon started.");
	for (int i = 0; i < s->nddns; i++) {
		ddns_labels(out, "ddns_failures_total", &s->ddns[i]);
		fprintf(out, " %" PRIu64 "\n", s->ddns[i].failures_total);
	}
	head(out, "ddns_stopped", "gauge",
	     "1 after a permanent failure: no updates until the configuration changes.");
	for (int i = 0; i < s->nddns; i++) {
		ddns_labels(out, "ddns_stopped", &s->ddns[i]);
		fprintf(out, " %d\n", s->ddns[i].stopped);
	}
}

/* xdpnat_<metric>{wan="..."} of a tracked WAN, before its value. */
static void health_labels(FILE *out, const char *metric, const struct failover_health *h)
{
	fprintf(out, "xdpnat_%s{wan=\"", metric);
	label(out, h->ifname);
	fputs("\"} ", out);
}

/* WAN health of `track` (wan/failover.c): up or down, since when, the
 * last probe's round trip, flows removed because the WAN was dead. */
static void health(FILE *out, const struct metrics_snapshot *s)
{
	const struct failover_health *h = s->health;

	if (!s->nhealth)
		return;
	head(out, "wan_up", "gauge", "1 if a tracked WAN answers its probes, 0 if it is down.");
	for (int i = 0; i < s->nhealth; i++) {
		health_labels(out, "wan_up", &h[i]);
		fprintf(out, "%d\n", h[i].up);
	}
	head(out, "wan_state_since_timestamp_seconds", "gauge",
	     "When a tracked WAN last went up or down (or tracking began), unix time.");
	for (int i = 0; i < s->nhealth; i++) {
		health_labels(out, "wan_state_since_timestamp_seconds", &h[i]);
		fprintf(out, "%lld\n", (long long)h[i].since);
	}
	head(out, "wan_state_changes_total", "counter",
	     "Up/down changes of a tracked WAN since the daemon started.");
	for (int i = 0; i < s->nhealth; i++) {
		health_labels(out, "wan_state_changes_total", &h[i]);
		fprintf(out, "%" PRIu64 "\n", h[i].changes);
	}
	head(out, "wan_probe_rtt_seconds", "gauge",
	     "Round trip of the last answered probe of a tracked WAN.");
	for (int i = 0; i < s->nhealth; i++) {
		health_labels(out, "wan_probe_rtt_seconds", &h[i]);
		fprintf(out, "%.3f\n", h[i].rtt_ms / 1000.0);
	}
	head(out, "wan_dead_flows_removed_total", "counter",
	     "Flows removed because their tracked WAN was down.");
	for (int i = 0; i < s->nhealth; i++) {
		health_labels(out, "wan_dead_flows_removed_total", &h[i]);
		fprintf(out, "%" PRIu64 "\n", h[i].flows_removed);
	}
}

int metrics_render(FILE *out, const struct metrics_snapshot *s)
{
	head(out, "build_info", "gauge", "The xdpnat build, as a label; always 1.");
	fputs("xdpnat_build_info{version=\"", out);
	label(out, s->version ? s->version : XDPNAT_VERSION);
	fputs("\"} 1\n", out);
	one(out, "start_time_seconds", "gauge", "When the daemon started (unix time).",
	    (uint64_t)s->start_time);
	one(out, "scrape_errors", "gauge", "1 if a map could not be read for this scrape.",
	    s->partial);
	table(out, &s->stats, &counters_stats);
	drops(out, &s->stats);
	table(out, &s->ctl, &counters_ctl);
	table(out, &s->alg, &counters_alg);
	flows(out, s);
	one(out, "expectations", "gauge", "FTP data connections expected (nat_expect entries).",
	    s->expectations);
	one(out, "gate_sessions", "gauge",
	    "Live FTP control sessions that hold a gated forward open (nat_gate).",
	    s->gate_sessions);
	wans(out, s);
	health(out, s);
	ddns(out, s);
	return ferror(out) ? -1 : 0;
}

/* ------------------------------------------------------------ collecting */

struct metrics {
	struct nat_maps m;		/* the daemon's fds: valid while it runs */
	struct metrics_http *http;
	pthread_mutex_t lock;
	/* under lock: what only the daemon knows */
	struct metrics_wan wans[CFG_MAX_IFACES];	/* with what was last reported */
	int nwans;
	struct ddns *ddns;
	time_t started;
	uint64_t flows_limit;
	struct failover_health health[CFG_MAX_IFACES];
	int nhealth;
};

static struct metrics_wan *wan_of(struct metrics_snapshot *s, uint32_t ifindex)
{
	for (int i = 0; i < s->nwans; i++)
		if (s->wans[i].ifindex == ifindex)
			return &s->wans[i];
	return NULL;
}

static void count_entry(struct metrics_snapshot *s, const struct nat_ct_value *v)
{
	struct metrics_wan *w;
	int d;

	if (v->dir == NAT_DIR_ORIG && v->kind < METRICS_KINDS && v->state < METRICS_STATES)
		s->flows[v->kind][v->state]++;
	/* a hairpin flow never crosses a WAN */
	if (v->kind == NAT_KIND_HAIRPIN || v->dir == NAT_DIR_HAIRPIN_EGRESS ||
	    !(w = wan_of(s, v->wan_ifindex)))
		return;
	d = ct_from_lan(v) ? METRICS_TX : METRICS_RX;
	w->packets[d] += v->packets;
	w->bytes[d] += v->bytes;
}

/* nat_ct in place (mmap()ed): a million flows is a walk over memory. */
static int walk_one(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	struct metrics_snapshot *s = arg;

	(void)k;
	s->ct_entries++;
	count_entry(s, v);
	return 0;
}

static int walk_ct(const struct nat_cttab *t, struct metrics_snapshot *s)
{
	if (!t->slots)
		return -EBADF;
	return ct_for_each(t, walk_one, s);
}

static int read_one(int fd, void *val)
{
	__u32 zero = 0;

	return fd < 0 || bpf_map_lookup_elem(fd, &zero, val) ? -1 : 0;
}

static void small_maps(const struct nat_maps *m, struct metrics_snapshot *s)
{
	struct nat_expect_key ek, en;
	struct nat_gate_key gk, gn;
	struct nat_gate_value gv;
	bool first = true;
	int guard = 4 * (XDPNAT_EXPECT_MAX + XDPNAT_GATE_MAX);

	while (m->expect >= 0 && guard-- > 0 &&
	       !bpf_map_get_next_key(m->expect, first ? NULL : &ek, &en)) {
		s->expectations++;
		ek = en;
		first = false;
	}
	first = true;
	while (m->gate >= 0 && guard-- > 0 &&
	       !bpf_map_get_next_key(m->gate, first ? NULL : &gk, &gn)) {
		if (!bpf_map_lookup_elem(m->gate, &gn, &gv))
			s->gate_sessions += gv.sessions;
		gk = gn;
		first = false;
	}
}

/*
 * A WAN's packets and bytes: its live flows' counters plus those of the
 * flows this daemon removed (ctflow_retired_read(), read before the walk:
 * a flow removed meanwhile is then missed, never counted twice). A flow
 * the data path evicts takes its counts along; the total would dip, so it
 * is held at what was last reported until traffic passes it again: a
 * counter never goes back.
 */
static void wan_totals(struct metrics *mt, struct metrics_snapshot *s,
		       const struct ctflow_retired *r)
{
	for (int i = 0; i < s->nwans; i++) {
		struct metrics_wan *w = &s->wans[i], *last = &mt->wans[i];

		for (int k = 0; k < CTFLOW_RETIRED_WANS; k++) {
			if (r->ifindex[k] != w->ifindex)
				continue;
			for (int d = 0; d < 2; d++) {
				w->packets[d] += r->packets[k][d];
				w->bytes[d] += r->bytes[k][d];
			}
		}
		for (int d = 0; d < 2; d++) {
			if (w->packets[d] < last->packets[d])
				w->packets[d] = last->packets[d];
			if (w->bytes[d] < last->bytes[d])
				w->bytes[d] = last->bytes[d];
			last->packets[d] = w->packets[d];
			last->bytes[d] = w->bytes[d];
		}
	}
}

static void collect(struct metrics *mt, struct metrics_snapshot *s)
{
	struct ctflow_retired retired;

	memset(s, 0, sizeof(*s));
	s->version = XDPNAT_VERSION;
	ctflow_retired_read(&retired);
	pthread_mutex_lock(&mt->lock);
	memcpy(s->wans, mt->wans, sizeof(s->wans));
	s->nwans = mt->nwans;
	for (int i = 0; i < s->nwans; i++) {
		memset(s->wans[i].packets, 0, sizeof(s->wans[i].packets));
		memset(s->wans[i].bytes, 0, sizeof(s->wans[i].bytes));
	}
	s->start_time = mt->started;
	s->flows_limit = mt->flows_limit;
	s->nddns = ddns_snapshot(mt->ddns, s->ddns, CFG_MAX_DDNS);
	memcpy(s->health, mt->health, sizeof(s->health));
	s->nhealth = mt->nhealth;
	pthread_mutex_unlock(&mt->lock);

	if (mt->m.stats < 0 || counters_read_stats(mt->m.stats, &s->stats))
		s->partial = true;
	if (read_one(mt->m.ctl_stats, &s->ctl))
		s->partial = true;
	read_one(mt->m.alg_stats, &s->alg);	/* zeros without an ALG map */
	if (cttab_head(&mt->m.cttab))
		s->ct_entries_limit = cttab_head(&mt->m.cttab)->limit;
	if (walk_ct(&mt->m.cttab, s))
		s->partial = true;
	small_maps(&mt->m, s);
	pthread_mutex_lock(&mt->lock);
	if (s->nwans == mt->nwans)	/* else a reload changed the WANs meanwhile */
		wan_totals(mt, s, &retired);
	pthread_mutex_unlock(&mt->lock);
}

/* The HTTP thread's callback: one scrape. */
static int scrape(void *arg, char **body, size_t *len)
{
	struct metrics *mt = arg;
	struct metrics_snapshot *s = malloc(sizeof(*s));
	FILE *out;
	int rc;

	if (!s)
		return -1;
	collect(mt, s);
	out = open_memstream(body, len);
	if (!out) {
		free(s);
		return -1;
	}
	rc = metrics_render(out, s);
	if (fclose(out))
		rc = -1;
	free(s);
	if (rc) {
		free(*body);
		*body = NULL;
	}
	return rc;
}

struct metrics *metrics_start(int listen_fd, const struct nat_maps *m)
{
	struct metrics *mt = calloc(1, sizeof(*mt));

	if (!mt) {
		close(listen_fd);
		nat_log_at(LOG_ERR, "metrics: out of memory");
		return NULL;
	}
	mt->m = *m;
	pthread_mutex_init(&mt->lock, NULL);
	mt->http = metrics_http_start(listen_fd, scrape, mt);
	if (!mt->http) {
		pthread_mutex_destroy(&mt->lock);
		free(mt);
		return NULL;
	}
	return mt;
}

void metrics_update(struct metrics *mt, const struct xdpnat_config *cfg, struct ddns *ddns,
		    time_t started)
{
	if (!mt)
		return;
	struct metrics_wan now[CFG_MAX_IFACES];
	int n = 0;

	for (int i = 0; i < cfg->nwans && i < CFG_MAX_IFACES; i++) {
		struct metrics_wan *w = &now[n];

		memset(w, 0, sizeof(*w));
		snprintf(w->ifname, sizeof(w->ifname), "%s", cfg->wans[i].ifname);
		w->ifindex = if_nametoindex(w->ifname);
		n += w->ifindex != 0;
	}
	pthread_mutex_lock(&mt->lock);
	for (int i = 0; i < n; i++)	/* a WAN that stays keeps what was reported */
		for (int j = 0; j < mt->nwans; j++)
			if (mt->wans[j].ifindex == now[i].ifindex &&
			    !strcmp(mt->wans[j].ifname, now[i].ifname))
				now[i] = mt->wans[j];
	memcpy(mt->wans, now, sizeof(now));
	mt->nwans = n;
	mt->ddns = ddns;
	mt->started = started;
	mt->flows_limit = cfg->conntrack_max;
	pthread_mutex_unlock(&mt->lock);
}

void metrics_set_health(struct metrics *mt, const struct failover_health *h, int n)
{
	if (!mt)
		return;
	if (n > CFG_MAX_IFACES)
		n = CFG_MAX_IFACES;
	pthread_mutex_lock(&mt->lock);
	memcpy(mt->health, h, sizeof(h[0]) * (size_t)n);
	mt->nhealth = n;
	pthread_mutex_unlock(&mt->lock);
}

void metrics_stop(struct metrics *mt)
{
	if (!mt)
		return;
	metrics_http_stop(mt->http);
	pthread_mutex_destroy(&mt->lock);
	free(mt);
}
