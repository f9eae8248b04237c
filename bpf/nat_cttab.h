/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_cttab.h - the data path's side of nat_ct, the flow table of 64-byte
 * slots (the protocol is in include/nat_ct_slots.h; ctl/common/cttab.c is
 * the controller's side). ct_lookup(), ct_insert() and ct_delete() stand
 * where bpf_map_*_elem() on a hash map would.
 *
 * The walks are global functions: each is verified once, not on every
 * path of every caller, and their few bytes of stack add to the callers'
 * only once (the XDP programs have almost none left).
 */
#ifndef BPF_NAT_CTTAB_H
#define BPF_NAT_CTTAB_H

#include "nat_ct_slots.h"

#define CT_ENOENT	2
#define CT_EEXIST	17
#define CT_ENOSPC	28

static __always_inline volatile __u32 *ct_wordp(struct nat_ct_slot *s)
{
	return (volatile __u32 *)((void *)s + NAT_CT_WORD_OFF);
}

/*
 * The map key for slot i, kept in a per-CPU cell of .bss
 * rather than on the stack, which is full (a program runs to its end
 * on its CPU before another can use the cell). One cache line per CPU.
 */
#define CT_IDX_CELLS	1024
struct ct_idx_cell {
	__u32 i;
	__s32 pending;			/* entries added (removed) here, not yet in the header */
	__u8 pad[56];
} __attribute__((aligned(64)));
static struct ct_idx_cell nat_ct_idx[CT_IDX_CELLS];	/* static: not in the skeleton */

static __always_inline struct nat_ct_slot *ct_slot(__u32 i)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu >= CT_IDX_CELLS)
		return NULL;
	nat_ct_idx[cpu].i = i;
	return bpf_map_lookup_elem(&nat_ct, &nat_ct_idx[cpu].i);
}



static __always_inline bool ct_slot_has(struct nat_ct_slot *s, __u32 saddr, __u32 daddr,
					__u32 ports)
{
	return s->key.saddr == saddr && s->key.daddr == daddr && ct_ports(&s->key) == ports;
}

/*
 * A walk of up to NAT_CT_PROBES slots: `step` (a statement that sets rc,
 * 0 = go on) for k = 0, 1, ... The first NAT_CT_FAST steps are a plain
 * loop (what nearly every walk needs, at full speed); the rest run under
 * a numbers iterator, which the verifier checks once instead of step by
 * step (a long run of a nearly full table needs hundreds).
 */
#define NAT_CT_FAST	16

extern int bpf_iter_num_new(struct bpf_iter_num *it, int start, int end) __ksym;
extern int *bpf_iter_num_next(struct bpf_iter_num *it) __ksym;
extern void bpf_iter_num_destroy(struct bpf_iter_num *it) __ksym;

#define CT_WALK(k, rc, step)							\
	do {									\
		struct bpf_iter_num __it;					\
		int *__kp;							\
										\
		for ((k) = 0; (k) < NAT_CT_FAST && !(rc); (k)++) {		\
			step;							\
		}								\
		if (rc)								\
			break;							\
		bpf_iter_num_new(&__it, NAT_CT_FAST, NAT_CT_PROBES);		\
		while (!(rc) && (__kp = bpf_iter_num_next(&__it))) {		\
			(k) = (__u32)*__kp;					\
			step;							\
		}								\
		bpf_iter_num_destroy(&__it);					\
	} while (0)

/* One step of a lookup: the slot if it holds the key, -1 at the end of
 * the way (an empty slot), 0 to go on. */
static __always_inline int ct_find_step(__u32 home, __u32 k, __u32 n, __u32 saddr, __u32 daddr,
					__u32 ports, __u32 live)
{
	__u32 i = ct_probe(home, k, n);
	struct nat_ct_slot *s;
	__u32 w;

	if (ct_walk_done(k, n))
		return -1;
	s = ct_slot(i);
	if (!s)
		return -1;
	w = *ct_wordp(s);
	if (w == live && ct_slot_has(s, saddr, daddr, ports))
		return (int)i;
	if (w == ct_word(0, NAT_CT_SLOT_EMPTY))
		return -1;
	return 0;
}

/* The slot of the LIVE entry with this key, 0 if none. */
static __always_inline __u32 ct_find_slot(__u32 saddr, __u32 daddr, __u32 ports, __u8 proto)
{
	__u32 n = ct_nslots, live = ct_word(proto, NAT_CT_SLOT_LIVE), home, k;
	int rc = 0;

	if (!n)
		return 0;
	home = ct_home(ct_hash(saddr, daddr, ports, proto, ct_hkey), n);
	CT_WALK(k, rc, rc = ct_find_step(home, k, n, saddr, daddr, ports, live));
	return rc > 0 ? (__u32)rc : 0;
}

__noinline int xdpnat_ct_find(__u32 saddr, __u32 daddr, __u32 ports, __u32 proto)
{
	return (int)ct_find_slot(saddr, daddr, ports, (__u8)proto);
}

/*
 * Count entries added or removed into the header. Far from the limit it
 * is done NAT_CT_COUNT_BATCH at a time per CPU: an atomic add to one cache
 * line on every insert would make the CPUs that create flows take that
 * line from each other. Within NAT_CT_COUNT_EXACT of the limit every
 * change is added at once, so the limit holds to the entry (a CPU's last
 * batch aside); the GC sets the count to what it counted once a pass if
 * the two differ by more than its walk may be off (gc.c ct_recount()).
 */
#define NAT_CT_COUNT_BATCH	32
#define NAT_CT_COUNT_EXACT	4096

static __always_inline void ct_count(long delta)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct nat_ct_head *h;
	struct ct_idx_cell *c;
	__s32 n;

	if (cpu >= CT_IDX_CELLS)
		return;
	c = &nat_ct_idx[cpu];
	n = c->pending + (__s32)delta;
	h = (struct nat_ct_head *)ct_slot(0);
	if (!h)
		return;
	if (n < NAT_CT_COUNT_BATCH && n > -NAT_CT_COUNT_BATCH &&
	    h->entries + NAT_CT_COUNT_EXACT < h->limit) {
		c->pending = n;
		return;
	}
	c->pending = 0;
	__sync_fetch_and_add(&h->entries, (__s64)n);
}

/*
 * An insert's walk keeps its state in a per-CPU cell of .bss, read back
 * through a volatile pointer, instead of in registers that every slot
 * lookup (a call) would make clang spill to the stack: the programs
 * calling it have only 64 bytes left for it.
 */
struct ct_walk {
	__u32 idx;			/* map key of the slot looked at */
	__u32 saddr, daddr, ports;	/* the key */
	__u32 live;			/* its LIVE word */
	__u32 home;
	__u32 f, fw;			/* the first free slot seen, and its word */
	__u32 mine;			/* the slot claimed */
	__u32 found;			/* the key's LIVE slot, if the walk met it */
	__u8 pad[24];
} __attribute__((aligned(64)));
static struct ct_walk nat_ct_walk[CT_IDX_CELLS];	/* static: not in the skeleton */

/* The cell again, as a value clang cannot keep derived pointers of (the
 * field addresses) in registers across calls: it would spill them. */
static __always_inline volatile struct ct_walk *ct_fresh(volatile struct ct_walk *w)
{
	asm volatile("" : "+r"(w));
	return w;
}

static __always_inline struct nat_ct_slot *ct_walk_slot(volatile struct ct_walk *w, __u32 i)
{
	w = ct_fresh(w);
	w->idx = i;
	return bpf_map_lookup_elem(&nat_ct, (const void *)&w->idx);
}

static __always_inline bool ct_walk_has(volatile struct ct_walk *w, struct nat_ct_slot *s)
{
	w = ct_fresh(w);
	return s->key.saddr == w->saddr && s->key.daddr == w->daddr &&
	       ct_ports(&s->key) == w->ports;
}

/* One step of a claim's walk: 1 at the key's LIVE entry (w->found) or
 * at an empty slot (the end of the way), -1 on a lookup failure, 0 to go
 * on; the first free slot is noted in w->f. */
static __always_inline int ct_claim_step(volatile struct ct_walk *w, __u32 k)
{
	w = ct_fresh(w);
	__u32 i = ct_probe(w->home, k, ct_nslots), x;
	struct nat_ct_slot *s;

	if (ct_walk_done(k, ct_nslots))
		return 1;	/* every slot seen: claim the first free one */
	s = ct_walk_slot(w, i);
	if (!s)
		return -1;
	x = *ct_wordp(s);
	if (x == w->live && ct_walk_has(w, s)) {
		w->found = i;
		return 1;
	}
	if (!w->f && (x == 0 || x == ct_word(0, NAT_CT_SLOT_DEAD))) {
		w->f = i;
		w->fw = x;
	}
	return x == 0;
}

/*
 * Claim a slot for the walk's key and write the key into it (the slot
 * stays BUSY until ct_publish()). Returns the slot, the negated slot of
 * the LIVE entry that has the key already, or 0: the table is at its
 * limit or the key's probe sequence is full.
 */
#define CT_CLAIM_RACE	(1 << 30)	/* another CPU claimed the free slot first */

static __always_inline int ct_claim(volatile struct ct_walk *w)
{
	struct nat_ct_head *h = (struct nat_ct_head *)ct_walk_slot(w, 0);
	struct nat_ct_slot *s;
	int rc = 0;
	__u32 k;

	if (!ct_nslots || !h || h->entries >= h->limit)
		return 0;
	w = ct_fresh(w);
	w->home = ct_home(ct_hash(w->saddr, w->daddr, w->ports, (__u8)w->live, ct_hkey),
			  ct_nslots);
	w->f = 0;
	w->found = 0;
	CT_WALK(k, rc, rc = ct_claim_step(w, k));
	w = ct_fresh(w);
	if (rc < 0)
		return 0;
	if (w->found)
		return -(int)w->found;
	if (!w->f)
		return 0;
	s = ct_walk_slot(w, w->f);
	if (!s)
		return 0;
	if (__sync_val_compare_and_swap(ct_wordp(s), w->fw, ct_word(0, NAT_CT_SLOT_BUSY)) != w->fw)
		return CT_CLAIM_RACE;
	s->key.saddr = w->saddr;
	s->key.daddr = w->daddr;
	*(__u32 *)&s->key.sport = w->ports;
	return (int)w->f;
}

/* One step of a publish's check: 1 at our own slot (done), 2 at the same
 * key in an earlier slot (or one that stays BUSY), -1 on a lookup
 * failure, 0 to go on. */
static __always_inline int ct_publish_step(volatile struct ct_walk *w, __u32 k)
{
	w = ct_fresh(w);
	__u32 busy = ct_word(0, NAT_CT_SLOT_BUSY);
	__u32 i = ct_probe(w->home, k, ct_nslots), x;
	struct nat_ct_slot *t;

	if (i == w->mine || ct_walk_done(k, ct_nslots))
		return 1;
	t = ct_walk_slot(w, i);
	if (!t)
		return -1;
	x = *ct_wordp(t);
	if (x == 0)
		__sync_val_compare_and_swap(ct_wordp(t), 0, ct_word(0, NAT_CT_SLOT_DEAD));
	for (int j = 0; j < 32 && x == busy; j++)
		x = *ct_wordp(t);
	/* still being written (by a thread of the controller): it may be our
	 * key, and an insert that fails is the safe mistake */
	if (x == busy || (x == w->live && ct_walk_has(w, t)))
		return 2;
	return 0;
}

/*
 * Make the entry in the claimed slot w->mine LIVE, then check the way from
 * its home slot (include/nat_ct_slots.h): 0, or -CT_EEXIST if a
 * concurrent insert of the same key got an earlier slot (ours is freed).
 */
static __always_inline int ct_publish(volatile struct ct_walk *w)
{
	struct nat_ct_slot *s = ct_walk_slot(w, w->mine);
	int rc = 0;
	__u32 k;

	if (!s)
		return -CT_ENOENT;
	__sync_lock_test_and_set(ct_wordp(s), w->live);
	ct_count(1);
	CT_WALK(k, rc, rc = ct_publish_step(w, k));
	if (rc != 2)
		return 0;
	s = ct_walk_slot(w, w->mine);
	if (s)
		__sync_lock_test_and_set(ct_wordp(s), ct_word(0, NAT_CT_SLOT_DEAD));
	ct_count(-1);
	return -CT_EEXIST;
}

/* Free the LIVE entry with this key: 0, or -CT_ENOENT. */
__noinline int xdpnat_ct_delete(__u32 saddr, __u32 daddr, __u32 ports, __u32 proto)
{
	__u32 live = ct_word((__u8)proto, NAT_CT_SLOT_LIVE);
	__u32 i = ct_find_slot(saddr, daddr, ports, (__u8)proto);
	struct nat_ct_slot *s;

	if (!i || !(s = ct_slot(i)))
		return -CT_ENOENT;
	if (__sync_val_compare_and_swap(ct_wordp(s), live, ct_word(0, NAT_CT_SLOT_DEAD)) != live)
		return -CT_ENOENT;
	ct_count(-1);
	return 0;
}

/* ---- what the rest of the data path calls */

static __always_inline struct nat_ct_value *ct_lookup(const struct nat_ct_key *k)
{
	__u32 i = (__u32)xdpnat_ct_find(k->saddr, k->daddr, ct_ports(k), k->proto);
	struct nat_ct_slot *s;

	if (!i)
		return NULL;
	s = ct_slot(i);
	if (!s)
		return NULL;
	asm volatile("" : "+r"(s));	/* no &s->val before the check (verifier) */
	return &s->val;
}

/*
 * Add an entry: BPF_NOEXIST fails with -CT_EEXIST if the key has one,
 * BPF_ANY overwrites it. -CT_ENOSPC: no room. A global function: the
 * callers' stack has no room for the walk's state.
 */
__noinline int xdpnat_ct_claim(const struct nat_ct_key *k)
{
	__u32 cpu = bpf_get_smp_processor_id();
	volatile struct ct_walk *w;
	int rc;

	if (!k || cpu >= CT_IDX_CELLS)
		return 0;
	w = &nat_ct_walk[cpu];
	w->saddr = k->saddr;
	w->daddr = k->daddr;
	w->ports = ct_ports(k);
	w->live = ct_word(k->proto, NAT_CT_SLOT_LIVE);
	rc = ct_claim(w);
	if (rc == CT_CLAIM_RACE)	/* once more, from the start */
		rc = ct_claim(w);
	return rc == CT_CLAIM_RACE ? 0 : rc;
}

/* After xdpnat_ct_claim() on this CPU, with the same walk cell. */
__noinline int xdpnat_ct_publish(__u32 idx)
{
	__u32 cpu = bpf_get_smp_processor_id();
	volatile struct ct_walk *w;

	if (cpu >= CT_IDX_CELLS)
		return -CT_ENOENT;
	w = &nat_ct_walk[cpu];
	w->mine = idx;
	return ct_publish(w);
}

/*
 * Add an entry: BPF_NOEXIST fails with -CT_EEXIST if the key has one,
 * BPF_ANY overwrites it. -CT_ENOSPC: no room. The walks are global
 * functions: the callers' stack has no room for their state.
 */
static __always_inline long ct_insert(const struct nat_ct_key *k, const struct nat_ct_value *v,
				      __u64 flags)
{
	int rc = xdpnat_ct_claim(k);
	struct nat_ct_slot *s;
	__u32 i;

	if (!rc)
		return -CT_ENOSPC;
	if (rc < 0 && flags == BPF_NOEXIST)
		return -CT_EEXIST;
	i = rc < 0 ? (__u32)-rc : (__u32)rc;
	s = ct_slot(i);
	if (!s)
		return -CT_ENOSPC;
	s->val = *v;
	if (rc < 0)
		return 0;
	return xdpnat_ct_publish(i);
}

static __always_inline long ct_delete(const struct nat_ct_key *k)
{
	return xdpnat_ct_delete(k->saddr, k->daddr, ct_ports(k), k->proto);
}

#endif /* BPF_NAT_CTTAB_H */
