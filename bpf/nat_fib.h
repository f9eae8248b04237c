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
					 __be32 dst, __u8 tos, __u16 tot_len)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET_;
	fib->tos = tos;
	fib->l4_protocol = p->key.proto;
	if (p->key.proto != IPPROTO_ICMP && p->frag != FRAG_LATER) {
		fib->sport = to->sport;
		fib->dport = to->dport;
	}
	fib->tot_len = tot_len;
	fib->ipv4_src = to->saddr;
	fib->ipv4_dst = dst;
	fib->ifindex = iif;
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/*
 * Can XDP on iif redirect into egress interface out? Not from a native
 * program into an interface attached in generic mode (a bridge, a NIC
 * without native XDP): it has no ndo_xdp_xmit and the kernel would drop
 * the frame. Such a packet takes the kernel path, which delivers it, or
 * goes to the FTP ALG, which sends it from its AF_XDP socket on `out`
 * (an skb transmit in copy mode). A generic-mode program's redirect is an
 * skb transmit and goes anywhere. Asked only of the FIB's answer: a next
 * hop is cached only when a redirect there is allowed.
 */
static __always_inline bool xdp_redirect_ok(__u32 iif, const struct nat_iface *out)
{
	struct nat_iface *in;

	if (!(out->flags & NAT_IFACE_F_XDP_GENERIC))
		return true;
	in = bpf_map_lookup_elem(&nat_ifaces, &iif);
	return in && (in->flags & NAT_IFACE_F_XDP_GENERIC);
}

/* Where a translated packet is sent. */
struct nat_nexthop {
	__u32 ifindex;
	__u8 smac[6];
	__u8 dmac[6];
};

/*
 * The FIB's answer. Returns 0 with nh filled when the packet can be
 * forwarded right here; 1 when only the ALG's socket can take it to that
 * egress (not a redirect: xdp_redirect_ok, or an L3 link); -1 when the kernel must
 * handle it: no neighbour
 * entry yet (the kernel resolves it and later packets take the fast path),
 * larger than the egress MTU (the kernel fragments or sends "fragmentation
 * needed"), not forwarded (for the router itself), an egress xdpnat does
 * not manage, or the flow's WAN gateway unknown. *slot is the egress
 * interface's nat_ifslots index.
 */
static __always_inline int nat_fib(void *ctx, struct bpf_fib_lookup *fib, __u32 iif,
				   const struct nat_pkt *p, const struct nat_ct_key *to,
				   __u8 tos, bool to_wan, __u32 wan_ifindex, __u8 *slot)
{
	struct nat_iface *out, *wan;
	__u32 egress;
	int rc;

	/* No neighbour is an answer too (fib->ifindex is set): an L3 link
	 * (PPP, WireGuard, tun) has none for destinations the kernel has not
	 * sent to yet, and needs none. */
	rc = fib_lookup_to(ctx, fib, iif, p, to, to->daddr, tos, p->tot_len);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return -1;
	egress = fib->ifindex;
	if (to_wan && egress != wan_ifindex) {
		wan = bpf_map_lookup_elem(&nat_ifaces, &wan_ifindex);
		if (!wan || !wan->gateway)
			return -1;
		rc = fib_lookup_to(ctx, fib, iif, p, to, wan->gateway, tos, p->tot_len);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
			return -1;
		egress = fib->ifindex;
		if (egress != wan_ifindex)
			return -1;
	}
	out = bpf_map_lookup_elem(&nat_ifaces, &egress);
	if (!out)
		return -1;
	/* no Ethernet frame is redirected into an L3 link: the kernel path,
	 * or the FTP ALG, which sends it there as an IP packet */
	if (out->flags & NAT_IFACE_F_L3)
		return 1;
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	*slot = out->slot;
	return xdp_redirect_ok(iif, out) ? 0 : 1;
}

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
	       a[5] == b[5];
}

/*
 * May the FIB's answer be cached for the flow? The egress slot must
 * describe the interface the FIB chose (the controller keeps it), and the
 * route must carry a full-MTU packet: the cache checks packet sizes
 * against the interface MTU only, so a route with a smaller MTU (a locked
 * `mtu`, a PMTU exception) is looked up for every packet instead. The
 * route's MTU is the lookup's own answer: a successful lookup that checked
 * the size returns it in mtu_result (in place of tot_len, Linux 5.12),
 * where a second lookup with the interface's MTU used to ask (one FIB
 * lookup fewer on the first packet of each direction of a flow).
 */
static __always_inline bool nh_cacheable(const struct bpf_fib_lookup *fib,
					 const struct nat_pkt *p, __u32 slot)
{
	struct nat_ifslot *s = bpf_map_lookup_elem(&nat_ifslots, &slot);

	if (!s || s->ifindex != fib->ifindex || !mac_eq(s->mac, fib->smac))
		return false;
	if (p->tot_len >= s->mtu)
		return p->tot_len == s->mtu;
	return fib->mtu_result >= s->mtu;
}

/*
 * The next hop of a translated packet of flow entry v (NULL: none, or an
 * ICMP error, which goes where its own header says): from the entry's
 * cache when valid (struct nat_nh), else from the FIB, and cached when it
 * can be. *nhw is the cache word to leave in the entry (0: nothing valid).
 * now: bpf_ktime_get_coarse_ns(). to_alg: the packet goes to the ALG's
 * socket, not redirected, so any egress will do (see xdp_redirect_ok).
 */
static __always_inline int nat_nexthop(void *ctx, struct nat_nexthop *nh, __u64 *nhw,
				       const struct nat_ct_value *v, __u32 iif,
				       const struct nat_pkt *p, const struct nat_ct_key *to,
				       __u8 tos, bool to_wan, __u32 wan_ifindex, __u64 now,
				       bool to_alg)
{
	struct nat_routegen *rg;
	struct bpf_fib_lookup fib;
	struct nat_ifslot *s;
	struct nat_nh c;
	__u32 zero = 0, k;
	__u8 tag, slot;
	int rc;

	*nhw = 0;
	rg = bpf_map_lookup_elem(&nat_routegen, &zero);
	if (!rg)
		return -1;
	tag = nat_route_tag(rg->gen, now);
	if (v) {
		*nhw = nh_word(v);
		__builtin_memcpy(&c, nhw, sizeof(c));
		if (c.slot && c.tag == tag &&
		    nat_ticks_since(nat_tick(now), v->last_seen) < NAT_NH_IDLE_TICKS) {
			k = c.slot - 1;
			s = bpf_map_lookup_elem(&nat_ifslots, &k);
			if (s && s->ifindex && p->tot_len <= s->mtu) {
				nh->ifindex = s->ifindex;
				__builtin_memcpy(nh->smac, s->mac, 6);
				__builtin_memcpy(nh->dmac, c.dmac, 6);
				return 0;
			}
		}
		*nhw = 0;
	}
	rc = nat_fib(ctx, &fib, iif, p, to, tos, to_wan, wan_ifindex, &slot);
	if (rc < 0 || (rc > 0 && !to_alg))
		return -1;
	nh->ifindex = fib.ifindex;
	__builtin_memcpy(nh->smac, fib.smac, 6);
	__builtin_memcpy(nh->dmac, fib.dmac, 6);
	if (!rc && v && nh_cacheable(&fib, p, slot)) {
		c.slot = slot + 1;
		c.tag = tag;
		__builtin_memcpy(c.dmac, fib.dmac, 6);
		__builtin_memcpy(nhw, &c, sizeof(c));
	}
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
