/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * table.bpf.c - the flow-table study of the benchmark (run.sh section
 * `table`, driven by table.c): what one established packet's flow lookup
 * costs in the kernel's BPF hash, as nat_ct is today, against a table of
 * 64-byte slots with open addressing in a BPF array (a 16-byte key and a
 * 48-byte value in one cache line), the layout issue 15 proposes. Both
 * do what the data path does with the entry of an established packet:
 * read the translation, count the packet, stamp the time.
 *
 * Not the data path: a measurement of the table alone, so the choice
 * between designs rests on numbers taken on this machine.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "xdpnat.h"
#include "../bench/table.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2);			/* set by table.c: 2 x flows */
	__type(key, struct nat_ct_key);
	__type(value, struct nat_ct_value);
} tbl_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct table_slot);
} tbl_slots SEC(".maps");	/* set by table.c: 2 x flows / load factor */

/* run n looks up flow order[n % norder] (the access pattern) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TABLE_ORDER_MAX);
	__type(key, __u32);
	__type(value, __u32);
} tbl_order SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct table_cfg);
} tbl_cfg SEC(".maps");

__u64 tbl_run;

static __always_inline struct table_cfg *cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&tbl_cfg, &zero);
}

static __always_inline __u32 next_flow(const struct table_cfg *c)
{
	__u32 n = (__u32)(tbl_run++ % (c->norder ? c->norder : 1));
	__u32 *f = bpf_map_lookup_elem(&tbl_order, &n);

	return f ? *f : 0;
}

SEC("xdp")
int table_hash(struct xdp_md *ctx)
{
	struct table_cfg *c = cfg();
	struct nat_ct_key k;
	struct nat_ct_value *v;

	if (!c)
		return XDP_ABORTED;
	table_key(&k, next_flow(c));
	v = bpf_map_lookup_elem(&tbl_hash, &k);
	if (!v)
		return XDP_ABORTED;
	v->packets++;
	v->bytes += 64;
	v->last_seen = (__u32)tbl_run;
	return v->to_sport ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int table_slots(struct xdp_md *ctx)
{
	struct table_cfg *c = cfg();
	struct nat_ct_key k;
	__u32 i;

	if (!c)
		return XDP_ABORTED;
	table_key(&k, next_flow(c));
	i = table_index(&k, c->nslots);
	for (int probe = 0; probe < TABLE_PROBES; probe++) {
		struct table_slot *s = bpf_map_lookup_elem(&tbl_slots, &i);

		if (!s)
			return XDP_ABORTED;
		if (++i >= c->nslots)
			i = 0;
		if (s->k.saddr == k.saddr && s->k.daddr == k.daddr && s->k.sport == k.sport &&
		    s->k.dport == k.dport && s->k.proto == k.proto) {
			s->packets++;
			s->bytes += 64;
			s->last_seen = (__u32)tbl_run;
			return s->to_sport ? XDP_PASS : XDP_DROP;
		}
	}
	return XDP_ABORTED;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
