/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * nat_lazyreply.h - the reply entry of a UDP masquerade flow, made by its
 * first reply instead of by its first packet.
 *
 * A new UDP flow that leaves by its inside endpoint's own RFC 4787 mapping
 * (its outside port W:p is the endpoint's in nat_eim_ports) inserts only
 * its ORIG entry (ct_create_once()). Many such flows are never answered
 * (scans, queries to dead servers); their reply entry, a second cold line
 * of a table of megabytes, was a third of what a new flow cost (README,
 * "Where the time goes"). A flow that is answered gets its reply entry
 * from the first reply, so every later reply finds its entry in one line
 * as before.
 *
 * The reply tuple R:rp -> W:p of such a flow is claimed by its ORIG entry
 * alone, found through the port's owner O: the entry O -> R:rp whose
 * translation is W:p -> R:rp. Every insert of an entry keyed by a tuple
 * of that form (a per-destination port's reply entry, an inbound or
 * hairpin flow's ORIG entry) sets the port's bit in nat_udp_keyed before
 * and asks ct_implied() (nat_ct.h) after; the lazy flow's ORIG insert is
 * followed by a lookup of its reply key where its port's bit is set.
 * Each side writes with a locked instruction and then looks for the
 * other, so two flows never both keep one reply tuple; at worst both give
 * way: a port for one destination tries the next candidate, anything
 * else drops the packet (drop_ct_full, drop_no_port), as a clash always
 * did.
 */
#ifndef NAT_LAZYREPLY_H
#define NAT_LAZYREPLY_H

/*
 * May a lazy flow hold the reply tuple (saddr:sport -> daddr:dport,
 * proto)? ports as ct_ports() packs them. UDP only, to one of our WAN
 * addresses, a port with an owner O in nat_eim_ports (whatever the
 * filter): then 1, with the tuple in the CPU's cell (ikey) and the ORIG
 * key O -> saddr:sport to look up (okey; ct_implied_orig() in nat_ct.h).
 */
__noinline int xdpnat_ct_implied_key(__u32 saddr, __u32 daddr, __u32 ports, __u32 proto)
{
	struct ct_new_cell *c = ct_new_cell();
	struct nat_iface *wan;
	__u32 *ifindex;
	__u64 in;

	if (!c || proto != IPPROTO_UDP)
		return 0;
	__builtin_memset(&c->ikey, 0, sizeof(c->ikey));
	c->ikey.saddr = saddr;
	c->ikey.daddr = daddr;
	__builtin_memcpy(&c->ikey.sport, &ports, sizeof(ports));
	c->ikey.proto = (__u8)proto;
	ifindex = bpf_map_lookup_elem(&nat_wanaddr, &c->ikey.daddr);
	if (!ifindex)
		return 0;
	wan = bpf_map_lookup_elem(&nat_ifaces, ifindex);
	if (!wan || wan->role != NAT_IF_WAN)
		return 0;
	in = xdpnat_eim_admit((__u64)*ifindex | (__u64)c->ikey.dport << 32 |
			      (__u64)proto << 48 | (__u64)wan->wan_id << 56,
			      0, NAT_IFACE_F_FILTER_EI);
	if (!in)
		return 0;
	c = ct_new_cell();	/* again: not kept across the calls */
	if (!c)
		return 0;
	ct_key_reverse(&c->okey, c->ikey.saddr, (__u32)in, c->ikey.sport, (__u16)(in >> 32),
		       c->ikey.proto);
	return 1;
}

/*
 * A packet from a WAN that matched no entry (key k): if it is the first
 * reply of a lazy flow, insert the flow's reply entry (as ct_create_once()
 * would have) and return it. NULL otherwise, or if there is no room even
 * after an eviction; then the packet is not that flow's (new_from_wan()).
 */
static __always_inline struct nat_ct_value *ct_reply_lazy(const struct nat_ct_key *k)
{
	struct nat_ct_value *o, *rval;
	struct ct_new_cell *c;
	long err;

	if (k->proto != IPPROTO_UDP ||
	    !xdpnat_ct_implied_key(k->saddr, k->daddr, ct_ports(k), k->proto))
		return NULL;
	c = ct_new_cell();
	if (!c)
		return NULL;
	o = ct_implied_orig(c);
	if (!o)
		return NULL;
	/* what ct_value_init() writes, from the ORIG entry: no stack is left
	 * here for the struct ct_new it takes */
	rval = &c->rval;
	__builtin_memset(rval, 0, sizeof(*rval));
	rval->to_saddr = k->saddr;
	rval->to_daddr = c->okey.saddr;
	rval->to_sport = k->sport;
	rval->to_dport = c->okey.sport;
	rval->wan_ifindex = o->wan_ifindex;
	rval->last_seen = nat_tick(bpf_ktime_get_ns());
	rval->dir = NAT_DIR_REPLY;
	rval->kind = o->kind;
	rval->state = o->state;
	err = ct_insert(k, rval, BPF_NOEXIST);
	if (err && err != -EEXIST_) {
		if (!ct_evict_unassured())
			return NULL;
		err = ct_insert(k, rval, BPF_NOEXIST);
		if (err && err != -EEXIST_)
			return NULL;
	}
	/* An eviction (ours or another CPU's) or the GC may have removed the
	 * flow meanwhile: a reply entry without it would be an orphan that
	 * refuses the endpoint's next flow to R:rp until the GC's next pass. */
	c = ct_new_cell();
	if (!c || !ct_lookup(&c->okey)) {
		ct_delete(k);
		return NULL;
	}
	if (!err)
		STAT_INC(ct_reply_lazy);
	return ct_lookup(k);
}

#endif /* NAT_LAZYREPLY_H */
