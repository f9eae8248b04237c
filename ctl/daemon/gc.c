/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gc.c - expire idle flows, stale FTP expectations, closed gates and the
 * ALG state (nat_alg, nat_alg_state) of gone flows: every kind of expiry,
 * in one place.
 *
 * nat_ct is walked in batches (BPF_MAP_LOOKUP_BATCH), a bounded number of
 * entries per call, from a cursor kept between calls: however large the
 * table (16M flows is 32M entries), the collector holds one batch in
 * memory and the daemon's loop is never stalled by a whole pass. Each
 * entry is judged with a lookup or two of its own flow's other entries
 * (include/nat_ct_key.h), not against a copy of the table. The data path
 * keeps inserting meanwhile; a batch may miss or repeat an entry of a
 * bucket that changed under it, which the next pass makes good, and a
 * half it has just added (REPLY before ORIG) is never an "orphan" because
 * orphans must also be idle past their timeout.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include "nat_ct_key.h"
#include "common/clock.h"
#include "common/ctflow.h"
#include "common/eimports.h"
#include "common/mapsweep.h"
#include "daemon/gc.h"
#include "daemon/udpkeyed.h"

uint32_t gc_flow_timeout(const struct nat_config *cfg, uint8_t proto, uint8_t state)
{
	switch (proto) {
	case IPPROTO_TCP:
		if (state == NAT_CT_ESTABLISHED)
			return cfg->timeout_tcp_est;
		if (state == NAT_CT_FIN_WAIT || state == NAT_CT_CLOSING)
			return cfg->timeout_tcp_closing;
		return cfg->timeout_tcp_syn;
	case IPPROTO_ICMP:
		return cfg->timeout_icmp;
	default:
		/* RFC 4787 REQ-5: 2 minutes at least (the default); a flow
		 * that has seen replies (a "stream") half as long again */
		if (state == NAT_CT_ESTABLISHED)
			return cfg->timeout_udp + cfg->timeout_udp / 2;
		return cfg->timeout_udp;
	}
}

/* nat_ct keeps ticks (see nat_tick()); idle time in ns. */
static uint64_t idle_ns(uint64_t now, __u32 last_seen)
{
	return (uint64_t)nat_ticks_since(nat_tick(now), last_seen) << NAT_TICK_SHIFT;
}

static bool idle_past(const struct nat_config *cfg, const struct nat_ct_key *k, __u8 state,
		      __u32 last_seen, uint64_t now)
{
	return idle_ns(now, last_seen) > (uint64_t)gc_flow_timeout(cfg, k->proto, state) * NS_PER_SEC;
}

/* An ORIG entry: the flow is idle when both directions are. */
static bool flow_expired(const struct nat_cttab *ct, const struct nat_config *cfg, const struct nat_ct_key *k,
			 const struct nat_ct_value *v, uint64_t now)
{
	struct nat_ct_key rkey;
	struct nat_ct_value reply;
	__u32 last = v->last_seen;

	ct_twin_key(&rkey, v, k->proto);
	if (!ct_get(ct, &rkey, &reply) &&
	    nat_ticks_since(reply.last_seen, last) > 0)
		last = reply.last_seen;
	return idle_past(cfg, k, v->state, last, now);
}

/*
 * A REPLY or HAIRPIN_EGRESS entry whose flow's ORIG entry is gone. The
 * twin of a REPLY entry, and of a hairpin's reply-side egress entry, is
 * the ORIG key; the twin of a hairpin's orig-side egress entry is the
 * REPLY key, whose twin is the ORIG key.
 */
static bool orphaned(const struct nat_cttab *ct, const struct nat_ct_key *k,
		     const struct nat_ct_value *v)
{
	struct nat_ct_key t;
	struct nat_ct_value tv;

	ct_twin_key(&t, v, k->proto);
	if (ct_get(ct, &t, &tv))
		return true;
	if (tv.dir == NAT_DIR_ORIG)
		return false;
	if (v->dir != NAT_DIR_HAIRPIN_EGRESS || tv.dir != NAT_DIR_REPLY)
		return true;
	ct_twin_key(&t, &tv, k->proto);
	return ct_get(ct, &t, &tv) || tv.dir != NAT_DIR_ORIG;
}

/* An nat_eim entry that a live flow uses, if there is one: marked as seen
 * in this pass, with one write per pass at most. */
static void eim_touch(int fd, const struct nat_eim_key *k, uint64_t pass_start, uint64_t now)
{
	struct nat_eim_value v;

	if (bpf_map_lookup_elem(fd, k, &v))
		return;
	if (v.seen_ns < pass_start) {
		v.seen_ns = now;
		bpf_map_update_elem(fd, k, &v, BPF_EXIST);
	}
}

/*
 * The mapping of a live flow (RFC 4787): its outside port (nat_eim_ports,
 * if the flow's endpoint owns it; taken again if it is free), its inside
 * endpoint (an INSIDE entry, which only a mapping to another port than
 * the inside one has), and the remote address (PEER, address-dependent
 * filtering). A masqueraded or hairpin flow's ORIG entry is seen from the
 * inside; a MAPPED one (let in by the filter) from the outside.
 */
static void eim_keep(const struct nat_maps *m, const struct nat_ct_key *k,
		     const struct nat_ct_value *v, uint64_t pass_start, uint64_t now)
{
	struct nat_eim_key in = { .ifindex = v->wan_ifindex, .proto = k->proto,
				  .side = NAT_EIM_INSIDE };
	struct nat_eim_key peer = { .ifindex = v->wan_ifindex, .proto = k->proto,
				    .side = NAT_EIM_PEER };

	if (v->kind == NAT_KIND_MASQ || v->kind == NAT_KIND_HAIRPIN) {
		in.addr = k->saddr;
		in.port = k->sport;
		peer.addr = v->kind == NAT_KIND_MASQ ? k->daddr : v->to_saddr;
		peer.port = v->to_sport;
	} else if (v->kind == NAT_KIND_MAPPED) {
		in.addr = v->to_daddr;
		in.port = v->to_dport;
		peer.addr = k->saddr;
		peer.port = k->dport;
	} else {
		return;
	}
	eimports_keep(m, v->wan_ifindex, k->proto, ntohs(peer.port), in.addr, in.port,
		      pass_start, now);
	if (m->eim < 0)
		return;
	eim_touch(m->eim, &in, pass_start, now);
	eim_touch(m->eim, &peer, pass_start, now);
}

static void judge(const struct nat_maps *m, const struct nat_config *cfg,
		  const struct nat_ct_key *k, const struct nat_ct_value *v, uint64_t now,
		  uint64_t pass_start, struct gc_result *res)
{
	if (v->dir == NAT_DIR_ORIG) {
		/* a TCP flow that closed waits out timeout_tcp_closing here */
		enum nat_flow_end why = k->proto == IPPROTO_TCP && v->state == NAT_CT_CLOSING
					? NAT_FLOW_END_CLOSED : NAT_FLOW_END_TIMEOUT;

		if (flow_expired(&m->cttab, cfg, k, v, now) && ctflow_remove(m, k, v, now, why))
			res->flows_expired++;
		else
			eim_keep(m, k, v, pass_start, now);
	} else if (idle_past(cfg, k, v->state, v->last_seen, now) && orphaned(&m->cttab, k, v) &&
		   !ct_del(&m->cttab, k)) {
		res->orphans_deleted++;
	}
}

/*
 * The live entries a pass counted, against the running count (the data
 * path's and the controller's exact additions): the pass's count replaces
 * it only when they differ by more than the pass itself can be off. A
 * pass takes seconds, and under a flood that evicts as fast as it inserts
 * it misses entries made behind its cursor and counts some deleted behind
 * it: a few either way, and a count set a few low let the table go that
 * many entries past its limit (test_attack.sh). Real drift, such as a
 * CPU's unflushed batch lost with a restart, is corrected once it exceeds
 * CT_RECOUNT_SLACK or 1/256 of the limit.
 */
#define CT_RECOUNT_SLACK	256

static void ct_recount(const struct nat_cttab *t, uint64_t live)
{
	const struct nat_ct_head *h = cttab_head(t);
	uint64_t cur = __atomic_load_n(&h->entries, __ATOMIC_RELAXED);
	uint64_t slack = h->limit / 256 > CT_RECOUNT_SLACK ? h->limit / 256 : CT_RECOUNT_SLACK;

	if (cur > live + slack || live > cur + slack)
		cttab_set_entries(t, live);
}

/*
 * Up to `budget` entries of nat_ct from the cursor on: its slots are read
 * in place, in order, and the tombstones among them that nothing needs
 * any more are made empty (ct_tidy_slot()). 1 when the walk reached the
 * end of the table (its entry count is then checked against the live
 * entries the pass saw, ct_recount()), 0 when there is more, -errno.
 */
static int gc_ct_step(const struct nat_maps *m, const struct nat_config *cfg,
		      struct gc_cursor *c, uint64_t now, uint64_t budget, struct gc_result *res)
{
	const struct nat_cttab *t = &m->cttab;
	uint64_t done = 0;

	if (!t->slots)
		return -EBADF;
	if (!c->started) {
		c->pass_start = now;
		c->slot = 1;
		c->started = true;
		c->keyed_epoch = udpkeyed_begin(m);
	}
	for (; c->slot <= t->nslots && done < budget; c->slot++) {
		struct nat_ct_key k;
		struct nat_ct_value v;

		if (!ct_slot_read(t, c->slot, &k, &v)) {
			ct_tidy_slot(t, c->slot);
			continue;
		}
		judge(m, cfg, &k, &v, now, c->pass_start, res);
		res->ct_entries++;
		if (t->slots[c->slot].key.pad[0] == NAT_CT_SLOT_LIVE) {	/* not judged away */
			c->live++;
			udpkeyed_mark(m, c->keyed_epoch, &k, &v);
		}
		done++;
	}
	if (c->slot <= t->nslots)
		return 0;
	ct_recount(t, c->live);
	return 1;
}

/* What a pass over the small maps needs to judge an entry. */
struct gc_pass {
	const struct nat_config *cfg;
	uint64_t now;
	uint64_t pass_start;		/* when the walk of nat_ct began */
	const struct nat_cttab *ct;
	const struct nat_maps *maps;
};

static bool ct_exists(const struct nat_cttab *ct, const struct nat_ct_key *k)
{
	return ct_find(ct, k) != NULL;
}

/* The data path ignores an expired expectation, and one whose control
 * connection is gone must not admit anybody any more either. */
static bool expect_doomed(const void *key, const void *val, void *ctx)
{
	const struct nat_expect_value *v = val;
	const struct gc_pass *p = ctx;

	(void)key;
	return v->expires < p->now || !ct_exists(p->ct, &v->ctl);
}

static bool gate_expired(const void *key, const void *val, void *ctx)
{
	const struct nat_gate_value *v = val;
	const struct gc_pass *p = ctx;

	(void)key;
	return v->sessions == 0 &&
	       v->last_seen + (uint64_t)p->cfg->gate_linger * NS_PER_SEC < p->now;
}

/*
 * nat_alg holds the ALG's sequence offsets of a control flow, keyed by the
 * flow's ORIG key. Once that flow is gone (expired here, or removed by an
 * address change) the entry is dead weight. The check is a lookup in
 * nat_ct now, not in the snapshot: the ALG writes an entry only for a flow
 * that exists, so one created after the snapshot is never mistaken.
 */
static bool alg_orphaned(const void *key, const void *val, void *ctx)
{
	const struct gc_pass *p = ctx;

	(void)val;
	return !ct_exists(p->ct, key);
}

/*
 * The mappings, after a whole pass over nat_ct: one no flow used in the
 * pass (and not made or reused by a new flow since it began) goes, first
 * its INSIDE and PEER entries (nat_eim), then the port itself (nat_eim_
 * ports, eimports_sweep()), unless its INSIDE entry, still used, points
 * to it. A previous version's OUTSIDE entries go in the first sweep.
 */
static bool eim_unused(const void *key, const void *val, void *ctx)
{
	const struct nat_eim_key *k = key;
	const struct nat_eim_value *v = val;
	const struct gc_pass *p = ctx;

	return k->side == NAT_EIM_OUTSIDE_OLD || v->seen_ns < p->pass_start;
}

static bool eim_port_moved_here(uint32_t ifindex, uint8_t proto, uint16_t port,
				const struct nat_eim_port *e, void *ctx)
{
	const struct gc_pass *p = ctx;
	struct nat_eim_key in = { .addr = e->addr, .ifindex = ifindex, .port = e->port,
				  .proto = proto, .side = NAT_EIM_INSIDE };
	struct nat_eim_value iv;

	return e->port != htons(port) && p->maps->eim >= 0 &&
	       !bpf_map_lookup_elem(p->maps->eim, &in, &iv) && iv.port == htons(port);
}

/* An INSIDE entry deleted: one fewer in its nat_eim_moved cell, after
 * the delete (a cell never counts fewer than its entries). */
static void eim_moved_gone(const void *key, const void *val, void *ctx)
{
	(void)val;
	nat_maps_moved_add(((struct gc_pass *)ctx)->maps, key, -1);
}

/* One small map: adds the entries deleted to *count. */
static int sweep(int fd, size_t key_size, size_t val_size, map_sweep_fn doomed,
		 struct gc_pass *pass, uint64_t *count)
{
	long n = map_sweep(fd, key_size, val_size, doomed, pass, NULL);

	if (n < 0)
		return (int)n;
	*count += (uint64_t)n;
	return 0;
}

/* ct_expired as flows go; gc_runs once a pass is complete. */
static int ctl_stats_add(int fd, const struct gc_result *res, bool pass_done)
{
	struct nat_ctl_stats st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &st))
		return -errno;
	st.ct_expired += res->flows_expired;
	st.eim_expired += res->eim_expired;
	st.gc_runs += pass_done;
	if (bpf_map_update_elem(fd, &zero, &st, BPF_ANY))
		return -errno;
	return 0;
}

static void result_add(struct gc_result *to, const struct gc_result *r)
{
	to->flows_expired += r->flows_expired;
	to->orphans_deleted += r->orphans_deleted;
	to->expects_expired += r->expects_expired;
	to->gates_expired += r->gates_expired;
	to->algs_deleted += r->algs_deleted;
	to->alg_states_deleted += r->alg_states_deleted;
	to->ct_entries += r->ct_entries;
	to->eim_expired += r->eim_expired;
}

int gc_step(const struct nat_maps *maps, struct gc_cursor *c, uint64_t now_ns, uint64_t budget,
	    struct gc_result *res)
{
	struct nat_config cfg;
	struct gc_pass pass = { .cfg = &cfg, .now = now_ns, .ct = &maps->cttab,
				.maps = maps };
	struct gc_result step = {};
	__u32 zero = 0;
	int done, err = 0;

	if (bpf_map_lookup_elem(maps->config, &zero, &cfg))
		return -errno;
	done = gc_ct_step(maps, &cfg, c, now_ns, budget, &step);
	if (done < 0) {
		err = done;
		done = 1;	/* start over next time rather than resume a broken walk */
	}
	if (done == 1 && !err) {
		udpkeyed_end(maps, c->keyed_epoch);	/* the walk read the whole table */
		/* the small maps once a pass, after the flows they refer to */
		err = sweep(maps->expect, sizeof(struct nat_expect_key),
			    sizeof(struct nat_expect_value), expect_doomed, &pass,
			    &step.expects_expired);
		if (!err)
			err = sweep(maps->gate, sizeof(struct nat_gate_key),
				    sizeof(struct nat_gate_value), gate_expired, &pass,
				    &step.gates_expired);
		if (!err)
			err = sweep(maps->alg, sizeof(struct nat_ct_key),
				    sizeof(struct nat_alg_value), alg_orphaned, &pass,
				    &step.algs_deleted);
		if (!err)	/* the ALG's saved sessions: the same rule; 4 KiB values not read */
			err = sweep(maps->alg_state, sizeof(struct nat_ct_key), 0, alg_orphaned,
				    &pass, &step.alg_states_deleted);
		pass.pass_start = c->pass_start;
		if (!err && (maps->eim < 0 ||
			     map_sweep(maps->eim, sizeof(struct nat_eim_key),
				       sizeof(struct nat_eim_value), eim_unused, &pass,
				       eim_moved_gone) >= 0))
			step.eim_expired = (uint64_t)eimports_sweep(maps, pass.pass_start,
								    eim_port_moved_here, &pass);
	}
	result_add(&c->pass, &step);
	if (ctl_stats_add(maps->ctl_stats, &step, done == 1) && !err)
		err = -errno;
	if (done == 1) {
		*res = c->pass;
		memset(c, 0, sizeof(*c));
	}
	return err ? err : done;
}

int gc_run(const struct nat_maps *maps, uint64_t now_ns, struct gc_result *res)
{
	struct gc_cursor c = {};
	int rc;

	memset(res, 0, sizeof(*res));
	while ((rc = gc_step(maps, &c, now_ns, UINT64_MAX, res)) == 0)
		;
	return rc < 0 ? rc : 0;
}
