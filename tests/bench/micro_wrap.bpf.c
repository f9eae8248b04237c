/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * micro_wrap.bpf.c - harness for the micro benchmark (BPF_PROG_TEST_RUN).
 *
 * Problem: test_run copies the input packet in once and runs the program
 * `repeat` times on the same buffer. A NAT rewrites the packet, so from the
 * second run on the program would see the translated packet, not the one we
 * mean to measure. So the program under test is not run directly: this
 * wrapper restores the 64-byte frame from a template (wrap_cfg) on every run
 * and tail-calls the program under test (slot 0 of wrap_progs). The
 * restore + tail call costs a few ns; micro.c measures it (wrapper around an
 * empty XDP_PASS program, micro_nop) and subtracts it from every case.
 *
 * vary=1 (new-flow case): each run also gets a fresh UDP source port (and
 * source address after 50000 runs), so every run creates a flow.
 * vary=N (a power of 2): run i is flow i % N of the same numbering, so N
 * established flows are visited round robin (the table-size cases).
 * vary=N with zipf=1: run i is flow wrap_zipf[i % BENCH_ZIPF_LEN] (a
 * precomputed heavy-tailed sequence of flow numbers < N, see
 * bench_zipf.h); the harness baseline is measured in the same mode.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "../bench/bench.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_wrap_cfg);
} wrap_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} wrap_seq SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BENCH_ZIPF_LEN);
	__uint(map_flags, BPF_F_MMAPABLE);	/* filled through mmap */
	__type(key, __u32);
	__type(value, __u32);
} wrap_zipf SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} wrap_progs SEC(".maps");

SEC("xdp")
int micro_wrap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 k = 0;
	struct bench_wrap_cfg *cfg = bpf_map_lookup_elem(&wrap_cfg, &k);

	if (!cfg || data + BENCH_FRAME_LEN > end)
		return XDP_ABORTED;
	__builtin_memcpy(data, cfg->frame, BENCH_FRAME_LEN);
	if (cfg->vary) {
		__u64 *seq = bpf_map_lookup_elem(&wrap_seq, &k);
		struct iphdr *ip = data + sizeof(struct ethhdr);
		struct udphdr *udp = (void *)(ip + 1);

		if (!seq)
			return XDP_ABORTED;
		__u64 n = (*seq)++;
		if (cfg->vary > 1 && cfg->zipf) {
			__u32 zi = n & (BENCH_ZIPF_LEN - 1);
			__u32 *zf = bpf_map_lookup_elem(&wrap_zipf, &zi);

			if (!zf)
				return XDP_ABORTED;
			n = *zf;		/* heavy-tailed mix over established flows */
		} else if (cfg->vary > 1) {
			n &= cfg->vary - 1;	/* round robin over established flows */
		}
		__u16 add = n / BENCH_PORTS_PER_DST;
		udp->source = bpf_htons(1024 + n % BENCH_PORTS_PER_DST);
		udp->check = 0;
		/* saddr += add (low 16 bits, no carry in practice), csum per RFC 1624 */
		__u16 old = ((__u16 *)&ip->saddr)[1];
		__u16 new = bpf_htons(bpf_ntohs(old) + add);
		((__u16 *)&ip->saddr)[1] = new;
		__u32 c = (__u16)~ip->check + (__u16)~old + new;
		c = (c & 0xffff) + (c >> 16);
		c = (c & 0xffff) + (c >> 16);
		ip->check = ~c;
	}
	bpf_tail_call(ctx, &wrap_progs, 0);
	return XDP_ABORTED;	/* tail call failed */
}

SEC("xdp")
int micro_nop(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
