// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * cttab.c - nat_ct from the controller: the slot table's protocol
 * (include/nat_ct_slots.h) on the mmap()ed array.
 */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "common/cttab.h"

_Static_assert(sizeof(struct nat_ct_value) == 48, "nat_ct_value must fill its slot");
_Static_assert(sizeof(struct nat_ct_slot) == 64, "a nat_ct slot is one cache line");
_Static_assert(sizeof(struct nat_ct_head) == 64, "the header is one slot");

static __u32 *wordp(const struct nat_ct_slot *s)
{
	return (__u32 *)((char *)s + NAT_CT_WORD_OFF);
}

static __u32 load(const struct nat_ct_slot *s)
{
	return __atomic_load_n(wordp(s), __ATOMIC_ACQUIRE);
}

static bool cas(const struct nat_ct_slot *s, __u32 old, __u32 new)
{
	return __atomic_compare_exchange_n(wordp(s), &old, new, false, __ATOMIC_SEQ_CST,
					   __ATOMIC_SEQ_CST);
}

static struct nat_ct_head *head_of(const struct nat_cttab *t)
{
	return (struct nat_ct_head *)t->slots;
}

static void count(const struct nat_cttab *t, long delta)
{
	__atomic_fetch_add(&head_of(t)->entries, (__u64)delta, __ATOMIC_SEQ_CST);
}

static bool same_key(const struct nat_ct_slot *s, const struct nat_ct_key *k)
{
	return s->key.saddr == k->saddr && s->key.daddr == k->daddr &&
	       ct_ports(&s->key) == ct_ports(k);
}

static __u32 next_slot(__u32 i, __u32 nslots)
{
	return i >= nslots ? 1 : i + 1;
}

static __u32 home_of(const struct nat_cttab *t, const struct nat_ct_key *k)
{
	return ct_home(ct_hash(k->saddr, k->daddr, ct_ports(k), k->proto, t->hkey), t->nslots);
}

__u32 cttab_entries_for(__u32 conntrack_max)
{
	return 1 + ct_nslots_for(conntrack_max);
}

int cttab_map(struct nat_cttab *t, int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	const struct nat_ct_head *h;
	void *p;

	memset(t, 0, sizeof(*t));
	if (fd < 0)
		return -EBADF;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_ARRAY || info.value_size != sizeof(struct nat_ct_slot) ||
	    !(info.map_flags & BPF_F_MMAPABLE) || info.max_entries < 2)
		return -EINVAL;
	len = info.max_entries;
	p = mmap(NULL, (size_t)len * sizeof(struct nat_ct_slot), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	h = p;
	if (h->magic != NAT_CT_MAGIC || !h->nslots || h->nslots > len - 1) {
		munmap(p, (size_t)len * sizeof(struct nat_ct_slot));
		return -EINVAL;
	}
	t->slots = p;
	t->len = (size_t)len * sizeof(struct nat_ct_slot);
	t->nslots = h->nslots;
	memcpy(t->hkey, h->hkey, sizeof(t->hkey));
	return 0;
}

void cttab_unmap(struct nat_cttab *t)
{
	if (t->slots)
		munmap(t->slots, t->len);
	memset(t, 0, sizeof(*t));
}

void cttab_keys_from_seed(__u64 seed, __u64 hkey[NAT_CT_HKEYS])
{
	for (int i = 0; i < NAT_CT_HKEYS; i++) {
		__u64 z = (seed += 0x9e3779b97f4a7c15ull);

		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		hkey[i] = z ^ (z >> 31);
	}
}

void cttab_new_keys(__u64 hkey[NAT_CT_HKEYS])
{
	size_t want = NAT_CT_HKEYS * sizeof(__u64);
	struct timespec ts;

	if (getrandom(hkey, want, 0) == (ssize_t)want)
		return;
	/* no entropy to be had (a very early boot): weaker, but working */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	cttab_keys_from_seed((__u64)ts.tv_nsec << 32 ^ (__u64)ts.tv_sec ^ (__u64)getpid() << 16,
			     hkey);
}

int cttab_read_head(int fd, struct nat_ct_head *h)
{
	struct nat_ct_slot s;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(fd, &zero, &s))
		return -errno;
	memcpy(h, &s, sizeof(*h));
	return h->magic == NAT_CT_MAGIC ? 0 : -EINVAL;
}

int cttab_format(int fd, __u32 nslots, __u32 limit, const __u64 hkey[NAT_CT_HKEYS])
{
	struct nat_ct_slot s = {};
	struct nat_ct_head *h = (struct nat_ct_head *)&s;
	__u32 zero = 0;

	h->magic = NAT_CT_MAGIC;
	h->nslots = nslots;
	h->limit = limit;
	memcpy(h->hkey, hkey, sizeof(h->hkey));
	return bpf_map_update_elem(fd, &zero, &s, BPF_ANY) ? -errno : 0;
}

int cttab_create(__u32 conntrack_max)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_MMAPABLE);
	__u32 n = cttab_entries_for(conntrack_max);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, XDPNAT_MAP_CT, sizeof(__u32),
				sizeof(struct nat_ct_slot), n, &o);
	__u64 hkey[NAT_CT_HKEYS];
	int err;

	if (fd < 0)
		return -errno;
	cttab_new_keys(hkey);
	err = cttab_format(fd, n - 1, 2 * conntrack_max, hkey);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

const struct nat_ct_head *cttab_head(const struct nat_cttab *t)
{
	return t->slots ? head_of(t) : NULL;
}

/* The slot of the LIVE entry with key k, 0 if none. */
static __u32 find_slot(const struct nat_cttab *t, const struct nat_ct_key *k)
{
	__u32 live = ct_word(k->proto, NAT_CT_SLOT_LIVE), i;

	if (!t->slots)
		return 0;
	i = home_of(t, k);
	for (__u32 n = 0; n < NAT_CT_PROBES && !ct_walk_done(n, t->nslots); n++) {
		const struct nat_ct_slot *s = &t->slots[i];
		__u32 w = load(s);

		if (w == live && same_key(s, k))
			return i;
		if (w == ct_word(0, NAT_CT_SLOT_EMPTY))
			return 0;
		i = next_slot(i, t->nslots);
	}
	return 0;
}

struct nat_ct_value *ct_find(const struct nat_cttab *t, const struct nat_ct_key *k)
{
	__u32 i = find_slot(t, k);

	return i ? &t->slots[i].val : NULL;
}

int ct_get(const struct nat_cttab *t, const struct nat_ct_key *k, struct nat_ct_value *v)
{
	const struct nat_ct_value *e = ct_find(t, k);

	if (!e)
		return -ENOENT;
	memcpy(v, e, sizeof(*v));
	return 0;
}

/* As xdpnat_ct_claim() (bpf/nat_cttab.h). */
static long claim(const struct nat_cttab *t, const struct nat_ct_key *k)
{
	__u32 live = ct_word(k->proto, NAT_CT_SLOT_LIVE), dead = ct_word(0, NAT_CT_SLOT_DEAD);
	const struct nat_ct_head *h = head_of(t);

	if (__atomic_load_n(&h->entries, __ATOMIC_RELAXED) >= h->limit)
		return 0;
	for (int attempt = 0; attempt < 8; attempt++) {
		__u32 i = home_of(t, k), f = 0, fw = 0;
		struct nat_ct_slot *s;

		for (__u32 n = 0; n < NAT_CT_PROBES && !ct_walk_done(n, t->nslots); n++) {
			__u32 w = load(&t->slots[i]);

			if (w == live && same_key(&t->slots[i], k))
				return -(long)i;
			if (!f && (w == 0 || w == dead)) {
				f = i;
				fw = w;
			}
			if (w == 0)
				break;
			i = next_slot(i, t->nslots);
		}
		if (!f)
			return 0;
		s = &t->slots[f];
		if (cas(s, fw, ct_word(0, NAT_CT_SLOT_BUSY))) {
			s->key.saddr = k->saddr;
			s->key.daddr = k->daddr;
			s->key.sport = k->sport;
			s->key.dport = k->dport;
			return f;
		}
	}
	return 0;
}

/* As xdpnat_ct_publish(). */
static int publish(const struct nat_cttab *t, __u32 idx, const struct nat_ct_key *k)
{
	__u32 live = ct_word(k->proto, NAT_CT_SLOT_LIVE), busy = ct_word(0, NAT_CT_SLOT_BUSY);
	__u32 dead = ct_word(0, NAT_CT_SLOT_DEAD), i = home_of(t, k);
	struct nat_ct_slot *s = &t->slots[idx];

	__atomic_exchange_n(wordp(s), live, __ATOMIC_SEQ_CST);
	count(t, 1);
	for (__u32 n = 0; n < NAT_CT_PROBES && !ct_walk_done(n, t->nslots) && i != idx;
	     n++, i = next_slot(i, t->nslots)) {
		const struct nat_ct_slot *o = &t->slots[i];
		__u32 w = load(o);

		if (w == 0)
			cas(o, 0, dead);
		for (int j = 0; j < NAT_CT_BUSY_SPINS && w == busy; j++) {
			if (j >= 64)
				sched_yield();	/* its writer may be a thread, preempted */
			w = load(o);
		}
		/* still being written after all that: it may be our key */
		if (w == busy || (w == live && same_key(o, k))) {
			__atomic_exchange_n(wordp(s), dead, __ATOMIC_SEQ_CST);
			count(t, -1);
			return -EEXIST;
		}
	}
	return 0;
}

int ct_put(const struct nat_cttab *t, const struct nat_ct_key *k, const struct nat_ct_value *v,
	   __u64 flags)
{
	long rc;

	if (!t->slots)
		return -EBADF;
	if (flags == BPF_EXIST) {
		struct nat_ct_value *e = ct_find(t, k);

		if (!e)
			return -ENOENT;
		memcpy(e, v, sizeof(*v));
		return 0;
	}
	rc = claim(t, k);
	if (!rc)
		return -E2BIG;
	if (rc < 0) {
		if (flags == BPF_NOEXIST)
			return -EEXIST;
		memcpy(&t->slots[-rc].val, v, sizeof(*v));
		return 0;
	}
	memcpy(&t->slots[rc].val, v, sizeof(*v));
	return publish(t, (__u32)rc, k);
}

int ct_del(const struct nat_cttab *t, const struct nat_ct_key *k)
{
	__u32 i = find_slot(t, k);

	if (!i || !cas(&t->slots[i], ct_word(k->proto, NAT_CT_SLOT_LIVE),
		       ct_word(0, NAT_CT_SLOT_DEAD)))
		return -ENOENT;
	count(t, -1);
	return 0;
}

int ct_take(const struct nat_cttab *t, const struct nat_ct_key *k, struct nat_ct_value *v)
{
	__u32 i = find_slot(t, k);

	if (!i)
		return -ENOENT;
	memcpy(v, &t->slots[i].val, sizeof(*v));
	if (!cas(&t->slots[i], ct_word(k->proto, NAT_CT_SLOT_LIVE), ct_word(0, NAT_CT_SLOT_DEAD)))
		return -ENOENT;
	count(t, -1);
	return 0;
}

bool ct_slot_read(const struct nat_cttab *t, __u32 i, struct nat_ct_key *k,
		  struct nat_ct_value *v)
{
	const struct nat_ct_slot *s;
	__u32 w;

	if (!t->slots || i < 1 || i > t->nslots)
		return false;
	s = &t->slots[i];
	w = load(s);
	if (ct_word_state(w) != NAT_CT_SLOT_LIVE)
		return false;
	memcpy(k, &s->key, sizeof(*k));
	memcpy(v, &s->val, sizeof(*v));
	if (load(s) != w)
		return false;	/* freed (or reused) while copied */
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
	return true;
}

int ct_for_each(const struct nat_cttab *t, ct_visit_fn fn, void *arg)
{
	if (!t->slots)
		return 0;
	for (__u32 i = 1; i <= t->nslots; i++) {
		struct nat_ct_key k;
		struct nat_ct_value v;
		int rc;

		if (!ct_slot_read(t, i, &k, &v))
			continue;
		rc = fn(&k, &v, arg);
		if (rc)
			return rc;
	}
	return 0;
}

struct sweep {
	const struct nat_cttab *t;
	bool (*doomed)(const void *key, const void *val, void *ctx);
	void (*deleted)(const void *key, const void *val, void *ctx);
	void *ctx;
	long n;
};

static int sweep_one(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	struct sweep *w = arg;

	if (w->doomed(k, v, w->ctx) && !ct_del(w->t, k)) {
		w->n++;
		if (w->deleted)
			w->deleted(k, v, w->ctx);
	}
	return 0;
}

long ct_sweep(const struct nat_cttab *t, bool (*doomed)(const void *key, const void *val, void *ctx),
	      void *ctx, void (*deleted)(const void *key, const void *val, void *ctx))
{
	struct sweep w = { .t = t, .doomed = doomed, .deleted = deleted, .ctx = ctx };

	ct_for_each(t, sweep_one, &w);
	return w.n;
}

/* Slots from a to b going forward (0 if a == b). */
static __u32 dist(const struct nat_cttab *t, __u32 a, __u32 b)
{
	return b >= a ? b - a : t->nslots - a + b;
}

/*
 * Does an entry after DEAD slot d, in the same run (up to the next empty
 * slot), need d to be found: is its home at or before d? A slot being
 * written (its key may be half there) counts as needing it.
 */
static bool needed(const struct nat_cttab *t, __u32 d)
{
	__u32 j = next_slot(d, t->nslots);

	for (__u32 n = 0; n < NAT_CT_PROBES + 1; n++, j = next_slot(j, t->nslots)) {
		const struct nat_ct_slot *s = &t->slots[j];
		__u32 w = load(s);
		struct nat_ct_key k;

		if (w == 0)
			return false;
		if (ct_word_state(w) == NAT_CT_SLOT_BUSY)
			return true;
		if (ct_word_state(w) != NAT_CT_SLOT_LIVE)
			continue;
		memcpy(&k, &s->key, sizeof(k));
		if (load(s) != w)
			return true;	/* changed while read: keep d */
		if (dist(t, home_of(t, &k), j) >= dist(t, d, j))
			return true;
	}
	return true;
}

bool ct_tidy_slot(const struct nat_cttab *t, __u32 i)
{
	const struct nat_ct_slot *s = &t->slots[i];
	__u32 dead = ct_word(0, NAT_CT_SLOT_DEAD);

	if (!t->slots || i < 1 || i > t->nslots || load(s) != dead || needed(t, i) ||
	    !cas(s, dead, 0))
		return false;
	/* An insert may have claimed a slot after it meanwhile whose way from
	 * home runs through it: look again, and undo (its publish() heals
	 * such a gap too). */
	if (needed(t, i)) {
		cas(s, 0, dead);
		return false;
	}
	return true;
}

void cttab_set_entries(const struct nat_cttab *t, __u64 n)
{
	if (t->slots)
		__atomic_store_n(&head_of(t)->entries, n, __ATOMIC_SEQ_CST);
}

long cttab_tidy(const struct nat_cttab *t)
{
	long live = 0;

	if (!t->slots)
		return 0;
	for (__u32 i = 1; i <= t->nslots; i++) {
		if (ct_word_state(load(&t->slots[i])) == NAT_CT_SLOT_LIVE)
			live++;
		else
			ct_tidy_slot(t, i);
	}
	cttab_set_entries(t, (__u64)live);
	return live;
}
