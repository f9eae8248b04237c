/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* table.h - shared by table.bpf.c and table.c (the flow-table study). */
#ifndef BENCH_TABLE_H
#define BENCH_TABLE_H

#define TABLE_ORDER_MAX	(1U << 21)
#define TABLE_PROBES	128	/* linear probing: the longest run table.c may build */

/* One flow direction in one cache line: a 16-byte key, 48 bytes of what
 * nat_ct_value holds (the TCP window, 8 more bytes, would have to move). */
struct table_slot {
	struct nat_ct_key k;
	__be32 to_saddr, to_daddr;
	__be16 to_sport, to_dport;
	__u32 wan_ifindex;
	__u64 packets, bytes;
	__u32 last_seen;
	__u8 dir, kind, state, flags;
	__u64 nh;
} __attribute__((aligned(64)));

/* Flow i's original-direction key (addresses and ports as the macro
 * benchmark's generator numbers them); reply = 1 its reply key. */
static inline void table_key_dir(struct nat_ct_key *k, __u32 i, int reply)
{
	__u32 src = 0xc0a80100u + i / 250, dst = 0xcb00710au;	/* 192.168.1.x, 203.0.113.10 */

	k->saddr = reply ? dst : src;
	k->daddr = reply ? 0xc6336401u + i / 250 : dst;
	k->sport = (__u16)(reply ? 9 : 1024 + i % 250);
	k->dport = (__u16)(reply ? 1024 + i % 250 : 9);
	k->proto = 17;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

static inline void table_key(struct nat_ct_key *k, __u32 i)
{
	table_key_dir(k, i, 0);
}

/* murmur3's 64-bit finaliser over the 13 bytes of the tuple. */
static inline __u64 table_mix(__u64 h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

static inline __u32 table_hash32(const struct nat_ct_key *k)
{
	__u64 a = (__u64)k->saddr << 32 | k->daddr;
	__u64 b = (__u64)k->sport << 24 | (__u64)k->dport << 8 | k->proto;

	return (__u32)(table_mix(a ^ table_mix(b)) >> 32);
}

/* The key's home slot among n: the hash scaled to [0, n), no modulo. */
static inline __u32 table_index(const struct nat_ct_key *k, __u32 n)
{
	return (__u32)(((__u64)table_hash32(k) * n) >> 32);
}

struct table_cfg {
	__u32 norder;		/* run n looks up flow order[n % norder] */
	__u32 nslots;		/* tbl_slots' size */
};

#endif /* BENCH_TABLE_H */
