/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_ct_slots.h - how nat_ct places its entries. nat_ct is an array of
 * 64-byte slots (struct nat_ct_slot: key and value in one cache line)
 * used as an open-addressing hash table with linear probing, so that the
 * data path finds an established flow with one cache miss instead of the
 * kernel hash map's bucket plus element. The data path (bpf/nat_cttab.h)
 * and the controller (ctl/common/cttab.c, on the mmap()ed array) run the
 * same protocol, defined here once:
 *
 *  - Slot 0 is the header (struct nat_ct_head); entries live in slots
 *    1 .. nslots. An entry's home slot is ct_home(ct_hash(key)); it sits
 *    at most NAT_CT_PROBES slots after it (wrapping from nslots to 1).
 *  - A slot's state is key.pad[0]; the 32-bit word at offset 12 (proto
 *    and state) is the slot's lock word, changed only by compare-and-
 *    swap or exchange:  EMPTY (0: never used, ends every search), BUSY
 *    (claimed, being written), LIVE (ct_live_word(proto)), DEAD (freed:
 *    searches go on past it, inserts reuse it).
 *  - Lookup: from the home slot, the first LIVE slot with the key, up to
 *    the first EMPTY slot.
 *  - Insert: look the key up (it exists: -EEXIST) and claim the first
 *    DEAD or EMPTY slot of the way (CAS to BUSY); write key and value;
 *    publish (exchange to LIVE); then walk from the home slot to it once
 *    more: an EMPTY slot on the way (a concurrent clean-up) is made DEAD
 *    again, and the same key LIVE there (a concurrent insert of the same
 *    key into an earlier slot) wins: ours is freed and the insert fails
 *    with -EEXIST. A BUSY slot on the way is waited for (its key may not
 *    be written yet); one that stays BUSY (its writer is a preempted
 *    thread) counts as the same key: a needless failure is safe, a
 *    duplicate is not. So of two inserts of one key exactly one
 *    succeeds, as with BPF_NOEXIST on a hash map, and port allocation
 *    stays exact.
 *  - Delete: CAS the entry's word from LIVE to DEAD.
 *  - The GC turns a DEAD slot followed by an EMPTY one back into EMPTY
 *    (and makes it DEAD again if the next slot was claimed meanwhile), so
 *    tombstones do not pile up.
 *  - head.entries counts LIVE slots; an insert beyond head.limit (2 x
 *    conntrack-max) fails with -ENOSPC, as a full hash map does.
 *
 * nslots is 2.5 x conntrack-max: a table at its limit is 80% full.
 */
#ifndef NAT_CT_SLOTS_H
#define NAT_CT_SLOTS_H

#include "xdpnat.h"

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

enum nat_ct_slot_state {
	NAT_CT_SLOT_EMPTY = 0,
	NAT_CT_SLOT_LIVE = 1,
	NAT_CT_SLOT_BUSY = 2,
	NAT_CT_SLOT_DEAD = 3,
};

#ifndef NAT_CT_PROBES
#define NAT_CT_PROBES		1024	/* slots an entry may sit after its home */
#endif
#define NAT_CT_SLOTS_PER_FLOW_X2 5	/* nslots = 5/2 x conntrack-max */
#define NAT_CT_BUSY_SPINS	100000	/* how long the controller waits for a BUSY slot */

/* The lock word's offset and value for a slot in state st holding proto. */
#define NAT_CT_WORD_OFF		12
static __always_inline __u32 ct_word(__u8 proto, __u8 st)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u32)proto | (__u32)st << 8;
#else
	return (__u32)proto << 24 | (__u32)st << 16;
#endif
}

static __always_inline __u8 ct_word_state(__u32 w)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return (__u8)(w >> 8);
#else
	return (__u8)(w >> 16);
#endif
}

/*
 * Vector multiply-shift (Thorup, "High Speed Hashing for Integers and
 * Strings", 2015): k0 + k1 saddr + k2 daddr + k3 ports + k4 proto mod
 * 2^64, with the table's five random 64-bit keys (head.hkey): strongly
 * universal, so that collisions cannot be planned from outside without
 * the keys; its four multiplies are independent of each other. Then a
 * fold and a multiply (Fibonacci hashing) before the top 32 bits are
 * taken: linear probing needs more than pairwise independence, and the
 * linear sum alone places a grid of tuples (ports x addresses, which is
 * what a NAT's keys are) on a lattice of homes that clusters for some
 * keys (80% full: 17.6 slots walked on average against 3.0 for random
 * homes, in a test of reply keys); folded and multiplied, every key
 * pattern tried walks 3.0. All in about half the time of jhash's final
 * mix, a chain of 21 dependent operations.
 */
static __always_inline __u32 ct_hash(__u32 saddr, __u32 daddr, __u32 ports, __u8 proto,
				     const volatile __u64 *hkey)
{
	__u64 h = hkey[0] + hkey[1] * saddr + hkey[2] * daddr + hkey[3] * ports +
		  hkey[4] * proto;

	h ^= h >> 32;
	h *= 0x9e3779b97f4a7c15ULL;	/* 2^64 / golden ratio */
	return (__u32)(h >> 32);
}

/* The two port fields as one word, as they lie in the key. */
static __always_inline __u32 ct_ports(const struct nat_ct_key *k)
{
	__u32 p;

	__builtin_memcpy(&p, &k->sport, sizeof(p));
	return p;
}

/* The home slot of hash h in a table of nslots (1 .. nslots). */
static __always_inline __u32 ct_home(__u32 h, __u32 nslots)
{
	return 1 + (__u32)(((__u64)h * nslots) >> 32);
}

/*
 * The k-th slot of the way from home (1 .. nslots, nslots < 2^31),
 * computed afresh at each step. The mask changes no value; it makes the
 * BPF verifier take the sum as a new number, so that what it learns from
 * the wrap-around test stays with it instead of narrowing home step by
 * step (which would keep every step's states apart).
 */
static __always_inline __u32 ct_probe(__u32 home, __u32 k, __u32 nslots)
{
	/* k < nslots (a walk of the whole table stops there: ct_walk_done()) */
	__u32 i = (home + k) & 0x7fffffff;

	return i > nslots ? i - nslots : i;
}

/* A walk has looked at every slot once: a table smaller than
 * NAT_CT_PROBES (the tests' tiny ones) is walked once and no more. */
static __always_inline int ct_walk_done(__u32 k, __u32 nslots)
{
	return k >= nslots;
}

/* Slots for a conntrack-max (the header not counted). */
static __always_inline __u32 ct_nslots_for(__u32 conntrack_max)
{
	return (__u32)(((__u64)conntrack_max * NAT_CT_SLOTS_PER_FLOW_X2 + 1) / 2);
}

#endif /* NAT_CT_SLOTS_H */
