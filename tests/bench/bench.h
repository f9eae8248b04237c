/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* bench.h - layouts shared by the benchmark's BPF programs and tools. */
#ifndef XN_BENCH_H
#define XN_BENCH_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#else
#define ETH_P_IP	0x0800
#define ETH_ALEN	6
#endif

#define BENCH_FRAME_LEN	64	/* every generated/measured frame: 64 bytes (60 + FCS on a wire) */

/* gen.bpf.c: gen_cfg (ARRAY, 1 entry) */
enum bench_gen_mode {
	GEN_MODE_RR = 0,	/* flow = seq % nflows (round robin over nflows flows) */
	GEN_MODE_FRESH = 1,	/* flow = seq: a new 5-tuple on every packet */
	GEN_MODE_ZIPF = 2,	/* flow = gen_zipf[seq % BENCH_ZIPF_LEN] (< nflows) */
};

/* The heavy-tailed mix (gen.bpf.c gen_zipf, micro_wrap.bpf.c wrap_zipf):
 * an ARRAY of BENCH_ZIPF_LEN __u32 flow numbers, packet i is flow
 * table[i % BENCH_ZIPF_LEN]; filled by userspace (bench_zipf.h). */
#define BENCH_ZIPF_LEN	(1u << 20)

struct bench_gen_cfg {
	__u8 frame[BENCH_FRAME_LEN];	/* template: eth + IPv4 + UDP, csums not needed */
	__u32 nflows;
	__u32 mode;
};

/* Flow number -> what varies in the template (host order):
 *   UDP source port = 1024 + flow % 50000
 *   UDP dest port   = template dport + (flow / 50000) % 256
 *   IPv4 source     = template saddr + (flow / 12800000) % 200
 * i.e. 50000 x 256 x 200 distinct tuples, and at most 50000 flows share a
 * (destination address, destination port): masquerade to one WAN address
 * can NAT them all with distinct ports. */
#define BENCH_PORTS_PER_DST	50000

/* sink.bpf.c / fwd.bpf.c: per-CPU counters (PERCPU_ARRAY, 1 entry) */
struct bench_cnt {
	__u64 pkts;		/* sink: IPv4 UDP frames; fwd: redirected */
	__u64 bytes;
	__u64 other;		/* sink: anything else; fwd: passed to the kernel */
	__u64 pad;
};

/* micro_wrap.bpf.c: wrap_cfg (ARRAY, 1 entry) */
struct bench_wrap_cfg {
	__u8 frame[BENCH_FRAME_LEN];	/* restored into the packet before every run */
	__u32 vary;			/* 1: new UDP source port/address every run;
					 * N > 1 (a power of 2): flow = run % N */
	__u32 zipf;			/* with vary > 1: flow = wrap_zipf[run % BENCH_ZIPF_LEN] */
};

#endif
