/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * test_cttab.c - nat_ct's slot table from the controller's side
 * (ctl/common/cttab.c, protocol in include/nat_ct_slots.h) on a real
 * BPF_F_MMAPABLE array (needs root): the bpf_map_*_elem conventions of
 * ct_get/ct_put/ct_del/ct_take, tombstones and cttab_tidy(), the entry
 * limit, ct_for_each(), and a table filled to its limit.
 *
 * The full table's keys and hash keys are random (XDPNAT_CTTAB_RAND and
 * XDPNAT_CTTAB_SEED, the seed of the hash keys, printed on a failure,
 * replay one).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include "xdpnat.h"
#include "nat_ct_slots.h"
#include "common/cttab.h"

struct fixture {
	int fd;
	struct nat_cttab t;
	__u32 ctmax;
	__u64 seed;			/* of the table's hash keys */
};

static struct fixture *fixture_new(__u32 ctmax)
{
	static struct fixture f;
	__u64 hkey[NAT_CT_HKEYS];
	int err;

	memset(&f, 0, sizeof(f));
	f.ctmax = ctmax;
	f.fd = cttab_create(ctmax);
	assert_true(f.fd >= 0);
	/* keys from a seed a failure prints (XDPNAT_CTTAB_SEED replays it) */
	if (getenv("XDPNAT_CTTAB_SEED"))
		f.seed = strtoull(getenv("XDPNAT_CTTAB_SEED"), NULL, 16);
	else {
		cttab_new_keys(hkey);	/* random words */
		f.seed = hkey[0];
	}
	cttab_keys_from_seed(f.seed, hkey);
	assert_int_equal(cttab_format(f.fd, cttab_entries_for(ctmax) - 1, 2 * ctmax, hkey), 0);
	err = cttab_map(&f.t, f.fd);
	assert_int_equal(err, 0);
	return &f;
}

static int setup_small(void **state)
{
	*state = fixture_new(16);	/* 40 slots, 32 entries */
	return 0;
}

static int setup_big(void **state)
{
	*state = fixture_new(4096);	/* 10240 slots, 8192 entries */
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	cttab_unmap(&f->t);
	close(f->fd);
	return 0;
}

static struct nat_ct_key key(__u32 saddr_host, __u16 sport, __u8 proto)
{
	return (struct nat_ct_key){ .saddr = htonl(saddr_host), .daddr = htonl(0x08080808),
				    .sport = htons(sport), .dport = htons(53), .proto = proto };
}

static struct nat_ct_value val(__u16 port, __u32 tag)
{
	return (struct nat_ct_value){ .to_saddr = htonl(0xc0000201), .to_daddr = htonl(0x08080808),
				      .to_sport = htons(port), .to_dport = htons(53),
				      .wan_ifindex = 7, .dir = NAT_DIR_ORIG,
				      .kind = NAT_KIND_MASQ, .state = NAT_CT_NEW,
				      .packets = tag, .bytes = (__u64)tag << 20, .last_seen = tag };
}

static __u32 table_home(const struct nat_cttab *t, const struct nat_ct_key *k)
{
	return ct_home(ct_hash(k->saddr, k->daddr, ct_ports(k), k->proto, t->hkey), t->nslots);
}

static __u32 home(const struct fixture *f, const struct nat_ct_key *k)
{
	return table_home(&f->t, k);
}

static __u8 slot_state(const struct fixture *f, __u32 i)
{
	return f->t.slots[i].key.pad[0];
}

/* The slot that holds key k LIVE, 0 if none (a linear scan, not the probe). */
static __u32 slot_of(const struct fixture *f, const struct nat_ct_key *k)
{
	for (__u32 i = 1; i <= f->t.nslots; i++) {
		const struct nat_ct_key *s = &f->t.slots[i].key;

		if (s->pad[0] == NAT_CT_SLOT_LIVE && s->saddr == k->saddr &&
		    s->daddr == k->daddr && s->sport == k->sport && s->dport == k->dport &&
		    s->proto == k->proto)
			return i;
	}
	return 0;
}

static __u64 entries(const struct fixture *f)
{
	return cttab_head(&f->t)->entries;
}

/* The header as cttab_create() wrote it. */
static void test_header(void **state)
{
	struct fixture *f = *state;
	const struct nat_ct_head *h = cttab_head(&f->t);

	assert_non_null(h);
	assert_int_equal(h->magic, NAT_CT_MAGIC);
	assert_int_equal(h->nslots, 40);		/* ceil(2.5 x 16) */
	assert_int_equal(h->limit, 32);			/* 2 x 16 */
	assert_int_equal(h->entries, 0);
	assert_int_equal(f->t.nslots, 40);
	assert_memory_equal(f->t.hkey, h->hkey, sizeof(h->hkey));
	assert_int_equal(cttab_entries_for(16), 41);
	assert_int_equal(cttab_entries_for(5), 14);	/* 1 + ceil(12.5) */
	assert_int_equal(cttab_entries_for(65536), 1 + 163840);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key k = key(0x0a000002, 5000, IPPROTO_UDP);
	struct nat_ct_value v = val(40000, 11), got;
	struct nat_ct_value *p;

	assert_int_equal(ct_get(&f->t, &k, &got), -ENOENT);
	assert_null(ct_find(&f->t, &k));
	assert_int_equal(ct_del(&f->t, &k), -ENOENT);
	assert_int_equal(ct_put(&f->t, &k, &v, BPF_EXIST), -ENOENT);	/* nothing to replace */

	assert_int_equal(ct_put(&f->t, &k, &v, BPF_NOEXIST), 0);
	assert_int_equal(entries(f), 1);
	assert_int_equal(ct_get(&f->t, &k, &got), 0);
	assert_memory_equal(&got, &v, sizeof(v));
	assert_int_equal(got.dir, NAT_DIR_ORIG);		/* the bitfields as written */
	assert_int_equal(got.kind, NAT_KIND_MASQ);
	assert_int_equal(got.state, NAT_CT_NEW);
	assert_int_equal(slot_state(f, slot_of(f, &k)), NAT_CT_SLOT_LIVE);
	assert_int_equal(slot_of(f, &k), home(f, &k));	/* an empty table: its home */

	/* the same tuple in another protocol is another entry */
	k.proto = IPPROTO_TCP;
	assert_int_equal(ct_get(&f->t, &k, &got), -ENOENT);
	k.proto = IPPROTO_UDP;

	/* BPF_EXIST changes it in place; ct_find sees it there */
	v.packets = 99;
	assert_int_equal(ct_put(&f->t, &k, &v, BPF_EXIST), 0);
	p = ct_find(&f->t, &k);
	assert_non_null(p);
	assert_int_equal(p->packets, 99);
	p->bytes = 12345;
	assert_int_equal(ct_get(&f->t, &k, &got), 0);
	assert_int_equal(got.bytes, 12345);
	assert_int_equal(entries(f), 1);

	assert_int_equal(ct_del(&f->t, &k), 0);
	assert_int_equal(entries(f), 0);
	assert_int_equal(ct_get(&f->t, &k, &got), -ENOENT);
	assert_int_equal(ct_del(&f->t, &k), -ENOENT);

	/* ct_take: the value, and the entry gone */
	v = val(40001, 12);
	assert_int_equal(ct_put(&f->t, &k, &v, BPF_ANY), 0);
	memset(&got, 0, sizeof(got));
	assert_int_equal(ct_take(&f->t, &k, &got), 0);
	assert_memory_equal(&got, &v, sizeof(v));
	assert_int_equal(ct_take(&f->t, &k, &got), -ENOENT);
	assert_int_equal(entries(f), 0);
}

static void test_noexist_and_any(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key k = key(0x0a000002, 5001, IPPROTO_TCP);
	struct nat_ct_value a = val(40000, 1), b = val(40002, 2), got;
	__u32 at;

	assert_int_equal(ct_put(&f->t, &k, &a, BPF_NOEXIST), 0);
	at = slot_of(f, &k);
	assert_int_not_equal(at, 0);
	assert_int_equal(ct_put(&f->t, &k, &b, BPF_NOEXIST), -EEXIST);
	assert_int_equal(ct_get(&f->t, &k, &got), 0);
	assert_memory_equal(&got, &a, sizeof(a));		/* untouched */
	assert_int_equal(ct_put(&f->t, &k, &b, BPF_ANY), 0);
	assert_int_equal(ct_get(&f->t, &k, &got), 0);
	assert_memory_equal(&got, &b, sizeof(b));		/* overwritten */
	assert_int_equal(slot_of(f, &k), at);			/* in place */
	assert_int_equal(entries(f), 1);			/* not a second entry */
}

/* n keys (distinct source ports) whose home slot is the same slot h, with
 * h + n + 1 <= nslots (a run that does not wrap, with room after it). */
static __u32 same_home(const struct fixture *f, struct nat_ct_key *ks, int n)
{
	for (__u32 h = 1; h + (__u32)n + 1 <= f->t.nslots; h++) {
		int got = 0;

		for (__u32 port = 1; port < 65535 && got < n; port++) {
			struct nat_ct_key k = key(0x0a000002, (__u16)port, IPPROTO_UDP);

			if (home(f, &k) == h)
				ks[got++] = k;
		}
		if (got == n)
			return h;
	}
	fail_msg("no %d keys with the same home slot", n);
	return 0;
}

/* Keys placed after others in their probe run stay found when those are
 * deleted: a delete leaves a tombstone (DEAD) that searches go past, and
 * the next insert of the run reuses it. */
static void test_tombstones(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ks[4];
	struct nat_ct_value v, got;
	__u32 h = same_home(f, ks, 4);

	for (int i = 0; i < 4; i++) {
		v = val((__u16)(41000 + i), (__u32)i);
		assert_int_equal(ct_put(&f->t, &ks[i], &v, BPF_NOEXIST), 0);
		assert_int_equal(slot_of(f, &ks[i]), h + (__u32)i);	/* one after the other */
	}
	assert_int_equal(slot_state(f, h + 4), NAT_CT_SLOT_EMPTY);
	/* delete the first three: the last one is still found, past them */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ct_del(&f->t, &ks[i]), 0);
		assert_int_equal(slot_state(f, h + (__u32)i), NAT_CT_SLOT_DEAD);
	}
	assert_int_equal(ct_get(&f->t, &ks[3], &got), 0);
	assert_int_equal(got.packets, 3);
	assert_int_equal(got.to_sport, htons(41003));
	assert_int_equal(entries(f), 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ct_get(&f->t, &ks[i], &got), -ENOENT);
	/* an insert of the run takes the first tombstone, and is found */
	v = val(42000, 7);
	assert_int_equal(ct_put(&f->t, &ks[1], &v, BPF_NOEXIST), 0);
	assert_int_equal(slot_of(f, &ks[1]), h);
	assert_int_equal(ct_get(&f->t, &ks[1], &got), 0);
	assert_int_equal(got.packets, 7);
	/* and a key that is there already past a tombstone is not added twice */
	assert_int_equal(ct_put(&f->t, &ks[3], &v, BPF_NOEXIST), -EEXIST);
	assert_int_equal(entries(f), 2);
}

/* cttab_tidy(): tombstones that end a run become EMPTY again, one with a
 * LIVE entry after it stays; head.entries is set to the LIVE slots. */
static void test_tidy(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ks[4];
	struct nat_ct_value v = val(43000, 1), got;
	struct nat_ct_head *h;
	__u32 home_slot = same_home(f, ks, 4);

	for (int i = 0; i < 4; i++)
		assert_int_equal(ct_put(&f->t, &ks[i], &v, BPF_NOEXIST), 0);
	/* run: [0 DEAD] [1 LIVE] [2 DEAD] [3 DEAD] EMPTY */
	assert_int_equal(ct_del(&f->t, &ks[0]), 0);
	assert_int_equal(ct_del(&f->t, &ks[2]), 0);
	assert_int_equal(ct_del(&f->t, &ks[3]), 0);
	assert_int_equal(slot_state(f, home_slot + 4), NAT_CT_SLOT_EMPTY);
	/* a wrong count (entries is only ever added to by the data path) */
	h = (struct nat_ct_head *)cttab_head(&f->t);
	h->entries = 1000;

	assert_int_equal(cttab_tidy(&f->t), 1);
	assert_int_equal(entries(f), 1);
	assert_int_equal(slot_state(f, home_slot), NAT_CT_SLOT_DEAD);	/* a LIVE one after it */
	assert_int_equal(slot_state(f, home_slot + 1), NAT_CT_SLOT_LIVE);
	assert_int_equal(slot_state(f, home_slot + 2), NAT_CT_SLOT_EMPTY);
	assert_int_equal(slot_state(f, home_slot + 3), NAT_CT_SLOT_EMPTY);
	assert_int_equal(ct_get(&f->t, &ks[1], &got), 0);
	/* the last entry of the run goes: the whole run is empty again */
	assert_int_equal(ct_del(&f->t, &ks[1]), 0);
	assert_int_equal(cttab_tidy(&f->t), 0);
	assert_int_equal(entries(f), 0);
	for (__u32 i = 1; i <= f->t.nslots; i++)
		assert_int_equal(slot_state(f, i), NAT_CT_SLOT_EMPTY);
}

/* cttab_tidy() in the middle of a run: a tombstone that no later entry of
 * the run needs (their homes are after it) becomes EMPTY, one that a later
 * entry's way runs through stays; every entry is still found. */
static void test_tidy_mid_run(void **state)
{
	struct fixture *f = *state;
	struct nat_ct_key ks[2], b = {};
	struct nat_ct_value v = val(44000, 1), got;
	__u32 h = same_home(f, ks, 2), port;

	/* ks[0] at h, ks[1] at h + 1 (home h), b at h + 2 with home h + 2 */
	for (port = 1; port < 65535; port++) {
		b = key(0x0a000003, (__u16)port, IPPROTO_UDP);
		if (home(f, &b) == h + 2)
			break;
	}
	assert_true(port < 65535);
	assert_int_equal(ct_put(&f->t, &ks[0], &v, BPF_NOEXIST), 0);
	assert_int_equal(ct_put(&f->t, &ks[1], &v, BPF_NOEXIST), 0);
	assert_int_equal(ct_put(&f->t, &b, &v, BPF_NOEXIST), 0);
	assert_int_equal(slot_of(f, &b), h + 2);
	/* [h DEAD] [h+1 DEAD] [h+2 LIVE, home h+2]: nobody needs h or h+1 */
	assert_int_equal(ct_del(&f->t, &ks[0]), 0);
	assert_int_equal(ct_del(&f->t, &ks[1]), 0);
	assert_int_equal(cttab_tidy(&f->t), 1);
	assert_int_equal(slot_state(f, h), NAT_CT_SLOT_EMPTY);
	assert_int_equal(slot_state(f, h + 1), NAT_CT_SLOT_EMPTY);
	assert_int_equal(ct_get(&f->t, &b, &got), 0);
	/* [h LIVE ks0] [h+1 LIVE ks1, home h] [h+2 b]: delete ks0, keep ks1's way */
	assert_int_equal(ct_put(&f->t, &ks[0], &v, BPF_NOEXIST), 0);
	assert_int_equal(ct_put(&f->t, &ks[1], &v, BPF_NOEXIST), 0);
	assert_int_equal(slot_of(f, &ks[1]), h + 1);
	assert_int_equal(ct_del(&f->t, &ks[0]), 0);
	assert_int_equal(cttab_tidy(&f->t), 2);
	assert_int_equal(slot_state(f, h), NAT_CT_SLOT_DEAD);
	assert_int_equal(ct_get(&f->t, &ks[1], &got), 0);
	assert_int_equal(ct_get(&f->t, &b, &got), 0);
}

/* head.limit (2 x conntrack-max) entries and no more, as a full hash map. */
static void test_limit(void **state)
{
	struct fixture *f = *state;
	__u32 limit = cttab_head(&f->t)->limit;
	struct nat_ct_value v = val(44000, 1), got;
	struct nat_ct_key k;

	assert_int_equal(limit, 2 * f->ctmax);
	for (__u32 i = 0; i < limit; i++) {
		k = key(0x0a000000 + i, 1000, IPPROTO_UDP);
		assert_int_equal(ct_put(&f->t, &k, &v, BPF_NOEXIST), 0);
	}
	assert_int_equal(entries(f), limit);
	k = key(0x0b000000, 1000, IPPROTO_UDP);
	assert_int_equal(ct_put(&f->t, &k, &v, BPF_NOEXIST), -E2BIG);
	assert_int_equal(ct_put(&f->t, &k, &v, BPF_ANY), -E2BIG);
	assert_int_equal(ct_get(&f->t, &k, &got), -ENOENT);
	assert_int_equal(entries(f), limit);
	/* changing an entry that is there needs no room */
	k = key(0x0a000000, 1000, IPPROTO_UDP);
	v.packets = 5;
	assert_int_equal(ct_put(&f->t, &k, &v, BPF_EXIST), 0);
	/* one out, one in */
	assert_int_equal(ct_del(&f->t, &k), 0);
	k = key(0x0b000000, 1000, IPPROTO_UDP);
	assert_int_equal(ct_put(&f->t, &k, &v, BPF_NOEXIST), 0);
	assert_int_equal(ct_get(&f->t, &k, &got), 0);
	assert_int_equal(entries(f), limit);
}

struct seen {
	int n;
	struct nat_ct_key keys[64];
	__u32 tags[64];
	int stop_after;			/* > 0: return 7 at that many */
};

static int visit(const struct nat_ct_key *k, const struct nat_ct_value *v, void *arg)
{
	struct seen *s = arg;

	assert_true(s->n < 64);
	s->keys[s->n] = *k;
	s->tags[s->n] = v->packets;
	s->n++;
	return s->stop_after && s->n == s->stop_after ? 7 : 0;
}

/* ct_for_each: every LIVE entry once, none of the deleted ones, the key as
 * it was put (pad zero: not the slot's state), the value with it. */
static void test_for_each(void **state)
{
	struct fixture *f = *state;
	struct seen s = {};
	bool found[20] = {};

	for (__u32 i = 0; i < 20; i++) {
		struct nat_ct_key k = key(0x0a000000 + i, (__u16)(2000 + i),
					  i % 2 ? IPPROTO_TCP : IPPROTO_UDP);
		struct nat_ct_value v = val(45000, i);

		assert_int_equal(ct_put(&f->t, &k, &v, BPF_NOEXIST), 0);
	}
	for (__u32 i = 0; i < 20; i += 3) {	/* 0, 3, ..., 18: 7 gone */
		struct nat_ct_key k = key(0x0a000000 + i, (__u16)(2000 + i),
					  i % 2 ? IPPROTO_TCP : IPPROTO_UDP);

		assert_int_equal(ct_del(&f->t, &k), 0);
	}
	assert_int_equal(ct_for_each(&f->t, visit, &s), 0);
	assert_int_equal(s.n, 13);
	for (int j = 0; j < s.n; j++) {
		__u32 i = s.tags[j];
		struct nat_ct_key want = key(0x0a000000 + i, (__u16)(2000 + i),
					     i % 2 ? IPPROTO_TCP : IPPROTO_UDP);

		assert_true(i < 20);
		assert_true(i % 3 != 0);
		assert_false(found[i]);
		found[i] = true;
		assert_memory_equal(&s.keys[j], &want, sizeof(want));	/* pad included */
		assert_int_equal(s.keys[j].pad[0], 0);
	}
	/* a non-zero return stops the walk and is returned */
	memset(&s, 0, sizeof(s));
	s.stop_after = 4;
	assert_int_equal(ct_for_each(&f->t, visit, &s), 7);
	assert_int_equal(s.n, 4);
}

/* A table at its limit is 80% full: every one of its entries, random keys,
 * is found with its value (no key is past NAT_CT_PROBES from its home). */
static void test_full_table(void **state)
{
	struct fixture *f = *state;
	__u32 limit = cttab_head(&f->t)->limit;
	struct nat_ct_key *ks = calloc(limit, sizeof(*ks));
	struct nat_ct_value v, got;
	unsigned seed = getenv("XDPNAT_CTTAB_RAND") ? (unsigned)atoi(getenv("XDPNAT_CTTAB_RAND"))
						     : (unsigned)getpid();

	assert_non_null(ks);
	assert_int_equal(limit * 10, f->t.nslots * 8);
	srand(seed);
	for (__u32 i = 0; i < limit; i++) {
		int rc;

		do {	/* random tuples; a repeat is refused, draw again */
			ks[i] = (struct nat_ct_key){ .saddr = (__be32)rand(), .daddr = (__be32)rand(),
						     .sport = (__be16)rand(), .dport = (__be16)rand(),
						     .proto = i % 3 ? IPPROTO_UDP : IPPROTO_TCP };
			v = val(46000, i);
			rc = ct_put(&f->t, &ks[i], &v, BPF_NOEXIST);
		} while (rc == -EEXIST);
		if (rc)	/* -E2BIG below the limit: NAT_CT_PROBES slots from the key's home all taken */
			fail_msg("insert %u of %u, %.1f%% of the limit: %d (replay: "
				 "XDPNAT_CTTAB_RAND=%u XDPNAT_CTTAB_SEED=%016llx)",
				 i, limit, 100.0 * i / limit, rc, seed, (unsigned long long)f->seed);
	}
	assert_int_equal(entries(f), limit);
	for (__u32 i = 0; i < limit; i++) {
		if (ct_get(&f->t, &ks[i], &got))
			fail_msg("entry %u of %u not found (rand seed %u)", i, limit, seed);
		assert_int_equal(got.packets, i);
	}
	assert_int_equal(cttab_tidy(&f->t), limit);
	/* and all of them deleted, the table is empty again */
	for (__u32 i = 0; i < limit; i++)
		assert_int_equal(ct_del(&f->t, &ks[i]), 0);
	assert_int_equal(entries(f), 0);
	/* one pass walks down from the last slot, whose successor is slot 1:
	 * a run that wraps around the end may need a second */
	assert_int_equal(cttab_tidy(&f->t), 0);
	assert_int_equal(cttab_tidy(&f->t), 0);
	for (__u32 i = 1; i <= f->t.nslots; i++)
		assert_int_equal(slot_state(f, i), NAT_CT_SLOT_EMPTY);
	free(ks);
}

/*
 * NAT keys are grids, not random tuples: outside ports in a run times a
 * few WAN addresses (reply keys), inside hosts times source ports (orig
 * keys). Filled to the limit with such keys, under tables of 16 hash keys
 * each, the average entry must sit as near its home as random homes put
 * it (3.0 slots walked at 80%): a hash that is linear in the tuple's words
 * clusters on some of them (it walked 6 to 17 slots here).
 */
static double grid_probes(__u64 seed, int pattern)
{
	const __u32 ctmax = 16384, limit = 2 * ctmax;
	__u64 hkey[NAT_CT_HKEYS];
	struct nat_cttab t;
	struct nat_ct_key k;
	struct nat_ct_value v = {};
	double walked = 0;
	int fd = cttab_create(ctmax);

	assert_true(fd >= 0);
	cttab_keys_from_seed(seed, hkey);
	assert_int_equal(cttab_format(fd, cttab_entries_for(ctmax) - 1, limit, hkey), 0);
	assert_int_equal(cttab_map(&t, fd), 0);
	for (__u32 i = 0; i < limit; i++) {
		if (pattern == 0)	/* remote:9 -> WAN address i / 8192, port 1024 + i % 8192 */
			k = (struct nat_ct_key){ .saddr = htonl(0xcb00710a), .daddr = htonl(0xc6336401 + i / 8192),
						 .sport = htons(9), .dport = htons(1024 + i % 8192),
						 .proto = IPPROTO_UDP };
		else			/* host 10.0.0.0 + i / 512, port 40000 + i % 512 -> a server */
			k = (struct nat_ct_key){ .saddr = htonl(0x0a000000 + i / 512), .daddr = htonl(0xcb00710a),
						 .sport = htons(40000 + i % 512), .dport = htons(443),
						 .proto = IPPROTO_TCP };
		assert_int_equal(ct_put(&t, &k, &v, BPF_NOEXIST), 0);
	}
	for (__u32 i = 1; i <= t.nslots; i++) {
		__u32 h;

		if (!ct_slot_read(&t, i, &k, &v))
			continue;
		h = table_home(&t, &k);
		walked += 1 + (i >= h ? i - h : i + t.nslots - h);
	}
	cttab_unmap(&t);
	close(fd);
	return walked / limit;
}

static void test_grid_keys(void **state)
{
	(void)state;
	for (int pattern = 0; pattern < 2; pattern++)
		for (__u64 seed = 1; seed <= 16; seed++) {
			double avg = grid_probes(seed, pattern);

			if (avg > 3.6)
				fail_msg("grid %d, hash keys of seed %llu: %.2f slots walked on average",
					 pattern, (unsigned long long)seed, avg);
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_header, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_noexist_and_any, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_tombstones, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_tidy, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_tidy_mid_run, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_limit, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_for_each, setup_small, teardown),
		cmocka_unit_test_setup_teardown(test_full_table, setup_big, teardown),
		cmocka_unit_test(test_grid_keys),
	};

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root to create BPF maps\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
