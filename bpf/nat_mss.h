/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_mss.h - MSS clamping (`wan <if> mss-clamp [<bytes>|auto]`).
 *
 * Every TCP SYN and SYN-ACK translated for a flow bound to a WAN whose
 * nat_iface.mss is set (both directions: a LAN client's SYN and the
 * SYN-ACK coming back, a forward's SYN coming in and its SYN-ACK leaving)
 * has its MSS option lowered to that value if it is larger, so that
 * neither end sends segments the WAN's path cannot carry (a PPPoE line's
 * 1492-byte MTU behind hosts that believe in 1500). A smaller MSS, or a
 * SYN without the option, is left alone, as nftables' `tcp option maxseg
 * size set rt mtu` / iptables' TCPMSS --clamp-mss-to-pmtu do.
 *
 * The TCP checksum is updated incrementally: in place on XDP (which sees
 * complete checksums, or has them made so before translation), with
 * bpf_l4_csum_replace() on tc, without BPF_F_PSEUDO_HDR: the option is
 * segment data, which a CHECKSUM_PARTIAL skb's field does not cover yet
 * (the helper then leaves the field alone, as it must).
 *
 * Cost: the caller asks only for segments with SYN set (nat_pkt.tcp_flags
 * is known from the parse), so established traffic pays one test. The
 * option scan is a loop; inlined into every program it multiplies the
 * verifier's states, so it lives in two global functions (one per context
 * type) that the verifier checks once each. Their stack must stay tiny:
 * the programs' own frames are close to the 512-byte limit the callee's
 * frame adds to, so they keep everything in registers.
 */
#ifndef NAT_MSS_H
#define NAT_MSS_H

#define TCPOPT_EOL_	0
#define TCPOPT_NOP_	1
#define TCPOPT_MSS_	2
#define TCPOLEN_MSS_	4

/*
 * Offset (from the TCP header th, whose first 20 bytes the caller has
 * checked) of the value of its MSS option, or 0 if it has none (or its
 * options are not all in reach, or malformed before the MSS option).
 * Few registers: the callers must not spill (see the top).
 */
static __always_inline __u32 mss_opt_find(struct tcphdr *th, void *data_end)
{
	__u32 hlen = th->doff * 4, pos = sizeof(*th);
	__u8 *o;

	/* Each round consumes at least one byte of the (at most 40)
	 * options, and pos is bounded: the loop ends without a counter. */
#pragma clang loop unroll(disable)
	for (;;) {
		if (pos > 60 - TCPOLEN_MSS_ || pos + TCPOLEN_MSS_ > hlen)
			return 0;	/* no room left for an MSS option */
		o = (__u8 *)th + pos;
		if ((void *)(o + TCPOLEN_MSS_) > data_end)
			return 0;
		if (o[0] == TCPOPT_EOL_)
			return 0;
		if (o[0] == TCPOPT_NOP_) {
			pos++;
			continue;
		}
		if (o[1] < 2)
			return 0;	/* malformed: the walk cannot go on */
		if (o[0] == TCPOPT_MSS_)
			return o[1] == TCPOLEN_MSS_ ? pos + 2 : 0;
		pos += o[1];
	}
}

/*
 * The nat_ifaces entry of WAN ifindex. Its key is not on the stack: the
 * programs' own frames leave no room for even a 4-byte slot in the callee
 * (its frame is rounded up to 16 bytes, and a key on the caller's stack,
 * its address taken, makes clang keep the verdict in memory, which costs
 * the verifier its pruning). So it goes into a slot of this per-CPU array
 * in .bss: a program runs to its end on its CPU (softirq, or tc with
 * bottom halves off) before another can use the slot.
 */
#define MSS_KEY_SLOTS	1024
__u32 nat_mss_key[MSS_KEY_SLOTS];

static __always_inline struct nat_iface *mss_wan(__u32 ifindex)
{
	__u32 cpu = bpf_get_smp_processor_id();

	if (cpu >= MSS_KEY_SLOTS)
		return NULL;
	nat_mss_key[cpu] = ifindex;
	return bpf_map_lookup_elem(&nat_ifaces, &nat_mss_key[cpu]);
}

/*
 * The checksum words a 16-bit value at `off` (from the TCP header)
 * contributes, as they sit in memory (what csum_replace2() and
 * bpf_l4_csum_replace() take): at an even offset the value in network
 * order; at an odd one (the option after a single NOP, say) its bytes
 * fall into two words, high byte last in one and low byte first in the
 * next, which sums as the byte-swapped word.
 */
static __always_inline __u16 mss_csum_word(__u16 v_host, __u32 off)
{
	__u16 w = bpf_htons(v_host);

	return (off & 1) ? __builtin_bswap16(w) : w;
}

/* XDP: clamp the MSS option of the TCP header at l4_off to mss (host
 * order) if WAN wan_ifindex has nat_iface.mss set. 1 if it was lowered,
 * 0 if not. */
__noinline int xdpnat_mss_xdp(struct xdp_md *ctx, __u32 l4_off, __u32 wan_ifindex)
{
	struct nat_iface *wan = mss_wan(wan_ifindex);
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct tcphdr *th;
	__u32 pos;
	__u8 *v;
	__u16 old, mss;

	if (!wan || !wan->mss || l4_off > L4_MAX_OFF)
		return 0;
	mss = wan->mss;
	th = data + l4_off;
	if ((void *)(th + 1) > data_end)
		return 0;
	pos = mss_opt_find(th, data_end);
	if (!pos || pos > 60 - 2)
		return 0;
	v = (__u8 *)th + pos;
	if ((void *)(v + 2) > data_end)
		return 0;
	old = (__u16)v[0] << 8 | v[1];
	if (old <= mss)
		return 0;
	v[0] = mss >> 8;
	v[1] = mss & 0xff;
	csum_replace2(&th->check, mss_csum_word(old, pos), mss_csum_word(mss, pos));
	return 1;
}

/* tc: the same on an skb (the headers are in the linear area already). */
__noinline int xdpnat_mss_tc(struct __sk_buff *skb, __u32 l4_off, __u32 wan_ifindex)
{
	struct nat_iface *wan = mss_wan(wan_ifindex);
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct tcphdr *th;
	__u32 pos;
	__u8 *v;
	__u16 old, mss;

	if (!wan || !wan->mss || l4_off > L4_MAX_OFF)
		return 0;
	mss = wan->mss;
	th = data + l4_off;
	if ((void *)(th + 1) > data_end)
		return 0;
	pos = mss_opt_find(th, data_end);
	if (!pos || pos > 60 - 2)
		return 0;
	v = (__u8 *)th + pos;
	if ((void *)(v + 2) > data_end)
		return 0;
	old = (__u16)v[0] << 8 | v[1];
	if (old <= mss)
		return 0;
	v[0] = mss >> 8;
	v[1] = mss & 0xff;
	/* invalidates packet pointers; nothing is read after */
	bpf_l4_csum_replace(skb, l4_off + 16, mss_csum_word(old, pos), mss_csum_word(mss, pos), 2);
	return 1;
}

/* Segment p, of a flow bound to WAN wan_ifindex (on tc after translation,
 * on XDP before it: the option is not part of what translation changes,
 * and incremental checksum updates commute): clamp
 * its MSS option if it is a SYN or SYN-ACK and the WAN asks for it. is_tc
 * is a constant: each hook gets only its own call. As little as possible
 * here, in the programs' own code: a test and a call (more changes how
 * clang allocates the registers of the whole program, and with it how
 * well the verifier prunes its states). */
static __always_inline void nat_mss_clamp(void *ctx, bool is_tc, const struct nat_pkt *p,
					  __u32 wan_ifindex)
{
	if (!(p->tcp_flags & TCP_SYN_))
		return;		/* set for TCP only, and never for an ICMP error */
	if (is_tc)
		xdpnat_mss_tc(ctx, p->l4_off, wan_ifindex);
	else
		xdpnat_mss_xdp(ctx, p->l4_off, wan_ifindex);
}

#endif /* NAT_MSS_H */
