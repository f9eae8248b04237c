/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_rewrite.h - rewrite a packet's tuple, and the packet inside an ICMP
 * error, with checksums kept right.
 *
 * One implementation serves XDP and tc: headers are written through direct
 * packet pointers (tc pulls them into the linear area first). The only
 * hook-specific step is the outer TCP/UDP checksum: an skb may carry
 * CHECKSUM_PARTIAL, where the field holds the pseudo-header sum and must be
 * adjusted the other way round, so tc uses bpf_l4_csum_replace() (which
 * knows skb->ip_summed) while XDP updates it in place as a complete
 * checksum: an unfinished one (which XDP meets on veth and tap links) is
 * finished before, or set to the new pseudo-header sum after, by the
 * caller (xdpnat.bpf.c, "Unfinished TCP/UDP checksums").
 */
#ifndef NAT_REWRITE_H
#define NAT_REWRITE_H

#include "nat_csum.h"

#define L4_MAX_OFF	(ETH_HLEN_ + 60)

struct nat_l4_fix {		/* pending outer-L4 checksum updates (tc only) */
	__be32 old_saddr, new_saddr, old_daddr, new_daddr;
	__be16 old_sport, new_sport, old_dport, new_dport;
	__u8 chg;		/* FIX_* of the fields that changed: a new value of 0
				 * (port 0, 0.0.0.0) is a change too */
};

#define FIX_SADDR	(1U << 0)
#define FIX_DADDR	(1U << 1)
#define FIX_SPORT	(1U << 2)
#define FIX_DPORT	(1U << 3)

static __always_inline __u32 l4_csum_off(__u8 proto)
{
	return proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2;
}

/*
 * Rewrite the addresses and ports of p to `to`. is_tc selects how the
 * outer L4 checksum is updated; the caller passes a constant, so each hook
 * gets only its own code. Returns 0, or -1 if the headers moved out of
 * reach (cannot happen after a successful parse; checked for the verifier).
 */
static __always_inline int nat_rewrite(void *ctx, bool is_tc, void *data, void *data_end,
				       const struct nat_pkt *p, const struct nat_ct_key *to,
				       const __u32 l2)
{
	struct iphdr *iph = data + l2;	/* l2 == p->l3_off, a constant for the verifier */
	__u32 l4_off = p->l4_off;
	__u16 *l4csum = NULL;
	__u8 proto = p->key.proto;
	bool ports = p->frag != FRAG_LATER;
	struct nat_l4_fix fix = {};

	if ((void *)(iph + 1) > data_end)
		return -1;
	if (l4_off > L4_MAX_OFF)
		return -1;
	if (ports) {
		void *l4 = data + l4_off;

		if (l4 + 20 > data_end && proto == IPPROTO_TCP)
			return -1;
		if (l4 + 8 > data_end)
			return -1;
		l4csum = l4 + l4_csum_off(proto);
		if ((void *)(l4csum + 1) > data_end)
			return -1;
	}

	if (iph->saddr != to->saddr) {
		csum_replace4(&iph->check, iph->saddr, to->saddr);
		fix.old_saddr = iph->saddr;
		fix.chg |= FIX_SADDR;
		fix.new_saddr = to->saddr;
		iph->saddr = to->saddr;
	}
	if (iph->daddr != to->daddr) {
		csum_replace4(&iph->check, iph->daddr, to->daddr);
		fix.old_daddr = iph->daddr;
		fix.chg |= FIX_DADDR;
		fix.new_daddr = to->daddr;
		iph->daddr = to->daddr;
	}
	if (!ports)
		return 0;

	if (proto == IPPROTO_ICMP) {
		/* echo: the identifier is the port; ICMP has no pseudo-header */
		struct icmphdr *ic = data + l4_off;
		__be16 id = p->icmp_type == ICMP_ECHO_ ? to->sport : to->dport;

		if ((void *)(ic + 1) > data_end)
			return -1;
		if (ic->un.echo.id != id) {
			csum_replace2(&ic->checksum, ic->un.echo.id, id);
			ic->un.echo.id = id;
		}
		return 0;
	}

	__be16 *pp = data + l4_off;

	if ((void *)(pp + 2) > data_end)
		return -1;
	if (pp[0] != to->sport) {
		fix.old_sport = pp[0];
		fix.chg |= FIX_SPORT;
		fix.new_sport = to->sport;
		pp[0] = to->sport;
	}
	if (pp[1] != to->dport) {
		fix.old_dport = pp[1];
		fix.chg |= FIX_DPORT;
		fix.new_dport = to->dport;
		pp[1] = to->dport;
	}

	if (!is_tc) {
		if (proto == IPPROTO_UDP) {
			if (fix.chg & FIX_SADDR) csum_replace4_udp(l4csum, fix.old_saddr, fix.new_saddr);
			if (fix.chg & FIX_DADDR) csum_replace4_udp(l4csum, fix.old_daddr, fix.new_daddr);
			if (fix.chg & FIX_SPORT) csum_replace2_udp(l4csum, fix.old_sport, fix.new_sport);
			if (fix.chg & FIX_DPORT) csum_replace2_udp(l4csum, fix.old_dport, fix.new_dport);
		} else {
			if (fix.chg & FIX_SADDR) csum_replace4(l4csum, fix.old_saddr, fix.new_saddr);
			if (fix.chg & FIX_DADDR) csum_replace4(l4csum, fix.old_daddr, fix.new_daddr);
			if (fix.chg & FIX_SPORT) csum_replace2(l4csum, fix.old_sport, fix.new_sport);
			if (fix.chg & FIX_DPORT) csum_replace2(l4csum, fix.old_dport, fix.new_dport);
		}
		return 0;
	}

	/* tc: these helpers invalidate packet pointers; nothing is read after. */
	__u32 off = l4_off + l4_csum_off(proto);
	__u64 mm0 = proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (fix.chg & FIX_SADDR)
		bpf_l4_csum_replace(ctx, off, fix.old_saddr, fix.new_saddr, mm0 | BPF_F_PSEUDO_HDR | 4);
	if (fix.chg & FIX_DADDR)
		bpf_l4_csum_replace(ctx, off, fix.old_daddr, fix.new_daddr, mm0 | BPF_F_PSEUDO_HDR | 4);
	if (fix.chg & FIX_SPORT)
		bpf_l4_csum_replace(ctx, off, fix.old_sport, fix.new_sport, mm0 | 2);
	if (fix.chg & FIX_DPORT)
		bpf_l4_csum_replace(ctx, off, fix.old_dport, fix.new_dport, mm0 | 2);
	return 0;
}

/*
 * Opaque ALG flows: the ALG's rewrites changed the length of the byte
 * stream, so every later segment's sequence number moves by this
 * direction's delta and its acknowledgment by the other direction's.
 * (SACK blocks are adjusted only while the ALG inspects the flow.)
 */
static __always_inline int nat_seqadj(void *ctx, bool is_tc, void *data, void *data_end,
				      const struct nat_pkt *p, const struct nat_ct_value *v)
{
	struct nat_ct_key okey;
	struct nat_alg_value *a;
	struct tcphdr *th;
	__be32 seq, ack, nseq, nack;
	__u32 l4_off = p->l4_off;
	int dir = v->dir == NAT_DIR_REPLY;

	if (p->key.proto != IPPROTO_TCP || p->frag != FRAG_NONE)
		return 0;
	if (dir)
		ct_key_reverse(&okey, v->to_saddr, v->to_daddr, v->to_sport, v->to_dport, IPPROTO_TCP);
	else
		okey = p->key;
	a = bpf_map_lookup_elem(&nat_alg, &okey);
	if (!a)
		return 0;
	if (l4_off > L4_MAX_OFF)
		return -1;
	th = data + l4_off;
	if ((void *)(th + 1) > data_end)
		return -1;
	seq = th->seq;
	ack = th->ack_seq;
	nseq = bpf_htonl(bpf_ntohl(seq) + a->delta[dir]);
	nack = (((__u8 *)th)[13] & TCP_ACK_) ? bpf_htonl(bpf_ntohl(ack) - a->delta[!dir]) : ack;
	th->seq = nseq;
	th->ack_seq = nack;
	if (!is_tc) {
		csum_replace4(&th->check, seq, nseq);
		csum_replace4(&th->check, ack, nack);
		return 0;
	}
	if (seq != nseq)
		bpf_l4_csum_replace(ctx, l4_off + 16, seq, nseq, 4);
	if (ack != nack)
		bpf_l4_csum_replace(ctx, l4_off + 16, ack, nack, 4);
	return 0;
}

/* The destination half only (hairpin on the kernel path: DNAT before
 * routing, the source is translated on tc egress). */
static __always_inline int nat_rewrite_dnat(void *data, void *data_end, const struct nat_pkt *p,
					    const struct nat_ct_key *to)
{
	struct nat_ct_key half = p->key;

	half.daddr = to->daddr;
	half.dport = to->dport;
	return nat_rewrite(NULL, false, data, data_end, p, &half, ETH_HLEN_);	/* LAN: Ethernet */
}

/* Set a field inside an ICMP error's payload, keeping the ICMP checksum. */
static __always_inline void icmp_set4(__u16 *icmp_csum, __be32 *field, __be32 to)
{
	if (*field == to)
		return;
	csum_replace4(icmp_csum, *field, to);
	*field = to;
}

static __always_inline void icmp_set2(__u16 *icmp_csum, __be16 *field, __be16 to)
{
	if (*field == to)
		return;
	csum_replace2(icmp_csum, *field, to);
	*field = to;
}

/*
 * ICMP error about a packet of flow e (e is the entry of the error's own
 * direction, found by the reverse of the embedded tuple). The embedded
 * packet a->b becomes the reverse of e's translated tuple; the outer
 * destination becomes e's translated destination, and the outer source
 * becomes outer_src, which resolve_icmp_error chose: the WAN address for
 * an error leaving by the WAN, whoever sent it; the flow's translated
 * address for one from the embedded packet's destination itself; else the
 * sender, a router on the path, as it is.
 */
static __always_inline int nat_rewrite_icmp_error(void *data, void *data_end, const struct nat_pkt *p,
						  const struct nat_ct_value *e, __be32 outer_src,
						  const __u32 l2)
{
	struct iphdr *iph = data + l2;
	__u32 l4_off = p->l4_off;
	__be32 new_src = e->to_daddr, new_dst = e->to_saddr;
	struct icmphdr *ic;
	struct iphdr *in;
	__be16 *il4;
	__u16 *csum, before;

	if ((void *)(iph + 1) > data_end || l4_off > L4_MAX_OFF)
		return -1;
	ic = data + l4_off;
	in = (void *)(ic + 1);
	il4 = (void *)(in + 1);			/* the parser admits no inner options */
	if ((void *)(il4 + 4) > data_end)
		return -1;
	csum = &ic->checksum;

	/* outer header (the ICMP checksum does not cover it) */
	if (iph->daddr != e->to_daddr) {
		csum_replace4(&iph->check, iph->daddr, e->to_daddr);
		iph->daddr = e->to_daddr;
	}
	if (iph->saddr != outer_src) {	/* the verdict's (resolve_icmp_error) */
		csum_replace4(&iph->check, iph->saddr, outer_src);
		iph->saddr = outer_src;
	}

	/* embedded L4 header: ports or echo id, and the UDP checksum (TCP's
	 * lies beyond the 8 bytes an error is sure to carry) */
	if (in->protocol == IPPROTO_UDP && il4[3]) {
		before = il4[3];
		if (in->saddr != new_src)
			csum_replace4_udp(&il4[3], in->saddr, new_src);
		if (in->daddr != new_dst)
			csum_replace4_udp(&il4[3], in->daddr, new_dst);
		if (il4[0] != e->to_dport)
			csum_replace2_udp(&il4[3], il4[0], e->to_dport);
		if (il4[1] != e->to_sport)
			csum_replace2_udp(&il4[3], il4[1], e->to_sport);
		if (il4[3] != before)
			csum_replace2(csum, before, il4[3]);
	}
	if (in->protocol == IPPROTO_ICMP) {
		/* il4: type/code, checksum, id, sequence */
		__be16 id = ((__u8 *)il4)[0] == ICMP_ECHO_ ? e->to_dport : e->to_sport;

		if (il4[2] != id) {
			before = il4[1];
			csum_replace2(&il4[1], il4[2], id);
			csum_replace2(csum, before, il4[1]);
			icmp_set2(csum, &il4[2], id);
		}
	} else {
		icmp_set2(csum, &il4[0], e->to_dport);
		icmp_set2(csum, &il4[1], e->to_sport);
	}

	/* embedded IP header and its checksum */
	before = in->check;
	if (in->saddr != new_src)
		csum_replace4(&in->check, in->saddr, new_src);
	if (in->daddr != new_dst)
		csum_replace4(&in->check, in->daddr, new_dst);
	icmp_set4(csum, &in->saddr, new_src);
	icmp_set4(csum, &in->daddr, new_dst);
	if (in->check != before)
		csum_replace2(csum, before, in->check);
	return 0;
}

#endif /* NAT_REWRITE_H */
