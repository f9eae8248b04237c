/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gc.c - expire idle flows, stale FTP expectations and closed gates.
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
#include "daemon/gc.h"

#define NS_PER_SEC 1000000000ULL

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

uint64_t gc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

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

void gc_reverse_key(const struct nat_ct_value *v, uint8_t proto, struct nat_ct_key *out)
{
	memset(out, 0, sizeof(*out));
	out->saddr = v->to_daddr;
	out->daddr = v->to_saddr;
	out->sport = v->to_dport;
	out->dport = v->to_sport;
	out->proto = proto;
}

void gc_hairpin_egress_key(const struct nat_ct_key *orig, const struct nat_ct_value *v,
			   struct nat_ct_key *out)
{
	memset(out, 0, sizeof(*out));
	out->saddr = orig->saddr;
	out->daddr = v->to_daddr;
	out->sport = orig->sport;
	out->dport = v->to_dport;
	out->proto = orig->proto;
}

void gc_key_reverse(const struct nat_ct_key *k, struct nat_ct_key *out)
{
	memset(out, 0, sizeof(*out));
	out->saddr = k->daddr;
	out->daddr = k->saddr;
	out->sport = k->dport;
	out->dport = k->sport;
	out->proto = k->proto;
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
		gc_reverse_key(&e->val, e->key.proto, &s->owned[s->nowned++]);
		if (e->val.kind == NAT_KIND_HAIRPIN) {
			gc_hairpin_egress_key(&e->key, &e->val, &s->owned[s->nowned]);
			gc_key_reverse(&s->owned[s->nowned], &s->owned[s->nowned + 1]);
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

	gc_reverse_key(&orig->val, orig->key.proto, &rkey);
	reply = snapshot_find(s, &rkey);
	if (reply && nat_ticks_since(reply->val.last_seen, last) > 0)
		last = reply->val.last_seen;
	return idle_ns(now, last) > timeout * NS_PER_SEC;
}

/* Delete ORIG first: the data path inserts the reverse half first, so
 * nobody ever sees an ORIG whose reply half is already gone. */
static bool flow_delete(int fd, const struct ct_entry *orig)
{
	struct nat_ct_key k;
	bool deleted = bpf_map_delete_elem(fd, &orig->key) == 0;

	gc_reverse_key(&orig->val, orig->key.proto, &k);
	bpf_map_delete_elem(fd, &k);
	if (orig->val.kind == NAT_KIND_HAIRPIN) {
		struct nat_ct_key r;

		gc_hairpin_egress_key(&orig->key, &orig->val, &k);
		gc_key_reverse(&k, &r);
		bpf_map_delete_elem(fd, &k);
		bpf_map_delete_elem(fd, &r);
	}
	return deleted;
}

static bool orphan_expired(const struct ct_snapshot *s, const struct nat_config *cfg,
			   const struct ct_entry *e, uint64_t now)
{
	uint64_t timeout = gc_flow_timeout(cfg, e->key.proto, e->val.state);

	if (snapshot_is_owned(s, &e->key))
		return false;
	return idle_ns(now, e->val.last_seen) > timeout * NS_PER_SEC;
}

/*
 * An FTP control session that expires while still counted as live in
 * nat_gate (the data path counts it down only when it sees FIN or RST).
 */
static void gate_release(int gate_fd, const struct ct_entry *orig, uint64_t now)
{
	struct nat_gate_key k = { .raddr = orig->key.saddr, .inside_addr = orig->val.to_daddr };
	struct nat_gate_value v;

	if (!(orig->val.flags & NAT_CT_F_GATE) || gate_fd < 0)
		return;
	if (orig->val.state != NAT_CT_ESTABLISHED && orig->val.state != NAT_CT_FIN_WAIT)
		return;
	if (bpf_map_lookup_elem(gate_fd, &k, &v) || !v.sessions)
		return;
	v.sessions--;
	v.last_seen = now;
	bpf_map_update_elem(gate_fd, &k, &v, BPF_EXIST);
}

static int gc_ct(const struct gc_maps *m, const struct nat_config *cfg, uint64_t now,
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
			if (flow_expired(&s, cfg, e, now) && flow_delete(m->ct, e)) {
				res->flows_expired++;
				gate_release(m->gate, e, now);
			}
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

/* Walk a small map and delete the keys `doomed` says so. Keys are
 * collected first for the same reason as in gc_ct. */
static int gc_small_map(int fd, size_t key_size, size_t val_size,
			bool (*doomed)(const void *key, const void *val, const struct gc_pass *p),
			const struct gc_pass *pass, uint64_t *count)
{
	unsigned char key[64], next[64], val[128];
	unsigned char (*keys)[64] = NULL;
	size_t n = 0, cap = 0;
	void *prev = NULL;
	int err = 0;

	if (fd < 0 || key_size > sizeof(key) || val_size > sizeof(val))
		return fd < 0 ? 0 : -EINVAL;
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, val) || !doomed(key, val, pass))
			continue;
		if (n == cap) {
			void *p = realloc(keys, (cap = cap ? 2 * cap : 64) * sizeof(*keys));

			if (!p) {
				err = -ENOMEM;
				break;
			}
			keys = p;
		}
		memcpy(keys[n++], key, key_size);
	}
	for (size_t i = 0; i < n; i++)
		if (bpf_map_delete_elem(fd, keys[i]) == 0)
			(*count)++;
	free(keys);
	return err;
}

static bool expect_expired(const void *key, const void *val, const struct gc_pass *p)
{
	const struct nat_expect_value *v = val;

	(void)key;
	return v->expires < p->now;
}

static bool gate_expired(const void *key, const void *val, const struct gc_pass *p)
{
	const struct nat_gate_value *v = val;

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
static bool alg_orphaned(const void *key, const void *val, const struct gc_pass *p)
{
	struct nat_ct_value v;

	(void)val;
	return bpf_map_lookup_elem(p->ct_fd, key, &v) != 0;
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

int gc_run(const struct gc_maps *maps, uint64_t now_ns, struct gc_result *res)
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
		err = gc_small_map(maps->expect, sizeof(struct nat_expect_key),
				   sizeof(struct nat_expect_value), expect_expired, &pass,
				   &res->expects_expired);
	if (!err)
		err = gc_small_map(maps->gate, sizeof(struct nat_gate_key),
				   sizeof(struct nat_gate_value), gate_expired, &pass,
				   &res->gates_expired);
	if (!err)
		err = gc_small_map(maps->alg, sizeof(struct nat_ct_key),
				   sizeof(struct nat_alg_value), alg_orphaned, &pass,
				   &res->algs_deleted);
	if (!err)
		err = ctl_stats_add(maps->ctl_stats, res);
	return err;
}
