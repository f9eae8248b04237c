/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gc.c - expire idle flows, stale FTP expectations, closed gates and the
 * ALG state (nat_alg, nat_alg_state) of gone flows: every kind of expiry,
 * in one place.
 *
 * A pass first copies nat_ct into memory and then deletes, because
 * deleting while walking a hash map with get_next_key makes the walk
 * restart from the first bucket. The data path keeps inserting meanwhile;
 * an entry it adds after the copy is simply looked at on the next tick, and
 * a half it has just added (REPLY before ORIG) is never an "orphan" because
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
#include "common/mapsweep.h"
#include "daemon/gc.h"

struct ct_entry {
	struct nat_ct_key key;
	struct nat_ct_value val;
};

struct ct_snapshot {
	struct ct_entry *e;
	size_t n, cap;
	struct nat_ct_key *owned;	/* reply/hairpin keys of every ORIG, sorted */
	size_t nowned;
};

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
		return cfg->timeout_udp;
	}
}

/* Both ct_entry and nat_ct_key start with the key: one comparator for both. */
static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct nat_ct_key));
}

static int snapshot_push(struct ct_snapshot *s, const struct nat_ct_key *k,
			 const struct nat_ct_value *v)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		struct ct_entry *e = realloc(s->e, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		s->e = e;
		s->cap = cap;
	}
	s->e[s->n].key = *k;
	s->e[s->n].val = *v;
	s->n++;
	return 0;
}

/* Copy the whole map with get_next_key + lookup, two syscalls per entry.
 * The walk is bounded: concurrent deletes can make get_next_key restart
 * from the first bucket, which must not loop forever (a key seen twice is
 * harmless: deleting it again fails with ENOENT). */
static int snapshot_walk(int fd, struct ct_snapshot *s)
{
	struct nat_ct_key key, next;
	struct nat_ct_value val;
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	uint64_t budget;
	void *prev = NULL;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	budget = 4ULL * info.max_entries + 16;
	while (budget-- && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &val))
			continue;	/* deleted under us */
		if (snapshot_push(s, &key, &val))
			return -ENOMEM;
	}
	return 0;
}

/* The same with BPF_MAP_LOOKUP_BATCH, GC_BATCH entries per syscall: this
 * runs every second over up to 2 x conntrack-max entries. An error (e.g.
 * ENOSPC: a bucket larger than a batch) makes the caller fall back to the
 * walk. */
#define GC_BATCH 256

static int snapshot_batch(int fd, struct ct_snapshot *s)
{
	struct nat_ct_key *keys = calloc(GC_BATCH, sizeof(*keys));
	struct nat_ct_value *vals = calloc(GC_BATCH, sizeof(*vals));
	union { __u64 token; struct nat_ct_key room; } in, out;	/* htab: a bucket index */
	bool first = true, done = false;
	int err = 0;

	while (keys && vals && !err && !done) {
		__u32 n = GC_BATCH;

		if (bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &n, NULL)) {
			if (errno != ENOENT)
				err = -errno;
			done = true;	/* ENOENT: this was the last batch */
		}
		for (__u32 i = 0; !err && i < n; i++)
			err = snapshot_push(s, &keys[i], &vals[i]);
		in = out;
		first = false;
	}
	if (!keys || !vals)
		err = -ENOMEM;
	free(keys);
	free(vals);
	return err;
}

static int snapshot_read(int fd, struct ct_snapshot *s)
{
	int err = snapshot_batch(fd, s);

	if (err && err != -ENOMEM) {
		s->n = 0;
		err = snapshot_walk(fd, s);
	}
	if (!err && s->n)
		qsort(s->e, s->n, sizeof(*s->e), key_cmp);
	return err;
}

static const struct ct_entry *snapshot_find(const struct ct_snapshot *s,
					    const struct nat_ct_key *k)
{
	return bsearch(k, s->e, s->n, sizeof(*s->e), key_cmp);
}

/* Every key that belongs to some ORIG entry (its reply and hairpin half). */
static int snapshot_index_owned(struct ct_snapshot *s)
{
	s->owned = calloc(3 * s->n + 1, sizeof(*s->owned));
	if (!s->owned)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const struct ct_entry *e = &s->e[i];

		if (e->val.dir != NAT_DIR_ORIG)
			continue;
		ct_twin_key(&s->owned[s->nowned++], &e->val, e->key.proto);
		if (e->val.kind == NAT_KIND_HAIRPIN) {
			ct_hairpin_egress_key(&s->owned[s->nowned], &e->key, &e->val);
			ct_key_flip(&s->owned[s->nowned + 1], &s->owned[s->nowned]);
			s->nowned += 2;
		}
	}
	if (s->nowned)
		qsort(s->owned, s->nowned, sizeof(*s->owned), key_cmp);
	return 0;
}

static bool snapshot_is_owned(const struct ct_snapshot *s, const struct nat_ct_key *k)
{
	return bsearch(k, s->owned, s->nowned, sizeof(*s->owned), key_cmp) != NULL;
}

static void snapshot_free(struct ct_snapshot *s)
{
	free(s->e);
	free(s->owned);
}

/* nat_ct keeps ticks (see nat_tick()); idle time in ns. */
static uint64_t idle_ns(uint64_t now, __u32 last_seen)
{
	return (uint64_t)nat_ticks_since(nat_tick(now), last_seen) << NAT_TICK_SHIFT;
}

static bool flow_expired(const struct ct_snapshot *s, const struct nat_config *cfg,
			 const struct ct_entry *orig, uint64_t now)
{
	struct nat_ct_key rkey;
	const struct ct_entry *reply;
	__u32 last = orig->val.last_seen;
	uint64_t timeout = gc_flow_timeout(cfg, orig->key.proto, orig->val.state);

	ct_twin_key(&rkey, &orig->val, orig->key.proto);
	reply = snapshot_find(s, &rkey);
	if (reply && nat_ticks_since(reply->val.last_seen, last) > 0)
		last = reply->val.last_seen;
	return idle_ns(now, last) > timeout * NS_PER_SEC;
}

static bool orphan_expired(const struct ct_snapshot *s, const struct nat_config *cfg,
			   const struct ct_entry *e, uint64_t now)
{
	uint64_t timeout = gc_flow_timeout(cfg, e->key.proto, e->val.state);

	if (snapshot_is_owned(s, &e->key))
		return false;
	return idle_ns(now, e->val.last_seen) > timeout * NS_PER_SEC;
}

static int gc_ct(const struct nat_maps *m, const struct nat_config *cfg, uint64_t now,
		 struct gc_result *res)
{
	struct ct_snapshot s = {};
	int err = snapshot_read(m->ct, &s);

	res->ct_entries = s.n;
	if (!err)
		err = snapshot_index_owned(&s);
	for (size_t i = 0; !err && i < s.n; i++) {
		const struct ct_entry *e = &s.e[i];

		if (e->val.dir == NAT_DIR_ORIG) {
			if (flow_expired(&s, cfg, e, now) && ctflow_remove(m, &e->key, &e->val, now))
				res->flows_expired++;
		} else if (orphan_expired(&s, cfg, e, now)) {
			if (bpf_map_delete_elem(m->ct, &e->key) == 0)
				res->orphans_deleted++;
		}
	}
	snapshot_free(&s);
	return err;
}

/* What a pass over the small maps needs to judge an entry. */
struct gc_pass {
	const struct nat_config *cfg;
	uint64_t now;
	int ct_fd;
};

static bool ct_exists(int ct_fd, const struct nat_ct_key *k)
{
	struct nat_ct_value v;

	return bpf_map_lookup_elem(ct_fd, k, &v) == 0;
}

/* The data path ignores an expired expectation, and one whose control
 * connection is gone must not admit anybody any more either. */
static bool expect_doomed(const void *key, const void *val, void *ctx)
{
	const struct nat_expect_value *v = val;
	const struct gc_pass *p = ctx;

	(void)key;
	return v->expires < p->now || !ct_exists(p->ct_fd, &v->ctl);
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
	return !ct_exists(p->ct_fd, key);
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

static int ctl_stats_add(int fd, const struct gc_result *res)
{
	struct nat_ctl_stats st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &st))
		return -errno;
	st.ct_expired += res->flows_expired;
	st.gc_runs++;
	if (bpf_map_update_elem(fd, &zero, &st, BPF_ANY))
		return -errno;
	return 0;
}

int gc_run(const struct nat_maps *maps, uint64_t now_ns, struct gc_result *res)
{
	struct nat_config cfg;
	struct gc_pass pass = { .cfg = &cfg, .now = now_ns, .ct_fd = maps->ct };
	__u32 zero = 0;
	int err;

	memset(res, 0, sizeof(*res));
	if (bpf_map_lookup_elem(maps->config, &zero, &cfg))
		return -errno;
	err = gc_ct(maps, &cfg, now_ns, res);
	if (!err)
		err = sweep(maps->expect, sizeof(struct nat_expect_key),
			    sizeof(struct nat_expect_value), expect_doomed, &pass,
			    &res->expects_expired);
	if (!err)
		err = sweep(maps->gate, sizeof(struct nat_gate_key),
			    sizeof(struct nat_gate_value), gate_expired, &pass,
			    &res->gates_expired);
	if (!err)
		err = sweep(maps->alg, sizeof(struct nat_ct_key),
			    sizeof(struct nat_alg_value), alg_orphaned, &pass,
			    &res->algs_deleted);
	if (!err)	/* the ALG's saved sessions: the same rule; 4 KiB values not read */
		err = sweep(maps->alg_state, sizeof(struct nat_ct_key), 0, alg_orphaned, &pass,
			    &res->alg_states_deleted);
	if (!err)
		err = ctl_stats_add(maps->ctl_stats, res);
	return err;
}
