/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* sink.bpf.c - macro benchmark sink: count every frame (per CPU) and drop it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "../bench/bench.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_cnt);
} sink_cnt SEC(".maps");

SEC("xdp")
int sink_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 k = 0;
	struct bench_cnt *c = bpf_map_lookup_elem(&sink_cnt, &k);
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if (!c)
		return XDP_DROP;
	if ((void *)(ip + 1) <= end && eth->h_proto == bpf_htons(ETH_P_IP) &&
	    ip->protocol == IPPROTO_UDP) {
		c->pkts++;
		c->bytes += end - data;
	} else {
		c->other++;
	}
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
