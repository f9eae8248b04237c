/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_fib.h - where a translated packet goes: the kernel's FIB decides,
 * except that a packet of a flow bound to one WAN must leave by that WAN
 * (upstreams drop foreign source addresses), whatever an ECMP default
 * route would pick. Then the lookup is redone towards that WAN's gateway.
 */
#ifndef NAT_FIB_H
#define NAT_FIB_H

#define AF_INET_	2

static __always_inline int fib_lookup_to(void *ctx, struct bpf_fib_lookup *fib, __u32 iif,
					 const struct nat_pkt *p, const struct nat_ct_key *to,
					 __be32 dst, __u8 tos)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET_;
	fib->tos = tos;
	fib->l4_protocol = p->key.proto;
	if (p->key.proto != IPPROTO_ICMP && p->frag != FRAG_LATER) {
		fib->sport = to->sport;
		fib->dport = to->dport;
	}
	fib->tot_len = p->tot_len;
	fib->ipv4_src = to->saddr;
	fib->ipv4_dst = dst;
	fib->ifindex = iif;
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/*
 * Returns 0 with fib filled (egress ifindex and MAC addresses) when the
 * packet can be forwarded right here; -1 when the kernel must handle it:
 * no neighbour entry yet (the kernel resolves it and later packets take
 * the fast path), larger than the egress MTU (the kernel fragments or
 * sends "fragmentation needed"), not forwarded (for the router itself),
 * an egress xdpnat does not manage, or the flow's WAN gateway unknown.
 */
static __always_inline int nat_fib(void *ctx, struct bpf_fib_lookup *fib, __u32 iif,
				   const struct nat_pkt *p, const struct nat_ct_key *to,
				   __u8 tos, bool to_wan, __u32 wan_ifindex)
{
	struct nat_iface *out, *wan;
	__u32 egress;

	if (fib_lookup_to(ctx, fib, iif, p, to, to->daddr, tos) != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	egress = fib->ifindex;
	if (to_wan && egress != wan_ifindex) {
		wan = bpf_map_lookup_elem(&nat_ifaces, &wan_ifindex);
		if (!wan || !wan->gateway)
			return -1;
		if (fib_lookup_to(ctx, fib, iif, p, to, wan->gateway, tos) != BPF_FIB_LKUP_RET_SUCCESS)
			return -1;
		egress = fib->ifindex;
		if (egress != wan_ifindex)
			return -1;
	}
	out = bpf_map_lookup_elem(&nat_ifaces, &egress);
	if (!out)
		return -1;
	return 0;
}

/* As the kernel's ip_decrease_ttl(): the checksum moves by 0x0100. */
static __always_inline void ip_decrease_ttl(struct iphdr *iph)
{
	__u32 check = iph->check;

	check += bpf_htons(0x0100);
	iph->check = (__u16)(check + (check >= 0xFFFF));
	iph->ttl--;
}

#endif /* NAT_FIB_H */
