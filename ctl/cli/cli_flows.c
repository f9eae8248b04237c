/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * cli_flows.c - `xdpnat flows`: one row per flow of nat_ct (its ORIG
 * entry, with the counters of its REPLY twin), and for an FTP control
 * flow the ALG's state and the expectations it opened. A forward through
 * a PCP/NAT-PMP mapping shows as kind "pcp".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "alg/alg_ftp.h"
#include "cli/cli.h"
#include "cli/cli_internal.h"
#include "common/clock.h"
#include "common/flowdesc.h"
#include "nat_ct_key.h"
#include "xdpnat.h"

static const char *endpoint(__be32 addr, __be16 port, char *buf, size_t len)
{
	char a[INET_ADDRSTRLEN];

	inet_ntop(AF_INET, &addr, a, sizeof(a));
	snprintf(buf, len, "%s:%u", a, ntohs(port));
	return buf;
}

struct flow_row {
	char proto[8], kind[8], inside[FLOWDESC_EP_LEN], outside[FLOWDESC_EP_LEN],
	     remote[FLOWDESC_EP_LEN];
	char wan[IF_NAMESIZE], state[12];
	uint64_t pkts_orig, bytes_orig, pkts_reply, bytes_reply;
	uint64_t idle;			/* seconds since either direction's last packet */
};

static const char *state_name(uint8_t state)
{
	switch (state) {
	case NAT_CT_NEW: return "new";
	case NAT_CT_SYN_SENT: return "syn_sent";
	case NAT_CT_SYN_RECV: return "syn_recv";
	case NAT_CT_ESTABLISHED: return "established";
	case NAT_CT_FIN_WAIT: return "fin_wait";
	case NAT_CT_CLOSING: return "closing";
	}
	return "?";
}

/* A forwarded flow through a PCP/NAT-PMP mapping is its own kind, "pcp":
 * the nat_forwards entry of its outside port says so (NAT_FWD_F_PCP). */
static bool via_portmap(int fwd_fd, const struct nat_ct_key *k, const struct nat_ct_value *v)
{
	struct nat_fwd_key fk = { .ifindex = v->wan_ifindex, .port = k->dport, .proto = k->proto };
	struct nat_fwd_value fv;

	return fwd_fd >= 0 && v->kind == NAT_KIND_FORWARD &&
	       !bpf_map_lookup_elem(fwd_fd, &fk, &fv) && (fv.flags & NAT_FWD_F_PCP);
}

static void flow_row_fill(const struct nat_cttab *ct, int fwd_fd, const struct nat_ct_key *k,
			  const struct nat_ct_value *v, uint64_t now_ns, struct flow_row *r)
{
	struct nat_ct_key rk;
	struct nat_ct_value rv = {};
	__u32 last = v->last_seen;

	memset(r, 0, sizeof(*r));
	ct_twin_key(&rk, v, k->proto);
	if (ct_get(ct, &rk, &rv) == 0 &&
	    nat_ticks_since(rv.last_seen, last) > 0)
		last = rv.last_seen;
	snprintf(r->proto, sizeof(r->proto), "%s",
		 flowdesc_proto(k->proto, r->proto, sizeof(r->proto)));
	snprintf(r->kind, sizeof(r->kind), "%s",
		 via_portmap(fwd_fd, k, v) ? "pcp" : flowdesc_kind(v->kind));
	flowdesc_endpoints(k, v, r->inside, r->outside, r->remote);
	if (!if_indextoname(v->wan_ifindex, r->wan))
		snprintf(r->wan, sizeof(r->wan), "#%u", v->wan_ifindex);
	snprintf(r->state, sizeof(r->state), "%s", state_name(v->state));
	r->pkts_orig = v->packets;
	r->bytes_orig = v->bytes;
	r->pkts_reply = rv.packets;
	r->bytes_reply = rv.bytes;
	r->idle = ((uint64_t)nat_ticks_since(nat_tick(now_ns), last) << NAT_TICK_SHIFT) /
		  NS_PER_SEC;
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
			e->expires > now_ns ? (int64_t)((e->expires - now_ns) / NS_PER_SEC) : 0));
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

struct flows_walk {
	const struct cli_ctx *c;
	const struct nat_cttab *ct;
	int fwd_fd;
	struct cli_match match;
	struct alg_view *algv;
	json_object *arr;
	uint64_t now, n;
};

static int flows_one(const struct nat_ct_key *key, const struct nat_ct_value *val, void *arg)
{
	struct flows_walk *w = arg;
	json_object *o, *alg = NULL;
	struct flow_row row;

	if (val->dir != NAT_DIR_ORIG || !cli_match_flow(&w->match, key, val))
		return 0;
	flow_row_fill(w->ct, w->fwd_fd, key, val, w->now, &row);
	w->n++;
	if (val->flags & NAT_CT_F_ALG)
		alg = alg_json(w->algv, key, w->now);
	if (w->c->json) {
		o = flow_row_json(&row);
		if (alg)
			json_object_object_add(o, "alg", alg);
		json_object_array_add(w->arr, o);
	} else {
		flow_row_print(&row);
		if (alg) {
			alg_print(alg);
			json_object_put(alg);
		}
	}
	return 0;
}

int cli_flows(const struct cli_ctx *c)
{
	struct nat_cttab ct;
	struct flows_walk w = { .c = c, .ct = &ct, .now = nat_now_ns() };

	if (cli_match_init(c, &w.match))
		return 1;
	if (cli_open_ct(c, &ct))
		return 1;
	w.algv = calloc(1, sizeof(*w.algv));
	w.arr = json_object_new_array();
	if (!w.algv || !w.arr) {
		free(w.algv);
		json_object_put(w.arr);
		cttab_unmap(&ct);
		return 1;
	}
	w.fwd_fd = cli_open_map(c, XDPNAT_MAP_FORWARDS);
	alg_view_load(c, w.algv);
	if (!c->json)
		printf(FLOW_FMT, "PROTO", "KIND", "INSIDE", "OUTSIDE", "REMOTE", "WAN", "STATE",
		       "PKTS_ORIG", "BYTES_ORIG", "PKTS_REPL", "BYTES_REPL", "IDLE");
	ct_for_each(&ct, flows_one, &w);
	if (c->json)
		cli_print_json(w.arr);
	else
		printf("%llu flows\n", (unsigned long long)w.n);
	json_object_put(w.arr);
	if (w.algv->alg_fd >= 0)
		close(w.algv->alg_fd);
	free(w.algv);
	if (w.fwd_fd >= 0)
		close(w.fwd_fd);
	cttab_unmap(&ct);
	return 0;
}
