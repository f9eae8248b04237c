/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli_top.c - `xdpnat top`: the busiest flows and WANs, with packet and bit
 * rates. Two samples of nat_ct's per-flow counters an interval apart; a
 * flow's rate is what its counters moved by (all of them for a flow that
 * appeared in between). Refreshed in place every interval (ANSI clear
 * screen) until interrupted; --once prints one frame after one interval.
 * "out" is from the inside host towards the remote peer.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "common/clock.h"
#include "common/flowdesc.h"
#include "nat_ct_key.h"
#include "xdpnat.h"

#define TOP_ROWS_DEFAULT	20
#define TOP_INTERVAL_DEFAULT_MS	1000

/* One flow in a sample: its ORIG entry and the counters of both ways. */
struct top_flow {
	struct nat_ct_key key;
	struct nat_ct_value v;		/* ORIG entry */
	uint64_t pkts[2], bytes[2];	/* [0] out, [1] in */
	double pps[2], bps[2];		/* rates, filled for the second sample */
};

struct top_sample {
	struct top_flow *f;
	size_t n, cap;
	uint64_t ns;
};

static int key_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct top_flow *)a)->key, &((const struct top_flow *)b)->key,
		      sizeof(struct nat_ct_key));
}

struct sample_walk {
	const struct nat_cttab *ct;
	const struct cli_match *m;
	struct top_sample *s;
};

static int sample_one(const struct nat_ct_key *key, const struct nat_ct_value *v, void *arg)
{
	struct sample_walk *w = arg;
	struct top_sample *s = w->s;
	struct nat_ct_key rk;
	struct nat_ct_value rv = {};
	struct top_flow *t;
	int out;

	if (v->dir != NAT_DIR_ORIG || !cli_match_flow(w->m, key, v))
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct top_flow *p = realloc(s->f, cap * sizeof(*p));

		if (!p)
			return -1;
		s->f = p;
		s->cap = cap;
	}
	t = &s->f[s->n++];
	memset(t, 0, sizeof(*t));
	t->key = *key;
	t->v = *v;
	ct_twin_key(&rk, v, key->proto);
	ct_get(w->ct, &rk, &rv);
	out = flowdesc_orig_is_out(v->kind) ? 0 : 1;
	t->pkts[out] = v->packets;
	t->bytes[out] = v->bytes;
	t->pkts[!out] = rv.packets;
	t->bytes[!out] = rv.bytes;
	return 0;
}

static int take_sample(const struct nat_cttab *ct, const struct cli_match *m,
		       struct top_sample *s)
{
	struct sample_walk w = { .ct = ct, .m = m, .s = s };

	s->n = 0;
	s->ns = nat_now_ns();
	if (ct_for_each(ct, sample_one, &w))
		return -1;
	qsort(s->f, s->n, sizeof(*s->f), key_cmp);
	return 0;
}

/* Counters that went down belong to a new flow on the same tuple. */
static uint64_t moved(uint64_t now, uint64_t then)
{
	return now >= then ? now - then : now;
}

static void rates(const struct top_sample *prev, struct top_sample *cur)
{
	double dt = (double)(cur->ns - prev->ns) / 1e9;

	for (size_t i = 0; i < cur->n; i++) {
		struct top_flow *t = &cur->f[i];
		const struct top_flow *p = bsearch(t, prev->f, prev->n, sizeof(*t), key_cmp);

		for (int d = 0; d < 2; d++) {
			t->pps[d] = (double)moved(t->pkts[d], p ? p->pkts[d] : 0) / dt;
			t->bps[d] = 8.0 * (double)moved(t->bytes[d], p ? p->bytes[d] : 0) / dt;
		}
	}
}

static int busiest_first(const void *a, const void *b)
{
	const struct top_flow *x = a, *y = b;
	double bx = x->bps[0] + x->bps[1], by = y->bps[0] + y->bps[1];

	if (bx != by)
		return bx < by ? 1 : -1;
	return key_cmp(a, b);
}

struct top_wan {
	uint32_t ifindex;
	char name[IF_NAMESIZE];
	uint64_t flows;
	double pps[2], bps[2];
};

static size_t wan_totals(const struct top_sample *s, struct top_wan *w, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; i < s->n; i++) {
		const struct top_flow *t = &s->f[i];
		size_t j;

		for (j = 0; j < n && w[j].ifindex != t->v.wan_ifindex; j++)
			;
		if (j == n) {
			if (n == max)
				continue;
			memset(&w[n], 0, sizeof(w[n]));
			w[n].ifindex = t->v.wan_ifindex;
			if (!if_indextoname(w[n].ifindex, w[n].name))
				snprintf(w[n].name, sizeof(w[n].name), "#%u", w[n].ifindex);
			n++;
		}
		w[j].flows++;
		for (int d = 0; d < 2; d++) {
			w[j].pps[d] += t->pps[d];
			w[j].bps[d] += t->bps[d];
		}
	}
	return n;
}

/* 1234 -> "1.2k", 3400000 -> "3.4M" */
static const char *human(double v, char *buf, size_t len)
{
	static const char unit[] = " kMGT";
	int u = 0;

	while (v >= 1000 && u < 4) {
		v /= 1000;
		u++;
	}
	if (u)
		snprintf(buf, len, "%.1f%c", v, unit[u]);
	else
		snprintf(buf, len, "%.0f", v);
	return buf;
}

static void add_rate(json_object *o, const char *k, double v)
{
	json_object_object_add(o, k, json_object_new_int64((int64_t)(v + 0.5)));
}

static void add_rates(json_object *o, const double pps[2], const double bps[2])
{
	add_rate(o, "packets_out_per_s", pps[0]);
	add_rate(o, "bits_out_per_s", bps[0]);
	add_rate(o, "packets_in_per_s", pps[1]);
	add_rate(o, "bits_in_per_s", bps[1]);
}

static void flow_names(const struct top_flow *t, char *proto, size_t plen, char *in, char *out,
		       char *rem, char *wan)
{
	char num[8];

	snprintf(proto, plen, "%s", flowdesc_proto(t->key.proto, num, sizeof(num)));
	flowdesc_endpoints(&t->key, &t->v, in, out, rem);
	if (!if_indextoname(t->v.wan_ifindex, wan))
		snprintf(wan, IF_NAMESIZE, "#%u", t->v.wan_ifindex);
}

static void print_json(const struct top_sample *s, const struct top_wan *w, size_t nw,
		       size_t rows, double interval)
{
	json_object *o = json_object_new_object(), *wa = json_object_new_array(),
		    *fa = json_object_new_array();
	char p[8], in[FLOWDESC_EP_LEN], out[FLOWDESC_EP_LEN], rem[FLOWDESC_EP_LEN];
	char wan[IF_NAMESIZE];

	json_object_object_add(o, "interval_s", json_object_new_double(interval));
	json_object_object_add(o, "flows_total", json_object_new_int64((int64_t)s->n));
	for (size_t i = 0; i < nw; i++) {
		json_object *x = json_object_new_object();

		json_object_object_add(x, "wan", json_object_new_string(w[i].name));
		json_object_object_add(x, "flows", json_object_new_int64((int64_t)w[i].flows));
		add_rates(x, w[i].pps, w[i].bps);
		json_object_array_add(wa, x);
	}
	for (size_t i = 0; i < s->n && i < rows; i++) {
		const struct top_flow *t = &s->f[i];
		json_object *x = json_object_new_object();

		flow_names(t, p, sizeof(p), in, out, rem, wan);
		json_object_object_add(x, "proto", json_object_new_string(p));
		json_object_object_add(x, "kind", json_object_new_string(flowdesc_kind(t->v.kind)));
		json_object_object_add(x, "inside", json_object_new_string(in));
		json_object_object_add(x, "outside", json_object_new_string(out));
		json_object_object_add(x, "remote", json_object_new_string(rem));
		json_object_object_add(x, "wan", json_object_new_string(wan));
		add_rates(x, t->pps, t->bps);
		json_object_array_add(fa, x);
	}
	json_object_object_add(o, "wans", wa);
	json_object_object_add(o, "flows", fa);
	cli_print_json(o);
	json_object_put(o);
}

#define WAN_FMT  "%-10s %7s %11s %11s %11s %11s\n"
#define FLOW_FMT "%-5s %-7s %-21s %-21s %-21s %-10s %10s %10s %10s %10s\n"

static void print_text(const struct top_sample *s, const struct top_wan *w, size_t nw,
		       size_t rows, double interval)
{
	char p[8], in[FLOWDESC_EP_LEN], out[FLOWDESC_EP_LEN], rem[FLOWDESC_EP_LEN];
	char wan[IF_NAMESIZE], r[4][16], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", &tm);
	printf("xdpnat top - %s, rates over %.1f s, %zu flows\n\n", stamp, interval, s->n);
	printf(WAN_FMT, "WAN", "FLOWS", "PKTS_OUT/S", "BITS_OUT/S", "PKTS_IN/S", "BITS_IN/S");
	for (size_t i = 0; i < nw; i++) {
		char f[16];

		snprintf(f, sizeof(f), "%llu", (unsigned long long)w[i].flows);
		printf(WAN_FMT, w[i].name, f, human(w[i].pps[0], r[0], 16), human(w[i].bps[0], r[1], 16),
		       human(w[i].pps[1], r[2], 16), human(w[i].bps[1], r[3], 16));
	}
	printf("\n" FLOW_FMT, "PROTO", "KIND", "INSIDE", "OUTSIDE", "REMOTE", "WAN", "PKTS_OUT/S",
	       "BITS_OUT/S", "PKTS_IN/S", "BITS_IN/S");
	for (size_t i = 0; i < s->n && i < rows; i++) {
		const struct top_flow *t = &s->f[i];

		flow_names(t, p, sizeof(p), in, out, rem, wan);
		printf(FLOW_FMT, p, flowdesc_kind(t->v.kind), in, out, rem, wan,
		       human(t->pps[0], r[0], 16), human(t->bps[0], r[1], 16),
		       human(t->pps[1], r[2], 16), human(t->bps[1], r[3], 16));
	}
	fflush(stdout);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int cli_top(const struct cli_ctx *c)
{
	unsigned interval = c->interval_ms ? c->interval_ms : TOP_INTERVAL_DEFAULT_MS;
	size_t rows = c->rows ? c->rows : TOP_ROWS_DEFAULT;
	struct top_sample a = {}, b = {}, *prev = &a, *cur = &b, *tmp;
	struct top_wan w[XDPNAT_MAX_IFACES];
	struct cli_match match;
	struct nat_cttab ct;
	int rc = 1;

	if (cli_match_init(c, &match))
		return 1;
	if (cli_open_ct(c, &ct))
		return 1;
	if (take_sample(&ct, &match, prev))
		goto out;
	for (;;) {
		size_t nw;

		sleep_ms(interval);
		if (take_sample(&ct, &match, cur))
			goto out;
		rates(prev, cur);
		nw = wan_totals(cur, w, XDPNAT_MAX_IFACES);
		/* the busiest first (cur is re-sorted by key on the next sample) */
		qsort(cur->f, cur->n, sizeof(*cur->f), busiest_first);
		if (!c->once && !c->json)
			printf("\033[H\033[2J");
		if (c->json)
			print_json(cur, w, nw, rows, (double)(cur->ns - prev->ns) / 1e9);
		else
			print_text(cur, w, nw, rows, (double)(cur->ns - prev->ns) / 1e9);
		if (c->once)
			break;
		qsort(cur->f, cur->n, sizeof(*cur->f), key_cmp);
		tmp = prev;
		prev = cur;
		cur = tmp;
	}
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "xdpnat: top: out of memory\n");
	free(a.f);
	free(b.f);
	cttab_unmap(&ct);
	return rc;
}
