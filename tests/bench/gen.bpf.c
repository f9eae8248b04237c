/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * gen.bpf.c - traffic generator for the macro benchmark, run with
 * BPF_PROG_RUN + BPF_F_TEST_XDP_LIVE_FRAMES on the generator's veth: every
 * run writes a whole 64-byte frame from the template (live-frame pages are
 * recycled with whatever the stack left in them, so never patch only the
 * varying fields) and XDP_TXes it to the router.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "../bench/bench.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_gen_cfg);
} gen_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} gen_seq SEC(".maps");

/* GEN_MODE_ZIPF: packet i is flow gen_zipf[i % BENCH_ZIPF_LEN] (xnbench fills it) */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_ZIPF_LEN);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
} gen_zipf SEC(".maps");

static __always_inline __u16 csum_fold(__u32 c)
{
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return (__u16)~c;
}

SEC("xdp")
int gen_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 k = 0;
	struct bench_gen_cfg *cfg = bpf_map_lookup_elem(&gen_cfg, &k);
	__u64 *seq = bpf_map_lookup_elem(&gen_seq, &k);

	if (!cfg || !seq || data + BENCH_FRAME_LEN > end)
		return XDP_ABORTED;
	__builtin_memcpy(data, cfg->frame, BENCH_FRAME_LEN);

	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *udp = (void *)(ip + 1);
	__u64 flow = (*seq)++;

	if (cfg->mode == GEN_MODE_RR && cfg->nflows) {
		flow = flow % cfg->nflows;
	} else if (cfg->mode == GEN_MODE_ZIPF) {
		__u32 zi = flow & (BENCH_ZIPF_LEN - 1);
		__u32 *zf = bpf_map_lookup_elem(&gen_zipf, &zi);

		if (!zf)
			return XDP_ABORTED;
		flow = *zf;
	}
	udp->source = bpf_htons(1024 + flow % BENCH_PORTS_PER_DST);
	flow /= BENCH_PORTS_PER_DST;
	udp->dest = bpf_htons(bpf_ntohs(udp->dest) + flow % 256);
	flow /= 256;
	ip->saddr = bpf_htonl(bpf_ntohl(ip->saddr) + flow % 200);
	udp->check = 0;		/* IPv4 UDP: no checksum */

	/* IPv4 header checksum over the 20 bytes */
	__u16 *w = (__u16 *)ip;
	__u32 sum = 0;
	ip->check = 0;
#pragma unroll
	for (int i = 0; i < 10; i++)
		sum += w[i];
	ip->check = csum_fold(sum);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
