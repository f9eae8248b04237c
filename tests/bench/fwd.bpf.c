/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fwd.bpf.c - the bare XDP IPv4 forwarder: the ceiling for xdpnat in the
 * benchmark. Parse Ethernet + IPv4, bpf_fib_lookup, decrement the TTL,
 * rewrite the MACs, redirect. No NAT, no conntrack. Anything the FIB lookup
 * cannot forward (no neighbour yet, local, TTL, options...) goes to the kernel.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "../bench/bench.h"

#define AF_INET 2

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_cnt);
} fwd_cnt SEC(".maps");

SEC("xdp")
int fwd_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct bpf_fib_lookup fib = {};
	__u32 k = 0;
	struct bench_cnt *c = bpf_map_lookup_elem(&fwd_cnt, &k);

	if (!c)
		return XDP_PASS;
	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    ip->ihl != 5 || ip->ttl <= 1)
		goto pass;

	fib.family = AF_INET;
	fib.tos = ip->tos;
	fib.l4_protocol = ip->protocol;
	fib.tot_len = bpf_ntohs(ip->tot_len);
	fib.ipv4_src = ip->saddr;
	fib.ipv4_dst = ip->daddr;
	fib.ifindex = ctx->ingress_ifindex;
	if (ip->protocol == IPPROTO_UDP || ip->protocol == IPPROTO_TCP) {
		__be16 *ports = (void *)(ip + 1);
		if ((void *)(ports + 2) <= end) {
			fib.sport = ports[0];
			fib.dport = ports[1];
		}
	}
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS)
		goto pass;

	/* ttl--, incremental checksum (RFC 1624) */
	__u32 csum = ip->check + bpf_htons(0x0100);
	ip->check = csum + (csum >= 0xffff);
	ip->ttl--;
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);
	c->pkts++;
	return bpf_redirect(fib.ifindex, 0);
pass:
	c->other++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
